"""The warm start (issue 16): children forked from a fork server keep every protection, hold no
staff data, fall back to a fresh Python (saying why) where a warm start is not possible, and score
the whole test catalogue exactly as fresh children do.

The tasks live in ``tests/sandbox_tasks.py`` (trusted code, imported by the server and the child).
"""
from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

import pytest
import torch

from autograder.sandbox import Limits, Sandbox, Zygote
from autograder.sandbox.zygote import WARM_ENV, warm_start_possible
from tests.sandbox_tasks import _PLUS_ONE, find_in_own_memory

TASKS = "tests.sandbox_tasks"
IS_ROOT = os.geteuid() == 0
WARM = "warm start: the child was forked from a server process"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("work")
    (root / "models").mkdir()
    (root / "models" / "__init__.py").write_text("")
    (root / "models" / "vit.py").write_text(
        "import torch\n\n\nclass VisionTransformer(torch.nn.Module):\n"
        "    def __init__(self, dim=4):\n        super().__init__()\n        self.fc = torch.nn.Linear(dim, 2)\n\n"
        "    def forward(self, x):\n        if x.shape[0] > 2:\n            raise ValueError('batch too big')\n"
        "        return self.fc(x)\n")
    return root


@pytest.fixture(scope="module")
def light():
    """A server that imports only the task module (small enough for tight memory limits)."""
    z = Zygote(TASKS, preload=())
    yield z
    z.close()


def _alive(pid: int) -> bool:
    try:
        return "Z" not in open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False


def test_platform_supports_the_warm_start():
    assert warm_start_possible() is None


# ------------------------------------------------------------------------- no staff data
@pytest.mark.parametrize("mode", [None, "plain"], ids=["strongest", "plain"])
def test_forked_child_finds_no_staff_secret_in_its_memory(mode, workdir, tmp_path):
    """The grader reads a staff file holding a secret, then starts the server: a child forked from it
    searches its own memory (/proc/self/mem) and finds a text it holds itself, but not the secret.
    A plain fork of the grader, searching the same way, does find the secret."""
    staff = tmp_path / "staff"
    staff.mkdir()
    secret = f"VZ-STAFF-KEY-{secrets.token_hex(12)}"
    (staff / "answer_key.txt").write_text(f"hidden labels: {secret}\n")
    held = (staff / "answer_key.txt").read_text()  # in the grader's memory from here on
    assert secret in held
    shifted = secret.encode().translate(_PLUS_ONE)
    control = f"child-control-{secrets.token_hex(12)}".encode().translate(_PLUS_ONE)
    z = Zygote(TASKS, preload=("numpy", "torch"))
    try:
        with Sandbox(workdir, TASKS, zygote=z, mode=mode) as sb:
            r = sb.run("scan_memory", {"secret": shifted.hex(), "control": control.hex()})
            assert sb.protections[-1].startswith(WARM), sb.protections[-1]
        assert r.ok, r
        assert r.value["control"], "the search must find a text the child holds (else it proves nothing)"
        assert r.value["secret"] == [], f"staff secret found in the child's memory: {r.value['secret']}"
    finally:
        z.close()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # a copy of the grader: its memory holds the secret
        os.write(write_end, b"found" if find_in_own_memory(shifted) else b"clean")
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    assert os.read(read_end, 16) == b"found", "the search must see what a plain fork of the grader inherits"
    os.close(read_end)


# --------------------------------------------------------------------- every protection
@pytest.mark.skipif(not IS_ROOT, reason="the full sandbox needs root (CI runs as root)")
def test_warm_child_has_the_fresh_childs_protections(workdir, light, monkeypatch):
    monkeypatch.setenv("VZ_GRADER_SECRET", "VZ-WARM-TEST-SECRET")
    staff = [str(Path(__file__).resolve().parents[1] / p) for p in ("models", "autograder/staff", ".git")]
    seen = {}
    for how, zygote in (("fresh", None), ("warm", light)):
        with Sandbox(workdir, TASKS, privileged=True, zygote=zygote) as sb:
            r = sb.run("probe", {"paths": staff + ["/root", "/home"]})
            assert r.ok, r
            seen[how] = (sb.protections, r.value)
    (fresh_text, fresh), (warm_text, warm) = seen["fresh"], seen["warm"]
    same = [re.sub(r"uid/gid \d+", "uid/gid N", line) for line in warm_text[:-1]]
    assert same == [re.sub(r"uid/gid \d+", "uid/gid N", line) for line in fresh_text[:-1]], \
        "the same protections in force (each sandbox its own uid), only the start differs"
    assert warm_text[-1].startswith(WARM) and "fresh Python" in fresh_text[-1]
    assert warm["uid"] not in (0, os.getuid()) and warm["gid"] != 0
    assert warm["pids"] == [1] and warm["hostname"] == "sandbox" and warm["cwd"] == "/submission"
    assert "Network is unreachable" in warm["connect"]
    assert not any(warm["exists"][p] for p in staff) and warm["exists"] == fresh["exists"], warm["exists"]
    assert warm["env"] == {**fresh["env"]}, "the child's whole environment is the fresh child's"
    assert "VZ-WARM-TEST-SECRET" not in str(warm["env"])
    assert warm["root"] == fresh["root"]
    # the child's own temp dir, not the one the server cached at import (torch._dynamo does that)
    assert warm["tempdir"] == fresh["tempdir"] == warm["mkstemp"] == warm["env"]["TMPDIR"]


