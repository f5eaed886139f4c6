"""shmkit.FileMapping and its Views: across processes, flush to disk, ranges, read-only and
copy-on-write access, bad sizes, views that outlive the handle, threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import shmkit
from shmkit import FileMapping
from conftest import child, finish

PEER = """
import sys, numpy as np, shmkit
f = shmkit.FileMapping.open(sys.argv[1], 1 << 16)
with f.map() as view:
    a = np.frombuffer(view, dtype=np.uint32)
    assert int(a[1000]) == 1234, int(a[1000])     # what the parent wrote, not yet flushed
    a[2000] = 5678                                 # seen by the parent's mapping at once
    del a
    view.flush()
f.close()
"""


def test_a_second_process_shares_the_mapping_and_flush_reaches_the_file(tmp_path):
    path = tmp_path / "data.bin"
    f = FileMapping.create(path, 1 << 16)
    assert (f.path, f.size, len(f), f.read_only) == (str(path), 1 << 16, 1 << 16, False)
    view = f.map()
    assert (view.offset, view.size, view.access) == (0, 1 << 16, "read_write")
    a = np.frombuffer(view, dtype=np.uint32)
    a[1000] = 1234
    finish(child(PEER, str(path)))
    assert int(a[2000]) == 5678  # the child's write, through the shared mapping
    del a
    view.flush()
    view.close()
    f.close()
    on_disk = np.fromfile(path, dtype=np.uint32)
    assert int(on_disk[1000]) == 1234 and int(on_disk[2000]) == 5678


def test_ranges_and_range_flush(tmp_path):
    path = tmp_path / "r.bin"
    with FileMapping.create(path, 3 * 4096) as f:
        with f.map(5000, 100) as v:  # any offset: aligned internally
            assert (v.offset, v.size, len(v)) == (5000, 100, 100)
            m = memoryview(v)
            m[:5] = b"hello"
            m.release()
            v.flush(0, 5)
            v.flush(10)  # from 10 to the end of the view
            with pytest.raises(shmkit.SizeInvalid):
                v.flush(90, 20)
            with pytest.raises(shmkit.SizeInvalid):
                v.flush(101)
            with pytest.raises(ValueError):
                v.flush(-1)
        with f.map(12000) as tail:  # from an offset to the end
            assert tail.size == 3 * 4096 - 12000
    assert path.read_bytes()[5000:5005] == b"hello"


def test_read_only_opens_refuse_writes_and_copy_on_write_stays_private(tmp_path):
    path = tmp_path / "ro.bin"
    path.write_bytes(b"abcdefgh" * 512)
    f = FileMapping.open(path, read_only=True)
    assert f.read_only and f.size == 4096
    v = f.map()
    assert v.access == "read_only"
    with pytest.raises(TypeError):
        memoryview(v)[0] = 0
    arr = np.frombuffer(v, dtype=np.uint8)
    assert not arr.flags.writeable
    with pytest.raises(ValueError):
        arr[0] = 1
    del arr
    with pytest.raises(shmkit.AccessMismatch):
        f.map(access="read_write")
    cow = f.map(access="copy_on_write")
    m = memoryview(cow)
    m[:3] = b"XYZ"
    assert bytes(m[:4]) == b"XYZd" and bytes(memoryview(v)[:4]) == b"abcd"
    m.release()
    cow.flush()  # a no-op: copy-on-write never reaches the file
    assert path.read_bytes()[:4] == b"abcd"


def test_wrong_sizes_and_arguments_are_clear_errors(tmp_path):
    path = tmp_path / "s.bin"
    with pytest.raises(shmkit.SizeInvalid):
        FileMapping.create(path, 0)
    with pytest.raises(ValueError):
        FileMapping.create(path, -5)
    f = FileMapping.create(path, 4096)
    with pytest.raises(shmkit.AlreadyExists):
        FileMapping.create(path, 4096)
    with pytest.raises(shmkit.SizeInvalid):
        FileMapping.open(path, 8192)  # fewer bytes than asked for
    with pytest.raises(shmkit.SizeInvalid):
        f.map(4096)
    with pytest.raises(shmkit.SizeInvalid):
        f.map(0, 4097)
    with pytest.raises(shmkit.SizeInvalid):
        f.map(0, 0)
    with pytest.raises(ValueError):
        f.map(-1)
    with pytest.raises(ValueError):
        f.map(access="rw")
    with pytest.raises(shmkit.NotFound):
        FileMapping.open(tmp_path / "missing.bin")
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(shmkit.SizeInvalid):
        FileMapping.open(tmp_path / "empty.bin")
    assert FileMapping.open_or_create(path, 100).size == 4096  # exists: opened
    assert FileMapping.open_or_create(tmp_path / "n.bin", 100).size == 100


def test_views_outlive_the_handle_but_not_their_buffers(tmp_path):
    f = FileMapping.create(tmp_path / "v.bin", 4096)
    v = f.map()
    f.close()
    assert f.closed
    with pytest.raises(ValueError):
        f.map()
    a = np.frombuffer(v, dtype=np.uint8)
    a[0] = 7  # the view keeps its mapping after the handle is closed
    with pytest.raises(BufferError):
        v.close()
    assert not v.closed
    del a
    v.close()
    v.close()  # twice is fine
    with pytest.raises(BufferError):
        memoryview(v)
    with pytest.raises(ValueError):
        v.flush()


def test_threads_map_write_and_flush_their_own_ranges(tmp_path):
    path = tmp_path / "t.bin"
    f = FileMapping.create(path, 8 * 4096)
    errors = []

    def work(k):
        try:
            for _ in range(20):
                with f.map(k * 4096, 4096) as v:
                    a = np.frombuffer(v, dtype=np.uint8)
                    a[:] = k + 1
                    del a
                    v.flush()
        except Exception as e:  # noqa: BLE001 — reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    f.close()
    data = np.fromfile(path, dtype=np.uint8).reshape(8, 4096)
    assert all((data[k] == k + 1).all() for k in range(8))
