"""What a failed commit tells the client: a full disk is 507, a database that went away is
503 with Retry-After (the clients try again after it), anything else 500."""

from __future__ import annotations

import sqlalchemy as sa

from apiserver.store import _storage_error


def test_a_lost_database_connection_is_503_with_retry_after() -> None:
    exc = sa.exc.OperationalError("COMMIT", None, Exception("server closed the connection"))
    err = _storage_error(exc)
    assert (err.code, err.retry_after_seconds) == (503, 1)
    assert "the database is unavailable, try again shortly" in err.message


def test_a_full_disk_is_507_and_other_failures_500() -> None:
    assert _storage_error(OSError(28, "No space left on device")).code == 507
    other = _storage_error(ValueError("boom"))
    assert other.code == 500 and other.retry_after_seconds is None
