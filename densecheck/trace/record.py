"""In-process recording of every Dense / Linear a model build constructs and the shapes it is applied to.

This module *executes user code*. It is imported only inside the trace subprocess
(:mod:`densecheck.trace.runner`) and by tests; the static linter never imports it.

How a layer is attributed to its source line
    While ``build()`` runs, ``torch.nn.Linear.__init__`` / ``keras.layers.Dense.__init__`` are wrapped. The
    wrapper walks the Python stack up from the constructor, skipping the frames that are constructing *this
    very object* (``super().__init__`` chains of user subclasses) and densecheck's own frames. The first
    remaining frame is the constructor call site, even when the layer is built in a helper function or inside
    a sub-module's ``__init__``. Its exact position comes from ``code.co_positions()`` at the frame's last
    instruction (the ``CALL``), which CPython >= 3.11 maps to the whole call expression: line and start column
    of ``nn.Linear(...)`` — the same position libcst reports for the ``Call`` node (1-based column, counted in
    characters). If that frame lives inside torch / keras / tensorflow, the layer is a framework-internal one
    (e.g. the ``out_proj`` of ``nn.MultiheadAttention``) and is not reported.

How input shapes are recorded
    torch: a forward pre-hook on each constructed Linear (the model runs on the meta device: no weight memory,
    no compute). keras: ``Dense.__call__`` is wrapped, so every symbolic call (functional graph construction,
    Sequential build, or a symbolic call of a subclassed model on a ``keras.Input``) records its input shape.

MACs conventions (stored per site)
    Both count multiply-accumulates of the weight matrix only, bias excluded, the convention of the FLOP/MAC
    counters users compare with (thop, fvcore, ptflops: in x out per position). ``macs``: *per sample* of one
    call = positions x in x out — the same number as :attr:`densecheck.layers.LayerReport.macs`.
    ``mult_adds``: the whole batch over every recorded call, ``prod(input.shape[:-1]) * in * out``. For
    ``Linear(32, 10)`` on ``[2, 64, 32, 32]``: macs = 64*32 * 32*10 = 655,360 per sample; mult_adds =
    2*64*32 * 320 = 1,310,720 (what ``thop.profile`` reports for it).

Layout (torch)
    A torch tensor does not say where its channels are, so while the model runs a ``TorchFunctionMode``
    (:class:`_TorchLayout`) follows it: a convolution, pool or batch norm makes a channels-first feature
    map (channels on axis 1, spatial); element-wise functions keep the layout of a same-shaped input;
    ``permute`` / ``transpose`` move it (and mark it explicit); anything else forgets it. A Linear's
    pre-hook records the layout of its input beside its shape, so a traced Linear on a convolution's NCHW
    output is spatial mixing (DC102) even when static analysis knew nothing.
"""

from __future__ import annotations

import contextlib
import itertools
import linecache
import math
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from types import FrameType
from typing import Any, cast

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the densecheck package directory


@dataclass
class SiteRecord:
    """One constructor call site, aggregated over every layer instance it built (a site inside a loop or a
    helper builds many)."""

    path: str
    line: int
    column: int | None  # 1-based column of the call expression (libcst's Call start), when derivable
    framework: str  # "torch" | "keras"
    layer: (
        str  # "torch.nn.Linear" / "torch.nn.LazyLinear" / "keras.layers.Dense" / a subclass's qualified name
    )
    input_shapes: list[list[int | None]] = field(
        default_factory=list
    )  # every input shape seen, dedup, call order
    in_features: int | None = None  # None when unknown or when the instances of this site differ
    out_features: int | None = None
    params: int | None = (
        None  # per instance, from the framework (numel / count_params); None if instances differ
    )
    calls: int = 0
    instances: int = 0
    params_total: int | None = None  # summed over the instances
    bias: bool | None = None
    macs: list[int | None] = field(
        default_factory=list
    )  # per sample, per entry of input_shapes (bias excluded)
    mult_adds: int | None = None  # whole batch, all calls: positions x in x out, bias excluded (thop/fvcore)
    #: per entry of input_shapes: the layout the trace saw, ``[channel_axis, spatial, explicit]`` (a tensor
    #: made by a convolution or a pool: NCHW, channels on axis 1, spatial), or None when it could not tell
    input_layouts: list[list[Any] | None] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SiteRecord:
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in d.items() if k in names})


