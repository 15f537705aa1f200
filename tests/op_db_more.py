"""Op database entries for ``ember/ops/pointwise_more.py`` and the later additions to
``ember/ops/shape.py`` (ravel, in-place views, unfold, sum_to_size, narrow_copy, diff,
diagflat).

Imported by ``op_db`` after its own entries; builds entries with ``op_db``'s helpers.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from op_db import (
    ALL_DTYPES,
    BOOL,
    F32,
    F64,
    FLOAT_DTYPES,
    I64,
    NUMERIC_DTYPES,
    OP_DB,
    PAIRS_ALL,
    Sample,
    T,
    _pick_dtypes,
    add_entry,
    arrays,
    binary,
    fn,
    not_tensor,
    shape_mismatch,
    shapes,
    unary,
)

_FIRST = len(OP_DB)

# ----- type_as, ravel -------------------------------------------------------------------------
add_entry("type_as", lambda m, x, y: x.type_as(y), binary(pairs=PAIRS_ALL), covers=(), errors=(
    ("number other", lambda m: m.ones(2).type_as(1.0)),
))
add_entry("ravel", fn("ravel"), unary(dtypes=ALL_DTYPES), errors=(not_tensor("ravel"),))
add_entry("ravel_method", lambda m, x: x.ravel(), unary(dtypes=FLOAT_DTYPES), covers=())


# ----- addcmul / addcdiv ----------------------------------------------------------------------
TRIPLES = ((F32, F32, F32), (F64, F64, F64), (F32, F64, F32), (F64, F32, F32),
           (I64, F32, F32), (F32, I64, F64), (I64, I64, I64), (F32, F32, I64), (BOOL, F64, F64))


def _addc_samples(divide: bool, value: bool = True):
    def make(grad: bool):
        @st.composite
        def sample(draw):
            triples = TRIPLES
            if grad:
                triples = tuple(t for t in triples if any(d in FLOAT_DTYPES for d in t))
            if divide:  # integer tensor1 and tensor2 are refused (a misuse case)
                triples = tuple(t for t in triples if F32 in t[1:] or F64 in t[1:])
            dtypes = draw(st.sampled_from(triples))
            shapes_ = draw(hnp.mutually_broadcastable_shapes(
                num_shapes=3, min_dims=0, max_dims=3, min_side=0, max_side=3)).input_shapes
            domains = ("real", "real", "nonzero" if divide else "real")
            arrays_ = tuple(draw(arrays(d, s, dom))
                            for d, s, dom in zip(dtypes, shapes_, domains))
            kw = {}
            if value:
                kw["value"] = draw(st.sampled_from((1, 2, -0.5, 0.5, 0, True)))
            return Sample(arrays_, kw, tuple(draw(st.booleans()) for _ in arrays_))

        return sample()

    return make


def _addc_errors(name: str) -> tuple:
    op = (lambda m, *a, **k: getattr(m, name)(*a, **k))
    return (
        ("shape mismatch", lambda m: op(m, m.ones(2, 3), m.ones(3), m.ones(4))),
        ("number input", lambda m: op(m, 1.0, m.ones(2), m.ones(2))),
        ("number tensor1", lambda m: op(m, m.ones(2), 2.0, m.ones(2))),
        ("number tensor2", lambda m: op(m, m.ones(2), m.ones(2), 2)),
        ("bool tensors", lambda m: op(m, T(m, [True]), T(m, [True]), T(m, [False]))),
        ("in place int += float", lambda m: getattr(T(m, [1, 2]), name + "_")(
            m.ones(2), m.ones(2))),
        ("in place grows", lambda m: getattr(m.ones(3), name + "_")(m.ones(2, 3), m.ones(3))),
    )


for _name, _divide in (("addcmul", False), ("addcdiv", True)):
    _errors = _addc_errors(_name) + ((
        ("int tensor1 and tensor2", lambda m: m.addcdiv(m.ones(1), T(m, [1]), T(m, [2]))),
    ) if _divide else ())
    add_entry(_name, (lambda n: lambda m, x, y, z, **k: getattr(m, n)(x, y, z, **k))(_name),
              _addc_samples(_divide), errors=_errors, atol=1e-4)
    add_entry(f"{_name}_default", fn(_name), _addc_samples(_divide, value=False), covers=(),
              atol=1e-4)
    add_entry(f"{_name}_method", (lambda n: lambda m, x, y, z, **k: getattr(x, n)(y, z, **k))(
        _name), _addc_samples(_divide), covers=(), atol=1e-4, forward_only=True)


def _addc_inplace_samples(divide: bool):
    def make(grad: bool):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(FLOAT_DTYPES))
            shape = draw(shapes(0, 3, 0, 3))
            x = draw(arrays(dtype, shape))
            others = []
            for domain in ("real", "nonzero" if divide else "real"):
                k = draw(st.integers(0, len(shape)))
                yshape = tuple(draw(st.sampled_from((s, 1))) for s in shape[k:])
                others.append(draw(arrays(draw(st.sampled_from(FLOAT_DTYPES)), yshape, domain)))
            kw = {"value": draw(st.sampled_from((1, -2, 0.5)))}
            return Sample((x, *others), kw, (draw(st.booleans()), False, False))

        return sample()

    return make


for _name, _divide in (("addcmul_", False), ("addcdiv_", True)):
    add_entry(_name, (lambda n: lambda m, x, y, z, value: getattr(x.clone(), n)(
        y, z, value=value))(_name), _addc_inplace_samples(_divide), covers=(), atol=1e-4)


# ----- comparisons spelt out (methods) --------------------------------------------------------
for _name in ("less", "less_equal", "greater", "greater_equal", "not_equal"):
    add_entry(f"{_name}_method", (lambda n: lambda m, x, y: getattr(x, n)(y))(_name),
              binary(pairs=PAIRS_ALL), differentiable=False, covers=())


# ----- bitwise logic and shifts ---------------------------------------------------------------
INT_PAIRS = ((I64, I64), (BOOL, BOOL), (I64, BOOL), (BOOL, I64))
for _name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    add_entry(_name, fn(_name), binary(pairs=INT_PAIRS), differentiable=False, errors=(
        ("float operands", (lambda n: lambda m: getattr(m, n)(m.ones(2), m.ones(2)))(_name)),
        ("float number", (lambda n: lambda m: getattr(m, n)(T(m, [1, 2]), 1.5))(_name)),
        ("shape mismatch", (lambda n: lambda m: getattr(m, n)(T(m, [[1, 2]]), T(m, [1, 2, 3])))(
            _name)),
    ))
    add_entry(f"{_name}_method", (lambda n: lambda m, x, y: getattr(x, n)(y))(_name),
              binary(pairs=INT_PAIRS), differentiable=False, covers=())
    add_entry(f"{_name}_scalar", (lambda n: lambda m, x, s: getattr(m, n)(x, s))(_name),
              lambda grad: st.builds(lambda a, s: Sample((a,), {"s": s}),
                                     arrays(I64, shapes()), st.sampled_from((3, -1, 0, True))),
              differentiable=False, covers=())


def _shift_samples(grad: bool):
    """Integer values and shift amounts, including negative ones and the whole width."""

    @st.composite
    def sample(draw):
        sa, sb = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3)).input_shapes
        a = draw(hnp.arrays(np.int64, sa, elements=st.integers(-2**40, 2**40)))
        b = draw(hnp.arrays(np.int64, sb, elements=st.one_of(
            st.integers(0, 8), st.sampled_from((-1, -70, 62, 63, 64, 65, 100)))))
        return Sample((a, b), {}, (draw(st.booleans()), draw(st.booleans())))

    return sample()


for _name, _operator in (("bitwise_left_shift", "__lshift__"),
                         ("bitwise_right_shift", "__rshift__")):
    add_entry(_name, fn(_name), _shift_samples, differentiable=False, errors=(
        ("float operands", (lambda n: lambda m: getattr(m, n)(m.ones(2), 1))(_name)),
        ("bool operands", (lambda n: lambda m: getattr(m, n)(T(m, [True]), T(m, [True])))(_name)),
        ("float shift", (lambda n: lambda m: getattr(m, n)(T(m, [1]), 1.5))(_name)),
        ("shape mismatch", (lambda n: lambda m: getattr(m, n)(T(m, [[1, 2]]), T(m, [1, 2, 3])))(
            _name)),
    ))
    add_entry(f"{_name}_operator", (lambda o: lambda m, x, y: getattr(x, o)(y))(_operator),
              _shift_samples, differentiable=False, covers=())
    add_entry(f"{_name}_", (lambda n: lambda m, x, y: getattr(x.clone(), n + "_")(y))(_name),
              _shift_samples, differentiable=False, covers=(), errors=(
                  ("grows", (lambda n: lambda m: getattr(T(m, [1]), n + "_")(T(m, [1, 2])))(
                      _name)),
              ))
add_entry("shift_numbers", lambda m, x: (x << 2, x >> 1, 3 << x, 64 >> x, x.clone().__ilshift__(1),
                                         x.clone().__irshift__(1)),
          lambda grad: st.builds(lambda a: Sample((a,)), hnp.arrays(
              np.int64, shapes(), elements=st.integers(0, 9))), differentiable=False, covers=())
add_entry("shift_int32", lambda m, x, y: m.bitwise_left_shift(x.int(), y.int()),
          _shift_samples, differentiable=False, covers=())
add_entry("shift_int32_right", lambda m, x, y: m.bitwise_right_shift(x.int(), y.int()),
          _shift_samples, differentiable=False, covers=())
add_entry("shift_uint8_right", lambda m, x, y: m.bitwise_right_shift(x.byte(), y.byte()),
          lambda grad: st.builds(lambda a, b: Sample((a, b)),
                                 hnp.arrays(np.int64, (3,), elements=st.integers(0, 255)),
                                 hnp.arrays(np.int64, (3,), elements=st.integers(0, 12))),
          differentiable=False, covers=())

add_entry("logical_xor", fn("logical_xor"), binary(pairs=PAIRS_ALL), differentiable=False,
          errors=(
              ("number other", lambda m: m.logical_xor(m.ones(2), 1)),
              ("number input", lambda m: m.logical_xor(1, m.ones(2))),
              shape_mismatch("logical_xor"),
          ))
add_entry("logical_xor_", lambda m, x, y: x.clone().logical_xor_(y), binary(
    pairs=((F32, F32), (I64, BOOL), (BOOL, BOOL), (F64, I64)), equal_shapes=True),
    differentiable=False, covers=())

# ----- sign tests -----------------------------------------------------------------------------
add_entry("positive", fn("positive"), unary(dtypes=NUMERIC_DTYPES), errors=(
    not_tensor("positive"), ("bool input", lambda m: m.positive(T(m, [True]))),
))
add_entry("positive_method", lambda m, x: x.positive(), unary(dtypes=FLOAT_DTYPES), covers=())
_SIGNED = st.one_of(st.sampled_from((0.0, -0.0, float("nan"), -float("nan"), float("inf"),
                                     -float("inf"))), st.floats(-3, 3, width=32))
add_entry("signbit", fn("signbit"), unary(dtypes=ALL_DTYPES), differentiable=False, errors=(
    not_tensor("signbit"),
))
add_entry("signbit_specials", lambda m, x: x.signbit(), lambda grad: st.builds(
    lambda a, f64: Sample((a.astype(np.float64) if f64 else a,)),
    hnp.arrays(np.float32, shapes(), elements=_SIGNED), st.booleans()),
    differentiable=False, covers=())


# ----- queries giving Python values -----------------------------------------------------------
def _value_of(name: str, method: bool = False):
    """A query's Python result as a tensor of (value, whether it is exactly a bool/int)."""

    def run(m, *tensors):
        result = getattr(tensors[0], name)(*tensors[1:]) if method else getattr(m, name)(
            *tensors)
        return m.tensor([int(result), type(result).__name__ == "bool"])

    return run


