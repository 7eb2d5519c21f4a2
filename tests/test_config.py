"""[tool.densecheck]: discovery, every key, validation messages, command-line precedence."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from densecheck import config
from densecheck.cli import cli
from densecheck.config import ConfigError, Settings, load_settings, settings_from_table


def write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_config(tmp_path):
    s = load_settings(start=str(tmp_path))
    assert s.config_file is None
    assert s.select is None and s.fail_level == "warning" and s.fc_param_budget == 25_000_000
    assert ".git" in s.exclude and "site-packages" in s.exclude and s.respect_gitignore


def test_every_key(tmp_path, monkeypatch):
    monkeypatch.setattr(
        config, "_SECTIONS", {}
    )  # no validator registered for `trace`: the table is kept as-is
    write(
        tmp_path / "pyproject.toml",
        """
[tool.densecheck]
select = ["DC1"]
extend-select = ["DC900"]
ignore = ["dc103"]
per-file-ignores = { "tests/*" = ["DC101"] }
exclude = ["generated"]
extend-exclude = ["legacy/*.py"]
severity = { DC101 = "error", dc104 = "INFO" }
fail-level = "error"
fc-param-budget = 1000
respect-gitignore = false
trace = { enabled = true }
""",
    )
    s = load_settings(start=str(tmp_path / "src" / "x.py"))
    assert s.config_file == str(tmp_path / "pyproject.toml")
    assert s.root == str(tmp_path)
    assert s.select == ["DC1"] and s.extend_select == ["DC900"] and s.ignore == ["DC103"]
    assert s.per_file_ignores == {"tests/*": ["DC101"]}
    assert s.exclude == ["generated"] and s.extend_exclude == ["legacy/*.py"]
    assert s.severity == {"DC101": "error", "DC104": "info"}
    assert s.fail_level == "error" and s.fc_param_budget == 1000 and s.respect_gitignore is False
    assert s.trace == {"enabled": True}


def test_nearest_pyproject_with_a_densecheck_table_wins(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.densecheck]\nfail-level = 'error'\n")
    write(tmp_path / "pkg" / "pyproject.toml", "[project]\nname = 'pkg'\n")  # no [tool.densecheck]: skipped
    write(tmp_path / "pkg" / "sub" / "pyproject.toml", "[tool.densecheck]\nfail-level = 'info'\n")
    assert load_settings(start=str(tmp_path / "pkg" / "a.py")).fail_level == "error"
    assert load_settings(start=str(tmp_path / "pkg" / "sub" / "b.py")).fail_level == "info"


def test_explicit_config_file(tmp_path):
    write(tmp_path / "densecheck.toml", "fail-level = 'info'\n")
    assert load_settings(str(tmp_path / "densecheck.toml")).fail_level == "info"
    write(tmp_path / "other" / "pyproject.toml", "[tool.densecheck]\nfc-param-budget = 5\n")
    assert load_settings(str(tmp_path / "other" / "pyproject.toml")).fc_param_budget == 5
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(str(tmp_path / "missing.toml"))


@pytest.mark.parametrize(
    "table, message",
    [
        ({"foo": 1}, "unknown key 'foo' in [tool.densecheck]"),
        (
            {"fail_level": "error"},
            "unknown key 'fail_level' in [tool.densecheck] (did you mean 'fail-level'?)",
        ),
        ({"select": "DC101"}, "'select' must be an array of strings"),
        ({"select": ["DC999"]}, "unknown rule selector 'DC999'"),
        ({"select": ["E501"]}, "unknown rule selector 'E501'"),
        ({"fail-level": "fatal"}, "'fail-level' must be one of"),
        ({"fc-param-budget": "big"}, "'fc-param-budget' must be a non-negative integer"),
        ({"fc-param-budget": True}, "'fc-param-budget' must be a non-negative integer"),
        ({"fc-param-budget": -1}, "'fc-param-budget' must be a non-negative integer"),
        ({"respect-gitignore": "yes"}, "'respect-gitignore' must be true or false"),
        ({"severity": {"DC999": "error"}}, "unknown rule code 'DC999'"),
        ({"severity": {"DC101": "fatal"}}, "must be one of"),
        ({"per-file-ignores": {"tests/*": "DC101"}}, "must be an array of strings"),
        ({"trace": 3}, "'trace' must be a table or a list"),
    ],
)
def test_bad_values(table, message, monkeypatch):
    monkeypatch.setattr(config, "_SECTIONS", {})
    with pytest.raises(ConfigError) as e:
        settings_from_table(table, "pyproject.toml")
    assert message in str(e.value)
    assert str(e.value).startswith("pyproject.toml: ")


def test_all_selects_every_rule():
    s = settings_from_table({"select": ["ALL"]}, "x")
    assert s.rule_enabled("DC900", default_enabled=False)


def test_registered_section_validator(monkeypatch):
    monkeypatch.setattr(config, "_SECTIONS", {})

    def validate(value, where):
        if not isinstance(value, dict) or "timeout" not in value:
            raise ConfigError(f"{where}: [tool.densecheck.trace] needs 'timeout'")
        return ("validated", value["timeout"])

    config.register_section("trace", validate)
    assert settings_from_table({"trace": {"timeout": 3}}, "f").trace == ("validated", 3)
    with pytest.raises(ConfigError, match="needs 'timeout'"):
        settings_from_table({"trace": {}}, "f")


def test_the_cli_validates_trace_targets(tmp_path):
    import densecheck.cli  # noqa: F401 - registers the trace validator

    s = settings_from_table({"trace": [{"target": "models/net.py:build", "inputs": ["1,3,32,32"]}]}, "p.toml")
    assert [t.target for t in s.trace] == ["models/net.py:build"]
    with pytest.raises(ConfigError, match="target"):
        settings_from_table({"trace": [{"inputs": ["1,3"]}]}, "p.toml")
    write(tmp_path / "pyproject.toml", "[[tool.densecheck.trace]]\ntarget = 'net'\n")
    write(tmp_path / "a.py", "x = 1\n")
    r = run(["a.py"], tmp_path)
    assert r.exit_code == 2 and "densecheck: error: " in r.output and "net" in r.output


def test_invalid_toml_is_a_config_error(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.densecheck\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(start=str(tmp_path))


# -- through the command line
# ------------------------------------------------------------------------------------
def run(args, cwd):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, args)
    finally:
        os.chdir(old)


def test_cli_reports_config_errors_with_exit_2(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.densecheck]\nfoo = 1\n")
    write(tmp_path / "a.py", "x = 1\n")
    r = run(["a.py"], tmp_path)
    assert r.exit_code == 2
    assert "densecheck: error: " in r.output
    assert "unknown key 'foo' in [tool.densecheck]" in r.output
    assert "Traceback" not in r.output


DC101_SOURCE = (
    "import keras\nfrom keras import layers\nx = keras.Input(shape=(160, 160, 64))\ny = layers.Dense(16)(x)\n"
)


def test_cli_flags_override_config(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.densecheck]\nignore = ['DC101']\n")
    write(tmp_path / "m.py", DC101_SOURCE)
    assert run(["m.py"], tmp_path).exit_code == 0  # DC101 ignored by the config
    # --select starts afresh: the configured ignore no longer applies
    r = run(["--select", "DC101", "m.py"], tmp_path)
    assert r.exit_code == 1 and "DC101" in r.output
    assert run(["--isolated", "m.py"], tmp_path).exit_code == 1
    assert run(["--isolated", "--ignore", "DC1", "m.py"], tmp_path).exit_code == 0
    # DC101 is a warning: with fail-level error it is reported but does not fail
    r = run(["--isolated", "--fail-level", "error", "m.py"], tmp_path)
    assert r.exit_code == 0 and "DC101" in r.output


def test_config_severity_and_fail_level(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.densecheck]\nseverity = { DC101 = 'info' }\n")
    write(tmp_path / "m.py", DC101_SOURCE)
    r = run(["--format", "json", "m.py"], tmp_path)
    assert r.exit_code == 0  # info is below the default fail level (warning)
    assert '"severity": "info"' in r.output
    assert run(["--fail-level", "info", "m.py"], tmp_path).exit_code == 1


def test_cli_config_option(tmp_path):
    write(tmp_path / "cfg" / "densecheck.toml", "fail-level = 'error'\n")
    write(tmp_path / "a.py", "x = 1\n")
    assert run(["--config", "cfg/densecheck.toml", "a.py"], tmp_path).exit_code == 0
    r = run(["--config", "nope.toml", "a.py"], tmp_path)
    assert r.exit_code == 2 and "nope.toml: config file not found" in r.output


def test_cli_unknown_selector_is_a_usage_error(tmp_path):
    write(tmp_path / "a.py", "x = 1\n")
    r = run(["--select", "DC101,XYZ1", "a.py"], tmp_path)
    assert r.exit_code == 2
    assert "unknown rule selector 'XYZ1'" in r.output


def test_settings_is_still_the_engine_contract():
    s = Settings()
    for name in (
        "select",
        "extend_select",
        "ignore",
        "per_file_ignores",
        "exclude",
        "extend_exclude",
        "severity",
        "fail_level",
        "fc_param_budget",
        "respect_gitignore",
    ):
        assert hasattr(s, name)
    assert s.rule_enabled("DC101") and not s.rule_enabled("DC900", default_enabled=False)
