"""StatefulSet controller: ordinal pods, ControllerRevisions, PVCs, ordered/parallel scaling, rollouts."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vcluster.client import ApiError, RetryLater
from vcluster.controllers.base import (
    EVENT_NORMAL,
    EVENT_WARNING,
    BaseController,
    adopt,
    canonical_json,
    classify_claims,
    clone,
    controller_ref,
    fnv32,
    go_status,
    is_deleting,
    labels_of,
    name_of,
    namespace_of,
    owner_reference,
    pod_is_available,
    pod_is_ready,
    release,
    resolve_controller_ref,
    safe_encode_string,
    selector_matches,
    split_key,
    typed,
    uid_of,
)

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"
STS = ("apps/v1", "statefulsets")
CR = ("apps/v1", "controllerrevisions")


# --------------------------------------------------------------------------- pure helpers


def revision_data(template: Mapping[str, Any] | None) -> dict[str, Any]:
    """statefulset getPatch: the template as a replace patch of spec.template."""
    t = clone(template or {})
    t["$patch"] = "replace"
    return {"spec": {"template": t}}


def hash_revision(data: Mapping[str, Any], collision_count: int | None) -> str:
    """history.HashControllerRevision: fnv32 of the data (+ the collision count in decimal)."""
    h = fnv32(canonical_json(data))
    if collision_count is not None:
        h = fnv32(str(collision_count).encode(), h)
    return safe_encode_string(str(h))


def revision_name(parent: str, h: str) -> str:
    """history.ControllerRevisionName."""
    return f"{parent[:223]}-{h}"


def ordinal_of(sts_name: str, pod: Mapping[str, Any]) -> int | None:
    """getOrdinal: the ordinal of `<sts>-<n>` pods, None for other names."""
    name = name_of(pod)
    prefix = f"{sts_name}-"
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix) :]
    if not rest.isdigit() or (len(rest) > 1 and rest[0] == "0"):
        return None
    return int(rest)


def is_running_and_ready(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and pod_is_ready(pod)


def is_failed(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Failed"


def is_succeeded(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Succeeded"


def is_healthy(pod: Mapping[str, Any]) -> bool:
    return is_running_and_ready(pod) and not is_deleting(pod)


def claim_name(claim: Mapping[str, Any], sts: Mapping[str, Any], ordinal: int) -> str:
    return f"{name_of(claim)}-{name_of(sts)}-{ordinal}"


RETAIN = "Retain"
DELETE = "Delete"
STS_GVK = ("apps/v1", "StatefulSet")
POD_GVK = ("v1", "Pod")
Ref = dict[str, Any]


def retention_policy(sts: Mapping[str, Any]) -> tuple[str, str]:
    """getPersistentVolumeClaimRetentionPolicy: (whenScaled, whenDeleted), Retain when unset."""
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenScaled") or RETAIN, policy.get("whenDeleted") or RETAIN


def _matches_ref(ref: Mapping[str, Any], obj: Mapping[str, Any], gvk: tuple[str, str]) -> bool:
    """matchesRef: same apiVersion, kind and name (the UID is not compared)."""
    return (ref.get("apiVersion"), ref.get("kind")) == gvk and ref.get("name") == name_of(obj)


def _refs(claim: Mapping[str, Any]) -> list[Ref]:
    return list((claim.get("metadata") or {}).get("ownerReferences") or [])


def _has_owner(claim: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    return any(r.get("uid") == uid_of(owner) for r in _refs(claim))


def _has_stale_ref(claim: Mapping[str, Any], obj: Mapping[str, Any], gvk: tuple[str, str]) -> bool:
    """hasStaleOwnerRef: the first reference naming `obj` carries another UID."""
    ref = next((r for r in _refs(claim) if _matches_ref(r, obj, gvk)), None)
    return ref is not None and ref.get("uid") != uid_of(obj)


def _unexpected_controller(claim: Mapping[str, Any], sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """hasUnexpectedController: with a Delete policy, a controller other than this set or pod
    (or a reference to an earlier set or pod of the same name)."""
    if retention_policy(sts) == (RETAIN, RETAIN):
        return False
    for ref in _refs(claim):
        for owner, gvk in ((sts, STS_GVK), (pod, POD_GVK)):
            if _matches_ref(ref, owner, gvk):
                if ref.get("uid") != uid_of(owner):
                    return True
                break
        else:
            if ref.get("controller"):
                return True
    return False


def _wanted_owners(sts: Mapping[str, Any], pod: Mapping[str, Any], in_range: bool) -> list[tuple[Any, Any]]:
    """The owners the policy gives a claim: the pod once scaled down if whenScaled is Delete, else
    the set if whenDeleted is Delete."""
    when_scaled, when_deleted = retention_policy(sts)
    out: list[tuple[Any, Any]] = []
    if when_deleted == DELETE and (in_range or when_scaled != DELETE):
        out.append((sts, STS_GVK))
    if when_scaled == DELETE and not in_range:
        out.append((pod, POD_GVK))
    return out


def claim_owner_up_to_date(
    claim: Mapping[str, Any], sts: Mapping[str, Any], pod: Mapping[str, Any], in_range: bool
) -> bool:
    """isClaimOwnerUpToDate: whether the claim's owner references follow the set's retention
    policy (claims with stale references or another controller are left alone)."""
    if _has_stale_ref(claim, sts, STS_GVK) or _has_stale_ref(claim, pod, POD_GVK):
        return True
    if _unexpected_controller(claim, sts, pod):
        return not (_has_owner(claim, sts) or _has_owner(claim, pod))
    if any(r.get("uid") in (uid_of(sts), uid_of(pod)) and not r.get("controller") for r in _refs(claim)):
        return False
    wanted = {uid_of(o) for o, _ in _wanted_owners(sts, pod, in_range)}
    return all(_has_owner(claim, o) == (uid_of(o) in wanted) for o in (sts, pod))


def claim_owner_refs(
    claim: Mapping[str, Any], sts: Mapping[str, Any], pod: Mapping[str, Any], in_range: bool
) -> list[Ref]:
    """updateClaimOwnerRefForSetAndPod: the claim's references with those to the set and pod
    replaced by the controller references the policy wants (none beside another controller)."""
    unexpected = _unexpected_controller(claim, sts, pod)
    refs = [r for r in _refs(claim) if not (_matches_ref(r, sts, STS_GVK) or _matches_ref(r, pod, POD_GVK))]
    if unexpected:
        return refs
    for owner, (api_version, kind) in _wanted_owners(sts, pod, in_range):
        if not any(r.get("uid") == uid_of(owner) for r in refs):
            refs.append(owner_reference(owner, kind, api_version))
    return refs


def new_sts_pod(
    sts: Mapping[str, Any], template: Mapping[str, Any] | None, ordinal: int, revision: str
) -> dict[str, Any]:
    """newVersionedStatefulSetPod: identity labels, hostname/subdomain, claim volumes."""
    name = f"{name_of(sts)}-{ordinal}"
    tmpl = clone(template or {})
    tmeta = tmpl.get("metadata") or {}
    spec = tmpl.get("spec") or {}
    labels = dict(tmeta.get("labels") or {})
    labels[POD_NAME_LABEL] = name
    labels[POD_INDEX_LABEL] = str(ordinal)
    labels[REVISION_LABEL] = revision
    md: dict[str, Any] = {
        "name": name,
        "namespace": namespace_of(sts),
        "labels": labels,
        "ownerReferences": [owner_reference(sts, "StatefulSet", "apps/v1")],
    }
    if tmeta.get("annotations"):
        md["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        md["finalizers"] = list(tmeta["finalizers"])
    spec["hostname"] = name
    service = (sts.get("spec") or {}).get("serviceName")
    if service:
        spec["subdomain"] = service
    claims = (sts.get("spec") or {}).get("volumeClaimTemplates") or []
    if claims:
        vols = {v.get("name"): v for v in spec.get("volumes") or []}
        for c in claims:
            vols[name_of(c)] = {
                "name": name_of(c),
                "persistentVolumeClaim": {"claimName": claim_name(c, sts, ordinal)},
            }
        spec["volumes"] = list(vols.values())
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}


def compute_status(
    pods: list[Mapping[str, Any]], min_ready: int, current: str, update: str, now: datetime
) -> dict[str, int]:
    st = {
        "replicas": 0,
        "readyReplicas": 0,
        "availableReplicas": 0,
        "currentReplicas": 0,
        "updatedReplicas": 0,
    }
    for p in pods:
        if (p.get("status") or {}).get("phase"):
            st["replicas"] += 1
        if is_running_and_ready(p):
            st["readyReplicas"] += 1
            if pod_is_available(p, min_ready, now):
                st["availableReplicas"] += 1
        if not is_deleting(p):
            rev = labels_of(p).get(REVISION_LABEL)
            if rev == current:
                st["currentReplicas"] += 1
            if rev == update:
                st["updatedReplicas"] += 1
    return st


# --------------------------------------------------------------------------- controller


class StatefulSetController(BaseController):
    """pkg/controller/statefulset (OrderedReady/Parallel, RollingUpdate with partition, OnDelete)."""

    name = "statefulset"
    component = "statefulset-controller"

    def __init__(self, client: Client, informers: SharedInformers, **options: Any) -> None:
        super().__init__(client, informers, **options)
        self.sts_inf = informers.informer(*STS)
        self.pod_inf = informers.informer("v1", "pods")
        self.cr_inf = informers.informer(*CR)
        self.pvc_inf = informers.informer("v1", "persistentvolumeclaims")
        self.sts_inf.add_handler(lambda e, o, old: self.enqueue(o))
        self.pod_inf.add_handler(self._on_pod)
        self.cr_inf.add_handler(self._on_owned)

    def _lookup(self, ns: str, name: str) -> Mapping[str, Any] | None:
        return self.sts_inf.get(name, ns)

    def _on_owned(self, event: str, obj: dict, old: dict | None) -> None:
        owner = resolve_controller_ref(obj, "StatefulSet", self._lookup)
        if owner is not None:
            self.enqueue(owner)

    def _on_pod(self, event: str, obj: dict, old: dict | None) -> None:
        owner = resolve_controller_ref(obj, "StatefulSet", self._lookup)
        if owner is not None:
            self.enqueue(owner)
            mrs = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
            if old is not None and mrs > 0 and not pod_is_ready(old) and pod_is_ready(obj):
                self.enqueue_after(owner, mrs + 1)
        elif controller_ref(obj) is None and event != "delete":
            for sts in self.sts_inf.list(namespace_of(obj)):
                if selector_matches((sts.get("spec") or {}).get("selector"), labels_of(obj)):
                    self.enqueue(sts)
        if old is not None and controller_ref(old) != controller_ref(obj):
            prev = resolve_controller_ref(old, "StatefulSet", self._lookup)
            if prev is not None:
                self.enqueue(prev)

    def _event(self, sts: Mapping[str, Any], etype: str, reason: str, message: str) -> None:
        self.recorder.event(sts, etype, reason, message, kind="StatefulSet", api_version="apps/v1")

    # ------------------------------------------------------------------ sync

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.sts_inf.get(name, ns)
        if cached is None:
            return
        sts = clone(cached)
        spec = sts.setdefault("spec", {})
        pods = await self._claim_pods(sts)
        revisions = [r for r in self.cr_inf.list(ns) if (controller_ref(r) or {}).get("uid") == uid_of(sts)]
        current_rev, update_rev, collision = await self._revisions(sts, revisions)
        if is_deleting(sts):
            return
        status_pods = await self._update_pods(sts, pods, current_rev, update_rev)
        await self._update_status(sts, status_pods, current_rev, update_rev, collision)
        await self._truncate_history(sts, status_pods, current_rev, update_rev)
        mrs = int(spec.get("minReadySeconds") or 0)
        if mrs > 0 and any(
            is_running_and_ready(p) and not pod_is_available(p, mrs, self.now()) for p in status_pods
        ):
            self.queue.add_after(key, mrs)

    async def _claim_pods(self, sts: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        ns = namespace_of(sts)
        candidates = self.pod_inf.list(ns)
        keep, to_adopt, to_release = classify_claims(sts, sts["spec"].get("selector"), candidates)
        ref = owner_reference(sts, "StatefulSet", "apps/v1")
        for pod in to_adopt:
            if ordinal_of(name_of(sts), pod) is None:
                continue
            try:
                keep.append(await adopt(self.client, "v1", "pods", pod, ref))
            except ApiError as e:
                if not (e.not_found or e.invalid):
                    raise
        for pod in to_release:
            await release(self.client, "v1", "pods", pod, uid_of(sts))
        return keep

    async def _revisions(
        self, sts: dict[str, Any], revisions: list[Mapping[str, Any]]
    ) -> tuple[str, str, int | None]:
        """getStatefulSetRevisions: (current revision name, update revision name, collisionCount)."""
        status = sts.get("status") or {}
        collision = status.get("collisionCount")
        data = revision_data(sts["spec"].get("template"))
        revisions = sorted(revisions, key=lambda r: (int(r.get("revision") or 0), name_of(r)))
        latest = int(revisions[-1].get("revision") or 0) if revisions else 0
        equal = [r for r in revisions if r.get("data") == data]
        update: Mapping[str, Any] | None = None
        if equal:
            update = equal[-1]
            if int(update.get("revision") or 0) != latest:
                upd = typed(clone(update), "apps/v1", "ControllerRevision")
                upd["revision"] = latest + 1
                update = await self.client.update(*CR, upd, namespace_of(sts))
        else:
            while True:
                h = hash_revision(data, collision)
                labels = dict(((sts["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {})
                labels[REVISION_LABEL] = h
                cr = {
                    "apiVersion": "apps/v1",
                    "kind": "ControllerRevision",
                    "metadata": {
                        "name": revision_name(name_of(sts), h),
                        "namespace": namespace_of(sts),
                        "labels": labels,
                        "ownerReferences": [owner_reference(sts, "StatefulSet", "apps/v1")],
                    },
                    "data": data,
                    "revision": latest + 1,
                }
                try:
                    update = await self.client.create(*CR, cr, namespace_of(sts))
                    break
                except ApiError as e:
                    if not e.already_exists:
                        raise
                    existing = await self.client.get(*CR, cr["metadata"]["name"], namespace_of(sts))
                    if existing.get("data") == data and (controller_ref(existing) or {}).get("uid") == uid_of(
                        sts
                    ):
                        update = existing
                        break
                    collision = int(collision or 0) + 1
        assert update is not None
        update_name = name_of(update)
        current_name = status.get("currentRevision") or ""
        if not current_name or not any(name_of(r) == current_name for r in [*revisions, update]):
            current_name = update_name
        return current_name, update_name, collision

    def _revision_template(self, sts: Mapping[str, Any], rev_name: str) -> Mapping[str, Any] | None:
        cr = self.cr_inf.get(rev_name, namespace_of(sts))
        if cr is None:
            return (sts.get("spec") or {}).get("template")
        t = clone(((cr.get("data") or {}).get("spec") or {}).get("template") or {})
        t.pop("$patch", None)
        return t

    async def _create_pod(self, sts: Mapping[str, Any], ordinal: int, revision: str, template: Any) -> None:
        pod = new_sts_pod(sts, template, ordinal, revision)
        await self._create_claims(sts, ordinal, name_of(pod))
        try:
            created = await self.client.create("v1", "pods", pod, namespace_of(sts))
        except ApiError as e:
            if e.already_exists:
                return
            self._event(
                sts,
                EVENT_WARNING,
                "FailedCreate",
                f"create Pod {name_of(pod)} in StatefulSet {name_of(sts)} failed error: {e.message}",
            )
            raise
        await self._sync_claim_owners(sts, created, in_range=True)
        self._event(
            sts,
            EVENT_NORMAL,
            "SuccessfulCreate",
            f"create Pod {name_of(pod)} in StatefulSet {name_of(sts)} successful",
        )

    async def _sync_claim_owners(
        self, sts: Mapping[str, Any], pod: Mapping[str, Any], in_range: bool
    ) -> None:
        """UpdatePodClaimForRetentionPolicy: give the pod's claims the owner references of the
        set's persistentVolumeClaimRetentionPolicy (claims not made yet are left for later)."""
        ns, ordinal = namespace_of(sts), ordinal_of(name_of(sts), pod)
        if ordinal is None:
            return
        for tmpl in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            claim = self.pvc_inf.get(claim_name(tmpl, sts, ordinal), ns)
            if claim is None or claim_owner_up_to_date(claim, sts, pod, in_range):
                continue
            if _unexpected_controller(claim, sts, pod):
                self._event(
                    sts,
                    EVENT_WARNING,
                    "ConflictingController",
                    f"PersistentVolumeClaim {name_of(claim)} has a conflicting OwnerReference that acts "
                    "as a manging controller, the retention policy is ignored for this claim",
                )
            updated = typed(clone(claim), "v1", "PersistentVolumeClaim")
            refs = claim_owner_refs(claim, sts, pod, in_range)
            if refs:
                updated["metadata"]["ownerReferences"] = refs
            else:
                updated["metadata"].pop("ownerReferences", None)
            try:
                await self.client.update("v1", "persistentvolumeclaims", updated, ns)
            except ApiError as e:
                if not e.not_found:
                    raise

    async def _create_claims(self, sts: Mapping[str, Any], ordinal: int, pod_name: str) -> None:
        ns = namespace_of(sts)
        for tmpl in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            cname = claim_name(tmpl, sts, ordinal)
            existing = self.pvc_inf.get(cname, ns)
            if existing is not None:
                if is_deleting(existing):
                    # createPersistentVolumeClaims: the pod waits until the claim is gone and made anew.
                    raise RetryLater(f"pvc {cname} is being deleted")
                continue
            claim = clone(tmpl)
            md = claim.setdefault("metadata", {})
            md["name"] = cname
            md["namespace"] = ns
            sel = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            md["labels"] = {**(md.get("labels") or {}), **sel}
            policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
            if policy.get("whenDeleted") == "Delete":
                md["ownerReferences"] = [owner_reference(sts, "StatefulSet", "apps/v1", controller=True)]
            claim.pop("status", None)
            claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
            try:
                await self.client.create("v1", "persistentvolumeclaims", claim, ns)
            except ApiError as e:
                if e.already_exists:
                    continue
                self._event(
                    sts,
                    EVENT_WARNING,
                    "FailedCreate",
                    f"create Claim {cname} for Pod {pod_name} in StatefulSet {name_of(sts)} "
                    f"failed error: {e.message}",
                )
                raise
            self._event(
                sts,
                EVENT_NORMAL,
                "SuccessfulCreate",
                f"create Claim {cname} Pod {pod_name} in StatefulSet {name_of(sts)} success",
            )

    async def _delete_pod(self, sts: Mapping[str, Any], pod: Mapping[str, Any]) -> None:
        try:
            await self.client.delete("v1", "pods", name_of(pod), namespace_of(pod))
        except ApiError as e:
            if e.not_found:
                return
            self._event(
                sts,
                EVENT_WARNING,
                "FailedDelete",
                f"delete Pod {name_of(pod)} in StatefulSet {name_of(sts)} failed error: {e.message}",
            )
            raise
        self._event(
            sts,
            EVENT_NORMAL,
            "SuccessfulDelete",
            f"delete Pod {name_of(pod)} in StatefulSet {name_of(sts)} successful",
        )

    async def _update_pods(
        self, sts: dict[str, Any], pods: list[Mapping[str, Any]], current_rev: str, update_rev: str
    ) -> list[Mapping[str, Any]]:
        """updateStatefulSet: create/replace missing or failed pods in order, scale down condemned
        ones from the highest ordinal, then roll outdated pods from the highest ordinal."""
        spec = sts["spec"]
        replicas = 1 if spec.get("replicas") is None else int(spec["replicas"])
        start = int((spec.get("ordinals") or {}).get("start") or 0)
        parallel = spec.get("podManagementPolicy") == "Parallel"
        strategy = spec.get("updateStrategy") or {}
        rolling = (strategy.get("type") or "RollingUpdate") == "RollingUpdate"
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.now()
        by_ord: dict[int, Mapping[str, Any]] = {}
        condemned: list[Mapping[str, Any]] = []
        for p in pods:
            o = ordinal_of(name_of(sts), p)
            if o is None:
                continue
            if start <= o < start + replicas:
                by_ord[o] = p
            else:
                condemned.append(p)
        condemned.sort(key=lambda p: -(ordinal_of(name_of(sts), p) or 0))
        current_tmpl = self._revision_template(sts, current_rev)
        update_tmpl = spec.get("template")

        def template_for(o: int) -> tuple[str, Any]:
            if rolling and o < start + partition:
                return current_rev, current_tmpl
            return update_rev, update_tmpl

        result = list(pods)
        # Replace failed/succeeded pods; create missing ones.
        for o in range(start, start + replicas):
            p = by_ord.get(o)
            if p is not None and (is_failed(p) or is_succeeded(p)) and not is_deleting(p):
                await self._delete_pod(sts, p)
                if not parallel:
                    return result
                continue
            if p is None:
                rev, tmpl = template_for(o)
                await self._create_pod(sts, o, rev, tmpl)
                if not parallel:
                    return result
                continue
            if not parallel:
                if is_deleting(p) or not is_running_and_ready(p):
                    return result
                if min_ready and not pod_is_available(p, min_ready, now):
                    return result
            await self._sync_claim_owners(sts, p, in_range=True)
        for p in condemned:
            await self._sync_claim_owners(sts, p, in_range=False)
        # Scale down: highest ordinal first; one at a time unless Parallel.
        if condemned:
            if parallel:
                await asyncio.gather(*(self._delete_pod(sts, p) for p in condemned if not is_deleting(p)))
                return result
            p = condemned[0]
            if is_deleting(p):
                return result
            if not all(is_healthy(q) for q in by_ord.values()):
                return result
            await self._delete_pod(sts, p)
            return result
        # Rolling update in reverse ordinal order (maxUnavailable 1).
        if not rolling:
            return result
        if not all(is_healthy(q) for q in by_ord.values()) or len(by_ord) < replicas:
            return result
        for o in range(start + replicas - 1, start + partition - 1, -1):
            p = by_ord[o]
            if labels_of(p).get(REVISION_LABEL) != update_rev:
                await self._delete_pod(sts, p)
                return result
        return result

    async def _update_status(
        self,
        sts: dict[str, Any],
        pods: list[Mapping[str, Any]],
        current_rev: str,
        update_rev: str,
        collision: int | None,
    ) -> None:
        spec = sts["spec"]
        fresh = [
            p
            for p in self.pod_inf.list(namespace_of(sts))
            if (controller_ref(p) or {}).get("uid") == uid_of(sts)
        ]
        counts = compute_status(
            fresh, int(spec.get("minReadySeconds") or 0), current_rev, update_rev, self.now()
        )
        old = sts.get("status") or {}
        status: dict[str, Any] = {
            "observedGeneration": int(sts["metadata"].get("generation") or 0),
            **counts,
            "currentRevision": current_rev,
            "updateRevision": update_rev,
            "collisionCount": int(collision or 0),
        }
        strategy = (spec.get("updateStrategy") or {}).get("type") or "RollingUpdate"
        replicas = 1 if spec.get("replicas") is None else int(spec["replicas"])
        if (
            strategy == "RollingUpdate"
            and counts["updatedReplicas"] == replicas
            and counts["readyReplicas"] == replicas
            and counts["replicas"] == replicas
        ):
            status["currentReplicas"] = counts["updatedReplicas"]
            status["currentRevision"] = update_rev
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        go_status(status, "apps", "StatefulSet")
        if {k: v for k, v in old.items() if v not in (None, 0)} == {
            k: v for k, v in status.items() if v not in (None, 0)
        }:
            return
        sts["status"] = status
        await self.client.update(
            *STS, typed(sts, "apps/v1", "StatefulSet"), namespace_of(sts), subresource="status"
        )

    async def _truncate_history(
        self, sts: Mapping[str, Any], pods: list[Mapping[str, Any]], current_rev: str, update_rev: str
    ) -> None:
        limit = (sts.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        live = {current_rev, update_rev} | {labels_of(p).get(REVISION_LABEL) for p in pods}
        history = sorted(
            (
                r
                for r in self.cr_inf.list(namespace_of(sts))
                if (controller_ref(r) or {}).get("uid") == uid_of(sts) and name_of(r) not in live
            ),
            key=lambda r: int(r.get("revision") or 0),
        )
        for r in history[: max(len(history) - limit, 0)]:
            try:
                await self.client.delete(*CR, name_of(r), namespace_of(r))
            except ApiError as e:
                if not e.not_found:
                    raise
