"""More elementwise ops: addcmul/addcdiv, bit shifts and the logic torch spells out in full,
sign tests, logit/sinc, heaviside, fmax/fmin, ldexp/nextafter/frexp, gcd/lcm, logcumsumexp,
renorm, and the small Tensor queries (``is_cpu``, ``nbytes``, ``is_nonzero``...).

As elsewhere, each op's forward sits next to its backward node, named as torch names it.
"""

from __future__ import annotations

import numpy as np

from ember import _dtype as D
from ember.autograd import forward_ad as _fw
from ember.autograd.xp import ARRAY_MATH
from ember.ops._core import (
    FLOATING,
    INTEGER,
    Node,
    SavedTensor,
    Tensor,
    _type_name,
    binary_operands,
    edge,
    grad_state,
    new_node,
    set_history,
    wrap,
)
from ember.ops.elementwise import (
    _check_other,
    _check_tensor,
    _inplace,
    _tensor_input,
    _unary,
    bitwise_and,
    bitwise_or,
    bitwise_xor,
    broadcast_error,
    ge,
    gt,
    le,
    logical_binary,
    lt,
    ne,
    to_dtype,
)


# ----- addcmul / addcdiv ----------------------------------------------------------------------
class AddcmulBackward0(Node):
    """self + value * tensor1 * tensor2."""

    __slots__ = ("tensor1", "tensor2", "value")
    _saved_fields = ("tensor1", "tensor2")

    def backward(self, grad, xp):
        value = self.value
        g1 = g2 = None
        if self.needs_input_grad(1):
            g1 = grad * xp.saved(self.tensor2) * value
        if self.needs_input_grad(2):
            g2 = grad * xp.saved(self.tensor1) * value
        return grad, g1, g2

    def release_saved(self) -> None:
        # each factor is saved only for the other's gradient: with neither needed, nothing was
        # saved and a second backward works, as in torch
        if self.tensor1 is not None or self.tensor2 is not None:
            self.tensor1 = self.tensor2 = None
            self._released = True


class AddcdivBackward0(Node):
    """self + value * tensor1 / tensor2."""

    __slots__ = ("tensor1", "tensor2", "value", "integer_tensor2")
    _saved_fields = ("tensor1", "tensor2")

    def backward(self, grad, xp):
        value = self.value
        tensor2 = xp.saved(self.tensor2)
        g1 = g2 = None
        if self.needs_input_grad(1):
            if self.integer_tensor2 is not None:
                # torch's formula computes value / tensor2 into tensor2's integer type
                raise RuntimeError(
                    f"result type {_type_name(D.get_default_dtype())} can't be cast to the "
                    f"desired output type {_type_name(self.integer_tensor2)}")
            g1 = grad * value / tensor2
        if self.needs_input_grad(2):
            g2 = -grad * value * xp.saved(self.tensor1) / (tensor2 * tensor2)
        return grad, g1, g2


