"""The mutation operators of benchmarks/mutants.py on small sources (the benchmark runs models: by hand)."""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def mut():
    spec = importlib.util.spec_from_file_location(
        "densecheck_mutants", os.path.join(ROOT, "benchmarks", "mutants.py")
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(spec.name, None)


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def _ops(mut, source: str) -> list[tuple[str, int, str]]:
    return [(s.op, s.line, s.text) for s in mut.find_sites(source)]


def _one(mut, source: str, op: str):
    sites = [s for s in mut.find_sites(source) if s.op == op]
    assert len(sites) == 1, sites
    return sites[0]


TORCH_CNN = _src(
    """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(8, 10)

        def forward(self, x):
            x = self.conv(x)
            x = self.pool(x)
            x = torch.flatten(x, 1)
            return self.fc(x)
    """
)


def test_torch_class_sites_and_mutants(mut):
    assert _ops(mut, TORCH_CNN) == [
        ("pool", 13, "self.pool(x)"),
        ("pool_flatten", 13, "self.pool(x) + torch.flatten(x, 1)"),
        ("flatten", 14, "torch.flatten(x, 1)"),
    ]
    out = mut.mutate(TORCH_CNN, _one(mut, TORCH_CNN, "flatten"))
    assert "        x = x\n        return self.fc(x)" in out
    assert "self.pool(x)" in out
    both = mut.mutate(TORCH_CNN, _one(mut, TORCH_CNN, "pool_flatten"))
    assert both.count("x = x\n") == 2 and "flatten" not in both.split("def forward")[1]


def test_bound_names_are_per_class(mut):
    """``self.pooler`` is a MaxPool2d in one class and a global pool in another: only the latter is a site."""
    src = _src(
        """
        from torch import nn

        class Embeddings(nn.Module):
            def __init__(self):
                self.pooler = nn.MaxPool2d(3)

            def forward(self, x):
                return self.pooler(x)

        class Model(nn.Module):
            def __init__(self):
                self.pooler = nn.AdaptiveAvgPool2d((1, 1))

            def forward(self, x):
                return self.pooler(x)
        """
    )
    assert _ops(mut, src) == [("pool", 15, "self.pooler(x)")]


def test_sequential_elements_and_model_add(mut):
    src = _src(
        """
        from torch import nn
        from keras import Sequential, layers

        net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
        k = Sequential()
        k.add(layers.Conv2D(8, 3, input_shape=(32, 32, 3)))
        k.add(layers.Flatten())
        k.add(layers.Dense(2))
        """
    )
    ops = _ops(mut, src)
    assert ("flatten", 7, "layers.Flatten()") in ops
    assert [o for o, line, _ in ops if line == 4] == ["pool", "pool_flatten", "flatten"]
    out = mut.mutate(src, _one(mut, src, "pool_flatten"))
    assert "nn.Sequential(nn.Conv2d(3, 8, 3), nn.Linear(8, 2))" in out
    keras_site = next(s for s in mut.find_sites(src) if s.line == 7)
    out = mut.mutate(src, keras_site)
    assert "layers.Flatten" not in out and out.count("\n") == src.count("\n") - 1
    assert mut.line_map(src, out)[7] == 8  # the Dense line moved up by one


def test_token_pool_and_position_picks(mut):
    src = _src(
        """
        import tensorflow as tf

        def head(h, x, out):
            a = h.mean(dim=1)
            b = tf.reduce_mean(x, axis=1)
            c = h[:, 0]
            d = out[:, -1, :]
            x[:, 0] = 0
            e = h.mean(-1)
            f = h.flatten(2)
            g = h[:, 1:]
            return a, b, c, d, e, f, g
        """
    )
    assert [(o, line) for o, line, _ in _ops(mut, src)] == [
        ("token_pool", 4),
        ("token_pool", 5),
        ("cls_pick", 6),
        ("cls_pick", 7),
    ]
    out = mut.mutate(src, mut.find_sites(src)[2])
    assert "    c = h\n" in out and "x[:, 0] = 0" in out


def test_flatten_forms(mut):
    src = _src(
        """
        import torch
        import tensorflow as tf

        def f(x, y, z, w, v):
            a = x.view(x.size(0), -1)
            b = y.reshape(-1, 16 * 5 * 5)
            c = tf.reshape(z, [-1, 128])
            d = w.flatten(1)
            e = torch.flatten(v, start_dim=1)
            k = x.view(2, 3)
            n = torch.flatten(v)
            return a, b, c, d, e, k, n
        """
    )
    assert [line for o, line, _ in _ops(mut, src) if o == "flatten"] == [5, 6, 7, 8, 9]
    out = mut.mutate(src, mut.find_sites(src)[2])
    assert "    c = z\n" in out


def test_spatial_pool_forms(mut):
    src = _src(
        """
        import torch.nn.functional as F
        from keras import layers, ops

        def f(x, y, z, t):
            a = x.mean((2, 3))
            b = F.adaptive_avg_pool2d(y, 1)
            c = layers.GlobalAveragePooling2D()(z)
            d = ops.mean(t, axis=[1, 2])
            gap = layers.GlobalMaxPooling2D()
            e = gap(z)
            return a, b, c, d, e
        """
    )
    assert [line for o, line, _ in _ops(mut, src) if o == "pool"] == [5, 6, 7, 8, 10]
    out = mut.mutate(src, _ops_site(mut, src, 7))
    assert "    c = z\n" in out


def _ops_site(mut, src, line):
    return next(s for s in mut.find_sites(src) if s.line == line)


def test_mutate_refuses_a_site_that_is_not_there(mut):
    site = _one(mut, TORCH_CNN, "flatten")
    site.column += 1
    with pytest.raises(ValueError):
        mut.mutate(TORCH_CNN, site)


def test_old_line_of_a_changed_line(mut):
    old = "a\nb\nc\nd\n"
    new = "a\nc\nd\n"
    lm = mut.line_map(old, new)
    assert lm == {1: 1, 2: 3, 3: 4}
    assert mut.old_line(lm, 3) == 4


def test_beginner_models_all_have_sites(mut):
    """Every shipped beginner model has at least one mutation site and every mutant compiles."""
    files = mut.beginner_files()
    assert len([f for f in files if f.startswith("torch/")]) >= 15
    assert len([f for f in files if f.startswith("keras/")]) >= 15
    for rel in files:
        with open(os.path.join(mut.MODELS_DIR, rel), encoding="utf-8") as f:
            src = f.read()
        sites = mut.find_sites(src)
        assert sites, rel
        for s in sites:
            mut.mutate(src, s)
