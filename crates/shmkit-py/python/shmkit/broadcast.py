"""One publisher, many subscribers; each message is read in place by every subscriber.

>>> pub = shmkit.broadcast.create("ticks", slots=8, slot_size=1024)
>>> sub = shmkit.broadcast.subscribe("ticks")
>>> pub.send(b"hello")
>>> sub.recv().bytes()
b'hello'
"""

from ._shmkit import Loan, Sample
from ._shmkit import broadcast as _native

Publisher = _native.Publisher
Subscriber = _native.Subscriber
create = _native.create
subscribe = _native.subscribe

__all__ = ["Publisher", "Subscriber", "Loan", "Sample", "create", "subscribe"]
