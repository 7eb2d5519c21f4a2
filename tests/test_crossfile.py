"""Shapes flow across the files of a project: a model in one file, its blocks in others (followed imports).

Each case is a small project written to a temporary directory. The truth is torch running it: the project is
imported, its ``build()`` run on ``INPUT`` with densecheck's recorder (every Linear's real input shapes, by
file and line). The static side is a normal run over the project directory (``runner.run``), where the shapes
a file's calls give to another file's layers are merged into that file's report; as in real code, the model's
own file has a caller that gives it its input (a ``__main__`` block). Every Linear must get torch's ranks --
from its own file's analysis or from its callers' -- and none may get a guessed one.
"""

from __future__ import annotations

import importlib
import os
import sys
import textwrap

import pytest

from densecheck import runner
from densecheck.config import Settings

BLOCKS = """
import torch
from torch import nn


class Head(nn.Module):
    def __init__(self, channels, classes):
        super().__init__()
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        return self.fc(x)


def mlp(dim, ratio=4):
    return nn.Sequential(nn.Linear(dim, dim * ratio), nn.GELU(), nn.Linear(dim * ratio, dim))
"""

CASES = {
    # relative imports of a class and a factory function; the head sees a channels-last feature map
    "relative": (
        {
            "__init__.py": "",
            "blocks.py": BLOCKS,
            "model.py": """
import torch
from torch import nn

from .blocks import Head, mlp


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 32, 3, padding=1)
        self.tokens = mlp(32)
        self.head = Head(32, 10)

    def forward(self, x):
        x = self.conv(x)
        t = self.tokens(x.flatten(2).transpose(1, 2))
        return self.head(x.permute(0, 2, 3, 1)), t


def build():
    return Net()

INPUT = (2, 3, 8, 8)
""",
        },
        "model",
    ),
    # absolute imports, a re-export through the package's __init__, a module imported as a name
    "absolute_reexport": (
        {
            "__init__.py": "from .layers.ffn import FeedForward\n",
            "layers/__init__.py": "",
            "layers/ffn.py": """
from torch import nn


class FeedForward(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.down(self.up(x).relu())
""",
            "layers/pool.py": """
from torch import nn


class Classifier(nn.Module):
    def __init__(self, dim, classes):
        super().__init__()
        self.out = nn.Linear(dim, classes)

    def forward(self, x):
        return self.out(x.mean(dim=1))
""",
            "net.py": """
import torch
from torch import nn

import {pkg}.layers.pool as pool
from {pkg} import FeedForward


class Encoder(nn.Module):
    def __init__(self, vocab=100, dim=16, depth=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList([FeedForward(dim, dim * 2) for _ in range(depth)])
        self.cls = pool.Classifier(dim, 3)

    def forward(self, ids):
        h = self.embed(ids)
        for block in self.blocks:
            h = h + block(h)
        return self.cls(h)


def build():
    return Encoder()

INPUT = (2, 7)
DTYPE = "long"
""",
        },
        "net",
    ),
    # a chain of three files: model -> stage (blocks built in a comprehension) -> block
    "chain": (
        {
            "__init__.py": "",
            "block.py": """
from torch import nn


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        return x + self.proj(self.norm(x))
""",
            "stage.py": """
from torch import nn

from .block import Block


class Stage(nn.Module):
    def __init__(self, dim, depth):
        super().__init__()
        self.blocks = nn.Sequential(*[Block(dim) for _ in range(depth)])

    def forward(self, x):
        return self.blocks(x)
""",
            "model.py": """
from torch import nn

from .stage import Stage


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(12, 24)
        self.stage = Stage(24, 2)
        self.head = nn.Linear(24, 2)

    def forward(self, x):
        return self.head(self.stage(self.stem(x)).mean(1))


def build():
    return Model()

INPUT = (4, 5, 12)
""",
        },
        "model",
    ),
    # a small helper module (no layers of its own) and module constants, both from other files
    "helpers_and_constants": (
        {
            "__init__.py": "",
            "config.py": """
WIDTH = 48
CLASSES = 5
""",
            "ops.py": """
import torch


def to_tokens(x):
    return x.flatten(2).transpose(1, 2)


def pool_tokens(t):
    return t.mean(dim=1)
""",
            "net.py": """
import torch
from torch import nn

from . import config
from .ops import pool_tokens, to_tokens


class Net(nn.Module):
    def __init__(self, width=config.WIDTH):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 2, stride=2)
        self.mix = nn.Linear(width, width)
        self.head = nn.Linear(width, config.CLASSES)

    def forward(self, x):
        t = self.mix(to_tokens(self.conv(x)))
        return self.head(pool_tokens(t))


def build():
    return Net()

INPUT = (2, 3, 8, 8)
""",
        },
        "net",
    ),
}


