"""torch's CPU random number generator, bit for bit, on NumPy arrays.

torch draws every random CPU tensor from one 32-bit Mersenne Twister (mt19937, seeded with
the classic ``init_genrand``) and turns its words into samples with the kernels in
``aten/src/ATen/core/DistributionsHelper.h``, ``TransformationHelper.h`` and
``aten/src/ATen/native/cpu/DistributionTemplates.h``.  This module replays those kernels
with vectorised NumPy so that, after the same ``manual_seed``, ember and torch produce the
same bits and leave their generators in the same state.

Facts the code below relies on (checked against torch 2.13 on x86-64):

* ``random()`` is one 32-bit word; ``random64()`` is two, the first being the high half.
* A float sample uses 24 bits of one word, ``(w & (2**24-1)) * 2**-24``; a double sample
  53 bits of a ``random64()``.  ``uniform_(a, b)`` is ``fma(x, b - a, a)`` in the
  dtype's precision (GCC contracts ``x * (to - from) + from``).
* ``normal_`` on a contiguous tensor with at least 16 elements fills it with uniforms and
  applies Box-Muller to blocks of 16 (u1 from the first 8, u2 from the last 8); a ragged
  tail re-draws 16 fresh uniforms for the last 16 slots.  Doubles use glibc's
  log/cos/sin (NumPy's float64 ufuncs call the same libm); floats use the AVX2 kernel with
  ``avx_mathfun.h``'s Cephes ``log256_ps``/``sincos256_ps``, compiled with FMA
  contraction - replayed below in :func:`_normal_fill_f32`.  Large fills run the log
  polynomial unfused in plain float32, which is cheaper in NumPy and changes the radius of
  11,138 of the 2**24 possible words; those are looked up and corrected from a shipped
  list (``_log_radius_exceptions.npy``), which the tests remake over every word.
* Smaller tensors, ``log_normal_`` and the scalar fallbacks use ``normal_distribution<
  double>``: two double uniforms per pair, the sine half cached in the generator for the
  next call.
* ``random_``/``randint`` reduce a word modulo the range; ranges of ``2**28`` or more use
  ``random64()``.

Known gaps: torch builds for other CPU capabilities (AVX512, plain) run a different float
``normal_`` kernel; on Intel CPUs ``bernoulli_(float p)`` goes through MKL; ``randperm``
of ``2**32/20`` or more elements (torch's random64 variant) is not replayed.  Half
precision follows torch's float-then-half path; bfloat16 has no NumPy dtype.
"""

from __future__ import annotations

import math
import os
import threading
from fractions import Fraction
from pathlib import Path
from typing import Union

import numpy as np

__all__ = [
    "Generator",
    "default_generator",
    "manual_seed",
    "uniform",
    "normal",
    "randint",
    "randperm",
    "bernoulli",
    "exponential",
    "geometric",
    "log_normal",
    "cauchy",
    "random_",
    "multinomial",
]

DEFAULT_SEED = 67280421310721
_U64 = (1 << 64) - 1
_MT_N = 624

Shape = tuple
Scalar = Union[int, float]
ArrayOrScalar = Union[np.ndarray, int, float]

# ----- generator state, laid out like torch's CPUGeneratorImplState (x86-64) ----------------
_STATE_DTYPE = np.dtype(
    {
        "names": [
            "the_initial_seed", "left", "seeded", "next", "state",
            "normal_x", "normal_y", "normal_rho", "normal_is_valid",
            "next_float_normal_sample", "is_next_float_normal_sample_valid",
        ],
        "formats": [
            "<u8", "<i4", "<i4", "<u8", ("<u8", (_MT_N,)),
            "<f8", "<f8", "<f8", "<i4",
            "<f4", "u1",
        ],
        "offsets": [0, 8, 12, 16, 24, 5016, 5024, 5032, 5040, 5048, 5052],
        "itemsize": 5056,
    }
)


def _polynomial_steps(t, z64, p0, k1, m1, k2, m2) -> None:
    """``t = (p0*z + k1 - m1)*z + k2 - m2`` in place: the two fma steps the sine and cosine
    polynomials of the float normal kernel share (with their own constants), each rounded
    to float by its ``_magic`` pair."""
    np.multiply(z64, p0, t)
    np.add(t, k1, t)
    np.subtract(t, m1, t)
    np.multiply(t, z64, t)
    np.add(t, k2, t)
    np.subtract(t, m2, t)


class Generator:
    """A CPU generator: mt19937 plus torch's cached normal samples.

    The engine is NumPy's ``MT19937`` bit generator, whose raw 32-bit output is the same
    stream as torch's ``at::mt19937`` once both hold the same key.
    """

    def __init__(self, seed: int = DEFAULT_SEED) -> None:
        self._bitgen = np.random.MT19937(0)
        self._legacy = np.random.RandomState(self._bitgen)
        self.device = "cpu"
        self.manual_seed(seed)

    # -- seeding -------------------------------------------------------------------------
    def manual_seed(self, seed: int) -> Generator:
        """Seed like ``torch.Generator.manual_seed``: negative seeds wrap to uint64."""
        seed = int(seed)
        if not -(1 << 63) <= seed <= _U64:
            raise RuntimeError("Overflow when unpacking long")
        seed &= _U64
        # mt19937's init_genrand (key and position 624), through the private method NumPy's
        # RandomState seeds with: 2 us, where building a RandomState for its key took 160
        self._bitgen._legacy_seeding(seed & 0xFFFFFFFF)
        self._initial_seed = seed
        self._fresh = True  # torch's engine says next_=0 (not 624) until the first draw
        self._next_double_normal: float | None = None
        self._next_float_normal: float | None = None
        return self

    def seed(self) -> int:
        """Reseed from the OS entropy pool (53 bits, as torch) and return the seed."""
        seed = int.from_bytes(os.urandom(8), "little") & ((1 << 53) - 1)
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._initial_seed

    # -- state ---------------------------------------------------------------------------
    def get_state(self):
        """The state as a uint8 tensor in torch's 5056-byte layout (round-trips with torch)."""
        from ember._dtype import uint8
        from ember._tensor import _wrap

        return _wrap(self._state_bytes(), uint8)

    def _state_bytes(self) -> np.ndarray:
        st = np.zeros((), dtype=_STATE_DTYPE)
        key, pos = self._engine()
        st["the_initial_seed"] = self._initial_seed
        st["left"] = _MT_N + 1 - pos
        st["seeded"] = 1
        st["next"] = 0 if self._fresh else pos
        st["state"] = key.astype(np.uint64)
        if self._next_double_normal is not None:
            st["normal_is_valid"] = 1
            st["normal_y"] = self._next_double_normal
        if self._next_float_normal is not None:
            st["is_next_float_normal_sample_valid"] = 1
            st["next_float_normal_sample"] = self._next_float_normal
        return np.frombuffer(st.tobytes(), dtype=np.uint8).copy()

    def set_state(self, new_state) -> Generator:
        """Load a state from :meth:`get_state` (or ``torch.get_rng_state().numpy()``)."""
        raw = np.ascontiguousarray(np.asarray(new_state, dtype=np.uint8)).ravel()
        if raw.size != _STATE_DTYPE.itemsize:
            raise RuntimeError(
                f"Expected a CPUGeneratorImplState of size {_STATE_DTYPE.itemsize} but found "
                f"the input RNG state size to be {raw.size}"
            )
        st = np.frombuffer(raw.tobytes(), dtype=_STATE_DTYPE)[0]
        left, nxt = int(st["left"]), int(st["next"])
        if not (st["seeded"] and 0 < left <= _MT_N and nxt <= _MT_N):
            raise RuntimeError("Invalid mt19937 state")
        if left != 1 and nxt + left != _MT_N + 1:
            raise RuntimeError("mt19937 state with left/next out of step is not supported")
        self._set_engine(st["state"].astype(np.uint32), _MT_N + 1 - left)
        self._initial_seed = int(st["the_initial_seed"])
        self._fresh = left == 1 and nxt == 0
        self._next_double_normal = float(st["normal_y"]) if st["normal_is_valid"] else None
        self._next_float_normal = (
            float(st["next_float_normal_sample"])
            if st["is_next_float_normal_sample_valid"] else None
        )
        return self

    def _engine(self) -> tuple:
        s = self._bitgen.state["state"]
        return np.asarray(s["key"], dtype=np.uint32), int(s["pos"])

    def _set_engine(self, key: np.ndarray, pos: int) -> None:
        self._bitgen.state = {
            "bit_generator": "MT19937",
            "state": {"key": np.asarray(key, dtype=np.uint32), "pos": int(pos)},
        }

    # -- raw draws -----------------------------------------------------------------------
    def _random(self, n: int) -> np.ndarray:
        """``n`` consecutive ``random()`` words (uint64 array holding 32-bit values)."""
        if n <= 0:
            return np.empty(0, dtype=np.uint64)
        self._fresh = False
        return self._bitgen.random_raw(n)

    def _random64(self, n: int) -> np.ndarray:
        """``n`` consecutive ``random64()`` values: (first word << 32) | second word.

        RandomState's full-range uint64 draw is exactly this (one ``next_uint64`` per value,
        which mt19937 builds from two words, the first high) and costs 30% less per word
        than a 32-bit draw; small draws pair up single words instead."""
        if n <= 0:
            return np.empty(0, dtype=np.uint64)
        self._fresh = False
        if n < _RAW_PAIRS_MAX:  # randint's own overhead (~7 us) outweighs its speed
            words = self._bitgen.random_raw(2 * n)
            pairs = words[0::2] << _K_U64_32
            np.bitwise_or(pairs, words[1::2], pairs)
            return pairs
        return self._legacy.randint(0, 1 << 64, size=n, dtype=np.uint64)

    def __repr__(self) -> str:
        return f"<ember Generator seed={self._initial_seed}>"


