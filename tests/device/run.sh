#!/bin/sh
# run.sh: the CUDA backend's checks on the GPU machine, as one command, from
# the bundle `make device-bundle` builds (the machine has a driver, python3
# with PyTorch and its CUDA wheels, no Debian packages, no network):
#
#   sh tests/device/run.sh build/device-bundle.tar.xz
#
# 1. finds cuBLAS and cuDNN (PyTorch's nvidia wheels, else /usr/local/cuda)
#    and stops with one clear line when either is missing;
# 2. the GPU test suites (the test-cuda equivalent: vbtest --filter 'cuda*/*'
#    with VADBENCH_REQUIRE_CUDA=1, so a missing GPU fails instead of skipping);
# 3. `vadbench bench` against tests/reference/bench_torch.py --device cuda on
#    the seed's Option A at 224x224: training at batch 32 and inference at
#    batch 1, fp32 and bf16 side by side, with the ratios and the achieved
#    TFLOP/s (PyTorch's FLOP counter on one step) against the H200's peaks;
# 4. the quickstart with backend cuda (seed 0: both variants) in fp32 and in
#    bf16, and their test accuracies side by side.
# Everything goes to $OUT (the device tool's folder; ./device-out elsewhere):
# run.log (all of it), tests.log, bench.jsonl, quickstart.log, report.md.
# Each stage has a time limit and the whole ends within DEADLINE seconds
# (default 560: the device tool runs one command for at most 600).
# STAGES=tests,bench,quickstart (the default) picks stages, e.g. for a rerun.
set -u
bundle=${1:-build/device-bundle.tar.xz}
out=${OUT:-$(pwd)/device-out}
mkdir -p "$out"
log=$out/run.log
: > "$log"
say() { echo "$*" | tee -a "$log"; }
started=$(date +%s)
deadline=${DEADLINE:-560}
elapsed() { echo $(($(date +%s) - started)); }
stages=${STAGES:-tests,bench,quickstart}
want() { case ",$stages," in *",$1,"*) return 0 ;; esac; return 1; }
# seconds a stage may take: its own limit, or what is left before the deadline
budget() {
    left=$((deadline - $(elapsed) - 10))
    [ "$left" -lt "$1" ] && echo "$left" || echo "$1"
}

if [ -f "$bundle" ]; then
    mkdir -p /tmp/vadbench-device
    # tar's xz support needs the xz program; Python's tarfile reads xz without it
    tar -xJf "$bundle" -C /tmp/vadbench-device 2>/dev/null ||
        python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
            "$bundle" /tmp/vadbench-device || { say "run.sh: cannot unpack $bundle"; exit 2; }
    root=/tmp/vadbench-device/device-bundle
elif [ -d "$bundle" ]; then
    root=$(cd "$bundle" && pwd)
else
    say "run.sh: no bundle at $bundle (build it with: make device-bundle)"
    exit 2
fi
cd "$root" || exit 2

