"""ember.func against torch.func: grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian,
functional_call; argnums, has_aux, nesting and errors."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from differential import check

RNG = np.random.default_rng(11)
XA = RNG.standard_normal(3)
YA = RNG.standard_normal((2, 3))


def _func(lib):
    return importlib.import_module(lib.__name__ + ".func")


def _f(lib):
    def f(x, y):
        return ((y @ x).tanh() ** 2).sum() + (x.sin() * x).sum()

    return f


def _vec(lib):
    def g(x, y):
        return (y @ x).exp(), x * y.sum()

    return g


def _args(lib):
    return lib.tensor(XA), lib.tensor(YA)


@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1,), -1])
def test_grad_and_grad_and_value(argnums):
    def program(lib):
        F = _func(lib)
        x, y = _args(lib)
        return (F.grad(_f(lib), argnums=argnums)(x, y),
                F.grad_and_value(_f(lib), argnums=argnums)(x, y))

    check(program, rtol=1e-10, atol=1e-12)


def test_grad_has_aux_nesting_and_requires_grad_inputs():
    def program(lib):
        F = _func(lib)
        x, y = _args(lib)

        def with_aux(a, b):
            value = _f(lib)(a, b)
            return value, {"v": value.detach() * 2}

        second = F.grad(F.grad(lambda a: (a.sin() * a).sum() ** 2))(x)
        xr = lib.tensor(XA, requires_grad=True)
        g = F.grad(lambda a: (a ** 3).sum())(xr)
        (outer,) = lib.autograd.grad(g.sum(), xr)
        return (F.grad(with_aux, has_aux=True)(x, y),
                F.grad_and_value(with_aux, has_aux=True)(x, y), second, g.detach(), outer)

    check(program, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ["not_scalar", "aux_not_tuple", "argnums_range", "empty"])
def test_grad_errors(case):
    def program(lib):
        F = _func(lib)
        x, y = _args(lib)
        if case == "not_scalar":
            return F.grad(lambda a: a * 2)(x)
        if case == "aux_not_tuple":
            return F.grad(lambda a: a.sum(), has_aux=True)(x)
        if case == "argnums_range":
            return F.grad(_f(lib), argnums=2)(x, y)
        return F.grad(_f(lib), argnums=())(x, y)

    check(program)


def test_vjp_and_jvp():
    def program(lib):
        F = _func(lib)
        x, y = _args(lib)
        out, fn = F.vjp(_vec(lib), x, y)
        cot = (lib.ones(2, dtype=lib.float64), lib.ones(3, dtype=lib.float64) * 0.5)
        out2, tangent = F.jvp(_vec(lib), (x, y), (lib.ones_like(x), lib.ones_like(y) * -1))
        out3, fn3, aux = F.vjp(lambda a: (a.exp(), a.sum()), x, has_aux=True)
        return out, fn(cot), out2, tangent, out3, fn3(lib.ones_like(x)), aux

    check(program, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ["primals_not_tuple", "structure", "tangent_shape"])
def test_jvp_errors(case):
    def program(lib):
        F = _func(lib)
        x, y = _args(lib)
        if case == "primals_not_tuple":
            return F.jvp(lambda a: a, x, (x,))
        if case == "structure":
            try:
                return F.jvp(lambda a, b: a, (x, y), (x,))
            except RuntimeError as e:  # the rest of the line prints each library's tree spec
                return str(e).split(" Got primals")[0]
        return F.jvp(lambda a: a, (x,), (lib.ones(2, dtype=lib.float64),))

    check(program)


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd"])
@pytest.mark.parametrize("argnums", [0, (0, 1)])
@pytest.mark.parametrize("outputs", ["single", "tuple"])
def test_jacobians(transform, argnums, outputs):
    def program(lib):
        F = _func(lib)
        x, y = _args(lib)
        func = _vec(lib) if outputs == "tuple" else (lambda a, b: (b @ a).sin() * a.sum())
        jac = getattr(F, transform)(func, argnums=argnums)(x, y)
        with_aux = getattr(F, transform)(lambda a, b: (func(a, b), a.sum()), argnums=argnums,
                                         has_aux=True)(x, y)
        return jac, with_aux

    check(program, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_hessian(argnums):
    def program(lib):
        F = _func(lib)
        x, y = _args(lib)
        return F.hessian(_f(lib), argnums=argnums)(x, y)

    check(program, rtol=1e-9, atol=1e-10)


def test_functional_call():
    def program(lib):
        F = _func(lib)
        class Affine(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = lib.nn.Parameter(lib.tensor(YA, dtype=lib.float32))
                self.bias = lib.nn.Parameter(lib.tensor([0.5, -0.5]))

            def forward(self, inp):
                return inp @ self.weight.T + self.bias

        model = Affine()
        x = lib.tensor(YA, dtype=lib.float32)
        params = {"weight": lib.ones(2, 3), "bias": lib.zeros(2)}
        out = F.functional_call(model, params, (x,))
        after = model(x)

        def loss(p):
            return F.functional_call(model, p, (x,)).pow(2).sum()

        grads = F.grad(loss)(params)
        try:
            F.functional_call(model, {"weight": lib.ones(2, 3)}, (x,), strict=True)
        except RuntimeError as e:
            err = str(e).splitlines()[0]
        return out, after, grads, err

    check(program, rtol=1e-5, atol=1e-6)
