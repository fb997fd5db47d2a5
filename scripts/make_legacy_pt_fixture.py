#!/usr/bin/python3
"""torch.save files in the legacy (pre-1.6, non-zip) format, for tests/SharpPrune.Tests/Interop/TorchLegacyTests.cs.

Run with the system python (torch 1.13):  /usr/bin/python3 scripts/make_legacy_pt_fixture.py
Writes tests/fixtures/interop/:
  lenet5_legacy.pth.tar     torch.save({'epoch', 'state_dict' (DataParallel 'module.' keys), 'best_prec1',
                            'optimizer' (momentum buffers: storages the state dict does not use)},
                            _use_new_zipfile_serialization=False) of LeNet-5 (the zoo's PyTorch mirror)
  dtypes_legacy.pt          float16/bfloat16/float64/int64 tensors, a transposed view and a view with an offset that
                            shares its base's storage, in the same format
  legacy_expected.safetensors  lenet5.x (batch 3), lenet5.y (its eval-mode output); dtypes.<name> as float32

The legacy layout: pickles of the magic number, the protocol version (1001) and sys_info, then the object pickled
with persistent ids ('storage', type, key, location, numel, view_metadata), then a pickle of the sorted storage
keys, then each storage as an 8-byte little-endian element count followed by its raw bytes.
"""
import collections
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fixture_io  # noqa: E402
import model_param_counts as zoo  # noqa: E402

OUT = os.path.join(HERE, "..", "tests", "fixtures", "interop")


def main():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(5)
    expected = {}
    lenet = zoo.lenet5()
    opt = torch.optim.SGD(lenet.parameters(), lr=0.1, momentum=0.9)
    lenet(torch.randn(2, 1, 28, 28, generator=g)).sum().backward()
    opt.step()
    lenet.eval()
    x = torch.randn(3, 1, 28, 28, generator=g)
    with torch.no_grad():
        expected["lenet5.x"] = x
        expected["lenet5.y"] = lenet(x)
    dp = nn.DataParallel(lenet)
    torch.save({"epoch": 7, "state_dict": dp.state_dict(), "best_prec1": 88.5, "optimizer": opt.state_dict()},
               os.path.join(OUT, "lenet5_legacy.pth.tar"), _use_new_zipfile_serialization=False)

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
    dtypes = collections.OrderedDict([
        ("f16", torch.randn(5, generator=g).half()),
        ("bf16", torch.randn(2, 3, generator=g).bfloat16()),
        ("f64", torch.randn(4, generator=g).double()),
        ("i64", torch.tensor([3, -2, 1 << 40], dtype=torch.int64)),
        ("transposed", base.t()),
        ("offset_view", base[1:, 2:5]),
        ("base", base),
    ])
    torch.save(dtypes, os.path.join(OUT, "dtypes_legacy.pt"), _use_new_zipfile_serialization=False)
    for k, v in dtypes.items():
        expected[f"dtypes.{k}"] = v.float()
    fixture_io.save(os.path.join(OUT, "legacy_expected.safetensors"), {k: v.contiguous() for k, v in expected.items()})
    for f in ("lenet5_legacy.pth.tar", "dtypes_legacy.pt", "legacy_expected.safetensors"):
        print(f"{f:30s} {os.path.getsize(os.path.join(OUT, f)):>9,d} bytes")


if __name__ == "__main__":
    main()
