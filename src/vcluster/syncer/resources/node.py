"""Nodes (§9): fake nodes by default, real host nodes when enabled, and the per-node kubelet services."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from vcluster.syncer import constants as c
from vcluster.syncer import kinds, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import create_merge_patch, json_copy, split_status
from vcluster.syncer.names import safe_concat_name
from vcluster.syncer.podspec import enforced_tolerations

KIND = kinds.NODE
KUBELET_PORT = 10250
NODE_SERVICE_TARGET_PORT = 8443
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
FAKE_CAPACITY = {
    "cpu": "16",
    "memory": "32Gi",
    "ephemeral-storage": "100Gi",
    "hugepages-1Gi": "0",
    "hugepages-2Mi": "0",
    "pods": "110",
}
_CONDITIONS = (
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
)


def node_hostname(name: str) -> str:
    """The DNS name the fake kubelet answers on: `<name with . → ->.nodes.vcluster.com`."""
    return f"{name.replace('.', '-')}.nodes.vcluster.com"


def node_addresses(name: str, ctx: SyncContext, node_service_ip: str | None) -> list[dict[str, str]]:
    """Hostname address when proxying by hostname, node-service InternalIP when proxying by IP."""
    out = []
    if ctx.proxy_kubelets_by_hostname:
        out.append({"type": "Hostname", "address": node_hostname(name)})
    if ctx.proxy_kubelets_by_ip and node_service_ip:
        out.append({"type": "InternalIP", "address": node_service_ip})
    return out


def _guid(seed: str) -> str:
    letters = "".join(chr(ord("a") + b % 26) for b in hashlib.sha256(seed.encode()).digest())
    return f"{letters[:8]}-{letters[8:12]}-{letters[12:16]}-{letters[16:20]}-{letters[20:32]}"


def fake_node(name: str, ctx: SyncContext, *, now: str, node_service_ip: str | None = None) -> dict[str, Any]:
    """A fake virtual node standing for host node `name` (labels, capacity, conditions of §9.2)."""
    conditions = [
        {
            "type": t,
            "status": s,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }
        for t, s, reason, message in _CONDITIONS
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                c.FAKE_NODE_LABEL: "true",
                "beta.kubernetes.io/arch": ctx.node_arch,
                "kubernetes.io/arch": ctx.node_arch,
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": safe_concat_name("fake", name),
            },
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "false",
            },
        },
        "spec": {},
        "status": {
            "capacity": dict(FAKE_CAPACITY),
            "allocatable": dict(FAKE_CAPACITY),
            "conditions": conditions,
            "addresses": node_addresses(name, ctx, node_service_ip),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
            "nodeInfo": {
                "machineID": _guid(f"machine/{name}"),
                "systemUUID": _guid(f"system/{name}"),
                "bootID": _guid(f"boot/{name}"),
                "kernelVersion": "4.19.76-fakelinux",
                "osImage": "Fake Kubernetes Image",
                "containerRuntimeVersion": "docker://19.3.12",
                "kubeletVersion": ctx.virtual_kubernetes_version,
                "kubeProxyVersion": ctx.virtual_kubernetes_version,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def fake_node_status_patch(
    vnode: Mapping[str, Any], ctx: SyncContext, node_service_ip: str | None = None
) -> dict[str, Any] | None:
    """Status patch correcting a fake node's addresses (done on every reconcile)."""
    want = node_addresses(metadata.meta(vnode).get("name", ""), ctx, node_service_ip)
    have = (vnode.get("status") or {}).get("addresses") or []
    return None if want == have else {"status": {"addresses": want}}


def _owner_kind_is(refs: Iterable[Mapping[str, Any]], api_version: str, kind: str) -> bool:
    return any(r.get("apiVersion") == api_version and r.get("kind") == kind for r in refs)


