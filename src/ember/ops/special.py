"""The gamma function family: ``lgamma``, ``digamma``, ``polygamma``, computed in NumPy.

No SciPy: each is evaluated in float64 with a recurrence that moves the argument where an
asymptotic series converges fast, plus a reflection formula for negative arguments; float32
inputs are computed in float64 and rounded. The derivative of each is the next one
(lgamma' = digamma, digamma' = polygamma(1, .), polygamma(n, .)' = polygamma(n + 1, .)), so
every order of derivative is available.
"""

from __future__ import annotations

import math

import numpy as np

from ember import _dtype as D
from ember.ops._core import (
    FLOATING,
    Node,
    SavedTensor,
    Tensor,
    edge,
    grad_state,
    new_node,
    set_history,
    wrap,
)
from ember.ops.elementwise import _check_tensor, _float_array, _float_dtype, _inplace

_EULER_GAMMA = 0.57721566490153286061
_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)
# Bernoulli numbers B_2, B_4, ..., B_20
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
              43867 / 798, -174611 / 330)


# ----- Hurwitz zeta: sum over k >= 0 of (q + k)**-s --------------------------------------------
def _hurwitz_zeta(s: int, q: np.ndarray) -> np.ndarray:
    """zeta(s, q) for an integer s >= 2: the first terms summed directly until q + k >= 10,
    then the Euler-Maclaurin tail (integral, half term, Bernoulli corrections)."""
    q = np.asarray(q, dtype=np.float64)
    pole = (q <= 0) & (q == np.floor(q))
    finite = np.isfinite(q) & ~pole
    start = q[finite]
    # terms until q + k >= 10 (a million at most: far-negative non-integers are rare)
    count = int(min(max(0.0, math.ceil(10.0 - start.min())), 2**20)) if start.size else 0
    total = np.zeros_like(q)
    a = np.where(finite, q, 10.0)
    with np.errstate(all="ignore"):
        for _ in range(count):
            total += a ** -s
            a = a + 1
        # the tail at a >= 10
        tail = a ** (1 - s) / (s - 1) + 0.5 * a ** -s
        rising = float(s)  # s (s + 1) ... (s + 2j - 2)
        power = a ** (-s - 1)
        factorial = 2.0  # (2j)!
        for j, b in enumerate(_BERNOULLI, 1):
            tail += b / factorial * rising * power
            rising *= (s + 2 * j - 1) * (s + 2 * j)
            power = power / (a * a)
            factorial *= (2 * j + 1) * (2 * j + 2)
        total += tail
    # poles at 0 and the negative integers; +inf has no finite limit in this sum form
    return np.where(pole, np.inf, np.where((q == np.inf) | np.isnan(q), np.nan, total))


_ZETA_MINUS_ONE = np.array([_hurwitz_zeta(k, np.array(2.0)) for k in range(2, 41)])
"""zeta(k) - 1 for k = 2..40 (zeta(k, 2) is exactly that), the lgamma series' coefficients."""


# ----- lgamma ---------------------------------------------------------------------------------
def _lgamma_near_one(z: np.ndarray) -> np.ndarray:
    """lgamma(1 + z) for |z| <= 1/2: the Taylor series at 1 with log(1 + z) split off, so its
    coefficients (zeta(k) - 1) / k fall like 2**-k."""
    total = np.zeros_like(z)
    for k in range(40, 1, -1):
        total = (total + (-1) ** k * _ZETA_MINUS_ONE[k - 2] / k) * z
    return -np.log1p(z) + z * (1 - _EULER_GAMMA) + total * z


def _lgamma_stirling(x: np.ndarray) -> np.ndarray:
    inv = 1.0 / x
    inv2 = inv * inv
    series = np.zeros_like(x)
    for j in range(len(_BERNOULLI) - 3, 0, -1):  # B_2 .. B_14 terms, ample for x >= 15
        series = (series + _BERNOULLI[j] / ((2 * j + 2) * (2 * j + 1))) * inv2
    series = (series + _BERNOULLI[0] / 2) * inv
    return (x - 0.5) * np.log(x) - x + _HALF_LOG_TWO_PI + series


