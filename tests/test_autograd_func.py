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


@pytest.mark.parametrize("case", [
    "argnums_float", "argnums_tuple_str", "argnums_duplicate", "argnums_duplicate_negative",
    "argnums_empty_jacrev", "grad_non_tensor_arg", "grad_non_tensor_leaf", "vjp_non_tensor",
    "jacrev_non_tensor", "jacfwd_non_tensor", "vjp_output_not_tensor", "vjp_output_none",
    "jacrev_output_not_tensor", "jacfwd_output_not_tensor", "vjp_int_output",
    "jacrev_int_output", "jacrev_aux_not_tuple", "jacfwd_aux_not_tuple",
    "hessian_duplicate_argnums", "vjp_cotangent_structure", "jvp_aux_not_tuple",
    "jvp_tangent_not_tensor", "jvp_no_primals", "jvp_int_primal", "jvp_strict_independent",
    "jvp_strict_dependent", "jvp_output_not_tensor", "jvp_tangents_list",
])
def test_transform_argument_and_output_errors(case):
    def program(lib):
        F = _func(lib)
        x, y = _args(lib)
        ones = lib.ones(3, dtype=lib.float64)
        calls = {
            "argnums_float": lambda: F.grad(_f(lib), argnums=1.5)(x, y),
            "argnums_tuple_str": lambda: F.grad(_f(lib), argnums=(0, "y"))(x, y),
            "argnums_duplicate": lambda: F.grad(_f(lib), argnums=(0, 0))(x, y),
            "argnums_duplicate_negative": lambda: F.jacfwd(_vec(lib), argnums=(1, -1))(x, y),
            "argnums_empty_jacrev": lambda: F.jacrev(_vec(lib), argnums=())(x, y),
            "grad_non_tensor_arg": lambda: F.grad(lambda a, k: (a * k).sum(), argnums=1)(x, 2.0),
            "grad_non_tensor_leaf": lambda: F.grad(lambda t: t[0].sum())([x, 2.0]),
            "vjp_non_tensor": lambda: F.vjp(lambda a: a, 3.0),
            "jacrev_non_tensor": lambda: F.jacrev(lambda a: a)(3.0),
            "jacfwd_non_tensor": lambda: F.jacfwd(lambda a: a)(3.0),
            "vjp_output_not_tensor": lambda: F.vjp(lambda a: (a, 3.0), x),
            "vjp_output_none": lambda: F.vjp(lambda a: None, x),
            "jacrev_output_not_tensor": lambda: F.jacrev(lambda a: 3.0)(x),
            "jacfwd_output_not_tensor": lambda: F.jacfwd(lambda a: [a, 3.0])(x),
            "vjp_int_output": lambda: F.vjp(lambda a: a.long(), x),
            "jacrev_int_output": lambda: F.jacrev(lambda a: a.long())(x),
            "jacrev_aux_not_tuple": lambda: F.jacrev(lambda a: a, has_aux=True)(x),
            "jacfwd_aux_not_tuple": lambda: F.jacfwd(lambda a: a, has_aux=True)(x),
            "hessian_duplicate_argnums": lambda: F.hessian(_f(lib), argnums=(0, 0))(x, y),
            "vjp_cotangent_structure": lambda: F.vjp(_vec(lib), x, y)[1]([ones[:2], ones]),
            "jvp_aux_not_tuple": lambda: F.jvp(lambda a: a, (x,), (ones,), has_aux=True),
            "jvp_tangent_not_tensor": lambda: F.jvp(lambda a: a, (x,), (1.0,)),
            "jvp_no_primals": lambda: F.jvp(lambda: ones, (), ()),
            "jvp_int_primal": lambda: F.jvp(lambda a: a, (x.long(),), (ones,)),
            "jvp_strict_independent": lambda: F.jvp(lambda a: ones * 2, (x,), (ones,),
                                                    strict=True),
            "jvp_strict_dependent": lambda: F.jvp(lambda a, b: a * 2, (x, x), (ones, ones),
                                                  strict=True),
            "jvp_output_not_tensor": lambda: F.jvp(lambda a: (a, 2.0), (x,), (ones,)),
            "jvp_tangents_list": lambda: F.jvp(lambda a: a, (x,), [ones]),
        }
        try:
            return calls[case]()
        except RuntimeError as e:  # structure texts print each library's own tree spec
            return type(e).__name__, str(e).split(" Got primals")[0]

    check(program, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("where", ["func", "top"])
def test_vmap_is_left_out_and_says_so(where):
    import ember

    vmap = ember.func.vmap if where == "func" else ember.vmap
    with pytest.raises(NotImplementedError, match="^vmap is not implemented in ember"):
        vmap(lambda a: a * 2)(ember.ones(3, 2))
    assert "vmap" in ember.func.__all__
