"""Op database entries for products and ``ember.linalg`` (names of the latter prefixed "linalg.").

Imported by ``op_db`` after its own entries; builds entries with ``op_db``'s helpers.

Factorizations are differentiable only away from degenerate inputs (singular matrices, tied
eigenvalues or singular values), so their wrappers build well-conditioned matrices from the
random inputs (diagonally dominant, SPD, or with well-separated spectra) with ops that carry
the gradient back to the inputs. Eigenvectors and singular vectors are defined up to sign;
their wrappers fix the sign by the diagonal, as torch's OpInfo compares gauge-invariant
functions of them.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from op_db import (
    F32,
    F64,
    FLOAT_DTYPES,
    I64,
    Sample,
    T,
    _pick_dtypes,
    add_entry,
    alias,
    arrays,
    fn,
    shapes,
)

INF = float("inf")


def _matrix_samples(make_shapes, dtypes=FLOAT_DTYPES, kwargs=None, domain="real"):
    """Tensors of the shapes ``make_shapes(draw)`` returns, one dtype for all of them;
    ``kwargs(draw, shapes)`` draws the keyword arguments."""

    def make(grad: bool):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(_pick_dtypes(dtypes, grad)))
            shapes_ = make_shapes(draw)
            arrays_ = tuple(draw(arrays(dtype, s, domain)) for s in shapes_)
            kw = kwargs(draw, shapes_) if kwargs is not None else {}
            return Sample(arrays_, kw, tuple(draw(st.booleans()) for _ in arrays_))

        return sample()

    return make


def _batch(draw, max_dims=2, min_side=0):
    return tuple(draw(shapes(0, max_dims, min_side, 2)))


def _square(min_n=0, max_n=4):
    def make(draw):
        n = draw(st.integers(min_n, max_n))
        return [_batch(draw) + (n, n)]

    return make


def _rect(min_side=0, max_side=4, batch=True):
    def make(draw):
        m, n = draw(st.integers(min_side, max_side)), draw(st.integers(min_side, max_side))
        return [(_batch(draw) if batch else ()) + (m, n)]

    return make


def _eye_like(m, x):
    n = x.shape[-1]
    return m.eye(n, dtype=x.dtype)


def _dominant(m, x, sign=1.0):
    """``x`` plus a multiple of the identity large enough to make it diagonally dominant."""
    n = x.shape[-1]
    return x + _eye_like(m, x) * (4.0 * max(n, 1) * sign)


def _separated(m, x, spacing=30.0):
    """``x`` plus well-separated positive values on its main diagonal (distinct, nonzero
    singular values; with x + x^T, distinct eigenvalues)."""
    rows, cols = x.shape[-2], x.shape[-1]
    k = min(rows, cols)
    d = np.zeros((rows, cols))
    d[np.arange(k), np.arange(k)] = spacing * np.arange(1, k + 1)
    return x + m.tensor(d, dtype=x.dtype)


def _spd(m, x):
    n = x.shape[-1]
    return x @ x.mT + _eye_like(m, x) * float(max(n, 1))


def _diag_sign(m, v, k):
    """The signs of the first ``k`` diagonal entries of ``v`` (constant: no gradient)."""
    eye = m.tensor(np.eye(v.shape[-2], v.shape[-1])[..., :k], dtype=v.dtype)
    return m.sign((v[..., :, :k] * eye).sum(-2)).detach()


# ----- products -------------------------------------------------------------------------------
def _two_vectors(draw):
    return [(draw(st.integers(0, 4)),), (draw(st.integers(0, 4)),)]


add_entry("outer", fn("outer"), _matrix_samples(_two_vectors, dtypes=(F32, F64, I64)), errors=(
    ("2-D input", lambda m: m.outer(m.ones(2, 2), m.ones(2))),
    ("2-D vec2", lambda m: m.outer(m.ones(2), m.ones(2, 2))),
))
alias(add_entry("outer_method", lambda m, a, b: a.outer(b), _matrix_samples(_two_vectors),
                covers=()), "ger")
add_entry("outer_mixed", fn("outer"), lambda grad: st.builds(
    lambda a, b: Sample((a, b), {}, ()),
    arrays(I64, (3,)), arrays(F32, (2,))), covers=())


def _cross_shapes(draw):
    batch = list(_batch(draw, 2, 1))
    pos = draw(st.integers(0, len(batch)))
    shape = tuple(batch[:pos] + [3] + batch[pos:])
    other = tuple(1 if draw(st.integers(0, 3)) == 0 and i != pos else s
                  for i, s in enumerate(shape))
    return [shape, other]


def _cross_kwargs(draw, shapes_):
    ndim = len(shapes_[0])
    dims = [i for i, s in enumerate(shapes_[0]) if s == 3]
    d = draw(st.sampled_from(dims))
    return {"dim": draw(st.sampled_from((d, d - ndim)))}


add_entry("linalg.cross", lambda m, a, b, dim: m.linalg.cross(a, b, dim=dim),
          _matrix_samples(_cross_shapes, dtypes=(F32, F64, I64), kwargs=_cross_kwargs), errors=(
              ("length 2", lambda m: m.linalg.cross(m.ones(2), m.ones(2))),
              ("ndim differ", lambda m: m.linalg.cross(m.ones(3), m.ones(2, 3))),
              ("no broadcast", lambda m: m.linalg.cross(m.ones(2, 3), m.ones(4, 3))),
          ))
add_entry("cross", lambda m, a, b, dim: m.cross(a, b, dim=dim),
          _matrix_samples(_cross_shapes, kwargs=_cross_kwargs), errors=(
              ("no dim of size 3", lambda m: m.cross(m.ones(2, 2), m.ones(2, 2))),
              ("size 2 at dim", lambda m: m.cross(m.ones(2, 3), m.ones(2, 3), dim=0)),
          ))


def _cross_default(m, a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.cross(a, b)


add_entry("cross_default_dim", _cross_default, _matrix_samples(_cross_shapes), covers=())
add_entry("cross_method", lambda m, a, b: a.cross(b, dim=-1), _matrix_samples(
    lambda draw: [_batch(draw) + (3,)] * 2), covers=())


def _kron_shapes(draw):
    return [tuple(draw(shapes(0, 3, 0, 3))), tuple(draw(shapes(0, 3, 0, 3)))]


def _contiguous_when_grad(samples):
    """torch's double backward of kron views a transposed gradient and fails ("view size is
    not compatible") on transposed inputs; the forward keeps non-contiguous inputs."""
    def make(grad):
        strategy = samples(grad)
        return strategy.map(lambda s: Sample(s.arrays, s.kwargs, ())) if grad else strategy

    return make


