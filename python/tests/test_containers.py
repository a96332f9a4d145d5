# SPDX-License-Identifier: MIT
"""The containers of lib/containers.c as Python classes inside
store.atomic: each operation, blocking ones as blocking retries, or_else,
bad input, and a bounded queue between processes (every item exactly
once)."""

import multiprocessing as mp
import threading

import pytest

import stmdev
from stmdev import Array, Map, MVar, Queue, Semaphore, Set


def test_queue_fifo_and_size(store):
    q = Queue("q")
    for i in range(5):
        store.atomic(lambda tx: q.put(tx, {"n": i}))
    assert store.atomic(q.size) == 5
    assert store.atomic(q.peek) == {"n": 0}
    got = [store.atomic(q.take) for _ in range(5)]
    assert got == [{"n": i} for i in range(5)]
    assert store.atomic(lambda tx: q.try_take(tx, "empty")) == "empty"
    assert store.atomic(lambda tx: q.try_peek(tx)) is None


def test_bounded_queue_try_put_and_capacity(store):
    q = Queue("bq", capacity=2)
    assert store.atomic(lambda tx: q.try_put(tx, 1))
    assert store.atomic(lambda tx: q.try_put(tx, 2))
    assert store.atomic(lambda tx: q.try_put(tx, 3)) is False
    assert store.atomic(q.size) == 2
    # Another capacity for the same queue: refused.
    with pytest.raises(stmdev.Exists):
        store.atomic(lambda tx: Queue("bq", capacity=5).put(tx, 9))
    assert store.atomic(q.size) == 2


def test_queue_take_blocks_until_put(store, name):
    q = Queue("wq")
    out = []
    t = threading.Thread(target=lambda: out.append(stmdev.Store(name).atomic(q.take)))
    t.start()
    # No timing: the taker either sleeps in its retry or finds the item.
    store.atomic(lambda tx: q.put(tx, "hello"))
    t.join()
    assert out == ["hello"]
    assert store.atomic(q.size) == 0


def test_take_timeout_raises_and_changes_nothing(store):
    q = Queue("tq")
    store.put("other", 1)
    with pytest.raises(stmdev.Timeout):
        store.atomic(lambda tx: (tx.put("other", 2), q.take(tx)), timeout=0.2)
    assert store.get("other") == 1


def test_or_else_takes_from_the_first_queue_with_an_item(store):
    a, b = Queue("qa"), Queue("qb")
    store.atomic(lambda tx: b.put(tx, "from b"))

    def take_either(tx):
        return tx.or_else(a.take, b.take)
    assert store.atomic(take_either) == "from b"
    store.atomic(lambda tx: a.put(tx, "from a"))
    store.atomic(lambda tx: b.put(tx, "b again"))
    assert store.atomic(take_either) == "from a"
    assert store.atomic(b.size) == 1


def test_mvar(store):
    mv = MVar("box")
    assert store.atomic(lambda tx: mv.try_take(tx, "none")) == "none"
    store.atomic(lambda tx: mv.put(tx, [1, 2]))
    assert store.atomic(lambda tx: mv.try_put(tx, 3)) is False
    assert store.atomic(mv.read) == [1, 2]
    assert store.atomic(mv.take) == [1, 2]
    assert store.atomic(lambda tx: mv.try_take(tx)) is None
    assert store.atomic(lambda tx: mv.try_put(tx, None))
    assert store.atomic(mv.take) is None


def test_semaphore(store, name):
    sem = Semaphore("sem")
    assert store.atomic(lambda tx: sem.try_acquire(tx)) is False
    store.atomic(lambda tx: sem.release(tx, 2))
    assert store.atomic(lambda tx: sem.try_acquire(tx, 3)) is False
    store.atomic(lambda tx: sem.acquire(tx, 2))
    assert store.atomic(lambda tx: sem.try_acquire(tx)) is False
    got = []
    t = threading.Thread(target=lambda: got.append(
        stmdev.Store(name).atomic(lambda tx: sem.acquire(tx))))
    t.start()
    store.atomic(lambda tx: sem.release(tx))
    t.join()
    assert got == [None]
    for bad in (0, -1, 1.5, "1"):
        with pytest.raises(stmdev.InvalidArgument):
            store.atomic(lambda tx: sem.release(tx, bad))


def test_map(store):
    m = Map("m")
    assert store.atomic(lambda tx: m.put(tx, "a", 1)) is True
    assert store.atomic(lambda tx: m.put(tx, "a", 2)) is False
    assert store.atomic(lambda tx: m.put(tx, b"\xffbin", "v")) is True
    assert store.atomic(lambda tx: m.get(tx, "a")) == 2
    assert store.atomic(lambda tx: m.get(tx, "zz", "dflt")) == "dflt"
    assert store.atomic(lambda tx: m.contains(tx, "a"))
    assert not store.atomic(lambda tx: m.contains(tx, "zz"))
    assert store.atomic(m.size) == 2
    assert sorted(store.atomic(m.items), key=repr) == sorted(
        [("a", 2), (b"\xffbin", "v")], key=repr)
    assert store.atomic(lambda tx: m.delete(tx, "a")) is True
    assert store.atomic(lambda tx: m.delete(tx, "a")) is False
    assert store.atomic(m.keys) == [b"\xffbin"]


