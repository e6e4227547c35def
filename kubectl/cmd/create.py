"""``kl create``: create objects from manifests, or from a few generators
(namespace, deployment, configmap, secret generic, job, quota)."""

from __future__ import annotations

import argparse
import base64
import copy
from pathlib import Path
from typing import Any

from api.errors import ApiError
from api.registry import ResourceInfo, lookup
from kubectl.cli import KlParser, add_file_flags, add_verb
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.fieldvalidation import add_validate_flag
from kubectl.manifests import (
    ObjectError,
    failure_line,
    load_manifests,
    resolve_manifest,
    unauthorized,
)
from kubectl.printers.names import object_name

EXAMPLES = """
  kl create -f job.yaml
  kl create namespace lab
  kl create deployment web --image=nginx:1.27 --replicas=3 --port=80
  kl create configmap settings --from-literal=mode=fast --from-file=config.ini
  kl create secret generic token --from-literal=key=s3cr3t
  kl create job once --image=busybox -- echo hello
  kl create quota gpus --hard=requests.nvidia.com/gpu=4,pods=20
"""


def register(sub: Any, parent: KlParser) -> None:
    p = add_verb(sub, parent, "create", "Create objects from manifests or generators", EXAMPLES)
    add_file_flags(p)
    p.add_argument(
        "-o",
        "--output",
        choices=["name"],
        default=None,
        help="'name' prints only kind/name of each object",
    )
    add_validate_flag(p)
    p.set_defaults(run=run_files)
    gens = p.add_subparsers(title="generators", metavar="GENERATOR", parser_class=KlParser)

    g = gens.add_parser(
        "namespace",
        aliases=["ns"],
        parents=[parent],
        help="a namespace",
        epilog="example: kl create namespace lab",
    )
    g.add_argument("name")
    add_validate_flag(g)
    g.set_defaults(run=lambda ctx: _create(ctx, lookup("namespaces"), _namespace(ctx.args)))

    g = gens.add_parser(
        "deployment",
        aliases=["deploy"],
        parents=[parent],
        help="a deployment running one image",
        epilog="example: kl create deployment web --image=nginx:1.27 --replicas=2",
    )
    g.add_argument("name")
    add_validate_flag(g)
    g.add_argument("--image", required=True, action="append", help="container image (repeatable)")
    g.add_argument("--replicas", type=int, default=1, help="number of replicas")
    g.add_argument("--port", type=int, help="container port to declare")
    g.set_defaults(run=lambda ctx: _create(ctx, lookup("deployments"), _deployment(ctx)))

    g = gens.add_parser(
        "configmap",
        aliases=["cm"],
        parents=[parent],
        help="a configmap",
        epilog="example: kl create configmap app --from-literal=mode=fast",
    )
    g.add_argument("name")
    add_validate_flag(g)
    g.add_argument("--from-literal", action="append", default=[], metavar="KEY=VALUE")
    g.add_argument("--from-file", action="append", default=[], metavar="[KEY=]PATH")
    g.set_defaults(run=lambda ctx: _create(ctx, lookup("configmaps"), _configmap(ctx)))

    g = gens.add_parser(
        "secret",
        parents=[parent],
        help="a secret (generic)",
        epilog="example: kl create secret generic token --from-literal=key=v",
    )
    g.add_argument("secret_type", choices=["generic"], help="only 'generic' is supported")
    g.add_argument("name")
    add_validate_flag(g)
    g.add_argument("--from-literal", action="append", default=[], metavar="KEY=VALUE")
    g.add_argument("--from-file", action="append", default=[], metavar="[KEY=]PATH")
    g.add_argument("--type", default="Opaque", help="the secret's type")
    g.set_defaults(run=lambda ctx: _create(ctx, lookup("secrets"), _secret(ctx)))

    g = gens.add_parser(
        "job",
        parents=[parent],
        help="a job running one image, or a run of a CronJob's job template now",
        epilog="examples:\n  kl create job once --image=busybox -- echo hello\n"
        "  kl create job backup-now --from=cronjob/backup",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g.add_argument("name")
    add_validate_flag(g)
    g.add_argument("--image", help="container image")
    g.add_argument(
        "--from", dest="from_", metavar="cronjob/NAME", help="copy a CronJob's job template"
    )
    g.set_defaults(run=lambda ctx: _create(ctx, lookup("jobs"), _job(ctx)))

    g = gens.add_parser(
        "quota",
        aliases=["resourcequota"],
        parents=[parent],
        help="a resource quota for the namespace",
        epilog="example: kl create quota gpus --hard=requests.nvidia.com/gpu=4,pods=20",
    )
    g.add_argument("name")
    add_validate_flag(g)
    g.add_argument("--hard", default="", metavar="RESOURCE=QUANTITY,...", help="the limits")
    g.add_argument("--scopes", default="", metavar="SCOPE,...", help="e.g. NotTerminating")
    g.set_defaults(run=lambda ctx: _create(ctx, lookup("resourcequotas"), _quota(ctx.args)))


def run_files(ctx: Ctx) -> int:
    if not ctx.args.filename:
        raise CliError("create needs -f FILE or a generator (see 'kl create --help')")
    manifests = load_manifests(ctx.args.filename, ctx.args.recursive, ctx.stdin)
    failed = 0
    for m in manifests:
        try:
            info, ns = resolve_manifest(m, ctx.namespace, ctx.explicit_namespace)
            try:
                created = ctx.client.create(info, m.obj, ns, field_validation=ctx.args.validate)
            except ApiError as e:
                raise ObjectError("creating", e) from e
        except (ObjectError, CliError) as e:
            refused = unauthorized(e)
            if refused is not None:
                raise refused from e
            ctx.err(failure_line(m, e))
            failed += 1
            continue
        _report(ctx, {**m.obj, "metadata": created.get("metadata") or m.obj["metadata"]})
    return 1 if failed else 0


def _report(ctx: Ctx, obj: dict[str, Any]) -> None:
    name = object_name(obj)
    ctx.out(name if ctx.opt("output") == "name" else f"{name} created")


def _create(ctx: Ctx, info: ResourceInfo | None, obj: dict[str, Any]) -> int:
    assert info is not None
    ns = ctx.namespace if info.namespaced else None
    if ns:
        obj["metadata"]["namespace"] = ns
    ctx.client.create(info, obj, ns, field_validation=ctx.opt("validate", "Strict"))
    _report(ctx, obj)
    return 0


def _namespace(args: argparse.Namespace) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": args.name}}


def _container_name(image: str) -> str:
    base = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
    return "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in base.lower()) or "main"


def _deployment(ctx: Ctx) -> dict[str, Any]:
    a = ctx.args
    containers: list[dict[str, Any]] = [
        {"name": _container_name(img), "image": img} for img in a.image
    ]
    if a.port:
        containers[0]["ports"] = [{"containerPort": a.port}]
    labels = {"app": a.name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": a.name, "labels": dict(labels)},
        "spec": {
            "replicas": a.replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": containers}},
        },
    }


def _key_values(literals: list[str], files: list[str]) -> dict[str, bytes]:
    data: dict[str, bytes] = {}
    for lit in literals:
        key, sep, value = lit.partition("=")
        if not sep or not key:
            raise CliError(f"--from-literal needs KEY=VALUE, got {lit!r}")
        data[key] = value.encode()
    for spec in files:
        key, sep, path = spec.partition("=")
        if not sep:
            key, path = Path(spec).name, spec
        try:
            data[key] = Path(path).read_bytes()
        except OSError as e:
            raise CliError(f"cannot read {path}: {e.strerror or e}") from e
    return data


def _configmap(ctx: Ctx) -> dict[str, Any]:
    a = ctx.args
    raw = _key_values(a.from_literal, a.from_file)
    data, binary = {}, {}
    for k, v in raw.items():
        try:
            data[k] = v.decode()
        except UnicodeDecodeError:
            binary[k] = base64.b64encode(v).decode()
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": a.name}}
    if data:
        obj["data"] = data
    if binary:
        obj["binaryData"] = binary
    return obj


def _quota(args: argparse.Namespace) -> dict[str, Any]:
    """kubectl create quota's object: ``--hard`` pairs and ``--scopes``, as given."""
    hard: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in args.hard.split(","))):
        key, eq, value = pair.partition("=")
        if not eq or not key or not value:
            raise CliError(f"--hard needs RESOURCE=QUANTITY pairs joined by commas, got {pair!r}")
        hard[key] = value
    spec: dict[str, Any] = {"hard": hard}
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    if scopes:
        spec["scopes"] = scopes
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": args.name},
        "spec": spec,
    }


