"""Tensor attributes that are not ops (``is_cpu``, ``itemsize``, ``nbytes``, ``output_nr``,
``storage_offset``...) and the in-place view ops' effect on a tensor's metadata and version,
each compared with torch."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from oracle import torch

DTYPES = ("float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool")


def both(build):
    """``build(m)`` under torch and under ember."""
    return build(torch), build(ember)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sizes_in_bytes(dtype):
    def build(m):
        x = m.ones(3, 4, dtype=getattr(m, dtype if dtype != "bool" else "bool"))
        views = (x, x[1:], x.t(), x[:, ::2], x.expand(2, 3, 4), x[0, 0], x[:0])
        return [(v.itemsize, v.nbytes, v.element_size(), v.is_cpu, v.is_signed())
                for v in views]

    t, e = both(build)
    assert e == t


def test_is_cpu_and_get_device():
    t, e = both(lambda m: (m.ones(2).is_cpu, m.ones(2).get_device(),
                           m.get_device(m.ones(2)), m.ones(2).is_inference()))
    assert e == t


def test_output_nr():
    def build(m):
        x = m.arange(6.0).reshape(2, 3).requires_grad_()
        values, indices = x.max(dim=1)
        a, b, c = x.unbind(1)
        return [t.output_nr for t in (x, values, indices, a, b, c, x * 2)]

    t, e = both(build)
    assert e == t


def test_storage_offset():
    def build(m):
        x = m.arange(24.0).reshape(2, 3, 4)
        views = (x, x[1], x[1, 2], x[:, 1:], x[..., 2:], x.t()[1:] if x.ndim == 2 else x[1:, 2],
                 x.transpose(0, 2)[3], x.narrow(2, 1, 2), x.select(1, 2), x.unfold(2, 2, 1)[0, 1],
                 x.reshape(6, 4)[2:], x.diagonal(0, 1, 2)[1], x.clone()[1], x.unsqueeze(0)[0, 1])
        return [v.storage_offset() for v in views]

    t, e = both(build)
    assert e == t


def test_type_as_keeps_the_tensor_when_dtypes_agree():
    for m in (torch, ember):
        x = m.ones(2, requires_grad=True)
        assert x.type_as(m.zeros(1)) is x
        y = x.type_as(m.zeros(1, dtype=m.float64))
        assert y.dtype == m.float64 and type(y.grad_fn).__name__ == "ToCopyBackward0"


def test_positive_is_the_tensor_itself():
    for m in (torch, ember):
        x = m.ones(2, requires_grad=True)
        assert m.positive(x) is x and x.positive() is x


@pytest.mark.parametrize("op", [
    lambda x: x.t_(), lambda x: x.transpose_(0, 1), lambda x: x.swapdims_(1, 0),
    lambda x: x.swapaxes_(0, -1), lambda x: x.unsqueeze_(1), lambda x: x[None].squeeze_(0),
    lambda x: x.unsqueeze_(-1).squeeze_(), lambda x: x.unsqueeze_(0).squeeze_((0,)),
])
def test_inplace_views_change_the_tensor_itself(op):
    """Same object back, new shape and strides, version bumped, same memory."""

    def build(m):
        x = m.arange(6.0).reshape(2, 3)
        version = x._version
        y = op(x)
        y[(0,) * y.ndim] = 100.0
        return (y.shape, y.stride(), y._version - version, y.tolist(), y.storage_offset(),
                x.tolist())

    t, e = both(build)
    assert e == t


def test_inplace_view_of_a_view_keeps_its_base():
    def build(m):
        base = m.arange(12.0).reshape(3, 4).requires_grad_()
        z = base * 1
        v = z[1:]
        v.t_()
        v.mul_(2)
        grad, = m.autograd.grad((z * m.arange(12.0).reshape(3, 4)).sum(), base)
        return (v._base is z, v.shape, z.tolist(), grad.tolist(), type(v.grad_fn).__name__,
                type(z.grad_fn).__name__)

    t, e = both(build)
    # torch names the view's node AsStridedBackward0 too after the in-place change
    assert e == t


def test_inplace_view_under_no_grad_on_a_leaf():
    def build(m):
        x = m.ones(2, 3, requires_grad=True)
        with m.no_grad():
            x.t_()
        (x * 2).sum().backward()
        return x.shape, x.grad.shape, x.is_leaf

    t, e = both(build)
    assert e == t


def test_is_nonzero_values():
    for value in (0.0, -0.0, 1.0, float("nan"), 0, 3, True, False):
        t, e = both(lambda m, value=value: m.tensor([[value]]).is_nonzero())
        assert e == t and type(e) is bool


def test_unfold_is_a_view():
    def build(m):
        x = m.arange(10.0)
        w = x.unfold(0, 3, 3)
        w[1, 1] = -1.0
        return x.tolist(), w._base is x, w.is_contiguous(), w.stride()

    t, e = both(build)
    assert e == t


def test_ravel_views_contiguous_tensors_only():
    def build(m):
        x = m.arange(6.0).reshape(2, 3)
        a, b = x.ravel(), x.t().ravel()
        return a._base is x, b._base is x, np.shares_memory(
            a.numpy(), x.numpy()), np.shares_memory(b.numpy(), x.numpy())

    t, e = both(build)
    assert e == t


@pytest.mark.parametrize("op", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("flags", [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 1, 1)])
def test_addc_second_backward(op, flags):
    """A second backward fails exactly when torch saved (and so freed) a tensor for it."""

    def build(m):
        x = m.ones(2, requires_grad=bool(flags[0]))
        a = m.tensor([1.0, 2.0], requires_grad=bool(flags[1]))
        b = m.tensor([3.0, 4.0], requires_grad=bool(flags[2]))
        y = getattr(m, op)(x, a, b).sum()
        y.backward()
        try:
            y.backward()
        except RuntimeError as error:
            return str(error).splitlines()[0]
        return [t.grad.tolist() for t in (x, a, b) if t.requires_grad]

    t, e = both(build)
    assert e == t


@pytest.mark.parametrize("relayout", [
    lambda a: a.t_(), lambda a: a.unsqueeze_(0), lambda a: a.t_().unsqueeze_(1),
    lambda a: a.unsqueeze_(-1).transpose_(0, 2), lambda a: a[None].squeeze_(0),
])
def test_views_made_before_a_base_changes_layout(relayout):
    """Views of a base taken before (and after) an in-place view op on the base, then changed
    in place: their regions of the base's gradient follow the base's new layout."""

    def build(m):
        x = m.arange(6.0).reshape(2, 3).requires_grad_()
        a = x * 1
        before = a[0]
        relayout(a)
        after = a.reshape(-1)[1:3] if a.is_contiguous() else a.select(-1, 0)
        before.mul_(2)
        after.add_(10)
        weights = m.arange(float(a.numel())).reshape(a.shape)
        grad, = m.autograd.grad((a * weights).sum(), x)
        return a.tolist(), grad.tolist(), type(a.grad_fn).__name__

    t, e = both(build)
    assert e == t
