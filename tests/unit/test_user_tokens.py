"""User and node tokens can be revoked, rotated and made to expire: the token file's
expiry column, the authenticator seeing a rewrite within a second (also for tokens it has
already seen), and ``kubelab token create/revoke/rotate/list``."""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

import pytest
import yaml

from api.errors import ApiError
from apiserver import auth, token_file
from apiserver.auth import TokenAuthenticator, add_token
from kubelab import token as cli


def bearer(t: str) -> str:
    return f"Bearer {t}"


def test_the_file_keeps_kube_apiservers_four_columns_and_an_expiry_fifth() -> None:
    rows = [
        token_file.TokenRow("t1", "alice", "alice", ("devs", "ml"), "2030-01-01T00:00:00Z"),
        token_file.TokenRow("t2", "system:node:gpu2", "", ("system:nodes",)),
    ]
    text = token_file.render(rows)
    assert 't1,alice,alice,"devs,ml",2030-01-01T00:00:00Z\n' in text
    assert "t2,system:node:gpu2,system:node:gpu2,system:nodes\n" in text
    assert token_file.parse(text)[0] == rows[0]
    assert token_file.parse(text)[1].uid == "system:node:gpu2"
    assert rows[0].expired(time.time()) is False and rows[1].expired(time.time()) is False
    assert token_file.TokenRow("t", "u", expires="2001-01-01T00:00:00Z").expired(time.time())
    kept, gone = token_file.without_user(rows, "alice")
    assert [r.user for r in kept] == ["system:node:gpu2"] and gone == 1


def test_an_expired_token_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    soon = token_file.expiry(datetime.timedelta(seconds=1), datetime.datetime.now(datetime.UTC))
    tok = add_token(path, "alice", ["devs"], expires=soon)
    authn = TokenAuthenticator(path)
    assert authn.authenticate(bearer(tok)).name == "alice"  # and now it is cached
    time.sleep(2.1)
    with pytest.raises(ApiError) as exc:
        authn.authenticate(bearer(tok))
    assert exc.value.code == 401 and "expired at" in exc.value.message
    assert "kubelab token rotate --user alice" in exc.value.message


def test_a_revoked_token_stops_working_within_a_second_even_when_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tokens.csv"
    alice, bob = add_token(path, "alice", []), add_token(path, "bob", [])
    authn = TokenAuthenticator(path)
    assert authn.authenticate(bearer(alice)).name == "alice"
    assert cli.revoke(tmp_path, "alice") == 1
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    monkeypatch.setattr(auth, "RECHECK_SECONDS", 0.0)  # instead of waiting the second
    with pytest.raises(ApiError) as exc:
        authn.authenticate(bearer(alice))
    assert exc.value.code == 401
    assert authn.authenticate(bearer(bob)).name == "bob"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A cluster home as ``kubelab token`` needs it: a CA and the admin kubeconfig."""
    from apiserver.main import write_kubeconfig

    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\nx\n")
    write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:6443", b"ca", "admin-tok")
    add_token(tmp_path / "tokens.csv", "admin", ["system:masters"])
    add_token(tmp_path / "tokens.csv", "system:node:gpu2", ["system:nodes"])
    return tmp_path


def user_token(home: Path, user: str) -> str:
    cfg = yaml.safe_load((home / "users" / f"{user}.kubeconfig").read_text())
    return str(cfg["users"][0]["user"]["token"])


def test_the_cli_creates_with_expiry_rotates_revokes_and_lists(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = ["--home", str(home)]
    assert cli.main(["create", "--user", "alice", "--role", "edit", "--ttl", "7d", *h]) == 0
    first = user_token(home, "alice")
    (row,) = [r for r in token_file.read(home / "tokens.csv") if r.user == "alice"]
    left = (row.expires_at() or 0) - time.time()
    assert 7 * 86400 - 60 < left <= 7 * 86400
    assert cli.main(["rotate", "--user", "alice", *h]) == 0
    assert "1 old token(s) revoked" in capsys.readouterr().out
    second = user_token(home, "alice")
    tokens = {r.token for r in token_file.read(home / "tokens.csv")}
    assert second != first and second in tokens and first not in tokens
    assert cli.main(["revoke", "--node", "gpu2", *h]) == 0
    assert "revoked 1 token(s) of system:node:gpu2" in capsys.readouterr().out
    assert cli.main(["list", *h]) == 0
    listed = capsys.readouterr().out
    assert "alice" in listed and "never" in listed and "gpu2" not in listed
    assert first not in listed and second not in listed  # never a secret


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["revoke"], "name one --user NAME or --node NAME"),
        (["revoke", "--user", "admin"], "one of the cluster's own identities"),
        (["rotate", "--node", "gpu2"], "joining again"),
        (["create", "--user", "x", "--role", "view", "--ttl", "soon"], "--ttl: 'soon'"),
    ],
)
def test_wrong_requests_are_one_line(
    home: Path, argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*argv, "--home", str(home)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
