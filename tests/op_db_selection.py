"""Op database entries for gathering, scattering, splitting (``ember/ops/selection.py``).

Imported by ``op_db`` after its own entries; builds entries with ``op_db``'s helpers.
Index tensors are sample arrays of dtype int64 (they never require grad); samples cover
duplicate indices wherever the result does not depend on the order of writes.
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
    Sample,
    T,
    _pick_dtypes,
    add_entry,
    alias,
    arrays,
    shapes,
    unary,
)

_DTYPES = (F32, F64, I64, BOOL)


def _dtype(draw, grad, dtypes=_DTYPES):
    return draw(st.sampled_from(_pick_dtypes(dtypes, grad)))


def _flags(draw, n):
    return tuple(draw(st.booleans()) for _ in range(n))


def _rng(draw):
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def _dim_of(draw, ndim):
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    return draw(st.integers(lo, hi))


# ----- gather / scatter -----------------------------------------------------------------------
def _along_samples(kind, dtypes=_DTYPES, src_bigger=True):
    """x, index (same rank, fits x apart from dim), and for scatters a src.

    ``kind``: "gather", "scatter" (unique indices along dim: the order of duplicate writes is
    unspecified), "scatter_add" (duplicates), "value" (a number instead of src).
    """

    def make(grad):
        @st.composite
        def sample(draw):
            dtype = _dtype(draw, grad, dtypes)
            rng = _rng(draw)
            if draw(st.integers(0, 9)) == 0:  # 0-dim self and index
                x = draw(arrays(dtype, ()))
                index = np.array(0)
                d = draw(st.sampled_from((0, -1)))
                shape, ishape = (), ()
            else:
                shape = draw(shapes(1, 3, 0, 4))
                d = _dim_of(draw, len(shape))
                dd = d % len(shape)
                ishape = [draw(st.integers(0, s)) for s in shape]
                size = shape[dd]
                if kind == "scatter":
                    ishape[dd] = draw(st.integers(0, size))
                else:
                    ishape[dd] = draw(st.integers(0, 4)) if size else 0
                ishape = tuple(ishape)
                x = draw(arrays(dtype, shape))
                if kind == "scatter" and size:
                    perm = np.argsort(rng.random(ishape[:dd] + (size,) + ishape[dd + 1:]),
                                      axis=dd)
                    index = np.take(perm, np.arange(ishape[dd]), axis=dd).astype(np.int64)
                else:
                    index = rng.integers(0, max(size, 1), ishape).astype(np.int64)
            arrays_ = [x, index]
            kw = {"dim": d}
            if kind == "value":
                kw["value"] = draw(st.sampled_from((2, -1.5, 0.0, True)))
            elif kind != "gather":
                bigger = src_bigger and draw(st.integers(0, 5)) == 0 and len(ishape)
                sshape = tuple(s + bigger for s in ishape)
                arrays_.append(draw(arrays(dtype, sshape)))
            return Sample(tuple(arrays_), kw, _flags(draw, len(arrays_)))

        return sample()

    return make


L = lambda m, data, **kw: m.tensor(data, **kw)  # noqa: E731 - an index tensor


add_entry("gather", lambda m, x, i, dim: m.gather(x, dim, i), _along_samples("gather"), errors=(
    ("float index", lambda m: m.gather(m.ones(3, 4), 0, L(m, [[0.0]]))),
    ("index out of range", lambda m: m.gather(m.ones(3, 4), 0, L(m, [[5]]))),
    ("negative index", lambda m: m.gather(m.ones(3, 4), 0, L(m, [[-1]]))),
    ("rank mismatch", lambda m: m.gather(m.ones(3, 4), 0, L(m, [0]))),
    ("index too large", lambda m: m.gather(m.ones(3, 4), 0, L(m, [[0] * 5]))),
    ("dim out of range", lambda m: m.gather(m.ones(3, 4), 2, L(m, [[0]]))),
))
add_entry("gather_method", lambda m, x, i, dim: x.gather(dim, i), _along_samples("gather"),
          covers=())
add_entry("scatter", lambda m, x, i, s, dim: m.scatter(x, dim, i, s), _along_samples("scatter"),
          errors=(
              ("dtype mismatch", lambda m: m.scatter(m.ones(3, 4), 0, L(m, [[0]]),
                                                     m.ones(1, 1, dtype=m.float64))),
              ("src smaller than index", lambda m: m.scatter(m.ones(3, 4), 0, L(m, [[0, 1]]),
                                                             m.ones(1, 1))),
              ("index out of range", lambda m: m.scatter(m.ones(3, 4), 0, L(m, [[7]]),
                                                         m.ones(1, 1))),
              ("float index", lambda m: m.scatter(m.ones(3, 4), 0, L(m, [[0.0]]), m.ones(1, 1))),
              ("bad reduce", lambda m: m.scatter(m.ones(3, 4), 0, L(m, [[0]]), m.ones(1, 1),
                                                 reduce="max")),
              ("0-dim src", lambda m: m.scatter(m.ones(3, 4), 0, L(m, [[0]]), T(m, 1.0))),
          ))
add_entry("scatter_value", lambda m, x, i, dim, value: m.scatter(x, dim, i, value),
          _along_samples("value"), covers=())
add_entry("scatter_reduce_arg",
          lambda m, x, i, s, dim, reduce: m.scatter(x, dim, i, s, reduce=reduce),
          lambda grad: _along_samples("scatter_add", (F32, F64, I64))(grad).flatmap(
              lambda s: st.sampled_from(("add", "multiply")).map(
                  lambda r: Sample(s.arrays, {**s.kwargs, "reduce": r}, s.noncontig))),
          covers=(), second_order=False)
add_entry("scatter_add", lambda m, x, i, s, dim: m.scatter_add(x, dim, i, s),
          _along_samples("scatter_add", (F32, F64, I64)), errors=(
              ("index out of range", lambda m: m.scatter_add(m.ones(3, 4), 0, L(m, [[7]]),
                                                             m.ones(1, 1))),
              ("dtype mismatch", lambda m: m.scatter_add(m.ones(3, 4), 0, L(m, [[0]]),
                                                         m.ones(1, 1, dtype=m.float64))),
              ("rank mismatch", lambda m: m.scatter_add(m.ones(3, 4), 0, L(m, [0]),
                                                        m.ones(1, 1))),
          ))



def _with_reduce(reduces, include_self=(True, False)):
    def make(grad):
        return _along_samples("scatter_add", (F32, F64, I64), src_bigger=False)(grad).flatmap(
            lambda s: st.tuples(st.sampled_from(reduces), st.sampled_from(include_self)).map(
                lambda r: Sample(s.arrays, {**s.kwargs, "reduce": r[0], "include_self": r[1]},
                                 s.noncontig)))

    return make


def _scatter_reduce(m, x, i, s, dim, reduce, include_self):
    return m.scatter_reduce(x, dim, i, s, reduce, include_self=include_self)


add_entry("scatter_reduce", _scatter_reduce,
          _with_reduce(("sum", "mean", "amax", "amin", "max", "min")),
          errors=(
              ("bad reduce", lambda m: m.scatter_reduce(m.ones(3, 4), 0, L(m, [[0]]),
                                                        m.ones(1, 1), "foo")),
              ("dtype mismatch", lambda m: m.scatter_reduce(m.ones(3, 4), 0, L(m, [[0]]),
                                                            m.ones(1, 1, dtype=m.float64),
                                                            "sum")),
              ("index out of range", lambda m: m.scatter_reduce(m.ones(3, 4), 0, L(m, [[5]]),
                                                                m.ones(1, 1), "sum")),
              ("float index", lambda m: m.scatter_reduce(m.ones(3, 4), 0, L(m, [[0.0]]),
                                                         m.ones(1, 1), "sum")),
          ))
def _sprinkle_zeros(make):
    """Samples with zeros in self and src (every third element from an offset, or none): the
    cases torch's product gradient treats apart, one or several zeros meeting at a position."""
    def with_zeros(grad):
        def zero(sample, offset):
            if offset is None:
                return sample
            x, index, src = (a.copy() for a in sample.arrays)
            x.reshape(-1)[offset::3] = 0
            src.reshape(-1)[(offset + 1) % 3::2] = 0
            return Sample((x, index, src), sample.kwargs, sample.noncontig)

        return make(grad).flatmap(lambda s: st.sampled_from((None, 0, 1, 2)).map(
            lambda k: zero(s, k)))

    return with_zeros


