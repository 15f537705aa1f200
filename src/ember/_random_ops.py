"""Random tensor ops with torch's signatures: ``bernoulli``, ``multinomial``, ``randperm``,
``randint_like`` and the in-place fills ``uniform_``, ``normal_``, ``random_`` & co.

The numbers come from :mod:`ember._random`, which replays torch's CPU kernels bit for bit.
This layer adds what makes a whole op match torch: argument checks in torch's order with
torch's messages, the order in which torch's TensorIterator visits the elements of a
non-contiguous tensor (a transposed tensor is filled in memory order), and the autograd
record of an in-place fill (a node that sends zero gradient to the overwritten values).

``torch.poisson`` is not here: ``ember._random`` does not replay torch's Poisson sampler.
"""

from __future__ import annotations

import warnings

import numpy as np

from ember import _dtype as D
from ember import _random as R
from ember._device import require_cpu
from ember._tensor import Tensor, _wrap
from ember.autograd.graph import Node, new_node
from ember.ops._core import check_inplace, edge, requires_grad, set_history, write_into

__all__ = [
    "FUNCTIONS",
    "TENSOR_METHODS",
    "bernoulli",
    "bernoulli_",
    "cauchy_",
    "exponential_",
    "geometric_",
    "log_normal_",
    "multinomial",
    "normal_",
    "randint_like",
    "random_",
    "randperm",
    "uniform_",
]

Generator = R.Generator
_MISSING = object()

# torch names a dtype three ways in its messages: ScalarType ("Long"), the C++ type of the
# kernel ("long int") and the checked-conversion type ("int64_t").
_SCALAR_NAME = {
    "bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
    "int64": "Long", "float16": "Half", "float32": "Float", "float64": "Double",
}
_C_NAME = {
    "bool": "bool", "uint8": "unsigned char", "int8": "signed char", "int16": "short int",
    "int32": "int", "int64": "long int", "float16": "c10::Half", "float32": "float",
    "float64": "double",
}
_CONVERT_NAME = {
    "uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t",
    "int64": "int64_t", "float16": "at::Half",
}


# ----- autograd nodes ------------------------------------------------------------------------
class _RandomFill(Node):
    """The new values do not depend on the old ones (or on ``p``): zero gradients."""

    __slots__ = ()

    def backward(self, grad, xp):
        return tuple(
            xp.zeros_like(grad) if self.needs_input_grad(i) else None
            for i in range(len(self.next_functions))
        )


def _node_class(name: str) -> type:
    return type(name, (_RandomFill,), {"__slots__": ()})


UniformBackward0 = _node_class("UniformBackward0")
NormalBackward0 = _node_class("NormalBackward0")
RandomBackward0 = _node_class("RandomBackward0")  # random_(from, to)
RandomBackward1 = _node_class("RandomBackward1")  # random_(to)
RandomBackward2 = _node_class("RandomBackward2")  # random_()
BernoulliBackward0 = _node_class("BernoulliBackward0")  # bernoulli(input)
BernoulliBackward1 = _node_class("BernoulliBackward1")  # bernoulli_(Tensor p)
BernoulliBackward2 = _node_class("BernoulliBackward2")  # bernoulli_(float p)
ExponentialBackward0 = _node_class("ExponentialBackward0")
GeometricBackward0 = _node_class("GeometricBackward0")
LogNormalBackward0 = _node_class("LogNormalBackward0")
CauchyBackward0 = _node_class("CauchyBackward0")


class _BernoulliNotImplemented(Node):
    """torch records ``bernoulli(input, p)`` with a node whose backward refuses to run."""

    __slots__ = ()

    def backward(self, grad, xp):
        raise RuntimeError("derivative for aten::bernoulli is not implemented")


_BernoulliNotImplemented.__name__ = _BernoulliNotImplemented.__qualname__ = "NotImplemented"


# ----- helpers ---------------------------------------------------------------------------------
def _gen(generator: Generator | None) -> Generator:
    return R.default_generator if generator is None else generator


def _cfmt(x: float) -> str:
    """A double as C++'s ostream prints it in torch's messages (``-1``, ``0.5``, ``1e-07``)."""
    return f"{float(x):g}"


def _type_label(v) -> str:
    if isinstance(v, Tensor):
        return "Tensor"
    if isinstance(v, Generator):
        return "torch.Generator"
    if isinstance(v, D.dtype):
        return "torch.dtype"
    return type(v).__name__


