"""The ``worksheet``, ``worksheet-export`` and ``worksheet-merge`` commands."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.worksheet.common import WorksheetError
from autograder.worksheet.grading import find_worksheet, format_table, grade_worksheet
from autograder.worksheet.key import load_rubric
from autograder.worksheet.ta_sheet import export_free_text, merge_ta_scores, merge_ta_scores_into_results


def _rubric_arg(path: str | None) -> dict | None:
    return load_rubric(path) if path else None


def _cmd_worksheet(args: argparse.Namespace) -> int:
    try:
        rubric = _rubric_arg(args.rubric)
        text, _, _, problem = find_worksheet(args.file)
        if text is None:  # missing, empty, binary: one clear error, not a table of zeros
            raise WorksheetError(problem)
        results = grade_worksheet(args.file, args.staff, rubric)
    except WorksheetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(results, show_key=args.show_key))
    if args.json:
        from autograder.results import write_results

        write_results(args.json, results)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    try:
        n = export_free_text([Path(p) for p in args.submissions], args.out, args.staff, _rubric_arg(args.rubric))
    except WorksheetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {n} answers for TAs to {args.out} (free text, and every suggested score marked for review); "
          f"fill in ta_score (blank keeps the automatic score)")
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    if not args.gradebook and not args.results_dir:
        print("error: give --gradebook gradebook.csv and/or --results-dir DIR to merge into", file=sys.stderr)
        return 2
    try:
        if args.gradebook:
            merge_ta_scores(args.gradebook, args.ta_csv, args.out)
            print(f"merged TA scores into {args.out or args.gradebook}")
        if args.results_dir:
            n = merge_ta_scores_into_results(args.results_dir, args.ta_csv)
            print(f"updated {n} tests in {args.results_dir}")
    except WorksheetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
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
    e.add_argument("submissions", nargs="+", help="submission folders, .zip files or WORKSHEET.md files")
    e.add_argument("--out", required=True, help="the CSV to write")
    e.add_argument("--staff", default=None)
    e.add_argument("--rubric", default=None)
    e.set_defaults(func=_cmd_export)

    m = subparsers.add_parser("worksheet-merge", help="merge a filled-in TA CSV back into the gradebook / results")
    m.add_argument("ta_csv", help="the CSV from worksheet-export with ta_score filled in")
    m.add_argument("--gradebook", default=None, help="gradebook.csv from grade-all")
    m.add_argument("--out", default=None, help="where to write the merged gradebook (default: overwrite it)")
    m.add_argument("--results-dir", default=None, help="grade-all's folder of <student>.json files, updated in place")
    m.set_defaults(func=_cmd_merge)
