"""Optimizers against torch: the same problem, the same start, 100 steps, the same path."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from oracle import torch

CONFIGS = {
    "SGD": [{"lr": 0.05}, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
            {"lr": 0.05, "momentum": 0.5, "dampening": 0.1, "maximize": True}],
    "Adam": [{}, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1},
             {"lr": 0.01, "betas": (0.8, 0.9), "maximize": True},
             {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.5}],
    "AdamW": [{}, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.3},
              {"lr": 0.01, "amsgrad": True, "maximize": True}],
    "RMSprop": [{}, {"lr": 0.001, "momentum": 0.9, "centered": True, "weight_decay": 0.1},
                {"lr": 0.003, "alpha": 0.9, "maximize": True},
                {"lr": 0.002, "centered": True, "eps": 1e-4}],
    "Adagrad": [{}, {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.1,
                     "initial_accumulator_value": 0.1},
                {"lr": 0.05, "maximize": True, "eps": 1e-6}],
    "Adadelta": [{}, {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1, "maximize": True}],
    "Adamax": [{}, {"lr": 0.01, "betas": (0.9, 0.99), "weight_decay": 0.1},
               {"lr": 0.01, "maximize": True}],
    "NAdam": [{}, {"lr": 0.01, "weight_decay": 0.1, "momentum_decay": 0.01},
              {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
              {"lr": 0.01, "maximize": True}],
    "RAdam": [{}, {"lr": 0.01, "weight_decay": 0.1},
              {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
              {"lr": 0.01, "maximize": True}],
}
CASES = [(name, i) for name, configs in CONFIGS.items() for i in range(len(configs))]

RNG = np.random.default_rng(0)
X = RNG.standard_normal((16, 5)).astype(np.float32)
Y = RNG.standard_normal((16, 3)).astype(np.float32)
W0 = (RNG.standard_normal((5, 3)) * 0.5).astype(np.float32)
B0 = (RNG.standard_normal(3) * 0.1).astype(np.float32)


def trajectory(lib, name, config, steps=100, dtype="float32"):
    w = lib.tensor(W0.astype(dtype), requires_grad=True)
    b = lib.tensor(B0.astype(dtype), requires_grad=True)
    x, y = lib.tensor(X.astype(dtype)), lib.tensor(Y.astype(dtype))
    optimizer = getattr(lib.optim, name)([{"params": [w]}, {"params": [b]}], **config)
    path = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ((lib.tanh(x @ w + b) - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        path.append(np.concatenate([w.detach().numpy().ravel(), b.detach().numpy().ravel()]))
    return np.array(path), optimizer


@pytest.mark.parametrize("name,index", CASES)
def test_trajectory_matches_torch(name, index):
    config = CONFIGS[name][index]
    ours, e_opt = trajectory(ember, name, config)
    theirs, t_opt = trajectory(torch, name, config)
    np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-6)
    ours64, _ = trajectory(ember, name, config, dtype="float64")
    theirs64, _ = trajectory(torch, name, config, dtype="float64")
    np.testing.assert_allclose(ours64, theirs64, rtol=1e-10, atol=1e-12)
    # the same state, under the same names, and the same repr
    e_state, t_state = e_opt.state_dict(), t_opt.state_dict()
    assert e_state["param_groups"] == t_state["param_groups"]
    for key in t_state["state"]:
        assert list(e_state["state"][key]) == list(t_state["state"][key])
        for field, value in t_state["state"][key].items():
            mine = e_state["state"][key][field]
            assert str(mine.dtype).split(".")[-1] == str(value.dtype).split(".")[-1]
            np.testing.assert_allclose(mine.numpy(), value.numpy(), rtol=1e-4, atol=1e-6)
    assert repr(e_opt) == repr(t_opt)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_load_state_dict_continues_the_path(name):
    config = CONFIGS[name][-1]
    full, _ = trajectory(ember, name, config, steps=20)
    first, optimizer = trajectory(ember, name, config, steps=10)
    saved = optimizer.state_dict()
    # a fresh optimizer over parameters at step 10, given the saved state, continues the path
    w = ember.tensor(first[-1][:15].reshape(5, 3), requires_grad=True)
    b = ember.tensor(first[-1][15:], requires_grad=True)
    resumed = getattr(ember.optim, name)([{"params": [w]}, {"params": [b]}], **config)
    resumed.load_state_dict(saved)
    x, y = ember.tensor(X), ember.tensor(Y)
    for step in range(10):
        resumed.zero_grad()
        ((ember.tanh(x @ w + b) - y) ** 2).mean().backward()
        resumed.step()
        got = np.concatenate([w.detach().numpy().ravel(), b.detach().numpy().ravel()])
        np.testing.assert_allclose(got, full[10 + step], rtol=1e-6, atol=1e-7)


def grouped_path(lib, name, config, steps=100, dtype="float32"):
    """Per-group hyper-parameters, and a group added part-way with add_param_group."""
    w = lib.tensor(W0.astype(dtype), requires_grad=True)
    b = lib.tensor(B0.astype(dtype), requires_grad=True)
    x, y = lib.tensor(X.astype(dtype)), lib.tensor(Y.astype(dtype))
    lr = config.get("lr", 0.01)
    optimizer = getattr(lib.optim, name)([{"params": [w], "lr": lr * 3, "weight_decay": 0.2}],
                                         **config)
    path = []
    for step in range(steps):
        if step == 10:
            optimizer.add_param_group({"params": b, "maximize": True})
        optimizer.zero_grad()
        ((lib.tanh(x @ w + b) - y) ** 2).mean().backward()
        optimizer.step()
        path.append(np.concatenate([w.detach().numpy().ravel(), b.detach().numpy().ravel()]))
    return np.array(path), optimizer


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_param_groups_and_add_param_group_match_torch(name):
    config = CONFIGS[name][1]
    ours, e_opt = grouped_path(ember, name, config)
    theirs, t_opt = grouped_path(torch, name, config)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=2e-6)  # float32 rounding drifts
    ours64, _ = grouped_path(ember, name, config, dtype="float64")
    theirs64, _ = grouped_path(torch, name, config, dtype="float64")
    np.testing.assert_allclose(ours64, theirs64, rtol=1e-10, atol=1e-12)
    assert e_opt.state_dict()["param_groups"] == t_opt.state_dict()["param_groups"]
    assert repr(e_opt) == repr(t_opt)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_torch_optimizer_state_continues_in_ember(name):
    """torch's optimizer state (converted tensor by tensor) resumes torch's path in ember."""
    config = CONFIGS[name][-1]
    full, _ = trajectory(torch, name, config, steps=20)
    first, t_opt = trajectory(torch, name, config, steps=10)
    saved = t_opt.state_dict()
    state = {k: {f: ember.tensor(v.numpy()) if isinstance(v, torch.Tensor) else v
                 for f, v in fields.items()} for k, fields in saved["state"].items()}
    w = ember.tensor(first[-1][:15].reshape(5, 3), requires_grad=True)
    b = ember.tensor(first[-1][15:], requires_grad=True)
    resumed = getattr(ember.optim, name)([{"params": [w]}, {"params": [b]}], **config)
    resumed.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
    x, y = ember.tensor(X), ember.tensor(Y)
    for step in range(10):
        resumed.zero_grad()
        ((ember.tanh(x @ w + b) - y) ** 2).mean().backward()
        resumed.step()
        got = np.concatenate([w.detach().numpy().ravel(), b.detach().numpy().ravel()])
        np.testing.assert_allclose(got, full[10 + step], rtol=2e-5, atol=2e-6)


BAD = [
    ("Adam", {"lr": -1.0}), ("Adam", {"betas": (1.0, 0.9)}), ("Adam", {"betas": (0.9, -0.1)}),
    ("Adam", {"eps": -1.0}), ("Adam", {"weight_decay": -1.0}), ("AdamW", {"lr": -0.1}),
    ("RMSprop", {"alpha": -1.0}), ("RMSprop", {"momentum": -1.0}),
    ("Adagrad", {"lr_decay": -1.0}), ("Adagrad", {"initial_accumulator_value": -1.0}),
    ("Adadelta", {"rho": 1.5}), ("Adamax", {"betas": (0.9, 1.0)}),
    ("NAdam", {"momentum_decay": -1.0}), ("RAdam", {"eps": -1.0}),
]


@pytest.mark.parametrize("name,kwargs", BAD)
def test_invalid_hyperparameters_raise_as_torch(name, kwargs):
    def outcome(lib):
        try:
            getattr(lib.optim, name)([lib.ones(2, requires_grad=True)], **kwargs)
        except Exception as e:  # noqa: BLE001 - compared with torch's
            return type(e).__name__, str(e)
        return None

    assert outcome(ember) == outcome(torch) is not None


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_step_bumps_the_version_and_skips_params_without_grad(name):
    w = ember.ones(3, requires_grad=True)
    unused = ember.ones(2, requires_grad=True)
    optimizer = getattr(ember.optim, name)([w, unused], lr=0.1)
    (w * w).sum().backward()
    before = w._version
    optimizer.step()
    assert w._version > before
    assert unused.tolist() == [1.0, 1.0]


def lbfgs_path(lib, dtype, **config):
    """L-BFGS on a regularised logistic regression (smooth and convex, so rounding
    differences stay small), five outer steps."""
    rng = np.random.default_rng(3)
    a = lib.tensor(rng.standard_normal((20, 4)).astype(dtype))
    labels = lib.tensor((rng.random(20) < 0.5).astype(dtype))
    x = lib.tensor(np.array([1.5, -2.0, 0.5, 3.0], dtype=dtype), requires_grad=True)
    optimizer = lib.optim.LBFGS([x], **config)
    evaluations = []

    def closure():
        optimizer.zero_grad()
        z = a @ x
        loss = (lib.log(1 + lib.exp(z)) - labels * z).mean() + 0.05 * (x * x).sum()
        loss.backward()
        evaluations.append(loss.item())
        return loss

    path = []
    for _ in range(5):
        optimizer.step(closure)
        path.append(x.detach().numpy().copy())
    return np.array(path), evaluations


@pytest.mark.parametrize("config", [{}, {"line_search_fn": "strong_wolfe"},
                                    {"lr": 0.5, "history_size": 3, "max_iter": 7},
                                    {"line_search_fn": "strong_wolfe", "history_size": 2}])
def test_lbfgs_matches_torch(config):
    for dtype, rtol in (("float64", 1e-9), ("float32", 1e-4)):
        ours, our_evals = lbfgs_path(ember, dtype, **config)
        theirs, their_evals = lbfgs_path(torch, dtype, **config)
        if dtype == "float64":  # in float32 the stopping tests (|loss change| < 1e-9) see
            # last-bit differences of the loss, so the number of evaluations may differ
            assert len(our_evals) == len(their_evals)
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol)


def test_lbfgs_rejects_groups_and_unknown_line_searches():
    def outcome(lib, make):
        try:
            make(lib)
        except Exception as e:  # noqa: BLE001 - compared with torch's
            return type(e).__name__, str(e)
        return None

    two_groups = lambda lib: lib.optim.LBFGS([{"params": [lib.ones(1, requires_grad=True)]},  # noqa: E731
                                              {"params": [lib.ones(1, requires_grad=True)]}])

    def bad_search(lib):
        x = lib.ones(1, requires_grad=True)
        opt = lib.optim.LBFGS([x], line_search_fn="armijo")
        opt.step(lambda: (x * x).sum().backward() or (x * x).sum())

    for make in (two_groups, bad_search):
        assert outcome(ember, make) == outcome(torch, make) is not None


def test_param_group_checks_and_named_parameters_as_torch():
    """add_param_group's checks and messages, named parameters (param_names in the state),
    and load_state_dict's group-size check and dtype cast, compared with torch's."""
    import warnings

    from differential import check

    def program(lib):
        out = []
        w = lib.ones(2, requires_grad=True)
        for action in (lambda: lib.optim.Adam([w]).add_param_group([w]),
                       lambda: lib.optim.Adam({w}),
                       lambda: lib.optim.Adam([w, w]),
                       lambda: lib.optim.Adam(w),
                       lambda: lib.optim.Adam(lib.ones(2, dtype=lib.float64)),
                       lambda: lib.optim.Adam([("a", w), lib.ones(1, requires_grad=True)]),
                       lambda: lib.optim.Adam([("a", w)]).add_param_group(
                           {"params": [lib.ones(1, requires_grad=True)]}),
                       lambda: lib.optim.Adam([w]).load_state_dict(
                           {"state": {}, "param_groups": [{"params": [0, 1]}]})):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    action()
                    out.append("ok")
                except Exception as e:  # noqa: BLE001 - the error is the result
                    out.append((type(e).__name__, str(e)))
            out.append([str(c.message) for c in caught])
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Linear(3, 2), lib.nn.Tanh(), lib.nn.Linear(2, 1))
        opt = lib.optim.Adam(model.named_parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            model(lib.ones(4, 3)).pow(2).sum().backward()
            opt.step()
        state = opt.state_dict()
        out += [state["param_groups"], list(model.parameters()), repr(opt),
                type(opt.state).__name__, opt.state[lib.ones(1)]]
        # a float32 optimizer's state loads into a float64 model's optimizer, cast
        double = lib.nn.Sequential(lib.nn.Linear(3, 2), lib.nn.Tanh(),
                                   lib.nn.Linear(2, 1)).double()
        opt64 = lib.optim.Adam(double.named_parameters(), lr=0.1)
        opt64.load_state_dict(state)
        first = next(iter(double.parameters()))
        out.append({k: str(v.dtype) for k, v in opt64.state[first].items()})
        return out

    check(program)


# --- hooks -------------------------------------------------------------------------------------

HOOKED = [(name, CONFIGS[name][-1]) for name in sorted(CONFIGS)] + [
    ("LBFGS", {"max_iter": 3}), ("LBFGS", {"line_search_fn": "strong_wolfe", "max_iter": 4})]


def _optimizer_module(lib):
    import importlib

    return importlib.import_module(lib.__name__ + ".optim.optimizer")


def _no_address(text: str) -> str:
    import re

    return re.sub(r"0x[0-9a-f]+", "0x?", text)


def hooked_steps(lib, name, config):
    """Every kind of step hook, recorded as it runs around steps (and the closure calls of
    one step): order, what the hooks are given, grad mode inside them, what step returns."""
    log = []
    w = lib.tensor(W0, requires_grad=True)
    b = lib.tensor(B0, requires_grad=True)
    x, y = lib.tensor(X), lib.tensor(Y)
    opt = getattr(lib.optim, name)([w, b], **config)

    def closure():
        opt.zero_grad()
        loss = ((lib.tanh(x @ w + b) - y) ** 2).mean()
        loss.backward()
        log.append(("closure", lib.is_grad_enabled()))
        return loss

    def seen(tag):
        def hook(optimizer, args, kwargs):
            log.append((tag, optimizer is opt, args[0] is opt, len(args), sorted(kwargs),
                        lib.is_grad_enabled()))
        return hook

    module = _optimizer_module(lib)
    handles = [module.register_optimizer_step_post_hook(seen("global post")),
               opt.register_step_post_hook(seen("post 1")),
               opt.register_step_pre_hook(seen("pre 1")),
               module.register_optimizer_step_pre_hook(seen("global pre")),
               opt.register_step_pre_hook(seen("pre 2")),
               opt.register_step_post_hook(seen("post 2"))]
    try:
        loss = opt.step(closure)
        log.append(("returned", round(loss.item(), 5)))
        loss = opt.step(closure=closure)
        log.append(("returned", round(loss.item(), 5)))
        if name != "LBFGS":  # LBFGS needs its closure
            closure()
            log.append(("returned", opt.step()))
        # a pre-hook may replace the arguments: here it swaps in another closure
        swapped = opt.register_step_pre_hook(
            lambda optimizer, args, kwargs: ((optimizer, lambda: log.append("swapped")
                                              or closure()), {}))
        log.append(("returned", round(opt.step(closure).item(), 5)))
        swapped.remove()
        # anything else than None or a pair is an error that names the step function
        bad = opt.register_step_pre_hook(lambda optimizer, args, kwargs: [args, kwargs])
        try:
            opt.step(closure)
        except RuntimeError as e:
            log.append(("error", _no_address(str(e))))
        bad.remove()
    finally:
        for handle in handles:
            handle.remove()
    log.append(("no hooks", round(opt.step(closure).item(), 5)))
    return log, [w.detach().numpy().copy(), b.detach().numpy().copy()]


@pytest.mark.parametrize("name,config", HOOKED, ids=[f"{n}-{i}" for i, (n, _) in
                                                     enumerate(HOOKED)])
def test_step_hooks_run_as_torch_runs_them(name, config):
    (ours, our_params), (theirs, their_params) = (hooked_steps(ember, name, config),
                                                  hooked_steps(torch, name, config))
    assert ours == theirs
    assert any(entry[0] == "error" for entry in ours)
    for mine, want in zip(our_params, their_params):
        np.testing.assert_allclose(mine, want, rtol=1e-4, atol=1e-5)


def test_plain_sgd_step_runs_hooks_and_a_removed_hook_is_gone():
    """SGD's plain path (no momentum, no decay) runs the hooks too; a pre-hook's new kwargs
    reach step; removing a handle twice is harmless."""

    def program(lib):
        log = []
        p = lib.ones(3, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.5)
        p.grad = lib.full((3,), 2.0)
        h1 = opt.register_step_pre_hook(lambda o, a, k: log.append(("pre", p.tolist())))
        h2 = opt.register_step_post_hook(lambda o, a, k: log.append(("post", p.tolist())))
        h3 = opt.register_step_pre_hook(lambda o, a, k: (a, {"closure": lambda: 7.0}))
        log.append(opt.step())
        h3.remove()
        h1.remove()
        h1.remove()
        log.append(opt.step())
        h2.remove()
        opt.step()
        log.append(p.tolist())
        return log

    assert program(ember) == program(torch)


def test_step_hooks_of_a_user_optimizer_and_a_scheduler_on_it():
    """A user's Optimizer subclass with its own step gets the hooks too (and a scheduler on it
    sees that step ran, so it does not warn)."""
    import warnings

    def program(lib):
        log = []

        class Halve(lib.optim.Optimizer):
            def __init__(self, params, lr=0.5):
                super().__init__(params, {"lr": lr})

            @lib.no_grad()
            def step(self, closure=None):
                log.append(("step", lib.is_grad_enabled()))
                for group in self.param_groups:
                    for p in group["params"]:
                        p.mul_(group["lr"])

        p = lib.ones(2, requires_grad=True)
        opt = Halve([p])
        opt.register_step_pre_hook(lambda o, a, k: log.append(("pre", len(a),
                                                               lib.is_grad_enabled())))
        opt.register_step_post_hook(lambda o, a, k: log.append(("post", len(a))))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched = lib.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
            opt.step()
            sched.step()
            opt.step()
        log += [p.tolist(), [str(w.message) for w in caught]]
        return log

    assert program(ember) == program(torch)


def test_state_dict_hooks_as_torch():
    """state_dict's pre-hooks see the optimizer, post-hooks the packed dict (a returned dict
    replaces it); ``prepend`` puts a hook first; handles remove them."""

    def program(lib):
        log = []
        p = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1, momentum=0.9)
        p.grad = lib.ones(2)
        opt.step()
        handles = [
            opt.register_state_dict_pre_hook(lambda o: log.append("pre a")),
            opt.register_state_dict_pre_hook(lambda o: log.append("pre b"), prepend=True),
            opt.register_state_dict_post_hook(
                lambda o, sd: log.append(("post a", sorted(sd), sd["param_groups"][0]["lr"]))),
            opt.register_state_dict_post_hook(
                lambda o, sd: log.append(("post b", sd.get("extra"))) or {**sd, "extra": 1}),
            opt.register_state_dict_post_hook(
                lambda o, sd: log.append(("post c", sd.get("extra"))), prepend=True),
            opt.register_state_dict_post_hook(lambda o, sd: log.append(("post d", sorted(sd)))),
        ]
        state = opt.state_dict()
        log.append((sorted(state), sorted(state["state"][0])))
        for handle in handles[::2]:
            handle.remove()
        log.append(sorted(opt.state_dict()))
        return log

    assert program(ember) == program(torch)


def test_load_state_dict_hooks_as_torch():
    """load_state_dict's pre-hooks get a shallow copy they may edit or replace (the caller's
    dict is untouched); post-hooks run after the load, ``prepend`` first."""

    def program(lib):
        log = []
        p = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1, momentum=0.9)
        p.grad = lib.ones(2)
        opt.step()
        saved = opt.state_dict()

        def edit(o, sd):
            log.append(("edit", sorted(sd), o.param_groups[0]["lr"]))
            sd["param_groups"] = [{**g, "lr": 0.25} for g in sd["param_groups"]]

        def replace(o, sd):
            log.append(("replace", sd["param_groups"][0]["lr"]))
            return {"state": {}, "param_groups": [{**sd["param_groups"][0], "momentum": 0.5}]}

        fresh = lib.optim.SGD([p], lr=0.3, momentum=0.1)
        fresh.register_load_state_dict_pre_hook(edit)
        fresh.register_load_state_dict_pre_hook(replace)
        fresh.register_load_state_dict_pre_hook(
            lambda o, sd: log.append(("first", sd["param_groups"][0]["lr"])), prepend=True)
        fresh.register_load_state_dict_post_hook(
            lambda o: log.append(("post a", o.param_groups[0]["lr"], len(o.state))))
        handle = fresh.register_load_state_dict_post_hook(lambda o: log.append("post b"),
                                                          prepend=True)
        fresh.load_state_dict(saved)
        log += [saved["param_groups"][0]["lr"], fresh.param_groups[0]["momentum"]]
        handle.remove()
        fresh.load_state_dict(saved)
        return log

    assert program(ember) == program(torch)


def test_load_state_dict_replaces_the_groups_as_torch():
    """The loaded groups replace the optimizer's: a key the saved group lacks (initial_lr added
    by a scheduler made after saving) is gone, names stay unless the saved group has some; state
    not tied to a parameter is kept; numbering of a repeated parameter as torch's."""
    import warnings

    def program(lib):
        w, b = lib.ones(2, requires_grad=True), lib.ones(1, requires_grad=True)
        opt = lib.optim.SGD([("w", w), ("b", b)], lr=0.1, momentum=0.9)
        saved = opt.state_dict()
        lib.optim.lr_scheduler.StepLR(opt, 2)
        unnamed = {"state": {"extra": {"x": 1}}, "param_groups": [
            {k: v for k, v in g.items() if k != "param_names"} for g in saved["param_groups"]]}
        opt.load_state_dict(unnamed)
        out = [sorted(opt.param_groups[0]), opt.param_groups[0]["param_names"],
               dict(opt.state), opt.state_dict()["state"]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = lib.ones(1, requires_grad=True)
            repeated = lib.optim.SGD([w, b, w], lr=0.1)
            repeated.add_param_group({"params": [c]})
        out.append([g["params"] for g in repeated.state_dict()["param_groups"]])
        return out

    assert program(ember) == program(torch)


def test_copies_of_an_optimizer_leave_its_hooks_behind():
    import copy
    import pickle

    def program(lib):
        log = []
        p = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1)
        opt.register_step_pre_hook(lambda o, a, k: log.append("pre"))
        opt.register_state_dict_pre_hook(lambda o: log.append("sd pre"))
        p.grad = lib.ones(2)
        for other in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):
            other.step()
            other.state_dict()
            log.append(sorted(other.__getstate__()))
        opt.step()
        return log

    assert program(ember) == program(torch)


def test_a_copied_lbfgs_still_steps_like_torchs():
    """A deepcopy keeps only groups and state (as torch's); ember's L-BFGS looks its
    parameters up in the group, so the copy steps on the copied parameters, along torch's
    path. (torch's own copy loses its ``_params`` and cannot step.)"""
    import copy

    def path(lib, copied):
        x = lib.tensor([1.5, -2.0, 0.5], requires_grad=True)
        opt = lib.optim.LBFGS([x], max_iter=4)
        if copied:
            opt = copy.deepcopy(opt)
            x = opt.param_groups[0]["params"][0]

        def closure():
            opt.zero_grad()
            loss = ((x - 1) ** 4).sum() + (x * x).sum()
            loss.backward()
            return loss

        return [opt.step(closure).item() for _ in range(3)] + x.tolist()

    np.testing.assert_allclose(path(ember, True), path(torch, False), rtol=1e-5)
