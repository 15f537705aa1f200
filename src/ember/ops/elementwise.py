"""Elementwise ops: arithmetic, unary math, activations, comparisons, ``where``, casts.

Each op is a node class holding its derivative (named as torch names it, formulas from
torch's derivatives.yaml) followed by its forward function. Broadcasting is undone by the
engine, so formulas return gradients in the broadcast shape.
"""

from __future__ import annotations

import math

import numpy as np

from ember import _dtype as D
from ember.autograd import forward_ad as _fw
from ember.autograd.xp import fused_half_kernel
from ember.ops._core import (
    FLOATING,
    HALF,
    NO_EDGE,
    Node,
    SavedTensor,
    Tensor,
    apply_inplace,
    as_scalar,
    as_tensor_operand,
    binary_operands,
    cast,
    edge,
    grad_state,
    new_node,
    set_history,
    through_float32,
    wrap,
)


def _records(input, other) -> bool:
    """Grad mode is on and one operand requires grad (the other may be a Python number)."""
    return grad_state.enabled and (
        input._requires_grad or (isinstance(other, Tensor) and other._requires_grad)
    )


def _save(value):
    """Save an operand for backward: tensors with their version, numbers as they are."""
    return SavedTensor(value) if isinstance(value, Tensor) else value


def _edge_of(value):
    return edge(value) if isinstance(value, Tensor) else NO_EDGE


def _tensor_input(input) -> Tensor:
    return input if isinstance(input, Tensor) else as_tensor_operand(input)


def _shape(value) -> tuple:
    """A tensor's shape (a tuple stands for itself, a number is 0-dim)."""
    if isinstance(value, tuple):
        return value
    return value._array.shape if isinstance(value, Tensor) else ()


def broadcast_error(*values) -> RuntimeError:
    """torch's error for operands whose shapes do not broadcast (ATen's infer_size)."""
    result: tuple = ()
    for value in values:
        shape = _shape(value)
        ndim = max(len(result), len(shape))
        sizes = []
        for i in range(ndim - 1, -1, -1):
            offset = ndim - 1 - i
            a = result[len(result) - 1 - offset] if offset < len(result) else 1
            b = shape[len(shape) - 1 - offset] if offset < len(shape) else 1
            if a != b and a != 1 and b != 1:
                return RuntimeError(
                    f"The size of tensor a ({a}) must match the size of tensor b ({b}) at "
                    f"non-singleton dimension {i}"
                )
            sizes.append(b if a == 1 else a)
        result = tuple(reversed(sizes))
    return RuntimeError(f"shapes {[list(_shape(v)) for v in values]} do not broadcast")


def _check_alpha(alpha, dtype) -> None:
    if isinstance(alpha, float) and dtype.category != FLOATING:
        raise RuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )


def _check_integer_divisor(a, b, dtype) -> None:
    """Integer division by zero is an error in torch (NumPy would give 0 and a warning), unless
    the result is empty (nothing is divided) or the shapes do not broadcast (that error first)."""
    if dtype.category == FLOATING or not np.any(np.asarray(b) == 0):
        return
    try:
        if 0 in np.broadcast_shapes(np.shape(a), np.shape(b)):
            return
    except ValueError:
        return
    raise RuntimeError("ZeroDivisionError")


# ----- add / sub ------------------------------------------------------------------------------
class AddBackward0(Node):
    """self + alpha * other: the gradient passes through (times alpha for other)."""

    __slots__ = ("alpha",)

    def backward(self, grad, xp):
        alpha = self.alpha
        return grad, (grad if alpha == 1 else grad * alpha)


def add(input, other, *, alpha=1) -> Tensor:
    if input.__class__ is not Tensor:
        input = _tensor_input(input)
    a, b, dtype = binary_operands(input, other)
    try:
        if alpha == 1:
            out = wrap(a + b, dtype)
        else:
            _check_alpha(alpha, dtype)
            out = wrap(a + b * alpha, dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    if _records(input, other):
        node = new_node(AddBackward0, (edge(input), _edge_of(other)), out._array)
        node.alpha = alpha
        set_history(out, node)
    return out


class SubBackward0(Node):
    """self - alpha * other."""

    __slots__ = ("alpha",)

    def backward(self, grad, xp):
        return grad, (-grad if self.alpha == 1 else grad * -self.alpha)


def _check_bool_sub(input: Tensor, other) -> None:
    other_bool = isinstance(other, bool) or getattr(other, "_dtype", None) is D.bool_
    if input._dtype is D.bool_ and other_bool:
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the "
            "`^` or `logical_xor()` operator instead."
        )
    if input._dtype is D.bool_ or other_bool:
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead."
        )


