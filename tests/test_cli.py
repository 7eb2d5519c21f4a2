"""The command line: entry points, subcommands, options, exit codes, file discovery."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from densecheck import __version__
from densecheck import cli as cli_module
from densecheck.cli import cli
from densecheck.config import Settings
from densecheck.discover import discover
from densecheck.rules import ALL_RULES

DC101 = (
    "import keras\nfrom keras import layers\nx = keras.Input(shape=(160, 160, 64))\ny = layers.Dense(16)(x)\n"
)
CLEAN = (
    "import keras\nfrom keras import layers\n"
    "x = keras.Input(shape=(160, 160, 64))\nx = layers.GlobalAveragePooling2D()(x)\ny = layers.Dense(16)(x)\n"
)
SYNTAX_ERROR = "def f(:\n    pass\n"


@pytest.fixture
def proj(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


def put(root: Path, rel: str, text: str = "x = 1\n") -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def invoke(*args, **kw):
    return CliRunner().invoke(cli, list(args), **kw)


# -- entry points
# --------------------------------------------------------------------------------------------------
def test_python_dash_m_and_console_script(proj):
    put(proj, "m.py", DC101)
    r = subprocess.run([sys.executable, "-m", "densecheck", "m.py"], capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout.startswith("m.py:4:5: DC101 ")
    exe = shutil.which("densecheck")
    if exe is None:
        pytest.skip("densecheck is not installed as a console script")
    r = subprocess.run([exe, "check", "m.py"], capture_output=True, text=True)
    assert r.returncode == 1 and "DC101" in r.stdout


def test_version():
    r = invoke("--version")
    assert r.exit_code == 0 and r.output.strip() == f"densecheck {__version__}"


def test_default_command_and_explicit_check(proj):
    put(proj, "m.py", DC101)
    a, b = invoke("m.py"), invoke("check", "m.py")
    assert a.exit_code == b.exit_code == 1
    assert a.output == b.output
    assert a.output.splitlines()[-1] == "Found 1 problem (1 warning); checked 1 layer in 1 file."


def test_no_paths_checks_the_current_directory(proj):
    put(proj, "pkg/m.py", DC101)
    r = invoke("--quiet")
    assert r.exit_code == 1 and r.output.startswith(os.path.join("pkg", "m.py") + ":4:5: DC101")


def test_help():
    r = invoke("--help")
    assert r.exit_code == 0 and "check" in r.output and "explain" in r.output and "rules" in r.output
    r = invoke("check", "--help")
    for opt in (
        "--format",
        "--select",
        "--extend-select",
        "--ignore",
        "--config",
        "--statistics",
        "--exit-zero",
        "--quiet",
        "--no-cache",
        "--stdin-filename",
        "--color",
        "--fail-level",
    ):
        assert opt in r.output


# -- explain / rules
# -----------------------------------------------------------------------------------------------
def test_rules_lists_every_rule():
    r = invoke("rules")
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert lines[0].split()[:4] == ["code", "name", "severity", "default"]
    for rule in ALL_RULES:
        line = next(ln for ln in lines if ln.startswith(rule.code))
        assert rule.name in line and rule.severity in line and rule.summary in line
        assert (" on " if rule.default_enabled else " off ") in line
    doc = json.loads(invoke("rules", "--format", "json").output)
    assert {d["code"] for d in doc} == {r.code for r in ALL_RULES}
    assert next(d for d in doc if d["code"] == "DC900")["enabled"] is False


@pytest.mark.parametrize("arg", ["DC101", "dc101", "dense-over-spatial-positions"])
def test_explain(arg):
    r = invoke("explain", arg)
    assert r.exit_code == 0
    assert r.output.startswith("DC101 dense-over-spatial-positions")
    assert "Default severity: warning; enabled by default." in r.output
    for section in ("## What it does", "## Why it matters", "## Example", "## Use instead"):
        assert section in r.output


def test_explain_unknown_code():
    r = invoke("explain", "DC999")
    assert r.exit_code == 2 and "densecheck: error: unknown rule 'DC999'" in r.output


# -- exit codes
# ----------------------------------------------------------------------------------------------------
def test_exit_codes(proj):
    put(proj, "clean.py", CLEAN)
    put(proj, "m.py", DC101)
    r = invoke("clean.py")
    assert r.exit_code == 0 and r.output.startswith("All checks passed!")
    assert invoke("m.py").exit_code == 1
    assert invoke("--exit-zero", "m.py").exit_code == 0
    assert invoke("--fail-level", "error", "m.py").exit_code == 0
    put(proj, "bad.py", SYNTAX_ERROR)
    r = invoke("bad.py")
    assert r.exit_code == 1 and r.output.startswith("bad.py:") and "DC001" in r.output


def test_missing_path_exit_2_and_the_rest_is_still_checked(proj):
    put(proj, "m.py", DC101)
    r = invoke("m.py", "nope.py")
    assert r.exit_code == 2
    assert "densecheck: error: nope.py: no such file or directory" in r.output
    assert "m.py:4:5: DC101" in r.output
    assert "Traceback" not in r.output


def test_internal_error_exit_2_with_all_output(proj, monkeypatch):
    import densecheck.engine as analysis

    put(proj, "a.py", DC101)
    # b.py must mention Linear: the runner's pre-filter skips the analysis of files that cannot hold a layer
    put(proj, "b.py", "import torch\nfc = torch.nn.Linear(2, 3)\n")
    real = analysis.analyze_module

    def flaky(module, path, *rest):
        if path.endswith("b.py"):
            raise ValueError("boom")
        return real(module, path, *rest)

    monkeypatch.setattr(analysis, "analyze_module", flaky)
    r = invoke(".")
    assert r.exit_code == 2
    assert "a.py:4:5: DC101" in r.output
    assert "b.py:1:1: DC002 internal error: ValueError: boom" in r.output
    assert invoke("--exit-zero", ".").exit_code == 2  # an internal error is never a pass


def test_never_a_traceback(proj, monkeypatch, capsys):
    def broken(*a, **k):
        raise RuntimeError("unexpected")

    monkeypatch.setattr("densecheck.runner.run", broken)
    with pytest.raises(SystemExit) as e:
        cli_module.main(["."])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("densecheck: error: internal error: RuntimeError: unexpected")
    assert "Traceback" not in err


def test_usage_errors_exit_2(proj):
    r = invoke("--format", "xml", ".")
    assert r.exit_code == 2 and "Invalid value for '--format'" in r.output
    r = invoke("--no-such-option")
    assert r.exit_code == 2
    with pytest.raises(SystemExit) as e:
        cli_module.main(["--select", "NOPE1", "."])
    assert e.value.code == 2


# -- options
# ------------------------------------------------------------------------------------------------------
def test_select_ignore_extend_select(proj):
    put(proj, "m.py", DC101)
    assert invoke("--ignore", "DC101", "m.py").exit_code == 0
    assert invoke("--select", "DC102,DC103", "m.py").exit_code == 0
    assert invoke("--select", "DC102", "--select", "DC1", "m.py").exit_code == 1
    put(proj, "n.py", "x = 1  # noqa: DC101\n")
    assert invoke("n.py").exit_code == 0
    r = invoke("--extend-select", "DC900", "n.py")
    assert r.exit_code == 1 and "n.py:1:8: DC900" in r.output


def test_quiet_and_statistics(proj):
    put(proj, "m.py", DC101)
    put(proj, "bad.py", SYNTAX_ERROR)
    r = invoke("-q", ".")
    assert len(r.output.splitlines()) == 2 and "Found" not in r.output
    r = invoke("--statistics", ".")
    assert r.output.splitlines() == [
        "1\tDC001\t[error] parse-error",
        "1\tDC101\t[warning] dense-over-spatial-positions",
    ]
    assert r.exit_code == 1
    doc = json.loads(invoke("--statistics", "--format", "json", ".").output)
    assert [d["code"] for d in doc] == ["DC001", "DC101"]


def test_stdin(proj):
    r = invoke("-", input=DC101)
    assert r.exit_code == 1 and r.output.startswith("-:4:5: DC101 ")
    r = invoke("--stdin-filename", "models/net.py", "-", input=DC101)
    assert r.output.startswith(os.path.join("models", "net.py") + ":4:5: DC101 ")
    r = invoke("--stdin-filename", "net.py", input=CLEAN)
    assert r.exit_code == 0
    r = invoke("-", "m.py", input=DC101)
    assert r.exit_code == 2 and "cannot be combined" in r.output


def test_stdin_filename_uses_per_file_ignores(proj):
    put(proj, "pyproject.toml", "[tool.densecheck]\nper-file-ignores = { 'legacy/*' = ['DC101'] }\n")
    assert invoke("--stdin-filename", "legacy/net.py", "-", input=DC101).exit_code == 0
    assert invoke("--stdin-filename", "src/net.py", "-", input=DC101).exit_code == 1


def test_color(proj, monkeypatch):
    put(proj, "m.py", DC101)
    assert "\x1b[" in invoke("--color", "always", "m.py").output
    assert "\x1b[" not in invoke("--color", "never", "m.py").output
    assert "\x1b[" not in invoke("m.py").output  # auto: not a terminal
    monkeypatch.setattr(cli_module.sys.stdout, "isatty", lambda: True, raising=False)
    assert cli_module._use_color("auto", None) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli_module._use_color("auto", None) is False
    assert "\x1b[" not in invoke("--format", "json", "--color", "always", "m.py").output


def test_no_cache_is_accepted(proj):
    put(proj, "clean.py", CLEAN)
    assert invoke("--no-cache", "clean.py").exit_code == 0


def test_output_file(proj):
    put(proj, "m.py", DC101)
    r = invoke("--format", "sarif", "-o", "out.sarif", "m.py")
    assert r.exit_code == 1 and r.output == ""
    assert json.loads((proj / "out.sarif").read_text())["version"] == "2.1.0"
    r = invoke("-o", "no/such/dir/out.txt", "m.py")
    assert r.exit_code == 2 and "densecheck: error: no/such/dir/out.txt: cannot write" in r.output


def test_fc_param_budget_option(proj):
    put(
        proj,
        "vgg.py",
        "import keras\nfrom keras import layers\nx = keras.Input(shape=(7, 7, 512))\n"
        "x = layers.Flatten()(x)\ny = layers.Dense(4096)(x)\n",
    )
    r = invoke("vgg.py")
    assert r.exit_code == 1 and "DC104" in r.output and "102,764,544" in r.output
    assert invoke("--fc-param-budget", "200000000", "vgg.py").exit_code == 0


def test_output_is_deterministic(proj):
    for i in range(5):
        put(proj, f"pkg{i % 2}/m{i}.py", DC101)
    put(proj, "pkg0/bad.py", SYNTAX_ERROR)
    outs = {invoke("--format", fmt, ".").output for fmt in ["concise"] * 3}
    assert len(outs) == 1
    lines = outs.pop().splitlines()[:-1]
    assert lines == sorted(lines)


def test_parallel_run_gives_the_same_output(proj):
    from densecheck import runner

    for i in range(runner.PARALLEL_MIN_FILES + 4):
        put(proj, f"pkg/m{i:02d}.py", DC101 if i % 3 else CLEAN)
    put(proj, "pkg/bad.py", SYNTAX_ERROR)
    one = invoke("--jobs", "1", "--format", "json", ".")
    two = invoke("--jobs", "2", "--format", "json", ".")
    assert one.exit_code == two.exit_code == 1
    assert one.output == two.output
    assert len(json.loads(two.output)["layers"]) == runner.PARALLEL_MIN_FILES + 4


def test_paths_printed_relative_to_cwd(proj, monkeypatch):
    put(proj, "src/pkg/m.py", DC101)
    monkeypatch.chdir(proj / "src")
    r = invoke(str(proj / "src" / "pkg"))
    assert r.output.startswith(os.path.join("pkg", "m.py") + ":4:5: ")
    r = invoke("../src/pkg/m.py")
    assert r.output.startswith(os.path.join("pkg", "m.py") + ":4:5: ")


# -- discovery
# --------------------------------------------------------------------------------------------------
def found(paths, settings=None, **kw):
    d = discover(paths, settings or Settings(), **kw)
    return [p.replace(os.sep, "/") for p in d.files]


def test_discover_walks_and_filters_extensions(proj):
    for rel in ["a.py", "b.pyi", "c.ipynb", "d.txt", "sub/e.py", "sub/deeper/f.py", "setup.cfg"]:
        put(proj, rel)
    (proj / "g.py").mkdir()  # a directory named like a file
    put(proj, "g.py/inner.py")
    assert found(["."]) == ["a.py", "b.pyi", "c.ipynb", "g.py/inner.py", "sub/deeper/f.py", "sub/e.py"]


def test_default_excludes_only_inside_walked_dirs(proj):
    for rel in [
        "a.py",
        ".venv/lib/x.py",
        "build/b.py",
        "node_modules/n.py",
        "__pycache__/c.py",
        "site-packages/s.py",
        ".git/hooks/h.py",
        "env/pyvenv.cfg",
        "env/lib/v.py",
        ".ipynb_checkpoints/nb.ipynb",
    ]:
        put(proj, rel)
    assert found(["."]) == ["a.py"]
    assert found(["site-packages"]) == ["site-packages/s.py"]  # named on the command line: checked
    assert found(["build/b.py"]) == ["build/b.py"]
    assert found(["build/b.py"], force_exclude=True) == []
    put(proj, "build/b_pb2.py")
    s = Settings(extend_exclude=["*_pb2.py"], root=str(proj))
    assert found(["build"], s) == [
        "build/b.py"
    ]  # inside a named directory the patterns still apply to entries
    s = Settings(extend_exclude=["*.py", "!keep.py"], root=str(proj))
    put(proj, "keep.py")
    assert found(["."], s) == ["keep.py"]


def test_exclude_and_extend_exclude(proj):
    for rel in ["a.py", "gen/g.py", "src/gen/h.py", "src/x_pb2.py", "build/b.py"]:
        put(proj, rel)
    s = Settings(extend_exclude=["*_pb2.py", "/gen"], root=str(proj))
    assert found(["."], s) == ["a.py", "src/gen/h.py"]
    s = Settings(exclude=["gen"], root=str(proj))  # replaces the defaults
    assert found(["."], s) == ["a.py", "build/b.py", "src/x_pb2.py"]
    assert found(["gen/g.py"], s) == ["gen/g.py"]


def test_gitignore_nested_and_negated(proj):
    (proj / ".git").mkdir()
    put(proj, ".gitignore", "ignored/\n*_gen.py\n")
    put(proj, "sub/.gitignore", "local.py\n!keep_gen.py\n")
    for rel in [
        "a.py",
        "ignored/x.py",
        "m_gen.py",
        "sub/local.py",
        "sub/keep_gen.py",
        "sub/other_gen.py",
        "sub/ok.py",
        "local.py",
    ]:
        put(proj, rel)
    assert found(["."]) == ["a.py", "local.py", "sub/keep_gen.py", "sub/ok.py"]
    # .gitignore files above the walked directory apply too
    assert found(["sub"]) == ["sub/keep_gen.py", "sub/ok.py"]
    assert found(["m_gen.py"]) == ["m_gen.py"]  # named explicitly
    assert len(found(["."], Settings(respect_gitignore=False))) == 8


def test_named_directory_inside_an_ignored_tree_is_checked(proj):
    # e.g. ~/.pyenv is a git clone whose .gitignore has "/versions": site-packages below it must still be
    # checkable
    (proj / ".git").mkdir()
    put(proj, ".gitignore", "/versions\n")
    put(proj, "versions/3.11/site-packages/pkg/a.py")
    put(proj, "versions/3.11/site-packages/pkg/sub/b.py")
    assert found(["."]) == []
    assert found(["versions/3.11/site-packages/pkg"]) == [
        "versions/3.11/site-packages/pkg/a.py",
        "versions/3.11/site-packages/pkg/sub/b.py",
    ]


def test_git_info_exclude(proj):
    put(proj, ".git/info/exclude", "scratch.py\n")
    put(proj, "scratch.py")
    put(proj, "a.py")
    assert found(["."]) == ["a.py"]


def test_symlink_loop_and_links(proj):
    put(proj, "pkg/a.py")
    os.symlink(proj / "pkg", proj / "pkg" / "loop")
    os.symlink(proj / "pkg" / "a.py", proj / "link.py")
    os.symlink(proj / "missing.py", proj / "dangling.py")
    assert found(["."]) == ["dangling.py", "link.py", "pkg/a.py"]


def test_unreadable_file_is_reported_not_crashed(proj):
    os.symlink(proj / "missing.py", proj / "dangling.py")
    put(proj, "m.py", DC101)
    r = invoke(".")
    assert r.exit_code == 1
    assert "dangling.py:1:1: DC001 cannot read file: No such file or directory" in r.output
    assert "m.py:4:5: DC101" in r.output


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads everything")
def test_unreadable_directory_is_reported(proj):
    put(proj, "locked/a.py")
    put(proj, "m.py")
    (proj / "locked").chmod(0)
    try:
        r = invoke(".")
    finally:
        (proj / "locked").chmod(0o755)
    assert "locked:1:1: DC001 cannot read directory" in r.output


def test_discover_dedups_and_sorts(proj):
    put(proj, "b.py")
    put(proj, "a.py")
    assert found(["b.py", ".", "a.py", "./b.py"]) == ["a.py", "b.py"]


def test_config_found_from_first_path(proj):
    put(proj, "proj/pyproject.toml", "[tool.densecheck]\nignore = ['DC101']\n")
    put(proj, "proj/m.py", DC101)
    assert invoke("proj").exit_code == 0
    assert invoke("proj/m.py").exit_code == 0
    assert invoke("--isolated", "proj").exit_code == 1


# -- trace mode through the command line
# ---------------------------------------------------------------------------
FLIPPED = """import torch
from torch import nn

