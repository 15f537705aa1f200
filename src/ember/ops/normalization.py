"""Batch, layer, group and instance normalization, and distances between vectors.

One derivative serves every normalization: with x-hat = (x - mean) * invstd over the
reduced axes, dL/dx = invstd * (g - mean(g) - x-hat * mean(g * x-hat)) for g = dL/dx-hat.
The formula recomputes the statistics from the saved input with ``xp`` operations, so under
``create_graph=True`` it is differentiated again like any other formula.
"""

from __future__ import annotations

import math

import numpy as np

from ember import _dtype as D
from ember.ops import activation as A
from ember.ops import elementwise as E
from ember.ops import reduction as R
from ember.ops import shape as S
from ember.ops._core import (
    FLOATING,
    Node,
    SavedTensor,
    Tensor,
    edge,
    grad_state,
    new_node,
    set_history,
    wrap,
)


class NativeBatchNormBackward0(Node):
    """Normalization of ``input`` over ``axes`` (of ``input`` reshaped to ``group_shape``),
    then ``* weight + bias`` with weight and bias viewed as ``weight_view``.

    ``fixed`` holds (mean, invstd) arrays when the statistics are constants (evaluation).
    """

    __slots__ = ("input", "weight", "axes", "eps", "group_shape", "weight_view", "weight_shape",
                 "fixed", "affine_axes")
    _saved_fields = ("input", "weight")

    def backward(self, grad, xp):
        x = xp.saved(self.input)
        w = xp.saved(self.weight) if self.weight is not None else None
        shape = tuple(x.shape)
        group = self.group_shape
        xg = xp.reshape(x, group) if group is not None else x
        axes = self.axes
        if self.fixed is not None:
            mean, invstd = self.fixed
            if not isinstance(x, np.ndarray):
                mean = wrap(mean.astype(x._array.dtype), x._dtype)
                invstd = wrap(invstd.astype(x._array.dtype), x._dtype)
        else:
            n = max(int(np.prod([xg.shape[a] for a in axes])), 1)
            mean = xp.sum(xg, axes, True) / n
            centered = xg - mean
            invstd = 1 / xp.sqrt(xp.sum(centered * centered, axes, True) / n + self.eps)
        xhat = (xg - mean) * invstd
        xhat_full = xp.reshape(xhat, shape) if group is not None else xhat
        grad_input = grad_weight = grad_bias = None
        if self.needs_input_grad(0):
            g = grad * xp.reshape(w, self.weight_view) if w is not None else grad
            g = xp.reshape(g, group) if group is not None else g
            if self.fixed is not None:
                gi = g * invstd
            else:
                n = max(int(np.prod([xg.shape[a] for a in axes])), 1)
                gi = invstd * (g - xp.sum(g, axes, True) / n
                               - xhat * (xp.sum(g * xhat, axes, True) / n))
            grad_input = xp.reshape(gi, shape) if group is not None else gi
        axes_ = self.affine_axes
        if len(self.next_functions) > 1 and self.needs_input_grad(1):
            gw = grad * xhat_full
            grad_weight = xp.reshape(xp.sum(gw, axes_) if axes_ else gw, self.weight_shape)
        if len(self.next_functions) > 2 and self.needs_input_grad(2):
            grad_bias = xp.reshape(xp.sum(grad, axes_) if axes_ else grad, self.weight_shape)
        return grad_input, grad_weight, grad_bias


class NativeLayerNormBackward0(NativeBatchNormBackward0):
    __slots__ = ()


class NativeGroupNormBackward0(NativeBatchNormBackward0):
    __slots__ = ()


