"""Gathering, scattering, splitting and rearranging: each op's forward and derivative together.

Index-driven ops (gather, scatter, index_*, take, put, masked_*) turn their index into a NumPy
advanced-indexing key once; the derivative formulas then only need ``grad[key]`` and
``xp.put_at`` (zeros with values written or summed at ``key``), which exist in both formula
worlds, so every formula here also runs under ``create_graph=True``.

Splitting ops return views (``unbind``, ``split``, ``chunk``: one node with several outputs,
as in torch; ``narrow``, ``select``, ``tensor_split``: ``SliceBackward0``/``SelectBackward0``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ember import _dtype as D
from ember._tensor import Size, _canonical_dim
from ember.ops._core import (
    FLOATING,
    NO_EDGE,
    Node,
    Tensor,
    apply_inplace,
    as_scalar,
    cast,
    edge,
    grad_state,
    new_node,
    set_history,
    wrap,
)
from ember.ops.elementwise import _legacy, _not_implemented, broadcast_error, clone
from ember.ops.indexing import AliasBackward0, SelectBackward0, SliceBackward0, _region_view
from ember.ops.shape import (
    DIAGONAL,
    INDEX,
    PermuteBackward0,
    _permuted,
    cat,
    diagonal_array,
    expand,
    flatten,
    make_view,
    reshape,
    unsqueeze,
    view,
    view_key,
)


# ----- helpers --------------------------------------------------------------------------------
def _dim(dim: int, ndim: int) -> int:
    """A canonical dim; a 0-dim tensor counts as having one dim (as torch's wrap_dim does)."""
    return _canonical_dim(dim, ndim) % max(ndim, 1)


def _records(*values) -> bool:
    if not grad_state.enabled:
        return False
    return any(isinstance(v, Tensor) and v._requires_grad for v in values)


def _history(out: Tensor, node_cls, inputs, **fields) -> Tensor:
    """Give ``out`` a ``node_cls`` node over ``inputs`` (tensors or None) with ``fields``."""
    node = new_node(node_cls, tuple(edge(t) if isinstance(t, Tensor) else NO_EDGE
                                    for t in inputs), out._array)
    for name, value in fields.items():
        setattr(node, name, value)
    return set_history(out, node)


def _type_name(dtype: D.dtype) -> str:
    return _legacy(dtype).replace("Tensor", "")


def _int_index(index, message: str, allow_int32: bool = True) -> np.ndarray:
    if not isinstance(index, Tensor):
        raise TypeError(f"expected Tensor as index argument, but got {type(index).__name__}")
    if index._dtype is D.int64 or (allow_int32 and index._dtype is D.int32):
        return index._array.astype(np.int64, copy=False)
    raise RuntimeError(message.format(dtype=_type_name(index._dtype)))


def _along_key(index: np.ndarray, dim: int) -> tuple:
    """The advanced key picking, at each position of ``index``, ``index``'s value along
    ``dim`` and the position itself along the other dims (gather's addressing)."""
    nd = index.ndim
    key = []
    for d in range(nd):
        if d == dim:
            key.append(index)
        else:
            shape = [1] * nd
            shape[d] = index.shape[d]
            key.append(np.arange(index.shape[d]).reshape(shape))
    return tuple(key)


def _check_bounds(index: np.ndarray, size: int, dim: int, error=RuntimeError,
                  prefix: str = "") -> None:
    if index.size:
        bad = (index < 0) | (index >= size)
        if bad.any():
            value = int(index[bad].flat[0])
            raise error(f"{prefix}index {value} is out of bounds for dimension {dim} with size "
                        f"{size}")


def _value_array(value, dtype: D.dtype):
    """A number (or 0-dim tensor) as an array of ``dtype`` (torch casts it silently)."""
    if isinstance(value, Tensor):
        return cast(value._array, dtype)
    return np.array(as_scalar(value)).astype(dtype.numpy)


# ----- gather / scatter -----------------------------------------------------------------------
def _gather_operands(input: Tensor, dim: int, index, name: str, src=None):
    """Checks shared by gather and the scatters; returns (dim, index array, key)."""
    d = _dim(dim, input._array.ndim)
    if isinstance(index, Tensor) and not index._array.size:  # torch checks no empty index
        idx = index._array.astype(np.int64)
    else:
        idx = _int_index(index, f"{name}(): Expected dtype int32/int64 for index")
    shape = input._array.shape or (1,)
    ishape = idx.shape or (1,)
    if idx.size:
        if len(ishape) != len(shape):
            raise RuntimeError(
                "Index tensor must have the same number of dimensions as input tensor"
                if src is None else
                "Index tensor must have the same number of dimensions as self tensor")
        if src is not None:
            sshape = src._array.shape or (1,)
            if len(sshape) != len(ishape):
                raise RuntimeError(
                    "Index tensor must have the same number of dimensions as src tensor")
            for k in range(len(shape)):
                if (k != d and ishape[k] > shape[k]) or ishape[k] > sshape[k]:
                    raise RuntimeError(
                        f"Expected index {list(idx.shape)} to be no larger than self "
                        f"{list(input._array.shape)} apart from dimension {d} and to be no "
                        f"larger size than src {list(src._array.shape)}")
        else:
            for k in range(len(shape)):
                if k != d and ishape[k] > shape[k]:
                    raise RuntimeError(
                        f"Size does not match at dimension {k} expected index "
                        f"{list(idx.shape)} to be no larger than self "
                        f"{list(input._array.shape)} apart from dimension {d}")
        _check_bounds(idx, shape[d], d)
    return d, idx.reshape(ishape), _along_key(idx.reshape(ishape), d)


class GatherBackward0(Node):
    """Each gathered value's gradient is summed back where it came from."""

    __slots__ = ("self_sizes", "key", "index_shape")
    _saved_fields = ("key",)

    def backward(self, grad, xp):
        if grad.shape != self.index_shape:
            grad = xp.reshape(grad, self.index_shape)
        out = xp.put_at(self.self_sizes or (1,), self.key, grad, grad, accumulate=True)
        return (xp.reshape(out, ()) if not self.self_sizes else out,)


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """Pick values along ``dim`` at ``index`` (same rank as ``input``)."""
    d, idx, key = _gather_operands(input, dim, index, "gather")
    a = input._array.reshape(input._array.shape or (1,))
    out = wrap(a[key].reshape(index._array.shape) if idx.size else
               np.zeros(index._array.shape, a.dtype), input._dtype)
    if _records(input):
        _history(out, GatherBackward0, (input,), self_sizes=input._array.shape, key=key,
                 index_shape=idx.shape)
    return out


class ScatterBackward0(Node):
    """Overwritten positions of self get no gradient; src gets the gradient at the index."""

    __slots__ = ("key", "index_shape", "src_shape", "self_sizes")
    _saved_fields = ("key",)

    def backward(self, grad, xp):
        g = xp.reshape(grad, self.self_sizes or (1,)) if not self.self_sizes else grad
        grad_self = grad_src = None
        if self.needs_input_grad(0):
            grad_self = xp.clone(g)
            grad_self[self.key] = 0
            if not self.self_sizes:
                grad_self = xp.reshape(grad_self, ())
        if len(self.next_functions) > 1 and self.needs_input_grad(1):
            grad_src = _src_grad(self, g, xp)
        return grad_self, grad_src


def _src_grad(node, g, xp):
    # like torch, the gradient (shaped like the index) is summed to src's shape when src's
    # shape expands to it, and is an error otherwise
    src_shape = node.src_shape or (1,)
    if node.index_shape != src_shape and not _expands(src_shape, node.index_shape):
        raise RuntimeError(
            f"Function {node.name()} returned an invalid gradient at index 1 - got "
            f"{list(node.index_shape)} but expected shape compatible with {list(node.src_shape)}")
    picked = g[node.key]
    return xp.reshape(picked, node.src_shape) if node.index_shape == src_shape else picked


def _expands(shape: tuple, target: tuple) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


class ScatterBackward1(ScatterBackward0):
    __slots__ = ()


def _scatter_result(input: Tensor, dim, index, src, reduce, name: str) -> Tensor:
    src_tensor = src if isinstance(src, Tensor) else None
    if src_tensor is not None and src_tensor._dtype is not input._dtype:
        raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype")
    d, idx, key = _gather_operands(input, dim, index, name, src_tensor)
    shape = input._array.shape or (1,)
    array = input._array.reshape(shape).copy()
    if src_tensor is not None:
        region = tuple(slice(0, s) for s in idx.shape)
        values = src_tensor._array.reshape(src_tensor._array.shape or (1,))[region]
    else:
        values = _value_array(src, input._dtype)
    if idx.size:
        if reduce is None:
            array[key] = values
        elif reduce == "add":
            np.add.at(array, key, values)
        else:
            np.multiply.at(array, key, values)
    out = wrap(array.reshape(input._array.shape), input._dtype)
    if _records(input, src_tensor):
        if reduce is not None:
            _not_implemented(out, "scatter", (edge(input), edge(src_tensor) if src_tensor
                                              is not None else NO_EDGE))
            return out
        node_cls = ScatterBackward0 if src_tensor is not None else ScatterBackward1
        inputs = (input, src_tensor) if src_tensor is not None else (input,)
        _history(out, node_cls, inputs, key=key, index_shape=idx.shape,
                 src_shape=src_tensor._array.shape if src_tensor is not None else None,
                 self_sizes=input._array.shape)
    return out


def _check_reduce(reduce) -> None:
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None,
            reduce: str | None = None) -> Tensor:
    """Write ``src`` (a tensor, or a number ``value``) into a copy of ``input`` at ``index``."""
    if src is None:
        src = value
    _check_reduce(reduce)
    if reduce is not None and isinstance(src, Tensor):
        warnings.warn(
            "The reduce argument of torch.scatter with Tensor src is deprecated and will be "
            "removed in a future PyTorch release. Use torch.scatter_reduce instead for more "
            "reduction options.", UserWarning, stacklevel=2)
    return _scatter_result(input, dim, index, src, reduce, "scatter")


