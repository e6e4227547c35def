"""Encryption at rest: Kubernetes' EncryptionConfiguration, for what the store writes.

A copied ``state.db`` or PostgreSQL dump must not leak Secrets, so the store passes the
bytes of every configured resource through the first provider of its list before they
reach the database (the object row and its change-log row), and back through whichever
provider wrote them when it reads. The file is Kubernetes' own
(``apiserver.config.k8s.io/v1`` ``EncryptionConfiguration``, ``--encryption-provider-config``)
and so is the stored form, ``k8s:enc:<provider>:v1:<key name>:`` then the ciphertext:

- ``aesgcm``: AES-GCM with a random 96-bit nonce, the object's storage key as authenticated
  data (a ciphertext moved to another key does not decrypt);
- ``aescbc``: AES-CBC with PKCS#7 padding and a random IV, as Kubernetes writes it;
- ``identity``: plain bytes. Listed last, it lets a cluster read what it stored before
  encryption was turned on.

Rotation: put a new key first (every key listed still decrypts), restart the apiserver;
at start it rewrites every stored object of those resources that is not under the first
key (``Store.reencrypt``), after which the old key can go. The ciphers are the
``cryptography`` package's; nothing here is hand-written cryptography.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = b"k8s:enc:"
KIND = "EncryptionConfiguration"
API_VERSIONS = ("apiserver.config.k8s.io/v1", "apiserver.k8s.io/v1")
KEY_SIZES = (16, 24, 32)


class EncryptionConfigError(ValueError):
    """The configuration file is wrong; the message says where and how to fix it."""


class Provider(Protocol):
    name: str  # aesgcm, aescbc, identity

    def encrypt(self, plain: bytes, context: bytes) -> bytes: ...

    def decrypt(self, stored: bytes, context: bytes) -> bytes | None:
        """The plain bytes, or None when ``stored`` was not written by this provider."""


class Identity:
    name = "identity"

    def encrypt(self, plain: bytes, context: bytes) -> bytes:
        return plain

    def decrypt(self, stored: bytes, context: bytes) -> bytes | None:
        return None if stored.startswith(PREFIX) else stored


@dataclass
class _Keyed:
    """A provider with named keys: the first encrypts, every one decrypts its own."""

    name: str
    keys: list[tuple[str, bytes]]

    def prefix(self, key_name: str) -> bytes:
        return PREFIX + f"{self.name}:v1:{key_name}:".encode()

    def encrypt(self, plain: bytes, context: bytes) -> bytes:
        key_name, key = self.keys[0]
        return self.prefix(key_name) + self.seal(key, plain, context)

    def decrypt(self, stored: bytes, context: bytes) -> bytes | None:
        for key_name, key in self.keys:
            head = self.prefix(key_name)
            if stored.startswith(head):
                return self.open(key, stored[len(head) :], context)
        return None

    def seal(self, key: bytes, plain: bytes, context: bytes) -> bytes:
        raise NotImplementedError

    def open(self, key: bytes, sealed: bytes, context: bytes) -> bytes:
        raise NotImplementedError


class AesGcm(_Keyed):
    def seal(self, key: bytes, plain: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(key).encrypt(nonce, plain, context)

    def open(self, key: bytes, sealed: bytes, context: bytes) -> bytes:
        return AESGCM(key).decrypt(sealed[:12], sealed[12:], context)


class AesCbc(_Keyed):
    def seal(self, key: bytes, plain: bytes, context: bytes) -> bytes:
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        padded = padder.update(plain) + padder.finalize()
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return iv + enc.update(padded) + enc.finalize()

    def open(self, key: bytes, sealed: bytes, context: bytes) -> bytes:
        dec = Cipher(algorithms.AES(key), modes.CBC(sealed[:16])).decryptor()
        padded = dec.update(sealed[16:]) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()


class DecryptError(Exception):
    """Stored bytes no configured provider can read (a key removed too early)."""


@dataclass
class ProviderChain:
    """The providers of one group of resources, in the file's order."""

    providers: list[Any]

    def encrypt(self, plain: bytes, context: bytes) -> bytes:
        return bytes(self.providers[0].encrypt(plain, context))

    def decrypt(self, stored: bytes, context: bytes) -> bytes:
        for p in self.providers:
            plain = p.decrypt(stored, context)
            if plain is not None:
                return bytes(plain)
        if stored.startswith(PREFIX):
            form = b":".join(stored.split(b":", 5)[:5]).decode(errors="replace")
            raise DecryptError(
                f"data stored under {form} and no configured provider reads it: put the key "
                "that wrote it back into the encryption configuration"
            )
        raise DecryptError(
            "data stored unencrypted and no configured provider reads it: add the identity "
            "provider (last) to the encryption configuration"
        )

    def current(self, stored: bytes) -> bool:
        """Whether ``stored`` is already in the form the first provider writes."""
        first = self.providers[0]
        if isinstance(first, _Keyed):
            return stored.startswith(first.prefix(first.keys[0][0]))
        return not stored.startswith(PREFIX)


