"""Fuzzing the analyser (issue 7): whatever Python it is given, it never fails with an internal error (DC002).

Three generators, each bounded and deterministic so that CI is fast and stable (``derandomize=True``: the same
examples on every run; run with ``DENSECHECK_FUZZ_EXAMPLES=2000`` locally to search harder):

* hypothesmith: arbitrary programs from Python's grammar (``from_grammar``) and from libcst's node types
  (``from_node``) -- the odd corners of the language;
* mutations of the fixtures/ models: lines deleted, duplicated, swapped, numbers changed (0, negative, huge,
  floats, None, strings), text truncated or spliced -- realistic model code, slightly broken;
* generated models: random but well-formed PyTorch and Keras models (convolutions, pooling, Linear/Dense,
  Flatten, permute, view, reshape, ... with random arguments) -- and every Linear/Dense call site in them is
  reported.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from densecheck import api

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted((ROOT / "fixtures").glob("*/*.py"))
EXAMPLES = int(os.environ.get("DENSECHECK_FUZZ_EXAMPLES", "0")) or None

FUZZ = settings(
    max_examples=EXAMPLES or 60,
    deadline=None,
    derandomize=EXAMPLES is None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def check(source: str | bytes, path: str = "fuzz.py") -> api.FileResult:
    res = api.analyze_source(source, path)
    internal = [d for d in res.diagnostics if d.code == "DC002"]
    assert not res.internal_error and not internal, (
        f"internal error on this "
        f"source:\n{source if isinstance(source, str) else source.decode('utf-8', 'replace')}"
        f"\n-> {internal}"
    )
    return res


# -- hypothesmith --------------------------------------------------------------------------------------------
hypothesmith = pytest.importorskip("hypothesmith")


@FUZZ
@given(hypothesmith.from_grammar())
def test_programs_from_the_grammar(source):
    check(source)


@settings(FUZZ, max_examples=EXAMPLES or 20)  # the slowest generator
@given(hypothesmith.from_node())
def test_programs_from_libcst_nodes(source):
    check(source)


ML_PRELUDES = [
    "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n",
    "import keras\nfrom keras import layers\nimport tensorflow as tf\n",
]


@settings(FUZZ, max_examples=EXAMPLES or 30)
@given(st.sampled_from(ML_PRELUDES), hypothesmith.from_grammar())
def test_grammar_programs_after_framework_imports(prelude, source):
    """With torch/keras imported the analysis does not stop early: the interpreter runs over the program."""
    check(prelude + source)


# -- mutated fixtures ----------------------------------------------------------------------------------------
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
_REPLACEMENTS = [
    "0",
    "1",
    "-1",
    "-7",
    "3",
    "10**30",
    "2**63",
    "0.5",
    "1e308",
    "None",
    "True",
    "'x'",
    "()",
    "[]",
    "(1, 2)",
    "x",
    "...",
    "-0",
    "1j",
]


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    op = rng.choice(
        [
            "delete",
            "duplicate",
            "swap",
            "number",
            "numbers",
            "truncate",
            "splice",
            "dedent",
            "char",
            "identifier",
        ]
    )
    if op == "delete" and lines:
        del lines[rng.randrange(len(lines))]
    elif op == "duplicate" and lines:
        i = rng.randrange(len(lines))
        lines.insert(rng.randrange(len(lines) + 1), lines[i])
    elif op == "swap" and len(lines) > 1:
        i, j = rng.sample(range(len(lines)), 2)
        lines[i], lines[j] = lines[j], lines[i]
    elif op in ("number", "numbers"):
        matches = list(_NUMBER.finditer(text))
        if matches:
            chosen = matches if op == "numbers" else [rng.choice(matches)]
            out, last = [], 0
            for m in chosen:
                if op == "numbers" and rng.random() < 0.5:
                    continue
                out += [text[last : m.start()], rng.choice(_REPLACEMENTS)]
                last = m.end()
            return "".join(out) + text[last:]
    elif op == "truncate":
        return text[: rng.randrange(len(text) + 1)]
    elif op == "splice" and text:  # a piece of the file pasted somewhere else
        a, b = sorted(rng.sample(range(len(text) + 1), 2))
        at = rng.randrange(len(text) + 1)
        return text[:at] + text[a:b] + text[at:]
    elif op == "dedent" and lines:
        i = rng.randrange(len(lines))
        lines[i] = lines[i].lstrip(" ")
    elif op == "char":
        at = rng.randrange(len(text) + 1)
        return text[:at] + rng.choice("()[]{}:,.=*\\\"'#@\n\t ") + text[at:]
    elif op == "identifier":
        names = sorted(set(re.findall(r"\b[A-Za-z_]\w*\b", text)))
        if len(names) > 1:
            a, b = rng.sample(names, 2)
            return re.sub(rf"\b{re.escape(a)}\b", b, text)
    return "".join(lines)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_mutated_fixtures(fixture):
    text = fixture.read_text(encoding="utf-8")
    rng = random.Random(f"densecheck-{fixture.parent.name}/{fixture.name}")  # the same mutants every run
    rounds = EXAMPLES or 24
    for _ in range(rounds):
        mutant = text
        for _ in range(rng.choice([1, 1, 2, 3, 6])):
            mutant = mutate(mutant, rng)
        check(mutant, str(fixture))


def test_fixtures_themselves_have_no_internal_error():
    assert FIXTURES, "no fixtures found"
    for fixture in FIXTURES:
        res = check(fixture.read_bytes(), str(fixture))
        assert not [d for d in res.diagnostics if d.code == "DC001"], (fixture, res.diagnostics)


# -- generated models ----------------------------------------------------------------------------------------
small = st.integers(min_value=1, max_value=64)
odd_int = st.sampled_from([0, 1, 2, 3, 7, 16, 224, -1, 10**12])


@st.composite
def torch_model(draw) -> tuple[str, int]:
    """A random nn.Module: layers built in __init__, applied (with tensor ops between) in forward. Returns the
    source and how many nn.Linear call sites it has."""
    rank = draw(st.sampled_from([2, 3, 4, 5]))
    init, fwd = [], []
    linears = 0
    channels = draw(small)
    for i in range(draw(st.integers(min_value=1, max_value=8))):
        kind = draw(
            st.sampled_from(
                [
                    "conv1d",
                    "conv2d",
                    "conv3d",
                    "linear",
                    "flatten",
                    "pool",
                    "adaptive",
                    "relu",
                    "bn",
                    "permute",
                    "view",
                    "reshape",
                    "tflatten",
                    "mean",
                    "transpose",
                    "unsqueeze",
                    "seq",
                    "F",
                    "dropout",
                    "ln",
                ]
            )
        )
        name = f"l{i}"
        a = draw(small)
        if kind.startswith("conv"):
            k = draw(st.sampled_from([1, 3, 5, 7, "(1, 3)" if kind == "conv2d" else 3]))
            stride = draw(st.sampled_from([1, 2]))
            pad = draw(st.sampled_from([0, 1, "'same'", "'valid'"]))
            pad = 1 if stride == 2 and pad == "'same'" else pad
            init.append(
                f"self.{name} = nn.{kind[:-2].capitalize()}{kind[-2:]}({channels}, {a}, {k}, "
                f"stride={stride}, padding={pad})"
            )
            fwd.append(f"x = self.{name}(x)")
            channels = a
        elif kind == "linear":
            bias = draw(st.booleans())
            inf = draw(st.one_of(small, odd_int, st.just(channels)))
            init.append(f"self.{name} = nn.Linear({inf}, {a}, bias={bias})")
            fwd.append(f"x = self.{name}(x)")
            linears += 1
        elif kind == "seq":
            init.append(
                f"self.{name} = nn.Sequential(nn.Linear({draw(small)}, {a}), nn.ReLU(), "
                f"nn.Linear({a}, {draw(small)}))"
            )
            fwd.append(f"x = self.{name}(x)")
            linears += 2
        elif kind == "F":
            fwd.append(f"x = F.linear(x, torch.randn({draw(small)}, {draw(small)}))")
        elif kind == "flatten":
            init.append(
                f"self.{name} = nn.Flatten({draw(st.sampled_from(['', '1', '2', 'start_dim=1', '-2']))})"
            )
            fwd.append(f"x = self.{name}(x)")
        elif kind == "pool":
            p = draw(st.sampled_from(["MaxPool2d", "AvgPool2d", "MaxPool1d", "MaxPool3d"]))
            init.append(f"self.{name} = nn.{p}({draw(st.sampled_from([1, 2, 3]))})")
            fwd.append(f"x = self.{name}(x)")
        elif kind == "adaptive":
            out = draw(st.sampled_from(["1", "(1, 1)", "(7, 7)", "(None, 3)", "4"]))
            init.append(f"self.{name} = nn.AdaptiveAvgPool2d({out})")
            fwd.append(f"x = self.{name}(x)")
        elif kind == "relu":
            fwd.append(
                draw(
                    st.sampled_from(
                        [
                            "x = torch.relu(x)",
                            "x = F.relu(x)",
                            "x = x.relu()",
                            "x = x * 2",
                            "x = x + x",
                            "x = -x",
                            "x = x @ x.transpose(-1, -2)",
                        ]
                    )
                )
            )
        elif kind == "bn":
            init.append(f"self.{name} = nn.BatchNorm2d({channels})")
            fwd.append(f"x = self.{name}(x)")
        elif kind == "ln":
            init.append(f"self.{name} = nn.LayerNorm({a})")
            fwd.append(f"x = self.{name}(x)")
        elif kind == "dropout":
            init.append(f"self.{name} = nn.Dropout({draw(st.sampled_from(['0.5', '0', 'p=0.1']))})")
            fwd.append(f"x = self.{name}(x)")
        elif kind == "permute":
            perm = draw(st.permutations(list(range(rank))))
            fwd.append(f"x = x.permute({', '.join(map(str, perm))})")
        elif kind == "view":
            fwd.append(
                draw(
                    st.sampled_from(
                        [
                            "x = x.view(x.size(0), -1)",
                            "x = x.view(-1)",
                            f"x = x.view(-1, {a})",
                            "x = x.view(x.shape[0], -1, 4)",
                            "x = x.view(*x.shape[:2], -1)",
                        ]
                    )
                )
            )
        elif kind == "reshape":
            fwd.append(
                draw(
                    st.sampled_from(
                        [
                            f"x = x.reshape(x.shape[0], {a}, -1)",
                            "x = x.reshape(-1)",
                            "x = torch.reshape(x, (x.size(0), -1))",
                            "x = x.contiguous()",
                        ]
                    )
                )
            )
        elif kind == "tflatten":
            fwd.append(
                draw(
                    st.sampled_from(
                        [
                            "x = torch.flatten(x, 1)",
                            "x = torch.flatten(x)",
                            "x = x.flatten(2)",
                            "x = x.flatten(1, 2)",
                            "x = x.flatten(-2)",
                        ]
                    )
                )
            )
        elif kind == "mean":
            fwd.append(
                draw(
                    st.sampled_from(
                        [
                            "x = x.mean(dim=(2, 3))",
                            "x = x.mean(-1)",
                            "x = x.sum(1)",
                            "x = x.mean(dim=[-2, -1], keepdim=True)",
                            "x = x.amax(0)",
                        ]
                    )
                )
            )
        elif kind == "transpose":
            a_, b_ = draw(st.integers(-rank, rank - 1)), draw(st.integers(-rank, rank - 1))
            fwd.append(f"x = x.transpose({a_}, {b_})")
        elif kind == "unsqueeze":
            fwd.append(
                draw(
                    st.sampled_from(
                        [
                            "x = x.unsqueeze(1)",
                            "x = x.squeeze()",
                            "x = x.squeeze(-1)",
                            "x = x[:, None]",
                            "x = x[..., 0]",
                            "x = x[:, :, 1:]",
                        ]
                    )
                )
            )
    dims = ", ".join(str(draw(st.sampled_from([1, 2, 3, 8, 16, 32, 224]))) for _ in range(rank))
    entry = draw(
        st.sampled_from(
            [
                "",
                f"\n\nmodel = Net()\nout = model(torch.randn({dims}))\n",
                f"\n\nsummary(Net(), input_size=({dims},))\n",
            ]
        )
    )
    body_init = "\n        ".join(init) or "pass"
    body_fwd = "\n        ".join(fwd)
    src = (
        "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
        + ("from torchinfo import summary\n" if "summary" in entry else "")
        + "\n\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        " + body_init + "\n\n"
        "    def forward(self, x):\n        "
        + (body_fwd + "\n        " if body_fwd else "")
        + "return x\n"
        + entry
    )
    return src, linears


@st.composite
def keras_model(draw) -> tuple[str, int]:
    """A random Keras model, Sequential or functional. Returns the source and its Dense call sites."""
    rank = draw(st.sampled_from([1, 2, 3, 4]))
    shape = ", ".join(str(draw(st.sampled_from([1, 3, 7, 16, 32, 160]))) for _ in range(rank))
    shape = f"({shape},)" if rank == 1 else f"({shape})"
    layers_, dense = [], 0
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        kind = draw(
            st.sampled_from(
                [
                    "dense",
                    "conv2d",
                    "conv1d",
                    "flatten",
                    "gap",
                    "pool",
                    "reshape",
                    "permute",
                    "lstm",
                    "dropout",
                    "bn",
                    "embedding",
                    "dense_act",
                    "td",
                ]
            )
        )
        a = draw(small)
        if kind == "dense":
            layers_.append(f"layers.Dense({a})")
            dense += 1
        elif kind == "dense_act":
            layers_.append(f"layers.Dense(units={a}, activation='relu', use_bias={draw(st.booleans())})")
            dense += 1
        elif kind == "td":
            layers_.append(f"layers.TimeDistributed(layers.Dense({a}))")
            dense += 1
        elif kind == "conv2d":
            padding = draw(st.sampled_from(['"same"', '"valid"']))
            layers_.append(
                f"layers.Conv2D({a}, {draw(st.sampled_from([1, 3, '(3, 3)']))}, padding={padding})"
            )
        elif kind == "conv1d":
            layers_.append(f"layers.Conv1D({a}, 3)")
        elif kind == "flatten":
            layers_.append("layers.Flatten()")
        elif kind == "gap":
            layers_.append(
                draw(
                    st.sampled_from(
                        [
                            "layers.GlobalAveragePooling2D()",
                            "layers.GlobalMaxPooling1D()",
                            "layers.GlobalAveragePooling3D()",
                        ]
                    )
                )
            )
        elif kind == "pool":
            layers_.append(
                draw(
                    st.sampled_from(
                        [
                            "layers.MaxPooling2D()",
                            "layers.AveragePooling1D(2)",
                            "layers.MaxPooling2D(pool_size=(2, 2))",
                        ]
                    )
                )
            )
        elif kind == "reshape":
            layers_.append(
                draw(
                    st.sampled_from(
                        [
                            "layers.Reshape((-1,))",
                            f"layers.Reshape(({a}, -1))",
                            "layers.Reshape((4, 4, -1))",
                            "layers.Reshape((0,))",
                        ]
                    )
                )
            )
        elif kind == "permute":
            perm = draw(st.permutations(list(range(1, rank + 1))))
            layers_.append(f"layers.Permute(({', '.join(map(str, perm))},))")
        elif kind == "lstm":
            layers_.append(f"layers.LSTM({a}, return_sequences={draw(st.booleans())})")
        elif kind == "dropout":
            layers_.append("layers.Dropout(0.5)")
        elif kind == "bn":
            layers_.append("layers.BatchNormalization()")
        elif kind == "embedding":
            layers_.append(f"layers.Embedding(1000, {a})")
    style = draw(st.sampled_from(["sequential", "functional", "add", "input_shape"]))
    head = "import keras\nfrom keras import layers\n\n"
    if style == "sequential":
        body = (
            "model = keras.Sequential([\n    keras.Input(shape="
            + shape
            + "),\n    "
            + ",\n    ".join(layers_)
            + ",\n])\n"
        )
    elif style == "input_shape":
        first, *rest = layers_
        first = first[:-1] + (", " if not first.endswith("()") else "") + f"input_shape={shape})"
        body = "model = keras.Sequential([\n    " + ",\n    ".join([first, *rest]) + ",\n])\n"
    elif style == "add":
        body = (
            "model = keras.Sequential()\nmodel.add(keras.Input(shape="
            + shape
            + "))\n"
            + "".join(f"model.add({lyr})\n" for lyr in layers_)
        )
    else:
        body = (
            "inputs = keras.Input(shape="
            + shape
            + ")\nx = inputs\n"
            + "".join(f"x = {lyr}(x)\n" for lyr in layers_)
            + "model = keras.Model(inputs, x)\n"
        )
    return head + body, dense


@FUZZ
@given(torch_model())
def test_generated_torch_models(model):
    src, linears = model
    compile(src, "gen.py", "exec")  # the generator makes valid Python
    res = check(src)
    assert not [d for d in res.diagnostics if d.code == "DC001"], res.diagnostics
    assert len(res.layers) == linears, f"{len(res.layers)} of {linears} nn.Linear sites reported in\n{src}"


@FUZZ
@given(keras_model())
def test_generated_keras_models(model):
    src, dense = model
    compile(src, "gen.py", "exec")
    res = check(src)
    assert not [d for d in res.diagnostics if d.code == "DC001"], res.diagnostics
    assert len(res.layers) == dense, f"{len(res.layers)} of {dense} Dense sites reported in\n{src}"
