"""DC101 dense-over-spatial-positions: a Dense/Linear layer applied to a feature map with spatial axes.

## What it does
Flags a `Dense` / `nn.Linear` whose input has rank 4 or more (batch, height, width, ..., channels) with the
features on the last axis and no `Flatten`, pooling or explicit `permute` before it.

## Why it matters
A "fully-connected" layer on a rank > 2 tensor is not fully connected: it acts on the last axis only, once per
position, sharing its weights — exactly a 1x1 convolution. `Dense(16)` on a (None, 160, 160, 64) feature map
has 1,040 parameters, not the 26,214,416 a fully-connected layer over the whole map would have, and each
output pixel only sees its own 64 channels. If you meant a classifier head over the whole map, the model
silently does something else.

## Example
```python
x = keras.Input(shape=(160, 160, 3))
x = layers.Conv2D(64, 3, padding="same")(x)
y = layers.Dense(16)(x)          # DC101: 1x1 conv at 25,600 positions
```

## Use instead
Flatten or pool first when you want one vector per sample:
```python
x = layers.GlobalAveragePooling2D()(x)   # or layers.Flatten()(x)
y = layers.Dense(16)(x)
```
A Dense inside a residual block whose sum goes on through more convolutions (the inverted bottleneck of a
Keras ConvNeXt block: Dense -> GELU -> Dense, added to the block's input, then the next block's depthwise
convolution) is reported at `info`, for what it is; one that feeds the model's output or a softmax stays a
warning, and so does a plain Dense between convolutions (the article's image-fusion head), the mistake this
rule exists for.

If a per-pixel layer is what you want, say so with `layers.Conv2D(16, 1)` (or, in PyTorch, an explicit
`x.permute(0, 2, 3, 1)` before `nn.Linear`, the ConvNeXt idiom, which densecheck does not flag).
"""

from dataclasses import replace

from densecheck.layers import POINTWISE
from densecheck.rules.base import Rule


class DenseOverSpatialPositions(Rule):
    code = "DC101"
    name = "dense-over-spatial-positions"
    severity = "warning"
    summary = "Dense/Linear on a rank >= 4 feature map acts as a 1x1 convolution"
    INVALID = [
        "import keras\nfrom keras import layers\n"
        "x = keras.Input(shape=(160, 160, 64))\ny = layers.Dense(16)(x)\n",
        # a per-position Dense in a residual block between convolutions: info (the ConvNeXt block)
        "import keras\nfrom keras import layers\n"
        "x = keras.Input(shape=(32, 32, 16))\nh = layers.Dense(64, activation='gelu')(x)\n"
        "h = layers.Dense(16)(h)\ny = layers.Conv2D(8, 3)(x + h)\n",
    ]
    VALID = [
        "import keras\nfrom keras import layers\n"
        "x = keras.Input(shape=(160, 160, 64))\nx = layers.GlobalAveragePooling2D()(x)\ny = "
        "layers.Dense(16)(x)\n",
        # per-token use on sequences: rank 3 is not flagged
        "import keras\nfrom keras import layers\nx = keras.Input(shape=(128, 64))\ny = layers.Dense(16)(x)\n",
        # ConvNeXt-style explicit permute to channels-last
        "import torch\nfrom torch import nn\n"
        "class Block(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.dw = nn.Conv2d(96, 96, 7, padding=3, groups=96)\n        self.pw = nn.Linear(96, 384)\n"
        "    def forward(self, x):\n        x = self.dw(x)\n        x = x.permute(0, 2, 3, 1)\n"
        "        return self.pw(x)\n",
    ]

    def check(self, layer, settings):
        s = layer.input
        # Only a feature map (it came from a convolution, pooling or an image Input) is flagged: a rank-4
        # tensor of other provenance, e.g. (batch, heads, tokens, dim) or a (batch, L, L, dim) pair map, is
        # not.
        if s is None or s.rank < 4 or layer.behaves_as != POINTWISE or s.explicit_layout or not s.spatial:
            return
        pos = layer.positions
        where = f"{pos:,} positions" if pos is not None else "every spatial position"
        flat = layer.params_if_flattened
        params = layer.params
        detail = ""
        if params is not None:
            detail = f" ({params:,} params"
            detail += f"; flattened it would have {flat:,})" if flat is not None else ")"
        message = f"{layer.call} on a rank-{s.rank} input {s} acts as a 1x1 convolution at {where}{detail}"
        if layer.feeds_feature_map and not layer.model_output and not layer.squashed:
            # what it makes goes on through convolutions: a per-position layer inside the network (ConvNeXt's
            # inverted bottleneck), said for what it is, not a warning
            yield replace(
                self.diagnostic(
                    layer,
                    message + "; it is a residual block's branch between convolutions (intentional?)",
                    fix="nothing, if it is meant to act per position; a 1x1 convolution says so explicitly",
                ),
                severity="info",
            )
            return
        yield self.diagnostic(
            layer,
            message,
            fix="Flatten or global-pool the feature map first for a fully-connected layer, or use a 1x1 "
            "convolution to make a per-position layer explicit",
        )
