"""NAdam: Adam with Nesterov momentum, whose momentum coefficient warms up over time."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ember.optim import _kernels as K
from ember.optim.optimizer import Optimizer


class NAdam(Optimizer):
    """Adam's averages, with the step looking ahead: mu_t = b1 (1 - 0.5 * 0.96^(t psi))."""

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        K.check_lr(lr)
        K.check_nonnegative(eps, "epsilon")
        K.check_betas(betas)
        K.check_nonnegative(weight_decay, "weight_decay")
        K.check_nonnegative(momentum_decay, "momentum_decay")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    @Optimizer._no_grad
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = K.scalar(group["lr"]), group["betas"], group["eps"]
            weight_decay, psi = group["weight_decay"], group["momentum_decay"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = K.step_tensor()
                    state["mu_product"] = K.step_tensor(1.0)  # float32, like torch's
                    state["exp_avg"] = K.zeros_state(p)
                    state["exp_avg_sq"] = K.zeros_state(p)
                grad = K.gradient(p, group["maximize"])
                param = p._array
                state["step"]._array += 1
                step = float(state["step"]._array)
                if weight_decay != 0:
                    if group["decoupled_weight_decay"]:
                        param *= 1 - lr * weight_decay
                    else:
                        grad = grad + weight_decay * param
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
                mu_product = state["mu_product"]._array
                mu_product *= np.float32(mu)
                exp_avg, exp_avg_sq = state["exp_avg"]._array, state["exp_avg_sq"]._array
                K.lerp_(exp_avg, grad, 1 - beta1)
                exp_avg_sq *= beta2
                K.addcmul_(exp_avg_sq, grad, grad, 1 - beta2)
                denom = np.sqrt(exp_avg_sq / (1 - beta2**step))
                denom += eps
                product = float(mu_product)
                K.addcdiv_(param, grad, denom, -lr * (1.0 - mu) / (1.0 - product))
                K.addcdiv_(param, exp_avg, denom, (-lr * mu_next) / (1.0 - product * mu_next))
                K.bump(p)
        return loss
