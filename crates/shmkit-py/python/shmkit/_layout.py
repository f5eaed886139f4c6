"""Message layouts of typed sides: :class:`Layout`, and how a numpy dtype or a ctypes type
becomes one, and how a typed message is viewed.

A layout is what Rust's ``shmkit::channel::MessageLayout`` records: a size, an alignment and
an optional tag, and the fingerprint over them (FNV-1a 64 of size and alignment as
little-endian u64s, then the tag's UTF-8 bytes) that every opener compares. The same three
numbers come from a Rust ``#[repr(C)]`` ``Pod`` type (``size_of``, ``align_of``), a C struct
(``sizeof``, ``_Alignof``), a numpy dtype (``itemsize``, ``alignment``) or a ctypes type
(``ctypes.sizeof``, ``ctypes.alignment``), so all of them meet on one typed channel.

A numpy structured dtype made without ``align=True`` is *packed*: alignment 1 and no
padding, which is not how a C compiler or Rust lays out the same fields. Its layout differs
from the C struct's (``LayoutMismatch``): pass ``align=True``.

numpy is imported only when a dtype is given or a numpy view is made: a program that uses
ctypes layouts or bytes never needs it.
"""

from __future__ import annotations

import ctypes
from typing import Any

__all__ = ["Layout"]

_CTYPES_BASES: tuple[Any, ...] = (
    ctypes._SimpleCData,  # type: ignore[attr-defined]
    ctypes.Structure,
    ctypes.Union,
    ctypes.Array,
)
_MAX = (1 << 32) - 1


def _fingerprint(size: int, align: int, tag: str | None) -> int:
    """FNV-1a 64 over size (u64 LE), alignment (u64 LE) and the tag's bytes: Rust's."""
    h = 0xCBF29CE484222325
    for b in size.to_bytes(8, "little") + align.to_bytes(8, "little") + (tag or "").encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class Layout:
    """The layout of a typed side's messages: ``size`` and ``align`` in bytes and an optional
    ``tag`` (a name and version, ``"pose v1"``), as Rust's ``MessageLayout`` records them.

    ``Layout(size, align, tag=None)`` gives one by numbers (its messages are viewed as
    ``memoryview``); :meth:`of` makes one from a numpy dtype or a ctypes type, which is kept
    (``dtype`` / ``ctype``) to view the messages as that type. Two layouts are equal when
    size, alignment and :attr:`fingerprint` are (the element type is not compared).

    Thread safety: an immutable value; may be shared between threads and pickled to other
    processes.
    """

    __slots__ = ("size", "align", "tag", "fingerprint", "dtype", "ctype")

    size: int
    align: int
    tag: str | None
    fingerprint: int
    dtype: Any
    ctype: Any

    def __init__(self, size: int, align: int, tag: str | None = None) -> None:
        if not isinstance(size, int) or not isinstance(align, int):
            raise TypeError("Layout(size, align, tag=None) takes integers")
        if not 1 <= size <= _MAX:
            raise ValueError(f"layout size {size}: must be 1 to 4 GiB - 1")
        if align < 1 or align & (align - 1) or align > _MAX:
            raise ValueError(f"layout align {align}: must be a power of two")
        if tag is not None and not isinstance(tag, str):
            raise TypeError(f"tag must be a str or None, not {type(tag).__name__}")
        tag = tag or None
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "align", align)
        object.__setattr__(self, "tag", tag)
        object.__setattr__(self, "fingerprint", _fingerprint(size, align, tag))
        object.__setattr__(self, "dtype", None)
        object.__setattr__(self, "ctype", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a Layout is immutable")

    @classmethod
    def of(cls, type_: Any, tag: str | None = None) -> Layout:
        """The layout of a numpy dtype (anything ``numpy.dtype()`` takes), a ctypes type
        (``Structure``, ``Union``, array or scalar), or a ``Layout`` (``tag`` added, if it
        has none). Raises ``TypeError`` for anything else, ``ValueError`` for a dtype that
        holds Python objects or has no size, or a ``Layout`` whose tag differs."""
        if isinstance(type_, Layout):
            if tag and type_.tag and tag != type_.tag:
                raise ValueError(f"tag={tag!r}, but the Layout's tag is {type_.tag!r}")
            if not tag or type_.tag:
                return type_
            out = Layout(type_.size, type_.align, tag)
            object.__setattr__(out, "dtype", type_.dtype)
            object.__setattr__(out, "ctype", type_.ctype)
            return out
        if isinstance(type_, type) and issubclass(type_, _CTYPES_BASES):
            out = Layout(ctypes.sizeof(type_), ctypes.alignment(type_), tag)
            object.__setattr__(out, "ctype", type_)
            return out
        try:
            import numpy as np
        except ImportError:
            raise TypeError(
                f"layout must be a shmkit.Layout, a ctypes type or a numpy dtype, not "
                f"{type_!r} (numpy is not installed)"
            ) from None
        try:
            dt = np.dtype(type_)
        except TypeError:
            raise TypeError(
                f"layout must be a shmkit.Layout, a ctypes type or a numpy dtype, not {type_!r}"
            ) from None
        if dt.hasobject:
            raise ValueError(f"dtype {dt}: Python objects cannot live in shared memory")
        if dt.itemsize == 0:
            raise ValueError(f"dtype {dt} has no size")
        out = Layout(dt.itemsize, dt.alignment, tag)
        object.__setattr__(out, "dtype", dt)
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Layout):
            return NotImplemented
        return (self.size, self.align, self.fingerprint) == (
            other.size,
            other.align,
            other.fingerprint,
        )

    def __hash__(self) -> int:
        return hash((self.size, self.align, self.fingerprint))

    def __repr__(self) -> str:
        tag = f", tag={self.tag!r}" if self.tag else ""
        of = ""
        if self.dtype is not None:
            of = f", dtype={self.dtype!r}"
        elif self.ctype is not None:
            of = f", ctype={self.ctype.__name__}"
        return f"Layout(size={self.size}, align={self.align}{tag}{of})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with its element type (multiprocessing passes layouts to workers).
        of = self.dtype if self.dtype is not None else self.ctype
        if of is None:
            return (Layout, (self.size, self.align, self.tag))
        return (Layout.of, (of, self.tag))


