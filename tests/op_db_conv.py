"""Op database entries for convolution, pooling, padding, folding and resampling
(``ember/ops/convolution.py``; names prefixed "nn.functional." or top-level).

Imported by ``op_db`` after its own entries; builds entries with ``op_db``'s helpers.
Shapes stay small (batch <= 2, channels <= 4, sides <= 7) to keep hypothesis cheap.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from op_db import F32, F64, FLOAT_DTYPES, I64, Sample, add_entry, arrays

CONV_TOL = {"rtol": 1e-4, "atol": 1e-4}


def F(m):
    """``m.nn.functional``."""
    return m.nn.functional


def ffn(name):
    """``F.<name>(*tensors, **kwargs)``."""
    return lambda m, *t, **k: getattr(F(m), name)(*t, **k)


def top(name):
    """``m.<name>(*tensors, **kwargs)`` (torch's top-level spelling)."""
    return lambda m, *t, **k: getattr(m, name)(*t, **k)


def _with_optional(name, top_level=False):
    """``f(x, w, bias=None, **kw)`` where the sample's third array, if any, is the bias."""
    def run(m, x, w, *bias, **kw):
        f = getattr(m, name) if top_level else getattr(F(m), name)
        return f(x, w, bias[0] if bias else None, **kw)

    return run


def _dtype(draw, grad, dtypes):
    return draw(st.sampled_from(FLOAT_DTYPES if grad else dtypes))


def _batch(draw):
    """A batch size, or None for an unbatched input."""
    return draw(st.sampled_from((1, 2, 2, None, 0)))


def _noncontig(draw, arrays_):
    return tuple(draw(st.booleans()) for _ in arrays_)


# ----- convolution ----------------------------------------------------------------------------
def _conv_samples(nd: int, transposed: bool = False, dtypes=FLOAT_DTYPES):
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = _dtype(draw, grad, dtypes)
            g = draw(st.sampled_from((1, 1, 2)))
            cin_g, cout_g = draw(st.integers(1, 2)), draw(st.integers(1, 2))
            k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
            stride = tuple(draw(st.integers(1, 2)) for _ in range(nd))
            dil = tuple(draw(st.integers(1, 2)) for _ in range(nd))
            batch = _batch(draw)
            kw: dict = {}
            if transposed:
                size = tuple(draw(st.integers(1, 3)) for _ in range(nd))
                outpad = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dil))
                pad = []
                for i in range(nd):
                    p = draw(st.integers(0, 1))
                    full = (size[i] - 1) * stride[i] + dil[i] * (k[i] - 1) + outpad[i] + 1
                    pad.append(p if full - 2 * p >= 1 else 0)
                kw = {"stride": stride, "padding": tuple(pad), "output_padding": outpad,
                      "groups": g, "dilation": dil}
                wshape = (g * cin_g, cout_g) + k
                channels_out = g * cout_g
            else:
                mode = draw(st.sampled_from(("int", "tuple", "same", "valid")))
                if mode == "same":
                    stride = (1,) * nd
                pad = tuple(draw(st.integers(0, 1)) for _ in range(nd))
                if mode in ("same", "valid"):
                    padding = mode
                    pad = (0,) * nd if mode == "valid" else tuple(d * (kk - 1) // 2 for d, kk
                                                                  in zip(dil, k))
                elif mode == "int":
                    padding = pad[0]
                    pad = (pad[0],) * nd
                else:
                    padding = pad
                size = tuple(max(d * (kk - 1) + 1 - 2 * p, 1) + draw(st.integers(0, 2))
                             for d, kk, p in zip(dil, k, pad))
                kw = {"stride": stride if draw(st.booleans()) else stride[0],
                      "padding": padding, "dilation": dil, "groups": g}
                wshape = (g * cout_g, cin_g) + k
                channels_out = g * cout_g
            xshape = (g * cin_g,) + size
            if batch is not None:
                xshape = (batch,) + xshape
            arrays_ = [draw(arrays(dtype, xshape)), draw(arrays(dtype, wshape))]
            if draw(st.booleans()):
                arrays_.append(draw(arrays(dtype, (channels_out,))))
            return Sample(tuple(arrays_), kw, _noncontig(draw, arrays_))

        return sample()

    return make


