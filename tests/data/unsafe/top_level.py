"""Importing this module writes the marker, then exits the interpreter with status 3."""

import os
import sys

import torch
from torch import nn

MARKER = os.environ.get("DENSECHECK_UNSAFE_MARKER") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                     "EXECUTED")
with open(MARKER, "a", encoding="utf-8") as fh:
    fh.write("top_level.py: module body\n")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.fc = nn.Linear(32, 10)  # DC102: mixes along the width of the NCHW map

    def forward(self, x):
        return self.fc(self.conv(x))


model = Net()
out = model(torch.randn(1, 3, 32, 32))
sys.exit(3)
