"""Counters in the objects (issue 21): `shmkit.inspect(name)["details"]` reads a broadcast's
and a channel's counters without joining them, while another process publishes."""

from __future__ import annotations

import shmkit
from shmkit import broadcast, channel
from conftest import HANG, child, finish


def test_counters_of_a_broadcast_and_a_channel_another_process_publishes(names):
    bc, ch = names("pybc"), names("pych")
    p = child(
        """
        import sys, time, shmkit
        from shmkit import broadcast, channel
        pub = broadcast.create_publisher(sys.argv[1], slots=128, slot_size=64)
        tx = channel.create_producer(sys.argv[2], 1 << 16)
        while pub.subscribers < 1:
            time.sleep(0.001)
        for i in range(100):
            pub.send(bytes([i]) * 8)
        for i in range(50):
            tx.send(b"x" * 24)
        print("done", flush=True)
        sys.stdin.readline()
        """,
        bc,
        ch,
        stdin=__import__("subprocess").PIPE,
    )
    try:
        sub = broadcast.open_subscriber(bc, open_timeout=HANG)
        assert p.stdout.readline().strip() == "done"
        for _ in range(20):
            sub.recv(timeout=HANG).release()

        d = shmkit.inspect(bc)["details"]
        assert d["kind"] == "broadcast"
        assert (d["slots"], d["slot_size"], d["policy"]) == (128, 64, "block")
        assert d["published"] == 100 and d["overwritten"] == 0
        [s] = d["subscribers"]
        assert (s["position"], s["lag"], s["received"], s["lost"]) == (20, 80, 20, 0)

        rx = channel.open_consumer(ch, open_timeout=HANG)
        for _ in range(10):
            rx.recv(timeout=HANG).release()
        d = shmkit.inspect(ch)["details"]
        assert d["kind"] == "channel"
        assert (d["capacity"], d["sent"], d["received"]) == (1 << 16, 50, 10)
        assert d["fill"] == 40 * 32 and d["layout"] is None
        rx.close()
        sub.close()
    finally:
        p.stdin.write("\n")
        p.stdin.flush()
    finish(p)
