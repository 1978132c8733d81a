"""Samplers for distributed evaluation, and the seeding that makes train augmentation resumable."""
from __future__ import annotations

import contextlib
import random
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Dataset, Sampler, get_worker_info


class ShardedEvalSampler(Sampler[int]):
    """Rank ``r`` of ``world_size`` gets ``range(r, N, world_size)`` in order: no shuffle, no padding.

    Every item is seen exactly once across ranks, so metrics and test logits are exact; the caller
    reassembles the full order with ``out[r::world_size] = part_r``.

    Args:
        dataset_len: N, the number of items.
        rank: this process's rank; default ``torch.distributed.get_rank()``.
        world_size: number of processes; default ``torch.distributed.get_world_size()``.
    """

    def __init__(self, dataset_len: int, rank: int | None = None, world_size: int | None = None) -> None:
        self.world_size = dist.get_world_size() if world_size is None else world_size
        self.rank = dist.get_rank() if rank is None else rank
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is outside [0, {self.world_size}) for world_size {self.world_size}.")
        self.dataset_len = dataset_len

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.dataset_len, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.dataset_len, self.world_size))


_MASK64 = (1 << 64) - 1


def augmentation_seed(seed: int, epoch: int, indices: Sequence[int]) -> int:
    """A 64-bit seed that is a pure function of (``SEED``, epoch, the batch's indices in order).

    splitmix64's finalizer over the values, so nearby inputs give unrelated seeds.
    """
    x = 0
    for v in (seed, epoch, len(indices), *indices):
        x = (x + (int(v) & _MASK64) + 0x9E3779B97F4A7C15) & _MASK64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
        x ^= x >> 31
    return x


@contextlib.contextmanager
def seeded_rngs(seed: int) -> Iterator[None]:
    """Seed Python's, NumPy's and torch's global generators (what augmentations draw from).

    In a DataLoader worker the generators are the worker's own, so they are simply re-seeded; in
    the main process (``DATA.NUM_WORKERS 0``) their states are restored afterwards, so dropout,
    mixup and the shuffling see the same streams as without this context.
    """
    in_main = get_worker_info() is None
    saved = (random.getstate(), np.random.get_state(), torch.get_rng_state()) if in_main else None
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        if saved is not None:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
            torch.set_rng_state(saved[2])


class EpochSeededDataset(Dataset):
    """The train split with its random augmentation drawn from ``(SEED, epoch, batch indices)``.

    Each batch (``__getitems__``; one item for ``__getitem__``) re-seeds the generators with
    :func:`augmentation_seed`, so an image's augmentation depends only on the seed, the epoch and
    the batch it is in, never on which worker loads it, how many workers there are, whether they
    persist between epochs (their generators would otherwise carry on from the previous epoch)
    or whether the run was resumed. A resumed run therefore draws exactly the augmentations of an
    uninterrupted one. The epoch lives in a shared-memory tensor, so :meth:`set_epoch` in the main
    process reaches persistent workers too (they fetch nothing between epochs: the next epoch's
    first indices are sent when its iterator starts, after ``set_epoch``).

    Args:
        dataset: the train split (``data.build.build_dataset(cfg, "train")``); its other
            attributes (``classes``, ``source``, ...) are reachable through this wrapper.
        seed: ``cfg.SEED``.
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()

    def set_epoch(self, epoch: int) -> None:
        """Draw the augmentations of ``epoch`` (0-based) from now on, in every worker."""
        self._epoch.fill_(epoch)

    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        with seeded_rngs(augmentation_seed(self.seed, self.epoch, [index])):
            return self.dataset[index]

    def __getitems__(self, indices: Sequence[int]) -> list:
        with seeded_rngs(augmentation_seed(self.seed, self.epoch, indices)):
            if hasattr(self.dataset, "__getitems__"):
                return self.dataset.__getitems__(list(indices))
            return [self.dataset[i] for i in indices]

    def __getattr__(self, name: str):
        if name == "dataset":  # not yet set (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)