default_generator = Generator()
# torch seeds its default generator from the OS at start-up (a random 64-bit initial_seed), so
# an unseeded program draws different numbers on every run; ember does the same.
default_generator.manual_seed(int.from_bytes(os.urandom(8), "little"))


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (torch.manual_seed)."""
    return default_generator.manual_seed(seed)


def _gen(gen: Generator | None) -> Generator:
    return default_generator if gen is None else gen


def _numel(shape) -> int:
    return math.prod(shape)


def _shape(shape) -> tuple:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


# ----- uniform words -> floats ---------------------------------------------------------------
# Below this many words a fill draws them one by one; above, as random64() pairs.
_PAIRED_DRAW_MIN = 12288
# random64() draws of fewer values pair up single words (see Generator._random64)
_RAW_PAIRS_MAX = 2048
# Large uniform fills work through their words this many at a time, in scratch buffers kept
# per thread: fresh multi-megabyte temporaries would cost more in page faults than the math.
_WORD_CHUNK = 1 << 16
_SCRATCH = threading.local()


def _scratch(name: str, n: int, dtype) -> np.ndarray:
    """A per-thread buffer of at least ``n`` elements, reused across calls."""
    buf = getattr(_SCRATCH, name, None)
    if buf is None or buf.size < n:
        buf = np.empty(n, dtype=dtype)
        setattr(_SCRATCH, name, buf)
    return buf[:n]


def _word_floats(gen: Generator, n: int, out: np.ndarray | None = None) -> np.ndarray:
    """The low 24 bits of the next ``n`` words, as float32 integers in stream order (into
    ``out`` when given).

    Large draws take the words as random64() pairs, a third cheaper per word than single
    draws: a pair holds its first word high, so a bit rotation puts the words in order
    (and an odd count takes its last word alone)."""
    if out is None:
        out = np.empty(n, dtype=np.float32)
    if n < _PAIRED_DRAW_MIN:
        out[...] = gen._random(n) & np.uint64(0xFFFFFF)
        return out
    pairs = gen._random64(n // 2)
    _swap_words(pairs, _scratch("low", pairs.size, np.uint64))
    np.bitwise_and(pairs, _K_MASK24X2, pairs)
    out[:n - n % 2] = pairs.view(np.int32)
    if n % 2:
        out[-1] = gen._random(1)[0] & 0xFFFFFF
    return out


def _swap_words(v: np.ndarray, scratch: np.ndarray) -> None:
    """Swap the two 32-bit halves of every uint64 of ``v`` in place (a bit rotation by 32),
    using ``scratch`` (as long as ``v``)."""
    np.right_shift(v, _K_U64_32, scratch)
    np.left_shift(v, _K_U64_32, v)
    np.bitwise_or(v, scratch, v)


def _lowest_bit(v: float) -> int:
    """The exponent of the lowest set bit of a nonzero finite double."""
    m, e = math.frexp(v)
    mant = int(abs(m) * (1 << 53))
    return e - 53 + ((mant & -mant).bit_length() - 1)


def _affine_is_exact(scale: float, shift: float) -> bool:
    """Whether ``w * scale + shift`` is exact in a double for every integer 0 <= w < 2**24:
    all such values are multiples of the lowest bit of either operand, so they are exact
    while their magnitude stays below 2**53 of those units."""
    if scale == 0 or shift == 0:
        return True
    unit = min(_lowest_bit(scale), _lowest_bit(shift))
    return abs(shift) + (2**24 - 1) * abs(scale) < math.ldexp(1.0, unit + 53)


def _u53(words64: np.ndarray) -> np.ndarray:
    """double uniforms in [0, 1): the low 53 bits of each random64 times 2**-53."""
    return (words64 & np.uint64((1 << 53) - 1)).astype(np.float64) * (2.0**-53)


def _uniform_double(gen: Generator, n: int) -> np.ndarray:
    """``n`` draws of ``uniform_real_distribution<double>(0, 1)``."""
    return _u53(gen._random64(n))


def _from_double(vals: np.ndarray, dt: np.dtype) -> np.ndarray:
    """static_cast<T>(double): c10::Half only converts from float, so half goes via float."""
    with np.errstate(over="ignore", invalid="ignore"):
        if dt == np.float16:
            return vals.astype(np.float32).astype(np.float16)
        return vals.astype(dt)


# ----- exact fused multiply-add ---------------------------------------------------------------
def _round_fraction(q: Fraction, dtype) -> float:
    """Round an exact rational to the nearest ``dtype`` value, ties to even."""
    if q == 0:
        return 0.0
    info = np.finfo(dtype)
    digits = info.nmant + 1
    a = abs(q)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    e = max(e, int(info.minexp))
    m = round(a / Fraction(2) ** (e - digits + 1))
    v = float(m * Fraction(2) ** (e - digits + 1)) if abs(m) < (1 << 1100) else math.inf
    return math.copysign(v, q)


def _fma32(a: np.ndarray, b, c) -> np.ndarray:
    """float32 ``fma(a, b, c)`` elementwise (one rounding), via float64.

    The product of two floats is exact in a double; the sum is too unless the operands are
    far apart, and then only a double that lands exactly on a float's rounding midpoint
    can mislead the final rounding - those rare elements are recomputed exactly.
    """
    a = np.asarray(a, dtype=np.float32)
    b32, c32 = np.float32(b), np.float32(c)
    if b32 == 1:
        return a + c32
    if c32 == 0:
        return (a * b32) + c32
    s = a.astype(np.float64) * np.float64(b32) + np.float64(c32)
    out = s.astype(np.float32)
    _fix_midpoints32(out, s, lambda i: (a.flat[i], b32, c32))
    return out


def _fix_midpoints32(out: np.ndarray, s: np.ndarray, operands) -> None:
    """Redo, exactly, elements whose double ``s`` may have double-rounded in ``out``."""
    bits = s.view(np.uint64)
    bad = (bits & np.uint64(0x1FFFFFFF)) == np.uint64(0x10000000)
    tiny = np.abs(s) < np.finfo(np.float32).tiny
    bad |= tiny & (s != 0)
    if not bad.any():
        return
    for i in np.flatnonzero(bad):
        a, b, c = operands(i)
        q = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
        out.flat[i] = np.float32(_round_fraction(q, np.float32))


def _two_prod(a: np.ndarray, b: np.ndarray):
    """Dekker's exact product: a*b == p + e."""
    p = a * b
    split = 134217729.0  # 2**27 + 1
    t = split * a
    ah = t - (t - a)
    al = a - ah
    t = split * b
    bh = t - (t - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def _two_sum(a: np.ndarray, b: np.ndarray):
    """Knuth's exact sum: a+b == s + e."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def _fma64(a: np.ndarray, b, c) -> np.ndarray:
    """float64 ``fma(a, b, c)`` elementwise, correctly rounded.

    Boldo & Melquiond's emulation: exact product and sum, the low parts added with rounding
    to odd, one final rounding to nearest.  (Overflow/underflow edge cases excepted.)
    """
    a = np.asarray(a, dtype=np.float64)
    scalars = type(b) is float and type(c) is float or np.ndim(b) == np.ndim(c) == 0
    if scalars and (b == 1.0 or c == 0.0):
        # one rounding either way: the scalar fast path of randn and normal_(mean, 1)
        return a + float(c) if b == 1.0 else a * float(b) + float(c)
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), a.shape)
    c = np.broadcast_to(np.asarray(c, dtype=np.float64), a.shape)
    if not np.any(b != 1.0):
        return a + c
    if not np.any(c != 0.0):
        return a * b + c
    uh, ul = _two_prod(a, b)
    th, tl = _two_sum(c, uh)
    v, ve = _two_sum(tl, ul)
    vb = v.view(np.int64)
    even = (vb & 1) == 0
    fix = (ve != 0) & even
    if fix.any():
        step = np.where((ve > 0) == (v > 0), 1, -1).astype(np.int64)
        v = np.where(fix, (vb + step).view(np.float64), v)
    return th + v


# ----- uniform ---------------------------------------------------------------------------------
_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _float_dtype(np_dtype, what: str) -> np.dtype:
    dt = np.dtype(np_dtype)
    if dt not in _FLOATS:
        raise TypeError(f"{what} not implemented for dtype {dt}")
    return dt


def uniform(gen: Generator | None, shape, np_dtype, low: float = 0.0,
            high: float = 1.0) -> np.ndarray:
    """``torch.rand`` / ``Tensor.uniform_(low, high)``: one word (float) or random64 (double)
    per element, ``fma(x, high - low, low)`` in the dtype's precision."""
    gen = _gen(gen)
    shape = _shape(shape)
    dt = _float_dtype(np_dtype, "uniform")
    low, high = float(low), float(high)
    if not low <= high:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={low} > to={high}")
    n = _numel(shape)
    if n == 0:
        return np.empty(shape, dtype=dt)
    if dt == np.float64:
        x = _u53(gen._random64(n))
        out = x if (low, high) == (0.0, 1.0) else _fma64(x, high - low, low)
        to_s, from_s = high, low
    elif dt == np.float32:
        if low == 0.0 and high == 1.0:  # skip the float32 scalars of the general case
            return _uniform_float(gen, n, 0.0, 1.0).reshape(shape)
        return _uniform_float(gen, n, np.float32(low), np.float32(high)).reshape(shape)
    else:
        x = _uniform_float(gen, n, 0.0, 1.0)  # the float uniforms half goes through
        lo32, hi32 = np.float32(low), np.float32(high)
        out = x if (low, high) == (0.0, 1.0) else _fma32(x, hi32 - lo32, lo32)
        out = out.astype(dt)
        to_s, from_s = dt.type(np.float32(high)), dt.type(np.float32(low))
    # torch maps a value that rounded up onto ``to`` back to ``from``
    out = np.where(out == to_s, from_s, out).astype(dt, copy=False)
    return out.reshape(shape)


def _uniform_float(gen: Generator, n: int, lo32: float, hi32: float) -> np.ndarray:
    """float32 ``uniform_(lo, hi)`` (bounds already float32 values): ``fma(w * 2**-24,
    hi - lo, lo)`` per word ``w``, then a value that rounded up onto ``hi`` becomes ``lo``.

    The fma is one double product and sum, exact for the ranges met in practice (checked
    once per call, not per element), so the cast to float is its single rounding; checking
    the largest possible word once tells whether any value can reach ``hi``."""
    plain = lo32 == 0 and hi32 == 1  # torch.rand: one scaling
    if plain and n <= _WORD_CHUNK:  # (small ones skip the chunk loop: a microsecond)
        x = _word_floats(gen, n)
        np.multiply(x, _K_TWO_M24, x)
        return x
    width = hi32 - lo32
    # uniform_(-b, b), as nn.init draws: w*2**-24 * 2b - b is exactly (w - 2**23) * b*2**-23,
    # an exact float difference times a power-of-two multiple of b: one float rounding
    symmetric = 0 < hi32 < np.inf and lo32 == -hi32 and math.ldexp(float(hi32), -23) >= 2**-126
    scale = math.ldexp(float(width), -24)
    exact = plain or symmetric or (
        math.isfinite(scale) and math.isfinite(lo32) and _affine_is_exact(scale, float(lo32)))
    if not exact:
        out = _fma32(_word_floats(gen, n) * _K_TWO_M24, width, lo32)
        out[out == hi32] = lo32
        return out
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, _WORD_CHUNK):
        x = _word_floats(gen, min(_WORD_CHUNK, n - start), out[start:start + _WORD_CHUNK])
        if plain:
            np.multiply(x, _K_TWO_M24, x)
        elif symmetric:
            np.subtract(x, np.float32(2.0**23), x)
            np.multiply(x, np.float32(math.ldexp(float(hi32), -23)), x)
        else:
            s = _scratch("affine", x.size, np.float64)
            np.multiply(x, np.float64(scale), s)  # in double: the product is exact
            np.add(s, float(lo32), s)
            x[...] = s
    # the largest word's value, exact in a double, tells whether any value reaches ``hi``
    # (the symmetric form never does: b - b*2**-23 rounds below b)
    if not (plain or symmetric) and np.float32((2**24 - 1) * scale + float(lo32)) >= hi32:
        out[out == hi32] = lo32
    return out


