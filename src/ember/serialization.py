"""``ember.save`` and ``ember.load``: files that never run code when read.

ember's own format is a safetensors file: an 8-byte little-endian header length, a JSON
header naming each tensor's dtype, shape and byte range, then the raw bytes. The structure
around the tensors (nested dicts, lists, tuples, numbers, strings) is JSON too, kept in the
header's ``__metadata__``. Reading it is parsing JSON and slicing bytes, checked at every step.

``ember.load`` also reads what ``torch.save`` writes (a zip holding a pickle and one file per
storage). Pickles can call any function they name, so the reader names the few it accepts
(``OrderedDict``, torch's tensor and parameter rebuilders, storage types, dtypes) and maps
them to ember's own code; any other name is refused before anything is called.
``ember.save(obj, f, format="torch")`` writes that zip format for ``torch.load``.
"""

from __future__ import annotations

import collections
import io
import json
import math
import os
import pickle
import struct
import zipfile
from typing import Any

import numpy as np

from ember import _dtype as D
from ember._tensor import Tensor

__all__ = ["load", "save"]

# safetensors dtype codes, NumPy dtypes and torch's storage class names, per ember dtype.
_CODES = {"F16": D.float16, "F32": D.float32, "F64": D.float64, "I8": D.int8,
          "I16": D.int16, "I32": D.int32, "I64": D.int64, "U8": D.uint8, "BOOL": D.bool_}
_CODE_OF = {dtype: code for code, dtype in _CODES.items()}
_STORAGES = {"HalfStorage": D.float16, "FloatStorage": D.float32, "DoubleStorage": D.float64,
             "CharStorage": D.int8, "ShortStorage": D.int16, "IntStorage": D.int32,
             "LongStorage": D.int64, "ByteStorage": D.uint8, "BoolStorage": D.bool_}
_STORAGE_OF = {dtype: name for name, dtype in _STORAGES.items()}
_TORCH_DTYPES = {"float16": D.float16, "half": D.float16, "float32": D.float32,
                 "float": D.float32, "float64": D.float64, "double": D.float64,
                 "int8": D.int8, "int16": D.int16, "short": D.int16, "int32": D.int32,
                 "int": D.int32, "int64": D.int64, "long": D.int64, "uint8": D.uint8,
                 "bool": D.bool_}
_MAX_HEADER = 100 * 2**20  # a JSON header larger than 100 MB is not a file ember wrote
_MAX_DEPTH = 200  # nesting deeper than this is refused rather than recursed into
_ZIP_MAGIC = b"PK\x03\x04"


class _Refused(pickle.UnpicklingError):
    pass


def _bad(message: str) -> RuntimeError:
    return RuntimeError(f"ember.load: {message}")


# ----- saving --------------------------------------------------------------------------------
def save(obj: Any, f, pickle_module=None, pickle_protocol: int = 2, *,
         format: str = "ember") -> None:
    """Save tensors and nested dicts/lists/tuples of them (with numbers, strings, None) to
    ``f`` (a path or a binary file). ``format="torch"`` writes torch's zip format instead,
    which ``torch.load(f, weights_only=True)`` reads."""
    if format == "ember":
        data = _save_ember(obj)
    elif format == "torch":
        data = _save_torch(obj)
    else:
        raise ValueError(f"ember.save: format must be 'ember' or 'torch', not {format!r}")
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as out:
            out.write(data)
    else:
        f.write(data)


def _contiguous_array(t: Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach()._array)