def _lgamma_positive(x: np.ndarray) -> np.ndarray:
    """lgamma for x > 0 (finite)."""
    out = np.empty_like(x)
    big = x >= 15
    out[big] = _lgamma_stirling(x[big])
    small = x < 0.5
    xs = x[small]
    out[small] = _lgamma_near_one(xs) - np.log(xs)  # lgamma(x) = lgamma(x + 1) - log(x)
    middle = ~big & ~small
    y = x[middle].copy()
    product = np.ones_like(y)
    while True:  # down to [0.5, 2.5) by lgamma(y) = lgamma(y - 1) + log(y - 1): positive logs
        step = y >= 2.5
        if not step.any():
            break
        product[step] *= y[step] - 1
        y[step] -= 1
    upper = y >= 1.5  # lgamma(2 + z) = lgamma(1 + z) + log(1 + z)
    z = np.where(upper, y - 2, y - 1)
    out[middle] = _lgamma_near_one(z) + np.where(upper, np.log1p(z), 0.0) + np.log(product)
    return out


def _sinpi(x: np.ndarray) -> np.ndarray:
    """sin(pi x), reduced to [-1/2, 1/2] first so that it stays accurate for large x."""
    n = np.round(x)
    return np.sin(np.pi * (x - n)) * np.where(np.fmod(n, 2) == 0, 1.0, -1.0)


def _lgamma64(x: np.ndarray) -> np.ndarray:
    out = np.full_like(x, np.inf)  # poles, +-inf
    with np.errstate(all="ignore"):
        out[np.isnan(x)] = np.nan
        positive = (x > 0) & np.isfinite(x)
        out[positive] = _lgamma_positive(x[positive])
        negative = (x < 0) & np.isfinite(x) & (x != np.floor(x))
        xn = x[negative]
        # reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x)
        out[negative] = (np.log(np.pi / np.abs(_sinpi(xn)))
                         - _lgamma_positive(1 - xn))
    return out


# ----- digamma and polygamma ------------------------------------------------------------------
def _digamma_positive(x: np.ndarray) -> np.ndarray:
    shift = np.zeros_like(x)
    y = x.copy()
    while True:  # up to y >= 10: psi(y) = psi(y + 1) - 1 / y
        step = y < 10
        if not step.any():
            break
        shift[step] -= 1 / y[step]
        y[step] += 1
    inv2 = 1 / (y * y)
    series = np.zeros_like(y)
    for j in range(7, 0, -1):  # sum B_2j / (2j y**2j)
        series = (series + _BERNOULLI[j - 1] / (2 * j)) * inv2
    return shift + np.log(y) - 0.5 / y - series


def _digamma64(x: np.ndarray) -> np.ndarray:
    out = np.full_like(x, np.nan)  # NaN, -inf, negative integers
    with np.errstate(all="ignore"):
        out[x == np.inf] = np.inf
        zero = x == 0  # the pole's two sides: -inf at +0.0, +inf at -0.0
        out[zero] = np.copysign(np.inf, -x[zero])
        positive = (x > 0) & np.isfinite(x)
        out[positive] = _digamma_positive(x[positive])
        negative = (x < 0) & np.isfinite(x) & (x != np.floor(x))
        xn = x[negative]
        # reflection: psi(1 - x) - psi(x) = pi / tan(pi x), with the fraction of x in the tan
        out[negative] = _digamma_positive(1 - xn) - np.pi / np.tan(np.pi * (xn - np.trunc(xn)))
    return out


def _trigamma(x: np.ndarray, rounding: np.dtype) -> np.ndarray:
    """polygamma(1, x). Below 1/2 the reflection psi1(x) = pi**2 / sin(pi x)**2 - psi1(1 - x)
    with sin taken in the input's precision, as torch: at the poles (the non-positive integers)
    sin(pi x) is then a rounding residue and the result huge but finite, exactly as torch's."""
    out = np.empty_like(x)
    with np.errstate(all="ignore"):
        low = x < 0.5
        xl = x[low]
        sine = np.sin(xl.astype(rounding) * rounding.type(np.pi)).astype(np.float64)
        out[low] = (np.pi * np.pi) / (sine * sine) - _hurwitz_zeta(2, 1 - xl)
        out[~low] = _hurwitz_zeta(2, x[~low])
        out[x == np.inf] = 0.0
    return out


