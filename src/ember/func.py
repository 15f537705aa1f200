"""``ember.func``: torch.func's function transforms, built on ember's autograd.

Each transform returns a new function. Inside, the differentiated arguments are fresh
tensors (``detach().requires_grad_()``; a view when the argument already requires grad, so
transforms nest and results stay differentiable with respect to the caller's tensors), and
gradients are taken with ``create_graph=True`` exactly when something outside is tracking.
``jvp`` and ``jacfwd`` use the double-backward trick (``u -> J^T u`` is linear in ``u``).
Arguments may be tensors or (nested) tuples, lists and dicts of tensors.

``vmap`` is left out: ember's ops have no batching rules, so ``vmap`` raises
NotImplementedError naming itself rather than silently looping.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from ember.autograd.grad_mode import enable_grad

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp",
           "vjp", "vmap"]

_VJP = "vjp(f, *primals)"
_JVP = "jvp(f, primals, tangents)"


# ----- small pytrees --------------------------------------------------------------------------
def _flatten(tree) -> tuple[list, Callable]:
    """Leaves of a tuple/list/dict tree, and a function building the same tree from leaves."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(x) for x in tree]
        sizes = [len(leaves) for leaves, _ in parts]

        def build(leaves, kind=type(tree)):
            out, i = [], 0
            for (_, b), n in zip(parts, sizes):
                out.append(b(leaves[i:i + n]))
                i += n
            return kind(out) if kind in (tuple, list) else kind(*out)

        return [leaf for leaves, _ in parts for leaf in leaves], build
    if isinstance(tree, dict):
        keys = list(tree)
        leaves, build_values = _flatten([tree[k] for k in keys])
        return leaves, lambda new: dict(zip(keys, build_values(new)))
    return [tree], lambda leaves: leaves[0]


def _is_tensor(x) -> bool:
    from ember._tensor import Tensor

    return isinstance(x, Tensor)


def _track(t):
    """A fresh differentiable handle on ``t`` (connected to ``t`` if ``t`` requires grad)."""
    if t._requires_grad:
        return t.view_as(t)
    return t.detach().requires_grad_()


def _argnums_tuple(argnums, nargs: int) -> tuple:
    """torch.func's argnums rules: an int or a non-empty tuple of distinct ints, each in
    range (negative ones counting from the end)."""
    if not isinstance(argnums, (int, tuple)):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    wrapped = []
    for n in argnums if isinstance(argnums, tuple) else (argnums,):
        if not isinstance(n, int):
            raise RuntimeError(f"argnum must be int, got: {type(n)}")
        if not -nargs <= n < nargs:
            raise RuntimeError(f"Got argnum={n}, but only {nargs} positional inputs")
        wrapped.append(n % nargs)
    if isinstance(argnums, tuple):
        if not argnums:
            raise RuntimeError("argnums must be non-empty")
        if len(set(wrapped)) != len(wrapped):
            raise RuntimeError(f"argnums elements must be unique, got {tuple(wrapped)}")
    return tuple(wrapped)


def _check_differentiable_args(args, nums: tuple, forward: bool = False) -> None:
    """Every leaf of a differentiated argument must be a tensor (torch's errors: reverse-mode
    transforms refuse with ValueError, jacfwd fails where it asks the leaf for its size)."""
    for n in nums:
        for leaf in _flatten(args[n])[0]:
            if not _is_tensor(leaf):
                if forward:
                    raise AttributeError(
                        f"'{type(leaf).__name__}' object has no attribute 'numel'")
                raise ValueError(f"Thing passed to transform API must be Tensor, got {type(leaf)}")


def _check_outputs(leaves: list, api: str) -> None:
    """torch.func's check that ``f`` returned (a tree of) tensors and nothing else."""
    if not leaves or (len(leaves) == 1 and leaves[0] is None):
        raise RuntimeError(
            f"{api}: Expected f to be a function that has non-empty output (got output = "
            f"{leaves!r})"
        )
    for o in leaves:
        if not _is_tensor(o):
            raise RuntimeError(
                f"{api}: expected f(*primals) to return only tensors, got unsupported type "
                f"{type(o)}"
            )


