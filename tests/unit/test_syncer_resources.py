"""Per-resource translation of §5 / §5.5 / §9 and the generic lifecycle decisions of §8.5."""

from __future__ import annotations

import copy
import hashlib
import json

from vcluster.syncer import constants as c
from vcluster.syncer import kinds, lifecycle, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.mappings import Reference
from vcluster.syncer.resources import (
    configmap,
    endpoints,
    event,
    ingress,
    ingressclass,
    networkpolicy,
    node,
    pod,
    poddisruptionbudget,
    priorityclass,
    pvc,
    secret,
    service,
    serviceaccount,
    storageclass,
)

CTX = SyncContext(vcluster="my-vc", host_namespace="vc-ns", owner_uid="svc-uid")
MARK = {c.MARKER_LABEL: "my-vc"}


def hex10(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def ns_label(key: str) -> str:
    return f"vcluster.loft.sh/ns-label-my-vc-x-{hex10(key)}"


def meta(name: str, ns: str = "default", **extra: object) -> dict:
    return {"name": name, "namespace": ns, "uid": f"uid-{name}", "resourceVersion": "4", **extra}


# ---------------------------------------------------------------- services (§5.1)


def vservice(**spec: object) -> dict:
    base = {
        "type": "NodePort",
        "clusterIP": "10.0.0.9",
        "clusterIPs": ["10.0.0.9"],
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30001, "protocol": "TCP"}],
    }
    base.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta("web", annotations={"field.cattle.io/publicEndpoints": "x"}),
        "spec": base,
    }


def test_service_create_path_strips_allocations_and_translates_selector() -> None:
    host = service.translate_service(vservice(), CTX).obj
    assert host["metadata"]["name"] == "web-x-default-x-my-vc"
    assert "field.cattle.io/publicEndpoints" not in host["metadata"]["annotations"]
    assert host["spec"] == {
        "type": "NodePort",
        "selector": {"app": "web", c.MARKER_LABEL: "my-vc", c.NAMESPACE_LABEL: "default"},
        "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
    }
    headless = service.translate_service(vservice(clusterIP="None", selector=None), CTX).obj
    assert headless["spec"]["clusterIP"] == "None" and "selector" not in headless["spec"]
    proxied = service.translate_service_for_proxy(vservice(), CTX).obj
    assert proxied["metadata"]["annotations"][c.BLOCK_DELETION_ANNOTATION] == "true"


def test_service_proxy_create_copies_host_allocation_back() -> None:
    v = vservice(clusterIP=None, clusterIPs=None)
    h = copy.deepcopy(service.translate_service(v, CTX).obj)
    h["spec"].update(clusterIP="10.96.5.5", clusterIPs=["10.96.5.5"], healthCheckNodePort=31000)
    h["spec"]["ports"][0]["nodePort"] = 31999
    h["status"] = {"loadBalancer": {}}
    body = service.virtual_from_host_create(v, h)
    assert body["spec"]["clusterIP"] == "10.96.5.5" and body["spec"]["clusterIPs"] == ["10.96.5.5"]
    assert body["spec"]["ports"][0]["nodePort"] == 31999 and body["spec"]["healthCheckNodePort"] == 31000
    assert body["spec"]["selector"] == {"app": "web"}  # the virtual keeps its own selector
    assert body["status"] == {"loadBalancer": {}}


def test_service_sync_recreates_virtual_when_cluster_ip_differs() -> None:
    v = vservice()
    h = service.translate_service(v, CTX).obj
    h["spec"]["clusterIP"] = "10.96.1.1"
    res = service.sync_service(v, h, v, h, CTX)
    assert res.recreate_virtual and res.requeue_after == 1.0
    assert res.extra["reason"] == "recreating virtual service default/web, because cluster ip differs"
    body = res.extra["body"]
    assert body["spec"]["clusterIP"] == "10.96.1.1" and "uid" not in body["metadata"]
    assert not res.virtual_patch and not res.host_patch


def _synced_service() -> tuple[dict, dict]:
    v = vservice()
    h = service.translate_service(v, CTX).obj
    h["spec"].update(clusterIP="10.0.0.9", clusterIPs=["10.0.0.9"])
    h["spec"]["ports"][0]["nodePort"] = 30001
    h["metadata"]["annotations"][c.BLOCK_DELETION_ANNOTATION] = "true"
    return v, h


