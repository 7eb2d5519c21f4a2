"""A package whose import writes the marker."""

from _marker import touch
from torch import nn

touch(__file__, "pkg/__init__.py: package body")


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(128, 128)

    def forward(self, x):
        return self.fc(x)
