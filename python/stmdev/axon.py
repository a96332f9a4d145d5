# SPDX-License-Identifier: MIT
"""Kamaelia Axon.STM's API over stm.ko stores: programs written for
Axon.STM run unchanged but for the import line

    from stmdev.axon import Store

and then work across processes.  Behaviour observable by a program is
Axon's (Documentation/python.rst lists every deviation and why): Store()
is non-blocking, usevar() and using() create absent keys holding None,
commit() raises ConcurrentUpdate when a key changed since it was read and
BusyRetry when the store is busy (retry the same commit), Value's repr is
"Value(version, value)", dump() prints as Axon's.
"""

import copy
import errno

import stmdev
from stmdev import codec, key_bytes, key_obj, _stmdev

__all__ = ["Store", "Value", "Collection", "ConcurrentUpdate", "BusyRetry"]

_NONE = codec.encode(None)
_CREATE_TRIES = 1000    # bound on losing the race to create a key


class ConcurrentUpdate(stmdev.ConflictError):
    """A value changed since it was read: redo the transaction."""

    def __init__(self, key=None):
        stmdev.ConflictError.__init__(self, errno.ESTALE,
                                      "concurrent update", key)


class BusyRetry(stmdev.BusyError):
    """The store was busy: retry the action (the same commit is correct)."""

    def __init__(self, key=None):
        stmdev.BusyError.__init__(self, errno.EBUSY, "store busy, retry", key)


def _axon_errors(fn):
    """Raise Axon's exception classes where Axon would."""
    def g(*a, **kw):
        try:
            return fn(*a, **kw)
        except ConcurrentUpdate:
            raise
        except BusyRetry:
            raise
        except stmdev.ConflictError as e:
            raise ConcurrentUpdate(e.key) from e
        except stmdev.BusyError as e:
            raise BusyRetry(e.key) from e
    g.__name__ = fn.__name__
    g.__doc__ = fn.__doc__
    return g


class Value(_stmdev.AxonValue):
    """Value(version, value, store, key) -> new Value object

    A simple versioned key-value pair which belongs to a thread-safe store.
    You do not instantiate these: the Store does that.

    Its base (_stmdev.AxonValue) keeps no state: version, value, store and
    key are plain attributes; it gives __init__, set(value) ("Set the value
    without storing") and commit() ("Commit a new version of the value to
    the store": self.store.set(self.key, self)) in C, the hot path."""

    def __repr__(self):
        return "Value" + repr((self.version, self.value))

    def clone(self):
        """Returns a clone of the value"""
        return Value(self.version, copy.deepcopy(self.value), self.store, self.key)


class Collection(dict):
    """Collection() -> new Collection dict

    A dictionary which belongs to a thread-safe store.
    Again, you do not instantiate these yourself."""

    def set_store(self, store):
        """Set the store to associate the collection with"""
        self.store = store

    def commit(self):
        """Commit new versions of the collection's items to the store"""
        self.store.set_values(self)


class Store(object):
    """Store() -> new Store object

    A thread-safe versioning store for key-value pairs.  Store() is a new
    store private to this process (shared by its threads); Store("name")
    attaches to the named store shared across processes, created if
    absent.  pickle=True lets values of any picklable type in (and out:
    only for stores nobody untrusted can write)."""

    def __init__(self, name=None, pickle=False):
        self._s = stmdev.Store(name, nonblock=True, pickle=pickle)
        self._raw = self._s._raw        # for the C hot paths (_stmdev.c)
        self._pk = self._s._pickle

    @property
    def stmdev_store(self):
        """The stmdev.Store under this one (the Pythonic API)."""
        return self._s

    def close(self):
        self._s.close()

    def _pickle(self):
        return self._s._pickle

    def _read_create(self, keys):
        """[(version, data)] for keys at one snapshot, absent keys first
        created holding None (Axon's __make)."""
        kb = [key_bytes(k) for k in keys]
        raw = self._s._raw
        for _ in range(_CREATE_TRIES):
            got = raw.read(kb)
            absent = [i for i, (v, _) in enumerate(got) if v == 0]
            if not absent:
                return got
            seen = set()
            items = []
            for i in absent:
                if kb[i] not in seen:
                    seen.add(kb[i])
                    items.append((kb[i], 0, _NONE))
            raw.commit(items)   # a conflict: someone else made one; read again
        raise BusyRetry()

    @_axon_errors
    def usevar(self, key, islocked=False):
        """Tries to get an item from the store. Returns the requested Value
        object.  If the store is already in use a BusyRetry error is raised."""
        D = self._raw.axon_using((key,), self, self._pk)
        if D is not None:
            return D[key]
        ((v, d),) = self._read_create([key])
        return Value(v, codec.decode(d, self._pickle()), self, key)

    def using(self, *keys):
        """Tries to get a selection of items from the store. Returns a
        Collection dictionary containing the requested values, read at one
        snapshot.  If the store is already in use a BusyRetry error is raised."""
        # In C when every key exists (raising Axon's exceptions itself).
        D = self._raw.axon_using(keys, self, self._pk)
        if D is not None:
            return D
        return self._using(keys)

    @_axon_errors
    def _using(self, keys):
        got = self._read_create(keys)
        D = Collection()
        pk = self._pickle()
        for k, (v, d) in zip(keys, got):
            D[k] = Value(v, codec.decode(d, pk), self, k)
        D.set_store(self)
        return D

    def set(self, key, value):
        """Tries to update a value in the store. If the store is already in
        use a BusyRetry error is raised. If the value has been updated by
        another thread a ConcurrentUpdate error is raised"""
        # Encode, check the key, stm_cas: in C, raising Axon's exceptions.
        value.version = self._raw.axon_set(key, value.version, value.value, self._pk)

    @_axon_errors
    def set_values(self, D):
        """Tries to update a selection of values in the store. If the store
        is already in use a BusyRetry error is raised. If one of the values
        has been updated by another thread a ConcurrentUpdate error is
        raised."""
        pk = self._pickle()
        keys = list(D)
        items = [(key_bytes(k), D[k].version, codec.encode(D[k].value, pk))
                 for k in keys]
        if not items:
            return
        ver, conflict = self._s._raw.commit(items)
        if conflict is not None:
            raise ConcurrentUpdate(items[conflict][0])
        for k in keys:
            D[k].version = ver

    def names(self):
        """The keys of the store (guild.stm)."""
        return self._s.names()

    @_axon_errors
    def snapshot(self):
        """{key: Value} of every key (guild.stm): one snapshot as long as the
        store has no more keys than one read may carry."""
        return self._values(self.names())

    @_axon_errors
    def export(self, names=None):
        """{key: value} of the named keys, or of every key (guild.stm)."""
        if names is None:
            names = self.names()
        return {k: v.value for k, v in self._values(list(names)).items()}

    def _values(self, names):
        out = {}
        step = max(1, int(self._s.limits()["max_keys_per_call"]))
        pk = self._pickle()
        for i in range(0, len(names), step):
            part = names[i:i + step]
            for k, (v, d) in zip(part, self._s._raw.read([key_bytes(k) for k in part])):
                if v:
                    out[k] = Value(v, codec.decode(d, pk), self, k)
        return out

    def dump(self):
        # Who cares really? This is a debug :-)  (Axon's words and format)
        print("DEBUG: Store dump ------------------------------")
        for k, v in self.snapshot().items():
            print("     ", k, ":", v)
        print()


# The C hot paths (Value.commit, using) call back into these.
_stmdev._axon_init(Store.set, ConcurrentUpdate, BusyRetry, Value, Collection)
