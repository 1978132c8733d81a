"""The ``worksheet``, ``worksheet-export`` and ``worksheet-merge`` commands."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.submission import SubmissionError
from autograder.worksheet.common import WorksheetError
from autograder.worksheet.grading import format_table, grade_worksheet
from autograder.worksheet.key import load_rubric
from autograder.worksheet.ta_sheet import export_class, export_free_text, merge_ta_sheet


def _rubric_arg(path: str | None) -> dict | None:
    return load_rubric(path) if path else None


def _cmd_worksheet(args: argparse.Namespace) -> int:
    try:
        results = grade_worksheet(args.file, args.staff, _rubric_arg(args.rubric), require=True)
    except (WorksheetError, SubmissionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(results, show_key=args.show_key))
    if args.json:
        from autograder.results import write_results

        write_results(args.json, results)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    if bool(args.submissions) == bool(args.class_folder):
        print("error: give either submission paths or --class FOLDER (grade-all's folder of students)", file=sys.stderr)
        return 2
    try:
        if args.class_folder:
            n = export_class(args.class_folder, args.out, args.staff, _rubric_arg(args.rubric))
        else:
            n = export_free_text([Path(p) for p in args.submissions], args.out, args.staff, _rubric_arg(args.rubric))
    except (WorksheetError, SubmissionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {n} answers for TAs to {args.out}; fill in ta_score (blank keeps the suggested auto_score)")
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    try:
        report = merge_ta_sheet(args.ta_csv, args.gradebook, args.out, args.results_dir, args.nbgrader_db, args.assignment)
    except (WorksheetError, SubmissionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"merged {report.merged} TA scores into {', '.join(report.targets)}")
    for problem in report.problems:
        print(f"error: {problem}", file=sys.stderr)
    if report.problems:
        print(f"{len(report.problems)} row(s) not merged; fix them and run worksheet-merge again (merging twice "
              f"changes nothing that was already merged).", file=sys.stderr)
        return 1
    return 0


def register(subparsers) -> None:
    """Add ``worksheet``, ``worksheet-export`` and ``worksheet-merge`` to the autograder CLI.

    Args:
        subparsers: from ``argparse.ArgumentParser.add_subparsers``.
    """
    p = subparsers.add_parser("worksheet", help="grade a WORKSHEET.md alone; prints a per-question table")
    p.add_argument("file", help="a WORKSHEET.md, a submission folder or a .zip")
    p.add_argument("--staff", default=None, help="staff WORKSHEET.md with solutions (default: this repository's)")
    p.add_argument("--rubric", default=None, help="rubric YAML (default: autograder/staff/worksheet.yaml)")
    p.add_argument("--show-key", action="store_true", help="add the expected answers to the table (staff only)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the results in Gradescope's schema")
    p.set_defaults(func=_cmd_worksheet)

    e = subparsers.add_parser("worksheet-export", help="free-text answers of many submissions to a CSV for TAs")
    e.add_argument("submissions", nargs="*", help="submission folders, .zip files or WORKSHEET.md files")
    e.add_argument("--class", dest="class_folder", default=None, metavar="FOLDER",
                   help="every student of FOLDER (one sub-folder or .zip each), named as grade-all names them")
    e.add_argument("--out", required=True, help="the CSV to write")
    e.add_argument("--staff", default=None)
    e.add_argument("--rubric", default=None)
    e.set_defaults(func=_cmd_export)

    m = subparsers.add_parser("worksheet-merge", help="merge a filled-in TA CSV back into the gradebook / results")
    m.add_argument("ta_csv", help="the CSV from worksheet-export with ta_score filled in")
    m.add_argument("--gradebook", default=None, help="gradebook.csv from grade-all")
    m.add_argument("--out", default=None, help="where to write the merged gradebook (default: overwrite it)")
    m.add_argument("--results-dir", default=None, help="grade-all's folder of <student>.json files, updated in place")
    m.add_argument("--nbgrader-db", default=None, metavar="DB", help="the nbgrader gradebook grade-all --nbgrader-db filled")
    m.add_argument("--assignment", default="vision-zoo", help="its nbgrader assignment name (default vision-zoo)")
    m.set_defaults(func=_cmd_merge)
