# Spectrogram classifier: 2-D convs on (batch, 1, mels, frames), global max pool, fc.
# mutants-input: 2x1x64x100
import torch
import torch.nn as nn
import torch.nn.functional as F


class AudioCNN(nn.Module):
    def __init__(self, n_classes=35):
        super().__init__()
        self.c1 = nn.Conv2d(1, 24, 3, padding=1)
        self.c2 = nn.Conv2d(24, 48, 3, padding=1)
        self.c3 = nn.Conv2d(48, 96, 3, padding=1)
        self.fc = nn.Linear(96, n_classes)

    def forward(self, spec):
        x = F.max_pool2d(F.relu(self.c1(spec)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.relu(self.c3(x))
        x = F.adaptive_max_pool2d(x, (1, 1))
        x = torch.flatten(x, start_dim=1)
        return self.fc(x)


model = AudioCNN()
