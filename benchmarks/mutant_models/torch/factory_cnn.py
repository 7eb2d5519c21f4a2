# A factory function returning nn.Sequential, with a separate head.
# mutants-input: 2x1x32x32
import torch.nn as nn


def conv_block(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


def build_model(num_classes=10):
    features = nn.Sequential(conv_block(1, 16), conv_block(16, 32), conv_block(32, 64))
    head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, num_classes))
    return nn.Sequential(features, head)


model = build_model()
