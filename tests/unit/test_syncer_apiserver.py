"""Translated objects are accepted by a real Kubernetes-compatible API server, and patches converge.

One server plays both sides: namespace `default` is the virtual cluster, `vcluster-my-vc` the host.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests.integration.conftest import Server
from tests.integration.httpclient import Client

from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import apply_merge_patch
from vcluster.syncer.podvolumes import token_requests
from vcluster.syncer.resources import (
    configmap,
    endpoints,
    ingress,
    networkpolicy,
    node,
    pod,
    poddisruptionbudget,
    priorityclass,
    pvc,
    secret,
    service,
    serviceaccount,
)

pytestmark = pytest.mark.integration
HNS = "vcluster-my-vc"
CTX = SyncContext(vcluster="my-vc", host_namespace=HNS, kube_ip="10.96.0.10", dns_ip="10.96.0.53")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    srv = Server(tmp_path_factory.mktemp("syncer-srv") / "vc")
    srv.start()
    client = Client(srv.url, srv.ca_file, srv.token)
    try:
        for ns in (HNS, "team"):
            status, body = client.call("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
            assert status == 201, json.dumps(body)
        # host pods run as the workload service account, which `vcluster start` must provide
        sa = {"metadata": {"name": CTX.workload_sa}}
        status, body = client.call("POST", f"/api/v1/namespaces/{HNS}/serviceaccounts", sa)
        assert status == 201, json.dumps(body)
        yield client
    finally:
        client.close()
        srv.stop()


def _path(kind_plural: str, api_version: str, namespace: str | None, name: str = "") -> str:
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    ns = f"/namespaces/{namespace}" if namespace else ""
    return f"{base}{ns}/{kind_plural}" + (f"/{name}" if name else "")


def create(api: Client, plural: str, obj: dict[str, Any], api_version: str = "v1") -> dict[str, Any]:
    ns = obj["metadata"].get("namespace")
    status, body = api.call("POST", _path(plural, api_version, ns), obj)
    assert status == 201, json.dumps(body)
    return body


def get(api: Client, plural: str, name: str, ns: str | None, api_version: str = "v1") -> dict[str, Any]:
    status, body = api.call("GET", _path(plural, api_version, ns, name))
    assert status == 200, json.dumps(body)
    return body


def patch(
    api: Client, plural: str, name: str, ns: str, body: dict[str, Any], sub: str = "", kind: str = "merge"
) -> dict[str, Any]:
    path = _path(plural, "v1", ns, name) + (f"/{sub}" if sub else "")
    status, out = api.call("PATCH", path, body, headers={"Content-Type": f"application/{kind}-patch+json"})
    assert status == 200, json.dumps(out)
    return out


def test_pod_round_trip_and_label_sync_converges(api: Client) -> None:
    create(api, "secrets", {"metadata": {"name": "creds", "namespace": "default"}, "stringData": {"pw": "x"}})
    vpod = create(
        api,
        "pods",
        {
            "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web", "release": "r1"}},
            "spec": {
                "hostname": "web-0",
                "subdomain": "web",
                "containers": [
                    {
                        "name": "nginx",
                        "image": "nginx",
                        "env": [
                            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pw"}}}
                        ],
                    }
                ],
                "volumes": [
                    {
                        "name": "tok",
                        "projected": {
                            "sources": [
                                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                                {"configMap": {"name": "kube-root-ca.crt"}},
                                {
                                    "downwardAPI": {
                                        "items": [
                                            {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}
                                        ]
                                    }
                                },
                            ]
                        },
                    }
                ],
            },
        },
    )
    tokens = {r.key: "header.payload.signature" for r in token_requests(vpod, CTX)}
    out = pod.translate_pod(
        vpod, CTX, namespace_labels={"kubernetes.io/metadata.name": "default"}, tokens=tokens
    )
    hpod = create(api, "pods", out.obj)
    assert hpod["metadata"]["name"] == "web-0-x-default-x-my-vc"
    assert hpod["spec"]["initContainers"][0]["name"] == "vcluster-rewrite-hosts"
    assert hpod["spec"]["dnsPolicy"] == "None"
    vpod = get(api, "pods", "web-0", "default")

    # an unchanged pair (as the server returns it) needs no spec or metadata writes
    res = pod.sync_pod(
        vpod, hpod, vpod, hpod, CTX, namespace_labels={"kubernetes.io/metadata.name": "default"}
    )
    assert res.virtual_patch is None and res.host_patch is None, (res.virtual_patch, res.host_patch)

    # a label added on the host comes back; applying the patches converges
    v_base, h_base = copy.deepcopy(vpod), copy.deepcopy(hpod)
    hpod = patch(api, "pods", hpod["metadata"]["name"], HNS, {"metadata": {"labels": {"tier": "frontend"}}})
    res = pod.sync_pod(
        vpod, hpod, v_base, h_base, CTX, namespace_labels={"kubernetes.io/metadata.name": "default"}
    )
    assert res.virtual_patch == {"metadata": {"labels": {"tier": "frontend"}}}
    vpod = patch(api, "pods", "web-0", "default", res.virtual_patch)
    if res.host_patch:
        hpod = patch(api, "pods", hpod["metadata"]["name"], HNS, res.host_patch)
    assert (
        hpod["metadata"]["annotations"]["vcluster.loft.sh/labels"]
        == 'app="web"\nrelease="r1"\ntier="frontend"'
    )
    res = pod.sync_pod(
        vpod, hpod, vpod, hpod, CTX, namespace_labels={"kubernetes.io/metadata.name": "default"}
    )
    assert res.virtual_patch is None and res.host_patch is None

    # a virtual image change is pushed and accepted by the host (image is mutable)
    v_base, h_base = copy.deepcopy(vpod), copy.deepcopy(hpod)
    change = {"spec": {"containers": [{"name": "nginx", "image": "nginx:2"}]}}
    vpod = patch(api, "pods", "web-0", "default", change, kind="strategic-merge")
    res = pod.sync_pod(
        vpod, hpod, v_base, h_base, CTX, namespace_labels={"kubernetes.io/metadata.name": "default"}
    )
    hpod = patch(api, "pods", hpod["metadata"]["name"], HNS, res.host_patch)
    assert hpod["spec"]["containers"][0]["image"] == "nginx:2"

    # status written on the host comes back through the status subresource patch
    hpod = patch(
        api,
        "pods",
        hpod["metadata"]["name"],
        HNS,
        {
            "status": {
                "phase": "Running",
                "podIP": "10.1.0.9",
                "conditions": [{"type": "Ready", "status": "True"}],
            }
        },
        sub="status",
    )
    res = pod.sync_pod(vpod, hpod, vpod, hpod, CTX)
    assert res.virtual_status_patch is not None
    vpod = patch(api, "pods", "web-0", "default", res.virtual_status_patch, sub="status")
    assert vpod["status"]["podIP"] == "10.1.0.9" and vpod["status"]["phase"] == "Running"
    assert pod.sync_pod(vpod, hpod, vpod, hpod, CTX).virtual_status_patch is None


def test_every_to_host_translation_is_accepted(api: Client) -> None:
    def roundtrip(
        plural: str, virtual: dict[str, Any], translate: Any, api_version: str = "v1"
    ) -> dict[str, Any]:
        v = create(api, plural, virtual, api_version)
        h = translate(v, CTX).obj
        return create(api, plural, h, api_version)

    svc = roundtrip(
        "services",
        {
            "metadata": {"name": "web", "namespace": "team"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
        service.translate_service,
    )
    assert svc["spec"]["selector"]["vcluster.loft.sh/namespace"] == "team"
    roundtrip(
        "endpoints",
        {
            "metadata": {"name": "ext", "namespace": "team"},
            "subsets": [{"addresses": [{"ip": "10.9.9.9"}], "ports": [{"port": 5432}]}],
        },
        endpoints.translate_endpoints,
    )
    roundtrip(
        "configmaps",
        {"metadata": {"name": "cfg", "namespace": "team"}, "data": {"a": "1"}},
        configmap.translate_configmap,
    )
    sec = roundtrip(
        "secrets",
        {
            "metadata": {"name": "tls", "namespace": "team"},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "", "tls.key": ""},
        },
        secret.translate_secret,
    )
    assert sec["type"] == "kubernetes.io/tls"
    roundtrip(
        "serviceaccounts",
        {"metadata": {"name": "builder", "namespace": "team"}},
        serviceaccount.translate_service_account,
    )
    roundtrip(
        "persistentvolumeclaims",
        {
            "metadata": {"name": "data", "namespace": "team"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
        pvc.translate_pvc,
    )
    roundtrip(
        "networkpolicies",
        {
            "metadata": {"name": "np", "namespace": "team"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "db"}},
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"t": "a"}}}]}],
            },
        },
        networkpolicy.translate_network_policy,
        "networking.k8s.io/v1",
    )
    roundtrip(
        "poddisruptionbudgets",
        {
            "metadata": {"name": "pdb", "namespace": "team"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"release": "x"}}},
        },
        poddisruptionbudget.translate_pdb,
        "policy/v1",
    )
    roundtrip(
        "ingresses",
        {
            "metadata": {"name": "ing", "namespace": "team"},
            "spec": {
                "rules": [
                    {
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        }
                    }
                ]
            },
        },
        ingress.translate_ingress,
        "networking.k8s.io/v1",
    )
    pc_ctx = CTX.replace(sync_priority_classes=True)
    # a user class may not exceed 1e9 (the API refuses it), the system classes do: capped on the host
    vpc = get(api, "priorityclasses", "system-cluster-critical", None, "scheduling.k8s.io/v1")
    assert vpc["value"] == 2_000_000_000
    hpc = create(
        api,
        "priorityclasses",
        priorityclass.translate_priority_class(vpc, pc_ctx).obj,
        "scheduling.k8s.io/v1",
    )
    assert hpc["value"] == 1_000_000_000
    fake = node.fake_node("host-node-1", CTX, now="2025-01-01T00:00:00Z", node_service_ip="10.96.3.3")
    create(api, "nodes", {k: v for k, v in fake.items() if k != "status"})
    status, body = api.call(
        "PATCH",
        "/api/v1/nodes/host-node-1/status",
        {"status": fake["status"]},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert status == 200, json.dumps(body)
    assert body["status"]["capacity"]["pods"] == "110"


def test_service_sync_patches_apply(api: Client) -> None:
    v = create(
        api,
        "services",
        {
            "metadata": {"name": "api", "namespace": "team"},
            "spec": {"selector": {"app": "api"}, "ports": [{"port": 80}]},
        },
    )
    h = create(api, "services", service.translate_service(v, CTX).obj)
    res = service.sync_service(v, h, v, h, CTX)
    if res.recreate_virtual:  # the host allocated a different ClusterIP: the virtual one is recreated
        assert res.extra["body"]["spec"]["clusterIP"] == h["spec"]["clusterIP"]
        return
    v_base, h_base = copy.deepcopy(v), copy.deepcopy(h)
    v = patch(api, "services", "api", "team", {"spec": {"selector": {"app": "api2"}}})
    res = service.sync_service(v, h, v_base, h_base, CTX)
    h = patch(api, "services", h["metadata"]["name"], HNS, res.host_patch)
    assert h["spec"]["selector"]["app"] == "api2"
    assert apply_merge_patch(h_base, res.host_patch)["spec"]["selector"] == h["spec"]["selector"]
