"""ember's public random API against torch's CPU generator (issue #7), over hypothesis-chosen
seeds, shapes and dtypes.

test_random_streams.py checks the generator's kernels and test_random_api.py the in-place
fills; this file checks what a user calls: ``ember.rand``/``randn``/``randint``/``normal``/
``randperm``/``bernoulli``/``multinomial``/``*_like``, ``generator=`` arguments, Generator
objects and the seed/state functions, and what is built on them (nn.init, layers' default
initialisation, dropout masks, DataLoader shuffling, random_split). Every check is exact
(same dtype, shape and bytes) and then compares both generators' full state and one more draw,
so a call that consumed the wrong number of words fails too.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from oracle import torch


def _cpu_is_intel() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return "GenuineIntel" in f.read(4096)
    except OSError:
        return False


# The float32 normal kernel replays torch's AVX2 build; bernoulli_(float p) goes through MKL
# on Intel CPUs (ember replays the portable path): the same conditions as the stream tests.
avx2_only = pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() != "AVX2",
                               reason="float32 normals replay torch's AVX2 kernel")
not_intel = pytest.mark.skipif(_cpu_is_intel(), reason="bernoulli_(p) uses MKL on Intel")

seeds = st.one_of(st.integers(0, 2**32 - 1), st.integers(2**32, 2**63 - 1),
                  st.sampled_from([0, 1, 42, 67280421310721]))
shapes = st.sampled_from([(), (1,), (2,), (15,), (16,), (17,), (3, 7), (2, 8), (4, 0)])
fdtypes = st.sampled_from(["float32", "float64"])
idtypes = st.sampled_from(["int64", "int32", "int16", "int8", "uint8"])
few = settings(max_examples=25, deadline=None)


def bits(x):
    """Tensors as (dtype, shape, bytes); containers element by element."""
    if isinstance(x, (ember.Tensor, torch.Tensor)):
        a = np.ascontiguousarray(x.detach().numpy())
        return str(x.dtype).split(".")[-1], a.shape, a.tobytes()
    if isinstance(x, (list, tuple)):
        return [bits(v) for v in x]
    if isinstance(x, dict):
        return {k: bits(v) for k, v in x.items()}
    return x


def state_bytes(g) -> bytes:
    s = g.get_state()
    return (s.numpy() if isinstance(s, torch.Tensor) else np.asarray(s)).tobytes()


def run(lib, program, seed: int, explicit: bool):
    """``program(lib, g)`` after seeding; ``g`` is a fresh Generator (or None: the default).
    Returns its result as bits, then both generators' states and a further draw of each."""
    lib.manual_seed(seed ^ 0x5EED if explicit else seed)
    g = lib.Generator().manual_seed(seed) if explicit else None
    try:
        out = bits(program(lib, g))
    except Exception as e:  # noqa: BLE001 - the error is the outcome compared
        return "raised", type(e).__name__, str(e).split("\n")[0]
    after = [lib.get_rng_state().numpy().tobytes(), bits(lib.rand(3, dtype=lib.float64))]
    if g is not None:
        after += [state_bytes(g), bits(lib.rand(3, generator=g))]
    return out, after


def same(program, seed: int, explicit: bool = False) -> None:
    theirs = run(torch, program, seed, explicit)
    ours = run(ember, program, seed, explicit)
    assert theirs[0] != "raised", theirs
    assert ours[0] == theirs[0], "values differ"
    assert ours[1] == theirs[1], "generator state after the call differs"


def dt(lib, name):
    return getattr(lib, name)


# ----- functions that create tensors ----------------------------------------------------------
@avx2_only
@few
@given(seed=seeds, shape=shapes, dtype=fdtypes, explicit=st.booleans())
def test_rand_randn_and_likes(seed, shape, dtype, explicit):
    def program(lib, g):
        d = dt(lib, dtype)
        ref = lib.zeros(shape, dtype=d)
        out = [lib.rand(shape, dtype=d, generator=g),
               lib.randn(*(shape or [()]), dtype=d, generator=g),
               lib.randn(size=shape, dtype=d, generator=g)]
        if g is None:  # the *_like functions take no generator: the default stream
            out += [lib.rand_like(ref), lib.randn_like(ref), lib.randn_like(ref, dtype=lib.float64)]
        return out

    same(program, seed, explicit)


