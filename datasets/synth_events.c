/* synth_events: the anomaly class scripts of the synthetic generator (what
 * each class looks like is listed in synth.h). Every script is a function
 * of the frame index and of draws from the video's own counter-RNG stream.
 * Each signature starts within the first eighth of the video and lasts to
 * its end, in phases, so that any short clip of it shows some of it. */
#include "synth_scene.h"

#include <math.h>
#include <string.h>

/* Time since the event start as a fraction of the rest of the video;
 * negative before the start. */
static float tau(const Scene *sc, const Event *e, int t) {
    if (t < e->t0) return -1.0f;
    int span = sc->F - 1 - e->t0;
    return span <= 0 ? 1.0f : (float)(t - e->t0) / (float)span;
}

/* The frame a fraction u of the way from the event start to the end. */
static int key_frame(const Scene *sc, const Event *e, float u) {
    return e->t0 + (int)lrintf(u * (float)(sc->F - 1 - e->t0));
}

/* Move p from (x0,y0) toward (x1,y1), arriving at frame t0. */
static void approach(Person *p, float x0, float y0, float x1, float y1, int t, int t0) {
    float u = t0 > 0 ? clampf((float)t / (float)t0, 0, 1) : 1.0f;
    p->x = lerpf(x0, x1, u);
    p->y = lerpf(y0, y1, u);
    if (x1 != x0) p->face = x1 > x0 ? 1.0f : -1.0f;
    if (u < 1.0f) synth_pose_walk(p, 1.6f * (float)t);
}

static float height(const Scene *sc, const Person *p) { return synth_person_h(sc, p); }

