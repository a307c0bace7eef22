#!/usr/bin/python3
"""PyTorch twins of vadbench's parts: writes the reference fixtures the C tests load.

Usage (from the repository root; needs Debian's python3-torch, and
python3-torchvision for the model fixtures):

    /usr/bin/python3 tests/reference/make_fixtures.py tests/fixtures [NAME ...]
    make fixtures                      # the same, for every fixture

With NAMEs (e.g. ``kernels.safetensors``) only those files are rebuilt. The output
is deterministic: inputs come from torch.Generator streams with fixed seeds, so
rerunning on the same torch version reproduces the files byte for byte.

What it makes (one function per file, registered in FIXTURES at the bottom; later
work adds model-level fixtures the same way):

* ``interop.safetensors`` -- the same values stored in F32, F16, BF16, F64 and I64,
  plus a scalar and an empty tensor, to prove the C reader decodes what PyTorch
  writes (tests/test_safetensors.c).
* ``kernels.safetensors`` -- one case per kernel op (tests/test_torch_kernels.c):
  inputs, weights, forward outputs and gradients from torch autograd for a given
  upstream gradient ``dy``. Every reference is computed in float64 from
  float32-representable inputs and then rounded to float32, so each stored output
  is the exact answer rounded once, not PyTorch's float32 arithmetic.
* ``model_<case>.safetensors`` (+ ``model_<case>.yaml``, the case's ``model:``
  mapping as vadbench reads it) -- the whole hybrid model against its PyTorch twin
  (HybridTwin in twin.py; tests/test_torch_model.c). Weights and the input ``x`` come
  from ``formula_tensor`` (the C test computes the same values), so nothing big is
  stored. Metadata: ``case`` (JSON: B, T, weight_gain, ...) and ``state_dict``
  (JSON list of [name, shape, "param" | "buffer" | "ignored"] in PyTorch's
  order). Tensors: ``labels``, ``anomaly`` (0/1), the dropout masks under the C
  model's site names and ``vae.eps`` (training mode), then per mode ``train`` /
  ``eval``: ``<mode>.<output>`` as `vadbench forward` writes them,
  ``<mode>.loss.{cls,bin,svdd,vae,total}``, ``<mode>.grad`` (every trainable
  gradient, flattened in state_dict order; ``<mode>.grad_norm`` per tensor for the
  full-size case), ``train.state`` (BN running statistics after the step), and
  ``<mode>.f32dev.{out,loss,grad,state}``: per tensor, how far PyTorch's own
  float32 run of the same model lands from the float64 reference.
  ``model_lstm_frames.weights.safetensors`` is that case's state_dict as PyTorch
  exports it (with the backbone's timm names in its metadata).

In ``kernels.safetensors``, tensor names are ``<case>.<what>``; ``what`` is
``x``/``w``/``b``/... for inputs and weights, ``y`` for the output, ``dy`` for the
upstream gradient and ``d<name>`` for gradients (``dx``, ``dw``, ``db``,
``dweight_ih_l0`` ...). Layouts are
vadbench's kernel layouts (kernels/kernels.h): image activations NHWC (torch's
NCHW permuted with ``.permute(0, 2, 3, 1).contiguous()``), sequences batch-major
``[b, t, features]``, weights in PyTorch layout unchanged. Each case's geometry
(sizes, stride, padding, groups, eps, momentum, activation ...) is a JSON object
stored as a string in ``__metadata__`` under the case's name, e.g.
``"conv2d_s2": "{\"op\": \"conv2d\", \"n\": 2, ...}"``.

Committed fixtures stay small: under 2 MB for all files together (the script
fails when they grow past that), ``kernels.safetensors`` under 300 KB. Weights for larger
model fixtures should come from a formula both sides compute rather than be
stored.

There is no Python safetensors package on the target systems, so this file
writes (and, for its self-check, reads) the format itself: an 8-byte
little-endian header length N, N bytes of JSON padded with spaces to an 8-byte
boundary, then the raw little-endian tensor data.
"""

import copy
import json
import os
import re
import sys

