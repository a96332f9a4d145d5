# SPDX-License-Identifier: MIT
"""The C value encoding (stmdev._stmdev.encode/decode, what the binding
uses) against codec.py's reference (py_encode/py_decode): the same bytes
for every type, the same values back, the same exceptions (class and
message) for hostile or truncated data, and no crash on thousands of
random byte strings.  Needs no /dev/stm."""

import fractions
import math
import random

import pytest

import stmdev
from stmdev import codec, _stmdev

TAG = codec.TAG

SAMPLES = [
    None, True, False, 0, 1, -1, 255, 2**63 - 1, -2**63, 2**63, -2**63 - 1, 2**200,
    -(3**150), 0.0, -0.0, 1.5, -2.25e300, float("inf"), float("-inf"), 5e-324,
    "", "a", "ab", "abc", "abcd", "12345678", "h\u00e9llo", "\U0001f600", "\ud800x",
    "x" * 1000, b"", b"a", b"abc", b"abcd", b"12345678", b"123456789", TAG, TAG + b"S",
    TAG + b"abc", b"\x00STN", b"\x00" * 8, bytes(range(256)),
    [], (), {}, [1, "a", None], (1, (2, (3,))), {"a": 1, 2: "b", (1, 2): [3]},
    {None: None, True: False, 1.5: b"abc"}, [b"abc", "abc", b"12345678", 2**70],
    bytearray(b"xyz"), bytearray(b"12345678"), memoryview(b"mv"),
    [[[[["deep"]]]]], {"k": {"k": {"k": []}}},
]


def same(a, b):
    """Equal values of the same types, NaN included (repr compares them)."""
    return type(a) is type(b) and repr(a) == repr(b)


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except Exception as e:          # noqa: BLE001 - compared below
        return ("raise", type(e), str(e))


def same_outcome(a, b):
    if a[0] != b[0]:
        return False
    if a[0] == "ok":
        return same(a[1], b[1])
    return a[1:] == b[1:]


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_encode_identical_bytes_and_round_trip(value):
    for pk in (False, True):
        c = codec.encode(value, pk)
        assert type(c) is bytes
        assert c == codec.py_encode(value, pk)
        back = codec.decode(c, pk)
        assert same(back, codec.py_decode(c, pk))
    if isinstance(value, (bytearray, memoryview)):
        assert codec.decode(codec.encode(value)) == bytes(value)
    elif not (isinstance(value, float) and math.isnan(value)):
        assert same(codec.decode(codec.encode(value)), value)


def test_nan_and_absent():
    e = codec.encode(float("nan"))
    assert e == codec.py_encode(float("nan"))
    assert math.isnan(codec.decode(e))
    assert codec.decode(None) is None and codec.py_decode(None) is None


def test_i64_is_what_c_writes():
    assert codec.encode(-2) == (-2).to_bytes(8, "little", signed=True)
    assert codec.decode((2**63 - 1).to_bytes(8, "little", signed=True)) == 2**63 - 1


def test_nesting_limit_is_the_reference_one():
    for depth in (62, 63, 64, 65, 200):
        v = 0
        for _ in range(depth):
            v = [v]
        assert same_outcome(outcome(codec.encode, v), outcome(codec.py_encode, v))
    # Decoding: a nesting the encoder refuses is refused the same way.
    data = codec.py_encode(0)
    for _ in range(70):
        data = TAG + b"L" + (1).to_bytes(4, "little") + len(data).to_bytes(4, "little") + data
        assert same_outcome(outcome(codec.decode, data), outcome(codec.py_decode, data))
    with pytest.raises(stmdev.InvalidArgument, match="nested"):
        codec.decode(data)