void synth_event_setup(Scene *sc, Event *e, Draw *d, int cls) {
    memset(e, 0, sizeof *e);
    int F = sc->F;
    e->t0 = dint(d, F / 8 + 1);
    synth_random_person(d, &e->a);
    synth_random_person(d, &e->b);
    e->dir = dsign(d);
    synth_ground_point(sc, d, &e->px, &e->py);
    if (du(d) < 0.5f) e->py = dr(d, sc->road1 + 0.1f, 0.95f); /* mostly near the camera */
    e->ax = e->px - e->dir * 0.4f;
    e->ay = e->py + dr(d, -0.05f, 0.05f);
    for (int i = 0; i < 6; i++) e->wx[i] = dr(d, -0.6f, 0.6f), e->wy[i] = dr(d, -0.6f, 0.4f);
    float toward_far = e->px < 0.5f ? 1.0f : -1.0f; /* the side with more room */
    switch (cls) {
    case C_ABUSE:
        e->b.scale = 0.8f;
        e->k = dint(d, 3);
        break;
    case C_ARREST:
        setc(e->a.col, dr(d, 0.05f, 0.12f), dr(d, 0.08f, 0.14f), dr(d, 0.22f, 0.35f));
        setc(e->a.pants, 0.05f, 0.06f, 0.12f);
        setc(e->a.hair, 0.04f, 0.05f, 0.15f);
        e->v = dr(d, 0.2f, 0.8f);            /* police car x */
        e->dir = e->v > 0.5f ? 1.0f : -1.0f; /* the arrest happens on the roomier side */
        e->ax = e->v - e->dir * 0.12f, e->ay = sc->road0 + 0.005f;
        e->px = e->v - e->dir * dr(d, 0.25f, 0.4f);
        e->py = dr(d, sc->horizon + 0.14f, sc->road0 - 0.02f);
        e->t1 = key_frame(sc, e, 0.7f);
        break;
    case C_ARSON:
        e->px = dr(d, 0.15f, 0.85f);
        e->py = sc->horizon + dr(d, 0.02f, 0.04f);
        e->dir = e->px < 0.5f ? 1.0f : -1.0f;
        e->ax = e->px - e->dir * 0.3f, e->ay = e->py + 0.08f;
        e->t1 = e->t0 + 1;
        break;
    case C_ASSAULT:
        e->px = dr(d, 0.3f, 0.7f);
        e->dir = -toward_far; /* the victim walks this way; the attacker runs off the other */
        e->t1 = key_frame(sc, e, 0.3f);
        break;
    case C_BURGLARY:
        setc(e->a.col, 0.08f, 0.08f, 0.1f);
        setc(e->a.pants, 0.06f, 0.06f, 0.08f);
        e->px = sc->door_x + sc->door_w * 0.5f + 0.03f, e->py = sc->horizon + 0.02f;
        e->ax = e->px - e->dir * 0.3f, e->ay = e->py + 0.06f;
        break;
    case C_EXPLOSION: e->px = dr(d, 0.2f, 0.8f), e->py = dr(d, sc->horizon + 0.05f, 0.8f); break;
    case C_FIGHTING: /* and two onlookers */
        e->v = dr(d, -0.006f, 0.006f);
        e->no = 2;
        for (int i = 0; i < e->no; i++) {
            synth_random_person(d, &e->o[i]);
            e->o[i].x = e->px + (i ? -1.0f : 1.0f) * e->dir * dr(d, 0.15f, 0.25f);
            e->o[i].y = e->py + dr(d, -0.06f, -0.02f);
            e->o[i].face = e->o[i].x < e->px ? 1.0f : -1.0f;
        }
        break;
    case C_ROAD:
        e->v = dr(d, 0.08f, 0.11f);
        e->t1 = key_frame(sc, e, 0.25f);
        e->px = dr(d, 0.3f, 0.7f), e->py = (sc->road0 + sc->road1) * 0.5f + 0.045f;
        dmuted(d, e->col, 0.5f, 0.15f, 0.95f);
        break;
    case C_ROBBERY:
        e->v = dr(d, 0.014f, 0.02f);
        e->dir = toward_far;
        e->px = e->px < 0.5f ? dr(d, 0.25f, 0.4f) : dr(d, 0.6f, 0.75f);
        e->t1 = key_frame(sc, e, 0.35f);
        dmuted(d, e->col, 0.6f, 0.3f, 0.9f);
        break;
    case C_SHOOTING:
        e->ax = e->dir > 0 ? dr(d, 0.06f, 0.16f) : dr(d, 0.84f, 0.94f);
        setc(e->a.col, 0.1f, 0.1f, 0.1f);
        break;
    case C_SHOPLIFTING:
        e->px = sc->stall_x + dr(d, -0.06f, 0.06f), e->py = sc->stall_y + 0.05f;
        e->ax = e->px - e->dir * 0.3f;
        e->t1 = key_frame(sc, e, 0.8f);
        e->k = dint(d, NITEMS);
        break;
    case C_STEALING:
        e->dir = sc->bag_x < 0.5f ? 1.0f : -1.0f;
        e->px = sc->bag_x - e->dir * 0.03f, e->py = sc->bag_y + 0.01f;
        e->ax = e->px - e->dir * 0.22f;
        e->t1 = key_frame(sc, e, 0.2f);
        break;
    case C_VANDALISM: {
        static const float spray[6][3] = {{0.95f, 0.1f, 0.1f}, {0.1f, 0.9f, 0.2f},
                                          {0.95f, 0.2f, 0.9f}, {0.1f, 0.5f, 1.0f},
                                          {1.0f, 0.9f, 0.1f},  {1.0f, 0.5f, 0.05f}};
        int c1 = dint(d, 6), c2 = (c1 + 1 + dint(d, 5)) % 6; /* two different cans */
        memcpy(e->col, spray[c1], sizeof e->col);
        memcpy(e->col2, spray[c2], sizeof e->col2);
        e->px = dr(d, 0.15f, 0.85f), e->py = sc->horizon + 0.03f;
        e->dir = e->px < 0.5f ? 1.0f : -1.0f; /* working along the wall into the open */
        e->ax = e->px - e->dir * 0.3f, e->ay = e->py + 0.08f;
        e->t1 = key_frame(sc, e, dr(d, 0.4f, 0.6f));
        break;
    }
    default: break;
    }
}

/* ---- per-frame state that must precede drawing ---- */

static void vandal_step(Scene *sc, Event *e, int t, Draw *d) {
    Person *a = &e->a;
    a->y = e->py;
    if (t < e->t0) {
        approach(a, e->ax, e->ay, e->px, e->py, t, e->t0);
        return;
    }
    /* jerky moves along the wall, the spraying arm up, fresh strokes */
    synth_pose_stand(a);
    a->x = e->px + e->dir * 0.012f * (float)(t - e->t0) + dr(d, -0.05f, 0.05f); /* along the wall */
    a->face = du(d) < 0.5f ? -1.0f : 1.0f;
    a->arm[0] = dr(d, 2.2f, 2.7f), a->arm[1] = dr(d, -0.3f, 0.5f), a->lean = 0.04f;
    float hx, hy;
    synth_hand(sc, a, 0, &hx, &hy);
    int n = 3 + dint(d, 2);
    for (int i = 0; i < n; i++) {
        float x = hx + dr(d, -0.05f, 0.05f), y = fminf(hy, sc->horizon - 0.03f) - dr(d, 0, 0.1f);
        canvas_line(&sc->bgc, x, y, x + dr(d, -0.16f, 0.16f), y + dr(d, -0.07f, 0.07f),
                    dr(d, 0.035f, 0.055f), i & 1 ? e->col2 : e->col, 0.9f);
    }
    if (t == e->t1 && sc->nwin > 0) { /* a kick at the window: it breaks */
        int w = 0;
        for (int i = 1; i < sc->nwin; i++)
            if (fabsf(sc->win_x[i] - e->px) < fabsf(sc->win_x[w] - e->px)) w = i;
        float x0 = sc->win_x[w], y0 = sc->win_y, s = sc->win_s;
        canvas_shade(&sc->bgc, x0, y0, x0 + s, y0 + s, 0.3f);
        static const float crack[3] = {0.9f, 0.9f, 0.95f};
        for (int i = 0; i < 5; i++)
            canvas_line(&sc->bgc, x0 + s * 0.5f, y0 + s * 0.5f, x0 + s * du(d), y0 + s * du(d),
                        0.008f, crack, 0.9f);
    }
}

