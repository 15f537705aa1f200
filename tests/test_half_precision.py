"""Half precision against torch, on every one of the 65536 float16 bit patterns: forward values,
gradients, and products and quotients with numbers.

torch's CPU kernels compute ``Half`` through float32 and round once, so a formula of several
steps (sigmoid, silu, gelu, softmax, ...) rounds once; ember does the same
(``ops._core.in_opmath``), except for the ops torch itself composes of half-precision steps
(logit). Each op below runs on all float16 values (NaN payloads, infinities, subnormals and
signed zeros included) and is compared with torch bit for bit, NaNs as NaNs.
"""

from __future__ import annotations

import numpy as np
import pytest

import ember
from oracle import torch

EVERY_HALF = np.arange(1 << 16, dtype=np.uint16).view(np.float16)

ELEMENTWISE = [
    "abs", "acos", "acosh", "asinh", "atan", "atanh", "ceil", "cos", "cosh", "deg2rad", "erfc",
    "erfinv", "exp", "exp2", "expm1", "floor", "frac", "log10", "log1p", "log2", "logit", "neg",
    "rad2deg", "reciprocal", "round", "rsqrt", "sign", "sinh", "sqrt", "square", "tan", "tanh",
    "trunc", "nan_to_num", "relu", "positive",
]
ACTIVATIONS = {
    "relu6": lambda F, t: F.relu6(t),
    "elu": lambda F, t: F.elu(t),
    "selu": lambda F, t: F.selu(t),
    "celu": lambda F, t: F.celu(t, 0.7),
    "hardtanh": lambda F, t: F.hardtanh(t),
    "hardswish": lambda F, t: F.hardswish(t),
    "hardsigmoid": lambda F, t: F.hardsigmoid(t),
    "hardshrink": lambda F, t: F.hardshrink(t),
    "tanhshrink": lambda F, t: F.tanhshrink(t),
    "softsign": lambda F, t: F.softsign(t),
    "leaky_relu": lambda F, t: F.leaky_relu(t, 0.01),
    "threshold": lambda F, t: F.threshold(t, 0.5, 2.0),
    "rrelu (eval)": lambda F, t: F.rrelu(t, training=False),
    "softmax": lambda F, t: F.softmax(t.reshape(-1, 64), -1),
    "softmin": lambda F, t: F.softmin(t.reshape(-1, 64), 0),
}
# NumPy's float32 libm and torch's SLEEF differ by an ulp or so in float32 on a few inputs;
# rounding to half hides that except where the float32 results straddle a half rounding
# boundary (or, for logsigmoid, where exp(-x) is a float32 subnormal in NumPy and 0 in
# torch, the sign of a zero). Counted over all 65536 inputs; each such value is the
# neighbour of torch's.
NEAR = {
    "asin": (lambda L, t: L.asin(t), 2),
    "lgamma": (lambda L, t: L.lgamma(t), 2),
    "digamma": (lambda L, t: L.digamma(t), 13),
    "log": (lambda L, t: L.log(t), 1),
    "sigmoid": (lambda L, t: L.sigmoid(t), 2),
    "sin": (lambda L, t: L.sin(t), 2),
    "sinc": (lambda L, t: L.sinc(t), 4),
    "silu": (lambda L, t: L.nn.functional.silu(t), 3),
    "mish": (lambda L, t: L.nn.functional.mish(t), 3),
    "softplus": (lambda L, t: L.nn.functional.softplus(t), 1),
    "logsigmoid": (lambda L, t: L.nn.functional.logsigmoid(t), 18),
    "glu": (lambda L, t: L.nn.functional.glu(t.reshape(-1, 64), -1), 1),
}


def _differing(theirs: np.ndarray, ours: np.ndarray) -> np.ndarray:
    """Indices whose bits differ, NaN against NaN counting as equal."""
    assert theirs.dtype == ours.dtype == np.float16 and theirs.shape == ours.shape
    a, b = theirs.reshape(-1), ours.reshape(-1)
    return np.flatnonzero((a.view(np.uint16) != b.view(np.uint16)) & ~(np.isnan(a) & np.isnan(b)))


def _ordered(values: np.ndarray) -> np.ndarray:
    """float16 values as integers in their numeric order, neighbours one apart (-0.0 just
    below 0.0): a subnormal float32 result rounds to a zero of either sign."""
    bits = values.view(np.uint16).astype(np.int32)
    return np.where(bits & 0x8000, -(bits & 0x7FFF) - 1, bits)


