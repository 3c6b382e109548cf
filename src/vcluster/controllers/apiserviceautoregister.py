"""kube-apiserver's APIService autoregistration (kube-aggregator pkg/controllers/autoregister and
pkg/controlplane/controller/crdregistration of 1.32), run inside the API server process as
kube-apiserver runs it (the `kube-apiserver-autoregistration` post-start hook).

Every group version the server serves gets a local APIService `<version>.<group>` (`v1.` for core)
with the priorities of kube-apiserver's apiVersionPriorities table: the built-in ones labelled
`kube-aggregator.kubernetes.io/automanaged: onstart` (created or corrected once, at start), the
groups of CRDs (priority 1000/100) and the groups served in process (apiservices.py, e.g.
metrics.k8s.io, 100/100 as metrics-server registers itself) labelled `true` (kept in step, deleted
when the group goes). APIServices without the label are never touched.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from vcluster.apiserver import apiregistration as apireg
from vcluster.client import ApiError
from vcluster.client.workqueue import WorkQueue

if TYPE_CHECKING:
    from vcluster.apiserver.aggregator import APIServiceIndex
    from vcluster.client import Client

log = logging.getLogger("vcluster.controllers.apiserviceautoregister")

JSON = dict[str, Any]


def desired_apiservice(group: str, version: str, priority: tuple[int, int], label: str) -> JSON:
    """makeAPIService, with the autoregister label."""
    return {
        "apiVersion": apireg.API_VERSION,
        "kind": apireg.KIND,
        "metadata": {
            "name": apireg.apiservice_name(group, version),
            "labels": {apireg.AUTOMANAGED_LABEL: label},
        },
        "spec": _non_zero(
            {
                "group": group,
                "version": version,
                "groupPriorityMinimum": priority[0],
                "versionPriority": priority[1],
            }
        ),
    }


def _label(obj: JSON | None) -> str | None:
    md = obj.get("metadata") if isinstance(obj, dict) else None
    labels = md.get("labels") if isinstance(md, dict) else None
    return labels.get(apireg.AUTOMANAGED_LABEL) if isinstance(labels, dict) else None


def _spec_equal(curr: JSON, desired: JSON) -> bool:
    """reflect.DeepEqual(curr.Spec, desired.Spec) on the stored JSON (defaults included)."""
    return _non_zero(apireg.spec_of(curr)) == _non_zero(apireg.spec_of(desired))


def _non_zero(spec: JSON) -> JSON:
    """The spec as Go encodes it (omitempty fields at their zero value left out)."""
    return {k: v for k, v in spec.items() if v not in (None, False, "", 0)}


class AutoRegisterController:
    """autoRegisterController: the desired APIServices (on-start and continuous), synced by name."""

    def __init__(self, client: Client, index: APIServiceIndex) -> None:
        self.client = client
        self.index = index
        self.desired: dict[str, JSON] = {}
        self.synced: set[str] = set()  # syncedSuccessfully
        self.at_start: set[str] = set()  # apiServicesAtStart
        self.queue = WorkQueue("autoregister", base_delay=0.05, max_delay=30.0)
        index.listeners.append(lambda name, old, new: self.queue.add(name))

    # -------------------------------------------------------------- AutoAPIServiceRegistration
    def add_on_start(self, group: str, version: str, priority: tuple[int, int]) -> None:
        """AddAPIServiceToSyncOnStart."""
        self._set(desired_apiservice(group, version, priority, apireg.MANAGED_ON_START))

    def add(self, group: str, version: str, priority: tuple[int, int]) -> None:
        """AddAPIServiceToSync."""
        self._set(desired_apiservice(group, version, priority, apireg.MANAGED_CONTINUOUSLY))

    def remove(self, group: str, version: str) -> None:
        """RemoveAPIServiceToSync."""
        name = apireg.apiservice_name(group, version)
        if self.desired.pop(name, None) is not None:
            self.queue.add(name)

    def _set(self, obj: JSON) -> None:
        name = obj["metadata"]["name"]
        if self.desired.get(name) != obj:
            self.desired[name] = obj
            self.queue.add(name)

    def sync_continuous(self, wanted: dict[tuple[str, str], tuple[int, int]]) -> None:
        """Make the continuously managed set `wanted` (group version -> priorities)."""
        names = {apireg.apiservice_name(g, v) for g, v in wanted}
        for name, obj in list(self.desired.items()):
            if _label(obj) == apireg.MANAGED_CONTINUOUSLY and name not in names:
                spec = apireg.spec_of(obj)
                self.remove(str(spec.get("group") or ""), str(spec["version"]))
        for (g, v), prio in wanted.items():
            cur = self.desired.get(apireg.apiservice_name(g, v))
            if cur is None or _label(cur) == apireg.MANAGED_CONTINUOUSLY:
                self.add(g, v, prio)

    # -------------------------------------------------------------- loop
    async def run(self, workers: int = 2) -> None:
        self.at_start = set(self.index.by_name)
        for name in [*self.index.by_name, *self.desired]:
            self.queue.add(name)
        await self.queue.run(self.check, workers)

    def stop(self) -> None:
        self.queue.shutdown()

    async def check(self, name: str) -> None:
        """checkAPIService."""
        desired = self.desired.get(name)
        curr = self.index.get(name)
        has_synced = name in self.synced
        await self._check(name, desired, curr, has_synced)
        self.synced.add(name)

    async def _check(self, name: str, desired: JSON | None, curr: JSON | None, has_synced: bool) -> None:
        if curr is None:
            if desired is None:
                return
            if _label(desired) == apireg.MANAGED_ON_START and has_synced:
                return  # the local object only wants to sync on start and has already synced
            try:
                await self.client.create(apireg.API_VERSION, apireg.RESOURCE, desired)
            except ApiError as e:
                if e.reason != "AlreadyExists":
                    raise
            return
        label = _label(curr)
        if label not in (apireg.MANAGED_ON_START, apireg.MANAGED_CONTINUOUSLY):
            return  # not ours
        if label == apireg.MANAGED_ON_START and (name not in self.at_start or has_synced):
            return  # on-start objects are synced once, and only those there at start
        if desired is None:
            uid = str((curr.get("metadata") or {}).get("uid") or "")
            try:
                await self.client.delete(
                    apireg.API_VERSION, apireg.RESOURCE, name, preconditions={"uid": uid}
                )
            except ApiError as e:
                if e.status not in (404, 409):
                    raise
            return
        if _spec_equal(curr, desired):
            return
        updated = {**curr, "spec": desired["spec"]}
        try:
            await self.client.update(apireg.API_VERSION, apireg.RESOURCE, updated)
        except ApiError as e:
            if e.status != 409:
                raise
            self.queue.add(name)
