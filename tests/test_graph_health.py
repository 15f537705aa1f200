"""The graph-lifetime warning (``total_loss += loss``) and ``ember.autograd.graph_stats``.

Both are ember's own (torch has neither), so they are checked against what the test itself
knows: the lines it wrote and the sizes of the arrays it made.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import ember
from ember import _graph_health


@pytest.fixture(autouse=True)
def fresh_warning_state():
    _graph_health._warned = False
    yield
    _graph_health._warned = False


def train(steps: int, accumulate: str) -> list[str]:
    ember.manual_seed(0)
    w = ember.randn(3, 1, requires_grad=True)
    opt = ember.optim.SGD([w], lr=0.01)
    x, y = ember.randn(8, 3), ember.randn(8, 1)
    total_loss = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(steps):
            opt.zero_grad()
            loss = ((x @ w - y) ** 2).mean()
            loss.backward()
            opt.step()
            if accumulate == "+=":
                total_loss += loss  # ACCUMULATES: +=
            elif accumulate == "+":
                total_loss = total_loss + loss  # ACCUMULATES: +
            elif accumulate == "item":
                total_loss += loss.item()
            elif accumulate == "detach":
                total_loss = total_loss + loss.detach()
            else:  # one graph kept for logging, replaced every step
                total_loss = loss * 2
    return [str(c.message) for c in caught]


def line_of(marker: str) -> int:
    source, first = inspect.getsourcelines(train)
    return first + next(i for i, line in enumerate(source) if f"ACCUMULATES: {marker}\n" in line)


@pytest.mark.parametrize("accumulate, statement", [("+=", "total_loss += loss"),
                                                    ("+", "total_loss = total_loss + loss")])
def test_accumulating_loss_tensors_warns_once_naming_the_line_that_accumulated(accumulate,
                                                                               statement):
    messages = train(12, accumulate)
    assert len(messages) == 1
    first = messages[0].splitlines()[0]
    assert first.startswith("The tensor `total_loss` (a variable of train, accumulated at "
                            f"{__file__}:{line_of(accumulate)} in train: {statement}  #")
    assert "keeps the autograd graphs of earlier training steps alive" in first
    assert "ember hint: this usually comes from accumulating a loss tensor" in messages[0]


def test_the_accumulating_line_is_named_when_it_is_in_a_helper_function():
    def add_to(total, loss):
        return total + loss

    line = inspect.getsourcelines(add_to)[1] + 1
    ember.manual_seed(0)
    w = ember.randn(2, requires_grad=True)
    opt = ember.optim.SGD([w], lr=0.1)
    total = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(10):
            opt.zero_grad()
            loss = (w * w).sum()
            loss.backward()
            opt.step()
            total = add_to(total, loss)
    assert len(caught) == 1
    assert f"accumulated at {__file__}:{line} in add_to: return total + loss" in str(
        caught[0].message)


@pytest.mark.parametrize("accumulate", ["item", "detach", "replace"])
def test_no_warning_when_no_old_graphs_are_kept(accumulate):
    assert train(12, accumulate) == []


def test_graph_stats_counts_live_nodes_and_saved_bytes():
    before = ember.autograd.graph_stats()
    x = ember.ones(1000, requires_grad=True)
    e = x.exp()  # ExpBackward0 saves its result
    y = (e * x).sum()  # MulBackward0 saves both inputs: the same two arrays again
    during = ember.autograd.graph_stats()
    assert during.live_nodes - before.live_nodes == 4  # Sum, Mul, Exp, AccumulateGrad
    assert during.saved_bytes - before.saved_bytes == 2 * np.ones(1000, np.float32).nbytes
    y.backward()
    after = ember.autograd.graph_stats()
    assert after.released_nodes - before.released_nodes == 2  # Mul and Exp freed theirs
    assert after.saved_bytes == before.saved_bytes
    assert "live autograd nodes" in str(after)
    del y, e
    assert ember.autograd.graph_stats().live_nodes == before.live_nodes  # freed with y


def test_graph_stats_counts_an_array_saved_twice_once():
    before = ember.autograd.graph_stats()
    x = ember.tensor(np.arange(250, dtype=np.float64), requires_grad=True)
    y = x * x  # saves x as self and as other
    assert ember.autograd.graph_stats().saved_bytes - before.saved_bytes == 2000
    del y


def test_graph_stats_sees_values_saved_under_saved_tensors_hooks_without_unpacking():
    unpacked = []
    before = ember.autograd.graph_stats()
    x = ember.ones(100, requires_grad=True)
    with ember.autograd.graph.saved_tensors_hooks(lambda t: t.clone(),
                                                   lambda t: unpacked.append(t) or t):
        y = x.sin()
    assert ember.autograd.graph_stats().saved_bytes - before.saved_bytes == 400
    assert unpacked == []
    del y
