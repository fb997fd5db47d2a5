#!/usr/bin/python3
"""PyTorch-made files for the interop tests (tests/SharpPrune.Tests/Interop/).

Run with the system python (torch 1.13, onnx 1.12):  /usr/bin/python3 scripts/make_interop_fixtures.py
Writes tests/fixtures/interop/:
  lenet5_state_dict.pt        torch.save(model.state_dict())                        (a bare OrderedDict)
  lenet5_dataparallel.pth.tar {'epoch', 'state_dict' (DataParallel 'module.' keys), 'best_prec1', 'optimizer'}
  lenet5_pruned.pth           {'net': state dict of a model pruned with torch.nn.utils.prune (weight_orig/weight_mask)}
  vgg_cfg.pth.tar             {'cfg': [...], 'state_dict': ...} of a narrow VGG (the slimmed-model shape of the repositories)
  resnet8_half.pt            ResNet-20's state dict in float16 (the expected outputs use the rounded weights)
  dtypes.pt                   float32/float16/bfloat16/float64/int64 tensors, a transposed view, a view with an offset
  lenet5.onnx, vgg_cfg.onnx, resnet8.onnx   torch.onnx.export of the same models (opset 17, dynamic batch)
  expected.safetensors        per model: input x (batch 3) and PyTorch's eval-mode output; the dtypes file's tensors as float32
Models are the zoo's PyTorch mirrors (scripts/model_param_counts.py); BatchNorm statistics are randomised so
eval-mode outputs depend on them.
"""
import collections
import os
import sys

import torch
import torch.nn as nn
import torch.nn.utils.prune as prune

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fixture_io  # noqa: E402
import model_param_counts as zoo  # noqa: E402

OUT = os.path.join(HERE, "..", "tests", "fixtures", "interop")
VGG_CFG = [8, 'M', 8, 'M', 16, 'M', 16, 'M', 16]


def randomise_bn(model, g):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
            m.num_batches_tracked.fill_(7)


def onnx_export(model, shape, path):
    x = torch.zeros(1, *shape)
    torch.onnx.export(model, x, path, opset_version=17, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    expected = {}

    def record(name, model, shape):
        model.eval()
        x = torch.randn(3, *shape, generator=g)
        with torch.no_grad():
            expected[f"{name}.x"] = x
            expected[f"{name}.y"] = model(x)

    # LeNet-5: bare state dict, the DataParallel checkpoint dict, ONNX.
    lenet = zoo.lenet5().eval()
    record("lenet5", lenet, (1, 28, 28))
    torch.save(lenet.state_dict(), os.path.join(OUT, "lenet5_state_dict.pt"))
    dp = nn.DataParallel(lenet)
    opt = torch.optim.SGD(lenet.parameters(), lr=0.1, momentum=0.9)
    lenet(torch.randn(2, 1, 28, 28, generator=g)).sum().backward()
    opt.step()  # momentum buffers: the optimizer state holds tensors in nested dicts and lists
    with torch.no_grad():
        expected["lenet5_dp.y"] = lenet(expected["lenet5.x"])
    torch.save({"epoch": 12, "state_dict": dp.state_dict(), "best_prec1": 91.25, "optimizer": opt.state_dict()},
               os.path.join(OUT, "lenet5_dataparallel.pth.tar"))
    onnx_export(lenet, (1, 28, 28), os.path.join(OUT, "lenet5.onnx"))
    expected["lenet5_onnx.y"] = expected["lenet5_dp.y"]

    # A pruned LeNet-5 (torch.nn.utils.prune keeps weight_orig and weight_mask).
    pruned = zoo.lenet5().eval()
    prune.l1_unstructured(pruned.conv1, "weight", 0.5)
    prune.random_unstructured(pruned.fc1, "weight", 0.7)
    prune.ln_structured(pruned.conv2, "weight", 0.5, n=2, dim=0)
    record("lenet5_pruned", pruned, (1, 28, 28))
    torch.save({"net": pruned.state_dict()}, os.path.join(OUT, "lenet5_pruned.pth"))

    # A narrow VGG saved with its cfg.
    vgg = zoo.VGG(None, cfg=VGG_CFG)  # the zoo's VGG with custom widths, as the repositories rebuild a slimmed model
    randomise_bn(vgg, g)
    record("vgg_cfg", vgg, (3, 32, 32))
    torch.save({"cfg": VGG_CFG, "state_dict": vgg.state_dict(), "epoch": 3}, os.path.join(OUT, "vgg_cfg.pth.tar"))
    onnx_export(vgg, (3, 32, 32), os.path.join(OUT, "vgg_cfg.onnx"))

    # ResNet-8 (the smallest CIFAR ResNet) in float16 (small file; the outputs are those of the rounded weights).
    resnet = zoo.ResNet(8)
    randomise_bn(resnet, g)
    half = collections.OrderedDict((k, v.half() if v.is_floating_point() else v) for k, v in resnet.state_dict().items())
    resnet.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in half.items()})
    record("resnet8", resnet, (3, 32, 32))
    torch.save(half, os.path.join(OUT, "resnet8_half.pt"))
    onnx_export(resnet, (3, 32, 32), os.path.join(OUT, "resnet8.onnx"))

    # Every storage dtype the reader converts, and strided views.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
    dtypes = collections.OrderedDict([
        ("f32", torch.randn(3, 4, generator=g)),
        ("f16", torch.randn(5, generator=g).half()),
        ("bf16", torch.randn(2, 3, generator=g).bfloat16()),
        ("f64", torch.randn(4, generator=g).double()),
        ("i64", torch.tensor([3, -2, 1 << 40], dtype=torch.int64)),
        ("scalar", torch.tensor(7, dtype=torch.int64)),
        ("transposed", base.t()),           # stride (1, 6)
        ("offset_view", base[1:, 2:5]),     # offset 8, stride (6, 1), shares base's storage
        ("base", base),
    ])
    torch.save(dtypes, os.path.join(OUT, "dtypes.pt"))
    for k, v in dtypes.items():
        expected[f"dtypes.{k}"] = v.float()

    fixture_io.save(os.path.join(OUT, "expected.safetensors"), {k: v.contiguous() for k, v in expected.items()})
    for f in sorted(os.listdir(OUT)):
        print(f"{f:32s} {os.path.getsize(os.path.join(OUT, f)):>9,d} bytes")


if __name__ == "__main__":
    main()
