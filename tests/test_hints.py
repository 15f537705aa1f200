"""Autograd errors keep torch's first line, then add ``ember hint:`` lines; errors about a
graph node name the line of the test that created the node."""

from __future__ import annotations

import inspect

import pytest

import ember
from oracle import torch


def backward_twice(lib):
    x = lib.ones(3, requires_grad=True)
    y = (x * x).sum()  # SITE: MulBackward0
    y.backward()
    y.backward()


def modified_in_place(lib):
    a = lib.ones(3, requires_grad=True)
    b = a * 2
    c = b.sin()  # SITE: SinBackward0
    b.add_(1)
    c.sum().backward()


def leaf_in_place(lib):
    w = lib.ones(3, requires_grad=True)
    w.sub_(1)


def view_of_leaf_in_place(lib):
    w = lib.ones(2, 2, requires_grad=True)
    w[0].mul_(2)


def non_scalar(lib):
    x = lib.ones(3, requires_grad=True)
    (x * 2).backward()  # SITE: The output (shape [3], MulBackward0)


def no_grad_fn(lib):
    lib.ones(3).sum().backward()


def nan_in_anomaly_mode(lib):
    x = lib.zeros(2, requires_grad=True)
    with lib.autograd.detect_anomaly():
        y = x.sqrt()  # SITE: SqrtBackward0
        (y * 0).sum().backward()


