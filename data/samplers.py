"""Samplers for distributed evaluation."""
from __future__ import annotations

from typing import Iterator

import torch.distributed as dist
from torch.utils.data import Sampler


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
