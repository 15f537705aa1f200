"""Gradient clipping by total norm or by value, in place on each ``.grad``.

The arithmetic follows torch's order (each gradient's norm, then the norm of those norms;
``coef = (1 / (total + 1e-6)) * max_norm`` in the gradients' dtype, clamped at 1) so the
clipped gradients round as torch's do.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Iterable

import numpy as np

from ember import _dtype as D
from ember._tensor import Tensor, _wrap

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_"]


def _vector_norm(a: np.ndarray, p: float) -> np.ndarray:
    """The vector p-norm of all of ``a``'s elements, in ``a``'s dtype."""
    flat = a.reshape(-1)
    with np.errstate(all="ignore"):
        if p == 2.0:
            return np.sqrt(np.dot(flat, flat)) if flat.size else np.zeros((), a.dtype)
        mag = np.abs(flat)
        if p == float("inf"):
            return mag.max() if flat.size else np.zeros((), a.dtype)
        if p == float("-inf"):
            return mag.min() if flat.size else np.array(np.inf, a.dtype)
        if p == 0.0:
            return np.asarray(np.count_nonzero(flat), dtype=a.dtype)
        if p == 1.0:
            return mag.sum(dtype=a.dtype)
        return np.power(np.power(mag, p).sum(dtype=a.dtype), 1.0 / p).astype(a.dtype)


def _total_norm(grads: list[Tensor], norm_type: float, error_if_nonfinite: bool) -> Tensor:
    if not grads:
        return _wrap(np.array(0.0, dtype=np.float32), D.float32)
    norms = [_vector_norm(g._array, norm_type) for g in grads]
    dtype = grads[0]._dtype
    for g in grads[1:]:
        dtype = D.promote_types(dtype, g._dtype)
    stacked = np.array(norms, dtype=dtype.numpy)
    total = np.asarray(_vector_norm(stacked, norm_type), dtype=dtype.numpy)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
            "by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return _wrap(total, dtype)


def _as_list(parameters) -> list:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Scale all gradients together so their total ``norm_type``-norm is at most
    ``max_norm``; returns the total norm before clipping."""
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = _as_list(parameters)
    if is_generator and not parameters:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                      stacklevel=2)
    grads = [p._grad for p in parameters if p._grad is not None]
    total = _total_norm(grads, float(norm_type), error_if_nonfinite)
    if grads:
        t = total._array
        with np.errstate(all="ignore"):
            coef = (np.reciprocal(t + t.dtype.type(1e-6)) * t.dtype.type(float(max_norm)))
        coef = np.minimum(coef, t.dtype.type(1.0)) if not np.isnan(coef) else coef
        for g in grads:
            g._array *= coef.astype(g._array.dtype)
            g._version_counter[0] += 1
    return total


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Deprecated spelling of ``clip_grad_norm_``."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        g = p._grad
        if g is not None:
            np.clip(g._array, -clip_value, clip_value, out=g._array)
            g._version_counter[0] += 1