# ----- normal ----------------------------------------------------------------------------------
_SCALAR_PAIRS_MAX = 16
_M53, _TWO_M53 = (1 << 53) - 1, 2.0**-53


def _normal_pairs_double(gen: Generator, n: int) -> np.ndarray:
    """``n`` draws of ``normal_distribution<double>`` (before mean/std), in order.

    Each fresh pair draws u1, u2 (random64 each) and yields ``r*cos`` now and ``r*sin``
    later through the generator's cache, so the cache carries across calls.
    """
    out = np.empty(n, dtype=np.float64)
    if n == 0:
        return out
    start = 0
    if gen._next_double_normal is not None:
        out[0] = gen._next_double_normal
        gen._next_double_normal = None
        start = 1
    m = n - start
    if m == 0:
        return out
    pairs = (m + 1) // 2
    if pairs <= _SCALAR_PAIRS_MAX:
        # a few pairs: Python's math calls the same libm functions as torch's kernel, at a
        # fraction of the cost of a dozen NumPy calls on tiny arrays
        words = gen._random64(2 * pairs).tolist()
        both = []
        for i in range(0, 2 * pairs, 2):
            u1 = (words[i] & _M53) * _TWO_M53
            r = math.sqrt(-2.0 * math.log1p(-((words[i + 1] & _M53) * _TWO_M53)))
            theta = 2.0 * math.pi * u1
            both += (r * math.cos(theta), r * math.sin(theta))
        out[start:] = both[:m]
        if m % 2:
            gen._next_double_normal = both[-1]
        return out
    u = _u53(gen._random64(2 * pairs))
    u1, u2 = u[0::2], u[1::2]
    r = np.sqrt(-2.0 * np.log1p(-u2))
    theta = 2.0 * math.pi * u1
    both = np.empty(2 * pairs, dtype=np.float64)
    both[0::2] = r * np.cos(theta)
    both[1::2] = r * np.sin(theta)
    out[start:] = both[:m]
    if m % 2:
        gen._next_double_normal = float(both[-1])
    return out


def _normal_fill_f64(words64: np.ndarray, mean: float, std: float) -> np.ndarray:
    """NormalFill16<double>: Box-Muller on blocks of 16 double uniforms."""
    d = _u53(words64).reshape(-1, 2, 8)
    u1 = 1.0 - d[:, 0]
    u2 = d[:, 1]
    radius = np.sqrt(-2.0 * np.log(u1))
    theta = (2.0 * math.pi) * u2
    out = np.empty_like(d)
    out[:, 0] = _fma64(radius * np.cos(theta), std, mean)
    out[:, 1] = _fma64(radius * np.sin(theta), std, mean)
    return out.reshape(-1)


# The float path of normal_ on AVX2: avx_mathfun.h's Cephes log256_ps and sincos256_ps as
# GCC compiles them (every ``y*x + c`` chain contracted to an FMA), then
# ``fmadd(radius*cos, std, mean)``.  float32 constants first.
_f32 = np.float32
_LOG_P = [_f32(v) for v in (
    7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
    -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1)]
_LOG_Q1 = _f32(-2.12194440e-4)
_LOG_Q2 = _f32(0.693359375)
_SQRTHF_FRAC = int(_f32(0.707106781186547524).view(np.int32)) & 0x7FFFFF
_DP = [_f32(-0.78515625), _f32(-2.4187564849853515625e-4), _f32(-3.77489497744594108e-8)]
_SIN_P = [_f32(-1.9515295891e-4), _f32(8.3321608736e-3), _f32(-1.6666654611e-1)]
_COS_P = [_f32(2.443315711809948e-005), _f32(-1.388731625493765e-003),
          _f32(4.166664568298827e-002)]
_FOPI = _f32(1.27323954473516)
_TWO_PI_F = _f32(2.0 * math.pi)


def _magic(c: np.float32, binade: int, negative: bool) -> tuple:
    """Constants that round ``t + c`` (t exact in a double) to float precision in one step.

    For results known to lie in ``[2**binade, 2**(binade+1))`` (with a fixed sign), a double
    near ``M = 1.5 * 2**(binade+29)`` has the float's ulp there, so ``(t + (c + M)) - M``
    is ``fma``'s correctly rounded float result - one double rounding, no midpoint issue.
    """
    m = math.ldexp(-1.5 if negative else 1.5, binade + 29)
    k = float(c) + m
    assert Fraction(k) == Fraction(float(c)) + Fraction(m)  # c + M is exact
    return k, m


# The log polynomial runs on Y = -2*y: scaling by a power of two commutes with every
# rounding, and it folds log256_ps's ``y - z/2`` and the radius's ``-2 * log`` into the
# constants (``-2*(y - z/2) = Y + z``).
_LOG_S = [_f32(-2 * float(p)) for p in _LOG_P]
_LOG_SQ1, _LOG_SQ2 = _f32(-2 * float(_LOG_Q1)), _f32(-2 * float(_LOG_Q2))
# Result binades of the Horner steps that stay in one binade over the whole input range
# (checked exhaustively against the per-step float reference in the tests).
_LOG_K8, _LOG_M8 = _magic(_LOG_S[8], -1, True)
_COS_K1, _COS_M1 = _magic(_COS_P[1], -10, True)
_COS_K2, _COS_M2 = _magic(_COS_P[2], -5, False)
_SIN_K1, _SIN_M1 = _magic(_SIN_P[1], -7, False)
_SIN_K2, _SIN_M2 = _magic(_SIN_P[2], -3, True)
# theta + j*DP1 + j*DP2 + j*DP3 with j even <= 8 is exact in a double, and the first two
# fmas are exact in float, so the reduction is one rounding of this double sum.
_DP_SUM2 = 2.0 * (float(_DP[0]) + float(_DP[1]) + float(_DP[2]))
assert Fraction(_DP_SUM2) == 2 * (Fraction(float(_DP[0])) + Fraction(float(_DP[1]))
                                  + Fraction(float(_DP[2])))

