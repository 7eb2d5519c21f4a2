"""DC107 head-keeps-positions: a model's head keeps position axes, or a Dense splits one declared sample.

## What it does
Two cases, both about a Dense/Linear on a rank-3 input (batch, positions, features) where the code says one
prediction per sample is wanted:

* **warning**: the layer is the model's output (the model gives back what it computes, maybe through an
  activation), a classifier's `softmax`/`sigmoid` is applied to it, and its positions are not ones the model
  meant to keep: a pool left them as a length-1 axis (`MaxPooling1D` over the whole sequence, then no
  `Flatten`), or they are what the model's declared input said one sample is (`Input((3, 2))`, nothing
  reading it as a sequence). Or, with any activation: the same file trains the model on one label per
  sample (`model.fit(x, y)` with `y` of shape (N,), (N, 1) or (N, outputs)), e.g. after the last recurrent
  layer was left with `return_sequences=True`. The model then makes one prediction per position, and Keras's
  `fit` fails on per-sample targets (`expected dense to have 3 dimensions`) or, worse, broadcasts.
* **warning**: the layer's output is given back as the logits of an output record of one prediction per
  sample (transformers' `SequenceClassifierOutput`, `ImageClassifierOutput`, `MultipleChoiceModelOutput`)
  while its input still has the positions (tokens, patches) a transformer made: the pool (`x.mean(dim=1)`)
  or the class-token pick (`x[:, 0]`) before the head was left out. A token classifier's or a language
  model's record (`TokenClassifierOutput`, `CausalLMOutput`) keeps its positions and gets nothing.
* **info**: any other Dense/Linear on such a declared sample: it acts on the last axis only, once per row of
  the sample, with far fewer parameters than the fully-connected layer the code suggests.

A per-token layer of a sequence model (its input came from an `Embedding`, a recurrent or convolutional layer,
attention) and sequence-labelling or language-model heads get nothing: their positions are real.

## Why it matters
`Dense(16, input_shape=(3, 2))` has 48 parameters, not the 96 (3 x 2 x 16) people expect: it maps each of the
3 rows of 2 values to 16 features on its own. On (None, 1, 100) after a pool, `Dense(5, activation="softmax")`
gives (None, 1, 5), not the (None, 5) the labels have. Both train or fail far from the cause.

## Example
```python
model = Sequential()
model.add(Dense(16, input_shape=(3, 2)))       # DC107 (info): 48 params; flattened 112
model.add(Dense(4, activation="softmax"))      # DC107 (warning): one prediction per row, not per sample
```

## Use instead
```python
model = Sequential()
model.add(Flatten(input_shape=(3, 2)))
model.add(Dense(16))
model.add(Dense(4, activation="softmax"))
```
"""

from dataclasses import replace

from densecheck.layers import POINTWISE
from densecheck.rules.base import Rule
from densecheck.rules.dc103_in_features_mismatch import spelling
from densecheck.shapes import known

_KERAS = "from keras import layers, models\n"
_HF = (
    "from torch import nn\nfrom transformers.modeling_outputs import {record}\n\n"
    "class Classifier(nn.Module):\n"
    "    def __init__(self):\n        super().__init__()\n"
    "        self.patch = nn.Conv2d(3, 32, 4, stride=4)\n        self.head = nn.Linear(32, 10)\n\n"
    "    def forward(self, pixel_values):\n"
    "        tokens = self.patch(pixel_values).flatten(2).transpose(1, 2)\n"
    "        return {record}(logits=self.head(tokens{pick}))\n"
)


