"""Tensor's op methods: each is the op function itself, so ``x.exp()`` is ``exp(x)``.

Kept apart from ``_tensor.py`` because the ops import the Tensor class.
"""

from __future__ import annotations

import numbers

import numpy as np

from ember import _creation as C
from ember import _dtype as D
from ember import _random_ops as R_OPS
from ember._device import require_cpu
from ember._tensor import Tensor
from ember.autograd import _tensor_backward
from ember.ops import (
    activation,
    complex_numbers,
    convolution,
    loss,
    normalization,
    pointwise,
    pointwise_more,
    selection,
    sorting,
    special,
)
from ember.ops import elementwise as E
from ember.ops import indexing as I
from ember.ops import linalg as L
from ember.ops import reduction as R
from ember.ops import shape as S


def _to(self: Tensor, *args, **kwargs) -> Tensor:
    """``to(dtype)``, ``to('cpu')``, ``to(other)``, ``to(device, dtype)``."""
    dtype = kwargs.get("dtype")
    copy = kwargs.get("copy", False)
    require_cpu(kwargs.get("device"))
    for a in args:
        if isinstance(a, (D.dtype, D.ComplexDtype)):
            dtype = a
        elif isinstance(a, Tensor):
            dtype = a._dtype
        elif not isinstance(a, bool):  # a device (non_blocking/copy may follow as bools)
            require_cpu(a)
    if dtype is not None:
        return E.to_dtype(self, D.to_dtype(dtype), copy)
    return self


