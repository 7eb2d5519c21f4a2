"""Every rule's documentation is complete, and its VALID / INVALID snippets behave as documented."""

from __future__ import annotations

import pytest

from densecheck import api
from densecheck.config import Settings
from densecheck.rules import ALL_RULES, LAYER_RULES, RULES

SECTIONS = ("## What it does", "## Why it matters", "## Example", "## Use instead")

#: trace rules' snippets need trace mode (they run in tests/test_trace.py); every other rule's run statically
STATIC_RULES = [r for r in ALL_RULES if not getattr(r, "requires_trace", False)]
CASES = [(r.code, "INVALID", i, src) for r in STATIC_RULES for i, src in enumerate(r.INVALID)] + [
    (r.code, "VALID", i, src) for r in STATIC_RULES for i, src in enumerate(r.VALID)
]


def settings_for(code: str) -> Settings:
    return Settings(extend_select=[code])  # rules that are off by default are tested too


@pytest.mark.parametrize("code, kind, index, source", CASES, ids=[f"{c}-{k}-{i}" for c, k, i, _ in CASES])
def test_snippet(code, kind, index, source):
    result = api.analyze_source(source, f"{code.lower()}_{kind.lower()}_{index}.py", settings_for(code))
    assert not result.internal_error, [d.message for d in result.diagnostics]
    codes = [d.code for d in result.diagnostics]
    if kind == "INVALID":
        assert code in codes, f"{code} should fire on:\n{source}\ngot {codes}"
    else:
        assert code not in codes, f"{code} should not fire on:\n{source}\ngot {result.diagnostics}"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_documentation(rule):
    doc = rule.documentation()
    assert doc.startswith(f"{rule.code} {rule.name}: "), doc.splitlines()[0]
    positions = [doc.find(s) for s in SECTIONS]
    assert all(p >= 0 for p in positions), f"{rule.code} documentation lacks {SECTIONS}"
    assert positions == sorted(positions), "sections out of order"
    for section, start in zip(SECTIONS, positions):
        body = doc[start + len(section) :].split("\n## ", 1)[0]
        assert body.strip(), f"{rule.code}: empty {section}"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_metadata(rule):
    assert rule.code[:2] == "DC" and rule.code[2:].isdigit() and len(rule.code) == 5
    assert rule.name == rule.name.lower() and " " not in rule.name
    assert rule.severity in ("error", "warning", "info")
    assert rule.summary and "\n" not in rule.summary
    if rule in LAYER_RULES:  # a rule over layer reports documents itself by example
        assert rule.INVALID and rule.VALID


def test_codes_and_names_are_unique():
    assert len(RULES) == len(ALL_RULES)
    assert len({r.name for r in ALL_RULES}) == len(ALL_RULES)


def test_fc_param_budget_flags_vgg16_with_the_default_budget():
    source = (
        "import keras\nfrom keras import layers\nx = keras.Input(shape=(7, 7, 512))\n"
        "x = layers.Flatten()(x)\nx = layers.Dense(4096)(x)\nx = layers.Dense(4096)(x)\n"
        "y = layers.Dense(1000)(x)\n"
    )
    result = api.analyze_source(source, "vgg.py")
    flagged = [d for d in result.diagnostics if d.code == "DC104"]
    assert [d.line for d in flagged] == [5]
    assert "102,764,544" in flagged[0].message
    assert Settings().fc_param_budget == 25_000_000
    assert [
        d.line
        for d in api.analyze_source(source, "vgg.py", Settings(fc_param_budget=10_000_000)).diagnostics
        if d.code == "DC104"
    ] == [5, 6]
