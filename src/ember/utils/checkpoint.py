"""Activation checkpointing: keep less for backward, recompute it when backward needs it.

``use_reentrant=False`` (the recommended variant): the forward runs normally, recording its
graph, but inside ``saved_tensors_hooks`` whose pack hook keeps only a ticket number. The
first time backward unpacks a ticket, the function is run again (same inputs, same random
state) with a pack hook that collects the tensors saved in that run, in the same order; the
ticket indexes into them. ``use_reentrant=True``: the function runs without recording as one
custom ``CheckpointFunction`` node whose backward recomputes it with grad on and back-propagates
through the recomputed graph.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

__all__ = ["CheckpointError", "checkpoint", "checkpoint_sequential"]


class CheckpointError(RuntimeError):
    """The recomputation in backward did not save what the original forward saved."""


_DEBUG_TIP = (
    "\nTip: a checkpointed function must save the same tensors (same shapes and dtypes) when "
    "backward runs it again: avoid global state or data-dependent branches inside it, or pass "
    "determinism_check='none' to skip this check."
)
_DETERMINISM_CHECKS = ("default", "none")

_REENTRANT_WARNING = (
    "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting "
    "in PyTorch 2.9, calling checkpoint without use_reentrant will raise an exception. "
    "use_reentrant=False is recommended, but if you need to preserve the current default "
    "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
    "differences between the two variants."
)


def noop_context_fn():
    import contextlib

    return contextlib.nullcontext(), contextlib.nullcontext()


def checkpoint(function: Callable, *args: Any, use_reentrant: bool | None = None,
               context_fn: Callable = noop_context_fn, determinism_check: str = "default",
               debug: bool = False, early_stop: bool = True, preserve_rng_state: bool = True,
               **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, saving only what is needed to run it again in backward."""
    if use_reentrant is None:
        warnings.warn(_REENTRANT_WARNING, UserWarning, stacklevel=2)
        use_reentrant = True
    if use_reentrant:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if context_fn is not noop_context_fn or debug:
            raise ValueError(
                "Passing `context_fn` or `debug` is only supported when use_reentrant=False."
            )
        return _CheckpointFunction.apply(function, preserve_rng_state, *args, **kwargs)
    if determinism_check not in _DETERMINISM_CHECKS:
        raise ValueError(
            f"determinism_check should be one of {list(_DETERMINISM_CHECKS)}, but got "
            f"{determinism_check}"
        )
    return _non_reentrant(function, preserve_rng_state, context_fn, args, kwargs,
                          determinism_check == "default")


def _rng_state(preserve: bool):
    if not preserve:
        return None
    from ember import random

    return random.get_rng_state()


class _Recompute:
    """The tickets of one checkpointed call and, once backward needs them, its saved tensors."""

    def __init__(self, function, args, kwargs, rng_state, context_fn, check: bool) -> None:
        self.function = function
        self.args = args
        self.kwargs = kwargs
        self.rng_state = rng_state
        self.context_fn = context_fn
        self.count = 0
        self.saved: list | None = None
        self.metadata: list | None = [] if check else None

    def pack(self, tensor) -> int:
        ticket = self.count
        self.count += 1
        if self.metadata is not None:
            self.metadata.append(_metadata(tensor))
        return ticket

    def unpack(self, ticket: int):
        if self.saved is None:
            self._recompute()
        return self.saved[ticket]

    def _recompute(self) -> None:
        from ember import random
        from ember.autograd.grad_mode import enable_grad
        from ember.autograd.graph import saved_tensors_hooks

        saved: list = []

        def collect(t):
            saved.append(t)
            return t

        state = random.get_rng_state() if self.rng_state is not None else None
        if self.rng_state is not None:
            random.set_rng_state(self.rng_state)
        _, recompute_context = self.context_fn()
        try:
            with enable_grad(), saved_tensors_hooks(collect, _identity), recompute_context:
                self.function(*self.args, **self.kwargs)
        finally:
            if state is not None:
                random.set_rng_state(state)
        if len(saved) < self.count:
            raise CheckpointError(
                "torch.utils.checkpoint: A different number of tensors was saved during the "
                f"original forward and recomputation.\nNumber of tensors saved during forward: "
                f"{self.count}\nNumber of tensors saved during recomputation: {len(saved)}."
                + _DEBUG_TIP
            )
        if self.metadata is not None:
            different = [
                f"tensor at position {i}:\nsaved metadata: {meta}\nrecomputed metadata: "
                f"{_metadata(saved[i])}\n"
                for i, meta in enumerate(self.metadata) if meta != _metadata(saved[i])
            ]
            if different:
                raise CheckpointError(
                    "torch.utils.checkpoint: Recomputed values for the following tensors have "
                    "different metadata than during the forward pass.\n" + "".join(different)
                    + "." + _DEBUG_TIP
                )
        self.saved = saved
        self.metadata = None
        self.function = self.args = self.kwargs = None


