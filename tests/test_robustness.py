"""Bad inputs (issue 7): every odd file a linter meets in CI has a clear outcome, never a crash or a hang.

Each input is checked through the API (``densecheck.api``) and through the command line in a subprocess
(``python -m densecheck``): the expected exit code, the message, and never a traceback. The outcomes:

* decodable source (PEP 263 cookie, BOM, CRLF or CR line ends, form feeds, 3.12 syntax) is analysed, positions
  right;
* undecodable, NUL bytes, binary, Python 2, a syntax error: one DC001 with the reason and, when known, the
  line;
* nesting deeper than CPython itself accepts, or deeper than the analysis can recurse: DC001 "too deeply
  nested" (never a segfault of libcst's native parser, never an internal error);
* a file over ``api.MAX_FILE_BYTES`` (4 MiB; libcst needs ~700 bytes of memory per source byte): DC001 "too
  large", without reading it;
* unreadable, a FIFO or a symlink loop named ``x.py``: DC001 "cannot read"; a directory named ``x.py`` is a
  directory;
* a missing path or an invalid configuration: exit code 2 and a one-line message naming it.
"""

from __future__ import annotations

import builtins
import errno
import inspect
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from densecheck import api
from densecheck.config import Settings
from densecheck.discover import discover

TORCH_MODEL = (
    "import torch\n"
    "from torch import nn\n"
    "\n"
    "class Net(nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.conv = nn.Conv2d(3, 16, 3, padding=1)\n"
    "        self.fc = nn.Linear(32, 10)\n"
    "\n"
    "    def forward(self, x):\n"
    "        return self.fc(self.conv(x))\n"
)
#: where TORCH_MODEL's Linear is, and what is found there
LINEAR_AT = (8, 19)
HEAD = "import torch\nfrom torch import nn\nfc = nn.Linear(4, 5)\n"  # one layer at line 3


