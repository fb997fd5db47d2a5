"""Safetensors interop fixtures for tests/SharpPrune.Tests/IO (run with /usr/bin/python3).

python_written.safetensors: F32 tensors (incl. 0-d and empty) + metadata, written by scripts/fixture_io.py; our
    reader must return the same values and our writer must reproduce the file byte for byte.
dtypes.safetensors: one tensor per dtype PyTorch can save (I64 is what BatchNorm's num_batches_tracked uses),
    with "expect.<dtype>" holding torch's own float32 conversion of each.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import load, save  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "io")


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(1234)
    f32 = [
        ("conv1.weight", torch.randn(4, 3, 2, 2, generator=g)),
        ("conv1.bias", torch.randn(4, generator=g)),
        ("scalar", torch.tensor(3.25)),
        ("empty", torch.zeros(0, 5)),
        ("fc.weight", torch.arange(6, dtype=torch.float32).reshape(2, 3) - 2.5),
    ]
    save(os.path.join(OUT, "python_written.safetensors"), f32, {"format": "pt", "model": "tiny", "epoch": "7"})

    base = torch.tensor([-3.7, -1.0, 0.0, 0.5, 1.25, 2.0, 100.9, 65504.0, 1e-3, -250.0])
    typed = [
        ("F64", base.double() * 1.000000001),
        ("F16", base.half()),
        ("BF16", base.bfloat16()),
        ("I64", torch.tensor([0, -1, 7, 2 ** 40 + 3, -(2 ** 33), 9_007_199_254_740_993], dtype=torch.int64)),
        ("I32", torch.tensor([[0, -5], [123456789, -2 ** 31]], dtype=torch.int32)),
        ("I16", torch.tensor([-32768, 32767, 0, -2], dtype=torch.int16)),
        ("I8", torch.tensor([-128, 127, 3], dtype=torch.int8)),
        ("U8", torch.tensor([0, 255, 17], dtype=torch.uint8)),
        ("BOOL", torch.tensor([True, False, True, True])),
        ("num_batches_tracked", torch.tensor(391, dtype=torch.int64)),
    ]
    items = typed + [("expect." + name, t.float()) for name, t in typed]
    path = os.path.join(OUT, "dtypes.safetensors")
    save(path, items, {"note": "expect.* is torch's .float() of each tensor"})

    # Self-check: the pure-python reader returns what was written.
    back, meta = load(path)
    for name, t in items:
        assert back[name].dtype == t.dtype and torch.equal(back[name], t), name
    assert meta["note"].startswith("expect")
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
