"""DaemonSet controller: one pod per eligible node (node affinity pinning), rolling updates, status."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vcluster.controllers.base import (
    EVENT_NORMAL,
    EVENT_WARNING,
    BaseController,
    Expectations,
    adopt,
    annotations_of,
    classify_claims,
    clone,
    compute_hash,
    controller_ref,
    go_status,
    is_deleting,
    key_of,
    labels_of,
    name_of,
    namespace_of,
    owner_reference,
    pod_from_template,
    pod_is_available,
    pod_is_ready,
    release,
    resolve_controller_ref,
    selector_matches,
    split_key,
    typed,
    uid_of,
)
from vcluster.controllers.deployment import scaled_value
from vcluster.controllers.statefulset import revision_data

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

UNIQUE_LABEL = "controller-revision-hash"
TEMPLATE_GENERATION = "pod-template-generation"
DS = ("apps/v1", "daemonsets")
CR = ("apps/v1", "controllerrevisions")

# util.AddOrUpdateDaemonPodTolerations
DAEMON_TOLERATIONS = [
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
]
NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", "NoSchedule")


# --------------------------------------------------------------------------- pure helpers


def daemon_tolerations(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pod spec's tolerations plus the ones every daemon pod gets."""
    tols = [dict(t) for t in spec.get("tolerations") or []]
    extra = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        extra.append(NETWORK_UNAVAILABLE)
    for key, effect in extra:
        tol = {"key": key, "operator": "Exists", "effect": effect}
        if not any(t.get("key") == key and t.get("effect") == effect for t in tols):
            tols.append(tol)
    return tols


