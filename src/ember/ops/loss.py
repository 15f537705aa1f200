"""Loss functions: each loss's forward and derivative together, with torch's reductions.

Losses torch computes in one kernel have a node of their own (``MseLossBackward0``,
``NllLossBackward0``...); the ones torch composes from other ops are composed here from
ember's ops in the same order, so the same ``grad_fn`` ends up on top.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ember import _dtype as D
from ember.autograd.grad_mode import no_grad
from ember.autograd.xp import ARRAY_MATH
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

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    """torch's apply_loss_reduction: mean() / sum() of everything, or the loss as it is."""
    if reduction == "mean":
        return R.mean(loss)
    if reduction == "sum":
        return R.sum(loss)
    return loss


def _reduce_array(a: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        with np.errstate(all="ignore"):
            return np.asarray(a.mean() if a.size else np.nan, dtype=a.dtype)
    if reduction == "sum":
        return np.asarray(a.sum(), dtype=a.dtype)
    return a


def _is_array(value) -> bool:
    """Whether a formula runs in the array world (NumPy scalars count as arrays)."""
    return not isinstance(value, Tensor)


def _const(array: np.ndarray, like):
    """A constant in ``like``'s world (an array stays; a tensor world gets a tensor)."""
    if _is_array(like):
        return array
    return wrap(np.asarray(array, dtype=like._array.dtype), like._dtype)


def _size_warning(input: Tensor, target: Tensor) -> None:
    if input._array.shape != target._array.shape:
        warnings.warn(
            f"Using a target size ({_size(target)}) that is different to the input size "
            f"({_size(input)}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.", stacklevel=3)


def _size(t: Tensor) -> str:
    return f"torch.Size({list(t._array.shape)})"


def _broadcast_pair(input: Tensor, target: Tensor):
    """torch.broadcast_tensors(input, target), with its error for shapes that do not fit."""
    a, b = input._array.shape, target._array.shape
    if a == b:
        return input, target
    try:
        shape = np.broadcast_shapes(a, b)
    except ValueError:
        raise E.broadcast_error(input, target) from None
    return (input if a == shape else S.expand(input, shape),
            target if b == shape else S.expand(target, shape))


def _check_tensor(value, name: str, arg: str, pos: int) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not "
            f"{type(value).__name__}")


def _not_differentiable(value, arg: str, function: str) -> None:
    """torch refuses (at the call) an input its derivative formulas do not cover."""
    if isinstance(value, Tensor) and value._requires_grad and grad_state.enabled:
        raise RuntimeError(
            f"The function '{function}' is not differentiable with respect to argument "
            f"'{arg}'. This input cannot have requires_grad True.")


# ----- pointwise losses with their own kernel -------------------------------------------------
class _PointwiseLoss(Node):
    """loss = reduce(f(self, target)); ``derivative(xp, x, t)`` gives df/dself (and -df/dt for
    the symmetric losses)."""

    __slots__ = ("self_", "target", "reduction", "numel", "param")
    _saved_fields = ("self_", "target")
    symmetric = True

    def derivative(self, xp, x, t):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def backward(self, grad, xp):
        x, t = xp.saved(self.self_), xp.saved(self.target)
        if self.reduction == "mean":
            grad = grad / self.numel
        d = self.derivative(xp, x, t) * grad
        grad_self = d if self.needs_input_grad(0) else None
        grad_target = None
        if self.symmetric and len(self.next_functions) > 1 and self.needs_input_grad(1):
            grad_target = -d
        return grad_self, grad_target


class MseLossBackward0(_PointwiseLoss):
    __slots__ = ()

    def derivative(self, xp, x, t):
        return 2 * (x - t)


class SmoothL1LossBackward0(_PointwiseLoss):
    __slots__ = ()

    def derivative(self, xp, x, t):
        d = x - t
        beta = self.param
        return xp.where(d <= -beta, -1.0, xp.where(d >= beta, 1.0, d / beta))


class HuberLossBackward0(_PointwiseLoss):
    __slots__ = ()

    def backward(self, grad, xp):
        x, t = self.self_.tensor, self.target.tensor
        if x is not None and t is not None and x._dtype is not t._dtype:
            # torch's huber backward kernel needs one dtype
            raise RuntimeError(
                f"Found dtype {A._legacy(t._dtype)} but expected {A._legacy(x._dtype)}")
        return super().backward(grad, xp)

    def derivative(self, xp, x, t):
        d = x - t
        delta = self.param
        return xp.where(d <= -delta, -delta, xp.where(d >= delta, delta, d))


class SoftMarginLossBackward0(_PointwiseLoss):
    __slots__ = ()
    symmetric = False

    def derivative(self, xp, x, t):
        return -t * A._logistic(xp, -t * x)


def _pointwise_loss(input: Tensor, target: Tensor, reduction: str, function, node_cls,
                    param=None, target_grad: bool = True, input_dtype: bool = False) -> Tensor:
    """``input_dtype``: the result takes the input's dtype (torch allocates it like input)."""
    dtype = input._dtype if input_dtype else D.result_type(input, target)
    a = input._array.astype(dtype.numpy, copy=False)
    b = target._array.astype(dtype.numpy, copy=False)
    with np.errstate(all="ignore"):
        array = _reduce_array(np.asarray(function(a, b), dtype=dtype.numpy), reduction)
    out = wrap(array, dtype)
    needs = input._requires_grad or (target_grad and target._requires_grad)
    if grad_state.enabled and needs:
        edges = (edge(input), edge(target)) if target_grad else (edge(input),)
        node = new_node(node_cls, edges, out._array)
        node.self_, node.target = SavedTensor(input), SavedTensor(target)
        node.reduction, node.numel, node.param = reduction, max(a.size, 1), param
        if reduction == "mean" and a.size == 0:
            node.numel = 0
        set_history(out, node)
    return out


