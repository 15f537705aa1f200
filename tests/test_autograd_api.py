"""The torch.autograd API beyond backward/grad: hooks, custom Functions, anomaly mode.

Every program runs under torch and ember (differential.check) and must give the same values,
call orders, exception types and first message lines.
"""

from __future__ import annotations

import gc
import warnings
import weakref

import pytest

import ember
from differential import check


# ----- tensor hooks ---------------------------------------------------------------------------
def test_hook_order_replacement_retain_grad_and_leaf_hooks():
    def program(lib):
        log = []
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        y.register_hook(lambda g: log.append(("h1", g.clone())) or g * 10)
        y.retain_grad()
        y.register_hook(lambda g: log.append(("h2", g.clone())))
        y.grad_fn.register_prehook(lambda go: log.append(("pre", go)))
        y.grad_fn.register_hook(lambda gi, go: log.append(("post", gi, go)))
        x.register_hook(lambda g: log.append(("leaf", g.clone())) or g + 1)
        x.register_post_accumulate_grad_hook(lambda t: log.append(("acc", t.grad.clone())))
        y.sum().backward()
        return log, y.grad, x.grad

    check(program)


def test_retain_grad_sees_the_hooked_gradient_whatever_the_order():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.register_hook(lambda g: g * 10)
        (y * y).sum().backward()
        return y.grad, x.grad

    check(program)


def test_hook_handle_remove_and_context():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        h = x.register_hook(lambda g: g * 7)
        h.remove()
        h.remove()
        (x * 2).sum().backward()
        first = x.grad.clone()
        with x.register_hook(lambda g: g * 3):
            (x * 2).sum().backward()
        (x * 2).sum().backward()
        return first, x.grad

    check(program)


def test_hooks_run_before_autograd_grad_captures():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        x.register_hook(lambda g: g * 3)
        y = x * 2
        y.register_hook(lambda g: g * 5)
        return lib.autograd.grad((x * 2).sum(), x), lib.autograd.grad((y * 2).sum(), y), x.grad

    check(program)


def test_leaf_hook_persists_across_graphs_and_multiple_uses():
    def program(lib):
        calls = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.register_hook(lambda g: calls.append(g.clone()))
        (x * x).sum().backward()
        (x.exp() + x).sum().backward()
        return calls, x.grad

    check(program)


def test_hooks_under_create_graph_are_differentiable():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x ** 3
        y.register_hook(lambda g: g * x)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        return g, gg

    check(program)


@pytest.mark.parametrize("case", ["size", "dtype", "type", "no_grad", "post_acc_no_grad",
                                  "post_acc_non_leaf", "leaf_size", "leaf_dtype"])
def test_hook_errors(case):
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        if case == "leaf_size":
            x.register_hook(lambda g: lib.ones(2))
        elif case == "leaf_dtype":
            x.register_hook(lambda g: g.double())
        elif case == "size":
            y.register_hook(lambda g: lib.ones(2))
        elif case == "dtype":
            y.register_hook(lambda g: g.double())
        elif case == "type":
            y.register_hook(lambda g: 3)
        elif case == "no_grad":
            lib.ones(3).register_hook(lambda g: g)
        elif case == "post_acc_no_grad":
            lib.ones(3).register_post_accumulate_grad_hook(lambda t: None)
        elif case == "post_acc_non_leaf":
            y.register_post_accumulate_grad_hook(lambda t: None)
        y.sum().backward()

    check(program)


def test_node_hooks_replace_gradients():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        y.grad_fn.register_hook(lambda gi, go: (gi[0] * 0 + 5, None))
        y.sum().backward()
        first = x.grad.clone()
        x.grad = None
        y = x * 2
        y.grad_fn.register_prehook(lambda go: (go[0] * 3,))
        y.sum().backward()
        return first, x.grad

    check(program)


