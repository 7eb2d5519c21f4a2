"""The trace subprocess: ``python -m densecheck.trace.runner`` with a JSON spec on stdin.

This is the only place densecheck runs user code, and it only ever runs in a child process started by
:mod:`densecheck.trace.launch` (timeout, memory watchdog, downloads disabled). Protocol: the child writes JSON
lines to its *original* stdout — ``{"event": "target", ...}``, ``{"event": "phase", ...}`` and finally
``{"event": "result", "ok": ...}``; file descriptor 1 is pointed at stderr before any user code runs, so
whatever the user's code prints cannot corrupt the protocol.

Spec: ``{"target": "pkg.mod:build", "inputs": [{"shape": [...], "dtype": "int64"}], "framework": null,
"root": "/project", "device": "meta", "dump_after": 118.0}``.
"""

from __future__ import annotations

import faulthandler
import importlib
import importlib.util
import inspect
import json
import os
import re
import resource
import socket
import sys
import sysconfig
import time
import traceback
from typing import TextIO, cast

_T0 = time.perf_counter()
_OUT: TextIO | None = None  # the protocol stream


def emit(**event) -> None:
    assert _OUT is not None  # main() opens it before anything runs
    _OUT.write(json.dumps(event) + "\n")
    _OUT.flush()


# -- isolation
# ---------------------------------------------------------------------------------------------------
class NetworkDisabled(OSError):
    pass


def disable_network() -> None:
    """Refuse internet connections and datagrams from Python code (hub downloads, telemetry), at the
    ``socket`` and the ``_socket`` level. Unix sockets still work. The OS-level block (a network namespace,
    see
    :mod:`densecheck.trace.sandbox`) covers subprocesses too; this guard is what is left where there is
    none."""
    import _socket

    def guard(sock, address) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise NetworkDisabled(f"network access is disabled in densecheck trace (to {address!r})")

    def guarded(cls: type) -> None:
        for name, where in (("connect", 0), ("connect_ex", 0), ("sendto", -1)):
            original = getattr(cls, name)

            def method(self, *args, _original=original, _where=where):
                guard(self, args[_where] if args else None)
                return _original(self, *args)

            setattr(cls, name, method)
        original_sendmsg = cls.sendmsg  # type: ignore[attr-defined]  # monkeypatching: socket classes have it

        def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
            if address is not None:
                guard(self, address)
            return original_sendmsg(self, buffers, ancdata, flags, *(() if address is None else (address,)))

        cls.sendmsg = sendmsg  # type: ignore[attr-defined]  # monkeypatching the socket classes

    guarded(socket.socket)
    raw = type("socket", (_socket.socket,), {"__module__": "_socket"})  # the C type itself cannot be patched
    guarded(raw)
    _socket.socket = _socket.SocketType = raw  # type: ignore[misc, assignment]  # monkeypatching _socket


