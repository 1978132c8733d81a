"""Make a ``submission.csv`` from what an earlier run saved, for any dataset.

A source is one of:
- a run folder (``OUTPUT/RUN``) holding ``test_logits.npy``, as ``main.py`` writes it;
- ``.npy``: float logits [N, C], or integer predictions [N];
- ``.npz``: an array named ``logits`` or ``predictions`` (or the only array in the file);
- ``.pt`` / ``.pth``: a tensor, or a dict with ``logits`` or ``predictions`` (loaded weights-only).

Several logits sources make an ensemble: their softmax probabilities (or, with
``average="logits"``, the logits themselves) are averaged before the arg-max.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from engine.submission import write_submission
from autograder.kaggle.validate import KaggleError, check_submission

PathLike = Union[str, os.PathLike]
RUN_LOGITS = "test_logits.npy"
AVERAGES = ("probs", "logits")


def load_scores(source: PathLike) -> tuple[np.ndarray, str]:
    """Read one source; return (array, kind) with kind ``logits`` [N, C] or ``predictions`` [N].

    Args:
        source: a run folder, or a .npy / .npz / .pt / .pth file (see the module docstring).
    """
    path = Path(source)
    if path.is_dir():
        if not (path / RUN_LOGITS).is_file():
            raise KaggleError(f"run folder {path} has no {RUN_LOGITS}; run main.py with EVAL.SAVE_LOGITS "
                              "True, or pass a .npy/.npz/.pt file of logits or predictions")
        path = path / RUN_LOGITS
    if not path.is_file():
        raise KaggleError(f"{path} not found; pass a run folder (with {RUN_LOGITS}) or a logits file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            array = _pick(dict(np.load(path, allow_pickle=False)), path)
        elif suffix in (".pt", ".pth"):
            array = _load_torch(path)
        else:
            raise KaggleError(f"{path}: unknown file type '{suffix}'; use .npy, .npz, .pt or a run folder")
    except (OSError, ValueError, RuntimeError) as e:
        if isinstance(e, KaggleError):
            raise
        raise KaggleError(f"cannot read {path} ({e}); expected a numpy or torch array file") from None
    return _classify(np.asarray(array), path)


def _load_torch(path: Path) -> np.ndarray:
    import torch

    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict):
        obj = _pick(obj, path)
    if not isinstance(obj, torch.Tensor):
        raise KaggleError(f"{path} holds a {type(obj).__name__}; expected a tensor or a dict with "
                          "'logits' or 'predictions'")
    return obj.detach().float().numpy() if obj.is_floating_point() else obj.numpy()


def _pick(arrays: dict, path: Path):
    for key in ("logits", "predictions"):
        if key in arrays:
            return arrays[key]
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    raise KaggleError(f"{path} holds {sorted(arrays)}; name the array 'logits' or 'predictions'")


def _classify(array: np.ndarray, path: Path) -> tuple[np.ndarray, str]:
    if array.ndim == 2 and array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise KaggleError(f"{path}: logits hold NaN or infinity; the run diverged, re-run or pick "
                              "another checkpoint")
        return array, "logits"
    if array.ndim == 1 and array.dtype.kind in "iu":
        if array.size and array.min() < 0:
            raise KaggleError(f"{path}: prediction {array.min()} is negative; classes are 0..C-1 "
                              "(-1 is the unlabeled marker, not a prediction)")
        return array.astype(np.int64), "predictions"
    raise KaggleError(f"{path}: array of shape {array.shape} and dtype {array.dtype}; expected float "
                      "logits [N, C] or integer predictions [N]")


def ensemble_predictions(sources: Sequence[PathLike], average: str = "probs") -> tuple[np.ndarray, int | None]:
    """Predicted class per test image, averaging several logits sources.

    Args:
        sources: one predictions source, or one or more logits sources of the same shape.
        average: ``probs`` averages softmax probabilities, ``logits`` averages raw logits.

    Returns:
        (predictions int64 [N], number of classes C from the logits, or None for predictions).
    """
    if average not in AVERAGES:
        raise KaggleError(f"average '{average}' unknown; use one of {AVERAGES}")
    if not sources:
        raise KaggleError("no source given; pass a run folder or a logits/predictions file")
    loaded = [(load_scores(s), s) for s in sources]
    kinds = {kind for (_, kind), _ in loaded}
    if "predictions" in kinds:
        if len(loaded) > 1:
            raise KaggleError("an ensemble needs logits: predictions files cannot be averaged; pass the "
                              "runs' test_logits.npy instead")
        return loaded[0][0][0], None
    shapes = {array.shape for (array, _), _ in loaded}
    if len(shapes) > 1:
        listing = ", ".join(f"{s}: {a.shape}" for (a, _), s in loaded)
        raise KaggleError(f"logits shapes differ ({listing}); ensemble runs of the same test set and classes")
    total = np.zeros(next(iter(shapes)), dtype=np.float64)
    for (array, _), _ in loaded:
        if average == "probs":
            from scipy.special import softmax  # here, not at import: every autograder command imports this module

            array = softmax(array.astype(np.float64), axis=1)
        total += array
    return total.argmax(axis=1).astype(np.int64), total.shape[1]


def export_submission(sources: Sequence[PathLike], out: PathLike, num_classes: int | None = None,
                      average: str = "probs") -> dict:
    """Write a contract ``submission.csv`` from saved logits or predictions, and check it.

    Args:
        sources: run folders or array files (several logits sources make an ensemble).
        out: the CSV to write.
        num_classes: number of classes; must match the logits' width. Needed to range-check a
            predictions file; None then accepts any class >= 0.
        average: how an ensemble is averaged, ``probs`` or ``logits``.

    Returns:
        a summary: rows, num_classes, sources, out.
    """
    predictions, width = ensemble_predictions(sources, average)
    if predictions.size == 0:
        raise KaggleError(f"{sources[0]} holds no test images; export from the run's test-set logits")
    if width is not None and num_classes is not None and width != num_classes:
        raise KaggleError(f"logits have {width} classes but --num-classes is {num_classes}; drop the "
                          "option or pass the dataset's class count")
    classes = num_classes or width
    if classes is not None and predictions.size and predictions.max() >= classes:
        raise KaggleError(f"prediction {predictions.max()} is out of range for {classes} classes; check "
                          "--num-classes")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_submission(str(out), predictions, classes or int(predictions.max(initial=0)) + 1)
    problems = check_submission(out, len(predictions), classes).problems
    assert not problems, problems  # our own writer broke the contract
    return {"out": str(out), "rows": int(len(predictions)), "num_classes": classes,
            "sources": [str(s) for s in sources]}
