"""PyTorch side of the speed comparison: the benchmark's models and shapes.

The architectures themselves are the PyTorch mirrors of SharpPrune.Vision.Models kept in
scripts/model_param_counts.py (the same definitions the zoo's parameter counts and MACs are checked against), so
the benchmark and the tests can never drift apart."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from model_param_counts import MODELS  # noqa: E402

SPECS = {
    "lenet5": {"batch": 128, "input": (1, 28, 28), "classes": 10},
    "lenet300": {"batch": 128, "input": (1, 28, 28), "classes": 10},
    "alexnet": {"batch": 128, "input": (3, 32, 32), "classes": 10},
    "vgg16": {"batch": 64, "input": (3, 32, 32), "classes": 10},
    "resnet56": {"batch": 64, "input": (3, 32, 32), "classes": 10},
}


def create(name, num_classes=10):
    if num_classes != 10:
        raise ValueError(f"the benchmark models have 10 classes, got {num_classes}")
    make, shape = MODELS[name]
    assert shape == SPECS[name]["input"], (name, shape)
    return make()