@dataclass
class Encryption:
    """Which store resources (``group/plural``, ``/secrets`` for core) go through which chain."""

    chains: dict[str, ProviderChain] = field(default_factory=dict)
    source: str = ""

    def chain(self, resource: str) -> ProviderChain | None:
        return self.chains.get(resource)

    @staticmethod
    def context(resource: str, namespace: str, name: str) -> bytes:
        """The authenticated data: the object's storage key."""
        return f"{resource}/{namespace}/{name}".encode()


def _store_resource(name: str) -> str:
    """``secrets`` → ``/secrets``; ``deployments.apps`` → ``apps/deployments``."""
    plural, _, group = name.partition(".")
    return f"{group}/{plural}"


def _provider(where: str, entry: Any) -> Any:
    if not isinstance(entry, dict) or len(entry) != 1:
        raise EncryptionConfigError(f"{where}: each provider is one of aesgcm, aescbc, identity")
    ((kind, spec),) = entry.items()
    if kind == "identity":
        return Identity()
    if kind not in ("aesgcm", "aescbc"):
        raise EncryptionConfigError(
            f"{where}: provider {kind!r} is not supported here; use aesgcm, aescbc or identity"
        )
    keys = []
    for i, k in enumerate((spec or {}).get("keys") or []):
        kw = f"{where}.{kind}.keys[{i}]"
        name, secret = (k or {}).get("name"), (k or {}).get("secret")
        if not name or not secret:
            raise EncryptionConfigError(f"{kw}: needs a name and a base64 secret")
        try:
            raw = base64.b64decode(secret, validate=True)
        except ValueError as exc:
            raise EncryptionConfigError(f"{kw}.secret: not base64 ({exc})") from None
        if len(raw) not in KEY_SIZES:
            raise EncryptionConfigError(
                f"{kw}.secret: {len(raw)} bytes; an AES key is 16, 24 or 32 bytes "
                "(head -c 32 /dev/urandom | base64)"
            )
        keys.append((str(name), raw))
    if not keys:
        raise EncryptionConfigError(f"{where}.{kind}.keys: at least one key is needed")
    return AesGcm(kind, keys) if kind == "aesgcm" else AesCbc(kind, keys)


def parse_config(text: str, source: str = "encryption configuration") -> Encryption:
    """Read an EncryptionConfiguration; raise EncryptionConfigError naming the field."""
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise EncryptionConfigError(f"{source}: not YAML: {exc}") from None
    if doc.get("kind") != KIND or doc.get("apiVersion") not in API_VERSIONS:
        raise EncryptionConfigError(f"{source}: expected kind {KIND}, apiVersion {API_VERSIONS[0]}")
    enc = Encryption(source=source)
    for i, group in enumerate(doc.get("resources") or []):
        where = f"{source}: resources[{i}]"
        names = (group or {}).get("resources") or []
        providers = [
            _provider(f"{where}.providers[{j}]", p)
            for j, p in enumerate(group.get("providers") or [])
        ]
        if not names or not providers:
            raise EncryptionConfigError(f"{where}: needs resources and providers")
        for name in names:
            if "*" in name:
                raise EncryptionConfigError(
                    f"{where}.resources: wildcards ({name}) are not supported; name each resource"
                )
            enc.chains.setdefault(_store_resource(name), ProviderChain(providers))
    return enc


def load_config(path: Path) -> Encryption:
    return parse_config(path.read_text(), str(path))


def new_config_text() -> str:
    """A configuration for a new cluster: Secrets under a fresh AES-GCM key, and identity
    so objects stored before encryption was turned on stay readable."""
    key = base64.b64encode(os.urandom(32)).decode()
    doc = {
        "apiVersion": API_VERSIONS[0],
        "kind": KIND,
        "resources": [
            {
                "resources": ["secrets"],
                "providers": [
                    {"aesgcm": {"keys": [{"name": "key1", "secret": key}]}},
                    {"identity": {}},
                ],
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def ensure_config(path: Path) -> Path:
    """Create ``path`` (mode 0600) with a fresh key when it does not exist yet."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_config_text())
    return path