def _addc(name: str, input, tensor1, tensor2, value, node_cls) -> Tensor:
    _check_tensor(input, name)
    for position, (arg, label) in enumerate(((tensor1, "tensor1"), (tensor2, "tensor2")), 2):
        if not isinstance(arg, Tensor):
            raise TypeError(f"{name}(): argument '{label}' (position {position}) must be Tensor, "
                            f"not {type(arg).__name__}")
    dtype = D.result_type(input, tensor1, tensor2)
    if name == "addcdiv" and tensor1._dtype.category != FLOATING and (
            tensor2._dtype.category != FLOATING):
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv "
            "behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2))"
            ".to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) for "
            "float inputs. The future addcdiv behavior is just the latter implementation: "
            "(input + value * tensor1 / tensor2), for all dtypes."
        )
    if dtype is D.bool_:
        raise NotImplementedError(f'"{name}_cpu_out" not implemented for \'Bool\'')
    if isinstance(value, Tensor):
        value = value.item()
    # the value is converted to the result's type first (0.5 is 0 for integer tensors)
    value = float(value) if dtype.category == FLOATING else int(value)
    np_dtype = dtype.numpy
    a = input._array.astype(np_dtype, copy=False)
    b = tensor1._array.astype(np_dtype, copy=False)
    c = tensor2._array.astype(np_dtype, copy=False)
    try:
        with np.errstate(all="ignore"):
            inner = b * c if node_cls is AddcmulBackward0 else b / c
            out = wrap(np.asarray(a + np.asarray(value, np_dtype) * inner, np_dtype), dtype)
    except ValueError:
        raise broadcast_error(input, tensor1, tensor2) from None
    if grad_state.enabled and (input._requires_grad or tensor1._requires_grad
                               or tensor2._requires_grad):
        node = new_node(node_cls, (edge(input), edge(tensor1), edge(tensor2)), out._array)
        node.tensor1 = SavedTensor(tensor1) if tensor2._requires_grad else None
        if node_cls is AddcmulBackward0 and not tensor1._requires_grad:
            node.tensor2 = None
        else:
            node.tensor2 = SavedTensor(tensor2)
        node.value = value
        if node_cls is AddcdivBackward0:
            node.integer_tensor2 = None if tensor2._dtype.category == FLOATING else tensor2._dtype
        set_history(out, node)
    return out


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """input + value * tensor1 * tensor2, in the three tensors' promoted dtype."""
    return _addc("addcmul", input, tensor1, tensor2, value, AddcmulBackward0)


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """input + value * tensor1 / tensor2 (torch refuses integer tensor1 and tensor2)."""
    return _addc("addcdiv", input, tensor1, tensor2, value, AddcdivBackward0)


addcmul_ = _inplace(addcmul)
addcdiv_ = _inplace(addcdiv)


# ----- bit shifts and xor ---------------------------------------------------------------------
def _shift(name: str, kernel: str, left: bool):
    def shift(input, other) -> Tensor:
        input = _tensor_input(input)
        a, b, dtype = binary_operands(input, other)
        if dtype.category != INTEGER:
            raise NotImplementedError(
                f'"{kernel}_cpu" not implemented for \'{_type_name(dtype)}\'')
        bits = np.dtype(dtype.numpy).itemsize * 8
        a = np.asarray(a, dtype.numpy)
        b = np.asarray(b, dtype.numpy)
        try:
            # shifts by a negative amount or by the width or more: everything shifted out
            # (a right shift of a negative number keeps its sign bits)
            outside = (b < 0) | (b >= bits)
            amount = np.where(outside, bits - 1, b).astype(dtype.numpy)
            if left:
                result = np.where(outside, 0, np.left_shift(a, amount))
            else:
                shifted = np.right_shift(a, amount)
                result = np.where(outside, shifted if dtype is not D.uint8 else 0,
                                  shifted)
        except ValueError:
            raise broadcast_error(input, other) from None
        return wrap(np.asarray(result, dtype.numpy), dtype)

    shift.__name__ = name
    return shift


bitwise_left_shift = _shift("bitwise_left_shift", "lshift", True)
bitwise_right_shift = _shift("bitwise_right_shift", "rshift", False)
bitwise_left_shift_ = _inplace(bitwise_left_shift)
bitwise_right_shift_ = _inplace(bitwise_right_shift)


def _rlshift(self: Tensor, other) -> Tensor:
    return bitwise_left_shift(other, self)


def _rrshift(self: Tensor, other) -> Tensor:
    return bitwise_right_shift(other, self)


def logical_xor(input: Tensor, other: Tensor) -> Tensor:
    return logical_binary(np.logical_xor, input, other)


logical_xor_ = _inplace(logical_xor)


# ----- sign tests -----------------------------------------------------------------------------
def positive(input: Tensor) -> Tensor:
    """``+x``: the tensor itself (torch refuses bool tensors)."""
    _check_tensor(input, "positive")
    if input._dtype is D.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def signbit(input: Tensor) -> Tensor:
    """Whether the sign bit is set: true for -0.0 and negative NaNs too."""
    _check_tensor(input, "signbit")
    a = input._array
    if input._dtype is D.bool_ or input._dtype is D.uint8:
        return wrap(np.zeros(a.shape, dtype=bool), D.bool_)
    return wrap(np.signbit(a), D.bool_)


