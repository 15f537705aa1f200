"""Activation functions, softmax and dropout: each op's forward and derivative together.

Derivative formulas use only names both formula worlds share (``where``, ``exp``, ``log``,
``tanh``, ``sum``...), so ``create_graph=True`` differentiates them again. Where torch gives
a gradient its own double-backward node (HardtanhBackwardBackward0, EluBackwardBackward0...),
the gradient is a recorded op with that node instead, so the graph, the signed zeros and the
zeros for piecewise-constant parts are torch's.

At NaN, -0.0 and infinities torch's scalar and vectorized CPU loops sometimes disagree (the
vectorized one stops hardtanh's gradient at NaN, the scalar one passes it): ember follows the
scalar loop, except for float32 gelu (see _gelu_array). tests/test_special_values.py says
which op follows which.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ember import _dtype as D
from ember.autograd.xp import HALF_READ_AS_FLOAT, fused_half_kernel
from ember.ops import elementwise as E
from ember.ops import reduction as R
from ember.ops import shape as S
from ember.ops._core import (
    FLOATING,
    HALF,
    Node,
    SavedTensor,
    Tensor,
    apply_inplace,
    edge,
    grad_state,
    new_node,
    set_history,
    through_float32,
    wrap,
)
from ember.ops.elementwise import relu as _relu
from ember.ops.elementwise import sigmoid, tanh  # noqa: F401  (re-exported in FUNCTIONAL)

# ----- helpers --------------------------------------------------------------------------------


def _legacy(dtype: D.dtype) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}[dtype.name]


def _check_tensor(input, name: str, arg: str = "input", pos: int = 1) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(
            f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not "
            f"{type(input).__name__}"
        )


def _need_float(input: Tensor, kernel: str) -> None:
    if input._dtype.category != FLOATING:
        raise NotImplementedError(
            f'"{kernel}" not implemented for \'{_legacy(input._dtype)}\''
        )


def wrap_dim(dim: int, ndim: int) -> int:
    """``dim`` as a non-negative axis, with torch's message when out of range."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n


def _logistic(xp, x):
    """sigmoid(x) in either formula world, without overflow (but 0 below x = -9 in float32:
    silu, mish and glu use _sigmoid_xp, as torch)."""
    return 0.5 * (1 + xp.tanh(0.5 * x))


def _records(input: Tensor) -> bool:
    return input._requires_grad and grad_state.enabled


def _pointwise(input: Tensor, function, node_cls, save: str = "self_", **attrs) -> Tensor:
    """Forward of a one-input activation: ``function`` on the array, node saving ``save``."""
    a = input._array
    with np.errstate(all="ignore"):
        array = function(a) if a.dtype is not HALF else through_float32(function, a)
    if array.dtype != a.dtype:
        array = array.astype(input._array.dtype)
    out = wrap(array, input._dtype)
    if _records(input):
        node = new_node(node_cls, (edge(input),), out._array)
        if save == "self_":
            node.self_ = SavedTensor(input)
        elif save == "result":
            node.result = SavedTensor(out, is_output=True)
        for key, value in attrs.items():
            setattr(node, key, value)
        set_history(out, node)
    return out


def _maybe_inplace(input: Tensor, inplace: bool, op, *args) -> Tensor:
    """``op(input, *args)``, or written into ``input`` when ``inplace``."""
    if inplace:
        return apply_inplace(input, op, *args)
    return op(input, *args)


# ----- relu family ----------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """F.relu: ``torch.relu`` with the functional form's ``inplace`` flag."""
    return E.relu_(input) if inplace else _relu(input)


def relu_(input: Tensor) -> Tensor:
    return E.relu_(input)


def _piecewise(node, grad, x, params: tuple):
    """The gradient of a piecewise-linear activation, ``node.slope(grad, x, *params)``: on
    arrays directly; on tensors (create_graph=True) as a recorded op whose node is
    ``node.twice``, as torch's <Op>BackwardBackward0."""
    if isinstance(x, np.ndarray):
        return node.slope(grad, x, *params)
    with np.errstate(all="ignore"):
        array = node.slope(grad._array, x._array, *params)
    out = wrap(np.asarray(array, dtype=x._array.dtype), x._dtype)
    if grad_state.enabled and (grad._requires_grad or x._requires_grad):
        twice = new_node(node.twice, (edge(grad), edge(x)), out._array)
        twice.self_, twice.slope, twice.params = SavedTensor(x), node.slope, params
        set_history(out, twice)
    return out


class _PiecewiseBackwardBackward(Node):
    """The backward of a piecewise-linear activation's backward: linear in grad_output (the
    same formula again), and zeros for self, as torch's zeros_like(grad): the gradient does
    reach self (torch.autograd.grad(grad, x) gives zeros, not an unused-input error)."""

    __slots__ = ("self_", "slope", "params")
    _saved_fields = ("self_",)

    @property
    def twice(self):
        return type(self)

    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        d_self = xp.zeros_like(x) if self.needs_input_grad(1) else None
        if not self.needs_input_grad(0):
            return (None, d_self)
        return (_piecewise(self, grad, x, self.params), d_self)


class HardtanhBackwardBackward0(_PiecewiseBackwardBackward):
    __slots__ = ()


class HardtanhBackward0(Node):
    """hardtanh: the gradient stops where self <= min_val or self >= max_val and passes
    elsewhere, NaN included (torch's scalar kernel; its vectorized loop stops it at NaN)."""

    __slots__ = ("self_", "min_val", "max_val")
    _saved_fields = ("self_",)
    twice = HardtanhBackwardBackward0

    @staticmethod
    def slope(grad, x, min_val, max_val):
        return np.where((x <= min_val) | (x >= max_val), 0, grad)

    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        if x.__class__ is np.ndarray:  # (the common case, without _piecewise's call)
            return (self.slope(grad, x, self.min_val, self.max_val),)
        return (_piecewise(self, grad, x, (self.min_val, self.max_val)),)


def _hardtanh(input: Tensor, min_val, max_val) -> Tensor:
    if input._dtype is D.bool_:
        raise RuntimeError('"hardtanh_cpu" not implemented for \'Bool\'')
    lo, hi = min_val, max_val
    if input._dtype.category != FLOATING:
        lo, hi = int(lo), int(hi)
    return _pointwise(input, lambda a: _clamped(a, lo, hi), HardtanhBackward0,
                      min_val=min_val, max_val=max_val)


