"""``ember.nn.functional``: activations, losses, convolutions, pooling and normalization."""

from __future__ import annotations

__all__: list[str] = []
