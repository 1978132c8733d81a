"""kaggle validate: every rejection with the exact line reported, the accepted variants, and a
small fuzz showing the fast pass never accepts what the line-by-line pass rejects."""
from __future__ import annotations

import numpy as np
import pytest

from autograder.kaggle import Problem, check_submission, validate_submission
from autograder.kaggle import validate as V

N, C = 4, 3
VALID = "Id,Category\n0,1\n1,2\n2,0\n3,1\n"


def lines(tmp_path, content, expected_rows=N, num_classes=C) -> list[str]:
    path = tmp_path / "submission.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return [str(p) for p in validate_submission(path, expected_rows, num_classes)]


# ---------------------------------------------------------------- accepted variants

@pytest.mark.parametrize("content", [
    VALID,
    "Id,Category\n3,1\n0,1\n2,0\n1,2\n",                     # any row order
    VALID.replace("\n", "\r\n"),                              # CRLF (Windows)
    VALID.replace("\n", "\r"),                                # CR (old Mac)
    "\ufeff" + VALID,                                         # UTF-8 BOM (Excel)
    "\ufeff" + "Id,Category\r\n3,1\r\n0,1\r\n2,0\r\n1,2",     # all of it, no final newline
    VALID.rstrip("\n"),                                       # no trailing newline
    VALID + "\n\n",                                           # trailing blank lines
    'Id,Category\n"0","1"\n1,2\n2,0\n3,1\n',                  # quoted fields
    '"Id","Category"\n0,1\n1,2\n2,0\n3,1\n',                  # quoted header
    "Id,Category\n0, 1\n 1 ,2\n2,+0\n3,01\n",                 # spaces, sign, leading zero
], ids=["plain", "shuffled", "crlf", "cr", "bom", "bom-crlf-shuffled-nofinal", "no-final-newline",
        "blank-lines", "quoted", "quoted-header", "spaces"])
def test_accepts_what_kaggle_accepts(tmp_path, content):
    path = tmp_path / "submission.csv"
    path.write_bytes(content.encode())
    result = check_submission(path, N, C)
    assert result.problems == []
    np.testing.assert_array_equal(result.predictions, [1, 2, 0, 1], err_msg="predictions ordered by Id")


def test_limits_are_optional(tmp_path):
    assert lines(tmp_path, "Id,Category\n0,7\n1,500\n", None, None) == []


def test_bytes_source_is_accepted():
    assert check_submission(VALID.encode(), N, C).valid


# ---------------------------------------------------------------- each rejection, exact line

@pytest.mark.parametrize("content, expected", [
    ("ID,Category\n0,1\n1,2\n2,0\n3,1\n",
     ["line 1: header is 'ID,Category' (names are case-sensitive, without spaces); expected exactly Id,Category"]),
    ("Image,Label\n0,1\n1,2\n2,0\n3,1\n",
     ["line 1: header is 'Image,Label'; expected exactly Id,Category"]),
    ("Id;Category\n0;1\n",
     ["line 1: header is 'Id;Category' (columns separated by ';', not a comma); expected exactly Id,Category",
      "file: 1 data rows; expected 4 rows, one per test image",
      "line 2: 1 field(s) in '0;1'; expected 2 fields, Id,Category"]),
    ("0,1\n1,2\n2,0\n3,1\n",
     ["line 1: the header line is missing (line 1 holds data); expected line 1 to be exactly Id,Category"]),
    ("Id,Category,Usage\n0,1,a\n1,2,a\n2,0,a\n3,1,a\n",
     ["line 1: extra columns 'Usage'; expected exactly two columns, Id,Category"]),
    ("Id,Category\n0,1\n1,2,9\n2,0\n3,1\n",
     ["line 3: 3 field(s) in '1,2,9'; expected 2 fields, Id,Category"]),
    ("Id,Category\n0,1\n1\n2,0\n3,1\n",
     ["file: 1 Id missing: 1; expected every Id in 0..3 exactly once",
      "line 3: 1 field(s) in '1'; expected 2 fields, Id,Category"]),
], ids=["header-case", "header-wrong", "semicolons", "header-missing", "extra-column", "extra-field",
        "missing-field"])
def test_rejects_header_and_shape(tmp_path, content, expected):
    assert lines(tmp_path, content) == expected


