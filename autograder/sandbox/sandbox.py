"""The grader's side of the sandbox: start the child, send tasks, enforce limits, read results.

``Sandbox(workdir, task_module, limits)`` owns one child process at a time (started on demand and
again after any crash, timeout or limit hit). ``run(task, payload)`` sends one request over a
private socketpair and waits for the reply while watching wall time, CPU time and the child's
life; the child's console output goes to a pipe that is only ever shown, never parsed. With a warm
server (``zygote.Zygote``) the boot process is forked from it instead of started as a fresh Python;
everything after that (isolation, limits, the exchange) is the same.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.sandbox import channel

if TYPE_CHECKING:
    from autograder.sandbox.zygote import Zygote

_BOOT = Path(__file__).with_name("_boot.py")
_SETUP_FAILED = 121
_WORK_DST = "/submission"
_TRUSTED_DST = "/opt/grader"
_MARKER = "\x1e[[sandbox:item-end:"
_MODES_ROOT = ("root", "userns", "plain")  # userns: e.g. a container that refuses root's namespaces
_MODES_USER = ("userns", "plain")
_mode_cache: dict[tuple, str] = {}  # (candidates, emulate_user) -> the first mode that started here
# Where a sandbox stages its files (the submission's copy, the task code): a RAM-backed folder when it
# has room, else the temp dir. Each sandbox writes ~180 small files: 30-100 ms on a journaling disk
# (more when other work writes to it), ~7 ms on a tmpfs. The staged tree is ~2 MB; the child writes
# into it only in plain mode, where it could write to /dev/shm directly anyway.
_STAGE_DIRS = ("/dev/shm",)
_STAGE_MIN_FREE_MB = 1024


class SandboxError(RuntimeError):
    """The sandbox itself could not start (a grader or machine problem, not the student's)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for the sandboxed child (all configurable, defaults fit a ViT item on CPU).

    Args:
        item_wall_s: wall-clock seconds for one item (one ``run`` call).
        item_cpu_s: CPU seconds for one item.
        submission_wall_s: wall-clock seconds for all items of a submission (one ``Sandbox``).
        submission_cpu_s: CPU seconds for all items of a submission.
        startup_s: seconds to start a child (namespaces, ``import torch``, the task module).
        memory_mb: memory of the child and everything it starts (a cgroup, where the grader can
            make one: as root); also sets the address-space limit below.
        address_reserve_mb: address space allowed beyond ``memory_mb`` (RLIMIT_AS = the sum): the
            libraries torch maps take ~3.5 GB of address space without using that much memory.
        nproc: processes and threads the child's user may have (RLIMIT_NPROC).
        fsize_mb: largest file the child may write (RLIMIT_FSIZE).
        tmp_mb: size of the child's private /tmp (a tmpfs, gone with the child).
        output_kb: console output kept per item (the rest is counted and dropped).
        message_mb: largest message either side may send over the channel.
        nofile: open file descriptors (RLIMIT_NOFILE).
        threads: torch / OpenMP / BLAS threads in the child.
    """

    item_wall_s: float = 60.0
    item_cpu_s: float = 60.0
    submission_wall_s: float = 600.0
    submission_cpu_s: float = 600.0
    startup_s: float = 120.0
    memory_mb: int = 4096
    address_reserve_mb: int = 4096
    nproc: int = 64
    fsize_mb: int = 64
    tmp_mb: int = 256
    output_kb: int = 64
    message_mb: int = 256
    nofile: int = 256
    threads: int = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{f.name}={value!r}: every limit must be a positive number; "
                                 f"pass e.g. Limits({f.name}={f.default})")


@dataclass
class TaskResult:
    """What one ``Sandbox.run`` call produced.

    Args:
        ok: the task returned a value (it may still be wrong: the grader compares it).
        value: the task's returned dict (empty unless ``ok``).
        error: student-facing exception text (type, message, frames in the student's files).
        limit: which limit or crash ended the item, e.g. ``wall time limit (60 s) for this item``.
        stdout: the child's stdout and stderr during the item, truncated to ``Limits.output_kb``.
        seconds: wall-clock seconds the item took.
    """

    ok: bool
    value: dict = field(default_factory=dict)
    error: str | None = None
    limit: str | None = None
    stdout: str = ""
    seconds: float = 0.0


def _protections(mode: str, limits: Limits, uid: int | None) -> list[str]:
    lim = limits
    common = [
        f"resource limits per process: address space {lim.memory_mb + lim.address_reserve_mb} MB "
        f"({lim.memory_mb} MB + {lim.address_reserve_mb} MB for the libraries torch maps), CPU {lim.item_cpu_s:g} s per item "
        f"and {lim.submission_cpu_s:g} s per submission, {lim.nproc} processes/threads, files up to "
        f"{lim.fsize_mb} MB, {lim.nofile} open files, no core dumps",
        f"wall-clock limits enforced by the grader: {lim.item_wall_s:g} s per item, "
        f"{lim.submission_wall_s:g} s per submission",
        "scrubbed environment (PATH, HOME and TMPDIR in the private temp dir, LANG, single-threaded "
        "OpenMP/BLAS, no GPU); sys.path: the grader's task code first, the submission last (it cannot "
        "shadow installed packages)",
        f"private socketpair channel: size-limited frames ({lim.message_mb} MB), decoded without pickle; "
        "results are compared and scored only in the grader, never read from files or console output",
        f"console output captured and truncated to {lim.output_kb} KB per item",
        "a crash, exit, timeout or limit hit costs only the item it happened in; the next item gets a fresh child",
    ]
    if mode == "plain":
        who = {None: "the grader's own user", 0: "ROOT (the Python install is not reachable by an unprivileged "
               "user, so the uid could not be dropped)"}.get(uid, f"unprivileged uid {uid}")
        return [
            "NO namespaces (the kernel refused them): the child sees the file system (staff files are "
            "protected only by their permissions), the network and other processes of its user",
            f"runs as {who}, no_new_privs",
            "own session and process group, child subreaper: every process it starts is killed when its item ends",
            "private temporary directory as HOME and TMPDIR, working directory = a copy of the submission",
        ] + common
    ns = [
        "PID namespace: the child sees only its own processes, cannot signal or trace the grader; "
        "every process it starts is killed when its item ends",
        "network namespace with only a loopback interface that is down: no network at all",
        "mount namespace with a minimal read-only root (system libraries, the Python install and venv, "
        f"the submission at {_WORK_DST}, the grader's public task code at {_TRUSTED_DST}); the staff "
        "repository, solutions, answer keys, hidden tests and hidden labels are not in the child's file tree",
        f"private /tmp (tmpfs, {lim.tmp_mb} MB) as HOME and TMPDIR, fresh /proc, no /sys, minimal /dev",
        "IPC and UTS namespaces",
    ]
    if mode == "root":
        ns.append(f"runs as unprivileged uid/gid {uid} with no capabilities and no_new_privs")
    else:
        who = f"unprivileged uid {uid}" if uid is not None else "the grader's own uid"
        ns.append(f"user namespace mapped to {who}; all capabilities dropped, no_new_privs")
    return ns + common


def _child_env(trusted: str, tmp: str, threads: int) -> dict[str, str]:
    """The child's whole environment (nothing of the grader's): paths, locale, threads, no GPU."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "USER": "student",
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONPATH": trusted,
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "PYTHONUNBUFFERED": "1",
        "PYTHONHASHSEED": "0", "MALLOC_ARENA_MAX": "2", "CUDA_VISIBLE_DEVICES": "",
        "WANDB_MODE": "disabled", "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{tmp}/.mpl",
        "XDG_CACHE_HOME": f"{tmp}/.cache", "TORCH_HOME": f"{tmp}/.torch", "HF_HUB_OFFLINE": "1",
        **{k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")},
    }


def _copy_trusted(modules: list[str], dest: Path) -> None:
    """Copy the public modules the child needs (and their packages' ``__init__``) into ``dest``."""
    for name in modules:
        if "staff" in name.split("."):
            raise ValueError(f"trusted module {name!r} is staff-only; the child must never see staff code. "
                             "Move what the task needs into a public module.")
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ValueError(f"trusted module {name!r} was not found; pass an importable module name")
        parts = name.split(".")
        origin = Path(spec.origin)
        if spec.submodule_search_locations:  # a package: all its .py files except staff folders
            pkg_dir = origin.parent
            for src in pkg_dir.rglob("*.py"):
                rel = src.relative_to(pkg_dir)
                if "staff" in rel.parts or "__pycache__" in rel.parts:
                    continue
                target = dest.joinpath(*parts, rel)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, target)
        else:
            target = dest.joinpath(*parts[:-1], origin.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, target)
        for i in range(1, len(parts)):  # parent packages' __init__.py
            pkg = importlib.util.find_spec(".".join(parts[:i]))
            init = dest.joinpath(*parts[:i], "__init__.py")
            if not init.exists():
                init.parent.mkdir(parents=True, exist_ok=True)
                if pkg is not None and pkg.origin and pkg.origin.endswith("__init__.py"):
                    shutil.copyfile(pkg.origin, init)
                else:
                    init.touch()