def test_set(store):
    s = Set("s")
    assert store.atomic(lambda tx: s.add(tx, "x")) is True
    assert store.atomic(lambda tx: s.add(tx, "x")) is False
    store.atomic(lambda tx: s.add(tx, "y"))
    assert store.atomic(s.size) == 2
    assert sorted(store.atomic(s.members)) == ["x", "y"]
    assert store.atomic(lambda tx: s.remove(tx, "x")) is True
    assert store.atomic(lambda tx: s.remove(tx, "x")) is False
    assert store.atomic(lambda tx: s.contains(tx, "y"))


def test_array(store):
    a = Array("arr", 4)
    store.atomic(a.init)
    assert store.atomic(a.size) == 4
    assert store.atomic(lambda tx: a.get(tx, 2)) is None
    store.atomic(lambda tx: a.set(tx, 2, "two"))
    assert store.atomic(lambda tx: a.get(tx, 2)) == "two"
    with pytest.raises(stmdev.OutOfRange):
        store.atomic(lambda tx: a.set(tx, 4, "x"))
    with pytest.raises(IndexError):
        store.atomic(lambda tx: a.get(tx, -1))
    with pytest.raises(stmdev.Exists):
        store.atomic(Array("arr", 5).init)
    assert store.atomic(a.size) == 4


def test_a_failed_transaction_undoes_container_ops(store):
    q, m = Queue("uq"), Map("um")
    store.atomic(lambda tx: q.put(tx, 1))

    def boom(tx):
        q.take(tx)
        m.put(tx, "k", "v")
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        store.atomic(boom)
    assert store.atomic(q.size) == 1
    assert store.atomic(m.size) == 0


@pytest.mark.parametrize("make", [
    lambda: Queue(""), lambda: Queue(b"bytes"), lambda: Queue("x" * 300),
    lambda: Queue("a\0b"), lambda: Queue("q", capacity=-1),
    lambda: Queue("q", capacity="3"), lambda: MVar(5), lambda: Map(None),
    lambda: Array("a", 0), lambda: Array("a", -3),
])
def test_bad_container_arguments(make):
    with pytest.raises(stmdev.InvalidArgument):
        make()


def test_bad_keys_and_values_change_nothing(store):
    m, q = Map("bm"), Queue("bqq")
    store.atomic(lambda tx: m.put(tx, "a", 1))
    before = {k: store.version(k) for k in store.names()}
    for f in (lambda tx: m.put(tx, "", 1), lambda tx: m.put(tx, 3, 1),
              lambda tx: m.put(tx, "b", object()),
              lambda tx: q.put(tx, object()),
              lambda tx: m.put(tx, "b", "x" * (store.limits()["max_value_size"] + 1))):
        with pytest.raises(stmdev.Error):
            store.atomic(lambda tx: (m.put(tx, "c", 3), f(tx)))
    assert {k: store.version(k) for k in store.names()} == before


def test_container_outside_its_transaction(store):
    kept = []
    store.atomic(lambda tx: kept.append(tx))
    with pytest.raises(RuntimeError):
        Queue("q").put(kept[0], 1)


# ---- a bounded queue between processes ---------------------------------------

ITEMS = 200
PRODUCERS = 2
CONSUMERS = 2
CAP = 4
STOP = "stop"


def _producer(name, pid, ready):
    s = stmdev.Store(name)
    q = Queue("work", capacity=CAP)
    ready.wait()
    for i in range(ITEMS):
        s.atomic(lambda tx: q.put(tx, [pid, i]))
    s.close()


def _consumer(name, ready):
    s = stmdev.Store(name)
    q, seen = Queue("work", capacity=CAP), Map("seen")
    ready.wait()
    while True:
        # Take one item and record it in one transaction: a rerun cannot
        # record an item twice nor lose one.
        def step(tx):
            item = q.take(tx)
            if item == STOP:
                return STOP
            if not seen.put(tx, "%d.%d" % tuple(item), 1):
                tx.add("dup", 1)
            tx.add("consumed", 1)
            return item
        if s.atomic(step) == STOP:
            break
    s.close()


def test_processes_bounded_queue_exactly_once(store, name):
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    prods = [ctx.Process(target=_producer, args=(name, p, ready)) for p in range(PRODUCERS)]
    cons = [ctx.Process(target=_consumer, args=(name, ready)) for _ in range(CONSUMERS)]
    for p in prods + cons:
        p.start()
    ready.set()
    for p in prods:
        p.join()
        assert p.exitcode == 0
    q = Queue("work", capacity=CAP)
    for _ in cons:
        store.atomic(lambda tx: q.put(tx, STOP))
    for c in cons:
        c.join()
        assert c.exitcode == 0
    seen = Map("seen")
    keys = set(store.atomic(seen.keys))
    assert keys == {"%d.%d" % (p, i) for p in range(PRODUCERS) for i in range(ITEMS)}
    assert store.get("dup", 0) == 0
    assert store.get("consumed") == PRODUCERS * ITEMS
    assert store.atomic(q.size) == 0
