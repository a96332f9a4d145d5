# SPDX-License-Identifier: MIT
"""stmdev's exceptions: every error the library reports is a stmdev.Error
carrying .errno (the positive errno value libstmdev returned negated) and,
when one key is to blame (a conflict, a value too big), .key (bytes)."""

import errno as _errno


class Error(Exception):
    """An error from the store (libstmdev).  .errno, .key (bytes or None)."""

    def __init__(self, err, message, key=None):
        super().__init__(err, message if key is None else
                         "%s (key %r)" % (message, key))
        self.errno = err
        self.strerror = message
        self.key = key

    def __str__(self):
        return "[Errno %d] %s" % (self.errno, self.args[1])


class ConflictError(Error):
    """A key changed since it was read: redo the transaction (STM_ECONFLICT)."""


class BusyError(Error):
    """A non-blocking commit could not take its keys at once: retry it as it is."""


class RetriesExceeded(Error):
    """More conflicts than max_retries (STM_ERETRIES)."""


class InvalidArgument(Error, ValueError):
    """A bad key, name, value or option (EINVAL, ENAMETOOLONG)."""


class ValueTooBig(Error, ValueError):
    """A value over the store's max_value_size, or too many keys (E2BIG)."""


class NotFound(Error, LookupError):
    """No such store (ENOENT)."""


class ClosedError(Error):
    """The store is closed (EBADF), or attached read-only."""


class Timeout(Error, TimeoutError):
    """The call's timeout passed (ETIMEDOUT)."""


class PermissionDenied(Error, PermissionError):
    """EACCES, EPERM."""


class NoSpace(Error):
    """The store or the user's quota is full (ENOSPC, EDQUOT)."""


class Exists(Error):
    """A container made with other parameters (EEXIST: a queue's capacity,
    an array's size), or a key twice in an import."""


class OutOfRange(Error, IndexError):
    """An array index past the end (ERANGE)."""


class NotEmpty(Error):
    """import into a store that has keys (ENOTEMPTY)."""


class Unsupported(Error):
    """The store's backend cannot do it (EOPNOTSUPP)."""


class RetryTransaction(BaseException):
    """Raised by Tx.retry() to leave the transaction function; stm_atomic
    then blocks until something the transaction read changes.  Do not catch
    it (it is a BaseException so that `except Exception` does not)."""


_CLASSES = {
    _errno.ESTALE: ConflictError,
    _errno.EBUSY: BusyError,
    _errno.ELOOP: RetriesExceeded,
    _errno.EINVAL: InvalidArgument,
    _errno.ENAMETOOLONG: InvalidArgument,
    _errno.E2BIG: ValueTooBig,
    _errno.ENOENT: NotFound,
    _errno.EBADF: ClosedError,
    _errno.ETIMEDOUT: Timeout,
    _errno.EACCES: PermissionDenied,
    _errno.EPERM: PermissionDenied,
    _errno.ENOSPC: NoSpace,
    _errno.EDQUOT: NoSpace,
    _errno.EEXIST: Exists,
    _errno.ERANGE: OutOfRange,
    _errno.EMSGSIZE: ValueTooBig,
    _errno.ENOTEMPTY: NotEmpty,
    _errno.EOPNOTSUPP: Unsupported,
}

# Set by stmdev.axon: Axon's classes replace ours where Axon raises them.
_AXON = {}


def make_error(err, message, key=None):
    """The exception for a libstmdev error (called by the C extension)."""
    return _CLASSES.get(err, Error)(err, message, key)


class UnencodableValue(InvalidArgument, TypeError):
    """A value the stmdev encoding cannot hold (and pickle is not enabled)."""

    def __init__(self, message, key=None):
        super().__init__(_errno.EINVAL, message, key)
