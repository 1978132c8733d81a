"""Read a number answer as a person reads it, and grade it against the key.

Reading. An answer is cut into *quantities*: a number with its multiplier and unit ("12.3M",
"1.23×10⁷", "0.45 gigabytes", "12,3M", "12.345.678"), or a piece of arithmetic ("3 × 41²",
"(96 / 8)^2 + 1", "4 x 86.2 MB") evaluated by :mod:`autograder.worksheet.arithmetic` (never
``eval``). Byte units are converted with pint. ``a = b = c`` gives each side as a quantity. A
product of whole numbers such as "31 × 31 × 8" is a shape: it states its product and the side its
repeated dimension gives (31). A number after ``±`` is an uncertainty, a number followed by
"times more/larger/..." is a ratio, and numbers in a parenthesised remark ("(not 13)") are asides.

The rule (what WORKSHEET.md's "How to answer" tells students):

1. The answer is right when one of its quantities is the expected value (within the rubric's
   tolerance), and nothing after it offers a different value *of the same size* (within a factor
   of ``ALTERNATIVE_FACTOR`` of the key). Working before the result, comparisons with other sizes
   (a small model's 45.6K next to a large one's 12.3M), ratios ("270 times more") and uncertainties are fine.
2. A list of guesses is wrong even when it contains the key: a value of the same size joined to
   the right one by "or", "/", "," and the like.
3. When a later value of the same size follows the right one without being a guess ("12.3M;
   the other model has 3.4M"), or a number is right only when "1,234" is read with a decimal comma,
   the verdict is a suggestion and a TA reviews the answer. ("12,3M" and "0,4567" are decimal
   commas and "12.345.678" uses thousands dots: they read as meant.)
4. A number that cannot be represented ("1e400") makes that answer unreadable, nothing else.
"""
from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.worksheet.arithmetic import ArithmeticRefused, evaluate
from autograder.worksheet.common import COMMENT_RE, MAX_GRADED_CHARS, Grade, excerpt, format_number

if TYPE_CHECKING:
    from autograder.worksheet.key import Question
    from autograder.worksheet.markers import Answer

ALTERNATIVE_FACTOR = 10.0  # a later value within this factor of the key competes with the right one
# Spelling examples in feedback: numbers that answer no question of the worksheet (a test checks it).
EXAMPLE_BYTES = "345 MB or 3.45e8"
EXAMPLE_NUMBER = "12.3M, 12,345,678 or 1.23e7"

_MULT = {
    "k": 1e3, "thousand": 1e3, "thousands": 1e3,
    "m": 1e6, "mil": 1e6, "mio": 1e6, "mln": 1e6, "million": 1e6, "millions": 1e6,
    "b": 1e9, "bn": 1e9, "g": 1e9, "billion": 1e9, "billions": 1e9,
    "t": 1e12, "trillion": 1e12,
}
# byte units students write, in any case, mapped to the spelling pint knows
_BYTE_SYMBOLS = {"b": "B", "byte": "byte", "bytes": "byte", "kb": "kB", "mb": "MB", "gb": "GB", "tb": "TB",
                 "kib": "KiB", "mib": "MiB", "gib": "GiB", "tib": "TiB"}
_BYTE_WORD_RE = re.compile(r"^(kilo|mega|giga|tera|kibi|mebi|gibi|tebi)?bytes?$", re.IGNORECASE)
# words that may follow a number without changing it
_UNIT_WORDS = {"params", "param", "parameters", "parameter", "weights", "tokens", "token", "patches", "patch",
               "flops", "flop", "macs", "mac", "images", "imgs", "img", "steps", "step", "epochs",
               "epoch", "entries", "elements", "floats", "pixels", "px", "classes", "heads", "head",
               "channels", "channel", "percent", "pct", "days", "gpus", "tpu", "layers", "rows", "values",
               "total", "approx", "approximately", "about", "in", "each", "per"}
_COMPARATIVES = {"more", "larger", "bigger", "fewer", "smaller", "less", "greater", "higher", "lower", "as",
                 "faster", "slower", "the", "that", "than", "bigger", "over"}
_GUESS_GLUE = re.compile(r"^(?:[\s,;/|]|\bor\b|\bmaybe\b|\bperhaps\b|\bpossibly\b|\beither\b|\?)*$", re.IGNORECASE)
_FUNCS = {"floor", "ceil", "sqrt", "round", "log2"}
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")

