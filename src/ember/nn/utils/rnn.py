"""Padding variable-length sequences into one tensor and back."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable

import numpy as np

import ember
from ember import _creation as C
from ember import _dtype as D
from ember._tensor import Tensor, _wrap

__all__ = ["PackedSequence", "pack_padded_sequence", "pack_sequence", "pad_packed_sequence",
           "pad_sequence", "unpad_sequence"]


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


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """Sequences of different lengths stored time step by time step: ``data`` holds step 0 of
    every sequence, then step 1 of those still running, ...; ``batch_sizes[t]`` says how many.
    Sequences are sorted longest first (``sorted_indices`` maps back)."""

    __slots__ = ()

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None, unsorted_indices: Tensor | None = None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)


def _invert_permutation(permutation: Tensor | None) -> Tensor | None:
    if permutation is None:
        return None
    inverse = np.empty_like(permutation._array)
    inverse[permutation._array] = np.arange(permutation._array.size)
    return _wrap(inverse, D.int64)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (``(T, B, *)`` or ``(B, T, *)``) given each sequence's length."""
    lengths_array = np.asarray(lengths._array if isinstance(lengths, Tensor) else lengths,
                               dtype=np.int64).reshape(-1)
    if enforce_sorted:
        if np.any(np.diff(lengths_array) > 0):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability.")
        sorted_indices = None
    else:
        order = np.argsort(-lengths_array, kind="stable")
        lengths_array = lengths_array[order]
        sorted_indices = _wrap(order.astype(np.int64), D.int64)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if lengths_array.size and lengths_array[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if batch_first:
        input = input.transpose(0, 1)
    if lengths_array.size and lengths_array[0] > input.size(0):
        raise RuntimeError(f"Expected sequence length to be larger than or equal to "
                           f"{lengths_array[0]}, but got {input.size(0)}")
    steps = int(lengths_array[0]) if lengths_array.size else 0
    batch_sizes = np.array([(lengths_array > t).sum() for t in range(steps)], dtype=np.int64)
    data = ember.cat([input[t, :int(b)] for t, b in enumerate(batch_sizes)], 0)
    return PackedSequence(data, _wrap(batch_sizes, D.int64), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The inverse of ``pack_padded_sequence``: the padded batch and the lengths."""
    data, batch_sizes = sequence.data, sequence.batch_sizes._array
    max_len = batch_sizes.size
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{max_len}")
        max_len = total_length
    batch = int(batch_sizes[0]) if batch_sizes.size else 0
    lengths = np.array([(batch_sizes > i).sum() for i in range(batch)], dtype=np.int64)
    out = C.full((max_len, batch) + tuple(data.shape[1:]), padding_value, dtype=data.dtype)
    offset = 0
    for t, b in enumerate(batch_sizes):
        out[t, :int(b)] = data[offset:offset + int(b)]
        offset += int(b)
    if sequence.unsorted_indices is not None:
        out = out.index_select(1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices._array]
    if batch_first:
        out = out.transpose(0, 1)
    return out, _wrap(lengths, D.int64)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (dim 0 is time) of different lengths."""
    lengths = [s.size(0) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)
