"""Shape ops and views: reshape/view, squeeze/unsqueeze, transpose/permute, expand, cat/stack.

A view shares its parent's array (NumPy does that for free) and version counter, and records
``(parent, step)`` in ``_view_of``. A step is one of six replayable operations (index,
reshape, permute, expand, diagonal, unfold) so that an in-place change of a view can rewrite its
base's history as torch does (``CopySlices``): the same steps pick the view's region out of the
base's gradient.
"""

from __future__ import annotations

import math
import warnings
import weakref

import numpy as np

from ember import _dtype as D
from ember._tensor import Size, _canonical_dim
from ember.ops._core import (
    Node,
    Tensor,
    edge,
    grad_state,
    new_node,
    set_history,
    wrap,
)

# ----- view steps -----------------------------------------------------------------------------
INDEX, RESHAPE, PERMUTE, EXPAND, DIAGONAL = "index", "reshape", "permute", "expand", "diagonal"
UNFOLD = "unfold"


def view_key(key: tuple) -> tuple:
    """``key`` ending in ``...``: NumPy then gives a 0-d view, never a detached scalar."""
    return key if any(k is Ellipsis for k in key) else key + (Ellipsis,)


def apply_view_step(x, step, xp):
    kind, arg = step
    if kind is INDEX:
        return x[view_key(arg)]
    if kind is RESHAPE:
        return xp.reshape(x, arg)
    if kind is PERMUTE:
        return xp.permute(x, arg)
    if kind is DIAGONAL:
        if isinstance(x, np.ndarray):
            return diagonal_array(x, *arg)
        from ember.ops.selection import diagonal

        return diagonal(x, *arg)
    if kind is UNFOLD:
        return unfold_array(x, *arg) if isinstance(x, np.ndarray) else unfold(x, *arg)
    return xp.expand(x, arg)


def diagonal_array(a: np.ndarray, offset: int, dim1: int, dim2: int) -> np.ndarray:
    """A writable view of ``a``'s diagonal (``np.diagonal`` gives a read-only one), so that
    in-place changes through it reach ``a``, as with any other view."""
    diag = np.diagonal(a, offset, dim1, dim2)
    if diag.size == 0:
        return np.zeros(diag.shape, a.dtype)
    start = [slice(None)] * a.ndim
    start[dim2 if offset >= 0 else dim1] = slice(abs(offset), None)
    return np.lib.stride_tricks.as_strided(a[tuple(start)], diag.shape, diag.strides,
                                           writeable=a.flags.writeable)


def make_view(input: Tensor, array: np.ndarray, step, node_cls=None) -> Tensor:
    """A tensor viewing ``input``'s memory, with ``node_cls`` as history when recording."""
    out = wrap(array, input._dtype)
    out._version_counter = input._version_counter
    out._view_of = (input, step)
    if _relayouts and id(input) in _relayouts:
        _remember(_view_epochs, out, len(_relayouts[id(input)]))
    if node_cls is not None and input._requires_grad and grad_state.enabled:
        set_history(out, new_node(node_cls, (edge(input),), array))
    return out


# A base tensor changed by an in-place view op (``t_``, ``unsqueeze_``...) has a new layout,
# while its existing views' steps start from the old one. Such bases keep the steps back to
# each earlier layout (by id: a dict keyed by tensors would compare them with ``==``), and
# their views the number of layout changes before them; ``view_chain`` prepends the way back.
_relayouts: dict = {}  # id(base) -> [step undoing layout change 1, 2, ...]
_view_epochs: dict = {}  # id(view of such a base) -> layout changes its base had before it


def _remember(table: dict, t: Tensor, value) -> None:
    if id(t) not in table:
        weakref.finalize(t, table.pop, id(t), None)
    table[id(t)] = value


def view_chain(t: Tensor):
    """The root base of view ``t`` and the steps leading from it to ``t``."""
    steps = []
    child = None
    while t._view_of is not None:
        child = t
        t, step = t._view_of
        steps.append(step)
    if child is not None and _relayouts:
        undo = _relayouts.get(id(t), ())[_view_epochs.get(id(child), 0):]
        steps.extend(undo)  # reversed below: the latest change is undone first
    steps.reverse()
    return t, steps


