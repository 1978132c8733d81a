"""Choice answers: reading one option letter."""
from __future__ import annotations

import pytest

from autograder import worksheet as ws
from tests.worksheet_fixtures import key  # noqa: F401 (fixture)

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)


@pytest.mark.parametrize("text, letter", [("b", "b"), ("(b)", "b"), ("B)", "b"), ("**(B)**", "b"),
                                          ("b. It switches dropout and batch norm", "b"), ("Answer: c", "c"),
                                          ("I think it is (d) because...", "d"), ("option a", "a"),
                                          ("I think b", "b"), ("(b) because unlike (a) the handle is reopened", "b"),
                                          ("b, not a", "b"), ("c rather than (d)", "c"), ("a", "a"), ("A.", "a"),
                                          ("The answer is a", "a"), ("Not (a): the answer is (c).", "c"),
                                          ("(b) since a forked h5py handle breaks", "b"), ("Answer: d", "d")])
def test_read_choice(text, letter):
    assert ws.read_choice(text, ["a", "b", "c", "d"])[0] == letter


@pytest.mark.parametrize("text, problem", [("(a) or (b)", "several"), ("it depends", "could not read"),
                                           ("b or c, I am not sure", "several"), ("a model that is fast", "could not read")])
def test_read_choice_problems(text, problem):
    got, msg = ws.read_choice(text, ["a", "b", "c", "d"])
    assert got is None and problem in msg


def test_an_unclear_choice_goes_to_a_ta(key):
    grade = ws.grade_answer(key["q0.4"], ws.Answer("q0.4", "either (a) or (b)", "markers"))
    assert grade.score == 0 and grade.review and "several" in grade.review and "TA" in grade.visible
    clear = ws.grade_answer(key["q0.4"], ws.Answer("q0.4", "(b) because unlike (a) it changes layers", "markers"))
    assert clear.score == key["q0.4"].points and not clear.review