def _conv_errors(f, nd: int) -> tuple:
    """Misuse cases shared by conv1d/conv2d; ``f(m)`` is the function, ``nd`` its dims."""
    sp = (6,) * nd
    k = (3,) * nd

    def x(m, c=3, batch=2, spatial=sp):
        return m.ones((batch, c) + spatial)

    def w(m, o=4, c=3, kernel=k):
        return m.ones((o, c) + kernel)

    return (
        ("input of the wrong rank", lambda m: f(m)(m.ones(2), w(m))),
        ("input of too high rank", lambda m: f(m)(m.ones((1, 2, 3) + sp), w(m))),
        ("channel mismatch", lambda m: f(m)(x(m, c=2), w(m))),
        ("channel mismatch, unbatched", lambda m: f(m)(x(m, c=2)[0], w(m))),
        ("kernel bigger than input", lambda m: f(m)(x(m, spatial=(2,) * nd), w(m))),
        ("negative padding", lambda m: f(m)(x(m), w(m), padding=-1)),
        ("groups not dividing out channels", lambda m: f(m)(x(m, c=4), w(m, o=3, c=2),
                                                           groups=2)),
        ("groups not dividing in channels", lambda m: f(m)(x(m), w(m, o=4, c=1), groups=2)),
        ("zero groups", lambda m: f(m)(x(m), w(m), groups=0)),
        ("zero stride", lambda m: f(m)(x(m), w(m), stride=0)),
        ("zero dilation", lambda m: f(m)(x(m), w(m), dilation=0)),
        ("bias of the wrong size", lambda m: f(m)(x(m), w(m), m.ones(5))),
        ("same padding with stride", lambda m: f(m)(x(m), w(m), padding="same", stride=2)),
        ("unknown padding string", lambda m: f(m)(x(m), w(m), padding="full")),
        ("input and weight dtypes differ", lambda m: f(m)(x(m).double(), w(m))),
        ("input and bias dtypes differ", lambda m: f(m)(x(m), w(m), m.ones(4).double())),
        ("stride of the wrong length", lambda m: f(m)(x(m), w(m), stride=(1,) * (nd + 1))),
        ("weight of the wrong rank", lambda m: f(m)(x(m), m.ones((4, 3) + (3,) * (nd - 1)))
         if nd > 1 else f(m)(x(m), m.ones(4, 3, 3, 3))),
        ("non-tensor input", lambda m: f(m)([1.0], w(m))),
    )


def _conv_transpose_errors(name: str, nd: int) -> tuple:
    sp = (3,) * nd

    def f(m, *args, **kw):
        return getattr(F(m), name)(*args, **kw)

    return (
        ("input of the wrong rank", lambda m: f(m, m.ones(3), m.ones((3, 2) + sp))),
        ("channel mismatch", lambda m: f(m, m.ones((2, 3) + sp), m.ones((2, 2) + sp))),
        ("output padding too large",
         lambda m: f(m, m.ones((2, 3) + sp), m.ones((3, 2) + sp), output_padding=1)),
        ("output too small",
         lambda m: f(m, m.ones((1, 3) + (1,) * nd), m.ones((3, 2) + (1,) * nd), padding=1)),
        ("groups not dividing in channels",
         lambda m: f(m, m.ones((2, 3) + sp), m.ones((3, 2) + sp), groups=2)),
        ("bias of the wrong size",
         lambda m: f(m, m.ones((2, 3) + sp), m.ones((3, 2) + sp), m.ones(3))),
        ("string padding",
         lambda m: f(m, m.ones((2, 3) + sp), m.ones((3, 2) + sp), padding="same")),
        ("negative padding",
         lambda m: f(m, m.ones((2, 3) + sp), m.ones((3, 2) + sp), padding=-1)),
        ("non-tensor input", lambda m: f(m, [1.0], m.ones((3, 2) + sp))),
    )


for _nd in (1, 2):
    _name = f"conv{_nd}d"
    add_entry(f"nn.functional.{_name}", _with_optional(_name), _conv_samples(_nd),
              covers=(f"nn.functional.{_name}", _name),
              errors=_conv_errors((lambda n: lambda m: getattr(F(m), n))(_name), _nd),
              **CONV_TOL)
    add_entry(f"{_name}_top", _with_optional(_name, top_level=True), _conv_samples(_nd),
              covers=(), forward_only=True, **CONV_TOL)
    add_entry(f"{_name}_int", _with_optional(_name), _conv_samples(_nd, dtypes=(I64,)),
              covers=(), differentiable=False)
    _tname = f"conv_transpose{_nd}d"
    add_entry(f"nn.functional.{_tname}", _with_optional(_tname),
              _conv_samples(_nd, transposed=True),
              covers=(f"nn.functional.{_tname}", _tname), **CONV_TOL,
              errors=_conv_transpose_errors(_tname, _nd))


