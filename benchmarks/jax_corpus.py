"""The JAX corpus of ``benchmarks/accuracy.py`` (issue 19): the example models of the Flax repository and of
Equinox's documentation, at pinned commits, with traced truth.

Source (never vendored): ``git clone`` of each repository at its pinned commit into
``$DENSECHECK_JAX_CORPUS`` (default ``~/.cache/densecheck/jax-corpus``: ``flax/``, and ``src/equinox/`` for
the notebooks); ``$DENSECHECK_FLAX_GIT`` / ``$DENSECHECK_EQUINOX_GIT`` replace the GitHub URLs (a local
mirror). Flax: ``flax/examples`` as it is. Equinox: its examples are notebooks (``docs/examples/*.ipynb``);
each becomes ``equinox/examples/<name>.py`` holding the top-level imports, function and class definitions
and call-free assignments (constants) of its code cells, in order -- the model code without the data loading
and training, so both sides read and run the same file.

Truth: :mod:`densecheck.trace.jax_record` records every Flax / Equinox Dense/Linear call site and its input
shape while each model of :data:`JAX_MODELS` runs (``jax.eval_shape`` for linen, ``eqx.filter_eval_shape``
with ``jax.vmap`` over the batch for Equinox, an eager call on zeros for nnx). Modules the examples' training
code imports but that are not installed (``ml_collections``, ``clu``...) are stubbed while importing: the
models do not use them.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import types
from typing import Any

CORPUS = "jax-examples"
#: repository -> (default URL, pinned commit, the paths checked out, the environment variable overriding
#: the URL)
REPOS = {
    "flax": (
        "https://github.com/google/flax",
        "18f8f311c275d57f46d95e41b15aa97b454754c0",
        "examples",
        "DENSECHECK_FLAX_GIT",
    ),
    "equinox": (
        "https://github.com/patrick-kidger/equinox",
        "9336d820b2ef66b360fc6cb3611b3da5cefbb14d",
        ":(glob)docs/examples/*.ipynb",
        "DENSECHECK_EQUINOX_GIT",
    ),
}

_CFG = (
    "vocab_size=64, output_vocab_size=64, emb_dim=32, num_heads=2, num_layers=2, qkv_dim=32, mlp_dim=64, "
    "max_len=16, deterministic=True"
)

#: model id -> how it is built and run. ``build``: an expression in the example module's namespace (``key``
#: is a PRNG key); ``inputs``: (shape, dtype) with the batch axis; ``run``: an expression giving a function of
#: the inputs (``model``, ``key``, ``jax``, ``jnp`` in scope); ``mode``: ``eval_shape`` (jax.eval_shape),
#: ``filter`` (eqx.filter_eval_shape) or ``eager`` (called on zeros).
JAX_MODELS: dict[str, dict[str, Any]] = {
    "flax/examples/mnist/train.py:CNN": {
        "build": "CNN(rngs=nnx.Rngs(0))",
        "inputs": [((1, 28, 28, 1), "float32")],
        "run": "lambda x: model(x, nnx.Rngs(1))",
        "mode": "eager",
    },
    "flax/examples/imagenet/models.py:ResNet18": {
        "build": "ResNet18(num_classes=10)",
        "inputs": [((1, 64, 64, 3), "float32")],
        "run": "lambda x: model.init(key, x, train=False)",
    },
    "flax/examples/imagenet/models.py:ResNet50": {
        "build": "ResNet50(num_classes=10)",
        "inputs": [((1, 64, 64, 3), "float32")],
        "run": "lambda x: model.init(key, x, train=False)",
    },
    "flax/examples/vae/models.py:VAE": {
        "build": "model(20)",
        "inputs": [((1, 784), "float32")],
        "run": "lambda x: model.init(key, x, key)",
    },
    "flax/examples/ppo/models.py:ActorCritic": {
        "build": "ActorCritic(num_outputs=6)",
        "inputs": [((1, 84, 84, 4), "float32")],
        "run": "lambda x: model.init(key, x)",
    },
    "flax/examples/lm1b/models.py:TransformerLM": {
        "build": f"TransformerLM(TransformerConfig({_CFG}))",
        "inputs": [((2, 16), "int32")],
        "run": "lambda x: model.init(key, x)",
    },
    "flax/examples/wmt/models.py:Transformer": {
        "build": f"Transformer(TransformerConfig({_CFG}))",
        "inputs": [((2, 16), "int32"), ((2, 16), "int32")],
        "run": "lambda x, y: model.init(key, x, y)",
    },
    "flax/examples/nlp_seq/models.py:Transformer": {
        "build": "Transformer(TransformerConfig(vocab_size=64, output_vocab_size=8, emb_dim=32, num_heads=2, "
        "num_layers=2, qkv_dim=32, mlp_dim=64, max_len=16))",
        "inputs": [((2, 16), "int32")],
        "run": "lambda x: model.init(key, inputs=x, train=False)",
    },
    "flax/examples/seq2seq/models.py:Seq2seq": {
        "build": "Seq2seq(teacher_force=True, hidden_size=16, vocab_size=10, eos_id=1)",
        "inputs": [((2, 5, 10), "float32"), ((2, 4, 10), "float32")],
        "run": "lambda a, b: model.init({'params': key, 'lstm': key}, a, b)",
    },
    "flax/examples/sst2/models.py:TextClassifier": {
        "build": "TextClassifier(embedding_size=8, hidden_size=8, vocab_size=50, output_size=1, "
        "dropout_rate=0.0, word_dropout_rate=0.0)",
        "inputs": [((2, 7), "int32"), ((2,), "int32")],
        "run": "lambda t, n: model.init(key, t, n, deterministic=True)",
    },
    "equinox/examples/mnist.py:CNN": {
        "build": "CNN(key)",
        "inputs": [((4, 1, 28, 28), "float32")],
        "run": "lambda x: jax.vmap(model)(x)",
        "mode": "filter",
    },
    "equinox/examples/train_rnn.py:RNN": {
        "build": "RNN(in_size=2, out_size=1, hidden_size=16, key=key)",
        "inputs": [((4, 10, 2), "float32")],
        "run": "lambda x: jax.vmap(model)(x)",
        "mode": "filter",
    },
    "equinox/examples/stateful.py:Model": {
        "build": "eqx.nn.make_with_state(Model)(key)",
        "inputs": [((4, 3), "float32")],
        "run": "lambda x: jax.vmap(model[0], axis_name='batch', in_axes=(0, None), out_axes=(0, None))"
        "(x, model[1])",
        "mode": "filter",
    },
    "equinox/examples/bert.py:BertClassifier": {
        "build": "BertClassifier(config=bert_config, num_classes=2, key=key)",
        "inputs": [((2, 16), "int32"), ((2, 16), "int32")],
        "run": "lambda t, s: jax.vmap(lambda a, b: model({'token_ids': a, 'segment_ids': b}, "
        "enable_dropout=False))(t, s)",
        "mode": "filter",
    },
    "equinox/examples/vision_transformer.py:VisionTransformer": {
        "build": "VisionTransformer(embedding_dim=embedding_dim, hidden_dim=hidden_dim, num_heads=num_heads, "
        "num_layers=num_layers, dropout_rate=dropout_rate, patch_size=patch_size, num_patches=num_patches, "
        "num_classes=num_classes, key=key)",
        "inputs": [((2, 3, 32, 32), "float32")],
        "run": "lambda x: jax.vmap(lambda xi: model(xi, False, key))(x)",
        "mode": "filter",
    },
}


def corpus_root() -> str:
    return os.path.abspath(
        os.environ.get("DENSECHECK_JAX_CORPUS") or os.path.expanduser("~/.cache/densecheck/jax-corpus")
    )


def materialise() -> str:
    """Check each repository out at its pinned commit (once) and extract Equinox's notebooks; the root."""
    root = corpus_root()
    for name, (url, commit, sub, env) in REPOS.items():
        dest = os.path.join(root, name) if name == "flax" else os.path.join(root, "src", name)
        done = os.path.join(dest, ".densecheck-" + commit)
        if not os.path.exists(done):
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if not os.path.isdir(os.path.join(dest, ".git")):
                subprocess.run(
                    ["git", "clone", "--quiet", "--no-checkout", os.environ.get(env) or url, dest], check=True
                )
            subprocess.run(["git", "-C", dest, "checkout", "--quiet", commit, "--", sub], check=True)
            open(done, "w").close()  # noqa: SIM115 - a marker file
    nb_dir = os.path.join(root, "src", "equinox", "docs", "examples")
    out_dir = os.path.join(root, "equinox", "examples")
    os.makedirs(out_dir, exist_ok=True)
    for f in sorted(os.listdir(nb_dir)):
        if f.endswith(".ipynb"):
            target = os.path.join(out_dir, f[: -len(".ipynb")] + ".py")
            with open(os.path.join(nb_dir, f), encoding="utf-8") as fh, open(target, "w") as out:
                out.write(notebook_models(json.load(fh)))
    return root