add_entry("kron", fn("kron"), _contiguous_when_grad(_matrix_samples(
    _kron_shapes, dtypes=(F32, F64, I64))), errors=(
    ("not a tensor", lambda m: m.kron(m.ones(2), 2)),
))


def _tensordot_shapes(draw):
    k = draw(st.integers(0, 2))
    contracted = tuple(draw(st.integers(0, 3)) for _ in range(k))
    free_a, free_b = (tuple(draw(shapes(0, 2, 0, 3))) for _ in range(2))
    return [free_a + contracted, contracted + free_b]


def _tensordot_kwargs(draw, shapes_):
    na = len(shapes_[0])
    nb = len(shapes_[1])
    # the contracted block is the tail of a and the head of b (see _tensordot_shapes)
    k = max(i for i in range(min(na, nb) + 1) if shapes_[0][na - i:] == shapes_[1][:i])
    form = draw(st.sampled_from(("int", "lists")))
    if form == "int":
        return {"dims": k}
    return {"dims": (list(range(na - k, na)), list(range(k)))}


add_entry("tensordot", lambda m, a, b, dims: m.tensordot(a, b, dims=dims),
          _matrix_samples(_tensordot_shapes, dtypes=(F32, F64, I64), kwargs=_tensordot_kwargs),
          errors=(
              ("sizes differ", lambda m: m.tensordot(m.ones(2, 3), m.ones(2, 3), dims=1)),
              ("negative dims", lambda m: m.tensordot(m.ones(2, 3), m.ones(3, 2), dims=-1)),
              ("dtypes differ", lambda m: m.tensordot(m.ones(2, 3),
                                                      m.ones(3, 2, dtype=m.float64), dims=1)),
          ))

# (equation, operand shapes given the sizes i, j, k, b)
_EINSUM_CASES = (
    ("ij,jk->ik", lambda s: [(s[0], s[1]), (s[1], s[2])]),
    ("bij,bjk->bik", lambda s: [(s[3], s[0], s[1]), (s[3], s[1], s[2])]),
    ("i,j->ij", lambda s: [(s[0],), (s[1],)]),
    ("i,i->", lambda s: [(s[0],), (s[0],)]),
    ("ii->i", lambda s: [(s[0], s[0])]),
    ("ii", lambda s: [(s[0], s[0])]),
    ("ij->ji", lambda s: [(s[0], s[1])]),
    ("ij->", lambda s: [(s[0], s[1])]),
    ("ij->j", lambda s: [(s[0], s[1])]),
    ("ij,ij->ij", lambda s: [(s[0], s[1]), (s[0], s[1])]),
    ("ij,jk", lambda s: [(s[0], s[1]), (s[1], s[2])]),
    ("...ij,...jk->...ik", lambda s: [(s[3], s[0], s[1]), (s[1], s[2])]),
    ("bi,bj,bk->ijk", lambda s: [(s[3], s[0]), (s[3], s[1]), (s[3], s[2])]),
    ("i j , j ->i", lambda s: [(s[0], s[1]), (s[1],)]),
    ("ij,k->ijk", lambda s: [(s[0], s[1]), (s[2],)]),
    ("ijk->kji", lambda s: [(s[0], s[1], s[2])]),
    ("iij->ij", lambda s: [(s[0], s[0], s[1])]),
    ("ij,ik->i", lambda s: [(s[0], s[1]), (1, s[2])]),  # size-1 dims broadcast
)


def _einsum_samples(dtypes):
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(_pick_dtypes(dtypes, grad)))
            equation, make_shapes = draw(st.sampled_from(_EINSUM_CASES))
            sizes = tuple(draw(st.integers(0, 3)) for _ in range(4))
            arrays_ = tuple(draw(arrays(dtype, s)) for s in make_shapes(sizes))
            return Sample(arrays_, {"equation": equation},
                          tuple(draw(st.booleans()) for _ in arrays_))

        return sample()

    return make


def _einsum_values(m, *ts, equation):
    return m.einsum(equation, *ts).detach()


# torch records the nodes of its decomposition (bmm, views, permutes) where ember records one
# EinsumBackward0: the gradient entry checks the derivatives, this one values and dtypes.
add_entry("einsum", lambda m, *ts, equation: m.einsum(equation, *ts),
          _einsum_samples((F32, F64)), covers=(), xfail={
              "forward": "grad_fn: one EinsumBackward0 where torch records its bmm/view "
                         "decomposition"}, errors=(
              ("sizes differ", lambda m: m.einsum("ij,jk->ik", m.ones(2, 3), m.ones(2, 3))),
              ("too few operands", lambda m: m.einsum("ij,jk", m.ones(2, 3))),
              ("dtypes differ", lambda m: m.einsum("i,i", m.ones(2),
                                                   m.ones(2, dtype=m.float64))),
              ("wrong ndim", lambda m: m.einsum("ij", m.ones(2))),
          ))
add_entry("einsum_values", _einsum_values, _einsum_samples((F32, F64, I64)),
          differentiable=False, covers=("einsum",), errors=(
              ("list of operands: sizes differ",
               lambda m: m.einsum("ij,jk->ik", [m.ones(2, 3), m.ones(2, 3)])),
          ))
