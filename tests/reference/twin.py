#!/usr/bin/python3
"""The PyTorch twin of vadbench's hybrid model and what every fixture maker shares.

Imported by make_fixtures.py (kernel and model fixtures), make_train_parity.py
(the 10-step training run) and bench_torch.py (the side-by-side benchmark):

* safetensors I/O written here (there is no Python safetensors package on the
  target systems): an 8-byte little-endian header length N, N bytes of JSON
  padded with spaces to an 8-byte boundary, then the raw little-endian data;
* seeded tensors (``gen``, ``randn``, ``rand``: float32 values promoted to
  float64 so float64 references see exactly what is stored) and layout helpers;
* ``HybridTwin``: the seed's HybridAnomalyDetector exactly as the C model
  computes it (models/hybrid.h), ``hybrid_loss`` (MODEL_SPEC section 4), and
  weights from a formula both sides compute (``formula_tensor``,
  ``twin_from_formula``).

Needs Debian's python3-torch, and python3-torchvision for the twin. Not a
library beyond these scripts: it holds what they share, nothing else.
"""

import json
import math
import os
import re
import struct
import sys
from functools import partial

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

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


def write_fixtures(prog, doc, fixtures, argv):
    """The fixture makers' command line: ``prog OUTDIR [NAME ...]`` writes the
    named fixtures (all by default) with ``fixtures[name](path)``. Returns
    (exit status, output directory or None)."""
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(doc)
        return (0 if len(argv) >= 2 else 2), None
    outdir, names = argv[1], argv[2:] or list(fixtures)
    unknown = [n for n in names if n not in fixtures]
    if unknown:
        print(f"{prog}: unknown fixture(s) {unknown}; known: {list(fixtures)}", file=sys.stderr)
        return 2, None
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    for name in names:
        path = os.path.join(outdir, name)
        fixtures[name](path)
        print(f"  {path}: {os.path.getsize(path)} bytes")
    return 0, outdir


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


# ----------------------------------------------------------------- model twin
#
# A PyTorch twin of the seed's HybridAnomalyDetector exactly as vadbench's C
# model computes it (models/hybrid.h): torchvision's EfficientNet-B0 features
# (width/depth multipliers, BN eps 1e-5 momentum 0.1) → global average pool
# → dropout → stacked LSTM/GRU with dropout between layers and attention
# pooling (or the mean over T) → projection → classifier / binary head /
# Deep SVDD head, and the optional feature- or image-level VAE. Dropout is a
# multiplication by a given mask (0 or 1/(1-p), named as the C model's
# dropout sites) so that both sides see the same noise; the VAE's eps is
# given too. The RNN stack is one nn.LSTM/nn.GRU per layer (so masks can go
# between layers) and exported under the stacked names
# temporal_encoder.rnn.weight_ih_l{k}[_reverse]. tests/reference/bench_torch.py
# imports this twin too.

MODEL_DEFAULTS = dict(width=1.0, depth=1.0, backbone_dropout=0.5, stochastic_depth=0.0,
                      temporal="lstm", hidden=256, layers=2, bidirectional=True,
                      temporal_dropout=0.5, feature_dim=512, embedding_dim=128, svdd_hidden=256,
                      head_dropout=0.3, classes=14, image=64, vae_level="none", vae_latent=128,
                      vae_hidden=[512, 256], vae_channels=[32, 64, 128, 256], vae_dropout=0.2,
                      vae_target="rescaled", vae_detach_target=True)
# model: mapping keys (harness/experiment/config.c MODEL_KEYS) -> twin config keys
_YAML_KEYS = {"backbone.width": "width", "backbone.depth": "depth",
              "backbone.dropout": "backbone_dropout",
              "backbone.stochastic_depth": "stochastic_depth",
              "temporal.type": "temporal", "temporal.hidden": "hidden", "temporal.layers": "layers",
              "temporal.bidirectional": "bidirectional", "temporal.dropout": "temporal_dropout",
              "feature_dim": "feature_dim", "embedding_dim": "embedding_dim",
              "svdd_hidden": "svdd_hidden", "head_dropout": "head_dropout", "classes": "classes",
              "image": "image", "vae.level": "vae_level", "vae.latent": "vae_latent",
              "vae.hidden": "vae_hidden", "vae.channels": "vae_channels",
              "vae.dropout": "vae_dropout", "vae.target": "vae_target",
              "vae.detach_target": "vae_detach_target"}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def model_config(**over):
    cfg = dict(MODEL_DEFAULTS)
    for k, v in over.items():
        assert k in cfg, k
        cfg[k] = v
    return cfg