def _invalid_combination(fname: str, args: tuple, kwargs: dict) -> TypeError:
    """The first line of torch's overload-resolution error."""
    parts = [_type_label(a) for a in args] + [f"{k}={_type_label(v)}" for k, v in kwargs.items()]
    got = ", ".join(parts) + (", " if kwargs and not args else "")
    return TypeError(
        f"{fname}() received an invalid combination of arguments - got ({got}), but expected "
        "one of:"
    )


def _as_int(v):
    """``v`` as a Python int if torch's parser would take it for an int, else None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, Tensor) and v._array.ndim == 0 and v._dtype.category == D.INTEGER:
        return int(v._array)
    return None


def _int_arg(v, fname: str, name: str, pos: int) -> int:
    n = _as_int(v)
    if n is None:
        raise TypeError(f"{fname}(): argument '{name}' (position {pos}) must be int, not "
                        f"{type(v).__name__}")
    return n


def _iter_axes(*arrays: np.ndarray) -> tuple | None:
    """The axes, outermost first, in which torch's TensorIterator visits the elements.

    TensorIterator sorts dimensions by stride (the first operand decides, later ones break
    ties), so a transposed or sliced tensor is walked in memory order.  ``None`` means plain
    C order.  Size-1 dimensions never change the order and are left out of the sort.
    """
    a = arrays[0]
    if a.size <= 1 or a.flags.c_contiguous:
        return None
    dims = [d for d in range(a.ndim) if a.shape[d] != 1]
    strides = [arr.strides for arr in arrays]

    def should_swap(d0: int, d1: int) -> int:
        for s in strides:
            s0, s1 = s[d0], s[d1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 != s1:
                return -1 if s0 < s1 else 1
            if a.shape[d0] > a.shape[d1]:
                return 1
        return 0

    perm = dims[::-1]  # innermost first, as torch's perm_
    for i in range(1, len(perm)):  # torch's insertion sort, ambiguous comparisons included
        d1 = i
        for d0 in range(i - 1, -1, -1):
            c = should_swap(perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    outer = perm[::-1]
    if outer == dims:
        return None
    return tuple([d for d in range(a.ndim) if a.shape[d] == 1] + outer)


def _place(values: np.ndarray, shape: tuple, axes: tuple | None) -> np.ndarray:
    """Lay out ``values`` (in visiting order) as a C-ordered array of ``shape``."""
    if axes is None:
        return values.reshape(shape)
    out = np.empty(shape, dtype=values.dtype)
    view = out.transpose(axes)
    view[...] = values.reshape(view.shape)
    return out


def _commit(self: Tensor, values: np.ndarray, node_cls: type, *others: Tensor) -> Tensor:
    """Write ``values`` into ``self``; when recording, ``self`` gets a zero-gradient node."""
    result = _wrap(np.asarray(values, dtype=self._dtype.numpy), self._dtype)
    node = None
    if requires_grad(self, *others):
        node = new_node(node_cls, (edge(self),) + tuple(edge(o) for o in others),
                        result._array)
        set_history(result, node)
    write_into(self, result, node)
    return self


def _fill_values(self: Tensor, draw) -> np.ndarray:
    """``draw(n)`` values for ``self``'s elements, placed as torch's kernel visits them."""
    a = self._array
    return _place(draw(a.size), a.shape, _iter_axes(a))


def _need_float(self: Tensor, kernel: str) -> None:
    if self._dtype.category != D.FLOATING:
        raise NotImplementedError(
            f'"{kernel}" not implemented for \'{_SCALAR_NAME[self._dtype.name]}\'')


def _continuous_only(self: Tensor, what: str, name: str) -> None:
    if self._dtype.category != D.FLOATING:
        raise RuntimeError(
            f"{what} distribution is a continuous probability distribution. dtype must be a "
            f"floating point but you specified {name}")


def _pop_from(kwargs: dict, fname: str, value):
    """torch's ``from`` argument is a Python keyword; accept it through ``**{"from": x}``."""
    for k in kwargs:
        if k != "from":
            raise TypeError(f"{fname}() got an unexpected keyword argument '{k}'")
    return kwargs.get("from", value)


