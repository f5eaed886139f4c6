"""Single-producer / single-consumer byte channels over shared memory."""

from typing import Literal, final

from ._shmkit import Loan as Loan
from ._shmkit import Receiver, Sample as Sample, Sender

_Wait = Literal["adaptive", "blocking", "busy_poll"]

MIN_CAPACITY: int

@final
class Producer(Sender):
    """The sending side of a channel."""

    @property
    def capacity(self) -> int: ...
    @property
    def is_creator(self) -> bool: ...
    def set_wait_mode(self, wait: _Wait) -> None: ...

@final
class Consumer(Receiver):
    """The receiving side of a channel."""

    @property
    def capacity(self) -> int: ...
    @property
    def is_creator(self) -> bool: ...
    def set_wait_mode(self, wait: _Wait) -> None: ...

def create(
    name: str, capacity: int, *, wait: _Wait = "adaptive", mode: int = 0o600, keep: bool = False
) -> Producer:
    """Create the channel and return its producer."""

def open(name: str, *, wait: _Wait = "adaptive") -> Consumer:  # noqa: A001
    """Open the channel as its consumer."""

def create_consumer(
    name: str, capacity: int, *, wait: _Wait = "adaptive", mode: int = 0o600, keep: bool = False
) -> Consumer:
    """Create the channel and return its consumer (reverse roles)."""

def open_producer(name: str, *, wait: _Wait = "adaptive") -> Producer:
    """Open the channel as its producer (reverse roles)."""

def open_or_create_producer(
    name: str, capacity: int, *, wait: _Wait = "adaptive", mode: int = 0o600, keep: bool = False
) -> Producer:
    """Open the channel as producer, creating it if needed."""

def open_or_create_consumer(
    name: str, capacity: int, *, wait: _Wait = "adaptive", mode: int = 0o600, keep: bool = False
) -> Consumer:
    """Open the channel as consumer, creating it if needed."""
