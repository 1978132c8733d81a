"""The commands' entry points to student work: each opens a submission with ``open_submission``,
finds its files with ``locate`` and copies them with the assembly rules, so every command sees the
same files.

- ``open_worksheet``: the worksheet of a folder, zip or lone ``.md`` file, with its images, in a
  temporary folder (``worksheet``, ``worksheet-export``).
- ``read_handed_in``: the bytes of one handed-in file, e.g. ``submission.csv`` (the leaderboard).
"""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from autograder.submission import limits
from autograder.submission.assembling import IMAGE_DIRS, IMAGE_SUFFIXES, assemble_worksheet, image_links, link_target
from autograder.submission.limits import SubmissionError
from autograder.submission.locating import WORKSHEET, handed_in_paths, locate
from autograder.submission.opening import is_zip, list_files, open_submission
from autograder.submission.students import student_name
from autograder.submission.text import decode_text

MAX_BESIDE = 500  # image files beside a lone worksheet considered for links matched by name


@dataclass
class WorksheetCopy:
    """A submission's worksheet and its images, copied out for grading.

    Args:
        path: the copied ``WORKSHEET.md``; None when the submission holds none.
        root: the folder it lies in (image links resolve inside it).
        student: the student's name (``student_name``).
        notes: student-facing remarks (which copy was graded, images matched by name, ...).
        source: where the worksheet came from, for messages (``alice/WORKSHEET.md``,
            ``alice.zip:hw/WORKSHEET.md``); empty when there is none.
    """

    path: Path | None
    root: Path
    student: str
    notes: list[str] = field(default_factory=list)
    source: str = ""


def _stage_lone_file(src: Path, stage: Path) -> None:
    """A lone worksheet file as a submission folder: the file as WORKSHEET.md, and the image files it
    links to or that lie beside it (links matched by name find them)."""
    if src.stat().st_size > limits.MAX_FILE_BYTES:
        raise SubmissionError(f"{src.name} is larger than {limits.MAX_FILE_BYTES // 2**20} MiB.")
    stage.mkdir(parents=True)
    shutil.copyfile(src, stage / WORKSHEET)
    try:
        text = decode_text(src.read_bytes(), src.name)
    except SubmissionError:
        return
    wanted = {t for t in (link_target(link) for link in image_links(text)) if t is not None}
    beside = [p for p in sorted(src.parent.iterdir())[:MAX_BESIDE] if p.suffix.lower() in IMAGE_SUFFIXES]
    for d in IMAGE_DIRS:
        if (src.parent / d).is_dir() and not (src.parent / d).is_symlink():
            wanted |= {p.relative_to(src.parent) for p in sorted((src.parent / d).rglob("*"))[:MAX_BESIDE]
                       if p.suffix.lower() in IMAGE_SUFFIXES}
    for rel in sorted(wanted | {p.relative_to(src.parent) for p in beside}, key=str):
        path = src.parent / rel
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= limits.MAX_FILE_BYTES:
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, stage / rel)


@contextmanager
def open_worksheet(src: Path | str, wanted: list[str] | None = None) -> Iterator[WorksheetCopy]:
    """The worksheet of a submission with its images, in a temporary folder removed on exit.

    The same ``WORKSHEET.md`` and the same images as ``grade`` takes: a zip is unpacked safely and
    its own images are used (never files beside the zip).

    Args:
        src: a submission folder, a ``.zip``, or a worksheet file (any name; images beside it count).
        wanted: the handed-in paths (decide which copy counts); default ``handed_in_paths()``.

    Raises:
        SubmissionError: ``src`` does not exist, or is an unreadable or unsafe zip.
    """
    src = Path(src)
    wanted = list(wanted) if wanted is not None else handed_in_paths()
    with tempfile.TemporaryDirectory(prefix="worksheet-") as tmp:
        tmp = Path(tmp)
        if src.is_file() and not is_zip(src):
            _stage_lone_file(src, tmp / "staged")
            folder, notes = tmp / "staged", []
        else:
            folder, notes = open_submission(src, tmp / "unpacked")
        copy = assemble_worksheet(folder, tmp / "work", wanted)
        found = copy.located.found.get(WORKSHEET)
        source = "" if found is None else str(src) if folder.name == "staged" else \
            f"{src}:{found}" if is_zip(src) else str(src / found)
        yield WorksheetCopy(copy.worksheet, copy.workdir, student_name(src), notes + copy.notes, source)


def read_handed_in(src: Path | str, rel: str, max_bytes: int | None = None) -> tuple[bytes | None, str, list[str]]:
    """The bytes of the file that counts as handout path ``rel`` in a submission.

    Args:
        src: a submission folder or ``.zip`` (a lone file counts when its name is ``rel``'s).
        rel: e.g. ``submission.csv``.
        max_bytes: a larger file is a SubmissionError (default ``limits.MAX_FILE_BYTES``).

    Returns:
        (bytes, or None when the submission has no such file; where it was found, e.g.
        ``hw/submission.csv``; notes on the choice).

    Raises:
        SubmissionError: a missing path, an unreadable or unsafe zip, or the file is too large.
    """
    src = Path(src)
    most = max_bytes if max_bytes is not None else limits.MAX_FILE_BYTES
    with tempfile.TemporaryDirectory(prefix="handed-in-") as tmp:
        folder, notes = open_submission(src, Path(tmp) / "unpacked")
        files, _ = list_files(folder)
        wanted = handed_in_paths()
        if rel not in wanted:
            wanted.append(rel)
        located = locate(files, wanted)
        found = located.found.get(rel)
        name = Path(rel).name.lower()
        notes += [n for n in located.notes if name in n.lower()]
        if found is None:
            return None, "", notes
        size = (folder / found).stat().st_size
        if size > most:
            raise SubmissionError(f"{found} is {size:,} bytes, too large to be a {Path(rel).name} (at most {most:,}).")
        return (folder / found).read_bytes(), found, notes