@pytest.mark.parametrize("content, expected", [
    ("Id,Category\n0,1\n1,2\n3,1\n",
     ["file: 3 data rows; expected 4 rows, one per test image",
      "file: 1 Id missing: 2; expected every Id in 0..3 exactly once"]),
    ("Id,Category\n0,1\n1,2\n1,0\n3,1\n",
     ["file: 1 Id missing: 2; expected every Id in 0..3 exactly once",
      "line 4: Id 1 appears again (first on line 3); expected each Id exactly once"]),
    ("Id,Category\n0,1\nx,2\n2,0\n3,1\n",
     ["file: 1 Id missing: 1; expected every Id in 0..3 exactly once",
      "line 3: Id 'x' is not an integer; expected an integer Id"]),
    ("Id,Category\n0,1\n1.0,2\n2,0\n3,1\n",
     ["file: 1 Id missing: 1; expected every Id in 0..3 exactly once",
      "line 3: Id '1.0' is not an integer; expected an integer Id"]),
    ("Id,Category\n1,1\n2,2\n3,0\n4,1\n",
     ["file: Ids run from 1 to 4: they look 1-based; expected Ids 0..3 (the first test image is Id 0; "
      "subtract 1 from every Id)"]),
    ("Id,Category\n0,1\n1,2\n2,0\n3,1\n4,1\n",
     ["file: 5 data rows; expected 4 rows, one per test image",
      "line 6: Id 4 is out of range; expected an Id in 0..3"]),
    ("Id,Category\n0,1\n1,2\n-2,0\n3,1\n",
     ["file: 1 Id missing: 2; expected every Id in 0..3 exactly once",
      "line 4: Id -2 is out of range; expected an Id in 0..3"]),
], ids=["missing-row", "duplicate", "non-integer-id", "float-id", "one-based", "too-many-rows", "negative-id"])
def test_rejects_ids_and_counts(tmp_path, content, expected):
    assert lines(tmp_path, content) == expected


def test_many_missing_ids_are_listed_briefly(tmp_path):
    content = "Id,Category\n" + "".join(f"{i},0\n" for i in range(3))
    assert lines(tmp_path, content, 10) == [
        "file: 3 data rows; expected 10 rows, one per test image",
        "file: 7 Ids missing: 3, 4, 5, 6, 7, ...; expected every Id in 0..9 exactly once"]


@pytest.mark.parametrize("content, expected", [
    ("Id,Category\n0,1\n1,cat\n2,0\n3,1\n",
     ["line 3: Category 'cat' is not an integer; expected an integer class index in 0..2"]),
    ("Id,Category\n0,1\n1,2.0\n2,0\n3,1\n",
     ["line 3: Category '2.0' is not an integer; expected an integer class index in 0..2"]),
    ("Id,Category\n0,1\n1,\n2,0\n3,1\n",
     ["line 3: Category '' is not an integer; expected an integer class index in 0..2"]),
    ("Id,Category\n0,1\n1,3\n2,0\n3,-1\n",
     ["line 3: Category 3 is out of range; expected a class index in 0..2",
      "line 5: Category -1 is out of range; expected a class index in 0..2"]),
], ids=["word", "float", "empty", "out-of-range"])
def test_rejects_categories(tmp_path, content, expected):
    assert lines(tmp_path, content) == expected


@pytest.mark.parametrize("content, expected", [
    (b"", ["file: the file is empty; expected the header line Id,Category followed by one row per test image"]),
    (b" \n\r\n", ["file: the file is empty; expected the header line Id,Category followed by one row per test image"]),
    (b"\xef\xbb\xbf", ["file: the file is empty; expected the header line Id,Category followed by one row per test image"]),
    (b"Id,Category\n", ["file: no data rows after the header; expected 4 rows, one per test image"]),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
     ["line 3: binary data (a NUL byte): this is not a text file; expected a UTF-8 text CSV (in Excel: Save As 'CSV UTF-8')"]),
    (b"Id,Category\n0,1\n1,\xe9\n",
     ["line 3: byte 0xe9 is not UTF-8 text (a binary file, or another encoding); expected a UTF-8 text CSV "
      "(in Excel: Save As 'CSV UTF-8')"]),
    ("Id,Category\n0,1\n".encode("utf-16"),
     ["file: file is UTF-16 encoded; expected a UTF-8 text CSV (in Excel: Save As 'CSV UTF-8')"]),
], ids=["empty", "whitespace", "bom-only", "header-only", "png", "latin-1", "utf-16"])
def test_rejects_empty_and_binary(tmp_path, content, expected):
    assert lines(tmp_path, content) == expected


def test_missing_file_and_folder_are_problems_not_errors(tmp_path):
    assert lines_of(tmp_path / "nope.csv") == [f"file: no file at {tmp_path / 'nope.csv'}; expected a CSV file "
                                               "with header Id,Category"]
    assert lines_of(tmp_path) == [f"file: {tmp_path} is not a regular file; expected a CSV file with header "
                                  "Id,Category"]


def lines_of(path) -> list[str]:
    return [str(p) for p in validate_submission(path, N, C)]


def test_repeated_problems_are_capped_with_a_summary(tmp_path):
    content = "Id,Category\n" + "".join(f"{i},9\n" for i in range(12))
    out = lines(tmp_path, content, 12)
    assert out[:5] == [f"line {i}: Category 9 is out of range; expected a class index in 0..2" for i in range(2, 7)]
    assert out[5:] == ["file: 7 more lines with the same problem as above (Category out of range); "
                       "expected a class index in 0..2"]


