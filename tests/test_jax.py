"""The JAX plugins (issue 19): Flax linen and nnx, Haiku, Equinox and jax.numpy. Each pattern is a small
model;
densecheck's static report on its source is checked against JAX running the same model abstractly
(``jax.eval_shape``; :mod:`densecheck.trace.jax_record` notes each Dense/Linear's input shape, with the axes
``jax.vmap`` mapped put back, and counts its parameters with ``jax.tree_util`` over the real parameters).
Nothing here types an expected shape or count."""

from __future__ import annotations

import importlib.util
import sys
import textwrap

import pytest

from densecheck import api
from densecheck.config import Settings

pytestmark = pytest.mark.jax

for _lib in ("jax", "flax", "haiku", "equinox"):
    pytest.importorskip(_lib)

from densecheck.trace.jax_record import jax_sites, run_jax  # noqa: E402


def truth(tmp_path, source: str, target: str | None = None, shape: tuple[int, ...] | None = None):
    """Import ``source`` (as a file, so its frames have its lines) with the recorder on; then, if asked, run
    ``target`` (an expression over the module) abstractly on an input of ``shape``. Records by (line, col)."""
    path = tmp_path / f"jaxmodel_{abs(hash(source))}.py"
    path.write_text(source)
    name = path.stem
    with jax_sites() as rec:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        try:
            spec.loader.exec_module(mod)
            if target is not None:
                assert shape is not None
                run_jax(eval(target, vars(mod)), [(shape, "float32")], rec)
        finally:
            sys.modules.pop(name, None)
    return {(r.line, r.column): r for r in rec.results()}


def static(source: str):
    res = api.analyze_source(source, "m.py", Settings())
    return {(x.line, x.column): x for x in res.layers}, res.diagnostics


def agree(layer, record) -> None:
    """The static report says what JAX did: rank, every dim it claims, input features, parameters."""
    (traced,) = record.input_shapes
    s = layer.input
    assert s is not None, layer.explanation()
    got = s.json()
    assert len(got) == len(traced), (got, traced)
    for mine, real in zip(got[1:], traced[1:]):  # the batch axis may stay unknown
        assert mine is None or mine == real, (got, traced)
    assert layer.effective_in_features == record.in_features
    assert layer.out_features == record.out_features
    assert layer.params == record.params


def check(tmp_path, source: str, target: str | None = None, shape: tuple[int, ...] | None = None):
    source = textwrap.dedent(source)
    real = truth(tmp_path, source, target, shape)
    layers, diags = static(source)
    assert real, "jax recorded no Dense/Linear"
    assert set(real) <= set(layers), (sorted(real), sorted(layers))
    for key, rec in real.items():
        agree(layers[key], rec)
    return layers, diags, real


def _dc101_lines(diags) -> set[int]:
    return {d.line for d in diags if d.code == "DC101"}


LINEN_COMPACT = """\
import jax
import jax.numpy as jnp
import flax.linen as nn


class CNN(nn.Module):
    num_classes: int = 10

    @nn.compact
    def __call__(self, x):
        x = nn.Conv(features=32, kernel_size=(3, 3))(x)
        x = nn.relu(x)
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = nn.Conv(features=64, kernel_size=(3, 3), strides=2, padding="VALID")(x)
        x = nn.max_pool(x, window_shape=(2, 2))
        head = nn.Dense(features=self.num_classes)(x)
        x = x.reshape((x.shape[0], -1))
        x = nn.Dense(features=256)(x)
        x = nn.relu(x)
        x = nn.Dense(features=self.num_classes)(x)
        return x, head


variables = CNN(num_classes=7).init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1)))
"""


def test_linen_compact_cnn_from_model_init(tmp_path):
    """``@nn.compact`` with inline ``nn.Dense(features)(x)``, a dataclass field given at construction,
    the entry
    shape from ``model.init(key, jnp.zeros(...))``: a Dense on the NHWC map is DC101 (its input features
    come from
    the map, as Flax makes the kernel), the flattened head is fully connected."""
    layers, diags, real = check(tmp_path, LINEN_COMPACT)
    assert len(real) == 3
    by_line = {k[0]: v for k, v in layers.items()}
    on_map = by_line[16]
    assert on_map.behaves_as == "pointwise" and on_map.input_rank == 4
    assert on_map.params_if_flattened is not None and on_map.params_if_flattened > on_map.params
    assert [by_line[n].behaves_as for n in (18, 20)] == ["fully_connected", "fully_connected"]
    assert _dc101_lines(diags) == {16}
    assert all(x.framework == "flax" and x.layer == "flax.linen.Dense" for x in layers.values())


