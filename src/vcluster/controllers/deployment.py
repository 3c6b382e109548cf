"""Deployment controller: ReplicaSets per pod template, rolling/recreate rollouts, status, history."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from vcluster.controllers.base import (
    EVENT_NORMAL,
    EVENT_WARNING,
    BaseController,
    adopt,
    annotations_of,
    classify_claims,
    clone,
    compute_hash,
    controller_ref,
    fmt_time,
    get_condition,
    go_status,
    is_deleting,
    labels_of,
    name_of,
    namespace_of,
    namespace_terminating,
    owner_reference,
    parse_time,
    release,
    remove_condition,
    resolve_controller_ref,
    selector_matches,
    set_condition,
    split_key,
    typed,
    uid_of,
)

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

POD_TEMPLATE_HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
ANNOTATIONS_TO_SKIP = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
MAX_REV_HISTORY_CHARS = 2000
MAX_INT32 = 2**31 - 1

# Condition reasons (pkg/controller/deployment/util).
REPLICASET_UPDATED = "ReplicaSetUpdated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

RS = ("apps/v1", "replicasets")
RS_TYPE = ("apps/v1", "ReplicaSet")
DEPLOY = ("apps/v1", "deployments")


# --------------------------------------------------------------------------- pure helpers


def scaled_value(v: int | str | None, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int, or 'N%' of total rounded up or down."""
    if v is None:
        return 0
    if isinstance(v, bool):
        raise ValueError(f"invalid value for IntOrString: invalid type: {v!r}")
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.endswith("%"):
        try:
            pct = int(v[:-1])
        except ValueError:
            raise ValueError(f'invalid value for IntOrString: invalid value "{v}"') from None
        x = pct * total / 100
        return math.ceil(x) if round_up else math.floor(x)
    raise ValueError(f'invalid value for IntOrString: invalid value "{v}"')


def spec_replicas(obj: Mapping[str, Any]) -> int:
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def status_int(obj: Mapping[str, Any] | None, field: str) -> int:
    if obj is None:
        return 0
    return int((obj.get("status") or {}).get(field) or 0)


