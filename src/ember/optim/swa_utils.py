"""Weight averaging (SWA, EMA) and its helpers, as ``torch.optim.swa_utils``.

``AveragedModel`` keeps a copy of a model whose parameters are a running average of the
model's over training; ``SWALR`` anneals the learning rate to a constant for the averaging
phase; ``update_bn`` recomputes BatchNorm statistics for averaged weights (averaging weights
does not average the activations they produce). The update formulas follow the ones torch runs
on CPU, so the averages agree with torch's to float rounding.
"""

from __future__ import annotations

import math
import warnings
from copy import deepcopy
from typing import Any, Callable, Iterable, Sequence

from ember import _creation as C
from ember import _dtype as D
from ember._tensor import Tensor
from ember.autograd.grad_mode import no_grad
from ember.nn.modules.module import Module
from ember.nn.modules.normalization import _BatchNorm
from ember.optim.lr_scheduler import LRScheduler, _per_group
from ember.optim.optimizer import Optimizer

__all__ = ["SWALR", "AveragedModel", "get_ema_avg_fn", "get_ema_multi_avg_fn",
           "get_swa_avg_fn", "get_swa_multi_avg_fn", "update_bn"]

TensorList = Sequence[Tensor]


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in "
                         "[0,1] range.")


def _is_float_like(t: Tensor) -> bool:
    return t.is_floating_point() or t.is_complex()


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable[[TensorList, TensorList, Any], None]:
    """An in-place exponential moving average over lists of tensors:
    ema <- decay * ema + (1 - decay) * current (a lerp towards current for float tensors)."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_params: TensorList, current_params: TensorList, _n_averaged) -> None:
        if _is_float_like(ema_params[0]):
            for ema, current in zip(ema_params, current_params):
                ema.lerp_(current, 1 - decay)
        else:  # integer buffers: the float blend is truncated back into them
            for ema, current in zip(ema_params, current_params, strict=True):
                ema.copy_(ema * decay + current * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn() -> Callable[[TensorList, TensorList, Any], None]:
    """An in-place equal-weight running average over lists of tensors:
    avg <- avg + (current - avg) / (n_averaged + 1)."""

    @no_grad()
    def swa_update(averaged_params: TensorList, current_params: TensorList,
                   n_averaged: Tensor | int) -> None:
        if _is_float_like(averaged_params[0]):
            weight = 1 / (n_averaged + 1)
            if isinstance(weight, Tensor):  # a float32 tensor when n_averaged is one
                weight = weight.item()
            for averaged, current in zip(averaged_params, current_params):
                averaged.lerp_(current, weight)
            return
        diffs = [current - averaged for averaged, current in zip(averaged_params,
                                                                 current_params)]
        for averaged, diff in zip(averaged_params, diffs):
            if isinstance(n_averaged, Tensor):
                averaged.addcdiv_(diff, n_averaged + 1)
            else:
                averaged.add_(diff, alpha=1.0 / (n_averaged + 1))

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable[[Tensor, Tensor, Any], Tensor]:
    """The exponential moving average of one tensor, returned (not written in place)."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param: Tensor, current_param: Tensor, _n_averaged) -> Tensor:
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> Callable[[Tensor, Tensor, Any], Tensor]:
    """The equal-weight running average of one tensor, returned (not written in place)."""

    @no_grad()
    def swa_update(averaged_param: Tensor, current_param: Tensor,
                   n_averaged: Tensor | int) -> Tensor:
        return averaged_param + (current_param - averaged_param) / (n_averaged + 1)

    return swa_update


