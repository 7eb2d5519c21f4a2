"""Model forms and name-resolution forms, as small inline sources through ``api.analyze_source``.

Each source is a complete little model file (``build()``, and for torch ``example_input()`` plus the
``__main__`` block densecheck reads the input shape from). The static report is checked for the number of
layers, their canonical ``layer`` names and ranks; ranks, shapes and params are cross-checked against the
framework building the same source (cheap: tiny models, torch on the meta device, keras symbolic).
"""

from __future__ import annotations

import textwrap

import pytest
from truth_helpers import record_fixture, require

from densecheck import api

DENSE = "keras.layers.Dense"
LINEAR = "torch.nn.Linear"
LAZY = "torch.nn.LazyLinear"

pytestmark = pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning")


def analyze(src: str, tmp_path, framework: str):
    """(static layer JSONs sorted by line, path) of ``src`` written to a file."""
    path = tmp_path / framework / "model.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    src = textwrap.dedent(src)
    path.write_text(src, encoding="utf-8")
    res = api.analyze_source(src, str(path))
    assert not [d for d in res.diagnostics if d.code in ("DC001", "DC002")], res.diagnostics
    return sorted((layer.to_json() for layer in res.layers), key=lambda j: (j["line"], j["column"])), path


def cross_check(layers: list[dict], path, framework: str) -> None:
    """Same sites as the framework builds, same ranks, same known dims, same params."""
    require(framework)
    records = {(r.line, r.column): r for r in record_fixture(path, framework=framework)}
    assert sorted(records) == [(j["line"], j["column"]) for j in layers]
    for j in layers:
        rec = records[(j["line"], j["column"])]
        assert j["layer"] == rec.layer
        assert j["input_ranks"] == sorted({len(s) for s in rec.input_shapes}), (j, rec)
        assert j["input_shape"] is not None
        for a, b in zip(j["input_shape"][1:], rec.input_shapes[0][1:]):
            assert a is None or a == b, (j["input_shape"], rec.input_shapes)
        assert j["params"] == rec.params, (j, rec)


def check(src: str, tmp_path, framework: str, names: list[str], ranks: list[int | None]) -> list[dict]:
    layers, path = analyze(src, tmp_path, framework)
    assert [j["layer"] for j in layers] == names
    assert [j["input_rank"] for j in layers] == ranks
    cross_check(layers, path, framework)
    return layers


#
#
#
#
#
#
# ========================================================================================== Keras model forms
#
#
#
#
#
#
# ============================================================================================================

KERAS_FORMS = {
    "sequential_list": (
        """
        import keras
        from keras import layers

        def build():
            return keras.Sequential([
                keras.Input(shape=(4, 6)),
                layers.Dense(5),
                layers.Flatten(),
                layers.Dense(3),
            ])
        """,
        [3, 2],
    ),
    "sequential_add": (
        """
        import keras
        from keras import layers

        def build():
            model = keras.Sequential()
            model.add(keras.Input(shape=(8,)))
            model.add(layers.Dense(4, activation="relu"))
            model.add(layers.Dropout(0.5))
            model.add(layers.Dense(2))
            return model
        """,
        [2, 2],
    ),
    "sequential_input_shape_kwarg": (
        """
        from keras.models import Sequential
        from keras.layers import Dense, Activation

        def build():
            model = Sequential()
            model.add(Dense(16, input_shape=(3, 2)))
            model.add(Activation("relu"))
            model.add(Dense(4))
            return model
        """,
        [3, 3],
    ),
    "functional": (
        """
        import keras
        from keras import layers

        def build():
            inputs = keras.Input(shape=(10, 3))
            x = layers.Conv1D(4, 3, activation="relu")(inputs)
            x = layers.Dense(2)(x)
            x = layers.GlobalAveragePooling1D()(x)
            outputs = layers.Dense(1)(x)
            return keras.Model(inputs=inputs, outputs=outputs)
        """,
        [3, 2],
    ),
    "subclassed_model": (
        """
        import keras
        from keras import layers

        class Net(keras.Model):
            def __init__(self, hidden=8, **kwargs):
                super().__init__(**kwargs)
                self.fc1 = layers.Dense(hidden, activation="relu")
                self.fc2 = layers.Dense(3)

            def call(self, x):
                return self.fc2(self.fc1(x))

        def build():
            inputs = keras.Input(shape=(6,))
            return keras.Model(inputs, Net()(inputs))
        """,
        [2, 2],
    ),
    "subclassed_layer": (
        """
        import keras
        from keras import layers

        class TokenMLP(layers.Layer):
            def __init__(self, dim=4, **kwargs):
                super().__init__(**kwargs)
                self.up = layers.Dense(dim * 2, activation="gelu")
                self.down = layers.Dense(dim)

            def call(self, x):
                return x + self.down(self.up(x))

        def build():
            inputs = keras.Input(shape=(5, 4))
            x = TokenMLP()(inputs)
            x = layers.Flatten()(x)
            return keras.Model(inputs, layers.Dense(2)(x))
        """,
        [3, 3, 2],
    ),
}


