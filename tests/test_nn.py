"""ember.nn's Module machinery, containers, Parameter and nn.init against torch.

Every test is a program of the library (``lib`` is torch or ember) run by
``differential.check``: same results (values, dtypes, grad_fn names), same printed forms, same
exception types and first message lines. Initialisation tests compare bit for bit
(``rtol=atol=0``): after the same ``manual_seed`` ember's layers must hold torch's weights.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import ember
from differential import check
from oracle import torch

EXACT = {"rtol": 0, "atol": 0}


def exact(program):
    return check(program, **EXACT)


class _Net:
    """A small model built the same way in both libraries (nested modules, a buffer,
    a shared submodule, a non-persistent buffer)."""

    @staticmethod
    def build(lib):
        nn = lib.nn

        class Block(nn.Module):
            def __init__(self, n):
                super().__init__()
                self.fc = nn.Linear(n, n)
                self.act = nn.Tanh()
                self.register_buffer("scale", lib.ones(n))
                self.register_buffer("tmp", lib.zeros(2), persistent=False)

            def forward(self, x):
                return self.act(self.fc(x)) * self.scale

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.inp = nn.Linear(3, 4)
                self.blocks = nn.ModuleList([Block(4), Block(4)])
                self.shared = self.inp
                self.head = nn.Sequential(OrderedDict([("relu", nn.ReLU()),
                                                       ("out", nn.Linear(4, 2, bias=False))]))
                self.alpha = nn.Parameter(lib.tensor(0.5))

            def forward(self, x):
                x = self.inp(x)
                for b in self.blocks:
                    x = b(x)
                return self.head(x) * self.alpha

        lib.manual_seed(0)
        return Net()


# ----- Parameter -------------------------------------------------------------------------------
def test_parameter_basics():
    def program(lib):
        p = lib.nn.Parameter(lib.tensor([1.0, 2.0]))
        q = lib.nn.Parameter(lib.tensor([1.0]), requires_grad=False)
        e = lib.nn.Parameter()
        return (repr(p), repr(q), p.requires_grad, q.requires_grad, p.is_leaf,
                isinstance(p, lib.Tensor), type(p * 2).__name__, (p * 2).grad_fn.name(),
                tuple(e.shape), repr(copy.deepcopy(p)), type(copy.deepcopy(p)).__name__)

    check(program)


def test_parameter_shares_values_with_its_data():
    def program(lib):
        t = lib.tensor([1.0, 2.0])
        p = lib.nn.Parameter(t)
        with lib.no_grad():
            p.mul_(3)
        return t, p.detach()

    check(program)


def test_parameter_from_non_leaf_refused_by_module():
    def program(lib):
        m = lib.nn.Linear(2, 2)
        m.weight = lib.nn.Parameter(lib.ones(2, 2))
        w = lib.ones(2, 2, requires_grad=True) * 2
        m.weight = w
        return m.weight

    check(program)


# ----- registration, attribute rules ----------------------------------------------------------
def test_attribute_registration_and_errors():
    def program(lib):
        nn = lib.nn
        m = nn.Module()
        out = []
        m.w = nn.Parameter(lib.ones(2))
        m.register_buffer("b", lib.zeros(2))
        m.sub = nn.Linear(1, 1)
        m.plain = 3
        out.append((list(m._parameters), list(m._buffers), list(m._modules), m.plain))
        for action in (
            lambda: setattr(m, "w", lib.ones(2)),
            lambda: setattr(m, "sub", 3),
            lambda: setattr(m, "b", 3),
            lambda: m.register_buffer("plain", lib.ones(1)),
            lambda: m.register_buffer("a.b", lib.ones(1)),
            lambda: m.register_buffer("", lib.ones(1)),
            lambda: m.register_buffer(1, lib.ones(1)),
            lambda: m.register_buffer("x", 3),
            lambda: m.register_parameter("plain", None),
            lambda: m.register_parameter("q", lib.ones(1)),
            lambda: m.register_parameter("a.b", None),
            lambda: m.add_module("plain", nn.ReLU()),
            lambda: m.add_module("a.b", nn.ReLU()),
            lambda: m.add_module("", nn.ReLU()),
            lambda: m.add_module("z", 3),
            lambda: m.missing,
            lambda: nn.Linear(1, 1).nothing,
        ):
            try:
                action()
                out.append("ok")
            except Exception as e:  # noqa: BLE001 - the error is the result
                out.append((type(e).__name__, str(e).split("\n")[0]))
        m.w = None
        m.sub = None
        m.b = None
        out.append((m.w, m.sub, m.b, list(m.state_dict())))
        del m.sub
        del m.plain
        out.append((list(m._modules), hasattr(m, "plain")))
        # reassigning a registered name to another kind moves it
        m.b = nn.Parameter(lib.ones(1))
        out.append((list(m._parameters), list(m._buffers)))
        return out

    check(program)


def test_assign_before_init():
    def program(lib):
        class Bad(lib.nn.Module):
            def __init__(self):
                self.w = lib.nn.Parameter(lib.ones(1))
                super().__init__()

        class Bad2(lib.nn.Module):
            def __init__(self):
                self.m = lib.nn.ReLU()
                super().__init__()

        class Bad3(lib.nn.Module):
            def __init__(self):
                self.register_buffer("b", lib.ones(1))

        out = []
        for cls in (Bad, Bad2, Bad3):
            try:
                cls()
            except Exception as e:  # noqa: BLE001
                out.append((type(e).__name__, str(e)))
        return out

    check(program)


def test_module_init_rejects_arguments_and_missing_forward():
    def program(lib):
        out = []
        for action in (lambda: lib.nn.Module(3), lambda: lib.nn.Module(a=1),
                       lambda: lib.nn.Module()(lib.ones(1))):
            try:
                action()
            except Exception as e:  # noqa: BLE001
                out.append((type(e).__name__, str(e)))
        return out

    check(program)


# ----- traversal -------------------------------------------------------------------------------
def test_traversal_names_and_order():
    def program(lib):
        net = _Net.build(lib)
        return (
            [n for n, _ in net.named_parameters()],
            [n for n, _ in net.named_parameters(prefix="model")],
            [n for n, _ in net.named_parameters(recurse=False)],
            [n for n, _ in net.named_parameters(remove_duplicate=False)],
            [n for n, _ in net.named_buffers()],
            [n for n, _ in net.named_buffers(recurse=False)],
            [n for n, _ in net.named_children()],
            [n for n, _ in net.named_modules()],
            [n for n, _ in net.named_modules(remove_duplicate=False)],
            [type(m).__name__ for m in net.modules()],
            [type(m).__name__ for m in net.children()],
            len(list(net.parameters())),
            [tuple(p.shape) for p in net.parameters()],
            [tuple(b.shape) for b in net.buffers()],
        )

    check(program)


def test_get_submodule_parameter_buffer():
    def program(lib):
        net = _Net.build(lib)
        out = [type(net.get_submodule("blocks.1.fc")).__name__,
               net.get_submodule("") is net,
               tuple(net.get_parameter("blocks.0.fc.bias").shape),
               tuple(net.get_parameter("alpha").shape),
               tuple(net.get_buffer("blocks.1.scale").shape)]
        for action in (lambda: net.get_submodule("blocks.5"),
                       lambda: net.get_submodule("alpha"),
                       lambda: net.get_submodule("nothing.fc"),
                       lambda: net.get_parameter("blocks.0.act"),
                       lambda: net.get_parameter("blocks.0.missing"),
                       lambda: net.get_parameter("blocks.0.scale"),
                       lambda: net.get_buffer("blocks.0.fc.weight")):
            try:
                action()
                out.append("ok")
            except Exception as e:  # noqa: BLE001
                out.append((type(e).__name__, str(e)))
        net.set_submodule("head.out", lib.nn.Identity())
        out.append(repr(net.head))
        return out

    check(program)


# ----- modes, grads, dtype ---------------------------------------------------------------------
def test_train_eval_requires_grad_zero_grad():
    def program(lib):
        net = _Net.build(lib)
        out = [net.training, net.blocks[0].act.training]
        net.eval()
        out.append([m.training for m in net.modules()])
        net.train()
        out.append([m.training for m in net.modules()])
        net.blocks.train(False)
        out.append([m.training for m in net.modules()])
        try:
            net.train("yes")
        except ValueError as e:
            out.append(str(e))
        x = lib.randn(5, 3)
        net(x).sum().backward()
        out.append([p.grad for p in net.parameters()])
        net.zero_grad(set_to_none=False)
        out.append([p.grad for p in net.parameters()])
        net(x).sum().backward()
        net.zero_grad()
        out.append([p.grad is None for p in net.parameters()])
        net.requires_grad_(False)
        out.append([p.requires_grad for p in net.parameters()])
        out.append(net(x))
        return out

    check(program)


def test_to_float_double_half_keep_parameter_objects():
    def program(lib):
        net = _Net.build(lib)
        w = net.inp.weight
        net(lib.randn(2, 3)).sum().backward()
        out = [net.double() is net, w is net.inp.weight, str(w.dtype), str(w.grad.dtype),
               str(net.blocks[0].scale.dtype)]
        net.to(lib.float32)
        out.append((str(w.dtype), str(w.grad.dtype), str(net.blocks[1].scale.dtype),
                    w.requires_grad))
        net.half()
        out.append(str(w.dtype))
        net.float()
        net.to(lib.zeros(1, dtype=lib.float64))
        out.append(str(w.dtype))
        net.to("cpu")
        out.append(str(w.dtype))
        bn = lib.nn.BatchNorm1d(3).double()
        out.append((str(bn.running_mean.dtype), str(bn.num_batches_tracked.dtype)))
        try:
            net.to(lib.int64)
        except TypeError as e:
            out.append(str(e))
        return out

    check(program)


def test_apply_and_custom_init():
    def program(lib):
        net = _Net.build(lib)
        seen = []

        def init_fn(m):
            seen.append(type(m).__name__)
            if isinstance(m, lib.nn.Linear):
                lib.nn.init.constant_(m.weight, 0.25)

        assert net.apply(init_fn) is net
        return seen, net.inp.weight, net.head.out.weight

    check(program)


# ----- state_dict ------------------------------------------------------------------------------
def test_state_dict_keys_shapes_and_detached():
    def program(lib):
        net = _Net.build(lib)
        sd = net.state_dict()
        kv = net.state_dict(keep_vars=True)
        return (list(sd), [tuple(v.shape) for v in sd.values()], type(sd).__name__,
                [v.requires_grad for v in sd.values()], [v.requires_grad for v in kv.values()],
                list(net.state_dict(prefix="p.")), dict(sd._metadata),
                list(lib.nn.BatchNorm2d(2).state_dict()),
                dict(lib.nn.BatchNorm2d(2).state_dict()._metadata))

    check(program)


def test_load_state_dict_round_trip_between_libraries():
    """torch's weights loaded into ember's model (and back) give torch's outputs."""
    t_net = _Net.build(torch)
    torch.manual_seed(5)
    with torch.no_grad():
        for p in t_net.parameters():
            p.normal_()
    e_net = _Net.build(ember)
    sd = {k: ember.tensor(v.numpy()) for k, v in t_net.state_dict().items()}
    result = e_net.load_state_dict(sd)
    assert repr(result) == "<All keys matched successfully>"
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(e_net(ember.tensor(x)).detach().numpy(),
                               t_net(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    back = _Net.build(torch)
    back.load_state_dict({k: torch.tensor(v.numpy()) for k, v in e_net.state_dict().items()})
    for (k1, v1), (k2, v2) in zip(back.state_dict().items(), t_net.state_dict().items()):
        assert k1 == k2
        assert torch.equal(v1, v2)


def test_load_state_dict_errors_and_result():
    def program(lib):
        out = []
        net = _Net.build(lib)
        sd = net.state_dict()
        good = net.load_state_dict(sd)
        out.append((repr(good), str(good), tuple(good), good.missing_keys))
        missing = OrderedDict(sd)
        del missing["inp.bias"]
        del missing["blocks.1.scale"]
        extra = OrderedDict(sd)
        extra["blocks.0.extra"] = lib.ones(1)
        extra["zzz"] = lib.ones(1)
        extra["head.nothing.weight"] = lib.ones(1)
        wrong = OrderedDict(sd)
        wrong["inp.weight"] = lib.ones(3, 4)
        wrong["alpha"] = lib.ones(1)  # 1-element into 0-dim is accepted
        both = OrderedDict(missing)
        both["extra"] = lib.ones(1)
        notensor = OrderedDict(sd)
        notensor["alpha"] = 3.0
        for bad in (missing, extra, wrong, both, notensor):
            try:
                net.load_state_dict(bad)
                out.append("ok")
            except RuntimeError as e:
                out.append(str(e))
            r = net.load_state_dict(bad, strict=False) if bad is not wrong else None
            out.append(repr(r))
        try:
            net.load_state_dict([1, 2])
        except TypeError as e:
            out.append(str(e))
        return out

    check(program)


def test_load_state_dict_copies_values_and_assign():
    def program(lib):
        lib.manual_seed(0)
        src = lib.nn.Linear(3, 2)
        dst = lib.nn.Linear(3, 2)
        w = dst.weight
        dst.load_state_dict(src.state_dict())
        out = [w is dst.weight, dst.weight.detach(), w._version if lib is ember else None]
        dst2 = lib.nn.Linear(3, 2)
        dst2.load_state_dict(src.state_dict(), assign=True)
        out.append((type(dst2.weight).__name__, dst2.weight.requires_grad))
        # buffers travel too
        bn = lib.nn.BatchNorm1d(3)
        with lib.no_grad():
            bn.running_mean.add_(1.5)
            bn.num_batches_tracked.add_(4)
        bn2 = lib.nn.BatchNorm1d(3)
        bn2.load_state_dict(bn.state_dict())
        out.append((bn2.running_mean, bn2.running_var, bn2.num_batches_tracked))
        return out[:2] + out[3:]

    check(program)


def test_load_state_dict_pre_and_post_hooks():
    """A pre-hook renaming an old checkpoint's keys (torch's documented use), the arguments
    hooks see, and post-hooks seeing the incompatible keys."""

    def program(lib):
        lib.manual_seed(0)
        net = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Linear(2, 1))
        log = []

        def rename(module, state_dict, prefix, local_metadata, strict, missing, unexpected,
                   errors):
            log.append(("pre", type(module).__name__, prefix, strict, sorted(local_metadata)))
            for name in ("weight", "bias"):
                old = prefix + "old_" + name
                if old in state_dict:
                    state_dict[prefix + name] = state_dict.pop(old)

        handle = net[1].register_load_state_dict_pre_hook(rename)
        net.register_load_state_dict_post_hook(
            lambda module, keys: log.append(("post", keys.missing_keys, keys.unexpected_keys)))
        sd = net.state_dict()
        sd["1.old_weight"] = sd.pop("1.weight") * 2
        result = net.load_state_dict(sd)
        out = [repr(result), net[1].weight.detach(), log]
        handle.remove()
        sd = net.state_dict()
        sd["1.old_bias"] = sd.pop("1.bias")
        out.append(repr(net.load_state_dict(sd, strict=False)))
        return out

    check(program)


def test_batchnorm_old_state_dict_without_counter():
    def program(lib):
        bn = lib.nn.BatchNorm1d(2)
        sd = bn.state_dict()
        del sd["num_batches_tracked"]
        sd._metadata[""]["version"] = 1
        return repr(bn.load_state_dict(sd))

    check(program)


# ----- hooks ------------------------------------------------------------------------------------
def test_forward_hooks():
    def program(lib):
        lib.manual_seed(0)
        m = lib.nn.Linear(2, 2)
        log = []

        def pre(mod, args):
            log.append(("pre", type(mod).__name__, len(args)))
            return (args[0] * 2,)

        def pre_single(mod, args):
            log.append("pre_single")
            return args[0] + 1

        def post(mod, args, output):
            log.append(("post", tuple(output.shape)))
            return output * 10

        def post_kw(mod, args, kwargs, output):
            log.append(("post_kw", sorted(kwargs)))

        def first(mod, args):
            log.append("first")

        x = lib.ones(1, 2)
        h1 = m.register_forward_pre_hook(pre)
        h2 = m.register_forward_pre_hook(pre_single)
        h3 = m.register_forward_hook(post)
        h4 = m.register_forward_hook(post_kw, with_kwargs=True)
        h5 = m.register_forward_pre_hook(first, prepend=True)
        y1 = m(x)
        h1.remove()
        h3.remove()
        y2 = m(x)
        h2.remove()
        h4.remove()
        h5.remove()
        y3 = m(x)
        return log, y1, y2, y3

    check(program)


def test_forward_pre_hook_with_kwargs_and_always_call():
    def program(lib):
        class M(lib.nn.Module):
            def forward(self, x, scale=1.0):
                if scale < 0:
                    raise ValueError("negative")
                return x * scale

        m = M()
        log = []

        def pre(mod, args, kwargs):
            return args, {"scale": kwargs.get("scale", 1.0) * 3}

        def always(mod, args, output):
            log.append(output is None)

        m.register_forward_pre_hook(pre, with_kwargs=True)
        m.register_forward_hook(always, always_call=True)
        out = [m(lib.ones(2), scale=2.0)]
        try:
            m(lib.ones(2), scale=-1.0)
        except ValueError as e:
            out.append(str(e))
        return out, log

    check(program)


# ----- repr -------------------------------------------------------------------------------------
def test_repr_nested_model():
    def program(lib):
        net = _Net.build(lib)
        return repr(net), str(net.blocks), repr(lib.nn.ModuleList()), repr(lib.nn.Sequential())

    check(program)


def test_repr_extra_repr_multiline_and_custom():
    def program(lib):
        class Custom(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = lib.nn.Linear(1, 1)

            def extra_repr(self):
                return "first line\nsecond line"

        class OneLine(lib.nn.Module):
            def extra_repr(self):
                return "k=3"

        outer = lib.nn.Sequential(Custom(), OneLine(), lib.nn.Sequential(Custom()))
        return repr(outer), repr(OneLine()), repr(Custom())

    check(program)


def test_module_list_repr_groups_repeats():
    def program(lib):
        nn = lib.nn
        ml = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(),
                            nn.Linear(2, 3), nn.Linear(2, 3),
                            nn.Sequential(nn.Linear(1, 1), nn.ReLU())])
        return repr(ml), repr(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)))

    check(program)


