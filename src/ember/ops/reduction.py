"""Reductions: sum, mean, prod, max/min, norm, argmax/argmin.

Their backward spreads the gradient back over the reduced dimensions: ``_unreduce`` puts the
dropped dimensions back (when ``keepdim`` was False) so broadcasting does the rest.
"""

from __future__ import annotations

import builtins
import collections
import math
import warnings

import numpy as np

from ember import _dtype as D
from ember._tensor import _canonical_dim
from ember.ops._core import (
    FLOATING,
    Node,
    SavedTensor,
    Tensor,
    edge,
    grad_state,
    new_node,
    set_history,
    wrap,
)

# The default ``dim`` of sum and mean: omitted, torch reduces with SumBackward0/MeanBackward0;
# any ``dim`` given (even None or ()) selects the dim overload (SumBackward1/MeanBackward1).
ALL_DIMS = type("_AllDims", (), {"__repr__": lambda self: "None"})()


def _dims(dim, ndim: int) -> tuple[int, ...]:
    """Canonical, sorted reduction axes; None and () mean all (none for a 0-dim tensor)."""
    if dim is None or dim is ALL_DIMS or (isinstance(dim, (tuple, list)) and not dim):
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    dims = tuple(sorted({_canonical_dim(d, ndim) for d in dim}))
    return dims if ndim else ()


def _unreduce(grad, xp, dims, keepdim: bool, shape):
    """Give ``grad`` back the reduced dimensions (size 1) and expand it to ``shape``."""
    if not keepdim:
        for d in dims:
            grad = xp.unsqueeze(grad, d)
    return xp.expand(grad, shape)


def _sum_dtype(input: Tensor, dtype) -> D.dtype:
    if dtype is not None:
        return dtype
    return D.int64 if input._dtype.category != FLOATING else input._dtype


# ----- sum / mean -----------------------------------------------------------------------------
class SumBackward0(Node):
    """sum of everything: every element gets the gradient."""

    __slots__ = ("self_sizes",)

    def backward(self, grad, xp):
        return (xp.expand(grad, self.self_sizes),)


class SumBackward1(Node):
    """sum over ``dim``: expand the gradient back over it."""

    __slots__ = ("self_sizes", "dim", "keepdim")

    def backward(self, grad, xp):
        return (_unreduce(grad, xp, self.dim, self.keepdim, self.self_sizes),)


def sum(input: Tensor, dim=ALL_DIMS, keepdim: bool = False, *, dtype=None) -> Tensor:
    if isinstance(dim, D.dtype):  # torch.sum(x, torch.float64)
        dim, dtype = ALL_DIMS, dim
    out_dtype = _sum_dtype(input, dtype)
    a = input._array
    full = dim is ALL_DIMS
    dims = _dims(dim, a.ndim)
    out = wrap(np.sum(a, axis=dims, keepdims=keepdim and not full, dtype=out_dtype.numpy),
               out_dtype)
    if input._requires_grad and grad_state.enabled:
        if full:
            node = new_node(SumBackward0, (edge(input),), out._array)
        else:
            node = new_node(SumBackward1, (edge(input),), out._array)
            node.dim, node.keepdim = dims, keepdim
        node.self_sizes = a.shape
        set_history(out, node)
    return out


class MeanBackward0(Node):
    __slots__ = ("self_sizes", "self_numel")

    def backward(self, grad, xp):
        if not self.self_numel:  # expand first, as torch: the empty expansion's derivative is 0
            return (xp.expand(grad, self.self_sizes) / self.self_numel,)
        return (xp.expand(grad / self.self_numel, self.self_sizes),)


class MeanBackward1(Node):
    __slots__ = ("self_sizes", "dim", "keepdim", "count")

    def backward(self, grad, xp):
        if not self.count:  # expand first, as torch: the empty expansion's derivative is 0
            return (_unreduce(grad, xp, self.dim, self.keepdim, self.self_sizes) / self.count,)
        return (_unreduce(grad / self.count, xp, self.dim, self.keepdim, self.self_sizes),)


