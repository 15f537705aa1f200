"""Custom autograd functions: ``class F(Function)`` with static ``forward`` and ``backward``.

``F.apply(*args)`` runs ``forward`` without recording, then gives the tensor outputs one node,
an instance of ``FBackward`` (a Node subclass made once per Function class). As in torch,
that node is also the ``ctx`` the user's ``forward``/``setup_context`` and ``backward`` see:
``ctx.save_for_backward``, ``ctx.saved_tensors``, ``ctx.needs_input_grad``, ``mark_dirty``,
``mark_non_differentiable``, ``set_materialize_grads``, and any attribute the user sets.

The user's ``backward`` is written with ember ops, so the node always runs it on tensors: an
ordinary backward wraps the incoming arrays (and unwraps the results); under
``create_graph=True`` the ops record, which gives double backward through the Function.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import numpy as np

from ember._hints import user_site
from ember.autograd import graph as _graph
from ember.autograd.grad_mode import grad_state
from ember.autograd.graph import FREED_MESSAGE, Node, SavedTensor, new_node

__all__ = ["BackwardCFunction", "Function", "FunctionCtx", "InplaceFunction", "NestedIOFunction",
           "once_differentiable"]


class FunctionCtx:
    """The methods a ``ctx`` offers inside ``forward``/``setup_context``."""

    def save_for_backward(self, *tensors) -> None:
        self.to_save = tensors

    def save_for_forward(self, *tensors) -> None:
        self.saved_for_forward = tensors

    def mark_dirty(self, *tensors) -> None:
        self.dirty_tensors = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        self.non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)


class BackwardCFunction(Node, FunctionCtx):
    """Base of every ``<Name>Backward`` node: the ``ctx`` and the graph node in one object."""

    _forward_cls: type = None  # set on each generated subclass
    # What ``save_for_backward`` kept lives in ``_saved``: naming it tells the engine (and
    # graph_stats / viz) that this node holds saved values to drop after backward.
    _saved_fields = ("_saved",)
    runs_without_grads = True  # torch calls it (materializing zeros, or with Nones)

    def name(self) -> str:
        return type(self).__name__

    @property
    def num_outputs(self) -> int:
        return len(self._out_meta)

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``, checked against in-place changes."""
        if self._released:
            raise RuntimeError(FREED_MESSAGE)
        saved = getattr(self, "_saved", None)
        if saved is None:
            return ()
        from ember.ops._tensor_math import TENSOR_MATH

        result = []
        for value in saved:
            if value is None:
                result.append(None)
            elif value.tensor is None:  # one of this node's outputs
                result.append(TENSOR_MATH.saved_output(value, self))
            else:
                value.check_version(self)
                result.append(value.tensor)
        return tuple(result)

    saved_variables = saved_tensors

    def release_saved(self) -> None:
        if getattr(self, "_saved", None) is not None:
            self._saved = None
            self._released = True

    def backward(self, grad, xp):
        from ember._dtype import from_numpy_dtype
        from ember._tensor import Tensor, _wrap
        from ember.autograd.xp import ARRAY_MATH

        array_world = xp is ARRAY_MATH
        grads = [grad] if len(self._out_meta) == 1 else list(grad)
        materialize = getattr(self, "materialize_grads", True)
        args = []
        for g, (shape, dtype) in zip(grads, self._out_meta):
            if g is None:
                if materialize:
                    g = np.zeros(shape, dtype=dtype) if dtype is not None else None
                    if g is not None and not array_world:
                        g = _wrap(g, from_numpy_dtype(g.dtype))
            if g is not None and array_world:
                g = _wrap(g, from_numpy_dtype(g.dtype))
            args.append(g)
        args += [None] * self._non_tensor_outputs
        result = _user_backward(self._forward_cls)(self, *args)
        if not isinstance(result, tuple):
            result = (result,)
        n_inputs = len(self._input_is_tensor)
        if len(result) != n_inputs:
            if len(result) > n_inputs and all(r is None for r in result[n_inputs:]):
                result = result[:n_inputs]
            else:
                raise RuntimeError(
                    f"function {self.name()} returned an incorrect number of gradients "
                    f"(expected {n_inputs}, got {len(result)})"
                )
        out = []
        slot = 0
        for i, (g, is_tensor) in enumerate(zip(result, self._input_is_tensor)):
            if not is_tensor:
                if g is not None:
                    raise RuntimeError(
                        f"function {self.name()} returned a gradient different than None at "
                        f"position {i + 1}, but the corresponding forward input was not a "
                        "Variable"
                    )
                continue
            if g is not None:
                if not isinstance(g, Tensor):
                    raise RuntimeError(
                        f"expected Variable or None (got {type(g).__name__})"
                    )
                shape = self._input_shapes[slot]
                if not _expandable(shape, g._array.shape):
                    raise RuntimeError(
                        f"Function {self.name()} returned an invalid gradient at index {i} - "
                        f"got {list(g._array.shape)} but expected shape compatible with "
                        f"{list(shape)}"
                    )
                if array_world:
                    g = g._array
            out.append(g)
            slot += 1
        return tuple(out)

    # torch's Function.apply on a ctx is for the legacy path; keep the name for introspection.
    def apply(self, *args):
        return self.backward(*args)


