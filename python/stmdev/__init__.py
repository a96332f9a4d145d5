# SPDX-License-Identifier: MIT
"""stmdev: Python binding of libstmdev, the shared transactional key-value
store of stm.ko (Documentation/python.rst).

    import stmdev
    s = stmdev.Store("bank")                 # created if absent
    @s.atomic                                # runs now, reruns on conflict
    def moved(tx):
        a = tx.get("alice", 0)
        if a < 10:
            tx.retry()                       # blocks until alice changes
        tx.put("alice", a - 10)
        tx.add("bob", 10)
        return True

stmdev.axon is Kamaelia Axon.STM's API over the same stores.
"""

import errno as _errno
import os as _os
import re as _re
import threading as _threading

from ._errors import (Error, ConflictError, BusyError, RetriesExceeded,
                      InvalidArgument, ValueTooBig, NotFound, ClosedError,
                      Timeout, PermissionDenied, NoSpace, UnencodableValue,
                      RetryTransaction, Exists, OutOfRange, NotEmpty,
                      Unsupported)
from . import codec
from . import _stmdev

__all__ = ["Store", "Tx", "unlink", "Error", "ConflictError", "BusyError",
           "RetriesExceeded", "InvalidArgument", "ValueTooBig", "NotFound",
           "ClosedError", "Timeout", "PermissionDenied", "NoSpace",
           "UnencodableValue", "RetryTransaction", "codec",
           "Exists", "OutOfRange", "NotEmpty", "Unsupported",
           "stores", "StoreInfo", "StoreStats", "FamilyStats", "StoreEntry",
           "Record", "Queue", "MVar", "Semaphore", "Map", "Set", "Array"]

KEY_MAX = _stmdev.KEY_MAX
NAME_MAX = _stmdev.NAME_MAX
_NAME_RE = _re.compile(r"[A-Za-z0-9._-]+\Z")
_anon_lock = _threading.Lock()
_anon_seq = 0


def key_bytes(key):
    """A key as the bytes the store uses: str is UTF-8; 1..KEY_MAX bytes."""
    if type(key) is str:
        b = key.encode("utf-8", "surrogatepass")
    elif type(key) is bytes:
        b = key
    else:
        raise InvalidArgument(_errno.EINVAL, "a key is a str or bytes, not %s"
                              % type(key).__name__)
    if not 0 < len(b) <= KEY_MAX:
        raise InvalidArgument(_errno.EINVAL, "a key is 1..%d bytes, this one is %d"
                              % (KEY_MAX, len(b)), b[:KEY_MAX])
    return b


def key_obj(b):
    """A key read from the store: str when it is UTF-8, else bytes."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


def check_name(name):
    if not isinstance(name, str) or not name:
        raise InvalidArgument(_errno.EINVAL, "a store name is a non-empty str")
    if len(name.encode()) > NAME_MAX:
        raise InvalidArgument(_errno.ENAMETOOLONG, "a store name is at most %d bytes"
                              % NAME_MAX)
    if not _NAME_RE.match(name):
        raise InvalidArgument(_errno.EINVAL, "a store name is made of [A-Za-z0-9._-]: %r"
                              % name)


def unlink(name):
    """Remove a store's name; attached handles keep working until closed."""
    check_name(name)
    _stmdev.unlink(name)


def _ms(timeout):
    if timeout is None:
        return 0
    if timeout < 0:
        raise InvalidArgument(_errno.EINVAL, "timeout must be >= 0")
    return max(1, int(timeout * 1000)) if timeout else 0