def test_service_sync_two_way_fields_and_selector_and_status() -> None:
    v, h = _synced_service()
    res = service.sync_service(v, h, v, h, CTX)
    assert res.host_patch == {"metadata": {"annotations": {c.BLOCK_DELETION_ANNOTATION: None}}}
    assert res.virtual_status_patch is None  # {"loadBalancer": {}} is semantically empty
    h.pop("metadata")["annotations"].pop(c.BLOCK_DELETION_ANNOTATION)
    h["metadata"] = service.translate_service(v, CTX).obj["metadata"]
    v["status"] = {"loadBalancer": {}}
    v_old, h_old = copy.deepcopy(v), copy.deepcopy(h)
    v["spec"]["selector"] = {"app": "api"}
    h["spec"]["sessionAffinity"] = "ClientIP"
    res = service.sync_service(v, h, v_old, h_old, CTX)
    assert res.host_patch == {"spec": {"selector": {"app": "api"}}}
    assert res.virtual_patch == {"spec": {"sessionAffinity": "ClientIP"}}
    # only the host selector changed: it is translated back
    h2 = copy.deepcopy(h_old)
    h2["spec"]["selector"]["tier"] = "1"
    res = service.sync_service(v_old, h2, v_old, h_old, CTX)
    assert res.virtual_patch == {"spec": {"selector": {"tier": "1"}}}
    # LoadBalancer status comes back as is
    lb_v, lb_h = copy.deepcopy(v_old), copy.deepcopy(h_old)
    lb_v["spec"]["type"] = lb_h["spec"]["type"] = "LoadBalancer"
    lb_h["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}
    res = service.sync_service(lb_v, lb_h, lb_v, lb_h, CTX)
    assert res.virtual_status_patch == {"status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}


def test_kubernetes_service_mirrors_host_vcluster_service() -> None:
    host_svc = {
        "spec": {
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [
                {"name": "https", "port": 443, "targetPort": 8443, "nodePort": 30443, "protocol": "TCP"},
                {"name": "kubelet", "port": 10250, "targetPort": 8443, "protocol": "TCP"},
            ],
        }
    }
    want = service.kubernetes_service_spec(host_svc)
    assert want["ports"] == [{"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}]
    virt = {
        "metadata": {"name": "kubernetes", "namespace": "default", "uid": "k"},
        "spec": {"clusterIP": "10.0.0.1"},
    }
    action, body = service.kubernetes_service_update(virt, host_svc)
    assert action == "recreate" and body is not None and body["spec"]["clusterIP"] == "10.96.0.10"
    assert "uid" not in body["metadata"]
    virt["spec"] = want
    assert service.kubernetes_service_update(virt, host_svc) == ("", None)
    virt["spec"] = {**want, "ports": []}
    assert service.kubernetes_service_update(virt, host_svc)[0] == "patch"
    assert CTX.host_name_for(kinds.SERVICE, "kubernetes", "default") == "my-vc"


# ---------------------------------------------------------------- endpoints (§5.2)


def test_endpoints_translation_and_decisions() -> None:
    vep = {
        "metadata": meta("db", annotations={"control-plane.alpha.kubernetes.io/leader": "x"}),
        "subsets": [
            {
                "addresses": [
                    {
                        "ip": "10.1.0.5",
                        "targetRef": {
                            "kind": "Pod",
                            "name": "db-0",
                            "namespace": "default",
                            "uid": "u",
                            "resourceVersion": "1",
                        },
                    },
                    {"ip": "192.168.0.1"},
                ],
                "ports": [{"port": 5432}],
            }
        ],
    }
    host = endpoints.translate_endpoints(vep, CTX).obj
    assert host["metadata"]["name"] == "db-x-default-x-my-vc"
    assert "control-plane.alpha.kubernetes.io/leader" not in host["metadata"]["annotations"]
    assert host["subsets"][0]["addresses"][0]["targetRef"] == {
        "kind": "Pod",
        "name": "db-0-x-default-x-my-vc",
        "namespace": "vc-ns",
    }
    assert vep["subsets"][0]["addresses"][0]["targetRef"]["name"] == "db-0"
    v2 = copy.deepcopy(vep)
    v2["subsets"][0]["addresses"].pop()
    res = endpoints.sync_endpoints(v2, host, vep, host, CTX)
    assert res.host_patch == {
        "subsets": [{"addresses": [host["subsets"][0]["addresses"][0]], "ports": [{"port": 5432}]}]
    }
    with_sel = {"spec": {"selector": {"a": "b"}}}
    without = {"spec": {}}
    assert (
        endpoints.should_sync(without)
        and not endpoints.should_sync(with_sel)
        and not endpoints.should_sync(None)
    )
    ours = host
    foreign = {"metadata": {"name": "db-x-default-x-my-vc"}}
    assert endpoints.host_endpoints_decision(with_sel, ours) is not None
    assert endpoints.host_endpoints_decision(with_sel, foreign) is None
    assert endpoints.host_endpoints_decision(without, foreign) is not None
    assert endpoints.host_endpoints_decision(without, ours) is None


def test_kubernetes_endpoints() -> None:
    host_ep = {
        "subsets": [
            {
                "addresses": [
                    {"ip": "10.1.0.2", "nodeName": "n", "hostname": "h", "targetRef": {"kind": "Pod"}}
                ],
                "ports": [{"name": "https", "port": 8443}, {"name": "kubelet", "port": 10250}],
            }
        ]
    }
    ep = endpoints.kubernetes_endpoints(host_ep)
    assert ep["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    assert ep["subsets"] == [{"ports": [{"name": "https", "port": 8443}], "addresses": [{"ip": "10.1.0.2"}]}]


# ---------------------------------------------------------------- configmaps / secrets


def test_configmap_data_merges_both_ways_and_usage() -> None:
    vcm = {"metadata": meta("cfg"), "data": {"a": "1"}}
    h = configmap.translate_configmap(vcm, CTX).obj
    assert h["data"] == {"a": "1"} and h["metadata"]["name"] == "cfg-x-default-x-my-vc"
    v2 = copy.deepcopy(vcm)
    v2["data"]["b"] = "2"
    h2 = copy.deepcopy(h)
    h2["data"]["c"] = "3"
    res = configmap.sync_configmap(v2, h2, vcm, h, CTX)  # both changed other keys: each reaches the other
    assert res.host_patch == {"data": {"b": "2"}} and res.virtual_patch == {"data": {"c": "3"}}
    res = configmap.sync_configmap(vcm, h2, vcm, h, CTX)
    assert res.virtual_patch == {"data": {"c": "3"}}
    assert configmap.is_used(vcm, CTX, referenced=True)
    assert not configmap.is_used(vcm, CTX, referenced=False)
    assert configmap.is_used(vcm, CTX.replace(configmaps_all=True), referenced=False)
    forced = {"metadata": {"annotations": {c.FORCE_SYNC_ANNOTATION: "true"}}}
    assert configmap.is_used(forced, CTX, referenced=False)
    root = configmap.translate_configmap({"metadata": meta("kube-root-ca.crt", "team")}, CTX).obj
    assert root["metadata"]["name"] == "vcluster-kube-root-ca.crt-x-my-vc"
    assert metadata.is_managed(root, CTX, kinds.CONFIGMAP)


def test_secret_type_rules() -> None:
    vs = {"metadata": meta("tok"), "type": "kubernetes.io/service-account-token", "data": {"token": "eA=="}}
    h = secret.translate_secret(vs, CTX).obj
    assert h["type"] == "Opaque"
    res = secret.sync_secret(vs, h, vs, h, CTX)
    assert res.host_patch is None and res.virtual_patch is None
    plain = {"metadata": meta("s"), "type": "Opaque", "data": {"a": "YQ=="}}
    hp = secret.translate_secret(plain, CTX).obj
    v2 = copy.deepcopy(plain)
    v2["type"] = "kubernetes.io/tls"
    res = secret.sync_secret(v2, hp, plain, hp, CTX)
    assert res.host_patch == {"type": "kubernetes.io/tls"}
    assert secret.is_used(plain, CTX.replace(secrets_all=True), referenced=False)


def test_service_account() -> None:
    vsa = {"metadata": meta("builder"), "secrets": [{"name": "x"}], "imagePullSecrets": [{"name": "y"}]}
    h = serviceaccount.translate_service_account(vsa, CTX).obj
    assert h["automountServiceAccountToken"] is False and "secrets" not in h and "imagePullSecrets" not in h
    assert h["metadata"]["name"] == "builder-x-default-x-my-vc"


# ---------------------------------------------------------------- PVCs


def test_pvc_translation() -> None:
    vp = {
        "metadata": meta(
            "data",
            annotations={
                "volume.beta.kubernetes.io/storage-class": "fast",
                "pv.kubernetes.io/bind-completed": "yes",
            },
        ),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "dataSource": {"kind": "PersistentVolumeClaim", "name": "src"},
            "dataSourceRef": {
                "kind": "VolumeSnapshot",
                "apiGroup": "snapshot.storage.k8s.io",
                "name": "snap",
            },
            "selector": {"matchLabels": {"release": "x"}},
            "volumeName": "pv-1",
        },
    }
    t = pvc.translate_pvc(vp, CTX)
    spec, ann = t.obj["spec"], t.obj["metadata"]["annotations"]
    assert spec["dataSource"]["name"] == "src-x-default-x-my-vc"
    assert spec["dataSourceRef"]["name"] == "snap"
    assert spec["selector"] == {"matchLabels": {"release": "x"}} and spec["volumeName"] == "pv-1"
    assert ann["volume.beta.kubernetes.io/storage-class"] == "fast" and "storageClassName" not in spec
    assert "pv.kubernetes.io/bind-completed" not in ann
    t = pvc.translate_pvc(vp, CTX.replace(sync_storage_classes=True, sync_persistent_volumes=True))
    spec, ann = t.obj["spec"], t.obj["metadata"]["annotations"]
    assert (
        spec["storageClassName"] == "vcluster-fast-x-vc-ns-x-my-vc"
        and "volume.beta.kubernetes.io/storage-class" not in ann
    )
    assert spec["volumeName"] == "vcluster-pv-1-x-vc-ns-x-my-vc"
    assert spec["selector"] == {"matchLabels": {f"vcluster.loft.sh/label-my-vc-x-{hex10('release')}": "x"}}
    assert {r.kind for r in t.refs} == {"PersistentVolumeClaim", "PersistentVolume", "StorageClass"}
    skip = copy.deepcopy(vp)
    skip["metadata"]["annotations"][c.SKIP_TRANSLATE_ANNOTATION] = "true"
    assert pvc.translate_pvc(skip, CTX).obj["spec"]["dataSource"]["name"] == "src"


def test_pvc_sync_status_volume_name_and_bind_annotations_back() -> None:
    vp = {"metadata": meta("data"), "spec": {"resources": {"requests": {"storage": "1Gi"}}}}
    h = pvc.translate_pvc(vp, CTX).obj
    h2 = copy.deepcopy(h)
    h2["spec"]["volumeName"] = "pvc-123"
    h2["status"] = {"phase": "Bound"}
    h2["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] = "yes"
    v2 = copy.deepcopy(vp)
    v2["spec"]["resources"]["requests"]["storage"] = "2Gi"
    res = pvc.sync_pvc(v2, h2, vp, h, CTX)
    assert res.host_patch == {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}
    assert res.virtual_patch == {
        "metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
        "spec": {"volumeName": "pvc-123"},
    }
    assert res.virtual_status_patch == {"status": {"phase": "Bound"}}
    bound = copy.deepcopy(vp)
    bound["spec"]["volumeName"] = "pvc-old"
    res = pvc.sync_pvc(bound, h2, bound, h2, CTX)
    assert (
        res.recreate_virtual
        and res.events[0].reason == "VolumeNameDiffers"
        and res.deletes[0].side == "virtual"
    )


# ---------------------------------------------------------------- ingresses (§5.3)


def test_ingress_translation() -> None:
    ving = {
        "metadata": meta(
            "web",
            annotations={
                "nginx.ingress.kubernetes.io/auth-secret": "basic",
                "nginx.ingress.kubernetes.io/auth-tls-secret": "other/ca",
                "alb.ingress.kubernetes.io/actions.svc-a": json.dumps(
                    {
                        "type": "forward",
                        "forwardConfig": {"targetGroups": [{"serviceName": "svc-a", "servicePort": "80"}]},
                    }
                ),
                "alb.ingress.kubernetes.io/conditions.svc-a": "[]",
                "plain": "x",
            },
        ),
        "spec": {
            "ingressClassName": "nginx",
            "defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}},
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
            ],
            "tls": [{"hosts": ["a"], "secretName": "tls"}],
        },
    }
    t = ingress.translate_ingress(ving, CTX)
    spec, ann = t.obj["spec"], t.obj["metadata"]["annotations"]
    assert spec["defaultBackend"]["service"]["name"] == "fallback-x-default-x-my-vc"
    assert spec["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "web-x-default-x-my-vc"
    assert spec["tls"][0]["secretName"] == "tls-x-default-x-my-vc"
    assert ann["nginx.ingress.kubernetes.io/auth-secret"] == "basic-x-default-x-my-vc"
    assert ann["nginx.ingress.kubernetes.io/auth-tls-secret"] == "vc-ns/ca-x-other-x-my-vc"
    action = json.loads(ann["alb.ingress.kubernetes.io/actions.svc-a-x-default-x-my-vc"])
    assert action["forwardConfig"]["targetGroups"][0]["serviceName"] == "svc-a-x-default-x-my-vc"
    assert ann["alb.ingress.kubernetes.io/conditions.svc-a-x-default-x-my-vc"] == "[]"
    assert ann["plain"] == "x"
    assert {(r.kind, r.namespace, r.name) for r in t.refs} >= {
        ("Service", "default", "web"),
        ("Service", "default", "fallback"),
        ("Secret", "default", "tls"),
        ("Secret", "other", "ca"),
    }
    # sync of an unchanged pair writes nothing; a host class change comes back; status comes back
    h = t.obj
    res = ingress.sync_ingress(ving, h, ving, h, CTX)
    assert res.host_patch is None and res.virtual_patch is None
    h2 = copy.deepcopy(h)
    h2["spec"]["ingressClassName"] = "traefik"
    h2["status"] = {"loadBalancer": {"ingress": [{"ip": "1.1.1.1"}]}}
    h2["metadata"]["annotations"]["nginx.ingress.kubernetes.io/auth-secret"] = "host-side"
    h2["metadata"]["annotations"]["from-host"] = "1"
    res = ingress.sync_ingress(ving, h2, ving, h, CTX)
    assert res.virtual_patch == {
        "spec": {"ingressClassName": "traefik"},
        "metadata": {"annotations": {"from-host": "1"}},
    }
    assert res.virtual_status_patch == {"status": {"loadBalancer": {"ingress": [{"ip": "1.1.1.1"}]}}}
    assert res.host_patch is None
    v2 = copy.deepcopy(ving)
    v2["spec"]["tls"][0]["secretName"] = "tls2"
    v2["metadata"]["annotations"]["nginx.ingress.kubernetes.io/auth-secret"] = "basic2"
    res = ingress.sync_ingress(v2, h, ving, h, CTX)
    assert res.host_patch["spec"]["tls"] == [{"hosts": ["a"], "secretName": "tls2-x-default-x-my-vc"}]
    assert res.host_patch["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/auth-secret": "basic2-x-default-x-my-vc"
    }


def test_ingress_class_selector_precondition() -> None:
    ctx = CTX.replace(from_host_ingress_class_selector={"matchLabels": {"tenant": "yes"}})
    ving = {"metadata": meta("i"), "spec": {"ingressClassName": "nginx"}}
    classes = {"nginx": {"metadata": {"name": "nginx", "labels": {"tenant": "yes"}}}}
    assert ingress.ingress_precondition(ving, ctx, classes.get) is None
    assert ingress.ingress_precondition(ving, ctx, {}.get) is not None
    assert ingress.ingress_precondition(ving, CTX, {}.get) is None


# ---------------------------------------------------------------- network policies / PDBs


def test_network_policy_translation() -> None:
    vnp = {
        "metadata": meta("np"),
        "spec": {
            "podSelector": {"matchLabels": {"app": "db"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchLabels": {"role": "api"}}},
                        {"namespaceSelector": {"matchLabels": {"team": "a"}}},
                        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"x": "y"}}},
                        {"ipBlock": {"cidr": "10.0.0.0/8"}},
                    ],
                    "ports": [{"port": 5432}],
                }
            ],
            "egress": [{"to": [{"podSelector": {}}]}],
        },
    }
    spec = networkpolicy.translate_network_policy(vnp, CTX).obj["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app": "db", c.NAMESPACE_LABEL: "default", **MARK}}
    peers = spec["ingress"][0]["from"]
    assert peers[0] == {"podSelector": {"matchLabels": {"role": "api", c.NAMESPACE_LABEL: "default", **MARK}}}
    assert peers[1] == {"podSelector": {"matchLabels": {ns_label("team"): "a", **MARK}}}
    assert peers[2] == {"podSelector": {"matchLabels": {"x": "y", **MARK}}}
    assert peers[3] == {"ipBlock": {"cidr": "10.0.0.0/8"}}
    assert spec["ingress"][0]["ports"] == [{"port": 5432}] and spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["egress"][0]["to"] == [
        {"podSelector": {"matchLabels": {c.NAMESPACE_LABEL: "default", **MARK}}}
    ]