# ----- containers -------------------------------------------------------------------------------
def test_sequential_container():
    def program(lib):
        nn = lib.nn
        lib.manual_seed(0)
        s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        out = [len(s), type(s[0]).__name__, type(s[-1]).__name__, repr(s[1:]), repr(s[::2])]
        s.append(nn.Sigmoid())
        out.append([type(m).__name__ for m in s])
        s.insert(1, nn.Tanh())
        out.append(list(s._modules))
        s[1] = nn.Identity()
        del s[1]
        out.append(list(s._modules))
        out.append(repr(s + nn.Sequential(nn.ReLU())))
        s2 = nn.Sequential(nn.ReLU())
        s2 += nn.Sequential(nn.Tanh())
        s2.extend([nn.Identity()])
        out.append(repr(s2))
        out.append(repr(nn.Sequential(nn.ReLU()) * 2))
        out.append(type(s2.pop(0)).__name__)
        out.append(s(lib.ones(4, 2)))
        od = nn.Sequential(OrderedDict([("a", nn.ReLU()), ("b", nn.Tanh())]))
        out.append((repr(od), type(od.a).__name__, type(od[1]).__name__))
        for action in (lambda: s[10], lambda: s + 3, lambda: s.insert(10, nn.ReLU()),
                       lambda: s * 0):
            try:
                action()
            except Exception as e:  # noqa: BLE001
                out.append((type(e).__name__, str(e).replace("torch.nn.modules.container.",
                                                             "").replace("ember.nn.modules."
                                                                         "container.", "")))
        return out

    check(program)