class Tx(object):
    """A running transaction, given to the function store.atomic() runs.
    Valid only inside that function (and only in its thread)."""

    __slots__ = ("_raw", "_store")

    def __init__(self, raw, store):
        self._raw = raw
        self._store = store

    @property
    def store(self):
        return self._store

    @property
    def attempt(self):
        """1 on the first run of the function, 2 on the first rerun, ..."""
        return self._raw.attempt

    def get(self, key, default=None):
        """The key's value at the transaction's snapshot (default if absent)."""
        d = self._raw.get(key_bytes(key))
        if d is None:
            return default
        return codec.decode(d, self._store._pickle)

    def __getitem__(self, key):
        d = self._raw.get(key_bytes(key))
        if d is None:
            raise KeyError(key)
        return codec.decode(d, self._store._pickle)

    def put(self, key, value):
        """Write key (published when the transaction commits)."""
        # key_bytes() + codec.encode() + put, in C
        self._raw.put_value(key, value, self._store._pickle)

    __setitem__ = put

    def delete(self, key):
        """Delete key (absent after the commit)."""
        self._raw.delete(key_bytes(key))

    __delitem__ = delete

    def add(self, key, delta=1):
        """Add delta to an integer key (absent is 0).  On a key not read in
        this transaction, an addition done by the kernel: never conflicts."""
        self._raw.add(key_bytes(key), delta)

    def retry(self, keys=None, all=False):
        """Give up this run and block until a key read (or one of keys)
        changes, then rerun.  Never returns."""
        if keys is not None:
            keys = [key_bytes(k) for k in keys]
            self._raw.retry(keys, all)
        self._raw.retry()

    def or_else(self, f, g):
        """Run f(tx); if it retries, undo its writes and run g(tx)."""
        st = self._store
        return self._raw.or_else(lambda raw: f(Tx(raw, st)),
                                 lambda raw: g(Tx(raw, st)))

    def before_commit(self, fn):
        """Call fn() before each commit attempt."""
        self._raw.before_commit(fn)
        return fn

    def after_commit(self, fn):
        """Call fn() once, after the transaction committed."""
        self._raw.after_commit(fn)
        return fn

    def on_abort(self, fn):
        """Call fn() if this run (or nested block) fails or reruns."""
        self._raw.on_abort(fn)
        return fn