def test_pdb_translation_and_sync() -> None:
    vpdb = {
        "metadata": meta("pdb"),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"release": "r", "app": "a"}}},
    }
    h = poddisruptionbudget.translate_pdb(vpdb, CTX).obj
    assert h["spec"]["selector"] == {
        "matchLabels": {f"vcluster.loft.sh/label-my-vc-x-{hex10('release')}": "r", "app": "a"}
    }
    v2 = copy.deepcopy(vpdb)
    v2["spec"]["minAvailable"] = 2
    res = poddisruptionbudget.sync_pdb(v2, h, vpdb, h, CTX)
    assert res.host_patch == {"spec": {"minAvailable": 2}}


# ---------------------------------------------------------------- priority / storage / ingress classes


def test_priority_class_to_host_and_from_host() -> None:
    ctx = CTX.replace(sync_priority_classes=True)
    vpc = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "high", "uid": "u"},
        "value": 2_000_000_000,
        "globalDefault": True,
    }
    h = priorityclass.translate_priority_class(vpc, ctx).obj
    assert h["metadata"]["name"] == "vcluster-high-x-vc-ns-x-my-vc"
    assert h["value"] == 1_000_000_000 and h["globalDefault"] is False
    assert h["metadata"]["labels"] == {c.MARKER_LABEL: "vc-ns-x-my-vc"}
    res = priorityclass.sync_priority_class(vpc, h, vpc, h, ctx)
    assert res.host_patch is None
    sel = CTX.replace(
        from_host_priority_classes=True, from_host_priority_class_selector={"matchLabels": {"t": "1"}}
    )
    assert priorityclass.virtual_from_host({"metadata": {"name": "other"}, "value": 1}, sel) is None
    assert (
        priorityclass.virtual_from_host({"metadata": {"name": "system-node-critical"}, "value": 1}, sel)
        is not None
    )
    got = priorityclass.virtual_from_host(
        {"metadata": {"name": "ok", "labels": {"t": "1"}, "uid": "h"}, "value": 7}, sel
    )
    assert got == {"metadata": {"name": "ok", "labels": {"t": "1"}}, "value": 7}