@pytest.mark.parametrize("form", list(KERAS_FORMS))
def test_keras_model_forms(form, tmp_path):
    src, ranks = KERAS_FORMS[form]
    check(src, tmp_path, "keras", [DENSE] * len(ranks), ranks)


#
#
#
#
#
#
# ====================================================================================== Keras name resolution
#
#
#
#
#
#
# ============================================================================================================


def _keras_one(imports: str, ctor: str) -> str:
    return f"""
        {imports}

        def build():
            inputs = keras.Input(shape=(3, 5))
            outputs = {ctor}(7)(inputs)
            return keras.Model(inputs, outputs)
        """


KERAS_NAMES = {
    "keras.layers.Dense": _keras_one("import keras", "keras.layers.Dense"),
    "tf.keras.layers.Dense": _keras_one(
        "import keras\n        import tensorflow as tf", "tf.keras.layers.Dense"
    ),
    "from tensorflow.keras.layers import Dense as D": _keras_one(
        "import keras\n        from tensorflow.keras.layers import Dense as D", "D"
    ),
    "from keras.layers import Dense": _keras_one(
        "import keras\n        from keras.layers import Dense", "Dense"
    ),
    "from keras import layers": _keras_one("import keras\n        from keras import layers", "layers.Dense"),
    "import keras.layers as kl": _keras_one("import keras\n        import keras.layers as kl", "kl.Dense"),
    "from tensorflow import keras": _keras_one("from tensorflow import keras", "keras.layers.Dense"),
}


@pytest.mark.parametrize("spelling", list(KERAS_NAMES))
def test_keras_name_forms(spelling, tmp_path):
    layers = check(KERAS_NAMES[spelling], tmp_path, "keras", [DENSE], [3])
    assert layers[0]["input_shape"][1:] == [3, 5]
    assert layers[0]["behaves_as"] == "pointwise"


def test_keras_local_class_named_dense_is_not_a_layer(tmp_path):
    src = """
        import keras

        class Dense:
            def __init__(self, units):
                self.units = units

        def build():
            spec = Dense(32)
            inputs = keras.Input(shape=(4,))
            return keras.Model(inputs, keras.layers.Dense(spec.units)(inputs))
        """
    layers = check(src, tmp_path, "keras", [DENSE], [2])
    assert layers[0]["call"].startswith("keras.layers.Dense")


def test_keras_local_class_shadowing_an_import_is_not_a_layer(tmp_path):
    src = """
        import keras
        from keras.layers import Dense

        class Dense:  # shadows the import from here on
            def __init__(self, units):
                self.units = units

        def build():
            spec = Dense(32)
            inputs = keras.Input(shape=(4,))
            return keras.Model(inputs, keras.layers.Dense(spec.units)(inputs))
        """
    check(src, tmp_path, "keras", [DENSE], [2])


#
#
#
#
#
#
# ======================================================================================== PyTorch model forms
#
#
#
#
#
#
# ============================================================================================================

TORCH_FORMS = {
    "sequential_positional": (
        """
        import torch
        from torch import nn

        INPUT_SHAPE = (2, 3, 4)

        def build():
            return nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.ReLU(), nn.Linear(4, 2))

        def example_input():
            return torch.randn(INPUT_SHAPE)

        if __name__ == "__main__":
            model = build()
            x = torch.randn(2, 3, 4)
            model(x)
        """,
        [LINEAR, LINEAR],
        [2, 2],
    ),
    "sequential_ordereddict": (
        """
        from collections import OrderedDict

        import torch
        from torch import nn

        INPUT_SHAPE = (2, 5, 6)

        def build():
            return nn.Sequential(OrderedDict([
                ("fc1", nn.Linear(6, 8)),
                ("act", nn.GELU()),
                ("fc2", nn.Linear(8, 6)),
            ]))

        def example_input():
            return torch.randn(INPUT_SHAPE)

        if __name__ == "__main__":
            model = build()
            x = torch.randn(2, 5, 6)
            model(x)
        """,
        [LINEAR, LINEAR],
        [3, 3],
    ),
    "module": (
        """
        import torch
        import torch.nn.functional as F
        from torch import nn

        INPUT_SHAPE = (2, 1, 8, 8)

        class Net(nn.Module):
            def __init__(self, classes=3):
                super().__init__()
                self.conv = nn.Conv2d(1, 4, 3, padding=1)
                self.fc = nn.Linear(4 * 4 * 4, classes)

            def forward(self, x):
                x = F.max_pool2d(F.relu(self.conv(x)), 2)
                return self.fc(x.view(x.size(0), -1))

        def build():
            return Net()

        def example_input():
            return torch.randn(INPUT_SHAPE)

        if __name__ == "__main__":
            model = Net()
            x = torch.randn(2, 1, 8, 8)
            model(x)
        """,
        [LINEAR],
        [2],
    ),
    "module_with_sequential_attribute": (
        """
        import torch
        from torch import nn

        INPUT_SHAPE = (2, 10)

        class MLP(nn.Module):
            def __init__(self, dims=(10, 16, 4)):
                super().__init__()
                self.net = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 4))

            def forward(self, x):
                return self.net(x)

        def build():
            return MLP()

        def example_input():
            return torch.randn(INPUT_SHAPE)

        if __name__ == "__main__":
            model = MLP()
            x = torch.randn(2, 10)
            model(x)
        """,
        [LINEAR, LINEAR],
        [2, 2],
    ),
}