static void road_step(Scene *sc, Event *e, int t, Draw *d) {
    if (t != e->t1) return;
    /* skid marks behind the car and glass on the road, for good */
    static const float skid[3] = {0.03f, 0.03f, 0.03f}, glass[3] = {0.75f, 0.9f, 1.0f};
    float y = e->py - 0.005f;
    canvas_line(&sc->bgc, e->px - e->dir * 0.35f, y, e->px, y, 0.012f, skid, 0.7f);
    canvas_line(&sc->bgc, e->px - e->dir * 0.35f, y - 0.025f, e->px, y - 0.025f, 0.012f, skid,
                0.7f);
    for (int i = 0; i < 8; i++)
        canvas_ellipse(&sc->bgc, e->px + e->dir * dr(d, 0.0f, 0.15f), y - dr(d, 0.0f, 0.05f),
                       0.007f, 0.007f, glass, 1);
}

void synth_event_step(Scene *sc, Event *e, int cls, int t, Draw *d) {
    if (cls == C_VANDALISM) vandal_step(sc, e, t, d);
    if (cls == C_ROAD) road_step(sc, e, t, d);
    float u = tau(sc, e, t);
    if (u < 0) return;
    static const float black[3] = {0, 0, 0};
    switch (cls) {
    case C_ARSON: /* scorch grows on the wall above the fire */
        if (t >= e->t1) canvas_glow(&sc->bgc, e->px, e->py - 0.12f, 0.2f, black, 0.07f);
        break;
    case C_EXPLOSION:
        sc->flee = true, sc->flee_x = e->px, sc->flee_y = e->py, sc->flee_t0 = e->t0;
        if (t == e->t0) canvas_glow(&sc->bgc, e->px, e->py, 0.14f, black, 0.7f);
        if (t - e->t0 <= 1) sc->shake = 3;
        break;
    case C_SHOOTING:
        sc->flee = true, sc->flee_x = e->ax, sc->flee_y = e->py, sc->flee_t0 = e->t0;
        if (u > 0.3f) sc->fallen = 0;
        break;
    case C_SHOPLIFTING: /* three items taken one after the other */
        for (int j = 0; j < 3; j++)
            if (t > key_frame(sc, e, 0.1f + 0.2f * (float)j))
                sc->item_gone[(e->k + 3 * j) % NITEMS] = true;
        break;
    case C_STEALING:
        if (t > e->t1) sc->bag_carried = true;
        break;
    default: break;
    }
}

/* ---- drawing ---- */

static void draw_police_car(Scene *sc, const Event *e, int t) {
    static const float white[3] = {0.92f, 0.92f, 0.94f}, stripe[3] = {0.1f, 0.2f, 0.7f};
    float x = e->v, y = (sc->road0 + sc->road1) * 0.5f + 0.045f, len = CAR_LEN * 1.05f;
    synth_draw_car(sc, x, y, e->dir, white, len);
    float k = synth_depth_scale(sc, y), l = len * k, hgt = 0.38f * len * k;
    canvas_rect(&sc->cv, x - l / 2, y - hgt * 0.5f, x + l / 2, y - hgt * 0.38f, stripe, 1);
    float top = y - hgt * 1.25f, red[3], blue[3];
    synth_emit(sc, 1.0f, 0.1f, 0.1f, red);
    synth_emit(sc, 0.15f, 0.3f, 1.0f, blue);
    int ph = t % 3; /* not period 2, which clips at stride 2 would never see change */
    const float *left = ph == 1 ? blue : red, *right = ph == 0 ? red : blue;
    canvas_glow(&sc->cv, x - 0.05f, top, 0.2f, left, 0.7f);
    canvas_glow(&sc->cv, x + 0.05f, top, 0.2f, right, 0.7f);
    canvas_rect(&sc->cv, x - 0.06f, top - 0.012f, x, top + 0.008f, left, 1);
    canvas_rect(&sc->cv, x, top - 0.012f, x + 0.06f, top + 0.008f, right, 1);
}

