"""# noqa, # densecheck: ignore[...], ignore-file, per-file-ignores and DC900 unused-noqa."""

from __future__ import annotations

import pytest

from densecheck import api
from densecheck.config import Settings
from densecheck.diagnostics import Diagnostic
from densecheck.suppressions import apply, parse_directives


def diag(code="DC101", line=1, end_line=None, path="m.py", severity="warning"):
    return Diagnostic(path, line, 1, end_line or line, 5, code, severity, "msg", "rule")


@pytest.mark.parametrize(
    "comment, suppressed",
    [
        ("# noqa", {"DC101", "DC102"}),
        ("# NOQA", {"DC101", "DC102"}),
        ("#noqa:DC101", {"DC101"}),
        ("# noqa: DC101,DC102", {"DC101", "DC102"}),
        ("# noqa: DC101, DC102", {"DC101", "DC102"}),
        ("# noqa: DC101 DC102", {"DC101", "DC102"}),
        ("# noqa: dc102", {"DC102"}),
        ("# noqa: DC101 -- the per-pixel head is deliberate", {"DC101"}),
        ("# noqa: E501", set()),
        ("# noqa:", set()),  # malformed: suppresses nothing rather than everything
        ("# noqa-ish comment", set()),
        ("# type: ignore  # noqa: DC102", {"DC102"}),
        ("# densecheck: ignore", {"DC101", "DC102"}),
        ("# densecheck: ignore[DC101]", {"DC101"}),
        ("# densecheck:ignore[DC101, DC102]", {"DC101", "DC102"}),
        ("# densecheck: ignore[DC103]", set()),
        ("# some comment", set()),
    ],
)
def test_line_directives(comment, suppressed):
    source = f"x = f()  {comment}\n"
    kept = {d.code for d in apply([diag("DC101"), diag("DC102")], source)}
    assert kept == {"DC101", "DC102"} - suppressed


def test_only_the_flagged_lines_count():
    source = "a = 1  # noqa\nb = 2\n"
    assert [d.line for d in apply([diag(line=1), diag(line=2)], source)] == [2]


def test_multiline_call_first_or_last_line():
    source = "fc = nn.Linear(  # noqa: DC102\n    32,\n    10,\n)\n"
    assert apply([diag("DC102", line=1, end_line=4)], source) == []
    source = "fc = nn.Linear(\n    32,\n    10,\n)  # noqa: DC102\n"
    assert apply([diag("DC102", line=1, end_line=4)], source) == []
    source = "fc = nn.Linear(\n    32,  # noqa: DC102\n    10,\n)\n"  # a middle line does not count
    assert len(apply([diag("DC102", line=1, end_line=4)], source)) == 1


def test_noqa_inside_a_string_is_not_a_directive():
    source = 's = "# noqa"\nt = """\n# noqa\n"""\n'
    assert len(apply([diag(line=1), diag(line=3)], source)) == 2


def test_ignore_file():
    source = "# densecheck: ignore-file\nimport torch\n"
    assert apply([diag("DC101", line=2), diag("DC103", line=9)], source) == []
    source = "# densecheck: ignore-file[DC101]\nimport torch\n"
    assert [d.code for d in apply([diag("DC101", line=2), diag("DC103", line=9)], source)] == ["DC103"]


def test_tokenize_failure_keeps_what_was_read():
    source = "x = 1  # noqa: DC101\ny = (\n"  # unterminated bracket: tokenize gives up at the end
    assert apply([diag(line=1)], source) == []


def test_per_file_ignores(tmp_path):
    s = Settings(per_file_ignores={"tests/*": ["DC101"], "*_legacy.py": ["DC1"]}, root=str(tmp_path))
    d = lambda path, code="DC101": diag(code, path=str(tmp_path / path))  # noqa: E731
    assert apply([d("tests/test_x.py")], "", s, str(tmp_path / "tests/test_x.py")) == []
    assert len(apply([d("src/x.py")], "", s, str(tmp_path / "src/x.py"))) == 1
    assert apply([d("a/b/old_legacy.py", "DC103")], "", s, str(tmp_path / "a/b/old_legacy.py")) == []
    assert len(apply([d("tests/test_x.py", "DC102")], "", s, str(tmp_path / "tests/test_x.py"))) == 1


def test_directive_positions():
    (dv,) = parse_directives("x = 1  # noqa: DC101\n")
    assert (dv.line, dv.column, dv.kind, dv.codes) == (1, 8, "noqa", ("DC101",))


# -- DC900 unused-noqa
# ---------------------------------------------------------------------------------------------
ON = Settings(extend_select=["DC900"])


def unused(source, diags=()):
    return [d for d in apply(list(diags), source, ON, "m.py") if d.code == "DC900"]


def test_unused_is_off_by_default():
    assert apply([], "x = 1  # noqa: DC101\n", Settings(), "m.py") == []


def test_unused_noqa_reported():
    (d,) = unused("x = 1  # noqa: DC101\n")
    assert (d.line, d.column, d.severity) == (1, 8, "warning")
    assert "DC101" in d.message and "unused" in d.message
    (d,) = unused("x = 1  # densecheck: ignore[DC101, DC102]\n", [diag("DC101")])
    assert "DC102" in d.message and "DC101" not in d.message
    (d,) = unused("x = 1  # densecheck: ignore\n")
    assert "nothing to suppress" in d.message
    (d,) = unused("x = 1  # noqa: DC199\n")
    assert "not a densecheck rule" in d.message


def test_used_bare_and_foreign_noqa_not_reported():
    assert unused("x = 1  # noqa: DC101\n", [diag("DC101")]) == []
    assert unused("x = 1  # noqa\n") == []
    assert unused("x = 1  # noqa: E501, F401\n") == []
    assert unused("# densecheck: ignore-file[DC101]\n", [diag("DC101", line=7)]) == []


def test_unused_severity_override():
    s = Settings(extend_select=["DC900"], severity={"DC900": "error"})
    (d,) = apply([], "x = 1  # noqa: DC101\n", s, "m.py")
    assert d.severity == "error"


# -- end to end, through the engine
# ---------------------------------------------------------------------------------
MODEL = """import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.fc = nn.Linear(
            32,
            10,
        ){comment}

    def forward(self, x):
        return self.fc(self.conv(x))
"""


def codes(source, settings=None):
    return [d.code for d in api.analyze_source(source, "m.py", settings).diagnostics]


def test_end_to_end_multiline_suppression():
    assert "DC102" in codes(MODEL.format(comment=""))
    assert "DC102" not in codes(MODEL.format(comment="  # noqa: DC102"))
    assert "DC102" not in codes(MODEL.format(comment="  # densecheck: ignore[DC102]"))
    assert "DC102" in codes(MODEL.format(comment="  # noqa: DC101"))
    assert codes(MODEL.format(comment="  # noqa: DC101"), ON).count("DC900") == 1
