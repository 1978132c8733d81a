"""Grade ``WORKSHEET.md``: find each answer by its id, read it by its kind, score it against the key.

The worksheet marks every answer with invisible HTML comments that survive the release::

    <!-- answer q3.4 -->
    (the staff copy: the reference answer inside nbgrader's markdown solution region;
     the handout: nbgrader's text stub, YOUR ANSWER HERE)
    <!-- end answer q3.4 -->

The key is the staff ``WORKSHEET.md`` (reference answers) plus the staff-only rubric
``autograder/staff/worksheet.yaml`` (kind, points and how to compare, per question id). Kinds:

- ``number``: one number, compared with a relative/absolute tolerance (or a plausible ``range``);
  "57.8M", "57,823,240", "5.78e7", "~57.82 million", "231 MB" (``unit: bytes``) all read.
- ``choice``: one option letter.
- ``short``: regular-expression ``patterns``, each worth part of the points.
- ``free``: graded by TAs. Here only a completeness check (not the stub, enough words) gives
  provisional points; ``export_free_text`` writes a CSV the TAs fill in and ``merge_ta_scores``
  puts their scores back into the gradebook / results files.
- ``image``: the answer links an image file (``![..](path)``) that exists in the submission.

Grading gives one ``worksheet/<id>`` entry per question (visible: right / partly / wrong /
unanswered / unreadable, never the expected answer) and one ``worksheet/answer-key`` entry
(0 points, ``after_published``) with the expected answers and the details of every item.

The pipeline, one small step each: ``parse_worksheet`` (find answers) -> ``load_key`` (staff
answers + rubric) -> ``grade_answer`` (one question) -> ``grade_worksheet`` (all, as TestResults).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sys
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import yaml

from autograder.markers import REGIONS, TEXT_STUB
from autograder.results import TestResult

# nbgrader's solution delimiters, never spelt out here (the release scans every file for them)
SOL_BEGIN, SOL_END = REGIONS["solution"]

REPO = Path(__file__).resolve().parents[1]
STAFF_WORKSHEET = REPO / "WORKSHEET.md"
STAFF_RUBRIC = REPO / "autograder" / "staff" / "worksheet.yaml"
WORKSHEET_NAME = "WORKSHEET.md"
STUB = TEXT_STUB  # nbgrader's text stub (ClearSolutions.text_stub)
KINDS = ("number", "choice", "short", "free", "image")
KEY_ENTRY = "worksheet/answer-key"
MAX_GRADED_CHARS = 20_000  # longer answers are cut before pattern matching (keeps regexes fast)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".pdf")

# <!-- answer q3.4 -->  and  <!-- end answer q3.4 -->  (case, spaces and a colon forgiven)
_ID = r"([A-Za-z0-9][\w.\-]*?)"
_BEGIN_RE = re.compile(r"<!--\s*answer\s*:?\s*" + _ID + r"\s*-->", re.IGNORECASE)
_END_RE = re.compile(r"<!--\s*(?:end\s*[-_]?\s*answer|/\s*answer)\s*:?\s*" + _ID + r"\s*-->", re.IGNORECASE)
_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_NB_LINE_RE = re.compile(rf"^.*(?:{SOL_BEGIN}|{SOL_END}).*$", re.MULTILINE)


class WorksheetError(ValueError):
    """A bad worksheet, rubric or TA sheet; the message names the file, the item and the fix."""


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------
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
    """

    qid: str
    text: str = ""
    found: str = "missing"
    line: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return bool(self.text.strip())


@dataclass
class _Marker:
    qid: str
    begin: bool
    start: int  # character offsets of the comment
    end: int


