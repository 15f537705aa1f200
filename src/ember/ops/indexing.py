"""Indexing: ``x[key]`` and ``x[key] = value``.

Like torch, a basic key (ints, slices, None, Ellipsis) is applied one dimension at a time, so
``x[0, 1:]`` records a ``SliceBackward0`` over a ``SelectBackward0`` and gives a view;
a key with integer or boolean tensors (advanced indexing) copies and records
``IndexBackward0``. Assignment through a basic key is an in-place ``copy_`` into a view
(so the tensor's history becomes ``CopySlices``); through an advanced key it is
``index_put_`` (``IndexPutBackward0``).
"""

from __future__ import annotations

import operator

import numpy as np

from ember import _dtype as D
from ember.ops._core import (
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
    # The two keys of a training loop's batching, ``order[i:j]`` and ``x[index]``, go straight
    # to their view / gather; anything else (or any error) takes the general path below.
    if input._array.ndim:
        if key.__class__ is slice:
            if key.step is None and key.start.__class__ in _PLAIN and (
                    key.stop.__class__ in _PLAIN):
                if _whole_slice(key, input._array.shape[0]):
                    return _region_view(input, (Ellipsis,), SliceBackward0)
                return _region_view(input, (key,), SliceBackward0)
        elif key.__class__ is Tensor and key._array.ndim == 1 and key._dtype in _INDEX_DTYPES:
            out = _take_rows(input, key._array)
            if out is not None:
                return out
    # torch slices a bare ``x[:]`` even when the slice changes nothing (SliceBackward0), but
    # skips no-op slices inside a tuple key (``x[:, :]`` is an AliasBackward0).
    bare_slice = isinstance(key, slice)
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
            if not _whole_slice(item, size):
                out = _region_view(out, lead + (item,), SliceBackward0)
            dim += 1
        else:
            out = _region_view(out, lead + (int(item),), SelectBackward0)
    if out is input:
        return _region_view(input, (Ellipsis,), SliceBackward0 if bare_slice else AliasBackward0)
    return out


_PLAIN = (int, type(None))
_INDEX_DTYPES = (D.int64, D.int32)


def _take_rows(input: Tensor, index: np.ndarray) -> Tensor | None:
    """``input[index]`` for a 1-D integer index: rows gathered with ``take`` (what the general
    advanced path computes, without its key analysis and second copy). None when an index is
    out of range, so the general path raises torch's message."""
    try:
        array = input._array.take(index, axis=0)
    except IndexError:
        return None
    out = wrap(array, input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(IndexBackward0, (edge(input),), array)
        node.self_sizes, node.indices = input._array.shape, (index,)
        set_history(out, node)
    return out


def _whole_slice(item: slice, size: int) -> bool:
    """torch skips a slice (no SliceBackward0) only when its bounds, as written (a stop past the
    end clamped, negative ones not normalized), are 0 and ``size`` with step 1."""
    start = 0 if item.start is None else operator.index(item.start)
    stop = size if item.stop is None else min(operator.index(item.stop), size)
    step = 1 if item.step is None else operator.index(item.step)
    return start == 0 and stop == size and step == 1


def _is_mask(item) -> bool:
    return isinstance(item, Tensor) and item._array.ndim > 0 and item._dtype in (D.bool_, D.uint8)


def _check_masks(shape: tuple, key: tuple) -> None:
    """torch's IndexError for a boolean mask whose shape differs from the dims it covers.

    Basic items are applied first (ints remove a dim, None adds one), as torch does; the
    message shows the sizes of the tensor they leave.
    """
    if not any(_is_mask(item) for item in key):
        return
    sizes = list(shape)
    consumed = sum(item._array.ndim if _is_mask(item) else 1 for item in key
                   if item is not None and item is not Ellipsis)
    dim = 0
    positions = []
    for item in key:
        if item is None:
            sizes.insert(dim, 1)
            dim += 1
        elif item is Ellipsis:
            dim += len(shape) - consumed
        elif _is_mask(item):
            positions.append((dim, item))
            dim += item._array.ndim
        elif isinstance(item, int) and not isinstance(item, bool):
            if dim < len(sizes):
                sizes.pop(dim)
        else:
            dim += 1
    for dim, mask in positions:
        for j, size in enumerate(mask._array.shape):
            if dim + j < len(sizes) and sizes[dim + j] != size:
                raise IndexError(
                    f"The shape of the mask {list(mask._array.shape)} at index {j} does not "
                    f"match the shape of the indexed tensor {sizes} at index {dim + j}"
                )


def _dims_consumed(item) -> int:
    if item is None or item is Ellipsis or item is True or item is False:
        return 0
    if isinstance(item, Tensor):
        return item._array.ndim if item._dtype in (D.bool_, D.uint8) else 1
    if isinstance(item, (list, np.ndarray)):
        array = np.asarray(_numpy_key_list(item) if isinstance(item, list) else item)
        return array.ndim if array.dtype == bool else 1
    return 1


def _is_int_index(item) -> bool:
    if isinstance(item, Tensor):
        return item._array.ndim == 0 and item._dtype.category == D.INTEGER
    return isinstance(item, (int, np.integer)) and not isinstance(item, bool)


def _skipped_slice(item: slice, size: int) -> bool:
    """torch's applySlice returns the tensor itself for a slice that starts at 0 (as written,
    so -size does not count), steps by 1 and reaches the end."""
    return (item.start in (None, 0) and item.step in (None, 1)
            and (item.stop is None or item.stop >= size))


def _apply_basic(input: Tensor, key: tuple):
    """torch's applySlicing for a key with index tensors.

    Ints, slices and None are applied first, as views (so ``x[0, :, idx]`` indexes
    ``x[0]``, unlike NumPy, which would treat the 0 as an index array too). Returns the
    tensor they leave (``input`` itself when they change nothing) and the key that remains:
    the index tensors, with full slices for the dimensions before them.
    """
    from ember.ops.shape import unsqueeze

    ndim = input._array.ndim
    n_specified = sum(_dims_consumed(item) for item in key)
    if n_specified > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    out, dim, rest = input, 0, []
    for item in key:
        if item is Ellipsis:
            skipped = ndim - n_specified
            rest += [slice(None)] * skipped
            dim += skipped
        elif item is None:
            out = unsqueeze(out, dim)
            rest.append(slice(None))
            dim += 1
        elif isinstance(item, slice):
            if item.step is not None and item.step <= 0:
                raise ValueError("step must be greater than zero")
            if not _skipped_slice(item, out._array.shape[dim]):
                out = _region_view(out, (slice(None),) * dim + (item,), SliceBackward0)
            rest.append(slice(None))
            dim += 1
        elif _is_int_index(item):
            index, size = int(item), out._array.shape[dim]
            if index < -size or index >= size:
                raise IndexError(
                    f"index {index} is out of bounds for dimension {dim} with size {size}"
                )
            out = _region_view(out, (slice(None),) * dim + (index,), SelectBackward0)
        else:
            rest.append(item)
            dim += _dims_consumed(item)
    while rest and isinstance(rest[-1], slice) and rest[-1] == slice(None):
        rest.pop()
    return out, tuple(rest)


def _advanced_getitem(input: Tensor, key: tuple) -> Tensor:
    source, rest = _apply_basic(input, key)
    _check_masks(source._array.shape, rest)
    np_key = _numpy_key(rest)
    try:
        array = source._array[np_key]
    except IndexError as e:
        raise IndexError(_index_error_text(str(e), source)) from None
    out = wrap(np.array(array, copy=True), input._dtype)
    if source._requires_grad and grad_state.enabled:
        node = new_node(IndexBackward0, (edge(source),), out._array)
        node.self_sizes, node.indices = source._array.shape, np_key
        set_history(out, node)
    return out


def _index_error_text(numpy_message: str, input: Tensor) -> str:
    import re

    m = re.match(r"shape mismatch: indexing arrays could not be broadcast together with "
                 r"shapes (.*)", numpy_message)
    if m:
        shapes = ", ".join(str([int(d) for d in re.findall(r"\d+", shape)])
                           for shape in m.group(1).split())
        return ("shape mismatch: indexing tensors could not be broadcast together with shapes "
                f"{shapes}")
    m = re.match(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)", numpy_message)
    if m:
        index, dim, size = m.groups()
        return f"index {index} is out of bounds for dimension {dim} with size {size}"
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
    _check_put_dtype(self, values)
    np_key = _numpy_key(tuple(indices))
    return apply_inplace(self, _index_put_result, np_key, values, accumulate)


def index_put(self: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    return _index_put_result(self, _numpy_key(tuple(indices)), values, accumulate)


def _check_put_dtype(self: Tensor, value) -> None:
    if isinstance(value, Tensor) and value._dtype is not self._dtype:
        raise RuntimeError(
            "Index put requires the source and destination dtypes match, got "
            f"{_legacy(self._dtype)} for the destination and {_legacy(value._dtype)} for the "
            "source."
        )


def _legacy(dtype: D.dtype) -> str:
    return dtype._legacy_name.replace("Tensor", "")


def _is_bool_scalar(item) -> bool:
    return item is True or item is False or (
        isinstance(item, Tensor) and item._array.ndim == 0 and item._dtype is D.bool_
    )


def setitem(self: Tensor, key, value) -> None:
    key = _normalize_key(key)
    if len(key) == 1 and _is_bool_scalar(key[0]):
        # torch: x[False] = v does nothing; x[True] = v writes into x.unsqueeze(0); a 0-dim
        # bool tensor indexes that unsqueezed view with a one-element mask
        item = key[0]
        if item is False:
            return
        from ember.ops.shape import unsqueeze

        view = unsqueeze(self, 0)
        setitem(view, Ellipsis if item is True else wrap(item._array.reshape(1), D.bool_), value)
        return
    recording = grad_state.enabled and (
        self._requires_grad or (isinstance(value, Tensor) and value._requires_grad)
    )
    if any(_is_advanced(item) for item in key):
        target, rest = _apply_basic(self, key)
        _check_masks(target._array.shape, rest)
        np_key = _numpy_key(rest)
        if any(isinstance(k, Tensor) and k._dtype.category == D.INTEGER for k in rest):
            _check_put_dtype(self, value)
        _check_value_shape(target._array[np_key].shape, value, advanced=True)
        if not recording:
            target._array[np_key] = _value_array(value, self)
            self._version_counter[0] += 1
            return
        check_inplace(target)
        apply_inplace(target, _index_put_result, np_key, value, False)
        return
    key = tuple(int(k) if isinstance(k, Tensor) else k for k in key)
    _check_bounds(self._array.shape, key)
    _check_value_shape(self._array[view_key(key)].shape, value, advanced=False)
    if not recording:
        self._array[key] = _value_array(value, self)
        self._version_counter[0] += 1
        return
    # torch skips full slices here, so x[()], x[...] and x[:] write into x itself
    region, _ = _apply_basic(self, key)
    # torch's copy_to: a 0-dim value of another shape fills the region, anything else copies
    if not isinstance(value, Tensor):
        value = _scalar_tensor(value, self._dtype)
    if value._array.ndim == 0 and region._array.shape != ():
        from ember.ops.elementwise import fill_

        fill_(region, value)
    else:
        copy_(region, value)


def _check_value_shape(region: tuple, value, advanced: bool) -> None:
    """The value must broadcast to the indexed region (leading size-1 dims are dropped)."""
    if not isinstance(value, Tensor) or value._array.shape == region:
        return
    shape = value._array.shape
    while len(shape) > len(region) and shape[0] == 1:
        shape = shape[1:]
    if advanced:
        try:
            fits = np.broadcast_shapes(shape, region) == region
        except ValueError:
            fits = False
        if not fits:
            raise RuntimeError(
                f"shape mismatch: value tensor of shape {list(value._array.shape)} cannot be "
                f"broadcast to indexing result of shape {list(region)}"
            )
        return
    from ember.ops.shape import expand

    expand(wrap(np.broadcast_to(np.zeros((), value._array.dtype), shape), value._dtype), region)


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
    if not isinstance(input, Tensor):
        raise TypeError(
            f"nonzero(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )
    if input._array.ndim == 0:  # torch: (n, 0) indices, or as a tuple those of a 1-element 1-D
        found = bool(input._array)
        if as_tuple:
            return (wrap(np.zeros(int(found), dtype=np.int64), D.int64),)
        return wrap(np.zeros((int(found), 0), dtype=np.int64), D.int64)
    indices = np.nonzero(input._array)
    if as_tuple:
        return tuple(wrap(i.astype(np.int64), D.int64) for i in indices)
    return wrap(np.stack(indices, axis=1).astype(np.int64) if indices else
                np.zeros((0, 0), dtype=np.int64), D.int64)


# The names ``ember`` exports from this family, and the Tensor methods it adds beyond those
# ``_tensor_methods.METHODS`` binds.
__all__ = ["nonzero"]
TENSOR_METHODS: dict = {}
