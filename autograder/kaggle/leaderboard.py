"""Rank a class's submissions: the public leaderboard during the competition, the private one at
the end (``final``), as Kaggle does.

A submissions folder holds, per team or student, one of: ``NAME.csv``; a folder ``NAME/`` or a
``NAME.zip`` holding a ``submission.csv``. Folders and zips are opened by the one door to student
work (``autograder.submission``: zips checked for path traversal, links and bombs), and the
``submission.csv`` that counts is the one ``grade`` would grade. Hidden entries (``.name``) are
skipped; anything else is listed as not ranked, with the reason.

Ties: equal accuracies share a rank (standard competition ranking, "1224"); within a tie, teams
are listed by name. Accuracies are counts of correct rows over the same split, so equal means equal.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import pandas as pd

from autograder.kaggle.score import Solution, load_solution, score_submission
from autograder.kaggle.validate import MAX_BYTES, KaggleError, Source
from autograder.submission import SubmissionError, read_handed_in, student_name

PathLike = Union[str, os.PathLike]
SUBMISSION = "submission.csv"


@dataclass
class Entry:
    """One team's submission found in the folder.

    Args:
        team: the name it is ranked under (file stem or folder name).
        file: where it was found, relative to the folder, for the tables.
        source: the CSV path or bytes to score; None when not found.
        problem: why it cannot be scored, when source is None.
    """

    team: str
    file: str
    source: Source | None = None
    problem: str = ""


def find_entries(folder: PathLike) -> list[Entry]:
    """Every team's submission in ``folder`` (see the module docstring for the layouts).

    Args:
        folder: the folder of submissions.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise KaggleError(f"submissions folder {folder} not found; pass a folder holding NAME.csv files "
                          f"or NAME/{SUBMISSION} folders")
    entries = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            entries.append(_handed_in_entry(child, "folder"))
        elif child.suffix.lower() == ".csv":
            entries.append(Entry(child.stem, child.name, child))
        elif child.suffix.lower() == ".zip":
            entries.append(_handed_in_entry(child, "zip"))
        else:
            entries.append(Entry(child.name, child.name, problem=f"not a .csv, a .zip or a folder with {SUBMISSION}"))
    return entries


def _handed_in_entry(path: Path, kind: str) -> Entry:
    """The entry of a folder or zip: its ``submission.csv`` as ``grade`` locates it."""
    team = student_name(path)
    try:
        data, found, _ = read_handed_in(path, SUBMISSION, MAX_BYTES)
    except SubmissionError as e:
        if kind == "zip":
            return Entry(team, path.name, problem=f"cannot read the zip ({e})")
        return Entry(team, f"{path.name}/", problem=str(e))
    if data is None:
        return Entry(team, path.name if kind == "zip" else f"{path.name}/", problem=f"no {SUBMISSION} inside the {kind}")
    return Entry(team, f"{path.name}:{found}" if kind == "zip" else f"{path.name}/{found}", data)


def build_leaderboard(folder: PathLike, solution: Union[Solution, PathLike], final: bool = False,
                      num_classes: int | None = None) -> pd.DataFrame:
    """Score and rank every submission in ``folder``.

    Args:
        folder: the folder of submissions.
        solution: a loaded Solution or the path of solution.csv.
        final: rank on the private split and show the public rank beside it; otherwise rank on the
            public split and leave private scores out entirely.
        num_classes: number of classes for the range check; None accepts any class >= 0.

    Returns:
        one row per entry: ranked ones by rank then team, then the unranked ones with their
        first problem. Columns: rank, team, score column(s), file, problem.
    """
    if not isinstance(solution, Solution):
        solution = load_solution(solution)
    rows = []
    for entry in find_entries(folder):
        row = {"team": entry.team, "file": entry.file, "public": None, "private": None, "problem": entry.problem}
        if entry.source is not None:
            result = score_submission(entry.source, solution, num_classes)
            if result["valid"]:
                row.update(public=result["public"], private=result["private"])
            else:
                more = len(result["problems"]) - 1
                row["problem"] = result["problems"][0] + (f" (and {more} more)" if more else "")
        rows.append(row)
    board = pd.DataFrame(rows, columns=["team", "file", "public", "private", "problem"])
    return _rank(board, "private" if final else "public", final)


def _rank(board: pd.DataFrame, key: str, final: bool) -> pd.DataFrame:
    ranked = board["problem"] == ""
    scores = board[key].astype(float)
    board["rank"] = scores.where(ranked).rank(method="min", ascending=False).astype("Int64")
    columns = ["rank", "team", key]
    if final:
        board["public_rank"] = board["public"].astype(float).where(ranked).rank(
            method="min", ascending=False).astype("Int64")
        board["moved"] = board["public_rank"] - board["rank"]  # > 0: climbed on the private split
        columns += ["public", "public_rank", "moved"]
    board = board.assign(_unranked=~ranked).sort_values(["_unranked", "rank", "team"], kind="stable")
    return board[columns + ["file", "problem"]].reset_index(drop=True)


def write_leaderboard(board: pd.DataFrame, out_dir: PathLike) -> tuple[Path, Path]:
    """Write ``leaderboard.csv`` and ``leaderboard.md`` into ``out_dir``.

    Args:
        board: what build_leaderboard returned.
        out_dir: folder to write (created if missing).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / "leaderboard.csv", out / "leaderboard.md"
    from autograder.worksheet.ta_sheet import csv_safe  # the one cell format of every CSV staff open
    text_columns = {c: board[c].map(lambda v: v if pd.isna(v) else csv_safe(v)) for c in ("team", "file", "problem")}
    board.assign(**text_columns).to_csv(csv_path, index=False)  # a team named "=cmd|..." stays text
    md_path.write_text(_markdown(board))
    return csv_path, md_path


def _markdown(board: pd.DataFrame) -> str:
    final = "public_rank" in board.columns
    title = "Final leaderboard (private split)" if final else "Public leaderboard"
    ranked = board[board["rank"].notna()]
    unranked = board[board["rank"].isna()]
    columns = ["rank", "team", "private", "public", "public_rank", "moved"] if final else ["rank", "team", "public"]
    lines = [f"# {title}", "", "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for _, row in ranked.iterrows():
        lines.append("| " + " | ".join(_cell(row[c], c) for c in columns) + " |")
    if not len(ranked):
        lines.append("| " + " | ".join("" for _ in columns) + " |")
    if len(unranked):
        lines += ["", "## Not ranked", "", "| team | file | problem |", "| --- | --- | --- |"]
        for _, row in unranked.iterrows():
            lines.append(f"| {_escape(row['team'])} | {_escape(row['file'])} | {_escape(row['problem'])} |")
    return "\n".join(lines) + "\n"


def _escape(text) -> str:
    """Table-safe text: a team or file name may hold '|'."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _cell(value, column: str) -> str:
    if pd.isna(value):
        return ""
    if column in ("public", "private"):
        return f"{value:.5f}"
    if column == "moved":
        return f"{int(value):+d}" if value else "0"
    return _escape(value)
