"""Trusted task functions for the sandbox tests (imported in the child as ``tests.sandbox_tasks``)."""
from __future__ import annotations

import importlib
import os
import socket
import sys
import tempfile
import time

# Asked at import, as torch._dynamo does: a warm server caches its own temp dir in `tempfile`, which
# its forked children must not inherit (test_sandbox_warm).
_IMPORT_TMP = tempfile.gettempdir()


def echo(p: dict) -> dict:
    return {"echo": p}


def double(p: dict) -> dict:
    return {"y": p["x"] * 2, "arr": p["arr"] * 2}


def spin(p: dict) -> dict:
    end = time.process_time() + p.get("seconds", 1e9)
    while time.process_time() < end:
        pass
    return {}


def sleep(p: dict) -> dict:
    time.sleep(p["seconds"])
    return {}


def alloc(p: dict) -> dict:
    blob = bytearray(p["mb"] << 20)
    return {"n": len(blob)}


def fork(p: dict) -> dict:
    pids = []
    for _ in range(p["n"]):
        pid = os.fork()
        if pid == 0:
            time.sleep(3600)
            os._exit(0)
        pids.append(pid)
    return {"n": len(pids)}


def write(p: dict) -> dict:
    with open(p.get("path", "/tmp/big"), "wb") as f:
        for _ in range(p["mb"]):
            f.write(b"\0" * (1 << 20))
    return {}


def shout(p: dict) -> dict:
    line = "x" * 1023 + "\n"
    for _ in range(p["kb"]):
        sys.stdout.write(line)
    print("stderr here", file=sys.stderr)
    return {}


def exit_(p: dict) -> dict:
    if p.get("hard"):
        os._exit(p["code"])
    sys.exit(p["code"])


def boom(p: dict) -> dict:
    raise ValueError("boom " + str(p.get("why", "")))


def unsendable(p: dict) -> dict:
    if p.get("meta"):
        import torch

        return {"t": torch.empty(3, device="meta")}
    return {"obj": object()}


def big(p: dict) -> dict:
    import numpy as np

    return {"t": np.zeros(p["mb"] << 17)}


def garble(p: dict) -> dict:
    """Write straight onto the channel, as student code could: garbage, a forged frame, a huge header."""
    import struct

    from autograder.sandbox import channel

    fd = int(sys.argv[1])
    if p["how"] == "garbage":
        os.write(fd, b"this is not a frame" * 10)
    elif p["how"] == "forged":
        os.write(fd, channel.encode({"nonce": "0" * 32, "ok": True, "value": {"score": 100}}, 1 << 20))
    elif p["how"] == "huge":
        os.write(fd, struct.pack(">4sQ", channel.MAGIC, 1 << 40))
    time.sleep(p.get("sleep", 0))
    return {"score": 0}


def probe(p: dict) -> dict:
    """What the child can see and do."""
    out = {"uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid(), "cwd": os.getcwd(),
           "hostname": socket.gethostname(), "env": dict(os.environ), "root": sorted(os.listdir("/")),
           "pids": sorted(int(d) for d in os.listdir("/proc") if d.isdigit()),
           "exists": {path: os.path.exists(path) for path in p.get("paths", [])},
           "tempdir": tempfile.gettempdir()}
    try:
        fd, name = tempfile.mkstemp()
        os.close(fd)
        out["mkstemp"] = os.path.dirname(name)
    except OSError as e:
        out["mkstemp"] = f"{type(e).__name__}: {e}"
    try:
        with socket.create_connection(("127.0.0.1", p.get("port", 9)), timeout=2) as s:
            s.sendall(b"leak")
        out["connect"] = "connected"
    except OSError as e:
        out["connect"] = f"{type(e).__name__}: {e}"
    try:
        os.kill(p.get("kill", 0) or os.getppid(), 0)
        out["signal_parent"] = "allowed"
    except OSError as e:
        out["signal_parent"] = type(e).__name__
    return out


def forward(p: dict) -> dict:
    """Import the student's ``models.vit`` and run its model's forward pass."""
    import torch

    vit = importlib.import_module("models.vit")
    torch.manual_seed(0)
    model = vit.VisionTransformer(**p["kwargs"]).double().eval()
    with torch.no_grad():
        return {"logits": model(p["x"])}


_PLUS_ONE = bytes((b + 1) % 256 for b in range(256))  # a translate table: every byte plus one
_MINUS_ONE = bytes((b - 1) % 256 for b in range(256))


def find_in_own_memory(shifted: bytes) -> list[str]:
    """The regions of this process's memory that hold the text whose bytes, each plus one, are ``shifted``.

    Only the shifted form is ever in this process (and a shifted chunk of memory holds it only where
    the memory held the text itself), so searching cannot plant what it looks for. Read through
    ``/proc/self/maps`` and ``/proc/self/mem``: every readable region except read-only file mappings
    (library code and constants, the same public files for everyone).
    """
    import ctypes

    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: /proc/self/mem is ours to read after a uid drop
    hits, n = [], len(shifted)
    with open("/proc/self/maps") as f:
        regions = f.read().splitlines()
    with open("/proc/self/mem", "rb", buffering=0) as mem:
        for line in regions:
            parts = line.split()
            path = parts[5] if len(parts) > 5 else ""
            perms = parts[1]
            if perms[0] != "r" or path.startswith("[v") or (path.startswith("/") and "w" not in perms):
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            tail, pos = b"", start
            while pos < end:
                size = min(4 << 20, end - pos)
                try:
                    mem.seek(pos)
                    chunk = mem.read(size)
                except OSError:
                    break
                buf = tail + chunk.translate(_PLUS_ONE)
                if shifted in buf:
                    hits.append(f"{parts[0]} {perms} {path}")
                    break
                tail, pos = buf[-(n - 1):], pos + size
    return hits


def scan_memory(p: dict) -> dict:
    """Search this child's memory for a secret (sent shifted) and for a control text it holds itself."""
    control = bytes.fromhex(p["control"]).translate(_MINUS_ONE)  # now in memory: the search must find it
    return {"secret": find_in_own_memory(bytes.fromhex(p["secret"])),
            "control": find_in_own_memory(control.translate(_PLUS_ONE)), "pid": os.getpid()}


def try_writes(p: dict) -> dict:
    """Try to change each path (append to it, or create it): ``written`` or the error's name, per path."""
    out = {}
    for path in p["paths"]:
        try:
            with open(path, "a") as f:
                f.write("# changed by the child\n")
            out[path] = "written"
        except OSError as e:
            out[path] = type(e).__name__
    return {"results": out}


TASKS = {"echo": echo, "double": double, "spin": spin, "sleep": sleep, "alloc": alloc, "fork": fork,
         "write": write, "shout": shout, "exit": exit_, "boom": boom, "unsendable": unsendable,
         "probe": probe, "forward": forward, "big": big, "garble": garble, "scan_memory": scan_memory,
         "try_writes": try_writes}
