"""The TA round trip: export free-text answers, merge TA scores back."""
from __future__ import annotations

import csv
import io
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
    manual = sum(r.extra["manual"] for sub in (alice, bob) for r in ws.grade_worksheet(sub, key_entry=False))
    assert len(rows) == manual >= 2 * len(free) and set(rows[0]) == set(ws.TA_COLUMNS)
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


# ---------------------------------------------------------------------------------------------
# The sheet as Excel sees it, and merging it back as a TA would
# ---------------------------------------------------------------------------------------------
STUDENTS = ("alice", "Zoë Müller")


def _result(name: str, score: float, max_score: float, **extra) -> Result:
    return Result(name, score, max_score, output=extra.pop("output", ""), extra=extra)


def _class(tmp_path: Path, staff_text: str, blank_text: str) -> tuple[Path, Path, dict]:
    """Two students graded on the worksheet alone; gradebook.csv and <student>.json as grade-all writes them."""
    from autograder.grade import write_gradebook
    from autograder.results import write_results

    alice = make_submission(tmp_path / "subs" / "alice", staff_text)
    zoe = make_submission(tmp_path / "subs" / "zoe", fill(blank_text, {"q1.7": "main calls train_one_epoch. " * 6}), images=[])
    results_dir = tmp_path / "results"
    data = {}
    for name, sub in zip(STUDENTS, (alice, zoe)):
        data[name] = write_results(str(results_dir / f"{name}.json"), ws.grade_worksheet(sub, key_entry=False))
    gradebook = write_gradebook(data, tmp_path / "gradebook.csv")
    return gradebook, results_dir, data


def _sheet(path: Path, rows: list[dict], encoding: str, delimiter: str = ",") -> Path:
    """A TA sheet as a spreadsheet program saves it (CRLF line ends, the given encoding)."""
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.DictWriter(f, fieldnames=["student", "question", "max_score", "ta_score", "ta_comment"],
                           delimiter=delimiter, lineterminator="\r\n", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def test_export_has_a_bom_neutralised_formulas_and_review_rows(tmp_path):
    graded = {
        "Zoë Müller": [
            _result("worksheet/q1.7", 3, 3, kind="free", manual=True, answer="=HYPERLINK(\"http://x\",\"y\")",
                    reference="ref", key="reference answer"),
            _result("worksheet/q4.3", 2, 2, kind="short", review="short answer: check the suggested score",
                    answer="+1 it clips", evidence="credit for: the key; matched 'clip'", reference="-r"),
            _result("worksheet/q3.4", 2, 2, kind="number", answer="@57.8M"),  # final: not exported
        ],
        "-bob": [_result("worksheet/q1.7", 0, 3, kind="free", manual=True, answer="\tcmd|' /C calc'!A0")],
    }
    out = tmp_path / "ta.csv"
    assert ws.export_free_text(graded, out) == 3
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "Zoë Müller".encode() in raw
    rows = list(csv.DictReader(open(out, encoding="utf-8-sig")))
    assert [(r["student"], r["question"]) for r in rows] == [("'-bob", "q1.7"), ("Zoë Müller", "q1.7"), ("Zoë Müller", "q4.3")]
    assert rows[0]["answer"] == "'\tcmd|' /C calc'!A0"
    assert rows[1]["answer"] == "'=HYPERLINK(\"http://x\",\"y\")" and rows[1]["review"] == "free text: a TA grades it"
    assert rows[2]["answer"] == "'+1 it clips" and rows[2]["reference"] == "'-r"
    assert rows[2]["auto_score"] == "2" and rows[2]["review"].startswith("short answer")
    assert rows[2]["evidence"] == "credit for: the key; matched 'clip'"
    for r in rows:
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in r.values())
    assert ws.csv_safe("3") == "3" and ws.csv_safe("") == ""


@pytest.mark.parametrize("encoding, delimiter", [("cp1252", ","), ("utf-8-sig", ","), ("cp1252", ";"), ("utf-16", "\t")])
def test_merge_reads_what_excel_saves(tmp_path, staff_text, blank_text, encoding, delimiter):
    gradebook, results_dir, data = _class(tmp_path, staff_text, blank_text)
    sheet = _sheet(tmp_path / "ta.csv", [{"student": "Zoë Müller", "question": "q1.7", "max_score": "3",
                                          "ta_score": "1,5" if delimiter == ";" else "1.5", "ta_comment": "très bien"}],
                   encoding, delimiter)
    report = ws.merge_ta_sheet(sheet, gradebook=gradebook, results_dir=results_dir)
    assert report.merged == 1 and report.problems == []
    zoe = json.loads((results_dir / "Zoë Müller.json").read_text(encoding="utf-8"))
    t = next(t for t in zoe["tests"] if t["name"] == "worksheet/q1.7")
    assert t["score"] == 1.5 and t["output"].endswith("TA: 1.5/3, très bien")
    import pandas as pd

    gb = pd.read_csv(gradebook).set_index("student")
    assert gb.loc["Zoë Müller", "worksheet/q1.7"] == 1.5


