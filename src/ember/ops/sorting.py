"""Sorting, selection by rank, scans and counting: each op's forward and derivative together."""

from __future__ import annotations

# The names ``ember`` exports from this family, and the Tensor methods it adds.
__all__: list[str] = []
TENSOR_METHODS: dict = {}
