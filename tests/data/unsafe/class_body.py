"""Side effects in class bodies, a metaclass and __init_subclass__: all run at import time."""

import os
import signal

from _marker import touch
from torch import nn


class Meta(type(nn.Module)):
    def __new__(mcs, name, bases, ns):
        touch(__file__, f"class_body.py: metaclass builds {name}")
        return super().__new__(mcs, name, bases, ns)


class Base(nn.Module, metaclass=Meta):
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        touch(__file__, f"class_body.py: __init_subclass__ {cls.__name__}")


class Head(Base):
    touch(__file__, "class_body.py: class body")
    width = int(os.environ.get("HEAD_WIDTH", "512"))
    os.kill(os.getpid(), signal.SIGKILL)

    def __init__(self):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(512, 10)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(x)))
