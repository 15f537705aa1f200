"""optim.swa_utils against torch: AveragedModel (SWA, EMA, custom averaging, buffers),
update_bn and SWALR, from the same initial weights (ember's init equals torch's after
manual_seed), compared after several updates."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import ember
from oracle import torch

LIBS = {"ember": ember, "torch": torch}


def _net(lib, dtype: str = "float32", bn2d: bool = False):
    lib.manual_seed(0)
    nn = lib.nn
    if bn2d:
        net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                            nn.Linear(12, 4), nn.BatchNorm1d(4, momentum=0.3))
    else:
        net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    return net.double() if dtype == "float64" else net


def _state(module) -> dict:
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def _assert_states_match(ours: dict, theirs: dict, dtype: str, exact: tuple = ()) -> None:
    """Same keys, dtypes and shapes; integer entries equal; floats equal to float rounding
    (bit for bit for the keys in ``exact``)."""
    assert list(ours) == list(theirs)
    rtol = 1e-6 if dtype == "float32" else 1e-14
    for key in ours:
        mine, want = ours[key], theirs[key]
        assert mine.dtype == want.dtype and mine.shape == want.shape, key
        if key in exact or not np.issubdtype(want.dtype, np.floating):
            np.testing.assert_array_equal(mine, want, err_msg=key)
        else:
            np.testing.assert_allclose(mine, want, rtol=rtol, atol=rtol, err_msg=key)


AVERAGING = {
    "swa": {},
    "swa_buffers": {"use_buffers": True},
    "swa_avg_fn": {"avg_fn": ("get_swa_avg_fn",)},
    "ema_avg_fn": {"avg_fn": ("get_ema_avg_fn", 0.9)},
    "ema_avg_fn_buffers": {"avg_fn": ("get_ema_avg_fn", 0.75), "use_buffers": True},
    "ema_multi": {"multi_avg_fn": ("get_ema_multi_avg_fn", 0.9)},
    "ema_multi_buffers": {"multi_avg_fn": ("get_ema_multi_avg_fn", 0.6), "use_buffers": True},
    "swa_multi": {"multi_avg_fn": ("get_swa_multi_avg_fn",)},
    "custom_avg_fn": {"avg_fn": lambda avg, cur, n: avg * 0.5 + cur * 0.25 + n * 0.125},
    "custom_multi": {"multi_avg_fn": "custom"},
    "default_decay_ema": {"multi_avg_fn": ("get_ema_multi_avg_fn",)},
}


def _resolve(lib, kwargs: dict, calls: list) -> dict:
    S = lib.optim.swa_utils
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, tuple):
            value = getattr(S, value[0])(*value[1:])
        elif value == "custom":
            def value(averaged, current, n, lib=lib):
                # records what torch hands a multi-tensor function: one list per dtype
                calls.append((len(averaged), str(averaged[0].dtype).split(".")[-1], int(n)))
                with lib.no_grad():
                    for a, c in zip(averaged, current):
                        a.mul_(0.5).add_(c, alpha=0.5)
        out[key] = value
    return out


def _averaging_run(lib, config: str, dtype: str = "float32", steps: int = 6):
    """Weights are set (identically in both libraries) between updates, so the averages are
    tested on their own; a forward pass in training mode moves the BatchNorm buffers."""
    calls: list = []
    net = _net(lib, dtype)
    averaged = lib.optim.swa_utils.AveragedModel(net, **_resolve(lib, AVERAGING[config], calls))
    rng = np.random.default_rng(1)
    counts = []
    for _ in range(steps):
        with lib.no_grad():
            for p in net.parameters():
                p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape))))
        net(lib.tensor(rng.standard_normal((5, 3)).astype(dtype)))
        averaged.update_parameters(net)
        counts.append(int(averaged.n_averaged))
    x = lib.tensor(rng.standard_normal((4, 3)).astype(dtype))
    averaged.eval()
    out = averaged(x).detach().numpy()
    return _state(averaged), counts, calls, out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", sorted(AVERAGING))
def test_averaged_model_matches_torch(config, dtype):
    ours, theirs = _averaging_run(ember, config, dtype), _averaging_run(torch, config, dtype)
    # plain arithmetic averages (no lerp kernel, no BatchNorm statistics) are bit-exact
    exact = ()
    if config in ("swa", "swa_avg_fn", "ema_avg_fn", "custom_avg_fn", "custom_multi"):
        exact = tuple(k for k in ours[0] if "running" not in k)
    _assert_states_match(ours[0], theirs[0], dtype, exact)
    assert ours[1] == theirs[1] == list(range(1, 7))
    assert ours[2] == theirs[2]
    np.testing.assert_allclose(ours[3], theirs[3], rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=1e-6 if dtype == "float32" else 1e-13)


def test_averaged_model_copies_and_does_not_alias():
    """The average is a deep copy: training the model leaves it until update_parameters; its
    state dict keys are torch's (n_averaged first) and load across the two libraries."""

    def program(lib):
        net = _net(lib)
        averaged = lib.optim.swa_utils.AveragedModel(net)
        shared = any(a is b for a, b in zip(averaged.parameters(), net.parameters()))
        with lib.no_grad():
            net[0].weight.add_(1.0)
        before = averaged.module[0].weight.detach().numpy().copy()
        averaged.update_parameters(net)
        after = averaged.module[0].weight.detach().numpy().copy()
        return (shared, before.tolist(), after.tolist(), list(averaged.state_dict()),
                [n for n, _ in averaged.named_parameters()],
                [n for n, _ in averaged.named_buffers()], repr(averaged),
                averaged.n_averaged.dtype == lib.int64, averaged.module[0].weight.requires_grad)

    assert program(ember) == program(torch)


