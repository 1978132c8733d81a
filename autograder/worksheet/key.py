"""The answer key: the staff worksheet's reference answers plus the staff-only rubric."""
from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from autograder.worksheet.choices import read_choice
from autograder.worksheet.common import KINDS, STAFF_RUBRIC, STAFF_WORKSHEET, WorksheetError
from autograder.worksheet.markers import parse_worksheet, reference_answers
from autograder.worksheet.numbers import read_number


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


# Parsed staff files, by what was parsed and the sha256 of the bytes read: every call reads the file
# again (cheap), so an edited rubric or worksheet is parsed afresh; what is unchanged is parsed once
# per process (grade-all grades a class with one parse, warmed in ``grade._preload``).
_PARSED: dict[tuple, object] = {}
_PARSED_MAX = 16  # a few versions of a few files; the oldest entry goes first


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _text(raw: bytes) -> str:
    """UTF-8 text with universal newlines, as ``Path.read_text(encoding="utf-8")`` reads it."""
    return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _remember(key: tuple, value: object) -> None:
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.pop(next(iter(_PARSED)))
    _PARSED[key] = value


def load_rubric(path: Path | str = STAFF_RUBRIC) -> dict:
    """Read and check the staff rubric.

    The parse is kept per file content (the file is read on every call, so an edited rubric is
    parsed again); each call returns its own copy, which the caller may change.

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
    return copy.deepcopy(_parsed_rubric(path, path.read_bytes()))


def _parsed_rubric(path: Path, raw: bytes) -> dict:
    """The checked rubric of ``raw`` (the bytes of ``path``), parsed once per content. Not to be changed."""
    key = ("rubric", _digest(raw))  # by content alone: the path only names the file in messages
    if key not in _PARSED:
        data = yaml.safe_load(_text(raw)) or {}
        _remember(key, check_rubric(data, str(path)))
    return _PARSED[key]


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
            for p in pats + list(spec.get("wrong") or []):
                try:
                    re.compile(p["re"])
                    if p.get("subject") is not None:
                        re.compile(p["subject"])
                except (KeyError, TypeError, re.error) as e:
                    raise WorksheetError(f"{where}: bad pattern {p!r} ({e}); give 're' (and 'subject') as valid "
                                         f"regular expressions.") from e
            if not isinstance(spec.get("final_when_confident", False), bool):
                raise WorksheetError(f"{where}: 'final_when_confident' must be true or false, got "
                                     f"{spec['final_when_confident']!r}.")
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

    With the default rubric, the key is kept per content of the two files (both are read on every
    call, so an edited worksheet or rubric is read afresh); each call returns its own copy of the
    questions, which the caller may change.

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
    raw = path.read_bytes()
    if rubric is not None:
        return _build_key(_text(raw), check_rubric(rubric))
    rubric_path = Path(STAFF_RUBRIC)
    if not rubric_path.is_file():
        load_rubric(rubric_path)  # raises its message
    rubric_raw = rubric_path.read_bytes()
    key = ("key", _digest(raw), _digest(rubric_raw))
    if key not in _PARSED:
        _remember(key, _build_key(_text(raw), _parsed_rubric(rubric_path, rubric_raw)))
    questions, staff_text = _PARSED[key]
    return copy.deepcopy(questions), staff_text


def _build_key(staff_text: str, rubric: dict) -> tuple[dict[str, Question], str]:
    """``load_key``'s work on the staff worksheet's text and a checked rubric."""
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



def preload_key(staff_worksheet: Path | str | None = None) -> bool:
    """Parse the answer key (and the staff worksheet as ``parse_worksheet``'s template) now, so that
    every student of a class (``grade._preload``; forked workers inherit it) finds them parsed.

    Never raises: a key that cannot be read is reported by each student's worksheet step.

    Args:
        staff_worksheet: the staff ``WORKSHEET.md`` (default: the repository's).

    Returns:
        whether the key was parsed.
    """
    try:
        _, staff_text = load_key(staff_worksheet)
        parse_worksheet("", template=staff_text)
    except Exception:  # noqa: BLE001 - left to the worksheet step, which says what is wrong
        return False
    return True