for _name in ("is_signed", "is_inference", "get_device"):
    add_entry(_name, _value_of(_name), unary(dtypes=ALL_DTYPES), differentiable=False,
              errors=(not_tensor(_name),))
    add_entry(f"{_name}_method", _value_of(_name, True), unary(dtypes=ALL_DTYPES),
              differentiable=False, covers=())
add_entry("is_signed_more", lambda m, x: m.tensor([x.byte().is_signed(), x.char().is_signed(),
                                                   x.short().is_signed(), x.half().is_signed()]),
          unary(dtypes=(I64,)), differentiable=False, covers=())
add_entry("is_nonzero", _value_of("is_nonzero"), unary(dtypes=ALL_DTYPES, max_side=2),
          differentiable=False, errors=(
              not_tensor("is_nonzero"),
              ("empty", lambda m: m.is_nonzero(m.ones(0))),
              ("two values", lambda m: m.is_nonzero(m.ones(2))),
          ))
add_entry("is_nonzero_method", _value_of("is_nonzero", True),
          unary(dtypes=ALL_DTYPES, max_side=1), differentiable=False, covers=())
add_entry("is_same_size", _value_of("is_same_size"), binary(pairs=PAIRS_ALL),
          differentiable=False, errors=(
              ("number input", lambda m: m.is_same_size(1.0, m.ones(2))),
              ("number other", lambda m: m.is_same_size(m.ones(2), 1)),
          ))
