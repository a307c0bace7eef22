/* synth_actors: people, cars and the anomaly class scripts of the
 * synthetic generator (see synth_scene.h for the model, synth.h for what
 * each class looks like). Each script is a function of the frame index and
 * of draws from the video's own counter-RNG stream. */
#include "synth_scene.h"

#include <math.h>
#include <string.h>

float synth_depth_scale(const Scene *sc, float y) {
    return 0.7f + 0.6f * clampf((y - sc->horizon) / (1.0f - sc->horizon), 0, 1);
}

void synth_emit(const Scene *sc, float r, float g, float b, float out[3]) {
    float k = 1.0f / sc->gain;
    setc(out, r * k, g * k, b * k);
}

void synth_random_person(Draw *d, Person *p) {
    memset(p, 0, sizeof *p);
    dcolor(d, p->col, 0.1f, 0.95f);
    dcolor(d, p->pants, 0.05f, 0.5f);
    float s = dr(d, 0.45f, 0.95f);
    setc(p->skin, s, s * 0.78f, s * 0.62f);
    p->scale = dr(d, 0.9f, 1.1f);
    p->crouch = 1.0f;
}

void synth_draw_person(Scene *sc, const Person *p) {
    if (p->hidden) return;
    Canvas *cv = &sc->cv;
    float k = synth_depth_scale(sc, p->y) * p->scale;
    float h = 0.16f * k * p->crouch, w = 0.068f * k;
    static const float black[3] = {0, 0, 0};
    canvas_ellipse(cv, p->x, p->y, w * 0.75f, w * 0.2f, black, 0.25f);
    if (p->lying) {
        canvas_ellipse(cv, p->x - h * 0.25f, p->y - w * 0.3f, h * 0.28f, w * 0.3f, p->pants, 1);
        canvas_ellipse(cv, p->x + h * 0.12f, p->y - w * 0.35f, h * 0.3f, w * 0.38f, p->col, 1);
        canvas_ellipse(cv, p->x + h * 0.5f, p->y - w * 0.35f, w * 0.36f, w * 0.36f, p->skin, 1);
        return;
    }
    canvas_ellipse(cv, p->x, p->y - h * 0.22f, w * 0.38f, h * 0.24f, p->pants, 1);
    canvas_ellipse(cv, p->x, p->y - h * 0.55f, w * 0.5f, h * 0.24f, p->col, 1);
    canvas_ellipse(cv, p->x, p->y - h * 0.86f, w * 0.36f, w * 0.36f, p->skin, 1);
}

void synth_draw_car(Scene *sc, float x, float y, float dir, const float col[3], float len) {
    Canvas *cv = &sc->cv;
    float k = synth_depth_scale(sc, y), l = len * k, hgt = 0.065f * k;
    static const float dark[3] = {0.05f, 0.05f, 0.06f}, glass[3] = {0.25f, 0.32f, 0.4f};
    canvas_ellipse(cv, x, y, l * 0.55f, hgt * 0.18f, dark, 0.3f);
    canvas_rect(cv, x - l / 2, y - hgt * 0.75f, x + l / 2, y - hgt * 0.15f, col, 1);
    canvas_rect(cv, x - l * 0.28f, y - hgt * 1.15f, x + l * 0.22f, y - hgt * 0.72f, col, 1);
    canvas_rect(cv, x - l * 0.24f + dir * 0.01f, y - hgt * 1.08f, x + l * 0.18f + dir * 0.01f,
                y - hgt * 0.78f, glass, 1);
    canvas_ellipse(cv, x - l * 0.3f, y - hgt * 0.12f, hgt * 0.22f, hgt * 0.22f, dark, 1);
    canvas_ellipse(cv, x + l * 0.3f, y - hgt * 0.12f, hgt * 0.22f, hgt * 0.22f, dark, 1);
}

void synth_ground_point(const Scene *sc, Draw *d, float *x, float *y) {
    *x = dr(d, 0.15f, 0.85f);
    *y = du(d) < 0.5f ? dr(d, sc->horizon + 0.1f, sc->road0 - 0.01f)
                      : dr(d, sc->road1 + 0.08f, 0.95f);
}

