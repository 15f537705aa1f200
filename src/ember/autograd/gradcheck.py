"""``gradcheck`` / ``gradgradcheck``: compare backward's Jacobians with finite differences.

Slow mode builds both Jacobians in full, one row per output element (a backward pass with a
one-hot gradient) against one column per input element (a central difference, perturbing
the input's values in place). Fast mode compares a single number per (output, input) pair:
``v^T J u`` for random unit vectors ``u`` (inputs) and ``v`` (outputs), from one backward
pass and one directional difference. Messages and arguments follow torch's.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck and gradgradcheck when a check fails."""


def _as_tuple(x) -> tuple:
    return x if isinstance(x, tuple) else tuple(x) if isinstance(x, list) else (x,)


def _is_tensor(x) -> bool:
    from ember._tensor import Tensor

    return isinstance(x, Tensor)


def _diff_inputs(inputs) -> list:
    return [(i, t) for i, t in enumerate(inputs) if _is_tensor(t) and t._requires_grad]


def _check_inputs(inputs, stride_checked: int) -> None:
    found = False
    for idx, t in enumerate(inputs):
        if _is_tensor(t) and t._requires_grad:
            if t._array.dtype != np.float64:
                warnings.warn(
                    f"Input #{idx} requires gradient and is not a double precision floating "
                    "point or complex. This check will likely fail if all the inputs are not of "
                    "double precision floating point or complex. ",
                    UserWarning,
                    stacklevel=3,
                )
            if idx < stride_checked and any(
                s == 0 and n > 1 for s, n in zip(t.stride(), t._array.shape)
            ):
                raise RuntimeError(
                    f"The {idx}th input has a dimension with stride 0. gradcheck only supports "
                    "inputs that are non-overlapping to be able to compute the numerical "
                    "gradients correctly. You should call .contiguous on the input before "
                    "passing it to gradcheck."
                )
            found = True
    if not found:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, but none of "
            "them have requires_grad=True."
        )


def _outputs(func, inputs) -> tuple:
    return tuple(o for o in _as_tuple(func(*inputs)) if _is_tensor(o))


def _values(func, inputs) -> list:
    """Values of the differentiable outputs (float64 arrays, flattened)."""
    return [np.array(o._array, dtype=np.float64).ravel() for o in _outputs(func, inputs)
            if o._requires_grad]


def _numerical_columns(func, inputs, t, eps: float, direction=None) -> list:
    """Per output, the matrix (input numel x output numel) of central differences, or with
    ``direction`` the directional difference (a vector of output numel)."""
    array = t._array
    if direction is not None:
        original = array.copy()
        array += eps * direction.reshape(array.shape).astype(array.dtype)
        plus = _values(func, inputs)
        array[...] = original - eps * direction.reshape(array.shape).astype(array.dtype)
        minus = _values(func, inputs)
        array[...] = original
        return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]
    columns = None
    for index in np.ndindex(array.shape):
        original = array[index].copy()
        array[index] = original + eps
        plus = _values(func, inputs)
        array[index] = original - eps
        minus = _values(func, inputs)
        array[index] = original
        if columns is None:
            columns = [[] for _ in plus]
        for k, (p, m) in enumerate(zip(plus, minus)):
            columns[k].append((p - m) / (2 * eps))
    outs = [o.size for o in _values(func, inputs)]
    if columns is None:
        return [np.zeros((0, n)) for n in outs]
    return [np.array(c).reshape(array.size, n) for c, n in zip(columns, outs)]


def _vjp(output, diff_inputs, v):
    """Gradients of ``sum(output * v)`` for each differentiable input (zeros when unused)."""
    from ember import autograd
    from ember._tensor import _wrap

    g = _wrap(v.reshape(output._array.shape).astype(output._array.dtype), output._dtype)
    grads = autograd.grad(output, [t for _, t in diff_inputs], g, retain_graph=True,
                          allow_unused=True)
    return [
        np.zeros(t._array.size) if gi is None else np.array(gi._array, dtype=np.float64).ravel()
        for (_, t), gi in zip(diff_inputs, grads)
    ]


def _tensor_text(array: np.ndarray) -> str:
    from ember import tensor

    return str(tensor(array))


def _mismatch(out_idx: int, in_idx: int, numerical, analytical, fast: bool) -> str:
    text = (
        f"Jacobian mismatch for output {out_idx:d} with respect to input {in_idx:d},\n"
        f"numerical:{_tensor_text(numerical)}\nanalytical:{_tensor_text(analytical)}\n"
    )
    if fast:
        text += (
            "\nThe above quantities relating the numerical and analytical jacobians are "
            "computed in fast mode: v^T J u for random unit vectors u (inputs) and v (outputs); "
            "rerun with fast_mode=False for the full Jacobians.\n"
        )
    return text