add_entry("is_same_size_method", _value_of("is_same_size", True), binary(pairs=PAIRS_ALL),
          differentiable=False, covers=())


# ----- in-place views -------------------------------------------------------------------------
def _two_dims(shape):
    ndim = len(shape)
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    return st.fixed_dictionaries({"dim0": st.integers(lo, hi), "dim1": st.integers(lo, hi)})


def _squeeze_dims(shape):
    ndim = len(shape)
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    return st.fixed_dictionaries({"dim": st.one_of(
        st.none(), st.integers(lo, hi),
        st.lists(st.integers(lo, hi), max_size=max(ndim, 1), unique=True).map(tuple))})


def _restride_then(op, then_inplace: bool):
    """``op`` in place on a copy of x (a non-leaf); optionally then multiplied in place, which
    must reach the gradient through the new shape."""

    def run(m, x, **kwargs):
        z = x.clone()
        out = op(z, **kwargs)
        if then_inplace:
            out.mul_(2.5)
        return out, z

    return run


def _restride_view_then(op):
    """``op`` in place on a view of a non-leaf, then the view changed in place: the base's
    gradient must come through the view's new shape (CopySlices)."""

    def run(m, x, **kwargs):
        base = x.clone()
        v = base[...]
        op(v, **kwargs)
        v.mul_(v.detach() + 1)
        return base, v

    return run


_INPLACE_VIEWS = (
    ("t_", lambda z: z.t_(), None, 2),
    ("transpose_", lambda z, dim0, dim1: z.transpose_(dim0, dim1), _two_dims, 3),
    ("swapdims_", lambda z, dim0, dim1: z.swapdims_(dim0, dim1), _two_dims, 3),
    ("swapaxes_", lambda z, dim0, dim1: z.swapaxes_(dim0, dim1), _two_dims, 3),
    ("squeeze_", lambda z, dim: z.squeeze_() if dim is None else z.squeeze_(dim), _squeeze_dims,
     3),
    ("unsqueeze_", lambda z, dim: z.unsqueeze_(dim), lambda s: st.fixed_dictionaries(
        {"dim": st.integers(-len(s) - 1, len(s))}), 3),
)
_LEAF_ARGS = {"t_": (), "transpose_": (0, 1), "swapdims_": (0, 1), "swapaxes_": (0, 1),
              "squeeze_": (), "unsqueeze_": (0,)}