def _normalize(input: Tensor, weight, bias, axes: tuple, eps: float, node_cls,
               group_shape=None, weight_view=None, fixed=None) -> tuple:
    """The forward shared by the normalizations; returns (output, mean, biased var) with the
    statistics as float64 arrays of the grouped shape (keepdims)."""
    a = input._array
    dtype = a.dtype
    g = a.reshape(group_shape) if group_shape is not None else a
    g64 = g.astype(np.float64)
    with np.errstate(all="ignore"):
        if fixed is not None:
            mean, invstd = fixed
            var = None
        else:
            mean = g64.mean(axis=axes, keepdims=True) if g.size else np.full(
                [1 if i in axes else s for i, s in enumerate(g.shape)], np.nan)
            var = ((g64 - mean) ** 2).mean(axis=axes, keepdims=True) if g.size else mean
            invstd = 1 / np.sqrt(var + eps)
        xhat = ((g64 - mean) * invstd).reshape(a.shape)
        out = xhat
        if weight is not None:
            out = out * weight._array.reshape(weight_view)
        if bias is not None:
            out = out + bias._array.reshape(weight_view)
    result = wrap(out.astype(dtype), input._dtype)
    tensors = [t for t in (weight, bias) if t is not None]
    if grad_state.enabled and (input._requires_grad or any(t._requires_grad for t in tensors)):
        edges = (edge(input), edge(weight) if weight is not None else (None, 0),
                 edge(bias) if bias is not None else (None, 0))
        node = new_node(node_cls, edges, result._array)
        node.input = SavedTensor(input)
        node.weight = SavedTensor(weight) if weight is not None else None
        node.axes, node.eps, node.group_shape = axes, eps, group_shape
        node.weight_view = weight_view
        node.weight_shape = weight._array.shape if weight is not None else (
            bias._array.shape if bias is not None else None)
        node.fixed = fixed
        lead = a.ndim - len(weight_view) if weight_view is not None else a.ndim
        node.affine_axes = tuple(i for i in range(a.ndim)
                                 if i < lead or weight_view[i - lead] == 1)
        set_history(result, node)
    return result, mean, var


def _legacy(dtype: D.dtype) -> str:
    return A._legacy(dtype)


def _check_float(input: Tensor, kernel: str) -> None:
    if input._dtype.category != FLOATING:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{_legacy(input._dtype)}\'')


def _check_param(t, name: str, count: int) -> None:
    if t is not None and t._array.size != count:
        raise RuntimeError(f"{name} should contain {count} elements not {t._array.size}")


def _size(t: Tensor) -> str:
    return f"torch.Size({list(t._array.shape)})"


# ----- batch norm -----------------------------------------------------------------------------
def _batch_norm(input: Tensor, weight, bias, running_mean, running_var, training: bool,
                momentum: float, eps: float) -> Tensor:
    if input.ndim < 2:
        raise RuntimeError(
            f"batch_norm: Expected input to have at least 2 dimensions, but got "
            f"{input.ndim}")  # pragma: no cover - F.batch_norm checks first
    channels = input._array.shape[1]
    for t, name in ((weight, "weight"), (bias, "bias"), (running_mean, "running_mean"),
                    (running_var, "running_var")):
        _check_param(t, name, channels)
    _check_float(input, "batch_norm")
    view = (channels,) + (1,) * (input.ndim - 2)
    axes = (0,) + tuple(range(2, input.ndim))
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        mean = running_mean._array.astype(np.float64).reshape(view)
        invstd = 1 / np.sqrt(running_var._array.astype(np.float64).reshape(view) + eps)
        out, _, _ = _normalize(input, weight, bias, axes, eps, NativeBatchNormBackward0,
                               weight_view=view, fixed=(mean, invstd))
        return out
    out, mean, var = _normalize(input, weight, bias, axes, eps, NativeBatchNormBackward0,
                                weight_view=view)
    n = input._array.size // max(channels, 1)
    if running_mean is not None:
        rm = running_mean._array
        rm[...] = ((1 - momentum) * rm + momentum * mean.reshape(-1)).astype(rm.dtype)
        running_mean._version_counter[0] += 1
    if running_var is not None:
        rv = running_var._array
        unbiased = var.reshape(-1) * (n / (n - 1)) if n > 1 else np.full(channels, np.nan)
        rv[...] = ((1 - momentum) * rv + momentum * unbiased).astype(rv.dtype)
        running_var._version_counter[0] += 1
    return out


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel (dim 1) over the batch and spatial dims; in training, with the
    batch's statistics (updating the running ones), else with the running statistics."""
    A._check_tensor(input, "batch_norm")
    if training:
        shape = input._array.shape
        count = shape[0] * int(np.prod(shape[2:])) if len(shape) >= 1 else 1
        if count == 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size "
                f"{_size(input)}")
    return _batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)


