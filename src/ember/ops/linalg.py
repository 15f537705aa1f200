"""Products: dot, mv, mm, bmm and matmul (which dispatches to them as torch does)."""

from __future__ import annotations

import numpy as np

from ember.ops._core import (
    Node,
    SavedTensor,
    Tensor,
    edge,
    grad_state,
    new_node,
    set_history,
    wrap,
)


def _dtype_name(t: Tensor) -> str:
    return t._dtype._legacy_name.replace("Tensor", "")


def _same_dtype(op: str, a: Tensor, b: Tensor) -> None:
    if a._dtype is not b._dtype:
        raise RuntimeError(
            f"{op} : expected both vectors to have same dtype, but found {_dtype_name(a)} and "
            f"{_dtype_name(b)}"
        )


# c10's names of the scalar types, as its dtype-mismatch messages print them
_C10_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
              "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
              "uint8": "unsigned char", "bool": "bool"}


def _matmul_dtypes(a: Tensor, b: Tensor) -> None:
    if a._dtype is not b._dtype:
        raise RuntimeError(
            "expected m1 and m2 to have the same dtype, but got: "
            f"{_C10_NAMES[a._dtype.name]} != {_C10_NAMES[b._dtype.name]}"
        )


def _product(node_cls, a: Tensor, b: Tensor, array) -> Tensor:
    out = wrap(array, a._dtype)
    if grad_state.enabled and (a._requires_grad or b._requires_grad):
        node = new_node(node_cls, (edge(a), edge(b)), out._array)
        node.self_ = SavedTensor(a) if b._requires_grad else None
        node.other = SavedTensor(b) if a._requires_grad else None
        set_history(out, node)
    return out


class DotBackward0(Node):
    """a . b: grad * b and grad * a."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        return (
            grad * xp.saved(self.other) if self.needs_input_grad(0) else None,
            grad * xp.saved(self.self_) if self.needs_input_grad(1) else None,
        )


def dot(input: Tensor, tensor: Tensor) -> Tensor:
    if input._array.ndim != 1 or tensor._array.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {input._array.ndim}D and {tensor._array.ndim}D tensors"
        )
    _same_dtype("dot", input, tensor)
    n, m = input._array.shape[0], tensor._array.shape[0]
    if n != m:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have the same "
            f"number of elements, but got {n} and {m} elements respectively"
        )
    return _product(DotBackward0, input, tensor, np.dot(input._array, tensor._array))


def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum over the last dimensions; torch computes it as a tensordot (mm, then a view)."""
    from ember.ops.elementwise import mul
    from ember.ops.shape import reshape, t, view

    sa, sb = input._array.shape, other._array.shape
    if not sa or not sb:
        return mul(input, other)
    if sa[-1] != sb[-1]:
        raise RuntimeError(
            f"inner() the last dimension must match on both input tensors but got shapes "
            f"{list(sa)} and {list(sb)}"
        )
    if len(sa) == 1 and len(sb) == 1:
        return view(dot(input, other), ())
    k = sa[-1]
    a2 = reshape(input, (int(np.prod(sa[:-1])), k))
    b2 = reshape(other, (int(np.prod(sb[:-1])), k))
    return view(mm(a2, t(b2)), sa[:-1] + sb[:-1])


class MvBackward0(Node):
    """M @ v: outer(grad, v) and M^T @ grad."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        return (
            xp.outer(grad, xp.saved(self.other)) if self.needs_input_grad(0) else None,
            xp.matmul(xp.mT(xp.saved(self.self_)), grad) if self.needs_input_grad(1) else None,
        )


def mv(input: Tensor, vec: Tensor) -> Tensor:
    if input._array.ndim != 2 or vec._array.ndim != 1:
        raise RuntimeError(
            f"vector + matrix @ vector expected, got 1, {input._array.ndim}, {vec._array.ndim}"
        )
    _matmul_dtypes(input, vec)
    if input._array.shape[1] != vec._array.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({input._array.shape[0]}), mat "
            f"({input._array.shape[0]}x{input._array.shape[1]}), vec ({vec._array.shape[0]})"
        )
    return _product(MvBackward0, input, vec, input._array @ vec._array)


class MmBackward0(Node):
    """A @ B: grad @ B^T and A^T @ grad."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        return (
            xp.matmul(grad, xp.mT(xp.saved(self.other))) if self.needs_input_grad(0) else None,
            xp.matmul(xp.mT(xp.saved(self.self_)), grad) if self.needs_input_grad(1) else None,
        )


class BmmBackward0(MmBackward0):
    __slots__ = ()


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    if input._array.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2._array.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    _matmul_dtypes(input, mat2)
    (n, m), (m2, p) = input._array.shape, mat2._array.shape
    if m != m2:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({n}x{m} and {m2}x{p})"
        )
    return _product(MmBackward0, input, mat2, input._array @ mat2._array)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    if input._array.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2._array.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    _matmul_dtypes(input, mat2)
    return _product(BmmBackward0, input, mat2, np.matmul(input._array, mat2._array))


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Dispatch on the ranks as torch does, so the recorded nodes carry torch's names."""
    from ember.ops.shape import unsqueeze

    da, db = input._array.ndim, other._array.ndim
    if da == 0 or db == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D"
        )
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 2 and db == 1:
        return mv(input, other)
    if da == 1 and db == 2:
        return _squeeze4(mm(unsqueeze(input, 0), other), 0)
    if da == 2 and db == 2:
        return mm(input, other)
    if _should_fold(input, other):
        return _folded_matmul(input, other)
    return _batched_matmul(input, other)


