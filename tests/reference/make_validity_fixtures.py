#!/usr/bin/python3
"""PyTorch references for Ruff et al.'s LeNet, its autoencoder and the Deep SVDD
training protocol (experiments/ruff_fmnist.yaml): the fixtures of
tests/test_torch_lenet.c, in their own folder tests/fixtures_validity/ (the
2 MB budget of tests/fixtures/ is spent; this folder has a 400 KB guard of its
own, base/validity_fixtures_stay_under_400_KB).

Usage (from the repository root; Debian's python3-torch, and for the
training fixture the dataset-fashion-mnist package, whose first 16 T-shirt
training images it stores):

    /usr/bin/python3 tests/reference/make_validity_fixtures.py tests/fixtures_validity [NAME ...]

* ``lenet_kernels.safetensors`` -- one case per op the LeNet needs, in the
  conventions of make_fixtures.py (NHWC activations, float64 references from
  float32-representable inputs rounded once, geometry as JSON metadata per
  case): max pooling 2x2 (an odd map with floor mode, ties from quantised
  values; and 16 channels), LeakyReLU(0.01) with exact zeros, BatchNorm
  without affine parameters (2-D train and eval, 1-D train, eps 1e-4),
  bias-free 5x5 convolutions (1 and 3 input channels), a bias-free linear,
  nearest upsampling x2, bias-free transposed 5x5 convolutions with padding
  2 and 3 (the decoder's).
* ``ruff_parity.safetensors`` -- the protocol end to end. ``images`` (16
  Fashion-MNIST T-shirts, 0..255 as F32); weights from twin.formula_tensor
  (gain 1.0) under vadbench's names, BatchNorm statistics fresh (0, 1);
  ``train.loss`` the per-step loss of full-batch training (batch 16 = the
  whole set, so the sample order inside a batch cannot matter) for 12 epochs:
  torch.optim.Adam(lr 1e-3, weight_decay 1e-3), lr x 0.1 from epoch 6, the
  centre from the eval-mode mean with floor 0.1 (``center``), mean squared
  distance; ``final.scores`` the eval-mode distances of the 16 images after
  training. ``ae.*``: one forward/backward of the autoencoder (formula
  weights, the same images, training mode): its loss, reconstruction, and
  per-tensor gradient checksums (sum, sum of squares, sum of |g|) in the
  order of metadata ``ae_params``.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from make_fixtures import Case, case_conv2d
from ruff_twin import FMNIST_DIR, Autoencoder, LeNet, load_fmnist
from twin import (f32, formula_tensor, gen, leaf, nhwc, rand, randn, save_safetensors,
                  write_fixtures)

TOTAL_LIMIT = 400 * 1024


# ----------------------------------------------------------------- kernel cases

def case_maxpool(store, meta, name, seed, n, c, h, w, quantise):
    g = gen(seed)
    x0 = randn(g, n, c, h, w)
    if quantise:  # few distinct values: windows with ties
        x0 = torch.round(x0 * 2) / 2
    x = leaf(f32(x0))
    y = F.max_pool2d(x, 2, 2)
    dy = randn(g, *y.shape)
    y.backward(dy)
    cs = Case(store, meta, name, op="maxpool", n=n, c=c, h=h, w=w, k=2, oh=y.shape[2],
              ow=y.shape[3])
    cs.put("x", nhwc(x))
    cs.put("y", nhwc(y))
    cs.put("dy", nhwc(dy))
    cs.put("dx", nhwc(x.grad))


def case_leaky(store, meta, name, seed, n, slope):
    g = gen(seed)
    extremes = torch.tensor([-100.0, -1e-6, 0.0, 0.0, 1e-6, 100.0], dtype=torch.float64)
    x = leaf(f32(torch.cat([randn(g, n - len(extremes), scale=3.0), extremes])))
    y = F.leaky_relu(x, slope)
    dy = randn(g, *y.shape)
    y.backward(dy)
    cs = Case(store, meta, name, op="leaky", n=n, slope=slope)
    for k, v in (("x", x), ("y", y), ("dy", dy), ("dx", x.grad)):
        cs.put(k, v)


def case_bn_plain(store, meta, name, seed, shape, train, eps=1e-4, momentum=0.1):
    """BatchNorm without affine parameters (affine=False): only running stats."""
    g = gen(seed)
    c_ = shape[1]
    x = leaf(f32(randn(g, *shape) * 1.5 + 0.7))
    rm0 = randn(g, c_, scale=0.3)
    rv0 = rand(g, c_, lo=0.5, hi=2.0)
    rm, rv = rm0.clone(), rv0.clone()
    y = F.batch_norm(x, rm, rv, None, None, training=train, momentum=momentum, eps=eps)
    dy = randn(g, *y.shape)
    y.backward(dy)
    img = len(shape) == 4
    rows = shape[0] * (shape[2] * shape[3] if img else 1)
    layout = nhwc if img else (lambda t: t)
    cs = Case(store, meta, name, op="bn_plain", rows=rows, c=c_, eps=eps, momentum=momentum,
              train=train)
    cs.put("x", layout(x))
    cs.put("run_mean0", rm0)
    cs.put("run_var0", rv0)
    if train:
        cs.put("run_mean", rm)
        cs.put("run_var", rv)
    cs.put("y", layout(y))
    cs.put("dy", layout(dy))
    cs.put("dx", layout(x.grad))


def case_linear_nobias(store, meta, name, seed, rows, inp, out):
    g = gen(seed)
    x = leaf(randn(g, rows, inp))
    w = leaf(randn(g, out, inp, scale=inp ** -0.5))
    y = F.linear(x, w)
    dy = randn(g, *y.shape)
    y.backward(dy)
    cs = Case(store, meta, name, op="linear", rows=rows, input=inp, output=out, bias=False)
    for k, v in (("x", x), ("w", w), ("y", y), ("dy", dy), ("dx", x.grad), ("dw", w.grad)):
        cs.put(k, v)


def case_upsample(store, meta, name, seed, n, c, h, w, s):
    g = gen(seed)
    x = leaf(randn(g, n, c, h, w))
    y = F.interpolate(x, scale_factor=s)
    dy = randn(g, *y.shape)
    y.backward(dy)
    cs = Case(store, meta, name, op="upsample", n=n, c=c, h=h, w=w, s=s)
    for k, v in (("x", x), ("y", y), ("dy", dy), ("dx", x.grad)):
        cs.put(k, nhwc(v))


def case_convt_nobias(store, meta, name, seed, n, cin, h, w, cout, k, pad):
    g = gen(seed)
    x = leaf(randn(g, n, cin, h, w))
    wt = leaf(randn(g, cin, cout, k, k, scale=(cin * k * k) ** -0.5))
    y = F.conv_transpose2d(x, wt, None, stride=1, padding=pad)
    dy = randn(g, *y.shape)
    y.backward(dy)
    cs = Case(store, meta, name, op="convt2d", n=n, h=h, w=w, cin=cin, cout=cout, k=k,
              stride=1, pad=pad, bias=False, oh=y.shape[2], ow=y.shape[3])
    cs.put("x", nhwc(x))
    cs.put("w", wt)
    cs.put("y", nhwc(y))
    cs.put("dy", nhwc(dy))
    cs.put("dx", nhwc(x.grad))
    cs.put("dw", wt.grad)


def fixture_lenet_kernels(path):
    store, meta = {}, {}
    case_maxpool(store, meta, "maxpool_odd_ties", 901, n=2, c=6, h=5, w=7, quantise=True)
    case_maxpool(store, meta, "maxpool_c16", 902, n=2, c=16, h=6, w=4, quantise=False)
    case_leaky(store, meta, "leaky_001", 903, n=40, slope=0.01)
    case_bn_plain(store, meta, "bn2d_plain_train", 904, (3, 4, 3, 5), train=True)
    case_bn_plain(store, meta, "bn2d_plain_eval", 905, (2, 4, 3, 3), train=False)
    case_bn_plain(store, meta, "bn1d_plain_train", 906, (8, 6), train=True)
    case_conv2d(store, meta, "conv5x5_cin1", 907, n=2, cin=1, h=7, w=6, cout=4, k=5, stride=1,
                pad=2, groups=1, bias=False)
    case_conv2d(store, meta, "conv5x5_cin3", 908, n=2, cin=3, h=6, w=6, cout=5, k=5, stride=1,
                pad=2, groups=1, bias=False)
    case_linear_nobias(store, meta, "linear_nobias", 909, rows=5, inp=7, out=3)
    case_upsample(store, meta, "upsample_x2", 910, n=2, c=5, h=3, w=4, s=2)
    case_convt_nobias(store, meta, "convt_k5p2", 911, n=2, cin=3, h=4, w=4, cout=2, k=5, pad=2)
    case_convt_nobias(store, meta, "convt_k5p3", 912, n=2, cin=2, h=6, w=6, cout=3, k=5, pad=3)
    meta["generator"] = "tests/reference/make_validity_fixtures.py"
    meta["torch_version"] = torch.__version__
    save_safetensors(path, store, meta)


# ----------------------------------------------------------------- the protocol

GAIN = 1.0
N_IMG, EPOCHS, MILESTONE, LR, WD, FLOOR = 16, 12, 6, 1e-3, 1e-3, 0.1


def formula_weights(module, prefix):
    """Every parameter from formula_tensor under vadbench's name; BN statistics fresh."""
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_mean"):
                t.zero_()
            elif name.endswith("running_var"):
                t.fill_(1.0)
            else:
                t.copy_(formula_tensor(prefix + name, tuple(t.shape), GAIN))


