"""ember.utils.data against torch.utils.data: batches, order under seeds, splits, errors."""

from __future__ import annotations

import os
from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from oracle import torch

Pair = namedtuple("Pair", ["x", "y"])


def same(a, b) -> None:
    """Nested batches equal in structure, type (list/tuple/dict), dtype and values."""
    if isinstance(b, torch.Tensor):
        assert isinstance(a, ember.Tensor), type(a)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(b, dict):
        assert isinstance(a, dict) and list(a) == list(b)
        for k in b:
            same(a[k], b[k])
    elif isinstance(b, (list, tuple)):
        assert type(a).__name__ == type(b).__name__ and len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    else:
        assert a == b


def run_both(program):
    """``program(lib)`` for ember and torch, each after manual_seed(0)."""
    ember.manual_seed(0)
    torch.manual_seed(0)
    return program(ember), program(torch)


def tensor_dataset(lib, n):
    return lib.utils.data.TensorDataset(lib.arange(n * 2.0).reshape(n, 2), lib.arange(n))


@settings(max_examples=25)
@given(n=st.integers(1, 40), batch_size=st.integers(1, 9), shuffle=st.booleans(),
       drop_last=st.booleans(), use_generator=st.booleans(), epochs=st.integers(1, 3))
def test_batches_and_order_match_torch(n, batch_size, shuffle, drop_last, use_generator,
                                       epochs):
    def program(lib):
        generator = lib.Generator().manual_seed(7) if use_generator else None
        loader = lib.utils.data.DataLoader(tensor_dataset(lib, n), batch_size=batch_size,
                                           shuffle=shuffle, drop_last=drop_last,
                                           generator=generator)
        batches = [list(loader) for _ in range(epochs)]
        return len(loader), batches, lib.rand(2)  # the default stream after loading too

    e, t = run_both(program)
    assert e[0] == t[0]
    same(e[1], t[1])
    same(e[2], t[2])


@settings(max_examples=20)
@given(n=st.integers(1, 50), fractions=st.booleans(), parts=st.integers(1, 4))
def test_random_split_matches_torch(n, fractions, parts):
    if fractions:
        lengths = [1.0 / parts] * parts
    else:
        cuts = sorted(np.random.default_rng(n).integers(0, n + 1, parts - 1).tolist())
        lengths = [b - a for a, b in zip([0] + cuts, cuts + [n])]

    def program(lib):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [list(s.indices) for s in lib.utils.data.random_split(range(n), lengths)]

    e, t = run_both(program)
    assert e == t


def test_random_split_with_generator():
    def program(lib):
        generator = lib.Generator().manual_seed(42)
        return [list(s) for s in lib.utils.data.random_split(range(10), [3, 7], generator)]

    assert program(ember) == program(torch)


def test_default_collation_of_structures():
    samples = [
        {"a": np.array([1.0, 2.0], dtype=np.float32), "b": 3, "c": 2.5, "d": "s", "e": True,
         "f": (np.int64(4), [1, 2]), "g": Pair(1.5, np.float64(2.0))},
        {"a": np.array([3.0, 4.0], dtype=np.float32), "b": 5, "c": 0.5, "d": "t", "e": False,
         "f": (np.int64(6), [3, 4]), "g": Pair(0.5, np.float64(1.0))},
    ]

    def program(lib):
        return lib.utils.data.default_collate(samples)

    e, t = program(ember), program(torch)
    same(e, t)


def test_collate_of_tensors_and_no_auto_batching():
    def program(lib):
        ds = tensor_dataset(lib, 5)
        plain = list(lib.utils.data.DataLoader(ds, batch_size=None))
        custom = list(lib.utils.data.DataLoader(ds, batch_size=2, collate_fn=lambda b: len(b)))
        convert = lib.utils.data.default_convert([np.array([1, 2]), (np.float32(1.5),)])
        return plain, custom, convert

    e, t = run_both(program)
    same(e, t)


def test_samplers_match_torch():
    def program(lib):
        data = lib.utils.data
        g = lib.Generator().manual_seed(3)
        weighted = list(data.WeightedRandomSampler([0.1, 0.5, 2.0, 1.0], 12, generator=g))
        subset = list(data.SubsetRandomSampler([10, 20, 30, 40, 50], generator=g))
        with_replacement = list(data.RandomSampler(range(7), replacement=True, num_samples=40,
                                                   generator=g))
        batches = list(data.BatchSampler(data.SequentialSampler(range(7)), 3, drop_last=False))
        loader = data.DataLoader(range(9), batch_sampler=data.BatchSampler(
            data.RandomSampler(range(9), generator=g), 4, drop_last=True))
        return weighted, subset, with_replacement, batches, list(loader)

    e, t = run_both(program)
    same(e, t)


