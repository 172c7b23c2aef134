"""IDX, the file format MNIST is distributed in: a tiny header (magic number,
dimensions), then the data, big-endian. :func:`parse_idx` reads the bytes,
:func:`read_idx` a file, gzip-compressed or not."""
import gzip
import struct
from pathlib import Path

import numpy as np

__all__ = ["parse_idx", "read_idx", "GZIP_MAGIC"]

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data):
    """Parse the bytes of an (uncompressed) IDX file into a numpy array.

    Layout: magic number = two zero bytes, a type code (0x08 = uint8, ...) and
    the number of dimensions n; then n big-endian uint32 sizes; then the data,
    big-endian, row-major. Raises ValueError on a bad magic number or length.
    """
    data = memoryview(data)
    if len(data) < 4:
        raise ValueError(f"not an IDX file: {len(data)} bytes is too short for the magic number")
    zero0, zero1, type_code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        magic = struct.unpack(">I", data[:4])[0]
        raise ValueError(f"not an IDX file: bad magic number 0x{magic:08X} "
                         f"(expected 0x0000TTNN: type code TT in {sorted(_IDX_DTYPES)}, NN dimensions)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"truncated IDX file: header needs {header} bytes, got {len(data)}")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"IDX file of shape {shape} and type {dtype} should be {expected} bytes, got {len(data)}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))   # native byte order, own memory


GZIP_MAGIC = b"\x1f\x8b"      # the first two bytes of every gzip file


def read_idx(path):
    """Read an IDX file, gzip-compressed or not (told by its first bytes), into a numpy array."""
    raw = Path(path).read_bytes()
    return parse_idx(gzip.decompress(raw) if raw[:2] == GZIP_MAGIC else raw)
