# hostile: on top of the reference
# At import: start many long-lived processes (new sessions, double forks) named "vzhostile".
import ctypes as _ctypes
import os as _os
import time as _time

for _ in range(40):
    try:
        _pid = _os.fork()
    except OSError:
        break
    if _pid == 0:
        try:
            _os.setsid()
            if _os.fork():
                _os._exit(0)
            _ctypes.CDLL(None).prctl(15, b"vzhostile", 0, 0, 0)  # PR_SET_NAME
            _time.sleep(3600)
        finally:
            _os._exit(0)
