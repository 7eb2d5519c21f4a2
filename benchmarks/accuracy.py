#!/usr/bin/env python
"""Accuracy of static rank inference, with trace as the ground truth, on public model code from the registry.

    python benchmarks/accuracy.py {transformers,keras-applications,diffusers,tf-models-official,jax-examples,
                                   all}
                                  [--limit N] [--models a,b] [--jobs 2]
                                  [--timeout 90] [--json out.json] [--show 30] [--trace-cache DIR]
                                  [--time-budget SECONDS] [--static-files {all,traced}]

Corpora (installed packages, not vendored):
  transformers        every model class of ``transformers.models.auto.modeling_auto.*_MAPPING_NAMES`` (base
  models
                      first, then the task heads), built from its default config on the meta device and run
                      forward on small dummy inputs; a model that fails on meta and is small (<= 500M params,
                      weight init skipped) is retried on the CPU. Models that fail to build or run are counted
                      with a reason.
  keras-applications  every builder of ``keras.applications`` (ResNet50, VGG16, ConvNeXtTiny, ...) with
                      ``weights=None``, recorded symbolically.
  diffusers           every model class of ``diffusers.models`` (the ModelMixin subclasses: UNets, VAEs,
                      ControlNets, image / video / audio transformers), built from its constructor defaults
                      (``cls()``; only the arguments of DIFFUSERS_FILL that default to None are set), run on
                      the meta device on dummy inputs built from the forward signature and the config, trying
                      each layout of the main input in turn (image, video, audio, packed tokens); a model that
                      fails on meta is retried on the CPU (weight init skipped) when it is <= 500M params, or
                      else with every layer / block count above 2 cut to 2 (device ``cpu-shrunk``; the
                      overrides are in each result's ``config_overrides``). Static side: the diffusers tree.
  tf-models-official  the vision backbones (official.vision.modeling.backbones), the classification models
                      and heads, the NLP encoders / networks (official.nlp.modeling.networks), and the
                      models and heads of official.nlp.modeling.{models,layers} that build without weights,
                      then the models and heads of official.projects (MaxViT, DETR, TEAMS, YT8M, video SSL,
                      YOLO, RoFormer, TriviaQA, QAT), official.recommendation and official.legacy (Keras
                      ResNet50 / VGG16 / EfficientNet, detection heads, XLNet / Transformer layers), each with
                      the small config of TF_MODELS, recorded symbolically with tf_keras standing in for
                      ``keras`` (TF_USE_LEGACY_KERAS=1). Static side: the ``official`` tree.
  jax-examples        the example models of the Flax repository and of Equinox's documentation at pinned
                      commits (``benchmarks/jax_corpus.py``: checkout, notebook extraction, the models and
                      their inputs), run under jax.eval_shape. Static side: ``flax/examples`` and the
                      extracted ``equinox/examples``.

Ground truth: densecheck.trace.record attributes every nn.Linear / keras Dense to its constructor call site
and records the input shapes it is applied to. Models run in a pool of ``--jobs`` worker subprocesses, one
model at a time, with a per-model timeout (a stuck or crashed worker is killed and replaced; workers are
recycled to bound memory). HF_HUB_OFFLINE=1 / TRANSFORMERS_OFFLINE=1: nothing is downloaded.

Static side: ``densecheck.api.analyze_file`` over every .py file of the package (the transformers, diffusers
and official source trees; keras/src/applications), ``--jobs`` processes. It never imports the analysed code.

Comparison per site (path relative to site-packages + line + column; several sites on one line paired in
column order): eligible = traced sites called with exactly one rank; correct = static ``input_rank`` equals
it; wrong = static gave another rank; null = static gave none; missing = static found no layer there.
coverage = correct / eligible; precision = correct / (correct + wrong).
Also listed: multi-rank sites (static ``input_ranks`` vs traced ranks), null sites by file, and every DC101 /
DC102 / DC103 finding on the corpus, marked whether trace confirms it.

``--trace-cache DIR``: reuse ``DIR/trace-<corpus>.json`` when it exists (only the static side is re-run), else
write it; while tracing, every result is appended to ``DIR/trace-<corpus>.partial.jsonl`` and a re-run skips
the models already there (so an interrupted or ``--time-budget``-limited run can be resumed).
Not part of the pytest suite (tests/test_accuracy_harness.py exercises the comparison on small inputs).
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import platform
import queue
import subprocess
import sys
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

CORPORA = ("transformers", "keras-applications", "diffusers", "tf-models-official", "jax-examples")
#: corpus -> (its package: paths are relative to that package's site-packages; the analysed subdirectory)
CORPUS_SOURCE = {
    "transformers": ("transformers", ""),
    "keras-applications": ("keras", "src/applications"),
    "diffusers": ("diffusers", ""),
    "tf-models-official": ("official", ""),
}
#: corpus -> the function of this module listing its model ids (run in a child process)
CORPUS_MODELS = {
    "transformers": "transformers_models",
    "keras-applications": "keras_models",
    "diffusers": "diffusers_models",
    "tf-models-official": "tf_models",
    "jax-examples": "jax_models",
}
RULE_CODES = ("DC101", "DC102", "DC103")
DIRECT = {"torch.nn.Linear", "torch.nn.LazyLinear", "keras.layers.Dense"}
DIRECT |= {  # the JAX corpus's (densecheck.trace.jax_record.DENSE)
    "flax.linen.Dense",
    "flax.linen.DenseGeneral",
    "flax.nnx.Linear",
    "flax.nnx.LinearGeneral",
    "haiku.Linear",
    "equinox.nn.Linear",
}
CPU_FALLBACK_MAX_PARAMS = 500_000_000
RECYCLE_AFTER = 40  # models per worker process before it is replaced (bounds memory growth)
RECYCLE_RSS_MB = 3000


# ------------------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------------------


def package_dir(name: str) -> str:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"error: package {name!r} is not installed")
    return os.path.realpath(next(iter(spec.submodule_search_locations)))


def site_root(name: str) -> str:
    return os.path.dirname(package_dir(name))


def relpath(path: str, root: str) -> str | None:
    path = os.path.realpath(path)
    if not path.startswith(root + os.sep):
        return None
    return path[len(root) + 1 :].replace(os.sep, "/")


def short_reason(exc: BaseException | str) -> str:
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    text = text.strip().splitlines()[0] if text.strip() else text
    return text[:200]


def normalise_reason(reason: str) -> str:
    """Group failure reasons: digits -> N, quoted names -> '…'."""
    import re

    r = re.sub(r"'[^']*'", "'…'", reason)
    r = re.sub(r"\d+", "N", r)
    return r[:150]


def versions() -> dict:
    out = {"python": platform.python_version()}
    from importlib import metadata

    for dist in (
        "torch",
        "transformers",
        "diffusers",
        "keras",
        "tensorflow-cpu",
        "tensorflow",
        "tf-keras",
        "tf-models-official",
        "jax",
        "flax",
        "equinox",
        "dm-haiku",
        "libcst",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    try:
        rev = subprocess.run(
            ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", ROOT, "status", "--porcelain", "--", "densecheck"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        out["densecheck"] = rev + ("+dirty" if dirty else "")
    except Exception:  # noqa: BLE001
        out["densecheck"] = "?"
    return out


# ------------------------------------------------------------------------------------------------------------
# trace side: model enumeration (parent) and recording (worker)
# ------------------------------------------------------------------------------------------------------------


def transformers_models() -> list[str]:
    """'model_type:ClassName' for every model class of the auto mappings, base models first."""
    import transformers.models.auto.modeling_auto as ma

    names = ["MODEL_MAPPING_NAMES"] + sorted(
        n
        for n in dir(ma)
        if n.endswith("_MAPPING_NAMES") and n.startswith("MODEL_") and n != "MODEL_MAPPING_NAMES"
    )
    seen, out = set(), []
    for n in names:
        for mt, cls in getattr(ma, n).items():
            for c in cls if isinstance(cls, (list, tuple)) else [cls]:
                key = f"{mt}:{c}"
                if key not in seen:
                    seen.add(key)
                    out.append(key)
    return out


def keras_models() -> list[str]:
    import keras

    return sorted(
        n for n in dir(keras.applications) if n[:1].isupper() and callable(getattr(keras.applications, n))
    )


def _cfg_get(config, *names, default=None):
    """First attribute found on the config or its vision/audio/text sub-configs."""
    cfgs = [config] + [
        getattr(config, s, None)
        for s in (
            "vision_config",
            "audio_config",
            "encoder_config",
            "backbone_config",
            "text_config",
            "encoder",
        )
    ]
    for c in cfgs:
        if c is None or isinstance(c, dict):
            continue
        for n in names:
            v = getattr(c, n, None)
            if v is not None:
                return v
    return default


def _image_hw(config) -> tuple[int, int]:
    size = _cfg_get(config, "image_size", "img_size", "input_size", default=224)
    if isinstance(size, dict):
        size = [size.get("height", 224), size.get("width", 224)]
    if isinstance(size, (list, tuple)):
        size = [int(s) for s in size if isinstance(s, int)]
        if len(size) >= 2:
            return size[-2], size[-1]
        size = size[0] if size else 224
    try:
        size = int(size)
    except (TypeError, ValueError):
        size = 224
    return size, size


def transformers_inputs(cls, config, with_pixels: bool = False) -> dict:
    """Small dummy inputs for a transformers model class, from ``main_input_name`` and the config."""
    import torch

    b, s = 2, 16
    name = getattr(cls, "main_input_name", "input_ids") or "input_ids"
    ins: dict = {}
    if name.startswith("pixel_values") or with_pixels:
        c = _cfg_get(config, "num_channels", "in_channels", "in_chans", default=3)
        h, w = _image_hw(config)
        ins["pixel_values"] = torch.empty(b, int(c), h, w)
    if name == "input_values":
        mel, frames = _cfg_get(config, "num_mel_bins"), _cfg_get(config, "max_length")
        if mel is not None and frames is not None:  # spectrogram transformers (AST)
            ins["input_values"] = torch.empty(b, int(frames), int(mel))
        else:
            ins["input_values"] = torch.empty(b, 16000)
    elif name == "input_features":
        mel = _cfg_get(config, "num_mel_bins")
        if mel is not None:
            src = _cfg_get(config, "max_source_positions")
            t = 2 * int(src) if src else 128
            ins["input_features"] = torch.empty(b, int(mel), t)
        else:
            feat = _cfg_get(config, "input_feat_per_channel", "feature_size", "num_mel_bins", default=80)
            ch = _cfg_get(config, "input_channels", default=1)
            ins["input_features"] = torch.empty(b, 64, int(feat) * int(ch))
    elif not name.startswith("pixel_values"):  # token ids; an unknown main input gets them too (and may fail)
        ins["input_ids"] = torch.zeros(b, s, dtype=torch.long)
    if getattr(config, "is_encoder_decoder", False) and "decoder_input_ids" not in ins:
        ins["decoder_input_ids"] = torch.zeros(b, s, dtype=torch.long)
    return ins


def trace_transformers(model_id: str) -> dict:
    import torch
    import transformers
    from transformers import CONFIG_MAPPING

    from densecheck.trace.record import record_torch

    mt, cls_name = model_id.split(":", 1)
    config = CONFIG_MAPPING[mt]()
    try:  # grouped_mm MoE kernels insist on bf16 on the meta device; the eager loop runs every dtype
        config._experts_implementation = "batched_mm"
    except Exception:  # noqa: BLE001
        pass
    cls = getattr(transformers, cls_name)
    root = os.path.dirname(os.path.dirname(os.path.realpath(transformers.__file__)))
    built: list = []

    def build():
        m = cls(config)
        built.append(m)
        return m

    import inspect

    try:
        fwd_params = set(inspect.signature(cls.forward).parameters)
    except (TypeError, ValueError):
        fwd_params = set()
    attempts = [("meta", False)]
    if "pixel_values" in fwd_params and getattr(cls, "main_input_name", "input_ids") == "input_ids":
        attempts.append(("meta", True))
    errors = []
    records = None
    device_used = None
    for device, pixels in attempts:
        built.clear()
        try:
            records = record_torch(build, lambda p=pixels: transformers_inputs(cls, config, p), device=device)
            device_used = device
            break
        except Exception as e:  # noqa: BLE001
            errors.append(e)
            if not built:  # the build itself failed: retrying with other inputs is pointless
                break
    if records is None and built:
        n = sum(p.numel() for p in built[-1].parameters())
        if n <= CPU_FALLBACK_MAX_PARAMS:
            built.clear()
            try:
                from transformers.initialization import no_init_weights

                with no_init_weights():  # shapes are all that matter: skip the (slow) weight init
                    records = record_torch(
                        build, lambda p=attempts[-1][1]: transformers_inputs(cls, config, p), device="cpu"
                    )
                device_used = "cpu"
            except Exception as e:  # noqa: BLE001
                errors.append(e)
    built.clear()
    if records is None:
        return {"id": model_id, "ok": False, "reason": short_reason(errors[-1])}
    del torch
    return {
        "id": model_id,
        "ok": True,
        "device": device_used,
        "sites": _sites(records, root, "transformers/"),
    }


def trace_keras(model_id: str) -> dict:
    import keras

    from densecheck.trace import record
    from densecheck.trace.record import record_keras

    _let_applications_be_user_code(record)
    root = os.path.dirname(os.path.dirname(os.path.realpath(keras.__file__)))
    builder = getattr(keras.applications, model_id)
    records = record_keras(lambda: builder(weights=None))
    keras.backend.clear_session()
    return {"id": model_id, "ok": True, "device": "symbolic", "sites": _sites(records, root, "keras/")}


def _let_applications_be_user_code(record) -> None:
    """The recorder never attributes a layer to a frame inside keras (framework code). keras.applications is
    the corpus here, so replace the keras directory by every keras subdirectory except
    ``src/applications``."""
    if getattr(record, "_accuracy_patched", False):
        return
    orig = record.framework_dirs
    import keras

    kdir = os.path.dirname(os.path.abspath(keras.__file__)) + os.sep
    apps = os.path.join(kdir, "src", "applications") + os.sep

    def framework_dirs():
        out = []
        for d in orig():
            if d != kdir:
                out.append(d)
                continue
            for name in os.listdir(kdir):
                full = os.path.join(kdir, name)
                if name != "src":
                    out.append(full + (os.sep if os.path.isdir(full) else ""))
            for name in os.listdir(os.path.join(kdir, "src")):
                full = os.path.join(kdir, "src", name)
                if full + os.sep != apps:
                    out.append(full + (os.sep if os.path.isdir(full) else ""))
        return tuple(out)

    record.framework_dirs = framework_dirs
    record._accuracy_patched = True


# diffusers

DIFFUSERS_BATCH = 2
DIFFUSERS_TOKENS = 16  # length of a packed latent token sequence (Flux-style hidden_states)
DIFFUSERS_TEXT_TOKENS = 8
#: config keys naming the width of the text embeddings (encoder_hidden_states), most specific first
_TEXT_DIM_KEYS = (
    "encoder_hid_dim",
    "caption_channels",
    "joint_attention_dim",
    "text_embed_dim",
    "cross_attention_dim",
    "text_dim",
    "cap_feat_dim",
    "context_in_dim",
    "text_hidden_dim",
    "in_text_dim",
    "text_in_dim",
    "text_emb_dim",
    "cond_token_dim",
    "encoder_hidden_size",
    "encoder_hidden_states_channels",
    "cross_attention_input_dim",
    "dit_text_dim",
    "text_encoder_dim",
    "clip_text_in_channels",
    "condition_dim",
)
#: config keys naming the width of a pooled text / image embedding (pooled_projections and the like)
_POOLED_DIM_KEYS = (
    "pooled_projection_dim",
    "text_embed_2_dim",
    "in_text_dim2",
    "clip_text_pooled_in_channels",
    "global_states_input_dim",
    "embedding_dim",
    "clip_embed_dim",
)
_TIMESTEP_PARAMS = {"timestep", "timesteps", "t", "timestep_ratio", "decoder_noise_time", "sigma", "fps"}
_DIFFUSERS_AUDIO = ("1D", "Audio", "Oobleck", "Music", "Vocoder", "AceStep", "MMAudio")
_DIFFUSERS_VIDEO = (
    "3D",
    "Video",
    "Temporal",
    "Motion",
    "Wan",
    "Mochi",
    "Allegro",
    "Cosmos",
    "Latte",
    "SkyReels",
    "LTX",
    "Magvit",
    "Helios",
    "Chrono",
    "EasyAnimate",
    "ConsisID",
    "I2VGen",
    "Sparse",
    "Kandinsky5",
    "Kandinsky6",
    "MiniMaxH3",
    "Motif",
    "SanaWM",
    "AnyFlow",
    "KVAEVideo",
)


def diffusers_models() -> list[str]:
    """Class names of every model of ``diffusers.models`` (the ModelMixin subclasses it exports)."""
    import inspect

    import diffusers.models as dm
    from diffusers.models.modeling_utils import ModelMixin

    names = sorted({n for v in dm._import_structure.values() for n in v if n[:1].isupper()})
    out = []
    for n in names:
        try:
            obj = getattr(dm, n)
        except Exception:  # noqa: BLE001 - a class whose module does not import: traced, fails with the reason
            out.append(n)
            continue
        if inspect.isclass(obj) and issubclass(obj, ModelMixin) and obj is not ModelMixin:
            out.append(n)
    return out


def _first_int(config: dict, *names: str) -> int | None:
    """The first of ``names`` the config sets to an int (the first int of a per-block list)."""
    for n in names:
        v = config.get(n)
        if isinstance(v, (list, tuple)) and v and isinstance(v[0], int):
            v = v[0]
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def _diffusers_is_vae(name: str) -> bool:
    return name.startswith(("Autoencoder", "VQModel", "ConsistencyDecoder")) or "VAE" in name or "Vae" in name


def diffusers_layouts(name: str, config: dict) -> list[str]:
    """Layouts of the main input to try, the likeliest first: image (B, C, H, W), video (B, C, T, H, W),
    video_tc (B, T, C, H, W: stable video diffusion), audio (B, C, L), tokens (B, S, C: packed latents)."""
    if any(k in name for k in _DIFFUSERS_AUDIO):
        return ["audio", "tokens"]
    if any(k in name for k in _DIFFUSERS_VIDEO) or set(config) & {
        "patch_size_t",
        "temporal_compression_ratio",
        "num_frames",
        "sample_frames",
    }:
        return ["video", "video_tc", "tokens"]
    return ["image", "tokens"]


def diffusers_main_shape(name: str, config: dict, layout: str) -> list[int]:
    """Shape of the main input (sample / hidden_states / x ...) in ``layout``, small but divisible by the
    model's patch size and down-sampling."""
    b = DIFFUSERS_BATCH
    c = (
        _first_int(config, "in_channels", "latent_channels", "in_dim", "input_channels", "io_channels")
        or _first_int(config, "num_channels", "channels")
        or 4
    )
    vae = _diffusers_is_vae(name)
    size = config.get("sample_size")
    if isinstance(size, (list, tuple)) and size and isinstance(size[0], int):
        size = size[0]
    s = size if isinstance(size, int) and 8 <= size <= 64 and not vae else (64 if vae else 32)
    pt = _first_int(config, "patch_size_t") or 1
    frames = 9 if vae else 2 * pt
    if layout == "image":
        return [b, c, s, s]
    if layout == "video":
        return [b, c, frames, s, s]
    if layout == "video_tc":
        return [b, frames, c, s, s]
    if layout == "audio":
        return [b, c, 4096 if vae else 64]
    return [b, DIFFUSERS_TOKENS, c]  # tokens


