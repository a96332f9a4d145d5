# SPDX-License-Identifier: MIT
"""The Pythonic layer: stmdev.Store, store.atomic and Tx, single
operations, waiting, the value encoding seen from C's side, and bad input
raising clear exceptions with nothing changed."""

import asyncio
import errno
import struct
import subprocess
import threading

import pytest

import stmdev
from stmdev import codec

VALUES = [None, True, False, 0, 1, -1, "two", "abc", b"abc", "€", "a" * 8, 2 ** 63 - 1, -2 ** 63, 2 ** 64, -2 ** 90,
          0.5, -1e300, "", "text", "ünïcode ✓", b"", b"raw", b"8 bytes!",
          b"\x00STM-looking", [], [1, [2, [3]]], (), (1, "a", b"b"),
          {}, {"a": 1, 2: [3.0, None], (1, 2): {"x": b"y"}}]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_values_round_trip(store, value):
    store.put("k", value)
    got = store.get("k")
    assert got == value and type(got) is type(value)
    assert store.atomic(lambda tx: tx.get("k")) == value


def test_c_view_of_python_values(store):
    # An int is the i64 C writes (stm_put_i64/stm_add_i64), so the kernel's
    # addition works on it; bytes are stored as they are.
    store.put("n", 40)
    assert store.fetch_add("n", 2) == 42      # the value after, as C's
    assert store.get("n") == 42
    store.put("raw", b"from python")
    assert store._raw.read([b"raw"])[0][1] == b"from python"
    store._raw.swap(b"c-i64", struct.pack("<q", -5))   # as C writes it
    assert store.get("c-i64") == -5
    store._raw.swap(b"c-bytes", b"abc\x00\xff")
    assert store.get("c-bytes") == b"abc\x00\xff"


def test_stmctl_reads_python_values(store):
    store.put("num", 7)
    store.put("txt", "hello")
    try:
        out = subprocess.run(["stmctl", "get", store.name, "num", "--i64"], capture_output=True,
                             text=True, timeout=60)
    except FileNotFoundError:
        pytest.skip("no stmctl on PATH")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "7", out.stdout


def test_atomic_basic(store):
    def fn(tx):
        assert tx.get("a") is None
        assert tx.get("a", 5) == 5
        tx.put("a", 1)
        tx["b"] = "two"
        assert tx.get("a") == 1     # reads its own writes
        tx.add("c", 3)
        return "done"
    assert store.atomic(fn) == "done"
    assert store.read(["a", "b", "c"]) == {"a": (store.version("a"), 1),
                                          "b": (store.version("b"), "two"),
                                          "c": (store.version("c"), 3)}
    store.atomic(lambda tx: tx.delete("a"))
    assert store.get("a") is None and store.version("a") == 0


def test_atomic_decorator_runs_now(store):
    @store.atomic
    def result(tx):
        tx.put("x", 1)
        return 99
    assert result == 99 and store.get("x") == 1

    @store.transactional(max_retries=5)
    def incr(tx, by):
        tx.put("x", tx.get("x") + by)
        return tx.get("x")
    assert incr(2) == 3 and incr(3) == 6


def test_exception_rolls_back(store):
    store.put("k", 1)

    def fn(tx):
        tx.put("k", 2)
        raise KeyError("mine")
    with pytest.raises(KeyError):
        store.atomic(fn)
    assert store.get("k") == 1


def test_conflict_reruns(store):
    store.put("k", 0)
    other = stmdev.Store(store.name)
    runs = []

    def fn(tx):
        runs.append(tx.attempt)
        v = tx.get("k")
        if len(runs) == 1:
            other.put("k", 100)     # someone else commits meanwhile
        tx.put("k", v + 1)
    store.atomic(fn)
    assert runs == [1, 2]
    assert store.get("k") == 101
    assert store.last_conflict() == "k"
    other.close()


def test_max_retries_raises_with_key(store):
    store.put("k", 0)

    def fn(tx):
        tx.get("k")
        store.put("k", tx.attempt)  # always conflicts
        tx.put("k", -1)
    with pytest.raises(stmdev.RetriesExceeded) as ei:
        store.atomic(fn, max_retries=3)
    assert ei.value.errno == errno.ELOOP
    assert ei.value.key == b"k"
    assert store.get("k") != -1


