#!/usr/bin/python3
"""Fixtures for the training machinery, computed by PyTorch.

Writes tests/fixtures/train.json:
  * onecycle: torch.optim.lr_scheduler.OneCycleLR learning rates (and Adam's
    beta1 with cycle_momentum) at every step of two configurations;
  * adamw: 5 steps of torch.optim.AdamW (decoupled weight decay) on a vector
    with given gradients per step;
  * swa: torch.optim.swa_utils.AveragedModel's equal-weight average of three
    parameter snapshots, and update_bn's running statistics of a BatchNorm1d
    over three batches (cumulative average);
  * clip: torch.nn.utils.clip_grad_norm_ on a vector.

Regenerate with `make fixtures` or
    /usr/bin/python3 tests/reference/make_train_fixtures.py tests/fixtures
(needs Debian's python3-torch). Values are float64 lists; the C tests state
their tolerances.
"""
import json
import os
import sys

import torch


def onecycle(total, max_lr, pct, div, final_div, cycle):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=max_lr, betas=(0.9, 0.999))
    sch = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=max_lr, total_steps=total, pct_start=pct, div_factor=div,
        final_div_factor=final_div, anneal_strategy="cos", cycle_momentum=cycle,
        base_momentum=0.85, max_momentum=0.95)
    lrs, b1 = [], []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        b1.append(opt.param_groups[0]["betas"][0])
        opt.step()
        sch.step()
    return {"total": total, "max_lr": max_lr, "pct": pct, "div": div,
            "final_div": final_div, "cycle": cycle, "lr": lrs, "beta1": b1}


def adamw():
    g = torch.Generator().manual_seed(3)
    p0 = torch.randn(37, generator=g, dtype=torch.float32)
    grads = [torch.randn(37, generator=g, dtype=torch.float32) for _ in range(5)]
    p = torch.nn.Parameter(p0.clone())
    opt = torch.optim.AdamW([p], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    out = []
    for gr in grads:
        p.grad = gr.clone()
        opt.step()
        out.append(p.detach().clone().tolist())
    return {"p0": p0.tolist(), "grads": [x.tolist() for x in grads], "after": out,
            "lr": 1e-2, "wd": 0.01}


def swa():
    g = torch.Generator().manual_seed(5)
    snaps = [torch.randn(11, generator=g) for _ in range(3)]
    model = torch.nn.Linear(11, 1, bias=False)
    avg = torch.optim.swa_utils.AveragedModel(model)
    for s in snaps:
        with torch.no_grad():
            model.weight.copy_(s.view(1, 11))
        avg.update_parameters(model)
    bn = torch.nn.BatchNorm1d(4)
    batches = [torch.randn(6, 4, generator=g) * (i + 1) + i for i in range(3)]
    loader = [(b,) for b in batches]
    torch.optim.swa_utils.update_bn([b for (b,) in loader], bn)
    return {"snaps": [s.tolist() for s in snaps],
            "average": avg.module.weight.detach().view(-1).tolist(),
            "bn_batches": [b.tolist() for b in batches],
            "bn_mean": bn.running_mean.tolist(), "bn_var": bn.running_var.tolist()}


def clip():
    g = torch.Generator().manual_seed(7)
    a = torch.nn.Parameter(torch.zeros(20))
    a.grad = torch.randn(20, generator=g) * 3
    before = a.grad.clone()
    norm = torch.nn.utils.clip_grad_norm_([a], 1.0)
    return {"grad": before.tolist(), "norm": float(norm), "clipped": a.grad.tolist()}


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    os.makedirs(out_dir, exist_ok=True)
    data = {
        "onecycle": [onecycle(100, 1e-3, 0.2, 25.0, 1e4, False),
                     onecycle(37, 3e-3, 0.3, 10.0, 100.0, True)],
        "adamw": adamw(),
        "swa": swa(),
        "clip": clip(),
    }
    path = os.path.join(out_dir, "train.json")
    with open(path, "w") as f:
        json.dump(data, f, indent=None, separators=(",", ":"))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
