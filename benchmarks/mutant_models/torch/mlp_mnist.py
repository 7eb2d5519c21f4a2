# The very first MNIST model: flatten the image, two hidden layers.
# mutants-input: 2x1x28x28
import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


model = MLP()

if __name__ == "__main__":
    X = torch.rand(1, 28, 28)
    print(model(X).argmax(1))
