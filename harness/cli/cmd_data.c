/* cmd_data: `vadbench data synth|inspect|probe|cache` — make, inspect,
 * probe and pre-decode data sets.
 *
 *   synth   generate the synthetic surveillance set and write it in
 *           UCF-Crime's layout (directory, .zip, .tar, .tar.gz, .tar.zst, .7z)
 *   inspect classes, videos and frames per class and split, frame size,
 *           skipped entries, digest; text or JSON (jansson)
 *   probe   shortcut baselines: how far colour, layout and motion features
 *           get with a ridge classifier and a distance from normal (probe.h)
 *   cache   decode a UCF-Crime directory/archive into its frame cache, with a
 *           progress line on a terminal
 *
 * Exit status: 0 ok, 2 bad usage or input. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "datasets/fmnist.h"
#include "datasets/synth.h"
#include "datasets/ucf.h"
#include "harness/cli/cli.h"
#include "harness/run/run.h"
#include "kernels/clock.h"

int cmd_data(int argc, char **argv);

static const CliCommand c_data = {
    "data", "make, inspect and pre-decode data sets",
    "data synth|inspect|probe|cache [options]   (`vadbench data SUBCOMMAND --help` for one)", NULL};
static const CliCommand c_synth = {
    "data synth", "write the synthetic data set",
    "data synth --out PATH [--videos N] [--test-videos N] [--normal-factor K] [--frames F]\n"
    "        [--size S] [--seed S] [--top NAME]\n\n"
    "Generates the synthetic surveillance videos (14 UCF-Crime classes; N Train and N Test\n"
    "videos per anomaly class, K times as many NormalVideos; defaults 8, 4, 4, 16 frames,\n"
    "64 px, seed 0) and writes them as Train/<Class>/<Video>_x264_<frame>.png under an\n"
    "optional top folder. PATH's ending picks the container: .zip, .tar, .tar.gz/.tgz,\n"
    ".tar.zst/.tzst, .7z; anything else is a new (or empty) directory.",
    NULL};
static const CliCommand c_inspect = {
    "data inspect", "describe a data set",
    "data inspect [PATH] [--source ucf|fmnist|synthetic] [--format text|json] [--skip-bad]\n"
    "        [--normal NAME] [--cache-dir DIR] [--no-cache] [--size S]\n"
    "        [--videos N] [--test-videos N] [--normal-factor K] [--frames F] [--seed S]\n\n"
    "Prints the classes (normal class marked), videos and frames per class and split, the\n"
    "frame size, skipped entries and the content digest. ucf (default) reads a UCF-Crime\n"
    "directory or archive (through the frame cache unless --no-cache); fmnist reads\n"
    "Fashion-MNIST from PATH (default " FMNIST_DEFAULT_DIR ", resized to --size, default 64);\n"
    "synthetic generates the set described by the synth options.",
    NULL};
static const CliCommand c_probe = {
    "data probe", "shortcut baselines: what simple features already reveal",
    "data probe [PATH] [--source ucf|fmnist|synthetic] [--format text|json] [--alpha A]\n"
    "        [--holdout CLASS,CLASS,...]\n"
    "        [--skip-bad] [--normal NAME] [--cache-dir DIR] [--no-cache] [--size S]\n"
    "        [--videos N] [--test-videos N] [--normal-factor K] [--frames F] [--seed S]\n\n"
    "Turns every video into simple features (colour statistics, the mean frame's 8x8\n"
    "layout, the 8x8 map of frame-to-frame change, all three), fits a ridge classifier\n"
    "(alpha A, default 1) on the Train videos and scores the Test videos: accuracy,\n"
    "balanced accuracy and recall per class; and the AUROC of each anomaly class against\n"
    "normal for the distance from the Train normal videos. A model should beat these;\n"
    "a class the colour probe already finds is a shortcut. --holdout keeps anomaly classes\n"
    "out of the fit, as an experiment's holdout does: they are scored by the distance only\n"
    "(AUROC unseen). Data options as for inspect.",
    NULL};
static const CliCommand c_cache = {
    "data cache", "decode a UCF-Crime set into its frame cache",
    "data cache PATH [--skip-bad] [--normal NAME] [--cache-dir DIR]\n\n"
    "Decodes every frame of PATH once into a memory-mappable cache file (default directory\n"
    "$VADBENCH_CACHE_DIR, else $XDG_CACHE_HOME/vadbench, else ~/.cache/vadbench), keyed by\n"
    "PATH's size, modification time and member list; later reads map it instead of decoding.",
    NULL};

typedef struct DataOpts {
    const char *out, *top, *source, *format, *normal, *cache_dir, *holdout;
    int videos, test_videos, normal_factor, frames, size, seed;
    double alpha;
    bool skip_bad, no_cache;
} DataOpts;

static VbStatus synth_from(const DataOpts *o, SynthConfig *c) {
    synth_defaults(c);
    if (o->videos >= 0) c->videos_per_class = o->videos;
    if (o->test_videos >= 0) c->test_videos_per_class = o->test_videos;
    if (o->normal_factor >= 0) c->normal_factor = o->normal_factor;
    if (o->frames >= 0) c->frames = o->frames;
    if (o->size >= 0) c->size = o->size;
    if (o->seed < 0) return VB_FAIL(VB_ERR_USAGE, "--seed must be >= 0");
    c->seed = (uint64_t)o->seed;
    return synth_check(c);
}

/* ---- progress line ---- */

