"""``ember.utils.data``: datasets, samplers and the DataLoader."""

from ember.utils.data._collate import default_collate, default_convert
from ember.utils.data.dataloader import DataLoader, WorkerInfo
from ember.utils.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from ember.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker (replayed in this process): its id, number of workers,
    seed and dataset copy; elsewhere None."""
    from ember.utils.data import dataloader

    return dataloader._worker_info


__all__ = [
    "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset",
    "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset",
    "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "default_collate",
    "default_convert", "get_worker_info", "random_split",
]
