"""Atomic checkpoints holding everything an exact resume needs (model, optimizer, schedule, RNGs)."""
from __future__ import annotations

import os
import pickle
import random

import numpy as np
import torch


def rng_state() -> dict:
    """The state of every random number generator the run draws from."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def rank_rng_states() -> list[dict]:
    """Every process's :func:`rng_state`, in rank order (one entry without DDP).

    A collective under DDP: every rank must call it. Ranks draw different dropout and mixup
    numbers (each is seeded with ``SEED + rank``), so a checkpoint keeps all of them.
    """
    from engine.distributed import all_gather_objects

    return all_gather_objects(rng_state())


def restore_rank_rng_state(saved: list[dict] | dict, rank: int, world_size: int) -> bool:
    """Restore this rank's own entry of ``saved`` (a :func:`rank_rng_states` list; an older
    checkpoint's single dict counts as rank 0's). Returns False, restoring nothing, when the
    checkpoint was written by a different number of processes (the caller keeps its fresh seed)."""
    states = saved if isinstance(saved, list) else [saved]
    if len(states) != world_size:
        return False
    set_rng_state(states[rank])
    return True


class CheckpointNotFoundError(FileNotFoundError):
    """``--resume`` names a file that does not exist."""


class CheckpointMismatchError(ValueError):
    """A checkpoint that does not fit the run (another model, optimizer or file kind)."""


def save_checkpoint(path: str, state: dict) -> None:
    """Write ``state`` to ``path`` atomically: a crash mid-write never leaves a broken file."""
    tmp = f"{path}.tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (on the CPU)."""
    if not os.path.isfile(path):
        what = "is a folder, not a file" if os.path.isdir(path) else "does not exist"
        raise CheckpointNotFoundError(f"Checkpoint {path!r} {what}. Pass --resume with a file from a run "
                                f"folder, e.g. output/<run>/checkpoint_last.pth.")
    # Our own checkpoints hold RNG states and the config text, so they are not weights-only.
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError) as e:  # cut short, or not a torch file
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise CheckpointMismatchError(
            f"Checkpoint {path!r} cannot be read ({first}); it is cut short (a copy or write that did not "
            f"finish) or not a file torch.save wrote. Resume from another checkpoint of the run "
            f"(checkpoint_best.pth or checkpoint_epochNNN.pth).") from e
