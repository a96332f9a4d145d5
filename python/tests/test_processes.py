# SPDX-License-Identifier: MIT
"""Across processes (multiprocessing): a bank with auditors, written once
with stmdev.axon and once with store.atomic, and the dining philosophers
with mutual exclusion checked."""

import multiprocessing as mp
import random

import stmdev
from stmdev.axon import BusyRetry, ConcurrentUpdate, Store

ACCOUNTS = 6
START = 1000
TRANSFERS = 150
WORKERS = 3
AUDITORS = 2


def _axon_worker(name, seed, q):
    S = Store(name)
    rnd = random.Random(seed)
    conflicts = 0
    for _ in range(TRANSFERS):
        a, b = rnd.sample(range(ACCOUNTS), 2)
        amount = rnd.randint(1, 50)
        while True:
            try:
                D = S.using("acct%d" % a, "acct%d" % b)
                if D["acct%d" % a].value >= amount:
                    D["acct%d" % a].set(D["acct%d" % a].value - amount)
                    D["acct%d" % b].set(D["acct%d" % b].value + amount)
                while True:
                    try:
                        D.commit()
                        break
                    except BusyRetry:
                        pass
                break
            except ConcurrentUpdate:
                conflicts += 1
            except BusyRetry:
                pass
    q.put(("worker", conflicts))


def _axon_auditor(name, stop, q):
    S = Store(name)
    keys = ["acct%d" % i for i in range(ACCOUNTS)]
    audits = bad = 0
    while not stop.is_set() or audits < 5:
        try:
            D = S.using(*keys)
        except BusyRetry:
            continue
        total = sum(D[k].value for k in keys)
        audits += 1
        if total != ACCOUNTS * START or min(D[k].value for k in keys) < 0:
            bad += 1
    q.put(("auditor", audits, bad))


def _atomic_worker(name, seed, q):
    s = stmdev.Store(name)
    rnd = random.Random(seed)
    for _ in range(TRANSFERS):
        a, b = rnd.sample(range(ACCOUNTS), 2)
        amount = rnd.randint(1, 50)

        def move(tx):
            have = tx.get("acct%d" % a)
            if have < amount:
                return False
            tx.put("acct%d" % a, have - amount)
            tx.add("acct%d" % b, amount)
            return True
        s.atomic(move)
    q.put(("worker", 0))


def _atomic_auditor(name, stop, q):
    s = stmdev.Store(name)
    keys = ["acct%d" % i for i in range(ACCOUNTS)]
    audits = bad = 0
    while not stop.is_set() or audits < 5:
        vals = s.atomic(lambda tx: [tx.get(k) for k in keys], readonly=True)
        audits += 1
        if sum(vals) != ACCOUNTS * START or min(vals) < 0:
            bad += 1
    q.put(("auditor", audits, bad))


def _run_bank(name, worker, auditor):
    s = stmdev.Store(name)
    for i in range(ACCOUNTS):
        s.put("acct%d" % i, START)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    stop = ctx.Event()
    auds = [ctx.Process(target=auditor, args=(name, stop, q)) for _ in range(AUDITORS)]
    wks = [ctx.Process(target=worker, args=(name, i, q)) for i in range(WORKERS)]
    for p in auds + wks:
        p.start()
    for p in wks:
        p.join(600)
    stop.set()
    for p in auds:
        p.join(600)
    results = [q.get(timeout=60) for _ in auds + wks]
    assert all(p.exitcode == 0 for p in auds + wks), [p.exitcode for p in auds + wks]
    audits = [r for r in results if r[0] == "auditor"]
    assert len(audits) == AUDITORS
    assert all(bad == 0 and n >= 5 for _, n, bad in audits), audits
    final = [s.get("acct%d" % i) for i in range(ACCOUNTS)]
    assert sum(final) == ACCOUNTS * START and min(final) >= 0, final
    s.close()


def test_bank_axon(name):
    _run_bank(name, _axon_worker, _axon_auditor)


def test_bank_atomic(name):
    _run_bank(name, _atomic_worker, _atomic_auditor)


PHILOSOPHERS = 5
MEALS = 20


def _philosopher(name, i, q):
    s = stmdev.Store(name)
    left, right = "fork%d" % i, "fork%d" % ((i + 1) % PHILOSOPHERS)
    me = i + 1
    violations = 0
    for _ in range(MEALS):
        def take(tx):
            if tx.get(left) or tx.get(right):
                tx.retry()              # blocks until a fork is put down
            tx.put(left, me)
            tx.put(right, me)
        s.atomic(take)
        # Eating: both forks are mine and no neighbour is eating.
        s.fetch_add("eating%d" % i, 1)
        got = s.read([left, right, "eating%d" % ((i + 1) % PHILOSOPHERS),
                      "eating%d" % ((i - 1) % PHILOSOPHERS)])
        if got[left][1] != me or got[right][1] != me:
            violations += 1
        if got["eating%d" % ((i + 1) % PHILOSOPHERS)][1] or \
           got["eating%d" % ((i - 1) % PHILOSOPHERS)][1]:
            violations += 1
        s.fetch_add("eating%d" % i, -1)
        s.fetch_add("meals%d" % i, 1)

        def put_down(tx):
            tx.put(left, 0)
            tx.put(right, 0)
        s.atomic(put_down)
    q.put((i, violations))


def test_dining_philosophers(name):
    s = stmdev.Store(name)
    for i in range(PHILOSOPHERS):
        s.put("fork%d" % i, 0)
        s.put("eating%d" % i, 0)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    ps = [ctx.Process(target=_philosopher, args=(name, i, q)) for i in range(PHILOSOPHERS)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(600)
    assert [p.exitcode for p in ps] == [0] * PHILOSOPHERS
    res = sorted(q.get(timeout=60) for _ in ps)
    assert res == [(i, 0) for i in range(PHILOSOPHERS)], res
    assert [s.get("meals%d" % i) for i in range(PHILOSOPHERS)] == [MEALS] * PHILOSOPHERS
    assert all(s.get("fork%d" % i) == 0 for i in range(PHILOSOPHERS))
    s.close()
