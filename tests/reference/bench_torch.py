#!/usr/bin/python3
"""The PyTorch side of `vadbench bench`: times the same model on the CPU or a GPU.

Usage (from the repository root; Debian's python3-torch, python3-torchvision,
python3-yaml):

    /usr/bin/python3 tests/reference/bench_torch.py --model experiments/models/option_a.yaml \\
        --mode train --batch 32 [--clip 1] [--steps 20] [--warmup 3] [--threads 2] [--variant NAME]
        [--channels-last] [--device cpu|cuda] [--precision fp32|bf16]

On the GPU (--device cuda; PyTorch with CUDA, as on the device machine) the
model runs channels-last with cuDNN's autotuner on (PyTorch's fast eager
setup), timed with torch.cuda.synchronize() around each step; --precision
bf16 wraps forward and loss in torch.autocast(bfloat16) (AMP: bf16
convolutions and matrix products, fp32 master weights), fp32 turns TF32
off so that the arithmetic is vadbench's fp32.

The model is the PyTorch twin of vadbench's hybrid model (HybridTwin in
twin.py, the one the parity tests check vadbench against), built from
the same YAML `model:` mapping (or an experiment file's `base.model` plus a
variant's `model.*` overrides), in float32 with PyTorch's default initialisation.

* train: one step = forward in training mode (dropout masks drawn fresh each
  step, as nn.Dropout would), the loss of MODEL_SPEC §4 with default weights
  (hybrid_loss: focal + 0.5 binary CE + 0.3 supervised Deep SVDD + 0.2 VAE),
  backward, clip_grad_norm_(1.0), AdamW (lr 1e-4, betas 0.9/0.999, eps 1e-8,
  weight decay 0.01).
* infer: forward in evaluation mode under torch.no_grad().

Input: standard normal frames (B, T, 3, S, S), labels i % classes with class 7
(NormalVideos) normal, as `vadbench bench` uses. After --warmup untimed steps,
--steps timed steps; prints one JSON line with the keys of `vadbench bench`:
mode, backend, threads, batch, clip, steps, images_per_s (B*T*steps / total
seconds), median_ms, p90_ms, p99_ms (linear interpolation between order
statistics, numpy's default), peak_rss_mb (the process's peak resident set),
param_bytes, trainable_params and, in training, last_loss.
"""

import argparse
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin  # noqa: E402  (the model twin)


def read_model(path, variant):
    import yaml
    with open(path) as f:
        doc = yaml.safe_load(f)
    m = doc.get("model") or (doc.get("base") or {}).get("model")
    if m is None:
        raise SystemExit(f"{path}: no `model:` mapping (nor `base: {{model: ...}}`)")
    cfg = twin.model_config_from_mapping(m)
    if variant:
        variants = doc.get("variants") or {}

        def apply(name, depth=0):
            v = variants.get(name)
            if v is None or depth > 16:
                raise SystemExit(f"{path}: variant '{name}' is not defined")
            if "extends" in v:
                apply(v["extends"], depth + 1)
            for k, val in v.items():
                if k.startswith("model."):
                    over = twin.model_config_from_mapping(_nest(k[6:], val))
                    for ck, cv in over.items():
                        if cv != twin.MODEL_DEFAULTS[ck]:
                            cfg[ck] = cv
        apply(variant)
    return cfg


def _nest(dotted, val):
    out = cur = {}
    parts = dotted.split(".")
    for p in parts[:-1]:
        cur[p] = {}
        cur = cur[p]
    cur[parts[-1]] = val
    return out


