"""Real-code idioms the static engine must get right, each checked against torch running the same source.

Every case is a small module whose ``build()`` makes the model and whose ``INPUT`` is the input shape. The
truth is what torch records when the model runs (densecheck's own recorder, on the meta device); the static
report for the same file must give the same rank at every Linear — or no rank at all (``None`` is allowed only
where a case says so: densecheck must never guess).
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import types

import pytest

from densecheck import api

CASES = {
    # iterating over a conv output keeps track of the channel axis (pixtral: p.flatten(1).T per image)
    "iterate_conv_output": (
        """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 4, stride=4)
        self.proj = nn.Linear(16, 8)

    def forward(self, x):
        feats = self.conv(x)
        tokens = torch.cat([p.flatten(1).T for p in feats], dim=0).unsqueeze(0)
        return self.proj(tokens)

def build():
    return Net()

INPUT = (2, 3, 16, 16)
""",
        {"proj": "pointwise"},
    ),
    # RMSNorm scale: a 1-d parameter sized by an integer-named argument; residual add
    "rmsnorm_residual": (
        """
import torch
from torch import nn

class RMSNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))

class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = RMSNorm(dim)
        self.up = nn.Linear(dim, 4 * dim)
        self.down = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return x + self.down(torch.relu(self.up(self.norm(x))))

class Model(nn.Module):
    def __init__(self, vocab=100, dim=32):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList([Block(dim) for _ in range(3)])
        self.head = nn.Linear(dim, vocab)

    def forward(self, input_ids):
        x = self.embed(input_ids)
        for block in self.blocks:
            x = block(x)
        return self.head(x)

def build():
    return Model()

INPUT = (2, 7)
DTYPE = "long"
""",
        {},
    ),
    # a subclass of a framework layer calling super().forward()
    "scaled_embedding": (
        """
import torch
from torch import nn

class ScaledEmbedding(nn.Embedding):
    def __init__(self, num, dim, scale=2.0):
        super().__init__(num, dim)
        self.scale = scale

    def forward(self, ids):
        return super().forward(ids) * self.scale

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = ScaledEmbedding(50, 16)
        self.fc = nn.Linear(16, 4)

    def forward(self, input_ids):
        return self.fc(self.embed(input_ids))

def build():
    return Model()

INPUT = (3, 5)
DTYPE = "long"
""",
        {},
    ),
    # a view to a shape that is not visible statically must not become a 1-d shape
    "opaque_reshape": (
        """
import torch
from torch import nn

