"""The C API to Python across processes: the C publisher example
(`crates/shmkit-c/examples/c/publisher.c`, typed records of a C struct on a broadcast) to a
Python subscriber, which receives them as bytes and unpacks them with `struct`, or as a
typed subscriber of the equivalent numpy dtype (`layout=`). The typed C channel peers of
Python are in test_typed.py.

Needs a C compiler and the C library: `SHMKIT_C_LIB_DIR` names the directory holding
`libshmkit_c.so` (`.dylib`: CI sets it, and the test fails if it is not there); without it,
target/{debug,release} of the workspace are tried, and the test is skipped when none has the
library.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import shmkit
from shmkit import broadcast
from conftest import HANG, REPO

C_DIR = REPO / "crates" / "shmkit-c"
LIB = "libshmkit_c.dylib" if sys.platform == "darwin" else "libshmkit_c.so"
# The C struct `reading` { uint64_t seq; double value; uint32_t sensor; uint32_t flags; }:
# 24 bytes, no padding, native byte order.
READING = struct.Struct("=QdII")


def _lib_dir() -> Path | None:
    env = os.environ.get("SHMKIT_C_LIB_DIR")
    candidates = [Path(env)] if env else [REPO / "target" / p for p in ("debug", "release")]
    return next((d for d in candidates if (d / LIB).exists()), None)


@pytest.fixture(scope="module")
def c_publisher(tmp_path_factory) -> Path:
    """The C publisher example, compiled against the C library."""
    if sys.platform == "win32":
        pytest.skip("the C examples are built by the Windows CI job (mingw), not here")
    lib = _lib_dir()
    if lib is None and os.environ.get("SHMKIT_C_LIB_DIR"):
        pytest.fail(f"SHMKIT_C_LIB_DIR has no {LIB}")
    if lib is None:
        pytest.skip(f"the C library is not built (set SHMKIT_C_LIB_DIR to the directory of {LIB})")
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc})")
    exe = tmp_path_factory.mktemp("c") / "publisher"
    subprocess.run(
        [cc, "-std=c11", "-Wall", "-Wextra", "-Werror",
         "-I", str(C_DIR / "include"), str(C_DIR / "examples" / "c" / "publisher.c"),
         "-o", str(exe), "-L", str(lib), f"-Wl,-rpath,{lib}", "-lshmkit_c"],
        check=True, capture_output=True, text=True, timeout=HANG,
    )
    return exe


def record(i: int) -> tuple[int, float, int, int]:
    """Record i, as the C publisher makes it."""
    return (i, i * 0.5, i % 7, 0xC0FFEE ^ (i & 0xFFFFFFFF))


def test_a_c_publisher_to_a_python_subscriber(c_publisher, name):
    count = 1000
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    pub = subprocess.Popen(
        [str(c_publisher), name, str(count), "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        sub = broadcast.open_subscriber(name, open_timeout=HANG)
        # It receives from where it joined: the publisher counts it as attached a moment
        # before it fixes that, so under load it may start after record 0; from there on,
        # under back-pressure, it gets every one in order.
        with sub.recv(timeout=HANG) as m:
            start = m.seq
            assert READING.unpack(bytes(m)) == record(start)
        buf = bytearray()
        for i in range(start + 1, count):
            if i % 2:
                n = sub.recv_into(buf, timeout=HANG)
                got = READING.unpack(bytes(buf[:n]))
            else:
                with sub.recv(timeout=HANG) as m:
                    assert m.seq == i
                    got = READING.unpack(bytes(m))
            assert got == record(i)
        with pytest.raises(shmkit.Disconnected):
            sub.recv(timeout=HANG)
        sub.close()
        out, err = pub.communicate(timeout=HANG)
        assert pub.returncode == 0, err
        assert f"published {count} records" in out
    finally:
        if pub.poll() is None:
            pub.kill()
            pub.wait()


# The same struct as a numpy dtype: `align=True` lays it out as the C compiler does.
READING_DTYPE = [("seq", "<u8"), ("value", "<f8"), ("sensor", "<u4"), ("flags", "<u4")]


def test_a_c_publisher_to_a_python_typed_subscriber(c_publisher, name):
    np = pytest.importorskip("numpy")
    reading = np.dtype(READING_DTYPE, align=True)
    count = 200
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    pub = subprocess.Popen(
        [str(c_publisher), name, str(count), "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        # Another tag, or the packed dtype (alignment 1), is another type.
        for layout, tag in ((reading, "reading v2"), (np.dtype(READING_DTYPE), "reading v1")):
            with pytest.raises(shmkit.LayoutMismatch, match='tag "reading v1"'):
                broadcast.open_subscriber(name, layout=layout, tag=tag, open_timeout=HANG)
        sub = broadcast.open_subscriber(name, layout=reading, tag="reading v1")
        assert sub.layout == shmkit.Layout(24, 8, "reading v1")
        with sub.recv(timeout=HANG) as m:
            start = m.seq
        for i in range(start + 1, count):
            with sub.recv(timeout=HANG) as m:
                r = m.value
                assert (int(r["seq"]), float(r["value"]), int(r["sensor"]), int(r["flags"])) == record(i)
                del r
        with pytest.raises(shmkit.Disconnected):
            sub.recv(timeout=HANG)
        sub.close()
        out, err = pub.communicate(timeout=HANG)
        assert pub.returncode == 0, err
    finally:
        if pub.poll() is None:
            pub.kill()
            pub.wait()