def notebook_models(nb: dict) -> str:
    """The model code of a notebook: its code cells' imports, definitions and call-free assignments."""
    kept: list[str] = [f"# extracted by benchmarks/jax_corpus.py from a notebook ({CORPUS} corpus)\n"]
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = "".join(cell.get("source", []))
        src = "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        lines = src.splitlines()
        for st in tree.body:
            keep = isinstance(st, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)) or (
                isinstance(st, (ast.Assign, ast.AnnAssign))
                and st.value is not None
                and not any(isinstance(n, ast.Call) for n in ast.walk(st.value))
            )
            if keep:
                start = min([st.lineno] + [d.lineno for d in getattr(st, "decorator_list", [])])
                kept.append("\n".join(lines[start - 1 : st.end_lineno]) + "\n")
    return "\n\n".join(kept)


def jax_models() -> list[str]:
    return list(JAX_MODELS)


def static_files() -> tuple[list[str], str]:
    root = materialise()
    files = []
    for top in ("flax/examples", "equinox/examples"):
        for d, dirs, fs in os.walk(os.path.join(root, top), followlinks=True):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            files += [os.path.join(d, f) for f in sorted(fs) if f.endswith(".py")]
    return files, root


class _Stub(types.ModuleType):
    """A module the examples import for training only (not installed): any attribute is another stub."""

    def __init__(self, name: str) -> None:
        import importlib.machinery

        super().__init__(name)
        self.__spec__ = importlib.machinery.ModuleSpec(name, None)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Stub(f"{self.__name__}.{name}")

    def __call__(self, *a: Any, **k: Any) -> Any:
        return _Stub(self.__name__ + "()")