_MID_MASK = np.uint64(0x1FFFFFFF)
_MID = np.uint64(0x10000000)


# Exhaustively checked facts about the 24-bit inputs (see tests): the octant index of
# theta = 2*pi*u computed as torch does, (int(theta * 4/pi) + 1) >> 1, equals (b + 2**21) >> 22.
_OCT_BIAS = 1 << 21
# log prep: with g = bits(float(n)) + _LOG_G, g >> 23 is the exponent e and
# (g & 0x7FFFFF) + _LOG_XB the bits of x + 1 (see log_radius)
_LOG_C = 0x800000 - _SQRTHF_FRAC
_LOG_G = _LOG_C - (151 << 23)
_LOG_XB = 0x3F800000 - _LOG_C
_SIGN32 = -(1 << 31)


# The kernel's scalar operands as 0-d arrays of the operand dtype: a ufunc call with one
# costs less than with a Python scalar, and there are ~110 calls per chunk.
def _k(v, dt) -> np.ndarray:
    return np.array(v, dtype=dt)


_K_TWO24, _K_23, _K_22, _K_30, _K_31 = (
    _k(v, np.int32) for v in (1 << 24, 23, 22, 30, 31))
# rounding a double to float precision in place, on its bits: add half a float ulp, clear
# the 29 bits a float lacks (ties go away from zero; the tests show no ties occur)
_K_HALF_ULP32, _K_CLEAR29 = _k(1 << 28, np.int64), _k(-(1 << 29), np.int64)
# the two words of a random64(), each masked to the 24 bits a float uniform uses
_K_MASK24X2 = _k(0x00FFFFFF00FFFFFF, np.uint64)
# swapping back the two floats of each 8-byte pair: as a complex number (b, a) times -1j is
# (a, -b); in chunks holding a zero radius, where that product could lose a zero's sign,
# by rotating the bits (and undoing the sign the first float was given)
_K_MINUS_I = _k(-1j, np.complex64)
_K_U64_32, _K_U64_SIGN = _k(32, np.uint64), _k(1 << 63, np.uint64)
_K_LOG_G, _K_LOG_XB, _K_FRAC, _K_OCT_BIAS, _K_SIGN32 = (
    _k(v, np.int32) for v in (_LOG_G, _LOG_XB, 0x7FFFFF, _OCT_BIAS, _SIGN32))
_K_ONE32, _K_MINUS_TWO32, _K_LOG_SQ1, _K_LOG_SQ2 = (
    _k(v, np.float32) for v in (1, -2, _LOG_SQ1, _LOG_SQ2))
_K_TWO_PI_ULP = _k(math.ldexp(float(_TWO_PI_F), -24), np.float32)
_K_TWO_M24 = _k(2.0**-24, np.float32)
_K_LOG_S = [_k(float(p), np.float64) for p in _LOG_S]
_F_LOG_S = [_k(p, np.float32) for p in _LOG_S]
_K_U5, _K_U7, _K_U8, _K_U31, _K_U32 = (_k(v, np.uint32) for v in (5, 7, 8, 31, 32))
_K_ZERO32 = _k(0, np.int32)
(_K_LOG_K8, _K_LOG_M8, _K_DP_SUM2, _K_HALF64, _K_ONE64, _K_COS_P0, _K_COS_K1, _K_COS_M1, _K_COS_K2,
 _K_COS_M2, _K_SIN_P0, _K_SIN_K1, _K_SIN_M1, _K_SIN_K2, _K_SIN_M2) = (
    _k(float(v), np.float64) for v in (
        _LOG_K8, _LOG_M8, _DP_SUM2, 0.5, 1.0, _COS_P[0], _COS_K1, _COS_M1, _COS_K2, _COS_M2,
        _SIN_P[0], _SIN_K1, _SIN_M1, _SIN_K2, _SIN_M2))


# The log polynomial's Horner steps as plain float multiplies and adds (see log_radius)
# change the radius of a few words; a file lists them, made by log_radius_exceptions() and
# checked against it by the tests.
_LOG_EXCEPTIONS_FILE = Path(__file__).with_name("_log_radius_exceptions.npy")


class _LogExceptions:
    """Finds and corrects the words whose radius the float Horner gets wrong; loaded on
    first use.

    ``groups`` is a bitmap over groups of eight words, those that differ only in bits 5-7:
    bit ``31 - w % 32`` of entry ``w >> 8`` is set when ``w``'s group holds such a word, so
    the per-word lookup is one shift, one table read and one mask.  At 256 KB the table
    stays in the core's own cache (an earlier version's byte per group, 2 MB, spilled to the
    shared L3, where other programs' traffic made each lookup cost nearly three times as
    much).
    ``radii`` holds the exact replay's radius of every word of every marked group, eight
    per group in group order: a word's slot is found by counting the marked groups before
    its own (``base`` per entry, plus the set bits above its bit), with no search."""

    _loaded = None

    def __init__(self) -> None:
        words = np.load(_LOG_EXCEPTIONS_FILE).astype(np.uint32)
        group = np.sort(words >> 8 << 5 | words & 31)
        group = group[np.append(True, group[1:] != group[:-1])]  # (np.unique: 20 ms, once)
        entry, bit = group >> 5, group & 31
        self.groups = np.zeros(1 << 16, dtype=np.uint32)
        np.bitwise_or.at(self.groups, entry, np.uint32(1 << 31) >> bit)
        counts = np.bitwise_count(self.groups).astype(np.int32)
        self.base = np.cumsum(counts, dtype=np.int32) - counts
        members = ((entry << 8 | bit)[:, None] | np.arange(0, 256, 32, dtype=np.uint32)).ravel()
        self.radii = np.empty(members.size, dtype=np.float32)
        exact = _BoxMuller32(8192)  # in pieces: small buffers
        for start in range(0, members.size, exact.pairs):
            piece = members[start:start + exact.pairs]
            self.radii[start:start + piece.size] = exact.log_radius(piece, "fma")

    @classmethod
    def get(cls) -> _LogExceptions:
        if cls._loaded is None:
            cls._loaded = cls()
        return cls._loaded

    def flag(self, words: np.ndarray, index: np.ndarray, entry: np.ndarray,
             flags: np.ndarray) -> None:
        """flags = whether each word's group is marked (``index`` and ``entry`` are uint32
        scratch as long as ``words``): the group's bit moved into the sign bit."""
        np.right_shift(words, _K_U8, index)
        np.take(self.groups, index, out=entry, mode="wrap")
        np.bitwise_and(words, _K_U31, index)
        np.left_shift(entry, index, entry)
        np.less(entry.view(np.int32), _K_ZERO32, flags)

    def correct(self, radius: np.ndarray, at: np.ndarray, words: np.ndarray) -> None:
        """radius[at] = the exact radius of ``words``, words of marked groups."""
        entry = words >> _K_U8
        above = _K_U32 - (words & _K_U31)  # shifting out the bits below its own
        slot = self.base[entry] + np.bitwise_count(self.groups[entry] >> above)
        radius[at] = self.radii[slot * 8 + (words >> _K_U5 & _K_U7)]


def log_radius_exceptions() -> np.ndarray:
    """Every 24-bit word whose radius the float Horner gets wrong: all 2**24 words through
    both it and the exact replay (under a second).  Remake the table with
    ``np.save(ember._random._LOG_EXCEPTIONS_FILE, log_radius_exceptions())``."""
    n = 1 << 20
    exact, fast = _BoxMuller32(n), _BoxMuller32(n)
    found = []
    for start in range(0, 1 << 24, n):
        w = np.arange(start, start + n, dtype=np.uint32)
        ref = exact.log_radius(w, "fma").view(np.uint32)
        found.append(w[ref != fast.log_radius(w, "float-raw").view(np.uint32)])
    return np.concatenate(found)


_HUGE_PAGE = 2 << 20


def _huge_page_block(nbytes: int) -> np.ndarray:
    """``nbytes`` of scratch, starting on a 2 MB boundary when that large.

    NumPy asks Linux for transparent huge pages on allocations of 4 MB and more, and only
    whole aligned 2 MB ranges get them.  The float kernel makes about a hundred passes over
    its 2.6 MB of buffers per chunk; on 4 KB pages those passes miss the TLB, and huge
    pages made a 10M-number fill about 7% faster on the test machine.
    """
    if nbytes < _HUGE_PAGE:
        return np.empty(nbytes, dtype=np.uint8)
    raw = np.empty(nbytes + _HUGE_PAGE, dtype=np.uint8)
    start = -raw.ctypes.data % _HUGE_PAGE
    return raw[start:start + nbytes]


class _Slots:
    """One chunk size's views of the kernel buffers: the seven 4-byte slots as uint32
    (``u``), int32 (``i``) and float32 (``f``), and the three 8-byte ones, made once rather
    than on every call (a view costs about as much as a small ufunc call)."""

    def __init__(self, w4: np.ndarray, w8: np.ndarray, even_signs: np.ndarray) -> None:
        self.u = list(w4)
        self.i = [r.view(np.int32) for r in self.u]
        self.f = [r.view(np.float32) for r in self.u]
        self.t, self.x64, self.z64 = w8
        self.t_bits = self.t.view(np.int64)
        self.even_signs = even_signs
        self.flags = self.z64.view(np.bool_)[:self.t.size]  # a bool per pair, for checks
        # the two halves' words are copied in as 32-byte blocks
        self.blocks = [r.view("V32") for r in self.u[:2]]


