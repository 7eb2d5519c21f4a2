"""Static inference that generalizes (issue 15): each pattern a small model, checked against the framework
building the same model."""

from __future__ import annotations

import pytest

from densecheck import api
from densecheck.config import Settings

ALIASED = """\
{imports}
inp = keras.Input((32, 32, 3))
x = layers.Conv2D(8, 3)(inp)
out = layers.Dense(10)(x)
model = keras.Model(inp, out)
"""

ALIASES = {
    "keras_core": "import keras_core as keras\nfrom keras_core import layers",
    "tf_keras": "import tf_keras as keras\nfrom tf_keras import layers",
    "tf.keras": "import tensorflow as tf\nkeras = tf.keras\nlayers = tf.keras.layers",
    "tensorflow.keras": "from tensorflow import keras\nfrom tensorflow.keras import layers",
    "keras.src": "import keras\nfrom keras.src import layers",
}


@pytest.mark.keras
@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_every_spelling_of_keras_is_keras(alias):
    """``import keras_core as keras`` (a whole public example collection is written so), ``tf_keras``,
    ``tf.keras`` and ``keras.src`` all mean Keras: the same layer, the same shape as Keras builds."""
    keras = pytest.importorskip("keras")
    ns: dict = {}
    exec(ALIASED.format(imports="import keras\nfrom keras import layers"), ns)
    dense = ns["model"].layers[-1]
    expected = list(dense.input.shape)
    res = api.analyze_source(ALIASED.format(imports=ALIASES[alias]), "m.py", Settings())
    (layer,) = res.layers
    assert layer.framework == "keras" and layer.layer == "keras.layers.Dense"
    assert layer.input is not None and layer.input.json() == expected
    assert layer.params == dense.count_params()
    assert [d.code for d in res.diagnostics] == ["DC101"]
    assert isinstance(dense, keras.layers.Dense)


LOOSE = {
    "module level": "model = nn.Sequential({layers})\n",
    "factory": "def make_model():\n    return nn.Sequential({layers})\n",
}
CONV2D = "nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3), nn.ReLU(), nn.Linear(24, 10)"
CONV1D = "nn.Conv1d(4, 8, 3), nn.ReLU(), nn.Linear(8, 2)"


@pytest.mark.torch
@pytest.mark.parametrize("where", sorted(LOOSE))
@pytest.mark.parametrize(("layers", "sample"), [(CONV2D, (1, 28, 28)), (CONV1D, (4, 10))], ids=["2d", "1d"])
def test_the_canonical_mistake_in_a_loose_sequential(where, layers, sample):
    """``nn.Sequential(nn.Conv2d(...), ..., nn.Linear(...))`` with no class and no forward, at module level or
    returned by a factory: the Linear gets the convolution's channels-first output (what torch gives it)."""
    torch = pytest.importorskip("torch")
    src = "import torch.nn as nn\n\n" + LOOSE[where].format(layers=layers)
    ns: dict = {}
    exec(src, ns)
    model = ns["model"] if "model" in ns else ns["make_model"]()
    seen = []
    model[-1].register_forward_pre_hook(lambda m, a: seen.append(tuple(a[0].shape)))
    model(torch.zeros(2, *sample))
    res = api.analyze_source(src, "m.py", Settings())
    (layer,) = res.layers
    assert layer.input is not None and layer.input.rank == len(seen[0]) and layer.input.channel_axis == 1
    assert layer.behaves_as == "spatial_mixing"
    assert "DC102" in [d.code for d in res.diagnostics]
