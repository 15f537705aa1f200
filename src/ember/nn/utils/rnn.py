"""Padding variable-length sequences into one tensor and back."""

from __future__ import annotations

from collections.abc import Iterable

from ember import _creation as C
from ember._tensor import Tensor

__all__ = ["pad_sequence", "unpad_sequence"]


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of different lengths (dim 0), padding the short ones with
    ``padding_value``; the result is ``(max_len, batch, *)`` or ``(batch, max_len, *)``.

    Each sequence is copied into a slice of the padded tensor, so gradients flow back to it
    through the copy (torch's CopySlices)."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got arg of "
                           f"type: {type(sequences)}")
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(
            f"Expected padding_side to be one of left or right, but got {padding_side}.")
    max_len = max(s.size(0) for s in sequences)
    trailing = tuple(sequences[0].shape[1:])
    shape = ((len(sequences), max_len) if batch_first else (max_len, len(sequences))) + trailing
    out = C.full(shape, padding_value, dtype=sequences[0].dtype)
    for i, seq in enumerate(sequences):
        n = seq.size(0)
        span = slice(0, n) if padding_side == "right" else slice(max_len - n, max_len)
        if batch_first:
            out[i, span] = seq
        else:
            out[span, i] = seq
    return out


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor,
                   batch_first: bool = False) -> list[Tensor]:
    """The inverse of ``pad_sequence`` given each sequence's length.

    torch transposes a time-major ``padded_sequences`` in place first; ember (which has no
    in-place transpose) leaves the argument as it was."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    idx = C.arange(padded_sequences.shape[1])
    return [seq[idx < length] for seq, length in zip(padded_sequences, lengths)]
