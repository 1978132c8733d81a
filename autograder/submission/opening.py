"""Open a submission safely: a folder (read in place), a ``.zip`` (checked, then unpacked) or a
single file (copied), and list its files.

A zip is checked before anything is extracted: no absolute paths or ``..`` (path traversal), no
symbolic links, at most ``limits.MAX_MEMBERS`` entries and ``limits.MAX_TOTAL_BYTES`` in all, no
entry that expands more than ``limits.MAX_RATIO`` times (zip bombs), and an entry that turns out
larger than its header says stops the extraction. Files over ``limits.MAX_FILE_BYTES`` are
skipped with a note.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from autograder.submission import limits
from autograder.submission.limits import SubmissionError

IGNORED_PARTS = ("__MACOSX", "__pycache__", ".git", ".ipynb_checkpoints")  # never part of a submission


def _check_member(info: zipfile.ZipInfo) -> str:
    """The safe relative path of one zip entry, or SubmissionError."""
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    mode = info.external_attr >> 16
    if path.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in path.parts:
        raise SubmissionError(
            f"zip entry {info.filename!r} points outside the zip's folder (absolute path or '..'). "
            f"Zip the folder itself, e.g. `cd handout && zip -r ../submission.zip models WORKSHEET.md`."
        )
    if stat.S_ISLNK(mode):
        raise SubmissionError(f"zip entry {info.filename!r} is a symbolic link. Put the file itself in the zip.")
    if info.file_size > 2**20 and info.file_size > limits.MAX_RATIO * max(info.compress_size, 1):
        raise SubmissionError(f"zip entry {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}x: not a normal file.")
    return path.as_posix()


def extract_zip(src: Path, dest: Path) -> list[str]:
    """Extract a checked zip into ``dest``; return notes on entries skipped for their size.

    Args:
        src: the zip.
        dest: the folder to extract into (created).

    Raises:
        SubmissionError: an unreadable or unsafe zip (see the module docstring).
    """
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError) as e:
        raise SubmissionError(f"{src.name} is not a readable zip file ({e}). Zip your files again and resubmit.") from None
    dest.mkdir(parents=True, exist_ok=True)
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.MAX_MEMBERS:
            raise SubmissionError(f"{src.name} holds {len(infos)} entries; at most {limits.MAX_MEMBERS} are allowed.")
        names = [_check_member(i) for i in infos]
        big = [i.filename for i in infos if i.file_size > limits.MAX_FILE_BYTES]
        total = sum(i.file_size for i in infos if i.file_size <= limits.MAX_FILE_BYTES)
        if total > limits.MAX_TOTAL_BYTES:
            raise SubmissionError(
                f"{src.name} expands to {total / 2**20:.0f} MiB; at most {limits.MAX_TOTAL_BYTES // 2**20} MiB. "
                f"Leave datasets, checkpoints and outputs out of the submission."
            )
        for info, name in zip(infos, names):
            if info.is_dir() or not name or name == "." or info.file_size > limits.MAX_FILE_BYTES:
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with zf.open(info) as fin, open(target, "wb") as fout:
                    while chunk := fin.read(2**20):
                        written += len(chunk)
                        if written > info.file_size or written > limits.MAX_FILE_BYTES:  # a lying header
                            raise SubmissionError(f"zip entry {info.filename!r} is larger than its header says.")
                        fout.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as e:
                raise SubmissionError(f"zip entry {info.filename!r} cannot be extracted ({e}). Zip your files again "
                                      f"(plain zip, no password) and resubmit.") from None
    if not big:
        return []
    return [f"skipped {len(big)} file(s) over {limits.MAX_FILE_BYTES // 2**20} MiB in your zip (datasets, checkpoints?): "
            f"{', '.join(big[:3])}"]


def is_zip(src: Path) -> bool:
    """Whether ``src`` is to be read as a zip (its name ends in .zip, or its bytes are a zip)."""
    return src.suffix.lower() == ".zip" or zipfile.is_zipfile(src)


def open_submission(src: Path | str, scratch: Path | str) -> tuple[Path, list[str]]:
    """The folder holding a submission's files (the folder itself, or a zip/file unpacked into
    ``scratch``) and notes for the student.

    Args:
        src: a folder, a ``.zip``, or a single file (e.g. ``vit.py``).
        scratch: an empty folder to unpack into.

    Raises:
        SubmissionError: a missing path, an unreadable or unsafe zip, a single file over the limit.
    """
    src, scratch = Path(src), Path(scratch)
    if src.is_symlink() and not src.exists():
        raise SubmissionError(f"{src} is a broken symbolic link.")
    if src.is_dir():
        return src, []
    if not src.is_file():
        raise SubmissionError(f"submission {src} does not exist. Pass a folder or a .zip of your files.")
    scratch.mkdir(parents=True, exist_ok=True)
    if is_zip(src):
        return scratch, extract_zip(src, scratch)
    if src.stat().st_size > limits.MAX_FILE_BYTES:
        raise SubmissionError(f"{src.name} is larger than {limits.MAX_FILE_BYTES // 2**20} MiB.")
    shutil.copyfile(src, scratch / src.name)
    return scratch, []


def list_files(root: Path | str) -> tuple[list[str], list[str]]:
    """Regular files under ``root`` (relative, ``/``-separated, sorted) and the symbolic links skipped.

    macOS litter (``._*``, ``.DS_Store``) and ``IGNORED_PARTS`` folders are left out.

    Args:
        root: a submission folder.
    """
    root = Path(root)
    files, links = [], []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root)
        for d in list(dirnames):
            if d in IGNORED_PARTS or (Path(dirpath) / d).is_symlink():
                if (Path(dirpath) / d).is_symlink():
                    links.append((rel_dir / d).as_posix())
                dirnames.remove(d)
        for f in filenames:
            path = Path(dirpath) / f
            rel = (rel_dir / f).as_posix()
            if f.startswith("._") or f == ".DS_Store":
                continue
            if path.is_symlink():
                links.append(rel)
            elif path.is_file():
                files.append(rel)
    return sorted(files), sorted(links)
