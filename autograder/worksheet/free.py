"""Free-text answers: TAs grade them; here only a completeness check gives provisional points."""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.worksheet.common import Grade

if TYPE_CHECKING:
    from autograder.worksheet.key import Question
    from autograder.worksheet.markers import Answer


def grade_free(q: Question, ans: Answer, worksheet_dir: Path | None = None, root: Path | None = None) -> Grade:
    """A free-text answer: provisional points when complete (not the stub, enough words); a TA grades it."""
    words = len(re.findall(r"\w+", ans.text))
    need = int(q.spec.get("min_words", 10))
    key = f"reference answer: {q.reference!r}"
    if words < need:
        return Grade(0.0, "incomplete",
                     f"incomplete: {words} words, at least {need} expected; a TA grades this answer", key)
    return Grade(q.points, "complete", f"complete ({words} words); provisional points, a TA grades this answer", key)