def test_module_list_and_dict():
    def program(lib):
        nn = lib.nn
        ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])
        ml.append(nn.Sigmoid())
        ml.extend([nn.Identity()])
        ml.insert(0, nn.ELU())
        ml += [nn.ReLU()]
        out = [len(ml), [type(m).__name__ for m in ml], type(ml[-1]).__name__,
               repr(ml[1:3]), type(ml.pop(0)).__name__, list(ml._modules)]
        del ml[0:2]
        out.append(list(ml._modules))
        ml[0] = nn.Tanh()
        out.append(repr(ml + nn.ModuleList([nn.ReLU()])))
        for action in (lambda: ml[9], lambda: ml.extend(3)):
            try:
                action()
            except Exception as e:  # noqa: BLE001
                out.append((type(e).__name__, str(e)))
        md = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Linear(1, 1)})
        md["c"] = nn.Tanh()
        md.update([("d", nn.Identity())])
        out.append((list(md), list(md.keys()), [type(v).__name__ for v in md.values()],
                    "a" in md, len(md), repr(md)))
        out.append(type(md.pop("b")).__name__)
        out.append([n for n, _ in md.named_parameters()])
        for action in (lambda: md.update([("x",)]), lambda: md.update(3),
                       lambda: md.update([3])):
            try:
                action()
            except Exception as e:  # noqa: BLE001
                out.append((type(e).__name__, str(e)))
        md.clear()
        out.append(len(md))
        return out

    check(program)


