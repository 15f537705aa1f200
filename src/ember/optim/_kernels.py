"""The in-place array updates optimizers share, written as torch's CPU kernels order them so
that trajectories match torch's to the last bits float32 allows.

Each works on NumPy arrays in place; Python floats combine with float32 arrays in float32,
as torch's scalar arguments do.
"""

from __future__ import annotations

import numpy as np

from ember._tensor import Tensor, _wrap


def lerp_(a: np.ndarray, end: np.ndarray, weight: float) -> None:
    """a <- lerp(a, end, weight), with torch's two-sided formula (exact at both ends)."""
    if abs(weight) < 0.5:
        a += weight * (end - a)
    else:
        np.subtract(end, (end - a) * (1 - weight), out=a)


def addcmul_(a: np.ndarray, t1: np.ndarray, t2: np.ndarray, value: float = 1.0) -> None:
    """a <- a + value * t1 * t2."""
    a += value * t1 * t2


def addcdiv_(a: np.ndarray, t1: np.ndarray, t2: np.ndarray, value: float = 1.0) -> None:
    """a <- a + value * t1 / t2 (the product first, as torch's kernel computes it)."""
    a += value * t1 / t2


def state_tensor(array: np.ndarray, like: Tensor) -> Tensor:
    return _wrap(array, like._dtype)


def zeros_state(p: Tensor) -> Tensor:
    return _wrap(np.zeros_like(p._array), p._dtype)


def step_tensor(value: float = 0.0) -> Tensor:
    """torch keeps ``state['step']`` as a float32 0-dim tensor."""
    from ember import _dtype as D

    return _wrap(np.array(value, dtype=np.float32), D.float32)


def bump(p: Tensor) -> None:
    """An in-place update is a new version of the parameter, as for any in-place op."""
    p._version_counter[0] += 1


def gradient(p: Tensor, maximize: bool) -> np.ndarray:
    grad = p._grad._array
    return -grad if maximize else grad


def check_lr(lr) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def check_betas(betas) -> None:
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")


def check_nonnegative(value, what: str) -> None:
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what} value: {value}")


def scalar(value) -> float:
    return float(value.item()) if isinstance(value, Tensor) else value
