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


EINOPS = """\
import torch
from torch import nn
from einops.layers.torch import Rearrange, Reduce


class ViT(nn.Module):
    def __init__(self, dim=64, patch=4, classes=10):
        super().__init__()
        self.to_patch = nn.Sequential(
            Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch, p2=patch),
            nn.Linear(patch * patch * 3, dim),
        )
        self.pool = Reduce("b n d -> b d", "mean")
        self.head = nn.Linear(dim, classes)

    def forward(self, img):
        return self.head(self.pool(self.to_patch(img)))
"""


def _ranks(model, x, *more) -> dict[str, int]:
    """The rank each nn.Linear of ``model`` receives, by attribute path, from torch running it."""
    import torch

    seen: dict[str, int] = {}

    def hook(name: str):
        def see(mod, args) -> None:  # a pre-hook that returns something would replace the input
            seen.setdefault(name, args[0].dim())

        return see

    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Linear):
            m.register_forward_pre_hook(hook(name))
    model(x, *more)
    return seen


@pytest.mark.torch
def test_einops_layers_inside_a_sequential_and_as_attributes():
    """``Rearrange`` / ``Reduce`` layers (the largest single cause of unknown shapes): the pattern's left side
    fixes the entry input's rank, its right side gives the next layer's."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("einops")
    ns: dict = {}
    exec(EINOPS, ns)
    truth = _ranks(ns["ViT"](), torch.zeros(2, 3, 32, 32))
    assert truth == {"to_patch.1": 3, "head": 2}
    res = api.analyze_source(EINOPS, "m.py", Settings())
    static = {x.name: x.input_rank for x in res.layers}
    assert static == {"self.to_patch": 3, "self.head": 2}
    (patch,) = [x for x in res.layers if x.name == "self.to_patch"]
    line = next(i for i, t in enumerate(EINOPS.splitlines(), 1) if "self.to_patch(img)" in t)
    assert patch.input_rank_from == f"Rearrange at m.py:{line}"


UNPACK = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48, 10)

    def forward(self, img):
        b, c, h, w = img.shape
        x = img.reshape(b, c * h * w)
        return self.fc(img), self.fc(x.view(b, -1, 48))
"""


@pytest.mark.torch
def test_a_shape_unpack_fixes_the_entry_inputs_rank():
    """``b, c, h, w = img.shape``: img has four axes (torch agrees: the Linear gets rank 4 and rank 3)."""
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(UNPACK, ns)
    net = ns["Net"]()
    seen: list[int] = []
    net.fc.register_forward_pre_hook(lambda m, a: seen.append(a[0].dim()))
    net(torch.zeros(2, 1, 4, 48))
    res = api.analyze_source(UNPACK, "m.py", Settings())
    (layer,) = res.layers
    assert layer.ranks == sorted(set(seen)) == [3, 4]
    assert layer.input_rank_from == "the unpacking of img.shape"


@pytest.mark.torch
def test_input_rank_from_says_which_layer_fixed_the_rank():
    """The first convolution reads an entry input of unknown rank as NCHW; JSON and --format full say so."""
    pytest.importorskip("torch")
    src = (
        "import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.conv = nn.Conv2d(3, 8, 3)\n        self.fc = nn.Linear(8, 10)\n\n"
        "    def forward(self, img):\n        return self.fc(self.conv(img))\n"
    )
    res = api.analyze_source(src, "model.py", Settings())
    (layer,) = res.layers
    assert layer.to_json()["input_rank_from"] == "Conv2d at model.py:12"
    given = src + "\n\nNet()(torch.zeros(2, 3, 8, 8))\n"  # a caller declares the input: nothing to explain
    (called,) = api.analyze_source(given, "model.py", Settings()).layers
    assert called.to_json()["input_rank_from"] is None


