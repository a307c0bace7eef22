#!/bin/sh
# bench.sh: `make bench` — vadbench against its PyTorch twin on the same
# machine, in the same session, reported as ratios (never lone absolute
# times: these machines are shared and noisy). Model: the seed's Option A
# (experiments/models/option_a.yaml) at 64x64; training step at batch 32 and
# inference at batch 1, on THREADS threads (default 2); the training data
# loader against the training step it feeds (batches/s over steps/s); the
# CPU SGEMM's measured peak against the GFLOP/s the model's products reach.
# ROUNDS=N (default 1) repeats everything N times, vadbench and PyTorch
# interleaved, and reports medians; the 1-minute load average is printed
# with every figure (compare figures taken at similar loads only).
#   sh harness/bench.sh [THREADS]
set -eu
threads=${1:-2}
rounds=${ROUNDS:-1}
model=experiments/models/option_a.yaml
out=${BENCH_OUT:-build/bench}
mkdir -p "$out"
rm -f "$out"/*.json
have_torch=1
/usr/bin/python3 -c 'import torch, yaml' 2>/dev/null || have_torch=0
load() { cut -d' ' -f1 /proc/loadavg; }

run() { # name, round, args
    echo "{\"load\": $(load)}" > "$out/$1.$2.load.json"
    ./vadbench bench --model $model --threads "$threads" $3 > "$out/$1.$2.vadbench.json"
    echo "vadbench $1 (round $2, load $(load)): $(cat "$out/$1.$2.vadbench.json")"
    if [ $have_torch = 1 ]; then
        /usr/bin/python3 tests/reference/bench_torch.py --model $model --threads "$threads" $3 \
            > "$out/$1.$2.torch.json"
        echo "pytorch  $1 (round $2, load $(load)): $(cat "$out/$1.$2.torch.json")"
    fi
}

r=1
while [ $r -le "$rounds" ]; do
    run train $r "--mode train --batch 32 --steps 20 --warmup 3"
    run infer $r "--mode infer --batch 1 --steps 200 --warmup 20"
    r=$((r + 1))
done

./vadbench bench --mode gemm --threads "$threads" --steps 30 --warmup 3 > "$out/gemm.vadbench.json"
echo "vadbench gemm (load $(load)): $(cat "$out/gemm.vadbench.json")"
./vadbench bench --model $model --mode loader --batch 32 --steps 200 --warmup 10 \
    > "$out/loader.vadbench.json"
echo "vadbench loader: $(cat "$out/loader.vadbench.json")"

[ -x /usr/bin/python3 ] && /usr/bin/python3 - "$out" "$rounds" "$have_torch" <<'PY'
import json, statistics, sys
d, rounds, torch = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
def med(mode, who, key):
    return statistics.median(json.load(open(f"{d}/{mode}.{r}.{who}.json"))[key]
                             for r in range(1, rounds + 1))
loads = [json.load(open(f"{d}/{m}.{r}.load.json"))["load"] for m in ("train", "infer")
         for r in range(1, rounds + 1)]
l = json.load(open(f"{d}/loader.vadbench.json"))
steps = med("train", "vadbench", "images_per_s") / 32
print(f"ratio loader: {l['batches_per_s']:.1f} batches/s vs {steps:.2f} training steps/s = "
      f"{l['batches_per_s'] / steps:.0f}x (must be >= 10x)")
g = json.load(open(f"{d}/gemm.vadbench.json"))
for mode in ("train", "infer"):
    gf = med(mode, "vadbench", "gflops")
    print(f"gflops {mode}: {med(mode, 'vadbench', 'gflop_per_step'):.3f} GFLOP/step at "
          f"{gf:.1f} GFLOP/s = {100 * gf / g['peak_gflops']:.1f}% of the measured SGEMM peak "
          f"{g['peak_gflops']:.0f} GFLOP/s ({g['cpu_path']}, {g['threads']} threads)")
print(f"load (1-min average) during the rounds: {min(loads)}..{max(loads)}; medians of {rounds} "
      "round(s)")
if not torch:
    print("bench: PyTorch twin not available (run: sh harness/deps.sh --torch); no ratios")
    sys.exit(0)
for mode in ("train", "infer"):
    v = {k: med(mode, "vadbench", k) for k in ("images_per_s", "median_ms", "p99_ms", "peak_rss_mb")}
    t = {k: med(mode, "torch", k) for k in ("images_per_s", "median_ms", "p99_ms", "peak_rss_mb")}
    print(f"ratio {mode}: throughput vadbench/pytorch = {v['images_per_s'] / t['images_per_s']:.2f}x, "
          f"median time pytorch/vadbench = {t['median_ms'] / v['median_ms']:.2f}x, "
          f"p99 pytorch/vadbench = {t['p99_ms'] / v['p99_ms']:.2f}x, "
          f"peak RSS vadbench/pytorch = {v['peak_rss_mb'] / t['peak_rss_mb']:.2f}")
PY
