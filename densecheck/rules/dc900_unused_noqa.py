"""DC900 unused-noqa: a suppression comment that suppresses nothing (off by default).

## What it does
Reports a `# noqa: DC...`, `# densecheck: ignore[...]` or `# densecheck: ignore-file[...]` comment naming a
densecheck code that did not suppress a finding on that line (or file), and a bare `# densecheck: ignore` with
nothing to suppress. A bare `# noqa` and codes of other tools (`E501`, `F401`, ...) are left alone: they may
be meant for flake8 or ruff. Enable it with `extend-select = ["DC900"]` or `--extend-select DC900`.

## Why it matters
Suppressions outlive the code they were written for. A stale `# noqa: DC101` hides nothing today but will
silently hide the next real finding on that line.

## Example
```python
self.head = nn.Linear(512, 10)  # noqa: DC101
```

## Use instead
```python
self.head = nn.Linear(512, 10)
```
"""

from densecheck.rules.base import Rule


class UnusedNoqa(Rule):
    code = "DC900"
    name = "unused-noqa"
    severity = "warning"
    summary = "a suppression comment suppresses nothing"
    default_enabled = False
    INVALID = ["x = 1  # noqa: DC101\n", "x = 1  # densecheck: ignore[DC102]\n"]
    VALID = ["x = 1  # noqa\n", "x = 1  # noqa: E501\n", "s = '# noqa: DC101'\n"]
