"""The op database: every public ember op, how to call it, and what inputs to try it on.

Like PyTorch's OpInfo. An ``OpEntry`` says how to call the op (``op(m, *tensors, **kwargs)``
with ``m`` the module, ``ember`` or ``torch``), and gives a hypothesis strategy of ``Sample``s
(numpy arrays that become the tensor inputs, plus keyword arguments), tolerances, whether the
op is differentiable (and twice), and misuse cases that must raise the same exception as torch.

``tests/test_ops.py`` runs every entry against torch.
"""

from __future__ import annotations

import math
import operator
import os
import sys
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

F32, F64, I64, BOOL = "float32", "float64", "int64", "bool"
FLOAT_DTYPES = (F32, F64)
NUMERIC_DTYPES = (F32, F64, I64)
ALL_DTYPES = (F32, F64, I64, BOOL)

# Values the elementwise samples favour: kinks (0 for relu/abs/sign), ties, and small integers.
KINKS = (0.0, 0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0)


# ----- samples --------------------------------------------------------------------------------
@dataclass
class Sample:
    """The inputs of one call: ``arrays`` become tensors (``noncontig``: built transposed)."""

    arrays: tuple
    kwargs: dict = field(default_factory=dict)
    noncontig: tuple = ()

    def __repr__(self) -> str:
        parts = [f"{a.dtype}{list(a.shape)}={a.tolist()!r}" for a in self.arrays]
        return f"Sample({', '.join(parts)}, kwargs={self.kwargs!r}, noncontig={self.noncontig})"

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))


def make_tensor(m, array: np.ndarray, requires_grad: bool = False, noncontig: bool = False):
    """A leaf tensor of module ``m`` holding ``array``; transposed in memory if ``noncontig``."""
    if noncontig and array.ndim >= 2:
        order = tuple(reversed(range(array.ndim)))
        t = m.tensor(np.ascontiguousarray(array.transpose(order))).permute(order).detach()
    else:
        t = m.tensor(array)
    if requires_grad:
        t.requires_grad_()
    return t


def make_inputs(m, sample: Sample, requires_grad=True):
    """The tensors of ``sample``; floating ones require grad when ``requires_grad``.

    ``requires_grad`` may be a sequence of flags, one per array.
    """
    flags = requires_grad if isinstance(requires_grad, (list, tuple)) else (
        [requires_grad] * len(sample.arrays))
    noncontig = sample.noncontig or (False,) * len(sample.arrays)
    return [
        make_tensor(m, a, bool(flag) and a.dtype.kind == "f", nc)
        for a, flag, nc in zip(sample.arrays, flags, noncontig)
    ]


def shapes(min_dims=0, max_dims=3, min_side=0, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def elements(dtype: str, domain: str = "real"):
    """Element strategy for ``dtype`` over ``domain``."""
    if dtype == BOOL:
        return st.booleans()
    if dtype == I64:
        if domain == "positive":
            return st.integers(1, 4)
        if domain == "nonzero":
            return st.sampled_from([-3, -2, -1, 1, 2, 3])
        if domain == "small":
            return st.integers(0, 3)
        return st.integers(-4, 4)
    if domain == "positive":
        return st.one_of(st.sampled_from((0.5, 1.0, 2.0)),
                         st.floats(0.125, 4.0, width=32))
    if domain == "nonzero":
        return st.one_of(st.sampled_from((1.0, -1.0, 0.5, -2.0)),
                         st.floats(0.25, 3.0, width=32),
                         st.floats(-3.0, -0.25, width=32))
    if domain == "small":  # exponents
        return st.sampled_from((0.0, 1.0, 2.0, 3.0, 0.5, -1.0, 1.5))
    # Magnitudes below 2**-10 become 0: the kink stays covered, while float32 underflow
    # (whose handling differs between reduction kernels) stays out of the comparison.
    return st.one_of(st.sampled_from(KINKS), st.floats(-3.0, 3.0, width=32).map(
        lambda v: 0.0 if abs(v) < 2.0**-10 else v))


def arrays(dtype: str, shape, domain: str = "real"):
    return hnp.arrays(np.dtype(dtype), shape, elements=elements(dtype, domain))


def _pick_dtypes(dtypes, grad: bool):
    if grad:
        floats = tuple(d for d in dtypes if d in FLOAT_DTYPES)
        return floats or dtypes
    return dtypes


def unary(domain="real", dtypes=NUMERIC_DTYPES, min_dims=0, max_dims=3, min_side=0,
          max_side=4, kwargs=None):
    """One tensor; ``kwargs`` is a function ``shape -> strategy of dict`` (or None)."""

    def make(grad: bool):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(_pick_dtypes(dtypes, grad)))
            shape = draw(shapes(min_dims, max_dims, min_side, max_side))
            array = draw(arrays(dtype, shape, domain))
            kw = draw(kwargs(shape)) if kwargs is not None else {}
            return Sample((array,), kw, (draw(st.booleans()),))

        return sample()

    return make


PAIRS_ALL = ((F32, F32), (F64, F64), (F32, F64), (F64, F32), (I64, I64), (I64, F32),
             (F32, I64), (BOOL, F32), (BOOL, BOOL), (I64, BOOL), (F64, I64), (BOOL, I64))
PAIRS_NUM = tuple(p for p in PAIRS_ALL if BOOL not in p)
PAIRS_FLOAT = ((F32, F32), (F64, F64), (F32, F64), (F64, F32), (F32, I64), (I64, F64))


def _pick_pairs(pairs, grad: bool):
    if grad:
        return tuple(p for p in pairs if p[0] in FLOAT_DTYPES or p[1] in FLOAT_DTYPES)
    return pairs


def binary(domains=("real", "real"), pairs=PAIRS_NUM, max_dims=3, kwargs=None, equal_shapes=False):
    """Two tensors of mutually broadcastable shapes (often equal values, for ties)."""

    def make(grad: bool):
        @st.composite
        def sample(draw):
            da, db = draw(st.sampled_from(_pick_pairs(pairs, grad)))
            if equal_shapes:
                shape = draw(shapes(0, max_dims))
                sa = sb = shape
            else:
                sa, sb = draw(hnp.mutually_broadcastable_shapes(
                    num_shapes=2, min_dims=0, max_dims=max_dims, min_side=0, max_side=3
                )).input_shapes
            a = draw(arrays(da, sa, domains[0]))
            b = draw(arrays(db, sb, domains[1]))
            if sa == sb and draw(st.integers(0, 3)) == 0 and da == db:
                b = a.copy()  # all ties
            kw = draw(kwargs) if kwargs is not None else {}
            return Sample((a, b), kw, (draw(st.booleans()), draw(st.booleans())))

        return sample()

    return make


SCALARS = st.sampled_from((2, 3, -1, 0, 1, 2.5, -0.5, 1.0, True, False))
NONZERO_SCALARS = st.sampled_from((2, 3, -1, 2.5, -0.5, 1.0, True))


def tensor_scalar(domain="real", dtypes=ALL_DTYPES, scalars=SCALARS):
    """One tensor and a Python number ``s``."""

    def make(grad: bool):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(_pick_dtypes(dtypes, grad)))
            shape = draw(shapes())
            return Sample((draw(arrays(dtype, shape, domain)),), {"s": draw(scalars)},
                          (draw(st.booleans()),))

        return sample()

    return make