class ScatterAddBackward0(Node):
    __slots__ = ("key", "index_shape", "src_shape", "self_sizes")
    _saved_fields = ("key",)

    def backward(self, grad, xp):
        grad_src = None
        if self.needs_input_grad(1):
            g = xp.reshape(grad, (1,)) if not self.self_sizes else grad
            grad_src = _src_grad(self, g, xp)
        return grad, grad_src


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """Add ``src`` into a copy of ``input`` at ``index`` (duplicates accumulate)."""
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): argument 'src' (position 4) must be Tensor, not "
                        f"{type(src).__name__}")
    if src._dtype is not input._dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    d, idx, key = _gather_operands(input, dim, index, "scatter", src)
    shape = input._array.shape or (1,)
    array = input._array.reshape(shape).copy()
    region = tuple(slice(0, s) for s in idx.shape)
    if idx.size:
        np.add.at(array, key, src._array.reshape(src._array.shape or (1,))[region])
    out = wrap(array.reshape(input._array.shape), input._dtype)
    if _records(input, src):
        _history(out, ScatterAddBackward0, (input, src), key=key, index_shape=idx.shape,
                 src_shape=src._array.shape, self_sizes=input._array.shape)
    return out


class ScatterReduceBackward0(Node):
    """torch's scatter_reduce_backward: sums pass through, means divide by the counts, and
    amax/amin share the gradient evenly among the elements equal to the result."""

    __slots__ = ("key", "reduce", "include_self", "self_", "src", "result", "index_shape",
                 "self_sizes", "hit")
    _saved_fields = ("key", "self_", "src", "result")

    def backward(self, grad, xp):
        shape = self.self_sizes or (1,)
        g = xp.reshape(grad, shape) if not self.self_sizes else grad
        key, reduce = self.key, self.reduce
        if reduce in ("max", "min"):  # accepted by the forward only
            raise RuntimeError("Expected 'reduce' to be one of 'sum', 'prod', 'mean', 'amax', "
                               f"'amin' but got {reduce}.")
        grad_self = grad_src = None
        if reduce == "prod":
            grad_self, grad_src = self._prod_grads(g, xp, shape)
            if not self.include_self:
                grad_self = xp.where(self.hit, 0.0, grad_self)
        elif reduce == "sum":
            grad_self = g
            if not self.include_self:
                grad_self = xp.where(self.hit, 0, g)
            grad_src = g[key]
        elif reduce == "mean":
            ones = xp.where(np.ones(self.index_shape, bool), 1.0, 0.0)
            counts = xp.put_at(shape, key, ones, ones, accumulate=True)
            counts = counts + (1.0 if self.include_self else 0.0)
            counts = xp.where(counts == 0, 1.0, counts)
            grad_self = g / counts
            grad_src = grad_self[key]
            if not self.include_self:
                grad_self = xp.where(self.hit, 0.0, grad_self)
        else:
            self_ = xp.saved(self.self_)
            src = xp.saved(self.src)
            result = xp.saved_output(self.result, self)
            if not self.self_sizes:
                self_, result = xp.reshape(self_, shape), xp.reshape(result, shape)
            src = src[tuple(slice(0, n) for n in self.index_shape)] if src.ndim else (
                xp.reshape(src, (1,)))
            # as in torch, self counts among the elements equal to the result even when
            # include_self is False (it then gets no gradient itself)
            self_is = xp.where(self_ == result, 1.0, 0.0)
            src_is = xp.where(src == result[key], 1.0, 0.0)
            counts = self_is + xp.put_at(shape, key, src_is, src_is, accumulate=True)
            share = g / counts
            grad_self = self_is * share
            grad_src = src_is * share[key]
            if not self.include_self:
                grad_self = xp.where(self.hit, 0.0, grad_self)
        if not self.self_sizes:
            grad_self = xp.reshape(grad_self, ())
        src_shape = self.src.tensor._array.shape if self.src is not None else None
        if src_shape is not None and not math.prod(self.index_shape):  # nothing scattered
            grad_src = xp.zeros(src_shape, g)
        elif src_shape is not None and tuple(grad_src.shape) != src_shape:
            grad_src = xp.reshape(grad_src, src_shape)
        return grad_self, grad_src


    def _prod_grads(self, g, xp, shape):
        """torch's rule for products: d/dself = grad * (the product with self taken as 1 where
        self is 0) / self (so a zero self still gets the other factors' product); d/dsrc =
        grad * result / src, except a src that is its position's only zero gets the product
        of the rest, and a position with two or more zeros gives 0 (and refuses a further
        derivative, as torch's Error node does)."""
        self_ = xp.saved(self.self_)
        src = xp.saved(self.src)
        result = xp.saved_output(self.result, self)
        if not self.self_sizes:
            self_, result = xp.reshape(self_, shape), xp.reshape(result, shape)
        src = src[tuple(slice(0, n) for n in self.index_shape)] if src.ndim else (
            xp.reshape(src, (1,)))
        key = self.key
        masked_self = xp.where(self_ == 0, 1.0, self_)
        grad_self = g * self._scatter_prod(xp, masked_self, src, shape) / masked_self
        src_zero = src == 0
        zeros_at = xp.put_at(shape, key, xp.where(src_zero, 1.0, 0.0), src, accumulate=True)
        zeros_at = zeros_at[key]
        single_zero = src_zero & (zeros_at == 1)
        rest = self._scatter_prod(xp, self_, xp.where(single_zero, 1.0, src), shape)
        grad_src = xp.where(single_zero, (g * rest)[key],
                            (g * result)[key] / xp.where(src_zero, 1.0, src))
        if isinstance(grad_src, Tensor) and grad_src._requires_grad and bool(
                (zeros_at > 1).any()):
            grad_src = _refuse_double_backward(grad_src)
        return grad_self, grad_src

    def _scatter_prod(self, xp, base, values, shape):
        """base (self's shape) with ``values`` multiplied in at ``key``, honouring include_self;
        in the tensor world through scatter_reduce itself (so it differentiates again)."""
        if not isinstance(base, Tensor):
            out = np.array(base, copy=True)
            if not self.include_self:
                out[self.hit] = 1
            if values.size:
                np.multiply.at(out, self.key, values)
            return out
        if not values.numel():
            return base if self.include_self else xp.where(
                wrap(self.hit, D.bool_), 1.0, base)
        flat = np.ravel_multi_index(np.broadcast_arrays(*self.key), shape).reshape(-1)
        out = scatter_reduce(xp.reshape(base, (-1,)), 0, wrap(flat, D.int64),
                             xp.reshape(values, (-1,)), "prod", include_self=self.include_self)
        return xp.reshape(out, shape)