# ---- 1. CUDA libraries ----
find_lib() { # the first directory holding $1
    for d in $(python3 -c 'import site, sys; print(" ".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null) \
        /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu /opt; do
        [ -d "$d" ] || continue
        f=$(find "$d/" -maxdepth 6 -name "$1" 2>/dev/null | head -1)
        if [ -n "$f" ]; then
            dirname "$f"
            return 0
        fi
    done
    return 1
}
cudnn_dir=$(find_lib 'libcudnn.so.9') || { say "run.sh: cuDNN 9 (libcudnn.so.9) not found in python3's site-packages (nvidia-cudnn-cu13) nor /usr/local/cuda: the CUDA backend cannot start"; exit 2; }
cublas_dir=$(find_lib 'libcublas.so.13') || { say "run.sh: cuBLAS 13 (libcublas.so.13) not found in python3's site-packages (nvidia-cublas) nor /usr/local/cuda: the CUDA backend cannot start"; exit 2; }
extra=""
for l in libcublasLt.so.13 libnvrtc.so.13; do
    d=$(find_lib "$l") && extra="$extra:$d"
done
libpath="$root/lib:$cudnn_dir:$cublas_dir$extra"
vb() { LD_LIBRARY_PATH="$libpath" "$@"; }
py() { env -u LD_LIBRARY_PATH python3 "$@"; } # PyTorch with its own libraries

say "== vadbench device run, $(date -u +%Y-%m-%dT%H:%M:%SZ), bundle $bundle"
say "cuDNN from $cudnn_dir; cuBLAS from $cublas_dir"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 | tee -a "$log"
vb ./vadbench --version 2>&1 | tee -a "$log"
if ! vb ./vadbench --version > /dev/null 2>&1; then
    say "run.sh: ./vadbench does not start here (missing libraries above?)"
    vb ldd ./vadbench | tee -a "$log"
    exit 2
fi

# ---- 2. GPU tests (test-cuda) ----
trc=0
if want tests; then
say "== tests: vbtest --filter 'cuda*/*' (limit $(budget 240) s, at $(elapsed) s)"
VADBENCH_REQUIRE_CUDA=1 vb timeout "$(budget 240)" ./vbtest --filter 'cuda*/*' --jobs 4 \
    > "$out/tests.log" 2>&1
trc=$?
grep -E '^\[(FAIL|----)\]|Synthesis' "$out/tests.log" | head -60 | tee -a "$log"
say "tests: exit $trc"
fi

# ---- 3. benchmarks ----
if want bench; then
say "== bench: Option A 224x224 (limit $(budget 150) s, at $(elapsed) s)"
model=/tmp/option_a_224.yaml
sed 's/^  classes: 14$/  classes: 14\n  image: 224/' experiments/models/option_a.yaml > "$model"
grep -q 'image: 224' "$model" || { say "run.sh: could not make the 224x224 model file"; exit 2; }
: > "$out/bench.jsonl"
bench_deadline=$(($(elapsed) + $(budget 150)))
for prec in fp32 bf16; do
    for mode in "train 32 20 5" "infer 1 200 20"; do
        set -- $mode
        [ "$(elapsed)" -lt "$bench_deadline" ] || { say "bench: out of time"; break; }
        VADBENCH_CUDA_VERBOSE=$([ "$1$prec" = trainfp32 ] && echo 1 || echo 0) \
            vb timeout 60 ./vadbench bench --model "$model" --backend cuda --mode "$1" --batch "$2" \
            --steps "$3" --warmup "$4" --precision "$prec" >> "$out/bench.jsonl" 2>> "$log" ||
            say "bench: vadbench $1 $prec failed"
        env -u LD_LIBRARY_PATH timeout 90 python3 -u tests/reference/bench_torch.py \
            --model "$model" --device cuda --mode "$1" \
            --batch "$2" --steps "$3" --warmup "$4" --precision "$prec" --count-flops \
            >> "$out/bench.jsonl" 2>> "$log" || say "bench: pytorch $1 $prec failed"
    done
done
cat "$out/bench.jsonl" >> "$log"
py - "$out/bench.jsonl" <<'PY' 2>&1 | tee -a "$log"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def pick(backend, mode, prec):
    for r in rows:
        if r.get("backend", "").startswith(backend) and r["mode"] == mode and r.get("precision") == prec:
            return r
PEAK = {"fp32": 67.0, "bf16": 989.0}  # H200 dense, TFLOP/s (datasheet); bf16 matmul measured here: ~790
for mode in ("train", "infer"):
    for prec in ("fp32", "bf16"):
        v, t = pick("cuda", mode, prec), pick("torch-cuda", mode, prec)
        if not v or not t:
            print(f"ratio {mode} {prec}: missing ({'vadbench' if not v else 'pytorch'})")
            continue
        line = (f"{mode} {prec} batch {v['batch']}: vadbench {v['images_per_s']:.0f} img/s, median "
                f"{v['median_ms']:.3f} ms, p99 {v['p99_ms']:.3f} ms | pytorch {t['images_per_s']:.0f} img/s, "
                f"median {t['median_ms']:.3f} ms | throughput ratio {v['images_per_s'] / t['images_per_s']:.2f}x")
        fl = t.get("flops_per_step")
        if fl:
            tv, tt = fl / (v["median_ms"] / 1e3) / 1e12, fl / (t["median_ms"] / 1e3) / 1e12
            line += (f" | {fl / 1e9:.1f} GFLOP/step: vadbench {tv:.1f} TFLOP/s, pytorch {tt:.1f} "
                     f"({100 * tv / PEAK[prec]:.1f}% / {100 * tt / PEAK[prec]:.1f}% of {PEAK[prec]:.0f})")
        print(line)
PY
fi

# ---- 4. quickstart, fp32 and bf16 ----
if want quickstart; then
say "== quickstart on cuda, seed 0, fp32 then bf16 (at $(elapsed) s)"
db=/tmp/vadbench-device/quickstart.db
rm -f "$db"
sed -e 's/^experiment: quickstart$/experiment: quickstart_bf16/' \
    -e 's/^    schedule: onecycle$/    schedule: onecycle\n    precision: bf16/' \
    experiments/quickstart.yaml > /tmp/quickstart_bf16.yaml
for f in experiments/quickstart.yaml /tmp/quickstart_bf16.yaml; do
    lim=$(budget 120)
    if [ "$lim" -lt 20 ]; then
        say "quickstart $f: skipped (out of time)"
        continue
    fi
    vb timeout "$lim" ./vadbench run "$f" --backend cuda --only '*/*/seed0' --db "$db" \
        >> "$out/quickstart.log" 2>&1
    say "quickstart $f: exit $? (limit $lim s)"
done
tail -20 "$out/quickstart.log" >> "$log"
vb ./vadbench report quickstart --db "$db" >> "$out/quickstart.log" 2>&1 &&
    cp reports/quickstart/report.md "$out/report.md" 2>/dev/null
py - "$db" <<'PY' 2>&1 | tee -a "$log"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
if not db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'runs'").fetchone()[0]:
    sys.exit("quickstart: no runs were recorded")
q = ("SELECT e.name, r.variant, r.status, m.key, m.value FROM runs r JOIN experiments e ON e.id = r.experiment_id "
     "LEFT JOIN metrics m ON m.run_id = r.id AND m.split = 'test' AND m.step IS NULL "
     "AND m.key IN ('accuracy', 'auroc.fused.unseen') ORDER BY r.variant, m.key, e.name")
for name, variant, status, key, value in db.execute(q):
    print(f"quickstart {name:16s} {variant:9s} {status:7s} test.{key}: {value}")
for name, variant, gpu, drv, libs in db.execute(
        "SELECT e.name, r.variant, r.gpu, r.gpu_driver, r.libraries FROM runs r "
        "JOIN experiments e ON e.id = r.experiment_id LIMIT 2"):
    print(f"provenance {name} {variant}: gpu {gpu}; driver {drv}; {libs}")
PY
fi
say "== done in $(elapsed) s; tests exit $trc"
exit $trc
