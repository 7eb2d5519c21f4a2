# Sentiment classifier: embedding -> LSTM -> last time step -> linear.
# mutants-input: int64 2x20
import torch.nn as nn


class LSTMClassifier(nn.Module):
    def __init__(self, vocab_size=5000, embed_dim=64, hidden_dim=128, num_classes=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, num_classes)

    def forward(self, text):
        embedded = self.embedding(text)
        output, (hidden, cell) = self.lstm(embedded)
        last = output[:, -1, :]
        return self.fc(last)


model = LSTMClassifier()
