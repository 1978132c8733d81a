"""Find each answer of a worksheet by its ``<!-- answer ID -->`` / ``<!-- end answer ID -->`` markers
(coping with deleted markers), and read the reference answers of the staff worksheet."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

from autograder.worksheet.common import COMMENT_RE, SOL_BEGIN, SOL_END, STUB, WorksheetError

# <!-- answer q3.4 -->  and  <!-- end answer q3.4 -->  (case, spaces and a colon forgiven)
_ID = r"([A-Za-z0-9][\w.\-]*?)"
_BEGIN_RE = re.compile(r"<!--\s*answer\s*:?\s*" + _ID + r"\s*-->", re.IGNORECASE)
_END_RE = re.compile(r"<!--\s*(?:end\s*[-_]?\s*answer|/\s*answer)\s*:?\s*" + _ID + r"\s*-->", re.IGNORECASE)
_NB_LINE_RE = re.compile(rf"^.*(?:{SOL_BEGIN}|{SOL_END}).*$", re.MULTILINE)


@dataclass
class Answer:
    """One answer found in a worksheet.

    Args:
        qid: the question id, e.g. ``q3.4``.
        text: the answer with the stub, HTML comments and code fences removed, stripped.
        found: how it was found: ``markers``, ``no end marker``, ``no begin marker``,
            ``by question text`` or ``missing``.
        line: 1-based line of the answer's first line (0 when missing).
        warnings: notes for the student (a missing marker, a duplicate answer, ...).
        review: reasons a TA must look at this answer whatever its score (two answers under one id).
        earlier: the other answers found under the same id, as (line, text), for the TA.
    """

    qid: str
    text: str = ""
    found: str = "missing"
    line: int = 0
    warnings: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    earlier: list[tuple[int, str]] = field(default_factory=list)  # (line, text) of other answers under this id

    @property
    def answered(self) -> bool:
        return bool(self.text.strip())


@dataclass
class _Marker:
    qid: str
    begin: bool
    start: int  # character offsets of the comment
    end: int


_LANGUAGE_TAG_RE = re.compile(r"^[\w+#.-]{1,20}$")  # ```python: an info string that is a language name


def _unfence(text: str) -> str:
    """Code fences removed, their text kept: markdown-it-py finds each fence (CommonMark rules);
    its opening line keeps any text written after the backticks (unless it is only a language
    tag), and its closing line goes. Backticks left at the end of a line ("...DataLoader```") go."""
    from autograder.worksheet.images import _markdown

    lines = text.splitlines()
    drop: set[int] = set()
    keep_as: dict[int, str] = {}
    for tok in _markdown().parse(text):
        if tok.type != "fence" or not tok.map:
            continue
        first, last = tok.map[0], tok.map[1] - 1
        info = tok.info.strip()
        if info and not _LANGUAGE_TAG_RE.match(info):
            keep_as[first] = info
        else:
            drop.add(first)
        if last > first and re.fullmatch(r"\s*(`{3,}|~{3,})\s*", lines[last] if last < len(lines) else ""):
            drop.add(last)
    out = []
    for i, ln in enumerate(lines):
        if i in drop:
            continue
        ln = keep_as.get(i, ln)
        out.append(re.sub(r"\s*(`{3,}|~{3,})\s*$", "", ln))
    return "\n".join(out)


def clean_answer(raw: str) -> str:
    """The student's text: stub, HTML comments and solution-marker lines removed; code fences
    removed with their text kept (a line opening a fence keeps what was written on it).

    Args:
        raw: the text between the answer markers.
    """
    text = _NB_LINE_RE.sub("", raw)
    text = COMMENT_RE.sub("", text)
    text = re.sub(re.escape(STUB), "", text, flags=re.IGNORECASE)
    return _unfence(text).strip()


def _markers(text: str) -> list[_Marker]:
    found = [_Marker(m.group(1).lower(), True, m.start(), m.end()) for m in _BEGIN_RE.finditer(text)]
    found += [_Marker(m.group(1).lower(), False, m.start(), m.end()) for m in _END_RE.finditer(text)]
    return sorted(found, key=lambda m: m.start)


def _template_lines(template: str) -> set[str]:
    """Lines of the worksheet outside the answers (question text), stripped, long enough to be
    unlikely inside a student's answer."""
    outside, pos = [], 0
    for begin, end in _regions(template):
        outside.append(template[pos:begin.start])
        pos = end.end
    outside.append(template[pos:])
    lines = set()
    for chunk in outside:
        for ln in chunk.splitlines():
            s = ln.strip()
            if len(s) >= 8 and re.search(r"[A-Za-z]", s) and not _BEGIN_RE.search(s) and not _END_RE.search(s):
                lines.add(s)
    return lines


