"""Op database entries for activations, losses, normalization and dropout
(``ember/ops/{activation,loss,normalization}.py``; "nn.functional." names or top-level).

Imported by ``op_db`` after its own entries; builds entries with ``op_db``'s helpers.
"""

from __future__ import annotations

# This family's public op names (see op_db.PUBLIC_OPS).
PUBLIC_OPS: tuple[str, ...] = ()