def _clamped(a: np.ndarray, lo, hi) -> np.ndarray:
    """``a`` clamped to [lo, hi], keeping ``a`` on a tie (hardtanh(-0.0) is -0.0, as torch)."""
    return E.keeping_first(np.minimum, E.keeping_first(np.maximum, a, lo, a.dtype), hi, a.dtype)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    _check_tensor(input, "hardtanh")
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_inplace(input, inplace, _hardtanh, min_val, max_val)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In place; unlike F.hardtanh, torch does not check min_val <= max_val here."""
    _check_tensor(input, "hardtanh_")
    return apply_inplace(input, _hardtanh, min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    _check_tensor(input, "relu6")
    return hardtanh(input, 0.0, 6.0, inplace)


class LeakyReluBackwardBackward0(_PiecewiseBackwardBackward):
    __slots__ = ()


class LeakyReluBackward0(Node):
    __slots__ = ("self_", "negative_slope")
    _saved_fields = ("self_",)
    twice = LeakyReluBackwardBackward0

    @staticmethod
    def slope(grad, x, negative_slope):
        return np.where(x > 0, grad, grad * negative_slope)

    @fused_half_kernel
    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        if x.__class__ is np.ndarray:
            return (self.slope(grad, x, self.negative_slope),)
        return (_piecewise(self, grad, x, (self.negative_slope,)),)


class LeakyReluBackward1(LeakyReluBackward0):
    __slots__ = ()

    def backward(self, grad, xp):
        if self.negative_slope < 0:
            raise RuntimeError(
                "In-place leakyReLu backward calculation is triggered with a negative slope "
                "which is not supported. This is caused by calling in-place forward function "
                "with a negative slope, please call out-of-place version instead. File an issue "
                "at https://github.com/pytorch/pytorch if you do require supporting in-place "
                "leakRelu backward calculation with negative slope")
        return super().backward(grad, xp)


def _leaky_relu(input: Tensor, slope, node_cls=LeakyReluBackward0) -> Tensor:
    _need_float(input, "leaky_relu_cpu")
    return _pointwise(input, lambda a: np.where(a > 0, a, a * slope), node_cls,
                      negative_slope=slope)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    _check_tensor(input, "leaky_relu")
    if inplace:
        return apply_inplace(input, _leaky_relu, negative_slope, LeakyReluBackward1)
    return _leaky_relu(input, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, True)


# ----- elu family -----------------------------------------------------------------------------
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _elu_slope(grad, x: np.ndarray, alpha, scale, input_scale, is_result: bool):
    """elu_backward on arrays, as torch's kernel: ``x`` is the input, or the result
    (``is_result``, after an in-place elu) with the gradient grad * input_scale *
    (result + alpha * scale), exactly 0 where the result saturated at -alpha * scale. NaN
    takes the positive side, grad * scale (torch's scalar loop)."""
    if is_result:
        negative = grad * input_scale * (x + alpha * scale)
    else:
        negative = grad * input_scale * (alpha * scale) * np.exp(x * input_scale)
    return np.where(x <= 0, negative, grad * scale)


def _elu_grad(xp, grad, x, node):
    """elu_backward(grad, x) with ``node``'s constants, in either formula world."""
    if isinstance(x, np.ndarray):
        return _elu_slope(grad, x, node.alpha, node.scale, node.input_scale, node.is_result)
    return _elu_backward(grad, x, node)


class EluBackward0(Node):
    """elu(x) = scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1))."""

    __slots__ = ("self_", "alpha", "scale", "input_scale")
    _saved_fields = ("self_",)
    is_result = False

    @fused_half_kernel
    def backward(self, grad, xp):
        return (_elu_grad(xp, grad, xp.saved(self.self_), self),)


class EluBackward1(Node):
    """In-place elu: the input is gone, so the formula reads the result (see _elu_slope)."""

    __slots__ = ("result", "alpha", "scale", "input_scale")
    _saved_fields = ("result",)
    is_result = True

    @fused_half_kernel
    def backward(self, grad, xp):
        if self.alpha < 0:
            raise RuntimeError(
                "In-place elu backward calculation is triggered with a negative slope which is "
                "not supported. This is caused by calling in-place forward function with a "
                "negative slope, please call out-of-place version instead.")
        return (_elu_grad(xp, grad, xp.saved_output(self.result, self), self),)


class CeluBackward0(EluBackward0):
    __slots__ = ()


class CeluBackward1(EluBackward1):
    __slots__ = ()


class EluBackwardBackward0(Node):
    """elu_backward(grad_output, self_or_result): linear in grad_output; for its saved
    tensor torch's elu_double_backward, nonzero only where self_or_result < 0 (a product
    with the 0/1 mask, so -0.0 or NaN where the gradient is negative or not finite)."""

    __slots__ = ("grad_output", "self_or_result", "alpha", "scale", "input_scale",
                 "is_result")
    _saved_fields = ("grad_output", "self_or_result")

    def backward(self, grad, xp):
        x = xp.saved(self.self_or_result)
        d_x = None
        if self.needs_input_grad(1):
            scaled = grad * xp.saved(self.grad_output) * self.input_scale
            if not self.is_result:
                scaled = _elu_grad(xp, scaled, x, self)
            d_x = scaled * xp.cast(x < 0, scaled)
        if not self.needs_input_grad(0):
            return (None, d_x)
        return (_elu_grad(xp, grad, x, self), d_x)


def _elu_backward(grad: Tensor, x: Tensor, node) -> Tensor:
    """elu's gradient as a recorded op (create_graph=True differentiates it again)."""
    with np.errstate(all="ignore"):
        array = _elu_slope(grad._array, x._array, node.alpha, node.scale, node.input_scale,
                           node.is_result)
    out = wrap(array.astype(x._array.dtype, copy=False), x._dtype)
    if grad_state.enabled and (grad._requires_grad or x._requires_grad):
        twice = new_node(EluBackwardBackward0, (edge(grad), edge(x)), out._array)
        twice.grad_output, twice.self_or_result = SavedTensor(grad), SavedTensor(x)
        twice.alpha, twice.scale = node.alpha, node.scale
        twice.input_scale, twice.is_result = node.input_scale, node.is_result
        set_history(out, twice)
    return out


def _elu(input: Tensor, alpha, scale, input_scale, node_cls, kernel="elu_cpu") -> Tensor:
    _need_float(input, kernel)

    def forward(a):
        # min(a, 0) keeping a on the tie, so elu(-0.0) is -0.0 as in torch (expm1 of the
        # positive inputs would also be slower: zeros are its fast case)
        negative = np.expm1(E.keeping_first(np.minimum, a, a.dtype.type(0), a.dtype)
                            * input_scale) * (alpha * scale)
        return np.where(a > 0, a * scale, negative)

    save = "result" if issubclass(node_cls, EluBackward1) else "self_"
    return _pointwise(input, forward, node_cls, save, alpha=alpha, scale=scale,
                      input_scale=input_scale)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    _check_tensor(input, "elu")
    if inplace:
        return apply_inplace(input, _elu, alpha, 1.0, 1.0, EluBackward1)
    return _elu(input, alpha, 1.0, 1.0, EluBackward0)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    _check_tensor(input, "selu")
    node_cls = EluBackward1 if inplace else EluBackward0
    return _maybe_inplace(input, inplace, _elu, _SELU_ALPHA, _SELU_SCALE, 1.0, node_cls)


def selu_(input: Tensor) -> Tensor:
    return selu(input, True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    _check_tensor(input, "celu")
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    node_cls = CeluBackward1 if inplace else CeluBackward0
    return _maybe_inplace(input, inplace, _elu, alpha, 1.0, 1.0 / alpha, node_cls)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, True)


# ----- gelu -----------------------------------------------------------------------------------
_SQRT_2 = math.sqrt(2.0)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_erf_object = np.frompyfunc(math.erf, 1, 1)


def _erf(a: np.ndarray) -> np.ndarray:
    """erf to full double precision (NumPy has none); exact through ``math.erf``."""
    return np.asarray(_erf_object(a.astype(np.float64)), dtype=np.float64).astype(a.dtype)


def _gelu_array(a: np.ndarray, approximate: str, half: bool = False) -> np.ndarray:
    """gelu on arrays; ``half``: ``a`` is a half tensor's values widened to float32."""
    if approximate == "tanh":
        inner = _SQRT_2_PI * (a + 0.044715 * a * a * a)
        return 0.5 * a * (1 + np.tanh(inner))
    out = a * 0.5 * (1 + _erf(a / a.dtype.type(_SQRT_2)))
    if a.dtype == np.float32 and a.size > 1 and a.flags.c_contiguous and not half:
        # torch's vectorized float32 loop (every element of a contiguous tensor of two or
        # more) never returns -0.0: gelu(-0.0) and underflowing negatives give 0.0 there,
        # while its scalar loop (one element, or strided input) keeps -0.0 like float64
        out += 0
    return out


def _gelu_first(a: np.ndarray, approximate: str) -> np.ndarray:
    """gelu'(a) (arrays)."""
    if approximate == "tanh":
        k, c = _SQRT_2_PI, 0.044715
        inner = k * (a + c * a ** 3)
        t = np.tanh(inner)
        d_inner = k * (1 + 3 * c * a * a)
        sech2 = 1 - t * t
        return 0.5 * (1 + t) + 0.5 * a * sech2 * d_inner
    cdf = 0.5 * (1 + _erf(a / a.dtype.type(_SQRT_2)))
    pdf = np.exp(-0.5 * a * a) * _INV_SQRT_2PI
    return cdf + a * pdf


def _rounded(function, a: np.ndarray) -> np.ndarray:
    """``function`` evaluated in float64 and rounded to ``a``'s dtype: torch's vectorized
    float32 tanh/cosh/exp are (nearly always) the correctly rounded values, NumPy's are not."""
    if a.dtype == np.float64:
        return function(a)
    return function(a.astype(np.float64)).astype(a.dtype)


def _gelu_second(xp, a, approximate: str):
    """gelu''(a) in either formula world, step by step in torch's order: on large float32
    inputs the value is mostly rounding (a difference of nearly equal terms), so only the
    same steps give torch's number. Python-float constants round to ``a``'s dtype."""
    if not isinstance(a, Tensor):
        tanh, cosh, exp = ((lambda v, fn=fn: _rounded(fn, v)) for fn in (np.tanh, np.cosh, np.exp))
    else:
        tanh, cosh, exp = xp.tanh, xp.cosh, xp.exp
    if approximate == "tanh":
        beta, kappa = _SQRT_2_PI, 0.044715
        inner = beta * (a + kappa * (a * a * a))
        t = tanh(inner)
        sech = 1.0 / cosh(inner)
        half_x = 0.5 * a
        sech2 = 1.0 - t * t  # tanh' of the inner argument
        d_inner = beta * (1.0 + 3 * kappa * a * a)
        # gelu' = 0.5 (1 + t) + half_x * sech2 * d_inner: differentiate each factor
        dsech2_term = half_x * d_inner * ((2.0 * sech) * (-sech * t) * d_inner)
        dinner_term = half_x * sech2 * (6 * kappa * a * beta)
        return 2.0 * (0.5 * sech2 * d_inner) + dsech2_term + dinner_term
    square = a * a
    pdf = _INV_SQRT_2PI * exp(-0.5 * square)
    return 2.0 * pdf - square * pdf


class GeluBackward0(Node):
    __slots__ = ("self_", "approximate")
    _saved_fields = ("self_",)

    @fused_half_kernel
    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        if isinstance(x, np.ndarray):
            with np.errstate(all="ignore"):
                return (grad * _gelu_first(x, self.approximate),)
        return (_gelu_backward(grad, x, self.approximate),)


class GeluBackwardBackward0(Node):
    """gelu_backward(grad, self): linear in grad; its self-derivative is gelu''."""

    __slots__ = ("grad_output", "self_", "approximate")
    _saved_fields = ("grad_output", "self_")

    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        grad_output = xp.saved(self.grad_output)
        d_self = (grad * grad_output * _gelu_second(xp, x, self.approximate)
                  if self.needs_input_grad(1) else None)
        if not self.needs_input_grad(0):
            return (None, d_self)
        if isinstance(x, np.ndarray):
            return (grad * _gelu_first(x, self.approximate), d_self)
        return (_gelu_backward(grad, x, self.approximate), d_self)


def _gelu_backward(grad: Tensor, x: Tensor, approximate: str) -> Tensor:
    with np.errstate(all="ignore"):
        first = _gelu_first(x._array, approximate)
    out = wrap((grad._array * first).astype(x._array.dtype, copy=False), x._dtype)
    if grad_state.enabled and (grad._requires_grad or x._requires_grad):
        node = new_node(GeluBackwardBackward0, (edge(grad), edge(x)), out._array)
        node.grad_output, node.self_ = SavedTensor(grad), SavedTensor(x)
        node.approximate = approximate
        set_history(out, node)
    return out


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    _check_tensor(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _need_float(input, "GeluKernelImpl")
    half = input._array.dtype is HALF
    return _pointwise(input, lambda a: _gelu_array(a, approximate, half), GeluBackward0,
                      approximate=approximate)


# ----- smooth activations ---------------------------------------------------------------------
def _softplus_xp(xp, x):
    """log(1 + exp(x)) in either world (linear above 20, where exp would overflow)."""
    return xp.where(x > 20, x, xp.log(1 + xp.exp(xp.where(x > 20, 0, x))))


def _sigmoid_xp(xp, x):
    """The logistic function as torch's silu and mish formulas take it: 1 / (1 + exp(-x))
    on arrays, ``sigmoid`` on tensors. Unlike 0.5 * (1 + tanh(x / 2)) it does not round to
    0 below x = -9 in float32. (NumPy's exp, a few ulps from torch's at most, keeps it fast:
    a float64 exp would be 4 times slower.)"""
    if isinstance(x, Tensor):
        return sigmoid(x)
    return 1 / (1 + np.exp(-x))


class SiluBackward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    @fused_half_kernel
    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        s = _sigmoid_xp(xp, x)
        return (grad * s * (1 + x * (1 - s)),)


def _silu(input: Tensor) -> Tensor:
    _need_float(input, "silu_cpu")
    return _pointwise(input, lambda a: a / (1 + np.exp(-a)), SiluBackward0)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    _check_tensor(input, "silu")
    return _maybe_inplace(input, inplace, _silu)


class MishBackward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    @fused_half_kernel
    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        t = _tanh_softplus(xp, x)
        return (grad * (t + x * _sigmoid_xp(xp, x) * (1 - t * t)),)


def _tanh_softplus(xp, x):
    """tanh(log1p(exp(x))), the steps torch takes, in either world."""
    return xp.tanh(xp.log1p(xp.exp(x)))


def _mish(input: Tensor) -> Tensor:
    _need_float(input, "mish_cpu")
    return _pointwise(input, lambda a: a * _tanh_softplus(np, a), MishBackward0)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    _check_tensor(input, "mish")
    return _maybe_inplace(input, inplace, _mish)


def _softplus_slope(grad, x: np.ndarray, beta, threshold) -> np.ndarray:
    """softplus_backward on arrays, as torch's kernel computes it: grad * e / (e + 1) with
    e = exp(beta x), and grad itself above the threshold."""
    z = x * beta
    e = _rounded(np.exp, z)
    return np.where(z > threshold, grad, grad * e / (e + 1))


def _softplus_curvature(xp, grad, x, beta, threshold):
    """softplus_double_backward: grad * s (1 - s) * beta with s = sigmoid(beta x), zero from
    the threshold on (torch's order, so float32 rounds as torch's does near saturation)."""
    z = x * beta
    if not isinstance(z, Tensor):
        s = 1 / (1 + _rounded(np.exp, -z))
        below = (z < threshold).astype(z.dtype)
    else:
        s = sigmoid(z)
        below = xp.cast(z < threshold, z)
    return grad * (1 - s) * s * below * beta


class SoftplusBackward0(Node):
    __slots__ = ("self_", "beta", "threshold")
    _saved_fields = ("self_",)

    @fused_half_kernel
    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        if isinstance(x, np.ndarray):
            return (_softplus_slope(grad, x, self.beta, self.threshold),)
        return (_softplus_backward(grad, x, self.beta, self.threshold),)


class SoftplusBackwardBackward0(Node):
    """softplus_backward(grad, self): linear in grad; its self-derivative is softplus''."""

    __slots__ = ("grad_output", "self_", "beta", "threshold")
    _saved_fields = ("grad_output", "self_")

    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        d_self = None
        if self.needs_input_grad(1):
            d_self = _softplus_curvature(xp, grad * xp.saved(self.grad_output), x, self.beta,
                                         self.threshold)
        if not self.needs_input_grad(0):
            return (None, d_self)
        if isinstance(x, np.ndarray):
            return (_softplus_slope(grad, x, self.beta, self.threshold), d_self)
        return (_softplus_backward(grad, x, self.beta, self.threshold), d_self)


def _softplus_backward(grad: Tensor, x: Tensor, beta, threshold) -> Tensor:
    """softplus's gradient as a recorded op (create_graph=True differentiates it again)."""
    with np.errstate(all="ignore"):
        array = _softplus_slope(grad._array, x._array, beta, threshold)
    out = wrap(array.astype(x._array.dtype, copy=False), x._dtype)
    if grad_state.enabled and (grad._requires_grad or x._requires_grad):
        node = new_node(SoftplusBackwardBackward0, (edge(grad), edge(x)), out._array)
        node.grad_output, node.self_ = SavedTensor(grad), SavedTensor(x)
        node.beta, node.threshold = beta, threshold
        set_history(out, node)
    return out


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    _check_tensor(input, "softplus")
    _need_float(input, "softplus_cpu")

    def forward(a):
        z = a * beta
        return np.where(z > threshold, a, np.logaddexp(0, z) / beta)

    return _pointwise(input, forward, SoftplusBackward0, beta=beta, threshold=threshold)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|), composed as torch composes it (a DivBackward0 on top)."""
    if not isinstance(input, Tensor):  # torch calls input.abs()
        raise AttributeError(f"'{type(input).__name__}' object has no attribute 'abs'")
    return E.div(input, E.add(E.abs(input), 1))


# torch's hardsigmoid_backward multiplies by 1/6 rounded to float32, in float64 too
_ONE_SIXTH = float(np.float32(1 / 6))


class HardsigmoidBackward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    @fused_half_kernel
    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        result = xp.where((x > -3) & (x < 3), grad * _ONE_SIXTH, 0)
        if isinstance(x, Tensor) and grad_state.enabled and (
                x._requires_grad or grad._requires_grad):
            # torch has no derivative for hardsigmoid's backward
            out = result.detach()
            E._not_implemented(out, "hardsigmoid_backward", (edge(grad), edge(x)))
            return (out,)
        return (result,)


def _hardsigmoid(input: Tensor) -> Tensor:
    _need_float(input, "hardsigmoid_cpu")
    return _pointwise(input, lambda a: np.minimum(np.maximum(a + 3, 0), 6) / 6,
                      HardsigmoidBackward0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    _check_tensor(input, "hardsigmoid")
    return _maybe_inplace(input, inplace, _hardsigmoid)


def _hardswish_slope(grad, x):
    """hardswish_backward on arrays: 0 up to -3, grad * (x / 3 + 0.5) below 3, grad from 3
    on and at NaN (torch's scalar loop)."""
    return np.where(x <= -3, 0, np.where(x < 3, grad * (x / 3 + 0.5), grad))


class HardswishBackward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    @fused_half_kernel
    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        if isinstance(x, np.ndarray):
            return (_hardswish_slope(grad, x),)
        return (_hardswish_backward(grad, x),)


class HardswishBackwardBackward0(Node):
    """hardswish_backward(grad_output, self): linear in grad_output; its self-derivative is
    grad * grad_output / 3 strictly inside (-3, 3), else 0. A dedicated node, as in torch:
    differentiating the piecewise formula would give NaN (0 * inf) at infinite inputs."""

    __slots__ = ("grad_output", "self_")
    _saved_fields = ("grad_output", "self_")

    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        d_self = None
        if self.needs_input_grad(1):
            d_self = xp.where((x > -3) & (x < 3), grad * xp.saved(self.grad_output) / 3, 0)
        if not self.needs_input_grad(0):
            return (None, d_self)
        if isinstance(x, np.ndarray):
            return (_hardswish_slope(grad, x), d_self)
        return (_hardswish_backward(grad, x), d_self)


def _hardswish_backward(grad: Tensor, x: Tensor) -> Tensor:
    """hardswish's gradient as a recorded op (create_graph=True differentiates it again)."""
    with np.errstate(all="ignore"):
        array = _hardswish_slope(grad._array, x._array)
    out = wrap(array.astype(x._array.dtype, copy=False), x._dtype)
    if grad_state.enabled and (grad._requires_grad or x._requires_grad):
        node = new_node(HardswishBackwardBackward0, (edge(grad), edge(x)), out._array)
        node.grad_output, node.self_ = SavedTensor(grad), SavedTensor(x)
        set_history(out, node)
    return out


def _hardswish(input: Tensor) -> Tensor:
    _need_float(input, "hardswish_cpu")
    return _pointwise(input, lambda a: a * np.minimum(np.maximum(a + 3, 0), 6) / 6,
                      HardswishBackward0)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    _check_tensor(input, "hardswish")
    return _maybe_inplace(input, inplace, _hardswish)


def _logsigmoid_slope(grad, x, buffer_dtype=None):
    """log_sigmoid_backward on arrays, as torch's kernel: with z = exp(-|x|),
    grad * (z / (1 + z)) for x >= 0 and grad * (1 - z / (1 + z)) below 0. torch's forward
    keeps z as a buffer in the input's dtype (``buffer_dtype``: half, read back as float)."""
    z = _rounded(np.exp, -np.abs(x))
    if buffer_dtype is not None:
        z = z.astype(buffer_dtype).astype(z.dtype)
    share = z / (1 + z)
    return grad * np.where(x < 0, 1 - share, share)


class LogSigmoidBackward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    @fused_half_kernel
    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        if isinstance(x, Tensor):
            return (_logsigmoid_backward(grad, x),)
        return (_logsigmoid_slope(grad, x, np.float16 if xp is HALF_READ_AS_FLOAT else None),)


class LogSigmoidBackwardBackward0(Node):
    """log_sigmoid_backward(grad, self): linear in grad; torch's log_sigmoid_double_backward
    (grad * (s - 1) * s with s = sigmoid(self)) for self."""

    __slots__ = ("grad_output", "self_")
    _saved_fields = ("grad_output", "self_")

    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        d_self = None
        if self.needs_input_grad(1):
            g = grad * xp.saved(self.grad_output)
            s = sigmoid(x) if isinstance(x, Tensor) else 1 / (1 + _rounded(np.exp, -x))
            d_self = g * (s - 1) * s
        if not self.needs_input_grad(0):
            return (None, d_self)
        if isinstance(x, Tensor):
            return (_logsigmoid_backward(grad, x), d_self)
        return (_logsigmoid_slope(grad, x), d_self)


def _logsigmoid_backward(grad: Tensor, x: Tensor) -> Tensor:
    """logsigmoid's gradient as a recorded op (create_graph=True differentiates it again)."""
    with np.errstate(all="ignore"):
        array = _logsigmoid_slope(grad._array, x._array)
    out = wrap(np.asarray(array, dtype=x._array.dtype), x._dtype)
    if grad_state.enabled and (grad._requires_grad or x._requires_grad):
        node = new_node(LogSigmoidBackwardBackward0, (edge(grad), edge(x)), out._array)
        node.grad_output, node.self_ = SavedTensor(grad), SavedTensor(x)
        set_history(out, node)
    return out


def logsigmoid(input: Tensor) -> Tensor:
    _check_tensor(input, "log_sigmoid")
    _need_float(input, "log_sigmoid_cpu")
    return _pointwise(input, lambda a: np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a))),
                      LogSigmoidBackward0)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x), composed (SubBackward0 on top, as in torch)."""
    if not isinstance(input, Tensor):  # torch calls input.tanh()
        raise AttributeError(f"'{type(input).__name__}' object has no attribute 'tanh'")
    return E.sub(input, E.tanh(input))


class SoftshrinkBackwardBackward0(_PiecewiseBackwardBackward):
    __slots__ = ()


class SoftshrinkBackward0(Node):
    """The gradient stops on [-lambd, lambd] and passes elsewhere, NaN included (torch's
    scalar kernel; its vectorized loop stops it at NaN)."""

    __slots__ = ("self_", "lambd")
    _saved_fields = ("self_",)
    twice = SoftshrinkBackwardBackward0

    @staticmethod
    def slope(grad, x, lambd):
        return np.where((x >= -lambd) & (x <= lambd), 0, grad)

    def backward(self, grad, xp):
        return (_piecewise(self, grad, xp.saved(self.self_), (self.lambd,)),)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    _check_tensor(input, "softshrink")
    _need_float(input, "softshrink_check")
    if lambd < 0:
        raise RuntimeError(
            f"lambda must be in range [0, 3.40282e+38] for input dtype "
            f"{_legacy(input._dtype)}, but found {lambd:g}"
        )
    return _pointwise(input, lambda a: _softshrink_array(a, lambd), SoftshrinkBackward0,
                      lambd=lambd)


def _softshrink_array(a: np.ndarray, lambd) -> np.ndarray:
    """a moved lambd towards 0 outside [-lambd, lambd]; inside, ``a * 0`` as torch's scalar
    kernel: NaN stays NaN, and -0.0 and -lambd give -0.0."""
    return np.where(np.abs(a) > lambd, a - np.copysign(lambd, a), a * 0)


class HardshrinkBackwardBackward0(_PiecewiseBackwardBackward):
    __slots__ = ()


class HardshrinkBackward0(SoftshrinkBackward0):
    __slots__ = ()
    twice = HardshrinkBackwardBackward0


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    _check_tensor(input, "hardshrink")
    _need_float(input, "hardshrink_cpu")
    # zero on [-lambd, lambd], the input elsewhere (NaN stays NaN)
    return _pointwise(input, lambda a: np.where((a >= -lambd) & (a <= lambd), 0, a),
                      HardshrinkBackward0, lambd=lambd)


class ThresholdBackwardBackward0(_PiecewiseBackwardBackward):
    __slots__ = ()


class ThresholdBackward0(Node):
    __slots__ = ("self_", "threshold")
    _saved_fields = ("self_",)
    twice = ThresholdBackwardBackward0

    @staticmethod
    def slope(grad, x, threshold):
        return np.where(x <= threshold, 0, grad)

    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        if x.__class__ is np.ndarray:
            return (self.slope(grad, x, self.threshold),)
        return (_piecewise(self, grad, x, (self.threshold,)),)


class ThresholdBackward1(ThresholdBackward0):
    __slots__ = ()


def _integer_scalar(number, dtype: D.dtype) -> int:
    """``number`` as torch converts a Scalar to an integer dtype: floats truncate toward 0
    and must lie in the dtype's range; integers may also be negative for an unsigned dtype
    (down to -max, wrapping around)."""
    info = np.iinfo(dtype.numpy)
    if isinstance(number, float):
        fits = info.min <= number <= info.max  # False for NaN
    else:
        number = int(number)
        fits = number <= info.max and (number >= info.min or -number <= info.max)
    if not fits:
        name = "int" if dtype is D.int32 else dtype.name + "_t"
        raise RuntimeError(f"value cannot be converted to type {name} without overflow")
    return int(number) & info.max if info.min == 0 else int(number)


def _threshold(input: Tensor, threshold, value, node_cls=ThresholdBackward0) -> Tensor:
    if input._dtype is D.bool_:
        raise NotImplementedError('"threshold_cpu" not implemented for \'Bool\'')
    compare = threshold
    if input._dtype.category != FLOATING:  # torch compares with the truncated threshold
        compare = _integer_scalar(threshold, input._dtype)
        value = _integer_scalar(value, input._dtype)
    return _pointwise(input, lambda a: np.where(a <= compare, value, a), node_cls,
                      threshold=threshold)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    _check_tensor(input, "threshold")
    if inplace:
        return apply_inplace(input, _threshold, threshold, value, ThresholdBackward1)
    return _threshold(input, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return apply_inplace(input, _threshold, threshold, value, ThresholdBackward1)


# ----- glu, prelu, rrelu ----------------------------------------------------------------------
def _cat(xp, parts, dim: int):
    if not isinstance(parts[0], Tensor):
        return np.concatenate(parts, axis=dim)
    return S.cat(parts, dim)


class GluBackward0(Node):
    """glu(x) = a * sigmoid(b) for the two halves a, b of x along ``dim``."""

    __slots__ = ("self_", "dim")
    _saved_fields = ("self_",)

    @fused_half_kernel
    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        half = x.shape[self.dim] // 2
        key_a = (slice(None),) * self.dim + (slice(0, half),)
        key_b = (slice(None),) * self.dim + (slice(half, None),)
        a, b = x[key_a], x[key_b]
        s = _sigmoid_xp(xp, b)
        return (_cat(xp, [s * grad, (1 - s) * s * a * grad], self.dim),)  # torch's order


def glu(input: Tensor, dim: int = -1) -> Tensor:
    _check_tensor(input, "glu")
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    dim = wrap_dim(dim, input.ndim)
    size = input._array.shape[dim]
    if size % 2:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {dim} is size {size}")
    _need_float(input, "glu_cpu")
    half = size // 2
    a = input._array[(slice(None),) * dim + (slice(0, half),)]
    b = input._array[(slice(None),) * dim + (slice(half, None),)]
    if a.dtype is HALF:  # float opmath, rounded once
        a, b = a.astype(np.float32), b.astype(np.float32)
    with np.errstate(all="ignore"):
        array = (a * (1 / (1 + np.exp(-b)))).astype(input._array.dtype, copy=False)
    out = wrap(array, input._dtype)
    if _records(input):
        node = new_node(GluBackward0, (edge(input),), out._array)
        node.self_, node.dim = SavedTensor(input), dim
        set_history(out, node)
    return out


def _to_weight(g, node, xp):
    """A weight-broadcast gradient summed back to the weight's own shape."""
    lead = len(g.shape) - len(node.weight_view)
    dims = tuple(i for i in range(len(g.shape))
                 if i < lead or node.weight_view[i - lead] == 1)
    if dims:
        g = xp.sum(g, dims)
    return xp.reshape(g, node.weight_shape)


