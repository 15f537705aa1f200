"""Forward-mode AD: dual tensors carry a tangent, and ``unpack_dual`` gives ``J @ tangent``.

No op has a forward-mode rule of its own. While a dual level is active, ops on dual tensors
record their backward nodes as usual (creating them costs the forward nothing new), and
``unpack_dual`` walks the recorded graph from the dual leaves, deriving each node's
Jacobian-vector product from its backward formula by the double-vjp trick: the formula
``u -> J^T u`` is linear in ``u``, so running it in the tensor world on a dummy ``u`` that
requires grad, and differentiating ``<J^T u, tangent_in>`` with respect to ``u``, gives
``J tangent_in``. Every op with a differentiable backward formula therefore has a JVP rule,
and ``Function.jvp`` is used when a custom Function defines one.

Forward-only history. A dual tensor that does not require grad must look as in torch
(``requires_grad=False``, no ``grad_fn``) while still leading to its tangent. Such a tensor
keeps ``grad_fn=None`` and is marked as requiring grad internally (``_requires_grad``, which
the ops read), so ops record on it; its gradient edge (the ``_grad_accumulator`` slot, where a
leaf's AccumulateGrad would be) is a ``_FwLink`` node that points at the recorded node for the
tangent walk but passes no gradient on in backward. ``ops._core.set_history`` hands every
recorded output here while a level is active (one flag check per op otherwise): a node whose
inputs are all forward-only (or recorded under ``no_grad``, which forward AD ignores, as in
torch) gives forward-only outputs. On exit from the level those tensors become plain ones.

Explicit rules (``_RULES``) replace the double-vjp where torch's forward mode differs from what
the backward formula gives (kinks, empty inputs, index shapes its backward refuses), and ops
torch's forward mode refuses (``_NO_FORWARD``) raise its NotImplementedError.

Known differences from torch: tangents are computed when asked for (``unpack_dual``, printing),
so a refused op raises there rather than at the call; a tangent that depends on tensors
requiring grad keeps a graph (reverse over forward works), but its ``grad_fn`` is a node of
the double-vjp, not of torch's forward formula (``MulBackward0`` where torch may show
``AddBackward0``), and explicit rules give tangents without a graph; an in-place op on a
dual does not update the tangent tensor the user passed to ``make_dual`` in place (torch's
does); an in-place op under ``no_grad`` on a leaf that requires grad leaves it without a
tangent; ``unpack_dual(d).primal`` is an alias, not a view (``_base`` is None).
"""

from __future__ import annotations

import weakref
from collections import namedtuple

import numpy as np

from ember.autograd.grad_mode import grad_state
from ember.autograd.graph import AccumulateGrad, Node, _next_sequence_nr, new_node

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level",
           "make_dual", "unpack_dual"]

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])


class _State:
    __slots__ = ("level", "active", "cache", "duals", "fw_nodes", "leaf_sources", "tangent_nodes",
                 "reaches")

    def __init__(self) -> None:
        self.level: int | None = None
        self.active = False  # a level exists and no tangent walk runs: set_history asks
        self.cache: dict = {}  # node -> per-output tangents (memo of the walks)
        self.duals: dict = {}  # id(tensor) -> (weakref to it, its _FwLink): forward-only
        self.fw_nodes = weakref.WeakSet()  # nodes whose outputs are forward-only
        self.tangent_nodes = weakref.WeakSet()  # roots of tangents' own graphs: no tangent
        self.reaches: dict = {}  # node -> whether backward from it reaches a real leaf
        self.leaf_sources: dict = {}  # id(leaf) -> (weakref, (node, nr)): see make_leaf


_state = _State()


class _DualLeaf(Node):
    """Where a dual tensor's graph starts: holds the tangent; in backward, an alias."""

    __slots__ = ("tangent", "level")

    def name(self) -> str:
        return "ViewBackward0"

    def backward(self, grad, xp):
        return (grad,)


class _FwLink(Node):
    """A forward-only tensor's gradient edge: leads the tangent walk to ``target``
    (``(node, output_nr)``), and in backward ends the path (the tensor needs no gradient)."""

    __slots__ = ("target",)

    @property
    def _out_meta(self) -> tuple:  # read late: a custom Function sets its meta after outputs
        node, nr = self.target
        return (node._out_meta[nr],)

    def backward(self, grad, xp):
        return ()


