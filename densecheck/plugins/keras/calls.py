"""Keras's callables the engine cannot read the source of: Sequential, Input, Model, wrapper layers, build.

Each is a :data:`~densecheck.plugins.base.SpecialCall` ``(engine, args, kwargs, node) -> value``, a
:data:`~densecheck.plugins.base.MethodImpl` ``(engine, bound method, args, kwargs) -> value`` or a
:data:`~densecheck.plugins.base.WrapRule` ``(engine, wrapper layer, input) -> value``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from densecheck.engine.values import (
    UNKNOWN,
    Builtin,
    Const,
    Instance,
    KerasModel,
    Layer,
    Seq,
    Sequential,
    Tensor,
    Value,
    pyvalue,
)
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Shape, known

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter


def sequential(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    items = args[0] if args else kwargs.get("layers")
    seq = Sequential("keras", [])
    it.model_outputs.append(seq)  # a model: what its last layer gives is its output
    if not (it.frames and isinstance(it.frames[-1].self_value, Instance)):
        it.loose_models.append(seq)  # never given an input shape: run on what its first layer takes
    if isinstance(items, Seq):
        for layer in items.items:
            add(it, seq, layer)
    return seq


def add(it: Interpreter, seq: Sequential, layer: Value) -> None:
    if isinstance(layer, Tensor):  # keras.Input(...) as the first "layer"
        seq.current = layer.shape
        return
    if isinstance(layer, Layer) and layer.spec.name == "keras.layers.InputLayer":
        return
    seq.layers.append(layer)
    if seq.current is None and isinstance(layer, Layer) and layer.built_shape is not None:
        seq.current = layer.built_shape
    if seq.current is not None:
        seq.applied = True  # built on a declared input shape
        x = seq.output if isinstance(seq.output, Tensor) and seq.output.shape is seq.current else None
        out = it.call(layer, [x or Tensor(seq.current)], {})
        seq.current = out.shape if isinstance(out, Tensor) else UNKNOWN_SHAPE
        seq.output = out


def input_tensor(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    shape = pyvalue(args[0]) if args else pyvalue(kwargs.get("shape"))
    batch = pyvalue(kwargs.get("batch_size"))
    if shape is None and "batch_shape" in kwargs:
        bs = pyvalue(kwargs["batch_shape"])
        if isinstance(bs, tuple):
            return Tensor(Shape.of(tuple(d if known(d) else None for d in bs), -1))
    if isinstance(shape, int):
        shape = (shape,)
    if not isinstance(shape, tuple):
        return Tensor(UNKNOWN_SHAPE)
    dims = ((batch if isinstance(batch, int) else None),) + tuple(d if known(d) else None for d in shape)
    return Tensor(declared_input(dims))


def declared_input(dims: tuple[Any, ...]) -> Shape:
    """The shape of a declared model input: a rank >= 4 one is an image / feature map; a rank-3 one whose
    sizes are all given (``Input((3, 2))``, not the ``(None, 64)`` of a sequence of any length) is one
    sample's features, until a sequence layer reads it as a sequence."""
    sample = len(dims) == 3 and all(known(d) for d in dims[1:])
    return replace(Shape.of(dims, -1, spatial=len(dims) >= 4), declared=sample)


