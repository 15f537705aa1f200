"""RAdam: Adam whose adaptive step is switched on only once the variance estimate is
reliable (rectified), plain momentum SGD before that."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ember.optim import _kernels as K
from ember.optim.optimizer import Optimizer


class RAdam(Optimizer):
    """Adam's averages; when rho_t > 5, p <- p - lr m_hat r_t sqrt(1 - b2^t) / (sqrt(v) + eps),
    else p <- p - lr m_hat."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0,
                 decoupled_weight_decay: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        K.check_lr(lr)
        K.check_nonnegative(eps, "epsilon")
        K.check_betas(betas)
        K.check_nonnegative(weight_decay, "weight_decay")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    @Optimizer._no_grad
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = K.scalar(group["lr"]), group["betas"], group["eps"]
            weight_decay = group["weight_decay"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = K.step_tensor()
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
                exp_avg, exp_avg_sq = state["exp_avg"]._array, state["exp_avg_sq"]._array
                K.lerp_(exp_avg, grad, 1 - beta1)
                exp_avg_sq *= beta2
                K.addcmul_(exp_avg_sq, grad, grad, 1 - beta2)
                correction1, correction2 = 1 - beta1**step, 1 - beta2**step
                corrected = exp_avg / correction1
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * step * (beta2**step) / correction2
                if rho_t > 5.0:
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                            / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    root = np.sqrt(exp_avg_sq)
                    root += eps
                    adaptive = np.reciprocal(root) * correction2**0.5  # torch: c / t
                    param += -1.0 * (corrected * lr * adaptive * rect)
                else:
                    param += -1.0 * (corrected * lr)
                K.bump(p)
        return loss