class _PrimalAlias(Node):
    """``unpack_dual(t).primal`` of a tensor in the reverse graph: torch's ``Identity`` view,
    which has no tangent of its own."""

    __slots__ = ()

    def name(self) -> str:
        return "torch::autograd::Identity"

    def backward(self, grad, xp):
        return (grad,)


def enter_dual_level() -> int:
    if _state.level is not None:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _state.level = 0
    _state.cache = {}
    _state.duals = {}
    _state.leaf_sources = {}
    _state.fw_nodes = weakref.WeakSet()
    _state.tangent_nodes = weakref.WeakSet()
    _state.reaches = {}
    grad_state.dual = True
    if not grad_state.enabled:  # entered under no_grad: ops still record, forward-only
        grad_state.enabled = True
        grad_state.fw_only = True
    _state.active = True
    return 0


def exit_dual_level(*, level: int | None = None) -> None:
    if level is None:
        level = _state.level
    if level != _state.level:
        raise RuntimeError(
            "Trying to exit a forward AD level that was not the last one that was created. "
            "This is not supported."
        )
    _state.active = False
    _state.level = None
    grad_state.dual = False
    if grad_state.fw_only:
        grad_state.enabled = False
        grad_state.fw_only = False
    # Forward-only tensors lose their tangents: plain tensors from now on.
    for ref, _ in list(_state.duals.values()):
        t = ref()
        if t is not None:
            t._requires_grad = False
            t._grad_accumulator = None
    _state.duals = {}
    _state.leaf_sources = {}
    _state.cache = {}
    _state.fw_nodes = weakref.WeakSet()
    _state.tangent_nodes = weakref.WeakSet()
    _state.reaches = {}


class dual_level:
    """Context manager: dual tensors made inside carry their tangents until it exits."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc_info) -> None:
        exit_dual_level()


def _link_of(t) -> _FwLink | None:
    """The forward-only link of ``t``, or None when ``t`` is an ordinary tensor."""
    entry = _state.duals.get(id(t))
    if entry is None or entry[0]() is not t:
        return None
    return entry[1]


def is_forward_only(t) -> bool:
    """Whether ``t`` only looks like it requires grad because it carries a tangent."""
    return _link_of(t) is not None


def make_leaf(t) -> None:
    """``requires_grad_()`` on a forward-only dual: a leaf of the reverse graph from now on,
    keeping its tangent (its AccumulateGrad leads the tangent walk to the hidden node)."""
    link = _link_of(t)
    del _state.duals[id(t)]
    t._grad_accumulator = None
    _state.leaf_sources[id(t)] = (weakref.ref(t), link.target)


def history(t) -> tuple:
    """``(node, output_nr)`` that made ``t``: its ``grad_fn``, or a forward-only tensor's
    hidden node; ``(None, 0)`` for a leaf."""
    if t.grad_fn is not None:
        return t.grad_fn, t._output_nr
    link = _link_of(t)
    return link.target if link is not None else (None, 0)


def record(out, node: Node, output_nr: int):
    """``set_history`` while a level is active: forward-only outputs keep no ``grad_fn``."""
    fw_nodes = _state.fw_nodes
    if node not in fw_nodes:
        if not grad_state.fw_only:
            for child, _ in node.next_functions:
                if (child is not None and child.__class__ is not _FwLink
                        and child not in fw_nodes):
                    out.grad_fn = node
                    out._requires_grad = True
                    out._output_nr = output_nr
                    return out
        fw_nodes.add(node)
    if (out.grad_fn is not None or out._requires_grad) and _link_of(out) is None:
        return out  # a tensor of the reverse graph changed in place under no_grad: as it was
    link = object.__new__(_FwLink)
    link.target = (node, output_nr)
    link.next_functions = ()
    link._sequence_nr = _next_sequence_nr()
    link._released = False
    link._hooks = None
    out.grad_fn = None
    out._requires_grad = True
    out._output_nr = 0
    out._grad_accumulator = weakref.ref(link)
    key = id(out)
    duals = _state.duals

    def forget(ref, key=key, duals=duals):
        entry = duals.get(key)
        if entry is not None and entry[0] is ref:
            del duals[key]

    duals[key] = (weakref.ref(out, forget), link)
    return out


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
    if tangent_of(tensor) is not None:
        raise RuntimeError(
            "Making a dual Tensor based on a Tensor that already has a forward gradient at the "
            f"same level {level} is not supported."
        )
    dual = _wrap(tensor._array, tensor._dtype)
    dual._version_counter = tensor._version_counter
    requires_grad = tensor.requires_grad
    real = requires_grad and grad_state.enabled and not grad_state.fw_only
    node = new_node(_DualLeaf, (edge(tensor) if real else (None, 0),), tensor._array)
    node.tangent = tangent
    node.level = level
    set_history(dual, node)
    if requires_grad and not real:  # made under no_grad: torch gives a leaf requiring grad
        make_leaf(dual)
    return dual


def _source(tensor):
    """``(node, output_nr)`` whose tangent is ``tensor``'s, or None."""
    link = _link_of(tensor)
    if link is not None:
        return link.target
    if tensor.grad_fn is not None:
        return tensor.grad_fn, tensor._output_nr
    entry = _state.leaf_sources.get(id(tensor))
    return entry[1] if entry is not None and entry[0]() is tensor else None