class Store(object):
    """A store of /dev/stm.

    Store(name): attach to the named store, created (mode 0600) if absent;
    Store(): a new private store of this process, gone with its last handle.
    create=False: fail with NotFound if absent; readonly=True: attach
    read-only; nonblock=True: a commit that cannot take its keys at once
    raises BusyError instead of waiting; pickle=True: values of other types
    are pickled, and pickled values are unpickled (only for stores no one
    you do not trust can write).  A Store may be shared by threads."""

    def __init__(self, name=None, create=True, readonly=False, nonblock=False,
                 mode=0o600, pickle=False):
        global _anon_seq
        flags = 0
        if readonly:
            flags |= _stmdev.RDONLY
        if nonblock:
            flags |= _stmdev.NONBLOCK
        self._pickle = bool(pickle)
        self._wait_lock = _threading.Lock()
        if name is None:
            # No anonymous stores in the kernel: a fresh name, created
            # exclusively and unlinked at once, so the store lives exactly
            # as long as this handle.
            with _anon_lock:
                _anon_seq += 1
                seq = _anon_seq
            rnd = _os.urandom(6).hex()
            anon = "py-anon-%d-%d-%s" % (_os.getpid(), seq, rnd)
            self._raw = _stmdev.RawStore(anon, flags | _stmdev.CREAT | _stmdev.EXCL, mode)
            try:
                _stmdev.unlink(anon)
            except Error:
                self._raw.close()
                raise
            self._anonymous = True
            return
        check_name(name)
        if create:
            flags |= _stmdev.CREAT
        self._raw = _stmdev.RawStore(name, flags, int(mode))
        self._anonymous = False

    # -- handle ------------------------------------------------------------
    @property
    def name(self):
        """The name the store was opened with (None once closed)."""
        return self._raw.name

    @property
    def closed(self):
        return self._raw.closed

    def close(self):
        """Detach; later calls raise ClosedError.  Idempotent."""
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<stmdev.Store %r%s>" % (self.name, " closed" if self.closed else "")

    def limits(self):
        """{'max_value_size', 'max_keys', 'max_keys_per_call'}"""
        return self._raw.limits()

    def encode(self, value):
        return codec.encode(value, self._pickle)

    def decode(self, data):
        return codec.decode(data, self._pickle)

    # -- info, statistics, export/import (the block at the end of this file) --
    def info(self):
        """StoreInfo of this store (stm_info): owner, mode, size, clock."""
        return StoreInfo(**_stmdev.info(self._raw))

    def stats(self):
        """StoreStats: the store's counters, shared by every process."""
        return StoreStats(**_stmdev.stats(self._raw))

    def families(self):
        """{family name: FamilyStats} of every transaction family."""
        return {f["name"]: FamilyStats(**f) for f in _stmdev.families(self._raw)}

    def export(self):
        """(clock, [Record(key, data, version)]): every key at one instant
        (stm_export); data are the stored bytes (decode() them)."""
        clock, recs = _stmdev.export(self._raw)
        return clock, [Record(key_obj(k), d, v) for k, d, v in recs]

    def import_(self, records):
        """Fill this empty store with records (Record or (key, data,
        version) with data bytes), all or nothing (stm_import); returns
        the store's clock after."""
        recs = []
        for r in records:
            k, d, v = r
            if type(d) is not bytes:
                raise InvalidArgument(_errno.EINVAL, "a record's data is bytes")
            if type(v) is not int or not 0 < v < 1 << 64:
                raise InvalidArgument(_errno.EINVAL, "a record's version is 1..2**64-1")
            recs.append((key_bytes(k), d, v))
        return _stmdev.import_(self._raw, recs)

    def save(self, path):
        """Write the store to path in stmctl's save file format (one
        snapshot; through a temporary file, fsynced and renamed)."""
        _save(self, path)

    def load(self, path):
        """Import a stmctl save file into this empty store (checked whole
        first: nothing is loaded from a bad file); returns the clock."""
        return self.import_(_load(path)[1])

    # -- single operations ---------------------------------------------------
    def read(self, keys):
        """{key: (version, value)} for keys, all at one snapshot; an absent
        key is (0, None)."""
        keys = list(keys)
        raw = self._raw.read([key_bytes(k) for k in keys])
        return {k: (v, codec.decode(d, self._pickle)) for k, (v, d) in zip(keys, raw)}

    def get(self, key, default=None):
        """The key's value (default when absent)."""
        ((v, d),) = self._raw.read([key_bytes(key)])
        return default if d is None else codec.decode(d, self._pickle)

    def version(self, key):
        """The key's version (0: absent)."""
        return self._raw.read([key_bytes(key)])[0][0]

    def put(self, key, value):
        """Write key unconditionally; returns nothing."""
        self._raw.swap(key_bytes(key), codec.encode(value, self._pickle))

    def swap(self, key, value):
        """Write key unconditionally; returns its previous value (None if absent)."""
        _, d = self._raw.swap(key_bytes(key), codec.encode(value, self._pickle))
        return codec.decode(d, self._pickle)

    def cas(self, key, expected_version, value):
        """Write key if its version is still expected_version (0: absent);
        returns the new version, or raises ConflictError."""
        return self._raw.cas(key_bytes(key), expected_version,
                             codec.encode(value, self._pickle))

    def fetch_add(self, key, delta=1):
        """Add delta to an integer key (absent is 0) in one commit that never
        conflicts; returns the value after the addition (stm_fetch_add)."""
        return self._raw.fetch_add(key_bytes(key), delta)

    def delete(self, key):
        """Delete key (nothing if absent)."""
        kb = key_bytes(key)
        self._raw.atomic(lambda raw: raw.delete(kb), 0, 0, 0, None)

    def names(self):
        """Every key (str when UTF-8, else bytes), sorted; not a snapshot."""
        return sorted((key_obj(k) for k in self._raw.names()),
                      key=lambda k: k.encode() if isinstance(k, str) else k)

    def last_conflict(self):
        """The key whose change last made this thread's transaction rerun."""
        k = self._raw.last_conflict()
        return None if k is None else key_obj(k)

    # -- transactions ----------------------------------------------------------
    def atomic(self, fn=None, max_retries=0, timeout=None, readonly=False,
               nonblock=False, family=None):
        """Run fn(tx) as one transaction, rerunning it on conflicts, and
        return what it returned.  @store.atomic over a def runs it at once
        (the name is bound to the result); store.transactional() makes a
        reusable wrapper instead.  Nested on the same store, joins the
        running transaction (closed nesting)."""
        if fn is None:
            return lambda f: self.atomic(f, max_retries, timeout, readonly,
                                         nonblock, family)
        flags = (_stmdev.TXN_READONLY if readonly else 0) | \
                (_stmdev.TXN_NONBLOCK if nonblock else 0)
        if family is not None:
            check_name(family)
        # fn gets Tx(raw, self), built by the extension
        return self._raw.atomic(fn, flags, int(max_retries),
                                0 if timeout is None else _ms(timeout), family, Tx, self)

    def transactional(self, **opts):
        """Decorator: f(tx, *args) becomes g(*args) running atomically."""
        def deco(f):
            def g(*a, **kw):
                return self.atomic(lambda tx: f(tx, *a, **kw), **opts)
            g.__name__ = getattr(f, "__name__", "transaction")
            g.__doc__ = f.__doc__
            return g
        return deco

    # -- waiting ---------------------------------------------------------------
    def wait_sync(self, keys, versions=None, all=False, timeout=None):
        """Block until a key (all=True: every key) differs from versions
        (default: their versions now); returns the first changed key.
        Raises Timeout."""
        keys = list(keys)
        kb = [key_bytes(k) for k in keys]
        if versions is None:
            versions = [v for v, _ in self._raw.read(kb)]
        tmo = -1 if timeout is None else _ms(timeout)
        return keys[self._raw.wait(kb, list(versions), all, tmo)]

    async def wait(self, keys):
        """await until one of keys changes (from its version now), through
        the store's pollable descriptor; one wait per Store at a time."""
        import asyncio
        kb = [key_bytes(k) for k in keys]
        if not self._wait_lock.acquire(blocking=False):
            raise BusyError(_errno.EBUSY, "one wait() per Store at a time "
                            "(open another Store for more)")
        try:
            self._raw.watch(kb)
            fd = self._raw.fd()
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            loop.add_reader(fd, lambda: fut.done() or fut.set_result(None))
            try:
                await fut
            finally:
                loop.remove_reader(fd)
                try:
                    self._raw.watch([])
                except Error:
                    pass
        finally:
            self._wait_lock.release()


