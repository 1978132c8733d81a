"""Read a multiple-choice answer (one option letter) and grade it against the key."""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.worksheet.common import MAX_GRADED_CHARS, Grade, excerpt, normalise

if TYPE_CHECKING:
    from autograder.worksheet.key import Question
    from autograder.worksheet.markers import Answer


# A clause that refers to other options rather than choosing one: "(c) because unlike (a) ...".
_REFERENCE_RE = re.compile(
    r"\b(?:because|since|unlike|not|rather than|instead of|than|vs\.?|versus|whereas|while|except|but|"
    r"wrong|incorrect|false|eliminat\w*|rule[sd]? out|exclud\w*)\b", re.IGNORECASE)
_ANSWER_WORDS = r"(?:answer|option|choice|think|say|pick|choose|chose|guess|go with|is|it's|its|would be|be)"


def _mentions(t: str, letters: str) -> list[tuple[int, str]]:
    """(offset, letter) of every option letter written as an option: "(c)", "c)", "[c]", "option c",
    a letter standing alone ("I think c"). The article "a" counts only when it stands as an option:
    the whole answer, before ")", ".", ":", ",", or after words such as "answer is", "think", "option"."""
    out = []
    for m in re.finditer(rf"[(\[]([{letters}])[)\]]|(?<![\w'’-])([{letters}])(?![\w'’-])", t):
        letter = m.group(1) or m.group(2)
        if m.group(2) == "a":
            after, before = t[m.end():].lstrip(), t[:m.start()].rstrip()
            stands = not after or after[0] in ").:,;!" or re.search(rf"{_ANSWER_WORDS}\s*[:=]?$", before)
            if not stands:
                continue
        out.append((m.start(), letter))
    return out


def read_choice(text: str, choices: list[str]) -> tuple[str | None, str]:
    """The option letter a choice answer chooses: "c", "(c)", "C)", "c. SGD ...", "Answer: c",
    "I think c", "(c) because unlike (a) ...".

    The choice is the option named before any clause that refers to other options ("because",
    "unlike", "not", "rather than", ...); letters inside such clauses are reasons, not choices.

    Args:
        text: an answer.
        choices: the valid letters, lower case.

    Returns:
        (letter, "") or (None, the problem: no option found, or several chosen).
    """
    t = normalise(text).strip().lower()
    letters = "".join(re.escape(c) for c in choices)
    m = re.search(r"(?im)^\W*(?:final\s+)?answer\s*[:=]\s*(.+)$", t)
    if m:
        t = m.group(1)
    ref = _REFERENCE_RE.search(t)
    main = t[:ref.start()] if ref else t
    chosen = sorted({letter for _, letter in _mentions(main, letters)})
    if not chosen and ref:  # "Not (a): the answer is (c)": look past the reference clause, sentence by sentence
        for sentence in re.split(r"(?<=[.;:!?\n])\s+", t):
            r = _REFERENCE_RE.search(sentence)
            chosen = sorted({letter for _, letter in _mentions(sentence[:r.start()] if r else sentence, letters)})
            if chosen:
                break
    if len(chosen) == 1:
        return chosen[0], ""
    if len(chosen) > 1:
        return None, f"found several options ({', '.join(chosen)}); write exactly one letter"
    return None, f"could not read one of {', '.join(choices)} from {excerpt(text)!r}; write just the letter, e.g. ({choices[0]})"


def grade_choice(q: Question, ans: Answer, worksheet_dir: Path | None = None, root: Path | None = None) -> Grade:
    """A choice answer: right when the one option letter read is the key's. When no letter or
    several are read, the score (0) is a suggestion and a TA reviews the answer."""
    choices = [str(c).lower() for c in q.spec["choices"]]
    letter, problem = read_choice(ans.text[:MAX_GRADED_CHARS], choices)
    if letter is None:
        return Grade(0.0, "unreadable", f"{problem}; a TA reviews this answer", f"expected ({q.expected})",
                     review=problem)
    ok = letter == q.expected
    return Grade(q.points if ok else 0.0, "correct" if ok else "incorrect",
                 f"{'correct' if ok else 'incorrect'} (read option ({letter}))", f"expected ({q.expected})", letter)