class _ScatterProdError(Node):
    """torch's Error node: differentiating it raises."""

    __slots__ = ()

    def name(self) -> str:
        return "Error"

    def backward(self, grad, xp):
        raise RuntimeError(
            "scatter_reduce(): Double backward is unsupported for src when >1 zeros in src are "
            "scattered to the same position in self")


def _refuse_double_backward(t: Tensor) -> Tensor:
    out = wrap(t._array, t._dtype)
    node = new_node(_ScatterProdError, (edge(t),), out._array)
    return set_history(out, node)


_REDUCE_UFUNCS = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
                  "amin": np.minimum}


def _reduce_identity(reduce: str, dtype: np.dtype):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    if dtype.kind == "b":
        return reduce == "amin"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """Reduce ``src`` into a copy of ``input`` at ``index`` with sum/prod/mean/amax/amin."""
    given = reduce
    reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)  # torch's forward takes these
    if reduce not in _REDUCE_UFUNCS:
        raise RuntimeError("reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): argument 'src' (position 4) must be Tensor, not "
                        f"{type(src).__name__}")
    if src._dtype is not input._dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    d, idx, key = _gather_operands(input, dim, index, "scatter", src)
    shape = input._array.shape or (1,)
    array = input._array.reshape(shape).copy()
    values = src._array.reshape(src._array.shape or (1,))[tuple(slice(0, n) for n in idx.shape)]
    hit = np.zeros(shape, bool)
    if idx.size:
        hit[key] = True
        if not include_self:
            array[hit] = _reduce_identity(reduce, array.dtype)
        _REDUCE_UFUNCS[reduce].at(array, key, values)
        if reduce == "mean":
            counts = np.zeros(shape, np.int64)
            np.add.at(counts, key, 1)
            counts += 1 if include_self else 0
            counts[counts == 0] = 1
            if array.dtype.kind == "f":
                array = (array / counts).astype(array.dtype)
            else:
                array = np.floor_divide(array, counts).astype(array.dtype)
    out = wrap(array.reshape(input._array.shape), input._dtype)
    if _records(input, src):
        from ember.ops._core import SavedTensor

        _history(out, ScatterReduceBackward0, (input, src), key=key, reduce=given,
                 include_self=include_self, self_=SavedTensor(input), src=SavedTensor(src),
                 result=SavedTensor(out, is_output=True), index_shape=idx.shape,
                 self_sizes=input._array.shape, hit=hit)
    return out


def scatter_reduce_(self: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                    include_self: bool = True) -> Tensor:
    return apply_inplace(self, scatter_reduce, dim, index, src, reduce,
                         include_self=include_self)


def scatter_(self: Tensor, dim: int, index: Tensor, src=None, *, value=None,
             reduce: str | None = None) -> Tensor:
    if src is None:
        src = value
    _check_reduce(reduce)
    return apply_inplace(self, _scatter_result, dim, index, src, reduce, "scatter")


