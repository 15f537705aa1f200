"""ember.nn's layers against torch: default initialisation bit for bit, repr and state_dict,
outputs and gradients (inputs and every parameter), train/eval behaviour and misuse errors.

Each layer is built after the same ``manual_seed`` in both libraries, so the weights are the
same without copying; the inputs come from the same (bit-identical) random stream.
"""

from __future__ import annotations

import math
import warnings

import pytest

from differential import check

EXACT = {"rtol": 0, "atol": 0}


def _x(*shape):
    return lambda lib: (lib.randn(*shape),)


def _xx(a, b):
    return lambda lib: (lib.randn(*a), lib.randn(*b))


# (id, constructor, inputs) — every layer with parameters or options worth checking.
LAYERS = [
    ("linear", lambda nn: nn.Linear(5, 3), _x(4, 5)),
    ("linear_nobias_3d", lambda nn: nn.Linear(5, 3, bias=False), _x(2, 4, 5)),
    ("linear_1d", lambda nn: nn.Linear(5, 2), _x(5)),
    ("bilinear", lambda nn: nn.Bilinear(3, 4, 2), _xx((5, 3), (5, 4))),
    ("bilinear_nobias", lambda nn: nn.Bilinear(3, 4, 2, bias=False), _xx((5, 3), (5, 4))),
    ("conv1d", lambda nn: nn.Conv1d(3, 4, 3), _x(2, 3, 9)),
    ("conv1d_opts", lambda nn: nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2,
                                         bias=False), _x(2, 4, 11)),
    ("conv1d_same", lambda nn: nn.Conv1d(2, 3, 4, padding="same"), _x(1, 2, 7)),
    ("conv2d", lambda nn: nn.Conv2d(3, 4, 3), _x(2, 3, 7, 6)),
    ("conv2d_opts", lambda nn: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0),
                                         dilation=(1, 2), groups=2), _x(2, 4, 8, 7)),
    ("conv2d_valid", lambda nn: nn.Conv2d(1, 2, 2, padding="valid", bias=False), _x(1, 1, 4, 4)),
    ("conv2d_unbatched", lambda nn: nn.Conv2d(2, 3, 3, padding=1), _x(2, 5, 5)),
    ("convT1d", lambda nn: nn.ConvTranspose1d(3, 2, 3, stride=2), _x(2, 3, 5)),
    ("convT2d", lambda nn: nn.ConvTranspose2d(3, 4, 3), _x(2, 3, 4, 5)),
    ("convT2d_opts", lambda nn: nn.ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1,
                                                   output_padding=1, groups=2, dilation=1,
                                                   bias=False), _x(1, 4, 4, 3)),
    ("maxpool1d", lambda nn: nn.MaxPool1d(3, stride=2, padding=1), _x(2, 3, 9)),
    ("maxpool2d", lambda nn: nn.MaxPool2d(2), _x(2, 3, 6, 6)),
    ("maxpool2d_opts", lambda nn: nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=1,
                                               ceil_mode=True), _x(1, 2, 7, 6)),
    ("avgpool1d", lambda nn: nn.AvgPool1d(3, stride=2, padding=1), _x(2, 3, 9)),
    ("avgpool2d", lambda nn: nn.AvgPool2d(2), _x(2, 3, 6, 6)),
    ("avgpool2d_opts", lambda nn: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                                               count_include_pad=False), _x(1, 2, 7, 6)),
    ("adaptiveavg2d", lambda nn: nn.AdaptiveAvgPool2d((2, 3)), _x(2, 3, 7, 8)),
    ("adaptiveavg2d_int", lambda nn: nn.AdaptiveAvgPool2d(1), _x(2, 3, 5, 5)),
    ("adaptiveavg1d", lambda nn: nn.AdaptiveAvgPool1d(3), _x(2, 3, 7)),
    ("adaptivemax2d", lambda nn: nn.AdaptiveMaxPool2d((2, 2)), _x(1, 2, 5, 6)),
    ("embedding", lambda nn: nn.Embedding(10, 3),
     lambda lib: (lib.tensor([[1, 2, 0], [9, 4, 1]]),)),
    ("embedding_pad", lambda nn: nn.Embedding(6, 4, padding_idx=2),
     lambda lib: (lib.tensor([2, 0, 5, 2]),)),
    ("embedding_negpad", lambda nn: nn.Embedding(6, 4, padding_idx=-1),
     lambda lib: (lib.tensor([5, 0, 5]),)),
    ("prelu", lambda nn: nn.PReLU(), _x(3, 4)),
    ("prelu_channels", lambda nn: nn.PReLU(3, init=0.1), _x(2, 3, 4)),
    ("flatten", lambda nn: nn.Flatten(), _x(2, 3, 4)),
    ("flatten_dims", lambda nn: nn.Flatten(0, 1), _x(2, 3, 4)),
    ("unflatten", lambda nn: nn.Unflatten(1, (2, 3)), _x(4, 6)),
    ("identity", lambda nn: nn.Identity(3, unused=True), _x(2, 2)),
    ("sequential_mlp", lambda nn: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.0),
                                                nn.Linear(8, 3), nn.LogSoftmax(dim=1)),
     _x(5, 4)),
    ("cnn", lambda nn: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
                                     nn.MaxPool2d(2), nn.Conv2d(4, 8, 3), nn.ReLU(),
                                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10)),
     _x(2, 1, 8, 8)),
]

