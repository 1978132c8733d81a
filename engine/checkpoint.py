"""Atomic checkpoints holding everything an exact resume needs (model, optimizer, schedule, RNGs)."""
from __future__ import annotations

import os
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
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class CheckpointNotFoundError(FileNotFoundError):
    """``--resume`` names a file that does not exist."""


def save_checkpoint(path: str, state: dict) -> None:
    """Write ``state`` to ``path`` atomically: a crash mid-write never leaves a broken file."""
    tmp = f"{path}.tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (on the CPU)."""
    if not os.path.isfile(path):
        raise CheckpointNotFoundError(f"Checkpoint {path!r} does not exist. Pass --resume with a file from a run "
                                f"folder, e.g. output/<run>/checkpoint_last.pth.")
    # Our own checkpoints hold RNG states and the config text, so they are not weights-only.
    return torch.load(path, map_location="cpu", weights_only=False)