# ----- layer norm -----------------------------------------------------------------------------
def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` dims of each sample."""
    A._check_tensor(input, "layer_norm")
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if k == 0:
        raise RuntimeError(
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least "
            "one element, but got normalized_shape = []")
    for t, name in ((weight, "weight"), (bias, "bias")):
        if t is not None and tuple(t._array.shape) != normalized_shape:
            raise RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                f"shape {list(t._array.shape)} and normalized_shape = {list(normalized_shape)}")
    shape = input._array.shape
    if len(shape) < k or tuple(shape[len(shape) - k:]) != normalized_shape:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(map(str, normalized_shape))}], but got input of size"
            f"{list(shape)}")
    _check_float(input, "LayerNormKernelImpl")
    axes = tuple(range(input.ndim - k, input.ndim))
    out, _, _ = _normalize(input, weight, bias, axes, eps, NativeLayerNormBackward0,
                           weight_view=normalized_shape)
    return out


# ----- group norm -----------------------------------------------------------------------------
def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize each sample's channels in ``num_groups`` groups; affine per channel."""
    A._check_tensor(input, "group_norm")
    if input.ndim < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    shape = input._array.shape
    n, c = shape[:2]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got "
            f"input of shape {list(shape)} and num_groups={num_groups}")
    batch = [n * c // num_groups, num_groups] + list(shape[2:])
    if batch[0] * int(np.prod(batch[2:])) == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {batch}")
    for t, name in ((weight, "weight"), (bias, "bias")):
        if t is not None and (t.ndim != 1 or t._array.size != c):
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in "
                f"input, but got {name} of shape {list(t._array.shape)} and input of shape "
                f"{list(shape)}")
    _check_float(input, "group_norm")
    view = (c,) + (1,) * (input.ndim - 2)
    group_shape = (n, num_groups, -1) if input._array.size else (n, num_groups, 0)
    out, _, _ = _normalize(input, weight, bias, (2,), eps, NativeGroupNormBackward0,
                           group_shape=group_shape, weight_view=view)
    return out


# ----- instance norm --------------------------------------------------------------------------
def _repeat(t: Tensor | None, times: int) -> Tensor | None:
    if t is None:
        return None
    return S.reshape(S.expand(S.unsqueeze(t, 0), (times,) + tuple(t._array.shape)), (-1,))


def _instance_norm(input: Tensor, weight, bias, running_mean, running_var,
                   use_input_stats: bool, momentum: float, eps: float) -> Tensor:
    shape = input._array.shape
    n, c = shape[:2]
    reshaped = S.reshape(input, (1, n * c) + tuple(shape[2:]))
    rm = rv = None
    if running_mean is not None:
        rm = wrap(np.tile(running_mean._array, n), running_mean._dtype)
    if running_var is not None:
        rv = wrap(np.tile(running_var._array, n), running_var._dtype)
    out = _batch_norm(reshaped, _repeat(weight, n), _repeat(bias, n), rm, rv, use_input_stats,
                      momentum, eps)
    if use_input_stats:
        for running, stats in ((running_mean, rm), (running_var, rv)):
            if running is not None:
                running._array[...] = stats._array.reshape(n, c).mean(axis=0).astype(
                    running._array.dtype)
                running._version_counter[0] += 1
    return S.view(out, shape)


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each sample's each channel over its spatial dims."""
    A._check_tensor(input, "instance_norm")
    if use_input_stats:
        shape = input._array.shape
        if int(np.prod(shape[2:])) == 1:
            raise ValueError(
                f"Expected more than 1 spatial element when training, got input size "
                f"{_size(input)}")
    return _instance_norm(input, weight, bias, running_mean, running_var, use_input_stats,
                          momentum, eps)


# ----- distances ------------------------------------------------------------------------------
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum((x1 / max(|x1|, eps)) * (x2 / max(|x2|, eps))) along ``dim``, as torch computes it
    (each vector normalized first, so the result stays within [-1, 1])."""
    A._check_tensor(x1, "cosine_similarity", "x1")
    A._check_tensor(x2, "cosine_similarity", "x2", 2)
    dtype = D.result_type(x1, x2)
    if dtype.category != FLOATING:
        raise RuntimeError(
            "expected common dtype to be floating point, yet common dtype is "
            f"{_legacy(dtype)}")
    if x1._dtype.category != FLOATING:
        x1 = E.to_dtype(x1, dtype)
    if x2._dtype.category != FLOATING:
        x2 = E.to_dtype(x2, dtype)
    if x1._array.shape != x2._array.shape:
        try:
            shape = np.broadcast_shapes(x1._array.shape, x2._array.shape)
        except ValueError:
            raise E.broadcast_error(x1, x2) from None
        x1 = x1 if x1._array.shape == shape else S.expand(x1, shape)
        x2 = x2 if x2._array.shape == shape else S.expand(x2, shape)
    from ember.autograd.grad_mode import no_grad

    n1 = E.clone(R.vector_norm(x1, 2, dim, True))
    n2 = E.clone(R.vector_norm(x2, 2, dim, True))
    with no_grad():
        E.clamp_min_(n1, eps)
        E.clamp_min_(n2, eps)
    return R.sum(E.mul(E.div(x1, n1), E.div(x2, n2)), dim)


class NormBackward1(Node):
    """at::norm(self, p, dim, keepdim): the p-norm's derivative (0 where the norm is 0), in
    torch's steps: at equal inputs (a norm of just eps) the second derivative is a difference
    of two huge nearly equal terms, so only the same order gives torch's rounding."""

    __slots__ = ("self_", "result", "p", "dim", "keepdim")
    _saved_fields = ("self_", "result")

    def backward(self, grad, xp):
        p = self.p
        if p == 0:  # torch leaves this gradient undefined
            return (None,)
        x = xp.saved(self.self_)
        if p == 1:
            if not self.keepdim:  # the reduced dim comes back before broadcasting against x
                grad = xp.unsqueeze(grad, self.dim)
            return (xp.sign(x) * grad,)
        norm = xp.saved_output(self.result, self)
        if not self.keepdim:
            grad = xp.unsqueeze(grad, self.dim)
            norm = xp.unsqueeze(norm, self.dim)
        if p == 2:
            return (grad * xp.where(norm == 0, 0, x / norm),)
        if math.isinf(p):
            size = xp.abs(x)
            hit = xp.cast((size == norm) | (size != size), grad)
            return (xp.sign(x) * ((grad / xp.sum(hit, (self.dim,), True)) * hit),)
        if p < 1:
            scaled = xp.where(x == 0, 0, xp.sign(x) * xp.abs(x) ** (p - 1))
            return (scaled * grad * norm ** (1 - p),)
        if p < 2:
            scaled = xp.sign(x) * xp.abs(x) ** (p - 1)
        else:
            scaled = x * xp.abs(x) ** (p - 2)
        return (scaled * xp.where(norm == 0, 0, grad / norm ** (p - 1)),)


def _norm_dim(input: Tensor, p: float, dim: int, keepdim: bool) -> Tensor:
    a = input._array
    axis = dim if a.ndim else None
    with np.errstate(all="ignore"):
        if p == 0:
            array = np.sum(a != 0, axis=axis, keepdims=keepdim).astype(a.dtype)
        elif math.isinf(p):
            f = np.max if p > 0 else np.min
            array = f(np.abs(a), axis=axis, keepdims=keepdim, initial=0 if p > 0 else np.inf)
        elif p == 2:
            array = np.sqrt(np.sum(a * a, axis=axis, keepdims=keepdim))
        elif p == 1:
            array = np.sum(np.abs(a), axis=axis, keepdims=keepdim)
        else:
            array = np.sum(np.abs(a) ** p, axis=axis, keepdims=keepdim) ** (1.0 / p)
    out = wrap(np.asarray(array, dtype=a.dtype), input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(NormBackward1, (edge(input),), out._array)
        node.self_, node.result = SavedTensor(input), SavedTensor(out, is_output=True)
        node.p, node.dim, node.keepdim = p, dim if a.ndim else 0, keepdim
        set_history(out, node)
    return out


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """p-norm of x1 - x2 + eps over the last dimension."""
    A._check_tensor(x1, "pairwise_distance", "x1")
    A._check_tensor(x2, "pairwise_distance", "x2", 2)
    ndim = max(x1.ndim, x2.ndim)
    diff = E.add(E.sub(x1, x2), eps)
    if diff._dtype.category != FLOATING:
        raise RuntimeError(
            "norm(): input dtype should be either floating point or complex. Got "
            f"{diff._dtype.name.capitalize()} instead.")
    dim = A.wrap_dim(ndim - 1, diff.ndim)
    return _norm_dim(diff, float(p), dim, keepdim)


# ``__all__``: the names ``ember`` exports at top level (torch.softmax, torch.conv2d, ...);
# ``FUNCTIONAL``: the names ``ember.nn.functional`` exports; ``TENSOR_METHODS``: Tensor methods.
__all__: list[str] = ["cosine_similarity", "layer_norm", "pairwise_distance"]
FUNCTIONAL: list[str] = [
    "batch_norm", "cosine_similarity", "group_norm", "instance_norm", "layer_norm",
    "pairwise_distance",
]
TENSOR_METHODS: dict = {}