@pytest.mark.parametrize("source,target", [("torch", "ember"), ("ember", "torch")])
def test_averaged_model_state_dict_crosses_over(source, target):
    src, dst = LIBS[source], LIBS[target]
    net = _net(src)
    averaged = src.optim.swa_utils.AveragedModel(net, use_buffers=True)
    for scale in (1.0, 2.0, 4.0):
        with src.no_grad():
            for p in net.parameters():
                p.mul_(scale)
        net(src.ones(3, 3) * scale)
        averaged.update_parameters(net)
    saved = {k: dst.tensor(v.detach().numpy().copy()) for k, v in averaged.state_dict().items()}
    other = dst.optim.swa_utils.AveragedModel(_net(dst), use_buffers=True)
    other.load_state_dict(saved)
    assert int(other.n_averaged) == 3
    net_dst = _net(dst)
    net_dst.load_state_dict({k: dst.tensor(v) for k, v in _state(net).items()})
    # one more update continues the same average in both
    other.update_parameters(net_dst)
    averaged.update_parameters(net)
    _assert_states_match(_state(other), _state(averaged), "float32")


def test_swa_training_loop_as_torch():
    """torch's documented recipe: train with SGD + CosineAnnealingLR, then average with
    AveragedModel under SWALR, then recompute BatchNorm statistics with update_bn."""
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((40, 3)).astype(np.float32)
    ys = rng.standard_normal((40, 2)).astype(np.float32)

    def program(lib):
        S = lib.optim.swa_utils
        data = lib.utils.data
        loader = data.DataLoader(data.TensorDataset(lib.tensor(xs), lib.tensor(ys)),
                                 batch_size=8)
        net = _net(lib)
        opt = lib.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        swa_model = S.AveragedModel(net)
        scheduler = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
        swa_scheduler = S.SWALR(opt, swa_lr=0.05, anneal_epochs=3)
        lrs = []
        for epoch in range(10):
            for x, y in loader:
                opt.zero_grad()
                ((net(x) - y) ** 2).mean().backward()
                opt.step()
            if epoch >= 5:
                swa_model.update_parameters(net)
                swa_scheduler.step()
            else:
                scheduler.step()
            lrs.append(opt.param_groups[0]["lr"])
        S.update_bn(loader, swa_model)
        return lrs, _state(swa_model), swa_model.training

    ours, theirs = program(ember), program(torch)
    assert ours[0] == theirs[0] and ours[2] == theirs[2]
    assert list(ours[1]) == list(theirs[1])
    for key in ours[1]:  # float32 training drifts by rounding over 50 steps
        np.testing.assert_allclose(ours[1][key], theirs[1][key], rtol=1e-4, atol=1e-5,
                                   err_msg=key)


# ---------------------------------------------------------------- update_bn


def _batches(kind: str, bn2d: bool, dtype: str):
    rng = np.random.default_rng(5)
    shape = (6, 2, 4, 4) if bn2d else (6, 3)
    arrays = [(rng.standard_normal(shape) * (1 + i) + i).astype(dtype) for i in range(4)]
    if kind == "tensors":
        return lambda lib: [lib.tensor(a) for a in arrays]
    if kind == "tuples":
        return lambda lib: [(lib.tensor(a), lib.zeros(6)) for a in arrays]
    return lambda lib: [[lib.tensor(a), "label"] for a in arrays]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bn2d", [False, True])
