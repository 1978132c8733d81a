"""The hostile catalogue (issue 4): every submission in ``tests/hostile/`` attacks the grader.

Two layers:
- ``test_sandbox_survives``: each case's model runs in one Sandbox (fast, every run). The grader
  side survives; the item fails where the attack breaks the model and matches the reference where
  the attack failed; the listener gets nothing; nothing is left behind; no secret leaks.
- ``test_grade_all_*``: the whole catalogue through one ``python -m autograder grade-all --jobs 2``
  on a copy of the staff repository with a planted secret: results files valid and written by the
  grader, attacked items zero, untouched items full marks, no secret anywhere in the output.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from autograder.sandbox import Limits, Sandbox

REPO = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).resolve().parent / "hostile"
CASES = sorted(p.name for p in HOSTILE.iterdir() if (p / "models" / "vit.py").is_file())
ON_TOP = "# hostile: on top of the reference"
SECRET = "VZ-STAFF-ONLY-SENTINEL-7d3a9e"
IS_ROOT = os.geteuid() == 0
VIT_ITEMS = ("PatchEmbed", "AddPositionEmbs", "MlpBlock", "MultiHeadSelfAttention", "Encoder1DBlock", "Encoder",
             "VisionTransformer", "end_to_end")


def reference_model_source() -> str:
    """The staff's ``models/vit.py`` with the solution markers removed: a correct model."""
    text = (REPO / "models" / "vit.py").read_text()
    return "\n".join(line for line in text.splitlines() if not re.match(r"\s*### (BEGIN|END) SOLUTION", line)) + "\n"


def build_case(case: str, dest: Path, port: int) -> Path:
    """Write the submission of ``case`` (``dest/models/vit.py``) and return ``dest``."""
    attack = (HOSTILE / case / "models" / "vit.py").read_text().replace("{{PORT}}", str(port))
    if attack.startswith(ON_TOP):
        attack = reference_model_source() + "\n\n# ---- the attack ----\n" + attack
    (dest / "models").mkdir(parents=True, exist_ok=True)
    (dest / "models" / "vit.py").write_text(attack)
    return dest


class Listener:
    """A TCP and a UDP listener on 127.0.0.1 of the grader's machine, recording what arrives."""

    def __init__(self) -> None:
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.tcp.listen(16)
        self.tcp.settimeout(0.2)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.2)
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
                self.received.append(conn.recv(1000) or b"<connection>")
                conn.close()
            except OSError:
                pass
            try:
                self.received.append(self.udp.recv(1000))
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.tcp.close()
        self.udp.close()


@pytest.fixture(scope="module")
def listener():
    srv = Listener()
    yield srv
    srv.close()


def _processes_named(name: str) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if open(f"/proc/{d}/comm").read().strip() == name:
                    out.append(int(d))
            except OSError:
                pass
    return out


def _big_files_since(start: float, roots: list[Path], size: int = 64 << 20, uids: set[int] | None = None) -> list[str]:
    """Files over ``size`` bytes modified since ``start`` below ``roots``.

    With ``uids``, only files owned by those users count: /tmp and /dev/shm are shared with the
    other xdist worker and anything else on the machine, whose big files are not the sandbox's.
    """
    found = []
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for f in files:
                p = os.path.join(dirpath, f)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if st.st_size > size and st.st_mtime >= start and (not uids or st.st_uid in uids):
                    found.append(p)
    return found


# ------------------------------------------------------------------------- Sandbox level
SMALL_VIT = {"img_size": 8, "patch_size": 4, "in_chans": 3, "num_classes": 5, "embed_dim": 8, "depth": 1,
             "num_heads": 2, "mlp_dim": 16}
# case -> what its item gives: "match" (the reference's logits), "wrong" (no or other logits), or
# "limit:TEXT" / "error:TEXT" (the result's limit or error holds TEXT)
SANDBOX_EXPECT = {
    "control": "match", "kill_parent": "match", "fork_many": "match", "network": "match",
    "read_solutions": "match", "flood_stdout": "match", "huge_file": "match",
    "loop_import": "limit:wall time limit", "loop_forward": "limit:wall time limit",
    "memory_hog": "limit:memory limit", "sys_exit_import": "error:SystemExit: 3",
    "os_exit_import": "limit:child process exited with code 0", "deep_recursion": "limit:child process crashed",
    "forge_results": "wrong", "monkeypatch": "wrong",
}