typedef struct Progress {
    double t0, last;
    bool tty;
} Progress;

static void progress(void *ctx, uint64_t done, uint64_t total) {
    Progress *p = ctx;
    double t = vb_now_s();
    if (!p->tty || (t - p->last < 0.2 && done < total)) return;
    p->last = t;
    double rate = (double)done / (t - p->t0 + 1e-9);
    fprintf(stderr, "\rdecoding %llu/%llu frames (%.1f%%), %.0f frames/s, ETA %.0f s   ",
            (unsigned long long)done, (unsigned long long)total,
            100.0 * (double)done / (double)total, rate,
            rate > 0 ? (double)(total - done) / rate : 0.0);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
}

static void ucf_options(const DataOpts *o, UcfOptions *u, Progress *pr) {
    ucf_defaults(u);
    u->normal = o->normal;
    u->skip_bad = o->skip_bad;
    u->no_cache = o->no_cache;
    u->cache_dir = o->cache_dir;
    pr->t0 = pr->last = vb_now_s();
    pr->tty = isatty(2);
    u->progress = progress;
    u->progress_ctx = pr;
}

/* ---- inspect output ---- */

static json_t *describe(const Dataset *ds, const char *kind, const UcfReport *rep) {
    json_t *root = json_object(), *classes = json_array();
    uint64_t v[2][DS_MAX_CLASSES], f[2][DS_MAX_CLASSES], tv[2] = {0, 0}, tf[2] = {0, 0};
    for (int s = 0; s < 2; s++) dataset_counts(ds, (DsSplit)s, v[s], f[s]);
    for (int c = 0; c < ds->nclasses; c++) {
        json_t *jc = json_object();
        json_object_set_new(jc, "name", json_string(ds->classes[c]));
        json_object_set_new(jc, "normal", json_boolean(c == ds->normal));
        for (int s = 0; s < 2; s++) {
            json_object_set_new(jc, s ? "test" : "train",
                                json_pack("{s:I,s:I}", "videos", (json_int_t)v[s][c], "frames",
                                          (json_int_t)f[s][c]));
            tv[s] += v[s][c], tf[s] += f[s][c];
        }
        json_array_append_new(classes, jc);
    }
    json_object_set_new(root, "source", json_string(ds->source ? ds->source : ""));
    json_object_set_new(root, "kind", json_string(kind));
    json_object_set_new(root, "frame_size",
                        json_pack("[i,i,i]", ds->frames.h, ds->frames.w, ds->frames.c));
    json_object_set_new(root, "normal", json_string(ds->classes[ds->normal]));
    json_object_set_new(root, "classes", classes);
    json_object_set_new(root, "totals",
                        json_pack("{s:{s:I,s:I},s:{s:I,s:I}}", "train", "videos", (json_int_t)tv[0],
                                  "frames", (json_int_t)tf[0], "test", "videos", (json_int_t)tv[1],
                                  "frames", (json_int_t)tf[1]));
    json_object_set_new(root, "skipped", json_integer((json_int_t)ds->skipped));
    json_object_set_new(root, "digest", json_string(ds->digest));
    if (rep && rep->cache_file[0])
        json_object_set_new(root, "cache",
                            json_pack("{s:s,s:b,s:I}", "file", rep->cache_file, "hit",
                                      rep->cache_hit, "bytes", (json_int_t)rep->cache_bytes));
    if (rep && rep->warning[0]) json_object_set_new(root, "warning", json_string(rep->warning));
    return root;
}

