# SPDX-License-Identifier: MIT
"""stmdev.axon against Axon.STM's documented behaviour: its three doc
examples with Axon's outcomes, and each class's observable behaviour."""

import threading

import pytest

import stmdev
from stmdev.axon import (BusyRetry, Collection, ConcurrentUpdate, Store,
                         Value)


def dump_lines(capsys, S):
    S.dump()
    return capsys.readouterr().out.splitlines()


def test_doc_single_value(capsys):
    # "Accessing/Updating a single shared value in the store"
    S = Store()
    greeting = S.usevar("hello")
    print(repr(greeting.value))
    assert capsys.readouterr().out == "None\n"
    greeting.set("Hello World")
    greeting.commit()
    assert S.usevar("hello").value == "Hello World"
    assert S.usevar("hello").version == greeting.version


def test_doc_collection(capsys):
    # "Accessing/Updating a collection of shared values in the store"
    S = Store()
    D = S.using("account_one", "account_two", "myaccount")
    D["account_one"].set(50)
    D["account_two"].set(100)
    D.commit()
    out = dump_lines(capsys, S)
    assert out[0] == "DEBUG: Store dump ------------------------------"
    assert out[-1] == ""
    body = sorted(out[1:-1])
    v1, v2, v3 = (D[k].version for k in ("account_one", "account_two", "myaccount"))
    # Axon: print '     ', k, ':', self.store[k]
    assert body == ["      account_one : Value(%d, 50)" % v1,
                    "      account_two : Value(%d, 100)" % v2,
                    "      myaccount : Value(%d, None)" % v3]

    D = S.using("account_one", "account_two", "myaccount")
    D["myaccount"].set(D["account_one"].value + D["account_two"].value)
    D["account_one"].set(0)
    D["account_two"].set(0)
    D.commit()
    assert S.export() == {"account_one": 0, "account_two": 0, "myaccount": 150}


def test_doc_what_can_go_wrong():
    # "What can (possibly) go wrong?": the third commit fails with
    # ConcurrentUpdate, and leaves the store as the second left it.
    S = Store()
    D = S.using("account_one", "account_two", "myaccount")
    D["myaccount"].set(0)
    D["account_one"].set(50)
    D["account_two"].set(100)
    D.commit()  # 1

    D = S.using("account_one", "account_two", "myaccount")
    D["myaccount"].set(D["account_one"].value + D["account_two"].value)
    E = S.using("account_one", "myaccount")
    E["myaccount"].set(E["myaccount"].value - 100)
    E["account_one"].set(100)
    E.commit()  # 2
    D["account_one"].set(0)
    D["account_two"].set(0)
    with pytest.raises(ConcurrentUpdate) as ei:
        D.commit()  # 3 - should fail
    assert ei.value.key in (b"account_one", b"myaccount")
    assert S.export() == {"account_one": 100, "account_two": 100, "myaccount": -100}
    # Redo the transaction, as the docs say: it then succeeds.
    D = S.using("account_one", "account_two", "myaccount")
    D["myaccount"].set(D["account_one"].value + D["account_two"].value)
    D["account_one"].set(0)
    D["account_two"].set(0)
    D.commit()
    assert S.export() == {"account_one": 0, "account_two": 0, "myaccount": 200}


def test_usevar_creates_absent_key_holding_none():
    S = Store()
    assert S.names() == []
    v = S.usevar("k")
    assert v.value is None and v.version > 0
    assert S.names() == ["k"]
    assert S.usevar("k").version == v.version   # created once


def test_value_repr_and_attributes():
    S = Store()
    v = S.usevar("x")
    assert repr(v) == "Value(%d, None)" % v.version
    v.set([1, "a"])
    assert repr(v) == "Value(%d, [1, 'a'])" % v.version
    assert v.store is S and v.key == "x"
    v.value = 7     # assignable, as in Axon
    v.commit()
    assert S.usevar("x").value == 7


def test_value_commit_repeats():
    S = Store()
    v = S.usevar("n")
    for i in range(5):
        v.set(i)
        old = v.version
        v.commit()
        assert v.version > old
    assert S.usevar("n").value == 4


