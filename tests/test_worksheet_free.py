"""Free-text answers: the completeness check before a TA grades them."""
from __future__ import annotations

import pytest

from autograder import worksheet as ws
from tests.worksheet_fixtures import key  # noqa: F401 (fixtures)

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)


def test_free_text_completeness(key):
    q = key["q1.7"]
    short = ws.grade_answer(q, ws.Answer("q1.7", "main calls the others.", "markers"))
    assert short.score == 0 and short.status == "incomplete" and "at least" in short.visible
    long = ws.grade_answer(q, ws.Answer("q1.7", " ".join(["word"] * 60), "markers"))
    assert long.score == q.points and long.status == "complete" and "TA" in long.visible
