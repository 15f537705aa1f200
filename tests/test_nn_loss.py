"""ember.nn's loss modules against torch: value, gradients, repr, buffers (class weights) and
the legacy ``size_average``/``reduce`` flags."""

from __future__ import annotations

import warnings

import pytest

from differential import check


def _pm1(lib, *shape):
    return (lib.rand(*shape) > 0.5).float() * 2 - 1


# (id, constructor, inputs): inputs returns (differentiable inputs, other arguments)
LOSSES = [
    ("mse", lambda nn: nn.MSELoss(), lambda lib: ([lib.randn(3, 4)], [lib.randn(3, 4)])),
    ("mse_sum", lambda nn: nn.MSELoss(reduction="sum"),
     lambda lib: ([lib.randn(3, 4)], [lib.randn(3, 4)])),
    ("l1_none", lambda nn: nn.L1Loss(reduction="none"),
     lambda lib: ([lib.randn(3, 4)], [lib.randn(3, 4)])),
    ("smooth_l1", lambda nn: nn.SmoothL1Loss(beta=0.5),
     lambda lib: ([lib.randn(5, 2) * 2], [lib.randn(5, 2)])),
    ("huber", lambda nn: nn.HuberLoss(delta=0.7),
     lambda lib: ([lib.randn(5, 2) * 2], [lib.randn(5, 2)])),
    ("cross_entropy", lambda nn: nn.CrossEntropyLoss(),
     lambda lib: ([lib.randn(4, 5)], [lib.tensor([1, 0, 4, 2])])),
    ("cross_entropy_opts", lambda nn: nn.CrossEntropyLoss(ignore_index=2, label_smoothing=0.1),
     lambda lib: ([lib.randn(4, 5)], [lib.tensor([1, 2, 4, 2])])),
    ("cross_entropy_probs", lambda nn: nn.CrossEntropyLoss(reduction="sum"),
     lambda lib: ([lib.randn(3, 4)], [lib.softmax(lib.randn(3, 4), 1)])),
    ("cross_entropy_kdim", lambda nn: nn.CrossEntropyLoss(reduction="none"),
     lambda lib: ([lib.randn(2, 3, 4)], [lib.tensor([[0, 1, 2, 1], [2, 2, 0, 1]])])),
    ("nll", lambda nn: nn.NLLLoss(),
     lambda lib: ([lib.randn(4, 3).log_softmax(1)], [lib.tensor([0, 2, 1, 1])])),
    ("nll_ignore", lambda nn: nn.NLLLoss(ignore_index=1, reduction="sum"),
     lambda lib: ([lib.randn(4, 3).log_softmax(1)], [lib.tensor([0, 2, 1, 1])])),
    ("bce", lambda nn: nn.BCELoss(),
     lambda lib: ([lib.rand(3, 2) * 0.9 + 0.05], [lib.rand(3, 2)])),
    ("bce_with_logits", lambda nn: nn.BCEWithLogitsLoss(),
     lambda lib: ([lib.randn(3, 2)], [lib.rand(3, 2)])),
    ("kl_div", lambda nn: nn.KLDivLoss(reduction="batchmean"),
     lambda lib: ([lib.randn(3, 4).log_softmax(1)], [lib.softmax(lib.randn(3, 4), 1)])),
    ("kl_div_log_target", lambda nn: nn.KLDivLoss(reduction="sum", log_target=True),
     lambda lib: ([lib.randn(3, 4).log_softmax(1)], [lib.randn(3, 4).log_softmax(1)])),
    ("soft_margin", lambda nn: nn.SoftMarginLoss(),
     lambda lib: ([lib.randn(3, 4)], [_pm1(lib, 3, 4)])),
    ("hinge_embedding", lambda nn: nn.HingeEmbeddingLoss(margin=0.5),
     lambda lib: ([lib.randn(3, 4)], [_pm1(lib, 3, 4)])),
    ("poisson_nll", lambda nn: nn.PoissonNLLLoss(),
     lambda lib: ([lib.randn(3, 4)], [lib.rand(3, 4) * 3])),
    ("poisson_nll_full", lambda nn: nn.PoissonNLLLoss(log_input=False, full=True),
     lambda lib: ([lib.rand(3, 4) + 0.1], [lib.rand(3, 4) * 3])),
    ("gaussian_nll", lambda nn: nn.GaussianNLLLoss(),
     lambda lib: ([lib.randn(3, 4), lib.rand(3, 4) + 0.1], [lib.randn(3, 4)])),
    ("cosine_embedding", lambda nn: nn.CosineEmbeddingLoss(margin=0.2),
     lambda lib: ([lib.randn(3, 4), lib.randn(3, 4)], [_pm1(lib, 3)])),
    ("margin_ranking", lambda nn: nn.MarginRankingLoss(margin=0.1),
     lambda lib: ([lib.randn(5), lib.randn(5)], [_pm1(lib, 5)])),
    ("multi_margin", lambda nn: nn.MultiMarginLoss(p=2, margin=0.5),
     lambda lib: ([lib.randn(3, 4)], [lib.tensor([0, 3, 1])])),
    ("multi_margin_default", lambda nn: nn.MultiMarginLoss(),
     lambda lib: ([lib.randn(3, 4)], [lib.tensor([2, 0, 1])])),
    ("multilabel_soft_margin", lambda nn: nn.MultiLabelSoftMarginLoss(),
     lambda lib: ([lib.randn(3, 4)], [(lib.rand(3, 4) > 0.5).float()])),
    ("triplet", lambda nn: nn.TripletMarginLoss(margin=0.5, p=1.5, swap=True),
     lambda lib: ([lib.randn(3, 4), lib.randn(3, 4), lib.randn(3, 4)], [])),
    ("multilabel_margin", lambda nn: nn.MultiLabelMarginLoss(),
     lambda lib: ([lib.randn(3, 4)], [lib.tensor([[3, 0, -1, 1], [1, 2, 3, 0], [-1, 0, 0, 0]])])),
    ("multilabel_margin_1d_none", lambda nn: nn.MultiLabelMarginLoss(reduction="none"),
     lambda lib: ([lib.randn(5)], [lib.tensor([4, 4, 1, -1, 2])])),
    ("multilabel_margin_rows_sum", lambda nn: nn.MultiLabelMarginLoss(reduction="sum"),
     lambda lib: ([lib.randn(2, 3)], [lib.tensor([[2, -1, 0], [0, 1, 2]])])),
    ("triplet_distance", lambda nn: nn.TripletMarginWithDistanceLoss(),
     lambda lib: ([lib.randn(3, 4), lib.randn(3, 4), lib.randn(3, 4)], [])),
    ("triplet_distance_custom", lambda nn: nn.TripletMarginWithDistanceLoss(
        distance_function=lambda a, b: 1.0 - nn.functional.cosine_similarity(a, b),
        margin=0.5, swap=True, reduction="none"),
     lambda lib: ([lib.randn(3, 4), lib.randn(3, 4), lib.randn(3, 4)], [])),
    ("triplet_distance_module", lambda nn: nn.TripletMarginWithDistanceLoss(
        distance_function=nn.PairwiseDistance(p=1.0), margin=2.0, reduction="sum"),
     lambda lib: ([lib.randn(4), lib.randn(4), lib.randn(4)], [])),
    ("ctc", lambda nn: nn.CTCLoss(),
     lambda lib: ([lib.randn(8, 3, 5).log_softmax(2)],
                  [lib.tensor([[1, 2, 2, 4], [3, 3, 0, 0], [4, 1, 1, 1]]),
                   lib.tensor([8, 6, 7]), lib.tensor([4, 2, 3])])),
    ("ctc_concatenated_sum", lambda nn: nn.CTCLoss(blank=2, reduction="sum"),
     lambda lib: ([lib.randn(6, 2, 4).log_softmax(2).double()],
                  [lib.tensor([1, 3, 1, 0]), (6, 5), [3, 1]])),
    ("ctc_zero_infinity", lambda nn: nn.CTCLoss(reduction="none", zero_infinity=True),
     lambda lib: ([lib.randn(4, 3, 3).log_softmax(2)],
                  [lib.tensor([[1, 1, 1], [2, 1, 2], [1, 2, 0]]), [4, 4, 2], [3, 3, 0]])),
    ("ctc_unbatched", lambda nn: nn.CTCLoss(reduction="none"),
     lambda lib: ([lib.randn(7, 4).log_softmax(1)],
                  [lib.tensor([3, 1, 2]), lib.tensor(7), lib.tensor(3)])),
]