def _write(root, pkg: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / pkg / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).replace("{pkg}", pkg))


def _import(root, module: str):
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module(module)
    finally:
        sys.path.remove(str(root))


def _torch_ranks(build, shape, dtype) -> dict[tuple[str, int], list[int]]:
    import torch

    from densecheck.trace.record import record_torch

    records = record_torch(build, lambda: torch.zeros(shape, dtype=dtype))
    out: dict[tuple[str, int], set[int]] = {}
    for rec in records:
        out.setdefault((os.path.realpath(rec.path), rec.line), set()).update(len(s) for s in rec.input_shapes)
    return {k: sorted(v) for k, v in out.items()}


def _static(root, **settings) -> dict[tuple[str, int], object]:
    run = runner.run([str(root)], Settings(root=str(root), **settings), jobs=1)
    assert not run.internal_error
    return {(os.path.realpath(f.path), layer.line): layer for f in run.files for layer in f.result.layers}


@pytest.mark.parametrize("name", sorted(CASES))
def test_shapes_cross_files_as_torch_runs_them(name, tmp_path):
    torch = pytest.importorskip("torch")
    files, main = CASES[name]
    pkg = f"dcx_{name}"
    files = dict(files)
    files[f"{main}.py"] += """
if __name__ == "__main__":
    import torch
    build()(torch.zeros(INPUT, dtype=torch.long if globals().get("DTYPE") == "long" else torch.float32))
"""
    _write(tmp_path, pkg, files)
    mod = _import(tmp_path, f"{pkg}.{main}")
    dtype = torch.long if getattr(mod, "DTYPE", "") == "long" else torch.float32
    truth = _torch_ranks(mod.build, mod.INPUT, dtype)
    static = _static(tmp_path)
    assert truth and set(truth) == set(static)
    for key, ranks in truth.items():
        assert static[key].ranks == ranks, f"{key}: static {static[key].ranks} vs torch {ranks}"
    # the case needs the other files: without following imports, some layer's rank is not known
    alone = _static(tmp_path, follow_imports=False)
    assert any(alone[key].ranks != ranks for key, ranks in truth.items())


def test_without_follow_imports_other_files_get_no_shapes(tmp_path):
    files, _ = CASES["relative"]
    _write(tmp_path, "dcx_off", files)
    static = _static(tmp_path, follow_imports=False)
    blocks = [layer for (path, _), layer in static.items() if path.endswith("blocks.py")]
    assert blocks and all(layer.behaves_as == "unknown" for layer in blocks)


def test_a_site_reached_with_two_ranks_reports_both(tmp_path):
    """Two files use the same block: one on token sequences, one on pooled vectors. torch sees both ranks at
    the one site; so must densecheck, and then it cannot say the layer is one thing."""
    torch = pytest.importorskip("torch")
    _write(
        tmp_path,
        "dcx_two",
        {
            "__init__.py": "",
            "blocks.py": BLOCKS,
            "tokens.py": """
import torch
from .blocks import Head


def build():
    return Head(8, 4)

INPUT = (2, 5, 8)

if __name__ == "__main__":
    build()(torch.zeros(INPUT))
""",
            "pooled.py": """
import torch
from .blocks import Head


def build():
    return Head(8, 4)

INPUT = (2, 8)

if __name__ == "__main__":
    build()(torch.zeros(INPUT))
""",
        },
    )
    truth: dict = {}
    for main in ("tokens", "pooled"):
        mod = _import(tmp_path, f"dcx_two.{main}")
        for key, ranks in _torch_ranks(mod.build, mod.INPUT, torch.float32).items():
            truth[key] = sorted(set(truth.get(key, [])) | set(ranks))
    static = _static(tmp_path)
    ((key, ranks),) = truth.items()
    assert ranks == [2, 3] and static[key].ranks == ranks
    assert static[key].behaves_as == "unknown" and static[key].input is None


