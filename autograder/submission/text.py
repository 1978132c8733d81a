"""Read a text file a student (or a TA's spreadsheet program) wrote, whatever its encoding.

Order: a byte-order mark (UTF-8, UTF-16 and UTF-32, as Windows Notepad's "Unicode" and Excel's
"CSV UTF-8" write), then strict UTF-8, then the charset detector ``charset-normalizer``. Among the
detector's equally plausible guesses the Windows code page 1252 wins (what Excel's plain "CSV"
writes in Western locales; short texts otherwise tie with Baltic or Central-European pages, and
the detector lists only one of several code pages that decode a text alike).
"""
from __future__ import annotations

import codecs
from pathlib import Path

from autograder.submission import limits
from autograder.submission.limits import UnreadableFile

# Checked in this order: the UTF-32 LE mark starts with the UTF-16 LE one.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
FIX = "save it as plain text (UTF-8) from your editor and hand it in again"
PREFERRED = ("cp1252",)  # wins a tie among the detector's best guesses
TIE = 0.01  # guesses whose "chaos" is within this of the best one tie


def detect_encoding(data: bytes) -> str | None:
    """The encoding ``data`` is most plausibly written in, or None when it does not look like text.

    A byte-order mark names the encoding of the bytes after it (``utf-16-le``, ...).

    Args:
        data: the file's bytes.
    """
    for bom, name in BOMS:
        if data.startswith(bom):
            try:
                data[len(bom):].decode(name)
                return name
            except UnicodeDecodeError:
                break  # a false mark: detect below
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        return None
    best = min(m.chaos for m in matches)
    tied = {m.encoding for m in matches if m.chaos <= best + TIE}
    if b"\x00" in data:  # only a UTF-16/32 text holds NUL bytes; anything else is binary
        wide = [e for e in tied if e.startswith(("utf_16", "utf_32"))]
        return wide[0] if wide else None
    texts = {str(m) for m in matches if m.chaos <= best + TIE}
    for name in PREFERRED:  # the detector lists one of the code pages that decode alike, so compare texts
        try:
            if name in tied or data.decode(name) in texts:
                return name
        except UnicodeDecodeError:
            continue
    return min(matches, key=lambda m: m.chaos).encoding


def _looks_binary(text: str) -> bool:
    """Control characters rather than prose (a binary file that happened to decode)."""
    sample = text[:4096]
    control = sum(1 for c in sample if (ord(c) < 32 and c not in "\t\n\r\f") or c == "\ufffd")
    return "\x00" in text or control > max(8, len(sample) // 50)


def decode_with_encoding(data: bytes, name: str) -> tuple[str, str]:
    """``data`` as text and the encoding it was read with (see the module docstring).

    Args:
        data: the file's bytes.
        name: the file's name as the student knows it, for messages.

    Returns:
        (the text without a byte-order mark, the encoding, e.g. ``utf-8``, ``utf-16-le``, ``cp1252``).

    Raises:
        UnreadableFile: the file is empty, binary, or in no encoding the detector recognises.
    """
    if not data.strip():
        raise UnreadableFile(f"{name} is empty ({len(data)} bytes); {FIX}.")
    encoding = detect_encoding(data)
    if encoding is None:
        raise UnreadableFile(f"{name} is not a text file (it looks binary: an image, a PDF or a zip "
                             f"renamed?); {FIX}.")
    bom = next((len(b) for b, e in BOMS if e == encoding and data.startswith(b)), 0)
    text = data[bom:].decode(encoding, errors="replace").lstrip("\ufeff")
    if not text.strip():
        raise UnreadableFile(f"{name} holds no text; {FIX}.")
    if _looks_binary(text):
        raise UnreadableFile(f"{name} is not a text file (it looks binary: an image, a PDF or a zip "
                             f"renamed?); {FIX}.")
    return text, encoding


def decode_text(data: bytes, name: str) -> str:
    """``data`` as text (see ``decode_with_encoding``).

    Args:
        data: the file's bytes.
        name: the file's name as the student knows it, for messages.

    Raises:
        UnreadableFile: the file is empty, binary, or in no encoding the detector recognises.
    """
    return decode_with_encoding(data, name)[0]


def read_text(path: Path | str, name: str | None = None) -> str:
    """Read a student's (or TA's) text file, detecting its encoding.

    Args:
        path: the file.
        name: how to call it in messages (default: its file name).

    Raises:
        SubmissionError: the file does not exist or is over ``limits.MAX_FILE_BYTES``.
        UnreadableFile: it is empty, binary, or in an unknown encoding.
    """
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise UnreadableFile(f"{name}: {path} does not exist or is not a file. Pass the path of the file.")
    size = path.stat().st_size
    if size > limits.MAX_FILE_BYTES:
        raise UnreadableFile(f"{name} is {size / 2**20:.0f} MiB, over the {limits.MAX_FILE_BYTES // 2**20} MiB limit per file.")
    return decode_text(path.read_bytes(), name)
