"""Loss modules with the options and reductions test_nn_loss.py leaves at their defaults
(and the defaults it leaves out), against torch: repr, value, input gradients, state_dict
keys and warnings. Complements test_nn_loss.py."""

from __future__ import annotations

import warnings

import pytest

from differential import check


def _pm1(lib, *shape):
    return (lib.rand(*shape) > 0.5).float() * 2 - 1


def _x(*shape):
    return lambda lib: lib.randn(*shape)


# (id, constructor, inputs): inputs returns (differentiable inputs, other arguments)
LOSSES = [
    ("l1_mean", lambda lib: lib.nn.L1Loss(), lambda lib: ([_x(3, 4)(lib)], [_x(3, 4)(lib)])),
    ("l1_sum", lambda lib: lib.nn.L1Loss(reduction="sum"),
     lambda lib: ([_x(3, 4)(lib)], [_x(3, 4)(lib)])),
    ("mse_broadcast", lambda lib: lib.nn.MSELoss(), lambda lib: ([_x(3, 4)(lib)], [_x(4)(lib)])),
    ("smooth_l1_default", lambda lib: lib.nn.SmoothL1Loss(),
     lambda lib: ([_x(3, 4)(lib) * 2], [_x(3, 4)(lib)])),
    ("smooth_l1_beta0", lambda lib: lib.nn.SmoothL1Loss(beta=0.0, reduction="none"),
     lambda lib: ([_x(3, 4)(lib) * 2], [_x(3, 4)(lib)])),
    ("huber_sum", lambda lib: lib.nn.HuberLoss(reduction="sum"),
     lambda lib: ([_x(3, 4)(lib) * 2], [_x(3, 4)(lib)])),
    ("bce_none", lambda lib: lib.nn.BCELoss(reduction="none"),
     lambda lib: ([lib.rand(3, 2) * 0.9 + 0.05], [lib.rand(3, 2)])),
    ("bce_logits_pos_weight", lambda lib: lib.nn.BCEWithLogitsLoss(
        pos_weight=lib.tensor([2.0, 0.5]), reduction="sum"),
     lambda lib: ([_x(3, 2)(lib)], [lib.rand(3, 2)])),
    ("kl_div_mean", lambda lib: lib.nn.KLDivLoss(),
     lambda lib: ([_x(3, 4)(lib).log_softmax(1)], [lib.softmax(_x(3, 4)(lib), 1)])),
    ("kl_div_none", lambda lib: lib.nn.KLDivLoss(reduction="none"),
     lambda lib: ([_x(3, 4)(lib).log_softmax(1)], [lib.softmax(_x(3, 4)(lib), 1)])),
    ("gaussian_nll_full", lambda lib: lib.nn.GaussianNLLLoss(full=True, eps=1e-3,
                                                             reduction="sum"),
     lambda lib: ([_x(3, 4)(lib)], [_x(3, 4)(lib), lib.rand(3, 4) + 0.1])),
    ("gaussian_nll_shared_var", lambda lib: lib.nn.GaussianNLLLoss(),
     lambda lib: ([_x(3, 4)(lib)], [_x(3, 4)(lib), lib.rand(3, 1) + 0.1])),
    ("poisson_nll_sum", lambda lib: lib.nn.PoissonNLLLoss(reduction="sum", eps=1e-4),
     lambda lib: ([_x(3, 4)(lib)], [lib.rand(3, 4) * 3])),
    ("cosine_embedding_none", lambda lib: lib.nn.CosineEmbeddingLoss(reduction="none"),
     lambda lib: ([_x(3, 4)(lib), _x(3, 4)(lib)], [_pm1(lib, 3)])),
    ("margin_ranking_none", lambda lib: lib.nn.MarginRankingLoss(reduction="none"),
     lambda lib: ([_x(5)(lib), _x(5)(lib)], [_pm1(lib, 5)])),
    ("hinge_sum", lambda lib: lib.nn.HingeEmbeddingLoss(reduction="sum"),
     lambda lib: ([_x(3, 4)(lib)], [_pm1(lib, 3, 4)])),
    ("soft_margin_none", lambda lib: lib.nn.SoftMarginLoss(reduction="none"),
     lambda lib: ([_x(3, 4)(lib)], [_pm1(lib, 3, 4)])),
    ("multilabel_soft_margin_none", lambda lib: lib.nn.MultiLabelSoftMarginLoss(
        reduction="none"), lambda lib: ([_x(3, 4)(lib)], [(lib.rand(3, 4) > 0.5).float()])),
    ("multi_margin_none", lambda lib: lib.nn.MultiMarginLoss(reduction="none", margin=2.0),
     lambda lib: ([_x(3, 4)(lib)], [lib.tensor([0, 3, 1])])),
    ("triplet_default", lambda lib: lib.nn.TripletMarginLoss(),
     lambda lib: ([_x(3, 4)(lib), _x(3, 4)(lib), _x(3, 4)(lib)], [])),
    ("triplet_p1_none", lambda lib: lib.nn.TripletMarginLoss(p=1, reduction="none", eps=1e-3),
     lambda lib: ([_x(3, 4)(lib), _x(3, 4)(lib), _x(3, 4)(lib)], [])),
    ("pairwise_distance_p1", lambda lib: lib.nn.PairwiseDistance(p=1),
     lambda lib: ([_x(3, 4)(lib), _x(3, 4)(lib)], [])),
    ("nll_loss_2d", lambda lib: lib.nn.NLLLoss2d(),
     lambda lib: ([_x(2, 3, 2, 2)(lib).log_softmax(1)], [lib.randint(0, 3, (2, 2, 2))])),
    ("nll_none_4d", lambda lib: lib.nn.NLLLoss(reduction="none"),
     lambda lib: ([_x(2, 3, 2, 2)(lib).log_softmax(1)], [lib.randint(0, 3, (2, 2, 2))])),
    ("cross_entropy_unbatched", lambda lib: lib.nn.CrossEntropyLoss(),
     lambda lib: ([_x(5)(lib)], [lib.tensor(3)])),
    ("cross_entropy_probs_smoothing", lambda lib: lib.nn.CrossEntropyLoss(label_smoothing=0.3,
                                                                          reduction="none"),
     lambda lib: ([_x(3, 4)(lib)], [lib.softmax(_x(3, 4)(lib), 1)])),
]


@pytest.mark.parametrize("name,ctor,inputs", LOSSES, ids=[x[0] for x in LOSSES])
def test_loss_module_options(name, ctor, inputs):
    def program(lib):
        lib.manual_seed(0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = ctor(lib)
            diff, other = inputs(lib)
            diff = [d.detach().requires_grad_() for d in diff]
            out = m(*diff, *other)
            out.sum().backward()
        return (repr(m), out, [d.grad for d in diff], list(m.state_dict()),
                [str(w.message) for w in caught])

    check(program)