# ---- info, statistics, export/import, containers ----------------------------

import collections as _collections
import struct as _struct
import zlib as _zlib

StoreInfo = _collections.namedtuple(
    "StoreInfo", "name uid gid mode flags keys bytes clock unlinked charge")
StoreStats = _collections.namedtuple(
    "StoreStats", "commits conflicts busy reads keys bytes waits wakeups charge")
FamilyStats = _collections.namedtuple(
    "FamilyStats", "name id attempts commits conflicts busy waits retries")
StoreEntry = _collections.namedtuple("StoreEntry", "name uid gid mode keys bytes")
Record = _collections.namedtuple("Record", "key data version")


def stores():
    """[StoreEntry] of every store the caller may read (stm_stores)."""
    return [StoreEntry(**e) for e in _stmdev.stores()]


# stmctl's save file (tools/save.c, stmctl(1) "Save files"), little-endian:
# header "STMSAVE\0", u32 format 1, u32 header length 104, u64 count,
# u64 clock, u64 record bytes, name[64]; records u64 version, u32 key
# length, u32 value length, key, value; trailer u32 CRC-32, u32 0.
_SAVE_HDR = _struct.Struct("<8sIIQQQ64s")
_SAVE_REC = _struct.Struct("<QII")


def _save(store, path):
    clock, recs = store.export()
    body = bytearray()
    for r in recs:
        k = key_bytes(r.key)
        body += _SAVE_REC.pack(r.version, len(k), len(r.data)) + k + r.data
    name = (store.name or "").encode()[:63]
    img = _SAVE_HDR.pack(b"STMSAVE\0", 1, _SAVE_HDR.size, len(recs), clock,
                         len(body), name) + bytes(body)
    img += _struct.pack("<II", _zlib.crc32(img) & 0xffffffff, 0)
    d = _os.path.dirname(_os.path.abspath(path))
    tmp = "%s.tmp.%d" % (path, _os.getpid())
    fd = _os.open(tmp, _os.O_WRONLY | _os.O_CREAT | _os.O_TRUNC, 0o600)
    try:
        with _os.fdopen(fd, "wb") as f:
            f.write(img)
            f.flush()
            _os.fsync(f.fileno())
        _os.rename(tmp, path)
    except BaseException:
        try:
            _os.unlink(tmp)
        except OSError:
            pass
        raise
    dfd = _os.open(d, _os.O_RDONLY)
    try:
        _os.fsync(dfd)
    finally:
        _os.close(dfd)


def _bad_file(why):
    return InvalidArgument(_errno.EINVAL, "not a valid stmctl save file: " + why)


def _load(path):
    """(name, [Record]) of a save file, every part checked."""
    with open(path, "rb") as f:
        img = f.read()
    h, t = _SAVE_HDR.size, 8
    if len(img) < h + t:
        raise _bad_file("too short")
    magic, fmt, hlen, count, clock, rbytes, name = _SAVE_HDR.unpack_from(img)
    if magic != b"STMSAVE\0":
        raise _bad_file("bad magic")
    if fmt != 1 or hlen != h:
        raise _bad_file("unknown format %d" % fmt)
    if rbytes != len(img) - h - t:
        raise _bad_file("size")
    crc, zero = _struct.unpack_from("<II", img, len(img) - t)
    if zero or crc != _zlib.crc32(img[:-t]) & 0xffffffff:
        raise _bad_file("CRC")
    recs, off, end = [], h, len(img) - t
    while off < end:
        if end - off < _SAVE_REC.size:
            raise _bad_file("truncated record")
        v, kl, vl = _SAVE_REC.unpack_from(img, off)
        off += _SAVE_REC.size
        if not 0 < kl <= KEY_MAX or vl > end - off - kl or v == 0:
            raise _bad_file("bad record")
        recs.append(Record(key_obj(img[off:off + kl]), img[off + kl:off + kl + vl], v))
        off += kl + vl
    if len(recs) != count:
        raise _bad_file("count")
    return name.rstrip(b"\0").decode("utf-8", "replace"), recs