/* ---- anomaly events ---- */

static float tau(const Scene *sc, const Event *e, int t) {
    if (t < e->t0) return -1.0f;
    int span = sc->F - 1 - e->t0;
    return span <= 0 ? 1.0f : (float)(t - e->t0) / (float)span;
}

/* Move p from (x0,y0) toward (x1,y1), arriving at frame t0. */
static void approach(Person *p, float x0, float y0, float x1, float y1, int t, int t0) {
    float u = t0 > 0 ? clampf((float)t / (float)t0, 0, 1) : 1.0f;
    p->x = lerpf(x0, x1, u);
    p->y = lerpf(y0, y1, u);
}

void synth_event_setup(Scene *sc, Event *e, Draw *d, int cls) {
    memset(e, 0, sizeof *e);
    int F = sc->F;
    e->t0 = dint(d, F / 4 + 1);
    synth_random_person(d, &e->a);
    synth_random_person(d, &e->b);
    e->dir = dsign(d);
    synth_ground_point(sc, d, &e->px, &e->py);
    e->ax = e->px - e->dir * 0.4f;
    e->ay = e->py + dr(d, -0.05f, 0.05f);
    int rest = F - 1 - e->t0;
    for (int i = 0; i < 6; i++) e->wx[i] = dr(d, -0.6f, 0.6f), e->wy[i] = dr(d, -0.6f, 0.4f);
    switch (cls) {
    case C_ABUSE:
        e->b.scale = 0.75f;
        break;
    case C_ARREST:
        setc(e->a.col, dr(d, 0.05f, 0.12f), dr(d, 0.08f, 0.14f), dr(d, 0.22f, 0.35f));
        setc(e->a.pants, 0.05f, 0.06f, 0.12f);
        e->v = dr(d, 0.2f, 0.8f); /* police car x */
        e->ax = e->v, e->ay = (sc->road0 + sc->road1) * 0.5f;
        break;
    case C_ARSON:
        e->px = dr(d, 0.12f, 0.88f);
        e->py = sc->horizon + dr(d, 0.01f, 0.04f);
        e->ax = e->px + e->dir * 0.4f, e->ay = sc->horizon + 0.12f;
        break;
    case C_ASSAULT:
        e->v = dr(d, 0.015f, 0.025f);
        e->t1 = e->t0 + (rest > 2 ? (int)lrintf(0.35f * (float)rest) : 0);
        e->px = (e->dir > 0 ? dr(d, 0.1f, 0.3f) : dr(d, 0.7f, 0.9f));
        e->ax = e->px + e->dir * (e->v * (float)e->t1 + 0.45f);
        break;
    case C_BURGLARY:
        setc(e->a.col, 0.08f, 0.08f, 0.1f);
        e->px = sc->door_x + sc->door_w * 0.5f + 0.03f, e->py = sc->horizon + 0.02f;
        break;
    case C_EXPLOSION:
        e->px = dr(d, 0.2f, 0.8f), e->py = dr(d, sc->horizon - 0.05f, 0.8f);
        break;
    case C_ROAD:
        e->v = dr(d, 0.07f, 0.1f);
        e->t1 = e->t0 + (rest > 2 ? (int)lrintf(0.3f * (float)rest) : 0);
        e->px = dr(d, 0.3f, 0.7f), e->py = (sc->road0 + sc->road1) * 0.5f + 0.03f;
        dcolor(d, e->col, 0.3f, 1.0f);
        break;
    case C_ROBBERY:
        e->v = dr(d, 0.012f, 0.02f);
        e->t1 = e->t0 + (rest > 3 ? (int)lrintf(0.45f * (float)rest) : 0);
        e->px = e->dir > 0 ? dr(d, 0.25f, 0.4f) : dr(d, 0.6f, 0.75f);
        dcolor(d, e->col, 0.5f, 1.0f);
        break;
    case C_SHOOTING:
        e->ax = e->dir > 0 ? dr(d, 0.05f, 0.15f) : dr(d, 0.85f, 0.95f);
        setc(e->a.col, 0.1f, 0.1f, 0.1f);
        break;
    case C_SHOPLIFTING:
        e->k = dint(d, NITEMS);
        e->px = sc->stall_x + dr(d, -0.05f, 0.05f), e->py = sc->stall_y + 0.04f;
        e->ax = e->px - e->dir * 0.45f;
        break;
    case C_STEALING:
        e->px = sc->bag_x + 0.04f, e->py = sc->bag_y + 0.01f;
        e->ax = e->px - e->dir * 0.45f;
        break;
    case C_VANDALISM: {
        static const float spray[4][3] = {
            {0.05f, 0.05f, 0.05f}, {0.9f, 0.1f, 0.1f}, {0.1f, 0.85f, 0.2f}, {0.9f, 0.2f, 0.85f}};
        memcpy(e->col, spray[dint(d, 4)], sizeof e->col);
        e->px = dr(d, 0.15f, 0.85f), e->py = sc->horizon + 0.03f;
        e->ax = e->px - e->dir * 0.4f, e->ay = sc->horizon + 0.15f;
        break;
    }
    default:
        break;
    }
}

