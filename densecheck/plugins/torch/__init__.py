"""The PyTorch plugin: ``torch.nn`` layers, ``torch`` / ``F`` functions, tensor methods, nn.Module's protocol.

Shape rules live in :mod:`.layers` (tables of layers, functions and methods); the callables the engine cannot
read (containers, tensor constructors, inherited module methods) in :mod:`.calls`.
"""

from __future__ import annotations

from densecheck.plugins.base import Plugin
from densecheck.plugins.torch import calls, layers


def canonical(qualname: str) -> str | None:
    """``torch.nn.modules.linear.Linear`` -> ``torch.nn.Linear`` (everything under ``torch.nn`` but functional
    and init is re-exported at its top)."""
    q = qualname
    if q.startswith("torch.nn.") and not q.startswith(("torch.nn.functional.", "torch.nn.init")):
        return "torch.nn." + q.rsplit(".", 1)[-1]
    return None


#: tensor methods whose result is a tensor of a shape not tracked
TENSOR_RESULTS = frozenset(
    {
        "scatter",
        "gather",
        "index_fill",
        "sort",
        "topk",
        "argmax",
        "argmin",
        "cumprod",
        "diff",
        "narrow",
        "unfold",
        "roll",
    }
)

PLUGIN = Plugin(
    name="torch",
    order=0,
    roots=("torch",),
    libraries=("torch",),
    layers=layers.LAYERS,
    functions=layers.FUNCTIONS,
    tensor_methods=layers.METHODS,
    tensor_results=TENSOR_RESULTS,
    calls=calls.CALLS,
    module_bases=("torch.nn.Module", "torch.nn.Sequential"),
    call_methods=("forward",),
    module_methods=calls.MODULE_METHODS,
    layer_methods=dict.fromkeys(calls.RETURNS_SELF, calls.returns_self),
    layer_attributes=frozenset(
        {
            "in_features",
            "out_features",
            "out_channels",
            "in_channels",
            "embedding_dim",
            "num_embeddings",
            "hidden_size",
        }
    ),
    containers={"torch.nn.Sequential": calls.sequential},
    tensor_types=frozenset({"torch.Tensor", "torch.FloatTensor"}),
    canonical=canonical,
    inherited=calls.inherited,
    trace_recorder="densecheck.trace.record:torch_sites",
    spelling={
        "flatten": "x = torch.flatten(x, 1)",
        "pool": "x = x.mean(dim=(2, 3))",
        "lazy": "nn.LazyLinear",
    },
)