_TOKEN_RE = re.compile(
    r"(?P<num>"
    r"\d{1,3}(?:\.\d{3}){2,}(?:,\d+)?(?![\d.])"          # 12.345.678 (dot thousands, maybe a decimal comma)
    r"|\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])"            # 12,345,678 and 1,234 (ambiguous)
    r"|\d+,(?:\d{1,2}|\d{4,})(?![\d,])"                  # 12,3 and 0,4567 (decimal comma)
    r"|\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\d.,])"        # 12 345 678
    r"|\d+(?:\.\d+)?|\.\d+"
    r")(?P<exp>[eE][-+]?\d+)?"
    r"|(?P<op>//|\*\*|[-+*/^%()])"
    r"|(?P<eq>=>|->|→|=|≈)"
    r"|(?P<pm>±|\+/-)"
    r"|(?P<word>[A-Za-zµ_]+%?|%)"
    r"|(?P<sep>[^\s\w])"
)


@dataclass
class ParsedNumber:
    """A quantity read from an answer.

    Args:
        value: the value in the question's unit (bytes when the rubric says ``unit: bytes``).
        bare: no multiplier or unit was written (the rubric's ``bare_scale`` may apply).
        text: the text it was read from.
        start, end: character offsets in the normalised answer.
        aside: inside a parenthesised remark.
        ratio: a "N times more" ratio: it may be the answer, never an alternative to it.
        alt: another reading of an ambiguous spelling ("1,234" -> 1.234), or None.
        sides: for a shape ("31 x 31 x 8"), the repeated dimensions it also states.
        shape_id: quantities of one shape share it (they never compete with each other).
        error: why the value could not be read ("1e400"), else empty.
    """

    value: float
    bare: bool
    text: str
    start: int = 0
    end: int = 0
    aside: bool = False
    ratio: bool = False
    alt: float | None = None
    sides: list[float] = field(default_factory=list)
    error: str = ""


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _units():
    import pint

    return pint.UnitRegistry()


def byte_factor(word: str) -> float | None:
    """Bytes per unit for a byte unit ("MB", "mib", "gigabytes"), via pint; None for other words.

    Args:
        word: the unit as written.
    """
    spelling = _BYTE_SYMBOLS.get(word.lower())
    if spelling is None and _BYTE_WORD_RE.match(word):
        spelling = word.lower()
    if spelling is None:
        return None
    return float(_units().Quantity(1, spelling).to("byte").magnitude)


def _prepare(text: str) -> str:
    """Answer text with arithmetic spelt the Python way and Markdown/LaTeX decoration removed."""
    text = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+", lambda m: "^" + m.group(0).translate(_SUPERSCRIPT), text)
    text = unicodedata.normalize("NFKC", text)
    text = COMMENT_RE.sub(" ", text)
    text = re.sub(r"\\(?:times|cdot)", "*", text)
    text = re.sub(r"\\(?:approx|sim)", "≈", text)
    text = re.sub(r"\\[,!;: ]", "", text)
    text = text.replace("{", "(").replace("}", ")")
    text = text.translate(str.maketrans({"×": "*", "·": "*", "∙": "*", "⋅": "*", "÷": "/", "−": "-", "–": "-",
                                         "~": " ", "`": " ", "$": " ", "’": "'"}))
    text = re.sub(r"(?<=[\d)])\s*\*\*\s*(?=[\d(+-])", "^", text)   # 10**7 -> 10^7 (not **bold**)
    text = re.sub(r"(?<=[\d)])\s*\*\s*(?=[\d(.])", " \x00 ", text)   # 3*41: multiplication
    text = text.replace("*", " ").replace("\x00", "*")  # the other stars are emphasis
    return text


def _number_value(raw: str, exp: str | None) -> tuple[float, float | None]:
    """(value, another reading or None) of a number token; raises OverflowError/ValueError."""
    alt = None
    if re.fullmatch(r"\d{1,3}(?:\.\d{3}){2,}(?:,\d+)?", raw):        # 12.345.678(,5)
        s = raw.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"\d+,(?:\d{1,2}|\d{4,})|0,\d+", raw):         # 12,3 or 0,4567 or 0,345
        s = raw.replace(",", ".")
    elif re.fullmatch(r"\d{1,3},\d{3}", raw):                         # 1,234: thousands or decimal?
        s = raw.replace(",", "")
        alt = float(raw.replace(",", "."))
    else:
        s = re.sub(r"[,\s\u00a0\u202f]", "", raw)
    if exp:
        e = int(exp[1:])
        if abs(e) > 300:
            raise OverflowError(f"exponent {e}")
        s += exp
        alt = None if alt is None else alt * 10.0 ** e
    value = float(s)
    if not math.isfinite(value):
        raise OverflowError(raw)
    return value, alt