add_entry("einsum_list", lambda m, a, b: m.einsum("ij,jk->ik", [a, b]).detach(),
          _matrix_samples(lambda draw: [(2, 3), (3, 2)]), differentiable=False, covers=())


def _bmm_like(kind):
    def make(draw):
        b, n, k, p = (draw(st.integers(0, 3)) for _ in range(4))
        if kind == "addmm":
            out = (n, p)
            mats = [(n, k), (k, p)]
        elif kind == "addmv":
            out = (n,)
            mats = [(n, k), (k,)]
        elif kind == "addbmm":
            out = (n, p)
            mats = [(b, n, k), (b, k, p)]
        else:
            out = (b, n, p)
            mats = [(b, n, k), (b, k, p)]
        # self broadcasts to the result: drop leading dims, or make some of them 1
        self_shape = tuple(1 if draw(st.integers(0, 3)) == 0 else s for s in out)
        self_shape = self_shape[draw(st.integers(0, len(self_shape))):]
        if kind == "addmv" and 0 in mats[0]:
            # torch's addmv then returns beta * self in self's own shape (resizing its output
            # with a deprecation warning), a quirk ember does not copy
            self_shape = out
        return [self_shape] + mats

    return make


_SCALE = st.sampled_from(((1, 1), (0.5, 2), (0, 1), (1, 0), (-1, 0.25), (2, 1)))


def _scale_kwargs(draw, shapes_):
    beta, alpha = draw(_SCALE)
    return {"beta": beta, "alpha": alpha}


def _scale_kwargs_int(draw, shapes_):
    beta, alpha = draw(st.sampled_from(((1, 1), (0, 1), (2, 3), (1, 0))))
    return {"beta": beta, "alpha": alpha}


for _name, _errors in (
    ("addmm", (
        ("shapes cannot be multiplied",
         lambda m: m.addmm(m.ones(2, 2), m.ones(2, 3), m.ones(2, 2))),
        ("self does not broadcast", lambda m: m.addmm(m.ones(3, 3), m.ones(2, 3), m.ones(3, 2))),
        ("mat dtypes differ",
         lambda m: m.addmm(m.ones(2, 2), m.ones(2, 3, dtype=m.float64), m.ones(3, 2))),
        ("self dtype differs",
         lambda m: m.addmm(m.ones(2, 2, dtype=m.float64), m.ones(2, 3, dtype=m.float64),
                           m.ones(3, 2))),
    )),
    ("addmv", (
        ("size mismatch", lambda m: m.addmv(m.ones(2), m.ones(2, 3), m.ones(2))),
        ("vector as matrix", lambda m: m.addmv(m.ones(2), m.ones(2), m.ones(2))),
    )),
    ("addbmm", (
        ("sizes differ", lambda m: m.addbmm(m.ones(2, 2), m.ones(2, 2, 3), m.ones(2, 2, 2))),
    )),
    ("baddbmm", (
        ("sizes differ", lambda m: m.baddbmm(m.ones(2, 2, 2), m.ones(2, 2, 3),
                                             m.ones(2, 2, 2))),
        ("batches differ", lambda m: m.baddbmm(m.ones(2, 2, 2), m.ones(2, 2, 3),
                                               m.ones(3, 3, 2))),
        ("dtypes differ", lambda m: m.baddbmm(m.ones(2, 2, 2), m.ones(2, 2, 2, dtype=m.float64),
                                              m.ones(2, 2, 2))),
        ("self does not broadcast", lambda m: m.baddbmm(m.ones(3, 2, 2), m.ones(2, 2, 2),
                                                        m.ones(2, 2, 2))),
    )),
):
    add_entry(_name, (lambda name: lambda m, s, a, b, beta, alpha: getattr(m, name)(
        s, a, b, beta=beta, alpha=alpha))(_name),
        _matrix_samples(_bmm_like(_name), kwargs=_scale_kwargs), errors=_errors)
    add_entry(f"{_name}_int", (lambda name: lambda m, s, a, b, beta, alpha: getattr(m, name)(
        s, a, b, beta=beta, alpha=alpha))(_name),
        _matrix_samples(_bmm_like(_name), dtypes=(I64,), kwargs=_scale_kwargs_int),
        differentiable=False, covers=())
    add_entry(f"{_name}_method", (lambda name: lambda m, s, a, b: getattr(s, name)(a, b))(
        _name), _matrix_samples(_bmm_like(_name)), covers=())

    def _inplace(m, s, a, b, name=_name):
        out = s.expand(getattr(m, name)(s, a, b).shape).clone()
        return getattr(out, name + "_")(a, b)

    add_entry(f"{_name}_", _inplace, _matrix_samples(_bmm_like(_name)), covers=())


def _cdist_shapes(draw):
    batch = _batch(draw, 1)
    other_batch = batch if draw(st.booleans()) else tuple(1 for _ in batch)
    m_ = draw(st.integers(0, 3))
    return [batch + (draw(st.integers(0, 4)), m_), other_batch + (draw(st.integers(0, 4)), m_)]


def _cdist_kwargs(draw, shapes_):
    return {"p": draw(st.sampled_from((2.0, 1.0, 0.0, 3.0, 1.5, INF, 2)))}


add_entry("cdist", lambda m, a, b, p: m.cdist(a, b, p=p),
          _matrix_samples(_cdist_shapes, kwargs=_cdist_kwargs), second_order=False, errors=(
              ("1-D input", lambda m: m.cdist(m.ones(3), m.ones(3))),
              ("columns differ", lambda m: m.cdist(m.ones(2, 3), m.ones(2, 4))),
              ("negative p", lambda m: m.cdist(m.ones(2, 3), m.ones(2, 3), p=-1)),
              ("int input", lambda m: m.cdist(T(m, [[1, 2]]), T(m, [[1, 2]]))),
          ), atol=1e-4, rtol=1e-4)


def _cdist_mm_shapes(draw):
    batch = _batch(draw, 1, 1)
    m_ = draw(st.integers(1, 3))
    return [batch + (draw(st.integers(26, 28)), m_), (draw(st.integers(1, 3)), m_)]


