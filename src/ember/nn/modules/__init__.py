"""The layer classes of ``ember.nn``, one file per family as in torch."""

from ember.nn.modules.activation import *  # noqa: F403
from ember.nn.modules.attention import *  # noqa: F403
from ember.nn.modules.container import *  # noqa: F403
from ember.nn.modules.conv import *  # noqa: F403
from ember.nn.modules.distance import *  # noqa: F403
from ember.nn.modules.lazy import *  # noqa: F403
from ember.nn.modules.linear import *  # noqa: F403
from ember.nn.modules.linear_cross_entropy import *  # noqa: F403
from ember.nn.modules.loss import *  # noqa: F403
from ember.nn.modules.module import Module as Module
from ember.nn.modules.module import (
    register_module_forward_hook as register_module_forward_hook,
)
from ember.nn.modules.module import (
    register_module_forward_pre_hook as register_module_forward_pre_hook,
)
from ember.nn.modules.module import (
    register_module_full_backward_hook as register_module_full_backward_hook,
)
from ember.nn.modules.module import (
    register_module_full_backward_pre_hook as register_module_full_backward_pre_hook,
)
from ember.nn.modules.normalization import *  # noqa: F403
from ember.nn.modules.padding import *  # noqa: F403
from ember.nn.modules.rnn import *  # noqa: F403
from ember.nn.modules.sparse import *  # noqa: F403
from ember.nn.modules.transformer import *  # noqa: F403
