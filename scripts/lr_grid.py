"""Runs a learning-rate grid for one config in one command, then prints each rate's accuracies.

Each grid point is ``python main.py --cfg CFG --opts TRAIN.LR <lr> RUN_NAME <run>_lr<lr> ...``.
The default grid is the ViT paper's for the config's dataset ({0.001, 0.003, 0.01, 0.03}; for
ImageNet-style data {0.003, 0.01, 0.03, 0.06}). Runs go one after another, or one per GPU in
parallel with ``--gpus 0,1,2,3``.

Works from any directory: ``--cfg`` is looked up relative to the current directory, then to the
repository root, and main.py runs from the repository root, so the config's relative paths
(``DATA.ROOT``, ``OUTPUT``) mean what they mean there. ``--dry-run`` prints each command with the
``cd`` that makes it reproducible anywhere. The table at the end chooses the learning rate on the
validation split (the last epoch's ``val_acc``: the final weights, the ones ``results.json``'s
``test_acc`` was measured on, as ``research claims`` chooses by default) and shows each run's
``test_acc``; report the chosen run's test accuracy, as the paper does.

Examples:
    python scripts/lr_grid.py --cfg configs/finetune/vit_b16_cifar10.yaml --dry-run
    python scripts/lr_grid.py --cfg configs/finetune/vit_b16_oxford_pets.yaml --gpus 0,1,2,3
    python scripts/lr_grid.py --cfg configs/vit_tiny_digits.yaml --lrs 1e-3 3e-3 --opts TRAIN.EPOCHS 2
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from config import load_config  # noqa: E402
from research.paths import MAIN, find_file, in_repo, shell_line  # noqa: E402

# Table 4 of the ViT paper (learning rates searched when fine-tuning).
PAPER_GRID = [0.001, 0.003, 0.01, 0.03]
IMAGENET_GRID = [0.003, 0.01, 0.03, 0.06]
IMAGENET_LIKE = {"imagenet", "medium_imagenet", "tiny_imagenet"}


def default_grid(dataset: str) -> list[float]:
    """The paper's grid for ``dataset`` (ImageNet-like datasets get the ImageNet grid)."""
    return list(IMAGENET_GRID if dataset in IMAGENET_LIKE else PAPER_GRID)


def plan(cfg_file: str, lrs: list[float] | None = None, opts: list[str] | None = None,
         python: str = sys.executable) -> list[dict]:
    """The grid's runs: for each learning rate, its command, run name and metrics file.

    Args:
        cfg_file: the config every run starts from (relative to the current directory or the repository).
        lrs: learning rates; None takes the paper's grid for the config's dataset.
        opts: extra ``KEY VALUE`` overrides for every run.
        python: interpreter that runs main.py.

    Raises:
        FileNotFoundError: ``cfg_file`` is in neither place.
        config.ConfigError: a bad config or override (the message names the key).
    """
    opts = list(opts or [])
    cfg_file = find_file(cfg_file, "config", "--cfg")
    cfg = load_config(cfg_file, opts)  # fails early, naming the key, on a bad config or override
    lrs = lrs or default_grid(cfg.DATA.DATASET)
    base = cfg.RUN_NAME or f"{cfg.MODEL.NAME}_{cfg.DATA.DATASET}"
    runs = []
    for lr in lrs:
        name = f"{base}_lr{lr:g}"
        cmd = [python, str(MAIN), "--cfg", cfg_file, "--opts", *opts, "TRAIN.LR", repr(float(lr)),
               "RUN_NAME", name]
        folder = os.path.join(in_repo(cfg.OUTPUT), name)  # main.py runs from the repository root
        runs.append({"lr": lr, "run_name": name, "cmd": cmd, "metrics": os.path.join(folder, "metrics.jsonl"),
                     "results": os.path.join(folder, "results.json")})
    return runs


def final_val_accuracy(metrics_file: str) -> float | None:
    """The last epoch's ``val_acc`` in a run's metrics.jsonl (the final weights, whose ``test_acc``
    the run reports), None when the file is missing or holds no ``val_acc``."""
    if not os.path.isfile(metrics_file):
        return None
    accs = [json.loads(line).get("val_acc") for line in open(metrics_file) if line.strip()]
    accs = [a for a in accs if a is not None]
    return accs[-1] if accs else None


def test_accuracy(results_file: str) -> float | None:
    """``test_acc`` from a run's results.json (written when training ends), None when absent."""
    try:
        with open(results_file) as f:
            value = json.load(f).get("test_acc")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def run_grid(runs: list[dict], gpus: list[str]) -> dict[float, int]:
    """Runs the commands, one at a time or one per GPU; returns each learning rate's exit code."""
    codes: dict[float, int] = {}
    if not gpus:
        for run in runs:
            print("+", shell_line(run["cmd"]), flush=True)
            codes[run["lr"]] = subprocess.call(run["cmd"], cwd=REPO)
        return codes
    pending, active = list(runs), {}  # gpu -> (run, process)
    while pending or active:
        for gpu in gpus:
            if gpu not in active and pending:
                run = pending.pop(0)
                env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu}
                print("+", shell_line(run["cmd"], {"CUDA_VISIBLE_DEVICES": gpu}), flush=True)
                active[gpu] = (run, subprocess.Popen(run["cmd"], cwd=REPO, env=env))
        for gpu, (run, proc) in list(active.items()):
            if proc.poll() is not None:
                codes[run["lr"]] = proc.returncode
                del active[gpu]
        time.sleep(1)
    return codes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lr_grid.py", description=__doc__.split("\n")[0])
    parser.add_argument("--cfg", required=True, metavar="FILE", help="config every grid point starts from")
    parser.add_argument("--lrs", nargs="+", type=float, help="learning rates (default: the paper's grid)")
    parser.add_argument("--gpus", default="", help="comma-separated GPU ids, one run per GPU at a time")
    parser.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    parser.add_argument("--opts", nargs="+", default=[], metavar="KEY VALUE", help="overrides for every run")
    args = parser.parse_args(argv)
    try:
        runs = plan(args.cfg, args.lrs, args.opts)
    except (FileNotFoundError, ValueError) as e:  # a missing config, a bad key or value: one line, exit 2
        parser.error(str(e))
    gpus = [g.strip() for g in args.gpus.split(",") if g.strip()]
    if args.dry_run:
        for i, run in enumerate(runs):
            print(shell_line(run["cmd"], {"CUDA_VISIBLE_DEVICES": gpus[i % len(gpus)]} if gpus else None))
        return 0
    codes = run_grid(runs, gpus)
    print(f"\n{'lr':>10}  {'last val_acc':>12}  {'test_acc':>8}  run")
    results = []
    for run in runs:
        acc, test = final_val_accuracy(run["metrics"]), test_accuracy(run["results"])
        results.append((acc, run["lr"], test))
        shown = "failed" if codes.get(run["lr"]) else ("-" if acc is None else f"{acc:.4f}")
        print(f"{run['lr']:>10g}  {shown:>12}  {'-' if test is None else f'{test:.4f}':>8}  {run['run_name']}")
    done = [r for r in results if r[0] is not None]
    if done:
        acc, lr, test = max(done, key=lambda r: r[0])
        print(f"chosen on validation: TRAIN.LR {lr:g} (val_acc {acc:.4f}); report its test_acc "
              f"{'(none: no labeled test split)' if test is None else f'{test:.4f}'}")
    return 1 if any(codes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
