"""Learning-rate schedules against torch: the same sequence of learning rates, bit for bit."""

from __future__ import annotations

import warnings

import pytest

import ember
from oracle import torch


def schedules(lib):
    """name -> (optimizer factory kwargs, scheduler factory)."""
    S = lib.optim.lr_scheduler
    return {
        "StepLR": lambda o: S.StepLR(o, step_size=3, gamma=0.5),
        "MultiStepLR": lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
        "ExponentialLR": lambda o: S.ExponentialLR(o, gamma=0.9),
        "CosineAnnealingLR": lambda o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
        "CosineAnnealingWarmRestarts": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=4,
                                                                               T_mult=2),
        "LambdaLR": lambda o: S.LambdaLR(o, lr_lambda=lambda e: 0.95**e / (1 + e)),
        "MultiplicativeLR": lambda o: S.MultiplicativeLR(o, lr_lambda=lambda e: 0.97),
        "ConstantLR": lambda o: S.ConstantLR(o, factor=0.5, total_iters=4),
        "LinearLR": lambda o: S.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=6),
        "PolynomialLR": lambda o: S.PolynomialLR(o, total_iters=8, power=2.0),
        "OneCycleLR": lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=25),
        "OneCycleLR3": lambda o: S.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=25,
                                              three_phase=True, anneal_strategy="linear"),
        "SequentialLR": lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.1, total_iters=2),
                                                     S.ExponentialLR(o, gamma=0.9)],
                                                 milestones=[3]),
        "ChainedScheduler": lambda o: S.ChainedScheduler([S.ConstantLR(o, factor=0.1,
                                                                       total_iters=2),
                                                          S.ExponentialLR(o, gamma=0.9)]),
        "CosineAnnealingWarmRestarts_eta": lambda o: S.CosineAnnealingWarmRestarts(
            o, T_0=3, T_mult=3, eta_min=0.01),
        "CosineAnnealingLR_past_T_max": lambda o: S.CosineAnnealingLR(o, T_max=5),
        "LambdaLR_per_group": lambda o: S.LambdaLR(o, [lambda e: 0.9**e, lambda e: 1 / (e + 1)]),
        "LinearLR_default": lambda o: S.LinearLR(o),
        "OneCycleLR_epochs": lambda o: S.OneCycleLR(o, max_lr=1.0, epochs=3, steps_per_epoch=8,
                                                    pct_start=0.4, div_factor=10,
                                                    final_div_factor=100),
        "OneCycleLR_no_momentum": lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=25,
                                                         cycle_momentum=False),
        "SequentialLR_warmup_step_cosine": lambda o: S.SequentialLR(
            o, [S.LinearLR(o, 0.1, total_iters=4), S.StepLR(o, 2), S.CosineAnnealingLR(o, 5)],
            milestones=[4, 10]),
    }


def run(lib, name, steps=24, optimizer="SGD"):
    p = lib.ones(2, requires_grad=True)
    q = lib.ones(1, requires_grad=True)
    kwargs = {"momentum": 0.9} if optimizer == "SGD" else {}
    opt = getattr(lib.optim, optimizer)([{"params": [p]}, {"params": [q], "lr": 0.3}], lr=0.1,
                                        **kwargs)
    sched = schedules(lib)[name](opt)
    history = [list(sched.get_last_lr())]
    for _ in range(steps):
        opt.step()
        sched.step()
        history.append(list(sched.get_last_lr()))
        history.append([g.get("momentum", g.get("betas")) for g in opt.param_groups])
    return history


@pytest.mark.parametrize("name", sorted(schedules(ember)))
def test_learning_rates_match_torch_exactly(name):
    assert run(ember, name) == run(torch, name)


def test_one_cycle_cycles_adam_betas():
    assert run(ember, "OneCycleLR", optimizer="Adam") == run(torch, "OneCycleLR",
                                                             optimizer="Adam")


def test_reduce_on_plateau_matches_torch():
    losses = [1.0, 0.9, 0.95, 0.96, 0.97, 0.91, 0.92, 0.93, 0.94, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]

    def program(lib, **kw):
        opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=1.0)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
        out = []
        for loss in losses:
            sched.step(loss)
            out.append(sched.get_last_lr())
        return out

    for kw in ({"patience": 2}, {"patience": 1, "cooldown": 2, "factor": 0.5},
               {"mode": "max", "threshold_mode": "abs", "patience": 0, "min_lr": 0.3}):
        assert program(ember, **kw) == program(torch, **kw)


