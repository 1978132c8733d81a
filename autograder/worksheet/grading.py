"""Grade a worksheet: locate it, parse it, grade each answer with its kind's grader, report."""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable

from autograder.results import TestResult
from autograder.worksheet.choices import grade_choice
from autograder.worksheet.common import KEY_ENTRY, WORKSHEET_NAME, Grade, excerpt, format_number
from autograder.worksheet.free import grade_free
from autograder.worksheet.images import grade_image
from autograder.worksheet.key import Question, load_key
from autograder.worksheet.markers import Answer, parse_worksheet
from autograder.worksheet.numbers import grade_number
from autograder.worksheet.short import grade_short

# One grader per answer kind: (question, answer, worksheet folder, submission root) -> Grade
GRADERS: dict[str, Callable[[Question, Answer, Path, Path], Grade]] = {
    "number": grade_number,
    "choice": grade_choice,
    "short": grade_short,
    "free": grade_free,
    "image": grade_image,
}


def grade_answer(q: Question, ans: Answer, worksheet_dir: Path = Path("."), root: Path | None = None) -> Grade:
    """Score one answer against its question.

    Args:
        q: the question (from ``load_key``).
        ans: the student's answer (from ``parse_worksheet``).
        worksheet_dir: folder of the student's worksheet (image links are relative to it).
        root: the submission's top folder (images must lie inside it); default ``worksheet_dir``.
    """
    if not ans.answered:
        why = "unanswered" if ans.found != "missing" else "unanswered (answer markers not found)"
        return Grade(0.0, "unanswered", why, f"reference: {q.reference!r}")
    return GRADERS[q.kind](q, ans, worksheet_dir, root or worksheet_dir)



_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "output", "datasets", "wandb", "__pycache__"}


def _find_file(folder: Path, name: str, max_depth: int = 3) -> Path | None:
    """The shallowest file called ``name`` (any case) under ``folder``, skipping data and output folders."""
    level = [folder]
    for _ in range(max_depth + 1):
        nxt = []
        for d in sorted(level):
            try:
                entries = sorted(d.iterdir())
            except OSError:
                continue
            for e in entries:
                if e.is_file() and e.name.lower() == name.lower():
                    return e
                if e.is_dir() and e.name not in _SKIP_DIRS:
                    nxt.append(e)
        level = nxt
    return None


def find_worksheet(path: Path | str) -> tuple[str | None, Path, Path, str]:
    """Locate and read a student's worksheet.

    Args:
        path: a ``WORKSHEET.md`` file, a submission folder, or a submission ``.zip``.

    Returns:
        (text or None when not found, the worksheet's folder, the submission root, a note).
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if Path(n).name.lower() == WORKSHEET_NAME.lower()]
            if not names:
                return None, path.parent, path.parent, f"no {WORKSHEET_NAME} in {path.name}"
            name = min(names, key=lambda n: n.count("/"))
            return zf.read(name).decode("utf-8", "replace"), path.parent, path.parent, (
                "images inside a .zip are not checked; grade the unpacked folder")
    if path.is_file():
        return path.read_text(encoding="utf-8", errors="replace"), path.parent, path.parent, ""
    if path.is_dir():
        hit = _find_file(path, WORKSHEET_NAME)
        if hit is not None:
            return hit.read_text(encoding="utf-8", errors="replace"), hit.parent, path, ""
        return None, path, path, f"no {WORKSHEET_NAME} found in {path}"
    return None, path.parent, path.parent, f"{path} does not exist"


def grade_worksheet(path: Path | str, staff_worksheet: Path | str | None = None, rubric: dict | None = None,
                    key_entry: bool = True) -> list[TestResult]:
    """Grade a worksheet: one ``worksheet/<id>`` entry per question, in worksheet order, then
    (with ``key_entry``) one ``worksheet/answer-key`` entry, 0 points, visible after publication.

    Per-question entries are ``visible`` and never show the expected answer. Each entry's
    ``extra`` holds kind, status, the answer text, the value read and the reference answer, for
    the TA export.

    Args:
        path: a ``WORKSHEET.md``, a submission folder holding one, or a submission ``.zip``.
        staff_worksheet: the staff ``WORKSHEET.md`` (default: the repository's).
        rubric: the rubric mapping (default: ``autograder/staff/worksheet.yaml``).
        key_entry: add the ``worksheet/answer-key`` entry.
    """
    questions, staff_text = load_key(staff_worksheet, rubric)
    text, ws_dir, root, note = find_worksheet(path)
    answers = parse_worksheet(text, template=staff_text) if text is not None else {}
    results, key_lines = [], []
    for qid, q in questions.items():
        ans = answers.get(qid) or Answer(qid, "", "missing", 0, [note] if note else [])
        grade = grade_answer(q, ans, ws_dir, root)
        parts = [grade.visible] + ans.warnings
        results.append(TestResult(
            name=f"worksheet/{qid}", score=round(grade.score, 6), max_score=q.points,
            output="; ".join(p for p in parts if p), visibility="visible",
            extra={"kind": q.kind, "status": grade.status, "answer": ans.text, "value": grade.value,
                   "reference": q.reference, "manual": q.kind == "free", "key": grade.key},
        ))
        key_lines.append(f"{qid} [{q.kind}] {format_number(grade.score)}/{format_number(q.points)}: {grade.key}")
    if key_entry:
        results.append(TestResult(
            name=KEY_ENTRY, score=0.0, max_score=0.0, visibility="after_published", status="passed",
            output="Worksheet answer key (expected answers and grading details):\n" + "\n".join(key_lines)))
    return results


def format_table(results: list[TestResult], show_key: bool = False) -> str:
    """A plain-text table: id, kind, score/max, feedback (and the key when ``show_key``).

    Args:
        results: from ``grade_worksheet``.
        show_key: add a column with the expected answer (staff only).
    """
    rows = [r for r in results if r.name != KEY_ENTRY]
    head = ("question", "kind", "score", "feedback")
    table = [(r.name.split("/", 1)[1], r.extra.get("kind", ""), f"{format_number(r.score)}/{format_number(r.max_score)}",
              excerpt(r.output, 160) + (f"  || {excerpt(r.extra.get('key', ''), 90)}" if show_key else ""))
             for r in rows]
    widths = [max(len(h), *(len(t[i]) for t in table)) if table else len(h) for i, h in enumerate(head)]

    def line(cells) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    total, most = sum(r.score for r in rows), sum(r.max_score for r in rows)
    out = [line(head), line(["-" * w for w in widths])] + [line(t) for t in table]
    manual = sum(r.max_score for r in rows if r.extra.get("manual"))
    out.append(f"total {format_number(round(total, 4))}/{format_number(most)} ({format_number(manual)} points of free text are provisional until a TA grades them)")
    return "\n".join(out)

