"""One publisher, many subscribers; each message is read in place by every subscriber."""

from typing import Literal, final

from ._shmkit import Loan as Loan
from ._shmkit import Receiver, Sample as Sample, Sender

_Policy = Literal["block", "overwrite"]
_Wait = Literal["adaptive", "blocking", "busy_poll"]

@final
class Publisher(Sender):
    """The publishing side of a broadcast."""

    @property
    def policy(self) -> _Policy: ...
    @property
    def subscriber_count(self) -> int: ...

@final
class Subscriber(Receiver):
    """A subscriber; its samples carry ``seq``."""

    @property
    def policy(self) -> _Policy: ...

def create(
    name: str,
    *,
    slots: int = 64,
    slot_size: int = 4096,
    max_subscribers: int = 16,
    policy: _Policy = "block",
    wait: _Wait = "adaptive",
    mode: int = 0o600,
    keep: bool = False,
) -> Publisher:
    """Create the broadcast channel and return its publisher."""

def subscribe(name: str, *, wait: _Wait = "adaptive") -> Subscriber:
    """Join the broadcast channel."""