def test_state_dict_resumes():
    def program(lib):
        opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1)
        sched = lib.optim.lr_scheduler.StepLR(opt, step_size=2)
        for _ in range(3):
            opt.step()
            sched.step()
        state = sched.state_dict()
        fresh = lib.optim.lr_scheduler.StepLR(opt, step_size=5)
        fresh.load_state_dict(state)
        opt.step()
        fresh.step()
        return sorted(k for k in state if not k.startswith("_")), fresh.get_last_lr()

    assert program(ember) == program(torch)


def test_warns_when_stepped_before_the_optimizer():
    def program(lib):
        opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1)
        sched = lib.optim.lr_scheduler.StepLR(opt, step_size=2)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched.step()
        return [str(w.message) for w in caught]

    assert program(ember) == program(torch) and len(program(ember)) == 1


def test_step_with_epoch_and_get_lr_warn_as_torch():
    """step(epoch) is deprecated (closed form where there is one); get_lr() outside step()
    warns to use get_last_lr(); the rates follow torch's either way."""

    def program(lib):
        S = lib.optim.lr_scheduler
        out = []
        for make in (lambda o: S.StepLR(o, 2, gamma=0.5), lambda o: S.ExponentialLR(o, 0.9),
                     lambda o: S.CosineAnnealingLR(o, 6), lambda o: S.LambdaLR(o, lambda e: e),
                     lambda o: S.CosineAnnealingWarmRestarts(o, 3, 2),
                     lambda o: S.ReduceLROnPlateau(o, patience=0)):
            opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1)
            sched = make(opt)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                opt.step()
                if isinstance(sched, S.ReduceLROnPlateau):
                    sched.step(1.0, 4)
                    sched.step(2.0)
                else:
                    sched.step(5)
                    sched.step()
                    out.append(sched.get_lr())
            out.append((sched.get_last_lr(), sched.last_epoch,
                        [str(w.message) for w in caught]))
        return out

    assert program(ember) == program(torch)


MISUSE = {
    "not an optimizer": lambda lib: lib.optim.lr_scheduler.StepLR(object(), 2),
    "constant factor": lambda lib: lib.optim.lr_scheduler.ConstantLR(_opt(lib), factor=2.0),
    "linear start": lambda lib: lib.optim.lr_scheduler.LinearLR(_opt(lib), start_factor=0),
    "warm restarts T_0": lambda lib: lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        _opt(lib), T_0=0),
    "plateau factor": lambda lib: lib.optim.lr_scheduler.ReduceLROnPlateau(_opt(lib),
                                                                           factor=1.0),
    "plateau mode": lambda lib: lib.optim.lr_scheduler.ReduceLROnPlateau(_opt(lib),
                                                                         mode="middle"),
    "one cycle steps": lambda lib: lib.optim.lr_scheduler.OneCycleLR(_opt(lib), 0.1),
    "one cycle too far": lambda lib: _step_times(
        lib.optim.lr_scheduler.OneCycleLR(_opt(lib), 0.1, total_steps=2), 3),
    "sequential milestones": lambda lib: lib.optim.lr_scheduler.SequentialLR(
        o := _opt(lib), [lib.optim.lr_scheduler.StepLR(o, 2)], milestones=[1]),
    "resume without initial_lr": lambda lib: lib.optim.lr_scheduler.StepLR(_opt(lib), 2,
                                                                         last_epoch=3),
}


def _step_times(scheduler, n: int) -> None:
    for _ in range(n):
        scheduler.step()


def _opt(lib):
    return lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1, momentum=0.9)


@pytest.mark.parametrize("name", sorted(MISUSE))
def test_misuse_raises_as_torch(name):
    def outcome(lib):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                MISUSE[name](lib)
        except Exception as e:  # noqa: BLE001 - compared with torch's
            return type(e).__name__, str(e).splitlines()[0]
        return None

    assert outcome(ember) == outcome(torch) is not None


def _plain(value, structure_only=False):
    """A state-dict value reduced to plain data that both libraries' values reduce to alike."""
    if isinstance(value, dict):
        return type(value).__name__, {k: _plain(v, structure_only) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value).__name__, [_plain(v, structure_only) for v in value]
    if callable(value):
        return "callable"
    return type(value).__name__, value


