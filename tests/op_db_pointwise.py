"""Op database entries for elementwise math (``ember/ops/pointwise.py``, core extras).

Imported by ``op_db`` after its own entries; builds entries with ``op_db``'s helpers.
Domains keep values where torch and NumPy agree (acosh on [1, ...), atanh inside (-1, 1));
separate ``*_edges`` entries feed NaN, infinities and domain boundaries to the forward.
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
    PAIRS_FLOAT,
    PAIRS_NUM,
    Sample,
    T,
    _pick_dtypes,
    _pick_pairs,
    add_entry,
    alias,
    binary,
    fn,
    not_tensor,
    shape_mismatch,
    shapes,
    tensor_scalar,
    unary,
)

INF, NAN = float("inf"), float("nan")
SPECIALS = (INF, -INF, NAN, 0.0, -0.0, 1.0, -1.0)


def floats_in(lo: float, hi: float, *specials: float):
    """Float32-representable values in [lo, hi], favouring ``specials``."""
    values = st.floats(float(np.float32(lo)), float(np.float32(hi)), width=32)
    specials = tuple(float(np.float32(v)) for v in specials)
    return st.one_of(st.sampled_from(specials), values) if specials else values


def unary_in(floats, ints=st.integers(-4, 4), dtypes=NUMERIC_DTYPES, kwargs=None, max_dims=3):
    """One tensor with float elements from ``floats`` (ints from ``ints``)."""

    def make(grad: bool):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(_pick_dtypes(dtypes, grad)))
            shape = draw(shapes(0, max_dims))
            elements = {F32: floats, F64: floats, I64: ints, BOOL: st.booleans()}[dtype]
            array = draw(hnp.arrays(np.dtype(dtype), shape, elements=elements))
            kw = draw(kwargs(shape)) if kwargs is not None else {}
            return Sample((array,), kw, (draw(st.booleans()),))

        return sample()

    return make


def binary_in(floats_a, floats_b, pairs=PAIRS_FLOAT, ints=st.integers(-4, 4), kwargs=None):
    """Two tensors of mutually broadcastable shapes, floats drawn from the given strategies."""

    def make(grad: bool):
        @st.composite
        def sample(draw):
            da, db = draw(st.sampled_from(_pick_pairs(pairs, grad)))
            sa, sb = draw(hnp.mutually_broadcastable_shapes(
                num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3)).input_shapes

            def elements(dtype, floats):
                return {F32: floats, F64: floats, I64: ints, BOOL: st.booleans()}[dtype]

            a = draw(hnp.arrays(np.dtype(da), sa, elements=elements(da, floats_a)))
            b = draw(hnp.arrays(np.dtype(db), sb, elements=elements(db, floats_b)))
            kw = draw(kwargs) if kwargs is not None else {}
            return Sample((a, b), kw, (draw(st.booleans()), draw(st.booleans())))

        return sample()

    return make


def inplace_samples(floats_a, floats_b=None, dtypes=FLOAT_DTYPES):
    """``x`` and (for a binary op) ``y`` broadcasting to x's shape, for ``x.op_(y)``."""

    def make(grad: bool):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(dtypes))
            shape = draw(shapes(0, 3, 0, 3))
            if dtype == I64 and floats_b is None:
                floats_a_ = st.integers(-4, 4)
            else:
                floats_a_ = floats_a
            x = draw(hnp.arrays(np.dtype(dtype), shape, elements=floats_a_))
            if floats_b is None:
                return Sample((x,), {}, (draw(st.booleans()),))
            k = draw(st.integers(0, len(shape)))
            yshape = tuple(draw(st.sampled_from((s, 1))) for s in shape[k:])
            ydtype = draw(st.sampled_from(dtypes))
            y = draw(hnp.arrays(np.dtype(ydtype), yshape, elements=floats_b))
            return Sample((x, y), {}, (draw(st.booleans()), draw(st.booleans())))

        return sample()

    return make


def _entry(name: str):
    return next(e for e in reversed(OP_DB) if e.name == name)


REAL = floats_in(-3.0, 3.0, 0.0, 1.0, -1.0, 0.5, -0.5, 2.0)
POSITIVE = floats_in(0.125, 4.0, 0.5, 1.0, 2.0)
NONZERO = st.one_of(floats_in(0.25, 3.0, 1.0, 2.0, 0.5), floats_in(-3.0, -0.25, -1.0, -0.5))
UNIT_OPEN = floats_in(-0.95, 0.95, 0.0, 0.5, -0.5)  # asin, acos, atanh, erfinv
AT_LEAST_ONE = floats_in(1.0625, 4.0, 2.0, 1.5)  # acosh
TAN_DOMAIN = floats_in(-1.4, 1.4, 0.0, 1.0, -1.0)
EDGES = floats_in(-4.0, 4.0, *SPECIALS, 0.999, -0.999)

