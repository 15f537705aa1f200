"""The backward engine.

Given root edges and their gradients it runs every node of the graph exactly once, after all
the gradients flowing into it have arrived:

1. Walk the graph from the roots (an explicit stack, never recursion) and count, for each node,
   how many edges point into it.
2. Keep a heap of ready nodes keyed by creation order, newest first (torch's order). Pop a
   node, hand its summed input gradient to its formula, and for each output gradient:
   sum it to the receiving node's shape (undoing broadcasting), cast it to its dtype, add it
   into that node's buffer, and decrement its count; at zero the node is ready.
3. After a node ran, drop what it saved unless ``retain_graph``.

With ``inputs`` (``autograd.grad`` and ``backward(inputs=...)``) only nodes on a path to an
input run, and the gradient reaching each input is captured instead of (or as well as)
accumulated.
"""

from __future__ import annotations

from heapq import heappop, heappush
from sys import getrefcount

import numpy as np

from ember._graph_health import note_backward_roots
from ember._hints import with_hint
from ember.autograd.anomaly_mode import anomaly_call, anomaly_state
from ember.autograd.grad_mode import grad_state
from ember.autograd.graph import FREED_MESSAGE, AccumulateGrad
from ember.autograd.xp import ARRAY_MATH


def _count_dependencies(roots) -> dict:
    dependencies = {}
    stack = []
    for node in roots:
        if node not in dependencies:
            dependencies[node] = 0
            stack.append(node)
    push, pop = stack.append, stack.pop
    while stack:
        for child, _ in pop().next_functions:
            if child in dependencies:
                dependencies[child] += 1
            elif child is not None:  # (None: an input needing no gradient)
                dependencies[child] = 1
                push(child)
    return dependencies


def _nodes_leading_to(targets, dependencies) -> set:
    """Every node from which some target node can be reached (targets included)."""
    parents: dict = {}
    for node in dependencies:
        for child, _ in node.next_functions:
            if child is not None:
                parents.setdefault(child, []).append(node)
    needed = set()
    stack = [t for t in targets if t in dependencies]
    while stack:
        node = stack.pop()
        if node in needed:
            continue
        needed.add(node)
        stack.extend(parents.get(node, ()))
    return needed


