"""Differential tests of Python control flow: densecheck's static shapes against CPython running the code.

Each case is a small model-building program whose shapes depend on control flow (``continue``, ``break``,
``for``/``while`` ... ``else``, ``return`` inside a loop, nested loops, ``try``/``except``/``else``/
``finally``, ``match``, loops over ``zip``/``enumerate``/``range(len(...))``/``dict.items()``). The truth is
what happens when CPython runs the program: every ``nn.Linear`` (or Keras ``Dense``) is keyed by the line of
its constructor call, and a forward pre-hook (Keras: the layer's ``__call__``) records the shape of every
input it receives. The same source is then analysed statically with :func:`densecheck.api.analyze_source`.

Rules, for every Linear/Dense site the run reached:

* densecheck's ``input_rank`` is None (unknown) or the rank the run saw; a known last dim of its input and a
  known ``in_features`` equal the run's -- unknown is allowed, wrong is not;
* the programs are correct, so densecheck reports no DC103 (in_features mismatch), and no DC101/DC102 on a
  site whose real input has rank <= 2;
* ``exact=True``: the rank must be known (and right); ``exact_dim=True``: the input's last dim as well.

The programs are hand-written idioms from public model code, plus ~30 generated VGG-style conv stacks
(:func:`generate`) -- one fixed seed each -- whose flattened size the generator computes.
"""

from __future__ import annotations

import random
import string
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from densecheck import api
from densecheck.shapes import known


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    #: the input rank at every site must be known (statically determinable, and densecheck should know it)
    exact: bool = False
    #: the input's last dim must be known too
    exact_dim: bool = False
    framework: str = "torch"
    #: runtime-only code run after the source, which then runs as a module (not ``__main__``): what it passes
    #: (a constructor argument, an input) is invisible to the static reader, who sees only ``source``
    driver: str | None = None


@dataclass
class Seen:
    """What one Linear/Dense constructor site received when the program ran."""

    call: str
    shapes: set[tuple] = field(default_factory=set)
    in_features: set[int] = field(default_factory=set)

    @property
    def ranks(self) -> set[int]:
        return {len(s) for s in self.shapes}

    @property
    def last_dims(self) -> set[int]:
        return {s[-1] for s in self.shapes if s}


# -- the programs --------------------------------------------------------------------------------------------

VGG_CONTINUE = """\
import torch
from torch import nn

cfgs = {"A": [8, "M", 16, "M", 32, 32, "M"]}


def make_layers(cfg):
    layers = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(2, 2)]
            continue
        layers += [nn.Conv2d(in_channels, v, 3, padding=1), nn.ReLU(inplace=True)]
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, num_classes=10):
        super().__init__()
        self.features = features
        self.classifier = nn.Linear(32 * 4 * 4, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        return self.classifier(x)


if __name__ == "__main__":
    model = VGG(make_layers(cfgs["A"]))
    model(torch.randn(2, 3, 32, 32))
"""

VGG_ELSE = """\
import torch
from torch import nn

cfgs = {"A": [8, "M", 16, "M", 32, 32, "M"]}


def make_layers(cfg, batch_norm=False):
    layers = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            if batch_norm:
                layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            else:
                layers += [conv2d, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, num_classes=10):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(
            nn.Linear(32 * 2 * 2, 64),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(64, 64),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


if __name__ == "__main__":
    model = VGG(make_layers(cfgs["A"], batch_norm=True))
    model(torch.randn(2, 3, 32, 32))
"""

VGG_COMPREHENSION = """\
import torch
from torch import nn

CFG = [8, "M", 16, "M", 32, 32, "M"]


def make_layers(cfg, in_channels=3):
    outs = [v for v in cfg if v != "M"]
    ins = [in_channels] + outs[:-1]
    convs = iter([nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.ReLU(inplace=True)) for i, o in zip(ins, outs)])
    return nn.Sequential(*[nn.MaxPool2d(2, 2) if v == "M" else next(convs) for v in cfg])


class VGG(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = make_layers(CFG)
        self.classifier = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        return self.classifier(x)


if __name__ == "__main__":
    model = VGG()
    model(torch.randn(2, 3, 32, 32))
"""  # noqa: E501

# the else clause of the loop runs only when no break happened: it decides the head's input rank
FOR_ELSE = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, widths, token_at=None):
        super().__init__()
        layers = []
        in_ch = 3
        for w in widths:
            if w == token_at:
                self.tokens = True
                break
            layers += [nn.Conv2d(in_ch, w, 3, stride=2, padding=1), nn.ReLU()]
            in_ch = w
        else:
            self.tokens = False
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(in_ch, 10)

    def forward(self, x):
        x = self.body(x)
        if self.tokens:
            x = x.flatten(2).transpose(1, 2)
        else:
            x = x.mean((2, 3))
        return self.head(x)


