"""Segments: the buffer protocol, lifetime, read-only access, and interop with the CLI,
other interpreters and multiprocessing."""

from __future__ import annotations

import gc
import multiprocessing as mp
import subprocess

import numpy as np
import pytest

import shmkit
from conftest import HANG, child, finish


def test_create_open_and_buffer_protocol(name):
    with shmkit.Segment.create(name, 4096) as seg:
        assert len(seg) == 4096 and seg.size == 4096
        assert seg.name == name and seg.is_creator and not seg.read_only
        mv = memoryview(seg)
        assert not mv.readonly and mv.nbytes == 4096
        mv[:5] = b"hello"
        mv.release()
        other = shmkit.Segment.open(name)
        assert bytes(memoryview(other)[:5]) == b"hello"
        assert not other.is_creator
        other.close()
    # The creator removed the name.
    with pytest.raises(shmkit.NotFound):
        shmkit.Segment.open(name)


def test_numpy_views_without_copying(name):
    seg = shmkit.Segment.create(name, 1 << 20)
    a = np.frombuffer(seg, dtype=np.float32)
    a[:] = np.arange(a.size, dtype=np.float32)
    b = np.frombuffer(shmkit.Segment.open(name), dtype=np.float32)
    assert np.shares_memory(a, np.frombuffer(seg, dtype=np.float32))
    assert np.array_equal(a, b)
    a[0] = 42.0
    assert b[0] == 42.0  # same memory


def test_read_only_segment_gives_read_only_buffers(name):
    seg = shmkit.Segment.create(name, 4096)
    ro = shmkit.Segment.open(name, read_only=True)
    assert ro.read_only
    assert memoryview(ro).readonly
    arr = np.frombuffer(ro, dtype=np.uint8)
    assert not arr.flags.writeable
    with pytest.raises(ValueError):
        arr[0] = 1
    del arr
    seg.close()


def test_close_refuses_while_views_live_and_views_keep_memory(name):
    seg = shmkit.Segment.create(name, 4096)
    arr = np.frombuffer(seg, dtype=np.uint8)
    with pytest.raises(BufferError):
        seg.close()
    assert not seg.closed
    del arr
    seg.close()
    assert seg.closed
    seg.close()  # twice is fine
    with pytest.raises(BufferError):
        memoryview(seg)


def test_dropping_the_segment_while_numpy_views_it_is_safe(name):
    arr = np.frombuffer(shmkit.Segment.create(name, 1 << 16), dtype=np.uint8)
    gc.collect()
    arr[:] = 7  # the array keeps the segment (and its mapping) alive
    assert int(arr.sum()) == 7 * (1 << 16)
    assert shmkit.Segment.open(name, read_only=True).size == 1 << 16
    del arr
    gc.collect()
    with pytest.raises(shmkit.NotFound):  # the last reference removed the name
        shmkit.Segment.open(name)


def test_keep_leaves_the_name(name):
    shmkit.Segment.create(name, 4096, keep=True).close()
    seg = shmkit.Segment.open(name)
    assert seg.size == 4096
    seg.close()
    shmkit.remove(name)
    with pytest.raises(shmkit.NotFound):
        shmkit.remove(name)


def test_errors_map_to_the_hierarchy(name):
    with pytest.raises(shmkit.NotFound) as e:
        shmkit.Segment.open(name)
    assert isinstance(e.value, FileNotFoundError) and e.value.name == name
    seg = shmkit.Segment.create(name, 4096)
    with pytest.raises(shmkit.AlreadyExists) as e:
        shmkit.Segment.create(name, 4096)
    assert isinstance(e.value, FileExistsError) and isinstance(e.value, shmkit.Error)
    with pytest.raises(shmkit.NameInvalid):
        shmkit.Segment.create("a/b", 4096)
    with pytest.raises(shmkit.SizeInvalid):
        shmkit.Segment.create(name + "x", 0)
    seg.close()


def test_access_denied_is_a_permission_error(name):
    import os

    if os.geteuid() == 0:
        pytest.skip("root is never refused")
    shmkit.Segment.create(name, 4096, mode=0o400, keep=True).close()
    with pytest.raises(PermissionError) as e:
        shmkit.Segment.open(name)
    assert isinstance(e.value, shmkit.AccessDenied)


def test_cli_write_python_read_and_back(name, cli):
    seg = shmkit.Segment.create(name, 64)
    subprocess.run([cli, "write", name, "--text", "from the CLI"], check=True, timeout=HANG)
    assert bytes(memoryview(seg)[:12]) == b"from the CLI"
    memoryview(seg)[16:32] = b"from Python 3.11"
    out = subprocess.run(
        [cli, "read", name, "--offset", "16", "--len", "16"],
        check=True,
        capture_output=True,
        timeout=HANG,
    ).stdout
    assert out == b"from Python 3.11"
    seg.close()


def test_unrelated_interpreter_reads_numpy_in_place(name):
    seg = shmkit.Segment.create(name, 4 * 1024)
    np.frombuffer(seg, dtype=np.int32)[:] = np.arange(1024, dtype=np.int32)
    p = child(
        """
        import sys, numpy as np, shmkit
        seg = shmkit.Segment.open(sys.argv[1], read_only=True)
        a = np.frombuffer(seg, dtype=np.int32)
        print(int(a.sum()))
        """,
        name,
    )
    assert int(finish(p)) == sum(range(1024))


def _fill(name: str, value: int) -> None:
    seg = shmkit.Segment.open(name)
    np.frombuffer(seg, dtype=np.uint8)[:] = value


def test_multiprocessing_process_writes_in_place(name):
    seg = shmkit.Segment.create(name, 1 << 16)
    p = mp.get_context("spawn").Process(target=_fill, args=(name, 9))
    p.start()
    p.join(HANG)
    assert p.exitcode == 0
    assert np.all(np.frombuffer(seg, dtype=np.uint8) == 9)


def test_python_shared_memory_sees_the_same_bytes(name):
    from multiprocessing import shared_memory

    seg = shmkit.Segment.create(name, 4096)
    memoryview(seg)[:4] = b"shmk"
    shm = shared_memory.SharedMemory(name)
    try:
        assert bytes(shm.buf[:4]) == b"shmk"
    finally:
        # Python < 3.13 registers attached segments with its resource tracker (which would
        # remove the name at exit): undo that, as the interop notes say.
        from multiprocessing import resource_tracker

        resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
        shm.close()