def _split_aux(output, api: str):
    if not (isinstance(output, tuple) and len(output) == 2):
        raise RuntimeError(
            f"{api}: output of function f should be a tuple: (output, aux) if has_aux is True"
        )
    return output


def _spec_text(tree) -> str:
    """A tree's structure as torch.func prints it: ``*`` for a leaf, ``(*, *)``, ``[*]``..."""
    if isinstance(tree, tuple):
        inner = ", ".join(_spec_text(x) for x in tree)
        return f"({inner}{',' if len(tree) == 1 else ''})"
    if isinstance(tree, list):
        return "[" + ", ".join(_spec_text(x) for x in tree) + "]"
    if isinstance(tree, dict):
        return "{" + ", ".join(f"{k!r}: {_spec_text(v)}" for k, v in tree.items()) + "}"
    return "*"


def _prepare_args(args: tuple, nums: tuple):
    """Replace the differentiated arguments by tracked copies; return them (flat) too."""
    args = list(args)
    tracked_per_arg = []
    tracking = False
    for n in nums:
        leaves, build = _flatten(args[n])
        for leaf in leaves:
            if not _is_tensor(leaf):
                raise RuntimeError(
                    f"Expected all leaves of the differentiated argument to be Tensors, got "
                    f"{type(leaf).__name__}"
                )
            tracking = tracking or leaf._requires_grad
        new = [_track(leaf) for leaf in leaves]
        args[n] = build(new)
        tracked_per_arg.append((new, build))
    return args, tracked_per_arg, tracking


def _grads(outputs, inputs, grad_outputs, create_graph: bool, retain_graph=None) -> list:
    from ember import zeros_like
    from ember.autograd import grad as autograd_grad

    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o._requires_grad]
    if not pairs:
        return [zeros_like(t) for t in inputs]
    result = autograd_grad([o for o, _ in pairs], inputs, [g for _, g in pairs],
                           create_graph=create_graph, retain_graph=retain_graph,
                           allow_unused=True)
    return [zeros_like(t) if g is None else g for g, t in zip(result, inputs)]


def _finish(t, tracking: bool):
    return t if tracking else t.detach()


def _finish_tree(tree, tracking: bool):
    """Detach every tensor of ``aux`` (torch.func returns it unwrapped from the transform)."""
    leaves, build = _flatten(tree)
    return build([_finish(x, tracking) if _is_tensor(x) else x for x in leaves])


