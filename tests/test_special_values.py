"""Special values (signed zeros, NaN) through max/min-style ops: ``relu(-0.0)`` is ``-0.0``.

torch's clamp with number bounds (relu, hardtanh, ...) keeps the input on a tie; its
tensor-tensor maximum/minimum (and clamp with tensor bounds) keep the first operand in float16
and float32 but the second in float64. Compared with torch bit for bit (NaNs as NaNs),
printing included, through NumPy's scalar and SIMD loops."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from oracle import torch

NEG_NAN = float(np.array([0xFFC00000], dtype=np.uint32).view(np.float32)[0])
VALUES = [-0.0, 0.0, float("nan"), NEG_NAN, -1.0, 2.0, float("-inf"), float("inf"), -1e-45]

PROGRAMS = [
    lambda L, x: L.relu(x),
    lambda L, x: L.nn.functional.relu(x),
    lambda L, x: L.nn.functional.relu6(x),
    lambda L, x: L.nn.functional.hardtanh(x, 0.0, 1.0),
    lambda L, x: L.nn.functional.hardtanh(x, -1.0, 0.0),
    lambda L, x: L.clamp(x, min=0),
    lambda L, x: L.clamp(x, min=-0.0),
    lambda L, x: L.clamp(x, max=-0.0),
    lambda L, x: L.clamp(x, -1, 0),
    lambda L, x: L.clamp_min(x, 0),
    lambda L, x: L.clamp(x, min=L.zeros(len(VALUES), dtype=x.dtype)),
    lambda L, x: L.clamp(x, max=L.zeros(len(VALUES), dtype=x.dtype)),
    lambda L, x: L.maximum(x, L.zeros(len(VALUES), dtype=x.dtype)),
    lambda L, x: L.minimum(x, L.zeros(len(VALUES), dtype=x.dtype)),
    lambda L, x: L.maximum(L.zeros(len(VALUES), dtype=x.dtype), x),
    lambda L, x: L.minimum(L.zeros(len(VALUES), dtype=x.dtype), x),
    lambda L, x: L.maximum(x, L.zeros((), dtype=x.dtype)),
]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("size", [len(VALUES), 4096])  # NumPy's scalar and SIMD loops
@pytest.mark.parametrize("number", range(len(PROGRAMS)))
def test_ties_keep_the_first_operand(number, size, dtype):
    program = PROGRAMS[number]
    values = np.resize(np.array(VALUES), size)

    def run(lib):
        x = lib.tensor(values, dtype=getattr(lib, dtype))
        if size != len(VALUES) and number >= 10:  # the tensor bounds are VALUES-long
            x = x[: len(VALUES)]
        return program(lib, x)

    mine, theirs = run(ember), run(torch)
    bits = {"float16": np.uint16, "float32": np.uint32, "float64": np.uint64}[dtype]
    a, b = mine.numpy(), theirs.numpy()
    nan = np.isnan(b)  # a NaN's sign and payload are not compared
    assert np.array_equal(np.isnan(a), nan)
    assert np.array_equal(a[~nan].view(bits), b[~nan].view(bits))
    assert repr(mine) == repr(theirs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", [len(VALUES), 4096])
def test_relu_gradient_passes_at_nan_and_stops_at_zeros(size, dtype):
    """torch's threshold_backward zeroes the gradient where ``result <= 0``: NaN passes."""
    values = np.resize(np.array(VALUES), size)

    def run(lib):
        x = lib.tensor(values, dtype=getattr(lib, dtype), requires_grad=True)
        lib.relu(x).backward(lib.arange(1.0, size + 1, dtype=x.dtype))
        return x.grad.numpy()

    assert np.array_equal(run(ember), run(torch))


# ----- activations, abs and sign at NaN, signed zeros and infinities --------------------------
# torch's pointwise kernels have a scalar loop and a vectorized one, and for a few ops they
# disagree on these values: the vectorized loop stops hardtanh's, hardshrink's, softshrink's
# and hardswish's gradient at NaN (the scalar one passes it), gives NaN for elu's gradient at
# NaN (the scalar one grad * scale), and softshrink(-0.0) = 0.0 (the scalar one -0.0). Which
# loop an element meets depends on the tensor's size, layout and the CPU's vector width, so
# ember follows one: the scalar loop's, torch's defining formula. Those ops are compared with
# torch on one-element tensors (always its scalar loop); the others on tensors of every size.
SPECIAL = [float("nan"), NEG_NAN, -0.0, 0.0, 1.0, -1.0, float("inf"), float("-inf"), 6.0, -3.0,
           3.0, 0.5, -0.5, -20.0, 20.0, 1e-45, -1e-45, 100.0, -100.0]


