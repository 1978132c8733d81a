"""Score a submission against the competition's ``solution.csv`` (``Id,Category,Usage``).

``Usage`` is ``Public`` (the leaderboard students see during the competition), ``Private`` (the
final ranking) or ``Ignored`` (scored in neither), as on Kaggle.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

from autograder.kaggle.validate import CheckResult, KaggleError, Source, check_submission, is_id_permutation

USAGES = ("Public", "Private", "Ignored")
_MAKE_ONE = "make one with `python -m autograder kaggle solution --labels FILE --out DIR`"


@dataclass(frozen=True)
class Solution:
    """The hidden answers, ordered by Id.

    Args:
        labels: int64 [N], the true class of each test image.
        public: bool [N], rows on the public leaderboard.
        private: bool [N], rows on the private (final) leaderboard.
    """

    labels: np.ndarray
    public: np.ndarray
    private: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def load_solution(path: Union[str, os.PathLike]) -> Solution:
    """Read and check a staff ``solution.csv``.

    Args:
        path: CSV with columns Id, Category, Usage; Ids 0..N-1 in any order.
    """
    path = Path(path)
    if not path.is_file():
        raise KaggleError(f"solution file {path} not found; {_MAKE_ONE}")
    try:
        # Public/Private parsed straight to booleans by the C parser (faster than 190k strings)
        frame = pd.read_csv(path, true_values=["Public"], false_values=["Private"])
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise KaggleError(f"solution file {path} is not a readable CSV ({e}); {_MAKE_ONE}") from None
    missing = [c for c in ("Id", "Category", "Usage") if c not in frame.columns]
    if missing:
        raise KaggleError(f"solution file {path} has columns {list(frame.columns)}, lacking {missing}; "
                          f"it needs Id,Category,Usage; {_MAKE_ONE}")
    ids, labels = frame["Id"].to_numpy(), frame["Category"].to_numpy()
    n = len(frame)
    if ids.dtype.kind != "i" or labels.dtype.kind != "i":
        raise KaggleError(f"solution file {path}: Id and Category must be integers (got {ids.dtype}, "
                          f"{labels.dtype}); {_MAKE_ONE}")
    if not is_id_permutation(ids):
        raise KaggleError(f"solution file {path}: Ids must be 0..{n - 1}, each once; {_MAKE_ONE}")
    if labels.min() < 0:
        raise KaggleError(f"solution file {path}: Category {labels.min()} is negative; the staff labels must "
                          f"be real classes (-1 marks unlabeled images); {_MAKE_ONE}")
    in_order = bool((ids[1:] > ids[:-1]).all())  # as `kaggle solution` writes it: no reordering needed
    order = slice(None) if in_order else np.argsort(ids)
    usage = frame["Usage"].to_numpy()[order]
    if usage.dtype == bool:
        public, private = usage, ~usage
    else:  # other values too (Ignored, or a mistake): True/False stand for Public/Private
        usage = np.array([("Public" if u else "Private") if isinstance(u, (bool, np.bool_)) else str(u)
                          for u in usage])
        unknown = sorted(set(usage.tolist()) - set(USAGES))
        if unknown:
            raise KaggleError(f"solution file {path}: Usage values {unknown[:5]} not understood; use one of "
                              f"{USAGES}")
        public, private = usage == "Public", usage == "Private"
    return Solution(labels[order].astype(np.int64), public, private)


def accuracies(predictions: np.ndarray, solution: Solution) -> dict:
    """Public and private accuracy (0..1, None for an empty split) of predictions ordered by Id.

    Args:
        predictions: int64 [N], the predicted class of each Id.
        solution: the answers, same N.
    """
    correct = predictions == solution.labels
    public_rows, private_rows = int(solution.public.sum()), int(solution.private.sum())
    return {
        "public": float(correct[solution.public].mean()) if public_rows else None,
        "private": float(correct[solution.private].mean()) if private_rows else None,
        "public_rows": public_rows,
        "private_rows": private_rows,
    }


def score_submission(submission: Source, solution: Union[Solution, str, os.PathLike],
                     num_classes: int | None = None) -> dict:
    """Validate then score one submission.

    Returns ``{"public", "private", "public_rows", "private_rows", "valid": True}`` for a valid
    file, ``{"valid": False, "problems": [line, ...]}`` otherwise.

    Args:
        submission: the student's CSV file (or its bytes).
        solution: a loaded Solution or the path of solution.csv; fixes N, the expected row count.
        num_classes: number of classes C for the range check; None accepts any class >= 0.
    """
    if not isinstance(solution, Solution):
        solution = load_solution(solution)
    result: CheckResult = check_submission(submission, len(solution), num_classes)
    if not result.valid:
        return {"valid": False, "problems": [str(p) for p in result.problems]}
    return {**accuracies(result.predictions, solution), "valid": True}