static void print_text(json_t *d) {
    json_t *fs = json_object_get(d, "frame_size"), *cache = json_object_get(d, "cache");
    printf("source:   %s (%s)\n", json_string_value(json_object_get(d, "source")),
           json_string_value(json_object_get(d, "kind")));
    printf("frames:   %lldx%lld RGB\n", (long long)json_integer_value(json_array_get(fs, 1)),
           (long long)json_integer_value(json_array_get(fs, 0)));
    printf("classes:  %zu (normal: %s)\n", json_array_size(json_object_get(d, "classes")),
           json_string_value(json_object_get(d, "normal")));
    printf("skipped:  %lld entries\n",
           (long long)json_integer_value(json_object_get(d, "skipped")));
    printf("digest:   %s\n", json_string_value(json_object_get(d, "digest")));
    if (cache)
        printf("cache:    %s (%s, %.1f MiB)\n", json_string_value(json_object_get(cache, "file")),
               json_is_true(json_object_get(cache, "hit")) ? "reused" : "built",
               (double)json_integer_value(json_object_get(cache, "bytes")) / 1048576.0);
    if (json_object_get(d, "warning"))
        printf("warning:  %s\n", json_string_value(json_object_get(d, "warning")));
    printf("\n%-16s %12s %12s %12s %12s   (* normal)\n", "class", "train videos", "train frames",
           "test videos", "test frames");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(d, "classes"), i, c) {
        json_t *tr = json_object_get(c, "train"), *te = json_object_get(c, "test");
        char name[300];
        snprintf(name, sizeof name, "%s%s", json_string_value(json_object_get(c, "name")),
                 json_is_true(json_object_get(c, "normal")) ? " *" : "");
        printf("%-16s %12lld %12lld %12lld %12lld\n", name,
               (long long)json_integer_value(json_object_get(tr, "videos")),
               (long long)json_integer_value(json_object_get(tr, "frames")),
               (long long)json_integer_value(json_object_get(te, "videos")),
               (long long)json_integer_value(json_object_get(te, "frames")));
    }
    json_t *t = json_object_get(d, "totals"), *tr = json_object_get(t, "train"),
           *te = json_object_get(t, "test");
    printf("%-16s %12lld %12lld %12lld %12lld\n", "total",
           (long long)json_integer_value(json_object_get(tr, "videos")),
           (long long)json_integer_value(json_object_get(tr, "frames")),
           (long long)json_integer_value(json_object_get(te, "videos")),
           (long long)json_integer_value(json_object_get(te, "frames")));
}

/* ---- subcommands ---- */

static int run_synth(const DataOpts *o) {
    if (!o->out) return cli_usage_error(&c_synth, "--out PATH is required");
    SynthConfig c;
    VbStatus s = synth_from(o, &c);
    if (s != VB_OK)
        return s == VB_ERR_USAGE ? cli_usage_error(&c_synth, vb_errmsg())
                                 : cli_fail("data synth", s);
    double t0 = vb_now_s();
    Dataset ds;
    s = synth_generate(&c, &ds);
    if (s != VB_OK) return cli_fail("data synth", s);
    double t1 = vb_now_s();
    s = ucf_write(&ds, o->out, o->top);
    if (s == VB_OK)
        fprintf(stderr,
                "vadbench data synth: %zu videos, %llu frames of %dx%d to %s (generate %.2f "
                "s, write %.2f s), digest %s\n",
                ds.nvideos, (unsigned long long)ds.frames.nframes, c.size, c.size, o->out, t1 - t0,
                vb_now_s() - t1, ds.digest);
    dataset_free(&ds);
    return s == VB_OK ? 0 : cli_fail("data synth", s);
}

