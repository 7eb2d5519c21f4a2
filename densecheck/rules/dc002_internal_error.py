"""DC002 internal-error: densecheck itself failed on this file.

## What it does
Reports a file on which the analysis raised an unexpected exception. The other files are still analysed and
everything already found is kept; the run exits with code 2 so CI notices.

## Why it matters
It is a bug in densecheck, not in your code. Please report it with the file (or a reduced version of it) at
the project's issue tracker.

## Example
Any file that triggers the bug.

## Use instead
Exclude the file until the bug is fixed (`extend-exclude` in `[tool.densecheck]`).
"""

from densecheck.rules.base import Rule


class InternalError(Rule):
    code = "DC002"
    name = "internal-error"
    severity = "error"
    summary = "densecheck failed on this file (a bug: please report it)"
