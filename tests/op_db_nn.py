"""Op database entries for activations, losses, normalization and dropout
(``ember/ops/{activation,loss,normalization}.py``; "nn.functional." names or top-level).

Imported by ``op_db`` after its own entries; builds entries with ``op_db``'s helpers.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from op_db import (
    F32,
    F64,
    FLOAT_DTYPES,
    I64,
    NUMERIC_DTYPES,
    OP_DB,
    Sample,
    T,
    add_entry,
    arrays,
    shapes,
    unary,
)


def F(m):
    """``m.nn.functional``."""
    return m.nn.functional


def ffn(name):
    """``F.<name>(*tensors, **kwargs)``."""
    return lambda m, *t, **k: getattr(F(m), name)(*t, **k)


def falias(entry, name: str) -> None:
    """``name`` (an ``nn.functional`` name, or top-level with ``top=``) spells ``entry``'s op;
    checked forward only, positional arguments."""
    def op(m, *tensors, **kwargs):
        return getattr(F(m), name)(*tensors, *kwargs.values())

    OP_DB.append(replace(entry, name="nn.functional." + name, op=op, torch_op=None,
                         covers=("nn.functional." + name,), errors=(), forward_only=True,
                         xfail={}))


def talias(entry, name: str, call=None) -> None:
    """Top-level ``name`` spells ``entry``'s op (``call(m, *tensors, **kwargs)`` if given)."""
    def op(m, *tensors, **kwargs):
        return getattr(m, name)(*tensors, *kwargs.values())

    OP_DB.append(replace(entry, name=name + "_top", op=call or op, torch_op=None, covers=(name,),
                         errors=(), forward_only=True, xfail={}))


def not_tensor(name):
    return ("non-tensor input", lambda m: getattr(F(m), name)(2.0))


def int_input(name, *args):
    return ("int input", lambda m: getattr(F(m), name)(T(m, [1, -2]), *args))


def float_unary(**kw):
    return unary(dtypes=FLOAT_DTYPES, **kw)


def kwargs_of(**strategies):
    return lambda shape: st.fixed_dictionaries(strategies)


# ----- pointwise activations ------------------------------------------------------------------
_ACTIVATIONS = (
    # name, kwargs strategies, int input accepted by torch
    ("relu6", {}, True),
    ("leaky_relu", {"negative_slope": st.sampled_from((0.01, 0.2, -0.5, 1.5))}, False),
    ("elu", {"alpha": st.sampled_from((1.0, 0.5, 2.0))}, False),
    ("selu", {}, False),
    ("celu", {"alpha": st.sampled_from((1.0, 0.5, 2.0))}, False),
    ("gelu", {"approximate": st.sampled_from(("none", "tanh"))}, False),
    ("silu", {}, False),
    ("mish", {}, False),
    ("softplus", {"beta": st.sampled_from((1.0, 2.0, 0.5)),
                  "threshold": st.sampled_from((20.0, 1.0, 0.5))}, False),
    ("softsign", {}, True),
    ("hardtanh", {"min_val": st.sampled_from((-1.0, -0.5)),
                  "max_val": st.sampled_from((1.0, 2.0, 0.5))}, True),
    ("hardsigmoid", {}, False),
    ("hardswish", {}, False),
    ("logsigmoid", {}, False),
    ("tanhshrink", {}, True),
    ("softshrink", {"lambd": st.sampled_from((0.5, 0.0, 1.0))}, False),
    ("hardshrink", {"lambd": st.sampled_from((0.5, 0.0, 1.0))}, False),
    ("threshold", {"threshold": st.sampled_from((0.0, 0.5, -1.0)),
                   "value": st.sampled_from((0.0, 2.0, -3.5))}, True),
    ("relu", {}, True),
)
_ACT = {}
for _name, _kw, _int_ok in _ACTIVATIONS:
    _errors = [not_tensor(_name)] if _name not in ("threshold",) else []
    if not _int_ok:
        _errors.append(int_input(_name))
    _ACT[_name] = add_entry(
        "nn.functional." + _name, ffn(_name),
        unary(dtypes=NUMERIC_DTYPES if _int_ok else FLOAT_DTYPES, kwargs=kwargs_of(**_kw)),
        errors=tuple(_errors), atol=1e-5)
    if _name in ("relu6", "leaky_relu", "elu", "selu", "celu", "hardtanh", "silu", "mish",
                 "hardsigmoid", "hardswish", "threshold", "relu"):
        add_entry(f"nn.functional.{_name}_inplace",
                  (lambda n: lambda m, x, **k: getattr(F(m), n)(x * 1, **k, inplace=True))(_name),
                  float_unary(kwargs=kwargs_of(**_kw)), covers=())
_ACT["threshold"].errors = (
    ("non-tensor input", lambda m: F(m).threshold(2.0, 0.0, 1.0)),
    ("bool input", lambda m: F(m).threshold(T(m, [True]), 0, 1)),
)
_ACT["hardtanh"].errors += (
    ("min_val > max_val", lambda m: F(m).hardtanh(m.ones(2), 1.0, -1.0)),
)
_ACT["softshrink"].errors += (
    ("negative lambda", lambda m: F(m).softshrink(m.ones(2), -1.0)),
)
_ACT["gelu"].errors += (
    ("bad approximate", lambda m: F(m).gelu(m.ones(2), approximate="fast")),
)
add_entry("gelu_large", lambda m, x, approximate: F(m).gelu(x * 4, approximate=approximate),
          float_unary(kwargs=kwargs_of(approximate=st.sampled_from(("none", "tanh")))),
          covers=(), rtol=1e-3)
add_entry("softplus_large", lambda m, x: F(m).softplus(x * 20), float_unary(), covers=(),
          rtol=1e-3)
add_entry("logsigmoid_large", lambda m, x: F(m).logsigmoid(x * 40), float_unary(), covers=(),
          rtol=1e-3)
for _name in ("sigmoid", "tanh"):
    falias(next(e for e in OP_DB if e.name == _name), _name)
for _name in ("selu", "celu", "hardshrink", "threshold"):
    talias(_ACT[_name], _name)
for _name in ("elu_", "leaky_relu_", "hardtanh_", "relu_", "celu_", "selu_", "threshold_"):
    _base = _name[:-1]
    _inplace_entry = add_entry(
        "nn.functional." + _name,
        (lambda n: lambda m, x, **k: getattr(F(m), n)(x * 1, *k.values()))(_name),
        float_unary(kwargs=kwargs_of(**dict(_ACTIVATIONS[[a[0] for a in _ACTIVATIONS].index(
            _base)][1]))),
        errors=(("in-place on a leaf", (lambda n: lambda m: getattr(F(m), n)(
            m.ones(2, requires_grad=True), *((0.0, 1.0) if n == "threshold_" else ())))(
                _name)),))
    if _name in ("relu_", "celu_", "selu_", "threshold_"):
        talias(_inplace_entry, _name,
               (lambda n: lambda m, x, **k: getattr(m, n)(x * 1, *k.values()))(_name))
