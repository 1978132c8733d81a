"""torchrun / DDP helpers; every function also works in a plain single process."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_distributed(device: torch.device) -> bool:
    """Join the process group torchrun describes in the environment; False when not under torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    return True


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return rank() == 0


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum a few scalars over processes."""
    if not is_distributed():
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def all_gather_objects(obj) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` (picklable objects); ``[obj]`` without DDP."""
    if not is_distributed():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def gather_strided(part: torch.Tensor) -> torch.Tensor:
    """Reassemble rows sharded as ``range(rank, N, world)`` on each process into dataset order."""
    if not is_distributed():
        return part
    parts = [None] * world_size()
    dist.all_gather_object(parts, part.cpu())
    n = sum(p.shape[0] for p in parts)
    out = torch.empty((n, *part.shape[1:]), dtype=part.dtype)
    for r, p in enumerate(parts):
        out[r::len(parts)] = p
    return out
