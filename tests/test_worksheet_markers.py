"""Answer markers: finding each answer, with deleted, moved, one-line and duplicate markers."""
from __future__ import annotations

import pytest

from autograder import worksheet as ws
from autograder.results import TestResult as Result  # not collected by pytest
from tests.worksheet_fixtures import blank_text, by_name, make_submission, staff_text  # noqa: F401 (fixtures)

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)


def test_the_blank_keeps_every_answer_marker(staff_text, blank_text):
    staff_ids = list(ws.reference_answers(staff_text))
    parsed = ws.parse_worksheet(blank_text, template=staff_text)
    assert list(parsed) == staff_ids
    assert all(a.found == "markers" and not a.answered for a in parsed.values())


def _graded(tmp_path, text, name="s") -> dict[str, Result]:
    return by_name(ws.grade_worksheet(make_submission(tmp_path / name, text)))


def test_deleted_end_marker(tmp_path, staff_text):
    text = staff_text.replace("<!-- end answer q3.4 -->\n", "")
    r = _graded(tmp_path, text)
    assert r["worksheet/q3.4"].score == 2 and "end marker" in r["worksheet/q3.4"].output
    assert "q3.4" in r["worksheet/q3.4"].output
    assert r["worksheet/q3.5"].score == 1 and "marker" not in r["worksheet/q3.5"].output


def test_deleted_end_marker_of_free_text_stops_at_next_question(staff_text):
    text = staff_text.replace("<!-- end answer q1.7 -->\n", "")
    ans = ws.parse_worksheet(text, template=staff_text)["q1.7"]
    assert ans.found == "no end marker" and ans.text.endswith("reports images per second.")


def test_deleted_begin_marker(tmp_path, staff_text):
    text = staff_text.replace("<!-- answer q3.5 -->\n", "")
    r = _graded(tmp_path, text)
    assert r["worksheet/q3.5"].score == 1 and "begin marker" in r["worksheet/q3.5"].output
    assert r["worksheet/q3.4"].score == 2


def test_both_markers_deleted_found_by_question_text(tmp_path, staff_text):
    text = staff_text.replace("<!-- answer q3.6 -->\n", "").replace("<!-- end answer q3.6 -->\n", "")
    r = _graded(tmp_path, text)["worksheet/q3.6"]
    assert r.score == 1 and "both answer markers of q3.6" in r.output


def test_both_markers_and_question_gone_names_the_question(tmp_path, staff_text):
    start = staff_text.index("### 3.6")
    end = staff_text.index("<!-- end answer q3.6 -->\n") + len("<!-- end answer q3.6 -->\n")
    r = _graded(tmp_path, staff_text[:start] + staff_text[end:])["worksheet/q3.6"]
    assert r.score == 0 and "no answer markers for q3.6" in r.output and "<!-- answer q3.6 -->" in r.output


def test_reordered_sections_extra_text_and_headings(tmp_path, staff_text):
    part9, part10 = staff_text.index("# Part 9"), staff_text.index("# Part 10")
    moved = staff_text[:staff_text.index("# Part 0")] + staff_text[part9:part10] + \
        staff_text[staff_text.index("# Part 0"):part9] + staff_text[part10:]
    moved = moved.replace("<!-- answer q3.4 -->\n", "Let me count the layers first.\n\n<!-- answer q3.4 -->\n"
                          "## My working\n\nconv layers 3.7M, linear layers 54.1M, so in total:\n\n")
    moved = moved.replace("<!-- end answer q3.4 -->\n", "<!-- end answer q3.4 -->\n\n# My notes\n\nThat was hard (took 3 hours).\n")
    moved = moved.replace("<!-- answer q9.1 -->", "<!--answer   Q9.1-->")  # spacing and case
    r = _graded(tmp_path, moved)
    assert all(t.score == t.max_score for t in r.values()), [t.name for t in r.values() if t.score != t.max_score]


def test_answer_markers_on_one_line_and_duplicates(staff_text):
    one_line = staff_text.replace("<!-- answer q3.2 -->\n<!-- BEGIN SOLUTION -->\n99,276\n<!-- END SOLUTION -->\n"
                                  "<!-- end answer q3.2 -->", "<!-- answer q3.2 --> 99.3k <!-- end answer q3.2 -->")
    assert ws.parse_worksheet(one_line)["q3.2"].text == "99.3k"
    dup = one_line + "\n<!-- answer q3.2 -->\nsomething else\n<!-- end answer q3.2 -->\n"
    ans = ws.parse_worksheet(dup)["q3.2"]
    assert ans.text == "something else" and any("two answers for q3.2" in w for w in ans.warnings)
    assert ans.review and [text for _, text in ans.earlier] == ["99.3k"]


def test_a_correction_below_is_graded_and_the_ta_sees_both(tmp_path, staff_text):
    text = staff_text.replace("<!-- end answer q3.4 -->\n", "<!-- end answer q3.4 -->\n\nOops, correction:\n"
                              "<!-- answer q3.4 -->\n61M\n<!-- end answer q3.4 -->\n", 1)
    r = _graded(tmp_path, text)["worksheet/q3.4"]
    assert r.score == 0 and "two answers for q3.4" in r.output
    assert r.extra["review"] and r.extra["manual"]
    assert r.output.endswith("a TA reviews this answer") and r.output.count("a TA reviews") == 1  # as README promises
    assert "57,823,240" in r.extra["answer"] and "61M" in r.extra["answer"] and "not graded" in r.extra["answer"]


def test_the_same_answer_twice_is_a_warning_only(staff_text):
    dup = staff_text + "\n<!-- answer q3.2 -->\n99,276\n<!-- end answer q3.2 -->\n"
    ans = ws.parse_worksheet(dup)["q3.2"]
    assert ans.text == "99,276" and not ans.review and any("appear again" in w for w in ans.warnings)


@pytest.mark.parametrize("raw, kept, gone", [
    ("```* Builds the loader specified by the config\n* Builds the model\n* Evaluates```",
     ["* Builds the loader specified by the config", "* Builds the model", "* Evaluates"], ["```"]),
    ("```python\nmodel.eval()\n```", ["model.eval()"], ["python", "```"]),
    ("~~~AlexNet hyperparameters\n* LR: 3e-4\n~~~", ["AlexNet hyperparameters", "* LR: 3e-4"], ["~~~"]),
    ("`inline code` stays", ["`inline code` stays"], []),
])
def test_a_line_opening_a_code_fence_keeps_its_text(raw, kept, gone):
    text = ws.clean_answer(raw)
    assert all(k in text for k in kept) and not any(g in text for g in gone), text
