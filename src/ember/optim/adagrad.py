"""Adagrad: each coordinate's step shrinks with the sum of its squared gradients so far."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ember.optim import _kernels as K
from ember.optim.optimizer import Optimizer


class Adagrad(Optimizer):
    """s <- s + g^2; p <- p - lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)."""

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach=None, *, maximize: bool = False,
                 differentiable: bool = False, fused=None) -> None:
        K.check_lr(lr)
        K.check_nonnegative(lr_decay, "lr_decay")
        K.check_nonnegative(weight_decay, "weight_decay")
        K.check_nonnegative(initial_accumulator_value, "initial_accumulator_value")
        K.check_nonnegative(eps, "epsilon")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:  # torch creates Adagrad's state up front
            for p in group["params"]:
                state = self.state.setdefault(p, {})
                state["step"] = K.step_tensor()
                state["sum"] = K.state_tensor(
                    np.full_like(p._array, group["initial_accumulator_value"]), p)

    @Optimizer._no_grad
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, weight_decay = K.scalar(group["lr"]), group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state.setdefault(p, {})
                if not state:  # a group added later: made now, from the defaults as torch
                    state["step"] = K.step_tensor()
                    state["sum"] = K.state_tensor(
                        np.full_like(p._array, self.defaults["initial_accumulator_value"]), p)
                grad = K.gradient(p, group["maximize"])
                param = p._array
                state["step"]._array += 1
                step = float(state["step"]._array)
                if weight_decay != 0:
                    grad = grad + weight_decay * param
                clr = lr / (1 + (step - 1) * group["lr_decay"])
                state_sum = state["sum"]._array
                K.addcmul_(state_sum, grad, grad, 1)
                std = np.sqrt(state_sum)
                std += eps
                K.addcdiv_(param, grad, std, -clr)
                K.bump(p)
        return loss
