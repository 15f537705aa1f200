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



# ===== helpers shared by the linear-algebra formulas ==========================================
# A formula runs on arrays (ARRAY_MATH) or on tensors (create_graph=True). The few matrix
# functions NumPy keeps under np.linalg get a spelling here that works in both worlds.
from ember import _dtype as D  # noqa: E402
from ember.autograd.xp import ARRAY_MATH  # noqa: E402


class _LinAlgError(RuntimeError):
    """A matrix was singular or not positive-definite (torch names it ``_LinAlgError``)."""


def _contig(a, dtype=None) -> np.ndarray:
    """C-contiguous (np.ascontiguousarray would turn a 0-dim result into 1-dim)."""
    a = np.asarray(a, dtype=dtype)
    return a if a.flags.c_contiguous else a.copy()


def _arrays(xp) -> bool:
    return xp is ARRAY_MATH


def _const(xp, array: np.ndarray, like):
    """A constant (identity, mask) in the formula's world, with ``like``'s dtype."""
    if _arrays(xp):
        return array.astype(like.dtype, copy=False)
    return wrap(array.astype(like._array.dtype, copy=False), like._dtype)


def _eye(xp, n: int, like):
    return _const(xp, np.eye(n), like)


def _inv_f(xp, a):
    return np.linalg.inv(a) if _arrays(xp) else linalg_inv(a)


def _solve_f(xp, a, b):
    """A^-1 B for a batch of matrices B."""
    return np.linalg.solve(a, b) if _arrays(xp) else linalg_solve(a, b)


def _diag_embed_f(xp, v):
    return xp.unsqueeze(v, -1) * _eye(xp, v.shape[-1], v)


def _diagonal_f(xp, x):
    if _arrays(xp):
        return np.diagonal(x, axis1=-2, axis2=-1)
    return xp.sum(x * _eye(xp, x.shape[-1], x), (-1,))


def _tril_f(xp, x, k: int = 0):
    mask = np.tri(x.shape[-2], x.shape[-1], k)
    return x * _const(xp, mask, x)


def _cross_f(xp, a, b, dim: int):
    if _arrays(xp):
        return np.cross(a, b, axis=dim)
    return linalg_cross(a, b, dim=dim)


def _col(xp, v):
    return xp.unsqueeze(v, -1)


def _row(xp, v):
    return xp.unsqueeze(v, -2)


def _legacy(dtype: D.dtype) -> str:
    return dtype._legacy_name.replace("Tensor", "")


def _check_float(t: Tensor, op: str) -> None:
    if t._dtype.category != D.FLOATING:
        raise RuntimeError(
            f"{op}: Expected a floating point or complex tensor as input. Got {_legacy(t._dtype)}"
        )


def _check_matrix(t: Tensor, op: str, name: str = "A") -> None:
    if t._array.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor {name} must have at least 2 dimensions.")


def _check_square(t: Tensor, op: str, name: str = "A") -> None:
    _check_matrix(t, op, name)
    m, n = t._array.shape[-2:]
    if m != n:
        raise RuntimeError(
            f"{op}: {name} must be batches of square matrices, but they are {m} by {n} matrices"
        )


def _square_float(t: Tensor, op: str) -> None:
    _check_matrix(t, op)
    _check_float(t, op)
    _check_square(t, op)


def _batch_prefix(a: np.ndarray, index: int) -> str:
    return f"(Batch element {index}): " if a.ndim > 2 else ""


def _first_zero_pivot(m: np.ndarray) -> int:
    """LAPACK getrf's info: the 1-based index of the first exactly-zero pivot (0 if none)."""
    a = np.array(m, dtype=np.float64)
    n = a.shape[0]
    info = 0
    for k in range(n):
        p = k + int(np.argmax(np.abs(a[k:, k])))
        if a[p, k] == 0:
            info = info or k + 1
            continue
        a[[k, p]] = a[[p, k]]
        a[k + 1:, k] /= a[k, k]
        a[k + 1:, k + 1:] -= np.outer(a[k + 1:, k], a[k, k + 1:])
    return info


def _singular_index(a: np.ndarray) -> tuple[int, int]:
    """(batch element, pivot) of the first matrix of the batch LU finds singular."""
    flat = a.reshape((-1,) + a.shape[-2:])
    for b, matrix in enumerate(flat):
        info = _first_zero_pivot(matrix)
        if info:
            return b, info
    return -1, 0


def _is_vector_rhs(a: np.ndarray, b: np.ndarray) -> bool:
    return b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])


def _saved_outputs(node, outs) -> None:
    for i, out in enumerate(outs):
        set_history(out, node, i)


def _multi_node(cls, inputs, outs):
    """A node with several outputs (slogdet, qr, svd, eigh...)."""
    node = new_node(cls, tuple(edge(t) for t in inputs), outs[0]._array)
    node._out_meta = tuple((o._array.shape, o._array.dtype) for o in outs)
    _saved_outputs(node, outs)
    return node


def _named_tuple(name: str, fields: tuple):
    import collections

    base = collections.namedtuple(name, fields)

    def __repr__(self) -> str:
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"torch.return_types.{name}(\n{body})"

    return type(name, (base,), {"__slots__": (), "__repr__": __repr__})


linalg_slogdet_result = _named_tuple("linalg_slogdet", ("sign", "logabsdet"))
slogdet_result = _named_tuple("slogdet", ("sign", "logabsdet"))
linalg_qr_result = _named_tuple("linalg_qr", ("Q", "R"))
linalg_svd_result = _named_tuple("linalg_svd", ("U", "S", "Vh"))
linalg_eigh_result = _named_tuple("linalg_eigh", ("eigenvalues", "eigenvectors"))
linalg_lstsq_result = _named_tuple("linalg_lstsq",
                                   ("solution", "residuals", "rank", "singular_values"))


def _records(*tensors) -> bool:
    return grad_state.enabled and any(t._requires_grad for t in tensors)


# ===== inverse, determinants ==================================================================
class LinalgInvExBackward0(Node):
    """A^-1: -A^-T grad A^-T."""

    __slots__ = ("inverse",)
    _saved_fields = ("inverse",)

    def backward(self, grad, xp):
        inv_t = xp.mT(xp.saved_output(self.inverse, self))
        return (-xp.matmul(inv_t, xp.matmul(grad, inv_t)),)


def _raise_singular_inv(a: np.ndarray, op: str = "linalg.inv") -> None:
    b, info = _singular_index(a)
    if info:
        raise _LinAlgError(
            f"{op}: {_batch_prefix(a, b)}The diagonal element {info} is zero, the inversion "
            "could not be completed because the input matrix is singular."
        )


def linalg_inv(A: Tensor) -> Tensor:
    """The inverse of each square matrix; singular matrices raise LinAlgError as in torch."""
    _square_float(A, "linalg.inv")
    a = A._array
    try:
        inverse = np.linalg.inv(a) if a.size else np.empty(a.shape, a.dtype)
    except np.linalg.LinAlgError:
        _raise_singular_inv(a)
        raise
    if not np.all(np.isfinite(inverse)) and np.all(np.isfinite(a)):
        _raise_singular_inv(a)
    out = wrap(inverse.astype(a.dtype, copy=False), A._dtype)
    if _records(A):
        node = new_node(LinalgInvExBackward0, (edge(A),), out._array)
        node.inverse = SavedTensor(out, is_output=True)
        set_history(out, node)
    return out


def inverse(input: Tensor) -> Tensor:
    return linalg_inv(input)


class LinalgDetBackward0(Node):
    """det(A): grad * det * A^-T."""

    __slots__ = ("A", "result")
    _saved_fields = ("A", "result")

    def backward(self, grad, xp):
        a = xp.saved(self.A)
        det = xp.saved_output(self.result, self)
        if _arrays(xp) and a.size and np.any(det == 0):
            # an exactly singular matrix: torch's LU-based formula gives det * (finite) = 0
            a = np.where(_col(xp, _col(xp, det == 0)), np.eye(a.shape[-1], dtype=a.dtype), a)
        scale = _col(xp, _col(xp, grad * det))
        return (scale * xp.mT(_inv_f(xp, a)),)


def linalg_det(A: Tensor) -> Tensor:
    _square_float(A, "linalg.det")
    a = A._array
    out = wrap(np.asarray(np.linalg.det(a), dtype=a.dtype), A._dtype)
    if _records(A):
        node = new_node(LinalgDetBackward0, (edge(A),), out._array)
        node.A = SavedTensor(A)
        node.result = SavedTensor(out, is_output=True)
        set_history(out, node)
    return out


def det(input: Tensor) -> Tensor:
    return linalg_det(input)


class LinalgSlogdetBackward0(Node):
    """(sign, log|det A|): the sign is locally constant, log|det| has gradient A^-T."""

    __slots__ = ("A",)
    _saved_fields = ("A",)
    num_outputs = 2

    def backward(self, grads, xp):
        g = grads[1]
        if g is None:
            return (None,)
        return (_col(xp, _col(xp, g)) * xp.mT(_inv_f(xp, xp.saved(self.A))),)


def _slogdet(A: Tensor, op: str, result_type):
    _square_float(A, op)
    a = A._array
    sign, logabs = np.linalg.slogdet(a)
    outs = (wrap(np.asarray(sign, dtype=a.dtype), A._dtype),
            wrap(np.asarray(logabs, dtype=a.dtype), A._dtype))
    if _records(A):
        node = _multi_node(LinalgSlogdetBackward0, (A,), outs)
        node.A = SavedTensor(A)
    return result_type(*outs)


def linalg_slogdet(A: Tensor):
    return _slogdet(A, "linalg.slogdet", linalg_slogdet_result)


def slogdet(input: Tensor):
    return _slogdet(input, "linalg.slogdet", slogdet_result)