@avx2_only
@few
@given(seed=seeds, shape=shapes, dtype=fdtypes, explicit=st.booleans(),
       mean=st.sampled_from([0.0, -1.5, 3.0]), std=st.sampled_from([1.0, 0.25, 4.0]))
def test_normal_forms(seed, shape, dtype, explicit, mean, std):
    def program(lib, g):
        d = dt(lib, dtype)
        return [lib.normal(mean, std, shape, dtype=d, generator=g),
                lib.normal(lib.full(shape, mean, dtype=d), std, generator=g),
                lib.normal(mean, lib.full(shape, std, dtype=d), generator=g),
                lib.normal(lib.full(shape, mean, dtype=d), lib.full(shape, std, dtype=d),
                           generator=g)]

    same(program, seed, explicit)


@few
@given(seed=seeds, shape=shapes, dtype=idtypes, explicit=st.booleans(),
       high=st.sampled_from([1, 2, 7, 100]))
def test_randint_forms(seed, shape, dtype, explicit, high):
    def program(lib, g):
        d = dt(lib, dtype)
        out = [lib.randint(high, shape, dtype=d, generator=g),
               lib.randint(high, size=shape, dtype=d, generator=g),
               lib.randint(-1 if dtype != "uint8" else 0, high, shape, dtype=d, generator=g),
               lib.randint(low=2, high=high + 2, size=shape, dtype=d, generator=g)]
        if g is None:
            out += [lib.randint_like(lib.zeros(shape, dtype=d), high),
                    lib.randint_like(lib.zeros(shape, dtype=d), 1, high + 1)]
        return out

    same(program, seed, explicit)


@few
@given(seed=seeds, shape=shapes, explicit=st.booleans(),
       bounds=st.sampled_from([(-2**40, 2**40), (0, 2**33), (-3, -1), (0, 2**63 - 1)]))
def test_randint_wide_ranges_and_float_dtypes(seed, shape, explicit, bounds):
    def program(lib, g):
        return [lib.randint(*bounds, shape, generator=g),
                lib.randint(0, 50, shape, dtype=lib.float32, generator=g),
                lib.randint(5, shape, dtype=lib.float64, generator=g)]

    same(program, seed, explicit)


@few
@given(seed=seeds, n=st.sampled_from([0, 1, 2, 15, 16, 17, 100, 1000]), explicit=st.booleans(),
       dtype=st.sampled_from(["int64", "int32", "float32"]))
def test_randperm(seed, n, explicit, dtype):
    same(lambda lib, g: [lib.randperm(n, generator=g), lib.randperm(n, dtype=dt(lib, dtype),
                                                                     generator=g)],
         seed, explicit)


@few
@given(seed=seeds, explicit=st.booleans(), replacement=st.booleans(), dtype=fdtypes,
       n=st.integers(1, 3), cats=st.integers(3, 20), data=st.data())
def test_multinomial(seed, explicit, replacement, dtype, n, cats, data):
    weights = data.draw(st.lists(st.sampled_from([0.0, 0.1, 0.5, 1.0, 3.0]), min_size=cats,
                                 max_size=cats).filter(lambda w: sum(w) > 0))
    k = min(n, sum(1 for w in weights if w > 0)) if not replacement else n + 2

    def program(lib, g):
        w = lib.tensor(weights, dtype=dt(lib, dtype))
        return [lib.multinomial(w, k, replacement, generator=g),
                lib.multinomial(lib.stack([w, w.flip(0)]), k, replacement, generator=g),
                w.multinomial(k, replacement, generator=g)]

    same(program, seed, explicit)