def _inplace(function):
    """``function`` applied in place to a non-leaf copy of x (its gradient reaches x)."""
    return lambda F, x: function(F, x * 1)


# ops whose two torch loops agree on SPECIAL: (name, program, highest derivative order)
AGREEING = [
    ("abs", lambda F, x: x.abs(), 2),
    ("abs_", _inplace(lambda F, y: y.abs_()), 2),
    ("sign", lambda F, x: x.sign(), 1),
    ("sign_", _inplace(lambda F, y: y.sign_()), 1),
    ("sgn", lambda F, x: x.sgn(), 1),
    ("sgn_", _inplace(lambda F, y: y.sgn_()), 1),
    ("gelu", lambda F, x: F.gelu(x), 2),
    ("gelu_tanh", lambda F, x: F.gelu(x, approximate="tanh"), 2),
    ("silu", lambda F, x: F.silu(x), 2),
    ("silu_", _inplace(lambda F, y: F.silu(y, inplace=True)), 2),
    ("mish", lambda F, x: F.mish(x), 2),
    ("glu", lambda F, x: F.glu(x.unsqueeze(1).expand(-1, 2), 1)[:, 0], 2),  # x * sigmoid(x)
    ("glu_negated", lambda F, x: F.glu(x.unsqueeze(1) * x.new_tensor([1.0, -1.0]), 1)[:, 0], 2),
    ("leaky_relu", lambda F, x: F.leaky_relu(x), 2),
    ("leaky_relu_", _inplace(lambda F, y: F.leaky_relu(y, 0.2, inplace=True)), 2),
    ("leaky_relu_negative", lambda F, x: F.leaky_relu(x, -0.5), 2),
    ("threshold", lambda F, x: F.threshold(x, 0.5, -1.0), 2),
    ("threshold_zero", lambda F, x: F.threshold(x, 0.0, -0.0), 2),
    ("threshold_", _inplace(lambda F, y: F.threshold_(y, 0.5, 2.0)), 2),
    ("rrelu_eval", lambda F, x: F.rrelu(x, training=False), 2),
    ("rrelu_eval_", _inplace(lambda F, y: F.rrelu(y, training=False, inplace=True)), 2),
    ("prelu", lambda F, x: F.prelu(x, x.new_tensor([0.25])), 2),
    ("prelu_channels", lambda F, x: F.prelu(x.reshape(1, -1, 1), x.new_tensor(
        np.resize([0.25, -0.5, 2.0], x.numel()).tolist()))[0, :, 0], 2),
    ("hardsigmoid", lambda F, x: F.hardsigmoid(x), 1),
    ("softplus", lambda F, x: F.softplus(x), 2),
    ("softplus_beta", lambda F, x: F.softplus(x, beta=2, threshold=1), 2),
    ("logsigmoid", lambda F, x: F.logsigmoid(x), 2),
    ("tanhshrink", lambda F, x: F.tanhshrink(x), 2),
    ("softsign", lambda F, x: F.softsign(x), 1),
    ("clamp", lambda F, x: x.clamp(-1, 1), 2),
]

# ops where ember follows torch's scalar loop (see above)
SCALAR_LOOP = [
    ("relu6", lambda F, x: F.relu6(x), 2),
    ("relu6_inplace", _inplace(lambda F, y: F.relu6(y, inplace=True)), 2),
    ("hardtanh", lambda F, x: F.hardtanh(x), 2),
    ("hardtanh_zero_bounds", lambda F, x: F.hardtanh(x, -0.0, 0.0), 2),
    ("hardtanh_", _inplace(lambda F, y: F.hardtanh_(y, -2.0, 0.5)), 2),
    ("hardshrink", lambda F, x: F.hardshrink(x), 2),
    ("hardshrink_zero", lambda F, x: F.hardshrink(x, 0.0), 2),
    ("hardshrink_method", lambda F, x: x.hardshrink(1.0), 2),
    ("softshrink", lambda F, x: F.softshrink(x), 2),
    ("softshrink_zero", lambda F, x: F.softshrink(x, 0.0), 2),
    ("softshrink_three", lambda F, x: F.softshrink(x, 3.0), 2),
    ("elu", lambda F, x: F.elu(x), 2),
    ("elu_alpha", lambda F, x: F.elu(x, alpha=0.5), 2),
    ("elu_alpha_zero", lambda F, x: F.elu(x, alpha=0.0), 2),
    ("elu_", _inplace(lambda F, y: F.elu_(y)), 2),
    ("elu_inplace", _inplace(lambda F, y: F.elu(y, 2.0, inplace=True)), 2),
    ("selu", lambda F, x: F.selu(x), 2),
    ("selu_inplace", _inplace(lambda F, y: F.selu(y, inplace=True)), 2),
    ("celu", lambda F, x: F.celu(x, 2.0), 2),
    ("celu_inplace", _inplace(lambda F, y: F.celu(y, 0.5, inplace=True)), 2),
    ("hardswish", lambda F, x: F.hardswish(x), 2),
    ("hardswish_", _inplace(lambda F, y: F.hardswish(y, inplace=True)), 2),
]