def run_backward(
    root_edges,
    root_grads,
    retain_graph: bool,
    create_graph: bool,
    capture_edges=None,
    accumulate: bool = True,
):
    """Run the backward pass; return the gradients captured at ``capture_edges``.

    ``root_grads`` are arrays, or tensors when ``create_graph`` (then every formula records
    a graph of its own). ``capture_edges`` are ``(node, output_nr)`` pairs; with
    ``accumulate`` False (``autograd.grad``) leaves' ``.grad`` are left untouched.
    """
    if create_graph:
        from ember.ops._tensor_math import TENSOR_MATH as xp
    else:
        xp = ARRAY_MATH
    roots = [node for node, _ in root_edges]
    if not retain_graph:  # remembered (weakly) so an optimizer can spot graphs kept alive
        note_backward_roots(roots)
    dependencies = _count_dependencies(roots)

    needed = None
    captured = None
    if capture_edges is not None:
        targets = {node for node, _ in capture_edges if node is not None}
        needed = _nodes_leading_to(targets, dependencies)
        captured = {edge: None for edge in capture_edges}

    buffers: dict = {}
    for (node, nr), grad in zip(root_edges, root_grads):
        _add_to_buffer(buffers, node, nr, grad, xp)
    heap = []
    for node in dict.fromkeys(roots):
        if dependencies[node] == 0 and (needed is None or node in needed):
            heappush(heap, (-node._sequence_nr, node, buffers.pop(node, None)))

    previous_mode = grad_state.enabled
    grad_state.enabled = create_graph
    anomaly = anomaly_state.enabled
    pop_buffer, get_buffer = buffers.pop, buffers.get
    wrap = _tensor_module()._wrap
    errstate = None
    try:
        if captured is None and not create_graph and not anomaly:
            _plain_pass(heap, buffers, dependencies, retain_graph, wrap)
        if heap:
            # Formulas meet kinks (sqrt at 0, x / 0); like torch, a backward pass gives
            # inf/nan there without warnings.
            errstate = np.errstate(all="ignore")
            errstate.__enter__()
        while heap:  # every case (or the rest of the pass after a node with hooks)
            _, node, grad = heappop(heap)
            hooks = getattr(node, "_hooks", None)
            is_leaf = node.__class__ is AccumulateGrad
            if grad is not None:
                if hooks is not None:
                    grad = _run_tensor_hooks(node, grad, xp)
                if is_leaf and node.variable._hooks is not None:
                    grad = _run_leaf_hooks(node, grad, xp)
            if captured is not None:
                if node.num_outputs == 1:
                    if (node, 0) in captured:
                        captured[(node, 0)] = grad
                else:
                    for nr in range(node.num_outputs):
                        if (node, nr) in captured:
                            captured[(node, nr)] = grad[nr] if grad is not None else None

            if is_leaf:
                if grad is not None and hooks is not None and hooks.pre:
                    grad = _run_node_pre_hooks(node, hooks, grad, xp)
                if accumulate and grad is not None and (needed is None or node in targets):
                    variable = node.variable
                    if (variable._grad is None and not create_graph
                            and getrefcount(grad) <= _LOOP_REFS
                            and _stealable(grad, variable._array)):
                        # the first gradient, held by nothing else: it becomes .grad as it is
                        variable._grad = wrap(grad, variable._dtype)
                    else:
                        _store_grad(variable, grad, create_graph, steal=True)
                    if variable._hooks is not None:
                        for hook in list(variable._hooks.post_accumulate.values()):
                            _check_post_accumulate_result(hook(variable))
                if grad is not None and hooks is not None and hooks.post:
                    outputs = (_as_tensor(grad, node, 0, xp),)
                    for hook in list(hooks.post.values()):
                        hook((), outputs)
                continue
            if needed is not None and not any(
                child in needed for child, _ in node.next_functions
            ):
                # A captured input's own node, with nothing needed below it: torch does not run
                # it (so its saved values stay for a later backward).
                continue
            if grad is None and not node.runs_without_grads:
                continue_with = (None,) * len(node.next_functions)
            else:
                if grad is None:  # a custom Function's node, with every gradient undefined
                    grad = None if node.num_outputs == 1 else [None] * node.num_outputs
                try:
                    if node._released:
                        raise RuntimeError(FREED_MESSAGE)
                    if hooks is not None and (hooks.pre or hooks.post):
                        continue_with = _call_with_node_hooks(node, hooks, grad, xp, anomaly)
                    elif anomaly:
                        continue_with = anomaly_call(node, grad, xp)
                    else:
                        continue_with = node.backward(grad, xp)
                except RuntimeError as error:  # torch's message, then ember's hint lines
                    raise with_hint(error, node) from None
                if not retain_graph:
                    node.release_saved()

            for (child, nr), g in zip(node.next_functions, continue_with):
                if child is None or (needed is not None and child not in needed):
                    continue
                if g is not None:
                    if child.num_outputs == 1:
                        # The common case, inlined: one output, gradient already conforming.
                        shape, dtype = child._out_meta[0]
                        if g.shape != shape or (g.dtype is not dtype and g.dtype != dtype):
                            g = xp.conform(g, shape, dtype)
                        existing = get_buffer(child)
                        buffers[child] = g if existing is None else existing + g
                    else:
                        _add_to_buffer(buffers, child, nr, g, xp)
                count = dependencies[child]
                if count == 1:  # its last edge: ready (the count is not read again)
                    heappush(heap, (-child._sequence_nr, child, pop_buffer(child, None)))
                else:
                    dependencies[child] = count - 1
            # Hold no stray reference to a gradient: a leaf may then take it without a copy.
            continue_with = g = None
    finally:
        if errstate is not None:
            errstate.__exit__(None, None, None)
        grad_state.enabled = previous_mode

    if captured is None:
        return None
    return [captured[edge] for edge in capture_edges]


