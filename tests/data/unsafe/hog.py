"""Trace targets that misbehave when run: one never returns, one eats memory (bounded, 3 GB at most)."""

import time

from _marker import touch
from torch import nn


class Spin(nn.Module):
    def __init__(self):
        super().__init__()
        touch(__file__, "hog.py: Spin built")
        self.fc = nn.Linear(8, 8)
        while True:
            time.sleep(0.05)


class Eat(nn.Module):
    def __init__(self):
        super().__init__()
        touch(__file__, "hog.py: Eat built")
        self.fc = nn.Linear(8, 8)
        hoard = []
        for _ in range(60):  # 50 MB at a time, every page touched, up to 3 GB
            hoard.append(bytearray(b"\x01" * (50 * 2**20)))
            time.sleep(0.05)
        time.sleep(60)