def tangent_of(tensor):
    """``tensor``'s tangent at the current level, or None."""
    if _state.level is None:
        return None
    source = _source(tensor)
    if source is None:
        return None
    tangents = _tangents(source[0])
    return tangents[source[1]] if tangents is not None else None


def unpack_dual(tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)``; the tangent is None when ``tensor`` does not depend on a dual."""
    from ember._tensor import _wrap
    from ember.ops._core import edge, set_history

    if level is None:
        level = _state.level
    if level is None or level != _state.level:
        return UnpackedDualTensor(tensor, None)
    tangent = tangent_of(tensor)
    # torch's primal is a fresh view without the tangent: an ``Identity`` node when the
    # tensor is in the reverse graph, else a plain alias.
    primal = _wrap(tensor._array, tensor._dtype)
    primal._version_counter = tensor._version_counter
    if tensor.requires_grad:
        node = new_node(_PrimalAlias, (edge(tensor),), tensor._array)
        active, _state.active = _state.active, False
        try:
            set_history(primal, node)
        finally:
            _state.active = active
    return UnpackedDualTensor(primal, tangent)


def _leaf_source(node):
    entry = _state.leaf_sources.get(id(node.variable))
    return entry[1] if entry is not None and entry[0]() is node.variable else None


def _children(node):
    if node.__class__ is _FwLink:
        return (node.target,)
    if node.__class__ is AccumulateGrad:
        return (_leaf_source(node),)
    return node.next_functions


def _tangents(root):
    """Per output of ``root``, its tangent (or None), computed children first, memoized."""
    cache = _state.cache
    stack = [(root, False)]
    active, _state.active = _state.active, False  # the formulas' own ops record normally
    try:
        while stack:
            node, expanded = stack.pop()
            if node in cache:
                continue
            cls = node.__class__
            if cls is _DualLeaf:
                cache[node] = [node.tangent if node.level == _state.level else None]
                continue
            if (cls is _PrimalAlias or (cls is AccumulateGrad and _leaf_source(node) is None)
                    or node in _state.tangent_nodes):
                cache[node] = None
                continue
            children = _children(node)
            if not expanded:
                stack.append((node, True))
                stack.extend((child, False) for child, _ in children
                             if child is not None and child not in cache)
                continue
            inputs = []
            for child, nr in children:
                child_tangents = cache.get(child) if child is not None else None
                inputs.append(child_tangents[nr] if child_tangents is not None else None)
            if all(t is None for t in inputs):
                cache[node] = None
            elif cls is _FwLink or cls is AccumulateGrad:
                cache[node] = inputs
            else:
                cache[node] = _jvp(node, inputs)
    finally:
        _state.active = active
    return cache[root]


def _jvp(node, input_tangents: list) -> list:
    """The tangents of ``node``'s outputs from its inputs' tangents.

    A floating output of a node some of whose inputs carry tangents gets a tangent (zeros
    where the op is locally constant), as in torch.
    """
    from ember.autograd.function import BackwardCFunction

    if isinstance(node, BackwardCFunction):
        if _has_own_jvp(node):
            return _function_jvp(node, input_tangents)
        if not node._forward_cls.__module__.startswith("ember."):  # a user's Function
            raise NotImplementedError(
                "You must implement the jvp function for custom autograd.Function to use it "
                "with forward mode AD.")
    _check_forward_support(node)
    rule = _RULES.get(node.name())
    result = rule(node, input_tangents) if rule is not None else NotImplemented
    if result is NotImplemented:
        result = _jvp_by_double_vjp(node, input_tangents)
    like = next(t for t in input_tangents if t is not None)
    return [r if r is not None else _zeros(shape, dtype, like)
            for r, (shape, dtype) in zip(result, node._out_meta)]


# Ops torch's forward mode refuses (no forward formula): ember refuses them too, naming the op
# as torch does, although the double-vjp could give their JVP.
_NO_FORWARD = {
    "CdistBackward0": "_cdist_forward",
    "EuclideanDistBackward0": "_euclidean_dist",
    "CholeskyBackward0": "cholesky",
    "RreluWithNoiseBackward1": "rrelu_with_noise_",
    "MultiMarginLossBackward0": "multi_margin_loss",
    "MultilabelMarginLossBackward0": "multilabel_margin_loss_forward",
    "CtcLossBackward0": "_ctc_loss",
    "AsinhBackward1": "asinh_",
    "AcoshBackward1": "acosh_",
    "AtanhBackward1": "atanh_",
}


def _check_forward_support(node) -> None:
    name = node.name()
    op = _NO_FORWARD.get(name)
    if op is None and any(c.__name__ == "_NoDerivative" for c in type(node).__mro__):
        op = node.op
    if op is not None:
        raise NotImplementedError(
            f"Trying to use forward AD with {op} that does not support it because it has not "
            "been implemented yet.\nember follows torch here: this op has no forward-mode rule.")
    if name == "torch::autograd::NotImplemented":
        raise NotImplementedError(
            f"Trying to use forward AD with aten::{node.op} that does not support it.")


def _zeros(shape, dtype, like):
    from ember._dtype import from_numpy_dtype
    from ember._tensor import _wrap

    dtype = np.dtype(dtype) if dtype is not None else like._array.dtype
    if dtype.kind != "f":  # e.g. x.eq_(y): a bool result written into a float tensor
        dtype = like._array.dtype
    return _wrap(np.zeros(shape, dtype), from_numpy_dtype(dtype))


# ----- explicit JVP rules: ops whose backward formula cannot give the JVP -----------------------
# (torch's reverse mode rejects an index smaller than src in scatter's backward, pixel_shuffle's
# backward of an empty gradient, and differentiating hardsigmoid's backward; its forward mode
# has rules for all of them.) They run on arrays: tangents carry no graph of their own here.
def _array(t, shape, dtype):
    return t._array if t is not None else np.zeros(shape, dtype)


def _wrap_like(array, dtype):
    from ember._dtype import from_numpy_dtype
    from ember._tensor import _wrap

    array = np.asarray(array, dtype=dtype)
    return _wrap(array, from_numpy_dtype(array.dtype))


def _scatter_jvp(node, tangents, add: bool) -> list:
    (shape, dtype), = node._out_meta
    out = _array(tangents[0], shape, dtype).reshape(shape or (1,)).copy()
    if len(node.next_functions) > 1:  # a src tensor (not a scalar value)
        src_shape = node.src_shape or (1,)
        src = _array(tangents[1], src_shape, dtype).reshape(src_shape)
        region = src[tuple(slice(0, n) for n in node.index_shape)]
        if region.size:
            if add:
                np.add.at(out, node.key, region)
            else:
                out[node.key] = region
    elif not add:
        out[node.key] = 0  # overwritten by a number
    return [_wrap_like(out.reshape(shape), dtype)]


def _scatter_reduce_jvp(node, tangents) -> list:
    # torch's forward mode gives these a zero tangent (prod too, though its double backward
    # has the true JVP): ember follows the forward mode
    if node.reduce in ("max", "min", "prod"):
        return [None]
    return NotImplemented


def _pixel_jvp(down: bool):
    def rule(node, tangents) -> list:
        from ember.nn import functional as F

        t = tangents[0].detach()
        if down:
            return [F.pixel_unshuffle(t, node.downscale_factor)]
        return [F.pixel_shuffle(t, node.upscale_factor)]

    return rule


def _hardsigmoid_jvp(node, tangents) -> list:
    x = node.self_.tensor._array
    t = tangents[0]._array
    return [_wrap_like(np.where((x > -3) & (x < 3), t / 6, 0), x.dtype)]


def _det_jvp(node, tangents) -> list:
    # det(A) * trace(A^-1 dA); a singular A gets 0, as torch's forward mode gives
    a = node.A.tensor._array
    det = np.linalg.det(a)
    da = tangents[0]._array
    singular = det == 0
    safe = np.where(singular[..., None, None], np.eye(a.shape[-1], dtype=a.dtype), a)
    trace = np.trace(np.linalg.solve(safe, da), axis1=-2, axis2=-1) if a.size else 0 * det
    return [_wrap_like(np.where(singular, 0, det * trace), a.dtype)]


def _xlogy_np(x, y):
    with np.errstate(all="ignore"):
        return np.where(np.isnan(y), np.nan, np.where(x == 0, 0.0, x * np.log(y)))


def _xlogy_jvp(node, tangents) -> list:
    # torch's rule: xlogy(self_t, other) (0 where self == 0 and other <= 0) + other_t * self /
    # other. The backward formula's xlogy(grad, other) has a kink at grad == 0, exactly where
    # the double-vjp evaluates it.
    (shape, dtype), = node._out_meta
    x = node.self_.tensor._array
    scalar_other = len(node.next_functions) == 1
    y = np.asarray(node.other if scalar_other else node.other.tensor._array)
    out = np.zeros(shape, dtype)
    with np.errstate(all="ignore"):
        if tangents[0] is not None:
            out = out + np.where((x == 0) & (y <= 0), 0.0, _xlogy_np(tangents[0]._array, y))
        if not scalar_other and tangents[1] is not None:
            out = out + tangents[1]._array * x / y
    return [_wrap_like(np.broadcast_to(out, shape), dtype)]


def _prelu_jvp(node, tangents) -> list:
    # torch's rule: the tangent of x where x >= 0 (its backward takes weight's slope at 0)
    (shape, dtype), = node._out_meta
    x = node.self_.tensor._array
    w = node.weight.tensor._array.reshape(node.weight_view)
    tx = _array(tangents[0], x.shape, dtype)
    tw = _array(tangents[1], w.shape, dtype).reshape(node.weight_view)
    return [_wrap_like(np.where(x >= 0, tx, w * tx + tw * x), dtype)]


def _nll_loss_jvp(node, tangents) -> list:
    # torch's rule, nll_loss of the tangent: linear, and nan for a mean over zero total weight
    # (where the backward formula, as torch's, gives 0)
    (shape, dtype), = node._out_meta
    t = tangents[0]._array
    index = np.asarray(node.index)
    picked = np.take_along_axis(t, index, node.class_dim) if t.size else np.zeros(index.shape)
    coef = -1 if node.coef is None else node.coef  # None: every weight one, none ignored
    values = coef * np.squeeze(picked, node.class_dim)
    if node.reduction == "none":
        out = values
    else:
        with np.errstate(all="ignore"):
            out = values.sum()
            if node.reduction == "mean":
                out = out / node.total_weight
    return [_wrap_like(np.reshape(out, shape), dtype)]


def _index_fill_jvp(node, tangents) -> list:
    # torch's rule: the tangent filled with the value's tangent (its backward refuses a
    # negative index for the value's gradient)
    (shape, dtype), = node._out_meta
    out = _array(tangents[0], shape, dtype).reshape(shape or (1,)).copy()
    value = tangents[1] if len(tangents) > 1 else None
    out[node.key] = value._array if value is not None else 0
    return [_wrap_like(out.reshape(shape), dtype)]


def _logcumsumexp_jvp(node, tangents) -> list:
    # torch's rule: cumsum(exp(x - max) * t) / cumsum(exp(x - max)) (0 where that sum is
    # below 1e-13). The backward formula works in log space of the gradient, which the
    # double-vjp evaluates at a zero gradient, where it has no derivative.
    x = node.self_.tensor._array
    t = tangents[0]._array
    shape, dim = x.shape, node.dim
    x1, t1 = np.atleast_1d(x), np.atleast_1d(t)
    with np.errstate(all="ignore"):
        e = np.exp(x1 - np.max(x1, axis=dim, keepdims=True)) if x1.size else x1
        total = np.cumsum(e, axis=dim)
        out = np.where(total < 1e-13, 0.0, np.cumsum(e * t1, axis=dim)) / total
    return [_wrap_like(out.reshape(shape), x.dtype)]


def _addcdiv_jvp(node, tangents) -> list:
    # With an integer tensor2 torch's backward refuses (value / tensor2 into an integer), its
    # forward mode does not: self_t + value * tensor1_t / tensor2 (tensor2 has no tangent).
    if node.integer_tensor2 is None:
        return NotImplemented  # the backward formula gives it
    (shape, dtype), = node._out_meta
    divisor = node.tensor2.tensor._array
    out = np.zeros(shape, dtype)
    with np.errstate(all="ignore"):
        if tangents[0] is not None:
            out = out + tangents[0]._array
        if tangents[1] is not None:
            out = out + node.value * tangents[1]._array / divisor
    return [_wrap_like(np.broadcast_to(out, shape), dtype)]


_RULES = {
    "AddcdivBackward0": _addcdiv_jvp,
    "LogcumsumexpBackward0": _logcumsumexp_jvp,
    "IndexFillBackward0": _index_fill_jvp,
    "IndexFillBackward1": _index_fill_jvp,
    "NllLossBackward0": _nll_loss_jvp,
    "NllLoss2DBackward0": _nll_loss_jvp,
    "XlogyBackward0": _xlogy_jvp,
    "XlogyBackward2": _xlogy_jvp,
    "PreluKernelBackward0": _prelu_jvp,
    "ScatterBackward0": lambda node, t: _scatter_jvp(node, t, add=False),
    "ScatterAddBackward0": lambda node, t: _scatter_jvp(node, t, add=True),
    "ScatterReduceBackward0": _scatter_reduce_jvp,
    "PixelShuffleBackward0": _pixel_jvp(down=False),
    "PixelUnshuffleBackward0": _pixel_jvp(down=True),
    "HardsigmoidBackward0": _hardsigmoid_jvp,
    "LinalgDetBackward0": _det_jvp,
}


def _jvp_by_double_vjp(node, input_tangents: list) -> list:
    from ember import zeros
    from ember._dtype import from_numpy_dtype
    from ember.autograd import grad
    from ember.autograd.grad_mode import enable_grad
    from ember.ops._tensor_math import TENSOR_MATH

    with enable_grad():
        like = next(t for t in input_tangents if t is not None)._array.dtype
        dummies = [
            zeros(shape, dtype=from_numpy_dtype(dtype if np.dtype(dtype).kind == "f" else like),
                  requires_grad=True)
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
        # create_graph: a tangent that depends on tensors requiring grad keeps that graph, so
        # it can be differentiated in reverse mode (reverse over forward), as torch's does
        result = grad(outs, dummies, weights, allow_unused=True, create_graph=True)
    skip = {d._grad_accumulator() for d in dummies}
    keep = node not in _state.fw_nodes  # (recorded under no_grad: torch's tangent has no graph)
    tangents = []
    for r in result:
        if r is not None:
            if keep and r.grad_fn is not None and _reaches_real_leaf(r.grad_fn, skip):
                _state.tangent_nodes.add(r.grad_fn)  # (a tangent has no tangent itself)
            else:
                r = r.detach()
        tangents.append(r)
    return tangents


def _reaches_real_leaf(root, skip: set) -> bool:
    """Whether backward from ``root`` reaches a leaf that requires grad (``skip`` aside)."""
    reaches = _state.reaches
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if node in reaches:
            continue
        if node.__class__ is AccumulateGrad:
            reaches[node] = node not in skip
            continue
        children = [c for c, _ in node.next_functions if c is not None]
        if not expanded:
            stack.append((node, True))
            stack.extend((c, False) for c in children if c not in reaches)
            continue
        reaches[node] = any(reaches.get(c, False) for c in children)
    return reaches[root]


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
    if len(result) != len(node._out_meta):
        raise RuntimeError(f"Function's jvp returned an invalid number of forward gradients "
                           f"(expected {len(node._out_meta)} but got {len(result)})")
    for r, (shape, _) in zip(result, node._out_meta):
        if r is not None and tuple(r.shape) != tuple(shape):
            raise RuntimeError(
                "Trying to set a forward gradient that has a different size than that of the "
                f"original Tensor, this is not supported. Tensor is of size {list(shape)} while "
                f"the given forward gradient is of size {list(r.shape)}.")
    return [r.detach() if r is not None else None for r in result]