def _room_for(folder: str | os.PathLike, nbytes: int = 0) -> bool:
    """Whether ``folder`` keeps ``_STAGE_MIN_FREE_MB`` free after ``nbytes`` more."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize >= nbytes + (_STAGE_MIN_FREE_MB << 20)


def _tree_bytes(root: Path) -> int:
    """The size of the files under ``root`` (links not followed)."""
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def _stage_parent() -> str | None:
    """The first of ``_STAGE_DIRS`` this process can create folders in, that allows executables (a
    plain-mode child's temp dir is there) and has ``_STAGE_MIN_FREE_MB`` free; None: the temp dir."""
    for folder in _STAGE_DIRS:
        try:
            st = os.statvfs(folder)
        except OSError:
            continue
        if (os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK) and not st.f_flag & os.ST_NOEXEC
                and _room_for(folder)):
            return folder
    return None


def ram_scratch(trees: list[Path]) -> str | None:
    """A RAM-backed folder (as for the sandbox's stage) with room for copies of ``trees`` while
    keeping ``_STAGE_MIN_FREE_MB`` free, or None (then use the temp dir). For the grader's own
    per-student copies (the assembled submission), which are written once and read once.

    Args:
        trees: the folders about to be copied there (their files' sizes are added up).
    """
    parent = _stage_parent()
    if parent is None or not _room_for(parent, sum(_tree_bytes(Path(t)) for t in trees)):
        return None
    return parent