def percentile(sorted_ms, q):
    pos = q * (len(sorted_ms) - 1)
    lo = int(pos)
    if lo >= len(sorted_ms) - 1:
        return sorted_ms[-1]
    return sorted_ms[lo] + (pos - lo) * (sorted_ms[lo + 1] - sorted_ms[lo])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--variant")
    ap.add_argument("--mode", choices=("train", "infer"), default="train")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--clip", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--channels-last", action="store_true",
                    help="run the convolutions in channels_last (NHWC) memory format")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="cuda: channels-last, cuDNN autotuner, synchronised timing")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                    help="bf16: torch.autocast(bfloat16) around forward and loss (GPU only)")
    ap.add_argument("--count-flops", action="store_true",
                    help="add flops_per_step: PyTorch's FLOP counter over one more step "
                         "(torch.utils.flop_counter, PyTorch 2.1 and later)")
    a = ap.parse_args()
    if a.precision == "bf16" and a.device != "cuda":
        ap.error("--precision bf16 needs --device cuda")
    dev = torch.device(a.device)
    if a.device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("bench_torch.py: --device cuda but PyTorch sees no GPU")
        a.channels_last = True
        torch.backends.cudnn.benchmark = True
        tf32 = a.precision != "fp32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    if a.batch < 1 or a.clip < 1 or a.steps < 1 or a.warmup < 0 or a.threads < 0:
        ap.error("--batch, --clip and --steps must be >= 1, --warmup >= 0")
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = read_model(a.model, a.variant)
    B, T, S = a.batch, a.clip, cfg["image"]
    train = a.mode == "train"
    model = twin.HybridTwin(cfg).to(dev)  # float32, PyTorch's default initialisation
    model.train(train)
    x = (torch.randn(B, T, 3, S, S) if T > 1 else torch.randn(B, 3, S, S)).to(dev)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last) if T == 1 else x
    labels = (torch.arange(B) % cfg["classes"]).to(dev)
    anomaly = (labels != 7 % cfg["classes"]).long()
    sites = model.dropout_sites(B, T)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=0.01)
    gpu = a.device == "cuda"

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=a.precision == "bf16") \
            if gpu else torch.autocast("cpu", enabled=False)

    def one_step():
        """One timed unit; returns the loss (training) or None."""
        if train:
            noise = {n: torch.empty(shape, device=dev).bernoulli_(1 - p).div_(1 - p)
                     for n, (p, shape) in sites.items()}
            if cfg["vae_level"] != "none":
                noise["vae.eps"] = torch.randn(B * T, cfg["vae_latent"], device=dev)
            opt.zero_grad(set_to_none=True)
            with autocast():
                out = model(x, noise)
                loss = twin.hybrid_loss(out, labels, anomaly)["total"]
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            return loss.item()  # waits for the step, as vadbench's step does
        with torch.no_grad(), autocast():
            model(x)
        return None

    times, last_loss = [], None
    for step in range(a.warmup + a.steps):
        if gpu:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        last_loss = one_step()
        if gpu:
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    t = sorted(times[a.warmup:])
    nparam = sum(p.numel() for p in model.parameters())
    res = {
        "mode": a.mode, "backend": f"torch-{a.device}", "threads": torch.get_num_threads(),
        "precision": a.precision,
        "batch": B, "clip": T, "steps": a.steps,
        "images_per_s": B * T * a.steps / (sum(t) / 1e3),
        "median_ms": percentile(t, 0.5), "p90_ms": percentile(t, 0.9),
        "p99_ms": percentile(t, 0.99),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "param_bytes": 4 * sum(v.numel() for v in model.state_dict().values()),
        "trainable_params": nparam, "torch_version": torch.__version__,
        "channels_last": a.channels_last,
    }
    if gpu:
        res["device"] = torch.cuda.get_device_name()
        res["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 1048576.0
        res["cudnn_version"] = torch.backends.cudnn.version()
    if train:
        res["last_loss"] = last_loss
    if a.count_flops:
        try:
            from torch.utils.flop_counter import FlopCounterMode
            fc = FlopCounterMode(display=False)
            with fc:
                one_step()
            res["flops_per_step"] = fc.get_total_flops()
        except Exception as e:  # an older PyTorch: the ratio stays, TFLOP/s do not
            res["flops_error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(res, separators=(",", ":")))


if __name__ == "__main__":
    main()
