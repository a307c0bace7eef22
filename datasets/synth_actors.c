/* synth_actors: people (with legs, arms and poses) and cars of the
 * synthetic generator (see synth_scene.h for the model; the class scripts
 * that move them are in synth_events.c). */
#include "synth_scene.h"

#include <math.h>
#include <string.h>

float synth_depth_scale(const Scene *sc, float y) {
    return 0.8f + 0.4f * clampf((y - sc->horizon) / (1.0f - sc->horizon), 0, 1);
}

float synth_person_h(const Scene *sc, const Person *p) {
    return PERSON_H * synth_depth_scale(sc, p->y) * p->scale;
}

void synth_emit(const Scene *sc, float r, float g, float b, float out[3]) {
    float k = 1.0f / sc->gain;
    setc(out, r * k, g * k, b * k);
}

void synth_random_person(Draw *d, Person *p) {
    memset(p, 0, sizeof *p);
    dmuted(d, p->col, 0.55f, 0.2f, 0.85f);
    dmuted(d, p->pants, 0.4f, 0.08f, 0.45f);
    float s = dr(d, 0.45f, 0.95f), h = dr(d, 0.05f, 0.45f);
    setc(p->skin, s, s * 0.78f, s * 0.62f);
    setc(p->hair, h, h * 0.8f, h * 0.6f);
    p->scale = dr(d, 0.9f, 1.1f);
    p->face = dsign(d);
    synth_pose_stand(p);
}

void synth_pose_stand(Person *p) {
    p->crouch = 1.0f, p->stride = 0.0f, p->lean = 0.0f, p->lying = false;
    p->arm[0] = 0.12f, p->arm[1] = -0.12f;
}

void synth_pose_walk(Person *p, float ph) {
    synth_pose_stand(p);
    float s = sinf(ph);
    p->gait = ph, p->stride = 0.45f, p->lean = 0.02f;
    p->arm[0] = 0.4f * s, p->arm[1] = -0.4f * s;
}

void synth_pose_run(Person *p, float ph) {
    synth_pose_stand(p);
    float s = sinf(ph);
    p->gait = ph, p->stride = 1.0f, p->lean = 0.13f, p->crouch = 0.95f;
    p->arm[0] = 0.5f + 1.0f * s, p->arm[1] = 0.5f - 1.0f * s;
}

static void draw_lying(Canvas *cv, const Person *p, float h) {
    float f = p->face, x = p->x, y = p->y, hr = 0.095f * h, c = p->crouch;
    float foot = x - f * 0.45f * h * c, hip = x - f * 0.05f * h, sh = x + f * 0.28f * h;
    float sleeve[3];
    for (int i = 0; i < 3; i++) sleeve[i] = p->col[i] * 0.8f;
    canvas_line(cv, foot, y - 0.05f * h, hip, y - 0.07f * h, 0.12f * h, p->pants, 1);
    canvas_line(cv, hip, y - 0.08f * h, sh, y - 0.09f * h, 0.22f * h, p->col, 1);
    if (p->arm[0] > 1.0f) /* an arm raised in defence */
        canvas_line(cv, sh, y - 0.12f * h, sh + f * 0.05f * h, y - 0.36f * h, 0.08f * h, sleeve, 1);
    canvas_ellipse(cv, sh + f * 0.14f * h, y - 0.09f * h, hr, hr, p->skin, 1);
}

/* Joints of an upright person: hip, shoulder, arm root; height h. */
typedef struct Joints {
    float h, hipx, hipy, shx, shy, ay, la;
} Joints;

static Joints joints(const Scene *sc, const Person *p) {
    Joints j;
    float c = p->crouch;
    j.h = synth_person_h(sc, p);
    j.hipx = p->x, j.hipy = p->y - 0.46f * j.h * c;
    j.shx = j.hipx + p->face * (p->lean + 0.5f * (1.0f - c)) * j.h;
    j.shy = j.hipy - 0.3f * j.h * (0.5f + 0.5f * c);
    j.ay = j.shy + 0.04f * j.h, j.la = 0.34f * j.h;
    return j;
}

void synth_hand(const Scene *sc, const Person *p, int i, float *x, float *y) {
    Joints j = joints(sc, p);
    *x = j.shx + p->face * j.la * sinf(p->arm[i]);
    *y = j.ay + j.la * cosf(p->arm[i]);
}

