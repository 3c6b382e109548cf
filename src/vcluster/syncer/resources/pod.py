"""Pods (§3): create preconditions, the full host pod, update path, status back-sync, lifecycle decisions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from vcluster import podsecurity
from vcluster.apiserver.patch import json_copy
from vcluster.syncer import constants as c
from vcluster.syncer import generic, kinds, lifecycle, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.gojson import go_json_string, owner_references_json
from vcluster.syncer.merge import (
    Field,
    FieldDirections,
    FieldEnv,
    apply_directions,
    semantic_equal,
)
from vcluster.syncer.names import NS_LABEL_PREFIX, ns_label_key
from vcluster.syncer.podenv import service_env, translate_container_env, translate_image
from vcluster.syncer.podspec import (
    HOSTS_CONTAINER,
    add_tolerations,
    enforced_tolerations,
    host_hostname,
    kube_host_alias,
    rewrite_hosts,
    translate_affinity,
    translate_dns,
    translate_spread,
)
from vcluster.syncer.podvolumes import (
    HostUidLookup,
    TokenSuffix,
    rewrite_host_paths,
    token_secret,
    translate_volumes,
)
from vcluster.syncer.refs import RefRecorder
from vcluster.syncer.result import Delete, Event, SyncResult, Translation
from vcluster.syncer.selectors import selector_matches

KIND = kinds.POD
MAX_PRIORITY = 1_000_000_000
SYSTEM_PRIORITY_CLASSES = ("system-node-critical", "system-cluster-critical")
OWNER_SET_KINDS = ("DaemonSet", "Job", "ReplicaSet", "StatefulSet")
DEFAULT_GRACE_SECONDS = 30
# Pod annotations the syncer owns on the host: never merged in either direction (§2.3).
EXCLUDED_ANNOTATIONS = (
    c.SAFE_TO_EVICT_ANNOTATION,
    c.DAEMONSET_POD_ANNOTATION,
    c.OWNER_REFERENCES_ANNOTATION,
    c.OWNER_SET_KIND_ANNOTATION,
    c.POD_NAMESPACE_ANNOTATION,
    c.POD_NAME_ANNOTATION,
    c.POD_UID_ANNOTATION,
    c.POD_SA_NAME_ANNOTATION,
    c.HOSTS_REWRITTEN_ANNOTATION,
    c.POD_LABELS_ANNOTATION,
)


# ---------------------------------------------------------------- field directions (§3.9, §3.10, §6.3)


def _containers_with_virtual_images(
    virtual: list[dict[str, Any]] | None, env: FieldEnv, host_field: str, skip: Iterable[str] = ()
) -> list[dict[str, Any]] | None:
    host = json_copy((env.host.get("spec") or {}).get(host_field))
    images = {ctr.get("name"): ctr.get("image") for ctr in virtual or []}
    skipped = set(skip)
    for ctr in host or []:
        name = ctr.get("name")
        if name in images and name not in skipped:
            ctr["image"] = translate_image(images[name] or "", env.ctx.translate_image)
    return host


def _containers_to_host(virtual: Any, env: FieldEnv) -> Any:
    return _containers_with_virtual_images(virtual, env, "containers")


def _init_containers_to_host(virtual: Any, env: FieldEnv) -> Any:
    rewritten = metadata.annotations_of(env.host).get(c.HOSTS_REWRITTEN_ANNOTATION) == "true"
    return _containers_with_virtual_images(
        virtual, env, "initContainers", [HOSTS_CONTAINER] if rewritten else []
    )


def _tolerations_to_host(virtual: Any, env: FieldEnv) -> Any:
    host = (env.host.get("spec") or {}).get("tolerations") or []
    out = add_tolerations(add_tolerations(virtual, host), enforced_tolerations(env.ctx))
    return out or None


def _status_to_virtual(host_status: Any, env: FieldEnv) -> Any:
    """Host status wins except qosClass, conditions (merged separately) and hidden container statuses."""
    out = dict(host_status or {})
    vstatus = env.virtual.get("status") or {}
    vspec = env.virtual.get("spec") or {}
    for key in ("qosClass", "conditions", "observedGeneration"):
        out.pop(key, None)
        if vstatus.get(key) is not None:
            out[key] = json_copy(vstatus[key])
    for status_field, spec_field in (
        ("containerStatuses", "containers"),
        ("initContainerStatuses", "initContainers"),
    ):
        if out.get(status_field) is not None:
            names = {ctr.get("name") for ctr in vspec.get(spec_field) or []}
            out[status_field] = [s for s in out[status_field] if s.get("name") in names]
    return out or None


def with_node_host_ip(hpod: Mapping[str, Any], node_ip: str) -> Mapping[str, Any]:
    """vCluster's rewriteFakeHostIPAddresses (`proxyKubelets.byIP`): the host pod as the virtual
    side is to see it, its `hostIP`/`hostIPs` the ClusterIP of its node's kubelet Service (the
    virtual node's InternalIP). Unchanged while the pod has no hostIP or the Service has no IP."""
    status = hpod.get("status") or {}
    if not node_ip or not status.get("hostIP"):
        return hpod
    return {**hpod, "status": {**status, "hostIP": node_ip, "hostIPs": [{"ip": node_ip}]}}


