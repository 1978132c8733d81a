"""The one door to student work (autograder.submission): every command opens, locates and reads a
submission the same way. Each example of issue 13's "one door" section is a test here."""
from __future__ import annotations

import codecs
import re
import zipfile
from pathlib import Path

import pytest

import autograder.grade as grade
from autograder import worksheet as ws
from autograder.results import TestResult
from autograder.submission import (
    UnreadableFile, assemble, decode_text, handed_in_paths, locate, open_submission, open_worksheet, read_handed_in,
    read_text, student_name,
)
from tests.test_release import REPO, shared_handout
from tests.worksheet_fixtures import blank_text, by_name, fill, key, staff_text  # noqa: F401 (fixtures)

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)


def _png(path: Path) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), (10, 200, 30)).save(path)
    return path


def _zip(path: Path, entries: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _answer(text: str, qid: str, answer: str) -> str:
    """``text`` with question ``qid``'s answer region holding ``answer``."""
    pattern = re.compile(rf"(<!-- answer {re.escape(qid)} -->\n).*?(\n<!-- end answer {re.escape(qid)} -->)", re.DOTALL)
    out, n = pattern.subn(lambda m: m.group(1) + answer + m.group(2), text)
    assert n == 1, qid
    return out


def _image_questions(key) -> list[str]:
    return [q for q, k in key.items() if k.kind == "image"]


@pytest.fixture
def fake_code(monkeypatch):
    """Code items and the Kaggle item stubbed out: grade_submission runs only the real worksheet step."""
    monkeypatch.setattr(grade, "grade_code", lambda w, limits=None, privileged=None: ([TestResult("vit/X", 1, 1)], []))
    monkeypatch.setattr(grade, "grade_kaggle_item", lambda workdir: [])


def _worksheet_scores(data: dict) -> dict[str, float]:
    return {t["name"]: t["score"] for t in data["tests"] if t["name"].startswith("worksheet/q")}


def _scores(results) -> dict[str, float]:
    return {r.name: r.score for r in results if r.name.startswith("worksheet/q")}


# ---- reading text -----------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32", "cp1252"])
def test_text_in_any_encoding_a_person_saves(encoding):
    text = "student,question,ta_score\nZoë Müller,q1.7,2\nJosé Núñez,q1.8,1\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    assert decode_text(data, "ta.csv") == text


@pytest.mark.parametrize("text", [
    "student,question,max_score,ta_score,ta_comment\r\nZoë Müller,q1.7,3,2.5,\r\n",  # read as cp775 by the detector alone
    "résumé",
    "Zoë Müller said café, naïve, 57.8M parameters",
])
def test_short_cp1252_texts_read_as_cp1252(text):
    assert decode_text(text.encode("cp1252"), "ta.csv") == text


@pytest.mark.parametrize("data, words", [
    (b"", "is empty"),
    (b"  \n\t\n", "is empty"),
    (b"\x00" * 64, "not a text file"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not a text file"),
])
def test_unreadable_text_is_one_clear_error(data, words):
    with pytest.raises(UnreadableFile, match=words):
        decode_text(data, "WORKSHEET.md")


def test_read_text_missing_file(tmp_path):
    with pytest.raises(UnreadableFile, match="does not exist"):
        read_text(tmp_path / "WORKSHEET.md")


def test_utf16_worksheet_grades_like_utf8(tmp_path, staff_text, key):
    """Windows Notepad's "Unicode" (UTF-16 with a BOM) scores what the same text scores in UTF-8."""
    for enc in ("utf-8", "utf-16"):
        (tmp_path / enc).mkdir()
        (tmp_path / enc / "WORKSHEET.md").write_bytes(staff_text.encode(enc))
    utf8, utf16 = (_scores(ws.grade_worksheet(tmp_path / enc)) for enc in ("utf-8", "utf-16"))
    assert utf16 == utf8 and utf16["worksheet/q3.4"] == key["q3.4"].points


# ---- which file counts ------------------------------------------------------------------------

def test_locate_prefers_the_handout_shaped_folder_and_says_so():
    wanted = ["WORKSHEET.md", "models/vit.py", "submission.csv"]
    got = locate(["WORKSHEET.md", "hw/WORKSHEET.md", "hw/models/vit.py"], wanted)
    assert got.root == "hw/" and got.found == {"WORKSHEET.md": "hw/WORKSHEET.md", "models/vit.py": "hw/models/vit.py"}
    assert any("also found WORKSHEET.md" in n and "graded hw/WORKSHEET.md" in n for n in got.notes)
    tie = locate(["WORKSHEET.md", "hw/WORKSHEET.md"], wanted)  # nothing else to go by: the shallowest
    assert tie.found == {"WORKSHEET.md": "WORKSHEET.md"} and any("also found hw/WORKSHEET.md" in n for n in tie.notes)
    flat = locate(["a/x.txt", "b/worksheet.md"], wanted)  # a lone copy anywhere, any case
    assert flat.found == {"WORKSHEET.md": "b/worksheet.md"}


@pytest.mark.parametrize("layout", ["with code", "worksheets only"])
def test_one_worksheet_choice_for_every_command(tmp_path, staff_text, blank_text, key, fake_code, layout):
    """A zip holding WORKSHEET.md and hw/WORKSHEET.md: grade, worksheet and worksheet-export all
    grade the same copy."""
    draft = fill(blank_text, {"q3.4": "1000"})
    entries = {"WORKSHEET.md": draft, "hw/WORKSHEET.md": staff_text}
    if layout == "with code":
        entries["hw/models/vit.py"] = (REPO / "models/vit.py").read_text()
    z = _zip(tmp_path / "alice.zip", entries)
    graded_text = staff_text if layout == "with code" else draft

    # grade (the assembly and the worksheet step)
    folder, _ = open_submission(z, tmp_path / "unz")
    work = assemble(folder, shared_handout(), tmp_path / "work")
    assert (work.workdir / "WORKSHEET.md").read_text() == graded_text
    from_grade = _worksheet_scores(grade.grade_submission(z, tmp_path / "r.json", REPO, shared_handout()))
    # worksheet
    from_worksheet = _scores(ws.grade_worksheet(z))
    assert from_grade == from_worksheet
    assert from_worksheet["worksheet/q3.4"] == (key["q3.4"].points if layout == "with code" else 0)
    # worksheet-export
    ws.export_free_text([z], tmp_path / "ta.csv")
    import csv

    rows = list(csv.DictReader(open(tmp_path / "ta.csv", encoding="utf-8-sig")))
    to_ta = [q for q, k in key.items()
             if k.kind == "free" or (k.kind == "short" and not k.spec.get("final_when_confident"))]
    expect_answered = layout == "with code"
    assert {r["question"] for r in rows if r["answer"]} == (set(to_ta) if expect_answered else set())


def test_pdf_and_bmp_links_score_the_same_under_worksheet_and_grade(tmp_path, staff_text, key, fake_code):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    first, second = _image_questions(key)[:2]
    text = _answer(_answer(staff_text, first, "![loss](figures/loss.pdf)"), second, "![acc](plots/acc.bmp)")
    sub = tmp_path / "bob"
    sub.mkdir()
    (sub / "WORKSHEET.md").write_text(text)
    (sub / "figures").mkdir()
    fig = plt.figure(figsize=(1, 1))
    fig.savefig(sub / "figures" / "loss.pdf")
    plt.close(fig)
    (sub / "plots").mkdir()
    Image.new("RGB", (4, 4)).save(sub / "plots" / "acc.bmp")
    for q in _image_questions(key)[2:]:
        for link in ws.image_links(text.split(f"<!-- answer {q} -->")[1].split("<!-- end answer")[0]):
            _png(sub / link)
    from_worksheet = _scores(ws.grade_worksheet(sub))
    from_grade = _worksheet_scores(grade.grade_submission(sub, tmp_path / "r.json", REPO, shared_handout()))
    for q in (first, second):
        assert from_worksheet[f"worksheet/{q}"] == from_grade[f"worksheet/{q}"] == key[q].points
    assert from_worksheet == from_grade


def test_worksheet_zip_uses_the_images_inside_it(tmp_path, staff_text, key):
    """`worksheet SUB.zip` checks the zip's own images, never another student's beside the zip."""
    q = _image_questions(key)[0]
    text = _answer(staff_text, q, "![curve](images/curve.png)")
    png = _png(tmp_path / "tmp.png").read_bytes()
    (tmp_path / "class").mkdir()
    good = _zip(tmp_path / "class" / "good.zip", {"WORKSHEET.md": text, "images/curve.png": png})
    lacking = _zip(tmp_path / "class" / "lacking.zip", {"WORKSHEET.md": text})
    _png(tmp_path / "class" / "images" / "curve.png")  # someone else's file beside the zips
    assert by_name(ws.grade_worksheet(good))[f"worksheet/{q}"].score == key[q].points
    r = by_name(ws.grade_worksheet(lacking))[f"worksheet/{q}"]
    assert r.score == 0 and "not in your submission" in r.output


def test_flat_upload_images_are_matched_by_name(tmp_path, staff_text, key, fake_code):
    """Gradescope uploads without folders: images/curve.png arrives as curve.png."""
    q = _image_questions(key)[0]
    sub = tmp_path / "flat"
    sub.mkdir()
    (sub / "WORKSHEET.md").write_text(_answer(staff_text, q, "![curve](images/curve.png)"))
    _png(sub / "curve.png")
    assert by_name(ws.grade_worksheet(sub))[f"worksheet/{q}"].score == key[q].points
    data = grade.grade_submission(sub, tmp_path / "r.json", REPO, shared_handout())
    assert _worksheet_scores(data)[f"worksheet/{q}"] == key[q].points
    assert "matched the image link images/curve.png to curve.png by its name" in data["output"]


@pytest.mark.parametrize("link", ["/images/curve.png", "images/curve.png"])
def test_a_repository_root_link_scores_like_a_relative_one_under_grade_and_worksheet(tmp_path, staff_text, key,
                                                                                     fake_code, link):
    """The original course's student wrote ![](/images/x.png) (GitHub's repository-root form)."""
    q = _image_questions(key)[0]
    for layout in ("flat", "folders"):
        sub = tmp_path / layout
        sub.mkdir()
        (sub / "WORKSHEET.md").write_text(_answer(staff_text, q, f"![curve]({link})"))
        _png(sub / "curve.png" if layout == "flat" else sub / "images" / "curve.png")
        assert by_name(ws.grade_worksheet(sub))[f"worksheet/{q}"].score == key[q].points, layout
        data = grade.grade_submission(sub, tmp_path / f"{layout}.json", REPO, shared_handout())
        assert _worksheet_scores(data)[f"worksheet/{q}"] == key[q].points, layout


def test_lone_worksheet_file_uses_images_beside_it(tmp_path, staff_text, key):
    q = _image_questions(key)[0]
    (tmp_path / "my_worksheet.md").write_text(_answer(staff_text, q, "![c](images/c.png)"))
    _png(tmp_path / "images" / "c.png")
    with open_worksheet(tmp_path / "my_worksheet.md") as copy:
        assert copy.path.name == "WORKSHEET.md" and (copy.root / "images" / "c.png").is_file()
    assert by_name(ws.grade_worksheet(tmp_path / "my_worksheet.md"))[f"worksheet/{q}"].score == key[q].points


def test_unsafe_zip_is_refused_by_worksheet_too(tmp_path, capsys):
    from autograder.cli import main

    z = _zip(tmp_path / "evil.zip", {"../WORKSHEET.md": "x"})
    assert main(["worksheet", str(z)]) == 2
    assert "outside the zip" in capsys.readouterr().err
    assert main(["worksheet", str(tmp_path / "nope.md")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty.md").write_text("")
    assert main(["worksheet", str(tmp_path / "empty.md")]) == 2
    assert "empty" in capsys.readouterr().err


def test_read_handed_in_and_student_names(tmp_path):
    z = _zip(tmp_path / "dee.zip", {"hw/submission.csv": "Id,Category\n0,1\n", "notes.txt": "x"})
    data, where, _ = read_handed_in(z, "submission.csv")
    assert data == b"Id,Category\n0,1\n" and where == "hw/submission.csv"
    assert read_handed_in(_zip(tmp_path / "none.zip", {"a.txt": "x"}), "submission.csv")[0] is None
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "WORKSHEET.md").write_text("x")
    assert [student_name(p) for p in (z, tmp_path / "ann", tmp_path / "ann" / "WORKSHEET.md")] == ["dee", "ann", "ann"]


def test_handed_in_paths_are_the_handouts_editable_files():
    from autograder.release import read_stamp

    assert handed_in_paths(shared_handout()) == read_stamp(shared_handout())["editable"] + ["submission.csv"]
    assert set(handed_in_paths()) == set(handed_in_paths(shared_handout()))


def test_check_reads_a_utf16_worksheet_and_reports_an_empty_one(tmp_path, staff_text):
    from autograder.check import check_worksheet

    (tmp_path / "WORKSHEET.md").write_bytes(staff_text.encode("utf-16"))
    [r] = check_worksheet(tmp_path)
    assert r.score == r.max_score > 40
    (tmp_path / "WORKSHEET.md").write_bytes(b"")
    [r] = check_worksheet(tmp_path)
    assert r.status == "failed" and "is empty" in r.output


def test_grade_of_a_single_code_file_does_not_read_it_as_a_worksheet(tmp_path, fake_code):
    (tmp_path / "vit.py").write_text("# mine\n" * 50)
    data = grade.grade_submission(tmp_path / "vit.py", tmp_path / "r.json", REPO, shared_handout())
    ws_tests = [t for t in data["tests"] if t["name"].startswith("worksheet/q")]
    assert ws_tests and all(t["score"] == 0 and "no WORKSHEET.md found" in t["output"] for t in ws_tests)
    assert "models/vit.py" in data["extra_data"]["taken"]


def test_grade_names_the_students_own_file_in_worksheet_messages(tmp_path, fake_code):
    z = _zip(tmp_path / "ann.zip", {"hw/WORKSHEET.md": b"", "hw/models/vit.py": b"# mine\n"})
    data = grade.grade_submission(z, tmp_path / "r.json", REPO, shared_handout())
    t = next(t for t in data["tests"] if t["name"] == "worksheet/q3.4")
    assert t["score"] == 0 and f"{z}:hw/WORKSHEET.md is empty" in t["output"]