def _prod_twice_with_zeros(m, include_self=True):
    """The second derivative through two zeros of src scattered to the same position."""
    x = m.tensor([2.0, 3.0], requires_grad=True)
    src = m.tensor([0.0, 0.0, 4.0], requires_grad=True)
    y = m.scatter_reduce(x, 0, L(m, [0, 0, 1]), src, "prod", include_self=include_self)
    grad_src = m.autograd.grad(y.sum(), src, create_graph=True)[0]
    return m.autograd.grad(grad_src.sum(), src)


add_entry("scatter_reduce_prod", _scatter_reduce, _sprinkle_zeros(_with_reduce(("prod",))),
          covers=(), errors=(
              ("double backward through two zeros at one position", _prod_twice_with_zeros),
              ("same without self", lambda m: _prod_twice_with_zeros(m, False)),
              ("float index", lambda m: m.scatter_reduce(m.ones(3, 4), 0, L(m, [[0.0]]),
                                                         m.ones(1, 1), "prod")),
          ))
def _empty_float_index(m, x, s, op):
    """An empty index of a float dtype: torch checks an index's dtype only when it is
    non-empty."""
    index = m.zeros(0, dtype=x.dtype)
    if op == "gather":
        return m.gather(x, 0, index)
    if op == "scatter_reduce":
        return m.scatter_reduce(x, 0, index, s, "prod")
    return getattr(m, op)(x, 0, index, s)


add_entry("empty_float_index", _empty_float_index,
          lambda grad: st.sampled_from(("gather", "scatter", "scatter_add", "scatter_reduce")).map(
              lambda op: Sample((np.array([1.5, -2.0, 0.0]), np.array([0.5])), {"op": op})),
          covers=())
add_entry("scatter_reduce_", lambda m, x, i, s, dim, reduce, include_self: x.clone(
).scatter_reduce_(dim, i, s, reduce, include_self=include_self),
          lambda grad: _with_reduce(("sum", "mean", "amax"))(True), covers=())


def _inplace(method, *args, **kwargs):
    """``x.clone().<method>(...)``: the in-place form on a non-leaf."""

    def run(m, x, *tensors, **kw):
        z = x.clone()
        getattr(z, method)(*args, *tensors, **{**kwargs, **kw})
        return z

    return run


add_entry("scatter_", lambda m, x, i, s, dim: x.clone().scatter_(dim, i, s),
          _along_samples("scatter", FLOAT_DTYPES), covers=())
add_entry("scatter_value_", lambda m, x, i, dim, value: x.clone().scatter_(dim, i, value),
          _along_samples("value", FLOAT_DTYPES), covers=())
add_entry("scatter_add_", lambda m, x, i, s, dim: x.clone().scatter_add_(dim, i, s),
          _along_samples("scatter_add", FLOAT_DTYPES), covers=())