class _BoxMuller32:
    """Working buffers for one chunk of the float Box-Muller kernel.

    Every fma is evaluated as an exact double product plus addend and rounded to float
    once (a cast, a ``_magic`` add/subtract, or :meth:`_round_bits`); plain float
    operations stay in float32.  The buffers are few and shared between the steps (seven
    4-byte and three 8-byte slots per pair) so that a large chunk still stays in cache: the
    ~100 ufunc calls per chunk cost about half a microsecond each, so chunks should be
    large.  Every ufunc writes into a buffer (positional ``out``), and the slices for a
    chunk size are made once.
    """

    def __init__(self, pairs: int, checked: bool = False) -> None:
        self.pairs = pairs
        self.checked = checked
        self.zero_word = False
        block = _huge_page_block(pairs * (7 * 4 + 3 * 8))
        self._w4 = block[:7 * 4 * pairs].view(np.uint32).reshape(7, pairs)
        self._w8 = block[7 * 4 * pairs:].view(np.float64).reshape(3, pairs)
        self._cache: dict = {}
        self.even_signs = np.zeros(pairs, dtype=np.int32)
        self.even_signs[0::2] = _SIGN32
        if checked:
            self.u = np.empty(pairs, dtype=np.uint64)
            self.flag = np.empty(pairs, dtype=np.bool_)

    def views(self, m: int) -> _Slots:
        """The buffers cut to ``m`` pairs, in every type the steps read them as."""
        v = self._cache.get(m)
        if v is None:
            if len(self._cache) > 8:  # fills of many sizes: keep the table small
                self._cache.clear()
            v = self._cache[m] = _Slots(self._w4[:, :m], self._w8[:, :m], self.even_signs[:m])
        return v

    @staticmethod
    def _round_bits(bits: np.ndarray) -> None:
        """t = float(t), kept as a double, for doubles of any binade, given t's ``bits``:
        two integer passes, where a cast down and back costs three fifths more.  It rounds
        ties away from zero, not to even; the Horner steps it serves never land on a tie
        (the tests compare every possible input with torch)."""
        np.add(bits, _K_HALF_ULP32, bits)
        np.bitwise_and(bits, _K_CLEAR29, bits)

    def _round_checked(self, t: np.ndarray, out: np.ndarray, operands) -> None:
        """out = float(t) for t = a*b + c in a double.

        When the double sum was inexact and landed on a float midpoint, a second rounding
        could go the wrong way.  For the kernel's three such fmas this never happens for any
        of the 2**24 possible inputs (the tests run the whole input space with
        ``checked=True`` and compare), so the check is skipped unless asked for.
        """
        out[...] = t
        if not self.checked:
            return
        u, flag = self.u[: t.size], self.flag[: t.size]
        np.bitwise_and(t.view(np.uint64), _MID_MASK, u)
        np.equal(u, _MID, flag)
        if flag.any():
            for i in np.flatnonzero(flag):
                a, b, c = operands(i)
                q = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
                out[i] = np.float32(_round_fraction(q, np.float32))

    def log_radius(self, a: np.ndarray, horner: str = "float") -> np.ndarray:
        """sqrt(-2 * log256_ps(1 - u)) for 24-bit values ``a`` (u = a * 2**-24); ``a`` must
        be this object's first buffer (or is copied there).  Returns the third buffer.
        Sets ``zero_word`` when some ``a`` is 0 (a radius of -0).

        ``horner="fma"`` replays torch's fused Horner steps exactly, in doubles: the
        reference.  The default runs them, and the fma after them, as plain float
        multiplies and adds, at a fifth of the cost; that changes the radius of 11,138 of
        the 2**24 words (counting word 0, whose radius of -0 only the replay restores),
        which a bitmap lookup per word finds and a table corrects (see ``_LogExceptions``).
        ``"float-raw"`` skips the correction, to make the table.
        """
        m = a.size
        v = self.views(m)
        a_, ai = v.u[0], v.i[0]
        if a is not a_:
            a_[...] = a
        x, ex, y, z, tmp = v.f[2:]
        mul, add, sub = np.multiply, np.add, np.subtract
        suspects = None
        if horner == "float":
            # while the words are whole: the words of a group holding an exception (one in
            # 190)
            exceptions = _LogExceptions.get()
            exceptions.flag(a_, v.u[2], v.u[3], v.flags)
            self.zero_word = False
            if v.flags.any():
                suspects = np.flatnonzero(v.flags)
                suspect_words = a_[suspects]
                self.zero_word = not suspect_words.all()  # word 0 is an exception
        else:
            self.zero_word = m > 0 and np.minimum.reduce(a_) == 0
        # 1 - u = n * 2**-24 with n = 2**24 - a in [1, 2**24], exact as a float
        sub(_K_TWO24, ai, ai)
        x[...] = ai
        # Cephes splits 1 - u into a mantissa x_m in [0.5, 1) and exponent e; if
        # x_m < sqrt(1/2): e -= 1 and x = 2*x_m - 1, else x = x_m - 1.  Adding
        # 2**23 - frac(sqrt(1/2)) to the bits carries into the exponent field exactly when
        # x_m >= sqrt(1/2), so one integer add gives e (high bits, less the bias folded into
        # _LOG_G) and the bits of x + 1 (low 23 bits, re-based by _LOG_XB).
        g = v.i[2]
        add(g, _K_LOG_G, g)
        np.right_shift(g, _K_23, ai)
        ex[...] = ai
        np.bitwise_and(g, _K_FRAC, g)
        add(g, _K_LOG_XB, g)
        sub(x, _K_ONE32, x)
        mul(x, x, z)
        mul(ex, _K_LOG_SQ1, tmp)
        if horner == "fma":
            self._log_polynomial_fma(v, x, y, z, tmp)
        else:
            # the same steps unfused: Y = Y*x + (-2*p_k), two float roundings each; then
            # Y = Y*x*z + e*(-2*q1)
            mul(x, _F_LOG_S[0], y)
            add(y, _F_LOG_S[1], y)
            for p in _F_LOG_S[2:]:
                mul(y, x, y)
                add(y, p, y)
            mul(y, x, y)
            mul(y, z, y)
            add(y, tmp, y)
        # -2*log = ((-2x + (Y + z)) + e*(-2*q2)): log256_ps's y -= z/2; x += y; x += e*q2,
        # each rounding scaled by -2; radius = sqrt of it
        add(y, z, y)
        mul(x, _K_MINUS_TWO32, x)
        add(x, y, x)
        mul(ex, _K_LOG_SQ2, ex)
        add(x, ex, x)
        np.sqrt(x, x)
        if horner == "fma" and self.zero_word:
            # u = 0, the only input with a zero radius: log256_ps gives +0, so torch's
            # sqrt(-2 * +0) is -0 (the scaled sum gives +0; the float path takes word 0's
            # radius from the exception table)
            x[x == 0] = -0.0
        if suspects is not None:
            exceptions.correct(x, suspects, suspect_words)
        return x

    def _log_polynomial_fma(self, v: _Slots, x, y, z, tmp) -> None:
        """y = fma(Y*x, z, tmp) after the Horner steps Y = fma(Y, x, -2*p_k), as torch's
        fused code computes them: each an exact double product and sum rounded to float
        once (the last Horner step's result stays in one binade: _magic)."""
        mul, add, sub = np.multiply, np.add, np.subtract
        t, x64 = v.t, v.x64
        x64[...] = x
        mul(x64, _K_LOG_S[0], t)
        add(t, _K_LOG_S[1], t)
        self._round_bits(v.t_bits)
        for p in _K_LOG_S[2:8]:
            mul(t, x64, t)
            add(t, p, t)
            self._round_bits(v.t_bits)
        mul(t, x64, t)
        add(t, _K_LOG_K8, t)
        sub(t, _K_LOG_M8, t)
        y[...] = t
        mul(y, x, y)  # Y*x, a plain float product
        # (x64 is free now and holds the double operands)
        t[...] = y
        x64[...] = z
        mul(t, x64, t)
        x64[...] = tmp
        add(t, x64, t)
        if self.checked:
            y0 = y.copy()
            self._round_checked(t, y, lambda i: (y0[i], z[i], tmp[i]))
        else:
            y[...] = t

    def sincos(self, b: np.ndarray) -> tuple:
        """sincos256_ps(2*pi*u) for 24-bit values ``b`` (u = b * 2**-24); ``b`` must be this
        object's second buffer (or is copied there).  Returns (sin, cos) float32 arrays in
        the second and fourth buffers; leaves the third (the radius) alone."""
        m = b.size
        v = self.views(m)
        b_, bi, i1, t, x64, z64 = v.u[1], v.i[1], v.i[0], v.t, v.x64, v.z64
        if b is not b_:
            b_[...] = b
        th, xr, z, yc = v.f[3:]
        mul, add, sub = np.multiply, np.add, np.subtract
        th[...] = bi
        mul(th, _K_TWO_PI_ULP, th)  # 2pi * u, rounded
        # octant: j = (int(theta * 4/pi) + 1) & ~1, kept as jj = j / 2; over the 2**24
        # possible words this is (b + 2**21) >> 22
        add(bi, _K_OCT_BIAS, bi)
        np.right_shift(bi, _K_22, i1)
        # x = theta - j*pi/4 (extended precision), z = x*x
        x64[...] = th
        t[...] = i1
        mul(t, _K_DP_SUM2, t)
        add(x64, t, x64)
        xr[...] = x64
        x64[...] = xr
        mul(xr, xr, z)
        z64[...] = z
        # cosine polynomial: ((c0*z + c1)*z + c2)*z*z - z/2 (fused) + 1; the fused step is
        # fma(y, z, -z/2) = (y - 1/2) * z, one exact double product.  Plain products
        # (y*z) are float products.
        cp, ys, sp = th, yc, v.f[1]
        _polynomial_steps(t, z64, _K_COS_P0, _K_COS_K1, _K_COS_M1, _K_COS_K2, _K_COS_M2)
        yc[...] = t
        mul(yc, z, yc)
        t[...] = yc
        sub(t, _K_HALF64, t)
        mul(t, z64, t)
        self._round_checked(t, cp, lambda i: (yc[i], z[i], -np.float32(z[i]) * _f32(0.5)))
        add(cp, _K_ONE32, cp)
        # sine polynomial: ((s0*z + s1)*z + s2)*z*x + x (fused), as (y + 1) * x in a double:
        # y + 1 is exact unless |y| < 2**-29, and then both round to x
        _polynomial_steps(t, z64, _K_SIN_P0, _K_SIN_K1, _K_SIN_M1, _K_SIN_K2, _K_SIN_M2)
        ys[...] = t
        mul(ys, z, ys)
        t[...] = ys
        add(t, _K_ONE64, t)
        mul(t, x64, t)
        self._round_checked(t, sp, lambda i: (ys[i], xr[i], xr[i]))
        # odd octants swap the polynomials; sin flips sign when jj bit 1 is set, cos when
        # exactly one of jj's two low bits is
        spi, cpi = v.i[1], v.i[3]
        d, i2, i3 = v.i[4:]
        np.left_shift(i1, _K_31, i2)  # jj bit 0 as the sign bit
        np.right_shift(i2, _K_31, i3)  # -1 where the polynomials swap
        np.left_shift(i1, _K_30, i1)
        np.bitwise_and(i1, _K_SIGN32, i1)  # jj bit 1 as the sign bit: sin's flip
        # and the first float of each pair negated for both (see _swap_pairs)
        np.bitwise_xor(i1, v.even_signs, i1)
        np.bitwise_xor(spi, cpi, d)
        np.bitwise_and(d, i3, d)
        np.bitwise_xor(d, i1, d)
        np.bitwise_xor(spi, d, spi)
        np.bitwise_xor(cpi, d, cpi)
        np.bitwise_xor(cpi, i2, cpi)
        return sp, cp


