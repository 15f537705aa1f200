"""Differential tests: ember's tensor repr must be byte-identical to torch's.

torch is the oracle: each value is built with NumPy, printed by ember through a small
duck-typed stand-in for the Tensor class, and compared with ``repr(torch.from_numpy(...))``.
"""

from __future__ import annotations

import contextlib
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from ember import _dtype
from ember._tensor_str import get_printoptions, printoptions, set_printoptions, tensor_repr

if os.environ.get("CI") == "true":
    import torch  # in CI a missing oracle must fail loudly, not skip
else:
    torch = pytest.importorskip("torch")

torch.set_num_threads(1)

NUMPY_DTYPES = [
    np.float16,
    np.float32,
    np.float64,
    np.uint8,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.bool_,
]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]
INT_AND_BOOL_DTYPES = [d for d in NUMPY_DTYPES if d not in FLOAT_DTYPES]


class FakeNode:
    """Stands in for an autograd node: only ``name()`` is printed."""

    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name


class FakeTensor:
    """The attributes tensor_repr reads from an ember Tensor."""

    def __init__(self, array: np.ndarray, requires_grad: bool = False, grad_fn=None) -> None:
        self._array = array
        self._dtype = _dtype.from_numpy_dtype(array.dtype)
        self.requires_grad = requires_grad or grad_fn is not None
        self.grad_fn = grad_fn
        self.is_leaf = grad_fn is None


@contextlib.contextmanager
def both_printoptions(**kwargs):
    """Apply the same print options to ember and torch, restoring the defaults after."""
    set_printoptions(**kwargs)
    torch.set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


def torch_repr(array: np.ndarray, mode: str = "plain") -> str:
    """torch's repr; mode "leaf" adds requires_grad, "mul" a MulBackward0 grad_fn."""
    t = torch.from_numpy(np.array(array, order="C", copy=True))
    if mode == "leaf":
        t.requires_grad_()
    elif mode == "mul":
        t = t.requires_grad_() * 1  # exact for floats, so the values print unchanged
    return repr(t)


def ember_repr(array: np.ndarray, mode: str = "plain") -> str:
    if mode == "leaf":
        return tensor_repr(FakeTensor(array, requires_grad=True))
    if mode == "mul":
        return tensor_repr(FakeTensor(array, grad_fn=FakeNode("MulBackward0")))
    return tensor_repr(FakeTensor(array))


def check(array: np.ndarray, mode: str = "plain") -> None:
    assert ember_repr(array, mode) == torch_repr(array, mode)


def check_all_modes(array: np.ndarray) -> None:
    check(array)
    if array.dtype.kind == "f":  # only floating tensors can require grad
        check(array, "leaf")
        check(array, "mul")


# ---------------------------------------------------------------------------------------
# The examples from the brief, checked literally as well as against torch.

LITERAL_EXAMPLES = [
    (np.array(-2.0, np.float32), "plain", "tensor(-2.)"),
    (
        np.array([[0, 0], [1, 2]], np.float32),
        "leaf",
        "tensor([[0., 0.],\n        [1., 2.]], requires_grad=True)",
    ),
    (np.array(0.99999994, np.float32), "plain", "tensor(1.0000)"),
    (
        np.full((2, 2), 4.5, np.float32),
        "plain",
        "tensor([[4.5000, 4.5000],\n        [4.5000, 4.5000]])",
    ),
    (np.ones(4, np.bool_), "plain", "tensor([True, True, True, True])"),
    (np.array(28.0, np.float32), "mul", "tensor(28., grad_fn=<MulBackward0>)"),
    (np.arange(0, 16, 4, dtype=np.float32), "plain", "tensor([ 0.,  4.,  8., 12.])"),
]


@pytest.mark.parametrize(("array", "mode", "text"), LITERAL_EXAMPLES)
def test_literal_examples(array, mode, text):
    assert ember_repr(array, mode) == text
    assert torch_repr(array, mode) == text


# ---------------------------------------------------------------------------------------
# Hand-picked cases.

RNG = np.random.default_rng(0)


def _values(dtype, shape) -> np.ndarray:
    """Small varied values of ``dtype``: signed where the dtype allows it."""
    if dtype is np.bool_:
        return RNG.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return RNG.integers(max(info.min, -200), min(info.max, 200), size=shape, dtype=dtype)
    return (RNG.standard_normal(shape) * 3).astype(dtype)


SHAPES = [(), (1,), (5,), (3, 4), (2, 3, 4), (2, 1, 2, 3), (1, 1, 1, 1, 2)]


@pytest.mark.parametrize("dtype", NUMPY_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_every_dtype_and_rank(dtype, shape):
    check_all_modes(_values(dtype, shape))


@pytest.mark.parametrize("dtype", NUMPY_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0, 4), (3, 0)], ids=str)
def test_empty(dtype, shape):
    check_all_modes(np.zeros(shape, dtype))


