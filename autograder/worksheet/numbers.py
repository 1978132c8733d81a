"""Read a number answer ("57.8M", "5.78e7", "231 MB") and grade it against the key."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.worksheet.common import MAX_GRADED_CHARS, Grade, excerpt, normalise, format_number

if TYPE_CHECKING:
    from autograder.worksheet.key import Question
    from autograder.worksheet.markers import Answer

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



def find_numbers(text: str, unit: str | None = None) -> list[ParsedNumber]:
    """All numbers in ``text`` with their multipliers ("57.8M", "1.2 billion", "5.78e7",
    "5.78 x 10^7", "231 MB" when ``unit == "bytes"``); identifiers such as ViT-B/16 or
    ResNet18 are skipped.

    Args:
        text: an answer.
        unit: ``bytes`` to read KB/MB/GB/KiB/... as byte counts; None otherwise.
    """
    out = []
    text = normalise(text)
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
    outside = find_numbers(re.sub(r"\([^()]*\)", " ", normalise(text)), unit)
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



def _close(value: float, expected: float, spec: dict) -> bool:
    rel, abs_tol = float(spec.get("rel_tol", 0.0)), float(spec.get("abs_tol", 0.0))
    if not rel and not abs_tol:
        rel = 1e-6
    return math.isclose(value, expected, rel_tol=rel, abs_tol=abs_tol)


def grade_number(q: Question, ans: Answer, worksheet_dir: Path | None = None, root: Path | None = None) -> Grade:
    """A number answer: right when the number read is within the rubric's tolerance or range."""
    spec, unit = q.spec, q.spec.get("unit")
    num, note = read_number(ans.text[:MAX_GRADED_CHARS], unit)
    if num is None:
        example = "231 MB or 2.31e8" if unit == "bytes" else "12.3M, 12,345,678 or 1.2e7"
        msg = f"could not read a number from {excerpt(ans.text)!r}; write e.g. {example}"
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

