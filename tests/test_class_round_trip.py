"""The TA round trip for a whole class, as the course staff run it:

    grade-all --nbgrader-db  ->  worksheet-export --class  ->  a TA edits the sheet in a spreadsheet
    (saved as Excel saves it: cp1252 "CSV" or "CSV UTF-8" with a BOM)  ->  worksheet-merge

ends with the same totals in gradebook.csv, every results JSON and the nbgrader gradebook. The
code items are stubbed (they run in the sandbox and are tested in test_grade.py); the worksheet
and Kaggle steps are the real ones.
"""
from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

import autograder.grade as grade
from autograder import worksheet as ws
from autograder.cli import main
from autograder.results import TestResult
from autograder.worksheet.ta_sheet import score_text
from tests.test_release import REPO, shared_handout
from tests.worksheet_fixtures import blank_text, fill, key, make_submission, staff_text  # noqa: F401 (fixtures)

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)

TA_SCORES = {("alice", "q1.7"): ("2", "evaluate is missing"), ("Zoë", "q1.7"): ("1.5", "très bien"),
             ("bob", "q2.3"): ("0.5", "")}


def _class(root: Path, staff_text: str, blank_text: str) -> Path:
    subs = root / "subs"
    make_submission(subs / "alice", staff_text)
    zoe = fill(blank_text, {"q1.7": "=1+1 main reads the config, builds the loaders and the model, then trains. " * 3,
                            "q3.4": "57.8M"})
    with zipfile.ZipFile(subs / "Zoë.zip", "w") as z:
        z.writestr("WORKSHEET.md", zoe)
    with zipfile.ZipFile(subs / "bob.zip", "w") as z:  # a stray draft beside the handed-in hw/ folder
        z.writestr("WORKSHEET.md", blank_text)
        z.writestr("hw/WORKSHEET.md", fill(blank_text, {"q2.3": "Normalize subtracts the mean and divides by the std "
                                                               "per channel; training adds random augmentation."}))
        z.writestr("hw/models/vit.py", (REPO / "models" / "vit.py").read_text())
    (subs / "carol").mkdir()  # hands in nothing
    return subs


def _edit_as_excel(sheet: Path, encoding: str) -> None:
    """Open the export, type the TA scores, save in ``encoding`` with CRLF line ends."""
    rows = list(csv.DictReader(open(sheet, encoding="utf-8-sig", newline="")))
    for r in rows:
        if (r["student"], r["question"]) in TA_SCORES:
            r["ta_score"], r["ta_comment"] = TA_SCORES[(r["student"], r["question"])]
    with open(sheet, "w", encoding=encoding, newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)


def _nbgrader_scores(db: Path, assignment: str) -> dict[str, dict]:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{db}") as gb:
        for student in gb.students:
            sub = gb.find_submission(assignment, student.id)
            grades = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
            out[student.id] = {"total": sub.score, "grades": grades}
    return out


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig"])
def test_class_round_trip_ends_with_the_same_totals_everywhere(tmp_path, monkeypatch, staff_text, blank_text, encoding):
    monkeypatch.setattr(grade, "grade_code", lambda w, limits=None, privileged=None: (
        [TestResult("vit/PatchEmbed", 5.0, 5.0), TestResult("vit/MlpBlock", 0.0, 5.0)], ["stub"]))
    subs = _class(tmp_path, staff_text, blank_text)
    out, db = tmp_path / "out", tmp_path / "gradebook.db"
    assert main(["grade-all", str(subs), "--out", str(out), "--nbgrader-db", str(db), "--assignment", "hw",
                 "--repo", str(REPO), "--handout", str(shared_handout())]) == 0
    before = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*.json")}
    assert sorted(before) == ["Zoë", "alice", "bob", "carol"]

    sheet = tmp_path / "ta.csv"
    assert main(["worksheet-export", "--class", str(subs), "--out", str(sheet)]) == 0
    exported = list(csv.DictReader(open(sheet, encoding="utf-8-sig")))
    for r in exported:  # the export suggests what grade-all gave: both went through the same door
        test = next(t for t in before[r["student"]]["tests"] if t["name"] == f"worksheet/{r['question']}")
        assert float(r["auto_score"]) == test["score"], r
    assert {(r["student"], r["question"]) for r in exported} >= set(TA_SCORES)
    assert next(r for r in exported if r["student"] == "Zoë" and r["question"] == "q1.7")["answer"].startswith("'=1+1")

    _edit_as_excel(sheet, encoding)
    args = ["worksheet-merge", str(sheet), "--gradebook", str(out / "gradebook.csv"), "--results-dir", str(out),
            "--nbgrader-db", str(db), "--assignment", "hw"]
    for _ in range(2):  # merging twice changes nothing more
        assert main(args) == 0

    gradebook = {r["student"]: r for r in csv.DictReader(open(out / "gradebook.csv", encoding="utf-8"))}
    nb = _nbgrader_scores(db, "hw")
    for student, old in before.items():
        data = json.loads((out / f"{student}.json").read_text(encoding="utf-8"))
        tests = {t["name"]: t for t in data["tests"]}
        ta = {f"worksheet/{q}": float(s) for (st, q), (s, _) in TA_SCORES.items() if st == student}
        for name, t in tests.items():
            want = ta.get(name, next(o["score"] for o in old["tests"] if o["name"] == name))
            assert t["score"] == want and float(gradebook[student][name]) == want, (student, name)
            assert nb[student]["grades"][name] == pytest.approx(want), (student, name)
        for name in ta:
            assert tests[name]["output"].count("TA: ") == 1 and "provisional" not in tests[name]["output"]
        assert gradebook[student]["total"] == score_text(data["score"])
        assert nb[student]["total"] == pytest.approx(data["score"], abs=1e-6)
        assert data["score"] == pytest.approx(old["score"] + sum(ta[n] - next(o["score"] for o in old["tests"] if o["name"] == n)
                                                                 for n in ta))
    assert json.loads((out / "Zoë.json").read_text(encoding="utf-8"))["score"] != before["Zoë"]["score"]
