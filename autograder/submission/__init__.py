"""The one door to student work: the only code that opens what a student hands in.

Every command (``grade``, ``grade-all``, ``worksheet``, ``worksheet-export``, ``check``, the Kaggle
leaderboard) goes through this package, so a fix here fixes them all. One small module per job:

- ``limits``: the size limits and ``SubmissionError``.
- ``opening``: open a folder, ``.zip`` or single file safely; list its files.
- ``text``: read a text file in whatever encoding it was saved (BOM, then a charset detector).
- ``locating``: which file counts as which handout file (one rule; see ``locate``).
- ``assembling``: put the handed-in files (and the worksheet's images) onto the handout.
- ``students``: name the student; list a class.
- ``door``: the commands' entry points (``open_worksheet``, ``read_handed_in``).
"""
from autograder.submission.assembling import (
    IMAGE_DIRS, IMAGE_SUFFIXES, Assembly, assemble, assemble_worksheet, image_links, link_target,
)
from autograder.submission.door import WorksheetCopy, open_worksheet, read_handed_in
from autograder.submission.limits import SubmissionError, UnreadableFile
from autograder.submission.locating import (
    SUBMISSION_CSV, SUBMISSION_FILES, WORKSHEET, Located, handed_in_paths, locate, locate_one,
)
from autograder.submission.opening import IGNORED_PARTS, extract_zip, list_files, open_submission
from autograder.submission.students import find_students, student_name
from autograder.submission.text import decode_text, decode_with_encoding, detect_encoding, read_text

__all__ = [
    "IMAGE_DIRS", "IMAGE_SUFFIXES", "IGNORED_PARTS", "SUBMISSION_CSV", "SUBMISSION_FILES", "WORKSHEET",
    "Assembly", "Located", "SubmissionError", "UnreadableFile", "WorksheetCopy",
    "assemble", "assemble_worksheet", "decode_text", "decode_with_encoding", "detect_encoding", "extract_zip", "find_students",
    "handed_in_paths", "image_links", "link_target", "list_files", "locate", "locate_one", "open_submission",
    "open_worksheet", "read_handed_in", "read_text", "student_name",
]
