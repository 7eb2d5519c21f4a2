# Multivariate time series: GRU encoder, head on the last step, regression output.
# mutants-input: 2x50x8
import torch.nn as nn


class GRUForecaster(nn.Module):
    def __init__(self, n_features=8, hidden=32, horizon=1):
        super().__init__()
        self.gru = nn.GRU(n_features, hidden, num_layers=2, batch_first=True, dropout=0.1)
        self.head = nn.Sequential(nn.Linear(hidden, 16), nn.ReLU(), nn.Linear(16, horizon))

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out[:, -1])


model = GRUForecaster()
