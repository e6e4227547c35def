"""Which SPDY streams make one forwarded connection (api/spdy_portforward.py): kubectl's
error stream then data stream with the same requestid and port; what cannot be served."""

from __future__ import annotations

import pytest

from api.spdy_portforward import PairError, StreamPair, StreamPairs


def headers(kind: str, port: str = "80", request: str = "0") -> dict[str, str]:
    return {"streamtype": kind, "port": port, "requestid": request}


def test_a_pair_is_complete_with_its_error_and_data_streams() -> None:
    pairs = StreamPairs()
    assert pairs.add(1, headers("error")) is None
    assert pairs.add(5, headers("error", request="1")) is None  # another connection
    assert pairs.add(3, headers("data")) == StreamPair("0", 80, data_id=3, error_id=1)
    assert pairs.add(7, headers("data", request="1")) == StreamPair("1", 80, 7, 5)
    # Forgotten once complete: the same request id may come again later.
    assert pairs.add(9, headers("data")) is None


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"port": "80", "requestid": "0"}, '"streamtype"'),
        (headers("stdin"), '"streamtype"'),
        (headers("data", port="http"), '"port"'),
        (headers("data", port="70000"), '"port"'),
        ({"streamtype": "data", "port": "80"}, '"requestid"'),
    ],
)
def test_streams_that_cannot_be_served(given: dict[str, str], words: str) -> None:
    with pytest.raises(PairError, match=words):
        StreamPairs().add(1, given)


def test_a_request_keeps_its_port_and_one_stream_of_each_type() -> None:
    pairs = StreamPairs()
    pairs.add(1, headers("error"))
    with pytest.raises(PairError, match="port 80 and then port 81"):
        pairs.add(3, headers("data", port="81"))
    with pytest.raises(PairError, match="already has a error stream"):
        pairs.add(5, headers("error"))
