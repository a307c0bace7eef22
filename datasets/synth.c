/* synth: scene, crowd, camera model, configuration and the data set.
 *
 * A video is rendered frame by frame on a float canvas: the static
 * background (drawn once, then damaged in place: paint and a broken window
 * in Vandalism, scorch in Arson and Explosion, skid marks and glass in
 * RoadAccidents), props, the walking (or fleeing) crowd, the class's actors
 * and effects (synth_events.c); then the camera
 * applies jitter, illumination (gain with slow drift, tint) and sensor noise
 * and quantises to uint8. Light sources (fire, flashes, police lights) are
 * drawn "emissive": divided by the gain so that night scenes keep them
 * bright. Random draws go through a Draw cursor over the counter RNG:
 * step 0 for the scene and the event set-up, step 1+t for frame t. */
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/synth_scene.h"

const char *const synth_class_names[SYNTH_NCLASSES] = {
    "Abuse",     "Arrest",      "Arson",        "Assault",       "Burglary",
    "Explosion", "Fighting",    "NormalVideos", "RoadAccidents", "Robbery",
    "Shooting",  "Shoplifting", "Stealing",     "Vandalism"};

static void setup_scene(Scene *sc, Draw *d, int cls, RngStream tex) {
    sc->horizon = dr(d, 0.28f, 0.4f);
    sc->road0 = dr(d, sc->horizon + 0.22f, 0.7f);
    sc->road1 = sc->road0 + dr(d, 0.13f, 0.17f);
    sc->door_w = 0.07f;
    sc->door_h = fminf(0.15f, sc->horizon * 0.6f);
    sc->door_x = dr(d, 0.08f, 0.85f);
    sc->nwin = 2 + dint(d, 2);
    sc->win_s = dr(d, 0.06f, 0.09f);
    sc->win_y = dr(d, 0.04f, sc->horizon - sc->door_h - sc->win_s - 0.01f);
    for (int i = 0; i < sc->nwin; i++) sc->win_x[i] = dr(d, 0.02f, 0.9f);
    sc->stall = cls == C_SHOPLIFTING || du(d) < 0.15f;
    sc->stall_x = dr(d, 0.18f, 0.82f);
    sc->stall_y = dr(d, sc->horizon + 0.12f, sc->road0 - 0.01f);
    static const float wood[3] = {0.45f, 0.3f, 0.17f}, fruit[4][3] = {{0.8f, 0.5f, 0.2f},
                                                                      {0.65f, 0.2f, 0.2f},
                                                                      {0.75f, 0.7f, 0.3f},
                                                                      {0.4f, 0.6f, 0.25f}};
    static const float awning[3][3] = {
        {0.65f, 0.25f, 0.25f}, {0.25f, 0.5f, 0.3f}, {0.25f, 0.35f, 0.6f}};
    float wk = dr(d, 0.8f, 1.15f);
    for (int c = 0; c < 3; c++) sc->stall_col[c] = wood[c] * wk;
    memcpy(sc->awning_col, awning[dint(d, 3)], sizeof sc->awning_col);
    for (int i = 0; i < NITEMS; i++)
        memcpy(sc->item_col[i], fruit[dint(d, 4)], sizeof sc->item_col[i]);
    sc->bag = cls == C_STEALING || du(d) < 0.2f;
    synth_ground_point(sc, d, &sc->bag_x, &sc->bag_y);
    dmuted(d, sc->bag_col, 0.6f, 0.3f, 0.9f);
    sc->car = du(d) < 0.3f;
    sc->car_x0 = du(d);
    sc->car_v = dsign(d) * dr(d, 0.025f, 0.045f);
    sc->car_y = (sc->road0 + sc->road1) * 0.5f + (sc->car_v > 0 ? 0.045f : 0.0f);
    dmuted(d, sc->car_col, 0.5f, 0.15f, 0.95f);
    sc->gain = cls == C_BURGLARY ? dr(d, 0.22f, 0.4f) : dr(d, 0.7f, 1.2f);
    for (int c = 0; c < 3; c++) sc->tint[c] = dr(d, 0.92f, 1.08f);
    sc->noise = dr(d, 1.0f, 6.0f);
    sc->jitter = dr(d, 0.0f, 1.0f);
    sc->drift = dr(d, 0.0f, 0.08f);
    sc->drift_ph = dr(d, 0.0f, 6.2831853f);
    sc->ncrowd = cls == C_BURGLARY ? dint(d, 2) : dint(d, 3);
    if ((cls == C_SHOOTING || cls == C_EXPLOSION) && sc->ncrowd < 3) sc->ncrowd = 3;
    for (int i = 0; i < sc->ncrowd; i++) {
        Walker *w = &sc->crowd[i];
        synth_random_person(d, &w->p);
        w->x0 = du(d);
        w->y0 = dr(d, sc->horizon + 0.1f, 0.97f);
        float speed = dr(d, 0.012f, 0.024f), ang = dr(d, -0.4f, 0.4f);
        w->vx = dsign(d) * speed * cosf(ang);
        w->vy = speed * sinf(ang);
        w->wob = dr(d, 0.0f, 0.01f);
        w->ph = dr(d, 0.0f, 6.2831853f);
    }
    sc->fallen = -1;

    /* background: brick wall, pavement with tiles, road, windows, door */
    float wall[3], mortar[3], ground[3], road[3], doorc[3];
    static const float palette[4][3] = {
        {0.55f, 0.25f, 0.18f}, {0.5f, 0.5f, 0.5f}, {0.7f, 0.62f, 0.48f}, {0.35f, 0.4f, 0.48f}};
    int pi = dint(d, 4);
    for (int c = 0; c < 3; c++) wall[c] = clampf(palette[pi][c] + dr(d, -0.08f, 0.08f), 0, 1);
    float m = dr(d, 0.45f, 0.8f), g = dr(d, 0.35f, 0.65f), r = dr(d, 0.12f, 0.25f);
    setc(mortar, m, m, m * 0.95f);
    setc(ground, g, g * dr(d, 0.92f, 1.02f), g * dr(d, 0.85f, 1.0f));
    setc(road, r, r, r * 1.05f);
    dcolor(d, doorc, 0.15f, 0.5f);
    float bw = 0.08f, bh = 0.04f, tile = dr(d, 0.09f, 0.14f);
    int S = sc->S;
    for (int y = 0; y < S; y++) {
        float yu = ((float)y + 0.5f) / (float)S;
        for (int x = 0; x < S; x++) {
            float xu = ((float)x + 0.5f) / (float)S, *p = sc->bgc.px + ((size_t)y * S + x) * 3;
            float t = 0.95f + 0.1f * rng_uniform(tex, 1, (uint64_t)y * S + x);
            if (yu < sc->horizon) {
                int row = (int)floorf(yu / bh);
                float off = (row & 1) ? bw * 0.5f : 0.0f, fx = (xu + off) / bw, fy = yu / bh;
                int col = (int)floorf(fx);
                bool mort = fx - floorf(fx) < 0.09f || fy - floorf(fy) < 0.14f;
                float k = 0.85f + 0.3f * rng_uniform(tex, 0, (uint64_t)(row * 1024 + col + 512));
                for (int c = 0; c < 3; c++) p[c] = (mort ? mortar[c] : wall[c] * k) * t;
            } else if (yu >= sc->road0 && yu < sc->road1) {
                for (int c = 0; c < 3; c++) p[c] = road[c] * t;
            } else {
                float fx = xu / tile, fy = (yu - sc->horizon) / (tile * 0.6f);
                bool line = fx - floorf(fx) < 0.06f || fy - floorf(fy) < 0.08f;
                for (int c = 0; c < 3; c++) p[c] = ground[c] * t * (line ? 0.82f : 1.0f);
            }
        }
    }
    static const float curb[3] = {0.75f, 0.75f, 0.72f}, stripe[3] = {0.92f, 0.85f, 0.45f};
    canvas_rect(&sc->bgc, 0, sc->road0 - 0.012f, 1, sc->road0, curb, 1);
    canvas_rect(&sc->bgc, 0, sc->road1, 1, sc->road1 + 0.012f, curb, 1);
    float mid = (sc->road0 + sc->road1) * 0.5f, off = du(d) * 0.11f;
    for (float x = -off; x < 1.0f; x += 0.11f)
        canvas_rect(&sc->bgc, x, mid - 0.006f, x + 0.06f, mid + 0.006f, stripe, 1);
    float glass[3], frame[3];
    setc(glass, dr(d, 0.1f, 0.25f), dr(d, 0.15f, 0.3f), dr(d, 0.25f, 0.45f));
    setc(frame, m, m, m);
    for (int i = 0; i < sc->nwin; i++) {
        float x0 = sc->win_x[i];
        canvas_rect(&sc->bgc, x0 - 0.008f, sc->win_y - 0.008f, x0 + sc->win_s + 0.008f,
                    sc->win_y + sc->win_s + 0.008f, frame, 1);
        canvas_rect(&sc->bgc, x0, sc->win_y, x0 + sc->win_s, sc->win_y + sc->win_s, glass, 1);
    }
    canvas_rect(&sc->bgc, sc->door_x, sc->horizon - sc->door_h, sc->door_x + sc->door_w,
                sc->horizon, doorc, 1);
    static const float knob[3] = {0.8f, 0.7f, 0.3f};
    canvas_ellipse(&sc->bgc, sc->door_x + sc->door_w * 0.8f, sc->horizon - sc->door_h * 0.45f,
                   0.006f, 0.006f, knob, 1);
    if (du(d) < 0.2f) { /* old faded graffiti, in every class, so graffiti alone proves nothing */
        float gc[3];
        dcolor(d, gc, 0.0f, 1.0f);
        int n = 2 + dint(d, 3);
        for (int i = 0; i < n; i++) {
            float x = du(d), y = dr(d, 0.05f, sc->horizon - 0.02f);
            canvas_line(&sc->bgc, x, y, x + dr(d, -0.08f, 0.08f), y + dr(d, -0.04f, 0.04f), 0.012f,
                        gc, 0.45f);
        }
    }
}

