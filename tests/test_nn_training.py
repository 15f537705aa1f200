"""Whole training programs written as a torch user writes them (model class, loss module,
optimizer, a few steps): under ember they reach torch's losses and weights step for step,
starting from the same seed (so from bit-identical initial weights)."""

from __future__ import annotations

from differential import check


def _cnn_program(lib):
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.pool = nn.MaxPool2d(2)
            self.conv2 = nn.Conv2d(4, 6, 3)
            self.fc1 = nn.Linear(6 * 2 * 2, 16)
            self.drop = nn.Dropout(0.25)
            self.fc2 = nn.Linear(16, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.bn(self.conv1(x))))
            x = F.relu(self.conv2(x))
            x = lib.flatten(x, 1)
            x = self.drop(F.relu(self.fc1(x)))
            return self.fc2(x)

    lib.manual_seed(0)
    net = Net()
    opt = lib.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    x = lib.randn(8, 1, 8, 8)
    y = lib.randint(0, 10, (8,))
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = criterion(net(x), y)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        losses.append(loss.item())
    net.eval()
    with lib.no_grad():
        pred = net(x).argmax(1)
    return losses, pred, [(n, p.detach()) for n, p in net.named_parameters()], \
        list(net.named_buffers())


def test_cnn_training_steps_match_torch():
    check(_cnn_program, rtol=1e-4, atol=1e-5)


def _lstm_program(lib):
    nn = lib.nn

    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(12, 6, padding_idx=0)
            self.lstm = nn.LSTM(6, 8, num_layers=2, batch_first=True, bidirectional=True)
            self.norm = nn.LayerNorm(16)
            self.out = nn.Linear(16, 5)

        def forward(self, tokens):
            h, _ = self.lstm(self.emb(tokens))
            return self.out(self.norm(h))

    lib.manual_seed(1)
    model = Tagger()
    opt = lib.optim.Adam(model.parameters(), lr=0.01)
    tokens = lib.randint(0, 12, (3, 7))
    tags = lib.randint(0, 5, (3, 7))
    losses = []
    for _ in range(4):
        opt.zero_grad()
        logits = model(tokens)
        loss = nn.functional.cross_entropy(logits.reshape(-1, 5), tags.reshape(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [(n, p.detach()) for n, p in model.named_parameters()]


def test_lstm_tagger_training_steps_match_torch():
    check(_lstm_program, rtol=1e-4, atol=1e-5)


def _transformer_program(lib):
    nn = lib.nn
    lib.manual_seed(2)
    # time-major: with batch_first the attention output reaches dropout transposed, and ember's
    # F.dropout does not yet draw a non-contiguous input's mask in torch's (memory) order
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1)
    model = nn.Sequential(nn.Linear(4, 8), nn.TransformerEncoder(layer, 2,
                                                                 enable_nested_tensor=False))
    head = nn.Linear(8, 1)
    opt = lib.optim.AdamW(list(model.parameters()) + list(head.parameters()), lr=0.005)
    x = lib.randn(6, 4, 4)
    target = lib.randn(4, 1)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        pred = head(model(x).mean(0))
        loss = nn.MSELoss()(pred, target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach() for p in head.parameters()]


def test_transformer_training_steps_match_torch():
    check(_transformer_program, rtol=1e-4, atol=1e-5)
