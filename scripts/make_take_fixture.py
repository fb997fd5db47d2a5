#!/usr/bin/python3
"""torch.take and its gradient (the gather behind weight sharing), as a fixture for Tensor.Take.

Run with the system python (torch 1.13):  /usr/bin/python3 scripts/make_take_fixture.py
Writes tests/fixtures/core/take.safetensors with the keys of make_core_fixtures.py (case.in.x, case.in.index as
exact float32, case.out, case.gout, case.grad.x); indices repeat, so the gradient sums several outputs per entry.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
torch.manual_seed(10)
x = (torch.rand(4, 5) * 4 - 2).requires_grad_()
index = torch.randint(0, 20, (3, 7))
out = torch.take(x, index)
gout = torch.rand(3, 7) * 2 - 1
(out * gout).sum().backward()
fixture_io.save(os.path.join(ROOT, "tests", "fixtures", "core", "take.safetensors"), {
    "take.in.x": x.detach(), "take.in.index": index.float(), "take.out": out.detach(), "take.gout": gout,
    "take.grad.x": x.grad,
}, metadata={"generator": "scripts/make_take_fixture.py", "torch": torch.__version__})