/* Per-frame state changes that must precede drawing: flags for props and
 * crowd, and lasting damage painted into the background. */
void synth_event_step(Scene *sc, Event *e, int cls, int t, Draw *d) {
    float u = tau(sc, e, t);
    if (u < 0) return;
    static const float black[3] = {0, 0, 0};
    switch (cls) {
    case C_ARSON: { /* scorch grows on the wall behind the fire */
        float r = 0.025f + 0.15f * powf(u, 0.8f);
        canvas_glow(&sc->bgc, e->px, e->py - 0.8f * r, 1.2f * r, black, 0.08f);
        break;
    }
    case C_EXPLOSION:
        sc->flee = true, sc->flee_x = e->px, sc->flee_y = e->py, sc->flee_t0 = e->t0;
        if (t == e->t0) canvas_glow(&sc->bgc, e->px, e->py, 0.12f, black, 0.6f);
        if (t - e->t0 <= 1) sc->shake = 3;
        break;
    case C_SHOOTING:
        sc->flee = true, sc->flee_x = e->ax, sc->flee_y = e->py, sc->flee_t0 = e->t0;
        if (u > 0.3f) sc->fallen = 0;
        break;
    case C_SHOPLIFTING:
        if (u >= 0.3f) sc->item_gone[e->k] = true;
        break;
    case C_STEALING:
        if (u >= 0.3f) sc->bag_carried = true;
        break;
    case C_VANDALISM: { /* spray strokes accumulate on the wall */
        int n = 1 + dint(d, 2);
        for (int i = 0; i < n; i++) {
            float x = e->px + dr(d, -0.1f, 0.1f), y = sc->horizon - dr(d, 0.03f, 0.2f);
            canvas_line(&sc->bgc, x, y, x + dr(d, -0.08f, 0.08f), y + dr(d, -0.05f, 0.05f),
                        dr(d, 0.012f, 0.022f), e->col, 0.85f);
        }
        if (u > 0.5f && e->k == 0 && sc->nwin > 0) { /* and a window gets smashed */
            float x0 = sc->win_x[0], y0 = sc->win_y, s = sc->win_s;
            canvas_shade(&sc->bgc, x0, y0, x0 + s, y0 + s, 0.35f);
            static const float crack[3] = {0.85f, 0.85f, 0.9f};
            for (int i = 0; i < 4; i++)
                canvas_line(&sc->bgc, x0 + s * 0.5f, y0 + s * 0.5f, x0 + s * du(d), y0 + s * du(d),
                            0.006f, crack, 0.9f);
            e->k = 1;
        }
        break;
    }
    default:
        break;
    }
}