def _prelu_grads(grad, x, w):
    """prelu's kernel backward on arrays: grad where x > 0, weight * grad elsewhere, and
    for the weight x * grad where x <= 0 (x's shape: not yet summed to the weight's)."""
    return np.where(x > 0, grad, w * grad), np.where(x > 0, 0, x * grad)


class PreluKernelBackward0(Node):
    """prelu: x where x > 0, weight * x elsewhere (weight along dim 1)."""

    __slots__ = ("self_", "weight", "weight_view", "weight_shape")
    _saved_fields = ("self_", "weight")

    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        w = xp.reshape(xp.saved(self.weight), self.weight_view)
        if isinstance(x, np.ndarray):
            grad_x, grad_w = _prelu_grads(grad, x, w)
            grads = grad_x, _to_weight(grad_w, self, np)
        else:
            grads = _prelu_backward(grad, x, xp.saved(self.weight), self)
        return tuple(g if self.needs_input_grad(i) else None for i, g in enumerate(grads))


class PreluKernelBackwardBackward0(Node):
    """_prelu_kernel_backward(grad_output, self, weight) -> (grad_self, grad_weight), with
    torch's double-backward formulas: they take self >= 0 as the linear side (so at 0 the
    derivative in grad_output is 1 though the value used the weight), and give self zeros
    when only grad_self is differentiated."""

    __slots__ = ("grad_output", "self_", "weight", "weight_view", "weight_shape")
    _saved_fields = ("grad_output", "self_", "weight")
    num_outputs = 2

    def backward(self, grads, xp):
        g_self, g_weight = grads
        x = xp.saved(self.self_)
        w = xp.reshape(xp.saved(self.weight), self.weight_view)
        linear = x >= 0  # (g_weight, like the output it is the gradient of, has x's shape)
        d_grad = d_x = d_w = None
        if self.needs_input_grad(0):
            if g_self is None:
                d_grad = xp.where(linear, 0, g_weight * x)
            elif g_weight is None:
                d_grad = xp.where(linear, g_self, g_self * w)
            else:
                d_grad = xp.where(linear, g_self, g_self * w + g_weight * x)
        if self.needs_input_grad(1) or self.needs_input_grad(2):
            grad_output = xp.saved(self.grad_output)
            if self.needs_input_grad(1):
                d_x = (xp.zeros_like(x) if g_weight is None
                       else xp.where(linear, 0, grad_output * g_weight))
            if self.needs_input_grad(2) and g_self is not None:
                d_w = _to_weight(xp.where(linear, 0, grad_output * g_self), self, xp)
        return d_grad, d_x, d_w


