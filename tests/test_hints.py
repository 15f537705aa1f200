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


CASES = [backward_twice, modified_in_place, leaf_in_place, view_of_leaf_in_place, non_scalar,
         no_grad_fn, nan_in_anomaly_mode]


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
                                     non_scalar],
                         ids=lambda p: p.__name__)
def test_node_errors_point_at_the_line_that_created_the_node(program):
    source, first = inspect.getsourcelines(program)
    offset, node = next((i, line.split("SITE: ")[1].strip()) for i, line in enumerate(source)
                        if "SITE:" in line)
    ours = message(program, ember)
    assert (f"ember hint: {node} was created at {__file__}:{first + offset} "
            f"(in {program.__name__})") in ours.splitlines()


def test_site_is_right_after_the_same_node_was_made_deeper_inside_ember():
    from ember._hints import creation_site

    x = ember.ones(2, 3, requires_grad=True)
    ember.nn.functional.gelu(x).sum()  # MulBackward0 & co. made inside a composite op
    y = (x * x).sum()
    line = inspect.currentframe().f_lineno - 1
    assert creation_site(y.grad_fn.next_functions[0][0]) == (
        f"{__file__}:{line} (in test_site_is_right_after_the_same_node_was_made_deeper_inside"
        "_ember)")
