"""``grade`` and ``grade-all``: grade one submission, or a whole class in parallel.

One submission, step by step:
    ``open_submission`` (a folder, a .zip or a single file; zips checked for path traversal, links
    and bombs) -> ``assemble`` (the staff handout, with only the files students edit taken from
    the submission) -> ``grade_workdir`` (code items in one sandbox, then the worksheet and the
    Kaggle item; any failure costs only its own item) -> ``write_results`` (Gradescope's schema,
    written atomically, always).

A class: ``grade_all`` runs ``grade_submission`` for every sub-folder or .zip of a folder in a
process pool, writes ``<name>.json`` per student, ``gradebook.csv`` (one row per student, one
column per item), and optionally an nbgrader gradebook database (``nbgrader export`` reads it).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import stat
import sys
import tempfile
import traceback
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.release import STAFF_ROOT, STAMP, cached_handout, read_stamp
from autograder.results import TestResult, write_results

SUBMISSION_FILES = ("submission.csv",)  # handed in besides the files with solution regions
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
IMAGE_DIRS = ("images", "figures")  # image folders taken whole (the worksheet's figures)
IGNORED_PARTS = ("__MACOSX", "__pycache__", ".git", ".ipynb_checkpoints")

# Limits on what a submission may hold (a zip is checked before anything is extracted).
MAX_FILE_BYTES = 64 * 2**20  # one file
MAX_TOTAL_BYTES = 512 * 2**20  # everything, uncompressed
MAX_MEMBERS = 5000  # entries in a zip
MAX_RATIO = 200  # uncompressed / compressed size of one zip entry above 1 MiB (zip bombs)


class SubmissionError(ValueError):
    """The submission cannot be read (bad zip, path traversal, link, too large); a student-facing message."""


@dataclass
class Assembly:
    """A submission assembled onto the handout.

    Args:
        workdir: the assembled tree (graded in place).
        taken: relative paths taken from the submission.
        notes: student-facing remarks (files found elsewhere, files ignored, links skipped).
    """

    workdir: Path
    taken: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Reading a submission
# --------------------------------------------------------------------------------------------

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
    if info.file_size > 2**20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise SubmissionError(f"zip entry {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}x: not a normal file.")
    return path.as_posix()


def _extract_zip(src: Path, dest: Path) -> list[str]:
    """Extract a checked zip into ``dest``; return notes on entries skipped for their size."""
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError) as e:
        raise SubmissionError(f"{src.name} is not a readable zip file ({e}). Zip your files again and resubmit.") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise SubmissionError(f"{src.name} holds {len(infos)} entries; at most {MAX_MEMBERS} are allowed.")
        names = [_check_member(i) for i in infos]
        big = [i.filename for i in infos if i.file_size > MAX_FILE_BYTES]
        total = sum(i.file_size for i in infos if i.file_size <= MAX_FILE_BYTES)
        if total > MAX_TOTAL_BYTES:
            raise SubmissionError(
                f"{src.name} expands to {total / 2**20:.0f} MiB; at most {MAX_TOTAL_BYTES // 2**20} MiB. "
                f"Leave datasets, checkpoints and outputs out of the submission."
            )
        for info, name in zip(infos, names):
            if info.is_dir() or not name or name == "." or info.file_size > MAX_FILE_BYTES:
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with zf.open(info) as fin, open(target, "wb") as fout:
                while chunk := fin.read(2**20):
                    written += len(chunk)
                    if written > info.file_size or written > MAX_FILE_BYTES:  # a lying header
                        raise SubmissionError(f"zip entry {info.filename!r} is larger than its header says.")
                    fout.write(chunk)
    if not big:
        return []
    return [f"skipped {len(big)} file(s) over {MAX_FILE_BYTES // 2**20} MiB in your zip (datasets, checkpoints?): "
            f"{', '.join(big[:3])}"]


def open_submission(src: Path, scratch: Path) -> tuple[Path, list[str]]:
    """The folder holding a submission's files (the folder itself, or a zip/file unpacked into
    ``scratch``) and notes for the student.

    Args:
        src: a folder, a ``.zip``, or a single file (e.g. ``vit.py``).
        scratch: an empty folder to unpack into.

    Raises:
        SubmissionError: a missing path, an unreadable or unsafe zip.
    """
    src = Path(src)
    if src.is_symlink() and not src.exists():
        raise SubmissionError(f"{src} is a broken symbolic link.")
    if src.is_dir():
        return src, []
    if not src.is_file():
        raise SubmissionError(f"submission {src} does not exist. Pass a folder or a .zip of your files.")
    scratch.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(src) or src.suffix.lower() == ".zip":
        return scratch, _extract_zip(src, scratch)
    if src.stat().st_size > MAX_FILE_BYTES:
        raise SubmissionError(f"{src.name} is larger than {MAX_FILE_BYTES // 2**20} MiB.")
    shutil.copyfile(src, scratch / src.name)
    return scratch, []


def list_files(root: Path) -> tuple[list[str], list[str]]:
    """Regular files under ``root`` (relative, ``/``-separated) and the symbolic links skipped.

    Args:
        root: a submission folder.
    """
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


def locate(files: list[str], wanted: list[str]) -> tuple[dict[str, str], list[str], str]:
    """Map each wanted handout path to the submission file that holds it.

    The submission's root is the folder prefix under which most wanted paths are found (so
    ``student/models/vit.py`` in a zip is found). A wanted file missing there is matched by its
    name when both that name is unique among the wanted files and exactly one submitted file has it
    (Gradescope uploads of single files arrive flat).

    Args:
        files: the submission's files, relative paths.
        wanted: handout paths students hand in.

    Returns:
        (handout path -> submitted path, notes for the student, the submission's root prefix).
    """
    prefixes: dict[str, int] = {}
    for f in files:
        for w in wanted:
            if f == w or f.endswith("/" + w):
                prefix = f[: len(f) - len(w)]
                prefixes[prefix] = prefixes.get(prefix, 0) + 1
    root = min(prefixes, key=lambda p: (-prefixes[p], p.count("/"), p)) if prefixes else ""
    found, notes = {}, []
    in_root = set(files)
    for w in wanted:
        if root + w in in_root:
            found[w] = root + w
    base = PurePosixPath
    for w in wanted:
        if w in found or sum(base(x).name == base(w).name for x in wanted) != 1:
            continue
        same = [f for f in files if base(f).name == base(w).name and f not in found.values()]
        if len(same) == 1:
            found[w] = same[0]
            notes.append(f"found {same[0]} and graded it as {w}")
    return found, notes, root


def _worksheet_images(text: str) -> list[str]:
    """Relative image paths the worksheet references (``![alt](path)`` and ``<img src=...>``)."""
    refs = re.findall(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)", text) + re.findall(r"<img[^>]*\bsrc=[\"']([^\"']+)", text)
    return [r for r in refs if not re.match(r"^[a-z]+:", r, re.IGNORECASE)]


def assemble(submission: Path, handout: Path, dest: Path) -> Assembly:
    """Copy the handout to ``dest`` and put the student's editable files over it.

    Args:
        submission: a folder of the student's files (see ``open_submission``).
        handout: a handout built by ``release`` (its ``.handout.json`` lists the editable files).
        dest: the folder to create.

    A file over ``MAX_FILE_BYTES`` is skipped with a note; links are never followed.
    """
    stamp = read_stamp(handout)
    shutil.copytree(handout, dest, ignore=shutil.ignore_patterns(STAMP))
    result = Assembly(workdir=dest)
    files, links = list_files(submission)
    if links:
        result.notes.append(f"skipped symbolic links (hand in the files themselves): {', '.join(links[:5])}")
    wanted = list(stamp["editable"]) + [s for s in SUBMISSION_FILES if s not in stamp["editable"]]
    found, notes, root = locate(files, wanted)
    result.notes += notes
    # images the worksheet shows, and the image folders
    images: dict[str, str] = {}
    if "WORKSHEET.md" in found:
        text = (submission / found["WORKSHEET.md"]).read_text(encoding="utf-8", errors="replace")
        base = PurePosixPath(found["WORKSHEET.md"]).parent
        for ref in _worksheet_images(text):
            p = PurePosixPath(os.path.normpath((base / ref).as_posix()))
            if ".." in p.parts or p.is_absolute() or p.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if p.as_posix() in set(files):
                rel = p.relative_to(PurePosixPath(root)) if root and p.is_relative_to(root) else p
                images[rel.as_posix()] = p.as_posix()
    for f in files:
        if f.startswith(root) and PurePosixPath(f).suffix.lower() in IMAGE_SUFFIXES:
            rel = f[len(root):]
            if PurePosixPath(rel).parts[0] in IMAGE_DIRS:
                images.setdefault(rel, f)
    for rel, f in list(found.items()) + sorted(images.items()):
        size = (submission / f).stat().st_size
        if size > MAX_FILE_BYTES:
            result.notes.append(f"skipped {f}: {size / 2**20:.0f} MiB is over the {MAX_FILE_BYTES // 2**20} MiB limit per file")
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
        shutil.copyfile(submission / f, target)
        result.taken.append(rel)
    used = set(found.values()) | set(images.values())
    ignored = [f for f in files if f not in used]
    if ignored:
        more = f" and {len(ignored) - 8} more" if len(ignored) > 8 else ""
        result.notes.append(f"not graded (these come from the handout): {', '.join(ignored[:8])}{more}")
    if not found:
        result.notes.append(
            f"none of the files you edit was found in your submission ({', '.join(wanted)}); "
            f"every item was graded on the untouched handout."
        )
    return result


# --------------------------------------------------------------------------------------------
# Grading an assembled tree
# --------------------------------------------------------------------------------------------

def _grader_error(name: str, where: str, max_score: float = 0.0) -> TestResult:
    detail = traceback.format_exc(limit=-3).strip()
    return TestResult(
        name=name, score=0.0, max_score=max_score, status="failed",
        output=f"The grader could not grade {where}; this item scores 0. Tell your TA.\n{detail}",
    )


def _code_item_fallback(error_where: str) -> list[TestResult]:
    """One zero per code item, when the grading of code items itself failed."""
    try:
        from autograder.grading import load_rubric

        items = load_rubric().get("items", {})
        names = {k: float(v.get("points", 0)) for k, v in items.items()} if isinstance(items, dict) else {}
    except Exception:
        names = {}
    if not names:
        return [_grader_error("code/items", error_where)]
    return [_grader_error(name, error_where, pts) for name, pts in names.items()]


def grade_code(workdir: Path, limits=None, privileged: bool | None = None) -> tuple[list[TestResult], list[str]]:
    """Code items of ``workdir`` in one sandbox; returns (results, sandbox protections in force).

    Args:
        workdir: an assembled submission.
        limits: ``autograder.sandbox.Limits``; default its defaults.
        privileged: the sandbox mode (None: full sandbox when root).
    """
    try:
        from autograder.sandbox import Limits, Sandbox

        limits = limits or Limits()
        # A class (grade-all) forks every child from one warm server; one submission starts a fresh
        # child: the server's up-front imports cost more than they save for a single child (bench_grade).
        zygote = _CLASS.get("zygote")
        from autograder.grading import grade_code_items, load_rubric
    except ImportError:
        return _code_item_fallback("the code items (grading modules missing)"), []
    protections: list[str] = []
    try:
        rubric = _CLASS.get("rubric") or load_rubric()
        _compute_references()  # while the warm server may still be importing (a no-op once made)
        with Sandbox(workdir, limits=limits, privileged=privileged, zygote=zygote) as sb:
            protections = list(sb.protections)
            return list(grade_code_items(workdir, sb, rubric=rubric)), protections
    except Exception:
        return _code_item_fallback("the code items"), protections


def grade_extras(workdir: Path, repo: Path = STAFF_ROOT) -> list[TestResult]:
    """The worksheet items and the Kaggle item of ``workdir`` (parsed in this process: no student code runs).

    Args:
        workdir: an assembled submission.
        repo: the staff repository (its WORKSHEET.md holds the answer key).
    """
    tests: list[TestResult] = []
    try:
        from autograder.worksheet import grade_worksheet
    except ImportError:
        grade_worksheet = None
    if grade_worksheet is not None:
        try:
            staff = Path(repo) / "WORKSHEET.md"
            tests += list(grade_worksheet(workdir / "WORKSHEET.md", staff_worksheet=staff if staff.is_file() else None))
        except Exception:
            tests.append(_grader_error("worksheet", "your WORKSHEET.md"))
    try:
        from autograder.kaggle import grade_submission_item
    except ImportError:
        grade_submission_item = None
    if grade_submission_item is not None:
        try:
            tests.append(grade_submission_item(workdir))
        except Exception:
            tests.append(_grader_error("kaggle/submission", "your submission.csv"))
    return tests


def _summary(assembly: Assembly | None, protections: list[str], problems: list[str]) -> str:
    lines = []
    if problems:
        lines += [f"PROBLEM: {p}" for p in problems]
    if assembly is not None:
        lines.append(f"Files graded from your submission: {', '.join(assembly.taken) or 'none'}.")
        lines += [f"Note: {n}" for n in assembly.notes]
    if protections:
        lines.append("Your code ran in a sandbox with these protections in force:")
        lines += [f"- {p}" for p in protections]
    else:
        lines.append("Sandbox protections in force: none reported (the code items did not run in a sandbox).")
    return "\n".join(lines)


def grade_submission(
    submission: Path,
    out: Path,
    repo: Path = STAFF_ROOT,
    handout: Path | None = None,
    limits=None,
    privileged: bool | None = None,
    name: str | None = None,
) -> dict:
    """Grade one submission and write ``out`` (Gradescope's results.json); return the object written.

    Never raises on a student's files: a problem costs only the affected items, and ``out`` is
    always written (atomically, replacing any earlier file).

    Args:
        submission: a folder, a .zip or a single file.
        out: the results file to write.
        repo: the staff repository (reference code, answer keys).
        handout: a handout built by ``release`` (default: built from ``repo`` and cached).
        limits: sandbox limits (``autograder.sandbox.Limits``).
        privileged: the sandbox mode (None: full sandbox when root).
        name: the student's name, kept in the results' ``extra_data``.
    """
    out = Path(out).resolve()
    problems: list[str] = []
    tests: list[TestResult] = []
    protections: list[str] = []
    assembly = None
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        tmp = Path(tmp)
        try:
            handout = Path(handout) if handout else cached_handout(repo)
            try:
                folder, notes = open_submission(Path(submission), tmp / "unpacked")
                assembly = assemble(folder, handout, tmp / "work")
                assembly.notes[:0] = notes
            except SubmissionError as e:
                problems.append(f"{e} Every item was graded on the untouched handout.")
                shutil.rmtree(tmp / "work", ignore_errors=True)
                (tmp / "empty").mkdir()
                assembly = assemble(tmp / "empty", handout, tmp / "work")
            code, protections = grade_code(assembly.workdir, limits, privileged)
            tests += code
            tests += grade_extras(assembly.workdir, repo)
        except Exception:
            problems.append("the grader failed before finishing; the items it did not reach are missing. Tell your TA.")
            tests.append(_grader_error("grader", "this submission"))
    extra = {"student": name or Path(submission).stem, "taken": assembly.taken if assembly else [],
             "protections": protections}
    return write_results(str(out), tests, _summary(assembly, protections, problems), extra)


# --------------------------------------------------------------------------------------------
# A whole class
# --------------------------------------------------------------------------------------------

def find_students(folder: Path) -> dict[str, Path]:
    """Student name -> submission, for every sub-folder or .zip of ``folder`` (sorted by name).

    Args:
        folder: the class's submissions.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"{folder} is not a folder. Pass the folder that holds one sub-folder or .zip per student.")
    students: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.is_symlink():
            continue
        if path.is_dir() or (path.is_file() and path.suffix.lower() == ".zip"):
            name = path.name if path.is_dir() else path.stem
            key, n = name, 2
            while key in students:
                key, n = f"{name}-{n}", n + 1
            students[key] = path
    return students


_CLASS: dict = {}  # what every student of a grade-all run shares, made once by _preload (rubric, warm server)


def _preload(limits=None) -> None:
    """Everything a class shares, made once per ``grade-all`` run before any student is graded.

    Starts the warm sandbox server first (it imports torch & co. while this process does), imports
    the grading stack, loads the code rubric and computes every item's reference cases (seeded
    inputs, weights, reference outputs and gradients), then waits for the warm server. Forked
    workers inherit all of it, and every student's child forks from the one warm server.

    Args:
        limits: the run's sandbox limits (the warm server's thread count follows them).
    """
    zygote = None
    try:
        from autograder.sandbox import Limits, warm_zygote

        zygote = warm_zygote(threads=(limits or Limits()).threads)
    except ImportError:
        pass
    for name in ("torch", "timm", "autograder.grading", "autograder.sandbox", "autograder.worksheet", "autograder.kaggle"):
        try:
            __import__(name)
        except ImportError:
            pass
    try:
        from autograder.grading import load_rubric

        _CLASS["rubric"] = load_rubric()
    except Exception:  # noqa: BLE001 - then each student's grading loads (and reports) it itself
        _CLASS.clear()
    _CLASS["zygote"] = zygote
    _compute_references()
    if zygote is not None:
        zygote.wait_ready()  # before forking workers: they inherit its state instead of each reading it


def _compute_references() -> None:
    """Every item's reference cases, made now (once per process) instead of item by item.

    At one thread, as ``grade_code_items`` makes them (the same bits). A case that fails here is
    left to its item, which reports the failure.
    """
    try:
        import torch

        from autograder.grading import ITEM_NAMES, cases_for
        from autograder.grading.reference import ITEMS
    except ImportError:
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name in ITEM_NAMES:
            try:
                cases_for(ITEMS[name])
            except Exception:  # noqa: BLE001
                pass
    finally:
        torch.set_num_threads(threads)


def _init_worker(threads: int) -> None:
    """Give each grading process its share of the CPUs (no oversubscription with --jobs)."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _grade_one(args: tuple) -> tuple[str, dict]:
    name, submission, out, repo, handout, limits, privileged = args
    try:
        data = grade_submission(submission, out, repo, handout, limits, privileged, name=name)
    except BaseException:  # pragma: no cover - grade_submission does not raise; belt and braces
        data = write_results(str(out), [_grader_error("grader", name)], "The grader failed on this submission.")
    return name, data


def write_gradebook(results: dict[str, dict], path: Path) -> Path:
    """``gradebook.csv``: one row per student, one column per item (scores), and the total.

    Args:
        results: student name -> results.json object.
        path: the CSV to write.
    """
    import pandas as pd

    rows, columns = [], []
    for name in sorted(results):
        row = {"student": name}
        for t in results[name].get("tests", []):
            row[t["name"]] = t["score"]
            if t["name"] not in columns:
                columns.append(t["name"])
        row["total"] = results[name].get("score", 0.0)
        rows.append(row)
    df = pd.DataFrame(rows, columns=["student", *columns, "total"])
    tmp = Path(f"{path}.tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


def write_nbgrader_gradebook(results: dict[str, dict], db: str, assignment: str) -> None:
    """Put the scores into an nbgrader gradebook so `nbgrader export` reports them.

    One nbgrader notebook per item family (``vit``, ``worksheet``, ...), one grade cell per item
    (its name and max score); each student's scores go in as auto scores.

    Args:
        results: student name -> results.json object.
        db: a database URL (``sqlite:///gradebook.db``) or a path to a sqlite file.
        assignment: the nbgrader assignment name.
    """
    import warnings

    from nbgrader.api import Gradebook

    # A new gradebook runs nbgrader's `alembic` script: make this Python's scripts findable.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    url = db if "://" in db else f"sqlite:///{Path(db).resolve()}"
    cells: dict[str, float] = {}
    for data in results.values():
        for t in data.get("tests", []):
            cells.setdefault(t["name"], float(t["max_score"]))
    notebooks = sorted({name.split("/")[0] for name in cells})
    with Gradebook(url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy warnings from inside nbgrader's add_submission
        gb.update_or_create_assignment(assignment)
        for nb in notebooks:
            try:
                gb.find_notebook(nb, assignment)
            except Exception:
                gb.add_notebook(nb, assignment)
        for name, max_score in cells.items():
            gb.update_or_create_grade_cell(name, name.split("/")[0], assignment, max_score=max_score, cell_type="code")
        for student, data in results.items():
            gb.update_or_create_student(student)
            try:
                gb.find_submission(assignment, student)
            except Exception:
                gb.add_submission(assignment, student)
            for t in data.get("tests", []):
                grade = gb.find_grade(t["name"], t["name"].split("/")[0], assignment, student)
                grade.auto_score = float(t["score"])
            gb.db.commit()


def grade_all(
    folder: Path,
    out: Path,
    jobs: int = 1,
    repo: Path = STAFF_ROOT,
    limits=None,
    privileged: bool | None = None,
    nbgrader_db: str | None = None,
    assignment: str = "vision-zoo",
    progress: bool = True,
    handout: Path | None = None,
) -> dict[str, dict]:
    """Grade every student of ``folder`` into ``out`` (``<name>.json`` each, ``gradebook.csv``).

    Args:
        folder: one sub-folder or .zip per student.
        out: the output folder.
        jobs: students graded at once (each in its own process and sandbox).
        repo: the staff repository.
        limits: sandbox limits.
        privileged: the sandbox mode (None: full sandbox when root).
        nbgrader_db: also write the scores into this nbgrader gradebook (URL or sqlite path).
        assignment: the nbgrader assignment name.
        progress: show a tqdm progress bar.
        handout: a handout built by ``release`` (default: built from ``repo`` and cached).
    """
    from tqdm import tqdm

    students = find_students(folder)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    handout = Path(handout) if handout else cached_handout(repo)  # built once per version of the staff files, shared by every job
    work = [(n, p, out / f"{n}.json", repo, handout, limits, privileged) for n, p in students.items()]
    bar = tqdm(total=len(work), desc="grading", unit="student", disable=not progress)
    _preload(limits)  # once for the class: imports, rubric, reference cases, the warm sandbox server
    try:
        results = _grade_class(work, jobs, bar)
    finally:
        _CLASS.clear()
    bar.close()
    write_gradebook(results, out / "gradebook.csv")
    if nbgrader_db:
        write_nbgrader_gradebook(results, nbgrader_db, assignment)
    return results


def _grade_class(work: list[tuple], jobs: int, bar) -> dict[str, dict]:
    """Student name -> results, graded in this process (``jobs`` 1) or in a pool of forked workers."""
    results: dict[str, dict] = {}
    if jobs <= 1:
        for item in work:
            name, data = _grade_one(item)
            results[name] = data
            bar.update()
    else:
        ctx = multiprocessing.get_context("fork")  # workers inherit the imports and references; no __main__ re-run
        threads = max(1, (os.cpu_count() or 1) // jobs)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                                 initargs=(threads,)) as pool:
            futures = {pool.submit(_grade_one, item): item for item in work}
            for fut in as_completed(futures):
                item = futures[fut]
                try:
                    name, data = fut.result()
                except Exception:
                    name = item[0]
                    data = write_results(str(item[2]), [_grader_error("grader", name)], "The grader failed on this submission.")
                results[name] = data
                bar.update()
    return results


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def _limits(args: argparse.Namespace):
    try:
        from autograder.sandbox import Limits
    except ImportError:
        return None
    overrides = {}
    if args.item_timeout is not None:
        overrides.update(item_wall_s=args.item_timeout, item_cpu_s=args.item_timeout)
    if args.memory_mb is not None:
        overrides["memory_mb"] = args.memory_mb
    return Limits(**overrides)


def _privileged(args: argparse.Namespace) -> bool | None:
    return False if args.unprivileged else None


def _run_grade(args: argparse.Namespace) -> int:
    data = grade_submission(Path(args.submission), Path(args.out), Path(args.repo),
                            Path(args.handout) if args.handout else None, _limits(args), _privileged(args))
    total = sum(t["max_score"] for t in data["tests"])
    print(f"{args.submission}: {data['score']:g} / {total:g} -> {args.out}")
    return 0


def _run_grade_all(args: argparse.Namespace) -> int:
    try:
        results = grade_all(Path(args.folder), Path(args.out), args.jobs, Path(args.repo), _limits(args),
                            _privileged(args), args.nbgrader_db, args.assignment,
                            handout=Path(args.handout) if args.handout else None)
    except SubmissionError as e:
        print(f"grade-all: {e}", file=sys.stderr)
        return 1
    print(f"graded {len(results)} students -> {Path(args.out) / 'gradebook.csv'}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repo", default=str(STAFF_ROOT), metavar="DIR", help="staff repository (default: this one)")
    p.add_argument("--item-timeout", type=float, default=None, metavar="S", help="wall/CPU seconds per item (sandbox default otherwise)")
    p.add_argument("--memory-mb", type=int, default=None, metavar="MB", help="memory limit of the student's process")
    p.add_argument("--unprivileged", action="store_true", help="use the ordinary-user sandbox even when running as root")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``grade`` and ``grade-all`` commands."""
    p = subparsers.add_parser("grade", help="grade one submission folder or .zip into a results.json")
    p.add_argument("submission", metavar="SUBMISSION", help="folder or .zip shaped like the handout (any subset)")
    p.add_argument("--out", required=True, metavar="FILE", help="results file to write (Gradescope's results.json schema)")
    p.add_argument("--handout", default=None, metavar="DIR", help="a prebuilt handout (default: built from --repo and cached)")
    _common(p)
    p.set_defaults(func=_run_grade)

    p = subparsers.add_parser("grade-all", help="grade every sub-folder or .zip of FOLDER (one per student)")
    p.add_argument("folder", metavar="FOLDER", help="one sub-folder or .zip per student")
    p.add_argument("--out", required=True, metavar="DIR", help="writes DIR/<name>.json and DIR/gradebook.csv")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="students graded in parallel (default 1)")
    p.add_argument("--nbgrader-db", default=None, metavar="DB",
                   help="also write scores into this nbgrader gradebook (sqlite path or URL) for `nbgrader export`")
    p.add_argument("--assignment", default="vision-zoo", help="nbgrader assignment name (default vision-zoo)")
    p.add_argument("--handout", default=None, metavar="DIR", help="a prebuilt handout (default: built from --repo and cached)")
    _common(p)
    p.set_defaults(func=_run_grade_all)
