"""EphemeralVolumeController (kube-controller-manager `ephemeral-volume`): for every generic
ephemeral volume of a pod, the PersistentVolumeClaim `<pod>-<volume>` made from the volume's
`volumeClaimTemplate`, owned by the pod (the garbage collector removes it with the pod). A claim of
that name that the pod does not own is left alone, with a warning event on the pod, as upstream
(the pod cannot start).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from vcluster.controllers.base import (
    EVENT_WARNING,
    BaseController,
    is_controlled_by,
    is_deleting,
    key_of,
    namespace_of,
    owner_reference,
    pod_volume_claims,
    split_key,
)

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers


def ephemeral_claims(pod: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(claim name, volumeClaimTemplate) of each ephemeral volume of a pod."""
    return [
        (claim, v["ephemeral"].get("volumeClaimTemplate") or {})
        for claim, v in pod_volume_claims(pod)
        if "ephemeral" in v
    ]


class EphemeralVolumeController(BaseController):
    """Keyed by the pod."""

    name = "ephemeral-volume"
    component = "ephemeral_volume"

    def __init__(self, client: Client, informers: SharedInformers, **options: Any) -> None:
        super().__init__(client, informers, **options)
        self.pods = informers.informer("v1", "pods")
        self.pvcs = informers.informer("v1", "persistentvolumeclaims")
        self.pods.add_handler(self._on_pod)
        self.pvcs.add_handler(self._on_pvc)

    def _on_pod(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event != "delete" and ephemeral_claims(obj):
            self.enqueue(obj)

    def _on_pvc(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event == "delete":  # a claim deleted under a running pod is made again
            for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
                if ref.get("kind") == "Pod" and ref.get("controller"):
                    self.queue.add(f"{namespace_of(obj)}/{ref.get('name', '')}")

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        pod = self.pods.get(name, ns)
        if pod is None or is_deleting(pod):
            return
        for claim, template in ephemeral_claims(pod):
            existing = self.pvcs.get(claim, ns)
            if existing is not None:
                if not is_controlled_by(existing, pod):
                    self.recorder.event(
                        pod,
                        EVENT_WARNING,
                        "FailedBinding",
                        f"PVC {ns}/{claim} was not created for pod {key_of(pod)} (pod is not owner)",
                        kind="Pod",
                        api_version="v1",
                    )
                continue
            tmeta = template.get("metadata") or {}
            body = {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": claim,
                    "namespace": ns,
                    "ownerReferences": [owner_reference(pod, "Pod", "v1")],
                    **{k: copy.deepcopy(tmeta[k]) for k in ("labels", "annotations") if tmeta.get(k)},
                },
                "spec": copy.deepcopy(template.get("spec") or {}),
            }
            self.log.info("creating PVC %s/%s for the ephemeral volume of pod %s", ns, claim, name)
            await self.client.create("v1", "persistentvolumeclaims", body, ns)
