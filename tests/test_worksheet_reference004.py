"""The original course's filled-in worksheet (shared/reference/004), moved into ours answer by
answer (tests/fixtures/worksheet_004), graded as a fair TA would sign: each answered question's
verdict, and which of them a TA must review."""
from __future__ import annotations

from pathlib import Path

import pytest

from autograder import worksheet as ws
from tests.worksheet_fixtures import by_name

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)

FIXTURE = Path(__file__).parent / "fixtures" / "worksheet_004" / "WORKSHEET.md"

# question -> (score, verdict): "final", "review" (a suggested score) or "TA grades" (free text)
EXPECTED = {
    "q0.1": (0, "review"),   # says what nn.Module holds, nothing on F.conv2d; "functions ... manage parameters"
    "q0.2": (1, "review"),   # "collection of sample points" is not matched as "one example by index"
    "q0.3": (1, "review"),   # no graph; the gain (memory, speed) is not said
    "q1.1": (1, "review"),   # config yes; the original course had no registry
    "q1.2": (1, "review"),
    "q1.3": (1, "review"),
    "q1.7": (3, "TA grades"),
    "q1.8": (0, "final"),    # the image was not handed in with the worksheet
    "q2.1": (2, "review"),  # short answer: a suggestion the TA confirms
    "q2.3": (2, "TA grades"),
    "q2.8": (0, "final"),
    "q3.1": (2, "review"),  # short answer: a suggestion the TA confirms
    "q3.2": (1, "final"),    # "... This implementation has 99.28K parameters."
    "q3.4": (2, "final"),    # "AlexNet has 57.82324M parameters while LeNet has 99.28K."
    "q3.9": (0, "TA grades"),
    "q4.1": (2, "TA grades"),
    "q5.1": (3, "TA grades"),
    "q5.2": (1, "final"),
    "q6.3": (2, "TA grades"),
    "q7.6": (1, "final"),
    "q8.3": (5, "TA grades"),
}


def _verdict(r) -> str:
    if r.extra["kind"] == "free":
        return "TA grades"
    return "review" if r.extra["review"] else "final"


@pytest.fixture(scope="module")
def graded():
    return by_name(ws.grade_worksheet(FIXTURE))


@pytest.mark.parametrize("qid", sorted(EXPECTED))
def test_each_transferred_answer_gets_the_expected_verdict(graded, qid):
    r = graded[f"worksheet/{qid}"]
    assert (r.score, _verdict(r)) == EXPECTED[qid], (qid, r.output, r.extra["review"])


def test_no_short_answer_is_final_below_full_marks(graded):
    for r in graded.values():
        if not ws.is_key_entry(r.name) and r.extra["kind"] == "short" and r.extra["answer"]:
            assert r.score == r.max_score or r.extra["review"], r.name


def test_the_fenced_main_outline_is_kept_for_the_ta(graded):
    answer = graded["worksheet/q1.7"].extra["answer"]
    assert answer.startswith("* Builds the loader specified by the config") and "```" not in answer
    assert "Evaluate the model on the test DataLoader" in answer