def is_rolling_update(d: Mapping[str, Any]) -> bool:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    return (strategy.get("type") or "RollingUpdate") == "RollingUpdate"


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    """ResolveFenceposts: (surge rounded up, unavailable rounded down); both 0 -> unavailable 1."""
    surge = scaled_value(0 if max_surge is None else max_surge, desired, True)
    unavailable = scaled_value(0 if max_unavailable is None else max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling_params(d: Mapping[str, Any]) -> tuple[Any, Any]:
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    return ru.get("maxSurge"), ru.get("maxUnavailable")


def max_unavailable(d: Mapping[str, Any]) -> int:
    """deploymentutil.MaxUnavailable."""
    replicas = spec_replicas(d)
    if not is_rolling_update(d) or replicas == 0:
        return 0
    _, unavailable = resolve_fenceposts(*_rolling_params(d), replicas)
    return min(unavailable, replicas)


def max_surge(d: Mapping[str, Any]) -> int:
    """deploymentutil.MaxSurge."""
    if not is_rolling_update(d):
        return 0
    surge, _ = resolve_fenceposts(*_rolling_params(d), spec_replicas(d))
    return surge


def replica_count(rss: list[Mapping[str, Any]]) -> int:
    """GetReplicaCountForReplicaSets: sum of spec.replicas."""
    return sum(spec_replicas(rs) for rs in rss if rs is not None)


def actual_replica_count(rss: list[Mapping[str, Any] | None]) -> int:
    return sum(status_int(rs, "replicas") for rs in rss if rs is not None)


def ready_replica_count(rss: list[Mapping[str, Any] | None]) -> int:
    return sum(status_int(rs, "readyReplicas") for rs in rss if rs is not None)


def available_replica_count(rss: list[Mapping[str, Any] | None]) -> int:
    return sum(status_int(rs, "availableReplicas") for rs in rss if rs is not None)


def new_rs_new_replicas(
    d: Mapping[str, Any], all_rss: list[Mapping[str, Any]], new_rs: Mapping[str, Any]
) -> int:
    """NewRSNewReplicas: how far the new ReplicaSet may be scaled up now."""
    replicas = spec_replicas(d)
    if is_rolling_update(d):
        surge = scaled_value(_rolling_params(d)[0], replicas, True)
        current = replica_count(all_rss)
        max_total = replicas + surge
        if current >= max_total:
            return spec_replicas(new_rs)
        scale_up = min(max_total - current, replicas - spec_replicas(new_rs))
        return spec_replicas(new_rs) + scale_up
    return replicas


def _creation_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    return ((obj.get("metadata") or {}).get("creationTimestamp") or "", name_of(obj))


def sort_by_creation(rss: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """controller.ReplicaSetsByCreationTimestamp (oldest first; ties by name)."""
    return sorted(rss, key=_creation_key)


def revision_of(obj: Mapping[str, Any]) -> int:
    try:
        return int(annotations_of(obj).get(REVISION, ""))
    except ValueError:
        return 0


def _strip_none(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _strip_none(x) for k, x in v.items() if x is not None and x != {} and x != []}
    if isinstance(v, list):
        return [_strip_none(x) for x in v]
    return v


def template_without_hash(template: Mapping[str, Any] | None) -> dict[str, Any]:
    t = clone(template or {})
    md = t.setdefault("metadata", {})
    labels = dict(md.get("labels") or {})
    labels.pop(POD_TEMPLATE_HASH, None)
    md["labels"] = labels
    return _strip_none(t)


def equal_ignore_hash(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """EqualIgnoreHash: pod templates equal apart from the pod-template-hash label."""
    return template_without_hash(a) == template_without_hash(b)


def find_new_rs(d: Mapping[str, Any], rss: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """FindNewReplicaSet: the oldest ReplicaSet whose template equals the deployment's."""
    tmpl = (d.get("spec") or {}).get("template")
    for rs in sort_by_creation(rss):
        if equal_ignore_hash((rs.get("spec") or {}).get("template"), tmpl):
            return rs
    return None


def active_rss(rss: list[Mapping[str, Any] | None]) -> list[Mapping[str, Any]]:
    """FilterActiveReplicaSets: spec.replicas > 0."""
    return [rs for rs in rss if rs is not None and spec_replicas(rs) > 0]


def round_half_away(x: float) -> int:
    """integer.RoundToInt32 (math.Round: halves away from zero)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def get_proportion(rs: Mapping[str, Any], d: Mapping[str, Any], to_add: int, added: int) -> int:
    """deploymentutil.GetProportion for proportional scaling."""
    if spec_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    if spec_replicas(d) == 0:
        fraction = -spec_replicas(rs)
    else:
        deployment_replicas = spec_replicas(d) + max_surge(d)
        try:
            annotated = int(annotations_of(rs)[MAX_REPLICAS])
        except (KeyError, ValueError):
            annotated = status_int(d, "replicas")
        if annotated == 0:
            fraction = 0
        else:
            fraction = round_half_away(spec_replicas(rs) * deployment_replicas / annotated) - spec_replicas(
                rs
            )
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def set_replicas_annotations(rs: dict[str, Any], desired: int, maximum: int) -> bool:
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, val in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if ann.get(key) != val:
            ann[key] = val
            changed = True
    return changed


def replicas_annotations_need_update(rs: Mapping[str, Any], desired: int, maximum: int) -> bool:
    ann = annotations_of(rs)
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(maximum)


def set_new_rs_annotations(d: Mapping[str, Any], rs: dict[str, Any], new_revision: str, exists: bool) -> bool:
    """SetNewReplicaSetAnnotations: copy deployment annotations, bump revision (+ history)."""
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for k, v in annotations_of(d).items():
        if k in ANNOTATIONS_TO_SKIP or ann.get(k) == v:
            continue
        ann[k] = v
        changed = True
    had = REVISION in ann
    old_revision = ann.get(REVISION, "")
    try:
        old_int = int(old_revision) if old_revision else 0
    except ValueError:
        return False
    new_int = int(new_revision)
    if old_int < new_int:
        ann[REVISION] = new_revision
        changed = True
    if had and old_int < new_int:
        history = ann.get(REVISION_HISTORY, "")
        olds = history.split(",")
        if not olds[0]:
            ann[REVISION_HISTORY] = old_revision
        else:
            total = len(history) + len(old_revision) + 1
            start = 0
            while total > MAX_REV_HISTORY_CHARS and start < len(olds):
                total -= len(olds[start]) + 1
                start += 1
            if total <= MAX_REV_HISTORY_CHARS:
                ann[REVISION_HISTORY] = ",".join([*olds[start:], old_revision])
    if not exists and set_replicas_annotations(rs, spec_replicas(d), spec_replicas(d) + max_surge(d)):
        changed = True
    return changed


def has_progress_deadline(d: Mapping[str, Any]) -> bool:
    pds = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return pds is not None and pds != MAX_INT32


def new_condition(ctype: str, status: str, reason: str, message: str, now: datetime) -> dict[str, Any]:
    ts = fmt_time(now)
    return {
        "type": ctype,
        "status": status,
        "lastUpdateTime": ts,
        "lastTransitionTime": ts,
        "reason": reason,
        "message": message,
    }


def deployment_complete(d: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    r = spec_replicas(d)
    return (
        int(status.get("updatedReplicas") or 0) == r
        and int(status.get("replicas") or 0) == r
        and int(status.get("availableReplicas") or 0) == r
        and int(status.get("observedGeneration") or 0)
        >= int((d.get("metadata") or {}).get("generation") or 0)
    )


def deployment_progressing(d: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    old = d.get("status") or {}

    def g(s: Mapping[str, Any], f: str) -> int:
        return int(s.get(f) or 0)

    old_old = g(old, "replicas") - g(old, "updatedReplicas")
    new_old = g(new, "replicas") - g(new, "updatedReplicas")
    return (
        g(new, "updatedReplicas") > g(old, "updatedReplicas")
        or new_old < old_old
        or g(new, "readyReplicas") > g(old, "readyReplicas")
        or g(new, "availableReplicas") > g(old, "availableReplicas")
    )


def deployment_timed_out(d: Mapping[str, Any], status: Mapping[str, Any], now: datetime) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, "Progressing")
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    frm = parse_time(cond.get("lastUpdateTime"))
    if frm is None:
        return False
    return frm + timedelta(seconds=int(d["spec"]["progressDeadlineSeconds"])) < now


def calculate_status(
    all_rss: list[Mapping[str, Any] | None],
    new_rs: Mapping[str, Any] | None,
    d: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """calculateStatus: counts from the ReplicaSets plus the Available condition."""
    rss = [rs for rs in all_rss if rs is not None]
    available = available_replica_count(rss)
    unavailable = max(replica_count(rss) - available, 0)
    old = d.get("status") or {}
    status: dict[str, Any] = {
        "observedGeneration": int((d.get("metadata") or {}).get("generation") or 0),
        "replicas": actual_replica_count(rss),
        "updatedReplicas": actual_replica_count([new_rs]),
        "readyReplicas": ready_replica_count(rss),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        status["conditions"] = clone(old["conditions"])
    if available >= spec_replicas(d) - max_unavailable(d):
        cond = new_condition("Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.", now)
    else:
        cond = new_condition(
            "Available", "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.", now
        )
    set_condition(status, cond)
    return status


def _status_equal(a: Mapping[str, Any] | None, b: Mapping[str, Any]) -> bool:
    def norm(s: Mapping[str, Any] | None) -> dict[str, Any]:
        return {k: v for k, v in (s or {}).items() if v not in (None, 0, [], {})}

    return norm(a) == norm(b)


def sort_by_size(rss: list[Mapping[str, Any]], newer_first: bool) -> list[Mapping[str, Any]]:
    """ReplicaSetsBySizeNewer / BySizeOlder: larger first; ties newest (or oldest) first."""
    by_age = sort_by_creation(rss)
    if newer_first:
        by_age = list(reversed(by_age))
    return sorted(by_age, key=lambda rs: -spec_replicas(rs))  # stable: keeps age order for ties


def find_active_or_latest(
    new_rs: Mapping[str, Any] | None, old_rss: list[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    if new_rs is None and not old_rss:
        return None
    olds = list(reversed(sort_by_creation(old_rss)))
    actives = active_rss([*olds, new_rs])
    if not actives:
        return new_rs if new_rs is not None else olds[0]
    if len(actives) == 1:
        return actives[0]
    return None


def is_saturated(d: Mapping[str, Any], rs: Mapping[str, Any] | None) -> bool:
    if rs is None:
        return False
    try:
        desired = int(annotations_of(rs).get(DESIRED_REPLICAS, ""))
    except ValueError:
        return False
    r = spec_replicas(d)
    return spec_replicas(rs) == r and desired == r and status_int(rs, "availableReplicas") == r


# --------------------------------------------------------------------------- controller


class InvalidScaleDown(Exception):
    """A computed scale-down that would raise an old ReplicaSet (its status lags its spec)."""


class DeploymentController(BaseController):
    """pkg/controller/deployment."""

    name = "deployment"
    component = "deployment-controller"

    def __init__(self, client: Client, informers: SharedInformers, **options: Any) -> None:
        super().__init__(client, informers, **options)
        self.d_inf = informers.informer(*DEPLOY)
        self.rs_inf = informers.informer(*RS)
        self.pod_inf = informers.informer("v1", "pods")
        self.d_inf.add_handler(self._on_deployment)
        self.rs_inf.add_handler(self._on_rs)
        self.pod_inf.add_handler(self._on_pod)
        self._written: dict[str, str] = {}

    # ------------------------------------------------------------------ handlers

    def _on_deployment(self, event: str, obj: dict, old: dict | None) -> None:
        self.enqueue(obj)

    def _deployments_for_rs(self, rs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        labels = labels_of(rs)
        return [
            d
            for d in self.d_inf.list(namespace_of(rs))
            if (d.get("spec") or {}).get("selector") and selector_matches(d["spec"]["selector"], labels)
        ]

    def _lookup_deployment(self, ns: str, name: str) -> Mapping[str, Any] | None:
        return self.d_inf.get(name, ns)

    def _on_rs(self, event: str, obj: dict, old: dict | None) -> None:
        ref_owner = resolve_controller_ref(obj, "Deployment", self._lookup_deployment)
        if ref_owner is not None:
            self.enqueue(ref_owner)
        elif controller_ref(obj) is None and event != "delete":
            for d in self._deployments_for_rs(obj):
                self.enqueue(d)
        if old is not None:
            old_owner = resolve_controller_ref(old, "Deployment", self._lookup_deployment)
            if old_owner is not None and (ref_owner is None or uid_of(old_owner) != uid_of(ref_owner)):
                self.enqueue(old_owner)

    def _on_pod(self, event: str, obj: dict, old: dict | None) -> None:
        if event != "delete":
            return
        ref = controller_ref(obj)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_inf.get(ref.get("name", ""), namespace_of(obj))
        if rs is None or uid_of(rs) != ref.get("uid"):
            return
        d = resolve_controller_ref(rs, "Deployment", self._lookup_deployment)
        if d is not None and not is_rolling_update(d):
            self.enqueue(d)

    # ------------------------------------------------------------------ sync

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.d_inf.get(name, ns)
        if cached is None:
            return
        d = clone(cached)
        d.setdefault("spec", {})
        d.setdefault("status", {})
        selector = d["spec"].get("selector")
        if selector == {} or (
            selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions")
        ):
            self._event(
                d,
                EVENT_WARNING,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            )
            if int(d["status"].get("observedGeneration") or 0) < int(d["metadata"].get("generation") or 0):
                d["status"]["observedGeneration"] = d["metadata"]["generation"]
                await self._update_status(d)
            return
        rs_list = await self._rss_for_deployment(d)
        if is_deleting(d):
            await self._sync_status_only(d, rs_list)
            return
        d = await self._check_paused_conditions(d)
        if d["spec"].get("paused"):
            await self._sync(d, rs_list)
            return
        if self._is_scaling_event(d, rs_list):
            await self._sync(d, rs_list)
            return
        if is_rolling_update(d):
            await self._rollout_rolling(d, rs_list)
        else:
            await self._rollout_recreate(d, rs_list)

    def _event(self, d: Mapping[str, Any], etype: str, reason: str, message: str) -> None:
        self.recorder.event(d, etype, reason, message, kind="Deployment", api_version="apps/v1")

    async def _update_status(self, d: dict[str, Any]) -> dict[str, Any]:
        """PUT the status (after persisting the revision annotation, which our status endpoint
        does not take); `d` gets the new resourceVersion."""
        await self._write_revision(d)
        go_status(d["status"], "apps", "Deployment")
        res = await self.client.update(
            *DEPLOY, typed(d, "apps/v1", "Deployment"), namespace_of(d), subresource="status"
        )
        d["metadata"]["resourceVersion"] = res["metadata"]["resourceVersion"]
        return res

    async def _rss_for_deployment(self, d: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """getReplicaSetsForDeployment: claim (adopt/release) and return the owned ReplicaSets."""
        rss = self.rs_inf.list(namespace_of(d))
        keep, to_adopt, to_release = classify_claims(d, d["spec"].get("selector"), rss)
        ref = owner_reference(d, "Deployment", "apps/v1")
        for rs in to_adopt:
            try:
                keep.append(await adopt(self.client, *RS, rs, ref))
            except Exception as e:
                from vcluster.client import ApiError

                if isinstance(e, ApiError) and (e.not_found or e.invalid):
                    continue
                raise
        for rs in to_release:
            await release(self.client, *RS, rs, uid_of(d))
        return keep

    def _pod_map(
        self, d: Mapping[str, Any], rs_list: list[Mapping[str, Any]]
    ) -> dict[str, list[Mapping[str, Any]]]:
        by_uid: dict[str, list[Mapping[str, Any]]] = {uid_of(rs): [] for rs in rs_list}
        selector = d["spec"].get("selector")
        for pod in self.pod_inf.list(namespace_of(d)):
            if not selector_matches(selector, labels_of(pod)):
                continue
            ref = controller_ref(pod)
            if ref is not None and ref.get("uid") in by_uid:
                by_uid[ref["uid"]].append(pod)
        return by_uid

    # ------------------------------------------------------------------ revisions / new RS

    async def _get_all_rss(
        self, d: dict[str, Any], rs_list: list[Mapping[str, Any]], create: bool
    ) -> tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]:
        new_rs = find_new_rs(d, rs_list)
        old_rss = [rs for rs in rs_list if new_rs is None or uid_of(rs) != uid_of(new_rs)]
        new_rs = await self._get_new_rs(d, rs_list, old_rss, create)
        return new_rs, old_rss

    async def _get_new_rs(
        self,
        d: dict[str, Any],
        rs_list: list[Mapping[str, Any]],
        old_rss: list[Mapping[str, Any]],
        create: bool,
    ) -> Mapping[str, Any] | None:
        existing = find_new_rs(d, rs_list)
        max_old = max((revision_of(rs) for rs in old_rss), default=0)
        new_revision = str(max_old + 1)
        now = self.now()
        if existing is not None:
            rs_copy = clone(existing)
            annotations_updated = set_new_rs_annotations(d, rs_copy, new_revision, True)
            mrs = int(d["spec"].get("minReadySeconds") or 0)
            if annotations_updated or int(rs_copy["spec"].get("minReadySeconds") or 0) != mrs:
                rs_copy["spec"]["minReadySeconds"] = mrs
                return await self.client.update(*RS, typed(rs_copy, *RS_TYPE), namespace_of(rs_copy))
            needs_update = self._set_revision(d, annotations_of(rs_copy).get(REVISION, ""))
            if get_condition(d["status"], "Progressing") is None and has_progress_deadline(d):
                msg = f'Found new replica set "{name_of(rs_copy)}"'
                set_condition(d["status"], new_condition("Progressing", "True", FOUND_NEW_RS, msg, now))
                needs_update = True
            if needs_update:
                await self._update_status(d)
            return rs_copy
        if not create:
            return None
        template = clone(d["spec"].get("template") or {})
        collision = (d.get("status") or {}).get("collisionCount")
        h = compute_hash(template, collision)
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), POD_TEMPLATE_HASH: h}
        selector = clone(d["spec"].get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), POD_TEMPLATE_HASH: h}
        new_rs: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{name_of(d)}-{h}",
                "namespace": namespace_of(d),
                "ownerReferences": [owner_reference(d, "Deployment", "apps/v1")],
                "labels": dict(tmeta["labels"]),
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": int(d["spec"].get("minReadySeconds") or 0),
                "selector": selector,
                "template": template,
            },
        }
        new_count = new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        new_rs["spec"]["replicas"] = new_count
        set_new_rs_annotations(d, new_rs, new_revision, False)
        from vcluster.client import ApiError

        already_exists = False
        try:
            created = await self.client.create(*RS, new_rs, namespace_of(d))
        except ApiError as e:
            if e.already_exists:
                cur = self.rs_inf.get(new_rs["metadata"]["name"], namespace_of(d))
                if cur is None:
                    cur = await self.client.get(*RS, new_rs["metadata"]["name"], namespace_of(d))
                ref = controller_ref(cur)
                if (
                    ref is not None
                    and ref.get("uid") == uid_of(d)
                    and equal_ignore_hash(d["spec"].get("template"), (cur.get("spec") or {}).get("template"))
                ):
                    created = cur
                    already_exists = True
                else:
                    d["status"]["collisionCount"] = int(d["status"].get("collisionCount") or 0) + 1
                    await self._update_status(d)
                    raise
            elif namespace_terminating(e):
                raise
            else:
                msg = f'Failed to create new replica set "{new_rs["metadata"]["name"]}": {e.message}'
                if has_progress_deadline(d):
                    set_condition(
                        d["status"], new_condition("Progressing", "False", FAILED_RS_CREATE, msg, now)
                    )
                    with contextlib.suppress(ApiError):
                        await self._update_status(d)
                self._event(d, EVENT_WARNING, FAILED_RS_CREATE, msg)
                raise
        if not already_exists and new_count > 0:
            self._event(
                d,
                EVENT_NORMAL,
                "ScalingReplicaSet",
                f"Scaled up replica set {name_of(created)} from 0 to {new_count}",
            )
        needs_update = self._set_revision(d, new_revision)
        if not already_exists and has_progress_deadline(d):
            msg = f'Created new replica set "{name_of(created)}"'
            set_condition(d["status"], new_condition("Progressing", "True", NEW_RS_CREATED, msg, now))
            needs_update = True
        if needs_update:
            await self._update_status(d)
        return created

    def _set_revision(self, d: dict[str, Any], revision: str) -> bool:
        """SetDeploymentRevision (persisted by _write_revision)."""
        ann = d.setdefault("metadata", {}).setdefault("annotations", {})
        if ann.get(REVISION) == revision:
            return False
        ann[REVISION] = revision
        return True

    async def _write_revision(self, d: dict[str, Any]) -> None:
        """Persist the deployment.kubernetes.io/revision annotation with a metadata patch."""
        rev = annotations_of(d).get(REVISION)
        if rev is None or self._written.get(uid_of(d)) == rev:
            return
        cached = self.d_inf.get(name_of(d), namespace_of(d))
        if cached is not None and annotations_of(cached).get(REVISION) == rev:
            self._written[uid_of(d)] = rev
            return
        patch = {"metadata": {"annotations": {REVISION: rev}}}
        updated = await self.client.patch(*DEPLOY, name_of(d), patch, namespace_of(d))
        d["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]
        self._written[uid_of(d)] = rev
        if len(self._written) > 10000:
            self._written.clear()

    # ------------------------------------------------------------------ scaling

    async def _scale_rs(
        self, rs: Mapping[str, Any], new_scale: int, d: Mapping[str, Any], op: str | None = None
    ) -> tuple[bool, Mapping[str, Any]]:
        """scaleReplicaSet (+ the desired/max replicas annotations)."""
        old_scale = spec_replicas(rs)
        size_changed = old_scale != new_scale
        desired, maximum = spec_replicas(d), spec_replicas(d) + max_surge(d)
        if not size_changed and not replicas_annotations_need_update(rs, desired, maximum):
            return False, rs
        rs_copy = clone(rs)
        rs_copy["spec"]["replicas"] = new_scale
        set_replicas_annotations(rs_copy, desired, maximum)
        updated = await self.client.update(*RS, typed(rs_copy, *RS_TYPE), namespace_of(rs_copy))
        if size_changed:
            if op is None:
                op = "up" if old_scale < new_scale else "down"
            self._event(
                d,
                EVENT_NORMAL,
                "ScalingReplicaSet",
                f"Scaled {op} replica set {name_of(rs)} from {old_scale} to {new_scale}",
            )
        return size_changed, updated

    async def _scale_rs_and_record(
        self, rs: Mapping[str, Any], new_scale: int, d: Mapping[str, Any]
    ) -> tuple[bool, Mapping[str, Any]]:
        if spec_replicas(rs) == new_scale:
            return False, rs
        return await self._scale_rs(rs, new_scale, d)

    def _is_scaling_event(self, d: Mapping[str, Any], rs_list: list[Mapping[str, Any]]) -> bool:
        new_rs = find_new_rs(d, rs_list)
        old_rss = [rs for rs in rs_list if new_rs is None or uid_of(rs) != uid_of(new_rs)]
        for rs in active_rss([*old_rss, new_rs]):
            try:
                desired = int(annotations_of(rs)[DESIRED_REPLICAS])
            except (KeyError, ValueError):
                continue
            if desired != spec_replicas(d):
                return True
        return False

    async def _scale(
        self, d: dict[str, Any], new_rs: Mapping[str, Any] | None, old_rss: list[Mapping[str, Any]]
    ) -> None:
        """scale(): proportional scaling of all active ReplicaSets."""
        target = find_active_or_latest(new_rs, old_rss)
        if target is not None:
            if spec_replicas(target) != spec_replicas(d):
                await self._scale_rs_and_record(target, spec_replicas(d), d)
            return
        if is_saturated(d, new_rs):
            for old in active_rss(old_rss):
                await self._scale_rs_and_record(old, 0, d)
            return
        if not is_rolling_update(d):
            return
        all_rss = active_rss([*old_rss, new_rs])
        all_count = replica_count(all_rss)
        allowed = spec_replicas(d) + max_surge(d) if spec_replicas(d) > 0 else 0
        to_add = allowed - all_count
        op = ""
        if to_add > 0:
            all_rss = sort_by_size(all_rss, newer_first=True)
            op = "up"
        elif to_add < 0:
            all_rss = sort_by_size(all_rss, newer_first=False)
            op = "down"
        added = 0
        sizes: dict[str, int] = {}
        for rs in all_rss:
            if to_add != 0:
                prop = get_proportion(rs, d, to_add, added)
                sizes[name_of(rs)] = spec_replicas(rs) + prop
                added += prop
            else:
                sizes[name_of(rs)] = spec_replicas(rs)
        for i, rs in enumerate(all_rss):
            if i == 0 and to_add != 0:
                sizes[name_of(rs)] = max(sizes[name_of(rs)] + to_add - added, 0)
            await self._scale_rs(rs, sizes[name_of(rs)], d, op or None)

    # ------------------------------------------------------------------ strategies

    async def _sync(self, d: dict[str, Any], rs_list: list[Mapping[str, Any]]) -> None:
        """sync(): scaling events and paused deployments."""
        new_rs, old_rss = await self._get_all_rss(d, rs_list, False)
        await self._scale(d, new_rs, old_rss)
        if d["spec"].get("paused"):
            await self._cleanup(d, old_rss)
        rs_list = self._fresh_rss(d, rs_list)
        new_rs, old_rss = self._split(d, rs_list)
        await self._sync_deployment_status([*old_rss, new_rs], new_rs, d)

    def _fresh_rss(self, d: Mapping[str, Any], rs_list: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        out = []
        for rs in rs_list:
            cur = self.rs_inf.get(name_of(rs), namespace_of(rs))
            out.append(cur if cur is not None and uid_of(cur) == uid_of(rs) else rs)
        return out

    @staticmethod
    def _split(
        d: Mapping[str, Any], rs_list: list[Mapping[str, Any]]
    ) -> tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]:
        new_rs = find_new_rs(d, rs_list)
        return new_rs, [rs for rs in rs_list if new_rs is None or uid_of(rs) != uid_of(new_rs)]

    async def _sync_status_only(self, d: dict[str, Any], rs_list: list[Mapping[str, Any]]) -> None:
        new_rs, old_rss = await self._get_all_rss(d, rs_list, False)
        await self._sync_deployment_status([*old_rss, new_rs], new_rs, d)

    async def _sync_deployment_status(
        self, all_rss: list[Mapping[str, Any] | None], new_rs: Mapping[str, Any] | None, d: dict[str, Any]
    ) -> None:
        status = calculate_status(all_rss, new_rs, d, self.now())
        await self._write_revision(d)
        if _status_equal(d.get("status"), status):
            return
        d["status"] = status
        await self._update_status(d)

    async def _check_paused_conditions(self, d: dict[str, Any]) -> dict[str, Any]:
        if not has_progress_deadline(d):
            return d
        cond = get_condition(d["status"], "Progressing")
        if cond is not None and cond.get("reason") == TIMED_OUT:
            return d
        paused_exists = cond is not None and cond.get("reason") == PAUSED
        now = self.now()
        if d["spec"].get("paused") and not paused_exists:
            set_condition(
                d["status"], new_condition("Progressing", "Unknown", PAUSED, "Deployment is paused", now)
            )
        elif not d["spec"].get("paused") and paused_exists:
            set_condition(
                d["status"], new_condition("Progressing", "Unknown", RESUMED, "Deployment is resumed", now)
            )
        else:
            return d
        return await self._update_status(d)

    async def _rollout_rolling(self, d: dict[str, Any], rs_list: list[Mapping[str, Any]]) -> None:
        new_rs, old_rss = await self._get_all_rss(d, rs_list, True)
        assert new_rs is not None
        all_rss = [*old_rss, new_rs]
        scaled_up, new_rs = await self._reconcile_new_rs(all_rss, new_rs, d)
        all_rss = [*old_rss, new_rs]
        if scaled_up:
            await self._sync_rollout_status(all_rss, new_rs, d)
            return
        scaled_down, old_rss = await self._reconcile_old_rss(all_rss, old_rss, new_rs, d)
        all_rss = [*old_rss, new_rs]
        if scaled_down:
            await self._sync_rollout_status(all_rss, new_rs, d)
            return
        if deployment_complete(d, d["status"]):
            await self._cleanup(d, old_rss)
        await self._sync_rollout_status(all_rss, new_rs, d)

    async def _reconcile_new_rs(
        self, all_rss: list[Mapping[str, Any]], new_rs: Mapping[str, Any], d: Mapping[str, Any]
    ) -> tuple[bool, Mapping[str, Any]]:
        replicas = spec_replicas(d)
        if spec_replicas(new_rs) == replicas:
            return False, new_rs
        if spec_replicas(new_rs) > replicas:
            return await self._scale_rs_and_record(new_rs, replicas, d)
        count = new_rs_new_replicas(d, all_rss, new_rs)
        return await self._scale_rs_and_record(new_rs, count, d)

    async def _reconcile_old_rss(
        self,
        all_rss: list[Mapping[str, Any]],
        old_rss: list[Mapping[str, Any]],
        new_rs: Mapping[str, Any],
        d: Mapping[str, Any],
    ) -> tuple[bool, list[Mapping[str, Any]]]:
        """reconcileOldReplicaSets: unhealthy old replicas first, then old ones as availability allows."""
        active_old = active_rss(old_rss)
        if replica_count(active_old) == 0:
            return False, old_rss
        all_count = replica_count(all_rss)
        min_available = spec_replicas(d) - max_unavailable(d)
        new_unavailable = spec_replicas(new_rs) - status_int(new_rs, "availableReplicas")
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False, old_rss
        updated: dict[str, Mapping[str, Any]] = {}
        try:
            cleaned = await self._cleanup_unhealthy(active_old, d, max_scaled_down, updated)
            olds = [updated.get(uid_of(rs), rs) for rs in active_old]
            scaled = await self._scale_down_old_for_rolling(olds, new_rs, d, updated)
        except InvalidScaleDown as e:
            # Upstream logs nothing and reports no scale-down: the next sync, on fresher
            # ReplicaSet statuses, decides again.
            self.log.debug("deployment %s/%s: %s", namespace_of(d), name_of(d), e)
            return False, [updated.get(uid_of(rs), rs) for rs in old_rss]
        return cleaned + scaled > 0, [updated.get(uid_of(rs), rs) for rs in old_rss]

    async def _cleanup_unhealthy(
        self,
        old_rss: list[Mapping[str, Any]],
        d: Mapping[str, Any],
        max_cleanup: int,
        updated: dict[str, Mapping[str, Any]],
    ) -> int:
        """cleanupUnhealthyReplicas: scale old ReplicaSets down by their unavailable replicas."""
        total = 0
        for rs in sort_by_creation(old_rss):
            if total >= max_cleanup:
                break
            replicas, available = spec_replicas(rs), status_int(rs, "availableReplicas")
            if replicas == 0 or replicas == available:
                continue
            # A status not yet caught up with a lowered spec (available > replicas) makes this
            # negative: upstream refuses rather than scale an old ReplicaSet back up.
            n = min(max_cleanup - total, replicas - available)
            if replicas - n > replicas:
                raise InvalidScaleDown(
                    f"when cleaning up unhealthy replicas, got invalid request to scale down "
                    f"{namespace_of(rs)}/{name_of(rs)} {replicas} -> {replicas - n}"
                )
            _, updated[uid_of(rs)] = await self._scale_rs_and_record(rs, replicas - n, d)
            total += n
        return total

    async def _scale_down_old_for_rolling(
        self,
        old_rss: list[Mapping[str, Any]],
        new_rs: Mapping[str, Any],
        d: Mapping[str, Any],
        updated: dict[str, Mapping[str, Any]],
    ) -> int:
        """scaleDownOldReplicaSetsForRollingUpdate: down to minAvailable available replicas."""
        min_available = spec_replicas(d) - max_unavailable(d)
        available = available_replica_count([*old_rss, new_rs])
        if available <= min_available:
            return 0
        to_scale = available - min_available
        total = 0
        for rs in sort_by_creation(old_rss):
            if total >= to_scale:
                break
            if spec_replicas(rs) == 0:
                continue
            n = min(spec_replicas(rs), to_scale - total)
            _, updated[uid_of(rs)] = await self._scale_rs_and_record(rs, spec_replicas(rs) - n, d)
            total += n
        return total

    async def _rollout_recreate(self, d: dict[str, Any], rs_list: list[Mapping[str, Any]]) -> None:
        new_rs, old_rss = await self._get_all_rss(d, rs_list, False)
        all_rss: list[Mapping[str, Any] | None] = [*old_rss, new_rs]
        scaled_down = False
        olds = []
        for rs in old_rss:
            if spec_replicas(rs) > 0:
                changed, rs = await self._scale_rs_and_record(rs, 0, d)
                scaled_down = scaled_down or changed
            olds.append(rs)
        old_rss = olds
        if scaled_down:
            await self._sync_rollout_status([*old_rss, new_rs], new_rs, d)
            return
        if self._old_pods_running(new_rs, old_rss, self._pod_map(d, rs_list)):
            await self._sync_rollout_status(all_rss, new_rs, d)
            return
        if new_rs is None:
            new_rs, old_rss = await self._get_all_rss(d, rs_list, True)
        assert new_rs is not None
        _, new_rs = await self._scale_rs_and_record(new_rs, spec_replicas(d), d)
        if deployment_complete(d, d["status"]):
            await self._cleanup(d, old_rss)
        await self._sync_rollout_status([*old_rss, new_rs], new_rs, d)

    @staticmethod
    def _old_pods_running(
        new_rs: Mapping[str, Any] | None,
        old_rss: list[Mapping[str, Any]],
        pod_map: dict[str, list[Mapping[str, Any]]],
    ) -> bool:
        if actual_replica_count(old_rss) > 0:
            return True
        for rs_uid, pods in pod_map.items():
            if new_rs is not None and uid_of(new_rs) == rs_uid:
                continue
            for pod in pods:
                if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                    return True
        return False

    async def _cleanup(self, d: Mapping[str, Any], old_rss: list[Mapping[str, Any]]) -> None:
        """cleanupDeployment: delete old ReplicaSets beyond revisionHistoryLimit."""
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old_rss if not is_deleting(rs)]
        diff = len(alive) - int(limit)
        if diff <= 0:
            return
        from vcluster.client import ApiError

        alive.sort(key=lambda rs: (revision_of(rs), *_creation_key(rs)))
        for rs in alive[:diff]:
            if (
                status_int(rs, "replicas") != 0
                or spec_replicas(rs) != 0
                or int(rs["metadata"].get("generation") or 0) > status_int(rs, "observedGeneration")
            ):
                continue
            try:
                await self.client.delete(*RS, name_of(rs), namespace_of(rs))
            except ApiError as e:
                if not e.not_found:
                    raise

    async def _sync_rollout_status(
        self, all_rss: list[Mapping[str, Any] | None], new_rs: Mapping[str, Any] | None, d: dict[str, Any]
    ) -> None:
        """syncRolloutStatus: status plus the Progressing / ReplicaFailure conditions."""
        now = self.now()
        status = calculate_status(all_rss, new_rs, d, now)
        if not has_progress_deadline(d):
            remove_condition(status, "Progressing")
        cur = get_condition(d["status"], "Progressing")
        complete_already = (
            status["replicas"] == status["updatedReplicas"]
            and cur is not None
            and cur.get("reason") == NEW_RS_AVAILABLE
        )
        if has_progress_deadline(d) and not complete_already:
            if deployment_complete(d, status):
                msg = (
                    f'ReplicaSet "{name_of(new_rs)}" has successfully progressed.'
                    if new_rs is not None
                    else f'Deployment "{name_of(d)}" has successfully progressed.'
                )
                set_condition(status, new_condition("Progressing", "True", NEW_RS_AVAILABLE, msg, now))
            elif deployment_progressing(d, status):
                msg = (
                    f'ReplicaSet "{name_of(new_rs)}" is progressing.'
                    if new_rs is not None
                    else f'Deployment "{name_of(d)}" is progressing.'
                )
                cond = new_condition("Progressing", "True", REPLICASET_UPDATED, msg, now)
                if cur is not None:
                    if cur.get("status") == "True":
                        cond["lastTransitionTime"] = cur.get("lastTransitionTime", cond["lastTransitionTime"])
                    remove_condition(status, "Progressing")
                set_condition(status, cond)
            elif deployment_timed_out(d, status, now):
                msg = (
                    f'ReplicaSet "{name_of(new_rs)}" has timed out progressing.'
                    if new_rs is not None
                    else f'Deployment "{name_of(d)}" has timed out progressing.'
                )
                set_condition(status, new_condition("Progressing", "False", TIMED_OUT, msg, now))
        failure = self._replica_failure(all_rss, new_rs)
        if failure is not None:
            set_condition(status, failure)
        else:
            remove_condition(status, "ReplicaFailure")
        await self._write_revision(d)
        if _status_equal(d.get("status"), status):
            self._requeue_stuck(d, status, now)
            return
        d["status"] = status
        await self._update_status(d)

    def _replica_failure(
        self, all_rss: list[Mapping[str, Any] | None], new_rs: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        ordered = [new_rs, *[rs for rs in all_rss if rs is not new_rs]]
        for rs in ordered:
            if rs is None:
                continue
            c = get_condition(rs.get("status"), "ReplicaFailure")
            if c is not None:
                ts = c.get("lastTransitionTime")
                return {
                    "type": "ReplicaFailure",
                    "status": c.get("status"),
                    "lastUpdateTime": ts,
                    "lastTransitionTime": ts,
                    "reason": c.get("reason"),
                    "message": c.get("message"),
                }
        return None

    def _requeue_stuck(self, d: Mapping[str, Any], status: Mapping[str, Any], now: datetime) -> None:
        cur = get_condition(d.get("status"), "Progressing")
        if not has_progress_deadline(d) or cur is None:
            return
        if deployment_complete(d, status) or cur.get("reason") == TIMED_OUT:
            return
        last = parse_time(cur.get("lastUpdateTime"))
        if last is None:
            return
        after = (last + timedelta(seconds=int(d["spec"]["progressDeadlineSeconds"])) - now).total_seconds()
        if after < 1:
            self.queue.add_rate_limited(f"{namespace_of(d)}/{name_of(d)}")
        else:
            self.enqueue_after(d, after + 1)
