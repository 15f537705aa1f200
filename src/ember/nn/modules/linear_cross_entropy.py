"""LinearCrossEntropyLoss: a Linear projection to class logits fused with cross entropy.

torch 2.13 offers a memory-saving chunked path (``options=LinearCrossEntropyOptions(...)``)
and a reference path (``options=None``, the default). ember has the reference path only:
project, reshape to ``(N, C, *out_features)``, then ``cross_entropy`` - the same operations
torch's reference path runs, so values, gradients and grad_fn names agree.
"""

from __future__ import annotations

import math

from ember._tensor import Tensor
from ember.nn import functional as F
from ember.nn.modules.linear import Linear
from ember.nn.modules.loss import _WeightedLoss

__all__ = ["LinearCrossEntropyLoss"]


def _linear_cross_entropy(input: Tensor, linear_weight: Tensor, target: Tensor,
                          linear_bias: Tensor | None, weight: Tensor | None, reduction: str,
                          ignore_index: int | None, label_smoothing: float) -> Tensor:
    """The reference computation, with torch's argument checks (and their messages)."""
    if input.dim() < 1 or input.dim() > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.dim()}")
    if linear_weight.dim() < 2:
        raise RuntimeError("expected linear_weight with dimensionality at least 2, got "
                           f"{linear_weight.dim()}")
    batch = tuple(input.shape[:-1])
    in_features = input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError(
            "expected equal input and linear_weight last dimensions (in_features), got "
            f"{input.shape[-1]} and {linear_weight.shape[-1]}, respectively")
    num_classes = linear_weight.shape[0]
    out_features = tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (num_classes, *out_features):
        raise RuntimeError(f"expected linear_bias shape {(num_classes, *out_features)}, got "
                           f"{tuple(linear_bias.shape)}")
    if out_features and not batch:
        raise RuntimeError(
            f"K-dimensional loss defined by linear_weight shape {tuple(linear_weight.shape)} "
            f"requires batched input, (N, {in_features}), got unbatched input with shape "
            f"{tuple(input.shape)}")
    logits_shape = (*batch, num_classes, *out_features)
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    if out_features:
        rows = math.prod(out_features, start=num_classes)
        linear_weight = linear_weight.reshape((rows, in_features))
        if linear_bias is not None:
            linear_bias = linear_bias.reshape(rows)
    logits = F.linear(input, linear_weight, linear_bias).reshape(logits_shape)
    return F.cross_entropy(logits, target, weight=weight, reduction=reduction,
                           ignore_index=-100 if ignore_index is None else ignore_index,
                           label_smoothing=label_smoothing)


class LinearCrossEntropyLoss(_WeightedLoss):
    """Cross entropy of ``Linear(in_features, num_classes * prod(out_features))`` logits.

    Only ``options=None`` (torch's reference path) exists in ember: a chunked-path options
    object is refused with NotImplementedError rather than silently ignored."""

    def __init__(self, in_features: int, num_classes: int, *, out_features: tuple = (),
                 bias: bool = False, device=None, dtype=None, reduction: str = "mean",
                 weight: Tensor | None = None, ignore_index: int | None = None,
                 label_smoothing: float = 0.0, options=None) -> None:
        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise RuntimeError(
                f"expected weight shape to be {(num_classes,)}, got {tuple(weight.shape)}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise RuntimeError(
                f"expected label_smoothing to be in range [0, 1], got {label_smoothing}")
        if options is not None:
            raise NotImplementedError(
                "ember's LinearCrossEntropyLoss has only the reference path (options=None); "
                "the chunked path of LinearCrossEntropyOptions is not implemented")
        super().__init__(weight=weight, reduction=reduction)
        self.num_classes = num_classes
        self.out_features = out_features
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        # a flat Linear; forward reshapes its weight to (C, *out_features, in_features)
        self.linear = Linear(in_features, math.prod(out_features, start=num_classes),
                             bias=bias, device=device, dtype=dtype)
        self.options = options

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        weight = self.linear.weight.reshape(
            (self.num_classes, *self.out_features, self.linear.in_features))
        bias = (None if self.linear.bias is None
                else self.linear.bias.reshape((self.num_classes, *self.out_features)))
        return _linear_cross_entropy(input, weight, target, bias, self.weight, self.reduction,
                                     self.ignore_index, self.label_smoothing)

    def extra_repr(self) -> str:
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
                f"out_features={self.out_features}, bias={self.linear.bias is not None}, "
                f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}, options={self.options}")