# ----- index_select / index_add / index_copy / index_fill -------------------------------------
def _index_samples(kind, dtypes=_DTYPES):
    """x, a 1-D index along dim, and (index_add/index_copy) a source shaped to fit."""

    def make(grad):
        @st.composite
        def sample(draw):
            dtype = _dtype(draw, grad, dtypes)
            rng = _rng(draw)
            shape = draw(shapes(0 if kind in ("select", "add") else 1, 3, 0, 4))
            x = draw(arrays(dtype, shape))
            d = _dim_of(draw, len(shape))
            size = (shape or (1,))[d % max(len(shape), 1)]
            if kind == "copy":
                k = draw(st.integers(0, size))
                index = rng.permutation(size)[:k].astype(np.int64)
            else:
                k = draw(st.integers(0, 4)) if size else 0
                if not shape:
                    k = 1
                index = rng.integers(0, max(size, 1), k).astype(np.int64)
                if kind == "fill" and k and draw(st.booleans()):
                    index = index - size  # index_fill takes negative indices
            if not shape and draw(st.booleans()):
                index = index.reshape(())
            arrays_ = [x, index]
            kw = {"dim": d}
            if kind in ("add", "copy"):
                sshape = list(shape)
                if sshape:
                    sshape[d % len(shape)] = index.size
                arrays_.append(draw(arrays(dtype, tuple(sshape))))
            if kind == "add":
                kw["alpha"] = draw(st.sampled_from((1, 2, -1)))
            if kind == "fill":
                kw["value"] = draw(st.sampled_from((2, -1.5, 0.0, True)))
            return Sample(tuple(arrays_), kw, _flags(draw, len(arrays_)))

        return sample()

    return make


add_entry("index_select", lambda m, x, i, dim: m.index_select(x, dim, i),
          _index_samples("select"), errors=(
              ("float index", lambda m: m.index_select(m.ones(3, 4), 0, L(m, [0.0]))),
              ("2-D index", lambda m: m.index_select(m.ones(3, 4), 0, L(m, [[0]]))),
              ("index out of range", lambda m: m.index_select(m.ones(3, 4), 0, L(m, [3]))),
              ("negative index", lambda m: m.index_select(m.ones(3, 4), 0, L(m, [-1]))),
              ("dim out of range", lambda m: m.index_select(m.ones(3, 4), 2, L(m, [0]))),
              ("scalar with two indices", lambda m: m.index_select(T(m, 2.0), 0, L(m, [0, 0]))),
          ))
add_entry("index_add", lambda m, x, i, s, dim, alpha: m.index_add(x, dim, i, s, alpha=alpha),
          _index_samples("add", (F32, F64, I64)), errors=(
              ("index out of range", lambda m: m.index_add(m.ones(3, 4), 0, L(m, [3]),
                                                           m.ones(1, 4))),
              ("source shape", lambda m: m.index_add(m.ones(3, 4), 0, L(m, [0]), m.ones(1, 3))),
              ("index count", lambda m: m.index_add(m.ones(3, 4), 0, L(m, [0, 1]),
                                                    m.ones(1, 4))),
              ("dtype mismatch", lambda m: m.index_add(m.ones(3, 4), 0, L(m, [0]),
                                                       m.ones(1, 4, dtype=m.float64))),
              ("float index", lambda m: m.index_add(m.ones(3, 4), 0, L(m, [0.0]), m.ones(1, 4))),
          ))
add_entry("index_copy", lambda m, x, i, s, dim: m.index_copy(x, dim, i, s),
          _index_samples("copy"), errors=(
              ("index out of range", lambda m: m.index_copy(m.ones(3, 4), 0, L(m, [3]),
                                                            m.ones(1, 4))),
              ("source shape", lambda m: m.index_copy(m.ones(3, 4), 0, L(m, [0]),
                                                      m.ones(1, 3))),
              ("index count", lambda m: m.index_copy(m.ones(3, 4), 0, L(m, [0, 1]),
                                                     m.ones(1, 4))),
              ("dtype mismatch", lambda m: m.index_copy(m.ones(3, 4), 0, L(m, [0]),
                                                        m.ones(1, 4, dtype=m.float64))),
          ))
add_entry("index_fill", lambda m, x, i, dim, value: m.index_fill(x, dim, i, value),
          _index_samples("fill"), errors=(
              ("index out of range", lambda m: m.index_fill(m.ones(3, 4), 0, L(m, [3]), 1.0)),
              ("1-D value", lambda m: m.index_fill(m.ones(3, 4), 0, L(m, [0]), m.ones(2))),
              ("float index", lambda m: m.index_fill(m.ones(3, 4), 0, L(m, [0.0]), 1.0)),
          ))
add_entry("index_fill_tensor", lambda m, x, i, v, dim, value: m.index_fill(x, dim, i, v),
          lambda grad: _index_samples("fill", FLOAT_DTYPES)(grad).flatmap(
              lambda s: arrays(s.arrays[0].dtype.name, ()).map(
                  lambda v: Sample(s.arrays + (v,), s.kwargs, s.noncontig + (False,)))),
          covers=())
add_entry("index_add_", lambda m, x, i, s, dim, alpha: x.clone().index_add_(dim, i, s,
                                                                            alpha=alpha),
          _index_samples("add", FLOAT_DTYPES), covers=())
add_entry("index_copy_", lambda m, x, i, s, dim: x.clone().index_copy_(dim, i, s),
          _index_samples("copy", FLOAT_DTYPES), covers=())
add_entry("index_fill_", lambda m, x, i, dim, value: x.clone().index_fill_(dim, i, value),
          _index_samples("fill", FLOAT_DTYPES), covers=())


# ----- masked ---------------------------------------------------------------------------------
def _mask_samples(kind, dtypes=_DTYPES, inplace=False):
    """x and a broadcastable bool mask (plus a value or a source)."""

    def make(grad):
        @st.composite
        def sample(draw):
            dtype = _dtype(draw, grad, dtypes)
            sx, sm = draw(hnp.mutually_broadcastable_shapes(
                num_shapes=2, min_dims=0, max_dims=3, max_side=3)).input_shapes
            if inplace:
                sx = np.broadcast_shapes(sx, sm)
            x = draw(arrays(dtype, sx))
            mask = draw(arrays(BOOL, sm))
            arrays_, kw = [x, mask], {}
            if kind == "value":
                kw["value"] = draw(st.sampled_from((2, -1.5, 0.0, True)))
            elif kind == "tensor":
                arrays_.append(draw(arrays(dtype, ())))
            elif kind == "source":
                n = int(np.prod(np.broadcast_shapes(sx, sm))) + draw(st.integers(0, 2))
                arrays_.append(draw(arrays(dtype, draw(st.sampled_from(((n,), (1, n)))))))
            return Sample(tuple(arrays_), kw, _flags(draw, len(arrays_)))

        return sample()

    return make


