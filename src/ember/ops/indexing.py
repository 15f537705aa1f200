"""Indexing: ``x[key]`` and ``x[key] = value``.

Like torch, a basic key (ints, slices, None, Ellipsis) is applied one dimension at a time, so
``x[0, 1:]`` records a ``SliceBackward0`` over a ``SelectBackward0`` and gives a view;
a key with integer or boolean tensors (advanced indexing) copies and records
``IndexBackward0``. Assignment through a basic key is an in-place ``copy_`` into a view
(so the tensor's history becomes ``CopySlices``); through an advanced key it is
``index_put_`` (``IndexPutBackward0``).
"""

from __future__ import annotations

import numpy as np

from ember import _dtype as D
from ember.ops._core import (
    NO_EDGE,
    Node,
    Tensor,
    apply_inplace,
    as_scalar,
    cast,
    check_inplace,
    edge,
    grad_state,
    new_node,
    set_history,
    wrap,
    write_into,
)
from ember.ops.shape import INDEX, make_view, view_key


# ----- keys -----------------------------------------------------------------------------------
def _is_advanced(item) -> bool:
    if isinstance(item, Tensor):
        return not (item._array.ndim == 0 and item._dtype.category == D.INTEGER)
    return isinstance(item, (list, np.ndarray, bool))


def _normalize_key(key) -> tuple:
    if not isinstance(key, tuple):
        key = (key,)
    return key


def _numpy_key(key: tuple) -> tuple:
    """The key with tensors replaced by arrays, for NumPy's advanced indexing."""
    out = []
    for item in key:
        if isinstance(item, Tensor):
            if item._dtype.category == D.FLOATING:
                raise IndexError(
                    "tensors used as indices must be long, int, byte or bool tensors"
                )
            array = item._array
            if array.dtype == np.uint8:
                array = array.astype(bool)
            out.append(array if array.ndim or array.dtype == bool else int(array))
        elif isinstance(item, list):
            out.append(_numpy_key_list(item))
        else:
            out.append(item)
    return tuple(out)


def _numpy_key_list(items: list):
    converted = [i._array if isinstance(i, Tensor) else i for i in items]
    return np.asarray(converted)


def _check_bounds(shape: tuple, key: tuple) -> None:
    """torch's IndexError for out-of-range integers (NumPy's text differs)."""
    dim = 0
    n_specified = sum(1 for k in key if k is not None and k is not Ellipsis)
    for item in key:
        if item is Ellipsis:
            dim += len(shape) - n_specified
            continue
        if item is None:
            continue
        if dim >= len(shape):
            raise IndexError(
                f"too many indices for tensor of dimension {len(shape)}"
            )
        if isinstance(item, int) and not isinstance(item, bool):
            size = shape[dim]
            if item < -size or item >= size:
                raise IndexError(
                    f"index {item} is out of bounds for dimension {dim} with size {size}"
                )
        dim += 1


# ----- getitem --------------------------------------------------------------------------------
class _RegionBackward(Node):
    """Backward of a basic-indexing view: the gradient fills its region of zeros."""

    __slots__ = ("self_sizes", "key")

    def backward(self, grad, xp):
        return (xp.put_at(self.self_sizes, self.key, grad, grad, accumulate=False),)


class SelectBackward0(_RegionBackward):
    __slots__ = ()


class SliceBackward0(_RegionBackward):
    __slots__ = ()


class AliasBackward0(_RegionBackward):
    __slots__ = ()


class IndexBackward0(Node):
    """Advanced indexing: the gradient is summed into the picked positions."""

    __slots__ = ("self_sizes", "indices")
    _saved_fields = ("indices",)

    def backward(self, grad, xp):
        return (xp.put_at(self.self_sizes, self.indices, grad, grad, accumulate=True),)


def _region_view(input: Tensor, key: tuple, node_cls) -> Tensor:
    array = input._array[view_key(key)]
    out = make_view(input, array, (INDEX, key))
    if input._requires_grad and grad_state.enabled:
        node = new_node(node_cls, (edge(input),), array)
        node.self_sizes, node.key = input._array.shape, key
        set_history(out, node)
    return out