def test_warm_child_limits_and_recovery(workdir, light):
    with Sandbox(workdir, TASKS, Limits(memory_mb=256, address_reserve_mb=1024), zygote=light) as sb:
        assert sb.protections[-1].startswith(WARM), sb.protections[-1]
        r = sb.run("alloc", {"mb": 2048})
        assert not r.ok and r.limit == "memory limit (256 MB)" and "MemoryError" in r.error
        assert sb.run("alloc", {"mb": 16}).ok
        if sb._cgroup is not None:  # as root: the cgroup stops what the address space allows
            r = sb.run("alloc", {"mb": 700})
            assert not r.ok and r.limit == "memory limit (256 MB)", r
    with Sandbox(workdir, TASKS, Limits(item_wall_s=1), zygote=light) as sb:
        assert sb.protections[-1].startswith(WARM), sb.protections[-1]
        first = sb._child_pid
        r = sb.run("sleep", {"seconds": 60})
        assert not r.ok and r.limit == "wall time limit (1 s) for this item"
        assert not _alive(first)
        assert sb.run("echo", {}).ok
    with Sandbox(workdir, TASKS, Limits(nproc=8), zygote=light) as sb:
        r = sb.run("forward", {"kwargs": {"dim": 4}, "x": torch.zeros(3, 4, dtype=torch.float64)})
        assert not r.ok and "ValueError: batch too big" in r.error and 'File "models/vit.py"' in r.error, r
        r = sb.run("fork", {"n": 30})
        assert not r.ok and "Resource temporarily unavailable" in r.error
        r = sb.run("exit", {"code": 3, "hard": True})
        assert r.limit == "child process exited with code 3 (sys.exit / os._exit in your code)"
        r = sb.run("shout", {"kb": 1})
        assert r.ok and "stderr here" in r.stdout
        assert sb.protections[-1].startswith(WARM), "a child after a crash forks from the server again"
        last = sb._child_pid
    deadline = time.monotonic() + 5
    while _alive(last) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(last), "close() leaves no child behind"


def test_children_of_one_server_do_not_share_state(workdir, light):
    with Sandbox(workdir, TASKS, zygote=light) as a, Sandbox(workdir, TASKS, zygote=light) as b:
        ra, rb = a.run("probe", {}), b.run("probe", {})
        assert ra.ok and rb.ok
        if a.mode != "plain":
            assert ra.value["uid"] != rb.value["uid"] or not IS_ROOT  # one fresh uid per sandbox
        assert a._child_pid != b._child_pid


# ------------------------------------------------------------------------------ fallbacks
def _fresh_because(sb: Sandbox) -> str:
    note = sb.protections[-1]
    assert note.startswith("the child started as a fresh Python process (no warm start: "), note
    return note


def test_falls_back_when_the_server_started_threads(workdir):
    z = Zygote("tests.sandbox_threaded_tasks", preload=())
    try:
        with Sandbox(workdir, "tests.sandbox_threaded_tasks", zygote=z) as sb:
            assert sb.run("echo", {"a": 1}).value == {"echo": {"a": 1}}
            assert "threads" in _fresh_because(sb)
    finally:
        z.close()


def test_falls_back_when_the_address_space_limit_is_below_the_servers(workdir):
    z = Zygote(TASKS, preload=("numpy", "torch"))
    try:
        with Sandbox(workdir, TASKS, Limits(memory_mb=256, address_reserve_mb=1024), zygote=z) as sb:
            assert sb.run("echo", {}).ok
            assert "address-space limit (1280 MB)" in _fresh_because(sb)
    finally:
        z.close()


def test_falls_back_when_the_server_is_gone_or_switched_off(workdir, monkeypatch):
    z = Zygote(TASKS, preload=())
    assert z.wait_ready()
    z._proc.kill()
    z._proc.wait()
    try:
        with Sandbox(workdir, TASKS, zygote=z) as sb:
            assert sb.run("echo", {}).ok
            assert "gone" in _fresh_because(sb) or "closed" in _fresh_because(sb)
    finally:
        z.close()
    monkeypatch.setenv(WARM_ENV, "0")
    off = Zygote(TASKS, preload=())
    with Sandbox(workdir, TASKS, zygote=off) as sb:
        assert sb.run("echo", {}).ok
        assert f"{WARM_ENV}=0" in _fresh_because(sb)


