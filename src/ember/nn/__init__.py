"""``ember.nn``: modules, layers and their functional forms."""

from ember.nn import functional as functional
from ember.nn import init as init
from ember.nn import utils as utils
from ember.nn.modules import *  # noqa: F403
from ember.nn.modules.module import Module as Module
from ember.nn.parameter import Buffer as Buffer
from ember.nn.parameter import Parameter as Parameter