class Stream:
    """An IterableDataset for either library."""

    @staticmethod
    def make(lib, n):
        class Numbers(lib.utils.data.IterableDataset):
            def __iter__(self):
                return iter(range(n))

            def __len__(self):
                return n

        return Numbers()


@pytest.mark.parametrize("drop_last", [False, True])
def test_iterable_dataset(drop_last):
    def program(lib):
        loader = lib.utils.data.DataLoader(Stream.make(lib, 10), batch_size=4,
                                           drop_last=drop_last)
        return len(loader), list(loader)

    e, t = run_both(program)
    assert e[0] == t[0]
    same(e[1], t[1])


def test_concat_subset_and_stack_datasets():
    def program(lib):
        data = lib.utils.data
        a, b = tensor_dataset(lib, 3), tensor_dataset(lib, 2)
        cat = data.ConcatDataset([a, b])
        sub = data.Subset(cat, [4, 0, 2])
        stack = data.StackDataset(x=range(3), y=range(3, 6))
        return len(cat), [cat[i] for i in range(5)], cat[-1], [sub[i] for i in range(3)], \
            [stack[i] for i in range(3)]

    e, t = run_both(program)
    same(e, t)


def _outcome(thunk):
    try:
        thunk()
    except Exception as e:  # noqa: BLE001 - compared as type and first line
        return type(e).__name__, str(e).splitlines()[0]
    return None


MISUSE = {
    "sampler and shuffle": lambda lib: lib.utils.data.DataLoader(
        range(3), sampler=lib.utils.data.SequentialSampler(range(3)), shuffle=True),
    "batch_sampler and batch_size": lambda lib: lib.utils.data.DataLoader(
        range(3), batch_size=2, batch_sampler=[[0, 1]]),
    "batch_size None and drop_last": lambda lib: lib.utils.data.DataLoader(
        range(3), batch_size=None, drop_last=True),
    "negative workers": lambda lib: lib.utils.data.DataLoader(range(3), num_workers=-1),
    "persistent without workers": lambda lib: lib.utils.data.DataLoader(
        range(3), persistent_workers=True),
    "iterable with shuffle": lambda lib: lib.utils.data.DataLoader(Stream.make(lib, 3),
                                                                   shuffle=True),
    "bad batch size": lambda lib: lib.utils.data.BatchSampler(range(3), 0, False),
    "tensor size mismatch": lambda lib: lib.utils.data.TensorDataset(lib.ones(2), lib.ones(3)),
    "split sum mismatch": lambda lib: lib.utils.data.random_split(range(5), [2, 2]),
    "split bad fraction": lambda lib: lib.utils.data.random_split(range(5), [1.5, -0.5]),
    "collate unequal lists": lambda lib: lib.utils.data.default_collate([[1, 2], [3]]),
    "collate an object": lambda lib: lib.utils.data.default_collate([object()]),
    "set batch_size later": lambda lib: setattr(lib.utils.data.DataLoader(range(3)),
                                                "batch_size", 2),
}


@pytest.mark.parametrize("name", sorted(MISUSE))
def test_misuse_raises_as_torch(name):
    e, t = _outcome(lambda: MISUSE[name](ember)), _outcome(lambda: MISUSE[name](torch))
    assert t is not None
    if name == "collate an object":  # the type's printed name names its library
        e = (e[0], e[1].replace("ember", "torch"))
    assert e == t


