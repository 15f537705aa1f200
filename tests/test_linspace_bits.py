"""torch.linspace bit for bit: its CPU kernel computes start + step * i (first half) and
end - step * (steps - 1 - i) (second half) as fused multiply-adds, which decides the last
bit of many values - and so the printed results of tutorials that fit curves on a linspace."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

import ember
from oracle import torch

ends = st.one_of(st.floats(-1e4, 1e4, allow_nan=False, width=64),
                 st.sampled_from([0.0, 1.0, -1.0, math.pi, -math.pi, 0.1, 0.9]))


@settings(max_examples=200, deadline=None)
@given(start=ends, end=ends, steps=st.one_of(st.integers(0, 40), st.integers(41, 5000)),
       dtype=st.sampled_from(["float32", "float64", "int64", "int32"]))
@example(start=1.0, end=1.9558272867194417e-208, steps=12, dtype="float64")  # an fma tie
def test_linspace_matches_torch_bit_for_bit(start, end, steps, dtype):
    t = torch.linspace(start, end, steps, dtype=getattr(torch, dtype)).numpy()
    e = ember.linspace(start, end, steps, dtype=getattr(ember, dtype)).numpy()
    assert t.dtype == e.dtype and t.shape == e.shape
    bad = np.flatnonzero(t != e)
    assert bad.size == 0, f"{bad.size} values differ, e.g. at {bad[:5]}"


def test_the_tutorial_grid():
    """The grid of 'Learning PyTorch with examples' (sin fitted on 2000 points)."""
    t = torch.linspace(-math.pi, math.pi, 2000)
    e = ember.linspace(-math.pi, math.pi, 2000)
    assert t.numpy().tobytes() == e.numpy().tobytes()
