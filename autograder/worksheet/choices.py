"""Read a multiple-choice answer (one option letter) and grade it against the key."""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.worksheet.common import MAX_GRADED_CHARS, Grade, excerpt, normalise

if TYPE_CHECKING:
    from autograder.worksheet.key import Question
    from autograder.worksheet.markers import Answer


def read_choice(text: str, choices: list[str]) -> tuple[str | None, str]:
    """The option letter of a choice answer: "b", "(b)", "B)", "b. SGD ...", "Answer: b".

    Args:
        text: an answer.
        choices: the valid letters, lower case.

    Returns:
        (letter or None, a problem description when None).
    """
    t = normalise(text).strip().lower()
    letters = "".join(re.escape(c) for c in choices)
    first = re.match(rf"^(?:answer|option|choice)?\s*[:=]?\s*[(\[]?([{letters}])(?![\w])[)\].:]?", t)
    found = set(re.findall(rf"\(([{letters}])\)|(?:option|answer|choice)\s*[:=]?\s*([{letters}])\b", t))
    flat = {a or b for a, b in found} | ({first.group(1)} if first else set())
    if len(flat) == 1:
        return flat.pop(), ""
    if len(flat) > 1:
        return None, f"found several options ({', '.join(sorted(flat))}); write exactly one letter"
    return None, f"could not read one of {', '.join(choices)} from {excerpt(text)!r}; write just the letter, e.g. ({choices[0]})"



def grade_choice(q: Question, ans: Answer, worksheet_dir: Path | None = None, root: Path | None = None) -> Grade:
    """A choice answer: right when the one option letter read is the key's."""
    choices = [str(c).lower() for c in q.spec["choices"]]
    letter, problem = read_choice(ans.text[:MAX_GRADED_CHARS], choices)
    if letter is None:
        return Grade(0.0, "unreadable", problem, f"expected ({q.expected})")
    ok = letter == q.expected
    return Grade(q.points if ok else 0.0, "correct" if ok else "incorrect",
                 f"{'correct' if ok else 'incorrect'} (read option ({letter}))", f"expected ({q.expected})", letter)

