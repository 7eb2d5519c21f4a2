"""Findings you can trust (issue 21): each case is the static result beside torch/keras building and running
the same model.

* a traced Linear on a convolution's NCHW output is DC102 (the trace follows the layout);
* a subclass that flattens does not hide its parent's forward that does not (findings are per context);
* a feature map transposed and transposed back is still a feature map (DC102);
* DC103 says "flatten first" when the declared in_features is the flattened size;
* no follow-on finding after a broken layer;
* DC107: the seed article's ``Dense(16, input_shape=(3, 2))`` (48 params; flattened 112) and classifier heads
  that keep position axes;
* DC105 is info; the report header and the summary line say exactly what they count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from densecheck import api
from densecheck.cli import cli
from densecheck.config import Settings
from densecheck.rules import RULES


def static(source: str, path: str = "m.py") -> api.FileResult:
    return api.analyze_source(source, path, Settings())


def codes(res: api.FileResult, line: int | None = None) -> list[str]:
    return sorted(d.code for d in res.diagnostics if line is None or d.line == line)


def line_of(source: str, text: str) -> int:
    return next(i for i, t in enumerate(source.splitlines(), 1) if text in t)


def invoke(*args: str, **kw):
    return CliRunner().invoke(cli, ["--isolated", "--no-cache", *args], **kw)


# -- 1. trace knows layout ----------------------------------------------------------------------------------

SEQ = """\
import torch.nn as nn

model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3), nn.ReLU(), nn.Linear(24, 10))
"""


@pytest.mark.torch
def test_trace_of_a_linear_on_nchw_is_spatial_mixing(tmp_path):
    """Traced with --trace-input 64,1,28,28 the Linear gets (64, 16, 24, 24) and runs -- mixing along the
    width axis; the trace says so (DC102, exit 1), it once said pointwise and passed."""
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(SEQ, ns)  # the model, built and run by torch itself
    feature_map = ns["model"][:-1](torch.zeros(64, 1, 28, 28))
    assert tuple(feature_map.shape) == (64, 16, 24, 24)
    assert tuple(ns["model"](torch.zeros(64, 1, 28, 28)).shape) == (64, 16, 24, 10)  # runs: a width mix

    (tmp_path / "seq.py").write_text(SEQ)
    cmd = [sys.executable, "-m", "densecheck", "--isolated", "--no-cache", "--format", "json", "seq.py"]
    cmd += ["--trace", "seq.py:model", "--trace-input", "64,1,28,28"]
    env = {**os.environ, "DENSECHECK_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    doc = json.loads(proc.stdout)
    (layer,) = doc["layers"]
    assert layer["source"] == "trace" and layer["input_shape"] == list(feature_map.shape)
    assert layer["behaves_as"] == "spatial_mixing" and layer["channel_axis"] == 1
    assert [d["code"] for d in doc["diagnostics"]] == ["DC102"]
    assert proc.returncode == 1


# -- 2. per context: a correct subclass does not hide its parent's bug ------------------------------------

CNN = """\
import torch
import torch.nn as nn


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(4)
        self.fc = nn.Linear(64 * 8 * 8, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv(x)))
        return self.fc(x)
"""

FIXED = """

class FixedCNN(SmallCNN):
    def forward(self, x):
        x = self.pool(torch.relu(self.conv(x)))
        x = torch.flatten(x, 1)
        return self.fc(x)
"""


@pytest.mark.torch
def test_a_correct_subclass_does_not_hide_the_parents_bug():
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(CNN + FIXED, ns)
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        ns["SmallCNN"]()(torch.zeros(2, 3, 32, 32))
    assert tuple(ns["FixedCNN"]()(torch.zeros(2, 3, 32, 32)).shape) == (2, 10)

    fc = line_of(CNN, "nn.Linear")
    alone = static(CNN)
    assert "DC102" in codes(alone, fc)
    both = static(CNN + FIXED)
    found = [d for d in both.diagnostics if d.line == fc]
    assert [d.code for d in found] == ["DC102"]
    assert found[0].message.startswith("from SmallCNN.forward: ")
    (layer,) = both.layers
    why = layer.explanation()
    assert "2 from FixedCNN.forward" in why and "4 from SmallCNN.forward" in why


# -- 3. layout survives a transpose round trip ------------------------------------------------------------

ROUND_TRIP = """\
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(12, 96, 3, padding=1)
        self.pw = nn.Linear(96, 96)
        self.head = nn.Linear(96, 10)

    def forward(self, x):
        h = self.conv(x)
        h = self.pw(h.transpose(1, 2)).transpose(1, 2)
        return self.head(h)