static void draw_police_car(Scene *sc, const Event *e, int t) {
    static const float white[3] = {0.9f, 0.9f, 0.92f}, grey[3] = {0.5f, 0.5f, 0.5f};
    float x = e->ax, y = (sc->road0 + sc->road1) * 0.5f + 0.03f;
    synth_draw_car(sc, x, y, 1.0f, white, 0.18f);
    float k = synth_depth_scale(sc, y), top = y - 0.065f * k * 1.2f, light[3];
    if (t >= e->t0) {
        if (t & 1)
            synth_emit(sc, 1.0f, 0.1f, 0.1f, light);
        else
            synth_emit(sc, 0.15f, 0.25f, 1.0f, light);
        canvas_glow(&sc->cv, x, top, 0.08f, light, 0.55f);
        canvas_rect(&sc->cv, x - 0.03f, top - 0.008f, x + 0.03f, top + 0.004f, light, 1);
    } else {
        canvas_rect(&sc->cv, x - 0.03f, top - 0.008f, x + 0.03f, top + 0.004f, grey, 1);
    }
}

/* Actors and light effects of frame t. */
void synth_event_draw(Scene *sc, Event *e, int cls, int t, Draw *d) {
    float u = tau(sc, e, t);
    Person *a = &e->a, *b = &e->b;
    int t0 = e->t0;
    switch (cls) {
    case C_ABUSE: /* a small victim on the ground, struck again and again */
        b->x = e->px, b->y = e->py, b->lying = u >= 0;
        if (u < 0) {
            approach(a, e->ax, e->ay, e->px - e->dir * 0.075f, e->py, t, t0);
        } else {
            bool strike = ((t - t0) & 1) == 0;
            a->x = e->px - e->dir * (strike ? 0.035f : 0.075f) + dr(d, -0.006f, 0.006f);
            a->y = e->py + dr(d, -0.005f, 0.005f);
            a->crouch = strike ? 0.8f : 1.0f;
        }
        synth_draw_person(sc, b), synth_draw_person(sc, a);
        break;
    case C_ARREST: /* officer reaches the suspect, both walk to the flashing car */
        draw_police_car(sc, e, t);
        b->x = e->px, b->y = e->py;
        if (u < 0) {
            approach(a, e->ax, e->ay + 0.04f, e->px, e->py, t, t0 * 2 + 1);
        } else if (u < 0.5f) {
            float ax = e->ax + (e->px - e->ax) * 0.5f, ay = e->ay + (e->py - e->ay) * 0.5f;
            a->x = lerpf(ax, e->px - 0.03f, u / 0.5f),
            a->y = lerpf(ay + 0.04f, e->py + 0.01f, u / 0.5f);
        } else {
            float w = (u - 0.5f) / 0.5f;
            b->x = lerpf(e->px, e->ax, w * 0.8f), b->y = lerpf(e->py, e->ay + 0.05f, w * 0.8f);
            b->crouch = 0.85f;
            a->x = b->x - 0.03f, a->y = b->y + 0.01f;
        }
        synth_draw_person(sc, b), synth_draw_person(sc, a);
        break;
    case C_ARSON: /* a figure sets a fire at the wall and runs; the fire grows and flickers */
        if (u < 0)
            approach(a, e->ax, e->ay, e->px + e->dir * 0.03f, e->py + 0.03f, t, t0);
        else
            a->x = e->px + e->dir * (0.03f + 0.045f * (float)(t - t0)), a->y = e->py + 0.03f;
        synth_draw_person(sc, a);
        if (u >= 0) {
            float r = 0.025f + 0.15f * powf(u, 0.8f), k = dr(d, 0.65f, 1.0f), c[3];
            static const float smoke[3] = {0.2f, 0.2f, 0.2f};
            canvas_glow(&sc->cv, e->px + dr(d, -0.01f, 0.01f), e->py - 1.6f * r - 0.02f, 1.3f * r,
                        smoke, 0.55f * u);
            synth_emit(sc, 1.0f, 0.5f, 0.1f, c);
            canvas_glow(&sc->cv, e->px, e->py - 0.3f * r, 3.0f * r, c, 0.15f * k);
            synth_emit(sc, 1.0f, 0.45f, 0.08f, c);
            canvas_glow(&sc->cv, e->px, e->py - 0.5f * r, 1.1f * r, c, 0.9f * k);
            synth_emit(sc, 1.0f, 0.6f, 0.1f, c);
            for (int i = 0; i < 3; i++)
                canvas_glow(&sc->cv, e->px + dr(d, -0.6f, 0.6f) * r, e->py - r * dr(d, 0.5f, 1.3f),
                            r * dr(d, 0.3f, 0.6f), c, 0.8f * k);
            synth_emit(sc, 1.0f, 0.95f, 0.6f, c);
            canvas_glow(&sc->cv, e->px, e->py - 0.3f * r, 0.55f * r, c, k);
        }
        break;
    case C_ASSAULT: { /* head-on approach, one blow, the victim falls, attacker runs */
        int tm = e->t1;
        float mx = e->px + e->dir * e->v * (float)tm;
        if (t <= tm) {
            b->x = e->px + e->dir * e->v * (float)t, b->y = e->py;
            approach(a, e->ax, e->ay, mx + e->dir * 0.03f, e->py, t, tm);
            if (t == tm) a->x = mx + e->dir * 0.015f, a->crouch = 0.85f;
        } else {
            b->x = mx - e->dir * 0.03f, b->y = e->py + 0.01f, b->lying = true;
            a->crouch = 1.0f;
            a->x = mx + e->dir * (0.03f + 0.05f * (float)(t - tm));
            a->y = e->py - 0.01f * (float)(t - tm);
        }
        synth_draw_person(sc, b), synth_draw_person(sc, a);
        break;
    }
    case C_BURGLARY: { /* night; a figure works the door open and slips in */
        float c[3];
        if (u < 0) {
            approach(a, e->ax, e->ay, e->px, e->py, t, t0);
        } else {
            float open = clampf(u * 1.4f, 0, 1);
            canvas_shade(&sc->cv, sc->door_x, sc->horizon - sc->door_h,
                         sc->door_x + sc->door_w * open, sc->horizon, 0.08f);
            a->x = e->px + dr(d, -0.006f, 0.006f), a->y = e->py + dr(d, -0.004f, 0.004f);
            a->crouch = 0.9f;
            a->hidden = u > 0.75f;
            synth_emit(sc, 1.0f, 1.0f, 0.8f, c);
            canvas_glow(&sc->cv, sc->door_x + sc->door_w * 0.5f + dr(d, -0.04f, 0.04f),
                        sc->horizon - sc->door_h * dr(d, 0.2f, 0.8f), 0.035f, c, 0.9f);
        }
        synth_draw_person(sc, a);
        break;
    }
    case C_EXPLOSION: { /* flash expanding over three frames, then rising smoke and debris */
        int dt = t - t0;
        if (u < 0) break;
        float c[3];
        if (dt >= 1) {
            float sr = 0.12f + 0.22f * u, cy = e->py - 0.01f * (float)dt;
            for (int i = 0; i < 6; i++) {
                float g = 0.12f + 0.03f * (float)i, gc[3] = {g, g, g};
                canvas_glow(&sc->cv, e->px + e->wx[i] * sr, cy + e->wy[i] * sr, sr * 0.7f, gc,
                            0.8f);
            }
        }
        if (dt >= 1 && dt <= 3) {
            static const float dark[3] = {0.08f, 0.06f, 0.05f};
            for (int i = 0; i < 6; i++)
                canvas_ellipse(&sc->cv, e->px + e->wx[i] * 0.15f * (float)dt,
                               e->py + e->wy[i] * 0.15f * (float)dt, 0.008f, 0.008f, dark, 1);
        }
        if (dt <= 2) {
            static const float rad[3] = {0.1f, 0.22f, 0.34f}, inten[3] = {1.0f, 0.85f, 0.55f};
            synth_emit(sc, 1.0f, 0.85f, 0.45f, c);
            canvas_glow(&sc->cv, e->px, e->py, rad[dt] * 1.2f, c, inten[dt]);
            synth_emit(sc, 1.0f, 1.0f, 0.95f, c);
            canvas_glow(&sc->cv, e->px, e->py, rad[dt] * 0.5f, c, inten[dt]);
        }
        break;
    }
    case C_FIGHTING: /* two figures in contact, moving erratically */
        if (u < 0) {
            approach(a, e->px - 0.35f, e->py - 0.02f, e->px - 0.04f, e->py, t, t0);
            approach(b, e->px + 0.35f, e->py + 0.02f, e->px + 0.04f, e->py, t, t0);
        } else {
            float cx = e->px + e->dir * 0.006f * (float)(t - t0);
            a->x = cx - dr(d, 0.015f, 0.05f), a->y = e->py + dr(d, -0.025f, 0.025f);
            b->x = cx + dr(d, 0.015f, 0.05f), b->y = e->py + dr(d, -0.025f, 0.025f);
            a->crouch = dr(d, 0.78f, 1.0f), b->crouch = dr(d, 0.78f, 1.0f);
        }
        synth_draw_person(sc, a), synth_draw_person(sc, b);
        break;
    case C_ROAD: { /* a fast car hits a crossing pedestrian and stops */
        int tc = e->t1;
        float cy = e->py, x;
        if (t <= tc) {
            x = e->px - e->dir * e->v * (float)(tc - t);
            b->x = e->px + e->dir * 0.01f, b->y = cy - 0.02f * (float)(tc - t);
            static const float blur[3] = {0.5f, 0.5f, 0.5f};
            canvas_rect(&sc->cv, fminf(x, x - e->dir * 0.2f), cy - 0.04f,
                        fmaxf(x, x - e->dir * 0.2f), cy - 0.015f, blur, 0.25f);
        } else {
            int k = t - tc;
            x = e->px + e->dir * e->v * (k == 1 ? 0.6f : 0.85f);
            b->x = e->px + e->dir * (0.06f + 0.02f * (float)(k < 2 ? k : 2)), b->y = cy + 0.03f;
            b->lying = true;
        }
        if (t >= tc && t <= tc + 1) {
            static const float glass[3] = {0.75f, 0.9f, 1.0f};
            for (int i = 0; i < 5; i++)
                canvas_ellipse(&sc->cv, e->px + dr(d, -0.06f, 0.06f), cy - dr(d, 0.0f, 0.06f),
                               0.006f, 0.006f, glass, 1);
        }
        synth_draw_person(sc, b);
        synth_draw_car(sc, x, cy + 0.01f, e->dir, e->col, 0.17f);
        break;
    }
    case C_ROBBERY: { /* a chase, a short struggle, the robber runs off with the bag */
        int tc = e->t1;
        float vb = e->v, bx0 = e->px;
        float bt0 = bx0 + e->dir * vb * (float)t0;
        float bx_at_tc = bt0 + e->dir * 1.5f * vb * (float)(tc - t0);
        float bx = t < t0    ? bx0 + e->dir * vb * (float)t
                   : t <= tc ? bt0 + e->dir * 1.5f * vb * (float)(t - t0)
                             : bx_at_tc;
        b->x = bx, b->y = e->py;
        bool snatched = t > tc + 1;
        if (t < t0) {
            a->x = bx - e->dir * 0.22f, a->y = e->py + 0.02f;
        } else if (t < tc) {
            float ax0 = bt0 - e->dir * 0.22f, w = (float)(t - t0) / (float)(tc - t0);
            a->x = lerpf(ax0, bx_at_tc - e->dir * 0.03f, w), a->y = e->py + 0.02f * (1 - w);
        } else if (!snatched) {
            a->x = bx - e->dir * 0.03f + dr(d, -0.01f, 0.01f), a->y = e->py + dr(d, -0.01f, 0.01f);
            b->x += dr(d, -0.01f, 0.01f);
        } else {
            a->x = bx_at_tc - e->dir * (0.03f + 0.05f * (float)(t - tc - 1)), a->y = e->py;
            b->crouch = 0.9f;
        }
        const Person *holder = snatched ? a : b;
        synth_draw_person(sc, b), synth_draw_person(sc, a);
        float k = synth_depth_scale(sc, holder->y);
        canvas_rect(&sc->cv, holder->x + 0.02f * k, holder->y - 0.07f * k, holder->x + 0.045f * k,
                    holder->y - 0.045f * k, e->col, 1);
        break;
    }
    case C_SHOOTING: { /* a still shooter, bright streaks, the crowd flees, one falls */
        a->x = e->ax, a->y = e->py;
        synth_draw_person(sc, a);
        if (u < 0) break;
        float k = synth_depth_scale(sc, a->y), hx = a->x + e->dir * 0.03f * k,
              hy = a->y - 0.08f * k;
        static const float arm[3] = {0.1f, 0.1f, 0.1f};
        canvas_line(&sc->cv, a->x, hy, hx, hy, 0.01f, arm, 1);
        if (du(d) < 0.6f) {
            float c[3];
            synth_emit(sc, 1.0f, 0.9f, 0.5f, c);
            canvas_glow(&sc->cv, hx, hy, 0.035f, c, 1.0f);
            synth_emit(sc, 1.0f, 0.95f, 0.7f, c);
            int n = 1 + dint(d, 3);
            for (int i = 0; i < n; i++) {
                float ang = dr(d, -0.25f, 0.25f), s0 = dr(d, 0.03f, 0.15f),
                      len = dr(d, 0.08f, 0.25f);
                float ux = e->dir * cosf(ang), uy = sinf(ang);
                canvas_line(&sc->cv, hx + ux * s0, hy + uy * s0, hx + ux * (s0 + len),
                            hy + uy * (s0 + len), 0.012f, c, 0.9f);
            }
        }
        break;
    }
    case C_SHOPLIFTING: /* loitering at the stall; an item vanishes; walking away */
        if (u < 0) {
            approach(a, e->ax, e->py, e->px, e->py, t, t0);
        } else if (u < 0.55f) {
            a->x = e->px + dr(d, -0.01f, 0.01f), a->y = e->py, a->crouch = 0.95f;
        } else {
            a->crouch = 1.0f;
            a->x = e->px + e->dir * 0.022f * (float)(t - t0) * (u - 0.55f) / u, a->y = e->py;
        }
        synth_draw_person(sc, a);
        if (u >= 0.3f && u < 0.45f) {
            float k = synth_depth_scale(sc, a->y);
            canvas_rect(&sc->cv, a->x + 0.015f * k, a->y - 0.075f * k, a->x + 0.035f * k,
                        a->y - 0.058f * k, sc->item_col[e->k], 1);
        }
        break;
    case C_STEALING: /* an unattended bag is picked up and carried off at a run */
        if (u < 0) {
            approach(a, e->ax, e->py, e->px, e->py, t, t0);
        } else if (u < 0.3f) {
            a->x = e->px, a->y = e->py, a->crouch = 0.8f;
        } else {
            a->crouch = 1.0f;
            int t3 = t0 + (int)ceilf(0.3f * (float)(sc->F - 1 - t0));
            a->x = e->px + (e->px < 0.5f ? -1.0f : 1.0f) * 0.045f * (float)(t - t3 + 1);
            a->y = e->py;
        }
        synth_draw_person(sc, a);
        if (sc->bag_carried) {
            float k = synth_depth_scale(sc, a->y);
            canvas_rect(&sc->cv, a->x + 0.02f * k, a->y - 0.08f * k, a->x + 0.06f * k,
                        a->y - 0.045f * k, sc->bag_col, 1);
        }
        break;
    case C_VANDALISM: /* jerky moves along the wall while the strokes accumulate */
        if (u < 0)
            approach(a, e->ax, e->ay, e->px, e->py, t, t0);
        else
            a->x = e->px + dr(d, -0.02f, 0.02f), a->y = e->py;
        synth_draw_person(sc, a);
        break;
    default:
        break;
    }
}