void synth_draw_person(Scene *sc, const Person *p) {
    if (p->hidden) return;
    Canvas *cv = &sc->cv;
    Joints j = joints(sc, p);
    float h = j.h, c = p->crouch, f = p->face, hr = 0.095f * h;
    static const float black[3] = {0, 0, 0};
    canvas_ellipse(cv, p->x, p->y, 0.22f * h, 0.045f * h, black, 0.3f);
    if (p->lying) {
        draw_lying(cv, p, h);
        return;
    }
    /* legs: feet swing to either side of the hip with the gait phase */
    float sw = p->stride * 0.22f * h * sinf(p->gait), bend = 0.08f * h * (1.0f - c);
    canvas_line(cv, j.hipx, j.hipy, p->x + sw - bend, p->y, 0.11f * h, p->pants, 1);
    canvas_line(cv, j.hipx, j.hipy, p->x - sw + bend, p->y, 0.11f * h, p->pants, 1);
    /* the arm behind the body first, then torso, front arm and hand, head */
    float sleeve[3];
    for (int i = 0; i < 3; i++) sleeve[i] = p->col[i] * 0.75f;
    int back = p->arm[0] < p->arm[1] ? 0 : 1, fr = 1 - back;
    canvas_line(cv, j.shx, j.ay, j.shx + f * j.la * sinf(p->arm[back]),
                j.ay + j.la * cosf(p->arm[back]), 0.085f * h, sleeve, 1);
    canvas_line(cv, j.hipx, j.hipy, j.shx, j.shy + 0.06f * h, 0.3f * h, p->col, 1);
    float hx = j.shx + f * j.la * sinf(p->arm[fr]), hy = j.ay + j.la * cosf(p->arm[fr]);
    canvas_line(cv, j.shx, j.ay, hx, hy, 0.085f * h, sleeve, 1);
    canvas_ellipse(cv, hx, hy, 0.05f * h, 0.05f * h, p->skin, 1);
    float cx = j.shx + f * 0.02f * h, cy = j.shy - hr * 0.9f;
    canvas_ellipse(cv, cx, cy, hr, hr * 1.05f, p->skin, 1);
    canvas_ellipse(cv, cx - f * 0.2f * hr, cy - 0.45f * hr, hr * 0.95f, hr * 0.6f, p->hair, 1);
}

void synth_draw_bag(Scene *sc, float x, float y, const float col[3]) {
    static const float strap[3] = {0.1f, 0.08f, 0.05f};
    float k = synth_depth_scale(sc, y), w = 0.045f * k, h = 0.055f * k;
    canvas_rect(&sc->cv, x - w, y - h, x + w, y, col, 1);
    canvas_rect(&sc->cv, x - w, y - h * 0.55f, x + w, y - h * 0.45f, strap, 0.6f);
    canvas_line(&sc->cv, x - w * 0.6f, y - h, x, y - h * 1.5f, 0.01f * k, strap, 1);
    canvas_line(&sc->cv, x, y - h * 1.5f, x + w * 0.6f, y - h, 0.01f * k, strap, 1);
}

void synth_draw_car(Scene *sc, float x, float y, float dir, const float col[3], float len) {
    Canvas *cv = &sc->cv;
    float k = synth_depth_scale(sc, y), l = len * k, hgt = 0.38f * len * k;
    static const float dark[3] = {0.05f, 0.05f, 0.06f}, glass[3] = {0.25f, 0.32f, 0.4f},
                       lamp[3] = {0.95f, 0.9f, 0.6f}, rear[3] = {0.6f, 0.08f, 0.05f};
    canvas_ellipse(cv, x, y, l * 0.55f, hgt * 0.18f, dark, 0.3f);
    canvas_rect(cv, x - l / 2, y - hgt * 0.75f, x + l / 2, y - hgt * 0.15f, col, 1);
    canvas_rect(cv, x - l * 0.28f, y - hgt * 1.15f, x + l * 0.22f, y - hgt * 0.72f, col, 1);
    canvas_rect(cv, x - l * 0.24f + dir * 0.01f, y - hgt * 1.08f, x + l * 0.18f + dir * 0.01f,
                y - hgt * 0.78f, glass, 1);
    float front = x + dir * l * 0.47f, back = x - dir * l * 0.47f;
    canvas_rect(cv, front - 0.03f * l, y - hgt * 0.65f, front + 0.03f * l, y - hgt * 0.5f, lamp, 1);
    canvas_rect(cv, back - 0.03f * l, y - hgt * 0.65f, back + 0.03f * l, y - hgt * 0.5f, rear, 1);
    canvas_ellipse(cv, x - l * 0.3f, y - hgt * 0.12f, hgt * 0.22f, hgt * 0.22f, dark, 1);
    canvas_ellipse(cv, x + l * 0.3f, y - hgt * 0.12f, hgt * 0.22f, hgt * 0.22f, dark, 1);
}

void synth_ground_point(const Scene *sc, Draw *d, float *x, float *y) {
    *x = dr(d, 0.2f, 0.8f);
    *y = du(d) < 0.5f ? dr(d, sc->horizon + 0.14f, sc->road0 - 0.01f)
                      : dr(d, sc->road1 + 0.08f, 0.95f);
}
