"""Activation checkpointing and memory: against torch, and with weakref / gc.disable()."""

from __future__ import annotations

import gc
import importlib
import tracemalloc
import warnings
import weakref

import numpy as np
import pytest

import ember
from differential import check

RNG = np.random.default_rng(3)
W1 = RNG.standard_normal((4, 5))
W2 = RNG.standard_normal((5, 3))
X = RNG.standard_normal((2, 4))


# ----- checkpoint -------------------------------------------------------------------------------
def _checkpoint(lib):
    return importlib.import_module(lib.__name__ + ".utils.checkpoint").checkpoint


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_checkpoint_gives_the_same_values_and_gradients(use_reentrant):
    def program(lib):
        w1 = lib.tensor(W1, requires_grad=True)
        w2 = lib.tensor(W2, requires_grad=True)
        x = lib.tensor(X, requires_grad=True)
        calls = []

        def block(a, scale):
            calls.append(1)
            return ((a @ w1).tanh() @ w2).sigmoid() * scale

        y = _checkpoint(lib)(block, x, 2.0, use_reentrant=use_reentrant)
        y.sum().backward()
        return y, len(calls), x.grad, w1.grad, w2.grad

    check(program, rtol=1e-10, atol=1e-12)


def test_checkpoint_replays_the_random_stream():
    def program(lib):
        lib.manual_seed(0)
        x = lib.tensor(X, requires_grad=True)

        def block(a):
            mask = lib.rand(*a.shape, dtype=a.dtype) > 0.5  # a dropout mask
            return a.exp() * mask * a

        y = _checkpoint(lib)(block, x, use_reentrant=False)
        y.sum().backward()
        return y, x.grad, lib.rand(2)

    check(program, rtol=1e-10, atol=1e-12)


def test_checkpoint_without_use_reentrant_warns():
    def program(lib):
        x = lib.tensor([0.5, 1.0], requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = _checkpoint(lib)(lambda a: a.sin(), x)
        return y, str(caught[0].message)

    check(program)


def test_checkpoint_saves_no_tensors_until_backward():
    x = ember.tensor(X, requires_grad=True)
    w = ember.tensor(W1, requires_grad=True)
    calls = []

    def block(a):
        calls.append(1)
        return (a @ w).tanh().exp()

    from ember.utils.checkpoint import checkpoint

    y = checkpoint(block, x, use_reentrant=False)
    node = y.grad_fn
    assert isinstance(node.result, ember.autograd.graph.PackedSavedTensor)
    assert calls == [1]
    y.sum().backward()
    assert calls == [1, 1]


@pytest.mark.parametrize("case", [
    "reentrant_autograd_grad", "reentrant_backward_inputs", "reentrant_kwargs",
    "non_reentrant_grad_is_fine", "different_shape", "different_dtype", "fewer_saved",
    "determinism_none", "bad_determinism_check",
])
def test_checkpoint_misuse_and_determinism_check(case):
    def program(lib):
        cp = _checkpoint(lib)
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        calls = []

        def block(a, scale=1.0):
            calls.append(1)
            second = len(calls) > 1
            if case == "different_shape" and second:
                a = a[:2]
            if case in ("different_dtype", "determinism_none") and second:
                a = a.double()
            if case == "fewer_saved" and second:
                return a * 2.0
            return a.sin() * scale

        if case.startswith("reentrant"):
            kwargs = {"scale": 2.0} if case == "reentrant_kwargs" else {}
            y = cp(block, x, use_reentrant=True, **kwargs)
            if case == "reentrant_autograd_grad":
                return lib.autograd.grad(y.sum(), x)
            y.sum().backward(inputs=[x])
            return x.grad
        if case == "bad_determinism_check":
            return cp(block, x, use_reentrant=False, determinism_check="sometimes")
        check_mode = "none" if case == "determinism_none" else "default"
        y = cp(block, x, use_reentrant=False, determinism_check=check_mode)
        try:
            return lib.autograd.grad(y.sum(), x)
        except RuntimeError as e:  # CheckpointError, a RuntimeError, in both libraries
            return type(e).__name__, isinstance(e, RuntimeError), str(e).splitlines()[0]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's reentrant variant warns about its inputs
        check(program)


# ----- memory -----------------------------------------------------------------------------------
def test_backward_releases_saved_values():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sin()
    nodes = []
    stack = [y.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and node not in nodes:
            nodes.append(node)
            stack.extend(child for child, _ in node.next_functions)
    y.sum().backward()
    for node in nodes:
        for field in node._saved_fields:
            assert getattr(node, field) is None, (node.name(), field)


def _graph_refs():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sin().sum()
    refs = [weakref.ref(y.grad_fn)]
    node = y.grad_fn
    while node.next_functions and node.next_functions[0][0] is not None:
        node = node.next_functions[0][0]
        refs.append(weakref.ref(node))
    return x, y, refs


def test_unreferenced_graph_is_freed_by_reference_counting():
    gc.disable()
    try:
        x, y, refs = _graph_refs()
        assert all(r() is not None for r in refs)
        del y
        assert all(r() is None for r in refs[:-1])  # the leaf's accumulator dies with x
        del x
        assert all(r() is None for r in refs)
    finally:
        gc.enable()


def test_hooks_functions_and_retain_grad_make_no_cycles():
    class Square(ember.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            out = a * a
            ctx.save_for_backward(a, out)
            return out

        @staticmethod
        def backward(ctx, g):
            a, out = ctx.saved_tensors
            return 2 * g * a

    gc.disable()
    try:
        x = ember.tensor([1.0, 2.0], requires_grad=True)
        y = Square.apply(x)
        y.retain_grad()
        y.register_hook(lambda g: g)
        z = y.exp()
        z.grad_fn.register_hook(lambda gi, go: None)
        refs = [weakref.ref(y), weakref.ref(y.grad_fn), weakref.ref(z.grad_fn)]
        z.sum().backward()
        del y, z
        assert all(r() is None for r in refs)
    finally:
        gc.enable()


def test_total_loss_keeps_graphs_alive_but_item_does_not():
    def step_refs(accumulate_tensor: bool):
        w = ember.tensor([0.5, -0.3], requires_grad=True)
        total = 0
        refs = []
        for _ in range(5):
            loss = (w * w).sum().exp()
            refs.append(weakref.ref(loss.grad_fn))
            total = total + (loss if accumulate_tensor else loss.item())
        del loss
        return total, refs

    gc.disable()
    try:
        total, refs = step_refs(True)
        assert all(r() is not None for r in refs)  # as in torch: total's graph holds them all
        del total
        assert all(r() is None for r in refs)
        total, refs = step_refs(False)
        assert all(r() is None for r in refs)
    finally:
        gc.enable()


def test_training_loop_memory_is_flat():
    rng = np.random.default_rng(0)
    w = ember.tensor(rng.standard_normal((8, 4)), requires_grad=True)
    x = ember.tensor(rng.standard_normal((16, 8)))
    opt = ember.optim.SGD([w], lr=1e-3)

    def steps(n):
        for _ in range(n):
            opt.zero_grad()
            loss = ((x @ w).tanh() ** 2).mean()
            loss.backward()
            opt.step()

    steps(200)
    gc.disable()
    tracemalloc.start()
    try:
        steps(1000)
        first, _ = tracemalloc.get_traced_memory()
        steps(9000)
        second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert second - first < 64 * 1024, (first, second)