/* A stick (or knife) of length len held in p's hand i, along the arm. */
static void draw_tool(Scene *sc, const Person *p, int i, float len, float width,
                      const float col[3]) {
    float hx, hy, h = height(sc, p), a = p->arm[i];
    synth_hand(sc, p, i, &hx, &hy);
    canvas_line(&sc->cv, hx, hy, hx + p->face * len * h * sinf(a), hy + len * h * cosf(a),
                width * h, col, 1);
}

/* The thing carried in p's front hand. */
static void draw_held(Scene *sc, const Person *p, const float col[3]) {
    float hx, hy, h = height(sc, p);
    synth_hand(sc, p, p->arm[0] >= p->arm[1] ? 0 : 1, &hx, &hy);
    canvas_rect(&sc->cv, hx - 0.1f * h, hy - 0.02f * h, hx + 0.1f * h, hy + 0.16f * h, col, 1);
}

static void draw_fire(Scene *sc, const Event *e, float r, Draw *d) {
    float k = dr(d, 0.7f, 1.0f), c[3], x = e->px, y = e->py - 0.01f;
    static const float smoke[3] = {0.18f, 0.18f, 0.18f};
    canvas_glow(&sc->cv, x + dr(d, -0.01f, 0.01f), y - 2.2f * r - 0.03f, 1.6f * r, smoke, 0.6f);
    synth_emit(sc, 1.0f, 0.5f, 0.1f, c);
    canvas_glow(&sc->cv, x, y - 0.4f * r, 3.0f * r, c, 0.2f * k);
    synth_emit(sc, 1.0f, 0.42f, 0.06f, c);
    canvas_glow(&sc->cv, x, y - 0.6f * r, 1.2f * r, c, 0.95f * k);
    synth_emit(sc, 1.0f, 0.6f, 0.1f, c);
    for (int i = 0; i < 4; i++) /* flickering tongues */
        canvas_glow(&sc->cv, x + dr(d, -0.6f, 0.6f) * r, y - r * dr(d, 0.6f, 1.6f),
                    r * dr(d, 0.3f, 0.6f), c, 0.85f * k);
    synth_emit(sc, 1.0f, 0.95f, 0.6f, c);
    canvas_glow(&sc->cv, x, y - 0.35f * r, 0.6f * r, c, k);
}

static void draw_abuse(Scene *sc, Event *e, int t, Draw *d) {
    /* a small victim on the ground, an attacker over it striking with a
     * stick and kicking */
    static const float stick[3] = {0.35f, 0.22f, 0.1f};
    Person *a = &e->a, *b = &e->b;
    b->x = e->px + dr(d, -0.004f, 0.004f), b->y = e->py, b->lying = true, b->face = e->dir;
    b->crouch = 0.8f, b->arm[0] = t % 3 ? 1.5f : 0.0f;
    synth_pose_stand(a);
    a->y = e->py + 0.012f;
    float h = height(sc, a), side = ((t + e->k) / 5) & 1 ? -1.0f : 1.0f;
    a->face = -side;
    a->x = e->px + side * 0.3f * h + dr(d, -0.01f, 0.01f);
    switch ((t + e->k) % 3) {
    case 0: /* arm raised */
        a->arm[0] = dr(d, 2.5f, 2.9f), a->arm[1] = 0.3f, a->lean = -0.03f;
        break;
    case 1: /* the blow, bent down over the victim */
        a->arm[0] = dr(d, 0.8f, 1.2f), a->arm[1] = 0.4f, a->crouch = 0.78f, a->lean = 0.1f;
        break;
    default: /* a kick */
        a->stride = 0.9f, a->gait = 1.57f * a->face, a->arm[0] = 0.8f, a->arm[1] = -0.6f;
        break;
    }
    synth_draw_person(sc, b), synth_draw_person(sc, a);
    draw_tool(sc, a, 0, 0.45f, 0.07f, stick);
}

static void draw_arrest(Scene *sc, Event *e, int t, Draw *d) {
    /* officer holds the suspect (hands behind the back) and walks him to the
     * police car, whose light bar flashes all along; the suspect gets in */
    Person *a = &e->a, *b = &e->b;
    draw_police_car(sc, e, t);
    float w = e->t1 > e->t0 ? clampf((float)(t - e->t0) / (float)(e->t1 - e->t0), 0, 1) : 1.0f;
    b->x = lerpf(e->px, e->ax, w), b->y = lerpf(e->py, e->ay, w);
    if (t >= e->t0 && w < 1.0f)
        synth_pose_walk(b, 1.2f * (float)t), synth_pose_walk(a, 1.2f * (float)t + 3.1f);
    else synth_pose_stand(b), synth_pose_stand(a);
    b->face = a->face = e->ax > e->px ? 1.0f : -1.0f;
    b->arm[0] = b->arm[1] = -0.55f;
    float h = height(sc, b);
    a->x = b->x - b->face * 0.22f * h + dr(d, -0.004f, 0.004f), a->y = b->y + 0.012f;
    a->arm[0] = 1.45f, a->arm[1] = 1.2f;
    if (t < e->t0) b->lean = -0.08f, b->x += dr(d, -0.01f, 0.01f); /* a brief struggle */
    if (t > e->t1) b->crouch = 0.7f, b->lean = 0.15f, b->hidden = t > e->t1 + 1;
    synth_draw_person(sc, b), synth_draw_person(sc, a);
}

