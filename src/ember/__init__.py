"""ember: PyTorch's automatic differentiation, rebuilt in readable Python on NumPy.

``import ember as torch`` runs torch autograd programs unchanged.
"""

from ember import (
    _tensor_methods,  # noqa: F401  (binds the op methods onto Tensor)
    autograd,
    optim,
    random,  # noqa: E402
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
from ember.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from ember.ops.elementwise import (
    abs,
    absolute,
    add,
    bitwise_not,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    clone,
    cos,
    div,
    divide,
    eq,
    exp,
    floor_divide,
    ge,
    greater,
    greater_equal,
    gt,
    isnan,
    le,
    less,
    less_equal,
    log,
    logical_and,
    logical_not,
    logical_or,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    negative,
    not_equal,
    pow,
    reciprocal,
    relu,
    remainder,
    rsub,
    sigmoid,
    sign,
    sin,
    sqrt,
    sub,
    tanh,
    true_divide,
    where,
)
from ember.ops.elementwise import mul as multiply
from ember.ops.elementwise import sub as subtract
from ember.ops.indexing import nonzero
from ember.ops.linalg import bmm, dot, inner, matmul, mm, mv
from ember.ops.reduction import amax, argmax, argmin, max, mean, min, norm, prod, sum
from ember.ops.shape import (
    broadcast_to,
    cat,
    concat,
    concatenate,
    flatten,
    permute,
    reshape,
    squeeze,
    stack,
    swapaxes,
    swapdims,
    t,
    transpose,
    unflatten,
    unsqueeze,
)
from ember.random import get_rng_state, initial_seed, manual_seed, seed, set_rng_state  # noqa: E402

__version__ = "0.1.0"


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


def is_floating_point(input: Tensor) -> bool:
    return input.is_floating_point()
