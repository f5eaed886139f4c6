"""The exception hierarchy of shmkit: one class per ``shmkit::Error`` variant.

Every exception has ``.name``: the object (segment, channel, mutex) involved, or ``None``.
Classes whose meaning matches a built-in exception also derive from it, so existing
``except FileNotFoundError`` / ``PermissionError`` / ``TimeoutError`` / ``ValueError``
handlers keep working.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every error shmkit raises (``shmkit::Error`` in Rust)."""

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        #: The name of the object involved, when there is one.
        self.name = name


class NameInvalid(Error, ValueError):
    """The name breaks shmkit's naming rules; nothing was created or opened."""


class NotFound(Error, FileNotFoundError):
    """No object of that name exists."""


class AlreadyExists(Error, FileExistsError):
    """An object of that name already exists and a new one was asked for."""


class AccessDenied(Error, PermissionError):
    """The OS refused access to the object (mode, owner or ACL)."""


class AccessMismatch(AccessDenied):
    """A writable view was asked of an object opened read-only."""


class SizeInvalid(Error, ValueError):
    """A size or range is invalid: zero, too large, or past the end."""


class NoSpace(Error, MemoryError):
    """The system has not enough shared memory for the requested size."""


class Corrupt(Error):
    """The segment is not a valid shmkit object (foreign, truncated, half-initialised)."""


class VersionMismatch(Error):
    """The object was made by a shmkit with another layout version."""


class KindMismatch(Error, TypeError):
    """The segment holds another kind of shmkit object (say, an event opened as a mutex)."""


class LayoutMismatch(Error, TypeError):
    """A typed object was opened with a type of another layout."""


class Timeout(Error, TimeoutError):
    """A wait ran out of time."""


class WouldBlock(Timeout):
    """A non-blocking call (``timeout=0``) found the object busy."""


class OwnerDied(Error):
    """The previous holder of a mutex (or of a shared value's lock) died holding it.

    The lock **is held** by the calling thread when this is raised. Repair what the mutex
    protects, then call :meth:`make_consistent` (or ``mutex.make_consistent()``) and release
    the mutex. Releasing without repairing makes the mutex unrecoverable for everyone;
    :meth:`unlock_unrepaired` instead hands the repair on to the next holder.

    From :meth:`shmkit.sync.Shared.lock`, ``.guard`` (and ``.mutex``) is the
    :class:`shmkit.sync.SharedGuard` holding the lock: ``with e.guard as value:`` repairs.
    """

    #: The :class:`shmkit.sync.Mutex` whose owner died (now held by this thread), or the
    #: :class:`shmkit.sync.SharedGuard` of a shared value.
    mutex: object = None
    #: The :class:`shmkit.sync.SharedGuard` holding a shared value's lock (``None`` for a
    #: mutex).
    guard: object = None

    def make_consistent(self) -> None:
        """Declare the protected state repaired; the mutex stays held."""
        self.mutex.make_consistent()  # type: ignore[attr-defined]

    def unlock_unrepaired(self) -> None:
        """Release the mutex without repairing; its next holder gets ``OwnerDied`` in turn."""
        self.mutex.unlock_unrepaired()  # type: ignore[attr-defined]


class Unrecoverable(Error):
    """A mutex whose owner died was released unrepaired; remove and recreate it."""


class Deadlock(Error, RuntimeError):
    """The calling thread already holds this mutex."""


class Full(Error):
    """A semaphore is at its maximum, a broadcast has its maximum of subscribers, or a
    service has ``max_clients`` live clients, a client ``max_outstanding`` requests, or a
    ring no room for a request or response."""


class NotOutstanding(Error, ValueError):
    """A service request is not outstanding on this client: already answered, cancelled, or
    another client's. (``NotFound`` is only ever about a named object.)"""

    #: The request's id.
    id: int = 0


class Disconnected(Error, EOFError):
    """The other side of a channel is gone and everything it committed was received; or a
    service's server is gone or was replaced (a client must ``reconnect``), or the client a
    response was meant for left."""


class Lagged(Error):
    """A broadcast subscriber fell a whole ring behind; ``.missed`` messages were lost.

    The subscriber goes on with the oldest message still available.
    """

    #: How many messages were lost.
    missed: int = 0


class InUse(Error):
    """The role asked for (producer, consumer, publisher) is held by a live process."""

    #: The role (``"producer"``, ``"consumer"``, ...).
    role: str = ""
    #: The pid the holder recorded (for display only).
    pid: int = 0


class Unsupported(Error, NotImplementedError):
    """The operation is not available on this OS."""


class Io(Error, OSError):
    """Any other OS error."""


__all__ = [
    "Error",
    "NameInvalid",
    "NotFound",
    "AlreadyExists",
    "AccessDenied",
    "AccessMismatch",
    "SizeInvalid",
    "NoSpace",
    "Corrupt",
    "VersionMismatch",
    "KindMismatch",
    "LayoutMismatch",
    "Timeout",
    "WouldBlock",
    "OwnerDied",
    "Unrecoverable",
    "Deadlock",
    "Full",
    "NotOutstanding",
    "Disconnected",
    "Lagged",
    "InUse",
    "Unsupported",
    "Io",
]

# Shown (and pickled) as shmkit.<Name>, where users import them from.
for _name in __all__:
    globals()[_name].__module__ = "shmkit"
del _name