LINEN_SETUP = """\
import jax
import jax.numpy as jnp
from flax import linen as nn


class Encoder(nn.Module):
    hidden: int
    classes: int = 10

    def setup(self):
        self.proj = nn.Dense(self.hidden)
        self.mix = nn.DenseGeneral(self.classes, axis=(-2, -1))
        self.heads = nn.DenseGeneral((4, 8), axis=-1)

    def __call__(self, tokens):
        h = nn.gelu(self.proj(tokens))
        q = self.heads(h)
        return self.mix(h), q


params = Encoder(64).init(jax.random.PRNGKey(0), jnp.ones((2, 12, 32)))
"""


def test_linen_setup_style_and_dense_general(tmp_path):
    """``setup()`` submodules (run on first use, as Flax does), a positional dataclass field, a per-token
    Dense on
    (B, T, D) (pointwise and quiet) and ``DenseGeneral`` contracting two axes: a fully-connected layer
    over the
    flattened (T, D), with Flax's parameter count."""
    layers, diags, real = check(tmp_path, LINEN_SETUP)
    by_line = {k[0]: v for k, v in layers.items()}
    assert by_line[11].behaves_as == "pointwise" and by_line[11].positions == 12
    assert by_line[12].behaves_as == "fully_connected"
    assert by_line[12].layer == "flax.linen.DenseGeneral"
    assert _dc101_lines(diags) == set()


LINEN_ENTRY = """\
import jax.numpy as jnp
import flax.linen as nn


class Net(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.Conv(16, (3, 3))(x)
        x = nn.Dense(10)(x)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(3)(x)
"""


def test_linen_entry_rank_from_the_first_convolution(tmp_path):
    """Nothing calls the model: the first convolution says its input is NHWC (rank 4), as torch's entry points
    are read; the Dense after it is pointwise, the one after the spatial mean fully connected."""
    layers, diags, real = check(tmp_path, LINEN_ENTRY, "Net()", (1, 28, 28, 1))
    by_line = {k[0]: v for k, v in layers.items()}
    assert by_line[9].input_rank == 4 and by_line[9].input_rank_from.startswith("Conv at m.py:8")
    assert by_line[11].behaves_as == "fully_connected"
    assert _dc101_lines(diags) == {9}


LINEN_SEQ = """\
import jax
import jax.numpy as jnp
import flax.linen as nn

mlp = nn.Sequential([nn.Dense(64), nn.relu, nn.Dense(10)])
out = mlp.init(jax.random.PRNGKey(0), jnp.zeros((8, 20, 16)))
"""


def test_linen_sequential(tmp_path):
    layers, diags, _ = check(tmp_path, LINEN_SEQ)
    assert {x.behaves_as for x in layers.values()} == {"pointwise"}
    assert _dc101_lines(diags) == set()


JNP_OPS = """\
import jax
import jax.numpy as jnp
import flax.linen as nn


class Ops(nn.Module):
    @nn.compact
    def __call__(self, x):
        y = nn.Conv(8, (3, 3))(x)
        t = jnp.transpose(y, (0, 3, 1, 2))
        t = t.reshape(t.shape[0], t.shape[1], -1)
        a = nn.Dense(5)(jnp.einsum("bct->btc", t))
        m = y.mean(axis=(1, 2))
        c = jnp.concatenate([m, m], axis=-1)
        return a, nn.Dense(4)(c)


v = Ops().init(jax.random.PRNGKey(0), jnp.zeros((2, 10, 10, 3)))
"""


def test_jax_numpy_ops_through_the_numpy_family(tmp_path):
    """``jnp.transpose``, ``.reshape``, ``jnp.einsum``, ``x.mean(axis=...)`` (numpy's argument names on a
    tensor
    method) and ``jnp.concatenate``: the shapes JAX computes."""
    layers, _, _ = check(tmp_path, JNP_OPS)
    ranks = sorted(x.input_rank for x in layers.values())
    assert ranks == [2, 3]


