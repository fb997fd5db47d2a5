"""PyTorch reference for SharpPrune's model zoo: the same architectures, built with torch.nn.

Prints, per model: parameter count, state-dict key count, first and last state-dict keys, and dense
Conv2d/Linear multiply-accumulates for one sample. Run with the system interpreter (torch 1.13):
    /usr/bin/python3 scripts/model_param_counts.py
The numbers asserted in tests/SharpPrune.Tests/Vision/Models/ are what this prints.
"""
import torch
import torch.nn as nn


def lenet5(nc=10):
    return nn.Sequential(__import__("collections").OrderedDict([
        ("conv1", nn.Conv2d(1, 6, 5)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(6, 16, 5)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(256, 120)), ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(120, 84)), ("relu4", nn.ReLU()),
        ("fc3", nn.Linear(84, nc))]))


def lenet300(nc=10):
    return nn.Sequential(__import__("collections").OrderedDict([
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(784, 300)), ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(300, 100)), ("relu2", nn.ReLU()),
        ("fc3", nn.Linear(100, nc))]))


def alexnet(nc=10):
    return nn.Sequential(__import__("collections").OrderedDict([
        ("conv1", nn.Conv2d(3, 64, 11, 4, 5)), ("relu1", nn.ReLU(inplace=True)), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(64, 192, 5, padding=2)), ("relu2", nn.ReLU(inplace=True)), ("pool2", nn.MaxPool2d(2)),
        ("conv3", nn.Conv2d(192, 384, 3, padding=1)), ("relu3", nn.ReLU(inplace=True)),
        ("conv4", nn.Conv2d(384, 256, 3, padding=1)), ("relu4", nn.ReLU(inplace=True)),
        ("conv5", nn.Conv2d(256, 256, 3, padding=1)), ("relu5", nn.ReLU(inplace=True)), ("pool5", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("drop1", nn.Dropout()), ("fc1", nn.Linear(256, 4096)), ("relu6", nn.ReLU(inplace=True)),
        ("drop2", nn.Dropout()), ("fc2", nn.Linear(4096, 4096)), ("relu7", nn.ReLU(inplace=True)),
        ("fc3", nn.Linear(4096, nc))]))


VGG_CFG = {
    11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512],
    13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512],
    16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512],
    19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512],
}


class VGG(nn.Module):
    """rethinking-network-pruning cifar/l1-norm-pruning vgg, with `feature` spelled `features`."""
    def __init__(self, depth, nc=10, cfg=None):
        super().__init__()
        layers, c = [], 3
        for v in cfg or VGG_CFG[depth]:
            if v == 'M':
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1, bias=False), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AvgPool2d(2)
        self.classifier = nn.Sequential(nn.Linear(c, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True), nn.Linear(512, nc))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


class PadShortcut(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.cin, self.cout, self.stride = cin, cout, stride

    def forward(self, x):
        x = nn.functional.avg_pool2d(x, self.stride)
        z = x.new_zeros(x.size(0), self.cout - self.cin, x.size(2), x.size(3))
        return torch.cat([x, z], 1)


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = PadShortcut(cin, planes, stride) if stride != 1 or cin != planes else None

    def forward(self, x):
        o = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        o += x if self.downsample is None else self.downsample(x)  # in place, as SharpPrune's zoo
        return self.relu(o)


class ResNet(nn.Module):
    def __init__(self, depth, nc=10, planes=(16, 32, 64)):
        super().__init__()
        n = (depth - 2) // 6
        c = planes[0]
        self.conv1 = nn.Conv2d(3, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        for s, p in enumerate(planes):
            blocks = []
            for b in range(n):
                blocks.append(BasicBlock(c, p, 2 if s > 0 and b == 0 else 1))
                c = p
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AvgPool2d(8)
        self.fc = nn.Linear(c, nc)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x))))))
        return self.fc(self.avgpool(x).flatten(1))


class PreActBottleneck(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, planes * 4, 1, stride, bias=False))
                           if stride != 1 or cin != planes * 4 else None)

    def forward(self, x):
        o = self.conv1(self.relu(self.bn1(x)))
        o = self.conv2(self.relu(self.bn2(o)))
        o = self.conv3(self.relu(self.bn3(o)))
        o += x if self.downsample is None else self.downsample(x)  # in place, as SharpPrune's zoo
        return o


class PreResNet(nn.Module):
    def __init__(self, depth, nc=10):
        super().__init__()
        n = (depth - 2) // 9
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        c = 16
        for s, p in enumerate([16, 32, 64]):
            blocks = []
            for b in range(n):
                blocks.append(PreActBottleneck(c, p, 2 if s > 0 and b == 0 else 1))
                c = p * 4
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.bn = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(8)
        self.fc = nn.Linear(c, nc)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        return self.fc(self.avgpool(self.relu(self.bn(x))).flatten(1))


MODELS = {
    "lenet5": (lenet5, (1, 28, 28)), "lenet300": (lenet300, (1, 28, 28)), "alexnet": (alexnet, (3, 32, 32)),
    **{f"vgg{d}": ((lambda d: lambda: VGG(d))(d), (3, 32, 32)) for d in (11, 13, 16, 19)},
    **{f"resnet{d}": ((lambda d: lambda: ResNet(d))(d), (3, 32, 32)) for d in (20, 32, 44, 56, 110)},
    "preresnet110": (lambda: PreResNet(110), (3, 32, 32)),
}


def dense_macs(model, shape):
    total = []

    def hook(m, i, o):
        pos = o.shape[2] * o.shape[3] if isinstance(m, nn.Conv2d) else o.numel() // o.shape[0] // o.shape[-1]
        total.append(m.weight.numel() * pos)

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, *shape))
    for h in hs:
        h.remove()
    return sum(total), tuple(out.shape)


if __name__ == "__main__":
    for name, (make, shape) in MODELS.items():
        m = make()
        sd = list(m.state_dict().keys())
        params = sum(p.numel() for p in m.parameters())
        macs, out = dense_macs(m, shape)
        print(f"{name:13s} params={params:>10,d} state_dict_keys={len(sd):4d} macs={macs:>12,d} out={out} "
              f"first={sd[0]} last={sd[-1]}")
