"""A run's records: ``log.txt``, ``metrics.jsonl``, ``curves.png`` and, when enabled, W&B."""
from __future__ import annotations

import json
import logging
import os
import sys


def make_logger(out_dir: str | None, name: str = "vision-zoo") -> logging.Logger:
    """A logger that writes to the console and, on the main process, to ``out_dir/log.txt``."""
    logger = logging.getLogger(f"{name}.{id(out_dir)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.handlers.clear()
    fmt = logging.Formatter("[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(fmt)
    logger.addHandler(console)
    if out_dir:
        file = logging.FileHandler(os.path.join(out_dir, "log.txt"), mode="a")
        file.setFormatter(fmt)
        logger.addHandler(file)
    return logger


class RunRecorder:
    """Appends one JSON object per epoch to ``metrics.jsonl`` and mirrors it to W&B.

    Args:
        out_dir: the run folder.
        cfg: the run's config (sent to W&B as the run's config).
        append: keep the records already there (a resumed run in the same folder).
    """

    def __init__(self, out_dir: str, cfg, append: bool = False) -> None:
        self.path = os.path.join(out_dir, "metrics.jsonl")
        self.out_dir = out_dir
        if not append:
            open(self.path, "w").close()
        self.wandb = _init_wandb(cfg, out_dir)
        self.curves_title = curves_title(out_dir, cfg)

    def log_epoch(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.wandb is not None:
            self.wandb.log(record, step=record["epoch"])

    def summary(self, values: dict) -> None:
        if self.wandb is not None:
            self.wandb.summary.update(values)

    def records(self) -> list[dict]:
        with open(self.path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def close(self) -> None:
        plot_curves(self.records(), os.path.join(self.out_dir, "curves.png"), self.curves_title)
        if self.wandb is not None:
            self.wandb.finish()


def _init_wandb(cfg, out_dir: str):
    if not cfg.WANDB.ENABLED:
        return None
    import wandb

    mode = cfg.WANDB.MODE or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
    return wandb.init(project=cfg.WANDB.PROJECT, entity=cfg.WANDB.ENTITY or None, mode=mode,
                      name=os.path.basename(out_dir), dir=out_dir, config=_to_dict(cfg), reinit=True)


def _to_dict(cfg) -> dict:
    return {k: _to_dict(v) if hasattr(v, "items") else v for k, v in cfg.items()}


def curves_title(out_dir: str, cfg) -> str:
    """``<run folder name>: <model> on <dataset>`` (the model is timm's arch for ``MODEL.NAME timm``)."""
    model = cfg.MODEL.NAME
    if model == "timm" and cfg.MODEL.TIMM.ARCH:
        model = cfg.MODEL.TIMM.ARCH
    return f"{os.path.basename(os.path.normpath(out_dir))}: {model} on {cfg.DATA.DATASET}"


def curves_figure(records: list[dict], title: str = ""):
    """Loss and accuracy per epoch, train and val, side by side, under ``title``.

    Args:
        records: ``metrics.jsonl`` records (``epoch`` and ``{train,val}_{loss,acc}``; missing values skipped).
        title: the figure's title, e.g. from :func:`curves_title`.

    Returns:
        The matplotlib figure (the caller saves and closes it). Epoch ticks are whole numbers.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    epochs = [r["epoch"] for r in records]
    for ax, metric in zip(axes, ("loss", "acc")):
        for split in ("train", "val"):
            pts = [(e, r[f"{split}_{metric}"]) for e, r in zip(epochs, records) if r.get(f"{split}_{metric}") is not None]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if metric == "acc" else "loss")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


def plot_curves(records: list[dict], path: str, title: str = "") -> None:
    """Write :func:`curves_figure` to ``path`` (PNG).

    Args:
        records: ``metrics.jsonl`` records.
        path: the PNG file (the run folder's ``curves.png``).
        title: the figure's title, e.g. from :func:`curves_title`.
    """
    import matplotlib.pyplot as plt

    fig = curves_figure(records, title)
    fig.savefig(path, dpi=100)
    plt.close(fig)