static void draw_arson(Scene *sc, Event *e, int t, Draw *d) {
    /* a figure crouches at the wall, a fire starts and grows, the figure runs */
    Person *a = &e->a;
    if (t < e->t0) {
        approach(a, e->ax, e->ay, e->px - e->dir * 0.04f, e->py + 0.03f, t, e->t0);
    } else if (t <= e->t1) {
        synth_pose_stand(a);
        a->x = e->px - e->dir * 0.04f, a->y = e->py + 0.03f, a->face = e->dir;
        a->crouch = 0.7f, a->arm[0] = 1.1f, a->arm[1] = 0.8f;
    } else {
        synth_pose_run(a, 2.3f * (float)t);
        a->face = e->dir;
        a->x = e->px + e->dir * (0.04f + 0.05f * (float)(t - e->t1)), a->y = e->py + 0.05f;
    }
    if (t >= e->t1) {
        float span = (float)(sc->F - 1 - e->t1), u = span > 0 ? (float)(t - e->t1) / span : 1.0f;
        draw_fire(sc, e, 0.05f + 0.17f * powf(u, 0.8f), d);
    }
    synth_draw_person(sc, a);
}

static void draw_assault(Scene *sc, Event *e, int t) {
    /* a head-on approach, one blow, the victim falls, the attacker runs off */
    Person *a = &e->a, *b = &e->b;
    int tm = e->t1;
    float dir = e->dir, mx = e->px;
    b->y = e->py, a->y = e->py + 0.01f;
    float h = height(sc, b);
    if (t < tm) {
        synth_pose_walk(b, 1.6f * (float)t), synth_pose_walk(a, 1.9f * (float)t + 1.0f);
        b->face = dir, a->face = -dir, a->lean = 0.08f;
        b->x = mx - dir * 0.017f * (float)(tm - t);
        a->x = mx + dir * (0.3f * h + 0.03f * (float)(tm - t));
    } else if (t == tm) { /* the blow */
        synth_pose_stand(b), synth_pose_stand(a);
        b->face = dir, a->face = -dir;
        b->x = mx, b->lean = -0.12f;
        a->x = mx + dir * 0.3f * h, a->arm[0] = 1.65f, a->lean = 0.15f;
    } else if (t == tm + 1) { /* the victim falls */
        synth_pose_stand(b), synth_pose_stand(a);
        b->face = dir, a->face = -dir;
        b->x = mx - dir * 0.05f * h, b->crouch = 0.55f, b->lean = -0.25f;
        a->x = mx + dir * 0.3f * h, a->arm[0] = 2.6f;
    } else {
        b->x = mx - dir * 0.1f * h, b->lying = true, b->face = -dir;
        synth_pose_run(a, 2.3f * (float)t);
        a->face = dir, a->x = mx + dir * (0.3f * h + 0.045f * (float)(t - tm - 1));
    }
    synth_draw_person(sc, b), synth_draw_person(sc, a);
}

static void draw_burglary(Scene *sc, Event *e, int t, Draw *d) {
    /* night; a figure works the door open, a torch flickers, the figure slips in */
    Person *a = &e->a;
    float u = tau(sc, e, t), c[3];
    if (u < 0) {
        approach(a, e->ax, e->ay, e->px, e->py, t, e->t0);
    } else {
        float open = clampf(u * 1.4f, 0, 1);
        canvas_shade(&sc->cv, sc->door_x, sc->horizon - sc->door_h, sc->door_x + sc->door_w * open,
                     sc->horizon, 0.08f);
        synth_pose_stand(a);
        a->x = e->px + dr(d, -0.008f, 0.008f), a->y = e->py + dr(d, -0.004f, 0.004f);
        a->face = -1.0f, a->crouch = 0.9f;
        a->arm[0] = dr(d, 1.4f, 2.0f), a->arm[1] = dr(d, 0.8f, 1.4f);
        a->hidden = u > 0.75f;
        synth_emit(sc, 1.0f, 1.0f, 0.8f, c);
        canvas_glow(&sc->cv, sc->door_x + sc->door_w * 0.5f + dr(d, -0.04f, 0.04f),
                    sc->horizon - sc->door_h * dr(d, 0.2f, 0.8f), 0.04f, c, 0.9f);
    }
    synth_draw_person(sc, a);
}

