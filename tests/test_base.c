/* Tests of the base layer: status messages, counter RNG, arena. */
#include "testutil.h"

#include "kernels/arena.h"
#include "kernels/rng.h"
#include "kernels/status.h"

static VbStatus fails_with_io(void) { return VB_FAIL(VB_ERR_IO, "cannot open %s", "x.bin"); }

Test(status, message_has_location_and_text) {
    VbStatus s = fails_with_io();
    cr_assert_eq(s, VB_ERR_IO);
    cr_assert(strstr(vb_errmsg(), "test_base.c:") == vb_errmsg(), "got '%s'", vb_errmsg());
    cr_assert(strstr(vb_errmsg(), "cannot open x.bin") != NULL);
    vb_wrap(s, "loading weights");
    cr_assert(strncmp(vb_errmsg(), "loading weights: test_base.c:", 29) == 0, "got '%s'",
              vb_errmsg());
    cr_assert_eq(vb_exit_code(VB_ERR_CHECK), 1);
    cr_assert_eq(vb_exit_code(VB_ERR_INPUT), 2);
    cr_assert_eq(vb_exit_code(VB_OK), 0);
}

Test(status, assert_aborts, .signal = SIGABRT) { VB_ASSERT(1 + 1 == 3); }

/* Philox-4x32-10 known-answer vectors from Random123's kat_vectors. */
Test(rng, philox_known_answers) {
    uint32_t out[4];
    RngStream k0 = {0, 0};
    uint32_t c0[4] = {0, 0, 0, 0};
    rng_philox(k0, c0, out);
    cr_assert_eq(out[0], 0x6627e8d5u);
    cr_assert_eq(out[1], 0xe169c58du);
    cr_assert_eq(out[2], 0xbc57ac4cu);
    cr_assert_eq(out[3], 0x9b00dbd8u);
    RngStream kf = {0xffffffffu, 0xffffffffu};
    uint32_t cf[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    rng_philox(kf, cf, out);
    cr_assert_eq(out[0], 0x408f276du);
    cr_assert_eq(out[1], 0x41c83b0eu);
    cr_assert_eq(out[2], 0xa20bc7c6u);
    cr_assert_eq(out[3], 0x6d5451fdu);
    RngStream kp = {0xa4093822u, 0x299f31d0u};
    uint32_t cp[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    rng_philox(kp, cp, out);
    cr_assert_eq(out[0], 0xd16cfe09u);
    cr_assert_eq(out[1], 0x94fdccebu);
    cr_assert_eq(out[2], 0x5001e420u);
    cr_assert_eq(out[3], 0x24126ea1u);
}

Test(rng, streams_are_independent_and_stable) {
    RngStream a = rng_stream(7, "dropout"), b = rng_stream(7, "augment"),
              c = rng_stream(8, "dropout");
    RngStream a2 = rng_stream(7, "dropout");
    cr_assert(a.k0 == a2.k0 && a.k1 == a2.k1);
    cr_assert(!(a.k0 == b.k0 && a.k1 == b.k1));
    cr_assert(!(a.k0 == c.k0 && a.k1 == c.k1));
    cr_assert_neq(rng_u32(a, 3, 10), rng_u32(a, 4, 10));
    cr_assert_neq(rng_u32(a, 3, 10), rng_u32(a, 3, 11));
    cr_assert_eq(rng_u32(a, 3, 10), rng_u32(a2, 3, 10));
}

Test(rng, uniform_normal_moments) {
    RngStream s = rng_stream(1, "test");
    enum { N = 200000 };
    float *u = tu_alloc(N), *g = tu_alloc(N);
    rng_fill_uniform(s, 0, 0, N, 0.0f, 1.0f, u);
    rng_fill_normal(s, 1, 0, N, 0.0f, 1.0f, g);
    double mu = 0, mg = 0, vg = 0;
    for (int i = 0; i < N; i++) {
        cr_assert(u[i] >= 0.0f && u[i] < 1.0f);
        mu += u[i];
        mg += g[i];
        vg += (double)g[i] * g[i];
    }
    mu /= N, mg /= N, vg = vg / N - mg * mg;
    /* standard errors: uniform mean 0.00065, normal mean 0.0022, var 0.0032 */
    cr_assert(fabs(mu - 0.5) < 0.004, "uniform mean %f", mu);
    cr_assert(fabs(mg) < 0.012, "normal mean %f", mg);
    cr_assert(fabs(vg - 1.0) < 0.02, "normal var %f", vg);
    free(u), free(g);
}

Test(rng, blocked_normals_moments_pairs_and_tails) {
    RngStream s = rng_stream(1, "test");
    enum { N = 200001 }; /* a partial last block */
    float *g = tu_alloc(N + 3), *again = tu_alloc(N), *part = tu_alloc(6);
    g[N] = g[N + 1] = g[N + 2] = 99.0f;
    rng_normals_blocked(s, 3, 10, N, g);
    cr_assert(g[N] == 99.0f && g[N + 1] == 99.0f, "wrote past n");
    double m = 0, v = 0, c = 0, m4 = 0;
    for (int i = 0; i < N; i++) m += g[i], v += (double)g[i] * g[i], m4 += pow(g[i], 4);
    for (int i = 0; i + 1 < N; i += 2) c += (double)g[i] * g[i + 1]; /* cos/sin of one pair */
    m /= N, v = v / N - m * m, c /= N / 2, m4 /= N;
    cr_assert(fabs(m) < 0.012, "mean %f", m);
    cr_assert(fabs(v - 1.0) < 0.02, "var %f", v);
    cr_assert(fabs(c) < 0.015, "the two normals of a pair correlate: %f", c);
    cr_assert(fabs(m4 - 3.0) < 0.1, "fourth moment %f (normal: 3)", m4);
    rng_normals_blocked(s, 3, 10, N, again);
    cr_assert(memcmp(g, again, N * sizeof(float)) == 0);
    rng_normals_blocked(s, 3, 11, 6, part); /* block 11 = elements 4..7 */
    cr_assert(memcmp(part, g + 4, 4 * sizeof(float)) == 0);
    free(g), free(again), free(part);
}

Test(rng, dropout_mask_rate_and_scale) {
    RngStream s = rng_stream(3, "dropout");
    enum { N = 100000 };
    float *m = tu_alloc(N);
    rng_fill_dropout(s, 5, 0, N, 0.3f, m);
    int zeros = 0;
    for (int i = 0; i < N; i++) {
        if (m[i] == 0.0f) zeros++;
        else cr_assert_float_eq(m[i], 1.0f / 0.7f, 1e-6);
    }
    cr_assert(fabs(zeros / (double)N - 0.3) < 0.01, "drop rate %f", zeros / (double)N);
    free(m);
}

Test(rng, fill_independent_of_threads) {
    RngStream s = rng_stream(11, "vae");
    enum { N = 10007 };
    float *a = tu_alloc(N), *b = tu_alloc(N);
    kthreads_set(1);
    rng_fill_normal(s, 2, 100, N, 0, 1, a);
    kthreads_set(2);
    rng_fill_normal(s, 2, 100, N, 0, 1, b);
    tu_assert_bytes_equal(a, b, N * sizeof(float), "normal fill 1 vs 2 threads");
    /* element indexing: a sub-range drawn separately matches */
    float c[10];
    rng_fill_normal(s, 2, 150, 10, 0, 1, c);
    tu_assert_bytes_equal(a + 50, c, sizeof c, "offset fill");
    free(a), free(b);
}

Test(rng, below_is_in_range_and_unbiased) {
    RngStream s = rng_stream(5, "shuffle");
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t v = rng_below(s, 0, (uint64_t)i, 7);
        cr_assert(v < 7);
        counts[v]++;
    }
    for (int i = 0; i < 7; i++)
        cr_assert(abs(counts[i] - 10000) < 500, "bucket %d: %d", i, counts[i]);
}

Test(arena, measure_then_allocate) {
    Arena m;
    arena_measure(&m);
    cr_assert_null(arena_floats(&m, 10));
    size_t mark = arena_mark(&m);
    arena_floats(&m, 100);
    arena_reset(&m, mark);
    arena_floats(&m, 3);
    cr_assert_eq(m.peak, 64 + 448); /* 10 floats -> 64 B, 100 floats -> 448 B */
    Arena a;
    cr_assert_eq(arena_init(&a, kops_cpu(), m.peak), VB_OK);
    float *p = arena_floats(&a, 10);
    cr_assert_not_null(p);
    cr_assert_eq(((uintptr_t)p) % 64, 0);
    float *q = arena_floats(&a, 100);
    cr_assert_eq((char *)q - (char *)p, 64);
    for (int i = 0; i < 100; i++) cr_assert_eq(q[i], 0.0f);
    arena_free(&a);
}

Test(arena, overflow_is_an_invariant_failure, .signal = SIGABRT) {
    Arena a;
    cr_assert_eq(arena_init(&a, kops_cpu(), 128), VB_OK);
    arena_floats(&a, 16);
    arena_floats(&a, 32); /* 128 bytes more than fits */
}

/* Committed fixtures stay under 2 MB in total (issue 2); the fixture makers
 * check their own share, this checks them all. */
Test(base, fixtures_stay_under_2_MB) {
    FILE *p = popen("du -cb tests/fixtures/* | tail -1", "r");
    cr_assert_not_null(p);
    long long total = -1;
    cr_assert_eq(fscanf(p, "%lld", &total), 1);
    pclose(p);
    cr_assert(total > 1000000 && total < 2000000, "tests/fixtures holds %lld bytes", total);
}