for _name, _op, _kwargs, _dims in _INPLACE_VIEWS:
    _samples = unary(dtypes=ALL_DTYPES, max_dims=_dims, max_side=2, kwargs=_kwargs)
    add_entry(_name, _restride_then(_op, False), _samples, covers=(), errors=(
        ("leaf that requires grad", (lambda n: lambda m: getattr(
            m.ones(2, 1, requires_grad=True), n)(*_LEAF_ARGS[n]))(_name)),
    ))
    add_entry(f"{_name}then_mul_", _restride_then(_op, True),
              unary(dtypes=FLOAT_DTYPES, max_dims=_dims, max_side=2, kwargs=_kwargs), covers=())
    add_entry(f"{_name}on_view", _restride_view_then(_op),
              unary(dtypes=FLOAT_DTYPES, max_dims=_dims, max_side=2, kwargs=_kwargs), covers=())
add_entry("t_3d", lambda m, x: x.clone().t_(), unary(min_dims=3), covers=(), errors=(
    ("3-D t_", lambda m: m.ones(2, 2, 2).t_()),
    ("view of a leaf", lambda m: m.ones(2, 3, requires_grad=True)[0:1].t_()),
    ("transpose_ dim out of range", lambda m: m.ones(2, 3).transpose_(0, 2)),
    ("squeeze_ repeated dim", lambda m: m.ones(2, 1).squeeze_((1, 1))),
    ("unsqueeze_ dim out of range", lambda m: m.ones(2).unsqueeze_(3)),
))


def _under_no_grad(m, x):
    leaf = x.clone().requires_grad_()
    with m.no_grad():
        leaf.t_()
    return leaf * 2


add_entry("t_no_grad_leaf", _under_no_grad, unary(dtypes=FLOAT_DTYPES, max_dims=2), covers=(),
          differentiable=False)


# ----- unfold ---------------------------------------------------------------------------------
def _unfold_kwargs(shape):
    ndim = len(shape)
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)

    @st.composite
    def kwargs(draw):
        dim = draw(st.integers(lo, hi))
        n = shape[dim] if ndim else 1
        return {"dimension": dim, "size": draw(st.integers(0, n)), "step": draw(
            st.integers(1, 3))}

    return kwargs()


add_entry("unfold", lambda m, x, **k: x.unfold(**k), unary(dtypes=ALL_DTYPES,
                                                           kwargs=_unfold_kwargs),
          covers=(), errors=(
              ("size too big", lambda m: m.ones(5, 4).unfold(0, 6, 1)),
              ("zero step", lambda m: m.ones(5, 4).unfold(0, 2, 0)),
              ("negative size", lambda m: m.ones(5, 4).unfold(0, -1, 1)),
              ("dim out of range", lambda m: m.ones(5, 4).unfold(2, 2, 1)),
              ("0-dim size 2", lambda m: m.tensor(3.0).unfold(0, 2, 1)),
              ("empty dim", lambda m: m.ones(0, 3).unfold(0, 1, 1)),
          ))


def _unfold_then_inplace(m, x, dimension, size, step):
    """Windows that do not overlap (step >= size) changed in place: the base's gradient."""
    base = x.clone()
    w = base.unfold(dimension, size, step + size)
    w.mul_(w.detach() + 1)
    return base, w


add_entry("unfold_inplace_view", _unfold_then_inplace,
          unary(dtypes=FLOAT_DTYPES, kwargs=_unfold_kwargs), covers=())


# ----- sum_to_size, narrow_copy, diff, diagflat -----------------------------------------------
def _sum_to_size_kwargs(shape):
    @st.composite
    def kwargs(draw):
        k = draw(st.integers(0, len(shape)))
        return {"size": tuple(draw(st.sampled_from((s, 1))) for s in shape[k:])}

    return kwargs()


add_entry("sum_to_size", lambda m, x, size: x.sum_to_size(size),
          unary(dtypes=NUMERIC_DTYPES, kwargs=_sum_to_size_kwargs), covers=(), errors=(
              ("not expandable", lambda m: m.ones(5, 4).sum_to_size(3, 4)),
              ("more dims", lambda m: m.ones(5, 4).sum_to_size(2, 5, 4)),
              ("no size", lambda m: m.ones(5, 4).sum_to_size()),
          ))
add_entry("sum_to_size_varargs", lambda m, x, size: x.sum_to_size(*size),
          unary(dtypes=FLOAT_DTYPES, min_dims=1, kwargs=_sum_to_size_kwargs), covers=())


def _narrow_kwargs(shape):
    ndim = len(shape)

    @st.composite
    def kwargs(draw):
        dim = draw(st.integers(-ndim, ndim - 1))
        n = shape[dim]
        start = draw(st.integers(-n, n))
        length = draw(st.integers(0, n - (start % n if n and start < 0 else start)))
        return {"dim": dim, "start": start, "length": length}

    return kwargs()


add_entry("narrow_copy", lambda m, x, **k: m.narrow_copy(x, **k),
          unary(dtypes=ALL_DTYPES, min_dims=1, kwargs=_narrow_kwargs), errors=(
              ("past the end", lambda m: m.ones(5, 4).narrow_copy(0, 4, 2)),
              ("start out of range", lambda m: m.ones(5, 4).narrow_copy(0, -6, 1)),
              ("negative length", lambda m: m.ones(5, 4).narrow_copy(0, 1, -1)),
              ("0-dim", lambda m: m.tensor(1.0).narrow_copy(0, 0, 1)),
              ("dim out of range", lambda m: m.ones(5, 4).narrow_copy(-3, 0, 1)),
          ))
