"""Issue 15, runs: resume with a changed config, --eval, exact resume with workers and DDP ranks,
a kill during a checkpoint write, accumulation, the warmup + cosine schedule, --throughput, Ctrl-C,
a first val accuracy of 0, and value checks. Tiny LeNet runs on the offline digits set."""
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import main as main_mod
from config import ConfigError, load_config
from engine import checkpoint as ckpt_mod
from engine.optim import build_scheduler, steps_per_epoch, total_steps
from engine.profile import measure_throughput

BASE = ["DATA.DATASET", "digits", "DATA.NUM_WORKERS", "0", "MODEL.NAME", "lenet", "TRAIN.LR", "0.01",
        "TRAIN.WEIGHT_DECAY", "0.0", "TRAIN.WARMUP_EPOCHS", "0.0", "PROGRESS", "False", "PRINT_FREQ", "0"]
FAST = [*BASE, "DATA.BATCH_SIZE", "128"]  # 11 batches per epoch
# Keys that are wall-clock or memory measurements, not results.
TIMING = ("epoch_time", "images_per_sec", "peak_mem_mb")


def argv(tmp, name, *opts, args=()):
    return ["--cfg", "configs/lenet_digits.yaml", *args, "--opts", *FAST, "OUTPUT", str(tmp), "RUN_NAME", name, *opts]


def run(tmp, name, *opts, args=()):
    return main_mod.main(argv(tmp, name, *opts, args=args)), tmp / name


def cli_error(capsys, monkeypatch, args) -> tuple[int, list[str]]:
    monkeypatch.delenv("VISION_ZOO_TRACEBACK", raising=False)
    rc = main_mod.cli(args)
    return rc, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def results_only(rows):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    """A finished 2-epoch run (cosine, no warmup) that kept a checkpoint per epoch."""
    tmp = tmp_path_factory.mktemp("two")
    return run(tmp, "two", "TRAIN.EPOCHS", "2", "SAVE_FREQ", "1")[1]


# --- 1. resume with a changed config ----------------------------------------------------------------

def test_resume_with_another_lr_is_refused_in_one_line(two_epochs, tmp_path, capsys, monkeypatch):
    before = (two_epochs / "config.yaml").read_text()
    rc, err = cli_error(capsys, monkeypatch, argv(two_epochs.parent, "two", "TRAIN.EPOCHS", "2", "SAVE_FREQ", "1",
                                                  "TRAIN.LR", "0.1",
                                                  args=["--resume", str(two_epochs / "checkpoint_epoch001.pth")]))
    assert rc == 2 and len(err) == 1 and err[0].startswith("main.py: error: "), err
    assert "TRAIN.LR (checkpoint 0.01, now 0.1)" in err[0]
    assert "MODEL.PRETRAINED" in err[0] and "without --resume" in err[0]
    assert (two_epochs / "config.yaml").read_text() == before, "config.yaml still says what ran"


def test_extending_a_finished_run_rebuilds_the_schedule(two_epochs, tmp_path):
    shutil.copytree(two_epochs, tmp_path / "two")
    results, out = run(tmp_path, "two", "TRAIN.EPOCHS", "4", args=["--resume", str(tmp_path / "two" / "checkpoint_last.pth")])
    recs = records(out)
    assert [r["epoch"] for r in recs] == [1, 2, 3, 4] and results["epochs"] == 4
    per_epoch = recs[0]["step"]
    # Epoch 3 ends at step 3 x per_epoch of a 4-epoch cosine: not LR 0 as in the finished 2-epoch schedule.
    expected = 0.01 * 0.5 * (1 + math.cos(math.pi * 3 * per_epoch / (4 * per_epoch)))
    assert recs[2]["lr"] == pytest.approx(expected, rel=1e-9) and recs[2]["lr"] > 1e-3
    assert recs[1]["lr"] == 0.0, "epoch 2 ran under the finished schedule, as the checkpoint's row says"
    assert load_config(str(out / "config.yaml")).TRAIN.EPOCHS == 4, "config.yaml says what runs now"
    assert "TRAIN.EPOCHS 2 -> 4 (schedule rebuilt" in (out / "log.txt").read_text()


