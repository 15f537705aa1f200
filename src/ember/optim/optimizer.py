"""The Optimizer base class: parameter groups, defaults, per-parameter state, zero_grad, and
the hooks torch lets one hang on ``step``, ``state_dict`` and ``load_state_dict``."""

from __future__ import annotations

import copy
import functools
import sys
import warnings
from collections import OrderedDict, defaultdict
from itertools import chain
from typing import Any, Callable, Iterable

from ember._graph_health import _CHECK_AT_STEPS, check_for_kept_graphs
from ember._tensor import Tensor
from ember.autograd.grad_mode import _set_enabled, grad_state
from ember.nn.modules.module import RemovableHandle

__all__ = ["Optimizer", "register_optimizer_step_post_hook", "register_optimizer_step_pre_hook"]

# Step hooks shared by every optimizer: pre-hooks run before an instance's own, post-hooks after.
_global_optimizer_pre_hooks: OrderedDict = OrderedDict()
_global_optimizer_post_hooks: OrderedDict = OrderedDict()

# False until a step hook is first registered on any optimizer: until then a step looks at no
# hook dict at all (one global test on the hot path of training loops).
_step_hooks_registered = False

_HOOK_DICTS = ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
               "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
               "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks")


def _add_hook(hooks: OrderedDict, hook: Callable, prepend: bool = False) -> RemovableHandle:
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def _add_step_hook(hooks: OrderedDict, hook: Callable) -> RemovableHandle:
    global _step_hooks_registered
    _step_hooks_registered = True
    return _add_hook(hooks, hook)


def register_optimizer_step_pre_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(optimizer, args, kwargs)`` before every optimizer's ``step``; it may return
    ``(new_args, new_kwargs)`` (``args`` starts with the optimizer itself)."""
    return _add_step_hook(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(optimizer, args, kwargs)`` after every optimizer's ``step``."""
    return _add_step_hook(_global_optimizer_post_hooks, hook)


def _has_step_hooks(optimizer: Optimizer) -> bool:
    return bool(_global_optimizer_pre_hooks or _global_optimizer_post_hooks
                or optimizer._optimizer_step_pre_hooks or optimizer._optimizer_step_post_hooks)


def _step_with_hooks(self, step: Callable, run: Callable, args: tuple, kwargs: dict):
    """The step when some step hook is registered (kept out of the hook-free fast path):
    global then own pre-hooks, each free to replace ``(args, kwargs)``; the step; own then
    global post-hooks. ``run(*args, **kwargs)`` performs ``step``; the hooks see the caller's
    grad mode, as torch's do."""
    args = (self, *args)
    for hook in chain(_global_optimizer_pre_hooks.values(),
                      self._optimizer_step_pre_hooks.values()):
        result = hook(self, args, kwargs)
        if result is not None:
            if not (isinstance(result, tuple) and len(result) == 2):
                raise RuntimeError(f"{step} must return None or a tuple of (new_args, "
                                   f"new_kwargs), but got {result}.")
            args, kwargs = result
    out = run(*args, **kwargs)
    for hook in chain(self._optimizer_step_post_hooks.values(),
                      _global_optimizer_post_hooks.values()):
        hook(self, args, kwargs)
    return out


def _hook_step(step: Callable) -> Callable:
    """Wrap the ``step`` of an Optimizer subclass that does not use ``Optimizer._no_grad`` (a
    user's own optimizer), so that it, too, runs the step hooks and tells schedulers it ran."""

    @functools.wraps(step)
    def hooked(self, *args, **kwargs):
        self._opt_called = True
        if _step_hooks_registered and _has_step_hooks(self):
            return _step_with_hooks(self, step, step, args, kwargs)
        return step(self, *args, **kwargs)

    hooked.hooked = True
    return hooked