add_entry("narrow_copy_method", lambda m, x, **k: x.narrow_copy(*k.values()),
          unary(dtypes=FLOAT_DTYPES, min_dims=1, kwargs=_narrow_kwargs), covers=())


def _diff_samples(grad: bool):
    @st.composite
    def sample(draw):
        dtypes = _pick_dtypes(ALL_DTYPES, grad)
        dtype = draw(st.sampled_from(dtypes))
        shape = draw(shapes(1, 3))
        ndim = len(shape)
        dim = draw(st.integers(-ndim, ndim - 1))
        arrays_ = [draw(arrays(dtype, shape))]
        kw = {"n": draw(st.integers(0, 3)), "dim": dim}
        for name in ("prepend", "append"):
            if draw(st.booleans()):
                extra = list(shape)
                extra[dim] = draw(st.integers(0, 2))
                arrays_.append(draw(arrays(draw(st.sampled_from(
                    (dtype,) if dtype == BOOL else dtypes)), tuple(extra))))
                kw[name] = True
        return Sample(tuple(arrays_), kw, tuple(draw(st.booleans()) for _ in arrays_))

    return sample()


def _diff(m, x, *extras, n, dim, prepend=False, append=False):
    extras = list(extras)
    kw = {"n": n, "dim": dim}
    if prepend:
        kw["prepend"] = extras.pop(0)
    if append:
        kw["append"] = extras.pop(0)
    return m.diff(x, **kw)


add_entry("diff", _diff, _diff_samples, errors=(
    ("0-dim", lambda m: m.diff(m.tensor(1.0))),
    ("negative order", lambda m: m.diff(m.ones(3), n=-1)),
    ("prepend of other rank", lambda m: m.diff(m.ones(5, 4), prepend=m.ones(5))),
    ("number prepend", lambda m: m.diff(m.ones(3), prepend=1.0)),
    ("dim out of range", lambda m: m.diff(m.ones(3), dim=2)),
    not_tensor("diff"),
))
add_entry("diff_method", lambda m, x: x.diff(), unary(dtypes=ALL_DTYPES, min_dims=1), covers=())


def _offset(shape):
    return st.fixed_dictionaries({"offset": st.integers(-2, 2)})


add_entry("diagflat", lambda m, x, offset: m.diagflat(x, offset),
          unary(dtypes=ALL_DTYPES, kwargs=_offset), errors=(
              not_tensor("diagflat"),
              ("float offset", lambda m: m.diagflat(m.ones(2), offset=1.5)),
          ))
add_entry("diagflat_method", lambda m, x: x.diagflat(), unary(dtypes=FLOAT_DTYPES), covers=())

# ----- logit, sinc ---------------------------------------------------------------------------
UNIT = st.one_of(st.sampled_from((0.0, 1.0, 0.5, 0.05, 0.95, 0.1, 0.9)),
                 st.floats(0.03125, 0.96875, width=32))
EDGES = st.one_of(st.sampled_from((0.0, -0.0, 1.0, -1.0, 2.0, float("inf"), -float("inf"),
                                   float("nan"), 1e-30, 1e30)), st.floats(-3, 3, width=32))


def _floats_of(elements, dtypes=FLOAT_DTYPES, kwargs=None, ints=st.integers(-2, 2)):
    def make(grad: bool):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(_pick_dtypes(dtypes, grad)))
            shape = draw(shapes())
            element = {F32: elements, F64: elements, I64: ints, BOOL: st.booleans()}[dtype]
            array = draw(hnp.arrays(np.dtype(dtype), shape, elements=element))
            kw = draw(kwargs(shape)) if kwargs is not None else {}
            return Sample((array,), kw, (draw(st.booleans()),))

        return sample()

    return make


def _eps(shape):
    return st.fixed_dictionaries({"eps": st.sampled_from((None, 0.1, 0.0, 0.25, 1e-6))})


add_entry("logit", lambda m, x, eps: m.logit(x, eps), _floats_of(UNIT, ALL_DTYPES, _eps,
                                                                 st.integers(0, 1)),
          errors=(not_tensor("logit"),))
add_entry("logit_outside", lambda m, x, eps: m.logit(x, eps=eps),
          _floats_of(st.floats(-2, 2, width=32), FLOAT_DTYPES, lambda s: st.fixed_dictionaries(
              {"eps": st.sampled_from((0.1, 0.3))})), covers=())
add_entry("logit_edges", fn("logit"), _floats_of(EDGES), differentiable=False, covers=())
add_entry("logit_", lambda m, x: m.logit_(x.clone(), 0.2), _floats_of(UNIT), errors=(
    ("int tensor", lambda m: m.logit_(T(m, [0, 1]))),
))
add_entry("logit_method_", lambda m, x: x.clone().logit_(), _floats_of(UNIT), covers=())
# Magnitudes below 1/8 become 0: near 0 sinc's derivative formula cancels (completely below
# ~1e-5), and which rounding torch's second derivative keeps there depends on the order its
# engine sums gradients in (float32 differs by 1e-3 at x = 2**-8), and in float32 even the
# first derivative there hangs on last-bit differences of torch's vectorized sin and cos.
# ``sinc_tiny`` checks the values there.
NEAR_ZERO_IS_ZERO = st.floats(-3, 3, width=32).map(lambda v: 0.0 if abs(v) < 0.125 else v)
add_entry("sinc", fn("sinc"), _floats_of(NEAR_ZERO_IS_ZERO | st.sampled_from(
    (0.0, 1.0, -2.0, 0.5)), ALL_DTYPES), errors=(not_tensor("sinc"),), atol=1e-4)