def test_from_host_classes() -> None:
    hsc = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "fast", "uid": "h", "resourceVersion": "1", "labels": {"tier": "1"}},
        "provisioner": "p",
    }
    action, obj = storageclass.sync_from_host(None, hsc, CTX)
    assert action == "create" and obj == {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "fast", "labels": {"tier": "1"}},
        "provisioner": "p",
    }
    virtual = {**copy.deepcopy(obj), "metadata": {**obj["metadata"], "uid": "v", "resourceVersion": "9"}}
    assert storageclass.sync_from_host(virtual, hsc, CTX) == ("", None)
    virtual["provisioner"] = "edited"
    assert storageclass.sync_from_host(virtual, hsc, CTX) == ("patch", {"provisioner": "p"})
    assert storageclass.sync_from_host(virtual, None, CTX) == ("delete", None)
    filtered = CTX.replace(from_host_storage_class_selector={"matchLabels": {"tier": "2"}})
    assert storageclass.sync_from_host(virtual, hsc, filtered) == ("delete", None)
    assert storageclass.sync_from_host(None, hsc, filtered) == ("", None)
    hic = {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}
    assert ingressclass.sync_ingress_class(None, hic, CTX)[0] == "create"
    assert (
        ingressclass.virtual_ingress_class(
            hic, CTX.replace(from_host_ingress_class_selector={"matchLabels": {"a": "b"}})
        )
        is None
    )