def logdet(input: Tensor) -> Tensor:
    """log det A: NaN where the determinant is negative (torch builds it from slogdet)."""
    from ember.ops.elementwise import eq, where

    _square_float(input, "logdet")
    sign, logabs = _slogdet(input, "logdet", slogdet_result)
    return where(eq(sign, -1), float("nan"), logabs)


# ===== solve ==================================================================================
class LinalgSolveExBackward0(Node):
    """X = A^-1 B: grad_B = A^-T grad, grad_A = -grad_B X^T."""

    __slots__ = ("A", "result", "vector", "left")
    _saved_fields = ("A", "result")

    def backward(self, grad, xp):
        a = xp.saved(self.A)
        x = xp.saved_output(self.result, self)
        if not self.left:  # X A = B: grad_B = grad A^-T, grad_A = -X^T grad_B
            g_b = xp.mT(_solve_f(xp, a, xp.mT(grad)))
            g_a = -xp.matmul(xp.mT(x), g_b) if self.needs_input_grad(0) else None
            return g_a, g_b
        if self.vector:
            grad, x = _col(xp, grad), _col(xp, x)
        g_b = _solve_f(xp, xp.mT(a), grad)
        g_a = -xp.matmul(g_b, xp.mT(x)) if self.needs_input_grad(0) else None
        if self.vector:
            g_b = xp.sum(g_b, (-1,))
        return g_a, g_b


def linalg_solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """The X with A X = B (X A = B when ``left`` is False), batched and broadcast."""
    _check_matrix(A, "linalg.solve")
    _check_float(A, "linalg.solve")
    if A._dtype is not B._dtype:
        raise RuntimeError(
            "linalg.solve: Expected A and B to have the same dtype, but found A of type "
            f"{_legacy(A._dtype)} and B of type {_legacy(B._dtype)} instead"
        )
    _check_square(A, "linalg.solve")
    a, b = A._array, B._array
    vector = left and _is_vector_rhs(a, b)
    bm = b[..., None] if vector else b
    if not left:  # X A = B is A^T X^T = B^T
        a = np.swapaxes(a, -1, -2)
        bm = np.swapaxes(bm, -1, -2) if bm.ndim >= 2 else bm
    n = a.shape[-1]
    if bm.ndim < 2 or bm.shape[-2] != n:
        rows = bm.shape[-2] if bm.ndim >= 2 else 1
        rows, cols = (rows, bm.shape[-1]) if left else (bm.shape[-1], rows)
        raise RuntimeError(
            "linalg.solve: Incompatible shapes of A and B for the equation "
            f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {rows}x{cols})"
        )
    batch = np.broadcast_shapes(a.shape[:-2], bm.shape[:-2])
    a_b = np.broadcast_to(a, batch + a.shape[-2:])
    b_b = np.broadcast_to(bm, batch + bm.shape[-2:])
    try:
        x = np.linalg.solve(a_b, b_b) if a_b.size and b_b.size else np.zeros(b_b.shape, a.dtype)
    except np.linalg.LinAlgError:
        raise _LinAlgError(
            "torch.linalg.solve: The solver failed because the input matrix is singular."
        ) from None
    if vector:
        x = x[..., 0]
    elif not left:
        x = np.swapaxes(x, -1, -2)
    out = wrap(_contig(x, a.dtype), A._dtype)
    if _records(A, B):
        node = new_node(LinalgSolveExBackward0, (edge(A), edge(B)), out._array)
        node.A = SavedTensor(A)
        node.result = SavedTensor(out, is_output=True)
        node.vector, node.left = vector, left
        set_history(out, node)
    return out


# ===== cholesky ===============================================================================
def _not_pd_order(m: np.ndarray) -> int:
    """LAPACK potrf's info: the order of the first leading minor that is not positive-definite."""
    a = np.array(m, dtype=np.float64)
    n = a.shape[0]
    for j in range(n):
        d = a[j, j] - a[j, :j] @ a[j, :j]
        if not d > 0:
            return j + 1
        a[j, j] = np.sqrt(d)
        a[j + 1:, j] = (a[j + 1:, j] - a[j + 1:, :j] @ a[j, :j]) / a[j, j]
    return 0


class LinalgCholeskyExBackward0(Node):
    """A = L L^T: grad_A = sym(L^-T phi(L^T grad_L) L^-1), phi = lower half, diagonal halved."""

    __slots__ = ("L", "upper")
    _saved_fields = ("L",)

    def backward(self, grad, xp):
        lower = xp.saved_output(self.L, self)
        if self.upper:
            lower, grad = xp.mT(lower), xp.mT(grad)
        n = lower.shape[-1]
        phi = xp.matmul(xp.mT(lower), grad)
        phi = _tril_f(xp, phi) - 0.5 * phi * _eye(xp, n, phi)
        l_inv = _inv_f(xp, lower)
        g = xp.matmul(xp.mT(l_inv), xp.matmul(phi, l_inv))
        return (0.5 * (g + xp.mT(g)),)


def linalg_cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    return _cholesky(A, upper, "linalg.cholesky", LinalgCholeskyExBackward0)


def _cholesky(A: Tensor, upper: bool, op: str, node_cls) -> Tensor:
    _square_float(A, op)
    a = A._array
    try:
        lower = np.linalg.cholesky(a) if a.size else np.zeros(a.shape, a.dtype)
    except np.linalg.LinAlgError:
        flat = a.reshape((-1,) + a.shape[-2:])
        for b, matrix in enumerate(flat):
            order = _not_pd_order(matrix)
            if order:
                raise _LinAlgError(
                    f"{op}: {_batch_prefix(a, b)}The factorization could not be "
                    "completed because the input is not positive-definite (the leading minor "
                    f"of order {order} is not positive-definite)."
                ) from None
        raise
    result = np.swapaxes(lower, -1, -2).copy() if upper else lower
    out = wrap(result.astype(a.dtype, copy=False), A._dtype)
    if _records(A):
        node = new_node(node_cls, (edge(A),), out._array)
        node.L = SavedTensor(out, is_output=True)
        node.upper = upper
        set_history(out, node)
    return out


# ===== qr =====================================================================================
class LinalgQrBackward0(Node):
    """A = QR (reduced, or square complete), as in Walter and Lehmann's formulas."""

    __slots__ = ("Q", "R", "mode")
    _saved_fields = ("Q", "R")
    num_outputs = 2

    def backward(self, grads, xp):
        g_q, g_r = grads
        if self.mode == "r":
            raise RuntimeError(
                "The derivative of linalg.qr depends on Q, which is not computed when "
                "mode='r'. Please use linalg.qr(A, mode='reduced') if you are going to "
                "differentiate through linalg.qr."
            )
        q = xp.saved_output(self.Q, self)
        r = xp.saved_output(self.R, self)
        m, n = q.shape[-2], r.shape[-1]
        if self.mode == "complete" and m > n:
            raise RuntimeError(
                "The QR decomposition is not differentiable when mode='complete' and "
                "nrows > ncols."
            )
        if g_q is None:
            g_q = xp.zeros_like(q)
        if g_r is None:
            g_r = xp.zeros_like(r)
        if m >= n:
            return (_qr_square_backward(xp, g_q, g_r, q, r),)
        # A = Q [X | Y] with X = Q U square: Y's part is Q grad_V, X's is a square QR backward.
        a_y = xp.matmul(q, r[..., :, m:])
        g_u, g_v = g_r[..., :, :m], g_r[..., :, m:]
        g_x = _qr_square_backward(xp, g_q + xp.matmul(a_y, xp.mT(g_v)), g_u, q, r[..., :, :m])
        g_y = xp.matmul(q, g_v)
        return (_cat_last(xp, g_x, g_y),)


def _qr_square_backward(xp, g_q, g_r, q, r):
    """m >= n: M = R gR^T - gQ^T Q; grad_A = (gQ + Q copyltu(M)) R^-T."""
    mm_ = xp.matmul(r, xp.mT(g_r)) - xp.matmul(xp.mT(g_q), q)
    lower = _tril_f(xp, mm_, -1)
    copyltu = lower + xp.mT(lower) + mm_ * _eye(xp, mm_.shape[-1], mm_)
    b = g_q + xp.matmul(q, copyltu)
    # b R^-T = (R^-1 b^T)^T
    return xp.mT(_solve_f(xp, r, xp.mT(b)))


def _cat_last(xp, a, b):
    if _arrays(xp):
        return np.concatenate([a, b], axis=-1)
    from ember.ops.shape import cat

    return cat([a, b], -1)


def linalg_qr(A: Tensor, mode: str = "reduced"):
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
            "'r', or 'complete'"
        )
    _check_matrix(A, "linalg.qr")
    _check_float(A, "linalg.qr")
    a = A._array
    m, n = a.shape[-2:]
    k = min(m, n)
    if a.size:
        q, r = np.linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
    else:
        qcols = m if mode == "complete" else k
        q = np.zeros(a.shape[:-2] + (m, qcols), a.dtype)
        q[..., np.arange(min(m, qcols)), np.arange(min(m, qcols))] = 1
        r = np.zeros(a.shape[:-2] + (q.shape[-1], n), a.dtype)
    if mode == "r":
        q = np.zeros((0,), a.dtype)
    outs = (wrap(_contig(q, dtype=a.dtype), A._dtype),
            wrap(_contig(r, dtype=a.dtype), A._dtype))
    if _records(A):
        node = _multi_node(LinalgQrBackward0, (A,), outs)
        node.Q = SavedTensor(outs[0], is_output=True)
        node.R = SavedTensor(outs[1], is_output=True)
        node.mode = mode
    return linalg_qr_result(*outs)