# Pairs per chunk, measured: 49K and 65K are equally fast on a quiet machine (131K 4%
# slower; 32K 4% and 16K 17% slower, from the ~100 ufunc calls per chunk), and 49K is 2-3%
# faster than 65K while another program thrashes the shared L3 (32K 3% slower)
_BM_PAIRS = 49152
# Chunks of fewer pairs take the exact log polynomial: below this the float one's lookup and
# corrections cost more than they save (measured crossover)
_FLOAT_HORNER_MIN = 8192
# Fills of at least this many chunks are shared between two threads (see _normal_fill_f32).
_THREAD_MIN_CHUNKS = 4
FILL_THREADS = 1


# Each thread keeps its kernel buffers (at most _BM_PAIRS pairs, 2.6 MB) for the next fill:
# allocating and first touching them again costs more than the whole kernel for fills of up
# to a few hundred thousand numbers.
_KERNELS = threading.local()


class _Chunks:
    """Hands out the chunks of one fill in order and draws each chunk's words as it does, so
    the stream is consumed in the same order whichever thread computes which chunk.  The
    words come as random64() values, two per value (the cheapest draw NumPy offers).

    With ``tail_skip`` set, the last chunk carries one more block: torch recomputes a
    ragged end from 16 fresh words, drawn after ``tail_skip`` words it overwrites; its
    values land in ``tail``."""

    def __init__(self, gen: Generator, nb: int, cb: int, tail_skip: int | None = None) -> None:
        self.gen, self.nb, self.cb = gen, nb, cb
        self.tail_skip = tail_skip
        self.tail = None
        self.next = 0
        self.lock = threading.Lock()
        self.failed = False

    def take(self):
        with self.lock:
            s = self.next
            if s >= self.nb or self.failed:
                return None
            e = self.next = min(s + self.cb, self.nb)
            pairs = self.gen._random64(8 * (e - s))
            extra = e == self.nb and self.tail_skip is not None
            if extra:
                self.gen._random(self.tail_skip)
                pairs = np.concatenate([pairs, self.gen._random64(8)])
            return s, e, pairs, extra


def _swap_pairs(bm: _BoxMuller32, values: np.ndarray, exact: bool) -> None:
    """Swap the two floats of every 8-byte pair of ``values`` in place, whose first float the
    kernel negated: (-b, a) becomes (a, b).

    The kernel runs on the words in the order NumPy's draw stores them, ``(w0 << 32) | w1``
    puts w1 first, and swaps its results back: one complex multiply, a third of the bit
    rotation of the words it replaces.  That multiply is exact but for the sign of a zero
    next to a negative number, which only a zero radius produces; ``exact`` rotates the bits
    instead, in the kernel's free 8-byte slots.
    """
    if not exact:
        c = values.view(np.complex64)
        np.multiply(c, _K_MINUS_I, c)
        return
    v = values.view(np.uint64)
    _swap_words(v, bm._w8.reshape(-1).view(np.uint64)[:v.size])
    np.bitwise_xor(v, _K_U64_SIGN, v)


def _fill_worker(chunks: _Chunks, dst: np.ndarray, mean32, std32) -> None:
    """Box-Muller on chunks taken from ``chunks`` until none is left, each written to its
    own blocks of ``dst``: what a chunk produces depends only on its words."""
    bm = getattr(_KERNELS, "bm", None)
    if bm is None or bm.pairs < (chunks.cb + 1) * 8:  # room for a tail block
        bm = _KERNELS.bm = _BoxMuller32((chunks.cb + 1) * 8)
    plain = std32 == 1 and mean32 == 0
    try:
        while (job := chunks.take()) is not None:
            s, e, pairs, extra = job
            m = (e - s + extra) * 8
            # each 8-byte pair holds its two words swapped, w1 before w0; both halves alike,
            # so u1 and u2 words still meet, and _swap_pairs puts the results in order
            np.bitwise_and(pairs, _K_MASK24X2, pairs)
            halves = pairs.view("V32").reshape(-1, 2)
            slots = bm.views(m)
            slots.blocks[0][:] = halves[:, 0]
            slots.blocks[1][:] = halves[:, 1]
            rad = bm.log_radius(slots.u[0], "float" if m >= _FLOAT_HORNER_MIN else "fma")
            sn, cs = bm.sincos(slots.u[1])
            np.multiply(rad, cs, cs)
            np.multiply(rad, sn, sn)
            _swap_pairs(bm, cs, bm.zero_word)
            _swap_pairs(bm, sn, bm.zero_word)
            if plain and bm.zero_word:
                # fma(n, 1, 0) turns -0 into +0; a product is -0 only where the radius is 0
                cs[cs == 0] = 0
                sn[sn == 0] = 0
            elif not plain:
                cs[:] = _fma32(cs, std32, mean32)
                sn[:] = _fma32(sn, std32, mean32)
            if extra:
                chunks.tail = np.concatenate([cs[-8:], sn[-8:]])
                cs, sn = cs[:-8], sn[:-8]
            dst[s:e, 0] = cs.view("V32")
            dst[s:e, 1] = sn.view("V32")
    except BaseException:
        chunks.failed = True
        raise


def _normal_fill_f32(gen: Generator, nb: int, mean: float, std: float,
                     out: np.ndarray | None = None, tail_skip: int | None = None) -> np.ndarray:
    """NormalFill16<float> (AVX2) on ``nb`` blocks of 16 fresh words: per block the cosine
    half then the sine half.  Words are drawn chunk by chunk to stay in cache.  Writes into
    ``out`` (contiguous float32, ``16 * nb`` long) when given, saving a copy.  With
    ``tail_skip``, ``out`` is longer and its last 16 values are recomputed from fresh words
    drawn after skipping that many (see _Chunks), in the same pass.

    Large fills run on ``FILL_THREADS`` threads (NumPy releases the GIL inside ufuncs and
    while drawing words); chunks are drawn in order under a lock and each lands in its own
    slice, so the values and the generator's state do not depend on the scheduling."""
    if out is None:
        out = np.empty(nb * 16, dtype=np.float32)
    if nb == 0:
        return out
    dst = out[:nb * 16].view("V32").reshape(nb, 2)
    cb = min(_BM_PAIRS, nb * 8) // 8
    chunks = _Chunks(gen, nb, cb, tail_skip)
    args = (chunks, dst, _f32(mean), _f32(std))
    if FILL_THREADS > 1 and nb >= _THREAD_MIN_CHUNKS * cb:
        errors = []

        def run():
            try:
                _fill_worker(*args)
            except BaseException as exc:  # re-raised in the calling thread
                errors.append(exc)

        helpers = [threading.Thread(target=run, daemon=True) for _ in range(FILL_THREADS - 1)]
        for h in helpers:
            h.start()
        try:
            _fill_worker(*args)
        finally:
            for h in helpers:
                h.join()
        if errors:
            raise errors[0]
    else:
        _fill_worker(*args)
    if tail_skip is not None:
        out[-16:] = chunks.tail
    return out