@pytest.mark.parametrize("name", sorted(schedules(ember)))
@pytest.mark.parametrize("steps", [0, 5])
def test_state_dict_has_torchs_keys_and_values(name, steps):
    """Every scheduler's state dict holds the same keys (private ones included), with values of
    the same types and structure, as torch's: so checkpoints pass between the two."""

    def state(lib):
        p, q = lib.ones(2, requires_grad=True), lib.ones(1, requires_grad=True)
        opt = lib.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.3}], lr=0.1, momentum=0.9)
        sched = schedules(lib)[name](opt)
        for _ in range(steps):
            opt.step()
            sched.step()
        return _plain(sched.state_dict())

    assert state(ember) == state(torch)


def test_reduce_on_plateau_state_dict_as_torch():
    def state(lib):
        opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=1.0)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, min_lr=[0.01])
        for loss in (1.0, 1.0, 1.0, 0.5):
            sched.step(loss)
        return _plain(sched.state_dict())

    assert state(ember) == state(torch)


def _convert(value, lib):
    """An optimizer state dict of one library with its tensors remade in ``lib``."""
    if isinstance(value, dict):
        return {k: _convert(v, lib) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_convert(v, lib) for v in value)
    if isinstance(value, (ember.Tensor, torch.Tensor)):
        return lib.tensor(value.detach().numpy().copy())
    return value


ONE_CYCLE = {
    "cos": dict(max_lr=[0.5, 0.2], total_steps=25),
    "three_phase_linear": dict(max_lr=0.4, total_steps=30, three_phase=True,
                               anneal_strategy="linear", pct_start=0.25),
    "epochs_no_momentum": dict(max_lr=1.0, epochs=3, steps_per_epoch=8, div_factor=10,
                               final_div_factor=100, cycle_momentum=False),
}


def _one_cycle(lib, optimizer_name, kwargs):
    p, q = lib.ones(2, requires_grad=True), lib.ones(1, requires_grad=True)
    extra = {"momentum": 0.9} if optimizer_name == "SGD" else {}
    opt = getattr(lib.optim, optimizer_name)([{"params": [p]}, {"params": [q], "lr": 0.3}],
                                             lr=0.1, **extra)
    for t in (p, q):
        t.grad = lib.full(tuple(t.shape), 0.5)
    return opt, lib.optim.lr_scheduler.OneCycleLR(opt, **kwargs)


def _rates(opt, sched, steps):
    out = []
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append((sched.get_last_lr(),
                    [g.get("momentum", g.get("betas")) for g in opt.param_groups]))
    return out


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
@pytest.mark.parametrize("config", sorted(ONE_CYCLE))
@pytest.mark.parametrize("source,target", [("torch", "ember"), ("ember", "torch")])
def test_one_cycle_state_dict_crosses_over_and_resumes_exactly(optimizer_name, config, source,
                                                               target):
    """A OneCycleLR (and its optimizer) saved part-way in one library loads into a scheduler of
    the other library built with other settings, and goes on with the very same learning rates
    and momenta as the original."""
    libs = {"torch": torch, "ember": ember}
    src, dst = libs[source], libs[target]
    opt, sched = _one_cycle(src, optimizer_name, ONE_CYCLE[config])
    total = sched.total_steps
    _rates(opt, sched, 7)
    saved_sched, saved_opt = sched.state_dict(), _convert(opt.state_dict(), dst)
    assert "_schedule_phases" in saved_sched
    expected = _rates(opt, sched, total - 7)

    other = ONE_CYCLE[min(set(ONE_CYCLE) - {config})]  # other phases, steps and strategy
    new_opt, new_sched = _one_cycle(dst, optimizer_name, other)
    new_sched.load_state_dict(saved_sched)
    new_opt.load_state_dict(saved_opt)
    assert _rates(new_opt, new_sched, total - 7) == expected


# ---------------------------------------------------------------- CyclicLR


class _Halving:
    """A stateful scale function (a callable object, so its state is saved in state dicts)."""

    def __init__(self) -> None:
        self.calls = 0
        self.base = 0.5

    def __call__(self, x: float) -> float:
        self.calls += 1
        return self.base ** (x - 1)