add_entry("tensor_relu_", lambda m, x: (x * 1).relu_(), float_unary(), covers=())


def _rrelu(m, x, lower, upper, inplace=False):
    return F(m).rrelu(x * 1 if inplace else x, lower, upper, False, inplace)


_rrelu_kw = kwargs_of(lower=st.sampled_from((0.125, 0.0)), upper=st.sampled_from((1 / 3, 0.5)))
_e = add_entry("nn.functional.rrelu", _rrelu, float_unary(kwargs=_rrelu_kw), errors=(
    not_tensor("rrelu"), int_input("rrelu"),
))
talias(_e, "rrelu")
_e = add_entry("nn.functional.rrelu_", lambda m, x, lower, upper: F(m).rrelu_(x * 1, lower, upper),
               float_unary(kwargs=_rrelu_kw), errors=(
                   ("in-place on a leaf", lambda m: F(m).rrelu_(m.ones(2, requires_grad=True))),))
talias(_e, "rrelu_", lambda m, x, lower, upper: m.rrelu_(x * 1, lower, upper))


def _glu_kwargs(shape):
    even = [d for d, s in enumerate(shape) if s % 2 == 0]
    if not even:
        return st.just({"dim": 0})
    return st.sampled_from(even).flatmap(
        lambda d: st.sampled_from((d, d - len(shape))).map(lambda v: {"dim": v}))


add_entry("nn.functional.glu", ffn("glu"), float_unary(min_dims=1, kwargs=_glu_kwargs), errors=(
    ("odd size", lambda m: F(m).glu(m.ones(2, 3))),
    ("0-dim input", lambda m: F(m).glu(m.tensor(1.0))),
    ("dim out of range", lambda m: F(m).glu(m.ones(2, 4), 2)),
))


def _prelu_samples(grad):
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        shape = draw(shapes(0, 4, 0, 3))
        x = draw(arrays(dtype, shape))
        per_channel = len(shape) >= 2 and draw(st.booleans())
        wshape = (shape[1],) if per_channel else draw(st.sampled_from(((1,), ())))
        w = draw(arrays(dtype, wshape))
        return Sample((x, w), {}, (draw(st.booleans()), False))

    return sample()


_e = add_entry("nn.functional.prelu", ffn("prelu"), _prelu_samples, errors=(
    ("weight size mismatch", lambda m: F(m).prelu(m.ones(2, 3), m.ones(2))),
    ("2-D weight", lambda m: F(m).prelu(m.ones(2, 3), m.ones(3, 1))),
    ("0-dim input, many weights", lambda m: F(m).prelu(m.tensor(1.0), m.ones(2))),
    ("1-D input, many weights", lambda m: F(m).prelu(m.ones(3), m.ones(3))),
))
talias(_e, "prelu")


# ----- softmax family -------------------------------------------------------------------------
def _dim_kw(shape):
    n = max(len(shape), 1)
    return st.fixed_dictionaries({"dim": st.integers(-n, n - 1)})


def _dim_dtype_kw(shape):
    return _dim_kw(shape).flatmap(lambda d: st.sampled_from((None, "float64")).map(
        lambda t: {**d, "dtype": t}))


def _softmax_call(name, top=False):
    def run(m, x, dim, dtype=None):
        dt = getattr(m, dtype) if dtype else None
        if top:
            return getattr(m, name)(x, dim, dtype=dt)
        return getattr(F(m), name)(x, dim=dim, dtype=dt)

    return run


for _name in ("softmax", "log_softmax", "softmin"):
    _e = add_entry("nn.functional." + _name, _softmax_call(_name),
                   float_unary(kwargs=_dim_dtype_kw), errors=(
                       ("dim out of range", lambda m, n=_name: getattr(F(m), n)(m.ones(2, 3), 2)),
                       ("int input", lambda m, n=_name: getattr(F(m), n)(T(m, [1, 2]), 0)),
                   ))
    add_entry(_name + "_large", (lambda n: lambda m, x, dim: getattr(F(m), n)(x * 1e4, dim))(
        _name), float_unary(kwargs=_dim_kw), covers=())
    add_entry(_name + "_implicit_dim", (lambda n: lambda m, x: getattr(F(m), n)(x))(_name),
              float_unary(), covers=())
    if _name != "softmin":
        _t = add_entry(_name, _softmax_call(_name, top=True), float_unary(kwargs=_dim_dtype_kw),
                       errors=(("dim out of range",
                                lambda m, n=_name: getattr(m, n)(m.ones(2, 3), -3)),))
        add_entry(_name + "_method",
                  (lambda n: lambda m, x, dim: getattr(x, n)(dim))(_name),
                  float_unary(kwargs=_dim_kw), covers=())


def _normalize_kw(shape):
    n = max(len(shape), 1)
    return st.fixed_dictionaries({"p": st.sampled_from((2.0, 1.0, 3.0)),
                                  "dim": st.integers(-n, n - 1)})


add_entry("nn.functional.normalize", ffn("normalize"), float_unary(
    min_dims=1, kwargs=_normalize_kw), errors=(
    ("dim out of range", lambda m: F(m).normalize(m.tensor(1.0))),
), atol=1e-4)


# ----- dropout --------------------------------------------------------------------------------
_P = st.sampled_from((0.0, 0.3, 1.0, 0.5, 0.9))
_SEEDS = st.integers(0, 2**31 - 1)


def _dropout_samples(min_dims=0, max_dims=3, max_side=6):
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(FLOAT_DTYPES))
            shape = draw(shapes(min_dims, max_dims, 0, max_side))
            x = draw(arrays(dtype, shape))
            kw = {"p": draw(_P), "training": draw(st.sampled_from((True, True, False))),
                  "seed": draw(_SEEDS)}
            return Sample((x,), kw, (draw(st.booleans()),))

        return sample()

    return make


def _seeded(call):
    def run(m, x, p, training, seed, **kw):
        m.manual_seed(seed)
        return call(m, x, p, training, **kw)

    return run


for _name, _dims in (("dropout", (0, 3)), ("alpha_dropout", (0, 3)),
                     ("feature_alpha_dropout", (2, 4)), ("dropout1d", (2, 3)),
                     ("dropout2d", (3, 4)), ("dropout3d", (4, 5))):
    add_entry("nn.functional." + _name,
              _seeded((lambda n: lambda m, x, p, training: getattr(F(m), n)(x, p, training))(
                  _name)),
              _dropout_samples(*_dims, max_side=6 if _dims[1] <= 3 else 3), errors=(
                  ("p out of range", lambda m, n=_name: getattr(F(m), n)(m.ones(2, 3, 4), 1.5)),
                  ("negative p", lambda m, n=_name: getattr(F(m), n)(m.ones(2, 3, 4), -0.1)),
              ) + (("wrong rank", lambda m: F(m).dropout1d(m.ones(2, 3, 4, 5))),) * (
                  _name == "dropout1d"))
    add_entry(_name + "_inplace",
              _seeded((lambda n: lambda m, x, p, training: getattr(F(m), n)(
                  x * 1, p, training, inplace=True))(_name)),
              _dropout_samples(_dims[1] if _name in ("dropout1d", "dropout3d") else _dims[0],
                               _dims[1], max_side=3), covers=())