ACTIVATIONS = [
    ("relu", lambda nn: nn.ReLU()), ("relu6", lambda nn: nn.ReLU6()),
    ("leaky_relu", lambda nn: nn.LeakyReLU(0.2)), ("leaky_relu_default", lambda nn: nn.LeakyReLU()),
    ("elu", lambda nn: nn.ELU(alpha=0.5)), ("celu", lambda nn: nn.CELU(alpha=2.0)),
    ("selu", lambda nn: nn.SELU()), ("gelu", lambda nn: nn.GELU()),
    ("gelu_tanh", lambda nn: nn.GELU(approximate="tanh")), ("silu", lambda nn: nn.SiLU()),
    ("mish", lambda nn: nn.Mish()), ("sigmoid", lambda nn: nn.Sigmoid()),
    ("tanh", lambda nn: nn.Tanh()), ("hardtanh", lambda nn: nn.Hardtanh(-0.5, 0.75)),
    ("hardsigmoid", lambda nn: nn.Hardsigmoid()), ("hardswish", lambda nn: nn.Hardswish()),
    ("hardshrink", lambda nn: nn.Hardshrink(0.3)), ("softshrink", lambda nn: nn.Softshrink()),
    ("tanhshrink", lambda nn: nn.Tanhshrink()), ("softsign", lambda nn: nn.Softsign()),
    ("softplus", lambda nn: nn.Softplus(beta=2.0, threshold=1.0)),
    ("logsigmoid", lambda nn: nn.LogSigmoid()), ("threshold", lambda nn: nn.Threshold(0.1, 20.0)),
    ("softmax", lambda nn: nn.Softmax(dim=1)), ("softmin", lambda nn: nn.Softmin(dim=-1)),
    ("log_softmax", lambda nn: nn.LogSoftmax(dim=0)), ("softmax2d", lambda nn: nn.Softmax2d()),
    ("glu", lambda nn: nn.GLU()), ("glu_dim", lambda nn: nn.GLU(dim=1)),
    ("relu_inplace", lambda nn: nn.ReLU(inplace=True)),
    ("leaky_inplace", lambda nn: nn.LeakyReLU(inplace=True)),
    ("elu_inplace", lambda nn: nn.ELU(inplace=True)),
    ("hardtanh_inplace", lambda nn: nn.Hardtanh(inplace=True)),
    ("silu_inplace", lambda nn: nn.SiLU(inplace=True)),
    ("dropout_eval_like", lambda nn: nn.Dropout(0.0)),
    ("alpha_dropout_p0", lambda nn: nn.AlphaDropout(0.0)),
    ("relu6_inplace", lambda nn: nn.ReLU6(inplace=True)),
    ("hardsigmoid_inplace", lambda nn: nn.Hardsigmoid(inplace=True)),
    ("hardswish_inplace", lambda nn: nn.Hardswish(inplace=True)),
    ("celu_inplace", lambda nn: nn.CELU(0.7, inplace=True)),
    ("selu_inplace", lambda nn: nn.SELU(inplace=True)),
    ("mish_inplace", lambda nn: nn.Mish(inplace=True)),
    ("threshold_inplace", lambda nn: nn.Threshold(0.2, -1.0, inplace=True)),
    ("rrelu_eval_inplace", lambda nn: nn.RReLU(inplace=True).eval()),
    ("softmax_implicit_dim", lambda nn: nn.Softmax()),
    ("log_softmax_implicit_dim", lambda nn: nn.LogSoftmax()),
    ("softmin_implicit_dim", lambda nn: nn.Softmin()),
    ("softplus_default", lambda nn: nn.Softplus()),
    ("glu_negative_dim", lambda nn: nn.GLU(-4)),
    ("leaky_relu_negative_slope", lambda nn: nn.LeakyReLU(-0.1)),
]


