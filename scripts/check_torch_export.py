#!/usr/bin/python3
"""Shows that torch.load opens `sharpprune export --format pt` files into the state dicts we meant.

Run from the repository root after a Release build:
    /usr/bin/python3 scripts/check_torch_export.py > scripts/check_torch_export.out.txt
For each zoo mirror (scripts/model_param_counts.py) below: PyTorch builds the model, prunes some layers with
torch.nn.utils.prune, and saves its state dict as a SharpPrune safetensors checkpoint (fixture_io, with the
'model' metadata). The sharpprune CLI exports it with --format pt (baked: X = X_orig * X_mask) and with
--keep-masks. This script torch.loads both and checks: the keys, every tensor bit for bit against PyTorch's own
(orig * mask for the baked file), that an unpruned mirror load_state_dict()s the baked file and a pruned one
(prune.identity, as the README's snippet) the --keep-masks file, and that both give PyTorch's outputs.
"""
import collections
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.utils.prune as prune

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fixture_io  # noqa: E402
import model_param_counts as zoo  # noqa: E402

CLI = os.environ.get("SHARPPRUNE", os.path.join(HERE, "..", "src", "SharpPrune.Cli", "bin", "Release", "net10.0", "sharpprune"))


def sharpprune(*args):
    subprocess.run([CLI, *args], check=True, stdout=subprocess.DEVNULL)


def reparametrise_like(model, sd):
    """The README's snippet: re-create the pruning reparametrisation the --keep-masks keys describe."""
    for name, module in model.named_modules():
        for p in ("weight", "bias"):
            if f"{name}.{p}_mask" in sd:
                prune.identity(module, p)
    model.load_state_dict(sd)
    return model


def check(name, shape, tmp):
    torch.manual_seed(0)
    model = zoo.MODELS[name][0]().eval()
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    prune.global_unstructured([(m, "weight") for m in layers], prune.L1Unstructured, amount=0.5)
    if layers[0].bias is not None:
        prune.random_unstructured(layers[0], "bias", 0.5)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.num_batches_tracked.fill_(5)
    sd = model.state_dict()
    src = os.path.join(tmp, f"{name}.safetensors")
    fixture_io.save(src, {k: v.float() for k, v in sd.items()}, metadata={"model": name})
    baked_path, masked_path = os.path.join(tmp, f"{name}.pt"), os.path.join(tmp, f"{name}_masks.pt")
    sharpprune("export", "--load", src, "--format", "pt", "--out", baked_path)
    sharpprune("export", "--load", src, "--format", "pt", "--keep-masks", "--out", masked_path)

    baked, masked = torch.load(baked_path), torch.load(masked_path)
    assert isinstance(baked, collections.OrderedDict), type(baked)
    expect_baked = collections.OrderedDict()
    for k, v in sd.items():
        if k.endswith("_mask"):
            continue
        expect_baked[k[:-5] if k.endswith("_orig") else k] = (v * sd[k[:-5] + "_mask"]) if k.endswith("_orig") else v
    assert list(baked) == list(expect_baked), (list(baked)[:5], list(expect_baked)[:5])
    assert list(masked) == list(sd)
    for k, v in expect_baked.items():
        assert baked[k].dtype == torch.float32 and torch.equal(baked[k], v.float()), k
    for k, v in sd.items():
        assert torch.equal(masked[k], v.float()), k

    x = torch.randn(4, *shape)
    with torch.no_grad():
        ref = model(x)
        plain = zoo.MODELS[name][0]().eval()
        plain.load_state_dict(baked)
        again = reparametrise_like(zoo.MODELS[name][0]().eval(), masked)
        d1, d2 = (plain(x) - ref).abs().max().item(), (again(x) - ref).abs().max().item()
    zeros = sum(int((v == 0).sum()) for k, v in baked.items() if k.endswith("weight"))
    print(f"{name:12s} {len(baked):3d} tensors baked, {len(masked):3d} with masks: all bit-equal to PyTorch's; "
          f"{zeros:,d} zero weights; max |output diff| baked {d1:.1e}, re-pruned {d2:.1e}")
    assert d1 == 0 and d2 == 0


def main():
    print(f"torch {torch.__version__}; CLI {os.path.relpath(CLI)}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("lenet5", "lenet300", "alexnet", "vgg11", "resnet20", "preresnet110"):
            check(name, zoo.MODELS[name][1], tmp)
    print("all checks passed")


if __name__ == "__main__":
    main()