def scatter_add_(self: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return apply_inplace(self, scatter_add, dim, index, src)


# ----- index_select / index_add / index_copy / index_fill -------------------------------------
def _vector_index(index, name: str, message: str, allow_int32: bool = True) -> np.ndarray:
    idx = _int_index(index, message, allow_int32)
    if idx.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    return idx.reshape(-1)


def _dim_key(idx: np.ndarray, d: int) -> tuple:
    return (slice(None),) * d + (idx,)


class IndexSelectBackward0(Node):
    __slots__ = ("self_sizes", "key", "out_shape")
    _saved_fields = ("key",)

    def backward(self, grad, xp):
        if grad.shape != self.out_shape:
            grad = xp.reshape(grad, self.out_shape)
        out = xp.put_at(self.self_sizes or (1,), self.key, grad, grad, accumulate=True)
        return (xp.reshape(out, ()) if not self.self_sizes else out,)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``input`` along ``dim`` at the positions of the 1-D ``index``."""
    d = _dim(dim, input._array.ndim)
    idx = _vector_index(index, "index_select",
                        "index_select(): Expected dtype int32 or int64 for index")
    a = input._array
    if a.ndim == 0:
        if idx.size != 1:
            raise RuntimeError(
                f"index_select(): Index to scalar can have only 1 value, got {idx.size} value(s)")
        a = a.reshape(1)
    if idx.size and ((idx < 0) | (idx >= a.shape[d])).any():
        raise IndexError("index out of range in self")
    key = _dim_key(idx, d)
    array = a[key]
    out_shape = array.shape
    if input._array.ndim == 0:
        array = array.reshape(())
    out = wrap(array, input._dtype)
    if _records(input):
        _history(out, IndexSelectBackward0, (input,), self_sizes=input._array.shape, key=key,
                 out_shape=out_shape)
    return out


def _index_source(input: Tensor, dim: int, index, source: Tensor, name: str, same_dtype: str):
    """Checks of index_add/index_copy; returns (dim, key, source array shaped like the key)."""
    d = _dim(dim, input._array.ndim)
    if name == "index_copy_":
        idx = _vector_index(index, name, "index_copy_(): Expected a long tensor for index, but "
                            "got {dtype}", allow_int32=False)
    else:
        idx = _vector_index(index, name, "index_add_(): Expected dtype int32/int64 for index "
                            "but got: {dtype}")
    if source._dtype is not input._dtype:
        raise RuntimeError(same_dtype.format(self=_type_name(input._dtype),
                                             source=_type_name(source._dtype)))
    shape = input._array.shape or (1,)
    sshape = source._array.shape or (1,)
    if name == "index_copy_":
        if len(sshape) != len(shape) or any(
                sshape[k] != shape[k] for k in range(len(shape)) if k != d):
            raise RuntimeError(
                "index_copy_(): Source/destination tensor must have same slice shapes. "
                f"Destination slice shape: {_slice_shape(shape, d)} at dimension {d} and source "
                f"slice shape: {_slice_shape(sshape, d)} at dimension {d}.")
        if sshape[d] != idx.size:
            raise IndexError(f"index_copy_(): Number of indices ({idx.size}) should be equal to "
                             f"source.size(dim) ({sshape[d]})")
        _check_bounds(idx, shape[d], d, IndexError, "index_copy_(): ")
    else:
        if source._array.ndim != input._array.ndim or any(
                sshape[k] != shape[k] for k in range(len(shape)) if k != d):
            raise RuntimeError(
                "source tensor shape must match self tensor shape, excluding the specified "
                f"dimension. Got self.shape = {list(input._array.shape)} source.shape = "
                f"{list(source._array.shape)}")
        if sshape[d] != idx.size:
            raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to "
                               f"source.size(dim): ({sshape[d]}), for dim: {d}")
        _check_bounds(idx, shape[d], d)
    return d, _dim_key(idx, d), source._array.reshape(sshape)


def _slice_shape(shape: tuple, d: int) -> str:
    rest = [s for k, s in enumerate(shape) if k != d]
    return " ".join(str(s) for s in rest) if rest else "1"


class IndexAddBackward0(Node):
    __slots__ = ("key", "alpha", "source_shape")
    _saved_fields = ("key",)

    def backward(self, grad, xp):
        grad_source = None
        if self.needs_input_grad(1):
            g = xp.reshape(grad, (1,)) if grad.ndim == 0 else grad
            grad_source = xp.reshape(g[self.key], self.source_shape)
            if self.alpha != 1:
                grad_source = grad_source * self.alpha
        return grad, grad_source


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """Add ``alpha * source`` into a copy of ``input`` at ``index`` along ``dim``."""
    d, key, src = _index_source(input, dim, index, source, "index_add_",
                                "index_add_(): self ({self}) and source ({source}) must have "
                                "the same scalar type")
    array = input._array.reshape(input._array.shape or (1,)).copy()
    np.add.at(array, key, src if alpha == 1 else src * alpha)
    out = wrap(array.reshape(input._array.shape), input._dtype)
    if _records(input, source):
        _history(out, IndexAddBackward0, (input, source), key=key, alpha=alpha,
                 source_shape=source._array.shape)
    return out


class IndexCopyBackward0(Node):
    __slots__ = ("key", "source_shape")
    _saved_fields = ("key",)

    def backward(self, grad, xp):
        g = xp.reshape(grad, (1,)) if grad.ndim == 0 else grad
        grad_self = grad_source = None
        if self.needs_input_grad(0):
            grad_self = xp.clone(g)
            grad_self[self.key] = 0
            grad_self = xp.reshape(grad_self, grad.shape)
        if self.needs_input_grad(1):
            grad_source = xp.reshape(g[self.key], self.source_shape)
        return grad_self, grad_source


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """Copy ``source``'s slices into a copy of ``input`` at ``index`` along ``dim``."""
    d, key, src = _index_source(input, dim, index, source, "index_copy_",
                                "index_copy_(): self and source expected to have the same "
                                "dtype, but got (self) {self} and (source) {source}")
    array = input._array.reshape(input._array.shape or (1,)).copy()
    array[key] = src
    out = wrap(array.reshape(input._array.shape), input._dtype)
    if _records(input, source):
        _history(out, IndexCopyBackward0, (input, source), key=key,
                 source_shape=source._array.shape)
    return out


class IndexFillBackward0(Node):
    __slots__ = ("key", "negative")
    _saved_fields = ("key",)

    def backward(self, grad, xp):
        g = xp.reshape(grad, (1,)) if grad.ndim == 0 else grad
        grad_self = grad_value = None
        if self.needs_input_grad(0):
            grad_self = xp.clone(g)
            grad_self[self.key] = 0
            grad_self = xp.reshape(grad_self, grad.shape)
        if len(self.next_functions) > 1 and self.needs_input_grad(1):
            if self.negative is not None:  # torch's formula reads the index via index_select
                value, d, size = self.negative
                if d != 1:  # only torch's dim-1 index_select kernel words it otherwise
                    raise IndexError("index out of range in self")
                raise RuntimeError(f"INDICES element is out of DATA bounds, id={value} "
                                   f"axis_dim={size}")
            # each filled position once, however often the index names it
            key = self.key[:-1] + (np.unique(self.key[-1]),)
            picked = g[key]
            grad_value = xp.sum(picked, tuple(range(picked.ndim)))
        return grad_self, grad_value


class IndexFillBackward1(IndexFillBackward0):
    __slots__ = ()


def _check_value(value, name: str) -> None:
    if isinstance(value, Tensor) and value._array.ndim:
        raise RuntimeError(f"{name} only supports a 0-dimensional value tensor, but got tensor "
                           f"with {value._array.ndim} dimension(s).")


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """A copy of ``input`` with the slices at ``index`` along ``dim`` set to ``value``."""
    d = _dim(dim, input._array.ndim)
    if not isinstance(index, Tensor) or index._dtype is not D.int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    idx = _vector_index(index, "index_fill_", "")
    _check_value(value, "index_fill_")
    shape = input._array.shape or (1,)
    if idx.size:
        bad = (idx < -shape[d]) | (idx >= shape[d])
        if bad.any():
            raise IndexError(f"index {int(idx[bad][0])} is out of bounds for dimension {d} with "
                             f"size {shape[d]}")
    negative = None
    if (idx < 0).any():  # how torch's derivative (an index_select) then fails
        # torch reads the unique (sorted) indices, so the smallest one is reported
        negative = (int(idx.min()), d if input._array.size else 1, shape[d])
    idx = np.where(idx < 0, idx + shape[d], idx)
    key = _dim_key(idx, d)
    array = input._array.reshape(shape).copy()
    array[key] = _value_array(value, input._dtype)
    out = wrap(array.reshape(input._array.shape), input._dtype)
    value_tensor = value if isinstance(value, Tensor) else None
    if _records(input, value_tensor):
        if value_tensor is None:
            _history(out, IndexFillBackward0, (input,), key=key, negative=negative)
        else:
            _history(out, IndexFillBackward1, (input, value_tensor), key=key, negative=negative)
    return out


# ----- masked_fill / masked_select / masked_scatter -------------------------------------------
def _bool_mask(mask, message: str) -> np.ndarray:
    if not isinstance(mask, Tensor):
        raise TypeError(f"expected Tensor as mask argument, but got {type(mask).__name__}")
    if mask._dtype is not D.bool_:
        raise RuntimeError(message.format(dtype=_mask_type_name(mask._dtype, message)))
    return mask._array


def _mask_type_name(dtype: D.dtype, message: str) -> str:
    if "Float" in message or message.startswith("masked_scatter"):
        return _type_name(dtype)
    return {"float32": "float", "float64": "double", "int64": "long int", "int32": "int",
            "uint8": "unsigned char", "int8": "signed char", "int16": "short int",
            "float16": "c10::Half"}.get(dtype.name, dtype.name)


def _broadcast(*values) -> tuple:
    try:
        return np.broadcast_shapes(*(v._array.shape for v in values))
    except ValueError:
        raise broadcast_error(*values) from None


class MaskedFillBackward0(Node):
    __slots__ = ("mask",)
    _saved_fields = ("mask",)

    def backward(self, grad, xp):
        grad_self = grad_value = None
        if self.needs_input_grad(0):
            grad_self = xp.where(self.mask, 0, grad)
        if len(self.next_functions) > 1 and self.needs_input_grad(1):
            grad_value = xp.sum(xp.where(self.mask, grad, 0), tuple(range(grad.ndim)))
        return grad_self, grad_value


class MaskedFillBackward1(MaskedFillBackward0):
    __slots__ = ()


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``value`` where ``mask`` is True (``mask`` and ``input`` broadcast together)."""
    m = _bool_mask(mask, "masked_fill_ only supports boolean masks, but got mask with dtype "
                         "{dtype}")
    _check_value(value, "masked_fill_")
    shape = _broadcast(mask, input)
    array = np.where(m, _value_array(value, input._dtype), input._array)
    out = wrap(np.array(np.broadcast_to(array, shape)), input._dtype)
    value_tensor = value if isinstance(value, Tensor) else None
    if _records(input, value_tensor):
        if value_tensor is None:
            _history(out, MaskedFillBackward0, (input,), mask=m)
        else:
            _history(out, MaskedFillBackward1, (input, value_tensor), mask=m)
    return out


class MaskedSelectBackward0(Node):
    __slots__ = ("mask", "shape")
    _saved_fields = ("mask",)

    def backward(self, grad, xp):
        return (xp.put_at(self.shape, self.mask, grad, grad, accumulate=False),)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements where ``mask`` is True, as a 1-D tensor (both broadcast first)."""
    m = _bool_mask(mask, "masked_select: expected BoolTensor for mask")
    shape = _broadcast(mask, input)
    full_mask = np.broadcast_to(m, shape)
    out = wrap(np.broadcast_to(input._array, shape)[full_mask], input._dtype)
    if _records(input):
        _history(out, MaskedSelectBackward0, (input,), mask=full_mask, shape=shape)
    return out


class MaskedScatterBackward0(Node):
    __slots__ = ("mask", "source_shape", "count")
    _saved_fields = ("mask",)

    def backward(self, grad, xp):
        grad_self = grad_source = None
        if self.needs_input_grad(0):
            grad_self = xp.where(self.mask, 0, grad)
        if self.needs_input_grad(1):
            mask = np.broadcast_to(self.mask, grad.shape)
            picked = grad[mask]
            numel = math.prod(self.source_shape)
            flat = xp.put_at((numel,), (slice(0, self.count),), picked, picked,
                             accumulate=False)
            grad_source = xp.reshape(flat, self.source_shape)
        return grad_self, grad_source


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``source``'s elements, in order, written where ``mask`` is True."""
    m = _bool_mask(mask, "masked_scatter_ only supports boolean masks, but got mask with dtype "
                         "{dtype}")
    if source._dtype is not input._dtype:
        raise RuntimeError("masked_scatter: expected self and source to have same dtypes but "
                           f"got{_type_name(input._dtype)} and {_type_name(source._dtype)}")
    shape = _broadcast(mask, input)
    full_mask = np.broadcast_to(m, shape)
    count = int(full_mask.sum())
    if count > source._array.size:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    array = np.array(np.broadcast_to(input._array, shape))
    array[full_mask] = source._array.reshape(-1)[:count]
    out = wrap(array, input._dtype)
    if _records(input, source):
        _history(out, MaskedScatterBackward0, (input, source), mask=m,
                 source_shape=source._array.shape, count=count)
    return out


def masked_fill_(self: Tensor, mask: Tensor, value) -> Tensor:
    _check_grows(self, mask)
    return apply_inplace(self, masked_fill, mask, value)


def masked_scatter_(self: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    if isinstance(mask, Tensor) and mask._array.ndim > self._array.ndim:
        raise RuntimeError(
            f"expand(CPU{_type_name(mask._dtype).capitalize()}Type"
            f"{{{list(mask._array.shape)}}}, size={list(self._array.shape)}): the number of "
            f"sizes provided ({self._array.ndim}) must be greater or equal to the number of "
            f"dimensions in the tensor ({mask._array.ndim})")
    _check_grows(self, mask)
    return apply_inplace(self, masked_scatter, mask, source)


def _check_grows(self: Tensor, mask) -> None:
    if isinstance(mask, Tensor) and mask._dtype is D.bool_:
        shape = _broadcast(self, mask)
        if shape != self._array.shape:
            raise RuntimeError(f"output with shape {list(self._array.shape)} doesn't match the "
                               f"broadcast shape {list(shape)}")


# ----- take / put / take_along_dim ------------------------------------------------------------
def _flat_key(index: np.ndarray, shape: tuple, numel: int) -> tuple:
    """The advanced key addressing flat positions ``index`` of a tensor of ``shape``."""
    if index.size:
        bad = (index < -numel) | (index >= numel)
        if bad.any():
            raise IndexError(f"out of range: tried to access index {int(index[bad].flat[0])} on "
                             f"a tensor of {numel} elements.")
    index = np.where(index < 0, index + numel, index)
    return np.unravel_index(index, shape or (1,))


class TakeBackward0(Node):
    __slots__ = ("self_sizes", "key")
    _saved_fields = ("key",)

    def backward(self, grad, xp):
        out = xp.put_at(self.self_sizes or (1,), self.key, grad, grad, accumulate=True)
        return (xp.reshape(out, ()) if not self.self_sizes else out,)


def take(input: Tensor, index: Tensor) -> Tensor:
    """``input`` read as 1-D at ``index`` (of any shape)."""
    if not isinstance(index, Tensor) or index._dtype is not D.int64:
        raise RuntimeError(
            f"take(): Expected a long tensor for index, but got {_type_name(index._dtype)}")
    a = input._array
    key = _flat_key(index._array, a.shape, a.size)
    out = wrap(a.reshape(a.shape or (1,))[key], input._dtype)
    if _records(input):
        _history(out, TakeBackward0, (input,), self_sizes=a.shape, key=key)
    return out


class PutBackward0(Node):
    __slots__ = ("key", "accumulate", "source_shape")
    _saved_fields = ("key",)

    def backward(self, grad, xp):
        g = xp.reshape(grad, (1,)) if grad.ndim == 0 else grad
        grad_self = grad_source = None
        if self.needs_input_grad(0):
            grad_self = grad
            if not self.accumulate:
                grad_self = xp.clone(g)
                grad_self[self.key] = 0
                grad_self = xp.reshape(grad_self, grad.shape)
        if self.needs_input_grad(1):
            grad_source = xp.reshape(g[self.key], self.source_shape)
        return grad_self, grad_source


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``source`` written (or added) at flat positions ``index``."""
    if not isinstance(index, Tensor) or index._dtype is not D.int64:
        raise RuntimeError(
            f"put_(): Expected a long tensor for index, but got {_type_name(index._dtype)}")
    if source._dtype is not input._dtype:
        raise RuntimeError("put_(): self and source expected to have the same dtype, but got "
                           f"self.dtype = {_type_name(input._dtype)} and source.dtype = "
                           f"{_type_name(source._dtype)}")
    if source._array.size != index._array.size:
        raise IndexError("put_(): Expected source and index to have the same number of "
                         f"elements, but got source.numel() = {source._array.size}, "
                         f"index.numel() = {index._array.size}")
    a = input._array
    key = _flat_key(index._array.reshape(-1), a.shape, a.size)
    array = a.reshape(a.shape or (1,)).copy()
    values = source._array.reshape(-1)
    if accumulate:
        np.add.at(array, key, values)
    else:
        array[key] = values
    out = wrap(array.reshape(a.shape), input._dtype)
    if _records(input, source):
        _history(out, PutBackward0, (input, source), key=key, accumulate=accumulate,
                 source_shape=source._array.shape)
    return out


def put_(self: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    return apply_inplace(self, put, index, source, accumulate)


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``gather`` after broadcasting ``input`` and ``indices`` (except along ``dim``)."""
    if indices._dtype is not D.int64:
        raise RuntimeError("torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{_type_name(indices._dtype)}")
    if dim is None:
        return gather(view(input, -1), 0, view(indices, -1))
    ndim = input._array.ndim
    d = _dim(dim, ndim)
    if ndim != indices._array.ndim:
        raise RuntimeError(
            "torch.take_along_dim(): input and indices should have the same number of "
            f"dimensions, but got {ndim} dimensions for input, and {indices._array.ndim} "
            "dimensions for indices")
    s, i = list(input._array.shape), list(indices._array.shape)
    s[d] = i[d] = 1
    try:
        common = list(np.broadcast_shapes(tuple(s), tuple(i)))
    except ValueError:
        raise broadcast_error(tuple(s), tuple(i)) from None
    in_shape, idx_shape = list(common), list(common)
    in_shape[d], idx_shape[d] = input._array.shape[d], indices._array.shape[d]
    return gather(expand(input, in_shape), d, expand(indices, idx_shape))


# ----- views: narrow, select, unbind, split, chunk, tensor_split ------------------------------
def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    """A view of ``length`` slices along ``dim`` starting at ``start``."""
    ndim = input._array.ndim
    if ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    d = _dim(dim, ndim)
    size = input._array.shape[d]
    start = int(start)
    if start < -size or start > size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    if start < 0:
        start += size
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({size}).")
    return _region_view(input, (slice(None),) * d + (slice(start, start + length),),
                        SliceBackward0)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim`` (a view with that dim removed)."""
    ndim = input._array.ndim
    if ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _dim(dim, ndim)
    size = input._array.shape[d]
    index = int(index)
    if index < -size or index >= size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input._array.shape)} at dimension {d}")
    return _region_view(input, (slice(None),) * d + (index % size,), SelectBackward0)


class _MultiViewBackward(Node):
    """One node for several views of the input: missing output gradients count as zeros."""

    __slots__ = ("num_outputs", "dim")

    def _filled(self, grads, xp):
        if self.num_outputs == 1:  # the engine hands a lone output's gradient over as it is
            grads = [grads]
        ref = next(g for g in grads if g is not None)
        return [g if g is not None else xp.zeros(meta[0], ref)
                for g, meta in zip(grads, self._out_meta)]


class UnbindBackward0(_MultiViewBackward):
    __slots__ = ()

    def backward(self, grads, xp):
        return (xp.stack(self._filled(grads, xp), self.dim),)


class SplitBackward0(_MultiViewBackward):
    __slots__ = ()

    def backward(self, grads, xp):
        return (xp.concatenate(self._filled(grads, xp), self.dim),)


class SplitWithSizesBackward0(SplitBackward0):
    __slots__ = ()


def _multi_view(input: Tensor, keys: list, node_cls, dim: int) -> tuple:
    outs = []
    for key in keys:
        outs.append(make_view(input, input._array[view_key(key)], (INDEX, key)))
    if outs and input._requires_grad and grad_state.enabled:
        node = new_node(node_cls, (edge(input),), input._array)
        node._out_meta = tuple((o._array.shape, o._array.dtype) for o in outs)
        node.num_outputs, node.dim = len(outs), dim
        for nr, out in enumerate(outs):
            set_history(out, node, nr)
    return tuple(outs)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """Every slice along ``dim``, as views."""
    ndim = input._array.ndim
    if ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = _dim(dim, ndim)
    lead = (slice(None),) * d
    return _multi_view(input, [lead + (i,) for i in range(input._array.shape[d])],
                       UnbindBackward0, d)


def _split_keys(d: int, sizes) -> list:
    keys, start = [], 0
    for size in sizes:
        keys.append((slice(None),) * d + (slice(start, start + size),))
        start += size
    return keys


def _split_by_size(input: Tensor, split_size: int, dim: int) -> tuple:
    ndim = input._array.ndim
    if ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = _dim(dim, ndim)
    size = input._array.shape[d]
    if split_size < 0:
        raise RuntimeError(
            f"split expects split_size be non-negative, but got split_size={split_size}")
    if split_size == 0 and size != 0:
        raise RuntimeError("split_size can only be 0 if dimension size is 0, but got dimension "
                           f"size of {size}")
    count = max(-(-size // split_size), 1) if split_size else 1
    sizes = [min(split_size, size - i * split_size) for i in range(count)]
    return _multi_view(input, _split_keys(d, sizes), SplitBackward0, d)


def split_with_sizes(input: Tensor, split_sizes, dim: int = 0) -> tuple:
    ndim = input._array.ndim
    if ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = _dim(dim, ndim)
    sizes = [int(s) for s in split_sizes]
    size = input._array.shape[d]
    for s in sizes:
        if s < 0:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                f"split_sizes={sizes}")
    if sum(sizes) != size:
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's "
            f"size at dimension {d}), but got split_sizes={sizes}")
    return _multi_view(input, _split_keys(d, sizes), SplitWithSizesBackward0, d)


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of ``split_size``-long pieces along ``dim`` (or of the given list of sizes)."""
    if isinstance(split_size_or_sections, (list, tuple)):
        return split_with_sizes(tensor, split_size_or_sections, dim)
    return _split_by_size(tensor, int(split_size_or_sections), dim)


def _split_method(self: Tensor, split_size, dim: int = 0) -> tuple:
    """Tensor.split: torch names the method's size argument ``split_size``."""
    return split(self, split_size, dim)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """At most ``chunks`` views of equal size (the last may be smaller) along ``dim``."""
    if input._array.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _dim(dim, input._array.ndim)
    size = input._array.shape[d]
    split_size = -(-size // chunks)
    if split_size == 0 and size == 0:
        return split_with_sizes(input, [0] * chunks, d)
    return _split_by_size(input, split_size, d)


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    """Views split into ``sections`` near-equal parts, or at the given indices."""
    ndim = input._array.ndim
    if ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        if spec._dtype is not D.int64:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to have dtype "
                               f"of long, but got {_type_name(spec._dtype)}")
        if spec._array.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a "
                               "zero-dimensional or one-dimensional tensor, but got a tensor "
                               f"with {spec._array.ndim} dims")
        spec = int(spec._array) if spec._array.ndim == 0 else spec._array.tolist()
    d = _dim(dim, ndim)
    size = input._array.shape[d]
    if isinstance(spec, (list, tuple)):
        # each piece is the slice between neighbouring indices, clamped as Python slices are
        starts = [0] + [int(i) for i in spec]
        bounds = list(zip(starts, [int(i) for i in spec] + [None]))
    else:
        sections = int(spec)
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        base, extra = divmod(size, sections)
        bounds, start = [], 0
        for k in range(sections):
            stop = start + base + (1 if k < extra else 0)
            bounds.append((start, stop))
            start = stop
    lead = (slice(None),) * d
    return tuple(_region_view(input, lead + (slice(a, b),), SliceBackward0) for a, b in bounds)


def _split_along(input: Tensor, spec, d: int, name: str, need: int) -> tuple:
    ndim = input._array.ndim
    if ndim < need:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {need} dimension, but "
                           f"got a tensor with {ndim} dimensions!")
    if isinstance(spec, int):
        size = input._array.shape[d]
        if spec == 0 or size % spec:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {d}, but the "
                               f"size of the dimension {size} is not divisible by the "
                               f"split_size {spec}!")
    return tensor_split(input, spec, d)


