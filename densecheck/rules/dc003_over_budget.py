"""DC003 over-budget: the file took more time or memory than its per-file budget, so it was not analysed.

## What it does
Reports a file whose analysis ran past `file-timeout` (seconds, default 60) or `file-memory` (MB, default
4096), set in `[tool.densecheck]`. The file's analysis is stopped and the run goes on with the other files;
their findings are all kept. A file over its budget is never cached.

## Why it matters
The budgets are far beyond what real model code needs (the largest file in transformers takes under a second),
so a file that reaches one is generated, or built to make the linter hang or run the machine out of memory --
which a pull request from a stranger can do. Without a budget one such file would stop the whole check.

## Example
A 4 MB generated module (libcst alone takes ~26 s and ~2.7 GB to parse one) with `file-timeout = 10`.

## Use instead
Exclude generated files (`extend-exclude`), or raise the budget for a tree you trust:

```toml
[tool.densecheck]
file-timeout = 300
file-memory = 16384
```
"""

from densecheck.rules.base import Rule


class OverBudget(Rule):
    code = "DC003"
    name = "over-budget"
    severity = "error"
    summary = "the file took more time or memory than its per-file budget and was not analysed"