# ===== svd ====================================================================================
class LinalgSvdBackward0(Node):
    """A = U diag(S) Vh; torch's svd_backward (gauge-invariant losses only)."""

    __slots__ = ("U", "S", "Vh", "full_matrices")
    _saved_fields = ("U", "S", "Vh")
    num_outputs = 3

    def backward(self, grads, xp):
        g_u, g_s, g_vh = grads
        u = xp.saved_output(self.U, self)
        s = xp.saved_output(self.S, self)
        vh = xp.saved_output(self.Vh, self)
        m, n = u.shape[-2], vh.shape[-1]
        k = s.shape[-1]
        if self.full_matrices:
            u, vh = u[..., :, :k], vh[..., :k, :]
            g_u = g_u[..., :, :k] if g_u is not None else None
            g_vh = g_vh[..., :k, :] if g_vh is not None else None
        if g_u is None and g_vh is None:
            if g_s is None:
                return (None,)
            return (xp.matmul(u * _row(xp, g_s), vh),)
        v = xp.mT(vh)
        g_v = xp.mT(g_vh) if g_vh is not None else None
        s_row, s_col = _row(xp, s), _col(xp, s)
        s2 = s * s
        e = _row(xp, s2) - _col(xp, s2) + _eye(xp, k, s)
        if g_u is not None:
            uhgu = xp.matmul(xp.mT(u), g_u)
            uhgu = uhgu - xp.mT(uhgu)
        if g_v is not None:
            vhgv = xp.matmul(xp.mT(v), g_v)
            vhgv = vhgv - xp.mT(vhgv)
        if g_u is not None and g_v is not None:
            g = (uhgu * s_row + s_col * vhgv) / e
        elif g_u is not None:
            g = (uhgu / e) * s_row
        else:
            g = s_col * (vhgv / e)
        if g_s is not None:
            g = g + _diag_embed_f(xp, g_s)
        if m > k and g_u is not None:
            g = xp.matmul(u, g)
            g_u_sinv = g_u / s_row
            g = g + g_u_sinv - xp.matmul(u, xp.matmul(xp.mT(u), g_u_sinv))
            return (xp.matmul(g, vh),)
        if n > k and g_v is not None:
            g = xp.matmul(g, vh)
            g_v_sinv = g_v / s_row
            g = g + xp.mT(g_v_sinv) - xp.matmul(xp.matmul(xp.mT(g_v_sinv), v), vh)
            return (xp.matmul(u, g),)
        if m >= n:
            return (xp.matmul(u, xp.matmul(g, vh)),)
        return (xp.matmul(xp.matmul(u, g), vh),)


def _svd_arrays(a: np.ndarray, full_matrices: bool):
    m, n = a.shape[-2:]
    k = min(m, n)
    if a.size:
        u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    else:
        ucols, vrows = (m, n) if full_matrices else (k, k)
        u = np.zeros(a.shape[:-2] + (m, ucols), a.dtype)
        u[..., np.arange(min(m, ucols)), np.arange(min(m, ucols))] = 1
        vh = np.zeros(a.shape[:-2] + (vrows, n), a.dtype)
        vh[..., np.arange(min(n, vrows)), np.arange(min(n, vrows))] = 1
        s = np.zeros(a.shape[:-2] + (k,), a.dtype)
    return (_contig(u, dtype=a.dtype), _contig(s, dtype=a.dtype),
            _contig(vh, dtype=a.dtype))


def _svd(A: Tensor, full_matrices: bool):
    _check_matrix(A, "linalg.svd")
    _check_float(A, "linalg.svd")
    u, s, vh = _svd_arrays(A._array, full_matrices)
    outs = tuple(wrap(x, A._dtype) for x in (u, s, vh))
    if _records(A):
        node = _multi_node(LinalgSvdBackward0, (A,), outs)
        node.U = SavedTensor(outs[0], is_output=True)
        node.S = SavedTensor(outs[1], is_output=True)
        node.Vh = SavedTensor(outs[2], is_output=True)
        node.full_matrices = full_matrices
    return outs


def linalg_svd(A: Tensor, full_matrices: bool = True, *, driver=None):
    return linalg_svd_result(*_svd(A, full_matrices))


def linalg_svdvals(A: Tensor, *, driver=None) -> Tensor:
    """The singular values; when differentiating, U and Vh are kept as the node's outputs."""
    if _records(A):
        return _svd(A, False)[1]
    _check_matrix(A, "linalg.svd")
    _check_float(A, "linalg.svd")
    a = A._array
    s = np.linalg.svd(a, compute_uv=False) if a.size else np.zeros(
        a.shape[:-2] + (min(a.shape[-2:]),), a.dtype)
    return wrap(_contig(s, dtype=a.dtype), A._dtype)


# ===== eigh ===================================================================================
class LinalgEighBackward0(Node):
    """A = V diag(L) V^T: grad_A = V (diag(gL) + skew(V^T gV) / (L_j - L_i)) V^T."""

    __slots__ = ("eigenvalues", "eigenvectors")
    _saved_fields = ("eigenvalues", "eigenvectors")
    num_outputs = 2

    def backward(self, grads, xp):
        g_l, g_v = grads
        lam = xp.saved_output(self.eigenvalues, self)
        v = xp.saved_output(self.eigenvectors, self)
        n = lam.shape[-1]
        if g_v is None:
            if g_l is None:
                return (None,)
            return (xp.matmul(v * _row(xp, g_l), xp.mT(v)),)
        vhgv = xp.matmul(xp.mT(v), g_v)
        vhgv = 0.5 * (vhgv - xp.mT(vhgv))
        e = _row(xp, lam) - _col(xp, lam) + _eye(xp, n, lam)
        inner_ = vhgv / e
        eye = _eye(xp, n, lam)
        inner_ = inner_ - inner_ * eye
        if g_l is not None:
            inner_ = inner_ + _diag_embed_f(xp, g_l)
        return (xp.matmul(v, xp.matmul(inner_, xp.mT(v))),)