def _weighted(lib):
    """Losses whose class/element weights are buffers (they belong in state_dict)."""
    return [
        lib.nn.CrossEntropyLoss(weight=lib.tensor([1.0, 2.0, 0.5, 1.0, 3.0]), ignore_index=2,
                                label_smoothing=0.1),
        lib.nn.NLLLoss(weight=lib.tensor([0.2, 1.0, 2.0])),
        lib.nn.BCELoss(weight=lib.tensor([1.0, 2.0])),
        lib.nn.BCEWithLogitsLoss(weight=lib.tensor([1.0, 2.0]),
                                 pos_weight=lib.tensor([3.0, 0.5])),
        lib.nn.MultiLabelSoftMarginLoss(weight=lib.tensor([1.0, 2.0, 3.0, 4.0])),
        lib.nn.MultiMarginLoss(weight=lib.tensor([1.0, 2.0, 3.0, 4.0])),
    ]


@pytest.mark.parametrize("name,ctor,inputs", LOSSES, ids=[x[0] for x in LOSSES])
def test_loss_modules(name, ctor, inputs):
    def program(lib):
        lib.manual_seed(0)
        m = ctor(lib.nn)
        diff, other = inputs(lib)
        diff = [d.detach().requires_grad_() for d in diff]
        out = m(*diff, *other)
        out.sum().backward()
        return repr(m), out, [d.grad for d in diff], list(m.state_dict())

    check(program)


