"""Graph lifetime against torch: what keeps a graph's saved values alive, and what frees them.

Saved values are observed the same way in both libraries: under ``saved_tensors_hooks`` the
pack hook wraps each saved tensor in a small object we hold only weakly, so an object still
alive means some node still keeps that saved value. Garbage collection is disabled while
counting: whatever dies, dies by reference counting alone (no cycles).
"""

from __future__ import annotations

import gc
import weakref

import pytest

from differential import check


class _Box:
    """What the pack hook returns in place of a saved tensor (weakly referenceable)."""

    def __init__(self, tensor) -> None:
        self.tensor = tensor


def _tracking(lib):
    """A ``saved_tensors_hooks`` context recording a weak reference to every packed value,
    and a function counting those still alive."""
    refs = []

    def pack(t):
        box = _Box(t.detach())  # an output's own tensor would make a cycle box -> node -> box
        refs.append(weakref.ref(box))
        return box

    def unpack(box):
        return box.tensor

    def alive() -> int:
        return sum(r() is not None for r in refs)

    return lib.autograd.graph.saved_tensors_hooks(pack, unpack), alive


def _no_gc(program):
    def run(lib):
        gc.collect()
        gc.disable()
        try:
            return program(lib)
        finally:
            gc.enable()

    return run


def _square(lib):
    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            out = a * a
            ctx.save_for_backward(a, out)
            return out

        @staticmethod
        def backward(ctx, g):
            a, _ = ctx.saved_tensors
            return 2 * g * a

    return Square


@pytest.mark.parametrize("graph", ["ops", "custom_function", "hooks_and_retain_grad"])
def test_saved_values_live_as_long_as_the_graph(graph):
    def program(lib):
        hooks, alive = _tracking(lib)
        x = lib.tensor([0.5, 1.5], requires_grad=True)
        with hooks:
            h = _square(lib).apply(x) if graph == "custom_function" else (x.exp() * x)
            y = (h.sin() * h).sum()
        if graph == "hooks_and_retain_grad":
            h.retain_grad()
            h.register_hook(lambda g: g * 2)
            y.grad_fn.register_hook(lambda gi, go: None)
        counts = [alive()]
        del h
        counts.append(alive())  # y's graph still holds everything
        del y
        counts.append(alive())  # nothing references the graph: freed at once
        return counts

    check(_no_gc(program))


@pytest.mark.parametrize("retain_graph", [False, True])
def test_backward_frees_saved_values_unless_retain_graph(retain_graph):
    def program(lib):
        hooks, alive = _tracking(lib)
        x = lib.tensor([0.5, 1.5], requires_grad=True)
        with hooks:
            y = (_square(lib).apply(x.exp()) * x).tanh().sum()
        before = alive()
        y.backward(retain_graph=retain_graph)
        after = alive()
        try:
            y.backward()
            again = "ran"
        except RuntimeError as e:
            again = str(e).splitlines()[0]
        return before, after, again, x.grad

    check(_no_gc(program))


@pytest.mark.parametrize("accumulate", ["tensor", "item", "detach"])
def test_total_loss_keeps_every_steps_graph_alive_unless_item(accumulate):
    def program(lib):
        hooks, alive = _tracking(lib)
        w = lib.tensor([0.5, -0.3], requires_grad=True)
        total = 0
        counts = []
        for _ in range(4):
            with hooks:
                loss = ((w * w).sum() * w.exp().sum()).tanh()
            loss.backward(retain_graph=True)  # the step's own backward keeps the graph
            if accumulate == "tensor":
                total = total + loss
            elif accumulate == "item":
                total = total + loss.item()
            else:
                total = total + loss.detach()
            del loss
            counts.append(alive())
        del total
        counts.append(alive())
        return counts, w.grad

    check(_no_gc(program))


def test_a_long_training_loop_keeps_no_graph():
    def program(lib):
        hooks, alive = _tracking(lib)
        w = lib.tensor([[0.5, -0.3], [0.1, 0.2]], requires_grad=True)
        x = lib.tensor([[1.0, 2.0], [-1.0, 0.5], [0.3, 0.3]])
        opt = lib.optim.SGD([w], lr=0.01)
        counts = []
        for step in range(300):
            opt.zero_grad()
            with hooks:
                loss = ((x @ w).tanh() ** 2).mean()
            loss.backward()
            opt.step()
            if step % 100 == 0:
                counts.append(alive())
        return counts, w

    check(_no_gc(program))
