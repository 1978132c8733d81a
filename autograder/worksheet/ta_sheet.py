"""The TA round trip: free-text answers out to a CSV, TA scores back into the gradebook and results."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Iterable, Mapping

from autograder.results import TestResult
from autograder.worksheet.common import WorksheetError, format_number
from autograder.worksheet.grading import grade_worksheet

TA_COLUMNS = ("student", "question", "max_score", "auto_score", "ta_score", "ta_comment", "answer", "reference", "auto_feedback")


def _student_name(path: Path) -> str:
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        return path.stem
    if path.is_file():
        return path.parent.name
    return path.name


def export_free_text(submissions: Mapping[str, list[TestResult]] | Iterable[Path | str], out_csv: Path | str,
                     staff_worksheet: Path | str | None = None, rubric: dict | None = None) -> int:
    """Write one CSV row per (student, free-text question) for TAs to grade; return the row count.

    Columns: ``student, question, max_score, auto_score, ta_score, ta_comment, answer, reference,
    auto_feedback``. TAs fill ``ta_score`` (blank keeps the automatic score) and ``ta_comment``.

    Args:
        submissions: either ``{student: grade_worksheet(...) results}`` or submission paths
            (folders, ``.zip`` files or ``WORKSHEET.md`` files; the student is the folder or zip name).
        out_csv: the CSV to write.
        staff_worksheet: the staff worksheet, when grading paths.
        rubric: the rubric mapping, when grading paths.
    """
    if isinstance(submissions, Mapping):
        graded = dict(submissions)
    else:
        graded = {}
        for p in submissions:
            name = _student_name(Path(p))
            if name in graded:
                raise WorksheetError(f"two submissions are both named {name!r}; give each student's folder a unique name.")
            graded[name] = grade_worksheet(p, staff_worksheet, rubric, key_entry=False)
    rows = 0
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    with open(out_csv, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=TA_COLUMNS)
        w.writeheader()
        for student in sorted(graded):
            for r in graded[student]:
                if not r.extra.get("manual"):
                    continue
                w.writerow({"student": student, "question": r.name.split("/", 1)[1], "max_score": format_number(r.max_score),
                            "auto_score": format_number(r.score), "ta_score": "", "ta_comment": "",
                            "answer": r.extra.get("answer", ""), "reference": r.extra.get("reference", ""),
                            "auto_feedback": r.output})
                rows += 1
    return rows


def read_ta_scores(ta_csv: Path | str) -> list[dict]:
    """The rows of a filled-in TA sheet that carry a TA score, checked.

    Args:
        ta_csv: the CSV from ``export_free_text`` with ``ta_score`` filled in.

    Raises:
        WorksheetError: a missing column, or a score that is not a number in [0, max_score]
            (the row, student and question are named).
    """
    import pandas as pd

    df = pd.read_csv(ta_csv, dtype=str, keep_default_na=False)
    for col in ("student", "question", "max_score", "ta_score"):
        if col not in df.columns:
            raise WorksheetError(f"{ta_csv}: column {col!r} is missing; keep the columns written by the export.")
    out = []
    for i, row in df.iterrows():
        raw = row["ta_score"].strip()
        if not raw:
            continue
        where = f"{ta_csv} row {i + 2} ({row['student']}, {row['question']})"
        try:
            score, most = float(raw), float(row["max_score"].replace(",", ""))
        except ValueError as e:
            raise WorksheetError(f"{where}: ta_score {raw!r} is not a number; write e.g. 1.5 or leave it blank.") from e
        if not 0 <= score <= most:
            raise WorksheetError(f"{where}: ta_score {raw} is outside [0, {format_number(most)}]; the question is worth {format_number(most)}.")
        out.append({"student": row["student"], "test": f"worksheet/{row['question']}", "score": score,
                    "comment": row.get("ta_comment", "").strip()})
    return out


def merge_ta_scores(gradebook_csv: Path | str, ta_csv: Path | str, out_csv: Path | str | None = None):
    """Put TA scores into a gradebook: each filled ``ta_score`` replaces that student's
    ``worksheet/<id>`` column, and the total columns (``score``, ``total``) change by the same
    amount. Nothing else changes. Returns the new gradebook (a pandas DataFrame).

    The gradebook has one row per student; the student is the ``student`` column (or the first
    column), and each graded item is a column named after its test (``worksheet/q3.9``).

    Args:
        gradebook_csv: ``gradebook.csv`` from ``grade-all``.
        ta_csv: the TA sheet from ``export_free_text``, filled in.
        out_csv: where to write the merged gradebook; default: overwrite ``gradebook_csv``.

    Raises:
        WorksheetError: a student or question of the TA sheet missing from the gradebook.
    """
    import pandas as pd

    gb = pd.read_csv(gradebook_csv, dtype=str, keep_default_na=False)
    sid = "student" if "student" in gb.columns else gb.columns[0]
    totals = [c for c in gb.columns if c.lower() in ("score", "total")]
    index = {s: i for i, s in enumerate(gb[sid])}
    for row in read_ta_scores(ta_csv):
        if row["student"] not in index:
            raise WorksheetError(f"{ta_csv}: student {row['student']!r} is not in {gradebook_csv}; check the name.")
        if row["test"] not in gb.columns:
            raise WorksheetError(f"{ta_csv}: {row['test']} is not a column of {gradebook_csv}; was the worksheet graded?")
        i = index[row["student"]]
        old = float(gb.at[i, row["test"]] or 0)
        gb.at[i, row["test"]] = format_number(row["score"])
        for col in totals:
            gb.at[i, col] = format_number(round(float(gb.at[i, col] or 0) - old + row["score"], 6))
    gb.to_csv(out_csv or gradebook_csv, index=False)
    return gb


def merge_ta_scores_into_results(results_dir: Path | str, ta_csv: Path | str) -> int:
    """Put TA scores into ``grade-all``'s per-student results files (``DIR/<student>.json``): the
    ``worksheet/<id>`` test's score and status change, the TA's comment is appended to its output,
    and the total is recomputed. Returns the number of tests changed.

    Args:
        results_dir: the folder of results JSON files.
        ta_csv: the filled-in TA sheet.
    """
    changed, by_student = 0, {}
    for row in read_ta_scores(ta_csv):
        by_student.setdefault(row["student"], []).append(row)
    for student, rows in by_student.items():
        path = Path(results_dir) / f"{student}.json"
        if not path.is_file():
            raise WorksheetError(f"{ta_csv}: no results file {path} for student {student!r}.")
        data = json.loads(path.read_text())
        tests = {t["name"]: t for t in data["tests"]}
        for row in rows:
            t = tests.get(row["test"])
            if t is None:
                raise WorksheetError(f"{path}: has no test {row['test']}; was the worksheet graded?")
            t["score"] = row["score"]
            t["status"] = "passed" if row["score"] >= t["max_score"] else "failed"
            t["output"] = (t.get("output", "") + f"\nTA: {format_number(row['score'])}/{format_number(t['max_score'])}"
                           + (f", {row['comment']}" if row["comment"] else "")).strip()
            changed += 1
        data["score"] = round(sum(float(t["score"]) for t in data["tests"]), 6)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, path)
    return changed

