"""Bootstrap tokens: format, hashing at rest, expiry, and the join command's parts."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from api.errors import ApiError
from apiserver.join import TOKEN_RE, check_token, create_token, load_tokens
from kubelab.token import parse_ttl


def test_token_is_kubernetes_format_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    token = create_token(tmp_path, datetime.timedelta(hours=1), "for gpu2")
    assert TOKEN_RE.match(token)
    token_id, secret = token.split(".")
    stored = (tmp_path / "bootstrap-tokens.csv").read_text()
    assert token_id in stored and secret not in stored
    assert (tmp_path / "bootstrap-tokens.csv").stat().st_mode & 0o777 == 0o600
    assert check_token(tmp_path, f"Bearer {token}") == token_id
    assert [t.description for t in load_tokens(tmp_path)] == ["for gpu2"]


def test_wrong_secret_unknown_id_and_garbage_are_401(tmp_path: Path) -> None:
    token = create_token(tmp_path, None)
    token_id = token.split(".")[0]
    for header in (
        f"Bearer {token_id}.{'x' * 16}",
        "Bearer zzzzzz.0123456789abcdef",
        "Bearer nope",
        None,
    ):
        with pytest.raises(ApiError) as exc:
            check_token(tmp_path, header)
        assert exc.value.code == 401


def test_expired_token_is_refused_with_the_fix(tmp_path: Path) -> None:
    token = create_token(tmp_path, datetime.timedelta(seconds=1))
    (t,) = load_tokens(tmp_path)
    assert t.expired(datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=2))
    assert not t.expired()
    path = tmp_path / "bootstrap-tokens.csv"
    path.write_text(path.read_text().replace(t.expires, "2000-01-01T00:00:00Z"))
    with pytest.raises(ApiError) as exc:
        check_token(tmp_path, f"Bearer {token}")
    assert "expired" in exc.value.message and "kubelab token create" in exc.value.message


def test_ttl_parsing() -> None:
    assert parse_ttl("24h") == datetime.timedelta(hours=24)
    assert parse_ttl("30m") == datetime.timedelta(minutes=30)
    assert parse_ttl("7d") == datetime.timedelta(days=7)
    assert parse_ttl("0") is None