def test_parameter_list_and_dict():
    def program(lib):
        nn = lib.nn
        pl = nn.ParameterList([nn.Parameter(lib.ones(2, 3)), lib.zeros(4)])
        pl.append(lib.ones(1, dtype=lib.float64))
        pl.append("not a tensor")
        out = [len(pl), repr(pl), [type(p).__name__ for p in pl], [n for n, _ in
                                                                   pl.named_parameters()]]
        out.append(repr(pl[1:3]))
        pd = nn.ParameterDict({"w": lib.ones(2), "a": nn.Parameter(lib.zeros(3, 1))})
        pd["b"] = lib.ones(1, dtype=lib.float64)
        pd.update(OrderedDict([("z", lib.ones(2))]))
        out.append((list(pd), repr(pd), [n for n, _ in pd.named_parameters()], "w" in pd,
                    len(pd), pd.get("nothing")))
        out.append(type(pd.pop("w")).__name__)
        out.append(pd.popitem()[0])
        out.append(list(pd.keys()))
        out.append(repr(pd | nn.ParameterDict({"q": lib.ones(1)})))
        for action in (lambda: pl(1), lambda: pd(1), lambda: pl[7], lambda: pd[3],
                       lambda: pl.extend(lib.ones(2))):
            try:
                action()
            except Exception as e:  # noqa: BLE001
                out.append((type(e).__name__, str(e)))
        return out

    check(program)


