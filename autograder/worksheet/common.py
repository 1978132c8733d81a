"""What every part of the worksheet grader shares: file locations, the error type, the outcome of
one question (``Grade``), and how numbers and answer text are shown and normalised."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from autograder.markers import REGIONS, TEXT_STUB

# nbgrader's solution delimiters, never spelt out here (the release scans every file for them)
SOL_BEGIN, SOL_END = REGIONS["solution"]

REPO = Path(__file__).resolve().parents[2]
STAFF_WORKSHEET = REPO / "WORKSHEET.md"
STAFF_RUBRIC = REPO / "autograder" / "staff" / "worksheet.yaml"
WORKSHEET_NAME = "WORKSHEET.md"
STUB = TEXT_STUB  # nbgrader's text stub (ClearSolutions.text_stub)
KINDS = ("number", "choice", "short", "free", "image")  # one grader each: grading.GRADERS
KEY_ENTRY = "worksheet/answer-key"  # one entry per worksheet part: worksheet/answer-key/part-3


def key_entry_name(qid: str) -> str:
    """The answer-key entry that holds question ``qid``'s key: one per part (``q3.4`` -> ``.../part-3``),
    so each entry's output stays under the per-test cap and the names are the same for every student."""
    return f"{KEY_ENTRY}/part-{qid.lstrip('q').split('.', 1)[0]}"


def is_key_entry(name: str) -> bool:
    """Whether a results entry is one of the 0-point answer-key entries (not a graded question)."""
    return name == KEY_ENTRY or name.startswith(KEY_ENTRY + "/")
MAX_GRADED_CHARS = 20_000  # longer answers are cut before pattern matching (keeps regexes fast)
from autograder.submission import IMAGE_SUFFIXES  # noqa: E402,F401  (the one list, shared with grade)

COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)


class WorksheetError(ValueError):
    """A bad worksheet, rubric or TA sheet; the message names the file, the item and the fix."""



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
        review: empty when the verdict is final; otherwise why a TA must look (``score`` is then
            only a suggestion). Reviewed answers go to the TA sheet with free text.
    """

    score: float
    status: str
    visible: str
    key: str
    value: object = None
    review: str = ""


def format_number(x: float) -> str:
    """A number as the feedback shows it: 12,345,678 for whole numbers, else 6 significant digits."""
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.6g}"



def excerpt(text: str, n: int = 60) -> str:
    """``text`` on one line, cut to ``n`` characters with "..." (for feedback)."""
    one = " ".join(text.split())
    return one if len(one) <= n else one[: n - 3] + "..."



def normalise(text: str) -> str:
    """Answer text made uniform for reading: NFKC, comments, Markdown emphasis and LaTeX spacing removed."""
    text = unicodedata.normalize("NFKC", text)
    text = COMMENT_RE.sub(" ", text)
    text = re.sub(r"(?<=\d)\s*\*\*\s*(?=[-+]?\d)", "^", text)  # 10**7 -> 10^7
    text = re.sub(r"(?<=\d)\s*\*\s*(?=10\s*\^)", " x ", text)  # 1.23*10^7 -> 1.23 x 10^7
    text = re.sub(r"[`*$]|\\,|\\!|\\approx|\\sim", " ", text)  # markdown emphasis, code, LaTeX
    return text.replace("−", "-").replace("≈", " ").replace("~", " ")

