"""The Hugging Face transformers plugin: the few library helpers that sit between layers in almost every
model.

Model files of ``transformers`` build activations from a registry (``ACT2FN[config.hidden_act]``), call
attention through a registry of implementations, and chunk feed-forward blocks through a helper. Reading those
helpers' source would mean interpreting registries keyed by config strings; what they do to shapes is simple
and stable, so it is written down here, as for any framework:

* ``SUBSCRIPTS``: ``NAME[...]`` gives a layer that behaves like a torch layer, or an attention implementation.
* ``CALLS``: library functions by what they do: an activation module, "returns argument i", "calls argument 0
  with the arguments from index n on" (``apply_chunking_to_forward(fn, chunk_size, dim, *tensors)``), an
  attention implementation ``(module, query, key, value, ...) -> (output, weights)`` with output
  ``query.transpose(1, 2)``.
* ``TEXT_CONFIGS`` / ``AUTO_TEXT_MODELS``: a language model built from a sub-config, called like any model.
* ``CACHE_METHODS``: methods of KV caches that hand back the tensors they were given (grown along the
  sequence).
* ``ENTRY_INPUTS``: the conventional inputs of a model's ``forward`` (``input_ids``: (batch, tokens)).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from densecheck.engine.names import dotted
from densecheck.engine.pybuiltins import bare_layer
from densecheck.engine.values import UNKNOWN, Builtin, ClassV, Instance, Record, Ref, Seq, Tensor, Value
from densecheck.plugins.base import Plugin
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Shape, transpose

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter
    from densecheck.plugins.base import SpecialCall


# --- behaviours
# ------------------------------------------------------------------------------------------------


def activation(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    """``get_activation(name)``: a shape-preserving activation module."""
    return bare_layer("torch.nn.GELU")


def returns_arg(i: int) -> SpecialCall:
    """A helper that returns its argument ``i`` (or its ``default=``): same shape in, same shape out."""

    def call(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
        return args[i] if len(args) > i else kwargs.get("default", UNKNOWN)

    return call


def calls_first_on_rest(n: int) -> SpecialCall:
    """``apply_chunking_to_forward(fn, chunk_size, dim, *tensors)``: ``fn(*tensors)``."""

    def call(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
        return it.call(args[0], list(args[n:]), {}) if len(args) > n else UNKNOWN

    return call


def attention(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    """An attention implementation ``(module, query, key, value, ...) -> (output, weights)``: the output is
    (batch, tokens, heads, head_dim), ``query.transpose(1, 2)`` with value's head size."""
    query = args[1] if len(args) > 1 else kwargs.get("query", UNKNOWN)
    value = args[3] if len(args) > 3 else kwargs.get("value", UNKNOWN)
    if isinstance(query, Tensor) and query.shape.rank == 4:
        out = transpose(query.shape, 1, 2)
        if isinstance(value, Tensor) and value.shape.rank == 4:
            out = out.with_last(value.shape.last)
        return Seq([Tensor(Shape(out.dims, None, False)), Tensor(UNKNOWN_SHAPE)])
    return Seq([Tensor(UNKNOWN_SHAPE), Tensor(UNKNOWN_SHAPE)])