def test_the_suggested_new_run_from_the_checkpoints_weights_works(two_epochs, tmp_path):
    """What the refusal suggests: a new run with the new LR, starting from the checkpoint's weights."""
    ckpt = two_epochs / "checkpoint_last.pth"
    results, out = run(tmp_path, "from_weights", "TRAIN.EPOCHS", "1", "TRAIN.LR", "0.001", "MODEL.PRETRAINED", str(ckpt),
                       "EVAL.SUBMISSION", "False")
    assert f"loaded weights from {ckpt}" in (out / "log.txt").read_text()
    assert records(out)[0]["train_acc"] > records(two_epochs)[0]["train_acc"], "training starts from trained weights"
    assert load_config(str(out / "config.yaml")).TRAIN.LR == 0.001


# --- 2. resume with another model or optimizer ---------------------------------------------------

@pytest.mark.parametrize("opts, key, fix", [
    (["MODEL.NAME", "resnet18"], "MODEL.NAME (checkpoint 'lenet', now 'resnet18')", "as a new run"),
    (["TRAIN.OPTIMIZER", "sgd"], "TRAIN.OPTIMIZER (checkpoint 'adamw', now 'sgd')", "MODEL.PRETRAINED"),
])
def test_resume_with_another_model_or_optimizer(two_epochs, tmp_path, capsys, monkeypatch, opts, key, fix):
    rc, err = cli_error(capsys, monkeypatch, argv(tmp_path, "x", "TRAIN.EPOCHS", "2", *opts,
                                                  args=["--resume", str(two_epochs / "checkpoint_last.pth")]))
    assert rc == 2 and len(err) == 1 and err[0].startswith("main.py: error: ") and key in err[0], err
    assert fix in err[0] and "Traceback" not in err[0]


def test_resume_from_a_bare_state_dict_or_another_models_checkpoint(two_epochs, tmp_path, capsys, monkeypatch):
    bare = tmp_path / "weights.pth"
    torch.save(torch.load(two_epochs / "checkpoint_last.pth", weights_only=False)["model"], bare)
    rc, err = cli_error(capsys, monkeypatch, argv(tmp_path, "x", args=["--resume", str(bare)]))
    assert rc == 2 and len(err) == 1 and "not a checkpoint written by main.py" in err[0], err
    # Past the config check (e.g. a checkpoint whose config was edited), load errors are still one line.
    ckpt = torch.load(two_epochs / "checkpoint_last.pth", weights_only=False)
    with pytest.raises(ckpt_mod.CheckpointMismatchError, match="does not fit this run's model or optimizer"):
        main_mod.restore(ckpt, nn.Linear(2, 2), None, None, "c.pth", eval_only=True, log=print)


# --- 3. --eval ---------------------------------------------------------------------------------------

def test_eval_needs_weights(tmp_path, capsys, monkeypatch):
    rc, err = cli_error(capsys, monkeypatch, argv(tmp_path, "x", args=["--eval"]))
    assert rc == 2 and len(err) == 1 and "--eval needs weights" in err[0] and "--resume" in err[0], err
    assert not (tmp_path / "x").exists()


def test_eval_never_clobbers_the_run_and_logs_the_real_epoch(two_epochs, tmp_path):
    run_dir = tmp_path / "two"
    shutil.copytree(two_epochs, run_dir)
    names = ("submission.csv", "test_logits.npy", "config.yaml", "log.txt", "metrics.jsonl", "results.json")
    before = {n: (run_dir / n).read_bytes() for n in names}
    results, _ = run(tmp_path, "two", "TRAIN.EPOCHS", "2", args=["--resume", str(run_dir / "checkpoint_epoch001.pth"),
                                                               "--eval"])
    assert {n: (run_dir / n).read_bytes() for n in names} == before, "the training run's files are untouched"
    assert results["val_acc"] == records(run_dir)[0]["val_acc"], "epoch 1's weights were evaluated"
    log = (run_dir / "eval" / "log.txt").read_text()
    assert "checkpoint_epoch001.pth (epoch 1, step 11)" in log
    assert (run_dir / "eval" / "submission.csv").is_file() and "test_acc" in results


