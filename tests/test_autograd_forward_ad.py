"""Forward-mode AD against torch: the API, nesting with reverse mode, and a JVP for every
differentiable op of the database (compared with torch's JVP on the same inputs)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ember
from differential import check
from op_db import OP_DB, Sample, make_inputs
from oracle import torch

DIFFERENTIABLE = [e for e in OP_DB if e.differentiable and not e.forward_only]

# Ops whose JVP differs from torch's, with the reason (none known at this commit).
KNOWN: dict[str, str] = {}


def _params(entries) -> list:
    out = []
    for e in entries:
        reason = KNOWN.get(e.name)
        marks = [pytest.mark.xfail(reason=reason, strict=False)] if reason else []
        out.append(pytest.param(e, id=e.name, marks=marks))
    return out


def _flat(out) -> list:
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in _flat(item)]
    return [out]


def _torch_jvps(entry, sample, inputs, tangents):
    """torch's JVPs of the op's floating outputs: by its forward mode, and by the
    double-backward trick (``autograd.functional.jvp``); whichever torch can compute.

    ember's JVPs come from the backward formulas (double-vjp), so on most inputs both agree
    with it; where torch's forward-mode formula differs from its own double backward (at kinks,
    where the formulas pick other one-sided values, or on empty inputs, where one gives nan and
    the other 0), ember matching either of torch's answers is accepted. When torch's forward
    mode has no rule for the op (NotImplementedError), that error is returned: ember must raise
    the same.
    """
    float_idx = [i for i, t in enumerate(inputs) if t.is_floating_point()]

    def func(*floats):
        args = list(inputs)
        for i, f in zip(float_idx, floats):
            args[i] = f
        return tuple(o for o in _flat(entry.call(torch, *args, **sample.kwargs))
                     if isinstance(o, torch.Tensor) and o.is_floating_point())

    primals = tuple(inputs[i].detach() for i in float_idx)
    if not func(*primals):  # (raises if torch refuses the inputs themselves)
        raise RuntimeError("no floating output: no tangent to compare")
    try:
        results = [torch.func.jvp(func, primals, tuple(tangents))[1]]
    except NotImplementedError as e:  # no forward-mode rule in torch: ember must refuse too
        return e
    except RuntimeError:
        results = []
    try:
        results.append(torch.autograd.functional.jvp(func, primals, tuple(tangents))[1])
    except (NotImplementedError, RuntimeError):
        pass
    if not results:
        raise RuntimeError("torch computes no JVP here")
    return results


def _ember_jvp(entry, sample, inputs, tangents):
    fw = ember.autograd.forward_ad
    float_idx = [i for i, t in enumerate(inputs) if t.is_floating_point()]
    with fw.dual_level():
        args = list(inputs)
        for i, t in zip(float_idx, tangents):
            args[i] = fw.make_dual(inputs[i].detach(), t)
        outs = [o for o in _flat(entry.call(ember, *args, **sample.kwargs))
                if isinstance(o, ember.Tensor) and o.is_floating_point()]
        result = []
        for o in outs:
            tangent = fw.unpack_dual(o).tangent
            result.append(ember.zeros_like(o) if tangent is None else tangent)
    return tuple(result)


@pytest.mark.parametrize("entry", _params(DIFFERENTIABLE))
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_differentiable_op_has_a_jvp(entry, data):
    check_jvp(entry, data)


def check_jvp(entry, data) -> None:
    """ember's JVP of ``entry`` on a drawn sample and random tangents equals torch's."""
    sample = data.draw(entry.samples(True), label="sample")
    arrays = tuple(a.astype(np.float64) if a.dtype.kind == "f" else a for a in sample.arrays)
    sample = Sample(arrays, sample.kwargs, sample.noncontig)
    if not any(a.dtype.kind == "f" for a in arrays):
        return
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    tangent_arrays = [rng.standard_normal(a.shape) for a in arrays if a.dtype.kind == "f"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_inputs = make_inputs(torch, sample, False)
        try:
            references = _torch_jvps(entry, sample, t_inputs,
                                     [torch.tensor(t) for t in tangent_arrays])
        except Exception:  # noqa: BLE001 - torch refuses these inputs: nothing to compare
            return
        e_inputs = make_inputs(ember, sample, False)
        e_tangents = [ember.tensor(t) for t in tangent_arrays]
        if isinstance(references, NotImplementedError):
            with pytest.raises(NotImplementedError) as refused:
                _ember_jvp(entry, sample, e_inputs, e_tangents)
            assert str(refused.value).split("\n")[0] == str(references).split("\n")[0]
            return
        got = _ember_jvp(entry, sample, e_inputs, e_tangents)
    for i, g in enumerate(got):
        errors = []
        for expected in references:
            try:
                assert len(got) == len(expected), entry.name
                e = expected[i]
                assert tuple(g.shape) == tuple(e.shape), entry.name
                np.testing.assert_allclose(g.numpy(), e.detach().numpy(force=True), rtol=1e-6,
                                           atol=1e-8, equal_nan=True, err_msg=entry.name)
                break
            except AssertionError as error:
                errors.append(error)
        else:
            raise errors[-1]


# ----- the API -----------------------------------------------------------------------------------
def test_make_dual_unpack_dual_values_and_errors():
    def program(lib):
        fw = lib.autograd.forward_ad
        x = lib.tensor([1.0, 2.0])
        t = lib.tensor([1.0, 0.5])
        out = []
        try:
            fw.make_dual(x, t)
        except RuntimeError as e:
            out.append(str(e))
        with fw.dual_level():
            d = fw.make_dual(x, t)
            y = (d.sin() * 2 + d.exp().sum()) / (d + 3)
            p = fw.unpack_dual(y)
            out += [p.primal.detach(), p.tangent, type(p).__name__, p._fields,
                    fw.unpack_dual(x).tangent, fw.unpack_dual(d * 0 + x).tangent]
            try:
                fw.make_dual(x, lib.ones(3))
            except RuntimeError as e:
                out.append(str(e))
            out.append(fw.unpack_dual(fw.make_dual(x, t.double())).tangent)
        out.append(fw.unpack_dual(y).tangent)
        return out

    check(program)


def test_forward_over_reverse_hessian_vector_product():
    def program(lib):
        fw = lib.autograd.forward_ad
        w = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        v = lib.tensor([1.0, 2.0, -0.5], dtype=lib.float64)
        with fw.dual_level():
            dw = fw.make_dual(w, v)
            (g,) = lib.autograd.grad((dw.tanh() ** 3).sum() * dw.sum(), dw, create_graph=True)
            return g.detach(), fw.unpack_dual(g).tangent.detach()

    check(program, rtol=1e-10, atol=1e-12)


def test_reverse_through_a_dual_primal():
    def program(lib):
        fw = lib.autograd.forward_ad
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with fw.dual_level():
            d = fw.make_dual(x, lib.tensor([1.0, 1.0]))
            z = (d * d).sum()
            tangent = fw.unpack_dual(z).tangent.detach()
        (g,) = lib.autograd.grad(z, x)
        return tangent, g

    check(program)


def test_custom_function_jvp_is_used():
    def program(lib):
        fw = lib.autograd.forward_ad

        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 3

            @staticmethod
            def backward(ctx, g):
                return g * 3

            @staticmethod
            def jvp(ctx, t):
                return t * 3 + 1  # deliberately not the true JVP: shows which rule ran

        with fw.dual_level():
            d = fw.make_dual(lib.tensor([1.0, 2.0]), lib.tensor([1.0, -1.0]))
            return fw.unpack_dual(Scale.apply(d)).tangent.detach()

    check(program)


def test_jacobian_forward_mode_agrees_with_reverse_mode():
    x = ember.tensor([0.3, -0.7, 1.1], dtype=ember.float64)

    def f(v):
        return (v.sin() * v.sum()).exp()

    F = ember.autograd.functional
    forward = F.jacobian(f, x, vectorize=True, strategy="forward-mode")
    reverse = F.jacobian(f, x)
    np.testing.assert_allclose(forward.numpy(), reverse.numpy(), rtol=1e-12, atol=1e-14)


# ----- what dual tensors look like (requires_grad, grad_fn, printing) ---------------------------
def test_dual_of_a_tensor_without_grad_looks_like_torch():
    def program(lib):
        fw = lib.autograd.forward_ad
        x = lib.tensor([1.0, 2.0])
        t = lib.tensor([1.0, 0.5])
        out = []
        with fw.dual_level():
            d = fw.make_dual(x, t)
            y = d.sin() * 2
            s = (d * 2).sum()  # exact: a 0-dim tangent prints as a full-precision float
            v = d[0]
            p = fw.unpack_dual(y)
            out += [d, y, s, v, p.primal, p.tangent, repr(d), str(d), repr(y), repr(s), repr(v),
                    repr(p.primal), repr(p.tangent), d.is_leaf, y.is_leaf, d.grad_fn, y.grad_fn,
                    fw.unpack_dual(p.primal).tangent, fw.unpack_dual(d).tangent is t,
                    fw.unpack_dual(x).tangent, repr(fw.unpack_dual(x).primal)]
            out.append(repr(lib.zeros(3, 4, 5) * d[1]))  # a long tangent: wrapped as torch
            d.mul_(2)
            d[0].add_(1)
            out += [repr(d), fw.unpack_dual(d).tangent]
            try:
                d.sum().backward()
            except RuntimeError as e:
                out.append(str(e).split("\n")[0])
        out += [repr(d), repr(y), d.requires_grad, y.requires_grad, fw.unpack_dual(d).tangent]
        return out

    check(program)


def test_dual_of_a_tensor_that_requires_grad_shows_its_reverse_history():
    def program(lib):
        fw = lib.autograd.forward_ad
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        x = lib.tensor([0.5, -1.0])
        t = lib.tensor([1.0, 0.5])
        out = []
        with fw.dual_level():
            dw = fw.make_dual(w, t)
            d = fw.make_dual(x, t)
            y = dw.exp()
            m = d * w
            p = fw.unpack_dual(y)
            out += [dw, y, m, p.primal, p.tangent.detach(), repr(dw), repr(p.primal),
                    fw.unpack_dual(m).tangent.detach(), fw.unpack_dual(w),
                    fw.unpack_dual(p.primal).tangent, dw.is_leaf]
            try:
                lib.autograd.grad(m.sum(), d)
            except RuntimeError as e:
                out.append(str(e))
            (g,) = lib.autograd.grad(m.sum(), w)
            out.append(g)
        return out

    check(program)


def test_tangents_flow_under_no_grad():
    def program(lib):
        fw = lib.autograd.forward_ad
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        x = lib.tensor([0.5, -1.0])
        t = lib.tensor([1.0, 0.5])
        out = []
        with fw.dual_level():
            # (torch updates a dual's tangent tensor in place under d.mul_(2): give each dual
            # its own tangent, so that aliasing stays out of this test)
            d = fw.make_dual(x, t.clone())
            dw = fw.make_dual(w, t.clone())
            with lib.no_grad():
                a = d * 3
                b = dw.sin()
                c = d * w
                out += [lib.is_grad_enabled(), a, b, c, repr(a), repr(b)]
                out += [fw.unpack_dual(v).tangent for v in (a, b, c)]
                d.mul_(2)  # an in-place change of a dual carries its tangent
                w.sub_(0.5)  # an optimizer-like step on a leaf stays allowed, keeps the leaf
                out += [repr(d), w, w.is_leaf, w.grad_fn]
            with lib.set_grad_enabled(False):
                e = d.exp()
                out += [e, fw.unpack_dual(e).tangent, lib.is_grad_enabled()]
            out.append(lib.is_grad_enabled())
            with lib.no_grad(), lib.enable_grad():
                f = dw * 2
                out += [f, fw.unpack_dual(f).tangent.detach()]
        with lib.no_grad():
            with fw.dual_level():
                g = fw.make_dual(x, t).cos()
                out += [g, fw.unpack_dual(g).tangent, lib.is_grad_enabled()]
            out.append(lib.is_grad_enabled())
            out.append(x * w)
        out.append(lib.is_grad_enabled())
        return out

    check(program)


def test_forward_over_reverse_hvp_with_a_dual_that_needs_no_grad():
    def program(lib):
        fw = lib.autograd.forward_ad
        A = lib.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 3.0]],
                       dtype=lib.float64)
        x = lib.tensor([0.2, -0.4, 0.7], dtype=lib.float64)
        v = lib.tensor([1.0, -1.0, 0.5], dtype=lib.float64)
        with fw.dual_level():
            dx = fw.make_dual(x, v)  # a dual that needs no grad, inside a reverse graph
            w = x.clone().requires_grad_()
            # d/dw of f(w) = sum(tanh(A w)) * <w, x>, and its tangent along x's v.
            f = lib.tanh(A @ w).sum() * (w * dx).sum()
            (g,) = lib.autograd.grad(f, w, create_graph=True)
            dg = fw.unpack_dual(g).tangent
            return g.detach(), dg.detach() if dg is not None else None, g.requires_grad

    check(program, rtol=1e-10, atol=1e-12)


def test_a_dual_that_starts_requiring_grad():
    def program(lib):
        fw = lib.autograd.forward_ad
        x = lib.tensor([1.0, 2.0])
        with fw.dual_level():
            d = fw.make_dual(x, lib.tensor([1.0, 0.5]))
            d.requires_grad_()
            y = d * d
            out = [repr(d), d.is_leaf, y, fw.unpack_dual(y).tangent.detach(),
                   fw.unpack_dual(d).tangent]
            y.sum().backward()
            out.append(d.grad)
        return out + [repr(d), d.requires_grad]

    check(program)


def test_make_dual_of_a_dual_under_no_grad_and_other_uses():
    def program(lib):
        fw = lib.autograd.forward_ad
        x = lib.tensor([1.0, 2.0])
        t = lib.tensor([1.0, 0.5])
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        out = []
        with fw.dual_level():
            d = fw.make_dual(x, t)
            try:
                fw.make_dual(d, t * 2)
            except RuntimeError as e:
                out.append(str(e))
            with lib.no_grad():
                dw = fw.make_dual(w, t)  # torch: a leaf that requires grad, with the tangent
            out += [repr(dw), dw.is_leaf, repr(d.clone()), repr(d.detach()),
                    repr(d.to(lib.float64)), repr(d > 1), repr(d.argmax()),
                    repr(lib.stack([d, x]))]
            try:
                fw.make_dual(lib.tensor([1, 2]), t)
            except ValueError as e:
                out.append(str(e))
        return out

    check(program)


def test_reverse_over_forward_differentiates_a_tangent():
    def program(lib):
        fw = lib.autograd.forward_ad
        w = lib.tensor([0.3, -0.7, 1.1], dtype=lib.float64, requires_grad=True)
        x = lib.tensor([0.5, 0.2, -0.4], dtype=lib.float64)
        v = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64)
        with fw.dual_level():
            dw = fw.make_dual(w, v)
            dx = fw.make_dual(x, v)
            y = ((dw.sin() * dw.sum()).exp() * x).sum()
            t = fw.unpack_dual(y).tangent
            tx = fw.unpack_dual((dx.tanh() * dx).sum()).tangent
            (g,) = lib.autograd.grad(t, w)
            return [t.detach(), t.requires_grad, tx, tx.requires_grad, g.detach(),
                    fw.unpack_dual(t).tangent]

    check(program, rtol=1e-10, atol=1e-12)
