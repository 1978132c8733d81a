# hostile: on top of the reference
# At import: 32 MB on stdout and stderr, no newlines to speak of.
import os as _os
import sys as _sys

_chunk = "FLOOD" * 200000
for _ in range(16):
    print(_chunk, end="")
    _sys.stderr.write(_chunk)
_os.write(1, b"\0\xff" * 100000)  # not even text