def test_falls_back_for_another_task_module(workdir, light):
    with Sandbox(workdir, "tests.sandbox_threaded_tasks", zygote=light) as sb:
        assert sb.run("echo", {}).ok
        assert "holds tests.sandbox_tasks" in _fresh_because(sb)


# ------------------------------------------------------- the same scores as fresh children
def _catalogue() -> dict[str, object]:
    """Submission name -> how to write it into a folder: the staff's solution, every catalogued
    mistake grafted into it, every alternative solution, every hostile case."""
    from autograder.staff.mistakes import MISTAKES
    from tests.test_alt_solutions import ALTERNATIVES
    from tests.test_hostile import CASES, build_case
    from tests.test_items_support import graft_alternative, graft_mistake, handout_text, make_submission, staff_text
    from tests.test_mutants import FILES

    def files(changed: dict[str, str]):
        return lambda root: make_submission(root, changed)

    out: dict[str, object] = {"staff": files({})}
    for m in MISTAKES:
        group, cls = m.item.split("/")
        rel = FILES[group]
        out[f"mutant-{group}-{m.key}"] = (lambda rel, cls, m: lambda root: make_submission(
            root, {rel: graft_mistake(staff_text(rel), cls, m)}))(rel, cls, m)
    for alt, rel in ALTERNATIVES:
        out[f"alt-{alt}"] = (lambda alt, rel: lambda root: make_submission(
            root, {rel: graft_alternative(handout_text(staff_text(rel)), alt)}))(alt, rel)
    for case in CASES:
        out[f"hostile-{case}"] = (lambda case: lambda root: build_case(case, make_submission(root), 9))(case)
    return out


CATALOGUE = _catalogue()
QUICK = ["staff", next(n for n in CATALOGUE if n.startswith("mutant-vit-")), "hostile-forge_results"]
# Hostile cases that hang meet a short limit; everything else gets the default 60 s, far above what
# an item takes even on a busy machine (a limit hit on one side only would be load, not a difference).
HOSTILE_LIMITS = Limits(item_wall_s=10, item_cpu_s=10, memory_mb=3072)
CATALOGUE_LIMITS = Limits(memory_mb=3072)


def _items(name: str) -> list[str] | None:
    """The items a submission's change can touch (all of them for the staff's solution)."""
    from autograder.grading import ITEM_NAMES

    group = {"mutant": lambda: name.split("-")[1], "alt": lambda: name.split("-")[1].split("_")[0],
             "hostile": lambda: "vit"}.get(name.split("-")[0])
    return None if group is None else [n for n in ITEM_NAMES if n.startswith(group() + "/")]


def _scores(root: Path, zygote, items: list[str] | None, limits: Limits) -> tuple[list[tuple], dict, str]:
    from autograder.grading import grade_code_items, load_rubric

    with Sandbox(root, limits=limits, zygote=zygote) as sb:
        results = grade_code_items(root, sb, rubric=load_rubric(), items=items)
        return ([(r.name, r.score, r.max_score, r.status) for r in results], {r.name: r.output for r in results},
                sb.protections[-1])


def _same_scores_both_ways(name: str, tmp_path: Path) -> None:
    from autograder.sandbox import warm_zygote

    root = tmp_path / name
    root.mkdir()
    CATALOGUE[name](root)
    limits = HOSTILE_LIMITS if name.startswith("hostile-") else CATALOGUE_LIMITS
    warm, warm_out, warm_note = _scores(root, warm_zygote(threads=limits.threads), _items(name), limits)
    fresh, fresh_out, fresh_note = _scores(root, None, _items(name), limits)
    assert warm, name
    assert warm_note.startswith(WARM) and "fresh Python" in fresh_note, (warm_note, fresh_note)
    differ = [w[0] for w, f in zip(warm, fresh) if w != f]
    assert warm == fresh, f"{name}: scores differ between a warm and a fresh child on {differ}:\n" + "\n".join(
        f"{item}\n  warm: {warm_out[item][:600]}\n  fresh: {fresh_out[item][:600]}" for item in differ)


@pytest.mark.parametrize("name", QUICK)
def test_scores_match_fresh_children(name, tmp_path):
    _same_scores_both_ways(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in CATALOGUE if n not in QUICK])
def test_scores_match_fresh_children_on_the_whole_catalogue(name, tmp_path):
    _same_scores_both_ways(name, tmp_path)
