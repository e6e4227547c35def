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


def default_configuration(obj: Obj) -> None:
    """Kubernetes' v1 defaults, in place (never over a value that is set)."""
    mutating = obj.get("kind") == MUTATING
    for hook in obj.get("webhooks") or []:
        if not isinstance(hook, dict):
            continue
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("namespaceSelector", {})
        hook.setdefault("objectSelector", {})
        hook.setdefault("timeoutSeconds", DEFAULT_TIMEOUT)
        if mutating:
            hook.setdefault("reinvocationPolicy", "Never")
        for rule in hook.get("rules") or []:
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")
        service = (hook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)
