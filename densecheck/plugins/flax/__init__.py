"""The Flax plugin: ``flax.linen`` (``@nn.compact`` and ``setup()`` modules, ``Dense``, ``DenseGeneral``,
``Conv``,
pooling, ``Sequential``; ``model.init`` / ``model.apply``) and ``flax.nnx`` (``nnx.Linear(in, out,
rngs=...)``,
``nnx.Conv``, ``nnx.Sequential``).

Both are channels-last, like Keras: a ``Dense`` / ``nnx.Linear`` on a convolution's (N, H, W, C) map acts
at every
pixel, a 1x1 convolution. Shape rules live in :mod:`.linen` and :mod:`.nnx`; the module protocol (dataclass
fields, ``setup``, ``init`` / ``apply``) in :mod:`.calls`. ``framework`` in the report is ``"flax"`` for both.
"""

from __future__ import annotations

from densecheck.plugins.base import Plugin
from densecheck.plugins.flax import calls, linen, nnx


def canonical(qualname: str) -> str | None:
    """``flax.linen.linear.Dense`` -> ``flax.linen.Dense``; ``flax.nnx.nn.linear.Linear`` ->
    ``flax.nnx.Linear``."""
    for ns, table in (("flax.linen.", linen.LAYERS), ("flax.nnx.", nnx.LAYERS)):
        if qualname.startswith(ns) and qualname.count(".") > 2:
            short = ns + qualname.rsplit(".", 1)[-1]
            if short in table or short in linen.FUNCTIONS or short in nnx.FUNCTIONS or short in calls.CALLS:
                return short
    if qualname.startswith("flax.core.frozen_dict."):
        return "flax.core." + qualname.rsplit(".", 1)[-1]
    return None


PLUGIN = Plugin(
    name="flax",
    order=20,
    roots=("flax",),
    libraries=("flax",),
    layers={**linen.LAYERS, **nnx.LAYERS},
    functions={**linen.FUNCTIONS, **nnx.FUNCTIONS},
    calls=calls.CALLS,
    module_bases=(*calls.LINEN_BASES, calls.NNX_MODULE),
    containers=dict.fromkeys(calls.LINEN_BASES, calls.fields),
    tensor_types=frozenset({"flax.typing.Array"}),
    canonical=canonical,
    attribute=calls.attribute,
    trace_recorder="densecheck.trace.jax_record:jax_sites",
    spelling={"flatten": "x = x.reshape((x.shape[0], -1))", "pool": "x = jnp.mean(x, axis=(1, 2))"},
)