def _prelu_backward(grad: Tensor, x: Tensor, weight: Tensor, node) -> tuple:
    """prelu's gradients as one recorded op of two outputs (create_graph=True); the
    weight's is then summed (SumBackward1) and reshaped (ViewBackward0) to the weight's
    shape as recorded ops, as in torch's graph."""
    w = weight._array.reshape(node.weight_view)
    with np.errstate(all="ignore"):
        arrays = _prelu_grads(grad._array, x._array, w)
    grad_x, grad_w = (wrap(np.asarray(a, dtype=x._array.dtype), x._dtype) for a in arrays)
    if grad_state.enabled and (grad._requires_grad or x._requires_grad
                               or weight._requires_grad):
        twice = new_node(PreluKernelBackwardBackward0, (edge(grad), edge(x), edge(weight)),
                         grad_x._array)
        twice._out_meta = ((grad_x._array.shape, grad_x._array.dtype),) * 2
        twice.grad_output, twice.self_ = SavedTensor(grad), SavedTensor(x)
        twice.weight = SavedTensor(weight)
        twice.weight_view, twice.weight_shape = node.weight_view, node.weight_shape
        set_history(grad_x, twice, 0)
        set_history(grad_w, twice, 1)
    view = node.weight_view
    if tuple(grad_w.shape) != tuple(view):
        lead = grad_w.ndim - len(view)
        dims = tuple(i for i in range(grad_w.ndim) if i < lead or view[i - lead] == 1)
        grad_w = R.sum(grad_w, dims, True)
    if tuple(grad_w.shape) != tuple(node.weight_shape):
        grad_w = S.reshape(grad_w, node.weight_shape)
    return grad_x, grad_w


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    _check_tensor(input, "prelu")
    _check_tensor(weight, "prelu", "weight", 2)
    if weight.ndim > 1:
        raise RuntimeError(
            f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}")
    count = weight._array.size
    ndim = input.ndim
    if count != 1:
        if ndim == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = input._array.shape[1] if ndim > 1 else 1
        if channels != count:
            raise RuntimeError(
                "Mismatch of parameter numbers and input channel size. Found parameter "
                f"numbers = {count} and channel size = {channels}.")
    if input._dtype is not weight._dtype:
        raise RuntimeError(
            f"expected scalar type {_legacy(input._dtype)} but found {_legacy(weight._dtype)}")
    _need_float(input, "prelu_cpu")
    if ndim >= 2:
        view = (count,) + (1,) * (ndim - 2)
    else:
        view = (count,) if ndim == 1 and count != 1 else ((1,) * ndim if ndim else ())
    if count == 1:
        view = (1,) * max(ndim - 1, 0) if ndim >= 2 else ((1,) if ndim == 1 else ())
    w = weight._array.reshape(view)
    with np.errstate(all="ignore"):
        array = np.where(input._array > 0, input._array, w * input._array)
    out = wrap(array.astype(input._array.dtype, copy=False), input._dtype)
    if grad_state.enabled and (input._requires_grad or weight._requires_grad):
        node = new_node(PreluKernelBackward0, (edge(input), edge(weight)), out._array)
        node.self_, node.weight = SavedTensor(input), SavedTensor(weight)
        node.weight_view, node.weight_shape = view, weight._array.shape
        set_history(out, node)
    return out