static void draw_explosion(Scene *sc, Event *e, int t, Draw *d) {
    /* a flash expanding over three frames, debris, a growing smoke cloud
     * over burning embers; the crowd flees (walker_at) */
    int dt = t - e->t0;
    if (dt < 0) return;
    float u = tau(sc, e, t), c[3];
    if (dt >= 1) { /* smoke rising over the burning wreckage */
        float sr = 0.12f + 0.2f * u, cy = e->py - 0.08f - 0.012f * (float)dt;
        for (int i = 0; i < 6; i++) {
            float g = 0.1f + 0.03f * (float)i, gc[3] = {g, g, g};
            canvas_glow(&sc->cv, e->px + e->wx[i] * sr, cy + e->wy[i] * sr, sr * 0.75f, gc, 0.85f);
        }
        synth_emit(sc, 1.0f, 0.5f, 0.1f, c);
        for (int i = 0; i < 5; i++)
            canvas_glow(&sc->cv, e->px + e->wx[i] * 0.14f, e->py - 0.01f + e->wy[i] * 0.04f,
                        dr(d, 0.03f, 0.06f), c, dr(d, 0.6f, 1.0f));
    }
    if (dt >= 1 && dt <= 4) {
        static const float dark[3] = {0.08f, 0.06f, 0.05f};
        for (int i = 0; i < 6; i++)
            canvas_ellipse(&sc->cv, e->px + e->wx[i] * 0.12f * (float)dt,
                           e->py + e->wy[i] * 0.12f * (float)dt, 0.01f, 0.01f, dark, 1);
    }
    if (dt <= 2) {
        static const float rad[3] = {0.12f, 0.25f, 0.38f}, inten[3] = {1.0f, 0.9f, 0.6f};
        synth_emit(sc, 1.0f, 0.85f, 0.45f, c);
        canvas_glow(&sc->cv, e->px, e->py, rad[dt] * 1.2f, c, inten[dt]);
        synth_emit(sc, 1.0f, 1.0f, 0.95f, c);
        canvas_glow(&sc->cv, e->px, e->py, rad[dt] * 0.5f, c, inten[dt]);
    }
}

static void fighter_pose(Person *p, Draw *d) {
    static const float arms[4] = {2.6f, 1.6f, 1.1f, 2.0f};
    synth_pose_stand(p);
    p->arm[0] = arms[dint(d, 4)] + dr(d, -0.2f, 0.2f);
    p->arm[1] = arms[dint(d, 4)] + dr(d, -0.2f, 0.2f);
    p->lean = dr(d, -0.06f, 0.18f), p->crouch = dr(d, 0.82f, 1.0f);
    p->stride = dr(d, 0.2f, 0.7f), p->gait = dr(d, -1.5f, 1.5f);
}

static void draw_fighting(Scene *sc, Event *e, int t, Draw *d) {
    /* two figures in contact, swinging at each other, lurching erratically */
    Person *a = &e->a, *b = &e->b;
    fighter_pose(a, d), fighter_pose(b, d);
    if (t < e->t0) a->arm[0] = b->arm[0] = 1.9f; /* squaring up */
    a->y = e->py + dr(d, -0.02f, 0.02f), b->y = e->py + dr(d, -0.02f, 0.02f);
    float h = height(sc, a), cx = e->px + e->v * (float)t + dr(d, -0.03f, 0.03f);
    float sep = dr(d, 0.25f, 0.45f) * h;
    float swap = ((t + (e->dir > 0)) / 4) & 1 ? -1.0f : 1.0f; /* they circle each other */
    a->x = cx - swap * sep, b->x = cx + swap * sep;
    a->face = swap, b->face = -swap;
    for (int i = 0; i < e->no; i++) { /* onlookers, now and then raising an arm */
        Person *o = &e->o[i];
        o->arm[0] = du(d) < 0.6f ? 2.7f : 0.3f, o->arm[1] = du(d) < 0.3f ? 2.5f : -0.2f;
        synth_draw_person(sc, o);
    }
    synth_draw_person(sc, a), synth_draw_person(sc, b);
}