def test_unencodable_and_pickle_opt_in():
    f = fractions.Fraction(1, 3)
    for v in (f, {1, 2}, object(), [1, f], True.__class__, 3 + 4j):
        a, b = outcome(codec.encode, v), outcome(codec.py_encode, v)
        assert a[0] == "raise" and a[1] is stmdev.UnencodableValue
        assert a == b
    p = codec.encode(f, True)
    assert p == codec.py_encode(f, True) and p.startswith(TAG + b"P")
    assert codec.decode(p, True) == f
    a, b = outcome(codec.decode, p), outcome(codec.py_decode, p)
    assert a == b and a[1] is stmdev.InvalidArgument and "pickle" in a[2]
    # A subclass of a stored type is not that type: pickled or refused, as codec.py.
    class MyInt(int):
        pass
    assert same_outcome(outcome(codec.encode, MyInt(3)), outcome(codec.py_encode, MyInt(3)))


def test_hostile_encodings_raise_cleanly():
    hostile = [
        TAG + b"Z", TAG + b"L\xff\xff\xff\xff", TAG + b"S\xff", TAG + b"D12345",
        TAG + b"s123X", TAG + b"s12", TAG + b"b1234\x00",
        TAG + b"L" + b"\x01\x00\x00\x00" + b"\x09\x00\x00\x00",
        TAG + b"L\x00\x00\x00\x00junk", TAG + b"M\x01\x00\x00\x00",
        TAG + b"M\xff\xff\xff\x7f" + b"\x00" * 16, TAG + b"I", TAG + b"I12x", TAG + b"I" + b"9" * 4097,
        TAG + b"I\xc3\xa9", TAG + b"I 1_0 ", TAG + b"N!", TAG + b"Tx", TAG + b"L\x01\x00",
        TAG + b"M" + (1).to_bytes(4, "little") + (5).to_bytes(4, "little") + TAG + b"L"
        + (5).to_bytes(4, "little") + TAG + b"N",
        # an unhashable key: a list
        TAG + b"M" + (1).to_bytes(4, "little") + (9).to_bytes(4, "little")
        + codec.py_encode([]) + (5).to_bytes(4, "little") + TAG + b"N",
        TAG + b"P\x80\x04garbage",
    ]
    for data in hostile:
        a, b = outcome(codec.decode, data), outcome(codec.py_decode, data)
        assert same_outcome(a, b), (data, a, b)
        assert a[0] == "ok" or issubclass(a[1], stmdev.InvalidArgument), (data, a)


def test_every_truncation_and_byte_flip():
    for v in SAMPLES + [codec.py_decode(codec.py_encode(SAMPLES))]:
        data = codec.py_encode(v)
        for n in range(len(data) + 1):
            cut = data[:n]
            assert same_outcome(outcome(codec.decode, cut), outcome(codec.py_decode, cut)), cut
        if len(data) > 600:
            continue
        for i in range(len(data)):
            for x in (0, 0xff, data[i] ^ 1):
                m = data[:i] + bytes([x]) + data[i + 1:]
                assert same_outcome(outcome(codec.decode, m), outcome(codec.py_decode, m)), m


def test_fuzz_decoder():
    rnd = random.Random(13)
    types = b"NTFIDSsBbLUMPZ"
    good = [codec.py_encode(v) for v in SAMPLES]
    for i in range(5000):
        r = rnd.random()
        if r < 0.4:
            data = TAG + bytes([rnd.choice(types)]) + rnd.randbytes(rnd.randrange(0, 40))
        elif r < 0.8:
            data = bytearray(rnd.choice(good))
            for _ in range(rnd.randrange(1, 4)):
                if data:
                    data[rnd.randrange(len(data))] = rnd.randrange(256)
            data = bytes(data[:rnd.randrange(len(data) + 1)] if rnd.random() < 0.3 else data)
        else:
            data = rnd.randbytes(rnd.randrange(0, 64))
        a, b = outcome(codec.decode, data), outcome(codec.py_decode, data)
        assert same_outcome(a, b), (i, data, a, b)
        if a[0] == "raise":
            assert issubclass(a[1], stmdev.InvalidArgument), (data, a)


def test_decode_takes_buffers():
    assert codec.decode(bytearray(codec.encode("abc"))) == "abc"
    assert codec.decode(memoryview(codec.encode([1, 2]))) == [1, 2]
    with pytest.raises(TypeError):
        codec.decode(5)
    assert _stmdev.encode is codec.encode
