"""The sandbox's wire format: round trips, and rejection of garbled, forged or oversized frames."""
import json
import math
import struct

import numpy as np
import pytest
import torch

from autograder.sandbox import channel

MB = 1 << 20


def roundtrip(message: dict, max_bytes: int = MB) -> dict:
    frame = channel.encode(message, max_bytes)
    bodies = channel.FrameReader(max_bytes).feed(frame)
    assert len(bodies) == 1
    return channel.decode(bodies[0])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64,
                                   torch.int32, torch.uint8, torch.bool, torch.complex64])
def test_tensor_dtypes_round_trip(dtype):
    g = torch.Generator().manual_seed(0)
    t = (torch.randn(3, 5, generator=g) * 10).to(dtype)
    out = roundtrip({"t": t})["t"]
    assert out.dtype == dtype and out.shape == t.shape
    torch.testing.assert_close(out, t, rtol=0, atol=0, msg=f"tensor of dtype {dtype} changed in transit")


def test_values_round_trip():
    g = torch.Generator().manual_seed(1)
    msg = {"x": torch.randn(2, 3, 4, dtype=torch.float64, generator=g).transpose(0, 2),  # non-contiguous
           "w": torch.randn(4, requires_grad=True), "empty": torch.zeros(0, 7), "scalar": torch.tensor(2.5),
           "arr": np.arange(12, dtype=np.int16).reshape(3, 4), "farr": np.linspace(0, 1, 5),
           "nums": [1, 2.5, float("nan"), float("inf"), -float("inf"), True, None, "text"],
           "nested": {"a": [{"b": torch.ones(2)}], "np_scalar": np.float32(1.5)}}
    out = roundtrip(msg)
    torch.testing.assert_close(out["x"], msg["x"].contiguous(), msg="non-contiguous tensor changed")
    assert out["w"].requires_grad and out["empty"].shape == (0, 7) and out["scalar"].shape == ()
    np.testing.assert_array_equal(out["arr"], msg["arr"], err_msg="int16 array changed")
    assert out["arr"].dtype == np.int16 and out["farr"].dtype == np.float64
    assert math.isnan(out["nums"][2]) and out["nums"][3] == math.inf and out["nums"][4] == -math.inf
    assert out["nums"][5:] == [True, None, "text"]
    assert out["nested"]["np_scalar"] == 1.5 and torch.equal(out["nested"]["a"][0]["b"], torch.ones(2))


def test_frames_split_across_reads_are_reassembled():
    frame = channel.encode({"a": torch.arange(10)}, MB) + channel.encode({"b": 2}, MB)
    reader, bodies = channel.FrameReader(MB), []
    for i in range(0, len(frame), 7):
        bodies += reader.feed(frame[i:i + 7])
    assert [sorted(channel.decode(b)) for b in bodies] == [["a"], ["b"]]


@pytest.mark.parametrize("value, match", [
    ({"o": object()}, "cannot be sent"),
    ({1: 2}, "keys must be strings"),
    ({"__blob__": 1}, "keys must be strings"),
    ({"n": 2**70}, "64 bits"),
    ({"t": torch.zeros(2).to_sparse()}, "dense"),
])
def test_encode_rejects_unsupported_values(value, match):
    with pytest.raises(channel.ChannelError, match=match):
        channel.encode(value, MB)


def test_encode_rejects_oversized_message():
    with pytest.raises(channel.ChannelError, match="exceeds"):
        channel.encode({"t": torch.zeros(1024, dtype=torch.float64)}, 1000)


def _body(header: dict, *blobs: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack(">I", len(raw)) + raw + b"".join(blobs)


@pytest.mark.parametrize("body", [
    b"",
    b"\x00\x00\x00\x10{}",
    _body([1, 2]),                                                                        # not an object
    _body({"t": {"__blob__": "torch", "dtype": "float64", "shape": [3], "index": 0}}, b"\0" * 16),   # too few bytes
    _body({"t": {"__blob__": "torch", "dtype": "object", "shape": [1], "index": 0}}, b"\0" * 8),     # bad dtype
    _body({"t": {"__blob__": "pickle", "dtype": "float64", "shape": [1], "index": 0}}, b"\0" * 8),   # bad kind
    _body({"t": {"__blob__": "torch", "dtype": "float64", "shape": [-1], "index": 0}}),
    _body({"t": {"__blob__": "torch", "dtype": "float64", "shape": [1], "index": 3}}, b"\0" * 8),    # bad index
    _body({"a": 1}, b"trailing"),
    _body({"__reduce__": "os.system"}),
    _body({"f": {"__float__": "1e308*10"}}),
])
def test_decode_rejects_garbled_bodies(body):
    with pytest.raises(channel.ChannelError):
        channel.decode(body)


def test_reader_rejects_bad_magic_and_oversized_header_before_reading_the_body():
    with pytest.raises(channel.ChannelError, match="magic"):
        channel.FrameReader(MB).feed(b"PKL!" + struct.pack(">Q", 4) + b"abcd")
    with pytest.raises(channel.ChannelError, match="exceeds"):
        channel.FrameReader(MB).feed(struct.pack(">4sQ", channel.MAGIC, 1 << 40))