def _make_readable(root: Path) -> None:
    """Let the sandbox's unprivileged user read the staged tree (dirs 755, files 644 or 755)."""
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, 0o755 if os.stat(p).st_mode & 0o100 else 0o644)


class _Cgroup:
    """A memory + pids cgroup for one child (v2, or v1 memory and pids hierarchies); root only.

    Everything the child starts is charged to it, so ``memory_mb`` bounds the RAM of the whole
    sandbox (tmpfs pages included) and an out-of-memory kill can be told apart from other deaths.

    Args:
        name: the cgroup's directory name.
        memory_bytes: memory limit.
        pids_max: process (and thread) limit.
    """

    def __init__(self, name: str, memory_bytes: int, pids_max: int) -> None:
        self.dirs: list[Path] = []
        self.version = 0
        own = {}
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, ctrls, path = line.split(":", 2)
            for c in ctrls.split(",") if ctrls else [""]:
                own[c] = path.lstrip("/")
        try:
            if Path("/sys/fs/cgroup/cgroup.controllers").is_file():  # pure cgroup v2
                d = Path("/sys/fs/cgroup") / own.get("", "") / name
                d.mkdir()
                self.dirs.append(d)
                self.version = 2
                (d / "memory.max").write_text(str(memory_bytes))
                if (d / "memory.swap.max").exists():
                    (d / "memory.swap.max").write_text("0")
                (d / "pids.max").write_text(str(pids_max))
            else:
                for ctrl, files in (("memory", {"memory.limit_in_bytes": memory_bytes}), ("pids", {"pids.max": pids_max})):
                    root = Path("/sys/fs/cgroup") / ctrl
                    if ctrl not in own or not (root / "cgroup.procs").exists():
                        raise OSError(f"no cgroup v1 {ctrl} hierarchy")
                    d = root / own[ctrl] / name
                    d.mkdir()
                    self.dirs.append(d)
                    for f, v in files.items():
                        (d / f).write_text(str(v))
                self.version = 1
        except OSError:
            self.remove()
            self.version = 0

    def add(self, pid: int) -> None:
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid))

    def oom_kills(self) -> int:
        """How many processes the kernel killed for exceeding the memory limit."""
        f = {2: "memory.events", 1: "memory.oom_control"}.get(self.version)
        if f is None:
            return 0
        try:
            text = (self.dirs[0] / f).read_text()
        except OSError:
            return 0
        m = re.search(r"^oom_kill (\d+)", text, re.M)
        return int(m.group(1)) if m else 0

    def hit_limit(self) -> bool:
        """Whether the memory use reached the limit at some point (the kernel then reclaims or kills)."""
        f, pattern = {2: ("memory.events", r"^max (\d+)"), 1: ("memory.failcnt", r"^(\d+)")}.get(self.version, (None, None))
        if f is None:
            return False
        try:
            m = re.search(pattern, (self.dirs[0] / f).read_text(), re.M)
        except OSError:
            return False
        return bool(m and int(m.group(1)) > 0)

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
        self.dirs = []


def _python_reachable() -> bool:
    """Whether an unprivileged user can run this Python and its venv (every directory on the way o+x)."""
    exe, venv = Path(os.path.realpath(sys.executable)), Path(os.path.realpath(sys.prefix))
    dirs = [*exe.parents, venv, *venv.parents]
    return all(os.stat(d).st_mode & 0o001 for d in dirs) and bool(os.stat(exe).st_mode & 0o001)


def _free_uid() -> int:
    """An unused uid for this sandbox's child (its own RLIMIT_NPROC count, nothing else shares it)."""
    in_use = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                in_use.add(os.stat(f"/proc/{d}").st_uid)
            except OSError:
                pass
    while True:
        uid = 100000 + secrets.randbelow(900000)
        if uid not in in_use:
            return uid