def test_retry_blocks_until_change(store):
    store.put("gate", 0)
    seen = []

    def waiter():
        def fn(tx):
            if tx.get("gate") == 0:
                tx.retry()
            return tx.get("gate")
        seen.append(store.atomic(fn))
    t = threading.Thread(target=waiter)
    t.start()
    t.join(0.2)
    store.put("gate", 5)
    t.join(60)
    assert not t.is_alive() and seen == [5]


def test_retry_timeout(store):
    store.put("gate", 0)
    with pytest.raises(stmdev.Timeout):
        store.atomic(lambda tx: tx.get("gate") or tx.retry(), timeout=0.05)


def test_or_else(store):
    store.put("a", 0)
    store.put("b", 1)

    def take(key):
        def f(tx):
            v = tx.get(key)
            if not v:
                tx.retry()
            tx.put(key, v - 1)
            return key
        return f
    assert store.atomic(lambda tx: tx.or_else(take("a"), take("b"))) == "b"
    assert store.get("b") == 0
    # Both retry: the transaction blocks; with a timeout it gives up.
    with pytest.raises(stmdev.Timeout):
        store.atomic(lambda tx: tx.or_else(take("a"), take("b")), timeout=0.05)


def test_nesting_rolls_back_inner_only(store):
    def inner(tx):
        tx.put("inner", 1)
        raise stmdev.RetryTransaction()

    def outer(tx):
        tx.put("outer", 1)
        try:
            store.atomic(inner)
        except stmdev.RetryTransaction:
            pass
        return tx.get("inner")
    assert store.atomic(outer) is None
    assert store.get("outer") == 1 and store.get("inner") is None


def test_hooks(store):
    log = []

    def fn(tx):
        tx.before_commit(lambda: log.append("before"))
        tx.after_commit(lambda: log.append("after"))
        tx.on_abort(lambda: log.append("abort"))
        tx.put("k", 1)
    store.atomic(fn)
    assert log == ["before", "after"]
    log.clear()

    def bad(tx):
        tx.after_commit(lambda: log.append("after"))
        tx.on_abort(lambda: log.append("abort"))
        raise ValueError()
    with pytest.raises(ValueError):
        store.atomic(bad)
    assert log == ["abort"]


def test_family_and_readonly(store):
    store.atomic(lambda tx: tx.put("f", 1), family="py-fam")
    with pytest.raises(stmdev.InvalidArgument):
        store.atomic(lambda tx: None, family="bad family!")
    with pytest.raises(stmdev.ClosedError) as ei:
        store.atomic(lambda tx: tx.put("f", 2), readonly=True)
    assert ei.value.errno == errno.EBADF
    assert store.get("f") == 1


def test_single_ops(store):
    v1 = store.cas("k", 0, "first")
    assert store.version("k") == v1
    with pytest.raises(stmdev.ConflictError) as ei:
        store.cas("k", 0, "again")
    assert ei.value.errno == errno.ESTALE and ei.value.key == b"k"
    assert store.swap("k", "second") == "first"
    assert store.fetch_add("ctr", 5) == 5 and store.fetch_add("ctr") == 6
    store.delete("k")
    assert store.get("k") is None
    assert store.names() == ["ctr"]


def test_wait_sync(store):
    store.put("k", 1)
    with pytest.raises(stmdev.Timeout):
        store.wait_sync(["k"], timeout=0.01)
    seen = [store.version("k")]     # before the change: no lost wake-up
    t = threading.Timer(0.1, lambda: store.put("k", 2))
    t.start()
    assert store.wait_sync(["k"], seen) == "k"
    t.join()


def _have_af_unix():
    import socket
    try:
        a, b = socket.socketpair()
    except OSError:
        return False
    a.close()
    b.close()
    return True


def test_watch_fd_polls(store):
    # What store.wait() is built on, without an event loop.
    import select
    store.put("k", 1)
    store._raw.watch([b"k"])
    p = select.poll()
    p.register(store._raw.fd(), select.POLLIN)
    assert p.poll(0) == []
    store.put("k", 2)
    assert [ev & select.POLLIN for _, ev in p.poll(60000)] == [select.POLLIN]
    store._raw.watch([])


@pytest.mark.skipif(not _have_af_unix(),
                    reason="no AF_UNIX sockets in this kernel (the debug kernel): "
                    "asyncio cannot make its event loop's self-pipe")
