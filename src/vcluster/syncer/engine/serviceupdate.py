"""vCluster's API-proxy interception of a Service update away from ExternalName (spec §5.1,
pkg/server/filters/service.go `updateService`): the host Service is switched to the new type first
(its API server allocates the ClusterIP), then the virtual Service is stored in place, same UID,
with the host's ClusterIP, ports and healthCheckNodePort. The virtual API server calls this for a
client's PUT that carries the stored resourceVersion, not for a dry run or a PATCH (vCluster's
proxy takes only the `update` verb); see `Rest.service_update_hook`."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from vcluster.apiserver.errors import StatusError
from vcluster.client import ApiError
from vcluster.syncer import kinds, metadata
from vcluster.syncer.resources import service as svcres

log = logging.getLogger("vcluster.syncer")

Undo = Callable[[], Awaitable[None]]


def host_refusal(
    e: ApiError, host_namespace: str, hname: str, vm: Mapping[str, Any], what: str
) -> StatusError:
    """The host's refusal (or unreachability: 503) of `what`, told with the virtual names."""
    msg = (e.message or str(e)).replace(
        f"{host_namespace}/{hname}", f"{vm.get('namespace')}/{vm.get('name')}"
    )
    msg = msg.replace(hname, vm.get("name", ""))
    if e.status == 0:
        return StatusError(
            503, "ServiceUnavailable", f"the host cluster is unreachable, try again later: {msg}", {}
        )
    return StatusError(e.status, e.reason or "", f"the host cluster refused {what}: {msg}", {})


async def intercept_service_update(syncer: Any, old: dict[str, Any], new: dict[str, Any]) -> Undo | None:
    """Switch the host Service when `new` moves `old` away from ExternalName and give `new` the
    host's allocations before it is stored; returns the undo for a failed virtual update, which
    puts the host Service back as it was (vCluster deletes it instead; here that would delete the
    virtual Service too, "host object was deleted")."""
    vm = metadata.meta(old)
    key = (vm.get("namespace", ""), vm.get("name", ""))
    if "services" not in syncer.controllers or key == ("default", "kubernetes"):
        return None
    if metadata.is_controlled_by_other(old) or not svcres.intercepts_update(old, new):
        return None
    hname = syncer.ctx.host_name_for(kinds.SERVICE, key[1], key[0])
    hns = syncer.host_namespace
    try:
        before = await syncer.host.get("v1", "services", hname, hns)
    except ApiError as e:
        if e.not_found:
            # vCluster answers 404 here, which a PUT of a Service turns into a create (kube's
            # AllowCreateOnUpdate); the update is stored as it is and the syncer makes the host copy
            return None
        raise host_refusal(e, hns, hname, vm, "the Service") from None
    if not syncer.same_virtual(before, old):
        return None  # not this virtual Service's host copy: nothing of ours to switch
    ref = {"metadata": {"name": hname, "namespace": hns}}  # no resourceVersion: a plain merge patch
    syncer.service_switches.begin(key, time.monotonic())
    try:
        switched = await syncer.writer.patch_host(
            kinds.SERVICE, ref, svcres.type_switch_host_patch(new, syncer.ctx, keep_node_ports=True)
        )
    except ApiError as e:
        syncer.service_switches.end(key)
        raise host_refusal(e, hns, hname, vm, "the Service") from None
    except BaseException:
        syncer.service_switches.end(key)
        raise
    svcres.take_host_allocations(new.setdefault("spec", {}), switched)
    vref, href = f"{key[0]}/{key[1]}", f"{hns}/{hname}"
    fields = {"action": "Update host", "kind": "service", "virtual": vref, "host": href}
    log.info(
        "Switch host service %s (host %s) from ExternalName to %s, by the API interception",
        vref,
        href,
        svcres.service_type(new),
        extra={"fields": fields},
    )

    async def undo() -> None:
        try:
            with contextlib.suppress(ApiError):
                await syncer.writer.patch_host(kinds.SERVICE, ref, svcres.type_switch_undo_patch(before))
        finally:
            syncer.service_switches.end(key)

    return undo
