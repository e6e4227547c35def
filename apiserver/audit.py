"""The audit log: who did what to which object, as Kubernetes' audit events, so a lab can
answer "who deleted my job".

Each request the API answers is matched against an audit Policy (``audit.k8s.io/v1``, the
file kube-apiserver reads with ``--audit-policy-file``: rules in order, the first that
matches gives the level) and, unless the level is None, written as one ``audit.k8s.io/v1``
Event per line (JSON) to ``--audit-log-path`` (default ``HOME/logs/audit.log``), rotated by
size (``--audit-log-maxsize`` MB, ``--audit-log-maxbackup`` files). Levels: Metadata (user,
verb, object, response code, times), Request (plus the request body). The default policy
keeps Secrets, ConfigMaps and token reviews at Metadata, so their values never reach the
log, records every write, and leaves out reads and the heartbeats nodes and leader
elections send every few seconds.

Writing happens on a thread of its own behind a bounded queue: a request never waits for
the disk. Should the queue fill (a disk much slower than the API), events are dropped and
counted, and the log says how many.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml

from apiserver.paths import Target

log = logging.getLogger("kubelab.audit")

NONE, METADATA, REQUEST = "None", "Metadata", "Request"
LEVELS = (NONE, METADATA, REQUEST, "RequestResponse")
QUEUE_SIZE = 10_000

DEFAULT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  # Reads are many and change nothing.
  - level: None
    verbs: [get, list, watch]
  # Heartbeats: node status and leases, leader-election leases, events.
  - level: None
    userGroups: [system:nodes]
    verbs: [update, patch]
    resources:
      - {group: "", resources: [nodes, nodes/status, pods/status]}
      - {group: coordination.k8s.io, resources: [leases]}
  - level: None
    verbs: [update, patch]
    resources: [{group: coordination.k8s.io, resources: [leases]}]
  - level: None
    resources: [{group: "", resources: [events]}, {group: events.k8s.io, resources: [events]}]
  # Values that must never reach the log.
  - level: Metadata
    resources:
      - {group: "", resources: [secrets, configmaps, serviceaccounts/token]}
      - {group: authentication.k8s.io, resources: [tokenreviews]}
  # Every other write, with what was sent.
  - level: Request
"""


class AuditPolicyError(ValueError):
    """The policy file is wrong; the message names the rule and the field."""


@dataclass(frozen=True)
class Rule:
    level: str
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    verbs: frozenset[str] = frozenset()
    # (group, resource or resource/subresource); empty: every resource
    resources: frozenset[tuple[str, str]] = frozenset()
    namespaces: frozenset[str] = frozenset()

    def matches(self, user: str, groups: list[str], verb: str, target: Target | None) -> bool:
        if self.users and user not in self.users:
            return False
        if self.groups and not self.groups.intersection(groups):
            return False
        if self.verbs and verb not in self.verbs:
            return False
        if self.resources:
            if target is None:
                return False
            res = target.info.plural
            full = f"{res}/{target.subresource}" if target.subresource else res
            group = target.info.group
            if (group, full) not in self.resources and (group, "*") not in self.resources:
                return False
        if self.namespaces:
            if target is None or (target.namespace or "") not in self.namespaces:
                return False
        return True


@dataclass
class Policy:
    rules: list[Rule] = field(default_factory=list)

    def level(self, user: str, groups: list[str], verb: str, target: Target | None) -> str:
        for rule in self.rules:
            if rule.matches(user, groups, verb, target):
                return rule.level
        return NONE


def parse_policy(text: str, source: str = "audit policy") -> Policy:
    """Read an ``audit.k8s.io/v1`` Policy; fields kubelab does not act on are refused."""
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise AuditPolicyError(f"{source}: not YAML: {exc}") from None
    if doc.get("kind") != "Policy" or doc.get("apiVersion") != "audit.k8s.io/v1":
        raise AuditPolicyError(f"{source}: expected kind Policy, apiVersion audit.k8s.io/v1")
    stages = doc.get("omitStages") or []
    if any(
        s not in ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic") for s in stages
    ):
        raise AuditPolicyError(f"{source}: omitStages: unknown stage in {stages}")
    rules = []
    known = {"level", "users", "userGroups", "verbs", "resources", "namespaces", "omitStages"}
    for i, raw in enumerate(doc.get("rules") or []):
        where = f"{source}: rules[{i}]"
        extra = set(raw or {}) - known
        if extra:
            raise AuditPolicyError(
                f"{where}: {', '.join(sorted(extra))} not supported (kubelab matches on level, "
                "users, userGroups, verbs, resources, namespaces)"
            )
        level = raw.get("level")
        if level not in LEVELS:
            raise AuditPolicyError(f"{where}.level: one of {', '.join(LEVELS)}")
        if level == "RequestResponse":
            level = REQUEST  # responses are not recorded: said in the module docstring
        res: set[tuple[str, str]] = set()
        for j, r in enumerate(raw.get("resources") or []):
            if "resourceNames" in (r or {}):
                raise AuditPolicyError(f"{where}.resources[{j}].resourceNames: not supported")
            for name in (r or {}).get("resources") or ["*"]:
                res.add((str((r or {}).get("group") or ""), str(name)))
        rules.append(
            Rule(
                level=level,
                users=frozenset(raw.get("users") or ()),
                groups=frozenset(raw.get("userGroups") or ()),
                verbs=frozenset(raw.get("verbs") or ()),
                resources=frozenset(res),
                namespaces=frozenset(raw.get("namespaces") or ()),
            )
        )
    return Policy(rules)


