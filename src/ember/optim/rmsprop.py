"""RMSprop: steps divided by a running root-mean-square of the gradient."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ember.optim import _kernels as K
from ember.optim.optimizer import Optimizer


class RMSprop(Optimizer):
    """v <- a v + (1 - a) g^2; p <- p - lr g / (sqrt(v) + eps) (``centered``: the variance
    v - mean(g)^2 instead; ``momentum``: a buffer of these steps)."""

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False, foreach=None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        K.check_lr(lr)
        K.check_nonnegative(eps, "epsilon")
        K.check_nonnegative(momentum, "momentum")
        K.check_nonnegative(weight_decay, "weight_decay")
        K.check_nonnegative(alpha, "alpha")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    @Optimizer._no_grad
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, alpha, eps = K.scalar(group["lr"]), group["alpha"], group["eps"]
            weight_decay, momentum = group["weight_decay"], group["momentum"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = K.step_tensor()
                    state["square_avg"] = K.zeros_state(p)
                    if momentum > 0:
                        state["momentum_buffer"] = K.zeros_state(p)
                    if group["centered"]:
                        state["grad_avg"] = K.zeros_state(p)
                grad = K.gradient(p, group["maximize"])
                param = p._array
                state["step"]._array += 1
                if weight_decay != 0:
                    grad = grad + weight_decay * param
                square_avg = state["square_avg"]._array
                square_avg *= alpha
                K.addcmul_(square_avg, grad, grad, 1 - alpha)
                if group["centered"]:
                    grad_avg = state["grad_avg"]._array
                    K.lerp_(grad_avg, grad, 1 - alpha)
                    avg = np.sqrt(square_avg + -1.0 * grad_avg * grad_avg)
                else:
                    avg = np.sqrt(square_avg)
                avg += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]._array
                    buf *= momentum
                    K.addcdiv_(buf, grad, avg)
                    param += -lr * buf
                else:
                    K.addcdiv_(param, grad, avg, -lr)
                K.bump(p)
        return loss