def _by_device_and_dtype(pairs: list[tuple[Tensor, Tensor]]) -> dict:
    """Pairs grouped by their averaged tensor's (device, dtype): a multi-tensor averaging
    function gets one list per group, as torch passes them. The groups come in first-seen
    order (torch's come in its C++ hash map's order, which carries no meaning)."""
    groups: dict = {}
    for averaged, current in pairs:
        key = (averaged.device, averaged.dtype)
        mine, theirs = groups.setdefault(key, ([], []))
        mine.append(averaged)
        theirs.append(current)
    return groups


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and, with ``use_buffers``, buffers) hold a running
    average of ``model``'s, updated by ``update_parameters``: equal weights (SWA) unless
    ``avg_fn`` (one tensor at a time) or ``multi_avg_fn`` (lists, in place) says otherwise.
    ``n_averaged`` (an int64 buffer) counts the models averaged so far."""

    n_averaged: Tensor

    def __init__(self, model: Module, device=None,
                 avg_fn: Callable[[Tensor, Tensor, Any], Tensor] | None = None,
                 multi_avg_fn: Callable[[TensorList, TensorList, Any], None] | None = None,
                 use_buffers: bool = False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", C.tensor(0, dtype=D.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current weights into the average (the first call copies them)."""
        if self.use_buffers:
            mine = [*self.module.parameters(), *self.module.buffers()]
            theirs = [*model.parameters(), *model.buffers()]
        else:
            mine, theirs = list(self.parameters()), list(model.parameters())
        pairs = [(averaged.detach(), current.detach().to(averaged.device))
                 for averaged, current in zip(mine, theirs)]
        if bool(self.n_averaged == 0):
            for averaged, current in pairs:
                averaged.copy_(current)
        if self.n_averaged > 0:
            if self.avg_fn is not None:
                for averaged, current in pairs:
                    n = self.n_averaged.to(averaged.device)
                    averaged.copy_(self.avg_fn(averaged, current, n))
            else:
                for (device, _), (group, currents) in _by_device_and_dtype(pairs).items():
                    n = self.n_averaged.to(device)
                    if self.multi_avg_fn is not None:
                        self.multi_avg_fn(group, currents, n)
                    else:  # on CPU torch averages one tensor at a time
                        swa = get_swa_avg_fn()
                        for averaged, current in zip(group, currents):
                            averaged.copy_(swa(averaged, current, n))
        if not self.use_buffers:  # buffers are not averaged: they follow the model's
            for mine_buffer, their_buffer in zip(self.module.buffers(), model.buffers(),
                                                 strict=True):
                mine_buffer.detach().copy_(their_buffer.detach().to(mine_buffer.device))
        self.n_averaged += 1


@no_grad()
def update_bn(loader: Iterable[Any], model: Module, device=None) -> None:
    """Recompute every BatchNorm's running mean and variance in ``model`` with one pass over
    ``loader`` (a batch is a tensor, or a list/tuple whose first item is the input), as an
    equal-weight average over the batches; the momenta and the training mode are restored."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None  # None: a cumulative average over the batches seen
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        if device is not None:
            batch = batch.to(device)
        model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's lr to its ``swa_lr`` over ``anneal_epochs`` steps ("cos" or
    "linear"), then keeps it there: the constant rate of the averaging phase of SWA."""

    def __init__(self, optimizer: Optimizer, swa_lr: float | list, anneal_epochs: int = 10,
                 anneal_strategy: str = "cos", last_epoch: int = -1) -> None:
        for group, lr in zip(optimizer.param_groups, _per_group("swa_lr", optimizer, swa_lr)):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got "
                             f"{anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        """The lr this annealing started from, recovered from the current one: the schedule
        stays chainable (another scheduler may have changed lr in between)."""
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def _set_anneal_func(self, anneal_strategy: str) -> None:
        self._anneal_strategy = anneal_strategy
        self.anneal_func = (self._cosine_anneal if anneal_strategy == "cos"
                            else self._linear_anneal)

    def _fraction(self, step: int) -> float:
        return max(0, min(1, step / max(1, self.anneal_epochs)))

    def get_lr(self) -> list:
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use "
                          "`get_last_lr()`.", UserWarning, stacklevel=2)
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        groups = self.optimizer.param_groups
        prev_alpha = self.anneal_func(self._fraction(step - 1))
        starts = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in groups]
        alpha = self.anneal_func(self._fraction(step))
        return [g["swa_lr"] * alpha + start * (1 - alpha) for g, start in zip(groups, starts)]

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
