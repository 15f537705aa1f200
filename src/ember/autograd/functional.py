"""``ember.autograd.functional``: Jacobians, Hessians and vector products of a function.

Everything here is built on ``autograd.grad``: a Jacobian row is one backward pass with a
one-hot output gradient; a Jacobian-vector product uses the double-backward trick (the
vector-Jacobian product is linear in its vector ``u``, so differentiating ``u -> J^T u``
with respect to ``u`` gives ``J``); a Hessian is the Jacobian of a gradient computed with
``create_graph=True``. Tuple inputs and outputs nest the results exactly as torch's do, and
the ``strict`` checks raise torch's errors.

``vectorize=True`` gives the same values as the default (torch batches the rows with vmap;
ember computes them one by one), and ``strategy="forward-mode"`` builds the Jacobian a
column at a time from Jacobian-vector products.
"""

from __future__ import annotations

import numpy as np

from ember.autograd.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


def _tensor_cls():
    from ember._tensor import Tensor

    return Tensor


def _as_tuple(value, arg_name: str, fn_name: str) -> tuple[bool, tuple]:
    """``(was it a tuple, the tuple)``, with torch's TypeError for anything not a tensor."""
    Tensor = _tensor_cls()
    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            where = f"value at index {i}" if is_tuple else f"given {arg_name}"
            raise TypeError(
                f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of "
                f"Tensors but the {where} has type {type(item)}."
            )
    return is_tuple, items


def _untuple(result, is_tuple):
    """Undo ``_as_tuple`` (``is_tuple`` a pair for nested ``[output][input]`` results)."""
    if isinstance(is_tuple, tuple):
        outer, inner = is_tuple
        if not inner:
            result = tuple(row[0] for row in result)
        return result if outer else result[0]
    return result if is_tuple else result[0]


def _prepare(inputs: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """Fresh tensor objects for the inputs, so the ones the function captures by closure are
    told apart from the ones given as arguments (as torch does)."""
    out = []
    for t in inputs:
        if create_graph and t._requires_grad:
            out.append(t.view_as(t))
        else:
            out.append(t.detach().requires_grad_(need_graph))
    return tuple(out)


def _finish(values, create_graph: bool):
    """Detach results unless the caller asked for a differentiable graph."""
    Tensor = _tensor_cls()
    if isinstance(values, Tensor):
        return values if create_graph else values.detach()
    return tuple(_finish(v, create_graph) for v in values)


def _check_v(v: tuple, other: tuple, other_is_tuple: bool) -> None:
    if len(v) != len(other):
        if other_is_tuple:
            raise RuntimeError(
                f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}."
            )
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(v, other)):
        if a.shape != b.shape:
            where = f"Entry {i} in " if other_is_tuple else ""
            raise RuntimeError(
                f"{where}v has invalid size: should be {b.shape} but got {a.shape}."
            )


def _check_requires_grad(values, kind: str, strict: bool) -> None:
    if not strict:
        return
    for i, t in enumerate(values):
        if t is None:
            raise RuntimeError(
                f"The output of the user-provided function is independent of input {i}. This "
                "is not allowed in strict mode."
            )
        if t._requires_grad:
            continue
        if kind == "hessian":
            raise RuntimeError(
                f"The hessian of the user-provided function with respect to input {i} is "
                "independent of the input. This is not allowed in strict mode. You should "
                "ensure that your function is thrice differentiable and that the hessian "
                "depends on the inputs."
            )
        if kind == "jacobian":
            raise RuntimeError(
                "While computing the hessian, found that the jacobian of the user-provided "
                f"function with respect to input {i} is independent of the input. This is not "
                "allowed in strict mode. You should ensure that your function is twice "
                "differentiable and that the jacobian depends on the inputs (this would be "
                "violated by a linear function for example)."
            )
        if kind == "grad_inputs":
            raise RuntimeError(
                f"The gradient with respect to input {i} is independent of the inputs of the "
                "user-provided function. This is not allowed in strict mode."
            )
        raise RuntimeError(
            f"Output {i} of the user-provided function does not require gradients. The "
            "outputs must be computed in a differentiable manner from the input when running "
            "in strict mode."
        )