for _name in ("dropout", "alpha_dropout", "feature_alpha_dropout", "feature_dropout"):
    add_entry(_name, _seeded((lambda n: lambda m, x, p, training: getattr(m, n)(x, p, training))(
        _name)), _dropout_samples(2 if "feature" in _name else 0, 3), errors=(
        ("non-tensor input", lambda m, n=_name: getattr(m, n)(1.0, 0.5, True)),
    ))
add_entry("dropout_int_eval", lambda m, x: F(m).dropout(x, 0.5, False), unary(dtypes=(I64,)),
          covers=(), differentiable=False, errors=(
              ("int input in training", lambda m: F(m).dropout(T(m, [1, 2]), 0.5)),))


# ----- one_hot, embedding ---------------------------------------------------------------------
def _one_hot_samples(grad):
    @st.composite
    def sample(draw):
        shape = draw(shapes(0, 3, 0, 4))
        x = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 4)))
        num = draw(st.sampled_from((-1, 5, 7))) if x.size else draw(st.sampled_from((0, 3)))
        return Sample((x,), {"num_classes": num})

    return sample()


add_entry("nn.functional.one_hot", ffn("one_hot"), _one_hot_samples, differentiable=False,
          errors=(
              ("float input", lambda m: F(m).one_hot(m.ones(2))),
              ("negative class", lambda m: F(m).one_hot(T(m, [-1, 2]))),
              ("class too large", lambda m: F(m).one_hot(T(m, [1, 2]), 2)),
              ("empty, classes unknown", lambda m: F(m).one_hot(T(m, [], dtype=m.long))),
          ))


def _embedding_samples(grad):
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        n = draw(st.integers(1, 5))
        dim = draw(st.integers(0, 3))
        w = draw(arrays(dtype, (n, dim)))
        idx = draw(hnp.arrays(draw(st.sampled_from((np.int64, np.int32))),
                              draw(shapes(0, 3, 0, 4)), elements=st.integers(0, n - 1)))
        pad = draw(st.sampled_from((None, 0, -1, n - 1)))
        max_norm = draw(st.sampled_from((None, None, 1.0)))
        return Sample((idx, w), {"padding_idx": pad, "max_norm": max_norm},
                      (False, draw(st.booleans())))

    return sample()


def _embedding(m, idx, w, padding_idx, max_norm):
    if max_norm is not None:  # the renormalization writes into the weight: use a copy
        w = w.detach().clone().requires_grad_(w.requires_grad)
    return F(m).embedding(idx, w, padding_idx, max_norm)


add_entry("nn.functional.embedding", _embedding, _embedding_samples, errors=(
    ("index out of range", lambda m: F(m).embedding(T(m, [5]), m.ones(3, 2))),
    ("float indices", lambda m: F(m).embedding(T(m, [0.0]), m.ones(3, 2))),
    ("padding_idx out of range", lambda m: F(m).embedding(T(m, [0]), m.ones(3, 2),
                                                          padding_idx=3)),
    ("1-D weight", lambda m: F(m).embedding(T(m, [0]), m.ones(3))),
))

PUBLIC_OPS_ACTIVATION = tuple(
    "nn.functional." + n for n in (
        "alpha_dropout celu celu_ dropout dropout1d dropout2d dropout3d elu elu_ embedding "
        "feature_alpha_dropout gelu glu hardshrink hardsigmoid hardswish hardtanh hardtanh_ "
        "leaky_relu leaky_relu_ log_softmax logsigmoid mish normalize one_hot prelu relu relu6 "
        "relu_ rrelu rrelu_ selu selu_ sigmoid silu softmax softmin softplus softshrink softsign "
        "tanh tanhshrink threshold threshold_").split()
) + tuple(
    "alpha_dropout celu celu_ dropout feature_alpha_dropout feature_dropout hardshrink "
    "log_softmax prelu relu_ rrelu rrelu_ selu selu_ softmax threshold threshold_".split())

# This family's public op names (see op_db.PUBLIC_OPS).
PUBLIC_OPS: tuple[str, ...] = PUBLIC_OPS_ACTIVATION


# ----- losses ---------------------------------------------------------------------------------
_RED = st.sampled_from(("mean", "sum", "none"))
_PROB = st.one_of(st.sampled_from((0.0, 1.0, 0.5)), st.floats(0.015625, 0.984375, width=32))
_OPEN_PROB = st.one_of(st.sampled_from((0.5, 0.25)), st.floats(0.03125, 0.96875, width=32))
_POSITIVE = st.one_of(st.sampled_from((0.5, 1.0, 2.0)), st.floats(0.125, 4.0, width=32))
_SIGN = st.sampled_from((1.0, -1.0))
_REAL = "real"


def _elems(kind):
    return {"prob": _PROB, "open_prob": _OPEN_PROB, "positive": _POSITIVE, "sign": _SIGN}.get(
        kind)


def _arr(draw, dtype, shape, kind=_REAL):
    elements = _elems(kind)
    if elements is None:
        return draw(arrays(dtype, shape))
    return draw(hnp.arrays(np.dtype(dtype), shape, elements=elements))


def _loss_samples(kinds=(_REAL, _REAL), broadcast=False, extra=None, min_dims=0, max_dims=3,
                  reductions=_RED, count=2):
    """``count`` float tensors (same shape, or broadcastable), a reduction, ``extra`` kwargs."""
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(FLOAT_DTYPES))
            if broadcast:
                shapes_ = draw(hnp.mutually_broadcastable_shapes(
                    num_shapes=2, min_dims=min_dims, max_dims=max_dims, max_side=3)).input_shapes
            else:
                shapes_ = (draw(shapes(min_dims, max_dims, 0, 4)),) * count
            arrays_ = tuple(_arr(draw, dtype if i == 0 else draw(st.sampled_from(
                (dtype, dtype, F32, F64))), s, kinds[i % len(kinds)])
                for i, s in enumerate(shapes_))
            kw = {"reduction": draw(reductions)}
            if extra is not None:
                kw.update(draw(extra))
            return Sample(arrays_, kw, tuple(draw(st.booleans()) for _ in arrays_))

        return sample()

    return make


def bad_reduction(name, *args):
    return ("invalid reduction", lambda m: getattr(F(m), name)(
        *(m.ones(2, 3) for _ in range(2)), *args, reduction="average"))