IDIOMS = """\
from functools import partial

import torch
from torch import nn


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.fc1(x))


class Block(nn.Module):
    def __init__(self, dim, mlp_layer=Mlp, norm_layer=partial(nn.LayerNorm, eps=1e-6)):
        super().__init__()
        self.norm = norm_layer(dim)
        self.mlp = mlp_layer(dim, dim * 4)

    def forward(self, x):
        return x + self.mlp(self.norm(x))


class Encoder(nn.Module):
    def __init__(self, dim=32, depth=2, block_fn=Block):
        super().__init__()
        self.blocks = nn.Sequential(*[block_fn(dim) for _ in range(depth)])
        self.register_buffer("pos", torch.zeros(1, 16, dim))
        self.mix = nn.ModuleDict(dict(a=nn.Linear(dim, dim)))

    def forward(self, x):
        x = self.blocks(x + self.pos)
        return list(map(lambda t: self.mix["a"](t), [x, x]))[0]


class Wrapper(nn.Module):
    def __init__(self, model, dim=32):
        super().__init__()
        self.model = model
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        return self.head(self.model(x).mean(1))


model = Wrapper(Encoder())
model(torch.randn(2, 16, 32))
"""


@pytest.mark.torch
def test_pytorch_idioms_are_followed():
    """Blocks passed as class-valued defaults (``block_fn=Block``, ``mlp_layer=Mlp``, a ``partial`` norm), a
    registered buffer, ``nn.ModuleDict(dict(...))``, ``map(lambda ...)`` over tensors and a wrapper that holds
    and calls a passed-in model: every Linear gets the rank torch gives it."""
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(IDIOMS.replace("model(torch.randn(2, 16, 32))", ""), ns)
    truth = _ranks(ns["model"], torch.zeros(2, 16, 32))
    assert truth == {
        "model.blocks.0.mlp.fc1": 3,
        "model.blocks.0.mlp.fc2": 3,
        "model.blocks.1.mlp.fc1": 3,
        "model.blocks.1.mlp.fc2": 3,
        "model.mix.a": 3,
        "head": 2,
    }
    res = api.analyze_source(IDIOMS, "m.py", Settings())
    static = {x.name: x.input_rank for x in res.layers}
    assert static == {"self.fc1": 3, "self.fc2": 3, "self.head": 2, "self.mix": 3}


KERAS_STYLES = """\
import keras
from keras import layers, ops


class Block(layers.Layer):
    def __init__(self, units):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.proj = layers.Dense(self.units)
        self.proj.build(input_shape)

    def call(self, x):
        return self.proj(x)


class Net(keras.Model):
    def __init__(self):
        inp = keras.Input((32, 32, 3))
        x = layers.Conv2D(8, 3)(inp)
        x = Block(16)(x)
        super().__init__(inputs=inp, outputs=x)


def build():
    inp = keras.Input((10,))
    a = layers.Dense(8, name="a")(inp)
    b = layers.Dense(8, name="b")(inp)
    c = layers.add([a, b])
    d = layers.concatenate([a, c])
    e = layers.Lambda(lambda t: ops.expand_dims(t, 1), output_shape=(1, 16))(d)
    x1, x2 = ops.split(e, 2, axis=-1)
    f = layers.Dense(4, name="f")(x1)
    inner = keras.Model(inp, f)
    outer_in = keras.Input((10,))
    g = layers.Dense(3, name="g")(inner(outer_in))
    return keras.Model(outer_in, g)
"""


@pytest.mark.keras
def test_keras_subclassing_and_functional_helpers():
    """``build()`` creating a sublayer and ``sublayer.build(shape)``, a functional graph in a subclassed
    ``Model.__init__``, ``layers.add`` / ``layers.concatenate``, ``Lambda`` with ``output_shape``,
    ``ops.split``, a Model used as a layer: each Dense gets the shape Keras gives it."""
    pytest.importorskip("keras")
    ns: dict = {}
    exec(KERAS_STYLES, ns)
    model = ns["build"]()
    inner = model.layers[1]
    truth = {n: list(inner.get_layer(n).input.shape) for n in ("a", "b", "f")}
    truth["g"] = list(model.get_layer("g").input.shape)
    net = ns["Net"]()
    block = net.layers[-1]
    truth["proj"] = list(block.input.shape)  # Block.call gives its input to proj
    assert block.proj.kernel.shape[0] == truth["proj"][-1]
    res = api.analyze_source(KERAS_STYLES, "m.py", Settings())
    static = {
        (x.call.split('name="')[1].split('"')[0] if 'name="' in x.call else "proj"): x.input.json()
        for x in res.layers
        if x.input is not None
    }
    assert static == truth