def _cpu_seconds(pid: int) -> float:
    """CPU time (all threads) of a host pid, from /proc; 0 once it is gone."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return 0.0
    parts = stat.rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


class Sandbox:
    """Run trusted task functions against untrusted student code in an isolated child process.

    Args:
        workdir: the assembled submission tree (staff handout + the student's files); the child sees
            a read-only copy of it as its working directory and on ``sys.path``.
        task_module: trusted module imported in the child; defines ``TASKS: dict[str, Callable[[dict], dict]]``.
        limits: resource limits (see ``Limits``).
        privileged: ``None`` = the strongest sandbox available (as root: namespaces + a dropped uid,
            falling back to a user namespace, then to rlimits only; as an ordinary user: a user
            namespace, then rlimits only); ``True`` = require the root sandbox; ``False`` = the
            ordinary user's sandbox even as root (root first becomes uid 65534: tests use this).
        trusted_modules: more public modules the task module imports (copied into the child's tree).
        mode: force one isolation mode (``root``, ``userns`` or ``plain``); for tests.
        zygote: a warm server (``autograder.sandbox.zygote.Zygote``) to fork the child from; None: a
            fresh Python. Where the warm start is not possible the child starts fresh, and
            ``protections`` says why.
    """

    def __init__(self, workdir: str | os.PathLike, task_module: str = "autograder.tasks",
                 limits: Limits | None = None, privileged: bool | None = None, *,
                 trusted_modules: tuple[str, ...] = (), mode: str | None = None,
                 zygote: Zygote | None = None) -> None:
        self.workdir = Path(workdir)
        if not self.workdir.is_dir():
            raise ValueError(f"workdir {str(self.workdir)!r} is not a directory; pass the assembled submission folder")
        self.task_module = task_module
        self.limits = limits or Limits()
        is_root = os.geteuid() == 0
        if privileged and not is_root:
            raise ValueError("privileged=True needs root; run the grader as root or pass privileged=None")
        self._emulate_user = privileged is False and is_root  # root acting as an ordinary user (65534)
        if mode is not None:
            if mode not in ("root", "userns", "plain"):
                raise ValueError(f"mode={mode!r}: use 'root', 'userns' or 'plain'")
            self._candidates: tuple[str, ...] = (mode,)
        elif privileged is True:
            self._candidates = ("root",)
        else:
            self._candidates = _MODES_ROOT if (is_root and privileged is None) else _MODES_USER
        self._uid = (65534 if self._emulate_user else _free_uid()) if is_root else None
        self._stage = Path(tempfile.mkdtemp(prefix="vz-sandbox-", dir=_stage_parent()))
        self._proc: subprocess.Popen | None = None
        self._mode: str | None = None
        self._used_wall = 0.0
        self._used_cpu = 0.0
        self._cgroup: _Cgroup | None = None
        self._oom = False
        self._old_nonces: set[str] = set()
        self.startup_output = ""
        self._trusted_modules = tuple(trusted_modules)
        self._zygote = zygote
        self._start_note = ""
        self._launched: str | None = None  # the mode `start` launched, not yet awaited
        try:
            self._stage_files([task_module, *trusted_modules])
        except BaseException:
            shutil.rmtree(self._stage, ignore_errors=True)
            raise

    # ----------------------------------------------------------------------------- public API
    @property
    def protections(self) -> list[str]:
        """Human-readable list of the protections in force (starts the child if none ran yet)."""
        if self._mode is None:
            self._start()
        uid = self._uid
        if self._mode == "plain":
            uid = getattr(self, "_plain_uid", None)
            if uid is None and os.geteuid() == 0:
                uid = 0
        out = _protections(self._mode, self.limits, uid)
        if self._cgroup is not None:
            out.insert(-5, f"cgroup v{self._cgroup.version}: {self.limits.memory_mb} MB of memory and "
                           f"{self.limits.nproc} processes for the child and everything it starts together")
        out.append(self._start_note)
        return out

    @property
    def mode(self) -> str:
        """The isolation mode in use: ``root``, ``userns`` or ``plain``."""
        if self._mode is None:
            self._start()
        return self._mode

    def run(self, task: str, payload: dict | None = None) -> TaskResult:
        """Run ``TASKS[task](payload)`` in the child and return its result.

        Args:
            task: a key of the task module's ``TASKS``.
            payload: the task's input: tensors, arrays, str/int/float/bool/None, lists and dicts of those.
        """
        start = time.monotonic()
        lim = self.limits
        left_wall = lim.submission_wall_s - self._used_wall
        left_cpu = lim.submission_cpu_s - self._used_cpu
        if left_wall <= 0:
            return TaskResult(False, limit=f"wall time limit ({lim.submission_wall_s:g} s) for the whole submission")
        if left_cpu <= 0:
            return TaskResult(False, limit=f"CPU time limit ({lim.submission_cpu_s:g} s) for the whole submission")
        try:
            if self._proc is None or self._launched is not None:
                self._start()
            nonce = secrets.token_hex(16)
            frame = channel.encode({"task": task, "nonce": nonce, "payload": payload or {}},
                                   lim.message_mb << 20)
            result = self._exchange(frame, nonce, left_wall, left_cpu)
        finally:
            self._used_wall += time.monotonic() - start
        result.seconds = time.monotonic() - start
        return result

    def close(self) -> None:
        """Kill the child and everything it started; remove the staged files."""
        self._stop()
        shutil.rmtree(self._stage, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------------------- staging
    def _stage_files(self, modules: list[str]) -> None:
        """Copy the task code and the submission into the stage. A stage in a RAM-backed folder
        (``_STAGE_DIRS``) moves to the temp dir when the submission would leave that folder less than
        ``_STAGE_MIN_FREE_MB`` free, or when copying there fails (it filled up meanwhile): a big
        submission never costs another student's sandbox its room."""
        in_ram = str(self._stage.parent) in _STAGE_DIRS
        if in_ram and not _room_for(self._stage.parent, _tree_bytes(self.workdir)):
            self._restage()
            in_ram = False
        try:
            self._copy_into_stage(modules)
        except OSError:
            if not in_ram:
                raise
            self._restage()
            self._copy_into_stage(modules)

    def _restage(self) -> None:
        shutil.rmtree(self._stage, ignore_errors=True)
        self._stage = Path(tempfile.mkdtemp(prefix="vz-sandbox-"))

    def _copy_into_stage(self, modules: list[str]) -> None:
        trusted = self._stage / "trusted"
        _copy_trusted(["autograder.sandbox", *modules], trusted)
        shutil.copytree(self.workdir, self._stage / "work", symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (self._stage / "root").mkdir()
        _make_readable(self._stage)

    def _boot_config(self, mode: str, sock_fd: int, status_fd: int) -> dict:
        lim = self.limits
        plain = mode == "plain"
        work = str(self._stage / "work") if plain else _WORK_DST
        trusted = str(self._stage / "trusted") if plain else _TRUSTED_DST
        tmp = str(self._stage / "tmp") if plain else "/tmp"
        env = _child_env(trusted, tmp, lim.threads)
        uid = self._uid
        # Root enters a user namespace as an unprivileged uid (dropped before unshare).
        as_user = uid if mode == "userns" else None
        reachable = _python_reachable()
        if plain and not reachable:  # e.g. python under /root: an unprivileged uid could not run it
            uid = None
        self._plain_uid = uid if plain else None
        binds = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32",
                 os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix]
        binds = [[b, b] for i, b in enumerate(binds) if b not in binds[:i] and not b.startswith("/usr/")]
        return {
            "mode": mode, "parent_pid": os.getpid(), "as_user": as_user, "prebind": not reachable,
            "uid": uid, "gid": uid,
            "sock_fd": sock_fd, "status_fd": status_fd, "newroot": str(self._stage / "root"),
            "prebind_dir": str(self._stage / "prebind"),
            "ro_binds": binds, "work_src": str(self._stage / "work"), "work_dst": _WORK_DST,
            "trusted_src": str(self._stage / "trusted"), "trusted_dst": _TRUSTED_DST,
            "etc_files": {"passwd": f"root:x:0:0::/:/bin/false\nstudent:x:{uid}:{uid}::/tmp:/bin/false\n",
                          "group": f"root:x:0:\nstudent:x:{uid}:\n", "hostname": "sandbox\n",
                          "hosts": "127.0.0.1 localhost sandbox\n::1 localhost\n"},
            "tmp_mb": lim.tmp_mb, "shm_mb": 64,
            "rlimits": {"RLIMIT_AS": (lim.memory_mb + lim.address_reserve_mb) << 20, "RLIMIT_CPU": int(lim.submission_cpu_s) + 1,
                        "RLIMIT_NPROC": lim.nproc, "RLIMIT_FSIZE": lim.fsize_mb << 20, "RLIMIT_CORE": 0,
                        "RLIMIT_NOFILE": lim.nofile},
            "python": sys.executable, "env": env,
            "stage": str(self._stage),
            "runner": {"task_module": self.task_module, "work": work, "trusted": trusted, "item_cpu_s": lim.item_cpu_s,
                       "message_bytes": lim.message_mb << 20, "marker": _MARKER, "threads": lim.threads},
        }

    # ----------------------------------------------------------------------------- the child
    def start(self) -> None:
        """Begin starting the child and return at once, without waiting for it to be ready.

        The first ``run`` (or ``protections``, ``mode``) waits for it. A grader calls this before
        its own heavy imports, so that the child's start-up (a fresh Python importing torch) runs
        on another core at the same time. No-op once the child has started.
        """
        if self._proc is not None or self._mode is not None or self._launched is not None:
            return
        mode = self._start_candidates()[0]
        self._launch(mode)
        self._launched = mode

    def _start_candidates(self) -> list[str]:
        key = (self._candidates, self._emulate_user)
        candidates = list(self._candidates)
        if key in _mode_cache:
            candidates = candidates[candidates.index(_mode_cache[key]):]
        return candidates

    def _start(self) -> None:
        key = (self._candidates, self._emulate_user)
        candidates = self._start_candidates()
        launched, self._launched = self._launched, None
        errors = []
        for mode in candidates:
            if launched != mode:
                self._launch(mode)
            launched = None
            ok, why = self._await_ready(mode)
            if ok:
                _mode_cache[key] = mode
                self._mode = mode
                return
            errors.append(f"{mode}: {why}")
            if not why.startswith("setup:"):
                break
        raise SandboxError("could not start the sandboxed child:\n" + "\n".join(errors))

    def _launch(self, mode: str) -> None:
        """Start boot + child in ``mode`` (returns at once; ``_await_ready`` waits for the child)."""
        if mode == "plain":
            tmp = self._stage / "tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(mode=0o700)
            if self._uid is not None and _python_reachable():
                os.chown(tmp, self._uid, self._uid)
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        status_r, status_w = os.pipe()
        cfg = self._boot_config(mode, child_sock.fileno(), status_w)
        try:
            self._proc = self._warm_boot(cfg, child_sock.fileno(), status_w)
            if self._proc is None:
                self._proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", str(_BOOT), json.dumps(cfg)], stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(child_sock.fileno(), status_w),
                    cwd=self._stage, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        finally:
            child_sock.close()
            os.close(status_w)
        self._sock, self._status_r = parent_sock, status_r
        self._cgroup = None
        if os.geteuid() == 0 and not self._emulate_user:
            self._spawns = getattr(self, "_spawns", 0) + 1
            cg = _Cgroup(f"{self._stage.name}-{self._spawns}", self.limits.memory_mb << 20, self.limits.nproc)
            self._cgroup = cg if cg.version else None
        self._out_fd = self._proc.stdout.fileno()
        for fd in (self._sock.fileno(), self._status_r, self._out_fd):
            os.set_blocking(fd, False)
        self._reader = channel.FrameReader(self.limits.message_mb << 20)
        self._status_buf = b""
        self._child_pid: int | None = None
        self._exit_code: int | None = None
        self._out = bytearray()
        self._out_dropped = 0
        self._scan = b""

    def _await_ready(self, mode: str) -> tuple[bool, str]:
        """Wait for the runner's ready message of the child ``_launch`` started; (ok, why not)."""
        self._mode = mode
        deadline = time.monotonic() + self.limits.startup_s
        messages, why = self._wait(deadline, None, None, want_ready=True)
        self.startup_output = self._take_output()
        if messages and self._await_started(deadline):
            return True, ""
        self._stop()
        if self._exit_code == _SETUP_FAILED:
            return False, f"setup: {self.startup_output.strip()[-2000:] or why}"
        return False, f"{why}\n{self.startup_output.strip()[-4000:]}"

    def _warm_boot(self, cfg: dict, sock_fd: int, status_fd: int):
        """A boot forked from the warm server, or None (then a fresh Python); sets the start note."""
        if self._zygote is None:
            self._start_note = "the child started as a fresh Python process"
            return None
        from autograder.sandbox.zygote import ZygoteUnavailable

        why = self._zygote.unusable_for(self.task_module, self._trusted_modules, self.limits)
        if why is None:
            try:
                boot = self._zygote.spawn(cfg, sock_fd, status_fd, timeout=self.limits.startup_s)
            except ZygoteUnavailable as e:
                why = str(e)
            else:
                failed = self._zygote.info.get("failed", {})
                loaded = ", ".join(dict.fromkeys([*(m.split(".")[0] for m in self._zygote.preload if m not in failed),
                                                  self.task_module]))
                self._start_note = (
                    "warm start: the child was forked from a server process started for this grading run (a "
                    f"fresh Python with the child's scrubbed environment that imported only public code: {loaded}; "
                    "it never reads staff files and holds no grader data), then entered every protection above "
                    "before any of your code ran")
                return boot
        self._start_note = f"the child started as a fresh Python process (no warm start: {why})"
        return None

    def _await_started(self, deadline: float) -> bool:
        """Wait for boot's ``started`` report: the child is in its cgroup before any task is sent."""
        while self._child_pid is None and self._exit_code is None and time.monotonic() < deadline:
            select.select([self._status_r], [], [], 0.05)
            self._poll_status()
        return self._child_pid is not None

    def _stop(self) -> None:
        """Kill the child (its whole PID namespace or process tree) and reap boot."""
        proc = getattr(self, "_proc", None)
        if proc is None:
            return
        self._proc = None
        mode, self._launched = self._mode or self._launched, None  # a child `start` launched may be unawaited
        self._poll_status()
        pid = self._child_pid
        if pid is not None and self._exit_code is None:
            if mode == "plain":
                self._kill_tree(pid)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)  # PID 1 of the namespace: the kernel kills the rest
                except ProcessLookupError:
                    pass
        elif pid is None:  # boot has not reported its child yet (`start` without a run): the child
            proc.kill()    # dies with boot (parent-death signal) before any task reached it
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._poll_status()
        if self._cgroup is not None:
            self._cgroup.remove()
        for closer in (self._sock.close, lambda: os.close(self._status_r), proc.stdout.close):
            try:
                closer()
            except OSError:
                pass

    def _kill_tree(self, pid: int) -> None:
        """Plain mode: stop the runner and all its descendants, then kill them all."""
        from autograder.sandbox._runner import _descendants

        seen: set[int] = set()
        for _ in range(50):
            tree = {pid, *_descendants(pid)} - seen
            if not tree:
                break
            for p in tree:
                try:
                    os.kill(p, signal.SIGSTOP)
                except OSError:
                    pass
            seen |= tree
        for p in seen:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass

    # ------------------------------------------------------------------------- one exchange
    def _exchange(self, frame: bytes, nonce: str, left_wall: float, left_cpu: float) -> TaskResult:
        lim = self.limits
        wall = min(lim.item_wall_s, left_wall)
        cpu = min(lim.item_cpu_s, left_cpu)
        wall_msg = (f"wall time limit ({lim.item_wall_s:g} s) for this item" if wall == lim.item_wall_s
                    else f"wall time limit ({lim.submission_wall_s:g} s) for the whole submission")
        cpu_msg = (f"CPU time limit ({lim.item_cpu_s:g} s) for this item" if cpu == lim.item_cpu_s
                   else f"CPU time limit ({lim.submission_cpu_s:g} s) for the whole submission")
        cpu_start = _cpu_seconds(self._child_pid)
        self._out, self._out_dropped, self._scan = bytearray(), 0, b""
        try:
            self._sock.setblocking(True)
            self._sock.settimeout(wall)
            self._sock.sendall(frame)
            self._sock.setblocking(False)
        except OSError:  # the child is gone or not reading
            pass
        deadline = time.monotonic() + wall
        self._oom = self._extra_frames = False
        messages, why = self._wait(deadline, nonce, (cpu_start, cpu), want_ready=False)
        self._used_cpu += max(0.0, _cpu_seconds(self._child_pid) - cpu_start) if self._proc else 0.0
        self._old_nonces.add(nonce)
        if messages:
            reply = messages[0]
            self._read_output()
            # The runner writes its end-of-item marker before it replies: a reply that beat the
            # marker came from the student's code, and the runner's own reply may follow it.
            early = (_MARKER + nonce).encode() not in self._scan
            self._drain_output(nonce, time.monotonic() + 2.0)
            stdout = self._take_output()
            if self._extra_frames or self._second_reply(wait=1.0 if early else 0.0):
                self._stop()
                return TaskResult(False, limit="the sandboxed process sent two replies for one item (a forged "
                                               "reply); the item was not scored", stdout=stdout)
            if reply.get("restart"):
                self._stop()  # the student's code left threads running: next item gets a fresh child
            return self._result_from_reply(reply, stdout)
        # No valid reply: the child hung, crashed, exited, or sent garbage. It is not reused.
        if self._proc is not None and self._child_pid is not None:
            self._used_cpu += max(0.0, _cpu_seconds(self._child_pid) - cpu_start)
        self._oom = self._cgroup is not None and (
            self._cgroup.oom_kills() > 0 or (why in ("wall", "cpu") and self._cgroup.hit_limit()))
        self._stop()
        stdout = self._take_output()
        if self._oom and why in ("wall", "cpu"):  # thrashing at the memory limit until the clock ran out
            why = "died"
        limit = {"wall": wall_msg, "cpu": cpu_msg}.get(why) or self._death_reason(why)
        return TaskResult(False, limit=limit, stdout=stdout)

    def _second_reply(self, wait: float) -> bool:
        """Whether more channel data followed the accepted reply (the runner sends exactly one)."""
        try:
            ready, _, _ = select.select([self._sock], [], [], wait)
            return bool(ready) and bool(self._sock.recv(1 << 20, socket.MSG_PEEK))
        except OSError:
            return False

    def _result_from_reply(self, reply: dict, stdout: str) -> TaskResult:
        if reply.get("ok") is True:
            return TaskResult(True, value=reply.get("value") or {}, stdout=stdout)
        error = str(reply.get("error") or "unknown error")
        etype, limit = reply.get("error_type"), None
        if etype == "MemoryError" or "can't allocate memory" in error or "DefaultCPUAllocator" in error:
            limit = f"memory limit ({self.limits.memory_mb} MB)"
        elif reply.get("errno") == 27:  # EFBIG
            limit = f"file size limit ({self.limits.fsize_mb} MB)"
        return TaskResult(False, error=error, limit=limit, stdout=stdout)

    def _death_reason(self, why: str) -> str:
        if why == "garbled":
            return "the sandboxed process sent a malformed or forged reply; the item was not scored"
        code = self._exit_code
        if self._oom:
            return f"memory limit ({self.limits.memory_mb} MB)"
        if code is None:
            return "the sandboxed process stopped answering (it closed its channel)"
        if code >= 0:
            return f"child process exited with code {code} (sys.exit / os._exit in your code)"
        sig = -code
        if sig == signal.SIGXCPU:
            return f"CPU time limit ({self.limits.item_cpu_s:g} s) for this item"
        if sig == signal.SIGXFSZ:
            return f"file size limit ({self.limits.fsize_mb} MB)"
        if sig == signal.SIGKILL:
            return f"child process was killed (SIGKILL), most likely out of memory (limit {self.limits.memory_mb} MB)"
        if sig == signal.SIGSEGV:
            return "child process crashed (SIGSEGV), e.g. a C-level stack overflow from very deep recursion"
        return f"child process was killed by {_signal_name(sig)}"

    # --------------------------------------------------------------------------- event loop
    def _wait(self, deadline: float, nonce: str | None, cpu: tuple[float, float] | None,
              want_ready: bool) -> tuple[list[dict], str]:
        """Pump the channel, output and status pipes until a reply, a death or a limit.

        Returns ``([reply], "")`` on success, else ``([], why)`` with why in wall, cpu, garbled, died.
        """
        sel = selectors.DefaultSelector()
        sel.register(self._sock, selectors.EVENT_READ, "sock")
        sel.register(self._out_fd, selectors.EVENT_READ, "out")
        sel.register(self._status_r, selectors.EVENT_READ, "status")
        sock_open = True
        try:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return [], "wall"
                if cpu is not None and self._child_pid is not None:
                    if _cpu_seconds(self._child_pid) - cpu[0] > cpu[1]:
                        return [], "cpu"
                for key, _ in sel.select(timeout=min(0.25, deadline - now)):
                    if key.data == "out":
                        self._read_output()
                    elif key.data == "status":
                        self._poll_status()
                    elif key.data == "sock":
                        try:
                            data = self._sock.recv(1 << 20)
                        except BlockingIOError:
                            continue
                        except OSError:
                            data = b""
                        if not data:
                            sel.unregister(self._sock)
                            sock_open = False
                            continue
                        try:
                            bodies = self._reader.feed(data)
                            messages = [channel.decode(b) for b in bodies]
                        except channel.ChannelError:
                            return [], "garbled"
                        for i, m in enumerate(messages):
                            if want_ready and m.get("event") == "ready":
                                return [m], ""
                            if not want_ready and m.get("nonce") in self._old_nonces:
                                continue  # a late duplicate reply to an earlier item: that item is over
                            if (not want_ready and m.get("nonce") == nonce and isinstance(m.get("ok"), bool)
                                    and isinstance(m.get("value", {}), dict)):
                                self._extra_frames = i + 1 < len(messages) or self._reader.pending()
                                return [m], ""
                            return [], "garbled"
                if self._exit_code is not None or (not sock_open and self._proc.poll() is not None):
                    self._read_output()
                    self._poll_status()
                    return [], "died"
                if not sock_open:  # channel closed but the child lives on: give it a moment to exit
                    try:
                        self._proc.wait(timeout=0.5)
                    except subprocess.TimeoutExpired:
                        return [], "died"
        finally:
            sel.close()

    def _poll_status(self) -> None:
        try:
            while True:
                chunk = os.read(self._status_r, 4096)
                if not chunk:
                    break
                self._status_buf += chunk
        except (BlockingIOError, OSError):
            pass
        *lines, self._status_buf = self._status_buf.split(b"\n")
        for line in lines:
            event = json.loads(line)
            if event["event"] == "started":
                self._child_pid = event["pid"]
                if self._cgroup is not None:
                    try:
                        self._cgroup.add(self._child_pid)
                    except OSError:
                        self._cgroup.remove()
                        self._cgroup = None
            elif event["event"] in ("exit", "unsupported"):
                self._exit_code = event.get("code", _SETUP_FAILED)

    def _read_output(self) -> None:
        try:
            while True:
                chunk = os.read(self._out_fd, 1 << 16)
                if not chunk:
                    return
                self._keep_output(chunk)
        except (BlockingIOError, OSError):
            return

    def _keep_output(self, chunk: bytes) -> None:
        room = max((self.limits.output_kb << 10) - len(self._out), 0)
        self._out += chunk[:room]
        self._out_dropped += len(chunk) - len(chunk[:room])
        self._scan = (self._scan + chunk)[-1024:]  # recent bytes, kept or dropped: where the marker shows up

    def _drain_output(self, nonce: str, deadline: float) -> None:
        """Read the console output until the runner's end-of-item marker (or a short timeout)."""
        marker = (_MARKER + nonce).encode()
        while marker not in self._scan and time.monotonic() < deadline:
            ready, _, _ = select.select([self._out_fd], [], [], 0.05)
            if ready:
                self._read_output()
        i = self._out.find(marker)
        if i >= 0:
            del self._out[i:]
            self._out_dropped = 0  # what came after the marker is not the student's output

    def _take_output(self) -> str:
        if self._proc is not None:
            self._read_output()
        text = self._out.decode("utf-8", errors="replace")
        if self._out_dropped:
            text += f"\n... [output truncated: {self._out_dropped} more bytes not shown]\n"
        self._out, self._out_dropped = bytearray(), 0
        return text
