# SPDX-License-Identifier: MIT
"""What Kamaelia's own Axon.STM programs (kamaelia_run.py runs the real
ones when a checkout is given) rely on, as our own tests: each behaviour
their runs against stmdev.axon exercised, with Axon's outcome."""

import threading

import pytest

import stmdev.axon
from stmdev.axon import BusyRetry, ConcurrentUpdate, Store


def test_usevar_values_are_private_copies():
    # Axon/STM.py __main__ block 3: a dict value mutated through one Value
    # is not seen by a second usevar, whose commit wins; the first's fails.
    S = Store()
    D = S.usevar("accounts")
    D.set({"account_one": 50, "account_two": 100, "myaccount": 0})
    D.commit()
    X = D.value
    X["myaccount"] = X["account_one"] + X["account_two"]
    X["account_one"] = 0
    E = S.usevar("accounts")
    Y = E.value
    assert Y == {"account_one": 50, "account_two": 100, "myaccount": 0}
    Y["myaccount"] = Y["myaccount"] - 100
    Y["account_one"] = 100
    E.set(Y)
    E.commit()
    X["account_two"] = 0
    D.set(X)
    with pytest.raises(ConcurrentUpdate):
        D.commit()
    assert S.usevar("accounts").value == {"account_one": 100, "account_two": 100,
                                          "myaccount": -100}
    assert D.value["myaccount"] == 150      # the loser keeps its own copy


def test_stale_single_value_and_its_repr():
    # Block 4: greeting commits, par overwrites, greeting's second commit
    # fails; repr(greeting) still shows greeting's own value.
    S = Store()
    greeting = S.usevar("hello")
    assert repr(greeting.value) == "None"
    greeting.set("Hello World")
    greeting.commit()
    v = greeting.version
    assert repr(greeting) == "Value(%d, 'Hello World')" % v
    par = S.usevar("hello")
    par.set("Woo")
    par.commit()
    assert par.version > v
    greeting.set("Woo")
    with pytest.raises(ConcurrentUpdate):
        greeting.commit()
    assert greeting.version == v
    assert repr(greeting) == "Value(%d, 'Woo')" % v
    assert S.usevar("hello").version == par.version


def test_collection_recommit_by_attribute_assignment():
    # The philosophers: X[fork].value = name (no set()), X.commit(), then
    # later X[fork].value = None and X.commit() again on the same X.
    S = Store()
    X = S.using("fork.1", "fork.2")
    assert [X[f].value for f in X] == [None, None]
    for f in ("fork.1", "fork.2"):
        X[f].value = 7
    X.commit()
    Y = S.using("fork.1", "fork.2")
    assert Y["fork.1"].value == 7 and Y["fork.2"].value == 7
    for f in ("fork.1", "fork.2"):
        X[f].value = None
    X.commit()
    # Y read the forks taken: its commit now conflicts, as Axon's would.
    Y["fork.1"].value = 8
    with pytest.raises(ConcurrentUpdate):
        Y.commit()
    assert S.export() == {"fork.1": None, "fork.2": None}


def test_overlapping_collections_second_commit_fails_whole():
    # Two philosophers sharing fork.2: the second commit raises and
    # commits none of its forks (all or nothing).
    S = Store()
    A = S.using("fork.1", "fork.2")
    B = S.using("fork.2", "fork.3")
    for f in A:
        A[f].value = "A"
    for f in B:
        B[f].value = "B"
    A.commit()
    with pytest.raises(ConcurrentUpdate):
        B.commit()
    assert S.export() == {"fork.1": "A", "fork.2": "A", "fork.3": None}


def test_module_names_as_axon_stm():
    # Axon.Philosophers.py says Axon.STM.ConcurrentUpdate and
    # Axon.STM.BusyRetry: the module has Axon.STM's five names.
    for n in ("Store", "Value", "Collection", "ConcurrentUpdate", "BusyRetry"):
        assert hasattr(stmdev.axon, n)
    assert issubclass(ConcurrentUpdate, Exception)
    assert issubclass(BusyRetry, Exception)


def test_large_int_and_str_names_as_values():
    # Philosophers.py names its last philosopher id(self); Axon's
    # components are named by strings.
    S = Store()
    X = S.using("f")
    X["f"].value = id(S)
    X.commit()
    assert S.usevar("f").value == id(S)
    X["f"].value = "__main__.Philosopher_13"
    X.commit()
    assert S.usevar("f").value == "__main__.Philosopher_13"


def test_threads_of_one_private_store_see_each_other():
    # Philosophers.py: threads share one Store(); a commit in one thread
    # is what another thread reads next.
    S = Store()
    V = S.usevar("x")
    V.set(1)
    V.commit()
    seen = []
    t = threading.Thread(target=lambda: seen.append(S.usevar("x").value))
    t.start()
    t.join()
    assert seen == [1]
