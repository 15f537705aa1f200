"""ember.nn's normalization layers (BatchNorm with running statistics, LayerNorm, GroupNorm)
and padded convolutions against torch: outputs, gradients, buffers, train/eval."""

from __future__ import annotations

import pytest

from differential import check

# ----- layers with state or modes ----------------------------------------------------------------
DIMS = {"BatchNorm1d": [(4, 3), (4, 3, 5)], "BatchNorm2d": [(4, 3, 2, 2)]}


@pytest.mark.parametrize("cls,shape", [(c, s) for c, ss in DIMS.items() for s in ss])
@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.3}, {"momentum": None},
                                    {"affine": False}, {"track_running_stats": False},
                                    {"eps": 1e-3, "bias": False}])
def test_batchnorm_training_running_stats_and_eval(cls, shape, kwargs):
    def program(lib):
        lib.manual_seed(0)
        bn = getattr(lib.nn, cls)(3, **kwargs)
        outs = []
        for _ in range(3):
            x = lib.randn(*shape, requires_grad=True)
            y = bn(x)
            (y * y.detach().sin()).sum().backward()
            outs.append((y, x.grad))
        bn.eval()
        x = lib.randn(*shape, requires_grad=True)
        y = bn(x)
        y.sum().backward()
        outs.append((y, x.grad))
        return (repr(bn), outs, list(bn.named_buffers()),
                [(n, p.grad) for n, p in bn.named_parameters()])

    check(program, rtol=1e-4, atol=1e-5)


def test_batchnorm_input_checks():
    def program(lib):
        out = []
        for m, x in ((lib.nn.BatchNorm1d(3), lib.randn(3)), (lib.nn.BatchNorm2d(3),
                                                                lib.randn(2, 3, 4))):
            try:
                m(x)
            except ValueError as e:
                out.append(str(e))
        return out

    check(program)


@pytest.mark.parametrize("ctor", [
    lambda nn: nn.LayerNorm(4), lambda nn: nn.LayerNorm([3, 4], eps=1e-3),
    lambda nn: nn.LayerNorm(4, elementwise_affine=False), lambda nn: nn.LayerNorm(4, bias=False),
    lambda nn: nn.GroupNorm(2, 6), lambda nn: nn.GroupNorm(3, 6, affine=False),
    lambda nn: nn.GroupNorm(1, 6, eps=1e-3),
])
def test_layernorm_groupnorm(ctor):
    def program(lib):
        lib.manual_seed(0)
        m = ctor(lib.nn)
        with lib.no_grad():
            for p in m.parameters():
                p.normal_()
        x = lib.randn(2, 6, 3, 4, requires_grad=True) if isinstance(m, lib.nn.GroupNorm) \
            else lib.randn(2, 3, 4, requires_grad=True)
        y = m(x)
        (y * y.detach().cos()).sum().backward()
        return repr(m), y, x.grad, [(n, p.grad) for n, p in m.named_parameters()]

    check(program, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (2, 3, 5)), ("InstanceNorm1d", (3, 5)),
                                       ("InstanceNorm2d", (2, 3, 4, 4))])
@pytest.mark.parametrize("kwargs", [{}, {"affine": True}, {"track_running_stats": True},
                                    {"affine": True, "track_running_stats": True,
                                     "momentum": 0.2}])
def test_instancenorm(cls, shape, kwargs):
    def program(lib):
        lib.manual_seed(0)
        m = getattr(lib.nn, cls)(3, **kwargs)
        outs = []
        for _ in range(2):
            x = lib.randn(*shape, requires_grad=True)
            y = m(x)
            (y * y.detach().sin()).sum().backward()
            outs.append((y, x.grad))
        m.eval()
        outs.append(m(lib.randn(*shape)))
        return (repr(m), outs, list(m.named_buffers()),
                [(n, p.grad) for n, p in m.named_parameters()])

    check(program, rtol=1e-4, atol=1e-5)


def test_fold_unfold_modules():
    def program(lib):
        lib.manual_seed(0)
        unfold = lib.nn.Unfold(kernel_size=(2, 3), padding=1, stride=2)
        fold = lib.nn.Fold(output_size=(4, 5), kernel_size=(2, 3), padding=1, stride=2)
        x = lib.randn(2, 3, 4, 5, requires_grad=True)
        cols = unfold(x)
        y = fold(cols)
        (y * y).sum().backward()
        return repr(unfold), repr(fold), cols, y, x.grad

    check(program)


@pytest.mark.parametrize("kwargs", [{}, {"eps": 1e-3}, {"elementwise_affine": False}])
@pytest.mark.parametrize("shape,normalized", [((2, 3, 4), 4), ((2, 3, 4), (3, 4))])
def test_rmsnorm(kwargs, shape, normalized):
    def program(lib):
        lib.manual_seed(0)
        m = lib.nn.RMSNorm(normalized, **kwargs)
        with lib.no_grad():
            for p in m.parameters():
                p.normal_()
        x = lib.randn(*shape, requires_grad=True)
        y = m(x)
        (y * y.detach().cos()).sum().backward()
        return (repr(m), y.detach(), x.grad, [(n, p.grad) for n, p in m.named_parameters()])

    check(program, rtol=1e-4, atol=1e-5)
