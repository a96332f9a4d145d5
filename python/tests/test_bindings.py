# SPDX-License-Identifier: MIT
"""Store info, statistics, families, the store list, export/import and
stmctl's save files, with bad input raising and changing nothing."""

import os
import shutil
import struct
import subprocess

import pytest

import stmdev


def test_info(store, name):
    store.put("a", 1)
    store.put("bb", "x" * 10)
    i = store.info()
    assert isinstance(i, stmdev.StoreInfo)
    assert i.name == name
    assert i.uid == os.geteuid()
    assert i.mode & 0o777 == 0o600
    assert i.keys == 2
    assert i.bytes >= len("a") + 8 + len("bb") + 10
    assert i.clock >= store.version("bb") >= 1
    assert i.unlinked is False
    stmdev.unlink(name)
    assert store.info().unlinked is True


def test_stats_count_commits_and_conflicts(store):
    s0 = store.stats()
    assert isinstance(s0, stmdev.StoreStats)
    store.put("k", 1)
    v = store.version("k")
    store.put("k", 2)
    with pytest.raises(stmdev.ConflictError):
        store.cas("k", v, 3)
    s1 = store.stats()
    assert s1.commits >= s0.commits + 2
    assert s1.conflicts >= s0.conflicts + 1
    assert s1.keys == 1


def test_families(store):
    assert store.families() == {}
    for _ in range(3):
        store.atomic(lambda tx: tx.add("n", 1), family="adder")
    store.atomic(lambda tx: tx.get("n"), family="reader")
    f = store.families()
    assert set(f) == {"adder", "reader"}
    assert isinstance(f["adder"], stmdev.FamilyStats)
    assert f["adder"].commits == 3
    assert f["adder"].attempts >= 3
    assert f["adder"].id != f["reader"].id


def test_stores_lists_this_one(store, name):
    store.put("a", 1)
    mine = [e for e in stmdev.stores() if e.name == name]
    assert len(mine) == 1
    assert isinstance(mine[0], stmdev.StoreEntry)
    assert mine[0].keys == 1
    assert mine[0].uid == os.geteuid()


def test_export_import_round_trip(store, name):
    vals = {"a": 1, "b": "text", "c": [1, 2.5, None], b"\xff\x00": b"raw"}
    for k, v in vals.items():
        store.put(k, v)
    clock, recs = store.export()
    assert clock >= max(r.version for r in recs)
    assert {r.key for r in recs} == set(vals)
    vers = {r.key: r.version for r in recs}
    other = stmdev.Store()
    after = other.import_(recs)
    assert after >= max(vers.values())
    for k, v in vals.items():
        assert other.get(k) == v
        assert other.version(k) == vers[k]
    # A second import into a store with keys: refused, nothing changed.
    with pytest.raises(stmdev.NotEmpty):
        other.import_([("zz", b"1", 1)])
    assert other.get("zz") is None
    other.close()


@pytest.mark.parametrize("recs", [
    [("a", "not bytes", 1)],
    [("a", b"x", 0)],
    [("a", b"x", -1)],
    [("", b"x", 1)],
    [("k" * 300, b"x", 1)],
    [("a", b"x", 1), ("a", b"y", 2)],
    [("a", b"x")],
])
def test_import_bad_records_change_nothing(recs):
    s = stmdev.Store()
    with pytest.raises((stmdev.Error, ValueError)) as ei:
        s.import_(recs)
    assert isinstance(ei.value, stmdev.Error) or isinstance(ei.value, ValueError)
    assert s.names() == []
    assert s.info().keys == 0
    s.close()


def test_save_load_round_trip(store, tmp_path):
    store.put("x", 42)
    store.put("y", {"a": [1, 2]})
    path = str(tmp_path / "s.save")
    store.save(path)
    with open(path, "rb") as f:
        img = f.read()
    assert img[:8] == b"STMSAVE\0"
    assert struct.unpack_from("<II", img, 8) == (1, 104)
    assert struct.unpack_from("<Q", img, 16)[0] == 2
    other = stmdev.Store()
    other.load(path)
    assert other.get("x") == 42 and other.get("y") == {"a": [1, 2]}
    assert other.version("x") == store.version("x")
    other.close()


def test_load_bad_files_load_nothing(store, tmp_path):
    store.put("x", 42)
    path = str(tmp_path / "s.save")
    store.save(path)
    with open(path, "rb") as f:
        good = f.read()
    bads = [b"", good[:50], b"XTMSAVE\0" + good[8:], good[:-9] + bytes([good[-9] ^ 1]) + good[-8:],
            good[:120] + bytes([good[120] ^ 1]) + good[121:]]
    for i, img in enumerate(bads):
        p = str(tmp_path / ("bad%d" % i))
        with open(p, "wb") as f:
            f.write(img)
        s = stmdev.Store()
        with pytest.raises(stmdev.InvalidArgument):
            s.load(p)
        assert s.names() == []
        s.close()


def test_save_files_shared_with_stmctl(store, name, tmp_path):
    stmctl = shutil.which("stmctl")
    if not stmctl:
        pytest.skip("stmctl not installed")
    store.put("a", 5)
    store.put("b", "text")
    ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
    store.save(ours)
    other = name[:40] + "-ld"
    try:
        subprocess.run([stmctl, "load", ours, other], check=True)
        s2 = stmdev.Store(other, create=False)
        assert s2.get("a") == 5 and s2.get("b") == "text"
        assert s2.version("b") == store.version("b")
        s2.close()
        subprocess.run([stmctl, "save", name, theirs], check=True)
        s3 = stmdev.Store()
        s3.load(theirs)
        assert s3.get("a") == 5 and s3.get("b") == "text"
        s3.close()
    finally:
        try:
            stmdev.unlink(other)
        except stmdev.Error:
            pass


def test_closed_store_raises(name):
    s = stmdev.Store(name)
    s.close()
    for call in (s.info, s.stats, s.families, s.export):
        with pytest.raises(stmdev.ClosedError):
            call()
    with pytest.raises(stmdev.ClosedError):
        s.import_([("a", b"x", 1)])
