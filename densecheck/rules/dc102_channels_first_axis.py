"""DC102 linear-on-channels-first-axis: a Linear layer mixes along a spatial axis of a channels-first tensor.

## What it does
Flags an `nn.Linear` (or `Dense`) whose input is known to hold its channels on an axis other than the last —
for example the (N, C, H, W) output of `nn.Conv2d` or the (N, C, L) output of `nn.Conv1d` — so the layer acts
on the last *spatial* axis (the width) instead of on the features. Channels moved off the last axis by an
explicit `permute`/`transpose` on a tensor that is not a feature map (MLP-Mixer's token mixing on
(batch, dim, tokens)) are taken as deliberate and not flagged; the layer record still says `spatial_mixing`. A
feature map's spatial axes stay spatial through any permutation: a convolution's output transposed and
transposed back (`pw(h.transpose(1, 2)).transpose(1, 2)`) is flagged like the plain one.

## Why it matters
`nn.Linear` always transforms the last axis. Straight after a convolution in PyTorch's NCHW layout that is the
width axis: the layer mixes pixels of each row, sharing weights over channels and rows, and its `in_features`
must equal the image width. The model usually trains anyway and quietly learns something else. This is almost
always a bug.

## Example
```python
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):              # x: (N, 3, 32, 32)
        return self.fc(self.conv(x))   # DC102: mixes along the width axis
```

## Use instead
Flatten (or pool) for a classifier head, or move channels last for a per-pixel layer:
```python
x = torch.flatten(self.pool(self.conv(x)), 1)
return self.fc(x)
# or: self.fc(self.conv(x).permute(0, 2, 3, 1))
```
"""

from densecheck.layers import SPATIAL_MIXING
from densecheck.rules.base import Rule


class LinearOnChannelsFirstAxis(Rule):
    code = "DC102"
    name = "linear-on-channels-first-axis"
    severity = "error"
    summary = "Linear acts on a spatial axis of a channels-first tensor"
    INVALID = [
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.conv = nn.Conv2d(3, 16, 3, padding=1)\n        self.fc = nn.Linear(32, 10)\n"
        "    def forward(self, x):\n        return self.fc(self.conv(x))\n",
    ]
    VALID = [
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.conv = nn.Conv2d(3, 16, 3, padding=1)\n        self.fc = nn.Linear(16, 10)\n"
        "    def forward(self, x):\n        x = self.conv(x).mean(dim=(2, 3))\n        return self.fc(x)\n",
        # MLP-Mixer token mixing: an explicit transpose puts the tokens last on purpose
        "import torch\nfrom torch import nn\n"
        "class MixerBlock(nn.Module):\n"
        "    def __init__(self, tokens=64, dim=32):\n        super().__init__()\n"
        "        self.token_mix = nn.Linear(tokens, tokens)\n"
        "    def forward(self, x):\n        return self.token_mix(x.transpose(1, 2)).transpose(1, 2)\n"
        "x = torch.randn(2, 64, 32)\nMixerBlock()(nn.LayerNorm(32)(x))\n",
    ]

    def check(self, layer, settings):
        s = layer.input
        # Channels moved away from the last axis by an explicit permute/transpose are a deliberate choice:
        # token mixing in MLP-Mixer (`x.transpose(1, 2)` then `nn.Linear(num_tokens, ...)`) is not a mistake.
        if layer.behaves_as != SPATIAL_MIXING or s.deliberate_layout:
            return
        yield self.diagnostic(
            layer,
            f"{layer.call} on {s} acts on axis {s.rank - 1}, a spatial axis: the channels are on axis "
            f"{s.channel_axis}",
            fix="flatten or pool before the layer (classifier head), or permute channels last "
            "(per-position layer)",
        )
