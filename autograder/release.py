"""``release --out DIR``: build the student handout from the staff repository.

Steps, each a function below:
    ``shipped_files`` (an allowlist: only what students need) -> ``build_handout`` (copy, and strip
    solution regions and hidden tests with nbgrader through ``autograder.markers``) ->
    ``verify_handout`` (no marker, no staff-only file; fails loudly, naming the file and line).

The handout root holds ``.handout.json``: which files students edit (the files that hold solution
regions in the staff copy, plus the worksheet) and a fingerprint of the staff files it came from.
"""
from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder import markers

STAFF_ROOT = Path(__file__).resolve().parent.parent  # the staff repository (parent of this package)
STAMP = ".handout.json"  # written at the handout root

# What ships: top-level files and folders of the repository ...
SHIP_TOP = (
    "WORKSHEET.md", "requirements.txt", "main.py", "config.py", ".gitignore",
    "configs", "data", "models", "engine", "handouts",
    "research",          # the ViT claims and architecture comparison (vit_homework.md, vit_claims.ipynb)
    "scripts/lr_grid.py",  # the fine-tuning learning-rate grid (vit_homework.md)
)
# ... the public part of the autograder (what `check`, `kaggle validate` and `kaggle export` need; the
# worksheet package (was worksheet.py) and submission/ once split out) ...
SHIP_AUTOGRADER = (
    "__init__.py", "__main__.py", "cli.py", "results.py", "markers.py", "check.py", "worksheet", "kaggle.py", "kaggle",
    "tasks.py", "sandbox", "grading", "submission",
)
# ... and the files written under another name: handout path -> staff path. The staff README and
# Makefile (TA guide, grading, benchmarks, release) stay here; students get their own.
SHIP_AS = {
    "README.md": "handouts/README.md",    # the student README: quickstart, guide, check / train / hand in
    "Makefile": "handouts/Makefile",      # setup, demo, test, check: the targets that work in the handout
    "pytest.ini": "handouts/pytest.ini",  # the public suite's settings
    "tests": "handouts/tests",            # the public test suite `make test` runs
}
# Never shipped, wherever they sit inside the allowlist (build outputs, editor litter).
SKIP_PATTERNS = ("__pycache__", "*.pyc", "*.pyo", ".ipynb_checkpoints", ".DS_Store", "*.egg-info", ".pytest_cache")
# Staff-only by name: finding one among the shipped files FAILS the release (move it out of the
# shipped folders, e.g. into autograder/staff/). Folder names match any part of the path; file
# names match the last part. Code that merely reads such files (e.g. grading/rubric.py) is fine.
STAFF_ONLY_DIRS = ("staff", "*_staff", "solutions", "hidden", "hidden_tests", "answer_keys", "answers")
STAFF_ONLY_FILES = (
    "rubric*.yaml", "rubric*.yml", "rubric*.json", "rubric*.csv", "rubric*.toml", "*answer_key*", "*answer-key*",
    "solution.csv", "solutions.csv", "*hidden*label*", "*hidden_test*", "*hidden-test*", "labels-test*",
    "*test_labels*", "*test-labels*", "mistakes.py", "*.staff.*",
)
STUDENT_ALWAYS = ("WORKSHEET.md",)  # student-editable even without a solution region
WORKSHEET_IMAGE_DIRS = ("images", "figures")  # image folders students may hand in with the worksheet


class ReleaseError(RuntimeError):
    """The handout cannot be built or would leak staff material; the message names the file."""


@dataclass
class ReleaseReport:
    """What ``build_handout`` wrote.

    Args:
        out: the handout root.
        files: relative paths of every file written.
        stripped: relative paths whose solution regions or hidden tests were stripped.
        editable: relative paths students edit (solution regions in the staff copy, the worksheet).
        fingerprint: hash of the staff files the handout was built from.
    """

    out: Path
    files: list[str] = field(default_factory=list)
    stripped: list[str] = field(default_factory=list)
    editable: list[str] = field(default_factory=list)
    fingerprint: str = ""