def dim_kwargs(shape, allow_none=True, allow_tuple=True, keepdim=True):
    """``{"dim": ..., "keepdim": ...}`` for a reduction over ``shape``."""
    ndim = len(shape)
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    options = [st.integers(lo, hi)]
    if allow_tuple and ndim:
        options.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                                unique=True).map(tuple))
    if allow_none:
        options.append(st.none())
    dim = st.one_of(*options)
    return st.fixed_dictionaries({"dim": dim, "keepdim": st.booleans() if keepdim else st.just(
        False)})


# ----- entries --------------------------------------------------------------------------------
@dataclass
class OpEntry:
    name: str
    op: Callable  # op(m, *tensors, **kwargs)
    samples: Callable  # samples(grad: bool) -> strategy of Sample
    torch_op: Callable | None = None  # when torch needs another spelling
    rtol: float = 1e-5  # float32; float64 uses rtol64/atol64
    atol: float = 1e-5
    rtol64: float = 1e-7
    atol64: float = 1e-7
    differentiable: bool = True
    second_order: bool = True
    errors: tuple = ()  # (description, fn(m)) pairs: misuse that must raise as in torch
    covers: tuple = ()  # public ember names this entry exercises
    forward_only: bool = False  # aliases: their targets carry the gradient tests
    xfail: dict = field(default_factory=dict)  # test name -> reason (strict)

    def call(self, m, *tensors, **kwargs):
        fn = self.torch_op if (self.torch_op is not None and m.__name__ == "torch") else self.op
        return fn(m, *tensors, **kwargs)

    def __repr__(self) -> str:
        return self.name

    def _repr_pretty_(self, p, cycle) -> None:  # hypothesis prints failing examples with this
        p.text(self.name)


OP_DB: list[OpEntry] = []


def add_entry(name, op, samples, **kw) -> OpEntry:
    entry = OpEntry(name, op, samples, **kw)
    entry.covers = entry.covers or (name,)
    OP_DB.append(entry)
    return entry


def fn(name):
    """``m.<name>(*tensors, **kwargs)``."""
    return lambda m, *t, **k: getattr(m, name)(*t, **k)


def alias(entry: OpEntry, name: str) -> None:
    """``name`` is another spelling of ``entry``'s op: checked forward (values, grad_fn)."""
    def op(m, *tensors, **kwargs):  # keyword names may differ between aliases: positional
        return getattr(m, name)(*tensors, *kwargs.values())

    OP_DB.append(replace(entry, name=name, op=op, torch_op=None, covers=(name,),
                         errors=(), forward_only=True, xfail={}))


def T(m, *data, **kw):
    """A tensor of module ``m`` (for the misuse cases)."""
    return m.tensor(*data, **kw)


def shape_mismatch(op_name):
    return ("broadcast shape mismatch",
            lambda m: getattr(m, op_name)(m.ones(2, 3), m.ones(4)))


def not_tensor(op_name):
    return ("non-tensor input", lambda m: getattr(m, op_name)(2.0))


# ----- arithmetic -----------------------------------------------------------------------------
add_entry("add", fn("add"), binary(pairs=PAIRS_ALL), errors=(
    shape_mismatch("add"),
    ("float alpha with int tensors", lambda m: m.add(T(m, [1, 2]), T(m, [1, 2]), alpha=0.5)),
))
add_entry("add_alpha", lambda m, x, y, alpha: m.add(x, y, alpha=alpha),
          binary(pairs=PAIRS_FLOAT, kwargs=st.fixed_dictionaries(
              {"alpha": st.sampled_from((2, -1, 0.5))})), covers=())
add_entry("sub", fn("sub"), binary(pairs=PAIRS_ALL), errors=(
    shape_mismatch("sub"),
    ("bool - bool", lambda m: m.sub(T(m, [True]), T(m, [False]))),
))
add_entry("sub_alpha", lambda m, x, y, alpha: m.sub(x, y, alpha=alpha),
          binary(pairs=PAIRS_FLOAT, kwargs=st.fixed_dictionaries(
              {"alpha": st.sampled_from((2, -1, 0.5))})), covers=())
add_entry("rsub", lambda m, x, y: m.rsub(x, y), binary(pairs=PAIRS_NUM), errors=(
    ("broadcast shape mismatch", lambda m: m.rsub(m.ones(2), m.ones(3))),
    ("bool tensor", lambda m: m.rsub(T(m, [True]), 1)),
))
add_entry("mul", fn("mul"), binary(pairs=PAIRS_ALL), errors=(shape_mismatch("mul"),))
add_entry("div", fn("div"), binary(pairs=PAIRS_NUM, domains=("real", "nonzero")), errors=(
    shape_mismatch("div"),
    ("bad rounding_mode", lambda m: m.div(T(m, [1.0]), T(m, [2.0]), rounding_mode="bad")),
))
for _mode in ("floor", "trunc"):
    add_entry(f"div_{_mode}", (lambda mode: lambda m, x, y: m.div(x, y, rounding_mode=mode))(_mode),
              binary(pairs=PAIRS_NUM, domains=("real", "nonzero")), covers=(), errors=(
                  ("int division by zero",
                   (lambda mode: lambda m: m.div(T(m, [1]), T(m, [0]), rounding_mode=mode))(_mode)),
              ))
add_entry("div_by_zero", fn("div"), binary(pairs=PAIRS_FLOAT, domains=("real", "real")),
          covers=())
add_entry("floor_divide", fn("floor_divide"),
          binary(pairs=PAIRS_NUM, domains=("real", "nonzero")), errors=(
              ("int floor_divide by zero", lambda m: m.floor_divide(T(m, [1]), T(m, [0]))),
              shape_mismatch("floor_divide"),
          ))
add_entry("remainder", fn("remainder"),
          binary(pairs=PAIRS_NUM, domains=("real", "nonzero")), errors=(
              ("int remainder by zero", lambda m: m.remainder(T(m, [1]), T(m, [0]))),
              shape_mismatch("remainder"),
          ))
add_entry("pow", fn("pow"), binary(pairs=PAIRS_FLOAT, domains=("positive", "small")), errors=(
    ("int to negative int power", lambda m: m.pow(T(m, [2]), -1)),
    shape_mismatch("pow"),
), atol=1e-4)
add_entry("pow_kinks", fn("pow"), binary(pairs=((F32, F32), (F64, F64)),
                                         domains=("real", "small")), covers=(), atol=1e-4)
add_entry("pow_int", fn("pow"), binary(pairs=((I64, I64),), domains=("real", "small")),
          differentiable=False, covers=())
add_entry("pow_scalar", lambda m, x, s: m.pow(x, s),
          tensor_scalar(dtypes=FLOAT_DTYPES,
                        scalars=st.sampled_from((0, 1, 2, 3, 0.5, -1, -2, 2.5, 0.0, 1.5,
                                                 -0.5))),
          covers=(), atol=1e-4)
add_entry("scalar_pow", lambda m, x, s: m.pow(s, x),
          tensor_scalar(dtypes=NUMERIC_DTYPES, domain="small",
                        scalars=st.sampled_from((2, 3, 0.5, 2.5, 1, 0, 0.0))),
          covers=(), atol=1e-4)
