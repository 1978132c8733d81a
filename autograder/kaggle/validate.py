"""Check a ``submission.csv`` against the contract (DESIGN.md §5): header ``Id,Category``, one row
per test image with Ids 0..N-1 in any order, Category an integer in [0, num_classes).

Accepted like Kaggle accepts them: any row order, CRLF or CR line ends, a UTF-8 byte-order mark,
a trailing newline or none, blank lines, quoted fields, spaces around numbers.

How, fast on a valid file (one pandas read), exact on an invalid one:
1. pandas' C parser reads the rows; when both columns come out as integers, numpy checks Ids and
   classes, and a file that passes is accepted. This step only ever *accepts*.
2. Otherwise the problems are found with their line numbers: from the same pandas parse when every
   line is a row (the usual mistakes: 1-based Ids, a missing or repeated row, classes 1..C), else
   from a line-by-line read that also explains what pandas could not parse. The line-by-line read
   is the authority; the tests fuzz all three and check they agree.
"""
from __future__ import annotations

import csv
import io
import os
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

HEADER = ("Id", "Category")
MAX_BYTES = 256 * 2**20  # larger files are refused unread (190,841 rows take about 2 MB)
MAX_PER_KIND = 5  # line problems reported one by one per kind; the rest summed up in one line
BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(r"\r\n|\r|\n")
_INT = re.compile(r"[ \t]*[+-]?[0-9]+[ \t]*")  # what pandas reads as an integer, no more

Source = Union[str, os.PathLike, bytes]


class KaggleError(ValueError):
    """Bad input to a kaggle command (arguments, staff files); the message names the fix."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission file.

    Args:
        line: 1-based line number in the file; None when the problem concerns the whole file.
        message: what is wrong, quoting the offending text.
        expected: what the contract asks for instead.
    """

    line: int | None
    message: str
    expected: str

    def __str__(self) -> str:
        where = "file" if self.line is None else f"line {self.line}"
        return f"{where}: {self.message}; expected {self.expected}"


@dataclass
class CheckResult:
    """The verdict on one submission, with its predictions when it is valid.

    Args:
        problems: everything wrong, in reading order; empty when valid.
        predictions: int64 [N], the Category for each Id (index = Id); None when invalid.
    """

    problems: list[Problem] = field(default_factory=list)
    predictions: np.ndarray | None = None

    @property
    def valid(self) -> bool:
        return not self.problems


def validate_submission(path: Source, expected_rows: int | None = None,
                        num_classes: int | None = None) -> list[Problem]:
    """Every problem in a submission file; an empty list means Kaggle would accept it.

    Args:
        path: the CSV file (or its bytes).
        expected_rows: number of test images N; None accepts any N (Ids must still be 0..N-1).
        num_classes: number of classes C; None only asks for Category >= 0.
    """
    return check_submission(path, expected_rows, num_classes).problems


def check_submission(source: Source, expected_rows: int | None = None,
                     num_classes: int | None = None) -> CheckResult:
    """Validate a submission and, when valid, return its predictions ordered by Id.

    Never raises for anything inside the file; a missing or unreadable file is a Problem too.

    Args:
        source: the CSV file path, or its raw bytes (e.g. read from a zip).
        expected_rows: number of test images N; None accepts any N.
        num_classes: number of classes C; None only asks for Category >= 0.
    """
    _check_limits(expected_rows, num_classes)
    data, problem = _read_bytes(source)
    if problem is None:
        data, problem = _check_text(data)
    if problem is not None:
        return CheckResult([problem])
    frame = _read_frame(data)
    predictions = None if frame is None else _fast_accept(frame, expected_rows, num_classes)
    if predictions is not None:
        return CheckResult([], predictions)
    problems, predictions = _slow_parse(data, expected_rows, num_classes, frame)
    return CheckResult(problems, None if problems else predictions)


def is_id_permutation(ids: np.ndarray) -> bool:
    """True when the integer array ``ids`` holds 0..len(ids)-1, each exactly once.

    (A counting pass: numpy 2.4's hash-based ``np.unique`` is ~100x slower on 190k Ids.)
    """
    n = len(ids)
    if n == 0 or ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= n:
        return False
    return bool((np.bincount(ids, minlength=n) == 1).all())