static void draw_props(Scene *sc, int t) {
    Canvas *cv = &sc->cv;
    if (sc->stall) { /* a fruit stall: wooden counter, produce, striped awning */
        float x = sc->stall_x, y = sc->stall_y;
        static const float white[3] = {0.92f, 0.92f, 0.9f}, post[3] = {0.3f, 0.22f, 0.15f};
        canvas_line(cv, x - 0.13f, y, x - 0.13f, y - 0.21f, 0.012f, post, 1);
        canvas_line(cv, x + 0.13f, y, x + 0.13f, y - 0.21f, 0.012f, post, 1);
        for (int i = 0; i < 10; i++)
            canvas_rect(cv, x - 0.15f + 0.03f * (float)i, y - 0.24f, x - 0.12f + 0.03f * (float)i,
                        y - 0.2f, i & 1 ? white : sc->awning_col, 1);
        canvas_rect(cv, x - 0.14f, y - 0.09f, x + 0.14f, y, sc->stall_col, 1);
        for (int i = 0; i < NITEMS; i++) {
            if (sc->item_gone[i]) continue;
            float ix = x - 0.105f + 0.07f * (float)(i % 4), iy = y - 0.1f + 0.04f * (float)(i / 4);
            canvas_ellipse(cv, ix, iy, 0.024f, 0.017f, sc->item_col[i], 1);
        }
    }
    if (sc->bag && !sc->bag_carried) synth_draw_bag(sc, sc->bag_x, sc->bag_y, sc->bag_col);
    if (sc->car) {
        float x = sc->car_x0 + sc->car_v * (float)t;
        x = -0.2f + fmodf(fmodf(x + 0.2f, 1.4f) + 1.4f, 1.4f);
        synth_draw_car(sc, x, sc->car_y, sc->car_v > 0 ? 1.0f : -1.0f, sc->car_col, CAR_LEN);
    }
}