# ----- grad -----------------------------------------------------------------------------------
def grad_and_value(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning ``(gradient, value)`` of a scalar-valued ``func``."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args))
        _check_differentiable_args(args, nums)
        with enable_grad():
            new_args, tracked, tracking = _prepare_args(args, nums)
            output = func(*new_args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(output, tuple) and len(output) == 2):
                    raise RuntimeError(
                        "grad_and_value(f)(*args): output of function f should be a tuple: "
                        "(output, aux) if has_aux is True"
                    )
                output, aux = output
            if not _is_tensor(output):
                raise RuntimeError(
                    "grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got "
                    f"{type(output)}"
                )
            if output._array.ndim != 0:
                raise RuntimeError(
                    "grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, "
                    f"got tensor with {output._array.ndim} dims. Maybe you wanted to use the "
                    "vjp or jacrev APIs instead?"
                )
            flat_inputs = [t for new, _ in tracked for t in new]
            grads = _grads([output], flat_inputs, [None], tracking)
        results, i = [], 0
        for new, build in tracked:
            results.append(build([_finish(g, tracking) for g in grads[i:i + len(new)]]))
            i += len(new)
        gradient = results[0] if not isinstance(argnums, tuple) else tuple(results)
        value = _finish(output, tracking)
        if has_aux:
            return gradient, (value, _finish_tree(aux, tracking))
        return gradient, value

    return wrapper


def grad(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning the gradient of a scalar-valued ``func`` (and ``aux``)."""
    inner = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        gradient, value = inner(*args, **kwargs)
        if has_aux:
            return gradient, value[1]
        return gradient

    return wrapper


# ----- vjp / jvp ------------------------------------------------------------------------------
def vjp(func: Callable, *primals, has_aux: bool = False):
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` gives one gradient per primal."""
    _check_differentiable_args(primals, tuple(range(len(primals))))
    with enable_grad():
        new_args, tracked, tracking = _prepare_args(primals, tuple(range(len(primals))))
        output = func(*new_args)
        aux = None
        if has_aux:
            output, aux = _split_aux(output, _VJP)
    out_leaves, out_build = _flatten(output)
    _check_outputs(out_leaves, _VJP)
    for o in out_leaves:
        if o._dtype.category != 2:
            raise RuntimeError(
                "vjp(f, ...): All outputs of f must be floating-point or complex Tensors, got "
                f"Tensor with dtype {o.dtype}"
            )
    flat_inputs = [t for new, _ in tracked for t in new]
    out_spec = _spec_text(output)

    def vjp_fn(cotangents, retain_graph: bool = True, create_graph: bool | None = None):
        leaves, _ = _flatten(cotangents)
        if _spec_text(cotangents) != out_spec:
            raise RuntimeError(
                "Expected pytree structure of cotangents to be the same as pytree structure "
                f"of outputs to the function. cotangents: {_spec_text(cotangents)}, primal "
                f"output: {out_spec}"
            )
        for c, o in zip(leaves, out_leaves):
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[0] has a shape of {c.shape} and output[0] "
                    f"has a shape of {o.shape}."
                )
        with enable_grad():
            grads = _grads(out_leaves, flat_inputs, leaves,
                           tracking if create_graph is None else create_graph,
                           retain_graph=True)
        results, i = [], 0
        for new, build in tracked:
            results.append(build([_finish(g, tracking) for g in grads[i:i + len(new)]]))
            i += len(new)
        return tuple(results)

    value = out_build([_finish(o, tracking) for o in out_leaves])
    return (value, vjp_fn, _finish_tree(aux, tracking)) if has_aux else (value, vjp_fn)


def jvp(func: Callable, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """``(func(*primals), J @ tangents)``."""
    from ember import zeros_like

    if not isinstance(primals, tuple):
        raise RuntimeError(
            "jvp(f, primals, tangents): Expected primals to be a tuple. E.g. it should be "
            "valid to call f(*primals)."
        )
    if not isinstance(tangents, tuple) or _spec_text(tangents) != _spec_text(primals):
        raise RuntimeError(
            "jvp(f, primals, tangents): Expected primals and tangents to have the same python "
            f"structure. For example, if primals is a tuple of 3 tensors, tangents also must "
            f"be. Got primals with structure {_spec_text(primals)} and tangents with "
            f"structure {_spec_text(tangents)}"
        )
    primal_leaves = _flatten(primals)[0]
    tangent_leaves = _flatten(tangents)[0]
    for name, leaves in (("primals", primal_leaves), ("tangents", tangent_leaves)):
        if not leaves:
            raise RuntimeError(f"{_JVP}: Expected {name} to contain at least one Tensor.")
        for leaf in leaves:
            if not _is_tensor(leaf):
                raise RuntimeError(
                    f"{_JVP}: Expected {name} to only contain Tensors, got {type(leaf)}")
    for p, t in zip(primal_leaves, tangent_leaves):
        for name, x in (("primal", p), ("tangent", t)):
            if x._dtype.category != 2:
                raise ValueError(
                    f"Expected {name} to be floating point or complex, but got: {x.dtype}")
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError(
                "Trying to set a forward gradient that has a different size than that of "
                f"the original Tensor, this is not supported. Tensor is of size "
                f"{list(p.shape)} while the given forward gradient is of size "
                f"{list(t.shape)}."
            )
    with enable_grad():
        new_args, tracked, tracking = _prepare_args(primals, tuple(range(len(primals))))
        flat_inputs = [t for new, _ in tracked for t in new]
        output = func(*new_args)
        aux = None
        if has_aux:
            output, aux = _split_aux(output, _JVP)
        _check_outputs(_flatten(output)[0], _JVP)
        out_leaves, out_build = _flatten(output)
        dummies = [zeros_like(o, requires_grad=True) for o in out_leaves]
        back = _grads(out_leaves, flat_inputs, dummies, True)
        pairs = [(b, t) for b, t in zip(back, tangent_leaves) if b._requires_grad]
        if pairs:
            from ember.autograd import grad as autograd_grad

            result = autograd_grad([b for b, _ in pairs], dummies, [t for _, t in pairs],
                                   create_graph=tracking, allow_unused=True)
        else:
            result = [None] * len(out_leaves)
        if strict and any(r is None for r in result):
            raise RuntimeError(
                "jvp(f, primals, tangents, strict=True): The output of f is independent of the "
                "inputs. This is not allowed with strict=True."
            )
        result = [zeros_like(o) if r is None else r for r, o in zip(result, out_leaves)]
    value = out_build([_finish(o, tracking) for o in out_leaves])
    tangent_out = out_build([_finish(r, tracking) for r in result])
    if has_aux:
        return value, tangent_out, _finish_tree(aux, tracking)
    return value, tangent_out


# ----- Jacobians ------------------------------------------------------------------------------
def _jacobian(func, argnums, has_aux, forward: bool) -> Callable:
    from ember import stack, zeros

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args))
        _check_differentiable_args(args, nums, forward)
        api = _JVP if forward else _VJP  # torch builds jacfwd on jvp and jacrev on vjp
        with enable_grad():
            new_args, tracked, tracking = _prepare_args(args, nums)
            output = func(*new_args, **kwargs)
            aux = None
            if has_aux:
                output, aux = _split_aux(output, api)
            out_leaves, out_build = _flatten(output)
            _check_outputs(out_leaves, api)
            if not forward:
                for o in out_leaves:
                    if o._dtype.category != 2:
                        raise RuntimeError(
                            "vjp(f, ...): All outputs of f must be floating-point or complex "
                            f"Tensors, got Tensor with dtype {o.dtype}"
                        )
            flat_inputs = [t for new, _ in tracked for t in new]
            # blocks[o][i]: d out_leaves[o] / d flat_inputs[i]
            if forward:
                blocks = _forward_blocks(out_leaves, flat_inputs, tracking)
            else:
                blocks = []
                for o in out_leaves:
                    rows = [[] for _ in flat_inputs]
                    n = o._array.size
                    for e in range(n):
                        onehot = zeros(n, dtype=o._dtype)
                        onehot._array[e] = 1
                        gs = _grads([o], flat_inputs, [onehot.reshape(o.shape)], tracking,
                                    retain_graph=True)
                        for k, g in enumerate(gs):
                            rows[k].append(g)
                    blocks.append([
                        (stack(r, 0) if r else zeros(0, dtype=t._dtype)).reshape(
                            tuple(o.shape) + tuple(t.shape))
                        for r, t in zip(rows, flat_inputs)
                    ])
        per_output = []
        for o_blocks in blocks:
            results, i = [], 0
            for new, build in tracked:
                results.append(build([_finish(b, tracking) for b in o_blocks[i:i + len(new)]]))
                i += len(new)
            per_output.append(results[0] if not isinstance(argnums, tuple) else tuple(results))
        jac = out_build(per_output)
        return (jac, _finish_tree(aux, tracking)) if has_aux else jac

    return wrapper


