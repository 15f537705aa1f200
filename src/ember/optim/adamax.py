"""Adamax: Adam with the infinity norm (a running max of |g|) in place of the RMS."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ember.optim import _kernels as K
from ember.optim.optimizer import Optimizer


class Adamax(Optimizer):
    """m <- lerp(m, g, 1 - b1); u <- max(b2 u, |g| + eps); p <- p - lr / (1 - b1^t) m / u."""

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach=None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        K.check_lr(lr)
        K.check_nonnegative(eps, "epsilon")
        K.check_betas(betas)
        K.check_nonnegative(weight_decay, "weight_decay")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    @Optimizer._no_grad
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = K.scalar(group["lr"]), group["betas"], group["eps"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = K.step_tensor()
                    state["exp_avg"] = K.zeros_state(p)
                    state["exp_inf"] = K.zeros_state(p)
                grad = K.gradient(p, group["maximize"])
                param = p._array
                state["step"]._array += 1
                if group["weight_decay"] != 0:
                    grad = grad + group["weight_decay"] * param
                exp_avg, exp_inf = state["exp_avg"]._array, state["exp_inf"]._array
                K.lerp_(exp_avg, grad, 1 - beta1)
                exp_inf *= beta2
                np.maximum(exp_inf, np.abs(grad) + eps, out=exp_inf)
                clr = lr / (1 - beta1 ** float(state["step"]._array))
                K.addcdiv_(param, exp_avg, exp_inf, -clr)
                K.bump(p)
        return loss
