#!/usr/bin/python3
"""PyTorch references for vadbench's training step: losses, a 10-step run, SAM/ASAM.

Usage (from the repository root; needs Debian's python3-torch and
python3-torchvision, like make_fixtures.py and twin.py, whose model twin it uses):

    /usr/bin/python3 tests/reference/make_train_parity.py tests/fixtures
    make fixtures                      # runs this after make_fixtures.py

The output is deterministic (seeded torch.Generator streams, one thread).

What it makes:

* ``losses.json`` (tests/test_losses.c) -- every MODEL_SPEC §4 loss, value
  and gradient, by torch autograd in float64 on float32-representable inputs:
  ``focal_rows`` (one row of the focal loss: logits ``z``, class ``y``, γ, α,
  smoothing ε, a gradient ``scale``; ``loss`` and ``grad`` = scale·dloss/dz),
  ``ce_rows`` (soft-target cross entropy: ``z``, target ``q``), and
  ``batches``: whole-batch cases of loss_compute -- model outputs (class and
  binary logits, SVDD distances, per-frame VAE mse/kl), Mixup targets (ya,
  yb, anomaly flags, λ per sample), the LossConfig, and the reference parts
  (cls, bin, svdd, vae, total) with d total / d each output. The default
  supervised case also carries ``seed_undetached``: the same loss with the
  SVDD margin left attached, as the seed computed it (equal value, different
  gradient), so the test can show it tells the two apart.
* ``train_parity.safetensors`` + ``train_parity.yaml`` (tests/test_train_parity.c)
  -- a reduced-width model (CFG below: EfficientNet width/depth 0.1 at 64×64,
  2-layer bidirectional GRU, small heads, feature VAE; clips B 4, T 2; the
  YAML; weights from make_fixtures.formula_tensor, not stored; input of step s
  = slice s of formula_tensor("x", (10, B, T, 3, S, S)); SVDD centre = the
  mean evaluation-mode embedding of step 0's normal clips with coordinates
  under 0.01 pushed to ±0.01, as train_svdd_center computes it, stored)
  trained for 10 steps by the twin in float64: AdamW (β 0.9/0.999, ε 1e-8,
  weight decay 0.01) with torch's OneCycleLR (max 1e-3, 20% warm-up, div 25,
  final div 1e4, cosine, no momentum cycling) over the 10 steps, clipping to
  global norm 1.0, the default losses (supervised SVDD on, centre = the
  stored ``center``). Stored: labels per step, the dropout masks and VAE eps
  of every step (``s<k>.<C site name>``, ``s<k>.vae.eps``), the learning
  rate, pre-clip gradient norm and loss parts per step, and per tensor of the
  state_dict (params and BN buffers, state_dict order) checksums of the
  final values (Σx, Σx²) and of the change from the initial values (ΣΔ, ΣΔ²,
  Σ|Δ|). Then one SAM step (ρ 0.05) and one ASAM step (ρ 2.0) from the
  initial weights on step 0's batch at a constant lr 1e-3: Foret et al.'s
  algorithm written out here (ε = ρ·g/‖g‖, ASAM ε = ρ·p²·g/‖|p|·g‖; second
  forward/backward at p+ε with BatchNorm running statistics restored after
  it; p restored; clip; AdamW with the second gradient). Stored per variant:
  both passes' loss parts, the second gradient's norm and per-tensor
  checksums, checksums of the parameter change, and the BN running
  statistics after the step (flat, state_dict order).
  Every reference is also computed by PyTorch in float32 (``*dev32``
  tensors: |float32 − float64| per value): the C test's yardstick for
  values that are ill-conditioned. ``invariant`` (metadata) lists the
  parameters whose gradient is zero in exact arithmetic (BN biases feeding
  a training-mode BN through linear maps only, the attention score bias),
  which float32 noise moves by up to the learning rate per step.

Choices, measured: every step sees a new batch (training ten times on one
batch drives some BatchNorm channels towards zero variance, and float32 and
float64 runs then part by 20% or more within ten steps); 64×64 rather than
32×32 (at 32 the last stages run on 1×1 maps, BatchNorm over 8 values, and
PyTorch's own float32 run drifts by up to 5e-4 of the loss, against 1.1e-5
here); formula gain 1.6 as the model fixtures.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (the model twin, formula weights, safetensors)

PARITY_LIMIT = 300 * 1024
GEN = "tests/reference/make_train_parity.py"

# ----------------------------------------------------------------- losses (MODEL_SPEC §4)

DEFAULTS = dict(gamma=2.5, alpha=0.25, class_alpha=None, smoothing=0.1, w_cls=1.0, w_bin=0.5,
                w_svdd=0.3, w_vae=0.2, vae_beta=1.0, svdd_mode="supervised", svdd_nu=0.1,
                svdd_r2=0.0, svdd_on=True)


def focal_per_row(z, y, gamma, alpha_row, eps):
    """α_y·(1 − p_y)^γ·CE(q, p), q = (1−ε)·onehot(y) + ε/C, p_y unsmoothed."""
    C = z.shape[1]
    lp = torch.log_softmax(z, dim=1)
    q = F.one_hot(y, C).to(z.dtype) * (1 - eps) + eps / C
    ce = -(q * lp).sum(1)
    py = lp.gather(1, y[:, None])[:, 0].exp()
    return alpha_row * (1 - py) ** gamma * ce


def spec_loss(zc, zb, d, mse, kl, tg, lc, detach_margin=True):
    """The loss of one batch from its outputs: class logits zc [B,C], binary
    logits zb [B,2], SVDD distances d [B], per-frame VAE mse/kl [B·T] (None
    without a VAE). tg: ya, yb, aa, ab (int64 [B]) and lam (float64 [B]):
    sample i stands for its source a with weight λ_i and b with 1 − λ_i, and
    every term mixes with those weights. Returns {cls, bin, svdd, vae, total}."""
    ya, yb, aa, ab, lam = tg["ya"], tg["yb"], tg["aa"], tg["ab"], tg["lam"].to(zc.dtype)
    ca = lc["class_alpha"]
    if ca is None:
        al_a = al_b = torch.full_like(lam, lc["alpha"])
    else:
        ca = torch.tensor(ca, dtype=zc.dtype)
        al_a, al_b = ca[ya], ca[yb]
    g, e = lc["gamma"], lc["smoothing"]
    cls = (lam * focal_per_row(zc, ya, g, al_a, e) +
           (1 - lam) * focal_per_row(zc, yb, g, al_b, e)).mean()
    q = (lam[:, None] * F.one_hot(aa, 2).to(zc.dtype) +
         (1 - lam)[:, None] * F.one_hot(ab, 2).to(zc.dtype))
    binl = -(q * torch.log_softmax(zb, dim=1)).sum(1).mean()
    zero = zc.new_zeros(())
    svdd = zero
    if lc["svdd_on"] and lc["w_svdd"] > 0:
        wn = lam * (aa == 0) + (1 - lam) * (ab == 0)   # weight of each sample's normal sources
        wa = lam * (aa == 1) + (1 - lam) * (ab == 1)   # ... and of its anomalous ones
        Wn, Wa = float(wn.sum()), float(wa.sum())
        mode = lc["svdd_mode"]
        if mode == "soft-boundary":
            r2, nu = lc["svdd_r2"], lc["svdd_nu"]
            svdd = r2 + (wn * torch.relu(d - r2)).sum() / (nu * Wn) if Wn > 0 else zero
        else:
            dn = (wn * d).sum() / Wn if Wn > 0 else zero
            svdd = dn
            if mode == "supervised":
                margin = (dn.detach() if detach_margin else dn) + 1.0
                if Wa > 0:
                    svdd = dn + (wa * torch.relu(margin - d)).sum() / Wa
            else:
                assert mode == "one-class", mode
    vae = (mse + lc["vae_beta"] * kl).mean() if mse is not None else zero
    total = lc["w_cls"] * cls + lc["w_bin"] * binl + lc["w_svdd"] * svdd
    if mse is not None:
        total = total + lc["w_vae"] * vae
    return {"cls": cls, "bin": binl, "svdd": svdd, "vae": vae, "total": total}


def _vals(t):
    return [float(v) for v in t.detach().reshape(-1)]


def focal_row_case(g, C, y, gamma, alpha, eps, scale=1.0, shift=None):
    z = mf.randn(g, 1, C, scale=2.0)
    if shift is not None:  # a confident (or hopeless) row: p_y close to 1 (or 0)
        z[0, y] += shift
    z = mf.leaf(mf.f32(z))
    loss = scale * focal_per_row(z, torch.tensor([y]), gamma, torch.tensor([alpha], dtype=z.dtype),
                                 eps)[0]
    loss.backward()
    return {"z": _vals(z), "y": y, "gamma": gamma, "alpha": alpha, "eps": eps, "scale": scale,
            "loss": float(loss) / scale, "grad": _vals(z.grad)}


def ce_row_case(g, C, q, scale=1.0):
    z = mf.leaf(mf.randn(g, 1, C, scale=2.0))
    qt = torch.tensor([q], dtype=torch.float64)
    loss = -(qt * torch.log_softmax(z, dim=1)).sum() * scale
    loss.backward()
    return {"z": _vals(z), "q": q, "scale": scale, "loss": float(loss) / scale,
            "grad": _vals(z.grad)}


def batch_case(name, g, B, T, C, lc_over, ya, aa, yb=None, ab=None, lam=None, vae=True,
               dscale=1.0, seed_variant=False):
    lc = dict(DEFAULTS, **lc_over)
    zc = mf.leaf(mf.randn(g, B, C, scale=2.0))
    zb = mf.leaf(mf.randn(g, B, 2, scale=1.5))
    d = mf.leaf(mf.f32(mf.rand(g, B, lo=0.2, hi=3.0) * dscale))
    mse = mf.leaf(mf.rand(g, B * T, lo=0.1, hi=2.0)) if vae else None
    kl = mf.leaf(mf.rand(g, B * T, lo=0.0, hi=5.0)) if vae else None
    yb, ab = (ya if yb is None else yb), (aa if ab is None else ab)
    lam = [1.0] * B if lam is None else lam
    lam = [float(torch.tensor(v, dtype=torch.float32)) for v in lam]  # float32 values, as C keeps λ
    tg = {"ya": torch.tensor(ya), "yb": torch.tensor(yb), "aa": torch.tensor(aa),
          "ab": torch.tensor(ab), "lam": torch.tensor(lam, dtype=torch.float64)}
    parts = spec_loss(zc, zb, d, mse, kl, tg, lc)
    parts["total"].backward()
    case = {"name": name, "B": B, "T": T, "C": C, "vae": vae, "config": lc,
            "inputs": {"cls": _vals(zc), "bin": _vals(zb), "score": _vals(d),
                       "mse": _vals(mse) if vae else [], "kl": _vals(kl) if vae else [],
                       "ya": ya, "yb": yb, "anom_a": aa, "anom_b": ab, "lam": lam},
            "parts": {k: float(v) for k, v in parts.items()},
            "grads": {"g_cls": _vals(zc.grad), "g_bin": _vals(zb.grad),
                      "g_svdd_w": _vals(d.grad if d.grad is not None else torch.zeros_like(d)),
                      "g_vae_wm": _vals(mse.grad) if vae else [],
                      "g_vae_wk": _vals(kl.grad) if vae else []}}
    if seed_variant:
        d2 = mf.leaf(d.detach())
        p2 = spec_loss(zc.detach(), zb.detach(), d2, None if mse is None else mse.detach(),
                       None if kl is None else kl.detach(), tg, lc, detach_margin=False)
        p2["total"].backward()
        case["seed_undetached"] = {"svdd": float(p2["svdd"]), "g_svdd_w": _vals(d2.grad)}
        assert abs(float(p2["svdd"]) - float(parts["svdd"])) < 1e-12
    return case


def fixture_losses(path):
    g = mf.gen(4001)
    rows = [focal_row_case(g, 5, 2, 2.5, 0.25, 0.1),
            focal_row_case(g, 5, 0, 2.5, 0.25, 0.1, scale=0.25),
            focal_row_case(g, 5, 4, 2.5, 0.25, 0.1, shift=6.0),   # p_y ≈ 0.99
            focal_row_case(g, 5, 1, 2.5, 0.25, 0.1, shift=-4.0),  # p_y small
            focal_row_case(g, 5, 3, 0.0, 1.0, 0.0),               # plain cross entropy
            focal_row_case(g, 5, 3, 1.0, 0.6, 0.2),
            focal_row_case(g, 14, 7, 2.5, 0.25, 0.1),
            focal_row_case(g, 14, 11, 2.5, 1.7, 0.1, scale=0.5)]
    ce = [ce_row_case(g, 2, [1.0, 0.0]), ce_row_case(g, 2, [0.0, 1.0], scale=0.5),
          ce_row_case(g, 2, [0.3, 0.7]), ce_row_case(g, 5, [0.1, 0.2, 0.0, 0.6, 0.1])]
    B, T, C = 6, 2, 5
    ya, aa = [1, 0, 3, 1, 4, 2], [0, 1, 1, 0, 1, 1]          # class 1 is normal
    yb, ab = [0, 1, 1, 2, 1, 1], [1, 0, 0, 1, 0, 0]
    lam = [0.7, 0.25, 1.0, 0.0, 0.55, 0.9]
    counts = [3, 9, 2, 4, 5]                                   # sklearn "balanced": n / (C·count)
    balanced = [sum(counts) / (C * c) for c in counts]
    batches = [
        batch_case("supervised", g, B, T, C, {}, ya, aa, seed_variant=True),
        batch_case("balanced_alpha", g, B, T, C, {"class_alpha": balanced}, ya, aa),
        batch_case("plain_ce_weights", g, B, T, C,
                   {"gamma": 0.0, "alpha": 1.0, "smoothing": 0.0, "w_cls": 0.8, "w_bin": 1.0,
                    "w_svdd": 0.5, "w_vae": 0.1, "vae_beta": 0.5}, ya, aa),
        batch_case("one_class", g, B, T, C, {"svdd_mode": "one-class"}, ya, aa),
        batch_case("soft_boundary", g, B, T, C, {"svdd_mode": "soft-boundary", "svdd_r2": 1.1},
                   ya, aa),
        batch_case("mixed_supervised", g, B, T, C, {}, ya, aa, yb, ab, lam, seed_variant=True),
        batch_case("mixed_balanced", g, B, T, C, {"class_alpha": balanced}, ya, aa, yb, ab, lam),
        batch_case("mixed_one_class", g, B, T, C, {"svdd_mode": "one-class"}, ya, aa, yb, ab, lam),
        batch_case("mixed_soft_boundary", g, B, T, C,
                   {"svdd_mode": "soft-boundary", "svdd_r2": 0.9, "svdd_nu": 0.3},
                   ya, aa, yb, ab, lam),
        batch_case("no_normals", g, B, T, C, {}, [0, 2, 3, 4, 0, 2], [1] * B, dscale=0.4),
        batch_case("no_anomalies", g, B, T, C, {}, [1] * B, [0] * B),
        batch_case("svdd_off", g, B, T, C, {"svdd_on": False}, ya, aa),
        batch_case("no_vae", g, B, 1, C, {}, ya, aa, vae=False),
    ]
    doc = {"generator": GEN, "torch_version": torch.__version__,
           "focal_rows": rows, "ce_rows": ce, "batches": batches}
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)


# ----------------------------------------------------------------- training run, SAM, ASAM

STEPS, B, T, NORMAL = 10, 4, 2, 1
CFG = mf.model_config(width=0.1, depth=0.1, image=64, temporal="gru", vae_level="feature",
                      vae_latent=6, vae_hidden=[20, 10], **mf._SMALL)
ADAMW = dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
ONECYCLE = dict(max_lr=1e-3, pct_start=0.2, div_factor=25.0, final_div_factor=1e4)
CLIP = 1.0
SAM_LR, SAM_RHO, ASAM_RHO = 1e-3, 0.05, 2.0
PARTS = ("cls", "bin", "svdd", "vae", "total")


def make_run_inputs():
    """Inputs, targets, masks and eps of every step, and the SVDD centre."""
    S, C = CFG["image"], CFG["classes"]
    x_all = mf.formula_tensor("x", (STEPS, B, T, 3, S, S)).double()
    g = mf.gen(5001)
    labels = []
    for _ in range(STEPS):
        while True:
            y = torch.randint(0, C, (B,), generator=g)
            if 0 < int((y != NORMAL).sum()) < B:
                break
        labels.append(y)
    sites = mf.HybridTwin(CFG).dropout_sites(B, T)
    noises = []
    for _ in range(STEPS):
        nz = {site: (torch.rand(*shape, generator=g) >= p).to(torch.float32) / (1.0 - p)
              for site, (p, shape) in sites.items()}
        nz["vae.eps"] = torch.randn(B * T, CFG["vae_latent"], generator=g)
        noises.append(nz)
    # centre: mean evaluation-mode embedding of step 0's normal clips, coordinates
    # under 0.01 in magnitude pushed to ±0.01 (what train_svdd_center does)
    twin = mf.twin_from_formula(CFG).eval()
    with torch.no_grad():
        e = twin(x_all[0])["svdd_embedding"]
    c = e[labels[0] == NORMAL].mean(0)
    c = torch.where(c.abs() < 0.01, torch.where(c < 0, -0.01, 0.01).to(c.dtype), c)
    return x_all, labels, noises, c.float()


def targets(y):
    a = (y != NORMAL).long()
    return {"ya": y, "yb": y, "aa": a, "ab": a, "lam": torch.ones(len(y), dtype=torch.float64)}


def fresh_twin(dtype, center):
    twin = mf.twin_from_formula(CFG).to(dtype)
    with torch.no_grad():
        twin.anomaly_head.center.copy_(center.to(dtype))
    twin.train()
    return twin


def step_loss(twin, x, noise, y):
    out = twin(x.to(next(twin.parameters()).dtype), noise)
    parts = spec_loss(out["class_logits"], out["binary_logits"], out["svdd_score"], out["_mse"],
                      out["_kl"], targets(y), DEFAULTS)
    if out["_mse"].dtype == torch.float64:  # the same loss as make_fixtures.hybrid_loss (λ = 1)
        ref = mf.hybrid_loss(out, y, (y != NORMAL).long())
        assert all(abs(float(ref[k] - parts[k])) < 1e-12 for k in PARTS)
    return parts


def state(twin):
    return {k: v.detach().double().clone() for k, v in twin.export_state_dict().items()
            if not k.endswith("num_batches_tracked")}


def checksums(tensors, init=None, abs_sum=False):
    rows = []
    for k, v in tensors.items():
        d = v - init[k] if init is not None else v
        r = [float(d.sum()), float((d * d).sum())]
        rows.append(r + [float(d.abs().sum())] if abs_sum else r)
    return torch.tensor(rows, dtype=torch.float64)


def train_run(dtype, x_all, labels, noises, center):
    """STEPS optimiser steps; returns the per-step records and final checksums."""
    twin = fresh_twin(dtype, center)
    init = state(twin)
    params = list(twin.parameters())
    names = [n for n, _ in twin.export_parameters()]
    opt = torch.optim.AdamW(params, lr=ONECYCLE["max_lr"], **ADAMW)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, total_steps=STEPS, anneal_strategy="cos",
                                                cycle_momentum=False, **ONECYCLE)
    lrs, gns, losses = [], [], []
    gmax = dict.fromkeys(names, 0.0)
    for s in range(STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        parts = step_loss(twin, x_all[s], noises[s], labels[s])
        opt.zero_grad()
        parts["total"].backward()
        gn = float(torch.nn.utils.clip_grad_norm_(params, CLIP))
        for n, p in zip(names, params):  # relative to the step's norm (clipping scales both)
            gmax[n] = max(gmax[n], float(p.grad.abs().max()) / (min(gn, CLIP) + 1e-30) * gn)
        opt.step()
        sched.step()
        gns.append(gn)
        losses.append([float(parts[k]) for k in PARTS])
    fin = state(twin)
    return {"lr": torch.tensor(lrs, dtype=torch.float64),
            "grad_norm": torch.tensor(gns, dtype=torch.float64),
            "loss": torch.tensor(losses, dtype=torch.float64),
            "final": checksums(fin), "delta": checksums(fin, init, abs_sum=True),
            "gmax": gmax}


def sam_run(dtype, x, noise, y, center, rho, adaptive):
    """One SAM / ASAM step (Foret et al. 2021; ASAM: Kwon et al. 2021) followed by
    clipping and AdamW with the second gradient, at a constant learning rate."""
    twin = fresh_twin(dtype, center)
    init = state(twin)
    params = list(twin.parameters())
    names = [n for n, _ in twin.export_parameters()]
    opt = torch.optim.AdamW(params, lr=SAM_LR, **ADAMW)
    opt.zero_grad()
    p1 = step_loss(twin, x, noise, y)
    p1["total"].backward()
    with torch.no_grad():
        if adaptive:  # ε = ρ·p²·g / ‖|p|·g‖
            norm = torch.sqrt(sum(((p.abs() * p.grad) ** 2).sum() for p in params))
            eps = [rho * p * p * p.grad / (norm + 1e-12) for p in params]
        else:         # ε = ρ·g / ‖g‖
            norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params))
            eps = [rho * p.grad / (norm + 1e-12) for p in params]
        for p, e in zip(params, eps):
            p.add_(e)
    bn = {k: v.clone() for k, v in twin.state_dict().items() if k.endswith(("running_mean",
                                                                           "running_var"))}
    opt.zero_grad()
    p2 = step_loss(twin, x, noise, y)  # training-mode BN (batch statistics) at p + ε ...
    p2["total"].backward()
    with torch.no_grad():
        sd = twin.state_dict()
        for k, v in bn.items():  # ... whose running statistics stay as the first pass set them
            sd[k].copy_(v)
        for p, e in zip(params, eps):
            p.sub_(e)
    g2 = {n: p.grad.detach().double().clone() for n, p in zip(names, params)}
    gn = float(torch.nn.utils.clip_grad_norm_(params, CLIP))
    opt.step()
    fin = state(twin)
    pnames = set(names)
    stats = [v.reshape(-1) for k, v in fin.items() if k.endswith(("running_mean", "running_var"))]
    return {"loss1": torch.tensor([float(p1[k]) for k in PARTS], dtype=torch.float64),
            "loss2": torch.tensor([float(p2[k]) for k in PARTS], dtype=torch.float64),
            "grad_norm": torch.tensor([gn], dtype=torch.float64),
            "grad2": checksums(g2, abs_sum=True),
            "delta": checksums({k: v for k, v in fin.items() if k in pnames},
                               {k: v for k, v in init.items() if k in pnames}, abs_sum=True),
            "bn_state": torch.cat(stats)}


def fixture_train_parity(path):
    x_all, labels, noises, center = make_run_inputs()
    store = {"labels": torch.stack(labels).float(), "center": center}
    for s in range(STEPS):
        for k, v in noises[s].items():
            store[f"s{s}.{k}"] = v
    ref, dev = {}, {}
    for dt in (torch.float64, torch.float32):
        r = {"train": train_run(dt, x_all, labels, noises, center)}
        r["sam"] = sam_run(dt, x_all[0], noises[0], labels[0], center, SAM_RHO, False)
        r["asam"] = sam_run(dt, x_all[0], noises[0], labels[0], center, ASAM_RHO, True)
        if dt == torch.float64:
            ref = r
        else:
            dev = {g: {k: (v - ref[g][k]).abs() for k, v in d.items() if k != "gmax"}
                   for g, d in r.items()}
    for grp in ("train", "sam", "asam"):
        for k, v in ref[grp].items():
            if k == "gmax":
                continue
            store[f"{grp}.{k}"] = v
            if not (grp == "train" and k == "lr"):
                store[f"{grp}.dev32.{k}"] = dev[grp][k]
    # parameters whose float64 gradient is zero to rounding at every step
    gn_min = float(ref["train"]["grad_norm"].min())
    invariant = [n for n, v in ref["train"]["gmax"].items() if v <= 1e-9 * gn_min]
    base = mf.HybridTwin(CFG)
    pset = {n for n, _ in base.export_parameters()}
    sd = [[n, list(t.shape), "param" if n in pset else "buffer"]
          for n, t in base.export_state_dict().items() if not n.endswith("num_batches_tracked")]
    meta = {
        "case": json.dumps({"B": B, "T": T, "steps": STEPS, "normal_class": NORMAL,
                            "yaml": os.path.basename(path).replace(".safetensors", ".yaml"),
                            "weight_gain": mf.WEIGHT_GAIN, "adamw": ADAMW, "onecycle": ONECYCLE,
                            "clip": CLIP, "sam_lr": SAM_LR, "sam_rho": SAM_RHO,
                            "asam_rho": ASAM_RHO, "loss": DEFAULTS, "parts": PARTS}),
        "state_dict": json.dumps(sd),
        "invariant": json.dumps(invariant),
        "weights": "formula v1 (tests/reference/make_fixtures.py formula_tensor)",
        "format": "pt", "generator": GEN, "torch_version": torch.__version__,
    }
    for k in store:
        store[k] = store[k].detach().contiguous()
    mf.save_safetensors(path, store, meta)
    with open(path.replace(".safetensors", ".yaml"), "w") as f:
        f.write(f"# {os.path.basename(path)}: model of the training parity case ({GEN})\n" +
                mf.model_yaml(CFG))
    assert os.path.getsize(path) < PARITY_LIMIT, f"{path} exceeds {PARITY_LIMIT} bytes"


FIXTURES = {"losses.json": fixture_losses, "train_parity.safetensors": fixture_train_parity}


def main(argv):
    return mf.write_fixtures("make_train_parity.py", __doc__, FIXTURES, argv)[0]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
