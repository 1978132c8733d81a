"""Where a sandbox stages the submission and its task code (a RAM-backed folder when it has room,
else the temp dir), and that wherever it is, the child changes nothing the grader or another
student reads: the child's tree is a private copy, read-only where the mode mounts it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

import autograder.sandbox.sandbox as sandbox_module
from autograder.sandbox import Sandbox

TASKS = "tests.sandbox_tasks"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the full sandbox needs root (CI runs as root)")
VIT = "import torch\n\n\nclass VisionTransformer(torch.nn.Module):\n    pass\n"


@pytest.fixture
def workdir(tmp_path) -> Path:
    root = tmp_path / "work"
    (root / "models").mkdir(parents=True)
    (root / "models" / "__init__.py").write_text("")
    (root / "models" / "vit.py").write_text(VIT)
    (root / "submission.csv").write_text("Id,Category\n0,1\n")
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_stage_is_ram_backed_when_there_is_room(workdir, tmp_path, monkeypatch):
    ram = tmp_path / "ram"
    ram.mkdir()
    monkeypatch.setattr(sandbox_module, "_STAGE_DIRS", (str(ram),))
    monkeypatch.setattr(sandbox_module, "_STAGE_MIN_FREE_MB", 1)
    box = Sandbox(workdir, TASKS)
    try:
        assert box._stage.parent == ram
        assert _snapshot(box._stage / "work") == _snapshot(workdir)
        assert (box._stage / "trusted" / "tests" / "sandbox_tasks.py").is_file()
    finally:
        box.close()
    assert list(ram.iterdir()) == []  # close() removes the stage


@pytest.mark.parametrize("why", ["missing", "full"])
def test_stage_falls_back_to_the_temp_dir(why, workdir, tmp_path, monkeypatch):
    ram = tmp_path / "ram"
    ram.mkdir()
    monkeypatch.setattr(sandbox_module, "_STAGE_DIRS", (str(tmp_path / "missing") if why == "missing" else str(ram),))
    monkeypatch.setattr(sandbox_module, "_STAGE_MIN_FREE_MB", 1 << 40 if why == "full" else 1)
    assert sandbox_module._stage_parent() is None
    box = Sandbox(workdir, TASKS)
    try:
        assert box._stage.parent == Path(tempfile.gettempdir())
    finally:
        box.close()
    assert not box._stage.exists() and list(ram.iterdir()) == []


def test_a_plain_child_writes_only_its_own_copy(workdir):
    """Plain mode (no namespaces; here the child may even run as the grader's uid): what it writes
    in its working directory lands in its own copy, never in the grader's tree or a later sandbox's."""
    before = _snapshot(workdir)
    with Sandbox(workdir, TASKS, mode="plain") as box:
        r = box.run("try_writes", {"paths": ["models/vit.py", "submission.csv", "planted.py"]})
        assert r.ok, r
        assert set(r.value["results"].values()) <= {"written", "PermissionError"}
    assert _snapshot(workdir) == before
    with Sandbox(workdir, TASKS, mode="plain") as later:
        assert _snapshot(later._stage / "work") == before


@needs_root
def test_a_mounted_child_can_write_nothing_staged(workdir):
    """The root mode mounts the staged tree and the task code read-only (the user-namespace mode
    mounts them alike): every write fails, and neither the stage nor the grader's tree changes."""
    before = _snapshot(workdir)
    with Sandbox(workdir, TASKS, privileged=True) as box:
        assert box.mode == "root"
        trusted_before = _snapshot(box._stage / "trusted")
        paths = ["/submission/models/vit.py", "/submission/submission.csv", "/submission/planted.py",
                 "/opt/grader/tests/sandbox_tasks.py", "/opt/grader/planted.py",
                 str(box._stage / "work" / "models" / "vit.py"), str(workdir / "models" / "vit.py")]
        r = box.run("try_writes", {"paths": paths})
        assert r.ok, r
        assert "written" not in r.value["results"].values(), r.value
        assert _snapshot(box._stage / "work") == before
        assert _snapshot(box._stage / "trusted") == trusted_before
    assert _snapshot(workdir) == before


@pytest.fixture
def ram(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "ram"
    folder.mkdir()
    monkeypatch.setattr(sandbox_module, "_STAGE_DIRS", (str(folder),))
    monkeypatch.setattr(sandbox_module, "_STAGE_MIN_FREE_MB", 1)
    return folder


def test_a_submission_too_big_for_the_ram_folder_is_staged_on_disk(workdir, ram, monkeypatch):
    monkeypatch.setattr(sandbox_module, "_tree_bytes", lambda root: 1 << 60)
    with Sandbox(workdir, TASKS) as box:
        assert box._stage.parent == Path(tempfile.gettempdir())
        assert _snapshot(box._stage / "work") == _snapshot(workdir)
        assert list(ram.iterdir()) == []


def test_a_ram_folder_that_fills_up_while_staging_moves_the_stage_to_disk(workdir, ram, monkeypatch):
    import errno

    copy = Sandbox._copy_into_stage

    def full_in_ram(self, modules):
        if self._stage.parent == ram:
            (self._stage / "trusted").mkdir()  # a partial copy, left behind by the failure
            raise OSError(errno.ENOSPC, "No space left on device")
        return copy(self, modules)

    monkeypatch.setattr(Sandbox, "_copy_into_stage", full_in_ram)
    with Sandbox(workdir, TASKS) as box:
        assert box._stage.parent == Path(tempfile.gettempdir())
        assert _snapshot(box._stage / "work") == _snapshot(workdir)
        assert list(ram.iterdir()) == []
        assert box.run("echo", {"x": 1}).value == {"echo": {"x": 1}}
