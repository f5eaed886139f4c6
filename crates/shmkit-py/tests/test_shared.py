"""shmkit.sync.Shared: a value behind the robust mutex, across threads and processes (Python
children and the Rust `sync_counter` example), owner death, layouts, and the view rules."""

from __future__ import annotations

import ctypes
import gc
import multiprocessing as mp
import os
import signal
import subprocess
import threading

import numpy as np
import pytest

import shmkit
from shmkit.sync import Shared, SharedGuard
from conftest import HANG, REPO, child, finish

STATS = np.dtype([("frames", "<u8"), ("dropped", "<u8")], align=True)


class Stats(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_uint64), ("dropped", ctypes.c_uint64)]


def _add(name: str, threads: int, n: int) -> None:
    """Adds 1 to the counter `name`, n times in each of `threads` threads."""
    s = Shared.open(name, np.uint64, open_timeout=HANG)

    def work():
        for _ in range(n):
            with s.lock(timeout=HANG) as v:
                v += 1  # in place: a 0-d array

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    s.close()


def test_counter_from_several_processes_and_threads_is_exact(name):
    s = Shared.create(name, np.uint64)
    assert s.size == 8 and s.align == 8 and s.tag == "u64" and s.is_creator
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_add, args=(name, 3, 400)) for _ in range(3)]
    for p in procs:
        p.start()
    _add(name, 2, 400)  # this process too, two threads
    for p in procs:
        p.join(HANG)
        assert p.exitcode == 0
    assert int(s.get()) == 3 * 3 * 400 + 2 * 400
    s.close()


def _example(name: str) -> str | None:
    for profile in ("debug", "release"):
        p = REPO / "target" / profile / "examples" / name
        if p.exists():
            return str(p)
    return None