@pytest.mark.parametrize("kind", ["tensors", "tuples", "lists"])
@pytest.mark.parametrize("training", [True, False])
def test_update_bn_matches_torch(kind, bn2d, dtype, training):
    """Running statistics become the equal-weight average over the loader's batches, the
    batch counters count them; momenta and the training flag come back as they were."""
    make = _batches(kind, bn2d, dtype)

    def program(lib):
        net = _net(lib, dtype, bn2d)
        net(make(lib)[0] if kind == "tensors" else make(lib)[0][0])  # stale statistics
        net.train(training)
        lib.optim.swa_utils.update_bn(make(lib), net, device="cpu" if bn2d else None)
        bns = [m for m in net.modules() if "BatchNorm" in type(m).__name__]
        return (_state(net), net.training, [m.training for m in net.modules()],
                [m.momentum for m in bns])

    ours, theirs = program(ember), program(torch)
    _assert_states_match(ours[0], theirs[0], dtype)
    assert ours[1:] == theirs[1:]


def test_update_bn_leaves_models_without_batchnorm_alone():
    def program(lib):
        net = lib.nn.Sequential(lib.nn.Linear(3, 2), lib.nn.LayerNorm(2)).eval()
        calls = []
        loader = [lib.ones(2, 3)]
        net.register_forward_hook(lambda *a: calls.append(1))
        lib.optim.swa_utils.update_bn(loader, net)
        return net.training, calls

    assert program(ember) == program(torch) == (False, [])


def test_update_bn_without_grad():
    def program(lib):
        net = _net(lib)
        seen = []
        net.register_forward_hook(lambda m, i, o: seen.append(o.requires_grad))
        lib.optim.swa_utils.update_bn([lib.ones(4, 3), lib.zeros(4, 3)], net)
        return seen, _state(net)["1.num_batches_tracked"].tolist()

    assert program(ember) == program(torch)


# ---------------------------------------------------------------- SWALR


SWALR_CONFIGS = {
    "cos": dict(swa_lr=0.05),
    "linear": dict(swa_lr=0.05, anneal_strategy="linear", anneal_epochs=4),
    "per_group": dict(swa_lr=[0.02, 0.5], anneal_epochs=3),
    "no_anneal": dict(swa_lr=0.07, anneal_epochs=0),
    "no_anneal_linear": dict(swa_lr=0.07, anneal_epochs=0, anneal_strategy="linear"),
    "one_epoch": dict(swa_lr=0.2, anneal_epochs=1),
    "int_swa_lr": dict(swa_lr=1, anneal_epochs=2, anneal_strategy="linear"),
}


def _swalr_run(lib, config: str, steps: int = 15, before: str | None = None):
    p, q = lib.ones(2, requires_grad=True), lib.ones(1, requires_grad=True)
    opt = lib.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.3}], lr=0.1, momentum=0.9)
    history = []
    if before == "cosine":  # the documented use: another schedule, then SWALR
        first = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=8)
        for _ in range(4):
            opt.step()
            first.step()
            history.append(first.get_last_lr())
    sched = lib.optim.swa_utils.SWALR(opt, **SWALR_CONFIGS[config])
    history.append(list(sched.get_last_lr()))
    for _ in range(steps):
        opt.step()
        sched.step()
        history.append(list(sched.get_last_lr()))
    return history, _plain(sched.state_dict()), [g["swa_lr"] for g in opt.param_groups]


def _plain(value):
    """A state dict reduced to plain data (types kept) that both libraries' reduce to alike."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value).__name__, [_plain(v) for v in value]
    return type(value).__name__, value


@pytest.mark.parametrize("before", [None, "cosine"])
@pytest.mark.parametrize("config", sorted(SWALR_CONFIGS))
def test_swalr_matches_torch_exactly(config, before):
    """Learning rates (bit for bit, and of the same Python types), state-dict keys and
    values, and the swa_lr recorded in the groups equal torch's."""
    assert _swalr_run(ember, config, before=before) == _swalr_run(torch, config, before=before)


def test_swalr_get_lr_warns_and_step_epoch_as_torch():
    def program(lib):
        opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1)
        sched = lib.optim.swa_utils.SWALR(opt, swa_lr=0.01, anneal_epochs=5)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched.step()  # before the optimizer's step
            opt.step()
            sched.step(4)
            values = sched.get_lr()
        return values, sched.get_last_lr(), [str(w.message) for w in caught]

    assert program(ember) == program(torch)


