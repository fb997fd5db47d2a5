"""Reference masks for the workflow methods (tests/SharpPrune.Tests/Pruning/WorkflowMethodTests.cs), run with
/usr/bin/python3 (torch 1.13). Written as a PyTorch user would write them with torch.nn.utils.prune:

workflow.safetensors
    threshold.<q>.input / .mask         Han et al. 2015: a custom BasePruningMethod pruning |w| < q * std(w)
                                        (population std, numpy's default), applied to a fresh tensor
    threshold2.input / .mask            the same method applied twice (q=0.5 then 0.5): the second sees only the
                                        survivors (PyTorch's PruningContainer), so its std is theirs
    rates.<layer>.input / .mask         per-layer rates: prune.l1_unstructured(layer, "weight", rate) per layer
    global.<i>.input / .mask.<step>     pruning to a global target sparsity in steps (0.3, then 0.6): the number
                                        still to prune, as an int amount, through prune.global_unstructured
    agp.sparsity                        Zhu & Gupta's s_t for si=0.1, sf=0.9, t0=10, n*dt=100, t = 0..120
Magnitudes are drawn distinct so no cut falls inside a tie.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.utils.prune as prune

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import save  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "pruning")
gen = torch.Generator().manual_seed(4321)
tensors, meta = {}, {}


def distinct(*shape):
    while True:
        t = torch.randn(*shape, generator=gen)
        a = t.abs().flatten().sort().values
        if (a[1:] - a[:-1]).min() > 1e-6:
            return t


class ThresholdPruning(prune.BasePruningMethod):
    PRUNING_TYPE = "unstructured"

    def __init__(self, quality):
        self.quality = quality

    def compute_mask(self, t, default_mask):
        threshold = self.quality * t.double().std(unbiased=False)
        return default_mask * (t.double().abs() >= threshold).to(default_mask.dtype)


def bare(w):
    m = nn.Module()
    m.weight = nn.Parameter(w.clone())
    return m


for q in ["0.0", "0.25", "0.7", "1.0", "2.5"]:
    w = distinct(8, 4, 3, 3)
    m = bare(w)
    ThresholdPruning.apply(m, "weight", float(q))
    tensors[f"threshold.{q}.input"] = w
    tensors[f"threshold.{q}.mask"] = m.weight_mask

w = distinct(20, 30)
m = bare(w)
ThresholdPruning.apply(m, "weight", 0.5)
ThresholdPruning.apply(m, "weight", 0.5)
tensors["threshold2.input"] = w
tensors["threshold2.mask"] = m.weight_mask

rates = {"conv1": 0.16, "conv2": 0.62, "fc1": 0.9497}
for name, rate in rates.items():
    w = distinct(*((6, 3, 5, 5) if name.startswith("conv") else (40, 24)))
    m = bare(w)
    prune.l1_unstructured(m, "weight", amount=rate)
    tensors[f"rates.{name}.input"] = w
    tensors[f"rates.{name}.mask"] = m.weight_mask
meta["rates"] = ",".join(f"{k}={v}" for k, v in rates.items())

ws = [distinct(5, 7), distinct(3, 2, 3, 3), distinct(11)]
mods = [bare(w) for w in ws]
for i, w in enumerate(ws):
    tensors[f"global.{i}.input"] = w
total = sum(w.numel() for w in ws)
for step, s in enumerate([0.3, 0.6]):
    pruned = sum(int((m.weight_mask == 0).sum()) if hasattr(m, "weight_mask") else 0 for m in mods)
    need = int(round(s * total)) - pruned
    prune.global_unstructured([(m, "weight") for m in mods], pruning_method=prune.L1Unstructured, amount=need)
    for i, m in enumerate(mods):
        tensors[f"global.{i}.mask.{step}"] = m.weight_mask.clone()

si, sf, t0, span = 0.1, 0.9, 10, 100
agp = []
for t in range(121):
    if t < t0:
        agp.append(0.0)
    elif t >= t0 + span:
        agp.append(sf)
    else:
        agp.append(sf + (si - sf) * (1 - (t - t0) / span) ** 3)
tensors["agp.sparsity"] = torch.tensor(agp, dtype=torch.float64)

os.makedirs(OUT, exist_ok=True)
save(os.path.join(OUT, "workflow.safetensors"), tensors, meta)
print("wrote", os.path.join(OUT, "workflow.safetensors"), len(tensors), "tensors")
