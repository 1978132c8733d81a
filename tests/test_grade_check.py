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
    assert "3 of 3 public checks pass" in out and "FAIL" not in out
    assert "Your code ran in a sandbox with all 1 protections in force" in out and "a protection" not in out


def test_bad_csv_and_empty_answer_fail_exit_1(tmp_path, code_passes, capsys):
    (tmp_path / "submission.csv").write_text("Id,Category\n1,3\n2,0\n")  # 1-based ids
    (tmp_path / "WORKSHEET.md").write_text(WORKSHEET)
    assert _exit(tmp_path) == 1
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line[:1].isalpha() and "/" in line.split()[0]}
    assert "PASS" in rows["vit/PatchEmbed"]
    assert "FAIL" in rows["kaggle/format"] and "1-based" in out
    assert "FAIL" in rows["worksheet/answered"] and "still empty: q2" in out
    assert "1 of 3 public checks pass" in out


def test_no_csv_no_worksheet_only_code(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(check, "check_code", lambda root: ([schema.TestResult("vit/MlpBlock", 0, 5, "not implemented\nline 2")], []))
    assert _exit(tmp_path) == 1
    out = capsys.readouterr().out
    assert "vit/MlpBlock" in out and "not implemented\n    line 2" in out and "kaggle" not in out


def test_format_table_wraps_long_feedback():
    r = schema.TestResult("vit/Encoder", 0, 5, "x " * 200)
    lines = check.format_table([r], width=80).splitlines()
    assert len(lines) > 3 and all(len(line) <= 80 for line in lines)


def test_failing_item_shows_its_whole_feedback_cut_to_a_screen():
    body = ["AddPositionEmbs: 0/2 configurations match the reference.",
            "FAILED configuration 1 (batch 2, 3 tokens, embed_dim 6):",
            "  - output: max abs error 0.31 (largest expected value 2.1; allowed atol 1e-08 + rtol 1e-06 x |expected|)",
            "  - gradient of the input: shape [2, 3, 6] expected, got [2, 6, 3]",
            "Traceback (your code):", '  File "models/vit.py", line 80, in forward', "ValueError: boom",
            "Diagnosis: your results match a known mistake: the position embedding is not added."]
    r = schema.TestResult("vit/AddPositionEmbs", 0, 2, "\n".join(body))
    table = check.format_table([r, schema.TestResult("vit/MlpBlock", 5, 5, "3/3 match\nmore detail")])
    for piece in ("FAILED configuration 1 (batch 2, 3 tokens, embed_dim 6):", "output: max abs error 0.31",
                  "gradient of the input: shape [2, 3, 6] expected, got [2, 6, 3]", 'File "models/vit.py", line 80',
                  "ValueError: boom", "Diagnosis: your results match a known mistake: the position embedding"):
        assert piece in table  # configuration, max error, shapes, traceback, diagnosis
    assert "more detail" not in table  # a passing check stays one line
    long = schema.TestResult("vit/Encoder", 0, 5, "\n".join(f"line {i}" for i in range(100)))
    cut = check.format_table([long]).splitlines()
    assert "line 28" in "\n".join(cut) and "line 40" not in "\n".join(cut)
    assert "70 more lines: `python -m autograder check --full` shows everything" in cut[-1]
    assert "line 99" in check.format_table([long], screen_lines=None)


def test_sandbox_is_one_line_unless_a_protection_is_missing():
    ok = ["PID namespace: ...", "network namespace: no network at all", "resource limits per process: ..."]
    assert check.sandbox_summary(ok) == ("Your code ran in a sandbox with all 3 protections in force "
                                         "(`python -m autograder check --sandbox` lists them).")
    assert check.sandbox_summary(ok, verbose=True).splitlines()[1:] == [f"  - {p}" for p in ok]
    plain = ["NO namespaces (the kernel refused them): the child sees the file system", "runs as ROOT (the Python "
             "install is not reachable by an unprivileged user, so the uid could not be dropped)", "limits"]
    text = check.sandbox_summary(plain).splitlines()
    assert text[0] == "Your code ran in a sandbox, but on this machine some protections are MISSING:"
    assert text[1].startswith("  - NO namespaces") and text[2].startswith("  - runs as ROOT")
    assert text[3:] == ["In force:", "  - limits"]
    assert check.sandbox_summary([]) == ""


def test_csv_rules_are_the_graded_items(tmp_path, code_passes, capsys):
    """A Category of 500 passes nothing: check applies the graded item's class count (0..199) and
    gives the grader's own message (issue 12 item 9)."""
    from autograder.kaggle import grade_submission_item
    from autograder.kaggle.item import DEFAULTS

    (tmp_path / "submission.csv").write_text("Id,Category\n0,500\n1,3\n")
    assert _exit(tmp_path) == 1
    out = capsys.readouterr().out
    graded = grade_submission_item(tmp_path, DEFAULTS)
    assert graded.score == 0
    problem = [line for line in graded.output.splitlines() if "500" in line][0]
    assert "0..199" in problem and problem.strip() in out
    (tmp_path / "submission.csv").write_text("Id,Category\n0,199\n1,3\n")
    assert _exit(tmp_path) == 0
    assert "every Category in 0..199" in " ".join(capsys.readouterr().out.split())


def test_csv_row_count_follows_the_staff_solution(tmp_path, monkeypatch):
    """In the staff repository, with a solution configured, check counts rows as the grader does."""
    import pandas as pd

    from autograder.kaggle import item as kaggle_item

    pd.DataFrame({"Id": range(4), "Category": [0] * 4, "Usage": ["Public", "Public", "Private", "Private"]}).to_csv(
        tmp_path / "solution.csv", index=False)
    (tmp_path / "kaggle.yaml").write_text(f"num_classes: 3\nsolution: {tmp_path / 'solution.csv'}\n")
    monkeypatch.setattr(kaggle_item, "STAFF_CONFIG", tmp_path / "kaggle.yaml")
    (tmp_path / "submission.csv").write_text("Id,Category\n0,1\n1,2\n")
    (result,) = check.check_submission_csv(tmp_path)
    graded = kaggle_item.grade_submission_item(tmp_path)
    assert result.score == 0 and graded.score == 0
    assert "expected 4 rows" in result.output and result.output == graded.output