def model_config_from_mapping(m):
    """A parsed YAML `model:` mapping (as vadbench reads it) -> twin config."""
    cfg = dict(MODEL_DEFAULTS)

    def walk(node, prefix):
        for k, v in node.items():
            path = f"{prefix}{k}"
            if path in _YAML_KEYS:
                cfg[_YAML_KEYS[path]] = v
            elif f"{path}.type" in _YAML_KEYS and not isinstance(v, dict):
                cfg[_YAML_KEYS[f"{path}.type"]] = v
            elif isinstance(v, dict):
                walk(v, path + ".")
            elif path != "backbone.name":
                raise ValueError(f"unknown model key {path}")
    walk(m, "")
    return cfg


def model_yaml(cfg):
    """The `model:` mapping of cfg as YAML text vadbench reads."""
    b = lambda v: "true" if v else "false"
    lst = lambda v: "[" + ", ".join(str(int(i)) for i in v) + "]"
    return (
        "model:\n"
        f"  backbone: {{name: efficientnet_b0, width: {cfg['width']!r}, depth: {cfg['depth']!r}, "
        f"dropout: {cfg['backbone_dropout']!r}, stochastic_depth: {cfg['stochastic_depth']!r}}}\n"
        f"  temporal: {{type: {cfg['temporal']}, hidden: {cfg['hidden']}, layers: {cfg['layers']}, "
        f"bidirectional: {b(cfg['bidirectional'])}, dropout: {cfg['temporal_dropout']!r}}}\n"
        f"  feature_dim: {cfg['feature_dim']}\n  embedding_dim: {cfg['embedding_dim']}\n"
        f"  svdd_hidden: {cfg['svdd_hidden']}\n  head_dropout: {cfg['head_dropout']!r}\n"
        f"  classes: {cfg['classes']}\n  image: {cfg['image']}\n"
        f"  vae: {{level: {cfg['vae_level']}, latent: {cfg['vae_latent']}, "
        f"hidden: {lst(cfg['vae_hidden'])}, channels: {lst(cfg['vae_channels'])}, "
        f"dropout: {cfg['vae_dropout']!r}, target: {cfg['vae_target']}, "
        f"detach_target: {b(cfg['vae_detach_target'])}}}\n")


def _mlp(i, o, p):
    """Linear -> ReLU -> BatchNorm1d -> Dropout (indices 0..3, dropout applied by mask)."""
    return [nn.Linear(i, o), nn.ReLU(), nn.BatchNorm1d(o, eps=1e-5, momentum=0.1), nn.Identity()]


class _Holder(nn.Module):
    pass