# ----- unary floating ops ---------------------------------------------------------------------
UNARY = (
    # name, float domain, int domain
    ("rsqrt", POSITIVE, st.integers(1, 4)),
    ("exp2", REAL, st.integers(-4, 4)),
    ("expm1", REAL, st.integers(-4, 4)),
    ("log2", POSITIVE, st.integers(1, 4)),
    ("log10", POSITIVE, st.integers(1, 4)),
    ("log1p", floats_in(-0.9, 3.0, 0.0, 0.5, 1.0), st.integers(0, 4)),
    ("tan", TAN_DOMAIN, st.integers(-1, 1)),
    ("asin", UNIT_OPEN, st.integers(-1, 1)),
    ("acos", UNIT_OPEN, st.integers(-1, 1)),
    ("atan", REAL, st.integers(-4, 4)),
    ("sinh", REAL, st.integers(-4, 4)),
    ("cosh", REAL, st.integers(-4, 4)),
    ("asinh", REAL, st.integers(-4, 4)),
    ("acosh", AT_LEAST_ONE, st.integers(1, 4)),
    ("atanh", UNIT_OPEN, st.just(0)),
    ("erf", REAL, st.integers(-4, 4)),
    ("erfc", REAL, st.integers(-4, 4)),
    ("erfinv", UNIT_OPEN, st.just(0)),
    ("deg2rad", floats_in(-200.0, 200.0, 0.0, 90.0), st.integers(-200, 200)),
    ("rad2deg", REAL, st.integers(-4, 4)),
)
for _name, _floats, _ints in UNARY:
    add_entry(_name, fn(_name), unary_in(_floats, _ints, dtypes=ALL_DTYPES),
              errors=(not_tensor(_name),))
    # NaN, infinities, domain boundaries and values outside the domain: forward only
    add_entry(f"{_name}_edges", fn(_name), unary_in(EDGES, dtypes=(F32, F64)),
              differentiable=False, covers=())
    add_entry(f"{_name}_", (lambda n: lambda m, x: getattr(x.clone(), n + "_")())(_name),
              inplace_samples(_floats), covers=())

for _target, _alias in (("asin", "arcsin"), ("acos", "arccos"), ("atan", "arctan"),
                        ("asinh", "arcsinh"), ("acosh", "arccosh"), ("atanh", "arctanh")):
    alias(_entry(_target), _alias)

add_entry("erf_wide", fn("erf"), unary_in(floats_in(-30.0, 30.0, 5.9, 6.0, 26.0),
                                          dtypes=(F64,)), covers=(), rtol64=1e-12, atol64=0)
add_entry("erfc_wide", fn("erfc"), unary_in(floats_in(-30.0, 26.0, 2.0, 1.99, 10.0),
                                            dtypes=(F64,)), covers=(), rtol64=1e-11, atol64=0)
add_entry("erfinv_tails", fn("erfinv"), unary_in(
    st.one_of(floats_in(-1.0, 1.0), st.sampled_from((1 - 1e-15, -1 + 1e-12, 1e-300, 0.9999999))),
    dtypes=(F64,)), covers=(), rtol64=1e-12, atol64=0)
add_entry("square", fn("square"), unary(dtypes=ALL_DTYPES), errors=(not_tensor("square"),))
add_entry("square_", lambda m, x: x.clone().square_(), inplace_samples(REAL), covers=())
add_entry("sgn", fn("sgn"), unary(dtypes=ALL_DTYPES), errors=(not_tensor("sgn"),))
add_entry("sgn_", lambda m, x: x.clone().sgn_(), inplace_samples(REAL), covers=())

# ----- rounding -------------------------------------------------------------------------------
HALVES = floats_in(-4.0, 4.0, 0.5, -0.5, 1.5, -1.5, 2.5, 0.0, -0.0, 1.0, INF, -INF, NAN)
for _name in ("floor", "ceil", "round", "trunc", "fix"):
    add_entry(_name, fn(_name), unary_in(HALVES, dtypes=ALL_DTYPES), errors=(
        not_tensor(_name),
        ("bool input", (lambda n: lambda m: getattr(m, n)(T(m, [True])))(_name)),
    ))
    add_entry(f"{_name}_", (lambda n: lambda m, x: getattr(x.clone(), n + "_")())(_name),
              inplace_samples(HALVES, dtypes=(F32, F64, I64)), covers=())