/* Walker position at frame t: straight paths that wrap around horizontally
 * and bounce between horizon and bottom; after a flee start, running away. */
static void walker_at(const Scene *sc, Walker *w, int t) {
    float lo = sc->horizon + 0.1f, hi = 0.97f, span = hi - lo;
    int tb = sc->flee && t > sc->flee_t0 ? sc->flee_t0 : t;
    float x = w->x0 + w->vx * (float)tb;
    x = -0.1f + fmodf(fmodf(x + 0.1f, 1.2f) + 1.2f, 1.2f);
    float y = fmodf(fmodf(w->y0 - lo + w->vy * (float)tb, 2 * span) + 2 * span, 2 * span);
    y = lo + (y > span ? 2 * span - y : y) + w->wob * sinf(w->ph + 0.9f * (float)tb);
    if (tb < t) { /* fleeing: running away from the danger */
        float dx = x - sc->flee_x, dy = y - sc->flee_y, n = sqrtf(dx * dx + dy * dy) + 1e-3f;
        float run = 0.055f * (float)(t - tb);
        x += dx / n * run;
        y = clampf(y + dy / n * run * 0.5f, lo, hi);
        synth_pose_run(&w->p, w->ph + 2.3f * (float)t);
        w->p.face = dx < 0 ? -1.0f : 1.0f;
    } else {
        synth_pose_walk(&w->p, w->ph + 1.6f * (float)t);
        w->p.face = w->vx < 0 ? -1.0f : 1.0f;
    }
    w->p.x = x;
    w->p.y = y;
}