def loss_shape_mismatch(name):
    return ("shape mismatch", lambda m: getattr(F(m), name)(m.ones(2, 3), m.ones(4)))


for _name, _extra in (
    ("mse_loss", None),
    ("l1_loss", None),
    ("smooth_l1_loss", st.fixed_dictionaries({"beta": st.sampled_from((1.0, 0.5, 0.0, 2.0))})),
    ("huber_loss", st.fixed_dictionaries({"delta": st.sampled_from((1.0, 0.5, 2.0))})),
):
    add_entry("nn.functional." + _name, ffn(_name), _loss_samples(broadcast=True, extra=_extra),
              errors=(bad_reduction(_name), loss_shape_mismatch(_name)) + (
                  (("negative beta", lambda m: F(m).smooth_l1_loss(m.ones(2), m.ones(2),
                                                                   beta=-1.0)),)
                  if _name == "smooth_l1_loss" else ()) + (
                  (("non-positive delta", lambda m: F(m).huber_loss(m.ones(2), m.ones(2),
                                                                    delta=0.0)),)
                  if _name == "huber_loss" else ()))
    if _name != "smooth_l1_loss":
        add_entry(_name + "_weight", (lambda n: lambda m, x, t, w, reduction: getattr(F(m), n)(
            x, t, reduction=reduction, weight=w))(_name),
            _loss_samples(kinds=(_REAL, _REAL, "positive"), count=3), covers=(), errors=(
                ("weight shape", (lambda n: lambda m: getattr(F(m), n)(
                    m.ones(2, 3), m.ones(2, 3), weight=m.ones(3)))(_name)),
            ))

add_entry("nn.functional.soft_margin_loss",
          lambda m, x, t, reduction: F(m).soft_margin_loss(x, t.detach(), reduction=reduction),
          _loss_samples(kinds=(_REAL, "sign")), errors=(
              bad_reduction("soft_margin_loss"), loss_shape_mismatch("soft_margin_loss"),
              ("target requires grad", lambda m: F(m).soft_margin_loss(
                  m.ones(2), m.ones(2, requires_grad=True))),
          ))


def _detached(v):
    return None if v is None else v.detach()


def _bce(m, x, t, w=None, reduction="mean"):
    return F(m).binary_cross_entropy(x, t, _detached(w), reduction=reduction)


add_entry("nn.functional.binary_cross_entropy", _bce,
          _loss_samples(kinds=("open_prob", "prob"), min_dims=0), errors=(
              bad_reduction("binary_cross_entropy"),
              ("size mismatch", lambda m: F(m).binary_cross_entropy(m.ones(2, 3) / 2,
                                                                     m.ones(3))),
              ("input out of [0, 1]", lambda m: F(m).binary_cross_entropy(m.ones(2) * 2,
                                                                           m.ones(2))),
              ("weight requires grad", lambda m: F(m).binary_cross_entropy(
                  m.ones(2) / 2, m.ones(2), m.ones(2, requires_grad=True))),
          ), atol=1e-4)
add_entry("binary_cross_entropy_weight", _bce,
          _loss_samples(kinds=("open_prob", "prob", "positive"), count=3), covers=(),
          atol=1e-4)


def _bce_logits(m, x, t, w=None, pw=None, reduction="mean"):
    return F(m).binary_cross_entropy_with_logits(x, t, _detached(w), reduction=reduction,
                                                 pos_weight=_detached(pw))


def _bce_logits_samples(grad):
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        shape = draw(shapes(1, 3, 0, 4))
        x = draw(arrays(dtype, shape))
        t = _arr(draw, dtype, shape, "prob")
        w = _arr(draw, dtype, shape[-1:], "positive")
        pw = _arr(draw, dtype, shape[-1:], "positive")
        kind = draw(st.sampled_from(("none", "w", "pw", "both")))
        kw = {"reduction": draw(_RED)}
        arrays_ = (x, t) + {"none": (), "w": (w,), "pw": (), "both": (w,)}[kind]
        if kind in ("pw", "both"):
            kw["pos_weight_array"] = pw
        return Sample(arrays_, kw, tuple(draw(st.booleans()) for _ in arrays_))

    return sample()


def _bce_logits_call(m, x, t, w=None, reduction="mean", pos_weight_array=None):
    pw = m.tensor(pos_weight_array) if pos_weight_array is not None else None
    return _bce_logits(m, x * 4, t, w, pw, reduction)


add_entry("nn.functional.binary_cross_entropy_with_logits", _bce_logits_call,
          _bce_logits_samples, errors=(
              bad_reduction("binary_cross_entropy_with_logits"),
              ("size mismatch", lambda m: F(m).binary_cross_entropy_with_logits(
                  m.ones(2, 3), m.ones(3))),
          ), atol=1e-4)


def _class_samples(probs: bool):
    """(N, C, d...) logits (or (C,)), class-index or probability targets, weight, options."""
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(FLOAT_DTYPES))
            rank = draw(st.sampled_from((1, 2, 2, 3, 4, 5)))
            c = draw(st.integers(1, 4))
            n = draw(st.integers(0 if rank > 1 else 1, 3))
            extra = tuple(draw(st.integers(1, 2)) for _ in range(max(rank - 2, 0)))
            shape = (c,) if rank == 1 else (n, c) + extra
            x = draw(arrays(dtype, shape))
            kw = {"reduction": draw(_RED)}
            if probs:
                t = _arr(draw, dtype, shape, "prob")
            else:
                tshape = () if rank == 1 else (n,) + extra
                t = draw(hnp.arrays(np.int64, tshape, elements=st.integers(0, c - 1)))
                kw["ignore_index"] = draw(st.sampled_from((-100, 0, c - 1)))
            arrays_ = (x, t)
            if draw(st.booleans()):
                arrays_ += (_arr(draw, dtype, (c,), "positive"),)
            return Sample(arrays_, kw, (draw(st.booleans()), False, False))

        return sample()

    return make


def _nll(m, x, t, w=None, **kw):
    return F(m).nll_loss(x, t, _detached(w), **kw)


add_entry("nn.functional.nll_loss", _nll, _class_samples(False), errors=(
    bad_reduction("nll_loss"),
    ("batch size mismatch", lambda m: F(m).nll_loss(m.ones(4, 3), T(m, [0, 1]))),
    ("class out of range", lambda m: F(m).nll_loss(m.ones(2, 3), T(m, [0, 3]))),
    ("float target", lambda m: F(m).nll_loss(m.ones(2, 3), m.ones(2))),
    ("0-dim input", lambda m: F(m).nll_loss(m.tensor(1.0), T(m, 0))),
    ("2-D target for 2-D input", lambda m: F(m).nll_loss(m.ones(2, 3), T(m, [[0], [1]]))),
    ("weight size", lambda m: F(m).nll_loss(m.ones(2, 3), T(m, [0, 1]), m.ones(2))),
    ("spatial target size", lambda m: F(m).nll_loss(m.ones(2, 3, 4), T(m, [[0, 1], [1, 0]]))),
), atol=1e-4)