def _save_ember(obj) -> bytes:
    tensors: dict[int, str] = {}  # id(tensor) -> name, so a shared tensor is stored once
    arrays: list[tuple[str, Tensor]] = []

    def encode(value, depth=0):
        if depth > _MAX_DEPTH:
            raise ValueError("ember.save: the object is nested too deeply")
        if isinstance(value, Tensor):
            if id(value) not in tensors:
                tensors[id(value)] = str(len(arrays))
                arrays.append((tensors[id(value)], value))
            node = {"tensor": tensors[id(value)]}
            if value.requires_grad:
                node["requires_grad"] = True
            if type(value).__name__ == "Parameter":
                node["parameter"] = True
            return node
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return {"int": str(value)} if abs(value) >= 2**53 else value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"float": repr(value)}
        if isinstance(value, D.dtype):
            return {"dtype": str(value).split(".")[-1]}
        if isinstance(value, dict):
            items = [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]
            kind = "ordered_dict" if isinstance(value, collections.OrderedDict) else "dict"
            return {kind: items}
        if isinstance(value, (list, tuple)):
            kind = "tuple" if isinstance(value, tuple) else "list"
            return {kind: [encode(v, depth + 1) for v in value]}
        raise TypeError(f"ember.save cannot store a {type(value).__name__}: only tensors, "
                        "dicts, lists, tuples, numbers, strings and None")

    structure = encode(obj)
    header: dict[str, Any] = {}
    chunks, offset = [], 0
    for name, t in arrays:
        array = _contiguous_array(t)
        raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _CODE_OF[t.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "ember", "structure": json.dumps(structure)}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keeps the data 8-byte aligned, as safetensors does
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def _save_torch(obj) -> bytes:
    """torch's zip layout: ``archive/data.pkl`` plus ``archive/data/<key>`` per storage."""
    writer = _TorchPickleWriter()
    pickled = writer.dump(obj)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/byteorder", "little")
        for key, array in writer.storages:
            archive.writestr(f"archive/data/{key}", array.astype(
                array.dtype.newbyteorder("<"), copy=False).tobytes())
        archive.writestr("archive/version", "3\n")
    return buffer.getvalue()


