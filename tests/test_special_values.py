"""Special values (signed zeros, NaN) through max/min-style ops: ``relu(-0.0)`` is ``-0.0``.

torch's clamp with number bounds (relu, hardtanh, ...) keeps the input on a tie; its
tensor-tensor maximum/minimum (and clamp with tensor bounds) keep the first operand in float16
and float32 but the second in float64. Compared with torch bit for bit (NaNs as NaNs),
printing included, through NumPy's scalar and SIMD loops."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from oracle import torch

NEG_NAN = float(np.array([0xFFC00000], dtype=np.uint32).view(np.float32)[0])
VALUES = [-0.0, 0.0, float("nan"), NEG_NAN, -1.0, 2.0, float("-inf"), float("inf"), -1e-45]

PROGRAMS = [
    lambda L, x: L.relu(x),
    lambda L, x: L.nn.functional.relu(x),
    lambda L, x: L.nn.functional.relu6(x),
    lambda L, x: L.nn.functional.hardtanh(x, 0.0, 1.0),
    lambda L, x: L.nn.functional.hardtanh(x, -1.0, 0.0),
    lambda L, x: L.clamp(x, min=0),
    lambda L, x: L.clamp(x, min=-0.0),
    lambda L, x: L.clamp(x, max=-0.0),
    lambda L, x: L.clamp(x, -1, 0),
    lambda L, x: L.clamp_min(x, 0),
    lambda L, x: L.clamp(x, min=L.zeros(len(VALUES), dtype=x.dtype)),
    lambda L, x: L.clamp(x, max=L.zeros(len(VALUES), dtype=x.dtype)),
    lambda L, x: L.maximum(x, L.zeros(len(VALUES), dtype=x.dtype)),
    lambda L, x: L.minimum(x, L.zeros(len(VALUES), dtype=x.dtype)),
    lambda L, x: L.maximum(L.zeros(len(VALUES), dtype=x.dtype), x),
    lambda L, x: L.minimum(L.zeros(len(VALUES), dtype=x.dtype), x),
    lambda L, x: L.maximum(x, L.zeros((), dtype=x.dtype)),
]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("size", [len(VALUES), 4096])  # NumPy's scalar and SIMD loops
@pytest.mark.parametrize("number", range(len(PROGRAMS)))
def test_ties_keep_the_first_operand(number, size, dtype):
    program = PROGRAMS[number]
    values = np.resize(np.array(VALUES), size)

    def run(lib):
        x = lib.tensor(values, dtype=getattr(lib, dtype))
        if size != len(VALUES) and number >= 10:  # the tensor bounds are VALUES-long
            x = x[: len(VALUES)]
        return program(lib, x)

    mine, theirs = run(ember), run(torch)
    bits = {"float16": np.uint16, "float32": np.uint32, "float64": np.uint64}[dtype]
    a, b = mine.numpy(), theirs.numpy()
    nan = np.isnan(b)  # a NaN's sign and payload are not compared
    assert np.array_equal(np.isnan(a), nan)
    assert np.array_equal(a[~nan].view(bits), b[~nan].view(bits))
    assert repr(mine) == repr(theirs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", [len(VALUES), 4096])
def test_relu_gradient_passes_at_nan_and_stops_at_zeros(size, dtype):
    """torch's threshold_backward zeroes the gradient where ``result <= 0``: NaN passes."""
    values = np.resize(np.array(VALUES), size)

    def run(lib):
        x = lib.tensor(values, dtype=getattr(lib, dtype), requires_grad=True)
        lib.relu(x).backward(lib.arange(1.0, size + 1, dtype=x.dtype))
        return x.grad.numpy()

    assert np.array_equal(run(ember), run(torch))