def _grad(outputs: tuple, inputs: tuple, grad_outputs=None, create_graph=False,
          retain_graph=None) -> tuple:
    """``autograd.grad`` that skips outputs not requiring grad (None for every input then)."""
    from ember.autograd import grad

    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o._requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad([o for o, _ in pairs], inputs, [g for _, g in pairs], allow_unused=True,
                create_graph=create_graph, retain_graph=retain_graph)


_STAGE_MESSAGES = {
    "back": "The output of the user-provided function is independent of input {i}. This is not "
            "allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry "
                         "{i} in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward "
                         "mode AD.",
}


def _zeros_for_missing(grads, refs, strict: bool, create_graph: bool, stage: str) -> tuple:
    from ember import zeros_like

    out = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_STAGE_MESSAGES[stage].format(i=i))
            g = zeros_like(refs[i])
        elif strict and create_graph and not g._requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(
                f"The {what} of the user-provided function is independent of input {i}. This "
                "is not allowed in strict mode when create_graph=True."
            )
        out.append(g)
    return tuple(out)


def _default_v(v, against: tuple, against_is_tuple: bool, create_graph: bool, message: str):
    if v is not None:
        _, v = _as_tuple(v, "v", message.split()[0])
        v = _prepare(v, create_graph, False)
        _check_v(v, against, against_is_tuple)
        return v
    if len(against) != 1 or against[0]._array.size != 1:
        raise RuntimeError(message.split(" ", 1)[1])
    return None


