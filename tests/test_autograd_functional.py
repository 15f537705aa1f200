"""ember.autograd.functional against torch.autograd.functional: values, nesting of tuple
results, create_graph, strict errors, vectorize and forward-mode strategies."""

from __future__ import annotations

import numpy as np
import pytest

from differential import check

RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 2))
X = RNG.standard_normal(2)
Y = RNG.standard_normal((2, 2))


def _plain(value):
    """Values and requires_grad only: the graphs of derivatives computed with create_graph
    are made of each library's own backward nodes, so their grad_fn names differ."""
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    if value is None:
        return None
    return value.detach(), value.requires_grad


def _inputs(lib, kind):
    x = lib.tensor(X)
    y = lib.tensor(Y)
    return x if kind == "single" else (x, y)


def _func(lib, kind_in, kind_out):
    a = lib.tensor(A)

    def f(*args):
        x = args[0]
        base = (a @ x).tanh()
        if kind_in == "tuple":
            base = base * args[1].sum() + args[1][0, 0] * x.sum()
        if kind_out == "single":
            return base
        return base, (x.exp() * 2).sum(), base[:2] * x

    return f


def _scalar(lib, kind_in):
    a = lib.tensor(A)

    def f(*args):
        x = args[0]
        value = (a @ x).tanh().sum() + (x ** 3).sum()
        if kind_in == "tuple":
            value = value + (args[1].sin() * x.sum()).sum()
        return value

    return f