def _check_limits(expected_rows: int | None, num_classes: int | None) -> None:
    if expected_rows is not None and (not isinstance(expected_rows, (int, np.integer)) or expected_rows < 1):
        raise KaggleError(f"expected_rows={expected_rows!r} is not a positive integer; pass the number "
                          "of test images, or None to accept any count")
    if expected_rows is not None and expected_rows > MAX_BYTES // 4:
        raise KaggleError(f"expected_rows={expected_rows:,} is more rows than a submission may hold "
                          f"({MAX_BYTES // 4:,}, 4 bytes a row at the least); pass the number of test images")
    if num_classes is not None and (not isinstance(num_classes, (int, np.integer)) or num_classes < 1):
        raise KaggleError(f"num_classes={num_classes!r} is not a positive integer; pass the number of "
                          "classes, or None to skip the upper bound on Category")


def _read_bytes(source: Source) -> tuple[bytes, Problem | None]:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source), None
    path = Path(source)
    want = "a CSV file with header Id,Category"
    try:
        if not path.exists():
            return b"", Problem(None, f"no file at {path}", want)
        if not path.is_file():
            return b"", Problem(None, f"{path} is not a regular file", want)
        size = path.stat().st_size
        if size > MAX_BYTES:
            return b"", Problem(None, f"file is {size:,} bytes, too large to be a submission",
                                f"at most {MAX_BYTES:,} bytes (one short line per test image)")
        return path.read_bytes(), None
    except OSError as e:
        return b"", Problem(None, f"cannot read {path}: {e.strerror or e}", want)


def _check_text(data: bytes) -> tuple[bytes, Problem | None]:
    """Strip a UTF-8 BOM; refuse empty, binary, UTF-16 and non-UTF-8 files."""
    text_csv = "a UTF-8 text CSV (in Excel: Save As 'CSV UTF-8')"
    if data.startswith(BOM):
        data = data[len(BOM):]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data, Problem(None, "file is UTF-16 encoded", text_csv)
    if not data.strip():
        return data, Problem(None, "the file is empty", "the header line Id,Category followed by one row per test image")
    nul = data.find(b"\x00")
    if nul >= 0:
        return data, Problem(_line_of(data, nul), "binary data (a NUL byte): this is not a text file", text_csv)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return data, Problem(_line_of(data, e.start), f"byte 0x{data[e.start]:02x} is not UTF-8 text "
                             "(a binary file, or another encoding)", text_csv)
    return data, None


def _line_of(data: bytes, offset: int) -> int:
    return len(_LINE_END.findall(data[:offset].decode("latin-1"))) + 1


def _read_frame(data: bytes) -> pd.DataFrame | None:
    """The rows as two int64 columns when the header is exact and pandas reads only integers."""
    end = data.find(b"\n")
    if end < 0 or data[:end].rstrip(b"\r") != b"Id,Category":
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = pd.read_csv(io.BytesIO(data[end + 1:]), header=None, index_col=False)
    except Exception:  # any parser complaint: the line-by-line pass will explain it
        return None
    if frame.shape[1] != 2 or len(frame) == 0 or (frame.dtypes != np.int64).any():
        return None
    return frame


def _fast_accept(frame: pd.DataFrame, expected_rows: int | None, num_classes: int | None) -> np.ndarray | None:
    """Predictions ordered by Id when the parsed rows are certainly valid, else None (not a verdict)."""
    ids, cats = frame[0].to_numpy(), frame[1].to_numpy()
    n = len(ids) if expected_rows is None else expected_rows
    if len(ids) != n or ids.min() < 0 or ids.max() >= n or cats.min() < 0:
        return None
    if num_classes is not None and cats.max() >= num_classes:
        return None
    predictions = np.full(n, -1, dtype=np.int64)
    predictions[ids] = cats
    if (predictions < 0).any():  # an Id missing, hence (same count) another repeated
        return None
    return predictions


class _Problems:
    """Collects problems, at most MAX_PER_KIND line problems of each kind, then one summary."""

    def __init__(self) -> None:
        self.head: list[Problem] = []   # header and whole-file problems, in order found
        self.lines: list[Problem] = []
        self.more: dict[str, list] = defaultdict(lambda: [0, ""])  # kind -> [count, expected]

    def file(self, message: str, expected: str, line: int | None = None) -> None:
        self.head.append(Problem(line, message, expected))

    def line(self, kind: str, line: int, message: str, expected: str) -> None:
        count = self.more[kind]
        count[0] += 1
        count[1] = expected
        if count[0] <= MAX_PER_KIND:
            self.lines.append(Problem(line, message, expected))

    def lines_at(self, kind: str, numbers: np.ndarray, message, expected: str) -> None:
        """The same problem on many lines; ``message(k)`` words the k-th (only the first few are)."""
        for k in range(min(len(numbers), MAX_PER_KIND)):
            self.line(kind, int(numbers[k]), message(k), expected)
        if len(numbers) > MAX_PER_KIND:
            self.more[kind][0] += len(numbers) - MAX_PER_KIND

    def all(self) -> list[Problem]:
        out = self.head + sorted(self.lines, key=lambda p: p.line)
        for kind, (count, expected) in self.more.items():
            if count > MAX_PER_KIND:
                out.append(Problem(None, f"{count - MAX_PER_KIND:,} more lines with the same problem as "
                                         f"above ({kind})", expected))
        return out