FIRST = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = {first}
        self.fc = nn.Linear(3, 10)

    def forward(self, inp):
        y = self.first(inp)
        if isinstance(y, tuple):
            y = y[0]
        return self.fc(y)
"""


@pytest.mark.torch
@pytest.mark.parametrize(
    ("first", "example"),
    [
        ("nn.Conv2d(3, 3, 1)", (2, 3, 8, 3)),
        ("nn.Conv1d(3, 3, 1)", (2, 3, 3)),
        ("nn.BatchNorm2d(3)", (2, 3, 5, 3)),
        ("nn.MaxPool2d(2)", (2, 3, 6, 6)),
        ("nn.Embedding(100, 3)", (2, 7)),
        ("nn.LSTM(3, 3, batch_first=True)", (2, 7, 3)),
    ],
)
def test_the_first_consumer_tells_an_entry_inputs_rank(first, example):
    """An entry point's ``forward(inp)`` declares nothing; its first rank-fixing layer says what ``inp`` is,
    and the report names it. torch runs the same model on an input of that kind."""
    torch = pytest.importorskip("torch")
    src = FIRST.format(first=first)
    ns: dict = {}
    exec(src, ns)
    net = ns["Net"]()
    seen: list[int] = []
    net.fc.register_forward_pre_hook(lambda m, a: seen.append(a[0].dim()) and None)
    x = torch.zeros(*example, dtype=torch.long) if "Embedding" in first else torch.zeros(*example)
    net(x)
    (layer,) = api.analyze_source(src, "m.py", Settings()).layers
    assert layer.input_rank == seen[0]
    assert layer.input_rank_from == f"{first.split('(')[0].split('.')[1]} at m.py:12"


NAMED = """\
from collections import OrderedDict

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, dim=16, num_classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 3)
        self.head = nn.Sequential(
            OrderedDict(
                [("global_pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten(1)), ("fc", nn.Identity())]
            )
        )
        self.head.fc = nn.Linear(dim, num_classes)
        self.aux = nn.Sequential()
        self.aux.add_module("proj", nn.Linear(dim, 4))

    def forward(self, x):
        x = self.head.flatten(self.head.global_pool(self.stem(x)))
        return self.head.fc(x), self.aux.proj(x)
"""


@pytest.mark.torch
def test_named_children_of_a_sequential():
    """``nn.Sequential(OrderedDict([...]))`` children read by name (``self.head.fc(x)``), replaced by
    assignment, added with ``add_module``: torch runs them, and each Linear's rank is torch's."""
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(NAMED, ns)
    truth = _ranks(ns["Net"](), torch.zeros(2, 3, 8, 8))
    assert truth == {"head.fc": 2, "aux.proj": 2}
    res = api.analyze_source(NAMED, "m.py", Settings())
    assert {x.name: x.input_rank for x in res.layers} == {"self.head.fc": 2, "self.aux": 2}


@pytest.mark.keras
def test_a_model_whose_framework_base_is_in_another_project_file(tmp_path):
    """``class VGGImageClassifier(ImageClassifier)`` where ``ImageClassifier`` (another file of the project)
    derives from ``keras.Model``: it is a model, run as an entry point, and its head gets Keras's shape."""
    keras = pytest.importorskip("keras")
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    base = "import keras\n\n\nclass Task(keras.Model):\n    pass\n"
    clf = (
        "import keras\nfrom keras import layers\n\nfrom pkg.task import Task\n\n\n"
        "class Classifier(Task):\n    def __init__(self, num_classes=10):\n"
        "        inputs = keras.Input((8, 8, 3))\n        x = layers.GlobalAveragePooling2D()(inputs)\n"
        "        outputs = layers.Dense(num_classes)(x)\n"
        "        super().__init__(inputs=inputs, outputs=outputs)\n"
    )
    (pkg / "task.py").write_text(base)
    (pkg / "clf.py").write_text(clf)
    ns: dict = {}
    exec(base + "\n" + clf.replace("from pkg.task import Task\n", ""), ns)
    dense = ns["Classifier"]().layers[-1]
    assert isinstance(dense, keras.layers.Dense)
    res = api.analyze_file(str(pkg / "clf.py"), Settings())
    (layer,) = res.layers
    assert layer.input is not None and layer.input.json() == list(dense.input.shape)


PACKED = """\
import torch
from torch import nn
from einops import pack, unpack, repeat


class ViT(nn.Module):
    def __init__(self, dim=32, classes=10):
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.proj = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        cls = repeat(self.cls_token, "1 1 d -> b 1 d", b=x.shape[0])
        x, ps = pack([cls, x], "b * d")
        x = self.proj(x)
        cls, _ = unpack(x, ps, "b * d")
        return self.head(cls[:, 0])


ViT()(torch.randn(2, 16, 32))
"""


@pytest.mark.torch
def test_einops_pack_and_unpack():
    """``pack([cls, x], "b * d")`` joins the token axes (17 = 1 + 16, as einops computes); ``unpack`` gives
    the class token back."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("einops")
    ns: dict = {}
    exec(PACKED.replace("ViT()(torch.randn(2, 16, 32))", ""), ns)
    net = ns["ViT"]()
    seen: dict[str, tuple] = {}
    net.proj.register_forward_pre_hook(lambda m, a: seen.setdefault("proj", tuple(a[0].shape)) and None)
    net.head.register_forward_pre_hook(lambda m, a: seen.setdefault("head", tuple(a[0].shape)) and None)
    net(torch.zeros(2, 16, 32))
    res = api.analyze_source(PACKED, "m.py", Settings())
    static = {x.name: tuple(x.input.json()) for x in res.layers if x.input is not None}
    assert (
        static
        == {"self.proj": seen["proj"], "self.head": seen["head"]}
        == {
            "self.proj": (2, 17, 32),
            "self.head": (2, 32),
        }
    )


KERAS_LOOSE = """\
import keras
from keras import layers

model = keras.Sequential([layers.Conv2D(8, 3, activation="relu"), layers.MaxPooling2D(), layers.Dense(10)])


class Net(keras.Model):
    def build(self, input_shape):
        self.conv = layers.Conv2D(8, 3)
        self.fc = layers.Dense(10)

    def call(self, x):
        return self.fc(self.conv(x))
"""


@pytest.mark.keras
def test_the_canonical_keras_mistake_without_an_input_shape():
    """Conv2D -> Dense with no Flatten, in a Sequential given no input shape and in a subclass's ``build()``:
    Keras gives the Dense a rank-4 NHWC map (a 1x1 convolution), DC101 says so."""
    keras = pytest.importorskip("keras")
    import numpy as np

    ns: dict = {}
    exec(KERAS_LOOSE, ns)
    x = np.zeros((2, 12, 12, 1), "float32")
    assert len(ns["model"](x).shape) == 4 and len(ns["Net"]()(x).shape) == 4
    res = api.analyze_source(KERAS_LOOSE, "m.py", Settings())
    assert [x.input_rank for x in res.layers] == [4, 4]
    assert [d.code for d in res.diagnostics] == ["DC101", "DC101"]
    assert isinstance(ns["model"].layers[-1], keras.layers.Dense)


RANK_TESTS = """\
import math
import torch
from torch import nn


def timestep_embedding(timesteps, dim):
    assert len(timesteps.shape) == 1, "timesteps should be 1-d"
    freqs = torch.exp(-math.log(10000) * torch.arange(dim // 2) / (dim // 2))
    emb = timesteps[:, None].float() * freqs[None, :]
    return torch.cat([emb.sin(), emb.cos()], dim=-1)


class Denoiser(nn.Module):
    def __init__(self, dim=32):
        super().__init__()
        self.time_mlp = nn.Linear(16, dim)
        self.to_q = nn.Linear(dim, dim)

    def forward(self, hidden_states, timestep):
        temb = self.time_mlp(timestep_embedding(timestep, 16))
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channel, height * width).transpose(1, 2)
            return self.to_q(hidden_states) + temb[:, None]
        return temb
"""


@pytest.mark.torch
def test_a_test_of_a_tensors_rank_tells_it():
    """``assert len(t.shape) == 1`` and ``if x.ndim == 4`` (directly or through ``nd = x.ndim``) on an input
    of unknown rank: where Python goes on, the tensor has that rank (the ranks torch gives the Linears)."""
    import torch

    ns: dict = {}
    exec(RANK_TESTS, ns)
    expected = _ranks(ns["Denoiser"](), torch.randn(2, 32, 4, 4), torch.rand(2))
    timestep_only = _ranks(ns["Denoiser"](), torch.randn(2, 5, 32), torch.rand(2))
    res = api.analyze_source(RANK_TESTS, "m.py", Settings(disable_heuristics=["docstring-shapes"]))
    by_line = {lay.line: lay.input_rank for lay in res.layers}
    assert by_line == {16: expected["time_mlp"], 17: expected["to_q"]}
    assert timestep_only == {"time_mlp": 2}


def test_docstring_shapes_are_read_only_where_they_are_plain():
    """Google and NumPy styles; an entry giving shapes of two ranks, an ellipsis, or an image shape (which
    docstrings keep after code moved to packed tokens, and a convolution tells anyway) gives no shape."""
    from densecheck.engine.heuristics import docstring_shapes

    doc = """Run the block.

    Args:
        hidden_states (`torch.Tensor` of shape `(batch_size, seq_len, dim)`):
            The tokens.
        pooled (`torch.Tensor`): Embeddings of shape `(batch_size, dim)`.
        either (`torch.Tensor`): of shape `(batch, seq)` or of shape `(batch, seq, dim)`.
        sample (`torch.Tensor` of shape `(batch, channel, height, width)`): an image.
        rest (`torch.Tensor` of shape `(..., dim)`): anything.

    Parameters
    ----------
    ids : torch.Tensor
        shape [B, T]
    """
    got = {k: v.rank for k, v in docstring_shapes(doc).items()}
    assert got == {"hidden_states": 3, "pooled": 2, "ids": 2}


MIXIN = """\
import torch


class AttentionMixin:
    def set_processor(self, processor):
        self.processor = processor
"""
ATTENTION = """\
import torch
from torch import nn

from pkg.mixin import AttentionMixin


class AttnProcessor:
    def __call__(self, attn, hidden_states):
        return attn.to_out(attn.to_q(hidden_states))


class Attention(nn.Module, AttentionMixin):
    def __init__(self, dim=32):
        super().__init__()
        self.to_q = nn.Linear(dim, dim)
        self.to_out = nn.Linear(dim, dim)
        self.set_processor(AttnProcessor())

    def forward(self, hidden_states):
        return self.processor(self, hidden_states)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 32, 3)
        self.attn = Attention()

    def forward(self, x):
        return self.attn(self.conv(x).flatten(2).transpose(1, 2))
"""


@pytest.mark.torch
def test_a_method_of_a_base_class_in_another_project_file(tmp_path):
    """``self.set_processor(...)`` defined by a mixin in another file of the project is run, so the
    processor it stores is what ``self.processor(self, x)`` calls (the attention-processor style of
    diffusers-like code): the Linears get the ranks torch gives them."""
    import torch

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mixin.py").write_text(MIXIN)
    (pkg / "attention.py").write_text(ATTENTION)
    ns: dict = {}
    exec(MIXIN + "\n" + ATTENTION.replace("from pkg.mixin import AttentionMixin\n", ""), ns)
    expected = _ranks(ns["Net"](), torch.randn(2, 3, 8, 8))
    res = api.analyze_file(str(pkg / "attention.py"), Settings())
    by_line = {lay.line: lay.input_rank for lay in res.layers}
    assert by_line == {15: expected["attn.to_q"], 16: expected["attn.to_out"]}


POOL1D_ON_FEATURES = """\
import torch
import torch.nn.functional as F
from torch import nn


class Narrow(nn.Module):
    def __init__(self, dim=32, out_dim=16):
        super().__init__()
        self.out_dim = out_dim
        self.qkv = nn.Linear(dim, dim)
        self.proj = nn.Linear(out_dim, out_dim)

    def forward(self, x):
        h = self.qkv(x)
        h = F.adaptive_avg_pool1d(h, self.out_dim)
        return self.proj(h)


class ConvHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3)
        self.pool = nn.AdaptiveAvgPool1d(5)
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        return self.fc(self.pool(self.conv(x)))
"""


@pytest.mark.torch
def test_a_1d_pool_on_features_is_not_a_feature_map():
    """``F.adaptive_avg_pool1d`` shrinking the features of (batch, tokens, features) that no convolution made
    says nothing of a layout (no DC102 on the Linear after it); after a Conv1d the pooled length is a spatial
    axis and the Linear over it is DC102. Ranks as torch gives them."""
    import torch

    ns: dict = {}
    exec(POOL1D_ON_FEATURES, ns)
    narrow = _ranks(ns["Narrow"](), torch.randn(2, 7, 32))
    conv = _ranks(ns["ConvHead"](), torch.randn(2, 4, 12))
    res = api.analyze_source(
        POOL1D_ON_FEATURES + "\nNarrow()(torch.randn(2, 7, 32))\nConvHead()(torch.randn(2, 4, 12))\n",
        "m.py",
        Settings(),
    )
    by_line = {lay.line: lay.input_rank for lay in res.layers}
    assert by_line == {10: 3, 11: narrow["proj"], 24: conv["fc"]}
    assert [(d.code, d.line) for d in res.diagnostics if d.severity != "info"] == [("DC102", 24)]


RESIDUAL_ENDPOINT = """\
import keras
from keras import layers


class Block(layers.Layer):
    def __init__(self, dim):
        super().__init__()
        self.dw = layers.DepthwiseConv2D(7, padding="same")
        self.pw1 = layers.Dense(4 * dim, activation="gelu")
        self.pw2 = layers.Dense(dim)

    def call(self, x):
        return x + self.pw2(self.pw1(self.dw(x)))


inp = keras.Input((16, 16, 8))
x = layers.Conv2D(8, 3, padding="same")(inp)
out = Block(8)(x)
model = keras.Model(inp, [out])
"""


@pytest.mark.keras
def test_a_residual_blocks_branch_given_back_as_an_endpoint_is_info():
    """A ConvNeXt-style block (depthwise conv, Dense -> Dense, added to its input) whose sum a backbone gives
    back as a feature endpoint: the Denses are per-position layers inside the network (DC101 at info), with
    the rank-4 input Keras gives them."""
    pytest.importorskip("keras")
    ns: dict = {}
    exec(RESIDUAL_ENDPOINT, ns)
    import numpy as np

    block = ns["model"].layers[-1]
    h = block.dw(ns["model"].layers[1](np.zeros((1, 16, 16, 8), "float32")))  # what the block's Denses get
    expected = [list(h.shape), [*h.shape[:-1], 32]]
    assert list(block.pw2(block.pw1(h)).shape) == [1, 16, 16, 8]
    res = api.analyze_source(RESIDUAL_ENDPOINT, "m.py", Settings())
    got = [lay.input.json() for lay in res.layers if lay.input is not None]
    assert [g[1:] for g in got] == [e[1:] for e in expected] and all(len(g) == 4 for g in got)
    assert {(d.code, d.severity) for d in res.diagnostics} == {("DC101", "info")}


TORCH_OPS = """\
import torch
from torch import nn


class Ops(nn.Module):
    def __init__(self, head_dim=8):
        super().__init__()
        self.head_dim = head_dim
        self.q = nn.Linear(32, 32)
        self.o = nn.Linear(32, 32)
        self.enc = nn.Linear(32, 4)
        self.rope = nn.Linear(4, 2)

    def forward(self, x, y):
        q = self.q(x).unflatten(-1, (-1, self.head_dim))
        q = torch.view_as_real(torch.view_as_complex(q.reshape(*q.shape[:-1], -1, 2))).flatten(3)
        h = torch.cat([y, self.o(q.flatten(2, 3))], dim=1)
        e, h = h.split_with_sizes([y.shape[1], h.shape[1] - y.shape[1]], dim=1)
        a, b = torch.split(h, [2, 3], dim=1)
        freqs = torch.outer(torch.arange(5).float(), torch.ones(4))
        return self.enc(e), self.rope(freqs)
"""


@pytest.mark.torch
def test_torch_ops_of_attention_code():
    """unflatten, view_as_complex / view_as_real, split_with_sizes, split by a list of sizes and outer:
    each Linear gets the rank torch gives it."""
    import torch

    ns: dict = {}
    exec(TORCH_OPS, ns)
    expected = _ranks(ns["Ops"](), torch.randn(2, 5, 32), torch.randn(2, 3, 32))
    res = api.analyze_source(
        TORCH_OPS + "\n\nOps()(torch.randn(2, 5, 32), torch.randn(2, 3, 32))\n", "m.py", Settings()
    )
    by_line = {lay.line: lay.input_rank for lay in res.layers}
    assert by_line == {9: expected["q"], 10: expected["o"], 11: expected["enc"], 12: expected["rope"]}


TOKEN_POOLER = """\
import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self, dim=32, classes=10, flatten=True):
        super().__init__()
        self.flatten = flatten
        self.proj = nn.Linear(dim, dim)
        self.pooler = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens):
        x = self.proj(tokens)
        pooled = self.pooler(x.transpose(1, 2))
        if self.flatten:
            pooled = torch.flatten(pooled, 1)
        return self.head(pooled)