/* ---- rendering ---- */

static RngStream video_stream(const SynthConfig *cfg, int cls, DsSplit split, int index) {
    RngStream s = rng_stream(cfg->seed, "synth");
    s = rng_substream(s, (uint64_t)split * 1000u + (uint64_t)cls);
    return rng_substream(s, (uint64_t)index);
}

void synth_video_open(SynthVideo *v, const SynthConfig *cfg, int cls, DsSplit split, int index) {
    VB_ASSERT(cls >= 0 && cls < SYNTH_NCLASSES);
    memset(v, 0, sizeof *v);
    v->cls = cls;
    v->vs = video_stream(cfg, cls, split, index);
    v->noise = rng_substream(v->vs, 2);
    Scene *sc = &v->sc;
    size_t n = (size_t)cfg->size * (size_t)cfg->size * 3;
    sc->S = cfg->size, sc->F = cfg->frames;
    sc->cv.size = sc->bgc.size = cfg->size;
    sc->cv.px = vb_xmalloc(n * sizeof(float));
    sc->bgc.px = vb_xmalloc(n * sizeof(float));
    Draw d0 = {v->vs, 0, 0};
    setup_scene(sc, &d0, cls, rng_substream(v->vs, 1));
    synth_event_setup(sc, &v->ev, &d0, cls);
}

void synth_video_frame(SynthVideo *v, int t, uint8_t *out) {
    Scene *sc = &v->sc;
    int S = sc->S;
    size_t npx = (size_t)S * S;
    Draw df = {v->vs, 1 + (uint64_t)t, 0};
    sc->shake = 0;
    synth_event_step(sc, &v->ev, v->cls, t, &df);
    memcpy(sc->cv.px, sc->bgc.px, npx * 3 * sizeof(float));
    draw_props(sc, t);
    for (int i = 0; i < sc->ncrowd; i++) {
        Walker *w = &sc->crowd[i];
        walker_at(sc, w, t);
        w->p.lying = i == sc->fallen;
        synth_draw_person(sc, &w->p);
    }
    synth_event_draw(sc, &v->ev, v->cls, t, &df);
    /* camera: jitter, illumination, noise, quantisation */
    float amp = sc->jitter + (float)sc->shake;
    int jx = (int)lrintf((du(&df) - 0.5f) * 2.0f * amp);
    int jy = (int)lrintf((du(&df) - 0.5f) * 2.0f * amp);
    float g =
        sc->gain * (1.0f + sc->drift * sinf(sc->drift_ph + 6.2831853f * (float)t /
                                                               (float)(sc->F > 1 ? sc->F : 1)));
    float mul[3];
    for (int c = 0; c < 3; c++) mul[c] = g * sc->tint[c] * 255.0f;
    for (int y = 0; y < S; y++) {
        int sy = y + jy < 0 ? 0 : y + jy >= S ? S - 1 : y + jy;
        for (int x = 0; x < S; x++) {
            int sx = x + jx < 0 ? 0 : x + jx >= S ? S - 1 : x + jx;
            const float *p = sc->cv.px + ((size_t)sy * S + sx) * 3;
            uint64_t pix = (uint64_t)y * S + x;
            uint32_t ctr[4] = {(uint32_t)pix, (uint32_t)(pix >> 32), (uint32_t)t, 0}, r[4];
            rng_philox(v->noise, ctr, r);
            for (int c = 0; c < 3; c++) {
                /* Irwin-Hall of 4 bytes: approximately N(0,1), |n| <= 3.45 */
                int sum = (int)(r[c] & 255) + (int)((r[c] >> 8) & 255) + (int)((r[c] >> 16) & 255) +
                          (int)(r[c] >> 24) - 510;
                float val = p[c] * mul[c] + sc->noise * (float)sum * (1.0f / 147.8f);
                out[pix * 3 + c] = (uint8_t)lrintf(clampf(val, 0.0f, 255.0f));
            }
        }
    }
}

void synth_video_close(SynthVideo *v) {
    free(v->sc.cv.px);
    free(v->sc.bgc.px);
    v->sc.cv.px = v->sc.bgc.px = NULL;
}

void synth_render_video(const SynthConfig *cfg, int cls, DsSplit split, int index, uint8_t *out) {
    SynthVideo *v = vb_xmalloc(sizeof *v);
    synth_video_open(v, cfg, cls, split, index);
    size_t fb = (size_t)cfg->size * (size_t)cfg->size * 3;
    for (int t = 0; t < cfg->frames; t++) synth_video_frame(v, t, out + (size_t)t * fb);
    synth_video_close(v);
    free(v);
}