def clean_answer(raw: str) -> str:
    """The student's text: stub, HTML comments, solution-marker lines and code fences removed.

    Args:
        raw: the text between the answer markers.
    """
    text = _NB_LINE_RE.sub("", raw)
    text = _COMMENT_RE.sub("", text)
    text = re.sub(re.escape(STUB), "", text, flags=re.IGNORECASE)
    lines = [ln for ln in text.splitlines() if not re.match(r"^\s*(```|~~~)", ln)]
    return "\n".join(lines).strip()


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
    tlines = _template_lines(template) if template else set()
    ms = _markers(text)
    answers: dict[str, Answer] = {}

    def add(qid: str, raw: str, found: str, offset: int, warning: str = "") -> None:
        ans = Answer(qid, clean_answer(raw), found, _line_of(text, offset), [warning] if warning else [])
        old = answers.get(qid)
        if old is None:
            answers[qid] = ans
            return
        note = f"the answer markers of {qid} appear more than once; graded the first non-empty answer"
        if not old.answered and ans.answered:
            ans.warnings = old.warnings + ans.warnings + [note]
            answers[qid] = ans
        elif note not in old.warnings:
            old.warnings.append(note)

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
        anchors = _anchors(template)
        lines = text.splitlines()
        stripped = [ln.strip() for ln in lines]
        marker_lines = {_line_of(text, m.start) - 1 for m in ms}
        for begin, _ in _regions(template):
            qid = begin.qid
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


# ---------------------------------------------------------------------------------------------
# Reading numbers and choices
# ---------------------------------------------------------------------------------------------
_MULT = {
    "k": 1e3, "thousand": 1e3, "thousands": 1e3,
    "m": 1e6, "mil": 1e6, "mio": 1e6, "mln": 1e6, "million": 1e6, "millions": 1e6,
    "b": 1e9, "bn": 1e9, "g": 1e9, "billion": 1e9, "billions": 1e9,
    "t": 1e12, "trillion": 1e12,
}
_BYTES = {"b": 1, "byte": 1, "bytes": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
# words that may follow a number and do not change it
_UNIT_WORDS = {"params", "param", "parameters", "parameter", "weights", "tokens", "token", "patches",
               "flops", "flop", "macs", "mac", "images", "imgs", "img", "steps", "step", "epochs",
               "epoch", "entries", "elements", "floats", "pixels", "px", "px.", "classes", "x", "times",
               "percent", "pct", "days", "gpus", "tpu", "per", "of", "in", "at", "total", "and",
               "approx", "approximately", "about", "with", "for", "on", "is", "are", "per", "each"}
_NUM_RE = re.compile(
    r"(?<![\w./\-])(?P<sign>[-+−]?)"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\d.,])|\d+(?:\.\d*)?|\.\d+)"
    r"(?:\s*[eE]\s*(?P<exp>[-+]?\d+))?"
    r"(?:\s*(?:[x×*]|\\times)\s*10\s*(?:\^|\*\*)\s*\{?(?P<pow>[-+]?\d+)\}?)?"
    r"(?P<gap>\s*)(?P<word>[A-Za-zµ%]+\.?)?"
)


@dataclass
class ParsedNumber:
    value: float
    bare: bool  # no multiplier or unit written after it
    text: str


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _COMMENT_RE.sub(" ", text)
    text = re.sub(r"(?<=\d)\s*\*\*\s*(?=[-+]?\d)", "^", text)  # 10**7 -> 10^7
    text = re.sub(r"(?<=\d)\s*\*\s*(?=10\s*\^)", " x ", text)  # 5.78*10^7 -> 5.78 x 10^7
    text = re.sub(r"[`*$]|\\,|\\!|\\approx|\\sim", " ", text)  # markdown emphasis, code, LaTeX
    return text.replace("−", "-").replace("≈", " ").replace("~", " ")


def find_numbers(text: str, unit: str | None = None) -> list[ParsedNumber]:
    """All numbers in ``text`` with their multipliers ("57.8M", "1.2 billion", "5.78e7",
    "5.78 x 10^7", "231 MB" when ``unit == "bytes"``); identifiers such as ViT-B/16 or
    ResNet18 are skipped.

    Args:
        text: an answer.
        unit: ``bytes`` to read KB/MB/GB/KiB/... as byte counts; None otherwise.
    """
    out = []
    text = _normalise(text)
    for m in _NUM_RE.finditer(text):
        raw = m.group("num").replace(",", "").replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
        try:
            value = float(raw)
        except ValueError:
            continue
        if m.group("exp"):
            value *= 10.0 ** int(m.group("exp"))
        if m.group("pow"):
            value *= 10.0 ** int(m.group("pow"))
        if m.group("sign") in ("-", "−"):
            value = -value
        word = (m.group("word") or "").rstrip(".")
        lw = word.lower()
        bare = True
        if word:
            if unit == "bytes" and lw in _BYTES:
                value *= _BYTES[lw]
                bare = False
            elif lw in _MULT:
                value *= _MULT[lw]
                bare = False
            elif len(lw) > 1 and lw[0] in "kmgbt" and lw[1:] in _UNIT_WORDS:  # GFLOPs, Mparams
                value *= _MULT[lw[0]]
                bare = False
            elif lw == "%" or lw in _UNIT_WORDS:
                pass
            elif not m.group("gap"):
                continue  # digits glued to an unknown word (3x3, 18layers): not an answer
        out.append(ParsedNumber(value, bare, m.group(0).strip()))
    return out


