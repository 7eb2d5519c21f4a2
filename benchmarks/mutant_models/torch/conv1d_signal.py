# 1-D CNN for time-series classification with an AdaptiveAvgPool1d head.
# mutants-input: 2x3x128
import torch.nn as nn


class SignalNet(nn.Module):
    def __init__(self, channels=3, classes=6):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(channels, 32, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(32, 64, 5, padding=2),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.flatten = nn.Flatten()
        self.out = nn.Linear(64, classes)

    def forward(self, x):
        x = self.net(x)
        x = self.pool(x)
        x = self.flatten(x)
        return self.out(x)


model = SignalNet()