def test_problem_fields():
    problem = Problem(7, "Id 3 appears again", "each Id once")
    assert (problem.line, str(problem)) == (7, "line 7: Id 3 appears again; expected each Id once")


def test_bad_limits_raise_a_named_error():
    with pytest.raises(V.KaggleError, match="expected_rows=0"):
        check_submission(VALID.encode(), 0, C)
    with pytest.raises(V.KaggleError, match="num_classes=-1"):
        check_submission(VALID.encode(), N, -1)


def test_large_file_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(V, "MAX_BYTES", 20)
    assert lines(tmp_path, VALID) == [f"file: file is {len(VALID)} bytes, too large to be a submission; "
                                      "expected at most 20 bytes (one short line per test image)"]


# ---------------------------------------------------------------- fuzz: never raises, passes agree

ALPHABET = list("0123456789,,,\n\n\r\"x .-+\t") + ["\x00", "\u00e9", "Id", "Category", "\ufeff"]


def _mutate(rng: np.random.Generator, text: str) -> str:
    chars = list(text)
    for _ in range(int(rng.integers(1, 4))):
        op = rng.integers(4)
        at = int(rng.integers(len(chars) + 1))
        if op == 0 and chars:
            del chars[min(at, len(chars) - 1)]
        elif op == 1:
            chars.insert(at, ALPHABET[rng.integers(len(ALPHABET))])
        elif op == 2 and chars:
            chars[min(at, len(chars) - 1)] = ALPHABET[rng.integers(len(ALPHABET))]
        else:
            rows = "".join(chars).split("\n")
            i, j = rng.integers(len(rows), size=2)
            rows[i], rows[j] = rows[j], rows[i]
            chars = list("\n".join(rows))
    return "".join(chars)


def test_fuzz_never_raises_and_the_passes_agree(tmp_path):
    """The fast pass never accepts what the line-by-line pass rejects, and explaining from pandas'
    parse gives the very lines the line-by-line read gives."""
    rng = np.random.default_rng(0)
    base = "Id,Category\n" + "".join(f"{i},{(3 * i) % C}\n" for i in range(6))
    fast_accepted = explained_from_frame = 0
    for case in range(400):
        text = _mutate(rng, base)
        data = text.encode("utf-8")
        limits = [(6, C), (None, None), (6, None)][case % 3]
        result = check_submission(data, *limits)
        assert result.valid == (result.predictions is not None), text
        assert all(str(p).count("expected") >= 1 for p in result.problems), text
        body = data[3:] if data.startswith(V.BOM) else data
        if V._check_text(body)[1] is not None:
            continue  # empty or binary: no pass runs
        by_lines, slow = V._slow_parse(body, *limits)
        assert result.problems == by_lines, text
        frame = V._read_frame(body)
        if frame is None:
            continue
        fast = V._fast_accept(frame, *limits)
        if fast is not None:
            fast_accepted += 1
            assert by_lines == [], f"fast pass accepted what the slow pass rejects: {text!r} {by_lines}"
            np.testing.assert_array_equal(fast, slow, err_msg=f"predictions differ for {text!r}")
        elif V._rows_from_frame(body, frame) is not None:
            explained_from_frame += 1
            assert V._slow_parse(body, *limits, frame)[0] == by_lines, text
    assert fast_accepted > 20 and explained_from_frame > 5  # the fuzz exercised every pass


def test_fuzz_integer_files_explained_from_pandas_match_the_line_read():
    """Integer-only files with wrong Ids, counts and classes: the vectorised explanation gives the
    same lines as the line-by-line read."""
    rng = np.random.default_rng(1)
    compared = 0
    for _ in range(200):
        n = int(rng.integers(1, 12))
        ids, cats = list(rng.permutation(n)), list(rng.integers(0, C, n))
        for _ in range(int(rng.integers(1, 4))):
            op, at = rng.integers(5), int(rng.integers(len(ids))) if ids else 0
            if op == 0 and len(ids) > 1:
                del ids[at], cats[at]
            elif op == 1 and ids:
                ids.append(ids[at]), cats.append(cats[at])
            elif op == 2 and ids:
                ids[at] = int(rng.integers(-2, n + 3))
            elif op == 3 and ids:
                cats[at] = int(rng.integers(-2, C + 3))
            else:
                ids = [i + 1 for i in ids]
        body = ("Id,Category\n" + "".join(f"{i},{c}\n" for i, c in zip(ids, cats))).encode()
        frame = V._read_frame(body)
        for limits in [(n, C), (None, None)]:
            if frame is not None and V._fast_accept(frame, *limits) is None:
                compared += 1
                assert V._slow_parse(body, *limits, frame)[0] == V._slow_parse(body, *limits)[0], body
    assert compared > 100


def test_expected_rows_beyond_any_file_is_refused():
    with pytest.raises(V.KaggleError, match="more rows than a submission may hold"):
        check_submission(VALID.encode(), 10**9, C)