add_entry("neg", fn("neg"), unary(dtypes=ALL_DTYPES), errors=(
    ("bool neg", lambda m: m.neg(T(m, [True]))), not_tensor("neg")))
add_entry("abs", fn("abs"), unary(dtypes=NUMERIC_DTYPES), errors=(not_tensor("abs"),))
add_entry("reciprocal", fn("reciprocal"), unary(domain="nonzero", dtypes=NUMERIC_DTYPES),
          errors=(not_tensor("reciprocal"),))
add_entry("sign", fn("sign"), unary(dtypes=ALL_DTYPES), errors=(not_tensor("sign"),))

# ----- operator forms (reflected, in place) ---------------------------------------------------
add_entry("op_add", lambda m, x, s: x + s, tensor_scalar(), covers=())
add_entry("op_radd", lambda m, x, s: s + x, tensor_scalar(), covers=())
add_entry("op_sub", lambda m, x, s: x - s, tensor_scalar(dtypes=NUMERIC_DTYPES), covers=())
add_entry("op_rsub", lambda m, x, s: s - x, tensor_scalar(dtypes=NUMERIC_DTYPES), covers=())
add_entry("op_mul", lambda m, x, s: x * s, tensor_scalar(), covers=())
add_entry("op_rmul", lambda m, x, s: s * x, tensor_scalar(), covers=())
add_entry("op_truediv", lambda m, x, s: x / s, tensor_scalar(scalars=NONZERO_SCALARS),
          covers=())
add_entry("op_rtruediv", lambda m, x, s: s / x,
          tensor_scalar(domain="nonzero", dtypes=NUMERIC_DTYPES), covers=())
add_entry("op_floordiv", lambda m, x, s: x // s,
          tensor_scalar(dtypes=NUMERIC_DTYPES, scalars=NONZERO_SCALARS), covers=())
add_entry("op_rfloordiv", lambda m, x, s: s // x,
          tensor_scalar(domain="nonzero", dtypes=NUMERIC_DTYPES), covers=())
add_entry("op_mod", lambda m, x, s: x % s,
          tensor_scalar(dtypes=NUMERIC_DTYPES, scalars=NONZERO_SCALARS), covers=())
add_entry("op_rmod", lambda m, x, s: s % x,
          tensor_scalar(domain="nonzero", dtypes=NUMERIC_DTYPES), covers=(),
          differentiable=False)
add_entry("op_rmod_grad_fn", lambda m, x: 3 % x,
          lambda grad: st.just(Sample((np.array([1.5, -2.0], dtype=np.float32),), {},
                                      (False,))),
          covers=(), second_order=False)
add_entry("op_pow", lambda m, x, s: x ** s,
          tensor_scalar(dtypes=FLOAT_DTYPES, scalars=st.sampled_from((2, 3, 0.5, -1, 0))),
          covers=(), atol=1e-4)
add_entry("op_rpow", lambda m, x, s: s ** x,
          tensor_scalar(dtypes=NUMERIC_DTYPES, domain="small",
                        scalars=st.sampled_from((2, 0.5, 3.0, 1))), covers=(), atol=1e-4)
add_entry("op_neg", lambda m, x: -x, unary(), covers=())
add_entry("op_abs", lambda m, x: abs(x), unary(), covers=())
add_entry("op_binary", lambda m, x, y: (x + y, x - y, x * y, x / y),
          binary(pairs=PAIRS_FLOAT, domains=("real", "nonzero")), covers=())
add_entry("op_rpow_tensor", lambda m, x, y: x ** y,
          binary(pairs=PAIRS_FLOAT, domains=("positive", "small")), covers=(), atol=1e-4)
add_entry("op_compare", lambda m, x, y: (x == y, x != y, x < y, x <= y, x > y, x >= y),
          binary(pairs=PAIRS_ALL), differentiable=False, covers=())


def _inplace(op_name):
    def run(m, x, y):
        z = x.clone()
        getattr(z, op_name)(y)
        return z

    return run


def _iop(function):
    """``z = x.clone(); z op= y``: the augmented assignment on a non-leaf."""

    def run(m, x, y):
        z = x.clone()
        z = function(z, y)
        return z

    return run


INPLACE_PAIRS = ((F32, F32), (F64, F64), (F32, F64), (F64, F32), (F32, I64), (I64, I64),
                 (F64, BOOL))
add_entry("op_iadd", _iop(operator.iadd), binary(pairs=INPLACE_PAIRS), covers=(), errors=(
    ("in-place on a leaf that requires grad",
     lambda m: m.ones(2, requires_grad=True).add_(1)),
    ("int += float", lambda m: T(m, [1, 2]).add_(T(m, [0.5, 1.0]))),
    ("in-place output shape", lambda m: m.ones(3).add_(m.ones(2, 3))),
))
add_entry("op_isub", _iop(operator.isub), binary(pairs=INPLACE_PAIRS[:-1]), covers=())
add_entry("op_imul", _iop(operator.imul), binary(pairs=INPLACE_PAIRS), covers=())
add_entry("op_itruediv", _iop(operator.itruediv),
          binary(pairs=INPLACE_PAIRS[:4], domains=("real", "nonzero")), covers=())
add_entry("op_ipow", _iop(operator.ipow),
          binary(pairs=INPLACE_PAIRS[:4], domains=("positive", "small")), covers=(), atol=1e-4)
add_entry("op_iadd_scalar", lambda m, x, s: x.clone().__iadd__(s),
          tensor_scalar(dtypes=FLOAT_DTYPES), covers=())
add_entry("mul_", _inplace("mul_"), binary(pairs=PAIRS_FLOAT[:4]), covers=())
add_entry("div_", _inplace("div_"), binary(pairs=PAIRS_FLOAT[:4], domains=("real", "nonzero")),
          covers=())
for _name, _domain in (("exp_", "real"), ("relu_", "real"), ("sigmoid_", "real"),
                       ("tanh_", "real"), ("sqrt_", "positive"), ("abs_", "real"),
                       ("neg_", "real"), ("log_", "positive"), ("sin_", "real")):
    add_entry(_name, (lambda n: lambda m, x: getattr(x.clone(), n)())(_name),
              unary(domain=_domain, dtypes=FLOAT_DTYPES), covers=())
add_entry("clamp_", lambda m, x: x.clone().clamp_(-0.5, 1.0), unary(dtypes=FLOAT_DTYPES),
          covers=())
add_entry("zero_", lambda m, x: x.clone().zero_(), unary(dtypes=FLOAT_DTYPES), covers=())


def _fill_samples(grad):
    """A tensor and a 0-dim value tensor (of either float dtype)."""

    @st.composite
    def sample(draw):
        x = draw(arrays(draw(st.sampled_from(FLOAT_DTYPES)), draw(shapes())))
        v = draw(arrays(draw(st.sampled_from(FLOAT_DTYPES)), ()))
        return Sample((x, v), {}, (draw(st.booleans()), False))

    return sample()


add_entry("fill_", lambda m, x, v: x.clone().fill_(v), _fill_samples, covers=(), errors=(
    ("1-D value", lambda m: m.ones(2).fill_(m.ones(2))),
))
add_entry("fill_number", lambda m, x, s: x.clone().fill_(s), tensor_scalar(dtypes=ALL_DTYPES),
          covers=())


