"""Hugging Face transformers knowledge: the few library helpers that sit between layers in almost every model.

Model files of ``transformers`` build activations from a registry (``ACT2FN[config.hidden_act]``), call attention
through a registry of implementations, and chunk feed-forward blocks through a helper. Reading those helpers'
source would mean interpreting registries keyed by config strings; what they do to shapes is simple and stable, so
it is written down here, as for any framework:

* ``SUBSCRIPT``: ``NAME[...]`` gives a layer that behaves like the named torch layer.
* ``CALLS``: ``NAME(...)`` is handled by the named behaviour (see ``densecheck.engine.driver``):
  ``"layer:<torch layer>"`` returns such a layer, ``"call_first_on_rest:<n>"`` calls argument 0 with the arguments
  from index ``n`` on (``apply_chunking_to_forward(fn, chunk_size, dim, *tensors)``), ``"default_arg:<i>"`` returns
  argument ``i`` (``ALL_ATTENTION_FUNCTIONS.get_interface(name, default)``), ``"attention"`` is an attention
  implementation: ``(module, query, key, value, ...) -> (output, weights)`` with output ``query.transpose(1, 2)``.
* ``TEXT_CONFIGS`` / ``AUTO_TEXT_MODELS``: a language model built from a sub-config, called like any model.
* ``CACHE_METHODS``: methods of KV caches that hand back the tensors they were given (grown along the sequence).
"""

from __future__ import annotations

_ACT = "layer:torch.nn.GELU"  # any shape-preserving activation module

SUBSCRIPT = {
    "transformers.activations.ACT2FN": "torch.nn.GELU",
    "transformers.modeling_utils.ALL_ATTENTION_FUNCTIONS": "attention",
    "transformers.integrations.sdpa_attention.ALL_ATTENTION_FUNCTIONS": "attention",
}

#: the activation functions ``transformers.activations`` defines at module level (``gelu = get_activation("gelu")``)
ACTIVATION_FUNCTIONS = ("gelu", "gelu_new", "gelu_fast", "quick_gelu", "silu", "swish", "mish", "gelu_python",
                        "gelu_pytorch_tanh", "linear_act", "relu", "sigmoid", "tanh")

CALLS = {
    "transformers.activations.get_activation": _ACT,
    **{f"transformers.activations.{name}": "default_arg:0" for name in ACTIVATION_FUNCTIONS},
    # the last ``logits_to_keep`` positions of (batch, seq, hidden): same rank
    "transformers.modeling_utils.slice_logits_to_keep": "default_arg:0",
    "transformers.pytorch_utils.apply_chunking_to_forward": "call_first_on_rest:3",
    "transformers.modeling_utils.ALL_ATTENTION_FUNCTIONS.get_interface": "default_arg:1",
    "transformers.integrations.sdpa_attention.sdpa_attention_forward": "attention",
    "transformers.integrations.flash_attention.flash_attention_forward": "attention",
    "transformers.integrations.flex_attention.flex_attention_forward": "attention",
}

#: ``AutoModel*.from_config(config.<name>)`` with one of these config names builds a language model: calling it
#: gives a record whose first field is a (batch, tokens, features) tensor (``text_model`` behaviour)
TEXT_CONFIGS = ("text_config", "language_config", "decoder_config", "llm_config", "text_model_config",
                "lm_config")
#: the auto classes whose ``from_config`` builds such a model, and the record their call returns (field order as in
#: transformers' output classes: ``outputs[0]`` is the first)
AUTO_TEXT_MODELS = {
    "AutoModel": ("last_hidden_state",),
    "AutoModelForCausalLM": ("logits",),
    "AutoModelForSeq2SeqLM": ("logits",),
    "AutoModelForMaskedLM": ("logits",),
}

#: ``cache.update(key_states, value_states, layer_idx, ...)`` of a KV cache (a ``*Cache`` object, or an unknown
#: ``past_key_values`` / ``cache`` argument) returns the whole keys and values: the same ranks as its arguments
CACHE_METHODS = {"update"}

# Calling anything under these prefixes builds an output record: fields by keyword, ``out.field`` / ``out[0]``.
RECORD_PREFIXES = ("transformers.modeling_outputs.", "transformers.utils.ModelOutput",
                   "transformers.utils.generic.ModelOutput")

# ACT2CLS[name] is the class: calling it gives the activation.
CLASS_SUBSCRIPT = {
    "transformers.activations.ACT2CLS": "torch.nn.GELU",
}

#: methods every model inherits from ``PreTrainedModel`` (its own class does not define them), as library behaviours:
#: ``self.get_input_embeddings()(input_ids)`` is an embedding (one axis added after the ids' axes)
MODEL_METHODS = {
    "get_input_embeddings": "layer:torch.nn.Embedding",
}

#: class methods of ``PreTrainedModel`` that build the class itself (a module class that does not define them):
#: name -> whether the first argument is the config (``from_pretrained``'s is a path: the config is read from disk)
FROM_CONFIG = {"_from_config": True, "from_config": True, "from_pretrained": False}
