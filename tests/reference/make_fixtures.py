#!/usr/bin/python3
"""PyTorch twins of vadbench's parts: writes the reference fixtures the C tests load.

Usage (from the repository root; needs Debian's python3-torch only):

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

Tensor names are ``<case>.<what>``; ``what`` is ``x``/``w``/``b``/... for inputs
and weights, ``y`` for the output, ``dy`` for the upstream gradient and ``d<name>``
for gradients (``dx``, ``dw``, ``db``, ``dweight_ih_l0`` ...). Layouts are
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

import json
import os
import struct
import sys

import torch
import torch.nn.functional as F

TOTAL_LIMIT = 2 * 1024 * 1024
KERNELS_LIMIT = 300 * 1024

# ----------------------------------------------------------------- safetensors

_DTYPES = {
    torch.float32: ("F32", 4),
    torch.float16: ("F16", 2),
    torch.bfloat16: ("BF16", 2),
    torch.float64: ("F64", 8),
    torch.int64: ("I64", 8),
    torch.int32: ("I32", 4),
    torch.uint8: ("U8", 1),
    torch.bool: ("BOOL", 1),
}
_NAME_TO_DTYPE = {v[0]: k for k, v in _DTYPES.items()}


def _tensor_bytes(t):
    """Raw little-endian bytes of a tensor (contiguous, CPU)."""
    t = t.detach().cpu().contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def save_safetensors(path, tensors, metadata=None):
    """Write {name: tensor} (insertion order) and {str: str} metadata to path, atomically."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, t in tensors.items():
        if t.dtype not in _DTYPES:
            raise ValueError(f"{name}: unsupported dtype {t.dtype}")
        data = _tensor_bytes(t)
        header[name] = {
            "dtype": _DTYPES[t.dtype][0],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    # Self-check: the file reads back to exactly what was given.
    back, meta = load_safetensors(path)
    assert list(back) == list(tensors), path
    for name, t in tensors.items():
        b = back[name]
        assert b.dtype == t.dtype and b.shape == t.shape, name
        assert _tensor_bytes(b) == _tensor_bytes(t), name
    assert meta == header.get("__metadata__", {}), path


def load_safetensors(path):
    """Read a safetensors file: ({name: tensor}, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + n :]
    out = {}
    for name, e in header.items():
        dt = _NAME_TO_DTYPE[e["dtype"]]
        b, end = e["data_offsets"]
        buf = bytearray(data[b:end])
        if dt in (torch.float16, torch.bfloat16):
            t = torch.frombuffer(buf, dtype=torch.int16).view(dt) if buf else torch.empty(0, dtype=dt)
        else:
            t = torch.frombuffer(buf, dtype=dt) if buf else torch.empty(0, dtype=dt)
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta


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


def gen(seed):
    return torch.Generator().manual_seed(seed)


def randn(g, *shape, scale=1.0):
    """Normal values rounded to float32 first, then promoted to float64, so the
    float64 computation sees exactly the values that are stored."""
    return (torch.randn(*shape, generator=g, dtype=torch.float32) * scale).double()


def rand(g, *shape, lo=0.0, hi=1.0):
    return (torch.rand(*shape, generator=g, dtype=torch.float32) * (hi - lo) + lo).double()


def f32(t):
    """Round a float64 tensor to float32 values (kept as float64)."""
    return t.float().double()


def leaf(t):
    return t.clone().requires_grad_(True)


def nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


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


FIXTURES = {
    "interop.safetensors": fixture_interop,
    "kernels.safetensors": fixture_kernels,
}


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    outdir = argv[1]
    names = argv[2:] or list(FIXTURES)
    unknown = [n for n in names if n not in FIXTURES]
    if unknown:
        print(f"make_fixtures.py: unknown fixture(s) {unknown}; known: {list(FIXTURES)}",
              file=sys.stderr)
        return 2
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    for name in names:
        path = os.path.join(outdir, name)
        FIXTURES[name](path)
        print(f"  {path}: {os.path.getsize(path)} bytes")
    total = sum(os.path.getsize(os.path.join(outdir, n)) for n in FIXTURES
                if os.path.exists(os.path.join(outdir, n)))
    if total > TOTAL_LIMIT:
        print(f"make_fixtures.py: fixtures total {total} bytes, over the {TOTAL_LIMIT} limit",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
