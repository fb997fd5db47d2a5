#!/usr/bin/python3
"""Whole-model parity fixtures for the model zoo (tests/SharpPrune.Tests/Vision/Models/ModelParityTests.cs).

Run with the system python (torch 1.13):  /usr/bin/python3 scripts/make_zoo_fixtures.py
Writes tests/fixtures/zoo/zoo_parity.safetensors.

Weights and inputs are not stored: both sides fill the state dict with the same hash-generated values (see
`noise` and `fill`), in state-dict order, and the input x (4 samples) with 1.7·noise(·, 1000). Per model <m>:
  <m>.eval        logits in eval mode (running statistics as filled)
  <m>.train       logits in training mode (batch statistics; dropout disabled)
  <m>.gout        upstream gradient for the training-mode logits
  <m>.grad.x      d/dx of (train * gout).sum()
  <m>.grad.first  the same for the first parameter (conv1 / features.0 weight); left out when it is large
  <m>.state.<key> running statistics of the first batch-norm layer after the training forward
Results are computed in float64 so the fixture holds the exact answer; the C# side runs float32. The script
also prints how far PyTorch's own float32 run lands from it (max |f32 − f64| / max |f64|), the yardstick for
the tolerances in the C# test.
"""
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fixture_io  # noqa: E402
import model_param_counts as zoo  # noqa: E402

OUT = os.path.join(HERE, "..", "tests", "fixtures", "zoo", "zoo_parity.safetensors")
BATCH = 4
MODELS = ["lenet5", "lenet300", "alexnet", "vgg11", "resnet20", "preresnet110"]


def noise(n, k):
    """n values in [-1, 1) from an integer hash of (i, k): exact integer arithmetic, so C# (ModelParityTests.Noise)
    computes bit-identical values. Hash-like rather than smooth, so no channel ends up (nearly) constant — batch
    norm over a constant channel would amplify float rounding without bound."""
    m = np.uint64(0xFFFFFFFF)
    h = (np.arange(n, dtype=np.uint64) * np.uint64(2654435761) + np.uint64((k + 1) * 2246822519)) & m
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(2246822519)) & m
    h ^= h >> np.uint64(13)
    return torch.from_numpy(h.astype(np.float64) / 2.0 ** 32 * 2 - 1)


def fill(name, k, t):
    """Closed-form value of state-dict entry number k. Mirrors ModelParityTests.Fill."""
    n = t.numel()
    s = noise(n, k)
    if name.endswith("num_batches_tracked"):
        return torch.zeros_like(t)
    if name.endswith("running_var"):
        v = 1 + 0.5 * s
    elif t.dim() >= 2:  # conv / linear weight: U(-b, b) with b = √(3 / fan_in), variance 1 / fan_in
        v = s * math.sqrt(3.0 / (n // t.shape[0]))
    elif name.endswith("weight"):  # batch-norm scale
        v = 1 + 0.2 * s
    else:  # biases, batch-norm shift, running_mean
        v = 0.1 * s
    # Round through float32 first: the C# model holds float32 values.
    return v.to(torch.float32).to(torch.float64).reshape(t.shape)


def run(name, dtype):
    """Fills the model and input, runs eval and train forwards and the backward; returns the named results."""
    make, shape = zoo.MODELS[name]
    m = make().to(dtype)
    sd = m.state_dict()
    m.load_state_dict({k: fill(k, i, v).to(dtype) if v.is_floating_point() else v for i, (k, v) in enumerate(sd.items())})
    x = (1.7 * noise(BATCH * math.prod(shape), 1000)).to(torch.float32).to(dtype).reshape(BATCH, *shape)
    m.eval()
    with torch.no_grad():
        y_eval = m(x)
    m.train()
    for mod in m.modules():
        if isinstance(mod, torch.nn.Dropout):
            mod.eval()
    xg = x.clone().requires_grad_()
    y = m(xg)
    gout = noise(y.numel(), 2000).reshape(y.shape).to(torch.float32).to(dtype)
    (y * gout).sum().backward()
    first = next(m.parameters())
    res = {"eval": y_eval, "train": y.detach(), "gout": gout, "grad.x": xg.grad}
    if first.numel() <= 25000:
        res["grad.first"] = first.grad
    bn = next((k for k in sd if k.endswith("running_mean")), None)
    if bn is not None:
        prefix = bn[: -len("running_mean")]
        after = m.state_dict()
        for stat in ("running_mean", "running_var"):
            res[f"state.{prefix}{stat}"] = after[prefix + stat]
    return res


def main():
    out = []
    for name in MODELS:
        ref, f32 = run(name, torch.float64), run(name, torch.float32)
        out += [(f"{name}.{k}", v) for k, v in ref.items()]
        errs = {k: ((f32[k].double() - ref[k]).abs().max() / ref[k].abs().max()).item()
                for k in ("eval", "train", "grad.x", "grad.first") if k in ref}
        print(f"{name:13s} torch float32 error: " + " ".join(f"{k}={v:.2e}" for k, v in errs.items()))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    fixture_io.save(OUT, [(k, v.float()) for k, v in out],
                    metadata={"generator": "scripts/make_zoo_fixtures.py", "torch": torch.__version__})
    print("wrote", os.path.relpath(OUT, os.path.join(HERE, "..")), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