def _identity(t):
    return t


def _metadata(t) -> dict:
    """What torch's default determinism check compares between forward and recomputation."""
    return {"shape": t.shape, "dtype": t.dtype, "device": t.device}


def _non_reentrant(function, preserve_rng_state, context_fn, args, kwargs, check: bool):
    from ember.autograd.graph import saved_tensors_hooks

    recompute = _Recompute(function, args, kwargs, _rng_state(preserve_rng_state), context_fn,
                           check)
    forward_context, _ = context_fn()
    with saved_tensors_hooks(recompute.pack, recompute.unpack), forward_context:
        return function(*args, **kwargs)


def _make_checkpoint_function():
    from ember.autograd.function import Function

    class CheckpointFunction(Function):
        @staticmethod
        def forward(ctx, run_function, preserve_rng_state, *args):
            from ember._tensor import Tensor

            ctx.run_function = run_function
            ctx.rng_state = _rng_state(preserve_rng_state)
            ctx.is_tensor = [isinstance(a, Tensor) for a in args]
            ctx.others = [None if t else a for t, a in zip(ctx.is_tensor, args)]
            ctx.save_for_backward(*[a for t, a in zip(ctx.is_tensor, args) if t])
            return run_function(*args)

        @staticmethod
        def backward(ctx, *grads):
            from ember import autograd, random
            from ember._tensor import Tensor
            from ember.autograd.grad_mode import enable_grad

            if not autograd._is_checkpoint_valid():
                raise RuntimeError(
                    "When use_reentrant=True, torch.utils.checkpoint is incompatible with "
                    ".grad() or passing an `inputs` parameter to .backward(). To resolve this "
                    "error, you can either set use_reentrant=False, or call .backward() without "
                    "passing the `inputs` argument."
                )
            tensors = iter(ctx.saved_tensors)
            inputs = []
            for is_tensor, other in zip(ctx.is_tensor, ctx.others):
                if is_tensor:
                    t = next(tensors)
                    inputs.append(t.detach().requires_grad_(t.requires_grad))
                else:
                    inputs.append(other)
            state = random.get_rng_state() if ctx.rng_state is not None else None
            if ctx.rng_state is not None:
                random.set_rng_state(ctx.rng_state)
            try:
                with enable_grad():
                    outputs = ctx.run_function(*inputs)
            finally:
                if state is not None:
                    random.set_rng_state(state)
            outputs = outputs if isinstance(outputs, tuple) else (outputs,)
            pairs = [(o, g) for o, g in zip(outputs, grads)
                     if isinstance(o, Tensor) and o.requires_grad and g is not None]
            if not pairs:
                raise RuntimeError(
                    "none of output has requires_grad=True, this checkpoint() is not necessary"
                )
            autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
            return (None, None) + tuple(
                x.grad if isinstance(x, Tensor) else None for x in inputs
            )

    return CheckpointFunction


class _LazyCheckpointFunction:
    cls = None

    def apply(self, *args, **kwargs):
        if self.cls is None:
            self.cls = _make_checkpoint_function()
        return self.cls.apply(*args, **kwargs)


_CheckpointFunction = _LazyCheckpointFunction()


def checkpoint_sequential(functions, segments: int, input, use_reentrant: bool | None = None,
                          **kwargs):
    """Run ``functions`` (modules or callables) in ``segments`` checkpointed chunks."""
    if use_reentrant is None:
        warnings.warn(_REENTRANT_WARNING, UserWarning, stacklevel=2)
        use_reentrant = True
    if hasattr(functions, "children") and not isinstance(functions, (list, tuple)):
        functions = list(functions.children())
    functions = list(functions)

    def run(start, end):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x

        return forward

    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, len(functions) - 1)(input)