def _weighted(loss: Tensor, weight: Tensor, input: Tensor, reduction: str) -> Tensor:
    """The ``weight=`` path of mse/l1/huber loss, composed as torch.nn.functional does."""
    if weight._array.shape != input._array.shape:
        raise ValueError("Weights and input must have the same size.")
    weighted = E.mul(loss, weight)
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return R.sum(weighted)
    if reduction == "mean":
        return weighted
    raise ValueError(
        f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")


def _check_weighted_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error (one kernel in torch: MseLossBackward0)."""
    _check_tensor(input, "mse_loss", "input", 1)
    _check_tensor(target, "mse_loss", "target", 2)
    _size_warning(input, target)
    x, t = _broadcast_pair(input, target)
    if weight is not None:
        if weight._array.shape != input._array.shape:
            raise ValueError("Weights and input must have the same size.")
        _check_weighted_reduction(reduction)
        weighted = E.mul(E.pow(E.sub(x, t), 2), weight)
        if reduction == "mean":
            return E.div(R.sum(weighted), R.sum(weight))
        return R.sum(weighted) if reduction == "sum" else weighted
    _check_reduction(reduction)
    return _pointwise_loss(x, t, reduction, lambda a, b: (a - b) ** 2, MseLossBackward0)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error, composed in torch: |input - target| then the reduction."""
    _check_tensor(input, "l1_loss", "input", 1)
    _check_tensor(target, "l1_loss", "target", 2)
    _size_warning(input, target)
    x, t = _broadcast_pair(input, target)
    if weight is not None:
        if weight._array.shape != input._array.shape:
            raise ValueError("Weights and input must have the same size.")
        _check_weighted_reduction(reduction)
        weighted = E.mul(E.abs(E.sub(x, t)), weight)
        if reduction == "mean":
            return E.div(R.sum(weighted), R.sum(weight))
        return R.sum(weighted) if reduction == "sum" else weighted
    _check_reduction(reduction)
    return _reduce(E.abs(E.sub(x, t)), reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Quadratic below ``beta``, linear above (beta 0: the l1 loss, as in torch)."""
    _check_tensor(input, "smooth_l1_loss", "input", 1)
    _check_tensor(target, "smooth_l1_loss", "target", 2)
    _size_warning(input, target)
    x, t = _broadcast_pair(input, target)
    _check_reduction(reduction)
    if beta == 0.0:
        return _reduce(E.abs(E.sub(x, t)), reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")

    def function(a, b):
        d = np.abs(a - b)
        return np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)

    return _pointwise_loss(x, t, reduction, function, SmoothL1LossBackward0, beta)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Quadratic below ``delta``, delta-scaled linear above."""
    _check_tensor(input, "huber_loss", "input", 1)
    _check_tensor(target, "huber_loss", "target", 2)
    _size_warning(input, target)
    x, t = _broadcast_pair(input, target)
    if weight is None:
        _check_reduction(reduction)
    elif weight._array.shape != input._array.shape:
        raise ValueError("Weights and input must have the same size.")
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")

    def function(a, b):
        d = np.abs(a - b)
        return np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))

    if weight is not None:
        loss = E.mul(_pointwise_loss(x, t, "none", function, HuberLossBackward0, delta,
                                     input_dtype=True), weight)
        if reduction == "none":
            return loss
        if reduction == "sum":
            return R.sum(loss)
        if reduction == "mean":
            return R.mean(loss)
        _check_weighted_reduction(reduction)
    return _pointwise_loss(x, t, reduction, function, HuberLossBackward0, delta,
                           input_dtype=True)


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target * input))."""
    _check_tensor(input, "soft_margin_loss", "input", 1)
    _check_tensor(target, "soft_margin_loss", "target", 2)
    _check_reduction(reduction)
    _not_differentiable(target, "target", "soft_margin_loss")
    x, t = _broadcast_pair(input, target)
    return _pointwise_loss(x, t, reduction, lambda a, b: np.logaddexp(0, -b * a),
                           SoftMarginLossBackward0, target_grad=False, input_dtype=True)


# ----- binary cross entropy -------------------------------------------------------------------
class BinaryCrossEntropyBackward0(Node):
    __slots__ = ("self_", "target", "weight", "reduction", "numel")
    _saved_fields = ("self_", "target", "weight")

    def backward(self, grad, xp):
        x, t = xp.saved(self.self_), xp.saved(self.target)
        w = xp.saved(self.weight) if self.weight is not None else None
        if self.reduction == "mean" and self.numel:  # an empty input's gradient is empty at
            grad = grad / self.numel                   # any scale: 1/0 would make gradgrad nan
        grad_self = grad_target = None
        if self.needs_input_grad(0):
            denom = (1 - x) * x
            grad_self = grad * (x - t) / xp.where(denom > 1e-12, denom, 1e-12)
            if w is not None:
                grad_self = grad_self * w
        if self.needs_input_grad(1):
            grad_target = grad * (xp.log(1 - x) - xp.log(x))
            if w is not None:
                grad_target = grad_target * w
        return grad_self, grad_target


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """-(t log x + (1 - t) log(1 - x)), each log clamped at -100 as in torch."""
    _check_tensor(input, "binary_cross_entropy", "input", 1)
    _check_tensor(target, "binary_cross_entropy", "target", 2)
    _check_reduction(reduction)
    if target._array.shape != input._array.shape:
        raise ValueError(
            f"Using a target size ({_size(target)}) that is different to the input size "
            f"({_size(input)}) is deprecated. Please ensure they have the same size.")
    if weight is not None:
        try:
            shape = np.broadcast_shapes(target._array.shape, weight._array.shape)
        except ValueError:
            raise E.broadcast_error(target, weight) from None
        weight = S.expand(weight, shape)
        _not_differentiable(weight, "weight", "binary_cross_entropy")
    if input._dtype.category != FLOATING:
        raise NotImplementedError(
            f'"binary_cross_entropy" not implemented for \'{A._legacy(input._dtype)}\'')
    if target._dtype is not input._dtype:
        raise RuntimeError(
            f"Found dtype {A._legacy(target._dtype)} but expected {A._legacy(input._dtype)}")
    x, t = input._array, target._array
    if np.any((x < 0) | (x > 1)) or np.any(np.isnan(x)):
        raise RuntimeError("all elements of input should be between 0 and 1")
    with np.errstate(all="ignore"):
        loss = (t - 1) * np.maximum(np.log1p(-x), -100) - t * np.maximum(np.log(x), -100)
        if weight is not None:
            loss = loss * weight._array
        array = _reduce_array(loss.astype(x.dtype, copy=False), reduction)
    out = wrap(np.asarray(array, dtype=x.dtype), input._dtype)
    if grad_state.enabled and (input._requires_grad or target._requires_grad):
        node = new_node(BinaryCrossEntropyBackward0, (edge(input), edge(target)), out._array)
        node.self_, node.target = SavedTensor(input), SavedTensor(target)
        node.weight = SavedTensor(weight) if weight is not None else None
        node.reduction, node.numel = reduction, x.size
        set_history(out, node)
    return out


class BinaryCrossEntropyWithLogitsBackward0(Node):
    __slots__ = ("self_", "target", "weight", "pos_weight", "reduction", "numel")
    _saved_fields = ("self_", "target", "weight", "pos_weight")

    def backward(self, grad, xp):
        x, t = xp.saved(self.self_), xp.saved(self.target)
        w = xp.saved(self.weight) if self.weight is not None else None
        pw = xp.saved(self.pos_weight) if self.pos_weight is not None else None
        if self.reduction == "mean" and self.numel:  # an empty input's gradient is empty at
            grad = grad / self.numel                   # any scale: 1/0 would make gradgrad nan
        grad_self = grad_target = None
        if self.needs_input_grad(0):
            s = A._logistic(xp, x)
            if pw is not None:
                pt = pw * t
                grad_self = ((pt + 1 - t) * s - pt) * grad
            else:
                grad_self = (s - t) * grad
            if w is not None:
                grad_self = grad_self * w
        if self.needs_input_grad(1):
            if pw is not None:
                log_sig = -A._softplus_xp(xp, -x)
                grad_target = ((log_sig - x) - pw * log_sig) * grad
            else:
                grad_target = -x * grad
            if w is not None:
                grad_target = grad_target * w
        return grad_self, grad_target


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """binary_cross_entropy(sigmoid(input), target) in one stable step (log-sum-exp)."""
    _check_tensor(input, "binary_cross_entropy_with_logits", "input", 1)
    _check_tensor(target, "binary_cross_entropy_with_logits", "target", 2)
    _check_reduction(reduction)
    if target._array.shape != input._array.shape:
        raise ValueError(
            f"Target size ({_size(target)}) must be the same as input size ({_size(input)})")
    _not_differentiable(weight, "weight", "binary_cross_entropy_with_logits")
    _not_differentiable(pos_weight, "pos_weight", "binary_cross_entropy_with_logits")
    dtype = D.result_type(input, target)
    x = input._array.astype(dtype.numpy, copy=False)
    t = target._array.astype(dtype.numpy, copy=False)
    with np.errstate(all="ignore"):
        softplus_neg = np.logaddexp(0, -x)  # log(1 + exp(-x)) = -log sigmoid(x)
        if pos_weight is not None:
            log_weight = (pos_weight._array - 1) * t + 1
            loss = (1 - t) * x + log_weight * softplus_neg
        else:
            loss = (1 - t) * x + softplus_neg
        if weight is not None:
            loss = loss * weight._array
    if loss.shape != x.shape:
        raise E.broadcast_error(*(v for v in (input, weight, pos_weight) if v is not None))
    array = _reduce_array(loss.astype(dtype.numpy, copy=False), reduction)
    out = wrap(np.asarray(array, dtype=dtype.numpy), dtype)
    if grad_state.enabled and (input._requires_grad or target._requires_grad):
        node = new_node(BinaryCrossEntropyWithLogitsBackward0, (edge(input), edge(target)),
                        out._array)
        node.self_, node.target = SavedTensor(input), SavedTensor(target)
        node.weight = SavedTensor(weight) if weight is not None else None
        node.pos_weight = SavedTensor(pos_weight) if pos_weight is not None else None
        node.reduction, node.numel = reduction, x.size
        set_history(out, node)
    return out


# ----- nll_loss and cross_entropy -------------------------------------------------------------
class NllLossBackward0(Node):
    """nll_loss: -weight[t] * grad at each row's target class (over total weight for mean)."""

    __slots__ = ("self_", "coef", "index", "class_dim", "reduction", "total_weight",
                 "self_shape")
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        xp.saved(self.self_)  # freed after a backward, as torch's saved self
        coef = self.coef  # -weight[target], 0 where ignored; the target's shape
        if coef is None:  # no weights and no ignored target: -1 everywhere
            dtype = self._out_meta[0][1]
            if xp is ARRAY_MATH and self.reduction != "none":
                value = dtype.type(-1)  # as the elementwise path below, on one number
                if self.reduction == "mean":
                    value = value / self.total_weight
                out = np.zeros(self.self_shape, dtype=dtype)
                out[_rows(self.self_shape[0]), self.index[:, 0]] = value * grad
                return (out,)
            coef = np.full(self.index.shape[:1], -1, dtype=dtype)
        if self.reduction == "mean" and self.total_weight != 0:
            coef = coef / self.total_weight
        if xp is ARRAY_MATH and len(self.self_shape) == 2 and self.reduction != "none":
            # the (N, C) batch: one fancy assignment instead of put_along_axis's set-up
            out = np.zeros(self.self_shape, dtype=np.result_type(coef, grad))
            out[np.arange(self.self_shape[0]), self.index[:, 0]] = coef * grad
            return (out,)
        values = _const(np.expand_dims(coef, self.class_dim), grad)
        if self.reduction == "none":
            values = values * xp.unsqueeze(grad, self.class_dim)
        else:
            values = values * grad
        index = self.index
        return (xp.scatter_along_dim(self.self_shape, index, values, self.class_dim),)


