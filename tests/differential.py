"""Run one program against torch and ember and compare what comes out.

A program is a function of the library module (``lib``). Its result is reduced to plain
data: tensors become (values, dtype, shape, requires_grad, grad_fn name), exceptions become
(type name, first line of message), containers are reduced element by element.
"""

from __future__ import annotations

import warnings

import numpy as np

import ember
from oracle import torch


def _is_tensor(x) -> bool:
    return isinstance(x, (torch.Tensor, ember.Tensor))


def _grad_fn_name(t):
    fn = t.grad_fn
    if fn is None:
        return None
    return fn.name() if hasattr(fn, "name") else type(fn).__name__


def reduce(x):
    if _is_tensor(x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = np.array(x.detach().numpy() if hasattr(x, "detach") else x, copy=True)
        return ("tensor", values, str(x.dtype), tuple(x.shape), bool(x.requires_grad),
                _grad_fn_name(x))
    if isinstance(x, (list, tuple)):
        return type(x).__name__ if not hasattr(x, "_fields") else "namedtuple", [
            reduce(v) for v in x]
    if isinstance(x, dict):
        return {k: reduce(v) for k, v in x.items()}
    if isinstance(x, (np.generic,)):
        return x.item()
    if hasattr(x, "name") and callable(x.name) and not isinstance(x, type):
        return ("node", x.name())
    if type(x).__name__.endswith("Backward0") or type(x).__name__ in ("AccumulateGrad",):
        return ("node", type(x).__name__)
    return x


def outcome(program, lib):
    try:
        return ("ok", reduce(program(lib)))
    except Exception as e:  # noqa: BLE001 - the exception is the outcome being compared
        return ("raised", type(e).__name__, str(e).split("\n")[0])


def assert_same(a, b, rtol=1e-5, atol=1e-6, path="result"):
    if isinstance(a, tuple) and a and a[0] == "tensor":
        assert isinstance(b, tuple) and b[0] == "tensor", f"{path}: {a} vs {b}"
        _, va, da, sa, ra, fa = a
        _, vb, db, sb, rb, fb = b
        meta_a, meta_b = (da, sa, ra, fa), (db, sb, rb, fb)
        assert meta_a == meta_b, f"{path}: torch {meta_a} vs ember {meta_b}"
        if va.dtype.kind in "fc":
            np.testing.assert_allclose(vb, va, rtol=rtol, atol=atol, equal_nan=True, err_msg=path)
        else:
            np.testing.assert_array_equal(vb, va, err_msg=path)
        return
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{path}: {a} vs {b}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, rtol, atol, f"{path}[{i}]")
        return
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{path}: {a} vs {b}"
        for k in a:
            assert_same(a[k], b[k], rtol, atol, f"{path}[{k!r}]")
        return
    if isinstance(a, float) and isinstance(b, float):
        assert np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True), f"{path}: {a} vs {b}"
        return
    assert a == b, f"{path}: torch {a!r} vs ember {b!r}"


def check(program, rtol=1e-5, atol=1e-6):
    """Assert ``program`` behaves the same under torch and ember; return ember's outcome."""
    expected = outcome(program, torch)
    actual = outcome(program, ember)
    assert_same(expected, actual, rtol, atol)
    return actual
