"""The wire format between the grader and its sandboxed child: framed, size-limited, no pickle.

A frame is ``MAGIC (4 bytes) | body length (uint64, big-endian) | body``. The body is
``header length (uint32) | JSON header | blob 0 | blob 1 | ...``: the JSON header holds the
message with every tensor or array replaced by a small descriptor (kind, dtype, shape, blob index,
byte length), and the blobs hold the raw little-endian element bytes.

Decoding builds tensors from bytes after checking the dtype against an allow-list and that the
shape matches the byte count, so a garbled, forged or oversized frame raises ``ChannelError``
and never executes anything (contrast with ``pickle``). Both sides import this module; it needs
only the standard library until a tensor or array is actually encoded or decoded.
"""
from __future__ import annotations

import json
import math
import struct
from typing import Any

MAGIC = b"VZS1"
_FRAME_HEAD = struct.Struct(">4sQ")
_HEADER_LEN = struct.Struct(">I")
_MAX_DEPTH = 32  # nesting of lists/dicts in one message

# dtype names shared by torch and numpy; bfloat16 exists only in torch.
_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
           "float32", "float64", "complex64", "complex128")
_ITEMSIZE = {"bool": 1, "uint8": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "float16": 2,
             "bfloat16": 2, "float32": 4, "float64": 8, "complex64": 8, "complex128": 16}


class ChannelError(Exception):
    """A frame or value that breaks the wire format (garbled, forged, oversized, unsupported)."""


# ----------------------------------------------------------------------------------- encoding
def _encode_tensor(value: Any, blobs: list[bytes]) -> dict:
    import torch

    t = value.detach()
    if t.layout != torch.strided:
        raise ChannelError(f"a {t.layout} tensor cannot be sent; send a dense tensor (.to_dense())")
    if t.device.type != "cpu":
        t = t.cpu()
    dtype = str(t.dtype).replace("torch.", "")
    if dtype not in _DTYPES:
        raise ChannelError(f"tensor dtype {t.dtype} cannot be sent; use one of {', '.join(_DTYPES)}")
    t = t.resolve_conj().resolve_neg().contiguous()
    raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""  # (numel * itemsize,)
    blobs.append(raw)
    return {"__blob__": "torch", "dtype": dtype, "shape": list(t.shape), "index": len(blobs) - 1,
            "requires_grad": bool(value.requires_grad)}


def _encode_array(value: Any, blobs: list[bytes]) -> dict:
    import numpy as np

    dtype = value.dtype.name
    if dtype not in _DTYPES:
        raise ChannelError(f"array dtype {value.dtype} cannot be sent; use one of {', '.join(_DTYPES)}")
    arr = np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<"), copy=False)
    blobs.append(arr.tobytes())
    return {"__blob__": "numpy", "dtype": dtype, "shape": list(arr.shape), "index": len(blobs) - 1}


