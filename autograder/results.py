"""Graded items and the Gradescope ``results.json`` schema (a contract, see DESIGN.md §6)."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


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
    return out


def write_results(path: str, tests: list[TestResult], output: str = "", extra: dict | None = None) -> dict:
    """Write ``results.json`` atomically and return the object written."""
    data = results_json(tests, output, extra)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)
    return data
