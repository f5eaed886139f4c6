"""Benchmark: shmkit against the standard library, between two Python processes.

Run ``python -m shmkit.bench`` (``--help`` for options). Every number comes from the same
run, so the ratios compare like with like on this machine:

* a 64 MiB ``float32`` numpy array, sender to receiver: the shmkit channel (a loan filled
  with ``numpy.copyto``, received in place with ``numpy.frombuffer``) against
  ``multiprocessing.Queue``, ``multiprocessing.Pipe`` (``send_bytes``/``recv_bytes``, its
  fastest path) and ``multiprocessing.shared_memory`` with a ``Queue`` carrying the
  segment's name (a new segment per array, the usual recipe);
* a 64-byte round trip (ping-pong): two shmkit channels against a ``multiprocessing.Pipe``;
* a 64-byte request/response: a shmkit service (``Client.call`` here, ``Server.recv`` and
  ``respond`` in the child) against the same ``multiprocessing.Pipe`` round trip;
* the same round trip with this side receiving by ``await rx.recv_async()`` in an asyncio
  loop (``shmkit asyncio``; ``--uvloop`` for uvloop's loop): the echo is the same, so the
  difference is this side's receive. The asyncio recv hop is reported against the blocking
  recv hop, taking a hop as half a blocking trip: async hop = async trip - blocking trip / 2;
  and once more with every await going through the reactor thread (``shmkit._aio.SPIN = 0``:
  no first short wait on the loop's thread), the cost of a wake-up through the reactor;
* the 64-byte round trip on typed channels (``layout=`` a 64-byte numpy dtype: ``send`` of
  a one-record array, ``recv`` of one record, the echo sending its sample back);
* optionally both made by the Rust API: ``--rust DIR`` runs this crate's examples
  ``transfer_64mib``, ``round_trip_64b`` and ``pose_peer hop`` (the typed round trip of
  ``channel::typed::<Msg64>()``) from DIR (``cargo build --release -p shmkit-py
  --examples``, then ``--rust target/release/examples``); the typed hop is reported as a
  ratio to the Rust typed hop of the same run.

The receiver checks the first and last element of every array, so nothing is skipped.
Times are per array (or per round trip), the median of ``--rounds`` rounds. On Linux the
sender runs on CPU 0 and the receiver on CPU 1 (as in the Rust benchmarks): two processes
sharing one CPU make a spinning waiter delay its own peer.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import time

import numpy as np

import shmkit

MIB = 1 << 20
ELEMS = 16 * MIB  # float32: 64 MiB


_PIN = True  # --no-pin clears it


def _pin(cpu: int) -> bool:
    """Pins this process to `cpu` (modulo the CPUs online) if there are two or more."""
    n = os.cpu_count() or 1
    if not _PIN:
        return False
    if n < 2 or not hasattr(os, "sched_setaffinity"):
        return False
    os.sched_setaffinity(0, {cpu % n})
    return True


def _child(target, pin: bool, *args) -> None:
    """A benchmark child: pinned to CPU 1 (if `pin`), then `target(*args)`."""
    if pin:
        _pin(1)
    target(*args)


def _source() -> np.ndarray:
    return np.arange(ELEMS, dtype=np.float32)


def _check(a: np.ndarray) -> None:
    if a[0] != 0.0 or a[-1] != float(ELEMS - 1):
        raise AssertionError("the received array is wrong")


# --- 64 MiB: receivers (run in the child process) -------------------------------------


def _rx_shmkit(name: str, n: int, ready, done) -> None:
    rx = shmkit.channel.open_consumer(name)
    ready.put(True)
    for _ in range(n):
        with rx.recv() as s:
            a = np.frombuffer(memoryview(s), dtype=np.float32)
            _check(a)
            del a
    done.put(time.perf_counter())


def _rx_queue(q, n: int, ready, done) -> None:
    ready.put(True)
    for _ in range(n):
        _check(q.get())
    done.put(time.perf_counter())


def _rx_pipe(conn, n: int, ready, done) -> None:
    ready.put(True)
    for _ in range(n):
        _check(np.frombuffer(conn.recv_bytes(), dtype=np.float32))
    done.put(time.perf_counter())


def _rx_shared_memory(q, n: int, ready, done) -> None:
    from multiprocessing import shared_memory

    ready.put(True)
    for _ in range(n):
        shm = shared_memory.SharedMemory(q.get())
        a = np.ndarray((ELEMS,), dtype=np.float32, buffer=shm.buf)
        _check(a)
        del a
        shm.close()
        shm.unlink()
    done.put(time.perf_counter())


# --- 64 MiB: senders (this process) ----------------------------------------------------


def _timed(ctx, target, args, n: int, send) -> float:
    """Starts the receiver, sends `n` arrays, returns seconds per array."""
    ready, done = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=_child, args=(target, _PIN, *args, n, ready, done))
    p.start()
    ready.get()
    t0 = time.perf_counter()
    send()
    t1 = done.get()
    p.join()
    return (t1 - t0) / n


def bench_array(method: str, n: int) -> float:
    ctx = mp.get_context("spawn")
    src = _source()
    if method == "shmkit":
        name = f"bench-{os.getpid()}"
        tx = shmkit.channel.create_producer(name, 4 * src.nbytes)

        def send():
            for _ in range(n):
                with tx.loan(src.nbytes) as buf:
                    np.copyto(np.frombuffer(buf, dtype=np.float32), src)

        try:
            return _timed(ctx, _rx_shmkit, (name,), n, send)
        finally:
            tx.close()
    if method == "Queue":
        q = ctx.Queue()

        def send():
            for _ in range(n):
                q.put(src)

        return _timed(ctx, _rx_queue, (q,), n, send)
    if method == "Pipe":
        r, w = ctx.Pipe(duplex=False)

        def send():
            for _ in range(n):
                w.send_bytes(src)

        return _timed(ctx, _rx_pipe, (r,), n, send)
    if method == "shared_memory+Queue":
        from multiprocessing import shared_memory

        q = ctx.Queue()

        def send():
            for _ in range(n):
                shm = shared_memory.SharedMemory(create=True, size=src.nbytes)
                np.copyto(np.ndarray(src.shape, dtype=src.dtype, buffer=shm.buf), src)
                q.put(shm.name)
                shm.close()

        return _timed(ctx, _rx_shared_memory, (q,), n, send)
    raise ValueError(method)


def bench_rust(path: str, n: int, *args: str) -> float:
    """A Rust-API twin (an example of this crate, given `args` then `n`): its first output
    word, a number. The twin pins itself unless told not to (SHMKIT_BENCH_NO_PIN)."""
    env = dict(os.environ, **({} if _PIN else {"SHMKIT_BENCH_NO_PIN": "1"}))
    cmd = [path, *args, str(n)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return float(out.split()[0])


# --- 64-byte round trip ------------------------------------------------------------------


def _echo_shmkit(a: str, b: str, n: int, ready, done) -> None:
    rx = shmkit.channel.open_consumer(a)
    tx = shmkit.channel.open_producer(b)
    ready.put(True)
    for _ in range(n):
        with rx.recv() as s:
            tx.send(s)
    done.put(0.0)


# The typed round trip's message: 64 bytes, align 8 (the Rust twin's `Msg64`).
MSG64 = np.dtype([("seq", "<u8"), ("data", "<u8", 7)], align=True)


def _echo_typed(a: str, b: str, n: int, ready, done) -> None:
    rx = shmkit.channel.open_consumer(a, layout=MSG64)
    tx = shmkit.channel.open_producer(b, layout=MSG64)
    ready.put(True)
    for _ in range(n):
        with rx.recv() as s:
            tx.send(s)
    done.put(0.0)


def _echo_service(name: str, n: int, ready, done) -> None:
    s = shmkit.service.create_server(name, max_clients=1, max_request_len=64, max_response_len=64)
    ready.put(True)
    for _ in range(n):
        req = s.recv()
        s.respond(req.handle, req.payload)
    done.put(0.0)
    s.close()


def _echo_pipe(conn, n: int, ready, done) -> None:
    ready.put(True)
    for _ in range(n):
        conn.send_bytes(conn.recv_bytes())
    done.put(0.0)


def _round_trips_async(new_loop, tx, rx, msg: bytes, warm: int, n: int) -> float:
    """Round trips received with ``await rx.recv_async()`` in a loop from `new_loop`."""

    async def trips() -> float:
        for _ in range(warm):
            tx.send(msg)
            (await rx.recv_async()).release()
        t0 = time.perf_counter()
        for _ in range(n):
            tx.send(msg)
            (await rx.recv_async()).release()
        return (time.perf_counter() - t0) / n

    loop = new_loop()
    try:
        return loop.run_until_complete(trips())
    finally:
        loop.close()


def bench_round_trip(method: str, n: int, asyncio_loop=None) -> float:
    ctx = mp.get_context("spawn")
    msg = b"x" * 64
    warm = 200  # untimed trips first: both processes past their first-call costs
    ready, done = ctx.Queue(), ctx.Queue()
    if method == "shmkit":
        a, b = f"bench-a-{os.getpid()}", f"bench-b-{os.getpid()}"
        tx = shmkit.channel.create_producer(a, 1 << 16)
        rx = shmkit.channel.create_consumer(b, 1 << 16)
        p = ctx.Process(target=_child, args=(_echo_shmkit, _PIN, a, b, warm + n, ready, done))

        def one():
            tx.send(msg)
            rx.recv().release()

        handles: list[shmkit.Sender | shmkit.Receiver | shmkit.service.Client] = [tx, rx]
    elif method == "typed":
        a, b = f"bench-ta-{os.getpid()}", f"bench-tb-{os.getpid()}"
        tx = shmkit.channel.create_producer(a, 1 << 16, layout=MSG64)
        rx = shmkit.channel.create_consumer(b, 1 << 16, layout=MSG64)
        p = ctx.Process(target=_child, args=(_echo_typed, _PIN, a, b, warm + n, ready, done))
        rec = np.zeros(1, MSG64)

        def one():
            tx.send(rec)
            rx.recv().release()

        handles = [tx, rx]
    elif method == "service":
        name = f"bench-svc-{os.getpid()}"
        p = ctx.Process(target=_child, args=(_echo_service, _PIN, name, warm + n, ready, done))
        client: list[shmkit.service.Client] = []

        def one():
            client[0].call(msg)

        handles = client
    elif method == "Pipe":
        mine, theirs = ctx.Pipe()
        p = ctx.Process(target=_child, args=(_echo_pipe, _PIN, theirs, warm + n, ready, done))

        def one():
            mine.send_bytes(msg)
            mine.recv_bytes()

        handles = []
    else:
        raise ValueError(method)
    p.start()
    ready.get()
    if method == "service":
        client.append(shmkit.service.open_client(name, open_timeout=60.0))
    if method == "shmkit" and asyncio_loop is not None:
        t = _round_trips_async(asyncio_loop, tx, rx, msg, warm, n)
    else:
        for _ in range(warm):
            one()
        t0 = time.perf_counter()
        for _ in range(n):
            one()
        t = (time.perf_counter() - t0) / n
    done.get()
    p.join()
    for h in handles:
        h.close()
    return t


# --- report --------------------------------------------------------------------------------


def _median(f, rounds: int) -> float:
    return statistics.median(f() for _ in range(rounds))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m shmkit.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--arrays", type=int, default=10, help="64 MiB arrays per round (default 10)")
    ap.add_argument("--trips", type=int, default=20000, help="round trips per round (default 20000)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; the median is shown (default 3)")
    ap.add_argument("--rust", metavar="DIR", help="where the Rust twins (examples) are built")
    ap.add_argument("--quick", action="store_true", help="few iterations (numbers not meaningful)")
    ap.add_argument("--uvloop", action="store_true", help="the asyncio hop on uvloop's loop")
    ap.add_argument("--no-pin", action="store_true", help="let the OS place the processes")
    args = ap.parse_args(argv)
    global _PIN
    _PIN = not args.no_pin
    if args.quick:
        args.arrays, args.trips, args.rounds = 2, 500, 1
    if _pin(0):
        print("sender pinned to CPU 0, receiver to CPU 1")
    else:
        print("not pinned (--no-pin, one CPU, or not Linux)")

    print(f"64 MiB float32 array, one process to another ({args.arrays} arrays x {args.rounds} rounds)")
    arr = {}
    for m in ("shmkit", "Queue", "Pipe", "shared_memory+Queue"):
        arr[m] = _median(lambda m=m: bench_array(m, args.arrays), args.rounds)
        print(f"  {m:<22} {arr[m] * 1e3:9.2f} ms/array   {64 / arr[m] / 1024:7.2f} GiB/s")
    if args.rust:
        exe = os.path.join(args.rust, "transfer_64mib")
        arr["Rust API"] = _median(lambda: bench_rust(exe, args.arrays), args.rounds)
        print(f"  {'Rust API':<22} {arr['Rust API'] * 1e3:9.2f} ms/array")
    print(f"64-byte round trip ({args.trips} trips x {args.rounds} rounds)")
    rt = {}
    for m in ("shmkit", "typed", "service", "Pipe"):
        rt[m] = _median(lambda m=m: bench_round_trip(m, args.trips), args.rounds)
        label = {"service": "shmkit service call", "typed": "shmkit typed"}.get(m, m)
        print(f"  {label:<22} {rt[m] * 1e6:9.2f} us/trip")
    import asyncio

    new_loop = asyncio.new_event_loop
    loop_name = "asyncio"
    if args.uvloop:
        import uvloop

        new_loop, loop_name = uvloop.new_event_loop, "uvloop"
    am = f"shmkit {loop_name}"
    rt[am] = _median(lambda: bench_round_trip("shmkit", args.trips, new_loop), args.rounds)
    print(f"  {am:<22} {rt[am] * 1e6:9.2f} us/trip  (this side: await rx.recv_async())")
    # The same with no first wait on the loop's thread: every await through the reactor.
    from . import _aio

    spin, _aio.SPIN = _aio.SPIN, 0
    try:
        r0 = _median(lambda: bench_round_trip("shmkit", args.trips, new_loop), args.rounds)
    finally:
        _aio.SPIN = spin
    print(f"  {'  reactor only':<22} {r0 * 1e6:9.2f} us/trip  (shmkit._aio.SPIN = 0)")
    if args.rust:
        exe = os.path.join(args.rust, "round_trip_64b")
        rt["Rust API"] = _median(lambda: bench_rust(exe, args.trips) / 1e6, args.rounds)
        print(f"  {'Rust API':<22} {rt['Rust API'] * 1e6:9.2f} us/trip")
        exe = os.path.join(args.rust, "pose_peer")
        rt["Rust typed"] = _median(lambda: bench_rust(exe, args.trips, "hop") / 1e6, args.rounds)
        print(f"  {'Rust API typed':<22} {rt['Rust typed'] * 1e6:9.2f} us/trip")
    print("ratios (higher: shmkit faster)")
    for m in ("Queue", "Pipe", "shared_memory+Queue"):
        print(f"  64 MiB array, {m} / shmkit: {arr[m] / arr['shmkit']:7.1f}x")
    print(f"  64-byte round trip, Pipe / shmkit: {rt['Pipe'] / rt['shmkit']:7.1f}x")
    print(f"  64-byte round trip, typed / bytes: {rt['typed'] / rt['shmkit']:7.2f}x")
    print(f"  64-byte request/response, Pipe / shmkit service: {rt['Pipe'] / rt['service']:7.1f}x")
    hop = rt["shmkit"] / 2
    print(f"  {loop_name} recv hop / blocking recv hop: {(rt[am] - hop) / hop:7.2f}x (goal <= 1.5)")
    print(f"  {loop_name} recv hop, reactor only / blocking recv hop: {(r0 - hop) / hop:7.2f}x")
    if args.rust:
        print(f"  64 MiB array, Python shmkit / Rust API: {arr['shmkit'] / arr['Rust API']:.2f}x")
        print(f"  64-byte round trip, Python shmkit / Rust API: {rt['shmkit'] / rt['Rust API']:.2f}x")
        # A hop is half a round trip on both sides, so the ratio of trips is that of hops.
        typed = rt["typed"] / rt["Rust typed"]
        print(f"  typed 64-byte hop, Python / Rust API typed: {typed:.2f}x (goal <= 1.5)")


if __name__ == "__main__":
    main()
