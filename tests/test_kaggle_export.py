"""kaggle export: submission.csv from a fake run folder, array files, ensembles, and the errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from autograder.kaggle import KaggleError, export_submission, load_scores, validate_submission


@pytest.fixture
def logits():
    return np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)  # [N, C]


def read(path) -> list[int]:
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["Id", "Category"] and list(frame["Id"]) == list(range(len(frame)))
    return frame["Category"].tolist()


def test_export_from_a_run_folder(tmp_path, logits):
    run = tmp_path / "output" / "resnet18_cifar10"
    run.mkdir(parents=True)
    np.save(run / "test_logits.npy", logits)
    (run / "config.yaml").write_text("MODEL:\n  NAME: resnet18\n")
    summary = export_submission([run], tmp_path / "submission.csv")
    assert summary["rows"] == 12 and summary["num_classes"] == 5
    assert read(tmp_path / "submission.csv") == logits.argmax(1).tolist()
    assert validate_submission(tmp_path / "submission.csv", 12, 5) == []


def test_export_from_npz_pt_and_predictions(tmp_path, logits):
    np.savez(tmp_path / "a.npz", logits=logits)
    torch.save({"logits": torch.from_numpy(logits)}, tmp_path / "b.pt")
    predictions = np.array([4, 0, 3])
    np.save(tmp_path / "p.npy", predictions)
    for source in ("a.npz", "b.pt"):
        export_submission([tmp_path / source], tmp_path / "s.csv")
        assert read(tmp_path / "s.csv") == logits.argmax(1).tolist(), source
    export_submission([tmp_path / "p.npy"], tmp_path / "s.csv", num_classes=5)
    assert read(tmp_path / "s.csv") == [4, 0, 3]
    assert load_scores(tmp_path / "p.npy")[1] == "predictions"


def test_ensemble_averages_probabilities_or_logits(tmp_path):
    # Image 0: run a is sure of class 0; run b leans slightly to class 1, with large logits.
    a = np.array([[4.0, 0.0, 0.0]], dtype=np.float32)
    b = np.array([[0.0, 9.0, 8.9]], dtype=np.float32)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    export_submission([tmp_path / "a.npy", tmp_path / "b.npy"], tmp_path / "p.csv")
    export_submission([tmp_path / "a.npy", tmp_path / "b.npy"], tmp_path / "l.csv", average="logits")
    # probs: a = (.96, .02, .02), b = (0, .52, .48) -> class 0; logits: (4, 9, 8.9) -> class 1
    assert read(tmp_path / "p.csv") == [0]
    assert read(tmp_path / "l.csv") == [1]


def test_export_errors_name_the_fix(tmp_path, logits):
    (tmp_path / "run").mkdir()
    with pytest.raises(KaggleError, match="has no test_logits.npy"):
        export_submission([tmp_path / "run"], tmp_path / "s.csv")
    np.save(tmp_path / "l.npy", logits)
    with pytest.raises(KaggleError, match="logits have 5 classes but --num-classes is 10"):
        export_submission([tmp_path / "l.npy"], tmp_path / "s.csv", num_classes=10)
    np.save(tmp_path / "short.npy", logits[:3])
    with pytest.raises(KaggleError, match="logits shapes differ"):
        export_submission([tmp_path / "l.npy", tmp_path / "short.npy"], tmp_path / "s.csv")
    np.save(tmp_path / "p.npy", np.array([0, 7]))
    with pytest.raises(KaggleError, match="prediction 7 is out of range for 5 classes"):
        export_submission([tmp_path / "p.npy"], tmp_path / "s.csv", num_classes=5)
    with pytest.raises(KaggleError, match="predictions files cannot be averaged"):
        export_submission([tmp_path / "p.npy", tmp_path / "l.npy"], tmp_path / "s.csv")
    bad = logits.copy()
    bad[0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(KaggleError, match="NaN"):
        export_submission([tmp_path / "nan.npy"], tmp_path / "s.csv")
    np.save(tmp_path / "3d.npy", np.zeros((2, 2, 2)))
    with pytest.raises(KaggleError, match="shape \\(2, 2, 2\\)"):
        export_submission([tmp_path / "3d.npy"], tmp_path / "s.csv")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(KaggleError, match="cannot read"):
        export_submission([tmp_path / "junk.npy"], tmp_path / "s.csv")
    assert not (tmp_path / "s.csv").exists()