"""


@pytest.mark.torch
@pytest.mark.parametrize("flatten", [True, False])
def test_a_1d_pool_over_tokens_is_channels_first(flatten):
    """``pooler(x.transpose(1, 2))`` (Swin's head): the pool runs over the tokens, so its output is
    (batch, channels, 1); a Linear on it without the flatten acts on that length-1 axis (DC102). Ranks as
    torch gives them."""
    import torch

    ns: dict = {}
    exec(TOKEN_POOLER, ns)
    model, seen = ns["Classifier"](flatten=flatten), []
    model.head.register_forward_pre_hook(lambda m, a: seen.append(a[0].dim()))
    try:
        model(torch.randn(2, 7, 32))
    except RuntimeError:  # (2, 32, 1) into Linear(32, 10): the mistake
        assert not flatten
    src = TOKEN_POOLER + f"\n\nClassifier(flatten={flatten})(torch.randn(2, 7, 32))\n"
    res = api.analyze_source(src, "m.py", Settings())
    head = next(lay for lay in res.layers if lay.line == 11)
    assert head.input_rank == seen[0] == (2 if flatten else 3)
    warnings = [d.code for d in res.diagnostics if d.severity != "info"]
    assert warnings == [] if flatten else "DC102" in warnings  # (and DC103: in_features 32, last axis 1)


UNKNOWN_LIST_PICK = """\
import torch
from torch import nn


class Pooler(nn.Module):
    def __init__(self, dim=16):
        super().__init__()
        self.dense = nn.Linear(dim, dim)

    def forward(self, encoder_outputs):
        outs = torch.jit.annotate(list, encoder_outputs)  # a call densecheck does not know: unknown
        return self.dense(outs[-1][:, 0, :])
"""


@pytest.mark.torch
def test_a_tuple_of_slices_indexes_an_array():
    """``outs[-1][:, 0, :]`` where ``outs[-1]`` is unknown: only an array takes a tuple of slices, so it is
    one (and the closing ``:`` names its axes): the pooler's rank is the one torch gives it."""
    import torch

    ns: dict = {}
    exec(UNKNOWN_LIST_PICK, ns)
    model, seen = ns["Pooler"](), []
    model.dense.register_forward_pre_hook(lambda m, a: seen.append(a[0].dim()))
    model([torch.randn(2, 5, 16)] * 3)
    (layer,) = api.analyze_source(UNKNOWN_LIST_PICK, "m.py", Settings()).layers
    assert layer.input_rank == seen[0] == 2
