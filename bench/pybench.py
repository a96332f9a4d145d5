#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/pybench.py: the Python binding against the C library, in one boot.

usage: pybench.py [--c PATH] [--rounds N] [--ms MS] [--out DIR]
       pybench.py --show [KERNEL=]pybench.json...   (the table again, on the host)

For each operation, interleaved rounds run the C version (stm-pybench-c,
libstmdev) and the Python version for about MS milliseconds each; each
round gives the ratio Python ns/op over C ns/op, and the figure is the
median ratio (goal: <= 2).  Prints a table; writes DIR/pybench.json.

  cas1     1-key commit: C stm_cas; Python stmdev.axon Value.set + commit
  atomic1  1-key transaction: C stm_atomic + stm_put_i64;
           Python store.atomic(lambda tx: tx.put("k", i))
  using8   8-key read at one snapshot: C stm_using + stm_coll_free;
           Python stmdev.axon Store.using(8 keys) (Values decoded)
  cas1raw  the floor of cas1 (not a goal): C stm_cas against the least a
           binding can do, one call of the extension's RawStore.cas with
           the encoded bytes ready (GIL released around stm_cas_n), from a
           Python loop like the others
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

KEYS8 = ["k%d" % i for i in range(8)]


def py_op(op, name):
    import stmdev
    import stmdev.axon
    if op == "cas1":
        S = stmdev.axon.Store(name)
        v = S.usevar("k")

        def one(i):
            v.set(i)
            v.commit()
        return one
    if op == "atomic1":
        s = stmdev.Store(name)

        def one(i):
            s.atomic(lambda tx: tx.put("k", i))
        return one
    if op == "using8":
        S = stmdev.axon.Store(name)
        S.using(*KEYS8)

        def one(i):
            S.using(*KEYS8)
        return one
    if op == "cas1raw":
        raw = stmdev.Store(name)._raw
        ver = [raw.read([b"k"])[0][0]]
        data = b"\x01" * 8

        def one(i):
            ver[0] = raw.cas(b"k", ver[0], data)
        return one
    raise ValueError(op)


def run_py(op, name, ms):
    one = py_op(op, name)
    n = 0
    t0 = time.perf_counter_ns()
    t1 = t0
    while t1 - t0 < ms * 1000000:
        for i in range(64):
            one(n + i)
        n += 64
        t1 = time.perf_counter_ns()
    return (t1 - t0) / n


def run_c(cbin, op, name, ms):
    out = subprocess.run([cbin, name, op, str(ms)], capture_output=True, text=True,
                         check=True).stdout
    return float(out.split("ns_per_op=")[1])


def table(res, rounds, title=""):
    print("stmdev (Python) vs libstmdev (C), same boot%s; median of %d interleaved rounds"
          % (title, rounds))
    print("%-9s %12s %12s %8s  %s" % ("op", "C ns/op", "Python ns/op", "Py/C", "goal <= 2"))
    for op, r in res.items():
        print("%-9s %12.0f %12.0f %8.2f  %s" % (op, r["c_ns"], r["py_ns"], r["ratio"],
                                              "(floor)" if op == "cas1raw" else
                                              "pass" if r["ratio"] <= 2 else "MISS"))


def show(files):
    for f in files:
        k, _, path = f.rpartition("=")
        with open(path) as fd:
            j = json.load(fd)
        table(j["ops"], j["rounds"], " (kernel %s, Python %s)" % (k or "?", j["python"]))
        print()
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--c", default="stm-pybench-c")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--ms", type=int, default=300)
    ap.add_argument("--out")
    ap.add_argument("--show", nargs="+", metavar="[KERNEL=]JSON")
    a = ap.parse_args()
    if a.show:
        return show(a.show)
    import stmdev
    name = "pybench-%d" % os.getpid()
    s = stmdev.Store(name)
    for k in KEYS8 + ["k"]:
        s.put(k, 0)
    res = {}
    for op in ("cas1", "atomic1", "using8", "cas1raw"):
        ratios, cs, ps = [], [], []
        for _ in range(a.rounds):
            c = run_c(a.c, "cas1" if op == "cas1raw" else op, name, a.ms)
            p = run_py(op, name, a.ms)
            cs.append(c)
            ps.append(p)
            ratios.append(p / c)
        res[op] = {"c_ns": statistics.median(cs), "py_ns": statistics.median(ps),
                   "ratio": statistics.median(ratios), "ratios": ratios}
    stmdev.unlink(name)
    table(res, a.rounds)
    if a.out:
        with open(os.path.join(a.out, "pybench.json"), "w") as f:
            json.dump({"tool": "pybench", "rounds": a.rounds, "ms": a.ms,
                       "python": sys.version.split()[0], "ops": res}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
