"""The TA round trip: export free-text answers, merge TA scores back."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from autograder import worksheet as ws
from autograder.results import TestResult as Result  # not collected by pytest
from tests.worksheet_fixtures import blank_text, fill, key, make_submission, staff_text  # noqa: F401 (fixtures)

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)


def _gradebook(path: Path, graded: dict[str, list[Result]]) -> None:
    """A gradebook shaped like grade-all's: student, score, one column per test."""
    names = [r.name for r in next(iter(graded.values()))]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "score", *names])
        for student, results in graded.items():
            w.writerow([student, ws.format_number(round(sum(r.score for r in results), 6)), *[ws.format_number(r.score) for r in results]])


def test_ta_round_trip_changes_exactly_the_manual_scores(tmp_path, staff_text, blank_text, key, capsys):
    from autograder.cli import main
    from autograder.results import write_results

    alice = make_submission(tmp_path / "subs" / "alice", staff_text)
    bob = make_submission(tmp_path / "subs" / "bob", fill(blank_text, {"q1.7": "main calls train_one_epoch.",
                                                                       "q3.2": "99,276"}), images=[])
    ta_csv = tmp_path / "ta.csv"
    assert main(["worksheet-export", str(alice), str(bob), "--out", str(ta_csv)]) == 0
    free = [q for q, k in key.items() if k.kind == "free"]
    rows = list(csv.DictReader(open(ta_csv, encoding="utf-8-sig")))
    assert len(rows) == 2 * len(free) and set(rows[0]) == set(ws.TA_COLUMNS)
    assert {r["student"] for r in rows} == {"alice", "bob"}
    alice_q17 = next(r for r in rows if r["student"] == "alice" and r["question"] == "q1.7")
    assert alice_q17["auto_score"] == "3" and alice_q17["answer"].startswith("`main` reads the config")

    graded = {"alice": ws.grade_worksheet(alice, key_entry=False), "bob": ws.grade_worksheet(bob, key_entry=False)}
    gradebook = tmp_path / "gradebook.csv"
    _gradebook(gradebook, graded)
    results_dir = tmp_path / "results"
    for student, results in graded.items():
        write_results(str(results_dir / f"{student}.json"), results)
    before = list(csv.DictReader(open(gradebook)))

    # TAs: alice's q1.7 down to 2 with a comment, bob's q1.7 to 0.5; everything else left blank
    for r in rows:
        if r["question"] == "q1.7":
            r["ta_score"], r["ta_comment"] = ("2", "evaluate is missing") if r["student"] == "alice" else ("0.5", "")
    with open(ta_csv, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.DictWriter(f, fieldnames=ws.TA_COLUMNS)
        w.writeheader()
        w.writerows(rows)

    merged = tmp_path / "merged.csv"
    assert main(["worksheet-merge", str(ta_csv), "--gradebook", str(gradebook), "--out", str(merged),
                 "--results-dir", str(results_dir)]) == 0
    after = list(csv.DictReader(open(merged)))
    changed = {(b["student"], col) for b, a in zip(before, after) for col in b if b[col] != a[col]}
    assert changed == {("alice", "worksheet/q1.7"), ("alice", "score"), ("bob", "worksheet/q1.7"), ("bob", "score")}
    a, b = after[0], after[1]
    assert a["worksheet/q1.7"] == "2" and float(a["score"]) == float(before[0]["score"]) - 1
    assert b["worksheet/q1.7"] == "0.5" and float(b["score"]) == float(before[1]["score"]) + 0.5

    alice_json = json.loads((results_dir / "alice.json").read_text())
    t = next(t for t in alice_json["tests"] if t["name"] == "worksheet/q1.7")
    assert t["score"] == 2 and t["status"] == "failed" and "TA: 2/3, evaluate is missing" in t["output"]
    assert alice_json["score"] == pytest.approx(float(before[0]["score"]) - 1)


def test_ta_sheet_errors_name_the_row(tmp_path):
    bad = tmp_path / "ta.csv"
    with open(bad, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=ws.TA_COLUMNS)
        w.writeheader()
        w.writerow({"student": "alice", "question": "q1.7", "max_score": "3", "auto_score": "3", "ta_score": "4"})
    with pytest.raises(ws.WorksheetError, match=r"line 2 \(alice, q1.7\).*outside \[0, 3\]"):
        ws.read_ta_scores(bad)
    bad.write_text(bad.read_text().replace(",4,", ",lots,"))
    with pytest.raises(ws.WorksheetError, match="'lots' is not a number"):
        ws.read_ta_scores(bad)
