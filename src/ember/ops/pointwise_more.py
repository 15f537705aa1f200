"""More elementwise ops: addcmul/addcdiv, bit shifts and the logic torch spells out in full,
sign tests, and the small Tensor queries (``is_cpu``, ``nbytes``, ``is_nonzero``...).

As elsewhere, each op's forward sits next to its backward node, named as torch names it.
"""

from __future__ import annotations

import numpy as np

from ember import _dtype as D
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
    bitwise_and,
    bitwise_or,
    bitwise_xor,
    broadcast_error,
    ge,
    gt,
    le,
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
    _check_tensor(input, "logical_xor")
    _check_other(other, "logical_xor")
    try:
        return wrap(np.logical_xor(input._array, other._array), D.bool_)
    except ValueError:
        raise broadcast_error(input, other) from None


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


# The names ``ember`` exports from this family, and the Tensor methods it adds.
__all__: list[str] = [
    "addcdiv", "addcmul", "bitwise_and", "bitwise_left_shift", "bitwise_or",
    "bitwise_right_shift", "bitwise_xor", "get_device", "is_inference", "is_nonzero",
    "is_same_size", "is_signed", "logical_xor", "positive", "signbit",
]
TENSOR_METHODS: dict = {
    **{name: globals()[name] for name in __all__},
    "addcmul_": addcmul_, "addcdiv_": addcdiv_,
    "bitwise_left_shift_": bitwise_left_shift_, "bitwise_right_shift_": bitwise_right_shift_,
    "__lshift__": bitwise_left_shift, "__rshift__": bitwise_right_shift,
    "__ilshift__": bitwise_left_shift_, "__irshift__": bitwise_right_shift_,
    "__rlshift__": _rlshift, "__rrshift__": _rrshift,
    "logical_xor_": logical_xor_,
    "less": lt, "less_equal": le, "greater": gt, "greater_equal": ge, "not_equal": ne,
    "type_as": type_as, "storage_offset": storage_offset,
    "is_cpu": property(lambda self: True),
    "itemsize": property(lambda self: self._array.itemsize),
    "nbytes": property(_nbytes),
    "output_nr": property(lambda self: self._output_nr),
}