@pytest.mark.parametrize("source,target", [("torch", "ember"), ("ember", "torch")])
def test_swalr_state_dict_crosses_over_and_resumes(source, target):
    def build(lib, **kwargs):
        opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1)
        return opt, lib.optim.swa_utils.SWALR(opt, **kwargs)

    opt, sched = build(LIBS[source], swa_lr=0.01, anneal_epochs=6, anneal_strategy="linear")
    for _ in range(3):
        opt.step()
        sched.step()
    saved = sched.state_dict()
    expected = []
    for _ in range(5):
        opt.step()
        sched.step()
        expected.append(sched.get_last_lr())
    new_opt, new_sched = build(LIBS[target], swa_lr=0.01, anneal_epochs=2)
    new_sched.load_state_dict(saved)
    new_opt.param_groups[0]["lr"] = saved["_last_lr"][0]
    got = []
    for _ in range(5):
        new_opt.step()
        new_sched.step()
        got.append(new_sched.get_last_lr())
    assert got == expected and new_sched.anneal_func(0.25) == 0.25


def test_swalr_cosine_reaches_swa_lr():
    """At the end of the annealing the rate is exactly swa_lr (alpha is exactly 1)."""
    history, _, _ = _swalr_run(ember, "cos")
    assert history[10] == [0.05, 0.05] and math.isclose(history[5][0], (0.1 + 0.05) / 2)


# ---------------------------------------------------------------- averaging functions


def _fn_outcome(lib, make):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = make(lib)
    except Exception as e:  # noqa: BLE001 - compared with torch's
        return type(e).__name__, str(e).splitlines()[0]
    if isinstance(out, list):
        return [(t.detach().numpy().tolist(), str(t.dtype)) for t in out]
    if hasattr(out, "numpy"):
        return out.detach().numpy().tolist(), str(out.dtype)
    return out


def _in_place(fn, averaged, current, n):
    fn(averaged, current, n)
    return averaged


AVG_FNS = {
    "ema_fn": lambda lib: lib.optim.swa_utils.get_ema_avg_fn(0.7)(
        lib.tensor([1.0, 2.0]), lib.tensor([4.0, 9.0]), 2),
    "ema_fn_int": lambda lib: lib.optim.swa_utils.get_ema_avg_fn(0.7)(
        lib.tensor([1, 2]), lib.tensor([4, 9]), 2),
    "swa_fn_tensor_n": lambda lib: lib.optim.swa_utils.get_swa_avg_fn()(
        lib.tensor([1, 2]), lib.tensor([4, 9]), lib.tensor(2)),
    "swa_fn_f64": lambda lib: lib.optim.swa_utils.get_swa_avg_fn()(
        lib.tensor([1.0, 2.0], dtype=lib.float64), lib.tensor([4.0, 9.0], dtype=lib.float64),
        lib.tensor(2)),
    "ema_multi": lambda lib: _in_place(lib.optim.swa_utils.get_ema_multi_avg_fn(0.25),
                                       [lib.tensor([1.0, 2.0]), lib.tensor([[3.0]])],
                                       [lib.tensor([4.0, 9.0]), lib.tensor([[-1.0]])], 5),
    "ema_multi_int": lambda lib: _in_place(lib.optim.swa_utils.get_ema_multi_avg_fn(0.7),
                                           [lib.tensor([1, 2])], [lib.tensor([4, 9])], 2),
    "swa_multi_int_n": lambda lib: _in_place(lib.optim.swa_utils.get_swa_multi_avg_fn(),
                                             [lib.tensor([1.0, 2.0])], [lib.tensor([4.0, 8.0])],
                                             2),
    "swa_multi_tensor_n_f64": lambda lib: _in_place(
        lib.optim.swa_utils.get_swa_multi_avg_fn(), [lib.tensor([1.0, 2.0], dtype=lib.float64)],
        [lib.tensor([4.0, 8.5], dtype=lib.float64)], lib.tensor(2)),
    # misuse, with torch's errors
    "swa_multi_int_tensors": lambda lib: _in_place(
        lib.optim.swa_utils.get_swa_multi_avg_fn(), [lib.tensor([1, 2])], [lib.tensor([4, 8])],
        lib.tensor(2)),
    "swa_multi_int_tensors_int_n": lambda lib: _in_place(
        lib.optim.swa_utils.get_swa_multi_avg_fn(), [lib.tensor([1, 2])], [lib.tensor([4, 8])],
        2),
    "ema_multi_decay": lambda lib: lib.optim.swa_utils.get_ema_multi_avg_fn(1.5),
    "ema_decay": lambda lib: lib.optim.swa_utils.get_ema_avg_fn(-0.1),
}