add_entry("frac", fn("frac"), unary_in(HALVES, dtypes=ALL_DTYPES), errors=(
    not_tensor("frac"), ("int input", lambda m: m.frac(T(m, [1, 2]))),
))
add_entry("frac_", lambda m, x: x.clone().frac_(), inplace_samples(HALVES), covers=())


def _decimals(shape):
    return st.fixed_dictionaries({"decimals": st.integers(-2, 3)})


DECIMAL_VALUES = floats_in(-300.0, 300.0, 0.125, 1.2345, 125.0, 150.0, -0.55, 0.5, 2.5)
add_entry("round_decimals", lambda m, x, decimals: m.round(x, decimals=decimals),
          unary_in(DECIMAL_VALUES, dtypes=ALL_DTYPES, kwargs=_decimals), covers=(), errors=(
              ("int with decimals", lambda m: m.round(T(m, [1, 2]), decimals=1)),
              ("int with decimals=0", lambda m: m.round(T(m, [1, 2]), decimals=0)),
              ("decimals positional", lambda m: m.round(T(m, [1.5]), 1)),
          ))
add_entry("round_decimals_", lambda m, x, decimals: x.clone().round_(decimals=decimals),
          unary_in(DECIMAL_VALUES, dtypes=FLOAT_DTYPES, kwargs=_decimals), covers=())

# ----- classification and cleaning ------------------------------------------------------------
for _name in ("isinf", "isfinite", "isposinf", "isneginf"):
    add_entry(_name, fn(_name), unary_in(EDGES, dtypes=ALL_DTYPES), differentiable=False,
              errors=(not_tensor(_name),))
add_entry("isnan_specials", fn("isnan"), unary_in(EDGES, dtypes=ALL_DTYPES),
          differentiable=False, covers=())


def _nan_to_num_kwargs(shape):
    value = st.one_of(st.none(), st.sampled_from((0.0, 1.5, -2.0, 1e3)))
    return st.fixed_dictionaries({"nan": st.sampled_from((0.0, 1.0, -3.5)), "posinf": value,
                                  "neginf": value})


add_entry("nan_to_num", fn("nan_to_num"),
          unary_in(EDGES, dtypes=ALL_DTYPES, kwargs=_nan_to_num_kwargs),
          errors=(not_tensor("nan_to_num"),), rtol=1e-6, rtol64=1e-12)
add_entry("nan_to_num_default", fn("nan_to_num"), unary_in(EDGES, dtypes=ALL_DTYPES),
          covers=(), rtol=1e-6, rtol64=1e-12)
add_entry("nan_to_num_", lambda m, x: x.clone().nan_to_num_(), inplace_samples(EDGES),
          covers=(), rtol=1e-6, rtol64=1e-12)


def _close_samples(grad: bool):
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(ALL_DTYPES))
        sa, sb = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                        max_side=3)).input_shapes
        elements = {F32: EDGES, F64: EDGES, I64: st.integers(-3, 3), BOOL: st.booleans()}[dtype]
        a = draw(hnp.arrays(np.dtype(dtype), sa, elements=elements))
        b = draw(hnp.arrays(np.dtype(dtype), sb, elements=elements))
        if sa == sb and dtype in (F32, F64) and draw(st.booleans()):
            noise = draw(st.sampled_from((1e-9, 1e-6, 1e-5, 1e-3)))
            with np.errstate(all="ignore"):
                b = (a * (1 + noise) + noise).astype(dtype)
        kw = draw(st.fixed_dictionaries({
            "rtol": st.sampled_from((1e-05, 0.0, 1e-3, 0.5)),
            "atol": st.sampled_from((1e-08, 0.0, 1e-4, 1.0)),
            "equal_nan": st.booleans()}))
        return Sample((a, b), kw, (draw(st.booleans()), draw(st.booleans())))

    return sample()


add_entry("isclose", fn("isclose"), _close_samples, differentiable=False, errors=(
    ("dtype mismatch", lambda m: m.isclose(m.ones(2), m.ones(2, dtype=m.float64))),
    ("int and float", lambda m: m.isclose(T(m, [1, 2]), m.ones(2))),
    ("number other", lambda m: m.isclose(m.ones(2), 1.0)),
    ("number input", lambda m: m.isclose(1.0, m.ones(2))),
    ("negative rtol", lambda m: m.isclose(m.ones(2), m.ones(2), rtol=-1)),
    ("negative atol", lambda m: m.isclose(m.ones(2), m.ones(2), atol=-0.5)),
    shape_mismatch("isclose"),
))


