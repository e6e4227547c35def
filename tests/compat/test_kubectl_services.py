"""Services through the real kubectl: CLUSTER-IP from the service CIDR, the kubernetes
Service, a taken ClusterIP refused in kubectl's words, and EndpointSlices listed with
kubectl's own columns (discovery, get, -l kubernetes.io/service-name, -o yaml)."""

from __future__ import annotations

import ipaddress

import pytest
import yaml

from tests.compat.conftest import Cluster, Kubectl
from tests.compat.test_kubectl import deployment, rows
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)

RANGE = ipaddress.ip_network("10.43.0.0/16")


def test_services_show_their_cluster_ip(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "service", "clusterip", "web", "-n", namespace, "--tcp=80:8080")
    got = rows(kubectl("get", "svc", "-n", namespace))["web"]
    assert got["TYPE"] == "ClusterIP"
    assert ipaddress.ip_address(got["CLUSTER-IP"]) in RANGE
    assert got["PORT(S)"] == "80/TCP"
    api = rows(kubectl("get", "svc", "kubernetes", "-n", "default"))["kubernetes"]
    assert (api["CLUSTER-IP"], api["PORT(S)"]) == ("10.43.0.1", "443/TCP")
    kubectl("create", "service", "clusterip", "none", "-n", namespace, "--clusterip=None")
    assert rows(kubectl("get", "svc", "none", "-n", namespace))["none"]["CLUSTER-IP"] == "None"

    # Asking for a taken address: kubectl prints the apiserver's 422 and nothing is made.
    taken = got["CLUSTER-IP"]
    p = kubectl.fails(
        "create",
        "service",
        "clusterip",
        "again",
        "-n",
        namespace,
        "--tcp=80",
        f"--clusterip={taken}",
    )
    assert f"failed to allocate IP {taken}: provided IP is already allocated" in p.stderr
    assert 'Service "again" is invalid: spec.clusterIPs' in p.stderr
    kubectl.fails("get", "svc", "again", "-n", namespace)


def test_endpoint_slices_through_kubectl(
    kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    resources = rows(kubectl("api-resources", "--api-group=discovery.k8s.io"))
    assert resources["endpointslices"]["APIVERSION"] == "discovery.k8s.io/v1"
    assert resources["endpointslices"]["NAMESPACED"] == "true"
    cl = cluster.api.client()
    cl.create("deployments", deployment("sliced", replicas=2), namespace)
    kubectl("expose", "deployment", "sliced", "-n", namespace, "--port=80", "--name=sliced")

    def slice_rows() -> dict:
        return rows(
            kubectl(
                "get", "endpointslices", "-n", namespace, "-l", "kubernetes.io/service-name=sliced"
            )
        )

    def two_endpoints() -> bool:
        table = slice_rows()
        return len(table) == 1 and len(next(iter(table.values()))["ENDPOINTS"].split(",")) == 2

    wait_for(two_endpoints, "a slice with both pods", 60)
    ((name, got),) = slice_rows().items()
    assert name.startswith("sliced-")
    assert got["ADDRESSTYPE"] == "IPv4"
    assert got["PORTS"] == "80"
    stored = yaml.safe_load(kubectl("get", "endpointslice", name, "-n", namespace, "-o", "yaml"))
    assert stored["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == (
        "endpointslice-controller.k8s.io"
    )
    assert stored["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert all(ep["conditions"]["ready"] for ep in stored["endpoints"])
    assert {ep["targetRef"]["kind"] for ep in stored["endpoints"]} == {"Pod"}

    # The Service goes: its slices go with it.
    kubectl("delete", "svc", "sliced", "-n", namespace)
    wait_for(lambda: not slice_rows(), "the slice removed with its Service", 60)


def test_the_python_client_reads_services_and_slices(cluster: Cluster, namespace: str) -> None:
    from kubernetes import client as k8s
    from kubernetes import config

    cfg = k8s.Configuration()
    config.load_kube_config(config_file=str(cluster.api.kubeconfig), client_configuration=cfg)
    with k8s.ApiClient(cfg) as api:
        core, discovery = k8s.CoreV1Api(api), k8s.DiscoveryV1Api(api)
        body = k8s.V1Service(
            metadata=k8s.V1ObjectMeta(name="empty"),
            spec=k8s.V1ServiceSpec(
                selector={"app": "nothing-matches"}, ports=[k8s.V1ServicePort(port=80)]
            ),
        )
        made = core.create_namespaced_service(namespace, body).spec
        assert made is not None and made.cluster_ip is not None
        assert ipaddress.ip_address(made.cluster_ip) in RANGE
        assert made.ip_families == ["IPv4"] and made.ip_family_policy == "SingleStack"
        api_svc = core.read_namespaced_service("kubernetes", "default").spec
        assert api_svc is not None and api_svc.cluster_ip == "10.43.0.1"

        # The placeholder slice of a Service no pod serves decodes too (its endpoints are
        # an empty list, which the typed client requires, never null).
        def placeholder() -> list[k8s.V1EndpointSlice]:
            return discovery.list_namespaced_endpoint_slice(
                namespace, label_selector="kubernetes.io/service-name=empty"
            ).items

        wait_for(lambda: len(placeholder()) == 1, "the placeholder slice", 60)
        (es,) = placeholder()
        assert es.address_type == "IPv4" and es.endpoints == []
        ports = discovery.read_namespaced_endpoint_slice("kubernetes", "default").ports
        assert ports is not None and ports[0].name == "https"
