#!/usr/bin/python3
"""The PyTorch twin of Ruff et al.'s one-class Deep SVDD on Fashion-MNIST
(experiments/ruff_fmnist.yaml), written from lukasruff/Deep-SAD-PyTorch's
description: the same network, data, centre, loss, optimiser and schedule
as the public code runs them, outside vadbench.

Usage (from the repository root; Debian's python3-torch, and the
dataset-fashion-mnist package for real runs):

    /usr/bin/python3 tests/reference/ruff_twin.py run --classes 0,1,6 --seeds 0,1,2 \\
        [--epochs 150] [--pretrain-epochs 0] [--threads 2] [--out results/validate_twin.json]
    /usr/bin/python3 tests/reference/ruff_twin.py bench [--threads 2] [--batch 128]

`run` trains and tests every (class, seed) cell and writes/updates a JSON file
{"cells": {"<class name>/seed<k>": {"auroc": ..., "seconds": ..., ...}}}
(`make validate-twin` does this; `harness/validate.sh` prints it beside
vadbench's numbers). `bench` times training steps (images/s).

The protocol, as the public code runs it:
  * FashionMNIST_LeNet (src/networks/fmnist_LeNet.py): conv 5x5 1->16 pad 2,
    BatchNorm2d(eps 1e-4, affine False), LeakyReLU(0.01), max-pool 2; conv
    16->32 likewise; Linear 1568->128, BatchNorm1d, LeakyReLU; Linear
    128->64; no biases. PyTorch's default initialisation.
  * data: the 6,000 training images of the normal class, x/255 (ToTensor);
    all 10,000 test images, label 1 for every other class.
  * DataLoader(batch 128, shuffle, drop_last=True) for training and for the
    centre; the test loader in order.
  * centre: mean of the eval-mode outputs over the training loader before
    training, |c_i| < 0.1 set to +-0.1 (c_i == 0 left alone, as the code).
  * loss: mean over the batch of ||phi(x) - c||^2; score: the same distance in
    eval mode; AUROC over the test set.
  * torch.optim.Adam(lr 1e-4, weight_decay 0.5e-6), MultiStepLR([50], 0.1)
    stepped at the START of each epoch as DeepSAD_trainer.train does (under
    torch >= 1.1 the rate drops from epoch index 49), 150 epochs.
  * optional autoencoder pretraining (FashionMNIST_LeNet_Decoder, MSE, Adam
    lr 1e-4 weight_decay 0.5e-3) whose encoder weights ARE copied into the
    network (the public code's copy matches no name; see ruff_fmnist.yaml).

The same module holds what tests/reference/make_validity_fixtures.py needs
(the network classes with their C-side names, the training loop on given
tensors).
"""

import gzip
import json
import os
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle_boot"]


# ----------------------------------------------------------------- networks

