"""Benchmark: grading one full submission against the floor any grader in this stack pays
(``python -c "import torch, timm"``), and ``grade-all`` with 2 jobs against 1.

Both measured as fresh processes, the way staff run them, interleaved in each repeat:
- floor:  ``python -c "import torch, timm"``
- grade:  ``python -m autograder grade SUBMISSION --out FILE --handout H`` on the staff solution
          (models/*.py and WORKSHEET.md), the handout built once beforehand as grade-all does
          (a cold ``grade`` builds it too, once per change of the staff files; timed once, apart)
Medians and their ratio (target: at most 4x). Then ``grade-all`` over ``--copies`` copies of the
same submission with ``--jobs 1`` and ``--jobs 2`` (target: 2 jobs at least 1.7x faster).

    .venv/bin/python -m bench.bench_grade [--repeats 3] [--copies 8] [--skip-grade-all]
"""
from __future__ import annotations

import argparse
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
TARGET_RATIO, TARGET_SPEEDUP = 4.0, 1.7


CPU_SECONDS: list[float] = []  # CPU time (user + sys, all descendants) of each _timed run


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(cmd: list[str]) -> float:
    """Wall seconds of one fresh process; its CPU seconds go to ``CPU_SECONDS``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cpu, start = _cpu(), time.perf_counter()
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    CPU_SECONDS.append(_cpu() - cpu)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return elapsed


def _staff_submission(dest: Path) -> Path:
    for rel in SUBMISSION_FILES:
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO / rel, dest / rel)
    return dest


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of floor and grade (median reported)")
    parser.add_argument("--copies", type=int, default=24, help="students in the grade-all comparison (start-up is paid once, so small classes gain less)")
    parser.add_argument("--skip-grade-all", action="store_true", help="only the single-submission comparison")
    args = parser.parse_args(argv)
    py = sys.executable
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        tmp = Path(tmp)
        sub = _staff_submission(tmp / "staff")
        env_cache = {"AUTOGRADER_CACHE": str(tmp / "cache")}
        os.environ.update(env_cache)
        cold = _timed([py, "-m", "autograder", "grade", str(sub), "--out", str(tmp / "cold.json")])
        handout = tmp / "handout"
        _timed([py, "-m", "autograder", "release", "--out", str(handout)])
        floor, graded = [], []
        for _ in range(args.repeats):
            floor.append(_timed([py, "-c", "import torch, timm"]))
            graded.append(_timed([py, "-m", "autograder", "grade", str(sub), "--out", str(tmp / "r.json"),
                                  "--handout", str(handout)]))
        f, g = statistics.median(floor), statistics.median(graded)
        out.update(floor_s=f, grade_s=g, ratio=g / f, cold_grade_s=cold)
        print(f"{'step':<44}{'median s':>10}{'runs':>6}")
        floor_label = 'floor: python -c "import torch, timm"'
        print(f"{floor_label:<44}{f:>10.2f}{args.repeats:>6}")
        print(f"{'grade one full submission (handout built)':<44}{g:>10.2f}{args.repeats:>6}")
        print(f"{'grade, cold (builds the handout too)':<44}{cold:>10.2f}{1:>6}")
        print(f"ratio grade / floor: {g / f:.2f}x (target <= {TARGET_RATIO:g}x)")
        if not args.skip_grade_all:
            klass = tmp / "class"
            for i in range(args.copies):
                shutil.copytree(sub, klass / f"student{i}")
            times = {}
            for jobs in (1, 2):
                times[jobs] = _timed([py, "-m", "autograder", "grade-all", str(klass), "--out", str(tmp / f"out{jobs}"),
                                      "--jobs", str(jobs)])
                label = f"grade-all {args.copies} students --jobs {jobs}"
                print(f"{label:<44}{times[jobs]:>10.2f}{1:>6}   CPU {CPU_SECONDS[-1]:.1f} s = "
                      f"{CPU_SECONDS[-1] / times[jobs]:.2f} cores busy on average")
            speedup = times[1] / times[2]
            # Amdahl: the start-up (python + torch/timm imports, about the floor) is paid once either
            # way; only the per-student part (sandbox child + items) can run two at a time.
            per_student = max(times[1] - f, 0.0) / args.copies
            bound = times[1] / (f + per_student * -(-args.copies // 2))
            out.update(grade_all_1_s=times[1], grade_all_2_s=times[2], speedup=speedup, amdahl_bound=bound)
            print(f"speed-up --jobs 2 vs --jobs 1: {speedup:.2f}x (target >= {TARGET_SPEEDUP:g}x; "
                  f"{os.cpu_count()} CPUs here)")
            print(f"per student after start-up: {per_student:.2f} s; best possible with 2 jobs given a start-up of "
                  f"about the floor: {bound:.2f}x (more students -> closer to 2x)")
    return out


if __name__ == "__main__":
    main()
