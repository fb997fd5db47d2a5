"""Minimal pure-python safetensors writer/reader for fixture scripts.

torch 1.13 (the system /usr/bin/python3) has no `safetensors` package, so fixture scripts use this instead.
Layout (same as the reference implementation): 8-byte little-endian header length N, N bytes of compact JSON
({"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}) padded with spaces to
a multiple of 8, then the raw little-endian tensor bytes, in the given order, offsets relative to the data start.

    from fixture_io import save, load
    save("out.safetensors", {"w": torch.randn(3, 4)}, metadata={"note": "x"})
    tensors, metadata = load("out.safetensors")
"""
import json
import struct
import sys

import torch

if sys.byteorder != "little":
    raise RuntimeError("fixture_io assumes a little-endian machine")

_TO_NAME = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}
_FROM_NAME = {v: k for k, v in _TO_NAME.items()}


def _raw_bytes(t):
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the bits
        t = t.view(torch.int16)
    elif t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return t.numpy().tobytes()


def serialize(tensors, metadata=None):
    """tensors: dict or list of (name, torch.Tensor); returns the file's bytes."""
    items = list(tensors.items()) if isinstance(tensors, dict) else list(tensors)
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, t in items:
        if name in header:
            raise ValueError(f"duplicate or reserved tensor name {name!r}")
        if t.dtype not in _TO_NAME:
            raise ValueError(f"tensor {name!r}: unsupported dtype {t.dtype}")
        data = _raw_bytes(t)
        header[name] = {"dtype": _TO_NAME[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def save(path, tensors, metadata=None):
    with open(path, "wb") as f:
        f.write(serialize(tensors, metadata))


def load(path):
    """Returns (dict name -> torch.Tensor in header order, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    buf = raw[8 + n:]
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = _FROM_NAME[info["dtype"]]
        chunk = bytearray(buf[begin:end])
        if dtype == torch.bfloat16:
            t = torch.frombuffer(chunk, dtype=torch.int16).view(torch.bfloat16) if chunk else torch.empty(0, dtype=dtype)
        elif dtype == torch.bool:
            t = torch.frombuffer(chunk, dtype=torch.uint8).to(torch.bool) if chunk else torch.empty(0, dtype=dtype)
        else:
            t = torch.frombuffer(chunk, dtype=dtype) if chunk else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    return out, metadata
