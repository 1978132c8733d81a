"""Suite-wide settings: W&B off, quiet progress bars, the repository root importable."""
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the suite never downloads; hub look-ups fail at once
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO

# Small models on a 2-core machine: one intra-op thread per process avoids oversubscription
# (pytest-xdist workers, DataLoader workers and torchrun ranks each get their own).
import torch  # noqa: E402

torch.set_num_threads(1)