import torch
import torch.nn.functional as F

from twin import (WEIGHT_GAIN, HybridTwin, f32, formula_tensor, gen, hybrid_loss, leaf,
                  model_config, model_yaml, nhwc, rand, randn, save_safetensors,
                  twin_from_formula, write_fixtures)

TOTAL_LIMIT = 2_000_000  # "under 2 MB" (issue 2), decimal
KERNELS_LIMIT = 300 * 1024

# ----------------------------------------------------------------- helpers


class Case:
    """Collects the tensors and geometry of one fixture case."""

    def __init__(self, store, meta, name, **geometry):
        self.store, self.name = store, name
        meta[name] = json.dumps(geometry, sort_keys=True)

    def put(self, what, t):
        key = f"{self.name}.{what}"
        assert key not in self.store, key
        self.store[key] = t.detach().to(torch.float32).contiguous()


# ----------------------------------------------------------------- kernel cases


def case_conv2d(store, meta, name, seed, n, cin, h, w, cout, k, stride, pad, groups, bias):
    g = gen(seed)
    x = leaf(randn(g, n, cin, h, w))
    wt = leaf(randn(g, cout, cin // groups, k, k, scale=(cin // groups * k * k) ** -0.5))
    b = leaf(randn(g, cout, scale=0.1)) if bias else None
    y = F.conv2d(x, wt, b, stride=stride, padding=pad, groups=groups)
    dy = randn(g, *y.shape)
    y.backward(dy)
    c = Case(store, meta, name, op="conv2d", n=n, h=h, w=w, cin=cin, cout=cout, k=k,
             stride=stride, pad=pad, groups=groups, bias=bias, oh=y.shape[2], ow=y.shape[3])
    c.put("x", nhwc(x))
    c.put("w", wt)
    if bias:
        c.put("b", b)
    c.put("y", nhwc(y))
    c.put("dy", nhwc(dy))
    c.put("dx", nhwc(x.grad))
    c.put("dw", wt.grad)
    if bias:
        c.put("db", b.grad)


def case_convt2d(store, meta, name, seed, n, cin, h, w, cout, k, stride, pad):
    g = gen(seed)
    x = leaf(randn(g, n, cin, h, w))
    wt = leaf(randn(g, cin, cout, k, k, scale=(cin * k * k / (stride * stride)) ** -0.5))
    b = leaf(randn(g, cout, scale=0.1))
    y = F.conv_transpose2d(x, wt, b, stride=stride, padding=pad)
    dy = randn(g, *y.shape)
    y.backward(dy)
    c = Case(store, meta, name, op="convt2d", n=n, h=h, w=w, cin=cin, cout=cout, k=k,
             stride=stride, pad=pad, groups=1, bias=True, oh=y.shape[2], ow=y.shape[3])
    c.put("x", nhwc(x))
    c.put("w", wt)
    c.put("b", b)
    c.put("y", nhwc(y))
    c.put("dy", nhwc(dy))
    c.put("dx", nhwc(x.grad))
    c.put("dw", wt.grad)
    c.put("db", b.grad)


_ACTS = {
    "none": lambda v: v,
    "relu": F.relu,
    "silu": F.silu,
    "leaky": lambda v: F.leaky_relu(v, 0.2),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}


def case_batchnorm(store, meta, name, seed, shape, train, act="none", eps=1e-5, momentum=0.1):
    """BatchNorm2d (shape n,c,h,w; stored NHWC, rows = n*h*w) or BatchNorm1d
    (shape rows,c) with an optional fused activation after the affine map.
    Train mode stores the batch mean and 1/sqrt(biased var + eps) the kernel
    saves, and the running statistics after one update from run_mean0/run_var0."""
    g = gen(seed)
    c_ = shape[1]
    x = leaf(f32(randn(g, *shape) * 1.5 + 0.7))
    gamma = leaf(rand(g, c_, lo=0.5, hi=1.5))
    beta = leaf(randn(g, c_, scale=0.2))
    rm0 = randn(g, c_, scale=0.3)
    rv0 = rand(g, c_, lo=0.5, hi=2.0)
    rm, rv = rm0.clone(), rv0.clone()
    y = F.batch_norm(x, rm, rv, gamma, beta, training=train, momentum=momentum, eps=eps)
    y = _ACTS[act](y)
    dy = randn(g, *y.shape)
    y.backward(dy)
    img = len(shape) == 4
    rows = shape[0] * (shape[2] * shape[3] if img else 1)
    layout = nhwc if img else (lambda t: t)
    cs = Case(store, meta, name, op="bn_train" if train else "bn_eval", rows=rows, c=c_,
              eps=eps, momentum=momentum, act=act, shape=list(shape), train=train)
    cs.put("x", layout(x))
    cs.put("gamma", gamma)
    cs.put("beta", beta)
    cs.put("run_mean0", rm0)
    cs.put("run_var0", rv0)
    if train:
        dims = [0, 2, 3] if img else [0]
        xd = x.detach()
        cs.put("mean", xd.mean(dim=dims))
        cs.put("invstd", 1.0 / torch.sqrt(xd.var(dim=dims, unbiased=False) + eps))
        cs.put("run_mean", rm)
        cs.put("run_var", rv)
    cs.put("y", layout(y))
    cs.put("dy", layout(dy))
    cs.put("dx", layout(x.grad))
    cs.put("dgamma", gamma.grad)
    cs.put("dbeta", beta.grad)


def case_rnn(store, meta, name, seed, kind, b, t, inp, hidden, bidirectional):
    """Single-layer nn.LSTM / nn.GRU, batch_first, h0 = 0. y is [b, t, D*H]:
    the forward direction in columns [0, H), the reverse one in [H, 2H).
    Weights and their gradients keep torch's names (weight_ih_l0 ...,
    *_reverse); dx sums both directions."""
    g = gen(seed)
    cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
    rnn = cls(inp, hidden, num_layers=1, batch_first=True, bidirectional=bidirectional).double()
    bound = hidden ** -0.5
    with torch.no_grad():
        for _, p in rnn.named_parameters():
            p.copy_(rand(g, *p.shape, lo=-bound, hi=bound))
    x = leaf(randn(g, b, t, inp))
    y, _ = rnn(x)
    dy = randn(g, *y.shape)
    y.backward(dy)
    c = Case(store, meta, name, op=kind, b=b, t=t, input=inp, hidden=hidden,
             bidirectional=bidirectional, gates=4 if kind == "lstm" else 3)
    c.put("x", x)
    for pname, p in rnn.named_parameters():
        c.put(pname, p)
    c.put("y", y)
    c.put("dy", dy)
    c.put("dx", x.grad)
    for pname, p in rnn.named_parameters():
        c.put("d" + pname, p.grad)


def case_attention(store, meta, name, seed, b, t, d, a):
    """Attention pooling: u = tanh(h W1^T + b1); e = u w2^T + b2; alpha =
    softmax over t; y = sum_t alpha h. Also stores alpha [b, t]."""
    g = gen(seed)
    h = leaf(randn(g, b, t, d))
    w1 = leaf(randn(g, a, d, scale=d ** -0.5))
    b1 = leaf(randn(g, a, scale=0.1))
    w2 = leaf(randn(g, 1, a, scale=a ** -0.5 * 2))
    b2 = leaf(randn(g, 1, scale=0.1))
    u = torch.tanh(h @ w1.T + b1)
    e = (u @ w2.T + b2).squeeze(-1)
    alpha = torch.softmax(e, dim=1)
    y = (alpha.unsqueeze(-1) * h).sum(dim=1)
    dy = randn(g, *y.shape)
    y.backward(dy)
    c = Case(store, meta, name, op="attn", b=b, t=t, d=d, a=a)
    for k, v in (("h", h), ("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)):
        c.put(k, v)
    c.put("alpha", alpha)
    c.put("y", y)
    c.put("dy", dy)
    for k, v in (("dh", h), ("dw1", w1), ("db1", b1), ("dw2", w2), ("db2", b2)):
        c.put(k, v.grad)


def case_linear(store, meta, name, seed, rows, inp, out):
    g = gen(seed)
    x = leaf(randn(g, rows, inp))
    w = leaf(randn(g, out, inp, scale=inp ** -0.5))
    b = leaf(randn(g, out, scale=0.1))
    y = F.linear(x, w, b)
    dy = randn(g, *y.shape)
    y.backward(dy)
    c = Case(store, meta, name, op="linear", rows=rows, input=inp, output=out)
    for k, v in (("x", x), ("w", w), ("b", b), ("y", y), ("dy", dy)):
        c.put(k, v)
    c.put("dx", x.grad)
    c.put("dw", w.grad)
    c.put("db", b.grad)


def case_act(store, meta, name, seed, act, n):
    """Elementwise activation on n values: normal * 3 plus extremes
    (+-30, +-100, tiny) that test overflow-safe formulas."""
    g = gen(seed)
    extremes = torch.tensor([-100.0, -30.0, -1e-6, 0.0, 1e-6, 30.0, 100.0], dtype=torch.float64)
    x = leaf(f32(torch.cat([randn(g, n - len(extremes), scale=3.0), extremes])))
    y = _ACTS[act](x)
    dy = randn(g, *y.shape)
    y.backward(dy)
    c = Case(store, meta, name, op="act", act=act, n=n)
    c.put("x", x)
    c.put("y", y)
    c.put("dy", dy)
    c.put("dx", x.grad)


def case_softmax(store, meta, name, seed, log, rows, n):
    """(log_)softmax over the last dim of [rows, n]; row 1 is shifted by +60
    and row 2 scaled by 20, so a kernel must subtract the row max."""
    g = gen(seed)
    x0 = randn(g, rows, n, scale=2.0)
    x0[1] += 60.0
    x0[2] *= 20.0
    x = leaf(f32(x0))
    y = F.log_softmax(x, dim=-1) if log else F.softmax(x, dim=-1)
    dy = randn(g, *y.shape)
    y.backward(dy)
    c = Case(store, meta, name, op="log_softmax" if log else "softmax", rows=rows, n=n)
    c.put("x", x)
    c.put("y", y)
    c.put("dy", dy)
    c.put("dx", x.grad)


# ----------------------------------------------------------------- fixture files


def fixture_kernels(path):
    """One case per CPU kernel op; see the module docstring for the naming."""
    store, meta = {}, {}
    # Convolutions: EfficientNet's stem shape (k3 s2 p1, odd input), a grouped
    # conv, a pointwise 1x1 without bias, the two depthwise shapes of the
    # backbone, and the image VAE's transposed conv.
    case_conv2d(store, meta, "conv2d_s2", 101, n=2, cin=3, h=9, w=7, cout=4, k=3, stride=2,
                pad=1, groups=1, bias=True)
    case_conv2d(store, meta, "conv2d_g2", 102, n=2, cin=4, h=5, w=6, cout=6, k=3, stride=1,
                pad=1, groups=2, bias=True)
    case_conv2d(store, meta, "conv2d_1x1", 103, n=2, cin=8, h=3, w=4, cout=5, k=1, stride=1,
                pad=0, groups=1, bias=False)
    case_conv2d(store, meta, "dwconv_k3s1", 104, n=2, cin=6, h=6, w=5, cout=6, k=3, stride=1,
                pad=1, groups=6, bias=False)
    case_conv2d(store, meta, "dwconv_k5s2", 105, n=2, cin=5, h=9, w=9, cout=5, k=5, stride=2,
                pad=2, groups=5, bias=True)
    case_convt2d(store, meta, "convt2d_k4s2p1", 106, n=2, cin=4, h=4, w=3, cout=3, k=4,
                 stride=2, pad=1)
    # Batch normalisation.
    case_batchnorm(store, meta, "bn2d_train", 201, (2, 3, 4, 5), train=True)
    case_batchnorm(store, meta, "bn2d_train_silu", 202, (2, 4, 3, 3), train=True, act="silu")
    case_batchnorm(store, meta, "bn2d_eval", 203, (2, 3, 4, 5), train=False)
    case_batchnorm(store, meta, "bn1d_train", 204, (8, 5), train=True)
    # Recurrent layers.
    case_rnn(store, meta, "lstm", 301, "lstm", b=3, t=5, inp=4, hidden=6, bidirectional=False)
    case_rnn(store, meta, "lstm_bi", 302, "lstm", b=2, t=4, inp=5, hidden=3, bidirectional=True)
    case_rnn(store, meta, "gru", 303, "gru", b=3, t=5, inp=4, hidden=6, bidirectional=False)
    case_rnn(store, meta, "gru_bi", 304, "gru", b=2, t=4, inp=5, hidden=3, bidirectional=True)
    case_attention(store, meta, "attn", 401, b=3, t=5, d=8, a=4)
    # Dense and elementwise.
    case_linear(store, meta, "linear", 501, rows=5, inp=6, out=4)
    for i, act in enumerate(["silu", "sigmoid", "tanh", "relu", "leaky"]):
        case_act(store, meta, f"act_{act}", 601 + i, act, n=40)
    case_softmax(store, meta, "softmax", 701, False, rows=4, n=7)
    case_softmax(store, meta, "log_softmax", 702, True, rows=4, n=7)
    meta["format"] = "pt"
    meta["generator"] = "tests/reference/make_fixtures.py"
    meta["torch_version"] = torch.__version__
    save_safetensors(path, store, meta)
    assert os.path.getsize(path) < KERNELS_LIMIT, f"{path} exceeds {KERNELS_LIMIT} bytes"


def fixture_interop(path):
    """The same values in every dtype the C reader decodes, written by PyTorch's
    own conversions (.to(dtype)), plus a scalar, an empty tensor and an I64."""
    g = gen(1)
    special = torch.tensor([1.0, -2.0, 65504.0, 2.0 ** -24, 1e6, -0.0], dtype=torch.float64)
    values = torch.cat([special, torch.randn(58, generator=g, dtype=torch.float64) * 10])
    values = values.reshape(4, 16)
    tensors = {
        "arange_f32": (torch.arange(24, dtype=torch.float32) - 11.5).reshape(2, 3, 4),
        "values_f64": values,
        "values_f32": values.to(torch.float32),
        "values_f16": values.to(torch.float16),
        "values_bf16": values.to(torch.bfloat16),
        "index_i64": torch.arange(5, dtype=torch.int64) * 1000000007,
        "scalar": torch.tensor(0.5, dtype=torch.float32),
        "empty": torch.zeros(3, 0, dtype=torch.float32),
    }
    save_safetensors(path, tensors, {"format": "pt", "generator": "tests/reference/make_fixtures.py"})



# ----------------------------------------------------------------- model cases

REFERENCE_NAMES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                               "shared", "reference", "state_dict_names.txt")
LOSS_NAMES = ("cls", "bin", "svdd", "vae", "total")
OUTPUT_NAMES = ("features", "temporal", "projection", "class_logits", "binary_logits",
                "svdd_embedding", "svdd_score", "vae_mu", "vae_logvar", "vae_reconstruction",
                "vae_score")


def check_reference_names():
    """The twin's state_dict for the seed's configuration (and each VAE level)
    equals ../shared/reference/state_dict_names.txt, when that file is present."""
    if not os.path.exists(REFERENCE_NAMES):
        return
    want, level = {"none": []}, "none"
    for line in open(REFERENCE_NAMES):
        m = re.match(r"# vae level: (\w+)", line)
        if m:
            level = m[1]
            want[level] = []
        elif line.strip() and not line.startswith("#"):
            name, shape = line.split(" ", 1)
            want[level].append((name, json.loads(shape)))
    for lvl in ("none", "feature", "image"):
        sd = HybridTwin(model_config(vae_level=lvl)).export_state_dict()
        got = [(k, list(v.shape)) for k, v in sd.items()]
        exp = want["none"] + (want[lvl] if lvl != "none" else [])
        assert got == exp, f"twin state_dict differs from {REFERENCE_NAMES} (vae {lvl})"


def model_case(path, cfg, B, T, seed, labels, normal_class=1, grad_modes=("train", "eval"),
               grad_norms_only=False, gain=WEIGHT_GAIN):
    """One model-level case (layout in the module docstring): formula weights
    and input, PyTorch's masks and eps, then per mode the outputs, loss parts
    and gradients (flat, in state_dict order of the parameters) and, in
    training, the updated BN running statistics (flat, state_dict order)."""
    base = HybridTwin(cfg)
    twin0 = twin_from_formula(cfg, gain)
    N, S = B * T, cfg["image"]
    xshape = (B, T, 3, S, S) if T > 1 else (B, 3, S, S)
    x = formula_tensor("x", xshape).double()
    g = gen(seed)
    store, noise = {}, {}
    for site, (p, shape) in twin0.dropout_sites(B, T).items():
        noise[site] = (torch.rand(*shape, generator=g) >= p).to(torch.float32) / (1.0 - p)
    if cfg["vae_level"] != "none":
        noise["vae.eps"] = torch.randn(N, cfg["vae_latent"], generator=g)
    labels_t = torch.tensor(labels, dtype=torch.int64)
    anomaly = (labels_t != normal_class).to(torch.int64)
    assert len(labels) == B and 0 < int(anomaly.sum()) < B
    store["labels"] = labels_t.to(torch.float32)
    store["anomaly"] = anomaly.to(torch.float32)
    store.update(noise)
    params = [n for n, _ in base.export_parameters()]
    stats = [n for n in base.export_state_dict() if n.endswith(("running_mean", "running_var"))]
    for mode in ("train", "eval"):
        # the float64 reference, and PyTorch's own float32 run of the same
        # model: its deviation from float64 is the rounding noise float32
        # arithmetic cannot avoid on each tensor (the C tests' yardstick
        # where a tensor is ill-conditioned)
        ref, dev = {}, {}
        for dt in (torch.float64, torch.float32):
            twin = copy.deepcopy(twin0).to(dt)
            twin.train(mode == "train")
            out = twin(x.to(dt), noise if mode == "train" else None)
            loss = hybrid_loss(out, labels_t, anomaly)
            twin.zero_grad()
            loss["total"].backward()
            grads = dict((n, p.grad) for n, p in twin.export_parameters())
            sd = twin.export_state_dict()
            vals = {"out": [out[k].detach() for k in OUTPUT_NAMES if k in out],
                    "loss": [loss[k].detach() for k in LOSS_NAMES],
                    "grad": [grads[n] for n in params], "state": [sd[n] for n in stats]}
            if dt == torch.float64:
                ref = vals
                for k in OUTPUT_NAMES:
                    if k in out:
                        store[f"{mode}.{k}"] = out[k].detach()
                for k in LOSS_NAMES:
                    store[f"{mode}.loss.{k}"] = loss[k].detach().reshape(())
            else:
                norm32 = [g.double() for g in vals["grad"]]
                for kind, lst in vals.items():
                    dev[kind] = torch.stack([(a.double() - b).abs().max() if b.numel() else
                                             b.new_zeros(()) for a, b in zip(lst, ref[kind])])
        store[f"{mode}.f32dev.out"], store[f"{mode}.f32dev.loss"] = dev["out"], dev["loss"]
        if mode in grad_modes and grad_norms_only:
            # per-tensor norms; the deviation is that of PyTorch's float32 norm
            store[f"{mode}.grad_norm"] = torch.stack([g.norm() for g in ref["grad"]])
            store[f"{mode}.f32dev.grad"] = torch.stack([(a.norm() - b.norm()).abs() for a, b
                                                        in zip(norm32, ref["grad"])])
        elif mode in grad_modes:
            store[f"{mode}.grad"] = torch.cat([g.reshape(-1) for g in ref["grad"]])
            store[f"{mode}.f32dev.grad"] = dev["grad"]
        if mode == "train" and not grad_norms_only:
            store["train.state"] = torch.cat([t.reshape(-1) for t in ref["state"]])
            store["train.f32dev.state"] = dev["state"]
    sd = base.export_state_dict()
    pset = set(params)
    meta = {
        "case": json.dumps({"B": B, "T": T, "normal_class": normal_class,
                            "yaml": os.path.basename(path).replace(".safetensors", ".yaml"),
                            "grad_modes": list(grad_modes), "grad_norms_only": grad_norms_only,
                            "weight_gain": gain}),
        "state_dict": json.dumps([[n, list(t.shape), "param" if n in pset else
                                   ("ignored" if n.endswith("num_batches_tracked") else "buffer")]
                                  for n, t in sd.items()]),
        "weights": "formula v1 (tests/reference/make_fixtures.py formula_tensor)",
        "format": "pt", "generator": "tests/reference/make_fixtures.py",
        "torch_version": torch.__version__,
    }
    if grad_norms_only:
        meta["grad_norm_names"] = json.dumps(params)
    for k in store:
        store[k] = store[k].detach().to(torch.float32).contiguous()
    save_safetensors(path, store, meta)
    with open(path.replace(".safetensors", ".yaml"), "w") as f:
        f.write(f"# {os.path.basename(path)}: model of this PyTorch parity case "
                "(tests/reference/make_fixtures.py)\n" + model_yaml(cfg))


def export_weights(twin, path):
    """The twin's state_dict as PyTorch exports it (F32, num_batches_tracked I64),
    with the backbone's timm names in the metadata (README's table) for the
    name-mapping test."""
    sd = twin.export_state_dict()
    tensors = {k: (v if k.endswith("num_batches_tracked") else v.float()) for k, v in sd.items()}
    save_safetensors(path, tensors, {"format": "pt", "timm_names": json.dumps(timm_names(twin))})


def timm_names(twin):
    """torchvision -> timm names of the backbone (../shared/reference/README.md)."""
    pre, out = "backbone.backbone.", {}
    for k in twin.export_state_dict():
        if not k.startswith(pre + "features.") or k.endswith("num_batches_tracked"):
            continue
        parts = k[len(pre + "features."):].split(".")
        st, leafname = int(parts[0]), parts[-1]
        if st == 0:
            t = ("conv_stem" if parts[1] == "0" else "bn1") + "." + leafname
        elif st == 8:
            t = ("conv_head" if parts[1] == "0" else "bn2") + "." + leafname
        else:
            i, seq, sub = int(parts[1]), int(parts[3]), parts[4]
            if st == 1:
                names = [("conv_dw", "bn1"), ("se.conv_reduce", "se.conv_expand"),
                         ("conv_pw", "bn2")]
            else:
                names = [("conv_pw", "bn1"), ("conv_dw", "bn2"),
                         ("se.conv_reduce", "se.conv_expand"), ("conv_pwl", "bn3")]
            pair = names[seq]
            part = pair[0] if sub in ("0", "fc1") else pair[1]
            t = f"blocks.{st - 1}.{i}.{part}.{leafname}"
        out[k] = pre + t
    return out


# Reduced heads: small widths keep every file small while keeping the
# shapes distinct (a swapped dimension cannot go unnoticed).
_SMALL = dict(hidden=8, feature_dim=16, embedding_dim=8, svdd_hidden=12, classes=4)


def fixture_model_lstm_bi_clip(path):
    """Clips T=3, 2-layer bidirectional LSTM (dropout between layers), no VAE,
    backbone width 0.1 depth 0.1 (channels 8..32, head 128) at 64x64 (final map
    2x2). Gradients in training mode only (eval-mode backward is covered by the
    other cases; this keeps the fixtures under their size limit)."""
    cfg = model_config(width=0.1, depth=0.1, image=64, **_SMALL)
    model_case(path, cfg, B=4, T=3, seed=1101, labels=[1, 0, 3, 1], grad_modes=("train",))


def fixture_model_gru_frames_fvae(path):
    """Frames T=1, 2-layer unidirectional GRU, feature VAE (target detached)."""
    cfg = model_config(width=0.05, depth=0.1, image=64, temporal="gru", bidirectional=False,
                       vae_level="feature", vae_latent=6, vae_hidden=[20, 10], **_SMALL)
    model_case(path, cfg, B=4, T=1, seed=1102, labels=[2, 1, 1, 0])


def fixture_model_none_ivae_clip(path):
    """Clips T=2 without a temporal encoder (mean over T), image VAE at 32x32.
    Gradients in training mode only (eval-mode backward is covered by the
    other cases; this keeps the fixtures under their size limit)."""
    cfg = model_config(width=0.05, depth=0.1, image=32, temporal="none", vae_level="image",
                       vae_latent=8, vae_channels=[4, 8, 8, 16], **_SMALL)
    model_case(path, cfg, B=4, T=2, seed=1103, labels=[0, 1, 2, 1], grad_modes=("train",))


def fixture_model_gru_bi_clip_fvae(path):
    """Clips T=2, 1-layer bidirectional GRU, feature VAE with the target NOT
    detached (its gradient reaches the backbone through both sides), one
    hidden size."""
    cfg = model_config(width=0.05, depth=0.1, image=32, temporal="gru", layers=1,
                       vae_level="feature", vae_latent=4, vae_hidden=[16], vae_detach_target=False,
                       **dict(_SMALL, hidden=6))
    model_case(path, cfg, B=4, T=2, seed=1104, labels=[3, 1, 2, 1])


_LSTM_FRAMES = model_config(width=0.05, depth=0.1, image=64, layers=1, bidirectional=False,
                            **_SMALL)


def fixture_model_lstm_frames(path):
    """Frames, 1-layer unidirectional LSTM, no VAE; the case `vadbench forward`
    runs end to end on weights exported from the twin (next entry)."""
    model_case(path, _LSTM_FRAMES, B=4, T=1, seed=1105, labels=[1, 2, 0, 3])


def fixture_model_option_a(path):
    """The seed's Option A at full size (EfficientNet-B0 width = depth = 1, 64x64,
    LSTM 2x256 bidirectional, 512, 128, 14 classes): clips B=4, T=2, weight gain
    1.5 (at 1.6 the full-depth backbone's eval activations grow to ~400 and
    saturate the LSTM). Weights are too many to store, and so are gradients:
    only outputs, loss parts and per-tensor gradient norms are kept."""
    check_reference_names()
    cfg = model_config()
    n = sum(p.numel() for p in HybridTwin(cfg).parameters())
    assert n == 9302541, n
    model_case(path, cfg, B=4, T=2, seed=1106, labels=[7, 3, 12, 7], normal_class=7,
               grad_norms_only=True, gain=1.5)


def fixture_model_lstm_frames_weights(path):
    """The weights of model_lstm_frames exported from the twin's state_dict."""
    export_weights(twin_from_formula(_LSTM_FRAMES), path)


FIXTURES = {
    "interop.safetensors": fixture_interop,
    "kernels.safetensors": fixture_kernels,
    "model_lstm_bi_clip.safetensors": fixture_model_lstm_bi_clip,
    "model_gru_frames_fvae.safetensors": fixture_model_gru_frames_fvae,
    "model_none_ivae_clip.safetensors": fixture_model_none_ivae_clip,
    "model_gru_bi_clip_fvae.safetensors": fixture_model_gru_bi_clip_fvae,
    "model_lstm_frames.safetensors": fixture_model_lstm_frames,
    "model_lstm_frames.weights.safetensors": fixture_model_lstm_frames_weights,
    "model_option_a.safetensors": fixture_model_option_a,
}


def main(argv):
    rc, outdir = write_fixtures("make_fixtures.py", __doc__, FIXTURES, argv)
    if rc or outdir is None:
        return rc
    total = sum(os.path.getsize(os.path.join(outdir, n)) for n in FIXTURES
                if os.path.exists(os.path.join(outdir, n)))
    if total > TOTAL_LIMIT:
        print(f"make_fixtures.py: fixtures total {total} bytes, over the {TOTAL_LIMIT} limit",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
