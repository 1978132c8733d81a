"""Name the student a submission belongs to, and list a class's submissions."""
from __future__ import annotations

from pathlib import Path

from autograder.submission.limits import SubmissionError
from autograder.submission.locating import WORKSHEET


def student_name(path: Path | str) -> str:
    """The student a submission belongs to: the zip's stem, the folder's name, or, for a lone
    ``WORKSHEET.md`` (or other file), the name of the folder holding it.

    Args:
        path: a submission folder, ``.zip`` or file.
    """
    path = Path(path)
    if path.suffix.lower() == ".zip" and not path.is_dir():
        return path.stem
    if path.is_file() or path.name.lower() == WORKSHEET.lower():
        return path.resolve().parent.name
    return path.name


def find_students(folder: Path | str) -> dict[str, Path]:
    """Student name -> submission, for every sub-folder or .zip of ``folder`` (sorted by name; a
    name used twice gets ``-2``, ``-3``, ...).

    Args:
        folder: the class's submissions.

    Raises:
        SubmissionError: ``folder`` is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"{folder} is not a folder. Pass the folder that holds one sub-folder or .zip per student.")
    students: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.is_symlink():
            continue
        if path.is_dir() or (path.is_file() and path.suffix.lower() == ".zip"):
            name = student_name(path)
            key, n = name, 2
            while key in students:
                key, n = f"{name}-{n}", n + 1
            students[key] = path
    return students