def _slow_check(func, inputs, outputs, diff, eps, atol, rtol, nondet_tol) -> None:
    numerical = [_numerical_columns(func, inputs, t, eps) for _, t in diff]
    for k, out in enumerate(outputs):
        n = out._array.size
        rows1 = []
        rows2 = []
        for e in range(n):
            v = np.zeros(n)
            v[e] = 1.0
            rows1.append(_vjp(out, diff, v))
            rows2.append(_vjp(out, diff, v))
        for j, (_, t) in enumerate(diff):
            a1 = np.array([r[j] for r in rows1]).reshape(n, t._array.size).T
            a2 = np.array([r[j] for r in rows2]).reshape(n, t._array.size).T
            if not np.allclose(a1, a2, rtol=0, atol=nondet_tol):
                raise GradcheckError(
                    "Backward is not reentrant, i.e., running backward with same input and "
                    "grad_output multiple times gives different values, although analytical "
                    f"gradient matches numerical gradient.The tolerance for nondeterminism was "
                    f"{nondet_tol}."
                )
            num = numerical[j][k]
            if not np.allclose(a1, num, rtol=rtol, atol=atol):
                raise GradcheckError(_mismatch(k, j, num, a1, False))


def _fast_check(func, inputs, outputs, diff, eps, atol, rtol) -> None:
    rng = np.random.default_rng()
    us = []
    for _, t in diff:
        u = rng.standard_normal(t._array.size)
        norm = np.linalg.norm(u)
        us.append(u / norm if norm > 0 else u)
    vs = [rng.standard_normal(o._array.size) for o in outputs]
    numerical = [_numerical_columns(func, inputs, t, eps, u) for (_, t), u in zip(diff, us)]
    for k, (out, v) in enumerate(zip(outputs, vs)):
        vjps = _vjp(out, diff, v)
        for j, u in enumerate(us):
            analytical = np.array(vjps[j] @ u)
            num = np.array(numerical[j][k] @ v)
            # torch scales the tolerance by the norms of u and v in fast mode
            if not np.allclose(analytical, num, rtol=rtol,
                               atol=atol * max(1.0, np.linalg.norm(v) * np.linalg.norm(u))):
                raise GradcheckError(_mismatch(k, j, num, analytical, True))


def _zero_grad_checks(func, inputs, outputs, diff, check_undefined_grad: bool) -> None:
    """Backward of zero output gradients must give zero (torch's two checks)."""
    from ember import autograd, zeros_like

    tensors = [t for _, t in diff]
    grads = autograd.grad(outputs, tensors, [zeros_like(o) for o in outputs],
                          retain_graph=True, allow_unused=True)
    for g, t in zip(grads, tensors):
        if g is None:
            continue
        if (g._array != 0).any():
            raise GradcheckError("backward not multiplied by grad_output")
        if g._dtype is not t._dtype:
            raise GradcheckError("grad is incorrect type")
        if g._array.shape != t._array.shape:
            raise GradcheckError("grad is incorrect size")
    if not check_undefined_grad:
        return
    # torch makes output gradients undefined: all of them at once, and, with several outputs,
    # one at a time while the others get zeros. An output left out of autograd.grad has an
    # undefined gradient; a node whose every output gradient is undefined is not run by
    # ember's engine (torch would call it), so that first case checks less than torch's.
    kept_sets = [outputs]
    if len(outputs) > 1:
        for skip in range(len(outputs)):
            fresh = [o for o in _outputs(func, inputs) if o.requires_grad]
            kept_sets.append([o for i, o in enumerate(fresh) if i != skip])
    for kept in kept_sets:
        try:
            grads = autograd.grad(kept, tensors, [zeros_like(o) for o in kept],
                                  retain_graph=True, allow_unused=True)
        except RuntimeError as e:
            raise GradcheckError(
                "Expected backward function to handle undefined output grads. Please look at "
                '"Notes about undefined output gradients" in "tools/autograd/derivatives.yaml"'
            ) from e
        for g in grads:
            if g is not None and (g._array != 0).any():
                raise GradcheckError(
                    "Expected all input grads to be undefined or zero when all output grads "
                    'are undefined or zero. Please look at "Notes about undefined output '
                    'gradients" in "tools/autograd/derivatives.yaml"'
                )


