"""Graded items and the Gradescope ``results.json`` schema (a contract, see DESIGN.md §6).

Everything a student's code can put into the results (tracebacks, printed output, exception
messages) passes through here on its way out, so the bounds live here: every string is made valid
UTF-8, each test's ``output`` stays under ``TEST_OUTPUT_BYTES`` and the whole file under
``RESULTS_FILE_BYTES`` (Gradescope and PrairieLearn choke on results in the megabytes).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
TEST_OUTPUT_BYTES = 16 * 1024 - 512  # one test's output, JSON-encoded (under 16 KiB with the other keys)
RESULTS_FILE_BYTES = 1024 * 1024 - 16 * 1024  # the whole results file (under 1 MiB, with a margin)
_SURROGATE = re.compile("[\ud800-\udfff]")
_MIN_CAP = 256  # no string is cut below this many bytes when the file must shrink


def clean_text(text: Any) -> str:
    """``text`` as valid UTF-8: invalid bytes and lone surrogates become U+FFFD.

    Args:
        text: a ``str`` (possibly holding lone surrogates, e.g. from ``surrogateescape``), ``bytes``
            in any encoding, or anything else (then its ``str()``).
    """
    if isinstance(text, (bytes, bytearray)):
        return bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        text = str(text)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:  # lone surrogates have no UTF-8 form: each becomes one U+FFFD
        return _SURROGATE.sub("\ufffd", text)


def _json_len(text: str) -> int:
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8"))


def cap_text(text: Any, limit: int = TEST_OUTPUT_BYTES, what: str = "output") -> str:
    """``text`` made valid UTF-8 and cut to at most ``limit`` bytes once JSON-encoded.

    The head (two thirds) and the tail (one third) are kept around a line saying how much was cut,
    so both the start of a traceback and its last line (the exception) survive.

    Args:
        text: the text (see ``clean_text``).
        limit: the most bytes the JSON-encoded string may take (quotes and escapes included).
        what: what the text is, named in the cut line (e.g. ``traceback``).
    """
    text = clean_text(text)
    size = _json_len(text)
    if size <= limit:
        return text
    raw = text.encode("utf-8")
    budget = max(0, limit - 120) * len(raw) // size  # escapes make JSON longer than UTF-8
    while True:
        head = raw[: budget * 2 // 3].decode("utf-8", errors="ignore")
        tail = raw[len(raw) - budget // 3:].decode("utf-8", errors="ignore") if budget // 3 else ""
        cut = len(text) - len(head) - len(tail)
        out = f"{head}\n... [{cut:,} characters of this {what} cut: feedback is limited to {limit // 1024 or 1} KiB] ...\n{tail}"
        if _json_len(out) <= limit or budget == 0:
            return out
        budget = budget * 3 // 4


def _map_strings(value: Any, fn) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {(fn(k) if isinstance(k, str) else k): _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_map_strings(v, fn) for v in value]
    return value


def bound_results(data: dict, file_limit: int = RESULTS_FILE_BYTES, test_limit: int = TEST_OUTPUT_BYTES) -> dict:
    """``data`` (a results object) with every string valid UTF-8, each test's output under
    ``test_limit`` bytes and the whole JSON under ``file_limit`` bytes.

    When the capped tests still make the file too large, every output and message is cut further
    (the same limit for each, halved until the file fits).

    Args:
        data: ``results_json``'s object (``tests``, ``output``, ``extra_data`` ...).
        file_limit: the most bytes the JSON file may take.
        test_limit: the most bytes one test's ``output`` may take.
    """
    data = _map_strings(data, clean_text)
    for t in data.get("tests", []):
        t["output"] = cap_text(t.get("output") or "", test_limit)
    if isinstance(data.get("output"), str):
        data["output"] = cap_text(data["output"], test_limit)
    cap = test_limit
    while len(json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")) > file_limit and cap > _MIN_CAP:
        cap //= 2
        data = _map_strings(data, lambda s: cap_text(s, max(cap, _MIN_CAP)) if _json_len(s) > cap else s)
    return data


@dataclass
class TestResult:
    """One entry of ``results.json``'s ``tests`` list.

    Args:
        name: the item's name, e.g. ``vit/MultiHeadSelfAttention`` or ``worksheet/q4.1``.
        score: points earned.
        max_score: points available.
        output: feedback a student can act on.
        visibility: Gradescope visibility of the entry.
        status: ``passed`` or ``failed``; derived from the score when left empty.
    """

    __test__ = False  # not a pytest test class, despite the name

    name: str
    score: float
    max_score: float
    output: str = ""
    visibility: str = "visible"
    status: str = ""
    extra: dict = field(default_factory=dict)  # keys the grader keeps for itself (not in results.json)

    def __post_init__(self) -> None:
        assert self.visibility in VISIBILITIES, self.visibility
        self.output = cap_text(self.output or "")  # student-derived text: valid UTF-8, one test's share
        if not self.status:
            self.status = "passed" if self.score >= self.max_score else "failed"

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return d


def results_json(tests: list[TestResult], output: str = "", extra: dict | None = None) -> dict:
    """The whole results object: total score, the tests, an overall message."""
    out = {
        "score": round(sum(t.score for t in tests), 6),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [t.to_json() for t in tests],
    }
    if extra:
        out["extra_data"] = extra
    return bound_results(out)


def write_results(path: str, tests: list[TestResult], output: str = "", extra: dict | None = None) -> dict:
    """Write ``results.json`` atomically (UTF-8, bounded as ``bound_results`` says) and return the
    object written."""
    data = results_json(tests, output, extra)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
    os.replace(tmp, path)
    return data