def _bool_result(name):
    """``allclose`` and ``equal`` give Python bools: compare them as a tensor of (value, is
    it a bool)."""

    def run(m, x, y, **kwargs):
        result = getattr(m, name)(x, y, **kwargs)
        return m.tensor([bool(result), type(result) is bool])

    return run


add_entry("allclose", _bool_result("allclose"), _close_samples, differentiable=False, errors=(
    ("dtype mismatch", lambda m: m.allclose(m.ones(2), m.ones(2, dtype=m.float64))),
    ("number other", lambda m: m.allclose(m.ones(2), 1.0)),
    shape_mismatch("allclose"),
))


def _equal_samples(grad: bool):
    @st.composite
    def sample(draw):
        da, db = draw(st.sampled_from(PAIRS_ALL))
        sa = draw(shapes(0, 2, 0, 3))
        sb = sa if draw(st.integers(0, 3)) else draw(shapes(0, 2, 0, 3))
        a = draw(hnp.arrays(np.dtype(da), sa, elements=EDGES if da in (F32, F64) else
                            st.integers(-2, 2) if da == I64 else st.booleans()))
        b = a.astype(db) if sa == sb and draw(st.booleans()) else draw(hnp.arrays(
            np.dtype(db), sb, elements=st.integers(-2, 2) if db != BOOL else st.booleans()))
        return Sample((a, b), {}, (draw(st.booleans()), draw(st.booleans())))

    return sample()


add_entry("equal", _bool_result("equal"), _equal_samples, differentiable=False, errors=(
    ("number other", lambda m: m.equal(m.ones(2), 1.0)),
    ("number input", lambda m: m.equal(1.0, m.ones(2))),
))

# ----- binary ops -----------------------------------------------------------------------------
add_entry("fmod", fn("fmod"), binary(pairs=PAIRS_ALL, domains=("real", "nonzero")), errors=(
    ("int fmod by zero", lambda m: m.fmod(T(m, [1, 2]), 0)),
    ("int fmod by a zero tensor", lambda m: m.fmod(T(m, [1, 2]), T(m, [0, 1]))),
    ("bool operands", lambda m: m.fmod(T(m, [True]), T(m, [True]))),
    ("number input", lambda m: m.fmod(2.0, m.ones(2))),
    shape_mismatch("fmod"),
))
add_entry("fmod_scalar", lambda m, x, s: m.fmod(x, s),
          tensor_scalar(dtypes=NUMERIC_DTYPES, scalars=st.sampled_from((2, 3, -1, 2.5, -0.5))),
          covers=())
add_entry("fmod_", lambda m, x, y: x.clone().fmod_(y), inplace_samples(REAL, NONZERO), covers=())
add_entry("atan2", fn("atan2"), binary(pairs=PAIRS_ALL), errors=(
    ("number other", lambda m: m.atan2(m.ones(2), 2)),
    ("number input", lambda m: m.atan2(2.0, m.ones(2))),
    shape_mismatch("atan2"),
))
alias(_entry("atan2"), "arctan2")
add_entry("atan2_", lambda m, x, y: x.clone().atan2_(y), inplace_samples(REAL, REAL),
          covers=())
add_entry("arctan2_", lambda m, x, y: x.clone().arctan2_(y), inplace_samples(REAL, REAL),
          covers=(), differentiable=False)
add_entry("hypot", fn("hypot"), binary(pairs=PAIRS_ALL), errors=(
    ("int operands", lambda m: m.hypot(T(m, [1, 2]), T(m, [1, 2]))),
    ("number other", lambda m: m.hypot(m.ones(2), 2)),
    shape_mismatch("hypot"),
))
add_entry("hypot_", lambda m, x, y: x.clone().hypot_(y), inplace_samples(REAL, REAL), covers=())
for _name in ("logaddexp", "logaddexp2"):
    add_entry(_name, fn(_name), binary(pairs=PAIRS_ALL), errors=(
        ("int operands", (lambda n: lambda m: getattr(m, n)(T(m, [1]), T(m, [1])))(_name)),
        ("number other", (lambda n: lambda m: getattr(m, n)(m.ones(2), 1.0))(_name)),
        shape_mismatch(_name),
    ))
    add_entry(f"{_name}_edges", fn(_name), binary_in(EDGES, EDGES, pairs=PAIRS_FLOAT),
              differentiable=False, covers=())
