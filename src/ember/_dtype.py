"""dtypes and torch's type-promotion rules.

An ember dtype pairs a torch name with the NumPy dtype that stores it. Promotion follows
torch (c10/core/ScalarType.h, ATen's ResultTypeState), which differs from NumPy's in two
places: an integer meets a float -> the float wins unchanged (NumPy would widen int64 +
float32 to float64), and 0-dim tensors and Python scalars only matter when they bring a
higher *category* (bool < integer < floating) than the dimensioned tensors.
"""

from __future__ import annotations

import builtins

import numpy as np

BOOL, INTEGER, FLOATING = 0, 1, 2


class dtype:
    """A tensor element type, e.g. ``ember.float32``."""

    __slots__ = ("name", "numpy", "category", "itemsize", "is_signed", "_legacy_name")

    def __init__(self, name: str, numpy_dtype, category: int, legacy_name: str):
        self.name = name
        self.numpy = np.dtype(numpy_dtype)
        self.category = category
        self.itemsize = self.numpy.itemsize
        self.is_signed = name not in ("uint8", "bool")
        self._legacy_name = legacy_name  # e.g. "FloatTensor", used in error messages

    @property
    def is_floating_point(self) -> bool:
        return self.category == FLOATING

    @property
    def is_complex(self) -> bool:
        return False

    def __repr__(self) -> str:
        # Printed exactly as torch prints it, so programs written for torch show the same text.
        return "torch." + self.name

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))


float16 = dtype("float16", np.float16, FLOATING, "HalfTensor")
float32 = dtype("float32", np.float32, FLOATING, "FloatTensor")
float64 = dtype("float64", np.float64, FLOATING, "DoubleTensor")
uint8 = dtype("uint8", np.uint8, INTEGER, "ByteTensor")
int8 = dtype("int8", np.int8, INTEGER, "CharTensor")
int16 = dtype("int16", np.int16, INTEGER, "ShortTensor")
int32 = dtype("int32", np.int32, INTEGER, "IntTensor")
int64 = dtype("int64", np.int64, INTEGER, "LongTensor")
bool_ = dtype("bool", np.bool_, BOOL, "BoolTensor")

# torch's aliases
half, float, double = float16, float32, float64
short, int, long = int16, int32, int64

ALL_DTYPES = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)


COMPLEX_UNSUPPORTED = (
    "ember does not support complex tensors yet ({what}): complex64/complex128 tensors and "
    "their ops (real, imag, conj, angle, view_as_real, ...) with torch's conjugate-Wirtinger "
    "gradients are not implemented. Work with the real and imaginary parts as real tensors."
)


class ComplexDtype:
    """``ember.complex64`` & co.: named so programs can mention them, but no tensor can have
    one; making a tensor of a complex dtype raises NotImplementedError."""

    __slots__ = ("name",)
    is_complex = True
    is_floating_point = False

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return "torch." + self.name


complex64 = cfloat = ComplexDtype("complex64")
complex128 = cdouble = ComplexDtype("complex128")
complex32 = chalf = ComplexDtype("complex32")
_BY_NUMPY = {d.numpy: d for d in ALL_DTYPES}


def _dtype_by_name(name: str) -> dtype:
    return bool_ if name == "bool" else globals()[name]


def from_numpy_dtype(np_dtype) -> dtype:
    """The ember dtype stored as ``np_dtype``; NumPy types torch lacks raise TypeError."""
    try:
        return _BY_NUMPY[np_dtype]
    except KeyError:
        np_dtype = np.dtype(np_dtype)
        if np_dtype in _BY_NUMPY:
            return _BY_NUMPY[np_dtype]
        if np_dtype.kind == "c":
            raise NotImplementedError(
                COMPLEX_UNSUPPORTED.format(what=f"numpy.{np_dtype}")) from None
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{np_dtype.name}. The only supported types "
            "are: float64, float32, float16, complex64, complex128, int64, int32, int16, int8, "
            "uint64, uint32, uint16, uint8, and bool."
        ) from None


_default_dtype = float32


def get_default_dtype() -> dtype:
    return _default_dtype


def set_default_dtype(d: dtype) -> None:
    global _default_dtype
    if not isinstance(d, dtype) or d.category != FLOATING:
        raise TypeError("only floating-point types are supported as the default type")
    _default_dtype = d


def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the smallest dtype both ``a`` and ``b`` convert to safely."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    return _BY_NUMPY[np.promote_types(a.numpy, b.numpy)]


def scalar_dtype(value) -> dtype:
    """The dtype a Python number takes when wrapped (bool, int64, or the default float)."""
    # builtins.*: this module's own names ``int`` and ``float`` are torch's dtype aliases.
    if isinstance(value, (builtins.bool, np.bool_)):
        return bool_
    if isinstance(value, (builtins.int, np.integer)):
        return int64
    return _default_dtype


def _combine_categories(higher: dtype | None, lower: dtype | None) -> dtype | None:
    # Mirrors ATen's combine_categories: the higher-priority group keeps its dtype unless the
    # lower-priority group brings a higher category.
    if higher is None:
        return lower
    if lower is None or higher.category == FLOATING:
        return higher
    if higher is bool_ or lower.category == FLOATING:
        return promote_types(higher, lower)
    return higher


def result_type(*operands) -> dtype:
    """torch.result_type over tensors and Python scalars."""
    dim_result = zero_result = wrapped_result = None
    for x in operands:
        d = getattr(x, "_dtype", None)
        if d is None:
            d = scalar_dtype(x)
            wrapped_result = d if wrapped_result is None else promote_types(wrapped_result, d)
        elif x._array.ndim == 0:
            zero_result = d if zero_result is None else promote_types(zero_result, d)
        else:
            dim_result = d if dim_result is None else promote_types(dim_result, d)
    return _combine_categories(dim_result, _combine_categories(zero_result, wrapped_result))


def to_dtype(value) -> dtype:
    """Accept an ember dtype, a NumPy dtype or a Python type where torch accepts a dtype."""
    if isinstance(value, dtype):
        return value
    if isinstance(value, ComplexDtype):
        raise NotImplementedError(COMPLEX_UNSUPPORTED.format(what=repr(value)))
    if value is builtins.complex:
        raise NotImplementedError(COMPLEX_UNSUPPORTED.format(what="complex"))
    if value is builtins.float:
        return float64
    if value is builtins.int:
        return int64
    if value is builtins.bool:
        return bool_
    return from_numpy_dtype(np.dtype(value))
