"""python -m autograder kaggle ...: exit codes and output of each sub-command."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from autograder import kaggle


def run(argv: list[str]) -> int:
    """The kaggle commands alone, in-process (other commands' modules are not imported)."""
    parser = argparse.ArgumentParser(prog="autograder")
    kaggle.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def comp(tmp_path):
    """A competition of 8 images, 4 classes, and one run's logits."""
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    np.save(tmp_path / "labels.npy", labels)
    logits = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 1, 1, 2, 0]]  # wrong on Ids 4 and 7
    (tmp_path / "run").mkdir()
    np.save(tmp_path / "run" / "test_logits.npy", logits)
    return tmp_path


def test_full_competition_flow(comp, capsys):
    assert run(["kaggle", "solution", "--labels", str(comp / "labels.npy"), "--out", str(comp / "c"),
                "--public-fraction", "0.5", "--seed", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rows"], summary["public_rows"]) == (8, 4)

    assert run(["kaggle", "export", str(comp / "run"), "--out", str(comp / "submission.csv")]) == 0
    assert run(["kaggle", "validate", str(comp / "submission.csv"), "--expected-rows", "8",
                "--num-classes", "4"]) == 0
    assert "valid (8 rows)" in capsys.readouterr().out

    assert run(["kaggle", "score", str(comp / "submission.csv"), "--solution", str(comp / "c" / "solution.csv")]) == 0
    scores = json.loads(capsys.readouterr().out)
    usage = pd.read_csv(comp / "c" / "solution.csv")["Usage"].to_numpy()
    wrong_public = int((usage[[4, 7]] == "Public").sum())
    assert scores["public"] == pytest.approx((4 - wrong_public) / 4)
    assert scores["private"] == pytest.approx((4 - (2 - wrong_public)) / 4)

    (comp / "subs").mkdir()
    (comp / "submission.csv").rename(comp / "subs" / "team1.csv")
    (comp / "c" / "sample_submission.csv").rename(comp / "subs" / "baseline.csv")
    assert run(["kaggle", "leaderboard", str(comp / "subs"), "--solution", str(comp / "c" / "solution.csv"),
                "--out", str(comp / "board")]) == 0
    assert "| 1 | team1 |" in capsys.readouterr().out
    assert (comp / "board" / "leaderboard.csv").is_file() and (comp / "board" / "leaderboard.md").is_file()


def test_validate_exit_1_with_one_line_per_problem(tmp_path, capsys):
    path = tmp_path / "s.csv"
    path.write_text("Id,Category\n1,0\n2,0\n")
    assert run(["kaggle", "validate", str(path), "--expected-rows", "2", "--num-classes", "4"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "file: Ids run from 1 to 2: they look 1-based; expected Ids 0..1 (the first test image is Id 0; "
        "subtract 1 from every Id)"]


def test_score_invalid_exit_1_and_bad_solution_exit_2(tmp_path, capsys):
    pd.DataFrame({"Id": [0, 1], "Category": [0, 0], "Usage": ["Public", "Private"]}).to_csv(
        tmp_path / "sol.csv", index=False)
    (tmp_path / "s.csv").write_text("Id,Category\n0,0\n")
    assert run(["kaggle", "score", str(tmp_path / "s.csv"), "--solution", str(tmp_path / "sol.csv")]) == 1
    assert capsys.readouterr().out.startswith("file: 1 data rows; expected 2 rows")
    assert run(["kaggle", "score", str(tmp_path / "s.csv"), "--solution", str(tmp_path / "nope.csv")]) == 2
    assert "error: solution file" in capsys.readouterr().err


def test_export_error_exit_2(tmp_path, capsys):
    assert run(["kaggle", "export", str(tmp_path), "--out", str(tmp_path / "s.csv")]) == 2
    assert "has no test_logits.npy" in capsys.readouterr().err


def test_registered_in_the_autograder_cli(tmp_path):
    from autograder.cli import main

    (tmp_path / "s.csv").write_text("Id,Category\n0,3\n")
    assert main(["kaggle", "validate", str(tmp_path / "s.csv"), "--expected-rows", "1"]) == 0


def test_binary_file_in_a_subprocess_no_traceback(tmp_path, repo_root):
    (tmp_path / "s.csv").write_bytes(bytes(range(256)) * 4)
    proc = subprocess.run([sys.executable, "-m", "autograder", "kaggle", "validate", str(tmp_path / "s.csv"),
                           "--expected-rows", "3", "--num-classes", "2"],
                          cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.startswith("line 1: binary data (a NUL byte)")


def test_validate_says_what_it_did_not_check(tmp_path, capsys):
    """Without --num-classes / --expected-rows a Category of 500 passes `validate` while the graded
    item gives 0 ("expected a class index in 0..199"): the "valid" line names what went unchecked."""
    f = tmp_path / "submission.csv"
    f.write_text("Id,Category\n0,500\n1,3\n")
    assert run(["kaggle", "validate", str(f)]) == 0
    out = capsys.readouterr().out
    assert "valid (2 rows)" in out and "--num-classes 200" in out and "--expected-rows" in out
    assert run(["kaggle", "validate", str(f), "--num-classes", "600", "--expected-rows", "2"]) == 0
    assert "not checked" not in capsys.readouterr().out