add_entry("xlogy", fn("xlogy"), binary(pairs=PAIRS_ALL), errors=(
    ("two numbers", lambda m: m.xlogy(2.0, 3.0)),
    shape_mismatch("xlogy"),
))
add_entry("xlogy_edges", fn("xlogy"), binary_in(EDGES, EDGES, pairs=PAIRS_FLOAT),
          differentiable=False, covers=())
add_entry("xlogy_positive", fn("xlogy"), binary(pairs=PAIRS_FLOAT, domains=("real", "positive")),
          covers=())
add_entry("xlogy_scalar_other", lambda m, x, s: m.xlogy(x, s),
          tensor_scalar(dtypes=ALL_DTYPES, scalars=st.sampled_from((2, 0.5, 0, -1.0, 3.5))),
          covers=())
add_entry("xlogy_scalar_self", lambda m, x, s: m.xlogy(s, x),
          tensor_scalar(domain="positive", dtypes=NUMERIC_DTYPES,
                        scalars=st.sampled_from((2, 0.5, 0, -1.0, 3.5))), covers=())
add_entry("xlogy_", lambda m, x, y: x.clone().xlogy_(y), inplace_samples(REAL, POSITIVE),
          covers=())
add_entry("copysign", fn("copysign"), binary(pairs=PAIRS_ALL), errors=(
    ("number input", lambda m: m.copysign(2.0, m.ones(2))),
    shape_mismatch("copysign"),
))
add_entry("copysign_scalar", lambda m, x, s: m.copysign(x, s),
          tensor_scalar(dtypes=ALL_DTYPES, scalars=st.sampled_from((2, -1, 0.0, -0.0, -2.5))),
          covers=())
add_entry("copysign_", lambda m, x, y: x.clone().copysign_(y), inplace_samples(REAL, REAL),
          covers=())
add_entry("float_power", fn("float_power"), binary(pairs=PAIRS_NUM, domains=("positive", "small")),
          errors=(
              ("two numbers", lambda m: m.float_power(2, 3)),
              ("float32 base in place", lambda m: m.ones(2).float_power_(2)),
              shape_mismatch("float_power"),
          ), atol=1e-4)
add_entry("float_power_scalar", lambda m, x, s: m.float_power(x, s),
          tensor_scalar(dtypes=NUMERIC_DTYPES, scalars=st.sampled_from((2, 0.5, -1, 3, 0))),
          covers=(), atol=1e-4)
add_entry("float_power_scalar_base", lambda m, x, s: m.float_power(s, x),
          tensor_scalar(dtypes=NUMERIC_DTYPES, domain="small",
                        scalars=st.sampled_from((2, 0.5, 3.0))), covers=(), atol=1e-4)
add_entry("float_power_", lambda m, x, y: x.clone().float_power_(y),
          inplace_samples(POSITIVE, floats_in(-2.0, 2.0, 0.0, 1.0, 2.0), dtypes=(F64,)),
          covers=())


# ----- lerp -----------------------------------------------------------------------------------
def _lerp_samples(tensor_weight: bool):
    def make(grad: bool):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(FLOAT_DTYPES if grad else NUMERIC_DTYPES))
            count = 3 if tensor_weight else 2
            shapes_ = draw(hnp.mutually_broadcastable_shapes(
                num_shapes=count, max_dims=3, max_side=3)).input_shapes
            elements = REAL if dtype != I64 else st.integers(-3, 3)
            arrays = [draw(hnp.arrays(np.dtype(dtype), s, elements=elements)) for s in shapes_]
            kw = {} if tensor_weight else {
                "weight": draw(st.sampled_from((0.0, 0.25, 0.5, 0.75, 1.0, -0.5, 1.5, 2)))}
            return Sample(tuple(arrays), kw, tuple(draw(st.booleans()) for _ in arrays))

        return sample()

    return make