@few
@given(seed=seeds, shape=shapes, dtype=fdtypes, explicit=st.booleans())
def test_bernoulli_with_tensor_probabilities(seed, shape, dtype, explicit):
    def program(lib, g):
        d = dt(lib, dtype)
        p = lib.linspace(0, 1, math.prod(shape), dtype=d).reshape(shape)
        return [lib.bernoulli(p, generator=g), p.bernoulli(generator=g),
                lib.zeros(shape, dtype=d).bernoulli_(p, generator=g)]

    same(program, seed, explicit)


# ----- Tensor methods filling in place ---------------------------------------------------------
METHODS = [("uniform_", (-1.0, 2.0)), ("normal_", (1.0, 2.0)), ("exponential_", (1.5,)),
           ("geometric_", (0.3,)), ("log_normal_", (0.2, 0.5)), ("cauchy_", (0.0, 2.0)),
           ("random_", ()), ("random_", (10,)), ("random_", (-5, 10))]


@avx2_only
@pytest.mark.parametrize("method,args", METHODS, ids=[f"{m}{len(a)}" for m, a in METHODS])
@few
@given(seed=seeds, shape=shapes, dtype=fdtypes, explicit=st.booleans())
def test_float_fills(method, args, seed, shape, dtype, explicit):
    def program(lib, g):
        t = lib.zeros(shape, dtype=dt(lib, dtype))
        getattr(t, method)(*args, generator=g)
        u = getattr(lib.zeros(shape, dtype=dt(lib, dtype)), method)(*args, generator=g)
        return t, u

    same(program, seed, explicit)


@few
@given(seed=seeds, shape=shapes, dtype=idtypes, explicit=st.booleans(),
       form=st.sampled_from([(), (3,), (1, 7), ("to", 4)]))
def test_integer_fills(seed, shape, dtype, explicit, form):
    def program(lib, g):
        t = lib.zeros(shape, dtype=dt(lib, dtype))
        if form and form[0] == "to":
            t.random_(to=form[1], generator=g)
        else:
            t.random_(*form, generator=g)
        return t, lib.zeros(shape, dtype=dt(lib, dtype)).geometric_(0.5, generator=g)

    same(program, seed, explicit)


@not_intel
@few
@given(seed=seeds, shape=shapes, dtype=st.sampled_from(["float32", "float64", "int64", "bool"]),
       explicit=st.booleans(), p=st.sampled_from([0.0, 0.3, 0.5, 1.0]))
def test_bernoulli_scalar_p(seed, shape, dtype, explicit, p):
    def program(lib, g):
        return [lib.zeros(shape, dtype=dt(lib, dtype)).bernoulli_(p, generator=g),
                lib.bernoulli(lib.zeros(shape), p, generator=g)]

    same(program, seed, explicit)


# ----- generator objects and the seed/state functions -----------------------------------------
@few
@given(seed=seeds, n=st.sampled_from([1, 3, 16, 17]))
def test_generator_objects_and_state_functions(seed, n):
    def program(lib, g):
        out = []
        h = lib.Generator()
        out.append((h.initial_seed(), h.manual_seed(seed) is h, h.initial_seed()))
        lib.zeros(n, dtype=lib.float64).log_normal_(generator=h)  # may leave a cached normal
        saved = h.get_state()
        first = lib.randn(n, dtype=lib.float64, generator=h)
        h.set_state(saved)
        out += [first, lib.randn(n, dtype=lib.float64, generator=h)]
        twin = lib.Generator()
        twin.set_state(h.get_state())
        out += [lib.rand(5, generator=twin), lib.rand(5, generator=h)]
        # the default generator through the top level and ember.random
        out.append((lib.initial_seed(), lib.random.initial_seed(),
                    lib.default_generator.initial_seed()))
        state = lib.get_rng_state()
        a = lib.zeros(n, dtype=lib.float64).normal_()
        lib.set_rng_state(state)
        lib.random.set_rng_state(lib.random.get_rng_state())
        out += [a, lib.zeros(n, dtype=lib.float64).normal_()]
        with lib.random.fork_rng():
            out.append(lib.rand(4))
        with lib.random.fork_rng(enabled=False):
            out.append(lib.rand(4))
        out.append(lib.random.manual_seed(seed) is lib.default_generator)
        return out

    same(program, seed)