static void draw_road(Scene *sc, Event *e, int t, Draw *d) {
    /* a fast car hits a crossing pedestrian; the car stops with its hazard
     * lights flashing and steam rising, the victim lies on the road */
    Person *b = &e->b;
    int tc = e->t1;
    float y = e->py, len = CAR_LEN, k = synth_depth_scale(sc, y), x;
    float hit = e->px - e->dir * 0.5f * len * k; /* car centre at the impact */
    if (t < tc) {
        x = hit - e->dir * e->v * (float)(tc - t);
        b->y = y - 0.006f - 0.02f * (float)(tc - t);
        b->x = e->px;
        synth_pose_walk(b, 1.6f * (float)t);
        b->face = e->dir;
        static const float blur[3] = {0.55f, 0.55f, 0.55f};
        float tail = x - e->dir * 0.3f;
        canvas_rect(&sc->cv, fminf(x, tail), y - 0.06f, fmaxf(x, tail), y - 0.012f, blur, 0.3f);
    } else {
        int s = t - tc;
        x = hit + e->dir * (s == 0 ? 0.03f : 0.07f);
        synth_pose_stand(b);
        b->lying = true, b->face = e->dir;
        b->x = e->px + e->dir * (s == 0 ? 0.08f : 0.16f), b->y = y + (s == 0 ? -0.05f : 0.02f);
    }
    synth_draw_person(sc, b);
    synth_draw_car(sc, x, y, e->dir, e->col, len);
    if (t > tc) {
        float c[3], l = len * k, hgt = 0.38f * len * k;
        static const float steam[3] = {0.75f, 0.75f, 0.78f};
        canvas_glow(&sc->cv, x + e->dir * 0.35f * l + dr(d, -0.01f, 0.01f),
                    y - hgt * 1.4f - 0.01f * (float)(t % 3), 0.1f, steam, 0.8f);
        if ((t - tc) % 3 != 0) { /* hazard lights, on two frames of three */
            synth_emit(sc, 1.0f, 0.6f, 0.05f, c);
            canvas_glow(&sc->cv, x + 0.47f * l, y - hgt * 0.57f, 0.08f, c, 1.0f);
            canvas_glow(&sc->cv, x - 0.47f * l, y - hgt * 0.57f, 0.08f, c, 1.0f);
        }
    }
}

static void draw_robbery(Scene *sc, Event *e, int t, Draw *d) {
    /* a runner chases a walker with a bag and holds a knife on him (hands
     * up), grabs the bag and runs off; the victim is left on his knees */
    static const float blade[3] = {0.85f, 0.87f, 0.92f};
    Person *a = &e->a, *b = &e->b;
    int tc = e->t1;
    float dir = e->dir, va = 0.05f;
    b->y = e->py, a->y = e->py + 0.015f;
    float h = height(sc, b), bx_c = e->px + dir * e->v * (float)tc;
    bool knife = false;
    if (t < tc) {
        synth_pose_walk(b, 1.6f * (float)t), synth_pose_run(a, 2.3f * (float)t);
        b->x = e->px + dir * e->v * (float)t;
        a->x = bx_c - dir * (0.3f * h + va * (float)(tc - t));
        a->face = b->face = dir;
    } else if (t <= tc + 2) { /* the hold-up: victim turned round, hands up */
        synth_pose_stand(a), synth_pose_stand(b);
        b->x = bx_c + dr(d, -0.01f, 0.01f), b->face = -dir;
        b->arm[0] = dr(d, 2.7f, 3.0f), b->arm[1] = dr(d, 2.6f, 2.9f), b->lean = -0.04f;
        a->x = bx_c - dir * 0.3f * h + dr(d, -0.01f, 0.01f), a->face = dir;
        a->arm[0] = 1.6f, a->arm[1] = t == tc + 2 ? 1.3f : 0.2f, a->lean = 0.08f;
        knife = true;
    } else {
        synth_pose_stand(b);
        b->x = bx_c, b->face = dir, b->crouch = 0.7f, b->arm[0] = 1.7f, b->arm[1] = 1.3f;
        synth_pose_run(a, 2.3f * (float)t);
        a->face = dir, a->x = bx_c + dir * va * (float)(t - tc - 2);
    }
    synth_draw_person(sc, b), synth_draw_person(sc, a);
    if (knife) draw_tool(sc, a, 0, 0.2f, 0.06f, blade);
    if (t <= tc + 1) draw_held(sc, b, e->col);
    else draw_held(sc, a, e->col);
}