add_entry("lerp", lambda m, x, y, weight: m.lerp(x, y, weight), _lerp_samples(False), errors=(
    ("end dtype mismatch", lambda m: m.lerp(m.ones(2), m.ones(2, dtype=m.float64), 0.5)),
    ("weight dtype mismatch", lambda m: m.lerp(m.ones(2), m.ones(2), m.ones(2, dtype=m.float64))),
    ("int tensors", lambda m: m.lerp(T(m, [1, 2]), T(m, [1, 2]), 0.5)),
    ("int tensors, tensor weight", lambda m: m.lerp(T(m, [1]), T(m, [1]), T(m, [1]))),
    ("number input", lambda m: m.lerp(2.0, m.ones(2), 0.5)),
    ("number end", lambda m: m.lerp(m.ones(2), 2.0, 0.5)),
    ("shape mismatch", lambda m: m.lerp(m.ones(2, 3), m.ones(4), 0.5)),
    ("weight shape mismatch", lambda m: m.lerp(m.ones(2, 3), m.ones(3), m.ones(4))),
))
add_entry("lerp_tensor_weight", fn("lerp"), _lerp_samples(True), covers=())
add_entry("lerp_", lambda m, x, y: x.clone().lerp_(y, 0.3), inplace_samples(REAL, REAL),
          covers=())
add_entry("lerp_tensor_weight_", lambda m, x, y: x.clone().lerp_(y, y),
          inplace_samples(REAL, REAL, dtypes=(F64,)), covers=())

# ----- in-place forms of the core elementwise ops ---------------------------------------------
for _name, _floats in (("cos_", REAL), ("floor_", HALVES), ("negative_", REAL),
                       ("absolute_", REAL), ("reciprocal_", NONZERO), ("sign_", REAL),
                       ("sigmoid_", REAL), ("log_", POSITIVE), ("sqrt_", POSITIVE)):
    add_entry(f"core_{_name}", (lambda n: lambda m, x: getattr(x.clone(), n)())(_name),
              inplace_samples(_floats), covers=())
for _name, _second in (("multiply_", REAL), ("subtract_", REAL), ("divide_", NONZERO),
                       ("true_divide_", NONZERO), ("remainder_", NONZERO),
                       ("floor_divide_", NONZERO), ("pow_", floats_in(0.0, 2.0, 0.0, 1.0)),
                       ("clamp_min_", REAL), ("clamp_max_", REAL)):
    add_entry(f"core_{_name}", (lambda n: lambda m, x, y: getattr(x.clone(), n)(y))(_name),
              inplace_samples(POSITIVE if _name == "pow_" else REAL, _second), covers=(),
              differentiable=_name != "floor_divide_")
for _name in ("eq_", "ne_", "lt_", "le_", "gt_", "ge_", "greater_", "less_equal_"):
    add_entry(f"core_{_name}", (lambda n: lambda m, x, y: getattr(x.clone(), n)(y))(_name),
              inplace_samples(REAL, REAL), covers=())
    add_entry(f"core_{_name}scalar",
              (lambda n: lambda m, x: getattr(x.clone(), n)(0.5))(_name),
              inplace_samples(REAL), covers=())
for _name in ("logical_and_", "logical_or_", "bitwise_and_", "bitwise_or_", "bitwise_xor_"):
    add_entry(f"core_{_name}", (lambda n: lambda m, x, y: getattr(x.clone(), n)(y))(_name),
              inplace_samples(st.integers(-3, 3), st.integers(-3, 3), dtypes=(I64,)),
              covers=(), differentiable=False)
for _name in ("logical_not_", "bitwise_not_"):
    add_entry(f"core_{_name}", (lambda n: lambda m, x: getattr(x.clone(), n)())(_name),
              inplace_samples(st.integers(-3, 3), dtypes=(I64,)), covers=(),
              differentiable=False)
add_entry("core_logical_not_float_", lambda m, x: x.clone().logical_not_(),
          inplace_samples(REAL), covers=())
add_entry("core_add_alpha_", lambda m, x, y: x.clone().add_(y, alpha=-2),
          inplace_samples(REAL, REAL), covers=())
add_entry("core_div_floor_", lambda m, x, y: x.clone().div_(y, rounding_mode="floor"),
          inplace_samples(REAL, NONZERO), covers=())

# This family's public op names (see op_db.PUBLIC_OPS).
PUBLIC_OPS: tuple[str, ...] = tuple((
    "acos acosh allclose arccos arccosh arcsin arcsinh arctan arctan2 arctanh asin asinh atan "
    "atan2 atanh ceil copysign cosh deg2rad equal erf erfc erfinv exp2 expm1 fix float_power "
    "floor fmod frac hypot isclose isfinite isinf isneginf isposinf lerp log10 log1p log2 "
    "logaddexp logaddexp2 nan_to_num rad2deg round rsqrt sgn sinh square tan trunc xlogy"
).split())