def test_stale_value_conflicts_and_clone():
    S = Store()
    a = S.usevar("k")
    b = S.usevar("k")
    c = a.clone()
    assert c.version == a.version and c is not a
    a.set(1)
    a.commit()
    b.set(2)
    with pytest.raises(ConcurrentUpdate):
        b.commit()
    c.set(3)
    with pytest.raises(ConcurrentUpdate):
        c.commit()
    assert S.usevar("k").value == 1
    assert isinstance(ConcurrentUpdate(), Exception)
    assert isinstance(ConcurrentUpdate(), stmdev.ConflictError)
    assert isinstance(BusyRetry(), stmdev.BusyError)


def test_store_set_and_set_values():
    S = Store()
    D = S.using("a", "b")
    D["a"].set(1)
    D["b"].set("two")
    S.set_values(D)
    assert isinstance(D, Collection) and isinstance(D, dict)
    v = S.usevar("a")
    v.set(10)
    S.set("a", v)
    assert S.export(["a", "b"]) == {"a": 10, "b": "two"}
    # A collection is committed all or nothing.
    D2 = S.using("a", "b")
    D2["a"].set(11)
    D2["b"].set(12)
    w = S.usevar("b")
    w.set("changed")
    w.commit()
    with pytest.raises(ConcurrentUpdate):
        D2.commit()
    assert S.export() == {"a": 10, "b": "changed"}


def test_collection_set_store():
    S = Store()
    T = Store()
    D = S.using("k")
    D.set_store(T)
    assert D.store is T


def test_named_store_shared_and_snapshot(name):
    S = Store(name)
    T = Store(name)
    v = S.usevar("greeting")
    v.set("hi")
    v.commit()
    assert T.usevar("greeting").value == "hi"
    snap = T.snapshot()
    assert list(snap) == ["greeting"] and snap["greeting"].value == "hi"
    assert T.names() == ["greeting"]


def test_threads_share_a_store():
    # Axon's own use: threads updating one Store, redoing on ConcurrentUpdate
    # and retrying the commit on BusyRetry.
    S = Store()
    S.usevar("count")
    N, M = 4, 200
    busy = [0]

    def worker():
        for _ in range(M):
            while True:
                try:
                    v = S.usevar("count")
                    v.set((v.value or 0) + 1)
                    while True:
                        try:
                            v.commit()
                            break
                        except BusyRetry:
                            busy[0] += 1
                    break
                except ConcurrentUpdate:
                    continue
                except BusyRetry:
                    busy[0] += 1
                    continue

    ts = [threading.Thread(target=worker) for _ in range(N)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert S.usevar("count").value == N * M


def test_private_store_is_private():
    S = Store()
    T = Store()
    S.usevar("only-in-s")
    assert T.names() == []
    assert S.stmdev_store.name != T.stmdev_store.name


def test_philosophers_threads_kamaelia_style():
    # The shape of Kamaelia's STM philosophers example: threads sharing one
    # Store, forks taken with using() + .value assignment + commit(),
    # retried on ConcurrentUpdate and BusyRetry; eating checked exclusive.
    S = Store()
    N, MEALS = 5, 10
    forks = ["fork.%d" % i for i in range(1, N + 1)]
    errors = []

    def commit(X):
        while True:
            try:
                X.commit()
                return
            except BusyRetry:
                pass

    def philosopher(i):
        mine = [forks[i], forks[(i + 1) % N]]
        for _ in range(MEALS):
            while True:
                try:
                    X = S.using(*mine)
                    if all(X[f].value is None for f in mine):
                        for f in mine:
                            X[f].value = i
                        X.commit()
                        break
                except (ConcurrentUpdate, BusyRetry):
                    pass
            held = S.using(*mine)
            if [held[f].value for f in mine] != [i, i]:
                errors.append((i, [held[f].value for f in mine]))
            for f in mine:
                X[f].value = None
            commit(X)   # X's versions are those of our own commit

    ts = [threading.Thread(target=philosopher, args=(i,)) for i in range(N)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert S.export(forks) == {f: None for f in forks}
