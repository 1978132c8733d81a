"""The kaggle/submission graded item: missing, misplaced, invalid, valid, scored by accuracy with
thresholds, and a broken staff config (never raises)."""
from __future__ import annotations

import pandas as pd
import pytest

from autograder.kaggle import ITEM, KaggleError, grade_submission_item, load_staff_config
from autograder.kaggle import item as item_module

# 10 test images of class 0; the first 5 public.
SOLUTION = pd.DataFrame({"Id": range(10), "Category": [0] * 10, "Usage": ["Public"] * 5 + ["Private"] * 5})


def submit(workdir, predictions):
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "submission.csv"
    path.write_text("Id,Category\n" + "".join(f"{i},{c}\n" for i, c in enumerate(predictions)))
    return path


@pytest.fixture
def staff(tmp_path):
    SOLUTION.to_csv(tmp_path / "solution.csv", index=False)
    return {"solution": str(tmp_path / "solution.csv"), "num_classes": 3, "max_score": 10, "valid_points": 2,
            "floor_accuracy": 0.3, "full_accuracy": 0.7, "split": "private"}


def test_missing_file_scores_zero_with_the_message(tmp_path):
    result = grade_submission_item(tmp_path, {"num_classes": 3})
    assert (result.name, result.score, result.max_score, result.status) == (ITEM, 0, 10, "failed")
    assert result.output.startswith("no submission.csv found at the top of your submission")


def test_misplaced_file_gets_a_hint(tmp_path):
    submit(tmp_path / "output" / "run", [0, 1])
    result = grade_submission_item(tmp_path, {"num_classes": 3})
    assert result.score == 0
    assert "found output/run/submission.csv: move it to the top level" in result.output


def test_symlink_is_refused(tmp_path):
    target = submit(tmp_path / "elsewhere", [0, 1])
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "submission.csv").symlink_to(target)
    result = grade_submission_item(tmp_path / "sub", {"num_classes": 3})
    assert result.score == 0 and "symbolic link" in result.output


def test_invalid_file_scores_zero_with_the_lines(tmp_path):
    submit(tmp_path, [0, 5, 1])
    result = grade_submission_item(tmp_path, {"num_classes": 3, "expected_rows": 3})
    assert result.score == 0
    assert "line 3: Category 5 is out of range; expected a class index in 0..2" in result.output
    assert "python -m autograder kaggle validate submission.csv --expected-rows 3 --num-classes 3" in result.output


def test_valid_file_without_labels_earns_full_points(tmp_path):
    submit(tmp_path, [0, 1, 2])
    result = grade_submission_item(tmp_path, {"num_classes": 3, "expected_rows": 3, "max_score": 4})
    assert (result.score, result.max_score, result.status) == (4, 4, "passed")
    assert result.output == "submission.csv is valid: 3 rows."


@pytest.mark.parametrize("private_correct, score", [
    (0, 2.0),   # accuracy 0.0 <= floor: the valid-file points only
    (1, 2.0),   # 0.2
    (2, 4.0),   # 0.4: 2 + 8 * (0.4 - 0.3) / 0.4
    (3, 8.0),   # 0.6: 2 + 8 * 0.75
    (4, 10.0),  # 0.8 >= full
])
def test_points_follow_accuracy_between_the_thresholds(tmp_path, staff, private_correct, score):
    predictions = [1] * 5 + [0] * private_correct + [1] * (5 - private_correct)  # public all wrong
    submit(tmp_path / "w", predictions)
    result = grade_submission_item(tmp_path / "w", staff)
    assert result.score == pytest.approx(score)
    assert result.extra["accuracy"] == pytest.approx(private_correct / 5)
    assert result.extra["public"] == 0.0
    assert f"Accuracy on the private test rows: {private_correct / 5:.2%}" in result.output