static void draw_shooting(Scene *sc, Event *e, int t, Draw *d) {
    /* a still figure aiming, muzzle flashes and bright streaks; the crowd
     * flees and one falls (walker_at) */
    Person *a = &e->a;
    synth_pose_stand(a);
    a->x = e->ax, a->y = e->py, a->face = e->dir;
    if (t >= e->t0) a->arm[0] = 1.57f, a->arm[1] = 1.4f;
    synth_draw_person(sc, a);
    if (t < e->t0 || du(d) >= 0.75f) return;
    float hx, hy, c[3];
    synth_hand(sc, a, 0, &hx, &hy);
    synth_emit(sc, 1.0f, 0.9f, 0.5f, c);
    canvas_glow(&sc->cv, hx, hy, 0.075f, c, 1.0f);
    synth_emit(sc, 1.0f, 0.95f, 0.7f, c);
    int n = 1 + dint(d, 3);
    for (int i = 0; i < n; i++) {
        float ang = dr(d, -0.25f, 0.25f), s0 = dr(d, 0.03f, 0.15f), len = dr(d, 0.1f, 0.3f);
        float ux = e->dir * cosf(ang), uy = sinf(ang);
        canvas_line(&sc->cv, hx + ux * s0, hy + uy * s0, hx + ux * (s0 + len), hy + uy * (s0 + len),
                    0.018f, c, 0.9f);
    }
}

static void draw_shoplifting(Scene *sc, Event *e, int t, Draw *d) {
    /* loitering at the stall, glancing around, reaching in; three items
     * vanish one by one into the coat; then walking off */
    Person *a = &e->a;
    if (t < e->t0) {
        approach(a, e->ax, e->py, e->px, e->py, t, e->t0);
    } else if (t <= e->t1) {
        synth_pose_stand(a);
        a->x = e->px + dr(d, -0.008f, 0.008f), a->y = e->py;
        a->face = ((t + e->k) / 2) & 1 ? -1.0f : 1.0f;
        bool reach = ((t + e->k) & 1) != 0;
        a->arm[0] = reach ? dr(d, 2.0f, 2.5f) : 0.9f, a->arm[1] = reach ? 0.2f : 0.7f;
        a->lean = reach ? 0.06f : 0.0f;
        for (int j = 0; j < 3; j++) /* the item just taken, in hand */
            if (t == key_frame(sc, e, 0.1f + 0.2f * (float)j) + 1) {
                a->arm[0] = 0.9f, a->arm[1] = 0.7f;
                synth_draw_person(sc, a);
                draw_held(sc, a, sc->item_col[(e->k + 3 * j) % NITEMS]);
                return;
            }
    } else {
        synth_pose_walk(a, 1.6f * (float)t);
        a->face = e->dir, a->x = e->px + e->dir * 0.022f * (float)(t - e->t1), a->y = e->py;
    }
    synth_draw_person(sc, a);
}

static void draw_stealing(Scene *sc, Event *e, int t) {
    /* an unattended bag: someone walks up, bends, grabs it and runs off */
    Person *a = &e->a;
    int t1 = e->t1;
    a->y = e->py;
    if (t <= t1) {
        approach(a, e->ax, e->py, e->px, e->py, t, t1);
        if (t == t1) synth_pose_stand(a);
        a->face = e->dir;
    }
    if (t >= t1 && t <= t1 + 1) {
        a->x = e->px, a->crouch = 0.65f, a->lean = 0.1f, a->arm[0] = 0.9f, a->arm[1] = 0.5f;
    } else if (t > t1 + 1) {
        synth_pose_run(a, 2.3f * (float)t);
        a->face = e->dir, a->x = e->px + e->dir * 0.05f * (float)(t - t1 - 1);
    }
    synth_draw_person(sc, a);
    if (sc->bag_carried) draw_held(sc, a, sc->bag_col);
}

/* Actors and light effects of frame t. */
void synth_event_draw(Scene *sc, Event *e, int cls, int t, Draw *d) {
    switch (cls) {
    case C_ABUSE: draw_abuse(sc, e, t, d); break;
    case C_ARREST: draw_arrest(sc, e, t, d); break;
    case C_ARSON: draw_arson(sc, e, t, d); break;
    case C_ASSAULT: draw_assault(sc, e, t); break;
    case C_BURGLARY: draw_burglary(sc, e, t, d); break;
    case C_EXPLOSION: draw_explosion(sc, e, t, d); break;
    case C_FIGHTING: draw_fighting(sc, e, t, d); break;
    case C_ROAD: draw_road(sc, e, t, d); break;
    case C_ROBBERY: draw_robbery(sc, e, t, d); break;
    case C_SHOOTING: draw_shooting(sc, e, t, d); break;
    case C_SHOPLIFTING: draw_shoplifting(sc, e, t, d); break;
    case C_STEALING: draw_stealing(sc, e, t); break;
    case C_VANDALISM: {
        float hx, hy;
        synth_draw_person(sc, &e->a);
        if (t >= e->t0) { /* the spray mist at the hand */
            synth_hand(sc, &e->a, 0, &hx, &hy);
            canvas_glow(&sc->cv, hx, hy - 0.01f, 0.035f, e->col, 0.7f);
        }
        break;
    }
    default: break;
    }
}
