"""Forward-mode AD: dual tensors carry a tangent, and ``unpack_dual`` gives ``J @ tangent``.

No op has a forward-mode rule of its own. ``make_dual`` gives a tensor whose graph starts at a
``_DualLeaf`` node holding the tangent, so ops on it record their backward nodes as usual
(creating them costs the forward nothing new). ``unpack_dual`` then walks the recorded graph
from the dual leaves and derives each node's Jacobian-vector product from its backward
formula by the double-vjp trick: the formula ``u -> J^T u`` is linear in ``u``, so running it
in the tensor world on a dummy ``u`` that requires grad, and differentiating
``<J^T u, tangent_in>`` with respect to ``u``, gives ``J tangent_in``. Every op with a
differentiable backward formula therefore has a JVP rule, and ``Function.jvp`` is used when a
custom Function defines one.

Differences from torch that follow from this design: a dual tensor and the results computed
from it report ``requires_grad=True`` and a ``grad_fn`` (the graph is how tangents flow), and
ops run under ``no_grad`` do not propagate tangents.
"""

from __future__ import annotations

from collections import namedtuple

from ember.autograd.graph import AccumulateGrad, Node, new_node

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level",
           "make_dual", "unpack_dual"]

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])


class _State:
    level: int | None = None
    cache: dict = {}


_state = _State()


class _DualLeaf(Node):
    """Where a dual tensor's graph starts: holds the tangent; in backward, an alias."""

    __slots__ = ("tangent", "level")

    def name(self) -> str:
        return "ViewBackward0"

    def backward(self, grad, xp):
        return (grad,)


def enter_dual_level() -> int:
    if _state.level is not None:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _state.level = 0
    _state.cache = {}
    return 0


def exit_dual_level(*, level: int | None = None) -> None:
    if level is None:
        level = _state.level
    if level != _state.level:
        raise RuntimeError(
            "Trying to exit a forward AD level that was not the last one that was created. "
            "This is not supported."
        )
    _state.level = None
    _state.cache = {}


class dual_level:
    """Context manager: dual tensors made inside carry their tangents until it exits."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc_info) -> None:
        exit_dual_level()


def make_dual(tensor, tangent, *, level: int | None = None):
    """A tensor with ``tensor``'s values whose tangent (forward gradient) is ``tangent``."""
    from ember._tensor import _wrap
    from ember.ops._core import edge, set_history

    if level is None:
        level = _state.level
    if level is None or level != _state.level:
        raise RuntimeError(
            "Trying to create a dual Tensor for forward AD but no level exists, make sure to "
            "enter_dual_level() first."
        )
    if tensor._dtype.category != 2:
        raise ValueError(
            f"Expected primal to be floating point or complex, but got: {tensor._dtype}"
        )
    if tangent._dtype.category != 2:
        raise ValueError(
            f"Expected tangent to be floating point or complex, but got: {tangent._dtype}"
        )
    if tangent._array.shape != tensor._array.shape:
        raise RuntimeError(
            "Trying to set a forward gradient that has a different size than that of the "
            f"original Tensor, this is not supported. Tensor is of size "
            f"{list(tensor._array.shape)} while the given forward gradient is of size "
            f"{list(tangent._array.shape)}."
        )
    dual = _wrap(tensor._array, tensor._dtype)
    dual._version_counter = tensor._version_counter
    node = new_node(_DualLeaf, (edge(tensor),), tensor._array)
    node.tangent = tangent.detach()
    node.level = level
    return set_history(dual, node)


def unpack_dual(tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)``; the tangent is None when ``tensor`` does not depend on a dual."""
    if level is None:
        level = _state.level
    node = tensor.grad_fn
    if level is None or node is None or level != _state.level:
        return UnpackedDualTensor(tensor, None)
    tangents = _tangents(node)
    tangent = tangents[tensor._output_nr] if tangents is not None else None
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    primal = tensor if _reaches_real_leaf(node) else tensor.detach()
    return UnpackedDualTensor(primal, tangent)


def _reaches_real_leaf(root) -> bool:
    """Whether backward from ``root`` reaches a leaf that requires grad (not only duals)."""
    seen = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if node.__class__ is AccumulateGrad:
            return True
        stack.extend(child for child, _ in node.next_functions)
    return False


def _tangents(root):
    """Per output of ``root``, its tangent (or None), computed children first, memoized."""
    cache = _state.cache
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if node in cache:
            continue
        if node.__class__ is _DualLeaf:
            cache[node] = [node.tangent if node.level == _state.level else None]
            continue
        if node.__class__ is AccumulateGrad:
            cache[node] = None
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for child, _ in node.next_functions
                         if child is not None and child not in cache)
            continue
        inputs = []
        for child, nr in node.next_functions:
            child_tangents = cache.get(child) if child is not None else None
            inputs.append(child_tangents[nr] if child_tangents is not None else None)
        cache[node] = None if all(t is None for t in inputs) else _jvp(node, inputs)
    return cache[root]


def _jvp(node, input_tangents: list) -> list:
    """The tangents of ``node``'s outputs from its inputs' tangents."""
    from ember.autograd.function import BackwardCFunction

    if isinstance(node, BackwardCFunction) and _has_own_jvp(node):
        return _function_jvp(node, input_tangents)
    return _jvp_by_double_vjp(node, input_tangents)


def _jvp_by_double_vjp(node, input_tangents: list) -> list:
    from ember import zeros
    from ember._dtype import from_numpy_dtype
    from ember.autograd import grad
    from ember.autograd.grad_mode import enable_grad
    from ember.ops._tensor_math import TENSOR_MATH

    with enable_grad():
        dummies = [
            zeros(shape, dtype=from_numpy_dtype(dtype), requires_grad=True)
            for shape, dtype in node._out_meta
        ]
        grad_in = node.backward(dummies[0] if len(dummies) == 1 else dummies, TENSOR_MATH)
        outs, weights = [], []
        for g, t, (child, nr) in zip(grad_in, input_tangents, node.next_functions):
            if g is None or t is None or not g._requires_grad:
                continue
            shape, dtype = child._out_meta[nr]
            if tuple(g._array.shape) != shape or g._array.dtype != dtype:
                g = TENSOR_MATH.conform(g, shape, dtype)
            outs.append(g)
            weights.append(t)
        if not outs:
            return [None] * len(dummies)
        result = grad(outs, dummies, weights, allow_unused=True)
    return [r.detach() if r is not None else None for r in result]


def _has_own_jvp(node) -> bool:
    from ember.autograd.function import Function

    jvp = node._forward_cls.jvp
    return getattr(jvp, "__func__", jvp) is not getattr(Function.jvp, "__func__", Function.jvp)


def _function_jvp(node, input_tangents: list) -> list:
    from ember import zeros

    tangents = iter(input_tangents)
    args = []
    shapes = iter(node._input_shapes)
    for is_tensor in node._input_is_tensor:
        if not is_tensor:
            args.append(None)
            continue
        t = next(tangents)
        shape = next(shapes)
        args.append(t if t is not None else zeros(shape))
    result = node._forward_cls.jvp(node, *args)
    result = result if isinstance(result, tuple) else (result,)
    return [r.detach() if r is not None else None for r in result]