def _cross_entropy(m, x, t, w=None, label_smoothing=0.0, **kw):
    return F(m).cross_entropy(x, t, _detached(w), label_smoothing=label_smoothing, **kw)


_SMOOTH = st.fixed_dictionaries({"label_smoothing": st.sampled_from((0.0, 0.1, 0.5))})
add_entry("nn.functional.cross_entropy", _cross_entropy, lambda grad: st.tuples(
    _class_samples(False)(grad), _SMOOTH).map(
    lambda p: Sample(p[0].arrays, {**p[0].kwargs, **p[1]}, p[0].noncontig)), errors=(
    bad_reduction("cross_entropy"),
    ("batch size mismatch", lambda m: F(m).cross_entropy(m.ones(4, 3), T(m, [0, 1]))),
    ("class out of range", lambda m: F(m).cross_entropy(m.ones(2, 3), T(m, [0, 3]))),
    ("float target of another shape", lambda m: F(m).cross_entropy(m.ones(2, 3), m.ones(2))),
    ("int probabilities", lambda m: F(m).cross_entropy(m.ones(2, 3), T(m, [[0, 1, 0]] * 2))),
    ("label_smoothing > 1", lambda m: F(m).cross_entropy(m.ones(2, 3), T(m, [0, 1]),
                                                         label_smoothing=1.5)),
    ("ignore_index with probabilities", lambda m: F(m).cross_entropy(
        m.ones(2, 3), m.ones(2, 3), ignore_index=1)),
    ("0-dim input", lambda m: F(m).cross_entropy(m.tensor(1.0), T(m, 0))),
), atol=1e-4)
add_entry("cross_entropy_probs", _cross_entropy, lambda grad: st.tuples(
    _class_samples(True)(grad), _SMOOTH).map(
    lambda p: Sample(p[0].arrays, {**p[0].kwargs, **p[1]}, p[0].noncontig)), covers=(),
    atol=1e-4)


def _kl_samples(grad):
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        shape = draw(shapes(0, 3, 0, 4))
        log_target = draw(st.booleans())
        x = draw(arrays(dtype, shape))
        t = draw(arrays(dtype, shape)) if log_target else _arr(draw, dtype, shape, "prob")
        kw = {"reduction": draw(st.sampled_from(("mean", "sum", "none", "batchmean"))),
              "log_target": log_target}
        return Sample((x, t), kw, (draw(st.booleans()), draw(st.booleans())))

    return sample()


add_entry("nn.functional.kl_div", ffn("kl_div"), _kl_samples, errors=(
    bad_reduction("kl_div"), loss_shape_mismatch("kl_div"),
), atol=1e-4)


def _poisson_samples(grad):
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        shape = draw(shapes(0, 3, 0, 4))
        log_input = draw(st.booleans())
        x = draw(arrays(dtype, shape)) if log_input else _arr(draw, dtype, shape, "positive")
        t = _arr(draw, dtype, shape, "positive")
        kw = {"log_input": log_input, "full": draw(st.booleans()), "reduction": draw(_RED)}
        return Sample((x, t), kw, (draw(st.booleans()), draw(st.booleans())))

    return sample()


add_entry("nn.functional.poisson_nll_loss", ffn("poisson_nll_loss"), _poisson_samples, errors=(
    bad_reduction("poisson_nll_loss"), loss_shape_mismatch("poisson_nll_loss"),
), atol=1e-4)


def _gaussian_samples(grad):
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        shape = draw(shapes(1, 3, 1, 4))
        x, t = draw(arrays(dtype, shape)), draw(arrays(dtype, shape))
        vshape = draw(st.sampled_from((shape, shape[:-1], shape[:-1] + (1,))))
        var = _arr(draw, dtype, vshape, "positive")
        kw = {"full": draw(st.booleans()), "reduction": draw(_RED)}
        return Sample((x, t, var), kw, tuple(draw(st.booleans()) for _ in range(3)))

    return sample()


add_entry("nn.functional.gaussian_nll_loss", ffn("gaussian_nll_loss"), _gaussian_samples,
          errors=(
              ("invalid reduction", lambda m: F(m).gaussian_nll_loss(
                  m.ones(2), m.ones(2), m.ones(2), reduction="average")),
              ("negative var", lambda m: F(m).gaussian_nll_loss(m.ones(2), m.ones(2),
                                                                -m.ones(2))),
              ("var of wrong size", lambda m: F(m).gaussian_nll_loss(m.ones(2, 3), m.ones(2, 3),
                                                                     m.ones(3, 2))),
          ), atol=1e-4)


def _pairwise_samples(count, target=None, rank=(1, 2), tdim=False):
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(FLOAT_DTYPES))
            r = draw(st.sampled_from(rank))
            n, d = draw(st.integers(0, 3)), draw(st.integers(1, 4))
            shape = (d,) if r == 1 else (n, d)
            arrays_ = tuple(draw(arrays(dtype, shape)) for _ in range(count))
            if target is not None:
                tshape = shape[:-1] if tdim else shape
                arrays_ += (_arr(draw, dtype, tshape, target),)
            kw = {"reduction": draw(_RED)}
            return Sample(arrays_, kw, tuple(draw(st.booleans()) for _ in arrays_))

        return sample()

    return make


add_entry("nn.functional.cosine_embedding_loss",
          lambda m, a, b, t, reduction, margin=0.0: F(m).cosine_embedding_loss(
              a, b, t, margin, reduction=reduction),
          _pairwise_samples(2, "sign", tdim=True), errors=(
              ("invalid reduction", lambda m: F(m).cosine_embedding_loss(
                  m.ones(2, 3), m.ones(2, 3), m.ones(2), reduction="average")),
              ("2-D target", lambda m: F(m).cosine_embedding_loss(
                  m.ones(2, 3), m.ones(2, 3), m.ones(2, 3))),
              ("1-D target, 3-D inputs", lambda m: F(m).cosine_embedding_loss(
                  m.ones(2, 3, 1), m.ones(2, 3, 1), m.ones(2))),
          ), atol=1e-4)
add_entry("nn.functional.margin_ranking_loss",
          lambda m, a, b, t, reduction: F(m).margin_ranking_loss(a, b, t, 0.5,
                                                                 reduction=reduction),
          _pairwise_samples(2, "sign", rank=(1,)), errors=(
              ("invalid reduction", lambda m: F(m).margin_ranking_loss(
                  m.ones(2), m.ones(2), m.ones(2), reduction="average")),
              ("rank mismatch", lambda m: F(m).margin_ranking_loss(
                  m.ones(2, 1), m.ones(2), m.ones(2))),
          ))
