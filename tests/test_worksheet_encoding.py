"""Reading a worksheet whatever editor saved it: BOMs, UTF-16 (Notepad "Unicode"), cp1252; empty and binary files are errors."""
from __future__ import annotations

import pytest

from autograder import worksheet as ws
from autograder.worksheet.encoding import decode_worksheet
from tests.worksheet_fixtures import by_name, make_submission, staff_text  # noqa: F401 (fixture)

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)

TEXT = "Résumé: 57,823,240 paramètres, naïve café\n"


@pytest.mark.parametrize("data, encoding", [
    (TEXT.encode("utf-8"), "utf-8"),
    (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8"),
    (TEXT.encode("utf-16"), "utf-16-le"),                     # Notepad "Unicode": UTF-16 LE with a BOM
    (b"\xfe\xff" + TEXT.encode("utf-16-be"), "utf-16-be"),
    (TEXT.encode("utf-32"), "utf-32-le"),
])
def test_byte_order_marks(data, encoding):
    text, used = decode_worksheet(data)
    assert text == TEXT and used == encoding


def test_cp1252_is_detected():
    data = ("Les données d'entraînement sont normalisées; la précision finale était élevée. " * 4).encode("cp1252")
    text, used = decode_worksheet(data)
    assert "données d'entraînement" in text and used != "utf-8"


@pytest.mark.parametrize("data, message", [(b"", "is empty"), (b"\n \t\n", "is empty"),
                                           (b"%PDF-1.7\n" + bytes(range(256)) * 16, "not a text file")])
def test_unreadable_files_raise_one_clear_error(data, message):
    with pytest.raises(ws.WorksheetError, match=message) as e:
        decode_worksheet(data, "alice/WORKSHEET.md")
    assert "alice/WORKSHEET.md" in str(e.value) and "UTF-8" in str(e.value)


@pytest.mark.parametrize("codec", ["utf-16", "utf-8-sig"])
def test_a_utf16_worksheet_grades_like_the_utf8_one(tmp_path, staff_text, codec):
    plain = make_submission(tmp_path / "plain", staff_text)
    other = make_submission(tmp_path / codec, staff_text)
    (other / "WORKSHEET.md").write_bytes(staff_text.encode(codec))
    a, b = by_name(ws.grade_worksheet(plain)), by_name(ws.grade_worksheet(other))
    assert {k: r.score for k, r in a.items()} == {k: r.score for k, r in b.items()}
    assert sum(r.score for r in b.values()) > 100