Net()(torch.randn(2, 12, 96))
"""


@pytest.mark.torch
def test_a_feature_map_transposed_and_back_is_still_channels_first():
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(ROUND_TRIP.replace("Net()(torch.randn(2, 12, 96))", ""), ns)
    net = ns["Net"]()
    seen = []
    net.head.register_forward_pre_hook(lambda m, a: seen.append(tuple(a[0].shape)))
    # it runs, silently: the head mixes the 96 positions of each channel, not the 96 channels
    assert tuple(net(torch.zeros(2, 12, 96)).shape) == (2, 96, 10)
    res = static(ROUND_TRIP)
    head = next(x for x in res.layers if x.name == "self.head")
    assert head.input is not None and head.input.json() == list(seen[0])
    assert head.behaves_as == "spatial_mixing"
    assert codes(res, line_of(ROUND_TRIP, "self.head = ")) == ["DC102"]
    assert not codes(res, line_of(ROUND_TRIP, "self.pw = "))  # per-position, channels last: fine


def test_mlp_mixer_token_mixing_is_still_not_flagged():
    """The explicit-layout exemption stays for what it was meant for: (batch, dim, tokens) token mixing."""
    from densecheck.rules.dc102_channels_first_axis import LinearOnChannelsFirstAxis

    mixer = LinearOnChannelsFirstAxis.VALID[1]
    assert "token_mix" in mixer and "DC102" not in codes(static(mixer))


# -- 4. DC103: flatten first ------------------------------------------------------------------------------

FLAT = CNN + "\n\nSmallCNN()(torch.randn(2, 3, 32, 32))\n"


@pytest.mark.torch
def test_dc103_says_flatten_first_when_the_declared_size_is_the_flattened_one():
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(CNN, ns)
    net = ns["SmallCNN"]()
    fmap = net.pool(torch.relu(net.conv(torch.zeros(2, 3, 32, 32))))
    assert fmap[0].numel() == net.fc.in_features  # 64 * 8 * 8: the flatten is what is missing
    assert tuple(net.fc(torch.flatten(fmap, 1)).shape) == (2, 10)

    (d,) = [d for d in static(FLAT).diagnostics if d.code == "DC103"]
    assert d.fix == "flatten first: x = torch.flatten(x, 1)"
    assert "4096 is its flattened size" in d.message and "use in_features" not in (d.fix or "")


def test_dc103_still_suggests_in_features_when_no_flatten_would_fix_it():
    rule = RULES["DC103"]
    (d,) = [d for d in static(rule.INVALID[0]).diagnostics if d.code == "DC103"]
    assert d.fix == "use in_features=64 (or nn.LazyLinear)"


# -- 5. no follow-on findings ------------------------------------------------------------------------------

TWO_FC = """\
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(4)
        self.fc1 = nn.Linear(64 * 8 * 8, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv(x)))
        x = torch.relu(self.fc1(x))
        return self.fc2(x)


Net()(torch.randn(2, 3, 32, 32))
"""


@pytest.mark.torch
def test_no_follow_on_finding_after_a_broken_layer():
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(TWO_FC.replace("Net()(torch.randn(2, 3, 32, 32))", ""), ns)
    with pytest.raises(RuntimeError, match="mat1 and mat2"):  # fc1 breaks; fc2 never sees anything
        ns["Net"]()(torch.zeros(2, 3, 32, 32))
    res = static(TWO_FC)
    assert "DC102" in codes(res, line_of(TWO_FC, "self.fc1 = "))
    assert codes(res, line_of(TWO_FC, "self.fc2 = ")) == []


# -- 6. DC107 ------------------------------------------------------------------------------------------------

SEED = """\
from keras.models import Sequential
from keras.layers import Dense, Activation
model = Sequential()
model.add(Dense(16, input_shape=(3,2)))
model.add(Activation('relu'))
model.add(Dense(4))
model.compile(loss='mean_squared_error', optimizer='SGD')
"""


def _keras():
    return pytest.importorskip("keras")


@pytest.mark.keras
def test_the_seed_articles_example_is_info_with_its_real_counts():
    keras = _keras()
    ns: dict = {}
    exec(SEED, ns)
    first = ns["model"].layers[0]
    flat = keras.Sequential([keras.Input((3, 2)), keras.layers.Flatten(), keras.layers.Dense(16)])
    assert (first.count_params(), flat.layers[-1].count_params()) == (48, 112)

    res = static(SEED)
    (d,) = [d for d in res.diagnostics if d.line == 4]
    assert (d.code, d.severity) == ("DC107", "info")
    assert "48 params; flattened 112" in d.message
    assert all(d.severity == "info" for d in res.diagnostics)
    r = invoke("-", "--stdin-filename", "seed.py", input=SEED)
    assert r.exit_code == 0, r.output  # info does not fail the default fail level


HEADS = {
    # the seed's model with a classifier head: one prediction per row (case: (source, one sample's shape))
    "declared": (
        "from keras import layers, models\n"
        "model = models.Sequential(\n"
        "    [layers.Dense(16, input_shape=(3, 2)), layers.Dense(4, activation='softmax')]\n"
        ")\n",
        (3, 2),
    ),
    # a pool leaves a length-1 axis, no Flatten: Dense(5) on (None, 1, 100)
    "pool": (
        "from keras import layers, models\n"
        "inp = layers.Input((5, 100))\nx = layers.MaxPooling1D(5)(inp)\n"
        "out = layers.Dense(5, activation='softmax')(x)\nmodel = models.Model(inp, out)\n",
        (5, 100),
    ),
}


@pytest.mark.keras
@pytest.mark.parametrize("case", sorted(HEADS))
def test_a_classifier_head_that_keeps_positions_is_a_warning(case):
    _keras()
    import numpy as np

    src, sample = HEADS[case]
    ns: dict = {}
    exec(src, ns)
    out = tuple(ns["model"](np.zeros((2, *sample), "float32")).shape)
    assert len(out) == 3  # keras itself: one prediction per position
    res = static(src)
    head = [x for x in res.layers if "softmax" in x.call]
    assert head and head[0].input.rank == 3 and head[0].model_output and head[0].squashed == "softmax"
    warned = [d for d in res.diagnostics if d.code == "DC107" and d.severity == "warning"]
    assert [d.line for d in warned] == [head[0].line]


TORCH_HEAD = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(8, 16, 3)
        self.pool = nn.AdaptiveMaxPool1d(1)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        x = self.pool(self.conv(x)).transpose(1, 2)
        return torch.softmax(self.fc(x), dim=-1)
"""