# -- helpers -------------------------------------------------------------------------------------------------
def cli(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    """``python -m densecheck ARGS`` in ``cwd``; never a traceback, never killed by a signal."""
    r = subprocess.run(
        [sys.executable, "-m", "densecheck", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        errors="replace",
    )
    assert r.returncode >= 0, f"densecheck died from signal {-r.returncode}\n{r.stderr}"
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    return r


def file_diags(res: api.FileResult, code: str = "DC001") -> list:
    return [d for d in res.diagnostics if d.code == code]


def only_dc001(res: api.FileResult, *needles: str):
    """``res`` is exactly one DC001 whose message contains every needle (case-insensitive); returns it."""
    assert not res.internal_error, res.diagnostics
    assert not res.layers
    assert [d.code for d in res.diagnostics] == ["DC001"], res.diagnostics
    d = res.diagnostics[0]
    for n in needles:
        assert n.lower() in d.message.lower(), d.message
    assert d.severity == "error"
    return d


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return p


def analysed_ok(res: api.FileResult, layers: int | None = None) -> None:
    assert not res.internal_error, res.diagnostics
    assert not file_diags(res, "DC001") and not file_diags(res, "DC002"), res.diagnostics
    if layers is not None:
        assert len(res.layers) == layers, res.layers


def cli_dc001(tmp_path: Path, name: str, *needles: str, line: int | None = None) -> str:
    """The CLI reports ``name`` with one DC001 (exit 1) whose line holds every needle."""
    r = cli("--isolated", name, cwd=tmp_path)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    lines = [ln for ln in r.stdout.splitlines() if " DC001 " in ln]
    assert len(lines) == 1, r.stdout
    assert lines[0].startswith(f"{name}:{line}:" if line else f"{name}:"), lines[0]
    for n in needles:
        assert n.lower() in lines[0].lower(), lines[0]
    return lines[0]


# -- encodings -----------------------------------------------------------------------------------------------
LATIN1 = ("# -*- coding: latin-1 -*-\n# caf\xe9 cr\xe8me\n" + TORCH_MODEL.split("\n", 1)[1]).encode("latin-1")


def test_latin1_with_cookie_is_analysed(tmp_path):
    p = write(tmp_path, "latin1.py", "")
    p.write_bytes(
        b"# -*- coding: latin-1 -*-\n# caf\xe9 cr\xe8me\nimport torch\n"
        + TORCH_MODEL.split("\n", 1)[1].encode()
    )
    res = api.analyze_file(str(p))
    analysed_ok(res, layers=1)
    assert (res.layers[0].line, res.layers[0].column) == (LINEAR_AT[0] + 2, LINEAR_AT[1])
    assert [d.code for d in res.diagnostics] == ["DC102"]
    r = cli("--isolated", "latin1.py", cwd=tmp_path)
    assert r.returncode == 1 and f"latin1.py:{LINEAR_AT[0] + 2}:{LINEAR_AT[1]}: DC102" in r.stdout


def test_invalid_utf8_without_cookie_is_cannot_decode(tmp_path):
    p = write(tmp_path, "bad_utf8.py", b"import torch\n\nx = 1\ns = '\xff\xfe caf\xe9'\n")
    d = only_dc001(api.analyze_file(str(p)), "cannot decode", "utf-8")
    assert d.line == 4
    cli_dc001(tmp_path, "bad_utf8.py", "cannot decode", line=4)


def test_invalid_utf8_in_first_line_is_cannot_decode(tmp_path):
    # tokenize.detect_encoding reports this as "invalid or missing encoding declaration": still located
    p = write(tmp_path, "bad_first.py", b"s = 'caf\xe9'\n")
    d = only_dc001(api.analyze_file(str(p)), "cannot decode")
    assert (d.line, d.column) == (1, 9)
    cli_dc001(tmp_path, "bad_first.py", "cannot decode", line=1)


@pytest.mark.parametrize(
    "cookie, needle",
    [
        (b"# -*- coding: klingon -*-\n", "unknown encoding: klingon"),
        (b"# coding: rot13\n", "not a text encoding"),
        (b"\xef\xbb\xbf# coding: latin-1\n", "cannot decode"),  # a BOM says utf-8, the cookie disagrees
    ],
)
def test_bad_encoding_declaration_is_cannot_decode(tmp_path, cookie, needle):
    p = write(tmp_path, "cookie.py", cookie + b"x = 1\n")
    only_dc001(api.analyze_file(str(p)), "cannot decode", needle)
    cli_dc001(tmp_path, "cookie.py", needle)


def test_utf16_file_is_cannot_decode(tmp_path):
    p = write(tmp_path, "utf16.py", TORCH_MODEL.encode("utf-16"))
    only_dc001(api.analyze_file(str(p)), "cannot decode")
    cli_dc001(tmp_path, "utf16.py", "cannot decode")


def test_utf8_bom_is_analysed_with_positions(tmp_path):
    p = write(tmp_path, "bom.py", b"\xef\xbb\xbf" + TORCH_MODEL.encode())
    res = api.analyze_file(str(p))
    analysed_ok(res, layers=1)
    assert (res.layers[0].line, res.layers[0].column) == LINEAR_AT
    # text given as str with the BOM still in it
    res = api.analyze_source("\ufeff" + TORCH_MODEL, "bom.py")
    analysed_ok(res, layers=1)
    assert (res.layers[0].line, res.layers[0].column) == LINEAR_AT
    r = cli("--isolated", "bom.py", cwd=tmp_path)
    assert r.returncode == 1 and f"bom.py:{LINEAR_AT[0]}:{LINEAR_AT[1]}: DC102" in r.stdout


@pytest.mark.parametrize("newline", ["\r\n", "\r", "mixed"])
def test_crlf_and_cr_line_ends_keep_positions(tmp_path, newline):
    lines = TORCH_MODEL.split("\n")
    if newline == "mixed":
        text = "".join(ln + ("\r\n" if i % 2 else "\n") for i, ln in enumerate(lines[:-1]))
    else:
        text = newline.join(lines)
    p = write(tmp_path, "crlf.py", text.encode())
    res = api.analyze_file(str(p))
    analysed_ok(res, layers=1)
    assert (res.layers[0].line, res.layers[0].column) == LINEAR_AT
    assert [(d.code, d.line, d.column) for d in res.diagnostics] == [("DC102", *LINEAR_AT)]
    r = cli("--isolated", "crlf.py", cwd=tmp_path)
    assert r.returncode == 1 and f"crlf.py:{LINEAR_AT[0]}:{LINEAR_AT[1]}: DC102" in r.stdout


def test_python2_style_except_is_python_314_syntax():
    # `except A, B:` is Python 2's `except A as B` -- and, since PEP 758, valid Python 3.14 (two exception
    # types)
    res = api.analyze_source("try:\n    pass\nexcept Exception, e:\n    pass\n", "x.py")
    analysed_ok(res, layers=0)


@pytest.mark.parametrize(
    "src, at",
    [
        (
            "\x0cimport torch\nfrom torch import nn\n\x0c\n# ünïcödé\nschicht_ä = nn.Linear(4, 5)\n",
            (5, 13, 28),
        ),
        ("import torch\nfrom torch import nn\n\x0c\nschicht_ä = nn.Linear(4, 5)\n", (4, 13, 28)),
        ("import torch\nfrom torch import nn\nx = '\x1c'; y = 'ä'; fc = nn.Linear(4, 5)\n", (3, 24, 39)),
    ],
)
def test_form_feed_and_non_ascii_keep_columns(src, at):
    """A form feed (or \\x1c-\\x1e, \\x85, \\u2028) is not a line end for Python, but str.splitlines() splits
    there: columns of the lines after it must still count characters of the right line."""
    res = api.analyze_source(src.encode(), "ff.py")
    analysed_ok(res, layers=1)
    assert (res.layers[0].line, res.layers[0].column, res.layers[0].end_column) == at


# -- not text ------------------------------------------------------------------------------------------------
def test_nul_bytes_are_dc001(tmp_path):
    p = write(tmp_path, "nul.py", b"import torch\nx = 1\x00\n")
    d = only_dc001(api.analyze_file(str(p)), "NUL")
    assert (d.line, d.column) == (2, 6)
    cli_dc001(tmp_path, "nul.py", "NUL", line=2)


def test_nul_bytes_in_text_given_as_str():
    only_dc001(api.analyze_source("x = 1\x00\n", "nul.py"), "NUL")


@pytest.mark.parametrize(
    "name, data",
    [
        ("random.py", bytes((i * 197 + 13) % 256 for i in range(4096))),
        ("pyc.py", b"\xa7\r\r\n\x00\x00\x00\x00" + bytes(range(256)) * 8),  # a .pyc header
        ("zip.py", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256))),
        ("elf.py", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64),
        ("png.py", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    ],
)
def test_binary_file_named_py_is_dc001(tmp_path, name, data):
    p = write(tmp_path, name, data)
    only_dc001(api.analyze_file(str(p)))
    cli_dc001(tmp_path, name)


def test_lone_surrogate_in_text_given_as_str():
    only_dc001(api.analyze_source('x = "\ud800"\n', "s.py"))


# -- empty, big ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("data", [b"", b"\n", b"\xef\xbb\xbf", b"   \n\t\n", b"# just a comment", b"\x0c"])
def test_empty_files_have_no_findings(tmp_path, data):
    p = write(tmp_path, "empty.py", data)
    res = api.analyze_file(str(p))
    assert res.diagnostics == [] and res.layers == [] and not res.internal_error
    r = cli("--isolated", "empty.py", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def _big_model_source(size: int) -> bytes:
    block = (
        "\n\nclass Net{i}(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv2d(3, 16, 3, padding=1)\n"
        "        self.fc = nn.Linear(16 * 32 * 32, 10)\n"
        "\n"
        "    def forward(self, x):\n"
        "        return self.fc(torch.flatten(self.conv(x), 1))\n"
    )
    parts, n, i = ["import torch\nfrom torch import nn\n"], 0, 0
    while n < size:
        b = block.format(i=i)
        parts.append(b)
        n += len(b)
        i += 1
    return "".join(parts).encode()


def test_10_mb_file_completes_with_too_large(tmp_path):
    data = _big_model_source(10 * 2**20)
    p = write(tmp_path, "big.py", data)
    t = time.monotonic()
    d = only_dc001(api.analyze_file(str(p)), "too large", "10.0 MiB")
    assert d.line == 1
    only_dc001(api.analyze_source(data, "big.py"), "too large")
    assert time.monotonic() - t < 120  # generous: it is not even read
    cli_dc001(tmp_path, "big.py", "too large")


def test_large_file_below_the_limit_is_analysed(tmp_path):
    data = _big_model_source(150_000)
    p = write(tmp_path, "large.py", data)
    res = api.analyze_file(str(p))
    analysed_ok(res)
    assert len(res.layers) == data.count(b"nn.Linear(") > 300


def test_file_size_limit_follows_settings(tmp_path):
    p = write(tmp_path, "m.py", TORCH_MODEL)
    s = Settings()
    s.max_file_bytes = 100  # a Settings attribute, when the configuration offers one
    only_dc001(api.analyze_file(str(p), s), "too large")
    only_dc001(api.analyze_source(TORCH_MODEL, "m.py", s), "too large")


def test_file_that_grows_is_read_whole(tmp_path):
    # the size check uses fstat, the read goes to the end
    p = write(tmp_path, "m.py", TORCH_MODEL)
    assert api.read_source(str(p)) == TORCH_MODEL.encode()


# -- deep nesting --------------------------------------------------------------------------------------------
TOO_DEEP = {
    # brackets: CPython itself stops at 200 ("too many nested parentheses"); libcst's native parser would
    # overflow its stack (a segfault) past ~1,000
    "parens_5000": "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n",
    "parens_100000": "x = " + "(" * 100_000 + "1" + ")" * 100_000 + "\n",
    "add_paren_1000": "x = " + "a+(" * 1000 + "a" + ")" * 1000 + "\n",
    "lists_5000": "x = " + "[" * 5000 + "]" * 5000 + "\n",
    "calls_1000": "y = " + "fc(" * 1000 + "x" + ")" * 1000 + "\n",
    # no brackets: chains of operators deeper than CPython's parser goes
    "plus_100000": "x = " + "+".join(["a"] * 100_000) + "\n",
    "unary_5000": "x = " + "-" * 5000 + "a\n",
    "unary_100000": "x = " + "-" * 100_000 + "a\n",
    "not_5000": "x = " + "not " * 5000 + "a\n",
    "attr_5000": "x = a" + ".b" * 5000 + "\n",
    "call_chain_5000": "x = f" + "()" * 5000 + "\n",
    "subscript_5000": "x = a" + "[0]" * 5000 + "\n",
    "lambda_5000": "x = " + "lambda: " * 5000 + "1\n",
    "ifexp_5000": "x = " + "a if b else " * 5000 + "c\n",
    "indent_150": "".join(" " * i + "if x:\n" for i in range(150)) + " " * 150 + "pass\n",
    # Python accepts it, libcst's grammar stops at ~3,500 implicitly concatenated strings
    "strings_5000": "x = " + " ".join(["'a'"] * 5000) + "\n",
}
#: deep, and Python accepts them: the analysis recurses deeper than the default recursion limit allows, so it
# runs
#: again in a thread with a large stack
DEEP_BUT_VALID = {
    "lists_150": "x = " + "[" * 150 + "]" * 150 + "\n",
    "calls_150": "y = " + "fc(" * 150 + "x" + ")" * 150 + "\n",
    "plus_1000": "x = " + "+".join(["a"] * 1000) + "\n",
    "unary_1000": "x = " + "-" * 1000 + "a\n",
    "attr_2000": "x = a" + ".b" * 2000 + "\n",
    "strings_3000": "x = " + " ".join(["'a'"] * 3000) + "\n",  # pydoc_data/topics.py has such chains
}


def _in_child(src: str) -> str:
    """analyze_source in a child process: a native stack overflow would kill the interpreter (a negative
    return code) instead of failing the test."""
    code = (
        "import sys\nfrom densecheck import api\n"
        "r = api.analyze_source(sys.stdin.buffer.read(), 'deep.py')\n"
        "print(r.internal_error, len(r.layers), [(d.code, d.message) for d in r.diagnostics])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], input=src.encode(), capture_output=True, timeout=300)
    assert r.returncode == 0, f"analyze_source died (return code {r.returncode}): {r.stderr.decode()[-2000:]}"
    return r.stdout.decode()


@pytest.mark.parametrize("name", sorted(TOO_DEEP))
def test_too_deep_nesting_is_a_clean_dc001(name):
    """Too deep for CPython or for libcst: DC001, never DC002, never a crash."""
    out = _in_child(HEAD + TOO_DEEP[name])
    assert out.startswith("False 0 [('DC001', "), out
    assert "too deeply nested" in out or "(libcst) rejects this valid Python" in out, out
    assert "DC002" not in out


@pytest.mark.parametrize("name", sorted(DEEP_BUT_VALID))
def test_deep_but_valid_nesting_is_analysed(name):
    out = _in_child(HEAD + DEEP_BUT_VALID[name])
    assert out.startswith("False 1 []"), out


@pytest.fixture
def recursive_analysis(monkeypatch):
    """The engine walks trees iteratively and its interpreter bounds its own depth, so no file of
    ``DEEP_BUT_VALID`` makes it recurse past Python's limit any more; the fallback for an analysis that does
    (a deep thread, or DC001) is exercised with an analysis that recurses once per level of the tree, as
    libcst's visitors do, under a recursion limit too low for ``lists_150`` (304 levels) but high enough for
    the deep thread's fresh stack."""
    import densecheck.engine as analysis

    real = analysis.analyze_module

    def nested(module, path, *rest):
        def depth(node):
            return 1 + max((depth(child) for child in node.children), default=0)

        depth(module)
        return real(module, path, *rest)

    monkeypatch.setattr(analysis, "analyze_module", nested)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 400)
    yield
    sys.setrecursionlimit(old)


@pytest.mark.usefixtures("recursive_analysis")
def test_deep_analysis_runs_in_a_thread_with_room():
    res = api.analyze_source(HEAD + DEEP_BUT_VALID["lists_150"], "deep.py")
    assert (
        not res.internal_error
        and not res.diagnostics
        and [r.layer for r in res.layers] == ["torch.nn.Linear"]
    )


@pytest.mark.usefixtures("recursive_analysis")
def test_deeper_than_the_analysis_goes_is_dc001(monkeypatch):
    monkeypatch.setattr(api, "MAX_ANALYSED_DEPTH", 100)
    d = only_dc001(
        api.analyze_source(HEAD + DEEP_BUT_VALID["lists_150"], "deep.py"), "too deeply nested to analyse"
    )
    assert "304 levels" in d.message


@pytest.mark.usefixtures("recursive_analysis")
def test_no_thread_for_the_deep_analysis_is_dc001(monkeypatch):
    import threading

    def no_thread(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", no_thread)
    only_dc001(
        api.analyze_source(HEAD + DEEP_BUT_VALID["lists_150"], "deep.py"), "too deeply nested to analyse"
    )


def test_recursion_the_depth_does_not_explain_is_an_internal_error(monkeypatch):
    """A RecursionError on a shallow file, even with a deep stack, is a bug (e.g. a cycle in the engine)."""
    import densecheck.engine as analysis

    def forever(module, path, *rest):
        return forever(module, path, *rest)

    monkeypatch.setattr(analysis, "analyze_module", forever)
    res = api.analyze_source(TORCH_MODEL, "m.py")
    assert res.internal_error and [d.code for d in res.diagnostics] == ["DC002"]
    assert "RecursionError" in res.diagnostics[0].message and api.ISSUES_URL in res.diagnostics[0].message
    assert sys.getrecursionlimit() < 10_000  # restored


@pytest.mark.parametrize("name", ["add_paren_1000", "parens_5000", "unary_100000"])
def test_deep_nesting_through_cli(tmp_path, name):
    write(tmp_path, "deep.py", HEAD + TOO_DEEP[name])
    cli_dc001(tmp_path, "deep.py", "too deeply nested")


@pytest.mark.parametrize("depth", [20, 100])
def test_moderate_nesting_is_analysed(depth):
    res = api.analyze_source(
        HEAD
        + "y = "
        + "fc(" * depth
        + "x"
        + ")" * depth
        + "\n"
        + "z = "
        + "a+(" * depth
        + "a"
        + ")" * depth
        + "\n"
        + "w = "
        + "-" * (depth * 3)
        + "a\n",
        "ok.py",
    )
    analysed_ok(res, layers=1)


@pytest.mark.parametrize(
    "prefix",
    [
        "type X = int\n",  # valid for libcst (3.12 syntax) but rejected by CPython 3.11: libcst gets the file
        'print "x"\n',  # a syntax error for both
    ],
)
def test_deep_nesting_behind_a_syntax_cpython_rejects(prefix):
    src = prefix + "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n" + "y = " + "-" * 100_000 + "a\n"
    code = (
        "import sys\nfrom densecheck import api\n"
        "r = api.analyze_source(sys.stdin.buffer.read(), 'deep.py')\n"
        "print(r.internal_error, [(d.code, d.message) for d in r.diagnostics])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], input=src.encode(), capture_output=True, timeout=300)
    assert r.returncode == 0, f"died (return code {r.returncode})"
    assert r.stdout.decode().startswith("False [('DC001'"), r.stdout


def test_valid_python_that_libcst_cannot_parse_is_dc001():
    """libcst has gaps: a parenthesised annotated target (CPython's test_grammar.py,
    typinganndata/ann_module.py)."""
    d = only_dc001(
        api.analyze_source("import torch\n(pars): bool = True\n", "ann.py"),
        "(libcst) rejects this valid Python",
    )
    assert d.line == 2


def test_newer_syntax_than_the_running_python_is_analysed():
    src = (
        "import torch\nfrom torch import nn\n"
        "type Shape = tuple[int, ...]\n"
        "def make[T](n: T) -> nn.Linear:\n    return nn.Linear(n, 4)\n"
        "fc = nn.Linear(8, 4)\n"
    )
    res = api.analyze_source(src, "new.py")
    analysed_ok(res)
    assert sorted(lyr.line for lyr in res.layers) == [5, 6]


# -- syntax errors -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "src, line, needle",
    [
        ('import torch\nprint "hello"\n', 2, "Missing parentheses in call to 'print'"),
        ("exec 'x = 1'\n", 1, "Missing parentheses in call to 'exec'"),
        ("f = lambda (x, y): x\n", 1, "syntax error"),
        ("x = 0777\n", 1, "syntax error"),
        ("x = `1`\n", 1, "syntax error"),
        ("x = ur'abc'\n", 1, "syntax error"),
        ("def f((a, b)):\n    pass\n", 1, "syntax error"),
        ("raise E, 'msg'\n", 1, "syntax error"),
    ],
)
def test_python2_syntax_is_dc001(tmp_path, src, line, needle):
    p = write(tmp_path, "py2.py", src)
    d = only_dc001(api.analyze_file(str(p)), "syntax error", needle)
    assert d.line == line
    cli_dc001(tmp_path, "py2.py", needle, line=line)


@pytest.mark.parametrize(
    "src, line, column",
    [
        (TORCH_MODEL.replace("def forward(self, x):", "def forward(self, x)"), 10, 25),
        ("import torch\n\nx = (1,\ny = 2\n", 3, 5),
        ("def f():\nreturn 1\n", 2, 1),
        ("if True:\n        x = 1\n    y = 2\n", 3, 10),
        ("x = 'unterminated\n", 1, 5),
        ('x = """never closed\n\n\n', 1, 5),
        ("class A:\n\tif x:\n        pass\n", 3, 9),
    ],
)
def test_syntax_error_is_dc001_with_its_line(tmp_path, src, line, column):
    p = write(tmp_path, "syntax.py", src)
    d = only_dc001(api.analyze_file(str(p)), "syntax error")
    assert d.line == line, d
    cli_dc001(tmp_path, "syntax.py", "syntax error", line=line)


def test_syntax_error_does_not_stop_the_other_files(tmp_path):
    write(tmp_path, "a_bad.py", "def f(:\n")
    write(tmp_path, "b_model.py", TORCH_MODEL)
    r = cli("--isolated", ".", cwd=tmp_path)
    assert r.returncode == 1
    assert "a_bad.py:1:" in r.stdout and " DC001 " in r.stdout
    assert f"b_model.py:{LINEAR_AT[0]}:{LINEAR_AT[1]}: DC102" in r.stdout


# -- paths that are not plain files --------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlink_loops_terminate(tmp_path):
    pkg = tmp_path / "pkg"
    write(pkg, "model.py", TORCH_MODEL)
    os.symlink(".", pkg / "self_loop")  # a directory loop
    os.symlink(str(pkg), pkg / "sub_loop.py")  # a directory loop whose name ends in .py
    os.symlink("a.py", pkg / "b.py")  # a file loop
    os.symlink("b.py", pkg / "a.py")
    os.symlink("nowhere.py", pkg / "dangling.py")
    t = time.monotonic()
    found = discover([str(pkg)], Settings())
    assert time.monotonic() - t < 30
    names = sorted(os.path.relpath(f, pkg) for f in found.files)
    assert "model.py" in names and all("loop" not in n or n == "sub_loop.py" for n in names), names
    assert len(names) == len(set(names))
    # the looping and dangling links cannot be read: each a DC001, nothing crashes
    for name in ("a.py", "b.py", "dangling.py"):
        only_dc001(api.analyze_file(str(pkg / name)), "cannot read")
    r = cli("--isolated", "pkg", cwd=tmp_path)
    assert r.returncode in (1, 2), r.stdout + r.stderr
    assert f"pkg/model.py:{LINEAR_AT[0]}:{LINEAR_AT[1]}: DC102" in r.stdout
    for name in ("a.py", "b.py"):
        assert any(ln.startswith(f"pkg/{name}:") and "DC001" in ln for ln in r.stdout.splitlines()), r.stdout


def _deny(monkeypatch, target: str) -> None:
    """Reading ``target`` fails with EACCES, as chmod 000 does for a user other than root."""
    target = os.path.abspath(target)
    real_open, real_os_open = builtins.open, os.open

    def denied(p) -> bool:
        try:
            return os.path.abspath(os.fspath(p)) == target
        except TypeError:
            return False

    def fake_open(file, *a, **kw):
        if denied(file):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *a, **kw)

    def fake_os_open(file, *a, **kw):
        if denied(file):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_os_open(file, *a, **kw)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)


def test_unreadable_file_is_dc001_cannot_read(tmp_path, monkeypatch):
    p = write(tmp_path, "secret.py", TORCH_MODEL)
    other = write(tmp_path, "model.py", TORCH_MODEL)
    if os.geteuid() != 0:  # the real thing, when the tests do not run as root
        p.chmod(0)
        try:
            only_dc001(api.analyze_file(str(p)), "cannot read", "permission denied")
            r = cli("--isolated", "secret.py", "model.py", cwd=tmp_path)
            assert r.returncode == 1 and "secret.py:1:1: DC001 cannot read" in r.stdout
        finally:
            p.chmod(0o644)
    _deny(monkeypatch, str(p))
    only_dc001(api.analyze_file(str(p)), "cannot read", "permission denied")
    from densecheck.cli import cli as cli_group

    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli_group, ["--isolated", "-j", "1", "secret.py", "model.py"])
    assert r.exit_code == 1, r.output
    assert "secret.py:1:1: DC001 cannot read file: Permission denied" in r.output
    assert f"model.py:{LINEAR_AT[0]}:{LINEAR_AT[1]}: DC102" in r.output
    assert other.exists()