def _forward_blocks(out_leaves, flat_inputs, tracking: bool) -> list:
    """Jacobian blocks a column at a time, each column a JVP by the double-backward trick."""
    from ember import stack, zeros, zeros_like
    from ember.autograd import grad as autograd_grad

    dummies = [zeros_like(o, requires_grad=True) for o in out_leaves]
    back = _grads(out_leaves, flat_inputs, dummies, True)
    blocks = [[None] * len(flat_inputs) for _ in out_leaves]
    for k, (b, t) in enumerate(zip(back, flat_inputs)):
        columns = [[] for _ in out_leaves]
        n = t._array.size
        for e in range(n):
            onehot = zeros(n, dtype=t._dtype)
            onehot._array[e] = 1
            if b._requires_grad:
                cols = autograd_grad([b], dummies, [onehot.reshape(t.shape)],
                                     create_graph=tracking, retain_graph=True,
                                     allow_unused=True)
            else:
                cols = [None] * len(out_leaves)
            for o, (c, out) in enumerate(zip(cols, out_leaves)):
                columns[o].append(zeros_like(out) if c is None else c)
        for o, out in enumerate(out_leaves):
            shape = tuple(out.shape) + tuple(t.shape)
            if columns[o]:
                # columns are indexed by the input element: move that axis last
                block = stack(columns[o], -1).reshape(shape)
            else:
                block = zeros(shape, dtype=out._dtype)
            blocks[o][k] = block
    return blocks