def hsplit(input: Tensor, indices_or_sections) -> tuple:
    return _split_along(input, indices_or_sections, 0 if input._array.ndim == 1 else 1,
                        "hsplit", 1)


def vsplit(input: Tensor, indices_or_sections) -> tuple:
    return _split_along(input, indices_or_sections, 0, "vsplit", 2)


def dsplit(input: Tensor, indices_or_sections) -> tuple:
    return _split_along(input, indices_or_sections, 2, "dsplit", 3)


# ----- movedim, diagonal, broadcast_tensors, meshgrid -----------------------------------------
def movedim(input: Tensor, source, destination) -> Tensor:
    """A view with the ``source`` dims moved to ``destination`` (the rest keep their order)."""
    ndim = input._array.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({src} dims) should contain "
            f"the same number of dims as destination ({dst} dims)")
    src = [_dim(s, ndim) for s in src]
    dst = [_dim(s, ndim) for s in dst]
    if len(set(src)) != len(src):
        raise RuntimeError(f"movedim: repeated dim in `source` ({src})")
    if len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({dst})")
    order = [-1] * max(ndim, 1)
    for s, t in zip(src, dst):
        order[t] = s
    rest = iter(k for k in range(ndim) if k not in src)
    order = tuple(o if o != -1 else next(rest) for o in order)[:ndim]
    if ndim == 0:  # torch gives an alias of a 0-dim tensor
        return _region_view(input, (Ellipsis,), AliasBackward0)
    return _permuted(input, order, PermuteBackward0)