add_entry("sinc_tiny", fn("sinc"), _floats_of(st.floats(-2.0**-10, 2.0**-10, width=32)),
          covers=(), differentiable=False, atol=1e-4)
add_entry("sinc_edges", fn("sinc"), _floats_of(EDGES), differentiable=False, covers=(),
          atol=1e-4)
add_entry("sinc_", lambda m, x: m.sinc_(x.clone()), _floats_of(NEAR_ZERO_IS_ZERO),
          errors=(("int tensor", lambda m: m.sinc_(T(m, [0, 1]))),), atol=1e-4)
add_entry("sinc_method_", lambda m, x: x.clone().sinc_(), _floats_of(NEAR_ZERO_IS_ZERO),
          covers=(), atol=1e-4)

# ----- heaviside, fmax, fmin ------------------------------------------------------------------
SAME_PAIRS = ((F32, F32), (F64, F64), (I64, I64), (BOOL, BOOL))
add_entry("heaviside", fn("heaviside"), binary(pairs=SAME_PAIRS), errors=(
    ("dtype mismatch", lambda m: m.heaviside(m.ones(2), T(m, [1]))),
    ("number values", lambda m: m.heaviside(m.ones(2), 0.5)),
    ("shape mismatch", lambda m: m.heaviside(m.ones(2, 3), m.ones(4))),
    ("number input", lambda m: m.heaviside(1.0, m.ones(2))),
    ("backward", lambda m: m.heaviside(m.ones(2, requires_grad=True), m.ones(1)).sum().backward()),
), differentiable=False)
add_entry("heaviside_grad_fn", lambda m, x, y: m.heaviside(x.requires_grad_(), y),
          binary(pairs=((F32, F32), (F64, F64))), differentiable=False, covers=())
add_entry("heaviside_", lambda m, x, y: x.clone().heaviside_(y),
          binary(pairs=SAME_PAIRS, equal_shapes=True), differentiable=False, covers=())
NAN_PAIRS = st.one_of(st.sampled_from((float("nan"), 0.0, 1.0, -1.0)), st.floats(-3, 3, width=32))


def _nan_binary(grad: bool):
    @st.composite
    def sample(draw):
        da, db = draw(st.sampled_from(_pick_pairs_all(grad)))
        sa, sb = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3)).input_shapes

        def element(dtype):
            return {F32: NAN_PAIRS, F64: NAN_PAIRS, I64: st.integers(-2, 2),
                    BOOL: st.booleans()}[dtype]

        a = draw(hnp.arrays(np.dtype(da), sa, elements=element(da)))
        b = draw(hnp.arrays(np.dtype(db), sb, elements=element(db)))
        if sa == sb and da == db and draw(st.booleans()):
            b = a.copy()
        return Sample((a, b), {}, (draw(st.booleans()), draw(st.booleans())))

    return sample()


def _pick_pairs_all(grad: bool):
    return tuple(p for p in PAIRS_ALL if not grad or p[0] in FLOAT_DTYPES or p[1] in FLOAT_DTYPES)


for _name in ("fmax", "fmin"):
    add_entry(_name, fn(_name), _nan_binary, errors=(
        ("number other", (lambda n: lambda m: getattr(m, n)(m.ones(2), 1.0))(_name)),
        ("number input", (lambda n: lambda m: getattr(m, n)(1.0, m.ones(2)))(_name)),
        shape_mismatch(_name),
    ))

# ----- ldexp, nextafter, frexp ----------------------------------------------------------------
LDEXP_PAIRS = ((F32, I64), (F64, I64), (F32, F32), (F64, F32), (I64, I64), (F32, F64),
               (I64, F64), (BOOL, I64))


def _ldexp_samples(grad: bool):
    @st.composite
    def sample(draw):
        pairs = tuple(p for p in LDEXP_PAIRS if not grad or F32 in p or F64 in p)
        da, db = draw(st.sampled_from(pairs))
        sa, sb = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3)).input_shapes
        a = draw(arrays(da, sa))
        b = draw(hnp.arrays(np.dtype(db), sb, elements=st.integers(-3, 4) if db == I64 else
                            st.sampled_from((0.0, 1.0, -2.0, 0.5, 3.0, -1.5))))
        return Sample((a, b), {}, (draw(st.booleans()), draw(st.booleans())))

    return sample()