def _cdist_mm(m, a, b, mode):
    return m.cdist(a, b, compute_mode=mode)


def _cdist_modes(draw, shapes_):
    return {"mode": draw(st.sampled_from(("use_mm_for_euclid_dist_if_necessary",
                                          "use_mm_for_euclid_dist")))}


# |a|^2 + |b|^2 - 2ab cancels for close points: in float32 the second derivatives (1/d^3) of
# both libraries are rounding noise there, so they are compared in float64 only.
add_entry("cdist_mm_f64", _cdist_mm, _matrix_samples(_cdist_mm_shapes, dtypes=(F64,),
                                                     kwargs=_cdist_modes), covers=())
add_entry("cdist_mm", _cdist_mm, _matrix_samples(_cdist_mm_shapes, kwargs=_cdist_modes),
          covers=(), atol=1e-4, rtol=1e-4, second_order=False, errors=(
              ("bad compute_mode", lambda m: m.cdist(m.ones(2, 3), m.ones(2, 3),
                                                     compute_mode="bad")),
          ))
add_entry("cdist_no_mm", lambda m, a, b: m.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist"),
          _matrix_samples(_cdist_mm_shapes), covers=(), second_order=False, atol=1e-4,
          rtol=1e-4)


def _chain_shapes(count_min=2, vectors=True):
    def make(draw):
        count = draw(st.integers(count_min, 4))
        sizes = [draw(st.integers(1, 3)) for _ in range(count + 1)]
        shapes_ = [(sizes[i], sizes[i + 1]) for i in range(count)]
        if vectors and draw(st.booleans()):
            shapes_[0] = shapes_[0][1:]
        if vectors and draw(st.booleans()):
            shapes_[-1] = shapes_[-1][:1]
        return shapes_

    return make


add_entry("linalg.multi_dot", lambda m, *ts: m.linalg.multi_dot(list(ts)),
          _matrix_samples(_chain_shapes(), dtypes=(F32, F64, I64)), errors=(
              ("one tensor", lambda m: m.linalg.multi_dot([m.ones(2, 2)])),
              ("3-D last tensor", lambda m: m.linalg.multi_dot([m.ones(2, 2), m.ones(2, 2, 2)])),
              ("shapes differ", lambda m: m.linalg.multi_dot([m.ones(2, 3), m.ones(2, 2)])),
          ), atol=1e-4)