class _RequiredParameter:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Holds ``param_groups`` (dicts with ``params`` and hyper-parameters) and ``state``."""

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)  # state[p] of an unseen p is {}
        self.param_groups: list[dict] = []
        self._steps_taken = 0
        for name in _HOOK_DICTS:
            setattr(self, name, OrderedDict())
        self._patch_step_function()
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {params.type()}"
            )
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __getstate__(self) -> dict[str, Any]:
        """Pickling / deepcopy keep the defaults, state and groups; hooks are left behind,
        as torch leaves them."""
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_steps_taken", 0)
        for name in _HOOK_DICTS:
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        self._patch_step_function()
        self.defaults.setdefault("differentiable", False)

    def _patch_step_function(self) -> None:
        step = type(self).step
        if not getattr(step, "hooked", False):
            type(self).step = _hook_step(step)

    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` runs before each ``step`` of this optimizer;
        returning ``(new_args, new_kwargs)`` changes what ``step`` is called with."""
        return _add_step_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` runs after each ``step`` of this optimizer."""
        return _add_step_hook(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook: Callable,
                                     prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer)`` runs before ``state_dict`` packs the state."""
        return _add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable,
                                      prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict)`` runs on the packed state dict; a non-None result
        replaces it."""
        return _add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable,
                                          prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict)`` sees (a shallow copy of) the dict being loaded; a
        non-None result is loaded instead."""
        return _add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable,
                                           prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer)`` runs once ``load_state_dict`` has loaded."""
        return _add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    def add_param_group(self, param_group: dict) -> None:
        """Append a group; its params may be (name, tensor) pairs, as named_parameters()
        yields them (the names are kept as the group's ``param_names``)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list "
                "instead.")
        params = [params] if isinstance(params, Tensor) else list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        param_group["params"] = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names
        for p in param_group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization parameter "
                    f"{name}"
                )
            param_group.setdefault(name, default)
        ids = [id(p) for p in param_group["params"]]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    p._grad.detach_()
                    p._grad.zero_()

    def step(self, closure=None):  # pragma: no cover - subclasses implement it
        raise NotImplementedError

    @staticmethod
    def _evaluate(closure):
        """Run the closure (which recomputes the loss) with gradients enabled."""
        if closure is None:
            return None
        from ember.autograd.grad_mode import enable_grad

        with enable_grad():
            return closure()

    def state_dict(self) -> dict:
        """``{"state": ..., "param_groups": ...}`` with parameters replaced by their positions
        (numbered group after group, as torch numbers them), hooks run around the packing."""
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        index: dict[int, int] = {}
        groups = []
        start = 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            # within a group a repeated parameter takes its last position, as in torch
            index.update({id(p): i for i, p in enumerate(group["params"], start)
                          if id(p) not in index})
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v
                 for k, v in self.state.items()}
        state_dict = {"state": state, "param_groups": groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        """Take a state_dict's param groups and per-parameter state, matched to this
        optimizer's parameters by position; floating state (but ``step``) takes each
        parameter's dtype, as torch casts it. The loaded groups replace the current ones
        (keeping only their ``params``, and ``param_names`` if the saved group has none)."""
        state_dict = state_dict.copy()  # shallow, so pre-hooks may edit it freely
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(self.param_groups, groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip((i for s in groups for i in s["params"]),
                          (p for g in self.param_groups for p in g["params"])))
        state: defaultdict = defaultdict(dict)
        for key, fields in state_dict["state"].items():
            if key in id_map:
                state[id_map[key]] = self._cast_state(id_map[key], None, fields)
            else:  # state not tied to a parameter is kept as it is, as torch keeps it
                state[key] = fields
        for group, saved in zip(self.param_groups, groups):
            saved["params"] = group["params"]
            if "param_names" in group:
                saved.setdefault("param_names", group["param_names"])
            for name, default in self.defaults.items():  # a dict saved by an older version
                saved.setdefault(name, default)
        self.state, self.param_groups = state, groups
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)

    @staticmethod
    def _cast_state(param: Tensor, key, value):
        if isinstance(value, Tensor):
            if key == "step" or not param.is_floating_point():
                return value
            return value.to(dtype=param.dtype)
        if isinstance(value, dict):
            return {k: Optimizer._cast_state(param, k, v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(Optimizer._cast_state(param, None, v) for v in value)
        return value

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    @staticmethod
    def _no_grad(step: Callable) -> Callable:
        """Wrap an optimizer's ``step``: it runs with gradients off, tells schedulers that it
        ran, now and then checks for graphs kept alive, and runs the step hooks if any."""

        def run(self, *args, **kwargs):
            # no_grad()'s save / switch off / restore, without building a context object
            saved = (grad_state.enabled, grad_state.inference, grad_state.fw_only)
            _set_enabled(False)
            try:
                return step(self, *args, **kwargs)
            finally:
                grad_state.enabled, grad_state.inference, grad_state.fw_only = saved

        @functools.wraps(step)
        def wrapper(self, *args, **kwargs):
            self._opt_called = True  # lets a scheduler warn when it steps first
            steps = self._steps_taken = self._steps_taken + 1
            if steps in _CHECK_AT_STEPS:  # now and then: is old graph kept alive?
                check_for_kept_graphs(self, steps, sys._getframe(1))
            if _step_hooks_registered and _has_step_hooks(self):
                return _step_with_hooks(self, step, run, args, kwargs)
            return run(self, *args, **kwargs)

        wrapper.hooked = True
        return wrapper
