"""The Kaggle ``submission.csv`` writer (the format is a contract: header ``Id,Category``)."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np


def write_submission(path: str, predictions: Sequence[int] | np.ndarray, num_classes: int) -> None:
    """Write ``Id,Category`` rows, Ids 0..N-1 in test-set order, atomically.

    Args:
        path: where to write the CSV.
        predictions: predicted class index for each test image, in test-set order.
        num_classes: number of classes; every prediction must lie in [0, num_classes).
    """
    preds = np.asarray(predictions).astype(np.int64).reshape(-1)
    assert preds.size == 0 or (preds.min() >= 0 and preds.max() < num_classes), "prediction out of range"
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="") as f:
        f.write("Id,Category\n")
        f.writelines(f"{i},{c}\n" for i, c in enumerate(preds.tolist()))
    os.replace(tmp, path)