def node_needed(
    name: str, virtual_pods: Iterable[Mapping[str, Any]], host_pods: Iterable[Mapping[str, Any]]
) -> bool:
    """A node is needed while a non-DaemonSet virtual pod or managed host pod is bound to it (§9.1)."""
    for pod in virtual_pods:
        if (pod.get("spec") or {}).get("nodeName") != name:
            continue
        if not _owner_kind_is(metadata.meta(pod).get("ownerReferences") or [], "apps/v1", "DaemonSet"):
            return True
    for pod in host_pods:
        if (pod.get("spec") or {}).get("nodeName") != name:
            continue
        if metadata.annotations_of(pod).get(c.OWNER_SET_KIND_ANNOTATION) != "DaemonSet":
            return True
    return False


# ---------------------------------------------------------------- node services (§9.3)


SERVICE_CLUSTER_LABEL = "vcluster.loft.sh/belongs-to"
SERVICE_NODE_LABEL = "vcluster.loft.sh/node"
# host addresses a proxied kubelet's own addresses replace (vCluster keeps ExternalIP/ExternalDNS)
PROXIED_ADDRESS_TYPES = ("Hostname", "InternalIP", "InternalDNS")


def node_service_name(ctx: SyncContext, node: str) -> str:
    """Host Service proxying the kubelet of virtual node `node`."""
    return safe_concat_name(ctx.vcluster, "node", node.replace(".", "-"))


def is_node_service(svc: Mapping[str, Any], ctx: SyncContext, node: str) -> bool:
    """Whether host Service `svc` is this virtual cluster's node Service of `node` (the
    `belongs-to` and `node` labels it was created with, in the host namespace): only such a
    Service is used for the node's address or deleted with the node."""
    m, labels = metadata.meta(svc), metadata.labels_of(svc)
    return (
        m.get("namespace") == ctx.host_namespace
        and m.get("name") == node_service_name(ctx, node)
        and labels.get(SERVICE_CLUSTER_LABEL) == ctx.vcluster
        and labels.get(SERVICE_NODE_LABEL) == node
    )


def node_service(ctx: SyncContext, node: str, vcluster_service: Mapping[str, Any]) -> dict[str, Any]:
    """The host Service `kubelet` 10250 → 8443 with the vCluster Service's selector, owned by it.
    Without a selector to copy, the port targets itself (vCluster leaves `targetPort` zero) and
    its Endpoints are written by hand (`node_service_endpoints`)."""
    svc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": node_service_name(ctx, node),
            "namespace": ctx.host_namespace,
            "labels": {SERVICE_CLUSTER_LABEL: ctx.vcluster, SERVICE_NODE_LABEL: node},
        },
        "spec": {
            "ports": [
                {
                    "name": "kubelet",
                    "port": KUBELET_PORT,
                    "targetPort": NODE_SERVICE_TARGET_PORT,
                    "protocol": "TCP",
                }
            ]
        },
    }
    selector = (vcluster_service.get("spec") or {}).get("selector")
    if selector:
        svc["spec"]["selector"] = dict(selector)
    else:
        del svc["spec"]["ports"][0]["targetPort"]
    uid = metadata.meta(vcluster_service).get("uid")
    if uid:
        svc["metadata"]["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Service", "name": ctx.vcluster, "uid": uid, "controller": False}
        ]
    return svc


def _bare_address(address: Mapping[str, Any]) -> dict[str, Any]:
    return {k: json_copy(v) for k, v in address.items() if k not in ("hostname", "nodeName", "targetRef")}


def node_service_endpoints(
    ctx: SyncContext, service_name: str, vcluster_endpoints: Mapping[str, Any]
) -> dict[str, Any]:
    """The Endpoints of a selector-less node Service (§9.3): the vCluster Service's endpoints, their
    `https` port renamed `kubelet`, addresses without hostname, nodeName and targetRef."""
    subsets = []
    for subset in vcluster_endpoints.get("subsets") or []:
        out: dict[str, Any] = {}
        for field in ("addresses", "notReadyAddresses"):
            if subset.get(field):
                out[field] = [_bare_address(a) for a in subset[field]]
        ports = [
            {"name": "kubelet", **{k: p[k] for k in ("port", "protocol", "appProtocol") if k in p}}
            for p in subset.get("ports") or []
            if p.get("name") == "https"
        ]
        if ports:
            out["ports"] = ports
        if out.get("addresses") or out.get("notReadyAddresses"):
            subsets.append(out)  # kube refuses a subset without addresses
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": service_name, "namespace": ctx.host_namespace},
    }
    if subsets:
        body["subsets"] = subsets
    return body