moveaxis = movedim


class DiagonalBackward0(Node):
    __slots__ = ("self_sizes", "offset", "dim1", "dim2")

    def backward(self, grad, xp):
        return (_diagonal_grad(grad, self.self_sizes, self.offset, self.dim1, self.dim2, xp),)


def _diagonal_grad(grad, shape, offset, dim1, dim2, xp):
    """Zeros of ``shape`` with ``grad`` on the diagonal (``offset``, ``dim1``, ``dim2``)."""
    out = xp.zeros(shape, grad)
    region = _diagonal_of(out, offset, dim1, dim2)
    region[...] = grad
    return out


def _diagonal_of(x, offset, dim1, dim2):
    if isinstance(x, np.ndarray):
        return diagonal_array(x, offset, dim1, dim2)
    return diagonal(x, offset, dim1, dim2)


def _diagonal_dims(ndim: int, dim1: int, dim2: int) -> tuple:
    d1, d2 = _canonical_dim(dim1, ndim), _canonical_dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A view of the diagonal over ``dim1`` and ``dim2`` (appended as the last dim)."""
    d1, d2 = _diagonal_dims(input._array.ndim, dim1, dim2)
    array = diagonal_array(input._array, offset, d1, d2)
    out = make_view(input, array, (DIAGONAL, (offset, d1, d2)))
    if _records(input):
        _history(out, DiagonalBackward0, (input,), self_sizes=input._array.shape, offset=offset,
                 dim1=d1, dim2=d2)
    return out


def broadcast_shapes(*shapes) -> Size:
    """The shape tensors of ``shapes`` broadcast to (torch's error for shapes that do not)."""
    result: list = []
    for i, shape in enumerate(shapes):
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if any(s < 0 for s in shape):
            raise ValueError("Attempting to broadcast a dimension with negative length!")
        if len(shape) > len(result):
            result = [1] * (len(shape) - len(result)) + result
        for j in range(1, len(shape) + 1):
            a, b = result[-j], shape[-j]
            if b == 1:
                continue
            if a == 1:
                result[-j] = b
            elif a != b:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {b} at {-j}! Mismatching "
                    f"argument at index {i} had {shape}; but expected shape should be "
                    f"broadcastable to {result}")
    return Size(result)