# -- user frames
# -------------------------------------------------------------------------------------------------
def _non_user_dirs() -> tuple[str, ...]:
    from densecheck.trace.record import framework_dirs

    own = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    stdlib = [sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib")]
    return (own, *framework_dirs(), *(os.path.abspath(p) + os.sep for p in stdlib if p))


def _char_col(filename: str, line: int, col: int | None) -> int | None:
    import linecache

    if col is None:
        return None
    text = linecache.getline(filename, line)
    if text:
        col = len(text.encode("utf-8")[:col].decode("utf-8", errors="replace"))
    return col + 1


def user_frame(exc: BaseException) -> dict | None:
    """The innermost traceback frame in user code: {path, line, column, function, text}."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return {
            "path": os.path.abspath(exc.filename),
            "line": exc.lineno,
            "column": exc.offset or 1,
            "function": None,
            "text": (exc.text or "").strip(),
        }
    skip = _non_user_dirs()
    frames = traceback.extract_tb(exc.__traceback__)
    for fs in reversed(frames):
        fn = fs.filename
        if fn.startswith("<") or os.path.abspath(fn).startswith(skip):
            continue
        return {
            "path": os.path.abspath(fn),
            "line": fs.lineno,
            # a traceback's frames carry tb_lineno (an int) when their position has no line
            "column": _char_col(fn, cast(int, fs.lineno), getattr(fs, "colno", None)),
            "function": fs.name,
            "text": (fs.line or "").strip(),
        }
    return None


def error_message(exc: BaseException) -> str:
    msg = str(exc).strip()
    if isinstance(exc, SyntaxError):
        msg = exc.msg
    msg = " ".join(msg.split())
    if len(msg) > 400:
        msg = msg[:397] + "..."
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


class TargetError(Exception):
    """The target cannot be resolved (not user code failing): a usage problem."""


class UsageError(Exception):
    """The model was built but cannot be traced as asked (missing input shapes, not a model, ...)."""


# -- resolving the target
# ----------------------------------------------------------------------------------------
def _package_root(path: str) -> tuple[str, str]:
    """(sys.path entry, dotted module name) for a file, following __init__.py upward."""
    d, name = os.path.split(os.path.abspath(path))
    parts = [os.path.splitext(name)[0]]
    while os.path.isfile(os.path.join(d, "__init__.py")):
        d, pkg = os.path.split(d)
        parts.insert(0, pkg)
    return d, ".".join(parts)


def locate(mod: str, root: str) -> tuple[str | None, str | None, str | None]:
    """(file path, sys.path entry, dotted name) of a target's module without importing anything."""
    from densecheck.trace.spec import is_file_target

    if is_file_target(mod):
        path = mod if os.path.isabs(mod) else os.path.join(root, mod)
        if not os.path.isfile(path):
            return None, None, None
        entry, dotted = _package_root(path)
        return os.path.abspath(path), entry, dotted
    rel = mod.replace(".", os.sep)
    for entry in [root, os.path.join(root, "src"), *sys.path]:
        if not entry or not os.path.isdir(entry):
            continue
        for cand in (os.path.join(entry, rel + ".py"), os.path.join(entry, rel, "__init__.py")):
            if os.path.isfile(cand):
                return os.path.abspath(cand), entry, mod
    return None, None, mod


def frameworks_mentioned(path: str | None) -> tuple[str, ...]:
    if not path:
        return ()
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return ()
    out = []
    if re.search(r"^\s*(import|from)\s+torch\b", text, re.MULTILINE):
        out.append("torch")
    if re.search(r"^\s*(import|from)\s+(keras|tensorflow|tf_keras)\b", text, re.MULTILINE):
        out.append("keras")
    for fw in JAX_FRAMEWORKS:  # the JAX libraries (one recorder for all, densecheck.trace.jax_record)
        if re.search(rf"^\s*(import|from)\s+{fw}\b", text, re.MULTILINE):
            out.append(fw)
    return tuple(out)


#: the JAX libraries whose models trace under jax.eval_shape (their plugins name the same recorder)
JAX_FRAMEWORKS = ("flax", "haiku", "equinox")


def _jax_framework(obj) -> str | None:
    """The JAX library ("flax", "haiku", "equinox") of a model, None for any other object."""
    if not any(m in sys.modules for m in JAX_FRAMEWORKS):
        return None
    from densecheck.trace.jax_record import detect_jax

    kind = detect_jax(obj)
    return kind.split(".")[0] if kind is not None else None


def _available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _definition_line(obj) -> int | None:
    try:
        return inspect.getsourcelines(obj)[1] or None
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        return getattr(code, "co_firstlineno", None)


# -- main
# --------------------------------------------------------------------------------------------------------
def run(spec: dict) -> dict:
    from densecheck.trace.spec import split_target

    root = spec.get("root") or os.getcwd()
    mod_name, attr = split_target(spec["target"])
    path, entry, dotted = locate(mod_name, root)
    emit(event="target", path=path, line=None)
    if path is None and dotted is None:
        raise TargetError(f"trace target file {mod_name!r} does not exist (relative to {root})")
    for p in (os.path.join(root, "src"), root, entry):
        if p and os.path.isdir(p) and p not in sys.path:
            sys.path.insert(0, p)

    fws = (spec["framework"],) if spec.get("framework") else frameworks_mentioned(path)
    fws = tuple(f for f in fws if _available(f if f in ("torch", *JAX_FRAMEWORKS) else "keras"))

    from densecheck.trace import record

    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = round(time.perf_counter() - _T0, 3)
        emit(event="phase", phase=name, t=phases[name])

    import contextlib

    stack = contextlib.ExitStack()
    recorders: dict[str, record._Recorder] = {}

    def install(fw: str) -> None:
        if fw in recorders:
            return
        # the framework's plugin names its recorder ("module:function", a context manager that records every
        # Dense/Linear call while it is active); importing it imports the framework, not user code
        from densecheck.plugins.registry import registry

        plugin = registry().plugin(fw)
        if plugin is None or plugin.trace_recorder is None:
            raise UsageError(f"no trace recorder for framework {fw!r}")
        module_name, _, func = plugin.trace_recorder.partition(":")
        recorders[fw] = stack.enter_context(getattr(importlib.import_module(module_name), func)())

    phase("import")
    fw: str | None
    with stack:
        for fw in fws:
            install(fw)
        try:
            module = import_target(mod_name, path, dotted)
        except ModuleNotFoundError as e:
            if e.name and (dotted or mod_name).startswith(e.name):
                raise TargetError(
                    f"cannot import {mod_name!r}: no module named {e.name!r} "
                    f"(looked in {root} and {os.path.join(root, 'src')})"
                ) from None
            raise
        if path is None:
            path = getattr(module, "__file__", None)
        obj = module
        for part in attr.split("."):
            if not hasattr(obj, part):
                raise TargetError(f"{mod_name!r} has no attribute {part!r}")
            obj = getattr(obj, part)
        emit(event="target", path=os.path.abspath(path) if path else None, line=_definition_line(obj))
        if not fws:  # nothing found by reading the file: whatever the import pulled in
            for fw, mod in (("torch", "torch"), ("keras", "keras"), ("keras", "tensorflow")):
                if mod in sys.modules:
                    install(fw)
        fw_found = record.detect_framework(obj) or _jax_framework(obj)
        if fw_found is not None:

            def build(obj=obj):  # a model object made at import time (not on the meta device)
                return obj
        elif callable(obj):
            build = obj
        else:
            raise UsageError(
                f"{spec['target']} is a {type(obj).__name__}, not a function or class that builds a model"
            )

        specs = [(tuple(i["shape"]), i.get("dtype") or "float32") for i in spec.get("inputs") or []]
        device = spec.get("device") or "meta"
        if (
            fw_found == "torch"
        ):  # an instance made at import time has real weights where it was made: run it there
            device = next((p.device.type for p in obj.parameters()), "cpu")
        phase("build")

        def build_model():
            if "torch" in recorders:
                import torch

                with torch.device(device):
                    return build()
            return build()

        model = build_model()
        fw = record.detect_framework(model) or _jax_framework(model)
        if fw is not None and fw not in recorders and fw_found is None:
            # the framework was only imported while building: build again, this time recording
            install(fw)
            model = build_model()
        # only the layers of the traced model count (see _Recorder.keep_only), pruned after the run
        members = record.model_layers(model)
        torch_rec = recorders.get("torch")
        keras_rec = recorders.get("keras")
        phase("run")
        try:
            if fw == "torch" and torch_rec is not None:
                if not specs:
                    raise UsageError(
                        f"{type(model).__name__} is a PyTorch module: give its input shape(s), e.g. "
                        "--trace-input 1,3,224,224 (or 1,128:int64 for token ids)"
                    )
                if any(d is None for s, _ in specs for d in s):
                    raise UsageError("PyTorch inputs need every dimension (no None)")
                record._run_torch(model, lambda: record.make_torch_inputs(specs, device), device, torch_rec)
                if members is not None:
                    torch_rec.keep_only(members)
                records = torch_rec.records(record._describe_torch)
            elif fw == "keras" and keras_rec is not None:
                try:
                    record._run_keras(model, specs or None, keras_rec)
                except ValueError as e:
                    if "declares no Input" in str(e):
                        raise UsageError(str(e)) from None
                    raise
                if members is not None:
                    keras_rec.keep_only(members)
                records = keras_rec.records(record._describe_keras)
            elif fw in JAX_FRAMEWORKS and fw in recorders:
                if not specs or any(d is None for s, _ in specs for d in s):
                    raise UsageError(
                        f"{type(model).__name__} is a JAX model: give its input shape(s) with every "
                        "dimension, e.g. --trace-input 1,28,28,1 (batch first; an Equinox model is vmapped "
                        "over it)"
                    )
                from densecheck.trace import jax_record

                jax_rec = recorders[fw]
                jax_record.run_jax(model, specs, jax_rec)  # type: ignore[arg-type]
                records = jax_rec.results()  # type: ignore[attr-defined]
            else:
                what = f"{type(model).__module__}.{type(model).__qualname__}"
                raise UsageError(f"{spec['target']} returned {what}, not a torch nn.Module or a Keras model")
        finally:
            for h in getattr(torch_rec, "_handles", []):
                h.remove()
    phase("done")
    return {
        "framework": fw,
        "records": [r.to_json() for r in records],
        "model": type(model).__qualname__,
        "phases": phases,
    }


_NEVER_SHADOW = {"torch", "keras", "tensorflow", "numpy", "densecheck", "test", "tests"}


def import_target(mod_name: str, path: str | None, dotted: str | None):
    """Import the target's module: by dotted name, or for a file by its package-qualified name (so relative
    imports work) unless that name would shadow an installed package; then under a private name."""
    from densecheck.trace.spec import is_file_target

    if not is_file_target(mod_name):
        return importlib.import_module(dotted or mod_name)
    # locate() gives both for a file target that exists, and run() stops when it gave neither
    assert path is not None and dotted is not None
    top = dotted.split(".")[0]
    if "." in dotted and top not in _NEVER_SHADOW and top not in sys.modules:
        return importlib.import_module(dotted)
    name = dotted if top not in _NEVER_SHADOW and dotted not in sys.modules else f"_densecheck_target_{top}"
    name = name.replace(".", "_") if name != dotted else name
    spec = importlib.util.spec_from_file_location(name, path)
    # spec is None for a file whose suffix no loader takes (`models/net`, `net.txt`): AttributeError here
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]  # see above: kept as it was
    sys.modules[name] = module
    # module_from_spec(None) raised above; a spec from a file location always has a loader
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(module)
    return module