@pytest.mark.parametrize("name", sorted(AVG_FNS))
def test_averaging_functions_match_torch(name):
    ours, theirs = _fn_outcome(ember, AVG_FNS[name]), _fn_outcome(torch, AVG_FNS[name])
    assert ours == theirs


def _sgd(lib):
    return lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1)


def _twice(averaged, net):
    averaged.update_parameters(net)
    averaged.update_parameters(net)


MISUSE = {
    "both averaging functions": lambda lib: lib.optim.swa_utils.AveragedModel(
        lib.nn.Linear(2, 2), avg_fn=lib.optim.swa_utils.get_swa_avg_fn(),
        multi_avg_fn=lib.optim.swa_utils.get_swa_multi_avg_fn()),
    "swa multi over integer buffers": lambda lib: _twice(lib.optim.swa_utils.AveragedModel(
        net := lib.nn.BatchNorm1d(2), multi_avg_fn=lib.optim.swa_utils.get_swa_multi_avg_fn(),
        use_buffers=True), net),
    "buffers differ": lambda lib: lib.optim.swa_utils.AveragedModel(
        lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.BatchNorm1d(2))).update_parameters(
        lib.nn.Sequential(lib.nn.Linear(2, 2))),
    "cuda device": lambda lib: lib.optim.swa_utils.AveragedModel(lib.nn.Linear(2, 2),
                                                                 device="cuda"),
    "swalr not an optimizer": lambda lib: lib.optim.swa_utils.SWALR(object(), 0.1),
    "swalr strategy": lambda lib: lib.optim.swa_utils.SWALR(_sgd(lib), 0.1,
                                                            anneal_strategy="exp"),
    "swalr negative epochs": lambda lib: lib.optim.swa_utils.SWALR(_sgd(lib), 0.1,
                                                                   anneal_epochs=-1),
    "swalr float epochs": lambda lib: lib.optim.swa_utils.SWALR(_sgd(lib), 0.1,
                                                                anneal_epochs=2.0),
    "swalr swa_lr list": lambda lib: lib.optim.swa_utils.SWALR(_sgd(lib), [0.1, 0.2]),
    "swalr resume without initial_lr": lambda lib: lib.optim.swa_utils.SWALR(
        _sgd(lib), 0.1, last_epoch=3),
    "update_bn bad batch": lambda lib: lib.optim.swa_utils.update_bn(
        [lib.ones(2, 5)], _net(lib)),
}


@pytest.mark.parametrize("name", sorted(MISUSE))
def test_misuse_raises_as_torch(name):
    ours, theirs = _fn_outcome(ember, MISUSE[name]), _fn_outcome(torch, MISUSE[name])
    assert ours == theirs and isinstance(ours, tuple) and ours[0].endswith("Error")


def test_module_layout_as_torch():
    assert sorted(ember.optim.swa_utils.__all__) == sorted(torch.optim.swa_utils.__all__)
    assert isinstance(ember.optim.swa_utils.AveragedModel(ember.nn.Linear(1, 1)),
                      ember.nn.Module)
    assert issubclass(ember.optim.swa_utils.SWALR, ember.optim.lr_scheduler.LRScheduler)


def test_multi_avg_fn_gets_one_call_per_dtype_group():
    """A multi-tensor averaging function receives the tensors grouped by device and dtype,
    each group in module order, with n_averaged (torch visits the groups in its hash map's
    order, which says nothing; the groups themselves are compared)."""

    def program(lib):
        calls = []

        def average(averaged, current, n):
            calls.append((int(n), [str(t.dtype).split(".")[-1] for t in averaged],
                          [tuple(t.shape) for t in averaged]))
            for a, c in zip(averaged, current):
                a.copy_(c * 2)

        lib.manual_seed(0)
        nn = lib.nn
        net = nn.Sequential(nn.Linear(2, 3).double(), nn.BatchNorm1d(3), nn.Linear(3, 1),
                            nn.BatchNorm1d(1).double())
        averaged = lib.optim.swa_utils.AveragedModel(net, multi_avg_fn=average,
                                                     use_buffers=True)
        for _ in range(3):
            averaged.update_parameters(net)
        return sorted(calls), _state(averaged)

    ours, theirs = program(ember), program(torch)
    assert ours[0] == theirs[0] and len(ours[0]) == 6
    _assert_states_match(ours[1], theirs[1], "float32", exact=tuple(ours[1]))