def test_eval_respects_submission_off_and_takes_pretrained_weights(two_epochs, tmp_path):
    results, out = run(tmp_path, "ev", "EVAL.SUBMISSION", "False", "MODEL.PRETRAINED",
                       str(two_epochs / "checkpoint_last.pth"), args=["--eval"])
    assert not (out / "eval" / "submission.csv").exists() and not (out / "eval" / "test_logits.npy").exists()
    assert "test_acc" not in results
    assert results["val_acc"] == records(two_epochs)[-1]["val_acc"], "MODEL.PRETRAINED loaded the run's weights"


# --- 4 + 5. exact resume with workers; a kill during a checkpoint write ----------------------------

AUGMENTED = ["DATA.NUM_WORKERS", "2", "DATA.PERSISTENT_WORKERS", "True", "AUG.RANDOM_CROP_PADDING", "4",
             "AUG.HFLIP", "0.5", "TRAIN.EPOCHS", "3"]


def test_resume_with_persistent_workers_and_random_augmentation_is_exact(tmp_path):
    """Killed after epoch 2 while writing epoch 3's checkpoint: metrics.jsonl already had row 3, and
    checkpoint_last.pth still holds epoch 2. The resumed rows equal the uninterrupted run's."""
    _, full = run(tmp_path, "full", *AUGMENTED, "SAVE_FREQ", "1")
    killed = tmp_path / "killed"
    killed.mkdir()
    shutil.copy(full / "metrics.jsonl", killed / "metrics.jsonl")  # rows 1, 2, 3
    shutil.copy(full / "checkpoint_epoch002.pth", killed / "checkpoint_last.pth")
    (killed / "checkpoint_last.pth.tmp").write_bytes(b"half a checkpoint")
    run(tmp_path, "killed", *AUGMENTED, args=["--resume", str(killed / "checkpoint_last.pth")])
    resumed = records(killed)
    assert [r["epoch"] for r in resumed] == [1, 2, 3], "no duplicated rows"
    assert results_only(resumed) == results_only(records(full))
    np.testing.assert_array_equal(np.load(full / "test_logits.npy"), np.load(killed / "test_logits.npy"))


def test_kill_between_metrics_row_and_checkpoint_leaves_the_checkpoints_epochs(two_epochs, tmp_path):
    """metrics.jsonl holds [1, 2] but the checkpoint only epoch 1: the resume gives [1, 2], not [1, 2, 2]."""
    run_dir = tmp_path / "two"
    shutil.copytree(two_epochs, run_dir)
    shutil.copy(two_epochs / "checkpoint_epoch001.pth", run_dir / "checkpoint_last.pth")
    run(tmp_path, "two", "TRAIN.EPOCHS", "2", args=["--resume", str(run_dir / "checkpoint_last.pth")])
    assert [r["epoch"] for r in records(run_dir)] == [1, 2]
    assert results_only(records(run_dir)) == results_only(records(two_epochs))


def test_a_checkpoint_without_history_keeps_the_folders_rows_up_to_its_epoch(tmp_path):
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e, "val_acc": a}) + "\n"
                                                    for e, a in [(1, 0.1), (2, 0.2), (2, 0.25), (3, 0.3)]))
    main_mod.restore_metrics(str(tmp_path), main_mod.TrainState(epoch=2))
    assert records(tmp_path) == [{"epoch": 1, "val_acc": 0.1}, {"epoch": 2, "val_acc": 0.25}]


