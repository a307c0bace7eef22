/* The CUDA backend's host side, on the CPU (these run everywhere, with or
 * without nvcc or a GPU):
 *  - reduction tiling (kernels/cuda/cu_plan.c): tiles cover every row once,
 *    the partials fit the scratch, the grid stays within CUDA's limits, the
 *    tile size depends on the shape only and grows only when it must;
 *  - convolution workspaces: offsets of both paths do not overlap and fit
 *    the total, and a smaller batch never needs more than a larger one (the
 *    model sizes the workspace once, for its largest batch);
 *  - RNN workspaces equal the CPU backend's (the model sizes them through
 *    whichever backend it runs on, and the layouts are shared);
 *  - the completeness check refuses a table with any op missing, naming it;
 *  - asking for `cuda` where it cannot run (no device or driver, or not
 *    compiled in) exits 2 with one line and records nothing, through the
 *    real binary. Where a GPU is usable the last test is skipped;
 *  - cuBLAS, loaded at backend start (kernels/cuda/cu_blas.h), resolves
 *    every entry point the backend calls in the installed library. */
#include "testutil.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include "kernels/cuda/cu_plan.h"

Test(cuda_plan, reduction_tiles_cover_rows_and_fit) {
    const size_t rows[] = {0, 1, 255, 256, 257, 4096, 401408, 1605632, 20000000};
    const int cols[] = {1, 3, 32, 96, 1280, 4000};
    const int segs[] = {1, 2, 32, 300};
    for (size_t a = 0; a < sizeof rows / sizeof *rows; a++)
        for (size_t b = 0; b < sizeof cols / sizeof *cols; b++)
            for (size_t c = 0; c < sizeof segs / sizeof *segs; c++)
                for (int nacc = 1; nacc <= 2; nacc++) {
                    size_t cap = CU_RED_CAP - ((size_t)1 << 20);
                    CuRedPlan p, q;
                    bool ok = cu_red_plan(rows[a], cols[b], segs[c], nacc, cap, &p);
                    size_t need = (size_t)segs[c] * cols[b] * nacc;
                    if (need > cap) {
                        cr_assert(!ok, "%zu doubles per tile cannot fit %zu", need, cap);
                        continue;
                    }
                    cr_assert(ok, "rows %zu cols %d segs %d", rows[a], cols[b], segs[c]);
                    size_t r = rows[a] ? rows[a] : 1;
                    cr_assert_geq((size_t)p.tile_rows * p.ntiles, r);
                    cr_assert_lt((size_t)p.tile_rows * (p.ntiles - 1), r, "an empty tile");
                    cr_assert_eq(p.tile_rows % CU_RED_TILE, 0);
                    cr_assert_leq(p.ntiles, CU_MAX_GRID_YZ);
                    cr_assert_leq(p.partials, cap);
                    cr_assert_eq(p.partials, (size_t)p.ntiles * need);
                    /* the smallest tile unless that would overflow the scratch */
                    if ((r + CU_RED_TILE - 1) / CU_RED_TILE * need <= cap &&
                        (r + CU_RED_TILE - 1) / CU_RED_TILE <= CU_MAX_GRID_YZ)
                        cr_assert_eq(p.tile_rows, CU_RED_TILE);
                    /* a pure function of the shape */
                    cr_assert(cu_red_plan(rows[a], cols[b], segs[c], nacc, cap, &q));
                    cr_assert(p.tile_rows == q.tile_rows && p.ntiles == q.ntiles);
                }
    CuRedPlan p;
    cr_assert(!cu_red_plan(10, 0, 1, 1, 100, &p), "no columns");
    cr_assert(!cu_red_plan(10, 1, CU_MAX_GRID_YZ + 1, 1, (size_t)1 << 30, &p), "too many segments");
}

Test(cuda_plan, launch_geometry) {
    cr_assert_eq(cu_blocks(0, 256), 1);
    cr_assert_eq(cu_blocks(1, 256), 1);
    cr_assert_eq(cu_blocks(256, 256), 1);
    cr_assert_eq(cu_blocks(257, 256), 2);
    cr_assert_eq(cu_blocks((size_t)1 << 40, 256), CU_MAX_BLOCKS);
    cr_assert_eq(cu_sum_blocks(0), 1);
    cr_assert_eq(cu_sum_blocks(CU_SUM_CHUNK), 1);
    cr_assert_eq(cu_sum_blocks(CU_SUM_CHUNK + 1), 2);
    cr_assert_eq(cu_stage_capacity(1), (size_t)1 << 20);
    cr_assert_eq(cu_stage_capacity(((size_t)1 << 20) + 1), (size_t)2 << 20);
}

