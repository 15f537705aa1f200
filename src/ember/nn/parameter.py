"""``Parameter`` and ``Buffer``: the tensors a Module registers when they are assigned to it.

A Parameter is an ember Tensor (same ``__slots__``, so every op accepts it unchanged) whose
class tells ``Module.__setattr__`` to register it; it is a leaf that requires grad by default
and shares its values with the tensor it was made from. Ops on a Parameter return plain
Tensors, as in torch.
"""

from __future__ import annotations

import weakref

from ember import _creation as C
from ember._tensor import Tensor, _wrap

__all__ = ["Buffer", "Parameter"]

_FIELDS = tuple(f for f in Tensor.__slots__ if f != "__weakref__")


def _adopt(cls: type, data: Tensor, requires_grad: bool) -> Tensor:
    """A new ``cls`` instance viewing ``data``'s values, detached from its history.

    The fields are copied from a fresh ``_wrap`` so this follows Tensor's slots as they grow.
    """
    fresh = _wrap(data._array, data._dtype)
    t = object.__new__(cls)
    for field in _FIELDS:
        setattr(t, field, getattr(fresh, field))
    t._version_counter = data._version_counter
    if requires_grad:
        t.requires_grad_(True)
    return t


class Parameter(Tensor):
    """A tensor that is a module's learnable state (see the module docstring)."""

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            data = C.empty(0)
        if not isinstance(data, Tensor):
            raise AttributeError(f"'{type(data).__name__}' object has no attribute 'detach'")
        if requires_grad and not data.is_floating_point():
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients")
        return _adopt(cls, data, requires_grad)

    def __init__(self, *args, **kwargs) -> None:  # everything happened in __new__
        pass

    def __repr__(self, *, tensor_contents=None) -> str:
        return "Parameter containing:\n" + super().__repr__(tensor_contents=tensor_contents)

    def __deepcopy__(self, memo) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        # torch copies the values and the flag, not the gradient
        copied = type(self)(Tensor.__deepcopy__(self.data, {}), self._requires_grad)
        memo[id(self)] = copied
        return copied

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.detach().clone(), self._requires_grad))


def _rebuild_parameter(data: Tensor, requires_grad: bool) -> Parameter:
    return Parameter(data, requires_grad)


# Tensors marked by ``Buffer(...)`` (ember tensors have no ``__dict__`` to hold the mark):
# id -> (weak reference, persistent). Keyed by id because a tensor's ``==`` is elementwise.
_BUFFER_MARKS: dict[int, tuple] = {}


def _buffer_mark(t: Tensor):
    entry = _BUFFER_MARKS.get(id(t))
    return entry if entry is not None and entry[0]() is t else None


class _BufferMeta(type):
    """``isinstance(t, Buffer)`` holds for tensors that ``Buffer(...)`` marked."""

    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, Tensor) and _buffer_mark(instance) is not None


class Buffer(metaclass=_BufferMeta):
    """Marks a tensor to be registered as a buffer when assigned to a Module.

    ``Buffer(t)`` returns a plain Tensor (``t`` detached) carrying the mark, so it works
    everywhere a Tensor does.
    """

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True) -> Tensor:
        if data is None:
            data = C.empty(0)
        t = data.detach().requires_grad_(data.requires_grad)
        key = id(t)
        _BUFFER_MARKS[key] = (weakref.ref(t, lambda _: _BUFFER_MARKS.pop(key, None)), persistent)
        return t


def _buffer_persistent(t: Tensor) -> bool:
    entry = _buffer_mark(t)
    return True if entry is None else entry[1]


def __getattr__(name: str):
    """``UninitializedParameter``/``UninitializedBuffer`` live with the lazy layers."""
    if name in ("UninitializedParameter", "UninitializedBuffer", "is_lazy"):
        from ember.nn.modules import lazy

        return getattr(lazy, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