def test_augmentation_does_not_depend_on_workers(tmp_path):
    """Epoch 1's augmented batches are the same from 0 workers, 2 fresh workers, and 2 persistent
    workers that already served epoch 0 (what a resumed vs an uninterrupted run sees)."""
    from data.build import build_loader, set_train_epoch

    def epoch_batches(workers, persistent, epochs):
        cfg = load_config("configs/lenet_digits.yaml", [*FAST, "DATA.NUM_WORKERS", str(workers), "DATA.PERSISTENT_WORKERS",
                                                        str(persistent), "AUG.RANDOM_CROP_PADDING", "4", "AUG.HFLIP", "0.5"])
        bundle = build_loader(cfg)
        for epoch in epochs:
            set_train_epoch(bundle, epoch, cfg.SEED)
            batches = [images for images, _ in bundle.train]
        return torch.cat(batches)

    reference = epoch_batches(0, False, [1])
    torch.testing.assert_close(epoch_batches(2, False, [1]), reference, rtol=0, atol=0)
    torch.testing.assert_close(epoch_batches(2, True, [0, 1]), reference, rtol=0, atol=0)
    assert not torch.equal(epoch_batches(0, False, [0]), reference), "each epoch draws new augmentations"


def test_every_rank_restores_its_own_rng_state(monkeypatch):
    torch.manual_seed(1)
    rank0 = ckpt_mod.rng_state()
    torch.manual_seed(2)
    rank1 = ckpt_mod.rng_state()
    expected = torch.rand(3)
    torch.manual_seed(99)
    assert ckpt_mod.restore_rank_rng_state([rank0, rank1], rank=1, world_size=2)
    assert torch.equal(torch.rand(3), expected), "rank 1 continues its own stream, not rank 0's"
    assert not ckpt_mod.restore_rank_rng_state([rank0, rank1], rank=0, world_size=3), "another world size"
    assert ckpt_mod.rank_rng_states()[0]["torch"].shape == rank0["torch"].shape  # one entry per rank


