"""Op database entries for reductions, sorting, scans and counting (``ember/ops/sorting.py``,
``ember/ops/reduction.py``).

Imported by ``op_db`` after its own entries; builds entries with ``op_db``'s helpers. Samples
lean on ties (values drawn from a handful of numbers) and NaN, since they decide which index
an op reports and so where its gradient goes.
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
    Sample,
    T,
    _pick_dtypes,
    add_entry,
    dim_kwargs,
    fn,
    shapes,
    unary,
)

NAN = float("nan")
TIE_VALUES = (0.0, 1.0, 1.0, 2.0, -1.0, 0.5, -2.5)


def tie_elements(dtype: str, nan: bool):
    """Few distinct values (many ties); NaN now and then when ``nan``."""
    if dtype == BOOL:
        return st.booleans()
    if dtype == I64:
        return st.integers(-2, 2)
    values = st.sampled_from(TIE_VALUES + ((NAN,) if nan else ()))
    return st.one_of(values, st.floats(-3.0, 3.0, width=32)) if not nan else values


def ties(dtypes=NUMERIC_DTYPES, nan=False, min_dims=0, max_dims=3, min_side=0, max_side=4,
         kwargs=None):
    """One tensor of tie-heavy values; ``kwargs`` is ``shape -> strategy of dict``."""

    def make(grad: bool):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(_pick_dtypes(dtypes, grad)))
            shape = draw(shapes(min_dims, max_dims, min_side, max_side))
            array = draw(hnp.arrays(np.dtype(dtype), shape, elements=tie_elements(dtype, nan)))
            kw = draw(kwargs(shape)) if kwargs is not None else {}
            return Sample((array,), kw, (draw(st.booleans()),))

        return sample()

    return make


def one_dim(shape, keepdim=True):
    """``{"dim": d}`` (and keepdim) for an op taking a single int dim."""
    ndim = len(shape)
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    d = {"dim": st.integers(lo, hi)}
    if keepdim:
        d["keepdim"] = st.booleans()
    return st.fixed_dictionaries(d)


def merged(*parts):
    """A kwargs function whose dict joins those of ``parts`` (each ``shape -> strategy``)."""

    def kwargs(shape):
        return st.tuples(*(p(shape) for p in parts)).map(
            lambda ds: {k: v for d in ds for k, v in d.items()})

    return kwargs


def const(**choices):
    """``shape -> strategy``: each keyword drawn from its list of choices."""
    return lambda shape: st.fixed_dictionaries(
        {k: st.sampled_from(v) for k, v in choices.items()})


def dim_out_of_range(name, *args):
    return ("dim out of range", lambda m: getattr(m, name)(m.ones(2, 3), *args))


# ----- variance and friends -------------------------------------------------------------------
def _var_kwargs(shape):
    return st.one_of(
        dim_kwargs(shape).map(lambda d: {**d, "correction": 1}),
        st.tuples(dim_kwargs(shape), st.sampled_from((0, 1, 2, 0.5))).map(
            lambda t: {**t[0], "correction": t[1]}),
        dim_kwargs(shape).flatmap(lambda d: st.sampled_from((True, False)).map(
            lambda u: {**d, "unbiased": u})),
    )


for _name in ("var", "std", "var_mean", "std_mean"):
    add_entry(_name, fn(_name), ties(FLOAT_DTYPES, kwargs=_var_kwargs), errors=(
        ("int input", lambda m, n=_name: getattr(m, n)(T(m, [1, 2]))),
        ("dim out of range", lambda m, n=_name: getattr(m, n)(m.ones(2, 3), 2)),
    ), atol=1e-4, rtol=1e-4)
    add_entry(_name + "_plain", fn(_name), ties(FLOAT_DTYPES), covers=(), atol=1e-4, rtol=1e-4)
    add_entry(_name + "_unbiased_positional", lambda m, x, u, n=_name: getattr(m, n)(x, u),
              ties(FLOAT_DTYPES, kwargs=const(u=(True, False))), covers=(), atol=1e-4,
              rtol=1e-4)
    add_entry(_name + "_method", lambda m, x, dim, n=_name: getattr(x, n)(dim)
              if n in ("var", "std") else getattr(m, n)(x, dim),
              ties(FLOAT_DTYPES, min_dims=1, kwargs=lambda s: one_dim(s, keepdim=False)),
              covers=(), atol=1e-4, rtol=1e-4)


def _lse_kwargs(shape):
    ndim = len(shape)
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    dims = st.one_of(st.integers(lo, hi), st.lists(st.integers(0, max(ndim - 1, 0)),
                                                   min_size=1, max_size=max(ndim, 1),
                                                   unique=True).map(tuple))
    return st.fixed_dictionaries({"dim": dims, "keepdim": st.booleans()})


add_entry("logsumexp", fn("logsumexp"), unary(dtypes=NUMERIC_DTYPES, kwargs=_lse_kwargs),
          errors=(dim_out_of_range("logsumexp", 2),
                  ("empty dim list", lambda m: m.logsumexp(m.ones(2, 3), ()))),
          atol=1e-5, rtol=1e-5)
add_entry("logsumexp_large", lambda m, x, dim, keepdim: m.logsumexp(x * 300 - 50, dim, keepdim),
          unary(dtypes=FLOAT_DTYPES, kwargs=_lse_kwargs), covers=(), rtol=1e-5, atol=1e-3)
add_entry("logsumexp_inf", lambda m, x, dim, keepdim: m.logsumexp(m.log(x), dim, keepdim),
          ties(FLOAT_DTYPES, kwargs=_lse_kwargs), covers=(), differentiable=False)

# ----- amin / aminmax -------------------------------------------------------------------------
add_entry("amin", fn("amin"), ties(NUMERIC_DTYPES, kwargs=lambda s: dim_kwargs(
    s, allow_none=False)), errors=(
    ("empty full reduction", lambda m: m.amin(m.ones(0))),
    ("reduce over an empty dim", lambda m: m.amin(m.ones(2, 0), 1)),
    dim_out_of_range("amin", 3),
))
add_entry("amin_full", fn("amin"), ties(ALL_DTYPES, min_side=1), covers=())
add_entry("amin_nan", fn("amin"), ties(FLOAT_DTYPES, nan=True, min_side=1), covers=())


def _aminmax_kwargs(shape):
    ndim = len(shape)
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    return st.fixed_dictionaries({"dim": st.one_of(st.none(), st.integers(lo, hi)),
                                  "keepdim": st.booleans()})


add_entry("aminmax", fn("aminmax"), ties(ALL_DTYPES, kwargs=_aminmax_kwargs), errors=(
    ("empty full reduction", lambda m: m.aminmax(m.ones(0))),
    ("reduce over an empty dim", lambda m: m.aminmax(m.ones(2, 0), dim=1)),
    ("dim out of range", lambda m: m.aminmax(m.ones(2, 3), dim=2)),
))
add_entry("aminmax_nan", fn("aminmax"), ties(FLOAT_DTYPES, nan=True, min_side=1,
                                             kwargs=_aminmax_kwargs), covers=())
add_entry("aminmax_one_output", lambda m, x: m.aminmax(x).max * 2,
          ties(FLOAT_DTYPES, min_side=1), covers=())

# ----- NaN-aware sums, counting, any / all ----------------------------------------------------
add_entry("nansum", fn("nansum"), ties(ALL_DTYPES, nan=True, kwargs=dim_kwargs), errors=(
    dim_out_of_range("nansum", 2),
))
add_entry("nansum_dtype", lambda m, x: m.nansum(x, dtype=m.float64),
          ties(NUMERIC_DTYPES, nan=True), covers=())
add_entry("nanmean", fn("nanmean"), ties(FLOAT_DTYPES, nan=True, kwargs=dim_kwargs), errors=(
    ("int input", lambda m: m.nanmean(T(m, [1, 2]))),
    dim_out_of_range("nanmean", -3),
))
add_entry("mean_dtype", lambda m, x, dim, keepdim: m.mean(x, dim, keepdim, dtype=m.float64),
          ties(NUMERIC_DTYPES, kwargs=dim_kwargs), covers=())
add_entry("sum_dtype_dim", lambda m, x, dim, keepdim: m.sum(x, dim, keepdim, dtype=m.float64),
          ties(ALL_DTYPES, kwargs=dim_kwargs), covers=())


def _count_kwargs(shape):
    ndim = len(shape)
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    tuples = st.lists(st.integers(lo, hi), min_size=1, max_size=max(ndim, 1)).filter(
        lambda ds: len({d % max(ndim, 1) for d in ds}) == len(ds)).map(tuple)
    return st.fixed_dictionaries({"dim": st.one_of(st.none(), st.integers(lo, hi), tuples)})


add_entry("count_nonzero", fn("count_nonzero"), ties(ALL_DTYPES, nan=True, kwargs=_count_kwargs),
          differentiable=False, errors=(
              dim_out_of_range("count_nonzero", 2),
              ("repeated dim", lambda m: m.count_nonzero(m.ones(3), (0, 0))),
          ))
for _name in ("any", "all"):
    add_entry(_name, fn(_name), ties(ALL_DTYPES, nan=True, kwargs=dim_kwargs),
              differentiable=False, errors=(dim_out_of_range(_name, 2),))
    add_entry(_name + "_full", fn(_name), ties(ALL_DTYPES), differentiable=False, covers=())
    add_entry(_name + "_method", lambda m, x, dim, keepdim, n=_name: getattr(x, n)(dim, keepdim),
              ties(ALL_DTYPES, min_dims=1, kwargs=one_dim), differentiable=False, covers=())

# ----- scans ----------------------------------------------------------------------------------
for _name, _dtypes in (("cumsum", ALL_DTYPES), ("cumprod", ALL_DTYPES)):
    add_entry(_name, fn(_name), ties(_dtypes, kwargs=lambda s: one_dim(s, keepdim=False)),
              errors=(dim_out_of_range(_name, 2),
                      ("non-tensor input", lambda m, n=_name: getattr(m, n)(2.0, 0))),
              atol=1e-4, rtol=1e-5)
    add_entry(_name + "_dtype", lambda m, x, dim, n=_name: getattr(m, n)(x, dim, dtype=m.float64),
              ties(NUMERIC_DTYPES, kwargs=lambda s: one_dim(s, keepdim=False)), covers=(),
              atol=1e-4)
    add_entry(_name + "_method", lambda m, x, dim, n=_name: getattr(x, n)(dim),
              unary(dtypes=ALL_DTYPES, kwargs=lambda s: one_dim(s, keepdim=False)), covers=(),
              atol=1e-4)
for _name in ("cumsum_", "cumprod_"):
    add_entry(_name, lambda m, x, dim, n=_name: getattr(x.clone(), n)(dim),
              unary(dtypes=NUMERIC_DTYPES, kwargs=lambda s: one_dim(s, keepdim=False)),
              covers=(), atol=1e-4)
add_entry("cumprod_zeros", lambda m, x, dim: m.cumprod(x * (x > 0.4), dim),
          unary(dtypes=FLOAT_DTYPES, min_dims=1, kwargs=lambda s: one_dim(s, keepdim=False)),
          covers=(), atol=1e-4)
for _name in ("cummax", "cummin"):
    add_entry(_name, fn(_name), ties(ALL_DTYPES, nan=True,
                                     kwargs=lambda s: one_dim(s, keepdim=False)),
              errors=(dim_out_of_range(_name, 2),))

# ----- sort, argsort, msort, topk -------------------------------------------------------------
_sort_kwargs = merged(lambda s: one_dim(s, keepdim=False),
                      const(descending=(False, True)))
add_entry("sort", fn("sort"), ties(ALL_DTYPES, nan=True, kwargs=_sort_kwargs),
          errors=(dim_out_of_range("sort", 2),
                  ("non-tensor input", lambda m: m.sort(2.0))))
add_entry("sort_stable", fn("sort"), ties(ALL_DTYPES, nan=True, kwargs=merged(
    _sort_kwargs, const(stable=(True, False, None)))), covers=())
add_entry("sort_long_rows", lambda m, x, descending: m.sort(x, descending=descending),
          ties(FLOAT_DTYPES, nan=True, min_dims=1, max_dims=2, min_side=17, max_side=40,
               kwargs=const(descending=(False, True))), covers=())
add_entry("sort_method", lambda m, x, dim: x.sort(dim),
          ties(NUMERIC_DTYPES, min_dims=1, kwargs=lambda s: one_dim(s, keepdim=False)),
          covers=())
add_entry("argsort", fn("argsort"), ties(ALL_DTYPES, nan=True, kwargs=merged(
    _sort_kwargs, const(stable=(True, False)))), differentiable=False,
    errors=(dim_out_of_range("argsort", 2),))
add_entry("argsort_long_rows", fn("argsort"),
          ties(NUMERIC_DTYPES, min_dims=1, max_dims=1, min_side=17, max_side=60),
          differentiable=False, covers=())
add_entry("msort", fn("msort"), ties(ALL_DTYPES, nan=True), errors=(
    ("non-tensor input", lambda m: m.msort(2.0)),
))


def _topk_kwargs(shape):
    ndim = len(shape)
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)

    @st.composite
    def kw(draw):
        dim = draw(st.integers(lo, hi))
        size = shape[dim] if ndim else 1
        return {"k": draw(st.integers(0, size)), "dim": dim, "largest": draw(st.booleans()),
                "sorted": draw(st.booleans())}

    return kw()


add_entry("topk", fn("topk"), ties(NUMERIC_DTYPES, nan=True, kwargs=_topk_kwargs), errors=(
    ("k too large", lambda m: m.topk(m.ones(3), 4)),
    ("negative k", lambda m: m.topk(m.ones(3), -1)),
    ("bool input", lambda m: m.topk(T(m, [True, False]), 1)),
    ("dim out of range", lambda m: m.topk(m.ones(3), 1, 1)),
))
add_entry("topk_long_rows", fn("topk"),
          ties(FLOAT_DTYPES, nan=True, min_dims=1, max_dims=1, min_side=5, max_side=130,
               kwargs=_topk_kwargs), covers=())


# ----- kthvalue, median, nanmedian, mode ------------------------------------------------------
def _kth_kwargs(shape):
    ndim = len(shape)
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)

    @st.composite
    def kw(draw):
        dim = draw(st.integers(lo, hi))
        size = shape[dim] if ndim else 1
        return {"k": draw(st.integers(1, max(size, 1))), "dim": dim,
                "keepdim": draw(st.booleans())}

    return kw()


add_entry("kthvalue", fn("kthvalue"), ties(NUMERIC_DTYPES, nan=True, kwargs=_kth_kwargs),
          errors=(
              ("k too large", lambda m: m.kthvalue(m.ones(3), 4)),
              ("k zero", lambda m: m.kthvalue(m.ones(3), 0)),
              ("bool input", lambda m: m.kthvalue(T(m, [True, False]), 1)),
              ("dim out of range", lambda m: m.kthvalue(m.ones(3), 1, 1)),
          ))
add_entry("kthvalue_long_rows", fn("kthvalue"),
          ties(FLOAT_DTYPES, nan=True, min_dims=1, max_dims=1, min_side=4, max_side=40,
               kwargs=_kth_kwargs), covers=())
for _name in ("median", "nanmedian"):
    add_entry(_name, fn(_name), ties(NUMERIC_DTYPES, nan=True), errors=(
        ("bool input", lambda m, n=_name: getattr(m, n)(T(m, [True, False]))),
        ("reduce over an empty dim", lambda m, n=_name: getattr(m, n)(m.ones(2, 0), 1)),
        dim_out_of_range(_name, 2),
    ))
    add_entry(_name + "_dim", fn(_name), ties(NUMERIC_DTYPES, nan=True, kwargs=one_dim),
              covers=())
    add_entry(_name + "_method", lambda m, x, dim, keepdim, n=_name: getattr(x, n)(dim, keepdim),
              ties(FLOAT_DTYPES, nan=True, min_dims=1, min_side=1, max_side=30, max_dims=2,
                   kwargs=one_dim), covers=())
add_entry("mode", fn("mode"), ties(ALL_DTYPES, kwargs=one_dim), errors=(
    ("reduce over an empty dim", lambda m: m.mode(m.ones(2, 0))),
    dim_out_of_range("mode", 2),
))
add_entry("mode_long_rows", fn("mode"),
          ties(NUMERIC_DTYPES, min_dims=1, max_dims=2, min_side=10, max_side=40), covers=())


# ----- unique ---------------------------------------------------------------------------------
def _unique_kwargs(shape):
    ndim = len(shape)
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    return st.fixed_dictionaries({
        "return_inverse": st.booleans(), "return_counts": st.booleans(),
        "dim": st.one_of(st.none(), st.integers(lo, hi))})


add_entry("unique", fn("unique"), ties(ALL_DTYPES, kwargs=merged(
    _unique_kwargs, const(sorted=(True, False)))), errors=(
    ("dim out of range", lambda m: m.unique(m.ones(2, 3), dim=2)),
    ("dim of a 0-dim tensor", lambda m: m.unique(m.ones(()), dim=0)),
    ("two empty dims", lambda m: m.unique(m.ones(0, 0), dim=0)),
    ("empty unselected dim", lambda m: m.unique(m.ones(0, 3), dim=1)),
))
add_entry("unique_nan", fn("unique"), ties(FLOAT_DTYPES, nan=True, kwargs=const(
    return_inverse=(True, False), return_counts=(True, False))), covers=())
add_entry("unique_consecutive", fn("unique_consecutive"),
          ties(ALL_DTYPES, nan=True, kwargs=_unique_kwargs), errors=(
              ("dim out of range", lambda m: m.unique_consecutive(m.ones(2, 3), dim=2)),
          ))


# ----- bincount, histc, searchsorted, bucketize -----------------------------------------------
def _bincount_samples(grad):
    @st.composite
    def sample(draw):
        n = draw(st.integers(0, 6))
        x = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, 5)))
        kw = {"minlength": draw(st.sampled_from((0, 0, 3, 8)))}
        if grad or draw(st.booleans()):
            wtype = draw(st.sampled_from(FLOAT_DTYPES if grad else (F32, F64, I64)))
            w = draw(hnp.arrays(np.dtype(wtype), (n,),
                                elements=tie_elements(wtype, False)))
            return Sample((x, w), kw, (False, False))
        return Sample((x,), kw, (False,))

    return sample()


add_entry("bincount", fn("bincount"), _bincount_samples, errors=(
    ("float input", lambda m: m.bincount(T(m, [1.0]))),
    ("negative input", lambda m: m.bincount(T(m, [-1]))),
    ("2-D input", lambda m: m.bincount(T(m, [[1]]))),
    ("weights of another length", lambda m: m.bincount(T(m, [1, 2]), m.ones(3))),
    ("negative minlength", lambda m: m.bincount(T(m, [1, 2]), minlength=-1)),
))


def _histc_kwargs(shape):
    return st.tuples(st.integers(1, 6), st.sampled_from(((0, 0), (-1, 1), (0, 2), (-2.5, 1.0),
                                                         (1, 1)))).map(
        lambda t: {"bins": t[0], "min": t[1][0], "max": t[1][1]})


add_entry("histc", fn("histc"), ties(FLOAT_DTYPES, kwargs=_histc_kwargs),
          differentiable=False, errors=(
              ("int input", lambda m: m.histc(T(m, [1, 2]))),
              ("no bins", lambda m: m.histc(m.ones(3), bins=0)),
              ("min above max", lambda m: m.histc(m.ones(3), min=2, max=1)),
              ("NaN range", lambda m: m.histc(T(m, [1.0, float("nan")]))),
              ("infinite range", lambda m: m.histc(T(m, [1.0, float("inf")]))),
          ))
add_entry("histc_default", fn("histc"), unary(dtypes=FLOAT_DTYPES), differentiable=False,
          covers=())


def _search_samples(batched: bool):
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from((F32, F64, I64)))
            n = draw(st.integers(0, 5))
            lead = draw(shapes(1, 2, 0, 3)) if batched else ()
            seq = np.sort(draw(hnp.arrays(np.dtype(dtype), lead + (n,),
                                          elements=tie_elements(dtype, True))), axis=-1)
            vshape = lead + (draw(st.integers(0, 4)),) if batched else draw(shapes(0, 2))
            vtype = draw(st.sampled_from((dtype, F32)))
            values = draw(hnp.arrays(np.dtype(vtype), vshape,
                                     elements=tie_elements(vtype, True)))
            side = draw(st.sampled_from(({}, {"right": True}, {"side": "right"},
                                         {"side": "left"}, {"out_int32": True})))
            return Sample((seq, values), side, (False, False))

        return sample()

    return make


add_entry("searchsorted", fn("searchsorted"), _search_samples(False), differentiable=False,
          errors=(
              ("leading dims differ", lambda m: m.searchsorted(m.ones(2, 3), m.ones(3, 3))),
              ("bad side", lambda m: m.searchsorted(m.ones(3), m.ones(3), side="bad")),
              ("side contradicts right",
               lambda m: m.searchsorted(m.ones(3), m.ones(3), side="left", right=True)),
              ("0-dim boundaries", lambda m: m.searchsorted(m.ones(()), m.ones(2))),
          ))
add_entry("searchsorted_batched", fn("searchsorted"), _search_samples(True),
          differentiable=False, covers=())
add_entry("searchsorted_scalar", lambda m, seq, s: m.searchsorted(seq, s),
          lambda grad: _search_samples(False)(grad).map(
              lambda smp: Sample(smp.arrays[:1], {"s": 1.0}, (False,))),
          differentiable=False, covers=())


def _bucketize(m, seq, values, **kw):
    kw.pop("side", None)
    return m.bucketize(values, seq, **kw)


add_entry("bucketize", _bucketize, _search_samples(False), differentiable=False, errors=(
    ("2-D boundaries", lambda m: m.bucketize(m.ones(3), m.ones(2, 2))),
))

# This family's public op names (see op_db.PUBLIC_OPS).
PUBLIC_OPS: tuple[str, ...] = tuple(
    "all amin aminmax any argsort bincount bucketize count_nonzero cummax cummin cumprod "
    "cumsum histc kthvalue logsumexp median mode msort nanmean nanmedian nansum searchsorted "
    "sort std std_mean topk unique unique_consecutive var var_mean".split()
)
