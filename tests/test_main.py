"""main.py end to end on the offline digits set: run folder, exact resume, --eval, DDP, schedules."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import main as main_mod
from config import load_config
from data.build import build_dataset
from data.base import DatasetNotFoundError

FAST = ["DATA.DATASET", "digits", "DATA.BATCH_SIZE", "64", "DATA.NUM_WORKERS", "0", "MODEL.NAME", "lenet",
        "TRAIN.LR", "0.01", "TRAIN.WEIGHT_DECAY", "0.0", "PROGRESS", "False", "PRINT_FREQ", "0"]


def run(tmp_path, name, *opts, args=()):
    argv = ["--cfg", "configs/lenet_digits.yaml", *args,
            "--opts", *FAST, "OUTPUT", str(tmp_path), "RUN_NAME", name, *opts]
    return main_mod.main(argv), tmp_path / name


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def three_epochs(tmp_path_factory):
    """An uninterrupted 3-epoch run that keeps a checkpoint per epoch."""
    tmp = tmp_path_factory.mktemp("runs")
    return run(tmp, "full", "TRAIN.EPOCHS", "3", "SAVE_FREQ", "1", "TRAIN.WARMUP_EPOCHS", "1.0")


def test_run_folder_holds_every_file(three_epochs):
    results, out = three_epochs
    for name in ("config.yaml", "log.txt", "metrics.jsonl", "checkpoint_last.pth", "checkpoint_best.pth",
                 "checkpoint_epoch001.pth", "curves.png", "submission.csv", "test_logits.npy"):
        assert (out / name).is_file(), name
    recs = records(out)
    assert [r["epoch"] for r in recs] == [1, 2, 3]
    for key in ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_time", "images_per_sec"):
        assert key in recs[0], key
    assert all(0.0 <= r["val_acc"] <= 1.0 and 0.0 <= r["train_acc"] <= 1.0 for r in recs)
    assert recs[-1]["val_acc"] > 0.5  # learning happened (chance is 0.1)
    assert results["best_val_acc"] == max(r["val_acc"] for r in recs)


def test_submission_csv_contract(three_epochs):
    _, out = three_epochs
    with open(out / "submission.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Id", "Category"]
    logits = np.load(out / "test_logits.npy")
    assert [int(r[0]) for r in rows[1:]] == list(range(len(logits)))
    cats = np.array([int(r[1]) for r in rows[1:]])
    assert ((0 <= cats) & (cats < 10)).all()
    np.testing.assert_array_equal(cats, logits.argmax(1))


def test_resume_after_epoch_one_matches_uninterrupted_run(three_epochs, tmp_path):
    _, full = three_epochs
    # The checkpoint written after epoch 1 is exactly what an interrupted run leaves behind.
    results, resumed = run(tmp_path, "resumed", "TRAIN.EPOCHS", "3", "TRAIN.WARMUP_EPOCHS", "1.0",
                           args=["--resume", str(full / "checkpoint_epoch001.pth")])
    a, b = records(full), records(resumed)
    assert [r["epoch"] for r in b] == [1, 2, 3], "the checkpoint's epoch, then the resumed ones"
    assert b[0] == a[0], "epoch 1's row comes from the checkpoint's history"
    for ra, rb in zip(a, b):
        for key in ("step", "lr", "train_loss", "train_acc", "val_loss", "val_acc"):
            assert ra[key] == rb[key], (key, ra[key], rb[key])
    np.testing.assert_array_equal(np.load(full / "test_logits.npy"), np.load(resumed / "test_logits.npy"))


def test_eval_only_from_checkpoint(three_epochs, tmp_path):
    _, full = three_epochs
    results, out = run(tmp_path, "eval", args=["--resume", str(full / "checkpoint_last.pth"), "--eval"])
    assert results["val_acc"] == records(full)[-1]["val_acc"]
    assert (out / "eval" / "submission.csv").read_text() == (full / "submission.csv").read_text()
    assert not (out / "metrics.jsonl").exists() and not (out / "submission.csv").exists()


def test_step_schedule_accumulation_clipping_amp(tmp_path):
    results, out = run(tmp_path, "steps", "TRAIN.STEPS", "7", "TRAIN.WARMUP_STEPS", "2", "TRAIN.ACCUMULATION_STEPS", "2",
                       "TRAIN.CLIP_GRAD", "1.0", "TRAIN.LABEL_SMOOTHING", "0.1", "TRAIN.AMP", "bf16",
                       "TRAIN.OPTIMIZER", "sgd", "TRAIN.LR_SCHEDULER", "linear", "EVAL.SUBMISSION", "False")
    recs = records(out)
    assert results["steps"] == 7 and recs[-1]["step"] == 7
    assert recs[-1]["lr"] == pytest.approx(0.0, abs=1e-12)  # linear decay reaches MIN_LR at the last step
    assert not (out / "submission.csv").exists()


def test_mixup_and_randaugment_train(tmp_path):
    results, out = run(tmp_path, "mix", "TRAIN.EPOCHS", "1", "AUG.MIXUP", "0.8", "AUG.CUTMIX", "1.0",
                       "AUG.RAND_AUGMENT", "rand-m9-mstd0.5", "AUG.HFLIP", "0.5", "TRAIN.LABEL_SMOOTHING", "0.1")
    assert np.isfinite(records(out)[0]["train_loss"])


def test_throughput_reports_each_batch_size(tmp_path):
    results, _ = run(tmp_path, "tp", "EVAL.THROUGHPUT_MAX_BATCH", "4", args=["--throughput"])
    rows = results["throughput"]
    assert [r["batch_size"] for r in rows] == [1, 2, 4]
    assert all(r["infer_images_per_sec"] > 0 and r["train_images_per_sec"] > 0 for r in rows)


def test_missing_data_gives_one_clear_error(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        run(tmp_path, "missing", "DATA.DATASET", "cifar10", "DATA.ROOT", str(tmp_path / "nowhere"))
    assert str(tmp_path / "nowhere") in str(e.value) and "DATA.DOWNLOAD" in str(e.value)


def test_unknown_model_name_lists_known(tmp_path):
    with pytest.raises(KeyError, match="Known models: .*lenet"):
        run(tmp_path, "bad", "MODEL.NAME", "lenet5")


@pytest.mark.parametrize("opts, says", [
    (["TRAIN.LRR", "0.1"], "Unknown config key 'TRAIN.LRR'"),
    (["MODEL.NAME", "lenet5"], "Unknown model 'lenet5'"),
    (["DATA.DATASET", "cifar10", "DATA.ROOT", "/nowhere/at/all"], "/nowhere/at/all/cifar-10-batches-py"),
    (["TRAIN.OPTIMIZER", "sgdd"], "Unknown optimizer 'sgdd'"),
])
def test_cli_reports_input_mistakes_in_one_line(tmp_path, capsys, monkeypatch, opts, says):
    monkeypatch.delenv("VISION_ZOO_TRACEBACK", raising=False)
    argv = ["--cfg", "configs/lenet_digits.yaml", "--opts", *FAST, "OUTPUT", str(tmp_path), *opts]
    assert main_mod.cli(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("main.py: error: ") and says in err


def test_cli_exit_status_and_no_traceback(tmp_path, repo_root):
    proc = subprocess.run([sys.executable, "main.py", "--cfg", "configs/lenet_digits.yaml", "--resume",
                           str(tmp_path / "missing.pth")], cwd=repo_root, capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "VISION_ZOO_TRACEBACK"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "missing.pth' does not exist" in proc.stderr


def test_two_process_ddp_on_cpu(tmp_path, repo_root):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "main.py", "--cfg", "configs/lenet_digits.yaml", "--opts", *FAST, "TRAIN.EPOCHS", "2",
           "TRAIN.WARMUP_EPOCHS", "0.0", "DATA.BATCH_SIZE", "16",
           "OUTPUT", str(tmp_path), "RUN_NAME", "ddp", "DEVICE", "cpu"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=repo_root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "ddp"
    recs = records(out)
    assert [r["epoch"] for r in recs] == [1, 2] and recs[1]["train_loss"] < recs[0]["train_loss"]
    # Both ranks' strided shards were gathered back into test-set order: one row per test image.
    cfg = load_config("configs/lenet_digits.yaml", FAST)
    n_test = len(build_dataset(cfg, "test"))
    logits = np.load(out / "test_logits.npy")
    rows = (out / "submission.csv").read_text().splitlines()
    assert logits.shape[0] == n_test and len(rows) == n_test + 1
    assert [int(r.split(",")[1]) for r in rows[1:]] == logits.argmax(1).tolist()
    assert torch.load(out / "checkpoint_last.pth", weights_only=False)["train_state"]["epoch"] == 2
