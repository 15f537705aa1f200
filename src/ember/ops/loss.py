"""Loss functions: each loss's forward and derivative together, with torch's reductions."""

from __future__ import annotations

# ``__all__``: the names ``ember`` exports at top level (torch.softmax, torch.conv2d, ...);
# ``FUNCTIONAL``: the names ``ember.nn.functional`` exports; ``TENSOR_METHODS``: Tensor methods.
__all__: list[str] = []
FUNCTIONAL: list[str] = []
TENSOR_METHODS: dict = {}