def model(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    outputs = args[1] if len(args) > 1 else kwargs.get("outputs", UNKNOWN)
    m = KerasModel(outputs)
    it.model_outputs.append(m)
    return m


def attribute(it: Interpreter, v: Value, name: str) -> Value | None:
    """``model.fit`` of a Keras Sequential or functional model: notes the targets it is trained on."""
    if name == "fit" and (
        isinstance(v, KerasModel) or (isinstance(v, Sequential) and v.framework == "keras")
    ):
        return Builtin("keras.fit", v, fit)
    return None


def fit(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """``model.fit(x, y)``: a known shape of ``y`` says what one prediction is (rank <= 2: one per sample)."""
    y = args[1] if len(args) > 1 else kwargs.get("y")
    if isinstance(y, Tensor) and y.shape.rank is not None and isinstance(b.self, (KerasModel, Sequential)):
        b.self.targets = y.shape
    return UNKNOWN


def module_build(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """model.build((None, 32, 32, 3)) on a subclassed Keras model: call it on that symbolic input."""
    shape = pyvalue(args[0]) if args else pyvalue(kwargs.get("input_shape"))
    if isinstance(b.self, Instance) and isinstance(shape, tuple):
        it.call_instance(b.self, [Tensor(Shape.of(tuple(d if known(d) else None for d in shape), -1))], {})
    return Const(None)


def input_layer(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    if "input_shape" in kwargs and "shape" not in kwargs:
        kwargs = dict(kwargs, shape=kwargs["input_shape"])
    return input_tensor(it, args, kwargs, node)


def built_shape(kwargs: dict[str, Value]) -> Shape | None:
    """A layer built by its constructor: ``Dense(16, input_shape=(3, 2))``, ``batch_input_shape=``,
    ``input_dim=``; the last one given wins, as in Keras."""
    out = None
    for key in ("input_shape", "batch_input_shape", "input_dim"):
        if key in kwargs:
            v = pyvalue(kwargs[key])
            if key == "input_dim" and isinstance(v, int):
                out = Shape.of((None, v), -1)
            elif isinstance(v, tuple):
                dims = tuple(d if known(d) else None for d in v)
                dims = ((None,) + dims) if key == "input_shape" else dims
                out = declared_input(dims)
    return out


def lambda_layer(it: Interpreter, layer: Layer, x: Value) -> Value:
    """``Lambda(fn, output_shape=...)``: the declared output shape (batch axis kept) when there is one, else
    ``fn`` run on the input like any other code."""
    declared = pyvalue(layer.args["output_shape"]) if "output_shape" in layer.args else None
    if isinstance(declared, tuple) and isinstance(x, Tensor) and x.shape.rank:
        assert x.shape.dims is not None  # the rank is known
        return Tensor(Shape.of(x.shape.dims[:1] + tuple(d if known(d) else None for d in declared), -1))
    fn = layer.args.get("function")
    return it.call(fn, [x], {}) if fn is not None else Tensor(UNKNOWN_SHAPE)


def time_distributed(it: Interpreter, layer: Layer, x: Value) -> Value:
    """``TimeDistributed(inner)``: ``inner`` applied to each step of axis 1."""
    inner = layer.args.get("layer")
    if not isinstance(inner, Layer) or not isinstance(x, Tensor):
        return Tensor(UNKNOWN_SHAPE)
    s = x.shape
    if s.rank is None or s.rank < 3:
        return it.apply_layer(inner, [Tensor(UNKNOWN_SHAPE)], {})
    assert s.dims is not None  # the rank is known
    ca = s.channel_axis - 1 if s.channel_axis is not None and s.channel_axis > 1 else s.channel_axis
    inner_in = Shape(s.dims[:1] + s.dims[2:], ca, s.explicit_layout)
    out = it.apply_layer(inner, [Tensor(inner_in)], {})
    if isinstance(out, Tensor) and out.shape.rank is not None:
        o = out.shape
        assert o.dims is not None  # the rank is known
        oca = o.channel_axis + 1 if o.channel_axis is not None and o.channel_axis >= 1 else o.channel_axis
        return Tensor(Shape(o.dims[:1] + (s.dims[1],) + o.dims[1:], oca, o.explicit_layout))
    return Tensor(UNKNOWN_SHAPE)


def bidirectional(it: Interpreter, layer: Layer, x: Value) -> Value:
    """``Bidirectional(rnn)``: the RNN on the input, its features doubled when the two directions are
    concatenated (the default ``merge_mode``)."""
    inner = layer.args.get("layer")
    if not isinstance(inner, Layer):
        return Tensor(UNKNOWN_SHAPE)
    out = it.apply_layer(inner, [x], {})
    merge = pyvalue(layer.args.get("merge_mode")) if "merge_mode" in layer.args else "concat"
    if merge != "concat":
        return out

    def double(v: Value) -> Value:
        if isinstance(v, Tensor) and v.shape.rank and known(v.shape.last):
            return Tensor(v.shape.with_last(v.shape.last * 2))
        return v

    if isinstance(out, Seq):
        return Seq([double(i) for i in out.items])
    return double(out)


CALLS: dict[str, Any] = {
    "keras.Sequential": sequential,
    "keras.models.Sequential": sequential,
    "keras.Input": input_tensor,
    "keras.layers.Input": input_tensor,
    "keras.Model": model,
    "keras.models.Model": model,
    "keras.Functional": model,
    "keras.layers.InputLayer": input_layer,
}
