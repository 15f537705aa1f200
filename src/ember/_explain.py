"""``ember.autograd.explain(y)``: run ``y.backward()`` and tell, step by step, what it did.

For each node in the order the engine runs them: the formula it applies, the gradient it
receives (and, when several paths meet there, the contributions summed into it), and the
gradients it sends on; for each leaf, what is added to its ``.grad``. The engine itself is not
touched: node pre- and post-hooks record the run and are removed afterwards.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Step", "explain"]

# What each node computes, in the words of the chain rule (``grad``: the incoming gradient).
FORMULAS = {
    "AddBackward0": "grad_self = grad, grad_other = grad * alpha",
    "AddBackward1": "grad_self = grad",
    "SubBackward0": "grad_self = grad, grad_other = -grad * alpha",
    "SubBackward1": "grad_self = grad",
    "RsubBackward0": "grad_self = -grad * alpha, grad_other = grad",
    "RsubBackward1": "grad_self = -grad * alpha",
    "MulBackward0": "grad_self = grad * other, grad_other = grad * self",
    "MulBackward1": "grad_self = grad * other (a number)",
    "DivBackward0": "grad_self = grad / other, grad_other = -grad * self / other**2",
    "DivBackward1": "grad_self = grad / other (a number)",
    "NegBackward0": "grad_self = -grad",
    "PowBackward0": "grad_self = grad * exponent * self**(exponent - 1)",
    "PowBackward1": "grad_self = grad * exponent * self**(exponent - 1), "
                    "grad_exponent = grad * result * log(self)",
    "PowBackward2": "grad_exponent = grad * result * log(self)",
    "ExpBackward0": "grad_self = grad * result",
    "LogBackward0": "grad_self = grad / self",
    "SqrtBackward0": "grad_self = grad / (2 * result)",
    "SinBackward0": "grad_self = grad * cos(self)",
    "CosBackward0": "grad_self = grad * -sin(self)",
    "TanhBackward0": "grad_self = grad * (1 - result**2)",
    "SigmoidBackward0": "grad_self = grad * result * (1 - result)",
    "ReluBackward0": "grad_self = grad where result > 0, else 0",
    "AbsBackward0": "grad_self = grad * sign(self)",
    "ReciprocalBackward0": "grad_self = -grad * result**2",
    "SumBackward0": "grad_self = grad expanded to self's shape",
    "SumBackward1": "grad_self = grad expanded back over the summed dims",
    "MeanBackward0": "grad_self = grad expanded to self's shape / numel",
    "MeanBackward1": "grad_self = grad expanded over the dims / their size",
    "MmBackward0": "grad_self = grad @ mat2.T, grad_mat2 = self.T @ grad",
    "MvBackward0": "grad_self = outer(grad, vec), grad_vec = self.T @ grad",
    "DotBackward0": "grad_self = grad * tensor, grad_tensor = grad * self",
    "BmmBackward0": "grad_self = grad @ mat2.mT, grad_mat2 = self.mT @ grad",
    "ViewBackward0": "grad_self = grad reshaped to self's shape",
    "ReshapeAliasBackward0": "grad_self = grad reshaped to self's shape",
    "UnsqueezeBackward0": "grad_self = grad squeezed at dim",
    "SqueezeBackward0": "grad_self = grad reshaped to self's shape",
    "ExpandBackward0": "grad_self = grad summed over the expanded dims",
    "PermuteBackward0": "grad_self = grad permuted back",
    "TransposeBackward0": "grad_self = grad transposed back",
    "TBackward0": "grad_self = grad.T",
    "SelectBackward0": "grad_self = zeros with grad placed at the index",
    "SliceBackward0": "grad_self = zeros with grad placed in the slice",
    "IndexBackward0": "grad_self = zeros with grad added at the indices",
    "CloneBackward0": "grad_self = grad",
    "ToCopyBackward0": "grad_self = grad cast back to self's dtype",
    "CopySlices": "grad_base = grad with the written region zeroed; grad_src = grad of region",
    "CopyBackwards": "grad_self = zeros, grad_src = grad",
    "ClampBackward1": "grad_self = grad where min <= self <= max, else 0",
    "MaximumBackward0": "grad goes to the larger input (split evenly on ties)",
    "MinimumBackward0": "grad goes to the smaller input (split evenly on ties)",
    "WhereBackward0": "grad_self = grad where condition, grad_other = grad where not",
    "CatBackward0": "each input gets its slice of grad",
    "StackBackward0": "each input gets its slice of grad",
    "AccumulateGrad": "leaf.grad += grad",
}


@dataclass
class Step:
    """One node's work in the backward pass (``kind``: "node" or "leaf")."""

    index: int
    kind: str
    name: str
    formula: str
    grad_in: list = field(default_factory=list)  # arrays received (one per output)
    summed_from: list = field(default_factory=list)  # (from, array) when several paths meet
    grads_out: list = field(default_factory=list)  # (to, array or None)
    leaf_grad: np.ndarray | None = None  # for leaves: .grad after accumulation


def _format(value) -> str:
    if value is None:
        return "None (no gradient needed)"
    array = np.asarray(value)
    text = np.array2string(array, precision=4, separator=", ", suppress_small=True,
                           threshold=12)
    return " ".join(text.split())


