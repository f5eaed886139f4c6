"""Process-shared synchronisation: a robust Mutex, Events and Semaphores, found by name."""

from ._shmkit import sync as _native

Event = _native.Event
Mutex = _native.Mutex
Semaphore = _native.Semaphore

__all__ = ["Mutex", "Event", "Semaphore"]
