"""Golden masks of torch.nn.utils.prune for tests/SharpPrune.Tests/Pruning (run with /usr/bin/python3, torch 1.13).

masks.safetensors, per case <case>:
    <case>.input[.<i>]        the tensor(s) pruned (float32), as parameters named "weight" of bare modules
    <case>.scores[.<i>]       importance scores, when the case uses them
    <case>.mask[.<step>][.<i>] PyTorch's resulting weight_mask (after each step for multi-step cases)
    metadata case.<case>      the calls made, as text (the C# test repeats them)

Inputs are drawn so that no ranking falls inside a tie (PyTorch's topk order among equal values is unspecified):
entry magnitudes are distinct, and channel norms differ by a relative margin well above float32 rounding, so the
masks are fully determined and the C# port must reproduce them bit for bit. Random methods are not here: their
masks depend on the generator, which SharpPrune does not share with PyTorch.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.utils.prune as prune

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import save  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "pruning")
CONV = (6, 4, 3, 3)
NORMS = {"1": 1, "2": 2, "inf": float("inf"), "-inf": float("-inf"), "0": 0, "fro": "fro"}
DIMS = [0, 1, -1]

gen = torch.Generator().manual_seed(1234)
tensors = {}
meta = {}


def distinct(*shape):
    """Standard normal entries whose magnitudes are pairwise distinct by a clear margin."""
    while True:
        t = torch.randn(*shape, generator=gen)
        a = t.abs().flatten().sort().values
        if a.numel() < 2 or (a[1:] - a[:-1]).min() > 1e-6:
            return t


def norms(t, n, dim):
    dims = [d for d in range(t.dim()) if d != (dim % t.dim())]
    return torch.norm(t.double(), p=n, dim=dims)


def separated(values, rel=1e-4):
    v = values.double().sort().values
    return bool(((v[1:] - v[:-1]) > rel * v[1:].abs().clamp_min(1e-12)).all())


def channel_input(n, dim, shape=CONV):
    """Input whose channel norms along dim are well separated; for L0 each channel gets its own count of zeros."""
    while True:
        t = distinct(*shape)
        if n == 0:
            d = dim % t.dim()
            moved = t.movedim(d, 0).contiguous()
            for c in range(moved.shape[0]):
                flat = moved[c].view(-1)
                flat[torch.randperm(flat.numel(), generator=gen)[:c]] = 0.0
            t = moved.movedim(0, d).contiguous()
        if separated(norms(t, n, dim)):
            return t


def holder(w):
    m = nn.Module()
    m.register_parameter("weight", nn.Parameter(w.clone()))
    return m


def add(case, description, **named):
    meta["case." + case] = description
    for k, v in named.items():
        tensors[f"{case}.{k}"] = v.detach().clone().contiguous()


def mask_of(m):
    return m.weight_mask.detach().clone()


def main():
    os.makedirs(OUT, exist_ok=True)

    # l1_unstructured: int 0 / int 1 / float 1.0 / float 0.3 / int 7, plus half-to-even rounding on 5 entries.
    w = distinct(*CONV)
    for case, amount in [("l1_int0", 0), ("l1_int1", 1), ("l1_float1", 1.0), ("l1_float0.3", 0.3), ("l1_int7", 7)]:
        m = holder(w)
        prune.l1_unstructured(m, "weight", amount=amount)
        add(case, f"l1_unstructured(amount={amount!r})", input=w, mask=mask_of(m))
    b = distinct(5)
    for case, amount in [("l1_round0.5", 0.5), ("l1_round0.7", 0.7), ("l1_round0.1", 0.1)]:
        m = holder(b)
        prune.l1_unstructured(m, "weight", amount=amount)
        add(case, f"l1_unstructured(amount={amount!r}) on 5 entries: round({amount!r} * 5) = {round(amount * 5)}",
            input=b, mask=mask_of(m))

    # iterative l1: 0.3, then 0.3 of what is left, then int 2.
    w = distinct(8, 5)
    m = holder(w)
    steps = {}
    for i, amount in enumerate([0.3, 0.3, 2], start=1):
        prune.l1_unstructured(m, "weight", amount=amount)
        steps[f"mask.{i}"] = mask_of(m)
    add("l1_iter", "l1_unstructured 0.3, then 0.3, then 2", input=w, **steps)

    # ln_structured for every norm and dim. torch 1.13 computes 'fro' only over at most 2 dims (it raises
    # "Expected at most 2 dimensions" on a conv weight), so that norm uses a 3-D tensor.
    for nname, n in NORMS.items():
        for dim in DIMS:
            w = channel_input(n if n != "fro" else 2, dim, shape=(6, 4, 5) if n == "fro" else CONV)
            m = holder(w)
            prune.ln_structured(m, "weight", amount=0.5, n=n, dim=dim)
            add(f"ln_n{nname}_dim{dim}", f"ln_structured(amount=0.5, n={n!r}, dim={dim})", input=w, mask=mask_of(m))

    # containers: structured after unstructured, unstructured after structured, structured after structured.
    while True:
        w = distinct(*CONV)
        m = holder(w)
        prune.l1_unstructured(m, "weight", amount=0.4)
        eff = w * m.weight_mask
        if separated(norms(eff, 2, 0)) and separated(norms(eff, 1, 1)):
            break
    m1 = mask_of(m)
    prune.ln_structured(m, "weight", amount=2, n=2, dim=0)
    m2 = mask_of(m)
    prune.ln_structured(m, "weight", amount=1, n=1, dim=1)
    add("l1_then_ln", "l1_unstructured(0.4); ln_structured(2, n=2, dim=0); ln_structured(1, n=1, dim=1)",
        input=w, **{"mask.1": m1, "mask.2": m2, "mask.3": mask_of(m)})

    while True:
        w = distinct(*CONV)
        if separated(norms(w, 2, 0)):
            break
    m = holder(w)
    prune.ln_structured(m, "weight", amount=0.5, n=2, dim=0)
    m1 = mask_of(m)
    prune.l1_unstructured(m, "weight", amount=0.3)
    add("ln_then_l1", "ln_structured(0.5, n=2, dim=0); l1_unstructured(0.3)", input=w, **{"mask.1": m1, "mask.2": mask_of(m)})

    while True:
        w = distinct(*CONV)
        if separated(norms(w, 2, 0)):
            break
    m = holder(w)
    prune.ln_structured(m, "weight", amount=2, n=2, dim=0)
    m1 = mask_of(m)
    prune.ln_structured(m, "weight", amount=0.5, n=2, dim=0)  # 2 of the 4 channels left
    add("ln_then_ln", "ln_structured(2, n=2, dim=0); ln_structured(0.5, n=2, dim=0)", input=w,
        **{"mask.1": m1, "mask.2": mask_of(m)})

    # global_unstructured over a conv weight, a linear weight and a bias.
    g = [distinct(4, 3, 3, 3), distinct(5, 8), distinct(5)]
    while len(torch.cat([t.flatten() for t in g]).abs().unique()) != sum(t.numel() for t in g):
        g = [distinct(4, 3, 3, 3), distinct(5, 8), distinct(5)]
    for case, amount in [("global_float", 0.35), ("global_int", 20)]:
        ms = [holder(t) for t in g]
        prune.global_unstructured([(x, "weight") for x in ms], pruning_method=prune.L1Unstructured, amount=amount)
        add(case, f"global_unstructured(L1Unstructured, amount={amount!r}) over 3 tensors",
            **{f"input.{i}": t for i, t in enumerate(g)}, **{f"mask.{i}": mask_of(x) for i, x in enumerate(ms)})

    ms = [holder(t) for t in g]
    prune.l1_unstructured(ms[1], "weight", amount=0.5)
    prune.global_unstructured([(x, "weight") for x in ms], pruning_method=prune.L1Unstructured, amount=0.3)
    add("global_after_l1", "l1_unstructured(tensor 1, 0.5); global_unstructured(L1Unstructured, amount=0.3)",
        **{f"input.{i}": t for i, t in enumerate(g)}, **{f"mask.{i}": mask_of(x) for i, x in enumerate(ms)})

    # importance scores.
    w, s = distinct(*CONV), distinct(*CONV)
    m = holder(w)
    prune.l1_unstructured(m, "weight", amount=0.4, importance_scores=s)
    add("l1_scores", "l1_unstructured(0.4, importance_scores)", input=w, scores=s, mask=mask_of(m))

    while True:
        w, s = distinct(*CONV), distinct(*CONV)
        if separated(norms(s, 2, 1)):
            break
    m = holder(w)
    prune.ln_structured(m, "weight", amount=2, n=2, dim=1, importance_scores=s)
    add("ln_scores", "ln_structured(2, n=2, dim=1, importance_scores)", input=w, scores=s, mask=mask_of(m))

    s = [distinct(4, 3, 3, 3), distinct(5, 8)]  # the bias ranks by its own values
    ms = [holder(t) for t in g]
    prune.global_unstructured([(x, "weight") for x in ms], pruning_method=prune.L1Unstructured, amount=0.4,
                              importance_scores={(ms[0], "weight"): s[0], (ms[1], "weight"): s[1]})
    add("global_scores", "global_unstructured(L1Unstructured, 0.4, importance_scores for tensors 0 and 1)",
        **{f"input.{i}": t for i, t in enumerate(g)}, **{f"scores.{i}": t for i, t in enumerate(s)},
        **{f"mask.{i}": mask_of(x) for i, x in enumerate(ms)})

    # custom_from_mask, then l1 on what it left.
    w = distinct(8, 5)
    cm = (torch.rand(8, 5, generator=gen) > 0.3).float()
    m = holder(w)
    prune.custom_from_mask(m, "weight", mask=cm)
    prune.l1_unstructured(m, "weight", amount=0.25)
    add("custom_then_l1", "custom_from_mask(custom); l1_unstructured(0.25)", input=w, custom=cm, mask=mask_of(m))

    path = os.path.join(OUT, "masks.safetensors")
    save(path, tensors, metadata=meta)
    print(f"wrote {len(tensors)} tensors, {len(meta)} cases to {os.path.relpath(path)}")


def write_nuc_cases():
    """ln_structured(n='nuc') into nuc_masks.safetensors (its own generator, so masks.safetensors stays as it was).

    torch 1.13 computes torch.norm(t, p='nuc', dim=<the dims other than dim>), a matrix norm: only a 3-D tensor
    leaves the two dims it needs; on 2-D and 4-D tensors it raises "nuclear norm requires a 'dim' argument of
    size 2" (the C# test checks that refusal). Per case <case>: .input, .mask and .norms (float64 nuclear norms
    of the channels, the sum of each channel matrix's singular values).
    """
    g = torch.Generator().manual_seed(4321)
    out, info = {}, {}
    cases = [("nuc_dim0", (6, 4, 5), 0, 0.5), ("nuc_dim1", (3, 8, 5), 1, 3), ("nuc_dim-1", (4, 3, 7), -1, 0.5),
             ("nuc_dim2_square", (5, 4, 4), 2, 0.25), ("nuc_dim0_rank1", (6, 1, 9), 0, 2)]
    for case, shape, dim, amount in cases:
        while True:
            t = torch.randn(*shape, generator=g)
            dims = [d for d in range(t.dim()) if d != dim % t.dim()]
            n = torch.norm(t.double(), p="nuc", dim=dims)
            v = n.sort().values
            if bool(((v[1:] - v[:-1]) > 1e-4 * v[1:]).all()):
                break
        m = holder(t)
        prune.ln_structured(m, "weight", amount=amount, n="nuc", dim=dim)
        info["case." + case] = f"ln_structured(amount={amount!r}, n='nuc', dim={dim})"
        out[case + ".input"] = t.contiguous()
        out[case + ".mask"] = mask_of(m).contiguous()
        out[case + ".norms"] = n.contiguous()
    path = os.path.join(OUT, "nuc_masks.safetensors")
    save(path, out, metadata=info)
    print(f"wrote {len(out)} tensors, {len(info)} cases to {os.path.relpath(path)}")


if __name__ == "__main__":
    main()
    write_nuc_cases()
