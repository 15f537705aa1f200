"""Convolution, pooling, padding, unfolding and resampling, as im2col and one matmul.

Everything with a sliding window goes through one pair of mutually adjoint ops: ``unfold``
(im2col: every window of a padded input, gathered by ``as_strided`` into one array) and
``fold`` (col2im: windows summed back into place). The derivative of each is the other, so
convolution's backward, written with them and matmul, is itself differentiable: second
derivatives come from running the same formulas on tensors.
"""

from __future__ import annotations

import itertools
import math
import numbers
import warnings

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ember import _dtype as D
from ember.autograd.xp import ARRAY_MATH
from ember.ops import shape as S
from ember.ops._core import (
    NO_EDGE,
    Node,
    SavedTensor,
    Tensor,
    edge,
    grad_state,
    new_node,
    set_history,
    wrap,
)
from ember.ops.linalg import _matmul_dtypes, matmul

# c10's names of the scalar types, as conv's dtype messages print them
_C10 = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
        "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
        "bool": "bool"}
_SCALAR = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
           "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _records(*tensors) -> bool:
    if not grad_state.enabled:
        return False
    return any(t is not None and t._requires_grad for t in tensors)


def _edge(t) -> tuple:
    return NO_EDGE if t is None else edge(t)


def _size(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _ntuple(value, n: int, name: str | None = None) -> tuple:
    """``value`` as an ``n``-tuple of ints (an int repeats; a sequence stays as written)."""
    if isinstance(value, (bool, numbers.Integral)):
        return (int(value),) * n
    return tuple(int(v) for v in value)


# ----- window geometry ------------------------------------------------------------------------
class _Windows:
    """Where the windows of a sliding op sit: input size, kernel, dilation, padding (low and
    high ends per dimension), stride, and the resulting number of windows per dimension."""

    __slots__ = ("size", "kernel", "dilation", "lo", "hi", "stride", "out")

    def __init__(self, size, kernel, dilation, lo, hi, stride, out=None) -> None:
        self.size, self.kernel, self.dilation = tuple(size), tuple(kernel), tuple(dilation)
        self.lo, self.hi, self.stride = tuple(lo), tuple(hi), tuple(stride)
        if out is None:
            out = tuple(
                max((s + a + b - d * (k - 1) - 1) // st + 1, 0)
                for s, a, b, d, k, st in zip(size, lo, hi, dilation, kernel, stride)
            )
        self.out = tuple(out)

    def unfold(self, a: np.ndarray, value=0) -> np.ndarray:
        """A view ``(*lead, *kernel, *out)`` of the windows of ``a`` (``(*lead, *size)``)."""
        nd = len(self.size)
        if any(self.lo) or any(self.hi):
            lead = a.shape[:-nd]
            padded = np.full(lead + tuple(s + lo + hi for s, lo, hi in zip(
                self.size, self.lo, self.hi)), value, dtype=a.dtype)
            padded[(Ellipsis,) + tuple(slice(lo, lo + s) for s, lo in zip(self.size, self.lo))] = a
            a = padded
        lead_strides = a.strides[:-nd]
        strides = a.strides[-nd:]
        return as_strided(
            a,
            a.shape[:-nd] + self.kernel + self.out,
            lead_strides + tuple(s * d for s, d in zip(strides, self.dilation))
            + tuple(s * st for s, st in zip(strides, self.stride)),
            writeable=False,
        )

    def fold(self, cols: np.ndarray) -> np.ndarray:
        """The adjoint of ``unfold``: sum windows ``(*lead, *kernel, *out)`` into place."""
        nd = len(self.size)
        lead = cols.shape[:-2 * nd]
        padded = tuple(s + lo + hi for s, lo, hi in zip(self.size, self.lo, self.hi))
        out = np.zeros(lead + padded, dtype=cols.dtype)
        if cols.size:
            ell = (slice(None),) * len(lead)
            for k in itertools.product(*(range(k) for k in self.kernel)):
                region = tuple(
                    slice(i * d, i * d + st * (o - 1) + 1, st)
                    for i, d, st, o in zip(k, self.dilation, self.stride, self.out)
                )
                out[ell + region] += cols[ell + k]
        return out[(Ellipsis,) + tuple(slice(lo, lo + s) for s, lo in zip(self.size, self.lo))]


def _unfold_array(a: np.ndarray, win: _Windows, shape, value=0) -> np.ndarray:
    """Windows of ``a`` copied into a fresh array of ``shape`` (a reshape of the windows)."""
    view = win.unfold(a, value)
    out = np.reshape(view, shape)
    if np.may_share_memory(out, a):
        out = out.copy()
    return out


def _fold_array(cols: np.ndarray, win: _Windows, shape) -> np.ndarray:
    nd = len(win.size)
    lead = tuple(shape[:-nd])
    return win.fold(np.reshape(cols, lead + win.kernel + win.out)).reshape(shape)


class Im2ColBackward0(Node):
    """Backward of unfold (im2col): fold the gradient's windows back into place."""

    __slots__ = ("windows", "self_sizes")

    def backward(self, grad, xp):
        return (fold_windows(grad, self.windows, self.self_sizes),)


class Col2ImBackward0(Node):
    """Backward of fold (col2im): gather the gradient's windows."""

    __slots__ = ("windows", "self_sizes")

    def backward(self, grad, xp):
        return (unfold_windows(grad, self.windows, self.self_sizes),)


def unfold_windows(x, win: _Windows, shape):
    """im2col on an array or (recording Im2ColBackward0) a tensor ``(*lead, *size)``."""
    if not isinstance(x, Tensor):
        return _unfold_array(x, win, shape)
    array = _unfold_array(x._array, win, shape)
    out = wrap(array, x._dtype)
    if _records(x):
        node = new_node(Im2ColBackward0, (edge(x),), array)
        node.windows, node.self_sizes = win, x._array.shape
        set_history(out, node)
    return out


def fold_windows(cols, win: _Windows, shape):
    """col2im on an array or (recording Col2ImBackward0) a tensor, giving ``shape``."""
    if not isinstance(cols, Tensor):
        return _fold_array(cols, win, shape)
    array = _fold_array(cols._array, win, shape)
    out = wrap(array, cols._dtype)
    if _records(cols):
        node = new_node(Col2ImBackward0, (edge(cols),), array)
        node.windows, node.self_sizes = win, cols._array.shape
        set_history(out, node)
    return out


# ----- convolution ----------------------------------------------------------------------------
class ConvolutionBackward0(Node):
    """Convolution (plain or transposed) as im2col + matmul; its backward is made of the same
    pieces, so it runs on tensors under create_graph."""

    __slots__ = ("input", "weight", "windows", "groups", "transposed", "bias_dims",
                 "input_sizes", "weight_sizes")
    _saved_fields = ("input", "weight")

    def backward(self, grad, xp):
        n, g = self.input_sizes[0], self.groups
        win = self.windows
        kp = math.prod(win.kernel)
        grad_input = grad_weight = grad_bias = None
        if self.transposed:
            cin = self.weight_sizes[0]
            cout_g = self.weight_sizes[1]
            length = math.prod(win.out)
            gcols = unfold_windows(grad, win, (n, g, cout_g * kp, length))
            if self.needs_input_grad(0):
                wm = xp.reshape(xp.saved(self.weight), (g, cin // g, cout_g * kp))
                grad_input = xp.reshape(xp.matmul(wm, gcols), self.input_sizes)
            if self.needs_input_grad(1):
                xm = xp.reshape(xp.saved(self.input), (n, g, cin // g, length))
                grad_weight = xp.reshape(xp.sum(xp.matmul(xm, xp.mT(gcols)), 0),
                                         self.weight_sizes)
        else:
            cout, cin_g = self.weight_sizes[0], self.weight_sizes[1]
            length = math.prod(win.out)
            gm = xp.reshape(grad, (n, g, cout // g, length))
            if self.needs_input_grad(0):
                wm = xp.reshape(xp.saved(self.weight), (g, cout // g, cin_g * kp))
                grad_input = fold_windows(xp.matmul(xp.mT(wm), gm), win, self.input_sizes)
            if self.needs_input_grad(1):
                cols = unfold_windows(xp.saved(self.input), win, (n, g, cin_g * kp, length))
                grad_weight = xp.reshape(xp.sum(xp.matmul(gm, xp.mT(cols)), 0),
                                         self.weight_sizes)
        if self.needs_input_grad(2):
            grad_bias = xp.sum(grad, self.bias_dims)
        return grad_input, grad_weight, grad_bias


def _check_params(name: str, value, nd: int) -> tuple:
    if len(value) == 1 and nd != 1:
        value = value * nd
    if len(value) != nd:
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of {nd} values to match "
            f"the convolution dimensions, but got {name}={list(value)}"
        )
    return value


def _check_conv_shapes(x, w, bias, stride, padding, dilation, output_padding, groups,
                       transposed: bool) -> None:
    nd = w.ndim - 2
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if x.ndim != w.ndim:
        raise RuntimeError(
            f"Expected {w.ndim}-dimensional input for {w.ndim}-dimensional weight "
            f"{_size(w.shape)}, but got {x.ndim}-dimensional input of size {_size(x.shape)} "
            "instead"
        )
    if w.shape[0] < groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, "
            f"but got weight of size {_size(w.shape)} instead"
        )
    if w.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension "
            f"0, but got weight of size [{_size(w.shape)}] instead"
        )
    if not transposed:
        if x.shape[1] != w.shape[1] * groups:
            raise RuntimeError(
                f"Given groups={groups}, weight of size {_size(w.shape)}, expected input"
                f"{_size(x.shape)} to have {w.shape[1] * groups} channels, but got "
                f"{x.shape[1]} channels instead"
            )
        if bias is not None and (bias.ndim != 1 or bias.shape[0] != w.shape[0]):
            raise RuntimeError(
                f"Given weight of size {_size(w.shape)}, expected bias to be 1-dimensional "
                f"with {w.shape[0]} elements, but got bias of size {_size(bias.shape)} instead"
            )
        padded = [x.shape[2 + i] + 2 * padding[i] for i in range(nd)]
        kernel = [dilation[i] * (w.shape[2 + i] - 1) + 1 for i in range(nd)]
        if any(p < k for p, k in zip(padded, kernel)):
            raise RuntimeError(
                "Calculated padded input size per channel: ("
                + " x ".join(map(str, padded)) + "). Kernel size: ("
                + " x ".join(map(str, kernel))
                + "). Kernel size can't be greater than actual input size"
            )
    else:
        if x.shape[1] != w.shape[0]:
            raise RuntimeError(
                f"Given transposed=1, weight of size {_size(w.shape)}, expected input"
                f"{_size(x.shape)} to have {w.shape[0]} channels, but got {x.shape[1]} "
                "channels instead"
            )
        if bias is not None and (bias.ndim != 1 or bias.shape[0] != w.shape[1] * groups):
            raise RuntimeError(
                f"Given transposed=1, weight of size {_size(w.shape)}, expected bias to be "
                f"1-dimensional with {w.shape[1] * groups} elements, but got bias of size "
                f"{_size(bias.shape)} instead"
            )


def _check_conv_dtypes(input: Tensor, weight: Tensor, bias) -> None:
    if bias is not None and bias._dtype is not input._dtype:
        raise RuntimeError(
            f"Input type ({_C10[input._dtype.name]}) and bias type ({_C10[bias._dtype.name]}) "
            "should be the same"
        )
    if weight._dtype is not input._dtype:
        raise RuntimeError(
            f"expected scalar type {_SCALAR[input._dtype.name]} but found "
            f"{_SCALAR[weight._dtype.name]}"
        )
    if input._dtype is D.bool_:
        raise RuntimeError("\"slow_conv2d_cpu\" not implemented for 'Bool'")


def _convolution(input: Tensor, weight: Tensor, bias, stride, padding, dilation,
                 transposed: bool, output_padding, groups: int, lo=None, hi=None) -> Tensor:
    """The one convolution op (torch's aten::convolution), on batched input."""
    x, w = input._array, weight._array
    nd = w.ndim - 2
    if nd <= 0:
        raise RuntimeError("weight should have at least three dimensions")
    stride = _check_params("stride", stride, nd)
    padding = _check_params("padding", padding, nd)
    dilation = _check_params("dilation", dilation, nd)
    output_padding = _check_params("output_padding", output_padding, nd)
    _check_conv_shapes(x, w, None if bias is None else bias._array, stride, padding, dilation,
                       output_padding, groups, transposed)
    _check_conv_dtypes(input, weight, bias)
    lo = padding if lo is None else lo
    hi = padding if hi is None else hi
    n = x.shape[0]
    kernel = w.shape[2:]
    kp = math.prod(kernel)
    if not transposed:
        win = _Windows(x.shape[2:], kernel, dilation, lo, hi, stride)
        cout, cin_g = w.shape[0], w.shape[1]
        length = math.prod(win.out)
        if groups == 1:
            cols = _unfold_array(x, win, (n, cin_g * kp, length))
            array = np.matmul(w.reshape(cout, cin_g * kp), cols)
        else:
            cols = _unfold_array(x, win, (n, groups, cin_g * kp, length))
            array = np.matmul(w.reshape(groups, cout // groups, cin_g * kp), cols)
        array = array.reshape((n, cout) + win.out)
    else:
        size = tuple(
            (i - 1) * s - 2 * p + d * (k - 1) + op + 1
            for i, s, p, d, k, op in zip(x.shape[2:], stride, padding, dilation, kernel,
                                         output_padding)
        )
        # (conv_transpose1d runs as a 2-D convolution of height 1, and reports it so)
        lift = (lambda v, h: (h,) + tuple(v)) if nd == 1 else (lambda v, h: tuple(v))
        if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
            names = ("height", "width") if nd <= 2 else ("depth", "height", "width")
            parts = [f"output_padding_{a}: {v}" for a, v in zip(names, lift(output_padding, 0))]
            parts += [f"stride_{a}: {v}" for a, v in zip(names, lift(stride, 1))]
            parts += [f"dilation_{a}: {v}" for a, v in zip(names, lift(dilation, 1))]
            raise RuntimeError(
                "output padding must be smaller than either stride or dilation, but got "
                + " ".join(parts)
            )
        if any(s < 1 for s in size):
            raise RuntimeError(
                "Given input size per channel: (" + " x ".join(map(str, lift(x.shape[2:], 1)))
                + "). Calculated output size per channel: ("
                + " x ".join(map(str, lift(size, 1))) + "). Output size is too small"
            )
        win = _Windows(size, kernel, dilation, padding, padding, stride, out=x.shape[2:])
        cin, cout_g = w.shape[0], w.shape[1]
        length = math.prod(x.shape[2:])
        xm = x.reshape(n, groups, cin // groups, length)
        wm = w.reshape(groups, cin // groups, cout_g * kp)
        cols = np.matmul(np.swapaxes(wm, -1, -2), xm)
        array = _fold_array(cols, win, (n, cout_g * groups) + size)
    if bias is not None:
        array += bias._array.reshape((-1,) + (1,) * nd)
    out = wrap(array, input._dtype)
    if _records(input, weight, bias):
        node = new_node(ConvolutionBackward0, (edge(input), edge(weight), _edge(bias)), array)
        node.input = SavedTensor(input) if weight._requires_grad else None
        node.weight = SavedTensor(weight) if input._requires_grad else None
        node.windows, node.groups, node.transposed = win, groups, transposed
        node.bias_dims = (0,) + tuple(range(2, 2 + nd))
        node.input_sizes, node.weight_sizes = x.shape, w.shape
        set_history(out, node)
    return out


def _batchify(input: Tensor, nd: int, name: str):
    """Accept unbatched input (one dimension fewer) as torch does: ``(input, was_unbatched)``."""
    from ember.ops.shape import unsqueeze

    ndim = input._array.ndim
    if ndim == nd + 1:
        return unsqueeze(input, 0), True
    if ndim != nd + 2:
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got "
            f"input of size: {_size(input._array.shape)}"
        )
    return input, False


def _unbatch(out: Tensor, unbatched: bool) -> Tensor:
    from ember.ops.shape import squeeze

    return squeeze(out, 0) if unbatched else out


def _check_tensor(value, name: str, position: int, fn: str) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{fn}(): argument '{name}' (position {position}) must be Tensor, not "
            f"{type(value).__name__}"
        )


def _conv(nd: int, name: str, input, weight, bias, stride, padding, dilation, groups):
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        given = ", ".join("Tensor" if isinstance(a, Tensor) else type(a).__name__
                          for a in (input, weight) + (() if bias is None else (bias,)))
        raise TypeError(f"{name}() received an invalid combination of arguments - got ({given}), "
                        "but expected one of:")
    input, unbatched = _batchify(input, nd, name)
    stride = _ntuple(stride, nd)
    dilation = _ntuple(dilation, nd)
    lo = hi = None
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            w = weight._array
            dil = dilation * nd if len(dilation) == 1 else dilation
            total = [d * (k - 1) for d, k in zip(dil, w.shape[2:])]
            if any(t % 2 for t in total):
                warnings.warn(
                    "Using padding='same' with even kernel lengths and odd dilation may require "
                    "a zero-padded copy of the input be created", UserWarning, stacklevel=3)
            lo = tuple(t // 2 for t in total)
            hi = tuple(t - t // 2 for t in total)
            padding = lo
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        padding = _ntuple(padding, nd)
    out = _convolution(input, weight, bias, stride, padding, dilation, False, (0,) * nd,
                       int(groups), lo, hi)
    return _unbatch(out, unbatched)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) over ``(N, C, L)`` or ``(C, L)``."""
    return _conv(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) over ``(N, C, H, W)`` or ``(C, H, W)``."""
    return _conv(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(nd: int, name: str, input, weight, bias, stride, padding, output_padding,
                    groups, dilation):
    _check_tensor(input, "input", 1, name)
    _check_tensor(weight, "weight", 2, name)
    if isinstance(padding, str):
        raise TypeError(f"{name}(): argument 'padding' must be tuple of ints, not str")
    input, unbatched = _batchify(input, nd, name)
    out = _convolution(input, weight, bias, _ntuple(stride, nd), _ntuple(padding, nd),
                       _ntuple(dilation, nd), True, _ntuple(output_padding, nd), int(groups))
    return _unbatch(out, unbatched)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The adjoint of conv1d (a "deconvolution")."""
    return _conv_transpose(1, "conv_transpose1d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The adjoint of conv2d (a "deconvolution")."""
    return _conv_transpose(2, "conv_transpose2d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


# ----- linear layers --------------------------------------------------------------------------
class AddmmBackward0(Node):
    """bias + mat1 @ mat2: the engine sums the bias gradient back to the bias's shape.

    As torch, a column-major matrix (linear's ``weight.t()``) gets its gradient computed
    transposed, ``(grad.T @ mat1).T``: once transposed back it is row-major like the weight,
    so ``.grad`` and the optimizer's update run over contiguous memory.
    """

    __slots__ = ("mat1", "mat2", "mat1_colmajor", "mat2_colmajor", "bias_shape")
    _saved_fields = ("mat1", "mat2")

    def backward(self, grad, xp):
        if xp is ARRAY_MATH:
            return self._array_backward(grad)
        grad_mat1 = grad_mat2 = None
        if self.needs_input_grad(1):
            mat2 = xp.saved(self.mat2)
            grad_mat1 = (xp.mT(xp.matmul(mat2, xp.mT(grad))) if self.mat1_colmajor
                         else xp.matmul(grad, xp.mT(mat2)))
        if self.needs_input_grad(2):
            mat1 = xp.saved(self.mat1)
            grad_mat2 = (xp.mT(xp.matmul(xp.mT(grad), mat1)) if self.mat2_colmajor
                         else xp.matmul(xp.mT(mat1), grad))
        return (grad if self.needs_input_grad(0) else None, grad_mat1, grad_mat2)

    def _array_backward(self, grad):
        """The same formulas on arrays, with ``.T`` and ``@`` (no wrapper calls): linear runs
        this on every training step. A (p,) bias gets its column sums here, as the engine's
        sum back to its shape would give."""
        (bias_fn, _), (mat1_fn, _), (mat2_fn, _) = self.next_functions
        grad_bias = grad_mat1 = grad_mat2 = None
        if mat1_fn is not None:
            mat2 = ARRAY_MATH.saved(self.mat2)
            grad_mat1 = (mat2 @ grad.T).T if self.mat1_colmajor else grad @ mat2.T
        if mat2_fn is not None:
            mat1 = ARRAY_MATH.saved(self.mat1)
            grad_mat2 = (grad.T @ mat1).T if self.mat2_colmajor else mat1.T @ grad
        if bias_fn is not None:
            # (np.add.reduce is what ndarray.sum calls, minus its Python wrapper)
            grad_bias = np.add.reduce(grad, 0) if self.bias_shape == grad.shape[1:] else grad
        return grad_bias, grad_mat1, grad_mat2


def _colmajor(a: np.ndarray) -> bool:
    """torch's test for a transposed (column-major) matrix: strides (1, rows) in elements."""
    return a.strides == (a.itemsize, a.itemsize * a.shape[0])


def _addmm(bias: Tensor, mat1: Tensor, mat2: Tensor) -> Tensor:
    (n, m), (m2, p) = mat1._array.shape, mat2._array.shape
    if m != m2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({n}x{m} and {m2}x{p})")
    _matmul_dtypes(mat1, mat2)
    b = bias._array
    if b.shape == (p,) or b.shape == (n, p):  # linear's bias: no broadcast check needed
        target = (n, p)
    else:
        try:
            target = np.broadcast_shapes(b.shape, (n, p))
        except ValueError:
            target = None
    if target != (n, p):
        dim = next((i for i in range(1, b.ndim + 1) if b.shape[-i] not in (1, (n, p)[-i])), 1)
        raise RuntimeError(
            f"The expanded size of the tensor ({(n, p)[-dim]}) must match the existing size "
            f"({b.shape[-dim]}) at non-singleton dimension {2 - dim}.  Target sizes: "
            f"{_size((n, p))}.  Tensor sizes: {_size(b.shape)}"
        )
    if bias._dtype is not mat1._dtype:
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: {_C10[bias._dtype.name]} != "
            f"{_C10[mat1._dtype.name]}"
        )
    array = mat1._array @ mat2._array
    array += b
    out = wrap(array, mat1._dtype)
    if _records(bias, mat1, mat2):
        node = new_node(AddmmBackward0, (edge(bias), edge(mat1), edge(mat2)), array)
        node.mat1 = SavedTensor(mat1) if mat2._requires_grad else None
        node.mat2 = SavedTensor(mat2) if mat1._requires_grad else None
        node.mat1_colmajor = _colmajor(mat1._array)
        node.mat2_colmajor = _colmajor(mat2._array)
        node.bias_shape = b.shape
        set_history(out, node)
    return out


def _linear_2d(input: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``_addmm(bias, input, weight.t())`` once its checks are known to pass (a 2-D batch,
    a (out,) bias, matching sizes and one dtype): the step every linear layer runs. The
    ``weight.t()`` view and its TBackward0 node, as torch records them, are made only when
    there is a graph to record."""
    wt_array = weight._array.T
    array = input._array @ wt_array
    array += bias._array
    out = wrap(array, input._dtype)
    if grad_state.enabled and (
            bias._requires_grad or input._requires_grad or weight._requires_grad):
        wt = S.make_view(weight, wt_array, _TRANSPOSED)
        t_node = None
        if weight._requires_grad:
            t_node = new_node(S.TBackward0, (edge(weight),), wt_array)
            t_node.dims = (1, 0)
            set_history(wt, t_node)
        node = new_node(AddmmBackward0, (edge(bias), edge(input), edge(wt)), array, t_node)
        node.mat1 = SavedTensor(input) if weight._requires_grad else None
        node.mat2 = SavedTensor(wt) if input._requires_grad else None
        node.mat1_colmajor = _colmajor(input._array)
        node.mat2_colmajor = _colmajor(wt_array)
        node.bias_shape = bias._array.shape
        set_history(out, node)
    return out


_TRANSPOSED = (S.PERMUTE, (1, 0))  # the view step of ``t()`` on a matrix


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``, recorded with the nodes torch's linear records."""
    if isinstance(input, Tensor) and isinstance(weight, Tensor) and isinstance(bias, Tensor):
        a, w = input._array, weight._array
        if (a.ndim == 2 and w.ndim == 2 and a.shape[1] == w.shape[1]
                and bias._array.shape == w.shape[:1]
                and input._dtype is weight._dtype is bias._dtype):
            return _linear_2d(input, weight, bias)  # (the checks below would all pass)
    _check_tensor(input, "input", 1, "linear")
    _check_tensor(weight, "weight", 2, "linear")
    if input._array.ndim == 0 or weight._array.ndim == 0:
        raise RuntimeError(
            f"both arguments to linear need to be at least 1D, but they are "
            f"{input._array.ndim}D and {weight._array.ndim}D"
        )
    if bias is None:
        return matmul(input, S.t(weight))
    shape = input._array.shape
    if input._array.ndim == 2:
        if (weight._array.ndim == 2 and bias._array.shape == weight._array.shape[:1]
                and shape[1] == weight._array.shape[1]
                and input._dtype is weight._dtype is bias._dtype):
            return _linear_2d(input, weight, bias)
        return _addmm(bias, input, S.t(weight))
    if input._array.flags.c_contiguous and bias._array.ndim == 1:
        wt = S.t(weight)
        flat = S.reshape(input, (math.prod(shape[:-1]), shape[-1]))
        result = _addmm(bias, flat, wt)
        return S.view(result, shape[:-1] + (result._array.shape[1],))
    out = matmul(input, S.t(weight))
    if out._view_of is not None:  # torch's matmul squeezes in place: its result is no view
        from ember.ops.elementwise import add

        return add(out, bias)
    return out.add_(bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None
             ) -> Tensor:
    """``y[..., o] = x1[..., i] W[o, i, j] x2[..., j] + b[o]``, as two matmuls."""
    from ember.ops.elementwise import add
    from ember.ops.linalg import matmul
    from ember.ops.shape import permute, reshape, squeeze, unsqueeze

    a, b, w = input1._array, input2._array, weight._array
    if a.ndim != b.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {a.ndim} and {b.ndim}")
    for i in range(a.ndim - 1):
        if a.shape[i] != b.shape[i]:
            raise RuntimeError(
                f"bilinear(): input batch dimensions do not match at dim {i}: got {a.shape[i]} "
                f"and {b.shape[i]}"
            )
    if w.ndim != 3 or a.shape[-1] != w.shape[1]:
        raise RuntimeError(
            f"bilinear(): input1 size does not match weight size: got {a.shape[-1]} but "
            f"expected {w.shape[1] if w.ndim > 1 else w.shape[-1]}"
        )
    if b.shape[-1] != w.shape[2]:
        raise RuntimeError(
            f"bilinear(): input2 size does not match weight size: got {b.shape[-1]} but "
            f"expected {w.shape[2]}"
        )
    if bias is not None and (bias._array.ndim != 1 or bias._array.shape[0] != w.shape[0]):
        raise RuntimeError(
            f"bilinear(): bias size does not match weight size: got {bias._array.shape[-1]} "
            f"but expected {w.shape[0]}"
        )
    dtypes = (input1._dtype, input2._dtype, weight._dtype) + (
        (bias._dtype,) if bias is not None else ())
    if len(set(dtypes)) > 1:
        names = f"input1: {_C10[input1._dtype.name]}, input2: {_C10[input2._dtype.name]}, " \
                f"weight: {_C10[weight._dtype.name]}"
        if bias is not None:
            names += f", bias: {_C10[bias._dtype.name]}"
        raise RuntimeError(f"All tensors must have the same dtype, got {names}")
    o, i, j = w.shape
    x1 = reshape(input1, (-1, i)) if a.shape[:-1] != (0,) else reshape(input1, (0, i))
    x2 = reshape(input2, (x1._array.shape[0], j))
    # t[b, o, j] = sum_i x1[b, i] W[o, i, j]; y[b, o] = sum_j t[b, o, j] x2[b, j]
    wmat = reshape(permute(weight, (1, 0, 2)), (i, o * j))
    tmp = reshape(matmul(x1, wmat), (-1, o, j))
    y = squeeze(matmul(tmp, unsqueeze(x2, 2)), 2)
    out = reshape(y, a.shape[:-1] + (o,))
    return add(out, bias) if bias is not None else out


# ----- unfold / fold (im2col / col2im) --------------------------------------------------------
def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding windows of a ``(N, C, H, W)`` input as columns ``(N, C*kh*kw, L)``."""
    _check_tensor(input, "input", 1, "im2col")
    x = input._array
    kernel, dil = _pair2(kernel_size, "kernel_size"), _pair2(dilation, "dilation")
    pad, st = _pair2(padding, "padding"), _pair2(stride, "stride")
    _check_im2col(x.shape, kernel, dil, pad, st, "im2col")
    if x.ndim < 3:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-max(x.ndim, 1)}, "
            f"{max(x.ndim, 1) - 1}], but got {x.ndim})"
        )
    if x.ndim > 4 or 0 in x.shape[1:] or (x.ndim == 3 and x.shape[0] == 0):
        raise RuntimeError(
            "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
            f"dimensions for input, but got: {_size(x.shape)}"
        )
    batched = x.ndim == 4
    lead = x.shape[:-2]
    win = _Windows(x.shape[-2:], kernel, dil, pad, pad, st)
    shape = (lead[0] if batched else 1, lead[-1] * math.prod(kernel), math.prod(win.out))
    if not batched:
        shape = shape[1:]
    if x.size and 0 in win.out:
        raise RuntimeError(
            f"Given input with spatial size ({x.shape[-2]}, {x.shape[-1]}), kernel_size="
            f"({kernel[0]}, {kernel[1]}), dilation=({dil[0]}, {dil[1]}), padding=({pad[0]}, "
            f"{pad[1]}), calculated shape of the array of sliding blocks as ({win.out[0]}, "
            f"{win.out[1]}), but its components must be at least one."
        )
    return unfold_windows(input, win, shape)


def _pair2(value, name: str) -> tuple:
    value = _ntuple(value, 2)
    if len(value) != 2:
        raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(value)}")
    return value


def _check_im2col(shape, kernel, dilation, padding, stride, name) -> None:
    if any(k <= 0 for k in kernel):
        raise RuntimeError(
            f"kernel size should be greater than zero, but got kernel_height: {kernel[0]} "
            f"kernel_width: {kernel[1]}"
        )
    if any(d <= 0 for d in dilation):
        raise RuntimeError(
            f"dilation should be greater than zero, but got dilation_height: {dilation[0]} "
            f"dilation_width: {dilation[1]}"
        )
    if any(p < 0 for p in padding):
        raise RuntimeError(
            f"padding should be non-negative, but got pad_height: {padding[0]} pad_width: "
            f"{padding[1]}"
        )
    if any(s <= 0 for s in stride):
        raise RuntimeError(
            f"stride should be greater than zero, but got stride_height: {stride[0]} "
            f"stride_width: {stride[1]}"
        )


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum columns ``(N, C*kh*kw, L)`` back into an ``(N, C, H, W)`` image (col2im)."""
    _check_tensor(input, "input", 1, "col2im")
    x = input._array
    size = _pair2(output_size, "output_size")
    kernel, dil = _pair2(kernel_size, "kernel_size"), _pair2(dilation, "dilation")
    pad, st = _pair2(padding, "padding"), _pair2(stride, "stride")
    _check_im2col(x.shape, kernel, dil, pad, st, "col2im")
    if x.ndim not in (2, 3) or 0 in x.shape[-2:]:
        raise RuntimeError(
            "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and "
            f"non-zero dimensions for input, but got: {_size(x.shape)}"
        )
    batched = x.ndim == 3
    kp = math.prod(kernel)
    rows = x.shape[-2]
    if rows % kp:
        raise RuntimeError(
            f"Expected size of input's dimension {x.ndim - 2} to be divisible by the product of "
            f"kernel_size, but got input.size({x.ndim - 2})={rows} and kernel_size=({kernel[0]}, "
            f"{kernel[1]})."
        )
    blocks = [(n + 2 * p - d * (k - 1) - 1) // s + 1
              for n, p, d, k, s in zip(size, pad, dil, kernel, st)]
    where = (f"Given output_size=({size[0]}, {size[1]}), kernel_size=({kernel[0]}, {kernel[1]}), "
             f"dilation=({dil[0]}, {dil[1]}), padding=({pad[0]}, {pad[1]}), stride=({st[0]}, "
             f"{st[1]}), ")
    if x.shape[-1] != blocks[0] * blocks[1]:
        raise RuntimeError(
            f"{where}expected size of input's dimension {x.ndim - 1} to match the calculated "
            f"number of sliding blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but "
            f"got input.size({x.ndim - 1})={x.shape[-1]}."
        )
    if blocks[0] < 1 or blocks[1] < 1:
        raise RuntimeError(
            f"{where}calculated shape of the array of sliding blocks as ({blocks[0]}, "
            f"{blocks[1]}), which must be positive."
        )
    win = _Windows(size, kernel, dil, pad, pad, st)
    shape = ((x.shape[0],) if batched else ()) + (rows // kp,) + size
    return fold_windows(input, win, shape)



# ----- gather / scatter-add at flat positions (max pooling's backward and its backward) -------
class _GatherBackward(Node):
    __slots__ = ("index", "positions")

    def backward(self, grad, xp):
        return (scatter_add_flat(grad, self.index, self.positions),)


class _ScatterAddBackward(Node):
    __slots__ = ("index",)

    def backward(self, grad, xp):
        return (gather_flat(grad, self.index),)


def _scatter_array(g: np.ndarray, index: np.ndarray, positions: int) -> np.ndarray:
    lead = g.shape[:-1]
    rows = math.prod(lead)
    index = np.broadcast_to(index, g.shape).reshape(rows, g.shape[-1])
    weights = g.reshape(-1)
    if index.size and index.max() >= positions:
        # torch's max pooling can report a position past the input for a window with no
        # element in it; such a position takes no gradient
        inside = (index < positions).reshape(-1)
        weights = np.where(inside, weights, 0)
        index = np.minimum(index, positions - 1)
    flat = (np.arange(rows).reshape(rows, 1) * positions + index).ravel()
    out = np.bincount(flat, weights=weights, minlength=rows * positions)
    return out.astype(g.dtype, copy=False).reshape(lead + (positions,))


def scatter_add_flat(g, index: np.ndarray, positions: int):
    """Zeros ``(*lead, positions)`` with ``g`` (``(*lead, L)``) summed in at ``index``."""
    if not isinstance(g, Tensor):
        return _scatter_array(g, index, positions)
    array = _scatter_array(g._array, index, positions)
    out = wrap(array, g._dtype)
    if _records(g):
        node = new_node(_ScatterAddBackward, (edge(g),), array)
        node.index = index
        set_history(out, node)
    return out


def gather_flat(x, index: np.ndarray):
    """``x[..., index]`` along the last dimension, ``index`` broadcast over the leading ones."""
    a = x._array if isinstance(x, Tensor) else x
    index = np.broadcast_to(index, a.shape[:-1] + index.shape[-1:])
    array = np.take_along_axis(a, index, -1)
    if not isinstance(x, Tensor):
        return array
    out = wrap(array, x._dtype)
    if _records(x):
        node = new_node(_GatherBackward, (edge(x),), array)
        node.index, node.positions = index, a.shape[-1]
        set_history(out, node)
    return out


# ----- max pooling ----------------------------------------------------------------------------
class MaxPool2DWithIndicesBackward0(Node):
    """Each output's gradient goes to the position its maximum came from."""

    __slots__ = ("indices", "self_sizes", "arg", "windows")
    _saved_fields = ("indices", "arg")  # torch saves the input: a second backward fails

    def backward(self, grad, xp):
        shape = self.self_sizes
        if self.arg is not None and not isinstance(grad, Tensor):
            return (_unpool_disjoint(grad, self.arg, self.windows),)
        lead = shape[:-2]
        g = xp.reshape(grad, lead + (math.prod(grad.shape[len(lead):]),))
        index = self.indices.reshape(g.shape)
        out = scatter_add_flat(g, index, shape[-1] * shape[-2])
        return (xp.reshape(out, shape),)


class AdaptiveMaxPool2DBackward0(MaxPool2DWithIndicesBackward0):
    __slots__ = ()


def _unpool_disjoint(grad: np.ndarray, arg: np.ndarray, win: _Windows) -> np.ndarray:
    """Max pooling's gradient when windows do not overlap: each kernel position's outputs
    are written straight into their (disjoint) strided slice of the input."""
    lead = grad.shape[:-2]
    padded = tuple(n + lo + hi for n, lo, hi in zip(win.size, win.lo, win.hi))
    out = np.zeros(lead + padded, dtype=grad.dtype)
    zero = grad.dtype.type(0)
    finite = bool(np.isfinite(grad).all())  # then a product with the mask is exact (and fast)
    for k, (i, j) in enumerate(itertools.product(range(win.kernel[0]), range(win.kernel[1]))):
        region = (Ellipsis,) + tuple(
            slice(t * d, t * d + s * (o - 1) + 1, s)
            for t, d, s, o in zip((i, j), win.dilation, win.stride, win.out))
        if finite:
            np.multiply(grad, arg == k, out=out[region])
        else:
            out[region] = np.where(arg == k, grad, zero)
    if any(win.lo) or any(win.hi):
        out = np.ascontiguousarray(out[(Ellipsis,) + tuple(
            slice(lo, lo + n) for n, lo in zip(win.size, win.lo))])
    return out


def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    """torch's pooling_output_shape."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_args(name: str, kernel_size, stride, padding, dilation=1):
    def pair(value, what: str, allow_empty: bool = False):
        if isinstance(value, (bool, numbers.Integral)):
            return (int(value),) * 2
        value = tuple(int(v) for v in value)
        if len(value) == 1:
            return value * 2
        if len(value) == 2 or (allow_empty and not value):
            return value
        raise RuntimeError(what)

    kernel = pair(kernel_size, f"{name}: kernel_size must either be a single int, or a tuple "
                               "of two ints")
    if stride is None:
        stride = ()
    stride = pair(stride, f"{name}: stride must either be omitted, a single int, or a tuple of "
                          "two ints", True) or kernel
    padding = pair(padding, f"{name}: padding must either be a single int, or a tuple of two "
                            "ints")
    dilation = pair(dilation, f"{name}: dilation must be either a single int, or a tuple of two "
                              "ints")
    return kernel, stride, padding, dilation


def _pool_geometry(x: np.ndarray, kernel, stride, padding, dilation, ceil_mode: bool,
                   check_ndim: bool = True) -> _Windows:
    """Check a 2-D pooling's arguments as torch does; the windows (ceil mode adds high padding)."""
    if check_ndim and (x.ndim < 3 or x.ndim > 4):
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    if x.ndim < 3:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-max(x.ndim, 1)}, "
            f"{max(x.ndim, 1) - 1}], but got -3)"
        )
    out = []
    for i in range(2):
        k, s, p, d = kernel[i], stride[i], padding[i], dilation[i]
        if s == 0:
            raise RuntimeError("stride should not be zero")
        if p < 0:
            raise RuntimeError(f"pad must be non-negative, but got pad: {p}")
        if p > ((k - 1) * d + 1) // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={p}, "
                f"kernel_size={k} and dilation={d}"
            )
        out.append(_pool_out(x.shape[-2 + i], k, s, p, d, ceil_mode))
    if kernel[0] <= 0 or kernel[1] <= 0:
        raise RuntimeError(
            f"kernel size should be greater than zero, but got kH: {kernel[0]} kW: {kernel[1]}"
        )
    if stride[0] <= 0 or stride[1] <= 0:
        raise RuntimeError(
            f"stride should be greater than zero, but got dH: {stride[0]} dW: {stride[1]}"
        )
    if dilation[0] <= 0 or dilation[1] <= 0:
        raise RuntimeError(
            f"dilation should be greater than zero, but got dilationH: {dilation[0]} dilationW: "
            f"{dilation[1]}"
        )
    if x.ndim > 4 or any(s == 0 for s in x.shape[1:]) or (x.ndim == 3 and x.shape[0] == 0):
        raise RuntimeError(
            "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, "
            f"but got:{_size(x.shape)}"
        )
    if out[0] < 1 or out[1] < 1:
        raise RuntimeError(
            f"Given input size: ({x.shape[-3]}x{x.shape[-2]}x{x.shape[-1]}). Calculated output "
            f"size: ({x.shape[-3]}x{out[0]}x{out[1]}). Output size is too small"
        )
    size = x.shape[-2:]
    hi = tuple(max((o - 1) * s + d * (k - 1) + 1 - n - p, 0)
               for o, s, d, k, n, p in zip(out, stride, dilation, kernel, size, padding))
    return _Windows(size, kernel, dilation, padding, hi, stride, out)


def _lowest(dtype: np.dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _window_max(a: np.ndarray, win: _Windows):
    """The maximum of each window, the flat input position it came from (torch's choice:
    the first maximum in scan order, the last NaN, never a padding position), and the
    kernel position of that maximum when it is a plain one (None otherwise)."""
    kp = math.prod(win.kernel)
    view = win.unfold(a, _lowest(a.dtype))  # (*lead, kh, kw, oh, ow), strided, no copy
    parts = [view[(slice(None),) * (a.ndim - 2) + (i, j)]
             for i in range(win.kernel[0]) for j in range(win.kernel[1])]
    values = parts[0].copy()
    for part in parts[1:]:
        np.maximum(values, part, out=values)
    arg = np.full(values.shape, kp - 1, dtype=np.intp)
    for k in range(kp - 2, -1, -1):  # the first maximum wins (arithmetic beats np.where)
        arg -= (parts[k] == values) * (arg - k)
    if a.dtype.kind == "f":
        nan = np.isnan(values)
        if nan.any():
            for k in range(kp):
                np.copyto(arg, k, where=nan & np.isnan(parts[k]))
        lowest = values == -np.inf
    else:
        lowest = values == np.iinfo(a.dtype).min
    width = win.size[1]
    kh, kw = np.divmod(np.arange(kp), win.kernel[1])
    offset = kh * (win.dilation[0] * width) + kw * win.dilation[1]
    starts = [np.arange(o) * s - p for o, s, p in zip(win.out, win.stride, win.lo)]
    flat = offset.take(arg) + (starts[0][:, None] * width + starts[1][None, :])
    if lowest.any():
        # Nothing beat the initial lowest value: torch reports the window's first position on
        # the dilation grid that is not in the low padding (even past the input's end).
        first = [np.where(st < 0, st + (-st + d - 1) // d * d, st)
                 for st, d in zip(starts, win.dilation)]
        flat = np.where(lowest, first[0][:, None] * width + first[1][None, :], flat)
        arg = None
    return values, flat.astype(np.int64, copy=False), arg


def _max_pool2d(input: Tensor, kernel, stride, padding, dilation, ceil_mode: bool,
                node_cls=MaxPool2DWithIndicesBackward0):
    win = _pool_geometry(input._array, kernel, stride, padding, dilation, ceil_mode)
    values, indices, arg = _window_max(input._array, win)
    out = wrap(values, input._dtype)
    if _records(input):
        node = new_node(node_cls, (edge(input),), values)
        node.indices, node.self_sizes = indices, input._array.shape
        disjoint = all(s >= d * (k - 1) + 1
                       for s, d, k in zip(win.stride, win.dilation, win.kernel))
        node.arg, node.windows = (arg, win) if disjoint else (None, None)
        set_history(out, node)
    return out, wrap(indices, D.int64)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """2-D max pooling over ``(N, C, H, W)`` or ``(C, H, W)``."""
    _check_tensor(input, "input", 1, "max_pool2d")
    args = _pool_args("max_pool2d", kernel_size, stride, padding, dilation)
    out, indices = _max_pool2d(input, *args, bool(ceil_mode))
    return (out, indices) if return_indices else out


def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = False):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _one(name: str, what: str, value, allow_empty: bool = False, phrase: str = "an int, list "
         "of ints or tuple of ints") -> tuple:
    if isinstance(value, (bool, numbers.Integral)):
        return (int(value),)
    value = tuple(int(v) for v in value)
    if len(value) != 1 and not (allow_empty and not value):
        raise RuntimeError(
            f"{name}() {what} must be {phrase} of size 1 but got size {len(value)}"
        )
    return value


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """1-D max pooling over ``(N, C, L)`` or ``(C, L)`` (a 2-D pooling of height 1)."""
    from ember.ops.shape import squeeze, unsqueeze

    _check_tensor(input, "input", 1, "max_pool1d")
    x = input._array
    if return_indices:
        # max_pool1d_with_indices: a 2-D pooling of height 1, with its checks
        _check_dim_range(input, "max_pool1d")
        (k,) = _int1("max_pool1d", "kernel_size", kernel_size)
        stride = _int1("max_pool1d", "stride", () if stride is None else stride, True)
        (p,) = _int1("max_pool1d", "padding", padding)
        (d,) = _int1("max_pool1d", "dilation", dilation)
        (s,) = stride or (k,)
        out, indices = _max_pool2d(unsqueeze(input, -2), (1, k), (1, s), (0, p), (1, d),
                                   bool(ceil_mode))
        out = squeeze(out, -2)
        return out, wrap(indices._array.reshape(out._array.shape), D.int64)
    if x.ndim not in (2, 3) or any(s == 0 for s in x.shape[1:]) or (
            x.ndim == 2 and x.shape[0] == 0):
        raise RuntimeError(
            "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size "
            f"for input, but got:{_size(x.shape)}"
        )
    if x.dtype.kind != "f" and not _records(input):
        raise NotImplementedError(
            f"\"max_pool1d_impl\" not implemented for '{_SCALAR[input._dtype.name]}'")
    (k,) = _one("max_pool1d", "kernel_size", kernel_size)
    stride = _one("max_pool1d", "stride", () if stride is None else stride, True,
                  "None, an int, list of ints, or tuple of ints")
    (p,) = _one("max_pool1d", "padding", padding, phrase="an int, list of ints, or tuple of ints")
    (d,) = _one("max_pool1d", "dilation", dilation)
    (s,) = stride or (k,)
    if k <= 0:
        raise RuntimeError(f"max_pool1d() kernel_size must be greater than zero, but got {k}")
    if s <= 0:
        raise RuntimeError(f"max_pool1d() stride must be greater than zero, but got {s}")
    if p < 0:
        raise RuntimeError(f"max_pool1d() padding must be non-negative, but got {p}")
    if p > k // 2:
        raise RuntimeError(
            f"max_pool1d() padding should be at most half of kernel size, but got padding={p} "
            f"and kernel_size={k}"
        )
    if d <= 0:
        raise RuntimeError(f"max_pool1d() dilation must be greater than zero, but got {d}")
    width = _pool_out(x.shape[-1], k, s, p, d, bool(ceil_mode))
    if width <= 0:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {width}")
    out, _ = _max_pool2d(unsqueeze(input, -2), (1, k), (1, s), (0, p), (1, d), bool(ceil_mode))
    return squeeze(out, -2)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = False):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ----- average pooling ------------------------------------------------------------------------
class AvgPool2DBackward0(Node):
    """Each window's gradient, divided by its divisor, spread back over the window."""

    __slots__ = ("windows", "divisor", "self_sizes")
    _saved_fields = ("divisor",)  # torch saves the input: a second backward fails

    def backward(self, grad, xp):
        win = self.windows
        divisor = self.divisor
        if isinstance(grad, Tensor):
            divisor = wrap(divisor.astype(grad._array.dtype), grad._dtype)
        else:
            divisor = divisor.astype(grad.dtype, copy=False)
        g = grad / divisor
        lead = self.self_sizes[:-2]
        g = xp.reshape(g, lead + (1, 1) + win.out)
        g = xp.expand(g, lead + win.kernel + win.out)
        return (fold_windows(g, win, self.self_sizes),)


def _avg_divisor(win: _Windows, count_include_pad: bool, divisor_override) -> np.ndarray:
    """Per output position: the divisor torch's average pooling uses."""
    spans = []
    for n, k, s, p, o in zip(win.size, win.kernel, win.stride, win.lo, win.out):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        full = end - start
        valid = np.minimum(end, n) - np.maximum(start, 0)
        spans.append((full, valid))
    if divisor_override:
        return np.full(win.out, float(divisor_override))
    which = 0 if count_include_pad else 1
    return np.outer(spans[0][which], spans[1][which]).astype(np.float64)


def _avg_pool2d(input: Tensor, kernel, stride, padding, ceil_mode: bool, count_include_pad: bool,
                divisor_override):
    x = input._array
    win = _pool_geometry(x, kernel, stride, padding, (1, 1), ceil_mode, check_ndim=False)
    if divisor_override is not None and int(divisor_override) == 0:
        raise RuntimeError("divisor must be not zero")
    divisor = _avg_divisor(win, count_include_pad, divisor_override)
    lead = x.shape[:-2]
    cols = win.unfold(x, 0)
    k_axes = (len(lead), len(lead) + 1)
    if x.dtype.kind == "f":
        values = (cols.sum(axis=k_axes) / divisor).astype(x.dtype, copy=False)
    else:
        values = np.trunc(cols.sum(axis=k_axes) / divisor).astype(x.dtype)
    out = wrap(values, input._dtype)
    if _records(input):
        node = new_node(AvgPool2DBackward0, (edge(input),), values)
        node.windows, node.divisor, node.self_sizes = win, divisor, x.shape
        set_history(out, node)
    return out


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """2-D average pooling over ``(N, C, H, W)`` or ``(C, H, W)``."""
    _check_tensor(input, "input", 1, "avg_pool2d")
    kernel, stride, padding, _ = _pool_args("avg_pool2d", kernel_size, stride, padding)
    return _avg_pool2d(input, kernel, stride, padding, bool(ceil_mode), bool(count_include_pad),
                       divisor_override)


def _check_dim_range(input: Tensor, name: str) -> None:
    ndim = input._array.ndim
    if ndim not in (2, 3):
        raise RuntimeError(
            f"Expected 2 to 3 dimensions, but got {ndim}-dimensional tensor for argument #1 "
            f"'self' (while checking arguments for {name})"
        )


def _int1(name: str, what: str, value, allow_empty: bool = False) -> tuple:
    if isinstance(value, (bool, numbers.Integral)):
        return (int(value),)
    value = tuple(int(v) for v in value)
    if len(value) != 1 and not (allow_empty and not value):
        raise RuntimeError(f"{name}() argument '{what}' should contain one int (got {len(value)})")
    return value


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling over ``(N, C, L)`` or ``(C, L)`` (a 2-D pooling of height 1)."""
    from ember.ops.shape import squeeze, unsqueeze

    _check_tensor(input, "input", 1, "avg_pool1d")
    _check_dim_range(input, "avg_pool1d")
    (k,) = _int1("avg_pool1d", "kernel_size", kernel_size)
    stride = _int1("avg_pool1d", "stride", () if stride is None else stride, True)
    (p,) = _int1("avg_pool1d", "padding", padding)
    (s,) = stride or (k,)
    out = _avg_pool2d(unsqueeze(input, -2), (1, k), (1, s), (0, p), bool(ceil_mode),
                      bool(count_include_pad), None)
    return squeeze(out, -2)


# ----- adaptive pooling -----------------------------------------------------------------------
def _adaptive_bounds(size: int, out: int):
    start = (np.arange(out) * size) // out
    end = -((-(np.arange(out) + 1) * size) // out)
    return start, end


def _check_has_size(input) -> None:
    # torch's Python wrapper reads input.size() first
    if not isinstance(input, Tensor):
        raise AttributeError(f"'{type(input).__name__}' object has no attribute 'size'")


def _adaptive_sizes(input: Tensor, output_size, n: int) -> tuple:
    if isinstance(output_size, (bool, numbers.Integral)):
        return (int(output_size),) * n
    sizes = tuple(output_size)
    shape = input._array.shape
    return tuple(shape[len(shape) - len(sizes) + i] if v is None else int(v)
                 for i, v in enumerate(sizes))


class AdaptiveAvgPool2DBackward0(Node):
    __slots__ = ("rows", "cols", "count")
    _saved_fields = ("rows", "cols", "count")  # torch saves the input

    def backward(self, grad, xp):
        rows, cols, count = self.rows, self.cols, self.count
        if isinstance(grad, Tensor):
            dtype = grad._dtype
            rows, cols = wrap(rows.astype(grad._array.dtype), dtype), wrap(
                cols.astype(grad._array.dtype), dtype)
            count = wrap(count.astype(grad._array.dtype), dtype)
        else:
            rows, cols = rows.astype(grad.dtype), cols.astype(grad.dtype)
            count = count.astype(grad.dtype)
        g = grad / count
        return (xp.matmul(xp.matmul(xp.mT(rows), g), cols),)


def _indicator(size: int, out: int) -> np.ndarray:
    start, end = _adaptive_bounds(size, out)
    j = np.arange(size)
    return ((j >= start[:, None]) & (j < end[:, None])).astype(np.float64)


def _adaptive_avg_pool2d(input: Tensor, sizes: tuple, name: str = "adaptive_avg_pool2d"):
    from ember.ops.reduction import mean

    if len(sizes) != 2:
        raise RuntimeError("adaptive_avg_pool2d: output_size must be 2")
    if sizes[0] < 0 or sizes[1] < 0:
        raise RuntimeError(
            "adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 "
            f"but received {{{sizes[0]}, {sizes[1]}}}"
        )
    if sizes == (1, 1):
        return mean(input, (-1, -2), True)
    x = input._array
    if x.ndim not in (3, 4):
        raise RuntimeError(f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got "
                           f"{_size(x.shape)}")
    for i in range(1, x.ndim):
        if x.shape[i] == 0:
            raise RuntimeError(
                "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch "
                f"dimensions, but input has sizes {_size(x.shape)} with dimension {i} being empty"
            )
    if x.dtype.kind != "f":
        raise NotImplementedError(
            f"\"adaptive_avg_pool2d\" not implemented for '{_SCALAR[input._dtype.name]}'")
    rows = _indicator(x.shape[-2], sizes[0])
    cols = _indicator(x.shape[-1], sizes[1])
    count = np.outer(rows.sum(1), cols.sum(1))
    values = ((rows @ x @ cols.T) / count).astype(x.dtype, copy=False)
    out = wrap(values, input._dtype)
    if _records(input):
        node = new_node(AdaptiveAvgPool2DBackward0, (edge(input),), values)
        node.rows, node.cols, node.count = rows, cols, count
        set_history(out, node)
    return out


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a given output size (windows from floor(i*n/o) to ceil((i+1)*n/o))."""
    _check_has_size(input)
    return _adaptive_avg_pool2d(input, _adaptive_sizes(input, output_size, 2))


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    from ember.ops.shape import squeeze, unsqueeze

    _check_tensor(input, "input", 1, "adaptive_avg_pool1d")
    _check_dim_range(input, "adaptive_avg_pool1d")
    (size,) = _int1("adaptive_avg_pool1d", "output_size", output_size)
    return squeeze(_adaptive_avg_pool2d(unsqueeze(input, -2), (1, size)), -2)


def _adaptive_max_pool2d(input: Tensor, sizes: tuple, name: str = "adaptive_max_pool2d"):
    x = input._array
    if x.ndim not in (3, 4):
        raise RuntimeError(f"{name}(): Expected 3D or 4D tensor, but got: {_size(x.shape)}")
    for i in range(1, x.ndim):
        if x.shape[i] == 0:
            raise RuntimeError(
                f"{name}(): Expected input to have non-zero size for non-batch dimensions, but "
                f"input has sizes {_size(x.shape)} with dimension {i} being empty"
            )
    if len(sizes) != 2:
        raise RuntimeError(f"{name}(): internal error: output_size.size() must be 2")
    if any(s < 0 for s in sizes):
        bad = next(s for s in sizes if s < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: "
                           f"{_size(x.shape[:-2] + sizes)}")
    if x.dtype.kind != "f":
        raise NotImplementedError(
            f"\"{name}\" not implemented for '{_SCALAR[input._dtype.name]}'")
    lead = x.shape[:-2]
    (h, w), (oh, ow) = x.shape[-2:], sizes
    index = []
    for n, o in ((h, oh), (w, ow)):
        start, end = _adaptive_bounds(n, o)
        width = int((end - start).max()) if o else 1
        index.append(np.minimum(start[:, None] + np.arange(width), end[:, None] - 1))
    ih, iw = index
    kh, kw = ih.shape[1], iw.shape[1]
    flat = (ih[:, None, :, None] * w + iw[None, :, None, :]).reshape(oh, ow, kh * kw)
    windows = x.reshape(lead + (h * w,))[..., flat]  # (*lead, oh, ow, kh*kw)
    values = windows.max(axis=-1) if windows.size else np.zeros(lead + (oh, ow), x.dtype)
    arg = np.full(values.shape, kh * kw - 1, dtype=np.intp)
    for k in range(kh * kw - 2, -1, -1):
        arg[windows[..., k] == values] = k
    nan = np.isnan(values)
    if nan.any():
        for k in range(kh * kw):
            arg[nan & np.isnan(windows[..., k])] = k
    indices = np.take_along_axis(np.broadcast_to(flat, lead + flat.shape), arg[..., None],
                                 -1)[..., 0].astype(np.int64)
    out = wrap(values, input._dtype)
    if _records(input):
        node = new_node(AdaptiveMaxPool2DBackward0, (edge(input),), values)
        node.indices, node.self_sizes = indices, x.shape
        node.arg = node.windows = None
        set_history(out, node)
    return out, wrap(indices, D.int64)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a given output size."""
    _check_has_size(input)
    out, indices = _adaptive_max_pool2d(input, _adaptive_sizes(input, output_size, 2))
    return (out, indices) if return_indices else out


def adaptive_max_pool2d_with_indices(input: Tensor, output_size, return_indices: bool = False):
    return adaptive_max_pool2d(input, output_size, True)


def _adaptive_max_pool1d(input: Tensor, output_size):
    from ember.ops.shape import squeeze, unsqueeze

    _check_tensor(input, "input", 1, "adaptive_max_pool1d")
    _check_dim_range(input, "adaptive_max_pool1d")
    (size,) = _int1("adaptive_max_pool1d", "output_size", output_size)
    x = input._array
    for i in range(1, x.ndim):
        if x.shape[i] == 0:
            raise RuntimeError(
                "adaptive_max_pool1d(): Expected input to have non-zero size for non-batch "
                f"dimensions, but input has sizes {_size(x.shape)} with dimension {i} being empty"
            )
    out, indices = _adaptive_max_pool2d(unsqueeze(input, -2), (1, size))
    return squeeze(out, -2), wrap(indices._array.reshape(out._array.shape[:-2] + (size,)),
                                  D.int64)


def adaptive_max_pool1d(input: Tensor, output_size):
    """torch.adaptive_max_pool1d: always ``(values, indices)``."""
    return _adaptive_max_pool1d(input, output_size)


def functional_adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """F.adaptive_max_pool1d: the indices only when asked for."""
    out, indices = _adaptive_max_pool1d(input, output_size)
    return (out, indices) if return_indices else out


def adaptive_max_pool1d_with_indices(input: Tensor, output_size, return_indices: bool = False):
    return _adaptive_max_pool1d(input, output_size)


# ----- padding --------------------------------------------------------------------------------
class ConstantPadNdBackward0(Node):
    """The gradient is the matching region: padding by the negated amounts crops it."""

    __slots__ = ("pad",)

    def backward(self, grad, xp):
        return (constant_pad_nd(grad, [-p for p in self.pad]),)


def _pad_slices(shape: tuple, pad) -> tuple:
    """Output shape, and the slices of output and input that overlap (pad pairs start at the
    last dimension)."""
    out_shape = list(shape)
    dst = [slice(None)] * len(shape)
    src = [slice(None)] * len(shape)
    for i in range(len(pad) // 2):
        dim = len(shape) - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        size = shape[dim]
        length = size - max(-lo, 0) - max(-hi, 0)
        if length < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
        out_shape[dim] = size + lo + hi
        dst[dim] = slice(max(lo, 0), max(lo, 0) + length)
        src[dim] = slice(max(-lo, 0), max(-lo, 0) + length)
    return tuple(out_shape), tuple(dst), tuple(src)


def _check_pad_values(pad, name: str = "pad") -> tuple:
    pad = tuple(pad)
    for i, p in enumerate(pad):
        if not isinstance(p, (numbers.Integral, np.integer)) or isinstance(p, bool):
            raise TypeError(
                f"{name}(): argument 'pad' (position 2) must be tuple of ints, but found element "
                f"of type {type(p).__name__} at pos {i}"
            )
    return tuple(int(p) for p in pad)


def constant_pad_nd(input: Tensor, pad, value=0) -> Tensor:
    """Pad (or, with negative amounts, crop) the last ``len(pad) // 2`` dimensions."""
    if isinstance(input, np.ndarray):  # a backward formula, on arrays
        out_shape, dst, src = _pad_slices(input.shape, pad)
        out = np.zeros(out_shape, dtype=input.dtype)
        out[dst] = input[src]
        return out
    _check_tensor(input, "input", 1, "constant_pad_nd")
    pad = _check_pad_values(pad, "constant_pad_nd")
    x = input._array
    if len(pad) % 2:
        raise RuntimeError(f"Length of pad must be even but instead it equals {len(pad)}")
    if len(pad) // 2 > x.ndim:
        raise RuntimeError(
            "Length of pad should be no more than twice the number of dimensions of the input. "
            f"Pad length is {len(pad)} while the input has {x.ndim} dimensions."
        )
    out_shape, dst, src = _pad_slices(x.shape, pad)
    if any(s < 0 for s in out_shape):
        bad = next(s for s in out_shape if s < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: "
                           f"{_size(out_shape)}")
    array = np.full(out_shape, value, dtype=x.dtype)
    array[dst] = x[src]
    out = wrap(array, input._dtype)
    if _records(input):
        node = new_node(ConstantPadNdBackward0, (edge(input),), array)
        node.pad = pad
        set_history(out, node)
    return out


class _GatherNode(Node):
    """An output made of input elements picked by a fixed index over the last dimensions
    (index-based padding, nearest upsampling): the gradient is summed back at that index."""

    __slots__ = ("index", "self_sizes", "nd")

    def backward(self, grad, xp):
        shape, nd = self.self_sizes, self.nd
        lead = shape[:len(shape) - nd]
        g = xp.reshape(grad, lead + (self.index.shape[-1],))
        out = scatter_add_flat(g, self.index, math.prod(shape[len(shape) - nd:]))
        return (xp.reshape(out, shape),)


def _named(name: str, saves_input: bool = False) -> type:
    """A gather node under torch's name; those whose torch node saves the input release
    their index after a backward (so a second one fails as in torch)."""
    fields = {"__slots__": ()}
    if saves_input:
        fields["_saved_fields"] = ("index",)
    return type(name, (_GatherNode,), fields)


ReflectionPad1DBackward0 = _named("ReflectionPad1DBackward0", saves_input=True)
ReflectionPad2DBackward0 = _named("ReflectionPad2DBackward0", saves_input=True)
ReflectionPad3DBackward0 = _named("ReflectionPad3DBackward0", saves_input=True)
ReplicationPad1DBackward0 = _named("ReplicationPad1DBackward0", saves_input=True)
ReplicationPad2DBackward0 = _named("ReplicationPad2DBackward0", saves_input=True)
ReplicationPad3DBackward0 = _named("ReplicationPad3DBackward0", saves_input=True)
UpsampleNearest1DBackward0 = _named("UpsampleNearest1DBackward0")
UpsampleNearest2DBackward0 = _named("UpsampleNearest2DBackward0")
UpsampleNearestExact1DBackward0 = _named("UpsampleNearestExact1DBackward0")
UpsampleNearestExact2DBackward0 = _named("UpsampleNearestExact2DBackward0")


def _gather_op(input: Tensor, indices: list, node_cls) -> Tensor:
    """``input[..., i0[:, None], i1[None, :]]`` for per-dimension index arrays, recorded."""
    x = input._array
    nd = len(indices)
    sizes = x.shape[x.ndim - nd:]
    flat = np.zeros((), dtype=np.intp)
    for idx, size in zip(indices, sizes):
        flat = flat[..., None] * size + idx
    lead = x.shape[:x.ndim - nd]
    out_spatial = flat.shape
    flat = flat.reshape(-1)
    array = x.reshape(lead + (math.prod(sizes),))[..., flat].reshape(lead + out_spatial)
    out = wrap(array, input._dtype)
    if _records(input):
        node = new_node(node_cls, (edge(input),), array)
        node.index, node.self_sizes, node.nd = flat, x.shape, nd
        set_history(out, node)
    return out


def _index_pad(input: Tensor, pad: tuple, mode: str) -> Tensor:
    x = input._array
    nd = len(pad) // 2
    if x.ndim not in (nd + 1, nd + 2) or 0 in x.shape[x.ndim - nd - 1:] or (
            x.ndim == nd + 1 and x.shape[0] == 0):
        raise RuntimeError(
            f"Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with possibly 0 batch size and "
            f"other non-zero dimensions for input, but got: {_size(x.shape)}"
        )
    indices = []
    for i in range(nd):
        dim = x.ndim - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        size = x.shape[dim]
        if mode == "reflect" and (lo >= size or hi >= size):
            raise RuntimeError(
                f"Argument #{4 + 2 * i}: Padding size should be less than the corresponding "
                f"input dimension, but got: padding ({lo}, {hi}) at dimension {dim} of input "
                f"{_size(x.shape)}"
            )
        indices.insert(0, (dim, lo, hi, size))
    out_sizes = [size + lo + hi for _, lo, hi, size in indices]
    if nd == 1 and out_sizes[0] < 1:
        raise RuntimeError(f"input (W: {indices[0][3]}) is too small. Calculated output W: "
                           f"{out_sizes[0]}")
    if any(n < 0 for n in out_sizes):
        if mode == "reflect":
            raise RuntimeError("numel: integer multiplication overflow")
        shape = x.shape[:x.ndim - nd] + tuple(out_sizes)
        raise RuntimeError(f"Trying to create tensor with negative dimension "
                           f"{next(n for n in out_sizes if n < 0)}: {_size(shape)}")
    index = []
    for (_, lo, _hi, size), n in zip(indices, out_sizes):
        t = np.arange(n) - lo
        if mode == "reflect":
            t = np.abs(t)
            t = np.where(t > size - 1, 2 * (size - 1) - t, t)
        else:
            t = np.clip(t, 0, size - 1)
        index.append(t)
    prefix = "Reflection" if mode == "reflect" else "Replication"
    node_cls = globals()[f"{prefix}Pad{nd}DBackward0"]
    return _gather_op(input, index, node_cls)


def _circular_pad(input: Tensor, pad: tuple) -> Tensor:
    """torch's circular padding: crop by the negative amounts, then wrap around; written
    into a fresh tensor slice by slice, so the result is a CopySlices as in torch."""
    from ember._creation import zeros
    from ember.ops.indexing import getitem

    x = input._array
    nd = len(pad) // 2
    if x.ndim - nd not in (1, 2):
        raise RuntimeError(
            "Invalid padding size, expected 1 or 2 non-padded dimensions, which would be "
            f"equivalent to padding of length {(x.ndim - 1) * 2} or {(x.ndim - 2) * 2} "
            f"respectively but got {len(pad)}"
        )
    index = []
    for i in range(nd):
        dim = x.ndim - nd + i
        lo, hi = pad[2 * (nd - 1 - i)], pad[2 * (nd - 1 - i) + 1]
        size = x.shape[dim]
        if lo > size or hi > size:
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if size + lo + hi < 0:
            raise RuntimeError("Negative padding value is resulting in an empty dimension")
        start = max(-lo, 0)
        kept = size - start - max(-hi, 0)
        t = np.arange(size + lo + hi) - max(lo, 0)
        if kept <= 0 or max(lo, 0) > kept or max(hi, 0) > kept:
            raise NotImplementedError(
                "ember's circular padding does not implement wrapping a cropped dimension "
                "around more than once (torch reads memory it has not written there)")
        index.append(start + np.mod(t, kept))
    picked = _gather_op(input, index, _GatherNode)
    out = zeros(picked._array.shape, dtype=input._dtype)
    getitem(out, slice(None)).copy_(picked)
    return out


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dimensions; ``pad`` lists (before, after) amounts
    starting from the last dimension."""
    _check_tensor(input, "input", 1, "pad")
    pad = _check_pad_values(pad)
    x = input._array
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > x.ndim:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but "
            f"got padding length {len(pad)} and input of dimension {x.ndim}"
        )
    if mode == "constant":
        return constant_pad_nd(input, pad, 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    nd = len(pad) // 2
    if not (1 <= nd <= 3 and x.ndim in (nd + 1, nd + 2)):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {x.ndim}D input tensor.")
    if mode == "circular":
        return _circular_pad(input, pad)
    if nd == 3:
        raise NotImplementedError("ember does not implement 3-D reflect/replicate padding")
    return _index_pad(input, pad, mode)


# ----- resampling -----------------------------------------------------------------------------
class _SeparableBackward(Node):
    """An output that is a fixed linear map along each of the last dimensions (``mats``,
    one matrix per dimension): the gradient applies the transposed maps."""

    __slots__ = ("mats",)

    def backward(self, grad, xp):
        mats = self.mats
        if isinstance(grad, Tensor):
            mats = [wrap(m.astype(grad._array.dtype), grad._dtype) for m in mats]
        else:
            mats = [m.astype(grad.dtype, copy=False) for m in mats]
        if len(mats) == 1:
            return (xp.matmul(grad, mats[0]),)
        return (xp.matmul(xp.matmul(xp.mT(mats[0]), grad), mats[1]),)


class UpsampleLinear1DBackward0(_SeparableBackward):
    __slots__ = ()


class UpsampleBilinear2DBackward0(_SeparableBackward):
    __slots__ = ()


def _scale(in_size: int, out_size: int, scale, dtype) -> float:
    """The step between output and input coordinates (from scale_factor when one was given)."""
    if scale is not None and scale > 0:
        return dtype(1.0 / scale)
    return dtype(in_size) / dtype(out_size)


def _linear_matrix(in_size: int, out_size: int, align_corners: bool, scale, dtype) -> np.ndarray:
    """Rows of two interpolation weights each: output position -> input positions."""
    mat = np.zeros((out_size, in_size), dtype=np.float64)
    j = np.arange(out_size)
    if in_size == out_size:
        mat[j, j] = 1.0
        return mat
    if align_corners:
        ratio = dtype((in_size - 1) / (out_size - 1)) if out_size > 1 else dtype(0)
        src = ratio * j.astype(dtype)
    else:
        ratio = _scale(in_size, out_size, scale, dtype)
        src = np.maximum(ratio * (j.astype(dtype) + dtype(0.5)) - dtype(0.5), dtype(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    lam1 = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    lam0 = (dtype(1) - lam1).astype(dtype)
    i1 = i0 + (i0 < in_size - 1)
    np.add.at(mat, (j, i0), lam0)
    np.add.at(mat, (j, i1), lam1)
    return mat


def _nearest_index(in_size: int, out_size: int, scale, exact: bool) -> np.ndarray:
    ratio = _scale(in_size, out_size, scale, np.float32)
    j = np.arange(out_size, dtype=np.float32)
    if exact:
        j = j + np.float32(0.5)
    return np.minimum(np.floor(j * ratio).astype(np.int64), in_size - 1)


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners=None, recompute_scale_factor=None, antialias: bool = False
                ) -> Tensor:
    """Resize the spatial dimensions: 'nearest', 'nearest-exact', 'linear', 'bilinear',
    'area'."""
    if not isinstance(input, Tensor):
        raise AttributeError(f"'{type(input).__name__}' object has no attribute 'dim'")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: linear | "
                "bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    x = input._array
    dim = x.ndim - 2
    scales = None
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {list(x.shape[2:])} and output size of "
                    f"{size}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                    "output size in (o1, o2, ...,oK) format."
                )
            out_size = [int(v) for v in size]
        else:
            out_size = [int(size)] * dim
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, but "
                    f"got input with spatial dimensions of {list(x.shape[2:])} and scale_factor "
                    f"of shape {scale_factor}. Please provide input tensor in (N, C, d1, d2, "
                    "...,dK) format and scale_factor in (s1, s2, ...,sK) format."
                )
            scales = [float(v) for v in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        out_size = [math.floor(n * s) for n, s in zip(x.shape[2:], scales)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" or recompute_scale_factor:
        scales = None
    if antialias:
        raise NotImplementedError("ember's interpolate does not implement antialias=True")
    if mode == "area" and dim in (1, 2):
        return (adaptive_avg_pool1d if dim == 1 else adaptive_avg_pool2d)(input, out_size)
    wanted = {"linear": 1, "bilinear": 2, "trilinear": 3}
    if mode in ("nearest", "nearest-exact", "linear", "bilinear") and dim in (1, 2) and (
            mode not in wanted or wanted[mode] == dim):
        return _resample(input, out_size, scales, mode, bool(align_corners))
    if mode in wanted and dim in (1, 2, 3) and wanted[mode] != dim:
        raise NotImplementedError(
            f"Got {x.ndim}D input, but {mode} mode needs {wanted[mode] + 2}D input")
    if mode in ("nearest", "nearest-exact", "area", "bicubic", "trilinear", "lanczos") and \
            dim in (1, 2, 3):
        raise NotImplementedError(f"ember's interpolate does not implement mode '{mode}' for "
                                  f"{x.ndim}D input")
    raise NotImplementedError(
        f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {x.ndim}D) for the modes: "
        f"nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact "
        f"(got {mode})"
    )


def _resample(input: Tensor, out_size: list, scales, mode: str, align_corners: bool) -> Tensor:
    x = input._array
    in_size = x.shape[2:]
    names = ("H", "W")[-len(in_size):] if len(in_size) <= 2 else ("D", "H", "W")
    if any(n <= 0 for n in in_size) or any(n <= 0 for n in out_size):
        ins = ", ".join(f"{a}: {n}" for a, n in zip(names, in_size))
        outs = ", ".join(f"{a}: {n}" for a, n in zip(names, out_size))
        joiner = " and " if len(in_size) == 1 else " "
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({ins}){joiner}output ({outs})")
    scales = scales or [None] * len(in_size)
    if x.dtype.kind != "f":
        kind = {"nearest": "upsample_nearest", "nearest-exact": "_upsample_nearest_exact",
                "linear": "upsample_linear", "bilinear": "upsample_bilinear"}[mode]
        suffix = f"{len(in_size)}d" + ("_channels_last" if len(in_size) == 2 else "")
        raise NotImplementedError(
            f"\"{kind}{suffix}\" not implemented for '{_SCALAR[input._dtype.name]}'")
    if mode in ("nearest", "nearest-exact"):
        exact = mode == "nearest-exact"
        index = [_nearest_index(n, o, s, exact) for n, o, s in zip(in_size, out_size, scales)]
        node_cls = globals()[
            f"UpsampleNearest{'Exact' if exact else ''}{len(in_size)}DBackward0"]
        return _gather_op(input, index, node_cls)
    dtype = np.float32 if x.dtype == np.float32 else np.float64
    mats = [_linear_matrix(n, o, align_corners, s, dtype)
            for n, o, s in zip(in_size, out_size, scales)]
    if len(mats) == 1:
        values = x @ mats[0].T.astype(x.dtype)
        node_cls = UpsampleLinear1DBackward0
    else:
        values = mats[0].astype(x.dtype) @ x @ mats[1].T.astype(x.dtype)
        node_cls = UpsampleBilinear2DBackward0
    out = wrap(np.ascontiguousarray(values), input._dtype)
    if _records(input):
        node = new_node(node_cls, (edge(input),), out._array)
        node.mats = mats
        set_history(out, node)
    return out


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners=None) -> Tensor:
    """Deprecated spelling of ``interpolate``."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


# ----- pixel shuffle --------------------------------------------------------------------------
class PixelShuffleBackward0(Node):
    __slots__ = ("upscale_factor",)

    def backward(self, grad, xp):
        r = self.upscale_factor
        if 0 in grad.shape and r != 1:
            # torch's differentiable unshuffle keeps an empty gradient's shape, which its
            # engine then rejects
            *lead, c, h, w = grad.shape
            raise RuntimeError(
                "Function PixelShuffleBackward0 returned an invalid gradient at index 0 - got "
                f"{list(grad.shape)} but expected shape compatible with "
                f"{list(lead) + [c * r * r, h // r, w // r]}"
            )
        return (_shuffle(grad, self.upscale_factor, True),)


class PixelUnshuffleBackward0(Node):
    __slots__ = ("downscale_factor",)

    def backward(self, grad, xp):
        if 0 in grad.shape:  # torch's unshuffle of an empty tensor keeps its shape
            r = self.downscale_factor
            if grad.shape[-3] % (r * r):
                raise RuntimeError(
                    "pixel_shuffle expects its input's 'channel' dimension to be divisible by "
                    f"the square of upscale_factor, but input.size(-3)={grad.shape[-3]} is not "
                    f"divisible by {r * r}"
                )
            return (grad,)
        return (_shuffle(grad, self.downscale_factor, False),)


def _shuffle_array(a: np.ndarray, r: int, inverse: bool) -> np.ndarray:
    lead = a.shape[:-3]
    c, h, w = a.shape[-3:]
    n = len(lead)
    if not inverse:
        a = a.reshape(lead + (c // (r * r), r, r, h, w))
        a = a.transpose(tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2))
        return np.ascontiguousarray(a).reshape(lead + (c // (r * r), h * r, w * r))
    if a.size == 0:  # as torch: an empty input keeps its shape
        return a.copy()
    a = a.reshape(lead + (c, h // r, r, w // r, r))
    a = a.transpose(tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3))
    return np.ascontiguousarray(a).reshape(lead + (c * r * r, h // r, w // r))


def _shuffle(x, r: int, inverse: bool):
    if not isinstance(x, Tensor):
        return _shuffle_array(x, r, inverse)
    array = _shuffle_array(x._array, r, inverse)
    out = wrap(array, x._dtype)
    if _records(x):
        node_cls = PixelUnshuffleBackward0 if inverse else PixelShuffleBackward0
        node = new_node(node_cls, (edge(x),), array)
        if inverse:
            node.downscale_factor = r
        else:
            node.upscale_factor = r
        set_history(out, node)
    return out


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``(*, C*r*r, H, W) -> (*, C, H*r, W*r)``."""
    _check_tensor(input, "input", 1, "pixel_shuffle")
    x, r = input._array, int(upscale_factor)
    if x.ndim < 3:
        raise RuntimeError("pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {x.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    if x.shape[-3] % (r * r):
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
            f"of upscale_factor, but input.size(-3)={x.shape[-3]} is not divisible by {r * r}"
        )
    return _shuffle(input, r, False)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``(*, C, H*r, W*r) -> (*, C*r*r, H, W)``."""
    _check_tensor(input, "input", 1, "pixel_unshuffle")
    x, r = input._array, int(downscale_factor)
    if x.ndim < 3:
        raise RuntimeError("pixel_unshuffle expects input to have at least 3 dimensions, but got "
                           f"input with {x.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    if x.shape[-2] % r:
        raise RuntimeError(
            "pixel_unshuffle expects height to be divisible by downscale_factor, but "
            f"input.size(-2)={x.shape[-2]} is not divisible by {r}"
        )
    if x.shape[-1] % r:
        raise RuntimeError(
            "pixel_unshuffle expects width to be divisible by downscale_factor, but "
            f"input.size(-1)={x.shape[-1]} is not divisible by {r}"
        )
    return _shuffle(input, r, True)

__all__: list[str] = [
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "avg_pool1d", "bilinear", "conv1d", "conv2d",
    "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool1d_with_indices",
    "max_pool2d", "constant_pad_nd", "pixel_shuffle", "pixel_unshuffle",
]
FUNCTIONAL: list[str] = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d", "adaptive_max_pool2d_with_indices",
    "avg_pool1d", "avg_pool2d", "bilinear", "conv1d", "conv2d", "conv_transpose1d",
    "conv_transpose2d", "fold", "linear", "max_pool1d", "max_pool1d_with_indices", "max_pool2d",
    "max_pool2d_with_indices", "unfold", "pad", "interpolate", "upsample", "pixel_shuffle",
    "pixel_unshuffle",
]
# Functional forms whose behaviour differs from the top-level op of the same name.
FUNCTIONAL_ONLY: dict = {"adaptive_max_pool1d": functional_adaptive_max_pool1d}
TENSOR_METHODS: dict = {}