def diffusers_inputs(model, layout: str) -> dict:
    """Keyword inputs for ``model.forward`` built from its signature and config: the main input in
    ``layout``, then each required parameter (and the optional ones a default config needs) by its name."""
    import inspect

    import torch

    cls = type(model)
    cfg = dict(model.config)
    b = DIFFUSERS_BATCH
    layout, _, variant = layout.partition("/")
    pooled2 = variant == "pooled2"
    text_len = _first_int(cfg, "max_text_seq_length", "text_len")
    st = text_len if text_len is not None and text_len <= 512 else DIFFUSERS_TEXT_TOKENS
    main_shape = diffusers_main_shape(cls.__name__, cfg, layout)
    d_txt = _first_int(cfg, *_TEXT_DIM_KEYS)
    d_pool = _first_int(cfg, *_POOLED_DIM_KEYS)
    rope = cfg.get("axes_dims_rope") or cfg.get("axes_dims") or cfg.get("rope_axes_dim")
    n_axes = len(rope) if isinstance(rope, (list, tuple)) and rope else 3
    params = [
        p
        for n, p in inspect.signature(cls.forward).parameters.items()
        if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if not params:
        return {}
    ins: dict = {params[0].name: torch.empty(main_shape)}
    tokens = layout == "tokens"
    grid = 4 if tokens else main_shape[-1]  # the token grid of a packed latent: DIFFUSERS_TOKENS = 4 x 4
    n_img = DIFFUSERS_TOKENS if tokens else 64
    frames = main_shape[2] if layout == "video" else main_shape[1] if layout == "video_tc" else 1
    for p in params[1:]:
        n, required = p.name, p.default is inspect.Parameter.empty
        v: Any = None
        if n in _TIMESTEP_PARAMS or n.endswith("_time"):
            v = torch.full((b,), 0.5)
        elif n == "guidance":
            if cfg.get("guidance_embeds") or required:
                v = torch.full((b,), 3.5)
        elif n in ("height", "width") and p.default is None:
            v = grid
        elif n == "num_frames" and p.default is None:
            v = frames if not tokens else 1
        elif n == "controlnet_cond":
            shape = list(main_shape)
            if "conditioning_embedding_out_channels" in cfg and layout in ("image", "video"):
                c = _first_int(cfg, "conditioning_channels") or 3
                shape = [b, c, *shape[2:-2], shape[-2] * 8, shape[-1] * 8]  # image space: 8x the latent
            v = torch.empty(shape)
        elif n.endswith("mask"):
            if required or n == "encoder_attention_mask":
                v = torch.ones(b, st, dtype=torch.bool)
        elif n in ("encoder_hidden_states", "cap_feats", "context", "prompt_embeds") or (
            required and "encoder_hidden_states" in n
        ):
            if required or d_txt is not None:
                v = torch.empty(b, st, d_txt or 32)
        elif n in ("pooled_projections", "global_hidden_states", "proj_embedding", "clip_text_pooled") or (
            required and "pooled" in n
        ):
            d = (
                _first_int(cfg, "global_states_input_dim", "global_cond_dim")
                if n == "global_hidden_states"
                else None
            ) or (d_pool or 32)
            # (batch, 1, dim) where the pipeline passes one: StableAudioPipeline's global_hidden_states is
            # the concatenation of two (batch, 1, dim / 2) duration embeddings on dim 2 (the model also runs
            # on a (batch, dim) one, broadcast); layout "<layout>/pooled2" gives the other models theirs
            rank3 = n == "clip_text_pooled" or (n == "global_hidden_states" and not pooled2)
            v = torch.empty(b, 1, d) if rank3 else torch.empty(b, d)
        elif n == "img_ids":
            v = torch.zeros(n_img, n_axes)
        elif n == "txt_ids":
            v = torch.zeros(st, n_axes)
        elif n == "img_shapes":
            v = [[(1, grid, grid)]] * b
        elif n == "added_time_ids":
            v = torch.zeros(b, 3)
        elif n == "class_labels":
            if required or cfg.get("num_class_embeds") or cfg.get("num_embeds_ada_norm"):
                v = torch.zeros(b, dtype=torch.long)
        elif n == "added_cond_kwargs":
            if cfg.get("addition_embed_type") == "text_time":
                t_dim = _first_int(cfg, "addition_time_embed_dim") or 256
                p_dim = _first_int(cfg, "projection_class_embeddings_input_dim") or 6 * t_dim + 32
                v = {"text_embeds": torch.empty(b, p_dim - 6 * t_dim), "time_ids": torch.zeros(b, 6)}
            elif cfg.get("use_additional_conditions") or (
                "use_additional_conditions" in cfg and cfg.get("sample_size") == 128
            ):
                v = {"resolution": torch.full((b, 2), 256.0), "aspect_ratio": torch.ones(b, 1)}
        elif not required:
            continue
        elif n.endswith(("_size", "_coords")):  # original_size / target_size / crop_coords (SDXL-style)
            v = torch.zeros(b, 2)
        elif "ids" in n or "indices" in n or n.endswith(("_idx", "_tokens")):
            v = torch.zeros(b, st, dtype=torch.long)
        elif "scale" in n:
            v = 1.0
        else:  # another required tensor: same shape as the main input
            v = torch.empty(main_shape)
        if v is not None:
            ins[n] = v
    return ins


#: constructor arguments some default configs leave None (a pipeline's config always sets them)
DIFFUSERS_FILL = {"in_channels": 32, "patch_size": 2, "sample_size": 32}


def diffusers_build_kwargs(cls) -> dict:
    """``DIFFUSERS_FILL`` for each of those constructor arguments that defaults to None; nothing else."""
    d = _init_defaults(cls)
    return {k: v for k, v in DIFFUSERS_FILL.items() if k in d and d[k] is None}


def _init_defaults(cls) -> dict:
    """The constructor's default arguments: the default config of a diffusers model."""
    import inspect

    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return {}
    return {n: p.default for n, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def _shrunk_kwargs(cls) -> dict:
    """Constructor overrides that cut every layer / block count above 2 to 2 (for the CPU fallback of a model
    too big to run there: the same constructor call sites, fewer repeats)."""
    import inspect
    import re

    pat = re.compile(r"^(num_(\w+_)?(layers|blocks)|depth|n_layers|layers_per_block)$")
    out = {}
    for n, p in inspect.signature(cls.__init__).parameters.items():
        d = p.default
        if pat.match(n) and isinstance(d, int) and not isinstance(d, bool) and d > 2:
            out[n] = 2
    return out


def trace_diffusers(model_id: str) -> dict:
    """Build the diffusers model class from its constructor defaults and run it on small dummy inputs: on the
    meta device, each main-input layout in turn; then, when it failed there, on the CPU (weight init
    skipped) — with the layer counts cut to 2 when the default model is above CPU_FALLBACK_MAX_PARAMS."""
    import inspect

    import diffusers
    import diffusers.models as dm
    from diffusers.models.modeling_utils import no_init_weights

    from densecheck.trace.record import record_torch

    cls = getattr(dm, model_id)
    root = os.path.dirname(os.path.dirname(os.path.realpath(diffusers.__file__)))
    built: list = []

    def build(kwargs: dict):
        m = cls(**kwargs)
        built.append(m)
        return m

    def inputs(layout: str):
        return lambda: diffusers_inputs(built[-1], layout)

    errors: list[BaseException] = []
    records = None
    device_used = None
    base = diffusers_build_kwargs(cls)
    kwargs = dict(base)
    layouts = diffusers_layouts(cls.__name__, {**_init_defaults(cls), **base})
    if "global_hidden_states" in inspect.signature(cls.forward).parameters:
        layouts += [f"{lay}/pooled2" for lay in layouts]
    for layout in layouts:
        built.clear()
        try:
            records = record_torch(lambda: build(base), inputs(layout), device="meta")
            device_used = "meta"
            break
        except Exception as e:  # noqa: BLE001
            errors.append(e)
            if not built:  # the build itself failed: other inputs will not help
                break
    if records is None and built:
        n = sum(p.numel() for p in built[-1].parameters())
        if n > CPU_FALLBACK_MAX_PARAMS:
            kwargs = {**base, **_shrunk_kwargs(cls)}
            built.clear()
            try:
                import torch

                with torch.device("meta"):
                    n = sum(p.numel() for p in build(kwargs).parameters())
            except Exception as e:  # noqa: BLE001
                errors.append(e)
                n = CPU_FALLBACK_MAX_PARAMS + 1
        if n <= CPU_FALLBACK_MAX_PARAMS:
            cpu_errors: list[BaseException] = []
            for layout in layouts:
                built.clear()
                try:
                    with no_init_weights():  # shapes are all that matter: skip the (slow) weight init
                        records = record_torch(lambda: build(kwargs), inputs(layout), device="cpu")
                    device_used = "cpu-shrunk" if kwargs != base else "cpu"
                    break
                except Exception as e:  # noqa: BLE001
                    cpu_errors.append(e)
                    if not built:
                        break
            if records is None:
                errors = cpu_errors[:1]
    built.clear()
    if records is None:
        return {"id": model_id, "ok": False, "reason": short_reason(errors[0] if errors else "no input")}
    return {
        "id": model_id,
        "ok": True,
        "device": device_used,
        "config_overrides": kwargs if device_used != "meta" else base,  # the documented deviations
        "sites": _sites(records, root, "diffusers/"),
    }


# tf-models-official


TF_BATCH, TF_SEQ, TF_HIDDEN, TF_VOCAB = 2, 16, 32, 100
#: the small configs traced, by model id ("<module>:<name>[-variant]"); each builds the model and gives the
#: inputs of a model that declares none, as {name: (shape without the batch axis, dtype)} or a list of them
TF_MODELS = (
    "backbones:DilatedResNet",
    "backbones:EfficientNet",
    "backbones:MobileDet",
    "backbones:MobileNet-V2",
    "backbones:MobileNet-V3Small",
    "backbones:ResNet",
    "backbones:ResNet3D",
    "backbones:ResNetUNet",
    "backbones:RevNet",
    "backbones:SpineNet",
    "backbones:SpineNetMobile",
    "backbones:VisionTransformer",
    "vision:ClassificationModel",
    "vision:VideoClassificationModel",
    "heads:DetectionHead",
    "heads:MaskScoring",
    "networks:AlbertEncoder",
    "networks:BertEncoder",
    "networks:BertEncoderV2",
    "networks:Classification",
    "networks:EncoderScaffold",
    "networks:FNet",
    "networks:FunnelTransformerEncoder",
    "networks:MobileBERTEncoder",
    "networks:PackedSequenceEmbedding",
    "networks:SpanLabeling",
    "networks:SparseMixer",
    "networks:XLNetSpanLabeling",
    "models:BertClassifier",
    "models:BertPretrainer",
    "models:BertPretrainerV2",
    "models:BertSpanLabeler",
    "models:BertTokenClassifier",
    "models:DualEncoder",
    "models:ElectraPretrainer",
    "layers:ClassificationHead",
    "layers:MultiClsHeads",
    "layers:GaussianProcessClassificationHead",
    "layers:RandomFeatureGaussianProcess",
    "layers:MaskedLM",
    "layers:MobileBertMaskedLM",
    "layers:FeedForward",
    "layers:MoeLayer",
    "layers:MoeLayerWithBackbone",
    "models:XLNetPretrainer",
    "projects:MaxViT",
    "projects:DETR",
    "projects:TeamsPretrainer",
    "projects:YT8M-moe",
    "projects:YT8M-logistic",
    "projects:VideoSSLModel",
    "projects:YoloCAM",
    "projects:RoformerEncoder",
    "projects:TriviaQaHead",
    "projects:SpanLabelingQuantized",
    "recommendation:NeuMF",
    "recommendation:TwoTowerLogitsHead",
    "legacy:ResNet50",
    "legacy:VGG16",
    "legacy:EfficientNet",
    "legacy:MNIST",
    "legacy:TransformerFFN",
    "legacy:BertClassifier",
    "legacy:FastrcnnHead",
    "legacy:OlnBoxScoreHead",
    "legacy:ShapemaskPriorHead",
    "legacy:ShapemaskCoarsemaskHead",
    "legacy:ShapemaskFinemaskHead",
    "legacy:XLNetPositionwiseFF",
    "legacy:XLNetLMLossLayer",
    "legacy:XLNetSummarization",
    "legacy:XLNetClassificationLossLayer",
    "legacy:XLNetQALossLayer",
)


def tf_models() -> list[str]:
    return list(TF_MODELS)


def _tf_model_spec(model_id: str):
    """(model, inputs) for a model id of TF_MODELS: ``inputs`` is None for a model that declares its Input
    (functional), else {name: (shape, dtype)} or [(shape, dtype), ...] without the batch axis."""
    import tensorflow as tf
    import tf_keras
    from official.nlp.modeling import layers, models, networks
    from official.nlp.modeling.layers import moe
    from official.vision.modeling import backbones, classification_model, heads, video_classification_model

    b, s, h, v = TF_BATCH, TF_SEQ, TF_HIDDEN, TF_VOCAB

    def spec(*shape):
        return tf_keras.layers.InputSpec(shape=[None, *shape])

    def bert(dict_outputs: bool = False):
        return networks.BertEncoder(
            vocab_size=v,
            hidden_size=h,
            num_layers=2,
            num_attention_heads=2,
            max_sequence_length=s,
            inner_dim=64,
            dict_outputs=dict_outputs,
        )

    def resnet3d():
        return backbones.ResNet3D(
            model_id=50,
            temporal_strides=[1, 1, 1, 1],
            temporal_kernel_sizes=[(3, 3, 3), (3, 1, 3, 1), (3, 1, 3, 1, 3, 1), (1, 3, 1)],
            input_specs=spec(4, 64, 64, 3),
        )

    ids = dict.fromkeys(("input_word_ids", "input_mask", "input_type_ids"), ((s,), "int32"))
    seq = [((s, h), "float32")]
    group, name = model_id.split(":", 1)
    small_bert = {"vocab_size": v, "hidden_size": h, "num_layers": 2, "max_sequence_length": s}
    table = {
        "backbones:DilatedResNet": lambda: (
            backbones.DilatedResNet(model_id=50, output_stride=16, input_specs=spec(64, 64, 3)),
            None,
        ),
        "backbones:EfficientNet": lambda: (
            backbones.EfficientNet(model_id="b0", input_specs=spec(64, 64, 3)),
            None,
        ),
        "backbones:MobileDet": lambda: (backbones.MobileDet(input_specs=spec(64, 64, 3)), None),
        "backbones:MobileNet-V2": lambda: (
            backbones.MobileNet(model_id="MobileNetV2", input_specs=spec(64, 64, 3)),
            None,
        ),
        "backbones:MobileNet-V3Small": lambda: (
            backbones.MobileNet(model_id="MobileNetV3Small", input_specs=spec(64, 64, 3)),
            None,
        ),
        "backbones:ResNet": lambda: (backbones.ResNet(model_id=18, input_specs=spec(64, 64, 3)), None),
        "backbones:ResNet3D": lambda: (resnet3d(), None),
        "backbones:ResNetUNet": lambda: (
            backbones.ResNetUNet(
                model_id=50,
                input_specs=spec(64, 64, 3),
                upsample_repeats=[1, 1, 1],
                upsample_filters=[64, 32, 16],
                upsample_kernel_sizes=[3, 3, 3],
            ),
            None,
        ),
        "backbones:RevNet": lambda: (backbones.RevNet(model_id=56, input_specs=spec(64, 64, 3)), None),
        "backbones:SpineNet": lambda: (backbones.SpineNet(input_specs=spec(128, 128, 3)), None),
        "backbones:SpineNetMobile": lambda: (backbones.SpineNetMobile(input_specs=spec(128, 128, 3)), None),
        "backbones:VisionTransformer": lambda: (
            backbones.VisionTransformer(
                mlp_dim=64,
                num_heads=2,
                num_layers=2,
                hidden_size=h,
                representation_size=16,
                input_specs=spec(32, 32, 3),
            ),
            None,
        ),
        "vision:ClassificationModel": lambda: (
            classification_model.ClassificationModel(
                backbone=backbones.ResNet(model_id=18, input_specs=spec(64, 64, 3)),
                num_classes=3,
                input_specs=spec(64, 64, 3),
            ),
            None,
        ),
        "vision:VideoClassificationModel": lambda: (
            video_classification_model.VideoClassificationModel(
                backbone=resnet3d(), num_classes=3, input_specs={"image": spec(4, 64, 64, 3)}
            ),
            None,
        ),
        "heads:DetectionHead": lambda: (
            heads.DetectionHead(num_classes=3, num_filters=8, fc_dims=h),
            [((4, 7, 7, 8), "float32")],
        ),
        "heads:MaskScoring": lambda: (
            heads.MaskScoring(num_classes=3, fc_input_size=[7, 7], num_filters=8, fc_dims=h),
            [((7, 7, 3), "float32")],
        ),
        "networks:AlbertEncoder": lambda: (
            networks.AlbertEncoder(
                embedding_width=16, num_attention_heads=2, intermediate_size=64, **small_bert
            ),
            None,
        ),
        "networks:BertEncoder": lambda: (bert(), None),
        "networks:BertEncoderV2": lambda: (
            networks.BertEncoderV2(num_attention_heads=2, inner_dim=64, **small_bert),
            ids,
        ),
        "networks:Classification": lambda: (networks.Classification(input_width=h, num_classes=3), None),
        "networks:EncoderScaffold": lambda: (
            networks.EncoderScaffold(
                pooled_output_dim=h,
                num_hidden_instances=2,
                embedding_cfg={
                    "vocab_size": v,
                    "type_vocab_size": 2,
                    "hidden_size": h,
                    "seq_length": s,
                    "max_seq_length": s,
                    "initializer": tf_keras.initializers.TruncatedNormal(stddev=0.02),
                    "dropout_rate": 0.1,
                },
                hidden_cfg={
                    "num_attention_heads": 2,
                    "intermediate_size": 64,
                    "intermediate_activation": "gelu",
                    "dropout_rate": 0.1,
                    "attention_dropout_rate": 0.1,
                    "kernel_initializer": tf_keras.initializers.TruncatedNormal(stddev=0.02),
                },
            ),
            None,
        ),
        "networks:FNet": lambda: (networks.FNet(num_attention_heads=2, inner_dim=64, **small_bert), ids),
        "networks:FunnelTransformerEncoder": lambda: (
            networks.FunnelTransformerEncoder(num_attention_heads=2, inner_dim=64, **small_bert),
            ids,
        ),
        "networks:MobileBERTEncoder": lambda: (
            networks.MobileBERTEncoder(
                word_vocab_size=v,
                word_embed_size=16,
                max_sequence_length=s,
                num_blocks=2,
                hidden_size=h,
                num_attention_heads=2,
                intermediate_size=h,
                intra_bottleneck_size=16,
            ),
            None,
        ),
        "networks:PackedSequenceEmbedding": lambda: (
            networks.PackedSequenceEmbedding(
                vocab_size=v,
                type_vocab_size=2,
                embedding_width=16,
                hidden_size=h,
                max_seq_length=s,
                initializer="glorot_uniform",
                dropout_rate=0.1,
            ),
            {
                "input_word_ids": ((s,), "int32"),
                "input_mask": ((s,), "int32"),
                "input_type_ids": ((s,), "int32"),
            },
        ),
        "networks:SpanLabeling": lambda: (networks.SpanLabeling(input_width=h), None),
        "networks:SparseMixer": lambda: (
            networks.SparseMixer(
                vocab_size=v,
                hidden_size=h,
                num_layers=4,
                moe_layers=(1,),
                attention_layers=(3,),
                num_experts=2,
                num_attention_heads=2,
                max_sequence_length=s,
                inner_dim=64,
            ),
            ids,
        ),
        "networks:XLNetSpanLabeling": lambda: (
            networks.XLNetSpanLabeling(input_width=h),
            [((s, h), "float32"), ((), "int32"), ((s,), "float32")],
        ),
        "models:BertClassifier": lambda: (models.BertClassifier(network=bert(), num_classes=3), None),
        "models:BertPretrainer": lambda: (
            models.BertPretrainer(network=bert(), num_classes=2, num_token_predictions=4),
            None,
        ),
        "models:BertPretrainerV2": lambda: (
            models.BertPretrainerV2(encoder_network=bert()),
            {**ids, "masked_lm_positions": ((4,), "int32")},
        ),
        "models:BertSpanLabeler": lambda: (models.BertSpanLabeler(network=bert()), None),
        "models:BertTokenClassifier": lambda: (
            models.BertTokenClassifier(network=bert(), num_classes=3),
            None,
        ),
        "models:DualEncoder": lambda: (models.DualEncoder(network=bert(), max_seq_length=s), None),
        "models:ElectraPretrainer": lambda: (
            models.ElectraPretrainer(
                generator_network=bert(dict_outputs=True),
                discriminator_network=bert(dict_outputs=True),
                vocab_size=v,
                num_classes=2,
                num_token_predictions=4,
            ),
            {
                "input_word_ids": ((s,), "int32"),
                "input_mask": ((s,), "int32"),
                "input_type_ids": ((s,), "int32"),
                "masked_lm_positions": ((4,), "int32"),
                "masked_lm_ids": ((4,), "int32"),
            },
        ),
        "layers:ClassificationHead": lambda: (layers.ClassificationHead(inner_dim=h, num_classes=3), seq),
        "layers:MultiClsHeads": lambda: (
            layers.MultiClsHeads(inner_dim=h, cls_list=[("a", 2), ("b", 3)]),
            seq,
        ),
        "layers:GaussianProcessClassificationHead": lambda: (
            layers.GaussianProcessClassificationHead(inner_dim=h, num_classes=3),
            seq,
        ),
        "layers:RandomFeatureGaussianProcess": lambda: (
            layers.RandomFeatureGaussianProcess(units=3, num_inducing=16),
            [((h,), "float32")],
        ),
        "layers:MaskedLM": lambda: (
            layers.MaskedLM(embedding_table=tf.Variable(tf.zeros([v, h]))),
            [((s, h), "float32"), ((4,), "int32")],
        ),
        "layers:MobileBertMaskedLM": lambda: (
            layers.MobileBertMaskedLM(embedding_table=tf.Variable(tf.zeros([v, h]))),
            [((s, h), "float32"), ((4,), "int32")],
        ),
        "layers:FeedForward": lambda: (moe.FeedForward(d_ff=64), seq),
        "layers:MoeLayer": lambda: (
            moe.MoeLayer(
                experts=moe.FeedForwardExperts(num_experts=2, d_ff=64),
                router=moe.ExpertsChooseMaskedRouter(num_experts=2),
            ),
            seq,
        ),
        "layers:MoeLayerWithBackbone": lambda: (
            moe.MoeLayerWithBackbone(
                moe=moe.MoeLayer(
                    experts=moe.FeedForwardExperts(num_experts=2, d_ff=64),
                    router=moe.ExpertsChooseMaskedRouter(num_experts=2),
                ),
                backbone_d_ff=64,
            ),
            seq,
        ),
    }
    table.update(_tf_more_specs(spec, ids, seq))
    if model_id not in table:
        raise KeyError(f"no tf-models-official config for {group}:{name}")
    del b
    return table[model_id]()


def _tf_more_specs(spec, ids, seq) -> dict:
    """The TF_MODELS builders beyond official.vision / official.nlp's core: the projects, recommendation and
    legacy models (each imports its own module, so one that fails to import fails only its own entry)."""
    import tensorflow as tf
    import tf_keras

    b, s, h, v = TF_BATCH, TF_SEQ, TF_HIDDEN, TF_VOCAB
    f32 = "float32"

    def resnet18(size=64):
        from official.vision.modeling import backbones

        return backbones.ResNet(model_id=18, input_specs=spec(size, size, 3))

    def xlnet_pretrainer():
        from official.nlp.modeling import networks
        from official.nlp.modeling.models import xlnet

        base = networks.XLNetBase(
            vocab_size=v,
            num_layers=2,
            hidden_size=h,
            num_attention_heads=2,
            head_size=16,
            inner_size=64,
            dropout_rate=0.0,
            attention_dropout_rate=0.0,
            attention_type="bi",
            bi_data=False,
            initializer=tf_keras.initializers.RandomNormal(stddev=0.1),
            two_stream=False,
            tie_attention_biases=True,
            reuse_length=0,
        )
        names = ("input_word_ids", "input_type_ids", "input_mask", "masked_tokens")
        return xlnet.XLNetPretrainer(network=base), {
            **dict.fromkeys(names, ((s,), "int32")),
            "permutation_mask": ((s, s), "int32"),
            "target_mapping": ((4, s), "int32"),
        }

    def maxvit():
        from official.projects.maxvit.modeling import maxvit as m

        model = m.MaxViT(
            block_type=("maxvit", "maxvit"),
            num_blocks=(1, 1),
            hidden_size=(16, 32),
            stem_hsize=(8, 8),
            head_size=8,
            window_size=2,
            grid_size=2,
            norm_type="batch_norm",
            representation_size=16,
            add_gap_layer_norm=True,
        )
        return model, [((32, 32, 3), f32)]

    def detr():
        from official.projects.detr.modeling import detr as d

        model = d.DETR(
            backbone=resnet18(),
            backbone_endpoint_name="5",
            num_queries=4,
            hidden_size=h,
            num_classes=3,
            num_encoder_layers=1,
            num_decoder_layers=1,
        )
        return model, [((64, 64, 3), f32)]

    def teams():
        from official.nlp.modeling.networks import encoder_scaffold, packed_sequence_embedding
        from official.projects.teams import teams_pretrainer

        def network():
            embedding_cfg = {
                "vocab_size": v,
                "type_vocab_size": 2,
                "hidden_size": h,
                "embedding_width": h,
                "max_seq_length": s,
                "initializer": tf_keras.initializers.TruncatedNormal(stddev=0.02),
                "dropout_rate": 0.1,
            }
            hidden_cfg = {
                "num_attention_heads": 2,
                "intermediate_size": 64,
                "intermediate_activation": "gelu",
                "dropout_rate": 0.1,
                "attention_dropout_rate": 0.1,
                "kernel_initializer": tf_keras.initializers.TruncatedNormal(stddev=0.02),
            }
            return encoder_scaffold.EncoderScaffold(
                num_hidden_instances=2,
                pooled_output_dim=h,
                embedding_cfg=embedding_cfg,
                embedding_cls=packed_sequence_embedding.PackedSequenceEmbedding(**embedding_cfg),
                hidden_cfg=hidden_cfg,
                dict_outputs=True,
            )

        model = teams_pretrainer.TeamsPretrainer(
            generator_network=network(),
            discriminator_mws_network=network(),
            num_discriminator_task_agnostic_layers=1,
            vocab_size=v,
            candidate_size=3,
        )
        return model, {**ids, "masked_lm_positions": ((2,), "int32"), "masked_lm_ids": ((2,), "int32")}

    def yt8m(head: str):
        from official.projects.yt8m.configs import yt8m as yt8m_cfg
        from official.projects.yt8m.modeling import yt8m_model

        params = yt8m_cfg.VideoClassificationModel()
        params.backbone.dbof.cluster_size = 16
        params.backbone.dbof.hidden_size = 16
        params.backbone.dbof.use_context_gate_cluster_layer = True
        params.backbone.dbof.context_gate_cluster_bottleneck_size = 8
        params.head.type = head
        params.head.moe.num_mixtures = 2
        params.head.moe.use_input_context_gate = True
        params.head.moe.use_output_context_gate = True
        model = yt8m_model.VideoClassificationModel(
            params=params, num_classes=5, input_specs=tf_keras.layers.InputSpec(shape=[None, None, 32])
        )
        return model, [((8, 32), f32), ((), "int32")]  # (features, num_frames)

    def video_ssl():
        from official.projects.video_ssl.modeling import video_ssl_model
        from official.vision.configs import common
        from official.vision.modeling import backbones

        backbone = backbones.ResNet3D(
            model_id=50,
            temporal_strides=[1, 1, 1, 1],
            temporal_kernel_sizes=[(3, 3, 3), (3, 1, 3, 1), (3, 1, 3, 1, 3, 1), (1, 3, 1)],
            input_specs=spec(4, 64, 64, 3),
        )
        model = video_ssl_model.VideoSSLModel(
            backbone=backbone,
            normalize_feature=True,
            hidden_dim=16,
            hidden_layer_num=2,
            hidden_norm_args=common.NormActivation(activation="relu", use_sync_bn=False),
            projection_dim=8,
            input_specs={"image": spec(4, 64, 64, 3)},
        )
        return model, None

    def yolo_cam():
        from official.projects.yolo.modeling.layers import nn_blocks

        return nn_blocks.CAM(reduction_ratio=0.5), [((8, 8, 16), f32)]

    def roformer():
        from official.projects.roformer import roformer_encoder

        model = roformer_encoder.RoformerEncoder(
            vocab_size=v,
            hidden_size=h,
            num_layers=2,
            num_attention_heads=2,
            max_sequence_length=s,
            inner_dim=64,
        )
        return model, None

    def triviaqa_head():
        from official.projects.triviaqa import modeling

        return modeling.TriviaQaHead(intermediate_size=64), {
            "token_embeddings": ((s, h), f32),
            "token_ids": ((s,), "int32"),
            "question_lengths": ((), "int32"),
        }

    def span_labeling_quantized():
        from official.projects.qat.nlp.modeling.networks import span_labeling

        return span_labeling.SpanLabelingQuantized(input_width=h), None

    def neumf():
        from official.recommendation import neumf_model

        params = {
            "num_users": 10,
            "num_items": 12,
            "model_layers": [16, 8, 4],
            "mf_regularization": 0.0,
            "mlp_reg_layers": [0.0, 0.0, 0.0],
            "mf_dim": 4,
        }
        user = tf_keras.Input(shape=(1,), batch_size=b, dtype="int32", name="user_id")
        item = tf_keras.Input(shape=(1,), batch_size=b, dtype="int32", name="item_id")
        return neumf_model.construct_model(user, item, params), None

    def two_tower():
        from official.recommendation.uplift.layers.heads import two_tower_logits_head as tt

        head = tt.TwoTowerLogitsHead(
            control_head=tf_keras.layers.Dense(1),
            treatment_head=tf_keras.layers.Dense(1),
            layering_config=tt.LayeringConfig(
                layering_method=tt.LayeringMethod.LINEAR_LAYERING,
                linear_layering_config=tt.LinearLayeringConfig(),
            ),
        )
        return (lambda control, treatment: head((control, treatment))), [((8,), f32), ((12,), f32)]

    def legacy_resnet50():
        from official.legacy.image_classification.resnet import resnet_model

        return resnet_model.resnet50(num_classes=3), None

    def legacy_vgg16():
        from official.legacy.image_classification.vgg import vgg_model

        return vgg_model.vgg16(num_classes=3), None

    def legacy_efficientnet():
        from official.legacy.image_classification.efficientnet import efficientnet_model

        return efficientnet_model.EfficientNet(overrides={"num_classes": 3}), None

    def legacy_mnist():
        from official.legacy.image_classification import mnist_main

        return mnist_main.build_model(), None

    def legacy_ffn():
        from official.legacy.transformer import ffn_layer

        ffn = ffn_layer.FeedForwardNetwork(hidden_size=h, filter_size=64, relu_dropout=0.1)
        return (lambda x: ffn(x, training=False)), seq

    def legacy_bert_classifier():
        from official.legacy.bert import bert_models, configs

        config = configs.BertConfig(
            vocab_size=v,
            hidden_size=h,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=s,
        )
        return bert_models.classifier_model(config, num_labels=3, max_seq_length=s)[0], None

    def legacy_box_head(cls_name: str):
        from official.legacy.detection.modeling.architecture import heads as lheads

        head = getattr(lheads, cls_name)(num_classes=3, num_filters=8, num_fcs=2, fc_dims=h)
        return (lambda rois: head(rois, is_training=False)), [((4, 7, 7, 8), f32)]

    def legacy_shapemask(which: str):
        from official.legacy.detection.modeling.architecture import heads as lheads

        crop, ch, n = 8, 8, 3
        if which == "prior":
            head = lheads.ShapemaskPriorHead(
                num_classes=3,
                num_downsample_channels=ch,
                mask_crop_size=crop,
                use_category_for_mask=True,
                shape_prior_path=None,
            )
            return (
                lambda f3, f4, boxes, outer, classes: head(
                    {3: f3, 4: f4}, boxes, outer, tf.cast(classes, tf.int32), False
                ),
                [((16, 16, ch), f32), ((8, 8, ch), f32), ((n, 4), f32), ((n, 4), f32), ((n,), "int32")],
            )
        if which == "coarse":
            head = lheads.ShapemaskCoarsemaskHead(
                num_classes=3,
                num_downsample_channels=ch,
                mask_crop_size=crop,
                use_category_for_mask=True,
                num_convs=1,
            )
            return (
                lambda feats, priors, classes: head(feats, priors, classes, False),
                [((n, crop, crop, ch), f32), ((n, crop, crop), f32), ((n,), "int32")],
            )
        head = lheads.ShapemaskFinemaskHead(
            num_classes=3,
            num_downsample_channels=ch,
            mask_crop_size=crop,
            use_category_for_mask=True,
            num_convs=1,
            upsample_factor=2,
        )
        return (
            lambda feats, logits, classes: head(feats, logits, classes, False),
            [((n, crop, crop, ch), f32), ((n, crop, crop), f32), ((n,), "int32")],
        )

    def legacy_xlnet(which: str):
        from official.legacy.xlnet import xlnet_modeling as xm

        init = "glorot_uniform"
        if which == "ff":
            layer = xm.PositionwiseFF(
                d_model=h, d_inner=64, dropout=0.1, kernel_initializer=init, activation_type="relu"
            )
            return layer, seq
        if which == "lm":
            layer = xm.LMLossLayer(
                vocab_size=v, hidden_size=h, initializer=init, tie_weight=True, bi_data=False, use_proj=True
            )
            table = tf.Variable(tf.zeros([v, h]))
            return (
                lambda hidden, target, mask: layer(hidden, target, table, mask),
                [((s, h), f32), ((s,), "int32"), ((s,), f32)],
            )
        if which == "summary":
            layer = xm.Summarization(
                hidden_size=h,
                num_attention_heads=2,
                head_size=16,
                dropout_rate=0.1,
                attention_dropout_rate=0.1,
                initializer=init,
                use_proj=True,
                summary_type="last",
            )
            return layer, seq
        if which == "cls":
            layer = xm.ClassificationLossLayer(n_class=3, initializer=init)
            return (lambda hidden, labels: layer(hidden, labels)), [((h,), f32), ((), "int32")]
        layer = xm.QALossLayer(hidden_size=h, start_n_top=2, end_n_top=2, initializer=init, dropout_rate=0.1)
        return (  # inference (training=False): the beam-search branch
            lambda hidden, p_mask, cls_index: layer(hidden=hidden, p_mask=p_mask, cls_index=cls_index),
            [((s, h), f32), ((s,), f32), ((), "int32")],
        )

    return {
        "models:XLNetPretrainer": xlnet_pretrainer,
        "projects:MaxViT": maxvit,
        "projects:DETR": detr,
        "projects:TeamsPretrainer": teams,
        "projects:YT8M-moe": lambda: yt8m("moe"),
        "projects:YT8M-logistic": lambda: yt8m("logistic"),
        "projects:VideoSSLModel": video_ssl,
        "projects:YoloCAM": yolo_cam,
        "projects:RoformerEncoder": roformer,
        "projects:TriviaQaHead": triviaqa_head,
        "projects:SpanLabelingQuantized": span_labeling_quantized,
        "recommendation:NeuMF": neumf,
        "recommendation:TwoTowerLogitsHead": two_tower,
        "legacy:ResNet50": legacy_resnet50,
        "legacy:VGG16": legacy_vgg16,
        "legacy:EfficientNet": legacy_efficientnet,
        "legacy:MNIST": legacy_mnist,
        "legacy:TransformerFFN": legacy_ffn,
        "legacy:BertClassifier": legacy_bert_classifier,
        "legacy:FastrcnnHead": lambda: legacy_box_head("FastrcnnHead"),
        "legacy:OlnBoxScoreHead": lambda: legacy_box_head("OlnBoxScoreHead"),
        "legacy:ShapemaskPriorHead": lambda: legacy_shapemask("prior"),
        "legacy:ShapemaskCoarsemaskHead": lambda: legacy_shapemask("coarse"),
        "legacy:ShapemaskFinemaskHead": lambda: legacy_shapemask("fine"),
        "legacy:XLNetPositionwiseFF": lambda: legacy_xlnet("ff"),
        "legacy:XLNetLMLossLayer": lambda: legacy_xlnet("lm"),
        "legacy:XLNetSummarization": lambda: legacy_xlnet("summary"),
        "legacy:XLNetClassificationLossLayer": lambda: legacy_xlnet("cls"),
        "legacy:XLNetQALossLayer": lambda: legacy_xlnet("qa"),
    }


def _tf_functional(obj, inputs):
    """A model that declares its Input: ``obj`` itself when it does, else a functional tf_keras model calling
    ``obj`` on symbolic Inputs (batch TF_BATCH) of ``inputs`` ({name: (shape, dtype)} or a list)."""
    import tf_keras

    if inputs is None:
        return obj
    if isinstance(inputs, dict):
        ins = {
            k: tf_keras.Input(shape=sh, batch_size=TF_BATCH, dtype=dt, name=k)
            for k, (sh, dt) in inputs.items()
        }
        return tf_keras.Model(ins, obj(ins))
    xs = [tf_keras.Input(shape=sh, batch_size=TF_BATCH, dtype=dt) for sh, dt in inputs]
    return tf_keras.Model(xs, obj(*xs))


def keras_reason(exc: BaseException) -> str:
    """short_reason, but for a Keras 'Exception encountered when calling layer ...' the error inside it."""
    import re

    text = str(exc)
    if text.startswith("Exception encountered when calling layer"):
        inner = re.findall(r"^\s*(\w+(?:Error|Exception): .+)$", text, re.MULTILINE)
        if inner:
            return short_reason(inner[-1])
    return short_reason(exc)


class _TfKerasAsKeras:
    """While active, ``import keras`` is tf_keras (Keras 2): the recorder (record.keras_sites) patches
    ``keras.layers.Dense``, and tf-models-official builds its layers from ``tf_keras.layers``."""

    def __enter__(self):
        import tf_keras

        self.saved = sys.modules.get("keras")
        sys.modules["keras"] = tf_keras
        return self

    def __exit__(self, *exc):
        if self.saved is None:
            sys.modules.pop("keras", None)
        else:
            sys.modules["keras"] = self.saved
        return False


def trace_tf_models(model_id: str) -> dict:
    import official
    import tf_keras

    from densecheck.trace.record import record_keras

    root = os.path.dirname(os.path.dirname(os.path.realpath(official.__file__)))
    try:
        with _TfKerasAsKeras():
            records = record_keras(lambda: _tf_functional(*_tf_model_spec(model_id)))
    except Exception as e:  # noqa: BLE001
        return {"id": model_id, "ok": False, "reason": keras_reason(e)}
    finally:
        tf_keras.backend.clear_session()
    return {"id": model_id, "ok": True, "device": "symbolic", "sites": _sites(records, root, "official/")}


def _sites(records, root: str, prefix: str) -> list[dict]:
    out = []
    for r in records:
        rel = relpath(r.path, root) if not r.path.startswith("<") else None
        if rel is None or not rel.startswith(prefix):
            continue
        out.append(
            {
                "path": rel,
                "line": r.line,
                "column": r.column,
                "layer": r.layer,
                "shapes": r.input_shapes,
                "in_features": r.in_features,
                "calls": r.calls,
            }
        )
    return out


def worker_main(corpus: str) -> None:
    """Long-lived worker: model ids on stdin, one JSON result per line on the original stdout."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the models print goes to stderr
    sys.stdout = sys.stderr
    import warnings

    warnings.filterwarnings("ignore")
    if corpus == "transformers":
        import torch

        torch.set_num_threads(1)
        import transformers

        transformers.logging.set_verbosity_error()
        fn = trace_transformers
    elif corpus == "diffusers":
        import torch

        torch.set_num_threads(1)
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.set_verbosity_error()
        fn = trace_diffusers
    elif corpus == "tf-models-official":
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.keras is tf_keras, as the library expects
        fn = trace_tf_models
    elif corpus == "jax-examples":
        import jax_corpus

        fn = jax_corpus.trace_jax
    else:
        fn = trace_keras
    import resource

    for line in sys.stdin:
        model_id = line.strip()
        if not model_id:
            continue
        t0 = time.perf_counter()
        try:
            res = fn(model_id)
        except BaseException as e:  # one model must not stop the worker
            if isinstance(e, KeyboardInterrupt):
                raise
            res = {"id": model_id, "ok": False, "reason": short_reason(e)}
        import gc

        gc.collect()
        res["seconds"] = round(time.perf_counter() - t0, 2)
        res["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        out.write(json.dumps(res) + "\n")


class _Worker:
    def __init__(self, corpus: str):
        env = dict(
            os.environ,
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            TF_CPP_MIN_LOG_LEVEL="3",
            PYTHONWARNINGS="ignore",
            OMP_NUM_THREADS="1",
        )
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--_worker", corpus],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=env,
            cwd=ROOT,
        )
        self.lines: queue.Queue = queue.Queue()
        self.done = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def ask(self, model_id: str, timeout: float) -> dict:
        try:
            self.proc.stdin.write(model_id + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return {"id": model_id, "ok": False, "reason": "worker died"}
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                return {"id": model_id, "ok": False, "reason": f"timeout after {timeout:.0f} s"}
            if line is None:
                self.proc.wait()
                return {
                    "id": model_id,
                    "ok": False,
                    "reason": f"worker crashed (exit {self.proc.returncode})",
                }
            try:
                res = json.loads(line)
            except json.JSONDecodeError:
                continue
            self.done += 1
            return res

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self):
        try:
            self.proc.kill()  # only the worker this harness started, by its handle
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001
            pass

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001
            self.kill()


def run_models(
    corpus: str,
    models: list[str],
    jobs: int,
    timeout: float,
    progress=True,
    partial: str | None = None,
    budget: float | None = None,
) -> list[dict]:
    """Trace ``models`` in ``jobs`` worker processes. ``partial``: a JSONL file of results so far (models
    found there are not re-run; new results are appended). ``budget``: stop starting new models after this
    many seconds (the models not started are not counted as attempted)."""
    results: list[dict] = []
    done = set()
    if partial and os.path.exists(partial):
        with open(partial) as fh:
            for line in fh:
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if r["id"] in models and r["id"] not in done:
                    done.add(r["id"])
                    results.append(r)
    todo: queue.Queue = queue.Queue()
    for m in models:
        if m not in done:
            todo.put(m)
    sink = open(partial, "a") if partial else None  # noqa: SIM115 - closed after the threads join
    lock = threading.Lock()
    t0 = time.perf_counter()

    def slot():
        w = None
        while True:
            if budget is not None and time.perf_counter() - t0 > budget:
                break
            try:
                m = todo.get_nowait()
            except queue.Empty:
                break
            if w is None or not w.alive():
                w = _Worker(corpus)
            # the first model of a fresh worker also pays for importing torch/transformers
            res = w.ask(m, timeout + (60 if w.done == 0 else 0))
            if not w.alive() or w.done >= RECYCLE_AFTER or res.get("rss_mb", 0) > RECYCLE_RSS_MB:
                w.close()
                w = None
            with lock:
                results.append(res)
                if sink is not None:
                    sink.write(json.dumps(res) + "\n")
                    sink.flush()
                n = len(results)
                if progress and (n % 25 == 0 or n == len(models)):
                    ok = sum(r["ok"] for r in results)
                    print(
                        f"  [{corpus}] {n}/{len(models)} models, {ok} ok, {time.perf_counter() - t0:.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )
        if w is not None:
            w.close()

    threads = [threading.Thread(target=slot) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if sink is not None:
        sink.close()
    order = {m: i for i, m in enumerate(models)}
    return sorted(results, key=lambda r: order.get(r["id"], 0))


def aggregate(results: list[dict]) -> list[dict]:
    """Per-model site lists -> one traced site per (path, line, column) with every rank seen."""
    sites: dict[tuple, dict] = {}
    for r in results:
        if not r.get("ok"):
            continue
        for s in r["sites"]:
            key = (s["path"], s["line"], s["column"])
            t = sites.get(key)
            if t is None:
                t = sites[key] = {
                    "path": s["path"],
                    "line": s["line"],
                    "column": s["column"],
                    "ranks": [],
                    "shapes": [],
                    "models": [],
                    "layers": [],
                    "in_features": set(),
                    "calls": 0,
                }
            for sh in s["shapes"]:
                if len(sh) not in t["ranks"]:
                    t["ranks"].append(len(sh))
                if sh not in t["shapes"] and len(t["shapes"]) < 4:
                    t["shapes"].append(sh)
            if len(t["models"]) < 5:
                t["models"].append(r["id"])
            if s["layer"] not in t["layers"]:
                t["layers"].append(s["layer"])
            t["in_features"].add(s.get("in_features"))
            t["calls"] += s.get("calls", 0)
    out = []
    for t in sites.values():
        t["ranks"].sort()
        t["in_features"] = sorted(x for x in t["in_features"] if x is not None)
        out.append(t)
    return sorted(out, key=lambda t: (t["path"], t["line"], t["column"] or 0))


# ------------------------------------------------------------------------------------------------------------
# static side
# ------------------------------------------------------------------------------------------------------------


def _static_one(args) -> tuple[list[dict], list[dict], bool]:
    path, root = args
    from densecheck.api import analyze_file

    res = analyze_file(path)
    rel = relpath(path, root)
    layers = []
    for lr in res.layers:
        j = lr.to_json()
        layers.append(
            {
                "path": rel,
                "line": j["line"],
                "column": j["column"],
                "layer": j["layer"],
                "call": j.get("call"),
                "input_rank": j["input_rank"],
                "input_ranks": j.get("input_ranks"),
                "input_shape": j.get("input_shape"),
                "in_features": j.get("in_features"),
                "channel_axis": j.get("channel_axis"),
                "behaves_as": j.get("behaves_as"),
            }
        )
    diags = [
        {"path": rel, "line": d.line, "column": d.column, "code": d.code, "message": d.message}
        for d in res.diagnostics
        if d.code in RULE_CODES or d.code == "DC002"
    ]
    return layers, diags, res.internal_error


def static_files(corpus: str) -> tuple[list[str], str]:
    if corpus == "jax-examples":
        import jax_corpus

        return jax_corpus.static_files()
    pkg, sub = CORPUS_SOURCE[corpus]
    base = os.path.join(package_dir(pkg), *sub.split("/")) if sub else package_dir(pkg)
    files = []
    for d, dirs, fs in os.walk(base):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        files += [os.path.join(d, f) for f in sorted(fs) if f.endswith(".py")]
    return files, site_root(pkg)


def run_static(corpus: str, jobs: int, only_files: set[str] | None = None) -> dict:
    import multiprocessing as mp

    files, root = static_files(corpus)
    if only_files is not None:
        files = [f for f in files if relpath(f, root) in only_files]
    t0 = time.perf_counter()
    layers, diags, errors = [], [], 0
    # largest files first so the pool does not end on one big file
    files.sort(key=lambda f: -os.path.getsize(f))
    if jobs > 1:
        with mp.get_context("spawn").Pool(jobs) as pool:
            it = pool.imap_unordered(_static_one, [(f, root) for f in files], chunksize=4)
            for ls, ds, err in it:
                layers += ls
                diags += ds
                errors += err
    else:
        for f in files:
            ls, ds, err = _static_one((f, root))
            layers += ls
            diags += ds
            errors += err
    return {
        "files": len(files),
        "layers": layers,
        "diagnostics": diags,
        "internal_errors": errors,
        "seconds": round(time.perf_counter() - t0, 1),
    }


# ------------------------------------------------------------------------------------------------------------
# comparison
# ------------------------------------------------------------------------------------------------------------


def pair_sites(static_layers: list[dict], traced: list[dict]) -> dict[int, dict]:
    """index in ``traced`` -> static layer. Exact (path, line, column) first, then the leftovers of a line in
    column order."""
    by_line = collections.defaultdict(list)
    for lay in static_layers:
        by_line[(lay["path"], lay["line"])].append(lay)
    tr_line = collections.defaultdict(list)
    for i, t in enumerate(traced):
        tr_line[(t["path"], t["line"])].append(i)
    out: dict[int, dict] = {}
    for key, idxs in tr_line.items():
        cands = list(by_line.get(key, []))
        if not cands:
            continue
        rest = []
        for i in idxs:
            hit = next((c for c in cands if c["column"] == traced[i]["column"]), None)
            if hit is not None:
                out[i] = hit
                cands.remove(hit)
            else:
                rest.append(i)
        rest.sort(key=lambda i: traced[i]["column"] or 0)
        cands.sort(key=lambda c: c["column"] or 0)
        for i, c in zip(rest, cands):
            out[i] = c
    return out


def _rank(v):
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def compare(static_layers: list[dict], traced: list[dict], diagnostics: list[dict] | None = None) -> dict:
    """Score static layers against traced sites. Both use site-packages-relative paths.

    static layer: {path, line, column, input_rank, input_ranks?, ...}; traced site: {path, line, column,
    ranks, shapes?, in_features?}. Returns counts, coverage, precision and per-site lists.
    """
    match = pair_sites(static_layers, traced)
    cnt = collections.Counter()
    rows = {"correct": [], "wrong": [], "null": [], "missing": [], "multi": [], "not_called": []}
    for i, t in enumerate(traced):
        s = match.get(i)
        ranks = t["ranks"]
        if t.get("layers") and not set(t["layers"]) & DIRECT:
            cnt["subclass"] += 1  # e.g. FalconLinear(nn.Linear): out of scope, like the layer tables
            rows.setdefault("subclass", []).append({"site": t, "static": s})
            continue
        if not ranks:
            cnt["not_called"] += 1
            rows["not_called"].append({"site": t, "static": s})
            continue
        if len(ranks) > 1:
            cnt["multi"] += 1
            sr = (s or {}).get("input_ranks") or (
                [_rank(s.get("input_rank"))] if s and _rank(s.get("input_rank")) else []
            )
            verdict = (
                "missing"
                if s is None
                else "null"
                if not sr
                else "same_set"
                if sorted(set(sr)) == ranks
                else "subset"
                if set(sr) <= set(ranks)
                else "differs"
            )
            cnt["multi_" + verdict] += 1
            rows["multi"].append({"site": t, "static": s, "static_ranks": sr, "verdict": verdict})
            continue
        cnt["eligible"] += 1
        if s is None:
            verdict = "missing"
        else:
            pred = _rank(s.get("input_rank"))
            verdict = "null" if pred is None else "correct" if pred == ranks[0] else "wrong"
        cnt[verdict] += 1
        rows[verdict].append({"site": t, "static": s})
    given = cnt["correct"] + cnt["wrong"]
    res = {
        "counts": dict(cnt),
        "eligible": cnt["eligible"],
        "correct": cnt["correct"],
        "wrong": cnt["wrong"],
        "null": cnt["null"],
        "missing": cnt["missing"],
        "coverage": cnt["correct"] / cnt["eligible"] if cnt["eligible"] else 0.0,
        "precision": cnt["correct"] / given if given else 0.0,
        "rows": rows,
    }
    traced_files = {t["path"] for t in traced}
    res["static_layers_in_traced_files_unmatched"] = sum(
        1 for lay in static_layers if lay["path"] in traced_files
    ) - len({id(v) for v in match.values()})
    if diagnostics is not None:
        res["findings"] = confirm_findings(diagnostics, static_layers, traced, match)
    return res


def confirm_findings(diagnostics: list[dict], static_layers, traced, match) -> list[dict]:
    """Mark each DC101/DC102/DC103 finding 'confirmed by trace', 'NOT confirmed' or 'not traced'."""
    site_of = {}
    for i, s in match.items():
        site_of[id(s)] = traced[i]
    by_pos = {(s["path"], s["line"], s["column"]): s for s in static_layers}
    by_line = collections.defaultdict(list)
    for s in static_layers:
        by_line[(s["path"], s["line"])].append(s)
    out = []
    for d in diagnostics:
        if d["code"] not in RULE_CODES:
            continue
        s = by_pos.get((d["path"], d["line"], d["column"]))
        if s is None and len(by_line.get((d["path"], d["line"]), [])) == 1:
            s = by_line[(d["path"], d["line"])][0]
        t = site_of.get(id(s)) if s is not None else None
        if t is None or not t["ranks"]:
            status = "not traced"
        elif d["code"] == "DC101":
            status = "confirmed by trace" if max(t["ranks"]) >= 4 else "NOT confirmed"
        elif d["code"] == "DC102":
            # a shape cannot show a layout, but it can show where the channels are: the static channel axis
            # must be known, hold the same size in the traced shape, and that size must differ from the last
            # axis (the one the layer consumes)
            shp, ca = s.get("input_shape") or [], s.get("channel_axis")
            agree = ca is not None and any(
                len(sh) == len(shp) >= 3
                and -len(sh) <= ca < len(sh)
                and shp[ca] is not None
                and shp[ca] == sh[ca]
                and sh[ca] != sh[-1]
                for sh in t["shapes"]
            )
            status = "confirmed by trace" if agree else "NOT confirmed"
        else:  # DC103: the traced input's last axis differs from in_features (a real run would have failed)
            bad = any(
                sh and sh[-1] is not None and t["in_features"] and sh[-1] not in t["in_features"]
                for sh in t["shapes"]
            )
            status = "confirmed by trace" if bad else "NOT confirmed"
        out.append(
            {
                **d,
                "status": status,
                "traced_ranks": t["ranks"] if t else None,
                "traced_shapes": t["shapes"][:2] if t else None,
            }
        )
    return out


# ------------------------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------------------------


def source_line(path: str, line: int, root: str) -> str:
    import linecache

    return linecache.getline(os.path.join(root, path), line).strip()


def report(corpus: str, trace: dict, static: dict, cmp: dict, show: int, root: str) -> None:
    p = print
    p(f"\n=== {corpus} ===")
    res = trace["results"]
    ok = [r for r in res if r.get("ok")]
    failed = [r for r in res if not r.get("ok")]
    dev = collections.Counter(r.get("device") for r in ok)
    p(
        f"models: {len(res)} attempted, {len(ok)} ok ({', '.join(f'{k} {v}' for k, v in dev.items())}), "
        f"{len(failed)} failed; trace {trace['seconds']:.0f} s"
    )
    reasons = collections.Counter(normalise_reason(r["reason"]) for r in failed)
    for reason, n in reasons.most_common(8):
        ex = [r["id"] for r in failed if normalise_reason(r["reason"]) == reason][:3]
        p(f"  {n:4d}  {reason[:110]}   e.g. {', '.join(ex)}")
    traced = trace["sites"]
    p(
        f"traced sites: {len(traced)} ({cmp['eligible']} single-rank, {cmp['counts'].get('multi', 0)} "
        f"multi-rank, "
        f"{cmp['counts'].get('not_called', 0)} constructed but not called, "
        f"{cmp['counts'].get('subclass', 0)} constructing a subclass of Linear/Dense: not scored)"
    )
    p(
        f"static: {static['files']} files, {len(static['layers'])} layers, {static['internal_errors']} "
        f"internal errors, "
        f"{static['seconds']:.0f} s"
    )
    p(
        f"eligible {cmp['eligible']}  correct {cmp['correct']}  wrong {cmp['wrong']}  null {cmp['null']}  "
        f"missing {cmp['missing']}"
    )
    p(f"coverage {cmp['coverage']:.3f}  precision {cmp['precision']:.3f}")

    wrong = cmp["rows"]["wrong"]
    if wrong:
        p(f"\nwrong sites ({len(wrong)}; first {min(show, len(wrong))}):")
        for r in wrong[:show]:
            t, s = r["site"], r["static"]
            p(
                f"  {t['path']}:{t['line']}:{t['column']}  static {s['input_rank']} {s.get('input_shape')}  "
                f"traced {t['ranks'][0]} {t['shapes'][0]}"
            )
            p(f"      {source_line(t['path'], t['line'], root)[:110]}")
    nulls = cmp["rows"]["null"] + cmp["rows"]["missing"]
    if nulls:
        by_file = collections.Counter(r["site"]["path"] for r in nulls)
        p(f"\nnull / missing sites by file ({len(nulls)} sites in {len(by_file)} files; top 20):")
        for f, n in by_file.most_common(20):
            p(f"  {n:4d}  {f}")
        miss = cmp["rows"]["missing"]
        if miss:
            p(
                f"  (of which {len(miss)} missing: no static layer at the traced position, e.g. "
                + ", ".join(f"{r['site']['path']}:{r['site']['line']}" for r in miss[:3])
                + ")"
            )
    multi = cmp["rows"]["multi"]
    if multi:
        v = collections.Counter(r["verdict"] for r in multi)
        p(f"\nmulti-rank sites ({len(multi)}): " + ", ".join(f"{k} {n}" for k, n in v.most_common()))
        for r in [r for r in multi if r["verdict"] in ("same_set", "subset", "differs")][:show]:
            t = r["site"]
            p(f"  {t['path']}:{t['line']}  static {r['static_ranks']}  traced {t['ranks']}  ({r['verdict']})")
    several = [
        (r, r["static"])
        for k in ("correct", "wrong")
        for r in cmp["rows"][k]
        if r["static"] and len(r["static"].get("input_ranks") or []) > 1
    ]
    if several:
        p(f"\nsingle-rank sites where static reports several ranks ({len(several)}):")
        for r, s in several[:show]:
            p(
                f"  {r['site']['path']}:{r['site']['line']}  static input_ranks {s['input_ranks']}  "
                f"traced {r['site']['ranks']}"
            )
    findings = cmp.get("findings") or []
    p(f"\nfindings DC101/DC102/DC103 on the corpus: {len(findings)}")
    for f in findings[: max(show, 50)]:
        p(
            f"  {f['path']}:{f['line']}:{f['column']}: {f['code']} [{f['status']}; traced ranks "
            f"{f['traced_ranks']}] "
            f"{f['message'][:100]}"
        )
    dc002 = [d for d in static["diagnostics"] if d["code"] == "DC002"]
    if dc002:
        p(f"\ninternal errors (DC002): {len(dc002)}")
        for d in dc002[:10]:
            p(f"  {d['path']}:{d['line']}: {d['message'][:140]}")


def corpus_root(corpus: str) -> str:
    """The directory the corpus's paths are relative to."""
    if corpus == "jax-examples":
        import jax_corpus

        return jax_corpus.corpus_root()
    return site_root(CORPUS_SOURCE[corpus][0])


def jax_models() -> list[str]:
    import jax_corpus

    jax_corpus.materialise()
    return jax_corpus.jax_models()


def trace_corpus(corpus: str, args) -> dict:
    cache = os.path.join(args.trace_cache, f"trace-{corpus}.json") if args.trace_cache else None
    if cache and os.path.exists(cache) and not args.models and not args.limit:
        with open(cache) as fh:
            data = json.load(fh)
        print(f"[{corpus}] trace truth from cache {cache}", file=sys.stderr)
        return data
    models = _list_in_subprocess(corpus)
    if args.models:
        want = [m.strip() for m in args.models.split(",") if m.strip()]
        models = [m for m in models if m in want or m.split(":")[0] in want or m.split(":")[-1] in want]
    if args.limit:
        models = models[: args.limit]
    print(f"[{corpus}] tracing {len(models)} models with {args.jobs} workers", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    partial = os.path.join(args.trace_cache, f"trace-{corpus}.partial.jsonl") if args.trace_cache else None
    results = run_models(corpus, models, args.jobs, args.timeout, partial=partial, budget=args.time_budget)
    data = {"results": results, "sites": aggregate(results), "seconds": time.perf_counter() - t0}
    if cache and not args.models and not args.limit and not args.time_budget:
        os.makedirs(os.path.dirname(os.path.abspath(cache)), exist_ok=True)
        with open(cache, "w") as fh:
            json.dump(data, fh)
    return data


def _list_in_subprocess(corpus: str) -> list[str]:
    """Enumerate models in a child (keeps torch / tensorflow out of the parent)."""
    models = CORPUS_MODELS[corpus]
    code = (
        f"import sys, json; sys.path.insert(0, {ROOT!r}); sys.path.insert(0, {HERE!r}); import accuracy; "
        f"print(json.dumps(accuracy.{models}()))"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    if out.returncode:
        raise SystemExit(f"error: cannot list {corpus} models:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    if argv is None and len(sys.argv) == 3 and sys.argv[1] == "--_worker":
        worker_main(sys.argv[2])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", choices=CORPORA + ("all",))
    ap.add_argument("--limit", type=int, help="trace only the first N models")
    ap.add_argument("--models", help="comma-separated model ids / model types / class names to trace")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=90, help="seconds per model (default 90)")
    ap.add_argument("--time-budget", type=float, help="stop starting new models after this many seconds")
    ap.add_argument(
        "--static-files",
        choices=("all", "traced"),
        default="all",
        help="analyse every .py file of the corpus (default) or only the files with traced sites",
    )
    ap.add_argument("--json", help="write every number and per-site row here")
    ap.add_argument("--show", type=int, default=30)
    ap.add_argument("--trace-cache", help="directory: reuse/write trace-<corpus>.json (full runs only)")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    vers = versions()
    print("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))
    out = {"versions": vers, "corpora": {}}
    for corpus in CORPORA if args.corpus == "all" else (args.corpus,):
        trace = trace_corpus(corpus, args)
        only = {t["path"] for t in trace["sites"]} if args.models or args.static_files == "traced" else None
        static = run_static(corpus, args.jobs, only)
        cmp = compare(static["layers"], trace["sites"], static["diagnostics"])
        root = corpus_root(corpus)
        report(corpus, trace, static, cmp, args.show, root)
        out["corpora"][corpus] = {
            "models_attempted": len(trace["results"]),
            "models_ok": sum(r.get("ok", False) for r in trace["results"]),
            "failures": [{"id": r["id"], "reason": r["reason"]} for r in trace["results"] if not r.get("ok")],
            "trace_seconds": round(trace["seconds"], 1),
            "static_seconds": static["seconds"],
            "static_files": static["files"],
            "static_layers": len(static["layers"]),
            **{k: v for k, v in cmp.items() if k != "rows"},
            "rows": {
                k: [
                    {
                        "path": r["site"]["path"],
                        "line": r["site"]["line"],
                        "column": r["site"]["column"],
                        "traced_ranks": r["site"]["ranks"],
                        "traced_shapes": r["site"]["shapes"],
                        "static_rank": (r["static"] or {}).get("input_rank"),
                        "static_ranks": (r["static"] or {}).get("input_ranks"),
                        "static_shape": (r["static"] or {}).get("input_shape"),
                    }
                    for r in v
                ]
                for k, v in cmp["rows"].items()
            },
            "traced_sites": trace["sites"],
        }
    wall = time.perf_counter() - t_start
    out["wall_seconds"] = round(wall, 1)
    print(f"\nwall time {wall:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1, default=list)
    return 0


if __name__ == "__main__":
    sys.exit(main())
