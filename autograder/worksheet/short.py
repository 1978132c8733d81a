"""Grade a short text answer by the rubric's regular-expression patterns."""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.worksheet.common import MAX_GRADED_CHARS, Grade, normalise, format_number

if TYPE_CHECKING:
    from autograder.worksheet.key import Question
    from autograder.worksheet.markers import Answer


def grade_short(q: Question, ans: Answer, worksheet_dir: Path | None = None, root: Path | None = None) -> Grade:
    """A short answer: each rubric pattern found earns its points."""
    text = normalise(ans.text[:MAX_GRADED_CHARS])
    score, hits, misses = 0.0, [], []
    for p in q.spec["patterns"]:
        about = p.get("about", p["re"])
        if re.search(p["re"], text, re.IGNORECASE | re.DOTALL):
            score += float(p.get("points", 0))
            hits.append(about)
        else:
            misses.append(about)
    score = min(score, q.points)
    status = "correct" if score >= q.points else "partly correct" if score > 0 else "incorrect"
    hints = [p["hint"] for p in q.spec["patterns"] if p.get("hint") and p.get("about", p["re"]) in misses]
    visible = f"{status} ({format_number(score)}/{format_number(q.points)})" + (f"; hint: {'; '.join(hints)}" if hints else "")
    key = (f"credit for: {'; '.join(hits) or 'nothing'}. Missing: {'; '.join(misses) or 'nothing'}. "
           f"Reference: {q.reference!r}")
    return Grade(score, status, visible, key)