add_entry("masked_fill", lambda m, x, mask, value: m.masked_fill(x, mask, value),
          _mask_samples("value"), errors=(
              ("float mask", lambda m: m.masked_fill(m.ones(3, 4), m.ones(3, 4), 1.0)),
              ("uint8 mask", lambda m: m.masked_fill(m.ones(3), m.ones(3, dtype=m.uint8), 1.0)),
              ("mask shape", lambda m: m.masked_fill(m.ones(3, 4), T(m, [True, False]), 1.0)),
              ("1-D value", lambda m: m.masked_fill(m.ones(3), m.ones(3) > 0, m.ones(2))),
          ))
add_entry("masked_fill_tensor", lambda m, x, mask, v: m.masked_fill(x, mask, v),
          _mask_samples("tensor", (F32, F64)), covers=())
add_entry("masked_fill_", lambda m, x, mask, value: x.clone().masked_fill_(mask, value),
          _mask_samples("value", FLOAT_DTYPES, inplace=True), covers=(), errors=(
              ("mask grows self", lambda m: m.ones(3).masked_fill_(m.ones(2, 3) > 0, 1.0)),
          ))
add_entry("masked_select", lambda m, x, mask: m.masked_select(x, mask),
          _mask_samples(None), errors=(
              ("float mask", lambda m: m.masked_select(m.ones(3, 4), m.ones(3, 4))),
              ("mask shape", lambda m: m.masked_select(m.ones(3, 4), T(m, [True, False]))),
          ))
add_entry("masked_scatter", lambda m, x, mask, s: m.masked_scatter(x, mask, s),
          _mask_samples("source"), errors=(
              ("source too small", lambda m: m.masked_scatter(m.ones(3, 4), m.ones(3, 4) > 0,
                                                              m.ones(2))),
              ("dtype mismatch", lambda m: m.masked_scatter(m.ones(3, 4), m.ones(3, 4) > 0,
                                                            m.ones(12, dtype=m.float64))),
              ("float mask", lambda m: m.masked_scatter(m.ones(3, 4), m.ones(3, 4),
                                                        m.ones(12))),
          ))
add_entry("masked_scatter_", lambda m, x, mask, s: x.clone().masked_scatter_(mask, s),
          _mask_samples("source", FLOAT_DTYPES, inplace=True), covers=(), errors=(
              ("mask of higher rank", lambda m: m.ones(3).masked_scatter_(m.ones(2, 3) > 0,
                                                                          m.ones(6))),
          ))


# ----- take / put / take_along_dim ------------------------------------------------------------
def _flat_samples(kind, dtypes=_DTYPES):
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = _dtype(draw, grad, dtypes)
            rng = _rng(draw)
            shape = draw(shapes(0, 3, 0, 4))
            x = draw(arrays(dtype, shape))
            n = x.size
            kw = {}
            if kind == "put":
                kw["accumulate"] = draw(st.booleans())
            if kind == "put" and not kw["accumulate"]:
                k = draw(st.integers(0, n))
                index = rng.permutation(n)[:k]
                ishape = draw(st.sampled_from(((k,), (1, k))))
            else:
                ishape = draw(shapes(0, 2, 0, 3)) if n else (0,)
                index = rng.integers(-n, max(n, 1), ishape)
            index = np.asarray(index, dtype=np.int64).reshape(ishape)
            arrays_ = [x, index]
            if kind == "put":
                arrays_.append(draw(arrays(dtype, ishape)))
            return Sample(tuple(arrays_), kw, _flags(draw, len(arrays_)))

        return sample()

    return make


add_entry("take", lambda m, x, i: m.take(x, i), _flat_samples("take"), errors=(
    ("index out of range", lambda m: m.take(m.ones(3, 4), L(m, [12]))),
    ("negative index out of range", lambda m: m.take(m.ones(3, 4), L(m, [-13]))),
    ("float index", lambda m: m.take(m.ones(3, 4), L(m, [0.0]))),
))
add_entry("put", lambda m, x, i, s, accumulate: m.put(x, i, s, accumulate),
          _flat_samples("put", (F32, F64, I64)), errors=(
              ("numel mismatch", lambda m: m.put(m.ones(3, 4), L(m, [0, 1]), m.ones(3))),
              ("index out of range", lambda m: m.put(m.ones(3, 4), L(m, [12]), m.ones(1))),
              ("dtype mismatch", lambda m: m.put(m.ones(3, 4), L(m, [1]),
                                                 m.ones(1, dtype=m.float64))),
          ))
add_entry("put_", lambda m, x, i, s, accumulate: x.clone().put_(i, s, accumulate),
          _flat_samples("put", FLOAT_DTYPES), covers=())


def _take_along_samples(grad):
    @st.composite
    def sample(draw):
        dtype = _dtype(draw, grad)
        rng = _rng(draw)
        shape = draw(shapes(1, 3, 1, 3))
        d = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
        x = draw(arrays(dtype, shape))
        if d is None:
            index = rng.integers(0, x.size, draw(shapes(1, 2, 0, 3)))
        else:
            ishape = [draw(st.sampled_from((s, 1))) for s in shape]
            ishape[d % len(shape)] = draw(st.integers(0, 4))
            index = rng.integers(0, shape[d % len(shape)], ishape)
        return Sample((x, index.astype(np.int64)), {"dim": d}, _flags(draw, 2))

    return sample()


add_entry("take_along_dim", lambda m, x, i, dim: m.take_along_dim(x, i, dim),
          _take_along_samples, errors=(
              ("dim out of range", lambda m: m.take_along_dim(m.ones(3, 4), L(m, [[0]]), 2)),
              ("rank mismatch", lambda m: m.take_along_dim(m.ones(3, 4), L(m, [0]), 0)),
              ("float index", lambda m: m.take_along_dim(m.ones(3, 4), L(m, [[0.0]]), 0)),
              ("shapes do not broadcast", lambda m: m.take_along_dim(m.ones(3, 4),
                                                                     L(m, [[0, 0]]), 0)),
          ))