def _cuda(self: Tensor, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
    """No GPU here: fails as a CPU-only torch build does."""
    require_cpu("cuda" if device is None else device)
    return self


def _cast(dtype):
    def cast(self: Tensor, memory_format=None) -> Tensor:
        return E.to_dtype(self, dtype)

    return cast


def _comparison_operator(compare):
    """``x == "a"`` is False and ``x < "a"`` a TypeError, as for torch: Python's fallback for
    operands a comparison does not know (returning NotImplemented)."""

    def operator(self: Tensor, other):
        if not isinstance(other, (Tensor, numbers.Number, np.generic)):
            return NotImplemented
        return compare(self, other)

    operator.__name__ = compare.__name__
    return operator


def _new_factory(factory):
    """``x.new_zeros(2, 3)`` and friends: a new tensor of ``x``'s dtype unless one is given."""

    def new(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False,
            **kwargs) -> Tensor:
        if device is not None:
            require_cpu(device)
        return factory(*size, dtype=dtype or self._dtype, requires_grad=requires_grad, **kwargs)

    new.__name__ = "new_" + factory.__name__
    return new


def _new_full(self: Tensor, size, fill_value, *, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    if device is not None:
        require_cpu(device)
    return C.full(size, fill_value, dtype=dtype or self._dtype, requires_grad=requires_grad)


def _new_tensor(self: Tensor, data, dtype=None, device=None, requires_grad: bool = False):
    if device is not None:
        require_cpu(device)
    return C.tensor(data, dtype=dtype or self._dtype, requires_grad=requires_grad)


METHODS = {
    # arithmetic and its operators
    "add": E.add, "__add__": E.add, "__radd__": E.add, "__iadd__": E.add_, "add_": E.add_,
    "sub": E.sub, "subtract": E.sub, "__sub__": E.sub, "__rsub__": E.rsub, "__isub__": E.sub_,
    "sub_": E.sub_,
    "mul": E.mul, "multiply": E.mul, "__mul__": E.mul, "__rmul__": E.mul, "__imul__": E.mul_,
    "mul_": E.mul_,
    "div": E.div, "divide": E.div, "true_divide": E.div, "__truediv__": E.div,
    "__rtruediv__": E.rdiv, "__itruediv__": E.div_, "div_": E.div_,
    "floor_divide": E.floor_divide, "__floordiv__": E.floor_divide,
    "__rfloordiv__": lambda self, other: E.floor_divide(E.as_tensor_operand(other), self),
    "__ifloordiv__": E.floor_divide_, "floor_divide_": E.floor_divide_,
    "remainder": E.remainder, "__mod__": E.remainder,
    "__rmod__": lambda self, other: E.remainder(other, self),
    "__imod__": E.remainder_, "remainder_": E.remainder_,
    "pow": E.pow, "__pow__": E.pow, "__rpow__": E.rpow, "__ipow__": E.pow_, "pow_": E.pow_,
    "neg": E.neg, "negative": E.neg, "__neg__": E.neg, "neg_": E.neg_,
    "__pos__": lambda self: self,
    "abs": E.abs, "absolute": E.abs, "__abs__": E.abs, "abs_": E.abs_,
    "reciprocal": E.reciprocal, "reciprocal_": E.reciprocal_,
    "exp": E.exp, "exp_": E.exp_, "log": E.log, "log_": E.log_, "sqrt": E.sqrt,
    "sqrt_": E.sqrt_, "sin": E.sin, "sin_": E.sin_, "cos": E.cos, "cos_": E.cos_,
    "tanh": E.tanh, "tanh_": E.tanh_, "sigmoid": E.sigmoid, "sigmoid_": E.sigmoid_,
    "relu": E.relu, "relu_": E.relu_, "sign": E.sign, "sign_": E.sign_,
    "clamp": E.clamp, "clip": E.clamp, "clamp_": E.clamp_, "clip_": E.clamp_,
    "clamp_min": E.clamp_min, "clamp_max": E.clamp_max, "clamp_min_": E.clamp_min_,
    "clamp_max_": E.clamp_max_,
    "maximum": E.maximum, "minimum": E.minimum, "where": lambda self, c, o: E.where(c, self, o),
    # comparisons and logic
    "eq": E.eq, "ne": E.ne, "lt": E.lt, "le": E.le, "gt": E.gt, "ge": E.ge,
    "__eq__": _comparison_operator(E.eq), "__ne__": _comparison_operator(E.ne),
    "__lt__": _comparison_operator(E.lt), "__le__": _comparison_operator(E.le),
    "__gt__": _comparison_operator(E.gt), "__ge__": _comparison_operator(E.ge),
    "__and__": E.bitwise_and, "__or__": E.bitwise_or, "__xor__": E.bitwise_xor,
    "__rand__": E.bitwise_and, "__ror__": E.bitwise_or, "__rxor__": E.bitwise_xor,
    "__invert__": E.bitwise_not, "bitwise_not": E.bitwise_not, "logical_not": E.logical_not,
    "logical_and": E.logical_and, "logical_or": E.logical_or, "isnan": E.isnan,
    "any": R.any, "all": R.all,
    # casts and copies
    "to": _to, "float": _cast(D.float32), "double": _cast(D.float64), "half": _cast(D.float16),
    "long": _cast(D.int64), "int": _cast(D.int32), "short": _cast(D.int16),
    "bool": _cast(D.bool_), "byte": _cast(D.uint8), "char": _cast(D.int8),
    "clone": E.clone, "copy_": I.copy_, "zero_": E.zero_, "fill_": E.fill_,
    "cpu": lambda self: self, "cuda": _cuda, "contiguous": lambda self, memory_format=None: (
        self if self._array.flags.c_contiguous else E.clone(self)),
    # reductions
    "sum": R.sum, "mean": R.mean, "prod": R.prod, "max": R.max, "min": R.min, "amax": R.amax,
    "argmax": R.argmax, "argmin": R.argmin, "norm": R.norm,
    # products
    "dot": L.dot, "inner": L.inner, "mv": L.mv, "mm": L.mm, "bmm": L.bmm, "matmul": L.matmul,
    "__matmul__": L.matmul, "__rmatmul__": L.rmatmul,
    # shapes and views
    "view": S.view, "view_as": S.view_as, "reshape": S.reshape, "reshape_as": S.reshape_as,
    "flatten": S.flatten, "unflatten": S.unflatten, "squeeze": S.squeeze,
    "unsqueeze": S.unsqueeze, "transpose": S.transpose, "swapaxes": S.transpose,
    "swapdims": S.transpose, "permute": S.permute, "t": S.t, "expand": S.expand,
    "expand_as": S.expand_as, "broadcast_to": S.broadcast_to,
    "T": property(S.T), "mT": property(S.mT),
    # indexing
    "__getitem__": I.getitem, "__setitem__": I.setitem, "index_put_": I.index_put_,
    "index_put": I.index_put, "nonzero": I.nonzero,
    # new tensors like this one
    "new_zeros": _new_factory(C.zeros), "new_ones": _new_factory(C.ones),
    "new_empty": _new_factory(C.empty), "new_full": _new_full, "new_tensor": _new_tensor,
    # autograd
    "backward": _tensor_backward,
}

METHODS.update(R_OPS.TENSOR_METHODS)  # uniform_, normal_, bernoulli_, ... (torch's streams)
# Each op family's module declares the methods it adds.
for _family in (E, I, L, R, S, activation, complex_numbers, convolution, loss, normalization,
                pointwise, pointwise_more, selection, sorting, special):
    METHODS.update(_family.TENSOR_METHODS)

for _name, _function in METHODS.items():
    setattr(Tensor, _name, _function)