@pytest.mark.parametrize("dtype", INT_AND_BOOL_DTYPES, ids=lambda d: np.dtype(d).name)
def test_extreme_integers_and_bools(dtype):
    if dtype is np.bool_:
        check(np.array([True, False, True]))
        check(np.array(False))
    else:
        info = np.iinfo(dtype)
        check(np.array([info.min, 0, info.max, -1 if info.min else 1], dtype))


FLOAT_CASES = {
    "int_valued": [0.0, 4.0, 8.0, 12.0, -100.0],
    "int_valued_large": [1.0, 1e7, 99999999.0],
    "int_valued_sci": [1.0, 1e10],
    "mixed_magnitudes": [0.001, 1.0, 1000.0, 12345.678],
    "spread_just_over_1000": [1.0, 1000.5],
    "spread_exactly_1000": [1.0, 1000.0],
    "small": [1e-5, 2e-5],
    "tiny": [1e-30, -3e-35],
    "huge": [1e30, -5e25],
    "just_below_1e8": [99999999.5, 50000000.25],
    "fractions": [0.5, -0.25, 0.125],
    "rounding": [0.99999, 9.99995, -9.99996],
    "nan_inf": [math.nan, math.inf, -math.inf, 1.5],
    "nan_inf_int": [math.nan, math.inf, -math.inf, 2.0],
    "only_nonfinite": [math.nan, math.inf, -math.inf],
    "zeros": [0.0, -0.0, 0.0],
    "negative_zero_with_values": [-0.0, 1.5, -2.25],
    "negative_zero_int_mode": [-0.0, 3.0],
    "negative_tiny_rounding_to_zero": [-1e-6, 1.0],
}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", sorted(FLOAT_CASES))
def test_float_notations(dtype, name):
    with np.errstate(over="ignore"):
        values = np.array(FLOAT_CASES[name], dtype=dtype)
    check_all_modes(values)
    check_all_modes(values.reshape(1, -1))
    check(values[:1].reshape(()))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_float_limits(dtype):
    info = np.finfo(dtype)
    values = np.array([info.max, info.min, info.tiny, info.smallest_subnormal, info.eps], dtype)
    check_all_modes(values)
    for v in values:
        check(np.array(v, dtype))


@pytest.mark.parametrize(
    "shape",
    [(2000,), (1001,), (40, 40), (3, 1000), (1000, 3), (2, 600), (20, 20, 20), (7, 1, 200)],
    ids=str,
)
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_], ids=lambda d: np.dtype(d).name)
def test_summarisation(shape, dtype):
    check_all_modes(_values(dtype, shape))


def test_summarised_widths_ignore_hidden_values():
    values = np.ones(2000, np.float32)
    values[1000] = 123456.75  # hidden in the "..." gap: must not widen nor force sci mode
    check(values)
    ints = np.ones(2000, np.int64)
    ints[1000] = -(10**15)
    check(ints)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
@pytest.mark.parametrize("length", [5, 20, 21, 30, 100, 300], ids=str)
def test_wrapping_long_rows(dtype, length):
    check_all_modes(_values(dtype, (length,)))
    check_all_modes(_values(dtype, (2, length)))
    check_all_modes(_values(dtype, (2, 2, length)))


def test_suffix_wrapping():
    # A long last line pushes dtype= and grad_fn= onto their own lines.
    for length in range(1, 16):
        check_all_modes(np.linspace(-1, 1, length).astype(np.float64))
        check_all_modes(np.linspace(-1, 1, length).astype(np.float16))
        check_all_modes(np.linspace(-1, 1, 2 * length).astype(np.float16).reshape(2, length))


def test_non_contiguous_views():
    base = _values(np.float32, (4, 6))
    for view in (base.T, base[::2, ::3], base[::-1], base[:, 1], base[1:3, ::-2]):
        check_all_modes(view)


# ---------------------------------------------------------------------------------------
# Print options.


def test_default_printoptions_match_torch():
    assert get_printoptions() == torch._tensor_str.get_printoptions()
    assert list(get_printoptions()) == list(torch._tensor_str.get_printoptions())


@pytest.mark.parametrize(
    "options",
    [
        {"precision": 2},
        {"precision": 0},
        {"precision": 10},
        {"sci_mode": True},
        {"sci_mode": False},
        {"linewidth": 40},
        {"linewidth": 200},
        {"linewidth": 5},
        {"threshold": 5},
        {"threshold": 0},
        {"threshold": 5, "edgeitems": 1},
        {"threshold": 5, "edgeitems": 0},
        {"edgeitems": 0},
        {"profile": "short"},
        {"profile": "full"},
        {"profile": "default"},
        {"profile": "short", "precision": 6},
        {"profile": "no-such-profile"},
    ],
    ids=str,
)
def test_set_printoptions(options):
    arrays_to_print = [
        np.arange(10),
        np.linspace(-3, 3, 30).astype(np.float32),
        np.array([1e-6, 1.0, 1e6]),
        np.array([1.0, 2.0, 3.0]),
        np.array(3.14159265),
        np.arange(2000, dtype=np.float32) / 7,
        _values(np.float32, (40, 40)),
        _values(np.int32, (3, 4, 5)),
        _values(np.float16, (2, 12)),
        np.array([math.nan, math.inf]),
        np.zeros((0, 4)),
    ]
    with both_printoptions(**options):
        assert get_printoptions() == torch._tensor_str.get_printoptions()
        for array in arrays_to_print:
            check_all_modes(array)
    assert get_printoptions() == torch._tensor_str.get_printoptions()


