/* The own SGEMM against its scalar definition (gemm_ref): bit-equal on every
 * instruction-set path this CPU supports, over a sweep of shapes (k = 0 and
 * 1, m = 1, odd sizes, sizes around the micro-tile and K-block edges, both
 * transposes, padded strides, alpha/beta/bias), through every entry point
 * (single thread, the parallel driver at 1/2/3 threads, the orphaned team
 * form, packed and registered weights, the KOps gemm and linear ops). Also:
 * the generic path's fmaf equals the vector FMA on awkward values, and the
 * paths agree on the other vector kernels. */
#include <omp.h>

#include "kernels/cpu/gemm.h"
#include "testutil.h"

/* Values with varied exponents and signs, some exact zeros, so that FMA
 * versus separate rounding would show. */
static float *rand_mat(size_t n, uint64_t seed) {
    float *x = tu_rand(n, seed, -1.0f, 1.0f);
    for (size_t i = 0; i < n; i++) {
        x[i] *= (float)(1 << (i * 7 % 9)) / 16.0f;
        if (i % 29 == 5) x[i] = 0.0f;
    }
    return x;
}

typedef enum { VIA_ST, VIA_PAR, VIA_TEAM, VIA_PACKED, VIA_REGISTERED } Via;
static const char *const VIA_NAMES[] = {"st", "par", "team", "packed", "registered"};

/* One product through one entry point, compared bit for bit with gemm_ref. */
static void check_one(KIsa isa, Via via, bool ta, bool tb, int m, int n, int k, float alpha,
                      float beta, bool bias, int pad, uint64_t seed) {
    const int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    const size_t asz = (size_t)(ta ? k : m) * lda + 1, bsz = (size_t)(tb ? n : k) * ldb + 1;
    float *a = rand_mat(asz, seed), *b = rand_mat(bsz, seed + 1);
    float *c0 = rand_mat((size_t)m * ldc + 1, seed + 2), *bv = bias ? rand_mat(n, seed + 3) : NULL;
    float *c1 = tu_alloc((size_t)m * ldc + 1);
    memcpy(c1, c0, ((size_t)m * ldc + 1) * sizeof(float));
    gemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c0, ldc, bv);
    cr_assert_eq(kisa_set(isa), VB_OK, "%s", vb_errmsg());
    float *P = NULL;
    switch (via) {
    case VIA_ST: gemm_st(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c1, ldc, bv, false); break;
    case VIA_PAR: gemm_par(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c1, ldc, bv, false); break;
    case VIA_TEAM:
#pragma omp parallel num_threads(3)
        gemm_team(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c1, ldc, bv, false);
        break;
    case VIA_PACKED:
        P = tu_alloc(gemm_pack_floats(k, n) + 1);
        gemm_pack(tb, k, n, b, ldb, P);
        gemm_packed_st(ta, m, n, k, alpha, a, lda, P, beta, c1, ldc, bv);
        break;
    case VIA_REGISTERED: /* W [n,k] used as W^T: tb with ldb == k */
        cr_assert(tb && pad == 0);
        P = aligned_alloc(64, (gemm_pack_floats(k, n) * sizeof(float) + 64) & ~(size_t)63);
        gemm_register(b, n, k, P);
        cr_assert(gemm_lookup(b, k, n) == P);
        gemm_par(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c1, ldc, bv, true);
        gemm_unregister_range(b, b + bsz);
        cr_assert(gemm_lookup(b, k, n) == NULL);
        break;
    }
    cr_assert(memcmp(c0, c1, ((size_t)m * ldc + 1) * sizeof(float)) == 0,
              "%s/%s: ta %d tb %d m %d n %d k %d alpha %g beta %g bias %d pad %d: differs from "
              "the reference",
              kisa_name(isa), VIA_NAMES[via], ta, tb, m, n, k, alpha, beta, bias, pad);
    free(a), free(b), free(c0), free(c1), free(bv), free(P);
}

/* Shapes around the paths' micro-tiles (4, 6, 14 rows; 16/32/64/128
 * columns) and K blocks (256). */
static const int MS[] = {1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 29, 64, 113};
static const int NS[] = {1, 7, 16, 17, 33, 64, 100, 129};
static const int KS[] = {0, 1, 2, 9, 255, 256, 257, 600};