def _same_state(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Two conditions of one type that say the same thing (timestamps aside)."""
    if a is None or b is None:
        return a is b
    return all(a.get(k) == b.get(k) for k in ("status", "reason", "message"))


def merge_conditions(
    v_old: list[dict[str, Any]] | None,
    v: list[dict[str, Any]] | None,
    h_old: list[dict[str, Any]] | None,
    h: list[dict[str, Any]] | None,
    env: FieldEnv | None = None,
) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
    """status.conditions both ways: a condition type changed on the virtual side wins, else the host's.

    A virtual change that brings a condition to the state the host already has (the PodScheduled
    that binding the virtual pod sets, say) is no conflict: the host's copy, with its timestamps,
    stays on both sides instead of being written back to the host."""
    old = {x.get("type"): x for x in v_old or []}
    virt = {x.get("type"): x for x in v or []}
    host = {x.get("type"): x for x in h or []}
    changed = {
        t
        for t in old.keys() | virt.keys()
        if not semantic_equal(old.get(t), virt.get(t)) and not _same_state(virt.get(t), host.get(t))
    }
    out: list[dict[str, Any]] = []
    seen = set()
    for cond in h or []:
        t = cond.get("type")
        seen.add(t)
        if t in changed:
            if t in virt:
                out.append(json_copy(virt[t]))
        else:
            out.append(json_copy(cond))
    out += [json_copy(virt[t]) for t in virt if t in changed and t not in seen]
    return (out or None), (out or None)


FIELDS = FieldDirections(
    to_host=(
        "spec.activeDeadlineSeconds",
        Field("spec.containers", to_host=_containers_to_host),
        Field("spec.initContainers", to_host=_init_containers_to_host),
        "spec.schedulingGates",
        Field("spec.tolerations", to_host=_tolerations_to_host),
    ),
    from_host=(Field("status", to_virtual=_status_to_virtual),),
    both=("metadata.labels", "metadata.annotations", Field("status.conditions", merge=merge_conditions)),
    excluded_annotations=EXCLUDED_ANNOTATIONS,
    excluded_annotation_prefixes=(c.TOKEN_ANNOTATION_PREFIX,),
)


# ---------------------------------------------------------------- create preconditions (§3.1)


@dataclass(frozen=True)
class Blocked:
    """Why a virtual pod is not created on the host now, and what the engine should do instead."""

    message: str
    event: Event | None = None
    delete: Delete | None = None
    requeue_after: float | None = None
    retry: bool = False


ClassLookup = Callable[[str], "Mapping[str, Any] | None"]


def _class_blocked(
    kind: str, name: str, selector: Mapping[str, Any] | None, lookup: ClassLookup | None, pod: str
) -> Blocked | None:
    if not name or name in SYSTEM_PRIORITY_CLASSES or not selector:
        return None
    if not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return None
    obj = lookup(name) if lookup else None
    if (
        obj is not None
        and not metadata.is_deleting(obj)
        and selector_matches(selector, metadata.labels_of(obj))
    ):
        return None
    msg = (
        f'did not sync pod "{pod}" to host because the {kind} "{name}" '
        "does not exist on the host or does not match the selector"
    )
    return Blocked(msg, event=Event("Warning", "SyncWarning", msg))


def security_violation(vpod: Mapping[str, Any], ctx: SyncContext) -> Event | None:
    """The SyncError event of a pod violating `policies.podSecurityStandard` (§3.1-3, §3.9c), else None."""
    if not ctx.pod_security_standard:
        return None
    msg = podsecurity.event_message(vpod, ctx.pod_security_standard)
    return Event("Warning", "SyncError", msg) if msg else None


def create_precondition(
    vpod: Mapping[str, Any],
    ctx: SyncContext,
    *,
    host_seen_before: bool = False,
    host_priority_class: ClassLookup | None = None,
    host_runtime_class: ClassLookup | None = None,
    virtual_node_exists: Callable[[str], bool] | None = None,
) -> Blocked | None:
    """None when the virtual pod may be created on the host, else what to do (in §3.1's order)."""
    m, spec = metadata.meta(vpod), vpod.get("spec") or {}
    name = m.get("name", "")
    for kind, field, selector, lookup in (
        ("priority class", "priorityClassName", ctx.from_host_priority_class_selector, host_priority_class),
        ("runtime class", "runtimeClassName", ctx.from_host_runtime_class_selector, host_runtime_class),
    ):
        blocked = _class_blocked(kind, spec.get(field) or "", selector, lookup, name)
        if blocked:
            return blocked
    if host_seen_before or metadata.is_deleting(vpod) or (vpod.get("status") or {}).get("startTime"):
        reason = "pod is being deleted & there is no physical pod"
        return Blocked(reason, delete=Delete("virtual", reason, grace_seconds=0, uid=m.get("uid")))
    violation = security_violation(vpod, ctx)
    if violation is not None:
        return Blocked(violation.message, event=violation)
    if not ctx.kube_ip:
        return Blocked("waiting for the vCluster service IP", retry=True)
    if not ctx.dns_ip:
        return Blocked("waiting for DNS service IP", retry=True)
    node = spec.get("nodeName") or ""
    if ctx.node_selector_labels and node and not (virtual_node_exists and virtual_node_exists(node)):
        msg = f"waiting for virtual node {node} to be synced"
        return Blocked(msg, event=Event("Warning", "SyncWarning", msg), requeue_after=15.0)
    if ctx.virtual_scheduler and not node:
        return Blocked("waiting for the virtual scheduler to assign a node")
    return None


# ---------------------------------------------------------------- create translation (§3.2-§3.8)


def labels_annotation(labels: Mapping[str, str] | None) -> str:
    """`vcluster.loft.sh/labels`: sorted `key=<JSON value>` lines (the downward-API labels file)."""
    return "\n".join(sorted(f"{k}={go_json_string(v)}" for k, v in (labels or {}).items()))


def _owner_set_kind(owners: list[Mapping[str, Any]]) -> str | None:
    for ref in owners:
        if ref.get("apiVersion") == "apps/v1" and ref.get("kind") in OWNER_SET_KINDS:
            return ref["kind"]
    return None


def _pod_annotations(ann: dict[str, str], vpod: Mapping[str, Any]) -> None:
    m, spec = metadata.meta(vpod), vpod.get("spec") or {}
    vann = metadata.annotations_of(vpod)
    computed = {
        c.POD_NAMESPACE_ANNOTATION: m.get("namespace", ""),
        c.POD_NAME_ANNOTATION: m.get("name", ""),
        c.POD_UID_ANNOTATION: m.get("uid", ""),
        c.POD_SA_NAME_ANNOTATION: spec.get("serviceAccountName", ""),
    }
    for key, value in computed.items():
        ann[key] = vann.get(key) or value
    if c.POD_LABELS_ANNOTATION not in vann:
        ann[c.POD_LABELS_ANNOTATION] = labels_annotation(m.get("labels"))
    if c.SAFE_TO_EVICT_ANNOTATION not in ann:
        controller = metadata.controller_of(vpod)
        ann[c.SAFE_TO_EVICT_ANNOTATION] = "true" if controller else "false"
        if controller and controller.get("kind") == "DaemonSet":
            ann[c.DAEMONSET_POD_ANNOTATION] = "true"
    owners = m.get("ownerReferences") or []
    if c.OWNER_REFERENCES_ANNOTATION not in ann and owners:
        ann[c.OWNER_REFERENCES_ANNOTATION] = owner_references_json(owners)
        kind = _owner_set_kind(owners)
        if kind:
            ann[c.OWNER_SET_KIND_ANNOTATION] = kind


def namespace_labels_on_host(namespace_labels: Mapping[str, str] | None, vcluster: str) -> dict[str, str]:
    """The virtual namespace's labels as host `ns-label` keys."""
    return {ns_label_key(k, vcluster): v for k, v in (namespace_labels or {}).items()}


def _translate_priority(spec: dict[str, Any], ctx: SyncContext, refs: RefRecorder) -> None:
    if ctx.sync_priority_classes:
        if spec.get("priorityClassName"):
            spec["priorityClassName"] = refs.host(kinds.PRIORITY_CLASS, spec["priorityClassName"])
            if spec.get("priority") is not None and spec["priority"] > MAX_PRIORITY:
                spec["priority"] = MAX_PRIORITY
    elif not ctx.from_host_priority_classes:
        spec.pop("priorityClassName", None)
        spec.pop("priority", None)
    if ctx.pod_priority_class_name and not spec.get("priorityClassName"):
        spec["priorityClassName"] = ctx.pod_priority_class_name
        spec.pop("priority", None)


def _translate_claims(spec: dict[str, Any], ns: str, refs: RefRecorder) -> None:
    for claim in spec.get("resourceClaims") or []:
        if claim.get("resourceClaimName"):
            claim["resourceClaimName"] = refs.host_short(kinds.RESOURCE_CLAIM, claim["resourceClaimName"], ns)
        if claim.get("resourceClaimTemplateName"):
            claim["resourceClaimTemplateName"] = refs.host_short(
                kinds.RESOURCE_CLAIM_TEMPLATE, claim["resourceClaimTemplateName"], ns
            )


def translate_pod(
    vpod: Mapping[str, Any],
    ctx: SyncContext,
    *,
    namespace_labels: Mapping[str, str] | None = None,
    services: Iterable[Mapping[str, Any]] = (),
    tokens: Mapping[str, str] | None = None,
    token_suffix: TokenSuffix | None = None,
    host_uid_for: HostUidLookup | None = None,
) -> Translation:
    """The host pod for a virtual pod; `tokens` holds the minted tokens keyed as `token_requests` says.

    `services` are the virtual Services of the pod's namespace (service-link variables). The result's
    `extra` holds the token Secret in `useSecretsForSATokens` mode. Raises TranslationError.
    """
    m = metadata.meta(vpod)
    ns, name = m.get("namespace", ""), m.get("name", "")
    refs = RefRecorder(ctx)
    events: list[Event] = []
    pod = metadata.to_host_object(vpod, ctx, KIND)
    spec = pod.setdefault("spec", {})
    ann = pod["metadata"]["annotations"]

    spec.pop("serviceAccount", None)
    spec["serviceAccountName"] = ctx.workload_sa
    if ctx.sync_service_accounts:
        vspec = vpod.get("spec") or {}
        vsa = vspec.get("serviceAccountName") or vspec.get("serviceAccount") or ""
        if vsa:
            spec["serviceAccountName"] = refs.host(kinds.SERVICE_ACCOUNT, vsa, ns)
    spec["automountServiceAccountToken"] = False
    spec["enableServiceLinks"] = False
    _translate_priority(spec, ctx, refs)
    _pod_annotations(ann, vpod)
    pod["metadata"]["labels"].update(namespace_labels_on_host(namespace_labels, ctx.vcluster))

    extra_env = service_env(
        (vpod.get("spec") or {}).get("enableServiceLinks"), services, ctx.kube_ip, ctx.kube_port
    )
    spec["hostAliases"] = [*(spec.get("hostAliases") or []), kube_host_alias(ctx)]
    translate_dns(pod, ctx, ns)
    if not spec.get("hostname"):
        spec["hostname"] = host_hostname(name)
    if spec.get("subdomain"):
        if ctx.rewrite_hosts:
            h = spec["hostname"]
            rewrite_hosts(pod, ctx, h, f"{h}.{spec['subdomain']}.{ns}.svc.{ctx.cluster_domain}")
        spec.pop("subdomain")
    for field in ("containers", "initContainers", "ephemeralContainers"):
        for ctr in spec.get(field) or []:
            translate_container_env(ctr, ns, refs, extra_env)
            if ctr.get("image") is not None:
                ctr["image"] = translate_image(ctr["image"], ctx.translate_image)
    for ips in spec.get("imagePullSecrets") or []:
        if ips.get("name"):
            ips["name"] = refs.host(kinds.SECRET, ips["name"], ns)
    secret_tokens = translate_volumes(pod, vpod, refs, tokens or {}, token_suffix)
    rewrite_host_paths(pod, ctx, host_uid_for)

    if ctx.virtual_scheduler:
        for field in ("topologySpreadConstraints", "affinity", "nodeSelector"):
            spec.pop(field, None)
    else:
        translate_spread(spec.get("topologySpreadConstraints"), ctx.vcluster, ns)
        affinity = translate_affinity(spec.get("affinity"), ctx.vcluster, ns, events)
        if affinity is not None:
            spec["affinity"] = affinity
        if ctx.node_selector_labels and not spec.get("nodeName"):
            spec["nodeSelector"] = {**(spec.get("nodeSelector") or {}), **ctx.node_selector_labels}
    tolerations = add_tolerations(spec.get("tolerations"), enforced_tolerations(ctx))
    if tolerations:
        spec["tolerations"] = tolerations
    if ctx.pod_runtime_class_name:
        spec["runtimeClassName"] = ctx.pod_runtime_class_name
    if ctx.host_minor < 34:
        spec.pop("resources", None)
    if ctx.sync_resource_claims:
        _translate_claims(spec, ns, refs)
    extra = [token_secret(ctx, vpod, secret_tokens)] if secret_tokens else []
    return Translation(pod, refs.refs, events, extra)


def references(vpod: Mapping[str, Any], ctx: SyncContext) -> list:
    """What a pod references (configmaps, secrets, PVCs, SA, …) without needing tokens or services."""
    probe = json_copy(dict(vpod))
    for vol in (probe.get("spec") or {}).get("volumes") or []:
        for src in (vol.get("projected") or {}).get("sources") or []:
            src.pop("serviceAccountToken", None)
    return translate_pod(probe, ctx.replace(use_secrets_for_sa_tokens=False)).refs


# ---------------------------------------------------------------- update path (§3.9-§3.12)


def deletion_decision(vpod: Mapping[str, Any], hpod: Mapping[str, Any]) -> list[Delete]:
    """Grace-period propagation when either side is deleting (§3.11)."""
    vm, hm = metadata.meta(vpod), metadata.meta(hpod)
    vdel, hdel = metadata.is_deleting(vpod), metadata.is_deleting(hpod)
    if hdel and not vdel:
        grace = (vpod.get("spec") or {}).get("terminationGracePeriodSeconds")
        grace = DEFAULT_GRACE_SECONDS if grace is None else grace
        return [Delete("virtual", "host pod is being deleted", grace, vm.get("uid"))]
    host_grace = hm.get("deletionGracePeriodSeconds")
    if hdel and vdel and isinstance(host_grace, int) and not lifecycle.delete_under_way(vpod, host_grace):
        # only a shorter grace changes a deletion under way (a longer one would be sent again on
        # every update of the pair for nothing)
        return [
            Delete(
                "virtual",
                "host pod deletion grace differs",
                hm.get("deletionGracePeriodSeconds"),
                vm.get("uid"),
            )
        ]
    if vdel and not hdel:
        return [
            Delete(
                "host", "virtual pod is being deleted", vm.get("deletionGracePeriodSeconds"), hm.get("uid")
            )
        ]
    return []


@dataclass(frozen=True)
class NodeDecision:
    """Node reconciliation of §3.9(b): bind, delete, or wait for the virtual node."""

    bind_node: str | None = None
    delete: Delete | None = None
    need_node: str | None = None
    requeue_after: float | None = None


def node_decision(
    vpod: Mapping[str, Any], hpod: Mapping[str, Any], *, virtual_node_exists: bool
) -> NodeDecision | None:
    """None when nothing is to be done about nodes."""
    hnode = (hpod.get("spec") or {}).get("nodeName") or ""
    vnode = (vpod.get("spec") or {}).get("nodeName") or ""
    uid = metadata.meta(vpod).get("uid")
    if hnode:
        if not virtual_node_exists:
            return NodeDecision(need_node=hnode, requeue_after=1.0)
        if not vnode:
            return NodeDecision(bind_node=hnode)
        if vnode != hnode:
            return NodeDecision(delete=Delete("virtual", "node name is different between the two", None, uid))
        return None
    if vnode:
        return NodeDecision(delete=Delete("virtual", "host pod has no node name", DEFAULT_GRACE_SECONDS, uid))
    return None


def binding(vpod: Mapping[str, Any], node: str) -> dict[str, Any]:
    """The v1 Binding to POST to the virtual `pods/<name>/binding` subresource."""
    m = metadata.meta(vpod)
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": m.get("name", ""), "namespace": m.get("namespace", "")},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }


def ephemeral_containers_to_add(
    vpod: Mapping[str, Any],
    hpod: Mapping[str, Any],
    ctx: SyncContext,
    services: Iterable[Mapping[str, Any]] = (),
) -> Translation | None:
    """Virtual ephemeral containers missing on the host, env-translated (§3.12); obj = their list."""
    have = {ctr.get("name") for ctr in (hpod.get("spec") or {}).get("ephemeralContainers") or []}
    missing = [
        json_copy(x)
        for x in (vpod.get("spec") or {}).get("ephemeralContainers") or []
        if x.get("name") not in have
    ]
    if not missing:
        return None
    ns = metadata.meta(vpod).get("namespace", "")
    refs = RefRecorder(ctx)
    extra_env = service_env(
        (vpod.get("spec") or {}).get("enableServiceLinks"), services, ctx.kube_ip, ctx.kube_port
    )
    for ctr in missing:
        translate_container_env(ctr, ns, refs, extra_env)
        if ctr.get("image") is not None:
            ctr["image"] = translate_image(ctr["image"], ctx.translate_image)
    return Translation({"ephemeralContainers": missing}, refs.refs)


def resize_patch(vpod: Mapping[str, Any], hpod: Mapping[str, Any], ctx: SyncContext) -> dict[str, Any] | None:
    """In-place resize on hosts ≥ 1.35: per-container `resources` that differ (for `pods/resize`)."""
    if ctx.host_minor < 35:
        return None
    host = {x.get("name"): x for x in (hpod.get("spec") or {}).get("containers") or []}
    changed = [
        {"name": v.get("name"), "resources": json_copy(v.get("resources") or {})}
        for v in (vpod.get("spec") or {}).get("containers") or []
        if v.get("name") in host and not semantic_equal(v.get("resources"), host[v["name"]].get("resources"))
    ]
    return {"spec": {"containers": changed}} if changed else None


def _host_pod_metadata(
    new_h: dict[str, Any],
    new_v: Mapping[str, Any],
    ctx: SyncContext,
    namespace_labels: Mapping[str, str] | None,
) -> None:
    hm = new_h.setdefault("metadata", {})
    if namespace_labels is not None:
        labels = {k: v for k, v in (hm.get("labels") or {}).items() if not k.startswith(NS_LABEL_PREFIX)}
        labels.update(namespace_labels_on_host(namespace_labels, ctx.vcluster))
        hm["labels"] = labels
    ann = dict(hm.get("annotations") or {})
    vm = metadata.meta(new_v)
    ann[c.POD_LABELS_ANNOTATION] = labels_annotation(vm.get("labels"))
    owners = vm.get("ownerReferences") or []
    if owners:
        ann[c.OWNER_REFERENCES_ANNOTATION] = owner_references_json(owners)
        kind = _owner_set_kind(owners)
        if kind:
            ann[c.OWNER_SET_KIND_ANNOTATION] = kind
    else:
        ann.pop(c.OWNER_REFERENCES_ANNOTATION, None)
        ann.pop(c.OWNER_SET_KIND_ANNOTATION, None)
    hm["annotations"] = ann
    metadata.ensure_host_metadata(new_h, new_v, ctx, KIND)


def sync_pod(
    vpod: Mapping[str, Any],
    hpod: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
    *,
    namespace_labels: Mapping[str, str] | None = None,
) -> SyncResult:
    """The diff of §3.9(g) plus status back-sync (§3.10): minimal patches for both sides."""
    merged = apply_directions(vpod, hpod, virtual_old, host_old, FIELDS, ctx)
    new_v, new_h = merged.virtual, merged.host
    deletes = deletion_decision(vpod, hpod)
    violation = None if deletes else security_violation(vpod, ctx)
    if violation is not None:
        # §3.9(c): a pod that violates the standard now (a privileged `kubectl debug` container,
        # a stricter level) sends nothing more to the host; its host status still comes back
        status = new_v.get("status")
        new_v = {k: v for k, v in vpod.items() if k != "status"}
        if status is not None:
            new_v["status"] = status
        new_h = dict(hpod)
    else:
        _host_pod_metadata(new_h, new_v, ctx, namespace_labels)
    res = generic.result(vpod, hpod, new_v, new_h)
    res.deletes = deletes
    if violation is not None:
        res.blocked = True
        res.events.append(violation)
    return res
