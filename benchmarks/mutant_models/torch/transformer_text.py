# Transformer encoder for text classification, pooled by averaging the tokens.
# mutants-input: int64 2x24
import torch
import torch.nn as nn


class TextTransformer(nn.Module):
    def __init__(self, vocab_size=8000, d_model=64, nhead=4, num_layers=2, num_classes=3, max_len=64):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        enc = nn.TransformerEncoderLayer(d_model, nhead, 128, batch_first=True)
        self.encoder = nn.TransformerEncoder(enc, num_layers)
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, ids):
        positions = torch.arange(ids.size(1), device=ids.device).unsqueeze(0)
        h = self.encoder(self.tok(ids) + self.pos(positions))
        h = torch.mean(h, dim=1)
        return self.classifier(h)


model = TextTransformer()