def mean(input: Tensor, dim=ALL_DIMS, keepdim: bool = False, *, dtype=None) -> Tensor:
    out_dtype = dtype or input._dtype
    if out_dtype.category != FLOATING:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {_legacy(out_dtype)}"
        )
    a = input._array.astype(out_dtype.numpy, copy=False)
    full = dim is ALL_DIMS
    dims = _dims(dim, a.ndim)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.mean(a, axis=dims, keepdims=keepdim and not full) if a.size else np.full(
            _reduced_shape(a.shape, dims, keepdim and not full), np.nan)
    out = wrap(np.asarray(value, dtype=out_dtype.numpy), out_dtype)
    if input._requires_grad and grad_state.enabled:
        if full:
            node = new_node(MeanBackward0, (edge(input),), out._array)
            node.self_numel = a.size
        else:
            node = new_node(MeanBackward1, (edge(input),), out._array)
            node.dim, node.keepdim = dims, keepdim
            node.count = math.prod(a.shape[d] for d in dims)
        node.self_sizes = a.shape
        set_history(out, node)
    return out


def _reduced_shape(shape, dims, keepdim):
    if keepdim:
        return tuple(1 if i in dims else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def _legacy(dtype: D.dtype) -> str:
    return dtype._legacy_name.replace("Tensor", "")


# ----- prod -----------------------------------------------------------------------------------
def _prod_backward(grad, xp, self_, result, dim: int | None, keepdim: bool):
    """Gradient of a product: the product of all the other elements.

    ``result / self`` gives that when no element is zero. With zeros it would divide by zero,
    so then each element's "product of the others" is taken directly, by replacing the
    element itself with 1 (an n x n construction, differentiable for higher orders).
    """
    if self_.ndim == 0:
        return grad
    no_zeros = not bool((self_ == 0).any())
    if dim is None:
        if no_zeros:
            return grad * (result / self_)  # torch's order: result / self first
        flat_self = xp.reshape(self_, (-1,))
        shape = self_.shape
        others = _product_of_others(xp, flat_self)
        return xp.reshape(others, shape) * grad
    grad = _unreduce(grad, xp, (dim,), keepdim, self_.shape)
    if no_zeros:
        result = _unreduce(result, xp, (dim,), keepdim, self_.shape)
        return grad * (result / self_)
    moved = xp.permute(self_, _move_last(self_.ndim, dim))
    others = _product_of_others(xp, moved)
    return grad * xp.permute(others, _move_back(self_.ndim, dim))


def _product_of_others(xp, x):
    """For each element along the last axis: the product of the other elements."""
    n = x.shape[-1]
    eye = np.eye(n, dtype=bool)
    expanded = xp.unsqueeze(x, -2)  # (..., 1, n)
    replaced = xp.where(eye, 1.0, xp.expand(expanded, x.shape[:-1] + (n, n)))
    return xp.prod(replaced, -1)


def _move_last(ndim: int, dim: int) -> tuple:
    return tuple(d for d in range(ndim) if d != dim) + (dim,)


def _move_back(ndim: int, dim: int) -> tuple:
    order = _move_last(ndim, dim)
    return tuple(order.index(d) for d in range(ndim))


class ProdBackward0(Node):
    __slots__ = ("self_", "result")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        result = xp.saved_output(self.result, self)
        return (_prod_backward(grad, xp, self_, result, None, False),)


class ProdBackward1(Node):
    __slots__ = ("self_", "result", "dim", "keepdim")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        result = xp.saved_output(self.result, self)
        return (_prod_backward(grad, xp, self_, result, self.dim, self.keepdim),)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:
    out_dtype = _sum_dtype(input, dtype)
    a = input._array
    if dim is None:
        out = wrap(np.asarray(np.prod(a, dtype=out_dtype.numpy)), out_dtype)
        node_cls = ProdBackward0
    else:
        dim = _canonical_dim(dim, a.ndim) if a.ndim else 0
        value = np.prod(a, axis=dim if a.ndim else None, keepdims=keepdim and a.ndim > 0,
                        dtype=out_dtype.numpy)
        out = wrap(np.asarray(value), out_dtype)
        node_cls = ProdBackward1
    if input._requires_grad and grad_state.enabled:
        node = new_node(node_cls, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.result = SavedTensor(out, is_output=True)
        if node_cls is ProdBackward1:
            node.dim = dim if a.ndim else None
            node.keepdim = keepdim
        set_history(out, node)
    return out


# ----- max / min ------------------------------------------------------------------------------
class _NamedTupleRepr:
    def __repr__(self) -> str:
        fields = ",\n".join(f"{name}={value!r}" for name, value in zip(self._fields, self))
        return f"torch.return_types.{self._torch_name}(\n{fields})"


def _return_type(name: str):
    base = collections.namedtuple(name, ["values", "indices"])
    return type(name, (_NamedTupleRepr, base), {"__slots__": (), "_torch_name": name})


max_result = _return_type("max")
min_result = _return_type("min")


class MaxBackward1(Node):
    """max of everything: ties share the gradient evenly (torch's evenly_distribute)."""

    __slots__ = ("self_", "result")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        return (_evenly_distribute(grad, xp, xp.saved(self.self_),
                                   xp.saved_output(self.result, self)),)


class MinBackward1(MaxBackward1):
    __slots__ = ()


def _evenly_distribute(grad, xp, self_, result):
    mask = self_ == result
    if np.isnan(float(result)):
        mask = self_ != self_
    count = xp.cast(mask, grad).sum()
    return xp.where(mask, grad / count, 0)


class MaxBackward0(Node):
    """max over ``dim``: the gradient goes to the selected index."""

    __slots__ = ("indices", "dim", "keepdim", "self_sizes")
    _saved_fields = ("indices",)

    def backward(self, grad, xp):
        if not self.self_sizes:  # a 0-dim input is its own max
            return (grad,)
        indices = self.indices
        if not self.keepdim:
            grad = xp.unsqueeze(grad, self.dim)
            indices = np.expand_dims(indices, self.dim)
        return (xp.scatter_along_dim(self.self_sizes, indices, grad, self.dim),)


class MinBackward0(MaxBackward0):
    __slots__ = ()


def _extreme(input: Tensor, dim, keepdim: bool, is_max: bool, name: str):
    a = input._array
    if dim is None:
        if a.size == 0:
            raise RuntimeError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                "Specify the reduction dim with the 'dim' argument."
            )
        value = (np.max if is_max else np.min)(a)
        out = wrap(np.asarray(value, dtype=a.dtype), input._dtype)
        if input._requires_grad and grad_state.enabled:
            node = new_node(MaxBackward1 if is_max else MinBackward1, (edge(input),), out._array)
            node.self_ = SavedTensor(input)
            node.result = SavedTensor(out, is_output=True)
            set_history(out, node)
        return out
    if isinstance(dim, Tensor):  # torch.max(a, b) is maximum
        from ember.ops.elementwise import maximum, minimum

        return (maximum if is_max else minimum)(input, dim)
    d = _canonical_dim(dim, a.ndim)
    if a.ndim == 0:
        values = wrap(a.copy(), input._dtype)
        indices = np.zeros((), dtype=np.int64)
    else:
        if a.shape[d] == 0:
            raise IndexError(
                f"{name}(): Expected reduction dim {d} to have non-zero size."
            )
        indices = _arg_extreme(a, d, is_max)
        values = wrap(np.take_along_axis(a, np.expand_dims(indices, d), axis=d).squeeze(d),
                      input._dtype)
        if keepdim:
            values._array = np.expand_dims(values._array, d)
            indices = np.expand_dims(indices, d)
    if input._requires_grad and grad_state.enabled:
        node = new_node(MaxBackward0 if is_max else MinBackward0, (edge(input),), values._array)
        node.indices = indices
        node.dim, node.keepdim, node.self_sizes = d, keepdim, a.shape
        set_history(values, node)
    result_cls = max_result if is_max else min_result
    return result_cls(values, wrap(np.asarray(indices, dtype=np.int64), D.int64))


def _arg_extreme(a: np.ndarray, dim: int, is_max: bool) -> np.ndarray:
    """First index of the max/min along ``dim``; a NaN wins, as in torch."""
    nan = np.isnan(a) if a.dtype.kind == "f" else None
    if nan is not None and nan.any():
        idx = (np.argmax if is_max else np.argmin)(a, axis=dim)
        has_nan = nan.any(axis=dim)
        return np.where(has_nan, np.argmax(nan, axis=dim), idx)
    return (np.argmax if is_max else np.argmin)(a, axis=dim)


def max(input: Tensor, dim=None, keepdim: bool = False):
    return _extreme(input, dim, keepdim, True, "max")


def min(input: Tensor, dim=None, keepdim: bool = False):
    return _extreme(input, dim, keepdim, False, "min")


class AmaxBackward0(Node):
    """amax: ties share the gradient evenly over each reduced slice (scale_grad_by_count)."""

    __slots__ = ("self_", "result", "dim", "keepdim")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        result = xp.saved_output(self.result, self)
        dims, keepdim, shape = self.dim, self.keepdim, self_.shape
        mask = xp.cast(_unreduce(result, xp, dims, keepdim, shape) == self_, grad)
        count = _unreduce(xp.sum(mask, dims, True), xp, dims, True, shape)
        return (_unreduce(grad, xp, dims, keepdim, shape) / count * mask,)


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    a = input._array
    dims = _dims(dim, a.ndim)
    if a.size == 0:
        if dim is None or (isinstance(dim, (tuple, list)) and not dim):
            raise RuntimeError(
                "amax(): Expected reduction dim to be specified for input.numel() == 0. "
                "Specify the reduction dim with the 'dim' argument."
            )
        for d in (dim,) if isinstance(dim, int) else dim:
            if a.shape[_canonical_dim(d, a.ndim)] == 0:
                raise IndexError(f"amax(): Expected reduction dim {d} to have non-zero size.")
    out = wrap(np.asarray(np.max(a, axis=dims, keepdims=keepdim), dtype=a.dtype), input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(AmaxBackward0, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.result = SavedTensor(out, is_output=True)
        node.dim, node.keepdim = dims, keepdim
        set_history(out, node)
    return out


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _argextreme(input, dim, keepdim, True)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _argextreme(input, dim, keepdim, False)


def _argextreme(input: Tensor, dim, keepdim: bool, is_max: bool) -> Tensor:
    a = input._array
    if dim is None:
        flat = a.reshape(-1)
        index = _arg_extreme(flat, 0, is_max) if flat.size else None
        if index is None:
            name = "argmax" if is_max else "argmin"
            raise IndexError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
            )
        result = np.asarray(index, dtype=np.int64)
        if keepdim:
            result = result.reshape((1,) * a.ndim)
        return wrap(result, D.int64)
    if a.ndim == 0:
        return wrap(np.zeros((), dtype=np.int64), D.int64)
    d = _canonical_dim(dim, a.ndim)
    result = _arg_extreme(a, d, is_max).astype(np.int64)
    if keepdim:
        result = np.expand_dims(result, d)
    return wrap(result, D.int64)


# ----- norm -----------------------------------------------------------------------------------
class LinalgVectorNormBackward0(Node):
    """Vector p-norm, as torch's norm_backward (its branches decide the kinks at zero)."""

    __slots__ = ("self_", "result", "ord", "dim", "keepdim")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        p, dims, keepdim = self.ord, self.dim, self.keepdim
        if p == 0:  # piecewise constant: torch returns no gradient at all
            return (None,)
        self_ = xp.saved(self.self_)
        shape = self_.shape
        grad = _unreduce(grad, xp, dims, keepdim, shape)
        norm = _unreduce(xp.saved_output(self.result, self), xp, dims, keepdim, shape)
        if p == 1:
            return (xp.sign(self_) * grad,)
        if p == 2:
            return (grad * xp.where(norm == 0, 0, self_ / norm),)
        if math.isinf(p):  # the maxima (or NaNs) share the gradient
            absolute = xp.abs(self_)
            mask = xp.cast((absolute == norm) | (absolute != absolute), grad)
            count = _unreduce(xp.sum(mask, dims, True), xp, dims, True, shape)
            return (xp.sign(self_) * (grad / count * mask),)
        if p < 1:
            scaled = xp.sign(self_) * xp.where(self_ == 0, 0, xp.abs(self_) ** (p - 1))
            return (scaled * grad * norm ** (1 - p),)
        if p < 2:
            scaled = xp.sign(self_) * xp.abs(self_) ** (p - 1)
        else:
            scaled = self_ * xp.abs(self_) ** (p - 2)
        return (scaled * xp.where(norm == 0, 0, grad / norm ** (p - 1)),)


def _vector_norm_array(a: np.ndarray, p, dims, keepdim: bool) -> np.ndarray:
    absolute = np.abs(a)
    if p == 2:
        return np.sqrt(np.sum(absolute * absolute, axis=dims, keepdims=keepdim))
    if p == float("inf"):
        return np.max(absolute, axis=dims, keepdims=keepdim)
    if p == float("-inf"):
        return np.min(absolute, axis=dims, keepdims=keepdim)
    if p == 0:
        return np.sum(absolute != 0, axis=dims, keepdims=keepdim).astype(a.dtype)
    if p == 1:
        return np.sum(absolute, axis=dims, keepdims=keepdim)
    return np.sum(absolute ** p, axis=dims, keepdims=keepdim) ** (1.0 / p)


def _check_norm_identity(a: np.ndarray, ord, dim, dims) -> None:
    """max/min-like norms of nothing have no value: torch's errors for empty reductions."""
    p = f"{float(ord):g}"
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):
        raise RuntimeError(
            f"linalg.vector_norm cannot compute the {p} norm on an empty tensor because the "
            "operation does not have an identity"
        )
    for d in (dim,) if isinstance(dim, int) else dim:
        if a.shape[_canonical_dim(d, a.ndim)] == 0:
            raise RuntimeError(
                f"linalg.vector_norm cannot compute the {p} norm on the dimension {d}because "
                "this dimension is empty and the operation does not have an identity"
            )


def vector_norm(input: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    if input._dtype.category != FLOATING:
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
            f"{_legacy(input._dtype)}"
        )
    a = input._array if dtype is None else input._array.astype(dtype.numpy)
    dims = _dims(dim, a.ndim)
    if (ord < 0 or ord == float("inf")) and a.size == 0:
        _check_norm_identity(a, ord, dim, dims)
    out = wrap(np.asarray(_vector_norm_array(a, ord, dims, keepdim), dtype=a.dtype),
               dtype or input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(LinalgVectorNormBackward0, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.result = SavedTensor(out, is_output=True)
        node.ord, node.dim, node.keepdim = ord, dims, keepdim
        set_history(out, node)
    return out


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """torch.norm: the vector p-norm over ``dim`` ('fro' and None mean 2)."""
    if p == "fro" and isinstance(dim, (tuple, list)) and len(dim) > 2:
        # torch sends this to linalg.matrix_norm, which wants exactly two dims
        raise RuntimeError(
            f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(str(d) for d in dim)}"
        )
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str):
        raise RuntimeError(f"norm: unsupported p='{p}' in ember (only numbers and 'fro')")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


# ----- var / std ------------------------------------------------------------------------------
def _correction(name: str, unbiased, correction) -> float:
    """The ``correction`` torch's var/std use: 1 (Bessel) unless told otherwise."""
    if correction is not None:
        if unbiased is not None:
            raise TypeError(
                f"{name}() received an invalid combination of arguments - got both 'unbiased' "
                "and 'correction'"
            )
        return correction
    return 0 if unbiased is False else 1


def _check_floating(input: Tensor, name: str) -> None:
    if input._dtype.category != FLOATING:
        name = "std and var" if name in ("std", "var") else name
        raise RuntimeError(f"{name} only support floating point and complex dtypes")


def _var_array(a: np.ndarray, dims: tuple, correction, keepdim: bool):
    """Variance in float64 (torch accumulates in double), and the reduced count."""
    count = math.prod(a.shape[d] for d in dims)
    wide = a.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.sum(wide, axis=dims, keepdims=True) / count if count else np.full(
            _reduced_shape(a.shape, dims, True), np.nan)
        deviation = wide - mean
        squares = np.sum(deviation * deviation, axis=dims, keepdims=keepdim)
        value = squares / builtins.max(0, count - correction)
    return np.asarray(value, dtype=a.dtype), mean, count


def _var_backward(grad, xp, self_, dims, correction, keepdim: bool, rnumel):
    """d var / d self = 2 (self - mean) / (N - correction), spread over the reduced dims.

    ``rnumel`` is torch's N: None for a reduction over everything (dim None or a 0-dim
    input), where no degrees of freedom give NaN where self equals the mean and inf
    elsewhere (constants, so no second derivative), as torch does.
    """
    count = math.prod(self_.shape[d] for d in dims)
    grad = _unreduce(grad, xp, dims, keepdim, self_.shape)
    mean = xp.sum(self_, dims, True) / count
    if rnumel is None:
        dof = count - correction
        if dof <= 0:
            return grad * xp.where(self_ == mean, math.nan, math.inf)
    else:
        dof = rnumel - correction
    factor = 2.0 / dof if dof else math.inf  # C++ divides by zero to inf, as torch does
    return factor * grad * (self_ - mean)


def _std_grad_to_var(grad, xp, result):
    """std = sqrt(var): the gradient reaching var (0 where std is 0, as torch masks it)."""
    return xp.where(result == 0, 0, grad / (result * 2))


def _mean_backward(grad, xp, dims, keepdim: bool, shape):
    count = math.prod(shape[d] for d in dims)
    if not count:  # expand first, as torch: the empty expansion's derivative is 0
        return _unreduce(grad, xp, dims, keepdim, shape) / count
    return _unreduce(grad / count, xp, dims, keepdim, shape)


class VarBackward0(Node):
    __slots__ = ("self_", "dim", "correction", "keepdim", "rnumel")
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (_var_backward(grad, xp, xp.saved(self.self_), self.dim, self.correction,
                              self.keepdim, self.rnumel),)


class StdBackward0(Node):
    __slots__ = ("self_", "result", "dim", "correction", "keepdim", "rnumel")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        result = xp.saved_output(self.result, self)
        grad = _std_grad_to_var(grad, xp, result)
        return (_var_backward(grad, xp, xp.saved(self.self_), self.dim, self.correction,
                              self.keepdim, self.rnumel),)


class VarMeanBackward0(Node):
    """Both outputs (var, mean) feed one gradient; either may be absent."""

    __slots__ = ("self_", "result0", "dim", "correction", "keepdim", "rnumel")
    _saved_fields = ("self_", "result0")
    num_outputs = 2
    _is_std = False

    def backward(self, grads, xp):
        grad_var, grad_mean = grads
        self_ = xp.saved(self.self_)
        dims, keepdim = self.dim, self.keepdim
        total = None
        if grad_var is not None:
            if self._is_std:
                grad_var = _std_grad_to_var(grad_var, xp, xp.saved_output(self.result0, self))
            total = _var_backward(grad_var, xp, self_, dims, self.correction, keepdim,
                                  self.rnumel)
        if grad_mean is not None:
            part = _mean_backward(grad_mean, xp, dims, keepdim, self_.shape)
            total = part if total is None else total + part
        return (total,)


class StdMeanBackward0(VarMeanBackward0):
    __slots__ = ()
    _is_std = True


def _var_args(name: str, dim, unbiased, correction):
    if isinstance(dim, bool):  # var(x, True): the unbiased overload
        dim, unbiased = None, dim
    return dim, _correction(name, unbiased, correction)


def _variance(input: Tensor, dim, unbiased, keepdim, correction, name: str, std: bool,
              with_mean: bool):
    _check_floating(input, name)
    dim, correction = _var_args(name, dim, unbiased, correction)
    a = input._array
    dims = _dims(dim, a.ndim)
    value, mean, count = _var_array(a, dims, correction, keepdim)
    if count - correction <= 0:
        warnings.warn(
            f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the "
            "reduction factor (input numel divided by output numel).", UserWarning, stacklevel=3)
    if std:
        value = np.sqrt(value)
    out = wrap(value, input._dtype)
    outs = [out]
    if with_mean:
        m = mean if keepdim else np.squeeze(mean, axis=dims)
        outs.append(wrap(np.asarray(m, dtype=a.dtype), input._dtype))
    if input._requires_grad and grad_state.enabled:
        if with_mean:
            node_cls = StdMeanBackward0 if std else VarMeanBackward0
        else:
            node_cls = StdBackward0 if std else VarBackward0
        node = new_node(node_cls, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.dim, node.correction, node.keepdim = dims, correction, keepdim
        # torch's N in the backward: everything (None), or the listed dims' sizes (1 for none)
        node.rnumel = None if dim is None or a.ndim == 0 else math.prod(
            a.shape[_canonical_dim(d, a.ndim)] for d in ((dim,) if isinstance(dim, int) else dim))
        if with_mean:
            node._out_meta = tuple((o._array.shape, o._array.dtype) for o in outs)
            node.result0 = SavedTensor(out, is_output=True)
        elif std:
            node.result = SavedTensor(out, is_output=True)
        for nr, o in enumerate(outs):
            set_history(o, node, nr)
    return tuple(outs) if with_mean else out


def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    """Variance over ``dim`` divided by N - correction (``unbiased=False`` means correction 0)."""
    return _variance(input, dim, unbiased, keepdim, correction, "var", False, False)


def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    """Square root of ``var`` with the same arguments."""
    return _variance(input, dim, unbiased, keepdim, correction, "std", True, False)


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
             correction=None) -> tuple:
    """``(var, mean)`` in one pass, with one backward node for both."""
    return _variance(input, dim, unbiased, keepdim, correction, "var_mean", False, True)


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
             correction=None) -> tuple:
    """``(std, mean)`` in one pass, with one backward node for both."""
    return _variance(input, dim, unbiased, keepdim, correction, "std_mean", True, True)