def _import_file(path: str) -> types.ModuleType:
    import importlib.util

    for p in (os.path.dirname(path), os.path.dirname(os.path.dirname(path))):
        if p not in sys.path:
            sys.path.insert(0, p)
    name = "_jaxcorpus_" + os.path.splitext(os.path.basename(path))[0]
    for _ in range(12):
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        try:
            spec.loader.exec_module(mod)
            return mod
        except ModuleNotFoundError as e:
            missing = e.name or ""
            if not missing or missing in sys.modules:
                raise
            parts = missing.split(".")
            for i in range(1, len(parts) + 1):
                sys.modules.setdefault(".".join(parts[:i]), _Stub(".".join(parts[:i])))
    raise ImportError(f"cannot import {path}")


def trace_jax(model_id: str) -> dict:
    """One model of :data:`JAX_MODELS`: build it, run it abstractly; its Dense/Linear sites, root-relative."""
    import jax
    import jax.numpy as jnp

    from densecheck.trace.jax_record import jax_sites

    root = corpus_root()
    rel, _, _ = model_id.partition(":")
    entry = JAX_MODELS[model_id]
    path = os.path.join(root, rel)
    with jax_sites() as rec:
        mod = _import_file(path)
        key = jax.random.PRNGKey(0)
        ns = dict(vars(mod), key=key, jax=jax, jnp=jnp)
        model = eval(entry["build"], ns)
        ns["model"] = model
        fn = eval(entry["run"], ns)
        inputs = [jax.ShapeDtypeStruct(s, jnp.dtype(d)) for s, d in entry["inputs"]]
        mode = entry.get("mode", "eval_shape")
        if mode == "eager":
            fn(*(jnp.zeros(s, jnp.dtype(d)) for s, d in entry["inputs"]))
        elif mode == "filter":
            import equinox as eqx

            eqx.filter_eval_shape(fn, *inputs)
        else:
            jax.eval_shape(fn, *inputs)
    sites = []
    for r in rec.results():
        if r.path.startswith("<"):
            continue
        p, base = os.path.realpath(r.path), os.path.realpath(root)
        if not p.startswith(base + os.sep):
            continue
        relp = os.path.relpath(p, base)
        sites.append(
            {
                "path": relp,
                "line": r.line,
                "column": r.column,
                "layer": r.layer,
                "shapes": r.input_shapes,
                "in_features": r.in_features,
                "calls": r.calls,
            }
        )
    return {"id": model_id, "ok": True, "device": "eval_shape", "sites": sites}
