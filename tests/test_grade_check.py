"""autograder.check: the student's table and exit code (the code items stubbed out; the real run
inside a released handout is tests/test_release.py::test_handout_imports_and_check_reports_stubs_failing)."""
import argparse

import pytest

import autograder.check as check
from autograder import results as schema

WORKSHEET = """# Worksheet
1. How many parameters?
<!-- answer q1 -->
57.8M
<!-- end answer q1 -->
2. Why pre-LN?
<!-- answer q2 -->
YOUR ANSWER HERE
<!-- end answer q2 -->
"""


@pytest.fixture
def code_passes(monkeypatch):
    monkeypatch.setattr(check, "check_code", lambda root: ([schema.TestResult("vit/PatchEmbed", 5, 5, "3/3 match")],
                                                         ["a protection"]))


def _exit(root) -> int:
    return check._run(argparse.Namespace(dir=str(root)))


def test_all_public_checks_pass_exit_0(tmp_path, code_passes, capsys):
    (tmp_path / "submission.csv").write_text("Id,Category\n0,3\n1,0\n")
    (tmp_path / "WORKSHEET.md").write_text(WORKSHEET.replace("YOUR ANSWER HERE", "gradients flow"))
    assert _exit(tmp_path) == 0
    out = capsys.readouterr().out
    assert "vit/PatchEmbed" in out and "kaggle/format" in out and "2 of 2 answers filled in" in out
    assert "3 of 3 public checks pass" in out and "a protection" in out and "FAIL" not in out


def test_bad_csv_and_empty_answer_fail_exit_1(tmp_path, code_passes, capsys):
    (tmp_path / "submission.csv").write_text("Id,Category\n1,3\n2,0\n")  # 1-based ids
    (tmp_path / "WORKSHEET.md").write_text(WORKSHEET)
    assert _exit(tmp_path) == 1
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line[:1].isalpha() and "/" in line.split()[0]}
    assert "PASS" in rows["vit/PatchEmbed"]
    assert "FAIL" in rows["kaggle/format"] and "1-based" in rows["kaggle/format"]
    assert "FAIL" in rows["worksheet/answered"] and "still empty: q2" in out
    assert "1 of 3 public checks pass" in out


def test_no_csv_no_worksheet_only_code(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(check, "check_code", lambda root: ([schema.TestResult("vit/MlpBlock", 0, 5, "not implemented\nline 2")], []))
    assert _exit(tmp_path) == 1
    out = capsys.readouterr().out
    assert "vit/MlpBlock" in out and "not implemented / line 2" in out and "kaggle" not in out


def test_format_table_wraps_long_feedback():
    r = schema.TestResult("vit/Encoder", 0, 5, "x " * 200)
    lines = check.format_table([r], width=80).splitlines()
    assert len(lines) > 3 and all(len(line) <= 80 for line in lines)
