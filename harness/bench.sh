#!/bin/sh
# bench.sh: `make bench` — vadbench against its PyTorch twin on the same
# machine, in the same session, reported as ratios (never lone absolute
# times: these machines are shared and noisy). Model: the seed's Option A
# (experiments/models/option_a.yaml) at 64x64; training step at batch 32 and
# inference at batch 1, on THREADS threads (default 2); and the training data
# loader against the training step it feeds (batches/s over steps/s).
#   sh harness/bench.sh [THREADS]
set -eu
threads=${1:-2}
model=experiments/models/option_a.yaml
out=${BENCH_OUT:-build/bench}
mkdir -p "$out"
have_torch=1
/usr/bin/python3 -c 'import torch, yaml' 2>/dev/null || have_torch=0

run() { # name, vadbench args, torch args
    ./vadbench bench --model $model --threads "$threads" $2 > "$out/$1.vadbench.json"
    echo "vadbench $1: $(cat "$out/$1.vadbench.json")"
    if [ $have_torch = 1 ]; then
        /usr/bin/python3 tests/reference/bench_torch.py --model $model --threads "$threads" $3 \
            > "$out/$1.torch.json"
        echo "pytorch  $1: $(cat "$out/$1.torch.json")"
    fi
}

run train "--mode train --batch 32 --steps 20 --warmup 3" "--mode train --batch 32 --steps 20 --warmup 3"
run infer "--mode infer --batch 1 --steps 200 --warmup 20" "--mode infer --batch 1 --steps 200 --warmup 20"

./vadbench bench --model $model --mode loader --batch 32 --steps 200 --warmup 10 \
    > "$out/loader.vadbench.json"
echo "vadbench loader: $(cat "$out/loader.vadbench.json")"
[ -x /usr/bin/python3 ] && /usr/bin/python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
l = json.load(open(f"{d}/loader.vadbench.json"))
t = json.load(open(f"{d}/train.vadbench.json"))
steps = t["images_per_s"] / (t["batch"] * t["clip"])
print(f"ratio loader: {l['batches_per_s']:.1f} batches/s vs {steps:.2f} training steps/s = "
      f"{l['batches_per_s'] / steps:.0f}x (must be >= 10x)")
PY

if [ $have_torch = 0 ]; then
    echo "bench: PyTorch twin not available (run: sh harness/deps.sh --torch); no ratios"
    exit 0
fi
/usr/bin/python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
for mode in ("train", "infer"):
    v = json.load(open(f"{d}/{mode}.vadbench.json"))
    t = json.load(open(f"{d}/{mode}.torch.json"))
    print(f"ratio {mode}: throughput vadbench/pytorch = {v['images_per_s'] / t['images_per_s']:.2f}x, "
          f"median time pytorch/vadbench = {t['median_ms'] / v['median_ms']:.2f}x, "
          f"p99 pytorch/vadbench = {t['p99_ms'] / v['p99_ms']:.2f}x, "
          f"peak RSS vadbench/pytorch = {v['peak_rss_mb'] / t['peak_rss_mb']:.2f}")
PY