# ----- gradients through a whole model ----------------------------------------------------------
def test_model_forward_backward_matches_torch():
    def program(lib):
        net = _Net.build(lib)
        x = lib.randn(6, 3, requires_grad=True)
        y = net(x)
        y.pow(2).mean().backward()
        return y, x.grad, [(n, p.grad) for n, p in net.named_parameters()]

    check(program)


# ----- nn.init ----------------------------------------------------------------------------------
INIT_SHAPES = [(3, 5), (5, 3), (4, 4), (16, 1), (2, 3, 4), (6, 2, 3, 3), (20, 30)]


@pytest.mark.parametrize("shape", INIT_SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 1234])
@pytest.mark.parametrize("name,kwargs", [
    ("uniform_", {}), ("uniform_", {"a": -2.0, "b": 3.0}), ("normal_", {}),
    ("normal_", {"mean": 1.0, "std": 0.1}), ("constant_", {"val": 0.3}), ("zeros_", {}),
    ("ones_", {}), ("xavier_uniform_", {}), ("xavier_uniform_", {"gain": 2.0}),
    ("xavier_normal_", {}), ("kaiming_uniform_", {}), ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}), ("kaiming_normal_", {}),
    ("kaiming_normal_", {"a": 0.2, "mode": "fan_out", "nonlinearity": "leaky_relu"}),
    ("trunc_normal_", {}), ("trunc_normal_", {"std": 0.02}),
    ("trunc_normal_", {"mean": 0.5, "std": 1.0, "a": 0.0, "b": 0.1}),
    ("trunc_normal_", {"std": 3.0, "a": -1.0, "b": 1.0}),
])
def test_init_bit_identical(name, kwargs, seed, shape):
    def program(lib):
        lib.manual_seed(seed)
        t = lib.empty(shape)
        out = getattr(lib.nn.init, name)(t, **kwargs)
        return out is t, t, lib.rand(2)

    exact(program)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_init_float64_and_parameters(dtype):
    def program(lib):
        lib.manual_seed(3)
        p = lib.nn.Parameter(lib.empty(4, 5, dtype=getattr(lib, dtype)))
        lib.nn.init.kaiming_uniform_(p, a=math.sqrt(5))
        a = p.detach().clone()
        lib.nn.init.xavier_normal_(p)
        b = p.detach().clone()
        lib.nn.init.trunc_normal_(p, std=0.5)
        return a, b, p, p.grad_fn

    exact(program)


def test_init_generator_argument():
    def program(lib):
        g = lib.Generator().manual_seed(11)
        t = lib.empty(3, 4)
        lib.nn.init.uniform_(t, generator=g)
        lib.nn.init.normal_(t, generator=g)
        lib.nn.init.kaiming_uniform_(t, generator=g)
        return t, lib.empty(2).normal_(generator=g)

    exact(program)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (6, 2, 3)])
def test_orthogonal_and_eye_and_dirac(shape):
    def program(lib):
        lib.manual_seed(0)
        t = lib.empty(shape)
        lib.nn.init.orthogonal_(t, gain=2.0)
        e = lib.empty(3, 4)
        lib.nn.init.eye_(e)
        d = lib.empty(4, 2, 3, 3)
        lib.nn.init.dirac_(d, groups=2)
        d1 = lib.empty(2, 2, 3)
        lib.nn.init.dirac_(d1)
        return t, e, d, d1, lib.rand(2)

    check(program, rtol=1e-5, atol=1e-6)