class CopySlices(Node):
    """The base's history after an in-place op on one of its views.

    ``fn`` is the in-place op's own node; the region the view covers gets ``fn``'s gradient
    for its input, the rest of the base passes the gradient through unchanged.
    """

    __slots__ = ("fn", "steps")

    def name(self) -> str:
        return "torch::autograd::CopySlices"

    def backward(self, grad, xp):
        result = xp.clone(grad)
        region = _region(result, self.steps, xp)
        fn_grads = self.fn.backward(xp.clone(region), xp)
        if fn_grads[0] is not None and self.fn.needs_input_grad(0):
            region[...] = fn_grads[0]
        else:
            region[...] = 0
        return (result, *fn_grads[1:])

    def release_saved(self) -> None:
        # torch drops ``fn`` itself, so a second backward always fails here
        self.fn.release_saved()
        self._released = True


def _region(x, steps, xp):
    for step in steps:
        x = apply_view_step(x, step, xp)
    return x


class AsStridedBackward0(Node):
    """A view whose base was changed in place: its gradient goes into its region of the base."""

    __slots__ = ("steps", "base_sizes")

    def backward(self, grad, xp):
        base_grad = xp.zeros(self.base_sizes, grad)
        _region(base_grad, self.steps, xp)[...] = grad
        return (base_grad,)


def rebase_view_history(view: Tensor, node: Node, result: Tensor) -> None:
    """``view`` was changed in place by the op ``node``: rewrite its base's history."""
    base, steps = view_chain(view)
    copy_slices = new_node(CopySlices, (edge(base),) + node.next_functions[1:], base._array)
    copy_slices.fn = node
    copy_slices.steps = steps
    set_history(base, copy_slices)
    view_node = new_node(AsStridedBackward0, ((copy_slices, 0),), view._array)
    view_node.steps, view_node.base_sizes = steps, base._array.shape
    set_history(view, view_node)


# ----- reshape / view -------------------------------------------------------------------------
def shape_args(args) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(torch.Size([2, 3]))``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    return tuple(int(a) for a in args)


def infer_shape(shape: tuple, numel: int) -> tuple:
    """Resolve one ``-1`` in ``shape``; torch's error if the sizes do not fit ``numel``."""
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            if known == 0 and numel == 0:
                raise RuntimeError(
                    f"cannot reshape tensor of 0 elements into shape {list(shape)} because the "
                    "unspecified dimension size -1 can be any value and is ambiguous"
                )
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        return tuple(numel // known if s == -1 else s for s in shape)
    if known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


class ViewBackward0(Node):
    __slots__ = ("self_sizes",)

    def backward(self, grad, xp):
        return (xp.reshape(grad, self.self_sizes),)


class UnsafeViewBackward0(ViewBackward0):
    __slots__ = ()


class ReshapeAliasBackward0(ViewBackward0):
    """reshape of a non-contiguous tensor that can still be viewed (torch's _reshape_alias)."""

    __slots__ = ()


def view(input: Tensor, *shape) -> Tensor:
    if len(shape) == 1 and isinstance(shape[0], D.dtype):
        raise RuntimeError("ember does not support reinterpreting a tensor as another dtype")
    shape = infer_shape(shape_args(shape), input._array.size)
    try:
        array = np.reshape(input._array, shape, copy=False)
    except ValueError:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
        ) from None
    return _reshaped_view(input, array, shape, ViewBackward0)


def _reshaped_view(input: Tensor, array, shape, node_cls) -> Tensor:
    out = make_view(input, array, (RESHAPE, shape))
    if input._requires_grad and grad_state.enabled:
        node = new_node(node_cls, (edge(input),), array)
        node.self_sizes = input._array.shape
        set_history(out, node)
    return out


def reshape(input: Tensor, *shape) -> Tensor:
    """A view when the memory layout allows it, otherwise a copy (as torch)."""
    shape = infer_shape(shape_args(shape), input._array.size)
    try:
        array = np.reshape(input._array, shape, copy=False)
    except ValueError:
        from ember.ops.elementwise import clone

        copied = clone(input)
        array = copied._array.reshape(shape)
        out = wrap(array, input._dtype)
        if copied._requires_grad:
            node = new_node(UnsafeViewBackward0, (edge(copied),), array)
            node.self_sizes = input._array.shape
            set_history(out, node)
        return out
    node_cls = ViewBackward0 if input._array.flags.c_contiguous else ReshapeAliasBackward0
    return _reshaped_view(input, array, shape, node_cls)