@dataclass
class _Term:
    source: str  # Python-syntax text for the evaluator
    value: float
    bare: bool
    start: int
    end: int
    alt: float | None = None
    error: str = ""

    def scale(self, factor: float, end: int) -> None:
        """Apply a multiplier or unit written after the number ("12.3M", "345 MB")."""
        self.source = f"({self.source}*{factor!r})" if not self.error else "0"
        self.value, self.bare, self.end = self.value * factor, False, end
        self.alt = None if self.alt is None else self.alt * factor


def _term(tok: str, exp: str | None, start: int, end: int) -> _Term:
    raw = tok[: len(tok) - len(exp)] if exp else tok
    try:
        value, alt = _number_value(raw, exp)
    except (OverflowError, ValueError):
        return _Term("0", math.nan, True, start, end, None, f"{tok[:20]}{'...' if len(tok) > 20 else ''} is too large to read")
    return _Term(repr(value), value, True, start, end, alt)


def _scale_word(word: str, unit: str | None) -> float | None:
    """The factor a word right after a number applies (multiplier or byte unit), or None."""
    lw = word.lower()
    if unit == "bytes":
        f = byte_factor(word)
        if f is not None:
            return f
    if lw in _MULT:
        return _MULT[lw]
    if len(lw) > 1 and lw[0] in "kmgbt" and lw[1:] in _UNIT_WORDS:  # GFLOPs, Mparams
        return _MULT[lw[0]]
    return None


def _asides(text: str) -> list[tuple[int, int]]:
    """Spans of parenthesised remarks: innermost (...) holding a word that is not arithmetic."""
    spans = []
    for m in re.finditer(r"\(([^()]*)\)", text):
        words = [w for w in re.findall(r"[A-Za-z]{2,}", m.group(1))
                 if w.lower() not in _MULT and w.lower() not in _FUNCS and byte_factor(w) is None]
        if words:
            spans.append((m.start(), m.end()))
    return spans


def find_numbers(text: str, unit: str | None = None) -> list[ParsedNumber]:
    """Every quantity of an answer, in order (see the module docstring for what counts).

    Identifiers such as ViT-B/16, ResNet18 or q3.4 are skipped, and so are digits glued to an
    unknown word ("5th").

    Args:
        text: an answer.
        unit: ``bytes`` to read KB/MB/GB/KiB/gigabytes/... as byte counts (with pint); None otherwise.
    """
    return _find(_prepare(text), unit)


def _find(text: str, unit: str | None) -> list[ParsedNumber]:
    """``find_numbers`` on text already passed through ``_prepare`` (offsets refer to it)."""
    return _Reader(text, unit).read()