def _attention_method(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    return attention(it, args, kwargs, None)


def _attention_implementation() -> Value:
    """``ALL_ATTENTION_FUNCTIONS[name]``: an attention implementation, called like :func:`attention`."""
    return Builtin("transformers.attention", None, _attention_method)


def _embedding_layer(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    return bare_layer("torch.nn.Embedding")


def _text_model_call(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """A language model's call: its first output field is (batch, tokens, features), channels last."""
    fields = list(b.self.fields) if isinstance(b.self, Record) else []
    return Record(
        {f: Tensor(Shape.of((None, None, None), -1)) if i == 0 else UNKNOWN for i, f in enumerate(fields)}
    )


def _cache_update(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    if len(args) >= 2 and isinstance(args[0], Tensor) and isinstance(args[1], Tensor):
        return Seq([args[0], args[1]])
    return UNKNOWN


def _from_config(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """``Cls._from_config(config)`` and the like (``FROM_CONFIG``) build ``Cls(config)``;
    ``from_pretrained(path)`` builds it from a config read from disk, unknown here."""
    assert isinstance(b.self, ClassV)
    config = args[0] if args and FROM_CONFIG[b.name.partition(".")[2]] else UNKNOWN
    return it.instantiate(b.self, [config], {})


SUBSCRIPTS = {
    "transformers.activations.ACT2FN": lambda: bare_layer("torch.nn.GELU"),
    "transformers.modeling_utils.ALL_ATTENTION_FUNCTIONS": _attention_implementation,
    "transformers.integrations.sdpa_attention.ALL_ATTENTION_FUNCTIONS": _attention_implementation,
    # ACT2CLS[name] is the class: calling it gives the activation
    "transformers.activations.ACT2CLS": lambda: Ref("torch.nn.GELU"),
}

#: the activation functions ``transformers.activations`` defines at module level (``gelu =
# get_activation("gelu")``)
ACTIVATION_FUNCTIONS = (
    "gelu",
    "gelu_new",
    "gelu_fast",
    "quick_gelu",
    "silu",
    "swish",
    "mish",
    "gelu_python",
    "gelu_pytorch_tanh",
    "linear_act",
    "relu",
    "sigmoid",
    "tanh",
)

CALLS = {
    "transformers.activations.get_activation": activation,
    **{f"transformers.activations.{name}": returns_arg(0) for name in ACTIVATION_FUNCTIONS},
    # the last ``logits_to_keep`` positions of (batch, seq, hidden): same rank
    "transformers.modeling_utils.slice_logits_to_keep": returns_arg(0),
    "transformers.pytorch_utils.apply_chunking_to_forward": calls_first_on_rest(3),
    "transformers.modeling_utils.ALL_ATTENTION_FUNCTIONS.get_interface": returns_arg(1),
    "transformers.integrations.sdpa_attention.sdpa_attention_forward": attention,
    "transformers.integrations.flash_attention.flash_attention_forward": attention,
    "transformers.integrations.flex_attention.flex_attention_forward": attention,
}

#: ``AutoModel*.from_config(config.<name>)`` with one of these config names builds a language model: calling
# it
#: gives a record whose first field is a (batch, tokens, features) tensor
TEXT_CONFIGS = (
    "text_config",
    "language_config",
    "decoder_config",
    "llm_config",
    "text_model_config",
    "lm_config",
)
#: the auto classes whose ``from_config`` builds such a model, and the record their call returns (field order
# as in
#: transformers' output classes: ``outputs[0]`` is the first)
AUTO_TEXT_MODELS = {
    "AutoModel": ("last_hidden_state",),
    "AutoModelForCausalLM": ("logits",),
    "AutoModelForSeq2SeqLM": ("logits",),
    "AutoModelForMaskedLM": ("logits",),
}

#: ``cache.update(key_states, value_states, layer_idx, ...)`` of a KV cache (a ``*Cache`` object, or an
# unknown
#: ``past_key_values`` / ``cache`` argument) returns the whole keys and values: the same ranks as its
# arguments
CACHE_METHODS = {"update"}

#: Calling anything under these prefixes builds an output record: fields by keyword, ``out.field`` /
# ``out[0]``.
RECORD_PREFIXES = (
    "transformers.modeling_outputs.",
    "transformers.utils.ModelOutput",
    "transformers.utils.generic.ModelOutput",
)

#: methods every model inherits from ``PreTrainedModel`` (its own class does not define them):
#: ``self.get_input_embeddings()(input_ids)`` is an embedding (one axis added after the ids' axes)
MODEL_METHODS = {"get_input_embeddings": _embedding_layer}

#: class methods of ``PreTrainedModel`` that build the class itself (a module class that does not define
# them):
#: name -> whether the first argument is the config (``from_pretrained``'s is a path: the config is read from
# disk)
FROM_CONFIG = {"_from_config": True, "from_config": True, "from_pretrained": False}


def auto_text_model(q: str, node: Any) -> tuple[str, ...] | None:
    """The record fields of ``transformers.AutoModel*.from_config(config.text_config)``'s output, or None."""
    head, _, method = q.rpartition(".")
    if method != "from_config" or not q.startswith("transformers.") or node is None or not node.args:
        return None
    fields = AUTO_TEXT_MODELS.get(head.rpartition(".")[2])
    config = dotted(node.args[0].value)
    if fields is None or config is None or config.rpartition(".")[2] not in TEXT_CONFIGS:
        return None
    return fields


# --- hooks
# ------------------------------------------------------------------------------------------------------


def resolve(it: Interpreter, q: str, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value | None:
    """A language model from a sub-config, and output records (``BaseModelOutput(last_hidden_state=h)``)."""
    text_model = auto_text_model(q, node)
    if text_model is not None:
        return Builtin(
            "transformers.text_model", Record(dict.fromkeys(text_model, UNKNOWN)), _text_model_call
        )
    if q.startswith(RECORD_PREFIXES):
        _mark_per_sample(q.rpartition(".")[2], kwargs.get("logits"))
        target = it.project_value(q)  # the library's own definition, when the project includes it
        if isinstance(target, ClassV):
            return it.make_record(target, args, kwargs)
        return Record(dict(kwargs))
    return None


#: output records whose logits are one prediction per sample (a sequence's, an image's, a choice's); token
#: classification, language modelling, question answering (start/end per token) and segmentation keep
#: positions
PER_SAMPLE_OUTPUTS = frozenset(
    {
        "SequenceClassifierOutput",
        "SequenceClassifierOutputWithPast",
        "Seq2SeqSequenceClassifierOutput",
        "ImageClassifierOutput",
        "ImageClassifierOutputWithNoAttention",
        "MultipleChoiceModelOutput",
    }
)


def _mark_per_sample(record: str, logits: Value | None) -> None:
    """The Dense/Linear whose output is given as a per-sample record's logits: say so on its report."""
    if record in PER_SAMPLE_OUTPUTS and isinstance(logits, Tensor) and logits.origin is not None:
        logits.origin.report.per_sample_output = record


def attribute(it: Interpreter, v: Value, name: str) -> Value | None:
    """``cache.update(k, v, layer_idx)`` of a KV cache, or of an unknown ``past_key_values`` (tensors have no
    ``.update``)."""
    if name in CACHE_METHODS and (
        v is UNKNOWN
        or isinstance(v, Tensor)
        or (isinstance(v, Instance) and v.cls.qualname.endswith("Cache"))
    ):
        return Builtin("transformers.cache_update", v, _cache_update)
    return None


def inherited(it: Interpreter, v: Value, name: str) -> Value | None:
    """What a model inherits from ``PreTrainedModel``: ``self.get_input_embeddings()``,
    ``Cls.from_config(c)``."""
    if isinstance(v, Instance) and name in MODEL_METHODS:
        return Builtin("transformers." + name, v, MODEL_METHODS[name])
    if isinstance(v, ClassV) and name in FROM_CONFIG and it._is_module_class(v):
        return Builtin("class." + name, v, _from_config)
    return None


# --- conventional entry inputs
# ----------------------------------------------------------------------------------- When a model's
# forward/call is analysed on its own (nobody in the file calls it), a parameter with one of these names is
# taken to hold a tensor of this shape: the convention of Hugging Face transformers and of most model code.
# Only names whose rank is fixed by the convention are listed (``hidden_states`` is not: 3 in a transformer
# block, 4 in a ConvNeXt stage).
ENTRY_INPUTS: dict[str, Shape] = {
    "input_ids": Shape.of((None, None)),  # (batch, tokens) of token ids
    "token_type_ids": Shape.of((None, None)),
    "attention_mask": Shape.of((None, None)),
    "position_ids": Shape.of((None, None)),
    "decoder_input_ids": Shape.of((None, None)),
    "inputs_embeds": Shape.of((None, None, None), -1),  # (batch, tokens, hidden)
    "decoder_inputs_embeds": Shape.of((None, None, None), -1),
    "encoder_hidden_states": Shape.of(
        (None, None, None), -1
    ),  # (batch, source tokens, hidden): cross-attention
    "encoder_attention_mask": Shape.of((None, None)),
}

# Optional inputs (default None) of an entry point that hold what the model computes itself, kept from an
# earlier call, or the loss's targets: analysed as not passed, i.e. as an inference pass from scratch. Any
# other optional input is None or a tensor.
ENTRY_OMITTED: frozenset[str] = frozenset(
    {
        "labels",  # the loss's targets
        "encoder_outputs",  # the encoder's output, when the encoder already ran (generation)
        "past_key_values",
        "past_key_value",
        "cache",
        "cache_params",  # KV / state caches of earlier steps
    }
)


PLUGIN = Plugin(
    name="transformers",
    calls=CALLS,
    subscripts=SUBSCRIPTS,
    record_bases=RECORD_PREFIXES,
    record_roots=(".ModelOutput",),
    entry_inputs=ENTRY_INPUTS,
    entry_omitted=ENTRY_OMITTED,
    resolve=resolve,
    attribute=attribute,
    inherited=inherited,
)