def getitem(input: Tensor, key) -> Tensor:
    key = _normalize_key(key)
    if any(_is_advanced(item) for item in key):
        return _advanced_getitem(input, key)
    key = tuple(int(k) if isinstance(k, Tensor) else k for k in key)
    _check_bounds(input._array.shape, key)
    ndim = input._array.ndim
    n_specified = sum(1 for k in key if k is not None and k is not Ellipsis)
    if n_specified > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if ndim == 0 and all(k is Ellipsis for k in key):
        return _region_view(input, (Ellipsis,), AliasBackward0)
    out, dim = input, 0
    applied = False
    for item in key:
        if item is Ellipsis:
            dim += ndim - n_specified
            continue
        lead = (slice(None),) * dim
        if item is None:
            from ember.ops.shape import unsqueeze

            out = unsqueeze(out, dim)
            dim += 1
        elif isinstance(item, slice):
            size = out._array.shape[dim]
            if item.step is not None and item.step <= 0:
                raise ValueError("step must be greater than zero")
            if item.indices(size) != (0, size, 1):
                out = _region_view(out, lead + (item,), SliceBackward0)
            dim += 1
        else:
            out = _region_view(out, lead + (int(item),), SelectBackward0)
        applied = True
    if out is input:
        return _region_view(input, (Ellipsis,), AliasBackward0 if not applied else SliceBackward0)
    return out


