"""One publisher, many subscribers; each message is read in place by every subscriber."""

from typing import Any, Literal, final

from ._shmkit import Loan as Loan
from ._shmkit import Receiver, Sample as Sample, Sender

_Policy = Literal["block", "overwrite"]
_WaitStrategy = Literal["adaptive", "blocking", "busy_poll"]

@final
class Publisher(Sender):
    """The publishing side of a broadcast."""

    @property
    def policy(self) -> _Policy: ...
    @property
    def subscribers(self) -> int:
        """How many subscribers are attached now."""
    def wait_for_subscribers(self, n: int, timeout: float | None = None) -> int:
        """Wait until ``n`` or more are attached (``Timeout`` after ``timeout`` s); their count."""

@final
class Subscriber(Receiver):
    """A subscriber; its samples carry ``seq``."""

    @property
    def policy(self) -> _Policy: ...

def create_publisher(
    name: str,
    *,
    slots: int = 64,
    slot_size: int | None = None,
    max_subscribers: int = 16,
    policy: _Policy = "block",
    wait_strategy: _WaitStrategy = "adaptive",
    mode: int = 0o600,
    keep: bool = False,
    layout: Any = None,
    tag: str | None = None,
) -> Publisher:
    """Create the broadcast channel and return its publisher."""

def open_subscriber(
    name: str,
    *,
    wait_strategy: _WaitStrategy = "adaptive",
    open_timeout: float | None = None,
    layout: Any = None,
    tag: str | None = None,
) -> Subscriber:
    """Join the broadcast channel, waiting ``open_timeout`` s for it to appear."""
