"""Anomaly detection: remember where each node was created, and check backward for NaNs.

Off, it costs nothing: the engine reads one flag per backward pass, and node creation is
untouched. On, ``graph._next_sequence_nr`` (which every ``new_node`` calls) is swapped for a
version that also stores the forward call's stack on the node being created; the engine then
checks each node's output gradients for NaN and, when a node's backward fails, warns with the
stack of the forward call that created it, as torch does.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
import warnings

import numpy as np

from ember.autograd import graph

__all__ = [
    "detect_anomaly",
    "is_anomaly_check_nan_enabled",
    "is_anomaly_enabled",
    "set_detect_anomaly",
]

_ENABLED_WARNING = (
    "Anomaly Detection has been enabled. This mode will increase the runtime and should only "
    "be enabled for debugging."
)
_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _AnomalyState(threading.local):
    def __init__(self) -> None:
        self.enabled = False
        self.check_nan = True


anomaly_state = _AnomalyState()
_plain_sequence_nr = graph._next_sequence_nr


def _user_stack(frame) -> list:
    """The forward call's stack, without ember's own frames (torch shows the user's)."""
    frames = [f for f in traceback.extract_stack(frame) if not f.filename.startswith(_EMBER_DIR)]
    return traceback.format_list(frames)


def _recording_sequence_nr() -> int:
    # Called from new_node right after the node object exists: find it in the caller's frame.
    frame = sys._getframe(1)
    node = frame.f_locals.get("node")
    if node is not None:
        node._anomaly_trace = _user_stack(frame.f_back)
    return _plain_sequence_nr()


def record_trace(node, frame) -> None:
    """For nodes not made by ``new_node`` (custom Functions): store the stack now."""
    if anomaly_state.enabled:
        node._anomaly_trace = _user_stack(frame)


def _set(enabled: bool, check_nan: bool) -> None:
    anomaly_state.enabled = enabled
    anomaly_state.check_nan = check_nan
    graph._next_sequence_nr = _recording_sequence_nr if enabled else _plain_sequence_nr


def is_anomaly_enabled() -> bool:
    return anomaly_state.enabled


def is_anomaly_check_nan_enabled() -> bool:
    return anomaly_state.check_nan


class detect_anomaly:
    """Context manager (and decorator) turning anomaly detection on inside."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        self.prev = anomaly_state.enabled
        self.prev_check_nan = anomaly_state.check_nan
        warnings.warn(_ENABLED_WARNING, UserWarning, stacklevel=2)

    def __enter__(self) -> None:
        _set(True, self.check_nan)

    def __exit__(self, *exc_info) -> None:
        _set(self.prev, self.prev_check_nan)

    def __call__(self, func):
        def wrapper(*args, **kwargs):
            with self.__class__(self.check_nan):
                return func(*args, **kwargs)

        return wrapper


class set_detect_anomaly:
    """Sets anomaly detection on or off at once; as a context manager, restores on exit."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = anomaly_state.enabled
        self.prev_check_nan = anomaly_state.check_nan
        _set(bool(mode), bool(check_nan))

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc_info) -> None:
        _set(self.prev, self.prev_check_nan)


def _warn_trace(node) -> None:
    trace = getattr(node, "_anomaly_trace", None)
    if trace is None:
        message = (
            f"Error detected in {node.name()}. No forward pass information available. Enable "
            "detect anomaly during forward pass for more information."
        )
    else:
        message = (
            f"Error detected in {node.name()}. Traceback of forward call that caused the "
            "error:\n" + "".join(trace)
        )
    warnings.warn(message, UserWarning, stacklevel=1)


def _has_nan(g) -> bool:
    array = g if isinstance(g, np.ndarray) else getattr(g, "_array", None)
    return array is not None and array.dtype.kind == "f" and bool(np.isnan(array).any())


def anomaly_call(node, grad, xp):
    """Run ``node.backward`` under anomaly mode: NaN outputs raise, failures show the trace."""
    try:
        result = node.backward(grad, xp)
        if anomaly_state.check_nan:
            for i, g in enumerate(result):
                if g is not None and _has_nan(g):
                    raise RuntimeError(
                        f"Function '{node.name()}' returned nan values in its {i}th output."
                    )
    except Exception:
        _warn_trace(node)
        raise
    return result