# ----- linear layers --------------------------------------------------------------------------
def _linear_samples(grad):
    @st.composite
    def sample(draw):
        dtype = _dtype(draw, grad, (F32, F64))
        k, o = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        lead = draw(st.sampled_from(((), (2,), (3,), (0,), (2, 3), (1, 2, 2))))
        arrays_ = [draw(arrays(dtype, lead + (k,))), draw(arrays(dtype, (o, k)))]
        bias = draw(st.sampled_from(("none", "vector", "vector", "scalar")))
        if bias == "vector":
            arrays_.append(draw(arrays(dtype, (o,))))
        elif bias == "scalar":
            arrays_.append(draw(arrays(dtype, ())))
        return Sample(tuple(arrays_), {}, _noncontig(draw, arrays_))

    return sample()


add_entry("nn.functional.linear", _with_optional("linear"), _linear_samples, **CONV_TOL,
          errors=(
              ("shapes cannot be multiplied",
               lambda m: F(m).linear(m.ones(2, 3), m.ones(4, 5))),
              ("bias of the wrong size",
               lambda m: F(m).linear(m.ones(2, 3), m.ones(4, 3), m.ones(5))),
              ("bias of the wrong size, 3-D input",
               lambda m: F(m).linear(m.ones(2, 2, 3), m.ones(4, 3), m.ones(5))),
              ("0-d input", lambda m: F(m).linear(m.ones(()), m.ones(4, 3))),
              ("3-D weight", lambda m: F(m).linear(m.ones(2, 3), m.ones(4, 3, 2))),
              ("dtypes differ", lambda m: F(m).linear(m.ones(2, 3), m.ones(4, 3).double())),
          ))


def _bilinear_samples(grad):
    @st.composite
    def sample(draw):
        dtype = _dtype(draw, grad, (F32, F64))
        i, j, o = (draw(st.integers(1, 3)) for _ in range(3))
        lead = draw(st.sampled_from(((), (2,), (3,), (0,), (2, 2))))
        arrays_ = [draw(arrays(dtype, lead + (i,))), draw(arrays(dtype, lead + (j,))),
                   draw(arrays(dtype, (o, i, j)))]
        if draw(st.booleans()):
            arrays_.append(draw(arrays(dtype, (o,))))
        return Sample(tuple(arrays_), {}, _noncontig(draw, arrays_))

    return sample()


def _bilinear(m, a, b, w, *bias):
    return F(m).bilinear(a, b, w, bias[0] if bias else None)


def _bilinear_top(m, a, b, w, *bias):
    return m.bilinear(a, b, w, bias[0] if bias else None)


_BILINEAR_ERRORS = (
    ("input2 size", lambda m: F(m).bilinear(m.ones(2, 3), m.ones(2, 5), m.ones(4, 3, 6))),
    ("input1 size", lambda m: F(m).bilinear(m.ones(2, 4), m.ones(2, 5), m.ones(4, 3, 5))),
    ("batch sizes differ", lambda m: F(m).bilinear(m.ones(2, 3), m.ones(3, 5),
                                                   m.ones(4, 3, 5))),
    ("bias size", lambda m: F(m).bilinear(m.ones(2, 3), m.ones(2, 5), m.ones(4, 3, 5),
                                          m.ones(3))),
    ("ranks differ", lambda m: F(m).bilinear(m.ones(2, 3), m.ones(1, 2, 5), m.ones(4, 3, 5))),
    ("dtypes differ", lambda m: F(m).bilinear(m.ones(2, 3), m.ones(2, 5).double(),
                                              m.ones(4, 3, 5))),
)
add_entry("nn.functional.bilinear", _bilinear, _bilinear_samples, **CONV_TOL,
          covers=("nn.functional.bilinear", "bilinear"), errors=_BILINEAR_ERRORS)
add_entry("bilinear_top", _bilinear_top, _bilinear_samples, covers=(), forward_only=True,
          **CONV_TOL)