class _TorchPickleWriter:
    """Writes pickle protocol 2 by hand, so saving in torch's format needs no torch: the
    globals torch's reader expects are written by name."""

    def __init__(self) -> None:
        self.out = bytearray(b"\x80\x02")
        self.storages: list[tuple[str, np.ndarray]] = []
        self._keys: dict[int, str] = {}

    def dump(self, obj) -> bytes:
        self.write(obj, 0)
        self.out += b"."
        return bytes(self.out)

    def global_(self, module: str, name: str) -> None:
        self.out += b"c" + f"{module}\n{name}\n".encode()

    def write(self, value, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise ValueError("ember.save: the object is nested too deeply")
        out = self.out
        if value is None:
            out += b"N"
        elif value is True or value is False:
            out += b"\x88" if value else b"\x89"
        elif isinstance(value, int):
            if 0 <= value < 256:
                out += b"K" + bytes([value])
            elif -2**31 <= value < 2**31:
                out += b"J" + struct.pack("<i", value)
            else:
                raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
                out += b"\x8a" + bytes([len(raw)]) + raw
        elif isinstance(value, float):
            out += b"G" + struct.pack(">d", value)
        elif isinstance(value, str):
            raw = value.encode("utf-8", "surrogatepass")
            out += b"X" + struct.pack("<I", len(raw)) + raw
        elif isinstance(value, Tensor):
            self.write_tensor(value)
        elif isinstance(value, dict):
            if isinstance(value, collections.OrderedDict):
                self.global_("collections", "OrderedDict")
                out += b")R"
            else:
                out += b"}"
            if value:
                out += b"("
                for k, v in value.items():
                    self.write(k, depth + 1)
                    self.write(v, depth + 1)
                out += b"u"
        elif isinstance(value, list):
            out += b"]"
            if value:
                out += b"("
                for v in value:
                    self.write(v, depth + 1)
                out += b"e"
        elif isinstance(value, tuple):
            out += b"("
            for v in value:
                self.write(v, depth + 1)
            out += b"t"
        else:
            raise TypeError(f"ember.save cannot store a {type(value).__name__}: only tensors, "
                            "dicts, lists, tuples, numbers, strings and None")

    def write_tensor(self, t: Tensor) -> None:
        array = _contiguous_array(t)
        if id(t) not in self._keys:
            self._keys[id(t)] = str(len(self.storages))
            self.storages.append((self._keys[id(t)], array.reshape(-1)))
        shape = array.shape
        strides = tuple(s // array.itemsize for s in array.strides) if array.size else tuple(
            int(np.prod(shape[i + 1:])) for i in range(len(shape)))
        parameter = type(t).__name__ == "Parameter"
        if parameter:
            self.global_("torch._utils", "_rebuild_parameter")
            self.out += b"("
        self.global_("torch._utils", "_rebuild_tensor_v2")
        self.out += b"(("
        self.write("storage", 0)
        self.global_("torch", _STORAGE_OF[t.dtype])
        self.write(self._keys[id(t)], 0)
        self.write("cpu", 0)
        self.write(int(array.size), 0)
        self.out += b"tQ"  # the persistent id of the storage
        self.write(0, 0)
        self.write(tuple(int(s) for s in shape), 0)
        self.write(tuple(int(s) for s in strides), 0)
        self.write(bool(t.requires_grad) and not parameter, 0)
        self.global_("collections", "OrderedDict")
        self.out += b")Rt" + b"R"
        if parameter:
            self.write(bool(t.requires_grad), 0)
            self.global_("collections", "OrderedDict")
            self.out += b")RtR"


# ----- loading -------------------------------------------------------------------------------
def load(f, map_location=None, pickle_module=None, *, weights_only: bool | None = True,
         mmap=None, **pickle_load_args) -> Any:
    """Read what ``ember.save`` or ``torch.save`` wrote (a path or a binary file).

    Nothing in the file is executed: unknown content raises an error naming it.
    """
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as stream:
            data = stream.read()
    else:
        data = f.read()
    if data[:4] == _ZIP_MAGIC:
        return _load_torch(data)
    return _load_ember(data)


def _load_ember(data: bytes):
    if len(data) < 8:
        raise _bad(f"the file is truncated ({len(data)} bytes) or not a file ember.save wrote")
    (size,) = struct.unpack("<Q", data[:8])
    if size > _MAX_HEADER or 8 + size > len(data):
        raise _bad(f"the header declares {size} bytes but the file holds {len(data) - 8}: "
                   "truncated or not a file ember.save wrote")
    try:
        header = json.loads(data[8:8 + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(f"the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise _bad("the header is not a JSON object")
    buffer = memoryview(data)[8 + size:]
    metadata = header.pop("__metadata__", None) or {}
    tensors = {name: _tensor_from_entry(name, entry, buffer) for name, entry in header.items()}
    if not isinstance(metadata, dict) or metadata.get("format") != "ember":
        return tensors  # a plain safetensors file: its tensors by name
    try:
        structure = json.loads(metadata["structure"])
    except (KeyError, TypeError, json.JSONDecodeError):
        raise _bad("the structure record is missing or not valid JSON") from None
    return _decode(structure, tensors, 0)


def _tensor_from_entry(name: str, entry, buffer: memoryview) -> Tensor:
    from ember._tensor import _wrap

    if not isinstance(entry, dict):
        raise _bad(f"tensor {name!r}: its header entry is not an object")
    dtype = _CODES.get(entry.get("dtype"))
    if dtype is None:
        raise _bad(f"tensor {name!r}: unsupported dtype {entry.get('dtype')!r}")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if (not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape)
            or not isinstance(offsets, list) or len(offsets) != 2
            or not all(type(o) is int for o in offsets)):
        raise _bad(f"tensor {name!r}: malformed shape or data_offsets")
    begin, end = offsets
    itemsize = dtype.numpy.itemsize
    if not 0 <= begin <= end <= len(buffer):
        raise _bad(f"tensor {name!r}: bytes {begin}..{end} lie outside the file's "
                   f"{len(buffer)} data bytes (truncated or corrupted)")
    if end - begin != math.prod(shape) * itemsize:
        raise _bad(f"tensor {name!r}: shape {shape} needs {math.prod(shape) * itemsize} "
                   f"bytes, the header gives {end - begin}")
    array = np.frombuffer(buffer[begin:end], dtype=dtype.numpy.newbyteorder("<"))
    return _wrap(array.astype(dtype.numpy).reshape(shape), dtype)


def _decode(node, tensors: dict, depth: int):
    if depth > _MAX_DEPTH:
        raise _bad("the structure is nested too deeply")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, dict) and len(node) >= 1:
        kind = next(iter(node))
        body = node[kind]
        if kind == "tensor":
            if body not in tensors:
                raise _bad(f"the structure names a tensor {body!r} the header lacks")
            t = tensors[body]
            if node.get("parameter"):
                from ember.nn import Parameter

                return Parameter(t, requires_grad=bool(node.get("requires_grad")))
            if node.get("requires_grad"):
                t = t.detach().requires_grad_()
            return t
        if len(node) == 1:
            if kind in ("dict", "ordered_dict") and isinstance(body, list):
                out = collections.OrderedDict() if kind == "ordered_dict" else {}
                for pair in body:
                    if not isinstance(pair, list) or len(pair) != 2:
                        raise _bad("a dict entry is not a [key, value] pair")
                    key = _decode(pair[0], tensors, depth + 1)
                    if isinstance(key, (dict, list, Tensor)):
                        raise _bad("a dict key is not a number, string, tuple or None")
                    out[key] = _decode(pair[1], tensors, depth + 1)
                return out
            if kind in ("list", "tuple") and isinstance(body, list):
                items = [_decode(v, tensors, depth + 1) for v in body]
                return tuple(items) if kind == "tuple" else items
            if kind == "int" and isinstance(body, str):
                return int(body)
            if kind == "float" and body in ("nan", "inf", "-inf"):
                return float(body)
            if kind == "dtype" and body in _TORCH_DTYPES:
                return _TORCH_DTYPES[body]
    raise _bad(f"unknown structure record {str(node)[:80]}")


# ----- torch's zip format --------------------------------------------------------------------
def _load_torch(data: bytes):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise _bad(f"a damaged zip archive ({e})") from None
    pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise _bad("the zip archive has no data.pkl: not a file torch.save wrote")
    prefix = pickles[0][:-len("data.pkl")]
    little = True
    if prefix + "byteorder" in names:
        little = archive.read(prefix + "byteorder").strip() != b"big"
    try:
        unpickler = _RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), archive, prefix,
                                         little, set(names))
        return unpickler.load()
    except (_Refused, RuntimeError):
        raise
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, TypeError,
            KeyError, IndexError, AttributeError, struct.error) as e:
        raise _bad(f"a corrupted torch file ({type(e).__name__}: {e})") from None


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False,
                    backward_hooks=None, metadata=None) -> Tensor:
    """torch's ``_rebuild_tensor_v2``: a strided view of a storage, checked to lie inside it."""
    from ember._tensor import _wrap

    array, dtype = storage
    size, stride = tuple(size), tuple(stride)
    if (not all(isinstance(v, int) and v >= 0 for v in size + stride + (storage_offset,))
            or len(size) != len(stride)):
        raise _bad("a tensor record has a malformed size, stride or offset")
    if math.prod(size) and storage_offset + sum(
            (n - 1) * s for n, s in zip(size, stride)) >= array.size:
        raise _bad("a tensor reaches beyond the end of its storage")
    view = np.lib.stride_tricks.as_strided(
        array[storage_offset:], size, tuple(s * array.itemsize for s in stride), writeable=False)
    t = _wrap(np.array(view, dtype=dtype.numpy), dtype)
    if requires_grad:
        t.requires_grad_()
    return t