@pytest.mark.parametrize("kind_in", ["single", "tuple"])
@pytest.mark.parametrize("kind_out", ["single", "tuple"])
@pytest.mark.parametrize("mode", ["reverse", "vectorize", "forward", "create_graph"])
def test_jacobian_nesting_and_values(kind_in, kind_out, mode):
    def program(lib):
        F = lib.autograd.functional
        f = _func(lib, kind_in, kind_out)
        inputs = _inputs(lib, kind_in)
        if mode == "reverse":
            return F.jacobian(f, inputs)
        if mode == "vectorize":
            return F.jacobian(f, inputs, vectorize=True)
        if mode == "forward":
            return F.jacobian(f, inputs, vectorize=True, strategy="forward-mode")
        if kind_in == "single":
            inputs = inputs.requires_grad_()
        else:
            inputs = tuple(t.requires_grad_() for t in inputs)
        jac = F.jacobian(f, inputs, create_graph=True)
        flat = jac if not isinstance(jac, tuple) else [
            t for item in jac for t in (item if isinstance(item, tuple) else (item,))]
        total = sum((t * t).sum() for t in flat)
        leaves = inputs if isinstance(inputs, tuple) else (inputs,)
        return jac, lib.autograd.grad(total, leaves, allow_unused=True)

    check(program, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("kind_in", ["single", "tuple"])
@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_hessian_nesting_and_values(kind_in, strategy):
    def program(lib):
        h = lib.autograd.functional.hessian(
            _scalar(lib, kind_in), _inputs(lib, kind_in), vectorize=strategy == "forward-mode",
            outer_jacobian_strategy=strategy)
        return _plain(h)[0] if kind_in == "single" else [[b.detach() for b in row] for row in h]

    check(program, rtol=1e-9, atol=1e-10)


def test_hessian_create_graph_is_differentiable():
    def program(lib):
        x = lib.tensor(X, requires_grad=True)
        h = lib.autograd.functional.hessian(_scalar(lib, "single"), x, create_graph=True)
        return h, lib.autograd.grad(h.sum(), x)

    check(program, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("fn", ["vjp", "jvp", "vhp", "hvp"])
@pytest.mark.parametrize("kind_in", ["single", "tuple"])
@pytest.mark.parametrize("create_graph", [False, True])
def test_vector_products(fn, kind_in, create_graph):
    def program(lib):
        F = lib.autograd.functional
        inputs = _inputs(lib, kind_in)
        if fn in ("vhp", "hvp"):
            f = _scalar(lib, kind_in)
            v = tuple(lib.ones_like(t) * 0.5 for t in inputs) if kind_in == "tuple" else \
                lib.ones_like(inputs) * 0.5
        elif fn == "vjp":
            f = _func(lib, kind_in, "tuple")
            v = (lib.ones(3), lib.tensor(2.0), lib.ones(2) * -1)
        else:
            f = _func(lib, kind_in, "tuple")
            v = tuple(lib.ones_like(t) * 0.5 for t in inputs) if kind_in == "tuple" else \
                lib.ones_like(inputs) * 0.5
        if create_graph:
            inputs = tuple(t.requires_grad_() for t in inputs) if kind_in == "tuple" else \
                inputs.requires_grad_()
        return _plain(getattr(F, fn)(f, inputs, v, create_graph=create_graph))

    check(program, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("case", [
    "jacobian_strict_unused", "jacobian_strict_constant", "vjp_strict_unused",
    "jvp_no_v", "vjp_bad_v_size", "vjp_bad_v_len", "hessian_tuple_output",
    "hessian_not_scalar", "not_a_tensor", "tuple_not_a_tensor", "bad_strategy",
    "forward_needs_vectorize", "forward_with_create_graph", "vectorize_strict",
    "hessian_strict_linear", "vhp_not_scalar", "jacobian_unused_zeros",
    "hessian_vectorize_strict", "hessian_bad_outer_strategy", "hessian_forward_needs_vectorize",
    "jvp_bad_v_size", "jacobian_list_output", "jacobian_non_tensor_output",
    "jacobian_create_graph_strict_unused",
])
def test_functional_errors_and_strict(case):
    def program(lib):
        F = lib.autograd.functional
        x = lib.tensor([1.0, 2.0], dtype=lib.float64)
        y = lib.tensor([3.0], dtype=lib.float64)
        if case == "jacobian_strict_unused":
            return F.jacobian(lambda a, b: a * 2, (x, y), strict=True)
        if case == "jacobian_strict_constant":
            return F.jacobian(lambda a: lib.ones(2), x, strict=True)
        if case == "vjp_strict_unused":
            return F.vjp(lambda a, b: a.sum(), (x, y), strict=True)
        if case == "jvp_no_v":
            return F.jvp(lambda a: a * 2, x)
        if case == "vjp_bad_v_size":
            return F.vjp(lambda a: a * 2, x, lib.ones(3, dtype=lib.float64))
        if case == "vjp_bad_v_len":
            return F.vjp(lambda a: (a * 2, a), x, (lib.ones(2, dtype=lib.float64),))
        if case == "hessian_tuple_output":
            return F.hessian(lambda a: (a.sum(), a.sum()), x)
        if case == "hessian_not_scalar":
            return F.hessian(lambda a: a * 2, x)
        if case == "not_a_tensor":
            return F.jacobian(lambda a: a, [1.0, 2.0])
        if case == "tuple_not_a_tensor":
            return F.jacobian(lambda a, b: a, (x, 2.0))
        if case == "bad_strategy":
            return F.jacobian(lambda a: a, x, strategy="sideways")
        if case == "forward_needs_vectorize":
            return F.jacobian(lambda a: a, x, strategy="forward-mode")
        if case == "forward_with_create_graph":
            return F.jacobian(lambda a: a, x, strategy="forward-mode", create_graph=True)
        if case == "vectorize_strict":
            return F.jacobian(lambda a: a * 2, x, strict=True, vectorize=True)
        if case == "hessian_strict_linear":
            return F.hessian(lambda a: (a * 2).sum(), x, strict=True)
        if case == "vhp_not_scalar":
            return F.vhp(lambda a: a * 2, x, x)
        cube = lambda a: (a ** 3).sum()  # noqa: E731
        if case == "hessian_vectorize_strict":
            return F.hessian(cube, x, strict=True, vectorize=True)
        if case == "hessian_bad_outer_strategy":
            return F.hessian(cube, x, outer_jacobian_strategy="sideways")
        if case == "hessian_forward_needs_vectorize":
            return F.hessian(cube, x, outer_jacobian_strategy="forward-mode")
        if case == "jvp_bad_v_size":
            return F.jvp(lambda a: a * 2, x, lib.ones(3, dtype=lib.float64))
        if case == "jacobian_list_output":
            return F.jacobian(lambda a: [a, a * 2], x)
        if case == "jacobian_non_tensor_output":
            return F.jacobian(lambda a: (a, 1.0), x)
        if case == "jacobian_create_graph_strict_unused":
            return F.jacobian(lambda a, b: a * 2, (x, y), create_graph=True, strict=True)
        return F.jacobian(lambda a, b: a * 2, (x, y))

    check(program)


def test_hessian_benchmark_function_matches_analytic():
    import ember

    n = 20
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)) / 5
    x = rng.standard_normal(n)
    A = ember.tensor(a)
    h = ember.autograd.functional.hessian(lambda v: ember.tanh(A @ v).sum(), ember.tensor(x))
    t = np.tanh(a @ x)
    analytic = a.T @ np.diag(-2 * t * (1 - t ** 2)) @ a
    assert np.abs(h.numpy() - analytic).max() <= 1e-10