def _derivatives(lib, program, values: np.ndarray, dtype: str, order: int) -> list:
    """The program's value, its gradient for grad_output ``values[1]`` and, for order 2, the
    gradients of that gradient (create_graph=True) for x and grad_output, as arrays."""
    x = lib.tensor(values[0], dtype=getattr(lib, dtype), requires_grad=True)
    grad_output = lib.tensor(values[1], dtype=getattr(lib, dtype), requires_grad=True)
    y = program(lib.nn.functional, x)
    (grad,) = lib.autograd.grad(y, x, grad_output, create_graph=order > 1)
    out = [y, grad]
    if order > 1 and grad.requires_grad:
        out += lib.autograd.grad(grad, (x, grad_output), lib.ones_like(grad),
                                 allow_unused=True, materialize_grads=True)
    elif order > 1:
        out += [lib.zeros_like(x), lib.zeros_like(x)]
    return [t.detach().numpy(force=True) for t in out]


def _assert_same(mine: np.ndarray, theirs: np.ndarray, exact: bool) -> None:
    """Same NaN positions; elsewhere the same sign bits, zeros and infinities, and the same
    values: bit for bit when ``exact``, else as close as the few ulps that separate NumPy's
    transcendental functions from torch's allow (cancellations, as gelu's 1 + erf(x) at
    x = -3, can magnify them: relative tolerance sqrt(eps))."""
    assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
    nan = np.isnan(theirs)
    assert np.array_equal(np.isnan(mine), nan)
    a, b = mine[~nan], theirs[~nan]
    assert np.array_equal(np.signbit(a), np.signbit(b)), (a, b)
    assert np.array_equal(a == 0, b == 0), (a, b)
    assert np.array_equal(np.isinf(a), np.isinf(b)), (a, b)
    if exact:
        assert np.array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}")), (a, b)
    else:
        # (subnormal results keep only a few bits: they are compared to within the smallest
        # normal number)
        info = np.finfo(a.dtype)
        np.testing.assert_allclose(a, b, rtol=np.sqrt(info.eps), atol=info.tiny)


_EXACT = {"abs", "abs_", "sign", "sign_", "sgn", "sgn_", "leaky_relu", "leaky_relu_", "threshold",
          "threshold_zero", "threshold_", "rrelu_eval", "rrelu_eval_", "prelu", "clamp",
          "relu6", "relu6_inplace", "hardtanh", "hardtanh_zero_bounds", "hardtanh_",
          "hardshrink", "hardshrink_zero", "hardshrink_method", "softshrink",
          "softshrink_zero", "softshrink_three"}


def _inputs(size: int) -> np.ndarray:
    """SPECIAL repeated to ``size`` elements, and a grad_output of both signs."""
    return np.stack([np.resize(SPECIAL, size), np.resize([0.75, -1.5, 2.0], size)])


