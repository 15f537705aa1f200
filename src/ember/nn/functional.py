"""``ember.nn.functional``: activations, losses, convolutions, pooling and normalization.

Each family lives in its own ``ember.ops`` module and lists the names it contributes here in
its ``FUNCTIONAL``.
"""

from __future__ import annotations

from ember.ops import activation, convolution, loss, normalization

__all__: list[str] = []
for _family in (activation, convolution, loss, normalization):
    for _name in _family.FUNCTIONAL:
        # FUNCTIONAL_ONLY: functional forms that differ from torch's top-level op of that name
        globals()[_name] = getattr(_family, "FUNCTIONAL_ONLY", {}).get(_name) or getattr(
            _family, _name)
        __all__.append(_name)
