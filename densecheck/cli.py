"""The command line: ``densecheck [check] PATHS``, ``densecheck explain CODE``, ``densecheck rules``.

Only option parsing and output live here; the work is in :mod:`densecheck.runner` and
:mod:`densecheck.formats`. Exit codes: 0 no findings at or above the fail level, 1 findings, 2
usage/configuration error, a missing path, or an internal error on some file (all output is still printed).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

import click

from densecheck import __version__
from densecheck.api import ISSUES_URL
from densecheck.config import ConfigError, Settings, check_selector, load_settings, register_section
from densecheck.formats import FORMAT_NAMES, Context, printable
from densecheck.rules import ALL_RULES, RULES
from densecheck.trace.spec import TraceSpecError, config_section_validator, parse_trace_cli

register_section("trace", config_section_validator)  # [[tool.densecheck.trace]] targets


def fail(message: str) -> None:
    """``densecheck: error: <message>`` on stderr, exit code 2."""
    click.echo(f"densecheck: error: {message}", err=True)
    raise SystemExit(2)


class DefaultGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, starts the default ``check`` command."""

    default_command = "check"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="densecheck", message="%(prog)s %(version)s")
def cli() -> None:
    """Is your Dense / nn.Linear layer really fully connected?

    densecheck reads Keras and PyTorch model source (without running it), finds every Dense / nn.Linear,
    infers the shape it is applied to and reports whether it acts as a fully-connected layer, a pointwise (1x1
    convolution) layer, or mixes along a spatial axis — with its real parameter count.

    `densecheck PATHS...` is short for `densecheck check PATHS...`; see `densecheck check --help`.
    """


def _split(values: tuple[str, ...], option: str) -> list[str] | None:
    """Comma-separated and repeatable rule selectors, validated."""
    if not values:
        return None
    out = []
    for v in values:
        for part in v.split(","):
            if part.strip():
                try:
                    out.append(check_selector(part, option))
                except ConfigError as e:
                    raise click.BadParameter(str(e).split(": ", 1)[-1], param_hint=f"'{option}'") from None
    return out


def _settings(
    config: str | None, isolated: bool, start: str, select, extend_select, ignore, fail_level, fc_param_budget
) -> Settings:
    try:
        settings = Settings() if isolated else load_settings(config, start)
    except ConfigError as e:
        fail(str(e))
    # command-line rule selection: --select starts afresh (the configured selection is replaced),
    # --extend-select and --ignore add to whatever selection is in force
    if select is not None:
        settings.select, settings.extend_select, settings.ignore = select, [], []
    settings.extend_select = [*settings.extend_select, *(extend_select or [])]
    settings.ignore = [*settings.ignore, *(ignore or [])]
    if fail_level:
        settings.fail_level = fail_level
    if fc_param_budget is not None:
        settings.fc_param_budget = fc_param_budget
    return settings


def _trace_targets(settings: Settings, targets, inputs, dtype, framework, timeout) -> list:
    """``--trace`` targets (``config``: the configured ones) — none unless asked for on the command line."""
    wanted = [t for t in targets if t != "config"]
    try:
        out = parse_trace_cli(wanted, list(inputs), dtype, timeout, framework)
    except TraceSpecError as e:
        raise click.BadParameter(str(e), param_hint="'--trace'") from None
    if "config" in targets:
        if not settings.trace:
            fail(
                "--trace config: no [[tool.densecheck.trace]] targets in "
                + (
                    settings.config_file
                    or "the configuration (no pyproject.toml with [tool.densecheck] found)"
                )
            )
        out.extend(settings.trace)
    elif inputs and not wanted:
        raise click.UsageError("--trace-input given without --trace TARGET")
    return out


def _use_color(choice: str, output_file) -> bool:
    if choice == "always":
        return True
    if choice == "never" or output_file is not None:
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