def test_seed_functions_reseed_from_fresh_entropy():
    """seed() draws a non-deterministic seed and reports it; the stream follows that seed."""
    for lib in (ember, torch):
        s = lib.seed()
        assert isinstance(s, int) and s == lib.initial_seed() == lib.random.initial_seed()
        drawn = bits(lib.rand(4))
        lib.manual_seed(s)
        assert bits(lib.rand(4)) == drawn
        g = lib.Generator()
        t = g.seed()
        assert t == g.initial_seed()
    ember.manual_seed(s)
    torch.manual_seed(s)
    assert bits(ember.rand(4)) == bits(torch.rand(4))


# ----- what is built on the generator -----------------------------------------------------------
INITS = [("uniform_", {}), ("normal_", {"std": 0.5}), ("xavier_uniform_", {}),
         ("xavier_normal_", {"gain": 2.0}), ("kaiming_uniform_", {"a": math.sqrt(5)}),
         ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
         ("trunc_normal_", {"std": 0.02}), ("sparse_", {"sparsity": 0.3})]


@avx2_only
@pytest.mark.parametrize("name,kwargs", INITS, ids=[n for n, _ in INITS])
@few
@given(seed=seeds, shape=st.sampled_from([(3, 5), (16, 1), (4, 4), (6, 2, 3), (17, 2)]),
       dtype=fdtypes, explicit=st.booleans())
def test_nn_init(name, kwargs, seed, shape, dtype, explicit):
    if name == "sparse_" and len(shape) != 2:
        shape = shape[:2]

    def program(lib, g):
        t = lib.empty(shape, dtype=dt(lib, dtype))
        getattr(lib.nn.init, name)(t, generator=g, **kwargs)
        return t

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(program, seed, explicit)


@few
@given(seed=seeds, shape=st.sampled_from([(3, 5), (5, 3), (4, 4), (6, 2, 3)]), dtype=fdtypes,
       explicit=st.booleans())
def test_orthogonal_init_draws_as_torch(seed, shape, dtype, explicit):
    """orthogonal_'s QR runs in NumPy's LAPACK: values agree to rounding, the draws exactly."""

    def program(lib, g):
        t = lib.empty(shape, dtype=dt(lib, dtype))
        lib.nn.init.orthogonal_(t, gain=1.5, generator=g)
        return t

    theirs = run(torch, program, seed, explicit)
    ours = run(ember, program, seed, explicit)
    assert ours[1] == theirs[1], "generator state after the call differs"
    (_, shape_t, raw_t), (_, shape_e, raw_e) = theirs[0], ours[0]
    assert shape_t == shape_e
    np.testing.assert_allclose(np.frombuffer(raw_e, dtype), np.frombuffer(raw_t, dtype),
                               rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6)


LAYERS = [
    lambda nn: nn.Linear(3, 2), lambda nn: nn.Linear(17, 5, bias=False),
    lambda nn: nn.Conv2d(3, 4, 3), lambda nn: nn.Conv1d(2, 4, 5, groups=2),
    lambda nn: nn.ConvTranspose2d(2, 3, 2), lambda nn: nn.Bilinear(2, 3, 4),
    lambda nn: nn.Embedding(7, 3, padding_idx=1), lambda nn: nn.LSTM(3, 4, 2),
    lambda nn: nn.GRU(2, 3, bidirectional=True), lambda nn: nn.RNN(3, 2),
    lambda nn: nn.MultiheadAttention(4, 2), lambda nn: nn.PReLU(),
    lambda nn: nn.TransformerEncoderLayer(4, 2, 8),
]


