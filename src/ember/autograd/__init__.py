"""ember.autograd: ``backward``, ``grad`` and the grad-mode switches."""

from __future__ import annotations

import sys
import threading

import numpy as np

from ember._explain import explain
from ember._explain import explain as _explain
from ember._graph_health import graph_stats
from ember._hints import with_hint
from ember.autograd import anomaly_mode, forward_ad, function, functional, graph
from ember.autograd.anomaly_mode import detect_anomaly, set_detect_anomaly
from ember.autograd.engine import run_backward
from ember.autograd.function import Function, once_differentiable
from ember.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from ember.autograd.gradcheck import gradcheck, gradgradcheck

__all__ = [
    "Function",
    "anomaly_mode",
    "backward",
    "detect_anomaly",
    "graph",
    "once_differentiable",
    "set_detect_anomaly",
    "enable_grad",
    "explain",
    "forward_ad",
    "function",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "graph_stats",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_grad_enabled",
]


def _as_tuple(x) -> tuple:
    if x is None:
        return ()
    from ember._tensor import Tensor

    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _shape_text(shape) -> str:
    return f"torch.Size({list(shape)})"


def _root_grads(outputs: tuple, grad_outputs: tuple, create_graph: bool, api: str):
    """The gradient each output starts with (ones for scalars), checked as torch does."""
    from ember._tensor import Tensor, _wrap

    if len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"{api}: got {len(grad_outputs)} tensors and {len(outputs)} gradients"
            if api == "grad" else
            f"got {len(grad_outputs)} tensors and {len(outputs)} gradients"
        )
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if out._requires_grad:
                if out._array.size != 1:
                    raise with_hint(RuntimeError(
                        "grad can be implicitly created only for scalar outputs"), out.grad_fn,
                        f"The output (shape {list(out._array.shape)}, "
                        f"{out.grad_fn.name() if out.grad_fn else 'a leaf'})")
                if out._dtype.category != 2:
                    raise RuntimeError(
                        "grad can be implicitly created only for real scalar outputs but got "
                        f"{out._dtype}"
                    )
            g = _wrap(np.ones_like(out._array), out._dtype)
        elif not isinstance(g, Tensor):
            g = _wrap(np.asarray(g, dtype=out._array.dtype), out._dtype)
        if g._array.shape != out._array.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {_shape_text(g._array.shape)} "
                f"and output[{i}] has a shape of {_shape_text(out._array.shape)}."
            )
        grads.append(g if create_graph else g._array)
    return grads


def _root_edges(outputs: tuple):
    from ember.ops._core import edge

    edges = []
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise with_hint(RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            ))
        edges.append(edge(out))
    return edges


class _Passes(threading.local):
    """Per thread, for each backward pass running (nested ones last): whether it captures
    gradients (``grad`` / ``backward(inputs=...)``), which reentrant checkpoint cannot serve."""

    def __init__(self) -> None:
        self.capturing: list = []


_passes = _Passes()


def _is_checkpoint_valid() -> bool:
    """False inside a pass run by ``grad`` or ``backward(inputs=...)`` (torch's name)."""
    return not (_passes.capturing and _passes.capturing[-1])


def _run(roots, grads, retain_graph, create_graph, capture=None, accumulate=True):
    _passes.capturing.append(capture is not None)
    try:
        return run_backward(roots, grads, retain_graph, create_graph, capture, accumulate)
    finally:
        _passes.capturing.pop()


def backward(
    tensors,
    grad_tensors=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    grad_variables=None,
    inputs=None,
) -> None:
    """Accumulate d(tensors)/d(leaf) into each leaf's ``.grad``."""
    if grad_variables is not None:
        grad_tensors = grad_variables
    outputs = _as_tuple(tensors)
    grad_outputs = _as_tuple(grad_tensors) if grad_tensors is not None else (None,) * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    roots = _root_edges(outputs)
    grads = _root_grads(outputs, grad_outputs, create_graph, "backward")
    capture = None
    if inputs is not None:
        input_list = _as_tuple(inputs)
        if not input_list:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
        capture = [_input_edge(t, i) for i, t in enumerate(input_list)]
        captured = _run(roots, grads, retain_graph, create_graph, capture, True)
        # Non-leaf inputs accumulate into their own .grad, as torch does.
        from ember.autograd.engine import _store_grad

        for t, g in zip(input_list, captured):
            if t.grad_fn is not None and g is not None:
                _store_grad(t, g, create_graph)
        return
    _run(roots, grads, retain_graph, create_graph)


def _input_edge(t, i: int):
    from ember.ops._core import edge

    if not t.requires_grad:
        raise RuntimeError("One of the differentiated Tensors does not require grad")
    return edge(t)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, leaving ``.grad`` untouched."""
    from ember._tensor import _wrap

    if materialize_grads and allow_unused is False:
        raise ValueError(
            "Expected allow_unused to be True or not passed when materialize_grads=True, but "
            "got: allow_unused=False."
        )
    if allow_unused is None:
        allow_unused = materialize_grads
    outputs_t = _as_tuple(outputs)
    inputs_t = _as_tuple(inputs)
    grad_outputs_t = (
        _as_tuple(grad_outputs) if grad_outputs is not None else (None,) * len(outputs_t)
    )
    if retain_graph is None:
        retain_graph = create_graph
    for t in inputs_t:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    roots = _root_edges(outputs_t)
    grads = _root_grads(outputs_t, grad_outputs_t, create_graph, "grad")
    capture = [_input_edge(t, i) for i, t in enumerate(inputs_t)]
    captured = _run(roots, grads, retain_graph, create_graph, capture, False)
    result = []
    for i, (t, g) in enumerate(zip(inputs_t, captured)):
        if g is None:
            if materialize_grads:
                result.append(_wrap(np.zeros_like(t._array), t._dtype))
                continue
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior."
                )
            result.append(None)
        elif create_graph:
            result.append(g)
        else:
            # A fresh array: the same gradient may flow to several inputs unchanged.
            result.append(_wrap(np.array(g, copy=True), t._dtype))
    return tuple(result)


def _tensor_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None,
                     explain: bool = False):
    """``Tensor.backward``; ``explain=True`` (ember's) also prints the pass step by step."""
    grad_fn = self.grad_fn
    if (gradient is None and grad_fn is not None and self._requires_grad and retain_graph is None
            and not create_graph and inputs is None and not explain
            and self._array.ndim == 0 and self._dtype.category == 2):
        # ``loss.backward()`` on a 0-dim float result: every check of the general path
        # below passes, so go straight to the engine with a gradient of one.
        array = self._array
        _passes.capturing.append(False)
        try:
            run_backward(((grad_fn, self._output_nr),), (np.array(1, array.dtype),), False,
                         False)
        finally:
            _passes.capturing.pop()
        return
    if explain:
        if create_graph or inputs is not None:
            raise ValueError("backward(explain=True) supports neither create_graph nor inputs")
        _explain(self, gradient, retain_graph=retain_graph, _frame=sys._getframe(1))
        return
    backward(self, gradient, retain_graph, create_graph, inputs=inputs)
