"""The audit policy (apiserver/audit.py): Kubernetes' Policy file matched rule by rule, and
the default policy's levels for what a lab does all day."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.registry import by_plural
from apiserver.audit import AuditPolicyError, load_policy, parse_policy
from apiserver.paths import Target


def target(group: str, plural: str, ns: str | None = "lab", sub: str = "") -> Target:
    info = by_plural(group, plural)
    assert info is not None
    return Target(info, ns, "x", sub)


@pytest.mark.parametrize(
    ("user", "groups", "verb", "group", "plural", "sub", "level"),
    [
        ("alice", [], "delete", "batch", "jobs", "", "Request"),
        ("alice", [], "create", "", "secrets", "", "Metadata"),
        ("alice", [], "update", "", "configmaps", "", "Metadata"),
        ("alice", [], "get", "", "secrets", "", "None"),
        ("alice", [], "list", "", "pods", "", "None"),
        ("system:node:gpu-1", ["system:nodes"], "patch", "", "pods", "status", "None"),
        (
            "system:node:gpu-1",
            ["system:nodes"],
            "update",
            "coordination.k8s.io",
            "leases",
            "",
            "None",
        ),
        ("system:kube-scheduler", [], "update", "coordination.k8s.io", "leases", "", "None"),
        ("system:kube-scheduler", [], "create", "", "pods", "binding", "Request"),
        ("alice", [], "create", "", "events", "", "None"),
    ],
)
def test_default_policy_levels(
    user: str, groups: list[str], verb: str, group: str, plural: str, sub: str, level: str
) -> None:
    policy = load_policy(None)
    assert policy.level(user, groups, verb, target(group, plural, sub=sub)) == level


def test_rules_match_in_order_on_users_groups_and_namespaces() -> None:
    policy = parse_policy(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
        "  - {level: None, users: [ci-bot]}\n"
        "  - {level: Metadata, namespaces: [prod]}\n"
        "  - {level: Request, userGroups: [students]}\n"
    )
    jobs = target("batch", "jobs")
    assert policy.level("ci-bot", ["students"], "create", jobs) == "None"
    assert (
        policy.level("bob", ["students"], "create", target("batch", "jobs", "prod")) == "Metadata"
    )
    assert policy.level("bob", ["students"], "create", jobs) == "Request"
    assert policy.level("carol", [], "create", jobs) == "None"  # no rule: not logged


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("{level: Everything}", "level: one of None, Metadata"),
        ("{level: Request, resources: [{resources: [pods], resourceNames: [x]}]}", "resourceNames"),
        ("{level: Request, nonResourceURLs: [/healthz]}", "nonResourceURLs not supported"),
    ],
)
def test_a_wrong_policy_names_the_rule(rule: str, words: str) -> None:
    with pytest.raises(AuditPolicyError, match=words):
        parse_policy(f"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - {rule}\n")


def test_the_log_rotates_by_size_and_keeps_its_backups(tmp_path: Path) -> None:
    import orjson

    from apiserver.audit import AuditLog

    log = AuditLog(load_policy(None), tmp_path / "audit.log", max_mb=1, backups=2)
    log.max_bytes = 2000  # a few events per file
    try:
        for i in range(60):
            log.record(
                level="Request", user="alice", groups=[], verb="create",
                target=target("batch", "jobs"), uri="/apis/batch/v1/namespaces/lab/jobs",
                source_ip="127.0.0.1", user_agent="kl", code=201, received=0.0,
                body=b'{"kind": "Job",\n "metadata": {"name": "j%d"}}' % i,
            )  # fmt: skip
        log.flush()
    finally:
        log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["audit.log", "audit.log.1", "audit.log.2"]
    newest = [orjson.loads(x) for x in (tmp_path / "audit.log").read_bytes().splitlines()]
    assert newest[-1]["requestObject"]["metadata"]["name"] == "j59"
    assert all(len(f.read_bytes()) <= 2000 + 400 for f in tmp_path.iterdir())