def _normal_kernel(gen: Generator, n: int, dt: np.dtype, mean: float, std: float) -> np.ndarray:
    """torch's normal_kernel for a contiguous tensor of ``n`` elements."""
    if n >= 16:
        # uniforms for every element, then 16 fresh ones if a ragged tail needs recomputing
        # (half precision draws only the full blocks plus that tail)
        tail = 16 if n % 16 else 0
        full = n - n % 16
        if dt == np.float64:
            words = gen._random64(n + tail)
            out = np.empty(n, dtype=np.float64)
            out[:full] = _normal_fill_f64(words[:full], mean, std)
            if tail:
                out[n - 16:] = _normal_fill_f64(words[n:], mean, std)
            return out
        out = np.empty(n, dtype=np.float32)
        # the ragged end's words come after the uniforms torch draws for it and overwrites
        skip = None if not tail else 0 if dt == np.float16 else n - full
        _normal_fill_f32(gen, full // 16, mean, std, out, skip)
        return out.astype(dt, copy=False)
    vals = _fma64(_normal_pairs_double(gen, n), std, mean)
    if dt == np.float64:
        return vals
    if dt == np.float32 and 9.0 * std + abs(mean) < 3e38:  # |normal draw| < 8.6: no overflow
        return vals.astype(np.float32)
    return _from_double(vals, dt)


def normal(gen: Generator | None, shape, np_dtype, mean: ArrayOrScalar = 0.0,
           std: ArrayOrScalar = 1.0) -> np.ndarray:
    """``torch.randn`` / ``normal_(mean, std)`` / ``torch.normal`` with tensor mean or std.

    With an array ``mean`` torch draws ``normal_(0, std)`` and then adds ``mean``; with an
    array ``std`` it draws ``normal_(0, 1)``, multiplies by ``std`` and adds ``mean`` - two
    roundings, unlike the fused scalar form.
    """
    gen = _gen(gen)
    shape = _shape(shape)
    dt = _float_dtype(np_dtype, "normal")
    n = _numel(shape)
    mean_is_array = isinstance(mean, np.ndarray)
    std_is_array = isinstance(std, np.ndarray)
    if std_is_array:
        if std.size and np.min(std) < 0:
            raise RuntimeError("normal expects all elements of std >= 0.0")
        out = _normal_kernel(gen, n, dt, 0.0, 1.0).reshape(shape) if n else np.empty(shape, dt)
        out = np.multiply(out, std).astype(dt, copy=False)
        return np.add(out, np.asarray(mean, dtype=dt) if not mean_is_array else mean).astype(
            dt, copy=False).reshape(shape)
    std = float(std)
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if mean_is_array:
        out = _normal_kernel(gen, n, dt, 0.0, std).reshape(shape) if n else np.empty(shape, dt)
        return np.add(out, mean).astype(dt, copy=False).reshape(shape)
    if n == 0:
        return np.empty(shape, dtype=dt)
    return _normal_kernel(gen, n, dt, float(mean), std).reshape(shape)


def log_normal(gen: Generator | None, shape, np_dtype, mean: float = 1.0,
               std: float = 2.0) -> np.ndarray:
    """``Tensor.log_normal_``: exp of ``normal_distribution<double>`` draws (shares the
    generator's cached normal)."""
    gen = _gen(gen)
    shape = _shape(shape)
    dt = _float_dtype(np_dtype, "log_normal")
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    n = _numel(shape)
    vals = _fma64(_normal_pairs_double(gen, n), float(std), float(mean))
    return _from_double(np.exp(vals), dt).reshape(shape)


# ----- discrete uniform ----------------------------------------------------------------------
_INT_MAX = {
    np.dtype(np.bool_): 1, np.dtype(np.uint8): 255, np.dtype(np.int8): 127,
    np.dtype(np.int16): 32767, np.dtype(np.int32): 2**31 - 1, np.dtype(np.int64): 2**63 - 1,
}
_INT_MIN = {
    np.dtype(np.bool_): 0, np.dtype(np.uint8): 0, np.dtype(np.int8): -128,
    np.dtype(np.int16): -32768, np.dtype(np.int32): -(2**31), np.dtype(np.int64): -(2**63),
}


def _digits(dt: np.dtype) -> int:
    return np.finfo(dt).nmant + 1


def _update_from(dt: np.dtype, frm: int) -> int:
    """torch's update_from: nudge ``from`` up so the cast value stays >= from."""
    from_plus_1 = int(dt.type(frm + 1))
    if from_plus_1 < frm:
        n = abs(frm + 1).bit_length() - 1
        frm = from_plus_1 + (1 << (n - _digits(dt) + 1))
    return frm


def _update_to(dt: np.dtype, to: int) -> int:
    """torch's update_to: nudge ``to`` down so the cast value stays < to."""
    to_minus_1 = int(dt.type(to - 1))
    if to_minus_1 >= to:
        n = abs(to - 1).bit_length() - 1
        to = to_minus_1 - (1 << (n - _digits(dt) + 1))
    return to


def _cast_int64(vals: np.ndarray, dt: np.dtype) -> np.ndarray:
    """static_cast<T>(int64) for the output dtype."""
    if dt == np.int64:
        return vals
    if dt == np.bool_:
        return vals != 0
    with np.errstate(over="ignore", invalid="ignore"):
        if dt == np.float16:
            return vals.astype(np.float32).astype(np.float16)
        return vals.astype(dt)


def _check_range(dt: np.dtype, frm: int, to_inc: int) -> None:
    if dt.kind == "f":
        lo, hi = float(np.finfo(dt).min), float(np.finfo(dt).max)
    else:
        lo, hi = _INT_MIN[dt], _INT_MAX[dt]
    if not lo <= frm <= hi:
        raise RuntimeError(f"from is out of bounds for {dt}")
    if not lo <= to_inc <= hi:
        raise RuntimeError(f"to - 1 is out of bounds for {dt}")


def _from_to(gen: Generator, n: int, rng: int, base: int) -> np.ndarray:
    """uniform_int_from_to_distribution: int64 values ``(word % range) + base``."""
    words = gen._random64(n) if rng >= 1 << 28 else gen._random(n)
    vals = (words % np.uint64(rng)) + np.uint64(base & _U64)
    return vals.view(np.int64)


def _known_dtype(np_dtype) -> np.dtype:
    dt = np.dtype(np_dtype)
    if dt not in _INT_MAX and dt not in _FLOATS:
        raise TypeError(f"random_ not implemented for dtype {dt}")
    return dt


def randint(gen: Generator | None, low: int, high: int, shape, np_dtype=np.int64
            ) -> np.ndarray:
    """``torch.randint(low, high, shape)``, i.e. ``random_(low, high)``."""
    return random_(gen, shape, np_dtype, int(low), int(high))


def random_(gen: Generator | None, shape, np_dtype, low: int | None = None,
            high: int | None = None) -> np.ndarray:
    """``Tensor.random_()``, ``random_(to)`` (pass ``low=0``) and ``random_(from, to)``.

    Without bounds: ``[0, 2**mantissa]`` for floats, ``[0, max]`` for integers (64-bit
    words for int64/double).  ``low`` alone means ``[low, max]``; ``low`` equal to int64's
    minimum with no ``high`` is the full 64-bit range.
    """
    gen = _gen(gen)
    shape = _shape(shape)
    dt = _known_dtype(np_dtype)
    n = _numel(shape)
    if low is None:
        if high is not None:
            low = 0
        else:
            return _random_default(gen, n, dt).reshape(shape)
    frm = int(low)
    if high is not None:
        to = int(high)
        if not frm < to:
            raise RuntimeError(
                f"random_ expects 'from' to be less than 'to', but got from={frm} >= to={to}")
        if dt.kind == "f":
            frm, to = _update_from(dt, frm), _update_to(dt, to)
            if not frm < to:
                raise RuntimeError("random_ expects 'from' casted to dtype to be less than "
                                   f"'to' casted to dtype, but got from={frm} >= to={to}")
        _check_range(dt, frm, to - 1)
        if n == 0:
            return np.empty(shape, dtype=dt)
        vals = _from_to(gen, n, (to - frm) & _U64, frm)
    elif frm != -(2**63):
        if dt.kind == "f":
            to_inc = min(1 << _digits(dt), 2**63 - 1)
            frm = _update_from(dt, frm)
            if not frm < to_inc:
                raise RuntimeError("random_ expects 'from' casted to dtype to be less than or "
                                   f"equal to 'to_inc' casted to dtype, but got from={frm} > "
                                   f"to_inc={to_inc}")
        else:
            to_inc = _INT_MAX[dt]
        _check_range(dt, frm, to_inc)
        if n == 0:
            return np.empty(shape, dtype=dt)
        vals = _from_to(gen, n, (to_inc - frm + 1) & _U64, frm)
    else:
        if dt not in (np.dtype(np.int64), np.dtype(np.float64), np.dtype(np.float32)):
            raise RuntimeError("random_full_64_bits_range_kernel_cpu handles only int64, "
                               "double, float and bfloat16")
        vals = gen._random64(n).view(np.int64)
    return _cast_int64(vals, dt).reshape(shape)


def _random_default(gen: Generator, n: int, dt: np.dtype) -> np.ndarray:
    """uniform_int_distribution<T>: word % (max + 1), floats to [0, 2**digits]."""
    if dt == np.bool_:
        return (gen._random(n) & np.uint64(1)) != 0
    if dt == np.int64:
        return (gen._random64(n) % np.uint64(1 << 63)).astype(np.int64)
    if dt == np.float64:
        return (gen._random64(n) % np.uint64((1 << 53) + 1)).astype(np.float64)
    if dt.kind == "f":
        return (gen._random(n) % np.uint64((1 << _digits(dt)) + 1)).astype(dt)
    return (gen._random(n) % np.uint64(_INT_MAX[dt] + 1)).astype(dt)


def randperm(gen: Generator | None, n: int, np_dtype=np.int64) -> np.ndarray:
    """``torch.randperm(n)``: Fisher-Yates, swapping slot i with ``i + random() % (n - i)``.

    The swaps are replayed without a loop: slot i ends up holding whatever sat at its swap
    partner k_i just before step i, which is the value the previous step aiming at k_i
    moved there (or k_i itself) - a lookup after one sort plus pointer jumping.
    """
    gen = _gen(gen)
    n = int(n)
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got{n}")
    dt = np.dtype(np_dtype)
    if n >= (2**32 - 1) // 20:
        raise NotImplementedError("randperm for n >= 2**32/20 (torch's random64 variant)")
    if n <= 1:
        return np.zeros(n, dtype=dt)
    i = np.arange(n, dtype=np.int64)
    k = np.empty(n, dtype=np.int64)
    k[:-1] = (gen._random(n - 1) % (n - i[:-1]).astype(np.uint64)).astype(np.int64) + i[:-1]
    k[-1] = n - 1  # a final no-op step keeps slot n-1 in the same bookkeeping
    # group the steps by the slot they aim at, in time order (one sort of packed keys)
    shift = (n - 1).bit_length()
    key = (k << shift) | i
    key.sort()
    ks = key >> shift
    order = key & ((1 << shift) - 1)
    same = ks[1:] == ks[:-1]
    # prev_same[i]: the previous step aiming at the same slot as step i, or -1
    prev_same = np.full(n, -1, dtype=np.int64)
    prev_same[order[1:][same]] = order[:-1][same]
    # A[p], the value in slot p just before step p: the A of the last earlier step that
    # aimed at p (a step aiming at itself does not count), else p itself.
    last = np.ones(n, dtype=bool)
    last[:-1] = ~same
    pos, tgt = order[last], ks[last]
    pos = np.where(pos == tgt, prev_same[pos], pos)
    keep = pos >= 0
    ptr = i.copy()
    ptr[tgt[keep]] = pos[keep]
    active = tgt[keep]
    while active.size:  # pointer jumping to the roots, where A[root] = root
        p = ptr[active]
        pp = ptr[p]
        ptr[active] = pp
        active = active[pp != p]
    res = np.where(prev_same >= 0, ptr[np.maximum(prev_same, 0)], k)
    return res.astype(dt)


# ----- other distributions ---------------------------------------------------------------------
def bernoulli(gen: Generator | None, p: ArrayOrScalar, shape, np_dtype) -> np.ndarray:
    """``Tensor.bernoulli_(p)`` / ``torch.bernoulli(p_tensor)``: ``uniform < p`` per element.

    A scalar ``p`` compares against a double uniform (random64).  An array ``p``, broadcast
    to ``shape``, compares a double uniform if it is float64 and a float uniform (one word)
    otherwise.  (On Intel CPUs torch sends scalar ``p`` through MKL instead - not replayed.)
    """
    gen = _gen(gen)
    shape = _shape(shape)
    dt = np.dtype(np_dtype)
    n = _numel(shape)
    if isinstance(p, np.ndarray):
        pb = (p if p.shape == shape else np.broadcast_to(p, shape)).reshape(-1)
        if n and not ((pb >= 0) & (pb <= 1)).all():
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true")
        if pb.dtype == np.float64:
            hit = _uniform_double(gen, n) < pb
        else:
            # w * 2**-24 < p exactly when w < p * 2**24 (a power-of-two scaling)
            hit = _word_floats(gen, n) < pb.astype(np.float32) * np.float32(2.0**24)
    else:
        p = float(p)
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        hit = _uniform_double(gen, n) < p
    return hit.astype(dt).reshape(shape)


def exponential(gen: Generator | None, shape, np_dtype, lambd: float = 1.0) -> np.ndarray:
    """``Tensor.exponential_(lambd)``: ``-1/lambd * log1p(-u)`` in double, u from random64."""
    gen = _gen(gen)
    shape = _shape(shape)
    dt = _float_dtype(np_dtype, "exponential")
    lambd = float(lambd)
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    u = _uniform_double(gen, _numel(shape))
    return _from_double((-1.0 / lambd) * np.log1p(-u), dt).reshape(shape)


def geometric(gen: Generator | None, shape, np_dtype, p: float) -> np.ndarray:
    """``Tensor.geometric_(p)``: ``ceil(log(u) / log1p(-p))`` in double, then cast."""
    gen = _gen(gen)
    shape = _shape(shape)
    dt = np.dtype(np_dtype)
    p = float(p)
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    u = _uniform_double(gen, _numel(shape))
    with np.errstate(divide="ignore", invalid="ignore"):
        vals = np.ceil(np.log(u) / np.log1p(-p))
    return _from_double(vals, dt).reshape(shape)


def cauchy(gen: Generator | None, shape, np_dtype, median: float = 0.0,
           sigma: float = 1.0) -> np.ndarray:
    """``Tensor.cauchy_``: ``fma(sigma, tan(pi * (u - 0.5)), median)`` in double."""
    gen = _gen(gen)
    shape = _shape(shape)
    dt = _float_dtype(np_dtype, "cauchy")
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    u = _uniform_double(gen, _numel(shape))
    t = np.tan(math.pi * (u - 0.5))
    return _from_double(_fma64(t, float(sigma), float(median)), dt).reshape(shape)


def multinomial(gen: Generator | None, probs: np.ndarray, num_samples: int,
                replacement: bool = False) -> np.ndarray:
    """``torch.multinomial`` (int64 indices), row by row.

    Without replacement, or for a single sample: ``argmax``/``topk`` of ``probs / q`` with
    ``q ~ Exp(1)`` drawn in the probabilities' dtype.  With replacement: per row a
    normalised cumulative sum in the probabilities' dtype and a binary search for each
    double uniform.
    """
    gen = _gen(gen)
    probs = np.asarray(probs)
    if probs.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if probs.dtype.kind != "f":
        raise RuntimeError(
            f"multinomial only supports floating-point dtypes for input, got: {probs.dtype}")
    num_samples = int(num_samples)
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    rows = probs.reshape(-1, probs.shape[-1])
    n_cat = rows.shape[1]
    if not replacement and num_samples > n_cat:
        raise RuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    out_shape = (num_samples,) if probs.ndim == 1 else (rows.shape[0], num_samples)
    if rows.size == 0 or rows.shape[0] == 0:
        return np.empty(out_shape, dtype=np.int64)
    if not replacement or num_samples == 1:
        if not (np.all(rows < np.inf) and np.all(rows >= 0)):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if np.any(rows.sum(axis=1) == 0):
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        q = exponential(gen, rows.shape, rows.dtype, 1.0)
        key = rows / q
        if num_samples == 1:
            idx = np.argmax(key, axis=1)[:, None]
        else:
            idx = np.argsort(-key, axis=1, kind="stable")[:, :num_samples]
        return idx.astype(np.int64).reshape(out_shape)
    if np.any(rows < 0) or not np.all(np.isfinite(rows)):
        raise RuntimeError("invalid multinomial distribution (encountering probability entry "
                           "< 0 or infinity or NaN)")
    cum = np.cumsum(rows, axis=1, dtype=rows.dtype)
    total = cum[:, -1:].copy()
    if np.any(total <= 0):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    cum = cum / total
    cum[:, -1] = 1
    u = _uniform_double(gen, rows.shape[0] * num_samples).reshape(rows.shape[0], num_samples)
    # torch's binary search for the first slot with cum >= u, run for all samples at once
    cum64 = cum.astype(np.float64)
    row = np.arange(rows.shape[0])[:, None]
    left = np.zeros(u.shape, dtype=np.int64)
    right = np.full(u.shape, n_cat, dtype=np.int64)
    while True:
        active = right > left
        if not active.any():
            break
        mid = left + (right - left) // 2
        below = cum64[row, np.minimum(mid, n_cat - 1)] < u
        left = np.where(active & below, mid + 1, left)
        right = np.where(active & ~below, mid, right)
    return left.reshape(out_shape)
