"""pods/eviction as kube-apiserver's EvictionREST (pkg/registry/core/pod/storage/eviction.go): a pod
covered by a PodDisruptionBudget is deleted only when the budget allows a disruption, which is
recorded in the budget's status (disruptionsAllowed - 1, disruptedPods[pod]) before the delete."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from vcluster.apiserver import strategy, views
from vcluster.apiserver.errors import (
    Cause,
    StatusError,
    bad_request,
    field_not_supported,
    forbidden,
    invalid,
    not_found,
)
from vcluster.apiserver.request import RequestInfo, decode_object, dry_run, media_type, read_body
from vcluster.apiserver.resources import ResourceType
from vcluster.apiserver.rest import Rest, collection_prefix, object_key
from vcluster.apiserver.selectors import LabelSelector
from vcluster.store.interface import KeyNotFoundError, RevisionConflictError

MAX_DISRUPTED_POD_SIZE = 2000
EVICTION_RETRIES = 20  # EvictionsRetry.Steps
RETRY_DELAY = 0.05  # seconds between conflict retries (upstream: 500 ms with jitter)
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_PDBS = (
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
)
CONDITION = "DisruptionAllowed"
DISRUPTION_TARGET = "DisruptionTarget"


# ---------------------------------------------------------------------------- pure decisions
def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def pod_is_ready(pod: dict[str, Any]) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    conds = _dict(pod.get("status")).get("conditions")
    return any(
        isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in (conds if isinstance(conds, list) else [])
    )


def _phase(pod: dict[str, Any]) -> Any:
    return _dict(pod.get("status")).get("phase")


def _deleting(pod: dict[str, Any]) -> bool:
    return bool(_dict(pod.get("metadata")).get("deletionTimestamp"))


def can_ignore_pdb(pod: dict[str, Any]) -> bool:
    """Terminal, pending or already-deleting pods are deleted without looking at budgets."""
    return _phase(pod) in ("Succeeded", "Failed", "Pending") or _deleting(pod)


def should_enforce_resource_version(pod: dict[str, Any]) -> bool:
    """Whether the delete must be pinned to the pod's resourceVersion (it could still become Ready)."""
    return not (_phase(pod) in ("Succeeded", "Failed") or _deleting(pod))


def rv_is_unset(opts: dict[str, Any]) -> bool:
    pre = opts.get("preconditions")
    return not isinstance(pre, dict) or pre.get("resourceVersion") is None


def with_rv_precondition(opts: dict[str, Any], rv: str) -> dict[str, Any]:
    """A copy of the DeleteOptions with preconditions.resourceVersion set."""
    out = copy.deepcopy(opts)
    out["preconditions"] = {**_dict(out.get("preconditions")), "resourceVersion": rv}
    return out


