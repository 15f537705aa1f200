"""What every op shares: operand promotion, graph edges, in-place updates and views.

An op is a forward function on arrays plus a ``Node`` subclass whose ``backward`` holds its
derivative. The forward calls, in order: ``binary_operands`` (or reads ``input._array``),
computes with NumPy, ``_wrap``s the result, and, only when grad mode is on and an input
requires grad, creates its node with ``new_node`` and ``set_history``.
"""

from __future__ import annotations

import weakref

import numpy as np

from ember import _dtype as D
from ember._hints import with_hint
from ember._tensor import Tensor, _wrap
from ember.autograd import forward_ad as _fw
from ember.autograd.forward_ad import _state as _fw_state
from ember.autograd.grad_mode import grad_state
from ember.autograd.graph import Node, SavedTensor, new_node
from ember.autograd.xp import HALF, through_float32

NO_EDGE = (None, 0)
FLOATING, INTEGER, BOOL = D.FLOATING, D.INTEGER, D.BOOL

__all__ = [
    "HALF",
    "NO_EDGE",
    "Node",
    "SavedTensor",
    "Tensor",
    "binary_operands",
    "edge",
    "grad_state",
    "new_node",
    "set_history",
    "through_float32",
    "wrap",
]

wrap = _wrap


def edge(t: Tensor) -> tuple:
    """The graph edge a gradient for ``t`` flows along: its grad_fn, or its accumulator."""
    fn = t.grad_fn
    if fn is not None:
        return (fn, t._output_nr)
    if t._requires_grad:
        return (t._accumulator(), 0)
    return NO_EDGE


def set_history(out: Tensor, node: Node, output_nr: int = 0) -> Tensor:
    if _fw_state.active:  # a forward-AD level: outputs of dual-only inputs hide their node
        return _fw.record(out, node, output_nr)
    out.grad_fn = node
    out._requires_grad = True
    out._output_nr = output_nr
    return out


def cast(array: np.ndarray, dtype: D.dtype) -> np.ndarray:
    return array if array.dtype == dtype.numpy else array.astype(dtype.numpy)


def as_scalar(value):
    """A Python number from a NumPy scalar; TypeError for anything that is not a number."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bool, int, float)):
        return value
    raise TypeError(f"unsupported operand type: '{type(value).__name__}'")


def binary_operands(input: Tensor, other):
    """``(a, b, dtype)``: values ready for NumPy and the result dtype under torch's rules.

    ``b`` stays a Python scalar when it is one: NumPy 2 treats Python scalars as weakly
    typed, exactly like torch's wrapped numbers, so no conversion is needed on the fast path.
    """
    a = input._array
    dtype = input._dtype
    if isinstance(other, Tensor):
        if other._dtype is dtype:
            return a, other._array, dtype
        dtype = D.result_type(input, other)
        return cast(a, dtype), cast(other._array, dtype), dtype
    cls = other.__class__
    if cls is float:
        if dtype.category == FLOATING:
            return a, other, dtype
    elif cls is int:
        if dtype is D.int64 or dtype.category == FLOATING:
            return a, other, dtype
        if dtype.category == INTEGER:
            # A Python int wraps into the tensor's integer type, as in torch (NumPy raises).
            return a, np.array(other).astype(dtype.numpy), dtype
    other = as_scalar(other)
    dtype = D.result_type(input, other)
    if isinstance(other, bool) and dtype.category != BOOL:
        other = int(other)
    return cast(a, dtype), other, dtype


def as_tensor_operand(value, like: Tensor | None = None) -> Tensor:
    """A tensor for ``value`` (a Python scalar becomes a 0-dim tensor of its own dtype)."""
    if isinstance(value, Tensor):
        return value
    value = as_scalar(value)
    return _wrap(np.array(value, dtype=D.scalar_dtype(value).numpy), D.scalar_dtype(value))


def requires_grad(*values) -> bool:
    """Whether the op must record: grad mode is on and some tensor input requires grad."""
    if not grad_state.enabled:
        return False
    for v in values:
        if isinstance(v, Tensor) and v._requires_grad:
            return True
    return False


def check_inplace(t: Tensor) -> None:
    """torch refuses in-place changes to a leaf that requires grad (or a view of one)."""
    if grad_state.enabled:
        if t.grad_fn is None and t._requires_grad and not _fw_exempt(t):
            if t._view_of is not None:
                raise with_hint(RuntimeError(_VIEW_OF_LEAF))
            raise with_hint(RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."))
        base = t._base
        if (base is not None and base.grad_fn is None and base._requires_grad
                and not _fw_exempt(base)):
            raise with_hint(RuntimeError(_VIEW_OF_LEAF))


def _fw_exempt(t: Tensor) -> bool:
    """In forward AD, a dual that needs no grad, or anything under no_grad, may change."""
    return grad_state.fw_only or _fw.is_forward_only(t)


_VIEW_OF_LEAF = ("a view of a leaf Variable that requires grad is being used in an in-place "
                 "operation.")


def _can_cast(src: D.dtype, dst: D.dtype) -> bool:
    return src.category <= dst.category


def original_self(t: Tensor) -> Tensor:
    """``t`` as it is now, frozen: what an in-place op's formula must see of its input."""
    snapshot = _wrap(t._array.copy(), t._dtype)
    snapshot.grad_fn = t.grad_fn
    snapshot._requires_grad = t._requires_grad
    snapshot._output_nr = t._output_nr
    snapshot._grad_accumulator = t._grad_accumulator
    return snapshot


