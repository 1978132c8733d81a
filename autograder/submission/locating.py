"""Which file of a submission counts as which handout file: one rule for every command.

The rule (``locate``):
1. The submission's root is the folder under which the most handed-in paths sit where the handout
   has them (the "handout-shaped" folder; a tie goes to the shallowest, then alphabetical). So a
   zip of ``hw/`` is graded from ``hw/``, and a stray draft ``WORKSHEET.md`` beside ``hw/`` loses
   to ``hw/WORKSHEET.md`` when ``hw/`` also holds ``models/``.
2. A handed-in path found under that root is taken.
3. Otherwise a file with the same name (any case) anywhere is taken when it is the only one
   (Gradescope uploads single files without their folders).
Whenever another file with the same name was passed over, a note says which one was graded.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

WORKSHEET = "WORKSHEET.md"
SUBMISSION_CSV = "submission.csv"
SUBMISSION_FILES = (SUBMISSION_CSV,)  # handed in besides the files with solution regions
STAMP = ".handout.json"  # written by ``release`` at the handout root (``release.STAMP``)
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the staff repository, or the student's handout
# What students hand in when neither a handout stamp nor the release code is at hand.
DEFAULT_HANDED_IN = (WORKSHEET, "models/alexnet.py", "models/resnet.py", "models/vit.py")


@dataclass
class Located:
    """Where each handed-in file of a submission is.

    Args:
        found: handout path -> the submission file graded as it (relative paths).
        root: the submission's handout-shaped folder prefix ("" or e.g. ``"hw/"``).
        notes: student-facing remarks on the choices made.
    """

    found: dict[str, str] = field(default_factory=dict)
    root: str = ""
    notes: list[str] = field(default_factory=list)


def handed_in_paths(handout: Path | str | None = None) -> list[str]:
    """The handout paths students hand in: files with solution regions, the worksheet, ``submission.csv``.

    Args:
        handout: a handout built by ``release`` (its ``.handout.json`` lists the editable files);
            None: the handout or staff repository this package sits in.
    """
    root = Path(handout) if handout is not None else PACKAGE_ROOT
    stamp = root / STAMP
    if stamp.is_file():
        editable = list(json.loads(stamp.read_text(encoding="utf-8"))["editable"])
    elif handout is not None:
        raise FileNotFoundError(f"{handout} is not a handout: {STAMP} is missing. Build one with "
                                f"`python -m autograder release --out DIR`.")
    else:
        try:
            from autograder.release import editable_files
        except ImportError:  # a copy without the release code
            editable = list(DEFAULT_HANDED_IN)
        else:
            editable = editable_files(root)
    return editable + [s for s in SUBMISSION_FILES if s not in editable]


def _name(path: str) -> str:
    return PurePosixPath(path).name


def locate(files: list[str], wanted: list[str]) -> Located:
    """Map each wanted handout path to the submission file that holds it (see the module docstring).

    Args:
        files: the submission's files, relative ``/``-separated paths.
        wanted: handout paths students hand in (``handed_in_paths``).
    """
    prefixes: dict[str, int] = {}
    for f in files:
        for w in wanted:
            if f == w or f.endswith("/" + w):
                prefix = f[: len(f) - len(w)]
                prefixes[prefix] = prefixes.get(prefix, 0) + 1
    root = min(prefixes, key=lambda p: (-prefixes[p], p.count("/"), p)) if prefixes else ""
    out = Located(root=root)
    present = set(files)
    for w in wanted:
        if root + w in present:
            out.found[w] = root + w
    for w in wanted:
        if w in out.found or sum(_name(x).lower() == _name(w).lower() for x in wanted) != 1:
            continue
        taken = set(out.found.values())
        same = [f for f in files if _name(f).lower() == _name(w).lower() and f not in taken]
        if len(same) == 1:
            out.found[w] = same[0]
            out.notes.append(f"found {same[0]} and graded it as {w}")
        elif len(same) > 1:
            out.notes.append(f"found {len(same)} files named {_name(w)} ({', '.join(same[:4])}) and none where the "
                             f"handout has it; graded none of them. Hand in one {w}.")
    for w, f in out.found.items():
        others = [x for x in files if _name(x).lower() == _name(w).lower() and x != f]
        if others:
            out.notes.append(f"also found {', '.join(others[:3])}; graded {f} as {w} (the copy in the folder shaped "
                             f"like the handout). Hand in one copy to be sure which one counts.")
    return out


def locate_one(files: list[str], rel: str, wanted: list[str] | None = None) -> tuple[str | None, list[str]]:
    """The submission file that counts as handout path ``rel`` under the same rule, and the notes.

    Args:
        files: the submission's files.
        rel: one handout path, e.g. ``WORKSHEET.md`` or ``submission.csv``.
        wanted: every handed-in path (they decide the root); default ``handed_in_paths()``.
    """
    wanted = list(wanted) if wanted is not None else handed_in_paths()
    if rel not in wanted:
        wanted.append(rel)
    located = locate(files, wanted)
    notes = [n for n in located.notes if _name(rel).lower() in n.lower()]
    return located.found.get(rel), notes