def _run(program):
    theirs = program(torch, torch.tensor(EVERY_HALF)).numpy()
    ours = program(ember, ember.tensor(EVERY_HALF)).numpy()
    return theirs, ours


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_half_matches_torch_on_every_value(name):
    theirs, ours = _run(lambda L, t: getattr(L, name)(t))
    bad = _differing(theirs, ours)
    assert bad.size == 0, (name, EVERY_HALF[bad[:5]], theirs[bad[:5]], ours[bad[:5]])


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_half_matches_torch_on_every_value(name):
    theirs, ours = _run(lambda L, t: ACTIVATIONS[name](L.nn.functional, t))
    bad = _differing(theirs, ours)
    assert bad.size == 0, (name, bad[:5], theirs.reshape(-1)[bad[:5]], ours.reshape(-1)[bad[:5]])


@pytest.mark.parametrize("name", list(NEAR))
def test_half_within_an_ulp_where_float32_libms_differ(name):
    program, count = NEAR[name]
    theirs, ours = _run(program)
    bad = _differing(theirs, ours)
    assert bad.size <= count, (name, bad.size)
    a, b = _ordered(theirs.reshape(-1)[bad]), _ordered(ours.reshape(-1)[bad])
    assert np.all(np.abs(a - b) == 1), (name, theirs.reshape(-1)[bad], ours.reshape(-1)[bad])


def test_half_formulas_round_once():
    """A formula of several steps rounds once in half precision, where NumPy's float16
    arithmetic would round after each step (these inputs differ that way)."""
    x = np.array([-2.5, -0.7, 0.3, 1.9, 4.25], dtype=np.float16)
    for program in (lambda L, t: L.sigmoid(t), lambda L, t: L.nn.functional.selu(t),
                    lambda L, t: L.nn.functional.leaky_relu(t, 0.01),
                    lambda L, t: L.softmax(t, 0)):
        theirs = program(torch, torch.tensor(x)).numpy()
        ours = program(ember, ember.tensor(x)).numpy()
        assert np.array_equal(theirs.view(np.uint16), ours.view(np.uint16))


# ----- gradients ------------------------------------------------------------------------------
GRAD_PATTERN = np.tile(np.array([1, -0.5, 3.25, 0.1, -7, 1e-3, 100, -2.5], np.float16), 1 << 13)
FINITE_OR_INF = ~np.isnan(EVERY_HALF)

# torch's fused backward kernels (tanh_backward, softplus_backward, ...) compute half through
# float32 and round once; sigmoid_backward's half kernel works in half, and ember follows it.
# For elu, selu, celu, hardswish and hardtanh torch's vectorized loop turns a NaN input's
# gradient into NaN (or 0) where its scalar loop passes the incoming gradient through, as
# ember does: those compare on the non-NaN inputs.
BACKWARD = {
    "tanh": (lambda L, t: L.tanh(t), True),
    "softplus": (lambda L, t: L.nn.functional.softplus(t), True),
    "leaky_relu": (lambda L, t: L.nn.functional.leaky_relu(t, 0.01), True),
    "hardsigmoid": (lambda L, t: L.nn.functional.hardsigmoid(t), True),
    "logsigmoid": (lambda L, t: L.nn.functional.logsigmoid(t), True),
    "softmax": (lambda L, t: L.softmax(t.reshape(-1, 64), -1).reshape(-1), True),
    "relu": (lambda L, t: L.relu(t), True),
    "hardswish": (lambda L, t: L.nn.functional.hardswish(t), False),
    "hardtanh": (lambda L, t: L.nn.functional.hardtanh(t), False),
}
# float32 libm differences again (see NEAR): (program, values differing at most, by at most
# this many half ulps, NaN inputs compared). gelu's derivative cancels near x = -0.75 and
# x = -4.7, where an ulp of float32 becomes two of half.
BACKWARD_NEAR = {
    "sigmoid": (lambda L, t: L.sigmoid(t), 1, 1, True),
    "gelu": (lambda L, t: L.nn.functional.gelu(t), 24, 2, True),
    "silu": (lambda L, t: L.nn.functional.silu(t), 2, 1, True),
    "mish": (lambda L, t: L.nn.functional.mish(t), 5, 1, True),
    "elu": (lambda L, t: L.nn.functional.elu(t), 1, 1, False),
    "selu": (lambda L, t: L.nn.functional.selu(t), 1, 1, False),
    "celu": (lambda L, t: L.nn.functional.celu(t, 0.7), 3, 1, False),
}


