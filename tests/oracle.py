"""The torch oracle. Under CI a missing torch is an error, never a skip."""

from __future__ import annotations

import os

import pytest

if os.environ.get("CI") == "true":
    import torch
else:
    torch = pytest.importorskip("torch")

torch.set_num_threads(1)

__all__ = ["torch"]
