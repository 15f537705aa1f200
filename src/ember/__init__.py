"""ember: PyTorch's automatic differentiation, rebuilt in readable Python on NumPy.

``import ember as torch`` runs torch autograd programs unchanged.
"""

from ember import (
    _tensor_methods,  # noqa: F401  (binds the op methods onto Tensor)
    autograd,
    backends,
    cuda,
    func,
    linalg,
    nn,
    optim,
    random,  # noqa: E402
    utils,
    viz,
)
from ember._creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from ember._dtype import (
    bool_ as bool,  # noqa: A001 - torch.bool
)
from ember._dtype import (
    cdouble,
    cfloat,
    chalf,
    complex32,
    complex64,
    complex128,
    double,
    dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    promote_types,
    result_type,
    set_default_dtype,
    short,
    uint8,
)
from ember._dtype import float as float  # noqa: A001, PLC0414 - torch.float
from ember._dtype import int as int  # noqa: A001, PLC0414 - torch.int
from ember._random import Generator, default_generator  # noqa: E402
from ember._random_ops import bernoulli, multinomial, randint_like, randperm
from ember._tensor import Size, Tensor, device
from ember._tensor_str import printoptions, set_printoptions
from ember.autograd.anomaly_mode import is_anomaly_check_nan_enabled, is_anomaly_enabled
from ember.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from ember.func import vmap  # left out: raises NotImplementedError naming itself

# Each op family's module lists what it exports in its ``__all__``.
from ember.ops.activation import *  # noqa: F403
from ember.ops.complex_numbers import *  # noqa: F403
from ember.ops.convolution import *  # noqa: F403
from ember.ops.elementwise import *  # noqa: F403
from ember.ops.indexing import *  # noqa: F403
from ember.ops.linalg import *  # noqa: F403
from ember.ops.loss import *  # noqa: F403
from ember.ops.normalization import *  # noqa: F403
from ember.ops.pointwise import *  # noqa: F403
from ember.ops.pointwise_more import *  # noqa: F403
from ember.ops.reduction import *  # noqa: F403
from ember.ops.selection import *  # noqa: F403
from ember.ops.shape import *  # noqa: F403
from ember.ops.sorting import *  # noqa: F403
from ember.ops.special import *  # noqa: F403
from ember.random import get_rng_state, initial_seed, manual_seed, seed, set_rng_state  # noqa: E402
from ember.serialization import load, save

__version__ = "0.1.0"


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


def is_floating_point(input: Tensor) -> bool:
    return input.is_floating_point()