# ---------------------------------------------------------------- real nodes (§9.4)


def _taint_json(t: Mapping[str, Any]) -> str:
    parts = [f'"key":{json.dumps(t.get("key", ""))}']
    if t.get("value"):
        parts.append(f'"value":{json.dumps(t["value"])}')
    parts.append(f'"effect":{json.dumps(t.get("effect", ""))}')
    if t.get("timeAdded"):
        parts.append(f'"timeAdded":{json.dumps(t["timeAdded"])}')
    return "{" + ",".join(parts) + "}"


def original_taints_annotation(taints: Iterable[Mapping[str, Any]]) -> str:
    """JSON array of JSON-encoded host taints (what the last sync saw on the host)."""
    return json.dumps([_taint_json(t) for t in taints], separators=(",", ":"))


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """core/v1 Toleration.ToleratesTaint."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    return (toleration.get("value") or "") == (taint.get("value") or "")


def merge_taints(
    host_taints: list[Mapping[str, Any]],
    virtual_taints: list[Mapping[str, Any]],
    original_annotation: str | None,
    tolerations: list[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Host taints (minus enforced-tolerated ones) plus taints added virtually since the last sync."""
    try:
        original = set(json.loads(original_annotation)) if original_annotation else set()
    except ValueError:
        original = set()
    host = [dict(t) for t in host_taints if not any(tolerates(tol, t) for tol in tolerations)]
    host_keys = {_taint_json(t) for t in host_taints}
    host_has_not_ready = any(t.get("key") == NOT_READY_TAINT for t in host_taints)
    added = [
        dict(t)
        for t in virtual_taints
        if _taint_json(t) not in original
        and _taint_json(t) not in host_keys
        and (t.get("key") != NOT_READY_TAINT or host_has_not_ready)
    ]
    return host + added


def real_node(
    hnode: Mapping[str, Any],
    ctx: SyncContext,
    vnode: Mapping[str, Any] | None = None,
    *,
    node_service_ip: str | None = None,
    own_node: str | None = None,
) -> dict[str, Any]:
    """The desired virtual copy of a real host node (create when `vnode` is None, else its update)."""
    name = metadata.meta(hnode).get("name", "")
    base = (
        json_copy(dict(vnode)) if vnode is not None else {"apiVersion": "v1", "kind": "Node", "metadata": {}}
    )
    m = base.setdefault("metadata", {})
    m["name"] = name
    labels, annotations = metadata.apply_metadata(hnode, vnode)
    labels[c.MARKER_LABEL] = ctx.vcluster
    host_taints = (hnode.get("spec") or {}).get("taints") or []
    virtual_taints = ((vnode or {}).get("spec") or {}).get("taints") or []
    taints = merge_taints(
        host_taints,
        virtual_taints,
        metadata.annotations_of(vnode).get(c.ORIGINAL_TAINTS_ANNOTATION),
        enforced_tolerations(ctx),
    )
    annotations[c.ORIGINAL_TAINTS_ANNOTATION] = original_taints_annotation(host_taints)
    if own_node and own_node == name:
        annotations[c.SCALE_DOWN_DISABLED_ANNOTATION] = "true"
    m["labels"], m["annotations"] = labels, annotations
    spec = json_copy(hnode.get("spec") or {})
    spec.pop("taints", None)
    if taints:
        spec["taints"] = taints
    base["spec"] = spec
    status = json_copy(hnode.get("status") or {})
    if ctx.proxy_kubelets_by_hostname or ctx.proxy_kubelets_by_ip:
        kept = [a for a in status.get("addresses") or [] if a.get("type") not in PROXIED_ADDRESS_TYPES]
        status["addresses"] = node_addresses(name, ctx, node_service_ip) + kept
    status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": KUBELET_PORT}}
    if ctx.clear_image_status:
        status.pop("images", None)
    base["status"] = status
    return base


