"""``DEFAULT_MODE``, an ``int`` shown in octal (a module of its own so that the submodules,
imported by ``shmkit/__init__.py`` before it is done, can use it in their signatures)."""

from __future__ import annotations

from . import _shmkit


class _Octal(int):
    """An ``int`` whose ``repr`` is octal (``0o600``); ``str`` stays decimal.

    The native functions' text signatures say ``mode=shmkit.DEFAULT_MODE``; ``inspect`` (and
    so ``help()``) looks the name up and shows its ``repr``, so signatures read
    ``mode=0o600``. A literal ``0o600`` there would be parsed into the plain int 384.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"0o{int(self):o}"

    __str__ = int.__repr__


#: The permission bits a new object gets unless ``mode=`` says otherwise: ``0o600``, its
#: owner only (Rust: ``shmkit::segment::DEFAULT_MODE``).
DEFAULT_MODE: int = _Octal(_shmkit.DEFAULT_MODE)