class RreluWithNoiseBackwardBackward0(_PiecewiseBackwardBackward):
    __slots__ = ()


class _RreluTrainingSlope:
    """rrelu's gradient in training: grad scaled by the slopes drawn in the forward."""

    twice = RreluWithNoiseBackwardBackward0

    @staticmethod
    def slope(grad, x, noise):
        return grad * noise


class RreluWithNoiseBackward0(LeakyReluBackward0):
    """In evaluation a leaky relu of slope (lower + upper) / 2; in training (``negative_slope``
    None) the gradient is scaled by the slopes drawn in the forward (1 where input > 0)."""

    __slots__ = ("noise",)
    _saved_fields = ("self_", "noise")
    twice = RreluWithNoiseBackwardBackward0

    def backward(self, grad, xp):
        if self.negative_slope is None:
            noise = xp.saved(self.noise)
            noise = noise._array if isinstance(noise, Tensor) else noise
            return (_piecewise(_RreluTrainingSlope, grad, xp.saved(self.self_), (noise,)),)
        return super().backward(grad, xp)


class RreluWithNoiseBackward1(RreluWithNoiseBackward0):
    __slots__ = ()


def _rrelu_train(input: Tensor, lower: float, upper: float,
                 node_cls=RreluWithNoiseBackward0) -> Tensor:
    """torch's CPU kernel: walk the elements in row-major order; each one <= 0 takes a slope
    from uniform_real_distribution<double>(lower, upper) (one random64 word, the bounds first
    rounded to the dtype's opmath type), the others keep slope 1."""
    from ember import _random

    _need_float(input, "rrelu_with_noise_out_cpu")
    a = input._array
    opmath = np.float64 if a.dtype == np.float64 else np.float32
    lo, hi = float(opmath(lower)), float(opmath(upper))
    flat = np.ascontiguousarray(a).reshape(-1)
    negative = flat <= 0
    u = _random._uniform_double(_random._gen(None), int(np.count_nonzero(negative)))
    noise = np.ones(flat.shape, dtype=opmath)
    noise[negative] = (u * (hi - lo) + lo).astype(opmath)
    with np.errstate(all="ignore"):
        array = (flat.astype(opmath, copy=False) * noise).astype(a.dtype).reshape(a.shape)
    out = wrap(array, input._dtype)
    if _records(input):
        node = new_node(node_cls, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.noise = SavedTensor(wrap(noise.astype(a.dtype).reshape(a.shape), input._dtype))
        node.negative_slope = None
        set_history(out, node)
    return out


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False) -> Tensor:
    """Randomized leaky relu: in training each element <= 0 is scaled by its own slope drawn
    uniformly from [lower, upper) (torch's stream); in evaluation by (lower + upper) / 2."""
    _check_tensor(input, "rrelu")
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if training:
        if inplace:
            return apply_inplace(input, _rrelu_train, lower, upper, RreluWithNoiseBackward1)
        return _rrelu_train(input, lower, upper)
    slope = (lower + upper) / 2
    if inplace:
        return apply_inplace(input, _rrelu_eval, slope, RreluWithNoiseBackward1)
    return _rrelu_eval(input, slope, RreluWithNoiseBackward0)


