"""Pod fields the kubelet does not act on are refused with a Status naming the field;
default or empty values (what charts and kubectl send) are accepted; the fields it does
act on reach the runtime spec (hostname, hostNetwork, hostAliases, securityContext,
read-only ConfigMap/Secret mounts)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from api.defaults import apply_defaults
from api.validation import validate, warnings
from kubelet import containers as cs
from kubelet.podspec_runtime import container_security, pod_identity
from kubelet.runtime.base import bind_spec
from kubelet.volumes import container_mounts, read_only_volumes


def _pod(container: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    c = {"name": "app", "image": "busybox", **(container or {})}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "team", "uid": "u-1"},
        "spec": {"containers": [c], **spec},
    }


def _causes(pod: dict[str, Any]) -> dict[str, str]:
    pod = copy.deepcopy(pod)
    apply_defaults("Pod", pod)
    return {c.field: c.message for c in validate("Pod", pod)}


_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"

REFUSED = [
    ({"activeDeadlineSeconds": 60}, "spec.activeDeadlineSeconds"),
    ({"hostUsers": False}, "spec.hostUsers"),
    ({"ephemeralContainers": [{"name": "dbg", "image": "busybox"}]}, "spec.ephemeralContainers"),
    ({"runtimeClassName": "nvidia"}, "spec.runtimeClassName"),
    (
        {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone"}]},
        "spec.topologySpreadConstraints[0].whenUnsatisfiable",
    ),
    ({"readinessGates": [{"conditionType": "x"}]}, "spec.readinessGates"),
    ({"os": {"name": "windows"}}, "spec.os.name"),
    ({"resourceClaims": [{"name": "gpu"}]}, "spec.resourceClaims"),
    ({"resources": {"limits": {"cpu": "1"}}}, "spec.resources"),
    ({"schedulingGates": [{"name": "wait"}]}, "spec.schedulingGates"),
    ({"imagePullSecrets": [{"name": "reg"}]}, "spec.imagePullSecrets"),
    (
        {"affinity": {"podAntiAffinity": {_REQUIRED: [{"topologyKey": "zone"}]}}},
        f"spec.affinity.podAntiAffinity.{_REQUIRED}",
    ),
    (
        {"affinity": {"podAffinity": {_REQUIRED: [{"topologyKey": "zone"}]}}},
        f"spec.affinity.podAffinity.{_REQUIRED}",
    ),
    (
        {"securityContext": {"fsGroupChangePolicy": "Sometimes"}},
        "spec.securityContext.fsGroupChangePolicy",
    ),
    (
        {"securityContext": {"seLinuxOptions": {"level": "s0"}}},
        "spec.securityContext.seLinuxOptions",
    ),
    (
        {"volumes": [{"name": "d", "projected": {"sources": [{"clusterTrustBundle": {}}]}}]},
        "spec.volumes[0].projected.sources[0].clusterTrustBundle",
    ),
    (
        {"volumes": [{"name": "d", "emptyDir": {"sizeLimit": "1Gi"}}]},
        "spec.volumes[0].emptyDir.sizeLimit",
    ),
]


@pytest.mark.parametrize(("spec", "field"), REFUSED)
def test_pod_fields_the_kubelet_ignores_are_refused(spec: dict[str, Any], field: str) -> None:
    causes = _causes(_pod(**spec))
    assert field in causes, causes
    assert causes[field].startswith("Forbidden: ") and len(causes[field]) > 30


CONTAINER_REFUSED = [
    ({"lifecycle": {"preStop": {"tcpSocket": {"port": 80}}}}, "lifecycle.preStop.tcpSocket"),
    ({"lifecycle": {"stopSignal": "SIGUSR1"}}, "lifecycle.stopSignal"),
    ({"restartPolicy": "Always"}, "restartPolicy"),
    ({"ports": [{"containerPort": 80, "hostIP": "10.0.0.1"}]}, "ports[0].hostIP"),
    ({"readinessProbe": {"grpc": {"port": 9000}}}, "readinessProbe.grpc"),
    ({"terminationMessagePolicy": "Sometimes"}, "terminationMessagePolicy"),
    ({"terminationMessagePath": "relative/log"}, "terminationMessagePath"),
    ({"securityContext": {"runAsNonRoot": True, "runAsUser": 0}}, "securityContext.runAsUser"),
    ({"securityContext": {"procMount": "Unmasked"}}, "securityContext.procMount"),
    ({"securityContext": {"runAsGroup": 10}}, "securityContext.runAsGroup"),
    (
        {"securityContext": {"seccompProfile": {"type": "Localhost"}}},
        "securityContext.seccompProfile",
    ),
]


@pytest.mark.parametrize(("container", "field"), CONTAINER_REFUSED)
def test_container_fields_the_kubelet_ignores_are_refused(
    container: dict[str, Any], field: str
) -> None:
    causes = _causes(_pod(container))
    assert f"spec.containers[0].{field}" in causes, causes


def test_mount_propagation_rules_and_what_docker_is_given() -> None:
    """HostToContainer for anyone (node-exporter's /host/root), Bidirectional only for a
    privileged container, as Kubernetes validates; Docker gets rslave / rshared."""

    def mount(mode: str, privileged: bool = False) -> dict[str, Any]:
        c = {"volumeMounts": [{"name": "root", "mountPath": "/host", "mountPropagation": mode}]}
        if privileged:
            c["securityContext"] = {"privileged": True}
        return _pod(c, volumes=[{"name": "root", "hostPath": {"path": "/"}}])

    field = "spec.containers[0].volumeMounts[0].mountPropagation"
    assert _causes(mount("HostToContainer")) == {}
    assert _causes(mount("Bidirectional", privileged=True)) == {}
    assert "only to privileged containers" in _causes(mount("Bidirectional"))[field]
    assert "Unsupported value" in _causes(mount("Sideways"))[field]
    c = mount("HostToContainer")["spec"]["containers"][0]
    (m,) = container_mounts(c, {"root": "/"})
    assert bind_spec(m) == "/:/host:rw,rslave"
    c["volumeMounts"][0].update(mountPropagation="Bidirectional", readOnly=True)
    assert bind_spec(container_mounts(c, {"root": "/"})[0]) == "/:/host:ro,rshared"
    c["volumeMounts"][0].pop("mountPropagation")
    assert bind_spec(container_mounts(c, {"root": "/"})[0]) == "/:/host:ro"


def test_memory_empty_dir_and_on_root_mismatch_are_accepted() -> None:
    pod = _pod(
        securityContext={"fsGroup": 1001, "fsGroupChangePolicy": "OnRootMismatch"},
        volumes=[
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            {"name": "tmp", "emptyDir": {"medium": "Memory"}},
        ],
    )
    assert _causes(pod) == {}
    huge = _pod(volumes=[{"name": "d", "emptyDir": {"medium": "HugePages"}}])
    assert "Unsupported value" in _causes(huge)["spec.volumes[0].emptyDir.medium"]


def test_defaults_and_empty_values_charts_send_are_accepted() -> None:
    pod = _pod(
        {
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "stdin": True,
            "stdinOnce": True,
            "tty": True,
        },
        hostPID=False,
        hostIPC=False,
        hostNetwork=False,
        shareProcessNamespace=False,
        automountServiceAccountToken=False,
        imagePullSecrets=[],
        topologySpreadConstraints=[],
        readinessGates=[],
        os={"name": "linux"},
        schedulerName="default-scheduler",
        priorityClassName="system-node-critical",
        enableServiceLinks=True,
        dnsPolicy="ClusterFirst",
        affinity={"podAntiAffinity": {}},
        securityContext={"runAsUser": 1000, "supplementalGroups": [5], "fsGroup": 2000},
        hostAliases=[{"ip": "10.0.0.9", "hostnames": ["db"]}],
        hostname="web-0",
        subdomain="grp",
        volumes=[{"name": "scratch", "emptyDir": {}}],
    )
    assert _causes(pod) == {}


def test_host_network_ports_must_match() -> None:
    pod = _pod({"ports": [{"containerPort": 80, "hostPort": 8080}]}, hostNetwork=True)
    assert "spec.containers[0].ports[0].hostPort" in _causes(pod)
    assert _causes(_pod({"ports": [{"containerPort": 80}]}, hostNetwork=True)) == {}


def test_hostname_subdomain_and_fqdn() -> None:
    assert pod_identity(_pod()).hostname == "web-1"
    ident = pod_identity(_pod(hostname="web-0", subdomain="grp"))
    assert (ident.hostname, ident.domainname) == ("web-0", "grp.team.svc.cluster.local")
    fqdn = pod_identity(_pod(hostname="web-0", subdomain="grp", setHostnameAsFQDN=True))
    assert fqdn.hostname == "web-0.grp.team.svc.cluster.local" and fqdn.domainname is None
    long = _pod()
    long["metadata"]["name"] = "x" * 62 + "-abc"
    assert pod_identity(long).hostname == "x" * 62  # 63 characters, trailing dash cut
    host = pod_identity(
        _pod(hostNetwork=True, hostAliases=[{"ip": "1.2.3.4", "hostnames": ["a", "b"]}])
    )
    assert (host.hostname, host.host_network, host.extra_hosts) == (
        None,
        True,
        ("a:1.2.3.4", "b:1.2.3.4"),
    )


def test_runtime_spec_carries_identity_network_and_security() -> None:
    pod = _pod(
        {
            "ports": [{"containerPort": 8080}],
            "securityContext": {
                "runAsUser": 1000,
                "privileged": True,
                "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
                "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False,
            },
        },
        hostNetwork=True,
        hostPID=True,
        hostIPC=True,
        securityContext={
            "runAsGroup": 3000,
            "supplementalGroups": [7],
            "sysctls": [{"name": "kernel.msgmax", "value": "65536"}],
        },
    )
    ports = cs.plan_ports(pod, "127.0.0.1")
    assert ports == {"app/8080": 8080}  # on the node's network the port is the node's
    spec = cs.build_spec(
        node="n",
        address="127.0.0.1",
        pod=pod,
        container=pod["spec"]["containers"][0],
        restart_count=0,
        env={},
        mounts=[],
        host_ports=ports,
        real_gpus=False,
    )
    assert spec.host_network and spec.ports == [] and spec.hostname is None
    assert spec.host_pid and spec.host_ipc
    assert spec.user == "1000:3000" and spec.group_add == ["7"]
    assert spec.privileged and spec.cap_add == ["NET_ADMIN"] and spec.cap_drop == ["ALL"]
    assert spec.read_only_rootfs and spec.security_opt == ["no-new-privileges:true"]
    assert spec.sysctls == {"kernel.msgmax": "65536"}
    assert container_security(_pod(), {"name": "c"}).user is None  # the image's USER


def test_share_process_namespace_joins_the_sandbox_pid_namespace() -> None:
    def spec_of(network_of: str | None, **pod_spec: Any) -> Any:
        pod = _pod({}, **pod_spec)
        return cs.build_spec(
            node="n",
            address="127.0.0.1",
            pod=pod,
            container=pod["spec"]["containers"][0],
            restart_count=0,
            env={},
            mounts=[],
            host_ports={},
            real_gpus=False,
            network_of=network_of,
        )

    assert _causes(_pod({}, shareProcessNamespace=True)) == {}  # kubectl debug --copy-to
    assert spec_of("sandbox-1", shareProcessNamespace=True).share_pid
    assert not spec_of("sandbox-1").share_pid
    assert not spec_of(None, shareProcessNamespace=True).share_pid  # no sandbox to share
    assert not spec_of("sandbox-1", shareProcessNamespace=True, hostPID=True).share_pid


def test_configmap_and_secret_mounts_are_read_only() -> None:
    pod = _pod(
        volumes=[
            {"name": "cfg", "configMap": {"name": "c"}},
            {"name": "sec", "secret": {"secretName": "s"}},
            {"name": "scratch", "emptyDir": {}},
        ]
    )
    c = {"volumeMounts": [{"name": n, "mountPath": f"/{n}"} for n in ("cfg", "sec", "scratch")]}
    paths = {"cfg": "/h/cfg", "sec": "/h/sec", "scratch": "/h/scratch"}
    mounts = container_mounts(c, paths, read_only_volumes(pod))
    assert [(m.container_path, m.read_only) for m in mounts] == [
        ("/cfg", True),
        ("/sec", True),
        ("/scratch", False),
    ]


def test_enable_service_links_false_drops_the_service_variables() -> None:
    from kubelet.envvars import resolve_env

    base = {"WEB_SERVICE_HOST": "10.43.0.5", "KUBERNETES_SERVICE_HOST": "10.43.0.1"}
    c = {"name": "app"}
    assert resolve_env(_pod(), c, {}, {}, "127.0.0.1", base) == base
    off = resolve_env(_pod(enableServiceLinks=False), c, {}, {}, "127.0.0.1", base)
    assert off == {"KUBERNETES_SERVICE_HOST": "10.43.0.1"}


def test_fs_group_owns_the_pods_volumes(tmp_path: Any) -> None:
    import os

    from kubelet.volumes import prepare_volumes

    pod = _pod(
        securityContext={"fsGroup": 4321},
        volumes=[
            {"name": "scratch", "emptyDir": {}},
            {"name": "sec", "secret": {"secretName": "s", "defaultMode": 420}},
        ],
    )
    secret = {"metadata": {"name": "s"}, "data": {"token": "czE="}}
    paths = prepare_volumes(tmp_path, pod, {}, {"s": secret})
    scratch, token = os.stat(paths["scratch"]), os.stat(os.path.join(paths["sec"], "token"))
    assert scratch.st_gid == 4321 and scratch.st_mode & 0o2000  # setgid: new files too
    assert token.st_gid == 4321 and token.st_mode & 0o777 == 0o440
    assert container_security(pod, {"name": "c"}).group_add == ("4321",)


def test_objects_stored_before_a_refusal_still_take_updates() -> None:
    old = _pod(imagePullSecrets=[{"name": "reg"}])
    apply_defaults("Pod", old)
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"touched": "yes"}
    assert validate("Pod", new, old) == []  # e.g. a label, a finalizer, a status write
    worse = copy.deepcopy(new)
    worse["spec"]["imagePullSecrets"] = [{"name": "other"}]
    worse["spec"]["containers"][0]["volumeDevices"] = [{"name": "d", "devicePath": "/dev/x"}]
    fields = {c.field for c in validate("Pod", worse, old)}
    assert "spec.containers[0].volumeDevices" in fields
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "team"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"runtimeClassName": "nvidia", "containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    apply_defaults("Deployment", dep)
    assert "spec.template.spec.runtimeClassName" in {c.field for c in validate("Deployment", dep)}
    scaled = copy.deepcopy(dep)
    scaled["spec"]["replicas"] = 3
    assert validate("Deployment", scaled, dep) == []


def test_run_as_non_root_is_checked_against_the_images_user() -> None:
    from kubelet.podspec_runtime import check_image_user, needs_image_user

    c = {"name": "app", "securityContext": {"runAsNonRoot": True}}
    assert needs_image_user(_pod(), c)
    assert not needs_image_user(_pod(securityContext={"runAsUser": 1000}), c)
    assert needs_image_user(_pod(securityContext={"runAsNonRoot": True}), {"name": "app"})
    assert not needs_image_user(_pod(), {"name": "app"})
    check_image_user("65532", "web-1", "app")
    check_image_user("1000:1000", "web-1", "app")
    for root in ("", "0", "0:0", "root"):
        with pytest.raises(ValueError, match="image will run as root"):
            check_image_user(root, "web-1", "app")
    with pytest.raises(ValueError, match=r"non-numeric user \(nginx\), cannot verify"):
        check_image_user("nginx", "web-1", "app")


def test_hook_http_ports_are_published_so_the_kubelet_can_reach_them() -> None:
    hooks = {"preStop": {"httpGet": {"port": 9090, "path": "/drain"}}}
    pod = _pod({"ports": [{"containerPort": 80}], "lifecycle": hooks})
    assert set(cs.plan_ports(pod, "127.0.0.1")) == {"app/80", "app/9090"}


# Soft placement preferences: accepted (a chart's default soft anti-affinity must install),
# each with a warning saying the scheduler does not score it.
WARNED = [
    (
        {"affinity": {"nodeAffinity": {_PREFERRED: [{"weight": 1, "preference": {}}]}}},
        f"spec.affinity.nodeAffinity.{_PREFERRED}",
    ),
    (
        {"affinity": {"podAntiAffinity": {_PREFERRED: [{"weight": 1, "podAffinityTerm": {}}]}}},
        f"spec.affinity.podAntiAffinity.{_PREFERRED}",
    ),
    (
        {"affinity": {"podAffinity": {_PREFERRED: [{"weight": 1, "podAffinityTerm": {}}]}}},
        f"spec.affinity.podAffinity.{_PREFERRED}",
    ),
    (
        {
            "topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}
            ]
        },
        "spec.topologySpreadConstraints[0]",
    ),
]


@pytest.mark.parametrize(("spec", "field"), WARNED)
def test_soft_preferences_are_accepted_with_a_warning(spec: dict[str, Any], field: str) -> None:
    pod = _pod(**spec)
    assert _causes(pod) == {}
    found = warnings("Pod", pod)
    assert len(found) == 1 and found[0].startswith(f"{field}: not scored"), found
    # The same spec in a Deployment's template is warned about at its own path.
    deploy = {"kind": "Deployment", "spec": {"template": {"spec": pod["spec"]}}}
    assert warnings("Deployment", deploy)[0].startswith(f"spec.template.{field}: ")


def test_no_warning_without_soft_preferences() -> None:
    assert warnings("Pod", _pod(affinity={"podAntiAffinity": {}})) == []
    assert warnings("ConfigMap", {"data": {}}) == []
