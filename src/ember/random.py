"""ember.random: the global generator's seed and state, as torch.random offers them."""

from __future__ import annotations

import contextlib

import numpy as np

from ember import _random
from ember._random import Generator

__all__ = ["Generator", "fork_rng", "get_rng_state", "initial_seed", "manual_seed", "seed",
           "set_rng_state"]


def manual_seed(seed: int) -> Generator:
    """Seed the default generator; returns it, as torch does."""
    return _random.default_generator.manual_seed(int(seed))


def seed() -> int:
    return _random.default_generator.seed()


def initial_seed() -> int:
    return _random.default_generator.initial_seed()


def get_rng_state():
    return _random.default_generator.get_state()


def set_rng_state(new_state) -> None:
    _random.default_generator.set_state(np.asarray(new_state._array, dtype=np.uint8))


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, **kwargs):
    """Restore the default generator's state on exit."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
