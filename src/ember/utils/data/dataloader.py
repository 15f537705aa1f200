"""DataLoader: batches of a dataset, in sampler order, collated into tensors.

Loading runs in the calling process. ``num_workers > 0`` replays what torch's worker
processes would compute, in turn: each worker has its own copy of the dataset and its own
random state (torch's, Python's and NumPy's, seeded from the base seed the iterator draws, as
torch seeds them), ``worker_init_fn`` and ``get_worker_info()`` work, batch ``k`` of a
map-style dataset is fetched by worker ``k % num_workers``, and an IterableDataset is iterated
once per worker with the batches interleaved round-robin - so datasets that draw random
numbers or shard by worker give torch's batches.
"""

from __future__ import annotations

import contextlib
import copy
import os
import random
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from ember.utils.data._collate import default_collate, default_convert
from ember.utils.data.dataset import Dataset, IterableDataset
from ember.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

_FIXED_AFTER_INIT = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                     "persistent_workers")


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: its id, the number of workers, its
    seed and its copy of the dataset."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


class _Worker:
    """One replayed worker process: its dataset copy, random states and (for an iterable
    dataset) its iterator."""

    def __init__(self, loader: DataLoader, worker_id: int, base_seed: int) -> None:
        from ember import _random

        try:  # a forked worker sees a copy: its changes to the dataset stay its own
            dataset = copy.deepcopy(loader.dataset)
        except Exception:  # noqa: BLE001 - an uncopyable dataset is shared instead
            dataset = loader.dataset
        seed = base_seed + worker_id
        self.info = WorkerInfo(worker_id, loader.num_workers, seed, dataset)
        self.states = (_random.Generator().manual_seed(seed).get_state(),
                       random.Random(seed).getstate(), _numpy_state(base_seed, worker_id))
        self.loader = loader
        self.stream = None
        self.ended = False
        with self.active():
            if loader.worker_init_fn is not None:
                loader.worker_init_fn(worker_id)
            if loader._iterable:
                self.restart()

    def restart(self) -> None:
        """A new pass over an iterable dataset (torch makes a new fetcher per epoch)."""
        self.stream = iter(self.info.dataset)
        self.ended = False

    @contextlib.contextmanager
    def active(self):
        """Run the block as this worker: its random states and worker info in, the main
        process's back afterwards."""
        global _worker_info
        from ember import _random

        gen = _random.default_generator
        main = (gen.get_state(), random.getstate(), np.random.get_state())
        gen.set_state(self.states[0])
        random.setstate(self.states[1])
        np.random.set_state(self.states[2])
        _worker_info = self.info
        try:
            yield
        finally:
            self.states = (gen.get_state(), random.getstate(), np.random.get_state())
            gen.set_state(main[0])
            random.setstate(main[1])
            np.random.set_state(main[2])
            _worker_info = None


def _numpy_state(base_seed: int, worker_id: int) -> tuple:
    """NumPy's global state as torch's worker seeds it (a SeedSequence of the worker id and
    the base seed's two halves)."""
    words = np.random.SeedSequence([worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0])
    rng = np.random.RandomState()
    rng.seed(words.generate_state(4))
    return rng.get_state()