def real_node_update(
    vnode: Mapping[str, Any],
    hnode: Mapping[str, Any],
    ctx: SyncContext,
    *,
    node_service_ip: str | None = None,
    own_node: str | None = None,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(patch, status patch) bringing a real virtual node in line with its host node."""
    want = real_node(hnode, ctx, vnode, node_service_ip=node_service_ip, own_node=own_node)
    return split_status(create_merge_patch(vnode, want))


# ---------------------------------------------------------------- syncBackChanges (§8.9)


def _taint_id(t: Mapping[str, Any]) -> tuple[str, str, str]:
    return (t.get("key") or "", t.get("value") or "", t.get("effect") or "")


def sync_back_patch(
    old: Mapping[str, Any], new: Mapping[str, Any], host: Mapping[str, Any], subresource: str
) -> dict[str, Any] | None:
    """The merge patch for the host node carrying a client's change of a real virtual node
    (`sync.fromHost.nodes.syncBackChanges`): labels (not our own `vcluster.loft.sh/` ones),
    added and removed taints, `spec.unschedulable`; `status.capacity` for the status subresource.
    None when none of those changed."""
    if subresource == "status":
        want = (new.get("status") or {}).get("capacity")
        if want == (old.get("status") or {}).get("capacity"):
            return None
        return {"status": {"capacity": json_copy(want) if want else None}}
    patch: dict[str, Any] = {}
    old_l, new_l = metadata.labels_of(old), metadata.labels_of(new)
    labels = {
        k: new_l.get(k)
        for k in old_l.keys() | new_l.keys()
        if old_l.get(k) != new_l.get(k) and not k.startswith("vcluster.loft.sh/")
    }
    if labels:
        patch["metadata"] = {"labels": labels}
    spec: dict[str, Any] = {}
    old_t = [t for t in (old.get("spec") or {}).get("taints") or [] if isinstance(t, dict)]
    new_t = [t for t in (new.get("spec") or {}).get("taints") or [] if isinstance(t, dict)]
    removed = {_taint_id(t) for t in old_t} - {_taint_id(t) for t in new_t}
    added = [t for t in new_t if _taint_id(t) not in {_taint_id(o) for o in old_t}]
    if removed or added:
        host_t = [t for t in (host.get("spec") or {}).get("taints") or [] if _taint_id(t) not in removed]
        have = {_taint_id(t) for t in host_t}
        host_t += [json_copy(t) for t in added if _taint_id(t) not in have]
        spec["taints"] = host_t or None
    if bool((old.get("spec") or {}).get("unschedulable")) != bool(
        (new.get("spec") or {}).get("unschedulable")
    ):
        spec["unschedulable"] = True if (new.get("spec") or {}).get("unschedulable") else None
    if spec:
        patch["spec"] = spec
    return patch or None


def synced_back(vnode: Mapping[str, Any] | None, new: Mapping[str, Any], subresource: str) -> bool:
    """Whether the virtual node shows what `sync_back_patch` sent (after the host → virtual copy)."""
    if vnode is None:
        return True  # gone: nothing to wait for
    if subresource == "status":
        return (vnode.get("status") or {}).get("capacity") == (new.get("status") or {}).get("capacity")

    def own(labels: Mapping[str, str]) -> dict[str, str]:
        return {k: v for k, v in labels.items() if not k.startswith("vcluster.loft.sh/")}

    if own(metadata.labels_of(vnode)) != own(metadata.labels_of(new)):
        return False
    taints = {_taint_id(t) for t in (vnode.get("spec") or {}).get("taints") or []}
    if taints != {_taint_id(t) for t in (new.get("spec") or {}).get("taints") or []}:
        return False
    return bool((vnode.get("spec") or {}).get("unschedulable")) == bool(
        (new.get("spec") or {}).get("unschedulable")
    )