def _rebuild_parameter(data: Tensor, requires_grad: bool, backward_hooks=None, *args):
    from ember.nn import Parameter

    return Parameter(data, requires_grad=requires_grad)


class _StorageType:
    """Stands for torch's ``FloatStorage`` & co. inside the pickle: only its dtype is used."""

    def __init__(self, dtype: D.dtype) -> None:
        self.dtype = dtype


def _torch_size(*args):
    from ember._tensor import Size

    return Size(*args)


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch", "Size"): _torch_size,
    ("_codecs", "encode"): lambda text, encoding="latin1": str(text).encode("latin1"),
    **{("torch", name): _StorageType(dtype) for name, dtype in _STORAGES.items()},
    **{("torch", name): dtype for name, dtype in _TORCH_DTYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the names in ``_ALLOWED``, each to ember's own safe stand-in."""

    def __init__(self, stream, archive, prefix: str, little: bool, names: set) -> None:
        super().__init__(stream)
        self.archive, self.prefix, self.little, self.names = archive, prefix, little, names
        self.storages: dict[str, tuple[np.ndarray, D.dtype]] = {}

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(
                f"ember.load refuses to run '{module}.{name}' named in the file: only tensors, "
                "dicts, lists, tuples, numbers and strings are loaded") from None

    def persistent_load(self, pid):
        if (not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage"
                or not isinstance(pid[1], _StorageType) or not isinstance(pid[2], str)):
            raise _bad(f"an unknown persistent record {str(pid)[:80]}")
        _, storage_type, key, _location, numel = pid
        if key not in self.storages:
            name = f"{self.prefix}data/{key}"
            if name not in self.names:
                raise _bad(f"storage {key!r} is missing from the archive")
            raw = self.archive.read(name)
            dtype = storage_type.dtype
            numpy_dtype = dtype.numpy.newbyteorder("<" if self.little else ">")
            if not isinstance(numel, int) or len(raw) != numel * numpy_dtype.itemsize:
                raise _bad(f"storage {key!r} holds {len(raw)} bytes, its record declares "
                           f"{numel} elements")
            self.storages[key] = (np.frombuffer(raw, dtype=numpy_dtype), dtype)
        return self.storages[key]
