"""Grading a whole worksheet: the staff copy, the blank, a missing file, a zip, and what is visible when."""
from __future__ import annotations

import json
import re

import pytest

from autograder import worksheet as ws
from tests.worksheet_fixtures import blank_text, by_name, fill, key, make_submission, staff_text  # noqa: F401 (fixtures)

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)


def test_staff_worksheet_grades_to_full_marks(tmp_path, staff_text, key):
    sub = make_submission(tmp_path / "staff", staff_text)
    results = ws.grade_worksheet(sub)
    graded = [r for r in results if not ws.is_key_entry(r.name)]
    assert [r.name for r in graded] == [f"worksheet/{q}" for q in key]
    short = [(r.name, r.score, r.max_score, r.output) for r in graded if r.score != r.max_score]
    assert not short, f"staff answers that do not get full marks: {short}"
    doubted = [(r.name, r.extra["review"]) for r in graded if r.extra["review"] and not r.extra["review"].startswith("confirm")]
    assert not doubted, f"staff answers the grader doubts: {doubted}"
    to_ta = {f"worksheet/{q}" for q, k in key.items()
             if k.kind == "free" or (k.kind == "short" and not k.spec.get("final_when_confident"))}
    assert {r.name for r in graded if r.extra["manual"]} == to_ta, "free text and short answers go to the TA sheet"


def test_blank_worksheet_grades_to_zero_and_unanswered(tmp_path, blank_text, key):
    assert ws.STUB in blank_text and "57,823,240" not in blank_text
    results = ws.grade_worksheet(make_submission(tmp_path / "blank", blank_text, images=[]))
    graded = [r for r in results if not ws.is_key_entry(r.name)]
    assert len(graded) == len(key) >= 40
    for r in graded:
        assert r.score == 0 and (r.status == "failed" or r.max_score == 0), r  # optional questions: 0/0
        assert r.output == "unanswered", (r.name, r.output)


def test_missing_worksheet_file(tmp_path):
    (tmp_path / "empty").mkdir()
    results = ws.grade_worksheet(tmp_path / "empty")
    assert all(r.score == 0 for r in results)
    assert "no WORKSHEET.md found" in results[0].output


def test_worksheet_in_a_zip(tmp_path, staff_text):
    import zipfile

    with zipfile.ZipFile(tmp_path / "alice.zip", "w") as zf:
        zf.writestr("alice/WORKSHEET.md", staff_text)
    r = by_name(ws.grade_worksheet(tmp_path / "alice.zip"))
    assert r["worksheet/q3.4"].score == 2


def test_expected_answers_only_after_published(tmp_path, blank_text, key):
    wrong = {q: ("(a)" if k.kind == "choice" else "777" if k.kind == "number" else "I am not sure.")
             for q, k in key.items() if k.kind in ("number", "choice", "short")}
    results = ws.grade_worksheet(make_submission(tmp_path / "w", fill(blank_text, wrong), images=[]))
    keys = {r.name: r for r in results if ws.is_key_entry(r.name)}
    assert keys[ws.key_entry_name("q3.4")].output.count("57,823,240") >= 1
    assert "DATA.DATASET" in "".join(r.output for r in keys.values())
    assert all(r.visibility == "after_published" and r.max_score == 0 for r in keys.values())
    assert all(len(r.output.encode()) < 15 << 10 and " cut: feedback is limited" not in r.output for r in keys.values()), \
        "each answer-key entry must fit the per-test cap whole"
    for r in results:
        if ws.is_key_entry(r.name):
            continue
        q = key[r.name.split("/", 1)[1]]
        assert r.visibility == "visible" and r.score == 0
        secrets = [q.reference] if len(q.reference) > 3 else []
        if q.kind == "number" and q.expected is not None:
            secrets.append(ws.format_number(q.expected))
        if q.kind == "choice":
            secrets.append(f"({q.expected})")
        if q.kind == "short":
            secrets += [p.get("about", p["re"]) for p in q.spec["patterns"]]
        for s in secrets:
            assert not re.search(rf"(?<![\w.,]){re.escape(s)}(?![\w.,])", r.output), (r.name, s, r.output)
    assert all(json.dumps(r.to_json()) for r in results)  # the schema serialises


def test_every_kind_has_one_grader():
    assert set(ws.GRADERS) == set(ws.KINDS)