@np.errstate(all="ignore")  # (see run_backward; as a decorator it costs half the with)
def _plain_pass(heap, buffers, dependencies, retain_graph: bool, wrap) -> None:
    """The loop of ``run_backward`` for an ordinary ``backward()``: no gradients captured, no
    ``create_graph``, no anomaly mode. The same steps minus the branches those need, since
    every training step runs this once per node; a gradient reaching a node by its last edge
    goes into the heap with it, past the buffers. At a node with hooks (or an undefined
    gradient) it puts the node back and returns: the general loop goes on from there."""
    xp = ARRAY_MATH
    while heap:
        _, node, grad = heappop(heap)
        if grad is None or node._hooks is not None:
            break
        if node.__class__ is AccumulateGrad:
            variable = node.variable
            if variable._hooks is not None:
                break
            if (variable._grad is None and getrefcount(grad) <= _LOOP_REFS
                    and _stealable(grad, variable._array)):
                variable._grad = wrap(grad, variable._dtype)  # (see run_backward)
            else:
                _store_grad(variable, grad, False, steal=True)
            continue
        try:
            if node._released:
                raise RuntimeError(FREED_MESSAGE)
            continue_with = node.backward(grad, xp)
        except RuntimeError as error:
            raise with_hint(error, node) from None
        if not retain_graph:
            node.release_saved()
        for (child, nr), g in zip(node.next_functions, continue_with):
            if child is None:
                continue
            count = dependencies[child]
            if g is not None:
                if child.num_outputs != 1:
                    _add_to_buffer(buffers, child, nr, g, xp)
                else:
                    shape, dtype = child._out_meta[0]
                    if g.shape != shape or (g.dtype is not dtype and g.dtype != dtype):
                        g = xp.conform(g, shape, dtype)
                    if child in buffers:
                        g = buffers.pop(child) + g
                    if count == 1:
                        heappush(heap, (-child._sequence_nr, child, g))
                    else:
                        buffers[child] = g
                        dependencies[child] = count - 1
                    continue
            if count == 1:
                heappush(heap, (-child._sequence_nr, child, buffers.pop(child, None)))
            else:
                dependencies[child] = count - 1
        continue_with = g = None
    else:
        return
    heappush(heap, (-node._sequence_nr, node, grad))  # handed back to the general loop


def _add_to_buffer(buffers: dict, node, nr: int, grad, xp) -> None:
    """Conform ``grad`` to the node's output ``nr`` and add it into the node's buffer."""
    shape, dtype = node._out_meta[nr]
    if grad.shape != shape or grad.dtype != dtype:
        grad = xp.conform(grad, shape, dtype)
    if node.num_outputs == 1:
        existing = buffers.get(node)
        buffers[node] = grad if existing is None else existing + grad
    else:
        slots = buffers.get(node)
        if slots is None:
            slots = buffers[node] = [None] * node.num_outputs
        slots[nr] = grad if slots[nr] is None else slots[nr] + grad


def _as_tensor(g, like_node, nr, xp):
    """Hooks see tensors: wrap an array-world gradient."""
    if g is None or xp is not ARRAY_MATH:
        return g
    from ember._dtype import from_numpy_dtype
    from ember._tensor import _wrap

    return _wrap(g, from_numpy_dtype(g.dtype))


def _from_tensor(t, xp):
    return t if t is None or xp is not ARRAY_MATH else t._array