def _resolve(layout: Any, tag: str | None) -> Layout:
    """What the native functions call for ``layout=`` / ``tag=``."""
    return Layout.of(layout, tag)


def _view(layout: Layout, exporter: Any, one: bool, writable: bool) -> Any:
    """A zero-copy view of a typed message (a sample's or loan's bytes, which hold a whole
    number of ``layout.size`` records): a numpy array of ``layout.dtype`` (shape ``()`` for
    one record, ``(n,)`` for a slice), a ctypes object (``ctype`` or ``ctype * n``), or a
    memoryview for a layout given by numbers.

    Every view holds a buffer export of ``exporter``, so releasing or committing it while
    the view lives raises ``BufferError``.
    """
    if layout.dtype is not None:
        import numpy as np

        a = np.frombuffer(exporter, dtype=layout.dtype)
        # A subarray dtype (``("<f4", 3)``) gives arrays of its base type with its shape
        # appended: shape (n, 3), and (3,) for one record.
        shape = layout.dtype.shape
        return (a.reshape(shape) if shape else a.reshape(())) if one else a
    mv = memoryview(exporter)
    if layout.ctype is None:
        return mv
    n = len(mv) // layout.size
    t = layout.ctype if one else layout.ctype * n
    if writable:
        return t.from_buffer(mv)  # holds `mv` (and so the export) while it lives
    # ctypes has no read-only instances (``from_buffer`` refuses read-only memory), and an
    # object made at the sample's address would let its reader write into what the sender
    # (and, on a broadcast, every other subscriber) reads: a received ctypes value is a copy.
    # numpy gives zero-copy read-only views.
    obj = t.from_buffer_copy(mv)
    mv.release()
    return obj


def _check_send(layout: Layout, data: Any) -> Any:
    """``TypeError`` if ``data`` is typed (a numpy array or scalar, a ctypes object) but not
    of the layout's type: the same dtype (or ctypes type, or arrays of it) when the side was
    opened with one of the same kind, else the same size and alignment. Plain buffers
    (bytes) are checked by length only (by the caller). Returns what to send: ``data``, or
    a byte view of a ctypes object or numpy record (0-dimensional buffers have no shape).
    """
    dt = getattr(data, "dtype", None)
    if dt is not None:
        if layout.dtype is not None:
            want, shape = layout.dtype.base, layout.dtype.shape
            # A subarray dtype's records are arrays of its base type ending in its shape.
            sub_ok = bool(shape) and dt == want and tuple(data.shape[-len(shape):]) == shape
            if dt != layout.dtype and not sub_ok:
                raise TypeError(f"the data's dtype is {dt}; this side carries {layout.dtype}")
        elif (dt.itemsize, dt.alignment) != (layout.size, layout.align):
            raise TypeError(f"the data's dtype is {dt}; this side carries {layout!r}")
        # A record (numpy.void) or 0-d array exports a buffer with no shape: as bytes.
        return memoryview(data).cast("B") if getattr(data, "ndim", 1) == 0 else data
    if isinstance(data, _CTYPES_BASES):
        t: Any = type(data)
        while issubclass(t, ctypes.Array) and t is not layout.ctype:
            t = t._type_
        if layout.ctype is not None:
            ok = t is layout.ctype
        else:
            ok = (ctypes.sizeof(t), ctypes.alignment(t)) == (layout.size, layout.align)
        if not ok:
            raise TypeError(f"the data is a {type(data).__name__}; this side carries {layout!r}")
        return memoryview(data).cast("B")
    return data


def _service_layouts(request: Any, response: Any, tag: str | None) -> tuple[Layout, Layout] | None:
    """A typed service's ``(request, response)`` layouts, tagged ``"<tag> request"`` and
    ``"<tag> response"`` as Rust's ``service::typed::<Req, Resp>().tag(tag)`` records them
    (and the C API's service options); ``None`` for a byte service."""
    if request is None and response is None:
        if tag:
            raise ValueError("tag= names the message types: give request_layout= and response_layout=")
        return None
    if request is None or response is None:
        raise ValueError("a typed service needs both request_layout and response_layout (or neither)")
    out = []
    for x, what in ((request, "request"), (response, "response")):
        base = Layout.of(x, tag)
        layout = Layout(base.size, base.align, f"{base.tag} {what}" if base.tag else None)
        object.__setattr__(layout, "dtype", base.dtype)
        object.__setattr__(layout, "ctype", base.ctype)
        out.append(layout)
    return out[0], out[1]


def _value_of(layout: Layout, data: bytes) -> Any:
    """A typed service's message (a copy) as its type: a read-only numpy record (shape
    ``()``), a ctypes object, or the bytes for a layout given by numbers."""
    if layout.dtype is not None:
        import numpy as np

        return np.frombuffer(data, dtype=layout.dtype).reshape(())
    if layout.ctype is not None:
        return layout.ctype.from_buffer_copy(data)
    return data