def test_directory_named_x_py_is_a_directory(tmp_path):
    d = tmp_path / "src" / "x.py"
    write(d, "model.py", TORCH_MODEL)
    found = discover([str(tmp_path / "src")], Settings())
    assert [os.path.relpath(f, tmp_path) for f in found.files] == [os.path.join("src", "x.py", "model.py")]
    only_dc001(api.analyze_file(str(d)), "cannot read", "directory")
    for target in ("src", "src/x.py"):
        r = cli("--isolated", target, cwd=tmp_path)
        assert r.returncode == 1, r.stdout + r.stderr
        assert f"src/x.py/model.py:{LINEAR_AT[0]}:{LINEAR_AT[1]}: DC102" in r.stdout
        assert "DC001" not in r.stdout
    empty = tmp_path / "empty" / "y.py"
    empty.mkdir(parents=True)
    r = cli("--isolated", "empty", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_named_py_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "pipe.py")
    write(tmp_path, "model.py", TORCH_MODEL)
    only_dc001(api.analyze_file(str(tmp_path / "pipe.py")), "cannot read", "not a regular file")
    try:
        r = cli("--isolated", "pipe.py", "model.py", cwd=tmp_path, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(
            "densecheck blocked reading a FIFO named pipe.py (runner.check_file opens it with open())"
        )
    assert r.returncode == 1
    assert "pipe.py:1:1: DC001 cannot read" in r.stdout
    assert f"model.py:{LINEAR_AT[0]}:{LINEAR_AT[1]}: DC102" in r.stdout


def test_device_is_not_read_forever(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    only_dc001(api.analyze_file("/dev/zero"), "cannot read", "not a regular file")


def test_missing_path_exits_2_with_message(tmp_path):
    write(tmp_path, "model.py", TORCH_MODEL)
    r = cli("--isolated", "no_such_file.py", cwd=tmp_path)
    assert r.returncode == 2
    assert "no_such_file.py" in r.stderr and "no such file" in r.stderr.lower()
    # named with an existing file: the file is still checked, and the exit code still says 2
    r = cli("--isolated", "no_such_dir/", "model.py", cwd=tmp_path)
    assert r.returncode == 2
    assert "no_such_dir" in r.stderr
    assert f"model.py:{LINEAR_AT[0]}:{LINEAR_AT[1]}: DC102" in r.stdout


def test_missing_path_api():
    only_dc001(api.analyze_file("/nonexistent/dir/model.py"), "cannot read", "no such file")


@pytest.mark.parametrize(
    "table, needles",
    [
        ('[tool.densecheck]\nselekt = ["DC101"]\n', ["selekt", "pyproject.toml"]),
        ('[tool.densecheck]\nfail-level = "fatal"\n', ["fail-level", "pyproject.toml"]),
        ('[tool.densecheck]\nselect = "DC101"\n', ["select", "pyproject.toml"]),
        ('[tool.densecheck]\nselect = ["DC999"]\n', ["DC999", "pyproject.toml"]),
        ("[tool.densecheck\nselect = 1\n", ["pyproject.toml", "TOML"]),
        ("[tool]\ndensecheck = 3\n", ["pyproject.toml", "densecheck"]),
        (b"[tool.densecheck]\n\xff\xfe = 1\n", ["pyproject.toml"]),
    ],
)
def test_invalid_config_exits_2_naming_key_and_file(tmp_path, table, needles):
    (tmp_path / "pyproject.toml").write_bytes(table if isinstance(table, bytes) else table.encode())
    write(tmp_path, "model.py", TORCH_MODEL)
    r = cli("model.py", cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    err = r.stderr.strip()
    assert err.startswith("densecheck: error:") and len(err.splitlines()) == 1, err
    for n in needles:
        assert n.lower() in err.lower(), err
    assert r.stdout == ""


def test_config_given_with_config_flag_missing_or_invalid(tmp_path):
    write(tmp_path, "model.py", TORCH_MODEL)
    r = cli("--config", "nope.toml", "model.py", cwd=tmp_path)
    assert r.returncode == 2 and "nope.toml" in r.stderr
    (tmp_path / "dc.toml").write_text("ignore = [3]\n")
    r = cli("--config", "dc.toml", "model.py", cwd=tmp_path)
    assert r.returncode == 2 and "dc.toml" in r.stderr and "ignore" in r.stderr


# -- notebooks -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b"",
        b"[1, 2, 3]",
        b'{"cells": 5}',
        b'{"cells": [{"cell_type": "code", "source": 7}]}',
        b'{"cells": [{"cell_type": "code", "source": ["def f(:\\n"]}]}',
        b"\xff\xfe\x00binary",
        json.dumps({"cells": [{"cell_type": "code", "source": "x = 1\x00\n"}]}).encode(),
    ],
)
def test_bad_notebooks_are_reported_cleanly(tmp_path, data):
    write(tmp_path, "nb.ipynb", data)
    r = cli("--isolated", "nb.ipynb", cwd=tmp_path)
    assert r.returncode in (0, 1), r.stdout + r.stderr


# -- many odd files at once ----------------------------------------------------------------------------------
def test_a_tree_of_odd_files_is_all_reported(tmp_path):
    """Every file named on the command line, or found, is either analysed or has a DC001: none dropped."""
    odd = {
        "ok.py": TORCH_MODEL.encode(),
        "empty.py": b"",
        "bom.py": b"\xef\xbb\xbf" + TORCH_MODEL.encode(),
        "crlf.py": TORCH_MODEL.replace("\n", "\r\n").encode(),
        "latin1.py": b"# coding: latin-1\n# \xe9\n" + TORCH_MODEL.encode(),
        "bad_utf8.py": b"x = '\xff'\n",
        "nul.py": b"x = 1\x00\n",
        "py2.py": b'print "x"\n',
        "syntax.py": b"def f(:\n",
        "binary.py": bytes(range(256)) * 16,
        "deep.py": ("x = " + "(" * 5000 + ")" * 5000 + "\n").encode(),
        "stub.pyi": b"def f(x: int) -> int: ...\n",
    }
    for name, data in odd.items():
        write(tmp_path / "tree", name, data)
    r = cli("--isolated", "--format", "json", "tree", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    dc001 = {os.path.basename(d["path"]) for d in doc["diagnostics"] if d["code"] == "DC001"}
    assert dc001 == {"bad_utf8.py", "nul.py", "py2.py", "syntax.py", "binary.py", "deep.py"}
    assert not [d for d in doc["diagnostics"] if d["code"] == "DC002"]
    with_layers = sorted({os.path.basename(lyr["path"]) for lyr in doc["layers"]})
    assert with_layers == ["bom.py", "crlf.py", "latin1.py", "ok.py"]


def test_the_checked_codes_own_warnings_are_not_printed(tmp_path, recwarn):
    """Invalid escapes and literals in the checked code make CPython warn (SyntaxWarning; DeprecationWarning
    before 3.12) when densecheck compiles it: that is the code's business, not noise for densecheck's
    stderr."""
    src = HEAD + 's = "\\d+\\e"\nb = b"\\q"\nt = 1if True else 2\n'
    api.analyze_source(src, "w.py")
    assert not [w for w in recwarn.list if issubclass(w.category, (SyntaxWarning, DeprecationWarning))], [
        str(w.message) for w in recwarn.list
    ]
    write(tmp_path, "w.py", src)
    r = subprocess.run(
        [sys.executable, "-W", "always", "-m", "densecheck", "--isolated", "w.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Warning" not in r.stderr, r.stderr


@pytest.mark.parametrize(
    "data, code, needle",
    [
        (b"", 0, None),
        (bytes(range(256)), 1, "cannot decode"),
        (b"x = 1\x00\n", 1, "NUL"),
        (b'print "x"\n', 1, "Missing parentheses"),
        (b"\xef\xbb\xbf" + TORCH_MODEL.encode().replace(b"\n", b"\r\n"), 1, "DC102"),
    ],
)
def test_standard_input(tmp_path, data, code, needle):
    r = subprocess.run(
        [sys.executable, "-m", "densecheck", "--isolated", "--stdin-filename", "m.py", "-"],
        cwd=tmp_path,
        input=data,
        capture_output=True,
        timeout=180,
    )
    out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    assert r.returncode == code, out
    assert "Traceback" not in out
    if needle:
        assert needle in out, out


@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes on Linux")
def _format_names() -> list[str]:
    from densecheck.formats import FORMAT_NAMES

    return list(FORMAT_NAMES)


@pytest.mark.parametrize("fmt", _format_names())
def test_odd_file_names(tmp_path, fmt):
    """Names that are not UTF-8, or hold a newline or spaces: reported, never a crash while printing them."""
    root = os.fsencode(tmp_path / "names")
    os.makedirs(root)
    for name, data in (
        (b"caf\xe9.py", TORCH_MODEL.encode()),
        (b"new\nline.py", b"def f(:\n"),
        (b"sp ace.py", b"x = 1\n"),
        (b"-dash.py", b"x = 1\n"),
    ):
        with open(os.path.join(root, name), "wb") as fh:
            fh.write(data)
    r = subprocess.run(
        [sys.executable, "-m", "densecheck", "--isolated", "--format", fmt, "names"],
        cwd=tmp_path,
        capture_output=True,
        timeout=180,
    )
    out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    assert r.returncode == 1, out
    if fmt == "sarif":  # the document carries every rule's documentation: look at the results only
        results = json.loads(r.stdout)["runs"][0]["results"]
        out = "\n".join(res["ruleId"] + " " + res["message"]["text"] for res in results) + r.stderr.decode()
    assert (
        "Traceback" not in out and "DC002" not in r.stdout.decode("utf-8", "replace").replace('"DC002"', "")
        if fmt != "sarif"
        else "Traceback" not in out and "DC002" not in out
    )
    assert "DC102" in out and "DC001" in out
