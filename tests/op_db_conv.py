"""Op database entries for convolution, pooling, padding, folding and resampling
(``ember/ops/convolution.py``; names prefixed "nn.functional." or top-level).

Imported by ``op_db`` after its own entries; builds entries with ``op_db``'s helpers.
"""

from __future__ import annotations

# This family's public op names (see op_db.PUBLIC_OPS).
PUBLIC_OPS: tuple[str, ...] = ()