# Containers (lib/containers.c, Documentation/containers.rst) over keys of
# a store, each operation a part of the transaction it is given: a
# blocking one that cannot go on retries the transaction (inside or_else,
# the other branch runs); the try_ ones return instead.  Values go through
# the store's codec, as tx.get/tx.put.

def _cname(name):
    if not isinstance(name, str):
        raise InvalidArgument(_errno.EINVAL, "a container name is a str")
    key_bytes(name)
    if "\0" in name:
        raise InvalidArgument(_errno.EINVAL, "a container name has no NUL")
    return name


def _count(n, what="n"):
    if type(n) is not int or not 0 < n < 1 << 63:
        raise InvalidArgument(_errno.EINVAL, "%s is an int >= 1" % what)
    return n


def _enc(tx, value):
    return codec.encode(value, tx._store._pickle)


def _dec(tx, data):
    return codec.decode(data, tx._store._pickle)



class Queue(object):
    """A FIFO queue (Haskell TQueue/TBQueue); capacity 0: unbounded."""

    def __init__(self, name, capacity=0):
        self.name = _cname(name)
        if type(capacity) is not int or not 0 <= capacity < 1 << 63:
            raise InvalidArgument(_errno.EINVAL, "capacity is an int >= 0")
        self.capacity = capacity

    def _init(self, tx):
        if self.capacity:
            _stmdev.cnum(tx._raw, _stmdev.Q_INIT, self.name, self.capacity)

    def put(self, tx, value):
        """Append value; retries while a bounded queue is full."""
        data = _enc(tx, value)
        self._init(tx)
        _stmdev.cput(tx._raw, _stmdev.Q_PUT, self.name, b"", data, 0)

    def try_put(self, tx, value):
        """Append value; False (nothing done) when the queue is full."""
        data = _enc(tx, value)
        self._init(tx)
        return _stmdev.cput(tx._raw, _stmdev.Q_TRY_PUT, self.name, b"", data, 0) is not None

    def _get(self, tx, op, default):
        d = _stmdev.cget(tx._raw, op, self.name)
        if d is None:
            return default
        return _dec(tx, d)

    def take(self, tx):
        """Remove and return the oldest item; retries while empty."""
        return self._get(tx, _stmdev.Q_TAKE, None)

    def try_take(self, tx, default=None):
        """The oldest item, removed; default when empty."""
        return self._get(tx, _stmdev.Q_TRY_TAKE, default)

    def peek(self, tx):
        """The oldest item, left in the queue; retries while empty."""
        return self._get(tx, _stmdev.Q_PEEK, None)

    def try_peek(self, tx, default=None):
        return self._get(tx, _stmdev.Q_TRY_PEEK, default)

    def size(self, tx):
        return _stmdev.cnum(tx._raw, _stmdev.Q_SIZE, self.name, 0)


class MVar(object):
    """A one-place box (Haskell TMVar)."""

    def __init__(self, name):
        self.name = _cname(name)

    def put(self, tx, value):
        """Fill it; retries while full."""
        _stmdev.cput(tx._raw, _stmdev.MV_PUT, self.name, b"", _enc(tx, value), 0)

    def try_put(self, tx, value):
        """Fill it; False when full."""
        return _stmdev.cput(tx._raw, _stmdev.MV_TRY_PUT, self.name, b"",
                            _enc(tx, value), 0) is not None

    def take(self, tx):
        """Empty it, returning the value; retries while empty."""
        return _dec(tx, _stmdev.cget(tx._raw, _stmdev.MV_TAKE, self.name))

    def try_take(self, tx, default=None):
        d = _stmdev.cget(tx._raw, _stmdev.MV_TRY_TAKE, self.name)
        return default if d is None else _dec(tx, d)

    def read(self, tx):
        """The value, left in place; retries while empty."""
        return _dec(tx, _stmdev.cget(tx._raw, _stmdev.MV_READ, self.name))