static void sweep(KIsa isa) {
    if (!kisa_supported(isa)) {
        cr_log_info("%s: path not supported by this CPU, skipped", kisa_name(isa));
        return;
    }
    uint64_t seed = 1;
    for (size_t im = 0; im < sizeof MS / sizeof *MS; im++)
        for (size_t in = 0; in < sizeof NS / sizeof *NS; in++)
            for (size_t ik = 0; ik < sizeof KS / sizeof *KS; ik++, seed++) {
                int m = MS[im], n = NS[in], k = KS[ik];
                if ((double)m * n * k > 2e6) continue;
                bool ta = seed % 2, tb = seed / 2 % 2;
                float beta = seed % 3 == 0 ? 0.0f : seed % 3 == 1 ? 1.0f : -0.75f;
                float alpha = seed % 5 == 0 ? -1.5f : 1.0f;
                check_one(isa, (Via)(seed % 3), ta, tb, m, n, k, alpha, beta, seed % 4 == 1,
                          seed % 7 == 3 ? 3 : 0, seed);
            }
    /* every transpose pair, beta and bias on one awkward shape per entry point */
    for (int via = 0; via <= VIA_PACKED; via++)
        for (int t = 0; t < 4; t++)
            for (int e = 0; e < 3; e++)
                check_one(isa, (Via)via, t & 1, t >> 1, 37, 45, 300, e == 2 ? 0.5f : 1.0f,
                          e == 0 ? 0.0f : 1.0f, e == 1, e, 100 + t * 3 + e);
    /* registered weights, small m (inference) and large m (evaluation) */
    for (int m = 1; m <= 17; m += 4)
        check_one(isa, VIA_REGISTERED, false, true, m, 96, 70, 1, 0, true, 0, 300 + m);
    check_one(isa, VIA_REGISTERED, false, true, 200, 40, 33, 1, 0, false, 0, 400);
    kisa_set(K_ISA_GENERIC);
}

Test(gemm, generic_path_equals_reference) { sweep(K_ISA_GENERIC); }
Test(gemm, avx2_path_equals_reference) { sweep(K_ISA_AVX2); }
Test(gemm, avx512_path_equals_reference) { sweep(K_ISA_AVX512); }

/* The parallel driver at several thread counts, big enough to split. */
Test(gemm, thread_counts_give_the_reference_bits) {
    for (int isa = 0; isa < K_ISA_N; isa++) {
        if (!kisa_supported((KIsa)isa)) continue;
        for (int th = 1; th <= 3; th++) {
            kthreads_set(th);
            check_one((KIsa)isa, VIA_PAR, false, true, 300, 200, 300, 1.0f, 0.0f, true, 0, 7);
            check_one((KIsa)isa, VIA_PAR, true, false, 96, 700, 90, 1.0f, 1.0f, false, 1, 8);
            check_one((KIsa)isa, VIA_PAR, false, false, 1, 1500, 400, 1.0f, 0.0f, true, 0, 9);
        }
    }
    kthreads_set(0);
}

