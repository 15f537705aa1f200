"""Autograd semantics, each program run under torch and ember and compared (differential.py)."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import ember
from differential import check


# ----- requires_grad and leaves ---------------------------------------------------------------
def test_requires_grad_only_for_floating_dtypes_factory():
    check(lambda lib: lib.ones(3, dtype=lib.int64, requires_grad=True))
    check(lambda lib: lib.tensor([1, 2], requires_grad=True))


def test_requires_grad_only_for_floating_dtypes_method():
    check(lambda lib: lib.ones(3, dtype=lib.int64).requires_grad_())


def test_requires_grad_only_for_floating_dtypes_setter():
    def program(lib):
        t = lib.ones(3, dtype=lib.int32)
        t.requires_grad = True

    check(program)


def test_requires_grad_flag_on_non_leaf():
    def program(lib):
        x = lib.ones(2, requires_grad=True)
        y = x * 2
        y.requires_grad = False

    check(program)


def test_leaf_and_grad_fn_names():
    def program(lib):
        x = lib.ones(2, 3, requires_grad=True)
        y = (x * 2 + 1).sum(0)
        return (x.is_leaf, y.is_leaf, y.grad_fn, y.grad_fn.next_functions[0][0],
                y.grad_fn.next_functions[0][0].next_functions[0][0].next_functions)

    check(program)


def test_next_functions_of_accumulate_grad():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        y = x * lib.tensor(2.0)
        (acc, nr), (none, nr2) = y.grad_fn.next_functions
        return acc.name(), nr, none, nr2, acc.variable is x

    check(program)


def test_grad_accumulates_and_zero():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
        first = x.grad.clone()
        (x * x).sum().backward()
        second = x.grad.clone()
        x.grad.zero_()
        return first, second, x.grad

    check(program)


def test_grad_is_not_aliased_to_the_given_gradient():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        g = lib.tensor([1.0, 2.0, 3.0])
        (x + 1).backward(g)
        x.grad.mul_(10)
        return g, x.grad

    check(program)


def test_two_leaves_do_not_share_a_grad_array():
    def program(lib):
        a = lib.ones(2, requires_grad=True)
        b = lib.ones(2, requires_grad=True)
        (a + b).sum().backward()
        a.grad.add_(5)
        return a.grad, b.grad

    check(program)


def test_non_leaf_grad_warns_and_is_none():
    for lib in (ember,):
        x = lib.ones(2, requires_grad=True)
        y = x * 2
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert y.grad is None
        assert caught and "is not a leaf Tensor is being accessed" in str(caught[0].message)


def test_retain_grad():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        y.retain_grad()
        (y * y).sum().backward()
        return y.grad, x.grad, y.retains_grad

    check(program)


# ----- backward arguments and errors ----------------------------------------------------------
def test_implicit_grad_only_for_scalars():
    check(lambda lib: (lib.ones(3, requires_grad=True) * 2).backward())


def test_backward_without_graph():
    check(lambda lib: lib.ones(3).sum().backward())


def test_gradient_shape_mismatch():
    check(lambda lib: (lib.ones(3, requires_grad=True) * 2).backward(lib.ones(2)))


def test_backward_on_leaf_accumulates_ones():
    def program(lib):
        x = lib.tensor(3.0, requires_grad=True)
        x.backward()
        return x.grad

    check(program)


def test_second_backward_raises_when_a_saved_value_was_freed():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        z = (x * 2).sum()
        z.backward()
        z.backward()

    check(program)


def test_second_backward_fine_when_nothing_was_saved():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        z = (x + 2).sum()
        z.backward()
        z.backward()
        return x.grad

    check(program)


def test_retain_graph_allows_second_backward():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        z = (x.exp() * x).sum()
        z.backward(retain_graph=True)
        z.backward()
        return x.grad

    check(program)


def test_backward_inputs_argument():
    def program(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        (a * b).sum().backward(inputs=[a])
        return a.grad, b.grad

    check(program)


def test_create_graph_second_derivative_and_grad_has_history():
    def program(lib):
        x = lib.tensor([0.5, 1.5], requires_grad=True)
        y = (x.sin() * x ** 3).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        return g, h

    check(program)


def test_third_derivative():
    def program(lib):
        x = lib.tensor(0.7, requires_grad=True)
        y = x.exp() * x.tanh()
        (g1,) = lib.autograd.grad(y, x, create_graph=True)
        (g2,) = lib.autograd.grad(g1, x, create_graph=True)
        (g3,) = lib.autograd.grad(g2, x)
        return g1, g2, g3

    check(program)


def test_backward_create_graph_grad_requires_grad():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x ** 3).sum().backward(create_graph=True)
        g = x.grad
        return g.requires_grad, g

    check(program)


# ----- autograd.grad --------------------------------------------------------------------------
def test_grad_unused_input():
    check(lambda lib: lib.autograd.grad((lib.ones(3, requires_grad=True) * 2).sum(),
                                        [lib.ones(3, requires_grad=True),
                                         lib.ones(2, requires_grad=True)]))


def test_grad_allow_unused_and_materialize():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        u = lib.ones(2, requires_grad=True)
        y = (x * 2).sum()
        a = lib.autograd.grad(y, [x, u], allow_unused=True, retain_graph=True)
        b = lib.autograd.grad(y, [x, u], materialize_grads=True)
        return a, b

    check(program)


def test_grad_input_without_requires_grad():
    check(lambda lib: lib.autograd.grad((lib.ones(3, requires_grad=True) * 2).sum(),
                                        [lib.ones(3)]))


def test_grad_does_not_touch_dot_grad():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        g = lib.autograd.grad((x * x).sum(), x)
        return g, x.grad

    check(program)


def test_grad_with_respect_to_non_leaf_and_grad_outputs():
    def program(lib):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        h = x * x
        y = h.sin()
        return lib.autograd.grad(y, [h, x], grad_outputs=lib.tensor([1.0, -1.0, 0.5]))

    check(program)


def test_grad_of_several_outputs_sums():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y1 = (x * x).sum()
        y2 = x.exp().sum()
        return lib.autograd.grad([y1, y2], x)

    check(program)


def test_diamond_graph_sums_incoming_gradients():
    def program(lib):
        x = lib.tensor([1.0, -2.0], requires_grad=True)
        a = x * 3
        b = a.exp() + a.sin() * a
        b.sum().backward()
        return x.grad

    check(program)


# ----- detach, .data and grad modes -----------------------------------------------------------
def test_detach_shares_memory_and_version():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        d = y.detach()
        d.add_(1)
        return y, d, d.requires_grad, y._version, d._version

    check(program)


def test_data_does_not_share_version():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        z = y * y
        y.data.add_(1)
        z.sum().backward()
        return x.grad, y._version

    check(program)


def test_detach_in_place():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        y.detach_()
        return y, y.is_leaf, y.requires_grad

    check(program)


def test_no_grad_context_and_decorator():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        with lib.no_grad():
            a = x * 2

        @lib.no_grad()
        def f(t):
            return t * 2

        @lib.no_grad
        def g(t):
            return t * 2

        with lib.no_grad():
            with lib.enable_grad():
                b = x * 2
        return a.requires_grad, f(x).requires_grad, g(x).requires_grad, b.requires_grad

    check(program)


def test_set_grad_enabled_function_and_context():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        with lib.set_grad_enabled(False):
            a = x * 2
        lib.set_grad_enabled(False)
        b = x * 2
        lib.set_grad_enabled(True)
        c = x * 2
        return a.requires_grad, b.requires_grad, c.requires_grad, lib.is_grad_enabled()

    check(program)


def test_inference_mode():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        with lib.inference_mode():
            a = x * 2
            inside = lib.is_inference_mode_enabled()
        return a.requires_grad, inside, lib.is_inference_mode_enabled()

    check(program)


def test_grad_mode_is_thread_local():
    seen = []

    def worker():
        x = ember.ones(2, requires_grad=True)
        seen.append((x * 2).requires_grad)

    with ember.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen == [True]


# ----- in-place ops and versions --------------------------------------------------------------
def test_inplace_on_leaf_requiring_grad():
    check(lambda lib: lib.ones(3, requires_grad=True).add_(1))


def test_inplace_on_view_of_leaf():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        x[0] = 5

    check(program)


def test_inplace_on_leaf_under_no_grad_is_allowed():
    def program(lib):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        (w * w).sum().backward()
        with lib.no_grad():
            w -= 0.1 * w.grad
        return w, w.requires_grad, w.is_leaf, w._version

    check(program)


def test_modified_saved_tensor_message():
    def program(lib):
        a = lib.ones(3, requires_grad=True)
        b = a + 1
        c = b * b
        b.add_(1)
        c.sum().backward()

    check(program)


@pytest.mark.parametrize("program_text", [
    "y = x * 1; y.exp_(); y.add_(1)",
    "y = x * 1; y.tanh_(); y.sqrt_()",
    "y = x * 1; y.sigmoid_(); y.mul_(2)",
    "y = x * 1; y.exp_()",
    "y = x * 1; v = y[0:1]; v.sigmoid_(); y.mul_(2)",  # named by the view's node
    "y = x * 1; v = y[0:1]; v.exp_(); del v; y.mul_(2)",
    "y = x * 1; v = y[:1]; v.exp_(); z = v * 1",
])
def test_inplace_op_saving_its_result_sees_later_changes(program_text):
    """exp_ and the like save their result, which is the tensor they wrote: a later in-place
    change to it is caught at backward, with torch's message."""
    def program(lib):
        x = lib.ones(2, requires_grad=True)
        scope = {"x": x}
        exec(program_text, scope)
        scope["y"].sum().backward()
        return x.grad

    check(program)


