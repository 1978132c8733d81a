"""The answer key and the staff worksheet's template are parsed once per file content: a class is
graded with one parse, and an edited key is read again (even an edit that keeps the size and the
modification time), and no caller can change what the next one gets."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from autograder import worksheet as ws
from autograder.worksheet import key as key_module
from autograder.worksheet.markers import parse_worksheet

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)

# q0.5's reference answer in the staff worksheet, and a wrong value of the same length
RIGHT, WRONG = "= 55\n", "= 56\n"


def _edit_in_place(path: Path, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` (same length) and put the modification time back: only the content changes."""
    assert len(old) == len(new)
    st = path.stat()
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def _q05(results) -> float:
    return next(r.score for r in results if r.name == "worksheet/q0.5")


def test_an_edited_staff_worksheet_changes_the_verdict(tmp_path):
    staff = tmp_path / "staff" / "WORKSHEET.md"
    staff.parent.mkdir()
    shutil.copyfile(ws.STAFF_WORKSHEET, staff)
    student = tmp_path / "student" / "WORKSHEET.md"
    student.parent.mkdir()
    shutil.copyfile(ws.STAFF_WORKSHEET, student)  # answers 55, the right value

    assert _q05(ws.grade_worksheet(student, staff_worksheet=staff)) == 1.0
    _edit_in_place(staff, RIGHT, WRONG)  # the key now expects 56
    assert ws.load_key(staff)[0]["q0.5"].expected == 56
    assert _q05(ws.grade_worksheet(student, staff_worksheet=staff)) == 0.0
    _edit_in_place(staff, WRONG, RIGHT)
    assert _q05(ws.grade_worksheet(student, staff_worksheet=staff)) == 1.0


def test_an_edited_rubric_is_read_again(tmp_path, monkeypatch):
    rubric = tmp_path / "worksheet.yaml"
    shutil.copyfile(ws.STAFF_RUBRIC, rubric)
    monkeypatch.setattr(key_module, "STAFF_RUBRIC", rubric)
    old = "q0.5: {kind: number, points: 1,"
    assert ws.load_key()[0]["q0.5"].points == 1.0
    assert ws.load_rubric(rubric)["questions"]["q0.5"]["points"] == 1
    _edit_in_place(rubric, old, old.replace("points: 1", "points: 3"))
    assert ws.load_key()[0]["q0.5"].points == 3.0
    assert ws.load_rubric(rubric)["questions"]["q0.5"]["points"] == 3


def test_a_broken_edit_is_reported_not_hidden_by_the_cache(tmp_path, monkeypatch):
    rubric = tmp_path / "worksheet.yaml"
    shutil.copyfile(ws.STAFF_RUBRIC, rubric)
    monkeypatch.setattr(key_module, "STAFF_RUBRIC", rubric)
    ws.load_key()  # parsed and kept
    _edit_in_place(rubric, "q0.5: {kind: number,", "q0.5: {kind: numbrr,")
    with pytest.raises(ws.WorksheetError, match=r"question q0.5: 'kind' must be one of"):
        ws.load_key()


def test_each_caller_gets_its_own_copy():
    questions, _ = ws.load_key()
    questions["q0.5"].points = 99.0
    questions["q0.5"].spec["points"] = 99
    del questions["q1.1"]
    again, _ = ws.load_key()
    assert again["q0.5"].points == 1.0 and again["q0.5"].spec["points"] == 1 and "q1.1" in again
    rubric = ws.load_rubric()
    rubric["questions"]["q0.5"]["points"] = 99
    assert ws.load_rubric()["questions"]["q0.5"]["points"] == 1


def test_preload_parses_the_key_once_for_the_class(monkeypatch):
    assert key_module.preload_key() is True

    def no_parse(*args, **kwargs):
        raise AssertionError("the unchanged rubric was parsed again")

    monkeypatch.setattr(key_module.yaml, "safe_load", no_parse)
    questions, _ = ws.load_key()  # from the parse preload_key made
    assert questions["q0.5"].expected == 55


def test_preload_never_raises(tmp_path):
    assert key_module.preload_key(tmp_path / "missing.md") is False


TEMPLATE = """# Part A

### A.1 The first question, long enough to be an anchor?

<!-- answer a.1 -->
<!-- end answer a.1 -->

### A.2 The second question, long enough to be an anchor?

<!-- answer a.2 -->
<!-- end answer a.2 -->
"""


def test_an_edited_template_is_parsed_again():
    """A student who deleted both markers of a.2 is read below the template's question line; a
    template whose question text changed no longer finds it there."""
    student = TEMPLATE.replace("<!-- answer a.2 -->\n<!-- end answer a.2 -->\n", "my answer to a.2\n")
    assert parse_worksheet(student, template=TEMPLATE)["a.2"].text == "my answer to a.2"
    assert parse_worksheet(student, template=TEMPLATE)["a.2"].found == "by question text"
    edited = TEMPLATE.replace("The second question", "The reworded question")
    assert parse_worksheet(student, template=edited)["a.2"].found == "missing"
    assert parse_worksheet(student, template=TEMPLATE)["a.2"].text == "my answer to a.2"
