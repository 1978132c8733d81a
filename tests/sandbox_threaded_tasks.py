"""A task module that starts a thread when imported (the warm server must then refuse to fork)."""
from __future__ import annotations

import threading
import time

_worker = threading.Thread(target=time.sleep, args=(3600,), daemon=True, name="import-time-thread")
_worker.start()


def echo(p: dict) -> dict:
    return {"echo": p}


TASKS = {"echo": echo}
