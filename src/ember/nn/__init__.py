"""``ember.nn``: modules, layers and their functional forms."""

from ember.nn import functional as functional
