"""admissionregistration.k8s.io/v1 Validating- and MutatingWebhookConfiguration: their
defaults and validation, worded as kube-apiserver's (pkg/apis/admissionregistration).

Pure: no I/O. Defaults are api/webhook_defaults.py. The apiserver calls the webhooks (apiserver/admission_webhooks.py); which
webhook a request reaches is decided in api/webhook_match.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from api.errors import Cause
from api.selectors import LabelSelector
from api.validation.common import (
    DNS1123_SUBDOMAIN_RE,
    Errs,
    duplicate,
    forbidden,
    invalid,
    required,
    unsupported,
)
from api.webhook_defaults import MUTATING, SIDE_EFFECTS

OPERATIONS = ("*", "CREATE", "UPDATE", "DELETE", "CONNECT")
SCOPES = ("*", "Cluster", "Namespaced")
FAILURE_POLICIES = ("Fail", "Ignore")
MATCH_POLICIES = ("Equivalent", "Exact")
REINVOCATION_POLICIES = ("IfNeeded", "Never")
REVIEW_VERSIONS = ("v1", "v1beta1")
MAX_TIMEOUT = 30

Obj = dict[str, Any]


def validate_configuration(errs: Errs, obj: Obj) -> None:
    """Every problem of a webhook configuration, each naming its field."""
    hooks = obj.get("webhooks")
    if hooks is None:
        return
    if not isinstance(hooks, list):
        invalid(errs, "webhooks", hooks, "must be a list of webhooks")
        return
    seen: set[str] = set()
    mutating = obj.get("kind") == MUTATING
    for i, hook in enumerate(hooks):
        where = f"webhooks[{i}]"
        if not isinstance(hook, dict):
            invalid(errs, where, hook, "must be an object with name, clientConfig and rules")
            continue
        name = hook.get("name")
        if isinstance(name, str) and name in seen:
            duplicate(
                errs, f"{where}.name", name, "webhook names must be unique in a configuration"
            )
        if isinstance(name, str):
            seen.add(name)
        _validate_webhook(errs, where, hook, mutating)


def _validate_webhook(errs: Errs, where: str, hook: Obj, mutating: bool) -> None:
    name = hook.get("name")
    if not name:
        required(errs, f"{where}.name", "name the webhook, e.g. label-adder.example.com")
    elif not isinstance(name, str) or not DNS1123_SUBDOMAIN_RE.match(name):
        invalid(
            errs,
            f"{where}.name",
            name,
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character",
        )
    elif name.count(".") < 2:
        invalid(
            errs,
            f"{where}.name",
            name,
            "should be a domain with at least three segments separated by dots",
        )
    for j, rule in enumerate(hook.get("rules") or []):
        _validate_rule(errs, f"{where}.rules[{j}]", rule)
    _one_of(errs, f"{where}.failurePolicy", hook.get("failurePolicy"), FAILURE_POLICIES)
    _one_of(errs, f"{where}.matchPolicy", hook.get("matchPolicy"), MATCH_POLICIES)
    if mutating:
        _one_of(
            errs,
            f"{where}.reinvocationPolicy",
            hook.get("reinvocationPolicy"),
            REINVOCATION_POLICIES,
        )
    elif "reinvocationPolicy" in hook:
        forbidden(errs, f"{where}.reinvocationPolicy", "only mutating webhooks are reinvoked")
    side = hook.get("sideEffects")
    if side is None:
        required(errs, f"{where}.sideEffects", "must specify one of None, NoneOnDryRun")
    else:
        _one_of(errs, f"{where}.sideEffects", side, SIDE_EFFECTS)
    timeout = hook.get("timeoutSeconds")
    if timeout is not None and (
        not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= MAX_TIMEOUT
    ):
        invalid(
            errs,
            f"{where}.timeoutSeconds",
            timeout,
            f"the timeout value must be between 1 and {MAX_TIMEOUT} seconds",
        )
    versions = hook.get("admissionReviewVersions")
    if not versions:
        required(errs, f"{where}.admissionReviewVersions", "must specify one of v1, v1beta1")
    elif not isinstance(versions, list) or not any(v in REVIEW_VERSIONS for v in versions):
        invalid(
            errs,
            f"{where}.admissionReviewVersions",
            versions,
            "must include at least one of v1, v1beta1",
        )
    elif "v1" not in versions:
        # kubelab speaks AdmissionReview v1 only; v1beta1's wire form differs in patchType.
        unsupported(errs, f"{where}.admissionReviewVersions", versions, ["v1"])
    for sel in ("namespaceSelector", "objectSelector"):
        value = hook.get(sel)
        if value is None:
            continue
        try:
            LabelSelector.from_dict(value)
        except ValueError as e:
            invalid(errs, f"{where}.{sel}", value, str(e))
    if hook.get("matchConditions"):
        forbidden(
            errs,
            f"{where}.matchConditions",
            "CEL match conditions are not supported by this server (no CEL library): "
            "use namespaceSelector, objectSelector or rules",
        )
    _validate_client_config(errs, f"{where}.clientConfig", hook.get("clientConfig"))


def _one_of(errs: Errs, field: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        unsupported(errs, field, value, allowed)


def _validate_rule(errs: Errs, where: str, rule: Any) -> None:
    if not isinstance(rule, dict):
        invalid(errs, where, rule, "must be an object with operations, apiGroups, ...")
        return
    ops = rule.get("operations")
    if not ops:
        required(errs, f"{where}.operations", "name the operations, e.g. [CREATE, UPDATE]")
    else:
        for k, op in enumerate(ops):
            _one_of(errs, f"{where}.operations[{k}]", op, OPERATIONS)
        if "*" in ops and len(ops) > 1:
            invalid(
                errs,
                f"{where}.operations",
                ops,
                "if '*' is present, must not specify other operations",
            )
    for field, what in (("apiGroups", "API groups"), ("apiVersions", "API versions")):
        values = rule.get(field)
        if not values:
            required(errs, f"{where}.{field}", f'name the {what}, or "*" for all')
            continue
        if "*" in values and len(values) > 1:
            invalid(
                errs,
                f"{where}.{field}",
                values,
                f"if '*' is present, must not specify other {what}",
            )
        if field == "apiVersions":
            for k, v in enumerate(values):
                if not v:
                    required(errs, f"{where}.apiVersions[{k}]", "version must not be empty")
    resources = rule.get("resources")
    if not resources:
        required(errs, f"{where}.resources", 'name the resources, e.g. [pods] or ["*"]')
    else:
        _validate_resources(errs, f"{where}.resources", resources)
    _one_of(errs, f"{where}.scope", rule.get("scope"), SCOPES)


def _validate_resources(errs: Errs, where: str, resources: list[Any]) -> None:
    """``pods``, ``pods/status``, ``pods/*``, ``*``, ``*/status``, ``*/*`` (Kubernetes'
    resource name rules: no empty parts, '*/*' alone)."""
    with_sub: dict[str, set[str]] = {}
    for k, res in enumerate(resources):
        if not isinstance(res, str) or not res:
            required(errs, f"{where}[{k}]", "resource must not be empty")
            continue
        base, _, sub = res.partition("/")
        if not base or ("/" in res and not sub) or "/" in sub:
            invalid(errs, f"{where}[{k}]", res, "must be RESOURCE or RESOURCE/SUBRESOURCE")
            continue
        with_sub.setdefault(base, set()).add(sub)
    if "*" in with_sub.get("*", set()) and len(resources) > 1:
        invalid(errs, where, resources, "if '*/*' is present, must not specify other resources")
    for base, subs in with_sub.items():
        if "*" in subs and len(subs) > 1:
            invalid(
                errs,
                where,
                resources,
                f"if '{base}/*' is present, must not specify other subresources of {base}",
            )