def test_async_wait(store):
    store.put("k", 1)

    async def main():
        task = asyncio.ensure_future(store.wait(["k"]))
        await asyncio.sleep(0.05)
        assert not task.done()
        await asyncio.get_running_loop().run_in_executor(None, store.put, "k", 2)
        await asyncio.wait_for(task, 60)
        return task.result()
    asyncio.run(main())


def test_exceptions_are_stmdev_errors():
    for cls in (stmdev.ConflictError, stmdev.BusyError, stmdev.InvalidArgument,
                stmdev.ValueTooBig, stmdev.ClosedError, stmdev.Timeout, stmdev.NotFound):
        assert issubclass(cls, stmdev.Error)


def test_bad_input_changes_nothing(store):
    store.put("k", "keep")
    before = (store.version("k"), store.names())
    too_big = b"x" * (store.limits()["max_value_size"] + 1)
    cases = [
        (lambda: store.put("k", object()), stmdev.UnencodableValue),
        (lambda: store.put("k", {"a": [object()]}), stmdev.UnencodableValue),
        (lambda: store.put("k", too_big), stmdev.ValueTooBig),
        (lambda: store.atomic(lambda tx: tx.put("k", too_big)), stmdev.ValueTooBig),
        (lambda: store.put("", 1), stmdev.InvalidArgument),
        (lambda: store.put("x" * 256, 1), stmdev.InvalidArgument),
        (lambda: store.put(5, 1), stmdev.InvalidArgument),
        (lambda: store.atomic(lambda tx: [tx.put("k", 1), tx.put("", 2)]),
         stmdev.InvalidArgument),
        (lambda: store.atomic(lambda tx: tx.add("k", 1)), stmdev.InvalidArgument),
        (lambda: store.fetch_add("k", 1), stmdev.InvalidArgument),
        (lambda: store.atomic(lambda tx: tx.add("n", 2 ** 64)), OverflowError),
    ]
    for fn, exc in cases:
        with pytest.raises(exc) as ei:
            fn()
        if isinstance(ei.value, stmdev.Error):
            assert ei.value.errno in (errno.EINVAL, errno.E2BIG), ei.value
            assert str(ei.value)
    assert (store.version("k"), store.names()) == before
    assert store.get("k") == "keep"


@pytest.mark.parametrize("bad", ["", "a/b", "a b", "x" * 64, "..\x00", 7])
def test_bad_store_names(bad):
    with pytest.raises(stmdev.InvalidArgument):
        stmdev.Store(bad)


def test_missing_store_without_create(name):
    with pytest.raises(stmdev.NotFound) as ei:
        stmdev.Store(name, create=False)
    assert ei.value.errno == errno.ENOENT


def test_closed_store(store):
    store.put("k", 1)
    store.close()
    store.close()   # idempotent
    for fn in (lambda: store.get("k"), lambda: store.put("k", 2),
               lambda: store.atomic(lambda tx: None), lambda: store.names()):
        with pytest.raises(stmdev.ClosedError) as ei:
            fn()
        assert ei.value.errno == errno.EBADF
    assert "closed" in repr(store)


def test_tx_outside_its_function(store):
    kept = []
    store.atomic(kept.append)
    with pytest.raises(RuntimeError):
        kept[0].get("k")


def test_pickle_is_opt_in(name):
    import fractions
    p = stmdev.Store(name, pickle=True)
    p.put("f", fractions.Fraction(1, 3))
    assert p.get("f") == fractions.Fraction(1, 3)
    plain = stmdev.Store(name)
    with pytest.raises(stmdev.InvalidArgument, match="pickle"):
        plain.get("f")
    with pytest.raises(stmdev.UnencodableValue):
        plain.put("g", fractions.Fraction(1, 2))


def test_malformed_tagged_values_raise(store):
    for raw in (codec.TAG + b"Z", codec.TAG + b"L\xff\xff\xff\xff",
                codec.TAG + b"S\xff", codec.TAG + b"D12345", codec.TAG + b"s123X",
                codec.TAG + b"L" + b"\x01\x00\x00\x00" + b"\x09\x00\x00\x00"):
        store._raw.swap(b"m", raw)
        with pytest.raises(stmdev.InvalidArgument):
            store.get("m")


def test_deeply_nested_is_refused():
    v = []
    for _ in range(200):
        v = [v]
    with pytest.raises(stmdev.UnencodableValue):
        codec.encode(v)