def _regions(text: str) -> list[tuple[_Marker, _Marker]]:
    """Well-formed (begin, end) marker pairs, in order."""
    ms, pairs = _markers(text), []
    for a, b in zip(ms, ms[1:]):
        if a.begin and not b.begin and a.qid == b.qid:
            pairs.append((a, b))
    return pairs


def _anchors(template: str) -> dict[str, str]:
    """Per question id, the last line of question text above its answer (to find an answer whose
    markers were both deleted)."""
    anchors = {}
    for begin, _ in _regions(template):
        before = [ln.strip() for ln in template[:begin.start].splitlines() if ln.strip()]
        before = [ln for ln in before if not _BEGIN_RE.search(ln) and not _END_RE.search(ln)]
        if before and len(before[-1]) >= 8:
            anchors[begin.qid] = before[-1]
    counts: dict[str, int] = {}
    for a in anchors.values():
        counts[a] = counts.get(a, 0) + 1
    return {q: a for q, a in anchors.items() if counts[a] == 1}


@lru_cache(maxsize=4)
def _template_view(template: str) -> tuple[frozenset[str], Mapping[str, str], tuple[str, ...]]:
    """What ``parse_worksheet`` reads from a template: its question-text lines, its anchors and its
    question ids in order; computed once per template text (the staff worksheet is the same for a
    whole class) and read-only."""
    return (frozenset(_template_lines(template)), MappingProxyType(_anchors(template)),
            tuple(begin.qid for begin, _ in _regions(template)))


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _cut_forward(chunk: str, template_lines: set[str]) -> str:
    """Text up to the first line of question text (the answer's end marker is missing)."""
    out = []
    for ln in chunk.splitlines():
        if ln.strip() in template_lines:
            break
        out.append(ln)
    return "\n".join(out)


def _cut_backward(chunk: str, template_lines: set[str]) -> str:
    """Text after the last line of question text (the answer's begin marker is missing)."""
    lines = chunk.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip() in template_lines:
            return "\n".join(lines[i + 1:])
    return chunk


