# SPDX-License-Identifier: MIT
"""The value encoding of stmdev (Documentation/python.rst, "Values").

Self-describing, readable by C and stmctl:

* an int in [-2**63, 2**63) is its 8-byte little-endian two's complement,
  exactly what stm_put_i64()/stm_add_i64() write, so C and stmctl see an
  i64 and an i64 written by C reads back as an int;
* bytes are stored as they are (C's data reads back as bytes), unless they
  are 8 bytes long or start with the tag below: then they are tagged;
* anything else is tagged: TAG (b"\\x00STM") + one type byte + payload:
    N None     T True     F False
    I int outside i64: signed decimal ASCII
    D float: 8-byte little-endian IEEE 754 double
    S str: UTF-8        B bytes: as they are
      (a tagged value is never 8 bytes long: a 3-byte S or B payload is
      written as s or b with one NUL appended)
    L list, U tuple: u32 count, then per item u32 length + its encoding
    M dict: u32 count, then key and value as list items, alternating
    P pickle (only written and read by a store opened with pickle=True)
* an absent key reads as None.

Reading never runs code: pickle is refused unless the store opted in.
Malformed tagged data raises stmdev.InvalidArgument.

encode() and decode() are the C extension's (stmdev._stmdev), for speed;
py_encode() and py_decode() here are their reference: the same bytes, the
same values, the same exceptions (python/tests/test_codec.py checks).
"""

import errno
import struct

from ._errors import InvalidArgument, UnencodableValue

TAG = b"\x00STM"
_I64 = struct.Struct("<q")
_U32 = struct.Struct("<I")
_DBL = struct.Struct("<d")
MAX_DEPTH = 64
_MIN, _MAX = -(1 << 63), (1 << 63) - 1


def _tag(t, payload):
    """TAG + t + payload, never 8 bytes long (8 bytes is always an i64):
    a 3-byte str or bytes payload is written with the type lower-cased and
    one NUL appended."""
    if len(payload) == 3:
        return TAG + t.lower() + payload + b"\0"
    return TAG + t + payload


def py_encode(obj, allow_pickle=False, _depth=0):
    """Encode a Python value to the bytes stored under a key (reference)."""
    t = type(obj)
    if t is int:
        if _MIN <= obj <= _MAX:
            return _I64.pack(obj)
        return TAG + b"I" + str(obj).encode()
    if t is bytes:
        if len(obj) != 8 and not obj.startswith(TAG):
            return obj
        return _tag(b"B", obj)
    if obj is None:
        return TAG + b"N"
    if t is bool:
        return TAG + (b"T" if obj else b"F")
    if t is str:
        return _tag(b"S", obj.encode("utf-8", "surrogatepass"))
    if t is float:
        return TAG + b"D" + _DBL.pack(obj)
    if _depth >= MAX_DEPTH:
        raise UnencodableValue("value nested more than %d deep" % MAX_DEPTH)
    if t is list or t is tuple:
        parts = [TAG, b"L" if t is list else b"U", _U32.pack(len(obj))]
        for x in obj:
            e = py_encode(x, allow_pickle, _depth + 1)
            parts += (_U32.pack(len(e)), e)
        return b"".join(parts)
    if t is dict:
        parts = [TAG, b"M", _U32.pack(len(obj))]
        for k, v in obj.items():
            for x in (k, v):
                e = py_encode(x, allow_pickle, _depth + 1)
                parts += (_U32.pack(len(e)), e)
        return b"".join(parts)
    if t is bytearray or t is memoryview:
        return py_encode(bytes(obj), allow_pickle, _depth)
    if allow_pickle:
        import pickle
        return TAG + b"P" + pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    raise UnencodableValue(
        "cannot store a %s: stmdev stores None, bool, int, float, str, bytes, "
        "list, tuple and dict (open the store with pickle=True for other types)"
        % t.__name__)


def _bad(why):
    return InvalidArgument(errno.EINVAL, "malformed stmdev value: " + why)


def _items(buf, pos, n, allow_pickle, depth):
    out = []
    end = len(buf)
    if n > end:     # every item takes at least 4 bytes: a hostile count
        raise _bad("count %d over the data" % n)
    for _ in range(n):
        if pos + 4 > end:
            raise _bad("item length cut")
        (ln,) = _U32.unpack_from(buf, pos)
        pos += 4
        if ln > end - pos:
            raise _bad("item longer than the data")
        out.append(_decode(bytes(buf[pos:pos + ln]), allow_pickle, depth + 1))
        pos += ln
    if pos != end:
        raise _bad("trailing bytes")
    return out


def py_decode(data, allow_pickle=False):
    """Decode the bytes read from a key (None: absent) to a Python value
    (reference)."""
    if data is None:
        return None
    return _decode(data, allow_pickle, 0)


def _decode(data, allow_pickle, depth):
    n = len(data)
    if n == 8:
        return _I64.unpack(data)[0]
    if n < 5 or not data.startswith(TAG):
        return data
    if depth > MAX_DEPTH:
        raise _bad("nested more than %d deep" % MAX_DEPTH)
    t = data[4:5]
    p = data[5:]
    if t in (b"s", b"b"):
        if len(p) != 4 or p[3:] != b"\0":
            raise _bad("padded str/bytes not 3 bytes + NUL")
        t, p = t.upper(), p[:3]
    if t == b"S":
        try:
            return p.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as e:
            raise _bad("str not UTF-8") from e
    if t == b"N" and not p:
        return None
    if t == b"T" and not p:
        return True
    if t == b"F" and not p:
        return False
    if t == b"B":
        return p
    if t == b"D" and len(p) == 8:
        return _DBL.unpack(p)[0]
    if t == b"I" and 0 < len(p) <= 4096:
        try:
            return int(p.decode("ascii"))
        except ValueError as e:
            raise _bad("int") from e
    if t in (b"L", b"U", b"M") and len(p) >= 4:
        (cnt,) = _U32.unpack_from(p, 0)
        if t == b"M":
            if cnt > len(p):
                raise _bad("count %d over the data" % cnt)
            kv = _items(p, 4, 2 * cnt, allow_pickle, depth)
            d = {}
            for i in range(0, len(kv), 2):
                try:
                    d[kv[i]] = kv[i + 1]
                except TypeError as e:
                    raise _bad("unhashable dict key") from e
            return d
        items = _items(p, 4, cnt, allow_pickle, depth)
        return items if t == b"L" else tuple(items)
    if t == b"P":
        if not allow_pickle:
            raise InvalidArgument(
                errno.EINVAL, "the value is pickled; this store was not opened "
                "with pickle=True, and unpickling runs code")
        import pickle
        return pickle.loads(p)
    raise _bad("unknown type %r" % t)


# The C versions (stmdev._stmdev): what the binding uses.
from ._stmdev import encode, decode  # noqa: E402