def _inplace_on_view(m, x, y):
    z = x.clone()
    z[..., :1].mul_(y)
    return z


def _view_samples(grad):
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        shape = draw(shapes(1, 3, 1, 3))
        x = draw(arrays(dtype, shape))
        y = draw(arrays(dtype, shape[:-1] + (1,)))
        return Sample((x, y), {}, (draw(st.booleans()), False))

    return sample()


add_entry("mul_on_view", _inplace_on_view, _view_samples, covers=())


# ----- unary math and activations -------------------------------------------------------------
for _name, _domain, _dtypes in (
    ("exp", "real", NUMERIC_DTYPES),
    ("log", "positive", NUMERIC_DTYPES),
    ("sqrt", "positive", NUMERIC_DTYPES),
    ("sin", "real", NUMERIC_DTYPES),
    ("cos", "real", NUMERIC_DTYPES),
    ("tanh", "real", NUMERIC_DTYPES),
    ("sigmoid", "real", NUMERIC_DTYPES),
    ("relu", "real", NUMERIC_DTYPES),
):
    add_entry(_name, fn(_name), unary(domain=_domain, dtypes=_dtypes),
              errors=(not_tensor(_name),) + (
                  (("relu of bool", lambda m: m.relu(T(m, [True]))),) if _name == "relu" else ()))
add_entry("log_edge", fn("log"), unary(domain="real", dtypes=FLOAT_DTYPES), covers=())
add_entry("sqrt_edge", fn("sqrt"), unary(domain="real", dtypes=FLOAT_DTYPES), covers=())

_BOUNDS = st.sampled_from((-1.0, -0.5, 0.0, 0.5, 1.0, 2, -1))
add_entry("clamp", lambda m, x, lo, hi: m.clamp(x, lo, hi),
          unary(kwargs=lambda s: st.fixed_dictionaries({"lo": _BOUNDS, "hi": _BOUNDS})),
          errors=(("no bounds", lambda m: m.clamp(m.ones(2))),))
add_entry("clamp_min_only", lambda m, x, lo: m.clamp(x, min=lo),
          unary(kwargs=lambda s: st.fixed_dictionaries({"lo": _BOUNDS})), covers=())
add_entry("clamp_max_only", lambda m, x, hi: m.clamp(x, max=hi),
          unary(kwargs=lambda s: st.fixed_dictionaries({"hi": _BOUNDS})), covers=())


def _clamp_tensor_samples(grad):
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        shapes_ = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=3, min_dims=0, max_dims=3, max_side=3))
        # x takes the broadcast shape: with a smaller x torch's backward fails (an in-place
        # logical_and_ inside clamp_backward), which is no behaviour to copy
        _, slo, shi = shapes_.input_shapes
        sx = shapes_.result_shape
        x = draw(arrays(dtype, sx))
        lo = draw(arrays(draw(st.sampled_from((dtype, F32, F64))), slo))
        hi = draw(arrays(dtype, shi))
        which = draw(st.sampled_from(("both", "min", "max")))
        return Sample((x, lo, hi), {"which": which},
                      (draw(st.booleans()), False, draw(st.booleans())))

    return sample()


def _clamp_tensor(m, x, lo, hi, which):
    if which == "min":
        return m.clamp(x, min=lo)
    if which == "max":
        return m.clamp(x, max=hi)
    return m.clamp(x, lo, hi)


add_entry("clamp_tensor", _clamp_tensor, _clamp_tensor_samples, covers=())
add_entry("clamp_min", lambda m, x, lo: m.clamp_min(x, lo),
          unary(kwargs=lambda s: st.fixed_dictionaries({"lo": _BOUNDS})), errors=(
              ("bound shape mismatch", lambda m: m.clamp_min(m.ones(2, 3), m.ones(4))),
          ))
add_entry("clamp_max", lambda m, x, hi: m.clamp_max(x, hi),
          unary(kwargs=lambda s: st.fixed_dictionaries({"hi": _BOUNDS})), errors=(
              ("bound shape mismatch", lambda m: m.clamp_max(m.ones(2, 3), m.ones(4))),
          ))


def _clamp_bound_samples(grad):
    """x and a tensor bound that broadcasts to x's shape."""

    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        shapes_ = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_side=3))
        x = draw(arrays(dtype, shapes_.result_shape))
        bound = draw(arrays(draw(st.sampled_from(FLOAT_DTYPES)), shapes_.input_shapes[1]))
        return Sample((x, bound), {}, (draw(st.booleans()), False))

    return sample()


add_entry("clamp_min_tensor", fn("clamp_min"), _clamp_bound_samples, covers=())
add_entry("clamp_max_tensor", fn("clamp_max"), _clamp_bound_samples, covers=())
add_entry("maximum", fn("maximum"), binary(pairs=PAIRS_ALL), errors=(
    ("scalar other", lambda m: m.maximum(m.ones(2), 1.0)),
    shape_mismatch("maximum"),
))
add_entry("minimum", fn("minimum"), binary(pairs=PAIRS_ALL), errors=(
    ("scalar other", lambda m: m.minimum(m.ones(2), 1.0)),
    shape_mismatch("minimum"),
))
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    add_entry(_name, fn(_name), binary(pairs=PAIRS_ALL), differentiable=False,
              errors=(shape_mismatch(_name),))
add_entry("compare_scalar", lambda m, x, s: (m.eq(x, s), m.lt(x, s), m.ge(x, s)),
          tensor_scalar(), differentiable=False, covers=())
add_entry("isnan", fn("isnan"), unary(dtypes=ALL_DTYPES), differentiable=False,
          errors=(not_tensor("isnan"),))
add_entry("isnan_nan", lambda m, x: m.isnan(m.log(x)), unary(dtypes=FLOAT_DTYPES),
          differentiable=False, covers=())
add_entry("bitwise_not", fn("bitwise_not"), unary(dtypes=(I64, BOOL)), differentiable=False,
          errors=(("float bitwise_not", lambda m: m.bitwise_not(m.ones(2))),))
add_entry("logical_not", fn("logical_not"), unary(dtypes=ALL_DTYPES), differentiable=False,
          errors=(not_tensor("logical_not"),))
add_entry("logical_and", fn("logical_and"), binary(pairs=PAIRS_ALL), differentiable=False,
          errors=(shape_mismatch("logical_and"),
                  ("number other", lambda m: m.logical_and(m.ones(2), 1))))
add_entry("logical_or", fn("logical_or"), binary(pairs=PAIRS_ALL), differentiable=False,
          errors=(shape_mismatch("logical_or"),))
add_entry("clone", fn("clone"), unary(dtypes=ALL_DTYPES), errors=(not_tensor("clone"),))


def _where_samples(grad):
    @st.composite
    def sample(draw):
        sc, sx, sy = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=3, min_dims=0, max_dims=3, max_side=3)).input_shapes
        dx, dy = draw(st.sampled_from(_pick_pairs(PAIRS_ALL, grad)))
        return Sample((draw(arrays(BOOL, sc)), draw(arrays(dx, sx)), draw(arrays(dy, sy))), {},
                      (False, draw(st.booleans()), draw(st.booleans())))

    return sample()