# ----- in-place fills ----------------------------------------------------------------------
def uniform_(self: Tensor, from_: float = 0.0, to: float = 1.0, *,
             generator: Generator | None = None, **kwargs) -> Tensor:
    """Fill with U[from, to): one word (float/half) or random64 (double) per element."""
    frm = float(_pop_from(kwargs, "uniform_", from_))
    to = float(to)
    check_inplace(self)
    _need_float(self, "check_uniform_bounds")
    info = np.finfo(self._dtype.numpy)
    lo, hi = float(info.min), float(info.max)
    cname = _C_NAME[self._dtype.name]
    if not lo <= frm <= hi:
        raise RuntimeError(f"from is out of bounds for {cname}")
    if not lo <= to <= hi:
        raise RuntimeError(f"to is out of bounds for {cname}")
    if not frm <= to:
        raise RuntimeError("uniform_ expects to return a [from, to) range, but found "
                           f"from={_cfmt(frm)} > to={_cfmt(to)}")
    if not to - frm <= hi:
        raise RuntimeError(
            f"uniform_ expects to-from <= std::numeric_limits<{_SCALAR_NAME[self._dtype.name]}"
            f">::max(), but found to={_cfmt(to)} and from={_cfmt(frm)} which result in to-from "
            "to exceed the limit")
    gen = _gen(generator)
    vals = _fill_values(self, lambda n: R.uniform(gen, (n,), self._dtype.numpy, frm, to))
    return _commit(self, vals, UniformBackward0)


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *,
            generator: Generator | None = None) -> Tensor:
    """Fill with N(mean, std**2).

    torch's vectorised Box-Muller runs only on contiguous tensors of 16 or more elements;
    anything else draws ``normal_distribution<double>`` element by element in visiting order.
    """
    mean, std = float(mean), float(std)
    check_inplace(self)
    if not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_cfmt(std)}")
    _need_float(self, "normal_kernel_cpu")
    gen = _gen(generator)
    a = self._array
    dt = self._dtype.numpy
    if a.size >= 16 and a.flags.c_contiguous:
        vals = R.normal(gen, a.shape, dt, mean, std)
    else:
        vals = _fill_values(self, lambda n: R._from_double(
            R._fma64(R._normal_pairs_double(gen, n), std, mean), dt))
    return _commit(self, vals, NormalBackward0)


def _random_values(a: np.ndarray, dtype: D.dtype, gen: Generator, low, high) -> np.ndarray:
    """``ember._random.random_`` laid out like ``a``, with torch's dtype names in messages."""
    dt = dtype.numpy
    if dtype is D.float16 and low is not None and (high is None or low < high):
        # torch's update_from/update_to cast the bound to half first; past the largest half
        # that overflows, and the range check that follows fails
        if abs(low + 1) >= 65520:
            raise RuntimeError("from is out of bounds for c10::Half")
        if high is not None and abs(high - 1) >= 65520:
            raise RuntimeError("to - 1 is out of bounds for c10::Half")
    try:
        vals = _place(R.random_(gen, (a.size,), dt, low, high), a.shape, _iter_axes(a))
    except RuntimeError as e:
        msg = str(e)
        suffix = f" for {dt}"
        if msg.endswith(suffix):
            msg = msg[: -len(suffix)] + f" for {_C_NAME[dtype.name]}"
        raise RuntimeError(msg) from None
    if dtype.category == D.FLOATING and low is not None and (high, low) != (None, -(2**63)):
        _warn_float_range(dtype, low, high)
    return vals


def _warn_float_range(dtype: D.dtype, low: int, high: int | None) -> None:
    """torch's warning for float bounds beyond the integers the dtype holds exactly."""
    dt = dtype.numpy
    digits = R._digits(dt)
    frm = R._update_from(dt, low)
    if high is None:
        to_inc = min(1 << digits, 2**63 - 1)
    else:
        to_inc = R._update_to(dt, int(high)) - 1
    for value, name in ((frm, "from"), (to_inc, "to - 1")):
        if not -(1 << digits) <= value <= 1 << digits:
            warnings.warn(
                f"{name} is out of bounds [-(2^{digits}), 2^{digits}]. Due to precision "
                f"limitations {_C_NAME[dtype.name]} can support discrete uniform distribution "
                "only within this range. This warning will become an error in version 1.7 "
                "release, please fix the code in advance", UserWarning, stacklevel=4)