def sub(input, other, *, alpha=1) -> Tensor:
    input = _tensor_input(input)
    if input._dtype is D.bool_ or other.__class__ is bool or getattr(other, "_dtype", 0) is D.bool_:
        _check_bool_sub(input, other)
    a, b, dtype = binary_operands(input, other)
    if alpha != 1:
        _check_alpha(alpha, dtype)
    try:
        out = wrap(a - b if alpha == 1 else a - b * alpha, dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    if _records(input, other):
        node = new_node(SubBackward0, (edge(input), _edge_of(other)), out._array)
        node.alpha = alpha
        set_history(out, node)
    return out


class RsubBackward1(Node):
    """other - alpha * self, with ``other`` a number (``2 - x``)."""

    __slots__ = ("alpha",)

    def backward(self, grad, xp):
        return (-grad if self.alpha == 1 else grad * -self.alpha,)


class RsubBackward0(Node):
    """other - alpha * self, both tensors."""

    __slots__ = ("alpha",)

    def backward(self, grad, xp):
        return (-grad if self.alpha == 1 else grad * -self.alpha), grad


def rsub(input, other, *, alpha=1) -> Tensor:
    input = _tensor_input(input)
    if input._dtype is D.bool_ or other.__class__ is bool or getattr(other, "_dtype", 0) is D.bool_:
        _check_bool_sub(input, other)
    a, b, dtype = binary_operands(input, other)
    if alpha != 1:
        _check_alpha(alpha, dtype)
    try:
        out = wrap(b - a if alpha == 1 else b - a * alpha, dtype)
    except ValueError:
        raise broadcast_error(other, input) from None
    if _records(input, other):
        if isinstance(other, Tensor):
            node = new_node(RsubBackward0, (edge(input), edge(other)), out._array)
        else:
            node = new_node(RsubBackward1, (edge(input),), out._array)
        node.alpha = alpha
        set_history(out, node)
    return out


# ----- mul / div ------------------------------------------------------------------------------
class MulBackward0(Node):
    """self * other: each gets grad times the other."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        (self_node, _), (other_node, _) = self.next_functions
        return (
            grad * xp.saved(self.other) if self_node is not None else None,
            grad * xp.saved(self.self_) if other_node is not None else None,
        )


_HALF_DTYPE = D.float16  # (the ember dtype; HALF is NumPy's)


def mul(input, other) -> Tensor:
    if input.__class__ is not Tensor:
        input = _tensor_input(input)
    a, b, dtype = binary_operands(input, other)
    try:
        out = wrap(a * b if dtype is not _HALF_DTYPE else _half_with_number(np.multiply, a, b),
                   dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    if grad_state.enabled:
        other_grad = other_requires_grad(other)
        if input._requires_grad or other_grad:
            node = new_node(MulBackward0, (edge(input), _edge_of(other)), out._array)
            node.other = _save(other) if input._requires_grad else None
            node.self_ = SavedTensor(input) if other_grad else None
            if dtype is _HALF_DTYPE:
                node.other = _number_in_float32(node.other)
            set_history(out, node)
    return out


def _number_in_float32(value):
    """A number as a float32 scalar (anything else as it is): torch's half mul and div take a
    number operand in float32, their opmath type, where NumPy would round it to half. Saved
    this way in the node, ``grad * number`` and ``grad / number`` compute in float32 too (the
    engine rounds the result to half)."""
    if value.__class__ is float or value.__class__ is int:
        with np.errstate(over="ignore"):
            return np.float32(value)
    return value


def _half_with_number(ufunc, a, b):
    """Half precision ``a * b`` or ``a / b``, a number ``b`` taken in float32."""
    number = _number_in_float32(b)
    if number is b:
        return ufunc(a, b)
    with np.errstate(over="ignore"):
        return ufunc(a.astype(np.float32), number).astype(HALF)


def other_requires_grad(other) -> bool:
    return isinstance(other, Tensor) and other._requires_grad


class DivBackward0(Node):
    """self / other: grad / other, and -grad * ((self / other) / other) (torch's order, which
    does not overflow other**2)."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        other = xp.saved(self.other)
        return (
            grad / other if self.needs_input_grad(0) else None,
            -grad * ((xp.saved(self.self_) / other) / other) if self.needs_input_grad(1)
            else None,
        )


def _true_divide_operands(input, other):
    a, b, dtype = binary_operands(input, other)
    if dtype.category != FLOATING:  # int / int gives the default float dtype, as in torch
        dtype = D.get_default_dtype()
        a = cast(a, dtype)
        if isinstance(b, np.ndarray):
            b = cast(b, dtype)
    return a, b, dtype


class DivBackward2(Node):
    """self / other rounded ('trunc' or 'floor'): piecewise constant, so zero (torch: grad * 0).

    torch's node saves both operands (its formula names them), so, as there, a second
    backward through it fails.
    """

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        return (
            grad * 0 if self.needs_input_grad(0) else None,
            grad * 0 if self.needs_input_grad(1) else None,
        )


def _trunc_divide(a, b, dtype) -> np.ndarray:
    if dtype.category == FLOATING:
        return np.trunc(a / b)
    quotient = np.floor_divide(a, b)
    inexact = (np.remainder(a, b) != 0) & ((np.asarray(a) < 0) != (np.asarray(b) < 0))
    return np.where(inexact, quotient + 1, quotient).astype(quotient.dtype)


def _rounded_div(input: Tensor, other, rounding_mode: str) -> Tensor:
    a, b, dtype = binary_operands(input, other)
    _check_integer_divisor(a, b, dtype)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            if rounding_mode == "floor":
                array = np.floor_divide(a, b)
            else:
                array = _trunc_divide(a, b, dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    out = wrap(np.asarray(array, dtype=dtype.numpy), dtype)
    if _records(input, other):
        node = new_node(DivBackward2, (edge(input), _edge_of(other)), out._array)
        node.self_, node.other = SavedTensor(input), _save(other)
        set_history(out, node)
    return out


def div(input, other, *, rounding_mode: str | None = None) -> Tensor:
    input = _tensor_input(input)
    if rounding_mode is not None:
        if rounding_mode not in ("trunc", "floor"):
            raise RuntimeError(
                "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                f"'{rounding_mode}'"
            )
        return _rounded_div(input, other, rounding_mode)
    a, b, dtype = _true_divide_operands(input, other)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = wrap(a / b if dtype is not _HALF_DTYPE else _half_with_number(np.divide, a, b),
                       dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    if _records(input, other):
        node = new_node(DivBackward0, (edge(input), _edge_of(other)), out._array)
        node.other = _save(other) if input._requires_grad or other_requires_grad(other) else None
        if dtype is _HALF_DTYPE:
            node.other = _number_in_float32(node.other)
        node.self_ = SavedTensor(input) if other_requires_grad(other) else None
        set_history(out, node)
    return out


true_divide = divide = div


class ReciprocalBackward0(Node):
    """1 / self: -grad * result**2."""

    __slots__ = ("result",)
    _saved_fields = ("result",)

    def backward(self, grad, xp):
        result = xp.saved_output(self.result, self)
        return (-grad * (result * result),)


def reciprocal(input: Tensor) -> Tensor:
    _check_tensor(input, "reciprocal")
    a = _float_array(input)
    with np.errstate(divide="ignore"):
        out = wrap(np.reciprocal(a), _float_dtype(input))
    if input._requires_grad and grad_state.enabled:
        node = new_node(ReciprocalBackward0, (edge(input),), out._array)
        node.result = SavedTensor(out, is_output=True)
        set_history(out, node)
    return out


def rdiv(input: Tensor, other) -> Tensor:
    """``other / input`` for a number ``other``; torch computes it as reciprocal * other."""
    if isinstance(other, Tensor):
        return div(other, input)
    return mul(reciprocal(input), other)


class NotImplemented(Node):  # noqa: A001 - torch gives these nodes this very name
    """An op torch has no derivative for (floor_divide, number % tensor): fails when reached."""

    __slots__ = ("op",)

    def name(self) -> str:
        return "torch::autograd::NotImplemented"

    def backward(self, grad, xp):
        raise RuntimeError(f"derivative for aten::{self.op} is not implemented")


def _not_implemented(out: Tensor, op: str, edges: tuple) -> None:
    node = new_node(NotImplemented, edges, out._array)
    node.op = op
    set_history(out, node)


def floor_divide(input, other) -> Tensor:
    input = _tensor_input(input)
    a, b, dtype = binary_operands(input, other)
    _check_integer_divisor(a, b, dtype)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = wrap(np.floor_divide(a, b), dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    if _records(input, other):
        _not_implemented(out, "floor_divide", (edge(input), _edge_of(other)))
    return out


class RemainderBackward0(Node):
    """self - floor(self / other) * other, ``other`` a number: the gradient passes to self."""

    __slots__ = ()

    def backward(self, grad, xp):
        return (grad,)


class _RoundedRemainderBackward(Node):
    """self - round(self / other) * other, ``rounding`` being floor (remainder) or trunc
    (fmod): grad for self, and -grad * round(self / other) for other."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")
    rounding = "floor"

    def release_saved(self) -> None:
        # self and other are saved only for other's gradient; a node that saved nothing
        # can run again, as in torch
        if getattr(self, "self_", None) is not None or getattr(self, "other", None) is not None:
            super().release_saved()

    def backward(self, grad, xp):
        if not self.needs_input_grad(1):
            return grad, None
        self_, other = xp.saved(self.self_), xp.saved(self.other)
        if isinstance(self_, np.ndarray):
            with np.errstate(all="ignore"):
                quotient = getattr(np, self.rounding)(self_ / other)
        else:  # torch's formula rounds inside the division, whose own gradient is zero
            quotient = div(self_, other, rounding_mode=self.rounding)
        return grad, -grad * quotient


class RemainderBackward1(_RoundedRemainderBackward):
    __slots__ = ()
    rounding = "floor"


def remainder(input, other) -> Tensor:
    if not isinstance(input, Tensor):  # number % tensor: torch has no derivative for it
        out = remainder(_tensor_input(input), other.detach())
        if _records(other, None):
            _not_implemented(out, "remainder", (edge(other),))
        return out
    a, b, dtype = binary_operands(input, other)
    _check_integer_divisor(a, b, dtype)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = wrap(np.remainder(a, b), dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    if _records(input, other):
        if not isinstance(other, Tensor):
            set_history(out, new_node(RemainderBackward0, (edge(input),), out._array))
            return out
        node = new_node(RemainderBackward1, (edge(input), edge(other)), out._array)
        if other_requires_grad(other):
            node.self_, node.other = SavedTensor(input), SavedTensor(other)
        set_history(out, node)
    return out


class FloorBackward0(Node):
    """floor is piecewise constant: a zero gradient."""

    __slots__ = ()

    def backward(self, grad, xp):
        return (xp.zeros_like(grad),)


def floor(input: Tensor) -> Tensor:
    """Round down; integer tensors come back unchanged (as copies), bools are refused."""
    _check_tensor(input, "floor")
    dtype = input._dtype
    if dtype.category != FLOATING:
        if dtype is D.bool_:
            raise NotImplementedError("\"floor_vml_cpu\" not implemented for 'Bool'")
        return wrap(input._array.copy(), dtype)
    return _unary(input, np.floor, FloorBackward0, None, floating=False)


# ----- pow ------------------------------------------------------------------------------------
class PowBackward0(Node):
    """self ** exponent (a number): grad * exponent * self ** (exponent - 1)."""

    __slots__ = ("self_", "exponent")
    _saved_fields = ("self_", "exponent")

    def backward(self, grad, xp):
        exponent = self.exponent
        self_ = xp.saved(self.self_)
        if exponent == 0:
            return (grad * 0,)
        if exponent == 0.5 and isinstance(self_, np.ndarray):
            # torch's x ** -0.5 is rsqrt (-0.0 gives -inf; NumPy's power gives +inf). On
            # tensors ``**`` is ember's pow, which already does that and records the node
            # torch records, so only arrays need the spelled-out form.
            return (grad * (exponent / xp.sqrt(self_)),)
        return (grad * (exponent * self_ ** (exponent - 1)),)


class PowBackward1(Node):
    """self ** exponent (a tensor)."""

    __slots__ = ("self_", "exponent", "result")
    _saved_fields = ("self_", "exponent", "result")

    def backward(self, grad, xp):
        self_, exponent = xp.saved(self.self_), xp.saved(self.exponent)
        grad_self = grad_exponent = None
        if self.needs_input_grad(0):
            grad_self = xp.where(exponent == 0, 0.0, grad * exponent * self_ ** (exponent - 1))
        if self.needs_input_grad(1):
            result = xp.saved_output(self.result, self)
            base = xp.cast(self_, result)  # torch takes the log in the promoted dtype
            grad_exponent = grad * xp.where((base == 0) & (exponent >= 0), 0.0,
                                            result * xp.log(base))
        return grad_self, grad_exponent


class PowBackward2(Node):
    """self (a number) ** exponent: grad * result * log(self); for self == 0, torch takes 0
    where exponent >= 0 (and result * log(0) = -inf elsewhere)."""

    __slots__ = ("self_", "exponent", "result")
    _saved_fields = ("exponent", "result")

    def backward(self, grad, xp):
        base = self.self_
        result = xp.saved_output(self.result, self)
        if base == 0:
            exponent = xp.saved(self.exponent)
            return (grad * xp.where(exponent >= 0, 0.0, result * float("-inf")),)
        log_base = math.log(base) if base > 0 else float("nan")
        return (grad * (result * log_base),)


def _check_int_pow(a, b, dtype) -> None:
    if dtype.category != FLOATING and np.any(np.asarray(b) < 0):
        raise RuntimeError("Integers to negative integer powers are not allowed.")


def _power(a, b, dtype) -> np.ndarray:
    """a ** b; integers to negative integer powers as torch's powi: 1, +-1 for -1, else 0."""
    if b.__class__ is float and b == -0.5 and dtype.category == FLOATING:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.reciprocal(np.sqrt(a))  # torch's rsqrt: -0.0 ** -0.5 is -inf
    if dtype.category == FLOATING or not np.any(np.asarray(b) < 0):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.power(a, b)
    negative = np.asarray(b) < 0
    result = np.power(a, np.where(negative, 0, b))
    odd = np.remainder(b, 2) != 0
    inverse = np.where(a == 1, 1, np.where(a == -1, np.where(odd, -1, 1), 0))
    return np.where(negative, inverse, result).astype(result.dtype)


def pow(input, exponent) -> Tensor:
    if not isinstance(input, Tensor):
        return _scalar_pow(input, exponent)
    a, b, dtype = binary_operands(input, exponent)
    if not isinstance(exponent, Tensor):
        _check_int_pow(a, b, dtype)
    try:
        out = wrap(_power(a, b, dtype), dtype)
    except ValueError:
        raise broadcast_error(input, exponent) from None
    if _records(input, exponent):
        if isinstance(exponent, Tensor):
            node = new_node(PowBackward1, (edge(input), edge(exponent)), out._array)
            node.self_, node.exponent = SavedTensor(input), SavedTensor(exponent)
            node.result = SavedTensor(out, is_output=True) if exponent._requires_grad else None
        else:
            node = new_node(PowBackward0, (edge(input),), out._array)
            node.self_, node.exponent = SavedTensor(input), exponent
        set_history(out, node)
    return out


def _scalar_pow(base, exponent: Tensor) -> Tensor:
    """number ** tensor (``2 ** x``)."""
    base = as_scalar(base)
    dtype = D.result_type(exponent, base)
    b = cast(exponent._array, dtype)
    out = wrap(np.asarray(_power(dtype.numpy.type(base), b, dtype)), dtype)
    if exponent._requires_grad and grad_state.enabled:
        node = new_node(PowBackward2, (edge(exponent),), out._array)
        node.self_ = base
        node.exponent = SavedTensor(exponent) if base == 0 else None
        node.result = SavedTensor(out, is_output=True)
        set_history(out, node)
    return out


def rpow(input: Tensor, other) -> Tensor:
    return _scalar_pow(other, input)


# ----- unary ----------------------------------------------------------------------------------
def _float_dtype(input: Tensor) -> D.dtype:
    return input._dtype if input._dtype.category == FLOATING else D.get_default_dtype()


def _float_array(input: Tensor) -> np.ndarray:
    """Floating ops on integer tensors compute in the default float dtype, as torch does."""
    a = input._array
    return a if input._dtype.category == FLOATING else a.astype(D.get_default_dtype().numpy)


def _check_tensor(input, name: str) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(
            f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )


def _unary(input: Tensor, function, node_cls, save: str | None, floating: bool = True,
           opmath: bool = True) -> Tensor:
    """Forward of a one-input op; ``save`` is "self_", "result" or None. Half precision
    computes in float32 (``through_float32``) unless ``opmath`` is False: ops that torch
    composes of separate half-precision steps."""
    if input.__class__ is not Tensor:
        _check_tensor(input, node_cls.__name__.removesuffix("Backward0").lower())
    if floating:
        a = _float_array(input)
        with np.errstate(all="ignore"):
            out = wrap(function(a) if a.dtype is not HALF or not opmath
                       else through_float32(function, a), _float_dtype(input))
    else:
        out = wrap(function(input._array), input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(node_cls, (edge(input),), out._array)
        if save == "self_":
            node.self_ = SavedTensor(input)
        elif save == "result":
            node.result = SavedTensor(out, is_output=True)
        set_history(out, node)
    return out


class NegBackward0(Node):
    __slots__ = ()

    def backward(self, grad, xp):
        return (-grad,)


def neg(input: Tensor) -> Tensor:
    _check_tensor(input, "neg")
    if input._dtype is D.bool_:
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    return _unary(input, np.negative, NegBackward0, None, floating=False)


negative = neg


class AbsBackward0(Node):
    """|self|: grad * sgn(self), so 0 at 0 and at NaN as in torch."""

    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        if isinstance(self_, np.ndarray):
            return (grad * _sign_array(self_),)
        return (grad * xp.sign(self_),)


def abs(input: Tensor) -> Tensor:
    return _unary(input, np.abs, AbsBackward0, "self_", floating=False)


absolute = abs


class ExpBackward0(Node):
    __slots__ = ("result",)
    _saved_fields = ("result",)

    def backward(self, grad, xp):
        return (grad * xp.saved_output(self.result, self),)


def exp(input: Tensor) -> Tensor:
    return _unary(input, np.exp, ExpBackward0, "result")


class LogBackward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (grad / xp.saved(self.self_),)


def log(input: Tensor) -> Tensor:
    return _unary(input, np.log, LogBackward0, "self_")


class SqrtBackward0(Node):
    __slots__ = ("result",)
    _saved_fields = ("result",)

    def backward(self, grad, xp):
        return (grad / (2 * xp.saved_output(self.result, self)),)


def sqrt(input: Tensor) -> Tensor:
    return _unary(input, np.sqrt, SqrtBackward0, "result")


class SinBackward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (grad * xp.cos(xp.saved(self.self_)),)


def sin(input: Tensor) -> Tensor:
    return _unary(input, np.sin, SinBackward0, "self_")


class CosBackward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (grad * -xp.sin(xp.saved(self.self_)),)


def cos(input: Tensor) -> Tensor:
    return _unary(input, np.cos, CosBackward0, "self_")


class TanhBackward0(Node):
    """tanh: grad * (1 - result**2)."""

    __slots__ = ("result",)
    _saved_fields = ("result",)

    @fused_half_kernel
    def backward(self, grad, xp):
        result = xp.saved_output(self.result, self)
        return (grad * (1 - result * result),)


def tanh(input: Tensor) -> Tensor:
    return _unary(input, np.tanh, TanhBackward0, "result")


class SigmoidBackward0(Node):
    """sigmoid: grad * (1 - result) * result."""

    __slots__ = ("result",)
    _saved_fields = ("result",)

    def backward(self, grad, xp):
        result = xp.saved_output(self.result, self)
        return (grad * (1 - result) * result,)


def _sigmoid_array(a: np.ndarray) -> np.ndarray:
    # Written as 1 / (1 + exp(-a)) in the input's precision; exp overflow gives 0, as in torch.
    with np.errstate(over="ignore"):
        return np.reciprocal(1 + np.exp(-a))


def sigmoid(input: Tensor) -> Tensor:
    return _unary(input, _sigmoid_array, SigmoidBackward0, "result")


class ReluBackward0(Node):
    """relu: the gradient is 0 where the result is <= 0 (so 0 at 0) and passes elsewhere,
    NaN results included, as torch's threshold_backward."""

    __slots__ = ("result",)
    _saved_fields = ("result",)

    @property
    def twice(self) -> type:  # the node of this formula under create_graph, as torch's
        from ember.ops.activation import ThresholdBackwardBackward0

        return ThresholdBackwardBackward0

    @staticmethod
    def slope(grad, result, threshold):
        """threshold_backward on arrays: 0 where ``result <= threshold``."""
        stopped = result <= threshold  # (a NumPy bool, not an array, when 0-dim)
        if stopped.__class__ is np.ndarray and grad.__class__ is np.ndarray and (
                grad.dtype.kind == "f" and grad.shape == stopped.shape):
            return _zero_where(stopped, grad)
        return np.where(stopped, 0, grad)

    def backward(self, grad, xp):
        result = xp.saved_output(self.result, self)
        if result.__class__ is np.ndarray:
            if (grad.__class__ is np.ndarray and grad.dtype is result.dtype
                    and grad.shape == result.shape and grad.ndim and grad.dtype.kind == "f"):
                return (_pass_where_nonzero(grad, result),)
            return (self.slope(grad, result, 0),)
        from ember.ops.activation import _piecewise  # (it imports this module)

        return (_piecewise(self, grad, result, (0,)),)


def _zero_where(mask: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """``np.where(mask, 0, grad)`` without its per-element branch (10x slower on a random
    mask): grad's bits ANDed with all zeros (+0.0) where mask holds, all ones elsewhere.
    Exact, NaN and -0.0 included."""
    ints = _SAME_SIZE_INTS[grad.dtype.itemsize]
    bits = np.subtract(mask, 1, dtype=ints)  # True -> 0, False -> -1: all bits set
    np.bitwise_and(bits, grad.view(ints), out=bits)
    return bits.view(grad.dtype)


def _pass_where_nonzero(grad: np.ndarray, result: np.ndarray) -> np.ndarray:
    """relu's threshold_backward read off its result's bits, four integer passes and no bool
    arrays (relu runs on every hidden layer). A relu result is positive, NaN or a signed
    zero, so ``result <= 0`` holds exactly where its bits past the sign are all zero: with
    ``a`` those bits, ``-a >> (width - 1)`` is 0 there and all ones elsewhere, the mask
    ``_zero_where`` builds."""
    ints, magnitude, top = _MAGNITUDE_BITS[grad.dtype.itemsize]
    bits = np.bitwise_and(result.view(ints), magnitude)
    np.negative(bits, bits)
    np.right_shift(bits, top, bits)
    np.bitwise_and(bits, grad.view(ints), bits)
    return bits.view(grad.dtype)


_SAME_SIZE_INTS = {1: np.dtype(np.int8), 2: np.dtype(np.int16), 4: np.dtype(np.int32),
                   8: np.dtype(np.int64)}
# per float width: the same-size int, its bits past the sign, and the sign's position (as 0-d
# arrays of that int: a ufunc call costs less with those than with Python ints)
_MAGNITUDE_BITS = {
    size: (ints, np.array(np.iinfo(ints).max, dtype=ints), np.array(8 * size - 1, dtype=ints))
    for size, ints in _SAME_SIZE_INTS.items() if size > 1
}


def relu(input: Tensor) -> Tensor:
    if input.__class__ is Tensor and input._dtype.category == FLOATING:
        # what _unary does for it, without its general branches (every hidden layer runs this)
        a = input._array
        # keeping_first(np.maximum, a, 0, a.dtype) spelled out: relu(-0.0) is -0.0
        out = wrap(np.maximum(a, 0) if a.dtype is HALF else np.maximum(0, a), input._dtype)
        if input._requires_grad and grad_state.enabled:
            node = new_node(ReluBackward0, (edge(input),), out._array)
            node.result = SavedTensor(out, is_output=True)
            set_history(out, node)
        return out
    _check_tensor(input, "relu")
    if input._dtype is D.bool_:
        raise RuntimeError("Boolean inputs not supported for relu")
    return _unary(input, _relu_array, ReluBackward0, "result", floating=False)


def _relu_array(a: np.ndarray) -> np.ndarray:
    return keeping_first(np.maximum, a, a.dtype.type(0), a.dtype)


def keeping_first(function, first, second, dtype: np.dtype):
    """``function`` (np.maximum or np.minimum) returning ``first`` on a tie, as torch's
    ``max(a, b)`` does: a tie is 0.0 against -0.0, so ``relu(-0.0)`` is -0.0. NumPy's float32
    and float64 loops return their second operand on a tie, its float16 loop its first
    (``dtype``: the loop's)."""
    if dtype == np.float16:
        return function(first, second)
    return function(second, first)


def _zero_gradient(grad, xp):
    """The gradient of a piecewise constant function: zeros, not grad * 0 (which is -0.0 or
    NaN where grad is negative or not finite), and no graph under create_graph, as torch's
    zeros_like(grad)."""
    if isinstance(grad, np.ndarray):
        return np.zeros(grad.shape, grad.dtype)  # (np.zeros_like is slower)
    return xp.zeros_like(grad)


class SignBackward0(Node):
    """sign is piecewise constant (see _zero_gradient)."""

    __slots__ = ()

    def backward(self, grad, xp):
        return (_zero_gradient(grad, xp),)


def _sign_array(a: np.ndarray) -> np.ndarray:
    """-1, 0 or 1 as torch counts them, ``(a > 0) - (a < 0)``: NaN is neither, so its sign
    is 0 where NumPy's is NaN. NaNs are looked for through the sum of the squared signs (one
    BLAS call), much cheaper than a mask."""
    signs = np.sign(a)
    if a.dtype.kind == "f" and math.isnan(np.vdot(signs, signs)):
        return np.where(np.isnan(signs), signs.dtype.type(0), signs)
    return signs


def sign(input: Tensor) -> Tensor:
    if isinstance(input, Tensor) and input._dtype is D.bool_:
        return wrap(input._array.copy(), D.bool_)
    return _unary(input, _sign_array, SignBackward0, None, floating=False)


# ----- clamp, maximum, minimum ----------------------------------------------------------------
class ClampBackward1(Node):
    """clamp with number bounds: the gradient passes where min <= self <= max."""

    __slots__ = ("self_", "min", "max")
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        if self.min is not None and self.max is not None:
            inside = (self_ >= self.min) & (self_ <= self.max)
        elif self.min is not None:
            inside = self_ >= self.min
        else:
            inside = self_ <= self.max
        return (xp.where(inside, grad, 0),)


class ClampBackward0(Node):
    """clamp with tensor bounds: each bound gets the gradient where it was the result."""

    __slots__ = ("self_", "min", "max")
    _saved_fields = ("self_", "min", "max")

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        lo = xp.saved(self.min) if self.min is not None else None
        hi = xp.saved(self.max) if self.max is not None else None
        inside = None
        if lo is not None:
            inside = self_ >= lo
        if hi is not None:
            inside = (self_ <= hi) if inside is None else inside & (self_ <= hi)
        grad_self = xp.where(inside, grad, 0) if self.needs_input_grad(0) else None
        grad_min = grad_max = None
        # torch's clamp_backward_min_max: with both bounds, max wins where max < min
        if lo is not None and self.needs_input_grad(1):
            below = self_ < lo if hi is None else (self_ < lo) & (lo < hi)
            grad_min = xp.where(below, grad, 0)
        if hi is not None and self.needs_input_grad(2):
            above = self_ > hi if lo is None else (self_ > hi) | (hi < lo)
            grad_max = xp.where(above, grad, 0)
        return grad_self, grad_min, grad_max


def clamp(input: Tensor, min=None, max=None) -> Tensor:
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    tensor_bounds = isinstance(min, Tensor) or isinstance(max, Tensor)
    dtype = D.result_type(input, *(v for v in (min, max) if v is not None))
    a = cast(input._array, dtype)
    lo = cast(min._array, dtype) if isinstance(min, Tensor) else min
    hi = cast(max._array, dtype) if isinstance(max, Tensor) else max
    result = a
    # On a tie (0.0 and -0.0) torch keeps the input, but a tensor bound in float64
    try:
        if lo is not None:
            result = (np.maximum(result, lo) if dtype is D.float64 and isinstance(min, Tensor)
                      else keeping_first(np.maximum, result, lo, result.dtype))
        if hi is not None:
            result = (np.minimum(result, hi) if dtype is D.float64 and isinstance(max, Tensor)
                      else keeping_first(np.minimum, result, hi, result.dtype))
    except ValueError:
        raise broadcast_error(*(v for v in (input, min, max) if v is not None)) from None
    out = wrap(np.asarray(result, dtype=dtype.numpy), dtype)
    if grad_state.enabled and (input._requires_grad or other_requires_grad(min)
                               or other_requires_grad(max)):
        if tensor_bounds:
            min_t = as_tensor_operand(min) if min is not None else None
            max_t = as_tensor_operand(max) if max is not None else None
            edges = (edge(input), edge(min_t) if min_t is not None else NO_EDGE,
                     edge(max_t) if max_t is not None else NO_EDGE)
            node = new_node(ClampBackward0, edges, out._array)
            node.self_ = SavedTensor(input)
            node.min = SavedTensor(min_t) if min_t is not None else None
            node.max = SavedTensor(max_t) if max_t is not None else None
        else:
            node = new_node(ClampBackward1, (edge(input),), out._array)
            node.self_, node.min, node.max = SavedTensor(input), min, max
        set_history(out, node)
    return out


clip = clamp


class ClampMinBackward0(Node):
    """clamp_min with a number: the gradient passes where self >= min."""

    __slots__ = ("self_", "min")
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (xp.where(xp.saved(self.self_) >= self.min, grad, 0),)


class ClampMinBackward1(Node):
    """clamp_min with a tensor: self where self >= min, min where self < min."""

    __slots__ = ("self_", "min")
    _saved_fields = ("self_", "min")

    def backward(self, grad, xp):
        self_, lo = xp.saved(self.self_), xp.saved(self.min)
        return (
            xp.where(self_ >= lo, grad, 0) if self.needs_input_grad(0) else None,
            xp.where(self_ < lo, grad, 0) if self.needs_input_grad(1) else None,
        )


class ClampMaxBackward0(Node):
    """clamp_max with a number: the gradient passes where self <= max."""

    __slots__ = ("self_", "max")
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (xp.where(xp.saved(self.self_) <= self.max, grad, 0),)


class ClampMaxBackward1(Node):
    """clamp_max with a tensor: self where self <= max, max where self > max."""

    __slots__ = ("self_", "max")
    _saved_fields = ("self_", "max")

    def backward(self, grad, xp):
        self_, hi = xp.saved(self.self_), xp.saved(self.max)
        return (
            xp.where(self_ <= hi, grad, 0) if self.needs_input_grad(0) else None,
            xp.where(self_ > hi, grad, 0) if self.needs_input_grad(1) else None,
        )


def _clamp_one_side(input: Tensor, bound, is_min: bool) -> Tensor:
    """clamp_min / clamp_max: clamp's values, with the nodes torch gives these ops."""
    from ember.autograd.grad_mode import no_grad

    with no_grad():
        out = clamp(input, min=bound) if is_min else clamp(input, max=bound)
    if grad_state.enabled and (input._requires_grad or other_requires_grad(bound)):
        if isinstance(bound, Tensor):
            cls = ClampMinBackward1 if is_min else ClampMaxBackward1
            node = new_node(cls, (edge(input), edge(bound)), out._array)
            bound = SavedTensor(bound)
        else:
            cls = ClampMinBackward0 if is_min else ClampMaxBackward0
            node = new_node(cls, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        if is_min:
            node.min = bound
        else:
            node.max = bound
        set_history(out, node)
    return out


def clamp_min(input: Tensor, min) -> Tensor:
    return _clamp_one_side(input, min, True)


def clamp_max(input: Tensor, max) -> Tensor:
    return _clamp_one_side(input, max, False)


class MaximumBackward0(Node):
    """max(self, other): the larger gets the gradient; at ties each gets half (torch)."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        a, b = xp.saved(self.self_), xp.saved(self.other)
        half = xp.where(a == b, grad / 2, grad)
        return (
            xp.where(a < b, 0, half) if self.needs_input_grad(0) else None,
            xp.where(a > b, 0, half) if self.needs_input_grad(1) else None,
        )


class MinimumBackward0(Node):
    """min(self, other): the smaller gets the gradient; at ties each gets half (torch)."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        a, b = xp.saved(self.self_), xp.saved(self.other)
        half = xp.where(a == b, grad / 2, grad)
        return (
            xp.where(a > b, 0, half) if self.needs_input_grad(0) else None,
            xp.where(a < b, 0, half) if self.needs_input_grad(1) else None,
        )


def _extremum(input: Tensor, other: Tensor, function, node_cls) -> Tensor:
    """maximum/minimum. On a tie (0.0 and -0.0) torch returns its first operand in float16
    and float32, its second in float64."""
    _check_other(other, function.__name__)
    a, b, dtype = binary_operands(input, other)
    try:
        out = wrap(function(a, b) if dtype is D.float64
                   else keeping_first(function, a, b, dtype.numpy), dtype)
    except ValueError:
        raise broadcast_error(input, other) from None
    if _records(input, other):
        node = new_node(node_cls, (edge(input), edge(other)), out._array)
        node.self_, node.other = SavedTensor(input), SavedTensor(other)
        set_history(out, node)
    return out


def maximum(input: Tensor, other: Tensor) -> Tensor:
    return _extremum(input, other, np.maximum, MaximumBackward0)


def minimum(input: Tensor, other: Tensor) -> Tensor:
    return _extremum(input, other, np.minimum, MinimumBackward0)


# ----- comparisons and logic (no gradient) ----------------------------------------------------
def _compare(function):
    def compare(input, other) -> Tensor:
        input = _tensor_input(input)
        a, b, _ = binary_operands(input, other)
        try:
            return wrap(function(a, b), D.bool_)
        except ValueError:
            raise broadcast_error(input, other) from None

    compare.__name__ = function.__name__
    return compare


eq = _compare(np.equal)
ne = _compare(np.not_equal)
lt = _compare(np.less)
le = _compare(np.less_equal)
gt = _compare(np.greater)
ge = _compare(np.greater_equal)
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _logic(function, name):
    def logic(input, other) -> Tensor:
        input = _tensor_input(input)
        a, b, dtype = binary_operands(input, other)
        if dtype.category == FLOATING:
            raise NotImplementedError(
                f'"{name}_cpu" not implemented for \'{_legacy(dtype)}\''
            )
        try:
            return wrap(function(a, b), dtype)
        except ValueError:
            raise broadcast_error(input, other) from None

    logic.__name__ = name
    return logic


def _legacy(dtype: D.dtype) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half"}.get(dtype.name, dtype.name)


bitwise_and = _logic(np.bitwise_and, "bitwise_and")
bitwise_or = _logic(np.bitwise_or, "bitwise_or")
bitwise_xor = _logic(np.bitwise_xor, "bitwise_xor")


def bitwise_not(input: Tensor) -> Tensor:
    if input._dtype.category == FLOATING:
        raise NotImplementedError(
            f'"bitwise_not_cpu" not implemented for \'{_legacy(input._dtype)}\''
        )
    return wrap(np.invert(input._array), input._dtype)


def logical_not(input: Tensor) -> Tensor:
    _check_tensor(input, "logical_not")
    return wrap(np.logical_not(input._array), D.bool_)


def _check_other(other, name: str) -> None:
    if not isinstance(other, Tensor):
        raise TypeError(
            f"{name}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}"
        )


def logical_binary(function, input: Tensor, other: Tensor) -> Tensor:
    """``function`` (np.logical_and/or/xor) of two tensors, a bool tensor (no gradient)."""
    name = function.__name__
    _check_tensor(input, name)
    _check_other(other, name)
    try:
        return wrap(function(input._array, other._array), D.bool_)
    except ValueError:
        raise broadcast_error(input, other) from None


def logical_and(input: Tensor, other: Tensor) -> Tensor:
    return logical_binary(np.logical_and, input, other)


def logical_or(input: Tensor, other: Tensor) -> Tensor:
    return logical_binary(np.logical_or, input, other)


def isnan(input: Tensor) -> Tensor:
    _check_tensor(input, "isnan")
    return wrap(np.isnan(input._array), D.bool_)


# ----- where ----------------------------------------------------------------------------------
class WhereBackward0(Node):
    """where(condition, self, other): the gradient goes to the side that was chosen."""

    __slots__ = ("condition",)
    _saved_fields = ("condition",)

    def backward(self, grad, xp):
        condition = xp.saved(self.condition)
        return (
            None,
            xp.where(condition, grad, 0) if self.needs_input_grad(1) else None,
            xp.where(condition, 0, grad) if self.needs_input_grad(2) else None,
        )


def where(condition: Tensor, input=None, other=None):
    if input is None and other is None:
        from ember.ops.indexing import nonzero

        return nonzero(condition, as_tuple=True)
    if condition._dtype is not D.bool_:
        if condition._dtype is D.uint8:
            condition = wrap(condition._array.astype(bool), D.bool_)
        else:
            raise RuntimeError(
                f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                f"{_legacy(condition._dtype)}"
            )
    x = input if isinstance(input, Tensor) else as_scalar(input)
    y = other if isinstance(other, Tensor) else as_scalar(other)
    dtype = D.result_type(x, y)
    xa = cast(x._array, dtype) if isinstance(x, Tensor) else x
    ya = cast(y._array, dtype) if isinstance(y, Tensor) else y
    try:
        out = wrap(np.asarray(np.where(condition._array, xa, ya), dtype=dtype.numpy), dtype)
    except ValueError:
        raise broadcast_error(condition, x, y) from None
    if grad_state.enabled and (other_requires_grad(x) or other_requires_grad(y)):
        node = new_node(WhereBackward0, (NO_EDGE, _edge_of(x), _edge_of(y)), out._array)
        node.condition = SavedTensor(condition)
        set_history(out, node)
    return out


# ----- casts and copies -----------------------------------------------------------------------
class ToCopyBackward0(Node):
    """A dtype cast: the engine casts the gradient back to the input's dtype."""

    __slots__ = ()

    def backward(self, grad, xp):
        return (grad,)


def to_dtype(input: Tensor, dtype: D.dtype, copy: bool = False) -> Tensor:
    if dtype is input._dtype and not copy:
        return input
    out = wrap(input._array.astype(dtype.numpy), dtype)
    if input._requires_grad and grad_state.enabled and dtype.category == FLOATING:
        set_history(out, new_node(ToCopyBackward0, (edge(input),), out._array))
    return out


class CloneBackward0(Node):
    __slots__ = ()

    def backward(self, grad, xp):
        return (grad,)


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    _check_tensor(input, "clone")
    out = wrap(input._array.copy(), input._dtype)
    if input._requires_grad and grad_state.enabled:
        set_history(out, new_node(CloneBackward0, (edge(input),), out._array))
    return out


# ----- in-place forms -------------------------------------------------------------------------
def _check_output_shape(self: Tensor, args) -> None:
    """An in-place op cannot grow ``self``: torch's error when the operands broadcast wider."""
    shape = self._array.shape
    for arg in args:
        if isinstance(arg, Tensor) and arg._array.shape != shape:
            try:
                wide = np.broadcast_shapes(shape, arg._array.shape)
            except ValueError:
                return  # the op itself reports operands that do not broadcast
            if wide != shape:
                raise RuntimeError(
                    f"output with shape {list(shape)} doesn't match the broadcast shape "
                    f"{list(wide)}"
                )


def _cast_to(op, dtype: D.dtype):
    """``op`` with its result cast to ``dtype`` but keeping the op's node as history.

    torch computes an in-place op in the promoted dtype and casts while writing, inside the
    op: ``x *= y`` (float32 *= float64) records MulBackward0, not a cast node. A result of a
    higher category is left alone, for ``apply_inplace`` to reject.
    """

    def run(source: Tensor, *args, **kwargs) -> Tensor:
        result = op(source, *args, **kwargs)
        if result._dtype is dtype or result._dtype.category > dtype.category:
            return result
        cast = wrap(result._array.astype(dtype.numpy), dtype)
        node, nr = result.grad_fn, result._output_nr
        if node is None and _fw._state.active:  # a forward-only result keeps its node hidden
            node, nr = _fw.history(result)
        if node is not None:
            set_history(cast, node, nr)
        return cast

    return run


def _inplace(op):
    def inplace(self: Tensor, *args, **kwargs) -> Tensor:
        if args:
            _check_output_shape(self, args)
        return apply_inplace(self, _cast_to(op, self._dtype), *args, **kwargs)

    inplace.__name__ = op.__name__ + "_"
    return inplace


add_ = _inplace(add)
sub_ = _inplace(sub)
mul_ = _inplace(mul)
div_ = _inplace(div)
pow_ = _inplace(pow)
floor_divide_ = _inplace(floor_divide)
remainder_ = _inplace(remainder)
neg_ = _inplace(neg)
abs_ = _inplace(abs)
exp_ = _inplace(exp)
log_ = _inplace(log)
sqrt_ = _inplace(sqrt)
sin_ = _inplace(sin)
cos_ = _inplace(cos)
tanh_ = _inplace(tanh)
sigmoid_ = _inplace(sigmoid)
relu_ = _inplace(relu)
clamp_ = _inplace(clamp)
clamp_min_ = _inplace(clamp_min)
clamp_max_ = _inplace(clamp_max)
reciprocal_ = _inplace(reciprocal)
sign_ = _inplace(sign)
floor_ = _inplace(floor)
cos_ = _inplace(cos)
logical_not_ = _inplace(logical_not)
logical_and_ = _inplace(logical_and)
logical_or_ = _inplace(logical_or)
bitwise_not_ = _inplace(bitwise_not)
bitwise_and_ = _inplace(bitwise_and)
bitwise_or_ = _inplace(bitwise_or)
bitwise_xor_ = _inplace(bitwise_xor)


class _CompareBackward(Node):
    """An in-place comparison (``x.eq_(y)``): piecewise constant, so zero gradients."""

    __slots__ = ()

    def backward(self, grad, xp):
        return tuple(xp.zeros_like(grad) if node is not None else None
                     for node, _ in self.next_functions)


def _compare_inplace(compare, name: str):
    """``x.<name>_(other)``: 1/0 in x's dtype; torch records <Name>Backward0 (a number
    other) or <Name>Backward1 (a tensor other), whose gradients are zero."""
    number_node = type(f"{name}Backward0", (_CompareBackward,), {"__slots__": ()})
    tensor_node = type(f"{name}Backward1", (_CompareBackward,), {"__slots__": ()})

    def run(source: Tensor, other) -> Tensor:
        out = compare(source, other)
        if _records(source, other):
            if isinstance(other, Tensor):
                node = new_node(tensor_node, (edge(source), edge(other)), out._array)
            else:
                node = new_node(number_node, (edge(source),), out._array)
            set_history(out, node)
        return out

    run.__name__ = compare.__name__
    return _inplace(run)


eq_ = _compare_inplace(eq, "Eq")
ne_ = _compare_inplace(ne, "Ne")
lt_ = _compare_inplace(lt, "Lt")
le_ = _compare_inplace(le, "Le")
gt_ = _compare_inplace(gt, "Gt")
ge_ = _compare_inplace(ge, "Ge")


class FillBackward2(Node):
    """fill_ with a number: the old values get no gradient."""

    __slots__ = ()

    def backward(self, grad, xp):
        return (xp.zeros_like(grad),)


class ZeroBackward0(FillBackward2):
    __slots__ = ()


class FillBackward3(Node):
    """fill_ with a 0-dim tensor: it receives the sum of the gradient."""

    __slots__ = ()

    def backward(self, grad, xp):
        return (
            xp.zeros_like(grad) if self.needs_input_grad(0) else None,
            xp.sum(grad, tuple(range(grad.ndim))) if self.needs_input_grad(1) else None,
        )


def _filled(input: Tensor, value, node_cls=None) -> Tensor:
    """A tensor like ``input`` full of ``value`` (the out-of-place half of ``fill_``)."""
    fill = value._array if isinstance(value, Tensor) else as_scalar(value)
    out = wrap(np.full(input._array.shape, fill, dtype=input._array.dtype), input._dtype)
    if _records(input, value):
        if isinstance(value, Tensor):
            node = new_node(FillBackward3, (edge(input), edge(value)), out._array)
        else:
            node = new_node(node_cls or FillBackward2, (edge(input),), out._array)
        set_history(out, node)
    return out


def zero_(self: Tensor) -> Tensor:
    return apply_inplace(self, _filled, 0, ZeroBackward0)


def fill_(self: Tensor, value) -> Tensor:
    """Fill with a number or a 0-dim tensor (whose graph the result then joins)."""
    if isinstance(value, Tensor) and value._array.ndim:
        raise RuntimeError(
            "fill_ only supports 0-dimension value tensor but got tensor with "
            f"{value._array.ndim} dimensions."
        )
    return apply_inplace(self, _filled, value)


multiply = mul
subtract = sub

# The names ``ember`` exports from this family, and the Tensor methods it adds beyond those
# ``_tensor_methods.METHODS`` binds.
__all__ = [
    "abs", "absolute", "add", "bitwise_not", "clamp", "clamp_max", "clamp_min", "clip",
    "clone", "cos", "div", "divide", "eq", "exp", "floor_divide", "ge", "greater",
    "greater_equal", "gt", "isnan", "le", "less", "less_equal", "log", "logical_and",
    "logical_not", "logical_or", "lt", "maximum", "minimum", "mul", "multiply", "ne", "neg",
    "negative", "not_equal", "pow", "reciprocal", "relu", "remainder", "rsub", "sigmoid",
    "sign", "sin", "sqrt", "sub", "subtract", "tanh", "true_divide", "where", "floor",
]
TENSOR_METHODS: dict = {
    "floor": floor, "floor_": floor_, "cos_": cos_, "negative_": neg_, "absolute_": abs_,
    "multiply_": mul_, "subtract_": sub_, "divide_": div_, "true_divide_": div_,
    "logical_not_": logical_not_, "logical_and_": logical_and_, "logical_or_": logical_or_,
    "bitwise_not_": bitwise_not_, "bitwise_and_": bitwise_and_, "bitwise_or_": bitwise_or_,
    "bitwise_xor_": bitwise_xor_,
    "eq_": eq_, "ne_": ne_, "lt_": lt_, "le_": le_, "gt_": gt_, "ge_": ge_,
    "not_equal_": ne_, "less_": lt_, "less_equal_": le_, "greater_": gt_,
    "greater_equal_": ge_,
}
