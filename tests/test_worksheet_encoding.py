"""A worksheet saved by any editor grades the same: UTF-16 (Notepad "Unicode"), UTF-8 with a BOM,
cp1252 (read by the submission door's text reader)."""
from __future__ import annotations

import pytest

from autograder import worksheet as ws
from tests.worksheet_fixtures import by_name, make_submission, staff_text  # noqa: F401 (fixture)

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)


@pytest.mark.parametrize("codec", ["utf-16", "utf-8-sig", "utf-16-be"])
def test_a_worksheet_in_another_encoding_grades_like_the_utf8_one(tmp_path, staff_text, codec):
    plain = make_submission(tmp_path / "plain", staff_text)
    other = make_submission(tmp_path / codec, staff_text)
    data = staff_text.encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data
    (other / "WORKSHEET.md").write_bytes(data)
    a, b = by_name(ws.grade_worksheet(plain)), by_name(ws.grade_worksheet(other))
    assert {k: r.score for k, r in a.items()} == {k: r.score for k, r in b.items()}
    assert sum(r.score for r in b.values()) > 100


def test_a_cp1252_worksheet_keeps_its_accents(tmp_path, staff_text):
    text = staff_text.replace("<!-- answer q1.4 -->\n<!-- BEGIN SOLUTION -->\n`MODEL.NAME` and `DATA.DATASET`.",
                              "<!-- answer q1.4 -->\n<!-- BEGIN SOLUTION -->\nLes clés `MODEL.NAME` et `DATA.DATASET` (très simple).")
    assert text != staff_text
    sub = make_submission(tmp_path / "zoe", text)
    (sub / "WORKSHEET.md").write_bytes(text.encode("cp1252"))
    r = by_name(ws.grade_worksheet(sub))["worksheet/q1.4"]
    assert r.score == 2 and "clés" in r.extra["answer"] and "très" in r.extra["answer"]
