"""Turn the bytes of a student's worksheet into text, whatever editor saved it.

The reading itself is the door's (``autograder.submission.text``: a byte-order mark, then strict
UTF-8, then charset-normalizer, cp1252 winning a tie), shared with ``grade``, ``check`` and the TA
sheet; here its error becomes the worksheet grader's ``WorksheetError``. An empty file, a file of
only whitespace, and a binary file (a PDF, an image, a zip renamed to .md) raise one error that
names the file and the fix.
"""
from __future__ import annotations

from autograder.submission import UnreadableFile, decode_with_encoding
from autograder.worksheet.common import WorksheetError


def decode_worksheet(data: bytes, name: str = "WORKSHEET.md") -> tuple[str, str]:
    """The text of a worksheet file and the encoding it was read with.

    Args:
        data: the file's bytes.
        name: the file's name, for the message.

    Returns:
        (text without a BOM, encoding name such as ``utf-8`` or ``utf-16-le``).

    Raises:
        WorksheetError: the file is empty, or holds no readable text (binary or undetectable).
    """
    try:
        return decode_with_encoding(data, name)
    except UnreadableFile as e:
        raise WorksheetError(str(e)) from None
