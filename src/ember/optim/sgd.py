"""Stochastic gradient descent, with torch's momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ember.optim import _kernels as K
from ember.optim.optimizer import Optimizer, required


class SGD(Optimizer):
    """p <- p - lr * d, where d is the gradient with weight decay and momentum folded in:

    g = grad + weight_decay * p;  b = momentum * b + (1 - dampening) * g (b = g at first);
    d = g + momentum * b (Nesterov) or b.  ``maximize`` ascends instead.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach=None, differentiable: bool = False,
                 fused=None) -> None:
        if lr is not required and lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    @Optimizer._no_grad
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, momentum, dampening = K.scalar(group["lr"]), group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            if momentum == 0 and weight_decay == 0 and not group["maximize"]:
                _plain_step(group["params"], lr)
                continue
            for p in group["params"]:
                if p._grad is None:
                    continue
                d_p = K.gradient(p, group["maximize"])
                param = p._array
                if weight_decay != 0:
                    d_p = d_p + weight_decay * param
                if momentum != 0:
                    state = self.state.setdefault(p, {})
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = K.state_tensor(np.array(d_p), p)
                    else:
                        buf._array *= momentum
                        buf._array += (1 - dampening) * d_p
                    d_p = d_p + momentum * buf._array if nesterov else buf._array
                param += -lr * d_p
                K.bump(p)
        return loss


def _plain_step(params: list, lr: float) -> None:
    """p <- p - lr * grad for each parameter with a gradient: plain SGD, the common case, with
    nothing else looked at per parameter."""
    neg_lr = -lr
    for p in params:
        grad = p._grad
        if grad is not None:
            param = p._array
            param += neg_lr * grad._array
            p._version_counter[0] += 1  # an in-place update is a new version