class NllLoss2DBackward0(NllLossBackward0):
    """nll_loss on a 4-D input. torch's kernel builds grad_input like self (zeros_like keeps
    a gap-free permuted layout, e.g. channels_last) and then insists it be contiguous: such an
    input has no gradient there. (cross_entropy's log_softmax output is always row-major.)"""

    __slots__ = ("permuted",)

    def backward(self, grad, xp):
        if self.permuted:
            xp.saved(self.self_)  # a freed graph reports that first, as torch's does
            raise RuntimeError("grad_input must be contiguous")
        return super().backward(grad, xp)


def _dense_permuted(a: np.ndarray) -> bool:
    """A gap-free, non-overlapping array not in row-major order: the layout torch's
    zeros_like(self) keeps (size-1 dims and empty arrays count as contiguous, as in torch)."""
    if a.flags.c_contiguous:
        return False
    expect = a.itemsize
    for stride, size in sorted((st, n) for st, n in zip(a.strides, a.shape) if n > 1):
        if stride != expect:
            return False
        expect *= size
    return True


def _check_target(target: Tensor) -> None:
    if target._dtype is not D.int64 and target._dtype is not D.uint8:
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {A._legacy(target._dtype)}")


def _nll(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str,
         ignore_index: int, node_cls, check_layout: bool = False) -> Tensor:
    """nll_loss on (C), (N, C) or (N, C, H, W): the class dimension is 1 (0 for 1-D)."""
    class_dim = 0 if input.ndim == 1 else 1
    classes = input._array.shape[class_dim]
    if weight is not None and (weight._array.size != classes):
        raise RuntimeError(
            f"weight tensor should be defined either for all {classes} classes or no classes "
            f"but got weight tensor of shape: {list(weight._array.shape)}")
    t = target._array.astype(np.int64, copy=False)
    x = input._array
    if weight is None and x.ndim == 2 and x.size and t.ndim == 1:
        low, high = t.min(), t.max()
        if 0 <= low and high < classes and not low <= ignore_index <= high:
            return _nll_all_valid(input, t, reduction, node_cls)
    valid = t != ignore_index
    outside = (t < 0) | (t >= classes)
    if outside.any():  # ignored targets are usually outside too: only then look closer
        bad = valid & outside
        if bad.any():
            raise IndexError(f"Target {int(t[bad].flat[0])} is out of bounds.")
    safe = np.where(valid, t, 0)
    index = safe.reshape(t.shape[:class_dim] + (1,) + t.shape[class_dim:])
    x = input._array
    if not x.size:
        picked = np.zeros(t.shape, dtype=x.dtype)
    elif x.ndim == 2:  # the usual (N, C) batch: one fancy index, no take_along_axis set-up
        picked = x[np.arange(x.shape[0]), safe]
    else:
        picked = np.take_along_axis(x, index, axis=class_dim).squeeze(class_dim)
    if weight is not None:
        w = np.where(valid, weight._array.astype(x.dtype, copy=False)[safe], 0).astype(x.dtype)
    else:
        w = valid.astype(x.dtype)
    losses = -w * picked
    total_weight = w.sum(dtype=x.dtype)
    with np.errstate(all="ignore"):
        if reduction == "none":
            array = losses.astype(x.dtype, copy=False)
        elif reduction == "sum":
            array = np.asarray(losses.sum(), dtype=x.dtype)
        else:
            array = np.asarray(losses.sum() / total_weight, dtype=x.dtype)
    out = wrap(np.asarray(array, dtype=x.dtype), input._dtype)
    if input._requires_grad and grad_state.enabled:
        _not_differentiable(weight, "weight", "nll_loss")
        node = new_node(node_cls, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.coef = -w
        node.index, node.class_dim = index, class_dim
        node.reduction, node.total_weight = reduction, total_weight
        node.self_shape = x.shape
        if node_cls is NllLoss2DBackward0:
            node.permuted = check_layout and _dense_permuted(x)
        set_history(out, node)
    return out


def _nll_all_valid(input: Tensor, t: np.ndarray, reduction: str, node_cls) -> Tensor:
    """``_nll`` of an (N, C) batch without weights whose targets all count (the training
    step's case): the same values, without the masks for ignored or out-of-range targets."""
    x = input._array
    n = t.shape[0]
    picked = x[np.arange(n), t]
    losses = -picked  # -1 * picked: the weights are all one
    total_weight = x.dtype.type(n)
    with np.errstate(all="ignore"):
        if reduction == "none":
            array = losses
        elif reduction == "sum":
            array = np.asarray(losses.sum(), dtype=x.dtype)
        else:
            array = np.asarray(losses.sum() / total_weight, dtype=x.dtype)
    out = wrap(array, input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(node_cls, (edge(input),), array)
        node.self_ = SavedTensor(input)
        node.coef = np.full(n, -1, dtype=x.dtype)
        node.index, node.class_dim = t.reshape(n, 1), 1
        node.reduction, node.total_weight = reduction, total_weight
        node.self_shape = x.shape
        set_history(out, node)
    return out


def _nll_nd(input: Tensor, target: Tensor, weight, reduction: str, ignore_index: int) -> Tensor:
    """torch's nll_loss_nd: 1-D/2-D input directly, 4-D as 2d, other ranks viewed as 4-D."""
    ndim = input.ndim
    if ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {ndim})")
    if ndim != 1 and input._array.shape[0] != (target._array.shape[0] if target.ndim else -1):
        got = target._array.shape[0] if target.ndim else 1
        if target.ndim or input._array.shape[0] != 1:
            raise ValueError(
                f"Expected input batch_size ({input._array.shape[0]}) to match target "
                f"batch_size ({got}).")
    _check_target(target)
    if ndim <= 2:
        if target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if ndim == 1 and target.ndim != 0:
            raise RuntimeError(
                "size mismatch (got input: "
                f"{list(input._array.shape)}, target: {list(target._array.shape)})")
        return _nll(input, target, weight, reduction, ignore_index, NllLossBackward0)
    n, c = input._array.shape[:2]
    expected = (n,) + input._array.shape[2:]
    if ndim == 4:
        if target._array.shape != expected:
            raise RuntimeError(
                "only batches of spatial targets supported (3D tensors) but got targets of "
                f"size: : {list(target._array.shape)}" if target.ndim != 3 else
                f"size mismatch (got input: {list(input._array.shape)} , target: "
                f"{list(target._array.shape)}")
        return _nll(input, target, weight, reduction, ignore_index, NllLoss2DBackward0, True)
    if target._array.shape != expected:
        raise RuntimeError(
            f"Expected target size {list(expected)}, got {list(target._array.shape)}")
    if input._array.size:
        x = S.reshape(input, (n, c, 1, -1))
    else:
        x = S.reshape(input, (n, c, 0, 0))
    t = wrap(target._array.reshape((n, 1, -1) if target._array.size else (n, 0, 0)),
             target._dtype)
    out = _nll(x, t, weight, reduction, ignore_index, NllLoss2DBackward0)
    if reduction == "none":
        return S.reshape(out, expected)
    return out


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log likelihood of the target classes (input holds log-probabilities)."""
    _check_tensor(input, "nll_loss_nd", "input", 1)
    _check_tensor(target, "nll_loss_nd", "target", 2)
    _check_reduction(reduction)
    return _nll_nd(input, target, weight, reduction, ignore_index)


def _weight_view(weight: Tensor, ndim: int, class_dim: int) -> Tensor:
    shape = [1] * ndim
    shape[class_dim] = weight._array.shape[0]
    return S.reshape(weight, tuple(shape)) if ndim > 1 else weight


def _cross_entropy_probs(input: Tensor, target: Tensor, weight, reduction: str,
                         label_smoothing: float) -> Tensor:
    class_dim = 0 if input.ndim == 1 else 1
    classes = input._array.shape[class_dim]
    if weight is not None and (weight.ndim != 1 or weight._array.size != classes):
        raise RuntimeError(
            f"cross_entropy: weight tensor should be defined either for all {classes} classes "
            f"or no classes but got weight tensor of shape: {list(weight._array.shape)}")
    logp = A._softmax_core(input, class_dim, True)
    if label_smoothing > 0.0:
        if label_smoothing > 1.0:
            raise RuntimeError(
                f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing:g}")
        target = E.add(E.mul(target, 1 - label_smoothing), label_smoothing / classes)
    product = E.mul(logp, target)
    if weight is not None:
        product = E.mul(product, _weight_view(weight, input.ndim, class_dim))
    if reduction == "none":
        return E.neg(R.sum(product, class_dim))
    total = E.neg(R.sum(product))
    if reduction == "sum":
        return total
    if input._array.size == 0:  # torch fills the (empty) sum with NaN, keeping its node
        total._array[...] = np.nan
        return total
    return _div_scalar(total, input._array.size // classes)


class DivBackward1(Node):
    """self / a number (torch's Scalar overload): grad / other."""

    __slots__ = ("other",)

    def backward(self, grad, xp):
        return (grad / self.other,)


def _div_scalar(input: Tensor, other) -> Tensor:
    """tensor / number as ATen does it in C++ (the DivBackward1 node)."""
    with np.errstate(all="ignore"):
        out = wrap(np.asarray(input._array / other, dtype=input._array.dtype), input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(DivBackward1, (edge(input),), out._array)
        node.other = other
        set_history(out, node)
    return out


def _cross_entropy_smoothing(input: Tensor, target: Tensor, weight, reduction: str,
                             ignore_index: int, label_smoothing: float) -> Tensor:
    class_dim = 0 if input.ndim == 1 else 1
    logp = A._softmax_core(input, class_dim, True)
    nll = _nll_nd(logp, target, weight, reduction, ignore_index)
    classes = input._array.shape[class_dim]
    if weight is not None:
        smooth = E.neg(R.sum(E.mul(logp, _weight_view(weight, input.ndim, class_dim)),
                             class_dim))
    else:
        smooth = E.neg(R.sum(logp, class_dim))
    ignore = target._array == ignore_index
    if np.any(ignore):
        smooth = E.where(wrap(ignore, D.bool_), 0.0, smooth)
    if reduction == "mean":
        if weight is not None:
            kept = target._array[~ignore].reshape(-1)
            denominator = wrap(np.asarray(weight._array[kept].sum(), dtype=weight._array.dtype),
                               weight._dtype)
            smooth = E.div(R.sum(smooth), denominator)
        else:
            smooth = E.div(R.sum(smooth), wrap(np.asarray((~ignore).sum()), D.int64))
    elif reduction == "sum":
        smooth = R.sum(smooth)
    return E.add(E.mul(nll, 1 - label_smoothing), E.mul(smooth, label_smoothing / classes))


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over the class dimension then nll_loss (class indices), or the
    cross-entropy with class probabilities when the target has the input's shape."""
    if (input.__class__ is Tensor and target.__class__ is Tensor and weight is None
            and label_smoothing == 0.0 and ignore_index < 0 and reduction in _MEAN_SUM
            and size_average is None and reduce is None):
        out = _cross_entropy_batch(input, target, reduction)
        if out is not None:
            return out
    _check_tensor(input, "cross_entropy_loss", "input", 1)
    _check_tensor(target, "cross_entropy_loss", "target", 2)
    _check_reduction(reduction)
    if input._array.shape == target._array.shape:
        if target._dtype.category != FLOATING:
            raise RuntimeError(
                "Expected floating point type for target with class probabilities, got "
                f"{A._legacy(target._dtype)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if label_smoothing > 0.0:
        if label_smoothing > 1.0:
            raise RuntimeError(
                f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing:g}")
        return _cross_entropy_smoothing(input, target, weight, reduction, ignore_index,
                                        label_smoothing)
    class_dim = 0 if input.ndim == 1 else 1
    return _nll_nd(A._softmax_core(input, class_dim, True), target, weight, reduction,
                   ignore_index)


_MEAN_SUM = ("mean", "sum")
_ROWS: dict = {}


def _rows(n: int) -> np.ndarray:
    """``np.arange(n)``, made once per batch size (read-only, so sharing it is safe)."""
    rows = _ROWS.get(n)
    if rows is None:
        if len(_ROWS) > 64:
            _ROWS.clear()
        rows = _ROWS[n] = np.arange(n)
        rows.flags.writeable = False
    return rows


@np.errstate(all="ignore")  # (rows of infinities give NaN silently, as in torch)
def _log_softmax_nll_rows(x: np.ndarray, t: np.ndarray) -> tuple:
    """log_softmax over the rows of ``x`` as torch's kernel orders it, and the sum of
    ``-logp[i, t[i]]`` (the general path's sum of -weight * picked, all weights 1).
    (ufunc reductions: what the max() and sum() methods call, minus their Python wrappers)"""
    shifted = x - np.maximum.reduce(x, 1, keepdims=True)
    total = np.add.reduce(np.exp(shifted), 1, keepdims=True)
    logp = shifted - np.log(total)
    if not logp.flags.c_contiguous:  # torch's log_softmax output is row-major
        logp = np.ascontiguousarray(logp)
    return logp, -np.add.reduce(logp[_rows(t.shape[0]), t])  # (negating is exact)


def _cross_entropy_batch(input: Tensor, target: Tensor, reduction: str) -> Tensor | None:
    """cross_entropy of an (N, C) floating batch and N class indices all within [0, C): the
    training step's case, with the same nodes (LogSoftmaxBackward0, NllLossBackward0) and
    values as the general path, computed without its layers of checks. None for anything else
    (the general path then decides, and raises torch's errors)."""
    x, t = input._array, target._array
    if (x.ndim != 2 or t.ndim != 1 or target._dtype is not D.int64 or not x.size
            or x.shape[0] != t.shape[0] or input._dtype.category != FLOATING
            or t[t.argmin()] < 0):  # (argmin then one read: cheaper than a reduction)
        return None
    n = t.shape[0]
    try:
        logp, loss = _log_softmax_nll_rows(x, t)
    except IndexError:  # a class index >= C
        return None
    total_weight = x.dtype.type(n)
    array = np.asarray(loss / total_weight if reduction == "mean" else loss, dtype=x.dtype)
    log_probs = wrap(logp, input._dtype)
    out = wrap(array, input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(A.LogSoftmaxBackward0, (edge(input),), logp)
        node.result = SavedTensor(log_probs, is_output=True)
        node.dim = 1
        set_history(log_probs, node)
        node = new_node(NllLossBackward0, (edge(log_probs),), array, node)
        node.self_ = SavedTensor(log_probs)
        node.coef = None  # every weight one
        node.index, node.class_dim = t.reshape(n, 1), 1
        node.reduction, node.total_weight = reduction, total_weight
        node.self_shape = x.shape
        set_history(out, node)
    return out


# ----- composite losses -----------------------------------------------------------------------
class XlogyBackward0(Node):
    """x * log(y) (0 where x == 0)."""

    __slots__ = ("self_", "other")
    _saved_fields = ("self_", "other")

    def backward(self, grad, xp):
        x, y = xp.saved(self.self_), xp.saved(self.other)
        grad_x = grad_y = None
        if self.needs_input_grad(0):
            grad_x = grad * xp.where((x == 0) & (y == y), 0, xp.log(xp.where(x == 0, 1, y)))
        if self.needs_input_grad(1):
            grad_y = grad * x / y
        return grad_x, grad_y


def _xlogy(x: Tensor, y: Tensor) -> Tensor:
    with np.errstate(all="ignore"):
        array = np.where(x._array == 0, 0, x._array * np.log(y._array))
    out = wrap(array.astype(x._array.dtype, copy=False), x._dtype)
    if grad_state.enabled and (x._requires_grad or y._requires_grad):
        node = new_node(XlogyBackward0, (edge(x), edge(y)), out._array)
        node.self_, node.other = SavedTensor(x), SavedTensor(y)
        set_history(out, node)
    return out


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence; ``input`` holds log-probabilities."""
    _check_tensor(input, "kl_div", "input", 1)
    _check_tensor(target, "kl_div", "target", 2)
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.", stacklevel=2)
    enum = "sum" if reduction == "batchmean" else _check_reduction(reduction)
    with np.errstate(all="ignore"):
        if log_target:
            loss = E.mul(E.exp(target), E.sub(target, input))
        else:
            loss = E.sub(_xlogy(target, target), E.mul(target, input))
    reduced = _reduce(loss, enum)
    if reduction == "batchmean" and input.ndim != 0:
        reduced = E.div(reduced, input._array.shape[0])
    return reduced


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    _check_tensor(input, "poisson_nll_loss", "input", 1)
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not a valid value for reduction")
    with np.errstate(all="ignore"):
        if log_input:
            loss = E.sub(E.exp(input), E.mul(target, input))
        else:
            loss = E.sub(input, E.mul(target, E.log(E.add(input, eps))))
        if full:
            t = target
            stirling = E.add(E.sub(E.mul(t, E.log(t)), t),
                             E.mul(E.log(E.mul(t, 2 * math.pi)), 0.5))
            stirling = E.where(E.le(t, 1), 0.0, stirling)
            loss = E.add(loss, stirling)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """0.5 * (log(var) + (input - target)**2 / var), var clamped at eps (without gradient)."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = E.mul(wrap(np.ones_like(input._array), input._dtype), var)
    elif np.any(var._array < 0):
        raise ValueError("var has negative entry/entries")
    if var._array.shape != input._array.shape:
        if input._array.shape[:-1] == var._array.shape:
            var = S.unsqueeze(var, -1)
        elif input.ndim == var.ndim and sum(
                b for a, b in zip(input._array.shape, var._array.shape) if a != b) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    var = E.clone(var)
    with no_grad():
        E.clamp_(var, min=eps)
    diff = E.sub(input, target)
    loss = E.mul(E.add(E.log(var), E.div(E.pow(diff, 2), var)), 0.5)
    if full:
        loss = E.add(loss, 0.5 * math.log(2 * math.pi))
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target is 1, max(0, cos - margin) where it is -1."""
    _check_reduction(reduction)
    tdim = target.ndim
    if tdim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    sizes = f"[{', '.join(map(str, input1._array.shape))}] and " \
            f"[{', '.join(map(str, input2._array.shape))}]."
    if tdim == 1 and input1.ndim != 2:
        raise RuntimeError(
            f"1D target tensor expects 2D input tensors, but found inputs with sizes {sizes}")
    if tdim == 0 and input1.ndim != 1:
        raise RuntimeError(
            f"0D target tensor expects 1D input tensors, but found inputs with sizes {sizes}")
    eps = 1e-12
    prod_sum = R.sum(E.mul(input1, input2), tdim)
    mag1 = E.add(R.sum(E.mul(input1, input1), tdim), eps)
    mag2 = E.add(R.sum(E.mul(input2, input2), tdim), eps)
    cos = E.div(prod_sum, E.sqrt(E.mul(mag1, mag2)))
    pos = E.rsub(cos, 1)
    neg = E.clamp_min(E.sub(cos, margin), 0)
    out_pos = E.where(E.eq(target, 1), pos, 0.0)
    out_neg = E.where(E.eq(target, -1), neg, 0.0)
    return _reduce(E.add(out_pos, out_neg), reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, -target * (input1 - input2) + margin)."""
    _check_reduction(reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got "
            f"sizes: input1: {_size(input1)}, input2: {_size(input2)}, target: {_size(target)} ")
    return _reduce(E.clamp_min(E.add(E.mul(E.neg(target), E.sub(input1, input2)), margin), 0),
                   reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """input where target is 1, max(0, margin - input) where it is -1."""
    _check_reduction(reduction)
    margin_clamp = E.clamp_min(E.rsub(input, margin), 0)
    out_margin = E.where(E.ne(target, 1), margin_clamp, 0.0)
    out_self = E.where(E.ne(target, -1), input, 0.0)
    return _reduce(E.add(out_margin, out_self), reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    loss = E.neg(E.add(E.mul(target, A.logsigmoid(input)),
                       E.mul(E.rsub(target, 1), A.logsigmoid(E.neg(input)))))
    if weight is not None:
        loss = E.mul(loss, weight)
    class_dim = input.ndim - 1
    classes = input._array.shape[class_dim]
    loss = E.div(R.sum(loss, class_dim), classes)
    if reduction == "none":
        return loss
    if reduction == "mean":
        return R.mean(loss)
    if reduction == "sum":
        return R.sum(loss)
    raise ValueError(reduction + " is not valid")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(anchor, positive) - d(anchor, negative))."""
    from ember.ops.normalization import pairwise_distance

    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) != 1:
        raise RuntimeError(
            f"The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {dims[0]}D, positive {dims[1]}D, and negative "
            f"{dims[2]}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = E.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(E.clamp_min(E.sub(E.add(d_pos, margin), d_neg), 0), reduction)


class MultiMarginLossBackward0(Node):
    """multi_margin_loss: each violated margin pushes x[j] up and x[target] down."""

    __slots__ = ("self_", "coef", "reduction", "batch")
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        xp.saved(self.self_)
        coef = self.coef  # d(loss per sample)/d(input), the input's shape
        if not isinstance(grad, Tensor):
            g = np.asarray(grad)
            if self.reduction == "none":
                g = g.reshape(g.shape + (1,) * (coef.ndim - g.ndim))
            elif self.reduction == "mean":
                g = g / self.batch
            return (coef * g,)
        array = grad._array
        if self.reduction == "none":
            array = array.reshape(array.shape + (1,) * (coef.ndim - array.ndim))
        elif self.reduction == "mean":
            array = array / self.batch
        out = wrap((coef * array).astype(coef.dtype, copy=False), grad._dtype)
        if grad._requires_grad and grad_state.enabled:
            E._not_implemented(out, "multi_margin_loss_backward", (edge(grad),))
        return (out,)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: mean over classes j != y of max(0, margin - x[y] + x[j])**p."""
    _check_reduction(reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    x = input._array
    if x.ndim > 2:
        raise RuntimeError(
            "Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
            f"{list(x.shape)}")
    x2 = x.reshape(1, -1) if x.ndim <= 1 else x
    n, c = x2.shape
    t = target._array.reshape(-1)
    if t.size != n:
        raise RuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of "
            f"input samples (batch size). Expected target size [{n}], but got "
            f"{list(target._array.shape)}. Input has shape {list(x.shape)}.")
    if n and np.any((t < 0) | (t >= c)):
        raise RuntimeError("target out of range")
    w = weight._array.astype(x.dtype)[t] if weight is not None else np.ones(n, dtype=x.dtype)
    rows = np.arange(n)
    z = margin - x2[rows, t][:, None] + x2
    active = z > 0
    active[rows, t] = False
    zp = np.where(active, z, 0)
    per_class = zp if p == 1 else zp * zp
    losses = (per_class.sum(axis=1) * w / c).astype(x.dtype)
    deriv = np.where(active, 1.0 if p == 1 else 2 * zp, 0) * (w / c)[:, None]
    deriv[rows, t] = -deriv.sum(axis=1)
    if reduction == "none":
        array = losses if x.ndim == 2 else losses.reshape(())
    else:
        array = _reduce_array(losses, reduction)
    out = wrap(np.asarray(array, dtype=x.dtype), input._dtype)
    if input._requires_grad and grad_state.enabled:
        _not_differentiable(weight, "weight", "multi_margin_loss")
        node = new_node(MultiMarginLossBackward0, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.coef = deriv.reshape(x.shape).astype(x.dtype)
        node.reduction, node.batch = reduction, max(n, 1)
        set_history(out, node)
    return out



# ----- kernels torch has no second derivative for ---------------------------------------------
def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """The reduction the deprecated ``size_average``/``reduce`` flags select (torch warns)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    result = "mean" if size_average and reduce else ("sum" if reduce else "none")
    warnings.warn("size_average and reduce args will be deprecated, please use "
                  f"reduction='{result}' instead.", stacklevel=3)
    return result


def _first_order_only(node: Node, grad, array_fn, op: str):
    """``array_fn(grad array)`` in either world. Under ``create_graph`` the result hangs on a
    ``NotImplemented`` node (edges: the incoming gradient and the op's input), as torch's
    backward kernels without a derivative formula: differentiating it again fails."""
    if _is_array(grad):
        return array_fn(np.asarray(grad))
    out = wrap(array_fn(grad._array), grad._dtype)
    if grad_state.enabled:
        edges = (edge(grad), node.next_functions[0])
        if any(e[0] is not None for e in edges):
            E._not_implemented(out, op, edges)
    return out


class MultilabelMarginLossBackward0(Node):
    """multilabel_margin_loss: each violated (target j, non-target d) pair pushes x[d] up and
    x[j] down by 1/C (over the batch too for 'mean')."""

    __slots__ = ("self_", "coef", "per_row")
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        xp.saved(self.self_)  # freed after a backward, as torch's saved self
        coef, per_row = self.coef, self.per_row

        def scale(g):
            if per_row:
                g = g.reshape(g.shape + (1,))
            return (coef * g).astype(coef.dtype, copy=False)

        return (_first_order_only(self, grad, scale, "multilabel_margin_loss_backward"),)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss: each row's target classes (read up to the first -1) should beat
    every other class by a margin of 1; the sum of the violations over C."""
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    _check_tensor(input, "multilabel_margin_loss", "input", 1)
    _check_tensor(target, "multilabel_margin_loss", "target", 2)
    x, t = input._array, target._array
    ndim = x.ndim
    if not (ndim == 0 or (ndim in (1, 2) and x.shape[-1] != 0)):
        raise RuntimeError(
            "Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
            f"{list(x.shape)}")
    if ndim <= 1:
        n, c = 1, (x.shape[0] if ndim else 1)
        fits = t.ndim <= 1 and t.size == c
    else:
        n, c = x.shape
        fits = t.shape == (n, c)
    if not fits:
        raise RuntimeError(
            f"inconsistent target size: {list(t.shape)} for input of size: {list(x.shape)}")
    scalar_out = reduction != "none" or t.ndim <= 1
    if x.size == 0:  # torch returns before looking at values or dtypes
        array = np.zeros(() if scalar_out else (n,), dtype=x.dtype)
        coef = np.zeros(x.shape, dtype=x.dtype)
    else:
        array, coef = _multilabel_margin(input, target, n, c, reduction, scalar_out)
    out = wrap(np.asarray(array, dtype=x.dtype), input._dtype)
    if input._requires_grad and grad_state.enabled:
        node = new_node(MultilabelMarginLossBackward0, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        node.coef = coef.reshape(x.shape)
        node.per_row = not scalar_out
        set_history(out, node)
    return out


def _multilabel_margin(input: Tensor, target: Tensor, n: int, c: int, reduction: str,
                       scalar_out: bool):
    """The loss array and d(loss)/d(input) (for a gradient of 1), vectorised over rows."""
    x, t = input._array, target._array
    if t.min() < -1 or t.max() >= c:
        raise RuntimeError("argument #2 'target' is out of range")
    if input._dtype not in (D.float32, D.float64):
        raise NotImplementedError(
            '"multilabel_margin_loss_forward_out_frame" not implemented for '
            f"'{A._legacy(input._dtype)}'")
    if target._dtype is not D.int64:
        raise RuntimeError(f"expected scalar type Long but found {A._legacy(target._dtype)}")
    x2, t2 = x.reshape(n, c), t.reshape(n, c)
    # a row's targets end at its first -1; a class listed twice counts twice, as in torch
    listed = np.cumprod(t2 >= 0, axis=1).astype(bool)
    count = np.zeros((n, c), dtype=np.int64)
    np.add.at(count, (np.nonzero(listed)[0], t2[listed]), 1)
    violations = np.empty(n, dtype=np.float64)
    coef = np.empty((n, c), dtype=x.dtype)
    block = max(1, (1 << 22) // (c * c))  # rows at a time: (rows, C, C) temporaries stay small
    for lo in range(0, n, block):
        xb, cb = x2[lo:lo + block], count[lo:lo + block]
        # z[i, j, d] = 1 - x[i, j] + x[i, d]: target j against non-target d
        z = 1 - xb[:, :, None] + xb[:, None, :]
        active = (z > 0) & (cb[:, :, None] > 0) & (cb[:, None, :] == 0)
        weight = np.where(active, cb[:, :, None], 0)
        # torch sums the violations in double
        violations[lo:lo + block] = (np.where(active, z, 0).astype(np.float64)
                                     * weight).sum(axis=(1, 2))
        coef[lo:lo + block] = weight.sum(axis=1) - weight.sum(axis=2)
    if not scalar_out:
        array = violations.astype(x.dtype) / x.dtype.type(c)
    else:
        total = violations.sum() / c
        array = np.asarray(total / n if reduction == "mean" else total, dtype=x.dtype)
    step = x.dtype.type(1.0 / (n * c) if reduction == "mean" else 1.0 / c)
    return array, coef * step


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """triplet_margin_loss with any distance (default: pairwise_distance), composed from
    ember's ops in torch's order."""
    from ember.ops.normalization import pairwise_distance

    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) != 1:
        raise RuntimeError(
            f"The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {dims[0]}D, positive {dims[1]}D, and negative "
            f"{dims[2]}D inputs")
    distance = pairwise_distance if distance_function is None else distance_function
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = E.minimum(d_neg, distance(positive, negative))
    return _reduce(E.clamp_min(E.sub(E.add(d_pos, margin), d_neg), 0), reduction)


# ----- ctc_loss -------------------------------------------------------------------------------
def _logsumexp3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """log(e^a + e^b + e^c) shifted by the largest (0 when all are -inf), as torch's kernel."""
    m = np.maximum(np.maximum(a, b), c)
    m = np.where(m == -np.inf, 0, m)
    return np.log(np.exp(a - m) + np.exp(b - m) + np.exp(c - m)) + m


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    """``a`` moved ``k`` places along its last axis (right for k > 0), -inf filling in."""
    out = np.full_like(a, -np.inf)
    if k > 0:
        out[..., k:] = a[..., :-k]
    else:
        out[..., :k] = a[..., -k:]
    return out


class _CtcPaths:
    """The extended label sequences l' (blank, l1, blank, l2, ..., blank) of a batch, padded to
    the longest: everything is vectorised over (batch, position s); only time is a loop."""

    def __init__(self, targets: np.ndarray, offsets: np.ndarray | None, target_lengths,
                 blank: int, classes: int) -> None:
        n, longest = len(target_lengths), int(max(target_lengths, default=0))
        pos = np.arange(longest)
        inside = pos < np.asarray(target_lengths, dtype=np.int64)[:, None]
        if offsets is None:
            labels = targets[:, :longest]
        else:
            flat = targets.reshape(-1)
            index = np.clip(offsets[:, None] + pos, 0, max(flat.size - 1, 0))
            labels = flat[index] if flat.size else np.zeros((n, longest), np.int64)
        # torch does not check label values; out-of-range ones are kept in range here
        labels = np.clip(np.where(inside, labels, blank), 0, classes - 1)
        self.prime = np.full((n, 2 * longest + 1), blank, dtype=np.int64)
        self.prime[:, 1::2] = labels
        # a step may skip the blank between two different labels (s-2 -> s)
        self.skip = np.zeros(self.prime.shape, dtype=bool)
        self.skip[:, 2:] = self.prime[:, 2:] != self.prime[:, :-2]
        self.lengths = np.asarray(target_lengths, dtype=np.int64)

    def gather(self, log_probs: np.ndarray) -> np.ndarray:
        """log_probs[t, b, l'[b, s]]: (T, N, S')."""
        return log_probs[:, np.arange(self.prime.shape[0])[:, None], self.prime]


def _ctc_alpha(lp: np.ndarray, paths: _CtcPaths, input_lengths: np.ndarray):
    """The forward variables (log alpha, (T, N, S')) and each sequence's negative log
    likelihood."""
    steps, n = lp.shape[:2]
    picked = paths.gather(lp)
    alpha = np.full(picked.shape, -np.inf, dtype=lp.dtype)
    alpha[0, :, 0] = picked[0, :, 0]
    if alpha.shape[2] > 1:
        alpha[0, :, 1] = np.where(paths.lengths > 0, picked[0, :, 1], -np.inf)
    no_skip = ~paths.skip
    for t in range(1, steps):
        prev = alpha[t - 1]
        jump = _shift(prev, 2)
        jump[no_skip] = -np.inf
        alpha[t] = _logsumexp3(prev, _shift(prev, 1), jump) + picked[t]
    rows = np.arange(n)
    last = alpha[np.maximum(input_lengths - 1, 0), rows]
    end = 2 * paths.lengths
    l1 = last[rows, end]
    l2 = np.where(paths.lengths > 0, last[rows, np.maximum(end - 1, 0)], -np.inf)
    m = np.maximum(l1, l2)
    m = np.where(m == -np.inf, 0, m)
    nll = -(np.log(np.exp(l1 - m) + np.exp(l2 - m)) + m)
    empty = input_lengths == 0
    if empty.any():
        nll = np.where(empty, np.where(paths.lengths == 0, 0, np.inf), nll)
    return alpha, nll.astype(lp.dtype, copy=False)


def _ctc_grad(lp: np.ndarray, alpha: np.ndarray, nll: np.ndarray, paths: _CtcPaths,
              input_lengths: np.ndarray, grad: np.ndarray, zero_infinity: bool) -> np.ndarray:
    """d(loss)/d(log_probs) by the backward variables: beta runs back from each sequence's last
    step; alpha * beta summed over the positions of each class gives its occupation."""
    steps, n, classes = lp.shape
    picked = paths.gather(lp)
    rows, end = np.arange(n), 2 * paths.lengths
    start = np.full(picked.shape[1:], -np.inf, dtype=lp.dtype)  # beta at t = length - 1
    start[rows, end] = 0
    has_label = paths.lengths > 0
    start[rows[has_label], end[has_label] - 1] = 0
    skip_back = np.zeros(paths.skip.shape, dtype=bool)  # s -> s+2 allowed
    skip_back[:, :-2] = paths.skip[:, 2:]
    last_step = input_lengths - 1
    beta = np.full(picked.shape, -np.inf, dtype=lp.dtype)
    following = np.full(picked.shape[1:], -np.inf, dtype=lp.dtype)
    for t in range(steps - 1, -1, -1):
        jump = _shift(following, -2)
        jump[~skip_back] = -np.inf
        step = _logsumexp3(following, _shift(following, -1), jump) + picked[t]
        here = np.where((last_step == t)[:, None], start + picked[t],
                        np.where((t < last_step)[:, None], step, -np.inf))
        beta[t] = following = here
    both = alpha + beta  # (T, N, S')
    # at a sequence's last step torch stores the final label's share over the final blank's
    # rather than adding them: they differ only when a target holds the blank itself
    clash = has_label & (paths.prime[rows, np.maximum(end - 1, 0)] == paths.prime[rows, end])
    if clash.any():
        b = rows[clash & (input_lengths > 0)]
        both[input_lengths[b] - 1, b, end[b]] = -np.inf
    top = both.max(axis=2, keepdims=True)
    top = np.where(top == -np.inf, 0, top)
    one_hot = (paths.prime[:, :, None] == np.arange(classes)).astype(lp.dtype)  # (N, S', C)
    occupied = np.einsum("tns,nsc->tnc", np.exp(both - top), one_hot)
    log_occupied = np.log(occupied) + top
    out = (np.exp(lp) - np.exp(log_occupied + nll[:, None] - lp)) * grad[:, None]
    live = np.arange(steps)[:, None] < input_lengths  # (T, N)
    if zero_infinity:
        live = live & (nll != np.inf)
    return np.where(live[:, :, None], out, 0).astype(lp.dtype, copy=False)


class CtcLossBackward0(Node):
    """ctc_loss per sequence (before the reduction): the alpha-beta gradient of torch's CPU
    kernel, which has no derivative of its own."""

    __slots__ = ("log_probs", "alpha", "nll", "paths", "input_lengths", "zero_infinity")
    _saved_fields = ("log_probs", "alpha", "nll")

    def backward(self, grad, xp):
        lp = xp.saved(self.log_probs)
        lp = lp if _is_array(lp) else lp._array
        alpha, nll = xp.saved(self.alpha), xp.saved(self.nll)  # freed with the graph

        def array_grad(g):
            with np.errstate(all="ignore"):
                return _ctc_grad(lp, alpha, nll, self.paths, self.input_lengths,
                                 np.broadcast_to(g, nll.shape), self.zero_infinity)

        return (_first_order_only(self, grad, array_grad, "_ctc_loss_backward"),)


def _type_name(value) -> str:
    return "Tensor" if isinstance(value, Tensor) else type(value).__name__


def _int_list(value) -> bool:
    """What torch's parser takes for ``int[]``: a tuple/list of ints (or integer 0-dim
    tensors), bools excluded."""
    return isinstance(value, (list, tuple)) and all(
        (isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)))
        or (isinstance(v, Tensor) and v.ndim == 0 and v._dtype.category != FLOATING
            and v._dtype is not D.bool_) for v in value)


def _lengths(value, name: str) -> list[int]:
    if isinstance(value, Tensor):
        if value._dtype.category == FLOATING or value._dtype is D.bool_:
            raise RuntimeError(f"{name} must be integral")
        return [int(v) for v in value._array.reshape(-1)]
    return [int(v._array) if isinstance(v, Tensor) else int(v) for v in value]


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist temporal classification: -log of the total probability of all the
    alignments of each target to its input (alpha recursion in log space over time)."""
    _check_reduction(reduction)
    lengths_ok = (isinstance(input_lengths, Tensor) and isinstance(target_lengths, Tensor)) or (
        _int_list(input_lengths) and _int_list(target_lengths))
    if not (isinstance(log_probs, Tensor) and isinstance(targets, Tensor) and lengths_ok
            and isinstance(blank, (int, np.integer)) and not isinstance(blank, bool)
            and isinstance(zero_infinity, bool)):
        got = ", ".join(_type_name(v) for v in (log_probs, targets, input_lengths,
                                                 target_lengths, blank))
        raise TypeError(
            f"ctc_loss() received an invalid combination of arguments - got ({got}, int, "
            f"{_type_name(zero_infinity)}), but expected one of:\n"
            " * (Tensor log_probs, Tensor targets, tuple of ints input_lengths, tuple of ints "
            "target_lengths, int blank = 0, int reduction = at::Reduction::Mean, bool "
            "zero_infinity = False)\n"
            " * (Tensor log_probs, Tensor targets, Tensor input_lengths, Tensor target_lengths, "
            "int blank = 0, int reduction = at::Reduction::Mean, bool zero_infinity = False)")
    input_lengths = _lengths(input_lengths, "input_lengths")
    target_lengths = _lengths(target_lengths, "target_lengths")
    batched = log_probs.ndim == 3
    lp_t = log_probs if batched else S.unsqueeze(log_probs, 1)
    lp = lp_t._array
    if lp_t._dtype not in (D.float32, D.float64):
        raise NotImplementedError(
            f"\"ctc_loss_cpu\" not implemented for '{A._legacy(lp_t._dtype)}'")
    if lp.size == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    where = " (while checking arguments for ctc_loss_allocate_outputs)"
    if lp.ndim != 3:
        raise RuntimeError(f"Expected 3-dimensional tensor, but got {lp.ndim}-dimensional tensor "
                           f"for argument #1 'log_probs'{where}")
    tg = targets._array
    if tg.ndim not in (1, 2):
        raise RuntimeError(f"Expected 1 to 2 dimensions, but got {tg.ndim}-dimensional tensor "
                           f"for argument #2 'targets'{where}")
    steps, n, classes = lp.shape
    if not 0 <= blank < classes:
        raise RuntimeError("blank must be in label range")
    if len(input_lengths) != n:
        raise RuntimeError("input_lengths must be of size batch_size")
    if len(target_lengths) != n:
        raise RuntimeError("target_lengths must be of size batch_size")
    for length in target_lengths:
        if length < 0:
            raise RuntimeError("Expected target_lengths to have value at least 0, but got value "
                               f"{length}{where}")
    expected = sum(target_lengths) if tg.ndim == 1 else n
    if tg.shape[0] != expected:
        raise RuntimeError(f"Expected tensor to have size {expected} at dimension 0, but got size "
                           f"{tg.shape[0]} for argument #2 'targets'{where}")
    longest = max(target_lengths, default=0)
    if tg.ndim == 2 and tg.shape[1] < longest:
        raise RuntimeError(f"Expected tensor to have size at least {longest} at dimension 1, but "
                           f"got size {tg.shape[1]} for argument #2 'targets'{where}")
    for length in input_lengths:
        if length < 0:
            raise RuntimeError("Expected input_lengths to have value at least 0, but got value "
                               f"{length}{where}")
        if length > steps:
            raise RuntimeError(f"Expected input_lengths to have value at most {steps}, but got "
                               f"value {length}{where}")
    tg = tg.astype(np.int64)  # torch converts the targets to int64 (floats truncate)
    offsets = None
    if tg.ndim == 1:
        offsets = np.concatenate(([0], np.cumsum(target_lengths)[:-1])).astype(np.int64)
    paths = _CtcPaths(tg, offsets, target_lengths, blank, classes)
    lengths = np.asarray(input_lengths, dtype=np.int64)
    with np.errstate(all="ignore"):
        alpha, nll = _ctc_alpha(lp, paths, lengths)
    res = wrap(nll, lp_t._dtype)
    if lp_t._requires_grad and grad_state.enabled:
        node = new_node(CtcLossBackward0, (edge(lp_t),), nll)
        node.log_probs = SavedTensor(lp_t)
        node.alpha, node.nll, node.paths = alpha, nll, paths
        node.input_lengths, node.zero_infinity = lengths, zero_infinity
        set_history(res, node)
    if zero_infinity:
        res = E.where(wrap(nll == np.inf, D.bool_), wrap(np.zeros((), lp.dtype), lp_t._dtype),
                      res)
    if reduction == "mean":
        divisor = np.maximum(np.asarray(target_lengths, dtype=np.int64), 1).astype(lp.dtype)
        return R.mean(E.div(res, wrap(divisor.reshape(n), lp_t._dtype)))
    if reduction == "sum":
        return R.sum(res)
    return res if batched else S.squeeze(res, 0)

# ``__all__``: the names ``ember`` exports at top level (torch.softmax, torch.conv2d, ...);
# ``FUNCTIONAL``: the names ``ember.nn.functional`` exports; ``TENSOR_METHODS``: Tensor methods.
# (torch's top-level loss functions take the reduction as an enum: not exported.)
__all__: list[str] = []
FUNCTIONAL: list[str] = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_embedding_loss",
    "cross_entropy", "gaussian_nll_loss", "hinge_embedding_loss", "huber_loss", "kl_div",
    "l1_loss", "margin_ranking_loss", "mse_loss", "multi_margin_loss",
    "multilabel_margin_loss", "multilabel_soft_margin_loss", "nll_loss", "poisson_nll_loss",
    "smooth_l1_loss", "soft_margin_loss", "triplet_margin_loss",
    "triplet_margin_with_distance_loss", "ctc_loss",
]
TENSOR_METHODS: dict = {}