def _rrelu_eval(input: Tensor, slope: float, node_cls) -> Tensor:
    _need_float(input, "leaky_relu_cpu")
    return _pointwise(input, lambda a: np.where(a > 0, a, a * slope), node_cls,
                      negative_slope=slope, noise=None)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    return rrelu(input, lower, upper, training, True)


# ----- softmax family -------------------------------------------------------------------------
class SoftmaxBackward0(Node):
    """softmax: result * (grad - sum(grad * result, dim)), torch's kernel order."""

    __slots__ = ("result", "dim")
    _saved_fields = ("result",)

    @fused_half_kernel
    def backward(self, grad, xp):
        y = xp.saved_output(self.result, self)
        return (_softmax_backward_data(grad, y, self.dim, False),)


class LogSoftmaxBackward0(Node):
    """log_softmax: grad - exp(result) * sum(grad, dim)."""

    __slots__ = ("result", "dim")
    _saved_fields = ("result",)

    @fused_half_kernel
    def backward(self, grad, xp):
        y = xp.saved_output(self.result, self)
        return (_softmax_backward_data(grad, y, self.dim, True),)


def _softmax_grad_array(grad, y, dim: int, log: bool):
    if (log and y.dtype == np.float32 and grad.dtype == np.float32 and y.ndim == dim + 1
            and y.size):
        # the float32 log_softmax over the last dim (every classifier's loss), as below with
        # fewer temporaries: same casts, same operations, so the same bits
        # (plain casts and positional outputs: ufunc calls with dtype= cost twice as much)
        total = np.add.reduce(grad, dim, keepdims=True)
        exp = y.astype(np.float64)
        np.exp(exp, exp)
        fused = exp.astype(np.float32).astype(np.float64)  # exp(y) rounded to float
        fused *= total
        np.subtract(grad, fused, fused)
        return fused.astype(np.float32)
    axis = (dim,) if np.ndim(y) else ()
    if y.dtype != np.float32 or not y.size:
        if log:
            return grad - np.exp(y) * np.sum(grad, axis, keepdims=True)
        return y * (grad - np.sum(grad * y, axis, keepdims=True))
    # float32, in torch's kernel's rounding (large inputs leave mostly rounding here)
    inner = np.ndim(y) - 1 > dim
    wide = np.float64
    if log:  # exp(y) * total fused into the subtraction (one rounding)
        total = (np.take(np.cumsum(grad, dim), [-1], dim) if inner
                 else np.sum(grad, axis, keepdims=True))
        fused = grad.astype(wide) - _rounded(np.exp, y).astype(wide) * total.astype(wide)
        return fused.astype(np.float32)
    if not inner:
        return y * (grad - np.sum(grad * y, axis, keepdims=True))
    # along an inner dim: a running sum of fused multiply-adds, one step per entry of ``dim``
    g, out = np.moveaxis(grad, dim, 0), np.moveaxis(y, dim, 0)
    dot = np.zeros(g.shape[1:], np.float32)
    for k in range(g.shape[0]):
        dot = (dot.astype(wide) + g[k].astype(wide) * out[k].astype(wide)).astype(np.float32)
    return np.moveaxis((g - dot) * out, 0, dim)



