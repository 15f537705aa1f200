"""``ember.linalg``: torch.linalg's functions (norms, inverses, factorizations, solvers)."""

from __future__ import annotations

__all__: list[str] = []