class HeadKeepsPositions(Rule):
    code = "DC107"
    name = "head-keeps-positions"
    severity = "warning"
    summary = "classifier head (or a Dense on one declared sample) keeps position axes"
    INVALID = [
        # the seed article's own example, with a classifier head
        _KERAS + "model = models.Sequential()\nmodel.add(layers.Dense(16, input_shape=(3, 2)))\n"
        "model.add(layers.Dense(4, activation='softmax'))\n",
        # a recurrent layer left with return_sequences=True, trained on one label per sample
        "import numpy as np\n" + _KERAS + "inp = layers.Input((600, 1))\n"
        "x = layers.LSTM(8, return_sequences=True)(inp)\nout = layers.Dense(1)(x)\n"
        "model = models.Model(inp, out)\nmodel.fit(np.zeros((32, 600, 1)), np.zeros((32, 1)))\n",
        # a pool over the whole sequence leaves a length-1 axis, and no Flatten follows
        _KERAS + "inp = layers.Input((5, 100))\nx = layers.MaxPooling1D(5)(inp)\n"
        "out = layers.Dense(5, activation='softmax')(x)\nmodel = models.Model(inp, out)\n",
        # an image classifier whose class-token pick was left out: per-patch logits as per-image ones
        _HF.format(pick="", record="ImageClassifierOutput"),
    ]
    VALID = [
        # the same with the pick: one prediction per image
        _HF.format(pick="[:, 0]", record="ImageClassifierOutput"),
        # token classification keeps its positions
        _HF.format(pick="", record="TokenClassifierOutput"),
        # flattened first: fully connected
        _KERAS + "model = models.Sequential()\nmodel.add(layers.Flatten(input_shape=(3, 2)))\n"
        "model.add(layers.Dense(16))\nmodel.add(layers.Dense(4, activation='softmax'))\n",
        # sequence labelling: one prediction per token is the point
        _KERAS + "inp = layers.Input((None,), dtype='int32')\nx = layers.Embedding(1000, 64)(inp)\n"
        "x = layers.LSTM(32, return_sequences=True)(x)\n"
        "out = layers.Dense(9, activation='softmax')(x)\nmodel = models.Model(inp, out)\n",
        # a time series read by a recurrent layer first
        _KERAS + "inp = layers.Input((30, 5))\nx = layers.LSTM(16)(inp)\n"
        "out = layers.Dense(1, activation='sigmoid')(x)\nmodel = models.Model(inp, out)\n",
    ]

    def check(self, layer, settings):
        s = layer.input
        if s is None or s.rank != 3 or layer.behaves_as != POINTWISE:
            return
        assert s.dims is not None  # a known rank
        spell = spelling(layer.framework)
        flatten = f": {spell['flatten']}" if "flatten" in spell else ""
        length_one = all(d == 1 for d in s.dims[1:-1])
        per_sample = _one_per_sample(layer.targets, s.dims[1], layer.out_features)
        if layer.per_sample_output is not None:
            # the model gives it back as one prediction per sample: the pool or class-token pick before it
            # is missing (a token classifier's or a language model's record keeps positions, and is not one)
            yield self.diagnostic(
                layer,
                f"{layer.call} on {s} gives the logits of a {layer.per_sample_output}, one prediction per "
                "sample, but keeps the position axis: the pool or class-token pick before the head is "
                "missing",
                fix="pool the positions (x.mean(dim=1)) or pick the class token (x[:, 0]) before the head",
            )
        elif layer.model_output and (per_sample or (layer.squashed and (length_one or s.declared))):
            if per_sample:
                targets = tuple(layer.targets or ())
                why = f"a position axis while the targets passed to fit are one per sample {targets}"
            elif length_one:
                why = "a length-1 position axis a pool or reshape left"
            else:
                why = f"the {s.dims[1]} rows of what its input declared as one sample"
            output = f"{layer.squashed} output" if layer.squashed else "output"
            yield self.diagnostic(
                layer,
                f"{layer.call} on {s} is the model's {output} but keeps {why}: it makes one "
                "prediction per position, not one per sample",
                fix=f"flatten before the head{flatten}",
            )
        elif s.declared:
            p, flat = layer.params, layer.params_if_flattened
            counts = (
                f": {p:,} params; flattened {flat:,}" if known(p) and known(flat) else ""
            )  # the seed's "48 params; flattened 112"
            d = self.diagnostic(
                layer,
                f"{layer.call} on {s} acts on the last axis only, once per row of what its input declared as "
                f"one sample{counts}",
                fix=f"if one sample is one vector, flatten first{flatten}",
            )
            yield replace(d, severity="info")


def _one_per_sample(targets: list | None, positions: object, out_features: object) -> bool:
    """Targets of one label per sample: (N,) class ids, or (N, k) with k the head's outputs (or 1) and not
    the number of positions (per-token class ids (N, T) of sequence labelling are one per position)."""
    if targets is None:
        return False
    if len(targets) == 1:
        return True
    if len(targets) != 2 or not known(targets[1]):
        return False
    k = targets[1]
    return k != positions and (k == 1 or k == out_features)
