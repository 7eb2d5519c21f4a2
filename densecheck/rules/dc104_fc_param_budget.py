"""DC104 fc-parameter-budget: one fully-connected layer holds more parameters than the budget allows.

## What it does
Flags a `Dense` / `nn.Linear` that acts as a fully-connected layer (or whose input rank is unknown) when its
parameter count (weights + bias, as the code builds it) exceeds `fc-param-budget` in `[tool.densecheck]`
(default 25,000,000). Layers applied per position (DC101, DC102) are not counted against the budget.

## Why it matters
A fully-connected layer over a flattened feature map multiplies every spatial position by every output unit.
In VGG16 the first classifier layer, `Dense(4096)` after `Flatten` of the 7x7x512 map, has 102,764,544
parameters — about three quarters of the whole network — which costs memory, slows training and over-fits
easily, while fixing the input resolution. Modern heads pool first and spend a few thousand parameters per
class instead.

## Example
```python
x = keras.Input(shape=(7, 7, 512))
x = layers.Flatten()(x)
x = layers.Dense(4096)(x)        # DC104: 102,764,544 params
```

## Use instead
Pool the feature map to one vector per sample before the head, or keep the spatial structure with a
convolution: ```python
x = layers.GlobalAveragePooling2D()(x)   # (None, 512)
x = layers.Dense(4096)(x)                # 2,101,248 params
# or: layers.Conv2D(4096, 7) — the same computation as Flatten + Dense, usable on larger images
```
Raise `fc-param-budget` if the layer is deliberate.
"""

from densecheck.layers import FULLY_CONNECTED, UNKNOWN
from densecheck.rules.base import Rule


class FcParameterBudget(Rule):
    code = "DC104"
    name = "fc-parameter-budget"
    severity = "warning"
    summary = "a fully-connected layer has more parameters than fc-param-budget (default 25M)"
    INVALID = [
        # VGG16's head: Flatten of 7x7x512 then Dense(4096)
        "import keras\nfrom keras import layers\n"
        "x = keras.Input(shape=(7, 7, 512))\nx = layers.Flatten()(x)\ny = layers.Dense(4096)(x)\n",
        "import torch\nfrom torch import nn\n"
        "class Head(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(512 * 7 * 7, 4096)\n"
        "    def forward(self, x):\n        return self.fc(torch.flatten(x, 1))\n",
    ]
    VALID = [
        "import keras\nfrom keras import layers\n"
        "x = keras.Input(shape=(7, 7, 512))\nx = layers.GlobalAveragePooling2D()(x)\ny = "
        "layers.Dense(4096)(x)\n",
        "import torch\nfrom torch import nn\n"
        "class Head(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(4096, 4096)\n"
        "    def forward(self, x):\n        return self.fc(torch.flatten(x, 1))\n",
    ]

    def check(self, layer, settings):
        params = layer.params
        budget = settings.fc_param_budget
        if params is None or params <= budget or layer.behaves_as not in (FULLY_CONNECTED, UNKNOWN):
            return
        share = f"{params / budget:.1f}x" if budget else "over"
        yield self.diagnostic(
            layer,
            f"{layer.call} is a fully-connected layer with {params:,} params, {share} the fc-param-budget of "
            f"{budget:,}",
            fix="global-pool the feature map before the layer (it then needs channels x outputs params), or "
            "replace it with a convolution; raise fc-param-budget if it is deliberate",
        )
