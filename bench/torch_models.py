"""PyTorch mirrors of SharpPrune.Vision.Models (src/SharpPrune.Vision/Models/*.cs): same layers, same order, same
parameter counts, so the speed comparison runs identical work on both sides."""
import torch
import torch.nn as nn
import torch.nn.functional as F

SPECS = {
    "lenet5": {"batch": 128, "input": (1, 28, 28), "classes": 10},
    "alexnet": {"batch": 128, "input": (3, 32, 32), "classes": 10},
    "vgg16": {"batch": 64, "input": (3, 32, 32), "classes": 10},
    "resnet56": {"batch": 64, "input": (3, 32, 32), "classes": 10},
}


class LeNet5(nn.Module):
    """LeNet.cs LeNet5: conv 6@5x5 -> ReLU -> pool 2 -> conv 16@5x5 -> ReLU -> pool 2 -> 256 -> 120 -> 84 -> classes."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.maxpool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.conv1(x)))
        x = self.maxpool(F.relu(self.conv2(x)))
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class AlexNet(nn.Module):
    """AlexNet.cs: the CIFAR-10 pruning benchmark's shapes, 20,344,650 parameters for 10 classes."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=5), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(256, 4096), nn.ReLU(),
            nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]


class VGG16(nn.Module):
    """Vgg.cs: conv3x3 (no bias) -> BN -> ReLU per cfg, no final pool (2x2 left), avg-pool 2, then
    Linear(512, 512) -> BatchNorm1d -> ReLU -> Linear(512, classes). 14,987,722 parameters for 10 classes."""

    def __init__(self, num_classes=10):
        super().__init__()
        layers, c = [], 3
        for v in VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1, bias=False), nn.BatchNorm2d(v), nn.ReLU()]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AvgPool2d(2)
        self.classifier = nn.Sequential(nn.Linear(c, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


class PadShortcut(nn.Module):
    """Option-A shortcut (ResNet.cs PadShortcut): avg-pool by the stride, append zero channels."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.cin, self.cout, self.stride = cin, cout, stride

    def forward(self, x):
        if self.stride > 1:
            x = F.avg_pool2d(x, self.stride, self.stride)
        if self.cout == self.cin:
            return x
        zeros = torch.zeros(x.size(0), self.cout - self.cin, x.size(2), x.size(3))
        return torch.cat([x, zeros], 1)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = PadShortcut(cin, cout, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet56(nn.Module):
    """ResNet.cs with depth 56: option-A shortcuts, avg-pool 8, fc. 853,018 parameters for 10 classes."""

    def __init__(self, num_classes=10, n=9):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        layers, c = [], 16
        for width, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(c, width, stride if i == 0 else 1))
                c = width
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.avgpool = nn.AvgPool2d(8)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def create(name, num_classes=10):
    return {"lenet5": LeNet5, "alexnet": AlexNet, "vgg16": VGG16, "resnet56": ResNet56}[name](num_classes)