def view_as(input: Tensor, other: Tensor) -> Tensor:
    return view(input, other._array.shape)


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    return reshape(input, other._array.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    shape = input._array.shape
    if not shape:
        return reshape(input, (1,))
    start = _canonical_dim(start_dim, len(shape))
    end = _canonical_dim(end_dim, len(shape))
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return input
    merged = math.prod(shape[start:end + 1])
    return reshape(input, shape[:start] + (merged,) + shape[end + 1:])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    shape = input._array.shape
    d = _canonical_dim(dim, len(shape))
    sizes = tuple(int(s) for s in sizes)
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1 or (-1 in sizes and known == 0 and shape[d] == 0):
        try:
            infer_shape(sizes, shape[d])
        except RuntimeError as e:
            raise RuntimeError(f"unflatten got an unexpected error:\n{e}") from None
    if (-1 in sizes and (known == 0 or shape[d] % known)) or (
        -1 not in sizes and known != shape[d]
    ):
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {d} "
            f"({shape[d]}) in the input tensor"
        )
    sizes = infer_shape(sizes, shape[d])
    return view(input, shape[:d] + sizes + shape[d + 1:])


class SqueezeBackward0(ViewBackward0):
    __slots__ = ()


class SqueezeBackward1(ViewBackward0):
    __slots__ = ()


class SqueezeBackward2(ViewBackward0):
    __slots__ = ()


class SqueezeBackward4(ViewBackward0):
    __slots__ = ()


class UnsqueezeBackward0(ViewBackward0):
    __slots__ = ()


def squeeze(input: Tensor, dim=None) -> Tensor:
    shape = input._array.shape
    if dim is None:
        new_shape, node_cls = tuple(s for s in shape if s != 1), SqueezeBackward0
    else:
        dims = [_canonical_dim(d, len(shape)) for d in ((dim,) if isinstance(dim, int) else dim)]
        for i, d in enumerate(dims):
            if d in dims[:i]:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        new_shape = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
        node_cls = SqueezeBackward1 if isinstance(dim, int) else SqueezeBackward2
    return _reshaped_view(input, input._array.reshape(new_shape), new_shape, node_cls)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    shape = input._array.shape
    d = _canonical_dim(dim, len(shape) + 1)
    new_shape = shape[:d] + (1,) + shape[d:]
    return _reshaped_view(input, input._array.reshape(new_shape), new_shape, UnsqueezeBackward0)


# ----- transpose / permute / expand -----------------------------------------------------------
class PermuteBackward0(Node):
    __slots__ = ("dims",)

    def backward(self, grad, xp):
        return (xp.permute(grad, tuple(np.argsort(self.dims))),)


class TransposeBackward0(PermuteBackward0):
    __slots__ = ()


class TBackward0(PermuteBackward0):
    __slots__ = ()

    def backward(self, grad, xp):  # t() reverses the dimensions: its own inverse
        if grad.__class__ is np.ndarray:
            return (grad.transpose(self.dims),)
        return (xp.permute(grad, self.dims),)


def _permuted(input: Tensor, dims: tuple, node_cls) -> Tensor:
    array = input._array.transpose(dims)
    out = make_view(input, array, (PERMUTE, dims))
    if input._requires_grad and grad_state.enabled:
        node = new_node(node_cls, (edge(input),), array)
        node.dims = dims
        set_history(out, node)
    return out


def permute(input: Tensor, *dims) -> Tensor:
    dims = shape_args(dims)
    ndim = input._array.ndim
    if len(dims) != ndim:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {ndim} is not "
            f"equal to len(dims) = {len(dims)}"
        )
    dims = tuple(_canonical_dim(d, ndim) for d in dims)
    if len(set(dims)) != ndim:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return _permuted(input, dims, PermuteBackward0)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    ndim = input._array.ndim
    order = list(range(ndim))
    if ndim:
        d0, d1 = _canonical_dim(dim0, ndim), _canonical_dim(dim1, ndim)
        order[d0], order[d1] = order[d1], order[d0]
    else:
        _canonical_dim(dim0, 0), _canonical_dim(dim1, 0)
    return _permuted(input, tuple(order), TransposeBackward0)


swapdims = transpose


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    return transpose(input, axis0, axis1)


