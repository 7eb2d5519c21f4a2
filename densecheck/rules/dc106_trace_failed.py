"""DC106 trace-failed: trace mode could not build or run the model.

## What it does
Only in trace mode (`--trace`). Reports a trace target whose code raised an exception (located at the
innermost frame of *your* code, with the exception type and message), that ran past the timeout or the memory
limit, or that cannot be traced as configured (the target does not exist, a PyTorch model without input
shapes, a factory that returns something that is not a model). The static report is produced as usual.

## Why it matters
Trace mode is how densecheck confirms (or corrects) the shapes static analysis inferred. When the trace fails,
the report contains static results only; this diagnostic says so, and why, instead of failing silently or
dumping a traceback into the linter output.

## Example
```python
def build():
    model = Net()
    model.load_state_dict(torch.load("weights.pt"))   # DC106: FileNotFoundError (trace has no weights)
    return model
```

## Use instead
Point the trace at a factory that only *builds* the model: no checkpoints, no data, no downloads (downloads
are disabled during a trace). Give every input shape a PyTorch model needs (`--trace-input 1,3,224,224`, or
`1,128:int64` for token ids), and raise `--trace-timeout` for very large models.
"""

from densecheck.diagnostics import Diagnostic
from densecheck.rules.base import Rule


class TraceFailed(Rule):
    code = "DC106"
    name = "trace-failed"
    severity = "error"
    summary = "trace mode could not build or run the model (exception, timeout, bad target)"
    #: trace rules: the snippets are traced (tests/test_trace.py), not analysed statically
    requires_trace = True
    TRACE_INPUTS = ["2,4"]
    INVALID = [
        "import torch\nfrom torch import nn\n\n\n"
        "def build():\n    model = nn.Sequential(nn.Linear(4, 2))\n"
        '    model.load_state_dict(torch.load("weights.pt"))\n    return model\n',
    ]
    VALID = [
        "import torch\nfrom torch import nn\n\n\ndef build():\n    return nn.Sequential(nn.Linear(4, 2))\n",
    ]

    def failure(
        self, path: str, line: int, column: int | None, message: str, fix: str | None = None
    ) -> Diagnostic:
        """The diagnostic for a failed trace, at the user frame (or the target) ``path:line:column``."""
        col = column or 1
        return Diagnostic(
            path=path,
            line=line or 1,
            column=col,
            end_line=line or 1,
            end_column=col,
            code=self.code,
            severity=self.severity,
            message=message,
            rule=self.name,
            fix=fix,
        )
