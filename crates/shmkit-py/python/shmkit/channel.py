"""Single-producer / single-consumer byte channels over shared memory.

>>> tx = shmkit.channel.create("demo", 1 << 20)      # Producer; creates the channel
>>> rx = shmkit.channel.open("demo")                 # Consumer; e.g. in another process
>>> with tx.loan(5) as buf:                          # zero-copy: write into the ring
...     buf[:] = b"hello"
>>> with rx.recv() as msg:                           # read in place
...     bytes(msg)
b'hello'
"""

from ._shmkit import Loan, Sample
from ._shmkit import channel as _native

MIN_CAPACITY = _native.MIN_CAPACITY
Consumer = _native.Consumer
Producer = _native.Producer
create = _native.create
create_consumer = _native.create_consumer
open = _native.open
open_or_create_consumer = _native.open_or_create_consumer
open_or_create_producer = _native.open_or_create_producer
open_producer = _native.open_producer

__all__ = [
    "Producer",
    "Consumer",
    "Loan",
    "Sample",
    "create",
    "open",
    "create_consumer",
    "open_producer",
    "open_or_create_producer",
    "open_or_create_consumer",
    "MIN_CAPACITY",
]
