"""The ``kaggle/submission`` graded item: the student's ``submission.csv`` at the top of the
submission folder.

Without staff labels the item checks the file is one Kaggle accepts (all points when valid). With
a staff ``solution.csv`` configured (``autograder/staff/kaggle.yaml``), a valid file earns
``valid_points`` and the rest follows accuracy linearly from ``floor_accuracy`` (nothing more) to
``full_accuracy`` (full credit). The file is only read as data, in the grader's process.

What a student sees before the deadline must not reveal the private split (else resubmitting
probes it): ``grade_submission_items`` gives the results file two entries, ``kaggle/submission``
(the valid-file points and the public split's accuracy, visible) and ``kaggle/private`` (the
accuracy points, with Gradescope visibility ``after_published``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np
import yaml

from autograder.kaggle.score import accuracies, load_solution
from autograder.kaggle.validate import CheckResult, KaggleError, check_submission
from autograder.results import VISIBILITIES, TestResult

ITEM = "kaggle/submission"
PRIVATE_ITEM = "kaggle/private"  # the accuracy points, when they depend on private rows
REPO_ROOT = Path(__file__).resolve().parents[2]
STAFF_CONFIG = REPO_ROOT / "autograder" / "staff" / "kaggle.yaml"
SPLITS = ("public", "private", "all")
MAX_LINES = 20  # validation lines shown to the student
DEFAULTS = {
    "max_score": 10.0,
    "num_classes": 200,  # the competition's classes (MediumImageNet, 200): Category in 0..199
    "expected_rows": None,
    "solution": None,
    "split": "private",
    "valid_points": 2.0,
    "floor_accuracy": 0.30,
    "full_accuracy": 0.70,
    "visibility": "visible",
    "private_visibility": "after_published",
}
NOT_FOUND = "no submission.csv found at the top of your submission"


def load_staff_config(path: Union[str, os.PathLike, None] = None) -> dict:
    """The item's settings: the staff YAML over the defaults (just the defaults when it is absent,
    as in the student handout).

    Args:
        path: the YAML file; None reads ``autograder/staff/kaggle.yaml``.
    """
    path = Path(path) if path is not None else STAFF_CONFIG
    if not path.is_file():
        return dict(DEFAULTS)
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise KaggleError(f"{path} is not valid YAML ({e})") from None
    if not isinstance(loaded, dict):
        raise KaggleError(f"{path} must hold a mapping of settings, not {type(loaded).__name__}")
    return _checked(loaded, str(path))


def _checked(config: dict, where: str = "the kaggle config") -> dict:
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise KaggleError(f"{where}: unknown key(s) {unknown}; known keys are {sorted(DEFAULTS)}")
    cfg = {**DEFAULTS, **config}
    if cfg["split"] not in SPLITS:
        raise KaggleError(f"{where}: split '{cfg['split']}' unknown; use one of {SPLITS}")
    for key in ("visibility", "private_visibility"):
        if cfg[key] not in VISIBILITIES:
            raise KaggleError(f"{where}: {key} '{cfg[key]}' unknown; use one of {VISIBILITIES}")
    if not 0 <= cfg["valid_points"] <= cfg["max_score"]:
        raise KaggleError(f"{where}: valid_points {cfg['valid_points']} must lie in 0..max_score "
                          f"({cfg['max_score']})")
    if not 0 <= cfg["floor_accuracy"] < cfg["full_accuracy"] <= 1:
        raise KaggleError(f"{where}: need 0 <= floor_accuracy < full_accuracy <= 1, got "
                          f"{cfg['floor_accuracy']} and {cfg['full_accuracy']}")
    return cfg


def grade_submission_item(workdir: Path, config: dict | None = None) -> TestResult:
    """Grade ``workdir/submission.csv``. Never raises: a grader-side failure is reported in the
    result (score 0, the error in ``extra``) for the staff to fix and regrade.

    Args:
        workdir: the assembled submission folder.
        config: the item's settings (keys as in ``autograder/staff/kaggle.yaml``, missing ones
            defaulted); None reads the staff YAML.
    """
    max_score = float((config or {}).get("max_score", DEFAULTS["max_score"]))
    try:
        cfg = load_staff_config() if config is None else _checked(dict(config))
    except Exception as e:  # noqa: BLE001 - the grader must go on
        return _staff_error(max_score, e)
    try:
        return _grade(Path(workdir), cfg)
    except Exception as e:  # noqa: BLE001
        return _staff_error(float(cfg["max_score"]), e, cfg["visibility"])


def grade_submission_items(workdir: Path, config: dict | None = None) -> list[TestResult]:
    """The item as the results file holds it: the private split's score never visible before the
    grades are published.

    Without a solution, or when the staff score the public split only, one ``kaggle/submission``
    entry (as ``grade_submission_item``). Otherwise two: ``kaggle/submission`` with the points for
    a valid file and the public split's accuracy (``visibility``), and ``kaggle/private`` with the
    points that follow accuracy on the scored rows (``private_visibility``, default
    ``after_published``). Their scores add up to ``grade_submission_item``'s. Never raises.

    Args:
        workdir: the assembled submission folder.
        config: as ``grade_submission_item``.
    """
    whole = grade_submission_item(workdir, config)
    try:
        cfg = load_staff_config() if config is None else _checked(dict(config))
    except Exception:  # noqa: BLE001 - the whole entry already reports it
        return [whole]
    if "error" in whole.extra or not cfg["solution"] or cfg["split"] == "public":
        return [whole]
    base, max_score = float(cfg["valid_points"]), float(cfg["max_score"])
    valid = bool(whole.extra.get("valid"))
    if not valid:
        public = TestResult(ITEM, 0.0, base, whole.output, cfg["visibility"], extra=dict(whole.extra))
        private = TestResult(PRIVATE_ITEM, 0.0, max_score - base, "Not scored: no valid submission.csv "
                             "(see kaggle/submission).", cfg["private_visibility"])
        return [public, private]
    rows = "private" if cfg["split"] == "private" else "scored (public and private)"
    public_acc = whole.extra.get("public")
    shown = f"{public_acc:.2%}" if isinstance(public_acc, float) else "n/a (no public rows)"
    public = TestResult(ITEM, base, base, (
        f"submission.csv is valid ({whole.extra.get('rows', 0):,} rows): {base:g} points. Accuracy on the "
        f"public test rows (the public leaderboard's): {shown}. The points for accuracy come from the "
        f"{rows} test rows; they are shown as {PRIVATE_ITEM} once the grades are published."),
        cfg["visibility"], extra={"valid": True, "public": public_acc})
    private = TestResult(PRIVATE_ITEM, round(whole.score - base, 4), max_score - base, whole.output,
                         cfg["private_visibility"], extra=dict(whole.extra))
    return [public, private]


def _staff_error(max_score: float, error: Exception, visibility: str = "visible") -> TestResult:
    return TestResult(ITEM, 0.0, max_score, "Your submission.csv could not be graded because of a problem "
                      "on the grader's side; the course staff have been told and will regrade.",
                      visibility, "failed", extra={"error": f"{type(error).__name__}: {error}"})


def _grade(workdir: Path, cfg: dict) -> TestResult:
    max_score, visibility = float(cfg["max_score"]), cfg["visibility"]
    path = workdir / "submission.csv"
    if path.is_symlink():
        return TestResult(ITEM, 0.0, max_score, "submission.csv is a symbolic link; upload the file itself.",
                          visibility, extra={"valid": False})
    if not path.is_file():
        return TestResult(ITEM, 0.0, max_score, NOT_FOUND + _elsewhere(workdir), visibility, extra={"valid": False})
    solution = configured_solution(cfg)
    result, rows = check_format(path, cfg, solution)
    if not result.valid:
        return TestResult(ITEM, 0.0, max_score, format_feedback(result, rows, cfg), visibility, extra={"valid": False})
    n = len(result.predictions)
    if solution is None:
        note = "" if rows else " (the number of rows was not checked)"
        return TestResult(ITEM, max_score, max_score, f"submission.csv is valid: {n:,} rows{note}.",
                          visibility, extra={"valid": True, "rows": n})
    return _by_accuracy(result.predictions, solution, cfg)


def check_format(path: Path, cfg: dict, solution=None) -> tuple[CheckResult, int | None]:
    """The one validation of ``submission.csv`` the graded item and ``check`` share: the class
    count of ``cfg`` and the expected rows (the solution's row count when there is one, else
    ``cfg["expected_rows"]``, else any count).

    Args:
        path: the CSV file.
        cfg: the item's settings (``load_staff_config``; in the handout, the public defaults).
        solution: the loaded solution, or None.

    Returns:
        (the validator's result, the row count checked or None).

    Raises:
        KaggleError: the staff's ``expected_rows`` contradicts the solution (a grader-side problem).
    """
    rows = cfg["expected_rows"] if solution is None else len(solution)
    if solution is not None and cfg["expected_rows"] not in (None, rows):
        raise KaggleError(f"expected_rows {cfg['expected_rows']} differs from the {rows} rows of the solution")
    return check_submission(path, rows, cfg["num_classes"]), rows


def format_feedback(result: CheckResult, rows: int | None, cfg: dict) -> str:
    """The student's message for an invalid file: the first ``MAX_LINES`` problems and the command
    that checks the file the same way."""
    shown = [str(p) for p in result.problems[:MAX_LINES]]
    if len(result.problems) > MAX_LINES:
        shown.append(f"... and {len(result.problems) - MAX_LINES} more problems")
    command = "python -m autograder kaggle validate submission.csv" + (
        f" --expected-rows {rows}" if rows else "") + (
        f" --num-classes {cfg['num_classes']}" if cfg["num_classes"] else "")
    return ("Your submission.csv is not in the format Kaggle accepts (header Id,Category; one row "
            "per test image, Ids 0..N-1; Category a class index):\n" + "\n".join(shown) +
            f"\nCheck it yourself with: {command}")


def configured_solution(cfg: dict):
    """The staff's solution named by ``cfg["solution"]`` (relative to the repository root), or None."""
    if not cfg["solution"]:
        return None
    path = Path(cfg["solution"])
    return load_solution(path if path.is_absolute() else REPO_ROOT / path)


def _by_accuracy(predictions: np.ndarray, solution, cfg: dict) -> TestResult:
    scores = accuracies(predictions, solution)
    rows = {"public": solution.public, "private": solution.private,
            "all": solution.public | solution.private}[cfg["split"]]
    accuracy = float((predictions == solution.labels)[rows].mean()) if rows.any() else 0.0
    floor, full = cfg["floor_accuracy"], cfg["full_accuracy"]
    max_score, base = float(cfg["max_score"]), float(cfg["valid_points"])
    fraction = float(np.clip((accuracy - floor) / (full - floor), 0.0, 1.0))
    score = round(base + (max_score - base) * fraction, 4)
    split = {"all": "scored", "public": "public", "private": "private"}[cfg["split"]]
    output = (f"submission.csv is valid ({len(predictions):,} rows). Accuracy on the {split} test rows: "
              f"{accuracy:.2%}, worth {score:g}/{max_score:g} points ({base:g} for a valid file; the rest "
              f"grows linearly from {floor:.0%} accuracy to full credit at {full:.0%}).")
    return TestResult(ITEM, score, max_score, output, cfg["visibility"],
                      extra={"valid": True, "rows": len(predictions), "accuracy": accuracy, **scores})


def _elsewhere(workdir: Path) -> str:
    """A hint when the file was handed in, but not at the top."""
    try:
        found = sorted(p.relative_to(workdir).as_posix() for p in workdir.rglob("submission.csv"))[:3]
    except OSError:
        return "."
    if not found:
        return "; hand in the submission.csv that main.py writes (or `kaggle export` makes) at the top level."
    return f"; found {', '.join(found)}: move it to the top level of your submission."
