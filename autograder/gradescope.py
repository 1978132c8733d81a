"""``gradescope --out FILE.zip``: a Gradescope autograder bundle.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once to build its image,
and ``run_autograder`` for every submission (files in ``/autograder/submission``; results expected
in ``/autograder/results/results.json``). The bundle holds both scripts (from
``autograder/gradescope_template/``) and the staff files grading needs: everything the handout is
made from, plus the whole autograder package with its staff folder (rubric, answer keys).
``AUTOGRADER_ROOT`` moves ``/autograder`` elsewhere, for a trial run on a staff machine.
"""
from __future__ import annotations

import argparse
import os
import sys
import zipfile
from pathlib import Path

from autograder.release import SHIP_TOP, STAFF_ROOT, walk_files

TEMPLATE = Path(__file__).resolve().parent / "gradescope_template"
SCRIPTS = ("setup.sh", "run_autograder")
BUNDLE_EXTRA = ("autograder",)  # besides the handout's sources: the whole autograder, staff folder included


def bundle_files(repo: Path = STAFF_ROOT) -> list[str]:
    """Relative paths of the staff files the bundle carries.

    Args:
        repo: the staff repository root.
    """
    rels = [r for top in SHIP_TOP + BUNDLE_EXTRA for r in walk_files(Path(repo), top)]
    return sorted(r for r in set(rels) if not r.startswith("autograder/gradescope_template/"))


def build_bundle(out: Path, repo: Path = STAFF_ROOT) -> list[str]:
    """Write the Gradescope bundle ``out`` (a zip); return the names it holds.

    Args:
        out: the zip to write (replaced atomically).
        repo: the staff repository root.
    """
    repo, out = Path(repo).resolve(), Path(out)
    if out.suffix.lower() != ".zip":
        raise ValueError(f"--out {out} must end in .zip (Gradescope uploads a zip file), e.g. autograder.zip")
    carried = bundle_files(repo)
    _check_kaggle_solution(repo, carried)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    names = []
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for script in SCRIPTS:
            info = zipfile.ZipInfo(script, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100755 << 16)  # a regular, executable file
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (TEMPLATE / script).read_bytes())
            names.append(script)
        for rel in carried:
            zf.write(repo / rel, rel)
            names.append(rel)
    os.replace(tmp, out)
    return names


def _check_kaggle_solution(repo: Path, carried: list[str]) -> None:
    """Refuse a bundle whose ``kaggle.yaml`` names a ``solution.csv`` it would leave behind: on
    Gradescope every student's Kaggle item would be a grader-side error.

    Args:
        repo: the staff repository root (resolved).
        carried: the relative paths the bundle holds.

    Raises:
        ValueError: the solution lies outside the bundle or does not exist.
    """
    from autograder.kaggle.item import load_staff_config  # reads the YAML as grading will

    config_rel = "autograder/staff/kaggle.yaml"
    solution = load_staff_config(repo / config_rel)["solution"]
    if not solution:
        return
    path = Path(solution) if Path(solution).is_absolute() else repo / solution
    try:
        rel = path.resolve().relative_to(repo).as_posix()
    except ValueError:
        rel = None
    if rel in carried:
        return
    where = "does not exist" if not path.is_file() else (
        "lies outside the repository" if rel is None else "is not in a folder the bundle carries")
    raise ValueError(f"{config_rel} names solution {solution}, which {where}; on Gradescope every Kaggle item "
                     f"would fail. Copy solution.csv to autograder/staff/solution.csv and set "
                     f"`solution: autograder/staff/solution.csv` (or `solution: null` to grade validity only).")


def _run(args: argparse.Namespace) -> int:
    try:
        names = build_bundle(Path(args.out), Path(args.repo))
    except ValueError as e:
        print(f"gradescope: {e}", file=sys.stderr)
        return 1
    print(f"Gradescope bundle written to {args.out} ({len(names)} files): upload it as the "
          f"assignment's autograder (Configure Autograder -> Zip file upload).")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``gradescope`` command."""
    p = subparsers.add_parser("gradescope", help="write a Gradescope autograder bundle (setup.sh, run_autograder, sources)")
    p.add_argument("--out", required=True, metavar="FILE.zip", help="the zip to write")
    p.add_argument("--repo", default=str(STAFF_ROOT), metavar="DIR", help="staff repository root (default: this one)")
    p.set_defaults(func=_run)
