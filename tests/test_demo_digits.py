"""The digits demo (part of ``make demo``): trains to >= 95% test accuracy, and the model it
saves reloads to the same predictions; the shipped data set is intact."""

from __future__ import annotations

import numpy as np

from ember.datasets import load_digits
from ember.demo_digits import main


def test_shipped_digits_are_the_uci_test_set():
    images, labels = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert images.max() == 16 and images.min() == 0
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_demo_trains_saves_and_reloads(tmp_path, capsys):
    accuracy = main(str(tmp_path))
    printed = capsys.readouterr().out
    assert accuracy >= 0.95
    assert "reloaded model predicts the same: True" in printed
    assert (tmp_path / "digits_cnn.safetensors").stat().st_size > 0