def _skipped(rel: str) -> bool:
    return any(fnmatch.fnmatch(part, pat) for part in rel.split("/") for pat in SKIP_PATTERNS)


def staff_only_reason(rel: str) -> str | None:
    """The staff-only pattern a relative path matches, or None.

    Args:
        rel: a path relative to the repository root, with ``/`` separators.
    """
    *dirs, name = rel.lower().split("/")
    for pat in STAFF_ONLY_DIRS:
        if any(fnmatch.fnmatch(part, pat) for part in dirs):
            return pat
    for pat in STAFF_ONLY_FILES:
        if fnmatch.fnmatch(name, pat):
            return pat
    return None


def walk_files(root: Path, rel: str) -> list[str]:
    """Files under ``root / rel`` (relative paths), skipping links and build litter.

    Args:
        root: the repository root.
        rel: a file or folder relative to it.
    """
    path = root / rel
    if path.is_symlink() or _skipped(rel):
        return []
    if path.is_file():
        return [rel]
    if not path.is_dir():
        return []
    out = []
    for child in sorted(path.iterdir()):
        out += walk_files(root, f"{rel}/{child.name}")
    return out


def shipped_files(repo: Path = STAFF_ROOT) -> list[str]:
    """Relative paths of the staff files the handout is made from (the allowlist, walked).

    Args:
        repo: the staff repository root.
    """
    return sorted(handout_paths(repo).values())


def handout_paths(repo: Path = STAFF_ROOT) -> dict[str, str]:
    """Every file of the handout: handout path -> the staff file it is made from.

    Most files keep their path; ``SHIP_AS`` entries are written under another name, and their
    staff sources do not also ship under their own.

    Args:
        repo: the staff repository root.
    """
    repo = Path(repo)
    renamed = {}
    for dest, src in SHIP_AS.items():
        for rel in walk_files(repo, src):
            renamed[dest + rel[len(src):]] = rel
    sources = set(renamed.values())
    rels = [r for top in SHIP_TOP for r in walk_files(repo, top)]
    rels += [r for name in SHIP_AUTOGRADER for r in walk_files(repo, f"autograder/{name}")]
    paths = {r: r for r in rels if r not in sources}
    paths.update(renamed)
    return dict(sorted(paths.items()))


def fingerprint(repo: Path = STAFF_ROOT, rels: list[str] | None = None) -> str:
    """A hash of the shipped staff files (paths and contents): a handout cache key.

    Args:
        repo: the staff repository root.
        rels: the files to hash; default ``shipped_files(repo)``.
    """
    h = hashlib.sha256()
    for rel in rels if rels is not None else shipped_files(repo):
        h.update(rel.encode() + b"\0" + (Path(repo) / rel).read_bytes() + b"\0")
    return h.hexdigest()[:20]


def verify_handout(out: Path) -> None:
    """Fail unless the handout holds no marker and no staff-only file.

    Args:
        out: a handout root.

    Raises:
        ReleaseError: naming the first offending file (and line, for a marker).
    """
    out = Path(out)
    for path in sorted(p for p in out.rglob("*") if p.is_file() or p.is_symlink()):
        rel = path.relative_to(out).as_posix()
        if path.is_symlink():
            raise ReleaseError(f"{rel}: a symbolic link in the handout. The release copies files only; remove it.")
        if (pat := staff_only_reason(rel)) is not None:
            raise ReleaseError(
                f"{rel}: staff-only file (its name matches {pat!r}) would ship to students. Move it to "
                f"autograder/staff/ or outside the shipped folders ({', '.join(SHIP_TOP)})."
            )
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            _verify_binary(path, rel)
            continue
        left = _markers_in(path, text)
        if left:
            raise ReleaseError(
                f"{rel}:{left[0].line}: marker {left[0].text!r} would ship to students. Fix the region "
                f"in the staff copy (nbgrader strips regions from .py, .md and .ipynb files only)."
            )


