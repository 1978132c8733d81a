"""Set up the competition: from the staff's test labels, the two files Kaggle asks a host for.

- ``solution.csv``: ``Id,Category,Usage``, a seeded random ``Public``/``Private`` split of the rows.
- ``sample_submission.csv``: a valid submission predicting one constant class, for students to
  check their format against.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

from engine.submission import write_submission
from autograder.kaggle.validate import KaggleError, is_id_permutation

PathLike = Union[str, os.PathLike]


def load_labels(path: PathLike, dataset: str = "labels-test") -> np.ndarray:
    """The test labels ordered by Id, from the staff's HDF5 file, a CSV or a .npy array.

    Args:
        path: an HDF5 file (MediumImageNet contract: dataset ``labels-test``), a CSV with columns
            Id,Category (any row order), or a .npy of integers in test order.
        dataset: the HDF5 dataset holding the labels.
    """
    path = Path(path)
    if not path.is_file():
        raise KaggleError(f"labels file {path} not found; pass the staff's HDF5 file (with "
                          f"'{dataset}') or a CSV with Id,Category")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5", ".hdf"):
        labels = _hdf5_labels(path, dataset)
    elif suffix == ".csv":
        labels = _csv_labels(path)
    elif suffix == ".npy":
        labels = np.load(path, allow_pickle=False)
    else:
        raise KaggleError(f"labels file {path}: unknown type '{suffix}'; use .h5/.hdf5, .csv or .npy")
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]  # (N, 1) -> (N,)
    if labels.ndim != 1 or labels.size == 0 or labels.dtype.kind not in "iu":
        raise KaggleError(f"labels in {path} have shape {labels.shape} and dtype {labels.dtype}; "
                          "expected a non-empty 1-D array of integer class indices")
    if labels.min() < 0:
        first = int(np.argmax(labels < 0))
        raise KaggleError(f"labels in {path} hold {labels[first]} at Id {first}: the test labels are "
                          "missing (-1 marks unlabeled images); use the staff copy holding real labels")
    return labels.astype(np.int64)


def _hdf5_labels(path: Path, dataset: str) -> np.ndarray:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if dataset not in f:
                raise KaggleError(f"{path} has no dataset '{dataset}' (it has {sorted(f.keys())}); the "
                                  "test labels are in the staff copy only; pass --dataset to pick another")
            return f[dataset][()]
    except OSError as e:
        raise KaggleError(f"{path} is not a readable HDF5 file ({e})") from None


def _csv_labels(path: Path) -> np.ndarray:
    try:
        frame = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise KaggleError(f"labels file {path} is not a readable CSV ({e})") from None
    if not {"Id", "Category"} <= set(frame.columns):
        raise KaggleError(f"labels file {path} has columns {list(frame.columns)}; expected Id,Category")
    ids = frame["Id"].to_numpy()
    n = len(frame)
    if not is_id_permutation(ids):
        raise KaggleError(f"labels file {path}: Ids must be the integers 0..{n - 1}, each once")
    labels = np.empty(n, dtype=frame["Category"].dtype)
    labels[ids] = frame["Category"].to_numpy()
    return labels


def split_public_private(n: int, public_fraction: float, seed: int) -> np.ndarray:
    """A seeded random choice of round(public_fraction * n) public rows.

    Args:
        n: number of test images.
        public_fraction: share of rows on the public leaderboard, strictly between 0 and 1.
        seed: the same seed gives the same split.

    Returns:
        bool [n], True for public rows.
    """
    if not 0 < public_fraction < 1:
        raise KaggleError(f"public fraction {public_fraction} must lie strictly between 0 and 1 "
                          "(Kaggle's default is about 0.3)")
    public = np.zeros(n, dtype=bool)
    public[np.random.default_rng(seed).permutation(n)[: round(public_fraction * n)]] = True
    return public


def write_competition_files(labels: np.ndarray, out_dir: PathLike, public_fraction: float = 0.3,
                            seed: int = 0, sample_class: int = 0) -> dict:
    """Write ``solution.csv`` and ``sample_submission.csv`` into ``out_dir``.

    Args:
        labels: int [N], true class per Id.
        out_dir: folder to write (created if missing).
        public_fraction: share of rows on the public leaderboard.
        seed: seed of the public/private split.
        sample_class: the class the sample submission predicts everywhere.

    Returns:
        a summary: paths written and the row counts.
    """
    if sample_class < 0:
        raise KaggleError(f"sample class {sample_class} is negative; pick a class index 0 or more")
    labels = np.asarray(labels, dtype=np.int64)
    public = split_public_private(len(labels), public_fraction, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    solution = pd.DataFrame({"Id": np.arange(len(labels)), "Category": labels,
                             "Usage": np.where(public, "Public", "Private")})
    solution.to_csv(out / "solution.csv", index=False)
    num_classes = int(max(labels.max(), sample_class)) + 1
    write_submission(str(out / "sample_submission.csv"), np.full(len(labels), sample_class), num_classes)
    return {"solution": str(out / "solution.csv"), "sample_submission": str(out / "sample_submission.csv"),
            "rows": len(labels), "public_rows": int(public.sum()), "private_rows": int((~public).sum()),
            "seed": seed}