def _forward_ad_check(func, inputs, diff, outputs, atol, rtol) -> None:
    """Forward-mode Jacobian columns (one JVP per input element) against reverse mode."""
    from ember.autograd import forward_ad as fwAD

    for j, (idx, t) in enumerate(diff):
        for e in range(t._array.size):
            direction = np.zeros(t._array.size, dtype=t._array.dtype)
            direction[e] = 1
            with fwAD.dual_level():
                from ember._tensor import _wrap

                # The primal keeps requires_grad, so a gradient taken inside ``func``
                # (gradgradcheck's forward-over-reverse) sees a differentiable input.
                dual = fwAD.make_dual(t.detach().requires_grad_(t.requires_grad),
                                      _wrap(direction.reshape(t._array.shape), t._dtype))
                args = list(inputs)
                args[idx] = dual
                outs = _outputs(func, args)
                for k, (o, ref) in enumerate(zip(outs, outputs)):
                    tangent = fwAD.unpack_dual(o).tangent
                    got = (np.zeros(ref._array.size) if tangent is None
                           else np.array(tangent._array, dtype=np.float64).ravel())
                    want = _vjp_column(ref, t, e, diff)
                    if not np.allclose(got, want, rtol=rtol, atol=atol):
                        raise GradcheckError(
                            f"Jacobian computed with forward mode mismatch for output {k:d} "
                            f"with respect to input {j:d},\n"
                            f"numerical:{_tensor_text(want)}\nanalytical:{_tensor_text(got)}\n"
                        )


def _vjp_column(output, t, e, diff) -> np.ndarray:
    n = output._array.size
    column = np.zeros(n)
    j = [i for i, (_, d) in enumerate(diff) if d is t][0]
    for r in range(n):
        v = np.zeros(n)
        v[r] = 1.0
        column[r] = _vjp(output, diff, v)[j][e]
    return column


def gradcheck(
    func,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_batched_forward_grad: bool = False,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
    fast_mode: bool = False,
    masked: bool | None = None,
) -> bool:
    """Check backward's gradients of ``func`` at ``inputs`` against finite differences."""
    if check_batched_grad or check_batched_forward_grad:
        raise NotImplementedError("ember has no vmap: batched gradient checks are unavailable")
    if not (check_forward_ad or check_backward_ad):
        raise AssertionError(
            "Expected at least one of check_forward_ad or check_backward_ad to be True"
        )
    inputs = _as_tuple(inputs)
    try:
        _check_inputs(inputs, _stride_checked.pop() if _stride_checked else len(inputs))
        diff = _diff_inputs(inputs)
        outputs = tuple(o for o in _outputs(func, inputs) if o._requires_grad)
        if not outputs:
            for _, t in diff:
                for cols in _numerical_columns(func, inputs, t, eps):
                    if (cols != 0).any():
                        raise GradcheckError(
                            "Numerical gradient for function expected to be zero"
                        )
            return True
        if check_backward_ad:
            if fast_mode:
                _fast_check(func, inputs, outputs, diff, eps, atol, rtol)
            else:
                _slow_check(func, inputs, outputs, diff, eps, atol, rtol, nondet_tol)
            _zero_grad_checks(func, inputs, outputs, diff, check_undefined_grad)
        if check_forward_ad:
            _forward_ad_check(func, inputs, diff, outputs, atol, rtol)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


_stride_checked: list = []  # gradgradcheck's own random grad_outputs skip the stride check


def gradgradcheck(
    func,
    inputs,
    grad_outputs=None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    gen_non_contig_grad_outputs: bool = False,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_fwd_over_rev: bool = False,
    check_rev_over_rev: bool = True,
    fast_mode: bool = False,
    masked: bool = False,
) -> bool:
    """gradcheck of the function ``(inputs, grad_outputs) -> gradients`` (second derivatives)."""
    from ember import autograd, rand

    inputs = _as_tuple(inputs)
    user_grads = grad_outputs is not None
    if grad_outputs is None:
        outs = [o for o in _outputs(func, inputs) if o._requires_grad]
        grad_outputs = tuple(
            (rand(o._array.shape, dtype=o._dtype) * 2 - 1).requires_grad_() for o in outs
        )
    else:
        grad_outputs = _as_tuple(grad_outputs)
    n_grads = len(grad_outputs)
    # Which arguments are differentiated is fixed here: the checks may pass them back as
    # forward-AD duals of detached values, whose requires_grad is then restored (as torch).
    differentiable = {i for i, t in enumerate(inputs + grad_outputs)
                      if _is_tensor(t) and t.requires_grad}

    def first_derivative(*args):
        args = tuple(t.requires_grad_() if i in differentiable and not t.requires_grad else t
                     for i, t in enumerate(args))
        ins, gouts = args[:len(args) - n_grads], args[len(args) - n_grads:]
        outs = [o for o in _outputs(func, ins) if o.requires_grad]
        diff_ins = [t for i, t in enumerate(ins) if i in differentiable]
        grads = autograd.grad(outs, diff_ins, gouts, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    _stride_checked.append(len(inputs) + (n_grads if user_grads else 0))
    return gradcheck(
        first_derivative, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
        raise_exception=raise_exception, nondet_tol=nondet_tol,
        check_undefined_grad=check_undefined_grad, check_grad_dtypes=check_grad_dtypes,
        check_forward_ad=check_fwd_over_rev, check_backward_ad=check_rev_over_rev,
        fast_mode=fast_mode, masked=masked,
    )
