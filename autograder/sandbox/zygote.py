"""The grader's side of the warm start: one fork server per grading run, a forked child per sandbox.

A sandboxed child that starts as a fresh Python spends most of its life importing torch. A
``Zygote`` is a server process (``_zygote.py``) started once, as a fresh Python with the child's
scrubbed environment and only the public task code on its path, that imports the grading stack
and then forks a boot process per child; the fork enters the same isolation as a fresh child
(``_boot.run``) before any student code runs. ``Sandbox(..., zygote=z)`` uses it and falls back to a
fresh child, saying why in ``Sandbox.protections``, whenever a warm start is not possible.

```python
z = warm_zygote()                  # this process's server (started on first use, closed at exit)
with Sandbox(workdir, zygote=z) as sb:
    sb.run("check_module", payload)
```
"""
from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# What a child of autograder.tasks imports: numpy and torch, and what torch's autograd imports on the
# first backward (sympy, 0.5 s). Not timm: tasks.py uses torch's own layers and no handout file
# imports it, so a fresh child never loads it either (a student's file that does pays it, as before).
# torch._dynamo: what torch's Python meta kernels import on first use (0.6 s); with it loaded, a warm
# child traces a student's layers on the meta device (autograder.tasks._meta_traced).
DEFAULT_PRELOAD = ("numpy", "torch", "torch.fx.experimental.symbolic_shapes", "torch._dynamo")
WARM_ENV = "VZ_SANDBOX_WARM"  # set to 0 to start every child as a fresh Python
_MARGIN_MB = 1024  # address space a warm child needs above what the server already maps


class ZygoteUnavailable(RuntimeError):
    """A warm start is not possible (the message says why); the sandbox starts a fresh child."""


def warm_start_possible() -> str | None:
    """None when this platform can fork warm children, else the reason it cannot."""
    missing = [name for name, ok in (("os.fork", hasattr(os, "fork")), ("os.pidfd_open", hasattr(os, "pidfd_open")),
                                     ("socket.send_fds", hasattr(socket, "send_fds")),
                                     ("signal.pidfd_send_signal", hasattr(signal, "pidfd_send_signal")))
               if not ok]
    if missing:
        return f"this platform lacks {', '.join(missing)}"
    if os.environ.get(WARM_ENV, "1") == "0":
        return f"{WARM_ENV}=0 asks for fresh children"
    return None


