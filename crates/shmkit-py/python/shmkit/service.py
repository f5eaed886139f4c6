"""Request/response between processes: one server by name, any number of clients that
come and go, several requests outstanding per client, answers in any order and from any
thread.

>>> server = shmkit.service.create_server("calc", max_clients=4)
>>> client = shmkit.service.open_client("calc")          # e.g. in another process
>>> ping = client.request(b"ping")                         # copies the request in
>>> req = server.recv()                                    # the request and its handle
>>> req.payload
b'ping'
>>> server.respond(req.handle, b"pong")
>>> client.wait(ping)
b'pong'

Payloads are copied both ways: a :class:`Request`'s ``payload`` and a response are
``bytes`` (the Rust server copies a request out of its client's ring; the binding copies a
response out of the ring so that it is free again at once). Anything with a C-contiguous
buffer (``bytes``, ``bytearray``, ``memoryview``, a numpy array) may be sent.

A client killed mid-request frees its slot for the next client. When the server dies or
closes, clients get ``Disconnected``; a new :func:`create_server` on the name takes the
service over, and clients :meth:`Client.reconnect` to it.

Typed services: ``create_server(..., request_layout=, response_layout=, tag=)`` and
``open_client`` with the same (numpy dtypes, ctypes types or :class:`shmkit.Layout`) meet
Rust's ``service::typed::<Req, Resp>().tag(tag)`` and the C API's typed services; each
request and response is one record, ``Request.value`` and ``Client.call`` give it as the
type.
"""

from ._shmkit import service as _native

Server = _native.Server
Client = _native.Client
Request = _native.Request
Handle = _native.Handle
Pending = _native.Pending
Responder = _native.Responder
create_server = _native.create_server
open_client = _native.open_client

__all__ = [
    "Server",
    "Client",
    "Request",
    "Handle",
    "Pending",
    "Responder",
    "create_server",
    "open_client",
]