class SoftmaxBackwardDataBackward0(Node):
    """_softmax_backward_data(grad_output, output): linear in grad_output; torch's
    softmax_double_backward for output."""

    __slots__ = ("grad_output", "output", "dim")
    _saved_fields = ("grad_output", "output")

    def backward(self, grad, xp):
        go, y = xp.saved(self.grad_output), xp.saved(self.output)
        dims = (self.dim,) if len(y.shape) else ()
        d_output = None
        if self.needs_input_grad(1):
            d_output = (go * grad - xp.sum(y * go, dims, True) * grad
                        - go * xp.sum(y * grad, dims, True))
        d_grad = _softmax_backward_data(grad, y, self.dim, False) if self.needs_input_grad(
            0) else None
        return (d_grad, d_output)


class LogSoftmaxBackwardDataBackward0(Node):
    """_log_softmax_backward_data(grad_output, output) = grad_output - exp(output) *
    sum(grad_output): its derivatives in torch's form."""

    __slots__ = ("grad_output", "output", "dim")
    _saved_fields = ("grad_output", "output")

    def backward(self, grad, xp):
        go, y = xp.saved(self.grad_output), xp.saved(self.output)
        dims = (self.dim,) if len(y.shape) else ()
        d_output = None
        if self.needs_input_grad(1):
            d_output = -xp.sum(go, dims, True) * xp.exp(y) * grad
        d_grad = None
        if self.needs_input_grad(0):
            d_grad = grad - xp.sum(grad * xp.exp(y), dims, True)
        return (d_grad, d_output)


def _softmax_backward_data(grad, y, dim: int, log: bool):
    """The (log_)softmax gradient: on arrays the kernel's formula; on tensors a recorded op
    whose own derivative is torch's double-backward formula."""
    if not isinstance(y, Tensor):
        return _softmax_grad_array(grad, y, dim, log)
    with np.errstate(all="ignore"):
        array = _softmax_grad_array(grad._array, y._array, dim, log)
    out = wrap(np.asarray(array, dtype=y._array.dtype), y._dtype)
    if grad_state.enabled and (grad._requires_grad or y._requires_grad):
        node_cls = LogSoftmaxBackwardDataBackward0 if log else SoftmaxBackwardDataBackward0
        node = new_node(node_cls, (edge(grad), edge(y)), out._array)
        node.grad_output, node.output = SavedTensor(grad), SavedTensor(y)
        node.dim = dim
        set_history(out, node)
    return out


def _softmax_dim(name: str, ndim: int, stacklevel: int = 3) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to "
        "include dim=X as an argument.", stacklevel=stacklevel + 1)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_core(input: Tensor, dim: int, log: bool, dtype=None, kernel="softmax") -> Tensor:
    if dtype is not None:
        input = E.to_dtype(input, dtype)
    ndim = input.ndim
    dim = wrap_dim(dim, ndim)
    if input._dtype.category != FLOATING:
        raise NotImplementedError(
            f'"{kernel}_lastdim_kernel_impl" not implemented for \'{_legacy(input._dtype)}\'')
    a = input._array
    axis = dim if ndim else None
    with np.errstate(all="ignore"):
        if a.size == 0:
            array = a.copy()
        else:
            w = a if a.dtype is not HALF else a.astype(np.float32)  # half: float opmath
            shifted = w - w.max(axis=axis, keepdims=True)  # methods skip np.max's wrapper
            exp = np.exp(shifted)
            total = exp.sum(axis=axis, keepdims=True)
            array = shifted - np.log(total) if log else exp / total
    # torch's softmax kernels write a fresh row-major output whatever the input's layout
    out = wrap(np.asarray(array, dtype=a.dtype, order="C"), input._dtype)
    if _records(input):
        node = new_node(LogSoftmaxBackward0 if log else SoftmaxBackward0, (edge(input),),
                        out._array)
        node.result = SavedTensor(out, is_output=True)
        node.dim = dim if ndim else 0
        set_history(out, node)
    return out


def _functional_softmax(input, dim, dtype, log: bool, name: str, negate: bool = False):
    _check_tensor(input, name)
    if dim is None:
        dim = _softmax_dim(name, input.ndim)
    if negate:
        input = E.neg(input)
    return _softmax_core(input, dim, log, dtype, "log_softmax" if log else "softmax")


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: D.dtype | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, computed from x - max(x) (no overflow)."""
    if isinstance(_stacklevel, D.dtype):  # torch.softmax(input, dim, dtype)
        dtype = _stacklevel
    return _functional_softmax(input, dim, dtype, False, "softmax")


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: D.dtype | None = None) -> Tensor:
    """x - logsumexp(x) along ``dim``, stable."""
    if isinstance(_stacklevel, D.dtype):  # torch.log_softmax(input, dim, dtype)
        dtype = _stacklevel
    return _functional_softmax(input, dim, dtype, True, "log_softmax")


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: D.dtype | None = None) -> Tensor:
    if isinstance(_stacklevel, D.dtype):  # positional dtype
        dtype = _stacklevel
    return _functional_softmax(input, dim, dtype, False, "softmin", negate=True)


def _softmax_top(input: Tensor, dim: int, dtype: D.dtype | None = None) -> Tensor:
    """torch.softmax / Tensor.softmax: ``dim`` is required."""
    _check_tensor(input, "softmax")
    return _softmax_core(input, dim, False, dtype, "softmax")


def _log_softmax_top(input: Tensor, dim: int, dtype: D.dtype | None = None) -> Tensor:
    _check_tensor(input, "log_softmax")
    return _softmax_core(input, dim, True, dtype, "log_softmax")


_softmax_top.__name__ = "softmax"
_log_softmax_top.__name__ = "log_softmax"


# ----- normalize ------------------------------------------------------------------------------
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """input / max(||input||_p along dim, eps), composed as torch composes it."""
    _check_tensor(input, "normalize")
    denom = E.clamp_min(R.norm(input, p, dim, keepdim=True), eps)
    result = E.div(input, S.expand_as(denom, input))
    if out is not None:
        from ember.ops.indexing import copy_

        copy_(out, result)
        return out
    return result


# ----- dropout --------------------------------------------------------------------------------
_SELU_DROP_ALPHA = 1.7580993408473766


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _noise(input: Tensor, feature: bool) -> Tensor:
    from ember._random_ops import bernoulli_

    if feature:
        if input.ndim < 2:
            raise RuntimeError(
                "Feature dropout requires at least 2 dimensions in the input")
        shape = input._array.shape[:2] + (1,) * (input.ndim - 2)
        return wrap(np.empty(shape, dtype=input._array.dtype), input._dtype), bernoulli_
    # torch's empty_like keeps the input's memory layout, and the draws follow it
    return wrap(np.empty_like(input._array), input._dtype), bernoulli_


def _dropout_impl(input: Tensor, p: float, train: bool, inplace: bool, feature: bool,
                  alpha: bool) -> Tensor:
    """torch's dropout: draw a 0/1 mask with bernoulli_(1 - p) (the same stream as torch),
    scale it, multiply (alpha dropout also adds a shift)."""
    if p < 0 or p > 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 0 or not train or input._array.size == 0:
        return input
    if p == 1:
        zero = wrap(np.zeros((), dtype=input._array.dtype), input._dtype)
        return E.mul_(input, zero) if inplace else E.mul(input, zero)
    noise, bernoulli_ = _noise(input, feature)
    bernoulli_(noise, 1 - p)
    if alpha:
        a = 1.0 / math.sqrt((_SELU_DROP_ALPHA ** 2 * p + 1) * (1 - p))
        shift = (noise._array - 1) * (_SELU_DROP_ALPHA * a) + _SELU_DROP_ALPHA * a * p
        b = wrap(shift.astype(noise._array.dtype, copy=False), noise._dtype)
        noise = wrap((noise._array * a).astype(noise._array.dtype, copy=False), noise._dtype)
        result = E.mul_(input, noise) if inplace else E.mul(input, noise)
        return E.add_(result, b)
    noise = wrap(noise._array / noise._array.dtype.type(1 - p), noise._dtype)
    return E.mul_(input, noise) if inplace else E.mul(input, noise)


def _check_float_dropout(input: Tensor, p: float, training: bool) -> None:
    _check_p(p)
    if training and 0 < p and input._dtype.category != FLOATING and input._array.size:
        raise RuntimeError(
            f"result type Float can't be cast to the desired output type "
            f"{_legacy(input._dtype)}")


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p)."""
    _check_tensor(input, "dropout")
    _check_float_dropout(input, p, training)
    return _dropout_impl(input, p, training, inplace, False, False)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout that keeps SELU's mean and variance (dropped values go to -alpha * scale)."""
    _check_tensor(input, "alpha_dropout")
    _check_float_dropout(input, p, training)
    return _dropout_impl(input, p, training, inplace, False, True)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    _check_tensor(input, "feature_alpha_dropout")
    _check_float_dropout(input, p, training)
    return _dropout_impl(input, p, training, inplace, True, True)