def test_calculate_gain_and_fans():
    def program(lib):
        init = lib.nn.init
        out = [init.calculate_gain(n) for n in ("linear", "conv2d", "sigmoid", "tanh", "relu",
                                                  "leaky_relu", "selu", "conv_transpose1d")]
        out.append(init.calculate_gain("leaky_relu", 0.2))
        out.append(init.calculate_gain("leaky_relu", 3))
        out.append(init._calculate_fan_in_and_fan_out(lib.empty(4, 3, 2, 5)))
        out.append(init._calculate_fan_in_and_fan_out(lib.empty(4, 3)))
        for action in (lambda: init.calculate_gain("foo"),
                       lambda: init.calculate_gain("leaky_relu", True),
                       lambda: init._calculate_fan_in_and_fan_out(lib.empty(3)),
                       lambda: init.kaiming_uniform_(lib.empty(3, 3), mode="fan_x"),
                       lambda: init.eye_(lib.empty(3)),
                       lambda: init.dirac_(lib.empty(3, 3)),
                       lambda: init.dirac_(lib.empty(3, 3, 3), groups=2),
                       lambda: init.orthogonal_(lib.empty(3))):
            try:
                action()
            except Exception as e:  # noqa: BLE001
                out.append((type(e).__name__, str(e)))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            init.kaiming_uniform_(lib.empty(0, 3))
            init.trunc_normal_(lib.empty(3), mean=10.0)
        out.append([str(x.message) for x in w])
        return out

    check(program)


# ----- nn.utils ---------------------------------------------------------------------------------
def _grads_model(lib, scale=1.0):
    lib.manual_seed(0)
    m = lib.nn.Sequential(lib.nn.Linear(4, 5), lib.nn.Tanh(), lib.nn.Linear(5, 2))
    (m(lib.randn(3, 4)) * scale).sum().backward()
    return m


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, float("inf"), float("-inf"), 0, "inf"])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 100.0])
def test_clip_grad_norm(norm_type, max_norm):
    def program(lib):
        m = _grads_model(lib, 3.0)
        nt = float(norm_type) if isinstance(norm_type, str) else norm_type
        total = lib.nn.utils.clip_grad_norm_(m.parameters(), max_norm, norm_type=nt)
        return total, [p.grad for p in m.parameters()]

    check(program)


def test_clip_grad_norm_edge_cases():
    def program(lib):
        out = []
        m = _grads_model(lib)
        w = m[0].weight
        out.append(lib.nn.utils.clip_grad_norm_(w, 0.5))
        out.append(w.grad)
        out.append(lib.nn.utils.clip_grad_norm_([], 1.0))
        out.append(lib.nn.utils.clip_grad_norm_([lib.nn.Parameter(lib.ones(2))], 1.0))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out.append(lib.nn.utils.clip_grad_norm_((p for p in []), 1.0))
        out.append([str(c.message) for c in caught])
        m[2].bias.grad[0] = float("nan")
        try:
            lib.nn.utils.clip_grad_norm_(m.parameters(), 1.0, error_if_nonfinite=True)
        except RuntimeError as e:
            out.append(str(e))
        out.append(lib.nn.utils.clip_grad_norm_(m.parameters(), 1.0))
        out.append([p.grad for p in m.parameters()])
        d = lib.nn.Linear(2, 2).double()
        d(lib.ones(1, 2, dtype=lib.float64)).sum().backward()
        out.append(lib.nn.utils.clip_grad_norm_(d.parameters(), 0.1))
        return out

    check(program)


@pytest.mark.parametrize("clip", [0.01, 0.1, 5])
def test_clip_grad_value(clip):
    def program(lib):
        m = _grads_model(lib, 2.0)
        assert lib.nn.utils.clip_grad_value_(m.parameters(), clip) is None
        lib.nn.utils.clip_grad_value_(m[0].weight, clip / 2)
        return [p.grad for p in m.parameters()]

    check(program)


def test_parameters_vector_round_trip():
    def program(lib):
        m = _grads_model(lib)
        vec = lib.nn.utils.parameters_to_vector(m.parameters())
        first = (vec.detach().clone(), vec.grad_fn.name(), tuple(vec.shape))
        lib.nn.utils.vector_to_parameters(lib.arange(float(vec.numel())), m.parameters())
        out = [first, [p.detach() for p in m.parameters()], m(lib.ones(1, 4))]
        try:
            lib.nn.utils.vector_to_parameters([1.0], m.parameters())
        except TypeError as e:
            out.append(str(e))
        return out

    check(program)


