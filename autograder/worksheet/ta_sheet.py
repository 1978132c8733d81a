"""The TA round trip: answers a TA must score out to a CSV, the TA's scores back into the
gradebook CSV, the results JSON files and the nbgrader gradebook.

Out (``export_free_text``): one row per (student, question) that needs a person: every free-text
answer, and every answer the grader flagged for review (``extra["review"]``: a short answer or a
verdict it could not make with confidence). Each row carries the suggested score
(``auto_score``), why it is there (``review``), the evidence (``evidence``: what the grader read
and matched) and the feedback. The file is UTF-8 with a byte-order mark, so Excel shows accents
and non-Latin names; every text cell that a spreadsheet would run as a formula (starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with an apostrophe (OWASP's
advice against CSV injection).

Back (``merge_ta_sheet``): the sheet is read in whatever encoding and delimiter the TA's program
saved it (Excel's cp1252 "CSV", "CSV UTF-8" with a BOM, ``;`` in European locales). Every row is
checked against every target first; a bad row (a score that is not a number, out of range, an
unknown student or question, a second different score for the same answer) is reported with one
message naming its line, and nothing of it is merged; the good rows are merged everywhere. Merging
is idempotent: a TA score replaces the previous one (never appended twice), the "provisional"
wording goes once a TA has scored the answer, and totals are recomputed as
``round(math.fsum(scores), 6)`` in the CSV and the JSON alike.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from autograder.results import TestResult
from autograder.submission import SubmissionError, find_students, read_text, student_name
from autograder.worksheet.common import WorksheetError, format_number
from autograder.worksheet.grading import grade_worksheet

TA_COLUMNS = ("student", "question", "kind", "max_score", "auto_score", "review", "ta_score", "ta_comment",
              "answer", "reference", "evidence", "auto_feedback")
REQUIRED = ("student", "question", "ta_score")  # what a merge needs; the other columns help the TA
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs a cell starting so as a formula
TA_LINE = "TA: "  # the line a merge writes into a test's output (replaced, never repeated)
_PROVISIONAL = re.compile(r"provisional|suggest|a TA (grades|reviews|will)", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------
def csv_safe(value: object) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text: an apostrophe before a leading ``=``,
    ``+``, ``-``, ``@``, tab or carriage return (CSV injection).

    Args:
        value: any cell value.
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_unsafe(text: str) -> str:
    """Undo ``csv_safe`` on a cell read back (names and ids must match the gradebook's).

    Args:
        text: a cell as read.
    """
    text = text.strip()
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


def score_text(x: float) -> str:
    """A score as the gradebook CSV writes it: rounded to 6 decimals, no trailing ``.0``.

    Args:
        x: a score.
    """
    r = round(float(x), 6)
    return str(int(r)) if r == int(r) else repr(r)


def total_of(scores: Iterable[float]) -> float:
    """The total of some scores, as both the gradebook CSV and the results JSON state it.

    Args:
        scores: item scores.
    """
    return round(math.fsum(float(s) for s in scores), 6)


def _read_score(raw: str) -> float:
    """A TA's score cell: ``1.5``, ``1,5`` (decimal comma), `` 2 ``; ValueError otherwise."""
    text = csv_unsafe(raw).replace("\u00a0", "").replace(" ", "")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


# ---------------------------------------------------------------------------------------------
# Out
# ---------------------------------------------------------------------------------------------
def needs_ta(result: TestResult) -> str:
    """Why a worksheet result goes to the TA sheet ("" when it does not).

    Args:
        result: one ``worksheet/<id>`` result of ``grade_worksheet``.
    """
    review = result.extra.get("review")
    if review:
        return review if isinstance(review, str) else "the grader is not sure; check the suggested score"
    if result.extra.get("manual"):
        return "free text: a TA grades it"
    return ""


def _graded(submissions: Mapping[str, list[TestResult]] | Iterable[Path | str], staff_worksheet, rubric) -> dict:
    if isinstance(submissions, Mapping):
        return dict(submissions)
    graded: dict[str, list[TestResult]] = {}
    for p in submissions:
        name = student_name(Path(p))
        if name in graded:
            raise WorksheetError(f"two submissions are both named {name!r}; give each student's folder a unique name.")
        graded[name] = grade_worksheet(p, staff_worksheet, rubric, key_entry=False)
    return graded


def export_free_text(submissions: Mapping[str, list[TestResult]] | Iterable[Path | str], out_csv: Path | str,
                     staff_worksheet: Path | str | None = None, rubric: dict | None = None) -> int:
    """Write the TA sheet: one row per (student, answer a TA must score); return the row count.

    Columns ``TA_COLUMNS``. TAs fill ``ta_score`` (blank keeps the suggested ``auto_score``) and
    ``ta_comment``. UTF-8 with a BOM; text cells neutralised against CSV injection.

    Args:
        submissions: ``{student: grade_worksheet(...) results}``, or submission paths (folders,
            ``.zip`` files or worksheet files; the student is named as ``grade-all`` names them).
        out_csv: the CSV to write.
        staff_worksheet: the staff worksheet, when grading paths.
        rubric: the rubric mapping, when grading paths.
    """
    graded = _graded(submissions, staff_worksheet, rubric)
    rows = 0
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    with open(out_csv, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.DictWriter(f, fieldnames=TA_COLUMNS)
        w.writeheader()
        for student in sorted(graded):
            for r in graded[student]:
                why = needs_ta(r)
                if not why or not r.name.startswith("worksheet/"):
                    continue
                row = {"student": student, "question": r.name.split("/", 1)[1], "kind": r.extra.get("kind", ""),
                       "max_score": score_text(r.max_score), "auto_score": score_text(r.score), "review": why,
                       "ta_score": "", "ta_comment": "", "answer": r.extra.get("answer", ""),
                       "reference": r.extra.get("reference", ""),
                       "evidence": r.extra.get("evidence") or r.extra.get("key", ""), "auto_feedback": r.output}
                w.writerow({k: csv_safe(v) for k, v in row.items()})
                rows += 1
    return rows


def export_class(folder: Path | str, out_csv: Path | str, staff_worksheet: Path | str | None = None,
                 rubric: dict | None = None) -> int:
    """The TA sheet of a whole class folder, students named exactly as ``grade-all`` names them.

    Args:
        folder: one sub-folder or .zip per student.
        out_csv: the CSV to write.
        staff_worksheet: the staff worksheet.
        rubric: the rubric mapping.
    """
    graded = {name: grade_worksheet(path, staff_worksheet, rubric, key_entry=False)
              for name, path in find_students(folder).items()}
    return export_free_text(graded, out_csv)


# ---------------------------------------------------------------------------------------------
# Back: reading the sheet
# ---------------------------------------------------------------------------------------------
@dataclass
class TaScore:
    """One filled-in row of the TA sheet.

    Args:
        line: the row's line in the CSV (the header is line 1).
        student: the student, as in the gradebook.
        test: the results test name, ``worksheet/<id>``.
        score: the TA's score.
        comment: the TA's comment.
        max_score: the row's ``max_score`` cell (None when absent or unreadable).
    """

    line: int
    student: str
    test: str
    score: float
    comment: str = ""
    max_score: float | None = None


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    header = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def read_ta_sheet(ta_csv: Path | str) -> tuple[list[TaScore], list[str]]:
    """The filled-in rows of a TA sheet, and one message per bad row.

    Args:
        ta_csv: the CSV from ``export_free_text`` after a TA filled in ``ta_score`` (any encoding
            and delimiter a spreadsheet saves).

    Raises:
        WorksheetError: the file cannot be read, or a required column is missing.
    """
    try:
        text = read_text(ta_csv, f"TA sheet {ta_csv}")
    except SubmissionError as e:
        raise WorksheetError(str(e)) from None
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=_dialect(text))
    fields = {(c or "").strip().lower(): c for c in reader.fieldnames or []}
    missing = [c for c in REQUIRED if c not in fields]
    if missing:
        raise WorksheetError(f"{ta_csv}: column(s) {', '.join(missing)} missing (found: {', '.join(fields) or 'none'}); "
                             f"keep the header row written by worksheet-export.")
    rows, problems, seen = [], [], {}
    for raw in reader:
        cell = {k: (raw.get(orig) or "") for k, orig in fields.items()}
        line = reader.line_num
        if not cell["ta_score"].strip():
            continue
        student, qid = csv_unsafe(cell["student"]), csv_unsafe(cell["question"])
        where = f"{ta_csv} line {line} ({student or '?'}, {qid or '?'})"
        if not student or not qid:
            problems.append(f"{where}: student or question is blank; copy them back from the export.")
            continue
        try:
            score = _read_score(cell["ta_score"])
        except ValueError:
            problems.append(f"{where}: ta_score {cell['ta_score'].strip()!r} is not a number; write e.g. 1.5, or leave it blank "
                            f"to keep the suggested score.")
            continue
        try:
            most = _read_score(cell.get("max_score", "")) if cell.get("max_score", "").strip() else None
        except ValueError:
            most = None
        if score < 0 or (most is not None and score > most):
            rule = f"outside [0, {format_number(most)}]; the question is worth {format_number(most)}" if most is not None \
                else "below 0; scores run from 0 to the question's points"
            problems.append(f"{where}: ta_score {format_number(score)} is {rule}.")
            continue
        test = f"worksheet/{qid}"
        first = seen.get((student, test))
        if first is not None:
            if first.score != score:
                problems.append(f"{where}: a second score ({format_number(score)}) for this answer; line {first.line} "
                                f"gives {format_number(first.score)}. Keep one row per answer; neither was merged.")
                first.line = -abs(first.line)  # poisoned: neither row is merged
            continue
        seen[(student, test)] = TaScore(line, student, test, score, cell.get("ta_comment", "").strip(), most)
        rows.append(seen[(student, test)])
    return [r for r in rows if r.line > 0], problems


def read_ta_scores(ta_csv: Path | str) -> list[dict]:
    """The filled-in rows of a TA sheet as ``{student, test, score, comment}``; all or nothing.

    Args:
        ta_csv: the filled-in TA sheet.

    Raises:
        WorksheetError: naming every bad row, one line each.
    """
    rows, problems = read_ta_sheet(ta_csv)
    if problems:
        raise WorksheetError("\n".join(problems))
    return [{"student": r.student, "test": r.test, "score": r.score, "comment": r.comment} for r in rows]


# ---------------------------------------------------------------------------------------------
# Back: the targets
# ---------------------------------------------------------------------------------------------
def ta_output(output: str, score: float, max_score: float, comment: str = "") -> str:
    """A test's feedback after a TA scored it: the automatic feedback without its "provisional"
    or "suggested" wording and without an earlier TA line, then one ``TA: score/max, comment`` line.

    Args:
        output: the test's current output.
        score: the TA's score.
        max_score: the test's maximum.
        comment: the TA's comment.
    """
    kept = []
    for line in (output or "").splitlines():
        if line.startswith(TA_LINE):
            continue
        clauses = [c for c in line.split("; ") if not _PROVISIONAL.search(c)]
        if any(c.strip() for c in clauses):
            kept.append("; ".join(clauses))
    ta = f"{TA_LINE}{format_number(score)}/{format_number(max_score)}" + (f", {comment}" if comment else "")
    return "\n".join(kept + [ta])


class _GradebookCsv:
    """``gradebook.csv`` of ``grade-all``: one row per student, one column per test, a total."""

    def __init__(self, path: Path, out: Path | None):
        import pandas as pd

        self.path, self.out = Path(path), Path(out) if out else Path(path)
        self.df = pd.read_csv(self.path, dtype=str, keep_default_na=False)
        self.sid = "student" if "student" in self.df.columns else self.df.columns[0]
        self.totals = [c for c in self.df.columns if c.lower() in ("score", "total")]
        self.index = {csv_unsafe(s): i for i, s in enumerate(self.df[self.sid])}

    def check(self, r: TaScore) -> str:
        if r.student not in self.index:
            return f"student {r.student!r} is not in {self.path}; check the name"
        if r.test not in self.df.columns:
            return f"{r.test} is not a column of {self.path}; was the worksheet graded?"
        return ""

    def apply(self, rows: list[TaScore]) -> None:
        items = [c for c in self.df.columns if c != self.sid and c not in self.totals]
        for r in rows:
            i = self.index[r.student]
            old = float(self.df.at[i, r.test] or 0)
            self.df.at[i, r.test] = score_text(r.score)
            try:
                total = total_of(float(self.df.at[i, c] or 0) for c in items)
            except ValueError:  # a column that is not a score: move the total by the change only
                total = None
            for col in self.totals:
                new = total if total is not None else round(float(self.df.at[i, col] or 0) - old + r.score, 6)
                self.df.at[i, col] = score_text(new)

    def save(self) -> None:
        tmp = Path(f"{self.out}.tmp")
        self.df.to_csv(tmp, index=False)
        os.replace(tmp, self.out)


class _ResultsDir:
    """``grade-all``'s ``<student>.json`` files (Gradescope's schema)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.data: dict[str, dict] = {}

    def _load(self, student: str) -> dict | None:
        if student not in self.data:
            path = self.folder / f"{student}.json"
            self.data[student] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        return self.data[student]

    def check(self, r: TaScore) -> str:
        data = self._load(r.student)
        if data is None:
            return f"no results file {self.folder / (r.student + '.json')}; check the name"
        test = next((t for t in data["tests"] if t["name"] == r.test), None)
        if test is None:
            return f"{self.folder / (r.student + '.json')} has no test {r.test}; was the worksheet graded?"
        if r.score > float(test["max_score"]):
            return f"ta_score {format_number(r.score)} is over the question's {format_number(test['max_score'])} points"
        return ""

    def apply(self, rows: list[TaScore]) -> None:
        for r in rows:
            data = self.data[r.student]
            t = next(t for t in data["tests"] if t["name"] == r.test)
            t["score"] = r.score
            t["status"] = "passed" if r.score >= t["max_score"] else "failed"
            t["output"] = ta_output(t.get("output", ""), r.score, t["max_score"], r.comment)
            data["score"] = total_of(t["score"] for t in data["tests"])

    def save(self) -> None:
        for student, data in self.data.items():
            if data is None:
                continue
            path = self.folder / f"{student}.json"
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
            os.replace(tmp, path)


class _NbgraderDb:
    """The nbgrader gradebook ``grade-all --nbgrader-db`` filled: a TA score is the grade's
    ``manual_score`` (nbgrader's rule: a manual score takes precedence over the auto score)."""

    def __init__(self, db: str, assignment: str):
        import warnings

        from nbgrader.api import Gradebook

        url = db if "://" in db else f"sqlite:///{Path(db).resolve()}"
        if "://" not in db and not Path(db).is_file():
            raise WorksheetError(f"nbgrader gradebook {db} not found; pass the file `grade-all --nbgrader-db` wrote.")
        self.assignment = assignment
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.gb = Gradebook(url)

    def _grade(self, r: TaScore):
        return self.gb.find_grade(r.test, r.test.split("/")[0], self.assignment, r.student)

    def check(self, r: TaScore) -> str:
        from nbgrader.api import MissingEntry

        try:
            grade = self._grade(r)
        except MissingEntry:
            return f"the nbgrader gradebook has no {r.test} for student {r.student!r} in assignment {self.assignment!r}"
        if r.score > float(grade.max_score):
            return f"ta_score {format_number(r.score)} is over the question's {format_number(grade.max_score)} points"
        return ""

    def apply(self, rows: list[TaScore]) -> None:
        for r in rows:
            grade = self._grade(r)
            grade.manual_score = r.score
            grade.needs_manual_grade = False

    def save(self) -> None:
        self.gb.db.commit()
        self.gb.close()


@dataclass
class MergeReport:
    """What ``merge_ta_sheet`` did.

    Args:
        merged: TA scores merged (into every target given).
        problems: one message per bad row (nothing of those rows was merged).
        targets: what was written.
    """

    merged: int = 0
    problems: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)


def merge_ta_sheet(ta_csv: Path | str, gradebook: Path | str | None = None, out: Path | str | None = None,
                   results_dir: Path | str | None = None, nbgrader_db: str | None = None,
                   assignment: str = "vision-zoo") -> MergeReport:
    """Merge a filled-in TA sheet into the gradebook CSV, the results JSON files and the nbgrader
    gradebook (any of them); every row is checked against every target before anything is written.

    Args:
        ta_csv: the TA sheet.
        gradebook: ``gradebook.csv`` from ``grade-all``.
        out: where to write the merged gradebook (default: overwrite ``gradebook``).
        results_dir: ``grade-all``'s folder of ``<student>.json`` files (updated in place).
        nbgrader_db: the nbgrader gradebook (sqlite path or URL) ``grade-all --nbgrader-db`` filled.
        assignment: its nbgrader assignment name.

    Raises:
        WorksheetError: no target given, the sheet unreadable or missing a column, a target missing.
    """
    if not (gradebook or results_dir or nbgrader_db):
        raise WorksheetError("give --gradebook gradebook.csv, --results-dir DIR and/or --nbgrader-db DB to merge into.")
    rows, problems = read_ta_sheet(ta_csv)
    targets, names = [], []
    if gradebook:
        if not Path(gradebook).is_file():
            raise WorksheetError(f"gradebook {gradebook} not found; pass the gradebook.csv grade-all wrote.")
        targets.append(_GradebookCsv(Path(gradebook), Path(out) if out else None))
        names.append(str(out or gradebook))
    if results_dir:
        if not Path(results_dir).is_dir():
            raise WorksheetError(f"results folder {results_dir} not found; pass grade-all's --out folder.")
        targets.append(_ResultsDir(Path(results_dir)))
        names.append(str(results_dir))
    if nbgrader_db:
        targets.append(_NbgraderDb(nbgrader_db, assignment))
        names.append(f"{nbgrader_db} ({assignment})")
    good = []
    for r in rows:
        bad = [p for p in (t.check(r) for t in targets) if p]
        if bad:
            problems.append(f"{ta_csv} line {r.line} ({r.student}, {r.test.split('/', 1)[1]}): {'; '.join(bad)}.")
        else:
            good.append(r)
    for t in targets:
        t.apply(good)
        t.save()
    return MergeReport(len(good), problems, names)


def merge_ta_scores(gradebook_csv: Path | str, ta_csv: Path | str, out_csv: Path | str | None = None):
    """Merge a TA sheet into ``gradebook.csv`` only; returns the merged gradebook (a DataFrame).

    Args:
        gradebook_csv: ``gradebook.csv`` from ``grade-all``.
        ta_csv: the filled-in TA sheet.
        out_csv: where to write (default: overwrite ``gradebook_csv``).

    Raises:
        WorksheetError: naming every bad row (the good rows are merged).
    """
    import pandas as pd

    report = merge_ta_sheet(ta_csv, gradebook=gradebook_csv, out=out_csv)
    if report.problems:
        raise WorksheetError("\n".join(report.problems))
    return pd.read_csv(out_csv or gradebook_csv, dtype=str, keep_default_na=False)


def merge_ta_scores_into_results(results_dir: Path | str, ta_csv: Path | str) -> int:
    """Merge a TA sheet into ``grade-all``'s results files only; returns the number of tests changed.

    Args:
        results_dir: the folder of results JSON files.
        ta_csv: the filled-in TA sheet.

    Raises:
        WorksheetError: naming every bad row (the good rows are merged).
    """
    report = merge_ta_sheet(ta_csv, results_dir=results_dir)
    if report.problems:
        raise WorksheetError("\n".join(report.problems))
    return report.merged