def _chain_matmul(m, *ts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.chain_matmul(*ts)


add_entry("chain_matmul", _chain_matmul,
          _matrix_samples(_chain_shapes(1, vectors=False)), errors=(
              ("1-D input", lambda m: _chain_matmul(m, m.ones(2, 2), m.ones(2))),
          ), atol=1e-4)


# ----- inverses and determinants --------------------------------------------------------------
_SINGULAR = ([[1.0, 2.0], [2.0, 4.0]],)
_SIGN = st.sampled_from((1.0, -1.0))


def _sign_kwargs(draw, shapes_):
    return {"sign": draw(_SIGN)}


def _square_errors(name, call):
    return (
        (f"{name}: not square", lambda m: call(m, m.ones(2, 3))),
        (f"{name}: 1-D", lambda m: call(m, m.ones(3))),
        (f"{name}: int", lambda m: call(m, T(m, [[1, 2], [3, 4]]))),
    )


def _singular_inv_errors(call):
    return (
        ("singular", lambda m: call(m, T(m, *_SINGULAR))),
        ("singular in a batch", lambda m: call(m, m.stack([m.eye(2), T(m, *_SINGULAR)]))),
        ("zero column", lambda m: call(m, T(m, [[1.0, 0, 0], [0, 0, 0], [0, 0, 1]]))),
    )


for _name, _call in (("linalg.inv", lambda m, x: m.linalg.inv(x)),
                     ("inverse", lambda m, x: m.inverse(x))):
    add_entry(_name, (lambda call: lambda m, x, sign: call(m, _dominant(m, x, sign)))(_call),
              _matrix_samples(_square(), kwargs=_sign_kwargs),
              errors=_square_errors(_name, _call) + _singular_inv_errors(_call), atol=1e-4)
add_entry("inverse_method", lambda m, x: _dominant(m, x).inverse(),
          _matrix_samples(_square()), covers=(), atol=1e-4)

for _name, _call in (("linalg.det", lambda m, x: m.linalg.det(x)),
                     ("det", lambda m, x: m.det(x)),
                     ("logdet", lambda m, x: m.logdet(x)),
                     ("linalg.slogdet", lambda m, x: m.linalg.slogdet(x)),
                     ("slogdet", lambda m, x: m.slogdet(x))):
    add_entry(_name, (lambda call: lambda m, x, sign: call(m, _dominant(m, x, sign)))(_call),
              _matrix_samples(_square(), kwargs=_sign_kwargs),
              errors=_square_errors(_name, _call), atol=1e-4, rtol=1e-4, rtol64=1e-6)
add_entry("det_singular", lambda m: m.linalg.det(T(m, *_SINGULAR)),
          lambda grad: st.just(Sample((), {})), covers=(), differentiable=False)
add_entry("det_singular_grad", lambda m, x: m.linalg.det(x[..., :1].expand(x.shape)),
          _matrix_samples(_square(2, 4)), covers=(), second_order=False)
add_entry("det_method", lambda m, x: _dominant(m, x).det(), _matrix_samples(_square()),
          covers=(), atol=1e-4, rtol=1e-4)
add_entry("slogdet_method", lambda m, x: _dominant(m, x, -1.0).slogdet(),
          _matrix_samples(_square()), covers=(), atol=1e-4, rtol=1e-4)
add_entry("logdet_method", lambda m, x: _dominant(m, x).logdet(), _matrix_samples(_square()),
          covers=(), atol=1e-4, rtol=1e-4)
add_entry("slogdet_repr", lambda m, x: T(m, [ord(c) for c in repr(
    m.linalg.slogdet(_dominant(m, x))).splitlines()[0]]), _matrix_samples(_square(1, 2)),
    covers=(), differentiable=False)


def _solve_shapes(draw):
    n = draw(st.integers(0, 4))
    batch = _batch(draw)
    kind = draw(st.sampled_from(("matrix", "vector", "batched_vector", "broadcast")))
    if kind == "vector":
        return [batch + (n, n), (n,)]
    if kind == "batched_vector":
        return [batch + (n, n), batch + (n,)]
    if kind == "broadcast":
        return [(n, n), batch + (n, draw(st.integers(0, 3)))]
    return [batch + (n, n), batch + (n, draw(st.integers(0, 3)))]


def _solve(m, a, b, left=True):
    return m.linalg.solve(_dominant(m, a), b, left=left)


add_entry("linalg.solve", _solve, _matrix_samples(_solve_shapes), errors=(
    ("singular", lambda m: m.linalg.solve(T(m, *_SINGULAR), m.ones(2))),
    ("not square", lambda m: m.linalg.solve(m.ones(2, 3), m.ones(2))),
    ("int", lambda m: m.linalg.solve(T(m, [[1, 2], [3, 4]]), T(m, [[1, 2], [3, 4]]))),
    ("vector of the wrong size", lambda m: m.linalg.solve(m.eye(2), m.ones(3))),
    ("matrix of the wrong size", lambda m: m.linalg.solve(m.eye(2), m.ones(3, 2))),
    ("dtypes differ", lambda m: m.linalg.solve(m.eye(2), m.ones(2, dtype=m.float64))),
), atol=1e-4)
add_entry("linalg.solve_right", lambda m, a, b: _solve(m, a, b, left=False),
          _matrix_samples(lambda draw: [(3, 3), (draw(st.integers(0, 3)), 3)]), covers=(),
          atol=1e-4)


def _triangular_shapes(draw):
    n = draw(st.integers(0, 4))
    batch = _batch(draw)
    k = draw(st.integers(0, 3))
    left = draw(st.booleans())
    b = (n, k) if left else (k, n)
    if draw(st.booleans()):
        return [batch + (n, n), b], left
    return [(n, n), batch + b], left


def _triangular_samples():
    def make(grad):
        @st.composite
        def sample(draw):
            dtype = draw(st.sampled_from(FLOAT_DTYPES))
            shapes_, left = _triangular_shapes(draw)
            arrays_ = tuple(draw(arrays(dtype, s)) for s in shapes_)
            return Sample(arrays_, {"upper": draw(st.booleans()), "left": left,
                                    "unitriangular": draw(st.booleans())},
                          tuple(draw(st.booleans()) for _ in arrays_))

        return sample()

    return make


add_entry("linalg.solve_triangular", lambda m, a, b, **kw: m.linalg.solve_triangular(
    _dominant(m, a), b, **kw), _triangular_samples(), errors=(
    ("B is 1-D", lambda m: m.linalg.solve_triangular(m.eye(3), m.ones(3), upper=True)),
    ("no upper", lambda m: m.linalg.solve_triangular(m.eye(3), m.ones(3, 2))),
    ("sizes differ", lambda m: m.linalg.solve_triangular(m.eye(3), m.ones(2, 2), upper=True)),
    ("int", lambda m: m.linalg.solve_triangular(T(m, [[1, 0], [0, 1]]), T(m, [[1], [2]]),
                                                upper=True)),
), atol=1e-4, rtol=1e-4)
add_entry("linalg.solve_triangular_singular", lambda m, a, b: m.linalg.solve_triangular(
    a * 0, b, upper=True), _matrix_samples(lambda draw: [(2, 2), (2, 2)]), covers=(),
    differentiable=False)


def _cholesky(m, x, upper):
    return m.linalg.cholesky(_spd(m, x), upper=upper)


add_entry("linalg.cholesky", _cholesky, _matrix_samples(
    _square(), kwargs=lambda draw, s: {"upper": draw(st.booleans())}), errors=(
    ("not positive-definite", lambda m: m.linalg.cholesky(-m.eye(2))),
    ("not positive-definite in a batch",
     lambda m: m.linalg.cholesky(m.stack([m.eye(2), -m.eye(2)]))),
    ("order 2 minor", lambda m: m.linalg.cholesky(T(m, [[1.0, 2.0], [2.0, 1.0]]))),
    ("not square", lambda m: m.linalg.cholesky(m.ones(2, 3))),
    ("int", lambda m: m.linalg.cholesky(T(m, [[1, 2], [3, 4]]))),
), atol=1e-4, rtol=1e-4)


def _qr(m, x, mode):
    return m.linalg.qr(_separated(m, x), mode=mode)


add_entry("linalg.qr", _qr, _matrix_samples(
    _rect(), kwargs=lambda draw, s: {"mode": draw(st.sampled_from(("reduced", "complete",
                                                                     "r")))}), errors=(
    ("1-D", lambda m: m.linalg.qr(m.ones(3))),
    ("int", lambda m: m.linalg.qr(T(m, [[1, 2], [3, 4]]))),
    ("bad mode", lambda m: m.linalg.qr(m.ones(2, 3), mode="bad")),
    ("backward with mode='r'", lambda m: m.linalg.qr(
        m.ones(2, 2, requires_grad=True), mode="r")[1].sum().backward()),
), atol=1e-4, rtol=1e-4)


def _svd(m, x, full_matrices):
    u, s, vh = m.linalg.svd(_separated(m, x), full_matrices=full_matrices)
    k = s.shape[-1]
    sign = _diag_sign(m, u, k)
    return u[..., :, :k] * sign.unsqueeze(-2), s, vh[..., :k, :] * sign.unsqueeze(-1)


add_entry("linalg.svd", _svd, _matrix_samples(
    _rect(), kwargs=lambda draw, s: {"full_matrices": draw(st.booleans())}), errors=(
    ("1-D", lambda m: m.linalg.svd(m.ones(3))),
    ("int", lambda m: m.linalg.svd(T(m, [[1, 2], [3, 4]]))),
), atol=1e-4, rtol=1e-4, rtol64=1e-6, atol64=1e-6)
add_entry("linalg.svd_singular_values", lambda m, x: m.linalg.svd(_separated(m, x))[1],
          _matrix_samples(_rect()), covers=(), atol=1e-4, rtol=1e-4)
add_entry("linalg.svdvals", lambda m, x: m.linalg.svdvals(_separated(m, x)),
          _matrix_samples(_rect()), errors=(
              ("int", lambda m: m.linalg.svdvals(T(m, [[1, 2], [3, 4]]))),
              ("1-D", lambda m: m.linalg.svdvals(m.ones(3))),
          ), atol=1e-4, rtol=1e-4, rtol64=1e-6, atol64=1e-6)


def _symmetric(m, x):
    return _separated(m, x + x.mT, 60.0)


def _eigh(m, x, UPLO):
    w, v = m.linalg.eigh(_symmetric(m, x), UPLO=UPLO)
    return w, v * _diag_sign(m, v, v.shape[-1]).unsqueeze(-2)


_UPLO = st.sampled_from(("L", "U"))
add_entry("linalg.eigh", _eigh, _matrix_samples(
    _square(), kwargs=lambda draw, s: {"UPLO": draw(_UPLO)}), errors=(
    ("not square", lambda m: m.linalg.eigh(m.ones(2, 3))),
    ("int", lambda m: m.linalg.eigh(T(m, [[1, 2], [3, 4]]))),
    ("bad UPLO", lambda m: m.linalg.eigh(m.eye(2), UPLO="X")),
), atol=1e-4, rtol=1e-4, rtol64=1e-6, atol64=1e-6)
add_entry("linalg.eigvalsh", lambda m, x, UPLO: m.linalg.eigvalsh(_symmetric(m, x), UPLO=UPLO),
          _matrix_samples(_square(), kwargs=lambda draw, s: {"UPLO": draw(_UPLO)}), errors=(
              ("not square", lambda m: m.linalg.eigvalsh(m.ones(2, 3))),
          ), atol=1e-4, rtol=1e-4, rtol64=1e-6, atol64=1e-6)
add_entry("linalg.eigh_lower_only", lambda m, x: m.linalg.eigvalsh(x, UPLO="L"),
          _matrix_samples(_square(), dtypes=(F64,)), covers=(), differentiable=False)


def _pinv(m, x):
    return m.linalg.pinv(_separated(m, x))


add_entry("linalg.pinv", _pinv, _matrix_samples(_rect()), errors=(
    ("int", lambda m: m.linalg.pinv(T(m, [[1, 2], [3, 4]]))),
    ("1-D", lambda m: m.linalg.pinv(m.ones(3))),
), atol=1e-4, rtol=1e-4, rtol64=1e-6, atol64=1e-6)
add_entry("linalg.pinv_rank_deficient", lambda m, x: m.linalg.pinv(x[..., :1].expand(
    x.shape[:-1] + (3,))), _matrix_samples(_rect(1, 3)), covers=(), differentiable=False,
    atol=1e-4, rtol=1e-4, rtol64=1e-6, atol64=1e-6)
add_entry("pinverse", lambda m, x: m.pinverse(_separated(m, x)), _matrix_samples(_rect()),
          errors=(("int", lambda m: m.pinverse(T(m, [[1, 2], [3, 4]]))),),
          atol=1e-4, rtol=1e-4, rtol64=1e-6, atol64=1e-6)


def _lstsq_shapes(draw):
    m_, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = _batch(draw, 1, 1)
    if draw(st.booleans()):
        return [batch + (m_, n), batch + (m_,)]
    return [batch + (m_, n), batch + (m_, draw(st.integers(1, 3)))]


def _lstsq(m, a, b, driver):
    return m.linalg.lstsq(_separated(m, a), b, driver=driver)


add_entry("linalg.lstsq", _lstsq, _matrix_samples(
    _lstsq_shapes, kwargs=lambda draw, s: {"driver": draw(st.sampled_from(
        (None, "gelsd", "gelss", "gelsy")))}), errors=(
    ("int", lambda m: m.linalg.lstsq(T(m, [[1, 2], [3, 4]]), T(m, [[1, 2], [3, 4]]))),
    ("rows differ", lambda m: m.linalg.lstsq(m.ones(2, 3), m.ones(3, 2))),
    ("1-D", lambda m: m.linalg.lstsq(m.ones(3), m.ones(3))),
), atol=1e-4, rtol=1e-4, rtol64=1e-6, atol64=1e-6)


def _matrix_power(m, x, n):
    return m.linalg.matrix_power(_dominant(m, x) / (4.0 * max(x.shape[-1], 1)), n)


_POWERS = st.sampled_from((0, 1, 2, 3, 4, 5, 7, -1, -2, -3))
add_entry("linalg.matrix_power", _matrix_power, _matrix_samples(
    _square(), kwargs=lambda draw, s: {"n": draw(_POWERS)}), errors=(
    ("not square", lambda m: m.linalg.matrix_power(m.ones(2, 3), 2)),
    ("1-D", lambda m: m.linalg.matrix_power(m.ones(3), 2)),
    ("int to a negative power", lambda m: m.linalg.matrix_power(T(m, [[1, 2], [3, 4]]), -1)),
    ("singular to a negative power",
     lambda m: m.linalg.matrix_power(T(m, *_SINGULAR), -1)),
), atol=1e-4, rtol=1e-4)
add_entry("linalg.matrix_power_int", lambda m, x, n: m.linalg.matrix_power(x, n),
          _matrix_samples(_square(0, 3), dtypes=(I64,),
                          kwargs=lambda draw, s: {"n": draw(st.integers(0, 4))}),
          differentiable=False, covers=())
add_entry("matrix_power", lambda m, x, n: m.matrix_power(_dominant(m, x) / 8.0, n),
          _matrix_samples(_square(), kwargs=lambda draw, s: {"n": draw(_POWERS)}), errors=(
              ("not square", lambda m: m.matrix_power(m.ones(2, 3), 2)),
          ), atol=1e-4, rtol=1e-4)
add_entry("matrix_power_method", lambda m, x: (_dominant(m, x) / 8.0).matrix_power(3),
          _matrix_samples(_square()), covers=(), atol=1e-4, rtol=1e-4)
add_entry("linalg.matrix_rank", lambda m, x, cut: m.linalg.matrix_rank(x[..., :cut]),
          _matrix_samples(_rect(0, 4), dtypes=(F64,), kwargs=lambda draw, s: {
              "cut": draw(st.integers(0, 4))}), differentiable=False, errors=(
              ("int", lambda m: m.linalg.matrix_rank(T(m, [[1, 2], [3, 4]]))),
              ("1-D", lambda m: m.linalg.matrix_rank(m.ones(3))),
          ))
add_entry("linalg.matrix_rank_deficient", lambda m, x: m.linalg.matrix_rank(
    x @ x.mT[..., :1, :].expand(x.shape[:-2] + (3, x.shape[-1])).mT),
    _matrix_samples(_rect(1, 4), dtypes=(F64,)), covers=(), differentiable=False)


# ----- torch's older spellings ---------------------------------------------------------------
def _quiet(thunk):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return thunk()


def _torch_svd(m, x, some):
    u, s, v = m.svd(_separated(m, x), some=some)
    k = s.shape[-1]
    sign = _diag_sign(m, u, k)
    return u[..., :, :k] * sign.unsqueeze(-2), s, v[..., :, :k] * sign.unsqueeze(-2)


add_entry("svd", _torch_svd, _matrix_samples(
    _rect(), kwargs=lambda draw, s: {"some": draw(st.booleans())}), errors=(
    ("1-D", lambda m: m.svd(m.ones(3))),
    ("int", lambda m: m.svd(T(m, [[1, 2], [3, 4]]))),
), atol=1e-4, rtol=1e-4, rtol64=1e-6, atol64=1e-6)
add_entry("svd_no_uv", lambda m, x: m.svd(_separated(m, x), compute_uv=False),
          _matrix_samples(_rect()), covers=(), atol=1e-4, rtol=1e-4, rtol64=1e-6, atol64=1e-6)
add_entry("svd_method", lambda m, x: x.svd()[1], _matrix_samples(_rect()), covers=(),
          differentiable=False, atol=1e-4, rtol=1e-4, rtol64=1e-6, atol64=1e-6)
add_entry("qr", lambda m, x, some: _quiet(lambda: m.qr(_separated(m, x), some=some)),
          _matrix_samples(_rect(), kwargs=lambda draw, s: {"some": draw(st.booleans())}),
          errors=(("1-D", lambda m: _quiet(lambda: m.qr(m.ones(3)))),),
          atol=1e-4, rtol=1e-4)
add_entry("cholesky", lambda m, x, upper: _quiet(lambda: m.cholesky(_spd(m, x), upper=upper)),
          _matrix_samples(_square(), kwargs=lambda draw, s: {"upper": draw(st.booleans())}),
          errors=(
              ("not positive-definite", lambda m: _quiet(lambda: m.cholesky(-m.eye(2)))),
              ("int", lambda m: _quiet(lambda: m.cholesky(T(m, [[1, 2], [3, 4]])))),
          ), atol=1e-4, rtol=1e-4)
add_entry("cholesky_method", lambda m, x: _quiet(lambda: _spd(m, x).cholesky()),
          _matrix_samples(_square()), covers=(), atol=1e-4, rtol=1e-4)


def _addr_shapes(draw):
    n, p = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    out = (n, p)
    self_shape = tuple(1 if draw(st.integers(0, 3)) == 0 else s for s in out)
    return [self_shape[draw(st.integers(0, 2)):], (n,), (p,)]


add_entry("addr", lambda m, s, a, b, beta, alpha: m.addr(s, a, b, beta=beta, alpha=alpha),
          _matrix_samples(_addr_shapes, kwargs=_scale_kwargs), errors=(
              ("2-D vec1", lambda m: m.addr(m.ones(2, 2), m.ones(2, 2), m.ones(2))),
              ("self does not broadcast", lambda m: m.addr(m.ones(3, 3), m.ones(2), m.ones(2))),
          ))
add_entry("addr_method", lambda m, s, a, b: s.addr(a, b), _matrix_samples(_addr_shapes),
          covers=())
add_entry("vdot", fn("vdot"), _matrix_samples(lambda draw: [(draw(st.integers(0, 4)),)] * 2,
                                               dtypes=(F32, F64, I64)), errors=(
    ("sizes differ", lambda m: m.vdot(m.ones(2), m.ones(3))),
    ("2-D", lambda m: m.vdot(m.ones(2, 2), m.ones(3))),
))


# ----- norms ----------------------------------------------------------------------------------
_MATRIX_ORDS = ("fro", "nuc", INF, -INF, 1, -1, 2, -2)


def _matrix_norm_kwargs(draw, shapes_):
    ndim = len(shapes_[0])
    d0, d1 = draw(st.permutations(range(ndim)))[:2]
    return {"ord": draw(st.sampled_from(_MATRIX_ORDS)),
            "dim": (draw(st.sampled_from((d0, d0 - ndim))), draw(st.sampled_from((d1,
                                                                                  d1 - ndim)))),
            "keepdim": draw(st.booleans())}


def _sep_nd(m, x, dim):
    """Separated values on the diagonal of the matrices spanned by ``dim``."""
    shape = x.shape
    d0, d1 = (d % len(shape) for d in dim)
    eye = np.zeros(tuple(shape))
    k = min(shape[d0], shape[d1])
    index = [slice(None)] * len(shape)
    for i in range(k):
        index[d0], index[d1] = i, i
        eye[tuple(index)] = 10.0 * (i + 1)
    return m.tensor(eye, dtype=x.dtype)


def _matrix_shapes(draw):
    return [tuple(draw(shapes(2, 4, 1, 3)))]


add_entry("linalg.matrix_norm",
          lambda m, x, ord, dim, keepdim: m.linalg.matrix_norm(
              x + _sep_nd(m, x, dim), ord, dim, keepdim),
          _matrix_samples(_matrix_shapes, kwargs=_matrix_norm_kwargs), errors=(
              ("1-D", lambda m: m.linalg.matrix_norm(m.ones(3))),
              ("order 3", lambda m: m.linalg.matrix_norm(m.ones(2, 2), 3)),
              ("int", lambda m: m.linalg.matrix_norm(T(m, [[1, 2], [3, 4]]))),
              ("unknown order", lambda m: m.linalg.matrix_norm(m.ones(2, 2), "bad")),
          ), atol=1e-4, rtol=1e-4, rtol64=1e-6, atol64=1e-6)
add_entry("linalg.matrix_norm_default", lambda m, x: m.linalg.matrix_norm(x),
          _matrix_samples(lambda draw: [tuple(draw(shapes(2, 4, 0, 3)))]), covers=(),
          atol=1e-4, rtol=1e-4)


def _norm_kwargs(draw, shapes_):
    ndim = len(shapes_[0])
    kind = draw(st.sampled_from(("none", "vector_dim", "matrix_dim", "ord_only")))
    if kind == "none":
        return {"ord": None, "dim": None, "keepdim": draw(st.booleans())}
    if kind == "vector_dim":
        return {"ord": draw(st.sampled_from((None, 2, 1, INF, -INF, 0, 3, 0.5))),
                "dim": draw(st.integers(-ndim, ndim - 1)), "keepdim": draw(st.booleans())}
    if kind == "matrix_dim" and ndim >= 2:
        d0, d1 = draw(st.permutations(range(ndim)))[:2]
        return {"ord": draw(st.sampled_from((None, "fro", "nuc", INF, 1, 2))),
                "dim": (d0, d1), "keepdim": draw(st.booleans())}
    ords = ("fro", "nuc", INF, 1, 2, None) if ndim == 2 else (2, 1, INF, 3, None)
    return {"ord": draw(st.sampled_from(ords)), "dim": None, "keepdim": draw(st.booleans())}


def _norm(m, x, ord, dim, keepdim):
    if isinstance(dim, tuple) or (dim is None and x.dim() == 2 and ord is not None):
        x = x + _sep_nd(m, x, dim or (-2, -1))
    return m.linalg.norm(x, ord, dim, keepdim)


add_entry("linalg.norm", _norm,
          _matrix_samples(lambda draw: [tuple(draw(shapes(1, 3, 1, 3)))], kwargs=_norm_kwargs),
          errors=(
              ("int", lambda m: m.linalg.norm(T(m, [[1, 2], [3, 4]]))),
              ("'fro' on a vector", lambda m: m.linalg.norm(m.ones(3), "fro")),
              ("ord without dim on 3-D", lambda m: m.linalg.norm(m.ones(2, 2, 2), 2)),
          ), atol=1e-4, rtol=1e-4, rtol64=1e-6, atol64=1e-6)


def _vector_norm_kwargs(draw, shapes_):
    ndim = len(shapes_[0])
    dims = st.none() if ndim == 0 else st.one_of(
        st.none(), st.integers(-ndim, ndim - 1),
        st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple))
    return {"ord": draw(st.sampled_from((2, 1, INF, 3, 1.5, 0, 0.5))), "dim": draw(dims),
            "keepdim": draw(st.booleans())}


