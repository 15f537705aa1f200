"""The graph-lifetime warning (``total_loss += loss``) and ``ember.autograd.graph_stats``."""

from __future__ import annotations

import warnings

import pytest

import ember
from ember import _graph_health


@pytest.fixture(autouse=True)
def fresh_warning_state():
    _graph_health._warned = False
    yield
    _graph_health._warned = False


def train(steps: int, accumulate) -> list[str]:
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
            total_loss = accumulate(total_loss, loss)
    return [str(c.message) for c in caught]


def test_accumulating_loss_tensors_warns_once_naming_the_variable():
    messages = train(12, lambda total, loss: total + loss)
    assert len(messages) == 1
    assert messages[0].startswith("The tensor `total_loss` (a variable of train, seen at ")
    assert "test_graph_health.py" in messages[0]
    assert "ember hint: this usually comes from accumulating a loss tensor" in messages[0]


@pytest.mark.parametrize("accumulate", [lambda t, loss: t + loss.item(),
                                        lambda t, loss: t + loss.detach(),
                                        lambda t, loss: loss * 2])  # one graph for logging
def test_no_warning_when_no_old_graphs_are_kept(accumulate):
    assert train(12, accumulate) == []


def test_graph_stats_counts_live_nodes_and_saved_bytes():
    before = ember.autograd.graph_stats() if hasattr(ember.autograd, "graph_stats") else \
        _graph_health.graph_stats()
    x = ember.ones(1000, requires_grad=True)
    y = (x.exp() * x).sum()  # ExpBackward0 saves its result, MulBackward0 both inputs
    during = _graph_health.graph_stats()
    assert during.live_nodes - before.live_nodes == 4  # Sum, Mul, Exp, AccumulateGrad
    assert during.saved_bytes - before.saved_bytes >= 3 * 4000
    y.backward()
    after = _graph_health.graph_stats()
    assert after.released_nodes - before.released_nodes == 2  # Mul and Exp freed theirs
    assert after.saved_bytes == before.saved_bytes
    del y
    assert _graph_health.graph_stats().live_nodes == before.live_nodes  # freed with y
    assert "live autograd nodes" in str(after)
