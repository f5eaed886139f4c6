"""Single-producer / single-consumer byte channels over shared memory.

>>> tx = shmkit.channel.create_producer("demo", 1 << 20)  # creates the channel
>>> rx = shmkit.channel.open_consumer("demo")             # e.g. in another process
>>> with tx.loan(5) as buf:                               # zero-copy: write into the ring
...     buf[:] = b"hello"
>>> with rx.recv() as msg:                                # read in place
...     bytes(msg)
b'hello'

Every function names the side it returns; either side may create the channel
(``create_consumer`` / ``open_producer`` reverse the roles). ``open_timeout=`` makes an
``open_*`` wait for the channel to appear, so the two processes can start in either order.

A typed channel carries records of a numpy dtype or ctypes type (``layout=``, ``tag=``; the
layout is checked against Rust's and C's typed sides): ``loan()`` / ``loan_slice(n)`` and
``recv()`` / ``recv_slice()``, viewed through ``.value``. See "Typed messages" in the README.
"""

from ._shmkit import Loan, Sample
from ._shmkit import channel as _native

MIN_CAPACITY = _native.MIN_CAPACITY
Consumer = _native.Consumer
Producer = _native.Producer
create_producer = _native.create_producer
open_consumer = _native.open_consumer
create_consumer = _native.create_consumer
open_producer = _native.open_producer
open_or_create_producer = _native.open_or_create_producer
open_or_create_consumer = _native.open_or_create_consumer

__all__ = [
    "Producer",
    "Consumer",
    "Loan",
    "Sample",
    "create_producer",
    "open_consumer",
    "create_consumer",
    "open_producer",
    "open_or_create_producer",
    "open_or_create_consumer",
    "MIN_CAPACITY",
]
