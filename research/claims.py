"""Tables that set our fine-tuning runs beside the ViT paper's published figures.

``python -m research claims RUNS_DIR --out DIR`` finds every run folder under ``RUNS_DIR`` (a folder
holding ``config.yaml`` and ``metrics.jsonl``), and writes for each claim a Markdown table and a
PNG: the paper's rows, our rows, and difference rows. It also writes a training-time table and
the cost of the paper's learning-rate grid estimated from our measured throughput.

How a run fills a cell (the matching rule)
-------------------------------------------
A cell of "ours" is identified by (model, pre-training data, dataset column):

* **model**: from ``MODEL.NAME``, or ``MODEL.TIMM.ARCH`` when ``MODEL.NAME`` is ``timm``, read
  with :func:`model_label`: ``vit_base_patch16_224`` / ``vit_b16`` -> ``ViT-B/16``;
  ``vit_base_r50_s16_384`` / ``hybrid_r50_b16`` -> ``R50x1+ViT-B/16``; ``resnetv2_152x4_bit`` ->
  ``ResNet152x4``; ``vit`` with ``MODEL.VIT`` sizes of Table 1 -> ``ViT-B/16`` etc.
* **pre-training data**: from ``MODEL.PRETRAINED`` (and a tag after ``.`` in the timm arch) with
  :func:`pretrain_label`: text holding ``21k``/``22k`` -> ``I21k``; ``jft`` -> ``JFT``;
  ``in1k``/``imagenet``/``sam`` -> ``ImageNet``; empty -> ``scratch``.
* **dataset column**: ``DATA.DATASET`` through ``paper_tables.DATASET_TO_COLUMN``.

Only finished runs count (as many epochs in ``metrics.jsonl`` as ``TRAIN.EPOCHS`` asks for, or
any epoch for step-based runs). The run's accuracy is its last epoch's ``val_acc`` (``--metric
best`` takes the best epoch), in percent. When several runs match one cell (a learning-rate
grid), the cell takes the best of them, as the paper does when it reports its grid search.
A cell no run matches is missing and prints as ``—``, never as zero.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
from dataclasses import dataclass, field

import pandas as pd
import yaml

from research import paper_tables as P

MISSING = "—"
METRICS = ("last", "best")


# -------------------------------------------------------------------------------------------------
# Runs
# -------------------------------------------------------------------------------------------------
def _get(config: dict, dotted: str, default=None):
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


_SIZE = {"ti": "Ti", "tiny": "Ti", "s": "S", "small": "S", "b": "B", "base": "B",
         "l": "L", "large": "L", "h": "H", "huge": "H"}
_SIZE_RE = "(tiny|small|base|large|huge|ti|s|b|l|h)"


def model_label(config: dict) -> str:
    """The paper's name for the model a run config builds (see the module docstring).

    Args:
        config: the run's config as a plain nested dict (``config.yaml``).
    """
    name = str(_get(config, "MODEL.NAME", "") or "")
    if name == "timm":
        name = str(_get(config, "MODEL.TIMM.ARCH", "") or "").split(".")[0]
    low = name.lower()
    if low == "vit":
        vit = _get(config, "MODEL.VIT", {}) or {}
        for size, dims in P.VIT_SIZES.items():
            if vit.get("EMBED_DIM") == dims["embed_dim"] and vit.get("DEPTH") == dims["depth"]:
                return f"ViT-{size}/{vit.get('PATCH_SIZE')}"
        return f"ViT(D={vit.get('EMBED_DIM')},depth={vit.get('DEPTH')})/{vit.get('PATCH_SIZE')}"
    m = re.search(r"resnet(?:v2_)?(\d+)x(\d+)", low)  # BiT: resnetv2_152x4_bit, resnet50x1
    if m:
        return f"ResNet{m.group(1)}x{m.group(2)}"
    m = re.search(rf"vit_{_SIZE_RE}_r(\d+)_s(\d+)", low)  # timm hybrids: vit_base_r50_s16_384
    if m:
        return f"R{m.group(2)}x1+ViT-{_SIZE[m.group(1)]}/{m.group(3)}"
    m = re.search(rf"r(\d+)[_-]?(?:vit[_-]?)?{_SIZE_RE}[_-]?(?:patch)?(\d+)", low)  # hybrid_r50_b16
    if m:
        return f"R{m.group(1)}x1+ViT-{_SIZE[m.group(2)]}/{m.group(3)}"
    m = re.search(rf"hybrid[_-]?(?:vit[_-]?)?{_SIZE_RE}[_-]?(?:patch)?(\d+)", low)  # hybrid_b16: R50 stem
    if m:
        return f"R50x1+ViT-{_SIZE[m.group(1)]}/{m.group(2)}"
    m = re.search(rf"vit[_-]?{_SIZE_RE}[_-]?(?:patch)?(\d+)", low)  # vit_base_patch16_224, vit_b16
    if m:
        return f"ViT-{_SIZE[m.group(1)]}/{m.group(2)}"
    return name


def pretrain_label(text: str) -> str:
    """``I21k``, ``JFT``, ``ImageNet``, ``scratch`` or ``other`` for a pre-training tag or file.

    Args:
        text: ``MODEL.PRETRAINED`` (a timm tag or a checkpoint path), possibly with the arch's tag.
    """
    low = (text or "").lower()
    if not low.strip():
        return "scratch"
    if "21k" in low or "22k" in low:
        return "I21k"
    if "jft" in low:
        return "JFT"
    if "in1k" in low or "imagenet" in low or "sam" in low or "i1k" in low:
        return "ImageNet"
    return "other"


@dataclass
class Run:
    """One run folder: its config (plain dict) and its per-epoch metrics."""

    path: str
    config: dict
    metrics: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.path))

    @property
    def model(self) -> str:
        return model_label(self.config)

    @property
    def pretrain(self) -> str:
        text = str(_get(self.config, "MODEL.PRETRAINED", "") or "")
        arch = str(_get(self.config, "MODEL.TIMM.ARCH", "") or "")
        if text and "." in arch:
            text = f"{text} {arch.split('.', 1)[1]}"
        return pretrain_label(text)

    @property
    def dataset(self) -> str:
        return str(_get(self.config, "DATA.DATASET", "") or "")

    @property
    def column(self) -> str | None:
        return P.DATASET_TO_COLUMN.get(self.dataset)

    @property
    def finished(self) -> bool:
        if not self.metrics:
            return False
        if int(_get(self.config, "TRAIN.STEPS", 0) or 0) > 0:
            return True
        return len(self.metrics) >= int(_get(self.config, "TRAIN.EPOCHS", 1) or 1)

    def accuracy(self, metric: str = "last") -> float | None:
        """Validation accuracy in percent (last or best epoch); None when never validated."""
        accs = [m["val_acc"] for m in self.metrics if m.get("val_acc") is not None]
        if not accs:
            return None
        return 100.0 * (accs[-1] if metric == "last" else max(accs))

    def median(self, key: str) -> float | None:
        values = [float(m[key]) for m in self.metrics if m.get(key) is not None]
        return statistics.median(values) if values else None

    def total(self, key: str) -> float | None:
        values = [float(m[key]) for m in self.metrics if m.get(key) is not None]
        return sum(values) if values else None


def load_runs(runs_dir: str) -> list[Run]:
    """Every run folder (``config.yaml`` + ``metrics.jsonl``) under ``runs_dir``, sorted by path.

    Args:
        runs_dir: a folder of run folders (any depth), e.g. ``output/``.
    """
    if not os.path.isdir(runs_dir):
        raise FileNotFoundError(
            f"Runs folder {runs_dir!r} does not exist. Pass the folder that holds your run folders "
            f"(main.py's OUTPUT, by default 'output/')."
        )
    runs = []
    for root, _dirs, files in sorted(os.walk(runs_dir)):
        if "config.yaml" not in files or "metrics.jsonl" not in files:
            continue
        with open(os.path.join(root, "config.yaml")) as f:
            config = yaml.safe_load(f) or {}
        metrics = []
        with open(os.path.join(root, "metrics.jsonl")) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        metrics.append(json.loads(line))
                    except json.JSONDecodeError:
                        break  # a line cut off by a crash: keep the epochs before it
        runs.append(Run(root, config, metrics))
    return runs


def ours_cells(runs: list[Run], metric: str = "last") -> dict[tuple[str, str, str], tuple[float, str]]:
    """(model, pre-training, column) -> (best accuracy %, run name) over the finished runs.

    Args:
        runs: from :func:`load_runs`.
        metric: ``last`` or ``best`` epoch of each run.
    """
    if metric not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}; use one of {METRICS}.")
    cells: dict[tuple[str, str, str], tuple[float, str]] = {}
    for run in runs:
        acc = run.accuracy(metric)
        if not run.finished or run.column is None or acc is None:
            continue
        key = (run.model, run.pretrain, run.column)
        if key not in cells or acc > cells[key][0]:
            cells[key] = (acc, run.name)
    return cells


# -------------------------------------------------------------------------------------------------
# Claims
# -------------------------------------------------------------------------------------------------
def paper(model: str, data: str, epochs: int | None = None) -> str:
    """Row label of a paper row."""
    return f"paper: {model} ({data}{f', {epochs} ep' if epochs else ''})"


def ours(model: str, data: str) -> str:
    """Row label of one of our rows."""
    return f"ours: {model} ({data})"


@dataclass(frozen=True)
class Claim:
    """One claim's table: paper rows, our rows (looked up by key), and ``a − b`` difference rows.

    Args:
        key: file stem of the outputs.
        title: the claim, in one sentence.
        columns: column keys (``paper_tables.COLUMNS``).
        paper_rows: (label, {column: accuracy or None}).
        ours_rows: (label, (model, pre-training)) looked up in :func:`ours_cells`.
        differences: (label_a, label_b) pairs; each gives the row ``label_a − label_b``.
        note: what can and cannot be checked with public weights.
    """

    key: str
    title: str
    columns: tuple[str, ...]
    paper_rows: tuple[tuple[str, dict], ...]
    ours_rows: tuple[tuple[str, tuple[str, str]], ...]
    differences: tuple[tuple[str, str], ...]
    note: str = ""


def _claims() -> tuple[Claim, ...]:
    six = ("imagenet", "imagenet_real", "cifar10", "cifar100", "oxford_pets", "flowers102")
    vit5 = ("ViT-B/16", "ViT-B/32", "ViT-L/16", "ViT-L/32", "ViT-H/14")
    claim1 = Claim(
        key="claim1_vit_vs_cnn",
        title="After large-scale pre-training, ViT matches or beats state-of-the-art CNNs (Table 2).",
        columns=six + ("vtab",),
        paper_rows=tuple((paper(m, d), v) for (m, d), v in P.TABLE2_SOTA.items()),
        ours_rows=tuple((ours(m, "I21k"), (m, "I21k")) for m in ("ViT-H/14", "ViT-L/16", "ResNet152x4")),
        differences=(
            (ours("ViT-L/16", "I21k"), paper("ViT-L/16", "I21k")),
            (paper("ViT-L/16", "JFT"), paper("ResNet152x4", "JFT")),
            (ours("ViT-L/16", "I21k"), ours("ResNet152x4", "I21k")),
            (ours("ViT-H/14", "I21k"), ours("ResNet152x4", "I21k")),
        ),
        note="Only the ImageNet-21k rows can be checked: JFT-300M and the JFT checkpoints are private. "
             "BiT-L (ResNet152x4 on JFT) is compared with the public BiT-M ResNet152x4 on ImageNet-21k, "
             "so only the sign of ViT − ResNet (the qualitative claim) carries over.",
    )
    paper2 = tuple((paper(m, d), v) for (m, d), v in P.TABLE5_PRETRAINING.items()
                   if any(x is not None for x in v.values()))
    paper2_labels = {label for label, _ in paper2}
    ours2 = tuple((ours(m, d), (m, d)) for d in ("ImageNet", "I21k") for m in vit5)
    diffs2 = tuple((ours(m, d), paper(m, d)) for d in ("ImageNet", "I21k") for m in vit5
                   if paper(m, d) in paper2_labels)
    diffs2 += tuple((src(m, "I21k"), src(m, "ImageNet")) for src in (paper, ours) for m in vit5
                    if src is ours or paper(m, "ImageNet") in paper2_labels)
    claim2 = Claim(
        key="claim2_pretraining_size",
        title="ViT's accuracy after fine-tuning grows with the size of the pre-training data (Table 5).",
        columns=six,
        paper_rows=paper2,
        ours_rows=ours2,
        differences=diffs2,
        note="ImageNet-1k and ImageNet-21k rows can be checked with public weights (the public ImageNet-1k "
             "ViTs were trained with SAM, unlike the paper's); the JFT-300M rows cannot.",
    )
    paper3 = tuple((paper(m, "JFT", e), v) for (m, e), v in P.TABLE6_SCALING.items())
    ours3_models = ("ResNet50x1", "ResNet152x2", "ViT-B/16", "ViT-L/32", "R50x1+ViT-B/16", "R50x1+ViT-L/32")
    claim3 = Claim(
        key="claim3_hybrids",
        title="Hybrids (ResNet stem + ViT) beat both ViT and ResNet at small compute (Table 6).",
        columns=six,
        paper_rows=paper3,
        ours_rows=tuple((ours(m, "I21k"), (m, "I21k")) for m in ours3_models),
        differences=(
            (paper("R50x1+ViT-B/16", "JFT", 7), paper("ViT-B/16", "JFT", 7)),
            (paper("R50x1+ViT-B/16", "JFT", 7), paper("ResNet50x1", "JFT", 7)),
            (paper("R50x1+ViT-L/16", "JFT", 14), paper("ViT-L/16", "JFT", 14)),
            (ours("R50x1+ViT-B/16", "I21k"), ours("ViT-B/16", "I21k")),
            (ours("R50x1+ViT-B/16", "I21k"), ours("ResNet50x1", "I21k")),
            (ours("R50x1+ViT-L/32", "I21k"), ours("ViT-L/32", "I21k")),
        ),
        note="The paper's rows are JFT-300M pre-training, which is private: only the qualitative ordering "
             "(hybrid − ViT, hybrid − ResNet) can be checked, with the public ImageNet-21k hybrids "
             "(R50x1+ViT-B/16, R50x1+ViT-L/32) against ImageNet-21k ViTs and BiT-M ResNets.",
    )
    return claim1, claim2, claim3


CLAIMS: tuple[Claim, ...] = _claims()


def claim_table(claim: Claim, cells: dict[tuple[str, str, str], tuple[float, str]]) -> pd.DataFrame:
    """The claim's table: one row per paper row, our row and difference; NaN where missing.

    Args:
        claim: one of :data:`CLAIMS`.
        cells: from :func:`ours_cells`.
    """
    rows: dict[str, dict[str, float]] = {}
    for label, values in claim.paper_rows:
        rows[label] = {c: _num(values.get(c)) for c in claim.columns}
    for label, (model, data) in claim.ours_rows:
        rows[label] = {c: _num(cells.get((model, data, c), (None,))[0]) for c in claim.columns}
    for a, b in claim.differences:
        if a not in rows or b not in rows:
            raise KeyError(f"Difference row of claim {claim.key!r} names an unknown row: {a!r} or {b!r}.")
        rows[f"{a} − {b}"] = {c: rows[a][c] - rows[b][c] for c in claim.columns}  # NaN stays NaN
    df = pd.DataFrame.from_dict(rows, orient="index", columns=list(claim.columns))
    df.columns = [P.COLUMNS[c] for c in claim.columns]
    return df


def _num(value) -> float:
    return float("nan") if value is None else float(value)


def training_time_table(runs: list[Run]) -> pd.DataFrame:
    """Per run: model, data, epochs, total and median epoch time, throughput, step time at 512.

    Args:
        runs: from :func:`load_runs` (unfinished runs are listed too, marked as such).
    """
    records = []
    for run in runs:
        ips = run.median("images_per_sec")
        batch = int(_get(run.config, "DATA.BATCH_SIZE", 0) or 0) * int(
            _get(run.config, "TRAIN.ACCUMULATION_STEPS", 1) or 1)
        records.append({
            "run": run.name, "model": run.model, "pre-training": run.pretrain, "dataset": run.dataset,
            "finished": "yes" if run.finished else "no", "epochs": len(run.metrics), "batch": batch,
            "train time (s)": _num(run.total("epoch_time")),
            "median epoch (s)": _num(run.median("epoch_time")),
            "images/s": _num(ips),
            f"step at {P.FINETUNE_BATCH_SIZE} (s)": _num(P.FINETUNE_BATCH_SIZE / ips if ips else None),
        })
    return pd.DataFrame.from_records(records, index="run") if records else pd.DataFrame()


def lr_grid_cost_table(runs: list[Run]) -> pd.DataFrame:
    """The paper's fine-tuning grid (Table 4) priced with each finished run's measured throughput.

    One paper step is 512 images, so its time is ``512 / images_per_sec``; a grid costs
    ``steps x len(lrs)`` of them.

    Args:
        runs: from :func:`load_runs`.
    """
    records = []
    for run in runs:
        grid = P.FINETUNE_GRID.get(run.dataset)
        if grid is None or not run.finished:
            continue
        ips = run.median("images_per_sec")
        step = P.FINETUNE_BATCH_SIZE / ips if ips else None
        one = grid["steps"] * step / 3600 if step else None
        records.append({
            "run": run.name, "model": run.model, "dataset": run.dataset, "paper steps": grid["steps"],
            "learning rates": ", ".join(f"{lr:g}" for lr in grid["lrs"]),
            "images/s (ours)": _num(ips), "step (s)": _num(step), "one LR (h)": _num(one),
            "grid (h)": _num(one * len(grid["lrs"]) if one is not None else None),
        })
    return pd.DataFrame.from_records(records, index="run") if records else pd.DataFrame()


# -------------------------------------------------------------------------------------------------
# Output
# -------------------------------------------------------------------------------------------------
def format_cell(value, difference: bool = False) -> str:
    """``—`` for missing, ``+1.23`` for differences, ``98.13`` for accuracies, text unchanged."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, int):
        return str(value)
    return f"{value:+.2f}" if difference else f"{value:.2f}"


