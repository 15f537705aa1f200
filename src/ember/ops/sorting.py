"""Sorting, selection by rank, scans and counting: each op's forward and derivative together.

Ties decide which index an op reports, and the index decides where a gradient goes, so the
order matters. torch's CPU kernels use the C++ standard library's ``std::sort`` and
``std::nth_element`` (unstable beyond small sizes) and a quick-select of their own. When the
order is already decided by the values (no ties), NumPy's vectorized sort gives the same
answer; rows with ties are replayed, one row at a time, with the same algorithms torch runs
(``_LibstdcxxOrder``, ``_quick_select``), so ties resolve exactly as in torch.
"""

from __future__ import annotations

import math

import numpy as np

from ember import _dtype as D
from ember._tensor import _canonical_dim
from ember.ops._core import (
    FLOATING,
    NO_EDGE,
    Node,
    SavedTensor,
    Tensor,
    apply_inplace,
    edge,
    grad_state,
    new_node,
    set_history,
    wrap,
)
from ember.ops.reduction import MaxBackward0, MaxBackward1, _return_type

sort_result = _return_type("sort")
topk_result = _return_type("topk")
kthvalue_result = _return_type("kthvalue")
mode_result = _return_type("mode")
median_result = _return_type("median")
nanmedian_result = _return_type("nanmedian")
cummax_result = _return_type("cummax")
cummin_result = _return_type("cummin")


def _legacy(dtype: D.dtype) -> str:
    return dtype._legacy_name.replace("Tensor", "")


def _check_tensor(input, name: str) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(
            f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )


def _rows(a: np.ndarray, dim: int) -> np.ndarray:
    """``a`` with ``dim`` moved last and the rest flattened: shape (rows, size)."""
    if not a.ndim:
        return a.reshape(1, 1)
    moved = np.moveaxis(a, dim, -1)
    return moved.reshape(math.prod(moved.shape[:-1]), a.shape[dim])


def _unrows(rows: np.ndarray, shape: tuple, dim: int) -> np.ndarray:
    """Undo ``_rows`` for a result with ``rows.shape[1]`` entries along ``dim``."""
    if not shape:
        return rows.reshape(())
    moved = tuple(s for i, s in enumerate(shape) if i != dim) + (rows.shape[1],)
    return np.moveaxis(rows.reshape(moved), -1, dim)


def _contiguous(a: np.ndarray) -> np.ndarray:
    return np.array(a, order="C", copy=None)


def _has_ties(sorted_rows: np.ndarray) -> np.ndarray:
    """Per row: whether two entries compare equal (NaNs count as equal to each other)."""
    if sorted_rows.shape[1] < 2:
        return np.zeros(sorted_rows.shape[0], dtype=bool)
    left, right = sorted_rows[:, :-1], sorted_rows[:, 1:]
    same = left == right
    if sorted_rows.dtype.kind == "f":
        same |= np.isnan(left) & np.isnan(right)
    return same.any(axis=1)


