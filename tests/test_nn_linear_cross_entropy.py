"""nn.LinearCrossEntropyLoss (torch 2.13's fused projection + cross entropy, reference path)
against torch: default init, repr, state_dict, values, gradients and argument errors."""

from __future__ import annotations

import pytest

from differential import check

CONFIGS = [
    ({}, lambda lib: (lib.randn(4, 5), lib.randint(0, 3, (4,)))),
    ({"bias": True}, lambda lib: (lib.randn(5), lib.tensor(2))),
    ({"out_features": (2,), "bias": True},
     lambda lib: (lib.randn(4, 5), lib.randint(0, 3, (4, 2)))),
    ({"out_features": (2, 3), "reduction": "none"},
     lambda lib: (lib.randn(2, 5), lib.randint(0, 3, (2, 2, 3)))),
    ({"reduction": "sum", "ignore_index": 1, "label_smoothing": 0.2},
     lambda lib: (lib.randn(6, 5), lib.tensor([0, 1, 2, 1, 0, 2]))),
    ({"weight": [1.0, 2.0, 0.5], "bias": True},
     lambda lib: (lib.randn(4, 5), lib.tensor([2, 0, 1, 1]))),
    ({"label_smoothing": 0.1}, lambda lib: (lib.randn(4, 5), lib.randn(4, 3).softmax(1))),
    ({"dtype": "float64", "out_features": (2,)},
     lambda lib: (lib.randn(3, 5, dtype=lib.float64), lib.randint(0, 3, (3, 2)))),
]


@pytest.mark.parametrize("cfg,inputs", CONFIGS, ids=[str(c) for c, _ in CONFIGS])
def test_linear_cross_entropy_loss(cfg, inputs):
    def program(lib):
        lib.manual_seed(0)
        kw = dict(cfg)
        if "weight" in kw:
            kw["weight"] = lib.tensor(kw["weight"])
        if "dtype" in kw:
            kw["dtype"] = getattr(lib, kw["dtype"])
        m = lib.nn.LinearCrossEntropyLoss(5, 3, **kw)
        x, target = inputs(lib)
        x.requires_grad_()
        loss = m(x, target)
        loss.sum().backward()
        return (repr(m), list(m.state_dict()), m.linear.weight.detach(), loss, x.grad,
                [(n, p.grad) for n, p in m.named_parameters()])

    check(program)


def test_linear_cross_entropy_loss_errors():
    def program(lib):
        nn = lib.nn
        out = []
        for action in (lambda: nn.LinearCrossEntropyLoss(5, 3, weight=lib.ones(4)),
                       lambda: nn.LinearCrossEntropyLoss(5, 3, label_smoothing=1.5),
                       lambda: nn.LinearCrossEntropyLoss(5, 3)(lib.ones(2, 4), lib.tensor([0, 1])),
                       lambda: nn.LinearCrossEntropyLoss(5, 3)(lib.ones(1, 2, 5), lib.tensor([0])),
                       lambda: nn.LinearCrossEntropyLoss(5, 3, out_features=(2,))(
                           lib.ones(5), lib.tensor([0, 1])),
                       lambda: nn.LinearCrossEntropyLoss(5, 3, ignore_index=0)(
                           lib.ones(2, 5), lib.ones(2, 3) / 3)):
            try:
                action()
                out.append("ok")
            except Exception as e:  # noqa: BLE001 - the error is the result
                out.append((type(e).__name__, str(e).split("\n")[0]))
        return out

    check(program)