class _Reader:
    """One pass over an answer's tokens, collecting runs of arithmetic into quantities.

    A run is a list of pieces (``_Term`` or operator strings, Python syntax); it ends at anything
    that cannot continue arithmetic (a word, a comma, ``=``) and becomes one ``ParsedNumber``.
    """

    def __init__(self, text: str, unit: str | None) -> None:
        self.text, self.unit = text, unit
        self.asides = _asides(text)
        self.tokens = [(next(k for k in ("num", "op", "eq", "pm", "word", "sep") if m.group(k) is not None),
                        m.group(0), m.start(), m.end(), m.group("exp")) for m in _TOKEN_RE.finditer(text)]
        self.out: list[ParsedNumber] = []
        self.run: list = []
        self.depth = 0

    def read(self) -> list[ParsedNumber]:
        i = 0
        while i < len(self.tokens):
            kind, tok = self.tokens[i][:2]
            nxt = self.tokens[i + 1] if i + 1 < len(self.tokens) else None
            if kind == "num":
                i = self._number(i)
                continue
            if kind == "op":
                self._operator(tok)
            elif kind == "word" and tok.lower() in _FUNCS and nxt and nxt[1] == "(" and self._expects_operand():
                self.run.append(tok.lower())
            elif kind == "pm":
                self._flush()
                i = self._skip_uncertainty(i + 1)
                continue
            else:
                self._flush()
            i += 1
        self._flush()
        return self.out

    def _expects_operand(self) -> bool:
        return not self.run or (isinstance(self.run[-1], str) and self.run[-1] != ")")

    def _flush(self) -> None:
        run = self.run
        while run and isinstance(run[-1], str) and run[-1] != ")":
            run.pop()  # a dangling operator
        opened = run.count("(") - run.count(")")
        run += [")"] * max(opened, 0)  # close what the student left open
        terms = [p for p in run if isinstance(p, _Term)]
        if terms:
            aside = any(a <= terms[0].start < b for a, b in self.asides)
            self.out.append(_quantity(run, terms, self.text, aside))
        self.run, self.depth = [], 0

    def _operator(self, tok: str) -> None:
        if tok == "(" and self._expects_operand():
            self.run.append("(")
            self.depth += 1
        elif tok == ")" and self.depth > 0 and not self._expects_operand():
            self.run.append(")")
            self.depth -= 1
        elif tok in ("+", "-") and self._expects_operand():
            self.run.append(tok)  # a sign
        elif tok not in "()" and not self._expects_operand():
            self.run.append("**" if tok in ("^", "**") else tok)
        else:
            self._flush()

    def _is_identifier(self, start: int) -> bool:
        """Digits that belong to a name: ResNet18, ViT-B/16, q3.4 (but 3x3 is arithmetic)."""
        prev = self.text[start - 1] if start else " "
        prev2 = self.text[start - 2] if start > 1 else " "
        times_glue = prev in "xX" and prev2.isdigit()
        return (prev.isalpha() and not times_glue) or prev == "_" or (prev in "-/." and prev2.isalpha())

    def _is_unit_word(self, j: int) -> bool:
        return j < len(self.tokens) and self.tokens[j][0] == "word" and (
            self.tokens[j][1].lower() in _UNIT_WORDS or self.tokens[j][1] == "%")

    def _number(self, i: int) -> int:
        """Read the number at token ``i`` with its multiplier/unit; return the next token's index."""
        _, tok, start, end, exp = self.tokens[i]
        if self._is_identifier(start):
            self._flush()
            i += 1
            while i < len(self.tokens) and self.tokens[i][0] == "word" and self.tokens[i][2] == self.tokens[i - 1][3]:
                i += 1  # the rest of the identifier
            return i
        term = _term(tok, exp, start, end)
        j = i + 1
        nxt = self.tokens[j] if j < len(self.tokens) else None
        if nxt and nxt[0] == "word":
            factor = _scale_word(nxt[1], self.unit)
            if factor is not None:
                term.scale(factor, nxt[3])
                j += 1
            elif nxt[2] == end and nxt[1].lower() not in ("x", "e") and not self._is_unit_word(j):
                return j + 1  # 5th, 2nd: digits glued to a word are not a quantity
        while self._is_unit_word(j):
            j += 1
        if not self._expects_operand():
            self._flush()
        self.run.append(term)
        return self._times(j)

    def _times(self, j: int) -> int:
        """After a term: "x"/"times" before a number multiplies; before anything else it makes a
        ratio ("270 times more", "2.5x")."""
        if not (j < len(self.tokens) and self.tokens[j][0] == "word" and self.tokens[j][1].lower() in ("x", "times")):
            return j
        after = self.tokens[j + 1] if j + 1 < len(self.tokens) else None
        if after is not None and (after[0] == "num" or after[1] == "("):
            self.run.append("*")
            return j + 1
        if after is None or after[0] != "word" or after[1].lower() in _COMPARATIVES:
            single = sum(isinstance(p, _Term) for p in self.run) == 1
            self._flush()
            if single:
                self.out[-1].ratio = True
            return j + 1
        return j

    def _skip_uncertainty(self, i: int) -> int:
        """Skip the number (and unit) after ``±``: an uncertainty, not an answer."""
        while i < len(self.tokens) and self.tokens[i][0] in ("num", "word") and (
                self.tokens[i][0] == "num" or _scale_word(self.tokens[i][1], self.unit) or self.tokens[i][1] == "%"):
            i += 1
        return i