POOL = False


def configure(pool):
    global POOL
    POOL = pool


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.conv(x)
        if POOL:
            x = x.mean(dim=(2, 3))
        return self.fc(x)


def build():
    configure(pool=True)
    return Net()
"""


@pytest.mark.torch
def test_trace_option(proj):
    pytest.importorskip("torch")
    put(proj, "net.py", FLIPPED)
    static = invoke("--isolated", "net.py")
    assert "DC102" in static.output  # static analysis cannot see configure(pool=True)
    r = invoke(
        "--isolated", "--format", "json", "net.py", "--trace", "net.py:build", "--trace-input", "2,3,32,32"
    )
    doc = json.loads(r.output)
    assert [(x["source"], x["input_shape"]) for x in doc["layers"]] == [("trace", [2, 16])]
    assert [d["code"] for d in doc["diagnostics"]] == ["DC105"]
    put(
        proj, "pyproject.toml", "[[tool.densecheck.trace]]\ntarget = 'net.py:build'\ninputs = ['2,3,32,32']\n"
    )
    r = invoke("net.py", "--trace", "config")
    assert "DC105" in r.output and "DC102" not in r.output
    assert "DC105" not in invoke("net.py").output  # configured targets only run when asked for


def test_trace_option_errors(proj):
    put(proj, "net.py")
    r = invoke("--isolated", "net.py", "--trace", "nocolon")
    assert r.exit_code == 2 and "trace target 'nocolon'" in r.output
    r = invoke("--isolated", "net.py", "--trace", "config")
    assert r.exit_code == 2 and "no [[tool.densecheck.trace]] targets" in r.output
    r = invoke("--isolated", "net.py", "--trace-input", "1,3")
    assert r.exit_code == 2 and "--trace-input given without --trace" in r.output