def _grads(program):
    out = []
    for lib in (torch, ember):
        t = lib.tensor(EVERY_HALF, requires_grad=True)
        program(lib, t).backward(lib.tensor(GRAD_PATTERN))
        out.append(t.grad.numpy())
    return out


@pytest.mark.parametrize("name", list(BACKWARD))
def test_half_gradient_matches_torch_on_every_value(name):
    program, with_nan = BACKWARD[name]
    theirs, ours = _grads(program)
    if not with_nan:
        theirs, ours = theirs[FINITE_OR_INF], ours[FINITE_OR_INF]
    bad = _differing(theirs, ours)
    assert bad.size == 0, (name, bad[:5], theirs[bad[:5]], ours[bad[:5]])


@pytest.mark.parametrize("name", list(BACKWARD_NEAR))
def test_half_gradient_within_an_ulp_where_float32_libms_differ(name):
    program, count, ulps, with_nan = BACKWARD_NEAR[name]
    theirs, ours = _grads(program)
    if not with_nan:
        theirs, ours = theirs[FINITE_OR_INF], ours[FINITE_OR_INF]
    bad = _differing(theirs, ours)
    assert bad.size <= count, (name, bad.size)
    distance = np.abs(_ordered(theirs[bad]) - _ordered(ours[bad]))
    assert np.all((distance >= 1) & (distance <= ulps)), (name, theirs[bad], ours[bad])


# ----- a number times or over a half tensor ---------------------------------------------------
@pytest.mark.parametrize("number", [0.1, 0.3, 7.0, 255.0, 3001, -1e-3, 1e40])
@pytest.mark.parametrize("op", ["mul", "rmul", "div", "rdiv", "mul_"])
def test_half_times_or_over_a_number_takes_it_in_float32(op, number):
    """torch's mul and div kernels take a number operand in float32 (``x / 255.`` on half
    images, ``x * 0.1``); ``number / x`` is ``reciprocal(x) * number``. Every half value."""
    program = {
        "mul": lambda t: t * number, "rmul": lambda t: number * t, "div": lambda t: t / number,
        "rdiv": lambda t: number / t, "mul_": lambda t: t.clone().mul_(number),
    }[op]
    with np.errstate(all="ignore"):
        theirs = program(torch.tensor(EVERY_HALF)).numpy()
        ours = program(ember.tensor(EVERY_HALF)).numpy()
    bad = _differing(theirs, ours)
    assert bad.size == 0, (op, number, EVERY_HALF[bad[:5]], theirs[bad[:5]], ours[bad[:5]])


@pytest.mark.parametrize("op", ["mul", "rmul", "div", "rdiv"])
def test_half_gradient_through_a_number_takes_it_in_float32(op):
    """The backward of ``x * number`` and ``x / number`` multiplies or divides the half
    gradient by the number in float32, as torch's kernels: every half value."""
    program = {"mul": lambda t: t * 0.1, "rmul": lambda t: 0.3 * t, "div": lambda t: t / 0.3,
               "rdiv": lambda t: 0.3 / t}[op]
    theirs, ours = _grads(lambda lib, t: program(t))
    bad = _differing(theirs, ours)
    assert bad.size == 0, (op, EVERY_HALF[bad[:5]], theirs[bad[:5]], ours[bad[:5]])


def test_half_number_gradient_under_create_graph():
    """The saved float32 number also serves a differentiable backward (create_graph)."""
    out = []
    for lib in (torch, ember):
        t = lib.tensor([0.3, -1.7, 2.5], dtype=lib.float16, requires_grad=True)
        (g,) = lib.autograd.grad((t * 0.1 * t).sum(), t, create_graph=True)
        (gg,) = lib.autograd.grad((g / 0.3).sum(), t)
        out.append((g.detach().numpy(), gg.numpy()))
    for theirs, ours in zip(*out):
        assert ours.dtype == np.float16
        assert np.array_equal(theirs.view(np.uint16), ours.view(np.uint16))
