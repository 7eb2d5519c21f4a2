"""The Keras plugin (Keras 3 and tf.keras): ``keras.layers`` layers, ``keras.ops`` / ``tf`` functions, models.

Shape rules live in :mod:`.layers`; Sequential, Input, Model, the wrapper layers and ``build`` in
:mod:`.calls`.
"""

from __future__ import annotations

from densecheck.plugins.base import Plugin
from densecheck.plugins.keras import calls, layers

_ROOTS = (
    "tensorflow.keras.",
    "tensorflow.python.keras.",
    "tf_keras.",
    "keras_core.",  # Keras 3's preview name: ``import keras_core as keras``
    "keras.src.",
    "keras.api.",
    "tensorflow.compat.v1.keras.",
    "tensorflow.compat.v2.keras.",
)


def canonical(qualname: str) -> str | None:
    """``tensorflow.keras.layers.Dense``, ``keras.src.layers.core.dense.Dense`` -> ``keras.layers.Dense``;
    ``tensorflow.reshape`` -> ``tf.reshape``."""
    q = qualname
    for root in _ROOTS:
        if q.startswith(root):
            q = "keras." + q[len(root) :]
            break
    if q.startswith("keras."):
        last = q.rsplit(".", 1)[-1]
        if q.startswith(("keras.layers.", "keras.engine.", "keras.models.")) or q.count(".") == 1:
            if "keras.layers." + last in layers.LAYERS:
                return "keras.layers." + last
            if "keras." + last in layers.SPECIAL:
                return "keras." + last
        if q.startswith("keras.backend.") or q.startswith("keras.ops."):
            return "keras.ops." + last
        return q
    if q.startswith("tensorflow."):
        return "tf." + q[len("tensorflow.") :]
    return None


PLUGIN = Plugin(
    name="keras",
    order=1,
    roots=("keras", "tensorflow", "tf_keras", "keras_core"),
    libraries=("keras", "tensorflow", "tf_keras", "keras_core"),
    layers=layers.LAYERS,
    functions=layers.FUNCTIONS,
    calls=calls.CALLS,
    module_bases=("keras.layers.Layer", "keras.Model", "keras.models.Model", "keras.Layer"),
    call_methods=("call",),
    module_methods={"build": calls.module_build},
    layer_attributes=frozenset({"units", "filters"}),
    sequential_add=calls.add,
    tensor_types=frozenset({"tf.Tensor", "keras.KerasTensor"}),
    canonical=canonical,
    built_shape=calls.built_shape,
    attribute=calls.attribute,
    trace_recorder="densecheck.trace.record:keras_sites",
    spelling={"flatten": "layers.Flatten()", "pool": "layers.GlobalAveragePooling2D()"},
)