def _validate_client_config(errs: Errs, where: str, config: Any) -> None:
    if not isinstance(config, dict):
        required(errs, where, "exactly one of url or service is required")
        return
    url, service = config.get("url"), config.get("service")
    if (url is None) == (service is None):
        required(errs, where, "exactly one of url or service is required")
    if url is not None:
        _validate_url(errs, f"{where}.url", url)
    if isinstance(service, dict):
        if not service.get("name"):
            required(errs, f"{where}.service.name", "service name is required")
        if not service.get("namespace"):
            required(errs, f"{where}.service.namespace", "service namespace is required")
        port = service.get("port", 443)
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            invalid(
                errs,
                f"{where}.service.port",
                port,
                "port is not valid: must be between 1 and 65535, inclusive",
            )
        path = service.get("path")
        if path is not None and (not isinstance(path, str) or not path.startswith("/")):
            invalid(errs, f"{where}.service.path", path, "must start with a '/'")
    bundle = config.get("caBundle")
    if bundle is not None and not isinstance(bundle, str):
        invalid(errs, f"{where}.caBundle", "...", "must be base64-encoded PEM certificates")


def _validate_url(errs: Errs, where: str, url: Any) -> None:
    if not isinstance(url, str) or not url:
        required(errs, where, "host must be specified")
        return
    try:
        parts = urlsplit(url)
    except ValueError as e:
        invalid(errs, where, url, f"host must be specified: {e}")
        return
    if parts.scheme != "https":
        invalid(errs, where, url, "'https' is the only allowed URL scheme")
    if not parts.hostname:
        invalid(errs, where, url, "host must be specified")
    if parts.username or parts.password:
        invalid(errs, where, url, "user information is not permitted in the URL")
    if parts.fragment or url.endswith("#"):
        invalid(errs, where, url, "fragments are not permitted in the URL")
    if parts.query or url.endswith("?"):
        invalid(errs, where, url, "query parameters are not permitted in the URL")


def problems(obj: Obj) -> list[Cause]:
    """``validate_configuration`` as a list (the validator table's form)."""
    errs: Errs = []
    validate_configuration(errs, obj)
    return errs
