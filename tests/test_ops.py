"""Every op of ``op_db`` against torch: values, dtypes, shapes, grad_fn names, first and
second derivatives, and the errors misuse raises (type and first line of the message).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from op_db import GENERAL_ERRORS, OP_DB, PUBLIC_OPS, make_inputs
from op_db_complex import UNSUPPORTED
from oracle import torch

FORWARD_EXAMPLES = 40
GRAD_EXAMPLES = 30
GRADGRAD_EXAMPLES = 20
SEEDS = st.integers(0, 2**32 - 1)


# ----- helpers --------------------------------------------------------------------------------
def outcome(thunk):
    """``("ok", value)`` or ``("error", exception type name, first line of its message)``."""
    try:
        return ("ok", thunk())
    except Exception as e:  # noqa: BLE001 - any exception is an outcome to compare
        lines = str(e).splitlines()
        return ("error", type(e).__name__, lines[0] if lines else "")


def flat(out) -> list:
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in flat(item)]
    return [out]


def np_dtype(t) -> np.dtype:
    return np.dtype(str(t.dtype).removeprefix("torch."))


def values(t) -> np.ndarray:
    return np.asarray(t.detach().numpy(force=True))  # force: torch may give a ZeroTensor


def grad_fn_names(t):
    """``(name(), class name)`` of ``t.grad_fn`` (they differ for e.g. CopySlices)."""
    fn = t.grad_fn
    return None if fn is None else (fn.name(), type(fn).__name__)


def tolerances(entry, dtype: np.dtype, low_precision: bool = False):
    if dtype == np.float64 and not low_precision:
        return entry.rtol64, entry.atol64
    return entry.rtol, entry.atol


def has_float32(sample) -> bool:
    """Gradients mixing float32 and float64 carry float32 rounding, even the float64 ones."""
    return any(a.dtype == np.float32 for a in sample.arrays)


def assert_same_tensor(entry, e, t, what: str, low_precision: bool = False) -> None:
    assert str(e.dtype) == str(t.dtype), f"{what}: dtype {e.dtype} != torch {t.dtype}"
    assert tuple(e.shape) == tuple(t.shape), f"{what}: shape {tuple(e.shape)} != {tuple(t.shape)}"
    ev, tv = values(e), values(t)
    if ev.dtype.kind == "f":
        rtol, atol = tolerances(entry, ev.dtype, low_precision)
        np.testing.assert_allclose(ev.astype(np.float64), tv.astype(np.float64), rtol=rtol,
                                   atol=atol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(ev, tv, err_msg=what)


def assert_same_outcome(e, t, what: str) -> bool:
    """Both raised alike (returns False), or both returned (returns True)."""
    if e[0] == "error" or t[0] == "error":
        assert e[0] == t[0] == "error", f"{what}: ember gave {e[:3]!r}, torch gave {t[:3]!r}"
        assert e[1:] == t[1:], f"{what}: ember raised {e[1:]}, torch raised {t[1:]}"
        return False
    return True


def random_like(m, rng, t):
    return m.tensor(rng.standard_normal(tuple(t.shape)).astype(np_dtype(t)))


def params(test: str, entries):
    marks = []
    for entry in entries:
        reason = entry.xfail.get(test)
        mark = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        marks.append(pytest.param(entry, id=entry.name, marks=mark))
    return marks


DIFFERENTIABLE = [e for e in OP_DB if e.differentiable and not e.forward_only]
TWICE_DIFFERENTIABLE = [e for e in DIFFERENTIABLE if e.second_order]


# ----- forward --------------------------------------------------------------------------------
def run_forward(m, entry, sample, requires_grad):
    inputs = make_inputs(m, sample, requires_grad)
    return flat(entry.call(m, *inputs, **sample.kwargs))


def quietly(thunk):
    """Run ``thunk`` with NumPy's RuntimeWarnings as errors: torch's ops never warn there."""
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            return thunk()

    return run


@pytest.mark.parametrize("entry", params("forward", OP_DB))
@settings(max_examples=FORWARD_EXAMPLES)
@given(data=st.data())
def test_forward(entry, data):
    sample = data.draw(entry.samples(False), label="sample")
    requires_grad = data.draw(st.booleans(), label="requires_grad") and entry.differentiable
    e = outcome(quietly(lambda: run_forward(ember, entry, sample, requires_grad)))
    t = outcome(lambda: run_forward(torch, entry, sample, requires_grad))
    if not assert_same_outcome(e, t, entry.name):
        return
    e_outs, t_outs = e[1], t[1]
    assert len(e_outs) == len(t_outs), f"{len(e_outs)} outputs, torch gives {len(t_outs)}"
    for i, (eo, to) in enumerate(zip(e_outs, t_outs)):
        assert_same_tensor(entry, eo, to, f"output {i}")
        assert eo.requires_grad == to.requires_grad, f"output {i}: requires_grad"
        assert grad_fn_names(eo) == grad_fn_names(to), f"output {i}: grad_fn"


# ----- first derivatives ----------------------------------------------------------------------
def run_grad(m, entry, sample, seed, create_graph=False):
    """The gradients of the outputs (with random grad_outputs) w.r.t. the float inputs."""
    inputs = make_inputs(m, sample, True)
    outs = flat(entry.call(m, *inputs, **sample.kwargs))
    diff_in = [x for x in inputs if x.requires_grad]
    diff_out = [o for o in outs if o.requires_grad]
    if not diff_in or not diff_out:
        return inputs, diff_in, [o.requires_grad for o in outs], None
    rng = np.random.default_rng(seed)
    grad_outputs = [random_like(m, rng, o) for o in diff_out]
    grads = m.autograd.grad(diff_out, diff_in, grad_outputs, allow_unused=True,
                            create_graph=create_graph)
    return inputs, diff_in, diff_out, grads


def compare_grads(entry, e_grads, t_grads, what, low_precision=False):
    assert len(e_grads) == len(t_grads)
    for i, (eg, tg) in enumerate(zip(e_grads, t_grads)):
        assert (eg is None) == (tg is None), f"{what} {i}: ember {eg!r}, torch {tg!r}"
        if eg is not None:
            assert_same_tensor(entry, eg, tg, f"{what} {i}", low_precision)


@pytest.mark.parametrize("entry", params("grad", DIFFERENTIABLE))
@settings(max_examples=GRAD_EXAMPLES)
@given(data=st.data())
def test_grad(entry, data):
    sample = data.draw(entry.samples(True), label="sample")
    seed = data.draw(SEEDS, label="seed")
    e = outcome(lambda: run_grad(ember, entry, sample, seed))
    t = outcome(lambda: run_grad(torch, entry, sample, seed))
    if not assert_same_outcome(e, t, entry.name):
        return
    _, _, e_out, e_grads = e[1]
    _, _, t_out, t_grads = t[1]
    if t_grads is None or e_grads is None:
        assert e_grads is None and t_grads is None, "which outputs require grad"
        assert e_out == t_out, "outputs' requires_grad"
        return
    compare_grads(entry, e_grads, t_grads, "grad", has_float32(sample))
    # backward() on a non-scalar output needs an explicit gradient
    if e_out[0].numel() != 1:
        be = outcome(lambda: e_out[0].backward())
        bt = outcome(lambda: t_out[0].backward())
        assert_same_outcome(be, bt, "backward() on a non-scalar")


# ----- second derivatives ---------------------------------------------------------------------
def run_gradgrad(m, entry, sample, seed):
    inputs, diff_in, diff_out, grads = run_grad(m, entry, sample, seed, create_graph=True)
    if grads is None:
        return None, None
    rng = np.random.default_rng(seed + 1)
    weights = [random_like(m, rng, x) for x in diff_in]
    terms = [(g * w).sum() for g, w in zip(grads, weights) if g is not None and g.requires_grad]
    if not terms:
        second = [None] * len(diff_in)
    else:
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        second = m.autograd.grad(total, diff_in, allow_unused=True)
    # an unused input or a gradient that does not depend on the inputs: the zero derivative
    second = [m.zeros_like(x) if g is None else g for g, x in zip(second, diff_in)]
    return grads, second


@pytest.mark.parametrize("entry", params("gradgrad", TWICE_DIFFERENTIABLE))
@settings(max_examples=GRADGRAD_EXAMPLES)
@given(data=st.data())
def test_gradgrad(entry, data):
    sample = data.draw(entry.samples(True), label="sample")
    seed = data.draw(SEEDS, label="seed")
    e = outcome(lambda: run_gradgrad(ember, entry, sample, seed))
    t = outcome(lambda: run_gradgrad(torch, entry, sample, seed))
    if not assert_same_outcome(e, t, entry.name):
        return
    (e_grads, e_second), (t_grads, t_second) = e[1], t[1]
    if t_grads is None or e_grads is None:
        assert e_grads is None and t_grads is None
        return
    compare_grads(entry, e_grads, t_grads, "grad (create_graph)", has_float32(sample))
    compare_grads(entry, e_second, t_second, "second derivative", has_float32(sample))


# ----- backward through a freed graph ---------------------------------------------------------
def run_twice(m, entry, sample, seed):
    _, diff_in, diff_out, grads = run_grad(m, entry, sample, seed)
    if grads is None:
        return None
    rng = np.random.default_rng(seed)
    grad_outputs = [random_like(m, rng, o) for o in diff_out]
    return m.autograd.grad(diff_out, diff_in, grad_outputs, allow_unused=True)


@pytest.mark.parametrize("entry", params("twice", DIFFERENTIABLE))
@settings(max_examples=5)
@given(data=st.data())
def test_backward_twice(entry, data):
    """A second backward without retain_graph fails exactly when torch's does."""
    sample = data.draw(entry.samples(True), label="sample")
    seed = data.draw(SEEDS, label="seed")
    e = outcome(lambda: run_twice(ember, entry, sample, seed))
    t = outcome(lambda: run_twice(torch, entry, sample, seed))
    if not assert_same_outcome(e, t, entry.name) or e[1] is None or t[1] is None:
        return
    compare_grads(entry, e[1], t[1], "second backward", has_float32(sample))


