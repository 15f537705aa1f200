"""Grad modes: whether ops record the graph, per thread.

Every op reads ``grad_state.enabled`` once; the context managers below flip it and restore
it on exit, and double as decorators (``@no_grad()`` and ``@no_grad``) as in torch.
"""

from __future__ import annotations

import functools
import inspect
import threading
from typing import Any, Callable


class _GradState(threading.local):
    def __init__(self) -> None:
        self.enabled = True
        self.inference = False
        # Inside a forward-AD dual level, turning grad mode off keeps ops recording (torch's
        # forward AD ignores no_grad) but marks what they record as forward-only.
        self.dual = False
        self.fw_only = False


def _set_enabled(mode: bool) -> None:
    if not mode and grad_state.dual:
        grad_state.enabled = True
        grad_state.fw_only = True
    else:
        grad_state.enabled = bool(mode)
        grad_state.fw_only = False


grad_state = _GradState()


def is_grad_enabled() -> bool:
    return grad_state.enabled and not grad_state.fw_only


def is_inference_mode_enabled() -> bool:
    return grad_state.inference


class _GradModeContext:
    """Base for the context managers: subclasses set the mode in ``_enter``."""

    def __call__(self, func: Callable | None = None) -> Any:
        if inspect.isclass(func):
            raise TypeError("grad mode decorators do not apply to classes")
        if inspect.isgeneratorfunction(func):
            @functools.wraps(func)
            def generator_wrapper(*args, **kwargs):
                gen = func(*args, **kwargs)
                with self.clone():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        gen.close()
                        raise
                    with self.clone():
                        response = gen.send(request)
            return generator_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)
        return wrapper

    def clone(self) -> _GradModeContext:
        return self.__class__()

    def __enter__(self) -> None:
        self._saved = (grad_state.enabled, grad_state.inference, grad_state.fw_only)
        self._enter()

    def __exit__(self, *exc_info) -> None:
        grad_state.enabled, grad_state.inference, grad_state.fw_only = self._saved


class _NoArgDecorator(_GradModeContext):
    """Lets ``@no_grad`` be used without parentheses, like torch."""

    def __new__(cls, orig_func: Callable | None = None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoArgDecorator):
    """Ops inside do not record the graph (results have ``requires_grad=False``)."""

    def _enter(self) -> None:
        _set_enabled(False)


class enable_grad(_NoArgDecorator):
    """Re-enables recording inside a ``no_grad`` block."""

    def _enter(self) -> None:
        _set_enabled(True)


class set_grad_enabled(_GradModeContext):
    """Sets grad mode at once when called, and restores it when used as a context manager."""

    def __init__(self, mode: bool) -> None:
        self._prev = (grad_state.enabled, grad_state.fw_only)
        self.mode = bool(mode)
        _set_enabled(self.mode)

    def __enter__(self) -> None:
        self._saved = (self._prev[0], grad_state.inference, self._prev[1])

    def __call__(self, func: Callable) -> Callable:
        grad_state.enabled, grad_state.fw_only = self._prev
        return super().__call__(func)

    def clone(self) -> set_grad_enabled:
        return self.__class__(self.mode)


class inference_mode(_GradModeContext):
    """Like ``no_grad``; ember has no separate inference tensors, so this is the same switch."""

    def __new__(cls, mode: Any = True):
        if callable(mode) and not isinstance(mode, bool):
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.mode = mode

    def _enter(self) -> None:
        if self.mode:
            _set_enabled(False)
            grad_state.inference = True

    def clone(self) -> inference_mode:
        return self.__class__(self.mode)
