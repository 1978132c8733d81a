"""The sandbox for student code: round trips, every limit, crashes, isolation, the modes.

The tasks live in ``tests/sandbox_tasks.py`` (trusted code imported in the child).
"""
from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from autograder.sandbox import Limits, Sandbox, SandboxError, TaskResult

TASKS = "tests.sandbox_tasks"
IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="the full sandbox needs root (CI runs as root)")
SECRET = "VZ-SANDBOX-TEST-SECRET-5f1c"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("work")
    (root / "models").mkdir()
    (root / "models" / "__init__.py").write_text("")
    (root / "models" / "vit.py").write_text(
        "import torch\n\n\nclass VisionTransformer(torch.nn.Module):\n"
        "    def __init__(self, dim=4):\n        super().__init__()\n        self.fc = torch.nn.Linear(dim, 2)\n\n"
        "    def forward(self, x):\n        return helper(self.fc(x))\n\n\n"
        "def helper(y):\n    if y.shape[0] > 2:\n        raise ValueError('batch too big for this model')\n    return y\n")
    return root


@pytest.fixture(scope="module")
def sb(workdir):
    with Sandbox(workdir, TASKS) as box:
        yield box


def _alive_with_uid(uid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.stat(f"/proc/{d}").st_uid == uid:
                    out.append(int(d))
            except OSError:
                pass
    return out


def test_round_trip_tensors_and_arrays(sb):
    x = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    r = sb.run("double", {"x": x, "arr": np.arange(4, dtype=np.int32)})
    assert isinstance(r, TaskResult) and r.ok, r
    torch.testing.assert_close(r.value["y"], 2 * x, msg="tensor doubled in the child came back different")
    np.testing.assert_array_equal(r.value["arr"], np.arange(4) * 2, err_msg="array doubled in the child")
    nested = {"a": [1, 2.5, None, "s", True], "b": {"t": torch.ones(2, dtype=torch.bfloat16)}}
    back = sb.run("echo", nested)
    assert back.ok and back.value["echo"]["a"] == nested["a"]
    assert back.value["echo"]["b"]["t"].dtype == torch.bfloat16


def test_student_error_is_trimmed_to_student_files(sb):
    r = sb.run("forward", {"kwargs": {"dim": 4}, "x": torch.zeros(3, 4, dtype=torch.float64)})
    assert not r.ok and r.limit is None
    assert "ValueError: batch too big" in r.error
    assert 'File "models/vit.py", line' in r.error and "in helper" in r.error
    assert "sandbox_tasks" not in r.error and "/opt/grader" not in r.error and "/submission" not in r.error
    ok = sb.run("forward", {"kwargs": {"dim": 4}, "x": torch.zeros(2, 4, dtype=torch.float64)})
    assert ok.ok and ok.value["logits"].shape == (2, 2)


def test_unknown_task_and_unsendable_value_fail_the_item_only(sb):
    assert "KeyError" in sb.run("no_such_task", {}).error
    r = sb.run("unsendable", {})
    assert not r.ok and "cannot be sent" in r.error
    r = sb.run("unsendable", {"meta": True})  # a tensor on the wrong device
    assert not r.ok and "could not be sent" in r.error and r.limit is None
    assert sb.run("echo", {}).ok


def test_crash_exit_and_sys_exit_cost_one_item(sb):
    r = sb.run("exit", {"code": 3, "hard": True})
    assert not r.ok and r.limit == "child process exited with code 3 (sys.exit / os._exit in your code)"
    r = sb.run("exit", {"code": 4})
    assert not r.ok and "SystemExit: 4" in r.error and "sys.exit" in r.error
    assert sb.run("echo", {"after": 1}).value == {"echo": {"after": 1}}  # a fresh child took over


def test_garbled_forged_and_huge_replies_fail_the_item(sb):
    for how in ("garbage", "forged", "huge"):
        r = sb.run("garble", {"how": how})
        assert not r.ok and "malformed or forged" in r.limit, (how, r)
        assert "score" not in r.value
    assert sb.run("echo", {}).ok


def test_output_is_captured_per_item_and_truncated(workdir):
    with Sandbox(workdir, TASKS, Limits(output_kb=4)) as box:
        r = box.run("shout", {"kb": 2})
        assert r.ok and r.stdout.count("x" * 1023) == 2 and "stderr here" in r.stdout
        r = box.run("shout", {"kb": 200})
        assert r.ok and len(r.stdout) < 5000 and "output truncated" in r.stdout
        assert box.run("echo", {}).stdout == ""  # nothing of the previous item leaks into the next


def test_wall_time_limit_then_fresh_child(workdir):
    with Sandbox(workdir, TASKS, Limits(item_wall_s=1)) as box:
        r = box.run("sleep", {"seconds": 60})
        assert not r.ok and r.limit == "wall time limit (1 s) for this item"
        assert box.run("echo", {}).ok


def test_cpu_time_limit(workdir):
    with Sandbox(workdir, TASKS, Limits(item_cpu_s=1, item_wall_s=60)) as box:
        r = box.run("spin", {})
        assert not r.ok and "CPU time limit (1 s)" in r.limit
        assert box.run("spin", {"seconds": 0.1}).ok


def test_submission_wall_limit(workdir):
    with Sandbox(workdir, TASKS, Limits(item_wall_s=30, submission_wall_s=1.5)) as box:
        box.run("sleep", {"seconds": 1})
        r = box.run("sleep", {"seconds": 5})
        assert not r.ok and "whole submission" in r.limit
        assert "whole submission" in box.run("echo", {}).limit  # the budget is spent: nothing runs


def test_memory_limit(workdir):
    with Sandbox(workdir, TASKS, Limits(memory_mb=256, address_reserve_mb=1024)) as box:
        r = box.run("alloc", {"mb": 2048})  # beyond the address space: MemoryError in the child
        assert not r.ok and r.limit == "memory limit (256 MB)" and "MemoryError" in r.error
        assert box.run("alloc", {"mb": 16}).ok
        if box._cgroup is not None:  # as root: the cgroup stops what the address space allows
            assert any("cgroup" in p for p in box.protections)
            r = box.run("alloc", {"mb": 700})
            assert not r.ok and r.limit == "memory limit (256 MB)", r
            assert box.run("alloc", {"mb": 16}).ok


def test_file_size_limit(workdir):
    with Sandbox(workdir, TASKS, Limits(fsize_mb=1)) as box:
        r = box.run("write", {"mb": 4})
        assert not r.ok and r.limit == "file size limit (1 MB)"


def test_nproc_limit_and_strays_are_killed(workdir):
    with Sandbox(workdir, TASKS, Limits(nproc=8)) as box:
        r = box.run("fork", {"n": 30})
        assert not r.ok and "Resource temporarily unavailable" in r.error
        assert box.run("fork", {"n": 3}).ok
        if box.mode != "plain":
            assert box.run("probe", {}).value["pids"] == [1]  # the three sleepers died with their item


def test_message_size_limit(workdir):
    with Sandbox(workdir, TASKS, Limits(message_mb=1)) as box:
        r = box.run("big", {"mb": 2})
        assert not r.ok and "could not be sent" in r.error
        with pytest.raises(Exception, match="exceeds"):
            box.run("echo", {"t": np.zeros(1 << 18)})


def test_bad_input_is_refused_with_a_clear_message(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        Sandbox(tmp_path / "missing", TASKS)
    with pytest.raises(ValueError, match="Limits.memory_mb=0"):
        Limits(memory_mb=0)
    with pytest.raises(ValueError, match="staff-only"):
        Sandbox(tmp_path, TASKS, trusted_modules=("autograder.staff.mistakes",))
    with pytest.raises(ValueError, match="mode='jail'"):
        Sandbox(tmp_path, TASKS, mode="jail")


def test_broken_task_module_is_a_sandbox_error(tmp_path):
    (tmp_path / "models").mkdir()
    with pytest.raises((SandboxError, ValueError)):
        Sandbox(tmp_path, "tests.no_such_module").run("echo", {})


def _listener():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            received.append(conn.recv(100) or b"<connected>")
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, received, stop


@needs_root
def test_root_isolation(workdir, monkeypatch):
    monkeypatch.setenv("VZ_GRADER_SECRET", SECRET)
    srv, received, stop = _listener()
    try:
        with Sandbox(workdir, TASKS, privileged=True) as box:
            assert box.mode == "root"
            text = " ".join(box.protections)
            for words in ("PID namespace", "network namespace", "mount namespace", "unprivileged uid",
                          "no_new_privs", "address space 8192 MB", "without pickle"):
                assert words in text, words
            staff = [str(Path(__file__).resolve().parents[1] / p) for p in ("models", "autograder/staff", ".git")]
            r = box.run("probe", {"port": srv.getsockname()[1], "paths": staff + ["/root", "/home"]})
            assert r.ok, r
            v = r.value
            assert v["uid"] != 0 and v["gid"] != 0 and v["pids"] == [1] and v["hostname"] == "sandbox"
            assert v["cwd"] == "/submission" and "Network is unreachable" in v["connect"]
            assert not any(v["exists"][p] for p in staff), v["exists"]
            assert SECRET not in str(v["env"]) and v["env"]["HOME"] == "/tmp"
            uid = v["uid"]
            box.run("fork", {"n": 3})
        assert received == []
        assert _alive_with_uid(uid) == []  # close() left nothing behind
    finally:
        stop.set()
        srv.close()


def test_unprivileged_mode(workdir):
    with Sandbox(workdir, TASKS, privileged=False) as box:
        assert box.mode in ("userns", "plain")
        text = " ".join(box.protections)
        r = box.run("probe", {})
        assert r.ok, r
        if box.mode == "userns":
            assert "user namespace" in text and "all capabilities dropped" in text
            assert r.value["pids"] == [1] and "unreachable" in r.value["connect"]
        else:
            assert "NO namespaces" in text
        assert box.run("fork", {"n": 2}).ok
        assert not box.run("exit", {"code": 5, "hard": True}).ok
        assert box.run("echo", {}).ok


def test_plain_mode_kills_strays_and_reports_weak_protection(workdir):
    with Sandbox(workdir, TASKS, mode="plain") as box:
        assert "NO namespaces" in box.protections[0]
        assert box.run("fork", {"n": 3}).ok
        from autograder.sandbox._runner import _descendants

        deadline = time.monotonic() + 5
        while _descendants(box._child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _descendants(box._child_pid) == []
        pid = box._child_pid
    assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2]


def test_falls_back_to_a_weaker_mode_when_isolation_fails(workdir, monkeypatch):
    import autograder.sandbox.sandbox as sandbox_module

    original = Sandbox._boot_config

    def broken(self, mode, *args):
        cfg = original(self, mode, *args)
        if mode != "plain":
            cfg["newroot"] = "/nonexistent/root"  # the namespace setup fails, as in a locked-down container
        return cfg

    monkeypatch.setattr(Sandbox, "_boot_config", broken)
    monkeypatch.setattr(sandbox_module, "_mode_cache", {})
    with Sandbox(workdir, TASKS) as box:
        assert box.mode == "plain" and "NO namespaces" in box.protections[0]
        assert box.run("echo", {"a": 1}).value == {"echo": {"a": 1}}
    with pytest.raises(SandboxError, match="could not start"):
        Sandbox(workdir, TASKS, mode="root" if IS_ROOT else "userns").run("echo", {})


def test_start_launches_the_child_and_the_first_run_waits_for_it(workdir):
    """`start` returns at once (the grader imports torch meanwhile); the first run waits for the
    child, which has every protection a child started by `run` has."""
    with Sandbox(workdir, TASKS) as plain_box:
        want = plain_box.protections
    with Sandbox(workdir, TASKS) as box:
        box.start()
        box.start()  # a second call changes nothing
        r = box.run("echo", {"n": 1})
        assert r.ok and r.value == {"echo": {"n": 1}}
        assert [p for p in box.protections if "uid" not in p] == [p for p in want if "uid" not in p]
        assert box.run("exit", {"code": 3, "hard": True}).limit  # a fresh child takes over as before
        assert box.run("echo", {}).ok


def test_a_started_child_that_never_ran_a_task_is_gone_after_close(workdir):
    box = Sandbox(workdir, TASKS)
    box.start()
    boot = box._proc.pid
    box.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (box._uid is not None and _alive_with_uid(box._uid)):
        time.sleep(0.05)
    assert box._uid is None or not _alive_with_uid(box._uid)
    assert not os.path.exists(f"/proc/{boot}")  # reaped