def _should_fold(tensor1: Tensor, tensor2: Tensor) -> bool:
    """ATen's should_fold: can the larger operand fold into a matrix for one mm/mv?"""
    larger = tensor1._array.ndim >= tensor2._array.ndim
    t1 = tensor1._array if larger else np.swapaxes(tensor2._array, -1, -2)
    dim_t2 = tensor2._array.ndim if larger else tensor1._array.ndim
    if not (t1.ndim >= 3 and dim_t2 <= 2):
        return False
    if (tensor2 if larger else tensor1)._requires_grad:
        return True
    if tensor1._array.ndim == 2:
        return False
    if t1.size == 0:
        return True
    strides = [s // t1.itemsize for s in t1.strides]
    return all(strides[i] == strides[i + 1] * t1.shape[i + 1] for i in range(t1.ndim - 2))


def _folded_matmul(tensor1: Tensor, tensor2: Tensor) -> Tensor:
    from ember.ops.elementwise import clone
    from ember.ops.shape import reshape, t, transpose

    transposed = tensor2._array.ndim > tensor1._array.ndim
    t1 = transpose(tensor2, -1, -2) if transposed else tensor1
    if not transposed:
        t2 = tensor2
    else:
        t2 = t(tensor1) if tensor1._array.ndim == 2 else tensor1
    sizes = t1._array.shape
    output_shape = sizes[:-1]
    folded = reshape(t1, (int(np.prod(output_shape)), sizes[-1]))
    if t2._array.ndim == 1:
        return _unsafe_view(mv(folded, t2), output_shape)
    output = _unsafe_view(mm(folded, t2), output_shape + (t2._array.shape[1],))
    if not transposed:
        return output
    output = transpose(output, -1, -2)  # .mT().contiguous()
    return output if output._array.flags.c_contiguous else clone(output)


def _batched_matmul(tensor1: Tensor, tensor2: Tensor) -> Tensor:
    """Broadcast the batch dimensions, then one bmm (ATen's _matmul_impl)."""
    from ember.ops.elementwise import broadcast_error
    from ember.ops.shape import expand, reshape, squeeze, unsqueeze

    s1, s2 = tensor1._array.shape, tensor2._array.shape
    d1, d2 = len(s1), len(s2)
    n = s1[-2] if d1 > 1 else 1
    m1 = s1[-1]
    batch1 = s1[:max(d1 - 2, 0)]
    m2 = s2[-2] if d2 > 1 else s2[0]
    p = s2[-1] if d2 > 1 else 1
    batch2 = s2[:max(d2 - 2, 0)]
    if d1 == 3 and d2 == 3 and batch1[0] != batch2[0]:
        if batch1[0] == 1 and tensor1._requires_grad:
            return matmul(squeeze(tensor1, 0), tensor2)
        if batch2[0] == 1 and tensor2._requires_grad:
            return matmul(tensor1, squeeze(tensor2, 0))
    try:
        batch = tuple(np.broadcast_shapes(batch1, batch2))
    except ValueError:
        raise broadcast_error(batch1, batch2) from None
    size = int(np.prod(batch))
    if m1 != m2:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{size}, {m1}] "
            f"but got: [{size}, {m2}]."
        )
    a3 = reshape(expand(tensor1, batch + (n, m1)), (size, n, m1))
    if d2 == 1:
        b3 = unsqueeze(reshape(expand(tensor2, batch + (m2,)), (size, m2)), 2)
    else:
        b3 = reshape(expand(tensor2, batch + (m2, p)), (size, m2, p))
    output_shape = batch + ((n,) if d1 > 1 else ()) + ((p,) if d2 > 1 else ())
    product = bmm(a3, b3)
    if d2 == 1:
        product = squeeze(product, -1)
    return _unsafe_view(product, output_shape)


def _unsafe_view(t: Tensor, shape: tuple) -> Tensor:
    from ember.ops.shape import UnsafeViewBackward0

    array = t._array.reshape(shape)
    out = wrap(array, t._dtype)
    if t._requires_grad and grad_state.enabled:
        node = new_node(UnsafeViewBackward0, (edge(t),), array)
        node.self_sizes = t._array.shape
        set_history(out, node)
    return out


def _squeeze4(t: Tensor, dim: int) -> Tensor:
    from ember.ops.shape import SqueezeBackward4, _reshaped_view

    shape = t._array.shape
    new_shape = shape[:dim] + shape[dim + 1:]
    return _reshaped_view(t, t._array.reshape(new_shape), new_shape, SqueezeBackward4)


def rmatmul(input: Tensor, other: Tensor) -> Tensor:
    return matmul(other, input)


# The names ``ember`` exports from this family, and the Tensor methods it adds beyond those
# ``_tensor_methods.METHODS`` binds.
__all__ = ["bmm", "dot", "inner", "matmul", "mm", "mv"]
TENSOR_METHODS: dict = {}
