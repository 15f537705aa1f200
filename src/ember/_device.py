"""Devices: ember computes on the CPU only, but programs name devices all the time.

``torch.device("cuda")`` is a valid object even on a machine without a GPU; what fails is
putting a tensor there. ember keeps that split: ``device`` parses every device string torch
accepts, and ``require_cpu`` (called wherever a tensor would be placed: factories, ``.to``,
``.cuda()``, ``Module.to``) fails the way a CPU-only torch build fails, so the usual
``"cuda" if torch.cuda.is_available() else "cpu"`` line picks the CPU and runs.
"""

from __future__ import annotations

__all__ = ["device", "require_cpu"]

# The device types torch knows (its "Expected one of ..." message lists them in this order).
_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
          "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
          "privateuseone")

_NO_ACCELERATOR = "Cannot access accelerator device when none is available."


def _parse(text: str) -> tuple[str, int | None]:
    kind, sep, index = text.partition(":")
    if kind not in _TYPES:
        raise RuntimeError(f"Expected one of {', '.join(_TYPES)} device type at start of "
                           f"device string: {text}")
    if not sep:
        return kind, None
    if not index.isdigit() or (len(index) > 1 and index[0] == "0"):
        raise RuntimeError(f"Invalid device string: '{text}'")
    return kind, int(index)


class device:
    """``device("cpu")``, ``device("cuda", 0)``, ``device("cuda:1")``: a name, nothing more."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device = "cpu", index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        elif isinstance(type, int) and not isinstance(type, bool):  # an accelerator's index
            raise RuntimeError(_NO_ACCELERATOR)
        elif not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments - got "
                            f"({type.__class__.__name__})")
        else:
            kind, parsed = _parse(type)
            if parsed is not None and index is not None:
                raise RuntimeError("type (string) must not include an index because index was "
                                   f"passed explicitly: {type}")
            type, index = kind, parsed if index is None else index
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self.type, self.index = type, index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:  # torch: a device never equals a string
        return (isinstance(other, device) and self.type == other.type
                and self.index == other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def require_cpu(where) -> None:
    """Fail as a CPU-only torch build does when a tensor is asked to live off the CPU."""
    if where is None or where is CPU:
        return
    if isinstance(where, int) and not isinstance(where, bool):  # an accelerator's index
        raise RuntimeError(_NO_ACCELERATOR)
    kind = where.type if isinstance(where, device) else _parse(str(where))[0]
    if kind == "cpu":
        return
    if kind in ("cuda", "xpu"):
        raise AssertionError(f"Torch not compiled with {kind.upper()} enabled")
    raise NotImplementedError(
        f"Could not run 'aten::empty.memory_format' with arguments from the '{kind.upper()}' "
        f"backend (ember runs on the CPU only)")