# ---------------------------------------------------------------- events (§5.5)


def test_event_from_host() -> None:
    hevent = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": "nginx-x-default-x-my-vc.17a8b",
            "namespace": "vc-ns",
            "uid": "e",
            "resourceVersion": "3",
        },
        "involvedObject": {
            "kind": "Pod",
            "namespace": "vc-ns",
            "name": "nginx-x-default-x-my-vc",
            "uid": "huid",
            "apiVersion": "v1",
            "fieldPath": "spec.containers{nginx}",
        },
        "reason": "Pulled",
        "message": "Successfully assigned vc-ns/nginx-x-default-x-my-vc to node-1 (nginx-x-default-x-my-vc)",
        "count": 1,
        "type": "Normal",
    }
    vpod = {"metadata": {"name": "nginx", "namespace": "default", "uid": "vuid", "resourceVersion": "77"}}
    lookup = {("Pod", "nginx-x-default-x-my-vc"): vpod}
    ve = event.translate_event(hevent, CTX, lambda k, n: lookup.get((k, n)))
    assert ve is not None
    assert ve["metadata"] == {"name": "nginx.17a8b", "namespace": "default"}
    assert ve["involvedObject"] == {
        "kind": "Pod",
        "namespace": "default",
        "name": "nginx",
        "uid": "vuid",
        "resourceVersion": "77",
        "apiVersion": "v1",
        "fieldPath": "spec.containers{nginx}",
    }
    assert ve["message"] == "Successfully assigned default/nginx to node-1 (nginx)"
    assert event.translate_event(hevent, CTX, lambda k, n: None) is None
    other_ns = copy.deepcopy(hevent)
    other_ns["involvedObject"]["namespace"] = "kube-system"
    assert event.translate_event(other_ns, CTX, lambda k, n: vpod) is None
    deploy = copy.deepcopy(hevent)
    deploy["involvedObject"]["kind"] = "Deployment"
    assert event.translate_event(deploy, CTX, lambda k, n: vpod) is None
    forced = copy.deepcopy(deploy)
    forced["metadata"]["annotations"] = {c.FORCE_SYNC_ANNOTATION: "true"}
    assert event.translate_event(forced, CTX, lambda k, n: None)["metadata"]["namespace"] == "default"
    later = copy.deepcopy(hevent)
    later["count"] = 3
    later["lastTimestamp"] = "2025-01-01T00:00:09Z"
    new = event.translate_event(later, CTX, lambda k, n: lookup.get((k, n)))
    assert event.event_update_patch(ve, new) == {"count": 3, "lastTimestamp": "2025-01-01T00:00:09Z"}
    assert event.event_update_patch(ve, ve) is None


# ---------------------------------------------------------------- nodes (§9)


