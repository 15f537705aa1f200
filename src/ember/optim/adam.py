"""Adam and AdamW: per-parameter steps scaled by running averages of the gradient and its
square, bias-corrected for their zero start. AdamW decays weights apart from the gradient."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ember.optim import _kernels as K
from ember.optim.optimizer import Optimizer


class Adam(Optimizer):
    """m <- lerp(m, g, 1 - b1); v <- b2 v + (1 - b2) g^2;
    p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)  (``amsgrad``: max v)."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach=None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused=None,
                 decoupled_weight_decay: bool = False) -> None:
        K.check_lr(lr)
        K.check_nonnegative(eps, "epsilon")
        K.check_betas(betas)
        K.check_nonnegative(weight_decay, "weight_decay")
        defaults = dict(lr=lr, betas=tuple(K.scalar(b) for b in betas), eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    @Optimizer._no_grad
    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr = K.scalar(group["lr"])
            beta1, beta2 = group["betas"]
            eps, weight_decay = group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = K.step_tensor()
                    state["exp_avg"] = K.zeros_state(p)
                    state["exp_avg_sq"] = K.zeros_state(p)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = K.zeros_state(p)
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
                step_size = lr / (1 - beta1**step)
                correction2_sqrt = (1 - beta2**step) ** 0.5
                if group["amsgrad"]:
                    max_sq = state["max_exp_avg_sq"]._array
                    np.maximum(max_sq, exp_avg_sq, out=max_sq)
                    denom = np.sqrt(max_sq) / correction2_sqrt + eps
                else:
                    denom = np.sqrt(exp_avg_sq) / correction2_sqrt + eps
                K.addcdiv_(param, exp_avg, denom, -step_size)
                K.bump(p)
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay: p <- p (1 - lr wd) before the Adam step."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach=None, capturable: bool = False,
                 differentiable: bool = False, fused=None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
