"""The Tensor: a NumPy array plus the autograd bookkeeping torch keeps beside it.

Fields (all in ``__slots__`` so creating a tensor stays cheap):
- ``_array``: the values, always an ``np.ndarray`` (never a NumPy scalar);
- ``_dtype``: the ember dtype of ``_array``;
- ``grad_fn``: the node that made this tensor, or None for a leaf;
- ``_requires_grad``: True for a leaf that requires grad and for every tensor with a grad_fn;
- ``_grad``: what backward accumulated (leaves, or non-leaves after ``retain_grad()``);
- ``_version_counter``: a one-element list shared by a tensor, its views and ``detach()``;
  in-place ops bump it, and saved tensors compare it to the version they saved;
- ``_output_nr``: which output of ``grad_fn`` this tensor is;
- ``_view_of``: ``(parent, step)`` when this tensor is a view, so an in-place op on it can
  rewrite the base's history (CopySlices);
- ``_grad_accumulator``: weak reference to the leaf's AccumulateGrad node, reused by every op
  that takes this leaf, as torch does.

The methods are the op functions themselves (bound at the bottom of this module), so
``x * y`` costs one Python call.
"""

from __future__ import annotations

import copy as _copy
import warnings
import weakref

import numpy as np

from ember import _dtype as D
from ember._device import CPU as _CPU
from ember._device import device
from ember.autograd import forward_ad as _fw
from ember.autograd.graph import AccumulateGrad, LeafHooks, RemovableHandle, _add_hook

_ndarray = np.ndarray
_object_new = object.__new__


class Size(tuple):
    """torch.Size: a tuple of ints that prints as ``torch.Size([2, 3])``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        result = tuple.__getitem__(self, item)
        return Size(result) if isinstance(item, slice) else result

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))


_NON_LEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead. See github.com/pytorch/pytorch/pull/30531 for more informations."
)


def _wrap(array, dtype) -> Tensor:
    """A new tensor around ``array`` (no copy). The hot constructor every op uses."""
    if array.__class__ is not _ndarray:
        array = np.asarray(array)
    t = _object_new(Tensor)
    t._array = array
    t._dtype = dtype
    t.grad_fn = None
    t._requires_grad = False
    t._grad = None
    t._version_counter = [0]
    t._output_nr = 0
    t._view_of = None
    t._grad_accumulator = None
    t._retains_grad = False
    t._hooks = None
    return t


def _wrap_as(array) -> Tensor:
    """Wrap an array whose dtype decides the tensor's dtype."""
    return _wrap(array, D.from_numpy_dtype(array.dtype))