def t(input: Tensor) -> Tensor:
    ndim = input._array.ndim
    if ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {ndim}D")
    return _permuted(input, tuple(reversed(range(ndim))), TBackward0)


def T(input: Tensor) -> Tensor:
    ndim = input._array.ndim
    if ndim == 0:
        warnings.warn("Tensor.T is deprecated on 0-D tensors. This function is the identity in "
                      "these cases.", UserWarning, stacklevel=2)
    elif ndim != 2:
        warnings.warn(
            "The use of `x.T` on tensors of dimension other than 2 to reverse their shape is "
            "deprecated and it will throw an error in a future release. Consider `x.mT` to "
            "transpose batches of matrices or `x.permute(*torch.arange(x.ndim - 1, -1, -1))` to "
            "reverse the dimensions of a tensor.", UserWarning, stacklevel=2)
    return _permuted(input, tuple(reversed(range(ndim))), PermuteBackward0)


def mT(input: Tensor) -> Tensor:
    return transpose(input, -2, -1)


class ExpandBackward0(Node):
    """The engine sums the gradient back over the expanded dimensions."""

    __slots__ = ()

    def backward(self, grad, xp):
        return (grad,)


def expand(input: Tensor, *sizes) -> Tensor:
    sizes = shape_args(sizes)
    shape = input._array.shape
    if len(sizes) < len(shape):
        raise RuntimeError(
            f"expand({_type_str(input)}{{{list(shape)}}}, size={list(sizes)}): the number of "
            "sizes provided "
            f"({len(sizes)}) must be greater or equal to the number of dimensions in the tensor "
            f"({len(shape)})"
        )
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        own = shape[i - lead] if i >= lead else None
        if s == -1:
            if own is None:
                raise RuntimeError(
                    f"The expanded size of the tensor (-1) isn't allowed in a leading, "
                    f"non-existing dimension {i}"
                )
            s = own
        elif own is not None and own != s and own != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({own}) at "
                f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                f"{list(shape)}"
            )
        target.append(s)
    target = tuple(target)
    array = np.broadcast_to(input._array, target)
    return make_view(input, array, (EXPAND, target), ExpandBackward0)


def _type_str(input: Tensor) -> str:
    return "torch." + input._dtype._legacy_name


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other._array.shape)


def broadcast_to(input: Tensor, shape) -> Tensor:
    return expand(input, tuple(shape))


# ----- cat / stack ----------------------------------------------------------------------------
class CatBackward0(Node):
    """Each input gets its slice of the gradient along ``dim``."""

    __slots__ = ("dim", "sizes")

    def backward(self, grad, xp):
        grads, start = [], 0
        lead = (slice(None),) * self.dim
        for size in self.sizes:
            if size is None:  # a legacy empty 1-D input, skipped by cat: an empty gradient
                grads.append(xp.zeros((0,), grad))
                continue
            grads.append(grad[lead + (slice(start, start + size),)])
            start += size
        return tuple(grads)


def cat(tensors, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(
                f"expected Tensor as element {i} in argument 0, but got {type(x).__name__}"
            )
    # torch skips 1-D empty tensors when concatenating (legacy behaviour)
    used = [x for x in tensors if not (x._array.ndim == 1 and x._array.size == 0)]
    # every input takes part in the type promotion, even the skipped ones
    dtype = D.result_type(*tensors) if len({x._dtype for x in tensors}) > 1 else tensors[0]._dtype
    if not used:
        out = wrap(np.zeros((0,), dtype=dtype.numpy), dtype)
        if grad_state.enabled and any(x._requires_grad for x in tensors):
            node = new_node(CatBackward0, tuple(edge(x) for x in tensors), out._array)
            node.dim, node.sizes = 0, [None] * len(tensors)
            set_history(out, node)
        return out
    ndim = used[0]._array.ndim
    if ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = _canonical_dim(dim, ndim)
    ref = used[0]._array.shape
    for i, x in enumerate(used):
        s = x._array.shape
        if len(s) != ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {ndim} and {len(s)}"
            )
        for k in range(ndim):
            if k != d and s[k] != ref[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref[k]} but got size {s[k]} for tensor number {i} in the list."
                )
    array = np.concatenate([x._array.astype(dtype.numpy, copy=False) for x in used], axis=d)
    out = wrap(array, dtype)
    if grad_state.enabled and any(x._requires_grad for x in tensors):
        node = new_node(CatBackward0, tuple(edge(x) for x in tensors), array)
        node.dim = d
        node.sizes = [None if (x._array.ndim == 1 and x._array.size == 0) else x._array.shape[d]
                      for x in tensors]
        set_history(out, node)
    return out