def _checked_hook_result(hook, old, new):
    """torch's checks on what a tensor hook returned."""
    from ember._tensor import Tensor

    if new is None:
        return old
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(new, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{type(new).__name__}'")
    if new._array.shape != old._array.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value")
    if new._dtype is not old._dtype:
        raise RuntimeError(
            f"hook '{name}' has changed the type of value (was torch.{old._dtype._legacy_name} "
            f"got torch.{new._dtype._legacy_name})"
        )
    return new


def _run_hook_list(hooks, g):
    for hook in list(hooks.values()):
        g = _checked_hook_result(hook, g, hook(g))
    return g


def _run_tensor_hooks(node, grad, xp):
    """Hooks registered on the node's output tensors, then ``retain_grad`` (always last)."""
    hooks = node._hooks
    single = node.num_outputs == 1
    if hooks.tensor:
        grads = [grad] if single else list(grad)
        for nr, per_tensor in hooks.tensor.items():
            if per_tensor and grads[nr] is not None:
                g = _run_hook_list(per_tensor, _as_tensor(grads[nr], node, nr, xp))
                grads[nr] = _from_tensor(g, xp)
        grad = grads[0] if single else grads
    for nr, ref in list(hooks.retained.items()):
        tensor = ref()
        if tensor is None or tensor.grad_fn is not node:
            continue
        g = grad if single else grad[nr]
        if g is not None:
            _store_grad(tensor, g, xp is not ARRAY_MATH)
    return grad


def _run_leaf_hooks(node, grad, xp):
    hooks = node.variable._hooks.pre
    if not hooks:
        return grad
    return _from_tensor(_run_hook_list(hooks, _as_tensor(grad, node, 0, xp)), xp)


def _call_with_node_hooks(node, hooks, grad, xp, anomaly):
    """Node pre-hooks, the node, then its post-hooks (each may replace the gradients)."""
    single = node.num_outputs == 1
    grad_outputs = tuple(
        _as_tensor(g, node, nr, xp) for nr, g in enumerate([grad] if single else grad)
    )
    grad_outputs = _pre_hooked(hooks, grad_outputs)
    args = [_from_tensor(g, xp) for g in grad_outputs]
    grad = args[0] if single else args
    continue_with = anomaly_call(node, grad, xp) if anomaly else node.backward(grad, xp)
    if hooks.post:
        grad_inputs = tuple(_as_tensor(g, node, nr, xp) for nr, g in enumerate(continue_with))
        for hook in list(hooks.post.values()):
            result = hook(grad_inputs, grad_outputs)
            if result is not None:
                grad_inputs = _checked_tuple(hook, grad_inputs, result)
        continue_with = [_from_tensor(g, xp) for g in grad_inputs]
    return continue_with


def _pre_hooked(hooks, grad_outputs: tuple) -> tuple:
    """``grad_outputs`` after the node's pre-hooks, each of which may replace them."""
    for hook in list(hooks.pre.values()):
        result = hook(grad_outputs)
        if result is not None:
            grad_outputs = _checked_tuple(hook, grad_outputs, result)
    return grad_outputs


def _run_node_pre_hooks(node, hooks, grad, xp):
    """A leaf's node pre-hooks (``AccumulateGrad.register_prehook``): may replace its grad."""
    return _from_tensor(_pre_hooked(hooks, (_as_tensor(grad, node, 0, xp),))[0], xp)


def _check_post_accumulate_result(result) -> None:
    """A post-accumulate hook must return None: torch's errors for a tensor and for others."""
    if result is None:
        return
    from ember._tensor import Tensor

    if not isinstance(result, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{type(result).__name__}'")
    raise RuntimeError("Tensor post accumulate grad hooks should return None.")


def _checked_tuple(hook, old: tuple, new) -> tuple:
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(new, tuple):
        raise TypeError(f"expected tuple, but hook returned '{type(new).__name__}'")
    if len(new) != len(old):
        raise RuntimeError(
            f"hook '{name}' has returned an incorrect number of values (got {len(new)}, but "
            f"expected {len(old)})"
        )
    return tuple(
        None if n is None else n if o is None else _checked_hook_result(hook, o, n)
        for o, n in zip(old, new)
    )


def _store_grad(tensor, grad, create_graph: bool, steal: bool = False) -> None:
    """``tensor.grad += grad``: in place in an ordinary backward, as a new tensor otherwise.

    A first gradient is copied, since it may alias an array the user passed or another
    ``.grad``, unless ``steal`` (the engine's call, holding exactly one reference to it) and
    nothing else can see the array: as torch's AccumulateGrad, which takes the gradient when
    its use count says it is the only holder.
    """
    _wrap = _TENSOR_MODULE._wrap if _TENSOR_MODULE is not None else _tensor_module()._wrap
    existing = tensor._grad
    if create_graph:
        if existing is None:
            # torch copies the gradient into a fresh tensor (so .grad has CopyBackwards).
            from ember.ops.indexing import copy_

            tensor._grad = copy_(_wrap(np.empty_like(grad._array), grad._dtype), grad)
        else:
            tensor._grad = existing + grad
        return
    if existing is None:
        if steal and getrefcount(grad) <= _ENGINE_REFS and _stealable(grad, tensor._array):
            tensor._grad = _wrap(grad, tensor._dtype)
        else:
            tensor._grad = _wrap(np.array(grad, dtype=tensor._array.dtype, copy=True),
                                 tensor._dtype)
    elif existing._requires_grad:
        tensor._grad = _wrap(existing._array + grad, existing._dtype)
    else:
        np.add(existing._array, grad, out=existing._array, casting="unsafe")
        existing._version_counter[0] += 1


# References to a gradient array while ``_store_grad`` looks at it, when no one else holds it:
# the engine's local variable, ``_store_grad``'s argument and ``getrefcount``'s own; in the
# engine's loop itself, the local variable and getrefcount's.
_ENGINE_REFS = 3
_LOOP_REFS = 2


def _stealable(grad, like: np.ndarray) -> bool:
    """Whether ``grad`` may become ``.grad`` as it is: a writable, C-ordered array of the
    leaf's dtype whose memory no other live array shares (if it is a view, its base has
    no other holder)."""
    if grad.__class__ is not np.ndarray or grad.dtype != like.dtype:
        return False
    flags = grad.flags
    if not (flags.c_contiguous and flags.writeable):
        return False
    if flags.owndata:
        return True
    base = grad.base
    # the base's holders: ``grad`` itself, the local ``base`` and getrefcount's argument
    return base.__class__ is np.ndarray and base.flags.owndata and getrefcount(base) == 3


def _tensor_module():
    """``ember._tensor`` (it imports this package, so it is looked up at first use)."""
    global _TENSOR_MODULE
    if _TENSOR_MODULE is None:
        from ember import _tensor

        _TENSOR_MODULE = _tensor
    return _TENSOR_MODULE


_TENSOR_MODULE = None
