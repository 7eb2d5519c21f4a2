"""DC105 static-trace-disagreement: the trace saw a different input shape than static analysis inferred.

## What it does
Only in trace mode (`--trace`). Compares, for every Dense / Linear the trace built, the input shape static
analysis inferred with the shape the layer really received: a different rank, a different feature (last) axis,
or different `in_features` / `out_features` is reported. The layer's report then uses the traced shape
(`"source": "trace"`).

It is `info` by default: it says something about densecheck's static inference, not about your code (the
findings themselves are computed from the traced shape). Raise it with `severity = {DC105 = "warning"}` to
make every static miss fail a run.

## Why it matters
Static analysis cannot see everything: values decided at run time (configuration, flags flipped by a function,
`setattr`, code generated on the fly) can change what reaches a layer. When the static answer is wrong, every
finding built on it (DC101, DC102, DC103, the parameter counts) may be wrong too; this diagnostic makes sure a
wrong static inference is never silent.

## Example
```python
POOL = False                      # flipped by configure() at run time


def configure(pool):
    global POOL
    POOL = pool


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.fc = nn.Linear(16, 10)   # DC105: static rank 4, traced rank 2

    def forward(self, x):
        x = self.conv(x)
        if POOL:
            x = x.mean(dim=(2, 3))
        return self.fc(x)


def build():
    configure(pool=True)
    return Net()
```

## Use instead
Trust the traced shape (the report already does). Make the decision visible to a reader — pass it as an
argument (`Net(pool=True)`) instead of flipping a global — or, if the code is not dynamic at all, report the
static miss.
"""

from densecheck.rules.base import Rule

_EXAMPLE = (
    "import torch\nfrom torch import nn\n\n"
    "INPUT_SHAPE = (2, 3, 32, 32)\nPOOL = False\n\n\n"
    "def configure(pool):\n    global POOL\n    POOL = pool\n\n\n"
    "class Net(nn.Module):\n"
    "    def __init__(self):\n        super().__init__()\n"
    "        self.conv = nn.Conv2d(3, 16, 3, padding=1)\n        self.fc = nn.Linear(16, 10)\n\n"
    "    def forward(self, x):\n        x = self.conv(x)\n"
    "        if POOL:\n            x = x.mean(dim=(2, 3))\n"
    "        return self.fc(x)\n\n\n"
    "def build():\n    configure(pool=True)\n    return Net()\n"
)


class StaticTraceDisagreement(Rule):
    code = "DC105"
    name = "static-trace-disagreement"
    severity = "info"
    summary = "the traced input shape of a Dense/Linear differs from the statically inferred one"
    #: trace rules: the snippets are run through trace mode (tests/test_trace.py), not through static
    # analysis.
    #: ``TRACE_INPUTS``: the input spec(s) each snippet's ``build`` is traced with.
    requires_trace = True
    TRACE_INPUTS = ["2,3,32,32"]
    INVALID = [_EXAMPLE]
    VALID = [_EXAMPLE.replace("POOL = False", "POOL = True")]

    def check(self, layer, settings):
        t = layer.trace
        if not t or t.get("agrees") is not False:
            return
        statics = t.get("static_input_shapes") or (
            [t["static_input_shape"]] if t.get("static_input_shape") else []
        )
        static_txt = _shapes_txt(statics) if statics else "an unknown shape"
        seen = _shapes_txt(t.get("input_shapes") or [])
        what = {
            "rank": "a different rank",
            "features": "a different feature axis",
            "in_features": f"in_features {t.get('static_in_features')} statically, "
            f"{t.get('in_features')} built",
            "out_features": f"out_features {t.get('static_out_features')} statically, "
            f"{t.get('out_features')} built",
        }
        why = " and ".join(what.get(k, k) for k in t.get("disagreement") or []) or "a different shape"
        rank_txt = _ranks_txt(t.get("static_input_ranks") or [])
        traced_rank_txt = _ranks_txt(t.get("ranks") or [])
        yield self.diagnostic(
            layer,
            f"{layer.call}: static analysis inferred input {static_txt}{rank_txt} but the trace saw {seen}"
            f"{traced_rank_txt} — {why}; the report uses the traced shape",
            fix="the traced shape is what the model really does; make run-time decisions explicit in code, "
            "or report the static miss if the code is not dynamic",
        )


def _shape_txt(dims) -> str:
    parts = ["None" if d is None else str(d) for d in dims]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _shapes_txt(shapes) -> str:
    txt = [_shape_txt(s) for s in shapes]
    return txt[0] if len(txt) == 1 else ", ".join(txt[:-1]) + " and " + txt[-1]


def _ranks_txt(ranks) -> str:
    if not ranks:
        return ""
    return f" (rank {ranks[0]})" if len(ranks) == 1 else f" (ranks {', '.join(map(str, ranks))})"
