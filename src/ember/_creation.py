"""Tensor factories: tensor, as_tensor, from_numpy, zeros, ones, full, arange, linspace, eye,
the ``*_like`` forms, and the random ones (drawing from ``ember._random``'s generator)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ember import _dtype as D
from ember._device import require_cpu
from ember._tensor import Tensor, _wrap

_FACTORY_GRAD_ERROR = "Only Tensors of floating point and complex dtype can require gradients"


def _finish(array: np.ndarray, dtype: D.dtype, requires_grad: bool) -> Tensor:
    t = _wrap(array, dtype)
    if requires_grad:
        if dtype.category != D.FLOATING:
            raise RuntimeError(_FACTORY_GRAD_ERROR)
        t._requires_grad = True
    return t


def _infer_dtype(data) -> D.dtype:
    """torch's inference: floats -> default dtype, ints -> int64, bools -> bool."""
    if isinstance(data, Tensor):
        return data._dtype
    if isinstance(data, np.ndarray):
        return D.from_numpy_dtype(data.dtype)
    if isinstance(data, np.generic):
        return D.from_numpy_dtype(data.dtype)
    if isinstance(data, bool):
        return D.bool_
    if isinstance(data, numbers.Integral):
        return D.int64
    if isinstance(data, numbers.Real):
        return D.get_default_dtype()
    if isinstance(data, numbers.Complex):
        raise NotImplementedError(D.COMPLEX_UNSUPPORTED.format(what=repr(data)))
    if isinstance(data, (list, tuple)):
        found = None
        for item in data:
            d = _infer_dtype(item)
            found = d if found is None else _promote_for_inference(found, d)
        return found if found is not None else D.get_default_dtype()
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _promote_for_inference(a: D.dtype, b: D.dtype) -> D.dtype:
    if a.category == D.FLOATING and b.category != D.FLOATING:
        return a
    if b.category == D.FLOATING and a.category != D.FLOATING:
        return b
    return D.promote_types(a, b)


def _to_array(data, dtype: D.dtype) -> np.ndarray:
    if isinstance(data, Tensor):
        return data._array.astype(dtype.numpy, copy=True)
    if isinstance(data, (list, tuple)):
        data = _unwrap_nested(data)
    try:
        return np.array(data, dtype=dtype.numpy)
    except (ValueError, TypeError) as e:
        raise ValueError(str(e)) from None


def _unwrap_nested(data):
    if isinstance(data, (list, tuple)):
        return [_unwrap_nested(x) for x in data]
    if isinstance(data, Tensor):
        return data._array
    return data


def tensor(data, dtype: D.dtype | None = None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor copying ``data`` (nested lists, numbers, arrays or tensors)."""
    if device is not None:
        require_cpu(device)
    dtype = D.to_dtype(dtype) if dtype is not None else _infer_dtype(data)
    return _finish(_to_array(data, dtype), dtype, requires_grad)


def as_tensor(data, dtype: D.dtype | None = None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a tensor or array of the right dtype."""
    if device is not None:
        require_cpu(device)
    if isinstance(data, Tensor):
        if dtype is None or dtype is data._dtype:
            return data
        return data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or D.to_dtype(dtype).numpy == data.dtype):
        return _wrap(data, D.from_numpy_dtype(data.dtype))
    return tensor(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory: writes through either are seen by both."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return _wrap(array, D.from_numpy_dtype(array.dtype))


def _size(args, size=None, name: str = "zeros") -> tuple:
    """Sizes given as ``f(2, 3)``, ``f((2, 3))`` or ``f(size=(2, 3))``."""
    if size is not None:
        args = (size,)
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    for a in args:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(
                f"{name}(): argument 'size' (position 1) must be tuple of ints, not "
                f"{type(a).__name__}"
            )
    for a in args:
        if a < 0:
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {a}: {list(args)}"
            )
    return tuple(int(a) for a in args)


def _need_size(size_args, size, name: str) -> None:
    if not size_args and size is None:
        raise TypeError(f'{name}() missing 1 required positional arguments: "size"')


def _dtype_or_default(dtype) -> D.dtype:
    return D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()


def zeros(*size_args, size=None, dtype=None, device=None, requires_grad: bool = False,
          out=None) -> Tensor:
    if device is not None:
        require_cpu(device)
    _need_size(size_args, size, "zeros")
    dtype = _dtype_or_default(dtype)
    shape = size_args[0] if len(size_args) == 1 and isinstance(size_args[0], (tuple, list)) else (
        size_args if size is None else size)
    if len(shape) == 1 and isinstance(shape[0], int) and shape[0] < 0:
        raise RuntimeError("zeros: Dimension size must be non-negative.")
    return _finish(np.zeros(_size(size_args, size), dtype=dtype.numpy), dtype, requires_grad)


