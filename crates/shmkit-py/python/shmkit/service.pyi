"""Request/response between processes: one server, any number of clients."""

from types import TracebackType
from typing import Any, Literal, Self, final

from typing_extensions import Buffer

from ._layout import Layout

_WaitStrategy = Literal["adaptive", "blocking", "busy_poll"]

@final
class Handle:
    """Which request a response answers."""

    @property
    def client_slot(self) -> int: ...
    @property
    def generation(self) -> int: ...
    @property
    def id(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Request:
    """A received request: its payload (a copy) and its handle."""

    @property
    def handle(self) -> Handle: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def value(self) -> Any:
        """A typed service's request as its type (``TypeError`` for bytes)."""
    def __bytes__(self) -> bytes: ...
    def __len__(self) -> int: ...

@final
class Pending:
    """A request sent and not yet answered."""

    @property
    def id(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Responder:
    """Answers requests of a server from any thread."""

    def respond(self, handle: Handle, data: Any) -> None:
        """Answer the request ``handle`` with a copy of ``data``; never waits."""

@final
class Server:
    """The server of a service."""

    @property
    def name(self) -> str: ...
    @property
    def max_request_len(self) -> int: ...
    @property
    def max_response_len(self) -> int: ...
    @property
    def max_clients(self) -> int: ...
    @property
    def layouts(self) -> tuple[Layout, Layout] | None:
        """A typed service's (request, response) layouts; ``None`` for bytes."""
    @property
    def is_creator(self) -> bool: ...
    @property
    def wait_strategy(self) -> _WaitStrategy: ...
    def set_wait_strategy(self, wait_strategy: _WaitStrategy) -> None:
        """Set how this server waits."""
    def recv(self, timeout: float | None = None) -> Request:
        """Receive the next request from any client."""
    def respond(self, handle: Handle, data: Any) -> None:
        """Answer the request ``handle`` with a copy of ``data``; never waits."""
    def responder(self) -> Responder:
        """A responder for other threads."""
    def close(self) -> None:
        """Stop serving."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

@final
class Client:
    """A client of a service."""

    @property
    def name(self) -> str: ...
    @property
    def slot(self) -> int: ...
    @property
    def max_request_len(self) -> int: ...
    @property
    def max_outstanding(self) -> int: ...
    @property
    def layouts(self) -> tuple[Layout, Layout] | None:
        """A typed service's (request, response) layouts; ``None`` for bytes."""
    @property
    def outstanding(self) -> int: ...
    @property
    def wait_strategy(self) -> _WaitStrategy: ...
    def set_wait_strategy(self, wait_strategy: _WaitStrategy) -> None:
        """Set how this client waits."""
    def request(self, data: Any) -> Pending:
        """Send a copy of ``data`` as a request; never waits."""
    def wait(self, pending: Pending, timeout: float | None = None) -> Any:
        """Wait for the response to ``pending``: bytes, or a typed service's record."""
    def call(self, data: Any, timeout: float | None = None) -> Any:
        """Send ``data`` and wait for its response (cancelled on timeout)."""
    def cancel(self, pending: Pending) -> bool:
        """Give up on ``pending``; whether it was outstanding."""
    def reconnect(self) -> None:
        """Connect again, to whichever server serves the name now."""
    def close(self) -> None:
        """Disconnect, freeing the slot."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

def create_server(
    name: str,
    *,
    max_clients: int = 16,
    max_outstanding: int = 8,
    max_request_len: int = 1024,
    max_response_len: int = 1024,
    wait_strategy: _WaitStrategy = "adaptive",
    mode: int = 0o600,
    keep: bool = False,
    request_layout: Any = None,
    response_layout: Any = None,
    tag: str | None = None,
) -> Server:
    """Create the service (or take over one whose server is gone) and return its server."""

def open_client(
    name: str,
    *,
    wait_strategy: _WaitStrategy = "adaptive",
    open_timeout: float | None = None,
    request_layout: Any = None,
    response_layout: Any = None,
    tag: str | None = None,
) -> Client:
    """Connect to the service as a new client, waiting ``open_timeout`` s for it to appear."""