NNX = """\
from functools import partial

import jax.numpy as jnp
from flax import nnx


class CNN(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(1, 32, kernel_size=(3, 3), rngs=rngs)
        self.conv2 = nnx.Conv(32, 64, kernel_size=(3, 3), rngs=rngs)
        self.avg_pool = partial(nnx.avg_pool, window_shape=(2, 2), strides=(2, 2))
        self.pixel = nnx.Linear(64, 16, rngs=rngs)
        self.linear1 = nnx.Linear(3136, 256, rngs=rngs)
        self.linear2 = nnx.Linear(256, 10, rngs=rngs)

    def __call__(self, x):
        x = self.avg_pool(nnx.relu(self.conv1(x)))
        x = self.avg_pool(nnx.relu(self.conv2(x)))
        p = self.pixel(x)
        x = x.reshape(x.shape[0], -1)
        x = nnx.relu(self.linear1(x))
        return self.linear2(x), p


model = CNN(rngs=nnx.Rngs(0))
y = model(jnp.ones((1, 28, 28, 1)))
seq = nnx.Sequential(nnx.Linear(20, 30, rngs=nnx.Rngs(0)), nnx.relu, nnx.Linear(30, 5, rngs=nnx.Rngs(1)))
z = seq(jnp.ones((4, 7, 20)))
"""


def test_nnx_modules_and_sequential(tmp_path):
    """nnx: ``nnx.Rngs`` construction followed by a call gives the entry shape; ``nnx.Linear(in, out,
    rngs=...)``
    on the pooled NHWC map is DC101; ``nnx.Sequential`` per token is quiet."""
    layers, diags, real = check(tmp_path, NNX)
    assert len(real) == 5
    by_line = {k[0]: v for k, v in layers.items()}
    assert by_line[12].behaves_as == "pointwise" and by_line[12].positions == 49
    assert _dc101_lines(diags) == {12}
    assert {x.layer for x in layers.values()} == {"flax.nnx.Linear"}


HAIKU = """\
import haiku as hk
import jax
import jax.numpy as jnp


def forward(x):
    x = hk.Conv2D(32, kernel_shape=3)(x)
    x = jax.nn.relu(x)
    x = hk.max_pool(x, window_shape=2, strides=2, padding="VALID")
    pixel = hk.Linear(8)(x)
    x = hk.Flatten()(pixel)
    return hk.Linear(10)(x)


class Head(hk.Module):
    def __init__(self, n, name=None):
        super().__init__(name=name)
        self.n = n

    def __call__(self, x):
        return hk.Linear(self.n)(x)


def tokens(x):
    x = hk.Sequential([hk.nets.MLP([64, 32]), jax.nn.gelu])(x)
    return Head(5)(x)


model = hk.transform(forward)
t = hk.without_apply_rng(hk.transform(tokens))
"""


@pytest.mark.parametrize(
    ("entry", "target", "shape"),
    [
        ("model.init(jax.random.PRNGKey(0), jnp.zeros((2, 28, 28, 1)))", "model", (2, 28, 28, 1)),
        ("t.init(jax.random.PRNGKey(0), jnp.zeros((2, 16, 48)))", "t", (2, 16, 48)),
    ],
    ids=["cnn", "tokens"],
)
def test_haiku_transform_init(tmp_path, entry, target, shape):
    """``hk.transform(f).init(rng, x)`` runs ``f`` on ``x``: a ``hk.Linear(output_size)`` on the pooled
    NHWC map
    is DC101 (its input size from the map), after ``hk.Flatten`` fully connected; ``hk.nets.MLP`` and a
    ``hk.Module`` head per token are quiet."""
    source = HAIKU + f"params = {entry}\n"
    real = truth(tmp_path, source, target, shape)
    layers, diags = static(source)
    assert real
    for key, rec in real.items():
        agree(layers[key], rec)
    # ``forward``, nobody's entry in the tokens case, is run anyway: its Conv2D reads its input as NHWC
    assert _dc101_lines(diags) == {10}
    kinds = {layers[k].behaves_as for k in real}
    assert kinds == ({"pointwise", "fully_connected"} if target == "model" else {"pointwise"})


