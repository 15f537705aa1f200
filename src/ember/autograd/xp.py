"""The vocabulary derivative formulas are written in, over NumPy arrays.

A formula such as ``grad * xp.cos(self_)`` runs in two worlds: in an ordinary backward the
operands are arrays and ``xp`` is ``ARRAY_MATH`` (NumPy speed, nothing recorded); under
``create_graph=True`` they are tensors and ``xp`` is ``ember.ops._tensor_math.TENSOR_MATH``,
whose functions are ember ops, so the backward pass itself becomes differentiable. Python
operators (``+ - * / **``, comparisons, ``&``, indexing) work the same on both. The two
namespaces offer the same names; a test checks that they agree.

A name neither class defines falls through to NumPy here and to ``ember``'s top-level op of
the same name in ``TensorMath`` (``xp.cosh``, ``xp.erf``...), so a new op family's formulas
need no edit here when the two spellings coincide.
"""

from __future__ import annotations

import numpy as np

from ember.autograd.graph import FREED_MESSAGE, PackedSavedTensor, SavedTensor


def broadcast_axes(grad_shape: tuple, shape: tuple) -> tuple[int, tuple[int, ...]]:
    """How ``shape`` was broadcast to ``grad_shape``: the number of leading dimensions added,
    and every axis (of ``grad_shape``) that was added or stretched from size 1."""
    lead = len(grad_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, size in enumerate(shape) if size == 1 and grad_shape[i + lead] != 1
    )
    return lead, axes


def _sum_to(grad, shape):
    """Sum ``grad`` over the dimensions broadcasting added or stretched, giving ``shape``."""
    lead, axes = broadcast_axes(grad.shape, shape)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape) if lead else grad


class ArrayMath:
    """Formulas' operations on NumPy arrays."""

    def __getattr__(self, name: str):
        # Only names the class lacks land here; the NumPy function is cached on the instance.
        function = getattr(np, name, None)
        if function is None or name.startswith("_"):
            raise AttributeError(f"formula vocabulary has no {name!r}")
        setattr(self, name, function)
        return function

    @staticmethod
    def saved(value):
        """Unpack a saved input: check its version, give its array (scalars pass through)."""
        if value.__class__ is SavedTensor:
            if value.version_counter[0] != value.version:
                value.check_version()
            return value.tensor._array
        if value is None:
            raise RuntimeError(FREED_MESSAGE)
        if value.__class__ is PackedSavedTensor:  # saved under saved_tensors_hooks
            return value.tensor._array
        return value

    @staticmethod
    def saved_output(value, node):
        if value is None:
            raise RuntimeError(FREED_MESSAGE)
        if value.version_counter[0] != value.version:
            value.check_version(node)
        return value.array

    @staticmethod
    def conform(grad, shape, dtype):
        grad = np.asarray(grad)
        if grad.shape != shape:
            grad = _sum_to(grad, shape)
        if grad.dtype != dtype:
            grad = grad.astype(dtype)
        return grad

    sum_to = staticmethod(_sum_to)

    @staticmethod
    def expand(x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def reshape(x, shape):
        return np.reshape(x, shape)

    @staticmethod
    def permute(x, dims):
        return np.transpose(x, dims)

    @staticmethod
    def unsqueeze(x, dim):
        return np.expand_dims(x, dim)

    @staticmethod
    def sum(x, dims, keepdim=False):
        return np.sum(x, axis=dims, keepdims=keepdim)

    @staticmethod
    def zeros(shape, like):
        return np.zeros(shape, dtype=like.dtype)

    @staticmethod
    def zeros_like(x):
        return np.zeros_like(x)

    @staticmethod
    def clone(x):
        return np.array(x, copy=True)

    @staticmethod
    def where(condition, x, y):
        return np.where(condition, x, y)

    @staticmethod
    def matmul(a, b):
        return np.matmul(a, b)

    @staticmethod
    def mT(x):
        return np.swapaxes(x, -1, -2)

    @staticmethod
    def outer(a, b):
        return np.multiply.outer(a, b)

    @staticmethod
    def put_at(shape, key, grad, like, accumulate=True):
        """Zeros of ``shape`` with ``grad`` written (summed when ``accumulate``) at ``key``."""
        out = np.zeros(shape, dtype=like.dtype)
        if accumulate:
            np.add.at(out, key, grad)
        else:
            out[key] = grad
        return out

    @staticmethod
    def take_along_dim(x, indices, dim):
        return np.take_along_axis(x, indices, axis=dim)

    @staticmethod
    def scatter_along_dim(shape, indices, grad, dim):
        out = np.zeros(shape, dtype=grad.dtype)
        np.put_along_axis(out, indices, grad, axis=dim)
        return out

    @staticmethod
    def cast(x, like):
        return x.astype(like.dtype, copy=False)

    @staticmethod
    def prod(x, dim, keepdim=False):
        return np.prod(x, axis=dim, keepdims=keepdim)

    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    sqrt = staticmethod(np.sqrt)
    sign = staticmethod(np.sign)
    abs = staticmethod(np.abs)
    floor = staticmethod(np.floor)


ARRAY_MATH = ArrayMath()

HALF = np.dtype(np.float16)


def through_float32(function, a):
    """``function`` on a half array, computed in float32 and rounded to half once.

    torch's CPU kernels compute ``Half`` through float (its "opmath" type), so a formula of
    several steps rounds once; NumPy's float16 arithmetic would round after every step (and
    cast Python-float constants to float16 first)."""
    return function(a.astype(np.float32)).astype(HALF)


class _HalfReadAsFloat(ArrayMath):
    """``ARRAY_MATH`` whose saved half-precision arrays read as float32 (see
    :func:`fused_half_kernel`)."""

    @staticmethod
    def saved(value):
        a = ArrayMath.saved(value)
        return a.astype(np.float32) if getattr(a, "dtype", None) is HALF else a

    @staticmethod
    def saved_output(value, node):
        a = ArrayMath.saved_output(value, node)
        return a.astype(np.float32) if a.dtype is HALF else a


HALF_READ_AS_FLOAT = _HalfReadAsFloat()


def fused_half_kernel(backward):
    """Mark a ``Node.backward`` whose torch counterpart is one fused kernel (tanh_backward,
    gelu_backward, softmax's backward...): for half precision such a kernel computes through
    float32 and rounds once, so an ordinary backward with a half gradient runs the formula
    on float32 arrays and rounds its results to half. (Formulas torch composes of separate
    half ops keep their half steps; under ``create_graph`` the formula runs on tensors.)"""

    def backward_through_float(self, grad, xp):
        if xp is ARRAY_MATH and getattr(grad, "dtype", None) is HALF:  # (or a 0-d scalar)
            grads = backward(self, grad.astype(np.float32), HALF_READ_AS_FLOAT)
            return tuple(g.astype(HALF) if getattr(g, "dtype", None) == np.float32 else g
                         for g in grads)
        return backward(self, grad, xp)

    backward_through_float.__name__ = backward.__name__
    backward_through_float.__qualname__ = backward.__qualname__
    backward_through_float.__doc__ = backward.__doc__
    return backward_through_float