add_entry("where", fn("where"), _where_samples, errors=(
    ("non-bool condition", lambda m: m.where(m.ones(2), m.ones(2), m.zeros(2))),
    ("shape mismatch", lambda m: m.where(m.ones(2) > 0, m.ones(3), m.zeros(2))),
))
add_entry("where_scalar", lambda m, c, x, s: m.where(c, x, s),
          lambda grad: _where_samples(grad).map(
              lambda s: Sample(s.arrays[:2], {"s": 0.5}, s.noncontig[:2])), covers=())
add_entry("where_cond_only", lambda m, c: m.where(c),
          unary(dtypes=(BOOL,)), differentiable=False, covers=())

# ----- reductions -----------------------------------------------------------------------------
add_entry("sum", fn("sum"), unary(dtypes=ALL_DTYPES, kwargs=dim_kwargs), errors=(
    ("dim out of range", lambda m: m.sum(m.ones(2, 3), 2)),
))
add_entry("sum_full", fn("sum"), unary(dtypes=ALL_DTYPES), covers=())
add_entry("sum_dtype", lambda m, x: m.sum(x, dtype=m.float64), unary(dtypes=NUMERIC_DTYPES),
          covers=())
add_entry("mean", fn("mean"), unary(dtypes=FLOAT_DTYPES, kwargs=dim_kwargs), errors=(
    ("int mean", lambda m: m.mean(T(m, [1, 2]))),
    ("dim out of range", lambda m: m.mean(m.ones(2, 3), -3)),
))
add_entry("mean_full", fn("mean"), unary(dtypes=FLOAT_DTYPES), covers=())
add_entry("prod", fn("prod"), unary(
    dtypes=NUMERIC_DTYPES,
    kwargs=lambda s: dim_kwargs(s, allow_none=False, allow_tuple=False)), errors=(
    ("dim out of range", lambda m: m.prod(m.ones(2, 3), 5)),
), atol=1e-4)
add_entry("prod_full", fn("prod"), unary(dtypes=ALL_DTYPES, max_side=3), covers=(), atol=1e-4)


def _max_dim(name):
    def run(m, x, dim, keepdim):
        return getattr(m, name)(x, dim, keepdim)

    return run


_int_values = unary(dtypes=NUMERIC_DTYPES, kwargs=lambda s: dim_kwargs(
    s, allow_none=False, allow_tuple=False))
for _name in ("max", "min"):
    add_entry(_name, fn(_name), unary(dtypes=ALL_DTYPES, min_side=1), errors=(
        ("empty full reduction", lambda m, n=_name: getattr(m, n)(m.ones(0))),
        ("dim out of range", lambda m, n=_name: getattr(m, n)(m.ones(2), 1)),
        ("reduce over an empty dim", lambda m, n=_name: getattr(m, n)(m.ones(2, 0), 1)),
    ))
    add_entry(_name + "_dim", _max_dim(_name), _int_values, covers=())
    add_entry(_name + "_binary", fn(_name), binary(pairs=PAIRS_NUM), covers=())
add_entry("max_ties", fn("max"), unary(dtypes=FLOAT_DTYPES, domain="small", min_side=1),
          covers=())
add_entry("amax", fn("amax"), unary(dtypes=NUMERIC_DTYPES, domain="small", kwargs=lambda s: (
    dim_kwargs(s, allow_none=False))), errors=(
    ("empty full reduction", lambda m: m.amax(m.ones(0))),
    ("reduce over an empty dim", lambda m: m.amax(m.ones(2, 0), 1)),
))
add_entry("amax_full", fn("amax"), unary(dtypes=FLOAT_DTYPES, domain="small", min_side=1),
          covers=())
for _name in ("argmax", "argmin"):
    add_entry(_name, fn(_name), unary(
        dtypes=NUMERIC_DTYPES, min_side=1,
        kwargs=lambda s: dim_kwargs(s, allow_tuple=False)), differentiable=False, errors=(
        ("empty", lambda m, n=_name: getattr(m, n)(m.ones(0))),
        ("dim out of range", lambda m, n=_name: getattr(m, n)(m.ones(2), 3)),
    ))

_NORM_P = st.sampled_from(("fro", 2, 1, 3, 1.5, 0.5, 0, float("inf"), float("-inf")))


def _norm_kwargs(shape):
    return st.fixed_dictionaries({"p": _NORM_P}).flatmap(
        lambda kw: dim_kwargs(shape).map(lambda d: {**kw, **d}))


add_entry("norm", fn("norm"), unary(dtypes=FLOAT_DTYPES, kwargs=_norm_kwargs), errors=(
    ("int norm", lambda m: m.norm(T(m, [1, 2]))),
), atol=1e-4, rtol=1e-4)
add_entry("norm_full", fn("norm"), unary(dtypes=FLOAT_DTYPES), covers=())
add_entry("norm_zero", lambda m, x: m.norm(x * 0), unary(dtypes=FLOAT_DTYPES), covers=())


# ----- products -------------------------------------------------------------------------------
def _matmul_samples(ranks, dtypes=(F32, F64, I64)):
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(_pick_dtypes(dtypes, grad)))
            ra, rb = draw(st.sampled_from(ranks))
            n, k, p = (draw(st.integers(0, 3)) for _ in range(3))
            batch = draw(hnp.mutually_broadcastable_shapes(
                num_shapes=2, min_dims=0, max_dims=2, max_side=3)).input_shapes
            sa = (k,) if ra == 1 else batch[0][-(ra - 2):] + (n, k) if ra > 2 else (n, k)
            sb = (k,) if rb == 1 else batch[1][-(rb - 2):] + (k, p) if rb > 2 else (k, p)
            if ra > 2 and len(sa) < ra:
                sa = (1,) * (ra - len(sa)) + sa
            if rb > 2 and len(sb) < rb:
                sb = (1,) * (rb - len(sb)) + sb
            a = draw(arrays(dtype, sa))
            b = draw(arrays(dtype, sb))
            return Sample((a, b), {}, (draw(st.booleans()), draw(st.booleans())))

        return sample()

    return make


add_entry("dot", fn("dot"), _matmul_samples(((1, 1),)), errors=(
    ("2-D input", lambda m: m.dot(m.ones(2, 2), m.ones(2))),
    ("size mismatch", lambda m: m.dot(m.ones(2), m.ones(3))),
    ("dtype mismatch", lambda m: m.dot(m.ones(2), m.ones(2, dtype=m.float64))),
))


def _inner_samples(grad):
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES if grad else (F32, F64, I64)))
        k = draw(st.integers(0, 3))
        sa, sb = (draw(shapes(0, 2, 0, 3)) + (k,) for _ in range(2))
        if draw(st.integers(0, 5)) == 0:
            sa = ()  # a 0-dim operand: inner is a product
        return Sample((draw(arrays(dtype, sa)), draw(arrays(dtype, sb))), {},
                      (draw(st.booleans()), draw(st.booleans())))

    return sample()


