# Embedding network for a siamese setup: conv trunk, flatten, projection to 32-d.
# mutants-input: 2x1x64x64
import torch.nn as nn


class EmbeddingNet(nn.Module):
    def __init__(self, emb_dim=32):
        super().__init__()
        self.convnet = nn.Sequential(
            nn.Conv2d(1, 32, 5),
            nn.PReLU(),
            nn.MaxPool2d(2, stride=2),
            nn.Conv2d(32, 64, 5),
            nn.PReLU(),
            nn.MaxPool2d(2, stride=2),
        )
        self.fc = nn.Sequential(nn.Linear(64 * 13 * 13, 256), nn.PReLU(), nn.Linear(256, emb_dim))

    def forward(self, x):
        output = self.convnet(x)
        output = output.view(output.size()[0], -1)
        return self.fc(output)

    def get_embedding(self, x):
        return self.forward(x)


model = EmbeddingNet()