/* Load the data set named by --source and PATH (shared by inspect and
 * probe); 0 with *kind set, or the exit status after reporting. */
static int load_data(const CliCommand *cmd, const DataOpts *o, const char *path, Dataset *ds,
                     UcfReport *rep, const char **kind) {
    const char *src = o->source ? o->source : "ucf";
    VbStatus s;
    memset(rep, 0, sizeof *rep);
    if (strcmp(src, "ucf") == 0) {
        if (!path)
            return cli_usage_error(cmd, "a PATH to a UCF-Crime directory or archive is required");
        UcfOptions u;
        Progress pr;
        ucf_options(o, &u, &pr);
        *kind = "ucf";
        s = ucf_read(path, &u, ds, rep);
    } else if (strcmp(src, "fmnist") == 0) {
        FmnistOptions f;
        fmnist_defaults(&f);
        f.dir = path;
        if (o->size >= 0) f.size = o->size;
        if (o->normal) f.normal = o->normal;
        *kind = "fashion-mnist";
        s = fmnist_read(&f, ds);
    } else if (strcmp(src, "synthetic") == 0) {
        if (path) return cli_usage_error(cmd, "--source synthetic takes no PATH");
        SynthConfig c;
        *kind = "synthetic";
        s = synth_from(o, &c);
        if (s == VB_OK) s = synth_generate(&c, ds);
    } else {
        return cli_usage_error(cmd, "--source must be ucf, fmnist or synthetic");
    }
    return s == VB_OK ? 0 : cli_fail(cmd->name, s);
}

static int json_format(const CliCommand *cmd, const DataOpts *o, bool *json) {
    *json = o->format && strcmp(o->format, "json") == 0;
    if (o->format && !*json && strcmp(o->format, "text") != 0)
        return cli_usage_error(cmd, "--format must be text or json");
    return 0;
}