add_entry("nn.functional.hinge_embedding_loss",
          lambda m, x, t, reduction: F(m).hinge_embedding_loss(x, t, 0.5, reduction=reduction),
          _loss_samples(kinds=(_REAL, "sign")), errors=(
              bad_reduction("hinge_embedding_loss"), loss_shape_mismatch("hinge_embedding_loss"),
          ))
add_entry("nn.functional.multilabel_soft_margin_loss",
          lambda m, x, t, reduction: F(m).multilabel_soft_margin_loss(x, t, reduction=reduction),
          _loss_samples(kinds=(_REAL, "prob"), min_dims=1, max_dims=2), errors=(
              bad_reduction("multilabel_soft_margin_loss"),
              loss_shape_mismatch("multilabel_soft_margin_loss"),
          ), atol=1e-4)
add_entry("nn.functional.triplet_margin_loss",
          lambda m, a, p, n, reduction, swap=False: F(m).triplet_margin_loss(
              a, p, n, swap=swap, reduction=reduction),
          lambda grad: st.tuples(_pairwise_samples(3)(grad), st.booleans()).map(
              lambda s: Sample(s[0].arrays, {**s[0].kwargs, "swap": s[1]}, s[0].noncontig)),
          errors=(
              ("invalid reduction", lambda m: F(m).triplet_margin_loss(
                  m.ones(2, 3), m.ones(2, 3), m.ones(2, 3), reduction="average")),
              ("non-positive margin", lambda m: F(m).triplet_margin_loss(
                  m.ones(2, 3), m.ones(2, 3), m.ones(2, 3), margin=0.0)),
              ("rank mismatch", lambda m: F(m).triplet_margin_loss(
                  m.ones(2, 3), m.ones(3), m.ones(2, 3))),
          ), atol=1e-4)


def _multi_margin_samples(grad):
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        c = draw(st.integers(1, 4))
        batched = draw(st.booleans())
        n = draw(st.integers(1, 3))
        x = draw(arrays(dtype, (n, c) if batched else (c,)))
        t = draw(hnp.arrays(np.int64, (n,) if batched else (), elements=st.integers(0, c - 1)))
        arrays_ = (x, t)
        if draw(st.booleans()):
            arrays_ += (_arr(draw, dtype, (c,), "positive"),)
        kw = {"p": draw(st.sampled_from((1, 2))), "margin": draw(st.sampled_from((1.0, 0.5))),
              "reduction": draw(_RED)}
        return Sample(arrays_, kw, (draw(st.booleans()), False, False))

    return sample()


add_entry("nn.functional.multi_margin_loss",
          lambda m, x, t, w=None, **kw: F(m).multi_margin_loss(x, t, weight=_detached(w), **kw),
          _multi_margin_samples, second_order=False, errors=(
              ("p = 3", lambda m: F(m).multi_margin_loss(m.ones(2, 3), T(m, [0, 1]), p=3)),
              ("target out of range", lambda m: F(m).multi_margin_loss(m.ones(2, 3),
                                                                       T(m, [0, 3]))),
              ("target size", lambda m: F(m).multi_margin_loss(m.ones(2, 3), T(m, [0, 1, 2]))),
              ("2-D weight", lambda m: F(m).multi_margin_loss(m.ones(2, 3), T(m, [0, 1]),
                                                              weight=m.ones(1, 3))),
          ))



def _multilabel_margin_samples(grad):
    """(C), (N, C) or 0-dim inputs; target rows of class indices, -1 ending each row's list
    (anything after it is ignored); an empty batch only unreduced (torch leaves the reduced
    value of an empty batch uninitialised)."""
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        rank = draw(st.sampled_from((0, 1, 2, 2)))
        reduction = draw(_RED)
        c = draw(st.integers(1, 4)) if rank else 1
        n = draw(st.integers(0 if reduction == "none" else 1, 3))
        shape = {0: (), 1: (c,), 2: (n, c)}[rank]
        x = draw(arrays(dtype, shape))
        t = draw(hnp.arrays(np.int64, shape if rank else draw(st.sampled_from(((), (1,)))),
                            elements=st.integers(-1, c - 1)))
        return Sample((x, t), {"reduction": reduction}, (draw(st.booleans()), False))

    return sample()


add_entry("nn.functional.multilabel_margin_loss",
          lambda m, x, t, reduction: F(m).multilabel_margin_loss(x, t, reduction=reduction),
          _multilabel_margin_samples, errors=(
              bad_reduction("multilabel_margin_loss"),
              ("3-D input", lambda m: F(m).multilabel_margin_loss(
                  m.ones(2, 3, 1), m.zeros(2, 3, 1, dtype=m.long))),
              ("no classes", lambda m: F(m).multilabel_margin_loss(
                  m.ones(2, 0), m.zeros(2, 0, dtype=m.long))),
              ("target shape", lambda m: F(m).multilabel_margin_loss(
                  m.ones(2, 3), m.zeros(2, 2, dtype=m.long))),
              ("1-D input, 2-D target", lambda m: F(m).multilabel_margin_loss(
                  m.ones(3), m.zeros(1, 3, dtype=m.long))),
              ("target above range", lambda m: F(m).multilabel_margin_loss(
                  m.ones(2, 3), T(m, [[0, 3, -1], [0, 1, 2]]))),
              ("target below -1", lambda m: F(m).multilabel_margin_loss(
                  m.ones(2, 3), T(m, [[0, -2, -1], [0, 1, 2]]))),
              ("int32 target", lambda m: F(m).multilabel_margin_loss(
                  m.ones(2, 3), T(m, [[0, -1, 2], [0, 1, 2]], dtype=m.int32))),
              ("float target", lambda m: F(m).multilabel_margin_loss(
                  m.ones(2, 3), T(m, [[0.0, -1.0, 2.0], [0.0, 1.0, 2.0]]))),
              ("integer input", lambda m: F(m).multilabel_margin_loss(
                  m.ones(2, 3, dtype=m.long), T(m, [[0, -1, 2], [0, 1, 2]]))),
              ("list input", lambda m: F(m).multilabel_margin_loss(
                  [1.0, 2.0], T(m, [0, 1]))),
          ))


def _distance_fn(m, name):
    """The distance functions the samples pick by name (None: the default)."""
    if name == "l1":
        return lambda a, b: (a - b).abs().sum(-1)
    if name == "cosine":
        return lambda a, b: 1.0 - F(m).cosine_similarity(a, b, dim=-1)
    if name == "pairwise":
        return F(m).pairwise_distance
    return None


