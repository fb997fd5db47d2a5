"""PyTorch side of the speed comparison: the benchmark's models and shapes.

The architectures themselves are the PyTorch mirrors of SharpPrune.Vision.Models kept in
scripts/model_param_counts.py (the same definitions the zoo's parameter counts and MACs are checked against), so
the benchmark and the tests can never drift apart."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from model_param_counts import MODELS, VGG, VGG_CFG, ResNet  # noqa: E402

# The structured-pruned (shrunk) models of bench/SharpPrune.Bench's ModelSpec, built directly at their widths:
# vgg16-s50 = VGG-16 with half of every conv's channels (the VGG repository's --ar 0.5 cfg; classifier 256 -> 512),
# resnet56-s50 = ResNet-56 with half of every prunable channel group: stage widths 8/16/32 (the option-A shortcuts
# of the shrunk SharpPrune model carry their kept channels to the first positions, as this plain zero-pad does).
SHRUNK = {
    "vgg16-s50": (lambda: VGG(16, cfg=[v if v == 'M' else v // 2 for v in VGG_CFG[16]]), (3, 32, 32)),
    "resnet56-s50": (lambda: ResNet(56, planes=(8, 16, 32)), (3, 32, 32)),
}

SPECS = {
    "lenet5": {"batch": 128, "input": (1, 28, 28), "classes": 10},
    "lenet300": {"batch": 128, "input": (1, 28, 28), "classes": 10},
    "alexnet": {"batch": 128, "input": (3, 32, 32), "classes": 10},
    "vgg16": {"batch": 64, "input": (3, 32, 32), "classes": 10},
    "resnet56": {"batch": 64, "input": (3, 32, 32), "classes": 10},
    "vgg16-s50": {"batch": 64, "input": (3, 32, 32), "classes": 10},
    "resnet56-s50": {"batch": 64, "input": (3, 32, 32), "classes": 10},
}


def create(name, num_classes=10):
    if num_classes != 10:
        raise ValueError(f"the benchmark models have 10 classes, got {num_classes}")
    make, shape = SHRUNK[name] if name in SHRUNK else MODELS[name]
    assert shape == SPECS[name]["input"], (name, shape)
    return make()
