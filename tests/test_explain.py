"""ember.autograd.explain: the backward pass told step by step, checked against torch's run
of the same graph and against gradients derived by hand."""

from __future__ import annotations

import io

import numpy as np
import pytest

import ember
from ember._explain import explain
from oracle import torch


def seed(lib):
    a = lib.tensor(1.0, requires_grad=True)
    b = lib.tensor(-2.0, requires_grad=True)
    c = lib.tensor(1.0, requires_grad=True)
    x = lib.tensor(0.0, requires_grad=True)
    return a * x**2 + b * x + c, (a, b, c, x)


def torch_order(y):
    """The node names in the order torch's engine runs them (node pre-hooks)."""
    order, seen, stack = [], set(), [y.grad_fn]
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        if not fn.name().endswith("AccumulateGrad"):
            fn.register_prehook(lambda g, fn=fn: order.append(fn.name()))
        stack.extend(n for n, _ in fn.next_functions if n is not None)
    y.backward()
    return order


def test_seed_example_shows_how_dy_dx_is_minus_two():
    a = ember.tensor(1.0, requires_grad=True)
    b = ember.tensor(-2.0, requires_grad=True)
    c = ember.tensor(1.0, requires_grad=True)
    x = ember.tensor(0.0, requires_grad=True)
    y = a * x**2 + b * x + c
    out = io.StringIO()
    steps = explain(y, file=out)
    text = out.getvalue()
    # by hand: dy/dx = 2 a x + b = -2 (the b*x path gives b = -2, the x**2 path 2ax = 0)
    leaf_x = next(s for s in steps if s.name == "leaf x")
    assert {src: float(v) for src, v in leaf_x.summed_from} == {"MulBackward0 #2": -2.0,
                                                                "PowBackward0": 0.0}
    assert float(leaf_x.leaf_grad) == -2.0 == x.grad.item()
    assert "= -2.  (summed over 2 paths)" in text and "x.grad is now -2." in text
    assert text.startswith("backward of y: starts with dy/dy = 1.")
    assert "MulBackward0 #1: grad_self = grad * other, grad_other = grad * self" in text
    # dy/da = x**2 = 0, dy/db = x = 0, dy/dc = 1
    assert [a.grad.item(), b.grad.item(), c.grad.item()] == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("program", ["seed", "mlp", "shared"])
def test_steps_follow_torchs_engine_order(program):
    def build(lib):
        if program == "seed":
            return seed(lib)[0]
        lib.manual_seed(0)
        w = lib.randn(3, 2, requires_grad=True)
        h = lib.tanh(lib.ones(4, 3) @ w)
        if program == "mlp":
            return (h.relu() * 2).sum() + (w * w).mean()
        return (h.exp() * h + h.sin()).sum()

    steps = explain(build(ember), file=io.StringIO())
    ours = [s.name.split(" #")[0] for s in steps if s.kind == "node"]
    assert ours == torch_order(build(torch))


def torch_flow(y):
    """Per node, in the order torch's engine runs them: (name, summed incoming gradients,
    outgoing gradients), from node pre-hooks and hooks."""
    flow, seen, stack = {}, set(), [y.grad_fn]
    order = []
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        if not fn.name().endswith("AccumulateGrad"):
            def pre(grad_outputs, fn=fn):
                order.append(fn)
                flow[fn] = [fn.name(), [g.numpy().copy() for g in grad_outputs if g is not None]]

            def post(grad_inputs, grad_outputs, fn=fn):
                flow[fn].append([g.numpy().copy() for g in grad_inputs if g is not None])

            fn.register_prehook(pre)
            fn.register_hook(post)
        stack.extend(n for n, _ in fn.next_functions if n is not None)
    y.backward()
    return [flow[fn] for fn in order]


@pytest.mark.parametrize("program", ["seed", "shared", "two_outputs"])
def test_summed_and_outgoing_gradients_are_torchs(program):
    def build(lib):
        if program == "seed":
            return seed(lib)[0]
        x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        h = x.exp()
        if program == "shared":  # h waits for three gradients, x for one
            return (h * h + h.sin()).sum()
        a, b = (h * x).split(2)  # one node, two outputs
        return (a * 3).sum() + b.tanh().sum()

    steps = [s for s in explain(build(ember), file=io.StringIO()) if s.kind == "node"]
    expected = torch_flow(build(torch))
    assert [s.name.split(" #")[0] for s in steps] == [name for name, _, _ in expected]
    for step, (name, grad_in, grad_out) in zip(steps, expected):
        got_in = [g for g in step.grad_in if g is not None]
        assert len(got_in) == len(grad_in), name
        for g, t in zip(got_in, grad_in):
            np.testing.assert_allclose(g, t, rtol=1e-6, err_msg=name)
        got_out = [g for _, g in step.grads_out]
        assert len(got_out) == len(grad_out), name
        for g, t in zip(got_out, grad_out):
            np.testing.assert_allclose(g, t, rtol=1e-6, err_msg=name)


def test_readme_shows_the_svg_make_demo_draws(tmp_path, capsys):
    from pathlib import Path

    from ember.demo_graph import main

    root = Path(__file__).resolve().parent.parent
    main(str(tmp_path))
    capsys.readouterr()
    assert (root / "docs" / "seed_graph.svg").read_text() == (
        tmp_path / "seed_graph.svg").read_text(), "docs/seed_graph.svg is stale: run make demo"
    readme = (root / "README.md").read_text()
    assert "](docs/seed_graph.svg)" in readme
    assert "ember.viz.draw" in readme and "explain" in readme


def test_leaf_grads_and_contributions_add_up():
    x = ember.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = (x * x).sum() + (x.exp() * 3).sum()
    steps = explain(y, file=io.StringIO())
    leaf = next(s for s in steps if s.kind == "leaf")
    total = sum(v for _, v in leaf.summed_from)
    np.testing.assert_allclose(total, leaf.leaf_grad)
    xt = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    ((xt * xt).sum() + (xt.exp() * 3).sum()).backward()
    np.testing.assert_allclose(leaf.leaf_grad, xt.grad.numpy(), rtol=1e-6)


def test_gradient_argument_and_hooks_are_removed():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    out = io.StringIO()
    explain(y, ember.tensor([1.0, 0.5]), retain_graph=True, file=out)
    assert out.getvalue().startswith("backward of y: starts with dy/dy = [1. , 0.5]")
    assert x.grad.tolist() == [3.0, 1.5]
    again = io.StringIO()
    y.backward(ember.tensor([1.0, 1.0]))  # no explanation printed by a plain backward
    assert again.getvalue() == "" and x.grad.tolist() == [6.0, 4.5]


def test_a_tensor_without_history_is_refused_like_backward():
    with pytest.raises(RuntimeError, match="does not require grad"):
        explain(ember.ones(2).sum(), file=io.StringIO())


def test_make_demo_draws_and_explains_the_seed_example(tmp_path, capsys):
    from ember.demo_graph import main

    main(str(tmp_path))
    printed = capsys.readouterr().out
    assert (tmp_path / "seed_graph.svg").read_text().startswith("<svg")
    assert "AccumulateGrad  (x: [] float32)" in printed
    assert "x.grad is now -2." in printed


def test_public_spellings():
    assert ember.autograd.explain is explain
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    import contextlib

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        y.backward(explain=True)
    assert out.getvalue().startswith("backward of y: starts with dy/dy = 1.")
    assert x.grad.tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match="explain=True"):
        (x * 3).sum().backward(explain=True, create_graph=True)
