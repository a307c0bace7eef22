/* isa: which instruction-set path the CPU backend runs — detection of the
 * CPU's features, the VADBENCH_ISA override and kisa_set, and the table of
 * the active path (cpu_vec). Every path gives the same bits (cpu_isa.h has
 * the rule), so the choice changes speed only.
 *
 * A path needs: avx2 = AVX2 and FMA; avx512 = AVX-512 F, BW, DQ and VL plus
 * AVX2 and FMA (the flags its translation units are compiled with). GCC's
 * __builtin_cpu_supports also checks that the OS saves the registers.
 *
 * Not for: switching paths while an op runs (kisa_set is for the host
 * thread between ops). */
#include <stdlib.h>
#include <string.h>

#include "cpu_isa.h"

static const char *const ISA_NAMES[K_ISA_N] = {"generic", "avx2", "avx512"};

const char *kisa_name(KIsa isa) { return isa >= 0 && isa < K_ISA_N ? ISA_NAMES[isa] : "unknown"; }

bool kisa_supported(KIsa isa) {
    __builtin_cpu_init();
    switch (isa) {
    case K_ISA_GENERIC: return true;
    case K_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case K_ISA_AVX512:
        return kisa_supported(K_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl");
    default: return false;
    }
}

static KIsa best_isa(void) {
    for (int i = K_ISA_N - 1; i > 0; i--)
        if (kisa_supported((KIsa)i)) return (KIsa)i;
    return K_ISA_GENERIC;
}

static const CpuVec *table_of(KIsa isa) {
    switch (isa) {
    case K_ISA_AVX512: return &cpu_vec_avx512;
    case K_ISA_AVX2: return &cpu_vec_avx2;
    default: return &cpu_vec_generic;
    }
}

static const CpuVec *g_vec;

VbStatus kisa_parse(const char *s, KIsa *out) {
    for (int i = 0; i < K_ISA_N; i++)
        if (strcmp(s, ISA_NAMES[i]) == 0) {
            *out = (KIsa)i;
            return VB_OK;
        }
    return VB_FAIL(VB_ERR_USAGE,
                   "unknown instruction-set path '%s' (expected generic, avx2 or avx512)", s);
}

VbStatus kisa_set(KIsa isa) {
    if (isa < 0 || isa >= K_ISA_N)
        return VB_FAIL(VB_ERR_USAGE, "instruction-set path %d out of range", (int)isa);
    if (!kisa_supported(isa))
        return VB_FAIL(VB_ERR_USAGE, "this CPU does not support the %s path (best: %s)",
                       kisa_name(isa), kisa_name(best_isa()));
    g_vec = table_of(isa);
    return VB_OK;
}

VbStatus kisa_from_env(void) {
    const char *env = getenv("VADBENCH_ISA");
    KIsa isa = best_isa();
    if (env && *env) {
        if (kisa_parse(env, &isa) != VB_OK) return vb_wrap(VB_ERR_USAGE, "VADBENCH_ISA: ");
        if (kisa_set(isa) != VB_OK) return vb_wrap(VB_ERR_USAGE, "VADBENCH_ISA: ");
        return VB_OK;
    }
    g_vec = table_of(isa);
    return VB_OK;
}

const CpuVec *cpu_vec(void) {
    if (!g_vec) {
        /* the program validates VADBENCH_ISA first (kisa_from_env); elsewhere
         * an unusable value falls back to the best path */
        if (kisa_from_env() != VB_OK) g_vec = table_of(best_isa());
    }
    return g_vec;
}

KIsa kisa_active(void) { return cpu_vec()->isa; }