class _Stream:
    """An iterator over an iterable dataset and whether it has run dry."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.ended = False


class _InfiniteConstantSampler(Sampler):
    """For an IterableDataset: one ``None`` "index" per sample, forever."""

    def __iter__(self):
        while True:
            yield None


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` (see torch's documentation for
    the meaning of each argument)."""

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler | Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable | None = None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; "
                             "use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing."
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor "
                "to None.")
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in {False, None}:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._workers: list[_Worker] | None = None  # persistent workers, once started
        self._initialized = True
        self.check_worker_number_rationality()

    def check_worker_number_rationality(self) -> None:
        """Warn, as torch does, when more workers are asked for than this process has CPUs
        (here the workers are replayed in turn, but the program would be slow under torch)."""
        if not self.num_workers:
            return
        has_affinity = hasattr(os, "sched_getaffinity")
        cpus = len(os.sched_getaffinity(0)) if has_affinity else os.cpu_count()
        if cpus is not None and self.num_workers <= cpus:
            return
        if cpus is None:
            suggestion = ("DataLoader is not able to compute a suggested max number of worker "
                          "in current system.")
        else:
            suggestion = (f"Our suggested max number of worker in current system is {cpus}"
                          f"{'' if has_affinity else ' (`cpuset` is not taken into account)'}, "
                          "which is smaller than what this DataLoader is going to create.")
        warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in "
                      f"total. {suggestion} Please be aware that excessive worker creation might "
                      "get DataLoader running slow or even freeze, lower the worker number to "
                      "avoid potential slowness/freeze if necessary.", stacklevel=2)

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_initialized", False) and name in _FIXED_AFTER_INIT:
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        # As torch's loader iterator does on creation: draw a base seed (the workers seed
        # from it), which advances the generator, so later random draws match torch's.
        # Persistent workers keep their state: a later epoch draws no new seed.
        from ember import empty, int64

        sampler_iter = iter(self._index_sampler)
        if self.pin_memory and (self._workers is None or not self.persistent_workers):
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=2)
        if self.num_workers > 0 and self.persistent_workers and self._workers is not None:
            workers = self._workers
            if self._iterable:
                for worker in workers:
                    with worker.active():
                        worker.restart()
        else:
            if self.num_workers > 0:
                self.check_worker_number_rationality()
            base_seed = int(empty((), dtype=int64).random_(generator=self.generator).item())
            workers = None
            if self.num_workers > 0:
                workers = [_Worker(self, i, base_seed) for i in range(self.num_workers)]
                if self.persistent_workers:
                    self._workers = workers
        if self._iterable:
            if workers is None:
                return self._iterate_stream(_Stream(iter(self.dataset)))
            return self._iterate_workers_stream(workers)
        return self._iterate_map(sampler_iter, workers)

    def _fetch(self, dataset, index):
        if not self._auto_collation:
            return self.collate_fn(dataset[index])
        get_many = getattr(dataset, "__getitems__", None)
        if get_many is not None:
            return self.collate_fn(get_many(index))
        return self.collate_fn([dataset[i] for i in index])

    def _iterate_map(self, sampler_iter, workers):
        if workers is None:  # the common case, without per-batch worker bookkeeping
            dataset, collate = self.dataset, self.collate_fn
            get_many = getattr(dataset, "__getitems__", None)
            for index in sampler_iter:
                if not self._auto_collation:
                    yield collate(dataset[index])
                elif get_many is not None:
                    yield collate(get_many(index))
                else:
                    yield collate([dataset[i] for i in index])
            return
        for k, index in enumerate(sampler_iter):
            worker = workers[k % len(workers)]
            with worker.active():
                batch = self._fetch(worker.info.dataset, index)
            yield batch

    def _next_from_stream(self, source):
        """One batch (or sample) from ``source`` (a worker or a _Stream over an iterable
        dataset), as torch's fetcher: once the iterator ran dry it is not asked again."""
        if source.ended:
            raise StopIteration
        if not self._auto_collation:
            return self.collate_fn(next(source.stream))
        batch = []
        for _ in range(self.batch_size):
            try:
                batch.append(next(source.stream))
            except StopIteration:
                source.ended = True
                break
        if not batch or (self.drop_last and len(batch) < self.batch_size):
            raise StopIteration
        return self.collate_fn(batch)

    def _iterate_stream(self, source):
        while True:
            try:
                batch = self._next_from_stream(source)
            except StopIteration:
                return
            yield batch

    def _iterate_workers_stream(self, workers):
        """Each worker iterates its own copy; batches come round-robin from the workers that
        still have some, as torch's in-order loader delivers them."""
        done = set()
        while len(done) < len(workers):
            for worker in workers:
                if worker.info.id in done:
                    continue
                with worker.active():
                    try:
                        batch = self._next_from_stream(worker)
                    except StopIteration:
                        batch = done.add(worker.info.id)
                if worker.info.id not in done:
                    yield batch

    def __len__(self) -> int:
        if self._iterable:
            length = len(self.dataset)
            if self.batch_size is not None:
                if self.drop_last:
                    return length // self.batch_size
                return -(-length // self.batch_size)
            return length
        return len(self._index_sampler)