def test_a_changed_followed_file_invalidates_its_importers_cache_entry(tmp_path):
    files, _ = CASES["relative"]
    _write(tmp_path, "dcx_cache", files)
    settings = Settings(root=str(tmp_path))
    os.environ["DENSECHECK_CACHE_DIR"] = str(tmp_path / "cache")
    try:
        first = runner.run([str(tmp_path)], settings, jobs=1, cache=True)
        blocks = tmp_path / "dcx_cache" / "blocks.py"
        # the head now flattens first: its input rank changes only through model.py's call
        blocks.write_text(blocks.read_text().replace("return self.fc(x)", "return self.fc(x.flatten(1))"))
        second = runner.run([str(tmp_path)], settings, jobs=1, cache=True)
        fresh = runner.run([str(tmp_path)], settings, jobs=1, cache=False)
    finally:
        del os.environ["DENSECHECK_CACHE_DIR"]

    def ranks(run):
        return [(f.path, layer.line, layer.ranks) for f in run.files for layer in f.result.layers]

    assert ranks(second) == ranks(fresh) != ranks(first)


def test_follow_imports_from_the_command_line_and_the_config(tmp_path):
    from click.testing import CliRunner

    from densecheck.cli import cli

    files, _ = CASES["relative"]
    _write(tmp_path, "dcx_cli", files)
    args = ["check", "--isolated", "--no-cache", "--format", "json", str(tmp_path)]

    def behaviours(*extra):
        import json

        out = CliRunner().invoke(cli, [*args[:1], *extra, *args[1:]]).output
        return sorted(layer["behaves_as"] for layer in json.loads(out)["layers"])

    assert "unknown" not in behaviours()
    assert set(behaviours("--no-follow-imports")) == {"unknown"}
    (tmp_path / "pyproject.toml").write_text("[tool.densecheck]\nfollow-imports = false\n")
    args.remove("--isolated")
    assert set(behaviours()) == {"unknown"}
    assert "unknown" not in behaviours("--follow-imports")


def test_keras_functional_blocks_from_another_file(tmp_path):
    """A Keras functional model whose blocks (a function and a Layer subclass) live in another file: every
    Dense gets the rank Keras builds it with."""
    pytest.importorskip("keras")
    from densecheck.trace.record import record_keras

    _write(
        tmp_path,
        "dcx_keras",
        {
            "__init__.py": "",
            "blocks.py": """
import keras
from keras import layers


def mlp_block(x, units):
    x = layers.Dense(units * 2, activation="gelu")(x)
    return layers.Dense(units)(x)


class Head(keras.layers.Layer):
    def __init__(self, classes, **kwargs):
        super().__init__(**kwargs)
        self.pool = layers.GlobalAveragePooling2D()
        self.out = layers.Dense(classes)

    def call(self, x):
        return self.out(self.pool(x))
""",
            "model.py": """
import keras
from keras import layers

from .blocks import Head, mlp_block


def build():
    inputs = keras.Input(shape=(16, 16, 3))
    x = layers.Conv2D(8, 3, padding="same")(inputs)
    x = mlp_block(x, 8)
    return keras.Model(inputs, Head(4)(x))
""",
        },
    )
    mod = _import(tmp_path, "dcx_keras.model")
    truth: dict = {}
    for rec in record_keras(mod.build):
        truth.setdefault((os.path.realpath(rec.path), rec.line), set()).update(
            len(s) for s in rec.input_shapes
        )
    static = _static(tmp_path)
    assert truth and set(truth) == set(static)
    assert all(path.endswith("blocks.py") for path, _ in truth)
    for key, ranks in truth.items():
        assert static[key].ranks == sorted(ranks), (
            f"{key}: static {static[key].ranks} vs keras {sorted(ranks)}"
        )


def test_parallel_run_merges_exactly_as_a_serial_one(tmp_path):
    """Files analysed in different worker processes still give each other their shapes, and the result does
    not depend on the number of workers."""
    files, _ = CASES["relative"]
    files = dict(files)
    for i in range(runner.PARALLEL_MIN_FILES):  # enough files for worker processes
        files[f"filler_{i}.py"] = f"from torch import nn\n\nfc{i} = nn.Linear({i + 1}, 2)\n"
    _write(tmp_path, "dcx_par", files)

    def layers(jobs):
        run = runner.run([str(tmp_path)], Settings(root=str(tmp_path)), jobs=jobs)
        return [
            (f.path, layer.to_json(), [d.to_json() for d in f.diagnostics])
            for f in run.files
            for layer in f.result.layers
        ]

    serial = layers(1)
    assert serial == layers(2)
    blocks = [json for path, json, _ in serial if path.endswith("blocks.py")]
    assert blocks and all(j["behaves_as"] != "unknown" for j in blocks)


