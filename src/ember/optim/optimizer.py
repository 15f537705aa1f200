"""The Optimizer base class: parameter groups, defaults, per-parameter state, zero_grad."""

from __future__ import annotations

import copy
import sys
import warnings
from collections import defaultdict
from typing import Any, Iterable

from ember._graph_health import _CHECK_AT_STEPS, check_for_kept_graphs
from ember._tensor import Tensor
from ember.autograd.grad_mode import _set_enabled, grad_state


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
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {index[id(p)]: v for p, v in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Take a state_dict's hyper-parameters and per-parameter state, matched to this
        optimizer's parameters by position; floating state (but ``step``) takes each
        parameter's dtype, as torch casts it."""
        groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(self.param_groups, groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip((i for s in groups for i in s["params"]),
                          (p for g in self.param_groups for p in g["params"])))
        self.state = defaultdict(dict, {
            id_map[i]: self._cast_state(id_map[i], None, fields)
            for i, fields in state_dict["state"].items() if i in id_map})
        for group, saved in zip(self.param_groups, groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = v

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
    def _no_grad(step):
        def wrapper(self, *args, **kwargs):
            self._opt_called = True  # lets a scheduler warn when it steps first
            self._steps_taken = getattr(self, "_steps_taken", 0) + 1
            if self._steps_taken in _CHECK_AT_STEPS:  # now and then: is old graph kept alive?
                check_for_kept_graphs(self, self._steps_taken, sys._getframe(1))
            # no_grad()'s save / switch off / restore, without building a context object
            saved = (grad_state.enabled, grad_state.inference, grad_state.fw_only)
            _set_enabled(False)
            try:
                return step(self, *args, **kwargs)
            finally:
                grad_state.enabled, grad_state.inference, grad_state.fw_only = saved

        wrapper.__name__ = step.__name__
        wrapper.__doc__ = step.__doc__
        return wrapper
