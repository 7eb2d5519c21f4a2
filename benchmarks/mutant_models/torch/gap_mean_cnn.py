# Global average pooling written as a mean over H and W.
# mutants-input: 2x3x48x48
import torch
from torch import nn


class SimpleCNN(nn.Module):
    def __init__(self, n_classes: int = 4):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.Conv2d(64, 128, 3, stride=2, padding=1),
            nn.BatchNorm2d(128),
            nn.ReLU(),
        )
        self.head = nn.Linear(128, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.body(x)
        pooled = feats.mean(dim=(2, 3))
        return self.head(pooled)


model = SimpleCNN()
