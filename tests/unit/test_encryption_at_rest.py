"""Secrets encrypted at rest (apiserver/encryption.py through the store): Kubernetes'
EncryptionConfiguration, the k8s:enc: stored form, what a copied database file shows, turning
encryption on for an existing store, key rotation, and the errors a wrong file gets."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from apiserver.encryption import (
    DecryptError,
    Encryption,
    EncryptionConfigError,
    ensure_config,
    load_config,
    parse_config,
)
from apiserver.store import Store

VALUE = "hunter2-the-lab-password"
KEY1 = base64.b64encode(b"1" * 32).decode()
KEY2 = base64.b64encode(b"2" * 32).decode()


def config(*providers: str) -> Encryption:
    body = "\n".join(f"      - {p}" for p in providers)
    return parse_config(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
        f"resources:\n  - resources: [secrets]\n    providers:\n{body}\n"
    )


def aesgcm(*keys: tuple[str, str]) -> str:
    ks = ", ".join(f"{{name: {n}, secret: {s}}}" for n, s in keys)
    return f"aesgcm: {{keys: [{ks}]}}"


def secret(name: str) -> dict[str, Any]:
    data = {"password": base64.b64encode(VALUE.encode()).decode()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "lab"},
        "data": data,
        "stringData": None,
    }


def run(db: Path, enc: Encryption | None, fn: Any) -> Any:
    async def main() -> Any:
        store = Store(f"sqlite:///{db}", encryption=enc)
        store.start(asyncio.get_running_loop())
        try:
            return await fn(store)
        finally:
            store.stop()

    return asyncio.run(main())


async def write(store: Store, name: str) -> None:
    await store.mutate("/secrets", "lab", name, lambda cur: secret(name), create=True)


def raw_rows(db: Path) -> list[bytes]:
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT data FROM objects WHERE resource = '/secrets'").fetchall()
        rows += con.execute("SELECT data FROM changes WHERE resource = '/secrets'").fetchall()
        return [bytes(r[0]) for r in rows]
    finally:
        con.close()


def plain_in_file(db: Path) -> bool:
    b64 = base64.b64encode(VALUE.encode())
    return any(
        b64 in p for p in (db.read_bytes(), *(f.read_bytes() for f in db.parent.glob("*-wal")))
    )


def test_a_copied_database_does_not_show_the_secret(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    enc = config(aesgcm(("key1", KEY1)), "identity: {}")

    async def go(store: Store) -> None:
        await write(store, "db-creds")
        got = store.get("/secrets", "lab", "db-creds")
        assert got is not None and got["data"]["password"] == secret("x")["data"]["password"]
        _, listed = store.list_raw("/secrets", "lab")
        assert b"hunter2" not in listed[0] and base64.b64encode(VALUE.encode()) in listed[0]
        (event,) = store.changes_since(0)
        assert event.obj["metadata"]["name"] == "db-creds"

    run(db, enc, go)
    rows = raw_rows(db)
    assert len(rows) == 2 and all(r.startswith(b"k8s:enc:aesgcm:v1:key1:") for r in rows)
    assert not plain_in_file(db)


def test_turning_encryption_on_rewrites_what_was_stored_plain(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    run(db, None, lambda s: write(s, "old"))
    assert all(r.startswith(b"{") for r in raw_rows(db))
    enc = config(aesgcm(("key1", KEY1)), "identity: {}")

    async def reopened(store: Store) -> None:
        assert store.reencrypted == 2  # its object row and its change-log row
        assert store.get("/secrets", "lab", "old") is not None

    run(db, enc, reopened)
    assert all(r.startswith(b"k8s:enc:aesgcm:v1:key1:") for r in raw_rows(db))


def test_rotation_puts_every_row_under_the_new_key(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    run(db, config(aesgcm(("key1", KEY1))), lambda s: write(s, "a"))
    rotated = config(aesgcm(("key2", KEY2), ("key1", KEY1)))
    run(db, rotated, lambda s: asyncio.sleep(0))
    assert all(r.startswith(b"k8s:enc:aesgcm:v1:key2:") for r in raw_rows(db))

    async def only_key2(store: Store) -> None:  # key1 may go now
        assert store.get("/secrets", "lab", "a") is not None

    run(db, config(aesgcm(("key2", KEY2))), only_key2)


def test_a_key_removed_too_early_is_named(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    run(db, config(aesgcm(("key1", KEY1))), lambda s: write(s, "a"))
    with pytest.raises(
        DecryptError,
        match="under k8s:enc:aesgcm:v1:key1 and no configured provider reads it: put the key",
    ):
        run(db, config(aesgcm(("key2", KEY2))), lambda s: asyncio.sleep(0))


def test_ciphertext_is_bound_to_its_key() -> None:
    chain = config(aesgcm(("key1", KEY1))).chain("/secrets")
    assert chain is not None
    sealed = chain.encrypt(b"{}", Encryption.context("/secrets", "lab", "a"))
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        chain.decrypt(sealed, Encryption.context("/secrets", "lab", "b"))


def test_aescbc_as_kubernetes_writes_it() -> None:
    chain = config(f"aescbc: {{keys: [{{name: k, secret: {KEY1}}}]}}").chain("/secrets")
    assert chain is not None
    ctx = Encryption.context("/secrets", "lab", "a")
    sealed = chain.encrypt(b'{"kind":"Secret"}', ctx)
    assert sealed.startswith(b"k8s:enc:aescbc:v1:k:")
    assert chain.decrypt(sealed, ctx) == b'{"kind":"Secret"}'


@pytest.mark.parametrize(
    ("provider", "words"),
    [
        ("secretbox: {keys: [{name: k, secret: AAAA}]}", "provider 'secretbox' is not supported"),
        (
            f"aesgcm: {{keys: [{{name: k, secret: {base64.b64encode(b'short').decode()}}}]}}",
            "5 bytes",
        ),
        ("aesgcm: {keys: [{name: k}]}", "needs a name and a base64 secret"),
        ("aesgcm: {keys: []}", "at least one key"),
    ],
)
def test_a_wrong_configuration_names_the_field(provider: str, words: str) -> None:
    with pytest.raises(EncryptionConfigError, match=words):
        config(provider)


def test_a_new_cluster_gets_a_private_configuration(tmp_path: Path) -> None:
    path = ensure_config(tmp_path / "encryption-config.yaml")
    assert path.stat().st_mode & 0o777 == 0o600
    enc = load_config(path)
    chain = enc.chain("/secrets")
    assert chain is not None and chain.providers[0].name == "aesgcm"
    before = path.read_text()
    ensure_config(path)  # a restart keeps the key
    assert path.read_text() == before
