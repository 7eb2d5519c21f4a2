"""A read-only, pre-order walk of a libcst tree, several times cheaper than ``node.visit(visitor)``.

libcst's own traversal rebuilds every node it passes through (``_visit_and_replace_children`` constructs and
validates a copy of each node, whitespace included) and dispatches two attribute hooks per field; on a large
model file that costs ~4x the parse itself. The analysis only reads the tree, so it walks it directly: for
each node type, the fields that hold child nodes, in the lexical order libcst's traversal uses (learned once
per type from libcst itself, so it follows the installed version), minus the fields that only hold whitespace
and punctuation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import libcst as cst

#: Fields that hold only whitespace, comments or punctuation: never a statement or an expression.
_PUNCTUATION = frozenset(
    {
        "lpar",
        "rpar",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "comma",
        "semicolon",
        "colon",
        "equal",
        "dot",
        "star",
        "operator",
        "leading_lines",
        "lines_after_decorators",
        "header",
        "footer",
        "asynchronous",
        "trailing_whitespace",
        "newline",
        "whitespace_before_colon",
        "whitespace_after_star",
        "whitespace_after_arg",
        "whitespace_before_arg",
        "whitespace_before_indent",
    }
)

_FIELDS: dict[type, tuple[str, ...]] = {}


class _FieldOrder(cst.CSTVisitor):
    """Records the attributes libcst's traversal visits on one node, in order, without descending."""

    def __init__(self) -> None:
        self.fields: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if attribute not in self.fields:
            self.fields.append(attribute)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        pass


def _fields(node: cst.CSTNode) -> tuple[str, ...]:
    tp = type(node)
    fields = _FIELDS.get(tp)
    if fields is None:
        order = _FieldOrder()
        node._visit_and_replace_children(order)  # the order libcst itself visits children in
        fields = _FIELDS[tp] = tuple(
            f for f in order.fields if f not in _PUNCTUATION and not f.startswith("whitespace")
        )
    return fields


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The child nodes of ``node`` that can hold code, in lexical order."""
    for name in _fields(node):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, (tuple, list)):
            for item in value:
                if isinstance(item, cst.CSTNode):
                    yield item


def walk(
    root: cst.CSTNode,
    enter: Callable[[cst.CSTNode], object],
    leave: Callable[[cst.CSTNode], object] | None = None,
) -> None:
    """Call ``enter(node)`` for every node in pre-order (libcst's visiting order) and ``leave(node)`` after
    its subtree. Iterative, so the walk itself never hits the recursion limit."""
    enter(root)
    stack: list[tuple[cst.CSTNode, Iterator[cst.CSTNode]]] = [(root, children(root))]
    while stack:
        node, it = stack[-1]
        child = next(it, None)
        if child is None:
            stack.pop()
            if leave is not None:
                leave(node)
            continue
        enter(child)
        stack.append((child, children(child)))