def test_set_printoptions_resets_sci_mode_like_torch():
    with both_printoptions(sci_mode=True):
        set_printoptions(precision=3)
        torch.set_printoptions(precision=3)
        assert get_printoptions() == torch._tensor_str.get_printoptions()
        assert get_printoptions()["sci_mode"] is None


def test_printoptions_context_manager():
    before = get_printoptions()
    with (
        printoptions(precision=2, sci_mode=True),
        torch._tensor_str.printoptions(precision=2, sci_mode=True),
    ):
        assert get_printoptions() == torch._tensor_str.get_printoptions()
        check(np.array([1.5, 2.25]))
    assert get_printoptions() == before

    with pytest.raises(RuntimeError), printoptions(linewidth=10):
        raise RuntimeError
    assert get_printoptions() == before


def test_full_profile_threshold_is_inf():
    with both_printoptions(profile="full"):
        assert get_printoptions()["threshold"] == math.inf
        check(np.arange(1500))


def test_default_dtype_float64():
    old = _dtype.get_default_dtype()
    old_torch = torch.get_default_dtype()
    _dtype.set_default_dtype(_dtype.float64)
    torch.set_default_dtype(torch.float64)
    try:
        for dtype in FLOAT_DTYPES:
            check_all_modes(np.array([1.5, 2.0], dtype))
            check_all_modes(np.zeros((0,), dtype))
    finally:
        _dtype.set_default_dtype(old)
        torch.set_default_dtype(old_torch)


def test_tensor_contents_replaces_the_values():
    t = torch.from_numpy(np.array([1.0, 2.0]))
    fake = FakeTensor(np.array([1.0, 2.0]))
    assert tensor_repr(fake, tensor_contents="[...]") == t.__repr__(tensor_contents="[...]")


# ---------------------------------------------------------------------------------------
# Property tests over shapes, dtypes, values and options.

OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "precision": st.integers(0, 10),
        "threshold": st.integers(0, 60),
        "edgeitems": st.integers(0, 4),
        "linewidth": st.integers(1, 120),
        "sci_mode": st.sampled_from([True, False]),
        "profile": st.sampled_from(["default", "short", "full"]),
    },
)

ANY_ARRAY = arrays(
    dtype=st.sampled_from([np.dtype(d) for d in NUMPY_DTYPES]),
    shape=array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
)

FLOAT_ARRAY = arrays(
    dtype=st.sampled_from([np.dtype(d) for d in FLOAT_DTYPES]),
    shape=array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=8),
)


def _extreme_floats(dtype: np.dtype) -> st.SearchStrategy:
    """Mixtures of huge, tiny, subnormal and non-finite values of one float dtype."""
    info = np.finfo(dtype)
    specials = [0.0, -0.0, math.nan, math.inf, -math.inf, info.max, info.tiny]
    specials += [info.smallest_subnormal, 1e-4, 1e8, 1000.0, 0.5, 1.0, -1.0]
    with np.errstate(over="ignore"):  # 1e8 is inf in float16, which is still a fine case
        specials = [float(dtype.type(v)) for v in specials]
    return st.one_of(st.floats(width=dtype.itemsize * 8), st.sampled_from(specials))


@st.composite
def extreme_float_arrays(draw) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(FLOAT_DTYPES)))
    shape = draw(array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5))
    return draw(arrays(dtype=dtype, shape=shape, elements=_extreme_floats(dtype)))


PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(array=ANY_ARRAY)
def test_property_any_array(array):
    check_all_modes(array)


@PROPERTY_SETTINGS
@given(array=FLOAT_ARRAY)
def test_property_float_arrays(array):
    check_all_modes(array)


@PROPERTY_SETTINGS
@given(array=extreme_float_arrays())
def test_property_extreme_floats(array):
    check_all_modes(array)


@PROPERTY_SETTINGS
@given(array=st.one_of(ANY_ARRAY, extreme_float_arrays()), options=OPTIONS)
def test_property_with_printoptions(array, options):
    with both_printoptions(**options):
        check_all_modes(array)


@PROPERTY_SETTINGS
@given(
    array=arrays(
        dtype=st.sampled_from([np.dtype(np.float32), np.dtype(np.int64)]),
        shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=12),
        elements=st.integers(-(10**6), 10**6),
    ),
    divisor=st.sampled_from([1, 3, 7, 1000, 10**6]),
)
def test_property_int_valued_and_fractions(array, divisor):
    check_all_modes(array)
    if array.dtype.kind == "f":
        check_all_modes(array / np.float32(divisor))
