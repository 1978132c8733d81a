"""``grade`` and ``grade-all``: grade one submission, or a whole class in parallel.

One submission is a declared list of steps (``STEPS``), each a small function over one ``Run``:

    open      the submission through the door (``autograder.submission``: a folder, a .zip or a
              single file; zips checked for path traversal, links and bombs)
    assemble  the staff handout with only the files students hand in taken from the submission
    code      the code items, in one sandbox
    worksheet the worksheet questions (the worksheet and its images, as ``worksheet`` sees them)
    kaggle    the ``kaggle/submission`` item
    write     the results file (Gradescope's schema, written atomically, always)

A step that fails costs only its own items: each step says which items it owns, and a failure
turns them into zeros that name the problem; the next steps still run. Reading student files
happens only in ``autograder.submission`` (the one door shared with every other command).

A class: ``grade_all`` runs ``grade_submission`` for every sub-folder or .zip of a folder in a
process pool, writes ``<name>.json`` per student, ``gradebook.csv`` (one row per student, one
column per item), and optionally an nbgrader gradebook database (``nbgrader export`` reads it).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import traceback
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from autograder.release import STAFF_ROOT, ReleaseError, cached_handout, check_untouched
from autograder.results import TestResult, write_results
from autograder.submission import (  # noqa: F401  (re-exported: grade's public names since the first release)
    Assembly, SubmissionError, assemble, find_students, handed_in_paths, list_files, locate,
    open_submission, student_name,
)


# --------------------------------------------------------------------------------------------
# The items a step owns (its zeros when it fails)
# --------------------------------------------------------------------------------------------

def _grader_error(name: str, where: str, max_score: float = 0.0) -> TestResult:
    detail = traceback.format_exc(limit=-3).strip()
    detail = "" if detail == "NoneType: None" else f"\n{detail}"
    return TestResult(
        name=name, score=0.0, max_score=max_score, status="failed",
        output=f"The grader could not grade {where}; this item scores 0. Tell your TA.{detail}",
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


def _worksheet_fallback(error_where: str, repo: Path = STAFF_ROOT, reason: str = "") -> list[TestResult]:
    """One zero per worksheet question, when the worksheet could not be graded."""
    try:
        from autograder.worksheet import load_key

        staff = Path(repo) / "WORKSHEET.md"
        questions = load_key(staff if staff.is_file() else None)[0]
    except Exception:
        questions = {}
    if not questions:
        return [_grader_error("worksheet", error_where)]
    if reason:
        return [TestResult(f"worksheet/{qid}", 0.0, q.points, f"{reason} This question scores 0.", status="failed")
                for qid, q in questions.items()]
    return [_grader_error(f"worksheet/{qid}", error_where, q.points) for qid, q in questions.items()]


def _kaggle_fallback(error_where: str) -> list[TestResult]:
    try:
        from autograder.kaggle.item import ITEM, load_staff_config

        return [_grader_error(ITEM, error_where, float(load_staff_config()["max_score"]))]
    except Exception:
        return [_grader_error("kaggle/submission", error_where)]


# --------------------------------------------------------------------------------------------
# Grading an assembled tree
# --------------------------------------------------------------------------------------------

def grade_code(workdir: Path, limits=None, privileged: bool | None = None) -> tuple[list[TestResult], list[str]]:
    """Code items of ``workdir`` in one sandbox; returns (results, sandbox protections in force).

    Args:
        workdir: an assembled submission.
        limits: ``autograder.sandbox.Limits``; default its defaults.
        privileged: the sandbox mode (None: full sandbox when root).
    """
    try:
        from autograder.sandbox import Limits, Sandbox
    except ImportError:
        return _code_item_fallback("the code items (sandbox modules missing)"), []
    limits = limits or Limits()
    # A class (grade-all) forks every child from one warm server; one submission starts a fresh
    # child at once, so that its start-up (importing torch) runs beside this process's own imports.
    zygote = _CLASS.get("zygote")
    protections: list[str] = []
    try:
        with Sandbox(workdir, limits=limits, privileged=privileged, zygote=zygote) as sb:
            sb.start()
            try:
                from autograder.grading import grade_code_items, load_rubric, prepare_references
            except ImportError:
                return _code_item_fallback("the code items (grading modules missing)"), []
            rubric = _CLASS.get("rubric") or load_rubric()
            prepare_references()  # from the reference store, or made once per process (a no-op once made)
            protections = list(sb.protections)
            return list(grade_code_items(workdir, sb, rubric=rubric)), protections
    except Exception:
        return _code_item_fallback("the code items"), protections


def grade_worksheet_items(folder: Path, repo: Path = STAFF_ROOT, wanted: list[str] | None = None) -> list[TestResult]:
    """The worksheet questions of a submission, graded exactly as ``worksheet SUBMISSION`` grades
    them (the door copies out the same worksheet and images).

    Args:
        folder: the submission (a folder, a .zip or a single file).
        repo: the staff repository (its WORKSHEET.md holds the answer key).
        wanted: the handed-in paths (default ``handed_in_paths()``).

    Raises:
        Exception: anything the worksheet grader raises (the step turns it into zeros).
    """
    from autograder.worksheet import grade_worksheet

    staff = Path(repo) / "WORKSHEET.md"
    return list(grade_worksheet(folder, staff_worksheet=staff if staff.is_file() else None, wanted=wanted))


def grade_kaggle_item(workdir: Path) -> list[TestResult]:
    """The Kaggle item(s) of an assembled submission (its top-level ``submission.csv``):
    ``kaggle/submission``, and ``kaggle/private`` where the Kaggle package splits the score.

    Args:
        workdir: an assembled submission.
    """
    from autograder.kaggle import grade_submission_items

    return list(grade_submission_items(workdir))  # kaggle/private: after_published


# --------------------------------------------------------------------------------------------
# One submission: the declared steps
# --------------------------------------------------------------------------------------------

@dataclass
class Run:
    """What the steps of one submission's grading read and write.

    Args:
        submission: a folder, a .zip or a single file.
        scratch: a private temporary folder.
        repo, handout, limits, privileged: see ``grade_submission``.
        folder: the opened submission (step ``open``).
        assembly: the submission on the handout (step ``assemble``).
        tests: graded items, in step order.
        protections: sandbox protections in force (step ``code``).
        problems: student-facing problems, shown first in the results' output.
        notes: student-facing notes (files found elsewhere, images matched by name, ...).
        ram: a private folder in RAM holding the assembled submission (step ``assemble``), or None.
    """

    submission: Path
    scratch: Path
    repo: Path = STAFF_ROOT
    handout: Path | None = None
    limits: object = None
    privileged: bool | None = None
    folder: Path | None = None
    assembly: Assembly | None = None
    tests: list[TestResult] = field(default_factory=list)
    protections: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ram: Path | None = None


@dataclass(frozen=True)
class Step:
    """One step of grading a submission.

    Args:
        name: the step's name (in messages).
        run: does the step's work on the ``Run``.
        on_failure: the zeros of the step's own items (and any state the next steps need) when
            ``run`` raised; called inside the ``except`` block, so it can show the traceback.
    """

    name: str
    run: Callable[[Run], None]
    on_failure: Callable[[Run], list[TestResult]]


def _empty_folder(run: Run) -> Path:
    empty = run.scratch / "empty"
    empty.mkdir(exist_ok=True)
    return empty


def _open(run: Run) -> None:
    try:
        run.folder, notes = open_submission(run.submission, run.scratch / "unpacked")
        run.notes += notes
    except SubmissionError as e:
        run.problems.append(f"{e} Every item was graded on the untouched handout.")
        run.folder = _empty_folder(run)


def _open_failed(run: Run) -> list[TestResult]:
    run.problems.append("the grader could not open your submission; every item was graded on the untouched "
                        "handout. Tell your TA.")
    run.folder = _empty_folder(run)
    return []


def _assemble(run: Run) -> None:
    run.handout = Path(run.handout) if run.handout else cached_handout(run.repo)
    # In RAM where there is room (the ~180 files of the handout cost 15-150 ms on a busy disk), else
    # in the scratch folder; a copy that fails in RAM (filled up meanwhile) is made again on disk.
    try:
        from autograder.sandbox.sandbox import ram_scratch

        parent = ram_scratch([run.handout, run.folder])
    except ImportError:
        parent = None
    if parent is not None:
        run.ram = Path(tempfile.mkdtemp(prefix="grade-work-", dir=parent))
        try:
            run.assembly = assemble(run.folder, run.handout, run.ram / "work")
            return
        except OSError:
            shutil.rmtree(run.ram / "work", ignore_errors=True)
    run.assembly = assemble(run.folder, run.handout, run.scratch / "work")


def _assemble_failed(run: Run) -> list[TestResult]:
    shutil.rmtree(run.scratch / "work", ignore_errors=True)
    run.problems.append("the grader could not put your files onto the handout; the code items were graded on "
                        "the untouched handout. Tell your TA.")
    try:
        run.assembly = assemble(_empty_folder(run), run.handout, run.scratch / "work")
    except Exception:
        run.assembly = None
    return []


def _need_workdir(run: Run) -> Path:
    if run.assembly is None:
        raise RuntimeError("no assembled submission to grade (the assemble step failed)")
    return run.assembly.workdir


def _code(run: Run) -> None:
    tests, run.protections = grade_code(_need_workdir(run), run.limits, run.privileged)
    run.tests += tests


def _worksheet(run: Run) -> None:
    from autograder.submission import UnreadableFile

    wanted = handed_in_paths(run.handout) if run.handout else None
    # A folder or zip that opened is passed as it is: the door opens it again exactly as `worksheet`
    # does, and messages name the student's own files. A single file (vit.py) or a submission that
    # did not open: the opened folder, where the door's rule finds (or does not find) the worksheet.
    sub = run.submission
    whole = run.folder not in (None, run.scratch / "empty") and (sub.is_dir() or zipfile.is_zipfile(sub))
    try:
        run.tests += grade_worksheet_items(sub if whole else run.folder or _empty_folder(run), run.repo, wanted)
    except UnreadableFile as e:
        run.problems.append(str(e))
        run.tests += _worksheet_fallback("your WORKSHEET.md", run.repo, reason=str(e))


def _kaggle(run: Run) -> None:
    run.tests += grade_kaggle_item(_need_workdir(run))


STEPS: tuple[Step, ...] = (
    Step("open", _open, _open_failed),
    Step("assemble", _assemble, _assemble_failed),
    Step("code", _code, lambda run: _code_item_fallback("the code items")),
    Step("worksheet", _worksheet, lambda run: _worksheet_fallback("your WORKSHEET.md", run.repo)),
    Step("kaggle", _kaggle, lambda run: _kaggle_fallback("your submission.csv")),
)  # then ``write``: always, in ``grade_submission``


def run_steps(run: Run, steps: tuple[Step, ...] = STEPS) -> Run:
    """Run each step in order; a step that raises adds the zeros of its own items and the rest go on.

    Args:
        run: the submission's state.
        steps: the steps (default ``STEPS``).
    """
    for step in steps:
        try:
            step.run(run)
        except Exception:
            try:
                run.tests += step.on_failure(run)
            except Exception:
                run.tests.append(_grader_error(step.name, f"the {step.name} step"))
    return run


def _summary(run: Run) -> str:
    lines = [f"PROBLEM: {p}" for p in run.problems]
    if run.assembly is not None:
        lines.append(f"Files graded from your submission: {', '.join(run.assembly.taken) or 'none'}.")
    notes = (run.assembly.notes if run.assembly is not None else []) + run.notes
    lines += [f"Note: {n}" for n in dict.fromkeys(notes)]
    if run.protections:
        lines.append("Your code ran in a sandbox with these protections in force:")
        lines += [f"- {p}" for p in run.protections]
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
    """Grade one submission through ``STEPS`` and write ``out`` (Gradescope's results.json); return
    the object written.

    Never raises on a student's files: a failing step costs only its own items, and ``out`` is
    always written (atomically, replacing any earlier file).

    Args:
        submission: a folder, a .zip or a single file.
        out: the results file to write.
        repo: the staff repository (reference code, answer keys).
        handout: a handout built by ``release`` (default: built from ``repo`` and cached).
        limits: sandbox limits (``autograder.sandbox.Limits``).
        privileged: the sandbox mode (None: full sandbox when root).
        name: the student's name, kept in the results' ``extra_data`` (default ``student_name``).
    """
    out = Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        run = Run(Path(submission), Path(tmp), Path(repo), Path(handout) if handout else None, limits, privileged)
        try:
            run_steps(run)
        finally:
            if run.ram is not None:
                shutil.rmtree(run.ram, ignore_errors=True)
    extra = {"student": name or student_name(submission), "taken": run.assembly.taken if run.assembly else [],
             "protections": run.protections}
    return write_results(str(out), run.tests, _summary(run), extra)


# --------------------------------------------------------------------------------------------
# A whole class
# --------------------------------------------------------------------------------------------

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
    try:
        from autograder.grading import prepare_references

        prepare_references(make=True)  # with the reference modules: every worker's diagnosis inherits them
    except Exception:  # noqa: BLE001 - then each student's grading makes (and reports) what it needs
        pass
    from autograder.worksheet.key import preload_key

    preload_key()  # the worksheet answer key, parsed once for the class (forked workers inherit it)
    if zygote is not None:
        zygote.wait_ready()  # before forking workers: they inherit its state instead of each reading it


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

    from autograder.worksheet.ta_sheet import csv_safe, score_text  # the one cell format of gradebook and TA merge

    rows, columns = [], []
    for name in sorted(results):
        row = {"student": csv_safe(name)}  # a folder named "=cmd|..." must not become a live formula
        for t in results[name].get("tests", []):
            row[t["name"]] = score_text(t["score"])
            if t["name"] not in columns:
                columns.append(t["name"])
        row["total"] = score_text(results[name].get("score", 0.0))
        rows.append(row)
    df = pd.DataFrame(rows, columns=["student", *columns, "total"])
    tmp = Path(f"{path}.tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


def write_nbgrader_gradebook(results: dict[str, dict], db: str, assignment: str) -> int:
    """Put the scores into an nbgrader gradebook so `nbgrader export` reports them.

    One nbgrader notebook per item family (``vit``, ``worksheet``, ...), one grade cell per item
    (its name and max score); each student's scores go in as auto scores. A manual score left by
    an earlier ``worksheet-merge`` is cleared, as a regrade clears it from ``gradebook.csv`` and
    the results, so the three keep the same totals (merging the TA sheet again restores it).

    Returns:
        how many earlier TA (manual) scores were cleared.

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
    cleared = 0
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
                if grade.manual_score is not None:
                    grade.manual_score = None
                    cleared += 1
            gb.db.commit()
    return cleared


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
        cleared = write_nbgrader_gradebook(results, nbgrader_db, assignment)
        if cleared:
            print(f"note: {cleared} TA score(s) from an earlier worksheet-merge were replaced by this run's automatic "
                  f"scores in gradebook.csv, the results and {nbgrader_db}; run worksheet-merge with the TA sheet "
                  f"again to restore them", file=sys.stderr)
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


def _check_handout_arg(args: argparse.Namespace, command: str) -> bool:
    """Whether ``--handout`` (when given) is an untouched release; prints why not."""
    if not args.handout:
        return True
    try:
        check_untouched(Path(args.handout), handed_in_paths(Path(args.handout)))
    except ReleaseError as e:
        print(f"{command}: {e}", file=sys.stderr)
        return False
    return True


def _run_grade(args: argparse.Namespace) -> int:
    if not _check_handout_arg(args, "grade"):
        return 2
    data = grade_submission(Path(args.submission), Path(args.out), Path(args.repo),
                            Path(args.handout) if args.handout else None, _limits(args), _privileged(args))
    total = sum(t["max_score"] for t in data["tests"])
    print(f"{args.submission}: {data['score']:g} / {total:g} -> {args.out}")
    return 0


def _run_grade_all(args: argparse.Namespace) -> int:
    if not _check_handout_arg(args, "grade-all"):
        return 2
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