def _micro(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AuditLog:
    """Builds audit events and writes them, off the request path, to a rotated file."""

    def __init__(self, policy: Policy, path: Path, max_mb: int = 100, backups: int = 3) -> None:
        self.policy = policy
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_mb * 1024 * 1024
        self.backups = backups
        self._file = open(path, "ab")  # noqa: SIM115 - held by the writer thread
        self._size = self._file.tell()
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(QUEUE_SIZE)
        self.dropped = 0
        self.written = 0
        self._thread = threading.Thread(target=self._write_loop, name="audit-log", daemon=True)
        self._thread.start()

    def level(self, user: str, groups: list[str], verb: str, target: Target | None) -> str:
        return self.policy.level(user, groups, verb, target)

    def record(
        self,
        *,
        level: str,
        user: str,
        groups: list[str],
        verb: str,
        target: Target | None,
        uri: str,
        source_ip: str,
        user_agent: str,
        code: int,
        received: float,
        body: bytes | None,
        streaming: bool = False,
    ) -> None:
        """Queue one event (never blocks the request)."""
        event: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": level,
            "auditID": str(uuid.uuid4()),
            "stage": "ResponseStarted" if streaming else "ResponseComplete",
            "requestURI": uri,
            "verb": verb,
            "user": {"username": user, "groups": groups},
            "sourceIPs": [source_ip] if source_ip else [],
            "userAgent": user_agent,
            "responseStatus": {"metadata": {}, "code": code},
            "requestReceivedTimestamp": _micro(received),
            "stageTimestamp": _micro(time.time()),
        }
        if target is not None:
            ref: dict[str, Any] = {
                "resource": target.info.plural,
                "apiGroup": target.info.group,
                "apiVersion": target.info.version,
            }
            if target.namespace:
                ref["namespace"] = target.namespace
            if target.name:
                ref["name"] = target.name
            if target.subresource:
                ref["subresource"] = target.subresource
            event["objectRef"] = ref
        if level == REQUEST and body and code < 400:
            # Answered, so the body parsed as JSON (or protobuf): the writer embeds it.
            event["_body"] = body
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    @staticmethod
    def _line(event: dict[str, Any]) -> bytes:
        """One JSON line. A JSON request body goes in as it came (the request parsed and
        checked it already): parsing it again here would take the API's share of the
        interpreter. Anything else (protobuf) is left out: metadata only."""
        body = event.pop("_body", None)
        line = orjson.dumps(event)
        if body is not None:
            body = body.strip()
            if body[:1] == b"{" and body[-1:] == b"}":
                # JSON may hold raw newlines only as whitespace between tokens
                body = body.replace(b"\r", b" ").replace(b"\n", b" ")
                line = line[:-1] + b',"requestObject":' + body + b"}"
        return line + b"\n"

    def _rotate(self) -> None:
        """audit.log -> audit.log.1 -> ... -> audit.log.N (the oldest is dropped)."""
        self._file.close()
        for i in range(self.backups - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i}")
            if src.exists():
                src.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
        if self.backups > 0:
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._file = open(self.path, "ab")  # noqa: SIM115 - held by the writer thread
        self._size = 0

    def _write_loop(self) -> None:
        said = 0
        stop = False
        while not stop:
            batch = [self._queue.get()]
            while len(batch) < 512:  # what queued meanwhile: one write and one flush
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in batch
            events = [e for e in batch if e is not None]
            try:
                chunk: list[bytes] = []
                size = self._size
                for e in events:
                    line = self._line(e)
                    if size and size + len(line) > self.max_bytes:
                        self._file.write(b"".join(chunk))
                        self._rotate()
                        chunk, size = [], 0
                    chunk.append(line)
                    size += len(line)
                self._file.write(b"".join(chunk))
                self._file.flush()
                self._size = size
                self.written += len(events)
            except Exception as exc:  # noqa: BLE001 - a full disk must not stop the API
                log.warning("audit log write failed: %s", exc)
            if self.dropped > said:
                log.warning(
                    "audit log: %d events dropped (writing slower than the API)", self.dropped
                )
                said = self.dropped

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._file.close()


def load_policy(path: Path | None) -> Policy:
    """The policy in ``path``, or the default one."""
    if path is None:
        return parse_policy(DEFAULT_POLICY, "the default audit policy")
    return parse_policy(path.read_text(), str(path))