@pytest.fixture(scope="module")
def sandbox_runs(tmp_path_factory, listener):
    """Run every case once, in one sandbox (monkeypatch last: it poisons torch in that child)."""
    work = tmp_path_factory.mktemp("hostile-work")
    for case in CASES:
        build_case(case, work / case, listener.port)
    start = time.time()
    order = sorted(CASES, key=lambda c: c == "monkeypatch")
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    runs, leftovers = {}, {}
    limits = Limits(item_wall_s=8, item_cpu_s=8, memory_mb=2048, output_kb=16)
    with Sandbox(work, "tests.hostile.tasks", limits) as sb:
        protections = sb.protections
        for case in order:
            runs[case] = sb.run("run_case", {"case": case, "x": x, "kwargs": SMALL_VIT})
            leftovers[case] = _processes_named("vzhostile")
        uid = getattr(sb, "_uid", None)
    return {"runs": runs, "leftovers": leftovers, "protections": protections, "start": start, "uid": uid,
            "after_close": _processes_named("vzhostile")}


def test_catalogue_is_complete():
    assert set(CASES) == set(SANDBOX_EXPECT), "every hostile case needs an expectation (and vice versa)"


@pytest.mark.parametrize("case", sorted(SANDBOX_EXPECT))
def test_sandbox_survives(case, sandbox_runs, listener):
    runs = sandbox_runs["runs"]
    r, want = runs[case], SANDBOX_EXPECT[case]
    control = runs["control"]
    assert control.ok, control
    if want == "match":
        assert r.ok, r
        torch.testing.assert_close(r.value["logits"], control.value["logits"], rtol=0, atol=0,
                                   msg=f"{case}: the model's logits differ from the reference's")
    elif want == "wrong":  # scored in the grader: no logits, or logits that differ from the reference's
        logits = r.value.get("logits") if r.ok else None
        assert not isinstance(logits, torch.Tensor) or not torch.equal(logits, control.value["logits"]), case
    else:
        kind, text = want.split(":", 1)
        assert not r.ok, r
        assert text in (getattr(r, kind) or ""), (case, r.limit, r.error)
    assert len(r.stdout) <= (16 << 10) + 200, "console output must be truncated"
    assert SECRET not in (r.stdout + str(r.error) + str(r.value))
    assert sandbox_runs["leftovers"][case] == [], "processes the case started outlived its item"
    assert listener.received == []


def test_sandbox_left_nothing_behind(sandbox_runs):
    assert sandbox_runs["after_close"] == []
    uid = sandbox_runs["uid"]
    assert _big_files_since(sandbox_runs["start"], [Path("/tmp"), Path("/dev/shm")],
                            uids={uid} if uid is not None else None) == []
    if IS_ROOT:
        assert any("PID namespace" in p for p in sandbox_runs["protections"])


RSS_HOG = """
# MlpBlock.forward writes every page of what it takes, until something stops it.
def _rss_hog(self, x):
    hoard = []
    while True:
        hoard.append(bytearray(64 << 20))
        hoard[-1][::4096] = b"x" * len(hoard[-1][::4096])


MlpBlock.forward = _rss_hog  # noqa: F821
"""


def test_memory_limit_stops_rss_hog(tmp_path):
    """A hog that writes its pages is stopped by the memory limit, not by a clock.

    The wall and CPU limits are far above what writing 1 GiB takes on any machine, so the only
    limit the hog can reach is memory (the cgroup as root, else the address-space limit): this
    cannot race the machine's load the way an 8 s limit does.
    """
    dest = tmp_path / "rss_hog"
    (dest / "models").mkdir(parents=True)
    (dest / "models" / "vit.py").write_text(reference_model_source() + RSS_HOG)
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    limits = Limits(item_wall_s=600, item_cpu_s=600, memory_mb=1024, address_reserve_mb=4096, output_kb=16)
    with Sandbox(tmp_path, "tests.hostile.tasks", limits) as sb:
        r = sb.run("run_case", {"case": "rss_hog", "x": x, "kwargs": SMALL_VIT})
    assert not r.ok, r
    assert "memory limit" in (r.limit or ""), (r.limit, r.error)