def broadcast_tensors(*tensors) -> tuple:
    """The tensors expanded to their common shape (unchanged ones are returned as they are)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = _broadcast(*tensors)
    return tuple(t if t._array.shape == shape else expand(t, shape) for t in tensors)


def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids: the i-th output varies along dim i (``'xy'`` swaps the first two)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if indexing is None:
        warnings.warn(
            "torch.meshgrid: in an upcoming release, it will be required to pass the indexing "
            "argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError('torch.meshgrid: indexing must be one of "xy" or "ij", but received: '
                           f"{indexing}")
    for t in tensors:
        if t._array.ndim > 1:
            first_row = t._array.reshape(-1, t._array.shape[-1])[0] if t._array.size else []
            raise RuntimeError("torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               "got: " + "".join(f"  {v:g}" for v in first_row)[1:])
    if len({t._dtype for t in tensors}) > 1:
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    count = len(tensors)
    positions = list(range(count))
    if indexing == "xy" and count >= 2:
        positions[0], positions[1] = 1, 0
    shape = [0] * count
    for t, p in zip(tensors, positions):
        shape[p] = t._array.size
    outs = []
    for t, p in zip(tensors, positions):
        target = [1] * count
        target[p] = -1
        outs.append(expand(view(t, target), shape))
    return tuple(outs)


# ----- copies: repeat, tile, repeat_interleave, flip, roll, rot90 -----------------------------
class RepeatBackward0(Node):
    """Sum the gradient over the copies: split each dim into (repeats, size) and sum."""

    __slots__ = ("self_sizes", "repeats")

    def backward(self, grad, xp):
        sizes = (1,) * (len(self.repeats) - len(self.self_sizes)) + tuple(self.self_sizes)
        split = []
        for r, s in zip(self.repeats, sizes):
            split += [r, s]
        g = xp.sum(xp.reshape(grad, tuple(split)), tuple(range(0, len(split), 2)))
        return (xp.reshape(g, self.self_sizes),)


def repeat(input: Tensor, *sizes) -> Tensor:
    """``input`` copied ``sizes[i]`` times along each dim (new leading dims allowed)."""
    if not sizes:
        raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
    if len(sizes) == 1 and isinstance(sizes[0], (list, tuple)):
        sizes = sizes[0]
    sizes = tuple(int(s) for s in sizes)
    shape = input._array.shape
    if len(sizes) < len(shape):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    padded = (1,) * (len(sizes) - len(shape)) + shape
    target = [r * s for r, s in zip(sizes, padded)]
    for t in target:
        if t < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {t}: {target}")
    array = np.tile(input._array.reshape(padded), sizes) if sizes else input._array.copy()
    out = wrap(array, input._dtype)
    if _records(input):
        _history(out, RepeatBackward0, (input,), self_sizes=shape, repeats=sizes)
    return out


def tile(input: Tensor, dims) -> Tensor:
    """``repeat`` with ``dims`` padded by leading ones to the tensor's rank."""
    dims = (dims,) if isinstance(dims, int) else tuple(int(d) for d in dims)
    ndim = input._array.ndim
    if len(dims) < ndim:
        dims = (1,) * (ndim - len(dims)) + dims
    return repeat(input, dims)