def _advanced_getitem(input: Tensor, key: tuple) -> Tensor:
    np_key = _numpy_key(key)
    try:
        array = input._array[np_key]
    except IndexError as e:
        raise IndexError(_index_error_text(str(e), input)) from None
    out = wrap(np.array(array, copy=True), input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(IndexBackward0, (edge(input),), out._array)
        node.self_sizes, node.indices = input._array.shape, np_key
        set_history(out, node)
    return out


def _index_error_text(numpy_message: str, input: Tensor) -> str:
    import re

    m = re.match(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)", numpy_message)
    if m:
        return f"index {m.group(1)} is out of bounds for dimension {m.group(2)} with size {m.group(3)}"
    return numpy_message


# ----- setitem, copy_, index_put --------------------------------------------------------------
class CopyBackwards(Node):
    """``self.copy_(src)``: the old values of self get no gradient, src gets all of it."""

    __slots__ = ()

    def name(self) -> str:
        return "torch::autograd::CopyBackwards"

    def backward(self, grad, xp):
        return (grad * 0 if self.needs_input_grad(0) else None, grad)


def _copy_result(self_: Tensor, src) -> Tensor:
    """``src`` broadcast to ``self_``'s shape and dtype, recorded as a copy into ``self_``."""
    src = src if isinstance(src, Tensor) else _scalar_tensor(src, self_._dtype)
    array = np.array(np.broadcast_to(cast(src._array, self_._dtype), self_._array.shape))
    out = wrap(array, self_._dtype)
    if grad_state.enabled and (self_._requires_grad or src._requires_grad):
        set_history(out, new_node(CopyBackwards, (edge(self_), edge(src)), array))
    return out


def _scalar_tensor(value, dtype: D.dtype) -> Tensor:
    return wrap(np.array(as_scalar(value), dtype=dtype.numpy), dtype)


def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    if isinstance(src, Tensor):
        try:
            np.broadcast_shapes(src._array.shape, self._array.shape)
        except ValueError:
            raise RuntimeError(
                f"The size of tensor a ({self._array.shape[-1] if self._array.ndim else 1}) "
                f"must match the size of tensor b ({src._array.shape[-1]}) at non-singleton "
                "dimension 0"
            ) from None
    return apply_inplace(self, _copy_result, src)


class IndexPutBackward0(Node):
    """``self[indices] = values``: values get the gradient at the indices, self elsewhere."""

    __slots__ = ("indices", "accumulate")
    _saved_fields = ("indices",)

    def backward(self, grad, xp):
        indices = self.indices
        grad_self = None
        if self.needs_input_grad(0):
            grad_self = xp.clone(grad)
            if not self.accumulate:
                grad_self[indices] = 0
        grad_values = grad[indices] if self.needs_input_grad(1) else None
        return grad_self, grad_values


def _index_put_result(self_: Tensor, np_key: tuple, values, accumulate: bool) -> Tensor:
    values = values if isinstance(values, Tensor) else _scalar_tensor(values, self_._dtype)
    array = self_._array.copy()
    if accumulate:
        np.add.at(array, np_key, cast(values._array, self_._dtype))
    else:
        array[np_key] = cast(values._array, self_._dtype)
    out = wrap(array, self_._dtype)
    if grad_state.enabled and (self_._requires_grad or values._requires_grad):
        node = new_node(IndexPutBackward0, (edge(self_), edge(values)), array)
        node.indices, node.accumulate = np_key, accumulate
        set_history(out, node)
    return out


def index_put_(self: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    np_key = _numpy_key(tuple(indices))
    return apply_inplace(self, _index_put_result, np_key, values, accumulate)


def index_put(self: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    return _index_put_result(self, _numpy_key(tuple(indices)), values, accumulate)


def setitem(self: Tensor, key, value) -> None:
    key = _normalize_key(key)
    recording = grad_state.enabled and (
        self._requires_grad or (isinstance(value, Tensor) and value._requires_grad)
    )
    if any(_is_advanced(item) for item in key):
        np_key = _numpy_key(key)
        if not recording:
            self._array[np_key] = _value_array(value, self)
            self._version_counter[0] += 1
            return
        check_inplace(self)
        apply_inplace(self, _index_put_result, np_key, value, False)
        return
    key = tuple(int(k) if isinstance(k, Tensor) else k for k in key)
    if not recording:
        _check_bounds(self._array.shape, key)
        self._array[key] = _value_array(value, self)
        self._version_counter[0] += 1
        return
    if self.grad_fn is None and self._requires_grad:
        check_inplace(getitem(self, key))
    region = getitem(self, key)
    copy_(region, value)


def _value_array(value, target: Tensor):
    if isinstance(value, Tensor):
        if value._dtype.category > target._dtype.category and value._array.ndim:
            pass  # torch casts silently in assignment
        return cast(value._array, target._dtype)
    return as_scalar(value)


# ----- tensor-mode helpers used by derivative formulas ----------------------------------------
class PutAtBackward(Node):
    """Backward of ``put_at`` (used when formulas run under create_graph): pick the region."""

    __slots__ = ("key",)

    def backward(self, grad, xp):
        return (grad[self.key],)


def put_at(shape, key, values: Tensor, accumulate: bool) -> Tensor:
    """Zeros of ``shape`` with ``values`` written (or summed) at ``key``, differentiably."""
    array = np.zeros(shape, dtype=values._array.dtype)
    if accumulate:
        np.add.at(array, key, values._array)
    else:
        array[key] = values._array
    out = wrap(array, values._dtype)
    if values._requires_grad and grad_state.enabled:
        node = new_node(SelectBackward0 if not accumulate else PutAtBackward,
                        (edge(values),), array)
        if accumulate:
            node.key = key
            set_history(out, node)
        else:
            return _put_region(shape, key, values)
    return out


def _put_region(shape, key, values: Tensor) -> Tensor:
    """zeros(shape) with ``values`` copied into ``zeros[key]``: recorded as a CopySlices."""
    from ember._creation import zeros

    base = zeros(shape, dtype=values._dtype)
    setitem(base, key, values)
    return base


class ScatterAlongBackward(Node):
    __slots__ = ("indices", "dim")

    def backward(self, grad, xp):
        return (xp.take_along_dim(grad, self.indices, self.dim),)


class TakeAlongBackward(Node):
    __slots__ = ("indices", "dim", "self_sizes")

    def backward(self, grad, xp):
        return (xp.scatter_along_dim(self.self_sizes, self.indices, grad, self.dim),)


def scatter_along_dim(shape, indices: np.ndarray, values: Tensor, dim: int) -> Tensor:
    array = np.zeros(shape, dtype=values._array.dtype)
    np.put_along_axis(array, indices, values._array, axis=dim)
    out = wrap(array, values._dtype)
    if values._requires_grad and grad_state.enabled:
        node = new_node(ScatterAlongBackward, (edge(values),), array)
        node.indices, node.dim = indices, dim
        set_history(out, node)
    return out


def take_along_dim(input: Tensor, indices, dim: int) -> Tensor:
    idx = indices._array if isinstance(indices, Tensor) else indices
    array = np.take_along_axis(input._array, idx, axis=dim)
    out = wrap(array, input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(TakeAlongBackward, (edge(input),), array)
        node.indices, node.dim, node.self_sizes = idx, dim, input._array.shape
        set_history(out, node)
    return out


def nonzero(input: Tensor, *, as_tuple: bool = False):
    indices = np.nonzero(input._array) if input._array.ndim else np.nonzero(
        input._array.reshape(1))
    if as_tuple:
        return tuple(wrap(i.astype(np.int64), D.int64) for i in indices)
    return wrap(np.stack(indices, axis=1).astype(np.int64) if indices else
                np.zeros((0, 0), dtype=np.int64), D.int64)


__all__ = ["NO_EDGE", "getitem", "setitem", "copy_", "index_put_", "index_put", "nonzero",
           "put_at", "scatter_along_dim", "take_along_dim", "write_into"]
