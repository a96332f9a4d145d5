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
                      RetryTransaction)
from . import codec
from . import _stmdev

__all__ = ["Store", "Tx", "unlink", "Error", "ConflictError", "BusyError",
           "RetriesExceeded", "InvalidArgument", "ValueTooBig", "NotFound",
           "ClosedError", "Timeout", "PermissionDenied", "NoSpace",
           "UnencodableValue", "RetryTransaction", "codec"]

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