def fixture_ruff_parity(path):
    xtr, ytr, _, _ = load_fmnist(FMNIST_DIR)
    imgs = xtr[ytr == 0][:N_IMG]  # the first T-shirts of the training file
    x = torch.from_numpy(imgs.astype(np.float64) / 255.0).unsqueeze(1)  # float64 twin
    net = LeNet().double()
    formula_weights(net, "backbone.lenet.")
    # centre: eval-mode mean before training, floor 0.1 (c_i == 0 left alone)
    net.eval()
    with torch.no_grad():
        c = net(x).mean(0)
    c[(c.abs() < FLOOR) & (c < 0)] = -FLOOR
    c[(c.abs() < FLOOR) & (c > 0)] = FLOOR
    opt = torch.optim.Adam(net.parameters(), lr=LR, weight_decay=WD)
    losses = []
    for e in range(EPOCHS):
        for g in opt.param_groups:
            g["lr"] = LR * (0.1 if e >= MILESTONE else 1.0)
        net.train()
        opt.zero_grad()
        loss = torch.mean(torch.sum((net(x) - c) ** 2, dim=1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    net.eval()
    with torch.no_grad():
        final = torch.sum((net(x) - c) ** 2, dim=1)
    store = {"images": torch.from_numpy(imgs.astype(np.float32)),
             "train.loss": torch.tensor(losses, dtype=torch.float32),
             "center": c.float(), "final.scores": final.float()}
    # the autoencoder: one training-mode forward/backward from formula weights
    ae = Autoencoder().double()
    formula_weights(ae, "")
    ae.train()
    rec = ae(x)
    aloss = torch.mean((rec - x) ** 2)
    aloss.backward()
    names = []
    gs, gq, ga = [], [], []
    for name, p in ae.named_parameters():
        names.append(name)
        gs.append(p.grad.sum().item())
        gq.append((p.grad ** 2).sum().item())
        ga.append(p.grad.abs().sum().item())
    store["ae.loss"] = torch.tensor([aloss.item()], dtype=torch.float32)
    store["ae.rec"] = nhwc(rec.detach()).float()
    store["ae.gsum"] = torch.tensor(gs, dtype=torch.float32)
    store["ae.gsq"] = torch.tensor(gq, dtype=torch.float32)
    store["ae.gabs"] = torch.tensor(ga, dtype=torch.float32)
    case = {"images": N_IMG, "epochs": EPOCHS, "milestone": MILESTONE, "lr": LR,
            "weight_decay": WD, "center_floor": FLOOR, "gain": GAIN}
    meta = {"case": json.dumps(case, sort_keys=True), "ae_params": json.dumps(names),
            "generator": "tests/reference/make_validity_fixtures.py",
            "torch_version": torch.__version__}
    save_safetensors(path, {k: v.contiguous() for k, v in store.items()}, meta)


FIXTURES = {
    "lenet_kernels.safetensors": fixture_lenet_kernels,
    "ruff_parity.safetensors": fixture_ruff_parity,
}


def main(argv):
    torch.set_default_dtype(torch.float64)
    rc, outdir = write_fixtures("make_validity_fixtures.py", __doc__, FIXTURES, argv)
    if rc or outdir is None:
        return rc
    total = sum(os.path.getsize(os.path.join(outdir, n)) for n in FIXTURES
                if os.path.exists(os.path.join(outdir, n)))
    if total > TOTAL_LIMIT:
        print(f"make_validity_fixtures.py: fixtures total {total} bytes, over {TOTAL_LIMIT}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