CYCLIC = {
    "triangular": dict(base_lr=0.01, max_lr=0.1, step_size_up=4),
    "triangular_per_group": dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=3,
                                 step_size_down=5, base_momentum=[0.7, 0.8],
                                 max_momentum=[0.9, 0.95]),
    "triangular2": dict(base_lr=0.001, max_lr=0.05, step_size_up=2, step_size_down=3,
                        mode="triangular2"),
    "exp_range": dict(base_lr=0.01, max_lr=0.2, step_size_up=5, mode="exp_range", gamma=0.93),
    "exp_range_scale_mode_ignored": dict(base_lr=0.01, max_lr=0.2, step_size_up=5,
                                         mode="exp_range", gamma=0.9, scale_mode="cycle"),
    "scale_fn_cycle": dict(base_lr=0.01, max_lr=0.1, step_size_up=3,
                           scale_fn=lambda x: 1 / (1 + x), mode="ignored"),
    "scale_fn_iterations": dict(base_lr=0.01, max_lr=0.1, step_size_up=3,
                                scale_fn=lambda x: 0.97**x, scale_mode="iterations"),
    "scale_fn_object": dict(base_lr=0.02, max_lr=0.1, step_size_up=2, scale_fn=_Halving()),
    "no_momentum_cycle": dict(base_lr=0.01, max_lr=0.1, step_size_up=4, cycle_momentum=False),
    "odd_sizes": dict(base_lr=0.3, max_lr=0.7, step_size_up=7, step_size_down=1,
                      base_momentum=0.5, max_momentum=0.99),
}


def _cyclic_run(lib, config, optimizer_name="SGD", steps=30, before=None):
    p, q = lib.ones(2, requires_grad=True), lib.ones(1, requires_grad=True)
    extra = {"momentum": 0.9} if optimizer_name in ("SGD", "RMSprop") else {}
    opt = getattr(lib.optim, optimizer_name)([{"params": [p]}, {"params": [q], "lr": 0.3}],
                                             lr=0.1, **extra)
    if before is not None:
        before(lib, opt)
    kwargs = dict(CYCLIC[config])
    if isinstance(kwargs.get("scale_fn"), _Halving):
        kwargs["scale_fn"] = _Halving()  # one per run, so calls are counted per library
    sched = lib.optim.lr_scheduler.CyclicLR(opt, **kwargs)
    history = [list(sched.get_last_lr()), [g.get("momentum", g.get("betas"))
                                           for g in opt.param_groups]]
    history += _rates(opt, sched, steps)
    fn = kwargs.get("scale_fn")
    return history, getattr(fn, "calls", None), _plain(sched.state_dict())


@pytest.mark.parametrize("config", sorted(CYCLIC))
def test_cyclic_lr_matches_torch_exactly(config):
    """Learning rates, momenta, scale-function calls and state dicts equal torch's."""
    assert _cyclic_run(ember, config) == _cyclic_run(torch, config)


@pytest.mark.parametrize("optimizer_name", ["Adam", "AdamW", "NAdam", "RMSprop"])
@pytest.mark.parametrize("config", ["triangular_per_group", "exp_range"])
def test_cyclic_lr_cycles_beta1_or_momentum_as_torch(optimizer_name, config):
    assert (_cyclic_run(ember, config, optimizer_name)
            == _cyclic_run(torch, config, optimizer_name))


@pytest.mark.parametrize("optimizer_name", ["Adagrad", "Adadelta", "Adamax"])
def test_cyclic_lr_without_momentum_cycling(optimizer_name):
    """Optimizers with neither momentum nor betas work with cycle_momentum=False (only)."""
    assert (_cyclic_run(ember, "no_momentum_cycle", optimizer_name)
            == _cyclic_run(torch, "no_momentum_cycle", optimizer_name))


def test_cyclic_lr_after_another_scheduler_starts_as_torch():
    """A scheduler made earlier leaves ``initial_lr`` in the groups; torch's first CyclicLR
    rate comes from it, later ones from base_lr: ember's too."""

    def before(lib, opt):
        lib.optim.lr_scheduler.StepLR(opt, 2)
        for group in opt.param_groups:
            group["initial_lr"] = 0.5

    assert (_cyclic_run(ember, "triangular", before=before)
            == _cyclic_run(torch, "triangular", before=before))


