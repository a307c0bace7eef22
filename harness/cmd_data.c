/* cmd_data: `vadbench data synth|inspect|cache` — make, inspect and
 * pre-decode data sets.
 *
 *   synth   generate the synthetic surveillance set and write it in
 *           UCF-Crime's layout (directory, .zip, .tar, .tar.gz, .tar.zst, .7z)
 *   inspect classes, videos and frames per class and split, frame size,
 *           skipped entries, digest; text or JSON (jansson)
 *   cache   decode a UCF-Crime directory/archive into its frame cache, with a
 *           progress line on a terminal
 *
 * Exit status: 0 ok, 2 bad usage or input. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "datasets/fmnist.h"
#include "datasets/synth.h"
#include "datasets/ucf.h"
#include "harness/cli.h"

int cmd_data(int argc, char **argv);

static const CliCommand c_data = {
    "data", "make, inspect and pre-decode data sets",
    "data synth|inspect|cache [options]   (`vadbench data SUBCOMMAND --help` for one)", NULL};
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
static const CliCommand c_cache = {
    "data cache", "decode a UCF-Crime set into its frame cache",
    "data cache PATH [--skip-bad] [--normal NAME] [--cache-dir DIR]\n\n"
    "Decodes every frame of PATH once into a memory-mappable cache file (default directory\n"
    "$VADBENCH_CACHE_DIR, else $XDG_CACHE_HOME/vadbench, else ~/.cache/vadbench), keyed by\n"
    "PATH's size, modification time and member list; later reads map it instead of decoding.",
    NULL};

typedef struct DataOpts {
    const char *out, *top, *source, *format, *normal, *cache_dir;
    int videos, test_videos, normal_factor, frames, size, seed;
    bool skip_bad, no_cache;
} DataOpts;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

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
    double t = now_s();
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
    pr->t0 = pr->last = now_s();
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
    json_object_set_new(root, "frame_size", json_pack("[i,i,i]", ds->frames.h, ds->frames.w, 3));
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
    double t0 = now_s();
    Dataset ds;
    s = synth_generate(&c, &ds);
    if (s != VB_OK) return cli_fail("data synth", s);
    double t1 = now_s();
    s = ucf_write(&ds, o->out, o->top);
    if (s == VB_OK)
        fprintf(stderr,
                "vadbench data synth: %zu videos, %llu frames of %dx%d to %s (generate %.2f "
                "s, write %.2f s), digest %s\n",
                ds.nvideos, (unsigned long long)ds.frames.nframes, c.size, c.size, o->out, t1 - t0,
                now_s() - t1, ds.digest);
    dataset_free(&ds);
    return s == VB_OK ? 0 : cli_fail("data synth", s);
}

static int run_inspect(const DataOpts *o, const char *path) {
    const char *src = o->source ? o->source : "ucf";
    bool json = false;
    if (o->format && strcmp(o->format, "json") == 0)
        json = true;
    else if (o->format && strcmp(o->format, "text") != 0)
        return cli_usage_error(&c_inspect, "--format must be text or json");
    Dataset ds;
    UcfReport rep;
    memset(&rep, 0, sizeof rep);
    VbStatus s;
    const char *kind;
    if (strcmp(src, "ucf") == 0) {
        if (!path)
            return cli_usage_error(&c_inspect,
                                   "a PATH to a UCF-Crime directory or archive is required");
        UcfOptions u;
        Progress pr;
        ucf_options(o, &u, &pr);
        kind = "ucf";
        s = ucf_read(path, &u, &ds, &rep);
    } else if (strcmp(src, "fmnist") == 0) {
        FmnistOptions f;
        fmnist_defaults(&f);
        f.dir = path;
        if (o->size >= 0) f.size = o->size;
        if (o->normal) f.normal = o->normal;
        kind = "fashion-mnist";
        s = fmnist_read(&f, &ds);
    } else if (strcmp(src, "synthetic") == 0) {
        if (path) return cli_usage_error(&c_inspect, "--source synthetic takes no PATH");
        SynthConfig c;
        kind = "synthetic";
        s = synth_from(o, &c);
        if (s == VB_OK) s = synth_generate(&c, &ds);
    } else {
        return cli_usage_error(&c_inspect, "--source must be ucf, fmnist or synthetic");
    }
    if (s != VB_OK) return cli_fail("data inspect", s);
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
            printf("usage: vadbench %s\n\n  synth    %s\n  inspect  %s\n  cache    %s\n",
                   c_data.usage, c_synth.summary, c_inspect.summary, c_cache.summary);
            return 0;
        }
        return cli_usage_error(&c_data, "a subcommand is required: synth, inspect or cache");
    }
    const char *sub = argv[1];
    const CliCommand *cmd = strcmp(sub, "synth") == 0     ? &c_synth
                            : strcmp(sub, "inspect") == 0 ? &c_inspect
                            : strcmp(sub, "cache") == 0   ? &c_cache
                                                          : NULL;
    if (!cmd) {
        char msg[160];
        snprintf(msg, sizeof msg, "unknown subcommand '%s' (synth, inspect or cache)", sub);
        return cli_usage_error(&c_data, msg);
    }
    DataOpts o = {.videos = -1, .test_videos = -1, .normal_factor = -1, .frames = -1, .size = -1};
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
                             {NULL, 0, NULL}};
    CliOpt cache_opts[] = {{"skip-bad", CLI_FLAG, &o.skip_bad},
                           {"normal", CLI_STR, &o.normal},
                           {"cache-dir", CLI_STR, &o.cache_dir},
                           {NULL, 0, NULL}};
    const CliOpt *opts = cmd == &c_synth     ? synth_opts
                         : cmd == &c_inspect ? inspect_opts
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
    return run_cache(&o, npos ? pos[0] : NULL);
}
