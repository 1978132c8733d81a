"""The architecture comparison: a hyperparameter sweep through ``main.py`` and its curves.

``python -m research sweep --configs configs/compare/swin_cifar10.yaml ... --lrs 5e-4,1e-3
--batch-sizes 128 --aug on,off`` runs ``main.py`` once per (config, learning rate, batch size,
augmentation) in a subprocess, each in its own run folder ``OUTPUT/<config>_lr<lr>_bs<bs>_aug<on|off>``,
then draws the curves. ``--dry-run`` prints the commands only.

``python -m research curves RUNS_DIR --out DIR`` draws, per dataset, accuracy and loss against the
epoch with one line per run (``curves_<dataset>.png``), and writes ``summary.md`` (best and last
validation accuracy per run).

Augmentation ``on`` keeps the config's own augmentation keys; ``off`` turns every ``AUG`` key off
(:data:`AUG_OFF`).

The sweep works from any directory (:mod:`research.paths`): ``--configs`` and ``--main`` are looked
up relative to the current directory, then to the repository root; ``main.py`` runs from the
repository root, so the configs' relative paths (``DATA.ROOT``) mean what they mean there; the
default ``--output`` is ``output/compare`` under the repository root, and an ``--output`` you type
is relative to the current directory, like any folder named on a command line.
"""
from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
from collections import defaultdict

import pandas as pd

from research.render import to_markdown
from research.runs import Run, load_runs
from research.paths import MAIN, REPO, find_file, shell_line

# --opts that switch off every train-time augmentation of config.py's AUG section.
AUG_OFF: tuple[str, ...] = (
    "AUG.RANDOM_CROP_PADDING", "0", "AUG.RANDOM_RESIZED_CROP", "False", "AUG.HFLIP", "0.0",
    "AUG.COLOR_JITTER", "0.0", "AUG.RAND_AUGMENT", "", "AUG.RANDOM_ERASE", "0.0",
    "AUG.MIXUP", "0.0", "AUG.CUTMIX", "0.0",
)


def _split(text: str, kind: type, flag: str) -> list:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ValueError(f"{flag} got {text!r}; give a comma-separated list, e.g. {flag} 1e-3,5e-4.")
    try:
        return [kind(t) for t in items]
    except ValueError as e:
        raise ValueError(f"{flag} got {text!r}: {e}. Give {kind.__name__} values separated by commas.") from e


def run_name(cfg_path: str, lr: float, batch_size: int, aug: str) -> str:
    """Run folder name of one sweep point, e.g. ``swin_cifar10_lr0.0005_bs128_augon``."""
    stem = os.path.splitext(os.path.basename(cfg_path))[0]
    return f"{stem}_lr{lr:g}_bs{batch_size}_aug{aug}"


def sweep_commands(configs: list[str], lrs: list[float], batch_sizes: list[int], augs: list[str],
                   output: str, extra_opts: list[str] = (), main: str = str(MAIN)) -> list[tuple[str, list[str]]]:
    """(run name, argv) for every point of the grid, in a fixed order; every path in argv is absolute.

    Args:
        configs: YAML config files (relative to the current directory or to the repository root).
        lrs: learning rates (``TRAIN.LR``).
        batch_sizes: ``DATA.BATCH_SIZE`` values.
        augs: any of ``on`` and ``off``.
        output: ``OUTPUT`` folder of every run (relative to the current directory).
        extra_opts: more ``KEY VALUE`` pairs for every run (e.g. ``TRAIN.EPOCHS 5``).
        main: the training script (default: the repository's ``main.py``).

    Raises:
        ValueError: an ``--aug`` value other than on/off, or an odd number of ``--opts`` items.
        FileNotFoundError: a config or the training script is in neither place.
    """
    for aug in augs:
        if aug not in ("on", "off"):
            raise ValueError(f"--aug value {aug!r} is not 'on' or 'off'; write e.g. --aug on,off.")
    configs = [find_file(cfg, "config", "--configs", "configs/compare/swin_cifar10.yaml") for cfg in configs]
    main = find_file(main, "training script", "--main", "main.py")
    output = os.path.abspath(output)
    if len(extra_opts) % 2:
        raise ValueError(f"--opts takes KEY VALUE pairs; got an odd number of items: {list(extra_opts)}.")
    # Later --opts win in main.py: a key the sweep sets per point would silently collapse the grid.
    owned = {"TRAIN.LR": "--lrs", "DATA.BATCH_SIZE": "--batch-sizes", "OUTPUT": "--output", "RUN_NAME": "the sweep"}
    if "off" in augs:
        owned.update({key: "--aug off" for key in AUG_OFF[::2]})
    clash = [k for k in list(extra_opts)[::2] if k in owned]
    if clash:
        raise ValueError(f"--opts sets {', '.join(clash)}, which the sweep sets for each run "
                         f"({', '.join(sorted({owned[k] for k in clash}))}); give those values there instead.")
    from config import load_config

    for cfg in configs:  # a bad config or key fails here, before any run, naming the key
        load_config(cfg, list(extra_opts))
    commands = []
    for cfg, lr, bs, aug in itertools.product(configs, lrs, batch_sizes, augs):
        name = run_name(cfg, lr, bs, aug)
        opts = ["TRAIN.LR", f"{lr:g}", "DATA.BATCH_SIZE", str(bs), "OUTPUT", output, "RUN_NAME", name]
        opts += list(AUG_OFF) if aug == "off" else []
        opts += list(extra_opts)
        commands.append((name, [sys.executable, main, "--cfg", cfg, "--opts", *opts]))
    return commands


