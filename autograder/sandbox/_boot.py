"""Become the sandbox, then exec the child runner (run by the grader as ``python -I -S _boot.py CFG``).

Standard library only (no site-packages are imported before the isolation is in place). Steps:

1. boot (this process, outside the new PID namespace): parent-death signal, optionally drop to an
   ordinary uid (to exercise the unprivileged path as root), ``unshare`` the namespaces, fork;
   then report the child's pid on the status pipe, wait for it and report how it ended.
2. child (PID 1 of the new PID namespace): build a minimal root on a tmpfs (read-only binds of
   the system libraries, the Python install and the venv; the submission and the grader's task
   code read-only; private /tmp, /dev/shm, a few /dev nodes and a fresh /proc), ``pivot_root``
   into it, set rlimits, drop uid/gid or capabilities, ``no_new_privs``, exec the runner.

The warm start (``_zygote.py``) runs the same two steps in a process forked from a server that has
already imported the grading stack; only the last step differs: instead of exec'ing a fresh Python,
the isolated child calls the runner it already holds (``run(cfg, enter=...)``).

Exit codes of the child before the runner starts: 121 = isolation setup failed (the grader falls
back to a weaker mode), anything else comes from the runner.
"""
import ctypes
import json
import os
import platform
import resource
import signal
import sys
import traceback

SETUP_FAILED = 121

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECUREBITS = 1, 4, 24, 28
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 36, 38, 47, 4
SECURE_ALL_LOCKED = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80  # noroot, no_setuid_fixup, no ambient raise (+locks)
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}

libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src, dst, fstype, flags, data=None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(libc.mount(enc(src), enc(dst), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {src} on {dst}")


def _prctl(option: int, arg: int = 0) -> None:
    _check(libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


def _locked_flags(path: str) -> int:
    """Mount flags a remount must keep (a user namespace may not clear them)."""
    f = os.statvfs(path).f_flag
    flags = 0
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                   (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME)):
        if f & st:
            flags |= ms
    return flags


def _bind(src: str, dst: str, readonly: bool = True, nodev: bool = True) -> None:
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst):
            open(dst, "w").close()
    _mount(src, dst, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (MS_NODEV if nodev else 0) | (MS_RDONLY if readonly else 0)
    _mount(None, dst, None, flags | _locked_flags(dst))


def _build_root(cfg: dict) -> None:
    root = cfg["newroot"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks back to the host
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    # The private /tmp first: a bind below comes from under /tmp when the grader's venv lives there
    # (a checkout in /tmp), and must land on top of this tmpfs rather than be hidden by it.
    os.makedirs(root + "/tmp")
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={cfg['tmp_mb']}m,mode=1777")
    for src, dst in cfg["ro_binds"]:
        if os.path.islink(src) and os.path.dirname(src) == "/":  # /bin -> usr/bin on merged-/usr systems
            os.symlink(os.readlink(src), root + dst)
        elif os.path.exists(src):
            _bind(src, root + dst)
    _bind(cfg["work_src"], root + cfg["work_dst"])
    _bind(cfg["trusted_src"], root + cfg["trusted_dst"])
    # /etc: only what the loader and Python need; passwd/group name the sandbox's user.
    os.makedirs(root + "/etc", exist_ok=True)
    for name, text in cfg["etc_files"].items():
        with open(f"{root}/etc/{name}", "w") as f:
            f.write(text)
    for name in ("ld.so.cache", "localtime"):
        if os.path.exists("/etc/" + name):
            _bind(os.path.realpath("/etc/" + name), f"{root}/etc/{name}")
    # /dev: a tmpfs with a few harmless nodes bound from the host.
    dev = root + "/dev"
    os.makedirs(dev)
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID, "size=64k,mode=0755")
    for node in ("null", "zero", "full", "random", "urandom"):
        _bind("/dev/" + node, f"{dev}/{node}", readonly=False, nodev=False)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")
    os.makedirs(root + "/dev/shm")
    _mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={cfg['shm_mb']}m,mode=1777")
    # A fresh /proc for the new PID namespace (mounted while the host's is still visible: a user
    # namespace may only mount proc where a full proc is already visible).
    os.makedirs(root + "/proc")
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    # pivot_root(".", ".") stacks the old root under the new one; detaching it leaves no way back.
    os.chdir(root)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root: unknown syscall number on {platform.machine()}")
    _check(libc.syscall(number, b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")
    name = b"sandbox"
    _check(libc.sethostname(name, len(name)), "sethostname")


def _set_rlimits(cfg: dict) -> None:
    for name, value in cfg["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> None:
    """Leave no capability (bounding set, ambient, securebits so uid 0 regains none on exec)."""
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for cap in range(last + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    _prctl(PR_SET_SECUREBITS, SECURE_ALL_LOCKED)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
    _check(libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


def _drop_uid(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def _prebind(cfg: dict) -> None:
    """Root about to act as an ordinary user: make the bind sources reachable without root.

    The interpreter may live where only root can walk (e.g. ``/root/.pyenv``). In a private mount
    namespace, bind each source onto ``stage/prebind/N`` (a path anyone can reach) and let the
    unprivileged child bind from there.
    """
    _check(libc.unshare(CLONE_NEWNS), "unshare(mount)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    binds = []
    for i, (src, dst) in enumerate(cfg["ro_binds"]):
        if os.path.isdir(src) and not (os.path.islink(src) and os.path.dirname(src) == "/"):
            new = os.path.join(cfg["prebind_dir"], str(i))
            os.makedirs(new, mode=0o755)
            _mount(src, new, None, MS_BIND | MS_REC)
            src = new
        binds.append([src, dst])
    cfg["ro_binds"] = binds


def _exec_runner(cfg: dict) -> None:
    """The fresh start: replace this (isolated) process by a new Python running the child runner."""
    os.set_inheritable(cfg["sock_fd"], True)
    argv = [cfg["python"], "-P", "-s", "-B", "-m", "autograder.sandbox._runner", str(cfg["sock_fd"]),
            json.dumps(cfg["runner"])]
    os.execve(cfg["python"], argv, cfg["env"])


def _child(cfg: dict, enter) -> None:
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    mode = cfg["mode"]
    try:
        if mode in ("root", "userns"):
            _build_root(cfg)
            cwd = cfg["work_dst"]
        else:
            os.setsid()
            cwd = cfg["work_src"]
        _set_rlimits(cfg)
        if mode == "root" or (mode == "plain" and os.geteuid() == 0 and cfg["uid"] is not None):
            _drop_uid(cfg["uid"], cfg["gid"])
        elif mode == "userns":
            _drop_capabilities()
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        os.chdir(cwd)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(SETUP_FAILED)
    keep = {0, 1, 2, cfg["sock_fd"]}
    for fd in map(int, os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []):
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    enter(cfg)


def run(cfg: dict, enter=_exec_runner) -> None:
    """Boot: report on the status pipe, isolate, fork the child that calls ``enter(cfg)``; never returns.

    Args:
        cfg: the grader's boot configuration (``Sandbox._boot_config``).
        enter: what the isolated child runs last, with every protection in place (default: exec
            a fresh Python running the child runner).
    """
    status = os.fdopen(cfg["status_fd"], "w", buffering=1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != cfg["parent_pid"]:
        os._exit(1)  # the grader is already gone

    def report(**event) -> None:
        status.write(json.dumps(event) + "\n")

    try:
        if cfg["as_user"] is not None:  # root entering a user namespace as an unprivileged uid
            if cfg["prebind"]:
                _prebind(cfg)
            _drop_uid(cfg["as_user"], cfg["as_user"])
            _prctl(PR_SET_DUMPABLE, 1)  # else /proc/self/uid_map stays root's after the uid change
        mode = cfg["mode"]
        if mode in ("root", "userns"):
            uid, gid = os.getuid(), os.getgid()
            flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
            _check(libc.unshare(flags | (CLONE_NEWUSER if mode == "userns" else 0)), "unshare")
            if mode == "userns":
                for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
                    with open(f"/proc/self/{name}", "w") as f:
                        f.write(text)
    except OSError as e:
        report(event="unsupported", error=str(e))
        os._exit(SETUP_FAILED)
    pid = os.fork()
    if pid == 0:
        status.close()
        _child(cfg, enter)
    os.close(cfg["sock_fd"])
    report(event="started", pid=pid, mode=cfg["mode"])
    _, wstatus = os.waitpid(pid, 0)
    report(event="exit", code=os.waitstatus_to_exitcode(wstatus))
    os._exit(0)


def main() -> None:
    run(json.loads(sys.argv[1]))


if __name__ == "__main__":
    main()
