"""Train a small convolutional network on the 8x8 handwritten digits, in plain PyTorch style.

Run with ``python -m ember.demo_digits [output_dir]``. The program below is what a torch user
would write (``import ember as torch``); it trains for a few epochs with a progress bar,
reports test accuracy, saves the model with ``torch.save``, reloads it into a fresh network,
checks that the predictions agree, and draws the loss curve when matplotlib is installed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import ember as torch
from ember import nn
from ember.datasets import load_digits
from ember.utils.data import DataLoader, TensorDataset, random_split


class DigitsNet(nn.Module):
    """conv(1->16) relu pool, conv(16->32) relu pool, linear(128->10)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(32 * 2 * 2, 10)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def progress(iterable, total: int, description: str):
    """tqdm's bar when tqdm is installed, otherwise a plain one on one line."""
    try:
        from tqdm import tqdm

        yield from tqdm(iterable, total=total, desc=description, leave=True, ncols=80)
        return
    except ImportError:
        pass
    width, shown = 30, -1
    live = sys.stdout.isatty()  # a log file gets one line per epoch, not every redraw
    for i, item in enumerate(iterable, 1):
        yield item
        done = width * i // total
        if live and done != shown or i == total:
            shown = done
            sys.stdout.write(f"\r{description} [{'#' * done}{'.' * (width - done)}] {i}/{total}")
            sys.stdout.flush()
    sys.stdout.write("\n")


def accuracy(model: nn.Module, images, labels) -> float:
    model.eval()
    with torch.no_grad():
        predicted = model(images).argmax(dim=1)
    model.train()
    return (predicted == labels).float().mean().item()


def main(output_dir: str = "demo_output", epochs: int = 8) -> float:
    start = time.perf_counter()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    images, labels = load_digits()
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 16.0  # N x 1 x 8 x 8
    y = torch.tensor(labels, dtype=torch.int64)
    train_set, test_set = random_split(TensorDataset(x, y), [0.8, 0.2])
    test_x = torch.stack([x[i] for i in test_set.indices])
    test_y = torch.stack([y[i] for i in test_set.indices])
    print(f"digits: {len(train_set)} training and {len(test_set)} test images of 8x8 pixels")

    model = DigitsNet()
    print(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(train_set, batch_size=32, shuffle=True)

    losses = []
    for epoch in range(1, epochs + 1):
        total = 0.0
        for batch_x, batch_y in progress(loader, len(loader), f"epoch {epoch}/{epochs}"):
            optimizer.zero_grad()
            loss = loss_fn(model(batch_x), batch_y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())  # .item(): a number, so no graph is kept alive
            total += loss.item() * len(batch_y)
        print(f"  mean loss {total / len(train_set):.4f}, "
              f"test accuracy {accuracy(model, test_x, test_y):.2%}")

    test_accuracy = accuracy(model, test_x, test_y)
    print(f"test accuracy: {test_accuracy:.2%}")

    path = out / "digits_cnn.safetensors"
    torch.save(model.state_dict(), path)
    reloaded = DigitsNet()
    reloaded.load_state_dict(torch.load(path))
    model.eval()
    reloaded.eval()
    with torch.no_grad():
        same = torch.equal(model(test_x).argmax(1), reloaded(test_x).argmax(1))
    print(f"saved to {path} ({path.stat().st_size} bytes); reloaded model predicts the same: "
          f"{same}")
    if not same:
        raise SystemExit("the reloaded model disagrees with the trained one")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(figsize=(6, 3.5))
        axes.plot(np.arange(1, len(losses) + 1), losses, linewidth=0.8)
        axes.set_xlabel("step")
        axes.set_ylabel("cross-entropy loss")
        axes.set_title("DigitsNet on 8x8 digits (ember)")
        figure.tight_layout()
        figure.savefig(out / "loss_curve.png", dpi=100)
        print(f"loss curve written to {out / 'loss_curve.png'}")
    except ImportError:
        print("matplotlib is not installed: no loss-curve PNG (pip install matplotlib)")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return test_accuracy


if __name__ == "__main__":
    main(*sys.argv[1:2])