add_entry("nn.functional.triplet_margin_with_distance_loss",
          lambda m, a, p, n, reduction, swap=False, distance=None, margin=1.0:
              F(m).triplet_margin_with_distance_loss(
                  a, p, n, distance_function=_distance_fn(m, distance), margin=margin,
                  swap=swap, reduction=reduction),
          lambda grad: st.tuples(
              _pairwise_samples(3)(grad), st.booleans(),
              st.sampled_from((None, "l1", "cosine", "pairwise")),
              st.sampled_from((1.0, 0.5, 2.0))).map(
              lambda s: Sample(s[0].arrays, {**s[0].kwargs, "swap": s[1], "distance": s[2],
                                             "margin": s[3]}, s[0].noncontig)),
          errors=(
              ("invalid reduction", lambda m: F(m).triplet_margin_with_distance_loss(
                  m.ones(2, 3), m.ones(2, 3), m.ones(2, 3), reduction="average")),
              ("non-positive margin", lambda m: F(m).triplet_margin_with_distance_loss(
                  m.ones(2, 3), m.ones(2, 3), m.ones(2, 3), margin=-1.0)),
              ("rank mismatch", lambda m: F(m).triplet_margin_with_distance_loss(
                  m.ones(2, 3), m.ones(3), m.ones(2, 3))),
              ("positional distance function", lambda m: F(m).triplet_margin_with_distance_loss(
                  m.ones(2, 3), m.ones(2, 3), m.ones(2, 3), F(m).pairwise_distance)),
          ), atol=1e-4)


def _ctc_samples(grad):
    """log_probs (T, N, C) or unbatched (T, C) (raw values: the kernel does not need them
    normalised), targets padded (N, S) or concatenated, lengths as tensors or lists; some input
    lengths too short for their targets (an infinite loss, zero_infinity's case) or 0."""
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        batched = draw(st.booleans())
        steps, c = draw(st.integers(1, 5)), draw(st.integers(2, 4))
        n = draw(st.integers(1, 3)) if batched else 1
        blank = draw(st.integers(0, c - 1))
        labels = st.integers(0, c - 2).map(lambda v: v + (v >= blank))  # not the blank
        if draw(st.integers(0, 4)) == 0:
            labels = st.integers(0, c - 1)  # torch does not forbid it
        target_lengths = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
        input_lengths = draw(st.lists(st.integers(0, steps), min_size=n, max_size=n))
        lp = draw(arrays(dtype, (steps, n, c) if batched else (steps, c)))
        padded = draw(st.booleans()) if batched else draw(st.sampled_from((True, False)))
        if padded:
            width = max(target_lengths) + draw(st.integers(0, 1))
            tg = draw(hnp.arrays(np.int64, (n, width), elements=labels))
            if not batched and draw(st.booleans()):
                tg = tg[0]  # unbatched: a 1-D target holds the one sequence
        else:
            tg = draw(hnp.arrays(np.int64, (sum(target_lengths),), elements=labels))
        kw = {"blank": blank, "reduction": draw(_RED), "zero_infinity": draw(st.booleans()),
              "lists": draw(st.booleans())}
        il, tl = np.array(input_lengths, np.int64), np.array(target_lengths, np.int64)
        if not batched and draw(st.booleans()):
            il, tl = il.reshape(()), tl.reshape(())
        return Sample((lp, tg, il, tl), kw, (draw(st.booleans()), False, False, False))

    return sample()


def _ctc(m, lp, tg, il, tl, lists=False, **kw):
    if lists:
        il, tl = il.reshape(-1).tolist(), tuple(tl.reshape(-1).tolist())
    return F(m).ctc_loss(lp, tg, il, tl, **kw)


def _ctc_misuse(lp_shape=(5, 2, 4), tg=((1, 2), (3, 3)), il=(5, 4), tl=(2, 2), **kw):
    def case(m):
        lp = m.randn(*lp_shape) if isinstance(lp_shape, tuple) else lp_shape(m)
        targets = tg(m) if callable(tg) else T(m, tg)
        return F(m).ctc_loss(lp, targets, il(m) if callable(il) else list(il),
                             tl(m) if callable(tl) else list(tl), **kw)

    return case


add_entry("nn.functional.ctc_loss", _ctc, _ctc_samples, errors=(
    ("invalid reduction", _ctc_misuse(reduction="average")),
    ("2-D log_probs of a batch", _ctc_misuse(lp_shape=(5,))),
    ("4-D log_probs", _ctc_misuse(lp_shape=(1, 5, 2, 4))),
    ("0-dim log_probs", _ctc_misuse(lp_shape=lambda m: m.tensor(1.0))),
    ("3-D targets", _ctc_misuse(tg=(((1, 2), (3, 3)),))),
    ("0-dim targets", _ctc_misuse(tg=1)),
    ("too many input lengths", _ctc_misuse(il=(5, 4, 1))),
    ("too few target lengths", _ctc_misuse(tl=(2,))),
    ("input length above T", _ctc_misuse(il=(6, 4))),
    ("negative input length", _ctc_misuse(il=(-1, 4))),
    ("target length above the padded width", _ctc_misuse(tl=(3, 2))),
    ("negative target length", _ctc_misuse(tl=(-1, 2))),
    ("blank = C", _ctc_misuse(blank=4)),
    ("negative blank", _ctc_misuse(blank=-1)),
    ("float length tensor", _ctc_misuse(il=lambda m: T(m, [5.0, 4.0]),
                                        tl=lambda m: T(m, [2, 2]))),
    ("float target length tensor", _ctc_misuse(il=lambda m: T(m, [5, 4]),
                                               tl=lambda m: T(m, [2.0, 2.0]))),
    ("tensor and list lengths", _ctc_misuse(il=lambda m: T(m, [5, 4]))),
    ("int lengths", _ctc_misuse(il=lambda m: 5, tl=lambda m: 2)),
    ("float in a length list", _ctc_misuse(il=(5.0, 4))),
    ("bool in a length list", _ctc_misuse(il=(True, 4))),
    ("float blank", _ctc_misuse(blank=1.5)),
    ("int zero_infinity", _ctc_misuse(zero_infinity=1)),
    ("concatenated targets too short", _ctc_misuse(tg=(1, 2, 3))),
    ("padded targets batch", _ctc_misuse(tg=((1, 2),))),
    ("integer log_probs", _ctc_misuse(lp_shape=lambda m: m.ones(5, 2, 4, dtype=m.long))),
    ("empty log_probs", _ctc_misuse(lp_shape=(0, 2, 4), il=(0, 0))),
    ("list targets", _ctc_misuse(tg=lambda m: [[1, 2], [3, 3]])),
), atol=1e-4)