class HybridTwin(nn.Module):
    """The hybrid model; forward(x, noise) -> dict of outputs (see C's `vadbench forward`)."""

    def __init__(self, cfg):
        super().__init__()
        from torchvision.models.efficientnet import EfficientNet, _efficientnet_conf
        self.cfg = cfg
        setting, last = _efficientnet_conf("efficientnet_b0", width_mult=cfg["width"],
                                           depth_mult=cfg["depth"])
        eff = EfficientNet(setting, cfg["backbone_dropout"],
                           stochastic_depth_prob=cfg["stochastic_depth"],
                           norm_layer=partial(nn.BatchNorm2d, eps=1e-5, momentum=0.1),
                           last_channel=last)
        self.backbone = _Holder()
        self.backbone.backbone = _Holder()
        self.backbone.backbone.features = eff.features
        F_ = self.feat_dim = eff.classifier[1].in_features
        self.has_temporal = cfg["temporal"] != "none"
        if self.has_temporal:
            h, dirs = cfg["hidden"], 2 if cfg["bidirectional"] else 1
            rnn = nn.LSTM if cfg["temporal"] == "lstm" else nn.GRU
            self.tdim = h * dirs
            self.temporal_encoder = _Holder()
            self.temporal_encoder.layers = nn.ModuleList(
                rnn(F_ if k == 0 else self.tdim, h, num_layers=1, batch_first=True,
                    bidirectional=cfg["bidirectional"]) for k in range(cfg["layers"]))
            self.temporal_encoder.attention = nn.Sequential(nn.Linear(self.tdim, h), nn.Tanh(),
                                                            nn.Linear(h, 1))
        else:
            self.tdim = F_
        P, hd = cfg["feature_dim"], cfg["head_dropout"]
        self.projection = nn.Sequential(*_mlp(self.tdim, P, hd))
        self.classifier = nn.Linear(P, cfg["classes"])
        self.anomaly_head = _Holder()
        self.anomaly_head.register_buffer("center", torch.zeros(cfg["embedding_dim"]))
        self.anomaly_head.embedding = nn.Sequential(
            *_mlp(P, cfg["svdd_hidden"], hd), nn.Linear(cfg["svdd_hidden"], cfg["embedding_dim"]))
        self.binary_classifier = nn.Linear(P, 2)
        lvl, L = cfg["vae_level"], cfg["vae_latent"]
        if lvl == "feature":
            hs = cfg["vae_hidden"]
            self.vae = _Holder()
            enc, prev = [], F_
            for h in hs:
                enc += _mlp(prev, h, cfg["vae_dropout"])
                prev = h
            self.vae.encoder = nn.Sequential(*enc)
            self.vae.fc_mu, self.vae.fc_logvar = nn.Linear(prev, L), nn.Linear(prev, L)
            dec, prev = [], L
            for h in reversed(hs):
                dec += _mlp(prev, h, cfg["vae_dropout"])
                prev = h
            self.vae.decoder = nn.Sequential(*dec, nn.Linear(prev, F_))
        elif lvl == "image":
            ch = cfg["vae_channels"]
            self.vae = _Holder()
            enc, prev = [], 3
            for c in ch:
                enc += [nn.Conv2d(prev, c, 4, 2, 1), nn.BatchNorm2d(c), nn.LeakyReLU(0.2)]
                prev = c
            self.vae.encoder = nn.Sequential(*enc)
            self.fs = cfg["image"] // 16
            flat = ch[-1] * self.fs * self.fs
            self.vae.fc_mu, self.vae.fc_logvar = nn.Linear(flat, L), nn.Linear(flat, L)
            self.vae.decoder_input = nn.Linear(L, flat)
            dec = []
            for c in list(reversed(ch))[1:]:
                dec += [nn.ConvTranspose2d(prev, c, 4, 2, 1), nn.BatchNorm2d(c), nn.ReLU()]
                prev = c
            self.vae.decoder = nn.Sequential(*dec, nn.ConvTranspose2d(prev, 3, 4, 2, 1), nn.Tanh())

    # -- names: the C model's (the seed's stacked RNN names)
    @staticmethod
    def export_name(n):
        m = re.match(r"temporal_encoder\.layers\.(\d+)\.(weight|bias)_(ih|hh)_l0(_reverse)?$", n)
        return f"temporal_encoder.rnn.{m[2]}_{m[3]}_l{m[1]}{m[4] or ''}" if m else n

    def export_state_dict(self):
        return {self.export_name(k): v for k, v in self.state_dict().items()}

    def export_parameters(self):
        return [(self.export_name(k), p) for k, p in self.named_parameters()]

    def dropout_sites(self, B, T):
        """{site name: (p, mask shape)} for every active dropout site of the C model."""
        c, N = self.cfg, B * T
        s = {"backbone.dropout": (c["backbone_dropout"], (N, self.feat_dim)),
             "projection.3": (c["head_dropout"], (B, c["feature_dim"])),
             "anomaly_head.embedding.3": (c["head_dropout"], (B, c["svdd_hidden"]))}
        if self.has_temporal:
            for k in range(c["layers"] - 1):
                s[f"temporal_encoder.rnn.dropout_l{k}"] = (c["temporal_dropout"], (B, T, self.tdim))
        if c["vae_level"] == "feature":
            hs = c["vae_hidden"]
            for i, h in enumerate(hs):
                s[f"vae.encoder.{4 * i + 3}"] = (c["vae_dropout"], (N, h))
                s[f"vae.decoder.{4 * i + 3}"] = (c["vae_dropout"], (N, hs[len(hs) - 1 - i]))
        return {k: v for k, v in s.items() if v[0] > 0}

    @staticmethod
    def _drop(noise, name, v):
        return v * noise[name].to(v.dtype) if noise is not None and name in noise else v

    def _mlp_fwd(self, seq, first, v, noise, name):
        v = seq[first + 2](torch.relu(seq[first](v)))
        return self._drop(noise, f"{name}.{first + 3}", v) if self.training else v

    def forward(self, x, noise=None):
        """x (B,3,H,W) or (B,T,3,H,W). noise: {site: mask, "vae.eps": eps} in training."""
        c = self.cfg
        clip = x.dim() == 5
        B, T = x.shape[0], x.shape[1] if clip else 1
        frames = x.reshape(B * T, *x.shape[-3:])
        pooled = self.backbone.backbone.features(frames).mean(dim=(2, 3))
        out = {"features": pooled.view(B, T, -1).mean(1)}
        fd = self._drop(noise, "backbone.dropout", pooled) if self.training else pooled
        if self.has_temporal:
            seq = fd.view(B, T, -1)
            for k, rnn in enumerate(self.temporal_encoder.layers):
                seq, _ = rnn(seq)
                if k < c["layers"] - 1 and self.training:
                    seq = self._drop(noise, f"temporal_encoder.rnn.dropout_l{k}", seq)
            w = torch.softmax(self.temporal_encoder.attention(seq), dim=1)
            tout = (w * seq).sum(1)
        else:
            tout = fd.view(B, T, -1).mean(1)
        out["temporal"] = tout
        proj = self._mlp_fwd(self.projection, 0, tout, noise, "projection")
        out["projection"] = proj
        out["class_logits"] = self.classifier(proj)
        out["binary_logits"] = self.binary_classifier(proj)
        emb = self.anomaly_head.embedding
        e = emb[4](self._mlp_fwd(emb, 0, proj, noise, "anomaly_head.embedding"))
        out["svdd_embedding"] = e
        out["svdd_score"] = ((e - self.anomaly_head.center) ** 2).sum(1)
        if c["vae_level"] != "none":
            self._vae_forward(out, fd, frames, noise, B, T)
        return out

    def _vae_forward(self, out, fd, frames, noise, B, T):
        c, v, N = self.cfg, self.vae, B * T
        if c["vae_level"] == "feature":
            h = fd
            for i in range(len(c["vae_hidden"])):
                h = self._mlp_fwd(v.encoder, 4 * i, h, noise, "vae.encoder")
            target = fd.detach() if c["vae_detach_target"] else fd
        else:
            h = v.encoder(frames).reshape(N, -1)
            if c["vae_target"] == "normalized":
                target = frames
            else:
                sd = torch.tensor(IMAGENET_STD, dtype=frames.dtype, device=frames.device)
                mn = torch.tensor(IMAGENET_MEAN, dtype=frames.dtype, device=frames.device)
                sd, mn = sd.view(1, 3, 1, 1), mn.view(1, 3, 1, 1)
                target = (frames * sd + mn) * 2 - 1
        mu, logvar = v.fc_mu(h), v.fc_logvar(h)
        z = mu + noise["vae.eps"].to(mu.dtype) * torch.exp(0.5 * logvar) if self.training else mu
        if c["vae_level"] == "feature":
            d = z
            for i in range(len(c["vae_hidden"])):
                d = self._mlp_fwd(v.decoder, 4 * i, d, noise, "vae.decoder")
            rec = v.decoder[4 * len(c["vae_hidden"])](d)
        else:
            d = v.decoder_input(z).view(N, c["vae_channels"][-1], self.fs, self.fs)
            rec = v.decoder(d)
        mse = ((rec - target) ** 2).reshape(N, -1).mean(1)
        kl = -0.5 * (1 + logvar - mu ** 2 - torch.exp(logvar)).sum(1)
        lead = (B, T) if T > 1 else (B,)
        out["vae_mu"], out["vae_logvar"] = mu.reshape(*lead, -1), logvar.reshape(*lead, -1)
        out["vae_reconstruction"] = rec.reshape(*lead, *rec.shape[1:])
        out["vae_score"] = (mse + 0.1 * kl).view(B, T).mean(1)
        out["_mse"], out["_kl"] = mse, kl


