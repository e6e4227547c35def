"""A real apiserver stores Secrets encrypted, on both backends: the value a client wrote
reads back through the API (and the official client), never from the database itself; the
key file a new cluster gets is private."""

from __future__ import annotations

import base64
from pathlib import Path

import sqlalchemy as sa

from tests.harness import ApiServer

VALUE = "hunter2-the-lab-password"


def stored_rows(srv: ApiServer, db_url: str) -> list[bytes]:
    url = db_url or f"sqlite:///{srv.home / 'state.db'}"
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT data FROM objects WHERE resource = '/secrets' AND name = 'db-creds' "
                "UNION ALL SELECT data FROM changes WHERE resource = '/secrets' AND name = 'db-creds'"
            ).all()
    finally:
        eng.dispose()
    return [bytes(r[0]) for r in rows]


def test_secrets_are_encrypted_in_the_store(apiserver_any_db: ApiServer, db_url: str) -> None:
    srv = apiserver_any_db
    c = srv.client()
    data = {"password": base64.b64encode(VALUE.encode()).decode()}
    c.create("secrets", {"metadata": {"name": "db-creds"}, "data": data}, "default")
    got = c.get("secrets", "db-creds", "default")
    assert base64.b64decode(got["data"]["password"]).decode() == VALUE
    rows = stored_rows(srv, db_url)
    assert len(rows) == 2
    assert all(r.startswith(b"k8s:enc:aesgcm:v1:key1:") for r in rows)
    assert not any(data["password"].encode() in r or b"db-creds" in r for r in rows)
    config = Path(srv.home) / "encryption-config.yaml"
    assert config.stat().st_mode & 0o777 == 0o600
