"""ember._random_ops against torch: same seed, same values, bit for bit.

Each test seeds torch and ember alike (the default generators, or a fresh ``Generator``
passed as ``generator=``), runs the op in both, and requires identical dtype, shape and bits
(not closeness) - then draws ``rand(3)`` from both, so an op that consumed the wrong number
of words fails too.  Error cases compare the exception type and the first message line.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember import _random_ops as ops
from oracle import torch

AVX2 = torch.backends.cpu.get_cpu_capability() == "AVX2"


def _cpu_is_intel() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return "GenuineIntel" in f.read(4096)
    except OSError:
        return False


# On Intel CPUs torch sends bernoulli_(float p) through MKL, which ember does not replay.
INTEL = _cpu_is_intel()

FLOATS = ["float16", "float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]
SHAPES = [(), (0,), (1,), (15,), (16,), (17,), (3, 5), (5, 3), (4, 4), (2, 8), (17, 1),
          (1, 17), (4, 5), (2, 0, 3), (2, 3, 3)]

seeds = st.one_of(st.integers(0, 2**64 - 1), st.integers(-(2**63), -1),
                  st.sampled_from([0, 1, 42, 67280421310721]))
shapes = st.sampled_from(SHAPES)
fdtypes = st.sampled_from(FLOATS)
few = settings(max_examples=40)
more = settings(max_examples=150)


# ----- helpers ---------------------------------------------------------------------------------
def same(e, t) -> None:
    """Bit-identical: dtype, shape, values (NaN where NaN) and signs of zeros."""
    assert str(e.dtype) == str(t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    a, b = np.asarray(e._array), t.detach().numpy()
    assert a.dtype == b.dtype
    floating = a.dtype.kind == "f"
    assert np.array_equal(a, b, equal_nan=floating), (a, b)
    if floating:
        assert np.array_equal(np.signbit(a), np.signbit(b))


class Draw:
    """Seeds both libraries; ``eg``/``tg`` are the generators to pass (None: the defaults)."""

    def __init__(self, seed: int, explicit: bool) -> None:
        torch.manual_seed(seed)
        ember.manual_seed(seed)
        self.eg = self.tg = None
        if explicit:
            # the defaults get another seed, so drawing from the wrong generator shows
            torch.manual_seed(seed ^ 0x5EED)
            ember.manual_seed(seed ^ 0x5EED)
            self.eg = ember.Generator().manual_seed(seed)
            self.tg = torch.Generator().manual_seed(seed)

    def continues(self) -> None:
        """Both streams go on alike after the op (the explicit generator and the default)."""
        if self.eg is not None:
            same(ember.rand(3, generator=self.eg), torch.rand(3, generator=self.tg))
        same(ember.rand(3), torch.rand(3))


def edt(name: str):
    return getattr(ember, name)


def tdt(name: str):
    return getattr(torch, name)


def targets(shape: tuple, dtype: str, layout: str):
    """A pair of tensors to fill in place: contiguous, a transpose (a permutation in 3-D),
    or a strided slice."""
    if layout == "t" and len(shape) == 3:
        base = (shape[1], shape[2], shape[0])
        return (ember.zeros(base, dtype=edt(dtype)).permute(2, 0, 1),
                torch.zeros(base, dtype=tdt(dtype)).permute(2, 0, 1))
    if layout == "t" and len(shape) == 2:
        return (ember.zeros(shape[::-1], dtype=edt(dtype)).t(),
                torch.zeros(shape[::-1], dtype=tdt(dtype)).t())
    if layout == "step" and len(shape) == 2:
        wide = (shape[0], 2 * shape[1])
        return (ember.zeros(wide, dtype=edt(dtype))[:, ::2],
                torch.zeros(wide, dtype=tdt(dtype))[:, ::2])
    return ember.zeros(shape, dtype=edt(dtype)), torch.zeros(shape, dtype=tdt(dtype))


layouts = st.sampled_from(["contig", "contig", "t", "step"])


def fill_both(d: Draw, method: str, shape, dtype, layout, *args, **kwargs):
    e, t = targets(shape, dtype, layout)
    er = getattr(e, method)(*args, generator=d.eg, **kwargs)
    tr = getattr(t, method)(*args, generator=d.tg, **kwargs)
    assert er is e and tr is t
    same(e, t)
    assert e._version == t._version
    d.continues()


# ----- in-place fills ----------------------------------------------------------------------
@given(seeds, shapes, fdtypes, layouts, st.booleans(),
       st.sampled_from([(0.0, 1.0), (-2.0, 3.0), (1.5, 1.5), (-1e-3, 7.25), (0, 1e30)]))
@more
def test_uniform_(seed, shape, dtype, layout, explicit, bounds):
    if dtype == "float16" and bounds[1] > 65504:
        bounds = (0.0, 100.0)
    fill_both(Draw(seed, explicit), "uniform_", shape, dtype, layout, *bounds)


def test_uniform_defaults_and_from_keyword():
    torch.manual_seed(3)
    ember.manual_seed(3)
    same(ember.zeros(5).uniform_(), torch.zeros(5).uniform_())
    same(ember.zeros(5).uniform_(**{"from": -1, "to": 2}),
         torch.zeros(5).uniform_(**{"from": -1, "to": 2}))
    same(ember.zeros(5).uniform_(to=4), torch.zeros(5).uniform_(to=4))


@given(seeds, shapes, fdtypes, layouts, st.booleans(),
       st.sampled_from([(0.0, 1.0), (2.0, 0.5), (-3.0, 0.0), (1.0, 1e-3), (0.0, 4.0)]))
@more
def test_normal_(seed, shape, dtype, layout, explicit, params):
    n = math.prod(shape)
    contiguous = targets(shape, dtype, layout)[0].is_contiguous()
    if not AVX2 and dtype != "float64" and n >= 16 and contiguous:
        return  # the float Box-Muller replays torch's AVX2 kernel
    fill_both(Draw(seed, explicit), "normal_", shape, dtype, layout, *params)


@given(seeds, shapes, st.sampled_from(FLOATS + INTS + ["bool"]), layouts, st.booleans(),
       st.data())
@more
def test_random_(seed, shape, dtype, layout, explicit, data):
    if dtype == "bool":
        forms = [(), (2,), (0, 2), (1, None), (0, None)]
    elif dtype == "uint8":
        forms = [(), (7,), (3, 200), (5, None), (255,)]
    else:
        forms = [(), (7,), (-5, 100), (-3, None), (100,), (0, 1)]
        if dtype != "int8":
            forms += [(2**10, 2**11), (-(2**11), None)]
        if dtype in ("int32", "int64", "float32", "float64"):
            forms += [(-(2**20), 2**29), (1 << 24,)]
        if dtype in ("int32", "int64", "float64"):
            forms += [(2**30, None)]
        if dtype in ("int64", "float64"):
            forms += [(-(2**40), 2**50), (-(2**63), None)]
    form = data.draw(st.sampled_from(forms))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fill_both(Draw(seed, explicit), "random_", shape, dtype, layout, *form)


def test_random_to_keyword():
    torch.manual_seed(5)
    ember.manual_seed(5)
    same(ember.zeros(6).random_(to=9), torch.zeros(6).random_(to=9))
    same(ember.zeros(6).random_(**{"from": 2, "to": 9}),
         torch.zeros(6).random_(**{"from": 2, "to": 9}))
    same(ember.rand(3), torch.rand(3))


def test_random_float_precision_warning():
    with pytest.warns(UserWarning, match="to - 1 is out of bounds") as e_rec:
        ember.zeros(3).random_(0, 2**40)
    with pytest.warns(UserWarning, match="to - 1 is out of bounds") as t_rec:
        torch.zeros(3).random_(0, 2**40)
    assert str(e_rec[0].message) == str(t_rec[0].message).split(" (Triggered internally")[0]


@pytest.mark.skipif(INTEL, reason="bernoulli_(float p) goes through MKL on Intel CPUs")
@given(seeds, shapes, st.sampled_from(FLOATS + INTS + ["bool"]), layouts, st.booleans(),
       st.sampled_from([0.5, 0.0, 1.0, 0.1, 0.999]))
@more
def test_bernoulli_scalar_p(seed, shape, dtype, layout, explicit, p):
    fill_both(Draw(seed, explicit), "bernoulli_", shape, dtype, layout, p)


@given(seeds, shapes, st.sampled_from(FLOATS + ["int64", "bool"]), layouts, st.booleans(),
       fdtypes, st.sampled_from(["full", "row", "scalar"]))
@more
def test_bernoulli_tensor_p(seed, shape, dtype, layout, explicit, p_dtype, p_shape):
    if p_shape == "row" and shape:
        ps = shape[-1:]
    elif p_shape == "scalar":
        ps = ()
    else:
        ps = shape
    probs = np.random.RandomState(seed % 2**32).rand(*ps)
    ep = ember.tensor(probs, dtype=edt(p_dtype))
    tp = torch.tensor(probs, dtype=tdt(p_dtype))
    d = Draw(seed, explicit)
    e, t = targets(shape, dtype, layout)
    e.bernoulli_(ep, generator=d.eg)
    t.bernoulli_(tp, generator=d.tg)
    same(e, t)
    d.continues()


def test_bernoulli_default_p():
    if INTEL:
        pytest.skip("bernoulli_(float p) goes through MKL on Intel CPUs")
    torch.manual_seed(11)
    ember.manual_seed(11)
    same(ember.zeros(20).bernoulli_(), torch.zeros(20).bernoulli_())
    same(ember.zeros(4).bernoulli_(p=0.25), torch.zeros(4).bernoulli_(p=0.25))
    same(ember.rand(3), torch.rand(3))


SIMPLE_FILLS = [
    ("exponential_", FLOATS, [(), (1.0,), (0.5,), (30.0,), (math.inf,)]),
    ("geometric_", FLOATS + INTS[3:], [(0.5,), (0.05,), (0.9,)]),
    ("log_normal_", FLOATS, [(), (1.0, 2.0), (0.0, 0.25), (-2.0, 1.0)]),
    ("cauchy_", FLOATS, [(), (0.0, 1.0), (3.0, 0.5), (-1.0, 1e-3)]),
]


@pytest.mark.parametrize("method,dtypes,forms", SIMPLE_FILLS, ids=[f[0] for f in SIMPLE_FILLS])
@given(seed=seeds, shape=shapes, layout=layouts, explicit=st.booleans(), data=st.data())
@few
def test_simple_fills(method, dtypes, forms, seed, shape, layout, explicit, data):
    dtype = data.draw(st.sampled_from(dtypes))
    form = data.draw(st.sampled_from(forms))
    fill_both(Draw(seed, explicit), method, shape, dtype, layout, *form)


def test_fill_keywords():
    torch.manual_seed(9)
    ember.manual_seed(9)
    same(ember.zeros(5).exponential_(lambd=2.0), torch.zeros(5).exponential_(lambd=2.0))
    same(ember.zeros(5).geometric_(p=0.3), torch.zeros(5).geometric_(p=0.3))
    same(ember.zeros(5).log_normal_(std=0.5), torch.zeros(5).log_normal_(std=0.5))
    same(ember.zeros(5).cauchy_(sigma=2.0), torch.zeros(5).cauchy_(sigma=2.0))
    same(ember.zeros(5).normal_(mean=2.0), torch.zeros(5).normal_(mean=2.0))
    same(ember.rand(3), torch.rand(3))


# ----- new tensors -------------------------------------------------------------------------
@given(seeds, shapes, fdtypes, st.booleans(), st.booleans(), st.booleans())
@more
def test_bernoulli_function(seed, shape, dtype, explicit, method, transposed):
    probs = np.random.RandomState(seed % 2**32).rand(*shape)
    ei = ember.tensor(probs, dtype=edt(dtype))
    ti = torch.tensor(probs, dtype=tdt(dtype))
    if transposed and len(shape) == 2:
        ei = ember.tensor(probs.T.copy(), dtype=edt(dtype)).t()
        ti = torch.tensor(probs.T.copy(), dtype=tdt(dtype)).t()
    d = Draw(seed, explicit)
    if method:
        same(ei.bernoulli(generator=d.eg), ti.bernoulli(generator=d.tg))
    else:
        same(ops.bernoulli(ei, generator=d.eg), torch.bernoulli(ti, generator=d.tg))
    d.continues()


@pytest.mark.skipif(INTEL, reason="bernoulli_(float p) goes through MKL on Intel CPUs")
@given(seeds, shapes, st.sampled_from(FLOATS + ["int64", "bool"]), st.booleans(),
       st.sampled_from([0.5, 0.2, 1.0]), layouts)
@more
def test_bernoulli_function_scalar_p(seed, shape, dtype, explicit, p, layout):
    d = Draw(seed, explicit)
    e_in, t_in = targets(shape, dtype, layout)
    e = ops.bernoulli(e_in, p, generator=d.eg)
    t = torch.bernoulli(t_in, p, generator=d.tg)
    same(e, t)
    same(ember.ones(shape, dtype=edt(dtype)).bernoulli(p),
         torch.ones(shape, dtype=tdt(dtype)).bernoulli(p))
    d.continues()


@given(seeds, fdtypes, st.booleans(), st.booleans(), st.sampled_from(["1d", "2d", "2d_t"]),
       st.sampled_from([1, 2, 3, 5, 16, 17]), st.sampled_from([1, 2, 4, 6, 17]),
       st.booleans())
@settings(max_examples=80)
def test_multinomial(seed, dtype, explicit, replacement, kind, n_cat, num_samples, zeros):
    rs = np.random.RandomState(seed % 2**32)
    rows = 1 if kind == "1d" else 3
    probs = rs.uniform(0.05, 2.0, size=(rows, n_cat))
    if zeros and replacement and n_cat > 1:
        probs[:, rs.randint(n_cat)] = 0  # zero weights are never drawn
    if not replacement:
        num_samples = min(num_samples, n_cat)
    if kind == "1d":
        ei = ember.tensor(probs[0], dtype=edt(dtype))
        ti = torch.tensor(probs[0], dtype=tdt(dtype))
    elif kind == "2d":
        ei, ti = ember.tensor(probs, dtype=edt(dtype)), torch.tensor(probs, dtype=tdt(dtype))
    else:  # a transpose: torch fills the exponential keys in memory order
        ei = ember.tensor(probs.T.copy(), dtype=edt(dtype)).t()
        ti = torch.tensor(probs.T.copy(), dtype=tdt(dtype)).t()
    d = Draw(seed, explicit)
    if seed % 2:
        e = ops.multinomial(ei, num_samples, replacement, generator=d.eg)
        t = torch.multinomial(ti, num_samples, replacement, generator=d.tg)
    else:
        e = ei.multinomial(num_samples, replacement=replacement, generator=d.eg)
        t = ti.multinomial(num_samples, replacement=replacement, generator=d.tg)
    same(e, t)
    d.continues()


def test_multinomial_empty_batch():
    torch.manual_seed(1)
    ember.manual_seed(1)
    same(ops.multinomial(ember.ones(0, 3), 2), torch.multinomial(torch.ones(0, 3), 2))
    same(ops.multinomial(ember.ones(0, 3), 5, True), torch.multinomial(torch.ones(0, 3), 5, True))
    same(ember.rand(3), torch.rand(3))


@given(seeds, st.sampled_from([0, 1, 2, 15, 16, 17, 100, 256]),
       st.sampled_from(["int64", "int32", "int16", "uint8", "float32", "float64", "float16",
                        None]), st.booleans())
@more
def test_randperm(seed, n, dtype, explicit):
    d = Draw(seed, explicit)
    kw = {} if dtype is None else {"dtype": tdt(dtype)}
    ekw = {} if dtype is None else {"dtype": edt(dtype)}
    same(ops.randperm(n, generator=d.eg, **ekw), torch.randperm(n, generator=d.tg, **kw))
    d.continues()


def test_randperm_requires_grad():
    torch.manual_seed(2)
    ember.manual_seed(2)
    e = ops.randperm(5, dtype=ember.float32, requires_grad=True)
    t = torch.randperm(5, dtype=torch.float32, requires_grad=True)
    same(e, t)
    assert e.requires_grad and e.is_leaf and t.requires_grad


@given(seeds, shapes, st.sampled_from(FLOATS + INTS), st.booleans(), layouts,
       st.sampled_from([(10,), (-5, 5), (0, 1), (3, 100), (2**30,)]),
       st.sampled_from([None, "int64", "float32", "int16"]))
@more
def test_randint_like(seed, shape, dtype, explicit, layout, bounds, out_dtype):
    e_in, t_in = targets(shape, dtype, layout)
    ekw = {} if out_dtype is None else {"dtype": edt(out_dtype)}
    tkw = {} if out_dtype is None else {"dtype": tdt(out_dtype)}
    effective = out_dtype or dtype
    if bounds[-1] > 100 and effective in ("uint8", "int8", "int16", "float16"):
        bounds = (3, 100)
    if bounds[0] < 0 and effective == "uint8":
        bounds = (0, 1)
    d = Draw(seed, explicit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # float bounds past 2**24: both warn
        same(ops.randint_like(e_in, *bounds, generator=d.eg, **ekw),
             torch.randint_like(t_in, *bounds, generator=d.tg, **tkw))
    d.continues()


def test_randint_like_keywords_and_grad():
    torch.manual_seed(4)
    ember.manual_seed(4)
    same(ops.randint_like(ember.zeros(4), high=7), torch.randint_like(torch.zeros(4), high=7))
    same(ops.randint_like(ember.zeros(4), low=2, high=7),
         torch.randint_like(torch.zeros(4), low=2, high=7))
    e = ops.randint_like(ember.zeros(3), 5, requires_grad=True)
    t = torch.randint_like(torch.zeros(3), 5, requires_grad=True)
    same(e, t)
    assert e.requires_grad and t.requires_grad
    same(ember.rand(3), torch.rand(3))


# ----- generator state -----------------------------------------------------------------------
@given(seeds, st.sampled_from([1, 3, 16, 17]))
@few
def test_rng_state_round_trip(seed, n):
    torch.manual_seed(seed)
    ember.manual_seed(seed)
    # an odd number of double normals leaves a cached sample in the state
    same(ember.zeros(n, dtype=ember.float64).log_normal_(),
         torch.zeros(n, dtype=torch.float64).log_normal_())
    es, ts = ember.get_rng_state(), torch.get_rng_state()
    assert np.asarray(es._array).tobytes() == ts.numpy().tobytes()
    first_e = ember.zeros(5, dtype=ember.float64).normal_()
    first_t = torch.zeros(5, dtype=torch.float64).normal_()
    same(first_e, first_t)
    ember.set_rng_state(es)
    torch.set_rng_state(ts)
    same(ember.zeros(5, dtype=ember.float64).normal_(), first_t)
    assert torch.equal(torch.zeros(5, dtype=torch.float64).normal_(), first_t)
    # torch's own state loads into ember
    ember.set_rng_state(ember.tensor(ts.numpy()))
    same(ember.zeros(5, dtype=ember.float64).normal_(), first_t)
    same(ember.rand(3), torch.rand(3))


@given(seeds)
@few
def test_fork_rng(seed):
    torch.manual_seed(seed)
    ember.manual_seed(seed)
    with ember.random.fork_rng():
        e_in = ember.zeros(7).uniform_()
        ember.zeros(1, dtype=ember.float64).log_normal_()
    with torch.random.fork_rng():
        t_in = torch.zeros(7).uniform_()
        torch.zeros(1, dtype=torch.float64).log_normal_()
    same(e_in, t_in)
    # the forks left the streams where they were
    same(ember.zeros(7).uniform_(), t_in)
    assert torch.equal(torch.zeros(7).uniform_(), t_in)
    same(ember.zeros(3, dtype=ember.float64).normal_(),
         torch.zeros(3, dtype=torch.float64).normal_())
    same(ember.rand(3), torch.rand(3))


# ----- autograd ------------------------------------------------------------------------------
INPLACE_FORMS = [("uniform_", ()), ("normal_", ()), ("random_", ()), ("random_", (5,)),
                 ("random_", (2, 5)), ("random_", (2, None)), ("bernoulli_", (0.5,)),
                 ("exponential_", ()), ("geometric_", (0.5,)), ("log_normal_", ()),
                 ("cauchy_", ())]


@pytest.mark.parametrize("method,args", INPLACE_FORMS)
def test_inplace_fill_records_zero_gradient(method, args):
    grads, names = [], []
    for lib in (ember, torch):
        x = lib.tensor([0.1, 0.2, 0.3, 0.4], requires_grad=True)
        y = x * 2
        getattr(y, method)(*args)
        names.append(type(y.grad_fn).__name__)
        (y * y).sum().backward()
        grads.append(np.asarray(x.grad.tolist()))
    assert names[0] == names[1]
    assert np.array_equal(grads[0], grads[1])


def test_inplace_fill_of_a_view_and_tensor_p():
    grads = []
    for lib in (ember, torch):
        x = lib.tensor([0.1, 0.2, 0.3, 0.4], requires_grad=True)
        p = lib.tensor([0.5, 0.5], requires_grad=True)
        y = x * 2
        y[:2].uniform_()
        assert type(y.grad_fn).__name__ == "CopySlices"
        z = x * 3
        z[1:3].bernoulli_(p)
        (y.sum() + z.sum()).backward()
        grads.append((x.grad.tolist(), p.grad.tolist()))
    assert grads[0] == grads[1]


def test_bernoulli_function_grad():
    for lib, bern in ((ember, ops.bernoulli), (torch, torch.bernoulli)):
        x = lib.tensor([0.1, 0.2, 0.3], requires_grad=True)
        y = bern(x * 2)
        assert type(y.grad_fn).__name__ == "BernoulliBackward0"
        y.sum().backward()
        assert x.grad.tolist() == [0.0, 0.0, 0.0]
        z = bern(x * 2, 0.5)
        assert type(z.grad_fn).__name__ == "NotImplemented"
        with pytest.raises(RuntimeError, match="derivative for aten::bernoulli is not"):
            z.sum().backward()


def test_inplace_fill_under_no_grad_and_versions():
    for lib in (ember, torch):
        x = lib.zeros(3, requires_grad=True)
        with lib.no_grad():
            x.uniform_()
            x.normal_()
        assert x.is_leaf and x.grad_fn is None and x._version == 2


# ----- errors --------------------------------------------------------------------------------
def _f(lib):
    """The module-level functions: torch itself, or ember._random_ops."""
    return torch if lib is torch else ops


NAN, INF = math.nan, math.inf
ERRORS = {
    "bernoulli_p_high": lambda m: _f(m).bernoulli(m.rand(3), 1.5),
    "bernoulli_p_neg": lambda m: _f(m).bernoulli(m.rand(3), -0.5),
    "bernoulli_p_nan": lambda m: _f(m).bernoulli(m.rand(3), NAN),
    "bernoulli_input_range": lambda m: _f(m).bernoulli(m.tensor([0.5, 2.0, 0.25])),
    "bernoulli_int_input": lambda m: _f(m).bernoulli(m.tensor([1, 0])),
    "bernoulli_bool_input": lambda m: _f(m).bernoulli(m.tensor([True])),
    "bernoulli_tensor_p_fn": lambda m: _f(m).bernoulli(m.rand(3), m.rand(3)),
    "bernoulli__p": lambda m: m.zeros(3).bernoulli_(2),
    "bernoulli__tensor_p": lambda m: m.zeros(3).bernoulli_(m.tensor([0.5, 2.0, 0.5])),
    "bernoulli__tensor_p_nan": lambda m: m.zeros(3).bernoulli_(m.tensor([0.5, NAN, 0.5])),
    "bernoulli__int_p": lambda m: m.zeros(3).bernoulli_(m.tensor([1, 0, 1])),
    "bernoulli__p_shape": lambda m: m.zeros(3).bernoulli_(m.rand(2)),
    "bernoulli__p_dims": lambda m: m.zeros(3).bernoulli_(m.rand(2, 3)),
    "multinomial_negative": lambda m: _f(m).multinomial(m.tensor([1.0, -1.0]), 1),
    "multinomial_negative_repl": lambda m: _f(m).multinomial(m.tensor([1.0, -1.0]), 2, True),
    "multinomial_inf": lambda m: _f(m).multinomial(m.tensor([1.0, INF]), 1),
    "multinomial_inf_repl": lambda m: _f(m).multinomial(m.tensor([1.0, INF]), 2, True),
    "multinomial_nan_repl": lambda m: _f(m).multinomial(m.tensor([1.0, NAN]), 2, True),
    "multinomial_rows_repl": lambda m: _f(m).multinomial(
        m.tensor([[1.0, 1.0], [0.0, 0.0], [1.0, -1.0]]), 2, True),
    "multinomial_too_many": lambda m: _f(m).multinomial(m.tensor([1.0, 1.0]), 3),
    "multinomial_zero_samples": lambda m: _f(m).multinomial(m.tensor([1.0, 1.0]), 0),
    "multinomial_int": lambda m: _f(m).multinomial(m.tensor([1, 1]), 1),
    "multinomial_0d": lambda m: _f(m).multinomial(m.tensor(1.0), 1),
    "multinomial_3d": lambda m: _f(m).multinomial(m.ones(2, 2, 2), 1),
    "multinomial_zero_sum": lambda m: _f(m).multinomial(m.zeros(2), 1),
    "multinomial_zero_sum_repl": lambda m: _f(m).multinomial(m.zeros(2), 2, True),
    "multinomial_float_n": lambda m: _f(m).multinomial(m.ones(2), 2.0),
    "multinomial_int_replacement": lambda m: _f(m).multinomial(m.ones(3), 2, 1),
    "multinomial_method": lambda m: m.tensor([1.0, -1.0]).multinomial(1),
    "randperm_negative": lambda m: _f(m).randperm(-1),
    "randperm_bool": lambda m: _f(m).randperm(5, dtype=m.bool),
    "randperm_half": lambda m: _f(m).randperm(5000, dtype=m.float16),
    "randperm_uint8": lambda m: _f(m).randperm(300, dtype=m.uint8),
    "randperm_int8": lambda m: _f(m).randperm(129, dtype=m.int8),
    "randperm_int16": lambda m: _f(m).randperm(2**16 + 1, dtype=m.int16),
    "randperm_grad": lambda m: _f(m).randperm(5, requires_grad=True),
    "randperm_float_n": lambda m: _f(m).randperm(5.0),
    "randperm_bool_n": lambda m: _f(m).randperm(True),
    "randint_like_no_high": lambda m: _f(m).randint_like(m.rand(3)),
    "randint_like_low_high": lambda m: _f(m).randint_like(m.rand(3), 5, 3),
    "randint_like_empty_range": lambda m: _f(m).randint_like(m.rand(3), 5, 5),
    "randint_like_int8": lambda m: _f(m).randint_like(m.rand(3), 1000, dtype=m.int8),
    "randint_like_bool": lambda m: _f(m).randint_like(m.rand(3), 2, 5, dtype=m.bool),
    "randint_like_grad": lambda m: _f(m).randint_like(m.rand(3), 5, dtype=m.int64,
                                                      requires_grad=True),
    "randint_like_float_high": lambda m: _f(m).randint_like(m.rand(3), 5.5),
    "uniform_range": lambda m: m.zeros(3).uniform_(1, 0),
    "uniform_range_frac": lambda m: m.zeros(3).uniform_(1.5, 0.5),
    "uniform_int": lambda m: m.zeros(3, dtype=m.int64).uniform_(),
    "uniform_bool": lambda m: m.zeros(3, dtype=m.bool).uniform_(),
    "uniform_inf": lambda m: m.zeros(3).uniform_(0, INF),
    "uniform_nan": lambda m: m.zeros(3).uniform_(NAN, 1),
    "uniform_span": lambda m: m.zeros(3).uniform_(-3e38, 3e38),
    "uniform_half_bound": lambda m: m.zeros(3, dtype=m.float16).uniform_(0, 70000),
    "normal_std": lambda m: m.zeros(3).normal_(0, -1),
    "normal_std_frac": lambda m: m.zeros(3).normal_(0, -0.5),
    "normal_std_nan": lambda m: m.zeros(3).normal_(0, NAN),
    "normal_int": lambda m: m.zeros(3, dtype=m.int64).normal_(),
    "normal_int_bad_std": lambda m: m.zeros(3, dtype=m.int64).normal_(0, -1),
    "random_range": lambda m: m.zeros(3).random_(5, 3),
    "random_to_zero": lambda m: m.zeros(3).random_(0),
    "random_to_negative": lambda m: m.zeros(3).random_(-1),
    "random_int8_to": lambda m: m.zeros(3, dtype=m.int8).random_(200),
    "random_int8_from": lambda m: m.zeros(3, dtype=m.int8).random_(-200, None),
    "random_int16": lambda m: m.zeros(3, dtype=m.int16).random_(-1000, 2**40),
    "random_int32": lambda m: m.zeros(3, dtype=m.int32).random_(-(2**40), 2),
    "random_uint8": lambda m: m.zeros(3, dtype=m.uint8).random_(-1000, 2),
    "random_bool": lambda m: m.zeros(3, dtype=m.bool).random_(3),
    "random_half": lambda m: m.zeros(3, dtype=m.float16).random_(70000),
    "random_float_from": lambda m: m.zeros(3).random_(2**25, None),
    "random_float_arg": lambda m: m.zeros(3).random_(2, 5.5),
    "random_float_to": lambda m: m.zeros(3).random_(2.5),
    "random_from_keyword": lambda m: m.zeros(3).random_(**{"from": 4}),
    "exponential_negative": lambda m: m.zeros(3).exponential_(-1),
    "exponential_zero": lambda m: m.zeros(3).exponential_(0),
    "exponential_nan": lambda m: m.zeros(3).exponential_(NAN),
    "exponential_int": lambda m: m.zeros(3, dtype=m.int64).exponential_(),
    "exponential_bool": lambda m: m.zeros(3, dtype=m.bool).exponential_(),
    "geometric_zero": lambda m: m.zeros(3).geometric_(0),
    "geometric_one": lambda m: m.zeros(3).geometric_(1),
    "geometric_big": lambda m: m.zeros(3).geometric_(1.5),
    "geometric_nan": lambda m: m.zeros(3).geometric_(NAN),
    "geometric_bool": lambda m: m.zeros(3, dtype=m.bool).geometric_(0.5),
    "log_normal_std": lambda m: m.zeros(3).log_normal_(1, -2),
    "log_normal_zero_std": lambda m: m.zeros(3).log_normal_(1, 0),
    "log_normal_int": lambda m: m.zeros(3, dtype=m.int64).log_normal_(),
    "cauchy_sigma": lambda m: m.zeros(3).cauchy_(0, -1),
    "cauchy_zero_sigma": lambda m: m.zeros(3).cauchy_(0, 0),
    "cauchy_int": lambda m: m.zeros(3, dtype=m.int64).cauchy_(),
    "cauchy_bool": lambda m: m.zeros(3, dtype=m.bool).cauchy_(),
    "leaf_uniform": lambda m: m.zeros(3, requires_grad=True).uniform_(),
    "leaf_normal_bad_std": lambda m: m.zeros(3, requires_grad=True).normal_(0, -1),
    "leaf_view": lambda m: m.zeros(3, requires_grad=True)[:2].bernoulli_(0.5),
    "leaf_random": lambda m: m.zeros(3, requires_grad=True).random_(),
}


def _raise(fn, lib):
    with pytest.raises(Exception) as info:
        fn(lib)
    return info.value


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors(name):
    fn = ERRORS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e_err, t_err = _raise(fn, ember), _raise(fn, torch)
    assert type(e_err) is type(t_err), (e_err, t_err)
    e_line = (str(e_err).splitlines() or [""])[0]
    t_line = (str(t_err).splitlines() or [""])[0]
    assert e_line == t_line


def test_errors_leave_the_stream_alone():
    torch.manual_seed(8)
    ember.manual_seed(8)
    for lib in (ember, torch):
        for bad in (lambda m: m.zeros(3).normal_(0, -1),
                    lambda m: m.zeros(3, requires_grad=True).uniform_(),
                    lambda m: m.zeros(3).random_(5, 3)):
            with pytest.raises(RuntimeError):
                bad(lib)
    same(ember.rand(3), torch.rand(3))


def test_exported_names():
    assert set(ops.FUNCTIONS) == {"bernoulli", "multinomial", "randperm", "randint_like"}
    for name in ops.FUNCTIONS:
        assert callable(getattr(ops, name)) and hasattr(torch, name)
    for name, fn in ops.TENSOR_METHODS.items():
        assert callable(fn) and hasattr(torch.Tensor, name)
    assert not hasattr(ops, "poisson")  # ember._random has no Poisson sampler to replay


def test_random_ops_are_bound_and_exported():
    for name, function in ops.TENSOR_METHODS.items():
        assert getattr(ember.Tensor, name) is function
    for name in ops.FUNCTIONS:
        assert getattr(ember, name) is getattr(ops, name)


def test_generator_state_is_a_byte_tensor():
    from differential import check

    check(lambda lib: lib.Generator().manual_seed(3).get_state())
    check(lambda lib: lib.Generator().set_state(lib.Generator().manual_seed(4).get_state())
          .initial_seed())


@pytest.mark.parametrize("factory", ["rand", "randn", "zeros", "ones", "empty"])
def test_factories_need_a_size(factory):
    from differential import check

    check(lambda lib: getattr(lib, factory)())