# ----- pooling --------------------------------------------------------------------------------
def _pool_samples(nd: int, kind: str, dtypes=FLOAT_DTYPES):
    """Max (with dilation, return_indices) or average (count_include_pad, divisor) pooling."""

    def make(grad):
        @st.composite
        def sample(draw):
            dtype = _dtype(draw, grad, dtypes)
            square = draw(st.booleans())
            k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
            if square:
                k = (k[0],) * nd
            dil = tuple(draw(st.integers(1, 2)) for _ in range(nd)) if kind == "max" else (
                (1,) * nd)
            pad = tuple(draw(st.integers(0, kk // 2)) for kk in k)
            # a dilated window over padding can hold no input element: torch then reports a
            # position past the plane and writes its gradient out of bounds
            pad = tuple(0 if d > 1 else p for p, d in zip(pad, dil))
            size = tuple(max(d * (kk - 1) + 1 - 2 * p, 1) + draw(st.integers(0, 3))
                         for d, kk, p in zip(dil, k, pad))
            stride = draw(st.one_of(st.none(), st.tuples(*(st.integers(1, 3)
                                                           for _ in range(nd)))))
            kw = {"kernel_size": k[0] if square else k, "stride": stride,
                  "padding": pad, "ceil_mode": draw(st.booleans())}
            if kind == "max":
                kw["dilation"] = dil
                kw["return_indices"] = draw(st.booleans())
            else:
                kw["count_include_pad"] = draw(st.booleans())
                if nd == 2:
                    kw["divisor_override"] = draw(st.sampled_from((None, None, 1, 3)))
            batch = _batch(draw)
            shape = (draw(st.integers(1, 3)),) + size
            if batch is not None:
                shape = (batch,) + shape
            arrays_ = (draw(arrays(dtype, shape)),)
            return Sample(arrays_, kw, _noncontig(draw, arrays_))

        return sample()

    return make


def _pool_errors(name: str, nd: int) -> tuple:
    def f(m):
        return getattr(F(m), name)

    def x(m, size=6):
        return m.ones((2, 3) + (size,) * nd)

    cases = [
        ("input of the wrong rank", lambda m: f(m)(m.ones((2, 2, 3) + (6,) * nd), 2)),
        ("zero kernel", lambda m: f(m)(x(m), 0)),
        ("zero stride", lambda m: f(m)(x(m), 2, 0)),
        ("padding over half the kernel", lambda m: f(m)(x(m), 2, padding=2)),
        ("negative padding", lambda m: f(m)(x(m), 2, padding=-1)),
        ("kernel bigger than input", lambda m: f(m)(x(m), 7)),
        ("kernel of the wrong length", lambda m: f(m)(x(m), (2,) * (nd + 1))),
        ("non-tensor input", lambda m: f(m)([1.0, 2.0], 1)),
    ]
    if nd == 2:
        cases.append(("1-D input", lambda m: f(m)(m.ones(6), 2)))
        cases.append(("empty spatial dimension", lambda m: f(m)(m.ones(2, 3, 0, 6), 2)))
    if name.startswith("max"):
        cases.append(("zero dilation", lambda m: f(m)(x(m), 2, dilation=0)))
    if name == "avg_pool2d":
        cases.append(("zero divisor", lambda m: f(m)(x(m), 2, divisor_override=0)))
    return tuple(cases)


for _nd in (1, 2):
    for _kind in ("max", "avg"):
        _name = f"{_kind}_pool{_nd}d"
        _covers = (f"nn.functional.{_name}",) + ((_name,) if _nd == 1 else ())
        add_entry(f"nn.functional.{_name}", ffn(_name), _pool_samples(_nd, _kind), covers=_covers,
                  errors=_pool_errors(_name, _nd))
        add_entry(f"{_name}_int", ffn(_name), _pool_samples(_nd, _kind, dtypes=(I64,)),
                  covers=(), differentiable=False)
    _wname = f"max_pool{_nd}d_with_indices"
    # second_order=False: on some samples torch's own double backward of max_pool2d_with_indices
    # aborts the process (seen twice, sample not isolated); the same second derivative is
    # checked through the max_poolNd entries above, which run the same kernels.
    add_entry(f"nn.functional.{_wname}",
              (lambda n: lambda m, x, return_indices, **kw: getattr(F(m), n)(x, **kw))(_wname),
              _pool_samples(_nd, "max"), covers=(f"nn.functional.{_wname}",) + (
                  (_wname,) if _nd == 1 else ()), second_order=False,
              errors=(("zero kernel", (lambda n, nd: lambda m: getattr(F(m), n)(
                  m.ones((2, 3) + (4,) * nd), 0))(_wname, _nd)),))


def _adaptive_samples(nd: int, kind: str):
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = _dtype(draw, grad, FLOAT_DTYPES)
            size = tuple(draw(st.integers(1, 6)) for _ in range(nd))
            out = tuple(draw(st.one_of(st.integers(1, 6), st.just(1))) for _ in range(nd))
            if nd == 2:
                choice = draw(st.integers(0, 3))
                out = (out[0] if choice == 0 else (None, out[1]) if choice == 1 else out)
            else:
                out = out[0] if draw(st.booleans()) else out
            kw = {"output_size": out}
            if kind == "max":
                kw["return_indices"] = draw(st.booleans())
            batch = _batch(draw)
            shape = (draw(st.integers(1, 3)),) + size
            if batch is not None:
                shape = (batch,) + shape
            arrays_ = (draw(arrays(dtype, shape)),)
            return Sample(arrays_, kw, _noncontig(draw, arrays_))

        return sample()

    return make


def _adaptive_errors(name: str, nd: int) -> tuple:
    def f(m):
        return getattr(F(m), name)

    cases = [
        ("input of the wrong rank", lambda m: f(m)(m.ones((2, 2, 3) + (6,) * nd), 2)),
        ("negative output size", lambda m: f(m)(m.ones((2, 3) + (6,) * nd), -1)),
        ("empty spatial dimension", lambda m: f(m)(m.ones((2, 3) + (0,) * nd), 2)),
        ("integer input", lambda m: f(m)(m.ones((2, 3) + (6,) * nd, dtype=m.int64), 2)),
        ("non-tensor input", lambda m: f(m)([1.0, 2.0], 1)),
    ]
    if nd == 2:
        cases.append(("output size of length 3", lambda m: f(m)(m.ones(2, 3, 6, 6), (2, 2, 2))))
    return tuple(cases)


for _nd in (1, 2):
    for _kind in ("avg", "max"):
        _name = f"adaptive_{_kind}_pool{_nd}d"
        add_entry(f"nn.functional.{_name}", ffn(_name), _adaptive_samples(_nd, _kind),
                  covers=(f"nn.functional.{_name}",) + ((_name,) if _nd == 1 else ()),
                  errors=_adaptive_errors(_name, _nd))
    _wname = f"adaptive_max_pool{_nd}d_with_indices"
    add_entry(f"nn.functional.{_wname}",
              (lambda n: lambda m, x, return_indices, **kw: getattr(F(m), n)(x, **kw))(_wname),
              _adaptive_samples(_nd, "max"), covers=(f"nn.functional.{_wname}",),
              errors=(("negative output size", (lambda n, nd: lambda m: getattr(F(m), n)(
                  m.ones((2, 3) + (4,) * nd), -1))(_wname, _nd)),))
add_entry("adaptive_max_pool1d_top",
          lambda m, x, output_size, return_indices: m.adaptive_max_pool1d(x, output_size),
          _adaptive_samples(1, "max"), covers=("adaptive_max_pool1d",), errors=(
              ("negative output size", lambda m: m.adaptive_max_pool1d(m.ones(2, 3, 4), -1)),))
add_entry("max_pool2d_top",
          lambda m, x, return_indices, **kw: m.max_pool2d(x, **kw),
          _pool_samples(2, "max"), covers=("max_pool2d",), forward_only=True)


# ----- unfold / fold --------------------------------------------------------------------------
def _window_args(draw):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pad = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    size = tuple(max(d * (kk - 1) + 1 - 2 * p, 1) + draw(st.integers(0, 2))
                 for d, kk, p in zip(dil, k, pad))
    kw = {"kernel_size": k, "dilation": dil if draw(st.booleans()) else dil[0],
          "padding": pad, "stride": stride if draw(st.booleans()) else stride[0]}
    if not isinstance(kw["dilation"], tuple):
        kw["dilation"] = (dil[0], dil[0])
        dil = kw["dilation"]
        size = tuple(max(d * (kk - 1) + 1 - 2 * p, 1) + 1 for d, kk, p in zip(dil, k, pad))
    if not isinstance(kw["stride"], tuple):
        stride = (stride[0], stride[0])
    blocks = tuple((n + 2 * p - d * (kk - 1) - 1) // s + 1
                   for n, p, d, kk, s in zip(size, pad, dil, k, stride))
    return kw, size, blocks


def _unfold_samples(grad):
    @st.composite
    def sample(draw):
        dtype = _dtype(draw, grad, FLOAT_DTYPES)
        kw, size, _ = _window_args(draw)
        batch = _batch(draw)
        shape = (draw(st.integers(1, 3)),) + size
        if batch is not None:
            shape = (batch,) + shape
        arrays_ = (draw(arrays(dtype, shape)),)
        return Sample(arrays_, kw, _noncontig(draw, arrays_))

    return sample()


def _fold_samples(grad):
    @st.composite
    def sample(draw):
        dtype = _dtype(draw, grad, FLOAT_DTYPES)
        kw, size, blocks = _window_args(draw)
        k = kw["kernel_size"]
        batch = _batch(draw)
        shape = (draw(st.integers(1, 2)) * k[0] * k[1], blocks[0] * blocks[1])
        if batch is not None:
            shape = (batch,) + shape
        arrays_ = (draw(arrays(dtype, shape)),)
        return Sample(arrays_, dict(kw, output_size=size), _noncontig(draw, arrays_))

    return sample()


add_entry("nn.functional.unfold", ffn("unfold"), _unfold_samples, errors=(
    ("2-D input", lambda m: F(m).unfold(m.ones(3, 3), 2)),
    ("zero kernel", lambda m: F(m).unfold(m.ones(1, 2, 3, 3), 0)),
    ("zero dilation", lambda m: F(m).unfold(m.ones(1, 2, 3, 3), 2, dilation=0)),
    ("negative padding", lambda m: F(m).unfold(m.ones(1, 2, 3, 3), 2, padding=-1)),
    ("zero stride", lambda m: F(m).unfold(m.ones(1, 2, 3, 3), 2, stride=0)),
    ("kernel bigger than input", lambda m: F(m).unfold(m.ones(1, 2, 3, 3), 4)),
))
add_entry("nn.functional.fold", ffn("fold"), _fold_samples, errors=(
    ("4-D input", lambda m: F(m).fold(m.ones(1, 4, 4, 1), (3, 3), 2)),
    ("rows not divisible by the kernel", lambda m: F(m).fold(m.ones(1, 5, 4), (3, 3), 2)),
    ("wrong number of blocks", lambda m: F(m).fold(m.ones(1, 4, 5), (3, 3), 2)),
    ("zero kernel", lambda m: F(m).fold(m.ones(1, 4, 4), (3, 3), 0)),
    ("zero output size", lambda m: F(m).fold(m.ones(1, 4, 4), (0, 3), 2)),
))


# ----- padding --------------------------------------------------------------------------------
def _pad_samples(mode: str):
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = _dtype(draw, grad, (F32, F64, I64))
            nd = draw(st.integers(1, 2)) if mode != "constant" else draw(st.integers(1, 3))
            batched = draw(st.booleans())
            lead = ((draw(st.integers(1, 2)),) if batched else ()) + (draw(st.integers(1, 3)),)
            if mode == "constant":
                lead = lead[:draw(st.integers(0, len(lead)))]
            size = tuple(draw(st.integers(1, 4)) for _ in range(nd))
            pad = []
            for n in reversed(size):
                top = n - 1 if mode == "reflect" else n
                lo, hi = draw(st.integers(-1, max(top, 0))), draw(st.integers(-1, max(top, 0)))
                kept = n - max(-lo, 0) - max(-hi, 0)
                if n + lo + hi < 1 or kept < 1 or (mode == "circular" and max(lo, hi) > kept):
                    lo = hi = 0
                pad += [lo, hi]
            kw = {"pad": tuple(pad), "mode": mode}
            if mode == "constant" and draw(st.booleans()):
                kw["value"] = draw(st.sampled_from((0.5, -1.0, 2.0)))
            arrays_ = (draw(arrays(dtype, lead + size)),)
            return Sample(arrays_, kw, _noncontig(draw, arrays_))

        return sample()

    return make


_PAD_ERRORS = (
    ("odd padding length", lambda m: F(m).pad(m.ones(2, 3), (1, 2, 3))),
    ("padding longer than the input's dimensions", lambda m: F(m).pad(m.ones(2), (1,) * 4)),
    ("cropping past the input", lambda m: F(m).pad(m.ones(2, 5), (-3, -3))),
    ("unknown mode", lambda m: F(m).pad(m.ones(2, 3), (1, 1), mode="wrap")),
    ("value with reflect", lambda m: F(m).pad(m.ones(2, 3), (1, 1), mode="reflect", value=2.0)),
    ("reflect: 1-D padding of 4-D input",
     lambda m: F(m).pad(m.ones(1, 2, 3, 4), (1, 1), mode="reflect")),
    ("reflect: padding as large as the input",
     lambda m: F(m).pad(m.ones(1, 2, 3), (3, 1), mode="reflect")),
    ("reflect: empty input", lambda m: F(m).pad(m.ones(1, 0, 3), (1, 1), mode="reflect")),
    ("replicate: empty input", lambda m: F(m).pad(m.ones(2, 0), (1, 1), mode="replicate")),
    ("circular: wrapping twice", lambda m: F(m).pad(m.ones(1, 2, 3), (4, 1), mode="circular")),
    ("float padding", lambda m: F(m).pad(m.ones(2, 3), (1.5, 1))),
    ("non-tensor input", lambda m: F(m).pad([1.0], (1, 1))),
)
for _mode in ("constant", "reflect", "replicate", "circular"):
    add_entry(f"nn.functional.pad_{_mode}", ffn("pad"), _pad_samples(_mode),
              covers=("nn.functional.pad",) if _mode == "constant" else (),
              errors=_PAD_ERRORS if _mode == "constant" else ())


def _constant_pad_samples(grad):
    @st.composite
    def sample(draw):
        s = draw(_pad_samples("constant")(grad))
        return Sample(s.arrays, {"pad": s.kwargs["pad"], "value": s.kwargs.get("value", 0)},
                      s.noncontig)

    return sample()


add_entry("constant_pad_nd", top("constant_pad_nd"), _constant_pad_samples, errors=(
    ("odd padding length", lambda m: m.constant_pad_nd(m.ones(2, 3), (1, 2, 3))),
    ("non-tensor input", lambda m: m.constant_pad_nd([1.0], (1, 1))),
    ("cropping past the input", lambda m: m.constant_pad_nd(m.ones(2, 5), (-3, -3))),
))


# ----- resampling -----------------------------------------------------------------------------
def _interpolate_samples(grad):
    @st.composite
    def sample(draw):
        dtype = _dtype(draw, grad, FLOAT_DTYPES)
        nd = draw(st.integers(1, 2))
        mode = draw(st.sampled_from(("nearest", "nearest-exact", "area",
                                     "linear" if nd == 1 else "bilinear")))
        size = tuple(draw(st.integers(1, 5)) for _ in range(nd))
        kw: dict = {"mode": mode}
        if draw(st.booleans()):
            out = tuple(draw(st.integers(1, 7)) for _ in range(nd))
            kw["size"] = out if nd > 1 or draw(st.booleans()) else out[0]
        else:
            scales = tuple(draw(st.sampled_from((0.5, 1.0, 1.5, 2.0, 2.5, 3.0)))
                           for _ in range(nd))
            scales = tuple(max(s, 1.0 / n) for s, n in zip(scales, size))
            kw["scale_factor"] = scales if draw(st.booleans()) else scales[0]
            if not isinstance(kw["scale_factor"], tuple):
                size = tuple(max(n, math.ceil(1 / scales[0])) for n in size)
            if mode != "area" and draw(st.booleans()):
                kw["recompute_scale_factor"] = True
        if mode in ("linear", "bilinear"):
            kw["align_corners"] = draw(st.booleans())
        shape = (draw(st.integers(0, 2)), draw(st.integers(1, 2))) + size
        arrays_ = (draw(arrays(dtype, shape)),)
        return Sample(arrays_, kw, _noncontig(draw, arrays_))

    return sample()


add_entry("nn.functional.interpolate", ffn("interpolate"), _interpolate_samples, **CONV_TOL,
          errors=(
              ("size and scale_factor", lambda m: F(m).interpolate(m.ones(1, 1, 2, 2), size=3,
                                                                   scale_factor=2)),
              ("neither size nor scale_factor", lambda m: F(m).interpolate(m.ones(1, 1, 2, 2))),
              ("align_corners with nearest",
               lambda m: F(m).interpolate(m.ones(1, 1, 2, 2), size=3, align_corners=True)),
              ("size of the wrong length",
               lambda m: F(m).interpolate(m.ones(1, 1, 2, 2), size=(3, 3, 3))),
              ("bilinear on 3-D input",
               lambda m: F(m).interpolate(m.ones(1, 1, 2), size=3, mode="bilinear")),
              ("linear on 4-D input",
               lambda m: F(m).interpolate(m.ones(1, 1, 2, 2), size=3, mode="linear")),
              ("2-D input", lambda m: F(m).interpolate(m.ones(2, 2), size=3)),
              ("zero output size", lambda m: F(m).interpolate(m.ones(1, 1, 4, 5), size=(0, 3))),
              ("zero output size, 1-D",
               lambda m: F(m).interpolate(m.ones(1, 1, 5), size=0, mode="linear")),
              ("integer input",
               lambda m: F(m).interpolate(m.ones(1, 1, 2, 2, dtype=m.int64), size=3)),
              ("recompute with size", lambda m: F(m).interpolate(
                  m.ones(1, 1, 2, 2), size=3, recompute_scale_factor=True)),
          ))


def _upsample(m, x, mode, **kw):
    kw.pop("recompute_scale_factor", None)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return F(m).upsample(x, mode=mode, **kw)


add_entry("nn.functional.upsample", _upsample, _interpolate_samples, **CONV_TOL, errors=(
    ("size and scale_factor", lambda m: F(m).upsample(m.ones(1, 1, 2, 2), size=3,
                                                      scale_factor=2)),
))


def _shuffle_samples(inverse: bool):
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = _dtype(draw, grad, (F32, F64, I64))
            r = draw(st.integers(1, 2))
            lead = draw(st.sampled_from(((), (2,), (1, 2), (0,))))
            c, h, w = (draw(st.integers(1, 2)) for _ in range(3))
            shape = (c, h * r, w * r) if inverse else (c * r * r, h, w)
            arrays_ = (draw(arrays(dtype, lead + shape)),)
            key = "downscale_factor" if inverse else "upscale_factor"
            return Sample(arrays_, {key: r}, _noncontig(draw, arrays_))

        return sample()

    return make


add_entry("nn.functional.pixel_shuffle", ffn("pixel_shuffle"), _shuffle_samples(False),
          covers=("nn.functional.pixel_shuffle", "pixel_shuffle"), errors=(
              ("channels not divisible", lambda m: F(m).pixel_shuffle(m.ones(2, 3, 4, 5), 2)),
              ("2-D input", lambda m: F(m).pixel_shuffle(m.ones(4, 4), 2)),
              ("zero factor", lambda m: F(m).pixel_shuffle(m.ones(2, 8, 2, 2), 0)),
          ))
add_entry("nn.functional.pixel_unshuffle", ffn("pixel_unshuffle"), _shuffle_samples(True),
          covers=("nn.functional.pixel_unshuffle", "pixel_unshuffle"), errors=(
              ("height not divisible", lambda m: F(m).pixel_unshuffle(m.ones(2, 1, 5, 4), 2)),
              ("width not divisible", lambda m: F(m).pixel_unshuffle(m.ones(2, 1, 4, 5), 2)),
              ("2-D input", lambda m: F(m).pixel_unshuffle(m.ones(4, 4), 2)),
              ("zero factor", lambda m: F(m).pixel_unshuffle(m.ones(1, 4, 4), 0)),
          ))


# This family's public op names (see op_db.PUBLIC_OPS).
PUBLIC_OPS: tuple[str, ...] = tuple(name for entry_names in (
    "adaptive_avg_pool1d adaptive_max_pool1d avg_pool1d bilinear conv1d conv2d "
    "conv_transpose1d conv_transpose2d max_pool1d max_pool1d_with_indices max_pool2d "
    "constant_pad_nd pixel_shuffle pixel_unshuffle",
) for name in entry_names.split()) + tuple("nn.functional." + n for n in (
    "adaptive_avg_pool1d adaptive_avg_pool2d adaptive_max_pool1d "
    "adaptive_max_pool1d_with_indices adaptive_max_pool2d adaptive_max_pool2d_with_indices "
    "avg_pool1d avg_pool2d bilinear conv1d conv2d conv_transpose1d conv_transpose2d fold linear "
    "max_pool1d max_pool1d_with_indices max_pool2d max_pool2d_with_indices unfold pad "
    "interpolate upsample pixel_shuffle pixel_unshuffle"
).split())