add_entry("inner", fn("inner"), _inner_samples, errors=(
    ("last dims differ", lambda m: m.inner(m.ones(2, 3), m.ones(4, 2))),
))
add_entry("mv", fn("mv"), _matmul_samples(((2, 1),)), errors=(
    ("size mismatch", lambda m: m.mv(m.ones(2, 3), m.ones(2))),
    ("vector as matrix", lambda m: m.mv(m.ones(3), m.ones(3))),
))
add_entry("mm", fn("mm"), _matmul_samples(((2, 2),)), errors=(
    ("shape mismatch", lambda m: m.mm(m.ones(2, 3), m.ones(2, 3))),
    ("not a matrix", lambda m: m.mm(m.ones(3), m.ones(3, 2))),
    ("dtype mismatch", lambda m: m.mm(m.ones(2, 2), m.ones(2, 2, dtype=m.float64))),
))
def _bmm_samples(grad):
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES if grad else (F32, F64, I64)))
        b, n, k, p = (draw(st.integers(0, 3)) for _ in range(4))
        return Sample((draw(arrays(dtype, (b, n, k))), draw(arrays(dtype, (b, k, p)))), {},
                      (draw(st.booleans()), draw(st.booleans())))

    return sample()


add_entry("bmm", fn("bmm"), _bmm_samples, errors=(
    ("not 3-D", lambda m: m.bmm(m.ones(2, 2), m.ones(2, 2))),
))


add_entry("matmul", fn("matmul"),
          _matmul_samples(((1, 1), (2, 1), (1, 2), (2, 2), (3, 2), (3, 1), (1, 3), (3, 3),
                           (4, 3), (2, 4), (4, 1))), errors=(
              ("0-d input", lambda m: m.matmul(m.ones(()), m.ones(2))),
              ("shape mismatch", lambda m: m.matmul(m.ones(2, 3), m.ones(4, 2))),
              ("batched shape mismatch", lambda m: m.matmul(m.ones(2, 2, 3), m.ones(2, 4, 2))),
          ))
add_entry("op_matmul", lambda m, x, y: x @ y,
          _matmul_samples(((2, 2), (3, 3), (1, 2))), covers=())


# ----- shapes and views -----------------------------------------------------------------------
def _reshape_targets(shape):
    n = math.prod(shape)
    options = [(-1,), (n,), tuple(reversed(shape)), (1,) + tuple(shape), tuple(shape) + (1,)]
    if n:
        for i in range(len(shape)):
            options.append(tuple(-1 if j == i else s for j, s in enumerate(shape)))
        if n % 2 == 0:
            options.append((2, -1))
    if n == 1:
        options.append(())
    return st.fixed_dictionaries({"shape": st.sampled_from(options)})


add_entry("reshape", lambda m, x, shape: m.reshape(x, shape),
          unary(dtypes=ALL_DTYPES, kwargs=_reshape_targets), errors=(
              ("bad shape", lambda m: m.reshape(m.ones(2, 3), (4, 2))),
              ("two -1", lambda m: m.reshape(m.ones(2, 3), (-1, -1))),
              ("ambiguous -1 with 0 elements", lambda m: m.reshape(m.ones(0, 3), (-1, 0))),
          ))
add_entry("view", lambda m, x, shape: x.view(shape),
          unary(dtypes=ALL_DTYPES, kwargs=_reshape_targets), covers=(), errors=(
              ("bad shape", lambda m: m.ones(2, 3).view(5)),
              ("non-contiguous", lambda m: m.ones(2, 3).t().view(6)),
          ))
add_entry("view_varargs", lambda m, x: x.view(-1, 1), unary(dtypes=FLOAT_DTYPES), covers=())


def _flatten_kwargs(shape):
    ndim = max(len(shape), 1)
    return st.fixed_dictionaries({"start_dim": st.integers(-ndim, ndim - 1),
                                  "end_dim": st.integers(-ndim, ndim - 1)})


add_entry("flatten", fn("flatten"), unary(dtypes=ALL_DTYPES, kwargs=_flatten_kwargs), errors=(
    ("start after end", lambda m: m.flatten(m.ones(2, 3, 4), 2, 1)),
    ("dim out of range", lambda m: m.flatten(m.ones(2, 3), 0, 3)),
))


def _unflatten_kwargs(shape):
    options = [(-1,), (1, -1), (-1, 1)]
    return st.fixed_dictionaries({"dim": st.integers(-len(shape), len(shape) - 1),
                                  "sizes": st.sampled_from(options)})


add_entry("unflatten", lambda m, x, dim, sizes: m.unflatten(x, dim, sizes),
          unary(dtypes=FLOAT_DTYPES, min_dims=1, min_side=1, kwargs=_unflatten_kwargs), errors=(
              ("sizes do not fit", lambda m: m.unflatten(m.ones(6), 0, (4, 2))),
          ))


def _squeeze_kwargs(shape):
    ndim = len(shape)
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    return st.fixed_dictionaries({"dim": st.one_of(
        st.none(), st.integers(lo, hi),
        st.lists(st.integers(lo, hi), max_size=max(ndim, 1), unique=True).map(tuple))})


def _squeeze(m, x, dim):
    return m.squeeze(x) if dim is None else m.squeeze(x, dim)


add_entry("squeeze", _squeeze, unary(dtypes=ALL_DTYPES, max_side=2, kwargs=_squeeze_kwargs),
          errors=(("dim out of range", lambda m: m.squeeze(m.ones(2, 1), 2)),))
add_entry("unsqueeze", lambda m, x, dim: m.unsqueeze(x, dim), unary(
    dtypes=ALL_DTYPES,
    kwargs=lambda s: st.fixed_dictionaries({"dim": st.integers(-len(s) - 1, len(s))})),
    errors=(("dim out of range", lambda m: m.unsqueeze(m.ones(2), 2)),))


def _two_dims(shape):
    ndim = len(shape)
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    return st.fixed_dictionaries({"dim0": st.integers(lo, hi), "dim1": st.integers(lo, hi)})


add_entry("transpose", lambda m, x, dim0, dim1: m.transpose(x, dim0, dim1),
          unary(dtypes=ALL_DTYPES, kwargs=_two_dims), errors=(
              ("dim out of range", lambda m: m.transpose(m.ones(2, 3), 0, 2)),
          ))
alias(OP_DB[-1], "swapaxes")
alias(OP_DB[-2], "swapdims")
add_entry("t", fn("t"), unary(dtypes=ALL_DTYPES, max_dims=2), errors=(
    ("3-D input", lambda m: m.t(m.ones(2, 3, 4))),
))
add_entry("T_property", lambda m, x: x.T, unary(dtypes=FLOAT_DTYPES, min_dims=2, max_dims=2),
          covers=())  # torch deprecates .T on other ranks (a warning ember does not give)
add_entry("mT_property", lambda m, x: x.mT, unary(dtypes=FLOAT_DTYPES, min_dims=2), covers=())


def _permute_kwargs(shape):
    ndim = len(shape)
    return st.permutations(range(ndim)).flatmap(
        lambda p: st.tuples(*(st.sampled_from((d, d - ndim)) for d in p))).map(
        lambda dims: {"dims": tuple(dims)})


add_entry("permute", lambda m, x, dims: m.permute(x, dims),
          unary(dtypes=ALL_DTYPES, kwargs=_permute_kwargs), errors=(
              ("wrong number of dims", lambda m: m.permute(m.ones(2, 3), (0,))),
              ("duplicate dims", lambda m: m.permute(m.ones(2, 3), (0, 0))),
          ))