if __name__ == "__main__":
    model = Net(ARGS)
    model(torch.randn(2, 3, 32, 32))
"""

BREAK_AT_SENTINEL = """\
import torch
from torch import nn

CFG = [8, "M", 16, "M", None, 32, "M"]


def make_layers(cfg):
    layers = []
    in_channels = 3
    for v in cfg:
        if v is None:
            break
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(in_channels, v, 3, padding=1), nn.ReLU()]
            in_channels = v
    return nn.Sequential(*layers), in_channels


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features, ch = make_layers(CFG)
        self.fc = nn.Linear(ch * 8 * 8, 10)

    def forward(self, x):
        x = self.features(x)
        return self.fc(torch.flatten(x, 1))


if __name__ == "__main__":
    model = Net()
    model(torch.randn(2, 3, 32, 32))
"""

RETURN_IN_LOOP = """\
import torch
from torch import nn

CFG = [(8, 1), (16, 2), (32, 2), (64, 2)]


def features_until(cfg, last):
    layers = []
    in_ch = 3
    for i, (out_ch, stride) in enumerate(cfg):
        layers += [nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1), nn.ReLU()]
        in_ch = out_ch
        if i == last:
            return nn.Sequential(*layers), in_ch
    return nn.Sequential(*layers), in_ch