@pytest.mark.slow
def test_ddp_resume_with_workers_and_mixup_is_exact(tmp_path, repo_root):
    """torchrun --nproc_per_node 2 (gloo): 3 epochs vs killed after 2 and resumed; mixup draws from
    each rank's own generator, so a resume that gave every rank rank 0's state would differ."""
    opts = [*FAST, *AUGMENTED, "DATA.BATCH_SIZE", "64", "AUG.MIXUP", "0.8", "DEVICE", "cpu", "OUTPUT", str(tmp_path)]

    def torchrun(port, *extra):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
               "main.py", "--cfg", "configs/lenet_digits.yaml", *extra]
        proc = subprocess.run(cmd, cwd=repo_root, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True,
                              text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    torchrun(29541, "--opts", *opts, "RUN_NAME", "full", "SAVE_FREQ", "1")
    full = tmp_path / "full"
    assert len(torch.load(full / "checkpoint_epoch002.pth", weights_only=False)["rng"]) == 2, "one state per rank"
    killed = tmp_path / "killed"
    killed.mkdir()
    shutil.copy(full / "checkpoint_epoch002.pth", killed / "checkpoint_last.pth")
    torchrun(29542, "--resume", str(killed / "checkpoint_last.pth"), "--opts", *opts, "RUN_NAME", "killed")
    assert results_only(records(killed)) == results_only(records(full))


# --- 6. gradient accumulation ----------------------------------------------------------------------

def test_steps_per_epoch_counts_the_last_short_group():
    assert steps_per_epoch(3, 4) == 1 and steps_per_epoch(41, 3) == 14 and steps_per_epoch(42, 3) == 14
    cfg = load_config(None, ["TRAIN.EPOCHS", "2", "TRAIN.ACCUMULATION_STEPS", "3"])
    assert total_steps(cfg, 41) == (28, 2)


def _linear_epoch(n_batches, accum):
    """One epoch of a 2 -> 1 linear model, SGD lr 1 at a constant schedule; returns (weight change, steps)."""
    torch.manual_seed(0)
    model = nn.Linear(2, 2, bias=False)
    w0 = model.weight.detach().clone()
    loader = [(torch.randn(4, 2), torch.randint(0, 2, (4,))) for _ in range(n_batches)]
    cfg = load_config(None, ["TRAIN.ACCUMULATION_STEPS", str(accum), "TRAIN.OPTIMIZER", "sgd", "TRAIN.MOMENTUM", "0.0",
                             "TRAIN.WEIGHT_DECAY", "0.0", "TRAIN.LR", "1.0", "TRAIN.LR_SCHEDULER", "constant",
                             "TRAIN.EPOCHS", "1", "PROGRESS", "False", "PRINT_FREQ", "0"])
    optimizer = main_mod.build_optimizer(cfg, model)
    scheduler = build_scheduler(cfg, optimizer, n_batches)
    state = main_mod.TrainState()
    main_mod.train_one_epoch(model, loader, optimizer, scheduler, torch.amp.GradScaler("cpu", enabled=False), None,
                             cfg, torch.device("cpu"), state, max_steps=10**6, log=print)
    return model.weight.detach() - w0, state.step, loader, w0


def _mean_grad(w, batches):
    w = w.clone().requires_grad_(True)
    loss = sum(nn.functional.cross_entropy(x @ w.T, y) for x, y in batches) / len(batches)
    loss.backward()
    return w.grad


def test_fewer_batches_than_accumulation_still_steps():
    change, steps, loader, w0 = _linear_epoch(3, 4)
    assert steps == 1
    torch.testing.assert_close(change, -_mean_grad(w0, loader), msg="one step on the mean gradient of all 3 batches")


def test_the_last_short_group_is_not_thrown_away():
    change, steps, loader, w0 = _linear_epoch(5, 3)  # groups of 3 and 2, as 41 batches with accumulation 3 end
    assert steps == 2
    w1 = w0 - _mean_grad(w0, loader[:3])
    torch.testing.assert_close(w0 + change, w1 - _mean_grad(w1, loader[3:]), msg="weights after the 2-batch group")


def test_41_batches_accumulation_3_takes_14_steps_per_epoch(tmp_path):
    results, out = run(tmp_path, "acc", "DATA.BATCH_SIZE", "32", "TRAIN.ACCUMULATION_STEPS", "3", "TRAIN.EPOCHS", "1",
                       "EVAL.SUBMISSION", "False")
    assert results["steps"] == 14 and records(out)[0]["step"] == 14
    results, out = run(tmp_path, "acc4", "DATA.BATCH_SIZE", "512", "TRAIN.ACCUMULATION_STEPS", "4", "TRAIN.EPOCHS", "2",
                       "EVAL.SUBMISSION", "False")
    assert results["steps"] == 2, "3 batches, accumulation 4: one step per epoch"


# --- 7. warmup + cosine ------------------------------------------------------------------------------

def _schedule(opts, batches=40):
    cfg = load_config(None, ["TRAIN.LR", "0.01", "DATA.BATCH_SIZE", "1", *opts])
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=cfg.TRAIN.LR)
    scheduler = build_scheduler(cfg, optimizer, batches)

    def lr(step):
        scheduler.step_update(step)
        return optimizer.param_groups[0]["lr"]
    return lr


def test_warmup_reaches_the_base_lr_then_cosine_over_the_rest():
    lr = _schedule(["TRAIN.STEPS", "40", "TRAIN.WARMUP_STEPS", "10"])
    assert lr(1) == pytest.approx(0.001, rel=1e-12), "the first step runs at base / 10, not 0"
    assert lr(10) == pytest.approx(0.01, rel=1e-12), "the warmup's last step runs at the base LR"
    assert lr(11) == pytest.approx(0.01 * 0.5 * (1 + math.cos(math.pi / 30)), rel=1e-12)  # 0.0099726
    assert lr(25) == pytest.approx(0.005, rel=1e-12), "half way through the 30 cosine steps"
    assert lr(40) == 0.0