# ----- normalization --------------------------------------------------------------------------
def _norm_samples(kind):
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(FLOAT_DTYPES))
            rank = draw(st.sampled_from((2, 3, 4)))
            n = draw(st.integers(1, 3))
            c = draw(st.integers(1, 4))
            if kind == "group":
                groups = draw(st.sampled_from([g for g in (1, 2, 3, 4) if c % g == 0]))
            spatial = tuple(draw(st.integers(1, 3)) for _ in range(rank - 2))
            if kind == "instance" and int(np.prod(spatial)) == 1:
                spatial = spatial[:-1] + (2,) if spatial else (2,)
            if kind == "batch" and n * int(np.prod(spatial)) == 1:
                n = 2
            shape = (n, c) + spatial
            x = draw(arrays(dtype, shape))
            kw = {}
            if kind == "layer":
                k = draw(st.integers(1, len(shape)))
                kw["normalized_shape"] = shape[len(shape) - k:]
                pshape = kw["normalized_shape"]
            else:
                pshape = (c,)
            if kind == "group":
                kw["num_groups"] = groups
            if kind == "batch":
                kw["training"] = draw(st.booleans())
                kw["momentum"] = draw(st.sampled_from((0.1, 0.5)))
                kw["running_mean"] = draw(arrays(dtype, (c,)))
                kw["running_var"] = _arr(draw, dtype, (c,), "positive")
            arrays_ = (x,)
            if draw(st.booleans()):
                arrays_ += (draw(arrays(dtype, pshape)), draw(arrays(dtype, pshape)))
            return Sample(arrays_, kw, tuple(draw(st.booleans()) for _ in arrays_))

        return sample()

    return make


def _batch_norm(m, x, w=None, b=None, training=False, momentum=0.1, running_mean=None,
                running_var=None):
    rm, rv = m.tensor(running_mean), m.tensor(running_var)
    out = F(m).batch_norm(x, rm, rv, w, b, training=training, momentum=momentum)
    return out, rm, rv


add_entry("nn.functional.batch_norm", _batch_norm, _norm_samples("batch"), errors=(
    ("one value per channel in training", lambda m: F(m).batch_norm(
        m.ones(1, 3), m.zeros(3), m.ones(3), training=True)),
    ("running_mean size", lambda m: F(m).batch_norm(m.ones(2, 3), m.zeros(2), m.ones(3))),
    ("weight size", lambda m: F(m).batch_norm(m.ones(2, 3), m.zeros(3), m.ones(3), m.ones(4))),
), atol=1e-4, rtol=1e-4)
_e = add_entry("nn.functional.layer_norm",
               lambda m, x, w=None, b=None, normalized_shape=(): F(m).layer_norm(
                   x, normalized_shape, w, b), _norm_samples("layer"), errors=(
                   ("shape mismatch", lambda m: F(m).layer_norm(m.ones(2, 3), (4,))),
                   ("weight shape", lambda m: F(m).layer_norm(m.ones(2, 3), (3,), m.ones(2))),
               ), atol=1e-4, rtol=1e-4)
talias(_e, "layer_norm", lambda m, x, w=None, b=None, normalized_shape=(): m.layer_norm(
    x, normalized_shape, w, b))
_e = add_entry("nn.functional.group_norm",
               lambda m, x, w=None, b=None, num_groups=1: F(m).group_norm(x, num_groups, w, b),
               _norm_samples("group"), errors=(
                   ("channels not divisible", lambda m: F(m).group_norm(m.ones(2, 3, 4), 2)),
                   ("1-D input", lambda m: F(m).group_norm(m.ones(3), 1)),
               ), atol=1e-3, rtol=1e-4)
add_entry("nn.functional.instance_norm",
          lambda m, x, w=None, b=None: F(m).instance_norm(x, weight=w, bias=b),
          _norm_samples("instance"), errors=(
              ("one spatial element", lambda m: F(m).instance_norm(m.ones(2, 3, 1))),
          ), atol=1e-4, rtol=1e-4)


def _instance_running(m, x):
    rm, rv = m.zeros(x.shape[1], dtype=x.dtype), m.ones(x.shape[1], dtype=x.dtype)
    return F(m).instance_norm(x, rm, rv, momentum=0.3), rm, rv


add_entry("instance_norm_running", _instance_running,
          lambda grad: _norm_samples("instance")(grad).map(
              lambda s: Sample(s.arrays[:1], {}, s.noncontig[:1])), covers=(), atol=1e-4,
          rtol=1e-4)


def _distance_samples(grad):
    @st.composite
    def sample(draw):
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        sa, sb = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=2, min_dims=1, max_dims=3, min_side=1, max_side=3)).input_shapes
        a, b = draw(arrays(dtype, sa)), draw(arrays(dtype, sb))
        ndim = max(len(sa), len(sb))
        return Sample((a, b), {"dim": draw(st.integers(-ndim, ndim - 1))},
                      (draw(st.booleans()), draw(st.booleans())))

    return sample()


_e = add_entry("nn.functional.cosine_similarity", ffn("cosine_similarity"), _distance_samples,
               errors=(
                   ("shape mismatch", lambda m: F(m).cosine_similarity(m.ones(2, 3),
                                                                       m.ones(4, 3))),
                   ("int inputs", lambda m: F(m).cosine_similarity(T(m, [1, 2]), T(m, [1, 2]),
                                                                   0)),
                   ("dim out of range", lambda m: F(m).cosine_similarity(m.ones(2, 3),
                                                                         m.ones(2, 3), 2)),
               ), atol=1e-4)
talias(_e, "cosine_similarity")


def _pd_samples(grad):
    return _distance_samples(grad).flatmap(lambda s: st.tuples(
        st.sampled_from((2.0, 1.0, 3.0, float("inf"))), st.booleans()).map(
        lambda pk: Sample(s.arrays, {"p": pk[0], "keepdim": pk[1]}, s.noncontig)))


_e = add_entry("nn.functional.pairwise_distance",
               lambda m, a, b, p=2.0, keepdim=False: F(m).pairwise_distance(a, b, p,
                                                                            keepdim=keepdim),
               _pd_samples, errors=(
                   ("shape mismatch", lambda m: F(m).pairwise_distance(m.ones(2, 3),
                                                                       m.ones(4, 3))),
               ), atol=1e-4)
talias(_e, "pairwise_distance", lambda m, a, b, p=2.0, keepdim=False: m.pairwise_distance(
    a, b, p, keepdim=keepdim))

PUBLIC_OPS = PUBLIC_OPS_ACTIVATION + tuple("nn.functional." + n for n in (
    "binary_cross_entropy binary_cross_entropy_with_logits cosine_embedding_loss cross_entropy "
    "gaussian_nll_loss hinge_embedding_loss huber_loss kl_div l1_loss margin_ranking_loss "
    "mse_loss multi_margin_loss multilabel_margin_loss multilabel_soft_margin_loss nll_loss "
    "poisson_nll_loss smooth_l1_loss soft_margin_loss triplet_margin_loss "
    "triplet_margin_with_distance_loss ctc_loss batch_norm cosine_similarity group_norm "
    "instance_norm layer_norm pairwise_distance").split()) + (
    "cosine_similarity", "layer_norm", "pairwise_distance")
