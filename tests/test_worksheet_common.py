"""What the worksheet modules share: how numbers and answers are shown and normalised."""
from __future__ import annotations

import pytest

from autograder.worksheet.common import Grade, excerpt, format_number, normalise


@pytest.mark.parametrize("x, shown", [(12345678, "12,345,678"), (3.0, "3"), (0.5, "0.5"), (1 / 3, "0.333333"),
                                      (2.5e20, "2.5e+20"), (-4, "-4")])
def test_format_number(x, shown):
    assert format_number(x) == shown


def test_excerpt_is_one_line_and_short():
    assert excerpt("a\n  b   c") == "a b c"
    long = excerpt("word " * 40, 20)
    assert len(long) == 20 and long.endswith("...")


@pytest.mark.parametrize("raw, clean", [("**12.3M**", "  12.3M  "), ("`x`", " x "), ("1.23*10^7", "1.23 x 10^7"),
                                        ("10**7", "10^7"), ("≈ 5", "  5"), ("a <!-- c --> b", "a   b"), ("−3", "-3")])
def test_normalise(raw, clean):
    assert normalise(raw) == clean


def test_a_grade_is_final_unless_it_says_why_a_ta_must_look():
    assert Grade(1.0, "correct", "correct", "key").review == ""
    assert Grade(0.0, "incorrect", "x", "key", review="negated").review == "negated"