def read_number(text: str, unit: str | None = None) -> tuple[ParsedNumber | None, str]:
    """The graded number of an answer and a note on how it was picked.

    An ``Answer: ...`` line is used when present. Otherwise numbers in parentheses are ignored
    (asides) when others exist, and the last remaining number is graded (derivations end with
    the result).

    Args:
        text: an answer.
        unit: see ``find_numbers``.
    """
    m = re.search(r"(?im)^\W*(?:final\s+)?answer\s*[:=]\s*(.+)$", text)
    if m:
        text = m.group(1)
    nums = find_numbers(text, unit)
    outside = find_numbers(re.sub(r"\([^()]*\)", " ", _normalise(text)), unit)
    if outside:
        nums = outside
    if not nums:
        return None, ""
    note = ""
    distinct = {round(n.value, 9) for n in nums}
    if len(distinct) > 1:
        note = (f"found {len(nums)} numbers ({', '.join(n.text for n in nums[:5])}); graded the last one, "
                f"{nums[-1].text!r}. Put your final number last.")
    return nums[-1], note


def read_choice(text: str, choices: list[str]) -> tuple[str | None, str]:
    """The option letter of a choice answer: "b", "(b)", "B)", "b. SGD ...", "Answer: b".

    Args:
        text: an answer.
        choices: the valid letters, lower case.

    Returns:
        (letter or None, a problem description when None).
    """
    t = _normalise(text).strip().lower()
    letters = "".join(re.escape(c) for c in choices)
    first = re.match(rf"^(?:answer|option|choice)?\s*[:=]?\s*[(\[]?([{letters}])(?![\w])[)\].:]?", t)
    found = set(re.findall(rf"\(([{letters}])\)|(?:option|answer|choice)\s*[:=]?\s*([{letters}])\b", t))
    flat = {a or b for a, b in found} | ({first.group(1)} if first else set())
    if len(flat) == 1:
        return flat.pop(), ""
    if len(flat) > 1:
        return None, f"found several options ({', '.join(sorted(flat))}); write exactly one letter"
    return None, f"could not read one of {', '.join(choices)} from {_excerpt(text)!r}; write just the letter, e.g. ({choices[0]})"


def _excerpt(text: str, n: int = 60) -> str:
    one = " ".join(text.split())
    return one if len(one) <= n else one[: n - 3] + "..."


# ---------------------------------------------------------------------------------------------
# The key
# ---------------------------------------------------------------------------------------------
@dataclass
class Question:
    """One question of the key.

    Args:
        qid: the id in the markers.
        kind: number, choice, short, free or image.
        points: points available.
        spec: the rubric entry (tolerances, patterns, choices, ...).
        reference: the staff answer text (from the solution region).
        expected: the value the answer is compared with (number or choice letter), else None.
    """

    qid: str
    kind: str
    points: float
    spec: dict
    reference: str
    expected: float | str | None = None