def test_node_hooks_run_in_registration_order_and_remove():
    def program(lib):
        log = []
        x = lib.ones(2, requires_grad=True)
        y = x * 2
        fn = y.grad_fn
        handles = [
            fn.register_prehook(lambda go: log.append("pre1")),
            fn.register_prehook(lambda go: log.append("pre2") or (go[0] * 3,)),
            fn.register_hook(lambda gi, go: log.append(("post1", gi, go))),
            fn.register_hook(lambda gi, go: log.append("post2") or (gi[0] + 1, None)),
            y.register_hook(lambda g: log.append(("tensor", g)) or g * 5),
        ]
        y.sum().backward(retain_graph=True)
        first = x.grad.clone()
        handles[1].remove()
        handles[3].remove()
        handles[3].remove()
        log.append("second")
        y.sum().backward()
        return log, first, x.grad

    check(program)


@pytest.mark.parametrize("case", ["post_count", "pre_type", "post_shape", "pre_shape",
                                  "pre_count", "pre_dtype"])
def test_node_hook_errors(case):
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        hooks = {
            "post_count": lambda: y.grad_fn.register_hook(lambda gi, go: (gi[0],)),
            "pre_type": lambda: y.grad_fn.register_prehook(lambda go: go[0] * 3),
            "post_shape": lambda: y.grad_fn.register_hook(lambda gi, go: (lib.ones(2), None)),
            "pre_shape": lambda: y.grad_fn.register_prehook(lambda go: (lib.ones(2),)),
            "pre_count": lambda: y.grad_fn.register_prehook(lambda go: (go[0], go[0])),
            "pre_dtype": lambda: y.grad_fn.register_prehook(lambda go: (go[0].double(),)),
        }
        hooks[case]()
        y.sum().backward()
        return x.grad

    check(program)


def test_post_accumulate_hook_can_step_the_parameter():
    def program(lib):
        w = lib.tensor([1.0, -2.0], requires_grad=True)

        def step(p):
            with lib.no_grad():
                p.sub_(0.1 * p.grad)
            p.grad = None

        w.register_post_accumulate_grad_hook(step)
        for _ in range(3):
            (w * w).sum().backward()
        return w, w.grad

    check(program)


@pytest.mark.parametrize("returned", ["int", "tensor", "none"])
def test_post_accumulate_hook_must_return_none(returned):
    def program(lib):
        x = lib.zeros(2, requires_grad=True)
        value = {"int": 1, "tensor": lib.zeros(2), "none": None}[returned]
        x.register_post_accumulate_grad_hook(lambda t: value)
        (x * 2).sum().backward()
        return x.grad

    check(program)


# ----- saved tensor hooks -----------------------------------------------------------------------
def test_saved_tensors_hooks_pack_and_unpack():
    def program(lib):
        log = []

        def pack(t):
            log.append(("pack", tuple(t.shape)))
            return t * 1  # anything: here a copy

        def unpack(t):
            log.append(("unpack", tuple(t.shape)))
            return t

        with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
            a = lib.ones(2, requires_grad=True)
            b = a * lib.tensor([3.0, 4.0])
        c = b * a  # saved outside the context: no hooks
        c.sum().backward()
        return log, a.grad

    check(program)


def test_save_on_cpu_is_transparent():
    def program(lib):
        with lib.autograd.graph.save_on_cpu(pin_memory=False):
            a = lib.tensor([0.5, 2.0], requires_grad=True)
            b = (a.exp() * a).sin()
        b.sum().backward()
        return a.grad

    check(program)


def test_unpack_hook_must_return_a_tensor():
    def program(lib):
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: 3):
            a = lib.ones(2, requires_grad=True)
            b = a * a
        b.sum().backward()

    check(program)


def test_no_hooks_means_plain_saved_tensors():
    with ember.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        pass
    assert ember.autograd.graph.SavedTensor.__init__ is ember.autograd.graph._plain_saved_init


def test_hooks_do_not_keep_the_graph_alive():
    x = ember.ones(3, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g)
    y.retain_grad()
    node = weakref.ref(y.grad_fn)
    gc.disable()
    try:
        del y
        assert node() is None
    finally:
        gc.enable()


