"""Optimizer and LR-scheduler fixtures for tests/SharpPrune.Tests/Optim (run with /usr/bin/python3, torch 1.13).

optim_cases.safetensors
    param.<i>                 initial parameters (3 tensors)
    grad.<step>.<i>           gradient of parameter i at step 1..5; absent = grad is None at that step
                              (parameter 2 has no gradient at step 3, exercising skip + per-parameter step counts)
    <case>/param.<step>.<i>   parameters after each step
    <case>/state.<i>.<name>   optimizer.state_dict() tensors after the last step (name as in PyTorch)
    metadata case.<case>      JSON: {"type": "SGD"|"Adam"|"AdamW", constructor arguments...}
schedulers.safetensors (metadata only)
    case.<case>               JSON: {"type", "lr", constructor arguments, "lrs": [lr after construction, after step 1, ...]}
                              floats written with repr(), so they round-trip exactly.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import save  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "optim")
STEPS = 5
SHAPES = [(3, 4), (5,), (2, 3)]
NO_GRAD = {(3, 2)}  # (step, param index) with grad None

OPT_CASES = {
    "sgd_plain": {"type": "SGD", "lr": 0.1},
    "sgd_momentum_wd": {"type": "SGD", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.01},
    "sgd_nesterov": {"type": "SGD", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.001, "nesterov": True},
    "sgd_dampening": {"type": "SGD", "lr": 0.05, "momentum": 0.8, "dampening": 0.3},
    "adam": {"type": "Adam", "lr": 0.01},
    "adam_wd_amsgrad": {"type": "Adam", "lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6,
                        "weight_decay": 0.1, "amsgrad": True},
    "adamw": {"type": "AdamW", "lr": 0.01},
    "adamw_amsgrad": {"type": "AdamW", "lr": 0.02, "weight_decay": 0.05, "amsgrad": True},
}

SCHED_CASES = {
    "steplr": {"type": "StepLR", "lr": 0.1, "step_size": 3, "gamma": 0.5},
    "multisteplr": {"type": "MultiStepLR", "lr": 0.1, "milestones": [2, 5, 5, 11], "gamma": 0.3},
    "cosine_etamin": {"type": "CosineAnnealingLR", "lr": 0.1, "t_max": 7, "eta_min": 0.001},
    "cosine": {"type": "CosineAnnealingLR", "lr": 0.05, "t_max": 10},
}
SCHED_STEPS = 20


def make_optimizer(params, c):
    if c["type"] == "SGD":
        return torch.optim.SGD(params, lr=c["lr"], momentum=c.get("momentum", 0), dampening=c.get("dampening", 0),
                               weight_decay=c.get("weight_decay", 0), nesterov=c.get("nesterov", False))
    cls = {"Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}[c["type"]]
    default_wd = 0.0 if c["type"] == "Adam" else 1e-2
    return cls(params, lr=c["lr"], betas=(c.get("beta1", 0.9), c.get("beta2", 0.999)), eps=c.get("eps", 1e-8),
               weight_decay=c.get("weight_decay", default_wd), amsgrad=c.get("amsgrad", False))


def make_scheduler(opt, c):
    if c["type"] == "StepLR":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=c["step_size"], gamma=c["gamma"])
    if c["type"] == "MultiStepLR":
        return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=c["milestones"], gamma=c["gamma"])
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=c["t_max"], eta_min=c.get("eta_min", 0))


def optimizer_cases():
    g = torch.Generator().manual_seed(2024)
    init = [torch.randn(*s, generator=g) for s in SHAPES]
    grads = {(step, i): torch.randn(*s, generator=g) * (0.5 + step)
             for step in range(1, STEPS + 1) for i, s in enumerate(SHAPES) if (step, i) not in NO_GRAD}
    out = [(f"param.{i}", t) for i, t in enumerate(init)]
    out += [(f"grad.{step}.{i}", t) for (step, i), t in sorted(grads.items())]
    meta = {}
    for name, c in OPT_CASES.items():
        params = [t.clone().requires_grad_(True) for t in init]
        opt = make_optimizer(params, c)
        for step in range(1, STEPS + 1):
            for i, p in enumerate(params):
                p.grad = grads[(step, i)].clone() if (step, i) in grads else None
            opt.step()
            out += [(f"{name}/param.{step}.{i}", p.detach().clone()) for i, p in enumerate(params)]
        for i, st in opt.state_dict()["state"].items():
            for k, v in st.items():
                if v is None:  # SGD without momentum keeps momentum_buffer=None
                    continue
                out.append((f"{name}/state.{i}.{k}", v.detach().clone().float().reshape(v.shape)))
        meta[f"case.{name}"] = json.dumps(c)
    save(os.path.join(OUT, "optim_cases.safetensors"), out, meta)


def scheduler_cases():
    meta = {}
    for name, c in SCHED_CASES.items():
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=c["lr"])
        sched = make_scheduler(opt, c)
        lrs = [sched.get_last_lr()[0]]
        for _ in range(SCHED_STEPS):
            opt.step()
            sched.step()
            lrs.append(sched.get_last_lr()[0])
            assert lrs[-1] == opt.param_groups[0]["lr"]
        meta[f"case.{name}"] = json.dumps(dict(c, lrs=lrs))
    save(os.path.join(OUT, "schedulers.safetensors"), [], meta)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    optimizer_cases()
    scheduler_cases()
    print("wrote", sorted((f, os.path.getsize(os.path.join(OUT, f))) for f in os.listdir(OUT)))