def apply_inplace(t: Tensor, op, *args, **kwargs) -> Tensor:
    """Run ``op(t, *args)`` out of place, then write the result into ``t``.

    If the op recorded a node, ``t`` takes it as its new history; if ``t`` is a view, its base
    takes a CopySlices node instead, as in torch.
    """
    check_inplace(t)
    recording = requires_grad(t, *args)
    source = original_self(t) if recording else t
    result = op(source, *args, **kwargs)
    if not _can_cast(result._dtype, t._dtype):
        raise RuntimeError(
            f"result type {_type_name(result._dtype)} can't be cast to the desired output "
            f"type {_type_name(t._dtype)}"
        )
    node = result.grad_fn if recording else None
    if node is None and recording and _fw._state.active:
        node = _fw.history(result)[0]  # a forward-only result keeps its node hidden
    write_into(t, result, node)
    return t


def _type_name(dtype: D.dtype) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}[dtype.name]


def write_into(t: Tensor, result: Tensor, node: Node | None) -> None:
    """Copy ``result``'s values into ``t`` and give ``t`` (or its base) ``node`` as history."""
    np.copyto(t._array, result._array, casting="unsafe")
    t._version_counter[0] += 1
    if node is None:
        return
    saved_node, saved_result = node, result
    if t._view_of is None:
        if result._dtype is not t._dtype:
            node = _cast_node(node, result, t)
        set_history(t, node)
    else:
        from ember.ops.shape import rebase_view_history

        rebase_view_history(t, node, result)
    if saved_result._dtype is t._dtype:
        _save_as_written(saved_node, saved_result, t)
    if t._retains_grad and t.grad_fn is not None:  # retain_grad follows the new history
        t.grad_fn._node_hooks().retained[t._output_nr] = weakref.ref(t)


def _save_as_written(node: Node, result: Tensor, t: Tensor) -> None:
    """A node that saved its output (``exp_``, ``sigmoid_``) now saves ``t``, which holds it:
    a later in-place change to ``t`` is then caught at backward, as torch catches it."""
    for field in node._saved_fields:
        saved = getattr(node, field, None)
        if saved.__class__ is SavedTensor and saved.tensor is None and (
                saved.array is result._array):
            saved.array = t._array
            saved.version_counter = t._version_counter
            saved.version = t._version_counter[0]
            if t._view_of is not None and t.grad_fn is not None:
                saved.written_to_view = weakref.ref(t.grad_fn)


def _cast_node(node: Node, result: Tensor, t: Tensor) -> Node:
    from ember.ops.elementwise import to_dtype

    cast = to_dtype(set_history(result, node, result._output_nr), t._dtype)
    return cast.grad_fn if cast.grad_fn is not None else _fw.history(cast)[0]