class LeNet(nn.Module):
    """Ruff's FashionMNIST_LeNet with its sizes as parameters; names conv{l},
    bn2d{l}, fc1, bn1d1, fc2 as the original (and as vadbench's
    backbone.lenet.*)."""

    def __init__(self, channels=(16, 32), kernel=5, hidden=128, out=64, in_channels=1,
                 image=28, bias=False, bn_affine=False, eps=1e-4, slope=0.01):
        super().__init__()
        self.slope, self.rep_dim, self.nconv = slope, out, len(channels)
        cin, h = in_channels, image
        for i, c in enumerate(channels):
            setattr(self, f"conv{i + 1}", nn.Conv2d(cin, c, kernel, bias=bias, padding=kernel // 2))
            setattr(self, f"bn2d{i + 1}", nn.BatchNorm2d(c, eps=eps, affine=bn_affine))
            cin, h = c, h // 2
        self.flat = cin * h * h
        self.hidden = hidden
        if hidden > 0:
            self.fc1 = nn.Linear(self.flat, hidden, bias=bias)
            self.bn1d1 = nn.BatchNorm1d(hidden, eps=eps, affine=bn_affine)
        self.fc2 = nn.Linear(hidden if hidden > 0 else self.flat, out, bias=bias)

    def forward(self, x):
        for i in range(self.nconv):
            x = getattr(self, f"conv{i + 1}")(x)
            x = F.max_pool2d(F.leaky_relu(getattr(self, f"bn2d{i + 1}")(x), self.slope), 2, 2)
        x = x.reshape(x.shape[0], -1)
        if self.hidden > 0:
            x = F.leaky_relu(self.bn1d1(self.fc1(x)), self.slope)
        return self.fc2(x)


class Decoder(nn.Module):
    """Ruff's FashionMNIST_LeNet_Decoder (two conv levels, 28x28 only)."""

    def __init__(self, channels=(16, 32), hidden=128, out=64, in_channels=1, bias=False,
                 bn_affine=False, eps=1e-4, slope=0.01):
        super().__init__()
        c1, c2 = channels
        self.slope, self.c0 = slope, hidden // 16
        self.fc3 = nn.Linear(out, hidden, bias=bias)
        self.bn1d2 = nn.BatchNorm1d(hidden, eps=eps, affine=bn_affine)
        self.deconv1 = nn.ConvTranspose2d(self.c0, c2, 5, bias=bias, padding=2)
        self.bn2d3 = nn.BatchNorm2d(c2, eps=eps, affine=bn_affine)
        self.deconv2 = nn.ConvTranspose2d(c2, c1, 5, bias=bias, padding=3)
        self.bn2d4 = nn.BatchNorm2d(c1, eps=eps, affine=bn_affine)
        self.deconv3 = nn.ConvTranspose2d(c1, in_channels, 5, bias=bias, padding=2)

    def forward(self, z):
        s = self.slope
        x = self.bn1d2(self.fc3(z)).view(z.shape[0], self.c0, 4, 4)
        x = F.interpolate(F.leaky_relu(x, s), scale_factor=2)
        x = F.interpolate(F.leaky_relu(self.bn2d3(self.deconv1(x)), s), scale_factor=2)
        x = F.interpolate(F.leaky_relu(self.bn2d4(self.deconv2(x)), s), scale_factor=2)
        return torch.sigmoid(self.deconv3(x))


class Autoencoder(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        dec_kw = {k: v for k, v in kw.items() if k not in ("kernel", "image")}
        self.encoder = LeNet(**kw)
        self.decoder = Decoder(**dec_kw)

    def forward(self, x):
        return self.decoder(self.encoder(x))


# ----------------------------------------------------------------- data

def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        raw = f.read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def load_fmnist(directory=FMNIST_DIR):
    def find(stem):
        for name in (stem + ".gz", stem):
            p = os.path.join(directory, name)
            if os.path.exists(p):
                return p
        raise FileNotFoundError(f"{stem}(.gz) not in {directory} "
                                "(Debian: apt-get install dataset-fashion-mnist)")
    xtr = read_idx(find("train-images-idx3-ubyte"))
    ytr = read_idx(find("train-labels-idx1-ubyte"))
    xte = read_idx(find("t10k-images-idx3-ubyte"))
    yte = read_idx(find("t10k-labels-idx1-ubyte"))
    return xtr, ytr, xte, yte


def to_unit(x_uint8):
    """ToTensor: (N, 28, 28) uint8 -> (N, 1, 28, 28) float32 in [0, 1]."""
    return torch.from_numpy(x_uint8.astype(np.float32) / 255.0).unsqueeze(1)


# ----------------------------------------------------------------- the protocol

def batches(x, batch, shuffle, drop_last, gen):
    n = x.shape[0]
    order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    stop = n - n % batch if drop_last else n
    for i in range(0, stop, batch):
        yield x[order[i:i + batch]]


def init_center(net, x_train, batch, gen, eps=0.1, drop_last=True, shuffle=True):
    """DeepSAD_trainer.init_center_c: eval-mode mean over the train loader."""
    net.eval()
    c, n = None, 0
    with torch.no_grad():
        for xb in batches(x_train, batch, shuffle, drop_last, gen):
            out = net(xb)
            c = out.sum(0) if c is None else c + out.sum(0)
            n += out.shape[0]
    c = c / n
    c[(c.abs() < eps) & (c < 0)] = -eps
    c[(c.abs() < eps) & (c > 0)] = eps
    return c


def step_lrs(lr, milestones, gamma, epochs, start_of_epoch=True):
    """The learning rate of each epoch. start_of_epoch: MultiStepLR stepped
    before each epoch, as the public code does (decay one epoch early)."""
    out = []
    for e in range(epochs):
        k = sum(1 for m in milestones if (e + 1 if start_of_epoch else e) >= m)
        out.append(lr * gamma ** k)
    return out


def train_svdd(net, x_train, c, epochs, lrs, weight_decay, batch, gen, log=None):
    """Adam with L2 (torch.optim.Adam weight_decay), mean squared distance."""
    opt = torch.optim.Adam(net.parameters(), lr=lrs[0], weight_decay=weight_decay)
    losses = []
    for e in range(epochs):
        for g in opt.param_groups:
            g["lr"] = lrs[e]
        net.train()
        tot, nb = 0.0, 0
        for xb in batches(x_train, batch, True, True, gen):
            opt.zero_grad()
            loss = torch.mean(torch.sum((net(xb) - c) ** 2, dim=1))
            loss.backward()
            opt.step()
            losses.append(loss.item())
            tot, nb = tot + loss.item(), nb + 1
        if log:
            log(e, tot / max(nb, 1))
    return losses


def train_ae(ae, x_train, epochs, lrs, weight_decay, batch, gen, log=None):
    opt = torch.optim.Adam(ae.parameters(), lr=lrs[0], weight_decay=weight_decay)
    losses = []
    for e in range(epochs):
        for g in opt.param_groups:
            g["lr"] = lrs[e]
        ae.train()
        tot, nb = 0.0, 0
        for xb in batches(x_train, batch, True, True, gen):
            opt.zero_grad()
            loss = torch.mean((ae(xb) - xb) ** 2)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            tot, nb = tot + loss.item(), nb + 1
        if log:
            log(e, tot / max(nb, 1))
    return losses


def load_encoder(net, ae):
    """What init_network_weights_from_pretraining meant to do: copy every
    encoder.* entry (weights and BN statistics) onto the network."""
    sd = {k[len("encoder."):]: v for k, v in ae.state_dict().items() if k.startswith("encoder.")}
    net.load_state_dict(sd, strict=True)  # every tensor of the network, nothing else


def scores(net, x, c, batch=128):
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            out.append(torch.sum((net(x[i:i + batch]) - c) ** 2, dim=1))
    return torch.cat(out).numpy()


def auroc(labels, s):
    """Mann-Whitney AUROC with average ranks for ties (sklearn's value)."""
    labels = np.asarray(labels).astype(bool)
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    ss = np.asarray(s)[order]
    i = 0
    while i < len(ss):
        j = i
        while j + 1 < len(ss) and ss[j + 1] == ss[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    npos, nneg = labels.sum(), (~labels).sum()
    return (ranks[labels].sum() - npos * (npos + 1) / 2.0) / (npos * nneg)


def run_cell(data, cls, seed, epochs=150, pretrain_epochs=0, lr=1e-4, weight_decay=0.5e-6,
             milestones=(50,), ae_lr=1e-4, ae_weight_decay=0.5e-3, ae_milestones=(50,),
             batch=128, verbose=False):
    xtr, ytr, xte, yte = data
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_train = to_unit(xtr[ytr == cls])
    x_test, y_test = to_unit(xte), (yte != cls).astype(np.int64)
    net = LeNet()
    t0 = time.time()
    result = {"class": CLASS_NAMES[cls], "seed": seed, "epochs": epochs,
              "pretrain_epochs": pretrain_epochs, "train_images": int(x_train.shape[0])}
    if pretrain_epochs > 0:
        ae = Autoencoder()
        ae_l = train_ae(ae, x_train, pretrain_epochs,
                        step_lrs(ae_lr, ae_milestones, 0.1, pretrain_epochs), ae_weight_decay,
                        batch, gen)
        load_encoder(net, ae)
        result["pretrain_final_loss"] = float(np.mean(ae_l[-(x_train.shape[0] // batch):]))
    c = init_center(net, x_train, batch, gen)
    log = (lambda e, l: print(f"  epoch {e + 1}/{epochs} loss {l:.6f}", flush=True)) \
        if verbose else None
    losses = train_svdd(net, x_train, c, epochs, step_lrs(lr, milestones, 0.1, epochs),
                        weight_decay, batch, gen, log)
    s = scores(net, x_test, c)
    result["auroc"] = float(auroc(y_test, s))
    result["final_loss"] = float(np.mean(losses[-(x_train.shape[0] // batch):]))
    result["seconds"] = time.time() - t0
    result["torch"] = torch.__version__
    return result


# ----------------------------------------------------------------- command line

def parse_list(v, conv=int):
    return [conv(x) for x in v.split(",") if x != ""]


def main(argv):
    warnings.filterwarnings("ignore")
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    cmd, opts = argv[1], {}
    args = argv[2:]
    for i in range(0, len(args), 2):
        if not args[i].startswith("--") or i + 1 >= len(args):
            print(f"ruff_twin.py: bad argument {args[i]}", file=sys.stderr)
            return 2
        opts[args[i][2:]] = args[i + 1]
    torch.set_num_threads(int(opts.get("threads", "2")))
    if cmd == "bench":
        net, b = LeNet(), int(opts.get("batch", "128"))
        x = torch.rand(b, 1, 28, 28)
        c = torch.randn(64)
        opt = torch.optim.Adam(net.parameters(), lr=1e-4, weight_decay=0.5e-6)
        steps, t0 = int(opts.get("steps", "30")), None
        for i in range(steps + 5):
            if i == 5:
                t0 = time.time()
            opt.zero_grad()
            torch.mean(torch.sum((net(x) - c) ** 2, dim=1)).backward()
            opt.step()
        dt = time.time() - t0
        print(json.dumps({"images_per_s": b * steps / dt, "ms_per_step": 1e3 * dt / steps,
                          "threads": torch.get_num_threads(), "torch": torch.__version__}))
        return 0
    if cmd != "run":
        print(f"ruff_twin.py: unknown command {cmd} (run or bench)", file=sys.stderr)
        return 2
    classes = parse_list(opts.get("classes", "0,1,2,3,4,5,6,7,8,9"))
    seeds = parse_list(opts.get("seeds", "0,1,2"))
    epochs = int(opts.get("epochs", "150"))
    pre = int(opts.get("pretrain-epochs", "0"))
    out = opts.get("out", "results/validate_twin.json")
    data = load_fmnist(opts.get("data", FMNIST_DIR))
    store = {"cells": {}}
    if os.path.exists(out):
        with open(out) as f:
            store = json.load(f)
    for cls in classes:
        for seed in seeds:
            key = f"{CLASS_NAMES[cls]}/seed{seed}" + (f"/pretrain{pre}" if pre else "") + \
                (f"/epochs{epochs}" if epochs != 150 else "")
            if key in store["cells"]:
                print(f"{key}: done before, AUROC {store['cells'][key]['auroc']:.4f}")
                continue
            r = run_cell(data, cls, seed, epochs=epochs, pretrain_epochs=pre,
                         verbose=opts.get("verbose", "0") == "1")
            store["cells"][key] = r
            print(f"{key}: AUROC {r['auroc']:.4f} ({r['seconds']:.0f} s)", flush=True)
            tmp = out + ".tmp"
            os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
            with open(tmp, "w") as f:
                json.dump(store, f, indent=1, sort_keys=True)
            os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