class Tensor:
    __slots__ = (
        "_array",
        "_dtype",
        "grad_fn",
        "_requires_grad",
        "_grad",
        "_version_counter",
        "_output_nr",
        "_view_of",
        "_grad_accumulator",
        "_retains_grad",
        "_hooks",  # a leaf's LeafHooks once register_hook / post-accumulate hooks are used
        "__weakref__",
    )

    def __init__(self, *args, **kwargs) -> None:  # torch.Tensor(2, 3) / torch.Tensor([1, 2])
        from ember._creation import _legacy_tensor_constructor

        t = _legacy_tensor_constructor(*args, **kwargs)
        for field in Tensor.__slots__[:-1]:
            setattr(self, field, getattr(t, field))

    # ----- metadata -------------------------------------------------------------------------
    @property
    def dtype(self) -> D.dtype:
        return self._dtype

    @property
    def shape(self) -> Size:
        return Size(self._array.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._array.shape)
        return self._array.shape[_canonical_dim(dim, self._array.ndim)]

    def dim(self) -> int:
        return self._array.ndim

    ndimension = dim

    @property
    def ndim(self) -> int:
        return self._array.ndim

    def numel(self) -> int:
        return self._array.size

    nelement = numel

    def element_size(self) -> int:
        return self._array.itemsize

    @property
    def device(self) -> device:
        return _CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def is_floating_point(self) -> bool:
        return self._dtype.category == D.FLOATING

    def is_complex(self) -> bool:
        return False

    def is_contiguous(self, memory_format=None) -> bool:
        return self._array.flags.c_contiguous

    def stride(self, dim: int | None = None):
        strides = tuple(s // self._array.itemsize for s in self._array.strides)
        return strides if dim is None else strides[_canonical_dim(dim, self._array.ndim)]

    def __len__(self) -> int:
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._array.shape[0]

    def __hash__(self) -> int:
        return id(self)

    # ----- autograd state -------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        if self._requires_grad and self.grad_fn is None and _fw._state.duals:
            return not _fw.is_forward_only(self)  # a dual tensor that only carries a tangent
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and _fw._state.duals and _fw.is_forward_only(self):
            _fw.make_leaf(self)
            return
        if self.grad_fn is not None:
            if value:
                return
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if value and self._dtype.category != D.FLOATING:
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients"
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and _fw._state.duals and _fw.is_forward_only(self):
            _fw.make_leaf(self)  # a dual that now requires grad, as torch allows
            return self
        if self.grad_fn is not None:
            if requires_grad:
                return self
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if requires_grad and self._dtype.category != D.FLOATING:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def grad(self) -> Tensor | None:
        if self.grad_fn is not None and not self._retains_grad:
            warnings.warn(_NON_LEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}"
                )
            if value._dtype is not self._dtype:
                raise RuntimeError("assigned grad has data of a different type")
            if value._array.shape != self._array.shape:
                raise RuntimeError("assigned grad has data of a different size")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if not self._retains_grad:
            # The engine hands the tensor the gradient arriving at its grad_fn.
            self.grad_fn._node_hooks().retained[self._output_nr] = weakref.ref(self)
        self._retains_grad = True

    def register_hook(self, hook) -> RemovableHandle:
        """``hook(grad)`` runs when the gradient for this tensor is computed; it may return a
        replacement. On a leaf it runs before the gradient is accumulated into ``.grad``."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        node = self.grad_fn
        if node is None:
            if self._hooks is None:
                self._hooks = LeafHooks()
            return _add_hook(self._hooks.pre, hook)
        per_output = node._node_hooks().tensor
        hooks = per_output.get(self._output_nr)
        if hooks is None:
            hooks = per_output[self._output_nr] = {}
        return _add_hook(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook) -> RemovableHandle:
        """``hook(tensor)`` runs after a backward accumulated into this leaf's ``.grad``."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        if self._hooks is None:
            self._hooks = LeafHooks()
        return _add_hook(self._hooks.post_accumulate, hook)

    @property
    def _version(self) -> int:
        return self._version_counter[0]

    @property
    def _base(self) -> Tensor | None:
        view_of = self._view_of
        if view_of is None:
            return None
        base = view_of[0]
        while base._view_of is not None:
            base = base._view_of[0]
        return base

    def _is_view(self) -> bool:
        return self._view_of is not None

    def _accumulator(self) -> AccumulateGrad:
        """This leaf's AccumulateGrad node, created once and shared by every use."""
        ref = self._grad_accumulator
        node = ref() if ref is not None else None
        if node is None:
            node = AccumulateGrad(self)
            self._grad_accumulator = weakref.ref(node)
        return node

    def detach(self) -> Tensor:
        """Same values and version counter, no history: a leaf that does not require grad."""
        t = _wrap(self._array, self._dtype)
        t._version_counter = self._version_counter
        return t

    def detach_(self) -> Tensor:
        if self._view_of is not None and self.grad_fn is not None:
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using "
                "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set "
                "as True, gradients are views of DDP buckets, and hence detach_() cannot be "
                "called on these gradients. To fix this error, please refer to the "
                "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution."
            )
        self.grad_fn = None
        self._requires_grad = False
        self._output_nr = 0
        return self

    @property
    def data(self) -> Tensor:
        """The values as a leaf sharing memory but not the version counter (unlike detach)."""
        return _wrap(self._array, self._dtype)

    @data.setter
    def data(self, value: Tensor) -> None:
        self._array = value._array
        self._dtype = value._dtype

    # ----- conversion -----------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self._array

    def item(self):
        if self._array.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._array.size} elements cannot be converted to Scalar"
            )
        return self._array.reshape(()).item()

    def tolist(self):
        return self._array.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._dtype.category != D.INTEGER or self._array.ndim != 0:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._array)

    def __bool__(self) -> bool:
        if self._array.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous"
            )
        return bool(self._array.reshape(()))

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)

    def __iter__(self):
        if self._array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __deepcopy__(self, memo) -> Tensor:
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the "
                "deepcopy protocol at the moment.  If you were attempting to deepcopy a module, "
                "this may be because of a torch.nn.utils.weight_norm usage, see "
                "https://github.com/pytorch/pytorch/pull/103001"
            )
        if id(self) in memo:
            return memo[id(self)]
        t = _wrap(self._array.copy(), self._dtype)
        t._requires_grad = self._requires_grad
        if self._grad is not None:
            t._grad = _copy.deepcopy(self._grad, memo)
        memo[id(self)] = t
        return t

    def __reduce_ex__(self, protocol):
        return (_rebuild_tensor, (self._array.copy(), self._dtype.name, self._requires_grad))

    def __repr__(self, *, tensor_contents=None) -> str:
        from ember._tensor_str import tensor_repr

        return tensor_repr(self, tensor_contents=tensor_contents)

    def __format__(self, format_spec: str) -> str:
        if self._array.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def type(self, dtype=None):
        if dtype is None:
            return "torch." + self._dtype._legacy_name
        return self.to(dtype)


def _rebuild_tensor(array, dtype_name, requires_grad):
    t = _wrap(array, D._dtype_by_name(dtype_name))
    t._requires_grad = requires_grad
    return t


def _canonical_dim(dim: int, ndim: int) -> int:
    """Map a possibly negative ``dim`` into ``range(ndim)`` with torch's IndexError text."""
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if dim < lo or dim > hi:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})"
        )
    return dim + ndim if dim < 0 else dim
