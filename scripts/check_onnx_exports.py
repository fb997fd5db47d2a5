#!/usr/bin/python3
"""Checks `sharpprune export --format onnx` files with the ONNX project's own checker (python3-onnx 1.12).

Run from the repository root after a Release build:
    /usr/bin/python3 scripts/check_onnx_exports.py > scripts/check_onnx_exports.out.txt
For every zoo model: the freshly initialised model (--model NAME), the same with BatchNorm folded (--fold-bn), and
a pruned copy (PyTorch's mirror from scripts/model_param_counts.py, 50% global L1 on conv/linear weights, saved as
a SharpPrune safetensors checkpoint with its weight_orig/weight_mask keys, then exported: masks baked in). Each file
goes through onnx.checker.check_model(full_check=True) (schema, types and strict shape inference) and the inferred
output shape must be (batch, 10) with a symbolic batch. For the pruned files the initializers must equal
PyTorch's weight_orig * weight_mask bit for bit, under PyTorch's parameter names.
Then shrunk models (channels removed for real): the fresh model written as .pt (`export --format pt`), shrunk by
the CLI (`shrink --global --ratio 0.5`, L1), exported with only --load (the checkpoint records model and widths),
checked the same way; every initializer named after a parameter must equal the shrunk checkpoint's tensor (shape
and values), and the file must be smaller than the dense one.
"""
import collections
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fixture_io  # noqa: E402
import model_param_counts as zoo  # noqa: E402

CLI = os.environ.get("SHARPPRUNE", os.path.join(HERE, "..", "src", "SharpPrune.Cli", "bin", "Release", "net10.0", "sharpprune"))


def export(path, *args, fmt="onnx"):
    subprocess.run([CLI, "export", "--format", fmt, "--out", path, *args], check=True, stdout=subprocess.DEVNULL)


SHRUNK = ("vgg11", "resnet20")


def check_shrunk(tmp, name, dense_onnx):
    dense_pt, shrunk, out = (os.path.join(tmp, f"{name}{s}") for s in ("_dense.pt", "_shrunk.safetensors", "_shrunk.onnx"))
    export(dense_pt, "--model", name, fmt="pt")
    subprocess.run([CLI, "shrink", "--load", dense_pt, "--model", name, "--global", "--ratio", "0.5", "--no-timing", "--save", shrunk],
                   check=True, stdout=subprocess.DEVNULL)
    export(out, "--load", shrunk)
    m, ops = check(out)
    tensors, _ = fixture_io.load(shrunk)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    params = [k for k in tensors if k.endswith((".weight", ".bias")) and k in inits]
    assert params, "no parameter initializers"
    for k in params:
        assert np.array_equal(inits[k], tensors[k].numpy()), k
    size, dense_size = os.path.getsize(out), os.path.getsize(dense_onnx)
    assert size < dense_size, (size, dense_size)
    print(f"{name + ' shrunk':20s} checker + strict shape inference ok; {len(params)} parameter initializers equal the shrunk "
          f"checkpoint's; {size:,d} bytes ({size / dense_size:.0%} of dense); ops {dict(sorted(ops.items()))}")


def check(path):
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    inferred = shape_inference.infer_shapes(m, strict_mode=True)
    dims = inferred.graph.output[0].type.tensor_type.shape.dim
    shape = tuple(d.dim_param or d.dim_value for d in dims)
    assert shape == ("batch", 10), shape
    ops = collections.Counter(n.op_type for n in m.graph.node)
    return m, ops


def pruned_checkpoint(name, path):
    torch.manual_seed(0)
    model = zoo.MODELS[name][0]()
    layers = [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    prune.global_unstructured(layers, prune.L1Unstructured, amount=0.5)
    sd = model.state_dict()
    fixture_io.save(path, {k: v.float() for k, v in sd.items()}, metadata={"model": name})
    return {k[:-5]: (v * sd[k[:-5] + "_mask"]).numpy() for k, v in sd.items() if k.endswith("_orig")}


def main():
    print(f"onnx {onnx.__version__}; CLI {os.path.relpath(CLI)}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in zoo.MODELS:
            dense, folded, pruned = (os.path.join(tmp, f"{name}{s}.onnx") for s in ("", "_folded", "_pruned"))
            export(dense, "--model", name)
            export(folded, "--model", name, "--fold-bn")
            ckpt = os.path.join(tmp, f"{name}.safetensors")
            expected = pruned_checkpoint(name, ckpt)
            export(pruned, "--load", ckpt)
            m, ops = check(dense)
            _, fops = check(folded)
            p, _ = check(pruned)
            inits = {t.name: numpy_helper.to_array(t) for t in p.graph.initializer}
            for k, v in expected.items():
                assert np.array_equal(inits[k], v), k
            zeros = sum(int((v == 0).sum()) for v in expected.values())
            print(f"{name:12s} opset {m.opset_import[0].version} ir {m.ir_version}: checker + strict shape inference ok for dense, "
                  f"folded ({fops.get('BatchNormalization', 0)} BN left of {ops.get('BatchNormalization', 0)}), pruned "
                  f"({len(expected)} masked weights bit-equal, {zeros:,d} zeros); ops {dict(sorted(ops.items()))}")
            if name in SHRUNK:
                check_shrunk(tmp, name, dense)
    print("all checks passed")


if __name__ == "__main__":
    main()