/* Regions [off, off + len) of one layout, checked pairwise and against the total. */
typedef struct Region {
    size_t off, len;
} Region;

static void no_overlap(const Region *r, int n, size_t total, const char *what) {
    for (int i = 0; i < n; i++) {
        cr_assert_leq(r[i].off + r[i].len, total, "%s: region %d ends past the total", what, i);
        cr_assert_eq(r[i].off % 64, 0, "%s: region %d is not 256-byte aligned", what, i);
        for (int j = i + 1; j < n; j++)
            cr_assert(r[i].off + r[i].len <= r[j].off || r[j].off + r[j].len <= r[i].off ||
                          !r[i].len || !r[j].len,
                      "%s: regions %d and %d overlap", what, i, j);
    }
}

static void check_ws(const KConv *c, bool transposed) {
    for (int bf16 = 0; bf16 <= 1; bf16++) {
        CuConvGeo g = transposed ? cu_convt_geo(c) : cu_conv_geo(c);
        CuConvWs w = cu_conv_ws(&g, bf16);
        size_t kk = (size_t)g.kh * g.kw, wlen = (size_t)g.Cout * kk * (g.Cin / g.groups);
        size_t big = (size_t)g.n * g.H * g.W * g.Cin, small = (size_t)g.n * g.Hs * g.Ws * g.Cout;
        size_t col = (size_t)g.n * g.Hs * g.Ws * g.Cin * kk;
        Region fb[3] = {{w.wr, wlen}, {w.col, col}, {w.dwr, wlen}};
        no_overlap(fb, 3, w.total, "im2col path");
        Region dn[7] = {{w.wt, wlen},
                        {w.dwt, wlen},
                        {w.xb, bf16 ? (big + 1) / 2 : 0},
                        {w.yb, bf16 ? (small + 1) / 2 : 0},
                        {w.wb, bf16 ? (wlen + 1) / 2 : 0},
                        {w.dwb, bf16 ? (wlen + 1) / 2 : 0},
                        {w.dnn, w.dnn_ws_bytes / 4}};
        no_overlap(dn, 7, w.total, "cuDNN path");
        cr_assert_geq(w.dnn_ws_bytes / 4, col, "cuDNN gets at least the column matrix's room");
        /* every smaller batch fits the space sized for this one */
        for (int n = 1; n < c->n; n++) {
            KConv s = *c;
            s.n = n;
            CuConvGeo gs = transposed ? cu_convt_geo(&s) : cu_conv_geo(&s);
            CuConvWs ws = cu_conv_ws(&gs, bf16);
            cr_assert_leq(ws.total, w.total, "batch %d needs more than batch %d", n, c->n);
            cr_assert_leq(ws.dnn_ws_bytes, w.dnn_ws_bytes);
        }
    }
}

Test(cuda_plan, conv_workspaces_do_not_overlap_and_shrink_with_the_batch) {
    KConv cs[] = {
        kconv_init(4, 224, 224, 3, 32, 3, 2, 1, 1), /* EfficientNet stem */
        kconv_init(3, 33, 17, 6, 10, 5, 1, 2, 2),   /* odd sizes, groups */
        kconv_init(5, 64, 64, 3, 32, 4, 2, 1, 1),   /* image VAE encoder */
        kconv_init(2, 9, 9, 8, 8, 3, 2, 0, 1),
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) check_ws(&cs[i], false);
    KConv ts[] = {kconvt_init(5, 4, 4, 256, 128, 4, 2, 1), kconvt_init(3, 5, 7, 6, 3, 3, 2, 0)};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        check_ws(&ts[i], true);
        /* conv C of a transposed convolution maps its output back to its input */
        CuConvGeo g = cu_convt_geo(&ts[i]);
        cr_assert_eq((g.H + 2 * g.ph - g.kh) / g.sh + 1, ts[i].h);
        cr_assert_eq((g.W + 2 * g.pw - g.kw) / g.sw + 1, ts[i].w);
    }
}

