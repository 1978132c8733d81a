"""The warm fork server (a zygote): imports the grading stack once, then forks one boot per child.

Run by the grader as ``python -P -s -B -m autograder.sandbox._zygote CTRL_FD CFG`` in a fresh
process (exec'd, so it shares no memory with the grader) with the child's scrubbed environment and
only the public task code on ``sys.path``: it never reads staff files, and holds nothing a child may
not see. Steps:

1. import the preload modules (numpy, torch, ...) and the task module; import only, so no
   thread is started (``gc.freeze`` keeps the imported objects out of the collector, fewer pages copied);
   report ``ready`` (threads, address space, failed imports) on the control socket.
2. for each request (a JSON boot configuration plus the child's socket, status pipe, console pipe and
   a reply socket, passed as file descriptors): refuse if this process has more than one thread (a
   fork would copy a lock held by a thread that does not exist in the copy); else fork. The fork
   becomes the boot process of ``_boot.run`` (namespaces, fork, minimal root, rlimits, uid/gid drop
   or capability drop, ``no_new_privs``, every other descriptor closed) and its isolated child calls
   the child runner directly instead of exec'ing a new Python. The reply carries the boot's pid and
   a pidfd (so the grader can watch and kill a process that is not its own child).

It exits when the grader closes the control socket or dies (parent-death signal).
"""
import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import tempfile
import traceback

from autograder.sandbox import _boot

READY_TIMEOUT_S = 1.0  # how often the loop wakes to reap finished boots


def _enter_runner(cfg: dict) -> None:
    """Last step of the warm child (isolated, every other descriptor closed): serve the grader."""
    from autograder.sandbox import _runner

    os.environ.clear()
    os.environ.update(cfg["env"])
    tempfile.tempdir = None  # a module imported by the server may have cached the server's temp dir
    # The task code was imported from the server's copy; the child has its own at another path.
    old, trusted = cfg["zygote_trusted"], cfg["runner"]["trusted"]
    sys.path[:] = [trusted] + [p for p in sys.path if p not in (old, trusted)]
    for module in list(sys.modules.values()):
        path = getattr(module, "__path__", None)
        if isinstance(path, list) and any(p.startswith(old + os.sep) for p in path):
            path[:] = [trusted + p[len(old):] if p.startswith(old + os.sep) else p for p in path]
    if "numpy.random" in sys.modules:  # numpy seeds its global generator once, at import: not per child
        sys.modules["numpy.random"].seed()  # (Python's random reseeds itself after a fork)
    # The command line a fresh runner has (``python -m autograder.sandbox._runner SOCK_FD CFG``).
    sys.argv[:] = [os.path.join(trusted, "autograder", "sandbox", "_runner.py"), str(cfg["sock_fd"]),
                   json.dumps(cfg["runner"])]
    code = 0
    try:
        _runner.serve(socket.socket(fileno=cfg["sock_fd"]), cfg["runner"])
    except BaseException:  # noqa: B036 - report like an uncaught exception in a fresh runner
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    os._exit(code)


def _become_boot(ctrl: socket.socket, cfg: dict, fds: list[int]) -> None:
    """In the fork: drop the server's descriptors, wire the console, run the boot (never returns)."""
    try:
        os.close(ctrl.detach())  # a child must never reach the server
        sock_fd, status_fd, out_fd, reply_fd = fds
        os.close(reply_fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        for fd in (null, out_fd):
            os.close(fd)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(cfg["stage"])
        cfg.update(sock_fd=sock_fd, status_fd=status_fd, parent_pid=os.getppid())
    except BaseException:  # noqa: B036
        traceback.print_exc()
        os._exit(_boot.SETUP_FAILED)
    _boot.run(cfg, enter=_enter_runner)


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _vm_kb() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1])
    return 0


def _serve_one(ctrl: socket.socket) -> bool:
    """Handle one request; False once the grader has closed the control socket."""
    try:
        msg, fds, _, _ = socket.recv_fds(ctrl, 1 << 20, 8)
    except OSError:
        return False
    if not msg:
        return False
    if len(fds) != 4:
        for fd in fds:
            os.close(fd)
        return True
    reply = socket.socket(fileno=fds[3])
    try:
        threads = _threads()
        if threads != 1:
            reply.send(json.dumps({"error": f"the warm process runs {threads} threads; forking it is unsafe"}).encode())
            return True
        cfg = json.loads(msg)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _become_boot(ctrl, cfg, fds)
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(reply, [json.dumps({"pid": pid}).encode()], [pidfd])
        finally:
            os.close(pidfd)
    except Exception as e:  # noqa: BLE001 - one bad request must not end the server
        try:
            reply.send(json.dumps({"error": f"{type(e).__name__}: {e}"}).encode())
        except OSError:
            pass
    finally:
        reply.close()
        for fd in fds[:3]:
            os.close(fd)
    return True


def main() -> None:
    ctrl = socket.socket(fileno=int(sys.argv[1]))
    cfg = json.loads(sys.argv[2])
    _boot._prctl(_boot.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != cfg["parent_pid"]:
        os._exit(1)  # the grader is already gone
    failed = {}
    for name in cfg["preload"]:
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 - a missing optional package only makes children slower
            failed[name] = f"{type(e).__name__}: {e}"
    try:
        importlib.import_module(cfg["task_module"])
        from autograder.sandbox import _runner  # noqa: F401 - imported once, here
    except BaseException as e:  # noqa: B036
        ctrl.send(json.dumps({"event": "failed", "error": f"{type(e).__name__}: {e}"}).encode())
        os._exit(1)
    gc.collect()
    gc.freeze()
    ctrl.send(json.dumps({"event": "ready", "threads": _threads(), "vm_kb": _vm_kb(), "failed": failed,
                          "pid": os.getpid()}).encode())
    while True:
        ready, _, _ = select.select([ctrl], [], [], READY_TIMEOUT_S)
        _reap()
        if ready and not _serve_one(ctrl):
            break
    os._exit(0)


if __name__ == "__main__":
    main()