EQX = """\
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


class CNN(eqx.Module):
    layers: list

    def __init__(self, key):
        key1, key2, key3, key4 = jax.random.split(key, 4)
        self.layers = [
            eqx.nn.Conv2d(1, 3, kernel_size=4, key=key1),
            eqx.nn.MaxPool2d(kernel_size=2),
            jax.nn.relu,
            jnp.ravel,
            eqx.nn.Linear(1728, 512, key=key2),
            jax.nn.sigmoid,
            eqx.nn.Linear(512, 64, key=key3),
            jax.nn.relu,
            eqx.nn.Linear(64, 10, key=key4),
            jax.nn.log_softmax,
        ]

    def __call__(self, x: Float[Array, "1 28 28"]) -> Float[Array, "10"]:
        for layer in self.layers:
            x = layer(x)
        return x


class Tokens(eqx.Module):
    proj: eqx.nn.Linear
    mlp: eqx.nn.MLP

    def __init__(self, key):
        self.proj = eqx.nn.Linear(48, 32, key=key)
        self.mlp = eqx.nn.MLP(32, 10, 64, 2, key=key)

    def __call__(self, x):
        return jax.vmap(self.mlp)(jax.vmap(self.proj)(x))
"""


@pytest.mark.parametrize(
    ("target", "shape"),
    [("CNN(jax.random.PRNGKey(0))", (8, 1, 28, 28)), ("Tokens(jax.random.PRNGKey(0))", (8, 16, 48))],
    ids=["cnn", "tokens"],
)
def test_equinox_unbatched_layers(tmp_path, target, shape):
    """Equinox acts on one example: the CNN's input from its jaxtyping annotation ``Float[Array, "1 28 28"]``,
    ``jnp.ravel`` then ``eqx.nn.Linear`` is fully connected; ``jax.vmap(self.proj)`` over tokens makes a
    per-token Linear (pointwise over the tokens the vmap took away). JAX runs them under ``jax.vmap`` over a
    batch (``eqx.filter_eval_shape``)."""
    real = truth(tmp_path, EQX, target, shape)
    layers, diags = static(EQX)
    for key, rec in real.items():
        agree(layers[key], rec)
    kinds = {layers[k].behaves_as for k in real}
    assert kinds == ({"fully_connected"} if target.startswith("CNN") else {"pointwise"})
    assert _dc101_lines(diags) == set()
    assert {layers[k].framework for k in real} == {"equinox"}


def test_framework_names_in_json(tmp_path):
    """``framework`` in the JSON says which library the layer is from."""
    out = {}
    for src in (LINEN_COMPACT, NNX, HAIKU, EQX):
        for x in api.analyze_source(src, "m.py", Settings()).layers:
            out[x.layer] = x.to_json()["framework"]
    assert out == {
        "flax.linen.Dense": "flax",
        "flax.nnx.Linear": "flax",
        "haiku.Linear": "haiku",
        "equinox.nn.Linear": "equinox",
    }


TRACED = {
    "linen": (
        """\
import flax.linen as nn


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.Conv(features=32, kernel_size=(3, 3))(x)
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        h = nn.Dense(16)(x)
        x = h.reshape((h.shape[0], -1))
        return nn.Dense(10)(x)
""",
        "CNN",
        "1,28,28,1",
    ),
    "equinox": (EQX + "\n\ndef make():\n    return CNN(jax.random.PRNGKey(0))\n", "make", "4,1,28,28"),
    "haiku": (HAIKU, "model", "2,28,28,1"),
}


@pytest.mark.parametrize("kind", sorted(TRACED))
def test_trace_mode_runs_jax_under_eval_shape(tmp_path, kind):
    """``--trace FILE:TARGET --trace-input SHAPE`` on a linen module (``module.init``), an Equinox factory
    (vmapped over the batch under ``eqx.filter_eval_shape``) and a Haiku transform (``init``), in the isolated
    child: every Dense/Linear the run reached is confirmed with JAX's shape and parameter count, and agrees
    with static."""
    from densecheck.trace import parse_trace_cli, run_trace

    source, target, shape = TRACED[kind]
    path = tmp_path / f"traced_{kind}.py"
    path.write_text(source)
    files = [api.analyze_file(str(path))]
    out: list = []
    diags = run_trace(
        parse_trace_cli([f"{path.name}:{target}"], [shape]),
        files,
        Settings(),
        timeout=240,
        root=str(tmp_path),
        results_out=out,
    )
    assert out[0].error is None, out[0].error
    assert [d.code for d in diags if d.code in ("DC105", "DC106")] == []
    traced = [x for x in files[0].layers if x.source == "trace"]
    assert traced and all(x.trace["agrees"] for x in traced)
    assert all(x.params == x.trace["params"] for x in traced)
    assert out[0].framework == kind.replace("linen", "flax")


