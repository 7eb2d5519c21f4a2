"""Imports a sibling module and a package whose import writes the marker."""

import evil_helper  # noqa: F401 - importing it is the side effect
from pkg import Layer
from pkg.sub import WIDTH
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Layer()
        self.fc = nn.Linear(WIDTH, 10)

    def forward(self, x):
        return self.fc(self.inner(x))