def random_(self: Tensor, from_=_MISSING, to=_MISSING, *,
            generator: Generator | None = None, **kwargs) -> Tensor:
    """Fill with integers: ``random_()`` the dtype's whole range, ``random_(to)`` [0, to),
    ``random_(from, to)`` [from, to), ``random_(from, None)`` [from, dtype max]."""
    if kwargs:
        from_ = _pop_from(kwargs, "random_", from_)
        if to is _MISSING:
            raise _invalid_combination("random_", (), {"from": from_})
    given = tuple(v for v in (from_, to) if v is not _MISSING)
    if not given:
        low, high, node_cls = None, None, RandomBackward2
    elif len(given) == 1:  # random_(to) or random_(to=...)
        low, high, node_cls = 0, _as_int(given[0]), RandomBackward1
        if high is None:
            raise _invalid_combination("random_", given, {})
    else:
        low, high, node_cls = _as_int(from_), None if to is None else _as_int(to), RandomBackward0
        if low is None or (to is not None and high is None):
            raise _invalid_combination("random_", given, {})
    check_inplace(self)
    vals = _random_values(self._array, self._dtype, _gen(generator), low, high)
    return _commit(self, vals, node_cls)


def _bernoulli_p_array(p: Tensor, shape: tuple) -> np.ndarray:
    """``p`` broadcast to ``shape`` (torch's expand_inplace), then its dtype and range checks."""
    try:
        pb = np.broadcast_to(p._array, shape)
    except ValueError:
        p.expand(shape)  # raises torch's message
        raise
    if p._dtype.category != D.FLOATING:
        raise NotImplementedError('"bernoulli_tensor_cpu_p_" not implemented for '
                                  f"'{_SCALAR_NAME[p._dtype.name]}'")
    if pb.size and not np.all((pb >= 0) & (pb <= 1)):
        raise RuntimeError(
            "Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error "
            "message be improved?  If so, please report an enhancement request to PyTorch.)")
    return pb


def _bernoulli_tensor_values(gen: Generator, out: np.ndarray, pb: np.ndarray,
                             dt: np.dtype) -> np.ndarray:
    """One uniform per element, visited in TensorIterator's order over (out, p)."""
    axes = _iter_axes(out, pb)
    p_flat = (pb if axes is None else pb.transpose(axes)).reshape(-1)
    vals = R.bernoulli(gen, np.ascontiguousarray(p_flat), (p_flat.size,), dt)
    return _place(vals, out.shape, axes)


def _check_bernoulli_scalar(p: float) -> float:
    p = float(p)
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_cfmt(p)}")
    return p


def bernoulli_(self: Tensor, p: float | Tensor = 0.5, *,
               generator: Generator | None = None) -> Tensor:
    """Fill with 0/1 draws: a float ``p`` compares double uniforms, a tensor ``p`` (broadcast
    to ``self``) float or double uniforms by its own dtype."""
    check_inplace(self)
    gen = _gen(generator)
    if isinstance(p, Tensor):
        pb = _bernoulli_p_array(p, self._array.shape)
        vals = _bernoulli_tensor_values(gen, self._array, pb, self._dtype.numpy)
        return _commit(self, vals, BernoulliBackward1, p)
    p = _check_bernoulli_scalar(p)
    vals = _fill_values(self, lambda n: R.bernoulli(gen, p, (n,), self._dtype.numpy))
    return _commit(self, vals, BernoulliBackward2)


def exponential_(self: Tensor, lambd: float = 1.0, *,
                 generator: Generator | None = None) -> Tensor:
    """Fill with Exp(lambd) draws: ``-1/lambd * log1p(-u)`` on double uniforms."""
    lambd = float(lambd)
    check_inplace(self)
    if not lambd > 0.0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_cfmt(lambd)}")
    _continuous_only(self, "Exponential", _SCALAR_NAME[self._dtype.name])
    gen = _gen(generator)
    vals = _fill_values(self, lambda n: R.exponential(gen, (n,), self._dtype.numpy, lambd))
    return _commit(self, vals, ExponentialBackward0)


def geometric_(self: Tensor, p: float, *, generator: Generator | None = None) -> Tensor:
    """Fill with the number of Bernoulli(p) trials up to the first success (any non-bool
    dtype, as torch)."""
    p = float(p)
    check_inplace(self)
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_cfmt(p)}")
    if self._dtype is D.bool_:
        raise NotImplementedError("\"geometric_cpu\" not implemented for 'Bool'")
    gen = _gen(generator)
    vals = _fill_values(self, lambda n: R.geometric(gen, (n,), self._dtype.numpy, p))
    return _commit(self, vals, GeometricBackward0)