def jacrev(func: Callable, argnums=0, *, has_aux: bool = False, chunk_size=None,
           _preallocate_and_copy: bool = False) -> Callable:
    """The Jacobian by reverse mode: one vector-Jacobian product per output element."""
    return _jacobian(func, argnums, has_aux, False)


def jacfwd(func: Callable, argnums=0, has_aux: bool = False, *, randomness: str = "error"
           ) -> Callable:
    """The Jacobian by forward mode: one Jacobian-vector product per input element."""
    return _jacobian(func, argnums, has_aux, True)


def hessian(func: Callable, argnums=0) -> Callable:
    """``jacfwd(jacrev(func))``, as torch.func defines it."""
    return jacfwd(jacrev(func, argnums), argnums)


# ----- vmap (left out) ------------------------------------------------------------------------
def vmap(func: Callable, in_dims=0, out_dims=0, randomness: str = "error", *,
         chunk_size=None) -> Callable:
    """Not provided: batching needs a rule per op, which ember's ops do not have. Refusing
    loudly (like ember's other left-out features) beats a silent Python loop."""
    raise NotImplementedError(
        "vmap is not implemented in ember: its ops have no batching rules. Loop over the "
        "batch in Python and stack the results (ember.stack) instead."
    )


# ----- functional_call ------------------------------------------------------------------------
def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False) -> Any:
    """Call ``module`` with some parameters and buffers replaced by the given tensors."""
    if isinstance(parameter_and_buffer_dicts, dict):
        replacements = dict(parameter_and_buffer_dicts)
    else:
        replacements = {}
        for d in parameter_and_buffer_dicts:
            for key in d:
                if key in replacements:
                    raise ValueError(
                        f"{key} appeared in multiple dictionaries; behavior of functional call "
                        "is ambiguous"
                    )
            replacements.update(d)
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    kwargs = kwargs or {}
    if strict:
        expected = {name for name, _ in module.named_parameters()} | {
            name for name, _ in module.named_buffers()}
        missing = sorted(expected - set(replacements))
        unexpected = sorted(set(replacements) - expected)
        if missing or unexpected:
            parts = []
            if unexpected:
                parts.append("Unexpected key(s): " + ", ".join(f"'{k}'" for k in unexpected))
            if missing:
                parts.append("Missing key(s): " + ", ".join(f"'{k}'" for k in missing))
            raise RuntimeError(
                "Error(s) in reparametrizing for {}:\n\t{}".format(
                    type(module).__name__, "\n\t".join(p + "." for p in parts))
            )
    saved = []
    try:
        for name, value in replacements.items():
            owner, attr = _owner(module, name)
            saved.append((owner, attr, _swap(owner, attr, value)))
        return module(*args, **kwargs)
    finally:
        for owner, attr, (kind, old) in reversed(saved):
            _restore(owner, attr, kind, old)


def _owner(module, name: str):
    parts = name.split(".")
    for part in parts[:-1]:
        module = getattr(module, part)
    return module, parts[-1]


def _swap(owner, attr: str, value):
    """Put ``value`` in place of ``owner.attr``; return how to put the old one back."""
    for kind in ("_parameters", "_buffers"):
        table = owner.__dict__.get(kind)
        if table is not None and attr in table:
            old = table[attr]
            table[attr] = value
            return kind, old
    old = owner.__dict__.get(attr)
    object.__setattr__(owner, attr, value)
    return "__dict__", old


def _restore(owner, attr: str, kind: str, old) -> None:
    if kind == "__dict__":
        if old is None:
            owner.__dict__.pop(attr, None)
        else:
            object.__setattr__(owner, attr, old)
    else:
        owner.__dict__[kind][attr] = old