# ----- logsumexp ------------------------------------------------------------------------------
class LogsumexpBackward0(Node):
    """d/dx log(sum(exp(x))) = exp(x - result): the softmax of the reduced slice."""

    __slots__ = ("self_", "result", "dim", "keepdim")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        result = xp.saved_output(self.result, self)
        dims, keepdim, shape = self.dim, self.keepdim, self_.shape
        grad = _unreduce(grad, xp, dims, keepdim, shape)
        result = _unreduce(result, xp, dims, keepdim, shape)
        return (grad * xp.exp(self_ - result),)


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``dim``, shifted by the maximum so large values do not overflow."""
    a = input._array
    out_dtype = input._dtype if input._dtype.category == FLOATING else D.get_default_dtype()
    if isinstance(dim, (tuple, list)) and not dim and a.ndim:
        shape = ", ".join("1" * a.ndim)
        raise RuntimeError(f"output with shape [] doesn't match the broadcast shape [{shape}]")
    dims = _dims(dim, a.ndim)
    x = a.astype(out_dtype.numpy, copy=False)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if x.size:
            shift = np.max(x, axis=dims, keepdims=True) if x.ndim else x.copy()
            shift[np.isinf(shift)] = 0
            total = np.sum(np.exp(x - shift), axis=dims, keepdims=True)
            value = np.log(total) + shift
            if not keepdim:
                value = np.squeeze(value, axis=dims)
        else:
            value = np.log(np.sum(np.exp(x), axis=dims, keepdims=keepdim))
    out = wrap(np.asarray(value, dtype=out_dtype.numpy), out_dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(LogsumexpBackward0, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.result = SavedTensor(out, is_output=True)
        node.dim, node.keepdim = dims, keepdim
        set_history(out, node)
    return out


# ----- amin / aminmax -------------------------------------------------------------------------
class AminBackward0(AmaxBackward0):
    __slots__ = ()


def _check_nonempty_dims(a: np.ndarray, dim, name: str) -> None:
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):
        raise RuntimeError(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
            "Specify the reduction dim with the 'dim' argument."
        )
    for d in (dim,) if isinstance(dim, int) else dim:
        if a.shape[_canonical_dim(d, a.ndim)] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim``; ties share the gradient evenly (unlike ``min(dim)``)."""
    a = input._array
    dims = _dims(dim, a.ndim)
    if a.size == 0:
        _check_nonempty_dims(a, dim, "amin")
    out = wrap(np.asarray(np.min(a, axis=dims, keepdims=keepdim), dtype=a.dtype), input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(AminBackward0, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.result = SavedTensor(out, is_output=True)
        node.dim, node.keepdim = dims, keepdim
        set_history(out, node)
    return out


aminmax_result = type("aminmax", (_NamedTupleRepr, collections.namedtuple(
    "aminmax", ["min", "max"])), {"__slots__": (), "_torch_name": "aminmax"})


class AminmaxBackward0(Node):
    """Each of min and max spreads its gradient evenly over the elements equal to it."""

    __slots__ = ("self_", "min", "max", "dim", "keepdim")
    _saved_fields = ("self_", "min", "max")
    num_outputs = 2

    def backward(self, grads, xp):
        self_ = xp.saved(self.self_)
        dims, keepdim, shape = self.dim, self.keepdim, self_.shape
        total = None
        for grad, saved in zip(grads, (self.min, self.max)):
            if grad is None:
                continue
            result = _unreduce(xp.saved_output(saved, self), xp, dims, keepdim, shape)
            mask = xp.cast(result == self_, grad)
            count = _unreduce(xp.sum(mask, dims, True), xp, dims, True, shape)
            part = _unreduce(grad, xp, dims, keepdim, shape) / count * mask
            total = part if total is None else total + part
        return (total,)


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False):
    """``(min, max)`` over ``dim`` (or everything), as torch.return_types.aminmax."""
    a = input._array
    if dim is None:
        if a.size == 0:
            raise RuntimeError(
                "aminmax(): cannot compute aminmax over an empty dimension as the operation "
                "has no identity."
            )
        dims = tuple(range(a.ndim))
    else:
        d = _canonical_dim(dim, a.ndim)
        if a.ndim and a.shape[d] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {d} to have non-zero size.")
        dims = (d,) if a.ndim else ()
    low = wrap(np.asarray(np.min(a, axis=dims, keepdims=keepdim), dtype=a.dtype), input._dtype)
    high = wrap(np.asarray(np.max(a, axis=dims, keepdims=keepdim), dtype=a.dtype), input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(AminmaxBackward0, (edge(input),), low._array)
        node._out_meta = ((low._array.shape, a.dtype), (high._array.shape, a.dtype))
        node.self_ = SavedTensor(input)
        node.dim, node.keepdim = dims, keepdim
        set_history(low, node, 0)
        set_history(high, node, 1)
        node.min = SavedTensor(low, is_output=True)
        node.max = SavedTensor(high, is_output=True)
    return aminmax_result(low, high)


# ----- NaN-ignoring sums, counting, any / all -------------------------------------------------
class NansumBackward0(Node):
    __slots__ = ("self_", "dim", "keepdim")
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        grad = _unreduce(grad, xp, self.dim, self.keepdim, self_.shape)
        return (grad * xp.cast(self_ == self_, grad),)  # a product, so inf * 0 gives NaN


def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum treating NaN as zero."""
    out_dtype = _sum_dtype(input, dtype)
    a = input._array
    dims = _dims(dim, a.ndim)
    value = np.nansum(a, axis=dims, keepdims=keepdim, dtype=out_dtype.numpy) if (
        a.dtype.kind == "f") else np.sum(a, axis=dims, keepdims=keepdim, dtype=out_dtype.numpy)
    out = wrap(np.asarray(value, dtype=out_dtype.numpy), out_dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(NansumBackward0, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.dim, node.keepdim = dims, keepdim
        set_history(out, node)
    return out


def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mean of the non-NaN elements: ``nansum / count``, recorded as torch records it."""
    if (dtype or input._dtype).category != FLOATING:
        raise RuntimeError(
            "nanmean(): expected input to have floating point or complex dtype but got "
            f"{_legacy(input._dtype)}"
        )
    from ember.ops.elementwise import div

    a = input._array
    dims = _dims(dim, a.ndim)
    count = np.sum(~np.isnan(a), axis=dims, keepdims=keepdim)
    total = nansum(input, dim, keepdim, dtype=dtype)
    return div(total, wrap(np.asarray(count, dtype=np.int64), D.int64))


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """How many elements are not zero (int64), over ``dim`` (an int or a tuple)."""
    a = input._array
    if isinstance(dim, (tuple, list)):
        canonical = [_canonical_dim(d, a.ndim) for d in dim]
        for i, d in enumerate(canonical):
            if d in canonical[:i]:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    dims = _dims(dim, a.ndim)
    return wrap(np.asarray(np.count_nonzero(a, axis=dims), dtype=np.int64), D.int64)


def _truth_reduction(input: Tensor, dim, keepdim: bool, function) -> Tensor:
    a = input._array
    dims = _dims(dim, a.ndim)
    value = np.asarray(function(a, axis=dims, keepdims=keepdim))
    if input._dtype is D.uint8:  # torch keeps uint8 for uint8 inputs
        return wrap(value.astype(np.uint8), D.uint8)
    return wrap(value, D.bool_)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 - torch.any
    """Whether any element (over ``dim``) is nonzero."""
    return _truth_reduction(input, dim, keepdim, np.any)


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 - torch.all
    """Whether every element (over ``dim``) is nonzero."""
    return _truth_reduction(input, dim, keepdim, np.all)


# The names ``ember`` exports from this family, and the Tensor methods it adds beyond those
# ``_tensor_methods.METHODS`` binds.
__all__ = ["all", "amax", "amin", "aminmax", "any", "argmax", "argmin", "count_nonzero",
           "logsumexp", "max", "mean", "min", "nanmean", "nansum", "norm", "prod", "std",
           "std_mean", "sum", "var", "var_mean"]
TENSOR_METHODS: dict = {
    "var": var, "std": std, "logsumexp": logsumexp, "amin": amin, "aminmax": aminmax,
    "nansum": nansum, "nanmean": nanmean, "count_nonzero": count_nonzero, "any": any,
    "all": all,
}
