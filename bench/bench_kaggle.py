"""Benchmark: validating and scoring a MediumImageNet-sized submission against the floor of
reading the same file with ``pandas.read_csv``, side by side in one process.

Writes a submission of ``--rows`` rows (shuffled Ids, as a student's may be) and a solution with a
30% public split into a temporary folder, then times, interleaved in each repeat:
- floor:            ``pandas.read_csv(submission)``
- validate:         ``validate_submission(submission, N, C)`` (what ``kaggle validate`` runs)
- score:            ``score_submission(submission, solution.csv, C)``: reads the solution too
- score (loaded):   the same with the solution already loaded, as the leaderboard scores a class
- explain invalid:  validating a 1-based copy (the line-by-line pass that finds the problems)
and reports the median of each and its ratio to the floor's median (target: at most 3x).

    .venv/bin/python -m bench.bench_kaggle [--rows 190841] [--classes 200] [--repeats 9]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from autograder.kaggle import load_solution, score_submission, validate_submission

TARGET = 3.0


def make_files(folder: Path, rows: int, classes: int, seed: int = 0) -> tuple[Path, Path, Path]:
    """A valid shuffled submission, a 1-based (invalid) copy, and a solution.csv."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(rows)
    predictions = rng.integers(0, classes, rows)
    submission, one_based, solution = folder / "submission.csv", folder / "one_based.csv", folder / "solution.csv"
    pd.DataFrame({"Id": ids, "Category": predictions}).to_csv(submission, index=False)
    pd.DataFrame({"Id": ids + 1, "Category": predictions}).to_csv(one_based, index=False)
    usage = np.where(rng.permutation(rows) < round(0.3 * rows), "Public", "Private")
    pd.DataFrame({"Id": np.arange(rows), "Category": rng.integers(0, classes, rows), "Usage": usage}).to_csv(
        solution, index=False)
    return submission, one_based, solution


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=190_841, help="rows in the submission (test images)")
    parser.add_argument("--classes", type=int, default=200, help="number of classes")
    parser.add_argument("--repeats", type=int, default=9, help="timed repeats of each step (median reported)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        submission, one_based, solution_path = make_files(Path(tmp), args.rows, args.classes)
        solution = load_solution(solution_path)
        steps = {
            "floor: pandas.read_csv": lambda: pd.read_csv(submission),
            "validate": lambda: validate_submission(submission, args.rows, args.classes),
            "score (reads solution.csv)": lambda: score_submission(submission, solution_path, args.classes),
            "score (solution loaded)": lambda: score_submission(submission, solution, args.classes),
            "explain invalid (1-based)": lambda: validate_submission(one_based, args.rows, args.classes),
        }
        assert validate_submission(submission, args.rows, args.classes) == []
        assert len(validate_submission(one_based, args.rows, args.classes)) == 1
        times: dict[str, list[float]] = {name: [] for name in steps}
        for name, step in steps.items():  # one warm-up each: imports, page cache
            step()
        for _ in range(args.repeats):
            for name, step in steps.items():  # interleaved, so load changes hit every step alike
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)

    medians = {name: statistics.median(t) for name, t in times.items()}
    floor = medians["floor: pandas.read_csv"]
    print(f"kaggle benchmark: {args.rows:,} rows, {args.classes} classes, {args.repeats} repeats (median)")
    print(f"{'step':<30} {'median ms':>10} {'x floor':>8}")
    for name, median in medians.items():
        print(f"{name:<30} {median * 1e3:>10.1f} {median / floor:>8.2f}")
    ratios = {name: medians[name] / floor for name in medians}
    for name in ("validate", "score (reads solution.csv)"):
        verdict = "within" if ratios[name] <= TARGET else "OVER"
        print(f"{name}: {ratios[name]:.2f}x the floor ({verdict} the {TARGET:g}x target)")
    return {"rows": args.rows, "repeats": args.repeats, "median_s": medians, "ratio": ratios}


if __name__ == "__main__":
    main()
