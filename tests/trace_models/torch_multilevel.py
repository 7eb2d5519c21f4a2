"""A multi-level torch model: a Block class used by a Model class, layers built in a helper module, a user
subclass of nn.Linear, LazyLinear, a framework-internal Linear (MultiheadAttention.out_proj) that must not be
reported, a layer built but never called, and a non-ASCII name before a constructor on the same line."""

import torch
from torch import nn

from torch_helpers import make_head, two_on_one_line

INPUT_SHAPE = (2, 3, 8, 8)


class ScaledLinear(nn.Linear):
    def __init__(self, a, b):
        super().__init__(a, b, bias=False)


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.fc1 = nn.Linear(dim, 4 * dim); self.fc2 = ScaledLinear(4 * dim, dim)

    def forward(self, x):
        x = x + self.attn(x, x, x)[0]
        return x + self.fc2(torch.relu(self.fc1(x)))


class Model(nn.Module):
    def __init__(self, dim=16):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 3, padding=1)
        self.blocks = nn.ModuleList([Block(dim) for _ in range(2)])
        self.größe = nn.LazyLinear(8)
        self.pair = two_on_one_line(dim)
        self.head = make_head(dim, 10)
        self.unused = nn.Linear(5, 5)

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2)  # (N, 64, dim): tokens
        for block in self.blocks:
            x = block(x)
        self.größe(x)
        x = self.pair[1](self.pair[0](x))[..., :16]
        return self.head(x.mean(1))


def build():
    return Model()


def example_input():
    return torch.randn(INPUT_SHAPE)
