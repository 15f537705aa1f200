"""The formulas' vocabulary over ember tensors, for ``create_graph=True``.

Same names and meanings as ``ember.autograd.xp.ArrayMath``; every function is an ember op,
so running a formula here records the graph of the backward pass itself.
"""

from __future__ import annotations

import numpy as np

from ember import _dtype as D
from ember._tensor import _wrap
from ember.autograd.graph import FREED_MESSAGE, PackedSavedTensor, SavedTensor
from ember.autograd.xp import broadcast_axes
from ember.ops import elementwise as E
from ember.ops import indexing as I
from ember.ops import linalg as L
from ember.ops import reduction as R
from ember.ops import shape as S


class TensorMath:
    """Formulas' operations on tensors (recording a graph)."""

    def __getattr__(self, name: str):
        # Names the class lacks: ember's top-level op of that name (cached on the instance).
        import ember

        function = getattr(ember, name, None)
        if function is None or name.startswith("_"):
            raise AttributeError(f"formula vocabulary has no {name!r}")
        setattr(self, name, function)
        return function

    @staticmethod
    def saved(value):
        if value.__class__ is SavedTensor:
            value.check_version()
            return value.tensor
        if value is None:
            raise RuntimeError(FREED_MESSAGE)
        if value.__class__ is PackedSavedTensor:  # saved under saved_tensors_hooks
            return value.tensor
        return value

    @staticmethod
    def saved_output(value, node):
        if value is None:
            raise RuntimeError(FREED_MESSAGE)
        value.check_version(node)
        t = _wrap(value.array, value.dtype)
        t._version_counter = value.version_counter
        t.grad_fn = node
        t._requires_grad = True
        t._output_nr = value.output_nr
        return t

    @staticmethod
    def conform(grad, shape, dtype):
        if tuple(grad._array.shape) != shape:
            grad = TensorMath.sum_to(grad, shape)
        if grad._array.dtype != dtype:
            grad = E.to_dtype(grad, D.from_numpy_dtype(dtype))
        return grad

    @staticmethod
    def sum_to(grad, shape):
        lead, dims = broadcast_axes(grad._array.shape, shape)
        if dims:
            grad = R.sum(grad, dims, keepdim=True)
        return S.reshape(grad, shape) if lead else grad

    @staticmethod
    def expand(x, shape):
        return S.expand(x, tuple(shape))

    @staticmethod
    def reshape(x, shape):
        return S.reshape(x, tuple(shape))

    @staticmethod
    def permute(x, dims):
        return S.permute(x, tuple(int(d) for d in dims))

    @staticmethod
    def unsqueeze(x, dim):
        return S.unsqueeze(x, dim)

    @staticmethod
    def sum(x, dims, keepdim=False):
        return R.sum(x, dims, keepdim)

    @staticmethod
    def zeros(shape, like):
        return _wrap(np.zeros(shape, dtype=like._array.dtype), like._dtype)

    @staticmethod
    def zeros_like(x):
        return TensorMath.zeros(x._array.shape, x)

    @staticmethod
    def clone(x):
        return E.clone(x)

    @staticmethod
    def where(condition, x, y):
        if not isinstance(condition, E.Tensor):
            condition = _wrap(np.asarray(condition), D.bool_)
        return E.where(condition, x, y)

    @staticmethod
    def matmul(a, b):
        return L.matmul(a, b)

    @staticmethod
    def mT(x):
        return S.transpose(x, -2, -1)

    @staticmethod
    def outer(a, b):
        return E.mul(S.unsqueeze(a, 1), S.unsqueeze(b, 0))

    @staticmethod
    def put_at(shape, key, grad, like, accumulate=True):
        return I.put_at(shape, key, grad, accumulate)

    @staticmethod
    def take_along_dim(x, indices, dim):
        return I.take_along_dim(x, indices, dim)

    @staticmethod
    def scatter_along_dim(shape, indices, grad, dim):
        return I.scatter_along_dim(shape, indices, grad, dim)

    @staticmethod
    def cast(x, like):
        return E.to_dtype(x, like._dtype)

    @staticmethod
    def prod(x, dim, keepdim=False):
        return R.prod(x, dim, keepdim)

    exp = staticmethod(E.exp)
    log = staticmethod(E.log)
    sin = staticmethod(E.sin)
    cos = staticmethod(E.cos)
    sqrt = staticmethod(E.sqrt)
    sign = staticmethod(E.sign)
    abs = staticmethod(E.abs)
    floor = staticmethod(E.floor)


TENSOR_MATH = TensorMath()
