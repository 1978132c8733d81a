"""``check``: the student's self-check, run from inside the handout.

Public checks only: the public code items (run in the sandbox, like the real grader; the items whose
references are staff-only on public cases shipped as numbers), the format of ``submission.csv``
when there is one (the graded item's own rules), and how many worksheet answers are still empty.
Prints a table with each failing check's feedback (about a screen each) and one line about the
sandbox; exits 1 if anything fails, 0 when every public check passes.
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
        from autograder.sandbox import Sandbox
    except ImportError as e:
        return [TestResult("code", 0, 1, f"the code checks are missing from this copy ({e})", status="failed")], []
    with Sandbox(root) as sb:
        sb.start()  # the child imports torch on one core while this process does on the other
        try:
            from autograder.grading import grade_code_items
        except ImportError as e:
            return [TestResult("code", 0, 1, f"the code checks are missing from this copy ({e})", status="failed")], []
        return list(grade_code_items(root, sb, rubric=None, public_only=True)), list(sb.protections)


def check_submission_csv(root: Path) -> list[TestResult]:
    """The format of ``submission.csv`` at the top of ``root`` (nothing when there is none), by the
    graded Kaggle item's own rules and validator (``autograder.kaggle.item.check_format``): the
    same class count and expected rows, the same messages.

    Args:
        root: the handout folder.
    """
    path = root / "submission.csv"
    if not path.is_file():
        return []
    try:
        from autograder.kaggle import item as kaggle_item
    except ImportError as e:
        return [TestResult("kaggle/format", 0, 1, f"the Kaggle checks are missing from this copy ({e})", status="failed")]
    try:
        cfg = kaggle_item.load_staff_config()  # the public defaults in the handout (200 classes)
    except Exception:  # noqa: BLE001 - a broken staff file: the public rules still apply
        cfg = dict(kaggle_item.DEFAULTS)
    try:
        solution = kaggle_item.configured_solution(cfg)  # the staff repository only: the graded row count
    except Exception:  # noqa: BLE001
        solution = None
    try:
        result, rows = kaggle_item.check_format(path, cfg, solution)
    except Exception:  # noqa: BLE001 - staff settings that contradict each other: check rows loosely
        result, rows = kaggle_item.check_format(path, {**cfg, "expected_rows": None}), None
    if not result.valid:
        return [TestResult("kaggle/format", 0, 1, kaggle_item.format_feedback(result, rows, cfg))]
    n = len(result.predictions) if result.predictions is not None else 0
    counted = f"{n:,} rows" + ("" if rows else " (the number of test images is checked by the grader)")
    return [TestResult("kaggle/format", 1, 1, f"submission.csv has the format Kaggle accepts: {counted}, "
                                              f"every Category in 0..{cfg['num_classes'] - 1}"
                       if cfg["num_classes"] else f"submission.csv has the format Kaggle accepts: {counted}")]


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
    from autograder.submission import SubmissionError, read_text  # the one door to student files

    try:
        text = read_text(path)
    except SubmissionError as e:
        return [TestResult("worksheet/answered", 0, 1, str(e), status="failed")]
    answers = parse_worksheet(text)
    empty = [qid for qid, a in answers.items() if not a.text.strip()]
    done = len(answers) - len(empty)
    msg = f"{done} of {len(answers)} answers filled in"
    if empty:
        msg += f"; still empty: {', '.join(empty[:12])}{' ...' if len(empty) > 12 else ''}"
    return [TestResult("worksheet/answered", done, len(answers), msg)]


SCREEN_LINES = 30  # feedback lines shown per failing item (about a screen)


def _wrap(text: str, width: int) -> list[str]:
    out = []
    for line in text.splitlines() or [""]:
        indent = len(line) - len(line.lstrip(" "))
        out += textwrap.wrap(line, width, subsequent_indent=" " * (indent + 2), replace_whitespace=False,
                             drop_whitespace=True) or [""]
    return out


def format_table(results: list[TestResult], width: int = 100, screen_lines: int | None = SCREEN_LINES) -> str:
    """A plain-text table: one line per check (item, PASS/FAIL, score, first line of feedback),
    and under each failing check its whole feedback (the failing configuration, max error, shapes,
    traceback, diagnosis), cut to about a screen.

    Args:
        results: the checks.
        width: the line width to wrap at.
        screen_lines: the most feedback lines shown per failing check (None: all of them).
    """
    name_w = max([len("item")] + [len(r.name) for r in results])
    head = f"{'item':<{name_w}}  result  score      feedback"
    lines = [head, "-" * min(width, max(len(head), 60))]
    indent = " " * (name_w + 2 + 8 + 11)
    for r in results:
        verdict = "PASS" if r.status == "passed" else "FAIL"
        feedback = (r.output or "").strip().splitlines() or [""]
        head_line = feedback[0]
        if r.status == "passed" and ". " in head_line:  # a pass needs its verdict, not what was compared
            head_line = head_line.split(". ", 1)[0] + "."
        first = _wrap(head_line, max(30, width - len(indent)))
        lines.append(f"{r.name:<{name_w}}  {verdict:<6}  {r.score:>4g}/{r.max_score:<4g}  {first[0]}")
        lines += [indent + w for w in first[1:]]
        if r.status == "passed" or len(feedback) < 2:
            continue
        body = _wrap("\n".join(feedback[1:]), max(30, width - 4))
        if screen_lines is not None and len(body) > screen_lines:
            more = len(body) - screen_lines + 1
            body = body[:screen_lines - 1] + [f"... ({more} more lines: `python -m autograder check --full` "
                                              f"shows everything)"]
        lines += ["    " + b for b in body] + [""]
    return "\n".join(lines).rstrip("\n")


def sandbox_summary(protections: list[str], verbose: bool = False) -> str:
    """How the student's code was run: one line while every protection is in force; the whole list,
    missing protections first, when one is missing (or ``verbose``).

    Args:
        protections: ``Sandbox.protections`` (a missing protection starts with "NO " or names ROOT).
        verbose: list every protection even when none is missing (``check --sandbox``).
    """
    if not protections:
        return ""
    missing = [p for p in protections if p.startswith("NO ") or "ROOT (" in p]
    if not missing and not verbose:
        return (f"Your code ran in a sandbox with all {len(protections)} protections in force "
                f"(`python -m autograder check --sandbox` lists them).")
    lines = []
    if missing:
        lines.append("Your code ran in a sandbox, but on this machine some protections are MISSING:")
        lines += [f"  - {p}" for p in missing]
        lines.append("In force:")
    else:
        lines.append("Your code ran in a sandbox:")
    lines += [f"  - {p}" for p in protections if p not in missing]
    return "\n".join(lines)


def run_check(root: Path = ROOT, full: bool = False, sandbox: bool = False) -> tuple[list[TestResult], str]:
    """Every public check of ``root``; returns (results, the text to print).

    Args:
        root: the handout folder.
        full: show every feedback line of a failing check (not just about a screen).
        sandbox: list every sandbox protection (not just one line).
    """
    root = Path(root)
    code, protections = check_code(root)
    results = code + check_submission_csv(root) + check_worksheet(root)
    failed = sum(r.status != "passed" for r in results)
    table = format_table(results, screen_lines=None if full else SCREEN_LINES)
    tail = (f"\n\n{len(results) - failed} of {len(results)} public checks pass." +
            (" Fix the FAIL lines above (the hidden checks test more cases)." if failed else
             " The hidden checks test more cases: passing here does not guarantee full marks."))
    summary = sandbox_summary(protections, verbose=sandbox)
    if summary:
        tail += "\n" + summary
    return results, table + tail


def _run(args: argparse.Namespace) -> int:
    results, text = run_check(Path(args.dir), full=getattr(args, "full", False), sandbox=getattr(args, "sandbox", False))
    print(text)
    return 1 if any(r.status != "passed" for r in results) else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``check`` command."""
    p = subparsers.add_parser("check", help="self-check your work with the public checks (exit 1 if any fails)")
    p.add_argument("--dir", default=str(ROOT), metavar="DIR", help="the handout folder (default: the one this autograder sits in)")
    p.add_argument("--full", action="store_true", help="show all the feedback of a failing check (default: about a screen each)")
    p.add_argument("--sandbox", action="store_true", help="list every protection the sandbox puts around your code")
    p.set_defaults(func=_run)
