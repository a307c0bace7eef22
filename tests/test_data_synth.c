/* Tests of the synthetic surveillance-video generator and the Dataset
 * model: layout, determinism (reruns, thread counts, independence of a
 * video from the number of others), class signatures (lights, paint, fire,
 * darkness in the pixels through the public API; what the actors do, frame
 * by frame, through the internal scene model of synth_scene.h), people's
 * size, range checks. */
#include "testutil.h"

#include <omp.h>

#include "datasets/synth.h"
#include "datasets/synth_scene.h"

static void small_config(SynthConfig *c) {
    synth_defaults(c);
    c->videos_per_class = 2;
    c->test_videos_per_class = 1;
    c->normal_factor = 2;
    c->frames = 6;
    c->size = 32;
    c->seed = 11;
}

Test(data_synth, layout_classes_ids_and_counts) {
    SynthConfig c;
    small_config(&c);
    Dataset ds;
    cr_assert_eq(synth_generate(&c, &ds), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(ds.nclasses, 14);
    for (int k = 1; k < 14; k++) cr_assert(strcmp(ds.classes[k - 1], ds.classes[k]) < 0);
    cr_assert_str_eq(ds.classes[ds.normal], "NormalVideos");
    cr_assert_eq(ds.normal, 7);
    /* 13 anomaly classes x (2 + 1) + NormalVideos x (4 + 2) */
    cr_assert_eq(ds.nvideos, (size_t)(13 * 3 + 6));
    cr_assert_eq(dataset_total_frames(&ds), (uint64_t)(13 * 3 + 6) * 6);
    uint64_t v[14], f[14];
    dataset_counts(&ds, DS_TRAIN, v, f);
    cr_assert_eq(v[0], 2);
    cr_assert_eq(v[7], 4);
    cr_assert_eq(f[7], 24);
    dataset_counts(&ds, DS_TEST, v, f);
    cr_assert_eq(v[13], 1);
    cr_assert_eq(v[7], 2);
    /* ids: <Class><NNN>_x264, numbered across Train then Test, unique */
    cr_assert_str_eq(ds.videos[0].id, "Abuse001_x264");
    for (size_t i = 0; i < ds.nvideos; i++) {
        const DsVideo *d = &ds.videos[i];
        cr_assert(strncmp(d->id, ds.classes[d->cls], strlen(ds.classes[d->cls])) == 0, "%s", d->id);
        for (size_t j = 0; j < i; j++)
            cr_assert(strcmp(ds.videos[j].id, d->id) != 0, "%s twice", d->id);
        if (d->split == DS_TEST && d->cls == 0) cr_assert_str_eq(d->id, "Abuse003_x264");
    }
    cr_assert_eq(ds.frames.h, 32);
    cr_assert_eq(strlen(ds.digest), 32u);
    dataset_free(&ds);
}

Test(data_synth, deterministic_across_runs_and_threads) {
    SynthConfig c;
    small_config(&c);
    Dataset a, b, d;
    omp_set_num_threads(1);
    cr_assert_eq(synth_generate(&c, &a), VB_OK);
    omp_set_num_threads(2);
    cr_assert_eq(synth_generate(&c, &b), VB_OK);
    cr_assert_str_eq(a.digest, b.digest);
    tu_assert_bytes_equal(a.frames.data, b.frames.data, a.frames.nframes * dataset_frame_bytes(&a),
                          "frames, 1 vs 2 threads");
    c.seed = 12;
    cr_assert_eq(synth_generate(&c, &d), VB_OK);
    cr_assert_str_neq(a.digest, d.digest);
    dataset_free(&a), dataset_free(&b), dataset_free(&d);
}

Test(data_synth, a_video_does_not_depend_on_how_many_are_generated) {
    SynthConfig c;
    small_config(&c);
    Dataset ds;
    cr_assert_eq(synth_generate(&c, &ds), VB_OK);
    c.videos_per_class = 5; /* more videos: video 1 of Fighting/Train must not change */
    size_t n = (size_t)c.frames * c.size * c.size * 3;
    uint8_t *buf = malloc(n);
    synth_render_video(&c, 6, DS_TRAIN, 1, buf);
    int v = -1;
    for (size_t i = 0; i < ds.nvideos; i++)
        if (strcmp(ds.videos[i].id, "Fighting002_x264") == 0) v = (int)i;
    cr_assert(v >= 0);
    tu_assert_bytes_equal(buf, dataset_frame(&ds, (size_t)v, 0), n, "Fighting002");
    free(buf);
    dataset_free(&ds);
}

/* mean luminance of frame t of video v */
static double frame_mean(const Dataset *ds, size_t v, uint32_t t) {
    const uint8_t *p = dataset_frame(ds, v, t);
    double s = 0;
    size_t n = dataset_frame_bytes(ds);
    for (size_t i = 0; i < n; i++) s += p[i];
    return s / (double)n;
}

/* ---- pixel-level signatures, through the public API ---- */

typedef int (*PixelTest)(const uint8_t *p);
static int px_orange(const uint8_t *p) { return p[0] > 200 && p[0] > p[2] + 90 && p[1] > 60; }
static int px_red(const uint8_t *p) { /* a red signal light */
    return p[0] > 170 && p[1] * 2 < p[0] && p[2] * 2 < p[0];
}
static int px_blue(const uint8_t *p) { /* a blue signal light */
    return p[2] > 170 && p[0] * 2 < p[2] && p[1] * 10 < p[2] * 7;
}
static int px_amber(const uint8_t *p) { /* hazard lights */
    return p[0] > 200 && p[1] > p[0] / 3 && p[1] * 5 < p[0] * 4 && p[2] * 10 < p[0] * 3;
}
/* Pixels of frame t of video v passing f, in rows [y0, y1) (fractions). */
static int count_px(const Dataset *ds, size_t v, uint32_t t, PixelTest f, double y0, double y1) {
    const uint8_t *p = dataset_frame(ds, v, t);
    int w = (int)ds->frames.w, r0 = (int)(y0 * ds->frames.h), r1 = (int)(y1 * ds->frames.h), n = 0;
    for (int y = r0; y < r1; y++)
        for (int x = 0; x < w; x++) n += f(p + ((size_t)y * w + x) * 3);
    return n;
}

static void sig_config(SynthConfig *c) {
    synth_defaults(c);
    c->videos_per_class = 6;
    c->test_videos_per_class = 0;
    c->normal_factor = 2;
    c->frames = 16;
    c->size = 64;
    c->seed = 5;
}

Test(data_synth, class_signatures_burglary_dark_explosion_flash_arson_orange) {
    SynthConfig c;
    small_config(&c);
    c.videos_per_class = 4;
    c.frames = 12;
    Dataset ds;
    cr_assert_eq(synth_generate(&c, &ds), VB_OK);
    int burg = dataset_find_class(&ds, "Burglary"), expl = dataset_find_class(&ds, "Explosion");
    int arson = dataset_find_class(&ds, "Arson");
    double dark = 0, normal = 0;
    int nd = 0, nn = 0;
    for (size_t v = 0; v < ds.nvideos; v++) {
        const DsVideo *d = &ds.videos[v];
        double m = frame_mean(&ds, v, 0);
        if (d->cls == burg) dark += m, nd++;
        if (d->cls == ds.normal) normal += m, nn++;
        if (d->cls == expl) { /* a flash: some frame much brighter than the darkest */
            double lo = 1e9, hi = 0;
            for (uint32_t t = 0; t < d->nframes; t++) {
                double x = frame_mean(&ds, v, t);
                lo = x < lo ? x : lo, hi = x > hi ? x : hi;
            }
            cr_assert(hi - lo > 4.0, "%s: brightness range %.2f", d->id, hi - lo);
        }
        if (d->cls == arson) { /* orange pixels in the last frame, more than in the first */
            int o0 = count_px(&ds, v, 0, px_orange, 0, 1);
            int o1 = count_px(&ds, v, d->nframes - 1, px_orange, 0, 1);
            cr_assert(o1 > o0 + 3, "%s: orange %d -> %d", d->id, o0, o1);
        }
    }
    cr_assert(dark / nd < 0.6 * (normal / nn), "burglary %.1f vs normal %.1f", dark / nd,
              normal / nn);
    dataset_free(&ds);
}

/* Pixels of an RGB frame (side S) passing f inside the box [x0,x1) x [y0,y1)
 * (fractions of the side). */
static int count_box(const uint8_t *p, int S, PixelTest f, float x0, float y0, float x1, float y1) {
    int i0 = x0 < 0 ? 0 : (int)(x0 * S), i1 = x1 > 1 ? S : (int)(x1 * S);
    int j0 = y0 < 0 ? 0 : (int)(y0 * S), j1 = y1 > 1 ? S : (int)(y1 * S), n = 0;
    for (int y = j0; y < j1; y++)
        for (int x = i0; x < i1; x++) n += f(p + ((size_t)y * S + x) * 3);
    return n;
}

Test(data_synth, class_signatures_police_lights_paint_hazard_lights) {
    SynthConfig c;
    sig_config(&c);
    int S = c.size, F = c.frames;
    uint8_t *fr = malloc((size_t)S * S * 3);
    SynthVideo *v = malloc(sizeof *v);
    for (int k = 0; k < 6; k++) {
        /* Arrest: over the police car, a red and a blue flash in every 3
         * frames, and in every 3 frames at stride 2 (what a clip sees) */
        synth_video_open(v, &c, C_ARREST, DS_TRAIN, k);
        int red[16], blue[16], flashing = 0;
        for (int t = 0; t < F; t++) {
            synth_video_frame(v, t, fr);
            float x = v->ev.v, y0 = v->sc.road0 - 0.2f, y1 = v->sc.road1;
            red[t] = count_box(fr, S, px_red, x - 0.25f, y0, x + 0.25f, y1);
            blue[t] = count_box(fr, S, px_blue, x - 0.25f, y0, x + 0.25f, y1);
        }
        synth_video_close(v);
        for (int stride = 1; stride <= 2; stride++)
            for (int t = 0; t + 2 * stride < F; t++) {
                bool r = false, b = false;
                for (int i = t; i <= t + 2 * stride; i += stride)
                    r |= red[i] >= 60 && blue[i] * 3 < red[i],
                        b |= blue[i] >= 60 && red[i] * 3 < blue[i];
                flashing += r && b;
            }
        cr_assert(flashing == 2 * F - 6, "Arrest %d: flashing in %d of %d windows", k, flashing,
                  2 * F - 6);
        /* RoadAccidents: after the crash the hazard lights blink (on 2 frames of 3) */
        synth_video_open(v, &c, C_ROAD, DS_TRAIN, k);
        double on = 0, off = 0;
        int non = 0, noff = 0;
        for (int t = 0; t < F; t++) {
            synth_video_frame(v, t, fr);
            if (t <= v->ev.t1) continue;
            int n = count_box(fr, S, px_amber, 0, v->sc.road0 - 0.15f, 1, v->sc.road1 + 0.05f);
            if ((t - v->ev.t1) % 3) on += n, non++;
            else off += n, noff++;
        }
        synth_video_close(v);
        cr_assert(noff > 0 && on / non > off / noff + 15, "RoadAccidents %d: amber %.1f vs %.1f", k,
                  on / non, off / noff);
        /* Vandalism: paint accumulates on the wall (lasting change of the
         * background), in vivid colours; NormalVideos leave it untouched */
        for (int pass = 0; pass < 2; pass++) {
            int cls = pass ? C_NORMAL : C_VANDALISM;
            synth_video_open(v, &c, cls, DS_TRAIN, k);
            size_t n = (size_t)S * S * 3;
            float *bg0 = malloc(n * sizeof(float));
            memcpy(bg0, v->sc.bgc.px, n * sizeof(float));
            int grown[16];
            for (int t = 0; t < F; t++) {
                synth_video_frame(v, t, fr);
                grown[t] = 0;
                for (size_t i = 0; i < n; i += 3) {
                    const float *q = v->sc.bgc.px + i;
                    float mx = fmaxf(q[0], fmaxf(q[1], q[2])), mn = fminf(q[0], fminf(q[1], q[2]));
                    grown[t] +=
                        fabsf(q[0] - bg0[i]) + fabsf(q[1] - bg0[i + 1]) + fabsf(q[2] - bg0[i + 2]) >
                            0.3f &&
                        mx - mn > 0.5f * mx;
                }
            }
            free(bg0);
            synth_video_close(v);
            if (pass) {
                cr_assert(grown[F - 1] == 0, "NormalVideos %d: background changed", k);
            } else {
                cr_assert(grown[F / 4] >= 40 && grown[F / 2] > grown[F / 4] &&
                              grown[F - 1] > grown[F / 2] && grown[F - 1] >= grown[F / 4] + 40,
                          "Vandalism %d: painted %d, %d, %d pixels", k, grown[F / 4], grown[F / 2],
                          grown[F - 1]);
            }
        }
    }
    free(v), free(fr);
}

/* ---- behaviour of the actors, through the internal scene model ---- */

typedef struct Snap {
    Person a, b;
    float ha, hb; /* heights */
    int t0, t1, gone, fallen, running;
    bool carried, flee;
} Snap;

/* Render video `index` of class cls frame by frame, recording the actors. */
static void snap_video(const SynthConfig *c, int cls, int index, Snap *s) {
    SynthVideo *v = malloc(sizeof *v);
    uint8_t *frame = malloc((size_t)c->size * c->size * 3);
    synth_video_open(v, c, cls, DS_TRAIN, index);
    for (int t = 0; t < c->frames; t++) {
        synth_video_frame(v, t, frame);
        Snap *p = &s[t];
        p->a = v->ev.a, p->b = v->ev.b, p->t0 = v->ev.t0, p->t1 = v->ev.t1;
        p->ha = synth_person_h(&v->sc, &v->ev.a), p->hb = synth_person_h(&v->sc, &v->ev.b);
        p->gone = 0;
        for (int i = 0; i < NITEMS; i++) p->gone += v->sc.item_gone[i];
        p->fallen = v->sc.fallen, p->carried = v->sc.bag_carried, p->flee = v->sc.flee;
        p->running = 0;
        for (int i = 0; i < v->sc.ncrowd; i++) p->running += v->sc.crowd[i].p.stride > 0.9f;
    }
    synth_video_close(v);
    free(v), free(frame);
}

static bool running(const Person *p) { return p->stride > 0.9f && !p->lying; }

#define NV 6
#define NF 16

Test(data_synth, class_signatures_two_person_interactions) {
    SynthConfig c;
    sig_config(&c);
    Snap s[NF];
    for (int k = 0; k < NV; k++) {
        /* Abuse: a victim on the ground all along, an attacker over it
         * raising the stick and striking (bent) again and again */
        snap_video(&c, C_ABUSE, k, s);
        int raised = 0, blows = 0;
        for (int t = 0; t < NF; t++) {
            cr_assert(s[t].b.lying && !s[t].a.lying, "Abuse %d t=%d", k, t);
            cr_assert(fabsf(s[t].a.x - s[t].b.x) < 0.5f * s[t].ha, "Abuse %d t=%d: apart", k, t);
            raised += s[t].a.arm[0] > 2.4f, blows += s[t].a.crouch < 0.85f;
        }
        cr_assert(raised >= NF / 4 && blows >= NF / 4, "Abuse %d: %d raised, %d blows", k, raised,
                  blows);
        /* Fighting: two upright figures face to face, close, swinging, lurching */
        snap_video(&c, C_FIGHTING, k, s);
        float moved = 0;
        for (int t = 0; t < NF; t++) {
            const Person *a = &s[t].a, *b = &s[t].b;
            cr_assert(!a->lying && !b->lying && a->face == -b->face, "Fighting %d t=%d", k, t);
            cr_assert((b->x - a->x) * a->face > 0 && fabsf(a->x - b->x) < s[t].ha,
                      "Fighting %d t=%d: not face to face", k, t);
            cr_assert(fmaxf(a->arm[0], a->arm[1]) > 0.85f && fmaxf(b->arm[0], b->arm[1]) > 0.85f,
                      "Fighting %d t=%d: arms down", k, t);
            if (t) moved += fabsf(a->x - s[t - 1].a.x);
        }
        cr_assert(moved / (NF - 1) > 0.012f, "Fighting %d: mean step %.4f", k, moved / (NF - 1));
        /* Assault: upright until the blow, then lying; the attacker runs off */
        snap_video(&c, C_ASSAULT, k, s);
        int tm = s[0].t1;
        cr_assert(tm >= 2 && tm + 4 < NF, "Assault %d: blow at %d", k, tm);
        for (int t = 0; t < NF; t++)
            cr_assert(s[t].b.lying == (t > tm + 1), "Assault %d t=%d: lying %d", k, t,
                      s[t].b.lying);
        cr_assert(fabsf(s[tm].a.x - s[tm].b.x) < 0.5f * s[tm].ha, "Assault %d: no contact", k);
        for (int t = tm + 3; t < NF; t++)
            cr_assert(running(&s[t].a) &&
                          fabsf(s[t].a.x - s[t].b.x) > fabsf(s[t - 1].a.x - s[t - 1].b.x) + 0.03f,
                      "Assault %d t=%d: attacker not running off", k, t);
        /* Robbery: a runner closes in, a hold-up (hands up), runs off with the bag */
        snap_video(&c, C_ROBBERY, k, s);
        int tc = s[0].t1;
        for (int t = 1; t < tc; t++)
            cr_assert(running(&s[t].a) && !running(&s[t].b) &&
                          fabsf(s[t].a.x - s[t].b.x) < fabsf(s[t - 1].a.x - s[t - 1].b.x),
                      "Robbery %d t=%d: no chase", k, t);
        for (int t = tc; t <= tc + 2; t++)
            cr_assert(s[t].b.arm[0] > 2.5f && s[t].b.arm[1] > 2.5f && s[t].b.face == -s[t].a.face,
                      "Robbery %d t=%d: no hands up", k, t);
        for (int t = tc + 4; t < NF; t++)
            cr_assert(running(&s[t].a) && s[t].b.crouch < 0.8f &&
                          fabsf(s[t].a.x - s[t - 1].a.x) > 0.04f,
                      "Robbery %d t=%d: robber not running off", k, t);
        /* Arrest: the suspect's hands behind the back, the officer at him,
         * and at the end the suspect is in the car */
        snap_video(&c, C_ARREST, k, s);
        for (int t = 0; t < NF; t++)
            cr_assert(s[t].b.arm[0] < 0 && s[t].b.arm[1] < 0 &&
                          fabsf(s[t].a.x - s[t].b.x) < 0.35f * s[t].hb,
                      "Arrest %d t=%d", k, t);
        cr_assert(s[NF - 1].b.hidden && !s[0].b.hidden, "Arrest %d: suspect not taken away", k);
    }
}

Test(data_synth, class_signatures_thefts_crowds_and_normal) {
    SynthConfig c;
    sig_config(&c);
    Snap s[NF];
    for (int k = 0; k < NV; k++) {
        /* Stealing: the bag lies there, is picked up (bending) and carried off at a run */
        snap_video(&c, C_STEALING, k, s);
        int t1 = s[0].t1;
        cr_assert(!s[0].carried && s[NF - 1].carried, "Stealing %d: bag", k);
        cr_assert(s[t1].a.crouch < 0.8f, "Stealing %d: no bending down", k);
        for (int t = t1 + 3; t < NF; t++)
            cr_assert(running(&s[t].a) && fabsf(s[t].a.x - s[t - 1].a.x) > 0.04f,
                      "Stealing %d t=%d: thief not running", k, t);
        /* Shoplifting: loitering at the stall while three items vanish */
        snap_video(&c, C_SHOPLIFTING, k, s);
        cr_assert(s[0].gone == 0 && s[NF - 1].gone == 3, "Shoplifting %d: %d -> %d items gone", k,
                  s[0].gone, s[NF - 1].gone);
        for (int t = s[0].t0 + 1; t <= s[0].t1; t++)
            cr_assert(fabsf(s[t].a.x - s[NF / 2].a.x) < 0.03f && !running(&s[t].a),
                      "Shoplifting %d t=%d: not loitering", k, t);
        /* Shooting and Explosion: the crowd runs; in Shooting one falls */
        snap_video(&c, C_SHOOTING, k, s);
        cr_assert(s[NF - 1].flee && s[NF - 1].fallen == 0 && s[NF - 1].running >= 2,
                  "Shooting %d: flee %d fallen %d running %d", k, s[NF - 1].flee, s[NF - 1].fallen,
                  s[NF - 1].running);
        snap_video(&c, C_EXPLOSION, k, s);
        cr_assert(s[NF - 1].flee && s[NF - 1].running >= 3, "Explosion %d: %d running", k,
                  s[NF - 1].running);
        /* Burglary: the figure at the door slips inside */
        snap_video(&c, C_BURGLARY, k, s);
        cr_assert(!s[0].a.hidden && s[NF - 1].a.hidden, "Burglary %d", k);
        /* NormalVideos: nobody runs, nobody falls, nothing is taken */
        snap_video(&c, C_NORMAL, k, s);
        for (int t = 0; t < NF; t++)
            cr_assert(!s[t].flee && s[t].fallen < 0 && s[t].running == 0 && s[t].gone == 0 &&
                          !s[t].carried,
                      "NormalVideos %d t=%d", k, t);
    }
}

Test(data_synth, people_are_about_a_quarter_of_the_frame_tall) {
    SynthConfig c;
    sig_config(&c);
    Snap s[NF];
    for (int cls = 0; cls < SYNTH_NCLASSES; cls++) {
        snap_video(&c, cls, 0, s);
        float px = s[0].ha * (float)c.size;
        cr_assert(px >= 9.0f && px <= 21.0f, "%s: actor %.1f px tall", synth_class_names[cls], px);
    }
}

Test(data_synth, nuisance_noise_and_motion_present) {
    SynthConfig c;
    small_config(&c);
    Dataset ds;
    cr_assert_eq(synth_generate(&c, &ds), VB_OK);
    for (size_t v = 0; v < ds.nvideos; v++) { /* consecutive frames always differ */
        size_t n = dataset_frame_bytes(&ds);
        cr_assert(memcmp(dataset_frame(&ds, v, 0), dataset_frame(&ds, v, 1), n) != 0);
    }
    dataset_free(&ds);
}

Test(data_synth, config_range_errors_name_the_field) {
    SynthConfig c;
    small_config(&c);
    c.size = 8;
    Dataset ds;
    cr_assert_eq(synth_generate(&c, &ds), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "size 8") != NULL, "%s", vb_errmsg());
    small_config(&c);
    c.videos_per_class = c.test_videos_per_class = 0;
    cr_assert_eq(synth_check(&c), VB_ERR_INPUT);
    small_config(&c);
    c.frames = 0;
    cr_assert_eq(synth_check(&c), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "frames") != NULL);
}

Test(data_synth, dataset_missing_normal_class_lists_classes) {
    SynthConfig c;
    small_config(&c);
    Dataset ds;
    cr_assert_eq(synth_generate(&c, &ds), VB_OK);
    cr_assert_eq(dataset_set_normal(&ds, "Normal"), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "'Normal' not found") && strstr(vb_errmsg(), "Abuse, Arrest"),
              "%s", vb_errmsg());
    dataset_free(&ds);
}
