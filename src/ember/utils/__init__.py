"""``ember.utils``: data loading and checkpointing helpers."""