def _eigh(A: Tensor, UPLO: str, op: str = "linalg.eigh"):
    if UPLO not in ("L", "U", "l", "u"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    _check_matrix(A, op)
    if A._dtype.category != D.FLOATING:
        raise NotImplementedError(f"\"linalg_eigh_cpu\" not implemented for '{_legacy(A._dtype)}'")
    _check_square(A, op)
    a = A._array
    if a.size:
        w, v = np.linalg.eigh(a, UPLO=UPLO.upper())
    else:
        w, v = np.zeros(a.shape[:-1], a.dtype), np.zeros(a.shape, a.dtype)
    outs = (wrap(_contig(w, dtype=a.dtype), A._dtype),
            wrap(_contig(v, dtype=a.dtype), A._dtype))
    if _records(A):
        node = _multi_node(LinalgEighBackward0, (A,), outs)
        node.eigenvalues = SavedTensor(outs[0], is_output=True)
        node.eigenvectors = SavedTensor(outs[1], is_output=True)
    return outs


def linalg_eigh(A: Tensor, UPLO: str = "L"):
    return linalg_eigh_result(*_eigh(A, UPLO))


def linalg_eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    return _eigh(A, UPLO)[0]


# ===== pinv, lstsq, matrix_rank ===============================================================
class LinalgPinvBackward0(Node):
    """Golub and Pereyra's derivative of the pseudo-inverse (constant rank)."""

    __slots__ = ("self_", "result")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        a = xp.saved(self.self_)
        p = xp.saved_output(self.result, self)
        return (_pinv_backward(xp, grad, p, a),)


def _pinv_backward(xp, g, p, a):
    m, n = a.shape[-2], a.shape[-1]
    p_t, g_t = xp.mT(p), xp.mT(g)
    term = -xp.matmul(p_t, xp.matmul(g, p_t))
    left = _eye(xp, m, a) - xp.matmul(a, p)  # I - A P  (m x m)
    right = _eye(xp, n, a) - xp.matmul(p, a)  # I - P A  (n x n)
    term = term + xp.matmul(left, xp.matmul(g_t, xp.matmul(p, p_t)))
    return term + xp.matmul(xp.matmul(p_t, p), xp.matmul(g_t, right))


def _pinv_check(A: Tensor) -> None:
    if A._array.ndim < 2 or A._dtype.category != D.FLOATING:
        shape = ", ".join(str(s) for s in A._array.shape)
        raise RuntimeError(
            f"linalg.pinv({_legacy(A._dtype)}{{[{shape}]}}): expected a tensor with 2 or more "
            "dimensions of float, double, cfloat or cdouble types"
        )


def _tolerances(a: np.ndarray, atol, rtol):
    eps = float(np.finfo(a.dtype).eps)
    if rtol is None:
        rtol = 0.0 if (atol is not None and atol > 0) else eps * max(a.shape[-2:])
    return (0.0 if atol is None else float(atol)), float(rtol)


def linalg_pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    _pinv_check(A)
    a = A._array
    m, n = a.shape[-2:]
    if a.size == 0:
        p = np.zeros(a.shape[:-2] + (n, m), a.dtype)
    else:
        atol_, rtol_ = _tolerances(a, atol, rtol)
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        cutoff = np.maximum(atol_, rtol_ * s[..., :1])
        keep = s > cutoff
        s_inv = np.where(keep, 1 / np.where(keep, s, 1), 0)
        p = np.matmul(np.swapaxes(vh, -1, -2) * s_inv[..., None, :], np.swapaxes(u, -1, -2))
    out = wrap(_contig(p, dtype=a.dtype), A._dtype)
    if _records(A):
        node = new_node(LinalgPinvBackward0, (edge(A),), out._array)
        node.self_ = SavedTensor(A)
        node.result = SavedTensor(out, is_output=True)
        set_history(out, node)
    return out


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    return linalg_pinv(input, rtol=rcond)


class LinalgLstsqBackward0(Node):
    """X = pinv(A) B; the residuals' gradient at the optimum (envelope theorem)."""

    __slots__ = ("self_", "b", "solution", "vector")
    _saved_fields = ("self_", "b", "solution")
    num_outputs = 2

    def backward(self, grads, xp):
        g_x, g_res = grads
        a, b = xp.saved(self.self_), xp.saved(self.b)
        x = xp.saved_output(self.solution, self)
        if self.vector:
            b, x = _col(xp, b), _col(xp, x)
            g_x = _col(xp, g_x) if g_x is not None else None
        g_a = g_b = None
        if g_x is not None:
            p = _pinv_f(xp, a)
            g_b = xp.matmul(xp.mT(p), g_x)
            g_a = _pinv_backward(xp, xp.matmul(g_x, xp.mT(b)), p, a)
        if g_res is not None and g_res.shape[-1] != 0:
            r = xp.matmul(a, x) - b
            weighted = 2 * r * _row(xp, g_res)
            ga_r = xp.matmul(weighted, xp.mT(x))
            g_a = ga_r if g_a is None else g_a + ga_r
            g_b = -weighted if g_b is None else g_b - weighted
        if self.vector and g_b is not None:
            g_b = xp.sum(g_b, (-1,))
        return g_a, g_b


def _pinv_f(xp, a):
    return np.linalg.pinv(a) if _arrays(xp) else linalg_pinv(a)


def linalg_lstsq(A: Tensor, B: Tensor, rcond=None, *, driver=None):
    """Least squares through the pseudo-inverse; outputs laid out as torch's CPU drivers."""
    if A._dtype.category != D.FLOATING or B._dtype.category != D.FLOATING:
        raise RuntimeError("This function doesn't handle types other than float and double")
    if A._array.ndim < 2:
        raise RuntimeError("torch.linalg.lstsq: input must have at least 2 dimensions.")
    if A._dtype is not B._dtype:
        raise RuntimeError(
            f"torch.linalg.lstsq: Expected input and other to have the same dtype, but got "
            f"input's dtype {A._dtype} and other's dtype {B._dtype}"
        )
    driver = driver or "gelsy"
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(
            "torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)"
        )
    a, b = A._array, B._array
    vector = b.ndim == a.ndim - 1
    bm = b[..., None] if vector else b
    if bm.ndim < 2 or bm.shape[-2] != a.shape[-2]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    m, n = a.shape[-2:]
    batch = np.broadcast_shapes(a.shape[:-2], bm.shape[:-2])
    a_b = np.broadcast_to(a, batch + (m, n))
    b_b = np.broadcast_to(bm, batch + bm.shape[-2:])
    eps = float(np.finfo(a.dtype).eps)
    rcond_ = eps * max(m, n) if rcond is None else rcond
    if a.size:
        u, s, vh = np.linalg.svd(a_b, full_matrices=False)
        keep = s > rcond_ * s[..., :1]
        s_inv = np.where(keep, 1 / np.where(keep, s, 1), 0)
        pinv = np.matmul(np.swapaxes(vh, -1, -2) * s_inv[..., None, :], np.swapaxes(u, -1, -2))
        x = np.matmul(pinv, b_b)
        rank = keep.sum(-1)
    else:
        x = np.zeros(batch + (n, bm.shape[-1]), a.dtype)
        s = np.zeros(batch + (min(m, n),), a.dtype)
        rank = np.zeros(batch, np.int64)
    full_rank = bool(np.all(rank == n))
    if m > n and driver != "gelsy" and full_rank:
        residuals = np.sum((np.matmul(a_b, x) - b_b) ** 2, axis=-2)
    else:
        residuals = np.zeros((0,), a.dtype)
    if vector:
        x = x[..., 0]
    outs = (wrap(_contig(x, dtype=a.dtype), A._dtype),
            wrap(np.asarray(residuals, dtype=a.dtype), A._dtype))
    rank_out = wrap(np.asarray(rank, dtype=np.int64), D.int64) if driver != "gels" else wrap(
        np.zeros((0,), np.int64), D.int64)
    sv = np.asarray(s, dtype=a.dtype) if driver in ("gelsd", "gelss") else np.zeros((0,), a.dtype)
    if _records(A, B):
        node = new_node(LinalgLstsqBackward0, (edge(A), edge(B)), outs[0]._array)
        node._out_meta = tuple((o._array.shape, o._array.dtype) for o in outs)
        _saved_outputs(node, outs)
        node.self_ = SavedTensor(A)
        node.b = SavedTensor(B)
        node.solution = SavedTensor(outs[0], is_output=True)
        node.vector = vector
    return linalg_lstsq_result(outs[0], outs[1], rank_out, wrap(sv, A._dtype))


def linalg_matrix_rank(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    if A._array.ndim < 2:
        raise RuntimeError(
            "torch.linalg.matrix_rank: The input tensor input must have at least 2 dimensions."
        )
    if A._dtype.category != D.FLOATING:
        raise RuntimeError("This function doesn't handle types other than float and double")
    a = A._array
    if a.size == 0:
        return wrap(np.zeros(a.shape[:-2], np.int64), D.int64)
    s = np.linalg.svd(a, compute_uv=False)
    atol_, rtol_ = _tolerances(a, atol, rtol)
    cutoff = np.maximum(atol_, rtol_ * s[..., :1])
    return wrap(np.asarray((s > cutoff).sum(-1), dtype=np.int64), D.int64)


# ===== matrix_power, norms ====================================================================
def linalg_matrix_power(A: Tensor, n: int) -> Tensor:
    """Repeated squaring through matmul, as torch (whose nodes are then MmBackward0...)."""
    from ember.ops.elementwise import clone
    from ember.ops.indexing import copy_

    _check_matrix(A, "linalg.matrix_power")
    _check_square(A, "linalg.matrix_power")
    if n == 0:
        identity = np.broadcast_to(np.eye(A._array.shape[-1], dtype=A._array.dtype),
                                   A._array.shape)
        return copy_(clone(A), wrap(_contig(identity), A._dtype))
    if n == 1:
        return clone(A)
    if n < 0:
        A, n = linalg_inv(A), -n
        if n == 1:
            return A
    if n == 2:
        return matmul(A, A)
    if n == 3:
        return matmul(matmul(A, A), A)
    z = result = None
    while n > 0:
        bit, n = n % 2, n // 2
        z = A if z is None else matmul(z, z)
        if bit:
            result = z if result is None else matmul(result, z)
    return result


def matrix_power(input: Tensor, n: int) -> Tensor:
    return linalg_matrix_power(input, n)


def _dim_pair(dim, ndim: int, op: str) -> tuple[int, int]:
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {dim}")
    d0, d1 = (d + ndim if d < 0 else d for d in dim)
    if d0 == d1:
        raise RuntimeError(f"{op}: dims must be different. Got ({dim[0]}, {dim[1]})")
    return d0, d1


def linalg_matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *,
                       dtype=None) -> Tensor:
    """Matrix norms: Frobenius as a vector norm, 'nuc' and ±2 through the singular values,
    ±1 and ±inf as the extreme column/row sums (the ops torch composes them from)."""
    from ember.ops import reduction as R
    from ember.ops.elementwise import abs as abs_
    from ember.ops.shape import permute, unsqueeze

    op = "linalg.matrix_norm"
    _check_matrix(A, op)
    _check_float(A, op)
    if dtype is not None:
        from ember.ops.elementwise import to_dtype

        A = to_dtype(A, dtype)
    ndim = A._array.ndim
    d0, d1 = _dim_pair(dim, ndim, op)
    if ord == "fro":
        return R.vector_norm(A, 2, (d0, d1), keepdim)
    if ord == "nuc" or ord in (2, -2):
        perm = [d for d in range(ndim) if d not in (d0, d1)] + [d0, d1]
        sv = linalg_svdvals(permute(A, perm))
        if ord == "nuc":
            result = R.sum(sv, -1, keepdim)
        else:
            result = _amax_amin(sv, -1, keepdim, ord > 0)
        if keepdim:
            inverse_perm = [perm.index(i) for i in range(ndim)]
            result = permute(unsqueeze(result, -1), inverse_perm)
        return result
    if ord in (1, -1, float("inf"), float("-inf")):
        if ord in (float("inf"), float("-inf")):
            d0, d1 = d1, d0
        summed = R.sum(abs_(A), d0, keepdim)
        if not keepdim and d1 > d0:
            d1 -= 1
        return _amax_amin(summed, d1, keepdim, ord > 0)
    raise RuntimeError(f"{op}: Order {ord} not supported.")


def _amax_amin(x: Tensor, dim: int, keepdim: bool, is_max: bool) -> Tensor:
    from ember.ops import reduction as R

    if is_max:
        return R.amax(x, dim, keepdim)
    amin = getattr(R, "amin", None)
    if amin is None:
        raise NotImplementedError("linalg.matrix_norm with a negative order needs ember.amin")
    return amin(x, dim, keepdim)


def linalg_norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """torch.linalg.norm: a vector or a matrix norm depending on ``ord`` and ``dim``."""
    from ember.ops import reduction as R

    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 1:
            return R.vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
        return linalg_matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
    if ord is None:
        return R.vector_norm(A, 2, None, keepdim, dtype=dtype)
    if isinstance(ord, str):
        return linalg_matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    ndim = A._array.ndim
    if ndim == 1:
        return R.vector_norm(A, ord, None, keepdim, dtype=dtype)
    if ndim == 2:
        return linalg_matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise RuntimeError(
        "linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
        f"Got {ndim}D."
    )


# ===== products: outer, cross, kron, tensordot, multi_dot =====================================
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """a_i b_j, computed as torch does: a column times a row (so MulBackward0)."""
    from ember.ops.elementwise import mul
    from ember.ops.shape import reshape

    for name, t in (("self", input), ("vec2", vec2)):
        if t._array.ndim != 1:
            raise RuntimeError(
                f"outer: Expected 1-D argument {name}, but got {t._array.ndim}-D"
            )
    return mul(reshape(input, (input._array.shape[0], 1)), vec2)


ger = outer


class LinalgCrossBackward0(Node):
    """a x b: grad_a = b x grad, grad_b = grad x a."""

    __slots__ = ("self_", "other", "dim")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        dim = self.dim
        return (
            _cross_f(xp, xp.saved(self.other), grad, dim) if self.needs_input_grad(0) else None,
            _cross_f(xp, grad, xp.saved(self.self_), dim) if self.needs_input_grad(1) else None,
        )


def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    from ember.ops._core import binary_operands
    from ember.ops.elementwise import broadcast_error

    a, b = input._array, other._array
    if a.ndim != b.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    ndim = a.ndim
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], "
            f"but got {dim})"
        )
    if a.shape[dim] != 3 or b.shape[dim] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. Got {a.shape[dim]} "
            f"and {b.shape[dim]}"
        )
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise broadcast_error(input, other) from None
    a, b, dtype = binary_operands(input, other)
    out = wrap(_contig(np.cross(a, b, axis=dim)), dtype)
    if _records(input, other):
        node = new_node(LinalgCrossBackward0, (edge(input), edge(other)), out._array)
        node.self_ = SavedTensor(input) if other._requires_grad else None
        node.other = SavedTensor(other) if input._requires_grad else None
        node.dim = dim
        set_history(out, node)
    return out


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """torch.cross: without ``dim``, the first dimension of size 3 (torch's legacy default)."""
    if dim is None:
        import warnings

        warnings.warn(
            "Using torch.cross without specifying the dim arg is deprecated.\nPlease either "
            "pass the dim explicitly or simply use torch.linalg.cross.\nThe default value of "
            "dim will change to agree with that of linalg.cross in a future release.",
            UserWarning, stacklevel=2)
        try:
            shape = np.broadcast_shapes(input._array.shape, other._array.shape)
        except ValueError:
            shape = input._array.shape
        sizes = [i for i, s in enumerate(shape) if s == 3]
        if not sizes:
            raise RuntimeError("no dimension of size 3 in input")
        dim = sizes[0]
    return linalg_cross(input, other, dim=dim)