def test_backward_is_silent():
    x = ember.tensor([0.0, 4.0], requires_grad=True)
    quietly(lambda: ember.autograd.grad(ember.sqrt(x).sum(), x))()


# ----- misuse ---------------------------------------------------------------------------------
MISUSE_XFAIL: dict = {}
MISUSE = [(entry.name, desc, case) for entry in OP_DB for desc, case in entry.errors] + [
    ("autograd", desc, case) for desc, case in GENERAL_ERRORS
]


@pytest.mark.parametrize(
    "case",
    [pytest.param(case, id=f"{name}: {desc}",
                  marks=[pytest.mark.xfail(strict=True, reason=MISUSE_XFAIL[(name, desc)])]
                  if (name, desc) in MISUSE_XFAIL else [])
     for name, desc, case in MISUSE],
)
def test_misuse(case):
    t = outcome(lambda: case(torch))
    assert t[0] == "error", "the misuse case does not fail under torch"
    e = outcome(lambda: case(ember))
    assert e[0] == "error", f"ember accepted it; torch raised {t[1]}: {t[2]}"
    assert e[1:] == t[1:]


# ----- coverage -------------------------------------------------------------------------------
def _public_ops() -> list:
    """The op functions ``ember``, ``ember.linalg`` and ``ember.nn.functional`` export."""
    names = []
    for prefix, namespace, origin in (("", ember, "ember.ops"),
                                      ("linalg.", ember.linalg, "ember."),
                                      ("nn.functional.", ember.nn.functional, "ember.")):
        for name in dir(namespace):
            obj = getattr(namespace, name)
            if not name.startswith("_") and callable(obj) and not isinstance(obj, type) and (
                getattr(obj, "__module__", "") or ""
            ).startswith(origin):
                names.append(prefix + name)
    return sorted(names)


def test_public_ops_list_is_current():
    """``op_db.PUBLIC_OPS`` lists exactly the ops ``ember`` exports."""
    assert _public_ops() == sorted(PUBLIC_OPS)


def test_every_public_op_has_an_entry():
    """Ops ember refuses (they would make complex tensors) are checked by the test below."""
    covered = {name for entry in OP_DB for name in entry.covers} | set(UNSUPPORTED)
    assert [name for name in PUBLIC_OPS if name not in covered] == []


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_ops_say_so(name):
    """torch makes a complex tensor here; ember raises NotImplementedError naming the op."""
    assert isinstance(UNSUPPORTED[name](torch), torch.Tensor)
    with pytest.raises(NotImplementedError, match=f"torch.{name}\\)"):
        UNSUPPORTED[name](ember)


def test_every_public_op_has_misuse_cases():
    """Aliases share their target's cases; every other public op has its own."""
    with_errors = {name for entry in OP_DB if entry.errors for name in entry.covers}
    aliases = {name for entry in OP_DB if entry.forward_only for name in entry.covers}
    with_errors |= set(UNSUPPORTED)  # their misuse is the refusal itself
    assert [n for n in PUBLIC_OPS if n not in with_errors and n not in aliases] == []