# ----- vector products ---------------------------------------------------------------------------
def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T J)``."""
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph, True)
        outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                           "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        v = _default_v(v, outputs, outputs_tuple, create_graph,
                       "vjp The vector v can only be None if the user-provided function returns "
                       "a single Tensor with a single element.")
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grads = _grad(outputs, inputs, v, create_graph=create_graph)
        result = _zeros_for_missing(grads, inputs, strict, create_graph, "back")
    return (_untuple(_finish(outputs, create_graph), outputs_tuple),
            _untuple(_finish(result, create_graph), inputs_tuple))


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)``, by the double-backward trick."""
    from ember import zeros_like

    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph, True)
        v = _default_v(v, inputs, inputs_tuple, create_graph,
                       "jvp The vector v can only be None if the input to the user-provided "
                       "function is a single Tensor with a single element.")
        outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                           "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        # J^T u is linear in u, so its value at u = 0 does not matter, only its graph.
        dummies = tuple(zeros_like(o, requires_grad=True) for o in outputs)
        grad_inputs = _grad(outputs, inputs, dummies, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grads = _grad(grad_inputs, dummies, v, create_graph=create_graph)
        result = _zeros_for_missing(grads, outputs, strict, create_graph, "back_trick")
    return (_untuple(_finish(outputs, create_graph), outputs_tuple),
            _untuple(_finish(result, create_graph), outputs_tuple))


def _scalar_output(func, inputs, strict, name: str):
    outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       name)
    _check_requires_grad(outputs, "outputs", strict)
    if outputs_tuple:
        raise RuntimeError(f"The function given to {name} should return a single Tensor")
    if outputs[0]._array.size != 1:
        raise RuntimeError(
            f"The Tensor returned by the function given to {name} should contain a single "
            "element"
        )
    return outputs


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T H)`` for a scalar ``func``."""
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
        inputs = _prepare(inputs, create_graph, True)
        v = _default_v(v, inputs, inputs_tuple, create_graph,
                       "vhp The vector v can only be None if the input to the user-provided "
                       "function is a single Tensor with a single element.")
        outputs = _scalar_output(func, inputs, strict, "vhp")
        jac = _grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grads = _grad(jac, inputs, v, create_graph=create_graph)
        result = _zeros_for_missing(grads, inputs, strict, create_graph, "double_back")
    return (_finish(outputs, create_graph)[0], _untuple(_finish(result, create_graph),
                                                         inputs_tuple))


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H v)`` for a scalar ``func`` (double-backward trick over vhp)."""
    from ember import zeros_like

    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hvp")
        inputs = _prepare(inputs, create_graph, True)
        v = _default_v(v, inputs, inputs_tuple, create_graph,
                       "hvp The vector v can only be None if the input to the user-provided "
                       "function is a single Tensor with a single element.")
        outputs = _scalar_output(func, inputs, strict, "hvp")
        jac = _grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        dummies = tuple(zeros_like(t, requires_grad=True) for t in inputs)
        double_back = _grad(jac, inputs, dummies, create_graph=True)
        _check_requires_grad(jac, "hessian", strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grads = _grad(double_back, dummies, v, create_graph=create_graph)
        result = _zeros_for_missing(grads, inputs, strict, create_graph, "double_back_trick")
    return (_finish(outputs, create_graph)[0], _untuple(_finish(result, create_graph),
                                                         inputs_tuple))


# ----- Jacobian and Hessian ----------------------------------------------------------------------
def _one_hot(t, index: int):
    from ember._tensor import _wrap

    array = np.zeros(t._array.size, dtype=t._array.dtype)
    array[index] = 1
    return _wrap(array.reshape(t._array.shape), t._dtype)


def _stack_rows(rows: list, shape: tuple):
    """The rows (one per output element) as one tensor of ``shape`` (differentiably)."""
    from ember import stack

    if not rows:
        from ember import zeros

        return zeros(shape, dtype=None)
    return stack(rows, 0).reshape(shape)


def _reverse_jacobian(inputs, outputs, create_graph: bool, strict: bool) -> tuple:
    from ember import zeros, zeros_like

    if not create_graph and all(t._requires_grad for t in inputs):
        return _reverse_jacobian_arrays(inputs, outputs, strict)
    result = []
    for i, out in enumerate(outputs):
        rows: list[list] = [[] for _ in inputs]
        for e in range(out._array.size):
            grads = _grad((out,), inputs, (_one_hot(out, e),), create_graph=create_graph,
                          retain_graph=True)
            for k, (g, inp) in enumerate(zip(grads, inputs)):
                if g is None:
                    if strict:
                        raise RuntimeError(
                            f"Output {i} of the user-provided function is independent of input "
                            f"{k}. This is not allowed in strict mode."
                        )
                    g = zeros_like(inp)
                elif strict and create_graph and not g._requires_grad:
                    raise RuntimeError(
                        f"The jacobian of the user-provided function is independent of input "
                        f"{i}. This is not allowed in strict mode when create_graph=True."
                    )
                rows[k].append(g)
        per_input = []
        for k, inp in enumerate(inputs):
            shape = tuple(out._array.shape) + tuple(inp._array.shape)
            if rows[k]:
                per_input.append(_stack_rows(rows[k], shape))
            else:
                per_input.append(zeros(shape, dtype=inp._dtype))
        result.append(tuple(per_input))
    return tuple(result)


def _reverse_jacobian_arrays(inputs, outputs, strict: bool) -> tuple:
    """The same rows without a graph: the engine is driven directly with one-hot arrays, and
    the rows are stacked as arrays (no tensor per row)."""
    from ember._tensor import _wrap
    from ember.autograd import _run as run_backward  # a capturing pass, as autograd.grad's
    from ember.ops._core import edge

    capture = [edge(t) for t in inputs]
    result = []
    for i, out in enumerate(outputs):
        n = out._array.size
        rows = [np.zeros((n,) + t._array.shape, dtype=t._array.dtype) for t in inputs]
        used = [False] * len(inputs)
        if out._requires_grad:
            root = [edge(out)]
            for e in range(n):
                one_hot = np.zeros(n, dtype=out._array.dtype)
                one_hot[e] = 1
                grads = run_backward(root, [one_hot.reshape(out._array.shape)], True, False,
                                     capture, False)
                for k, g in enumerate(grads):
                    if g is not None:
                        rows[k][e] = g
                        used[k] = True
        for k in range(len(inputs)):
            if strict and not used[k] and n:
                raise RuntimeError(
                    f"Output {i} of the user-provided function is independent of input {k}. "
                    "This is not allowed in strict mode."
                )
        result.append(tuple(
            _wrap(r.reshape(out._array.shape + t._array.shape), t._dtype)
            for r, t in zip(rows, inputs)
        ))
    return tuple(result)


def _forward_jacobian(func, inputs, outputs, strict: bool) -> tuple:
    """Columns from Jacobian-vector products, one per input element."""
    from ember import zeros

    columns = [[[] for _ in inputs] for _ in outputs]
    for k, inp in enumerate(inputs):
        for e in range(inp._array.size):
            v = tuple(_one_hot(t, e) if j == k else zeros(t.shape, dtype=t._dtype)
                      for j, t in enumerate(inputs))
            _, jv = jvp(func, inputs, v, strict=strict)
            jv = jv if isinstance(jv, tuple) else (jv,)
            for i, col in enumerate(jv):
                columns[i][k].append(col)
    result = []
    for i, out in enumerate(outputs):
        per_input = []
        for k, inp in enumerate(inputs):
            out_shape, in_shape = tuple(out._array.shape), tuple(inp._array.shape)
            cols = columns[i][k]
            if not cols:
                per_input.append(zeros(out_shape + in_shape, dtype=out._dtype))
                continue
            array = np.stack([c._array.reshape(-1) for c in cols], axis=-1)
            from ember._tensor import _wrap

            per_input.append(_wrap(array.reshape(out_shape + in_shape), out._dtype))
        result.append(per_input)
    return result  # lists, as torch's forward-mode Jacobian nests them


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: ``[output][input]``, each of shape
    ``output.shape + input.shape`` (un-nested where torch un-nests)."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
            'function has more outputs than inputs, "forward-mode" tends to be more '
            'performant. Otherwise, prefer to use "reverse-mode".'
        )
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                "torch.autograd.functional.jacobian: `create_graph=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either '
                'set `create_graph=False` or `strategy="reverse-mode"`.'
            )
        if strict:
            raise RuntimeError(
                "torch.autograd.functional.jacobian: `strict=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either '
                'set `strict=False` or `strategy="reverse-mode"`.'
            )
        if not vectorize:
            raise NotImplementedError(
                "Computing Jacobian using forward-AD or forward-over-reverse Hessian "
                "isonly implemented for `vectorize=True`."
            )
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph, True)
        outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                           "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        if vectorize and strict:
            raise RuntimeError(
                "torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are "
                "not supported together. Please either set `strict=False` or "
                "`vectorize=False`."
            )
        if strategy == "forward-mode":
            result = _forward_jacobian(func, inputs, outputs, strict)
            return _untuple(result, (outputs_tuple, inputs_tuple))
        else:
            result = _reverse_jacobian(inputs, outputs, create_graph, strict)
    return _untuple(_finish(result, create_graph), (outputs_tuple, inputs_tuple))


def hessian(func, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar ``func``: ``[input][input]`` blocks of shape
    ``input_i.shape + input_j.shape``."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar_func(*args):
        out = _scalar_output(func, args, strict, "hessian")[0]
        return out.squeeze()

    def gradient(*args):
        if outer_jacobian_strategy == "forward-mode":
            args = tuple(t.requires_grad_(True) for t in args)
        jac = jacobian(scalar_func, args, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                      vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _untuple(result, (inputs_tuple, inputs_tuple))