def _tensor_args(op: str, *named) -> None:
    """torch's argument-parser error for a non-tensor where a tensor is expected."""
    for position, (name, value) in enumerate(named, 1):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{op}(): argument '{name}' (position {position}) must be Tensor, not "
                f"{type(value).__name__}"
            )


def kron(input: Tensor, other: Tensor) -> Tensor:
    """Kronecker product: interleave the dimensions of a broadcast product, then one view."""
    from ember.ops.elementwise import mul
    from ember.ops.shape import reshape

    _tensor_args("kron", ("input", input), ("other", other))

    sa, sb = input._array.shape, other._array.shape
    nd = max(len(sa), len(sb))
    sa = (1,) * (nd - len(sa)) + sa
    sb = (1,) * (nd - len(sb)) + sb
    a_view = reshape(input, tuple(x for s in sa for x in (s, 1)))
    b_view = reshape(other, tuple(x for s in sb for x in (1, s)))
    product = mul(a_view, b_view)
    shape = tuple(x * y for x, y in zip(sa, sb))
    try:  # torch views the product, laid out like its inputs: a transposed input cannot be
        np.ndarray.view(product._array).shape = shape
    except AttributeError:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
        ) from None
    return _unsafe_view(product, shape)


def tensordot(a: Tensor, b: Tensor, dims=2, out=None) -> Tensor:
    """Contract ``dims`` of ``a`` with ``dims`` of ``b``: permute, fold, one mm, unfold."""
    from ember.ops.shape import permute, reshape

    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a._array.ndim, b._array.ndim):
            raise RuntimeError(
                f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}"
            )
        dims_a, dims_b = list(range(-dims, 0)), list(range(dims))
    else:
        dims_a, dims_b = dims
        dims_a = [dims_a] if isinstance(dims_a, int) else list(dims_a)
        dims_b = [dims_b] if isinstance(dims_b, int) else list(dims_b)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    if a._dtype is not b._dtype:
        raise RuntimeError("both inputs should have same dtype")
    sa, sb = a._array.shape, b._array.shape
    ca = [d % len(sa) if sa else d for d in dims_a]
    cb = [d % len(sb) if sb else d for d in dims_b]
    for da, db, ra, rb in zip(ca, cb, dims_a, dims_b):
        if sa[da] != sb[db]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {sa[da]} in dim "
                f"{ra} and second has size {sb[db]} in dim {rb}"
            )
    free_a = [d for d in range(len(sa)) if d not in ca]
    free_b = [d for d in range(len(sb)) if d not in cb]
    size_free_a = int(np.prod([sa[d] for d in free_a]))
    size_free_b = int(np.prod([sb[d] for d in free_b]))
    size_c = int(np.prod([sa[d] for d in ca]))
    t1 = reshape(permute(a, free_a + ca), (size_free_a, size_c))
    t2 = reshape(permute(b, cb + free_b), (size_c, size_free_b))
    out_shape = tuple(sa[d] for d in free_a) + tuple(sb[d] for d in free_b)
    return reshape(mm(t1, t2), out_shape)


def _chain_order(shapes: list) -> list:
    """The optimal parenthesization of a chain of matrices (classic dynamic programme)."""
    n = len(shapes)
    p = [shapes[0][0]] + [s[1] for s in shapes]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def linalg_multi_dot(tensors, *, out=None) -> Tensor:
    """A chain of matrix products in the cheapest order; the first and last may be vectors."""
    from ember.ops.shape import unsqueeze, view

    tensors = list(tensors)
    n = len(tensors)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    first, last = tensors[0]._array.ndim, tensors[-1]._array.ndim
    if first not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {first}D")
    if last not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last}D")
    for i, t in enumerate(tensors[1:-1], 1):
        if t._array.ndim != 2:
            raise RuntimeError(
                f"multi_dot(): tensor {i} must be 2D but got {t._array.ndim}D"
            )
    dtype = tensors[0]._dtype
    for t in tensors[1:]:
        if t._dtype is not dtype:
            raise RuntimeError(
                "multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                f"{dtype} and tensor {tensors.index(t)} is {t._dtype}"
            )
    mats = list(tensors)
    if first == 1:
        mats[0] = unsqueeze(mats[0], 0)
    if last == 1:
        mats[-1] = unsqueeze(mats[-1], 1)
    for i in range(n - 1):
        s1, s2 = mats[i]._array.shape, mats[i + 1]._array.shape
        if s1[1] != s2[0]:
            raise RuntimeError(
                f"multi_dot(): tensors {i} and {i + 1} with shapes {list(tensors[i].shape)} "
                f"and {list(tensors[i + 1].shape)} cannot be multiplied"
            )
    if n == 2:
        result = mm(mats[0], mats[1])
    else:
        split = _chain_order([m._array.shape for m in mats])

        def product(i, j):
            if i == j:
                return mats[i]
            k = split[i][j]
            return mm(product(i, k), product(k + 1, j))

        result = product(0, n - 1)
    shape = tuple(s for s, keep in zip(result._array.shape, (first == 2, last == 2)) if keep)
    return view(result, shape)


def chain_matmul(*matrices) -> Tensor:
    """The deprecated torch.chain_matmul: multi_dot over 2-D matrices."""
    import warnings

    from ember.ops.elementwise import clone

    warnings.warn(
        "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
        "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather "
        "than multiple parameters.", UserWarning, stacklevel=2)
    for t in matrices:
        if t._array.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {t._array.ndim}, expected 2 instead.")
    if len(matrices) == 1:
        return clone(matrices[0])
    return linalg_multi_dot(matrices)


# ===== addmm family ===========================================================================
def _expand_self(input: Tensor, shape: tuple) -> np.ndarray:
    try:
        return np.broadcast_to(input._array, shape)
    except ValueError:
        target = ", ".join(str(s) for s in shape)
        sizes = ", ".join(str(s) for s in input._array.shape)
        a = input._array.shape
        for i in range(1, max(len(a), len(shape)) + 1):
            x = a[-i] if i <= len(a) else 1
            y = shape[-i] if i <= len(shape) else 1
            if x != y and x != 1:
                dim = len(shape) - i
                raise RuntimeError(
                    f"The expanded size of the tensor ({y}) must match the existing size "
                    f"({x}) at non-singleton dimension {dim}.  Target sizes: [{target}].  "
                    f"Tensor sizes: [{sizes}]"
                ) from None
        raise


def _scaled_sum(self_a: np.ndarray, product: np.ndarray, beta, alpha) -> np.ndarray:
    out = product if alpha == 1 else product * alpha
    if beta == 0:
        return np.array(np.broadcast_to(out, product.shape))
    return out + (self_a if beta == 1 else self_a * beta)


class AddmmBackward0(Node):
    """beta*self + alpha*(mat1 @ mat2)."""

    __slots__ = ("mat1", "mat2", "alpha", "beta")
    _saved_fields = ("mat1", "mat2")

    def backward(self, grad, xp):
        alpha, beta = self.alpha, self.beta
        g = grad if alpha == 1 else grad * alpha
        return (
            (grad if beta == 1 else grad * beta) if self.needs_input_grad(0) else None,
            xp.matmul(g, xp.mT(xp.saved(self.mat2))) if self.needs_input_grad(1) else None,
            xp.matmul(xp.mT(xp.saved(self.mat1)), g) if self.needs_input_grad(2) else None,
        )


class BaddbmmBackward0(AddmmBackward0):
    __slots__ = ()


