"""What a submission may hold, and the one error every door function raises.

The limits are read at call time (``limits.MAX_FILE_BYTES``), so a test or a staff script can
lower them for one run.
"""
from __future__ import annotations

MAX_FILE_BYTES = 64 * 2**20  # one file
MAX_TOTAL_BYTES = 512 * 2**20  # everything, uncompressed
MAX_MEMBERS = 5000  # entries in a zip
MAX_RATIO = 200  # uncompressed / compressed size of one zip entry above 1 MiB (zip bombs)


class SubmissionError(ValueError):
    """The submission (or one of its files) cannot be read: a bad or unsafe zip, a missing path,
    a file too large, a text file that is empty, binary or in an unknown encoding. The message is
    written for the student: it names the file, what is wrong and how to fix it."""


class UnreadableFile(SubmissionError):
    """One text file of a submission cannot be read as text (empty, binary, unknown encoding)."""
