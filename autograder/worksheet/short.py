"""Grade a short text answer by the rubric's patterns, and say when the machine is not sure.

Each rubric pattern is one idea worth part of the points. A pattern counts *with confidence* only
when one of its matches

- is not negated: no negation ("not", "no", "never", "without", "n't", ...) among the
  ``NEGATION_WINDOW`` words before it in the same clause ("no caching and no prefetching",
  "does not speed up the reads");
- is said of the right thing, when the pattern names a ``subject`` (a regular expression): the
  clause's first mention of any of the question's subjects must be this one ("the decoder feeds
  the encoder" swaps the roles of encoder and decoder).

A ``wrong`` pattern of the rubric (a known wrong idea, e.g. "the loss is divided
by zero") found anywhere also removes the confidence.

Patterns find ideas; they cannot tell every wrong sentence that uses the right words from a right
one ("clipping causes exploding gradients", "--opts first, then the base file"). So every short
answer's score is a *suggestion*: it goes to the TA sheet with the evidence, and the feedback says a
TA reviews it. Rows where every idea was found with confidence read "confirm" (a quick check);
the rest name their doubts. A known wrong idea caps the suggestion at 0, so a TA who leaves the
row blank never makes a false full mark final. A question whose rubric entry sets
``final_when_confident: true`` makes confident full marks final (for answers a pattern really
decides, e.g. a config key's name).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.worksheet.common import MAX_GRADED_CHARS, Grade, format_number, normalise

if TYPE_CHECKING:
    from autograder.worksheet.key import Question
    from autograder.worksheet.markers import Answer

NEGATION_WINDOW = 4  # words before a match searched for a negation
_FLAGS = re.IGNORECASE | re.DOTALL
_NEGATION_RE = re.compile(
    r"\b(?:not|no|never|none|nor|neither|without|cannot|can't|won't|doesn't|don't|didn't|isn't|aren't|wasn't|"
    r"weren't|shouldn't|hardly|lacks?)\b|n't\b", re.IGNORECASE)
# a line break inside a paragraph is wrapping, not a break; a blank line or a list item is
_CLAUSE_BREAK_RE = re.compile(r"[.;:!?](?=\s|$)|\n\s*\n|\n\s*[-+•]\s|,")
_SENTENCE_RE = re.compile(r"[.;!?](?=\s|$)|\n\s*\n|\n\s*[-+•]\s")


def _negated(text: str, start: int) -> bool:
    """A negation among the few words before ``start``, within its clause."""
    before = text[:start]
    cut = max((m.end() for m in _CLAUSE_BREAK_RE.finditer(before)), default=0)
    words = re.findall(r"[\w']+", before[cut:])[-NEGATION_WINDOW:]
    return any(_NEGATION_RE.fullmatch(w) or w.lower().endswith("n't") for w in words)


def _sentence_start(text: str, pos: int) -> int:
    return max((m.end() for m in _SENTENCE_RE.finditer(text, 0, pos)), default=0)


def _role(text: str, pos: int, subjects: dict[str, str]) -> str | None:
    """Which subject a statement at ``pos`` is about: the first subject its sentence names (up to
    ``pos``), else the last one named before the sentence (a pronoun carries it on)."""
    start = _sentence_start(text, pos)
    first: tuple[int, str] | None = None
    last_before: tuple[int, str] | None = None
    for name, rx in subjects.items():
        for m in re.finditer(rx, text, _FLAGS):
            if start <= m.start() < pos and (first is None or m.start() < first[0]):
                first = (m.start(), name)
            if m.start() < start and (last_before is None or m.start() > last_before[0]):
                last_before = (m.start(), name)
    hit = first or last_before
    return hit[1] if hit else None


def grade_short(q: Question, ans: Answer, worksheet_dir: Path | None = None, root: Path | None = None) -> Grade:
    """A short answer: each idea found with confidence earns its points; anything short of
    confident full marks is a suggestion a TA reviews (see the module docstring)."""
    text = normalise(ans.text[:MAX_GRADED_CHARS])
    patterns = q.spec["patterns"]
    subjects = {p["subject"]: p["subject"] for p in patterns if p.get("subject")}
    score, hits, misses, doubts = 0.0, [], [], []
    for p in patterns:
        about = p.get("about", p["re"])
        matches = list(re.finditer(p["re"], text, _FLAGS))
        if not matches:
            misses.append(about)
            continue
        problems = []
        for m in matches:
            why = ""
            if _negated(text, m.start()):
                why = f"negated ({text[max(0, m.start() - 30):m.end()].strip()!r})"
            elif p.get("subject") and _role(text, m.start(), subjects) not in (p["subject"], None):
                why = f"said of the other subject ({text[_sentence_start(text, m.start()):m.end()].strip()!r})"
            elif p.get("subject") and _role(text, m.start(), subjects) is None:
                why = "not said of any named subject"
            if not why:
                break
            problems.append(why)
        else:
            doubts.append(f"{about}: {problems[0]}")
            misses.append(about)
            continue
        score += float(p.get("points", 0))
        hits.append(about)
    wrong = False
    for w in q.spec.get("wrong", []):
        m = re.search(w["re"], text, _FLAGS)
        if m:
            wrong = True
            doubts.append(f"states a wrong idea: {w.get('about', w['re'])} ({m.group(0).strip()!r})")
    score = 0.0 if wrong else min(score, q.points)
    status = "correct" if score >= q.points else "partly correct" if score > 0 else "incorrect"
    if score >= q.points and not doubts:
        review = "" if q.spec.get("final_when_confident") else \
            "confirm: every idea found with confidence (patterns cannot rule out a wrong sentence)"
    else:
        review = "; ".join(doubts) or f"ideas not found by the patterns: {'; '.join(misses)}"
    hints = [p["hint"] for p in patterns if p.get("hint") and p.get("about", p["re"]) in misses]
    visible = f"{status} ({format_number(score)}/{format_number(q.points)})"
    if review:
        visible = f"suggested {format_number(score)}/{format_number(q.points)}; a TA reviews this answer"
    visible += f"; hint: {'; '.join(hints)}" if hints else ""
    key = (f"credit for: {'; '.join(hits) or 'nothing'}. Missing: {'; '.join(misses) or 'nothing'}. "
           + (f"Review: {review}. " if review else "") + f"Reference: {q.reference!r}")
    return Grade(score, status, visible, key, review=review)
