"""Benchmark: what a student costs the grader, against the floor any grader in this stack pays
(``python -c "import torch, timm"``), all measured as fresh processes in the same run.

Each repeat, interleaved (so load from other work on the machine hits every step alike):
- floor:      ``python -c "import torch, timm"``
- grade:      ``python -m autograder grade SUBMISSION --out FILE --handout H`` on the staff solution
              (models/*.py and WORKSHEET.md); the handout is built once beforehand, as grade-all does
- check:      ``python -m autograder check`` inside a handout holding the staff solution
- grade-all:  ``--small`` and ``--copies`` copies of that submission, ``--jobs 1`` and ``--jobs 2``;
              the marginal seconds per student are the slope between the two class sizes,
              ``(T(copies) - T(small)) / (copies - small)``, so start-up paid once per run is left out
Reported: medians over the repeats, each as a ratio to the floor (targets: grade and check at most
1.3x, the marginal student with ``--jobs 2`` at most 0.1x). Before the repeats, one ``grade`` makes
the reference store (``autograder.grading.store``: the first run after a change of the grader's
code); it is reported on its own, and the repeats read the store as every later run does.

Then where a student's time goes, measured inside one grading process over ``--split`` students
after the class's preload and a warm-up student (``grade_submission`` in a loop, as one
``grade-all --jobs 1`` worker runs it, children forked from the warm server): sandbox start-up (staging, starting the child, closing it), the sandboxed child's round trips
(the student's code, with the tensors' transfer), the grader's comparisons (reference, compare,
diagnose, score), and the rest (assembling the submission, the worksheet, the Kaggle item, writing).

``--tree DIR`` benchmarks another checkout with this script (e.g. the code before a change:
``git worktree add /tmp/base main``), so before and after can run back to back.

    .venv/bin/python -m bench.bench_grade [--repeats 3] [--copies 48] [--small 4] [--tree DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUBMISSION_FILES = ("models/vit.py", "models/alexnet.py", "models/resnet.py", "WORKSHEET.md")
TARGET_GRADE, TARGET_CHECK, TARGET_MARGINAL = 1.3, 1.3, 0.1


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(cmd: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Wall and CPU seconds (user + sys, all its descendants) of one fresh process."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cpu, start = _cpu(), time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if r.returncode not in ok_codes:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return elapsed, _cpu() - cpu


def _staff_submission(tree: Path, dest: Path) -> Path:
    for rel in SUBMISSION_FILES:
        if (tree / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tree / rel, dest / rel)
    return dest


def _split(submission: Path, handout: Path, students: int, out: Path) -> dict:
    """Seconds per student in one grading process, by phase (run in the benchmarked tree's Python)."""
    from autograder import grade as grade_module
    from autograder import grading
    from autograder.sandbox import Sandbox

    spent = {"startup": 0.0, "child": 0.0, "items": 0.0}

    def timed(key: str, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - start
        return wrapper

    Sandbox.__init__ = timed("startup", Sandbox.__init__)
    Sandbox._start = timed("startup", Sandbox._start)
    Sandbox.close = timed("startup", Sandbox.close)
    Sandbox.run = timed("child", Sandbox.run)
    grading.grade_code_items = timed("items", grading.grade_code_items)
    if hasattr(Sandbox, "start"):
        Sandbox.start = timed("startup", Sandbox.start)
    if hasattr(grade_module, "_preload"):
        grade_module._preload(None)  # as grade-all: the class's references and the warm sandbox server
    grade_module.grade_submission(submission, out / "warmup.json", handout=handout)  # warm-up student
    for k in spent:
        spent[k] = 0.0
    start = time.perf_counter()
    for i in range(students):
        grade_module.grade_submission(submission, out / f"s{i}.json", handout=handout)
    total = (time.perf_counter() - start) / students
    child = spent["child"] / students
    startup = spent["startup"] / students
    compare = max(spent["items"] / students - child, 0.0)  # grade_code_items minus its round trips
    return {"total_s": total, "startup_s": startup, "student_code_s": child, "comparisons_s": compare,
            "other_s": max(total - startup - child - compare, 0.0)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of every step (medians reported)")
    parser.add_argument("--copies", type=int, default=48, help="students in the large grade-all class")
    parser.add_argument("--small", type=int, default=4, help="students in the small grade-all class (for the slope)")
    parser.add_argument("--split", type=int, default=4, help="students timed phase by phase in one process (0: skip)")
    parser.add_argument("--tree", default=str(REPO), help="the checkout to benchmark (default: this one)")
    parser.add_argument("--skip-grade-all", action="store_true", help="only floor, grade and check")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--split-only", nargs=4, metavar=("SUB", "HANDOUT", "N", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.split_only:
        sub, handout, n, out = args.split_only
        print(json.dumps(_split(Path(sub), Path(handout), int(n), Path(out))))
        return {}
    if args.copies <= args.small:
        parser.error(f"--copies {args.copies} must be larger than --small {args.small} (the slope needs two sizes)")
    tree = Path(args.tree).resolve()
    py = sys.executable
    load_before = os.getloadavg()
    runs: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}

    def record(key: str, cmd: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> None:
        wall, cpu = _timed(cmd, cwd, ok_codes)
        runs.setdefault(key, []).append(wall)
        cpus.setdefault(key, []).append(cpu)

    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        tmp = Path(tmp)
        os.environ["AUTOGRADER_CACHE"] = str(tmp / "cache")
        sub = _staff_submission(tree, tmp / "staff")
        handout = tmp / "handout"
        _timed([py, "-m", "autograder", "release", "--out", str(handout)], tree)
        student_handout = tmp / "student-handout"
        shutil.copytree(handout, student_handout)
        _staff_submission(tree, student_handout)  # the student's solved files in their handout
        klass: dict[int, Path] = {}
        for n in (args.small, args.copies):
            klass[n] = tmp / f"class{n}"
            for i in range(n):
                shutil.copytree(sub, klass[n] / f"student{i:03d}")
        # The first grade after a change of the grader's code makes the reference store (timm,
        # every reference model); the timed repeats then read it, as every later grade does.
        cold = _timed([py, "-m", "autograder", "grade", str(sub), "--out", str(tmp / "r.json"),
                       "--handout", str(handout)], tree)
        for rep in range(args.repeats):
            record("floor", [py, "-c", "import torch, timm"], tree)
            record("grade", [py, "-m", "autograder", "grade", str(sub), "--out", str(tmp / "r.json"),
                             "--handout", str(handout)], tree)
            record("check", [py, "-m", "autograder", "check"], student_handout, ok_codes=(0, 1))
            if not args.skip_grade_all:
                for jobs in (1, 2):
                    for n in (args.small, args.copies):
                        out = tmp / f"out-{n}-{jobs}"
                        shutil.rmtree(out, ignore_errors=True)
                        record(f"grade-all {n} --jobs {jobs}", [py, "-m", "autograder", "grade-all", str(klass[n]),
                                                                "--out", str(out), "--jobs", str(jobs),
                                                                "--handout", str(handout)], tree)
            print(f"repeat {rep + 1}/{args.repeats} done (load average {os.getloadavg()[0]:.1f})", file=sys.stderr)
            if args.json:  # the raw times so far, in case a later step fails
                Path(args.json).write_text(json.dumps({"runs_s": runs, "cpu_s": cpus}, indent=1))
        split = {}
        if args.split:
            env = {**os.environ, "PYTHONPATH": str(tree)}
            r = subprocess.run([py, str(Path(__file__).resolve()), "--split-only", str(sub), str(handout),
                                str(args.split), str(tmp)], cwd=tree, env=env, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"the phase split failed:\n{r.stderr[-3000:]}")
            split = json.loads(r.stdout.strip().splitlines()[-1])

    med = {k: statistics.median(v) for k, v in runs.items()}
    f = med["floor"]
    out: dict = {"tree": str(tree), "repeats": args.repeats, "median_s": med, "runs_s": runs, "grade_cold_s": cold[0],
                 "cpu_s": {k: statistics.median(v) for k, v in cpus.items()},
                 "load_average": [load_before[0], os.getloadavg()[0]], "cpus": os.cpu_count()}
    print(f"tree: {tree}   ({os.cpu_count()} CPUs; load average {load_before[0]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after: other work on the machine inflates every figure alike)")
    print(f"{'step':<40}{'median s':>10}{'CPU s':>8}{'x floor':>9}   runs")
    for key in runs:
        print(f"{key:<40}{med[key]:>10.2f}{out['cpu_s'][key]:>8.1f}{med[key] / f:>9.2f}   "
              f"{', '.join(f'{x:.1f}' for x in runs[key])}")
    cf = out["cpu_s"]["floor"]
    out.update(grade_ratio=med["grade"] / f, check_ratio=med["check"] / f,
               grade_cpu_ratio=out["cpu_s"]["grade"] / cf, check_cpu_ratio=out["cpu_s"]["check"] / cf)
    print(f"grade, once, before the repeats (first run after a grader change: makes the reference store): "
          f"{cold[0]:.2f} s = {cold[0] / f:.2f}x the floor")
    print(f"grade / floor: {med['grade'] / f:.2f}x (target <= {TARGET_GRADE:g}x); "
          f"check / floor: {med['check'] / f:.2f}x (target <= {TARGET_CHECK:g}x)")
    print(f"  in CPU seconds (less sensitive to other work on the machine): grade {out['grade_cpu_ratio']:.2f}x, "
          f"check {out['check_cpu_ratio']:.2f}x the floor's")
    if not args.skip_grade_all:
        for jobs in (1, 2):
            # the slope of each repeat, then their median
            slopes = [(big - small) / (args.copies - args.small) for small, big in
                      zip(runs[f"grade-all {args.small} --jobs {jobs}"], runs[f"grade-all {args.copies} --jobs {jobs}"])]
            marginal = statistics.median(slopes)
            cpu_slopes = [(big - small) / (args.copies - args.small) for small, big in
                          zip(cpus[f"grade-all {args.small} --jobs {jobs}"], cpus[f"grade-all {args.copies} --jobs {jobs}"])]
            marginal_cpu = statistics.median(cpu_slopes)
            out[f"marginal_jobs{jobs}_s"] = marginal
            out[f"marginal_jobs{jobs}_ratio"] = marginal / f
            out[f"marginal_jobs{jobs}_cpu_s"] = marginal_cpu
            target = f" (target <= {TARGET_MARGINAL:g}x)" if jobs == 2 else ""
            print(f"marginal student, grade-all --jobs {jobs}: {marginal:.2f} s = {marginal / f:.3f}x the floor{target}; "
                  f"CPU {marginal_cpu:.2f} s = {marginal_cpu / cf:.3f}x the floor's CPU")
    if split:
        out["split"] = split
        t = split["total_s"]
        print(f"one student inside a grading process ({args.split} students after a warm-up): {t:.2f} s, of which")
        for key, label in (("startup_s", "sandbox start-up (staging, child start, close)"),
                           ("student_code_s", "the sandboxed child's round trips (student code)"),
                           ("comparisons_s", "comparisons (reference, compare, diagnose, score)"),
                           ("other_s", "the rest (assemble, worksheet, Kaggle, results)")):
            print(f"  {label:<52}{split[key]:>6.2f} s  {split[key] / t:>5.0%}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