Test(cuda_plan, rnn_workspaces_are_the_cpu_backends) {
    const KOps *k = kops_cpu();
    KRnn rs[] = {{1, 1, 3, 1, 3, 1, false},
                 {4, 5, 7, 9, 7, 18, true},
                 {32, 16, 1280, 256, 1280, 512, false}};
    for (size_t i = 0; i < sizeof rs / sizeof *rs; i++) {
        cr_assert_eq(cu_lstm_save(&rs[i]), k->lstm_save(&rs[i]));
        cr_assert_eq(cu_lstm_ws(&rs[i]), k->lstm_ws(&rs[i]));
        cr_assert_eq(cu_gru_save(&rs[i]), k->gru_save(&rs[i]));
        cr_assert_eq(cu_gru_ws(&rs[i]), k->gru_ws(&rs[i]));
    }
}

Test(cuda_plan, completeness_check_names_the_missing_op) {
    const KOps *cpu = kops_cpu();
    cr_assert_eq(kops_check_complete(cpu), VB_OK, "%s", vb_errmsg());
    KOps k = *cpu;
    k.se_bwd = NULL;
    cr_assert_eq(kops_check_complete(&k), VB_ERR_BACKEND);
    cr_assert(strstr(vb_errmsg(), "se_bwd") != NULL, "%s", vb_errmsg());
    k = *cpu;
    k.timer_ms = NULL;
    cr_assert_eq(kops_check_complete(&k), VB_ERR_BACKEND);
    cr_assert(strstr(vb_errmsg(), "timer_ms") != NULL, "%s", vb_errmsg());
}

/* `cuda` where it cannot run: one line on stderr, exit 2, no database. */
Test(cuda_plan, backend_cuda_without_a_device_exits_2_and_records_nothing, .timeout = 60) {
    if (kops_get(K_BACKEND_CUDA)) cr_skip_test("a CUDA device is usable here");
    vb_clear_error();
    cr_assert_eq(system("mkdir -p tests/tmp"), 0);
    const char *db = "tests/tmp/cuda_nodevice.db", *err = "tests/tmp/cuda_nodevice.err";
    remove(db);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "./vadbench run experiments/quickstart.yaml --backend cuda --db %s --quiet 2> %s", db,
             err);
    int rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 2, "exit status %d, want 2", WEXITSTATUS(rc));
    struct stat sb;
    cr_assert_neq(stat(db, &sb), 0, "the database was created");
    FILE *f = fopen(err, "r");
    cr_assert_not_null(f);
    char line[1024];
    int lines = 0;
    bool named = false;
    while (fgets(line, sizeof line, f)) {
        lines++;
        named |= strstr(line, "backend 'cuda'") != NULL;
    }
    fclose(f);
    cr_assert_eq(lines, 1, "%d lines on stderr, want one", lines);
    cr_assert(named, "the line does not name the backend");
    /* the experiment file's own `backend: cuda` and bf16 on the CPU, alike */
    FILE *y = fopen("tests/tmp/cuda_nodevice.yaml", "w");
    cr_assert_not_null(y);
    fprintf(y, "experiment: nodev\nbackend: cuda\ndataset: {source: synthetic}\n");
    fclose(y);
    snprintf(cmd, sizeof cmd, "./vadbench run tests/tmp/cuda_nodevice.yaml --db %s 2>/dev/null",
             db);
    rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 2, "backend: cuda in the file: exit %d",
              WEXITSTATUS(rc));
    y = fopen("tests/tmp/cuda_bf16cpu.yaml", "w");
    cr_assert_not_null(y);
    fprintf(y, "experiment: bf16cpu\nbackend: cpu\ndataset: {source: synthetic}\n"
               "base: {train: {precision: bf16}}\n");
    fclose(y);
    snprintf(cmd, sizeof cmd, "./vadbench run tests/tmp/cuda_bf16cpu.yaml --db %s 2>%s", db, err);
    rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 2, "bf16 on the cpu: exit %d", WEXITSTATUS(rc));
    cr_assert_neq(stat(db, &sb), 0, "the database was created");
}

/* The binary does not link cuBLAS (it would cost every process ~215 MB of
 * resident memory); the backend opens it at start. Every symbol it looks up
 * must exist in the library the build was made against. */
Test(cuda_plan, cublas_loads_lazily_with_every_entry_point) {
#ifdef VB_HAVE_CUDA
    char why[256] = "";
    cr_assert(cu_blas_load(why, sizeof why), "%s", why);
    cr_assert(cu_blas_load(why, sizeof why), "a second load must succeed too: %s", why);
#else
    cr_skip("the CUDA backend is not compiled in");
#endif
}