def parse_worksheet(text: str, template: str | None = None) -> dict[str, Answer]:
    """Every answer in a worksheet, by question id.

    Answers are found by their markers, so reordered questions, extra headings and text outside
    the markers do not matter. With ``template`` (the staff or blank worksheet) the parser also
    copes with a deleted marker: a missing end marker ends the answer at the next line of question
    text, a missing begin marker starts it after the previous one, and with both deleted the
    answer is read below the question's last line. Every question of the template then has an
    entry (``found="missing"`` when nothing was found).

    Args:
        text: the worksheet's contents.
        template: the staff or blank worksheet, or None to read the markers only.
    """
    tlines, anchors, template_ids = _template_view(template) if template else (frozenset(), {}, ())
    ms = _markers(text)
    answers: dict[str, Answer] = {}

    def add(qid: str, raw: str, found: str, offset: int, warning: str = "") -> None:
        ans = Answer(qid, clean_answer(raw), found, _line_of(text, offset), [warning] if warning else [])
        old = answers.get(qid)
        if old is None:
            answers[qid] = ans
            return
        if not ans.answered or ans.text == old.text:
            old.warnings.append(f"the answer markers of {qid} appear again at line {ans.line}; "
                                f"keep one pair of markers per question")
            return
        if not old.answered:
            ans.warnings = old.warnings + ans.warnings
            answers[qid] = ans
            return
        # two different answers under one id: grade the later (a correction), show the TA both
        ans.warnings = old.warnings + ans.warnings + [
            f"two answers for {qid} (lines {old.line} and {ans.line}); graded the later one. "
            f"Keep one answer between one pair of markers"]
        ans.review = old.review + ans.review + [f"two answers under {qid}: line {old.line} and line {ans.line}"]
        ans.earlier = old.earlier + [(old.line, old.text)]
        answers[qid] = ans

    for i, m in enumerate(ms):
        nxt = ms[i + 1] if i + 1 < len(ms) else None
        prev = ms[i - 1] if i > 0 else None
        if m.begin:
            if nxt is not None and not nxt.begin and nxt.qid == m.qid:
                add(m.qid, text[m.end:nxt.start], "markers", m.end)
            else:
                chunk = text[m.end:nxt.start if nxt else len(text)]
                add(m.qid, _cut_forward(chunk, tlines), "no end marker", m.end,
                    f"the end marker <!-- end answer {m.qid} --> is missing; read the answer up to the "
                    f"next question. Put the marker back below your answer.")
        elif not (prev is not None and prev.begin and prev.qid == m.qid):
            start = prev.end if prev else 0
            chunk = _cut_backward(text[start:m.start], tlines)
            add(m.qid, chunk, "no begin marker", m.start - len(chunk),
                f"the begin marker <!-- answer {m.qid} --> is missing; read the answer from the line "
                f"below the question. Put the marker back above your answer.")

    if template:
        lines = text.splitlines()
        stripped = [ln.strip() for ln in lines]
        marker_lines = {_line_of(text, m.start) - 1 for m in ms}
        for qid in template_ids:
            if qid in answers:
                continue
            anchor = anchors.get(qid)
            if anchor and stripped.count(anchor) == 1:
                start = stripped.index(anchor) + 1
                body = []
                for j in range(start, len(lines)):
                    if stripped[j] in tlines or j in marker_lines:
                        break
                    body.append(lines[j])
                offset = len("\n".join(lines[:start])) + 1
                add(qid, "\n".join(body), "by question text", offset,
                    f"both answer markers of {qid} are missing; read the text below the question. "
                    f"Copy <!-- answer {qid} --> and <!-- end answer {qid} --> back from the blank worksheet.")
            else:
                answers[qid] = Answer(qid, "", "missing", 0, [
                    f"no answer markers for {qid} found. Put your answer between <!-- answer {qid} --> and "
                    f"<!-- end answer {qid} --> (copy them from the blank worksheet)."])
    return answers


def reference_answers(staff_text: str) -> dict[str, str]:
    """The reference answer of every question: the solution region inside its answer markers.

    Args:
        staff_text: the staff ``WORKSHEET.md``.

    Raises:
        WorksheetError: a question without a solution region, or an id used twice.
    """
    refs: dict[str, str] = {}
    for begin, end in _regions(staff_text):
        body = staff_text[begin.end:end.start]
        if SOL_BEGIN not in body or SOL_END not in body:
            raise WorksheetError(
                f"staff worksheet line {_line_of(staff_text, begin.start)}: answer {begin.qid} has no "
                f"<!-- {SOL_BEGIN} --> ... <!-- {SOL_END} --> region; put the reference answer in one.")
        if begin.qid in refs:
            raise WorksheetError(f"staff worksheet: question id {begin.qid} is used twice; give each question its own id.")
        refs[begin.qid] = clean_answer(body)  # drops the delimiter lines
    return refs