def test_modified_saved_leaf_message():
    def program(lib):
        a = lib.ones(3, requires_grad=True)
        c = a * a
        with lib.no_grad():
            a.add_(1)
        c.sum().backward()

    check(program)


def test_modified_saved_output_message():
    def program(lib):
        a = lib.ones(3, requires_grad=True)
        b = a.exp()
        b.mul_(2)
        b.sum().backward()

    check(program)


def test_modified_view_base_message():
    def program(lib):
        a = lib.ones(3, requires_grad=True)
        b = a * 1
        d = b[0:2]
        e = b * b
        d.mul_(3)
        e.sum().backward()

    check(program)


def test_inplace_on_non_leaf_rebases_history():
    def program(lib):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        y += 1
        y.mul_(y)
        y.sum().backward()
        return y, x.grad, y._version

    check(program)


def test_inplace_through_a_view_gives_copy_slices():
    def program(lib):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 1
        y[1:].mul_(x[:2])
        y.sum().backward()
        return y, x.grad

    check(program)


def test_index_assignment_joins_graph():
    def program(lib):
        x = lib.tensor([[3.0, 4.0]], requires_grad=True)
        y = lib.zeros(1, 2)
        y[0, 0] = x[0, 0] ** 2 + x[0, 1]
        y[0, 1] = x[0, 1] ** 3 + x[0, 0]
        fns = y.grad_fn.next_functions
        (2 * y).backward(lib.tensor([[1.0, 1.0]]))
        return y, x.grad, fns

    check(program)