def to_markdown(df: pd.DataFrame, title: str = "", note: str = "") -> str:
    """A GitHub Markdown table (missing cells as ``—``); difference rows hold ``−`` in their label."""
    lines = [f"## {title}", ""] if title else []
    if df.empty:
        return "\n".join(lines + ["(no runs)", ""])
    lines.append("| " + " | ".join([df.index.name or ""] + [str(c) for c in df.columns]) + " |")
    lines.append("| " + " | ".join([":--"] + ["--:"] * len(df.columns)) + " |")
    for label, row in df.iterrows():
        diff = " − " in str(label)
        lines.append("| " + " | ".join([str(label)] + [format_cell(v, diff) for v in row]) + " |")
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def to_png(df: pd.DataFrame, path: str, title: str = "") -> None:
    """The table as an annotated grid: accuracy rows shaded by value, difference rows green/red.

    Args:
        df: a table from this module (rows with `` − `` in the label are differences).
        path: PNG file to write.
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows, cols = max(1, len(df.index)), max(1, len(df.columns))
    fig = plt.figure(figsize=(3.6 + 1.1 * cols, 0.8 + 0.24 * rows))
    ax = fig.add_axes((0.42 if len(df.columns) < 8 else 0.36, 0.02, 0.56, 0.9 - 0.2 / rows))
    colours = np.ones((rows, cols, 3))
    numeric = df.apply(pd.to_numeric, errors="coerce") if not df.empty else df
    for i, (label, row) in enumerate(numeric.iterrows()):
        diff = " − " in str(label)
        for j, v in enumerate(row):
            if isinstance(v, float) and not math.isnan(v):
                if diff:
                    colours[i, j] = (0.80, 0.93, 0.80) if v > 0 else (0.97, 0.82, 0.82) if v < 0 else (1, 1, 1)
                else:
                    colours[i, j] = (0.86, 0.90, 0.97)
    ax.imshow(colours, aspect="auto", interpolation="nearest")
    for i, (label, row) in enumerate(df.iterrows()):
        for j, v in enumerate(row):
            ax.text(j, i, format_cell(v, " − " in str(label)), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(df.columns)), [str(c) for c in df.columns], fontsize=7)
    ax.set_yticks(range(len(df.index)), [str(i) for i in df.index], fontsize=7)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build_tables(runs_dir: str, out_dir: str, metric: str = "last") -> dict[str, pd.DataFrame]:
    """Write every claim's table, the training-time table and the LR-grid cost to ``out_dir``.

    Files: ``<name>.md`` and ``<name>.png`` per table, and ``README.md`` joining the Markdown.
    Returns the tables by name.

    Args:
        runs_dir: folder of run folders.
        out_dir: where the tables go (created).
        metric: ``last`` or ``best`` epoch's ``val_acc`` per run.
    """
    runs = load_runs(runs_dir)
    cells = ours_cells(runs, metric)
    os.makedirs(out_dir, exist_ok=True)
    tables: dict[str, tuple[pd.DataFrame, str, str]] = {}
    for claim in CLAIMS:
        tables[claim.key] = (claim_table(claim, cells), claim.title, claim.note)
    tables["training_time"] = (training_time_table(runs), "Training time of our runs", "")
    tables["lr_grid_cost"] = (
        lr_grid_cost_table(runs), "Cost of the paper's learning-rate grid at our measured speed",
        f"Paper: batch {P.FINETUNE_BATCH_SIZE}, steps and learning rates of its Table 4; our step time "
        f"is {P.FINETUNE_BATCH_SIZE} / images_per_sec (median over epochs).")
    summary = [f"# ViT claims: paper vs ours ({len(runs)} runs found in {runs_dir}, metric: {metric} val_acc)", ""]
    for name, (df, title, note) in tables.items():
        text = to_markdown(df, title, note)
        with open(os.path.join(out_dir, f"{name}.md"), "w") as f:
            f.write(text)
        to_png(df, os.path.join(out_dir, f"{name}.png"), title)
        summary.append(text)
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(summary))
    return {name: df for name, (df, _t, _n) in tables.items()}


def register(subparsers) -> None:
    """Add ``claims`` to ``python -m research``."""
    p = subparsers.add_parser("claims", help="tables of the ViT paper's claims vs our runs")
    p.add_argument("runs_dir", metavar="RUNS_DIR", help="folder holding run folders (e.g. output/)")
    p.add_argument("--out", required=True, metavar="DIR", help="where the tables and PNGs go")
    p.add_argument("--metric", choices=METRICS, default="last", help="which epoch's val_acc a run gives")

    def run(args: argparse.Namespace) -> int:
        tables = build_tables(args.runs_dir, args.out, args.metric)
        print(f"wrote {len(tables)} tables to {args.out}")
        return 0

    p.set_defaults(func=run)
