"""Tables that set our fine-tuning runs beside the ViT paper's published figures.

``python -m research claims RUNS_DIR --out DIR`` finds every run folder under ``RUNS_DIR`` (a folder
holding ``config.yaml`` and ``metrics.jsonl``), and writes for each claim a Markdown table and a
PNG: the paper's rows, our rows, and difference rows. It also writes a training-time table and
the cost of the paper's learning-rate grid estimated from our measured throughput.

How a run fills a cell, and which runs are finished: see :mod:`research.runs`.

What "ours" means, as the paper does it: when several finished runs match one cell (a
learning-rate grid), the run is **chosen on the validation split** (its last epoch's ``val_acc``;
``--metric best`` takes its best epoch) and the cell shows that run's **test accuracy**
(``test_acc`` in the ``results.json`` main.py writes after training, in percent). Validation is a
holdout of the train split (``DATA.VAL_SIZE``) where the dataset has no val split of its own, so the
test split never takes part in the choice. A chosen run without ``test_acc`` (an unlabeled test
split, or ``EVAL.SUBMISSION False``) leaves its cell missing. A cell no run fills prints as ``—``,
never as zero. Every table says this in a note under it.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd

from research import paper_tables as P
from research.runs import Run, config_get, load_runs, model_label, pretrain_label  # noqa: F401  (re-exported)
from research.render import MISSING, format_cell, to_markdown, to_png  # noqa: F401  (re-exported)

METRICS = ("last", "best")


# -------------------------------------------------------------------------------------------------
# Cells of "ours"
# -------------------------------------------------------------------------------------------------
class Cell(NamedTuple):
    """One cell of "ours": the chosen run's test accuracy, how it was chosen, and what else matched.

    Attributes:
        test: test accuracy (%) of the chosen run, None when it has no ``test_acc``.
        val: the validation accuracy (%) it was chosen by.
        run: the chosen run's name.
        candidates: names of every finished run that matched the cell (the grid).
        path: the chosen run's folder (names can repeat across sub-folders; paths cannot).
    """

    test: float | None
    val: float
    run: str
    candidates: tuple[str, ...]
    path: str = ""


def cell_key(run: Run) -> tuple[str, str, str] | None:
    """(model, pre-training, column) of the cell a run can fill; None when no paper column fits."""
    return None if run.column is None else (run.model, run.pretrain, run.column)


def ours_cells(runs: list[Run], metric: str = "last") -> dict[tuple[str, str, str], Cell]:
    """(model, pre-training, column) -> :class:`Cell`: among the finished runs that match a cell,
    the one with the highest validation accuracy, reported by its test accuracy.

    Args:
        runs: from :func:`load_runs`.
        metric: ``last`` or ``best`` epoch's ``val_acc`` chooses among a grid's runs.

    Raises:
        ValueError: an unknown ``metric``.
    """
    if metric not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}; use one of {METRICS}.")
    groups: dict[tuple[str, str, str], list[tuple[float, Run]]] = {}
    for run in runs:
        val, key = run.accuracy(metric), cell_key(run)
        if run.finished and key is not None and val is not None:
            groups.setdefault(key, []).append((val, run))
    cells = {}
    for key, group in groups.items():
        val, chosen = max(group, key=lambda item: item[0])  # first of equals: runs are sorted by path
        cells[key] = Cell(chosen.test_accuracy, val, chosen.name, tuple(r.name for _v, r in group), chosen.path)
    return cells


def run_status(run: Run, cells: dict[tuple[str, str, str], Cell]) -> str:
    """Why a run does or does not fill a cell, in a few words (the ``runs.md`` status column)."""
    key = cell_key(run)
    if not run.finished:
        return f"unfinished ({run.progress_text()}): not counted"
    if key is None:
        return f"no paper column for dataset {run.dataset!r}"
    if run.accuracy() is None:
        return "never validated: not counted"
    cell = cells[key]  # a finished, validated run with a column always has its cell
    where = f"{run.model} ({run.pretrain}), {P.COLUMNS[key[2]]}"
    if cell.path != run.path:
        return f"not chosen for {where}: lower val acc than {cell.run}"
    if cell.test is None:
        return f"chosen for {where}, but has no test_acc (results.json): cell left missing"
    return f"chosen for {where}"


def runs_table(runs: list[Run], cells: dict[tuple[str, str, str], Cell], metric: str = "last") -> pd.DataFrame:
    """Every run found, finished or not: its cell, LR, progress, val and test accuracy and status.

    Args:
        runs: from :func:`load_runs`.
        cells: from :func:`ours_cells` with the same ``metric``.
        metric: which val_acc is shown (``last`` or ``best`` epoch).
    """
    records = [{
        "run": run.name, "model": run.model, "pre-training": run.pretrain, "dataset": run.dataset,
        "LR": "?" if run.lr is None else f"{run.lr:g}", "progress": run.progress_text(),
        f"val acc ({metric})": _num(run.accuracy(metric)), "test acc": _num(run.test_accuracy),
        "status": run_status(run, cells),
    } for run in runs]
    return pd.DataFrame.from_records(records, index="run") if records else pd.DataFrame()


OURS_NOTE = ("Ours: test accuracy (%) of the run chosen on the validation split ({metric} epoch's val_acc; "
             "a holdout of train, DATA.VAL_SIZE, where the dataset has none), as the paper picks its "
             "learning rate on held-out data and reports test accuracy. Only finished runs count.")


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


def claim_table(claim: Claim, cells: dict[tuple[str, str, str], Cell]) -> pd.DataFrame:
    """The claim's table: one row per paper row, our row and difference; NaN where missing.

    Our rows hold each cell's test accuracy (%) (see :func:`ours_cells`).

    Args:
        claim: one of :data:`CLAIMS`.
        cells: from :func:`ours_cells`.

    Raises:
        KeyError: a difference row names a row the claim does not have.
    """
    rows: dict[str, dict[str, float]] = {}
    for label, values in claim.paper_rows:
        rows[label] = {c: _num(values.get(c)) for c in claim.columns}
    for label, (model, data) in claim.ours_rows:
        rows[label] = {c: _num(cells[(model, data, c)].test if (model, data, c) in cells else None)
                       for c in claim.columns}
    for a, b in claim.differences:
        if a not in rows or b not in rows:
            raise KeyError(f"Difference row of claim {claim.key!r} names an unknown row: {a!r} or {b!r}.")
        rows[f"{a} − {b}"] = {c: rows[a][c] - rows[b][c] for c in claim.columns}  # NaN stays NaN
    df = pd.DataFrame.from_dict(rows, orient="index", columns=list(claim.columns))
    df.columns = [P.COLUMNS[c] for c in claim.columns]
    return df


def claim_note(claim: Claim, runs: list[Run], cells: dict[tuple[str, str, str], Cell],
               metric: str = "last") -> str:
    """The text under a claim's table: what "ours" is, which run fills each of our cells, which
    matching runs are unfinished (and so not counted), and what the paper's rows allow.

    Args:
        claim: one of :data:`CLAIMS`.
        runs: from :func:`load_runs`.
        cells: from :func:`ours_cells` with the same ``metric``.
        metric: ``last`` or ``best``, as given to :func:`ours_cells`.
    """
    wanted = {(model, data) for _label, (model, data) in claim.ours_rows}
    columns = set(claim.columns)
    lines = [OURS_NOTE.format(metric=metric)]
    chosen = [f"{model} ({data}), {P.COLUMNS[col]}: {cell.run} (val {cell.val:.2f}, "
              f"test {format_cell(cell.test)}, chosen from {len(cell.candidates)} finished run"
              f"{'s' if len(cell.candidates) != 1 else ''})"
              for (model, data, col), cell in sorted(cells.items()) if (model, data) in wanted and col in columns]
    if chosen:
        lines.append("Chosen runs: " + "; ".join(chosen) + ".")
    unfinished = [f"{run.name} ({run.model} ({run.pretrain}), {run.dataset}: {run.progress_text()})"
                  for run in runs if not run.finished and (run.model, run.pretrain) in wanted
                  and run.column in columns]
    if unfinished:
        lines.append("Unfinished, not counted: " + "; ".join(unfinished) + ".")
    if claim.note:
        lines.append(claim.note)
    return "\n\n".join(lines)


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
        batch = int(config_get(run.config, "DATA.BATCH_SIZE", 0) or 0) * int(
            config_get(run.config, "TRAIN.ACCUMULATION_STEPS", 1) or 1)
        records.append({
            "run": run.name, "model": run.model, "pre-training": run.pretrain, "dataset": run.dataset,
            "finished": "yes" if run.finished else "no", "progress": run.progress_text(), "batch": batch,
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
def build_tables(runs_dir: str, out_dir: str, metric: str = "last") -> dict[str, pd.DataFrame]:
    """Write every claim's table, the training-time table and the LR-grid cost to ``out_dir``.

    Files: ``<name>.md`` and ``<name>.png`` per table (the claims, ``runs``, ``training_time``,
    ``lr_grid_cost``), and ``README.md`` joining the Markdown. Returns the tables by name.

    Args:
        runs_dir: folder of run folders.
        out_dir: where the tables go (created).
        metric: ``last`` or ``best`` epoch's ``val_acc`` chooses among a grid's runs.

    Raises:
        FileNotFoundError: ``runs_dir`` is not a folder.
    """
    runs = load_runs(runs_dir)
    cells = ours_cells(runs, metric)
    os.makedirs(out_dir, exist_ok=True)
    tables: dict[str, tuple[pd.DataFrame, str, str]] = {}
    for claim in CLAIMS:
        tables[claim.key] = (claim_table(claim, cells), claim.title, claim_note(claim, runs, cells, metric))
    tables["runs"] = (runs_table(runs, cells, metric), "Every run found, and whether it counts",
                      OURS_NOTE.format(metric=metric))
    tables["training_time"] = (training_time_table(runs), "Training time of our runs", "")
    tables["lr_grid_cost"] = (
        lr_grid_cost_table(runs), "Cost of the paper's learning-rate grid at our measured speed",
        f"Paper: batch {P.FINETUNE_BATCH_SIZE}, steps and learning rates of its Table 4; our step time "
        f"is {P.FINETUNE_BATCH_SIZE} / images_per_sec (median over epochs).")
    found = f"{len(runs)} run{'' if len(runs) == 1 else 's'} found in {runs_dir}"
    finished = sum(run.finished for run in runs)
    summary = [f"# ViT claims: paper vs ours ({found}, {finished} finished; "
               f"ours = test accuracy of the run chosen by its {metric} epoch's val_acc)", ""]
    for name, (df, title, note) in tables.items():
        text = to_markdown(df, title, note)
        with open(os.path.join(out_dir, f"{name}.md"), "w") as f:
            f.write(text)
        to_png(df, os.path.join(out_dir, f"{name}.png"), title, note, shade=name.startswith("claim"))
        summary.append(text)
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(summary))
    return {name: df for name, (df, _t, _n) in tables.items()}


def register(subparsers) -> None:
    """Add ``claims`` to ``python -m research``."""
    p = subparsers.add_parser("claims", help="tables of the ViT paper's claims vs our runs")
    p.add_argument("runs_dir", metavar="RUNS_DIR", help="folder holding run folders (e.g. output/)")
    p.add_argument("--out", required=True, metavar="DIR", help="where the tables and PNGs go")
    p.add_argument("--metric", choices=METRICS, default="last",
                   help="which epoch's val_acc chooses among a grid's runs (the cell shows the chosen run's test_acc)")

    def run(args: argparse.Namespace) -> int:
        tables = build_tables(args.runs_dir, args.out, args.metric)
        print(f"wrote {len(tables)} tables to {args.out}")
        return 0

    p.set_defaults(func=run)
