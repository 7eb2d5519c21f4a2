"""What to trace: targets and input specs, from the command line and from ``[[tool.densecheck.trace]]``.

A target names something that builds a model:

* ``pkg.module:build`` — a function (called with no arguments) or a class (instantiated with no arguments) in
  an importable module (the project root and ``src/`` are on ``sys.path``);
* ``path/to/file.py:build`` — the same, in a file (relative to the project root);
* ``...:Outer.attr`` — a dotted attribute path is followed.

An input spec is a shape with the batch axis, optionally a dtype: ``1,3,224,224`` (float32), ``2,128:int64``
(token ids). ``x`` works as a separator too (``1x3x224x224``); ``None`` / ``?`` is an unknown size (Keras
only). Keras models that declare their ``Input`` need no input spec.

Nothing here imports or runs user code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT = 120.0
DEFAULT_MEMORY_LIMIT_MB = 8192

DTYPES = {
    "float32": "float32",
    "float": "float32",
    "f32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "half": "float16",
    "f16": "float16",
    "fp16": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float64": "float64",
    "double": "float64",
    "f64": "float64",
    "int64": "int64",
    "long": "int64",
    "int": "int64",
    "i64": "int64",
    "int32": "int32",
    "i32": "int32",
    "int16": "int16",
    "int8": "int8",
    "uint8": "uint8",
    "bool": "bool",
}
FRAMEWORKS = ("torch", "keras")


class TraceSpecError(ValueError):
    """A bad trace target / input / config value; the message names the offending value."""


@dataclass(frozen=True)
class InputSpec:
    shape: tuple[int | None, ...]
    dtype: str = "float32"

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "dtype": self.dtype}

    def __str__(self) -> str:
        dims = ",".join("None" if d is None else str(d) for d in self.shape)
        return dims if self.dtype == "float32" else f"{dims}:{self.dtype}"


@dataclass
class TraceTarget:
    target: str
    inputs: list[InputSpec] = field(default_factory=list)
    framework: str | None = None  # None: detected from the built object
    timeout: float | None = None  # None: run_trace's default
    memory_limit_mb: int | None = None  # None: DEFAULT_MEMORY_LIMIT_MB
    origin: str = "--trace"  # "--trace" (command line) or where in the config it came from

    def to_json(self) -> dict:
        return {
            "target": self.target,
            "inputs": [i.to_json() for i in self.inputs],
            "framework": self.framework,
        }

    @property
    def module_part(self) -> str:
        return split_target(self.target)[0]

    @property
    def attr_part(self) -> str:
        return split_target(self.target)[1]


def split_target(target: str) -> tuple[str, str]:
    """``"a/b.py:build"`` -> ``("a/b.py", "build")``; ValueError when malformed."""
    t = target.strip()
    if ":" not in t:
        raise TraceSpecError(f"trace target {target!r}: expected 'pkg.module:build' or 'path/file.py:build'")
    mod, _, attr = t.rpartition(":")
    if not mod or not attr or not all(p.isidentifier() for p in attr.split(".")):
        raise TraceSpecError(
            f"trace target {target!r}: expected 'pkg.module:build' or 'path/file.py:build' "
            "(the part after ':' must be a name such as build or MyModel)"
        )
    if not is_file_target(mod) and not all(p.isidentifier() for p in mod.split(".")):
        raise TraceSpecError(
            f"trace target {target!r}: {mod!r} is neither a dotted module name nor a .py file"
        )
    return mod, attr


def is_file_target(mod: str) -> bool:
    return mod.endswith(".py") or "/" in mod or "\\" in mod


_DIM_SPLIT = re.compile(r"\s*,\s*|(?<=\d)\s*[x×]\s*(?=\d)")  # "1,3,224,224" or "1x3x224x224"


def normalize_dtype(dtype: str, what: str = "dtype") -> str:
    d = str(dtype).strip().lower().removeprefix("torch.").removeprefix("np.")
    if d not in DTYPES:
        raise TraceSpecError(
            f"{what}: unknown dtype {dtype!r} (use one of float32, float16, bfloat16, float64, "
            "int64, int32, int8, uint8, bool)"
        )
    return DTYPES[d]


def parse_input(text: Any, default_dtype: str = "float32", what: str = "trace input") -> InputSpec:
    """``"2,128:int64"`` / ``[2, 128]`` -> InputSpec."""
    if isinstance(text, (list, tuple)):
        dims_txt = [str(d) for d in text]
        dtype = default_dtype
    elif isinstance(text, str):
        body, sep, dtype = text.strip().partition(":")
        dtype = dtype if sep else default_dtype
        body = body.strip().strip("()[]").strip()
        dims_txt = _DIM_SPLIT.split(body) if body else []
        if dims_txt and dims_txt[-1] == "":  # a trailing comma, as in "(8,)"
            dims_txt.pop()
    else:
        raise TraceSpecError(f'{what}: expected a shape like "1,3,224,224" or "2,128:int64", got {text!r}')
    if not dims_txt:
        raise TraceSpecError(f'{what}: empty shape in {text!r} (expected e.g. "1,3,224,224")')
    dims: list[int | None] = []
    for d in dims_txt:
        d = d.strip()
        if d.lower() in ("none", "?", "null"):
            dims.append(None)
            continue
        try:
            n = int(d)
        except ValueError:
            raise TraceSpecError(
                f"{what}: {d!r} in {text!r} is not a dimension (an integer, or None)"
            ) from None
        if n < 0:
            raise TraceSpecError(f"{what}: negative dimension {n} in {text!r}")
        dims.append(n)
    return InputSpec(tuple(dims), normalize_dtype(dtype, what))


def parse_trace_cli(
    targets: list[str],
    inputs: list[str] | None = None,
    dtype: str | None = None,
    timeout: float | None = None,
    framework: str | None = None,
) -> list[TraceTarget]:
    """``--trace TARGET`` (repeatable) with ``--trace-input SHAPE[:dtype]`` (repeatable, one per model input,
    in order; applied to every ``--trace`` target). ValueError with a clear message for bad values."""
    default = normalize_dtype(dtype, "--trace-dtype") if dtype else "float32"
    specs = [parse_input(i, default, "--trace-input") for i in (inputs or [])]
    if framework is not None and framework not in FRAMEWORKS:
        raise TraceSpecError(f"--trace-framework: expected one of {', '.join(FRAMEWORKS)}, got {framework!r}")
    if timeout is not None and not timeout > 0:
        raise TraceSpecError(f"--trace-timeout: expected a positive number of seconds, got {timeout!r}")
    out = []
    for t in targets:
        split_target(t)
        out.append(TraceTarget(t.strip(), list(specs), framework, timeout, origin="--trace"))
    if specs and not out:
        raise TraceSpecError("--trace-input given without --trace TARGET")
    return out


_KEYS = {"target", "inputs", "input", "dtype", "framework", "timeout", "memory-limit-mb"}


def parse_trace_config(value: Any, where: str = "tool.densecheck.trace") -> list[TraceTarget]:
    """Validate ``[[tool.densecheck.trace]]`` (an array of tables) or ``[tool.densecheck.trace]`` (one table).

    Keys: ``target`` (required), ``inputs`` (list of shape strings, or list of int lists), ``dtype`` (default
    dtype for inputs without one), ``framework`` ("torch" | "keras"), ``timeout`` (seconds),
    ``memory-limit-mb``. Snake-case spellings are accepted too. Raises ValueError with the offending key in
    the message.
    """
    if value is None:
        return []
    tables = [value] if isinstance(value, dict) else value
    if not isinstance(tables, list):
        raise TraceSpecError(f"{where}: expected a table or an array of tables, got {type(value).__name__}")
    out = []
    for i, t in enumerate(tables):
        w = f"{where}[{i}]" if isinstance(value, list) else where
        if not isinstance(t, dict):
            raise TraceSpecError(f"{w}: expected a table with a 'target' key, got {t!r}")
        t = {str(k).replace("_", "-"): v for k, v in t.items()}
        unknown = sorted(set(t) - _KEYS)
        if unknown:
            raise TraceSpecError(
                f"{w}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS - {'input'}))})"
            )
        target = t.get("target")
        if not isinstance(target, str) or not target.strip():
            raise TraceSpecError(
                f"{w}.target: required, a string like 'pkg.module:build' or 'models/net.py:Net'"
            )
        try:
            split_target(target)
        except ValueError as e:
            raise TraceSpecError(f"{w}.target: {e}") from None
        dtype = t.get("dtype", "float32")
        if not isinstance(dtype, str):
            raise TraceSpecError(f'{w}.dtype: expected a string such as "int64", got {dtype!r}')
        dtype = normalize_dtype(dtype, f"{w}.dtype")
        raw = t.get("inputs", t.get("input", []))
        if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(d, int) for d in raw)):
            raw = [raw]  # one input
        if not isinstance(raw, list):
            raise TraceSpecError(f'{w}.inputs: expected a list of shapes like ["1,3,224,224"], got {raw!r}')
        inputs = [parse_input(s, dtype, f"{w}.inputs[{j}]") for j, s in enumerate(raw)]
        fw = t.get("framework")
        if fw is not None and fw not in FRAMEWORKS:
            raise TraceSpecError(f"{w}.framework: expected one of {', '.join(FRAMEWORKS)}, got {fw!r}")
        timeout = t.get("timeout")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
        ):
            raise TraceSpecError(f"{w}.timeout: expected a positive number of seconds, got {timeout!r}")
        mem = t.get("memory-limit-mb")
        if mem is not None and (isinstance(mem, bool) or not isinstance(mem, int) or mem <= 0):
            raise TraceSpecError(f"{w}.memory-limit-mb: expected a positive integer, got {mem!r}")
        out.append(
            TraceTarget(
                target.strip(), inputs, fw, float(timeout) if timeout is not None else None, mem, origin=w
            )
        )
    return out


def config_section_validator(value: Any, where: str) -> list[TraceTarget]:
    """For :func:`densecheck.config.register_section` (``where`` names the config file): ValueError ->
    ConfigError."""
    from densecheck.config import ConfigError

    try:
        return parse_trace_config(value, f"{where}: trace")
    except ValueError as e:
        raise ConfigError(str(e)) from None