# ----- the standard library's orderings, replayed -------------------------------------------
class _LibstdcxxOrder:
    """libstdc++'s ``std::sort``, ``std::nth_element`` and ``std::partial_sort`` on a list.

    ``less(a, b)`` compares two items; the methods rearrange ``self.items`` exactly as the
    C++ algorithms do, so equal items end up where torch's kernels leave them.
    """

    __slots__ = ("items", "less")

    def __init__(self, items: list, less) -> None:
        self.items = items
        self.less = less

    # heaps (stl_heap.h)
    def _push_heap(self, first, hole, top, value):
        items, less = self.items, self.less
        parent = (hole - 1) // 2
        while hole > top and less(items[first + parent], value):
            items[first + hole] = items[first + parent]
            hole = parent
            parent = (hole - 1) // 2
        items[first + hole] = value

    def _adjust_heap(self, first, hole, length, value):
        items, less = self.items, self.less
        top = hole
        child = hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if less(items[first + child], items[first + child - 1]):
                child -= 1
            items[first + hole] = items[first + child]
            hole = child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            items[first + hole] = items[first + child - 1]
            hole = child - 1
        self._push_heap(first, hole, top, value)

    def _pop_heap(self, first, last, result):
        items = self.items
        value = items[result]
        items[result] = items[first]
        self._adjust_heap(first, 0, last - first, value)

    def _make_heap(self, first, last):
        length = last - first
        if length < 2:
            return
        parent = (length - 2) // 2
        while True:
            self._adjust_heap(first, parent, length, self.items[first + parent])
            if parent == 0:
                return
            parent -= 1

    def _sort_heap(self, first, last):
        while last - first > 1:
            last -= 1
            self._pop_heap(first, last, last)

    def _heap_select(self, first, middle, last):
        self._make_heap(first, middle)
        for i in range(middle, last):
            if self.less(self.items[i], self.items[first]):
                self._pop_heap(first, middle, i)

    # partitioning (stl_algo.h)
    def _move_median_to_first(self, result, a, b, c):
        items, less = self.items, self.less
        if less(items[a], items[b]):
            if less(items[b], items[c]):
                pick = b
            elif less(items[a], items[c]):
                pick = c
            else:
                pick = a
        elif less(items[a], items[c]):
            pick = a
        elif less(items[b], items[c]):
            pick = c
        else:
            pick = b
        items[result], items[pick] = items[pick], items[result]

    def _unguarded_partition(self, first, last, pivot):
        items, less = self.items, self.less
        while True:
            while less(items[first], items[pivot]):
                first += 1
            last -= 1
            while less(items[pivot], items[last]):
                last -= 1
            if not first < last:
                return first
            items[first], items[last] = items[last], items[first]
            first += 1

    def _partition_pivot(self, first, last):
        mid = first + (last - first) // 2
        self._move_median_to_first(first, first + 1, mid, last - 1)
        return self._unguarded_partition(first + 1, last, first)

    def _linear_insert(self, last):
        items, less = self.items, self.less
        value = items[last]
        prev = last - 1
        while less(value, items[prev]):
            items[last] = items[prev]
            last = prev
            prev -= 1
        items[last] = value

    def _insertion_sort(self, first, last):
        items, less = self.items, self.less
        for i in range(first + 1, last):
            if less(items[i], items[first]):
                value = items[i]
                items[first + 1:i + 1] = items[first:i]
                items[first] = value
            else:
                self._linear_insert(i)

    def _introsort_loop(self, first, last, depth):
        while last - first > 16:
            if depth == 0:
                self._heap_select(first, last, last)
                self._sort_heap(first, last)
                return
            depth -= 1
            cut = self._partition_pivot(first, last)
            self._introsort_loop(cut, last, depth)
            last = cut

    def sort(self, first: int = 0, last: int | None = None) -> None:
        last = len(self.items) if last is None else last
        if last - first < 2:
            return
        self._introsort_loop(first, last, 2 * ((last - first).bit_length() - 1))
        if last - first > 16:
            self._insertion_sort(first, first + 16)
            for i in range(first + 16, last):
                self._linear_insert(i)
        else:
            self._insertion_sort(first, last)

    def nth_element(self, nth: int) -> None:
        first, last = 0, len(self.items)
        if first == last or nth == last:
            return
        depth = 2 * ((last - first).bit_length() - 1)
        while last - first > 3:
            if depth == 0:
                self._heap_select(first, nth + 1, last)
                self.items[first], self.items[nth] = self.items[nth], self.items[first]
                return
            depth -= 1
            cut = self._partition_pivot(first, last)
            if cut <= nth:
                first = cut
            else:
                last = cut
        self._insertion_sort(first, last)

    def partial_sort(self, middle: int) -> None:
        self._heap_select(0, middle, len(self.items))
        self._sort_heap(0, middle)


def _isnan(v) -> bool:
    return v != v


def _less_ascending(a, b) -> bool:
    """torch's ascending key order: NaN after everything."""
    return (not _isnan(a[0]) and _isnan(b[0])) or a[0] < b[0]


def _less_descending(a, b) -> bool:
    """torch's descending key order: NaN before everything."""
    return (_isnan(a[0]) and not _isnan(b[0])) or a[0] > b[0]


def _row_items(row: np.ndarray) -> list:
    return list(zip(row.tolist(), range(len(row))))


def _stable_order(rows: np.ndarray, descending: bool) -> np.ndarray:
    """Stable argsort of each row, NaN last ascending and first descending (as torch)."""
    if not descending:
        return np.argsort(rows, axis=1, kind="stable")
    n = rows.shape[1]
    # Sorting the reversed rows ascending and reading the result backwards keeps equal
    # entries in their original order and puts NaN first.
    order = np.argsort(rows[:, ::-1], axis=1, kind="stable")
    return (n - 1 - order)[:, ::-1]


# Replaying the C++ algorithms runs in Python; beyond this many entries per call the order of
# ties falls back to the stable one (the values are the same, only tied indices may differ).
REPLAY_LIMIT = 1 << 17


def _replayed(rows: np.ndarray, which: np.ndarray) -> np.ndarray:
    """The rows (indices) to replay, or none when they hold too many entries to replay."""
    chosen = np.flatnonzero(which)
    return chosen if chosen.size * rows.shape[1] <= REPLAY_LIMIT else chosen[:0]


def _sort_order(rows: np.ndarray, descending: bool, stable: bool) -> np.ndarray:
    """The permutation torch's sort gives each row: stable, or as ``std::sort`` leaves ties."""
    order = _stable_order(rows, descending)
    if stable or rows.shape[1] <= 16:  # std::sort is an insertion sort up to 16 entries
        return order
    ties = _has_ties(np.take_along_axis(rows, order, axis=1))
    less = _less_descending if descending else _less_ascending
    for r in _replayed(rows, ties):
        replay = _LibstdcxxOrder(_row_items(rows[r]), less)
        replay.sort()
        order[r] = [i for _, i in replay.items]
    return order


# ----- sort, argsort, msort -------------------------------------------------------------------
class SortBackward0(MaxBackward0):
    """The gradient of the sorted values goes back to the positions they came from."""

    __slots__ = ()


class SortBackward1(SortBackward0):
    __slots__ = ()