# ----- full backward hooks -----------------------------------------------------------------------
def test_full_backward_hooks():
    def program(lib):
        lib.manual_seed(0)
        seq = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2))
        log = []

        def hook(name):
            def fn(mod, grad_input, grad_output):
                log.append((name, type(mod).__name__, [g for g in grad_input],
                            [g for g in grad_output]))
            return fn

        def doubling(mod, grad_input, grad_output):
            return tuple(None if g is None else g * 2 for g in grad_input)

        def pre(mod, grad_output):
            log.append(("pre", [g for g in grad_output]))
            return (grad_output[0] * 0.5,)

        handles = [seq[0].register_full_backward_hook(hook("first")),
                   seq[1].register_full_backward_hook(doubling),
                   seq[2].register_full_backward_hook(hook("last")),
                   seq[2].register_full_backward_pre_hook(pre),
                   seq.register_full_backward_hook(hook("whole"))]
        x = lib.randn(5, 3, requires_grad=True)
        y = seq(x)
        (y * y).sum().backward()
        out = [y.grad_fn.name(), log, x.grad, [p.grad for p in seq.parameters()]]
        for h in handles:
            h.remove()
        x.grad = None
        seq(x).sum().backward()
        out.append(x.grad)
        return out

    check(program)


def test_deprecated_non_full_backward_hooks():
    """register_backward_hook: the hook sees the output grad_fn's grad_inputs (not the
    module's), may replace them, warns as torch when that differs from the module's
    gradients, and cannot be mixed with full hooks."""

    def program(lib):
        lib.manual_seed(0)
        log = []
        net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))

        def hook(m, gi, go):
            log.append((type(m).__name__, [None if g is None else g.detach() for g in gi],
                        [g.detach() for g in go]))

        def doubling(m, gi, go):
            return tuple(None if g is None else g * 2 for g in gi)

        class Two(lib.nn.Module):
            def forward(self, a):
                return a * 2, a + 1

        first = net[0].register_backward_hook(hook)
        net[1].register_backward_hook(doubling)
        net[2].register_backward_hook(hook)
        two = Two()
        two.register_backward_hook(hook)
        x = lib.randn(5, 3, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = net(x)
            p, q = two(y)
        (p * q).sum().backward()
        out = [log, x.grad, [w.grad for w in net.parameters()],
               [(c.category.__name__, str(c.message)) for c in caught]]
        first.remove()
        full = lib.nn.Linear(1, 1)
        full.register_full_backward_hook(hook)
        for action in (lambda: net[1].register_full_backward_hook(hook),
                       lambda: full.register_backward_hook(hook)):
            try:
                action()
                out.append("ok")
            except RuntimeError as e:
                out.append(str(e))
        return out

    check(program)


def test_full_backward_hook_without_input_grad_and_tuple_outputs():
    def program(lib):
        lib.manual_seed(0)
        log = []

        class Two(lib.nn.Module):
            def forward(self, a, b, scale):
                return a * scale, b + a

        m = Two()
        m.register_full_backward_hook(
            lambda mod, gi, go: log.append(([g for g in gi], [g for g in go])))
        a = lib.randn(3, requires_grad=True)
        b = lib.randn(3)
        p, q = m(a, b, 2.0)
        (p.sum() + (q * q).sum()).backward()
        lin = lib.nn.Linear(2, 2)
        lin.register_full_backward_hook(lambda mod, gi, go: log.append(("lin", gi, go)))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            lin(lib.ones(1, 2)).sum().backward()
        return log, a.grad, len(w), [p.grad_fn.name(), q.grad_fn.name()]

    check(program)


def test_extra_state_in_state_dict():
    def program(lib):
        class WithState(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.nn.Linear(1, 1)
                self.count = 3

            def get_extra_state(self):
                return {"count": self.count}

            def set_extra_state(self, state):
                self.count = state["count"]

        outer = lib.nn.Sequential(WithState(), lib.nn.ReLU())
        sd = outer.state_dict()
        other = lib.nn.Sequential(WithState(), lib.nn.ReLU())
        sd["0._extra_state"] = {"count": 9}
        res = [list(sd), repr(other.load_state_dict(sd)), other[0].count]
        del sd["0._extra_state"]
        try:
            other.load_state_dict(sd)
        except RuntimeError as e:
            res.append(str(e))
        plain = lib.nn.Linear(1, 1)
        psd = plain.state_dict()
        psd["_extra_state"] = 1
        try:
            plain.load_state_dict(psd)
        except RuntimeError as e:
            res.append(str(e))
        return res

    check(program)


def test_deepcopy_and_pickle_of_models():
    import pickle

    def program(lib):
        nn = lib.nn
        lib.manual_seed(0)
        net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
        net[0].weight.grad = lib.ones(4, 3)
        net.eval()
        clone = copy.deepcopy(net)
        restored = pickle.loads(pickle.dumps(net))
        x = lib.randn(2, 3)
        with lib.no_grad():
            clone[0].weight.add_(1.0)
        return (repr(clone) == repr(net), clone.training, restored.training,
                net(x), restored(x), clone(x), clone[0].weight.grad,
                type(restored[0].weight).__name__, restored[0].weight.requires_grad,
                list(restored.state_dict()), [n for n, _ in restored.named_buffers()])

    assert check(program)[0] == "ok"


def test_deprecated_container_and_nllloss2d():
    def program(lib):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            c = lib.nn.Container(a=lib.nn.ReLU(), b=lib.nn.Linear(1, 1))
            n = lib.nn.NLLLoss2d(ignore_index=1)
        return repr(c), repr(n), n.ignore_index, [(x.category.__name__, str(x.message))
                                                  for x in w]

    check(program)


def test_parameter_misuse_and_buffer_marker():
    def program(lib):
        out = []
        for action in (lambda: lib.nn.Parameter(lib.tensor([1, 2])),
                       lambda: lib.nn.Parameter([1.0])):
            try:
                action()
            except Exception as e:  # noqa: BLE001
                out.append((type(e).__name__, str(e)))
        out.append(str(lib.nn.Parameter(lib.tensor([1, 2]), requires_grad=False).dtype))
        m = lib.nn.Module()
        b = lib.nn.Buffer(lib.ones(2, requires_grad=True) * 2)
        m.kept = b
        m.scratch = lib.nn.Buffer(lib.zeros(3), persistent=False)
        m.plain = lib.ones(1)
        out.append((type(b).__name__, b.requires_grad, b.grad_fn, isinstance(b, lib.nn.Buffer),
                    isinstance(lib.ones(1), lib.nn.Buffer), list(m._buffers),
                    list(m.state_dict()), hasattr(m, "plain"), list(m.__dict__).count("plain")))
        return out

    check(program)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_and_unpad_sequence(batch_first, side):
    def program(lib):
        lib.manual_seed(0)
        seqs = [lib.randn(n, 3, requires_grad=True) for n in (2, 5, 1)]
        padded = lib.nn.utils.rnn.pad_sequence(seqs, batch_first=batch_first,
                                               padding_value=-1.5, padding_side=side)
        (padded * padded).sum().backward()
        out = [padded, [s.grad for s in seqs]]
        if side == "right":
            # torch transposes a time-major argument in place: hand it a copy
            back = lib.nn.utils.rnn.unpad_sequence(padded.detach().clone(), lib.tensor([2, 5, 1]),
                                                   batch_first=batch_first)
            out.append(back)
        out.append(lib.nn.utils.rnn.pad_sequence([lib.tensor([1, 2]), lib.tensor([3])]))
        for action in (lambda: lib.nn.utils.rnn.pad_sequence([]),
                       lambda: lib.nn.utils.rnn.pad_sequence(3)):
            try:
                action()
            except Exception as e:  # noqa: BLE001
                out.append((type(e).__name__, str(e).split("\n")[0]))
        return out

    check(program)


def test_global_module_hooks():
    def program(lib):
        mm = lib.nn.modules.module
        log = []
        lib.manual_seed(0)
        seq = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.ReLU())
        h1 = mm.register_module_forward_pre_hook(
            lambda m, args: log.append(("pre", type(m).__name__)))
        h2 = mm.register_module_forward_hook(
            lambda m, args, kwargs, out: log.append(("post", type(m).__name__, sorted(kwargs))),
            with_kwargs=True)
        own = seq[0].register_forward_hook(lambda m, a, o: log.append("own"))
        try:
            y = seq(lib.ones(1, 2))
        finally:
            h1.remove()
            h2.remove()
            own.remove()
        seq(lib.ones(1, 2))
        return log, y

    check(program)


@pytest.mark.parametrize("shape,sparsity", [((5, 4), 0.3), ((10, 3), 0.5), ((3, 6), 0.0)])
def test_sparse_init_bit_identical(shape, sparsity):
    def program(lib):
        lib.manual_seed(2)
        t = lib.empty(*shape)
        lib.nn.init.sparse_(t, sparsity, std=0.1)
        return t, lib.rand(2)

    exact(program)


def test_deprecated_init_aliases():
    def program(lib):
        lib.manual_seed(0)
        t = lib.empty(3, 4)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            lib.nn.init.uniform(t, -1.0, 1.0)
            lib.nn.init.xavier_normal(t)
            lib.nn.init.kaiming_uniform(t, a=1.0)
            lib.nn.init.constant(t, 0.5)
        return t, [(x.category.__name__, str(x.message)) for x in w], lib.nn.init.normal.__name__

    exact(program)


def test_data_idioms_and_cpu_only():
    def program(lib):
        lib.manual_seed(0)
        m = lib.nn.Linear(3, 2)
        m.weight.data.normal_(0, 0.01)
        m.bias.data.fill_(0.5)
        first = m.weight.detach().clone()
        m.weight.data = lib.ones(2, 3)
        m.bias.requires_grad = False
        trainable = sum(p.numel() for p in m.parameters() if p.requires_grad)
        y = m(lib.ones(1, 3))
        y.sum().backward()
        out = [first, m.weight, m.bias, trainable, m.weight.grad, m.bias.grad, y,
               m.cpu() is m, m.share_memory() is m]
        try:
            m.cuda()
        except AssertionError as e:
            out.append(str(e))
        return out

    check(program)


def test_global_full_backward_hooks():
    def program(lib):
        mm = lib.nn.modules.module
        log = []
        lib.manual_seed(0)
        seq = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.Tanh())
        h1 = mm.register_module_full_backward_hook(
            lambda m, gi, go: log.append(("hook", type(m).__name__, list(gi), list(go))))
        h2 = mm.register_module_full_backward_pre_hook(
            lambda m, go: log.append(("pre", type(m).__name__, list(go))))
        x = lib.randn(2, 2, requires_grad=True)
        try:
            seq(x).sum().backward()
        finally:
            h1.remove()
            h2.remove()
        n = len(log)
        seq(x).sum().backward()
        return log, n == len(log), x.grad

    check(program)
