/* synth_scene: the internal model shared by the synthetic generator's
 * modules (synth.c: scene, crowd, camera; synth_actors.c: people and cars;
 * synth_events.c: the anomaly class scripts). Not a public interface: include synth.h.
 *
 * Coordinates are fractions of the frame side (see synth_canvas.h); y grows
 * downwards and a person's (x, y) is the point where the feet touch the
 * ground. Time is the frame index t in [0, F). Random draws go through a
 * Draw cursor over the counter RNG (stream, step, element = running index).
 *
 * Must not be asked to: hold more than MAX_CROWD walkers or NITEMS stall
 * items. */
#ifndef VB_SYNTH_SCENE_H
#define VB_SYNTH_SCENE_H

#include <stdbool.h>
#include <stdint.h>

#include "datasets/synth.h"
#include "datasets/synth_canvas.h"
#include "kernels/rng.h"

enum {
    C_ABUSE,
    C_ARREST,
    C_ARSON,
    C_ASSAULT,
    C_BURGLARY,
    C_EXPLOSION,
    C_FIGHTING,
    C_NORMAL,
    C_ROAD,
    C_ROBBERY,
    C_SHOOTING,
    C_SHOPLIFTING,
    C_STEALING,
    C_VANDALISM
};

#define MAX_CROWD 8
#define NITEMS 8

typedef struct Draw {
    RngStream s;
    uint64_t step, i;
} Draw;

static inline float du(Draw *d) { return rng_uniform(d->s, d->step, d->i++); }
static inline float dr(Draw *d, float lo, float hi) { return lo + (hi - lo) * du(d); }
static inline int dint(Draw *d, int n) { /* [0, n) */
    int k = (int)(du(d) * (float)n);
    return k >= n ? n - 1 : k;
}
static inline float dsign(Draw *d) { return du(d) < 0.5f ? -1.0f : 1.0f; }
static inline void dcolor(Draw *d, float rgb[3], float lo, float hi) {
    for (int c = 0; c < 3; c++) rgb[c] = dr(d, lo, hi);
}
/* A colour of random hue, saturation at most smax and value in [vlo, vhi]:
 * clothes, cars and bags are muted, unlike fire, paint and signal lights. */
static inline void dmuted(Draw *d, float rgb[3], float smax, float vlo, float vhi) {
    float h = du(d) * 6.0f, s = dr(d, 0.0f, smax), v = dr(d, vlo, vhi);
    int i = (int)h % 6;
    float f = h - (float)(int)h, p = v * (1 - s), q = v * (1 - s * f), u = v * (1 - s * (1 - f));
    const float tab[6][3] = {{v, u, p}, {q, v, p}, {p, v, u}, {p, q, v}, {u, p, v}, {v, p, q}};
    for (int c = 0; c < 3; c++) rgb[c] = tab[i][c];
}
static inline void setc(float rgb[3], float r, float g, float b) {
    rgb[0] = r, rgb[1] = g, rgb[2] = b;
}

static inline float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }
static inline float lerpf(float a, float b, float u) { return a + (b - a) * u; }

typedef struct Person {
    float x, y; /* foot position */
    float col[3], pants[3], skin[3], hair[3];
    float scale, crouch; /* size factor; 1 = upright, < 1 bent */
    float face;          /* +1 facing right, -1 facing left */
    float gait, stride;  /* leg phase (radians); leg swing, 0 standing .. 1 running */
    float lean;          /* upper body shifted forward by lean * height */
    float arm[2];        /* arm angles from hanging down, radians, positive forward */
    bool lying, hidden;
} Person;

typedef struct Walker {
    Person p;
    float x0, y0, vx, vy, wob, ph;
} Walker;

typedef struct Scene {
    int S, F;
    float horizon, road0, road1;
    float door_x, door_w, door_h;
    int nwin;
    float win_x[3], win_y, win_s;
    bool stall;
    float stall_x, stall_y, stall_col[3], awning_col[3], item_col[NITEMS][3];
    bool item_gone[NITEMS];
    bool bag, bag_carried;
    float bag_x, bag_y, bag_col[3];
    bool car;
    float car_x0, car_v, car_y, car_col[3];
    float gain, tint[3], noise, jitter, drift, drift_ph;
    int ncrowd;
    Walker crowd[MAX_CROWD];
    bool flee;
    float flee_x, flee_y;
    int flee_t0, fallen;
    int shake;
    Canvas cv, bgc; /* frame canvas, background canvas */
} Scene;

typedef struct Event {
    int t0, t1;  /* event start; a class-specific key frame */
    Person a, b; /* actors */
    Person o[2]; /* onlookers */
    int no;
    float ax, ay; /* a's start */
    float px, py; /* event place */
    float dir, v;
    float col[3], col2[3];
    float wx[6], wy[6];
    int k;
} Event;

/* People are PERSON_H frame sides tall at depth scale 1 (mid-ground). */
#define PERSON_H 0.24f
/* Cars are CAR_LEN frame sides long at depth scale 1. */
#define CAR_LEN 0.3f

float synth_depth_scale(const Scene *sc, float y);
/* Height of p in frame sides (depth, size factor; crouch not included). */
float synth_person_h(const Scene *sc, const Person *p);
/* Poses: standing, walking and running at leg phase ph (arms swing). */
void synth_pose_stand(Person *p);
void synth_pose_walk(Person *p, float ph);
void synth_pose_run(Person *p, float ph);
/* A light source's colour, divided by the gain so it stays bright at night. */
void synth_emit(const Scene *sc, float r, float g, float b, float out[3]);
void synth_random_person(Draw *d, Person *p);
void synth_draw_person(Scene *sc, const Person *p);
/* Where the hand of p's arm i is. */
void synth_hand(const Scene *sc, const Person *p, int i, float *x, float *y);
/* A bag standing on the ground at (x, y). */
void synth_draw_bag(Scene *sc, float x, float y, const float col[3]);
/* A car of length len (frame sides at depth 1) with its wheels on y. */
void synth_draw_car(Scene *sc, float x, float y, float dir, const float col[3], float len);
/* A random place on the pavement (off the road). */
void synth_ground_point(const Scene *sc, Draw *d, float *x, float *y);

/* Class scripts: set-up draws at step 0; per frame, step changes state
 * before the frame is drawn (props, crowd, lasting damage), draw paints
 * the actors and effects. */
void synth_event_setup(Scene *sc, Event *e, Draw *d, int cls);
void synth_event_step(Scene *sc, Event *e, int cls, int t, Draw *d);
void synth_event_draw(Scene *sc, Event *e, int cls, int t, Draw *d);

/* One video being rendered frame by frame (synth_render_video is open,
 * every frame in order, close); between frames the scene and the event
 * state can be inspected (the tests do). */
typedef struct SynthVideo {
    Scene sc;
    Event ev;
    RngStream vs, noise;
    int cls;
} SynthVideo;

void synth_video_open(SynthVideo *v, const SynthConfig *cfg, int cls, DsSplit split, int index);
/* Frame t (frames must come in order 0, 1, ...) into out[size * size * 3]. */
void synth_video_frame(SynthVideo *v, int t, uint8_t *out);
void synth_video_close(SynthVideo *v);

#endif