def _markers_in(path: Path, text: str) -> list[markers.Marker]:
    """Markers left in a handout file (quoted ones in Markdown and notebook text cells are prose)."""
    suffix = path.suffix.lower()
    if suffix in markers.NOTEBOOK_SUFFIXES:
        try:
            cells = json.loads(text).get("cells", [])
        except ValueError:
            return markers.find_markers(text)
        return [m for c in cells for m in markers.find_markers(
            "".join(c.get("source", "")), markdown=c.get("cell_type") == "markdown")]
    return markers.find_markers(text, markdown=suffix in markers.TEXT_SUFFIXES)


def _verify_binary(path: Path, rel: str) -> None:
    if path.suffix.lower() in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            if "labels-test" in f:
                raise ReleaseError(f"{rel}: HDF5 file holds hidden test labels ('labels-test'); ship a copy without them.")


def editable_files(repo: Path = STAFF_ROOT, rels: list[str] | None = None) -> list[str]:
    """Relative paths students edit: shipped files with solution regions, plus the worksheet.

    Args:
        repo: the staff repository root.
        rels: candidate files; default ``shipped_files(repo)``.
    """
    rels = rels if rels is not None else shipped_files(repo)
    found = [r for r in rels if r in STUDENT_ALWAYS or markers.has_solution_regions(Path(repo) / r)]
    return sorted(set(found))


