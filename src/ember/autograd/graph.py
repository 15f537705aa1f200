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
from sys import _getframe

from ember._hints import EMBER_FILES, LAST_USER_CODE, USER_FILES, user_site

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
        "_hooks",  # None, or a NodeHooks once a hook or retain_grad() targets the node
        "_anomaly_trace",  # set only in anomaly mode: the forward call's stack
        "_site",  # code object of the user's line that created the node (see ember._hints)
        "_site_offset",  # ... and the bytecode offset in it (no tuple: nodes are made often)
        "__weakref__",
    )
    _saved_fields: tuple[str, ...] = ()  # slots holding saved values, dropped after backward
    num_outputs = 1
    # Whether the engine calls the node when every gradient reaching it is undefined (a
    # custom Function's backward may materialize zeros or see Nones); a built-in formula
    # would only give undefined gradients back, so the engine skips it.
    runs_without_grads = False

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {id(self):#x}>"

    def backward(self, grad, xp):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def register_hook(self, fn) -> RemovableHandle:
        """``fn(grad_inputs, grad_outputs)`` runs after the node; it may return new grad_inputs."""
        return _add_hook(self._node_hooks().post, fn)

    def register_prehook(self, fn) -> RemovableHandle:
        """``fn(grad_outputs)`` runs before the node; it may return new grad_outputs."""
        return _add_hook(self._node_hooks().pre, fn)

    def _node_hooks(self) -> NodeHooks:
        hooks = getattr(self, "_hooks", None)
        if hooks is None:
            hooks = self._hooks = NodeHooks()
        return hooks

    @property
    def metadata(self) -> dict:
        hooks = self._node_hooks()
        if hooks.metadata is None:
            hooks.metadata = {}
        return hooks.metadata

    def needs_input_grad(self, i: int) -> bool:
        return self.next_functions[i][0] is not None

    def release_saved(self) -> None:
        """Drop saved values (after a backward without ``retain_graph``)."""
        if self._saved_fields:
            for field in self._saved_fields:
                setattr(self, field, None)
            self._released = True

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        # Every backward without retain_graph calls release_saved once per node: a class
        # keeping the generic one gets it written out for its own fields (plain attribute
        # stores, ~4x faster than the loop of setattr calls; same effect).
        inherited = cls.release_saved
        if inherited is Node.release_saved or getattr(inherited, "_generated", False):
            if cls._saved_fields:
                cls.release_saved = _release_saved_for(cls._saved_fields)
            else:
                cls.release_saved = Node.release_saved

    def _short_name(self) -> str:
        # The name torch's "modified by an inplace operation" message uses.
        return re.sub(r"Backward\d*$", "", self.name())


def _release_saved_for(fields: tuple[str, ...]):
    """A ``release_saved`` storing None into exactly ``fields`` (names from class bodies)."""
    assert all(field.isidentifier() for field in fields)
    source = (
        "def release_saved(self):\n"
        f"    self.{' = self.'.join(fields)} = None\n"
        "    self._released = True\n"
    )
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102 - fixed template over identifiers checked above
    function = namespace["release_saved"]
    function.__doc__ = Node.release_saved.__doc__
    function._generated = True
    return function


class RemovableHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook out again."""

    _next_id = itertools.count().__next__

    def __init__(self, hooks: dict) -> None:
        self.id = RemovableHandle._next_id()
        self._hooks = hooks

    def remove(self) -> None:
        if self._hooks is not None:
            self._hooks.pop(self.id, None)
            self._hooks = None

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info) -> None:
        self.remove()


def _add_hook(hooks: dict, fn) -> RemovableHandle:
    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle


class NodeHooks:
    """The hooks of one node, kept apart so a node without hooks pays nothing.

    ``tensor``: per output, hooks registered on the output tensor (``Tensor.register_hook``);
    ``retained``: per output, a weak reference to a tensor that ``retain_grad()``-ed;
    ``pre`` / ``post``: ``register_prehook`` / ``register_hook`` on the node itself.
    """

    __slots__ = ("tensor", "retained", "pre", "post", "metadata")

    def __init__(self) -> None:
        self.tensor: dict = {}
        self.retained: dict = {}
        self.pre: dict = {}
        self.post: dict = {}
        self.metadata = None


class LeafHooks:
    """Hooks of a leaf tensor: run before its gradient is accumulated, and after."""

    __slots__ = ("pre", "post_accumulate")

    def __init__(self) -> None:
        self.pre: dict = {}
        self.post_accumulate: dict = {}


def new_node(cls: type[Node], next_functions: tuple, out, site_of: Node | None = None) -> Node:
    """Create a node for ``out``'s op; ``out`` (an ndarray) gives the output's metadata.

    An op recording two nodes (linear: TBackward0 and AddmmBackward0; cross_entropy:
    LogSoftmaxBackward0 and NllLossBackward0) passes the first as ``site_of`` for the
    second: one creation site, looked up once (walking frames is the dearest part of making
    a node)."""
    node = object.__new__(cls)
    node.next_functions = next_functions
    node._sequence_nr = _next_sequence_nr()
    node._out_meta = ((out.shape, out.dtype),)
    node._released = False
    node._hooks = None
    if site_of is not None:
        node._site = site_of._site
        node._site_offset = site_of._site_offset
        return node
    # creation site: the user's line that called the op (see ember._hints for the fast path)
    try:
        frame = _getframe(2)  # the caller of new_node's caller
        code = frame.f_code
        if code is LAST_USER_CODE[0]:
            node._site = code
            node._site_offset = frame.f_lasti
        elif code.co_filename in USER_FILES:
            LAST_USER_CODE[0] = node._site = code
            node._site_offset = frame.f_lasti
        else:
            outer = frame
            while outer is not None and outer.f_code.co_filename in EMBER_FILES:
                outer = outer.f_back  # out through frames known to be ember's ...
            if outer is not None and outer.f_code is LAST_USER_CODE[0]:  # ... to the user's loop
                node._site = outer.f_code
                node._site_offset = outer.f_lasti
            else:
                node._site, node._site_offset = user_site(frame)
    except ValueError:  # no frame there: the op was called from the bottom of the stack
        node._site, node._site_offset = None, 0
    # end of creation site
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
        self._hooks = None

    def backward(self, grad, xp):  # the engine accumulates directly; see engine._store_grad
        raise RuntimeError("AccumulateGrad is applied by the engine")


class SavedTensor:
    """A tensor saved for backward, with the version it had when saved.

    An input is kept as the tensor itself; an output is kept as its array and version
    counter only (keeping the tensor would make a cycle output -> node -> output), and is
    re-wrapped with the node as its ``grad_fn`` when a formula needs it as a tensor.
    """

    __slots__ = ("tensor", "array", "dtype", "version_counter", "version", "output_nr", "unpack",
                 "written_to_view")

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
            # an in-place op's output written into a view: named by the view's node of then,
            # while that node lives (as torch's weak reference to it)
            view_node = getattr(self, "written_to_view", None)
            if view_node is not None and view_node() is not None:
                grad_fn = view_node()
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


# ----- saved_tensors_hooks --------------------------------------------------------------------
_plain_saved_init = SavedTensor.__init__
_TENSOR_SLOT = SavedTensor.tensor
_ARRAY_SLOT = SavedTensor.array
_hooks_stack: list = []


class PackedSavedTensor(SavedTensor):
    """A value saved while ``saved_tensors_hooks`` was active: what ``pack_hook`` returned.

    The slots hold the packed object instead of the tensor (inputs) or array (outputs);
    reading ``tensor`` / ``array`` calls ``unpack_hook`` each time, as torch does.
    """

    __slots__ = ()

    @property
    def tensor(self):
        packed = _TENSOR_SLOT.__get__(self)
        if packed is None:
            return None
        return _unpacked(self.unpack(packed))

    @property
    def array(self):
        return _unpacked(self.unpack(_ARRAY_SLOT.__get__(self)))._array

    def check_version(self, node: Node | None = None) -> None:
        pass  # the hooks own the value now; torch checks nothing either


def _unpacked(value):
    from ember._tensor import Tensor

    if not isinstance(value, Tensor):
        raise TypeError(
            "Output of saved tensor unpack_hook expected to be a Tensor but got result of type "
            f"{type(value).__name__}"
        )
    return value


def _packing_init(self, tensor, is_output: bool = False) -> None:
    """``SavedTensor.__init__`` while hooks are active (swapped in, so it costs nothing else)."""
    _plain_saved_init(self, tensor, is_output)
    pack, unpack = _hooks_stack[-1]
    self.__class__ = PackedSavedTensor
    self.unpack = unpack
    version = tensor._version_counter[0]
    packed = pack(tensor)
    if tensor._version_counter[0] != version:
        raise RuntimeError(
            "A saved tensor pack hook is modifying its input in place. Tensors provided as "
            "input to pack hook cannot be modified by in-place operations as this can lead to "
            "unexpected side-effects. Please open an issue if you need to perform in-place "
            "operations on the input to a pack hook.")
    if is_output:
        _ARRAY_SLOT.__set__(self, packed)
    else:
        _TENSOR_SLOT.__set__(self, packed)


class saved_tensors_hooks:
    """Context manager: every tensor an op saves goes through ``pack_hook`` now, and through
    ``unpack_hook`` whenever backward reads it."""

    def __init__(self, pack_hook, unpack_hook) -> None:
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self) -> saved_tensors_hooks:
        _hooks_stack.append((self.pack_hook, self.unpack_hook))
        SavedTensor.__init__ = _packing_init
        return self

    def __exit__(self, *exc_info) -> None:
        _hooks_stack.pop()
        if not _hooks_stack:
            SavedTensor.__init__ = _plain_saved_init


class save_on_cpu(saved_tensors_hooks):
    """torch moves saved tensors to the CPU; ember's are always there, so both hooks are the
    identity (kept so programs using it run unchanged)."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda") -> None:
        super().__init__(_identity, _identity)


def _identity(t):
    return t


class disable_saved_tensors_hooks:
    """Inside, entering ``saved_tensors_hooks`` raises ``RuntimeError(error_message)``."""

    def __init__(self, error_message: str) -> None:
        self.error_message = error_message

    def __enter__(self) -> None:
        self._previous = saved_tensors_hooks.__enter__
        message = self.error_message

        def refuse(hooks):
            raise RuntimeError(message)

        saved_tensors_hooks.__enter__ = refuse

    def __exit__(self, *exc_info) -> None:
        saved_tensors_hooks.__enter__ = self._previous
