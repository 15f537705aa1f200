"""Adadelta: steps whose size is the ratio of running RMS of past steps and of gradients."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ember.optim import _kernels as K
from ember.optim.optimizer import Optimizer


class Adadelta(Optimizer):
    """v <- r v + (1 - r) g^2; d = sqrt(u + eps) / sqrt(v + eps) g; u <- r u + (1 - r) d^2;
    p <- p - lr d."""

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach=None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False) -> None:
        K.check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        K.check_nonnegative(eps, "epsilon")
        K.check_nonnegative(weight_decay, "weight_decay")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    @Optimizer._no_grad
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, rho, eps = K.scalar(group["lr"]), group["rho"], group["eps"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = K.step_tensor()
                    state["square_avg"] = K.zeros_state(p)
                    state["acc_delta"] = K.zeros_state(p)
                grad = K.gradient(p, group["maximize"])
                param = p._array
                state["step"]._array += 1
                if group["weight_decay"] != 0:
                    grad = grad + group["weight_decay"] * param
                square_avg, acc_delta = state["square_avg"]._array, state["acc_delta"]._array
                square_avg *= rho
                K.addcmul_(square_avg, grad, grad, 1 - rho)
                std = np.sqrt(square_avg + eps)
                delta = np.sqrt(acc_delta + eps)
                delta /= std
                delta *= grad
                acc_delta *= rho
                K.addcmul_(acc_delta, delta, delta, 1 - rho)
                param += -lr * delta
                K.bump(p)
        return loss