def test_callers_that_build_a_block_with_other_sizes_leave_its_in_features_unknown(tmp_path):
    """``Attention(dim=512)`` by default in its own file, built with ``dim=1024`` and run on 1,024 features by
    its caller (torch runs it): no DC103 comparing the caller's shape with the default's in_features."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    blocks = (
        "import torch\nfrom torch import nn\n\n\nclass Attention(nn.Module):\n"
        "    def __init__(self, dim=512):\n        super().__init__()\n"
        "        self.to_out = nn.Linear(dim, dim)\n\n"
        "    def forward(self, x):\n        return self.to_out(x)\n"
    )
    model = (
        "import torch\nfrom torch import nn\n\nfrom pkg.blocks import Attention\n\n\n"
        "class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.attn = Attention(dim=1024)\n\n"
        "    def forward(self, x):\n        return self.attn(x)\n\n\n"
        "Model()(torch.randn(2, 5, 1024))\n"
    )
    (pkg / "blocks.py").write_text(blocks)
    (pkg / "model.py").write_text(model)
    ns: dict = {}
    exec(blocks + "\n" + model.replace("from pkg.blocks import Attention\n", ""), ns)  # torch runs it
    run = runner.run([str(tmp_path)], Settings(root=str(tmp_path)), jobs=1)
    assert not [d for d in run.diagnostics if d.code == "DC103"], [d.message for d in run.diagnostics]
    (layer,) = [x for f in run.files for x in f.result.layers if x.path.endswith("blocks.py")]
    assert layer.in_features is None and layer.input_rank == 3


MIDBLOCKS = '''\
"""Blocks of the encoder.
{padding}
"""
import torch
from torch import nn

from pkg.attention import Attention


class MidBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.attn = Attention(channels)

    def forward(self, x):
        return self.attn(x.flatten(2).transpose(1, 2))
'''
ATTENTION_LINEARS = """\
import torch
from torch import nn


class Attention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.to_q = nn.Linear(dim, dim)

    def forward(self, x):
        return self.to_q(x)
"""
ENCODER = """\
import torch
from torch import nn

from pkg.blocks import MidBlock


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_in = nn.Conv2d(3, 8, 3, padding=1)
        self.mid = MidBlock(8)

    def forward(self, x):
        return self.mid(self.conv_in(x))
"""


@pytest.mark.torch
def test_a_large_module_of_blocks_without_linears_is_followed(tmp_path):
    """A model built from blocks of a large module that holds no Linear itself (a U-Net's blocks file, a VAE's
    Encoder) whose blocks use the Linears of a third module: followed, so the Linear gets the rank torch
    gives it."""
    import torch

    from densecheck.engine.project import MAX_HELPER_BYTES

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    blocks = MIDBLOCKS.format(padding="Documentation of the blocks.\n" * (MAX_HELPER_BYTES // 28 + 1))
    assert len(blocks) > MAX_HELPER_BYTES
    (pkg / "blocks.py").write_text(blocks)
    (pkg / "attention.py").write_text(ATTENTION_LINEARS)
    (pkg / "model.py").write_text(ENCODER)
    ns: dict = {}
    exec(
        ATTENTION_LINEARS
        + blocks.replace("from pkg.attention import Attention\n", "")
        + ENCODER.replace("from pkg.blocks import MidBlock\n", ""),
        ns,
    )
    seen = []
    enc = ns["Encoder"]()
    enc.mid.attn.to_q.register_forward_pre_hook(lambda m, a: seen.append(a[0].dim()))
    enc(torch.randn(2, 3, 4, 4))
    run = runner.run([str(tmp_path)], Settings(root=str(tmp_path)), jobs=1)
    (layer,) = [lay for f in run.files if f.path.endswith("attention.py") for lay in f.result.layers]
    assert layer.input_rank == seen[0] == 3
