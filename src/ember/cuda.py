"""``ember.cuda``: there is no GPU in ember, and this module says so the way torch does.

Tutorials open with ``device = "cuda" if torch.cuda.is_available() else "cpu"``; here that
picks the CPU. The seeding and memory-query helpers are harmless no-ops (as on a CPU-only torch
build), and anything that needs a GPU raises a CPU-only build's AssertionError.
"""

from __future__ import annotations

__all__ = [
    "current_device", "device_count", "empty_cache", "get_device_capability", "get_device_name",
    "get_rng_state", "initial_seed", "is_available", "is_bf16_supported", "is_initialized",
    "manual_seed", "manual_seed_all", "max_memory_allocated", "memory_allocated", "seed",
    "seed_all", "set_device", "synchronize",
]

_NOT_COMPILED = "Torch not compiled with CUDA enabled"


def _no_gpu() -> AssertionError:
    return AssertionError(_NOT_COMPILED)


def is_available() -> bool:
    """False: ember computes on the CPU only."""
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Seeds the (absent) GPU generators: nothing to do, as on a CPU-only torch."""


def manual_seed_all(seed: int) -> None:
    """Seeds the (absent) GPU generators: nothing to do, as on a CPU-only torch."""


def seed() -> None:
    """Nothing to seed without a GPU."""


def seed_all() -> None:
    """Nothing to seed without a GPU."""


def empty_cache() -> None:
    """No GPU memory cache to empty."""


def memory_allocated(device=None) -> int:
    return 0


def max_memory_allocated(device=None) -> int:
    return 0


def current_device() -> int:
    raise _no_gpu()


def get_device_name(device=None) -> str:
    raise _no_gpu()


def get_device_capability(device=None) -> tuple:
    raise _no_gpu()


def get_rng_state(device="cuda"):
    raise _no_gpu()


def initial_seed() -> int:
    raise _no_gpu()


def set_device(device) -> None:
    raise _no_gpu()


def synchronize(device=None) -> None:
    raise _no_gpu()