def _sorted(input: Tensor, dim: int, descending: bool, stable, node_cls):
    _check_tensor(input, "sort")
    a = input._array
    d = _canonical_dim(dim, a.ndim)
    if a.ndim == 0:
        values, indices = a.copy(), np.zeros((), dtype=np.int64)
    else:
        rows = _rows(a, d)
        order = _sort_order(rows, descending, bool(stable))
        indices = _unrows(order.astype(np.int64), a.shape, d)
        values = np.take_along_axis(a, indices, axis=d)
    out = wrap(values, input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(node_cls, (edge(input),), values)
        node.indices, node.dim, node.keepdim, node.self_sizes = indices, d, True, a.shape
        set_history(out, node)
    return out, wrap(indices, D.int64)


_UNSET = type("_Unset", (), {"__repr__": lambda self: "False"})()


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable=_UNSET):
    """Sorted values and the indices they came from (NaN last; ``stable=True`` keeps ties in
    order, otherwise ties land where torch's unstable sort puts them). Passing ``stable`` at
    all selects torch's other overload, whose node is SortBackward1."""
    if stable is _UNSET:
        return sort_result(*_sorted(input, dim, descending, False, SortBackward0))
    return sort_result(*_sorted(input, dim, descending, bool(stable), SortBackward1))


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """The indices ``sort`` would give."""
    _check_tensor(input, "argsort")
    a = input._array
    d = _canonical_dim(dim, a.ndim)
    if a.ndim == 0:
        return wrap(np.zeros((), dtype=np.int64), D.int64)
    order = _sort_order(_rows(a, d), descending, stable)
    return wrap(_unrows(order.astype(np.int64), a.shape, d), D.int64)


def msort(input: Tensor) -> Tensor:
    """Values sorted along the first dimension."""
    _check_tensor(input, "msort")
    return _sorted(input, 0, False, None, SortBackward0)[0]


# ----- topk -----------------------------------------------------------------------------------
class TopkBackward0(SortBackward0):
    __slots__ = ()


