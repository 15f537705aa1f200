"""Printing tensors exactly as torch prints them.

``repr(tensor)`` is the first thing users compare between ember and torch, so every rule
below follows torch/_tensor_str.py, including its quirks (they are pointed out where they
happen). Values are read from the tensor's NumPy array; nothing here needs autograd.

A tensor is printed in three steps:

1. decide which elements are shown (all, or only the edges when the tensor is larger than
   ``threshold``);
2. choose one notation and one width for all shown elements (``_Formatter``), so that
   columns line up;
3. lay the elements out as nested brackets wrapped at ``linewidth``, then append the
   ``dtype=``/``size=``/``grad_fn=`` suffixes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import _dtype
from .autograd import forward_ad as _fw


def _fw_tensor() -> type:
    from ember._tensor import Tensor

    return Tensor

_PREFIX = "tensor("


@dataclasses.dataclass
class _PrintOptions:
    """The global print options; field order matches torch's ``get_printoptions()``."""

    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


_OPTS = _PrintOptions()

# set_printoptions(profile=...) presets: (precision, threshold, edgeitems, linewidth).
_PROFILES = {
    "default": (4, 1000, 3, 80),
    "short": (2, 1000, 2, 80),
    "full": (4, math.inf, 3, 80),
}


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Set the print options, as ``torch.set_printoptions`` does.

    A profile is applied first and explicit arguments override it; an unknown profile is
    ignored. Like torch, ``sci_mode`` is always assigned, so leaving it out resets it to
    ``None`` (let the formatter decide).
    """
    if profile in _PROFILES:
        (_OPTS.precision, _OPTS.threshold, _OPTS.edgeitems, _OPTS.linewidth) = _PROFILES[profile]
    if precision is not None:
        _OPTS.precision = precision
    if threshold is not None:
        _OPTS.threshold = threshold
    if edgeitems is not None:
        _OPTS.edgeitems = edgeitems
    if linewidth is not None:
        _OPTS.linewidth = linewidth
    _OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """The current options, as keyword arguments ``set_printoptions`` accepts."""
    return dataclasses.asdict(_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs: Any) -> Iterator[None]:
    """Temporarily change the print options (same arguments as ``set_printoptions``)."""
    saved = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**saved)


class _Formatter:
    """One notation and width for every shown element, so that printed columns line up.

    Floats use one of three notations, chosen from the nonzero finite values only:
    int mode (``4.``) when all of them are whole numbers, scientific (``1.0000e+08``) when
    their magnitudes span more than 1000x or leave [1e-4, 1e8], and fixed point otherwise.
    """

    def __init__(self, shown: np.ndarray, dtype: _dtype.dtype) -> None:
        self.floating = dtype.is_floating_point
        self.int_mode = True
        self.sci_mode = False
        self.width = 1

        if not self.floating:
            self.width = max([1, *(len(str(v)) for v in shown.tolist())])
            return

        finite = shown[np.isfinite(shown) & (shown != 0)]
        if finite.size == 0:
            # Only zeros, nans and infs: torch keeps int mode and ignores sci_mode.
            return

        self.int_mode = bool(np.all(np.ceil(finite) == finite))
        if _OPTS.sci_mode is None:
            # Compared in float64, as torch does, so float16 magnitudes cannot overflow.
            magnitudes = np.abs(finite).astype(np.float64)
            smallest, largest = magnitudes.min(), magnitudes.max()
            with np.errstate(over="ignore"):
                spread = largest / smallest
            self.sci_mode = bool(spread > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4)
        else:
            self.sci_mode = bool(_OPTS.sci_mode)

        precision = _OPTS.precision
        values = finite.tolist()
        if self.sci_mode:
            self.width = max(len(f"{v:.{precision}e}") for v in values)
        elif self.int_mode:
            # One more for the "." that marks whole floats as floating point.
            self.width = max(len(f"{v:.0f}") for v in values) + 1
        else:
            self.width = max(len(f"{v:.{precision}f}") for v in values)

    def format(self, value: float | int | bool) -> str:
        """One element, right-aligned to the common width."""
        precision = _OPTS.precision
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.width}.{precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}"
            if math.isfinite(value):
                text += "."
        else:
            text = f"{value:.{precision}f}"
        return text.rjust(self.width)


def _shown_values(a: np.ndarray) -> np.ndarray:
    """The elements a summarised print shows, flattened (torch's get_summarized_data).

    Widths are chosen from these only, so hidden elements do not widen the columns.
    """
    edge = _OPTS.edgeitems
    if a.ndim == 0:
        return a.reshape(-1)
    if a.ndim == 1:
        # Quirk kept from torch: with edgeitems=0, a[-0:] is the whole row.
        return np.concatenate((a[:edge], a[-edge:])) if len(a) > 2 * edge else a
    if not edge:
        return a.reshape(-1)[:0]
    rows = _shown_rows(len(a), edge) if len(a) > 2 * edge else range(len(a))
    return np.concatenate([_shown_values(a[i]) for i in rows])


def _shown_rows(n: int, edge: int) -> list[int]:
    """Indices of the first and last ``edge`` entries of a summarised dimension."""
    return [*range(edge), *range(n - edge, n)]


def _format_row(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    """A 1-d tensor: elements joined by ", " and wrapped to fit ``linewidth``."""
    edge = _OPTS.edgeitems
    per_line = max(1, math.floor((_OPTS.linewidth - indent) / (fmt.width + 2)))
    if summarize and not edge:
        items = ["..."]
    elif summarize and len(a) > 2 * edge:
        head = [fmt.format(v) for v in a[:edge].tolist()]
        tail = [fmt.format(v) for v in a[-edge:].tolist()]
        items = [*head, " ...", *tail]  # " ..." takes an element's slot in the wrapping
    else:
        items = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _format_nested(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    """Brackets within brackets; each level is indented one column further.

    Sub-tensors are separated by ``ndim - 1`` newlines, so matrices inside a 3-d tensor
    are set apart by a blank line.
    """
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _format_row(a, indent, summarize, fmt)
    edge = _OPTS.edgeitems
    if summarize and len(a) > 2 * edge:
        head = [_format_nested(a[i], indent + 1, summarize, fmt) for i in range(edge)]
        tail = [
            _format_nested(a[i], indent + 1, summarize, fmt) for i in range(len(a) - edge, len(a))
        ]
        blocks = [*head, "...", *tail]
    else:
        blocks = [_format_nested(a[i], indent + 1, summarize, fmt) for i in range(len(a))]
    separator = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(blocks) + "]"


def _tensor_str(a: np.ndarray, dtype: _dtype.dtype, indent: int) -> str:
    """The bracketed values of a non-empty tensor whose text starts at column ``indent``."""
    summarize = a.size > _OPTS.threshold
    fmt = _Formatter(_shown_values(a) if summarize else a.reshape(-1), dtype)
    return _format_nested(a, indent, summarize, fmt)


def _add_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    """Append ``, suffix`` items and the closing parenthesis, wrapping at ``linewidth``.

    A suffix that would overflow the line starts a new one, indented under the first value.
    """
    parts = [text]
    # torch's measure of the last line: two more than its real length (the count is exact
    # again after the first wrap). Kept, since it decides where suffixes wrap.
    line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line_len + len(suffix) + 2 > _OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(t: Any, tensor_contents: str | None = None) -> str:
    """``repr(t)`` as torch prints it, e.g. ``tensor([1., 2.], requires_grad=True)``.

    ``t`` needs ``_array``, ``_dtype``, ``requires_grad`` and ``grad_fn``.
    ``tensor_contents`` replaces the bracketed values (torch's hook for subclasses); the
    suffixes are still computed from ``t``.
    """
    a = np.asarray(t._array)
    dtype = t._dtype
    default_name = _dtype.get_default_dtype().name
    indent = len(_PREFIX)
    suffixes = []

    if a.size == 0:
        # Like NumPy, the shape is shown unless it is (0,); with no values to go by, any
        # dtype but the default float is named (even int64 and bool).
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if dtype.name != default_name:
            suffixes.append(f"dtype={dtype!r}")
    else:
        if not _OPTS.edgeitems:
            # With no edge items shown, "[...]" alone would hide the shape.
            suffixes.append(f"size={tuple(a.shape)}")
        # int64 and bool are recognisable from the values (no "." / True), so not named.
        if dtype.name not in (default_name, "int64", "bool"):
            suffixes.append(f"dtype={dtype!r}")

    if tensor_contents is not None:
        body = tensor_contents
    elif a.size == 0:
        body = "[]"
    else:
        body = _tensor_str(a, dtype, indent)

    if t.grad_fn is not None:
        # torch prints the node's class name: "Identity" for "torch::autograd::Identity"
        suffixes.append(f"grad_fn=<{t.grad_fn.name().rsplit('::', 1)[-1]}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    if _fw._state.level is not None and isinstance(t, _fw_tensor()):  # a dual shows its tangent
        tangent = _fw.tangent_of(t)
        if tangent is not None:
            suffixes.append(f"tangent={tangent}")

    return _add_suffixes(_PREFIX + body, suffixes, indent)