def _expand_kwargs(shape):
    @st.composite
    def target(draw):
        lead = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
        sizes = tuple(draw(st.sampled_from((s, -1, 3, 2))) if s == 1 else draw(
            st.sampled_from((s, -1))) for s in shape)
        return {"sizes": lead + sizes}

    return target()


add_entry("expand", lambda m, x, sizes: x.expand(sizes),
          unary(dtypes=ALL_DTYPES, max_side=2, kwargs=_expand_kwargs), covers=(), errors=(
              ("non-singleton mismatch", lambda m: m.ones(2, 3).expand(2, 4)),
              ("too few sizes", lambda m: m.ones(2, 3).expand(3)),
              ("-1 in a new leading dim", lambda m: m.ones(2).expand(-1, 2)),
          ))
add_entry("broadcast_to", lambda m, x, sizes: m.broadcast_to(x, sizes),
          unary(dtypes=FLOAT_DTYPES, max_side=2, kwargs=_expand_kwargs), errors=(
              ("non-singleton mismatch", lambda m: m.broadcast_to(m.ones(2, 3), (3, 3))),
              ("too few sizes", lambda m: m.broadcast_to(m.ones(2, 3), (3,))),
          ))


def _cat_samples(stack: bool):
    def make(grad):
        @st.composite
        def sample(draw):
            count = draw(st.integers(1, 3))
            shape = draw(shapes(0 if stack else 1, 3, 0, 3))
            ndim = len(shape)
            dims = ndim + 1 if stack else ndim
            dim = draw(st.integers(-dims, dims - 1))
            dtypes = _pick_dtypes(NUMERIC_DTYPES, grad)
            arrays_ = []
            for _ in range(count):
                s = list(shape)
                if not stack:
                    s[dim] = draw(st.integers(0, 3))
                dtype = draw(st.sampled_from(dtypes))
                arrays_.append(draw(arrays(dtype, tuple(s))))
            if not stack and draw(st.integers(0, 5)) == 0:
                arrays_.append(np.zeros((0,), dtype=np.float32))  # legacy empty 1-D, skipped
            return Sample(tuple(arrays_), {"dim": dim},
                          tuple(draw(st.booleans()) for _ in arrays_))

        return sample()

    return make


add_entry("cat", lambda m, *ts, dim: m.cat(ts, dim), _cat_samples(False), errors=(
    ("mismatched shapes", lambda m: m.cat([m.ones(2, 3), m.ones(2, 4)])),
    ("mismatched ndim", lambda m: m.cat([m.ones(2, 3), m.ones(2)])),
    ("empty list", lambda m: m.cat([])),
    ("0-d tensors", lambda m: m.cat([m.ones(()), m.ones(())])),
    ("dim out of range", lambda m: m.cat([m.ones(2), m.ones(2)], 1)),
))
alias(OP_DB[-1], "concat")
alias(OP_DB[-2], "concatenate")
OP_DB[-2].op = lambda m, *ts, dim: m.concat(ts, dim)
OP_DB[-1].op = lambda m, *ts, dim: m.concatenate(ts, dim)
add_entry("stack", lambda m, *ts, dim: m.stack(ts, dim), _cat_samples(True), errors=(
    ("mismatched shapes", lambda m: m.stack([m.ones(2, 3), m.ones(2, 4)])),
    ("empty list", lambda m: m.stack([])),
    ("dim out of range", lambda m: m.stack([m.ones(2), m.ones(2)], 2)),
))
add_entry("nonzero", fn("nonzero"), unary(dtypes=ALL_DTYPES), differentiable=False,
          errors=(("non-tensor input", lambda m: m.nonzero(2)),))
add_entry("nonzero_tuple", lambda m, x: m.nonzero(x, as_tuple=True), unary(dtypes=ALL_DTYPES),
          differentiable=False, covers=())


# ----- indexing -------------------------------------------------------------------------------
def build_key(m, spec):
    """Turn a key spec (numpy arrays standing for tensors) into a key of module ``m``."""
    if isinstance(spec, tuple):
        return tuple(build_key(m, s) for s in spec)
    if isinstance(spec, np.ndarray):
        return m.tensor(spec)
    return spec


def _slice(size):
    bound = st.one_of(st.none(), st.integers(-size - 2, size + 2))
    return st.builds(slice, bound, bound, st.sampled_from((None, 1, 2, 3)))


def _int_index(size):
    return st.integers(-size, size - 1)


@st.composite
def basic_key(draw, shape):
    """ints, slices, None and at most one Ellipsis."""
    ndim = len(shape)
    k = draw(st.integers(0, ndim))
    ellipsis = draw(st.booleans())
    front = draw(st.integers(0, k)) if ellipsis else k
    dims = list(range(front)) + list(range(ndim - (k - front), ndim))
    items = []
    for d in dims:
        size = shape[d]
        options = [_slice(size)]
        if size:
            options.append(_int_index(size))
        items.append(draw(st.one_of(*options)))
    if ellipsis:
        items.insert(front, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    if len(items) == 1 and draw(st.booleans()):
        return items[0]
    return tuple(items)


@st.composite
def advanced_key(draw, shape):
    """Integer and boolean index tensors, alone or mixed with basic items."""
    ndim = len(shape)
    kind = draw(st.sampled_from(("long", "long2", "mask", "mask_full", "long_slice",
                                 "long_int", "bool0", "ellipsis_long", "int_slice_long",
                                 "none_mask")))
    if ndim == 0:
        kind = draw(st.sampled_from(("bool0", "mask_full")))

    def long_index(size, index_shape=None):
        index_shape = index_shape if index_shape is not None else draw(shapes(0, 2, 0, 3))
        if size == 0:
            index_shape = (0,)
        return draw(hnp.arrays(np.int64, index_shape,
                               elements=st.integers(-size, max(size - 1, -size))))

    if kind == "long":
        return (long_index(shape[0]),)
    if kind == "long2" and ndim >= 2:
        ishape = draw(shapes(0, 2, 1, 3))
        return (long_index(shape[0], ishape), long_index(shape[1], ishape))
    if kind == "mask":
        k = draw(st.integers(1, ndim))
        return (draw(arrays(BOOL, shape[:k])),)
    if kind == "mask_full":
        return draw(arrays(BOOL, shape))
    if kind == "long_slice" and ndim >= 2:
        return (draw(_slice(shape[0])), long_index(shape[1]))
    if kind == "long_int" and ndim >= 2 and shape[1]:
        return (long_index(shape[0]), draw(_int_index(shape[1])))
    if kind == "bool0":
        return (np.array(draw(st.booleans())),)
    if kind == "ellipsis_long":
        return (Ellipsis, long_index(shape[-1]))
    if kind == "int_slice_long" and ndim >= 3 and shape[0]:
        # torch applies the int first (a select); NumPy would move the index dims to the front
        return (draw(_int_index(shape[0])), draw(_slice(shape[1])), long_index(shape[2]))
    if kind == "none_mask":
        return (None, draw(arrays(BOOL, shape[:1])))
    return (long_index(shape[0]),)


def _index_samples(key_strategy, dtypes=ALL_DTYPES, min_dims=0):
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(_pick_dtypes(dtypes, grad)))
            shape = draw(shapes(min_dims, 3, 0, 4))
            return Sample((draw(arrays(dtype, shape)),), {"key": draw(key_strategy(shape))},
                          (draw(st.booleans()),))

        return sample()

    return make