def test_split_all_and_row_count_from_the_solution(tmp_path, staff):
    submit(tmp_path / "w", [0] * 5 + [1] * 5)  # public right, private wrong: 50% overall
    result = grade_submission_item(tmp_path / "w", {**staff, "split": "all"})
    assert result.extra["accuracy"] == 0.5 and result.score == pytest.approx(2 + 8 * 0.5)
    submit(tmp_path / "short", [0] * 9)
    assert "9 data rows; expected 10 rows" in grade_submission_item(tmp_path / "short", staff).output


@pytest.mark.parametrize("bad", [
    {"split": "secret"}, {"thresholds": 1}, {"floor_accuracy": 0.8}, {"valid_points": 11},
    {"solution": "/nonexistent/solution.csv"}, {"expected_rows": 3},
])
def test_staff_config_errors_never_raise(tmp_path, staff, bad):
    submit(tmp_path / "w", [0] * 10)
    result = grade_submission_item(tmp_path / "w", {**staff, **bad})
    assert result.score == 0 and result.status == "failed"
    assert "problem on the grader's side" in result.output and result.extra["error"]


def test_staff_yaml_is_read_and_checked(tmp_path, monkeypatch):
    (tmp_path / "kaggle.yaml").write_text("max_score: 5\nnum_classes: 3\nexpected_rows: 2\n")
    assert load_staff_config(tmp_path / "kaggle.yaml")["max_score"] == 5
    assert load_staff_config(tmp_path / "absent.yaml") == item_module.DEFAULTS
    (tmp_path / "bad.yaml").write_text("- a list\n")
    with pytest.raises(KaggleError, match="must hold a mapping"):
        load_staff_config(tmp_path / "bad.yaml")
    monkeypatch.setattr(item_module, "STAFF_CONFIG", tmp_path / "kaggle.yaml")
    submit(tmp_path / "w", [0, 2])
    assert grade_submission_item(tmp_path / "w").score == 5


def test_shipped_staff_config_loads():
    cfg = load_staff_config()
    assert cfg["num_classes"] == 200 and cfg["full_accuracy"] == 0.7


def test_private_score_is_a_separate_entry_shown_after_publishing(tmp_path, staff):
    """Before the deadline a student sees the public split only: the private accuracy (and the
    points that follow it) sit in kaggle/private with visibility after_published (issue 12 item 10)."""
    from autograder.kaggle import PRIVATE_ITEM, grade_submission_items

    submit(tmp_path / "w", [0] * 5 + [0, 0, 0, 1, 1])  # public 100%, private 60%
    public, private = grade_submission_items(tmp_path / "w", staff)
    assert (public.name, public.visibility, public.score, public.max_score) == (ITEM, "visible", 2, 2)
    assert "Accuracy on the public test rows (the public leaderboard's): 100.00%" in public.output
    assert "private" not in public.output.replace("kaggle/private", "").replace("from the private test rows", "")
    assert "60.00%" not in public.output
    assert (private.name, private.visibility, private.max_score) == (PRIVATE_ITEM, "after_published", 8)
    assert private.score == pytest.approx(6.0)  # 8 * (0.6 - 0.3) / 0.4
    assert "Accuracy on the private test rows: 60.00%" in private.output
    whole = grade_submission_item(tmp_path / "w", staff)
    assert public.score + private.score == pytest.approx(whole.score)


def test_invalid_file_still_gives_both_entries_and_public_split_is_one_entry(tmp_path, staff):
    from autograder.kaggle import grade_submission_items

    submit(tmp_path / "bad", [0, 1, 7])
    public, private = grade_submission_items(tmp_path / "bad", staff)
    assert public.score == 0 and "not in the format Kaggle accepts" in public.output
    assert private.score == 0 and private.visibility == "after_published"
    submit(tmp_path / "w", [0] * 10)
    (only,) = grade_submission_items(tmp_path / "w", {**staff, "split": "public"})
    assert only.name == ITEM and only.visibility == "visible" and only.score == 10
    (no_labels,) = grade_submission_items(tmp_path / "w", {"num_classes": 3})
    assert no_labels.score == no_labels.max_score
    (broken,) = grade_submission_items(tmp_path / "w", {**staff, "private_visibility": "later"})
    assert broken.score == 0 and "problem on the grader's side" in broken.output