def test_fake_node_9_2() -> None:
    n = node.fake_node(
        "ip-10-0-0-1.ec2.internal", CTX, now="2025-01-01T00:00:00Z", node_service_ip="10.96.7.7"
    )
    labels = n["metadata"]["labels"]
    assert labels == {
        "vcluster.loft.sh/fake-node": "true",
        "beta.kubernetes.io/arch": "amd64",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/os": "linux",
        "kubernetes.io/hostname": "fake-ip-10-0-0-1.ec2.internal",
    }
    assert n["metadata"]["annotations"] == {
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "false",
    }
    st = n["status"]
    assert (
        st["capacity"]
        == st["allocatable"]
        == {
            "cpu": "16",
            "memory": "32Gi",
            "ephemeral-storage": "100Gi",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "pods": "110",
        }
    )
    assert {x["type"]: x["status"] for x in st["conditions"]} == {
        "Ready": "True",
        "MemoryPressure": "False",
        "DiskPressure": "False",
        "PIDPressure": "False",
    }
    assert st["addresses"] == [
        {"type": "Hostname", "address": "ip-10-0-0-1-ec2-internal.nodes.vcluster.com"},
        {"type": "InternalIP", "address": "10.96.7.7"},
    ]
    assert st["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    info = st["nodeInfo"]
    assert info["osImage"] == "Fake Kubernetes Image" and info["kernelVersion"] == "4.19.76-fakelinux"
    assert info["containerRuntimeVersion"] == "docker://19.3.12" and info["kubeletVersion"] == "v1.32.0"
    assert all(
        len(info[k]) == 36 and info[k].replace("-", "").isalpha()
        for k in ("bootID", "machineID", "systemUUID")
    )
    assert node.fake_node_status_patch(n, CTX, "10.96.7.7") is None
    assert node.fake_node_status_patch(n, CTX.replace(proxy_kubelets_by_ip=False), "10.96.7.7") == {
        "status": {
            "addresses": [{"type": "Hostname", "address": "ip-10-0-0-1-ec2-internal.nodes.vcluster.com"}]
        }
    }
    long = "x" * 70
    assert node.fake_node(long, CTX, now="t")["metadata"]["labels"]["kubernetes.io/hostname"] == (
        "fake-" + "x" * 47 + "-" + hashlib.sha256(("fake-" + long).encode()).hexdigest()[:10]
    )


def test_node_needed_9_1() -> None:
    ds = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "d", "uid": "u"}]
    vpods = [
        {"metadata": {"ownerReferences": ds}, "spec": {"nodeName": "n1"}},
        {"metadata": {}, "spec": {"nodeName": "n2"}},
    ]
    hpods = [
        {"metadata": {"annotations": {c.OWNER_SET_KIND_ANNOTATION: "DaemonSet"}}, "spec": {"nodeName": "n3"}},
        {
            "metadata": {"annotations": {c.OWNER_SET_KIND_ANNOTATION: "ReplicaSet"}},
            "spec": {"nodeName": "n4"},
        },
    ]
    assert [node.node_needed(n, vpods, hpods) for n in ("n1", "n2", "n3", "n4", "n5")] == [
        False,
        True,
        False,
        True,
        False,
    ]


def test_node_service_9_3() -> None:
    vc_svc = {
        "metadata": {"name": "my-vc", "uid": "svc-uid"},
        "spec": {"selector": {"app": "vcluster", "release": "my-vc"}},
    }
    svc = node.node_service(CTX, "ip-10.0.0.1", vc_svc)
    assert svc["metadata"]["name"] == "my-vc-node-ip-10-0-0-1"
    assert svc["metadata"]["labels"] == {
        "vcluster.loft.sh/belongs-to": "my-vc",
        "vcluster.loft.sh/node": "ip-10.0.0.1",
    }
    assert svc["spec"]["ports"] == [{"name": "kubelet", "port": 10250, "targetPort": 8443, "protocol": "TCP"}]
    assert svc["spec"]["selector"] == {"app": "vcluster", "release": "my-vc"}
    assert svc["metadata"]["ownerReferences"][0]["uid"] == "svc-uid"