# ----- custom Function ------------------------------------------------------------------------
def _exp_function(lib):
    class Exp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            y = x.exp() * k
            ctx.save_for_backward(y)
            ctx.k = k
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            ctx.seen = ctx.needs_input_grad
            return g * y, None

    return Exp


def test_function_values_name_ctx_and_next_functions():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = _exp_function(lib).apply(x, 2.0)
        y.sum().backward(retain_graph=True)
        fn = y.grad_fn
        return (y, fn.name(), type(fn).__name__, fn.next_functions, x.grad, fn.seen, fn.k,
                fn.saved_tensors)

    check(program)


def test_function_saved_output_version_check_and_freed():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = _exp_function(lib).apply(x, 2.0)
        y.sum().backward()
        try:
            _ = y.grad_fn.saved_tensors
        except RuntimeError as e:
            first = str(e)[:60]
        y = _exp_function(lib).apply(x, 2.0)
        with lib.no_grad():
            y.mul_(2)
        return first, y.sum().backward()

    check(program)


@pytest.mark.parametrize("case", ["too_few", "extra_none", "non_tensor_grad", "bad_shape",
                                  "broadcastable", "not_a_tensor"])
def test_function_gradient_count_and_shape_errors(case):
    def program(lib):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, g):
                if case == "too_few":
                    return g
                if case == "extra_none":
                    return g, g, None
                if case == "non_tensor_grad":
                    return g, g
                if case == "bad_shape":
                    return g[:1], None
                if case == "broadcastable":
                    return g.sum(), None
                return 1.0, None

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        other = 3.0 if case == "non_tensor_grad" else lib.tensor([3.0, 4.0], requires_grad=True)
        F.apply(x, other).sum().backward()
        return x.grad

    check(program)