def load_rubric(path: Path | str = STAFF_RUBRIC) -> dict:
    """Read and check the staff rubric.

    Args:
        path: the rubric YAML (``autograder/staff/worksheet.yaml``).

    Raises:
        WorksheetError: the file is missing (e.g. in a student handout) or an entry is malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise WorksheetError(
            f"worksheet rubric {path} not found. It is staff-only (left out of the student handout); "
            f"grade from the staff repository or pass --rubric.")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return check_rubric(data, str(path))


def check_rubric(data: dict, source: str = "<rubric>") -> dict:
    """Validate a rubric mapping (``{"questions": {id: {kind, points, ...}}}``) and return it.

    Args:
        data: the parsed YAML.
        source: where it came from, for messages.
    """
    qs = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(qs, dict) or not qs:
        raise WorksheetError(f"{source}: expected a 'questions:' mapping of question id -> entry.")
    for qid, spec in qs.items():
        where = f"{source}: question {qid}"
        if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
            raise WorksheetError(f"{where}: 'kind' must be one of {', '.join(KINDS)}, got {spec!r}.")
        if not isinstance(spec.get("points"), (int, float)) or spec["points"] < 0:
            raise WorksheetError(f"{where}: 'points' must be a number >= 0, got {spec.get('points')!r}.")
        kind = spec["kind"]
        if kind == "short":
            pats = spec.get("patterns")
            if not isinstance(pats, list) or not pats:
                raise WorksheetError(f"{where}: a short question needs 'patterns': a list of {{re, points, about}}.")
            for p in pats:
                try:
                    re.compile(p["re"])
                except (KeyError, TypeError, re.error) as e:
                    raise WorksheetError(f"{where}: bad pattern {p!r} ({e}); give 're' as a valid regular expression.") from e
            total = sum(p.get("points", 0) for p in pats)
            if abs(total - spec["points"]) > 1e-9:
                raise WorksheetError(f"{where}: its patterns' points add up to {total}, not {spec['points']}; make them agree.")
        if kind == "choice" and not spec.get("choices"):
            raise WorksheetError(f"{where}: a choice question needs 'choices', e.g. [a, b, c, d].")
        if kind == "number" and "range" in spec and (not isinstance(spec["range"], list) or len(spec["range"]) != 2):
            raise WorksheetError(f"{where}: 'range' must be [low, high].")
    return data


def load_key(staff_worksheet: Path | str | None = None, rubric: dict | None = None) -> tuple[dict[str, Question], str]:
    """The questions of the key, in worksheet order, and the staff worksheet's text.

    Args:
        staff_worksheet: the staff ``WORKSHEET.md`` (default: the repository's).
        rubric: a rubric mapping (default: ``autograder/staff/worksheet.yaml``).

    Raises:
        WorksheetError: the staff worksheet is missing, or it and the rubric disagree (a question in
            one and not the other, a number or choice key that cannot be read).
    """
    path = Path(staff_worksheet or STAFF_WORKSHEET)
    if not path.is_file():
        raise WorksheetError(f"staff worksheet {path} not found; pass the staff WORKSHEET.md (with solutions).")
    staff_text = path.read_text(encoding="utf-8")
    rubric = check_rubric(rubric) if rubric is not None else load_rubric()
    refs = reference_answers(staff_text)
    specs = rubric["questions"]
    extra, missing = sorted(set(specs) - set(refs)), sorted(set(refs) - set(specs))
    if extra or missing:
        raise WorksheetError(
            f"staff worksheet and rubric disagree: in the rubric only: {extra or 'none'}; in the worksheet "
            f"only: {missing or 'none'}. Every answer id needs exactly one rubric entry.")
    questions: dict[str, Question] = {}
    for qid, ref in refs.items():
        spec = specs[qid]
        q = Question(qid, spec["kind"], float(spec["points"]), spec, ref)
        if q.kind == "number" and "range" not in spec:
            num, _ = read_number(ref, spec.get("unit"))
            if num is None:
                raise WorksheetError(f"staff worksheet: the reference answer of {qid} ({ref!r}) holds no number.")
            q.expected = num.value
        elif q.kind == "choice":
            letter, problem = read_choice(ref, [c.lower() for c in spec["choices"]])
            if letter is None:
                raise WorksheetError(f"staff worksheet: the reference answer of {qid}: {problem}.")
            q.expected = letter
        questions[qid] = q
    return questions, staff_text


# ---------------------------------------------------------------------------------------------
# Grading one answer
# ---------------------------------------------------------------------------------------------
@dataclass
class Grade:
    """The outcome of one question.

    Args:
        score: points earned.
        status: ``correct``, ``partly correct``, ``incorrect``, ``unanswered``, ``unreadable``,
            ``complete`` or ``incomplete`` (free text).
        visible: feedback safe to show before grades are published (no expected answer).
        key: the expected answer and details, for after grades are published.
        value: what was read from the answer (number, letter, image paths), if anything.
    """

    score: float
    status: str
    visible: str
    key: str
    value: object = None


def format_number(x: float) -> str:
    """A number as the feedback shows it: 57,823,240 for whole numbers, else 6 significant digits."""
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.6g}"


def _close(value: float, expected: float, spec: dict) -> bool:
    rel, abs_tol = float(spec.get("rel_tol", 0.0)), float(spec.get("abs_tol", 0.0))
    if not rel and not abs_tol:
        rel = 1e-6
    return math.isclose(value, expected, rel_tol=rel, abs_tol=abs_tol)


def _grade_number(q: Question, ans: Answer) -> Grade:
    spec, unit = q.spec, q.spec.get("unit")
    num, note = read_number(ans.text[:MAX_GRADED_CHARS], unit)
    if num is None:
        example = "231 MB or 2.31e8" if unit == "bytes" else "12.3M, 12,345,678 or 1.2e7"
        msg = f"could not read a number from {_excerpt(ans.text)!r}; write e.g. {example}"
        return Grade(0.0, "unreadable", msg, f"expected {q.reference!r}")
    candidates = [num.value]
    if num.bare:
        candidates += [num.value * float(s) for s in spec.get("bare_scale", [])]
    if "range" in spec:
        lo, hi = (float(v) for v in spec["range"])
        ok = any(lo <= c <= hi for c in candidates)
        key = f"accepted range [{format_number(lo)}, {format_number(hi)}]; reference {q.reference!r}"
    else:
        ok = any(_close(c, float(q.expected), spec) for c in candidates)
        tol = f"rel_tol {spec['rel_tol']}" if spec.get("rel_tol") else f"abs_tol {spec.get('abs_tol', 0)}"
        key = f"expected {format_number(float(q.expected))} ({tol}); reference {q.reference!r}"
    read = f"read {num.text!r} as {format_number(num.value)}"
    visible = f"{'correct' if ok else 'incorrect'} ({read})" + (f"; {note}" if note and not ok else "")
    return Grade(q.points if ok else 0.0, "correct" if ok else "incorrect", visible, key, num.value)


def _grade_choice(q: Question, ans: Answer) -> Grade:
    choices = [str(c).lower() for c in q.spec["choices"]]
    letter, problem = read_choice(ans.text[:MAX_GRADED_CHARS], choices)
    if letter is None:
        return Grade(0.0, "unreadable", problem, f"expected ({q.expected})")
    ok = letter == q.expected
    return Grade(q.points if ok else 0.0, "correct" if ok else "incorrect",
                 f"{'correct' if ok else 'incorrect'} (read option ({letter}))", f"expected ({q.expected})", letter)


def _grade_short(q: Question, ans: Answer) -> Grade:
    text = _normalise(ans.text[:MAX_GRADED_CHARS])
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


def _grade_free(q: Question, ans: Answer) -> Grade:
    words = len(re.findall(r"\w+", ans.text))
    need = int(q.spec.get("min_words", 10))
    key = f"reference answer: {q.reference!r}"
    if words < need:
        return Grade(0.0, "incomplete",
                     f"incomplete: {words} words, at least {need} expected; a TA grades this answer", key)
    return Grade(q.points, "complete", f"complete ({words} words); provisional points, a TA grades this answer", key)


_IMG_RE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<img[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


def image_links(text: str) -> list[str]:
    """Image paths linked in markdown (``![alt](path)``) or HTML (``<img src="path">``).

    Args:
        text: an answer.
    """
    return [a or b for a, b in _IMG_RE.findall(text)]


def _resolve_image(link: str, worksheet_dir: Path, root: Path) -> tuple[Path | None, str]:
    if re.match(r"^[a-z]+://", link, re.IGNORECASE):
        return None, f"{link} is a web address; add the image file to your submission and link it by a relative path"
    link = link.split("#")[0].split("?")[0]
    from urllib.parse import unquote

    link = unquote(link)
    for base in (worksheet_dir, root):
        cand = (base / link.lstrip("/")).resolve()
        try:
            cand.relative_to(root.resolve())
        except ValueError:
            continue
        if cand.is_file():
            if cand.suffix.lower() not in IMAGE_SUFFIXES:
                return None, f"{link} is not an image file ({', '.join(IMAGE_SUFFIXES)})"
            return cand, ""
    return None, f"{link} is not in your submission (looked beside WORKSHEET.md and at the submission's top level)"


def _grade_image(q: Question, ans: Answer, worksheet_dir: Path, root: Path) -> Grade:
    links = image_links(ans.text)
    need = int(q.spec.get("min_images", 1))
    key = f"reference: {q.reference!r}"
    if not links:
        return Grade(0.0, "unanswered" if not ans.answered else "incorrect",
                     "no image linked; add the file to your submission and link it with ![description](images/plot.png)", key)
    found, problems = [], []
    for link in links:
        path, problem = _resolve_image(link, worksheet_dir, root)
        (found.append(str(path)) if path else problems.append(problem))
    score = q.points * min(len(found), need) / need
    status = "correct" if score >= q.points else "partly correct" if score > 0 else "incorrect"
    visible = f"{status}: {len(found)} of {need} image(s) found" + (f"; {'; '.join(problems)}" if problems else "")
    return Grade(score, status, visible, key, found)


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
    if q.kind == "number":
        return _grade_number(q, ans)
    if q.kind == "choice":
        return _grade_choice(q, ans)
    if q.kind == "short":
        return _grade_short(q, ans)
    if q.kind == "free":
        return _grade_free(q, ans)
    return _grade_image(q, ans, worksheet_dir, root or worksheet_dir)


# ---------------------------------------------------------------------------------------------
# Grading a worksheet
# ---------------------------------------------------------------------------------------------
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
              _excerpt(r.output, 160) + (f"  || {_excerpt(r.extra.get('key', ''), 90)}" if show_key else ""))
             for r in rows]
    widths = [max(len(h), *(len(t[i]) for t in table)) if table else len(h) for i, h in enumerate(head)]

    def line(cells) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    total, most = sum(r.score for r in rows), sum(r.max_score for r in rows)
    out = [line(head), line(["-" * w for w in widths])] + [line(t) for t in table]
    manual = sum(r.max_score for r in rows if r.extra.get("manual"))
    out.append(f"total {format_number(round(total, 4))}/{format_number(most)} ({format_number(manual)} points of free text are provisional until a TA grades them)")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# TA round trip: free-text answers out to a CSV, TA scores back in
# ---------------------------------------------------------------------------------------------
TA_COLUMNS = ("student", "question", "max_score", "auto_score", "ta_score", "ta_comment", "answer", "reference", "auto_feedback")


def _student_name(path: Path) -> str:
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        return path.stem
    if path.is_file():
        return path.parent.name
    return path.name


def export_free_text(submissions: Mapping[str, list[TestResult]] | Iterable[Path | str], out_csv: Path | str,
                     staff_worksheet: Path | str | None = None, rubric: dict | None = None) -> int:
    """Write one CSV row per (student, free-text question) for TAs to grade; return the row count.

    Columns: ``student, question, max_score, auto_score, ta_score, ta_comment, answer, reference,
    auto_feedback``. TAs fill ``ta_score`` (blank keeps the automatic score) and ``ta_comment``.

    Args:
        submissions: either ``{student: grade_worksheet(...) results}`` or submission paths
            (folders, ``.zip`` files or ``WORKSHEET.md`` files; the student is the folder or zip name).
        out_csv: the CSV to write.
        staff_worksheet: the staff worksheet, when grading paths.
        rubric: the rubric mapping, when grading paths.
    """
    if isinstance(submissions, Mapping):
        graded = dict(submissions)
    else:
        graded = {}
        for p in submissions:
            name = _student_name(Path(p))
            if name in graded:
                raise WorksheetError(f"two submissions are both named {name!r}; give each student's folder a unique name.")
            graded[name] = grade_worksheet(p, staff_worksheet, rubric, key_entry=False)
    rows = 0
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    with open(out_csv, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=TA_COLUMNS)
        w.writeheader()
        for student in sorted(graded):
            for r in graded[student]:
                if not r.extra.get("manual"):
                    continue
                w.writerow({"student": student, "question": r.name.split("/", 1)[1], "max_score": format_number(r.max_score),
                            "auto_score": format_number(r.score), "ta_score": "", "ta_comment": "",
                            "answer": r.extra.get("answer", ""), "reference": r.extra.get("reference", ""),
                            "auto_feedback": r.output})
                rows += 1
    return rows


def read_ta_scores(ta_csv: Path | str) -> list[dict]:
    """The rows of a filled-in TA sheet that carry a TA score, checked.

    Args:
        ta_csv: the CSV from ``export_free_text`` with ``ta_score`` filled in.

    Raises:
        WorksheetError: a missing column, or a score that is not a number in [0, max_score]
            (the row, student and question are named).
    """
    import pandas as pd

    df = pd.read_csv(ta_csv, dtype=str, keep_default_na=False)
    for col in ("student", "question", "max_score", "ta_score"):
        if col not in df.columns:
            raise WorksheetError(f"{ta_csv}: column {col!r} is missing; keep the columns written by the export.")
    out = []
    for i, row in df.iterrows():
        raw = row["ta_score"].strip()
        if not raw:
            continue
        where = f"{ta_csv} row {i + 2} ({row['student']}, {row['question']})"
        try:
            score, most = float(raw), float(row["max_score"].replace(",", ""))
        except ValueError as e:
            raise WorksheetError(f"{where}: ta_score {raw!r} is not a number; write e.g. 1.5 or leave it blank.") from e
        if not 0 <= score <= most:
            raise WorksheetError(f"{where}: ta_score {raw} is outside [0, {format_number(most)}]; the question is worth {format_number(most)}.")
        out.append({"student": row["student"], "test": f"worksheet/{row['question']}", "score": score,
                    "comment": row.get("ta_comment", "").strip()})
    return out


def merge_ta_scores(gradebook_csv: Path | str, ta_csv: Path | str, out_csv: Path | str | None = None):
    """Put TA scores into a gradebook: each filled ``ta_score`` replaces that student's
    ``worksheet/<id>`` column, and the total columns (``score``, ``total``) change by the same
    amount. Nothing else changes. Returns the new gradebook (a pandas DataFrame).

    The gradebook has one row per student; the student is the ``student`` column (or the first
    column), and each graded item is a column named after its test (``worksheet/q3.9``).

    Args:
        gradebook_csv: ``gradebook.csv`` from ``grade-all``.
        ta_csv: the TA sheet from ``export_free_text``, filled in.
        out_csv: where to write the merged gradebook; default: overwrite ``gradebook_csv``.

    Raises:
        WorksheetError: a student or question of the TA sheet missing from the gradebook.
    """
    import pandas as pd

    gb = pd.read_csv(gradebook_csv, dtype=str, keep_default_na=False)
    sid = "student" if "student" in gb.columns else gb.columns[0]
    totals = [c for c in gb.columns if c.lower() in ("score", "total")]
    index = {s: i for i, s in enumerate(gb[sid])}
    for row in read_ta_scores(ta_csv):
        if row["student"] not in index:
            raise WorksheetError(f"{ta_csv}: student {row['student']!r} is not in {gradebook_csv}; check the name.")
        if row["test"] not in gb.columns:
            raise WorksheetError(f"{ta_csv}: {row['test']} is not a column of {gradebook_csv}; was the worksheet graded?")
        i = index[row["student"]]
        old = float(gb.at[i, row["test"]] or 0)
        gb.at[i, row["test"]] = format_number(row["score"])
        for col in totals:
            gb.at[i, col] = format_number(round(float(gb.at[i, col] or 0) - old + row["score"], 6))
    gb.to_csv(out_csv or gradebook_csv, index=False)
    return gb


def merge_ta_scores_into_results(results_dir: Path | str, ta_csv: Path | str) -> int:
    """Put TA scores into ``grade-all``'s per-student results files (``DIR/<student>.json``): the
    ``worksheet/<id>`` test's score and status change, the TA's comment is appended to its output,
    and the total is recomputed. Returns the number of tests changed.

    Args:
        results_dir: the folder of results JSON files.
        ta_csv: the filled-in TA sheet.
    """
    changed, by_student = 0, {}
    for row in read_ta_scores(ta_csv):
        by_student.setdefault(row["student"], []).append(row)
    for student, rows in by_student.items():
        path = Path(results_dir) / f"{student}.json"
        if not path.is_file():
            raise WorksheetError(f"{ta_csv}: no results file {path} for student {student!r}.")
        data = json.loads(path.read_text())
        tests = {t["name"]: t for t in data["tests"]}
        for row in rows:
            t = tests.get(row["test"])
            if t is None:
                raise WorksheetError(f"{path}: has no test {row['test']}; was the worksheet graded?")
            t["score"] = row["score"]
            t["status"] = "passed" if row["score"] >= t["max_score"] else "failed"
            t["output"] = (t.get("output", "") + f"\nTA: {format_number(row['score'])}/{format_number(t['max_score'])}"
                           + (f", {row['comment']}" if row["comment"] else "")).strip()
            changed += 1
        data["score"] = round(sum(float(t["score"]) for t in data["tests"]), 6)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, path)
    return changed


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def _rubric_arg(path: str | None) -> dict | None:
    return load_rubric(path) if path else None


def _cmd_worksheet(args: argparse.Namespace) -> int:
    try:
        results = grade_worksheet(args.file, args.staff, _rubric_arg(args.rubric))
    except WorksheetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(results, show_key=args.show_key))
    if args.json:
        from autograder.results import write_results

        write_results(args.json, results)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    try:
        n = export_free_text([Path(p) for p in args.submissions], args.out, args.staff, _rubric_arg(args.rubric))
    except WorksheetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {n} free-text answers to {args.out}; fill in ta_score (blank keeps the automatic score)")
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    if not args.gradebook and not args.results_dir:
        print("error: give --gradebook gradebook.csv and/or --results-dir DIR to merge into", file=sys.stderr)
        return 2
    try:
        if args.gradebook:
            merge_ta_scores(args.gradebook, args.ta_csv, args.out)
            print(f"merged TA scores into {args.out or args.gradebook}")
        if args.results_dir:
            n = merge_ta_scores_into_results(args.results_dir, args.ta_csv)
            print(f"updated {n} tests in {args.results_dir}")
    except WorksheetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def register(subparsers) -> None:
    """Add ``worksheet``, ``worksheet-export`` and ``worksheet-merge`` to the autograder CLI.

    Args:
        subparsers: from ``argparse.ArgumentParser.add_subparsers``.
    """
    p = subparsers.add_parser("worksheet", help="grade a WORKSHEET.md alone; prints a per-question table")
    p.add_argument("file", help="a WORKSHEET.md, a submission folder or a .zip")
    p.add_argument("--staff", default=None, help="staff WORKSHEET.md with solutions (default: this repository's)")
    p.add_argument("--rubric", default=None, help="rubric YAML (default: autograder/staff/worksheet.yaml)")
    p.add_argument("--show-key", action="store_true", help="add the expected answers to the table (staff only)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the results in Gradescope's schema")
    p.set_defaults(func=_cmd_worksheet)

    e = subparsers.add_parser("worksheet-export", help="free-text answers of many submissions to a CSV for TAs")
    e.add_argument("submissions", nargs="+", help="submission folders, .zip files or WORKSHEET.md files")
    e.add_argument("--out", required=True, help="the CSV to write")
    e.add_argument("--staff", default=None)
    e.add_argument("--rubric", default=None)
    e.set_defaults(func=_cmd_export)

    m = subparsers.add_parser("worksheet-merge", help="merge a filled-in TA CSV back into the gradebook / results")
    m.add_argument("ta_csv", help="the CSV from worksheet-export with ta_score filled in")
    m.add_argument("--gradebook", default=None, help="gradebook.csv from grade-all")
    m.add_argument("--out", default=None, help="where to write the merged gradebook (default: overwrite it)")
    m.add_argument("--results-dir", default=None, help="grade-all's folder of <student>.json files, updated in place")
    m.set_defaults(func=_cmd_merge)
