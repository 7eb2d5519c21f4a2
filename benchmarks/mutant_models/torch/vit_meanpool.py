# A ViT without a class token: mean over the tokens before the head.
# mutants-input: 2x3x32x32
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.attn(h, h, h)[0]
        return x + self.mlp(self.norm2(x))


class MeanPoolViT(nn.Module):
    def __init__(self, dim=48, depth=2, heads=4, patch=8, num_classes=100):
        super().__init__()
        self.to_patches = nn.Conv2d(3, dim, patch, patch)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, img):
        x = self.to_patches(img).flatten(2).transpose(1, 2)
        for blk in self.blocks:
            x = blk(x)
        x = x.mean(dim=1)
        return self.fc(x)


model = MeanPoolViT()