def matching_pdbs(pod: dict[str, Any], pdbs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """getPodDisruptionBudgets: an invalid, nil or empty selector matches nothing."""
    md = _dict(pod.get("metadata"))
    labels = _dict(md.get("labels"))
    out = []
    for pdb in pdbs:
        if _dict(pdb.get("metadata")).get("namespace") != md.get("namespace"):
            continue
        try:
            sel = LabelSelector.from_api(_dict(pdb.get("spec")).get("selector"))
        except (ValueError, StatusError):
            continue
        if sel is LabelSelector.everything() or not sel.matches(labels):
            continue
        out.append(pdb)
    return out


def unhealthy_pod_can_go(pod: dict[str, Any], pdb: dict[str, Any]) -> bool:
    """A not-Ready pod is deleted without spending the budget: always under AlwaysAllow, and under
    IfHealthyBudget (the default) while the budget has its desired healthy pods."""
    if pod_is_ready(pod):
        return False
    if _dict(pdb.get("spec")).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    st = _dict(pdb.get("status"))
    desired = _int(st.get("desiredHealthy"))
    return _int(st.get("currentHealthy")) >= desired and desired > 0


def still_processing(pdb_name: str) -> StatusError:
    """createTooManyRequestsError: the budget's status is behind its spec."""
    return StatusError(
        429,
        "TooManyRequests",
        VIOLATION,
        {"retryAfterSeconds": 10},
        causes=[
            Cause(
                "DisruptionBudget",
                f"The disruption budget {pdb_name} is still being processed by the server.",
            )
        ],
    )


def budget_exhausted(pdb_name: str, desired: int, current: int) -> StatusError:
    return StatusError(
        429,
        "TooManyRequests",
        VIOLATION,
        causes=[
            Cause(
                "DisruptionBudget",
                f"The disruption budget {pdb_name} needs {desired} healthy pods and has {current} currently",
            )
        ],
    )


def _set_allowed_condition(status: dict[str, Any], now: str) -> None:
    """pdbhelper.UpdateDisruptionAllowedCondition."""
    allowed = _int(status.get("disruptionsAllowed")) > 0
    want = {
        "type": CONDITION,
        "status": "True" if allowed else "False",
        "reason": "SufficientPods" if allowed else "InsufficientPods",
        "message": "",
        "observedGeneration": _int(status.get("observedGeneration")),
    }
    conds = [dict(c) for c in status.get("conditions") or [] if isinstance(c, dict)]
    cur = next((c for c in conds if c.get("type") == CONDITION), None)
    if cur is None:
        conds.append({**want, "lastTransitionTime": now})
    else:
        if cur.get("status") != want["status"]:
            cur["lastTransitionTime"] = now
        cur.update({k: want[k] for k in ("status", "reason", "message", "observedGeneration")})
    status["conditions"] = conds


def check_and_decrement(pdb: dict[str, Any], pod_name: str, dry: bool, now: str) -> dict[str, Any]:
    """The budget with this eviction taken out of it, or the error refusing it (checkAndDecrement)."""
    md = _dict(pdb.get("metadata"))
    name = md.get("name", "")
    st = _dict(pdb.get("status"))
    if _int(st.get("observedGeneration")) < _int(md.get("generation")):
        raise still_processing(name)
    allowed = _int(st.get("disruptionsAllowed"))
    if allowed < 0:
        raise forbidden("poddisruptionbudget", "policy", name, "pdb disruptions allowed is negative")
    disrupted = _dict(st.get("disruptedPods"))
    if len(disrupted) > MAX_DISRUPTED_POD_SIZE:
        raise forbidden(
            "poddisruptionbudget",
            "policy",
            name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        )
    if allowed == 0:
        raise budget_exhausted(name, _int(st.get("desiredHealthy")), _int(st.get("currentHealthy")))
    out = copy.deepcopy(pdb)
    status = out.setdefault("status", {})
    status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        _set_allowed_condition(status, now)
    if not dry:
        status["disruptedPods"] = {**disrupted, pod_name: now}
    return out


# ---------------------------------------------------------------------------- the request
def _delete_options(body: dict[str, Any], request: web.Request) -> dict[str, Any]:
    """propagateDryRun: the Eviction's deleteOptions with the request's dryRun; `dryRun` a bool."""
    opts = dict(_dict(body.get("deleteOptions")))
    query_dry = dry_run(request)
    body_dry = opts.get("dryRun")
    if body_dry not in (None, []) and not isinstance(body_dry, list):
        raise bad_request("deleteOptions.dryRun must be a list of strings")
    if body_dry and query_dry and body_dry != ["All"]:
        raise StatusError(
            500,
            "Unknown",
            "Non-matching dry-run options in request and content: [All] and ["
            + " ".join(map(str, body_dry))
            + "]",
        )
    bad = [x for x in body_dry or [] if x != "All"]
    if bad:
        raise invalid("DeleteOptions", "meta.k8s.io", "", [field_not_supported("dryRun", bad[0], ["All"])])
    opts["dryRun"] = bool(body_dry) or query_dry
    grace = opts.get("gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        raise bad_request(f'invalid value for gracePeriodSeconds: "{grace}"')
    if opts.get("preconditions") is not None and not isinstance(opts["preconditions"], dict):
        raise bad_request("preconditions must be an object")
    return opts


async def _delete_pod(rest: Rest, pod_rt: ResourceType, ns: str, name: str, opts: dict[str, Any]) -> None:
    """store.Delete: the newest pod, retried on storage races (preconditions checked each time)."""
    key = object_key(pod_rt, ns, name)
    for _ in range(EVICTION_RETRIES):
        cur = await rest.store.get_for_update(key)
        if cur is None:
            raise not_found(pod_rt.plural, pod_rt.group, name)
        try:
            await rest.delete_entry(pod_rt, cur, opts, bool(opts.get("dryRun")))
            return
        except RevisionConflictError:
            continue
        except KeyNotFoundError:
            raise not_found(pod_rt.plural, pod_rt.group, name) from None
    raise StatusError(409, "Conflict", f'Operation cannot be fulfilled on pods "{name}": too many conflicts')


def _precondition_conflict(name: str, why: str) -> StatusError:
    """errors.NewConflict(GroupResource{Resource: "Pod"}, name, why): kube names the kind here."""
    message = f'Operation cannot be fulfilled on Pod "{name}": {why}'
    return StatusError(409, "Conflict", message, {"name": name, "kind": "Pod"})


def check_preconditions(pod: dict[str, Any], opts: dict[str, Any]) -> None:
    """getLatestPod of addConditionAndDeletePod: the DeleteOptions' preconditions on the newest pod."""
    pre = _dict(opts.get("preconditions"))
    md = _dict(pod.get("metadata"))
    name = md.get("name", "")
    uid, rv = pre.get("uid"), pre.get("resourceVersion")
    if uid and uid != md.get("uid"):
        raise _precondition_conflict(
            name,
            f"the UID in the precondition ({uid}) does not match the UID in record ({md.get('uid', '')}). "
            "The object might have been deleted and then recreated",
        )
    if rv and rv != md.get("resourceVersion"):
        raise _precondition_conflict(
            name,
            f"the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record "
            f"({md.get('resourceVersion', '')}). The object might have been modified",
        )


def with_disruption_target(pod: dict[str, Any], now: str) -> dict[str, Any]:
    """The pod with podutil.UpdatePodCondition(DisruptionTarget=True, EvictionByEvictionAPI): a new
    condition gets `now` as its transition time; one already True keeps its own."""
    want = {
        "type": DISRUPTION_TARGET,
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": now,
        "reason": "EvictionByEvictionAPI",
        "message": "Eviction API: evicting",
    }
    status = pod.setdefault("status", {})
    conds = status.get("conditions")
    conds = conds if isinstance(conds, list) else []
    for i, c in enumerate(conds):
        if isinstance(c, dict) and c.get("type") == DISRUPTION_TARGET:
            if c.get("status") == "True":
                want["lastTransitionTime"] = c.get("lastTransitionTime")
            conds[i] = want
            break
    else:
        conds.append(want)
    status["conditions"] = conds
    return pod


async def _add_condition_and_delete(
    rest: Rest, pod_rt: ResourceType, ns: str, name: str, opts: dict[str, Any]
) -> None:
    """addConditionAndDeletePod: unless dry run, the pod gets the DisruptionTarget condition (a status
    write checking the preconditions on the newest pod; a pinned resourceVersion follows the write),
    then it is deleted."""
    if not opts.get("dryRun"):

        def mutate(pod: dict[str, Any]) -> dict[str, Any]:
            check_preconditions(pod, opts)
            return with_disruption_target(pod, strategy.now_rfc3339())

        info = RequestInfo("", "v1", ns, "pods", name, "status", "update")
        resp = await rest.guaranteed_update(pod_rt, info, mutate, expected_rev=None)
        if not rv_is_unset(opts):
            rv = _dict(orjson.loads(resp.body).get("metadata")).get("resourceVersion", "")  # type: ignore[arg-type]
            opts = with_rv_precondition(opts, rv)
    await _delete_pod(rest, pod_rt, ns, name, opts)


def _is_conflict(e: BaseException) -> bool:
    return isinstance(e, StatusError) and e.code == 409


async def _delete_if_pdb_ignorable(
    rest: Rest, pod_rt: ResourceType, ns: str, name: str, opts: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """The first retry loop of Create: (the pod, whether it was deleted without looking at budgets)."""
    retry = rv_is_unset(opts)
    for attempt in range(EVICTION_RETRIES):
        pod = (await rest.current(pod_rt, ns, name)).decode()
        if not can_ignore_pdb(pod):
            return pod, False
        del_opts = opts
        if should_enforce_resource_version(pod) and rv_is_unset(opts):
            del_opts = with_rv_precondition(opts, _dict(pod.get("metadata")).get("resourceVersion", ""))
        try:
            await _add_condition_and_delete(rest, pod_rt, ns, name, del_opts)
            return pod, True
        except StatusError as e:
            if not (retry and _is_conflict(e)) or attempt == EVICTION_RETRIES - 1:
                raise
        await asyncio.sleep(RETRY_DELAY)
    raise AssertionError("unreachable")


async def _list_pdbs(rest: Rest, ns: str) -> tuple[ResourceType | None, list[dict[str, Any]]]:
    pdb_rt = rest.registry.get("policy", "v1", "poddisruptionbudgets")
    if pdb_rt is None:
        return None, []
    res = await rest.store.list(collection_prefix(pdb_rt, ns))
    return pdb_rt, [e.decode() for e in res.entries]


async def _take_from_budget(
    rest: Rest, pdb_rt: ResourceType, pdb: dict[str, Any], pod_name: str, dry: bool
) -> None:
    """Verify-and-decrement with optimistic concurrency: a conflicting write re-reads the budget."""
    md = _dict(pdb.get("metadata"))
    ns, name = md.get("namespace", ""), md.get("name", "")
    key = object_key(pdb_rt, ns, name)
    for _ in range(EVICTION_RETRIES):
        cur = await rest.store.get_for_update(key)
        if cur is None:
            raise not_found(pdb_rt.plural, pdb_rt.group, name)
        new = check_and_decrement(cur.decode(), pod_name, dry, strategy.now_rfc3339())
        if dry:
            return
        info = RequestInfo("policy", "v1", ns, "poddisruptionbudgets", name, "status", "update")
        try:
            await rest.guaranteed_update(pdb_rt, info, _replace_with(new), expected_rev=cur.mod_rev)
            return
        except StatusError as e:
            if not _is_conflict(e):
                raise
        await asyncio.sleep(RETRY_DELAY)
    raise StatusError(
        504,
        "Timeout",
        f'Timeout: couldn\'t update PodDisruptionBudget "{name}" due to conflicts',
        {"retryAfterSeconds": 10},
    )


def _replace_with(new: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda _cur: new


def _status(code: int, message: str = "") -> bytes:
    st: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}}
    st["status"] = "Success" if code < 400 else "Failure"
    if message:
        st["message"] = message
    st["code"] = code
    return orjson.dumps(st)


async def evict(rest: Rest, pod_rt: ResourceType, info: RequestInfo, request: web.Request) -> web.Response:
    body = decode_object(await read_body(request), media_type(request))
    await rest.check_namespace_for_create(pod_rt, info.namespace, info.name)  # NamespaceLifecycle
    if _dict(body.get("metadata")).get("name") != info.name:
        raise bad_request("name in URL does not match name in Eviction object")
    opts = _delete_options(body, request)
    ns, name = info.namespace, info.name
    pod, deleted = await _delete_if_pdb_ignorable(rest, pod_rt, ns, name, opts)
    if deleted:
        return views.respond(_status(201), 201)
    pdb_rt, pdbs = await _list_pdbs(rest, ns)
    pdbs = matching_pdbs(pod, pdbs)
    if len(pdbs) > 1:
        return views.respond(_status(500, MULTIPLE_PDBS), 500)
    pin_rv = False
    pdb_name = ""
    if pdbs and pdb_rt is not None:
        pdb_name = _dict(pdbs[0].get("metadata")).get("name", "")
        if unhealthy_pod_can_go(pod, pdbs[0]):
            pin_rv = True
        else:
            await _take_from_budget(rest, pdb_rt, pdbs[0], name, opts["dryRun"])
    del_opts = (
        with_rv_precondition(opts, _dict(pod.get("metadata")).get("resourceVersion", "")) if pin_rv else opts
    )
    try:
        await _add_condition_and_delete(rest, pod_rt, ns, name, del_opts)
    except StatusError as e:
        if _is_conflict(e) and pin_rv and rv_is_unset(opts):
            raise still_processing(pdb_name) from None
        raise
    return views.respond(_status(201), 201)