@pytest.mark.torch
def test_a_torch_softmax_head_on_a_length_one_axis_is_a_warning():
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(TORCH_HEAD, ns)
    assert tuple(ns["Net"]()(torch.zeros(2, 8, 20)).shape) == (2, 1, 4)
    res = static(TORCH_HEAD)
    warned = [d for d in res.diagnostics if d.code == "DC107"]
    assert [(d.line, d.severity) for d in warned] == [(line_of(TORCH_HEAD, "self.fc = "), "warning")]


@pytest.mark.keras
def test_sequence_heads_get_nothing():
    """Sequence labelling (Embedding -> LSTM(return_sequences=True) -> softmax per token) and a time series
    read by a recurrent layer: their positions are real."""
    from densecheck.rules.dc107_head_keeps_positions import HeadKeepsPositions

    _keras()
    for src in HeadKeepsPositions.VALID:
        ns: dict = {}
        exec(src, ns)  # keras builds each
        assert "DC107" not in codes(static(src)), src


# -- 7, 8. DC105 is info; the report says what it counts ------------------------------------------------


def test_dc105_is_information_about_densecheck():
    assert RULES["DC105"].severity == "info"


@pytest.mark.keras
def test_report_header_counts_dense_layers_and_summary_counts_unknown_shapes(tmp_path, monkeypatch):
    keras = _keras()
    src = (
        "from keras import layers, models\n"
        "def build():\n"
        "    inp = layers.Input((28, 28, 1))\n"
        "    x = layers.Conv2D(32, 3)(inp)\n"
        "    x = layers.Flatten()(x)\n"
        "    x = layers.Dense(16)(x)\n"
        "    return models.Model(inp, layers.Dense(10)(x))\n"
        "def head(x):\n"
        "    return layers.Dense(3)(x)\n"
    )
    ns: dict = {}
    exec(src, ns)
    model = ns["build"]()
    dense = sum(x.count_params() for x in model.layers if isinstance(x, keras.layers.Dense))
    assert dense < model.count_params()  # the model holds more than its Dense layers
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(src)
    out = invoke("--format", "report", "m.py").output
    assert f"model build (2 Dense layers, {dense:,} params in them)" in out
    assert "checked 3 layers in 1 file, 1 of unknown shape (--format report lists them)" in out


FIT = """\
import numpy as np
from keras import layers, models
inp = layers.Input((600, 1))
x = layers.LSTM(8, return_sequences=True)(inp)
out = layers.Dense(1)(x)
model = models.Model(inp, out)
model.compile(loss="mse")
{fit}
"""


@pytest.mark.keras
def test_per_sample_targets_passed_to_fit_make_a_positional_head_a_warning():
    """``Dense(1)`` on (None, 600, 8) after ``return_sequences=True``, trained on (N, 1) targets: Keras
    gives (None, 600, 1), one prediction per step. Per-token targets (N, T) of sequence labelling are not
    flagged."""
    _keras()
    ns: dict = {}
    exec(FIT.format(fit=""), ns)
    assert tuple(ns["model"].output.shape) == (None, 600, 1)
    per_sample = static(FIT.format(fit="model.fit(np.zeros((32, 600, 1)), np.zeros((32, 1)))"))
    assert [(d.code, d.severity, d.line) for d in per_sample.diagnostics] == [("DC107", "warning", 5)]
    per_step = static(FIT.format(fit="model.fit(np.zeros((32, 600, 1)), np.zeros((32, 600)))"))
    assert not per_step.diagnostics
    unknown = static(FIT.format(fit="model.fit(x_train, y_train)"))
    assert not unknown.diagnostics


