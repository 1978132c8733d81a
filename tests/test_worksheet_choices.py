"""Choice answers: reading one option letter."""
from __future__ import annotations

import pytest

from autograder import worksheet as ws

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)


@pytest.mark.parametrize("text, letter", [("b", "b"), ("(b)", "b"), ("B)", "b"), ("**(B)**", "b"),
                                          ("b. It switches dropout and batch norm", "b"), ("Answer: c", "c"),
                                          ("I think it is (d) because...", "d"), ("option a", "a")])
def test_read_choice(text, letter):
    assert ws.read_choice(text, ["a", "b", "c", "d"])[0] == letter


@pytest.mark.parametrize("text, problem", [("(a) or (b)", "several"), ("it depends", "could not read")])
def test_read_choice_problems(text, problem):
    got, msg = ws.read_choice(text, ["a", "b", "c", "d"])
    assert got is None and problem in msg