def test_advanced_index_assignment():
    def program(lib):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = lib.zeros(4)
        y[lib.tensor([0, 2])] = x[:2] * 3
        y.sum().backward()
        return y, x.grad

    check(program)


def test_int_inplace_with_float_result():
    def program(lib):
        t = lib.ones(3, dtype=lib.int64)
        t += 1.5

    check(program)


# ----- the engine at scale --------------------------------------------------------------------
def test_million_op_chain_runs_forward_and_backward():
    """Iterative engine, no recursive teardown: a chain of 1,000,000 ops."""
    x = ember.ones(1, requires_grad=True)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0
    y.backward()
    assert x.grad.tolist() == [1.0]
    del y


def test_saved_values_are_released_after_backward():
    x = ember.ones(3, requires_grad=True)
    y = x.exp()
    node = y.grad_fn
    y.sum().backward()
    assert node.result is None and node._released


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_grad_dtype_follows_leaf(dtype):
    def program(lib):
        x = lib.ones(2, dtype=getattr(lib, dtype), requires_grad=True)
        y = x * lib.tensor([1.0, 2.0], dtype=lib.float64)
        y.sum().backward()
        return x.grad, y

    check(program)


def test_broadcast_gradient_reduced_to_input_shape():
    def program(lib):
        a = lib.ones(3, 1, requires_grad=True)
        b = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        (a * b * 2).sum().backward()
        return a.grad, b.grad

    check(program)


