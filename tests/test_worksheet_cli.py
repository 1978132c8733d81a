"""The worksheet command line."""
from __future__ import annotations

import json

import pytest

from autograder import worksheet as ws
from tests.worksheet_fixtures import blank_text, key, make_submission, staff_text  # noqa: F401 (fixtures)

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)


def test_cli_table(tmp_path, staff_text, key, capsys):
    from autograder.cli import main

    sub = make_submission(tmp_path / "cli", staff_text)
    out_json = tmp_path / "results.json"
    assert main(["worksheet", str(sub / "WORKSHEET.md"), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["question", "kind", "score", "verdict", "feedback"]
    rows = [ln for ln in out[2:] if not ln.startswith("total")]
    assert len(rows) == len(key)
    assert rows[0].split()[:5] == ["q0.1", "short", "2/2", "TA", "review"]  # short answers: the TA confirms
    assert [r.split()[3:5] for r in rows if r.split()[1] == "free"][0] == ["TA", "grades"]
    most = sum(q.points for q in key.values())
    assert out[-1].startswith(f"total {ws.format_number(most)}/{ws.format_number(most)}")
    data = json.loads(out_json.read_text())
    assert data["score"] == most and ws.is_key_entry(data["tests"][-1]["name"])


def test_cli_bad_rubric_is_a_clear_error(tmp_path, capsys):
    from autograder.cli import main

    assert main(["worksheet", str(tmp_path), "--rubric", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml not found" in capsys.readouterr().err


@pytest.mark.parametrize("name, data, message", [
    ("empty", b"", "is empty"),
    ("blank", b"  \n\n ", "is empty"),
    ("binary", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "not a text file"),
])
def test_an_unreadable_worksheet_is_one_clear_error(tmp_path, capsys, name, data, message):
    from autograder.cli import main

    path = tmp_path / name / "WORKSHEET.md"
    path.parent.mkdir()
    path.write_bytes(data)
    assert main(["worksheet", str(path)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "WORKSHEET.md" in captured.err and "question" not in captured.out


def test_a_path_that_does_not_exist_is_one_clear_error(tmp_path, capsys):
    from autograder.cli import main

    assert main(["worksheet", str(tmp_path / "nope" / "WORKSHEET.md")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("layout, message", [
    ("empty folder", "no WORKSHEET.md"),
    ("code only", "no WORKSHEET.md"),
    ("not the worksheet", "no answer"),
])
def test_no_worksheet_to_grade_is_one_clear_error(tmp_path, capsys, layout, message):
    """`worksheet` on a folder without a WORKSHEET.md, or on a text file that is not the worksheet
    (no marker, no question text), says so once with exit 2, instead of 99 rows of zeros and exit 0."""
    from autograder.cli import main

    sub = tmp_path / "sub"
    sub.mkdir()
    if layout == "code only":
        (sub / "models").mkdir()
        (sub / "models" / "vit.py").write_text("import torch\n")
    target = sub
    if layout == "not the worksheet":
        target = sub / "gradebook.csv"
        target.write_text("student,total\nalice,12\n")
    assert main(["worksheet", str(target)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "question" not in captured.out


def test_an_untouched_worksheet_is_still_a_table_of_zeros(tmp_path, blank_text, capsys):
    """The handout's blank worksheet has every marker: it is graded (all unanswered), not refused."""
    from autograder.cli import main

    blank = tmp_path / "WORKSHEET.md"
    blank.write_text(blank_text)
    assert main(["worksheet", str(blank)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("total 0/")
