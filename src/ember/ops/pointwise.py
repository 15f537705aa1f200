"""Elementwise math beyond the core arithmetic: each op's forward and derivative together.

Unary floating ops (``tan``, ``erf``, ...) compute integer and bool inputs in the default
float dtype, as torch does; the rounding ops keep integer dtypes. ``erf``, ``erfc`` and
``erfinv`` are computed here in NumPy (no SciPy) to float64 accuracy.
"""

from __future__ import annotations

import math

import numpy as np

from ember import _dtype as D
from ember.autograd import forward_ad as _fw
from ember.ops._core import (
    FLOATING,
    Node,
    SavedTensor,
    Tensor,
    _type_name,
    apply_inplace,
    binary_operands,
    edge,
    grad_state,
    new_node,
    set_history,
    wrap,
)
from ember.ops.elementwise import (
    _check_integer_divisor,
    _check_other,
    _check_tensor,
    _inplace,
    _records,
    _RoundedRemainderBackward,
    _sign_array,
    _true_divide_operands,
    _unary,
    _zero_gradient,
    broadcast_error,
    other_requires_grad,
    pow,
)

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _not_implemented_for(kernel: str, dtype: D.dtype) -> NotImplementedError:
    """torch's error for a kernel that has no version for ``dtype``."""
    return NotImplementedError(f'"{kernel}" not implemented for \'{_type_name(dtype)}\'')


def _invalid_arguments(name: str, *args) -> TypeError:
    """torch's first line when no overload of ``name`` takes these argument types."""
    kinds = ", ".join("Tensor" if isinstance(a, Tensor) else type(a).__name__ for a in args)
    return TypeError(
        f"{name}() received an invalid combination of arguments - got ({kinds}), but expected "
        "one of:"
    )


def _alias(target, name: str):
    """``name`` as another spelling of ``target`` (naming itself in a non-tensor error)."""

    def alias(input, *args, **kwargs):
        _check_tensor(input, name)
        return target(input, *args, **kwargs)

    alias.__name__ = name
    alias.__doc__ = f"Another spelling of ``{target.__name__}``."
    return alias


# ----- erf, erfc, erfinv in NumPy ---------------------------------------------------------------
_ERF_SPLIT = 2.0  # below: the power series; above: the continued fraction for erfc


def _erf_series(x: np.ndarray) -> np.ndarray:
    """erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (2n+1)!!: positive terms, so no
    cancellation; 42 terms reach float64 precision for |x| < 2."""
    x2 = x * x
    term = x
    total = x
    for n in range(1, 42):
        term = term * (2.0 / (2 * n + 1)) * x2
        total = total + term
    return _TWO_OVER_SQRT_PI * np.exp(-x2) * total


def _erfc_fraction(x: np.ndarray) -> np.ndarray:
    """erfc(x) for x >= 2 by Laplace's continued fraction, accurate relative to erfc itself
    (1 - erf would lose the digits that matter in the tail)."""
    tail = np.zeros_like(x)
    for k in range(40, 0, -1):
        tail = (0.5 * k) / (x + tail)
    return np.exp(-x * x) / (math.sqrt(math.pi) * (x + tail))