# ----- views: narrow, select, unbind, split, chunk, tensor_split ------------------------------
def _dim_samples(extra, min_dims=1, dtypes=_DTYPES, max_side=4, min_side=0):
    """One tensor, a dim, and ``extra(draw, shape, dim)`` -> more kwargs."""

    def make(grad):
        @st.composite
        def sample(draw):
            dtype = _dtype(draw, grad, dtypes)
            shape = draw(shapes(min_dims, 3, min_side, max_side))
            d = _dim_of(draw, len(shape))
            kw = {"dim": d}
            kw.update(extra(draw, shape, d % max(len(shape), 1)))
            return Sample((draw(arrays(dtype, shape)),), kw, _flags(draw, 1))

        return sample()

    return make


def _narrow_extra(draw, shape, d):
    size = shape[d]
    start = draw(st.integers(-size, size))
    length = draw(st.integers(0, size - (start % size if size and start < 0 else start)))
    return {"start": start, "length": length}


add_entry("narrow", lambda m, x, dim, start, length: m.narrow(x, dim, start, length),
          _dim_samples(_narrow_extra), errors=(
              ("past the end", lambda m: m.narrow(m.ones(3, 4), 0, 2, 2)),
              ("negative length", lambda m: m.narrow(m.ones(3, 4), 0, 0, -1)),
              ("start out of range", lambda m: m.narrow(m.ones(3, 4), 0, 5, 0)),
              ("0-dim input", lambda m: m.narrow(T(m, 1.0), 0, 0, 1)),
              ("dim out of range", lambda m: m.narrow(m.ones(3, 4), 2, 0, 1)),
          ))
add_entry("select", lambda m, x, dim, index: m.select(x, dim, index),
          _dim_samples(lambda draw, shape, d: {
              "index": draw(st.integers(-shape[d], shape[d] - 1))}, min_side=1), errors=(
              ("index out of range", lambda m: m.select(m.ones(3, 4), 0, 3)),
              ("0-dim input", lambda m: m.select(T(m, 1.0), 0, 0)),
              ("dim out of range", lambda m: m.select(m.ones(3, 4), 2, 0)),
          ))
add_entry("unbind", lambda m, x, dim: m.unbind(x, dim), _dim_samples(lambda *a: {}), errors=(
    ("dim out of range", lambda m: m.unbind(m.ones(3, 4), 2)),
    ("0-dim input", lambda m: m.unbind(T(m, 1.0))),
))
add_entry("unbind_partial_use", lambda m, x, dim: m.unbind(x, dim)[:1],
          _dim_samples(lambda *a: {}), covers=())
add_entry("chunk", lambda m, x, dim, chunks: m.chunk(x, chunks, dim),
          _dim_samples(lambda draw, shape, d: {"chunks": draw(st.integers(1, 5))}), errors=(
              ("zero chunks", lambda m: m.chunk(m.ones(3, 4), 0)),
              ("0-dim input", lambda m: m.chunk(T(m, 1.0), 2)),
              ("dim out of range", lambda m: m.chunk(m.ones(3, 4), 2, 2)),
          ))
add_entry("split", lambda m, x, dim, size: m.split(x, size, dim),
          _dim_samples(lambda draw, shape, d: {"size": draw(
              st.integers(1 if shape[d] else 0, 5))}), errors=(
              ("zero size", lambda m: m.split(m.ones(3, 4), 0)),
              ("negative size", lambda m: m.split(m.ones(3, 4), -1)),
              ("sizes do not sum", lambda m: m.split(m.ones(3, 4), [1, 1])),
              ("0-dim input", lambda m: m.split(T(m, 1.0), 1)),
          ))


def _sizes_extra(draw, shape, d):
    size, sizes = shape[d], []
    while size:
        k = draw(st.integers(0, size))
        sizes.append(k)
        size -= k
    sizes.insert(draw(st.integers(0, len(sizes))), 0) if draw(st.booleans()) else None
    return {"sizes": sizes or [0]}


add_entry("split_list", lambda m, x, dim, sizes: m.split(x, sizes, dim),
          _dim_samples(_sizes_extra), covers=())
add_entry("split_method", lambda m, x, dim, sizes: x.split(sizes, dim),
          _dim_samples(_sizes_extra), covers=())
add_entry("split_partial_use", lambda m, x, dim, size: m.split(x, size, dim)[-1:],
          _dim_samples(lambda draw, shape, d: {"size": draw(st.integers(1, 3))}), covers=())


def _tensor_split_extra(draw, shape, d):
    kind = draw(st.sampled_from(("sections", "indices", "tensor")))
    if kind == "sections":
        return {"spec": draw(st.integers(1, 5))}
    indices = draw(st.lists(st.integers(-shape[d] - 1, shape[d] + 1), max_size=3))
    return {"spec": np.array(indices, dtype=np.int64) if kind == "tensor" else indices}


def _tensor_split(m, x, dim, spec):
    if isinstance(spec, np.ndarray):
        spec = m.tensor(spec)
    return m.tensor_split(x, spec, dim)


add_entry("tensor_split", _tensor_split, _dim_samples(_tensor_split_extra), errors=(
    ("zero sections", lambda m: m.tensor_split(m.ones(3, 4), 0)),
    ("0-dim input", lambda m: m.tensor_split(T(m, 1.0), 1)),
    ("float indices", lambda m: m.tensor_split(m.ones(3, 4), L(m, [1.0]))),
    ("2-D indices", lambda m: m.tensor_split(m.ones(3, 4), L(m, [[1]]))),
))


def _hvd_samples(min_dims):
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = _dtype(draw, grad)
            shape = draw(shapes(min_dims, 3, 0, 4))
            return Sample((draw(arrays(dtype, shape)),), {"spec": draw(st.one_of(
                st.sampled_from((1, 2)), st.lists(st.integers(0, 4), max_size=3)))},
                _flags(draw, 1))

        return sample()

    return make


