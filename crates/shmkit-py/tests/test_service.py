"""Services: a server in one process, clients in others (real processes), killed clients
and servers, and a Rust peer (the `shmkit` CLI's `serve` and `call`) both ways."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

import shmkit
from shmkit import service

from conftest import HANG, _find_cli, child, finish

# A server in its own interpreter: answers each request with its bytes upper-cased, prints
# "ready" once serving, and stops after argv[2] requests (or when killed).
SERVER = """
    import sys, shmkit
    name, count = sys.argv[1], int(sys.argv[2])
    with shmkit.service.create_server(name, max_clients=2, max_outstanding=4) as s:
        print("ready", flush=True)
        for _ in range(count):
            req = s.recv()
            s.respond(req.handle, req.payload.upper())
"""


def start_server(name: str, count: int = 1_000_000) -> subprocess.Popen:
    p = child(SERVER, name, str(count))
    assert p.stdout.readline().strip() == "ready"
    return p


def rust_cli() -> list[str]:
    """The Rust `shmkit` CLI: the built binary if there is one, else the same CLI run in a
    process of its own by the package (`python -m shmkit`)."""
    path = _find_cli()
    return [path] if path else [sys.executable, "-m", "shmkit"]


def test_request_and_respond_in_one_process(name):
    with service.create_server(name, max_request_len=64, max_response_len=64) as s:
        assert (s.name, s.max_request_len, s.max_response_len) == (name, 64, 64)
        assert s.is_creator
        with service.open_client(name) as c:
            a = c.request(b"one")
            b = c.request(bytearray(b"two"))
            assert c.outstanding == 2
            r1, r2 = s.recv(timeout=HANG), s.recv(timeout=0)
            assert (r1.payload, bytes(r2), len(r2)) == (b"one", b"two", 3)
            assert r1.handle.id == a.id and r2.handle.id == b.id
            # Answers in any order reach the request they answer.
            s.respond(r2.handle, b"TWO")
            s.respond(r1.handle, memoryview(b"ONE"))
            assert c.wait(a, timeout=HANG) == b"ONE"
            assert c.wait(b) == b"TWO"
            assert c.outstanding == 0
            with pytest.raises(shmkit.NotOutstanding) as e:
                c.wait(a, timeout=0)
            assert e.value.id == a.id
            assert len({a, b, a}) == 2 and len({r1.handle, r2.handle, r1.handle}) == 2


def test_the_four_forms_of_waiting(name):
    with service.create_server(name) as s, service.open_client(name) as c:
        with pytest.raises(shmkit.WouldBlock):
            s.recv(timeout=0)
        with pytest.raises(shmkit.Timeout):
            s.recv(timeout=0.05)
        p = c.request(b"x")
        with pytest.raises(shmkit.WouldBlock):
            c.wait(p, timeout=0)
        with pytest.raises(shmkit.Timeout):
            c.wait(p, timeout=0.05)
        assert c.outstanding == 1  # still outstanding after a timeout
        assert c.cancel(p) and not c.cancel(p)
        # `call` cancels its request when it times out.
        with pytest.raises(shmkit.Timeout):
            c.call(b"y", timeout=0.05)
        assert c.outstanding == 0
        with pytest.raises(ValueError):
            c.wait(p, timeout=-1)


def test_limits_and_numpy_payloads(name):
    np = pytest.importorskip("numpy")
    with service.create_server(name, max_outstanding=2, max_request_len=16) as s:
        with service.open_client(name) as c:
            assert c.max_outstanding == 2 and c.max_request_len == 16
            with pytest.raises(shmkit.SizeInvalid):
                c.request(b"x" * 17)
            c.request(np.arange(4, dtype=np.int32))
            c.request(b"")
            with pytest.raises(shmkit.Full):
                c.request(b"z")
            req = s.recv(timeout=HANG)
            assert np.frombuffer(req.payload, dtype=np.int32).tolist() == [0, 1, 2, 3]
            with pytest.raises(BufferError):
                c.request(np.arange(8)[::2])


def test_a_second_live_server_is_in_use_and_closed_handles_raise(name):
    s = service.create_server(name)
    with pytest.raises(shmkit.InUse):
        service.create_server(name)
    c = service.open_client(name)
    s.close()
    s.close()
    with pytest.raises(ValueError):
        s.recv(timeout=0)
    c.close()
    with pytest.raises(ValueError):
        c.request(b"x")


def test_open_client_waits_for_the_service(name):
    with pytest.raises(shmkit.NotFound):
        service.open_client(name)
    with pytest.raises(shmkit.NotFound):
        service.open_client(name, open_timeout=0.05)
    p = child(SERVER, name, "1")
    c = service.open_client(name, open_timeout=HANG)
    assert p.stdout.readline().strip() == "ready"
    assert c.call(b"late", timeout=HANG) == b"LATE"
    c.close()
    finish(p)


def test_a_server_in_another_process_and_clients_here(name):
    p = start_server(name, count=20)
    try:
        clients = [service.open_client(name) for _ in range(2)]
        with pytest.raises(shmkit.Full):  # max_clients=2
            service.open_client(name)
        for i in range(10):
            for j, c in enumerate(clients):
                assert c.call(f"c{j} r{i}".encode(), timeout=HANG) == f"C{j} R{i}".encode()
        for c in clients:
            c.close()
        finish(p)
    finally:
        p.kill()


def test_a_killed_client_frees_its_place(name):
    with service.create_server(name, max_clients=1) as s:
        # A client that sends a request and is killed before its answer is read.
        p = child(
            """
            import sys, time, shmkit
            c = shmkit.service.open_client(sys.argv[1])
            c.request(b"from the dead")
            print("sent", flush=True)
            time.sleep(600)
            """,
            name,
        )
        assert p.stdout.readline().strip() == "sent"
        with pytest.raises(shmkit.Full):
            service.open_client(name)
        req = s.recv(timeout=HANG)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=HANG)
        # Its slot is free for the next client; the late answer goes nowhere harmful.
        try:
            s.respond(req.handle, b"too late")
        except shmkit.Disconnected:
            pass
        with service.open_client(name, open_timeout=HANG) as c:
            t = threading.Thread(target=lambda: s.respond(s.recv(timeout=HANG).handle, b"ok"))
            t.start()
            assert c.call(b"alive", timeout=HANG) == b"ok"
            t.join()
            # The killed client's slot belongs to a new client now: answering the old
            # request is refused.
            with pytest.raises(shmkit.Disconnected):
                s.respond(req.handle, b"to the old generation")


def test_a_killed_server_disconnects_clients_and_a_new_server_serves_them(name):
    p = start_server(name)
    c = service.open_client(name)
    assert c.call(b"before", timeout=HANG) == b"BEFORE"
    pending = c.request(b"lost")
    time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=HANG)
    # The request in flight may have been answered before the kill; later ones are not.
    try:
        c.wait(pending, timeout=HANG)
    except shmkit.Disconnected:
        pass
    with pytest.raises(shmkit.Disconnected):
        c.call(b"after", timeout=HANG)
    p2 = start_server(name)  # takes the service over
    try:
        with pytest.raises(shmkit.Disconnected):
            c.call(b"old client", timeout=HANG)
        c.reconnect()
        assert c.call(b"again", timeout=HANG) == b"AGAIN"
        c.close()
    finally:
        p2.kill()
        p2.wait(timeout=HANG)


def test_respond_from_another_thread_while_recv_waits(name):
    with service.create_server(name) as s, service.open_client(name) as c:
        got: list[service.Request] = []
        replier = s.responder()

        def serve():
            req = s.recv(timeout=HANG)
            got.append(req)
            req2 = s.recv(timeout=HANG)  # blocks while the main thread's answer goes out
            replier.respond(req2.handle, b"second")

        t = threading.Thread(target=serve)
        t.start()
        a = c.request(b"first")
        while not got:
            time.sleep(0.001)
        s.respond(got[0].handle, b"first answer")  # recv is waiting in the other thread
        assert c.wait(a, timeout=HANG) == b"first answer"
        assert c.call(b"2", timeout=HANG) == b"second"
        t.join(timeout=HANG)


def test_one_client_shared_by_threads(name):
    p = start_server(name)
    try:
        with service.open_client(name) as c:
            errors: list[BaseException] = []

            def work(t: int) -> None:
                try:
                    for i in range(50):
                        msg = f"t{t} m{i}".encode()
                        assert c.call(msg, timeout=HANG) == msg.upper()
                except BaseException as e:  # noqa: BLE001 (reported below)
                    errors.append(e)

            threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=HANG)
            assert not errors
            assert c.outstanding == 0
    finally:
        p.kill()
        p.wait(timeout=HANG)


def test_ctrl_c_interrupts_a_wait(name):
    # The child waits in recv and in wait; SIGINT must raise KeyboardInterrupt in each.
    p = child(
        """
        import sys, shmkit
        s = shmkit.service.create_server(sys.argv[1])
        c = shmkit.service.open_client(sys.argv[1])
        for what in ("recv", "wait"):
            print(what, flush=True)
            try:
                s.recv() if what == "recv" else c.wait(c.request(b"x"))
            except KeyboardInterrupt:
                print("interrupted", flush=True)
        """,
        name,
    )
    for _ in range(2):
        p.stdout.readline()
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        assert p.stdout.readline().strip() == "interrupted"
    finish(p)


def test_a_rust_server_answers_python_clients(name):
    srv = subprocess.Popen(
        [*rust_cli(), "serve", name, "--count", "3", "--", "tr", "a-z", "A-Z"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        with service.open_client(name, open_timeout=HANG) as c:
            for word in (b"rust", b"serves", b"python"):
                assert c.call(word, timeout=HANG) == word.upper()
        assert srv.wait(timeout=HANG) == 0
    finally:
        srv.kill()


def test_a_python_server_answers_a_rust_client(name):
    p = start_server(name, count=1)
    out = subprocess.run(
        [*rust_cli(), "call", name, "--text", "python serves rust"],
        capture_output=True,
        timeout=HANG,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip(b"\n") == b"PYTHON SERVES RUST"
    finish(p)
