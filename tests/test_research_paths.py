"""scripts/lr_grid.py and ``research sweep`` work from any directory (issue 15, item 14).

Each test runs from a fresh temporary directory: configs are found relative to it or to the
repository, main.py runs from the repository root, and the runs land where the command says.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from research import paths
from research.__main__ import main as research_main
from scripts import lr_grid

REPO = str(paths.REPO)
CD = f"cd {shlex.quote(REPO)} && "

# A stand-in for main.py: writes the run folder main.py would write, and records its working directory.
FAKE_MAIN = '''
import json, os, sys
args = sys.argv[1:]
opts = dict(zip(args[args.index("--opts") + 1::2], args[args.index("--opts") + 2::2]))
folder = os.path.join(opts.get("OUTPUT", "output"), opts["RUN_NAME"])
os.makedirs(folder, exist_ok=True)
lr = float(opts["TRAIN.LR"])
open(os.path.join(folder, "config.yaml"), "w").write(
    "DATA: {DATASET: cifar10, BATCH_SIZE: 8}\\nMODEL: {NAME: timm, TIMM: {ARCH: swin_tiny_patch4_window7_224}}\\n"
    "TRAIN: {EPOCHS: 2, STEPS: 0, LR: %s}\\n" % lr)
with open(os.path.join(folder, "metrics.jsonl"), "w") as f:
    for e in (1, 2):
        f.write(json.dumps(dict(epoch=e, step=e, lr=lr, train_loss=1 / e, train_acc=0.5, val_loss=1 / e,
                                val_acc={0.001: 0.6, 0.003: 0.8}[lr], epoch_time=1.0, images_per_sec=10.0)) + "\\n")
json.dump({"test_acc": {0.001: 0.65, 0.003: 0.75}[lr], "cwd": os.getcwd(), "cfg": args[args.index("--cfg") + 1]},
          open(os.path.join(folder, "results.json"), "w"))
'''


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A temporary working directory outside the repository."""
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


# ------------------------------------------------------------------------------------------ lr_grid
def test_lr_grid_dry_run_from_another_directory_as_a_script(elsewhere):
    proc = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "lr_grid.py"), "--cfg",
                           "configs/vit_tiny_digits.yaml", "--lrs", "1e-3", "3e-3", "--dry-run", "--gpus", "0"],
                          cwd=elsewhere, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    cfg = os.path.join(REPO, "configs", "vit_tiny_digits.yaml")
    for line, lr in zip(lines, ("0.001", "0.003")):
        assert line.startswith(CD + "CUDA_VISIBLE_DEVICES=0 ")
        assert f"{os.path.join(REPO, 'main.py')} --cfg {cfg} --opts TRAIN.LR {lr} RUN_NAME vit_tiny_digits_lr{lr}" in line


def test_lr_grid_plan_reads_metrics_where_main_py_writes_them(elsewhere):
    # OUTPUT is relative in the config: main.py runs from the repository root, so that is where runs go
    run = lr_grid.plan("configs/vit_tiny_digits.yaml", [1e-3])[0]
    assert run["metrics"] == os.path.join(REPO, "output", run["run_name"], "metrics.jsonl")
    # a config given relative to the current directory is found there first
    (elsewhere / "mine.yaml").write_text(f"BASE: ['{os.path.join(REPO, 'configs', 'vit_tiny_digits.yaml')}']\n"
                                         "RUN_NAME: mine\n")
    run = lr_grid.plan("mine.yaml", [1e-3])[0]
    assert run["cmd"][run["cmd"].index("--cfg") + 1] == str(elsewhere / "mine.yaml")
    assert run["run_name"] == "mine_lr0.001"


def test_lr_grid_missing_config_is_one_error_line(elsewhere, capsys):
    with pytest.raises(SystemExit) as exit_info:
        lr_grid.main(["--cfg", "configs/nope.yaml", "--dry-run"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert exit_info.value.code == 2
    assert err.startswith("lr_grid.py: error: --cfg 'configs/nope.yaml': no config at ")
    assert repr(str(elsewhere / "configs/nope.yaml")) in err and repr(os.path.join(REPO, "configs/nope.yaml")) in err


def test_lr_grid_tiny_run_from_another_directory(elsewhere, tmp_path, monkeypatch, capsys):
    fake = tmp_path / "fake_main.py"
    fake.write_text(FAKE_MAIN)
    monkeypatch.setattr(lr_grid, "MAIN", fake)
    out = tmp_path / "runs"
    code = lr_grid.main(["--cfg", "configs/vit_tiny_digits.yaml", "--lrs", "1e-3", "3e-3", "--opts", "OUTPUT", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    results = json.loads((out / "vit_tiny_digits_lr0.003" / "results.json").read_text())
    assert results["cwd"] == REPO and results["cfg"] == os.path.join(REPO, "configs", "vit_tiny_digits.yaml")
    # chosen on val (0.8 at lr 0.003), reported by that run's test accuracy
    assert "chosen on validation: TRAIN.LR 0.003 (val_acc 0.8000); report its test_acc 0.7500" in text
    assert not os.listdir(elsewhere)  # nothing written where the command was run from


# -------------------------------------------------------------------------------------------- sweep
def test_sweep_from_another_directory_with_relative_paths(elsewhere, capsys):
    (elsewhere / "fake_main.py").write_text(FAKE_MAIN)
    code = research_main(["sweep", "--configs", "configs/compare/swin_cifar10.yaml", "--lrs", "1e-3,3e-3",
                          "--batch-sizes", "8", "--output", "runs", "--main", "fake_main.py"])
    assert code == 0, capsys.readouterr()
    run = elsewhere / "runs" / "swin_cifar10_lr0.003_bs8_augon"
    results = json.loads((run / "results.json").read_text())
    assert results["cwd"] == REPO  # main.py ran from the repository root
    assert results["cfg"] == os.path.join(REPO, "configs", "compare", "swin_cifar10.yaml")
    assert (elsewhere / "runs" / "curves" / "curves_cifar10.png").stat().st_size > 0


def test_sweep_dry_run_as_a_script_from_another_directory(elsewhere):
    proc = subprocess.run([sys.executable, os.path.join(REPO, "research"), "sweep", "--configs",
                           "configs/compare/swin_cifar10.yaml", "--lrs", "1e-3", "--batch-sizes", "8", "--dry-run"],
                          cwd=elsewhere, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.strip().splitlines()
    assert line.startswith(CD) and f"{os.path.join(REPO, 'main.py')} --cfg " in line
    assert f"OUTPUT {os.path.join(REPO, 'output', 'compare')} RUN_NAME swin_cifar10_lr0.001_bs8_augon" in line
    assert not os.listdir(elsewhere)


def test_sweep_missing_config_is_one_error_line(elsewhere, capsys):
    code = research_main(["sweep", "--configs", "nope.yaml", "--lrs", "1e-3", "--batch-sizes", "8", "--dry-run"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("python -m research sweep: error: --configs 'nope.yaml': no config at ")
    assert "e.g. --configs configs/compare/swin_cifar10.yaml" in err