def build_handout(out: Path, repo: Path = STAFF_ROOT) -> ReleaseReport:
    """Write the student handout into ``out`` (created; must not exist or be empty).

    Args:
        out: the folder to create.
        repo: the staff repository root.

    Raises:
        ReleaseError: a malformed region, a marker that would survive, or a staff-only file.
    """
    repo, out = Path(repo).resolve(), Path(out)
    paths = handout_paths(repo)
    rels = sorted(paths.values())
    report = ReleaseReport(out=out, fingerprint=fingerprint(repo, rels), editable=editable_files(repo, rels))
    for dest, rel in paths.items():
        for name in (rel, dest):
            if (pat := staff_only_reason(name)) is not None:
                raise ReleaseError(
                    f"{name}: staff-only file (its name matches {pat!r}) sits in a shipped folder. Move it to "
                    f"autograder/staff/ or outside {', '.join(SHIP_TOP)}."
                )
        try:
            changed = markers.strip_file(repo / rel, out / dest)
        except markers.MarkerError as e:
            raise ReleaseError(f"{e}") from e
        shutil.copymode(repo / rel, out / dest)
        report.files.append(dest)
        if changed:
            report.stripped.append(dest)
    stamp = {"fingerprint": report.fingerprint, "editable": report.editable, "stripped": report.stripped,
             "editable_sha256": {rel: _sha256(out / rel) for rel in report.editable if (out / rel).is_file()}}
    (out / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    verify_handout(out)
    return report


def _looks_like_handout(path: Path) -> bool:
    return (path / STAMP).is_file()


def release(out: Path, repo: Path = STAFF_ROOT, force: bool = False) -> ReleaseReport:
    """Build the handout next to ``out`` and move it into place (a previous handout is replaced).

    Args:
        out: the handout folder.
        repo: the staff repository root.
        force: replace ``out`` even when it is a non-empty folder that is not a handout.

    Raises:
        ReleaseError: see ``build_handout``; also an ``out`` that would overwrite staff files.
    """
    repo, out = Path(repo).resolve(), Path(out).resolve()
    if out == repo or repo.is_relative_to(out):
        raise ReleaseError(f"--out {out} would overwrite the staff repository {repo}. Choose a new folder, e.g. release/.")
    for top in SHIP_TOP + ("autograder",) + tuple(SHIP_AS.values()):
        if out.is_relative_to(repo / top):
            raise ReleaseError(f"--out {out} lies inside the shipped folder {top}/. Choose a folder outside it, e.g. release/.")
    if out.exists() and any(out.iterdir()) and not _looks_like_handout(out) and not force:
        raise ReleaseError(
            f"--out {out} is a non-empty folder that is not a handout. Choose a new folder, or pass --force to replace it."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        report = build_handout(tmp / "handout", repo)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp / "handout", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report.out = out
    return report


def cache_root() -> Path:
    """Where cached handouts live: ``$AUTOGRADER_CACHE``, else ``~/.cache/vision-zoo``."""
    env = os.environ.get("AUTOGRADER_CACHE")
    return Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vision-zoo"


def cached_handout(repo: Path = STAFF_ROOT, cache: Path | None = None) -> Path:
    """The handout of the current staff files, built once and reused while they are unchanged.

    Args:
        repo: the staff repository root.
        cache: the cache folder; default ``cache_root()``.
    """
    repo = Path(repo).resolve()
    key = fingerprint(repo)
    path = Path(cache or cache_root()) / f"handout-{key}"
    if (path / STAMP).is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=path.parent))
    try:
        build_handout(tmp / "handout", repo)
        try:
            os.replace(tmp / "handout", path)
        except OSError:
            if not (path / STAMP).is_file():  # another grader built it at the same time: use theirs
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_untouched(handout: Path, handed_in: list[str] | tuple[str, ...] = ()) -> None:
    """Refuse a handout someone has worked in as the base that submissions are assembled onto.

    A student's missing file is taken from the handout, so a solved ``models/vit.py`` or a
    ``submission.csv`` left in a worked-in handout would be graded as every such student's work.

    Args:
        handout: a handout root (from ``release``).
        handed_in: every path students hand in (``autograder.submission.handed_in_paths``); those the
            release does not hold (``submission.csv``) must not exist in the handout either.

    Raises:
        ReleaseError: a student-editable file differs from the release (or was added), naming the
            files and the fix.
    """
    stamp = read_stamp(handout)
    released = stamp.get("editable_sha256")
    if released is None:  # a handout from before the stamp held hashes: nothing to compare with
        return
    changed = [rel for rel, digest in released.items()
               if not (Path(handout) / rel).is_file() or _sha256(Path(handout) / rel) != digest]
    changed += [rel for rel in dict.fromkeys([*stamp.get("editable", []), *handed_in])
                if rel not in released and (Path(handout) / rel).exists()]
    if changed:
        raise ReleaseError(
            f"{handout} is not an untouched handout: {', '.join(sorted(changed))} differ(s) from the release. A "
            f"submission's missing files come from the handout, so they would be graded as the student's work. "
            f"Pass a fresh `python -m autograder release --out DIR`, or leave out --handout.")


def read_stamp(handout: Path) -> dict:
    """The ``.handout.json`` of a handout (editable files, fingerprint).

    Args:
        handout: a handout root.
    """
    path = Path(handout) / STAMP
    if not path.is_file():
        raise ReleaseError(f"{handout} is not a handout: {STAMP} is missing. Build one with `python -m autograder release --out DIR`.")
    return json.loads(path.read_text())


def _run(args: argparse.Namespace) -> int:
    try:
        report = release(Path(args.out), Path(args.repo), force=args.force)
    except ReleaseError as e:
        print(f"release failed: {e}", file=sys.stderr)
        return 1
    print(f"handout written to {report.out}: {len(report.files)} files, solutions stripped from "
          f"{len(report.stripped)} ({', '.join(report.stripped) or 'none'}); students edit: {', '.join(report.editable)}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``release`` command."""
    p = subparsers.add_parser("release", help="build the student handout (solutions stripped, staff files left out)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the handout into (replaced if it is a handout)")
    p.add_argument("--repo", default=str(STAFF_ROOT), metavar="DIR", help="staff repository root (default: this repository)")
    p.add_argument("--force", action="store_true", help="replace --out even if it is a non-empty folder that is not a handout")
    p.set_defaults(func=_run)
