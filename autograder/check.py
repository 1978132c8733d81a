"""``check``: the student's self-check, run from inside the handout.

Public checks only: the public code items (run in the sandbox, like the real grader), the format
of ``submission.csv`` when there is one, and how many worksheet answers are still empty. Prints
a table; exits 1 if anything fails, 0 when every public check passes.
"""
from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from autograder.results import TestResult

ROOT = Path(__file__).resolve().parent.parent  # the handout (or staff repo) this package sits in


def check_code(root: Path) -> tuple[list[TestResult], list[str]]:
    """The public code items of ``root``, run in a sandbox; returns (results, protections).

    Args:
        root: the handout folder with the student's files in it.
    """
    try:
        from autograder.grading import grade_code_items
        from autograder.sandbox import Sandbox
    except ImportError as e:
        return [TestResult("code", 0, 1, f"the code checks are missing from this copy ({e})", status="failed")], []
    with Sandbox(root) as sb:
        return list(grade_code_items(root, sb, rubric=None, public_only=True)), list(sb.protections)


def check_submission_csv(root: Path) -> list[TestResult]:
    """The format of ``submission.csv`` at the top of ``root`` (nothing when there is none).

    Args:
        root: the handout folder.
    """
    path = root / "submission.csv"
    if not path.is_file():
        return []
    try:
        from autograder.kaggle import load_staff_config, validate_submission
    except ImportError as e:
        return [TestResult("kaggle/format", 0, 1, f"the Kaggle checks are missing from this copy ({e})", status="failed")]
    try:
        cfg = load_staff_config()  # the public defaults in the handout (rows unchecked, 200 classes)
    except Exception:
        cfg = {}
    problems = validate_submission(path, cfg.get("expected_rows"), cfg.get("num_classes"))
    if not problems:
        return [TestResult("kaggle/format", 1, 1, "submission.csv has the format Kaggle accepts")]
    lines = [str(p) for p in problems[:10]]
    more = f"\n... and {len(problems) - 10} more" if len(problems) > 10 else ""
    return [TestResult("kaggle/format", 0, 1, "\n".join(lines) + more)]


def check_worksheet(root: Path) -> list[TestResult]:
    """How many worksheet answers are filled in (an unanswered question fails the check).

    Args:
        root: the handout folder.
    """
    path = root / "WORKSHEET.md"
    if not path.is_file():
        return []
    try:
        from autograder.worksheet import parse_worksheet
    except ImportError as e:
        return [TestResult("worksheet/answered", 0, 1, f"the worksheet checks are missing from this copy ({e})", status="failed")]
    answers = parse_worksheet(path.read_text(encoding="utf-8", errors="replace"))
    empty = [qid for qid, a in answers.items() if not a.text.strip()]
    done = len(answers) - len(empty)
    msg = f"{done} of {len(answers)} answers filled in"
    if empty:
        msg += f"; still empty: {', '.join(empty[:12])}{' ...' if len(empty) > 12 else ''}"
    return [TestResult("worksheet/answered", done, len(answers), msg)]


def format_table(results: list[TestResult], width: int = 100) -> str:
    """A plain-text table: item, PASS/FAIL, score, and the first lines of feedback.

    Args:
        results: the checks.
        width: the line width to wrap feedback at.
    """
    name_w = max([len("item")] + [len(r.name) for r in results])
    head = f"{'item':<{name_w}}  result  score      feedback"
    lines = [head, "-" * min(width, max(len(head), 60))]
    indent = " " * (name_w + 2 + 8 + 11)
    for r in results:
        verdict = "PASS" if r.status == "passed" else "FAIL"
        feedback = (r.output or "").strip().splitlines()
        first = feedback[0] if feedback else ""
        if r.status != "passed" and len(feedback) > 1:
            first = " / ".join(line.strip() for line in feedback[:3] if line.strip())
        wrapped = textwrap.wrap(first, max(30, width - len(indent))) or [""]
        lines.append(f"{r.name:<{name_w}}  {verdict:<6}  {r.score:>4g}/{r.max_score:<4g}  {wrapped[0]}")
        lines += [indent + w for w in wrapped[1:4]]
    return "\n".join(lines)


def run_check(root: Path = ROOT) -> tuple[list[TestResult], str]:
    """Every public check of ``root``; returns (results, the table to print).

    Args:
        root: the handout folder.
    """
    root = Path(root)
    code, protections = check_code(root)
    results = code + check_submission_csv(root) + check_worksheet(root)
    failed = sum(r.status != "passed" for r in results)
    table = format_table(results)
    tail = (f"\n\n{len(results) - failed} of {len(results)} public checks pass." +
            (" Fix the FAIL lines above (the hidden checks test more cases)." if failed else
             " The hidden checks test more cases: passing here does not guarantee full marks."))
    if protections:
        tail += "\nYour code ran in a sandbox: " + "; ".join(protections) + "."
    return results, table + tail


def _run(args: argparse.Namespace) -> int:
    results, text = run_check(Path(args.dir))
    print(text)
    return 1 if any(r.status != "passed" for r in results) else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``check`` command."""
    p = subparsers.add_parser("check", help="self-check your work with the public checks (exit 1 if any fails)")
    p.add_argument("--dir", default=str(ROOT), metavar="DIR", help="the handout folder (default: the one this autograder sits in)")
    p.set_defaults(func=_run)