def run_sweep(commands: list[tuple[str, list[str]]], output: str, dry_run: bool = False,
              skip_done: bool = True) -> dict[str, int]:
    """Run each command in turn from the repository root (a failure does not stop the sweep);
    returns exit codes by run name.

    Args:
        commands: from :func:`sweep_commands`.
        output: the runs' ``OUTPUT`` folder (to find finished runs).
        dry_run: print the commands (each with the ``cd`` that reproduces it anywhere), run nothing.
        skip_done: skip a run whose folder already holds a finished run.
    """
    done = {r.name: r for r in load_runs(output) if r.finished} if skip_done and os.path.isdir(output) else {}
    codes: dict[str, int] = {}
    for i, (name, argv) in enumerate(commands, 1):
        line = shell_line(argv)
        if dry_run:
            print(line)
            continue
        changed = _config_changes(done[name], argv) if name in done else {}
        if name in done and not changed:
            print(f"[{i}/{len(commands)}] {name}: finished already, skipped")
            codes[name] = 0
            continue
        if changed:
            print(f"[{i}/{len(commands)}] {name}: finished with another config "
                  f"({', '.join(f'{k} {old!r} -> {new!r}' for k, (old, new) in changed.items())}), run again")
        print(f"[{i}/{len(commands)}] {line}", flush=True)
        codes[name] = subprocess.call(argv, cwd=REPO)
        if codes[name]:
            print(f"[{i}/{len(commands)}] {name} failed with exit code {codes[name]}", flush=True)
    return codes