@pytest.mark.parametrize("materialize", [True, False])
@pytest.mark.parametrize("outputs", [1, 2])
def test_function_reached_only_by_undefined_gradients_still_runs(materialize, outputs):
    """A Function whose every incoming gradient is undefined (the Function after it returned
    None) is still called: with zeros, or with Nones under set_materialize_grads(False)."""
    def program(lib):
        log = []

        class A(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(materialize)
                return (x * 2,) * outputs if outputs > 1 else x * 2

            @staticmethod
            def backward(ctx, *grads):
                log.append(["A"] + [None if g is None else g.tolist() for g in grads])
                return None if grads[0] is None else grads[0] * 2

        class B(lib.autograd.Function):
            @staticmethod
            def forward(ctx, y):
                return y * 3

            @staticmethod
            def backward(ctx, g):
                log.append(["B", g.tolist()])
                return None

        x = lib.ones(2, requires_grad=True)
        y = A.apply(x)
        B.apply(y[0] if outputs > 1 else y).sum().backward()
        return log, x.grad

    check(program)


def test_function_several_outputs_non_differentiable_and_materialize():
    def program(lib):
        seen = []

        class Two(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                i = x.argmax()
                ctx.mark_non_differentiable(i)
                return x * 2, i, "label"

            @staticmethod
            def backward(ctx, g1, g2, g3):
                seen.append((g1, g2, g3))
                return g1 * 2

        class NoMat(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(False)
                return x.clone(), x.clone()

            @staticmethod
            def backward(ctx, g1, g2):
                seen.append((g1, g2))
                return g1

        class Mat(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.clone(), x.clone()

            @staticmethod
            def backward(ctx, g1, g2):
                seen.append((g1, g2))
                return g1 + g2

        x = lib.tensor([1.0, 3.0, 2.0], requires_grad=True)
        a, i, s = Two.apply(x)
        a.sum().backward()
        p, _ = NoMat.apply(x)
        p.sum().backward()
        p, _ = Mat.apply(x)
        p.sum().backward()
        return a, i, s, i.requires_grad, seen, x.grad

    check(program)


def test_function_mark_dirty_and_returned_input():
    def program(lib):
        class Double(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.mul_(2)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 2

        class Ident(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 3

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        z = x * 1
        w = Double.apply(z)
        same = w is z
        version = w._version
        w.sum().backward()
        o = Ident.apply(x)
        o.sum().backward()
        try:
            Double.apply(lib.ones(2, requires_grad=True))
        except RuntimeError as e:
            err = str(e)
        return same, version, w.grad_fn.name(), o is x, o.grad_fn.name(), x.grad_fn, x.grad, err

    check(program)


@pytest.mark.parametrize("case", ["vjp_only", "both", "save_non_tensor", "dirty_not_returned",
                                  "dirty_not_returned_no_grad", "saved_input_modified"])
def test_function_vjp_spelling_and_ctx_misuse(case):
    def program(lib):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                if case == "save_non_tensor":
                    ctx.save_for_backward(x, None, 3)
                if case.startswith("dirty"):
                    x.add_(1)
                    ctx.mark_dirty(x)
                    return x * 2
                if case == "saved_input_modified":
                    ctx.save_for_backward(x)
                return x * 2

            @staticmethod
            def vjp(ctx, g):
                if case == "saved_input_modified":
                    (x,) = ctx.saved_tensors  # the version check runs here
                return g * 7

        if case != "vjp_only":
            F.backward = staticmethod(lambda ctx, g: g * 3)
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        if case == "dirty_not_returned_no_grad":
            return F.apply(lib.ones(2))
        z = x * 1
        y = F.apply(z)
        if case == "saved_input_modified":
            with lib.no_grad():
                z.add_(1)
        y.sum().backward()
        return y, x.grad

    check(program)


def _cube(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(x):
            return x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2

    return Cube


def test_function_setup_context_and_double_backward():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = _cube(lib).apply(x)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        with lib.no_grad():
            off = _cube(lib).apply(x)
        return y, g, gg, off, _cube(lib).apply(lib.ones(2))

    check(program)


def test_once_differentiable():
    def program(lib):
        class Sq(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 2

            @staticmethod
            @lib.autograd.function.once_differentiable
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * 2 * x

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (g,) = lib.autograd.grad(Sq.apply(x).sum(), x, create_graph=True)
        v = lib.ones(2, requires_grad=True)
        (g2,) = lib.autograd.grad(Sq.apply(x), x, v, create_graph=True)
        return g, g2, lib.autograd.grad(g2.sum(), x)

    check(program)


def test_function_grad_fn_hooks_and_saved_in_double_backward():
    def program(lib):
        class Mul(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, b):
                ctx.save_for_backward(a, b)
                return a * b

            @staticmethod
            def backward(ctx, g):
                a, b = ctx.saved_tensors
                return g * b, g * a

        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, -1.0], requires_grad=True)
        y = Mul.apply(a, b)
        log = []
        y.grad_fn.register_hook(lambda gi, go: log.append((gi, go)))
        ga, gb = lib.autograd.grad((y * y).sum(), (a, b), create_graph=True)
        return log, ga, gb, lib.autograd.grad((ga * gb).sum(), (a, b))

    check(program)


# ----- anomaly mode ---------------------------------------------------------------------------
def _anomaly_program(kind):
    def program(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with lib.autograd.detect_anomaly():
                x = lib.tensor([-1.0, 1.0], requires_grad=True)
                y = x.sqrt() if kind == "op" else _nan_function(lib).apply(x)
                try:
                    y.sum().backward()
                    err = None
                except RuntimeError as e:
                    err = str(e).splitlines()[0]  # ember adds its hint lines below torch's
        texts = [str(w.message) for w in caught]
        trace = [t for t in texts if t.startswith("Error detected")]
        shows_line = bool(trace) and ("x.sqrt()" in trace[0] or ".apply(x)" in trace[0])
        return err, texts[0], trace[0].split(".")[0] if trace else None, shows_line

    return program


def _nan_function(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    return F


@pytest.mark.parametrize("kind", ["op", "function"])
def test_detect_anomaly_names_the_node_and_shows_the_forward_line(kind):
    check(_anomaly_program(kind))


def test_set_detect_anomaly_flags_and_inf_is_not_nan():
    def program(lib):
        def state():
            # torch exports these at top level only; ember keeps them in anomaly_mode.
            mod = lib if hasattr(lib, "is_anomaly_enabled") else lib.autograd.anomaly_mode
            return mod.is_anomaly_enabled(), mod.is_anomaly_check_nan_enabled()

        flags = [state()]
        with lib.autograd.set_detect_anomaly(True, check_nan=False):
            flags.append(state())
            x = lib.tensor([-1.0, 0.0], requires_grad=True)
            x.sqrt().sum().backward()
        flags.append(state())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly():
                y = lib.tensor([0.0, 1.0], requires_grad=True)
                y.sqrt().sum().backward()
        return flags, x.grad, y.grad

    check(program)


def test_anomaly_off_leaves_node_creation_untouched():
    from ember.autograd import graph

    plain = graph._next_sequence_nr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ember.autograd.detect_anomaly():
            assert graph._next_sequence_nr is not plain
    assert graph._next_sequence_nr is plain
    assert not hasattr((ember.ones(1, requires_grad=True) * 2).grad_fn, "_anomaly_trace")


def test_leaf_node_hooks_run_in_torchs_order():
    """Hooks on a leaf's AccumulateGrad node: tensor hook, node pre-hook (may replace the
    gradient), accumulation and its post-accumulate hook, then the node's post-hook."""

    def program(lib):
        calls = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x * 2).sum()
        acc = y.grad_fn.next_functions[0][0].next_functions[0][0]
        x.register_hook(lambda g: calls.append(("tensor", g.tolist())))
        acc.register_prehook(lambda go: calls.append(("pre", go[0].tolist())))
        acc.register_prehook(lambda go: (go[0] * 10,))
        acc.register_hook(lambda gi, go: calls.append(("post", len(gi), go[0].tolist())))
        x.register_post_accumulate_grad_hook(lambda t: calls.append(("acc", t.grad.tolist())))
        y.backward()
        return calls, x.grad

    check(program)


@pytest.mark.parametrize("where", ["prehook", "hook", "post_accumulate"])
def test_hook_return_values_are_checked(where):
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        if where == "prehook":
            y.grad_fn.register_prehook(lambda go: [go[0] * 10])
        elif where == "hook":
            y.grad_fn.register_hook(lambda gi, go: [gi[0] * 10, None])
        else:
            x.register_post_accumulate_grad_hook(lambda t: t.grad * 2)
        y.sum().backward()
        return x.grad

    check(program)


def test_retain_grad_follows_an_in_place_op():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.add_(1)
        (y * y).sum().backward()
        return y.grad, x.grad

    check(program)


def test_custom_function_without_jvp_refuses_forward_mode():
    def program(lib):
        class Double(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, grad):
                return grad * 2

        fw = lib.autograd.forward_ad
        with fw.dual_level():
            dual = fw.make_dual(lib.tensor([1.0, 2.0]), lib.tensor([1.0, 1.0]))
            return fw.unpack_dual(Double.apply(dual)).tangent

    check(program)


def test_pack_hook_must_not_modify_its_input():
    def program(lib):
        def pack(t):
            t.add_(1)
            return t

        with lib.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            a = lib.tensor([1.0, 2.0], requires_grad=True)
            return a.exp()

    check(program)


@pytest.mark.parametrize("returned", ["sum", "pair", "right"])
def test_custom_function_jvp_result_is_checked(returned):
    def program(lib):
        class Double(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, grad):
                return grad * 2

            @staticmethod
            def jvp(ctx, tangent):
                return {"sum": tangent.sum(), "pair": (tangent * 2, tangent),
                        "right": tangent * 2}[returned]

        fw = lib.autograd.forward_ad
        with fw.dual_level():
            dual = fw.make_dual(lib.tensor([1.0, 2.0]), lib.tensor([1.0, 1.0]))
            return fw.unpack_dual(Double.apply(dual)).tangent

    check(program)