def test_every_bad_row_is_reported_once_and_the_good_rows_merge(tmp_path, staff_text, blank_text, capsys):
    from autograder.cli import main

    gradebook, results_dir, data = _class(tmp_path, staff_text, blank_text)
    before = gradebook.read_text()
    rows = [
        {"student": "alice", "question": "q1.7", "max_score": "3", "ta_score": "lots"},       # line 2: not a number
        {"student": "alice", "question": "q2.3", "max_score": "2", "ta_score": "5"},          # line 3: out of range
        {"student": "mallory", "question": "q1.7", "max_score": "3", "ta_score": "1"},        # line 4: unknown student
        {"student": "alice", "question": "q99.1", "max_score": "3", "ta_score": "1"},         # line 5: unknown question
        {"student": "alice", "question": "q3.9", "max_score": "3", "ta_score": "1"},          # line 6: duplicate ...
        {"student": "alice", "question": "q3.9", "max_score": "3", "ta_score": "2"},          # line 7: ... different score
        {"student": "Zoë Müller", "question": "q1.7", "max_score": "3", "ta_score": "2"},     # line 8: good
        {"student": "alice", "question": "q4.1", "max_score": "2", "ta_score": ""},           # blank: keeps the suggestion
    ]
    sheet = _sheet(tmp_path / "ta.csv", rows, "cp1252")
    assert main(["worksheet-merge", str(sheet), "--gradebook", str(gradebook), "--results-dir", str(results_dir)]) == 1
    out = capsys.readouterr()
    errors = [ln for ln in out.err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 5, out.err
    for line, words in [(2, "'lots' is not a number"), (3, "outside [0, 2]"), (4, "'mallory' is not in"),
                        (5, "worksheet/q99.1 is not a column"), (7, "line 6 gives 1")]:
        assert any(f"line {line} " in e and words in e for e in errors), (line, words, errors)
    assert "merged 1 TA scores" in out.out
    import pandas as pd

    gb = pd.read_csv(gradebook).set_index("student")
    old = pd.read_csv(io.StringIO(before)).set_index("student")
    changed = {(s, c) for s in gb.index for c in gb.columns if gb.loc[s, c] != old.loc[s, c]}
    assert changed == {("Zoë Müller", "worksheet/q1.7"), ("Zoë Müller", "total")}
    alice = json.loads((results_dir / "alice.json").read_text())
    assert alice == data["alice"]  # nothing of alice's bad rows was merged


def test_remerge_is_idempotent_and_drops_provisional(tmp_path, staff_text, blank_text):
    gradebook, results_dir, data = _class(tmp_path, staff_text, blank_text)
    t = next(t for t in data["alice"]["tests"] if t["name"] == "worksheet/q1.7")
    assert "provisional" in t["output"]
    sheet = _sheet(tmp_path / "ta.csv", [{"student": "alice", "question": "q1.7", "max_score": "3", "ta_score": "2",
                                          "ta_comment": "evaluate is missing"}], "utf-8-sig")
    for _ in range(2):
        ws.merge_ta_sheet(sheet, gradebook=gradebook, results_dir=results_dir)
        first = (gradebook.read_text(), (results_dir / "alice.json").read_text())
    ws.merge_ta_sheet(sheet, gradebook=gradebook, results_dir=results_dir)
    assert (gradebook.read_text(), (results_dir / "alice.json").read_text()) == first
    alice = json.loads(first[1])
    t = next(t for t in alice["tests"] if t["name"] == "worksheet/q1.7")
    assert t["output"].count("TA: ") == 1 and "provisional" not in t["output"]
    assert t["output"].endswith("\nTA: 2/3, evaluate is missing") and t["status"] == "failed"


def test_totals_are_the_same_in_csv_and_json(tmp_path, staff_text, blank_text):
    gradebook, results_dir, _ = _class(tmp_path, staff_text, blank_text)
    free = ("q1.7", "q2.3", "q3.9", "q4.1")
    sheet = _sheet(tmp_path / "ta.csv", [{"student": s, "question": q, "max_score": "3", "ta_score": "0.1"}
                                         for s in STUDENTS for q in free], "utf-8-sig")
    ws.merge_ta_sheet(sheet, gradebook=gradebook, results_dir=results_dir)
    rows = {r["student"]: r for r in csv.DictReader(open(gradebook, encoding="utf-8"))}
    for s in STUDENTS:
        data = json.loads((results_dir / f"{s}.json").read_text(encoding="utf-8"))
        assert rows[s]["total"] == ws.ta_sheet.score_text(data["score"])  # the same text, not just close
        assert data["score"] == ws.total_of(t["score"] for t in data["tests"])


def test_merged_scores_reach_the_nbgrader_gradebook(tmp_path, staff_text, blank_text):
    from nbgrader.api import Gradebook

    from autograder.grade import write_nbgrader_gradebook

    gradebook, results_dir, data = _class(tmp_path, staff_text, blank_text)
    db = tmp_path / "gradebook.db"
    write_nbgrader_gradebook(data, str(db), "hw")
    sheet = _sheet(tmp_path / "ta.csv", [{"student": "Zoë Müller", "question": "q1.7", "max_score": "3", "ta_score": "2.5"}],
                   "cp1252")
    report = ws.merge_ta_sheet(sheet, results_dir=results_dir, nbgrader_db=str(db), assignment="hw")
    assert report.merged == 1 and not report.problems
    zoe = json.loads((results_dir / "Zoë Müller.json").read_text(encoding="utf-8"))
    with Gradebook(f"sqlite:///{db}") as gb:
        grade = gb.find_grade("worksheet/q1.7", "worksheet", "hw", "Zoë Müller")
        assert grade.manual_score == 2.5 and grade.score == 2.5
        assert gb.find_submission("hw", "Zoë Müller").score == pytest.approx(zoe["score"], abs=1e-6)
    bad = ws.merge_ta_sheet(_sheet(tmp_path / "bad.csv", [{"student": "nobody", "question": "q1.7", "ta_score": "1"}], "cp1252"),
                            nbgrader_db=str(db), assignment="hw")
    assert bad.merged == 0 and "no worksheet/q1.7 for student 'nobody'" in bad.problems[0]


def test_a_regrade_after_a_merge_leaves_no_stale_ta_score_in_nbgrader(tmp_path, staff_text, blank_text):
    """grade-all run again (a rubric fix) rewrites gradebook.csv and the results with automatic
    scores; the nbgrader gradebook must agree with them, not keep the earlier TA score as its
    manual score (its total then differed from gradebook.csv's), and the count of TA scores
    replaced is returned so the command can say to merge the TA sheet again."""
    from nbgrader.api import Gradebook

    from autograder.grade import write_nbgrader_gradebook

    gradebook, results_dir, data = _class(tmp_path, staff_text, blank_text)
    db = tmp_path / "gradebook.db"
    assert write_nbgrader_gradebook(data, str(db), "hw") == 0
    sheet = _sheet(tmp_path / "ta.csv", [{"student": "Zoë Müller", "question": "q1.7", "max_score": "3", "ta_score": "0.5"}],
                   "cp1252")
    assert ws.merge_ta_sheet(sheet, results_dir=results_dir, nbgrader_db=str(db), assignment="hw").merged == 1
    assert write_nbgrader_gradebook(data, str(db), "hw") == 1  # the regrade: fresh automatic scores
    with Gradebook(f"sqlite:///{db}") as gb:
        grade = gb.find_grade("worksheet/q1.7", "worksheet", "hw", "Zoë Müller")
        assert grade.manual_score is None
        assert gb.find_submission("hw", "Zoë Müller").score == pytest.approx(data["Zoë Müller"]["score"], abs=1e-6)
    assert ws.merge_ta_sheet(sheet, nbgrader_db=str(db), assignment="hw").merged == 1  # merging again restores it
    with Gradebook(f"sqlite:///{db}") as gb:
        assert gb.find_grade("worksheet/q1.7", "worksheet", "hw", "Zoë Müller").manual_score == 0.5


def test_a_flagged_short_answer_goes_out_with_its_evidence_and_comes_back_final(tmp_path, blank_text):
    """A short answer the grader is not sure of is a suggestion on the sheet; the TA's score makes it final."""
    from autograder.grade import write_gradebook
    from autograder.results import write_results

    sub = make_submission(tmp_path / "subs" / "dan", fill(blank_text, {
        "q4.3": "CLIP_GRAD does not protect against exploding gradients; it causes them."}), images=[])
    results = ws.grade_worksheet(sub, key_entry=False)
    r = next(r for r in results if r.name == "worksheet/q4.3")
    assert r.extra["review"] and r.extra["manual"]
    sheet = tmp_path / "ta.csv"
    ws.export_free_text({"dan": results}, sheet)
    row = next(x for x in csv.DictReader(open(sheet, encoding="utf-8-sig")) if x["question"] == "q4.3")
    assert row["review"] == r.extra["review"] and row["auto_score"] == ws.ta_sheet.score_text(r.score)
    assert row["evidence"] and row["answer"].startswith("CLIP_GRAD does not protect")
    data = {"dan": write_results(str(tmp_path / "out" / "dan.json"), results)}
    write_gradebook(data, tmp_path / "out" / "gradebook.csv")
    row["ta_score"] = "0"
    _sheet(sheet, [row], "cp1252")
    report = ws.merge_ta_sheet(sheet, gradebook=tmp_path / "out" / "gradebook.csv", results_dir=tmp_path / "out")
    assert report.merged == 1 and not report.problems
    t = next(t for t in json.loads((tmp_path / "out" / "dan.json").read_text())["tests"] if t["name"] == "worksheet/q4.3")
    assert t["score"] == 0 and t["output"].endswith("TA: 0/2") and "a TA reviews" not in t["output"]
    assert "suggested" not in t["output"]
