"""DC103 in-features-mismatch: `in_features` disagrees with the size of the axis the layer is applied to.

## What it does
Flags an `nn.Linear(in_features, out_features)` whose `in_features` differs from the last dimension of the
input that densecheck inferred for it.

## Why it matters
PyTorch raises `mat1 and mat2 shapes cannot be multiplied` at the first forward pass — or, worse, the numbers
agree by accident with a different axis than intended. Finding it statically saves a training launch.

## Example
```python
self.features = nn.Sequential(nn.Conv2d(3, 64, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
self.fc = nn.Linear(128, 10)   # DC103: the input has 64 features
```

## Use instead
```python
self.fc = nn.Linear(64, 10)    # or nn.LazyLinear(10)
```
"""

from densecheck.rules.base import Rule


class InFeaturesMismatch(Rule):
    code = "DC103"
    name = "in-features-mismatch"
    severity = "error"
    summary = "declared in_features differs from the inferred input size"
    INVALID = [
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.features = nn.Sequential(nn.Conv2d(3, 64, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())\n"
        "        self.fc = nn.Linear(128, 10)\n"
        "    def forward(self, x):\n        return self.fc(self.features(x))\n",
    ]
    VALID = [
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.features = nn.Sequential(nn.Conv2d(3, 64, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())\n"
        "        self.fc = nn.Linear(64, 10)\n"
        "    def forward(self, x):\n        return self.fc(self.features(x))\n",
    ]

    def check(self, layer, settings):
        mm = layer.mismatch
        if mm is None:
            return
        declared, actual = mm
        yield self.diagnostic(
            layer,
            f"{layer.call} declares in_features={declared} but its input {layer.input} has {actual} "
            f"features on "
            f"the last axis",
            fix=f"use in_features={actual} (or nn.LazyLinear)",
        )