def _series(run: Run, key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, m in enumerate(run.metrics):
        if m.get(key) is not None:
            xs.append(float(m.get("epoch", i + 1)))
            ys.append(float(m[key]))
    return xs, ys


def summary_table(runs: list[Run]) -> pd.DataFrame:
    """Per run: dataset, model, progress (``6/500 steps``, so an unfinished run shows as one), best and
    last validation accuracy (percent)."""
    records = [{
        "run": r.name, "dataset": r.dataset, "model": r.model, "pre-training": r.pretrain,
        "progress": r.progress_text(), "finished": "yes" if r.finished else "no",
        "best val acc": r.accuracy("best"), "last val acc": r.accuracy("last"),
    } for r in runs]
    return pd.DataFrame.from_records(records, index="run") if records else pd.DataFrame()


def run_label(run: Run) -> str:
    """Legend label of a run: its folder name, the model it trained and the pre-training data, and
    how far it got when it is unfinished.

    E.g. ``swin_cifar10_lr0.001_bs128_augon (swin_tiny_patch4_window7_224, scratch)`` or
    ``vitb16_pets (ViT-B/16, I21k; unfinished: 6/500 steps)``.
    """
    model = run.model or str(run.config.get("MODEL", {}).get("NAME", "") or "?")
    unfinished = "" if run.finished else f"; unfinished: {run.progress_text()}"
    return f"{run.name} ({model}, {run.pretrain}{unfinished})"


_PANELS = (("train_acc", "train accuracy"), ("val_acc", "val accuracy"),
           ("train_loss", "train loss"), ("val_loss", "val loss"))


def curves_figure(dataset: str, group: list[Run]):
    """Accuracy and loss (train and val) against the epoch, one line per run, for one dataset.

    Args:
        dataset: the runs' ``DATA.DATASET`` (in the title).
        group: the runs to draw.

    Returns:
        The matplotlib figure (the caller saves and closes it): a 2x2 grid with whole-number epoch
        ticks and one legend under it naming each run with its model (:func:`run_label`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), layout="constrained")
    handles: dict[str, object] = {}
    for ax, (key, title) in zip(axes.flat, _PANELS):
        for i, run in enumerate(group):
            xs, ys = _series(run, key)
            if ys:
                (line,) = ax.plot(xs, ys, marker="." if len(xs) < 30 else None, color=f"C{i % 10}",
                                  label=run_label(run))
                handles.setdefault(line.get_label(), line)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.grid(alpha=0.3)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=2, fontsize=7,
                   frameon=False)
    fig.suptitle(f"{dataset}: {len(group)} run{'s' if len(group) != 1 else ''}")
    return fig


def draw_curves(runs_dir: str, out_dir: str) -> list[str]:
    """One figure per dataset (accuracy and loss, train and val, one line per run); returns the paths.

    Args:
        runs_dir: folder of run folders.
        out_dir: where ``curves_<dataset>.png`` and ``summary.md`` go.

    Raises:
        FileNotFoundError: ``runs_dir`` is not a folder.
    """
    import matplotlib.pyplot as plt

    runs = [r for r in load_runs(runs_dir) if r.metrics]
    os.makedirs(out_dir, exist_ok=True)
    by_dataset: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        by_dataset[run.dataset or "unknown"].append(run)
    paths = []
    for dataset, group in sorted(by_dataset.items()):
        fig = curves_figure(dataset, group)
        path = os.path.join(out_dir, f"curves_{dataset}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write(to_markdown(summary_table(runs), "Architecture comparison: validation accuracy (%)"))
    return paths


def _config_changes(run: Run, argv: list[str]) -> dict:
    """Keys whose value in the finished run's config.yaml differs from the config ``argv`` trains with
    (``[python, main, --cfg, CFG, --opts, ...]``), so a sweep with, say, more epochs does not skip it."""
    from config import config_diff, load_config

    with open(os.path.join(run.path, "config.yaml")) as f:
        saved = f.read()
    diff = config_diff(saved, load_config(argv[3], argv[5:]))
    return {k: v for k, v in diff.items() if not k.startswith(_NOT_RESULTS)}


# Keys that change how a run is shown or loaded, not what it trains: a finished run differing only in them is kept.
_NOT_RESULTS = ("PROGRESS", "PRINT_FREQ", "SAVE_FREQ", "WANDB.", "DEVICE", "DATA.ROOT", "DATA.DOWNLOAD",
                "DATA.NUM_WORKERS", "DATA.PERSISTENT_WORKERS", "DATA.PIN_MEMORY")


def register(subparsers) -> None:
    """Add ``sweep`` and ``curves`` to ``python -m research``."""
    p = subparsers.add_parser("sweep", help="run main.py over a grid of configs, LRs, batch sizes, aug")
    p.add_argument("--configs", nargs="+", required=True, metavar="YAML", help="configs to sweep")
    p.add_argument("--lrs", required=True, help="comma-separated learning rates, e.g. 1e-3,5e-4")
    p.add_argument("--batch-sizes", required=True, help="comma-separated batch sizes, e.g. 64,128")
    p.add_argument("--aug", default="on", help="on, off or on,off (off turns every AUG key off)")
    p.add_argument("--output", default=str(REPO / "output" / "compare"),
                   help="OUTPUT folder of the runs (default: output/compare in the repository)")
    p.add_argument("--curves-out", default="", help="folder of the curves (default: OUTPUT/curves)")
    p.add_argument("--opts", nargs="+", default=[], metavar="KEY VALUE", help="more overrides for every run")
    p.add_argument("--main", default=str(MAIN), help="training script (default: the repository's main.py)")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument("--no-skip", action="store_true", help="rerun runs that finished already")

    def sweep(args: argparse.Namespace) -> int:
        commands = sweep_commands(args.configs, _split(args.lrs, float, "--lrs"),
                                  _split(args.batch_sizes, int, "--batch-sizes"),
                                  _split(args.aug, str, "--aug"), args.output, args.opts, args.main)
        codes = run_sweep(commands, args.output, args.dry_run, not args.no_skip)
        if args.dry_run:
            return 0
        paths = draw_curves(args.output, args.curves_out or os.path.join(args.output, "curves"))
        failed = [n for n, c in codes.items() if c]
        print(f"{len(codes) - len(failed)}/{len(codes)} runs ok; curves: {', '.join(paths) or 'none'}")
        if failed:
            print("failed: " + ", ".join(failed))
        return 1 if failed else 0

    p.set_defaults(func=sweep)

    c = subparsers.add_parser("curves", help="accuracy and loss curves per dataset, one line per run")
    c.add_argument("runs_dir", metavar="RUNS_DIR", help="folder holding run folders")
    c.add_argument("--out", required=True, metavar="DIR", help="where the PNGs and summary.md go")

    def curves(args: argparse.Namespace) -> int:
        paths = draw_curves(args.runs_dir, args.out)
        print("\n".join(paths) if paths else f"no runs with metrics under {args.runs_dir}")
        return 0

    c.set_defaults(func=curves)