class ForkedBoot:
    """A boot process forked by the server: the parts of ``subprocess.Popen`` the sandbox uses.

    It is the server's child, not ours: it is watched and killed through a pidfd, and its end is
    reported on the status pipe as for a fresh boot.

    Args:
        pid: the boot's pid.
        pidfd: a pidfd of it (owned by this object).
        out_fd: the read end of its console pipe (owned by this object).
    """

    def __init__(self, pid: int, pidfd: int, out_fd: int) -> None:
        self.pid = pid
        self._pidfd = pidfd
        self.stdout = os.fdopen(out_fd, "rb", buffering=0)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """0 once the boot has ended (its exit status is the server's to collect), else None."""
        if self.returncode is None and self._pidfd >= 0 and select.select([self._pidfd], [], [], 0)[0]:
            self._finish()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and self._pidfd >= 0:
            if not select.select([self._pidfd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"boot {self.pid}", timeout)
            self._finish()
        return self.returncode or 0

    def kill(self) -> None:
        if self._pidfd >= 0:
            try:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _finish(self) -> None:
        self.returncode = 0
        os.close(self._pidfd)
        self._pidfd = -1


class Zygote:
    """A warm fork server for sandboxed children of ``task_module``.

    Started at once (a fresh process importing in the background); ``spawn`` waits for it the
    first time. Safe to share with processes forked from this one afterwards (``grade-all``'s
    workers): each request travels as one message with its own reply socket. Only the process
    that created it closes it.

    Args:
        task_module: the children's task module (imported by the server).
        preload: modules the server imports first (a module that fails to import is skipped).
        trusted_modules: more public modules the task module imports (as for ``Sandbox``).
        threads: torch / OpenMP / BLAS threads of the children (fixed when torch is imported).
        startup_s: seconds to wait for the server's imports.
    """

    def __init__(self, task_module: str = "autograder.tasks", preload: tuple[str, ...] = DEFAULT_PRELOAD,
                 trusted_modules: tuple[str, ...] = (), threads: int = 1, startup_s: float = 120.0) -> None:
        from autograder.sandbox.sandbox import _child_env, _copy_trusted, _make_readable

        self.task_module, self.preload = task_module, tuple(preload)
        self.trusted_modules, self.threads = tuple(trusted_modules), threads
        self.why_not: str | None = warm_start_possible()
        self.info: dict = {}
        self._owner = os.getpid()
        self._proc: subprocess.Popen | None = None
        self._ctrl: socket.socket | None = None
        self._stage: Path | None = None
        self.trusted = ""
        self._deadline = time.monotonic() + startup_s
        if self.why_not:
            return
        self._stage = Path(tempfile.mkdtemp(prefix="vz-zygote-"))
        try:
            self.trusted = str(self._stage / "trusted")  # the server's copy of the public task code
            _copy_trusted(["autograder.sandbox", task_module, *trusted_modules], Path(self.trusted))
            (self._stage / "tmp").mkdir()
            _make_readable(self._stage)
            self._ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            cfg = {"parent_pid": os.getpid(), "preload": list(self.preload), "task_module": task_module}
            with open(self._stage / "zygote.log", "wb") as log, theirs:
                self._proc = subprocess.Popen(
                    [sys.executable, "-P", "-s", "-B", "-m", "autograder.sandbox._zygote", str(theirs.fileno()),
                     json.dumps(cfg)], pass_fds=(theirs.fileno(),), cwd=self._stage, stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=log,
                    env=_child_env(self.trusted, str(self._stage / "tmp"), threads))
        except (OSError, ValueError) as e:
            self.why_not = f"the warm process could not start ({e})"

    # --------------------------------------------------------------------------------- state
    def wait_ready(self) -> bool:
        """Wait (up to the start-up deadline) for the server's imports; False if it is unusable."""
        if self.info or self.why_not:
            return not self.why_not
        left = max(self._deadline - time.monotonic(), 0.0)
        if not select.select([self._ctrl], [], [], left)[0]:
            self.why_not = "the warm process did not finish its imports in time"
            return False
        try:
            msg = json.loads(self._ctrl.recv(1 << 16) or b"{}")
        except (OSError, ValueError):
            msg = {}
        if msg.get("event") != "ready":
            log = (self._stage / "zygote.log").read_text(errors="replace")[-1500:]
            self.why_not = f"the warm process failed to start: {msg.get('error') or log.strip() or 'no reply'}"
            return False
        self.info = msg
        return True

    def unusable_for(self, task_module: str, trusted_modules: tuple[str, ...], limits) -> str | None:
        """Why a child with these settings cannot start warm from this server (None: it can)."""
        if task_module != self.task_module or tuple(trusted_modules) != self.trusted_modules:
            return f"the warm process holds {self.task_module}, not {task_module}"
        if limits.threads != self.threads:
            return f"the warm process runs {self.threads} thread(s), this sandbox {limits.threads}"
        if not self.wait_ready():
            return self.why_not
        if self.info.get("threads") != 1:
            return f"the warm process started {self.info.get('threads')} threads during its imports"
        room = limits.memory_mb + limits.address_reserve_mb
        mapped = self.info.get("vm_kb", 0) >> 10
        if room < mapped + _MARGIN_MB:
            return (f"the address-space limit ({room} MB) leaves too little room above the {mapped} MB "
                    f"the warm process maps")
        return None

    # ------------------------------------------------------------------------------- spawning
    def spawn(self, cfg: dict, sock_fd: int, status_fd: int, timeout: float) -> ForkedBoot:
        """Fork a boot for one child: it runs ``_boot.run(cfg)`` and then the child runner.

        Args:
            cfg: the boot configuration (``Sandbox._boot_config``; ``stage``, ``runner.trusted`` set).
            sock_fd: the child's end of the channel (sent to the boot; the caller closes its copy).
            status_fd: the write end of the status pipe (likewise).
            timeout: seconds to wait for the server's reply.

        Raises:
            ZygoteUnavailable: the server is gone, refused (threads) or did not answer.
        """
        if self.why_not or self._ctrl is None:
            raise ZygoteUnavailable(self.why_not or "no warm process")
        out_r, out_w = os.pipe()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            cfg = {**cfg, "zygote_trusted": self.trusted}
            try:
                socket.send_fds(self._ctrl, [json.dumps(cfg).encode()], [sock_fd, status_fd, out_w, theirs.fileno()])
            except OSError as e:
                raise ZygoteUnavailable(f"the warm process is gone ({e})") from None
            finally:
                os.close(out_w)
                theirs.close()
            if not select.select([mine], [], [], timeout)[0]:
                raise ZygoteUnavailable("the warm process did not answer")
            msg, fds, _, _ = socket.recv_fds(mine, 1 << 16, 1)
            reply = json.loads(msg or b"{}")
            if "pid" not in reply or len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                raise ZygoteUnavailable(reply.get("error") or "the warm process closed the request")
        except BaseException:
            os.close(out_r)
            raise
        finally:
            mine.close()
        return ForkedBoot(reply["pid"], fds[0], out_r)

    def close(self) -> None:
        """Stop the server (its boots and their children die with it); only in the process that started it."""
        if os.getpid() != self._owner:
            return
        if self._ctrl is not None:
            self._ctrl.close()
            self._ctrl = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=2)  # it exits once the control socket closes
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._stage is not None:
            shutil.rmtree(self._stage, ignore_errors=True)
        self.why_not = self.why_not or "the warm process was closed"


_SHARED: dict[tuple, Zygote] = {}


def warm_zygote(task_module: str = "autograder.tasks", preload: tuple[str, ...] = DEFAULT_PRELOAD,
                threads: int = 1) -> Zygote:
    """This process's warm server for ``task_module`` (started on first use, closed at exit).

    Processes forked afterwards (a pool's workers) share it. Call it early: the server imports
    while the caller does other work.

    Args:
        task_module: the children's task module.
        preload: modules imported before the task module.
        threads: the children's thread count (``Limits.threads``).
    """
    key = (task_module, tuple(preload), threads)
    if key not in _SHARED:  # one that failed stays failed: each sandbox then says why it started fresh
        _SHARED[key] = Zygote(task_module, preload, threads=threads)
    return _SHARED[key]


@atexit.register
def _close_all() -> None:
    for z in _SHARED.values():
        z.close()