def log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *,
                generator: Generator | None = None) -> Tensor:
    """Fill with exp(N(mean, std**2)), always from ``normal_distribution<double>`` pairs."""
    mean, std = float(mean), float(std)
    check_inplace(self)
    if not std > 0.0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_cfmt(std)}")
    _need_float(self, "log_normal_cpu")
    gen = _gen(generator)
    vals = _fill_values(self, lambda n: R.log_normal(gen, (n,), self._dtype.numpy, mean, std))
    return _commit(self, vals, LogNormalBackward0)


def cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *,
            generator: Generator | None = None) -> Tensor:
    """Fill with Cauchy(median, sigma) draws: ``median + sigma * tan(pi * (u - 0.5))``."""
    median, sigma = float(median), float(sigma)
    check_inplace(self)
    if not sigma > 0.0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_cfmt(sigma)}")
    _continuous_only(self, "Cauchy", _C_NAME[self._dtype.name])
    gen = _gen(generator)
    vals = _fill_values(self, lambda n: R.cauchy(gen, (n,), self._dtype.numpy, median, sigma))
    return _commit(self, vals, CauchyBackward0)


# ----- new tensors -------------------------------------------------------------------------
def bernoulli(input: Tensor, p: float | None = None, *,
              generator: Generator | None = None) -> Tensor:
    """0/1 draws shaped like ``input``: with probabilities ``input`` (a float tensor), or with
    one probability ``p`` for every element (then any dtype).  torch fills a contiguous
    result, so the elements are drawn in logical order whatever ``input``'s layout."""
    gen = _gen(generator)
    a = input._array
    dt = input._dtype.numpy
    if p is None:
        pb = _bernoulli_p_array(input, a.shape)
        vals = R.bernoulli(gen, np.ascontiguousarray(pb).reshape(-1), (a.size,), dt)
        node_cls = BernoulliBackward0
    else:
        if isinstance(p, Tensor):
            raise _invalid_combination("bernoulli", (input, p), {})
        vals = R.bernoulli(gen, _check_bernoulli_scalar(p), (a.size,), dt)
        node_cls = _BernoulliNotImplemented
    out = _wrap(vals.reshape(a.shape), input._dtype)
    if requires_grad(input):
        set_history(out, new_node(node_cls, (edge(input),), out._array))
    return out