def test_cyclic_lr_step_with_epoch_warnings_and_resume():
    def program(lib):
        S = lib.optim.lr_scheduler
        opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1, momentum=0.9)
        sched = S.CyclicLR(opt, 0.01, 0.1, step_size_up=3, mode="triangular2")
        out = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched.step()  # before optimizer.step(): warns
            opt.step()
            sched.step(7)  # deprecated epoch argument: no closed form, get_lr at epoch 7
            sched.step()
            out.append((sched.get_lr(), sched.get_last_lr(), opt.param_groups[0]["momentum"]))
        out.append([str(w.message) for w in caught])
        # resume: a new scheduler with last_epoch continues the same cycle
        resumed = S.CyclicLR(opt, 0.01, 0.1, step_size_up=3, mode="triangular2",
                             last_epoch=sched.last_epoch)
        for _ in range(8):
            opt.step()
            sched.step()
            resumed.step()
            out.append((resumed.get_last_lr(), opt.param_groups[0]["momentum"]))
        return out

    assert program(ember) == program(torch)


@pytest.mark.parametrize("config", ["exp_range", "scale_fn_object", "triangular_per_group"])
@pytest.mark.parametrize("source,target", [("torch", "ember"), ("ember", "torch")])
def test_cyclic_lr_state_dict_crosses_over_and_resumes_exactly(config, source, target):
    """A CyclicLR saved part-way in one library loads into a differently built one of the
    other library (the custom scale object's state included) and goes on as the original."""
    libs = {"torch": torch, "ember": ember}

    def build(lib, kwargs):
        p, q = lib.ones(2, requires_grad=True), lib.ones(1, requires_grad=True)
        opt = lib.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.3}], lr=0.1,
                            momentum=0.9)
        kwargs = dict(kwargs)
        if "scale_fn" in kwargs:
            kwargs["scale_fn"] = _Halving()
        return opt, lib.optim.lr_scheduler.CyclicLR(opt, **kwargs)

    opt, sched = build(libs[source], CYCLIC[config])
    if config == "scale_fn_object":
        sched._scale_fn_custom.base = 0.75
    _rates(opt, sched, 9)
    saved_sched, saved_opt = sched.state_dict(), _convert(opt.state_dict(), libs[target])
    expected = _rates(opt, sched, 12)
    other = dict(CYCLIC["triangular"], mode="triangular2")
    if config == "scale_fn_object":
        other["scale_fn"] = _Halving()
    new_opt, new_sched = build(libs[target], other)
    new_sched.load_state_dict(saved_sched)
    new_opt.load_state_dict(saved_opt)
    assert _rates(new_opt, new_sched, 12) == expected


def _cyclic(lib, optimizer="SGD", **kwargs):
    extra = {"momentum": 0.9} if optimizer == "SGD" else {}
    opt = getattr(lib.optim, optimizer)([lib.ones(1, requires_grad=True)], lr=0.1, **extra)
    return lib.optim.lr_scheduler.CyclicLR(opt, **kwargs)


MISUSE.update({
    "cyclic not an optimizer": lambda lib: lib.optim.lr_scheduler.CyclicLR(object(), 0.1, 1.0),
    "cyclic mode": lambda lib: _cyclic(lib, base_lr=0.01, max_lr=0.1, mode="square"),
    "cyclic no momentum": lambda lib: _cyclic(lib, "Adagrad", base_lr=0.01, max_lr=0.1),
    "cyclic base_lr list": lambda lib: _cyclic(lib, base_lr=[0.01, 0.02], max_lr=0.1),
    "cyclic max_lr list": lambda lib: _cyclic(lib, base_lr=0.01, max_lr=(0.1, 0.2)),
    "cyclic momentum list": lambda lib: _cyclic(lib, base_lr=0.01, max_lr=0.1,
                                                base_momentum=[0.8, 0.85]),
    "cyclic resume without initial_lr": lambda lib: _cyclic(lib, base_lr=0.01, max_lr=0.1,
                                                            last_epoch=4),
})


@pytest.mark.parametrize("name", sorted(k for k in MISUSE if k.startswith("cyclic")))
def test_cyclic_lr_misuse_raises_as_torch(name):
    test_misuse_raises_as_torch(name)