add_entry("ldexp", fn("ldexp"), _ldexp_samples, errors=(
    ("number other", lambda m: m.ldexp(m.ones(2), 2)),
    ("number input", lambda m: m.ldexp(2.0, m.ones(2))),
    shape_mismatch("ldexp"),
))
add_entry("ldexp_", lambda m, x, y: m.ldexp_(x.clone(), y), _ldexp_samples, errors=(
    ("in place on an int tensor", lambda m: m.ldexp_(T(m, [1, 2]), T(m, [1, 2]))),
))
add_entry("nextafter", fn("nextafter"), _nan_binary, errors=(
    ("int operands", lambda m: m.nextafter(T(m, [1, 2]), T(m, [1, 2]))),
    ("number other", lambda m: m.nextafter(m.ones(2), 1.0)),
    shape_mismatch("nextafter"),
))
add_entry("nextafter_", lambda m, x, y: x.clone().nextafter_(y),
          binary(pairs=((F32, F32), (F64, F64), (F64, F32)), equal_shapes=True), covers=())


def _frexp(m, x):
    mantissa, exponent = m.frexp(x)
    return mantissa, exponent, m.frexp(x).mantissa, type(m.frexp(x)).__name__ == "frexp"


add_entry("frexp", lambda m, x: m.frexp(x), _floats_of(EDGES), errors=(
    ("int tensor", lambda m: m.frexp(T(m, [1, 2]))),
    not_tensor("frexp"),
))
add_entry("frexp_method", lambda m, x: x.frexp().exponent, _floats_of(EDGES),
          differentiable=False, covers=())

# ----- gcd, lcm, isreal -----------------------------------------------------------------------
_GCD_INTS = st.integers(-30, 30)


def _int_pairs(grad: bool):
    @st.composite
    def sample(draw):
        sa, sb = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3)).input_shapes
        a = draw(hnp.arrays(np.int64, sa, elements=_GCD_INTS))
        b = draw(hnp.arrays(np.int64, sb, elements=_GCD_INTS))
        return Sample((a, b))

    return sample()


for _name in ("gcd", "lcm"):
    add_entry(_name, fn(_name), _int_pairs, differentiable=False, errors=(
        ("float operands", (lambda n: lambda m: getattr(m, n)(m.ones(2), m.ones(2)))(_name)),
        ("number other", (lambda n: lambda m: getattr(m, n)(T(m, [2]), 3))(_name)),
        ("shape mismatch", (lambda n: lambda m: getattr(m, n)(T(m, [[1, 2]]), T(m, [1, 2, 3])))(
            _name)),
        ("bool operands", (lambda n: lambda m: getattr(m, n)(T(m, [True]), T(m, [True])))(
            _name)),
    ))
    add_entry(f"{_name}_", (lambda n: lambda m, x, y: getattr(m, n + "_")(x.clone(), y))(_name),
              lambda grad: st.builds(lambda a, b: Sample((a, b)),
                                     hnp.arrays(np.int64, (2, 3), elements=_GCD_INTS),
                                     hnp.arrays(np.int64, (3,), elements=_GCD_INTS)),
              differentiable=False, errors=(
                  ("grows", (lambda n: lambda m: getattr(m, n + "_")(T(m, [1]), T(m, [1, 2])))(
                      _name)),
              ))
    add_entry(f"{_name}_int32", (lambda n: lambda m, x, y: getattr(x.int(), n)(y.int()))(_name),
              _int_pairs, differentiable=False, covers=())
add_entry("isreal", fn("isreal"), unary(dtypes=ALL_DTYPES), differentiable=False,
          errors=(not_tensor("isreal"),))


# ----- logcumsumexp ---------------------------------------------------------------------------
def _one_dim(shape):
    ndim = len(shape)
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    return st.fixed_dictionaries({"dim": st.integers(lo, hi)})


WIDE = st.one_of(st.sampled_from((0.0, 1.0, -1.0, 50.0, -50.0, 80.0)), st.floats(-5, 5, width=32))
add_entry("logcumsumexp", lambda m, x, dim: m.logcumsumexp(x, dim),
          _floats_of(WIDE, kwargs=_one_dim), errors=(
              ("int tensor", lambda m: m.logcumsumexp(T(m, [1, 2]), 0)),
              ("bool tensor", lambda m: m.logcumsumexp(T(m, [True]), 0)),
              ("dim out of range", lambda m: m.logcumsumexp(m.ones(2, 3), 2)),
              ("0-dim dim 1", lambda m: m.logcumsumexp(m.tensor(2.0), 1)),
              ("number input", lambda m: m.logcumsumexp(2.0, 0)),
          ), atol=1e-4)
add_entry("logcumsumexp_edges", lambda m, x, dim: x.logcumsumexp(dim),
          _floats_of(EDGES, kwargs=_one_dim), differentiable=False, covers=(), atol=1e-4)


# ----- lgamma, digamma, polygamma -------------------------------------------------------------
GAMMA_REAL = st.one_of(st.sampled_from((1.0, 2.0, 0.5, 1.5, 2.5, 1.4616321, -0.5, -1.5, -2.5,
                                        3.0, 10.0, 15.0, 14.75)),
                       st.floats(-4.5, 20.0, width=32))
GAMMA_EDGES = st.one_of(st.sampled_from((0.0, -0.0, -1.0, -2.0, float("inf"), -float("inf"),
                                         float("nan"), 1e-30, -1e-30, 1e30, -1e30, 3e38,
                                         -2.4566290, 1.4616321)),
                        st.floats(-60.0, 60.0, width=32), st.floats(0.0, 1e6, width=32))


def _order(shape):
    return st.fixed_dictionaries({"n": st.integers(0, 4)})


