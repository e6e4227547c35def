"""What both lean HTTP/1.1 pools (``client.http1`` on asyncio, ``client.blocking`` on
``http.client``) share: when a kept-alive connection may carry a request again, and the
``Reply`` they answer with. Pure: no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# The apiserver closes a connection idle for 30 s (uvicorn's ``timeout_keep_alive`` in
# apiserver/main.py; uvicorn's default is 5 s). A connection idle for longer than this is
# closed by the pool instead of reused: the margin covers a busy event loop on either side
# and the time a request takes to reach the server, so the pool never writes into a
# connection at the moment the server's timer closes it.
MAX_IDLE_SECONDS = 20.0

# RFC 9110 section 9.2.2: a request with one of these methods means the same done twice
# as done once. (For Kubernetes, a repeated PUT with a resourceVersion answers 409 and a
# repeated DELETE 404 when the first had arrived: the state is still what was asked.)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})


class Failure(enum.Enum):
    """How far a request got on a connection that broke before any byte of the reply."""

    UNSENT = "unsent"  # the write itself failed: not one byte of the request left us
    NO_REPLY = "no-reply"  # written, then EOF or reset before the first byte of a reply


def may_retry(method: str, reused: bool, failure: Failure) -> bool:
    """Whether a request that failed as ``failure`` may be sent again on a new connection.

    Only a *reused* connection is retried: a fresh one that fails says the server is
    down, and trying again at once would not help. A request whose write failed (the
    kernel refused it: the connection had already been reset) never reached the server,
    so any method is retried. A request written in full and met by a close may or may
    not have been read and applied by the server: usually the server closed the idle
    connection as the request was on its way, but it could also have crashed after
    applying it, and nothing on the wire tells the two apart. So only idempotent methods
    are retried then; a POST or PATCH is not (urllib3, httpcore and Go's net/http do the
    same), and its caller sees the error.
    """
    if not reused:
        return False
    if failure is Failure.UNSENT:
        return True
    return method.upper() in IDEMPOTENT_METHODS


def request_target(prefix: str, path: str, params: dict[str, str] | None) -> str:
    """The request line's target: percent-encode what may not stand raw in it (a space,
    CR/LF from a name typed by a user), as httpx does; "%" stays so encoded paths pass
    unchanged."""
    from urllib.parse import quote, urlencode

    target = quote(prefix + path, safe="/%:@!$&'()*+,;=-._~")
    if params:
        target += "?" + urlencode(params, quote_via=quote, safe="")
    return target


@dataclass
class Reply:
    """A complete response: what ``core.decode`` and the client's callers read."""

    status_code: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")