# ------------------------------------------------------------------------------------------------------------
# Frames
# ------------------------------------------------------------------------------------------------------------


def _package_dirs(*names: str) -> tuple[str, ...]:
    out = []
    for n in names:
        mod = sys.modules.get(n)
        f = getattr(mod, "__file__", None)
        if f:
            out.append(os.path.dirname(os.path.abspath(f)) + os.sep)
    return tuple(out)


def framework_dirs() -> tuple[str, ...]:
    """Directories of framework code (frames there are never 'user code')."""
    return _package_dirs(
        "torch", "keras", "tensorflow", "tf_keras", "tensorboard", "numpy", "optree", "ml_dtypes"
    )


def _is_own(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_HERE + os.sep)


def _column(frame: FrameType) -> tuple[int, int | None]:
    """(line, 1-based character column) of the instruction ``frame`` is executing."""
    code = frame.f_code
    try:
        pos = next(itertools.islice(code.co_positions(), frame.f_lasti // 2, None))
    except (AttributeError, StopIteration, ValueError):  # Python < 3.11
        return frame.f_lineno, None
    line, _end, col, _endcol = pos
    if line is None:
        return frame.f_lineno, None
    if col is None:
        return line, None
    text = linecache.getline(code.co_filename, line, frame.f_globals)
    if text:
        # co_positions counts UTF-8 bytes; libcst counts characters
        col = len(text.encode("utf-8")[:col].decode("utf-8", errors="replace"))
    return line, col + 1


def call_site(obj: Any, fw_dirs: tuple[str, ...]) -> tuple[str, int, int | None] | None:
    """The constructor call site of ``obj`` (being constructed now), or None when a framework built it."""
    f: FrameType | None = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if _is_own(fn) or f.f_locals.get("self", None) is obj:
            f = f.f_back
            continue
        break
    if f is None:
        return None
    fn = f.f_code.co_filename
    if fn.startswith("<frozen") or os.path.abspath(fn).startswith(fw_dirs):
        return None
    line, col = _column(f)
    path = fn if fn.startswith("<") else os.path.abspath(fn)
    return path, line, col


# ------------------------------------------------------------------------------------------------------------
# Aggregation
# ------------------------------------------------------------------------------------------------------------

_UNSET = object()


@dataclass
class _Site:
    key: tuple[str, int, int | None]
    framework: str
    layer: str
    instances: list[Any] = field(default_factory=list)
    shapes: list[list[int | None]] = field(default_factory=list)
    layouts: list[list[Any] | None] = field(default_factory=list)  # per shape, see SiteRecord.input_layouts
    calls: int = 0
    mult_adds: int | None = 0

    def see(
        self,
        shape: list[int | None],
        in_f: int | None,
        out_f: int | None,
        bias: bool | None,
        count: bool = True,
        layout: list[Any] | None = None,
    ) -> None:
        """One call on an input of ``shape``. ``count=False``: a call Keras makes only to build a model by
        running it (its shape is real, but it is not a call of the finished model)."""
        if shape not in self.shapes:
            self.shapes.append(shape)
            self.layouts.append(layout)
        if not count:
            return
        self.calls += 1
        if self.mult_adds is not None:
            if in_f is None or out_f is None or any(d is None for d in shape[:-1]):
                self.mult_adds = None
            else:
                self.mult_adds += math.prod(cast("list[int]", shape[:-1])) * in_f * out_f

    def record(self, describe: Callable[[Any], tuple[Any, ...]]) -> SiteRecord:
        path, line, col = self.key
        facts = [describe(m) for m in self.instances]  # (in, out, params, bias)

        def same(i: int) -> Any:
            vals = {f[i] for f in facts}
            return vals.pop() if len(vals) == 1 else None

        in_f, out_f, params, bias = same(0), same(1), same(2), same(3)
        ptot = sum(f[2] for f in facts) if facts and all(f[2] is not None for f in facts) else None
        macs: list[int | None] = []
        for s in self.shapes:
            if in_f is None or out_f is None or not s:
                macs.append(None)
                continue
            pos = (
                math.prod(cast("list[int]", s[1:-1]))
                if len(s) > 2 and all(d is not None for d in s[1:-1])
                else (1 if len(s) <= 2 else None)
            )
            macs.append(pos * in_f * out_f if pos is not None else None)
        return SiteRecord(
            path,
            line,
            col,
            self.framework,
            self.layer,
            list(self.shapes),
            in_f,
            out_f,
            params,
            self.calls,
            len(self.instances),
            ptot,
            bias,
            macs,
            self.mult_adds if self.calls else None,
            list(self.layouts),
        )


class _Recorder:
    _handles: list[Any]  # torch: the forward pre-hooks, set by torch_sites
    layout: Any = None  # torch: the layout-following mode of the run (_run_torch)

    def __init__(self, framework: str):
        self.framework = framework
        self.sites: dict[tuple[str, int, int | None], _Site] = {}
        self.by_id: dict[int, _Site] = {}
        self.called: set[int] = set()  # the ids of the instances that were called

    def add(self, obj: Any, layer_name: str, fw_dirs: tuple[str, ...]) -> None:
        site = call_site(obj, fw_dirs)
        if site is None:
            return
        s = self.sites.get(site)
        if s is None:
            s = self.sites[site] = _Site(site, self.framework, layer_name)
        s.instances.append(obj)
        self.by_id[id(obj)] = s

    def records(self, describe: Callable[[Any], tuple[Any, ...]]) -> list[SiteRecord]:
        return [s.record(describe) for s in self.sites.values()]

    def keep_only(self, members: set[int]) -> None:
        """Forget the layer instances that are neither ``members`` (by id) nor were called: those not part of
        the traced model (a ``model = Net()`` the module built at import time, a layer the factory threw
        away); a layer the model holds outside its registered submodules (in a plain tuple) still counts once
        it is called."""
        members = members | self.called
        for key, s in list(self.sites.items()):
            s.instances = [o for o in s.instances if id(o) in members]
            if not s.instances:
                del self.sites[key]
        self.by_id = {k: s for k, s in self.by_id.items() if k in members}


def model_layers(model: Any) -> set[int] | None:
    """The ids of every layer inside ``model`` (itself included), or None when they cannot be listed."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        return {id(m) for m in model.modules()}
    flatten = getattr(model, "_flatten_layers", None)  # keras 3 layers and models
    if callable(flatten):
        try:
            return {id(layer) for layer in flatten(include_self=True, recursive=True)}
        except TypeError:
            return None
    return None


def _shape_list(x: Any) -> list[int | None] | None:
    shape = getattr(x, "shape", None)
    if shape is None:
        return None
    if hasattr(shape, "as_list"):  # tf.TensorShape
        try:
            shape = shape.as_list()
        except ValueError:  # unknown rank
            return None
    out: list[int | None] = []
    for d in shape:
        try:
            out.append(None if d is None else int(d))
        except (TypeError, ValueError):  # symbolic / dynamic dim
            out.append(None)
    return out


def _qualname(cls: type, canonical: dict[Any, str]) -> str:
    return canonical.get(cls) or f"{cls.__module__}.{cls.__qualname__}"


# ------------------------------------------------------------------------------------------------------------
# torch
# ------------------------------------------------------------------------------------------------------------


#: torch functions whose output is a channels-first feature map (channels on axis 1 of a batched input)
_FEATURE_MAP_FUNCS = frozenset(
    """conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d max_pool1d max_pool2d
    max_pool3d max_pool1d_with_indices max_pool2d_with_indices max_pool3d_with_indices avg_pool1d
    avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d adaptive_max_pool1d
    adaptive_max_pool2d adaptive_max_pool3d lp_pool1d lp_pool2d batch_norm instance_norm group_norm""".split()
)


def _torch_layout_mode() -> Any:
    """A TorchFunctionMode following where the channels of each tensor are (see "Layout" above)."""
    import torch
    from torch.overrides import TorchFunctionMode

    class _TorchLayout(TorchFunctionMode):
        def __init__(self) -> None:
            super().__init__()
            self.layouts: dict[int, tuple[Any, list[Any]]] = {}  # id(tensor) -> (tensor, layout): kept alive

        def of(self, t: Any) -> list[Any] | None:
            entry = self.layouts.get(id(t))
            return entry[1] if entry is not None and entry[0] is t else None

        def _set(self, t: Any, layout: list[Any] | None) -> None:
            if layout is not None and isinstance(t, torch.Tensor):
                self.layouts[id(t)] = (t, layout)

        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            try:
                self._follow(func, args, kwargs, out)
            except Exception:  # noqa: BLE001 - following the layout must never break the traced model
                pass
            return out

        def _follow(self, func: Any, args: Any, kwargs: Any, out: Any) -> None:
            name = getattr(func, "__name__", "")
            first = out[0] if isinstance(out, tuple) and out else out
            if not isinstance(first, torch.Tensor):
                return
            if name in _FEATURE_MAP_FUNCS:
                if first.dim() >= 3:
                    self._set(first, [1, True, False])
                return
            src = args[0] if args else None
            if not isinstance(src, torch.Tensor):
                return
            lay = self.of(src)
            if lay is None:
                return
            if name in ("permute", "transpose", "swapaxes", "swapdims") and first.dim() == src.dim():
                n = src.dim()
                if name == "permute":
                    dims = args[1:] if len(args) > 2 or not isinstance(args[1], (list, tuple)) else args[1]
                    order = [int(d) % n for d in (dims or kwargs.get("dims", ()))]
                else:
                    a, b = (
                        int(d) % n
                        for d in (args[1:3] if len(args) >= 3 else (kwargs["dim0"], kwargs["dim1"]))
                    )
                    order = list(range(n))
                    order[a], order[b] = order[b], order[a]
                ca = order.index(lay[0])
                self._set(first, [ca, lay[1], lay[2] or ca != lay[0]])
                return
            if list(first.shape) == list(src.shape):  # element-wise: the layout of its input
                self._set(first, lay)

    return _TorchLayout()


@contextlib.contextmanager
def torch_sites() -> Iterator[_Recorder]:
    """While active, every ``nn.Linear`` (and subclass, incl. LazyLinear) constructed from user code is
    attributed to its call site and gets a forward pre-hook recording its input shapes."""
    from torch import nn

    rec = _Recorder("torch")
    canonical = {nn.Linear: "torch.nn.Linear", nn.LazyLinear: "torch.nn.LazyLinear"}
    fw = framework_dirs()
    orig = nn.Linear.__init__
    handles: list[Any] = []
    rec._handles = handles  # forward pre-hooks; the caller removes them once the forward pass has run

    def hook(mod: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        site = rec.by_id.get(id(mod))
        if site is None:
            return
        rec.called.add(id(mod))
        x = args[0] if args else kwargs.get("input")
        shape = _shape_list(x)
        if shape is not None:
            w = getattr(mod, "weight", None)
            lazy = isinstance(w, nn.parameter.UninitializedParameter)
            in_f = shape[-1] if lazy or not shape else mod.in_features
            mode = getattr(rec, "layout", None)
            layout = mode.of(x) if mode is not None else None
            site.see(shape, in_f, mod.out_features, getattr(mod, "bias", None) is not None, layout=layout)
        return

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        orig(self, *args, **kwargs)
        if id(self) not in rec.by_id:
            rec.add(self, _qualname(type(self), canonical), fw)
            if id(self) in rec.by_id:
                handles.append(self.register_forward_pre_hook(hook, with_kwargs=True))

    nn.Linear.__init__ = __init__  # type: ignore[method-assign]  # patched while recording, restored below
    try:
        yield rec
    finally:
        nn.Linear.__init__ = orig  # type: ignore[method-assign]  # restoring the patch


def _describe_torch(mod: Any) -> tuple[Any, ...]:
    from torch import nn

    w = getattr(mod, "weight", None)
    b = getattr(mod, "bias", None)
    if isinstance(w, nn.parameter.UninitializedParameter):
        return None, mod.out_features, None, b is not None
    params = sum(p.numel() for p in (w, b) if p is not None)
    return mod.in_features, mod.out_features, params, b is not None


def make_torch_inputs(specs: Any, device: str = "meta") -> list[Any]:
    """``[(shape, dtype_name), ...]`` -> tensors (uninitialised; on the meta device they cost nothing)."""
    import torch

    out: list[Any] = []
    for shape, dtype in specs:
        dt = getattr(torch, dtype or "float32", None)
        if not isinstance(dt, torch.dtype):
            raise ValueError(f"unknown torch dtype {dtype!r}")  # noqa: TRY004 - a bad user value
        if dt.is_floating_point or dt.is_complex or dt == torch.bool:
            out.append(torch.empty(tuple(shape), dtype=dt, device=device))
        else:
            # token ids: zeros are valid indices for any embedding
            out.append(torch.zeros(tuple(shape), dtype=dt, device=device))
    return out


def record_torch(build: Callable[[], Any], inputs: Any = None, *, device: str = "meta") -> list[SiteRecord]:
    """Build the model with ``build()`` on ``device`` and run it on ``inputs``; one SiteRecord per call site.

    ``inputs``: a tensor, a sequence of tensors, a dict of keyword tensors, or a callable returning one of
    those (called inside the device context, so ``torch.empty(...)`` lands on the meta device). Layers
    constructed but never called are included with ``input_shapes == []``.
    """
    import torch

    with torch_sites() as rec, torch.device(device):
        model = build()
    try:
        if inputs is not None:
            _run_torch(model, inputs, device, rec)
        return rec.records(_describe_torch)
    finally:
        for h in getattr(rec, "_handles", []):
            h.remove()


def _run_torch(model: Any, inputs: Any, device: str, rec: _Recorder | None = None) -> None:
    """Run ``model`` on ``inputs``; with ``rec``, the layout of every tensor is followed (see "Layout")."""
    import torch

    with torch.device(device):
        if callable(inputs) and not isinstance(inputs, torch.Tensor):
            inputs = inputs()
    was_training = getattr(model, "training", None)
    if hasattr(model, "eval"):
        model.eval()
    mode = _torch_layout_mode() if rec is not None else contextlib.nullcontext()
    if rec is not None:
        rec.layout = mode
    try:
        with torch.no_grad(), mode:
            if isinstance(inputs, dict):
                model(**inputs)
            elif isinstance(inputs, (list, tuple)):
                model(*inputs)
            else:
                model(inputs)
    finally:
        if was_training:
            model.train()


# ------------------------------------------------------------------------------------------------------------
# keras
# ------------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def keras_sites() -> Iterator[_Recorder]:
    """While active, every ``keras.layers.Dense`` (tf.keras is the same class under Keras 3) constructed from
    user code is attributed to its call site, and every call of it records its (symbolic) input shape."""
    import keras

    Dense = keras.layers.Dense
    rec = _Recorder("keras")
    canonical = {Dense: "keras.layers.Dense"}
    fw = framework_dirs()
    orig_init = Dense.__init__
    orig_call = Dense.__call__
    # Keras builds a subclassed layer/model by running its ``call`` once inside ``_maybe_build``, then calls
    # it for real: calls made while any layer is building are shapes, not calls.
    Layer = keras.layers.Layer
    orig_maybe_build = Layer.__dict__.get("_maybe_build")
    building = [0]

    def _maybe_build(self: Any, *args: Any, **kwargs: Any) -> Any:
        building[0] += 1
        try:
            return orig_maybe_build(self, *args, **kwargs)
        finally:
            building[0] -= 1

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        orig_init(self, *args, **kwargs)
        if id(self) not in rec.by_id:
            rec.add(self, _qualname(type(self), canonical), fw)

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = orig_call(self, *args, **kwargs)
        site = rec.by_id.get(id(self))
        if site is not None:
            rec.called.add(id(self))
            shape = _shape_list(args[0] if args else kwargs.get("inputs"))
            if shape is not None:
                site.see(
                    shape, shape[-1] if shape else None, self.units, bool(self.use_bias), building[0] == 0
                )
        return out

    Dense.__init__ = __init__
    Dense.__call__ = __call__
    if orig_maybe_build is not None:
        Layer._maybe_build = _maybe_build
    try:
        yield rec
    finally:
        Dense.__init__ = orig_init
        Dense.__call__ = orig_call
        if orig_maybe_build is not None:
            Layer._maybe_build = orig_maybe_build


def _describe_keras(layer: Any) -> tuple[Any, ...]:
    bias = bool(getattr(layer, "use_bias", True))
    if not getattr(layer, "built", False):
        return None, layer.units, None, bias
    kernel = getattr(layer, "kernel", None)
    in_f = int(kernel.shape[0]) if kernel is not None else None
    try:
        params = int(layer.count_params())
    except Exception:  # noqa: BLE001 - a half-built layer
        params = None
    return in_f, layer.units, params, bias


def make_keras_inputs(specs: Any) -> list[Any]:
    import keras

    return [keras.Input(batch_shape=tuple(shape), dtype=dtype or "float32") for shape, dtype in specs]


def _keras_declared_inputs(model: Any) -> bool:
    try:
        return bool(getattr(model, "inputs", None))
    except Exception:  # noqa: BLE001 - unbuilt models raise on .inputs
        return False


def record_keras(build: Callable[[], Any], inputs: Any = None) -> list[SiteRecord]:
    """Build the Keras model and record every Dense's input shapes symbolically (no data flows).

    Sequential / functional models that declare their Input are recorded while they are built; ``inputs`` is
    then not needed (and not used). A subclassed (or input-less Sequential) model is called once on symbolic
    inputs: ``inputs`` is KerasTensors, or ``[(shape, dtype), ...]`` with the batch axis included (None
    allowed).
    """
    with keras_sites() as rec:
        model = build()
        _run_keras(model, inputs, rec)
    return rec.records(_describe_keras)


def _run_keras(model: Any, inputs: Any, rec: _Recorder) -> None:
    if _keras_declared_inputs(model):
        return
    if inputs is None:
        raise ValueError(
            f"{type(model).__name__} declares no Input: give the input shape(s) to trace it (e.g. "
            f"1,224,224,3)"
        )
    if callable(inputs):
        inputs = inputs()
    if (
        isinstance(inputs, (list, tuple))
        and inputs
        and isinstance(inputs[0], tuple)
        and len(inputs[0]) == 2
        and isinstance(inputs[0][0], (list, tuple))
    ):
        inputs = make_keras_inputs(inputs)
    if isinstance(inputs, (list, tuple)):
        model(inputs[0] if len(inputs) == 1 else list(inputs))
    else:
        model(inputs)


# ------------------------------------------------------------------------------------------------------------
# both
# ------------------------------------------------------------------------------------------------------------


def record_auto(
    build: Callable[[], Any],
    specs: Any = None,
    *,
    frameworks: tuple[str, ...] = ("torch", "keras"),
    device: str = "meta",
) -> tuple[str, list[SiteRecord]]:
    """Build with the recorders of ``frameworks`` active, then run the model according to its type.

    ``specs``: ``[(shape, dtype), ...]`` (batch axis included), or None. Returns (framework, records).
    """
    trec = krec = None
    with contextlib.ExitStack() as stack:
        if "torch" in frameworks:
            trec = stack.enter_context(torch_sites())
        if "keras" in frameworks:
            krec = stack.enter_context(keras_sites())
        try:
            if trec is not None:
                import torch

                with torch.device(device):
                    model = build()
            else:
                model = build()
            fw = detect_framework(model)
            if fw == "torch" and trec is not None:
                if not specs:
                    raise ValueError(
                        f"{type(model).__name__} is a torch module: give its input shape(s) to trace "
                        "it (e.g. 1,3,224,224 or 1,128:int64)"
                    )
                _run_torch(model, lambda: make_torch_inputs(specs, device), device, trec)
                return fw, trec.records(_describe_torch)
            if fw == "keras" and krec is not None:
                _run_keras(model, specs or None, krec)
                return fw, krec.records(_describe_keras)
            raise ValueError(
                f"the target returned {type(model).__module__}.{type(model).__qualname__}, "
                "not a torch nn.Module or a Keras model"
            )
        finally:
            for h in getattr(trec, "_handles", []) if trec is not None else []:
                h.remove()


def detect_framework(obj: Any) -> str | None:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.nn.Module):
        return "torch"
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(obj, keras.layers.Layer):
        return "keras"
    return None
