"""How much autograd graph is alive, and the classic leak that keeps it alive.

``graph_stats()`` counts the backward nodes still referenced somewhere and the bytes of the
values they saved. The leak: ``total_loss += loss`` in a training loop records an addition on
``loss``'s graph, so every step's graph stays reachable from ``total_loss``. An optimizer
checks for it at steps 2, 10 and 100 (looking at the calling code's variables) and warns once,
naming the variable that holds the graphs and the line that last accumulated into it (the
creation site recorded on the node at the root of its graph).
"""

from __future__ import annotations

import gc
import linecache
import warnings
import weakref
from dataclasses import dataclass

import numpy as np

from ember._hints import site_location

__all__ = ["GraphStats", "check_for_kept_graphs", "graph_stats", "note_backward_roots"]

_CHECK_AT_STEPS = (2, 10, 100)
_warned = False
BACKWARD_ROOTS: weakref.WeakSet = weakref.WeakSet()  # roots of backward passes run so far


@dataclass
class GraphStats:
    """Live backward nodes, how many have already been through a backward pass (their saved
    values freed), and the bytes of saved values still held."""

    live_nodes: int
    released_nodes: int
    saved_bytes: int

    def __str__(self) -> str:
        return (f"{self.live_nodes} live autograd nodes ({self.released_nodes} already "
                f"backpropagated), {self.saved_bytes:,} bytes of saved values")


def _nodes() -> list:
    from ember.autograd.graph import Node

    # type(o), not isinstance: isinstance reads __class__, which some objects compute (and
    # warn about, like torch's deprecated aliases) when the whole heap is walked.
    return [o for o in gc.get_objects() if issubclass(type(o), Node)]


def _saved_arrays(value, found: dict) -> None:
    """Collect (by id) the arrays behind a saved value: a SavedTensor (read through its slots,
    so no unpack hook runs), a tensor, an array, or a tuple/list of them."""
    from ember._tensor import Tensor
    from ember.autograd.graph import SavedTensor

    if isinstance(value, SavedTensor):
        for slot in (SavedTensor.tensor, SavedTensor.array):
            try:
                _saved_arrays(slot.__get__(value), found)
            except AttributeError:  # a slot never set (an input keeps no array)
                pass
    elif isinstance(value, Tensor):
        found[id(value._array)] = value._array
    elif isinstance(value, np.ndarray):
        found[id(value)] = value
    elif isinstance(value, (tuple, list)):
        for item in value:
            _saved_arrays(item, found)


def _saved_bytes(nodes) -> int:
    """Bytes of the arrays the nodes' saved values hold, each array counted once (``x * x``
    saves ``x`` twice, one array)."""
    found: dict = {}
    for node in nodes:
        for name in getattr(node, "_saved_fields", ()):
            _saved_arrays(getattr(node, name, None), found)
    return sum(a.nbytes for a in found.values())


def graph_stats() -> GraphStats:
    """Count the autograd graph still alive in this process (walks all objects: slow-ish)."""
    nodes = _nodes()
    released = sum(1 for n in nodes if getattr(n, "_released", False))
    return GraphStats(len(nodes), released, _saved_bytes(nodes))


def note_backward_roots(roots) -> None:
    """Called by the engine with the nodes a backward pass starts from."""
    for root in roots:
        if root is not None:
            BACKWARD_ROOTS.add(root)


def check_for_kept_graphs(optimizer, step_count: int, frame) -> None:
    """Warn once if a variable of the calling code holds a tensor whose graph joins the
    graphs of two or more earlier backward passes and reaches ``optimizer``'s parameters
    (called by ``Optimizer.step`` on a few step counts only)."""
    global _warned
    if _warned or step_count not in _CHECK_AT_STEPS or not BACKWARD_ROOTS:
        return
    from ember._tensor import Tensor  # (this module is imported by the engine, before Tensor)

    params = {id(p) for group in optimizer.param_groups for p in group["params"]}
    roots = {id(r) for r in BACKWARD_ROOTS}
    while frame is not None:
        for scope in (frame.f_locals, frame.f_globals):
            for name, value in list(scope.items()):
                fn = value.grad_fn if isinstance(value, Tensor) else None
                if fn is None or id(fn) in roots:
                    continue
                if _roots_reached(fn, roots) >= 2 and _reaches(fn, params):
                    _warned = True
                    warnings.warn(_kept_graph_message(name, fn, frame), UserWarning,
                                  stacklevel=3)
                    return
        frame = frame.f_back


def _kept_graph_message(name: str, fn, frame) -> str:
    """The warning's text: where the tensor was last accumulated (the creation site of the
    node at its root, e.g. the AddBackward0 of ``total_loss += loss``), or, when that was not
    recorded, where the variable was found."""
    location = site_location(fn)
    if location is None:
        where = (f"(a variable of {frame.f_code.co_name}, seen at "
                 f"{frame.f_code.co_filename}:{frame.f_lineno})")
    else:
        filename, line, function = location
        text = linecache.getline(filename, line).strip()
        where = (f"(a variable of {frame.f_code.co_name}, accumulated at {filename}:{line} in "
                 f"{function}{': ' + text if text else ''})")
    return (f"The tensor `{name}` {where} keeps the autograd graphs of earlier training steps "
            "alive, so memory grows with every step.\nember hint: this usually comes from "
            "accumulating a loss tensor, e.g. `total_loss += loss`; accumulate `loss.item()` (a "
            "number) or `loss.detach()` instead.")


def _roots_reached(start, roots: set) -> int:
    """How many earlier backward passes' graphs ``start``'s graph reaches (stopping at each)."""
    seen, stack, count = set(), [start], 0
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        if id(fn) in roots:
            count += 1
            continue
        stack.extend(nf for nf, _ in fn.next_functions if nf is not None)
    return count


def _reaches(root, params: set) -> bool:
    seen, stack = set(), [root]
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        variable = getattr(fn, "variable", None)
        if variable is not None and id(variable) in params:
            return True
        stack.extend(nf for nf, _ in fn.next_functions if nf is not None)
    return False