def hybrid_loss(out, labels, anomaly, vae=True, gamma=2.5, alpha=0.25, smoothing=0.1,
                weights=(1.0, 0.5, 0.3, 0.2), beta=1.0):
    """MODEL_SPEC §4 as models/losses.c computes it without mixing (λ = 1):
    focal (smoothed CE, focal factor on the unsmoothed p_y), binary CE,
    supervised Deep SVDD with the margin detached, VAE = mean over frames of
    mse + β·kl. Returns {cls, bin, svdd, vae, total}."""
    z = out["class_logits"]
    C = z.shape[1]
    lp = torch.log_softmax(z, dim=1)
    q = F.one_hot(labels, C).to(z.dtype) * (1 - smoothing) + smoothing / C
    ce = -(q * lp).sum(1)
    py = lp.gather(1, labels[:, None])[:, 0].exp()
    cls = (alpha * (1 - py) ** gamma * ce).mean()
    binl = F.cross_entropy(out["binary_logits"], anomaly)
    d = out["svdd_score"]
    nrm, ano = anomaly == 0, anomaly == 1
    dn = d[nrm].mean() if nrm.any() else d.new_zeros(())
    margin = dn.detach() + 1.0
    svdd = dn + (torch.relu(margin - d[ano]).mean() if ano.any() else 0.0)
    vl = (out["_mse"] + beta * out["_kl"]).mean() if vae and "_mse" in out else z.new_zeros(())
    svdd = torch.as_tensor(svdd, dtype=z.dtype)
    total = weights[0] * cls + weights[1] * binl + weights[2] * svdd + weights[3] * vl
    return {"cls": cls, "bin": binl, "svdd": svdd, "vae": vl, "total": total}