def _multinomial_checks(a: np.ndarray, dtype: D.dtype, num_samples: int,
                        replacement: bool) -> None:
    if not 1 <= a.ndim <= 2:
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if dtype.category != D.FLOATING:
        raise RuntimeError("multinomial only supports floating-point dtypes for input, got: "
                           f"{_SCALAR_NAME[dtype.name]}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n_cat = a.shape[-1]
    if not replacement and num_samples > n_cat:
        raise RuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if n_cat > 1 << 24:
        raise RuntimeError("number of categories cannot exceed 2^24")


def _check_rows_with_replacement(rows: np.ndarray) -> None:
    """torch's per-row scan: the first bad entry (negative or NaN, then infinite) or an
    all-zero row, whichever torch meets first in row-major order."""
    neg = ~(rows >= 0)
    inf = ~np.isfinite(rows)
    bad = neg | inf
    zero = ~np.any(rows > 0, axis=1)
    row_bad = bad.any(axis=1) | zero
    if not row_bad.any():
        return
    i = int(np.argmax(row_bad))
    if bad[i].any():
        j = int(np.argmax(bad[i]))
        if neg[i, j]:
            raise RuntimeError(
                "invalid multinomial distribution (encountering probability entry < 0)")
        raise RuntimeError(
            "invalid multinomial distribution (encountering probability entry = infinity or NaN)")
    raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Category indices (int64) drawn from each row of ``input``'s weights.

    Without replacement (or for one sample) torch takes the top ``num_samples`` of
    ``p / q`` with ``q ~ Exp(1)`` filled in ``input``'s memory order; with replacement it
    searches each row's normalised cumulative sum (kept in float for half inputs).
    """
    num_samples = _int_arg(num_samples, "multinomial", "num_samples", 2)
    if not isinstance(replacement, (bool, np.bool_)):
        raise TypeError("multinomial(): argument 'replacement' (position 3) must be bool, not "
                        f"{type(replacement).__name__}")
    gen = _gen(generator)
    a = input._array
    _multinomial_checks(a, input._dtype, num_samples, replacement)
    rows = a.reshape(-1, a.shape[-1])
    out_shape = (num_samples,) if a.ndim == 1 else (a.shape[0], num_samples)
    if rows.shape[0] == 0:
        return _wrap(np.empty(out_shape, dtype=np.int64), D.int64)
    if not replacement or num_samples == 1:
        if not (np.all(a < np.inf) and np.all(a >= 0)):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if np.any(~np.any(rows > 0, axis=1)):
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        q = _fill_values(input, lambda n: R.exponential(gen, (n,), a.dtype, 1.0))
        key = (a / q).reshape(rows.shape)
        if num_samples == 1:
            idx = np.argmax(key, axis=1)[:, None]
        else:
            idx = np.argsort(-key, axis=1, kind="stable")[:, :num_samples]
        result = idx.astype(np.int64).reshape(out_shape)
    else:
        _check_rows_with_replacement(rows)
        probs = rows.astype(np.float32) if rows.dtype == np.float16 else rows
        result = R.multinomial(gen, np.ascontiguousarray(probs), num_samples, True)
        result = result.reshape(out_shape)
    return _wrap(result, D.int64)


def _finish(array: np.ndarray, dtype: D.dtype, requires_grad: bool) -> Tensor:
    """A new tensor; as in torch, ``requires_grad`` is refused only after the draw."""
    t = _wrap(array, dtype)
    if requires_grad:
        if dtype.category != D.FLOATING:
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients")
        t._requires_grad = True
    return t


def randperm(n: int, *, generator: Generator | None = None, dtype: D.dtype | None = None,
             requires_grad: bool = False, device=None) -> Tensor:
    """A random permutation of ``0 .. n-1`` (torch's in-place Fisher-Yates on ``random()``)."""
    if device is not None:
        require_cpu(device)
    n = _int_arg(n, "randperm", "n", 1)
    dtype = D.int64 if dtype is None else D.to_dtype(dtype)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    if dtype is D.bool_:
        raise NotImplementedError("\"randperm\" not implemented for 'Bool'")
    top = n - 1 if n > 0 else n
    if dtype.category == D.INTEGER:
        over = top > np.iinfo(dtype.numpy).max
    else:
        over = top > np.finfo(dtype.numpy).max
    if over:
        raise RuntimeError(
            f"value cannot be converted to type {_CONVERT_NAME[dtype.name]} without overflow")
    limits = {"float16": (11, "2049"), "float32": (24, "2^24+1"), "float64": (53, "2^53+1")}
    if dtype.name in limits:
        bits, text = limits[dtype.name]
        if n > (1 << bits) + 1:
            raise RuntimeError(
                f"n cannot be greater than {text} for {_SCALAR_NAME[dtype.name]} type.")
    array = R.randperm(_gen(generator), n, dtype.numpy)
    return _finish(array, dtype, requires_grad)


def randint_like(input: Tensor, low: int | None = None, high: int | None = None, *,
                 generator: Generator | None = None, dtype: D.dtype | None = None,
                 requires_grad: bool = False, device=None) -> Tensor:
    """Integers in [low, high) shaped like ``input`` (``randint_like(x, high)`` means
    [0, high)); torch fills an ``empty_like(input)``, so in ``input``'s memory order."""
    if device is not None:
        require_cpu(device)
    bounds = tuple(v for v in (low, high) if v is not None)
    if not bounds or any(_as_int(v) is None for v in bounds):
        raise _invalid_combination("randint_like", (input, *bounds), {})
    if high is None:
        low, high = 0, low
    elif low is None:
        low = 0
    low, high = _as_int(low), _as_int(high)
    dtype = input._dtype if dtype is None else D.to_dtype(dtype)
    if not low < high:
        raise RuntimeError("random_ expects 'from' to be less than 'to', but got "
                           f"from={low} >= to={high}")
    vals = _random_values(input._array, dtype, _gen(generator), low, high)
    return _finish(np.asarray(vals, dtype=dtype.numpy), dtype, requires_grad)


# ----- what the lead binds --------------------------------------------------------------------
TENSOR_METHODS = {
    "uniform_": uniform_,
    "normal_": normal_,
    "random_": random_,
    "bernoulli_": bernoulli_,
    "exponential_": exponential_,
    "geometric_": geometric_,
    "log_normal_": log_normal_,
    "cauchy_": cauchy_,
    "bernoulli": bernoulli,
    "multinomial": multinomial,
}

FUNCTIONS = ["bernoulli", "multinomial", "randperm", "randint_like"]
