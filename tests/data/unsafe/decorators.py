"""Decorators and decorator factories with side effects, applied to a class, a method and a function."""

import sys

from _marker import touch
from torch import nn


def register(name):
    touch(__file__, f"decorators.py: register({name!r}) called")

    def wrap(obj):
        touch(__file__, f"decorators.py: {obj.__name__} decorated")
        raise SystemExit(5)

    return wrap


@register("mlp")
class MLP(nn.Module):
    def __init__(self, d=64):
        super().__init__()
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    @register("forward")
    def forward(self, x):
        return self.fc2(self.fc1(x).relu())


@register("factory")
def make():
    sys.exit("make() ran")
    return MLP()
