"""The complex-number ops, on the real tensors ember has.

ember has no complex dtypes (see ``_dtype.COMPLEX_UNSUPPORTED``). On a real tensor these ops
still mean what torch makes them mean: the real part and conjugate are the tensor itself, the
angle is 0 or pi, and the ops that only make sense for complex tensors raise torch's errors.
Anything that would create a complex tensor raises NotImplementedError naming the op.
"""

from __future__ import annotations

import numpy as np

from ember import _dtype as D
from ember.autograd.graph import Node
from ember.ops._core import Tensor
from ember.ops.elementwise import _check_tensor, _unary


def _complex_unsupported(op: str) -> NotImplementedError:
    return NotImplementedError(D.COMPLEX_UNSUPPORTED.format(what=f"torch.{op}"))


def real(input: Tensor) -> Tensor:
    """The real part: for a real tensor, the tensor itself."""
    _check_tensor(input, "real")
    return input


def conj(input: Tensor) -> Tensor:
    """The conjugate: for a real tensor, the tensor itself."""
    _check_tensor(input, "conj")
    return input


def resolve_conj(input: Tensor) -> Tensor:
    _check_tensor(input, "resolve_conj")
    return input


def resolve_neg(input: Tensor) -> Tensor:
    _check_tensor(input, "resolve_neg")
    return input


def is_complex(input: Tensor) -> bool:
    _check_tensor(input, "is_complex")
    return False


def is_conj(input: Tensor) -> bool:
    _check_tensor(input, "is_conj")
    return False


def imag(input: Tensor) -> Tensor:
    _check_tensor(input, "imag")
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


def view_as_real(input: Tensor) -> Tensor:
    _check_tensor(input, "view_as_real")
    raise RuntimeError("view_as_real is only supported for complex tensors")


def _check_arguments(op: str, **arguments) -> None:
    for i, (name, value) in enumerate(arguments.items(), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"{op}(): argument '{name}' (position {i}) must be Tensor, not "
                            f"{type(value).__name__}")


def view_as_complex(input: Tensor) -> Tensor:
    _check_arguments("view_as_complex", input=input)
    raise _complex_unsupported("view_as_complex")


def polar(abs: Tensor, angle: Tensor) -> Tensor:  # noqa: A002 - torch's parameter name
    _check_arguments("polar", abs=abs, angle=angle)
    raise _complex_unsupported("polar")


def complex(real: Tensor, imag: Tensor) -> Tensor:  # noqa: A001 - torch.complex
    _check_arguments("complex", real=real, imag=imag)
    raise _complex_unsupported("complex")


class AngleBackward0(Node):
    """The angle of a real number is constant (0 or pi) where it is defined: gradient 0.
    torch's formula reads the saved input (for complex ones), so it is saved here too."""

    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        xp.saved(self.self_)
        return (xp.zeros_like(grad),)


def _angle_array(a: np.ndarray) -> np.ndarray:
    # pi for negatives, 0 otherwise; NaN stays NaN
    return np.where(a < 0, np.pi, np.where(np.isnan(a), np.nan, 0.0)).astype(a.dtype)


def angle(input: Tensor) -> Tensor:
    """The argument of each element: 0 for x >= 0, pi for x < 0 (floats for integer input)."""
    return _unary(input, _angle_array, AngleBackward0, "self_")


__all__ = ["angle", "complex", "conj", "imag", "is_complex", "is_conj", "polar", "real",
           "resolve_conj", "resolve_neg", "view_as_complex", "view_as_real"]
TENSOR_METHODS: dict = {
    "angle": angle, "conj": conj, "resolve_conj": resolve_conj, "resolve_neg": resolve_neg,
    "is_conj": is_conj,
    "real": property(real), "imag": property(imag),
}