def test_real_node_9_4_taints_and_bookkeeping() -> None:
    ctx = CTX.replace(
        real_nodes=True, enforce_tolerations=("dedicated=infra:NoSchedule",), clear_image_status=True
    )
    hnode = {
        "metadata": {"name": "n1", "uid": "h", "labels": {"zone": "a"}, "annotations": {"h": "1"}},
        "spec": {
            "podCIDR": "10.1.0.0/24",
            "taints": [
                {"key": "dedicated", "value": "infra", "effect": "NoSchedule"},
                {"key": "gpu", "effect": "NoSchedule"},
            ],
        },
        "status": {
            "addresses": [{"type": "InternalIP", "address": "192.168.0.1"}],
            "images": [{"names": ["x"]}],
            "capacity": {"cpu": "4"},
        },
    }
    v = node.real_node(hnode, ctx, own_node="n1")
    assert v["metadata"]["labels"] == {"zone": "a", c.MARKER_LABEL: "my-vc"}
    ann = v["metadata"]["annotations"]
    assert ann[c.ORIGINAL_TAINTS_ANNOTATION] == json.dumps(
        ['{"key":"dedicated","value":"infra","effect":"NoSchedule"}', '{"key":"gpu","effect":"NoSchedule"}'],
        separators=(",", ":"),
    )
    assert ann[c.SCALE_DOWN_DISABLED_ANNOTATION] == "true"
    assert ann[c.MANAGED_LABELS_ANNOTATION] == "zone" and ann[c.MANAGED_ANNOTATIONS_ANNOTATION] == "h"
    assert v["spec"]["taints"] == [{"key": "gpu", "effect": "NoSchedule"}]  # tolerated by enforced toleration
    assert v["spec"]["podCIDR"] == "10.1.0.0/24"
    assert v["status"]["addresses"] == [{"type": "Hostname", "address": "n1.nodes.vcluster.com"}]
    assert "images" not in v["status"] and v["status"]["daemonEndpoints"] == {
        "kubeletEndpoint": {"Port": 10250}
    }
    # a taint added in the virtual cluster survives; a stale not-ready taint does not
    v["spec"]["taints"] += [
        {"key": "tenant", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"},
    ]
    v["metadata"]["uid"] = "vu"
    patch, status_patch = node.real_node_update(v, hnode, ctx, own_node="n1")
    assert patch == {
        "spec": {"taints": [{"key": "gpu", "effect": "NoSchedule"}, {"key": "tenant", "effect": "NoExecute"}]}
    }
    assert status_patch is None
    # a host taint that disappeared is removed from the virtual node too
    h2 = copy.deepcopy(hnode)
    h2["spec"]["taints"] = []
    v["spec"]["taints"] = [{"key": "gpu", "effect": "NoSchedule"}, {"key": "tenant", "effect": "NoExecute"}]
    patch, _ = node.real_node_update(v, h2, ctx)
    assert patch["spec"]["taints"] == [{"key": "tenant", "effect": "NoExecute"}]


# ---------------------------------------------------------------- lifecycle (§8.5)


def test_lifecycle_decisions() -> None:
    host = configmap.translate_configmap({"metadata": meta("cfg")}, CTX).obj
    assert lifecycle.host_only(host, kinds.CONFIGMAP, virtual_seen_before=False) == (
        "delete_host",
        "virtual object was deleted",
    )
    bare = {"metadata": {"name": "cfg-x-default-x-my-vc", "namespace": "vc-ns", "labels": MARK}}
    assert lifecycle.host_only(bare, kinds.SERVICE, virtual_seen_before=False)[0] == "create_virtual"
    assert lifecycle.host_only(bare, kinds.SERVICE, virtual_seen_before=True)[0] == "delete_host"
    assert lifecycle.host_only(bare, kinds.ENDPOINTS, virtual_seen_before=False)[0] == "delete_host"
    assert (
        lifecycle.host_only(bare, kinds.CONFIGMAP, virtual_seen_before=False, would_be_used=False)[0]
        == "skip"
    )
    skip = copy.deepcopy(bare)
    skip["metadata"]["annotations"] = {c.SKIP_BACKSYNC_ANNOTATION: "true"}
    assert lifecycle.host_only(skip, kinds.SECRET, virtual_seen_before=True)[0] == "skip"
    v = {"metadata": meta("cfg")}
    assert lifecycle.virtual_only(v, kinds.SERVICE, host_seen_before=True) == (
        "delete_virtual",
        "host object was deleted",
    )
    assert lifecycle.virtual_only(v, kinds.SERVICE, host_seen_before=False)[0] == "create_host"
    d = lifecycle.virtual_delete(v, kinds.PVC, "host object was deleted")
    assert (d.side, d.grace_seconds, d.uid) == ("virtual", 0, "uid-cfg")
    assert lifecycle.host_delete(host, "x").side == "host"


def test_references_are_recorded_with_host_names() -> None:
    t = ingress.translate_ingress({"metadata": meta("i"), "spec": {"tls": [{"secretName": "s"}]}}, CTX)
    assert t.refs == [Reference("Secret", "default", "s", "vc-ns", "s-x-default-x-my-vc")]


def test_endpoint_slices() -> None:
    from vcluster.syncer.resources import endpointslice

    vslice = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": meta("ext-abc", labels={"kubernetes.io/service-name": "ext"}),
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.1.0.5"], "targetRef": {"kind": "Pod", "name": "db-0", "uid": "u"}}],
        "ports": [{"port": 5432}],
    }
    h = endpointslice.translate_endpoint_slice(vslice, CTX).obj
    assert h["metadata"]["name"] == "ext-abc-x-default-x-my-vc"
    assert h["metadata"]["labels"]["kubernetes.io/service-name"] == "ext-x-default-x-my-vc"
    assert h["endpoints"][0]["targetRef"] == {
        "kind": "Pod",
        "name": "db-0-x-default-x-my-vc",
        "namespace": "vc-ns",
    }
    long_svc = "s" * 60  # the host Service's name (SafeConcatName), a valid label value
    label = endpointslice.host_service_label(long_svc, "default", "my-vc")
    assert label == CTX.host_name(long_svc, "default") and len(label) == 63
    res = endpointslice.sync_endpoint_slice(vslice, h, vslice, h, CTX)
    assert res.host_patch is None and res.virtual_patch is None
    v2 = copy.deepcopy(vslice)
    v2["metadata"]["labels"]["extra"] = "1"
    v2["ports"] = [{"port": 5433}]
    res = endpointslice.sync_endpoint_slice(v2, h, vslice, h, CTX)
    assert res.host_patch == {"metadata": {"labels": {"extra": "1"}}, "ports": [{"port": 5433}]}


