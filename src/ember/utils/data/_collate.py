"""How a DataLoader turns a list of samples into a batch: tensors are stacked along a new
first dimension, NumPy arrays and numbers become tensors, and containers are collated
field by field, as torch's ``default_collate`` does."""

from __future__ import annotations

import collections.abc
import copy
import re

import numpy as np

from ember._tensor import Tensor

_STRING_OR_OBJECT = re.compile(r"[SaUO]")  # NumPy dtypes that cannot become tensors
_COLLATE_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, "
                  "dicts or lists; found {}")


def default_convert(data):
    """One sample (no batching): NumPy arrays and scalars become tensors, recursively."""
    from ember import as_tensor

    if isinstance(data, Tensor):
        return data
    kind = type(data)
    if kind.__module__ == "numpy" and kind.__name__ not in ("str_", "string_"):
        if kind.__name__ == "ndarray" and _STRING_OR_OBJECT.search(data.dtype.str):
            return data
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {k: default_convert(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return kind(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data


def default_collate(batch):
    """Collate a list of samples into a batch (see the module docstring)."""
    from ember import as_tensor, float64, stack, tensor

    elem = batch[0]
    kind = type(elem)
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if kind.__module__ == "numpy" and kind.__name__ not in ("str_", "string_"):
        if kind.__name__ in ("ndarray", "memmap"):
            if _STRING_OR_OBJECT.search(elem.dtype.str):
                raise TypeError(_COLLATE_ERROR.format(elem.dtype))
            return default_collate([as_tensor(b) for b in batch])
        if elem.shape == ():  # NumPy scalars
            return as_tensor(np.array(batch))
    if isinstance(elem, bool) or isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, float):
        return tensor(batch, dtype=float64)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild_mapping(elem, {key: default_collate([d[key] for d in batch])
                                       for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple
        return kind(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(list(samples)) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return columns  # torch gives a list for tuples
        return _rebuild_sequence(elem, columns)
    raise TypeError(_COLLATE_ERROR.format(kind))


def _rebuild_mapping(original, values: dict):
    """A mapping of ``original``'s type holding ``values`` (a plain dict if that fails)."""
    try:
        if isinstance(original, collections.abc.MutableMapping):
            clone = copy.copy(original)
            clone.update(values)
            return clone
        return type(original)(values)
    except TypeError:
        return values


def _rebuild_sequence(original, values: list):
    try:
        if isinstance(original, collections.abc.MutableSequence):
            clone = copy.copy(original)
            for i, v in enumerate(values):
                clone[i] = v
            return clone
        return type(original)(values)
    except TypeError:
        return values