def _each(lib, program, values, dtype, order) -> list:
    """_derivatives on one-element tensors, one per value, joined."""
    parts = [_derivatives(lib, program, values[:, i:i + 1], dtype, order)
             for i in range(values.shape[1])]
    return [np.concatenate(column) for column in zip(*parts)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", ["each", len(SPECIAL), 4096])  # one element, then both loops
@pytest.mark.parametrize("name, program, order", AGREEING, ids=[e[0] for e in AGREEING])
def test_activations_at_special_values(name, program, order, size, dtype):
    values = _inputs(len(SPECIAL) if size == "each" else size)
    for k in range(1, order + 1):
        if size == "each":
            mine, theirs = (_each(lib, program, values, dtype, k) for lib in (ember, torch))
        else:
            mine, theirs = (_derivatives(lib, program, values, dtype, k)
                            for lib in (ember, torch))
        for a, b in zip(mine, theirs):
            _assert_same(a, b, name in _EXACT)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, program, order", SCALAR_LOOP, ids=[e[0] for e in SCALAR_LOOP])
def test_activations_at_special_values_follow_torchs_scalar_loop(name, program, order, dtype):
    values = _inputs(len(SPECIAL))
    for k in range(1, order + 1):
        mine = _derivatives(ember, program, values, dtype, k)
        theirs = _each(torch, program, values, dtype, k)
        for a, b in zip(mine, theirs):
            _assert_same(a, b, name in _EXACT)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gelu_keeps_minus_zero_only_in_torchs_scalar_loop(dtype):
    """float32 gelu: torch's vectorized loop (contiguous tensors of two or more elements)
    gives 0.0 at -0.0 and where the result underflows; its scalar loop (one element, strided
    input) gives -0.0, as float64 always does."""
    def run(lib):
        x = lib.tensor([[-0.0, -1e-45, -20.0, -6.0]] * 6, dtype=getattr(lib, dtype))
        inputs = [x, x[:, 0], x.t(), x[:1, :1], x[0, 0], x[::2], x.reshape(-1)]
        return [lib.nn.functional.gelu(t).numpy() for t in inputs]

    for a, b in zip(run(ember), run(torch)):
        _assert_same(a, b, False)


@pytest.mark.parametrize("function", ["elu_", "celu_"])
def test_inplace_elu_with_a_negative_alpha_fails_in_backward(function):
    def run(lib):
        x = lib.tensor([-1.0, 0.5, -20.0], requires_grad=True)
        y = getattr(lib.nn.functional, function)(x * 1, alpha=-1.0)
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
        return str(info.value).splitlines()[0], y.detach().numpy()

    (message, value), (expected, expected_value) = run(ember), run(torch)
    assert message == expected
    _assert_same(value, expected_value, False)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64"])
def test_threshold_on_integers_truncates_its_numbers(dtype):
    """torch converts threshold and value to the integer dtype first: floats truncate toward
    zero (threshold -3.5 is -3, so -3 is replaced) and must fit the dtype, integers wrap."""
    cases = [(-3.5, 0), (2.9, -7.9), (1.5, 7.9), (-1, 2), (2.0, -1), (-0.9, 4), (127.5, 3),
             (1, 300.0), (float("nan"), 1), (float("inf"), 1), (40000, 1), (True, False)]

    def run(lib):
        x = lib.tensor([-3, 0, 1, 3, 100], dtype=getattr(lib, dtype)) if dtype != "uint8" \
            else lib.tensor([0, 1, 3, 100, 200], dtype=lib.uint8)
        results = []
        for threshold, value in cases:
            try:
                results.append(repr(lib.threshold(x, threshold, value)))
            except RuntimeError as error:
                results.append(str(error).splitlines()[0])
        return results

    assert run(ember) == run(torch)


_GRAPH_PROGRAMS = [e for e in AGREEING + SCALAR_LOOP if e[2] == 2 and not e[0].startswith("glu")]


@pytest.mark.parametrize("name, program, order", _GRAPH_PROGRAMS,
                         ids=[e[0] for e in _GRAPH_PROGRAMS])
def test_activation_gradients_build_torchs_double_backward_graph(name, program, order):
    """Under create_graph the gradient's grad_fn is torch's (HardtanhBackwardBackward0...),
    and differentiating it again for x works even where it is piecewise constant (zeros, as
    torch's zeros_like(grad), rather than an unused-input error), or fails as in torch."""
    def run(lib):
        x = lib.tensor([-1.0, 0.5, 2.0, -4.0, 0.0], requires_grad=True)
        (grad,) = lib.autograd.grad(program(lib.nn.functional, x), x, lib.ones(5),
                                    create_graph=True)
        try:
            (again,) = lib.autograd.grad(grad.sum(), x)
        except RuntimeError as error:
            return type(grad.grad_fn).__name__, str(error).splitlines()[0]
        return type(grad.grad_fn).__name__, again.numpy(force=True)

    (mine, mine_again), (theirs, theirs_again) = run(ember), run(torch)
    assert mine == theirs
    if isinstance(theirs_again, str):
        assert mine_again == theirs_again
    else:
        _assert_same(mine_again, theirs_again, False)


def test_relu_second_derivative_reaches_the_input_as_zeros():
    """Under create_graph relu's gradient is recorded as torch's ThresholdBackwardBackward0,
    so the gradient of that gradient reaches the input (zeros), instead of an unused input."""
    def run(lib):
        x = lib.tensor([-1.0, 0.0, 2.0, float("nan")], requires_grad=True)
        (g,) = lib.autograd.grad(lib.relu(x).sum(), x, create_graph=True)
        (h,) = lib.autograd.grad((g * x).sum(), x)
        return g.grad_fn.name(), g.detach().numpy().tolist(), h.numpy().tolist()

    assert repr(run(ember)) == repr(run(torch))