def test_no_translation_mutates_its_inputs() -> None:
    """Every translate/sync function works on copies (inputs compared before and after)."""
    v_svc = vservice()
    v_ing = {
        "metadata": meta("i", annotations={"nginx.ingress.kubernetes.io/auth-secret": "s"}),
        "spec": {"tls": [{"secretName": "t"}], "defaultBackend": {"service": {"name": "b"}}},
    }
    v_np = {"metadata": meta("np"), "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}}
    v_pvc = {"metadata": meta("p"), "spec": {"dataSource": {"kind": "PersistentVolumeClaim", "name": "x"}}}
    v_pdb = {"metadata": meta("d"), "spec": {"selector": {"matchLabels": {"a": "b"}}}}
    v_sec = {"metadata": meta("s"), "type": "kubernetes.io/service-account-token", "data": {}}
    calls = [
        (service.translate_service, v_svc),
        (ingress.translate_ingress, v_ing),
        (networkpolicy.translate_network_policy, v_np),
        (pvc.translate_pvc, v_pvc),
        (poddisruptionbudget.translate_pdb, v_pdb),
        (secret.translate_secret, v_sec),
        (serviceaccount.translate_service_account, {"metadata": meta("sa"), "secrets": [{"name": "x"}]}),
    ]
    for fn, obj in calls:
        before = copy.deepcopy(obj)
        host = fn(obj, CTX).obj
        assert obj == before, fn.__name__
        h_before = copy.deepcopy(host)
        for sync in (service.sync_service, ingress.sync_ingress, networkpolicy.sync_network_policy):
            if sync.__module__ == fn.__module__:
                sync(obj, host, None, None, CTX)
        assert (obj, host) == (before, h_before), fn.__name__


def test_external_name_switch_and_token_secret_owner() -> None:
    from vcluster.syncer.podvolumes import token_secret, token_secret_owner_patch

    v = vservice(type="ClusterIP")
    v["spec"]["ports"][0]["nodePort"] = 1
    p = service.type_switch_host_patch(v, CTX)
    assert p["spec"]["clusterIP"] == "" and p["spec"]["externalName"] is None
    assert "nodePort" not in p["spec"]["ports"][0] and p["spec"]["selector"][c.MARKER_LABEL] == "my-vc"
    vpod = {"metadata": {"name": "p", "namespace": "default", "uid": "v"}}
    sec = token_secret(CTX, vpod, {"vol": "t"})
    hpod = {"metadata": {"name": "p-x-default-x-my-vc", "uid": "hp"}}
    patch = token_secret_owner_patch(sec, hpod, CTX)
    assert patch == {
        "metadata": {
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Pod", "name": "p-x-default-x-my-vc", "uid": "hp"}
            ]
        }
    }
    sec["metadata"]["ownerReferences"] = patch["metadata"]["ownerReferences"]
    assert token_secret_owner_patch(sec, hpod, CTX) is None
    assert token_secret_owner_patch(sec, {"metadata": {"name": "x"}}, CTX) is None


# ---------------------------------------------------------------- pod conditions (§3.10)


def test_pod_conditions_both_ways() -> None:
    def cond(t: str, status: str, at: str, **kw: str) -> dict[str, str]:
        return {"type": t, "status": status, "lastTransitionTime": at, **kw}

    sched_h = cond("PodScheduled", "True", "2026-01-01T00:00:06Z")
    ready_h = cond("Ready", "True", "2026-01-01T00:00:07Z")
    # binding the virtual pod set PodScheduled a second later than the host did: the same state,
    # so the host's copy stays and nothing has to go back to the host
    v_now = [cond("PodScheduled", "True", "2026-01-01T00:00:07Z")]
    v_out, h_out = pod.merge_conditions([], v_now, [sched_h], [sched_h, ready_h])
    assert v_out == h_out == [sched_h, ready_h]
    # a readiness gate set inside the virtual cluster is a real change: it reaches the host
    gate = cond("example.com/gate", "True", "2026-01-01T00:00:08Z")
    v_out, h_out = pod.merge_conditions([sched_h], [sched_h, gate], [sched_h], [sched_h, ready_h])
    assert h_out == [sched_h, ready_h, gate]
    # a virtual flip of an existing condition wins over the host's
    not_ready = cond("Ready", "False", "2026-01-01T00:00:09Z", reason="Maintenance")
    v_out, h_out = pod.merge_conditions([ready_h], [not_ready], [ready_h], [ready_h])
    assert h_out == [not_ready]
    # unchanged on the virtual side: the host's conditions win
    v_out, h_out = pod.merge_conditions([sched_h], [sched_h], [sched_h], [sched_h, ready_h])
    assert v_out == [sched_h, ready_h]


def test_node_sync_back_patch_8_9() -> None:
    t1 = {"key": "a", "value": "1", "effect": "NoSchedule"}
    t2 = {"key": "b", "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:00Z"}
    host_only = {"key": "h", "effect": "NoSchedule"}
    old = {
        "metadata": {"labels": {"x": "1", "gone": "y", "vcluster.loft.sh/managed-by": "vc"}},
        "spec": {"taints": [t1]},
        "status": {"capacity": {"cpu": "4"}},
    }
    host = {"spec": {"taints": [host_only, t1]}}
    new = {
        "metadata": {"labels": {"x": "2", "new": "z"}},
        "spec": {"taints": [t2], "unschedulable": True},
        "status": {"capacity": {"cpu": "8"}},
    }
    assert node.sync_back_patch(old, new, host, "") == {
        "metadata": {"labels": {"x": "2", "new": "z", "gone": None}},
        "spec": {"taints": [host_only, t2], "unschedulable": True},
    }
    assert node.sync_back_patch(old, new, host, "status") == {"status": {"capacity": {"cpu": "8"}}}
    assert node.sync_back_patch(old, copy.deepcopy(old), host, "") is None
    assert node.sync_back_patch(old, copy.deepcopy(old), host, "status") is None
    back = {**new, "metadata": {"labels": {**new["metadata"]["labels"], "vcluster.loft.sh/managed-by": "vc"}}}
    assert node.synced_back(back, new, "") and not node.synced_back(old, new, "")
    assert node.synced_back(back, new, "status") and node.synced_back(None, new, "")