def _polygamma64(n: int, x: np.ndarray, rounding: np.dtype) -> np.ndarray:
    if n == 0:
        return _digamma64(x)
    if n == 1:
        return _trigamma(x, rounding)
    # (-1)**(n + 1) n! zeta(n + 1, x); at -inf the sum form's pole value, +inf
    zeta = np.where(x == -np.inf, np.inf, _hurwitz_zeta(n + 1, x))
    with np.errstate(all="ignore"):
        return (-1.0) ** (n + 1) * math.factorial(n) * zeta


def _in_float64(function, a: np.ndarray) -> np.ndarray:
    result = function(np.asarray(a, dtype=np.float64))
    if a.dtype == np.float64:
        return result
    with np.errstate(over="ignore"):  # beyond float32's range: inf, as torch gives
        return result.astype(a.dtype)


# ----- the ops --------------------------------------------------------------------------------
class LgammaBackward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (grad * _formula_polygamma(0, xp.saved(self.self_)),)


class DigammaBackward0(Node):
    __slots__ = ("self_",)
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (grad * _formula_polygamma(1, xp.saved(self.self_)),)


class PolygammaBackward0(Node):
    __slots__ = ("self_", "n")
    _saved_fields = ("self_",)

    def backward(self, grad, xp):
        return (grad * _formula_polygamma(self.n + 1, xp.saved(self.self_)),)


def _formula_polygamma(n: int, x):
    """polygamma(n, x) on an array (a backward) or a tensor (recording, for create_graph)."""
    if isinstance(x, np.ndarray):
        return _in_float64(lambda a: _polygamma64(n, a, x.dtype), x)
    return polygamma(n, x)


def _special(input: Tensor, name: str, function, node_cls, n: int | None = None) -> Tensor:
    _check_tensor(input, name)
    a = _float_array(input)
    out = wrap(_in_float64(function, a), _float_dtype(input))
    if input._requires_grad and grad_state.enabled:
        node = new_node(node_cls, (edge(input),), out._array)
        node.self_ = SavedTensor(input)
        if n is not None:
            node.n = n
        set_history(out, node)
    return out


def lgamma(input: Tensor) -> Tensor:
    """log |Gamma(input)|."""
    return _special(input, "lgamma", _lgamma64, LgammaBackward0)


def digamma(input: Tensor) -> Tensor:
    """d/dx log Gamma(x); -inf at +0.0, +inf at -0.0, NaN at the negative integers."""
    return _special(input, "digamma", _digamma64, DigammaBackward0)


def polygamma(n: int, input: Tensor) -> Tensor:
    """The n-th derivative of digamma."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"polygamma(): argument 'n' (position 1) must be int, not "
                        f"{type(n).__name__ if not isinstance(n, Tensor) else 'Tensor'}")
    if not isinstance(input, Tensor):
        raise TypeError(f"polygamma(): argument 'input' (position 2) must be Tensor, not "
                        f"{type(input).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    rounding = (input._dtype if input._dtype.category == FLOATING else D.get_default_dtype()).numpy
    return _special(input, "polygamma", lambda a: _polygamma64(n, a, np.dtype(rounding)),
                    PolygammaBackward0, n)


def _polygamma_method(self: Tensor, n: int) -> Tensor:
    return polygamma(n, self)


class PolygammaBackward1(PolygammaBackward0):
    """``polygamma_``: the in-place form's own node name in torch."""

    __slots__ = ()


def _polygamma_(self: Tensor, n: int) -> Tensor:
    def run(source: Tensor, n: int) -> Tensor:
        out = polygamma(n, source)
        node = out.grad_fn
        if node is not None and node.__class__ is PolygammaBackward0:
            inplace_node = new_node(PolygammaBackward1, node.next_functions, out._array)
            inplace_node.self_, inplace_node.n = node.self_, n
            set_history(out, inplace_node)
        return out

    return _inplace(run)(self, n)


lgamma_ = _inplace(lgamma)
digamma_ = _inplace(digamma)

# The names ``ember`` exports from this family, and the Tensor methods it adds.
__all__: list[str] = ["digamma", "lgamma", "polygamma"]
TENSOR_METHODS: dict = {
    "lgamma": lgamma, "digamma": digamma, "polygamma": _polygamma_method, "lgamma_": lgamma_,
    "digamma_": digamma_, "polygamma_": _polygamma_,
}
