"""The storage-object-in-use protection controllers (kube-controller-manager `pvc-protection` and
`pv-protection`): admission puts `kubernetes.io/pvc-protection` on every PersistentVolumeClaim and
`kubernetes.io/pv-protection` on every PersistentVolume; these controllers take the finalizer off a
deleted claim once no scheduled, unfinished pod uses it (a pod's `persistentVolumeClaim` volumes and
the `<pod>-<volume>` claims of its ephemeral volumes), and off a deleted volume once it is no longer
Bound. Without them a deleted claim or volume would stay Terminating forever.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vcluster.apiserver.admission import PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER
from vcluster.controllers.base import (
    BaseController,
    is_deleting,
    meta,
    name_of,
    namespace_of,
    pod_volume_claims,
    split_key,
)

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

_CLAIMS_INDEX = "pvc-protection/claims"


def claim_names(pod: dict[str, Any]) -> list[str]:
    """The PVCs a pod's volumes use."""
    return [claim for claim, _ in pod_volume_claims(pod)]


def pod_uses_claims(pod: dict[str, Any]) -> bool:
    """Scheduled (a kubelet may mount its volumes) and not finished."""
    return bool((pod.get("spec") or {}).get("nodeName")) and (pod.get("status") or {}).get("phase") not in (
        "Succeeded",
        "Failed",
    )


async def _drop_finalizer(client: Client, plural: str, obj: dict[str, Any], finalizer: str) -> None:
    """Merge-patch the finalizer list without `finalizer`, against the read resourceVersion (a
    concurrent change is a 409, and the key is retried)."""
    m = meta(obj)
    rest = [f for f in m.get("finalizers") or [] if f != finalizer]
    patch = {"metadata": {"finalizers": rest or None, "resourceVersion": m.get("resourceVersion")}}
    await client.patch("v1", plural, m.get("name", ""), patch, namespace=m.get("namespace") or None)


class PVCProtectionController(BaseController):
    """Keyed by `namespace/name` of a claim being deleted."""

    name = "pvc-protection"
    component = "pvc-protection-controller"

    def __init__(self, client: Client, informers: SharedInformers, **options: Any) -> None:
        super().__init__(client, informers, **options)
        self.pvcs = informers.informer("v1", "persistentvolumeclaims")
        self.pods = informers.informer("v1", "pods")
        self.pods.add_index(_CLAIMS_INDEX, lambda pod: [f"{namespace_of(pod)}/{c}" for c in claim_names(pod)])
        self.pvcs.add_handler(self._on_pvc)
        self.pods.add_handler(self._on_pod)

    def _on_pvc(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if (
            event != "delete"
            and is_deleting(obj)
            and PVC_PROTECTION_FINALIZER in (meta(obj).get("finalizers") or [])
        ):
            self.enqueue(obj)

    def _on_pod(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event == "delete" or not pod_uses_claims(obj):  # a pod that stops using its claims
            ns = namespace_of(obj)
            for c in claim_names(obj):
                self.queue.add(f"{ns}/{c}")

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        pvc = self.pvcs.get(name, ns)
        if (
            pvc is None
            or not is_deleting(pvc)
            or PVC_PROTECTION_FINALIZER not in (meta(pvc).get("finalizers") or [])
        ):
            return
        users = [p for p in self.pods.by_index(_CLAIMS_INDEX, key) if pod_uses_claims(p)]
        if users:
            self.log.info("PVC %s is in use by pod %s/%s", key, ns, name_of(users[0]))
            return  # re-examined when those pods finish or go
        self.log.info("removing %s from PVC %s", PVC_PROTECTION_FINALIZER, key)
        await _drop_finalizer(self.client, "persistentvolumeclaims", pvc, PVC_PROTECTION_FINALIZER)


class PVProtectionController(BaseController):
    """Keyed by the name of a volume being deleted."""

    name = "pv-protection"
    component = "pv-protection-controller"

    def __init__(self, client: Client, informers: SharedInformers, **options: Any) -> None:
        super().__init__(client, informers, **options)
        self.pvs = informers.informer("v1", "persistentvolumes")
        self.pvs.add_handler(self._on_pv)

    def _on_pv(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if (
            event != "delete"
            and is_deleting(obj)
            and PV_PROTECTION_FINALIZER in (meta(obj).get("finalizers") or [])
        ):
            self.enqueue(obj)

    async def sync(self, key: str) -> None:
        _, name = split_key(key)
        pv = self.pvs.get(name)
        if (
            pv is None
            or not is_deleting(pv)
            or PV_PROTECTION_FINALIZER not in (meta(pv).get("finalizers") or [])
        ):
            return
        if (pv.get("status") or {}).get("phase") == "Bound":
            return  # re-examined when the binder releases it
        self.log.info("removing %s from PV %s", PV_PROTECTION_FINALIZER, name)
        await _drop_finalizer(self.client, "persistentvolumes", pv, PV_PROTECTION_FINALIZER)
