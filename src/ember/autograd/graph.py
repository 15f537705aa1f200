"""The autograd graph: nodes, edges, and the values nodes save for backward.

A node is the backward of one forward op. It points to the nodes of the op's inputs through
``next_functions`` (pairs ``(node, input_nr)``, ``(None, 0)`` for inputs that need no
gradient) and never to its own outputs, so the graph has no reference cycles and is freed
by reference counting alone as soon as the last output tensor dies.

Each node subclass (``MulBackward0``, ``ExpBackward0``, ...) lives next to its forward op in
``ember.ops`` and implements ``backward(grad, xp)``: one formula, written once against the
``xp`` namespace, that runs on NumPy arrays in an ordinary backward and on ember tensors
(recording a new graph) under ``create_graph=True``.
"""

from __future__ import annotations

import itertools
import re

_next_sequence_nr = itertools.count().__next__

# Message texts follow torch, so users find the same answers when they search for them.
FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)
_MODIFIED_HINT = (
    " Hint: enable anomaly detection to find the operation that failed to compute its "
    "gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False)."
)


class Node:
    """One backward function in the graph.

    ``_out_meta`` holds ``(shape, numpy dtype)`` of each forward output: the engine uses it
    to sum a broadcast gradient back to the output's shape and to cast it to its dtype, so
    no formula has to.
    """

    __slots__ = (
        "next_functions",
        "_sequence_nr",
        "_out_meta",
        "_released",
        "_retained_tensors",  # set only by Tensor.retain_grad(): {output_nr: weakref}
        "__weakref__",
    )
    _saved_fields: tuple[str, ...] = ()  # slots holding saved values, dropped after backward
    num_outputs = 1

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {id(self):#x}>"

    def backward(self, grad, xp):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def needs_input_grad(self, i: int) -> bool:
        return self.next_functions[i][0] is not None

    def release_saved(self) -> None:
        """Drop saved values (after a backward without ``retain_graph``)."""
        if self._saved_fields:
            for field in self._saved_fields:
                setattr(self, field, None)
            self._released = True

    def _short_name(self) -> str:
        # The name torch's "modified by an inplace operation" message uses.
        return re.sub(r"Backward\d*$", "", self.name())


def new_node(cls: type[Node], next_functions: tuple, out) -> Node:
    """Create a node for ``out``'s op; ``out`` (an ndarray) gives the output's metadata."""
    node = object.__new__(cls)
    node.next_functions = next_functions
    node._sequence_nr = _next_sequence_nr()
    node._out_meta = ((out.shape, out.dtype),)
    node._released = False
    return node


class AccumulateGrad(Node):
    """The sink of a leaf tensor: adds the incoming gradient into ``variable.grad``."""

    __slots__ = ("variable",)

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def __init__(self, variable) -> None:
        self.variable = variable
        self.next_functions = ()
        # Leaves run as soon as they are ready, as torch gives them the highest priority
        # (kept unique so the ready heap never compares two nodes).
        self._sequence_nr = (1 << 62) + _next_sequence_nr()
        self._out_meta = ((variable._array.shape, variable._array.dtype),)
        self._released = False

    def backward(self, grad, xp):  # the engine accumulates directly; see engine._store_grad
        raise RuntimeError("AccumulateGrad is applied by the engine")


class SavedTensor:
    """A tensor saved for backward, with the version it had when saved.

    An input is kept as the tensor itself; an output is kept as its array and version
    counter only (keeping the tensor would make a cycle output -> node -> output), and is
    re-wrapped with the node as its ``grad_fn`` when a formula needs it as a tensor.
    """

    __slots__ = ("tensor", "array", "dtype", "version_counter", "version", "output_nr")

    def __init__(self, tensor, is_output: bool = False) -> None:
        self.version_counter = tensor._version_counter
        self.version = self.version_counter[0]
        if is_output:
            self.tensor = None
            self.array = tensor._array
            self.dtype = tensor._dtype
            self.output_nr = tensor._output_nr
        else:
            self.tensor = tensor

    def check_version(self, node: Node | None = None) -> None:
        """Raise torch's error if the tensor changed in place since it was saved.

        ``node`` is the node that saved it, named in the message when the tensor is its output.
        """
        if self.version_counter[0] != self.version:
            raise RuntimeError(self._modified_message(node))

    def _modified_message(self, node: Node | None) -> str:
        tensor = self.tensor
        if tensor is None:
            array, dtype, grad_fn, output_nr = self.array, self.dtype, node, self.output_nr
        else:
            array, dtype = tensor._array, tensor._dtype
            grad_fn, output_nr = tensor.grad_fn, tensor._output_nr
        shape = ", ".join(str(s) for s in array.shape)
        where = ""
        if grad_fn is not None:
            name = grad_fn._short_name()
            where = f", which is output {output_nr} of {name},"
        return (
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [torch.{dtype._legacy_name} [{shape}]]{where} is at version "
            f"{self.version_counter[0]}; expected version {self.version} instead." + _MODIFIED_HINT
        )
