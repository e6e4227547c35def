"""Server-owned values of every create, made cheaply: uids and creation timestamps.

``uuid.uuid4()`` asks the kernel for 16 random bytes each time (a syscall that also
hands the GIL to the store's writer thread) and builds a UUID object to format it;
here one ``os.urandom`` call serves 256 uids (only the event loop calls these: the
pool is not locked). The timestamp has a resolution of one
second, so its string is made once a second.
"""

from __future__ import annotations

import os
import time

_BATCH = 256
_pool = b""
_pos = 0
_stamp_second = -1
_stamp = ""


def new_uid() -> str:
    """A random (version 4, RFC 4122 variant) UUID string, as ``str(uuid.uuid4())``."""
    global _pool, _pos
    if _pos >= len(_pool):
        _pool = os.urandom(16 * _BATCH)
        _pos = 0
    b = bytearray(_pool[_pos : _pos + 16])
    _pos += 16
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def now_rfc3339() -> str:
    """The current UTC time as Kubernetes writes timestamps (seconds, with ``Z``)."""
    global _stamp_second, _stamp
    now = int(time.time())
    if now != _stamp_second:
        _stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        _stamp_second = now
    return _stamp