EINOPS_ROUND_TRIP = """\
import torch
from torch import nn
from einops import rearrange


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.pw = nn.Linear(16, 16)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        h = rearrange(self.conv(x), "b c h w -> b h w c")
        h = self.pw(h)
        h = rearrange(h, "b h w c -> b c h w")
        return self.fc(h)


Net()(torch.randn(2, 3, 32, 32))
"""


@pytest.mark.torch
def test_a_feature_map_rearranged_by_einops_and_back_is_still_a_feature_map():
    """einops permutations keep a feature map a feature map: the per-pixel Linear on channels last is fine,
    the Linear after putting the channels back first mixes the width (torch runs it: (2, 16, 32, 10))."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("einops")
    ns: dict = {}
    exec(EINOPS_ROUND_TRIP.replace("Net()(torch.randn(2, 3, 32, 32))", ""), ns)
    assert tuple(ns["Net"]()(torch.zeros(2, 3, 32, 32)).shape) == (2, 16, 32, 10)
    res = static(EINOPS_ROUND_TRIP)
    assert codes(res, line_of(EINOPS_ROUND_TRIP, "self.fc = ")) == ["DC102"]
    assert codes(res, line_of(EINOPS_ROUND_TRIP, "self.pw = ")) == []


CONVNEXT_STYLE = """\
import keras
from keras import layers


def block(x, dim):
    h = layers.DepthwiseConv2D(7, padding="same")(x)
    h = layers.LayerNormalization()(h)
    h = layers.Dense(4 * dim, activation="gelu")(h)
    h = layers.Dense(dim)(h)
    return x + h


def build():
    inp = keras.Input((32, 32, 16))
    x = block(inp, 16)
    x = layers.Conv2D(32, 2, strides=2)(x)
    return keras.Model(inp, layers.Dense(10, activation="softmax")(x))
"""


@pytest.mark.keras
def test_a_per_position_dense_between_convolutions_is_info_and_a_head_on_the_map_a_warning():
    """The Keras ConvNeXt block's inverted bottleneck (Dense on the NHWC map, then more convolution) is a 1x1
    convolution on purpose: info. A softmax head on the map (Keras gives (None, 16, 16, 10)) is a warning."""
    _keras()
    ns: dict = {}
    exec(CONVNEXT_STYLE, ns)
    model = ns["build"]()
    assert tuple(model.output.shape) == (None, 16, 16, 10)
    res = static(CONVNEXT_STYLE)
    found = {(d.line, d.code, d.severity) for d in res.diagnostics}
    inner = {line_of(CONVNEXT_STYLE, "Dense(4 * dim"), line_of(CONVNEXT_STYLE, "Dense(dim)")}
    head = line_of(CONVNEXT_STYLE, "Dense(10")
    assert {(line, "DC101", "info") for line in inner} <= found
    assert (head, "DC101", "warning") in found


HF_CLASSIFIER = """\
import torch
from torch import nn
from transformers.modeling_outputs import {record}


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 32, 4, stride=4)
        self.head = nn.Linear(32, 10)

    def forward(self, pixel_values):
        tokens = self.patch(pixel_values).flatten(2).transpose(1, 2)
        return {record}(logits=self.head(tokens{pick}))
"""


@pytest.mark.torch
@pytest.mark.parametrize(
    ("record", "pick", "flagged"),
    [
        ("ImageClassifierOutput", "", True),
        ("ImageClassifierOutput", "[:, 0]", False),
        ("ImageClassifierOutput", ".mean(dim=1)", False),
        ("TokenClassifierOutput", "", False),
    ],
)
def test_a_per_sample_records_head_that_keeps_positions(record, pick, flagged):
    """Logits given back in a per-sample output record (ImageClassifierOutput) from a head on (batch,
    patches, dim): the pick or pool was left out (DC107). With it, or in a token classifier's record: quiet.
    The head's input rank is the one torch gives it."""
    pytest.importorskip("transformers")
    import torch

    src = HF_CLASSIFIER.format(record=record, pick=pick)
    ns: dict = {}
    exec(src, ns)
    model, seen = ns["Classifier"](), []
    model.head.register_forward_pre_hook(lambda m, a: seen.append(a[0].dim()))
    model(torch.randn(2, 3, 16, 16))
    res = api.analyze_source(src, "m.py", Settings())
    head = next(lay for lay in res.layers if lay.line == 10)
    assert head.input_rank == seen[0]
    assert [d.code for d in res.diagnostics if d.severity == "warning"] == (["DC107"] if flagged else [])
