# A hand-rolled BERT-style classifier: pooler on the first token, then the classifier.
# mutants-input: int64 2x16
import torch.nn as nn


class Pooler(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.act = nn.Tanh()

    def forward(self, hidden_states):
        first_token_tensor = hidden_states[:, 0]
        return self.act(self.dense(first_token_tensor))


class TinyBert(nn.Module):
    def __init__(self, vocab=3000, hidden=32, layers=2, labels=2):
        super().__init__()
        self.embeddings = nn.Embedding(vocab, hidden)
        block = nn.TransformerEncoderLayer(hidden, 2, 64, batch_first=True)
        self.encoder = nn.TransformerEncoder(block, layers)
        self.pooler = Pooler(hidden)
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(hidden, labels)

    def forward(self, input_ids):
        sequence_output = self.encoder(self.embeddings(input_ids))
        pooled_output = self.pooler(sequence_output)
        return self.classifier(self.dropout(pooled_output))


model = TinyBert()
