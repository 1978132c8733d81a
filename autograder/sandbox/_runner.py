"""The child runner: receives task requests over the channel and runs them, one at a time.

Runs inside the sandbox as ``python -P -s -B -m autograder.sandbox._runner SOCK_FD CFG``. It
imports the trusted task module (``TASKS: dict[str, Callable[[dict], dict]]``) but nothing of the
student's: tasks import student modules themselves. Student code runs in this very process, so
nothing here is trusted by the grader; the runner only makes honest failures readable.
"""
from __future__ import annotations

import importlib
import json
import math
import os
import resource
import signal
import socket
import sys
import threading
import time
import traceback

from autograder.sandbox import channel

_ERROR_CHARS = 4000


def _format_error(exc: BaseException, work: str) -> str:
    """Exception type, message and the traceback frames that lie in the student's files."""
    prefix = work.rstrip("/") + "/"
    te = traceback.TracebackException.from_exception(exc, limit=200)
    frames = [f for f in te.stack if f.filename.startswith(prefix)]
    lines = []
    if frames:
        lines.append("Traceback (your files only):\n")
        for f in frames[-20:]:
            lines.append(f'  File "{f.filename[len(prefix):]}", line {f.lineno}, in {f.name}\n')
            if f.line:
                lines.append(f"    {f.line.strip()}\n")
    lines.extend(te.format_exception_only())
    text = "".join(lines).replace(prefix, "")
    if isinstance(exc, SystemExit):
        text += "(your code called sys.exit(); the item could not finish)\n"
    if len(text) > _ERROR_CHARS:
        text = text[:_ERROR_CHARS] + "\n... [error message truncated]\n"
    return text


def _kill_strays(in_pid_ns: bool) -> None:
    """Kill every other process of the sandbox and reap it."""
    me = os.getpid()
    for _ in range(200):
        if in_pid_ns:
            try:
                os.kill(-1, signal.SIGKILL)  # PID 1 of its namespace: everyone else in it
            except ProcessLookupError:
                pass
        else:
            for pid in _descendants(me):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return
        time.sleep(0.005)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = open(f"/proc/{name}/stat").read()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _limit_cpu(item_cpu_s: float) -> None:
    """Arm SIGXCPU ``item_cpu_s`` seconds of CPU from now (the hard limit is the submission's)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    want = math.ceil(usage.ru_utime + usage.ru_stime + item_cpu_s)
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (want, hard))
    except (ValueError, OSError):
        pass


def main() -> None:
    """Entry point of a fresh child: ``SOCK_FD CFG`` on the command line."""
    serve(socket.socket(fileno=int(sys.argv[1])), json.loads(sys.argv[2]))


def serve(sock: socket.socket, cfg: dict) -> None:
    """Answer task requests on ``sock`` until the grader closes it.

    Args:
        sock: the child's end of the grader's socketpair.
        cfg: ``task_module``, ``work`` (the submission's folder), ``item_cpu_s``, ``message_bytes``,
            ``marker`` (the end-of-item line written to the console).
    """
    max_bytes = cfg["message_bytes"]
    sys.path.append(cfg["work"])  # after site-packages: the submission cannot shadow torch & co.
    in_pid_ns = os.getpid() == 1
    if not in_pid_ns:
        import ctypes

        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans stay ours to kill
    # torch and numpy are imported by the channel (or the tasks) when first needed, or before the
    # ready message when the task module lists them in PRELOAD; the thread count comes from
    # OMP_NUM_THREADS in the environment.
    module = importlib.import_module(cfg["task_module"])
    tasks = module.TASKS
    for name in getattr(module, "PRELOAD", ()):  # what the tasks will import anyway, before the grader waits on it
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    sock.sendall(channel.encode({"event": "ready", "threads": threading.active_count()}, max_bytes))
    base_threads = set(threading.enumerate())
    while True:
        request = channel.recv_blocking(sock, max_bytes)
        if request is None:
            return
        nonce = request.get("nonce")
        _limit_cpu(cfg["item_cpu_s"])
        try:
            fn = tasks[request["task"]]
            value = fn(request.get("payload") or {})
            if not isinstance(value, dict):
                raise TypeError(f"task {request['task']!r} returned {type(value).__name__}, expected dict")
            reply = {"nonce": nonce, "ok": True, "value": value}
        except BaseException as e:  # noqa: B036 (SystemExit and KeyboardInterrupt cost only this item)
            reply = {"nonce": nonce, "ok": False, "error": _format_error(e, cfg["work"]),
                     "error_type": type(e).__name__, "errno": getattr(e, "errno", None)}
        _kill_strays(in_pid_ns)
        reply["restart"] = bool(set(threading.enumerate()) - base_threads)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        try:
            os.write(1, cfg["marker"].encode() + nonce.encode() + b"\n")
        except (OSError, AttributeError):
            pass
        try:
            frame = channel.encode(reply, max_bytes)
        except Exception as e:  # noqa: BLE001 (e.g. a meta-device tensor: the item fails, the child lives on)
            frame = channel.encode({"nonce": nonce, "ok": False, "error_type": "ChannelError",
                                    "error": f"the item's result could not be sent to the grader: {e}"}, max_bytes)
        sock.sendall(frame)


if __name__ == "__main__":
    main()
