"""DC001 parse-error: the file could not be parsed as Python.

## What it does
Reports a file that libcst cannot parse (a syntax error, Python 2 syntax, a file that is not text). The rest
of the run goes on: the other files are still analysed.

## Why it matters
densecheck cannot say anything about layers in a file it cannot read. A syntax error in a model file is
usually caught elsewhere too, but a silently skipped file would hide every finding in it.

## Example
```python
def forward(self, x)
    return self.fc(x)
```

## Use instead
Fix the syntax error, or exclude the file (`extend-exclude` in `[tool.densecheck]`).
"""

from densecheck.rules.base import Rule


class ParseError(Rule):
    code = "DC001"
    name = "parse-error"
    severity = "error"
    summary = "file could not be parsed"
    INVALID = ["def forward(self, x)\n    return x\n"]
    VALID = ["x = 1\n"]