# Weights and inputs from a formula both sides compute (tests/test_torch_model.c
# has the C twin of these lines): value i of the tensor called `name` is
#   v = fmix32((i * 0x9E3779B1 + fnv1a32(name)) mod 2^32),  u = (v >> 8) / 2^24 - 1/2
# mapped by kind (every step in float64, rounded once to float32):
#   running_var 1 + u/2; running_mean u/5; anomaly_head.center u/2; BN weight
#   (1-D ".weight") 1 + 2u/5; other 1-D (biases) u/5; "x" 4u; tensors of rank >= 2
#   u * gain * sqrt(12 / fan_in) with fan_in = numel / shape[0] (standard
#   deviation gain / sqrt(fan_in)). The gain (a case's "weight_gain") is chosen
#   so that activations neither vanish nor explode through the backbone in
#   evaluation mode, where BatchNorm uses the formula's running statistics:
#   1.0 would make every eval output independent of the input.
WEIGHT_GAIN = 1.6


def _fnv1a32(s):
    h = 0x811C9DC5
    for ch in s.encode():
        h = ((h ^ ch) * 0x01000193) & 0xFFFFFFFF
    return h


def formula_tensor(name, shape, gain=WEIGHT_GAIN):
    n = int(np.prod(shape)) if len(shape) else 1
    M = np.uint64(0xFFFFFFFF)
    v = (np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B1) + np.uint64(_fnv1a32(name))) & M
    v ^= v >> np.uint64(16)
    v = (v * np.uint64(0x85EBCA6B)) & M
    v ^= v >> np.uint64(13)
    v = (v * np.uint64(0xC2B2AE35)) & M
    v ^= v >> np.uint64(16)
    u = (v >> np.uint64(8)).astype(np.float64) * 2.0 ** -24 - 0.5
    if name.endswith("running_var"):
        val = 1.0 + 0.5 * u
    elif name.endswith("running_mean"):
        val = 0.2 * u
    elif name == "anomaly_head.center":
        val = 0.5 * u
    elif name == "x":
        val = 4.0 * u
    elif len(shape) == 1 and name.endswith(".weight"):
        val = 1.0 + 0.4 * u
    elif len(shape) <= 1:
        val = 0.2 * u
    else:
        val = u * (gain * math.sqrt(12.0 / (n // shape[0])))
    return torch.from_numpy(val.astype(np.float32)).reshape(shape)


def twin_from_formula(cfg, gain=WEIGHT_GAIN):
    """A float64 twin whose every tensor comes from formula_tensor."""
    m = HybridTwin(cfg).double()
    with torch.no_grad():
        for name, t in m.state_dict().items():
            if not name.endswith("num_batches_tracked"):
                t.copy_(formula_tensor(HybridTwin.export_name(name), tuple(t.shape), gain))
    return m