concat = concatenate = cat


class StackBackward0(Node):
    __slots__ = ("dim", "count")

    def backward(self, grad, xp):
        lead = (slice(None),) * self.dim
        return tuple(grad[lead + (i,)] for i in range(self.count))


def stack(tensors, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0]._array.shape
    for i, x in enumerate(tensors):
        if x._array.shape != shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 "
                f"and {list(x._array.shape)} at entry {i}"
            )
    d = _canonical_dim(dim, len(shape) + 1)
    dtype = D.result_type(*tensors) if len({x._dtype for x in tensors}) > 1 else tensors[0]._dtype
    array = np.stack([x._array.astype(dtype.numpy, copy=False) for x in tensors], axis=d)
    out = wrap(array, dtype)
    if grad_state.enabled and any(x._requires_grad for x in tensors):
        node = new_node(StackBackward0, tuple(edge(x) for x in tensors), array)
        node.dim, node.count = d, len(tensors)
        set_history(out, node)
    return out


def size_of(input: Tensor) -> Size:
    return Size(input._array.shape)


# ----- ravel, sum_to_size ---------------------------------------------------------------------
def ravel(input: Tensor) -> Tensor:
    """A flat view of ``input``, copying first when it is not contiguous (as torch)."""
    if not isinstance(input, Tensor):
        raise TypeError(
            f"ravel(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not input._array.flags.c_contiguous:
        from ember.ops.elementwise import clone

        input = clone(input)
    return view(input, -1)


def sum_to_size(input: Tensor, *size) -> Tensor:
    """``input`` summed down to ``size``, the reverse of expanding ``size`` to input's shape."""
    if not size:
        raise TypeError('sum_to_size() missing 1 required positional arguments: "size"')
    target = shape_args(size)
    shape = input._array.shape
    lead = len(shape) - len(target)
    if lead < 0 or any(s != 1 and s != shape[lead + i] for i, s in enumerate(target)):
        raise RuntimeError(f"size {{{list(target)}}} is not expandable to size {{{list(shape)}}}.")
    from ember.ops.reduction import sum as sum_

    if not target:  # a full sum, even of a 0-dim tensor (torch records SumBackward0)
        return sum_(input)
    if target == shape:
        return input
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(target) if s == 1 and shape[lead + i] != 1)
    out = sum_(input, dims, keepdim=True) if dims else input
    return view(out, target) if lead else out


# ----- in-place views -------------------------------------------------------------------------
class TBackward1(TBackward0):
    """``t_()``."""

    __slots__ = ()


class TransposeBackward1(PermuteBackward0):
    """``transpose_()``, ``swapdims_()``, ``swapaxes_()``."""

    __slots__ = ()


class SqueezeBackward3(ViewBackward0):
    """``squeeze_()`` of every size-1 dimension."""

    __slots__ = ()


class SqueezeBackward5(ViewBackward0):
    """``squeeze_(dims)`` with a tuple of dimensions (one int: SqueezeBackward4)."""

    __slots__ = ()


class UnsqueezeBackward1(ViewBackward0):
    __slots__ = ()


def _restride(self: Tensor, array: np.ndarray, step, node_cls, **fields) -> Tensor:
    """Give ``self`` the new shape and strides ``array`` has (same memory), in place.

    Its history gains ``node_cls``. A view keeps its base: its old self becomes an
    intermediate of its view chain, so an in-place change can still find its region.
    """
    from ember.ops._core import check_inplace

    check_inplace(self)
    node = None
    if self._requires_grad and grad_state.enabled:
        node = new_node(node_cls, (edge(self),), array)
        for name, value in fields.items():
            setattr(node, name, value)
    if self._view_of is not None:
        before = wrap(self._array, self._dtype)
        before._version_counter = self._version_counter
        before._view_of = self._view_of
        self._view_of = (before, step)
    else:  # a base: its views so far can find their way back to the old layout
        undo = _undo_step(step, self._array.shape)
        _remember(_relayouts, self, _relayouts.get(id(self), []) + [undo])
    self._array = array
    self._version_counter[0] += 1
    if node is not None:
        set_history(self, node)
    return self