def _getitem(m, x, key):
    return x[build_key(m, key)]


add_entry("getitem_basic", _getitem, _index_samples(basic_key), covers=(), errors=(
    ("int out of range", lambda m: m.ones(2, 3)[2]),
    ("too many indices", lambda m: m.ones(2)[0, 0]),
    ("negative step", lambda m: m.ones(3)[::-1]),
))
add_entry("getitem_advanced", _getitem, _index_samples(advanced_key), covers=(), errors=(
    ("index tensor out of range", lambda m: m.ones(2, 3)[m.tensor([0, 2])]),
    ("float index tensor", lambda m: m.ones(2, 3)[m.tensor([0.0])]),
    ("mask shape mismatch", lambda m: m.ones(2, 3)[m.tensor([True, False, True])]),
))
add_entry("getitem_zero_dim_int_tensor", lambda m, x, i: x[m.tensor(i)],
          unary(dtypes=FLOAT_DTYPES, min_dims=1, min_side=1,
                kwargs=lambda s: st.fixed_dictionaries({"i": _int_index(s[0])})), covers=())


def _setitem(m, x, v, key):
    z = x.clone()
    z[build_key(m, key)] = v
    return z


def _region_shape(x: np.ndarray, key) -> tuple:
    """The shape ``x[key]`` has in torch (ints first, as selects)."""
    items = key if isinstance(key, tuple) else (key,)
    if not any(isinstance(k, int) and not isinstance(k, bool) for k in items) or not any(
        isinstance(k, np.ndarray) for k in items
    ):
        return x[key].shape
    from oracle import torch

    return tuple(torch.from_numpy(x)[build_key(torch, key)].shape)


def _setitem_samples(key_strategy):
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(FLOAT_DTYPES if grad else (F32, F64, I64)))
            shape = draw(shapes(1, 3, 1, 3))
            x = draw(arrays(dtype, shape))
            key = draw(key_strategy(shape))
            region = _region_shape(x, key)
            vshape = draw(st.sampled_from(((), region, region[-1:] if region else ())))
            same_dtype = key_strategy is advanced_key  # index_put_ wants matching dtypes
            vdtype = dtype if same_dtype else draw(st.sampled_from((dtype, F64 if grad else I64)))
            v = draw(arrays(vdtype, vshape))
            return Sample((x, v), {"key": key}, (draw(st.booleans()), False))

        return sample()

    return make


add_entry("setitem_basic", _setitem, _setitem_samples(basic_key), covers=(), errors=(
    ("value shape mismatch", lambda m: m.ones(2, 3).__setitem__(0, m.ones(4))),
))
add_entry("setitem_advanced", _setitem, _setitem_samples(advanced_key), covers=())
add_entry("setitem_scalar", lambda m, x, key: _setitem(m, x, 2.5, key),
          _index_samples(basic_key, dtypes=FLOAT_DTYPES, min_dims=1), covers=())


# ----- general misuse (not tied to one op) ----------------------------------------------------
def _backward_twice(m):
    x = m.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


GENERAL_ERRORS = (
    ("requires_grad on an int tensor", lambda m: m.ones(2, dtype=m.int64).requires_grad_()),
    ("requires_grad= on an int tensor", lambda m: m.tensor([1, 2], requires_grad=True)),
    ("backward on a non-scalar", lambda m: (m.ones(2, requires_grad=True) * 2).backward()),
    ("backward on a tensor without grad", lambda m: m.ones(2).sum().backward()),
    ("backward twice", _backward_twice),
    ("grad of an unused input", lambda m: m.autograd.grad(
        (m.ones(2, requires_grad=True) * 2).sum(), m.ones(2, requires_grad=True))),
    ("grad_outputs shape mismatch", lambda m: m.autograd.grad(
        m.ones(2, requires_grad=True) * 2, m.ones(2, requires_grad=True), m.ones(3))),
    ("in-place on a leaf", lambda m: m.ones(2, requires_grad=True).mul_(2)),
    ("in-place on a view of a leaf", lambda m: m.ones(2, 2, requires_grad=True)[0].mul_(2)),
    ("saved tensor modified in place", lambda m: _modified_saved(m)),
)


def _modified_saved(m):
    x = m.ones(3, requires_grad=True)
    y = x * 1
    z = y.sin()
    y.add_(1)
    z.sum().backward()


# The public ops of ``ember`` (functions from ember.ops in dir(ember)); test_ops checks this
# list against dir(ember) and that every name here has an entry covering it. Functions of
# ``ember.linalg`` and ``ember.nn.functional`` are listed with their prefix: "linalg.inv",
# "nn.functional.relu".
PUBLIC_OPS = (
    "abs absolute add amax argmax argmin bitwise_not bmm broadcast_to cat clamp clamp_max "
    "clamp_min clip clone concat concatenate cos div divide dot eq exp flatten floor_divide ge "
    "greater greater_equal gt inner isnan le less less_equal log logical_and logical_not "
    "logical_or lt matmul max maximum mean min minimum mm mul multiply mv ne neg negative "
    "nonzero norm not_equal permute pow prod reciprocal relu remainder reshape rsub sigmoid "
    "sign sin sqrt squeeze stack sub subtract sum swapaxes swapdims t tanh transpose "
    "true_divide unflatten unsqueeze where"
).split()

# Each op family keeps its entries in a file of its own, which adds to OP_DB through
# ``add_entry`` and lists its public ops in its own PUBLIC_OPS.
import op_db_complex  # noqa: E402
import op_db_conv  # noqa: E402
import op_db_linalg  # noqa: E402
import op_db_more  # noqa: E402
import op_db_nn  # noqa: E402
import op_db_pointwise  # noqa: E402
import op_db_selection  # noqa: E402
import op_db_sorting  # noqa: E402

for _family in (op_db_complex, op_db_conv, op_db_linalg, op_db_more, op_db_nn, op_db_pointwise,
                op_db_selection, op_db_sorting):
    PUBLIC_OPS += list(_family.PUBLIC_OPS)

OPS_BY_NAME = {e.name: e for e in OP_DB}
assert len(OPS_BY_NAME) == len(OP_DB), "duplicate op_db names"

for _target, _aliases in (
    ("abs", ("absolute",)), ("neg", ("negative",)), ("sub", ("subtract",)),
    ("mul", ("multiply",)), ("div", ("divide", "true_divide")), ("clamp", ("clip",)),
    ("gt", ("greater",)), ("ge", ("greater_equal",)), ("lt", ("less",)),
    ("le", ("less_equal",)), ("ne", ("not_equal",)),
):
    for _alias in _aliases:
        alias(OPS_BY_NAME[_target], _alias)
OPS_BY_NAME = {e.name: e for e in OP_DB}

__all__ = ["GENERAL_ERRORS", "OP_DB", "OPS_BY_NAME", "PUBLIC_OPS", "OpEntry", "Sample",
           "build_key", "make_inputs", "make_tensor"]