def _tensors(out):
    """Every floating tensor in a (nested) layer output."""
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _tensors(o)]
    return [out] if out is not None and out.is_floating_point() else []


def _run(lib, ctor, inputs, seed=0):
    lib.manual_seed(seed)
    m = ctor(lib.nn)
    xs = inputs(lib)
    xs = tuple(x.requires_grad_() if x.is_floating_point() else x for x in xs)
    out = m(*xs)
    loss = sum((t * t).sum() for t in _tensors(out))
    loss.backward()
    return m, xs, out


@pytest.mark.parametrize("name,ctor,inputs", LAYERS, ids=[x[0] for x in LAYERS])
def test_layer_forward_backward(name, ctor, inputs):
    def program(lib):
        m, xs, out = _run(lib, ctor, inputs)
        return (out, [x.grad for x in xs if x.is_floating_point()],
                [(n, p.grad) for n, p in m.named_parameters()])

    check(program, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,ctor,inputs", LAYERS, ids=[x[0] for x in LAYERS])
@pytest.mark.parametrize("seed", [0, 7])
def test_layer_init_repr_state_dict(name, ctor, inputs, seed):
    def program(lib):
        lib.manual_seed(seed)
        m = ctor(lib.nn)
        return (repr(m), list(m.named_parameters()), list(m.named_buffers()),
                [(k, tuple(v.shape)) for k, v in m.state_dict().items()], lib.rand(2))

    check(program, **EXACT)


@pytest.mark.parametrize("name,ctor", ACTIVATIONS, ids=[x[0] for x in ACTIVATIONS])
def test_activation_modules(name, ctor):
    def program(lib):
        m = ctor(lib.nn)
        lib.manual_seed(0)
        x = lib.randn(2, 4, 3, 2, requires_grad=True)
        y = m(x.clone() if "inplace" in name else x)
        (y * y).sum().backward()
        return repr(m), y, x.grad

    check(program, rtol=1e-5, atol=1e-6)


def test_dropout_train_and_eval():
    def program(lib):
        lib.manual_seed(3)
        d = lib.nn.Dropout(0.4)
        x = lib.ones(4, 5, requires_grad=True)
        y = d(x)
        y.sum().backward()
        d.eval()
        return repr(d), y, x.grad, d(x), repr(lib.nn.Dropout(0.2, inplace=True)), lib.rand(2)

    check(program, **EXACT)


def test_module_errors():
    def program(lib):
        nn = lib.nn
        out = []
        for action in (lambda: nn.Dropout(1.5), lambda: nn.Conv2d(3, 4, 3, groups=2),
                       lambda: nn.Conv2d(4, 3, 3, groups=2), lambda: nn.Conv2d(4, 4, 3, groups=0),
                       lambda: nn.Conv2d(1, 1, 3, padding="full"),
                       lambda: nn.Conv2d(1, 1, 3, padding="same", stride=2),
                       lambda: nn.Conv2d(1, 1, 3, padding_mode="mirror"),
                       lambda: nn.ConvTranspose2d(1, 1, 3, padding_mode="reflect"),
                       lambda: nn.GroupNorm(4, 6), lambda: nn.Embedding(3, 2, padding_idx=3),
                       lambda: nn.Embedding(3, 2, padding_idx=-4),
                       lambda: nn.Hardtanh(1.0, 0.5), lambda: nn.Unflatten(1, 3),
                       lambda: nn.Unflatten(1, (2, 1.5)),
                       lambda: nn.Softmax2d()(lib.ones(2, 2)),
                       lambda: nn.Linear(3, 2)(lib.ones(2, 4)),
                       lambda: nn.MultiheadAttention(5, 2),
                       lambda: nn.MultiheadAttention(0, 2),
                       lambda: nn.HuberLoss(delta="1"),
                       lambda: nn.MultiMarginLoss(p=3),
                       lambda: nn.TripletMarginLoss(margin=0.0)):
            try:
                action()
                out.append("ok")
            except Exception as e:  # noqa: BLE001
                # the set of valid modes prints in hash order: compare what precedes it
                out.append((type(e).__name__, str(e).split("\n")[0].split("{")[0]))
        return out

    check(program)


def test_conv_transpose_output_size():
    def program(lib):
        lib.manual_seed(0)
        m = lib.nn.ConvTranspose2d(2, 3, 3, stride=2)
        x = lib.randn(1, 2, 4, 4)
        out = [tuple(m(x).shape), tuple(m(x, output_size=[10, 10]).shape),
               tuple(m(x, output_size=(1, 3, 9, 10)).shape)]
        for size in ([12, 12], [9]):
            try:
                m(x, output_size=size)
            except ValueError as e:
                out.append(str(e))
        return out

    check(program)


def test_embedding_padding_gradient_and_from_pretrained():
    def program(lib):
        lib.manual_seed(0)
        e = lib.nn.Embedding(5, 3, padding_idx=1)
        idx = lib.tensor([[1, 2], [1, 4]])
        e(idx).sum().backward()
        w = lib.arange(6.0).reshape(3, 2)
        f = lib.nn.Embedding.from_pretrained(w)
        g = lib.nn.Embedding.from_pretrained(w, freeze=False, padding_idx=0)
        return (e.weight.grad, repr(f), f.weight.requires_grad, g.weight.requires_grad, repr(g),
                f(lib.tensor([2, 0])))

    check(program)


def test_embedding_scale_grad_by_freq():
    """Each row's gradient divided by its index's count in the batch (padding row none);
    torch's double backward gathers the rows unscaled - so does ember's."""

    def program(lib):
        lib.manual_seed(0)
        e = lib.nn.Embedding(6, 3, padding_idx=1, scale_grad_by_freq=True)
        idx = lib.tensor([[1, 2, 2], [5, 2, 1], [0, 5, 3]])
        y = e(idx)
        (y * lib.arange(27.0).reshape(3, 3, 3)).sum().backward()
        w = lib.randn(6, 2, dtype=lib.float64, requires_grad=True)
        z = lib.nn.functional.embedding(idx, w, scale_grad_by_freq=True)
        gw, = lib.autograd.grad((z * z).sum(), w, create_graph=True)
        (gw * gw).sum().backward()
        return repr(e), y, e.weight.grad, gw.detach(), w.grad

    check(program)


def test_maxpool_return_indices():
    def program(lib):
        lib.manual_seed(0)
        m = lib.nn.MaxPool2d(2, return_indices=True)
        x = lib.randn(1, 2, 4, 4, requires_grad=True)
        y, i = m(x)
        y.sum().backward()
        return repr(m), y, i, x.grad

    check(program)


def test_int_kernel_reprs():
    def program(lib):
        nn = lib.nn
        return [repr(m) for m in (nn.MaxPool2d(3), nn.MaxPool2d((2, 3), stride=1),
                                  nn.AvgPool2d(2, stride=(1, 2)), nn.AvgPool1d(4),
                                  nn.MaxPool1d(2, dilation=2), nn.AdaptiveAvgPool2d((None, 3)),
                                  nn.Conv2d(1, 2, 3, padding="same"),
                                  nn.Conv1d(1, 2, 3, padding_mode="circular", padding=1),
                                  nn.ConvTranspose1d(1, 2, 3, output_padding=0, stride=2),
                                  nn.Embedding(4, 3, max_norm=1.0, norm_type=1.0,
                                               scale_grad_by_freq=True, sparse=True),
                                  nn.LayerNorm((2, 3)), nn.GroupNorm(2, 4, bias=False),
                                  nn.BatchNorm1d(3, affine=False, track_running_stats=False),
                                  nn.PReLU(num_parameters=4), nn.Bilinear(2, 3, 4),
                                  nn.Softplus(), nn.RReLU(), nn.ELU(inplace=True),
                                  nn.Threshold(0.5, 1.0, inplace=True), nn.Dropout2d(),
                                  nn.RMSNorm(4), nn.Flatten(2), nn.Unflatten(0, [2, 2]))]

    check(program)


def test_rrelu_eval():
    def program(lib):
        lib.manual_seed(0)
        m = lib.nn.RReLU(0.1, 0.3).eval()
        x = lib.randn(3, 4, requires_grad=True)
        y = m(x)
        y.sum().backward()
        return y, x.grad, lib.rand(2)

    check(program)


def test_rrelu_training():
    """RReLU in training mode (its default): torch's slopes from the default stream, the
    gradient through them, a transposed input, in place, and eval afterwards."""

    def program(lib):
        lib.manual_seed(0)
        m = lib.nn.RReLU(0.1, 0.3)
        x = lib.randn(4, 5, requires_grad=True)
        y = m(x)
        (y * y).sum().backward()
        t = m(lib.randn(5, 4).t())
        z = lib.randn(3, 4)
        lib.nn.RReLU(inplace=True)(z)
        x2 = lib.randn(6, dtype=lib.float64, requires_grad=True)
        y2 = lib.nn.RReLU()(x2.clone())
        y2.sum().backward()
        return repr(m), y, x.grad, t, z, y2, x2.grad, m.eval()(x).detach(), lib.rand(2)

    check(program, **EXACT)


@pytest.mark.parametrize("seed", [0, 3])
def test_parameters_init_distribution_edge_shapes(seed):
    """Zero-size layers initialise without drawing, and warn as torch does."""

    def program(lib):
        lib.manual_seed(seed)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m = lib.nn.Linear(0, 3)
            c = lib.nn.Conv1d(2, 0, 3)
        return (list(m.named_parameters()), list(c.named_parameters()),
                [str(x.message) for x in w], lib.rand(2), math.isfinite(1.0))

    check(program, **EXACT)


@pytest.mark.parametrize("cls,shape", [("Dropout", (4, 5)), ("Dropout1d", (2, 3, 4)),
                                       ("Dropout2d", (2, 3, 4, 4)), ("Dropout3d", (2, 3, 2, 2, 2)),
                                       ("AlphaDropout", (4, 5)),
                                       ("FeatureAlphaDropout", (2, 3, 4, 4))])
def test_dropout_modules_in_training(cls, shape):
    def program(lib):
        lib.manual_seed(5)
        m = getattr(lib.nn, cls)(0.3)
        x = lib.randn(*shape, requires_grad=True)
        y = m(x)
        (y * 2).sum().backward()
        m.eval()
        return repr(m), y, x.grad, m(x), lib.rand(2)

    check(program)


def test_embedding_max_norm():
    def program(lib):
        lib.manual_seed(0)
        e = lib.nn.Embedding(5, 3, max_norm=1.0)
        idx = lib.tensor([0, 2, 2, 4])
        y = e(idx)
        y.sum().backward()
        return y, e.weight.detach(), e.weight.grad

    check(program)


def test_conv_padding_modes():
    def program(lib):
        lib.manual_seed(0)
        outs = []
        for mode in ("reflect", "replicate", "circular"):
            m = lib.nn.Conv2d(2, 3, 3, padding=1, padding_mode=mode)
            x = lib.randn(1, 2, 5, 5, requires_grad=True)
            y = m(x)
            y.sum().backward()
            outs.append((repr(m), y, x.grad, m.weight.grad))
        return outs

    check(program, rtol=1e-4, atol=1e-5)


PADDING = [
    ("zero1d", lambda nn: nn.ZeroPad1d((1, 2)), (2, 3, 5)),
    ("zero2d", lambda nn: nn.ZeroPad2d(2), (1, 2, 3, 4)),
    ("const1d", lambda nn: nn.ConstantPad1d(2, 3.5), (2, 3, 5)),
    ("const2d", lambda nn: nn.ConstantPad2d((1, 0, 2, 1), -1.0), (1, 2, 3, 4)),
    ("reflect1d", lambda nn: nn.ReflectionPad1d(2), (2, 3, 5)),
    ("reflect2d", lambda nn: nn.ReflectionPad2d((1, 2, 2, 0)), (1, 2, 4, 4)),
    ("replicate1d", lambda nn: nn.ReplicationPad1d((3, 1)), (2, 3, 5)),
    ("replicate2d", lambda nn: nn.ReplicationPad2d(1), (1, 2, 3, 4)),
    ("circular1d", lambda nn: nn.CircularPad1d(2), (2, 3, 5)),
    ("circular2d", lambda nn: nn.CircularPad2d((1, 1, 2, 0)), (1, 2, 3, 4)),
    ("upsample_nearest", lambda nn: nn.Upsample(scale_factor=2), (1, 2, 3, 4)),
    ("upsample_size", lambda nn: nn.Upsample(size=(5, 7)), (1, 2, 3, 4)),
    ("upsample_bilinear", lambda nn: nn.Upsample(scale_factor=1.5, mode="bilinear"),
     (1, 2, 4, 4)),
    ("upsample_bilinear_ac", lambda nn: nn.Upsample(scale_factor=(2, 3), mode="bilinear",
                                                    align_corners=True), (1, 2, 3, 3)),
    ("upsample_linear", lambda nn: nn.Upsample(size=7, mode="linear"), (2, 3, 5)),
    ("upsampling_nearest2d", lambda nn: nn.UpsamplingNearest2d(scale_factor=3), (1, 1, 2, 2)),
    ("upsampling_bilinear2d", lambda nn: nn.UpsamplingBilinear2d(size=(4, 5)), (1, 2, 3, 3)),
    ("pixel_shuffle", lambda nn: nn.PixelShuffle(2), (1, 8, 2, 3)),
    ("pixel_unshuffle", lambda nn: nn.PixelUnshuffle(2), (1, 2, 4, 6)),
]


@pytest.mark.parametrize("name,ctor,shape", PADDING, ids=[x[0] for x in PADDING])
def test_padding_upsampling_shuffle(name, ctor, shape):
    def program(lib):
        lib.manual_seed(0)
        m = ctor(lib.nn)
        x = lib.randn(*shape, requires_grad=True)
        y = m(x)
        (y * y.detach().cos()).sum().backward()
        return repr(m), y, x.grad

    check(program, rtol=1e-5, atol=1e-6)


def test_circular_pad_dim_check():
    def program(lib):
        try:
            lib.nn.CircularPad2d(1)(lib.ones(2, 2))
        except ValueError as e:
            return str(e)

    check(program)


LAZY = [
    ("lazy_linear", lambda nn: nn.LazyLinear(3), (2, 5)),
    ("lazy_linear_nobias", lambda nn: nn.LazyLinear(2, bias=False), (4, 3, 6)),
    ("lazy_conv1d", lambda nn: nn.LazyConv1d(4, 3, padding=1), (2, 3, 7)),
    ("lazy_conv2d", lambda nn: nn.LazyConv2d(4, 3, stride=2, groups=2), (2, 4, 7, 7)),
    ("lazy_conv2d_unbatched", lambda nn: nn.LazyConv2d(2, 2), (3, 5, 5)),
    ("lazy_convT2d", lambda nn: nn.LazyConvTranspose2d(3, 2, stride=2), (1, 2, 3, 3)),
    ("lazy_convT1d", lambda nn: nn.LazyConvTranspose1d(3, 2), (1, 2, 4)),
    ("lazy_bn1d", lambda nn: nn.LazyBatchNorm1d(), (4, 3)),
    ("lazy_bn2d", lambda nn: nn.LazyBatchNorm2d(momentum=0.2), (2, 3, 2, 2)),
    ("lazy_mlp", lambda nn: nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(2)),
     (3, 5)),
]