def _quantity(run: list, terms: list[_Term], text: str, aside: bool) -> ParsedNumber:
    start, end = terms[0].start, terms[-1].end
    source_text = text[start:end].strip()
    errors = [t.error for t in terms if t.error]
    if errors:
        return ParsedNumber(math.nan, True, source_text, start, end, aside, error=errors[0])
    if len(terms) == 1 and len(run) == 1:
        t = terms[0]
        return ParsedNumber(t.value, t.bare, source_text, start, end, aside, alt=t.alt)
    src = "".join(p.source if isinstance(p, _Term) else f" {p} " for p in run)
    try:
        value = evaluate(src)
    except ArithmeticRefused as e:
        return ParsedNumber(math.nan, True, source_text, start, end, aside, error=f"could not evaluate {source_text!r} ({e})")
    bare = all(t.bare for t in terms)
    sides: list[float] = []
    ops = [p for p in run if isinstance(p, str)]
    if ops and set(ops) == {"*"} and len(terms) >= 2 and all(t.value == int(t.value) for t in terms):
        dims = [t.value for t in terms]
        sides = sorted({a for a, b in zip(dims, dims[1:]) if a == b})  # 31 x 31 x 8: side 31
    return ParsedNumber(value, bare, source_text, start, end, aside, sides=sides)


def _answer_line(text: str) -> str:
    m = re.search(r"(?im)^\W*(?:final\s+)?answer\s*[:=]\s*(.+)$", text)
    return m.group(1) if m else text


def read_number(text: str, unit: str | None = None) -> tuple[ParsedNumber | None, str]:
    """The number an answer ends with (its result) and a note when it holds several.

    An ``Answer: ...`` line is used when present; numbers in parenthesised remarks count only
    when there are no others. This is how the key's value is read from a reference answer; a
    student's answer is judged by ``judge_number``.

    Args:
        text: an answer.
        unit: see ``find_numbers``.
    """
    nums = [n for n in find_numbers(_answer_line(text), unit) if not n.error]
    outside = [n for n in nums if not n.aside]
    nums = outside or nums
    if not nums:
        return None, ""
    note = ""
    if len({round(n.value, 9) for n in nums}) > 1:
        note = (f"found {len(nums)} numbers ({', '.join(n.text for n in nums[:5])}); the last one is "
                f"{nums[-1].text!r}")
    return nums[-1], note


# ---------------------------------------------------------------------------------------------
# Judging
# ---------------------------------------------------------------------------------------------
@dataclass
class NumberVerdict:
    """How a number answer compares with the key.

    Args:
        right: the answer states the key by the rule.
        review: why a TA must decide (the verdict is then a suggestion), else empty.
        read: the quantity that decided, if any.
        note: what the student is told besides right/wrong.
    """

    right: bool
    review: str
    read: ParsedNumber | None
    note: str = ""


def _candidates(n: ParsedNumber, spec: dict, value: float | None = None) -> list[float]:
    v = n.value if value is None else value
    out = [v] + list(n.sides)
    if n.bare:
        out += [c * float(s) for c in list(out) for s in spec.get("bare_scale", [])]
    return out


def _matches(c: float, spec: dict, expected: float | None) -> bool:
    if "range" in spec:
        lo, hi = (float(v) for v in spec["range"])
        return lo <= c <= hi
    rel, abs_tol = float(spec.get("rel_tol", 0.0)), float(spec.get("abs_tol", 0.0))
    if not rel and not abs_tol:
        rel = 1e-6
    return math.isclose(c, float(expected), rel_tol=rel, abs_tol=abs_tol)


def _same_size(c: float, spec: dict, expected: float | None) -> bool:
    """Could ``c`` be offered as the answer (within ALTERNATIVE_FACTOR of the key)?"""
    lo, hi = (float(v) for v in spec["range"]) if "range" in spec else (float(expected), float(expected))
    if lo <= 0 <= hi or c == 0:
        return abs(c) <= max(abs(lo), abs(hi), 1.0) * ALTERNATIVE_FACTOR
    lo, hi = min(abs(lo), abs(hi)), max(abs(lo), abs(hi))
    return lo / ALTERNATIVE_FACTOR <= abs(c) <= hi * ALTERNATIVE_FACTOR


