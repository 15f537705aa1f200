"""``ember.utils``: data loading and checkpointing helpers."""

from ember.utils import checkpoint as checkpoint
from ember.utils import data as data