def explain(y, gradient=None, *, retain_graph: bool | None = None,
            file=None, _frame=None) -> list[Step]:
    """Run ``y.backward(gradient)``, print what each step did, and return the steps."""
    from ember._tensor import Tensor  # (imported late: ember.autograd loads this module early)

    frame = _frame or inspect.currentframe().f_back
    names = _variable_names(frame)
    del frame
    if y.grad_fn is None:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                           "grad_fn")
    labels, leaves = _label_nodes(y.grad_fn, names)
    steps: list[Step] = []
    arriving: dict[int, list] = {}  # id(node) -> [(from label, array)]
    handles = []

    def on_node_start(fn):
        def hook(grad_outputs):
            step = Step(len(steps) + 1, "node", labels[id(fn)],
                        FORMULAS.get(fn.name(), f"see {type(fn).__module__}."
                                                f"{type(fn).__name__}.backward"),
                        [None if g is None else g.detach().numpy().copy()
                         for g in grad_outputs])
            step.summed_from = arriving.pop(id(fn), [])
            steps.append(step)

        return hook

    def on_node_end(fn):
        def hook(grad_inputs, grad_outputs):
            step = steps[-1]
            for (next_fn, _), g in zip(fn.next_functions, grad_inputs):
                if next_fn is None:
                    continue
                value = None if g is None else g.detach().numpy().copy()
                step.grads_out.append((labels[id(next_fn)], value))
                if value is not None:
                    arriving.setdefault(id(next_fn), []).append((step.name, value))

        return hook

    def on_leaf(accumulator, variable):
        def hook(tensor):
            contributions = arriving.pop(id(accumulator), [])
            step = Step(len(steps) + 1, "leaf", labels[id(accumulator)], FORMULAS[
                "AccumulateGrad"], [], contributions)
            step.leaf_grad = tensor.grad.detach().numpy().copy()
            steps.append(step)

        return hook

    try:
        for fn in _nodes(y.grad_fn):
            if fn.name().endswith("AccumulateGrad"):
                continue
            handles.append(fn.register_prehook(on_node_start(fn)))
            handles.append(fn.register_hook(on_node_end(fn)))
        for accumulator, variable in leaves:
            handles.append(variable.register_post_accumulate_grad_hook(
                on_leaf(accumulator, variable)))
        start = np.ones_like(y._array) if gradient is None else np.asarray(
            gradient._array if isinstance(gradient, Tensor) else gradient)
        from ember.autograd import backward

        backward(y, gradient, retain_graph)
    finally:
        for handle in handles:
            handle.remove()
    print(_render(names.get(id(y), "y"), start, steps), file=file)
    return steps


def _variable_names(frame) -> dict[int, str]:
    from ember._tensor import Tensor

    names: dict[int, str] = {}
    if frame is None:
        return names
    for scope in (frame.f_globals, frame.f_locals):
        for name, value in scope.items():
            if isinstance(value, Tensor) and not name.startswith("_"):
                names[id(value)] = name
    return names


def _nodes(root):
    seen, stack, out = set(), [root], []
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        out.append(fn)
        stack.extend(n for n, _ in fn.next_functions if n is not None)
    return out


def _label_nodes(root, names):
    """Readable, unique labels: ``ExpBackward0``, ``MulBackward0 #2`` (the second Mul of
    the forward pass), ``leaf x``."""
    labels, leaves, by_name = {}, [], {}
    for fn in sorted(_nodes(root), key=lambda f: f._sequence_nr):  # in creation order
        variable = getattr(fn, "variable", None)
        if variable is not None:
            labels[id(fn)] = f"leaf {names.get(id(variable), 'tensor')}"
            leaves.append((fn, variable))
        else:
            by_name.setdefault(fn.name(), []).append(fn)
    for name, fns in by_name.items():
        for i, fn in enumerate(fns, 1):
            labels[id(fn)] = name if len(fns) == 1 else f"{name} #{i}"
    return labels, leaves


def _render(output_name: str, start, steps: list[Step]) -> str:
    lines = [f"backward of {output_name}: starts with d{output_name}/d{output_name} = "
             f"{_format(start)}"]
    for step in steps:
        if step.kind == "leaf":
            lines.append(f"[{step.index}] {step.name}: {step.formula}")
            for source, value in step.summed_from:
                lines.append(f"      + {_format(value)}  (from {source})")
            if len(step.summed_from) > 1:
                total = sum(v for _, v in step.summed_from)
                lines.append(f"      = {_format(total)}  (summed over {len(step.summed_from)} "
                             "paths)")
            lines.append(f"      {step.name.removeprefix('leaf ')}.grad is now "
                         f"{_format(step.leaf_grad)}")
            continue
        lines.append(f"[{step.index}] {step.name}: {step.formula}")
        if len(step.summed_from) > 1:
            parts = " + ".join(f"{_format(v)} (from {s})" for s, v in step.summed_from)
            lines.append(f"      grad = {parts}")
        lines.append(f"      grad = {', '.join(_format(g) for g in step.grad_in)}")
        for target, value in step.grads_out:
            lines.append(f"      -> {target}: {_format(value)}")
    return "\n".join(lines)