def test_warmup_steps_honoured_in_epoch_runs_and_checked():
    lr = _schedule(["TRAIN.EPOCHS", "2", "TRAIN.WARMUP_STEPS", "5"])  # 80 steps
    assert lr(1) == pytest.approx(0.002) and lr(5) == pytest.approx(0.01)
    lr = _schedule(["TRAIN.EPOCHS", "2", "TRAIN.WARMUP_EPOCHS", "0.5"])  # 20 steps
    assert lr(20) == pytest.approx(0.01) and lr(10) == pytest.approx(0.005)
    with pytest.raises(ConfigError, match=r"warmup \(100 optimizer steps, from TRAIN.WARMUP_STEPS 100\) is longer"):
        _schedule(["TRAIN.EPOCHS", "2", "TRAIN.WARMUP_STEPS", "100"])


def test_logged_lr_is_the_lr_the_epoch_trained_with(tmp_path):
    results, out = run(tmp_path, "lr", "TRAIN.EPOCHS", "3", "TRAIN.WARMUP_EPOCHS", "1.0", "EVAL.SUBMISSION", "False")
    recs = records(out)
    assert recs[0]["lr"] == pytest.approx(0.01, rel=1e-12), "epoch 1 (the warmup) ends at the base LR"
    assert recs[1]["lr"] == pytest.approx(0.005, rel=1e-12), "epoch 2 ends half way through the cosine"
    assert recs[2]["lr"] == 0.0


# --- 8. throughput, Ctrl-C, a first val accuracy of 0 ---------------------------------------------