def tolerates(tol: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """v1.Toleration.ToleratesTaint."""
    if tol.get("effect") and tol.get("effect") != taint.get("effect"):
        return False
    if tol.get("key") and tol.get("key") != taint.get("key"):
        return False
    op = tol.get("operator") or "Equal"
    if op == "Exists":
        return True
    return op == "Equal" and (tol.get("value") or "") == (taint.get("value") or "")


def _match_requirement(req: Mapping[str, Any], value: str | None) -> bool:
    op = req.get("operator")
    values = req.get("values") or []
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt"):
        try:
            v, ref = int(value or ""), int(values[0])
        except (ValueError, IndexError):
            return False
        return v > ref if op == "Gt" else v < ref
    return False


def node_selector_terms_match(terms: list[Mapping[str, Any]], node: Mapping[str, Any]) -> bool:
    """Required node affinity: any term whose expressions and fields all match."""
    labels = labels_of(node)
    for term in terms:
        exprs = term.get("matchExpressions") or []
        fields = term.get("matchFields") or []
        if not exprs and not fields:
            continue
        ok = all(_match_requirement(r, labels.get(r.get("key", ""))) for r in exprs)
        ok = ok and all(
            _match_requirement(r, name_of(node) if r.get("key") == "metadata.name" else None) for r in fields
        )
        if ok:
            return True
    return False


def node_should_run(node: Mapping[str, Any], pod_spec: Mapping[str, Any]) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (should run, should continue running) — nodeSelector, required node
    affinity and taints (NoSchedule/NoExecute must be tolerated; NoExecute evicts)."""
    labels = labels_of(node)
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False, False
    required = (
        ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms")
    if required and not node_selector_terms_match(required, node):
        return False, False
    tols = daemon_tolerations(pod_spec)
    run, keep = True, True
    for taint in (node.get("spec") or {}).get("taints") or []:
        effect = taint.get("effect")
        if effect not in ("NoSchedule", "NoExecute"):
            continue
        if any(tolerates(t, taint) for t in tols):
            continue
        run = False
        if effect == "NoExecute":
            keep = False
    return run, keep


def pin_to_node(affinity: Mapping[str, Any] | None, node: str) -> dict[str, Any]:
    """util.ReplaceDaemonSetPodNodeNameNodeAffinity."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    aff = clone(affinity or {})
    na = aff.setdefault("nodeAffinity", {})
    req = na.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    req["nodeSelectorTerms"] = [term]
    return aff


def target_node(pod: Mapping[str, Any]) -> str | None:
    """util.GetTargetNodeName: spec.nodeName, else the node pinned by matchFields."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    terms = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms") or []
    for t in terms:
        for f in t.get("matchFields") or []:
            if (
                f.get("key") == "metadata.name"
                and f.get("operator") == "In"
                and len(f.get("values") or []) == 1
            ):
                return f["values"][0]
    return None


def unscheduled_without_node(
    missing: Mapping[str, list[Mapping[str, Any]]],
) -> list[Mapping[str, Any]]:
    """getUnscheduledPodsWithoutNode: of the daemon pods pinned to nodes that do not exist
    (`missing`: node -> pods), those not bound yet — the scheduler never binds them and PodGC only
    collects bound pods. A bound pod on a deleted node is left to PodGC (quarantine, Failed with
    DisruptionTarget, forced delete), as kube-controller-manager 1.32 does."""
    return [
        p
        for pods in missing.values()
        for p in pods
        if not (p.get("spec") or {}).get("nodeName") and not is_deleting(p)
    ]


# --------------------------------------------------------------------------- controller


class DaemonSetController(BaseController):
    """pkg/controller/daemon (RollingUpdate with maxUnavailable; OnDelete)."""

    name = "daemonset"
    component = "daemonset-controller"

    def __init__(self, client: Client, informers: SharedInformers, **options: Any) -> None:
        super().__init__(client, informers, **options)
        self.expectations = Expectations()
        self.ds_inf = informers.informer(*DS)
        self.pod_inf = informers.informer("v1", "pods")
        self.node_inf = informers.informer("v1", "nodes")
        self.cr_inf = informers.informer(*CR)
        self.ds_inf.add_handler(self._on_ds)
        self.pod_inf.add_handler(self._on_pod)
        self.node_inf.add_handler(self._on_node)

    def _lookup(self, ns: str, name: str) -> Mapping[str, Any] | None:
        return self.ds_inf.get(name, ns)

    def _on_ds(self, event: str, obj: dict, old: dict | None) -> None:
        if event == "delete":
            self.expectations.delete(key_of(obj))
        self.enqueue(obj)

    def _on_node(self, event: str, obj: dict, old: dict | None) -> None:
        if old is not None and event == "update":
            same = labels_of(old) == labels_of(obj) and (old.get("spec") or {}).get("taints") == (
                obj.get("spec") or {}
            ).get("taints")
            if same:
                return
        for ds in self.ds_inf.list():
            self.enqueue(ds)

    def _on_pod(self, event: str, obj: dict, old: dict | None) -> None:
        ds = resolve_controller_ref(obj, "DaemonSet", self._lookup)
        if ds is None:
            if controller_ref(obj) is None and event != "delete":
                for d in self.ds_inf.list(namespace_of(obj)):
                    if selector_matches((d.get("spec") or {}).get("selector"), labels_of(obj)):
                        self.enqueue(d)
            return
        if event == "add" and not is_deleting(obj):
            self.expectations.creation_observed(key_of(ds))
        elif event == "delete" or (is_deleting(obj) and (old is None or not is_deleting(old))):
            self.expectations.deletion_observed(key_of(ds), key_of(obj))
        self.enqueue(ds)
        mrs = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if old is not None and mrs > 0 and not pod_is_ready(old) and pod_is_ready(obj):
            self.enqueue_after(ds, mrs + 1)

    def _event(self, ds: Mapping[str, Any], etype: str, reason: str, message: str) -> None:
        self.recorder.event(ds, etype, reason, message, kind="DaemonSet", api_version="apps/v1")

    # ------------------------------------------------------------------ sync

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.ds_inf.get(name, ns)
        if cached is None:
            self.expectations.delete(key)
            return
        ds = clone(cached)
        spec = ds.setdefault("spec", {})
        pods = await self._claim_pods(ds)
        cur_hash = await self._construct_history(ds)
        if is_deleting(ds):
            await self._update_status(ds, pods, cur_hash)
            return
        if self.expectations.satisfied(key):
            await self._manage(ds, pods, cur_hash)
            pods = [p for p in self.pod_inf.list(ns) if (controller_ref(p) or {}).get("uid") == uid_of(ds)]
        await self._update_status(ds, pods, cur_hash)
        mrs = int(spec.get("minReadySeconds") or 0)
        now = self.now()
        if mrs > 0 and any(pod_is_ready(p) and not pod_is_available(p, mrs, now) for p in pods):
            self.queue.add_after(key, mrs)

    async def _claim_pods(self, ds: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        from vcluster.client import ApiError

        keep, to_adopt, to_release = classify_claims(
            ds, ds["spec"].get("selector"), self.pod_inf.list(namespace_of(ds))
        )
        ref = owner_reference(ds, "DaemonSet", "apps/v1")
        for pod in to_adopt:
            try:
                keep.append(await adopt(self.client, "v1", "pods", pod, ref))
            except ApiError as e:
                if not (e.not_found or e.invalid):
                    raise
        for pod in to_release:
            await release(self.client, "v1", "pods", pod, uid_of(ds))
        return keep

    async def _construct_history(self, ds: dict[str, Any]) -> str:
        """constructHistory/snapshot: the current ControllerRevision `<ds>-<hash>`; returns the hash."""
        from vcluster.client import ApiError

        ns = namespace_of(ds)
        data = revision_data(ds["spec"].get("template"))
        mine = [r for r in self.cr_inf.list(ns) if (controller_ref(r) or {}).get("uid") == uid_of(ds)]
        cur = [r for r in mine if r.get("data") == data]
        old = [r for r in mine if r.get("data") != data]
        next_rev = max((int(r.get("revision") or 0) for r in old), default=0) + 1
        if cur:
            c = cur[0]
            if int(c.get("revision") or 0) < next_rev:
                upd = typed(clone(c), "apps/v1", "ControllerRevision")
                upd["revision"] = next_rev
                await self.client.update(*CR, upd, ns)
            h = labels_of(c).get(UNIQUE_LABEL) or name_of(c)
        else:
            collision = (ds.get("status") or {}).get("collisionCount")
            h = compute_hash(ds["spec"].get("template") or {}, collision)
            labels = dict((((ds["spec"].get("template") or {}).get("metadata") or {}).get("labels")) or {})
            labels[UNIQUE_LABEL] = h
            cr = {
                "apiVersion": "apps/v1",
                "kind": "ControllerRevision",
                "metadata": {
                    "name": f"{name_of(ds)}-{h}",
                    "namespace": ns,
                    "labels": labels,
                    "ownerReferences": [owner_reference(ds, "DaemonSet", "apps/v1")],
                },
                "data": data,
                "revision": next_rev,
            }
            if annotations_of(ds):
                cr["metadata"]["annotations"] = dict(annotations_of(ds))
            try:
                await self.client.create(*CR, cr, ns)
            except ApiError as e:
                if not e.already_exists:
                    raise
                existing = await self.client.get(*CR, cr["metadata"]["name"], ns)
                if existing.get("data") != data:
                    ds.setdefault("status", {})["collisionCount"] = int(collision or 0) + 1
                    await self.client.update(*DS, typed(ds, "apps/v1", "DaemonSet"), ns, subresource="status")
                    raise
        # truncate history
        limit = ds["spec"].get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        live = {labels_of(p).get(UNIQUE_LABEL) for p in self.pod_inf.list(ns)} | {h}
        stale = sorted(
            (r for r in old if (labels_of(r).get(UNIQUE_LABEL) or name_of(r)) not in live),
            key=lambda r: int(r.get("revision") or 0),
        )
        for r in stale[: max(len(stale) - limit, 0)]:
            try:
                await self.client.delete(*CR, name_of(r), ns)
            except ApiError as e:
                if not e.not_found:
                    raise
        return h

    def _node_pods(self, pods: list[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
        out: dict[str, list[Mapping[str, Any]]] = {}
        for p in pods:
            node = target_node(p)
            if node is not None:
                out.setdefault(node, []).append(p)
        return out

    async def _manage(self, ds: dict[str, Any], pods: list[Mapping[str, Any]], h: str) -> None:
        """manage + rollingUpdate: create missing daemon pods, delete extra/failed/outdated ones."""
        spec = ds["spec"]
        tmpl_spec = (spec.get("template") or {}).get("spec") or {}
        node_pods = self._node_pods(pods)
        to_create: list[str] = []
        to_delete: list[Mapping[str, Any]] = []
        for node in self.node_inf.list():
            nname = name_of(node)
            run, keep = node_should_run(node, tmpl_spec)
            existing = [p for p in node_pods.pop(nname, []) if not is_deleting(p)]
            if run and not existing:
                to_create.append(nname)
            elif keep and existing:
                failed = [p for p in existing if (p.get("status") or {}).get("phase") == "Failed"]
                for p in failed:
                    self._event(
                        ds,
                        EVENT_WARNING,
                        "FailedDaemonPod",
                        f"Found failed daemon pod {namespace_of(p)}/{name_of(p)} on node {nname}, "
                        "will try to kill it",
                    )
                to_delete.extend(failed)
                alive = [p for p in existing if p not in failed]
                if len(alive) > 1:
                    # keep the oldest
                    alive.sort(
                        key=lambda p: ((p.get("metadata") or {}).get("creationTimestamp") or "", name_of(p))
                    )
                    to_delete.extend(alive[1:])
            elif not keep and existing:
                to_delete.extend(existing)
        to_delete.extend(unscheduled_without_node(node_pods))
        to_delete.extend(await self._rolling_candidates(ds, pods, h, to_delete))
        await self._sync_nodes(ds, to_create, to_delete, h)

    async def _rolling_candidates(
        self, ds: Mapping[str, Any], pods: list[Mapping[str, Any]], h: str, already: list[Mapping[str, Any]]
    ) -> list[Mapping[str, Any]]:
        strategy = ds["spec"].get("updateStrategy") or {}
        if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
            return []
        gone = {uid_of(p) for p in already}
        live = [p for p in pods if not is_deleting(p) and uid_of(p) not in gone]
        desired = sum(
            1
            for n in self.node_inf.list()
            if node_should_run(n, (ds["spec"].get("template") or {}).get("spec") or {})[0]
        )
        max_unavail = scaled_value(
            (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1), desired, True
        )
        max_unavail = max(max_unavail, 1) if desired else 0
        mrs = int(ds["spec"].get("minReadySeconds") or 0)
        now = self.now()
        old = [p for p in live if labels_of(p).get(UNIQUE_LABEL) != h]
        if not old:
            return []
        unavailable = sum(1 for p in live if not pod_is_available(p, mrs, now)) + sum(
            1 for p in pods if is_deleting(p)
        )
        out = [p for p in old if not pod_is_available(p, mrs, now)]  # old unavailable pods go first, free
        budget = max_unavail - unavailable
        for p in old:
            if budget <= 0:
                break
            if p in out:
                continue
            out.append(p)
            budget -= 1
        return out

    async def _sync_nodes(
        self, ds: Mapping[str, Any], nodes: list[str], victims: list[Mapping[str, Any]], h: str
    ) -> None:
        from vcluster.client import ApiError

        key = key_of(ds)
        self.expectations.expect_deletions(key, [key_of(p) for p in victims])
        self.expectations.expect(key, adds=len(nodes), dels=len(victims))
        template = clone(ds["spec"].get("template") or {})
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {
            **(tmeta.get("labels") or {}),
            TEMPLATE_GENERATION: str(ds["metadata"].get("generation") or 1),
            UNIQUE_LABEL: h,
        }
        tspec = template.setdefault("spec", {})
        tspec["tolerations"] = daemon_tolerations(tspec)
        ref = owner_reference(ds, "DaemonSet", "apps/v1")

        async def create(node: str) -> None:
            pod = pod_from_template(template, ds, ref)
            pod["spec"]["affinity"] = pin_to_node(pod["spec"].get("affinity"), node)
            try:
                created = await self.client.create("v1", "pods", pod, namespace_of(ds))
            except ApiError as e:
                self.expectations.creation_observed(key)
                self._event(ds, EVENT_WARNING, "FailedCreate", f"Error creating: {e.message}")
                raise
            self._event(ds, EVENT_NORMAL, "SuccessfulCreate", f"Created pod: {name_of(created)}")

        async def delete(pod: Mapping[str, Any]) -> None:
            try:
                await self.client.delete("v1", "pods", name_of(pod), namespace_of(pod))
            except ApiError as e:
                self.expectations.deletion_observed(key, key_of(pod))
                if e.not_found:
                    return
                self._event(ds, EVENT_WARNING, "FailedDelete", f"Error deleting: {e.message}")
                raise
            self._event(ds, EVENT_NORMAL, "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")

        results = await asyncio.gather(
            *(create(n) for n in nodes), *(delete(p) for p in victims), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    async def _update_status(self, ds: dict[str, Any], pods: list[Mapping[str, Any]], h: str) -> None:
        tmpl_spec = (ds["spec"].get("template") or {}).get("spec") or {}
        node_pods = self._node_pods([p for p in pods if not is_deleting(p)])
        mrs = int(ds["spec"].get("minReadySeconds") or 0)
        now = self.now()
        desired = current = misscheduled = ready = available = updated = 0
        for node in self.node_inf.list():
            run, _ = node_should_run(node, tmpl_spec)
            ps = node_pods.get(name_of(node), [])
            scheduled = bool(ps)
            if run:
                desired += 1
                if scheduled:
                    current += 1
                    p = sorted(ps, key=lambda x: (x.get("metadata") or {}).get("creationTimestamp") or "")[0]
                    if pod_is_ready(p):
                        ready += 1
                        if pod_is_available(p, mrs, now):
                            available += 1
                    if labels_of(p).get(UNIQUE_LABEL) == h:
                        updated += 1
            elif scheduled:
                misscheduled += 1
        old = ds.get("status") or {}
        status: dict[str, Any] = {
            "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled,
            "desiredNumberScheduled": desired,
            "numberReady": ready,
            "observedGeneration": int(ds["metadata"].get("generation") or 0),
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberUnavailable": max(desired - available, 0),
        }
        if old.get("collisionCount") is not None:
            status["collisionCount"] = old["collisionCount"]
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        go_status(status, "apps", "DaemonSet")

        def norm(s: Mapping[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in s.items() if v not in (None, 0)}

        if norm(old) == norm(status):
            return
        ds["status"] = status
        await self.client.update(
            *DS, typed(ds, "apps/v1", "DaemonSet"), namespace_of(ds), subresource="status"
        )
