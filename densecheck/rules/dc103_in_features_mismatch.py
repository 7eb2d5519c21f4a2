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
When the declared size is the input's flattened size (`nn.Linear(64 * 8 * 8, 10)` on (N, 64, 8, 8)) the
layer is right and the flatten is missing: the fix says so (`x = torch.flatten(x, 1)`) instead of suggesting a
new `in_features`; when it is the channel count, the spatial pool is what is missing.
"""

from densecheck.plugins.registry import registry
from densecheck.rules.base import Rule
from densecheck.shapes import dim_product


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
    INVALID += [
        # the flatten is missing: the fix says "flatten first", not "use in_features=8"
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.conv = nn.Conv2d(3, 64, 3, padding=1)\n        self.fc = nn.Linear(64 * 8 * 8, 10)\n"
        "    def forward(self, x):\n        return self.fc(self.conv(x))\n"
        "Net()(torch.randn(2, 3, 8, 8))\n",
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
        s = layer.input
        spell = spelling(layer.framework)
        message = (
            f"{layer.call} declares in_features={declared} but its input {s} has {actual} features on the "
            "last axis"
        )
        flat = dim_product(s.dims[1:]) if s.rank > 2 else None
        if flat == declared:  # the head was sized for the flattened map: the flatten is what is missing
            fix = "flatten first" + (f": {spell['flatten']}" if "flatten" in spell else "")
            message += f"; {declared} is its flattened size"
        elif s.rank > 2 and s.channel_axis is not None and s.dims[s.channel_axis] == declared:
            fix = "pool the positions first" + (f": {spell['pool']}" if "pool" in spell else "")
            message += f"; {declared} is its channel count"
        else:
            lazy = f" (or {spell['lazy']})" if "lazy" in spell else ""
            fix = f"use in_features={actual}{lazy}"
        yield self.diagnostic(layer, message, fix=fix)


def spelling(framework: str) -> dict[str, str]:
    """How ``framework`` spells the fixes (its plugin's ``spelling``)."""
    plugin = registry().plugin(framework)
    return dict(plugin.spelling) if plugin is not None else {}
