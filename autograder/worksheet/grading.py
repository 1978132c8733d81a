"""Grade a worksheet: locate it, parse it, grade each answer with its kind's grader, report.

Final verdicts and suggestions. Each ``worksheet/<id>`` TestResult carries, in ``extra`` (kept by
the grader, not written to results.json, whose schema stays Gradescope's):

- ``review``: empty when the automatic score is final; otherwise the reason a TA must look
  (an ambiguous number, a short answer not matched with confidence, an unclear choice, two
  answers under one id, ...). The score is then a *suggestion*; the feedback says a TA reviews it.
- ``manual``: the answer goes to the TA sheet (``worksheet-export``): free text always, and every
  answer with a ``review``.
- ``kind``, ``status``, ``answer``, ``value``, ``reference``, ``key``: the evidence for the TA.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable

from autograder.results import TestResult
from autograder.worksheet.choices import grade_choice
from autograder.worksheet.common import KEY_ENTRY, WORKSHEET_NAME, Grade, WorksheetError, excerpt, format_number
from autograder.worksheet.encoding import decode_worksheet
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
    """Locate and read a student's worksheet (its encoding detected by ``decode_worksheet``).

    Args:
        path: a ``WORKSHEET.md`` file, a submission folder, or a submission ``.zip``.

    Returns:
        (text, or None when not found or not readable; the worksheet's folder; the submission
        root; a note saying why there is no text, or empty).
    """
    path = Path(path)
    try:
        if path.is_file() and path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if Path(n).name.lower() == WORKSHEET_NAME.lower()]
                if not names:
                    return None, path.parent, path.parent, f"no {WORKSHEET_NAME} in {path.name}"
                name = min(names, key=lambda n: n.count("/"))
                text, _ = decode_worksheet(zf.read(name), f"{path.name}:{name}")
                return text, path.parent, path.parent, "images inside a .zip are not checked; grade the unpacked folder"
        if path.is_file():
            return decode_worksheet(path.read_bytes(), str(path))[0], path.parent, path.parent, ""
        if path.is_dir():
            hit = _find_file(path, WORKSHEET_NAME)
            if hit is not None:
                return decode_worksheet(hit.read_bytes(), str(hit))[0], hit.parent, path, ""
            return None, path, path, f"no {WORKSHEET_NAME} found in {path}"
    except WorksheetError as e:
        return None, path.parent if path.is_file() else path, path.parent if path.is_file() else path, str(e)
    except (OSError, zipfile.BadZipFile) as e:
        return None, path.parent, path.parent, f"{path} cannot be read ({e}); hand in the folder or a valid .zip"
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
        try:
            grade = grade_answer(q, ans, ws_dir, root)
        except Exception as e:  # one odd answer costs only its own question; a TA looks at it
            grade = Grade(0.0, "unreadable", "the grader could not read this answer; a TA reviews it",
                          f"grader error {type(e).__name__}: {e}; reference {q.reference!r}",
                          review=f"the grader failed on this answer ({type(e).__name__})")
        review = "; ".join(r for r in [grade.review] + ans.review if r)
        parts = [grade.visible] + ans.warnings
        results.append(TestResult(
            name=f"worksheet/{qid}", score=round(grade.score, 6), max_score=q.points,
            output="; ".join(p for p in parts if p), visibility="visible",
            extra={"kind": q.kind, "status": grade.status, "answer": _shown_to_ta(ans), "value": grade.value,
                   "reference": q.reference, "manual": q.kind == "free" or bool(review), "review": review,
                   "key": grade.key},
        ))
        key_lines.append(f"{qid} [{q.kind}] {format_number(grade.score)}/{format_number(q.points)}: {grade.key}")
    if key_entry:
        results.append(TestResult(
            name=KEY_ENTRY, score=0.0, max_score=0.0, visibility="after_published", status="passed",
            output="Worksheet answer key (expected answers and grading details):\n" + "\n".join(key_lines)))
    return results


def _shown_to_ta(ans: Answer) -> str:
    """The answer as the TA sheet shows it: with every other answer found under the same id."""
    parts = [f"[line {line}, not graded]\n{text}" for line, text in ans.earlier]
    return "\n\n".join(parts + ([f"[line {ans.line}, graded]\n{ans.text}"] if parts else [ans.text]))


def format_table(results: list[TestResult], show_key: bool = False) -> str:
    """A plain-text table: id, kind, score/max, feedback (and the key when ``show_key``).

    Args:
        results: from ``grade_worksheet``.
        show_key: add a column with the expected answer (staff only).
    """
    rows = [r for r in results if r.name != KEY_ENTRY]
    head = ("question", "kind", "score", "verdict", "feedback")

    def verdict(r: TestResult) -> str:
        if r.extra.get("kind") == "free":
            return "TA grades"
        return "TA review" if r.extra.get("review") else "final"

    table = [(r.name.split("/", 1)[1], r.extra.get("kind", ""), f"{format_number(r.score)}/{format_number(r.max_score)}",
              verdict(r), excerpt(r.output, 160) + (f"  || {excerpt(r.extra.get('key', ''), 90)}" if show_key else ""))
             for r in rows]
    widths = [max(len(h), *(len(t[i]) for t in table)) if table else len(h) for i, h in enumerate(head)]

    def line(cells) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    total, most = sum(r.score for r in rows), sum(r.max_score for r in rows)
    out = [line(head), line(["-" * w for w in widths])] + [line(t) for t in table]
    free = sum(r.max_score for r in rows if r.extra.get("kind") == "free")
    review = [r for r in rows if r.extra.get("review") and r.extra.get("kind") != "free"]
    out.append(f"total {format_number(round(total, 4))}/{format_number(most)} ({format_number(free)} points of free text "
               f"are provisional until a TA grades them; {len(review)} other answers worth "
               f"{format_number(sum(r.max_score for r in review))} points are suggestions a TA reviews)")
    return "\n".join(out)