add_entry("linalg.vector_norm", lambda m, x, ord, dim, keepdim: m.linalg.vector_norm(
    x, ord, dim, keepdim), _matrix_samples(lambda draw: [tuple(draw(shapes(0, 3, 1, 3)))],
                                           kwargs=_vector_norm_kwargs), errors=(
    ("int", lambda m: m.linalg.vector_norm(T(m, [1, 2]))),
), atol=1e-4, rtol=1e-4)
def _vecdot_shapes(draw):
    a, b = (tuple(s) for s in draw(hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=1, max_dims=3, min_side=0, max_side=3)).input_shapes)
    return [a, b]


add_entry("linalg.vecdot", lambda m, a, b, dim: m.linalg.vecdot(a, b, dim=dim),
          _matrix_samples(_vecdot_shapes, kwargs=lambda draw, s: {"dim": draw(st.sampled_from(
              (-1, -min(len(s[0]), len(s[1])))))}), errors=(
              ("sizes differ", lambda m: m.linalg.vecdot(m.ones(2), m.ones(3))),
              ("dtypes differ", lambda m: m.linalg.vecdot(m.ones(2), m.ones(2, dtype=m.float64))),
              ("int", lambda m: m.linalg.vecdot(T(m, [1, 2]), T(m, [1, 2]))),
          ))
add_entry("linalg.matmul", lambda m, a, b: m.linalg.matmul(a, b),
          _matrix_samples(lambda draw: [_batch(draw, 1) + (2, 3), (3, draw(st.integers(0, 2)))]),
          errors=(("shapes differ", lambda m: m.linalg.matmul(m.ones(2, 3), m.ones(2, 3))),))

# This family's public op names (see op_db.PUBLIC_OPS).
PUBLIC_OPS: tuple[str, ...] = tuple(
    "addbmm addmm addmv addr baddbmm cdist chain_matmul cholesky cross det einsum ger inverse "
    "kron logdet matrix_power outer pinverse qr slogdet svd tensordot vdot".split()
) + tuple("linalg." + name for name in (
    "cholesky cross det eigh eigvalsh inv lstsq matmul matrix_norm matrix_power matrix_rank "
    "multi_dot norm pinv qr slogdet solve solve_triangular svd svdvals vecdot vector_norm").split())
