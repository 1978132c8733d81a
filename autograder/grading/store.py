"""The reference store: every item's graded cases kept on disk between grading runs.

Making the cases (``reference.ITEMS[...].make_cases``) imports timm and torchvision (about 2 s on
the course machine) and runs every reference model (about 3 s); a ``grade`` of one submission
would spend most of its time there. The cases depend only on the grader's code and the libraries,
so the first run after a change makes them and stores their numbers (labels, payloads, expected
results: tensors and plain values, read back with ``torch.load(weights_only=True)``, bit for bit);
later runs read them in about 0.05 s.

The file is named by a fingerprint of everything that can change a case: the source of
``autograder.grading``, ``autograder.staff`` and ``autograder.tasks``; the versions of Python,
torch, torchvision, timm and numpy; the machine and torch's CPU capability (float64 kernels may
round differently on other vector units). A stale, damaged or foreign file is ignored, and the
cases are made again.

Stored cases have no reference module (``Case.reference`` is None). The diagnosis, which compares
a wrong answer with the catalogue's mutants of the reference, reads each mutant's outputs from the
store too (made with the cases, bit for bit what it would compute), so a wrong submission costs no
reference either; only a mistake the store lacks sends it to ``autograder.grading.live_cases``.

It lives in the grader's cache folder (``autograder.release.cache_root()``, beside the cached
handouts), readable by its owner only: it holds hidden reference results (the staff-only items'
cases, the whole catalogue's mutant outputs).
"""
from __future__ import annotations

import hashlib
import os
import platform
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import torch

from autograder.grading.reference import ITEM_NAMES, Case

_PACKAGE = Path(__file__).resolve().parent  # autograder/grading
_SOURCES = (_PACKAGE, _PACKAGE.parent / "staff", _PACKAGE.parent / "tasks.py")
_LIBRARIES = ("torch", "torchvision", "timm", "numpy")


@dataclass
class Stored:
    """What the store holds.

    Args:
        cases: item name -> its cases (no reference modules).
        mistake_outputs: (item, mistake key) -> the mutant's output per case of the item.
    """

    cases: dict[str, list[Case]]
    mistake_outputs: dict[tuple[str, str], tuple] = field(default_factory=dict)


def fingerprint() -> str:
    """A hex digest of everything the graded cases depend on (see the module's docstring)."""
    h = hashlib.sha256()
    for source in _SOURCES:
        files = sorted(source.rglob("*.py")) if source.is_dir() else [source]
        for f in files:
            if f.is_file():
                h.update(f"{f.relative_to(source.parent).as_posix()}\0".encode())
                h.update(f.read_bytes())
    for name in _LIBRARIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "absent"
        h.update(f"{name}={version}\0".encode())
    h.update(f"{sys.version}\0{platform.machine()}\0{torch.backends.cpu.get_cpu_capability()}".encode())
    return h.hexdigest()[:20]


def store_path(cache: Path | None = None) -> Path:
    """The store file of the current fingerprint.

    Args:
        cache: the cache folder; default ``autograder.release.cache_root()``.
    """
    if cache is None:
        from autograder.release import cache_root

        cache = cache_root()
    return Path(cache) / f"references-{fingerprint()}.pt"


def load(cache: Path | None = None) -> Stored | None:
    """Every item's stored cases and mutant outputs, or None when there is no current, readable,
    well-formed store (every item with at least one case, each a label, a payload and a result).

    Args:
        cache: the cache folder (see ``store_path``).
    """
    try:
        data = torch.load(store_path(cache), weights_only=True)
    except Exception:  # noqa: BLE001 - absent, damaged or from another torch: make the cases again
        return None
    try:
        cases, outputs = data["cases"], data["mistake_outputs"]
        if set(cases) != set(ITEM_NAMES) or not isinstance(outputs, dict):
            return None
        made = {name: [Case(c["label"], c["payload"], None, c["expected"]) for c in cases[name]]
                for name in ITEM_NAMES}
        if not all(made[name] and all(isinstance(c.label, str) and isinstance(c.payload, dict)
                                      and isinstance(c.expected, dict) and c.expected for c in made[name])
                   for name in ITEM_NAMES):
            return None
        mutants = {}
        for key, outs in outputs.items():
            item, _, mistake = key.partition("::")
            if item not in made or not isinstance(outs, (list, tuple)) or len(outs) != len(made[item]):
                return None
            mutants[(item, mistake)] = tuple(outs)
    except (KeyError, TypeError, AttributeError):
        return None
    return Stored(made, mutants)


def save(cases: dict[str, list[Case]], mistake_outputs: dict[tuple[str, str], tuple] | None = None,
         cache: Path | None = None) -> Path | None:
    """Store every item's cases and the catalogue's mutant outputs (written atomically, owner-only,
    replacing a damaged or stale file); returns the file, or None when it cannot be written (a full
    disk, an unwritable folder: grading goes on, and the next run makes the cases again).

    Args:
        cases: item name -> its made cases, for every item of ``ITEM_NAMES``.
        mistake_outputs: (item, mistake key) -> the mutant's output per case of that item (a tensor,
            or None where the mutant cannot run), as ``autograder.grading.diagnosis`` computes it.
        cache: the cache folder (see ``store_path``).

    Raises:
        ValueError: ``cases`` misses an item, or an item has no case.
    """
    missing = [name for name in ITEM_NAMES if not cases.get(name)]
    if missing:
        raise ValueError(f"the reference store needs every item's cases; missing {missing}")
    data = {"cases": {name: [{"label": c.label, "payload": c.payload, "expected": c.expected} for c in cases[name]]
                      for name in ITEM_NAMES},
            "mistake_outputs": {f"{item}::{key}": list(outs) for (item, key), outs in (mistake_outputs or {}).items()}}
    path = store_path(cache)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".references-", suffix=".tmp", dir=path.parent)  # mode 0600
        with os.fdopen(fd, "wb") as f:
            torch.save(data, f)
        os.replace(tmp, path)
    except Exception:  # noqa: BLE001 - OSError, or torch's RuntimeError for a disk that filled up
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return None
    return path