# ----- queries --------------------------------------------------------------------------------
def type_as(input: Tensor, other: Tensor) -> Tensor:
    """``input`` cast to ``other``'s dtype (``input`` itself when they already agree)."""
    if not isinstance(other, Tensor):
        raise TypeError(
            f"type_as(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}"
        )
    return to_dtype(input, other._dtype)


def is_nonzero(input: Tensor) -> bool:
    """The truth of a one-element tensor, with torch's errors for any other size."""
    _check_tensor(input, "is_nonzero")
    size = input._array.size
    if size == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if size > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input._array.reshape(()))


def is_signed(input: Tensor) -> bool:
    _check_tensor(input, "is_signed")
    return input._dtype is not D.bool_ and input._dtype is not D.uint8


def is_same_size(input: Tensor, other: Tensor) -> bool:
    _check_tensor(input, "is_same_size")
    _check_other(other, "is_same_size")
    return input._array.shape == other._array.shape


def get_device(input: Tensor) -> int:
    """-1: every ember tensor is on the CPU."""
    _check_tensor(input, "get_device")
    return -1


def is_inference(input: Tensor) -> bool:
    """False: ember has no inference tensors (``inference_mode`` only switches grad off)."""
    _check_tensor(input, "is_inference")
    return False


def storage_offset(input: Tensor) -> int:
    """Elements between the start of the base tensor's memory and this view's first one."""
    base = input
    while base._view_of is not None:
        base = base._view_of[0]
    if base is input or not input._array.size:
        return 0
    start = input._array.__array_interface__["data"][0]
    origin = base._array.__array_interface__["data"][0]
    return max(0, (start - origin) // input._array.itemsize)


def _nbytes(self: Tensor) -> int:
    return self._array.size * self._array.itemsize


# ----- logit, sinc ---------------------------------------------------------------------------
class LogitBackward0(Node):
    """log(x / (1 - x)): grad / (x (1 - x)); zero where eps clamped x."""

    __slots__ = ("self_", "eps")
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        slope = grad / (x * (1 - x))
        eps = self.eps
        if eps is None:
            return (slope,)
        return (xp.where((x >= eps) & (x <= 1 - eps), slope, 0),)


def _logit_array(a: np.ndarray, eps) -> np.ndarray:
    if eps is not None:
        a = np.clip(a, eps, 1 - eps)
    return np.log(a / (1 - a))


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """The inverse of sigmoid; ``eps`` first clamps input to [eps, 1 - eps]."""
    _check_tensor(input, "logit")
    # torch's half logit rounds each step to half (log(x / (1 - x)) of half tensors)
    out = _unary(input, lambda a: _logit_array(a, eps), LogitBackward0, "self_", opmath=False)
    node = _fw.history(out)[0]  # (under forward AD a dual-only output hides its node)
    if node.__class__ is LogitBackward0:
        node.eps = eps
    return out


class SincBackward0(Node):
    """sin(pi x) / (pi x): with y = pi x, grad (y cos y - sin y) / (y x), and 0 where y x is 0
    (at x = 0 the second derivative is NaN, as in torch)."""

    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        product = x * np.pi
        denominator = product * x  # 0 at x = 0, and where it underflows (the slope is ~0 there)
        with np.errstate(all="ignore"):
            slope = (product * xp.cos(product) - xp.sin(product)) / denominator
            return (xp.where(denominator == 0, 0, slope * grad),)


def _sinc_array(a: np.ndarray) -> np.ndarray:
    # in the input's own precision, as torch (sinc(1) in float32 is -2.78e-8, not 0)
    product = a * np.pi
    with np.errstate(all="ignore"):
        return np.where(a == 0, np.ones((), a.dtype), np.sin(product) / product).astype(
            a.dtype, copy=False)


def sinc(input: Tensor) -> Tensor:
    _check_tensor(input, "sinc")
    return _unary(input, _sinc_array, SincBackward0, "self_")


logit_ = _inplace(logit)
sinc_ = _inplace(sinc)


# ----- heaviside, fmax, fmin ------------------------------------------------------------------
def _two_tensors(name: str, input, other, second: str = "other") -> None:
    _check_tensor(input, name)
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument '{second}' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")


def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """0 below zero, 1 above, ``values`` at zero; torch has no derivative for it."""
    from ember.ops.elementwise import _not_implemented

    _two_tensors("heaviside", input, values, "values")
    if input._dtype is not values._dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    a, v = input._array, values._array
    try:
        array = np.where(a == 0, v, a > 0).astype(a.dtype, copy=False)
    except ValueError:
        raise broadcast_error(input, values) from None
    out = wrap(np.asarray(array), input._dtype)
    if grad_state.enabled and (input._requires_grad or values._requires_grad):
        _not_implemented(out, "heaviside", (edge(input), edge(values)))
    return out


class FmaxBackward0(Node):
    """fmax: the gradient goes to self where it won (or other is NaN), else to other."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        a, b = xp.saved(self.self_), xp.saved(self.other)
        to_self = self._to_self(a, b) | (b != b)
        return (xp.where(to_self, grad, 0) if self.needs_input_grad(0) else None,
                xp.where(to_self, 0, grad) if self.needs_input_grad(1) else None)

    @staticmethod
    def _to_self(a, b):
        return a >= b


class FminBackward0(FmaxBackward0):
    __slots__ = ()

    @staticmethod
    def _to_self(a, b):
        return a <= b


def _nan_extremum(name: str, input, other, function, node_cls) -> Tensor:
    _two_tensors(name, input, other)
    a, b, dtype = binary_operands(input, other)
    try:
        out = wrap(np.asarray(function(a, b), dtype.numpy), dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    if grad_state.enabled and (input._requires_grad or other._requires_grad):
        node = new_node(node_cls, (edge(input), edge(other)), out._array)
        node.self_, node.other = SavedTensor(input), SavedTensor(other)
        set_history(out, node)
    return out


def fmax(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise maximum that ignores a NaN when the other value is a number."""
    return _nan_extremum("fmax", input, other, np.fmax, FmaxBackward0)


def fmin(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise minimum that ignores a NaN when the other value is a number."""
    return _nan_extremum("fmin", input, other, np.fmin, FminBackward0)


# ----- ldexp, nextafter, frexp ----------------------------------------------------------------
class LdexpBackward0(Node):
    """self * 2**other: grad * 2**other for self, grad * result * ln 2 for other."""

    __slots__ = ("other", "result", "integer_other")
    _saved_fields = ("other", "result")

    def backward(self, grad, xp):
        g_self = g_other = None
        if self.needs_input_grad(0):
            other = xp.saved(self.other)
            power = xp.exp2(other * 1.0)
            if self.integer_other:  # torch takes 2**other in integers: 0 for negative other
                power = xp.where(other < 0, 0, power)
            g_self = grad * power
        if self.needs_input_grad(1):
            g_other = grad * xp.saved_output(self.result, self) * _LN2
        return g_self, g_other


_LN2 = float(np.log(2.0))


def ldexp(input: Tensor, other: Tensor) -> Tensor:
    """input * 2**other, in a floating dtype (2**other is float for integer ``other``)."""
    _two_tensors("ldexp", input, other)
    dtype = D.result_type(input, other)
    if dtype.category != FLOATING:
        dtype = D.get_default_dtype()
    np_dtype = dtype.numpy
    try:
        with np.errstate(all="ignore"):
            power = np.exp2(other._array.astype(np_dtype))
            array = input._array.astype(np_dtype) * power
    except ValueError:
        raise broadcast_error(input, other) from None
    out = wrap(np.asarray(array, np_dtype), dtype)
    if grad_state.enabled and (input._requires_grad or other._requires_grad):
        node = new_node(LdexpBackward0, (edge(input), edge(other)), out._array)
        node.other = SavedTensor(other)
        node.integer_other = other._dtype.category != FLOATING
        node.result = SavedTensor(out, is_output=True)
        set_history(out, node)
    return out


def ldexp_(self: Tensor, other: Tensor) -> Tensor:
    if self._dtype.category != FLOATING:
        raise RuntimeError(f"ldexp can't be cast to the desired output type "
                           f"{_type_name(self._dtype)}")
    return _inplace(ldexp)(self, other)


class NextafterBackward0(Node):
    """The gradient passes to self where it moved; other gets zeros (only its shape is
    read, so that part works again after the saved values are freed)."""

    __slots__ = ("self_", "other", "other_sizes")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        g_self = g_other = None
        if self.needs_input_grad(0):
            a, b = xp.saved(self.self_), xp.saved(self.other)
            g_self = xp.where(a != b, grad, 0)
        if self.needs_input_grad(1):
            g_other = xp.zeros(self.other_sizes, grad)
        return g_self, g_other

    def release_saved(self) -> None:
        if self.self_ is not None:  # saved only when self needs a gradient
            self.self_ = self.other = None
            self._released = True


def nextafter(input: Tensor, other: Tensor) -> Tensor:
    """The next floating-point value after ``input`` towards ``other``."""
    _two_tensors("nextafter", input, other)
    a, b, dtype = binary_operands(input, other)
    if dtype.category != FLOATING:
        raise NotImplementedError(
            f'"nextafter_cpu" not implemented for \'{_type_name(dtype)}\'')
    try:
        out = wrap(np.asarray(np.nextafter(a, b), dtype.numpy), dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    if grad_state.enabled and (input._requires_grad or other._requires_grad):
        node = new_node(NextafterBackward0, (edge(input), edge(other)), out._array)
        if input._requires_grad:
            node.self_, node.other = SavedTensor(input), SavedTensor(other)
        else:
            node.self_ = node.other = None
        node.other_sizes = other._array.shape
        set_history(out, node)
    return out


nextafter_ = _inplace(nextafter)


class FrexpBackward0(Node):
    """mantissa = self / 2**exponent: grad / 2**exponent (the exponent is piecewise
    constant)."""

    __slots__ = ("exponent",)
    _saved_fields = ("exponent",)

    def backward(self, grad, xp):
        exponent = xp.saved(self.exponent)
        return (grad / xp.exp2(exponent * 1.0),)


def _frexp_result():
    import collections

    from ember.ops.reduction import _NamedTupleRepr

    base = collections.namedtuple("frexp", ["mantissa", "exponent"])
    return type("frexp", (_NamedTupleRepr, base), {"__slots__": (), "_torch_name": "frexp"})


frexp_result = _frexp_result()


def frexp(input: Tensor):
    """(mantissa, exponent) with input = mantissa * 2**exponent, |mantissa| in [0.5, 1)."""
    _check_tensor(input, "frexp")
    if input._dtype.category != FLOATING:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    mantissa, exponent = np.frexp(input._array)
    mantissa_t = wrap(np.asarray(mantissa), input._dtype)
    exponent_t = wrap(np.asarray(exponent, np.int32), D.int32)
    if input._requires_grad and grad_state.enabled:
        node = new_node(FrexpBackward0, (edge(input),), mantissa_t._array)
        node.exponent = SavedTensor(exponent_t)
        set_history(mantissa_t, node)
    return frexp_result(mantissa_t, exponent_t)


# ----- logcumsumexp ---------------------------------------------------------------------------
def _logcumsumexp_array(a: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.logaddexp.accumulate(a, axis=axis)


class LogcumsumexpBackward0(Node):
    """d result_j / d x_i = exp(x_i - result_j) for j >= i: the gradient is a reversed
    cumulative sum, done in log space (positive and negative parts of grad apart) so that
    large inputs neither overflow nor underflow."""

    __slots__ = ("self_", "result", "dim")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        result = xp.saved_output(self.result, self)
        d = self.dim
        if grad.ndim == 0:
            return (grad * 1,)
        # entries of the other sign stand at the lowest finite value, not -inf: -inf - -inf
        # would be NaN where result is -inf too
        lowest = float(np.finfo(grad.dtype if grad.__class__ is np.ndarray
                                else grad._dtype.numpy).min)
        if grad.__class__ is np.ndarray:
            with np.errstate(all="ignore"):
                log_abs = np.log(np.abs(grad))

                def part(mask):
                    logs = np.where(mask, log_abs, lowest) - result
                    rev = np.flip(np.logaddexp.accumulate(np.flip(logs, d), axis=d), d)
                    return np.exp(rev + x)

                return (part(grad > 0) - part(grad < 0),)
        from ember.ops.selection import flip

        def part_t(mask):
            # the log of the masked entries only: log(0) has an infinite derivative
            logs = xp.where(mask, xp.log(xp.where(mask, xp.abs(grad), 1.0)), lowest) - result
            return xp.exp(flip(logcumsumexp(flip(logs, (d,)), d), (d,)) + x)

        return (part_t(grad > 0) - part_t(grad < 0),)


def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """log(cumsum(exp(input))) along ``dim``, computed without overflow."""
    from ember._tensor import _canonical_dim

    _check_tensor(input, "logcumsumexp")
    a = input._array
    d = _canonical_dim(dim, a.ndim) if a.ndim else _canonical_dim(dim, 0)
    if input._dtype.category != FLOATING:
        raise NotImplementedError(
            f'"logcumsumexp_out_cpu" not implemented for \'{_type_name(input._dtype)}\'')
    array = a.copy() if a.ndim == 0 else _logcumsumexp_array(a, d)
    out = wrap(array, input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(LogcumsumexpBackward0, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.result = SavedTensor(out, is_output=True)
        node.dim = d if a.ndim else 0
        set_history(out, node)
    return out


# ----- renorm ---------------------------------------------------------------------------------
def _renorm_norm(x, p: float, dims: tuple, xp):
    """The p-norm of each slice (keepdim), in either world."""
    if p == np.inf:
        if isinstance(x, np.ndarray):
            return np.max(np.abs(x), axis=dims, keepdims=True, initial=0)
        from ember.ops.reduction import amax

        return amax(xp.abs(x), dims, keepdim=True)
    if p == 1:
        return xp.sum(xp.abs(x), dims, keepdim=True)
    if p == 2:
        return xp.sqrt(xp.sum(x * x, dims, keepdim=True))
    return xp.sum(xp.abs(x) ** p, dims, keepdim=True) ** (1.0 / p)


class RenormBackward0(Node):
    """out = x * f(norm) per slice, f = maxnorm / (norm + 1e-7) where norm > maxnorm, else 1:
    grad * f, plus (through the slice's norm) sum(grad * x) * f'(norm) * d norm / d x (ties
    of an infinity norm share d norm evenly)."""

    __slots__ = ("self_", "p", "dims", "maxnorm")
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        x = xp.saved(self.self_)
        p, dims, maxnorm = self.p, self.dims, self.maxnorm
        norm = _renorm_norm(x, p, dims, xp)
        over = norm > maxnorm
        denominator = norm + 1e-7
        factor = xp.where(over, maxnorm / denominator, 1.0)
        slope = xp.where(over, -maxnorm / (denominator * denominator), 0.0)
        along = xp.sum(grad * x, dims, keepdim=True) * slope
        safe = xp.where(over, norm, 1.0)
        if p == np.inf:
            ties = xp.abs(x) == norm
            count = xp.sum(xp.where(ties, 1.0, 0.0), dims, keepdim=True)
            dnorm = xp.where(ties, xp.sign(x), 0.0) / xp.where(count > 0, count, 1.0)
        elif p == 1:
            dnorm = xp.sign(x)
        elif p == 2:
            dnorm = x / safe
        else:
            dnorm = xp.sign(x) * xp.abs(x) ** (p - 1) / safe ** (p - 1)
        return (grad * factor + along * dnorm,)


def renorm(input: Tensor, p, dim: int, maxnorm) -> Tensor:
    """Each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to it."""
    from ember._tensor import _canonical_dim

    _check_tensor(input, "renorm")
    if not p > 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm:g}")
    a = input._array
    d = _canonical_dim(dim, a.ndim)
    if a.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {a.ndim} dimensions")
    if input._dtype.category != FLOATING:
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {_type_name(input._dtype)}")
    p, maxnorm = float(p), float(maxnorm)
    dims = tuple(i for i in range(a.ndim) if i != d)
    if p == np.inf:
        for k in dims:
            if a.shape[k] == 0:  # torch's text, its missing space included
                raise RuntimeError(
                    f"linalg.vector_norm cannot compute the inf norm on the dimension {k}because "
                    "this dimension is empty and the operation does not have an identity")
    with np.errstate(all="ignore"):
        norm = _renorm_norm(a, p, dims, ARRAY_MATH).astype(a.dtype, copy=False)
        factor = np.where(norm > maxnorm, a.dtype.type(maxnorm) / (norm + a.dtype.type(1e-7)),
                          a.dtype.type(1))
        out = wrap(np.asarray(a * factor, a.dtype), input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(RenormBackward0, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.p, node.dims, node.maxnorm = p, dims, maxnorm
        set_history(out, node)
    return out


renorm_ = _inplace(renorm)


# ----- gcd, lcm, isreal -----------------------------------------------------------------------
def _integer_pair(name: str, function):
    def op(input: Tensor, other: Tensor) -> Tensor:
        _two_tensors(name, input, other)
        a, b, dtype = binary_operands(input, other)
        if dtype.category != INTEGER:
            raise NotImplementedError(f'"{name}_cpu" not implemented for \'{_type_name(dtype)}\'')
        try:
            return wrap(np.asarray(function(a, b), dtype.numpy), dtype)
        except ValueError:
            raise broadcast_error(input, other) from None

    op.__name__ = name
    op.__doc__ = f"Elementwise {name} of two integer tensors (never negative)."
    return op


gcd = _integer_pair("gcd", np.gcd)
lcm = _integer_pair("lcm", np.lcm)
gcd_ = _inplace(gcd)
lcm_ = _inplace(lcm)


def isreal(input: Tensor) -> Tensor:
    """True everywhere: ember's tensors are never complex."""
    _check_tensor(input, "isreal")
    return wrap(np.ones(input._array.shape, dtype=bool), D.bool_)


# The names ``ember`` exports from this family, and the Tensor methods it adds.
__all__: list[str] = [
    "addcdiv", "addcmul", "bitwise_and", "bitwise_left_shift", "bitwise_or",
    "bitwise_right_shift", "bitwise_xor", "fmax", "fmin", "frexp", "gcd", "gcd_",
    "get_device", "heaviside", "is_inference", "is_nonzero", "is_same_size", "is_signed",
    "isreal", "lcm", "lcm_", "ldexp", "ldexp_", "logcumsumexp", "logical_xor", "logit", "logit_",
    "nextafter", "positive", "renorm", "signbit", "sinc", "sinc_",
]
TENSOR_METHODS: dict = {
    **{name: globals()[name] for name in __all__},
    "addcmul_": addcmul_, "addcdiv_": addcdiv_,
    "bitwise_left_shift_": bitwise_left_shift_, "bitwise_right_shift_": bitwise_right_shift_,
    "__lshift__": bitwise_left_shift, "__rshift__": bitwise_right_shift,
    "__ilshift__": bitwise_left_shift_, "__irshift__": bitwise_right_shift_,
    "__rlshift__": _rlshift, "__rrshift__": _rrshift,
    "logical_xor_": logical_xor_, "heaviside_": _inplace(heaviside),
    "nextafter_": nextafter_, "renorm_": renorm_,
    "less": lt, "less_equal": le, "greater": gt, "greater_equal": ge, "not_equal": ne,
    "type_as": type_as, "storage_offset": storage_offset,
    "is_cpu": property(lambda self: True),
    "itemsize": property(lambda self: self._array.itemsize),
    "nbytes": property(_nbytes),
    "output_nr": property(lambda self: self._output_nr),
}
