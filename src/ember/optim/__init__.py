"""ember.optim: optimizers."""

from ember.optim.optimizer import Optimizer
from ember.optim.sgd import SGD

__all__ = ["SGD", "Optimizer"]
