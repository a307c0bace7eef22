#!/bin/sh
# cuda_checks: checks over the CUDA backend that need nvcc but no GPU (run by
# `make test` when the CUDA unit is built; `make cuda-checks` alone):
#  1. no floating-point atomics: every kernels/cuda/*.cu is compiled to PTX
#     and any atom.*/red.* on f16/bf16/f32/f64 fails the check (the backend's
#     reductions combine fixed partials in a fixed order instead). The grep
#     is first shown to catch a planted atomicAdd(float*), so it cannot pass
#     by matching nothing.
#  2. deprecated APIs only on the allowlist: kernels/cuda/cu_dnn.cu is compiled
#     once more without its suppression pragmas; every deprecated symbol the
#     compiler names must appear on an "allow:" line of its header comment.
#     No other CUDA file may suppress deprecation warnings (those files are
#     built with -Werror all-warnings and CUDNN_WARN_DEPRECATED).
# usage: sh tests/cuda_checks.sh NVCC OUTDIR
set -eu
nvcc=$1
out=$2
mkdir -p "$out"
flags="-std=c++17 -I. -arch=compute_90 --fmad=false -DVB_HAVE_CUDA -DCUDNN_WARN_DEPRECATED"
float_atomic='^[[:space:]]*(@!?%p[0-9]+[[:space:]]+)?(atom|red)(\.[a-z0-9_]+)*\.(f16|f16x2|bf16|bf16x2|f32|f64)([[:space:];]|$)'

# 1a. the grep catches a planted float atomic
cat > "$out/planted.cu" <<'EOF'
__global__ void planted(float *sum, const float *x) { atomicAdd(sum, x[threadIdx.x]); }
__global__ void planted_d(double *sum, const double *x) { atomicAdd(sum, x[threadIdx.x]); }
EOF
$nvcc -ptx $flags "$out/planted.cu" -o "$out/planted.ptx"
if [ "$(grep -cE "$float_atomic" "$out/planted.ptx" || true)" -lt 2 ]; then
    echo "cuda_checks: the atomics grep missed a planted atomicAdd on float/double" >&2
    exit 1
fi

# 1b. no float atomics in the backend (two compiles at a time)
ls kernels/cuda/*.cu | xargs -P 2 -I{} sh -c \
    '$0 -ptx $1 "{}" -o "$2/$(basename {} .cu).ptx"' "$nvcc" "$flags" "$out"
bad=0
for f in kernels/cuda/*.cu; do
    ptx="$out/$(basename "$f" .cu).ptx"
    if grep -nE "$float_atomic" "$ptx" > "$out/atomics.txt"; then
        echo "cuda_checks: $f compiles to floating-point atomics:" >&2
        head -5 "$out/atomics.txt" >&2
        bad=1
    fi
done
[ $bad = 0 ] || exit 1
echo "cuda_checks: no floating-point atomics in $(ls kernels/cuda/*.cu | wc -l) CUDA files' PTX"

# 2a. only cu_dnn.cu may silence deprecation warnings
for f in kernels/cuda/*.cu kernels/cuda/*.h kernels/cuda/*.cuh; do
    [ "$f" = kernels/cuda/cu_dnn.cu ] && continue
    if grep -nE 'nv_diag_suppress[[:space:]]+(1444|1215)|Wdeprecated-declarations' "$f"; then
        echo "cuda_checks: $f silences deprecation warnings (only cu_dnn.cu's allowlist may)" >&2
        exit 1
    fi
done

# 2b. cu_dnn.cu uses deprecated symbols from its allowlist only
grep -vE 'nv_diag_suppress|pragma GCC diagnostic' kernels/cuda/cu_dnn.cu > "$out/cu_dnn_check.cu"
LC_ALL=C $nvcc -c $flags -Xcompiler -Wdeprecated-declarations "$out/cu_dnn_check.cu" \
    -o "$out/cu_dnn_check.o" > "$out/cu_dnn_warnings.txt" 2>&1 || true
# gcc names a type ('cudnnX_t' is deprecated) or a declaration
# ('cudnnStatus_t cudnnF(args)' is deprecated): keep the identifier named
grep -oE "'[^']*' is deprecated" "$out/cu_dnn_warnings.txt" |
    sed -E -e "s/^'[^'(]* (cudnn[A-Za-z0-9_]*)\(.*$/\1/" \
        -e "s/^'(cudnn[A-Za-z0-9_]*)' is deprecated$/\1/" | grep -E '^cudnn' | sort -u \
    > "$out/used.txt" || true
grep -oE '^ \*   allow: cudnn[A-Za-z0-9_]*' kernels/cuda/cu_dnn.cu | sed 's/.*allow: //' |
    sort -u > "$out/allowed.txt"
if [ ! -s "$out/used.txt" ]; then
    echo "cuda_checks: compiling cu_dnn.cu without its pragmas named no deprecated symbol;" \
        "the check would prove nothing (see $out/cu_dnn_warnings.txt)" >&2
    exit 1
fi
extra=$(comm -23 "$out/used.txt" "$out/allowed.txt")
if [ -n "$extra" ]; then
    echo "cuda_checks: kernels/cuda/cu_dnn.cu uses deprecated symbols not on its allowlist:" \
        $extra >&2
    exit 1
fi
echo "cuda_checks: $(wc -l < "$out/used.txt") deprecated cuDNN symbols used, all on the allowlist"
