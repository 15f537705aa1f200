"""Small data sets shipped inside ember, so demos and tests need no download."""

from __future__ import annotations

from pathlib import Path

import numpy as np

_HERE = Path(__file__).parent


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits (see ``DIGITS_SOURCE.md``): images (1797, 8, 8) uint8 with
    values 0..16, and labels (1797,) uint8."""
    with np.load(_HERE / "digits.npz") as archive:
        return archive["images"], archive["labels"]
