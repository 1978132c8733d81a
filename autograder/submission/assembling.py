"""Put a submission onto the handout: the staff's handout, with only the files students hand in
taken from the submission (``assemble``), or the worksheet alone with its images
(``assemble_worksheet``, for ``worksheet`` and ``worksheet-export``). Both take the worksheet and
its images by the same rules, so a worksheet scores the same whichever command grades it.

Images: every link in the worksheet (``![alt](path)``, ``<img src="path">``) to a file whose suffix
is in ``IMAGE_SUFFIXES`` is put where the link points from the assembled worksheet. The file is
looked for beside the student's worksheet, then under the submission's root, then by its name
anywhere in the submission (uploads without folders), when exactly one file has that name. The
``IMAGE_DIRS`` folders at the root are taken whole. Links are never followed; nothing lands
outside the assembled tree.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from autograder.submission import limits
from autograder.submission.limits import SubmissionError
from autograder.submission.locating import STAMP, WORKSHEET, Located, handed_in_paths, locate
from autograder.submission.opening import list_files
from autograder.submission.text import decode_text

# The one list of image suffixes (the worksheet's image answers use it too).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".pdf")
IMAGE_DIRS = ("images", "figures")  # image folders taken whole (the worksheet's figures)
_IMG_RE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<img[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"']",
                     re.IGNORECASE)


@dataclass
class Assembly:
    """A submission assembled onto the handout.

    Args:
        workdir: the assembled tree (graded in place).
        taken: relative paths taken from the submission.
        notes: student-facing remarks (files found elsewhere, files ignored, links skipped).
        located: where each handed-in file was found in the submission.
    """

    workdir: Path
    taken: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    located: Located = field(default_factory=Located)

    @property
    def worksheet(self) -> Path | None:
        """The assembled ``WORKSHEET.md`` when the submission held one."""
        return self.workdir / WORKSHEET if WORKSHEET in self.located.found else None


def image_links(text: str) -> list[str]:
    """Image paths linked in markdown (``![alt](path)``) or HTML (``<img src="path">``), in order.

    Args:
        text: a worksheet or one answer.
    """
    return [a or b for a, b in _IMG_RE.findall(text)]


def link_target(link: str) -> PurePosixPath | None:
    """Where an image link points, relative to the worksheet's folder; None for a web address, a
    path leaving the folder, or a suffix not in ``IMAGE_SUFFIXES``. A leading ``/`` means the top of
    the student's repository, as GitHub renders it (``/images/a.png`` reads ``images/a.png``), the
    same reading as the worksheet grader's.

    Args:
        link: as written in the worksheet (``images/loss%20curve.png#x`` reads ``images/loss curve.png``).
    """
    if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.IGNORECASE):
        return None
    clean = unquote(link.split("#")[0].split("?")[0]).replace("\\", "/")
    clean = clean.lstrip("/")
    if not clean:
        return None
    path = PurePosixPath(os.path.normpath(clean))
    if ".." in path.parts or path.suffix.lower() not in IMAGE_SUFFIXES:
        return None
    return path


def _worksheet_images(submission: Path, files: list[str], located: Located, ws_text: str) -> tuple[dict[str, str], list[str]]:
    """Assembled path -> submission path of each image the worksheet links, and notes."""
    images, notes = {}, []
    ws_src = located.found.get(WORKSHEET)
    ws_dir = PurePosixPath(ws_src).parent if ws_src else PurePosixPath(".")
    ws_dest = PurePosixPath(WORKSHEET).parent
    present = set(files)
    for link in image_links(ws_text) if ws_src else []:
        target = link_target(link)
        if target is None:
            continue
        rel = (ws_dest / target).as_posix()
        tries = [(ws_dir / target).as_posix(), located.root + rel]
        src = next((t for t in tries if t in present), None)
        if src is None:
            same = [f for f in files if PurePosixPath(f).name.lower() == target.name.lower()]
            if len(same) == 1:
                src = same[0]
                notes.append(f"matched the image link {link} to {src} by its name")
        if src is not None:
            images[rel] = src
    for f in files:
        if f.startswith(located.root) and PurePosixPath(f).suffix.lower() in IMAGE_SUFFIXES:
            rel = f[len(located.root):]
            if PurePosixPath(rel).parts[0] in IMAGE_DIRS:
                images.setdefault(rel, f)
    return images, notes


def _assemble(submission: Path, dest: Path, wanted: list[str], take: set[str] | None, files: list[str] | None = None,
              links: list[str] | None = None) -> Assembly:
    """Copy the wanted files (all, or those in ``take``) and the worksheet's images into ``dest``."""
    if files is None:
        files, links = list_files(submission)
    result = Assembly(workdir=dest)
    if links:
        result.notes.append(f"skipped symbolic links (hand in the files themselves): {', '.join(links[:5])}")
    located = locate(files, wanted)
    if take is not None:
        located.found = {w: f for w, f in located.found.items() if w in take}
        located.notes = [n for n in located.notes if any(PurePosixPath(t).name.lower() in n.lower() for t in take)]
    result.located = located
    result.notes += located.notes
    text = ""
    if WORKSHEET in located.found:
        try:
            text = decode_text((submission / located.found[WORKSHEET]).read_bytes(), WORKSHEET)
        except (SubmissionError, OSError):
            pass  # the worksheet step reports it
    images, notes = _worksheet_images(submission, files, located, text)
    result.notes += notes
    for rel, f in list(located.found.items()) + sorted(images.items()):
        size = (submission / f).stat().st_size
        if size > limits.MAX_FILE_BYTES:
            result.notes.append(f"skipped {f}: {size / 2**20:.0f} MiB is over the {limits.MAX_FILE_BYTES // 2**20} MiB limit per file")
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        shutil.copyfile(submission / f, target)
        result.taken.append(rel)
    if take is None:
        used = set(located.found.values()) | set(images.values())
        ignored = [f for f in files if f not in used]
        if ignored:
            more = f" and {len(ignored) - 8} more" if len(ignored) > 8 else ""
            result.notes.append(f"not graded (these come from the handout): {', '.join(ignored[:8])}{more}")
        if not located.found:
            result.notes.append(
                f"none of the files you edit was found in your submission ({', '.join(wanted)}); "
                f"every item was graded on the untouched handout.")
    return result


# What a handout folder gains by use and the release never ships (the handout's .gitignore).
NOT_SHIPPED = (".venv", "venv", "__pycache__", "*.pyc", ".pytest_cache", "output", "datasets", "wandb",
               "*.egg-info", ".ipynb_checkpoints", "release")
# What the handout ships for the student's own `check` but the graded child must not find: the
# expected results of the public cases, some of which are graded cases (autograder/grading/public.py).
NOT_GRADED = ("public_checks.pt",)


def assemble(submission: Path | str, handout: Path | str, dest: Path | str) -> Assembly:
    """Copy the handout to ``dest`` and put the student's handed-in files over it.

    Args:
        submission: a folder of the student's files (see ``open_submission``).
        handout: a handout built by ``release`` (its ``.handout.json`` lists the editable files).
        dest: the folder to create.

    A file over ``limits.MAX_FILE_BYTES`` is skipped with a note; links are never followed.
    """
    submission, handout, dest = Path(submission), Path(handout), Path(dest)
    wanted = handed_in_paths(handout)
    # Only what the release shipped: a handout folder someone has worked in (`make test` made .venv,
    # or a link to one; runs in output/, datasets/) would otherwise be copied per student, venv and all.
    shutil.copytree(handout, dest, symlinks=True, ignore=shutil.ignore_patterns(STAMP, *NOT_SHIPPED, *NOT_GRADED))
    return _assemble(submission, dest, wanted, None)


def assemble_worksheet(submission: Path | str, dest: Path | str, wanted: list[str] | None = None,
                       files: list[str] | None = None) -> Assembly:
    """Copy only the submission's worksheet and its images into ``dest`` (created), chosen exactly
    as ``assemble`` chooses them.

    Args:
        submission: a folder of the student's files.
        dest: the folder to create.
        wanted: the handed-in paths (decide the root); default ``handed_in_paths()``.
        files: the submission's files to consider (default: every file under ``submission``).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    wanted = list(wanted) if wanted is not None else handed_in_paths()
    return _assemble(Path(submission), dest, wanted, {WORKSHEET}, files, [] if files is not None else None)
