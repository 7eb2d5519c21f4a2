"""Every name-based guess lives in densecheck/engine/heuristics.py and can be switched off
(``disable-heuristics``): each case here is a model whose Linear rank is known only through one guess. With
the guess on, the static rank equals the rank torch itself sees; with it off, the rank is unknown (never
another one)."""

from __future__ import annotations

import pytest

from densecheck import api
from densecheck.config import ConfigError, Settings, settings_from_table
from densecheck.engine.heuristics import ALL

CASES = {
    # an unknown value named like an integer is a dimension: torch.ones(hidden_size) is 1-d
    "int-names": (
        "import torch\nfrom torch import nn\n\n"
        "def head(hidden_size):\n"
        "    x = torch.ones(hidden_size)\n"
        "    return nn.Linear(hidden_size, 4)(x)\n",
        lambda ns: ns["head"](16),
    ),
    # an unknown attribute named like an activation keeps its input's shape
    "activation-names": (
        "import torch\nfrom torch import nn\n\n"
        "def block(config):\n"
        "    x = config.hidden_act(torch.randn(2, 5, 8))\n"
        "    return nn.Linear(8, 4)(x)\n",
        lambda ns: ns["block"](type("Config", (), {"hidden_act": staticmethod(ns["torch"].relu)})),
    ),
    # an entry point's conventionally named input: input_ids is (batch, tokens) (read here by no layer that
    # would tell its rank, as an Embedding would)
    "entry-inputs": (
        "import torch\nfrom torch import nn\n\n"
        "class TextModel(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(1, 4)\n\n"
        "    def forward(self, input_ids):\n"
        "        return self.fc(input_ids.float().unsqueeze(-1))\n",
        lambda ns: ns["TextModel"]()(ns["torch"].zeros(2, 7, dtype=ns["torch"].long)),
    ),
    # an entry point's input whose docstring gives its shape (Google style, as HF-style model code writes it)
    "docstring-shapes": (
        "import torch\nfrom torch import nn\n\n"
        "class Denoiser(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.proj_in = nn.Linear(16, 32)\n\n"
        "    def forward(self, hidden_states):\n"
        '        """\n'
        "        Args:\n"
        "            hidden_states (`torch.Tensor` of shape `(batch_size, tokens, in_channels)`):\n"
        "                The packed latents.\n"
        '        """\n'
        "        return self.proj_in(hidden_states)\n",
        lambda ns: ns["Denoiser"]()(ns["torch"].randn(2, 9, 16)),
    ),
    # an entry model's constructor argument that defaults to None may be given: the branch it switches on
    # is followed too (here the only one that reaches the Linear with a known rank)
    "optional-settings": (
        "import torch\nfrom torch import nn\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, in_features=None):\n"
        "        super().__init__()\n"
        "        self.proj = nn.Linear(in_features, 4) if in_features is not None else None\n\n"
        "    def forward(self, x):\n"
        "        x = torch.flatten(x, 1)\n"
        "        if self.proj is not None:\n"
        "            x = self.proj(x)\n"
        "        return x\n",
        lambda ns: ns["Net"](12)(ns["torch"].randn(2, 3, 4)),
    ),
    # an attention function the analysis does not follow (one no plugin lists) gives query's axes
    "attention-names": (
        "import torch\nfrom torch import nn\nfrom torch._C._nn import scaled_dot_product_attention\n\n"
        "class Attn(nn.Module):\n"
        "    def __init__(self, dim=16):\n"
        "        super().__init__()\n"
        "        self.out = nn.Linear(dim, dim)\n\n"
        "    def forward(self, x):\n"
        "        b, h, t, d = x.shape\n"
        "        o = scaled_dot_product_attention(x, x, x)\n"
        "        return self.out(o.transpose(1, 2).flatten(2))\n",
        lambda ns: ns["Attn"]()(ns["torch"].randn(2, 2, 5, 8)),
    ),
    # an explicit closing ``:`` names every axis: features[:, 0, :] is a pick from a rank-3 tensor
    "index-rank": (
        "import torch\nfrom torch import nn\n\n"
        "class Head(nn.Module):\n"
        "    def __init__(self, dim=16):\n"
        "        super().__init__()\n"
        "        self.dense = nn.Linear(dim, 4)\n\n"
        "    def forward(self, features):\n"
        "        return self.dense(features[:, 0, :])\n",
        lambda ns: ns["Head"]()(ns["torch"].randn(2, 5, 16)),
    ),
    # a loop over a container of an unknown number of like blocks runs at least once: the convolutions fix the
    # rank of an input that is unknown before the loop
    "nonempty-loops": (
        "import torch\nfrom torch import nn\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, depth):\n"
        "        super().__init__()\n"
        "        self.blocks = nn.ModuleList([nn.Conv2d(3, 3, 3, padding=1) for _ in range(depth)])\n"
        "        self.fc = nn.Linear(3, 4)\n\n"
        "    def forward(self, x):\n"
        "        for blk in self.blocks:\n"
        "            x = blk(x)\n"
        "        return self.fc(x.mean(dim=(2, 3)))\n",
        lambda ns: ns["Net"](2)(ns["torch"].randn(2, 3, 8, 8)),
    ),
}


def test_every_heuristic_has_a_case():
    assert sorted(CASES) == sorted(ALL)


def _rank(source: str, disabled: list[str]) -> int | None:
    settings = Settings(disable_heuristics=disabled)
    (layer,) = [
        lay for lay in api.analyze_source(source, "model.py", settings).layers if lay.layer.endswith("Linear")
    ]
    return layer.input_rank


def _torch_rank(source: str, run) -> int:
    torch = pytest.importorskip("torch")
    seen: list[int] = []
    hook = torch.nn.modules.module.register_module_forward_pre_hook(
        lambda mod, args: seen.append(args[0].dim()) if isinstance(mod, torch.nn.Linear) else None
    )
    try:
        ns: dict = {}
        exec(compile(source, "model.py", "exec"), ns)  # the test's own source: truth from torch
        run(ns)
    finally:
        hook.remove()
    (rank,) = seen
    return rank


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_each_guess_gives_torch_rank_and_can_be_switched_off(name):
    source, run = CASES[name]
    assert _rank(source, []) == _torch_rank(source, run)
    assert _rank(source, [name]) is None
    others = [n for n in ALL if n != name]
    assert _rank(source, others) == _torch_rank(source, run)  # the other guesses play no part in this case


def test_disable_heuristics_is_validated():
    assert settings_from_table(
        {"disable-heuristics": ["int-names"]}, "pyproject.toml"
    ).disable_heuristics == ["int-names"]
    with pytest.raises(ConfigError, match="unknown heuristic 'nope'"):
        settings_from_table({"disable-heuristics": ["nope"]}, "pyproject.toml")
    with pytest.raises(ConfigError, match="array of strings"):
        settings_from_table({"disable-heuristics": "int-names"}, "pyproject.toml")