def _user_backward(cls):
    """The user's ``backward`` or, as torch allows, ``vjp`` under its other name (not both)."""
    backward, vjp = cls.backward, cls.vjp
    if backward is not Function.backward and vjp is not Function.vjp:
        raise RuntimeError(
            "Implementing both 'backward' and 'vjp' for a custom Function is not allowed. You "
            "should only implement one of them."
        )
    return vjp if vjp is not Function.vjp else backward


def _expandable(shape: tuple, grad_shape: tuple) -> bool:
    """Whether ``shape`` broadcasts to ``grad_shape`` (the engine sums it back)."""
    if len(shape) > len(grad_shape):
        return False
    for a, b in zip(reversed(shape), reversed(grad_shape)):
        if a != b and a != 1:
            return False
    return True


class _FunctionMeta(type):
    """Gives every Function subclass its node class, ``<Name>Backward``."""

    def __init__(cls, name, bases, attrs) -> None:
        super().__init__(name, bases, attrs)
        cls._backward_cls = type(
            name + "Backward", (BackwardCFunction,), {"_forward_cls": cls, "__module__":
                                                      "ember.autograd.function"}
        )


class Function(FunctionCtx, metaclass=_FunctionMeta):
    """Base class of user-defined differentiable operations.

    Subclasses define ``forward(ctx, *args)`` (or ``forward(*args)`` plus
    ``setup_context(ctx, inputs, output)``) and ``backward(ctx, *grad_outputs)``, both static,
    and are called through ``apply``.
    """

    generate_vmap_rule = False

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use "
            "new-style autograd function with static forward method. (Example: "
            "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)"
        )

    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> Any:
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    vjp = backward

    @staticmethod
    def jvp(ctx: Any, *grad_inputs: Any) -> Any:
        raise NotImplementedError(
            "You must implement the jvp function for custom autograd.Function to use it with "
            "forward mode AD."
        )

    @classmethod
    def apply(cls, *args, **kwargs):
        return _apply(cls, args, kwargs)


class InplaceFunction(Function):
    def __init__(self, inplace: bool = False) -> None:
        self.inplace = inplace


class NestedIOFunction(Function):
    pass


def _uses_setup_context(cls) -> bool:
    return getattr(cls.setup_context, "__func__", cls.setup_context) is not getattr(
        Function.setup_context, "__func__", Function.setup_context)