class Semaphore(object):
    """A counting semaphore (an integer key; absent: 0 units).  release()
    is a commuting addition: it never conflicts."""

    def __init__(self, name):
        self.name = _cname(name)

    def acquire(self, tx, n=1):
        """Take n units; retries while fewer are there."""
        _stmdev.cnum(tx._raw, _stmdev.SEM_ACQ, self.name, _count(n))

    def try_acquire(self, tx, n=1):
        """Take n units; False (nothing taken) while fewer are there."""
        return _stmdev.cnum(tx._raw, _stmdev.SEM_TRY_ACQ, self.name,
                            _count(n)) is not None

    def release(self, tx, n=1):
        """Give n units (back); how a semaphore gets its first units."""
        _stmdev.cnum(tx._raw, _stmdev.SEM_REL, self.name, _count(n))


class Map(object):
    """A map over the key prefix name/k/ (keys str or bytes, values any
    encodable value); items() sees one snapshot (Documentation/containers.rst)."""

    def __init__(self, name):
        self.name = _cname(name)

    def get(self, tx, key, default=None):
        d = _stmdev.cget(tx._raw, _stmdev.MAP_GET, self.name, key_bytes(key))
        return default if d is None else _dec(tx, d)

    def put(self, tx, key, value):
        """True when it added key, False when it replaced its value."""
        return bool(_stmdev.cput(tx._raw, _stmdev.MAP_PUT, self.name,
                                 key_bytes(key), _enc(tx, value), 0))

    def delete(self, tx, key):
        """True when key was there (and is removed), else False."""
        return _stmdev.cput(tx._raw, _stmdev.MAP_DEL, self.name, key_bytes(key),
                            b"", 0) is not None

    def contains(self, tx, key):
        return bool(_stmdev.cput(tx._raw, _stmdev.MAP_CONTAINS, self.name,
                                 key_bytes(key), b"", 0))

    def size(self, tx):
        return _stmdev.cnum(tx._raw, _stmdev.MAP_SIZE, self.name, 0)

    def items(self, tx):
        """[(key, value)] of every entry at the transaction's snapshot."""
        return [(key_obj(k), _dec(tx, d))
                for k, d in _stmdev.citems(tx._raw, self.name)]

    def keys(self, tx):
        return [key_obj(k) for k, _ in _stmdev.citems(tx._raw, self.name)]


class Set(object):
    """A set of keys (str or bytes): a Map with empty values."""

    def __init__(self, name):
        self.name = _cname(name)

    def add(self, tx, key):
        """True when key was not there."""
        return bool(_stmdev.cput(tx._raw, _stmdev.SET_ADD, self.name,
                                 key_bytes(key), b"", 0))

    def remove(self, tx, key):
        """True when key was there (and is removed), else False."""
        return _stmdev.cput(tx._raw, _stmdev.SET_REMOVE, self.name,
                            key_bytes(key), b"", 0) is not None

    def contains(self, tx, key):
        return bool(_stmdev.cput(tx._raw, _stmdev.MAP_CONTAINS, self.name,
                                 key_bytes(key), b"", 0))

    def size(self, tx):
        return _stmdev.cnum(tx._raw, _stmdev.MAP_SIZE, self.name, 0)

    def members(self, tx):
        """The keys at the transaction's snapshot."""
        return [key_obj(k) for k, _ in _stmdev.citems(tx._raw, self.name)]


class Array(object):
    """A fixed-size array of n elements; an element never set reads as
    None (as does one set to b"", which is stored as empty data)."""

    def __init__(self, name, n):
        self.name = _cname(name)
        self.n = _count(n, "n (the array's size)")

    def init(self, tx):
        """Make the array (Exists if it has another size)."""
        _stmdev.cnum(tx._raw, _stmdev.ARR_INIT, self.name, self.n)

    def size(self, tx):
        return _stmdev.cnum(tx._raw, _stmdev.ARR_SIZE, self.name, 0)

    def _index(self, i):
        if type(i) is not int:
            raise InvalidArgument(_errno.EINVAL, "an index is an int")
        if not 0 <= i < self.n:
            raise OutOfRange(_errno.ERANGE, "index %d out of 0..%d" % (i, self.n - 1))
        return i

    def get(self, tx, i, default=None):
        d = _stmdev.cget(tx._raw, _stmdev.ARR_GET, self.name, b"", self._index(i))
        return default if not d else _dec(tx, d)

    def set(self, tx, i, value):
        i = self._index(i)
        _stmdev.cput(tx._raw, _stmdev.ARR_SET, self.name, b"", _enc(tx, value), i)
