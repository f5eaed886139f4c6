"""Process-shared synchronisation: a robust Mutex, Events, Semaphores and Shared values,
found by name.

``Shared`` is Rust's ``shmkit::sync::Shared<T>`` with ``T`` given at run time: a numpy dtype,
a ctypes type, or a plain size in bytes. The Rust type is generic over ``T: Pod`` fixed at
compile time, so the binding goes through the library's byte form of the same object,
``shmkit::sync::SharedBytes``: the same segment (kind ``shared``), header parameters (size,
alignment, the fingerprint of a type tag), lock and value offset. A Python ``Shared`` and a
Rust ``Shared<T>`` therefore open each other's values when size, alignment and tag agree.
Rust's default tag is the type's name without module paths (``u64``, ``Stats``); the
Python defaults are the same for what has a Rust name (numpy or ctypes scalars: ``u64``,
``f32``; one-dimensional arrays of them: ``[u32; 4]``; a ctypes ``Structure``: its class
name; a plain size ``N``: ``[u8; N]``), and for a numpy structured dtype, which has no name,
a tag made of its fields (Python peers agree; for a Rust peer give ``tag="Stats"``, and an
aligned dtype, ``numpy.dtype([...], align=True)``, to match ``#[repr(C)]``).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from ._errors import OwnerDied
from ._mode import DEFAULT_MODE
from ._shmkit import sync as _native

Event = _native.Event
Mutex = _native.Mutex
Semaphore = _native.Semaphore

__all__ = ["Mutex", "Event", "Semaphore", "Shared", "SharedGuard"]

_CTYPES_SCALARS = {
    "b": "i",
    "h": "i",
    "i": "i",
    "l": "i",
    "q": "i",
    "B": "u",
    "H": "u",
    "I": "u",
    "L": "u",
    "Q": "u",
    "f": "f",
    "d": "f",
}


def _is_ctype(t: Any) -> bool:
    return isinstance(t, type) and issubclass(
        t, (ctypes._SimpleCData, ctypes.Structure, ctypes.Union, ctypes.Array)
    )


def _ctypes_tag(t: Any) -> str:
    if issubclass(t, ctypes.Array):
        return f"[{_ctypes_tag(t._type_)}; {t._length_}]"
    if issubclass(t, ctypes._SimpleCData):
        kind = _CTYPES_SCALARS.get(t._type_)
        if kind is not None:
            return f"{kind}{8 * ctypes.sizeof(t)}"
    return t.__name__


def _numpy_tag(dt: Any) -> str:
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        if len(shape) == 1:
            return f"[{_numpy_tag(base)}; {shape[0]}]"
    if dt.names is None and dt.kind in "iuf" and dt.byteorder in "=|" + _native_order():
        return f"{dt.kind}{8 * dt.itemsize}"
    return f"numpy {dt.descr!r}"


def _native_order() -> str:
    return "<" if sys.byteorder == "little" else ">"


class _Layout:
    """What a ``type`` argument means: size, alignment, default tag, how to view the bytes."""

    __slots__ = ("kind", "type", "size", "align", "tag")
    tag: str | None

    def __init__(self, t: Any, tag: str | None, align: int | None) -> None:
        if isinstance(t, bool):
            raise TypeError("type must be a numpy dtype, a ctypes type or a size in bytes")
        if isinstance(t, int):
            if t < 1:
                raise ValueError(f"a shared value needs at least one byte, not {t}")
            self.kind, self.type, self.size, natural = "bytes", None, t, 1
            default_tag = f"[u8; {t}]"
        elif _is_ctype(t):
            self.kind, self.type = "ctypes", t
            self.size, natural = ctypes.sizeof(t), ctypes.alignment(t)
            default_tag = _ctypes_tag(t)
        else:
            try:
                import numpy
            except ImportError:  # pragma: no cover - numpy is optional
                raise TypeError(
                    f"type must be a numpy dtype (numpy is not installed), a ctypes type or a "
                    f"size in bytes, not {t!r}"
                ) from None
            try:
                dt = numpy.dtype(t)
            except TypeError as e:
                raise TypeError(
                    f"type must be a numpy dtype, a ctypes type or a size in bytes, not {t!r}"
                ) from e
            if dt.hasobject:
                raise TypeError(f"a shared value cannot hold Python objects ({dt})")
            if dt.itemsize < 1:
                raise ValueError(f"a shared value needs at least one byte ({dt})")
            self.kind, self.type, self.size, natural = "numpy", dt, dt.itemsize, dt.alignment
            default_tag = _numpy_tag(dt)
        if align is None:
            align = natural
        elif isinstance(align, bool) or not isinstance(align, int):
            raise TypeError(f"align must be an int, not {align!r}")
        elif align < 1 or align & (align - 1) or align > 4096:
            raise ValueError(f"align must be a power of two up to 4096, not {align}")
        self.align = align
        if tag is not None and not isinstance(tag, str):
            raise TypeError(f"tag must be a str, not {tag!r}")
        self.tag = default_tag if tag is None else tag

    @classmethod
    def as_found(cls, size: int, align: int) -> "_Layout":
        """The layout of a value opened without a type: bytes, as the object records them
        (whatever another program created, a zero-size value too), with no tag checked."""
        layout = cls.__new__(cls)
        layout.kind, layout.type, layout.size, layout.align, layout.tag = (
            "bytes", None, size, align, None
        )
        return layout

    def initial(self, value: Any) -> bytes:
        """The bytes of an initial ``value`` (``b""``: zeros)."""
        if value is None:
            return b""
        if self.kind == "numpy":
            import numpy

            data = numpy.asarray(value, dtype=self.type).tobytes()
        elif self.kind == "ctypes" and isinstance(value, self.type):
            data = bytes(value)
        else:
            data = bytes(memoryview(value).cast("B"))
        if len(data) != self.size:
            raise ValueError(f"the value has {len(data)} bytes, the shared value {self.size}")
        return data

    def view(self, mv: memoryview) -> Any:
        """The value over its bytes ``mv``: what a ``with`` block yields."""
        if self.kind == "numpy":
            import numpy

            return numpy.ndarray(shape=(), dtype=self.type, buffer=mv)
        if self.kind == "ctypes":
            return self.type.from_buffer(mv)
        return mv

    def copy(self, mv: memoryview) -> Any:
        """A private copy of the value."""
        if self.kind == "numpy":
            return self.view(mv).copy()
        if self.kind == "ctypes":
            return self.type.from_buffer_copy(mv)
        return bytes(mv)


class Shared:
    """A value that processes share by name, behind a robust mutex (Rust ``Shared<T>``).

    ``type`` is a numpy dtype (``numpy.uint64``, a structured dtype), a ctypes type
    (``ctypes.c_uint64``, a ``ctypes.Structure``) or a size in bytes::

        stats = Shared.create("stats", np.dtype([("frames", "u8"), ("dropped", "u8")]))
        with stats.lock() as s:          # a writable numpy record in the shared memory
            s["frames"] += 1

    The value yielded by ``with shared.lock() as value`` is zero-copy: a 0-d numpy array
    (``value["field"]``, ``value[()]``), a ctypes object, or a ``memoryview`` for a plain
    size. It is valid **inside** the block only. Leaving the block unlocks; it raises
    ``BufferError`` instead (the lock stays held: drop the views, then
    :meth:`SharedGuard.unlock`) if views made from the value inside the block are still
    alive (``x = value["frames"]``, ``numpy.frombuffer(value)``, a slice of the memoryview):
    copy what you keep (``int(...)``, ``.copy()``, :meth:`SharedGuard.get`). After the
    block the name ``value`` still exists: a memoryview is released, a numpy array is made
    read-only, and a ctypes object (which cannot be disabled) must not be used. A block
    left by an exception unlocks in any case (views made in it are then not checked).

    Owner death: if the previous holder died holding the lock, :meth:`lock` raises
    :class:`shmkit.OwnerDied` **with the lock held**, as ``Mutex.acquire`` does; ``e.guard``
    is the :class:`SharedGuard`: repair the value, ``e.make_consistent()`` (or
    ``e.guard.make_consistent()``), then unlock (``with e.guard as value: ...``).
    Unlocking without repairing makes the value ``Unrecoverable`` for everyone;
    ``e.unlock_unrepaired()`` hands the repair on to the next holder.

    Thread safety: a handle may be shared between threads; each :meth:`lock` is a hold of
    its own (another thread's lock waits, with the GIL released), which only the locking
    thread may end (``RuntimeError`` elsewhere); locking twice from one thread raises
    ``Deadlock``.
    """

    __slots__ = ("_native", "_layout")

    def __init__(self, native: Any, layout: _Layout) -> None:
        self._native = native
        self._layout = layout

    @classmethod
    def create(
        cls, name, type, value=None, *, tag=None, align=None, mode=DEFAULT_MODE, keep=False
    ):
        # Typed in sync.pyi only, so that help() shows ``mode=0o600`` as for every creator.
        """Creates the value ``name`` of ``type``, set to ``value`` (default zeros) before
        anyone else can see it. ``tag`` names the type for the layout check (defaults in the
        module docs); ``align`` overrides the type's alignment. Raises ``AlreadyExists``,
        ``SizeInvalid``, ``NameInvalid``."""
        layout = _Layout(type, tag, align)
        native = _native.SharedBytes.create(
            name, layout.size, layout.align, layout.tag, mode, keep, layout.initial(value)
        )
        return cls(native, layout)

    @classmethod
    def open(cls, name, type=None, *, tag=None, align=None, open_timeout=None):
        """Opens the existing value ``name``. With ``type``, its size, alignment and tag must
        match (``LayoutMismatch``); without, any value opens, as bytes (a memoryview).
        ``open_timeout``: seconds to wait for it to appear (``None``: do not wait,
        ``math.inf``: forever); then ``NotFound``."""
        if type is None:
            if tag is not None or align is not None:
                raise TypeError("tag and align need a type")
            native = _native.SharedBytes.open(name, None, None, open_timeout)
            return cls(native, _Layout.as_found(native.size, native.align))
        layout = _Layout(type, tag, align)
        native = _native.SharedBytes.open(
            name, (layout.size, layout.align), layout.tag, open_timeout
        )
        return cls(native, layout)

    @classmethod
    def open_or_create(
        cls, name, type, value=None, *, tag=None, align=None, mode=DEFAULT_MODE, keep=False
    ):
        """Opens the value ``name`` if it exists (its layout must match), else creates it set
        to ``value``. Two processes racing here get one value; :attr:`is_creator` tells which
        happened."""
        layout = _Layout(type, tag, align)
        native = _native.SharedBytes.open_or_create(
            name, layout.size, layout.align, layout.tag, mode, keep, layout.initial(value)
        )
        return cls(native, layout)

    @property
    def name(self) -> str:
        """The value's name."""
        return self._native.name

    @property
    def is_creator(self) -> bool:
        """Whether this handle created the value (and removes the name when closed)."""
        return self._native.is_creator

    @property
    def size(self) -> int:
        """The value's size in bytes."""
        return self._native.size

    @property
    def align(self) -> int:
        """The value's alignment in bytes."""
        return self._native.align

    @property
    def tag(self) -> str | None:
        """The type tag this side checks (``None`` for an open without a type)."""
        return self._layout.tag

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._native.closed

    def lock(self, timeout: float | None = None) -> SharedGuard:
        """Locks the value and returns the hold, a :class:`SharedGuard` (``with`` it).

        ``timeout``: ``None`` waits forever, ``0`` does not wait (``WouldBlock``), else
        seconds (``Timeout``). Raises ``OwnerDied`` with the lock held (``e.guard``),
        ``Unrecoverable``, ``Deadlock`` (this thread holds it already)."""
        raw, died = self._native.lock(timeout)
        guard = SharedGuard(raw, self._layout, self.name)
        if died:
            # Made by a helper: an exception bound to a local of the frame it is raised from
            # is a reference cycle (exception -> traceback -> frame -> exception), which
            # would keep the guard, and the lock, until the cyclic collector ran.
            raise _owner_died(self.name, guard)
        return guard

    def get(self, timeout: float | None = None) -> Any:
        """A private copy of the value, taken under the lock (``lock`` then
        :meth:`SharedGuard.get`)."""
        g = self.lock(timeout)
        try:
            return g.get()
        finally:
            g.unlock()

    def close(self) -> None:
        """Closes the handle (a creator removes the name). A hold (:class:`SharedGuard`)
        still alive keeps the mapping, and a creator's name, until it is gone."""
        self._native.close()

    def __enter__(self) -> Shared:
        return self

    def __exit__(self, *exc: object) -> bool:
        self.close()
        return False

    def __repr__(self) -> str:
        return f"<shmkit.sync.Shared {self.name!r} size={self.size} tag={self._layout.tag!r}>"


def _owner_died(name: str, guard: SharedGuard) -> OwnerDied:
    """The ``OwnerDied`` of a shared value, carrying its hold (``e.guard``, also ``e.mutex``)."""
    e = OwnerDied(
        f"the previous holder of {name!r} died holding its lock; repair the value, then "
        f"make_consistent()",
        name,
    )
    e.mutex = guard
    e.guard = guard
    return e


class SharedGuard:
    """One hold of a :class:`Shared` value's lock, from :meth:`Shared.lock`.

    ``with guard as value:`` yields the value in place and unlocks at the end (see
    :class:`Shared` for the rules on views); or call :meth:`unlock`. :meth:`get` copies the
    value out, :meth:`set` copies a value in. A guard that is garbage-collected still locked
    unlocks, as a Rust guard dropped (after an unrepaired owner death: ``Unrecoverable``);
    collected on another thread than the locking one it cannot unlock, and the OS reports
    an owner death to the next locker once the locking thread ends.

    Thread safety: :meth:`unlock`, :meth:`make_consistent` and :meth:`unlock_unrepaired`
    only on the thread that locked (``RuntimeError`` elsewhere).
    """

    __slots__ = ("_raw", "_layout", "_name", "_value", "_mv")

    def __init__(self, raw: Any, layout: _Layout, name: str) -> None:
        self._raw = raw
        self._layout = layout
        self._name = name
        self._value: Any = None
        self._mv: memoryview | None = None

    @property
    def locked(self) -> bool:
        """Whether this guard still holds the lock."""
        return self._raw.locked

    @property
    def needs_repair(self) -> bool:
        """Whether the lock came with an owner death not repaired yet."""
        return self._raw.needs_repair

    def make_consistent(self) -> None:
        """Declares the value repaired after an owner death; the lock stays held."""
        self._raw.make_consistent()

    def unlock_unrepaired(self) -> None:
        """Unlocks without repairing: the next holder gets ``OwnerDied`` in turn. Views as
        :meth:`unlock`."""
        self._end(clean=True, unrepaired=True)

    def unlock(self) -> None:
        """Unlocks. Raises ``BufferError`` (still locked) while views of the value are
        alive, ``RuntimeError`` from another thread than the locking one."""
        self._end(clean=True)

    def get(self) -> Any:
        """A private copy of the value (numpy array, ctypes object, or ``bytes``)."""
        with memoryview(self._raw) as mv:
            return self._layout.copy(mv)

    def set(self, value: Any) -> None:
        """Copies ``value`` (as :meth:`Shared.create` takes it) into the shared value."""
        data = self._layout.initial(value)
        with memoryview(self._raw) as mv:
            mv[: len(data)] = data

    def __enter__(self) -> Any:
        if self._mv is None:
            self._mv = memoryview(self._raw)
            self._value = self._layout.view(self._mv)
        return self._value

    def __exit__(self, t: Any, e: Any = None, tb: Any = None) -> bool:
        self._end(clean=t is None)
        return False

    def _end(self, clean: bool, unrepaired: bool = False) -> None:
        value, mv = self._value, self._mv
        self._value = self._mv = None
        if mv is not None and value is not mv:
            # Views made from the value hold it (numpy: `.base`; ctypes: `_b_base_`; any
            # buffer export: its memoryview). References here: `value`, getrefcount's
            # argument, and the `with` statement's target, if any.
            extra = sys.getrefcount(value) - 3
            if extra > 0 and clean:
                self._value, self._mv = value, mv
                raise BufferError(
                    f"{extra} view(s) of the shared value {self._name!r} are still alive "
                    "(an array or memoryview made from it); delete them (or copy) before "
                    "unlocking; the lock is still held"
                )
        if mv is not None:
            try:
                mv.release()  # fails while the value (numpy, ctypes) or an export lives
            except BufferError:
                if value is mv and clean:
                    self._value, self._mv = value, mv
                    raise BufferError(
                        f"views of the shared value {self._name!r} are still alive (made "
                        "from its memoryview); delete them before unlocking; the lock is "
                        "still held"
                    ) from None
            if value is mv:
                left = self._raw.exports
                if left and clean:
                    self._value, self._mv = value, mv
                    raise BufferError(
                        f"{left} view(s) of the shared value {self._name!r} (slices of its "
                        "memoryview) are still alive; delete them before unlocking; the lock "
                        "is still held"
                    )
        if self._layout.kind == "numpy" and value is not None:
            value.setflags(write=False)
        if unrepaired:
            self._raw.unlock_unrepaired()
        else:
            self._raw.unlock()

    def __repr__(self) -> str:
        state = "locked" if self.locked else "unlocked"
        return f"<shmkit.sync.SharedGuard {self._name!r} {state}>"