def custom_function_backward_twice(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * grad

    x = lib.ones(3, requires_grad=True)
    y = Cube.apply(x).sum()  # SITE: CubeBackward
    y.backward()
    y.backward()


CASES = [backward_twice, modified_in_place, leaf_in_place, view_of_leaf_in_place, non_scalar,
         no_grad_fn, nan_in_anomaly_mode, custom_function_backward_twice]


def message(program, lib) -> str:
    with pytest.raises(RuntimeError) as caught:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program(lib)
    return str(caught.value)


@pytest.mark.parametrize("program", CASES, ids=lambda p: p.__name__)
def test_first_line_is_torchs_then_an_ember_hint(program):
    ours, theirs = message(program, ember), message(program, torch)
    assert ours.splitlines()[0] == theirs.splitlines()[0]
    hints = [line for line in ours.splitlines() if line.startswith("ember hint: ")]
    assert hints, ours
    assert not any(line.startswith("ember hint") for line in theirs.splitlines())


@pytest.mark.parametrize("program", [backward_twice, modified_in_place, nan_in_anomaly_mode,
                                     non_scalar, custom_function_backward_twice],
                         ids=lambda p: p.__name__)
def test_node_errors_point_at_the_line_that_created_the_node(program):
    source, first = inspect.getsourcelines(program)
    offset, node = next((i, line.split("SITE: ")[1].strip()) for i, line in enumerate(source)
                        if "SITE:" in line)
    node, _, function = node.partition(" in ")  # "in <function>" when not the program itself
    ours = message(program, ember)
    assert (f"ember hint: {node} was created at {__file__}:{first + offset} "
            f"(in {function or program.__name__})") in ours.splitlines()


def test_site_is_right_after_the_same_node_was_made_deeper_inside_ember():
    from ember._hints import creation_site

    x = ember.ones(2, 3, requires_grad=True)
    ember.nn.functional.gelu(x).sum()  # MulBackward0 & co. made inside a composite op
    y = (x * x).sum()
    line = inspect.currentframe().f_lineno - 1
    assert creation_site(y.grad_fn.next_functions[0][0]) == (
        f"{__file__}:{line} (in test_site_is_right_after_the_same_node_was_made_deeper_inside"
        "_ember)")


def backward_twice_through_a_composite_op(lib):
    x = lib.ones(2, 3, requires_grad=True)
    y = lib.nn.functional.normalize(x)  # SITE: DivBackward0
    y.sum().backward()
    y.sum().backward()


def modified_in_place_inside_a_helper(lib):
    def square(t):
        return t * t  # SITE: MulBackward0 in square

    a = lib.ones(3, requires_grad=True)
    b = a + 0
    c = square(b)
    b.add_(1)  # MulBackward0 saved b
    c.sum().backward()


@pytest.mark.parametrize("program", [backward_twice_through_a_composite_op,
                                     modified_in_place_inside_a_helper],
                         ids=lambda p: p.__name__)
def test_node_made_inside_a_composite_op_or_a_users_helper(program):
    test_first_line_is_torchs_then_an_ember_hint(program)
    test_node_errors_point_at_the_line_that_created_the_node(program)


class UserTanh(ember.nn.Module):
    """A user's module: ember calls its forward back (through Module.__call__ and, here,
    Sequential.forward), as deep as it calls its own Tanh module's forward."""

    def forward(self, x):
        return x.tanh()  # the line its TanhBackward0 must name


def test_node_made_in_user_code_that_ember_calls_back_points_inside_it():
    from ember._hints import creation_site

    forward_line = inspect.getsourcelines(UserTanh.forward)[1] + 1
    model = ember.nn.Sequential(ember.nn.Tanh(), UserTanh())
    for _ in range(2):  # the second time with everything seen before
        y = model(ember.ones(1, 2, requires_grad=True))
        call_line = inspect.currentframe().f_lineno - 1
        own = y.grad_fn
        ours = own.next_functions[0][0]
        assert creation_site(own) == f"{__file__}:{forward_line} (in forward)"
        assert creation_site(ours) == (
            f"{__file__}:{call_line} (in "
            "test_node_made_in_user_code_that_ember_calls_back_points_inside_it)")
    y.mul_(2)  # TanhBackward0 saved its result
    with pytest.raises(RuntimeError) as caught:
        y.sum().backward()
    assert f"ember hint: TanhBackward0 was created at {__file__}:{forward_line} (in forward)" \
        in str(caught.value).splitlines()


def test_node_made_at_the_top_level_of_a_module_points_at_its_line(tmp_path):
    import runpy

    script = tmp_path / "user_script.py"
    script.write_text("import ember\n"
                      "x = ember.ones(3, requires_grad=True)\n"
                      "y = x.exp()\n"
                      "z = (y *\n"
                      "     x).sum()\n")
    names = runpy.run_path(str(script))
    from ember._hints import creation_site

    assert creation_site(names["y"].grad_fn) == f"{script}:3 (in <module>)"
    assert creation_site(names["z"].grad_fn.next_functions[0][0]) == (
        f"{script}:4 (in <module>)")  # the multiplication starts on line 4


def test_a_node_made_with_no_users_line_below_it_has_no_site():
    """Ops started by C code at the bottom of a thread (no Python frame of the user's)."""
    import _thread
    import itertools
    import time

    from ember._hints import creation_site

    x = ember.ones(2, requires_grad=True)
    made = []
    for op in (x.sum, x.exp):  # new_node called by the op / through a helper of the op
        _thread.start_new_thread(made.extend, (itertools.starmap(op, [()]),))
    deadline = time.monotonic() + 30
    while len(made) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(t.grad_fn.name() for t in made) == ["ExpBackward0", "SumBackward0"]
    assert [creation_site(t.grad_fn) for t in made] == [None, None]
    x.exp().sum().backward()  # and later nodes are recorded as usual


def test_both_nodes_of_a_two_node_op_name_the_users_line():
    """linear (TBackward0 + AddmmBackward0) and cross_entropy (LogSoftmaxBackward0 +
    NllLossBackward0) look the site up once and share it between their nodes."""
    from ember._hints import creation_site

    x = ember.ones(4, 3, requires_grad=True)
    w = ember.ones(2, 3, requires_grad=True)
    b = ember.zeros(2, requires_grad=True)
    out = ember.nn.functional.linear(x, w, b)
    linear_line = inspect.currentframe().f_lineno - 1
    loss = ember.nn.functional.cross_entropy(out, ember.tensor([0, 1, 1, 0]))
    loss_line = inspect.currentframe().f_lineno - 1
    here = f"(in {inspect.currentframe().f_code.co_name})"
    addmm = out.grad_fn
    transpose = addmm.next_functions[2][0]
    assert (addmm.name(), transpose.name()) == ("AddmmBackward0", "TBackward0")
    for node in (addmm, transpose):
        assert creation_site(node) == f"{__file__}:{linear_line} {here}"
    nll = loss.grad_fn
    log_softmax = nll.next_functions[0][0]
    assert (nll.name(), log_softmax.name()) == ("NllLossBackward0", "LogSoftmaxBackward0")
    for node in (nll, log_softmax):
        assert creation_site(node) == f"{__file__}:{loss_line} {here}"
    with ember.no_grad():  # no graph: no weight.t() view is made
        assert ember.nn.functional.linear(x, w, b).grad_fn is None