/* ---- configuration and the whole data set ---- */

void synth_defaults(SynthConfig *cfg) {
    cfg->videos_per_class = 8;
    cfg->test_videos_per_class = 4;
    cfg->normal_factor = 4;
    cfg->frames = 16;
    cfg->size = 64;
    cfg->seed = 0;
}

VbStatus synth_check(const SynthConfig *cfg) {
    if (cfg->videos_per_class < 0 || cfg->videos_per_class > 100000)
        return VB_FAIL(VB_ERR_INPUT, "synthetic videos_per_class %d is outside [0, 100000]",
                       cfg->videos_per_class);
    if (cfg->test_videos_per_class < 0 || cfg->test_videos_per_class > 100000)
        return VB_FAIL(VB_ERR_INPUT, "synthetic test_videos_per_class %d is outside [0, 100000]",
                       cfg->test_videos_per_class);
    if (cfg->videos_per_class + cfg->test_videos_per_class == 0)
        return VB_FAIL(VB_ERR_INPUT, "synthetic data set would have no videos");
    if (cfg->normal_factor < 1 || cfg->normal_factor > 100)
        return VB_FAIL(VB_ERR_INPUT, "synthetic normal_factor %d is outside [1, 100]",
                       cfg->normal_factor);
    if (cfg->frames < 1 || cfg->frames > 10000)
        return VB_FAIL(VB_ERR_INPUT, "synthetic frames %d is outside [1, 10000]", cfg->frames);
    if (cfg->size < 16 || cfg->size > 512)
        return VB_FAIL(VB_ERR_INPUT, "synthetic size %d is outside [16, 512]", cfg->size);
    return VB_OK;
}

int synth_videos_in(const SynthConfig *cfg, int cls, DsSplit split) {
    int n = split == DS_TRAIN ? cfg->videos_per_class : cfg->test_videos_per_class;
    return cls == C_NORMAL ? n * cfg->normal_factor : n;
}

VbStatus synth_generate(const SynthConfig *cfg, Dataset *ds) {
    VB_TRY(synth_check(cfg));
    dataset_init(ds);
    char src[160];
    snprintf(src, sizeof src,
             "synthetic(videos=%d,test_videos=%d,normal_factor=%d,frames=%d,"
             "size=%d,seed=%llu)",
             cfg->videos_per_class, cfg->test_videos_per_class, cfg->normal_factor, cfg->frames,
             cfg->size, (unsigned long long)cfg->seed);
    ds->source = vb_xstrdup(src);
    for (int c = 0; c < SYNTH_NCLASSES; c++) dataset_class_index(ds, synth_class_names[c]);
    uint64_t first = 0;
    for (int sp = 0; sp < 2; sp++)
        for (int c = 0; c < SYNTH_NCLASSES; c++) {
            int n = synth_videos_in(cfg, c, (DsSplit)sp);
            int base = sp == DS_TRAIN ? 0 : synth_videos_in(cfg, c, DS_TRAIN);
            for (int i = 0; i < n; i++) {
                char id[64];
                snprintf(id, sizeof id, "%s%03d_x264", synth_class_names[c], base + i + 1);
                dataset_add_video(ds, id, c, (DsSplit)sp, (uint32_t)cfg->frames, first);
                first += (uint64_t)cfg->frames;
            }
        }
    VbStatus st = dataset_frames_alloc(ds, first, cfg->size, cfg->size);
    if (st != VB_OK) {
        dataset_free(ds);
        return st;
    }
    /* videos are still in the order added: (split, class, number) */
    size_t fb = dataset_frame_bytes(ds);
    long nv = (long)ds->nvideos;
    int *number = vb_xmalloc(sizeof(int) * ds->nvideos);
    for (long v = 0, k = 0; v < nv; v++, k++) {
        if (v > 0 && (ds->videos[v].cls != ds->videos[v - 1].cls ||
                      ds->videos[v].split != ds->videos[v - 1].split))
            k = 0;
        number[v] = (int)k;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (long v = 0; v < nv; v++) {
        const DsVideo *dv = &ds->videos[v];
        synth_render_video(cfg, dv->cls, dv->split, number[v], ds->frames.data + dv->first * fb);
    }
    free(number);
    st = dataset_finish(ds, NULL);
    if (st == VB_OK) st = dataset_set_normal(ds, DS_DEFAULT_NORMAL);
    if (st != VB_OK) dataset_free(ds);
    return st;
}