for _name, _min_dims, _bad in (("hsplit", 1, 0), ("vsplit", 2, 1), ("dsplit", 3, 2)):
    add_entry(_name, (lambda n: lambda m, x, spec: getattr(m, n)(x, spec))(_name),
              _hvd_samples(_min_dims), errors=(
                  ("too few dims", (lambda n, b: lambda m: getattr(m, n)(
                      m.ones(*[2] * b) if b else T(m, 1.0), 1))(_name, _bad)),
                  ("not divisible", (lambda n, k: lambda m: getattr(m, n)(
                      m.ones(*[4] * k), 3))(_name, _min_dims)),
              ))


# ----- movedim, diagonal, broadcast, meshgrid -------------------------------------------------
def _movedim_samples(grad):
    @st.composite
    def sample(draw):
        dtype = _dtype(draw, grad)
        shape = draw(shapes(0, 4, 0, 3))
        n = max(len(shape), 1)
        k = draw(st.integers(1, n)) if len(shape) else 1
        src = draw(st.permutations(range(n)))[:k]
        dst = draw(st.permutations(range(n)))[:k]
        if k == 1 and draw(st.booleans()):
            src, dst = src[0], dst[0] - n
        return Sample((draw(arrays(dtype, shape)),), {"source": src, "destination": dst},
                      _flags(draw, 1))

    return sample()


add_entry("movedim", lambda m, x, source, destination: m.movedim(x, source, destination),
          _movedim_samples, errors=(
              ("repeated source", lambda m: m.movedim(m.ones(3, 4), (0, 0), (0, 1))),
              ("repeated destination", lambda m: m.movedim(m.ones(3, 4), (0, 1), (1, 1))),
              ("length mismatch", lambda m: m.movedim(m.ones(3, 4), (0, 1), (0,))),
              ("dim out of range", lambda m: m.movedim(m.ones(3, 4), 0, 2)),
          ))
alias(OP_DB[-1], "moveaxis")


def _diag_dims(draw, ndim):
    d1 = draw(st.integers(-ndim, ndim - 1))
    d2 = draw(st.integers(-ndim, ndim - 1).filter(lambda v: v % ndim != d1 % ndim))
    return d1, d2


def _diagonal_samples(grad):
    @st.composite
    def sample(draw):
        dtype = _dtype(draw, grad)
        shape = draw(shapes(2, 4, 0, 4))
        d1, d2 = _diag_dims(draw, len(shape))
        return Sample((draw(arrays(dtype, shape)),), {"offset": draw(st.integers(-4, 4)),
                                                      "dim1": d1, "dim2": d2}, _flags(draw, 1))

    return sample()


add_entry("diagonal", lambda m, x, offset, dim1, dim2: m.diagonal(x, offset, dim1, dim2),
          _diagonal_samples, errors=(
              ("identical dims", lambda m: m.diagonal(m.ones(3, 4), 0, 1, 1)),
              ("dim out of range", lambda m: m.diagonal(m.ones(3, 4), 0, 0, 2)),
              ("1-D input", lambda m: m.diagonal(m.ones(3))),
          ))


def _diagonal_inplace(m, x, offset, dim1, dim2):
    z = x.clone()
    z.diagonal(offset, dim1, dim2).mul_(2)
    return z


add_entry("diagonal_inplace", _diagonal_inplace,
          lambda grad: _diagonal_samples(True), covers=())


def _diag_embed_samples(grad):
    @st.composite
    def sample(draw):
        dtype = _dtype(draw, grad)
        shape = draw(shapes(0, 3, 0, 3))
        d1, d2 = _diag_dims(draw, len(shape) + 1)
        return Sample((draw(arrays(dtype, shape)),), {"offset": draw(st.integers(-2, 2)),
                                                      "dim1": d1, "dim2": d2}, _flags(draw, 1))

    return sample()


add_entry("diag_embed", lambda m, x, offset, dim1, dim2: m.diag_embed(x, offset, dim1, dim2),
          _diag_embed_samples, errors=(
              ("identical dims", lambda m: m.diag_embed(m.ones(3, 4), 0, 1, 1)),
              ("dim out of range", lambda m: m.diag_embed(m.ones(3, 4), 0, 0, 3)),
          ))
add_entry("diag", lambda m, x, diagonal: m.diag(x, diagonal),
          unary(dtypes=ALL_DTYPES, min_dims=1, max_dims=2,
                kwargs=lambda s: st.fixed_dictionaries({"diagonal": st.integers(-4, 4)})),
          errors=(
              ("3-D input", lambda m: m.diag(m.ones(2, 2, 2))),
              ("0-D input", lambda m: m.diag(T(m, 1.0))),
          ))
add_entry("trace", lambda m, x: m.trace(x), unary(dtypes=ALL_DTYPES, min_dims=2, max_dims=2),
          errors=(
              ("1-D input", lambda m: m.trace(m.ones(3))),
              ("3-D input", lambda m: m.trace(m.ones(2, 2, 2))),
          ))
for _name in ("tril", "triu"):
    add_entry(_name, (lambda n: lambda m, x, diagonal: getattr(m, n)(x, diagonal))(_name),
              unary(dtypes=ALL_DTYPES, min_dims=2, kwargs=lambda s: st.fixed_dictionaries(
                  {"diagonal": st.integers(-4, 4)})), errors=(
                  ("1-D input", (lambda n: lambda m: getattr(m, n)(m.ones(3)))(_name)),
              ))
    add_entry(_name + "_", (lambda n: lambda m, x, diagonal: getattr(x.clone(), n + "_")(
        diagonal))(_name), unary(dtypes=FLOAT_DTYPES, min_dims=2,
                                 kwargs=lambda s: st.fixed_dictionaries(
                                     {"diagonal": st.integers(-4, 4)})), covers=(), errors=(
        ("on a leaf", (lambda n: lambda m: getattr(m.ones(2, 2, requires_grad=True),
                                                   n + "_")())(_name)),
    ))