/* The KOps gemm and linear ops go through the same engine. */
Test(gemm, kops_gemm_and_linear_match_the_reference) {
    const KOps *K = kops_cpu();
    for (int isa = 0; isa < K_ISA_N; isa++) {
        if (!kisa_supported((KIsa)isa)) continue;
        cr_assert_eq(kisa_set((KIsa)isa), VB_OK);
        int rows = 33, in = 70, out = 19;
        float *x = rand_mat((size_t)rows * in, 1), *w = rand_mat((size_t)out * in, 2);
        float *b = rand_mat(out, 3), *y0 = tu_alloc((size_t)rows * out);
        float *y1 = tu_alloc((size_t)rows * out);
        gemm_ref(false, true, rows, out, in, 1.0f, x, in, w, in, 0.0f, y0, out, b);
        K->linear_fwd(rows, in, out, x, w, b, y1);
        tu_assert_bytes_equal(y0, y1, (size_t)rows * out * sizeof(float), "linear_fwd");
        float *P = K->alloc(K->pack_floats(out, in) * sizeof(float));
        K->pack_weight(w, out, in, P);
        memset(y1, 0, (size_t)rows * out * sizeof(float));
        K->linear_fwd(rows, in, out, x, w, b, y1);
        tu_assert_bytes_equal(y0, y1, (size_t)rows * out * sizeof(float), "packed linear_fwd");
        K->unpack_weights(w, w + (size_t)out * in);
        K->free(P);
        float *dy = rand_mat((size_t)rows * out, 4), *dw0 = rand_mat((size_t)out * in, 5);
        float *dw1 = tu_alloc((size_t)out * in);
        memcpy(dw1, dw0, (size_t)out * in * sizeof(float));
        gemm_ref(true, false, out, in, rows, 1.0f, dy, out, x, in, 1.0f, dw0, in, NULL);
        K->linear_bwd(rows, in, out, x, w, dy, NULL, dw1, NULL);
        tu_assert_bytes_equal(dw0, dw1, (size_t)out * in * sizeof(float), "linear_bwd dw");
        float *c0 = rand_mat((size_t)rows * in, 6), *c1 = tu_alloc((size_t)rows * in);
        memcpy(c1, c0, (size_t)rows * in * sizeof(float));
        gemm_ref(false, false, rows, in, out, -2.0f, dy, out, w, in, 0.5f, c0, in, NULL);
        K->gemm(false, false, rows, in, out, -2.0f, dy, out, w, in, 0.5f, c1, in);
        tu_assert_bytes_equal(c0, c1, (size_t)rows * in * sizeof(float), "KOps gemm");
        free(x), free(w), free(b), free(y0), free(y1), free(dy), free(dw0), free(dw1), free(c0),
            free(c1);
    }
}

/* fmaf (the generic path) and the vector FMA instructions round alike,
 * including cancellation, tiny products and signed zeros. */
Test(gemm, fmaf_matches_the_vector_fma_on_awkward_values) {
    const float v[] = {
        0.0f,    -0.0f,    1.0f, -1.0f, 1.0f + 0x1p-23f, 1.0f - 0x1p-24f, 0x1p-126f, 0x1p-149f,
        3.0e38f, -3.0e38f, 0.1f, -0.3f, 16777217.0f,     1e-30f,          7.0f};
    const int nv = sizeof v / sizeof *v;
    for (int isa = K_ISA_AVX2; isa < K_ISA_N; isa++) {
        if (!kisa_supported((KIsa)isa)) continue;
        /* a 1x1x1 product per triple: out = fma(a, b, 0) then fma(1, c, out) */
        for (int i = 0; i < nv; i++)
            for (int j = 0; j < nv; j++)
                for (int l = 0; l < nv; l++) {
                    float a[2] = {v[i], v[l]}, b[2] = {v[j], 1.0f}, c0 = 0, c1 = 0;
                    cr_assert_eq(kisa_set(K_ISA_GENERIC), VB_OK);
                    gemm_st(false, false, 1, 1, 2, 1.0f, a, 2, b, 1, 0.0f, &c0, 1, NULL, false);
                    cr_assert_eq(kisa_set((KIsa)isa), VB_OK);
                    gemm_st(false, false, 1, 1, 2, 1.0f, a, 2, b, 1, 0.0f, &c1, 1, NULL, false);
                    cr_assert(memcmp(&c0, &c1, sizeof c0) == 0 || (isnan(c0) && isnan(c1)),
                              "%s: fma chain of %a*%a + %a: generic %a vs %a", kisa_name(isa), v[i],
                              v[j], v[l], c0, c1);
                }
    }
    kisa_set(K_ISA_GENERIC);
}

Test(gemm, unknown_or_unsupported_paths_are_refused) {
    KIsa isa;
    cr_assert_eq(kisa_parse("avx512", &isa), VB_OK);
    cr_assert_eq(isa, K_ISA_AVX512);
    cr_assert_eq(kisa_parse("sse9", &isa), VB_ERR_USAGE);
    cr_assert(strstr(vb_errmsg(), "sse9") != NULL);
    cr_assert(kisa_supported(K_ISA_GENERIC));
    cr_assert_eq(kisa_set((KIsa)7), VB_ERR_USAGE);
}