def test_weighted_losses_buffers_and_values():
    def program(lib):
        lib.manual_seed(0)
        ce, nll, bce, bcel, mlsm, mm = _weighted(lib)
        x5 = lib.randn(4, 5, requires_grad=True)
        x3 = lib.randn(4, 3, requires_grad=True)
        x2 = lib.randn(3, 2, requires_grad=True)
        x4 = lib.randn(3, 4, requires_grad=True)
        losses = [ce(x5, lib.tensor([1, 2, 4, 0])),
                  nll(x3.log_softmax(1), lib.tensor([0, 2, 1, 1])),
                  bce(x2.sigmoid(), lib.rand(3, 2)), bcel(x2, lib.rand(3, 2)),
                  mlsm(x4, (lib.rand(3, 4) > 0.5).float()), mm(x4, lib.tensor([0, 3, 1]))]
        sum(losses).backward()
        return (losses, x5.grad, x3.grad, x2.grad, x4.grad,
                [list(m.state_dict()) for m in (ce, nll, bce, bcel, mlsm, mm)],
                [repr(m) for m in (ce, nll, bce, bcel, mlsm, mm)])

    check(program)


@pytest.mark.parametrize("size_average,reduce", [(None, False), (False, None), (True, True),
                                                 (False, False), (None, True)])
def test_legacy_reduction_flags(size_average, reduce):
    def program(lib):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m = lib.nn.MSELoss(size_average=size_average, reduce=reduce)
            n = lib.nn.NLLLoss(size_average=size_average, reduce=reduce)
        return m.reduction, n.reduction, [str(x.message) for x in w]

    check(program)


def test_loss_errors():
    def program(lib):
        out = []
        for action in (lambda: lib.nn.MSELoss(reduction="avg")(lib.ones(2), lib.ones(2)),
                       lambda: lib.nn.CrossEntropyLoss()(lib.randn(2, 3), lib.tensor([0, 3])),
                       lambda: lib.nn.MultiMarginLoss(weight=lib.ones(2, 2)),
                       lambda: lib.nn.HuberLoss(delta=None),
                       lambda: lib.nn.TripletMarginWithDistanceLoss(margin=0.0),
                       lambda: lib.nn.TripletMarginWithDistanceLoss()(
                           lib.ones(2, 3), lib.ones(3), lib.ones(2, 3)),
                       lambda: lib.nn.MultiLabelMarginLoss()(lib.randn(2, 3),
                                                             lib.tensor([[0, 3, -1], [0, 1, 2]])),
                       lambda: lib.nn.MultiLabelMarginLoss()(lib.randn(2, 3),
                                                             lib.tensor([0, 1, 2])),
                       lambda: lib.nn.CTCLoss(blank=5)(lib.randn(4, 2, 5), lib.tensor([1, 2]),
                                                       [4, 4], [1, 1]),
                       lambda: lib.nn.CTCLoss()(lib.randn(4, 2, 5), lib.tensor([1, 2]),
                                                [4, 5], [1, 1])):
            try:
                action()
                out.append("ok")
            except Exception as e:  # noqa: BLE001
                out.append((type(e).__name__, str(e).split("\n")[0]))
        return out

    check(program)


def test_distance_modules():
    def program(lib):
        lib.manual_seed(0)
        a = lib.randn(3, 4, requires_grad=True)
        b = lib.randn(3, 4, requires_grad=True)
        pd = lib.nn.PairwiseDistance(p=1.5, keepdim=True)
        cs = lib.nn.CosineSimilarity(dim=1)
        y = pd(a, b).sum() + cs(a, b).sum()
        y.backward()
        return repr(pd), repr(cs), y, a.grad, b.grad

    check(program)