@pytest.mark.parametrize("name,ctor,shape", LAZY, ids=[x[0] for x in LAZY])
def test_lazy_modules(name, ctor, shape):
    def program(lib):
        lib.manual_seed(0)
        m = ctor(lib.nn)
        before = (repr(m), [(n, repr(p)) for n, p in m.named_parameters()],
                  [type(p).__name__ for p in m.parameters()])
        x = lib.randn(*shape, requires_grad=True)
        y = m(x)
        (y * y).sum().backward()
        return (before, repr(m), type(m).__name__, list(m.named_parameters()),
                list(m.named_buffers()), y, x.grad, [p.grad for p in m.parameters()],
                [type(p).__name__ for p in m.parameters()], lib.rand(2))

    check(program, rtol=1e-4, atol=1e-5)


def test_lazy_load_state_dict_and_errors():
    def program(lib):
        lib.manual_seed(0)
        src = lib.nn.Linear(4, 3)
        lazy = lib.nn.LazyLinear(3)
        res = [repr(lazy.load_state_dict(src.state_dict())), repr(lazy),
               [tuple(p.shape) for p in lazy.parameters()]]
        y = lazy(lib.ones(1, 4))
        res += [repr(lazy), y]
        try:
            res.append(lib.nn.LazyLinear(2).weight.shape)
        except RuntimeError as e:
            res.append(str(e))
        try:
            lib.nn.LazyConv2d(2, 3)(lib.ones(2, 2))
        except RuntimeError as e:
            res.append(str(e))
        try:
            lib.nn.LazyConv2d(2, 3, groups=2)(lib.ones(1, 3, 4, 4))
        except ValueError as e:
            res.append(str(e))
        return res

    check(program)