def _judge(nums: list[ParsedNumber], text: str, spec: dict, expected: float | None,
           use_alt: bool = False) -> NumberVerdict:
    def value(n: ParsedNumber) -> float:
        return n.alt if use_alt and n.alt is not None else n.value

    hits = [n for n in nums if any(_matches(c, spec, expected) for c in _candidates(n, spec, value(n)))]
    if not hits:
        return NumberVerdict(False, "", nums[-1] if nums else None)
    others = [n for n in nums if n not in hits and not n.ratio
              and any(_same_size(c, spec, expected) for c in _candidates(n, spec, value(n)))]
    # the student's feedback lists every value of that size, never saying which one matched
    offered = ", ".join(repr(n.text) for n in sorted(hits + others, key=lambda n: n.start)[:5])
    for o in others:
        for h in hits:
            a, b = (o, h) if o.end <= h.start else (h, o)
            if _GUESS_GLUE.match(text[a.end:b.start]):
                return NumberVerdict(False, "", nums[-1], f"several values are offered as alternatives ({offered}); give one answer")
    last_hit = hits[-1]
    later = [o for o in others if o.start >= last_hit.end]
    if later:
        return NumberVerdict(nums[-1] in hits, f"{later[0].text!r} follows the expected value {last_hit.text!r}; "
                                               f"which one is the answer?",
                             nums[-1], f"the answer gives several values of the same size ({offered})")
    return NumberVerdict(True, "", last_hit)


def judge_number(text: str, spec: dict, expected: float | None, unit: str | None = None) -> NumberVerdict:
    """Apply the rule of the module docstring to one answer.

    Args:
        text: the answer.
        spec: the rubric entry (``rel_tol``/``abs_tol`` or ``range``, ``bare_scale``).
        expected: the key's value (None with a ``range``).
        unit: see ``find_numbers``.
    """
    text = _prepare(_answer_line(text))
    nums = _find(text, unit)
    bad = [n for n in nums if n.error]
    nums = [n for n in nums if not n.error]
    outside = [n for n in nums if not n.aside]
    nums = outside or nums
    if not nums:
        return NumberVerdict(False, "", None, bad[0].error if bad else "")
    verdict = _judge(nums, text, spec, expected)
    if not verdict.right and any(n.alt is not None for n in nums):
        # "1,234" is read the English way (thousands); when only the decimal-comma reading is
        # right, the writer may have meant it: a TA decides.
        if _judge(nums, text, spec, expected, use_alt=True).right:
            amb = next(n for n in nums if n.alt is not None)
            return NumberVerdict(False, f"{amb.text!r} is right only when read with a decimal comma "
                                        f"({format_number(amb.alt)}, not {format_number(amb.value)})",
                                 verdict.read, f"{amb.text!r} is ambiguous; write thousands without a comma "
                                               f"(1234) or use a decimal point (1.234)")
    return verdict


def grade_number(q: Question, ans: Answer, worksheet_dir: Path | None = None, root: Path | None = None) -> Grade:
    """A number answer, judged by the rule of this module's docstring."""
    spec, unit = q.spec, q.spec.get("unit")
    v = judge_number(ans.text[:MAX_GRADED_CHARS], spec, q.expected, unit)
    if "range" in spec:
        lo, hi = (float(x) for x in spec["range"])
        key = f"accepted range [{format_number(lo)}, {format_number(hi)}]; reference {q.reference!r}"
    else:
        tol = f"rel_tol {spec['rel_tol']}" if spec.get("rel_tol") else f"abs_tol {spec.get('abs_tol', 0)}"
        key = f"expected {format_number(float(q.expected))} ({tol}); reference {q.reference!r}"
    if v.read is None:
        example = EXAMPLE_BYTES if unit == "bytes" else EXAMPLE_NUMBER
        why = f" ({v.note})" if v.note else ""
        msg = f"could not read a number from {excerpt(ans.text)!r}{why}; write e.g. {example}"
        return Grade(0.0, "unreadable", msg, key)
    shown = v.read.value  # when right: the reading the key accepted (a side of a product, a bare MB count)
    if v.right:
        shown = next((c for c in _candidates(v.read, spec) if _matches(c, spec, q.expected)), shown)
    read = f"read {v.read.text!r} as {format_number(shown)}"
    status = "correct" if v.right else "incorrect"
    visible = f"{status} ({read})" + (f"; {v.note}" if v.note else "")
    if v.review:
        visible += "; a TA reviews this answer"
    return Grade(q.points if v.right else 0.0, status, visible, key, v.read.value, review=v.review)
