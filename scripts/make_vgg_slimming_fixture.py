#!/usr/bin/python3
"""A checkpoint in the shape the network-slimming VGG repository saves (Liu et al. 2017, "Learning Efficient
Convolutional Networks through Network Slimming"; also rethinking-network-pruning's cifar/network-slimming).

Run with the system python (torch 1.13):  /usr/bin/python3 scripts/make_vgg_slimming_fixture.py
Writes tests/fixtures/interop/:
  vgg_slimming.pth.tar            {'cfg': [...], 'state_dict': ..., 'epoch', 'best_prec1'} of a narrow VGG of that
                                  repository's class: keys feature.N.* (its own Sequential) and classifier.*
  vgg_slimming_expected.safetensors  an input x (batch 3) and the model's eval-mode output y

The module shape, as that repository's models/vgg.py builds it: `feature` = for each cfg entry, 'M' a
MaxPool2d(2, 2), else Conv2d(c, v, 3, padding=1, bias=False), BatchNorm2d(v), ReLU; then forward applies
AvgPool2d(2), flattens, and `classifier` = a single Linear(cfg[-1], num_classes). A pruned model is rebuilt from
the saved cfg (widths, 'M'), which main.py --refine and vggprune.py store beside the state dict. Small widths keep
the file small; BatchNorm statistics are randomised so eval-mode outputs depend on them.
"""
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fixture_io  # noqa: E402
from make_interop_fixtures import randomise_bn  # noqa: E402

OUT = os.path.join(HERE, "..", "tests", "fixtures", "interop")
# Two convs before the first pool, so the repository's Sequential indexes differ from a conv count.
CFG = [8, 8, 'M', 16, 'M', 16, 12, 'M', 24, 'M', 20]


class vgg(nn.Module):  # the repository's class name
    def __init__(self, dataset='cifar10', depth=19, init_weights=True, cfg=None):
        super().__init__()
        self.cfg = cfg
        self.feature = self.make_layers(cfg, True)
        num_classes = 10 if dataset == 'cifar10' else 100
        self.classifier = nn.Linear(cfg[-1], num_classes)

    def make_layers(self, cfg, batch_norm=False):
        layers = []
        in_channels = 3
        for v in cfg:
            if v == 'M':
                layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
            else:
                conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1, bias=False)
                layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)] if batch_norm else [conv2d, nn.ReLU(inplace=True)]
                in_channels = v
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.feature(x)
        x = nn.AvgPool2d(2)(x)
        x = x.view(x.size(0), -1)
        return self.classifier(x)


def main():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(3)
    model = vgg(cfg=CFG)
    randomise_bn(model, g)
    model.eval()
    x = torch.randn(3, 3, 32, 32, generator=g)
    with torch.no_grad():
        y = model(x)
    torch.save({'epoch': 40, 'state_dict': model.state_dict(), 'best_prec1': 93.5, 'cfg': CFG},
               os.path.join(OUT, "vgg_slimming.pth.tar"))
    fixture_io.save(os.path.join(OUT, "vgg_slimming_expected.safetensors"), {"x": x, "y": y.contiguous()})
    print("keys:", list(model.state_dict().keys())[:8], "...", list(model.state_dict().keys())[-2:])
    for f in ("vgg_slimming.pth.tar", "vgg_slimming_expected.safetensors"):
        print(f"{f:36s} {os.path.getsize(os.path.join(OUT, f)):>9,d} bytes")


if __name__ == "__main__":
    main()