@avx2_only
@few
@given(seed=seeds, layer=st.integers(0, len(LAYERS) - 1), double=st.booleans())
def test_default_layer_initialisation(seed, layer, double):
    def program(lib, g):
        m = LAYERS[layer](lib.nn)
        if double:
            m = m.double()
        return list(m.state_dict().values())

    same(program, seed)


@not_intel  # dropout draws its mask with bernoulli_(1 - p)
@few
@given(seed=seeds, shape=st.sampled_from([(2, 3), (16,), (17,), (2, 3, 4), (2, 3, 2, 2)]),
       dtype=fdtypes, p=st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.0]))
def test_dropout_masks(seed, shape, dtype, p):
    def program(lib, g):
        F = lib.nn.functional
        x = lib.ones(shape, dtype=dt(lib, dtype))
        out = [F.dropout(x, p), F.dropout(x, p, training=False), F.alpha_dropout(x, p, True),
               lib.nn.Dropout(p)(x)]
        if len(shape) >= 3:
            out += [F.dropout2d(x, p) if len(shape) == 4 else F.dropout1d(x, p),
                    F.feature_alpha_dropout(x, p, True)]
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(program, seed)


@few
@given(seed=seeds, n=st.integers(1, 40), batch_size=st.integers(1, 9), explicit=st.booleans())
def test_dataloader_shuffle_order(seed, n, batch_size, explicit):
    def program(lib, g):
        loader = lib.utils.data.DataLoader(lib.arange(n), batch_size=batch_size, shuffle=True,
                                           generator=g)
        return [list(loader), list(loader)]

    same(program, seed, explicit)


@few
@given(seed=seeds, n=st.integers(0, 50), parts=st.integers(1, 4), explicit=st.booleans())
def test_random_split(seed, n, parts, explicit):
    cuts = sorted(np.random.default_rng(n).integers(0, n + 1, parts - 1).tolist())
    lengths = [b - a for a, b in zip([0] + cuts, cuts + [n])]

    def program(lib, g):
        split = lib.utils.data.random_split
        kw = {} if g is None else {"generator": g}
        return ([list(s.indices) for s in split(range(n), lengths, **kw)],
                [list(s.indices) for s in split(range(n), [1 / parts] * parts, **kw)])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(program, seed, explicit)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_rand_and_randn_refuse_integer_dtypes_as_torch(dtype):
    """torch's uniform/normal kernels exist for floating dtypes only; nothing is drawn."""

    def program(lib, g):
        out = []
        for make in (lambda: lib.rand(3, dtype=dt(lib, dtype)),
                     lambda: lib.randn(3, dtype=dt(lib, dtype), generator=g),
                     lambda: lib.rand_like(lib.zeros(2, dtype=dt(lib, dtype))),
                     lambda: lib.randn_like(lib.zeros(2, dtype=dt(lib, dtype)))):
            try:
                make()
                out.append("ok")
            except Exception as e:  # noqa: BLE001 - the error is the result
                out.append((type(e).__name__, str(e)))
        return out

    same(program, 7, explicit=True)


@few
@given(seed=seeds, shape=shapes, dtype=st.sampled_from(["float32", "float64"]),
       bounds=st.sampled_from([(1 / 8, 1 / 3), (0.1, 0.1), (0.0, 1.0), (0.3, 0.7)]),
       inplace=st.booleans())
def test_rrelu_training_slopes(seed, shape, dtype, bounds, inplace):
    """F.rrelu(training=True): one double uniform per element <= 0, in row-major order; the
    gradient is scaled by the same slopes."""

    def program(lib, g):
        x = lib.randn(shape, dtype=dt(lib, dtype), requires_grad=True)
        y = lib.nn.functional.rrelu(x * 1 if inplace else x, *bounds, training=True,
                                    inplace=inplace)
        (y * y.detach()).sum().backward()
        return y.detach(), x.grad, y.grad_fn.name() if y.grad_fn else None

    same(program, seed)