def _undo_step(step, old_shape: tuple):
    kind, arg = step
    if kind is PERMUTE:
        return (PERMUTE, tuple(int(i) for i in np.argsort(arg)))
    return (RESHAPE, old_shape)


def t_(self: Tensor) -> Tensor:
    ndim = self._array.ndim
    if ndim > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is {ndim}D")
    dims = tuple(reversed(range(ndim)))
    return _restride(self, self._array.transpose(dims), (PERMUTE, dims), TBackward1, dims=dims)


def transpose_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    ndim = self._array.ndim
    order = list(range(ndim))
    if ndim:
        d0, d1 = _canonical_dim(dim0, ndim), _canonical_dim(dim1, ndim)
        order[d0], order[d1] = order[d1], order[d0]
    else:
        _canonical_dim(dim0, 0), _canonical_dim(dim1, 0)
    dims = tuple(order)
    return _restride(self, self._array.transpose(dims), (PERMUTE, dims), TransposeBackward1,
                     dims=dims)


def _reshaped_in_place(self: Tensor, new_shape: tuple, node_cls) -> Tensor:
    return _restride(self, self._array.reshape(new_shape), (RESHAPE, new_shape), node_cls,
                     self_sizes=self._array.shape)


def squeeze_(self: Tensor, dim=None) -> Tensor:
    shape = self._array.shape
    if dim is None:
        return _reshaped_in_place(self, tuple(s for s in shape if s != 1), SqueezeBackward3)
    dims = [_canonical_dim(d, len(shape)) for d in ((dim,) if isinstance(dim, int) else dim)]
    for i, d in enumerate(dims):
        if d in dims[:i]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    new_shape = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return _reshaped_in_place(self, new_shape,
                              SqueezeBackward4 if isinstance(dim, int) else SqueezeBackward5)


def unsqueeze_(self: Tensor, dim: int) -> Tensor:
    shape = self._array.shape
    d = _canonical_dim(dim, len(shape) + 1)
    return _reshaped_in_place(self, shape[:d] + (1,) + shape[d:], UnsqueezeBackward1)


# ----- unfold ---------------------------------------------------------------------------------
def unfold_array(a: np.ndarray, dim: int, size: int, step: int) -> np.ndarray:
    """The windows view: dimension ``dim`` becomes the window count, a new last one the window
    (NumPy's strides, no copy; writable when ``a`` is)."""
    if a.ndim == 0:
        return a.reshape((1,))[:size]
    n = a.shape[dim]
    count = (n - size) // step + 1
    shape = a.shape[:dim] + (count,) + a.shape[dim + 1:] + (size,)
    strides = a.strides[:dim] + (a.strides[dim] * step,) + a.strides[dim + 1:] + (a.strides[dim],)
    return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=a.flags.writeable)


class UnfoldBackward0(Node):
    """Each window's gradient goes back to the elements it covers (summed where they
    overlap): one strided slice per position inside the window."""

    __slots__ = ("self_sizes", "dim", "size", "step")

    def backward(self, grad, xp):
        shape, dim, size, step = self.self_sizes, self.dim, self.size, self.step
        if not shape:
            return (xp.reshape(grad, ()) if size else xp.zeros((), grad),)
        count = grad.shape[dim]
        lead = (slice(None),) * dim
        if grad.__class__ is np.ndarray:
            out = np.zeros(shape, grad.dtype)
            for k in range(size):
                out[lead + (slice(k, k + step * (count - 1) + 1, step),)] += grad[..., k]
            return (out,)
        total = xp.zeros(shape, grad)
        for k in range(size):
            key = lead + (slice(k, k + step * (count - 1) + 1, step),)
            total = total + xp.put_at(shape, key, grad[..., k], grad, accumulate=False)
        return (total,)


def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """``input.unfold(dimension, size, step)``: a view of the sliding windows along a dim."""
    shape = input._array.shape
    ndim = len(shape)
    d = _canonical_dim(dimension, max(ndim, 1))
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    n = shape[d] if ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    array = unfold_array(input._array, d, size, step)
    out = make_view(input, array, (UNFOLD, (d, size, step)))
    if input._requires_grad and grad_state.enabled:
        node = new_node(UnfoldBackward0, (edge(input),), array)
        node.self_sizes, node.dim, node.size, node.step = shape, d, size, step
        set_history(out, node)
    return out


