"""`shmkit record` of a Python publisher, read back with the official `mcap` package: the
recording as another program reads it, across languages."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from shmkit import broadcast
from conftest import HANG

mcap = pytest.importorskip("mcap")
from mcap.reader import make_reader  # noqa: E402
from mcap.records import Channel, Message, Schema  # noqa: E402
from mcap.stream_reader import StreamReader  # noqa: E402

N = 1000
SLOT = 4096


def message(i: int) -> bytes:
    """Message `i`: 0 to 4096 bytes, each one different."""
    n = (i * 389) % (SLOT + 1)
    return bytes((i * 7 + k * 13) % 251 for k in range(n))


@pytest.fixture(params=["binary", "python -m shmkit"])
def recorder(request, cli) -> list[str]:
    """The command that records: the Rust binary, and the same CLI from this package."""
    return [cli] if request.param == "binary" else [sys.executable, "-m", "shmkit"]


def publish(name: str, cli: str | list[str], out, *extra: str):
    """Creates the broadcast, starts the recorder on it, waits for it to subscribe and
    publishes N messages; returns the publisher (alive) and the recorder process."""
    pub = broadcast.create_publisher(name, slots=8, slot_size=SLOT, max_subscribers=4)
    rec = subprocess.Popen(
        [*([cli] if isinstance(cli, str) else cli), "record", name, "-o", str(out), "--flush-every", "50ms", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pub.wait_for_subscribers(1, timeout=HANG)
    for i in range(N):
        pub.send(message(i), timeout=HANG)
    return pub, rec


def stream_messages(path) -> tuple[list[tuple[Channel, Schema, Message]], Exception | None]:
    """Messages read without the summary (a linear read of the data section), up to the
    first error, with their channel and schema."""
    schemas: dict[int, Schema] = {}
    channels: dict[int, Channel] = {}
    out = []
    with open(path, "rb") as f:
        try:
            for r in StreamReader(f).records:
                if isinstance(r, Schema):
                    schemas[r.id] = r
                elif isinstance(r, Channel):
                    channels[r.id] = r
                elif isinstance(r, Message):
                    c = channels[r.channel_id]
                    out.append((c, schemas[c.schema_id], r))
        except Exception as e:  # a file cut short ends in an error: what came before counts
            return out, e
    return out, None


def check_every_message(got, name: str):
    assert len(got) == N
    for i, (channel, schema, m) in enumerate(got):
        assert channel.topic == name
        assert channel.message_encoding == "shmkit-raw"
        assert channel.metadata["shmkit.kind"] == "broadcast"
        assert channel.metadata["shmkit.slot_size"] == str(SLOT)
        assert schema.name == "shmkit/bytes"
        assert schema.encoding == "shmkit-layout"
        assert json.loads(schema.data)["kind"] == "broadcast"
        assert m.sequence == i
        assert m.data == message(i), f"message {i}"


def test_a_recording_reads_byte_for_byte_with_the_mcap_package(name, recorder, tmp_path):
    out = tmp_path / "rec.mcap"
    pub, rec = publish(name, recorder, out, "--count", str(N), "--json")
    stdout, stderr = rec.communicate(timeout=HANG)
    assert rec.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["messages"] == N and summary["lost"] == 0 and summary["ended"] == "count"
    pub.close()

    # The indexed reader, through the summary.
    with open(out, "rb") as f:
        reader = make_reader(f)
        s = reader.get_summary()
        assert s is not None and s.statistics.message_count == N
        got = [(c, s, m) for s, c, m in reader.iter_messages()]
        meta = {m.name: m.metadata for m in reader.iter_metadata()}
    check_every_message(got, name)
    assert meta["shmkit"]["messages"] == str(N) and meta["shmkit"]["lost"] == "0"
    # And the linear one, which a killed recording needs.
    got, err = stream_messages(out)
    assert err is None
    check_every_message(got, name)


def test_a_sigkilled_recorder_leaves_what_it_flushed(name, cli, tmp_path):
    out = tmp_path / "killed.mcap"
    pub, rec = publish(name, cli, out)
    try:
        start = time.monotonic()
        while len(stream_messages(out)[0]) < N:  # flushed every 50 ms
            assert time.monotonic() - start < HANG, "the recording never held every message"
            time.sleep(0.02)
        rec.send_signal(signal.SIGKILL)
        rec.wait(HANG)
    finally:
        rec.kill()
        pub.close()
    got, err = stream_messages(out)
    assert err is not None, "a killed recorder writes no footer"
    check_every_message(got, name)


def test_sigterm_ends_a_recording_with_a_complete_file(name, recorder, tmp_path):
    out = tmp_path / "term.mcap"
    pub, rec = publish(name, recorder, out)
    try:
        start = time.monotonic()
        while len(stream_messages(out)[0]) < N:
            assert time.monotonic() - start < HANG, "the recording never held every message"
            time.sleep(0.02)
        rec.send_signal(signal.SIGTERM)
        _, stderr = rec.communicate(timeout=HANG)
    finally:
        rec.kill()
        pub.close()
    assert rec.returncode == 0, stderr
    assert "interrupted" in stderr and "nothing lost" in stderr
    got, err = stream_messages(out)
    assert err is None
    check_every_message(got, name)