# ------------------------------------------------------------------ the grader, end to end
FULL, ZERO = "full", "zero"
# case -> item -> expected score; items not named get `default`
GRADE_EXPECT = {
    "control": {"default": FULL},
    "loop_import": {"default": ZERO},
    "loop_forward": {"default": FULL, "VisionTransformer": ZERO, "end_to_end": ZERO},
    "memory_hog": {"default": FULL, "MlpBlock": ZERO, "end_to_end": ZERO},
    "sys_exit_import": {"default": ZERO},
    "os_exit_import": {"default": ZERO},
    "kill_parent": {"default": FULL},
    "fork_many": {"default": FULL},
    "network": {"default": FULL},
    "read_solutions": {"default": FULL},
    "forge_results": {"default": ZERO},
    "flood_stdout": {"default": FULL},
    "huge_file": {"default": FULL},
    "monkeypatch": {"default": ZERO},
    "deep_recursion": {"default": FULL, "MultiHeadSelfAttention": ZERO, "end_to_end": ZERO},
}


def _staff_copy(dest: Path) -> Path:
    """A copy of the staff repository with the secret planted where only staff files live."""
    shutil.copytree(REPO, dest, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "output", "datasets", "release", "wandb", "__pycache__", ".pytest_cache", "*.pyc"))
    (dest / "autograder" / "staff" / "hidden_sentinel.txt").write_text(f"hidden labels: {SECRET}\n")
    vit = dest / "models" / "vit.py"
    text = vit.read_text()
    assert "### BEGIN SOLUTION\n" in text
    vit.write_text(text.replace("### BEGIN SOLUTION\n", f"### BEGIN SOLUTION\n        # {SECRET}\n", 1))
    return dest


@pytest.fixture(scope="module")
def graded(tmp_path_factory, listener):
    """The whole catalogue through one ``grade-all --jobs 2`` run on a staff copy holding the secret."""
    root = tmp_path_factory.mktemp("grade-all")
    repo = _staff_copy(root / "repo")
    subs, out = root / "submissions", root / "out"
    for case in CASES:
        build_case(case, subs / case, listener.port)
    start = time.time()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["VZ_GRADER_SECRET"] = SECRET
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(subs), "--out", str(out), "--jobs", "2",
                           "--item-timeout", "10", "--memory-mb", "3072"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=1200)
    return {"proc": proc, "out": out, "start": start, "root": root}


def _results(graded, case: str) -> dict:
    path = graded["out"] / f"{case}.json"
    assert path.is_file(), f"no results for {case}: {graded['proc'].stderr[-3000:]}"
    return json.loads(path.read_text())


def test_grade_all_finishes(graded):
    proc = graded["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.stem for p in graded["out"].glob("*.json")) == sorted(CASES)
    assert (graded["out"] / "gradebook.csv").is_file()


@pytest.mark.parametrize("case", sorted(GRADE_EXPECT))
def test_grade_all_scores_each_case(case, graded):
    data = _results(graded, case)
    assert set(data) >= {"score", "tests", "output"}
    for t in data["tests"]:
        assert set(t) >= {"name", "score", "max_score", "status", "output", "visibility"}, t
        assert 0 <= t["score"] <= t["max_score"], t
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))
    tests = {t["name"]: t for t in data["tests"]}
    want = GRADE_EXPECT[case]
    for item in VIT_ITEMS:
        t = tests[f"vit/{item}"]
        expected = want.get(item, want["default"])
        got = FULL if t["score"] == t["max_score"] else ZERO if t["score"] == 0 else "partial"
        assert got == expected, f"{case}: vit/{item} scored {t['score']}/{t['max_score']}:\n{t['output'][:800]}"
    if IS_ROOT:
        assert "PID namespace" in data["output"], "the grader must say which protections were in force"


def test_grade_all_leaks_nothing_and_leaves_nothing(graded, listener):
    texts = [graded["proc"].stdout, graded["proc"].stderr]
    texts += [p.read_text(errors="replace") for p in graded["out"].iterdir() if p.is_file()]
    assert not any(SECRET in t for t in texts), "the staff-only secret reached the grader's output"
    assert not any("FORGED" in t for t in texts), "a forged result reached the results"
    assert listener.received == []
    assert _processes_named("vzhostile") == []
    uids = set()
    for case in CASES:
        for line in _results(graded, case)["output"].splitlines():
            uids.update(int(u) for u in re.findall(r"unprivileged uid/gid (\d+)", line))
    for uid in uids:
        assert not [d for d in os.listdir("/proc") if d.isdigit() and _uid_of(d) == uid], f"uid {uid} still runs"
    assert _big_files_since(graded["start"], [Path("/tmp"), Path("/dev/shm")], uids=uids or None) == []
    assert _big_files_since(graded["start"], [graded["root"]]) == []


def _uid_of(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
