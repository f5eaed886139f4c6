"""One publisher, many subscribers; each message is read in place by every subscriber.

>>> pub = shmkit.broadcast.create_publisher("ticks", slots=8, slot_size=1024)
>>> sub = shmkit.broadcast.open_subscriber("ticks")
>>> pub.wait_for_subscribers(1)
1
>>> pub.send(b"hello")
>>> sub.recv().bytes()
b'hello'

``layout=`` / ``tag=`` make a typed broadcast, as for :mod:`shmkit.channel`.
"""

from ._shmkit import Loan, Sample
from ._shmkit import broadcast as _native

Publisher = _native.Publisher
Subscriber = _native.Subscriber
create_publisher = _native.create_publisher
open_subscriber = _native.open_subscriber

__all__ = ["Publisher", "Subscriber", "Loan", "Sample", "create_publisher", "open_subscriber"]