def _secret(ctx: Ctx) -> dict[str, Any]:
    a = ctx.args
    raw = _key_values(a.from_literal, a.from_file)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": a.name},
        "type": a.type,
        "data": {k: base64.b64encode(v).decode() for k, v in raw.items()},
    }


def job_from_cronjob(cj: dict[str, Any], name: str) -> dict[str, Any]:
    """kubectl's createJobFromCronJob: the CronJob's job template as a Job owned by it,
    annotated as started by hand."""
    template = (cj.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    meta = cj.get("metadata") or {}
    job_meta: dict[str, Any] = {
        "name": name,
        "annotations": {
            "cronjob.kubernetes.io/instantiate": "manual",
            **(tmeta.get("annotations") or {}),
        },
        "ownerReferences": [
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "name": meta.get("name", ""),
                "uid": meta.get("uid", ""),
                "controller": True,
            }
        ],
    }
    if tmeta.get("labels"):
        job_meta["labels"] = dict(tmeta["labels"])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def _job(ctx: Ctx) -> dict[str, Any]:
    a = ctx.args
    if a.from_:
        if a.image or a.trailing:
            raise CliError("either --image or --from may be given, not both")
        kind, _, source = a.from_.partition("/")
        info = lookup(kind) if source else None
        if info is None or info.kind != "CronJob":
            raise CliError(f"--from must name a CronJob as cronjob/NAME, not {a.from_!r}")
        return job_from_cronjob(ctx.client.get(info, source, ctx.namespace), a.name)
    if not a.image:
        raise CliError("kl create job needs --image=IMAGE or --from=cronjob/NAME")
    container: dict[str, Any] = {"name": a.name, "image": a.image}
    if a.trailing:
        container["command"] = list(a.trailing)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": a.name},
        "spec": {
            "template": {"spec": {"containers": [container], "restartPolicy": "Never"}},
        },
    }