def _topk_rows(rows: np.ndarray, k: int, largest: bool, sorted: bool) -> np.ndarray:
    """Per row, the indices of the k picked entries, in the order torch's kernel leaves them.

    torch uses ``std::partial_sort`` when k * 64 <= n and otherwise ``std::nth_element``
    followed (when sorted) by ``std::sort`` of the first k - 1 entries.
    """
    n = rows.shape[1]
    order = _stable_order(rows, largest)
    fast = sorted and n <= 3  # tiny rows: every path is an insertion sort, hence stable
    if fast or k == 0:
        return order[:, :k]
    # only ties among the first k + 1 ranked entries can change what torch returns
    ties = _has_ties(np.take_along_axis(rows, order[:, :k + 1], axis=1))
    result = order[:, :k].copy()
    less = _less_descending if largest else _less_ascending
    for r in _replayed(rows, ties if sorted else np.ones(rows.shape[0], dtype=bool)):
        replay = _LibstdcxxOrder(_row_items(rows[r]), less)
        if k * 64 <= n:
            replay.partial_sort(k)
        else:
            replay.nth_element(k - 1)
            if sorted:
                replay.sort(0, k - 1)
        result[r] = [i for _, i in replay.items[:k]]
    return result


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The k largest (or smallest) entries along ``dim`` and their indices."""
    _check_tensor(input, "topk")
    if input._dtype is D.bool_:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    a = input._array
    d = _canonical_dim(dim, a.ndim)
    size = a.shape[d] if a.ndim else 1
    if k < 0 or k > size:
        raise RuntimeError("selected index k out of range")
    if a.ndim == 0:
        values, indices = a.copy(), np.zeros((), dtype=np.int64)
    else:
        picked = _topk_rows(_rows(a, d), k, largest, sorted)
        indices = _unrows(picked.astype(np.int64), a.shape, d)
        values = np.take_along_axis(a, indices, axis=d)
    out = wrap(values, input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(TopkBackward0, (edge(input),), values)
        node.indices, node.dim, node.keepdim, node.self_sizes = indices, d, True, a.shape
        set_history(out, node)
    return topk_result(out, wrap(indices, D.int64))


# ----- kthvalue, median, mode -----------------------------------------------------------------
class KthvalueBackward0(MaxBackward0):
    __slots__ = ()


class MedianBackward1(MaxBackward0):
    __slots__ = ()


class NanmedianBackward1(MaxBackward0):
    __slots__ = ()


class ModeBackward0(MaxBackward0):
    __slots__ = ()


class MedianBackward0(MaxBackward1):
    """Global median: the elements equal to it share the gradient evenly."""

    __slots__ = ()


class NanmedianBackward0(MaxBackward1):
    __slots__ = ()


def _selected(input: Tensor, d: int, keepdim: bool, index_rows: np.ndarray, node_cls,
              result_cls):
    """values/indices from one chosen index per row (shape (rows,)), with the node."""
    a = input._array
    if a.ndim == 0:
        values, indices = a.copy(), np.zeros((), dtype=np.int64)
    else:
        indices = _unrows(index_rows.reshape(-1, 1).astype(np.int64), a.shape, d)
        values = np.take_along_axis(a, indices, axis=d)
        if not keepdim:
            values, indices = values.squeeze(d), indices.squeeze(d)
    out = wrap(values, input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(node_cls, (edge(input),), values)
        node.indices, node.dim, node.keepdim, node.self_sizes = indices, d, keepdim, a.shape
        set_history(out, node)
    return result_cls(out, wrap(indices, D.int64))


def _reduction_dim(input: Tensor, dim: int, name: str) -> int:
    a = input._array
    d = _canonical_dim(dim, a.ndim)
    if a.ndim and a.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    return d


def _quick_select(row: list, k: int) -> int:
    """torch's own quick-select (kthvalue): the original index it leaves at position k."""
    values = list(row)
    index = list(range(len(row)))

    def greater(x, y):  # NaN counts as the largest value
        return (_isnan(x) and not _isnan(y)) or x > y

    def swap(i, j):
        values[i], values[j] = values[j], values[i]
        index[i], index[j] = index[j], index[i]

    left, right = 0, len(values) - 1
    while right > left:
        if right == left + 1:
            if greater(values[left], values[right]):
                swap(left, right)
            break
        swap(left + (right - left) // 2, left + 1)
        if greater(values[left + 1], values[right]):
            swap(left + 1, right)
        if greater(values[left], values[right]):
            swap(left, right)
        if greater(values[left + 1], values[left]):
            swap(left + 1, left)
        i, j, pivot = left + 1, right, values[left]
        while True:
            i += 1
            while greater(pivot, values[i]):
                i += 1
            j -= 1
            while greater(values[j], pivot):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(left, j)
        if j <= k:
            left = i
        if j >= k:
            right = j - 1
    return index[k]


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """The k-th smallest entry along ``dim`` (NaN counts as largest) and its index."""
    _check_tensor(input, "kthvalue")
    if input._dtype is D.bool_:
        raise NotImplementedError("\"kthvalue_cpu\" not implemented for 'Bool'")
    a = input._array
    d = _reduction_dim(input, dim, "kthvalue")
    size = a.shape[d] if a.ndim else 1
    if k < 1 or k > size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    if a.ndim == 0:
        return _selected(input, d, keepdim, np.zeros(1), KthvalueBackward0, kthvalue_result)
    rows = _rows(a, d)
    order = _stable_order(rows, False)
    chosen = order[:, k - 1].copy()
    kth = rows[np.arange(rows.shape[0]), chosen]
    same = rows == kth[:, None]
    if rows.dtype.kind == "f":
        same |= np.isnan(rows) & np.isnan(kth)[:, None]
    for r in _replayed(rows, same.sum(axis=1) > 1):
        chosen[r] = _quick_select(rows[r].tolist(), k - 1)
    return _selected(input, d, keepdim, chosen, KthvalueBackward0, kthvalue_result)


def _check_median_dtype(input: Tensor) -> None:
    if input._dtype is D.bool_:
        raise NotImplementedError("\"median_cpu\" not implemented for 'Bool'")


def _global_median(input: Tensor, ignore_nan: bool, node_cls) -> Tensor:
    _check_median_dtype(input)
    flat = input._array.reshape(-1)
    if flat.dtype.kind == "f":
        nan = np.isnan(flat)
        if ignore_nan:
            flat = flat[~nan]
        elif nan.any():
            flat = flat[nan]
    if flat.size == 0:  # NaN, or for integers what NaN converts to
        dtype = input._array.dtype
        value = np.array(np.nan if dtype.kind == "f" else np.iinfo(dtype).min, dtype=dtype)
    else:
        value = np.partition(flat, (flat.size - 1) // 2)[(flat.size - 1) // 2]
    out = wrap(np.asarray(value, dtype=input._array.dtype), input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(node_cls, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.result = SavedTensor(out, is_output=True)
        set_history(out, node)
    return out


def _median_dim(input: Tensor, dim: int, keepdim: bool, ignore_nan: bool):
    _check_median_dtype(input)
    d = _reduction_dim(input, dim, "median")  # torch's message says median() for both
    node_cls = NanmedianBackward1 if ignore_nan else MedianBackward1
    result_cls = nanmedian_result if ignore_nan else median_result
    a = input._array
    if a.ndim == 0:
        return _selected(input, d, keepdim, np.zeros(1), node_cls, result_cls)
    rows = _rows(a, d)
    if rows.size == 0:
        return _selected(input, d, keepdim, np.zeros(rows.shape[0]), node_cls, result_cls)
    # torch breaks ties by index, so the lower median is the stable sort's middle entry.
    order = _stable_order(rows, False)
    nan = np.isnan(rows) if rows.dtype.kind == "f" else np.zeros(rows.shape, dtype=bool)
    n = rows.shape[1]
    if ignore_nan:
        count = n - nan.sum(axis=1)
        position = np.maximum(count - 1, 0) // 2
        chosen = order[np.arange(rows.shape[0]), position]
        # An all-NaN slice: every entry is equivalent to nth_element, which then leaves one
        # of them first by its partitioning alone.
        for r in np.flatnonzero(count == 0):
            replay = _LibstdcxxOrder(_row_items(rows[r]), lambda x, y: False)
            replay.nth_element(0)
            chosen[r] = replay.items[0][1]
    else:
        chosen = order[:, (n - 1) // 2]
        has_nan = nan.any(axis=1)
        chosen = np.where(has_nan, np.argmax(nan, axis=1), chosen)
    return _selected(input, d, keepdim, chosen, node_cls, result_cls)


def median(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """The lower median of everything, or along ``dim`` with its index (NaN propagates)."""
    _check_tensor(input, "median")
    if dim is None:
        return _global_median(input, False, MedianBackward0)
    return _median_dim(input, dim, keepdim, False)


def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """``median`` ignoring NaN (NaN only where a slice is all NaN)."""
    _check_tensor(input, "nanmedian")
    if dim is None:
        return _global_median(input, True, NanmedianBackward0)
    return _median_dim(input, dim, keepdim, True)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """The most frequent value along ``dim`` (the smallest of equally frequent ones) and the
    index of its last occurrence in the order torch's sort leaves them."""
    _check_tensor(input, "mode")
    d = _reduction_dim(input, dim, "mode")
    a = input._array
    if a.ndim == 0:
        return _selected(input, d, keepdim, np.zeros(1), ModeBackward0, mode_result)
    rows = _rows(a, d)
    count, n = rows.shape
    if rows.size == 0:
        return _selected(input, d, keepdim, np.zeros(count), ModeBackward0, mode_result)
    order = _stable_order(rows, False)
    ranked = np.take_along_axis(rows, order, axis=1)
    starts = np.ones(ranked.shape, dtype=bool)
    starts[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    run = np.cumsum(starts, axis=1) - 1 + np.arange(count)[:, None] * n
    lengths = np.bincount(run.reshape(-1), minlength=count * n)[run]
    best = np.argmax(lengths, axis=1)  # first (smallest) value among the most frequent
    value = ranked[np.arange(count), best]
    run_end = best + lengths[np.arange(count), best] - 1
    chosen = order[np.arange(count), run_end]
    if n > 16:  # std::sort may leave a tie's last entry elsewhere: replay it
        less = lambda x, y: x[0] < y[0]  # noqa: E731 - torch's comparator for mode
        for r in _replayed(rows, lengths[np.arange(count), best] > 1):
            replay = _LibstdcxxOrder(_row_items(rows[r]), less)
            replay.sort()
            last = max(i for i, (v, _) in enumerate(replay.items) if v == value[r])
            chosen[r] = replay.items[last][1]
    return _selected(input, d, keepdim, chosen, ModeBackward0, mode_result)


# ----- scans ----------------------------------------------------------------------------------
def _scan_dtype(input: Tensor, dtype) -> D.dtype:
    if dtype is not None:
        return dtype
    return input._dtype if input._dtype.category == FLOATING else D.int64


def _scan(a: np.ndarray, dim: int, function, dtype: D.dtype) -> np.ndarray:
    """cumsum/cumprod along ``dim``, accumulating float32 in double as torch's kernel does."""
    wide = np.float64 if dtype is D.float32 else dtype.numpy
    if a.ndim == 0:
        return np.asarray(a, dtype=dtype.numpy).copy()
    return function(a, axis=dim, dtype=wide).astype(dtype.numpy, copy=False)


class _ReversedCumsumBackward(Node):
    """Backward of the private reversed cumsum (second derivatives of cumsum and cumprod)."""

    __slots__ = ("dim",)

    def backward(self, grad, xp):
        return (xp.cumsum(grad, self.dim),)


def _reversed_cumsum_op(input: Tensor, dim: int) -> Tensor:
    out = wrap(_reversed_cumsum_array(input._array, dim), input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(_ReversedCumsumBackward, (edge(input),), out._array)
        node.dim = dim
        set_history(out, node)
    return out


def _reversed_cumsum_array(a: np.ndarray, dim: int) -> np.ndarray:
    flipped = np.flip(a, dim)
    return np.flip(_scan(flipped, dim, np.cumsum, D.from_numpy_dtype(a.dtype)), dim)


def _reversed_cumsum(x, dim: int):
    """Sums from each position to the end of ``dim``: the adjoint of cumsum, in either world."""
    if isinstance(x, Tensor):
        return _reversed_cumsum_op(x, dim)
    return _reversed_cumsum_array(np.asarray(x), dim)


class CumsumBackward0(Node):
    __slots__ = ("dim", "self_sizes")

    def backward(self, grad, xp):
        shape = self.self_sizes
        if math.prod(shape) <= 1 or shape[self.dim] == 1:
            return (grad,)
        return (_reversed_cumsum(grad, self.dim),)


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running sums along ``dim`` (integers and bools sum in int64)."""
    _check_tensor(input, "cumsum")
    a = input._array
    d = _canonical_dim(dim, a.ndim)
    out_dtype = _scan_dtype(input, dtype)
    out = wrap(_scan(a, d, np.cumsum, out_dtype), out_dtype)
    if input._requires_grad and grad_state.enabled and out_dtype.category == FLOATING:
        node = new_node(CumsumBackward0, (edge(input),), out._array)
        node.dim, node.self_sizes = d, a.shape
        set_history(out, node)
    return out


class CumprodBackward0(Node):
    """Each input's gradient is the sum over later outputs of their product without it.

    Without zeros that is reversed_cumsum(grad * result) / self. A zero makes the division
    fail, so then the products of the others are built directly (an n x n construction,
    differentiable again), as torch does when it must support a second derivative.
    """

    __slots__ = ("self_", "result", "dim")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        self_ = xp.saved(self.self_)
        shape, dim = self_.shape, self.dim
        if math.prod(shape) <= 1 or shape[dim] == 1:
            return (grad,)
        if not bool((self_ == 0).any()):
            result = xp.saved_output(self.result, self)
            return (_reversed_cumsum(grad * result, dim) / self_,)
        ndim, n = len(shape), shape[dim]
        order = tuple(i for i in range(ndim) if i != dim) + (dim,)
        back = tuple(order.index(i) for i in range(ndim))
        x = xp.permute(self_, order)
        g = xp.unsqueeze(xp.permute(grad, order), -2)  # (..., 1, n): j along the last axis
        square = x.shape[:-1] + (n, n)
        others = xp.where(np.eye(n, dtype=bool), 1.0, xp.expand(xp.unsqueeze(x, -2), square))
        partial = xp.cumprod(others, -1)  # [..., k, j] = prod of x_i for i <= j, i != k
        later = np.triu(np.ones((n, n), dtype=bool))  # j >= k
        total = xp.sum(xp.where(later, partial * g, 0.0), (ndim,))
        return (xp.permute(total, back),)


def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running products along ``dim`` (integers and bools multiply in int64)."""
    _check_tensor(input, "cumprod")
    a = input._array
    d = _canonical_dim(dim, a.ndim)
    out_dtype = _scan_dtype(input, dtype)
    out = wrap(_scan(a, d, np.cumprod, out_dtype), out_dtype)
    if input._requires_grad and grad_state.enabled and out_dtype.category == FLOATING:
        node = new_node(CumprodBackward0, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.result = SavedTensor(out, is_output=True)
        node.dim = d
        set_history(out, node)
    return out


class CummaxBackward0(Node):
    """Each running extreme's gradient goes to (is summed at) the index it came from."""

    __slots__ = ("indices", "dim", "self_sizes")
    _saved_fields = ("indices",)

    def backward(self, grad, xp):
        shape = self.self_sizes
        if not shape:
            return (grad,)
        key = list(np.indices(shape, sparse=True))
        key[self.dim] = self.indices
        return (xp.put_at(shape, tuple(key), grad, grad),)


class CumminBackward0(CummaxBackward0):
    __slots__ = ()


def _cumulative_extreme(input: Tensor, dim: int, is_max: bool):
    _check_tensor(input, "cummax" if is_max else "cummin")
    a = input._array
    d = _canonical_dim(dim, a.ndim)
    if a.ndim == 0 or a.size == 0:
        values, indices = a.copy(), np.zeros(a.shape, dtype=np.int64)
    else:
        rows = _rows(a, d)
        values = (np.maximum if is_max else np.minimum).accumulate(rows, axis=1)
        # torch moves the index on ties too (>= / <=) and to every NaN; after a NaN only
        # another NaN moves it.
        update = rows == values
        if rows.dtype.kind == "f":
            nan = np.isnan(rows)
            update = (update & (np.cumsum(nan, axis=1) == 0)) | nan
        positions = np.where(update, np.arange(rows.shape[1]), 0)
        indices = _unrows(np.maximum.accumulate(positions, axis=1).astype(np.int64),
                          a.shape, d)
        values = _unrows(values, a.shape, d)
    out = wrap(_contiguous(values), input._dtype)
    if input._requires_grad and grad_state.enabled:
        node_cls = CummaxBackward0 if is_max else CumminBackward0
        node = new_node(node_cls, (edge(input),), out._array)
        node.indices, node.dim, node.self_sizes = indices, d, a.shape
        set_history(out, node)
    result_cls = cummax_result if is_max else cummin_result
    return result_cls(out, wrap(_contiguous(indices), D.int64))


def cummax(input: Tensor, dim: int):
    """Running maximum along ``dim`` and the index each value came from."""
    return _cumulative_extreme(input, dim, True)


def cummin(input: Tensor, dim: int):
    """Running minimum along ``dim`` and the index each value came from."""
    return _cumulative_extreme(input, dim, False)


def cumsum_(self: Tensor, dim: int, *, dtype=None) -> Tensor:
    """In-place cumsum: the running sums in ``self``'s own dtype."""
    return apply_inplace(self, cumsum, dim, dtype=dtype or self._dtype)


def cumprod_(self: Tensor, dim: int, *, dtype=None) -> Tensor:
    """In-place cumprod: the running products in ``self``'s own dtype."""
    return apply_inplace(self, cumprod, dim, dtype=dtype or self._dtype)


# ----- unique ---------------------------------------------------------------------------------
class _NoDerivative(Node):
    """Outputs torch records but cannot differentiate: reaching the node is an error."""

    __slots__ = ()
    op = ""

    def backward(self, grad, xp):
        raise NotImplementedError(f"the derivative for '{self.op}' is not implemented.")


class Unique2Backward0(_NoDerivative):
    __slots__ = ()
    op = "_unique2"


class UniqueDimBackward0(_NoDerivative):
    __slots__ = ()
    op = "unique_dim"


class UniqueConsecutiveBackward0(_NoDerivative):
    __slots__ = ()
    op = "unique_consecutive"


def _unique_outputs(input: Tensor, values: np.ndarray, inverse, counts, node_cls,
                    return_inverse: bool, return_counts: bool):
    out = wrap(_contiguous(values), input._dtype)
    if input._requires_grad and grad_state.enabled:
        set_history(out, new_node(node_cls, (edge(input),), out._array))
    if not return_inverse and not return_counts:
        return out
    result = [out]
    if return_inverse:
        result.append(wrap(np.asarray(inverse, dtype=np.int64), D.int64))
    if return_counts:
        result.append(wrap(np.asarray(counts, dtype=np.int64), D.int64))
    return tuple(result)


def _slices(a: np.ndarray, d: int) -> np.ndarray:
    """The slices of ``a`` along ``d``, one per row."""
    moved = np.moveaxis(a, d, 0)
    return moved.reshape(a.shape[d], math.prod(moved.shape[1:]))


def _unique_dim(a: np.ndarray, dim: int) -> int:
    """The canonical ``dim`` for unique along slices, with torch's checks (in its order)."""
    if a.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = _canonical_dim(dim, a.ndim)
    if a.size == 0:
        if a.shape[d] != 0:
            raise RuntimeError(
                "There are 0 sized dimensions, and they aren't selected, so unique cannot be "
                "applied"
            )
        if sum(s == 0 for s in a.shape) > 1:
            raise RuntimeError(
                "Number of zero sized dimensions is more than one, so unique cannot be applied "
            )
    return d


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None):
    """The distinct values (sorted; NaNs stay distinct), or distinct slices along ``dim``."""
    _check_tensor(input, "unique")
    a = input._array
    if dim is None:
        flat = a.reshape(-1)
        # torch sorts with its (unstable) sort, which decides where each NaN goes (equal
        # numbers share one output, so only NaNs need that order)
        nans = np.isnan(flat).sum() if flat.dtype.kind == "f" else 0
        order = _sort_order(flat.reshape(1, -1), False, nans < 2)[0]
        ranked = flat[order]
        starts = np.ones(ranked.shape, dtype=bool)
        starts[1:] = ranked[1:] != ranked[:-1]  # NaN != NaN: each NaN is its own value
        group = np.cumsum(starts) - 1
        inverse = np.empty(flat.shape, dtype=np.int64)
        inverse[order] = group
        counts = np.diff(np.append(np.flatnonzero(starts), flat.size))
        return _unique_outputs(input, ranked[starts], inverse.reshape(a.shape), counts,
                               Unique2Backward0, return_inverse, return_counts)
    d = _unique_dim(a, dim)
    if a.shape[d] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _unique_outputs(input, a.copy(), empty, empty, UniqueDimBackward0,
                               return_inverse, return_counts)
    slices = _slices(a, d)
    _, first, inverse, counts = np.unique(slices, axis=0, return_index=True,
                                          return_inverse=True, return_counts=True)
    values = np.take(a, first, axis=d)
    return _unique_outputs(input, values, inverse.reshape(-1), counts, UniqueDimBackward0,
                           return_inverse, return_counts)


def unique_consecutive(input: Tensor, return_inverse: bool = False,
                       return_counts: bool = False, dim: int | None = None):
    """Collapse runs of equal consecutive values (or slices along ``dim``) to one."""
    _check_tensor(input, "unique_consecutive")
    a = input._array
    if dim is None:
        flat = a.reshape(-1)
        starts = np.ones(flat.shape, dtype=bool)
        starts[1:] = flat[1:] != flat[:-1]
        values = flat[starts]
        inverse_shape = a.shape
    else:
        d = _unique_dim(a, dim)
        slices = _slices(a, d)
        starts = np.ones(slices.shape[0], dtype=bool)
        starts[1:] = (slices[1:] != slices[:-1]).any(axis=1)
        values = np.compress(starts, a, axis=d)
        inverse_shape = (slices.shape[0],)
    inverse = (np.cumsum(starts) - 1).reshape(inverse_shape)
    counts = np.diff(np.append(np.flatnonzero(starts), starts.size))
    return _unique_outputs(input, values, inverse, counts, UniqueConsecutiveBackward0,
                           return_inverse, return_counts)


# ----- counting and bucketing -----------------------------------------------------------------
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """How often each non-negative integer occurs (or the sum of its ``weights``)."""
    _check_tensor(input, "bincount")
    a = input._array
    if input._dtype.category != D.INTEGER:
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{_type_name(input)}'")
    if a.ndim != 1 or (a.size and a.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is None:
        return wrap(np.bincount(a, minlength=minlength).astype(np.int64), D.int64)
    w = weights._array
    if w.ndim != 1 or w.shape[0] != a.shape[0]:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    if a.size == 0:  # torch answers an empty input with int64 zeros, weights or not
        return wrap(np.zeros(minlength, dtype=np.int64), D.int64)
    out_dtype = weights._dtype if weights._dtype.category == FLOATING else D.float64
    counts = np.bincount(a, weights=w.astype(np.float64), minlength=minlength)
    out = wrap(counts.astype(out_dtype.numpy), out_dtype)
    if weights._requires_grad and grad_state.enabled:
        from ember.ops.elementwise import _not_implemented

        _not_implemented(out, "bincount", (NO_EDGE, edge(weights)))
    return out


def _type_name(t: Tensor) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}[t._dtype.name]


def _format_edge(value: float) -> str:
    """A double as C++'s stream prints it."""
    if math.isnan(value):
        return "-nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:g}"


def histc(input: Tensor, bins: int = 100, min=0, max=0) -> Tensor:  # noqa: A002 - torch's names
    """Histogram of ``bins`` equal bins over [min, max] (the data's range when both are equal);
    values outside are ignored, the last bin includes its right edge."""
    _check_tensor(input, "histc")
    a = input._array
    if input._dtype.category != FLOATING:
        raise NotImplementedError(
            f"\"histogram_cpu\" not implemented for '{_type_name(input)}'"
        )
    low, high = float(min), float(max)
    if low == high and a.size:
        low, high = float(np.min(a)), float(np.max(a))
    if low == high:
        low, high = low - 1, high + 1
    if not (math.isfinite(low) and math.isfinite(high)):
        raise RuntimeError(
            f"torch.histc: range of [{_format_edge(low)}, {_format_edge(high)}] is not finite"
        )
    if not low < high:
        raise RuntimeError("torch.histc: max must be larger than min")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    dtype = a.dtype.type
    left, right = dtype(low), dtype(high)
    flat = a.reshape(-1)
    inside = flat[(flat >= left) & (flat <= right)]
    with np.errstate(all="ignore"):
        position = ((inside - left) * dtype(bins) / (right - left)).astype(np.int64)
    position[position == bins] = bins - 1
    counts = np.bincount(position, minlength=bins)[:bins]
    return wrap(counts.astype(a.dtype), input._dtype)


def _search(boundaries: np.ndarray, values: np.ndarray, right: bool) -> np.ndarray:
    """Insertion points of ``values`` in the sorted last axis of ``boundaries``.

    The binary search torch runs, for all values at once: a step moves right unless the
    middle boundary is >= the value (> for ``right``); NaN compares false, so NaN values go
    to the end and NaN boundaries count as smaller.
    """
    n = boundaries.shape[-1]
    start = np.zeros(values.shape, dtype=np.int64)
    end = np.full(values.shape, n, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        while True:
            active = start < end
            if not active.any():
                return start
            mid = (start + end) >> 1
            probe = np.minimum(mid, n - 1)
            if boundaries.ndim == 1:
                middle = boundaries[probe]
            else:
                middle = np.take_along_axis(boundaries, probe, axis=-1)
            go_right = ~(middle > values) if right else ~(middle >= values)
            start = np.where(active & go_right, mid + 1, start)
            end = np.where(active & ~go_right, mid, end)


def _side(side, right: bool) -> bool:
    if side is None:
        return right
    if side not in ("left", "right"):
        raise RuntimeError(
            f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}"
        )
    if side == "left" and right:
        raise RuntimeError(
            "torch.searchsorted(): side and right can't be set to opposites, got side of left "
            "while right was True"
        )
    return side == "right"


def _values_array(values, boundaries: Tensor):
    if isinstance(values, Tensor):
        return values._array, False
    return np.asarray(values), True


def searchsorted(sorted_sequence: Tensor, input, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None, sorter=None) -> Tensor:
    """Where ``input``'s values would go in the sorted last dimension of ``sorted_sequence``."""
    right = _side(side, right)
    seq = sorted_sequence._array
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter._array, axis=-1)
    values, scalar = _values_array(input, sorted_sequence)
    if seq.ndim == 0:
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 "
            "dimension"
        )
    if seq.ndim > 1 and (scalar or seq.shape[:-1] != values.shape[:-1]):
        b_shape = ", ".join(str(s) for s in seq.shape)
        v_shape = ", ".join(str(s) for s in values.shape)
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
            "dimensions of boundaries tensor and input value tensor must match, but we got "
            f"boundaries tensor [{b_shape}] and input value tensor [{v_shape}]"
        )
    found = _search(seq, values, right)
    dtype = D.int32 if out_int32 else D.int64
    return wrap(np.asarray(found, dtype=dtype.numpy), dtype)


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False,
              right: bool = False) -> Tensor:
    """The bucket of each value among the 1-D sorted ``boundaries`` (``right``: which side of
    a boundary equal values go)."""
    if boundaries._array.ndim != 1:
        raise RuntimeError(
            f"boundaries tensor must be 1 dimension, but got dim({boundaries._array.ndim})"
        )
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


# The names ``ember`` exports from this family, and the Tensor methods it adds.
__all__ = [
    "argsort", "bincount", "bucketize", "cummax", "cummin", "cumprod", "cumsum", "histc",
    "kthvalue", "median", "mode", "msort", "nanmedian", "searchsorted", "sort", "topk",
    "unique", "unique_consecutive",
]
TENSOR_METHODS: dict = {
    "argsort": argsort, "bincount": bincount, "cummax": cummax, "cummin": cummin,
    "cumprod": cumprod, "cumsum": cumsum, "cumprod_": cumprod_, "cumsum_": cumsum_,
    "histc": histc, "kthvalue": kthvalue,
    "median": median, "mode": mode, "msort": msort, "nanmedian": nanmedian, "sort": sort,
    "topk": topk, "unique": unique, "unique_consecutive": unique_consecutive,
}