def _broadcast_samples(grad):
    @st.composite
    def sample(draw):
        count = draw(st.integers(1, 3))
        shapes_ = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=count, min_dims=0, max_dims=3, max_side=3)).input_shapes
        if draw(st.integers(0, 3)) == 0:
            shapes_ = (shapes_[0],) * count
        arrays_ = tuple(draw(arrays(_dtype(draw, grad), s)) for s in shapes_)
        return Sample(arrays_, {}, _flags(draw, count))

    return sample()


add_entry("broadcast_tensors", lambda m, *ts: m.broadcast_tensors(*ts), _broadcast_samples,
          errors=(("shapes do not broadcast",
                   lambda m: m.broadcast_tensors(m.ones(3, 4), m.ones(2))),))
add_entry("broadcast_shapes", lambda m, *ts: m.tensor(m.broadcast_shapes(*(t.shape for t in ts)),
                                                      dtype=m.int64),
          _broadcast_samples, differentiable=False, errors=(
              ("shapes do not broadcast", lambda m: m.broadcast_shapes((3, 4), (2,))),
              ("negative size", lambda m: m.broadcast_shapes((-1,))),
          ))


def _meshgrid_samples(grad):
    @st.composite
    def sample(draw):
        dtype = _dtype(draw, grad)
        count = draw(st.integers(1, 3))
        arrays_ = tuple(draw(arrays(dtype, draw(shapes(0, 1, 0, 3)))) for _ in range(count))
        return Sample(arrays_, {"indexing": draw(st.sampled_from(("ij", "xy")))},
                      _flags(draw, count))

    return sample()


add_entry("meshgrid", lambda m, *ts, indexing: m.meshgrid(*ts, indexing=indexing),
          _meshgrid_samples, errors=(
              ("2-D input", lambda m: m.meshgrid(m.ones(2, 2), m.ones(2), indexing="ij")),
              ("bad indexing", lambda m: m.meshgrid(m.ones(2), indexing="foo")),
              ("dtype mismatch", lambda m: m.meshgrid(m.ones(2), m.ones(2, dtype=m.float64),
                                                      indexing="ij")),
              ("no tensors", lambda m: m.meshgrid(indexing="ij")),
          ))
add_entry("meshgrid_list", lambda m, *ts, indexing: m.meshgrid(list(ts), indexing=indexing),
          _meshgrid_samples, covers=())


# ----- repeat, tile, repeat_interleave, flip, roll, rot90 -------------------------------------
def _reps(shape, extra=2, allow_fewer=False):
    lo = 0 if allow_fewer else len(shape)
    return st.integers(lo, len(shape) + extra).flatmap(
        lambda n: st.lists(st.integers(0, 3), min_size=n, max_size=n).map(tuple))


add_entry("repeat", lambda m, x, sizes: x.repeat(*sizes),
          unary(dtypes=ALL_DTYPES, max_side=3, kwargs=lambda s: st.fixed_dictionaries(
              {"sizes": _reps(s)})), covers=(), errors=(
              ("too few sizes", lambda m: m.ones(3, 4).repeat(2)),
              ("negative size", lambda m: m.ones(3, 4).repeat(-1, 1)),
          ))
add_entry("repeat_tuple", lambda m, x, sizes: x.repeat(sizes),
          unary(dtypes=FLOAT_DTYPES, max_side=3, kwargs=lambda s: st.fixed_dictionaries(
              {"sizes": _reps(s)})), covers=())
add_entry("tile", lambda m, x, dims: m.tile(x, dims),
          unary(dtypes=ALL_DTYPES, max_side=3, kwargs=lambda s: st.fixed_dictionaries(
              {"dims": _reps(s, allow_fewer=True)})), errors=(
              ("negative size", lambda m: m.tile(m.ones(3, 4), (-1,))),
          ))


def _ri_samples(grad):
    @st.composite
    def sample(draw):
        dtype = _dtype(draw, grad)
        shape = draw(shapes(0, 3, 0, 3))
        x = draw(arrays(dtype, shape))
        d = draw(st.one_of(st.none(), st.integers(-max(len(shape), 1),
                                                  max(len(shape), 1) - 1)))
        size = x.size if d is None else (shape or (1,))[d % max(len(shape), 1)]
        kind = draw(st.sampled_from(("int", "tensor", "tensor1")))
        if kind == "int":
            return Sample((x,), {"repeats": draw(st.integers(0, 3)), "dim": d}, _flags(draw, 1))
        n = size if kind == "tensor" else 1
        reps = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)),
                        dtype=np.int64)
        return Sample((x, reps), {"dim": d}, _flags(draw, 2))

    return sample()


def _repeat_interleave(m, x, reps=None, *, dim, repeats=None):
    return m.repeat_interleave(x, reps if reps is not None else repeats, dim)


add_entry("repeat_interleave", _repeat_interleave, _ri_samples, errors=(
    ("negative repeats", lambda m: m.repeat_interleave(m.ones(3, 4), -1)),
    ("repeats size mismatch", lambda m: m.repeat_interleave(m.ones(3, 4), L(m, [1, 2]), 0)),
    ("float repeats", lambda m: m.repeat_interleave(m.ones(3, 4), L(m, [1.0, 2.0, 1.0]), 0)),
    ("2-D repeats", lambda m: m.repeat_interleave(m.ones(3, 4), L(m, [[1]]), 0)),
    ("dim out of range", lambda m: m.repeat_interleave(m.ones(3, 4), 2, 2)),
))
add_entry("repeat_interleave_counts", lambda m, r: m.repeat_interleave(r),
          unary(dtypes=(I64,), domain="small", max_dims=1), differentiable=False, covers=())


def _flip_dims(shape):
    n = len(shape)
    if n == 0:
        return st.fixed_dictionaries({"dims": st.sampled_from(((), (0,), (-1,)))})
    return st.fixed_dictionaries({"dims": st.lists(st.integers(0, n - 1), unique=True,
                                                   max_size=n).map(tuple)})