def _add_product(node_cls, input, m1, m2, product, beta, alpha, names=("mat1", "mat2")):
    out_a = _scaled_sum(_expand_self(input, product.shape), product, beta, alpha)
    out = wrap(_contig(out_a, dtype=product.dtype), m1._dtype)
    if _records(input, m1, m2):
        node = new_node(node_cls, (edge(input), edge(m1), edge(m2)), out._array)
        node.mat1 = SavedTensor(m1) if m2._requires_grad else None
        node.mat2 = SavedTensor(m2) if m1._requires_grad else None
        node.alpha, node.beta = alpha, beta
        set_history(out, node)
    return out


def _same_dtypes_self(input: Tensor, m1: Tensor, m2: Tensor) -> None:
    if input._dtype is not m2._dtype:
        raise RuntimeError(
            f"self and mat2 must have the same dtype, but got {_legacy(input._dtype)} and "
            f"{_legacy(m2._dtype)}"
        )
    if m1._dtype is not m2._dtype:
        raise RuntimeError(
            f"mat1 and mat2 must have the same dtype, but got {_legacy(m1._dtype)} and "
            f"{_legacy(m2._dtype)}"
        )


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    if mat1._array.ndim != 2:
        raise RuntimeError("mat1 must be a matrix, got 1-D tensor".replace(
            "1-D", f"{mat1._array.ndim}-D"))
    if mat2._array.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix, got {mat2._array.ndim}-D tensor")
    (n, m), (m2, p) = mat1._array.shape, mat2._array.shape
    if m != m2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({n}x{m} and {m2}x{p})")
    _same_dtypes_self(input, mat1, mat2)
    return _add_product(AddmmBackward0, input, mat1, mat2, mat1._array @ mat2._array,
                        beta, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    b1, b2 = batch1._array, batch2._array
    if b1.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if not (input._dtype is batch1._dtype is batch2._dtype):
        raise RuntimeError(
            f"Input dtypes must be the same, got: input {_C10_SHORT[input._dtype.name]}, "
            f"batch1: {_C10_SHORT[batch1._dtype.name]}, batch2: "
            f"{_C10_SHORT[batch2._dtype.name]}"
        )
    bs, _, k = b1.shape
    if b2.shape[0] != bs or b2.shape[1] != k:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{bs}, {k}] but "
            f"got: [{b2.shape[0]}, {b2.shape[1]}]."
        )
    return _add_product(BaddbmmBackward0, input, batch1, batch2, np.matmul(b1, b2), beta,
                        alpha)


_C10_SHORT = {"float32": "float", "float64": "double", "float16": "half", "int64": "long",
              "int32": "int", "int16": "short", "int8": "char", "uint8": "byte",
              "bool": "bool"}


class AddmvBackward0(Node):
    """beta*self + alpha*(mat @ vec)."""

    __slots__ = ("mat", "vec", "alpha", "beta")
    _saved_fields = ("mat", "vec")

    def backward(self, grad, xp):
        alpha, beta = self.alpha, self.beta
        g = grad if alpha == 1 else grad * alpha
        return (
            (grad if beta == 1 else grad * beta) if self.needs_input_grad(0) else None,
            xp.outer(g, xp.saved(self.vec)) if self.needs_input_grad(1) else None,
            xp.matmul(xp.mT(xp.saved(self.mat)), g) if self.needs_input_grad(2) else None,
        )


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    if mat._array.ndim != 2 or vec._array.ndim != 1:
        raise RuntimeError(
            f"vector + matrix @ vector expected, got {input._array.ndim}, {mat._array.ndim}, "
            f"{vec._array.ndim}"
        )
    n, m = mat._array.shape
    if m != vec._array.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({input._array.shape[0] if input._array.ndim else 1}), "
            f"mat ({n}x{m}), vec ({vec._array.shape[0]})"
        )
    if not (input._dtype is mat._dtype is vec._dtype):
        raise RuntimeError(
            "addmv input tensors must have the same dtype, but got "
            f"{_legacy(input._dtype)}, {_legacy(mat._dtype)}, and {_legacy(vec._dtype)}"
        )
    product = mat._array @ vec._array
    out = wrap(_contig(_scaled_sum(_expand_self(input, product.shape), product,
                                                beta, alpha), dtype=product.dtype), mat._dtype)
    if _records(input, mat, vec):
        node = new_node(AddmvBackward0, (edge(input), edge(mat), edge(vec)), out._array)
        node.mat = SavedTensor(mat) if vec._requires_grad else None
        node.vec = SavedTensor(vec) if mat._requires_grad else None
        node.alpha, node.beta = alpha, beta
        set_history(out, node)
    return out


class AddbmmBackward0(Node):
    """beta*self + alpha * sum_b batch1[b] @ batch2[b]."""

    __slots__ = ("batch1", "batch2", "alpha", "beta")
    _saved_fields = ("batch1", "batch2")

    def backward(self, grad, xp):
        alpha, beta = self.alpha, self.beta
        g = xp.unsqueeze(grad if alpha == 1 else grad * alpha, 0)
        return (
            (grad if beta == 1 else grad * beta) if self.needs_input_grad(0) else None,
            xp.matmul(g, xp.mT(xp.saved(self.batch2))) if self.needs_input_grad(1) else None,
            xp.matmul(xp.mT(xp.saved(self.batch1)), g) if self.needs_input_grad(2) else None,
        )


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    b1, b2 = batch1._array, batch2._array
    if b1.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor")  # noqa: F541
    if b2.ndim != 3:
        raise RuntimeError(f"batch2 must be a 3D tensor")  # noqa: F541
    if b1.shape[0] != b2.shape[0]:
        raise RuntimeError(
            f"batch1 and batch2 must have same number of batches, got {b1.shape[0]} and "
            f"{b2.shape[0]}"
        )
    if b1.shape[2] != b2.shape[1]:
        raise RuntimeError(
            f"Incompatible matrix sizes for bmm ({b1.shape[1]}x{b1.shape[2]} and "
            f"{b2.shape[1]}x{b2.shape[2]})"
        )
    _same_dtypes_self(input, batch1, batch2)
    product = np.matmul(b1, b2).sum(0)
    out = wrap(_contig(_scaled_sum(_expand_self(input, product.shape), product,
                                                beta, alpha), dtype=b1.dtype), batch1._dtype)
    if _records(input, batch1, batch2):
        node = new_node(AddbmmBackward0, (edge(input), edge(batch1), edge(batch2)), out._array)
        node.batch1 = SavedTensor(batch1) if batch2._requires_grad else None
        node.batch2 = SavedTensor(batch2) if batch1._requires_grad else None
        node.alpha, node.beta = alpha, beta
        set_history(out, node)
    return out


# ===== cdist ==================================================================================
class CdistBackward0(Node):
    """Pairwise p-distances: each pair's difference, weighted by the distance's derivative."""

    __slots__ = ("x1", "x2", "p", "result")
    _saved_fields = ("x1", "x2", "result")

    def backward(self, grad, xp):
        x1, x2 = xp.saved(self.x1), xp.saved(self.x2)
        dist = xp.saved_output(self.result, self)
        p = self.p
        diff = xp.unsqueeze(x1, -2) - xp.unsqueeze(x2, -3)  # (..., P, R, M)
        g = xp.unsqueeze(grad, -1)
        d = xp.unsqueeze(dist, -1)
        if p == 0:
            pair = diff * 0
        elif p == 1:
            pair = xp.sign(diff)
        elif p == 2:
            pair = xp.where(d == 0, 0, diff / xp.where(d == 0, 1, d))
        elif p == float("inf"):
            pair = xp.sign(diff) * xp.cast(xp.abs(diff) == d, diff)
        elif p < 2:
            pair = xp.where(d == 0, 0, xp.sign(diff) * xp.abs(diff) ** (p - 1)
                            / xp.where(d == 0, 1, d) ** (p - 1))
        else:
            pair = xp.where(d == 0, 0, diff * xp.abs(diff) ** (p - 2)
                            / xp.where(d == 0, 1, d) ** (p - 1))
        weighted = pair * g
        return (
            xp.sum(weighted, (-2,)) if self.needs_input_grad(0) else None,
            -xp.sum(weighted, (-3,)) if self.needs_input_grad(1) else None,
        )


class EuclideanDistBackward0(Node):
    """Euclidean distances of batches of rows: ratio = grad / dist (0 where dist is 0);
    grad_x1 = x1 * rowsum(ratio) - ratio @ x2, symmetrically for x2."""

    __slots__ = ("x1", "x2", "result")
    _saved_fields = ("x1", "x2", "result")

    def backward(self, grad, xp):
        x1, x2 = xp.saved(self.x1), xp.saved(self.x2)
        return _euclidean_grads(xp, grad, x1, x2, xp.saved_output(self.result, self),
                                self.needs_input_grad(0), self.needs_input_grad(1))


def _euclidean_grads(xp, grad, x1, x2, dist, need1=True, need2=True):
    ratio = xp.where(dist == 0, 0, grad / xp.where(dist == 0, 1, dist))
    return (
        x1 * xp.sum(ratio, (-1,), True) - xp.matmul(ratio, x2) if need1 else None,
        x2 * xp.unsqueeze(xp.sum(ratio, (-2,)), -1) - xp.matmul(xp.mT(ratio), x1)
        if need2 else None,
    )