def ones(*size_args, size=None, dtype=None, device=None, requires_grad: bool = False,
         out=None) -> Tensor:
    if device is not None:
        require_cpu(device)
    _need_size(size_args, size, "ones")
    dtype = _dtype_or_default(dtype)
    return _finish(np.ones(_size(size_args, size, "ones"), dtype=dtype.numpy), dtype, requires_grad)


def empty(*size_args, size=None, dtype=None, device=None, requires_grad: bool = False, out=None,
          memory_format=None) -> Tensor:
    """Uninitialised in torch; zeros here, so programs that misuse it stay deterministic."""
    if device is not None:
        require_cpu(device)
    _need_size(size_args, size, "empty")
    return zeros(*size_args, size=size, dtype=dtype, requires_grad=requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if device is not None:
        require_cpu(device)
    if dtype is None:
        if isinstance(fill_value, Tensor):
            fill_value = fill_value.item()
        dtype = D.scalar_dtype(fill_value)
    dtype = D.to_dtype(dtype)
    return _finish(np.full(_size((size,)), fill_value, dtype=dtype.numpy), dtype, requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    if device is not None:
        require_cpu(device)
    dtype = _dtype_or_default(dtype)
    return _finish(np.eye(n, m if m is not None else n, dtype=dtype.numpy), dtype, requires_grad)


def arange(start=0, end=None, step=1, *, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """torch's arange: any float argument gives the default float dtype, else int64."""
    if device is not None:
        require_cpu(device)
    if end is None:
        start, end = 0, start
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = values
    if dtype is None:
        is_float = any(isinstance(v, float) for v in values)
        dtype = D.get_default_dtype() if is_float else D.int64
    dtype = D.to_dtype(dtype)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) / step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    count = math.ceil((end - start) / step)
    if dtype.category == D.FLOATING:
        array = (start + np.arange(count, dtype=np.float64) * step).astype(dtype.numpy)
    else:
        array = (int(start) + np.arange(count, dtype=np.int64) * step).astype(dtype.numpy)
    return _finish(array, dtype, requires_grad)


def _fma(a: np.ndarray, b: np.ndarray, c: np.ndarray, single: bool = False) -> np.ndarray:
    """a * b + c with a single rounding, in float64: the product split exactly (Dekker),
    the sums with their errors (Knuth's TwoSum), a halfway case settled by what is left.
    With ``single``, float32's fma: the double rounded once more, ties settled by the residual."""
    p = a * b
    split = 134217729.0  # 2**27 + 1
    ca, cb = split * a, split * b
    ah, bh = ca - (ca - a), cb - (cb - b)
    al, bl = a - ah, b - bh
    p_err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    total, s_err = _two_sum(c, p)
    err, low = _two_sum(s_err, p_err)  # c + a * b == total + err + low, exactly
    result, rest = _two_sum(total, err)
    # result is the correctly rounded value unless total + err lies exactly halfway between
    # two doubles and ``low`` says the true value is beyond the halfway point
    neighbour = np.nextafter(result, np.where(rest > 0, np.inf, -np.inf))
    past_tie = ((rest != 0) & (neighbour - result == 2 * rest)
                & (np.sign(low) == np.sign(rest)) & (low != 0))
    result = np.where(past_tie, neighbour, result)
    if not single:
        return result
    # float32: the cast rounds again. Where the double lies exactly halfway between two
    # floats, the part of the exact value the double dropped decides, not round-to-even.
    exact_above = np.where(past_tie, -np.sign(rest), np.where(rest != 0, np.sign(rest),
                                                              np.sign(low)))
    r32 = result.astype(np.float32)
    towards = np.nextafter(r32, np.where(result > r32, np.float32(np.inf), np.float32(-np.inf)))
    tie = (r32.astype(np.float64) != result) & (
        (r32.astype(np.float64) + towards.astype(np.float64)) / 2 == result)
    up = np.maximum(r32, towards)
    down = np.minimum(r32, towards)
    fixed = np.where(exact_above > 0, up, np.where(exact_above < 0, down, r32))
    return np.where(tie, fixed, r32)


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a + b as a rounded sum and its exact error (Knuth)."""
    total = a + b
    back = total - a
    return total, (a - (total - back)) + (b - back)


def linspace(start, end, steps: int, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """Like torch: the first half counts up from ``start``, the second half down from ``end``."""
    if device is not None:
        require_cpu(device)
    dtype = _dtype_or_default(dtype)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    # Computed in the output's precision (double for integer outputs), as torch's kernel does;
    # its CPU build fuses start + step * i into one fma, replayed here for float and double.
    compute = dtype.numpy.type if dtype.category == D.FLOATING else np.float64
    if dtype.category != D.FLOATING:  # the ends are converted to the integer type first
        start, end = int(start), int(end)
    first, last = compute(start), compute(end)
    if steps == 1:
        array = np.array([first])
    else:
        step = (last - first) / compute(steps - 1)
        i = np.arange(steps).astype(compute)
        half = steps // 2
        with np.errstate(over="ignore", invalid="ignore"):
            if compute in (np.float32, np.float64):
                i64 = np.arange(steps, dtype=np.float64)
                single = compute is np.float32
                up = _fma(np.float64(step), i64, np.float64(first), single)
                down = _fma(-np.float64(step), (steps - 1) - i64, np.float64(last), single)
                array = np.where(i64 < half, up, down).astype(compute)
            else:
                array = np.where(np.arange(steps) < half, first + step * i,
                                 last - step * (compute(steps - 1) - i))
    if dtype.category != D.FLOATING:
        array = np.trunc(array)
    return _finish(array.astype(dtype.numpy), dtype, requires_grad)


def _like(input: Tensor, dtype) -> D.dtype:
    return D.to_dtype(dtype) if dtype is not None else input._dtype


def zeros_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False,
               memory_format=None) -> Tensor:
    if device is not None:
        require_cpu(device)
    return zeros(input._array.shape, dtype=_like(input, dtype), requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False,
              memory_format=None) -> Tensor:
    if device is not None:
        require_cpu(device)
    return ones(input._array.shape, dtype=_like(input, dtype), requires_grad=requires_grad)


def empty_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False,
               memory_format=None) -> Tensor:
    if device is not None:
        require_cpu(device)
    return zeros_like(input, dtype=dtype, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value, *, dtype=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    if device is not None:
        require_cpu(device)
    return full(input._array.shape, fill_value, dtype=_like(input, dtype),
                requires_grad=requires_grad)


# ----- random ---------------------------------------------------------------------------------
def _generator(generator):
    from ember import _random

    return generator if generator is not None else _random.default_generator


def _need_floating(dtype: D.dtype, kernel: str) -> None:
    """rand/randn of an integer or bool dtype: torch's kernel refuses it with this error."""
    if dtype.category != D.FLOATING:
        legacy = dtype._legacy_name[:-len("Tensor")]
        raise NotImplementedError(f'"{kernel}" not implemented for \'{legacy}\'')


def rand(*size_args, size=None, generator=None, dtype=None, device=None,
         requires_grad: bool = False) -> Tensor:
    if device is not None:
        require_cpu(device)
    from ember import _random

    if not size_args and size is None:
        raise TypeError("rand() received an invalid combination of arguments - got (), but "
                        "expected one of:\n * (tuple of ints size, ...)")
    dtype = _dtype_or_default(dtype)
    _need_floating(dtype, "check_uniform_bounds")
    array = _random.uniform(_generator(generator), _size(size_args, size), dtype.numpy)
    return _finish(array, dtype, requires_grad)


def randn(*size_args, size=None, generator=None, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    if device is not None:
        require_cpu(device)
    from ember import _random

    if not size_args and size is None:
        raise TypeError("randn() received an invalid combination of arguments - got (), but "
                        "expected one of:\n * (tuple of ints size, ...)")
    dtype = _dtype_or_default(dtype)
    _need_floating(dtype, "normal_kernel_cpu")
    array = _random.normal(_generator(generator), _size(size_args, size), dtype.numpy)
    return _finish(array, dtype, requires_grad)


def randint(low=None, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """``randint(high, size)`` or ``randint(low, high, size)``; ``high=`` by keyword too."""
    if device is not None:
        require_cpu(device)
    from ember import _random

    if size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    elif low is None:
        low = 0
    if size is None:
        raise TypeError("randint() missing 1 required positional arguments: \"size\"")
    dtype = D.to_dtype(dtype) if dtype is not None else D.int64
    array = _random.randint(_generator(generator), low, high, _size((size,)), dtype.numpy)
    return _finish(array, dtype, requires_grad)


def rand_like(input: Tensor, *, dtype=None, requires_grad: bool = False) -> Tensor:
    return rand(input._array.shape, dtype=_like(input, dtype), requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype=None, requires_grad: bool = False) -> Tensor:
    return randn(input._array.shape, dtype=_like(input, dtype), requires_grad=requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None,
           requires_grad: bool = False) -> Tensor:
    """Samples of N(mean, std); ``mean``/``std`` may be tensors (then the shape is theirs)."""
    from ember import _random

    gen = _generator(generator)
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        out_dtype = ref._dtype
        m = mean._array if isinstance(mean, Tensor) else mean
        s = std._array if isinstance(std, Tensor) else std
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        array = _random.normal(gen, shape, out_dtype.numpy, m, s)
        return _finish(array, out_dtype, requires_grad)
    dtype = _dtype_or_default(dtype)
    array = _random.normal(gen, _size((size,)), dtype.numpy, mean, std)
    return _finish(array, dtype, requires_grad)


def _legacy_tensor_constructor(*args, **kwargs) -> Tensor:
    """``torch.Tensor(2, 3)`` (uninitialised float) or ``torch.Tensor([1, 2])`` (data)."""
    if len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray, Tensor)):
        return tensor(args[0], dtype=D.get_default_dtype())
    return empty(*args) if args else empty(0)  # torch.Tensor() is an empty 1-D tensor
