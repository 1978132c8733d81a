"""Settings for the handout's public test suite (`make test`): W&B off, no downloads, one thread,
the handout root importable, and the grader's public checks run once for the whole session."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


def _root() -> Path:
    """The folder holding config.py (the handout root), above this file."""
    here = Path(__file__).resolve().parent
    return next(p for p in (here, *here.parents) if (p / "config.py").is_file())


ROOT = _root()
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here downloads; a hub look-up fails at once
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def public_checks() -> dict:
    """item name -> result of the grader's public checks on this folder (as `autograder check` runs them)."""
    from autograder.check import check_code

    results, _ = check_code(ROOT)
    return {r.name: r for r in results}
