"""Shared helpers for the controllers: owner refs, selectors, pod state, events, expectations, base loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from vcluster.apiserver.selectors import LabelSelector

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

log = logging.getLogger("vcluster.controllers")

Clock = Callable[[], datetime]

# k8s.io/apimachinery/pkg/util/rand alphabet (no vowels, no confusable characters).
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"

EVENT_NORMAL = "Normal"
EVENT_WARNING = "Warning"


# --------------------------------------------------------------------------- time


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the default controller clock)."""
    return datetime.now(UTC)


def fmt_time(t: datetime) -> str:
    """metav1.Time wire format: RFC 3339 in UTC with second precision."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s: str | None) -> datetime | None:
    """Parse an RFC 3339 timestamp (metav1.Time / MicroTime); None or '' gives None."""
    if not s:
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


# --------------------------------------------------------------------------- objects


def clone(obj: Any) -> Any:
    """A deep copy of a JSON-like object (informer cache objects must never be mutated)."""
    return orjson.loads(orjson.dumps(obj))


def typed(obj: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """Set apiVersion/kind on `obj` (cached list items may lack them) and return it."""
    obj["apiVersion"] = api_version
    obj["kind"] = kind
    return obj


def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def name_of(obj: Mapping[str, Any]) -> str:
    return meta(obj).get("name") or ""


def namespace_of(obj: Mapping[str, Any]) -> str:
    return meta(obj).get("namespace") or ""


def uid_of(obj: Mapping[str, Any]) -> str:
    return meta(obj).get("uid") or ""


def key_of(obj: Mapping[str, Any]) -> str:
    """The work-queue key `namespace/name` (just `name` for cluster-scoped objects)."""
    ns = namespace_of(obj)
    return f"{ns}/{name_of(obj)}" if ns else name_of(obj)


def split_key(key: str) -> tuple[str | None, str]:
    """Invert key_of: `ns/name` -> (ns, name); `name` -> (None, name)."""
    if "/" in key:
        ns, name = key.split("/", 1)
        return ns, name
    return None, key


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return meta(obj).get("annotations") or {}


def is_deleting(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def rand_suffix(n: int = 5) -> str:
    """utilrand.String(n): n characters from the upstream alphabet."""
    return "".join(random.choice(ALPHANUMS) for _ in range(n))


def safe_encode_string(s: str) -> str:
    """utilrand.SafeEncodeString: map each byte onto the upstream alphabet."""
    return "".join(ALPHANUMS[b % len(ALPHANUMS)] for b in s.encode())


FNV32_OFFSET = 0x811C9DC5
FNV32_PRIME = 0x01000193


def fnv32a(data: bytes, h: int = FNV32_OFFSET) -> int:
    """FNV-1a 32-bit hash (hash/fnv New32a), continuing from `h`."""
    for b in data:
        h ^= b
        h = (h * FNV32_PRIME) & 0xFFFFFFFF
    return h


def fnv32(data: bytes, h: int = FNV32_OFFSET) -> int:
    """FNV-1 32-bit hash (hash/fnv New32), continuing from `h`."""
    for b in data:
        h = (h * FNV32_PRIME) & 0xFFFFFFFF
        h ^= b
    return h


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON (sorted keys) used as the deep-hash input."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def compute_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """controller.ComputeHash: fnv32a over the deep-hashed pod template, then the collision
    count as 4 little-endian bytes, rendered as SafeEncodeString(decimal)."""
    h = fnv32a(canonical_json(template))
    if collision_count is not None:
        h = fnv32a(int(collision_count & 0xFFFFFFFF).to_bytes(4, "little"), h)
    return safe_encode_string(str(h))


# --------------------------------------------------------------------------- selectors


def selector_from(sel: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector (None matches nothing, {} everything); invalid -> nothing."""
    try:
        return LabelSelector.from_api(sel)
    except ValueError:
        return LabelSelector.nothing()