def _euclidean_dist(x1: Tensor, x2: Tensor) -> Tensor:
    """Distances through one matrix product, |a|^2 + |b|^2 - 2 a.b (torch's fast path)."""
    a, b = x1._array, x2._array
    a_norm = (a * a).sum(-1, keepdims=True)
    b_norm = (b * b).sum(-1, keepdims=True)
    left = np.concatenate([-2 * a, a_norm, np.ones_like(a_norm)], -1)
    right = np.concatenate([b, np.ones_like(b_norm), b_norm], -1)
    dist = np.sqrt(np.maximum(np.matmul(left, np.swapaxes(right, -1, -2)), 0))
    out = wrap(_contig(dist, a.dtype), x1._dtype)
    if _records(x1, x2):
        node = new_node(EuclideanDistBackward0, (edge(x1), edge(x2)), out._array)
        node.x1, node.x2 = SavedTensor(x1), SavedTensor(x2)
        node.result = SavedTensor(out, is_output=True)
        set_history(out, node)
    return out


def _cdist_mm(x1: Tensor, x2: Tensor, batch: tuple) -> Tensor:
    from ember.ops.shape import expand, reshape, view

    size = int(np.prod(batch))
    (r1, c), r2 = x1._array.shape[-2:], x2._array.shape[-2]
    a = reshape(expand(x1, batch + (r1, c)), (size, r1, c))
    b = reshape(expand(x2, batch + (r2, c)), (size, r2, c))
    return view(_euclidean_dist(a, b), batch + (r1, r2))


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    for name, t in (("X1", x1), ("X2", x2)):
        if t._array.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: "
                               f"{t._array.ndim}D")
    for name, t in (("X1", x1), ("X2", x2)):
        if t._dtype.category != D.FLOATING:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{_legacy(t._dtype)}")
    a, b = x1._array, x2._array
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{a.shape[-1]} X2: {b.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if x1._dtype is not x2._dtype:
        raise RuntimeError(f"expected scalar type {_legacy(x1._dtype)} but found "
                           f"{_legacy(x2._dtype)}")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if compute_mode not in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                            "donot_use_mm_for_euclid_dist", None):
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    use_mm = compute_mode == "use_mm_for_euclid_dist" or (
        compute_mode in ("use_mm_for_euclid_dist_if_necessary", None)
        and (a.shape[-2] > 25 or b.shape[-2] > 25))
    if p == 2 and use_mm and a.shape[-2] and b.shape[-2] and a.shape[-1]:
        return _cdist_mm(x1, x2, tuple(batch))
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    diff = np.abs(a[..., :, None, :] - b[..., None, :, :])
    if p == 0:
        dist = (diff != 0).sum(-1).astype(a.dtype)
    elif p == 1:
        dist = diff.sum(-1)
    elif p == 2:
        dist = np.sqrt((diff * diff).sum(-1))
    elif p == float("inf"):
        dist = diff.max(-1) if diff.shape[-1] else np.zeros(diff.shape[:-1], a.dtype)
    else:
        dist = (diff ** p).sum(-1) ** (1.0 / p)
    out = wrap(_contig(dist, dtype=a.dtype), x1._dtype)
    if _records(x1, x2):
        node = new_node(CdistBackward0, (edge(x1), edge(x2)), out._array)
        node.x1, node.x2 = SavedTensor(x1), SavedTensor(x2)
        node.result = SavedTensor(out, is_output=True)
        node.p = float(p)
        set_history(out, node)
    return out


# ===== solve_triangular, vecdot ===============================================================
def _triangle(xp, a, upper: bool, unitriangular: bool):
    """The triangle of ``a`` solve_triangular reads (unit diagonal when ``unitriangular``)."""
    n = a.shape[-1]
    k = 1 if unitriangular else 0
    mask = np.triu(np.ones((n, n)), k) if upper else np.tril(np.ones((n, n)), -k)
    tri = a * _const(xp, mask, a)
    return tri + _eye(xp, n, a) if unitriangular else tri


class LinalgSolveTriangularBackward0(Node):
    """X = T^-1 B (or B T^-1): grad_B = T^-T grad (grad T^-T); grad_A = -grad_B X^T
    (-X^T grad_B), kept to the triangle the solve read."""

    __slots__ = ("self_", "result", "upper", "left", "unitriangular")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        tri = _triangle(xp, xp.saved(self.self_), self.upper, self.unitriangular)
        x = xp.saved_output(self.result, self)
        if self.left:
            g_b = _solve_f(xp, xp.mT(tri), grad)
            g_a = -xp.matmul(g_b, xp.mT(x))
        else:
            g_b = xp.mT(_solve_f(xp, tri, xp.mT(grad)))
            g_a = -xp.matmul(xp.mT(x), g_b)
        if self.needs_input_grad(0):
            n = g_a.shape[-1]
            k = 1 if self.unitriangular else 0
            mask = np.triu(np.ones((n, n)), k) if self.upper else np.tril(np.ones((n, n)), -k)
            g_a = g_a * _const(xp, mask, g_a)
        else:
            g_a = None
        return g_a, g_b


def _substitute(tri: np.ndarray, b: np.ndarray, upper: bool) -> np.ndarray:
    """Back/forward substitution, one row at a time (vectorized over batches and columns):
    a zero pivot gives inf/NaN as LAPACK's trsm does, where np.linalg.solve would raise."""
    n = tri.shape[-1]
    x = np.zeros(np.broadcast_shapes(tri.shape[:-2], b.shape[:-2]) + b.shape[-2:], b.dtype)
    rows = range(n - 1, -1, -1) if upper else range(n)
    with np.errstate(all="ignore"):
        for i in rows:
            acc = b[..., i, :] - np.einsum("...j,...jk->...k", tri[..., i, :], x)
            x[..., i, :] = acc / tri[..., i, i, None]
    return x


_REQUIRED = object()


def linalg_solve_triangular(A: Tensor, B: Tensor, *, upper: bool = _REQUIRED, left: bool = True,
                            unitriangular: bool = False) -> Tensor:
    op = "linalg.solve_triangular"
    if upper is _REQUIRED:
        raise TypeError('linalg_solve_triangular() missing 1 required positional arguments: '
                        '"upper"')
    if A._array.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if B._array.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    if A._dtype.category != D.FLOATING:
        raise NotImplementedError(
            f"\"triangular_solve_cpu\" not implemented for '{_legacy(A._dtype)}'")
    if A._dtype is not B._dtype:
        raise RuntimeError(
            f"{op}: Expected A and B to have the same dtype, but found A of type "
            f"{_legacy(A._dtype)} and B of type {_legacy(B._dtype)} instead"
        )
    _check_square(A, op)
    a, b = A._array, B._array
    n = a.shape[-1]
    if (b.shape[-2] if left else b.shape[-1]) != n:
        shape = f"{b.shape[-2]}x{b.shape[-1]}"
        raise RuntimeError(
            f"{op}: Incompatible shapes of A and B for the equation "
            f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {shape})"
        )
    tri = _triangle(ARRAY_MATH, a, upper, unitriangular)
    if not left:  # X T = B is T^T X^T = B^T
        tri, b, upper_ = np.swapaxes(tri, -1, -2), np.swapaxes(b, -1, -2), not upper
    else:
        upper_ = upper
    batch = np.broadcast_shapes(tri.shape[:-2], b.shape[:-2])
    tri_b = np.broadcast_to(tri, batch + tri.shape[-2:])
    b_b = np.broadcast_to(b, batch + b.shape[-2:])
    try:
        x = np.linalg.solve(tri_b, b_b) if tri_b.size and b_b.size else np.zeros(b_b.shape,
                                                                                   a.dtype)
    except np.linalg.LinAlgError:
        x = _substitute(tri_b, b_b, upper_)
    if not left:
        x = np.swapaxes(x, -1, -2)
    out = wrap(_contig(x, a.dtype), A._dtype)
    if _records(A, B):
        node = new_node(LinalgSolveTriangularBackward0, (edge(A), edge(B)), out._array)
        node.self_ = SavedTensor(A)
        node.result = SavedTensor(out, is_output=True)
        node.upper, node.left, node.unitriangular = upper, left, unitriangular
        set_history(out, node)
    return out


def linalg_vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """Dot products along ``dim`` (broadcasting): vdot for two vectors, else (x * y).sum(dim)."""
    from ember.ops import reduction as R
    from ember.ops.elementwise import mul

    _check_float(x, "linalg.vecdot")
    if x._dtype is not y._dtype:
        raise RuntimeError(
            "linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
            f"{_legacy(x._dtype)} and y of type {_legacy(y._dtype)} instead"
        )
    if x._array.ndim == 1 and y._array.ndim == 1:
        return vdot(x, y)
    return R.sum(mul(x, y), dim)


# ===== torch's older spellings: svd (V, not Vh), qr(some=), cholesky, addr, vdot ===============
svd_result = _named_tuple("svd", ("U", "S", "V"))
qr_result = _named_tuple("qr", ("Q", "R"))


def svd(input: Tensor, some: bool = True, compute_uv: bool = True):
    """torch.svd: V instead of Vh (a transpose of linalg.svd's), zeros for U and V when
    ``compute_uv`` is False."""
    from ember.ops.shape import transpose

    if input._array.ndim < 2:
        raise RuntimeError(
            "linalg.svd: input should have at least 2 dimensions, but has "
            f"{input._array.ndim} dimensions instead"
        )
    if not compute_uv:
        s_ = linalg_svdvals(input)
        m, n = input._array.shape[-2:]
        batch = input._array.shape[:-2]
        zeros = np.zeros
        return svd_result(wrap(zeros(batch + (m, m), input._array.dtype), input._dtype), s_,
                          wrap(zeros(batch + (n, n), input._array.dtype), input._dtype))
    u, s_, vh = _svd(input, not some)
    return svd_result(u, s_, transpose(vh, -2, -1))


def qr(input: Tensor, some: bool = True):
    import warnings

    warnings.warn(
        "torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future "
        "PyTorch release.\nThe boolean parameter 'some' has been replaced with a string "
        "parameter 'mode'.\nQ, R = torch.qr(A, some)\nshould be replaced with\nQ, R = "
        "torch.linalg.qr(A, 'reduced' if some else 'complete')", UserWarning, stacklevel=2)
    return qr_result(*linalg_qr(input, "reduced" if some else "complete"))


