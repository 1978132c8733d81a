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

from pathlib import Path
from typing import Callable

from autograder.results import TestResult
from autograder.submission import WorksheetCopy, open_worksheet, read_text
from autograder.worksheet.choices import grade_choice
from autograder.worksheet.common import (WORKSHEET_NAME, Grade, WorksheetError, excerpt, format_number, is_key_entry,
                                         key_entry_name)
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



def find_worksheet(copy: WorksheetCopy) -> tuple[str | None, Path, Path, str]:
    """Read the worksheet the door copied out (``autograder.submission.open_worksheet``).

    Args:
        copy: the submission's worksheet and images.

    Returns:
        (text or None when the submission has none, the worksheet's folder, the submission root, a note).

    Raises:
        UnreadableFile: the worksheet is empty, binary, or in an unknown encoding.
    """
    if copy.path is None:
        return None, copy.root, copy.root, f"no {WORKSHEET_NAME} found in your submission"
    return read_text(copy.path, copy.source or WORKSHEET_NAME), copy.path.parent, copy.root, ""


def grade_worksheet(path: Path | str, staff_worksheet: Path | str | None = None, rubric: dict | None = None,
                    key_entry: bool = True, wanted: list[str] | None = None,
                    require: bool = False) -> list[TestResult]:
    """Grade a worksheet: one ``worksheet/<id>`` entry per question, in worksheet order, then
    (with ``key_entry``) one ``worksheet/answer-key/part-N`` entry per part, 0 points, visible after publication.

    Per-question entries are ``visible`` and never show the expected answer. Each entry's
    ``extra`` holds kind, status, the answer text, the value read and the reference answer, for
    the TA export.

    Args:
        path: a ``WORKSHEET.md``, a submission folder holding one, or a submission ``.zip``; opened
            by the door (``autograder.submission.open_worksheet``), which picks the same worksheet
            and images as ``grade``.
        staff_worksheet: the staff ``WORKSHEET.md`` (default: the repository's).
        rubric: the rubric mapping (default: ``autograder/staff/worksheet.yaml``).
        key_entry: add the ``worksheet/answer-key/part-N`` entries.
        wanted: the handed-in paths that decide which worksheet counts (default: the handout's).
        require: raise instead of grading zeros when there is no worksheet to grade (no
            ``WORKSHEET.md``, or a text with no answer marker and no question text): the
            ``worksheet`` command's case, where ``grade`` still gives every question 0.

    Raises:
        SubmissionError: ``path`` does not exist or is an unsafe zip; ``UnreadableFile``: the
            worksheet is empty, binary or in an unknown encoding. ``WorksheetError`` (with
            ``require``): nothing to grade.
    """
    questions, staff_text = load_key(staff_worksheet, rubric)
    with open_worksheet(path, wanted) as copy:
        text, ws_dir, root, note = find_worksheet(copy)
        if require and text is None:
            raise WorksheetError(f"{path} holds no {WORKSHEET_NAME}; pass the student's {WORKSHEET_NAME}, "
                                 f"their submission folder or their .zip")
        if require and all(a.found == "missing" for a in parse_worksheet(text, template=staff_text).values()):
            raise WorksheetError(f"no answer found in {path}: it has no answer markers and none of the "
                                 f"worksheet's questions; is it the course's {WORKSHEET_NAME}?")
        return _grade_text(questions, staff_text, text, ws_dir, root, note, key_entry=key_entry)


def _grade_text(questions: dict[str, Question], staff_text: str, text: str | None, ws_dir: Path, root: Path,
                note: str, key_entry: bool = True) -> list[TestResult]:
    answers = parse_worksheet(text, template=staff_text) if text is not None else {}
    results, key_lines = [], {}
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
        if review and q.kind != "free" and not any("a TA reviews" in p for p in parts):
            parts.append("a TA reviews this answer")  # a review the answer itself asks for (two answers under one id)
        results.append(TestResult(
            name=f"worksheet/{qid}", score=round(grade.score, 6), max_score=q.points,
            output="; ".join(p for p in parts if p), visibility="visible",
            extra={"kind": q.kind, "status": grade.status, "answer": _shown_to_ta(ans), "value": grade.value,
                   "reference": q.reference, "manual": q.kind == "free" or bool(review), "review": review,
                   "key": grade.key},
        ))
        key_lines.setdefault(key_entry_name(qid), []).append(
            f"{qid} [{q.kind}] {format_number(grade.score)}/{format_number(q.points)}: {grade.key}")
    if key_entry:
        results += [TestResult(name=name, score=0.0, max_score=0.0, visibility="after_published", status="passed",
                               output="Worksheet answer key (expected answers and grading details):\n" + "\n".join(lines))
                    for name, lines in key_lines.items()]
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
    rows = [r for r in results if not is_key_entry(r.name)]
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