def selector_matches(sel: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """True when the metav1.LabelSelector `sel` selects `labels`."""
    return selector_from(sel).matches(labels or {})


def selector_string(sel: Mapping[str, Any] | None) -> str:
    """The `labelSelector` query form of a metav1.LabelSelector."""
    return str(selector_from(sel))


# --------------------------------------------------------------------------- owner references


def owner_reference(
    owner: Mapping[str, Any], kind: str, api_version: str, *, controller: bool = True, block: bool = True
) -> dict[str, Any]:
    """metav1.NewControllerRef: a controller owner reference pointing at `owner`."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name_of(owner),
        "uid": uid_of(owner),
        "controller": controller,
        "blockOwnerDeletion": block,
    }


def ephemeral_claim_name(pod_name: str, volume: Mapping[str, Any]) -> str:
    """The claim the ephemeral-volume controller makes for a generic ephemeral volume."""
    return f"{pod_name}-{volume.get('name', '')}"


def pod_volume_claims(pod: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(claim name, volume) of each volume of a pod that is backed by a PersistentVolumeClaim: the
    `persistentVolumeClaim` ones and the generic ephemeral ones (`<pod>-<volume>`)."""
    out = []
    for v in (pod.get("spec") or {}).get("volumes") or []:
        if not isinstance(v, dict):
            continue
        pvc = v.get("persistentVolumeClaim")
        if isinstance(pvc, dict) and pvc.get("claimName"):
            out.append((pvc["claimName"], v))
        elif isinstance(v.get("ephemeral"), dict):
            out.append((ephemeral_claim_name(name_of(pod), v), v))
    return out


def claim_reference(pvc: Mapping[str, Any]) -> dict[str, Any]:
    """A PersistentVolume's `claimRef` to `pvc` (the binder's, and the fake volumes')."""
    m = meta(pvc)
    return {
        "kind": "PersistentVolumeClaim",
        "namespace": m.get("namespace"),
        "name": m.get("name"),
        "uid": m.get("uid"),
        "apiVersion": "v1",
        "resourceVersion": m.get("resourceVersion"),
    }


def controller_ref(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """metav1.GetControllerOf: the ownerReference with controller=true, if any."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == uid_of(owner)


def resolve_controller_ref(
    obj: Mapping[str, Any], kind: str, lookup: Callable[[str, str], Mapping[str, Any] | None]
) -> Mapping[str, Any] | None:
    """The owner of `obj` if its controller ref is a `kind` that `lookup(ns, name)` finds with the
    same uid (the upstream resolveControllerRef)."""
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != kind:
        return None
    owner = lookup(namespace_of(obj), ref.get("name", ""))
    if owner is None or uid_of(owner) != ref.get("uid"):
        return None
    return owner


def classify_claims(
    owner: Mapping[str, Any], selector: Mapping[str, Any] | None, objs: Iterable[Mapping[str, Any]]
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """ControllerRefManager.ClaimObjects split: (owned and matching, orphans to adopt, owned but no
    longer matching -> release). Objects controlled by someone else are ignored; nothing is
    adopted while the owner or the orphan is being deleted."""
    sel = selector_from(selector)
    owner_uid = uid_of(owner)
    keep: list[Mapping[str, Any]] = []
    adopt: list[Mapping[str, Any]] = []
    release: list[Mapping[str, Any]] = []
    for o in objs:
        ref = controller_ref(o)
        match = sel.matches(labels_of(o))
        if ref is not None:
            if ref.get("uid") != owner_uid:
                continue
            if match:
                keep.append(o)
            elif not is_deleting(o):
                release.append(o)
            continue
        if not match or is_deleting(owner) or is_deleting(o):
            continue
        adopt.append(o)
    return keep, adopt, release


async def adopt(
    client: Client, api_version: str, plural: str, obj: Mapping[str, Any], ref: Mapping[str, Any]
) -> dict[str, Any]:
    """Add controller ref `ref` to `obj` (uid precondition so a recreated object is not adopted)."""
    patch = {"metadata": {"ownerReferences": [dict(ref)], "uid": uid_of(obj)}}
    return await client.patch(
        api_version, plural, name_of(obj), patch, namespace_of(obj) or None, patch_type="strategic"
    )


async def release(
    client: Client, api_version: str, plural: str, obj: Mapping[str, Any], owner_uid: str
) -> dict[str, Any] | None:
    """Remove the owner reference with `owner_uid` from `obj` (404 / gone uid are fine)."""
    from vcluster.client import ApiError

    patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}], "uid": uid_of(obj)}}
    try:
        return await client.patch(
            api_version, plural, name_of(obj), patch, namespace_of(obj) or None, patch_type="strategic"
        )
    except ApiError as e:
        if e.not_found or e.invalid or e.conflict:
            return None
        raise


# --------------------------------------------------------------------------- conditions


def get_condition(status: Mapping[str, Any] | None, ctype: str) -> dict[str, Any] | None:
    for c in (status or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def set_condition(status: dict[str, Any], cond: dict[str, Any]) -> None:
    """SetDeploymentCondition & co: an existing condition with the same status and reason is left
    alone; the same status with another reason keeps its lastTransitionTime; the new condition
    goes last."""
    conds: list[dict[str, Any]] = list(status.get("conditions") or [])
    cur = next((c for c in conds if c.get("type") == cond["type"]), None)
    if cur is not None:
        if cur.get("status") == cond.get("status") and cur.get("reason") == cond.get("reason"):
            return
        if cur.get("status") == cond.get("status") and "lastTransitionTime" in cur:
            cond = {**cond, "lastTransitionTime": cur["lastTransitionTime"]}
    status["conditions"] = [c for c in conds if c.get("type") != cond["type"]] + [cond]


def remove_condition(status: dict[str, Any], ctype: str) -> None:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)


# --------------------------------------------------------------------------- status as Go writes it

# The status fields held by value (not by pointer) whose JSON tag has `omitempty` (k8s.io/api 1.32
# types.go, as the Go struct tags in kubectl 1.32 read): encoding/json leaves them out at their zero
# value. Pointer fields (`collisionCount`, Job `ready`/`terminating`/`failedIndexes`/
# `uncountedTerminatedPods`, times) and fields without omitempty (`replicas` of a ReplicaSet,
# `availableReplicas` of a StatefulSet, the PodDisruptionBudget counters, ...) keep their zeros.
_REPLICA_SET_OMITEMPTY = frozenset(
    {"fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration", "conditions"}
)
OMITEMPTY_STATUS: dict[tuple[str, str], frozenset[str]] = {
    ("apps", "Deployment"): frozenset(
        {
            "observedGeneration",
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
            "conditions",
        }
    ),
    ("apps", "ReplicaSet"): _REPLICA_SET_OMITEMPTY,
    ("", "ReplicationController"): _REPLICA_SET_OMITEMPTY,
    ("apps", "StatefulSet"): frozenset(
        {
            "observedGeneration",
            "readyReplicas",
            "currentReplicas",
            "updatedReplicas",
            "currentRevision",
            "updateRevision",
            "conditions",
        }
    ),
    ("apps", "DaemonSet"): frozenset(
        {"observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable", "conditions"}
    ),
    ("batch", "Job"): frozenset({"conditions", "active", "succeeded", "failed", "completedIndexes"}),
    ("batch", "CronJob"): frozenset({"active"}),
    # autoscaling/v2 (the version the controller writes): `desiredReplicas` has no omitempty
    ("autoscaling", "HorizontalPodAutoscaler"): frozenset({"currentReplicas", "conditions"}),
    ("policy", "PodDisruptionBudget"): frozenset({"observedGeneration", "disruptedPods", "conditions"}),
    ("", "ResourceQuota"): frozenset({"hard", "used"}),
    ("", "Namespace"): frozenset({"phase", "conditions"}),
}
# The condition types whose `reason` and `message` are omitempty (all but metav1.Condition, which
# the PodDisruptionBudget uses).
_CONDITION_OMITEMPTY = ("reason", "message")


def _go_zero(v: Any) -> bool:
    """Whether encoding/json's omitempty drops this value (false, 0, "", null, empty list or map)."""
    if v is None or v is False:
        return True
    if isinstance(v, bool):
        return False
    return v in (0, "") or (isinstance(v, list | dict) and not v)


def go_status(status: dict[str, Any], group: str, kind: str) -> dict[str, Any]:
    """`status` (in place, and returned) as kube-apiserver serializes a controller's status: the
    zero values of the kind's `omitempty` fields are dropped, and so are empty condition reasons
    and messages."""
    fields = OMITEMPTY_STATUS.get((group, kind), frozenset())
    for key in [k for k in status if k in fields and _go_zero(status[k])]:
        del status[key]
    if (group, kind) != ("policy", "PodDisruptionBudget"):
        for cond in status.get("conditions") or []:
            if isinstance(cond, dict):
                for key in _CONDITION_OMITEMPTY:
                    if cond.get(key) == "":
                        del cond[key]
    return status


# --------------------------------------------------------------------------- pods


def pod_phase(pod: Mapping[str, Any]) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def pod_is_active(pod: Mapping[str, Any]) -> bool:
    """controller.IsPodActive: not Succeeded/Failed and not being deleted."""
    return pod_phase(pod) not in ("Succeeded", "Failed") and not is_deleting(pod)


def pod_is_terminating(pod: Mapping[str, Any]) -> bool:
    return pod_phase(pod) not in ("Succeeded", "Failed") and is_deleting(pod)


def pod_is_ready(pod: Mapping[str, Any]) -> bool:
    """podutil.IsPodReady: condition Ready=True."""
    c = get_condition(pod.get("status"), "Ready")
    return c is not None and c.get("status") == "True"


def pod_is_available(pod: Mapping[str, Any], min_ready_seconds: int, now: datetime) -> bool:
    """podutil.IsPodAvailable: ready for at least minReadySeconds."""
    c = get_condition(pod.get("status"), "Ready")
    if c is None or c.get("status") != "True":
        return False
    if not min_ready_seconds:
        return True
    t = parse_time(c.get("lastTransitionTime"))
    return t is not None and t + timedelta(seconds=min_ready_seconds) < now


def pod_ready_since(pod: Mapping[str, Any]) -> datetime | None:
    c = get_condition(pod.get("status"), "Ready")
    if c is None or c.get("status") != "True":
        return None
    return parse_time(c.get("lastTransitionTime"))


# --------------------------------------------------------------------------- pod control


def pod_from_template(
    template: Mapping[str, Any] | None,
    owner: Mapping[str, Any],
    owner_ref: Mapping[str, Any] | None,
    *,
    generate_name: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """controller.GetPodFromTemplate: labels/annotations/finalizers/spec of the template, a
    generateName of `<owner>-` (or an explicit name) and the controller ref."""
    tmpl = clone(template or {})
    tmeta = tmpl.get("metadata") or {}
    md: dict[str, Any] = {}
    if name:
        md["name"] = name
    else:
        prefix = generate_name if generate_name is not None else f"{name_of(owner)}-"
        md["generateName"] = prefix if len(prefix) <= 253 else name_of(owner)
    if namespace_of(owner):
        md["namespace"] = namespace_of(owner)
    if tmeta.get("labels"):
        md["labels"] = dict(tmeta["labels"])
    if tmeta.get("annotations"):
        md["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        md["finalizers"] = list(tmeta["finalizers"])
    if owner_ref is not None:
        md["ownerReferences"] = [dict(owner_ref)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": tmpl.get("spec") or {}}


async def slow_start_batch(
    count: int, initial: int, fn: Callable[[], Any]
) -> tuple[int, BaseException | None]:
    """controller slowStartBatch: call async `fn` count times in batches of 1, 2, 4, ... (each batch
    concurrently), stopping after the first batch with an error; returns (successes, first error)."""
    remaining = count
    successes = 0
    batch = min(remaining, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for e in errors:
            if isinstance(e, asyncio.CancelledError):
                raise e
        successes += batch - len(errors)
        if errors:
            return successes, errors[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


def namespace_terminating(err: BaseException) -> bool:
    """apierrors.HasStatusCause(err, NamespaceTerminatingCause)."""
    body = getattr(err, "body", None) or {}
    causes = (body.get("details") or {}).get("causes") or []
    # a StatusCause's Type is sent as "reason"
    return any(isinstance(c, dict) and c.get("reason") == "NamespaceTerminating" for c in causes)


# --------------------------------------------------------------------------- events


class EventRecorder:
    """record.EventRecorder for core/v1 Events: non-blocking `event()`, posted in the background,
    repeats of the same (object, type, reason, message) bump `count`/`lastTimestamp`."""

    def __init__(
        self,
        client: Client,
        component: str,
        *,
        host: str = "",
        clock: Clock = utcnow,
        max_pending: int = 1000,
        cache_size: int = 4096,
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.clock = clock
        self.max_pending = max_pending
        self._pending: asyncio.Queue[dict[str, Any]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._cache: OrderedDict[tuple[str, ...], tuple[str, str, int, str]] = OrderedDict()
        self._cache_size = cache_size
        self.posted = 0
        self.dropped = 0

    def event(
        self,
        obj: Mapping[str, Any],
        type: str,
        reason: str,
        message: str,
        *,
        kind: str | None = None,
        api_version: str | None = None,
    ) -> None:
        """Record an event about `obj` (kind/apiVersion from the object unless given)."""
        md = meta(obj)
        ref = {
            "kind": kind or obj.get("kind", ""),
            "namespace": md.get("namespace", ""),
            "name": md.get("name", ""),
            "uid": md.get("uid", ""),
            "apiVersion": api_version or obj.get("apiVersion", ""),
            "resourceVersion": md.get("resourceVersion", ""),
        }
        ref = {k: v for k, v in ref.items() if v}
        item = {"ref": ref, "type": type, "reason": reason, "message": message, "at": self.clock()}
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.warning("event without a running loop dropped: %s %s", reason, message)
            self.dropped += 1
            return
        if self._pending is None:
            self._pending = asyncio.Queue()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain(), name=f"events-{self.component}")
        if self._pending.qsize() >= self.max_pending:
            self.dropped += 1
            return
        self._pending.put_nowait(item)

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until every recorded event was posted (or `timeout` elapsed)."""
        if self._pending is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._pending.join()

    async def close(self) -> None:
        """Stop the background poster (pending events are dropped)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _drain(self) -> None:
        assert self._pending is not None
        while True:
            item = await self._pending.get()
            try:
                await self._post(item)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("posting event %s failed: %s", item.get("reason"), e)
            finally:
                self._pending.task_done()

    async def _post(self, item: dict[str, Any]) -> None:
        from vcluster.client import ApiError

        ref: dict[str, Any] = item["ref"]
        ns = ref.get("namespace") or "default"
        at: datetime = item["at"]
        ts = fmt_time(at)
        key = (
            self.component,
            ref.get("kind", ""),
            ns,
            ref.get("name", ""),
            ref.get("uid", ""),
            item["type"],
            item["reason"],
            item["message"],
        )
        cached = self._cache.get(key)
        if cached is not None:
            ev_name, ev_ns, count, first = cached
            patch = {"count": count + 1, "lastTimestamp": ts, "message": item["message"]}
            try:
                await self.client.patch("v1", "events", ev_name, patch, ev_ns)
                self._cache[key] = (ev_name, ev_ns, count + 1, first)
                self._cache.move_to_end(key)
                self.posted += 1
                return
            except ApiError as e:
                if not e.not_found:
                    raise
                self._cache.pop(key, None)
        ev_name = f"{ref.get('name', '')}.{time.time_ns():x}"
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": ev_name, "namespace": ns},
            "involvedObject": ref,
            "reason": item["reason"],
            "message": item["message"],
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "count": 1,
            "type": item["type"],
            "eventTime": None,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        try:
            await self.client.create("v1", "events", body, ns)
        except ApiError as e:
            if e.not_found or e.forbidden:  # namespace gone / terminating
                return
            raise
        self.posted += 1
        self._cache[key] = (ev_name, ns, 1, ts)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


# --------------------------------------------------------------------------- expectations


class Expectations:
    """ControllerExpectations + UIDTrackingExpectations: a controller does not act on a key while
    creations/deletions it issued have not been observed through the informer (or the TTL passed)."""

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._exp: dict[str, tuple[int, int, float]] = {}
        self._deleting: dict[str, set[str]] = {}

    def satisfied(self, key: str) -> bool:
        e = self._exp.get(key)
        if e is None:
            return True
        add, dele, ts = e
        if add <= 0 and dele <= 0:
            return True
        return time.monotonic() - ts > self.ttl

    def expect(self, key: str, adds: int = 0, dels: int = 0) -> None:
        """SetExpectations: replace the counts for `key`."""
        self._exp[key] = (adds, dels, time.monotonic())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        """ExpectDeletions with UID/key tracking: each key must be observed deleted once."""
        keys = set(pod_keys)
        self._deleting[key] = keys
        self.expect(key, 0, len(keys))

    def lower(self, key: str, adds: int = 0, dels: int = 0) -> None:
        e = self._exp.get(key)
        if e is None:
            return
        self._exp[key] = (e[0] - adds, e[1] - dels, e[2])

    def creation_observed(self, key: str) -> None:
        self.lower(key, adds=1)

    def deletion_observed(self, key: str, pod_key: str | None = None) -> None:
        """Count one observed deletion; with `pod_key`, only if that key was expected (once)."""
        if pod_key is not None:
            tracked = self._deleting.get(key)
            if tracked is None or pod_key not in tracked:
                return
            tracked.discard(pod_key)
        self.lower(key, dels=1)

    def delete(self, key: str) -> None:
        self._exp.pop(key, None)
        self._deleting.pop(key, None)

    def pending(self, key: str) -> tuple[int, int]:
        e = self._exp.get(key)
        return (e[0], e[1]) if e else (0, 0)


# --------------------------------------------------------------------------- base controller


class BaseController:
    """Common plumbing: one WorkQueue of `ns/name` keys, a clock, an EventRecorder and `run()`."""

    name: str = ""
    component: str = ""

    def __init__(
        self,
        client: Client,
        informers: SharedInformers,
        *,
        clock: Clock | None = None,
        recorder: EventRecorder | None = None,
        base_delay: float = 0.005,
        max_delay: float = 60.0,
        **options: Any,
    ) -> None:
        from vcluster.client import WorkQueue

        self.client = client
        self.informers = informers
        self.clock: Clock = clock or utcnow
        self.options = options
        self.recorder = recorder or EventRecorder(client, self.component or f"{self.name}-controller")
        self.queue = WorkQueue(self.name, base_delay=base_delay, max_delay=max_delay)
        self._conflicts: dict[str, int] = {}
        self.log = logging.getLogger(f"vcluster.controllers.{self.name}")

    def now(self) -> datetime:
        return self.clock()

    def enqueue(self, obj: Mapping[str, Any]) -> None:
        self.queue.add(key_of(obj))

    def enqueue_after(self, obj: Mapping[str, Any], seconds: float) -> None:
        self.queue.add_after(key_of(obj), max(seconds, 0.0))

    async def sync(self, key: str) -> None:
        """Reconcile one key; raising requeues it with per-key exponential backoff."""
        raise NotImplementedError

    async def _worker(self, key: str) -> None:
        from vcluster.client import ApiError

        try:
            await self.sync(key)
        except ApiError as e:
            if not e.conflict:
                raise  # the queue logs it and requeues with per-key backoff
            # A stale cache: requeue quietly, backing off per key (capped at a second).
            n = self._conflicts.get(key, 0)
            self._conflicts[key] = n + 1
            self.log.debug("%s: conflict on %s, requeue (%d)", self.name, key, n + 1)
            self.queue.add_after(key, min(self.queue.base_delay * 2 ** min(n, 20), 1.0))
        else:
            self._conflicts.pop(key, None)

    async def run(self, workers: int = 2) -> None:
        """Process the queue until cancelled."""
        try:
            await self.queue.run(self._worker, workers=workers)
        except asyncio.CancelledError:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop the queue and the event recorder."""
        self.queue.shutdown()
        await self.recorder.close()