static int run_inspect(const DataOpts *o, const char *path) {
    bool json;
    int rc = json_format(&c_inspect, o, &json);
    Dataset ds;
    UcfReport rep;
    const char *kind = NULL;
    if (rc || (rc = load_data(&c_inspect, o, path, &ds, &rep, &kind))) return rc;
    json_t *d = describe(&ds, kind, strcmp(kind, "ucf") == 0 ? &rep : NULL);
    if (json) {
        json_dumpf(d, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else {
        print_text(d);
    }
    json_decref(d);
    dataset_free(&ds);
    return 0;
}

/* ---- probe output ---- */

static json_t *jnum_or_null(double x) { return isnan(x) ? json_null() : json_real(x); }

static json_t *probe_json(const Dataset *ds, const char *kind, const ProbeResult *r,
                          const bool *unseen, double alpha) {
    json_t *root = json_object(), *sets = json_object();
    json_object_set_new(root, "source", json_string(ds->source ? ds->source : ""));
    json_object_set_new(root, "kind", json_string(kind));
    json_object_set_new(root, "digest", json_string(ds->digest));
    json_object_set_new(root, "alpha", json_real(alpha));
    json_object_set_new(root, "train_videos", json_integer((json_int_t)r->train_videos));
    json_object_set_new(root, "test_videos", json_integer((json_int_t)r->test_videos));
    bool classify = r->test_classes >= 2;
    json_object_set_new(root, "chance_balanced_accuracy",
                        classify ? json_real(1.0 / r->test_classes) : json_null());
    json_object_set_new(root, "majority_accuracy",
                        classify ? json_real(r->majority_accuracy) : json_null());
    json_object_set_new(root, "normal", json_string(ds->classes[ds->normal]));
    json_t *held = json_array();
    for (int c = 0; c < r->nclasses; c++)
        if (unseen[c]) json_array_append_new(held, json_string(ds->classes[c]));
    json_object_set_new(root, "holdout", held);
    for (int s = 0; s < PROBE_NSETS; s++) {
        const ProbeSet *p = &r->set[s];
        json_t *js = json_object();
        if (!p->defined) {
            json_object_set_new(js, "undefined", json_string(p->reason ? p->reason : ""));
            json_object_set_new(sets, probe_set_names[s], js);
            continue;
        }
        json_t *rec = json_object(), *auc = json_object();
        for (int c = 0; c < r->nclasses; c++) {
            json_object_set_new(rec, ds->classes[c], jnum_or_null(p->recall[c]));
            if (c != ds->normal)
                json_object_set_new(auc, ds->classes[c], jnum_or_null(p->auroc[c]));
        }
        json_object_set_new(js, "dims", json_integer(p->dims));
        json_object_set_new(js, "accuracy", jnum_or_null(p->accuracy));
        json_object_set_new(js, "balanced_accuracy", jnum_or_null(p->balanced_accuracy));
        json_object_set_new(js, "recall", rec);
        json_object_set_new(js, "auroc_vs_normal", jnum_or_null(p->auroc_all));
        json_object_set_new(js, "auroc_vs_normal_seen", jnum_or_null(p->auroc_seen));
        json_object_set_new(js, "auroc_vs_normal_unseen", jnum_or_null(p->auroc_unseen));
        json_object_set_new(js, "auroc_vs_normal_by_class", auc);
        json_object_set_new(sets, probe_set_names[s], js);
    }
    json_object_set_new(root, "probes", sets);
    return root;
}

/* One 15-character column: a value (or "-") and an optional AUROC. */
static void print_cell(double x, double auc) {
    if (isnan(x)) printf(" %7s", "-");
    else printf(" %7.3f", x);
    if (isnan(auc)) printf("       ");
    else printf(" (%.2f)", auc);
}

static void probe_text(const Dataset *ds, const char *kind, const ProbeResult *r,
                       const bool *unseen, double alpha) {
    printf("source:   %s (%s)\n", ds->source ? ds->source : "", kind);
    bool any = false;
    for (int c = 0; c < r->nclasses; c++)
        if (unseen[c]) printf("%s%s", any ? ", " : "holdout:  ", ds->classes[c]), any = true;
    if (any) printf(" (not fitted; scored by the distance from normal only)\n");
    printf("videos:   %zu Train (fit), %zu Test (scored); one sample per video\n", r->train_videos,
           r->test_videos);
    if (r->test_classes >= 2)
        printf("chance:   balanced accuracy %.3f (%d Test classes); majority-class accuracy %.3f\n",
               1.0 / r->test_classes, r->test_classes, r->majority_accuracy);
    else printf("chance:   one seen class: nothing to classify, the distance probe only\n");
    printf("probes:   ridge classifier (alpha %g) on standardised features; AUROC of the mean\n"
           "          squared z-score against the Train %s videos (no anomaly seen)\n\n",
           alpha, ds->classes[ds->normal]);
    printf("%-16s", "features");
    for (int s = 0; s < PROBE_NSETS; s++) printf(" %7s       ", probe_set_names[s]);
    printf("\n%-16s", "dims");
    for (int s = 0; s < PROBE_NSETS; s++)
        r->set[s].defined ? printf(" %7d       ", r->set[s].dims) : printf(" %7s       ", "-");
    static const char *const rows[4] = {"accuracy", "balanced acc.", "AUROC vs normal",
                                        "AUROC unseen"};
    for (int k = 0; k < (any ? 4 : 3); k++) {
        printf("\n%-16s", rows[k]);
        for (int s = 0; s < PROBE_NSETS; s++) {
            const ProbeSet *p = &r->set[s];
            double x = k == 0   ? p->accuracy
                       : k == 1 ? p->balanced_accuracy
                       : k == 2 ? p->auroc_all
                                : p->auroc_unseen;
            print_cell(p->defined ? x : NAN, NAN);
        }
    }
    printf("\n\nrecall per class (AUROC vs normal in brackets)\n");
    for (int c = 0; c < r->nclasses; c++) {
        printf("%-16s", ds->classes[c]);
        for (int s = 0; s < PROBE_NSETS; s++) {
            const ProbeSet *p = &r->set[s];
            print_cell(p->defined ? p->recall[c] : NAN,
                       p->defined && c != ds->normal ? p->auroc[c] : NAN);
        }
        printf("%s\n", c == ds->normal ? " (normal)" : unseen[c] ? " (held out)" : "");
    }
    for (int s = 0; s < PROBE_NSETS; s++)
        if (!r->set[s].defined && r->set[s].reason)
            printf("%s: undefined (%s)\n", probe_set_names[s], r->set[s].reason);
}

static int run_probe(const DataOpts *o, const char *path) {
    bool json;
    int rc = json_format(&c_probe, o, &json);
    if (rc) return rc;
    if (!(o->alpha > 0)) return cli_usage_error(&c_probe, "--alpha must be > 0");
    Dataset ds;
    UcfReport rep;
    const char *kind = NULL;
    if ((rc = load_data(&c_probe, o, path, &ds, &rep, &kind))) return rc;
    uint32_t *fit = NULL, *score = NULL;
    /* --holdout: anomaly classes kept out of the fit */
    bool unseen[DS_MAX_CLASSES] = {false};
    char *list = vb_xstrdup(o->holdout ? o->holdout : ""), *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') t++;
        int c = dataset_find_class(&ds, t);
        if (c < 0 || c == ds.normal) {
            char msg[300];
            snprintf(msg, sizeof msg, "--holdout: '%s' is not an anomaly class of %s", t,
                     ds.source ? ds.source : "the data set");
            rc = cli_usage_error(&c_probe, msg);
            goto out;
        }
        unseen[c] = true;
    }
    size_t nv = ds.nvideos, nf = 0, ns = 0;
    fit = vb_xmalloc((nv ? nv : 1) * sizeof *fit);
    score = vb_xmalloc((nv ? nv : 1) * sizeof *score);
    for (size_t v = 0; v < nv; v++) {
        if (ds.videos[v].split == DS_TEST) score[ns++] = (uint32_t)v;
        else if (!unseen[ds.videos[v].cls]) fit[nf++] = (uint32_t)v;
    }
    ProbeSelect sel = {fit, nf, score, ns, unseen};
    ProbeResult r;
    VbStatus s = probe_run_select(&ds, &sel, o->alpha, &r);
    if (s != VB_OK) {
        rc = cli_fail("data probe", s);
        goto out;
    }
    if (json) {
        json_t *d = probe_json(&ds, kind, &r, unseen, o->alpha);
        json_dumpf(d, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
        json_decref(d);
    } else {
        probe_text(&ds, kind, &r, unseen, o->alpha);
    }
    probe_free(&r);
out:
    free(list), free(fit), free(score);
    dataset_free(&ds);
    return rc;
}

static int run_cache(const DataOpts *o, const char *path) {
    if (!path)
        return cli_usage_error(&c_cache, "a PATH to a UCF-Crime directory or archive is required");
    if (o->no_cache) return cli_usage_error(&c_cache, "--no-cache makes no sense here");
    UcfOptions u;
    Progress pr;
    ucf_options(o, &u, &pr);
    Dataset ds;
    UcfReport rep;
    VbStatus s = ucf_read(path, &u, &ds, &rep);
    if (s != VB_OK) return cli_fail("data cache", s);
    uint64_t n = ds.frames.nframes;
    printf("%s %s: %llu frames of %dx%d, %zu videos, %llu skipped, %.3f GiB, %.2f s (%.0f "
           "frames/s)\n",
           rep.cache_hit ? "reused" : "built", rep.cache_file, (unsigned long long)n, ds.frames.w,
           ds.frames.h, ds.nvideos, (unsigned long long)ds.skipped,
           (double)rep.cache_bytes / 1073741824.0, rep.seconds, (double)n / (rep.seconds + 1e-9));
    if (rep.warning[0]) printf("warning: %s\n", rep.warning);
    dataset_free(&ds);
    return 0;
}

int cmd_data(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            printf("usage: vadbench %s\n\n  synth    %s\n  inspect  %s\n  probe    %s\n"
                   "  cache    %s\n",
                   c_data.usage, c_synth.summary, c_inspect.summary, c_probe.summary,
                   c_cache.summary);
            return 0;
        }
        return cli_usage_error(&c_data, "a subcommand is required: synth, inspect, probe or cache");
    }
    const char *sub = argv[1];
    const CliCommand *cmd = strcmp(sub, "synth") == 0     ? &c_synth
                            : strcmp(sub, "inspect") == 0 ? &c_inspect
                            : strcmp(sub, "probe") == 0   ? &c_probe
                            : strcmp(sub, "cache") == 0   ? &c_cache
                                                          : NULL;
    if (!cmd) {
        char msg[160];
        snprintf(msg, sizeof msg, "unknown subcommand '%s' (synth, inspect, probe or cache)", sub);
        return cli_usage_error(&c_data, msg);
    }
    DataOpts o = {.videos = -1,
                  .test_videos = -1,
                  .normal_factor = -1,
                  .frames = -1,
                  .size = -1,
                  .alpha = 1.0};
    CliOpt synth_opts[] = {{"out", CLI_STR, &o.out},
                           {"top", CLI_STR, &o.top},
                           {"videos", CLI_INT, &o.videos},
                           {"test-videos", CLI_INT, &o.test_videos},
                           {"normal-factor", CLI_INT, &o.normal_factor},
                           {"frames", CLI_INT, &o.frames},
                           {"size", CLI_INT, &o.size},
                           {"seed", CLI_INT, &o.seed},
                           {NULL, 0, NULL}};
    CliOpt inspect_opts[] = {{"source", CLI_STR, &o.source},
                             {"format", CLI_STR, &o.format},
                             {"skip-bad", CLI_FLAG, &o.skip_bad},
                             {"normal", CLI_STR, &o.normal},
                             {"cache-dir", CLI_STR, &o.cache_dir},
                             {"no-cache", CLI_FLAG, &o.no_cache},
                             {"size", CLI_INT, &o.size},
                             {"videos", CLI_INT, &o.videos},
                             {"test-videos", CLI_INT, &o.test_videos},
                             {"normal-factor", CLI_INT, &o.normal_factor},
                             {"frames", CLI_INT, &o.frames},
                             {"seed", CLI_INT, &o.seed},
                             {NULL, 0, NULL},
                             {NULL, 0, NULL},
                             {NULL, 0, NULL}};
    CliOpt cache_opts[] = {{"skip-bad", CLI_FLAG, &o.skip_bad},
                           {"normal", CLI_STR, &o.normal},
                           {"cache-dir", CLI_STR, &o.cache_dir},
                           {NULL, 0, NULL}};
    /* probe takes inspect's options, --alpha and --holdout (the spare slots) */
    if (cmd == &c_probe) {
        CliOpt *end = inspect_opts;
        while (end->name) end++;
        end[0] = (CliOpt){"alpha", CLI_DOUBLE, &o.alpha};
        end[1] = (CliOpt){"holdout", CLI_STR, &o.holdout};
    }
    const CliOpt *opts = cmd == &c_synth                        ? synth_opts
                         : cmd == &c_inspect || cmd == &c_probe ? inspect_opts
                                                                : cache_opts;
    char *pos[1] = {NULL};
    int npos;
    bool help;
    VbStatus s =
        cli_parse(cmd, argc - 1, argv + 1, opts, pos, cmd == &c_synth ? 0 : 1, &npos, &help);
    if (s != VB_OK) return cli_usage_error(cmd, vb_errmsg());
    if (help) return 0;
    if (cmd == &c_synth) return run_synth(&o);
    if (cmd == &c_inspect) return run_inspect(&o, npos ? pos[0] : NULL);
    if (cmd == &c_probe) return run_probe(&o, npos ? pos[0] : NULL);
    return run_cache(&o, npos ? pos[0] : NULL);
}
