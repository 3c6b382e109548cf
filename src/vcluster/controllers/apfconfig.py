"""kube-apiserver's two API Priority and Fairness loops, run in the API server process and writing in
process as kube-apiserver does through its loopback client:

- the bootstrap configuration ensurer (pkg/registry/flowcontrol/ensurer and the
  `priority-and-fairness-config-producer` post-start hook): at start and then every minute, the
  mandatory objects (`exempt`, `catch-all`) are created when missing and their spec restored, the
  suggested ones are created when missing and their spec updated only while
  `apf.kubernetes.io/autoupdate-spec` is true (a missing or unparsable annotation counts as true
  at generation 1 and is then written), and objects that carry `autoupdate-spec: "true"` but are no
  longer part of the configuration are deleted;
- the configuration controller's status writer (apf_controller.go): every FlowSchema's `Dangling`
  condition says whether its priority level exists (reason NotFound / Found), written with a
  strategic merge patch of `/status` by `api-priority-and-fairness-config-consumer-v1`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from typing import Any

from vcluster.apiserver import flowcontrolbootstrap as boot
from vcluster.apiserver.apf import FlowControl
from vcluster.apiserver.gostr import go_quote
from vcluster.apiserver.validate_flowcontrol import default_flow_schema, default_priority_level
from vcluster.client.errors import ApiError
from vcluster.tasks import cancel_and_wait

log = logging.getLogger("vcluster.apiserver.apf")

PRODUCER = "api-priority-and-fairness-config-producer-v1"
CONSUMER = "api-priority-and-fairness-config-consumer-v1"
ENSURE_PERIOD = 60.0
JSON = dict[str, Any]

_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _parse_bool(value: Any) -> bool | None:
    """strconv.ParseBool; None when it fails."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def _annotations(obj: JSON) -> JSON:
    a = (obj.get("metadata") or {}).get("annotations")
    return a if isinstance(a, dict) else {}


def revise(current: JSON, bootstrap: JSON, mandatory: bool) -> JSON | None:
    """strategy.ReviseIfNeeded: the object to write, or None when it is as it should be."""
    auto = True if mandatory else _should_update_spec(current)
    update_annotation = _parse_bool(_annotations(current).get(boot.AUTO_UPDATE_ANNOTATION)) != auto
    spec_changed = auto and _specs_differ(bootstrap, current)
    if not (update_annotation or spec_changed):
        return None
    new = copy.deepcopy(current)
    if spec_changed:
        new["spec"] = copy.deepcopy(bootstrap["spec"])
    if update_annotation:
        meta = new.setdefault("metadata", {})
        annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
        annotations[boot.AUTO_UPDATE_ANNOTATION] = "true" if auto else "false"
        meta["annotations"] = annotations
    return new


def _should_update_spec(current: JSON) -> bool:
    parsed = _parse_bool(_annotations(current).get(boot.AUTO_UPDATE_ANNOTATION))
    if parsed is not None:
        return parsed
    return (current.get("metadata") or {}).get("generation") == 1


def _specs_differ(bootstrap: JSON, current: JSON) -> bool:
    """The defaulted bootstrap spec against the stored one; the `exempt` level's `spec.exempt` is
    the administrator's."""
    expected = copy.deepcopy(bootstrap)
    if expected["kind"] == "FlowSchema":
        default_flow_schema(expected)
    else:
        default_priority_level(expected)
    spec = current.get("spec") if isinstance(current.get("spec"), dict) else {}
    if expected["kind"] == "PriorityLevelConfiguration" and expected["metadata"]["name"] == boot.EXEMPT:
        if spec.get("exempt") is None:
            return True
        expected["spec"]["exempt"] = spec.get("exempt")
    return boot.semantic(expected["spec"]) != boot.semantic(spec)


_KINDS = (
    ("prioritylevelconfigurations", boot.MANDATORY_PRIORITY_LEVELS, boot.SUGGESTED_PRIORITY_LEVELS),
    ("flowschemas", boot.MANDATORY_FLOW_SCHEMAS, boot.SUGGESTED_FLOW_SCHEMAS),
)