def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(r / 1024 if sys.platform != "darwin" else r / 2**20, 1)


def main() -> int:
    global _OUT
    spec = json.loads(sys.stdin.read() or "{}")
    from densecheck.trace.sandbox import describe

    confinement = describe(spec.get("host_ns") or {})
    if confinement["processes"] == "pid-namespace":
        # this process's children start a fresh PID namespace: the trace runs as its PID 1, so when the trace
        # ends the kernel ends everything the traced code started, setsid or not; this process only waits
        pid = os.fork()
        if pid:
            _, status = os.waitpid(pid, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        from densecheck.processes import die_with_parent

        # the waiter dies with the linter, and the whole namespace with this process (its parent is outside
        # the namespace, so getppid() says 0: there is no pid to check against)
        die_with_parent()
    # the protocol keeps the real stdout; everything else printing to fd 1 goes to stderr
    sys.stdout.flush()
    _OUT = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    disable_network()
    if spec.get("dump_after"):
        assert sys.__stderr__ is not None  # launch.py starts this process with stderr=PIPE
        faulthandler.dump_traceback_later(float(spec["dump_after"]), exit=False, file=sys.__stderr__)
    try:
        out = run(spec)
        emit(
            event="result",
            ok=True,
            **out,
            stats={
                "wall_s": round(time.perf_counter() - _T0, 3),
                "peak_rss_mb": peak_rss_mb(),
                "sandbox": confinement,
            },
        )
        return 0
    except (TargetError, UsageError) as e:
        kind = "target" if isinstance(e, TargetError) else "usage"
        emit(
            event="result",
            ok=False,
            error={"kind": kind, "message": str(e), "frame": None},
            stats={"wall_s": round(time.perf_counter() - _T0, 3), "peak_rss_mb": peak_rss_mb()},
        )
        return 0
    except BaseException as e:  # noqa: BLE001 - user code may raise anything, even SystemExit
        emit(
            event="result",
            ok=False,
            error={
                "kind": "exception",
                "type": type(e).__name__,
                "message": error_message(e),
                "frame": user_frame(e),
            },
            stats={"wall_s": round(time.perf_counter() - _T0, 3), "peak_rss_mb": peak_rss_mb()},
        )
        return 0
    finally:
        faulthandler.cancel_dump_traceback_later()


if __name__ == "__main__":
    sys.exit(main())