@dataclass
class _Rows:
    """The data rows read so far; where a value is not an integer its ``ok`` flag is False."""

    lines: np.ndarray   # int64 [R], line number of each row
    ids: np.ndarray     # int64 [R]
    id_ok: np.ndarray   # bool [R]
    cats: np.ndarray    # int64 [R]
    cat_ok: np.ndarray  # bool [R]


def _show(text: str, width: int = 30) -> str:
    """Quote a piece of the student's file, shortened."""
    return repr(text if len(text) <= width else text[:width] + "...")


def _fields(line: str) -> list[str]:
    if '"' not in line:
        return line.split(",")
    try:
        return next(csv.reader([line]))
    except csv.Error:  # a stray quote: the Id/Category checks will quote the text as it is
        return line.split(",")


def _slow_parse(data: bytes, expected_rows: int | None, num_classes: int | None,
                frame: pd.DataFrame | None = None) -> tuple[list[Problem], np.ndarray | None]:
    """Every problem, with line numbers. Rows come from pandas' parse when it read only integers
    and every line is a row (the common case: 1-based Ids, a missing row, classes 1..C), else from
    a line-by-line read that also explains what pandas could not parse."""
    report = _Problems()
    rows = _rows_from_frame(data, frame) if frame is not None else None
    if rows is None:
        rows = _rows_from_lines(data.decode("utf-8"), num_classes, report)
    n = len(rows.ids) if expected_rows is None else expected_rows
    if len(rows.ids) == 0:
        report.file("no data rows after the header", f"{n if expected_rows else 'N'} rows, one per test image")
        return report.all(), None
    if len(rows.ids) != n:
        report.file(f"{len(rows.ids):,} data rows", f"{n:,} rows, one per test image")
    _check_categories(rows, num_classes, report)
    predictions = _check_ids(rows, n, report)
    return report.all(), predictions


def _rows_from_frame(data: bytes, frame: pd.DataFrame) -> _Rows | None:
    """Rows from pandas' parse, when row i is certainly on line i + 2 (no blank or CR-only lines)."""
    body = data[data.find(b"\n") + 1:]
    if body.count(b"\r") != body.count(b"\r\n"):
        return None
    if body.count(b"\n") + (not body.endswith(b"\n")) != len(frame):
        return None
    ok = np.ones(len(frame), dtype=bool)
    return _Rows(np.arange(2, len(frame) + 2), frame[0].to_numpy(), ok, frame[1].to_numpy(), ok.copy())


def _rows_from_lines(text: str, num_classes: int | None, report: _Problems) -> _Rows:
    lines = _LINE_END.split(text)
    start, width = _check_header(lines[0], report)
    class_index = f"an integer class index in {_classes(num_classes)}"
    numbers, ids, cats = [], [], []
    for number, line in enumerate(lines[start:], start + 1):
        if not line.strip(" \t"):
            continue  # blank lines are skipped, as pandas and Kaggle do
        numbers.append(number)
        fields = _fields(line)
        if len(fields) != width:
            report.line("number of fields", number, f"{len(fields)} field(s) in {_show(line)}",
                        "2 fields, Id,Category" if width == 2 else f"{width} fields, like the header")
        if len(fields) < 2:
            ids.append(None)
            cats.append(None)
            continue
        ids.append(_integer(fields[0], "Id", number, "an integer Id", report))
        cats.append(_integer(fields[1], "Category", number, class_index, report))
    id_ok = np.array([i is not None for i in ids], dtype=bool)
    cat_ok = np.array([c is not None for c in cats], dtype=bool)
    return _Rows(np.array(numbers, dtype=np.int64), np.array([i or 0 for i in ids], dtype=np.int64), id_ok,
                 np.array([c or 0 for c in cats], dtype=np.int64), cat_ok)


_BIG = 2**62  # larger values are out of range anyway; kept out of the int64 arrays


def _integer(text: str, name: str, number: int, expected: str, report: _Problems) -> int | None:
    if (text.isascii() and text.isdigit()) or _INT.fullmatch(text):
        value = int(text)
        if abs(value) < _BIG:
            return value
        report.line(f"{name} out of range", number, f"{name} {_show(text)} is out of range", expected)
        return None
    report.line(f"{name} not an integer", number, f"{name} {_show(text)} is not an integer", expected)
    return None