add_entry("flip", lambda m, x, dims: m.flip(x, dims), unary(dtypes=ALL_DTYPES,
                                                             kwargs=_flip_dims), errors=(
    ("repeated dim", lambda m: m.flip(m.ones(3, 4), (0, 0))),
    ("dim out of range", lambda m: m.flip(m.ones(3, 4), (2,))),
))
add_entry("flip_method", lambda m, x, dims: x.flip(*dims), lambda grad: unary(
    dtypes=FLOAT_DTYPES, kwargs=_flip_dims)(grad).filter(lambda s: s.kwargs["dims"]), covers=())
add_entry("tile_method", lambda m, x, dims: x.tile(*dims),
          unary(dtypes=FLOAT_DTYPES, max_side=3, kwargs=lambda s: st.fixed_dictionaries(
              {"dims": _reps(s, allow_fewer=True).filter(bool)})), covers=())
add_entry("fliplr", lambda m, x: m.fliplr(x), unary(dtypes=ALL_DTYPES, min_dims=2), errors=(
    ("1-D input", lambda m: m.fliplr(m.ones(3))),
))
add_entry("flipud", lambda m, x: m.flipud(x), unary(dtypes=ALL_DTYPES, min_dims=1), errors=(
    ("0-D input", lambda m: m.flipud(T(m, 1.0))),
))


def _roll_kwargs(shape):
    n = len(shape)
    if n == 0:
        return st.fixed_dictionaries({"shifts": st.integers(-3, 3), "dims": st.none()})
    k = st.integers(1, n)
    return st.one_of(
        st.fixed_dictionaries({"shifts": st.integers(-5, 5), "dims": st.none()}),
        st.fixed_dictionaries({"shifts": st.integers(-5, 5), "dims": st.integers(-n, n - 1)}),
        k.flatmap(lambda c: st.fixed_dictionaries({
            "shifts": st.lists(st.integers(-5, 5), min_size=c, max_size=c).map(tuple),
            "dims": st.lists(st.integers(0, n - 1), min_size=c, max_size=c).map(tuple)})))


add_entry("roll", lambda m, x, shifts, dims: m.roll(x, shifts, dims),
          unary(dtypes=ALL_DTYPES, kwargs=_roll_kwargs), errors=(
              ("shifts and dims differ", lambda m: m.roll(m.ones(3, 4), (1, 2), (0,))),
              ("dim out of range", lambda m: m.roll(m.ones(3, 4), 1, 2)),
              ("no shifts", lambda m: m.roll(m.ones(3, 4), (), ())),
          ))


def _rot90_kwargs(shape):
    n = len(shape)
    return st.fixed_dictionaries({
        "k": st.integers(-5, 5),
        "dims": st.permutations(range(n)).map(lambda p: (p[0], p[1] - n))})


add_entry("rot90", lambda m, x, k, dims: m.rot90(x, k, dims),
          unary(dtypes=ALL_DTYPES, min_dims=2, kwargs=_rot90_kwargs), errors=(
              ("identical dims", lambda m: m.rot90(m.ones(3, 4), 1, (0, 0))),
              ("one dim", lambda m: m.rot90(m.ones(3, 4), 1, (0,))),
              ("1-D input", lambda m: m.rot90(m.ones(3))),
              ("dim out of range", lambda m: m.rot90(m.ones(3, 4), 1, (0, 2))),
          ))
add_entry("rot90_default", lambda m, x: m.rot90(x), unary(dtypes=FLOAT_DTYPES, min_dims=2),
          covers=())


# ----- stacking -------------------------------------------------------------------------------
def _stack_samples(rank_lo, rank_hi):
    def make(grad):
        @st.composite
        def sample(draw):
            count = draw(st.integers(1, 3))
            shape = draw(shapes(rank_lo, rank_hi, 0, 3))
            arrays_ = tuple(draw(arrays(_dtype(draw, grad, NUMERIC_DTYPES), shape))
                            for _ in range(count))
            return Sample(arrays_, {}, _flags(draw, count))

        return sample()

    return make


_STACK_ERRORS = {
    "hstack": (("empty list", lambda m: m.hstack([])),
               ("rank mismatch", lambda m: m.hstack([m.ones(3, 4), m.ones(2, 2, 2)]))),
    "vstack": (("empty list", lambda m: m.vstack([])),
               ("size mismatch", lambda m: m.vstack([m.ones(3, 4), m.ones(3)]))),
    "dstack": (("empty list", lambda m: m.dstack([])),
               ("size mismatch", lambda m: m.dstack([m.ones(3, 4), m.ones(3)]))),
    "column_stack": (("empty list", lambda m: m.column_stack([])),
                     ("size mismatch", lambda m: m.column_stack([m.ones(3, 4), m.ones(2)]))),
}
for _name, _errors in _STACK_ERRORS.items():
    add_entry(_name, (lambda n: lambda m, *ts: getattr(m, n)(ts))(_name), _stack_samples(0, 3),
              errors=_errors)
alias(OP_DB[-3], "row_stack")
OP_DB[-1].op = lambda m, *ts: m.row_stack(ts)
for _name in ("atleast_1d", "atleast_2d", "atleast_3d"):
    add_entry(_name, (lambda n: lambda m, *ts: getattr(m, n)(*ts))(_name), _stack_samples(0, 4),
              errors=((("non-tensor", (lambda n: lambda m: getattr(m, n)(2.0))(_name))),))

# the contiguous method: a copy only for a non-contiguous tensor
add_entry("contiguous", lambda m, x: x.contiguous(), unary(dtypes=ALL_DTYPES), covers=())

# This family's public op names (see op_db.PUBLIC_OPS).
PUBLIC_OPS: tuple[str, ...] = tuple(
    "atleast_1d atleast_2d atleast_3d broadcast_shapes broadcast_tensors chunk column_stack "
    "diag diag_embed diagonal dsplit dstack flip fliplr flipud gather hsplit hstack index_add "
    "index_copy index_fill index_select masked_fill masked_scatter masked_select meshgrid "
    "moveaxis movedim narrow put repeat_interleave roll rot90 row_stack scatter scatter_add "
    "scatter_reduce "
    "select split take take_along_dim tensor_split tile trace tril triu unbind vsplit "
    "vstack".split())