RECURRENT = """\
import equinox as eqx
import flax.linen as nn
import jax
import jax.numpy as jnp


class Tagger(nn.Module):
    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(50, 16)(tokens.astype("int32"))
        x = nn.RNN(nn.LSTMCell(24))(x)
        return nn.Dense(5)(x)


class RNN(eqx.Module):
    cell: eqx.nn.GRUCell
    norm: eqx.nn.BatchNorm
    head: eqx.nn.SpectralNorm

    def __init__(self, key):
        self.cell = eqx.nn.GRUCell(3, 16, key=key)
        self.norm = eqx.nn.BatchNorm(16, axis_name="batch")
        self.head = eqx.nn.SpectralNorm(eqx.nn.Linear(16, 4, key=key), "weight", key=key)

    def __call__(self, xs, state):
        def f(carry, x):
            return self.cell(x, carry), None

        h, _ = jax.lax.scan(f, jnp.zeros((16,)), xs)
        h, state = self.norm(h, state)
        return self.head(h, state)
"""


@pytest.mark.parametrize(
    ("target", "shape", "kind"),
    [("Tagger()", (2, 9), "pointwise"), ("RNN", (4, 7, 3), "fully_connected")],
    ids=["linen-rnn", "equinox-scan"],
)
def test_recurrent_cells_scan_and_stateful_layers(tmp_path, target, shape, kind):
    """Nothing calls either model: ids of unknown rank read by ``nn.Embed`` are (batch, tokens), ``nn.RNN``
    runs its ``LSTMCell`` over the time axis, ``x.astype`` keeps the shape; Equinox's ``jax.lax.scan`` steps a
    ``GRUCell`` over the sequence, ``BatchNorm`` and ``SpectralNorm`` give ``(x, state)``. JAX runs them."""
    if target == "RNN":
        source = (
            RECURRENT + "\n\ndef make():\n    return eqx.nn.make_with_state(RNN)(jax.random.PRNGKey(0))\n"
        )
        import equinox as eqx
        import jax

        with jax_sites() as rec:
            path = tmp_path / "rec_eqx.py"
            path.write_text(source)
            spec = importlib.util.spec_from_file_location("rec_eqx", path)
            assert spec is not None and spec.loader is not None
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            model, state = mod.make()
            eqx.filter_eval_shape(
                lambda x: jax.vmap(model, axis_name="batch", in_axes=(0, None), out_axes=(0, None))(x, state),
                jax.ShapeDtypeStruct(shape, "float32"),
            )
        real = {(r.line, r.column): r for r in rec.results()}
    else:
        source = RECURRENT
        real = truth(tmp_path, source, target, shape)
    layers, _ = static(source)
    assert real
    for key, rec in real.items():
        agree(layers[key], rec)
        assert layers[key].behaves_as == kind


ANNOTATED = """\
import flax.linen as nn
from jaxtyping import Array, Float


class Head(nn.Module):
    @nn.compact
    def __call__(self, x: Float[Array, "b h w 3"]):
        return nn.Dense(10)(x)


class Tokens(nn.Module):
    @nn.compact
    def __call__(self, x: Float[Array, "b t 16"]):
        return nn.Dense(10)(x)
"""


@pytest.mark.parametrize(("target", "shape"), [("Head()", (1, 8, 8, 3)), ("Tokens()", (2, 5, 16))])
def test_jaxtyping_annotations_give_the_entry_shape(tmp_path, target, shape):
    """``Float[Array, "b h w 3"]``: a feature map (named height and width axes), so the Dense on it is DC101;
    ``Float[Array, "b t 16"]``: a sequence, per token and quiet."""
    real = truth(tmp_path, ANNOTATED, target, shape)
    layers, diags = static(ANNOTATED)
    ((key, rec),) = real.items()
    agree(layers[key], rec)
    assert (key[0] in _dc101_lines(diags)) == (target == "Head()")


PARAM = """\
import jax
import jax.numpy as jnp
import flax.linen as nn


class Proj(nn.Module):
    @nn.compact
    def __call__(self, x):
        w = self.param("w", nn.initializers.lecun_normal(), (16, 12))
        return nn.Dense(3)(jnp.matmul(x, w))


v = Proj().init(jax.random.PRNGKey(0), jnp.zeros((2, 5, 16)))
"""


def test_linen_self_param_has_its_shape(tmp_path):
    """``self.param(name, init, shape)`` is an array of that shape: ``x @ w`` gives the Dense its input."""
    layers, diags, real = check(tmp_path, PARAM)
    assert {x.behaves_as for x in layers.values()} == {"pointwise"}