def test_a_rust_shared_u64_counts_with_python(name, cli):
    exe = _example("sync_counter")
    if exe is None:
        pytest.skip("cargo build -p shmkit --example sync_counter")
    # Python creates the value (Rust's default tag for u64 is "u64", as here); the Rust
    # example opens it, adds 1000, and waits for both processes' 2000.
    s = Shared.open_or_create(name, np.uint64)
    p = subprocess.Popen([exe, name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(1000):
            with s.lock(timeout=HANG) as v:
                v += 1
        out, err = p.communicate(timeout=HANG)
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 0, err
    assert "counter: opened" in out and "counter: total 2000" in out, out
    assert int(s.get()) == 2000
    info = subprocess.run([cli, "info", name], capture_output=True, text=True, timeout=HANG)
    assert info.returncode == 0, info.stderr
    assert "shared" in info.stdout
    assert shmkit.inspect(name)["details"]["size"] == 8


DYING_HOLDER = """
import sys, numpy as np, shmkit
dt = np.dtype([("frames", "<u8"), ("dropped", "<u8")], align=True)
s = shmkit.sync.Shared.open(sys.argv[1], dt, tag="Stats")
g = s.lock()
v = g.__enter__()
v["frames"] = 99                     # half an update...
print("holding", flush=True)
sys.stdin.readline()                 # ...killed here
"""


def _kill_a_holder(name):
    p = child(DYING_HOLDER, name, stdin=subprocess.PIPE)
    assert p.stdout.readline().strip() == "holding", p.stderr.read()
    os.kill(p.pid, signal.SIGKILL)
    p.wait(HANG)


def test_a_killed_holder_is_reported_and_repaired(name):
    s = Shared.create(name, STATS, (5, 1), tag="Stats")
    _kill_a_holder(name)
    with pytest.raises(shmkit.OwnerDied) as e:
        s.lock(timeout=HANG)
    died = e.value
    g = died.guard
    assert isinstance(g, SharedGuard) and died.mutex is g and died.name == name
    assert g.locked and g.needs_repair
    with g as v:
        assert int(v["frames"]) == 99  # what the dead holder left
        v["frames"] = 6  # repair
        died.make_consistent()
        assert not g.needs_repair
    assert not g.locked
    with s.lock(timeout=HANG) as v:  # consistent again: plain locking works
        assert (int(v["frames"]), int(v["dropped"])) == (6, 1)


def test_an_unrepaired_death_is_handed_on_or_breaks_the_value(name):
    s = Shared.create(name, STATS, tag="Stats")
    _kill_a_holder(name)
    with pytest.raises(shmkit.OwnerDied) as e:
        s.lock(timeout=HANG)
    e.value.unlock_unrepaired()  # the next holder is told in turn
    with pytest.raises(shmkit.OwnerDied) as e2:
        s.lock(timeout=HANG)
    e2.value.guard.unlock()  # unlocked unrepaired: broken for everyone
    with pytest.raises(shmkit.Unrecoverable):
        s.lock(timeout=HANG)
    with pytest.raises(shmkit.Unrecoverable):
        Shared.open(name, Stats).lock(timeout=HANG)


def test_layouts_interoperate_and_mismatches_are_errors(name):
    s = Shared.create(name, STATS, (1, 2), tag="Stats")
    c = Shared.open(name, Stats)  # a ctypes Structure's default tag is its class name
    with c.lock() as v:
        assert isinstance(v, Stats) and (v.frames, v.dropped) == (1, 2)
        v.frames += 10
    raw = Shared.open(name)  # no type: any value, as bytes
    assert (raw.size, raw.align, raw.tag) == (16, 8, None)  # nothing checked
    with raw.lock() as mv:
        assert isinstance(mv, memoryview) and len(mv) == 16
        assert bytes(mv[:8]) == (11).to_bytes(8, "little")
    with pytest.raises(shmkit.LayoutMismatch, match="size"):
        Shared.open(name, np.uint64)
    # Another program may make a value Python would not (zero bytes): opened untyped, it
    # is what it is.
    from shmkit._shmkit import sync as native

    empty = native.SharedBytes.create(name + "-0", 0, 1, "[u8; 0]", 0o600, False, b"")
    e = Shared.open(name + "-0")
    assert (e.size, e.align) == (0, 1)
    with e.lock() as mv:
        assert len(mv) == 0
    e.close()
    empty.close()
    with pytest.raises(shmkit.LayoutMismatch, match="alignment"):
        Shared.open(name, STATS, tag="Stats", align=16)
    with pytest.raises(shmkit.LayoutMismatch, match="tag"):
        Shared.open(name, STATS)  # the default tag of a structured dtype is not "Stats"
    unaligned = np.dtype([("frames", "<u8"), ("dropped", "<u8")])  # alignment 1
    with pytest.raises(shmkit.LayoutMismatch, match="alignment"):
        Shared.open(name, unaligned, tag="Stats")
    assert Shared.open(name, unaligned, tag="Stats", align=8).get()["frames"] == 11
    assert Shared.open(name, 16, tag="Stats", align=8).get()[:8] == (11).to_bytes(8, "little")
    with pytest.raises(shmkit.KindMismatch):
        shmkit.sync.Mutex.open(name)


def test_default_tags_follow_rust_names(names):
    cases = [
        (np.uint64, "u64"),
        (np.float32, "f32"),
        (np.dtype(("<u4", (4,))), "[u32; 4]"),
        (ctypes.c_int16, "i16"),
        (ctypes.c_double * 3, "[f64; 3]"),
        (Stats, "Stats"),
        (12, "[u8; 12]"),
    ]
    for t, tag in cases:
        assert Shared.create(names(), t).tag == tag, t


def test_bad_arguments_are_clear_errors(name):
    for bad in ("not a dtype", object(), True, np.dtype("O")):
        with pytest.raises(TypeError):
            Shared.create(name, bad)
    with pytest.raises(ValueError):
        Shared.create(name, 0)
    with pytest.raises(ValueError):
        Shared.create(name, 8, align=3)
    with pytest.raises(ValueError):
        Shared.create(name, 8, b"too long, nine+ bytes")
    with pytest.raises(TypeError):
        Shared.open(name, tag="x")
    s = Shared.create(name, np.uint64)
    with pytest.raises(ValueError):
        s.lock(timeout=-1)
    with pytest.raises(shmkit.NotFound):
        Shared.open(name + "-missing")
    with pytest.raises(shmkit.AlreadyExists):
        Shared.create(name, np.uint64)


def test_views_must_not_outlive_the_lock(name):
    s = Shared.create(name, STATS, tag="Stats")
    g = s.lock()
    with pytest.raises(BufferError):
        with g as v:
            frames = v["frames"]  # a view of the value, kept past the block
    assert g.locked  # still held: nothing escaped the lock
    del frames
    g.unlock()
    assert not g.locked
    assert not v.flags.writeable  # the block's value is made read-only after it
    with pytest.raises(ValueError):
        v["frames"] = 1
    # A plain size gives a memoryview, released at the end; its slices count as views.
    b = Shared.open(name)
    g = b.lock()
    with pytest.raises(BufferError):
        with g as mv:
            part = mv[:4]
    del part
    g.unlock()
    with pytest.raises(ValueError):
        mv[0]
    # Copies are fine to keep.
    with s.lock() as v:
        kept = v.copy()
        n = int(v["frames"])
    assert kept["frames"] == n
    # An exception in the block unlocks in any case.
    with pytest.raises(KeyError):
        with s.lock() as v:
            x = v["frames"]
            raise KeyError("boom")
    del x
    with s.lock(timeout=0):
        pass


def test_get_set_and_initial_values(name):
    s = Shared.create(name, STATS, (3, 4), tag="Stats")
    assert s.get().item() == (3, 4)
    g = s.lock()
    g.set((7, 8))
    assert g.get().item() == (7, 8)
    g.unlock()
    with pytest.raises(BufferError):
        g.get()  # unlocked: no view of the value any more
    with pytest.raises(RuntimeError):
        g.unlock()
    c = Shared.open(name, Stats)
    with c.lock() as v:
        assert (v.frames, v.dropped) == (7, 8)


def test_threads_wait_for_each_other_and_only_the_locker_unlocks(name):
    s = Shared.create(name, np.uint64)
    g = s.lock()
    with pytest.raises(shmkit.Deadlock):
        s.lock()
    out = []

    def other():
        for t in (0, 0.05):
            try:
                s.lock(timeout=t)
            except shmkit.Timeout as e:  # WouldBlock is a Timeout
                out.append(type(e).__name__)
        try:
            g.unlock()
        except RuntimeError:
            out.append("refused")

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert out == ["WouldBlock", "Timeout", "refused"]
    assert g.locked
    got = []
    t = threading.Thread(target=lambda: got.append(int(s.get(timeout=HANG))))
    t.start()
    g.set(5)
    g.unlock()  # the waiting thread gets it now
    t.join()
    assert got == [5]


def test_close_keeps_memory_under_live_views(name):
    s = Shared.create(name, np.uint64, 9)
    with s.lock() as v:
        pass
    s.close()
    assert s.closed and int(v) == 9  # still mapped: the view holds it
    with pytest.raises(ValueError):
        s.lock()
    del v
    with pytest.raises(shmkit.NotFound):
        Shared.open(name)  # the creator's name went with the last reference


def test_a_second_process_sees_a_structured_value(name):
    s = Shared.create(name, STATS, tag="Stats")
    with s.lock() as v:
        v["frames"] = 41
    p = child(
        """
        import sys, ctypes, shmkit
        class Stats(ctypes.Structure):
            _fields_ = [("frames", ctypes.c_uint64), ("dropped", ctypes.c_uint64)]
        s = shmkit.sync.Shared.open(sys.argv[1], Stats)
        with s.lock() as v:
            v.frames += 1
            v.dropped = 7
        """,
        name,
    )
    finish(p)
    assert s.get().item() == (42, 7)


def test_an_ignored_owner_died_hands_the_repair_on_at_once(name):
    # The exception carries the hold (`e.guard`); once it is dropped, refcounting alone (no
    # cyclic collection: it is off here) must end the hold, unrepaired: the next locker is
    # told of the death in turn, instead of waiting (or this thread getting Deadlock).
    s = Shared.create(name, STATS, tag="Stats")
    _kill_a_holder(name)
    gc.disable()
    try:
        try:
            s.get(timeout=HANG)
        except shmkit.OwnerDied:
            pass  # ignored, as `try: ... except shmkit.Error: log` would
        else:
            pytest.fail("no OwnerDied")
        with pytest.raises(shmkit.OwnerDied) as e:
            s.lock(timeout=HANG)
        e.value.guard.make_consistent()
        e.value.guard.unlock()
        assert s.get(timeout=HANG)["frames"] == 99  # what the killed holder wrote
    finally:
        gc.enable()


def test_a_numpy_value_of_the_wrong_length_is_refused(name):
    s = Shared.create(name, np.uint32, 7)
    with s.lock(timeout=HANG) as g_value:
        del g_value
    g = s.lock(timeout=HANG)
    try:
        with pytest.raises(ValueError, match="bytes"):
            g.set(np.arange(0, dtype=np.uint32))  # no bytes: was silently nothing
        with pytest.raises(ValueError, match="bytes"):
            g.set(np.arange(2, dtype=np.uint32))
        g.set(np.uint32(9))
    finally:
        g.unlock()
    assert s.get(timeout=HANG) == 9
    with pytest.raises(ValueError, match="bytes"):
        Shared.create(name + "x", np.uint32, np.arange(0, dtype=np.uint32))