class Fussy(nn.Module):
    """Runs out of CPU memory from batch 4 on; remembers the autocast dtype of each pass."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 4 * 4, 2)
        self.dtypes = []

    def forward(self, x):
        if x.shape[0] >= 4:
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:118] data. DefaultCPUAllocator: can't allocate memory: "
                               "you tried to allocate 1099511627776 bytes.")
        self.dtypes.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None)
        return self.fc(x.flatten(1))


def test_throughput_stops_at_the_largest_batch_that_fits():
    lines = []
    model = Fussy()
    rows = measure_throughput(model, 4, torch.device("cpu"), max_batch=64, repeats=1, log=lines.append,
                              autocast=lambda: torch.autocast("cpu", dtype=torch.bfloat16))
    assert [r["batch_size"] for r in rows] == [1, 2]
    assert "the largest batch that fits is 2" in lines[-1]
    assert set(model.dtypes) == {torch.bfloat16}, "every pass ran under TRAIN.AMP"

    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):  # a real bug is not "out of memory"
        measure_throughput(Broken(), 4, torch.device("cpu"), 4, log=lines.append)


def test_throughput_cli_uses_train_amp(tmp_path, monkeypatch):
    seen = {}

    def fake(model, img_size, device, max_batch, log, autocast):
        with autocast():
            seen["dtype"] = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None
        return []
    monkeypatch.setattr(main_mod, "measure_throughput", fake)
    run(tmp_path, "tp", "TRAIN.AMP", "bf16", "DEVICE", "cpu", args=["--throughput"])
    assert seen["dtype"] == torch.bfloat16
    assert not (tmp_path / "tp" / "config.yaml").exists(), "--throughput writes into tp/throughput/"


def test_ctrl_c_prints_where_to_resume(tmp_path, capsys, monkeypatch):
    real = main_mod.train_one_epoch

    def interrupt_in_epoch_2(*args, **kwargs):
        if args[-3].epoch == 1:  # state
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(main_mod, "train_one_epoch", interrupt_in_epoch_2)
    monkeypatch.delenv("VISION_ZOO_TRACEBACK", raising=False)
    assert main_mod.cli(argv(tmp_path, "c", "TRAIN.EPOCHS", "3")) == 130
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    ckpt = tmp_path / "c" / "checkpoint_last.pth"
    assert len(err) == 1 and "interrupted in epoch 2" in err[0] and f"--resume {ckpt}" in err[0], err
    assert torch.load(ckpt, weights_only=False)["train_state"]["epoch"] == 1


def test_ctrl_c_in_the_first_epoch_of_a_new_run_in_an_old_runs_folder(two_epochs, tmp_path, capsys, monkeypatch):
    """The checkpoint_last.pth there is the previous run's (epoch 2): the line must not say it holds
    epoch 0 and offer to resume from it."""
    shutil.copytree(two_epochs, tmp_path / "two")

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(main_mod, "train_one_epoch", interrupt)
    monkeypatch.delenv("VISION_ZOO_TRACEBACK", raising=False)
    assert main_mod.cli(argv(tmp_path, "two", "TRAIN.EPOCHS", "2")) == 130
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "before this run's first checkpoint; nothing to resume" in err[0], err
    assert "--resume" not in err[0] and "holds epoch 0" not in err[0]


@pytest.mark.parametrize("content", ["cut", "text", "folder"])
def test_unreadable_checkpoint_gives_one_line(two_epochs, tmp_path, capsys, monkeypatch, content):
    """A checkpoint cut short by a copy, a text file, or a folder: one 'main.py: error:' line, exit 2."""
    path = tmp_path / "bad.pth"
    if content == "cut":
        path.write_bytes((two_epochs / "checkpoint_last.pth").read_bytes()[:100_000])
    elif content == "text":
        path.write_text("hi\n")
    else:
        path.mkdir()
    rc, err = cli_error(capsys, monkeypatch, argv(tmp_path, "x", args=["--resume", str(path)]))
    assert rc == 2 and len(err) == 1 and err[0].startswith(f"main.py: error: Checkpoint '{path}'"), err


@pytest.mark.parametrize("model", ["lenet", "vit"])
def test_unreadable_pretrained_file_gives_one_line(two_epochs, tmp_path, capsys, monkeypatch, model):
    path = tmp_path / "cut.pth"
    path.write_bytes((two_epochs / "checkpoint_last.pth").read_bytes()[:100_000])
    rc, err = cli_error(capsys, monkeypatch, argv(tmp_path, "x", "MODEL.NAME", model, "MODEL.PRETRAINED", str(path),
                                                  args=["--eval"]))
    assert rc == 2 and err[-1].startswith(f"main.py: error: MODEL.PRETRAINED '{path}' cannot be read"), err


def test_ctrl_c_while_predicting_the_test_set(tmp_path, capsys, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(main_mod, "evaluate", interrupt)
    monkeypatch.delenv("VISION_ZOO_TRACEBACK", raising=False)
    assert main_mod.cli(argv(tmp_path, "c", "TRAIN.EPOCHS", "1")) == 130
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "after training, before the submission was written" in err[0] and "holds epoch 1" in err[0]


def test_first_val_accuracy_of_zero_writes_checkpoint_best(tmp_path, monkeypatch):
    monkeypatch.setattr(main_mod, "validate", lambda *a: {"val_loss": 9.0, "val_acc": 0.0, "val_acc5": 0.0})
    results, out = run(tmp_path, "zero", "TRAIN.EPOCHS", "1", "EVAL.SUBMISSION", "False")
    assert (out / "checkpoint_best.pth").is_file() and results["best_val_acc"] == 0.0


# --- 9. values checked where the config is read -------------------------------------------------------

@pytest.mark.parametrize("opts, says", [
    (["DATA.BATCH_SIZE", "0"], "DATA.BATCH_SIZE 0 must be >= 1"),
    (["MODEL.NAME", "vit", "DATA.IMG_SIZE", "30"], "DATA.IMG_SIZE 30 must be divisible by the ViT patch side 4"),
    (["MODEL.NAME", "vit_b16", "DATA.IMG_SIZE", "40"], "use --opts DATA.IMG_SIZE 32"),
    (["MODEL.NAME", "alexnet", "DATA.IMG_SIZE", "32"], "it needs at least 63 px; use --opts DATA.IMG_SIZE 63"),
    (["TRAIN.ACCUMULATION_STEPS", "0"], "TRAIN.ACCUMULATION_STEPS 0 must be >= 1"),
    (["AUG.HFLIP", "1.5"], "AUG.HFLIP 1.5 is a probability"),
    (["TRAIN.AMP", "fp8"], "TRAIN.AMP 'fp8' must be none, bf16 or fp16"),
    (["MODEL.NAME", "vit", "MODEL.VIT.EMBED_DIM", "32", "MODEL.VIT.NUM_HEADS", "3"],
     "MODEL.VIT.EMBED_DIM 32 must be divisible by MODEL.VIT.NUM_HEADS 3"),
    (["MODEL.NAME", "vit", "MODEL.VIT.NUM_HEADS", "0"], "MODEL.VIT.NUM_HEADS 0 must be >= 1"),
])
def test_bad_values_give_one_line(tmp_path, capsys, monkeypatch, opts, says):
    rc, err = cli_error(capsys, monkeypatch, argv(tmp_path, "bad", *opts))
    assert rc == 2 and len(err) == 1 and err[0].startswith("main.py: error: ") and says in err[0], err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("opts", [["TRAIN.OPTIMIZER", "lion"], ["TRAIN.WARMUP_STEPS", "100000"], ["DATA.VAL_SIZE", "5000"]])
def test_a_run_stopped_by_a_bad_value_keeps_the_folders_config(two_epochs, tmp_path, capsys, monkeypatch, opts):
    """A new run into a folder holding a finished run that stops on a value checked late (optimizer name,
    warmup length, holdout size) leaves config.yaml describing the checkpoints and metrics still there."""
    shutil.copytree(two_epochs, tmp_path / "two")
    before = (tmp_path / "two" / "config.yaml").read_text()
    rc, err = cli_error(capsys, monkeypatch, argv(tmp_path, "two", "TRAIN.EPOCHS", "2", *opts))
    assert rc == 2 and err[-1].startswith("main.py: error: "), err
    assert (tmp_path / "two" / "config.yaml").read_text() == before


def test_an_interrupted_run_keeps_no_results_of_the_folders_previous_run(two_epochs, tmp_path, monkeypatch):
    """A new run in a folder that holds a finished run, stopped after its first epoch: results.json,
    submission.csv, test_logits.npy and curves.png of the old run are gone, so research claims does not
    count the run as finished with the old run's test accuracy."""
    from research.runs import load_runs

    shutil.copytree(two_epochs, tmp_path / "two")
    assert (tmp_path / "two" / "results.json").exists()
    real_train = main_mod.train_one_epoch
    calls = []

    def train_then_interrupt(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(main_mod, "train_one_epoch", train_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, "two", "TRAIN.EPOCHS", "2", "TRAIN.LR", "0.003")
    for name in ("results.json", "submission.csv", "test_logits.npy", "curves.png"):
        assert not (tmp_path / "two" / name).exists(), name
    (found,) = load_runs(str(tmp_path))
    assert found.progress_text() == "1/2 epochs" and not found.finished and found.test_accuracy is None


def test_eval_and_throughput_together_are_refused(tmp_path, capsys):
    """--eval --throughput used to measure throughput only (into eval/) and skip the evaluation unsaid."""
    with pytest.raises(SystemExit) as exit_info:
        main_mod.main(argv(tmp_path, "both", args=["--eval", "--throughput"]))
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert not (tmp_path / "both").exists()


def test_validation_holdout_larger_than_the_dataset_gives_one_line(tmp_path, capsys, monkeypatch):
    """DATA.VAL_SIZE is checked against the dataset's size once it is read: one line, exit 2, no traceback."""
    rc, err = cli_error(capsys, monkeypatch, argv(tmp_path, "bad", "DATA.VAL_SIZE", "5000"))
    assert rc == 2 and len(err) == 1 and err[0].startswith("main.py: error: DATA.VAL_SIZE 5000"), err


def test_alexnet_size_rule_is_the_real_limit():
    from models.alexnet import AlexNet

    with torch.device("meta"):  # shapes only: no memory, no time
        model = AlexNet(10).eval()
        assert model(torch.zeros(1, 3, 63, 63)).shape == (1, 10)
        with pytest.raises(RuntimeError, match="Output size is too small"):
            model(torch.zeros(1, 3, 62, 62))