class Records:
    """A map-style dataset of dict samples (arrays, ints, floats, bools, strings, nests)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        return {"x": np.arange(3, dtype=np.float32) * i, "y": i, "z": i / 2, "b": i % 2 == 0,
                "s": str(i), "t": (i, [i, i + 1])}


@pytest.mark.parametrize("num_workers", [0, 2])
def test_loader_of_dict_samples_with_workers(num_workers):
    def program(lib):
        data = lib.utils.data
        loader = data.DataLoader(Records(11), batch_size=3, shuffle=True, num_workers=num_workers)
        return list(loader), list(loader), lib.rand(2)

    e, t = run_both(program)
    same(e, t)


def test_sampler_options_against_torch():
    def program(lib):
        data = lib.utils.data
        return (list(data.DataLoader(range(10), batch_size=3, sampler=data.RandomSampler(
                    range(10)))),
                list(data.DataLoader(range(10), batch_size=3, sampler=[9, 1, 5, 2])),
                list(data.DataLoader(range(10), batch_sampler=[[1, 2], [3], [9, 0, 4]])),
                list(data.RandomSampler(range(5), num_samples=13)),
                list(data.WeightedRandomSampler([0.1, 0.5, 2.0, 1.0, 3.0], 4,
                                                replacement=False)),
                [len(data.DataLoader(range(n), batch_size=b, drop_last=d))
                 for n in (0, 1, 7, 8) for b in (1, 3, 8) for d in (False, True)],
                lib.rand(2))

    e, t = run_both(program)
    same(e, t)


def _worker_datasets(lib, kind):
    """Datasets whose samples depend on the worker: random draws (torch's, Python's,
    NumPy's) and get_worker_info()."""
    import random

    data = lib.utils.data

    class Draws(data.Dataset):
        def __len__(self):
            return 11

        def __getitem__(self, i):
            info = data.get_worker_info()
            return {"t": lib.rand(2), "py": random.random(), "np": float(np.random.rand()),
                    "i": i, "w": -1 if info is None else info.id,
                    "seed": 0 if info is None else info.seed % 1000}

    class Shards(data.IterableDataset):
        def __iter__(self):
            info = data.get_worker_info()
            lo, step = (0, 1) if info is None else (info.id, info.num_workers)
            base = lib.randint(0, 100, (1,)).item()
            return iter([(i, base, lib.randn(1)) for i in range(lo, 13, step)])

    class Uneven(data.IterableDataset):
        def __iter__(self):
            info = data.get_worker_info()
            k = 0 if info is None else info.id
            return iter(range(100 * k, 100 * k + 3 + 4 * k))

    return {"draws": Draws, "shards": Shards, "uneven": Uneven}[kind]()


def _reseed_numpy(worker_id):
    np.random.seed(1000 + worker_id)


WORKER_CASES = [
    ("draws", {"batch_size": 3, "num_workers": 2, "shuffle": True}),
    ("draws", {"batch_size": 2, "num_workers": 3}),
    ("draws", {"batch_size": None, "num_workers": 2}),
    ("draws", {"batch_size": 3, "num_workers": 2, "worker_init_fn": _reseed_numpy}),
    ("draws", {"batch_size": 3, "num_workers": 2, "persistent_workers": True, "shuffle": True}),
    ("shards", {"batch_size": 2, "num_workers": 2}),
    ("shards", {"batch_size": 2, "num_workers": 3, "drop_last": True}),
    ("shards", {"batch_size": None, "num_workers": 2}),
    ("shards", {"batch_size": 4, "num_workers": 2, "persistent_workers": True}),
    ("uneven", {"batch_size": 2, "num_workers": 3}),
    ("uneven", {"batch_size": 2, "num_workers": 3, "drop_last": True}),
]


@pytest.mark.parametrize("kind,kwargs", WORKER_CASES,
                         ids=[f"{k}-{i}" for i, (k, _) in enumerate(WORKER_CASES)])
def test_workers_give_torchs_batches(kind, kwargs):
    """num_workers > 0 replays torch's worker processes: per-worker seeds for torch, Python
    and NumPy, worker_init_fn, get_worker_info, round-robin batches, persistent workers (two
    epochs), and the main process's streams untouched."""
    import random
    import warnings

    def program(lib):
        lib.manual_seed(0)
        random.seed(5)
        np.random.seed(6)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loader = lib.utils.data.DataLoader(_worker_datasets(lib, kind), **kwargs)
            epochs = [list(loader), list(loader)]
        return epochs, lib.rand(2), random.random(), float(np.random.rand())

    e, t = program(ember), program(torch)
    same(e[:2], t[:2])
    assert e[2:] == t[2:]


_TOO_MANY = len(os.sched_getaffinity(0)) + 1 if hasattr(os, "sched_getaffinity") else 65


@pytest.mark.parametrize("kwargs", [{"pin_memory": True}, {"num_workers": _TOO_MANY},
                                    {"num_workers": _TOO_MANY, "persistent_workers": True}])
def test_loader_warnings_as_torch(kwargs):
    """pin_memory without an accelerator; more workers than CPUs (at construction and at each
    new set of workers)."""
    import warnings

    def program(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loader = lib.utils.data.DataLoader(range(3), **kwargs)
            list(loader)
            list(loader)
        return [str(w.message) for w in caught]

    assert program(ember) == program(torch)
