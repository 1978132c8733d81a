"""Turn the bytes of a student's worksheet into text, whatever editor saved it.

Order: a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32: Windows Notepad's "Unicode" is UTF-16 LE
with a BOM), then strict UTF-8, then charset-normalizer's detection (cp1252, Latin-1, UTF-16
without a BOM, ...). An empty file, a file of only whitespace, and a binary file (a PDF, an image,
a zip renamed to .md) raise one ``WorksheetError`` that names the file and the fix.
"""
from __future__ import annotations

import codecs

from autograder.worksheet.common import WorksheetError

# longest first: the UTF-32 LE mark starts with the UTF-16 LE one
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_FIX = "save it as plain text (UTF-8) from your editor, or copy the blank WORKSHEET.md again and fill it in"


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
    if not data.strip():
        raise WorksheetError(f"{name} is empty ({len(data)} bytes); {_FIX}.")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _checked(data[len(bom):].decode(encoding), name), encoding
            except UnicodeDecodeError:
                break  # a false BOM: detect below
    try:
        return _checked(data.decode("utf-8"), name), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise WorksheetError(f"{name} is not a text file (it looks binary: an image, a PDF or a zip?); {_FIX}.")
    return _checked(str(best), name), best.encoding


def _checked(text: str, name: str) -> str:
    """``text``, unless it is control characters rather than prose (a binary file that happened to decode)."""
    if not text.strip():
        raise WorksheetError(f"{name} holds no text; {_FIX}.")
    sample = text[:4096]
    control = sum(1 for c in sample if (ord(c) < 32 and c not in "\t\n\r\f") or c == "\ufffd")
    if control > max(8, len(sample) // 50):
        raise WorksheetError(f"{name} is not a text file (it looks binary: an image, a PDF or a zip?); {_FIX}.")
    return text