@pytest.mark.parametrize("form", list(TORCH_FORMS))
def test_torch_model_forms(form, tmp_path):
    src, names, ranks = TORCH_FORMS[form]
    check(src, tmp_path, "torch", names, ranks)


#
#
#
#
#
#
# ==================================================================================== PyTorch name resolution
#
#
#
#
#
#
# ============================================================================================================


def _torch_one(imports: str, ctor: str) -> str:
    return f"""
        {imports}

        INPUT_SHAPE = (2, 5, 6)

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = {ctor}

            def forward(self, x):
                return self.fc(x)

        def build():
            return Net()

        def example_input():
            return torch.randn(INPUT_SHAPE)

        if __name__ == "__main__":
            model = Net()
            x = torch.randn(2, 5, 6)
            model(x)
        """


TORCH_NAMES = {
    "torch.nn.Linear": (_torch_one("import torch", "torch.nn.Linear(6, 3)"), LINEAR),
    "from torch import nn": (
        _torch_one("import torch\n        from torch import nn", "nn.Linear(6, 3)"),
        LINEAR,
    ),
    "import torch.nn as nn": (
        _torch_one("import torch\n        import torch.nn as nn", "nn.Linear(6, 3)"),
        LINEAR,
    ),
    "nn.LazyLinear": (_torch_one("import torch\n        from torch import nn", "nn.LazyLinear(3)"), LAZY),
    "from torch.nn import Linear as L": (
        _torch_one("import torch\n        from torch.nn import Linear as L", "L(6, 3)"),
        LINEAR,
    ),
    "from torch.nn import LazyLinear": (
        _torch_one("import torch\n        from torch.nn import LazyLinear", "LazyLinear(3)"),
        LAZY,
    ),
    "torch.nn.modules.linear.Linear": (
        _torch_one("import torch\n        from torch.nn.modules.linear import Linear", "Linear(6, 3)"),
        LINEAR,
    ),
    "keyword arguments": (
        _torch_one("import torch", "torch.nn.Linear(in_features=6, out_features=3, bias=False)"),
        LINEAR,
    ),
}


@pytest.mark.parametrize("spelling", list(TORCH_NAMES))
def test_torch_name_forms(spelling, tmp_path):
    src, name = TORCH_NAMES[spelling]
    layers = check(src, tmp_path, "torch", [name], [3])
    assert layers[0]["input_shape"] == [2, 5, 6]
    assert layers[0]["behaves_as"] == "pointwise"
    assert layers[0]["in_features"] == 6 and layers[0]["out_features"] == 3


def test_torch_local_class_named_linear_is_not_a_layer(tmp_path):
    src = """
        import torch
        from torch import nn

        INPUT_SHAPE = (2, 4)

        class Linear:
            \"\"\"y = a * x + b, a plain function object.\"\"\"

            def __init__(self, a, b):
                self.a, self.b = a, b

            def __call__(self, x):
                return self.a * x + self.b

        def build():
            return nn.Sequential(nn.Tanh())

        def example_input():
            return torch.randn(INPUT_SHAPE)

        if __name__ == "__main__":
            f = Linear(4, 2)
            model = build()
            x = torch.randn(2, 4)
            model(f(x))
        """
    check(src, tmp_path, "torch", [], [])


def test_torch_local_class_shadowing_an_import_is_not_a_layer(tmp_path):
    src = """
        import torch
        from torch import nn
        from torch.nn import Linear

        INPUT_SHAPE = (2, 4)

        class Linear:  # shadows the import from here on
            def __init__(self, a, b):
                self.a, self.b = a, b

        def build():
            Linear(4, 2)
            return nn.Sequential(nn.Linear(4, 2))

        def example_input():
            return torch.randn(INPUT_SHAPE)

        if __name__ == "__main__":
            model = build()
            x = torch.randn(2, 4)
            model(x)
        """
    check(src, tmp_path, "torch", [LINEAR], [2])


def test_mixed_file_reports_both_frameworks(tmp_path):
    """A file may hold a torch and a keras model; each layer carries its own framework and canonical name."""
    src = """
        import keras
        import torch
        from torch import nn

        t = nn.Linear(4, 2)
        k = keras.layers.Dense(2)
        """
    layers, _ = analyze(src, tmp_path, "mixed")
    assert [(j["framework"], j["layer"]) for j in layers] == [("torch", LINEAR), ("keras", DENSE)]
    assert [j["input_rank"] for j in layers] == [None, None]
    assert layers[0]["params"] == 4 * 2 + 2  # declared in_features: known without an input
    assert layers[1]["params"] is None  # keras infers in_features from an input nobody gave
