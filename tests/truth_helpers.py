"""Helpers for the tests that check densecheck's static report against torch / keras building the same code.

Truth comes from the frameworks: the fixture (or an inline source written to a file) is imported and built,
and ``densecheck.trace.record`` records, for every Dense/Linear constructor call site, the real input shapes
and parameter counts. Nothing here types an expected number.

Fixture files annotate the sites whose behaviour the real rank cannot decide, on the constructor's line::

    self.fc = nn.Linear(32, 10)  # expect: spatial_mixing DC102
    x = layers.Dense(4)(x)  # expect: spatial_mixing DC102?

A word that is a behaviour (``pointwise`` / ``spatial_mixing`` / ``fully_connected``) is the expected
``behaves_as``; ``DCnnn`` is a diagnostic that must be reported on that line; ``DCnnn?`` one that may be.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import math
import os
import re
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

BEHAVIOURS = {"fully_connected", "pointwise", "spatial_mixing"}
#: the diagnostics whose presence/absence the fixtures pin down exactly (others, e.g. info-level budgets, are
# free)
CHECKED_CODES = {"DC101", "DC102", "DC103"}


@dataclass
class Expect:
    behaves_as: str | None = None
    codes: set[str] = field(default_factory=set)
    optional: set[str] = field(default_factory=set)


_EXPECT = re.compile(r"#\s*expect:\s*(.*)$")


def expectations(path: str | os.PathLike) -> dict[int, Expect]:
    """line -> what the ``# expect:`` comment on that line says."""
    out: dict[int, Expect] = {}
    with open(path, encoding="utf-8") as fh:
        toks = tokenize.generate_tokens(io.StringIO(fh.read()).readline)
        for tok in toks:
            if tok.type != tokenize.COMMENT:
                continue
            m = _EXPECT.search(tok.string)
            if not m:
                continue
            e = Expect()
            for word in m.group(1).split():
                if word in BEHAVIOURS:
                    e.behaves_as = word
                elif re.fullmatch(r"DC\d{3}\?", word):
                    e.optional.add(word[:-1])
                elif re.fullmatch(r"DC\d{3}", word):
                    e.codes.add(word)
                else:
                    raise ValueError(f"{path}:{tok.start[0]}: unknown expectation {word!r}")
            out[tok.start[0]] = e
    return out


_counter = itertools.count()


def load_module(path: str | os.PathLike):
    """Import a fixture file under a unique module name (fixtures are not a package)."""
    path = os.fspath(path)
    name = f"_densecheck_fixture_{Path(path).stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def require(framework: str):
    """Import the framework, or skip the test cleanly when it is absent — except in CI (``CI`` set), where the
    frameworks are installed and a missing one must fail loudly instead of silently skipping the truth
    tests."""
    import pytest

    names = ("torch",) if framework == "torch" else ("tensorflow", "keras")
    mod = None
    for name in names:
        try:
            mod = importlib.import_module(name)
        except ImportError as e:
            if os.environ.get("CI"):
                pytest.fail(f"{name} is required in CI for the framework truth tests: {e}")
            pytest.skip(f"{name} is not installed")
    return mod


def framework_of(path: str | os.PathLike) -> str:
    return Path(path).parent.name  # fixtures/keras/... or fixtures/torch/...


# -- framework truth for params_if_flattened ---------------------------------------------------------------


def torch_linear_params(in_features: int, out_features: int, bias: bool) -> int:
    """Parameters of an nn.Linear as torch builds it (meta device: no memory)."""
    from torch import nn

    m = nn.Linear(in_features, out_features, bias=bias, device="meta")
    return sum(p.numel() for p in m.parameters())


def keras_dense_params(in_features: int, units: int, use_bias: bool) -> int:
    """Parameters of a Dense as keras builds it on a (None, in_features) input."""
    import keras

    inp = keras.Input(shape=(in_features,))
    layer = keras.layers.Dense(units, use_bias=use_bias)
    layer(inp)
    return int(layer.count_params())


def flattened_params(framework: str, shape: list[int | None], out_features: int, bias: bool) -> int:
    flat = math.prod(shape[1:])
    if framework == "torch":
        return torch_linear_params(flat, out_features, bias)
    return keras_dense_params(flat, out_features, bias)


def layer_params(framework: str, in_features: int, out_features: int, bias: bool) -> int:
    if framework == "torch":
        return torch_linear_params(in_features, out_features, bias)
    return keras_dense_params(in_features, out_features, bias)


# -- real sites
# ------------------------------------------------------------------------------------------------


def record_fixture(
    path: str | os.PathLike, *, expect_error: type[BaseException] | None = None, framework: str | None = None
):
    """Build (and for torch run, on the meta device) the fixture; its SiteRecords, restricted to the file.

    The file defines ``build()`` (and for torch ``example_input()``). With ``expect_error`` the forward pass
    must raise it; the shapes recorded before the failure are kept.
    """
    path = os.path.abspath(os.fspath(path))
    mod = load_module(path)
    fw = framework or framework_of(path)
    if fw == "torch":
        records = _record_torch(mod, expect_error)
    else:
        from densecheck.trace.record import record_keras

        records = record_keras(mod.build)
    return [r for r in records if os.path.abspath(r.path) == path]


def _record_torch(mod, expect_error):
    from densecheck.trace.record import record_torch

    if expect_error is None:
        return record_torch(mod.build, mod.example_input, device="meta")
    import torch

    from densecheck.trace import record as rec_mod

    with rec_mod.torch_sites() as rec, torch.device("meta"):
        model = mod.build()
        x = mod.example_input()
    try:
        try:
            with torch.no_grad():
                model(x)
        except expect_error:
            pass
        else:
            raise AssertionError(f"{mod.__file__}: the forward pass did not raise {expect_error.__name__}")
        return rec.records(rec_mod._describe_torch)
    finally:
        for h in getattr(rec, "_handles", []):
            h.remove()


def torch_linear_flops(path: str | os.PathLike) -> dict[int, tuple[int, int, int]]:
    """line -> (FLOPs counted by ``torch.utils.flop_counter`` for every Linear built at that site, calls,
    batch).

    torch's own counter (2 FLOPs per multiply-accumulate over the whole batch) is the truth for the MACs
    column — the column torchinfo 1.8.0 gets wrong for rank > 2 inputs. Runs on the meta device.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from densecheck.trace import record as rec_mod

    path = os.path.abspath(os.fspath(path))
    mod = load_module(path)
    with rec_mod.torch_sites() as rec, torch.device("meta"):
        model = mod.build()
        x = mod.example_input()
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            model(x)
    finally:
        for h in getattr(rec, "_handles", []):
            h.remove()
    counts = counter.get_flop_counts()
    root = type(model).__name__
    out: dict[int, tuple[int, int, int]] = {}
    for fqn, m in model.named_modules():
        site = rec.by_id.get(id(m))
        if site is None or not fqn:
            continue
        _path, line, _col = site.key
        if os.path.abspath(_path) != path:
            continue
        flops = sum(counts.get(f"{root}.{fqn}", {}).values())
        batch = site.shapes[0][0] if site.shapes else None
        prev = out.get(line, (0, 0, batch))
        out[line] = (prev[0] + flops, site.calls, batch)
    return out