def _erf64(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    with np.errstate(all="ignore"):
        small = np.abs(x) < _ERF_SPLIT
        out[small] = _erf_series(x[small])
        big = x[~small]
        out[~small] = np.copysign(1.0 - _erfc_fraction(np.abs(big)), big)
    return out


def _erfc64(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    with np.errstate(all="ignore"):
        small = np.abs(x) < _ERF_SPLIT
        out[small] = 1.0 - _erf_series(x[small])
        big = x[~small]
        tail = _erfc_fraction(np.abs(big))
        out[~small] = np.where(big < 0, 2.0 - tail, tail)
    return out


def _erfinv64(y: np.ndarray) -> np.ndarray:
    """Winitzki's closed form as the start, then Halley steps on erf (on erfc near +-1,
    where 1 - |y| is exact and erf's own rounding would dominate)."""
    ay = np.abs(y)
    with np.errstate(all="ignore"):
        log_term = np.log((1.0 - ay) * (1.0 + ay))
        t = 2.0 / (math.pi * 0.147) + 0.5 * log_term
        inside = ay < 1
        x = np.where(inside, np.sqrt(np.sqrt(t * t - log_term / 0.147) - t), 0.0)
        q = 1.0 - ay
        near_one = ay >= 0.5
        for _ in range(3):
            residual = np.where(near_one, q - _erfc64(x), _erf64(x) - ay)
            step = residual / (_TWO_OVER_SQRT_PI * np.exp(-x * x))
            x = x - step / (1.0 + x * step)
        out = np.where(inside, x, np.where(ay == 1, np.inf, np.nan))
    return np.copysign(out, y)


def _in_float64(function):
    """Run a float64 kernel on an array of any float dtype, giving that dtype back."""

    def run(a: np.ndarray) -> np.ndarray:
        result = function(np.asarray(a, dtype=np.float64))
        return result if a.dtype == np.float64 else result.astype(a.dtype)

    return run


erf_array = _in_float64(_erf64)
erfc_array = _in_float64(_erfc64)
erfinv_array = _in_float64(_erfinv64)


# ----- unary floating ops ---------------------------------------------------------------------
class RsqrtBackward0(Node):
    """1 / sqrt(self): -grad * result**3 / 2."""

    __slots__ = ("result",)
    _saved_fields = ("result",)

    def backward(self, grad, xp):
        result = xp.saved_output(self.result, self)
        return (-0.5 * grad * (result * result * result),)


def _rsqrt_array(a: np.ndarray) -> np.ndarray:
    return np.reciprocal(np.sqrt(a))


def rsqrt(input: Tensor) -> Tensor:
    return _unary(input, _rsqrt_array, RsqrtBackward0, "result")


def square(input: Tensor) -> Tensor:
    """self ** 2 (torch records PowBackward0; bool squares to int64)."""
    _check_tensor(input, "square")
    if input._dtype is D.bool_:
        from ember.ops.elementwise import to_dtype

        input = to_dtype(input, D.int64)
    return pow(input, 2)


class Exp2Backward0(Node):
    """2 ** self: grad * result * ln 2."""

    __slots__ = ("result",)
    _saved_fields = ("result",)

    def backward(self, grad, xp):
        return (grad * xp.saved_output(self.result, self) * _LN2,)


def exp2(input: Tensor) -> Tensor:
    return _unary(input, np.exp2, Exp2Backward0, "result")


class Expm1Backward0(Node):
    """exp(self) - 1: grad * (result + 1)."""

    __slots__ = ("result",)
    _saved_fields = ("result",)

    def backward(self, grad, xp):
        return (grad * (xp.saved_output(self.result, self) + 1),)


def expm1(input: Tensor) -> Tensor:
    return _unary(input, np.expm1, Expm1Backward0, "result")


class Log2Backward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (grad / (xp.saved(self.self_) * _LN2),)


def log2(input: Tensor) -> Tensor:
    return _unary(input, np.log2, Log2Backward0, "self_")


class Log10Backward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (grad / (xp.saved(self.self_) * _LN10),)


def log10(input: Tensor) -> Tensor:
    return _unary(input, np.log10, Log10Backward0, "self_")


class Log1PBackward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (grad / (xp.saved(self.self_) + 1),)


def log1p(input: Tensor) -> Tensor:
    return _unary(input, np.log1p, Log1PBackward0, "self_")


class TanBackward0(Node):
    """tan: grad * (1 + result**2)."""

    __slots__ = ("result",)
    _saved_fields = ("result",)

    def backward(self, grad, xp):
        result = xp.saved_output(self.result, self)
        return (grad * (1 + result * result),)


def tan(input: Tensor) -> Tensor:
    return _unary(input, np.tan, TanBackward0, "result")


class AsinBackward0(Node):
    """asin: grad / sqrt(1 - self**2)."""

    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        return (grad / xp.sqrt(-self_ * self_ + 1),)


def asin(input: Tensor) -> Tensor:
    return _unary(input, np.arcsin, AsinBackward0, "self_")


class AcosBackward0(Node):
    """acos: -grad / sqrt(1 - self**2)."""

    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        return (-grad / xp.sqrt(-self_ * self_ + 1),)


def acos(input: Tensor) -> Tensor:
    return _unary(input, np.arccos, AcosBackward0, "self_")


class AtanBackward0(Node):
    """atan: grad / (self**2 + 1)."""

    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        return (grad / (self_ * self_ + 1),)


def atan(input: Tensor) -> Tensor:
    return _unary(input, np.arctan, AtanBackward0, "self_")


class SinhBackward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (grad * xp.cosh(xp.saved(self.self_)),)


def sinh(input: Tensor) -> Tensor:
    return _unary(input, np.sinh, SinhBackward0, "self_")


class CoshBackward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (grad * xp.sinh(xp.saved(self.self_)),)


def cosh(input: Tensor) -> Tensor:
    return _unary(input, np.cosh, CoshBackward0, "self_")


class AsinhBackward0(Node):
    """asinh: grad / sqrt(self**2 + 1)."""

    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        return (grad / xp.sqrt(self_ * self_ + 1),)


def asinh(input: Tensor) -> Tensor:
    return _unary(input, np.arcsinh, AsinhBackward0, "self_")


class AcoshBackward0(Node):
    """acosh: grad / sqrt(self**2 - 1)."""

    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        return (grad / xp.sqrt(self_ * self_ - 1),)


def acosh(input: Tensor) -> Tensor:
    return _unary(input, np.arccosh, AcoshBackward0, "self_")


class AtanhBackward0(Node):
    """atanh: grad / (1 - self**2)."""

    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        return (grad / (1 - self_ * self_),)


def atanh(input: Tensor) -> Tensor:
    return _unary(input, np.arctanh, AtanhBackward0, "self_")


class ErfBackward0(Node):
    """erf: grad * 2/sqrt(pi) * exp(-self**2)."""

    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        return (grad * (_TWO_OVER_SQRT_PI * xp.exp(-(self_ * self_))),)


def erf(input: Tensor) -> Tensor:
    return _unary(input, erf_array, ErfBackward0, "self_")


class ErfcBackward0(Node):
    """erfc: -grad * 2/sqrt(pi) * exp(-self**2)."""

    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        return (grad * (-_TWO_OVER_SQRT_PI * xp.exp(-(self_ * self_))),)


def erfc(input: Tensor) -> Tensor:
    return _unary(input, erfc_array, ErfcBackward0, "self_")


class ErfinvBackward0(Node):
    """erfinv: grad * sqrt(pi)/2 * exp(erfinv(self)**2) (torch saves self, recomputes)."""

    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        value = erfinv_array(self_) if isinstance(self_, np.ndarray) else erfinv(self_)
        return (grad * (0.5 * math.sqrt(math.pi) * xp.exp(value * value)),)


def erfinv(input: Tensor) -> Tensor:
    return _unary(input, erfinv_array, ErfinvBackward0, "self_")


class Deg2RadBackward0(Node):
    __slots__ = ()

    def backward(self, grad, xp):
        return (grad * (math.pi / 180),)


def _deg2rad_array(a: np.ndarray) -> np.ndarray:
    return a * a.dtype.type(math.pi / 180)


def deg2rad(input: Tensor) -> Tensor:
    return _unary(input, _deg2rad_array, Deg2RadBackward0, None)


class Rad2DegBackward0(Node):
    __slots__ = ()

    def backward(self, grad, xp):
        return (grad * (180 / math.pi),)


def _rad2deg_array(a: np.ndarray) -> np.ndarray:
    return a * a.dtype.type(180 / math.pi)


def rad2deg(input: Tensor) -> Tensor:
    return _unary(input, _rad2deg_array, Rad2DegBackward0, None)


class SgnBackward0(Node):
    """sgn of a real tensor: piecewise constant (see _zero_gradient). torch's formula names
    self and result, so they are saved (and a second backward fails as there)."""

    __slots__ = ("self_", "result")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        xp.saved(self.self_)
        xp.saved_output(self.result, self)
        return (_zero_gradient(grad, xp),)


def sgn(input: Tensor) -> Tensor:
    _check_tensor(input, "sgn")
    if input._dtype is D.bool_:
        return wrap(input._array.copy(), D.bool_)
    out = _unary(input, _sign_array, SgnBackward0, "self_", floating=False)
    node = out.grad_fn
    if node is None and _fw._state.active:  # a forward-only result keeps its node hidden
        node = _fw.history(out)[0]
    if node.__class__ is SgnBackward0:
        node.result = SavedTensor(out, is_output=True)
    return out


# ----- rounding -------------------------------------------------------------------------------
class CeilBackward0(Node):
    __slots__ = ()

    def backward(self, grad, xp):
        return (xp.zeros_like(grad),)


class RoundBackward0(CeilBackward0):
    __slots__ = ()


class RoundBackward1(CeilBackward0):
    __slots__ = ()


class TruncBackward0(CeilBackward0):
    __slots__ = ()


def _rounding(input: Tensor, name: str, function, node_cls) -> Tensor:
    """floor/ceil/round/trunc: integers come back unchanged (as copies), bools are refused."""
    _check_tensor(input, name)
    dtype = input._dtype
    if dtype is D.bool_:
        raise _not_implemented_for(f"{name}_vml_cpu", dtype)
    if dtype.category != FLOATING:
        return wrap(input._array.copy(), dtype)
    return _unary(input, function, node_cls, None, floating=False)


def ceil(input: Tensor) -> Tensor:
    return _rounding(input, "ceil", np.ceil, CeilBackward0)


def trunc(input: Tensor) -> Tensor:
    return _rounding(input, "trunc", np.trunc, TruncBackward0)


def fix(input: Tensor) -> Tensor:
    _check_tensor(input, "fix")
    return trunc(input)


_NO_DECIMALS = object()


def round(input: Tensor, *args, decimals: int = _NO_DECIMALS) -> Tensor:  # noqa: A001
    """Round half to even; with ``decimals``, scale by 10**decimals first, as torch does in the
    input's own precision (so float32 results carry float32 rounding)."""
    if args:  # decimals is keyword-only in torch
        raise _invalid_arguments("round", input, *args)
    if decimals is _NO_DECIMALS:
        return _rounding(input, "round", np.rint, RoundBackward0)
    _check_tensor(input, "round")
    dtype = input._dtype
    if dtype.category != FLOATING:
        kernel = "round_vml_cpu" if decimals == 0 else "round_cpu"
        raise _not_implemented_for(kernel, dtype)
    if decimals == 0:
        function = np.rint
    else:
        def function(a: np.ndarray) -> np.ndarray:
            scale = a.dtype.type(10.0 ** abs(decimals))
            if decimals > 0:
                return np.rint(a * scale) / scale
            return np.rint(a / scale) * scale

    with np.errstate(all="ignore"):
        return _unary(input, function, RoundBackward1, None, floating=False)


class FracBackward0(Node):
    """self - trunc(self): the gradient passes through."""

    __slots__ = ()

    def backward(self, grad, xp):
        return (grad,)


def _frac_array(a: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, as in torch
        return a - np.trunc(a)


def frac(input: Tensor) -> Tensor:
    _check_tensor(input, "frac")
    if input._dtype.category != FLOATING:
        raise _not_implemented_for("frac_cpu", input._dtype)
    return _unary(input, _frac_array, FracBackward0, None, floating=False)


# ----- classification -------------------------------------------------------------------------
def _classify(name: str, function):
    def classify(input: Tensor) -> Tensor:
        _check_tensor(input, name)
        a = input._array
        if input._dtype.category != FLOATING:
            return wrap(np.full(a.shape, name == "isfinite"), D.bool_)
        return wrap(np.asarray(function(a)), D.bool_)

    classify.__name__ = name
    classify.__doc__ = f"Elementwise ``{name}`` (integers are finite, never infinite)."
    return classify


isinf = _classify("isinf", np.isinf)
isfinite = _classify("isfinite", np.isfinite)
isposinf = _classify("isposinf", np.isposinf)
isneginf = _classify("isneginf", np.isneginf)


class NanToNumBackward0(Node):
    """The gradient passes where self was finite."""

    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (grad * xp.isfinite(xp.saved(self.self_)),)


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """NaN to ``nan``, infinities to ``posinf``/``neginf`` (default: the dtype's extremes)."""
    _check_tensor(input, "nan_to_num")
    dtype = input._dtype
    if dtype.category != FLOATING:
        return wrap(input._array.copy(), dtype)
    array = np.nan_to_num(input._array, nan=nan, posinf=posinf, neginf=neginf)
    out = wrap(np.asarray(array, dtype=dtype.numpy), dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(NanToNumBackward0, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        set_history(out, node)
    return out


# ----- comparisons of whole tensors -----------------------------------------------------------
def _check_same_dtype(input: Tensor, other: Tensor) -> None:
    if input._dtype is not other._dtype:
        raise RuntimeError(
            f"{_type_name(input._dtype)} did not match {_type_name(other._dtype)}"
        )


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other|, elementwise; equal values (infinities too)
    are always close."""
    _check_tensor(input, "isclose")
    _check_other(other, "isclose")
    _check_same_dtype(input, other)
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol:g}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol:g}")
    a, b = input._array, other._array
    try:
        close = np.equal(a, b)
    except ValueError:
        raise broadcast_error(input, other) from None
    floating = input._dtype.category == FLOATING
    if equal_nan and floating:
        close |= np.isnan(a) & np.isnan(b)
    if rtol != 0 or atol != 0:
        if not floating:  # the tolerances are real numbers: compare in the default float dtype
            dtype = D.get_default_dtype().numpy
            a, b = a.astype(dtype), b.astype(dtype)
        with np.errstate(all="ignore"):
            allowed = atol + np.abs(rtol * b)
            actual = np.abs(a - b)
            close |= np.isfinite(actual) & (actual <= allowed)
    return wrap(np.asarray(close), D.bool_)


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    _check_tensor(input, "allclose")
    _check_other(other, "allclose")
    return bool(np.all(isclose(input, other, rtol, atol, equal_nan)._array))


def equal(input: Tensor, other: Tensor) -> bool:
    """Same shape and the same values (after promotion); NaN equals nothing."""
    _check_tensor(input, "equal")
    _check_other(other, "equal")
    if input._array.shape != other._array.shape:
        return False
    return bool(np.array_equal(input._array, other._array))


# ----- binary ops -----------------------------------------------------------------------------
class FmodBackward0(Node):
    """fmod with a number: the gradient passes to self."""

    __slots__ = ()

    def backward(self, grad, xp):
        return (grad,)


class FmodBackward1(_RoundedRemainderBackward):
    __slots__ = ()
    rounding = "trunc"


def fmod(input, other) -> Tensor:
    """The remainder of division rounded toward zero (the sign of the dividend)."""
    if not isinstance(input, Tensor):
        raise _invalid_arguments("fmod", input, other)
    a, b, dtype = binary_operands(input, other)
    if dtype is D.bool_:
        raise _not_implemented_for("fmod_cpu", dtype)
    _check_integer_divisor(a, b, dtype)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = wrap(np.asarray(np.fmod(a, b), dtype=dtype.numpy), dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    if _records(input, other):
        if not isinstance(other, Tensor):
            set_history(out, new_node(FmodBackward0, (edge(input),), out._array))
            return out
        node = new_node(FmodBackward1, (edge(input), edge(other)), out._array)
        node.self_ = node.other = None
        if other._requires_grad:
            node.self_, node.other = SavedTensor(input), SavedTensor(other)
        set_history(out, node)
    return out


def _float_pair(input: Tensor, other: Tensor, name: str, floating_only: bool = False):
    """Both operands promoted; integer results compute in the default float dtype, unless
    the kernel has no integer version (``floating_only``)."""
    _check_tensor(input, name)
    _check_other(other, name)
    if floating_only:
        dtype = D.result_type(input, other)
        if dtype.category != FLOATING:
            raise _not_implemented_for(f"{name}_cpu", dtype)
    return _true_divide_operands(input, other)


class Atan2Backward0(Node):
    """atan2(self, other): grad * other / r2 and -grad * self / r2, r2 = self**2 + other**2."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        self_, other = xp.saved(self.self_), xp.saved(self.other)
        if self.needs_input_grad(1) and _is_bool(self_):
            raise RuntimeError(_BOOL_NEGATION)
        squares = self_ * self_ + other * other
        # at the origin torch takes a zero gradient (not 0 * inf)
        recip = xp.where(squares == 0, 0.0, 1 / squares)
        return (
            grad * other * recip if self.needs_input_grad(0) else None,
            grad * -self_ * recip if self.needs_input_grad(1) else None,
        )


_BOOL_NEGATION = (
    "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
    "invert a mask, use the `~` or `logical_not()` operator instead."
)
_BOOL_SUBTRACTION = (
    "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
    "to invert a mask, use the `~` or `logical_not()` operator instead."
)


def _is_bool(value) -> bool:
    """A bool operand, in either formula world (torch's formulas then fail on ``-``)."""
    dtype = getattr(value, "_dtype", None)
    if dtype is not None:
        return dtype is D.bool_
    return getattr(value, "dtype", None) == np.bool_


def atan2(input: Tensor, other: Tensor) -> Tensor:
    a, b, dtype = _float_pair(input, other, "atan2")
    try:
        out = wrap(np.asarray(np.arctan2(a, b), dtype=dtype.numpy), dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    if _records(input, other):
        node = new_node(Atan2Backward0, (edge(input), edge(other)), out._array)
        node.self_, node.other = SavedTensor(input), SavedTensor(other)
        set_history(out, node)
    return out


class HypotBackward0(Node):
    """sqrt(self**2 + other**2): grad * self / result, grad * other / result."""

    __slots__ = ("self_", "other", "result")
    _saved_fields = ("self_", "other", "result")

    def backward(self, grad, xp):
        result = xp.saved_output(self.result, self)
        return (
            grad * xp.saved(self.self_) / result if self.needs_input_grad(0) else None,
            grad * xp.saved(self.other) / result if self.needs_input_grad(1) else None,
        )


def hypot(input: Tensor, other: Tensor) -> Tensor:
    a, b, dtype = _float_pair(input, other, "hypot", floating_only=True)
    try:
        out = wrap(np.asarray(np.hypot(a, b), dtype=dtype.numpy), dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    if _records(input, other):
        node = new_node(HypotBackward0, (edge(input), edge(other)), out._array)
        node.self_, node.other = SavedTensor(input), SavedTensor(other)
        node.result = SavedTensor(out, is_output=True)
        set_history(out, node)
    return out


class LogaddexpBackward0(Node):
    """log(exp(self) + exp(other)): grad / (1 + exp(other - self)) and symmetrically."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        self_, other = xp.saved(self.self_), xp.saved(self.other)
        if _is_bool(self_) or _is_bool(other):
            raise RuntimeError(_BOOL_SUBTRACTION)
        return (
            grad / (1 + xp.exp(other - self_)) if self.needs_input_grad(0) else None,
            grad / (1 + xp.exp(self_ - other)) if self.needs_input_grad(1) else None,
        )


class Logaddexp2Backward0(Node):
    """log2(2**self + 2**other): grad / (1 + 2**(other - self)) and symmetrically."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        self_, other = xp.saved(self.self_), xp.saved(self.other)
        if _is_bool(self_) or _is_bool(other):
            raise RuntimeError(_BOOL_SUBTRACTION)
        return (
            grad / (1 + 2 ** (other - self_)) if self.needs_input_grad(0) else None,
            grad / (1 + 2 ** (self_ - other)) if self.needs_input_grad(1) else None,
        )


def _logaddexp(input, other, name, function, node_cls) -> Tensor:
    a, b, dtype = _float_pair(input, other, name, floating_only=True)
    try:
        with np.errstate(all="ignore"):
            out = wrap(np.asarray(function(a, b), dtype=dtype.numpy), dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    if _records(input, other):
        node = new_node(node_cls, (edge(input), edge(other)), out._array)
        node.self_, node.other = SavedTensor(input), SavedTensor(other)
        set_history(out, node)
    return out


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    return _logaddexp(input, other, "logaddexp", np.logaddexp, LogaddexpBackward0)


def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    return _logaddexp(input, other, "logaddexp2", np.logaddexp2, Logaddexp2Backward0)


def _xlogy_values(x, y):
    """x * log(y), 0 where x == 0 (unless y is NaN), in both formula worlds."""
    if isinstance(x, Tensor) or isinstance(y, Tensor):
        from ember.ops.elementwise import isnan, log, where

        y_t = y if isinstance(y, Tensor) else wrap(np.asarray(y), D.float64)
        value = where(x == 0, 0.0, x * log(y_t))
        return where(isnan(y_t), float("nan"), value)
    with np.errstate(all="ignore"):
        return np.where(np.isnan(y), np.nan, np.where(x == 0, 0.0, x * np.log(y)))


class XlogyBackward0(Node):
    """self * log(other): xlogy(grad, other) (0 where self == 0 and other <= 0), and
    grad * self / other."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        self_, other = xp.saved(self.self_), xp.saved(self.other)
        return (
            xp.where((self_ == 0) & (other <= 0), 0.0, _xlogy_values(grad, other))
            if self.needs_input_grad(0) else None,
            grad * self_ / other if self.needs_input_grad(1) else None,
        )


class XlogyBackward1(Node):
    """number * log(other): grad * self / other."""

    __slots__ = ("self_", "other")
    _saved_fields = ("other",)

    def backward(self, grad, xp):
        return (grad * self.self_ / xp.saved(self.other),)


class XlogyBackward2(Node):
    """self * log(number)."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        value = _xlogy_values(grad, self.other)
        if self.other > 0:
            return (value,)
        return (xp.where(xp.saved(self.self_) == 0, 0.0, value),)


def xlogy(input, other) -> Tensor:
    """input * log(other), with 0 where input == 0 (unless other is NaN)."""
    if isinstance(input, Tensor):
        a, b, dtype = _true_divide_operands(input, other)
    elif isinstance(other, Tensor):
        b, a, dtype = _true_divide_operands(other, input)
    else:
        raise _invalid_arguments("xlogy", input, other)
    try:
        array = _xlogy_values(a, b)
    except ValueError:
        raise broadcast_error(input, other) from None
    out = wrap(np.asarray(array, dtype=dtype.numpy), dtype)
    if _records(input, other) if isinstance(input, Tensor) else _records(other, None):
        if not isinstance(input, Tensor):
            node = new_node(XlogyBackward1, (edge(other),), out._array)
            node.self_, node.other = input, SavedTensor(other)
        elif not isinstance(other, Tensor):
            node = new_node(XlogyBackward2, (edge(input),), out._array)
            node.self_, node.other = SavedTensor(input), other
        else:
            node = new_node(XlogyBackward0, (edge(input), edge(other)), out._array)
            node.self_, node.other = SavedTensor(input), SavedTensor(other)
        set_history(out, node)
    return out


class CopysignBackward0(Node):
    """|self| with other's sign: grad * result / self (0 where self == 0); none to other."""

    __slots__ = ("self_", "result")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        grad_self = None
        if self.needs_input_grad(0):
            self_ = xp.saved(self.self_)
            ratio = xp.saved_output(self.result, self) / self_
            grad_self = grad * xp.where(self_ == 0, 0.0, ratio)
        return grad_self, (xp.zeros_like(grad) if self.needs_input_grad(1) else None)


class CopysignBackward1(Node):
    """copysign with a number."""

    __slots__ = ("self_", "result")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        ratio = xp.saved_output(self.result, self) / self_
        return (grad * xp.where(self_ == 0, 0.0, ratio),)


def copysign(input: Tensor, other) -> Tensor:
    if not isinstance(input, Tensor):
        raise _invalid_arguments("copysign", input, other)
    a, b, dtype = _true_divide_operands(input, other)
    try:
        out = wrap(np.asarray(np.copysign(a, b), dtype=dtype.numpy), dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    if _records(input, other):
        if isinstance(other, Tensor):
            node = new_node(CopysignBackward0, (edge(input), edge(other)), out._array)
        else:
            node = new_node(CopysignBackward1, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.result = SavedTensor(out, is_output=True)
        set_history(out, node)
    return out


def float_power(input, exponent) -> Tensor:
    """pow computed in float64 (torch casts both operands first, so float32 inputs get a
    ToCopyBackward0 below the PowBackward node)."""
    from ember.ops.elementwise import to_dtype

    if isinstance(input, Tensor):
        base = to_dtype(input, D.float64)
        if isinstance(exponent, Tensor):
            return pow(base, to_dtype(exponent, D.float64))
        return pow(base, float(exponent))
    if isinstance(exponent, Tensor):
        return pow(float(input), to_dtype(exponent, D.float64))
    raise _invalid_arguments("float_power", input, exponent)


class LerpBackward0(Node):
    """self + weight * (end - self), weight a number."""

    __slots__ = ("weight",)

    def backward(self, grad, xp):
        weight = self.weight
        return (
            grad * (1 - weight) if self.needs_input_grad(0) else None,
            grad * weight if self.needs_input_grad(1) else None,
        )


class LerpBackward1(Node):
    """self + weight * (end - self), weight a tensor."""

    __slots__ = ("self_", "end", "weight")
    _saved_fields = ("self_", "end", "weight")

    def backward(self, grad, xp):
        weight = xp.saved(self.weight)
        grad_weight = None
        if self.needs_input_grad(2):
            grad_weight = grad * (xp.saved(self.end) - xp.saved(self.self_))
        return (
            grad * (1 - weight) if self.needs_input_grad(0) else None,
            grad * weight if self.needs_input_grad(1) else None,
            grad_weight,
        )


def _lerp_array(a, b, w):
    """torch's two-sided form: exact at both ends (w = 0 gives a, w = 1 gives b)."""
    diff = b - a
    return np.where(np.abs(w) < 0.5, a + w * diff, b - diff * (1 - w))


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """input + weight * (end - input); all tensors must share one floating dtype."""
    if not isinstance(input, Tensor) or not isinstance(end, Tensor):
        raise _invalid_arguments("lerp", input, end, weight)
    dtype = input._dtype
    if end._dtype is not dtype:
        raise RuntimeError(
            f"expected dtype {_c_name(dtype)} for `end` but got dtype {_c_name(end._dtype)}"
        )
    tensor_weight = isinstance(weight, Tensor)
    if tensor_weight and weight._dtype is not dtype:
        raise RuntimeError(
            f"expected dtype {_c_name(dtype)} for `weight` but got dtype {_c_name(weight._dtype)}"
        )
    if dtype.category != FLOATING:
        kind = "tensor" if tensor_weight else "scalar"
        raise _not_implemented_for(f"lerp_kernel_{kind}", dtype)
    w = weight._array if tensor_weight else weight
    try:
        if not tensor_weight:
            np.broadcast_shapes(input._array.shape, end._array.shape)
        with np.errstate(all="ignore"):
            array = _lerp_array(input._array, end._array, w)
    except ValueError:
        raise broadcast_error(input, end, *((weight,) if tensor_weight else ())) from None
    out = wrap(np.asarray(array, dtype=dtype.numpy), dtype)
    if grad_state.enabled and (input._requires_grad or end._requires_grad
                               or other_requires_grad(weight)):
        if tensor_weight:
            node = new_node(LerpBackward1, (edge(input), edge(end), edge(weight)), out._array)
            node.self_, node.end = SavedTensor(input), SavedTensor(end)
            node.weight = SavedTensor(weight)
        else:
            node = new_node(LerpBackward0, (edge(input), edge(end)), out._array)
            node.weight = weight
        set_history(out, node)
    return out


def _c_name(dtype: D.dtype) -> str:
    """The C type name torch's dtype checks print ("float", "double", "long", "bool")."""
    return {"float32": "float", "float64": "double", "int64": "long", "int32": "int",
            "float16": "c10::Half"}.get(dtype.name, dtype.name)


# ----- in-place forms -------------------------------------------------------------------------
class _NoInplaceDerivative(Node):
    """torch has no derivative for some in-place ops (asinh_, acosh_, atanh_): fails when run."""

    __slots__ = ()
    op = ""

    def backward(self, grad, xp):
        raise NotImplementedError(
            f"the derivative for 'inplace version of {self.op}' is not implemented."
        )


class AsinhBackward1(_NoInplaceDerivative):
    __slots__ = ()
    op = "asinh"


class AcoshBackward1(_NoInplaceDerivative):
    __slots__ = ()
    op = "acosh"


class AtanhBackward1(_NoInplaceDerivative):
    __slots__ = ()
    op = "atanh"


def _without_derivative(op, node_cls):
    def inplace(self: Tensor) -> Tensor:
        def run(source: Tensor) -> Tensor:
            out = op(source.detach())
            if source._requires_grad and grad_state.enabled:
                set_history(out, new_node(node_cls, (edge(source),), out._array))
            return out

        return apply_inplace(self, run)

    inplace.__name__ = op.__name__ + "_"
    return inplace


def float_power_(self: Tensor, exponent) -> Tensor:
    if self._dtype is not D.float64:
        raise RuntimeError(
            f"the base given to float_power_ has dtype {_type_name(self._dtype)} but the "
            "operation's result requires dtype Double"
        )
    return _inplace(float_power)(self, exponent)


rsqrt_ = _inplace(rsqrt)
square_ = _inplace(square)
exp2_ = _inplace(exp2)
expm1_ = _inplace(expm1)
log2_ = _inplace(log2)
log10_ = _inplace(log10)
log1p_ = _inplace(log1p)
tan_ = _inplace(tan)
asin_ = _inplace(asin)
acos_ = _inplace(acos)
atan_ = _inplace(atan)
sinh_ = _inplace(sinh)
cosh_ = _inplace(cosh)
asinh_ = _without_derivative(asinh, AsinhBackward1)
acosh_ = _without_derivative(acosh, AcoshBackward1)
atanh_ = _without_derivative(atanh, AtanhBackward1)
erf_ = _inplace(erf)
erfc_ = _inplace(erfc)
erfinv_ = _inplace(erfinv)
deg2rad_ = _inplace(deg2rad)
rad2deg_ = _inplace(rad2deg)
sgn_ = _inplace(sgn)

ceil_ = _inplace(ceil)
round_ = _inplace(round)
trunc_ = _inplace(trunc)
frac_ = _inplace(frac)
nan_to_num_ = _inplace(nan_to_num)
fmod_ = _inplace(fmod)
atan2_ = _inplace(atan2)
hypot_ = _inplace(hypot)
xlogy_ = _inplace(xlogy)
copysign_ = _inplace(copysign)
lerp_ = _inplace(lerp)

# numpy-style spellings torch also has
arcsin = _alias(asin, "arcsin")
arccos = _alias(acos, "arccos")
arctan = _alias(atan, "arctan")
arcsinh = _alias(asinh, "arcsinh")
arccosh = _alias(acosh, "arccosh")
arctanh = _alias(atanh, "arctanh")
arctan2 = _alias(atan2, "arctan2")

# The names ``ember`` exports from this family, and the Tensor methods it adds.
__all__: list[str] = [
    "acos", "acosh", "allclose", "arccos", "arccosh", "arcsin", "arcsinh", "arctan",
    "arctan2", "arctanh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "copysign",
    "cosh", "deg2rad", "equal", "erf", "erfc", "erfinv", "exp2", "expm1", "fix",
    "float_power", "fmod", "frac", "hypot", "isclose", "isfinite", "isinf", "isneginf",
    "isposinf", "lerp", "log10", "log1p", "log2", "logaddexp", "logaddexp2", "nan_to_num",
    "rad2deg", "round", "rsqrt", "sgn", "sinh", "square", "tan", "trunc", "xlogy",
]
_INPLACE = {
    name + "_": globals()[name + "_"]
    for name in (
        "rsqrt square exp2 expm1 log2 log10 log1p tan asin acos atan sinh cosh asinh acosh "
        "atanh erf erfc erfinv deg2rad rad2deg sgn ceil round trunc frac nan_to_num "
        "fmod atan2 hypot xlogy copysign lerp float_power"
    ).split()
}
_INPLACE.update({"arcsin_": asin_, "arccos_": acos_, "arctan_": atan_, "arcsinh_": asinh_,
                 "arccosh_": acosh_, "arctanh_": atanh_, "arctan2_": atan2_, "fix_": trunc_})
TENSOR_METHODS: dict = {
    **{name: globals()[name] for name in __all__}, **_INPLACE,
}