@cli.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, metavar="[PATHS]...")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMAT_NAMES),
    default="concise",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--select",
    multiple=True,
    metavar="CODES",
    help="Only these rules (codes or prefixes, comma-separated; ALL for every rule). Replaces the "
    "configured selection.",
)
@click.option("--extend-select", multiple=True, metavar="CODES", help="Enable these rules as well.")
@click.option("--ignore", multiple=True, metavar="CODES", help="Disable these rules.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Read settings from FILE (pyproject.toml or densecheck.toml) instead of searching upward.",
)
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option(
    "--fail-level",
    type=click.Choice(["error", "warning", "info"]),
    default=None,
    help="Lowest severity that makes the exit code 1.  [default: warning]",
)
@click.option(
    "--fc-param-budget",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="DC104: params allowed in one fully-connected layer.  [default: 25000000]",
)
@click.option(
    "--follow-imports/--no-follow-imports",
    default=None,
    help="Follow imports of the project's own modules (cross-file shapes).  [default: true, or the "
    "follow-imports setting]",
)
@click.option("--statistics", is_flag=True, help="Count findings per rule instead of listing them.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings (errors still exit 2).")
@click.option("-q", "--quiet", is_flag=True, help="Print the findings and nothing else.")
@click.option(
    "-o",
    "--output-file",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Write the report to FILE instead of standard output.",
)
@click.option(
    "--stdin-filename",
    metavar="PATH",
    help="Read the source from standard input (also with PATHS '-'), shown and configured as PATH.",
)
@click.option(
    "--force-exclude",
    is_flag=True,
    help="Apply exclude/extend-exclude to paths named on the command line too (for pre-commit).",
)
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour the text formats (auto: on a terminal, unless NO_COLOR is set).",
)
@click.option(
    "--trace",
    "trace_targets",
    multiple=True,
    metavar="TARGET",
    help="Also build and run TARGET (pkg.module:build or path/file.py:Net) in a subprocess to confirm "
    "the shapes; this executes your code. `--trace config` runs the [[tool.densecheck.trace]] "
    "targets.",
)
@click.option(
    "--trace-input",
    multiple=True,
    metavar="SHAPE[:DTYPE]",
    help="An input of the traced model, e.g. 1,3,224,224 or 1,128:int64 (repeat for several inputs).",
)
@click.option(
    "--trace-dtype", default=None, metavar="DTYPE", help="Default dtype of --trace-input.  [default: float32]"
)
@click.option(
    "--trace-framework",
    type=click.Choice(["torch", "keras"]),
    default=None,
    help="Framework of the traced model (default: detected).",
)
@click.option(
    "--trace-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Give up on a trace after SECONDS.  [default: 120]",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Worker processes for large runs (default: one per CPU; 1: none).",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Do not read or write the result cache (.densecheck_cache/ in the project root, or "
    "$DENSECHECK_CACHE_DIR).",
)
@click.pass_context
def check(
    ctx: click.Context,
    paths,
    output_format,
    select,
    extend_select,
    ignore,
    config_file,
    isolated,
    fail_level,
    fc_param_budget,
    follow_imports,
    statistics,
    exit_zero,
    quiet,
    output_file,
    stdin_filename,
    force_exclude,
    color,
    trace_targets,
    trace_input,
    trace_dtype,
    trace_framework,
    trace_timeout,
    jobs,
    no_cache,
) -> None:
    """Check PATHS (files or directories; default: the current directory). `-` reads standard input."""
    from densecheck import runner
    from densecheck.formats import get as get_format
    from densecheck.formats import statistics as stats

    select = _split(select, "--select")
    extend_select = _split(extend_select, "--extend-select")
    ignore = _split(ignore, "--ignore")
    paths = list(paths)
    use_stdin = paths == ["-"] or (not paths and stdin_filename is not None)
    if "-" in paths and not use_stdin:
        raise click.UsageError("'-' (standard input) cannot be combined with other paths")
    if not paths:
        paths = ["."]
    start = (
        os.path.dirname(os.path.abspath(stdin_filename))
        if use_stdin and stdin_filename
        else (os.getcwd() if use_stdin else paths[0])
    )
    settings = _settings(
        config_file, isolated, start, select, extend_select, ignore, fail_level, fc_param_budget
    )
    if follow_imports is not None:
        settings.follow_imports = follow_imports
    targets = _trace_targets(
        settings, trace_targets, trace_input, trace_dtype, trace_framework, trace_timeout
    )

    # facts first (static analysis, cross-file merge, then trace); the findings once, from the final facts
    if use_stdin:
        data = sys.stdin.buffer.read()
        result = runner.run_stdin(data, stdin_filename or "-", settings, finish=not targets)
    else:
        result = runner.run(
            paths, settings, force_exclude=force_exclude, jobs=jobs, cache=not no_cache, finish=not targets
        )
    for p in result.missing:
        click.echo(f"densecheck: error: {printable(p)}: no such file or directory", err=True)
    for p, why in result.skipped:
        click.echo(f"densecheck: note: skipped {printable(p)}: {why}", err=True)
    if targets:
        from densecheck.trace import run_trace

        run_trace(targets, result.files, settings, trace_timeout, finish=False)
        result.files = [
            f if isinstance(f, runner.CheckedFile) else runner.CheckedFile(f.path, f) for f in result.files
        ]
        result.files.sort(key=lambda f: f.path)
        runner.finish_all(result.files, settings)

    fmt_ctx = Context(result, settings, color=_use_color(color, output_file), quiet=quiet)
    if statistics:
        text = stats.render(fmt_ctx, as_json=output_format == "json")
    else:
        text = get_format(output_format)(fmt_ctx)
    if output_file is not None:
        try:
            with open(output_file, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as e:
            fail(f"{output_file}: cannot write: {e.strerror or e}")
    elif text:
        click.echo(text, nl=False, color=fmt_ctx.color)
    if result.internal_error and not quiet:
        click.echo(
            f"densecheck: error: densecheck failed on some files (DC002); please report it at {ISSUES_URL}",
            err=True,
        )
    ctx.exit(result.exit_code(settings, exit_zero))


def _find_rule(code: str):
    c = code.strip()
    rule = RULES.get(c.upper()) or next((r for r in ALL_RULES if r.name == c.lower()), None)
    if rule is None:
        fail(f"unknown rule '{code}'; `densecheck rules` lists them")
    return rule


@cli.command()
@click.argument("code")
def explain(code: str) -> None:
    """Explain a rule: what it detects, why it matters, an example and what to use instead."""
    rule = _find_rule(code)
    doc = rule.documentation()
    title, _, body = doc.partition("\n")
    enabled = (
        "enabled by default" if rule.default_enabled else "disabled by default (enable with --extend-select)"
    )
    click.echo(f"{title}\n\nDefault severity: {rule.severity}; {enabled}.\n{body}")


@cli.command("rules")
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def list_rules(output_format: str) -> None:
    """List every rule: code, name, default severity, whether it is on by default, summary."""
    rows = [
        {
            "code": r.code,
            "name": r.name,
            "severity": r.severity,
            "enabled": r.default_enabled,
            "summary": r.summary,
        }
        for r in ALL_RULES
    ]
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    header = {
        "code": "code",
        "name": "name",
        "severity": "severity",
        "enabled": "default",
        "summary": "summary",
    }
    cells: list[dict[str, Any]] = [header] + [{**r, "enabled": "on" if r["enabled"] else "off"} for r in rows]
    widths = {k: max(len(str(c[k])) for c in cells) for k in ("code", "name", "severity", "enabled")}
    for c in cells:
        click.echo("  ".join(str(c[k]).ljust(widths[k]) for k in widths) + "  " + c["summary"])


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: never a traceback, always a meaningful exit code."""
    try:
        code = cli.main(args=argv, prog_name="densecheck", standalone_mode=False)
    except click.ClickException as e:
        e.show()
        code = e.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        code = 130
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # the reader went away (`densecheck src | head`): stop quietly without a second error at interpreter
        # exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 1
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    except Exception as e:  # noqa: BLE001 - a bug in densecheck: one line, not a traceback
        where = traceback.extract_tb(e.__traceback__)[-1]
        click.echo(
            f"densecheck: error: internal error: {type(e).__name__}: {e} (at "
            f"{os.path.basename(where.filename)}:{where.lineno}); please report it at {ISSUES_URL}",
            err=True,
        )
        code = 2
    sys.exit(code if isinstance(code, int) else 0)
