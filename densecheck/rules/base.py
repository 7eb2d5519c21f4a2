"""The Rule base class and the registry of all rules.

Every rule lives in its own module named after its code (``dc101_spatial_positions.py``). The module docstring
is what ``densecheck explain CODE`` prints: what it detects, why it matters, an example and what to use
instead. The class's ``VALID`` / ``INVALID`` source snippets are the rule's tests (tests/test_rules.py runs
every one of them), so the documentation cannot drift from the behaviour.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from densecheck.diagnostics import Diagnostic

if TYPE_CHECKING:  # pragma: no cover
    from densecheck.layers import LayerReport


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]  # kebab-case, e.g. "dense-over-spatial-positions"
    severity: ClassVar[str]  # default severity
    summary: ClassVar[str]  # one line, for the rule listing
    default_enabled: ClassVar[bool] = True
    #: source snippets the rule must not flag / must flag (each INVALID snippet at least once)
    VALID: ClassVar[list[str]] = []
    INVALID: ClassVar[list[str]] = []

    def check(self, layer: LayerReport, settings) -> Iterator[Diagnostic]:  # pragma: no cover - abstract
        return iter(())

    # helpers ------------------------------------------------------------------------------------------------
    def diagnostic(self, layer: LayerReport, message: str, fix: str | None = None) -> Diagnostic:
        return Diagnostic(
            path=layer.path,
            line=layer.line,
            column=layer.column,
            end_line=layer.end_line,
            end_column=layer.end_column,
            code=self.code,
            severity=self.severity,
            message=message,
            rule=self.name,
            fix=fix,
        )

    @classmethod
    def documentation(cls) -> str:
        """The explain text: the defining module's docstring."""
        mod = inspect.getmodule(cls)
        return inspect.cleandoc(mod.__doc__ or cls.__doc__ or "")