def compute_shape(x):
    return x.shape[:-1] + (2, x.shape[-1] // 2)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)

    def forward(self, x):
        y = x.reshape(compute_shape(x))
        return self.fc(y.transpose(-1, -2))

def build():
    return Net()

INPUT = (2, 5, 8)
""",
        {},
    ),
    # ViT-style: patch embedding, class token, pooled head
    "vit_head": (
        """
import torch
from torch import nn

class ViT(nn.Module):
    def __init__(self, dim=24, patch=4, classes=10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.mlp = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.mlp(x)
        return self.head(x[:, 0])

def build():
    return ViT()

INPUT = (2, 3, 16, 16)
""",
        {"mlp": "pointwise", "head": "fully_connected"},
    ),
    # a sub-module created only when the config asks for it, used behind hasattr / a flag; a decoder-only
    # branch (`self.is_decoder and encoder_hidden_states is not None`) that the default call never takes
    "optional_submodules": (
        """
import types
import torch
from torch import nn

class Layer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.is_decoder = config.is_decoder
        self.attn = nn.Linear(32, 32)
        if config.add_cross_attention:
            self.crossattention = nn.Linear(32, 32)
        self.ffn = nn.Linear(32, 64)

    def forward(self, hidden_states, encoder_hidden_states=None):
        out = self.attn(hidden_states)
        if self.is_decoder and encoder_hidden_states is not None:
            out = self.crossattention(out + encoder_hidden_states)
        return self.ffn(out)

class Model(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.embed = nn.Embedding(100, config.embedding_size)
        if config.embedding_size != config.hidden_size:
            self.embeddings_project = nn.Linear(config.embedding_size, config.hidden_size)
        self.layer = Layer(config)
        self.classifier = nn.Linear(64, 2)

    def forward(self, input_ids):
        h = self.embed(input_ids)
        if hasattr(self, "embeddings_project"):
            h = self.embeddings_project(h)
        return self.classifier(self.layer(h))

def build():
    return Model(types.SimpleNamespace(embedding_size=16, hidden_size=32, is_decoder=False,
                                       add_cross_attention=True))

INPUT = (2, 7)
DTYPE = "long"
""",
        {"ffn": "pointwise", "classifier": "pointwise"},
    ),
    # a KV cache (here the model's own; in transformers a Cache object or an unknown argument) hands back the
    # keys and values it was given, grown along the sequence: same ranks
    "kv_cache_update": (
        """
import torch
from torch import nn

class KVCache:
    def __init__(self):
        self.keys, self.values = None, None

    def update(self, k, v, layer_idx):
        if self.keys is not None:
            k, v = torch.cat([self.keys, k], dim=-2), torch.cat([self.values, v], dim=-2)
        self.keys, self.values = k, v
        return k, v

class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.k_proj = nn.Linear(32, 32)
        self.v_proj = nn.Linear(32, 32)
        self.head_proj = nn.Linear(8, 8)

    def forward(self, hidden_states, cache=None):
        b, t, _ = hidden_states.shape
        k = self.k_proj(hidden_states).view(b, t, 4, 8).transpose(1, 2)
        v = self.v_proj(hidden_states).view(b, t, 4, 8).transpose(1, 2)
        if cache is not None:
            k, v = cache.update(k, v, 0)
        return self.head_proj(v.transpose(1, 2))

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.attn = nn.Embedding(100, 32), Attention()

    def forward(self, input_ids):
        return self.attn(self.embed(input_ids), cache=KVCache())

def build():
    return Model()

INPUT = (2, 7)
DTYPE = "long"
""",
        {"head_proj": "pointwise"},
    ),
    # hybrid stacks: each layer's class looked up in a registry by a per-layer type from the config
    "layer_type_registry": (
        """
import types
import torch
from torch import nn

class AttentionLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.out = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states):
        q, k, v = self.qkv(hidden_states).chunk(3, dim=-1)
        weights = torch.softmax(q @ k.transpose(-1, -2), dim=-1)
        return hidden_states + self.out(weights @ v)

class MixerLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.mix = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states):
        return hidden_states + self.mix(hidden_states)

LAYER_TYPES = {"attention": AttentionLayer, "mixer": MixerLayer}

class Model(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.embed = nn.Embedding(100, config.hidden_size)
        self.layers = nn.ModuleList([LAYER_TYPES[kind](config) for kind in config.layer_types])
        self.head = nn.Linear(config.hidden_size, 3)

    def forward(self, input_ids):
        h = self.embed(input_ids)
        for layer in self.layers:
            h = layer(h)
        return self.head(h)

def build():
    return Model(types.SimpleNamespace(hidden_size=16, layer_types=["mixer", "attention", "mixer"]))

INPUT = (2, 6)
DTYPE = "long"
""",
        {"mix": "pointwise", "qkv": "pointwise"},
    ),
    # the activation named by the config: a registry entry for a string, else the callable itself
    "activation_from_config": (
        """
import types
import torch
from torch import nn

ACTS = {"gelu": nn.GELU(), "relu": nn.ReLU()}

class Intermediate(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(32, 64)
        if isinstance(config.hidden_act, str):
            self.intermediate_act_fn = ACTS[config.hidden_act]
        else:
            self.intermediate_act_fn = config.hidden_act
        self.out = nn.Linear(64, 32)

    def forward(self, hidden_states):
        return self.out(self.intermediate_act_fn(self.dense(hidden_states)))

class Model(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.embed = nn.Embedding(100, 32)
        self.mlp = Intermediate(config)

    def forward(self, input_ids):
        return self.mlp(self.embed(input_ids))

def build():
    return Model(types.SimpleNamespace(hidden_act="gelu"))

INPUT = (2, 7)
DTYPE = "long"
""",
        {"out": "pointwise"},
    ),
    # a custom autograd function: ``Fn.apply(x)`` runs the static ``Fn.forward(ctx, x)`` (bloom's GeLU)
    "autograd_function_apply": (
        """
import torch
from torch import nn

class ScaledGelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.nn.functional.gelu(x) * 0.5

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.Linear(16, 64)
        self.down = nn.Linear(64, 16)

    def forward(self, x):
        return self.down(ScaledGelu.apply(self.up(x)))

def build():
    return MLP()

INPUT = (2, 5, 16)
""",
        {"down": "pointwise"},
    ),
    # the tuple form of a model's output: ``tuple(v for v in [...] if v is not None)`` and
    # ``(sequence_output, pooled_output) + outputs[1:]``, read by index in the heads
    "tuple_outputs": (
        """
import types
import torch
from torch import nn

class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(16, 16) for _ in range(2)])

    def forward(self, h, output_hidden_states=False):
        all_hidden = () if output_hidden_states else None
        for layer in self.layers:
            if output_hidden_states:
                all_hidden = all_hidden + (h,)
            h = layer(h)
        return tuple(v for v in [h, all_hidden] if v is not None)

class Model(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.output_hidden_states = config.output_hidden_states
        self.embed = nn.Embedding(100, 16)
        self.encoder = Encoder()
        self.pool = nn.Linear(16, 16)

    def forward(self, input_ids):
        outputs = self.encoder(self.embed(input_ids), output_hidden_states=self.output_hidden_states)
        sequence_output = outputs[0]
        pooled_output = torch.tanh(self.pool(sequence_output[:, 0]))
        return (sequence_output, pooled_output) + outputs[1:]

class Classifier(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.model = Model(config)
        self.classifier = nn.Linear(16, 3)
        self.tagger = nn.Linear(16, 5)

    def forward(self, input_ids):
        outputs = self.model(input_ids)
        return self.classifier(outputs[1]), self.tagger(outputs[0])

def build():
    return Classifier(types.SimpleNamespace(output_hidden_states=True))

INPUT = (2, 7)
DTYPE = "long"
""",
        {"classifier": "fully_connected", "tagger": "pointwise"},
    ),
    # calling or indexing a value that may be None, behind a test the engine cannot decide (bert's
    # ``BertPooler(config) if add_pooling_layer else None``; an optional ``nn.Linear(...) if config.use_proj
    # else None``)
    "maybe_none_modules": (
        """
import types
import torch
from torch import nn

class Pooler(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.use_proj = config.use_proj
        self.proj = nn.Linear(16, 16) if config.use_proj else None
        self.dense = nn.Linear(16, 16)

    def forward(self, hidden_states):
        if self.use_proj:
            hidden_states = self.proj(hidden_states)
        return self.dense(hidden_states)

class Model(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.embed = nn.Embedding(100, 16)
        self.pooler = Pooler(config) if config.add_pooling_layer else None
        self.head = nn.Linear(16, 3)

    def forward(self, input_ids):
        sequence_output = self.embed(input_ids)
        pooled_output = self.pooler(sequence_output) if self.pooler is not None else None
        return self.head(pooled_output[:, 0])

def build():
    return Model(types.SimpleNamespace(use_proj=True, add_pooling_layer=True))

INPUT = (2, 7)
DTYPE = "long"
""",
        {"dense": "pointwise", "head": "fully_connected"},
    ),
    # wav2vec2's feature encoder: ``[first] + [ConvLayer(config, layer_id=i + 1) for i in range(n - 1)]`` of
    # Conv1d on (batch, 1, samples), transposed to (batch, frames, channels) for the feature projection
    "conv_feature_encoder": (
        """
import types
import torch
from torch import nn

class ConvLayer(nn.Module):
    def __init__(self, config, layer_id=0):
        super().__init__()
        in_dim = config.conv_dim[layer_id - 1] if layer_id > 0 else 1
        self.conv = nn.Conv1d(in_dim, config.conv_dim[layer_id], config.conv_kernel[layer_id], stride=2)

    def forward(self, hidden_states):
        return torch.relu(self.conv(hidden_states))

class FeatureEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        first = ConvLayer(config, layer_id=0)
        self.conv_layers = nn.ModuleList(
            [first] + [ConvLayer(config, layer_id=i + 1) for i in range(config.num_feat_extract_layers - 1)])

    def forward(self, input_values):
        hidden_states = input_values[:, None]
        for conv_layer in self.conv_layers:
            hidden_states = conv_layer(hidden_states)
        return hidden_states

class Model(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.feature_extractor = FeatureEncoder(config)
        self.feature_projection = nn.Linear(config.conv_dim[-1], 32)

    def forward(self, input_values):
        extract_features = self.feature_extractor(input_values).transpose(1, 2)
        return self.feature_projection(extract_features)

def build():
    return Model(types.SimpleNamespace(conv_dim=[8, 8, 16], conv_kernel=[5, 3, 3], num_feat_extract_layers=3))

INPUT = (2, 400)
""",
        {"feature_projection": "pointwise"},
    ),
    # clip's text pooling at the EOS token (``h[torch.arange(b), (input_ids == eos).int().argmax(-1)]``);
    # one_hot, gather, logical_and and all/any masks as in token-type and selection code
    "eos_pooling_and_masks": (
        """
import torch
import torch.nn.functional as F
from torch import nn

class TextModel(nn.Module):
    def __init__(self, eos_token_id=2):
        super().__init__()
        self.eos_token_id = eos_token_id
        self.embed = nn.Embedding(100, 16)
        self.text_projection = nn.Linear(16, 8)
        self.type_proj = nn.Linear(4, 8)
        self.token_proj = nn.Linear(16, 8)

    def forward(self, input_ids):
        last_hidden_state = self.embed(input_ids)
        eos_mask = (input_ids == self.eos_token_id).int()
        pooled_output = last_hidden_state[torch.arange(last_hidden_state.shape[0]), eos_mask.argmax(dim=-1)]
        valid = torch.logical_and(input_ids >= 0, input_ids != 1)
        keep = (valid.all(-1) | valid.any(-1)).float()[:, None]
        types = F.one_hot(input_ids % 4, num_classes=4).float()
        picked = torch.gather(last_hidden_state, 1, input_ids[..., None].expand(-1, -1, 16) % 7)
        return self.text_projection(pooled_output * keep), self.type_proj(types), self.token_proj(picked)

def build():
    return TextModel()

INPUT = (2, 7)
DTYPE = "long"
""",
        {"text_projection": "fully_connected", "type_proj": "pointwise", "token_proj": "pointwise"},
    ),
    # a sub-module kept in float32 / in eval mode: ``Block(config).to(torch.float32)``, ``.float().eval()``
    "module_to_dtype": (
        """
import torch
from torch import nn

class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, hidden_states):
        return self.fc(hidden_states)

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 16)
        self.block = Block(16).to(dtype=torch.float32)
        self.frozen = Block(16).float().eval()
        self.head = nn.Linear(16, 2)

    def forward(self, input_ids):
        return self.head(self.frozen(self.block(self.embed(input_ids)))[:, 0])

def build():
    return Model()

INPUT = (2, 7)
DTYPE = "long"
""",
        {"fc": "pointwise", "head": "fully_connected"},
    ),
    # openai clip's ``class LayerNorm(nn.LayerNorm)``: no __init__, forward is ``super().forward(x.float())``
    "layernorm_subclass_without_init": (
        """
import torch
from torch import nn

class LayerNorm(nn.LayerNorm):
    def forward(self, x):
        orig_type = x.dtype
        return super().forward(x.float()).type(orig_type)

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 16)
        self.ln_final = LayerNorm(16)
        self.proj = nn.Linear(16, 8)

    def forward(self, input_ids):
        return self.proj(self.ln_final(self.embed(input_ids)))

def build():
    return Model()

INPUT = (2, 7)
DTYPE = "long"
""",
        {"proj": "pointwise"},
    ),
    # lxmert: an output record built with its fields in another order than declared; ``out[i]`` indexes the
    # declaration order (a tiny ``__getitem__`` does what ModelOutput does at runtime)
    "output_record_declaration_order": (
        """
import dataclasses
from dataclasses import dataclass
from typing import Optional
import torch
from torch import nn

@dataclass
class EncoderOutput:
    pooled_output: Optional[torch.Tensor] = None
    last_hidden_state: Optional[torch.Tensor] = None

    def to_tuple(self):
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None)

    def __getitem__(self, i):
        return self.to_tuple()[i]

class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 16)

    def forward(self, input_ids):
        h = self.embed(input_ids)
        return EncoderOutput(last_hidden_state=h, pooled_output=h[:, 0])

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.classifier = nn.Linear(16, 2)
        self.tagger = nn.Linear(16, 5)
        self.pooler = nn.Linear(16, 16)

    def forward(self, input_ids):
        outputs = self.encoder(input_ids)
        pooled = self.pooler(outputs.to_tuple()[0])
        return self.classifier(outputs[0] + pooled), self.tagger(outputs[1])

def build():
    return Model()

INPUT = (2, 7)
DTYPE = "long"
""",  # noqa: E501 - model source under test, written as its authors write it
        {"classifier": "fully_connected", "tagger": "pointwise"},
    ),
    # causal LMs' ``logits_to_keep``: ``slice_indices = slice(-logits_to_keep, None)``, ``h[:, slice_indices,
    # :]``
    "logits_to_keep_slice": (
        """
import torch
from torch import nn

class CausalLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 16)
        self.lm_head = nn.Linear(16, 100)

    def forward(self, input_ids, logits_to_keep=0):
        hidden_states = self.embed(input_ids)
        slice_indices = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        return self.lm_head(hidden_states[:, slice_indices, :])

def build():
    return CausalLM()

INPUT = (2, 7)
DTYPE = "long"
""",
        {"lm_head": "pointwise"},
    ),
    # fastspeech2_conformer's convolution module (``nn.functional.glu(x, dim=1)``) and data2vec-audio's TDNN
    # layer (``nn.functional.conv1d(x, weight, ...)``), channels first, transposed back for a Linear
    # weight/spectral norm wrap a conv and return it (wav2vec2's positional conv, HiFi-GAN); ``.to(dtype)`` /
    # ``.float()`` of a framework layer is that layer
    "weight_norm_and_layer_to": (
        """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.utils.weight_norm(nn.Conv1d(16, 16, 3, padding=1))
        self.conv2 = nn.utils.parametrizations.spectral_norm(nn.Conv1d(16, 16, 3, padding=1))
        self.proj = nn.Linear(16, 8).to(dtype=torch.float32)
        self.head = nn.Linear(8, 2).float()

    def forward(self, x):
        return self.head(self.proj(self.conv2(self.conv(x)).transpose(1, 2)))

def build():
    return Net()

INPUT = (2, 16, 10)
""",
        {"proj": "pointwise", "head": "pointwise"},
    ),
    "functional_conv_glu": (
        """
import torch
import torch.nn.functional as F
from torch import nn

class ConvModule(nn.Module):
    def __init__(self, channels=16, kernel_size=3):
        super().__init__()
        self.pointwise_conv1 = nn.Conv1d(channels, 2 * channels, 1)
        self.depthwise_weight = nn.Parameter(torch.randn(channels, 1, kernel_size))
        self.proj = nn.Linear(channels, 8)

    def forward(self, hidden_states):
        hidden_states = F.glu(self.pointwise_conv1(hidden_states.transpose(1, 2)), dim=1)
        hidden_states = F.conv1d(hidden_states, self.depthwise_weight, padding=1, groups=hidden_states.shape[1])
        return self.proj(hidden_states.transpose(1, 2))

def build():
    return ConvModule()

INPUT = (2, 10, 16)
""",  # noqa: E501 - model source under test, written as its authors write it
        {"proj": "pointwise"},
    ),
}


def load(path):
    spec = importlib.util.spec_from_file_location(f"idiom_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", sorted(CASES))
def test_idiom_matches_torch(name, tmp_path):
    torch = pytest.importorskip("torch")
    from densecheck.trace.record import record_torch

    source, expected_behaviour = CASES[name]
    # the static engine sees the model only through a caller, as in real code: add one
    path = tmp_path / f"{name}.py"
    path.write_text(source + "\n\nif __name__ == '__main__':\n    build()(torch.zeros(INPUT))\n")
    mod = load(path)
    dtype = torch.long if getattr(mod, "DTYPE", "") == "long" else torch.float32
    records = record_torch(mod.build, lambda: torch.zeros(mod.INPUT, dtype=dtype))
    static = {layer.line: layer for layer in api.analyze_file(str(path)).layers}
    assert records and len(static) == len(records)
    for rec in records:
        real_ranks = sorted({len(s) for s in rec.input_shapes})
        layer = static[rec.line]
        assert layer.ranks == real_ranks, f"{name}:{rec.line}: static {layer.ranks} vs torch {real_ranks}"
        attr = (layer.name or "").removeprefix("self.")
        if attr in expected_behaviour:
            assert layer.behaves_as == expected_behaviour[attr]
    assert not [d for d in api.analyze_file(str(path)).diagnostics if d.severity == "error"]


def test_unpacking_a_shape_of_unknown_length_gives_no_rank(tmp_path):
    """``x.view((*input_shape, heads, -1))`` where nothing says how many axes ``x`` has: the view's rank is
    not known, so the Linear after it gets none -- not the rank of a 3-element tuple."""
    torch = pytest.importorskip("torch")
    from densecheck.trace.record import record_torch

    path = tmp_path / "heads.py"
    path.write_text("""
import torch
from torch import nn

class Heads(nn.Module):
    def __init__(self):
        super().__init__()
        self.per_head = nn.Linear(8, 8)

    def forward(self, x):
        x = torch.utils.checkpoint.checkpoint(torch.tanh, x, use_reentrant=False)
        input_shape = x.shape[:-1]
        return self.per_head(x.view((*input_shape, 4, -1)))

def build():
    return Heads()
""")
    mod = load(path)
    records = record_torch(mod.build, lambda: torch.zeros(2, 5, 32))
    assert [sorted({len(s) for s in r.input_shapes}) for r in records] == [[4]]
    (layer,) = api.analyze_file(str(path)).layers
    assert layer.ranks in ([], [4])


def test_a_block_defined_after_the_model_gets_the_models_shapes(tmp_path):
    """A head defined after the model that builds it, with arguments only the model gives (its width) and an
    input with no conventional name (``features``): the model is run first, so the head is built and run with
    the model's arguments and shapes, not first as an entry point of its own with unknown ones (which left its
    layers' features, and so their parameter counts, unknown)."""
    torch = pytest.importorskip("torch")
    from densecheck.trace.record import record_torch

    path = tmp_path / "late_head.py"
    path.write_text("""
import torch
from torch import nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 16)
        self.head = Head(16)

    def forward(self, input_ids):
        return self.head(self.embed(input_ids))

class Head(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.dense = nn.Linear(width, width)
        self.decoder = nn.Linear(width, 100)

    def forward(self, features):
        return self.decoder(torch.tanh(self.dense(features)))

def build():
    return Model()
""")
    mod = load(path)
    records = record_torch(mod.build, lambda: torch.zeros(2, 7, dtype=torch.long))
    model = mod.build()
    static = {layer.name: layer for layer in api.analyze_file(str(path)).layers}
    assert len(records) == len(static) == 2
    for rec in records:
        assert sorted({len(s) for s in rec.input_shapes}) == [3]
    for name, layer in [("self.dense", model.head.dense), ("self.decoder", model.head.decoder)]:
        assert static[name].input_rank == 3 and static[name].behaves_as == "pointwise"
        assert static[name].params == sum(p.numel() for p in layer.parameters())


def test_entry_point_of_an_encoder_decoder(tmp_path):
    """An encoder-decoder run as an entry point: ``encoder_outputs`` (the encoder's own output, from an
    earlier call) is taken as not passed, so the decoder's cross-attention sees the encoder's real output; a
    block that returns a tensor is not a tuple (``out[0] if isinstance(out, tuple) else out``)."""
    torch = pytest.importorskip("torch")
    from densecheck.trace.record import record_torch

    path = tmp_path / "seq2seq.py"
    path.write_text("""
import torch
from torch import nn

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(16, 16)
        self.kv = nn.Linear(16, 32)

    def forward(self, hidden_states, encoder_hidden_states=None):
        source = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        k, v = self.kv(source).chunk(2, dim=-1)
        weights = torch.softmax(self.q(hidden_states) @ k.transpose(-1, -2), dim=-1)
        return hidden_states + weights @ v

class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 16)
        self.encoder = Block()
        self.decoder = nn.ModuleList([Block(), Block()])
        self.lm_head = nn.Linear(16, 100)

    def forward(self, input_ids, decoder_input_ids=None, encoder_outputs=None):
        if encoder_outputs is None:
            encoder_outputs = (self.encoder(self.embed(input_ids)),)
        h = self.embed(decoder_input_ids if decoder_input_ids is not None else input_ids)
        for block in self.decoder:
            out = block(h, encoder_outputs[0])
            h = out[0] if isinstance(out, tuple) else out
        return self.lm_head(h)

def build():
    return Seq2Seq()
""")
    mod = load(path)
    records = record_torch(mod.build, lambda: torch.zeros(2, 7, dtype=torch.long))
    static = {layer.line: layer for layer in api.analyze_file(str(path)).layers}
    assert len(records) == len(static) == 3
    for rec in records:
        assert sorted({len(s) for s in rec.input_shapes}) == [3]
        assert static[rec.line].input_rank == 3, static[rec.line]


def test_a_flag_named_like_an_activation_keeps_both_branches(tmp_path):
    """t5's ``if config.is_gated_act:`` with the config unknown: the name looks like an activation's, but the
    test is not taken as true -- both branches are possible, so the non-gated block (the one torch builds with
    ``is_gated_act=False``) gets its ranks as well as the gated one, and the Linear after both gets the rank
    they agree on. The truth is torch run once with each value of the flag."""
    torch = pytest.importorskip("torch")
    from densecheck.trace.record import record_torch

    path = tmp_path / "t5_ff.py"
    path.write_text("""
import torch
from torch import nn

class DenseActDense(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.wi = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)

    def forward(self, hidden_states):
        return self.wo(torch.relu(self.wi(hidden_states)))

class DenseGatedActDense(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.wi_0 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wi_1 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)

    def forward(self, hidden_states):
        return self.wo(torch.relu(self.wi_0(hidden_states)) * self.wi_1(hidden_states))

class LayerFF(nn.Module):
    def __init__(self, config):
        super().__init__()
        if config.is_gated_act:
            self.DenseReluDense = DenseGatedActDense(config)
        else:
            self.DenseReluDense = DenseActDense(config)
        self.layer_norm = nn.LayerNorm(config.d_model)

    def forward(self, hidden_states):
        return hidden_states + self.DenseReluDense(self.layer_norm(hidden_states))

class Model(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.layer = LayerFF(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)

    def forward(self, input_ids):
        return self.lm_head(self.layer(self.embed(input_ids)))
""")
    mod = load(path)
    real: dict[int, set[int]] = {}
    for gated in (False, True):
        config = types.SimpleNamespace(vocab_size=50, d_model=16, d_ff=32, is_gated_act=gated)
        for rec in record_torch(
            functools.partial(mod.Model, config), lambda: torch.zeros(2, 7, dtype=torch.long)
        ):
            real.setdefault(rec.line, set()).update(len(s) for s in rec.input_shapes)
    static = {layer.line: layer for layer in api.analyze_file(str(path)).layers}
    assert len(static) == len(real) == 6
    for line, ranks in real.items():
        assert static[line].ranks == sorted(ranks) == [3], (
            f"{line}: static {static[line].ranks} vs torch {ranks}"
        )


def test_from_config_and_input_embeddings_of_a_pretrained_model(tmp_path):
    """A text tower built with ``TextModel._from_config(config)`` (clip:
    ``CLIPTextModel._from_config(text_config)``) that embeds through
    ``self.get_input_embeddings()(input_ids)``, both inherited from transformers' ``PreTrainedModel`` (not
    installed in CI: that source is only analysed, never run). Its runnable twin, line for line the same,
    calls ``TextModel(config)`` and ``self.embed_tokens(input_ids)`` on ``nn.Module``: the static ranks of the
    real form must be torch's ranks of the twin."""
    torch = pytest.importorskip("torch")
    from densecheck.trace.record import record_torch

    real_form = """
import torch
from torch import nn
from transformers import PreTrainedModel

class TextModel(PreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, input_ids):
        inputs_embeds = self.get_input_embeddings()(input_ids)
        return self.dense(inputs_embeds)

class Wrapper(PreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.text_model = TextModel._from_config(config)
        self.head = nn.Linear(config.hidden_size, 2)

    def forward(self, input_ids):
        return self.head(self.text_model(input_ids)[:, 0])
"""
    twin = real_form
    for old, new in [
        ("from transformers import PreTrainedModel", "PreTrainedModel = nn.Module"),
        ("super().__init__(config)", "super().__init__()"),
        ("TextModel._from_config(config)", "TextModel(config)"),
        ("self.get_input_embeddings()(input_ids)", "self.embed_tokens(input_ids)"),
    ]:
        assert old in twin
        twin = twin.replace(old, new)
    assert twin.count("\n") == real_form.count("\n")
    real_path, twin_path = tmp_path / "composite.py", tmp_path / "composite_twin.py"
    real_path.write_text(real_form)
    twin_path.write_text(twin)
    mod = load(twin_path)
    config = types.SimpleNamespace(vocab_size=50, hidden_size=16)
    records = record_torch(lambda: mod.Wrapper(config), lambda: torch.zeros(2, 7, dtype=torch.long))
    static = {layer.line: layer for layer in api.analyze_file(str(real_path)).layers}
    assert len(records) == len(static) == 2
    for rec in records:
        real_ranks = sorted({len(s) for s in rec.input_shapes})
        assert static[rec.line].ranks == real_ranks, (
            f"{rec.line}: static {static[rec.line].ranks} vs torch {real_ranks}"
        )
    assert {layer.name: layer.behaves_as for layer in static.values()} == {
        "self.dense": "pointwise",
        "self.head": "fully_connected",
    }