class Net(nn.Module):
    def __init__(self, last=1):
        super().__init__()
        self.features, ch = features_until(CFG, last)
        self.fc = nn.Linear(ch * 16 * 16, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


if __name__ == "__main__":
    model = Net()
    model(torch.randn(2, 3, 32, 32))
"""

NESTED_LOOPS = """\
import torch
from torch import nn

STAGES = [(8, 2), (16, 2), (32, 2)]  # (channels, blocks)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        blocks = []
        in_ch = 3
        for i, (ch, n) in enumerate(STAGES):
            for j in range(n):
                stride = 2 if (j == 0 and i > 0) else 1
                conv = nn.Conv2d(in_ch, ch, 3, stride=stride, padding=1, bias=False)
                blocks.append(nn.Sequential(conv, nn.BatchNorm2d(ch), nn.ReLU()))
                in_ch = ch
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(in_ch * 8 * 8, 10)

    def forward(self, x):
        x = self.blocks(x)
        return self.fc(x.view(x.size(0), -1))


if __name__ == "__main__":
    model = Net()
    model(torch.randn(2, 3, 32, 32))
"""

WHILE_KNOWN_BOUND = """\
import torch
from torch import nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        ch = 4
        layers = [nn.Conv2d(3, ch, 3, padding=1)]
        i = 0
        while i < 3:
            layers += [nn.Conv2d(ch, ch * 2, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            ch *= 2
            i += 1
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(ch * 4 * 4, 1)

    def forward(self, x):
        x = self.net(x)
        return self.fc(x.view(x.size(0), -1))


if __name__ == "__main__":
    model = Encoder()
    model(torch.randn(2, 3, 32, 32))
"""

WHILE_TRUE_BREAK = """\
import torch
from torch import nn


class Discriminator(nn.Module):
    def __init__(self, ndf=8):
        super().__init__()
        layers = []
        ch, out, size, n = 3, ndf, 32, 0
        while True:
            layers += [nn.Conv2d(ch, out, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
            ch, out = out, out * 2
            size //= 2
            n += 1
            if n == 3:
                break
        self.main = nn.Sequential(*layers)
        self.fc = nn.Linear(ch * size * size, 1)

    def forward(self, x):
        x = self.main(x)
        return self.fc(x.view(-1, self.fc.in_features))


if __name__ == "__main__":
    model = Discriminator()
    model(torch.randn(2, 3, 32, 32))
"""

ZIP_LOOP = """\
import torch
from torch import nn

CHANNELS = [3, 8, 16, 32]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        for in_ch, out_ch in zip(CHANNELS[:-1], CHANNELS[1:]):
            layers += [nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(CHANNELS[-1] * 4 * 4, 10)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


if __name__ == "__main__":
    model = Net()
    model(torch.randn(2, 3, 32, 32))
"""

ENUMERATE_LOOP = """\
import torch
from torch import nn

WIDTHS = [8, 16, 32]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        in_ch = 3
        for i, w in enumerate(WIDTHS):
            stride = 1 if i == 0 else 2
            layers += [nn.Conv2d(in_ch, w, 3, stride=stride, padding=1), nn.ReLU()]
            in_ch = w
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(in_ch * 8 * 8, 10)

    def forward(self, x):
        x = self.features(x)
        return self.fc(torch.flatten(x, 1))


if __name__ == "__main__":
    model = Net()
    model(torch.randn(2, 3, 32, 32))
"""

RANGE_LEN = """\
import torch
from torch import nn

CFG = [16, "M", 32, "M"]


class Net(nn.Module):
    def __init__(self, cfg=CFG):
        super().__init__()
        layers = []
        in_ch = 3
        for i in range(len(cfg)):
            v = cfg[i]
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(nn.Conv2d(in_ch, v, 3, padding=1))
                layers.append(nn.ReLU())
                in_ch = v
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(in_ch * 8 * 8, 10)

    def forward(self, x):
        x = self.features(x)
        return self.fc(x.view(x.size(0), -1))


if __name__ == "__main__":
    model = Net()
    model(torch.randn(2, 3, 32, 32))
"""

DICT_ITEMS = """\
from collections import OrderedDict

import torch
from torch import nn

SPEC = {"stem": (8, 1), "down1": (16, 2), "down2": (32, 2)}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = OrderedDict()
        in_ch = 3
        for name, (out_ch, stride) in SPEC.items():
            layers[name] = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1)
            layers[name + "_act"] = nn.ReLU()
            in_ch = out_ch
        self.features = nn.Sequential(layers)
        self.fc = nn.Linear(in_ch * 8 * 8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


if __name__ == "__main__":
    model = Net()
    model(torch.randn(2, 3, 32, 32))
"""

TUPLE_CFG = """\
import torch
from torch import nn

# (out_channels, stride), MobileNet-style depthwise-separable blocks
CFG = [(16, 1), (24, 2), (32, 2), (64, 2)]


def dw_block(in_ch, out_ch, stride):
    return nn.Sequential(
        nn.Conv2d(in_ch, in_ch, 3, stride=stride, padding=1, groups=in_ch, bias=False),
        nn.BatchNorm2d(in_ch),
        nn.ReLU(inplace=True),
        nn.Conv2d(in_ch, out_ch, 1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class MobileNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        in_ch = 8
        layers = [nn.Conv2d(3, in_ch, 3, padding=1)]
        for out_ch, stride in CFG:
            layers.append(dw_block(in_ch, out_ch, stride))
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(in_ch * 4 * 4, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        return self.fc(x)


if __name__ == "__main__":
    model = MobileNet()
    model(torch.randn(2, 3, 32, 32))
"""

RESNET_BASIC = """\
import torch
from torch import nn


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=10):
        super().__init__()
        self.inplanes = 8
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, 8, layers[0])
        self.layer2 = self._make_layer(block, 16, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 32, layers[2], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


if __name__ == "__main__":
    model = ResNet(BasicBlock, [2, 2, 2])
    model(torch.randn(2, 3, 32, 32))
"""

# bottleneck blocks with a squeeze-excitation Linear pair inside each block (one site, many in_features), and
# a head on the flattened map (no pooling): its size depends on the stride of each stage's first block
RESNET_BOTTLENECK_SE = """\
import torch
from torch import nn


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        width = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.conv3 = nn.Conv2d(planes, width, 1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.se_reduce = nn.Linear(width, width // 4)
        self.se_expand = nn.Linear(width // 4, width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.conv1(x))
        out = self.relu(self.conv2(out))
        out = self.bn(self.conv3(out))
        w = out.mean((2, 3))
        w = torch.sigmoid(self.se_expand(self.relu(self.se_reduce(w))))
        out = out * w[:, :, None, None]
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=10):
        super().__init__()
        self.inplanes = 16
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        stages = []
        for i, (planes, n) in enumerate(zip((4, 8, 16), layers)):
            stages.append(self._make_layer(block, planes, n, stride=1 if i == 0 else 2))
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(16 * block.expansion * 8 * 8, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = []
        layers.append(block(self.inplanes, planes, stride, downsample))
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(x, 1))


if __name__ == "__main__":
    model = ResNet(Bottleneck, [2, 1, 2])
    model(torch.randn(2, 3, 32, 32))
"""

UNET = """\
import torch
from torch import nn


def double_conv(in_ch, out_ch):
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_ch, out_ch, 3, padding=1),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    def __init__(self, in_ch=3, features=(8, 16, 32), n_classes=4):
        super().__init__()
        self.downs = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.pool = nn.MaxPool2d(2)
        ch = in_ch
        for f in features:
            self.downs.append(double_conv(ch, f))
            ch = f
        self.bottleneck = double_conv(ch, ch * 2)
        ch = ch * 2
        for f in reversed(features):
            self.ups.append(nn.ConvTranspose2d(ch, f, 2, stride=2))
            ch = f * 2
        self.aux = nn.Linear(ch, 2)
        self.out = nn.Conv2d(ch, n_classes, 1)
        self.head = nn.Linear(n_classes, 2)

    def forward(self, x):
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up in self.ups:
            x = up(x)
            x = torch.cat([x, skips.pop()], dim=1)
        aux = self.aux(x.amax((2, 3)))
        x = self.out(x)
        return self.head(x.mean((2, 3)))


if __name__ == "__main__":
    model = UNet()
    model(torch.randn(2, 3, 32, 32))
"""

#: the U-Net's second head (on the decoder's concatenated features), left out of ``unet_skips_pop``
AUX_INIT = "        self.aux = nn.Linear(ch, 2)\n"
AUX_CALL = "        aux = self.aux(x.amax((2, 3)))\n"

MODULELIST_LOOP = """\
import torch
from torch import nn


class MLPBlock(nn.Module):
    def __init__(self, dim, ratio=4):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim * ratio)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(dim * ratio, dim)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(self.norm(x))))


class Mixer(nn.Module):
    def __init__(self, dim=16, depth=3, num_classes=10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 4, stride=4)
        self.blocks = nn.ModuleList()
        for _ in range(depth):
            self.blocks.append(MLPBlock(dim))
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        for blk in self.blocks:
            x = blk(x)
        return self.head(x.mean(1))


if __name__ == "__main__":
    model = Mixer()
    model(torch.randn(2, 3, 32, 32))
"""

# the finally clause runs on both paths; which path runs decides the flattened size
TRY_HEAD = """\
import torch
from torch import nn

POOLS = {"avg": nn.AdaptiveAvgPool2d, "max": nn.AdaptiveMaxPool2d}


def make_head(kind, ch, size):
    layers = []
    try:
        pool_cls = POOLS[kind]
    except KeyError:
        layers.append(nn.Identity())
        feat = ch * size * size
    else:
        layers.append(pool_cls(1))
        feat = ch
    finally:
        layers.append(nn.Flatten())
    layers.append(nn.Linear(feat, 10))
    return nn.Sequential(*layers)


class Net(nn.Module):
    def __init__(self, pool):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU())
        self.head = make_head(pool, 16, 16)

    def forward(self, x):
        return self.head(self.body(x))


if __name__ == "__main__":
    model = Net(KIND)
    model(torch.randn(2, 3, 32, 32))
"""

MATCH_POOL = """\
import torch
from torch import nn


class Head(nn.Module):
    def __init__(self, ch, kind):
        super().__init__()
        self.tokens = False
        match kind:
            case "avg":
                self.pool = nn.AdaptiveAvgPool2d(1)
                feat = ch
            case "max":
                self.pool = nn.AdaptiveMaxPool2d(2)
                feat = ch * 4
            case _:
                self.pool = nn.Identity()
                self.tokens = True
                feat = ch
        self.fc = nn.Linear(feat, 10)

    def forward(self, x):
        x = self.pool(x)
        if self.tokens:
            x = x.flatten(2).transpose(1, 2)
        else:
            x = torch.flatten(x, 1)
        return self.fc(x)


class Net(nn.Module):
    def __init__(self, pool="avg"):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU())
        self.head = Head(16, pool)

    def forward(self, x):
        return self.head(self.body(x))


if __name__ == "__main__":
    model = Net(pool=KIND)
    model(torch.randn(2, 3, 32, 32))
"""

MATCH_SEQUENCE_IN_LOOP = """\
import torch
from torch import nn

SPEC = [("conv", 8), ("pool", 2), ("conv", 16), ("pool", 2), ("flatten",)]


def build(spec, ch=3, size=32):
    layers = []
    for item in spec:
        match item:
            case ("conv", out_ch):
                layers += [nn.Conv2d(ch, out_ch, 3, padding=1), nn.ReLU()]
                ch = out_ch
            case ("pool", k):
                layers.append(nn.MaxPool2d(k))
                size //= k
            case ("flatten",):
                layers.append(nn.Flatten())
                ch, size = ch * size * size, 1
    layers.append(nn.Linear(ch, 10))
    return nn.Sequential(*layers)


if __name__ == "__main__":
    model = build(SPEC)
    model(torch.randn(2, 3, 32, 32))
"""

# -- loops a static reader cannot count: unknown is fine, wrong is not

UNKNOWN_RANGE_CTOR_ARG = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, depth, width=8):
        super().__init__()
        layers = []
        ch, size = 1, 28
        for _ in range(depth):
            layers += [nn.Conv2d(ch, width, 3, stride=2, padding=1), nn.ReLU()]
            ch, size = width, (size + 1) // 2
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(ch * size * size, 10)

    def forward(self, x):
        x = x.view(-1, 1, 28, 28)
        x = self.features(x)
        return self.fc(x.flatten(1))
"""

UNKNOWN_ENV_DEPTH_MODULELIST = """\
import os

import torch
from torch import nn

DEPTH = int(os.environ.get("DENSECHECK_TEST_UNSET_MIXER_DEPTH", "2"))


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim * 2)
        self.fc2 = nn.Linear(dim * 2, dim)

    def forward(self, x):
        return x + self.fc2(torch.relu(self.fc1(x)))


class Net(nn.Module):
    def __init__(self, depth, dim=16):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, 8, stride=8)
        self.blocks = nn.ModuleList([Block(dim) for _ in range(depth)])
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        for blk in self.blocks:
            x = blk(x)
        return self.head(x[:, 0])


if __name__ == "__main__":
    model = Net(DEPTH)
    model(torch.randn(2, 3, 32, 32))
"""

UNKNOWN_WHILE_CTOR_ARG = """\
import torch
from torch import nn


class Encoder(nn.Module):
    def __init__(self, min_size, size=32):
        super().__init__()
        layers = []
        ch = 3
        while size > min_size:
            layers += [nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1), nn.ReLU()]
            ch *= 2
            size //= 2
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(ch * size * size, 10)

    def forward(self, x):
        x = self.features(x.view(-1, 3, 32, 32))
        return self.fc(x.view(x.size(0), -1))
"""

UNKNOWN_WHILE_FORWARD = """\
import os

import torch
from torch import nn

MIN_SIZE = int(os.environ.get("DENSECHECK_TEST_UNSET_MIN_SIZE", "4"))


class Net(nn.Module):
    def __init__(self, min_size, ch=8):
        super().__init__()
        self.min_size = min_size
        self.stem = nn.Conv2d(3, ch, 3, padding=1)
        self.down = nn.Sequential(nn.Conv2d(ch, ch, 3, stride=2, padding=1), nn.ReLU())
        self.pooled = nn.Linear(ch, 10)
        self.flat = nn.LazyLinear(10)

    def forward(self, x):
        x = self.stem(x)
        while x.shape[-1] > self.min_size:
            x = self.down(x)
        return self.pooled(x.mean((2, 3))), self.flat(torch.flatten(x, 1))


if __name__ == "__main__":
    model = Net(MIN_SIZE)
    model(torch.randn(2, 3, 32, 32))
"""

UNKNOWN_BREAK_ARG = """\
import torch
from torch import nn

CFG = [("a", 8), ("b", 16), ("c", 32), ("d", 64)]


class Net(nn.Module):
    def __init__(self, stop):
        super().__init__()
        layers = []
        ch = 3
        for name, out_ch in CFG:
            layers += [nn.Conv2d(ch, out_ch, 3, stride=2, padding=1), nn.ReLU()]
            ch = out_ch
            if name == stop:
                break
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(ch * 4, 10)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.fc(x.flatten(1))


if __name__ == "__main__":
    model = Net(stop=input("stop after which stage? "))
    model(torch.randn(2, 3, 32, 32))
"""

# -- Keras

KERAS_SEQUENTIAL_CONTINUE = """\
import keras
from keras import layers

CFG = [8, "D", "M", 16, "M"]

model = keras.Sequential([keras.Input(shape=(16, 16, 3))])
for v in CFG:
    if v == "M":
        model.add(layers.MaxPooling2D(2))
        continue
    if v == "D":
        model.add(layers.Dense(8, activation="relu"))
        continue
    model.add(layers.Conv2D(v, 3, padding="same", activation="relu"))
model.add(layers.Flatten())
model.add(layers.Dense(10))
"""

KERAS_FUNCTIONAL_FOR_ELSE = """\
import keras
from keras import layers

FILTERS = ARGS

inputs = keras.Input(shape=(16, 16, 3))
x = inputs
for f in FILTERS:
    if f is None:
        break
    x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(x)
else:
    x = layers.GlobalAveragePooling2D()(x)
outputs = layers.Dense(10)(x)
model = keras.Model(inputs, outputs)
"""

KERAS_FUNCTIONAL_WHILE_SHAPE = """\
import keras
from keras import layers

inputs = keras.Input(shape=(32, 32, 3))
x = layers.Conv2D(8, 3, padding="same")(inputs)
while x.shape[1] > 4:
    x = layers.Conv2D(x.shape[-1] * 2, 3, strides=2, padding="same")(x)
x = layers.Flatten()(x)
outputs = layers.Dense(10)(x)
model = keras.Model(inputs, outputs)
"""

HAND_WRITTEN = [
    Case("vgg_continue", VGG_CONTINUE, exact=True, exact_dim=True),
    Case("vgg_else", VGG_ELSE, exact=True, exact_dim=True),
    # the comprehension spelling hands convolutions out with iter()/next(): densecheck does not follow
    # iterators (one advanced on an unsure path would give a wrong layer): its rank is exact, its size unknown
    Case("vgg_comprehension", VGG_COMPREHENSION, exact=True),
    Case("for_else_completes", FOR_ELSE.replace("ARGS", "[8, 16, 32]"), exact=True),
    Case("for_else_breaks", FOR_ELSE.replace("ARGS", "[8, 16, 32, 64], token_at=32"), exact=True),
    Case("break_at_sentinel", BREAK_AT_SENTINEL, exact=True),
    Case("return_in_loop", RETURN_IN_LOOP, exact=True),
    Case("nested_loops_stages_blocks", NESTED_LOOPS, exact=True),
    Case("while_known_bound", WHILE_KNOWN_BOUND, exact=True),
    Case("while_true_counted_break", WHILE_TRUE_BREAK, exact=True),
    Case("for_zip", ZIP_LOOP, exact=True),
    Case("for_enumerate", ENUMERATE_LOOP, exact=True),
    Case("for_range_len", RANGE_LEN, exact=True),
    Case("for_dict_items", DICT_ITEMS, exact=True),
    Case("for_tuple_cfg", TUPLE_CFG, exact=True),
    Case("resnet_basic_make_layer", RESNET_BASIC, exact=True),
    Case("resnet_bottleneck_se_make_layer", RESNET_BOTTLENECK_SE, exact=True),
    Case("unet_skips_pop", UNET.replace(AUX_INIT, "").replace(AUX_CALL, ""), exact=True),
    # the same, plus a head on the concatenated decoder features (before the 1x1 conv fixes the channels)
    Case("unet_head_on_concat", UNET, exact=True),
    Case("modulelist_built_in_loop", MODULELIST_LOOP),
    Case("try_else_finally", TRY_HEAD.replace("KIND", '"avg"'), exact=True),
    Case("try_except_finally", TRY_HEAD.replace("KIND", '"none"'), exact=True),
    Case("match_avg", MATCH_POOL.replace("KIND", '"avg"'), exact=True),
    Case("match_max", MATCH_POOL.replace("KIND", '"max"'), exact=True),
    Case("match_wildcard", MATCH_POOL.replace("KIND", '"tokens"'), exact=True),
    Case("match_sequence_in_loop", MATCH_SEQUENCE_IN_LOOP, exact=True),
    Case(
        "unknown_range_ctor_arg",
        UNKNOWN_RANGE_CTOR_ARG,
        driver="model = Net(depth=2)\nmodel(torch.randn(2, 784))",
    ),
    Case("unknown_env_depth_modulelist", UNKNOWN_ENV_DEPTH_MODULELIST),
    Case(
        "unknown_while_ctor_arg",
        UNKNOWN_WHILE_CTOR_ARG,
        driver="model = Encoder(min_size=8)\nmodel(torch.randn(2, 3 * 32 * 32))",
    ),
    Case("unknown_while_forward", UNKNOWN_WHILE_FORWARD),
    Case(
        "unknown_break_arg",
        UNKNOWN_BREAK_ARG,
        driver='model = Net(stop="b")\nmodel(torch.randn(2, 3, 32, 32))',
    ),
    Case("keras_sequential_continue", KERAS_SEQUENTIAL_CONTINUE, exact=True, framework="keras"),
    Case(
        "keras_functional_for_else_completes",
        KERAS_FUNCTIONAL_FOR_ELSE.replace("ARGS", "[8, 16, 32]"),
        exact=True,
        framework="keras",
    ),
    Case(
        "keras_functional_for_else_breaks",
        KERAS_FUNCTIONAL_FOR_ELSE.replace("ARGS", "[8, 16, None, 32]"),
        exact=True,
        framework="keras",
    ),
    Case("keras_functional_while_on_shape", KERAS_FUNCTIONAL_WHILE_SHAPE, framework="keras"),
]


# -- generated VGG-style programs ----------------------------------------------------------------------------

MAKE_LAYERS = {
    "continue": """\
def make_layers(cfg):
    layers = []
    in_channels = $in_ch
    for v in cfg:
        if v == "M":
            layers += [$pool]
            continue
        layers += [nn.Conv2d(in_channels, v, kernel_size=$k, padding=$p), nn.ReLU(inplace=True)]
        in_channels = v
    return nn.Sequential(*layers)
""",
    "else": """\
def make_layers(cfg):
    layers = []
    in_channels = $in_ch
    for v in cfg:
        if v == "M":
            layers += [$pool]
        else:
            conv2d = nn.Conv2d(in_channels, v, kernel_size=$k, padding=$p)
            layers += [conv2d, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)
""",
    "comprehension": """\
def make_layers(cfg):
    outs = [v for v in cfg if v != "M"]
    ins = [$in_ch] + outs[:-1]
    convs = iter([nn.Sequential(nn.Conv2d(i, o, $k, padding=$p), nn.ReLU()) for i, o in zip(ins, outs)])
    return nn.Sequential(*[$pool if v == "M" else next(convs) for v in cfg])
""",
    "while": """\
def make_layers(cfg):
    layers = []
    in_channels = $in_ch
    i = 0
    while i < len(cfg):
        v = cfg[i]
        i += 1
        if v == "M":
            layers.append($pool)
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=$k, padding=$p))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)
""",
    "break": """\
def make_layers(cfg):
    layers = []
    in_channels = $in_ch
    for v in cfg:
        if v == "E":
            break
        if v == "M":
            layers += [$pool]
        else:
            layers += [nn.Conv2d(in_channels, v, kernel_size=$k, padding=$p), nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)
""",
}

#: how the feature map is flattened before the classifier: (statement in __init__, expression in forward)
FLATTENS = [
    ("", "x.view(x.size(0), -1)"),
    ("", "torch.flatten(x, 1)"),
    ("", "x.flatten(1)"),
    ("", "x.reshape(x.shape[0], -1)"),
    ("self.flatten = nn.Flatten()\n        ", "self.flatten(x)"),
]

POOLS = ["nn.MaxPool2d(2, 2)", "nn.MaxPool2d(kernel_size=2, stride=2)", "nn.AvgPool2d(2)"]

GENERATED_PROGRAM = string.Template("""\
import torch
from torch import nn

CFG = $cfg


$make_layers

class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = make_layers(CFG)
        ${flatten_init}self.classifier = nn.Linear($c * $s * $s, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = $flatten
        return self.classifier(x)


if __name__ == "__main__":
    model = Net()
    model(torch.randn(2, $in_ch, $size, $size))
""")

SEEDS = range(30)


def generate(seed: int) -> Case:
    """A VGG-style program: a cfg of ints and 'M', one loop spelling, a flatten, and the Linear's in_features
    (the conv/pool size arithmetic is torch's: Conv2d out = in + 2p - k + 1, 2x2 pools floor-halve; the run of
    the program checks it)."""
    rng = random.Random(seed)
    spelling = list(MAKE_LAYERS)[seed % len(MAKE_LAYERS)]
    in_ch = rng.choice((1, 3))
    size = rng.choice((16, 24, 28, 32, 40))
    k, p = rng.choice(((3, 1), (1, 0), (3, 0), (5, 2)))
    flatten_init, flatten = rng.choice(FLATTENS)
    pool = rng.choice(POOLS)
    cfg: list[int | str] = []
    c, s = in_ch, size
    while len(cfg) < rng.randint(3, 8) or not any(isinstance(v, int) for v in cfg):
        if rng.random() < 0.35:
            if s // 2 < 1:
                continue
            cfg.append("M")
            s //= 2
        else:
            if s + 2 * p - k + 1 < 1:
                continue
            v = rng.choice((4, 6, 8, 12, 16))
            cfg.append(v)
            c, s = v, s + 2 * p - k + 1
    if spelling == "break":  # what follows the sentinel must not be built
        cfg += ["E", rng.choice((24, 32)), "M"]
    source = GENERATED_PROGRAM.substitute(
        cfg=repr(cfg),
        make_layers=string.Template(MAKE_LAYERS[spelling]).substitute(in_ch=in_ch, k=k, p=p, pool=pool),
        flatten_init=flatten_init,
        flatten=flatten,
        c=c,
        s=s,
        in_ch=in_ch,
        size=size,
    )
    # iter()/next() (the comprehension spelling) is not followed: its size may be unknown, never wrong
    return Case(f"gen{seed:02d}_{spelling}", source, exact=True, exact_dim=spelling != "comprehension")


GENERATED = [generate(seed) for seed in SEEDS]


# -- running the programs ----------------------------------------------------------------------------------


def _filename(case: Case) -> str:
    return f"<control-flow case {case.id}>"


def _constructor_line(filename: str) -> int | None:
    """The line, in the program being run, of the call that is constructing a layer right now."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename == filename:
            return frame.f_lineno
        frame = frame.f_back
    return None


@contextmanager
def _patched(cls: type, name: str, make: Callable[[Callable], Callable]) -> Iterator[None]:
    own = name in cls.__dict__
    original = cls.__dict__[name] if own else getattr(cls, name)
    setattr(cls, name, make(original))
    try:
        yield
    finally:
        if own:
            setattr(cls, name, original)
        else:
            delattr(cls, name)


def _execute(case: Case) -> None:
    code = compile(case.source, _filename(case), "exec")
    namespace = {"__name__": "__main__" if case.driver is None else "control_flow_case"}
    exec(code, namespace)
    if case.driver is not None:
        exec(compile(case.driver, f"<driver {case.id}>", "exec"), namespace)


def run_torch(case: Case) -> dict[int, Seen]:
    import torch
    from torch import nn
    from torch.nn.modules.lazy import LazyModuleMixin

    filename = _filename(case)
    site: dict[nn.Module, int] = {}
    seen: dict[int, Seen] = {}
    lines = case.source.splitlines()

    def init(original):
        def __init__(self, *args, **kwargs):
            original(self, *args, **kwargs)
            line = _constructor_line(filename)
            if line is not None:
                site[self] = line

        return __init__

    def pre_hook(module, args):
        line = site.get(module)
        if line is None or not args or not isinstance(args[0], torch.Tensor):
            return
        rec = seen.setdefault(line, Seen(lines[line - 1].strip()))
        rec.shapes.add(tuple(args[0].shape))
        lazy = isinstance(module, LazyModuleMixin) and module.has_uninitialized_params()
        rec.in_features.add(args[0].shape[-1] if lazy else module.in_features)

    handle = torch.nn.modules.module.register_module_forward_pre_hook(pre_hook)
    try:
        with _patched(nn.Linear, "__init__", init), torch.no_grad():
            torch.manual_seed(0)
            _execute(case)
    finally:
        handle.remove()
    return seen


def run_keras(case: Case) -> dict[int, Seen]:
    keras = pytest.importorskip("keras")
    dense = keras.layers.Dense

    filename = _filename(case)
    site: dict[int, tuple[object, int]] = {}
    seen: dict[int, Seen] = {}
    lines = case.source.splitlines()

    def init(original):
        def __init__(self, *args, **kwargs):
            original(self, *args, **kwargs)
            line = _constructor_line(filename)
            if line is not None:
                site[id(self)] = (self, line)

        return __init__

    def call(original):
        def __call__(self, *args, **kwargs):
            if id(self) in site and args:
                line = site[id(self)][1]
                rec = seen.setdefault(line, Seen(lines[line - 1].strip()))
                shape = tuple(args[0].shape)
                rec.shapes.add(shape)
                rec.in_features.add(shape[-1])
            return original(self, *args, **kwargs)

        return __call__

    with _patched(dense, "__init__", init), _patched(dense, "__call__", call):
        _execute(case)
    return seen


# -- the comparison ------------------------------------------------------------------------------------------

#: in_features mismatch: never right on these programs, which all run
NEVER = {"DC103"}
#: the rank-> 2 findings: right only where the real input has rank > 2
RANK_FINDINGS = {"DC101", "DC102"}


def compare(case: Case, runtime: dict[int, Seen]) -> list[str]:
    """Every way the static report of ``case`` disagrees with what the run saw (empty: agreement)."""
    result = api.analyze_source(case.source, "model.py")
    problems = [
        f"densecheck note: {n.code} {n.message}" for n in result.notes if n.code in ("DC001", "DC002")
    ]
    by_line: dict[int, list] = {}
    for rep in result.layers:
        by_line.setdefault(rep.line, []).append(rep)
    for line, seen in sorted(runtime.items()):
        where = f"line {line} `{seen.call}`"
        real = ", ".join(str(list(s)) for s in sorted(seen.shapes, key=str))
        reps = by_line.get(line)
        if not reps:
            problems.append(f"{where}: densecheck reports no layer here (runtime input {real})")
            continue
        for rep in reps:
            s = rep.input
            said = f"densecheck input {s} (ranks {rep.ranks})"
            rank = rep.input_rank
            if rank is not None and seen.ranks != {rank}:
                problems.append(f"{where}: WRONG rank: {said}, runtime input {real}")
            elif case.exact and rank is None:
                problems.append(f"{where}: rank unknown but statically determinable: {said}, runtime {real}")
            last = s.dims[-1] if s is not None and s.dims else None
            if known(last) and seen.last_dims != {last}:
                problems.append(f"{where}: WRONG last dim {last}: {said}, runtime input {real}")
            elif case.exact_dim and not known(last) and rank is not None:
                problems.append(
                    f"{where}: last dim unknown but statically determinable: {said}, runtime {real}"
                )
            declared = rep.effective_in_features
            if declared is not None and seen.in_features != {declared}:
                problems.append(
                    f"{where}: WRONG in_features {declared}, runtime in_features {sorted(seen.in_features)}"
                )
    for d in result.diagnostics:
        seen = runtime.get(d.line)
        if d.code in NEVER or (
            d.code in RANK_FINDINGS and seen is not None and max(seen.ranks, default=0) <= 2
        ):
            real = sorted(seen.shapes) if seen is not None else "not reached"
            problems.append(f"line {d.line}: false {d.code}: {d.message} (runtime input {real})")
    return problems


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case.id, marks=getattr(pytest.mark, case.framework))
        for case in HAND_WRITTEN + GENERATED
    ],
)
def test_control_flow(case: Case) -> None:
    if case.framework == "torch":
        pytest.importorskip("torch")
        runtime = run_torch(case)
    else:
        runtime = run_keras(case)
    assert runtime, "the program built no Linear/Dense that received an input"
    problems = compare(case, runtime)
    assert not problems, f"{case.id}: densecheck disagrees with the run:\n  " + "\n  ".join(problems)


def test_generator_covers_every_spelling() -> None:
    spellings = {case.id.split("_", 1)[1] for case in GENERATED}
    assert spellings == set(MAKE_LAYERS)
    assert len({case.source for case in GENERATED}) == len(GENERATED)