def _apply(cls, args: tuple, kwargs: dict):
    from ember._tensor import Tensor, _wrap
    from ember.ops._core import edge, set_history

    is_tensor = tuple(isinstance(a, Tensor) for a in args)
    recording = grad_state.enabled and any(
        t and a._requires_grad for t, a in zip(is_tensor, args)
    )
    node = object.__new__(cls._backward_cls)
    node.needs_input_grad = tuple(
        bool(t and recording and a._requires_grad) for t, a in zip(is_tensor, args)
    )
    node._released = False
    node._hooks = None
    setup = _uses_setup_context(cls)
    previous = grad_state.enabled
    grad_state.enabled = False
    try:
        if setup:
            output = cls.forward(*args, **kwargs)
        else:
            output = cls.forward(node, *args, **kwargs)
    finally:
        grad_state.enabled = previous
    if setup:
        cls.setup_context(node, args, output)

    single = not isinstance(output, tuple)
    outputs = (output,) if single else output
    for d in getattr(node, "dirty_tensors", ()):
        if not any(d is o for o in outputs):
            raise RuntimeError(
                "Some elements marked as dirty during the forward method were not returned as "
                "output. The inputs that are modified inplace must all be outputs of the "
                "Function."
            )
    if not recording:
        _drop_ctx_tensors(node)
        return output

    tensors_in = [a for t, a in zip(is_tensor, args) if t]
    node._site, node._site_offset = user_site(sys._getframe(1))  # the user's .apply line
    node.next_functions = tuple(edge(a) for a in tensors_in)
    node._input_is_tensor = is_tensor
    node._input_shapes = tuple(a._array.shape for a in tensors_in)
    dirty = getattr(node, "dirty_tensors", ())
    non_diff = getattr(node, "non_differentiable", ())
    input_ids = {id(a) for a in tensors_in}

    results = []
    out_meta = []
    for value in outputs:
        if not isinstance(value, Tensor):
            results.append(value)
            continue
        if any(value is d for d in dirty):
            if value.grad_fn is None and value._requires_grad:
                raise RuntimeError(
                    "a leaf Variable that requires grad has been used in an in-place operation."
                )
            value._version_counter[0] += 1
            out = value
        elif id(value) in input_ids:
            # An input returned unchanged: a new tensor sharing it, so the input keeps its
            # own history.
            out = _wrap(value._array, value._dtype)
            out._version_counter = value._version_counter
        else:
            out = value
        differentiable = out._dtype.category == 2 and not any(value is n for n in non_diff)
        meta_dtype = out._array.dtype if differentiable else None
        out_meta.append((out._array.shape, meta_dtype))
        if differentiable:
            set_history(out, node, len(out_meta) - 1)
        else:
            out.grad_fn = None
            out._requires_grad = False
        results.append(out)
    # Non-differentiable outputs still get a (zero) gradient slot, like torch.
    node._out_meta = tuple(
        (shape, dtype if dtype is not None else _meta_dtype(r))
        for (shape, dtype), r in zip(out_meta, [r for r in results if isinstance(r, Tensor)])
    )
    node._non_tensor_outputs = sum(not isinstance(r, Tensor) for r in results)
    node._sequence_nr = _graph._next_sequence_nr()  # (records the stack in anomaly mode)

    to_save = getattr(node, "to_save", None)
    if to_save is not None:
        saved = []
        for position, t in enumerate(to_save):
            if t is None:
                saved.append(None)
            elif not isinstance(t, Tensor):
                raise TypeError(
                    f"save_for_backward can only save variables, but argument {position} is of "
                    f"type {type(t).__name__}"
                )
            elif t.grad_fn is node:
                saved.append(SavedTensor(t, is_output=True))
            else:
                saved.append(SavedTensor(t))
        node._saved = tuple(saved)
        del node.to_save
    _drop_ctx_tensors(node)
    return results[0] if single else tuple(results)


def _meta_dtype(t):
    return t._array.dtype


def _drop_ctx_tensors(node) -> None:
    # Plain references to outputs on the node would make cycles output -> node -> output.
    for name in ("dirty_tensors", "non_differentiable"):
        if name in node.__dict__:
            del node.__dict__[name]


def once_differentiable(fn):
    """Marks a ``backward`` that is not itself differentiable: it runs without recording, and
    differentiating its results raises (torch's DelayedError)."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        from ember._tensor import Tensor
        from ember.ops._core import edge

        with _no_grad():
            outputs = fn(ctx, *args)
        if not grad_state.enabled:
            return outputs
        requires_grad = any(isinstance(a, Tensor) and a._requires_grad for a in args)
        if not requires_grad:
            return outputs
        single = not isinstance(outputs, tuple)
        edges = tuple(edge(a) for a in args if isinstance(a, Tensor) and a._requires_grad)
        wrapped = tuple(_delayed_error(o, edges) for o in ((outputs,) if single else outputs))
        return wrapped[0] if single else wrapped

    return wrapper


def _no_grad():
    from ember.autograd.grad_mode import no_grad

    return no_grad()


class DelayedError(Node):
    __slots__ = ()
    message = "trying to differentiate twice a function that was marked with @once_differentiable"

    def backward(self, grad, xp):
        raise RuntimeError(self.message)


def _delayed_error(t, edges: tuple):
    from ember._tensor import Tensor, _wrap
    from ember.ops._core import set_history

    if not isinstance(t, Tensor) or t._dtype.category != 2:
        return t
    out = _wrap(t._array, t._dtype)
    node = new_node(DelayedError, edges, out._array)
    return set_history(out, node)