class FlowControlLoops:
    """The ensurer and the Dangling status writer of one API server."""

    def __init__(self, client: Any, flowcontrol: FlowControl, period: float = ENSURE_PERIOD) -> None:
        self.client = client
        self.fc = flowcontrol
        self.period = period
        self._status_wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """One ensure pass (as the post-start hook waits for), then the loops."""
        try:
            await self.ensure()
        except Exception:  # retried by the loop, as upstream's poll does
            log.exception("APF bootstrap ensurer ran into error, will retry later")
        self.fc.on_change.append(self._status_wake.set)
        self._status_wake.set()
        self._tasks = [
            asyncio.create_task(self._ensure_loop(), name="apf-bootstrap-ensurer"),
            asyncio.create_task(self._status_loop(), name="apf-status"),
        ]

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.fc.on_change.remove(self._status_wake.set)
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await self.client.close()

    # ------------------------------------------------------------------ ensurer
    async def ensure(self) -> None:
        """Suggested, then mandatory configuration, then the removal of retired objects."""
        for plural, _, suggested in _KINDS:
            for obj in suggested:
                await self._ensure_one(plural, obj, mandatory=False)
        for plural, mandatory, _ in _KINDS:
            for obj in mandatory:
                await self._ensure_one(plural, obj, mandatory=True)
        for plural, mandatory, suggested in _KINDS:
            await self._remove_retired(plural, {o["metadata"]["name"] for o in (*mandatory, *suggested)})

    def _current(self, plural: str) -> dict[str, JSON]:
        return self.fc.schemas if plural == "flowschemas" else self.fc.levels

    async def _ensure_one(self, plural: str, bootstrap: JSON, mandatory: bool) -> None:
        name = bootstrap["metadata"]["name"]
        current = self._current(plural).get(name)
        if current is None:
            try:
                await self.client.create(
                    boot.API_VERSION, plural, copy.deepcopy(bootstrap), field_manager=PRODUCER
                )
                log.info("created %s %s", plural, name)
            except ApiError as e:
                if e.status != 409:
                    raise
            return
        new = revise(current, bootstrap, mandatory)
        if new is not None:
            await self.client.update(boot.API_VERSION, plural, new, field_manager=PRODUCER)
            log.info("updated %s %s", plural, name)

    async def _remove_retired(self, plural: str, wanted: set[str]) -> None:
        for name, obj in list(self._current(plural).items()):
            if name in wanted or _parse_bool(_annotations(obj).get(boot.AUTO_UPDATE_ANNOTATION)) is not True:
                continue
            meta = obj.get("metadata") or {}
            pre = {
                "uid": str(meta.get("uid") or ""),
                "resourceVersion": str(meta.get("resourceVersion") or ""),
            }
            try:
                await self.client.delete(boot.API_VERSION, plural, name, preconditions=pre)
                log.info("deleted %s %s (no longer part of the bootstrap configuration)", plural, name)
            except ApiError as e:
                if e.status not in (404, 409):
                    raise

    async def _ensure_loop(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.ensure()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("APF bootstrap ensurer ran into error, will retry later")

    # ------------------------------------------------------------------ Dangling condition
    async def _status_loop(self) -> None:
        while True:
            await self._status_wake.wait()
            self._status_wake.clear()
            try:
                await self.sync_status()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("APF status update failed, will retry")
                await asyncio.sleep(1.0)
                self._status_wake.set()

    async def sync_status(self) -> None:
        """presyncFlowSchemaStatus for every FlowSchema, then the patches that are due."""
        for name, fs in list(self.fc.schemas.items()):
            cond = dangling_condition(fs, self.fc.dangling(fs))
            if cond is None:
                continue
            try:
                await self.client.patch(
                    boot.API_VERSION,
                    "flowschemas",
                    name,
                    {"status": {"conditions": [cond]}},
                    patch_type="strategic",
                    subresource="status",
                    field_manager=CONSUMER,
                )
            except ApiError as e:
                if e.status != 404:
                    raise


def dangling_condition(fs: JSON, dangling: bool) -> JSON | None:
    """The Dangling condition to write, or None when the stored one already says it."""
    level = str(((fs.get("spec") or {}).get("priorityLevelConfiguration") or {}).get("name") or "")
    head = f"This FlowSchema references the PriorityLevelConfiguration object named {go_quote(level)}"
    if dangling:
        status, reason, message = "True", "NotFound", head + " but there is no such object"
    else:
        status, reason, message = "False", "Found", head + " and it exists"
    conditions = (fs.get("status") or {}).get("conditions")
    for c in conditions if isinstance(conditions, list) else []:
        if isinstance(c, dict) and c.get("type") == "Dangling":
            if c.get("status") == status and c.get("reason") == reason and c.get("message") == message:
                return None
            break
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "type": "Dangling",
        "status": status,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


async def start_loops(server: Any) -> FlowControlLoops:
    """The loops of an API server, writing through it in process as kube-apiserver."""
    from vcluster.client import Client

    client = Client(
        server.url,
        ssl=False,
        token=server.auth.admin_token,
        user_agent="kube-apiserver",
        local=server.handle_local,
        local_stream=server.open_local_stream,
    )
    loops = FlowControlLoops(client, server.flowcontrol)
    await loops.start()
    return loops
