"""Tensors, factories and dtype promotion against torch."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ember
from differential import check

DTYPES = ["float16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64", "bool"]


# ----- dtypes and promotion -------------------------------------------------------------------
def test_dtype_aliases_and_repr():
    check(lambda lib: (repr(lib.float), repr(lib.double), repr(lib.long), repr(lib.int),
                       repr(lib.half), repr(lib.short), repr(lib.bool), lib.float is lib.float32,
                       lib.float32.is_floating_point, lib.int64.is_floating_point,
                       lib.get_default_dtype() is lib.float32, lib.float32.itemsize))


@given(st.sampled_from(DTYPES), st.sampled_from(DTYPES))
def test_promote_types(a, b):
    check(lambda lib: repr(lib.promote_types(getattr(lib, a), getattr(lib, b))))


SCALARS = [True, 3, -2, 2.5]


@given(st.sampled_from(DTYPES), st.sampled_from(DTYPES), st.booleans(),
       st.sampled_from(SCALARS))
def test_binary_result_dtype_tensor_zero_dim_and_scalars(a, b, zero_dim, scalar):
    def program(lib):
        x = lib.ones(2, dtype=getattr(lib, a))
        y = lib.ones((), dtype=getattr(lib, b)) if zero_dim else lib.ones(2, dtype=getattr(lib, b))
        return (repr((x * y).dtype), repr((x * scalar).dtype), repr((y * scalar).dtype),
                repr(lib.result_type(x, y)), repr(lib.result_type(x, scalar)))

    check(program)


@given(st.sampled_from(DTYPES), st.sampled_from(DTYPES))
def test_true_division_dtype(a, b):
    def program(lib):
        x = lib.ones(2, dtype=getattr(lib, a))
        y = lib.full((2,), 2, dtype=getattr(lib, b))
        return x / y, x / 2, 2 / y

    check(program)


def test_set_default_dtype():
    def program(lib):
        lib.set_default_dtype(lib.float64)
        try:
            return (lib.tensor([1.0]), lib.arange(3.0), lib.ones(2), repr(lib.get_default_dtype()),
                    lib.tensor([1, 2]) / 2, lib.ones(2, dtype=lib.float32) * 2.5)
        finally:
            lib.set_default_dtype(lib.float32)

    check(program)
    check(lambda lib: lib.set_default_dtype(lib.int64))


# ----- tensor() inference and factories -------------------------------------------------------
@pytest.mark.parametrize("data", [
    0.0, 3, True, [1, 2], [1.0, 2], [[1, 2], [3, 4]], [True, False], [], [[]],
    np.array([1, 2], dtype=np.int32), np.array([1.5], dtype=np.float64),
    np.array(3.0, dtype=np.float16), [np.float64(1.5)],
])
def test_tensor_infers_dtype(data):
    check(lambda lib: lib.tensor(data))


def test_tensor_with_explicit_dtype_and_requires_grad():
    check(lambda lib: lib.tensor([1, 2], dtype=lib.float64, requires_grad=True))
    check(lambda lib: lib.tensor([1.7, -2.2], dtype=lib.int32))


def test_tensor_from_tensors():
    check(lambda lib: lib.tensor([lib.tensor(1.0), lib.tensor(2.0)]))


@pytest.mark.parametrize("args", [(4,), (4.0,), (0, 3), (1, 2, 0.5), (0, 10, 3), (5, 0, -1),
                                  (0.1, 1.0, 0.3), (-3, 3.0)])
def test_arange(args):
    check(lambda lib: lib.arange(*args))


def test_arange_dtype_and_errors():
    check(lambda lib: lib.arange(0, 3, dtype=lib.float64))
    check(lambda lib: lib.arange(0, 3, 0))
    check(lambda lib: lib.arange(0, 3, -1))


@pytest.mark.parametrize("args", [(0, 1, 5), (-1.0, 1.0, 4), (0, 10, 1), (3, 3, 3), (0, 1, 0),
                                  (1, 0, 7)])
def test_linspace(args):
    check(lambda lib: lib.linspace(*args), rtol=0, atol=0)


def test_factories():
    def program(lib):
        return (lib.zeros(2, 3), lib.ones((2,)), lib.zeros([]), lib.full((2, 2), 7),
                lib.full((2,), 1.5), lib.full((1,), True), lib.eye(3), lib.eye(2, 3),
                lib.zeros(2, dtype=lib.int32), lib.ones(2, 2, dtype=lib.bool),
                lib.empty(2, 3).shape, lib.zeros(size=(1, 2)))

    check(program)


def test_like_factories():
    def program(lib):
        x = lib.ones(2, 3, dtype=lib.float64)
        return (lib.zeros_like(x), lib.ones_like(x), lib.full_like(x, 4),
                lib.zeros_like(x, dtype=lib.int32), lib.empty_like(x).shape)

    check(program)


def test_factory_errors():
    check(lambda lib: lib.zeros(-1))
    check(lambda lib: lib.zeros(2, dtype=lib.int64, requires_grad=True))


# ----- tensor attributes and conversions ------------------------------------------------------
def test_metadata():
    def program(lib):
        x = lib.ones(2, 3, 4)
        return (x.shape, x.size(), x.size(1), x.size(-1), x.dim(), x.ndim, x.numel(),
                repr(x.dtype), str(x.device), x.T.shape, len(x), x.is_floating_point(),
                x.shape == (2, 3, 4), repr(x.shape), x.element_size(), x.is_contiguous(),
                x.transpose(0, 1).is_contiguous(), x.stride(), x.permute(2, 0, 1).stride())

    check(program)
    check(lambda lib: lib.ones(2).size(3))


def test_casts():
    def program(lib):
        x = lib.tensor([1.7, -2.5, 0.0])
        return (x.float(), x.double(), x.long(), x.int(), x.bool(), x.half(),
                x.to(lib.float64), x.to(lib.int16), x.to(x), x.type(), x.to("cpu"))

    check(program)


def test_cast_keeps_graph_only_for_floating():
    def program(lib):
        x = lib.tensor([1.5, 2.5], requires_grad=True)
        y = x.double()
        (y * y).sum().backward()
        return y, x.grad, x.long().requires_grad, x.float() is x

    check(program)


def test_clone_and_deepcopy():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * 3).sum().backward()
        c = x.clone()
        d = copy.deepcopy(x)
        d.grad.add_(1)
        return c, d, d.grad, x.grad, d.requires_grad, d.is_leaf

    check(program)
    check(lambda lib: copy.deepcopy(lib.ones(2, requires_grad=True) * 2))


def test_pickle_roundtrip():
    x = ember.tensor([[1.0, 2.0]], dtype=ember.float64, requires_grad=True)
    y = pickle.loads(pickle.dumps(x))
    assert y.tolist() == x.tolist() and y.dtype is ember.float64 and y.requires_grad


def test_as_tensor_shares_memory():
    a = np.ones(3, dtype=np.float32)
    t = ember.as_tensor(a)
    a[0] = 5
    assert t[0].item() == 5
    check(lambda lib: lib.as_tensor([1, 2], dtype=lib.float32))


def test_bool_and_item_errors():
    check(lambda lib: bool(lib.ones(2)))
    check(lambda lib: lib.ones(2).item())
    check(lambda lib: (bool(lib.tensor([0.0])), int(lib.tensor(3.7)), float(lib.tensor([2]))))


def test_iteration_and_indexing_with_tensor_index():
    def program(lib):
        x = lib.arange(6).reshape(2, 3)
        rows = [r for r in x]
        return rows, x[lib.tensor(1)], [1, 2, 3][lib.tensor(2)]

    check(program)


def test_size_object():
    def program(lib):
        s = lib.ones(2, 3).shape
        return repr(s), s[1:], s.numel(), tuple(s), str(s)

    check(program)


# ----- printing real tensors (the formatting rules themselves: test_printing.py) --------------
def test_repr_of_tensors_with_history():
    def program(lib):
        x = lib.tensor([[1.0, 2.5], [3.0, 4.0]], requires_grad=True)
        y = x * 2
        return (repr(x), repr(y), str(y.sum()), repr(y.max(0)), repr(x[0]), repr(x.T),
                repr(lib.arange(4.0)), repr(lib.tensor([1, 2], dtype=lib.int32)),
                repr(lib.zeros(0, 3)), repr(lib.tensor(3.25, dtype=lib.float64)),
                repr(lib.arange(2000.0)), repr(x.detach()), repr(y.data), f"{y.sum():.2f}")

    check(program)


def test_printoptions():
    def program(lib):
        lib.set_printoptions(precision=2)
        try:
            return repr(lib.tensor([1.23456, 2.0])), repr(lib.tensor([1e-5, 1.0]))
        finally:
            lib.set_printoptions(profile="default")

    check(program)


def test_new_factories():
    def program(lib):
        x = lib.ones(2, dtype=lib.float64)
        return (x.new_zeros(3), x.new_ones(1, 2), x.new_full((2,), 3), x.new_tensor([1, 2]),
                x.new_zeros(2, dtype=lib.int32), x.new_empty(4).shape)

    check(program)


def test_comparison_with_non_numbers_and_inner_method():
    check(lambda lib: (lib.ones(2) == "a", lib.ones(2) != None, lib.ones(2) == lib.ones(2)))  # noqa: E711
    check(lambda lib: lib.ones(2) < "a")
    check(lambda lib: lib.ones(2, 3).inner(lib.ones(4, 3)))


@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 4)])
def test_T_deprecation_warning_outside_2d(shape):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        transposed = ember.ones(shape).T
    assert transposed.shape == tuple(reversed(shape))
    assert len(caught) == 1 and caught[0].category is UserWarning
    assert "deprecated" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ember.ones(2, 3).T.shape == (3, 2)