def _channel_dropout(input: Tensor, p: float, training: bool, inplace: bool,
                     batched: bool) -> Tensor:
    if not batched:
        result = _dropout_impl(S.unsqueeze(input, 0), p, training, inplace, True, False)
        return S.squeeze(result, 0)
    return _dropout_impl(input, p, training, inplace, True, False)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input."""
    _check_tensor(input, "dropout1d")
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note "
            "that dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
            "dimension, a channel dimension, and an optional batch dimension (i.e. 2D or 3D "
            "inputs).")
    _check_float_dropout(input, p, training)
    return _channel_dropout(input, p, training, inplace, input.ndim == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) input (3-D input: channels of (N, C, L), as torch)."""
    _check_tensor(input, "dropout2d")
    _check_p(p)
    ndim = input.ndim
    if ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout2d exists to provide "
            "channel-wise dropout on inputs with 2 spatial dimensions, a channel dimension, "
            "and an optional batch dimension (i.e. 3D or 4D inputs).", stacklevel=2)
    if ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret "
            "the input as one without a batch dimension, i.e. shape (C, H, W). To maintain "
            "the 1D channel-wise dropout behavior, please switch to using dropout1d "
            "instead.", stacklevel=2)
    _check_float_dropout(input, p, training)
    return _dropout_impl(input, p, training, inplace, True, False)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input."""
    _check_tensor(input, "dropout3d")
    _check_p(p)
    ndim = input.ndim
    if ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {ndim}-D input to dropout3d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout3d exists to provide "
            "channel-wise dropout on inputs with 3 spatial dimensions, a channel dimension, "
            "and an optional batch dimension (i.e. 4D or 5D inputs).", stacklevel=2)
    _check_float_dropout(input, p, training)
    return _channel_dropout(input, p, training, inplace, ndim != 4)


def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    _check_tensor(input, "feature_dropout")
    return _dropout_impl(input, p, train, False, True, False)




# ----- one_hot, embedding ---------------------------------------------------------------------
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows (last dimension ``num_classes``, inferred as max + 1 when -1)."""
    _check_tensor(tensor, "one_hot", "tensor")
    if tensor._dtype is not D.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    a = tensor._array
    if a.size == 0:
        if num_classes <= 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        return wrap(np.zeros(a.shape + (num_classes,), dtype=np.int64), D.int64)
    if a.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(a.max()) + 1
    elif a.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return wrap((a[..., None] == np.arange(num_classes)).astype(np.int64), D.int64)


class EmbeddingBackward0(Node):
    """embedding: the rows' gradients summed into the weight (none for padding_idx)."""

    __slots__ = ("indices", "num_weights", "padding_idx", "scale_grad_by_freq")
    _saved_fields = ("indices",)

    def backward(self, grad, xp):
        indices = xp.saved(self.indices)
        if not isinstance(indices, np.ndarray):
            indices = indices._array
        flat = indices.reshape(-1)
        dim = grad.shape[-1]
        rows = xp.reshape(grad, (flat.size, dim))
        if self.padding_idx is not None and self.padding_idx >= 0:
            rows = xp.where(xp.reshape(xp.asarray(flat != self.padding_idx)
                                       if not isinstance(grad, Tensor)
                                       else wrap(flat != self.padding_idx, D.bool_),
                                       (flat.size, 1)), rows, 0)
        scale = None
        if self.scale_grad_by_freq:  # each row's gradient over how often its index occurs
            dt = grad._array.dtype if isinstance(grad, Tensor) else grad.dtype
            counts = np.bincount(flat, minlength=self.num_weights)[flat]
            scale = (1.0 / counts).astype(dt).reshape(flat.size, 1)
        if not isinstance(grad, Tensor):
            out = np.zeros((self.num_weights, dim), dtype=grad.dtype)
            np.add.at(out, flat, rows if scale is None else rows * scale)
            return (out,)
        out = xp.put_at((self.num_weights, dim), (flat,), rows, grad)
        if scale is None:
            return (out,)
        # torch's double backward gathers the rows unscaled: keep the scaled values but let
        # the gradient flow through the unscaled sum (out - out.detach() is exactly zero)
        scaled = xp.put_at((self.num_weights, dim), (flat,), rows.detach() * wrap(
            scale, grad._dtype), grad).detach()
        return (scaled + (out - out.detach()),)


def _embedding_renorm(weight: Tensor, indices: np.ndarray, max_norm: float,
                      norm_type: float) -> None:
    rows = np.unique(indices)
    w = weight._array
    norms = np.linalg.norm(w[rows].astype(np.float64), ord=norm_type, axis=1)
    scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    w[rows] = (w[rows] * scale[:, None]).astype(w.dtype)
    weight._version_counter[0] += 1


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by the integer ``input``."""
    _check_tensor(input, "embedding")
    _check_tensor(weight, "embedding", "weight", 2)
    num_weights = weight._array.shape[0] if weight.ndim else 0
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= num_weights:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -num_weights:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = num_weights + padding_idx
    if sparse:
        raise NotImplementedError("embedding: sparse=True (a sparse gradient) is not "
                                  "implemented in ember, which has no sparse tensors")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    if input._dtype not in (D.int64, D.int32):
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got torch.{_legacy(input._dtype)}Tensor instead (while "
            "checking arguments for embedding)")
    idx = input._array
    if idx.size and (idx.min() < 0 or idx.max() >= num_weights):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _embedding_renorm(weight, idx, max_norm, norm_type)
    out = wrap(weight._array[idx], weight._dtype)
    if _records(weight):
        node = new_node(EmbeddingBackward0, (edge(weight),), out._array)
        node.indices = idx.astype(np.int64, copy=True)
        node.num_weights = num_weights
        node.padding_idx = padding_idx
        node.scale_grad_by_freq = scale_grad_by_freq
        set_history(out, node)
    return out


# ``__all__``: the names ``ember`` exports at top level (torch.softmax, torch.conv2d, ...);
# ``FUNCTIONAL``: the names ``ember.nn.functional`` exports; ``TENSOR_METHODS``: Tensor methods.
__all__: list[str] = [
    "alpha_dropout", "celu", "celu_", "dropout", "feature_alpha_dropout",
    "feature_dropout", "hardshrink", "log_softmax", "prelu", "relu_", "rrelu", "rrelu_",
    "selu", "selu_", "softmax", "threshold", "threshold_",
]
FUNCTIONAL: list[str] = [
    "alpha_dropout", "celu", "celu_", "dropout", "dropout1d", "dropout2d", "dropout3d", "elu",
    "elu_", "embedding", "feature_alpha_dropout", "gelu", "glu", "hardshrink", "hardsigmoid",
    "hardswish", "hardtanh", "hardtanh_", "leaky_relu", "leaky_relu_", "log_softmax",
    "logsigmoid", "mish", "normalize", "one_hot", "prelu", "relu", "relu6", "relu_", "rrelu",
    "rrelu_", "selu", "selu_", "sigmoid", "silu", "softmax", "softmin", "softplus", "softshrink",
    "softsign", "tanh", "tanhshrink", "threshold", "threshold_",
]
TENSOR_METHODS: dict = {
    "softmax": _softmax_top, "log_softmax": _log_softmax_top, "hardshrink": hardshrink,
    "prelu": prelu, "relu_": E.relu_,
}