class CholeskyBackward0(LinalgCholeskyExBackward0):
    __slots__ = ()


def cholesky(input: Tensor, upper: bool = False) -> Tensor:
    """The deprecated torch.cholesky: linalg.cholesky's factor under its own node name."""
    import warnings

    warnings.warn(
        "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in "
        "a future PyTorch release.\nL = torch.cholesky(A)\nshould be replaced with\nL = "
        "torch.linalg.cholesky(A)\nand\nU = torch.cholesky(A, upper=True)\nshould be "
        "replaced with\nU = torch.linalg.cholesky(A).mH\nThis transform will produce "
        "equivalent results for all valid (symmetric positive definite) inputs.",
        UserWarning, stacklevel=2)
    if input._dtype.category != D.FLOATING:
        raise NotImplementedError(f"\"cholesky_cpu\" not implemented for '{_legacy(input._dtype)}'")
    return _cholesky(input, upper, "cholesky", CholeskyBackward0)


class AddrBackward0(Node):
    """beta*self + alpha*outer(vec1, vec2)."""

    __slots__ = ("vec1", "vec2", "alpha", "beta")
    _saved_fields = ("vec1", "vec2")

    def backward(self, grad, xp):
        alpha, beta = self.alpha, self.beta
        g = grad if alpha == 1 else grad * alpha
        return (
            (grad if beta == 1 else grad * beta) if self.needs_input_grad(0) else None,
            xp.matmul(g, xp.saved(self.vec2)) if self.needs_input_grad(1) else None,
            xp.matmul(xp.mT(g), xp.saved(self.vec1)) if self.needs_input_grad(2) else None,
        )


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    for name, t in (("vec1", vec1), ("vec2", vec2)):
        if t._array.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {t._array.ndim}-D")
    from ember.ops._core import binary_operands

    v1, v2, dtype = binary_operands(vec1, vec2)
    product = np.multiply.outer(v1, v2)
    out_a = _scaled_sum(_expand_self(input, product.shape), product, beta, alpha)
    out = wrap(_contig(out_a, dtype.numpy), dtype)
    if _records(input, vec1, vec2):
        node = new_node(AddrBackward0, (edge(input), edge(vec1), edge(vec2)), out._array)
        node.vec1 = SavedTensor(vec1) if vec2._requires_grad else None
        node.vec2 = SavedTensor(vec2) if vec1._requires_grad else None
        node.alpha, node.beta = alpha, beta
        set_history(out, node)
    return out


class VdotBackward0(DotBackward0):
    __slots__ = ()


def vdot(input: Tensor, other: Tensor) -> Tensor:
    """The dot product (conjugating the first operand, which changes nothing for reals)."""
    if input._array.ndim != 1 or other._array.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {input._array.ndim}D and {other._array.ndim}D tensors"
        )
    _same_dtype("vdot", input, other)
    n, m = input._array.shape[0], other._array.shape[0]
    if n != m:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have the same "
            f"number of elements, but got {n} and {m} elements respectively"
        )
    return _product(VdotBackward0, input, other, np.dot(input._array, other._array))


# ===== einsum =================================================================================
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class EinsumBackward0(Node):
    """One einsum: each operand's gradient is again an einsum, of the incoming gradient with
    the other operands (ones vectors stand for dims only that operand has, identities for its
    repeated subscripts). torch records its internal decomposition (bmm, views) instead."""

    __slots__ = ("operands", "labels", "out", "sizes")
    _saved_fields = ("operands",)

    def release_saved(self) -> None:
        # a lone operand's gradient needs only its sizes (torch's views save nothing either)
        if any(o is not None for o in self.operands):
            super().release_saved()

    def backward(self, grad, xp):
        operands = [None if o is None else xp.saved(o) for o in self.operands]
        sizes = self.sizes
        grads = []
        for i, own in enumerate(self.labels):
            if not self.needs_input_grad(i):
                grads.append(None)
                continue
            terms, args = [self.out], [grad]
            for j, other in enumerate(self.labels):
                if j != i:
                    terms.append(other)
                    args.append(_expand_labels(xp, operands[j], other, sizes))
            present = set("".join(terms))
            free = iter(c for c in _LETTERS if c not in "".join(self.labels) + self.out)
            target, seen = [], set()
            for c in own:
                if c in seen:  # a repeated subscript: the gradient sits on the diagonal
                    fresh = next(free)
                    terms.append(c + fresh)
                    args.append(_eye(xp, sizes[c], grad))
                    target.append(fresh)
                    continue
                seen.add(c)
                target.append(c)
                if c not in present:  # summed in this operand only: broadcast back
                    terms.append(c)
                    args.append(_const(xp, np.ones(sizes[c]), grad))
                    present.add(c)
            equation = ",".join(terms) + "->" + "".join(target)
            if _arrays(xp):
                big = len(args) > 2 or sum(a.size for a in args) > 4096
                grads.append(np.einsum(equation, *args, optimize=big))
            else:
                grads.append(einsum(equation, *args))
        return tuple(grads)


def _expand_labels(xp, x, labels: str, sizes: dict):
    shape = tuple(sizes[c] for c in labels)
    if tuple(x.shape) == shape:
        return x
    return np.broadcast_to(x, shape) if _arrays(xp) else xp.expand(x, shape)


def _einsum_labels(equation: str, operands) -> tuple[list, str]:
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    unused = [c for c in _LETTERS if c not in eq]
    ell_ndim = 0
    for i, (term, t) in enumerate(zip(terms, operands)):
        nd = t._array.ndim
        if "..." in term:
            k = len(term) - 3
            if k > nd:
                raise RuntimeError(
                    f"einsum(): the number of subscripts in the equation ({k}) is more than the "
                    f"number of dimensions ({nd}) for operand {i}"
                )
            ell_ndim = max(ell_ndim, nd - k)
        elif len(term) != nd:
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({len(term)}) does not match "
                f"the number of dimensions ({nd}) for operand {i} and no ellipsis was given"
            )
    ellipsis = "".join(unused[:ell_ndim])
    labels = []
    for term, t in zip(terms, operands):
        if "..." in term:
            n_ell = t._array.ndim - (len(term) - 3)
            term = term.replace("...", ellipsis[ell_ndim - n_ell:])
        labels.append(term)
    if arrow:
        out = rhs.replace("...", ellipsis)
    else:
        counts = "".join(labels)
        out = ellipsis + "".join(sorted(c for c in set(counts)
                                        if counts.count(c) == 1 and c not in ellipsis))
    return labels, out


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, computed by NumPy in one call (size-1 dims broadcast, as in torch)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    labels, out = _einsum_labels(equation, operands)
    dtype = operands[0]._dtype
    for t in operands[1:]:
        if t._dtype is not dtype:
            raise RuntimeError(
                f"expected scalar type {_legacy(dtype)} but found {_legacy(t._dtype)}"
            )
    sizes: dict = {}
    for i, (term, t) in enumerate(zip(labels, operands)):
        for c, size in zip(term, t._array.shape):
            seen = sizes.get(c)
            if seen is None or seen == 1:
                sizes[c] = size
            elif size != seen and size != 1:
                raise RuntimeError(
                    f"einsum(): subscript {c} has size {size} for operand {i} which does not "
                    f"broadcast with previously seen size {seen}"
                )
    arrays_ = [_expand_labels(ARRAY_MATH, t._array, term, sizes)
               if len(set(term)) == len(term) else t._array
               for term, t in zip(labels, operands)]
    equation_ = ",".join(labels) + "->" + out
    # NumPy's optimized path calls BLAS (worth its planning cost on large operands)
    big = len(arrays_) > 2 or sum(a.size for a in arrays_) > 4096
    result = np.einsum(equation_, *arrays_, optimize=big)
    result = wrap(_contig(result, dtype=operands[0]._array.dtype), dtype)
    if _records(*operands):
        node = new_node(EinsumBackward0, tuple(edge(t) for t in operands), result._array)
        node.operands = tuple(
            SavedTensor(t) if any(o._requires_grad for j, o in enumerate(operands) if j != i)
            else None for i, t in enumerate(operands))
        node.labels, node.out, node.sizes = labels, out, sizes
        set_history(result, node)
    return result


# The names ``ember`` exports from this family, and the Tensor methods it adds beyond those
# ``_tensor_methods.METHODS`` binds.
__all__ = [
    "addbmm", "addmm", "addmv", "addr", "baddbmm", "bmm", "cdist", "chain_matmul", "cholesky",
    "cross", "det", "dot", "einsum", "ger", "inner", "inverse", "kron", "logdet", "matmul",
    "matrix_power", "mm", "mv", "outer", "pinverse", "qr", "slogdet", "svd", "tensordot", "vdot",
]


def _inplace(op):
    def method(self: Tensor, *args, **kwargs) -> Tensor:
        from ember.ops._core import apply_inplace

        return apply_inplace(self, op, *args, **kwargs)

    method.__name__ = op.__name__ + "_"
    return method


TENSOR_METHODS: dict = {
    "addbmm": addbmm, "addmm": addmm, "addmv": addmv, "baddbmm": baddbmm, "cross": cross,
    "det": det, "ger": ger, "inverse": inverse, "kron": kron, "logdet": logdet,
    "matrix_power": matrix_power, "outer": outer, "pinverse": pinverse, "slogdet": slogdet,
    "addbmm_": _inplace(addbmm), "addmm_": _inplace(addmm), "addmv_": _inplace(addmv),
    "baddbmm_": _inplace(baddbmm), "addr": addr, "addr_": _inplace(addr), "vdot": vdot,
    "svd": svd, "qr": qr, "cholesky": cholesky,
}
