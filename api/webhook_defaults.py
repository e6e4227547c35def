"""The v1 defaults of Validating- and MutatingWebhookConfiguration (api/validation/webhooks.py
validates them). Kept apart so api/defaults.py needs nothing of api/validation."""

from __future__ import annotations

from typing import Any

GROUP = "admissionregistration.k8s.io"
VALIDATING = "ValidatingWebhookConfiguration"
MUTATING = "MutatingWebhookConfiguration"
DEFAULT_TIMEOUT = 10
# v1 allows only these: a webhook with side effects cannot be told apart on a dry run.
SIDE_EFFECTS = ("None", "NoneOnDryRun")

Obj = dict[str, Any]


def _default(obj: Obj, key: str, value: Any) -> None:
    # JSON null is "unset" to Kubernetes' decoder, so it is defaulted too (kopf sends
    # objectSelector: null when a handler has no label filter).
    if obj.get(key) is None:
        obj[key] = value


def default_configuration(obj: Obj) -> None:
    """Kubernetes' v1 defaults, in place (never over a value that is set)."""
    mutating = obj.get("kind") == MUTATING
    for hook in obj.get("webhooks") or []:
        if not isinstance(hook, dict):
            continue
        _default(hook, "failurePolicy", "Fail")
        _default(hook, "matchPolicy", "Equivalent")
        _default(hook, "namespaceSelector", {})
        _default(hook, "objectSelector", {})
        _default(hook, "timeoutSeconds", DEFAULT_TIMEOUT)
        if mutating:
            _default(hook, "reinvocationPolicy", "Never")
        for rule in hook.get("rules") or []:
            if isinstance(rule, dict):
                _default(rule, "scope", "*")
        service = (hook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            _default(service, "port", 443)
