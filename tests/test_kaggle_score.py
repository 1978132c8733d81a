"""kaggle score and kaggle solution: accuracies against a hand computation, the seeded split, the
staff label formats and their errors."""
from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from autograder.kaggle import (KaggleError, load_labels, load_solution, score_submission,
                               split_public_private, validate_submission, write_competition_files)

# 10 test images. Public rows: Ids 1, 4, 8. Private: the other 7.
LABELS = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
USAGE = ["Private", "Public", "Private", "Private", "Public", "Private", "Private", "Private", "Public", "Private"]


@pytest.fixture
def solution_csv(tmp_path):
    path = tmp_path / "solution.csv"
    frame = pd.DataFrame({"Id": range(10), "Category": LABELS, "Usage": USAGE})
    frame.iloc[::-1].to_csv(path, index=False)  # rows in reverse: the solution may be in any order
    return path


def write_submission(path, predictions):
    path.write_text("Id,Category\n" + "".join(f"{i},{c}\n" for i, c in enumerate(predictions)))
    return path


def test_score_matches_hand_computation(tmp_path, solution_csv):
    # Predictions differ from LABELS at Ids 1 (public), 2, 5 (private).
    predictions = [0, 2, 0, 0, 1, 0, 0, 1, 2, 0]
    # public: Ids 1 wrong, 4 right, 8 right -> 2/3; private: Ids 0,3,6,7,9 right, 2,5 wrong -> 5/7.
    result = score_submission(write_submission(tmp_path / "s.csv", predictions), solution_csv, num_classes=3)
    assert result == {"public": pytest.approx(2 / 3), "private": pytest.approx(5 / 7), "public_rows": 3,
                      "private_rows": 7, "valid": True}


def test_score_of_an_invalid_file_lists_its_problems(tmp_path, solution_csv):
    path = write_submission(tmp_path / "s.csv", [0] * 9)
    assert score_submission(path, solution_csv) == {"valid": False, "problems": [
        "file: 9 data rows; expected 10 rows, one per test image",
        "file: 1 Id missing: 9; expected every Id in 0..9 exactly once"]}


def test_ignored_rows_count_in_neither_split(tmp_path):
    path = tmp_path / "solution.csv"
    pd.DataFrame({"Id": [0, 1, 2], "Category": [1, 1, 1], "Usage": ["Public", "Ignored", "Private"]}).to_csv(
        path, index=False)
    result = score_submission(write_submission(tmp_path / "s.csv", [1, 0, 0]), path)
    assert (result["public"], result["private"], result["public_rows"], result["private_rows"]) == (1.0, 0.0, 1, 1)


@pytest.mark.parametrize("content, match", [
    ("Id,Category\n0,1\n", "lacking \\['Usage'\\]"),
    ("Id,Category,Usage\n0,1,Public\n0,1,Private\n", "Ids must be 0..1"),
    ("Id,Category,Usage\n0,1,Public\n1,1,Secret\n", "Usage values \\['Secret'\\]"),
    ("Id,Category,Usage\n0,x,Public\n", "must be integers"),
    ("Id,Category,Usage\n0,-1,Public\n", "Category -1 is negative"),
])
def test_bad_solution_files_name_the_fix(tmp_path, content, match):
    path = tmp_path / "solution.csv"
    path.write_text(content)
    with pytest.raises(KaggleError, match=match):
        load_solution(path)
    with pytest.raises(KaggleError, match="not found; make one with"):
        load_solution(tmp_path / "absent.csv")


def test_split_is_seeded_with_the_right_fraction():
    a = split_public_private(1000, 0.3, seed=0)
    assert a.dtype == bool and a.sum() == 300
    np.testing.assert_array_equal(a, split_public_private(1000, 0.3, seed=0))
    assert (a != split_public_private(1000, 0.3, seed=1)).any()
    assert split_public_private(7, 0.5, seed=0).sum() == 4  # round(3.5) = 4 (banker's: round half to even)
    for bad in (0, 1, -0.1, 1.5):
        with pytest.raises(KaggleError, match="strictly between 0 and 1"):
            split_public_private(10, bad, seed=0)


def test_competition_files_round_trip(tmp_path):
    labels = np.random.default_rng(0).integers(0, 5, 50)
    summary = write_competition_files(labels, tmp_path / "comp", public_fraction=0.2, seed=3, sample_class=2)
    assert (summary["rows"], summary["public_rows"], summary["private_rows"]) == (50, 10, 40)
    solution = pd.read_csv(tmp_path / "comp" / "solution.csv")
    assert list(solution.columns) == ["Id", "Category", "Usage"]
    np.testing.assert_array_equal(solution["Category"], labels)
    np.testing.assert_array_equal(solution["Usage"] == "Public", split_public_private(50, 0.2, seed=3))
    sample = tmp_path / "comp" / "sample_submission.csv"
    assert validate_submission(sample, 50, 5) == []
    assert set(pd.read_csv(sample)["Category"]) == {2}
    # the sample scores like a constant prediction
    result = score_submission(sample, tmp_path / "comp" / "solution.csv")
    assert result["private"] == pytest.approx(float(np.mean(labels[~split_public_private(50, 0.2, 3)] == 2)))


def test_labels_from_hdf5_csv_and_npy(tmp_path):
    labels = np.array([3, 1, 4, 1, 5])
    with h5py.File(tmp_path / "medium.hdf5", "w") as f:
        f["images-test"] = np.zeros((5, 3, 2, 2), dtype=np.uint8)
        f["labels-test"] = labels
    np.testing.assert_array_equal(load_labels(tmp_path / "medium.hdf5"), labels)
    pd.DataFrame({"Id": [4, 0, 3, 1, 2], "Category": [5, 3, 1, 1, 4]}).to_csv(tmp_path / "labels.csv", index=False)
    np.testing.assert_array_equal(load_labels(tmp_path / "labels.csv"), labels)
    np.save(tmp_path / "labels.npy", labels.reshape(5, 1))
    np.testing.assert_array_equal(load_labels(tmp_path / "labels.npy"), labels)


def test_label_errors_name_the_fix(tmp_path):
    with h5py.File(tmp_path / "student.hdf5", "w") as f:
        f["images-test"] = np.zeros((2, 3, 2, 2), dtype=np.uint8)
    with pytest.raises(KaggleError, match="no dataset 'labels-test'.*staff copy"):
        load_labels(tmp_path / "student.hdf5")
    np.save(tmp_path / "unlabeled.npy", np.array([-1, -1]))
    with pytest.raises(KaggleError, match="-1 at Id 0"):
        load_labels(tmp_path / "unlabeled.npy")
    (tmp_path / "x.txt").write_text("1")
    with pytest.raises(KaggleError, match="unknown type '.txt'"):
        load_labels(tmp_path / "x.txt")
    with pytest.raises(KaggleError, match="not found"):
        load_labels(tmp_path / "absent.hdf5")
    with pytest.raises(KaggleError, match="sample class -1"):
        write_competition_files(np.array([0, 1]), tmp_path / "o", sample_class=-1)