def test_sgd_matches_torch_with_all_options():
    for kwargs in (dict(lr=0.1), dict(lr=0.05, momentum=0.9), dict(lr=0.05, momentum=0.9,
                   nesterov=True), dict(lr=0.01, momentum=0.5, dampening=0.3, weight_decay=0.1),
                   dict(lr=0.01, maximize=True, weight_decay=0.01)):
        def program(lib, kwargs=kwargs):
            w = lib.tensor([1.0, -2.0, 0.5], requires_grad=True)
            opt = lib.optim.SGD([w], **kwargs)
            for _ in range(20):
                opt.zero_grad()
                loss = ((w - 1) ** 2 * lib.tensor([1.0, 2.0, 3.0])).sum()
                loss.backward()
                opt.step()
            return w, loss

        check(program)


def test_sgd_errors():
    check(lambda lib: lib.optim.SGD([], lr=0.1))
    check(lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=-1))
    check(lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=0.1, nesterov=True))


def test_zero_grad_set_to_none_false():
    def program(lib):
        w = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1)
        (w * 2).sum().backward()
        opt.zero_grad(set_to_none=False)
        a = w.grad
        opt.zero_grad()
        return a, w.grad

    check(program)


def test_numpy_of_requires_grad_tensor():
    check(lambda lib: lib.ones(2, requires_grad=True).numpy())


def test_item_and_tolist():
    def program(lib):
        x = lib.tensor([[1.5, 2.0]])
        return x.sum().item(), x.tolist(), x[0, 1].item()

    check(program)
    check(lambda lib: lib.ones(2).item())


def test_from_numpy_shares_memory():
    a = np.zeros(3, dtype=np.float32)
    t = ember.from_numpy(a)
    a[0] = 7
    t[1] = 5
    assert t.tolist() == [7.0, 5.0, 0.0] and a.tolist() == [7.0, 5.0, 0.0]


def test_grad_wrt_non_leaf_does_not_run_or_free_the_nodes_below_it():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x.exp()
        y = (h * 2).sum()
        (g,) = lib.autograd.grad(y, h)
        h.sum().backward()  # ExpBackward0 still has its saved result
        return g, x.grad

    check(program)


def test_formula_namespaces_offer_the_same_names():
    """Every formula runs in both worlds, so ArrayMath and TensorMath must match name for name."""
    from ember.autograd.xp import ARRAY_MATH
    from ember.ops._tensor_math import TENSOR_MATH

    def names(ns):
        return {n for n in dir(type(ns)) if not n.startswith("_")}

    assert names(ARRAY_MATH) == names(TENSOR_MATH)


def test_formula_namespaces_fall_back_to_numpy_and_ember():
    """Names the classes lack come from NumPy and from ember's top-level ops."""
    import numpy as np

    from ember.autograd.xp import ARRAY_MATH
    from ember.ops._tensor_math import TENSOR_MATH

    assert ARRAY_MATH.tanh is np.tanh
    assert TENSOR_MATH.tanh is ember.tanh
    with pytest.raises(AttributeError):
        _ = ARRAY_MATH.no_such_function


def _hooked_midway(lib, where: str):
    """A graph with a shared leaf, a diamond and multi-use inputs, with one hook placed
    after part of the pass has run: the engine's plain loop hands the rest over to the
    general one there. What the hooks see, their order and every .grad must be torch's."""
    seen = []
    w = lib.tensor([0.5, -1.5, 0.25], requires_grad=True)
    b = lib.tensor([0.2, 0.4, 0.6], requires_grad=True)
    a = (w * b).exp()
    left, right = a.sin(), a * w
    mid = left + right
    if where == "retain":
        left.retain_grad()
    elif where == "tensor":
        right.register_hook(lambda g: seen.append(("right", g.clone())) or g * 2)
    elif where == "node":
        mid.grad_fn.register_prehook(lambda gs: seen.append(("mid", gs[0].clone())))
    elif where == "leaf":
        # (one leaf's hooks only: two leaves made ready by one node run in an order that
        # follows torch's tie-breaking in its ready queue, which ember does not copy)
        b.register_hook(lambda g: seen.append(("b", g.clone())))
        b.register_post_accumulate_grad_hook(lambda t: seen.append(("b.grad", t.grad.clone())))
    (mid * mid).sum().backward()
    return w.grad, b.grad, (left.grad if where == "retain" else None), seen


@pytest.mark.parametrize("where", ["none", "retain", "tensor", "node", "leaf"])
def test_a_hook_midway_through_a_pass_behaves_as_torchs(where):
    check(lambda lib: _hooked_midway(lib, where))
