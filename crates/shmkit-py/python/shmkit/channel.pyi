"""Single-producer / single-consumer byte channels over shared memory."""

from typing import Any, Literal, final

from ._shmkit import Loan as Loan
from ._shmkit import Receiver, Sample as Sample, Sender

_WaitStrategy = Literal["adaptive", "blocking", "busy_poll"]

MIN_CAPACITY: int

@final
class Producer(Sender):
    """The sending side of a channel."""

    @property
    def capacity(self) -> int: ...
    @property
    def is_creator(self) -> bool: ...

@final
class Consumer(Receiver):
    """The receiving side of a channel."""

    @property
    def capacity(self) -> int: ...
    @property
    def is_creator(self) -> bool: ...

def create_producer(
    name: str,
    capacity: int,
    *,
    wait_strategy: _WaitStrategy = "adaptive",
    mode: int = 0o600,
    keep: bool = False,
    layout: Any = None,
    tag: str | None = None,
) -> Producer:
    """Create the channel and return its producer."""

def open_consumer(
    name: str,
    *,
    wait_strategy: _WaitStrategy = "adaptive",
    open_timeout: float | None = None,
    layout: Any = None,
    tag: str | None = None,
) -> Consumer:
    """Open the channel as its consumer, waiting ``open_timeout`` s for it to appear."""

def create_consumer(
    name: str,
    capacity: int,
    *,
    wait_strategy: _WaitStrategy = "adaptive",
    mode: int = 0o600,
    keep: bool = False,
    layout: Any = None,
    tag: str | None = None,
) -> Consumer:
    """Create the channel and return its consumer (reverse roles)."""

def open_producer(
    name: str,
    *,
    wait_strategy: _WaitStrategy = "adaptive",
    open_timeout: float | None = None,
    layout: Any = None,
    tag: str | None = None,
) -> Producer:
    """Open the channel as its producer (reverse roles)."""

def open_or_create_producer(
    name: str,
    capacity: int,
    *,
    wait_strategy: _WaitStrategy = "adaptive",
    mode: int = 0o600,
    keep: bool = False,
    layout: Any = None,
    tag: str | None = None,
) -> Producer:
    """Open the channel as producer, creating it if needed."""

def open_or_create_consumer(
    name: str,
    capacity: int,
    *,
    wait_strategy: _WaitStrategy = "adaptive",
    mode: int = 0o600,
    keep: bool = False,
    layout: Any = None,
    tag: str | None = None,
) -> Consumer:
    """Open the channel as consumer, creating it if needed."""