# ----- copies: narrow_copy, diff, diagflat ----------------------------------------------------
class NarrowCopyBackward0(Node):
    __slots__ = ("self_sizes", "key")

    def backward(self, grad, xp):
        shape, key = self.self_sizes, self.key
        d = len(key) - 1
        region = len(range(*key[d].indices(shape[d])))
        if region != grad.shape[d]:  # torch's slice of a negative start ending at 0: empty
            if grad.shape[d] != 1:
                raise RuntimeError(f"The size of tensor a ({region}) must match the size of "
                                   f"tensor b ({grad.shape[d]}) at non-singleton dimension {d}")
            return (xp.zeros(shape, grad),)
        return (xp.put_at(shape, key, grad, grad, accumulate=False),)


def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """A new tensor (not a view) of ``length`` slices along ``dim`` from ``start``."""
    shape = input._array.shape
    if not shape:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _canonical_dim(dim, len(shape))
    n = shape[d]
    if start < -n or start > n:
        raise IndexError(
            f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    # torch's backward slices from the start as given: for a negative start whose slice ends
    # at the last element (start + length == 0) that slice is empty and the gradient zero
    grad_key = (slice(None),) * d + (slice(start, start + length),)
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    key = (slice(None),) * d + (slice(start, start + length),)
    out = wrap(input._array[key].copy(), input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(NarrowCopyBackward0, (edge(input),), out._array)
        node.self_sizes, node.key = shape, grad_key
        set_history(out, node)
    return out


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (xor for bool), after joining ``prepend``
    and ``append`` on either side."""
    from ember.ops import elementwise as E
    from ember.ops.indexing import getitem

    if not isinstance(input, Tensor):
        raise TypeError(
            f"diff(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    for name, extra in (("prepend", prepend), ("append", append)):
        if extra is not None and not isinstance(extra, Tensor):
            raise TypeError(f"diff(): argument '{name}' must be Tensor, not "
                            f"{type(extra).__name__}")
    ndim = input._array.ndim
    if ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = _canonical_dim(dim, ndim)
    for extra in (prepend, append):
        if extra is not None and extra._array.ndim != ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    if n == 0:  # a copy of the input alone (torch ignores prepend and append here)
        from ember.ops.indexing import copy_

        return copy_(wrap(np.empty_like(input._array), input._dtype), input)
    if prepend is not None or append is not None:
        input = cat([x for x in (prepend, input, append) if x is not None], d)
    n = min(n, input._array.shape[d])  # differences of nothing: the input itself
    lead = (slice(None),) * d
    later, earlier = lead + (slice(1, None),), lead + (slice(None, -1),)
    for _ in range(n):
        if input._dtype is D.bool_:
            from ember.ops.pointwise_more import logical_xor

            input = logical_xor(getitem(input, later), getitem(input, earlier))
        else:
            input = E.sub(getitem(input, later), getitem(input, earlier))
    return input


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """``input`` flattened onto the ``offset``-th diagonal of a square matrix."""
    from ember.ops.selection import diag_embed

    if not isinstance(input, Tensor):
        raise TypeError(f"diagflat(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if not isinstance(offset, int):
        raise TypeError(f"diagflat(): argument 'offset' must be int, not {type(offset).__name__}")
    return diag_embed(ravel(input), offset)


# The names ``ember`` exports from this family, and the Tensor methods it adds beyond those
# ``_tensor_methods.METHODS`` binds.
__all__ = [
    "broadcast_to", "cat", "concat", "concatenate", "diagflat", "diff", "flatten", "narrow_copy",
    "permute", "ravel", "reshape", "squeeze", "stack", "swapaxes", "swapdims", "t", "transpose",
    "unflatten", "unsqueeze",
]
TENSOR_METHODS: dict = {
    "ravel": ravel, "sum_to_size": sum_to_size, "t_": t_, "transpose_": transpose_,
    "swapdims_": transpose_, "swapaxes_": transpose_, "squeeze_": squeeze_,
    "unsqueeze_": unsqueeze_, "unfold": unfold, "narrow_copy": narrow_copy, "diff": diff,
    "diagflat": diagflat,
}