def _encode(value: Any, blobs: list[bytes], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ChannelError(f"value nested deeper than {_MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, int, str)):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
            raise ChannelError(f"integer {value} does not fit in 64 bits")
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"__float__": repr(value)}  # nan, inf, -inf survive the trip
    if isinstance(value, (list, tuple)):
        return [_encode(v, blobs, depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or k.startswith("__"):
                raise ChannelError(f"dict key {k!r} cannot be sent: keys must be strings not starting with '__'")
            out[k] = _encode(v, blobs, depth + 1)
        return out
    module = type(value).__module__
    if module.startswith("torch") and type(value).__name__ in ("Tensor", "Parameter"):
        return _encode_tensor(value, blobs)
    if module == "numpy" and type(value).__name__ == "ndarray":
        return _encode_array(value, blobs)
    if module == "numpy" and hasattr(value, "item"):  # numpy scalar
        return _encode(value.item(), blobs, depth)
    raise ChannelError(f"a value of type {type(value).__qualname__} cannot be sent "
                       "(allowed: tensors, arrays, str/int/float/bool/None, lists and dicts of those)")


def encode(message: dict, max_bytes: int) -> bytes:
    """Serialize ``message`` into one frame.

    Args:
        message: a dict of tensors, arrays, scalars, strings, lists and dicts.
        max_bytes: largest body allowed; a bigger message raises ``ChannelError``.
    """
    blobs: list[bytes] = []
    header = json.dumps(_encode(message, blobs, 0), allow_nan=False).encode()
    body_len = _HEADER_LEN.size + len(header) + sum(len(b) for b in blobs)
    if body_len > max_bytes:
        raise ChannelError(f"message of {body_len} bytes exceeds the {max_bytes}-byte limit")
    return b"".join([_FRAME_HEAD.pack(MAGIC, body_len), _HEADER_LEN.pack(len(header)), header, *blobs])


# ----------------------------------------------------------------------------------- decoding
def _decode_blob(desc: dict, blobs: list[memoryview]) -> Any:
    kind, dtype, shape, index = desc.get("__blob__"), desc.get("dtype"), desc.get("shape"), desc.get("index")
    if kind not in ("torch", "numpy") or dtype not in _DTYPES or (kind == "numpy" and dtype == "bfloat16"):
        raise ChannelError(f"unsupported blob {kind!r} of dtype {dtype!r}")
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s for s in shape):
        raise ChannelError(f"bad shape {shape!r}")
    if not isinstance(index, int) or not 0 <= index < len(blobs):
        raise ChannelError(f"bad blob index {index!r}")
    numel = math.prod(shape)
    raw = blobs[index]
    if numel * _ITEMSIZE[dtype] != len(raw):
        raise ChannelError(f"blob of {len(raw)} bytes does not hold a {dtype} array of shape {shape}")
    if kind == "numpy":
        import numpy as np

        return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(shape)
    import torch

    tdtype = getattr(torch, dtype)
    if numel == 0:
        t = torch.empty(shape, dtype=tdtype)
    else:
        t = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(tdtype).reshape(shape)
    if desc.get("requires_grad") is True and t.is_floating_point():
        t.requires_grad_(True)
    return t


def _decode(value: Any, blobs: list[memoryview], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ChannelError(f"value nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, list):
        return [_decode(v, blobs, depth + 1) for v in value]
    if isinstance(value, dict):
        if "__blob__" in value:
            return _decode_blob(value, blobs)
        if "__float__" in value:
            if value["__float__"] not in ("nan", "inf", "-inf"):
                raise ChannelError(f"bad float {value['__float__']!r}")
            return float(value["__float__"])
        if any(k.startswith("__") for k in value):
            raise ChannelError("unknown special key in message")
        return {k: _decode(v, blobs, depth + 1) for k, v in value.items()}
    return value


def decode(body: bytes) -> dict:
    """Rebuild a message from a frame body (the bytes after the frame head).

    Args:
        body: the body as read by ``FrameReader``.

    Raises:
        ChannelError: the body is not a well-formed message.
    """
    try:
        view = memoryview(body)
        (hlen,) = _HEADER_LEN.unpack_from(view, 0)
        start = _HEADER_LEN.size
        if start + hlen > len(view):
            raise ChannelError("header length runs past the frame")
        header = json.loads(bytes(view[start:start + hlen]))
        blobs, pos = [], start + hlen
        descs: list[dict] = []
        _collect(header, descs, 0)
        for d in sorted(descs, key=lambda d: d.get("index", -1) if isinstance(d.get("index"), int) else -1):
            n = _blob_len(d)
            blobs.append(view[pos:pos + n])
            pos += n
        if pos != len(view):
            raise ChannelError(f"frame has {len(view) - pos} bytes beyond its blobs")
        message = _decode(header, blobs, 0)
    except ChannelError:
        raise
    except (ValueError, TypeError, KeyError, RecursionError, struct.error, OverflowError) as e:
        raise ChannelError(f"malformed frame: {type(e).__name__}: {e}") from None
    if not isinstance(message, dict):
        raise ChannelError("a message must be a JSON object")
    return message


def _collect(value: Any, out: list[dict], depth: int) -> None:
    """Gather blob descriptors in header order (their index must count 0, 1, 2, ...)."""
    if depth > _MAX_DEPTH:
        raise ChannelError(f"value nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, list):
        for v in value:
            _collect(v, out, depth + 1)
    elif isinstance(value, dict):
        if "__blob__" in value:
            if value.get("index") != len(out):
                raise ChannelError("blob indices out of order")
            out.append(value)
        else:
            for v in value.values():
                _collect(v, out, depth + 1)


def _blob_len(desc: dict) -> int:
    shape, dtype = desc.get("shape"), desc.get("dtype")
    if dtype not in _ITEMSIZE or not isinstance(shape, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise ChannelError(f"bad blob descriptor {str(desc)[:200]}")
    return math.prod(shape) * _ITEMSIZE[dtype]


class FrameReader:
    """Incremental frame parser for a non-blocking stream: feed bytes, collect bodies.

    Args:
        max_bytes: largest body accepted; a frame announcing more raises ``ChannelError`` at once
            (before the bytes are read), so an oversized reply cannot exhaust the reader's memory.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._buf = bytearray()
        self._need: int | None = None

    def pending(self) -> bool:
        """Whether part of a further frame has arrived."""
        return bool(self._buf) or self._need is not None

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the bodies of the frames it completed."""
        self._buf += data
        done = []
        while True:
            if self._need is None:
                if len(self._buf) < _FRAME_HEAD.size:
                    break
                magic, n = _FRAME_HEAD.unpack_from(self._buf, 0)
                if magic != MAGIC:
                    raise ChannelError("frame does not start with the protocol's magic bytes")
                if n > self.max_bytes:
                    raise ChannelError(f"frame of {n} bytes exceeds the {self.max_bytes}-byte limit")
                del self._buf[:_FRAME_HEAD.size]
                self._need = n
            if len(self._buf) < self._need:
                break
            done.append(bytes(self._buf[:self._need]))
            del self._buf[:self._need]
            self._need = None
        return done


def recv_blocking(sock: Any, max_bytes: int) -> dict | None:
    """Read one whole frame from a blocking socket (the child's side); ``None`` at end of stream."""
    head = _recv_exact(sock, _FRAME_HEAD.size)
    if head is None:
        return None
    magic, n = _FRAME_HEAD.unpack(head)
    if magic != MAGIC or n > max_bytes:
        raise ChannelError("bad frame from the grader")
    body = _recv_exact(sock, n)
    if body is None:
        return None
    return decode(body)


def _recv_exact(sock: Any, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