def repeat_interleave(input: Tensor, repeats=None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Each element (or slice along ``dim``) repeated ``repeats`` times in place."""
    if repeats is None:  # repeat_interleave(repeats): the indices that repeat each position
        counts = input
        if counts._array.ndim != 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        _check_repeats(counts)
        array = np.repeat(np.arange(counts._array.size), counts._array.reshape(-1))
        return wrap(array.astype(np.int64), D.int64)
    if dim is None:
        input, d = flatten(input), 0
    elif input._array.ndim == 0:  # torch's messages for a dim of a 0-dim input
        if isinstance(repeats, Tensor):
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    else:
        d = _dim(dim, input._array.ndim)
    if isinstance(repeats, Tensor):
        _check_repeats(repeats)
        counts = repeats._array.reshape(-1)
        size = input._array.shape[d] if input._array.ndim else 1
        if counts.size == 1:
            counts = np.full(size, counts[0])
        elif counts.size != size:
            raise RuntimeError(
                "repeats must have the same size as input along dim, but got repeats.size(0) = "
                f"{counts.size} and input.size({d}) = {size}")
        index = wrap(np.repeat(np.arange(size), counts).astype(np.int64), D.int64)
        return index_select(input, d, index)
    repeats = int(repeats)
    if repeats < 0:
        raise RuntimeError("Repeats must be non-negative")
    if input._array.ndim == 0:
        input = reshape(input, (1,))
    shape = input._array.shape
    wide = unsqueeze(input, d + 1)
    wide = expand(wide, shape[:d + 1] + (repeats,) + shape[d + 1:])
    return view(clone(wide), shape[:d] + (shape[d] * repeats,) + shape[d + 1:])


def _check_repeats(repeats: Tensor) -> None:
    if repeats._array.ndim > 1:
        raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
    if repeats._dtype.category == FLOATING:
        raise NotImplementedError(
            f'"repeat_interleave_cpu" not implemented for \'{_type_name(repeats._dtype)}\'')
    if (repeats._array < 0).any():
        raise RuntimeError("repeats can not be negative")


def _dims_list(dims, ndim: int) -> tuple:
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    out = tuple(_dim(d, ndim) for d in dims)
    for i, d in enumerate(out):
        if d in out[:i]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return out


class FlipBackward0(Node):
    __slots__ = ("dims",)

    def backward(self, grad, xp):
        return (xp.flip(grad, self.dims),)


def flip(input: Tensor, dims) -> Tensor:
    """A copy with the order of elements reversed along ``dims``."""
    dims = _dims_list(dims, input._array.ndim)
    if not input._array.ndim:
        dims = ()
    array = np.flip(input._array, dims).copy()
    out = wrap(array, input._dtype)
    if _records(input):
        _history(out, FlipBackward0, (input,), dims=dims)
    return out


def _flip_method(self: Tensor, *dims) -> Tensor:
    """``x.flip(0, 1)`` as well as ``x.flip((0, 1))``."""
    return flip(self, dims[0] if len(dims) == 1 and not isinstance(dims[0], int) else dims)


def _tile_method(self: Tensor, *dims) -> Tensor:
    return tile(self, dims[0] if len(dims) == 1 and not isinstance(dims[0], int) else dims)


def fliplr(input: Tensor) -> Tensor:
    if input._array.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:
    if input._array.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


class RollBackward0(Node):
    __slots__ = ("shifts", "dims")

    def backward(self, grad, xp):
        return (xp.roll(grad, tuple(-s for s in self.shifts), self.dims),)


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """A copy with elements shifted cyclically along ``dims`` (the flattened tensor if None)."""
    shifts = (shifts,) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    if not shifts:
        raise RuntimeError("`shifts` required")
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                               "dims:0")
        array = np.roll(input._array.reshape(-1), shifts[0]).reshape(input._array.shape)
        dims_ = None
    else:
        dims_ = (dims,) if isinstance(dims, int) else tuple(dims)
        if len(shifts) != len(dims_):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                               f"dims:{len(dims_)}")
        dims_ = tuple(_dim(d, input._array.ndim) for d in dims_)
        array = np.roll(input._array, shifts, dims_) if input._array.ndim else (
            input._array.copy())
    out = wrap(np.array(array), input._dtype)
    if _records(input):
        _history(out, RollBackward0, (input,), shifts=shifts, dims=dims_)
    return out


class Rot90Backward0(Node):
    __slots__ = ("k", "dims")

    def backward(self, grad, xp):
        return (xp.rot90(grad, -self.k, self.dims),)


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """A copy rotated by ``k`` quarter turns in the plane of ``dims`` (from the first
    towards the second)."""
    dims = tuple(dims)
    ndim = input._array.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {ndim}")
    d0, d1 = _canonical_dim(dims[0], ndim), _canonical_dim(dims[1], ndim)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    out = wrap(np.ascontiguousarray(np.rot90(input._array, k, (d0, d1))), input._dtype)
    if _records(input):
        _history(out, Rot90Backward0, (input,), k=k, dims=(d0, d1))
    return out


# ----- triangles, diagonals, trace ------------------------------------------------------------
class TrilBackward0(Node):
    __slots__ = ("diagonal",)

    def backward(self, grad, xp):
        return (xp.tril(grad, self.diagonal),)


class TriuBackward0(Node):
    __slots__ = ("diagonal",)

    def backward(self, grad, xp):
        return (xp.triu(grad, self.diagonal),)


def _triangle(input: Tensor, diagonal: int, lower: bool) -> Tensor:
    name = "tril" if lower else "triu"
    if input._array.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    a = input._array
    rows, cols = a.shape[-2:]
    keep = np.tri(rows, cols, diagonal, dtype=bool) if lower else ~np.tri(
        rows, cols, diagonal - 1, dtype=bool)
    out = wrap(np.where(keep, a, np.zeros((), a.dtype)), input._dtype)
    if _records(input):
        _history(out, TrilBackward0 if lower else TriuBackward0, (input,), diagonal=diagonal)
    return out


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (elements above ``diagonal`` become 0)."""
    return _triangle(input, diagonal, True)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (elements below ``diagonal`` become 0)."""
    return _triangle(input, diagonal, False)


def tril_(self: Tensor, diagonal: int = 0) -> Tensor:
    return apply_inplace(self, tril, diagonal)


def triu_(self: Tensor, diagonal: int = 0) -> Tensor:
    return apply_inplace(self, triu, diagonal)


class DiagEmbedBackward0(Node):
    __slots__ = ("offset", "dim1", "dim2")

    def backward(self, grad, xp):
        return (xp.diagonal(grad, self.offset, self.dim1, self.dim2),)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Each last-dim vector of ``input`` put on a diagonal of a new matrix over dim1/dim2."""
    ndim = input._array.ndim + 1
    d1, d2 = _diagonal_dims(ndim, dim1, dim2)
    n = (input._array.shape[-1] if input._array.ndim else 1) + abs(offset)
    rest = list(input._array.shape[:-1])
    shape = [0] * ndim
    for k in sorted((d1, d2)):
        rest.insert(k, n)
    shape = tuple(rest)
    array = np.zeros(shape, input._array.dtype)
    diagonal_array(array, offset, d1, d2)[...] = input._array
    out = wrap(array, input._dtype)
    if _records(input):
        _history(out, DiagEmbedBackward0, (input,), offset=offset, dim1=d1, dim2=d2)
    return out


class DiagonalBackward0_copy(DiagonalBackward0):  # noqa: N801 - torch's name for diag's node
    __slots__ = ()


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D input becomes a diagonal matrix; a 2-D input gives a copy of its diagonal."""
    ndim = input._array.ndim
    if ndim not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {ndim}D")
    if ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    out = wrap(np.diagonal(input._array, diagonal).copy(), input._dtype)
    if _records(input):
        _history(out, DiagonalBackward0_copy, (input,), self_sizes=input._array.shape,
                 offset=diagonal, dim1=0, dim2=1)
    return out


class TraceBackward0(Node):
    __slots__ = ("self_sizes",)

    def backward(self, grad, xp):
        n = min(self.self_sizes)
        return (_diagonal_grad(xp.expand(grad, (n,)), self.self_sizes, 0, 0, 1, xp),)


def trace(input: Tensor) -> Tensor:
    """The sum of the main diagonal of a matrix."""
    if input._dtype is D.bool_:
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    if input._array.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim "
                           f"{input._array.ndim}")
    dtype = input._dtype if input._dtype.category == FLOATING else D.int64
    out = wrap(np.asarray(np.trace(input._array), dtype=dtype.numpy), dtype)
    if _records(input):
        _history(out, TraceBackward0, (input,), self_sizes=input._array.shape)
    return out


# ----- stacking -------------------------------------------------------------------------------
def _tensors(args) -> tuple:
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        return tuple(args[0])
    return tuple(args)


def _at_least(tensors, ndim: int):
    out = []
    for t in tensors:
        n = t._array.ndim
        if n >= ndim:
            out.append(t)
        elif n == 0:
            out.append(reshape(t, (1,) * ndim))
        elif ndim == 2:
            out.append(unsqueeze(t, 0))
        elif n == 1:
            out.append(unsqueeze(unsqueeze(t, 0), -1))
        else:
            out.append(unsqueeze(t, -1))
    return out


def _at_least_api(args, ndim: int):
    tensors = _tensors(args)
    for t in tensors:
        if not isinstance(t, Tensor):
            got = ", ".join(type(a).__name__ for a in args)
            raise TypeError(f"atleast_{ndim}d() received an invalid combination of arguments - "
                            f"got ({got}), but expected one of:")
    out = _at_least(tensors, ndim)
    return out[0] if len(args) == 1 and isinstance(args[0], Tensor) else tuple(out)


def atleast_1d(*tensors):
    return _at_least_api(tensors, 1)


def atleast_2d(*tensors):
    return _at_least_api(tensors, 2)


def atleast_3d(*tensors):
    return _at_least_api(tensors, 3)


def _nonempty(tensors, name: str) -> list:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    return tensors


def hstack(tensors) -> Tensor:
    tensors = _at_least(_nonempty(tensors, "hstack"), 1)
    return cat(tensors, 0 if tensors[0]._array.ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    return cat(_at_least(_nonempty(tensors, "vstack"), 2), 0)


def dstack(tensors) -> Tensor:
    return cat(_at_least(_nonempty(tensors, "dstack"), 3), 2)


def column_stack(tensors) -> Tensor:
    tensors = _nonempty(tensors, "column_stack")
    return cat([reshape(t, (t._array.size, 1)) if t._array.ndim <= 1 else t for t in tensors], 1)


row_stack = vstack


# ----- in-place index ops ---------------------------------------------------------------------
def index_add_(self: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    return apply_inplace(self, index_add, dim, index, source, alpha=alpha)


def index_copy_(self: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    return apply_inplace(self, index_copy, dim, index, source)


def index_fill_(self: Tensor, dim: int, index: Tensor, value) -> Tensor:
    return apply_inplace(self, index_fill, dim, index, value)


def _contiguous(self: Tensor, memory_format=None) -> Tensor:
    return self if self._array.flags.c_contiguous else clone(self)


# The names ``ember`` exports from this family, and the Tensor methods it adds.
__all__ = [
    "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes", "broadcast_tensors", "chunk",
    "column_stack", "diag", "diag_embed", "diagonal", "dsplit", "dstack", "flip", "fliplr",
    "flipud", "gather", "hsplit", "hstack", "index_add", "index_copy", "index_fill",
    "index_select", "masked_fill", "masked_scatter", "masked_select", "meshgrid", "moveaxis",
    "movedim", "narrow", "put", "repeat_interleave", "roll", "rot90", "row_stack", "scatter",
    "scatter_add", "scatter_reduce", "select", "split", "take", "take_along_dim", "tensor_split",
    "tile", "trace", "tril", "triu", "unbind", "vsplit", "vstack",
]
TENSOR_METHODS: dict = {
    name: globals()[name] for name in __all__
    if name not in ("broadcast_shapes", "broadcast_tensors", "meshgrid", "atleast_1d",
                    "atleast_2d", "atleast_3d", "hstack", "vstack", "dstack", "column_stack",
                    "row_stack")
}
TENSOR_METHODS.update({
    "repeat": repeat, "split_with_sizes": split_with_sizes, "contiguous": _contiguous,
    "flip": _flip_method, "tile": _tile_method, "split": _split_method,
    "scatter_": scatter_, "scatter_add_": scatter_add_, "scatter_reduce_": scatter_reduce_,
    "index_add_": index_add_,
    "index_copy_": index_copy_, "index_fill_": index_fill_, "masked_fill_": masked_fill_,
    "masked_scatter_": masked_scatter_, "put_": put_, "tril_": tril_, "triu_": triu_,
})