def _check_header(first: str, report: _Problems) -> tuple[int, int]:
    """Report header problems; return (index of the first data line, columns a row should have)."""
    names = _fields(first)
    if names == list(HEADER):
        return 1, 2
    if len(names) == 2 and all(_INT.fullmatch(name) for name in names):
        report.file("the header line is missing (line 1 holds data)", "line 1 to be exactly Id,Category", 1)
        return 0, 2
    if names[:2] != list(HEADER):
        hint = ""
        if [name.strip().lower() for name in names[:2]] == ["id", "category"]:
            hint = " (names are case-sensitive, without spaces)"
        elif len(names) == 1 and (";" in first or "\t" in first):
            hint = f" (columns separated by {repr(';') if ';' in first else 'a tab'}, not a comma)"
        report.file(f"header is {_show(first, 60)}{hint}", "exactly Id,Category", 1)
    if len(names) > 2:
        report.file(f"extra columns {', '.join(map(_show, names[2:]))}", "exactly two columns, Id,Category", 1)
    return 1, max(len(names), 2)


def _classes(num_classes: int | None) -> str:
    return f"0..{num_classes - 1}" if num_classes else "0 or more"


def _check_categories(rows: _Rows, num_classes: int | None, report: _Problems) -> None:
    classes = _classes(num_classes)
    bad = rows.cat_ok & (rows.cats < 0)
    if num_classes is not None:
        bad |= rows.cat_ok & (rows.cats >= num_classes)
    where = np.flatnonzero(bad)
    report.lines_at("Category out of range", rows.lines[where],
                    lambda k: f"Category {rows.cats[where[k]]} is out of range", f"a class index in {classes}")
    rows.cat_ok &= ~bad


def _check_ids(rows: _Rows, n: int, report: _Problems) -> np.ndarray:
    """Report 1-based, out-of-range, repeated and missing Ids; return Category per Id (-1 unset)."""
    ids, ok = rows.ids, rows.id_ok
    shift = 0
    if ok.any() and ids[ok].min() == 1 and ids[ok].max() == n:
        report.file(f"Ids run from 1 to {n:,}: they look 1-based",
                    f"Ids 0..{n - 1:,} (the first test image is Id 0; subtract 1 from every Id)")
        shift = 1
    index = ids - shift
    in_range = ok & (index >= 0) & (index < n)
    out = np.flatnonzero(ok & ~in_range)
    report.lines_at("Id out of range", rows.lines[out], lambda k: f"Id {ids[out[k]]} is out of range",
                    f"an Id in 0..{n - 1:,}")
    firsts = np.flatnonzero(in_range)
    if (np.bincount(index[firsts], minlength=n) > 1).any():
        firsts = _report_repeats(rows, index, firsts, report)
    predictions = np.full(n, -1, dtype=np.int64)
    predictions[index[firsts]] = np.where(rows.cat_ok[firsts], rows.cats[firsts], -1)
    seen = np.zeros(n, dtype=bool)
    seen[index[firsts]] = True
    missing = np.flatnonzero(~seen)
    if missing.size and firsts.size:  # with no readable Id at all, the lines above say it all
        shown = ", ".join(str(i + shift) for i in missing[:5]) + (", ..." if missing.size > 5 else "")
        noun = "Id" if missing.size == 1 else "Ids"
        report.file(f"{missing.size:,} {noun} missing: {shown}", f"every Id in 0..{n - 1:,} exactly once")
    return predictions


def _report_repeats(rows: _Rows, index: np.ndarray, candidates: np.ndarray, report: _Problems) -> np.ndarray:
    """Report rows repeating an earlier row's Id; return the rows that count (each Id's first)."""
    # Group the rows by Id, file order kept within a group: the first row of each group counts.
    order = candidates[np.argsort(index[candidates], kind="stable")]
    first_of_group = np.ones(len(order), dtype=bool)
    first_of_group[1:] = index[order][1:] != index[order][:-1]
    group_start = np.maximum.accumulate(np.where(first_of_group, np.arange(len(order)), 0))
    repeats = order[~first_of_group]
    firsts_of_repeats = order[group_start[~first_of_group]]
    by_line = np.argsort(repeats, kind="stable")
    repeats, firsts_of_repeats = repeats[by_line], firsts_of_repeats[by_line]
    report.lines_at("repeated Id", rows.lines[repeats],
                    lambda k: f"Id {rows.ids[repeats[k]]} appears again (first on line "
                              f"{rows.lines[firsts_of_repeats[k]]})",
                    "each Id exactly once")
    return order[first_of_group]