for _name in ("lgamma", "digamma"):
    add_entry(_name, fn(_name), _floats_of(GAMMA_REAL, ALL_DTYPES, ints=st.integers(-3, 5)),
              errors=(not_tensor(_name),), rtol=1e-4, atol=1e-4, rtol64=1e-9, atol64=1e-12)
    add_entry(f"{_name}_edges", fn(_name), _floats_of(GAMMA_EDGES), differentiable=False,
              covers=(), rtol=1e-5, atol=1e-5, rtol64=1e-12, atol64=1e-14)
    add_entry(f"{_name}_", (lambda n: lambda m, x: getattr(x.clone(), n + "_")())(_name),
              _floats_of(GAMMA_REAL), covers=(), rtol=1e-4, atol=1e-4, rtol64=1e-9,
              atol64=1e-12, errors=(
                  ("in place on an int tensor",
                   (lambda n: lambda m: getattr(T(m, [1, 2]), n + "_")())(_name)),
              ))
    add_entry(f"{_name}_method", (lambda n: lambda m, x: getattr(x, n)())(_name),
              _floats_of(GAMMA_REAL), covers=(), forward_only=True)
# polygamma(1, .) is torch's own short series (relative error up to ~5e-10); ember's is exact
# to rounding, hence the default float64 tolerance there and 1e-9 for the gradients of lgamma
# and digamma (which are digamma and polygamma(1, .)).
add_entry("polygamma", lambda m, x, n: m.polygamma(n, x),
          _floats_of(GAMMA_REAL, ALL_DTYPES, kwargs=_order, ints=st.integers(-3, 5)), errors=(
              ("negative n", lambda m: m.polygamma(-1, m.ones(2))),
              ("float n", lambda m: m.polygamma(1.5, m.ones(2))),
              ("tensor n", lambda m: m.polygamma(m.ones(1), 1)),
              ("number input", lambda m: m.polygamma(1, 2.0)),
              ("in place on an int tensor", lambda m: T(m, [1, 2]).polygamma_(1)),
          ), rtol=1e-4, atol=1e-4)
add_entry("polygamma_edges", lambda m, x, n: m.polygamma(n, x),
          _floats_of(GAMMA_EDGES, kwargs=_order), differentiable=False, covers=(), rtol=1e-4,
          atol=1e-5)
add_entry("polygamma_method", lambda m, x, n: x.polygamma(n),
          _floats_of(GAMMA_REAL, kwargs=_order), covers=(), rtol=1e-4, atol=1e-4)
add_entry("polygamma_", lambda m, x, n: x.clone().polygamma_(n),
          _floats_of(GAMMA_REAL, kwargs=_order), covers=(), rtol=1e-4, atol=1e-4)


# ----- renorm ---------------------------------------------------------------------------------
def _renorm_kwargs(shape):
    return st.fixed_dictionaries({
        "p": st.sampled_from((2, 1, 3, 1.5, float("inf"), 2.0)),
        "dim": st.integers(-len(shape), len(shape) - 1),
        "maxnorm": st.sampled_from((1.0, 0.5, 2, 0.0, 10.0)),
    })


def _renorm_samples(grad: bool):
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        shape = draw(shapes(2, 3))
        array = draw(arrays(dtype, shape))
        return Sample((array,), draw(_renorm_kwargs(shape)), (draw(st.booleans()),))

    return sample()


add_entry("renorm", lambda m, x, p, dim, maxnorm: m.renorm(x, p, dim, maxnorm), _renorm_samples,
          errors=(
              ("non-positive p", lambda m: m.renorm(m.ones(3, 2), -1, 0, 1.0)),
              ("negative maxnorm", lambda m: m.renorm(m.ones(3, 2), 2, 0, -1.0)),
              ("dim out of range", lambda m: m.renorm(m.ones(3, 2), 2, 5, 1.0)),
              ("1-D input", lambda m: m.renorm(m.ones(3), 2, 0, 1.0)),
              ("int input", lambda m: m.renorm(T(m, [[1, 2]]), 2, 0, 1.0)),
              ("number input", lambda m: m.renorm(1.0, 2, 0, 1.0)),
              ("inf norm over an empty dim", lambda m: m.renorm(m.ones(2, 0, 3), float("inf"), 2,
                                                                1.0)),
          ), atol=1e-4)
add_entry("renorm_method_", lambda m, x, p, dim, maxnorm: x.clone().renorm_(p, dim, maxnorm),
          _renorm_samples, covers=(), atol=1e-4)


# This family's entries (for ``pytest -k``) and public op names (see op_db.PUBLIC_OPS).
ENTRY_NAMES = [e.name for e in OP_DB[_FIRST:]]
# This family's public op names (see op_db.PUBLIC_OPS).
PUBLIC_OPS: tuple[str, ...] = tuple((
    "addcdiv addcmul bitwise_and bitwise_left_shift bitwise_or bitwise_right_shift "
    "bitwise_xor diagflat diff fmax fmin frexp gcd gcd_ get_device heaviside is_inference "
    "is_nonzero is_same_size is_signed isreal lcm lcm_ ldexp ldexp_ logcumsumexp logical_xor "
    "logit logit_ narrow_copy nextafter positive ravel renorm signbit sinc sinc_ lgamma digamma "
    "polygamma"
).split())
