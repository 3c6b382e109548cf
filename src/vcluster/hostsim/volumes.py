"""Simulated storage for the local host: kube-controller-manager's PersistentVolume binder plus a
local-path provisioner (what a kind cluster has), and the scheduler's VolumeBinding view.

* A default StorageClass `standard` (provisioner `vcluster.loft.sh/hostsim-local-path`,
  `WaitForFirstConsumer`, reclaim `Delete`) is created at start unless a default class exists.
* A pending claim binds to the smallest Available volume that fits it (same class, access modes,
  volume mode, size, selector) or to the volume it names; else, when its class is ours, a volume
  `pvc-<claim uid>` is provisioned (a hostPath on the chosen node, pinned to it by node affinity) —
  for `WaitForFirstConsumer` once the scheduler has put `volume.kubernetes.io/selected-node` on
  the claim. Binding writes the volume's claimRef and `Bound` phase, then the claim's volumeName,
  bind annotations and `Bound` status with the volume's capacity and access modes.
* A volume whose claim is gone is `Released`; a released volume this provisioner made with
  reclaim policy `Delete` is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vcluster.apiserver.defaults import parse_quantity
from vcluster.client import ApiError, Client, Informer, WorkQueue
from vcluster.controllers.base import claim_reference, pod_volume_claims, selector_matches
from vcluster.hostsim.events import EventRecorder, Source, object_ref
from vcluster.hostsim.predicates import REASON_NO_VOLUME, REASON_VOLUME_AFFINITY, NodeView, term_matches

log = logging.getLogger("vcluster.hostsim.volumes")

PROVISIONER = "vcluster.loft.sh/hostsim-local-path"
DEFAULT_CLASS = "standard"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
WFFC = "WaitForFirstConsumer"
HOSTNAME_LABEL = "kubernetes.io/hostname"
LOCAL_PATH_ROOT = "/var/local-path-provisioner"

InformerFor = Callable[[str, str], Informer]


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _storage(obj: dict[str, Any], path: tuple[str, ...]) -> float:
    cur: Any = obj
    for p in path:
        cur = (cur or {}).get(p) if isinstance(cur, dict) else None
    q = parse_quantity(str(cur)) if cur is not None else None
    return float(q.value) if q is not None else 0.0


def claim_class(pvc: dict[str, Any]) -> str:
    spec = pvc.get("spec") or {}
    return spec.get("storageClassName") or (_meta(pvc).get("annotations") or {}).get(
        "volume.beta.kubernetes.io/storage-class", ""
    )


def volume_fits(pv: dict[str, Any], pvc: dict[str, Any]) -> bool:
    """The PV controller's findMatchingVolume test for one Available volume and a claim."""
    ps, cs = pv.get("spec") or {}, pvc.get("spec") or {}
    if (ps.get("storageClassName") or "") != claim_class(pvc):
        return False
    if (ps.get("volumeMode") or "Filesystem") != (cs.get("volumeMode") or "Filesystem"):
        return False
    if not set(cs.get("accessModes") or []) <= set(ps.get("accessModes") or []):
        return False
    if _storage(pv, ("spec", "capacity", "storage")) < _storage(
        pvc, ("spec", "resources", "requests", "storage")
    ):
        return False
    sel = cs.get("selector")
    return sel is None or selector_matches(sel, _meta(pv).get("labels") or {})


@dataclass
class PodVolumes:
    """What the scheduler needs to know about a pod's claims."""

    error: str = ""  # the pod cannot be scheduled now (PreFilter message)
    node_terms: list[tuple[list[dict[str, Any]], str]] = field(default_factory=list)  # see PodFit
    unbound_delayed: list[dict[str, Any]] = field(default_factory=list)  # WaitForFirstConsumer claims


class VolumeBinder:
    """Keys: `pvc/<ns>/<name>` and `pv/<name>`."""

    def __init__(
        self,
        client: Client,
        informer_for: InformerFor,
        events: EventRecorder,
        nodes: Informer | None = None,
    ) -> None:
        self.client = client
        self.events = events
        self.nodes = nodes  # a delayed claim binds only a volume reachable from the chosen node
        self.pvcs = informer_for("v1", "persistentvolumeclaims")
        self.pvs = informer_for("v1", "persistentvolumes")
        self.classes = informer_for("storage.k8s.io/v1", "storageclasses")
        self.queue = WorkQueue("hostsim-volumes", base_delay=0.05, max_delay=10.0)
        self.source = Source("persistentvolume-controller", "")
        self.provisioner_source = Source(PROVISIONER, "")
        self._reported: dict[str, str] = {}  # claim key -> last reason reported (one event each)
        self._task: asyncio.Task[None] | None = None
        self.pvcs.add_handler(self._on_pvc)
        self.pvs.add_handler(self._on_pv)
        self.classes.add_handler(self._on_class)

    @property
    def informers(self) -> list[Informer]:
        return [self.pvcs, self.pvs, self.classes]

    # ------------------------------------------------------------------ handlers
    def _on_pvc(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        m = _meta(obj)
        if event == "delete":
            self._reported.pop(f"{m.get('namespace')}/{m.get('name')}", None)
            vn = (obj.get("spec") or {}).get("volumeName")
            if vn:
                self.queue.add(f"pv/{vn}")
            return
        self.queue.add(f"pvc/{m.get('namespace')}/{m.get('name')}")

    def _on_pv(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event != "delete":
            self.queue.add(f"pv/{_meta(obj).get('name')}")
        ref = (obj.get("spec") or {}).get("claimRef") or {}
        if ref.get("name"):
            self.queue.add(f"pvc/{ref.get('namespace')}/{ref.get('name')}")
        elif event != "delete":  # a new Available volume may fit a pending claim
            self._pending_claims()

    def _on_class(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event != "delete":
            self._pending_claims()

    def _pending_claims(self) -> None:
        for pvc in self.pvcs.list():
            if (pvc.get("status") or {}).get("phase") != "Bound":
                m = _meta(pvc)
                self.queue.add(f"pvc/{m.get('namespace')}/{m.get('name')}")

    # ------------------------------------------------------------------ the scheduler's view
    def pod_volumes(self, pod: dict[str, Any]) -> PodVolumes:
        """VolumeBinding PreFilter/Filter input for a pod's `persistentVolumeClaim` volumes."""
        out = PodVolumes()
        ns = _meta(pod).get("namespace", "")
        for claim, v in pod_volume_claims(pod):
            ephemeral = "ephemeral" in v
            pvc = self.pvcs.get(claim, ns)
            if pvc is None:
                out.error = (
                    f'waiting for ephemeral volume controller to create the persistentvolumeclaim "{claim}"'
                    if ephemeral
                    else f'persistentvolumeclaim "{claim}" not found'
                )
                return out
            if _meta(pvc).get("deletionTimestamp"):
                out.error = f'persistentvolumeclaim "{claim}" is being deleted'
                return out
            vn = (pvc.get("spec") or {}).get("volumeName")
            pv = self.pvs.get(vn) if vn and (pvc.get("status") or {}).get("phase") == "Bound" else None
            if pv is not None:
                terms = _node_terms(pv)
                if terms:
                    out.node_terms.append((terms, REASON_VOLUME_AFFINITY))
                continue
            sc = self.classes.get(claim_class(pvc)) if claim_class(pvc) else None
            if sc is not None and sc.get("volumeBindingMode") == WFFC and not vn:
                out.unbound_delayed.append(pvc)
                if sc.get("provisioner") != PROVISIONER:  # only existing volumes can serve it
                    volumes = self._bindable(pvc)
                    if not volumes:
                        out.node_terms.append(([], REASON_NO_VOLUME))
                    elif all(_node_terms(v) for v in volumes):
                        out.node_terms.append(
                            ([t for v in volumes for t in _node_terms(v)], REASON_NO_VOLUME)
                        )
            else:
                out.error = "pod has unbound immediate PersistentVolumeClaims"
                return out
        return out

    async def select_node(self, pvcs: list[dict[str, Any]], node: str) -> None:
        """The scheduler chose `node` for a pod with WaitForFirstConsumer claims."""
        for pvc in pvcs:
            m = _meta(pvc)
            if (m.get("annotations") or {}).get(SELECTED_NODE) == node:
                continue
            patch = {"metadata": {"annotations": {SELECTED_NODE: node}}}
            await self.client.patch(
                "v1", "persistentvolumeclaims", m.get("name", ""), patch, namespace=m.get("namespace")
            )

    # ------------------------------------------------------------------ reconcile
    async def _sync(self, key: str) -> None:
        kind, _, rest = key.partition("/")
        if kind == "pv":
            await self._sync_pv(rest)
        else:
            ns, _, name = rest.partition("/")
            await self._sync_pvc(ns, name)

    async def _sync_pvc(self, ns: str, name: str) -> None:
        pvc = self.pvcs.get(name, ns)
        if pvc is None or _meta(pvc).get("deletionTimestamp"):
            return
        if (pvc.get("status") or {}).get("phase") == "Bound":
            await self._expand(pvc)
            return
        vn = (pvc.get("spec") or {}).get("volumeName")
        if vn:
            pv = self.pvs.get(vn)
            ref = ((pv or {}).get("spec") or {}).get("claimRef") or {}
            if pv is None:
                self._report(pvc, "Warning", "FailedBinding", f'volume "{vn}" not found')
            elif ref.get("uid") and ref.get("uid") != _meta(pvc).get("uid"):
                self._report(
                    pvc, "Warning", "FailedBinding", f'volume "{vn}" already bound to a different claim.'
                )
            else:
                await self._bind(pv, pvc, by_controller=False)
            return
        cls_name = claim_class(pvc)
        sc = self.classes.get(cls_name) if cls_name else None
        node = (_meta(pvc).get("annotations") or {}).get(SELECTED_NODE, "")
        if sc is not None and sc.get("volumeBindingMode") == WFFC and not node:
            # delayed binding, for existing volumes too: the scheduler picks the node first
            self._report(
                pvc,
                "Normal",
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            )
            return
        candidates = [pv for pv in self._bindable(pvc) if not node or self._reachable(pv, node)]
        if candidates:
            best = min(
                candidates, key=lambda pv: (_storage(pv, ("spec", "capacity", "storage")), _meta(pv)["name"])
            )
            await self._bind(best, pvc, by_controller=True)
            return
        if not cls_name:
            self._report(
                pvc,
                "Normal",
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
            )
        elif sc is None:
            self._report(
                pvc, "Warning", "ProvisioningFailed", f'storageclass.storage.k8s.io "{cls_name}" not found'
            )
        elif sc.get("provisioner") != PROVISIONER:
            self._report(
                pvc,
                "Normal",
                "ExternalProvisioning",
                "Waiting for a volume to be created either by the external provisioner "
                f"'{sc.get('provisioner')}' or manually by the system administrator. If volume creation "
                "is delayed, please verify that the provisioner is running and correctly registered.",
            )
        else:
            await self._provision(pvc, sc, node)

    async def _expand(self, pvc: dict[str, Any]) -> None:
        """A bound claim asking for more than it has, on a volume this provisioner made: the
        volume grows, then the claim's status (kube's expand controller, resizer and kubelet)."""
        want = ((pvc.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
        if want is None or _storage(pvc, ("spec", "resources", "requests", "storage")) <= _storage(
            pvc, ("status", "capacity", "storage")
        ):
            return
        pv = self.pvs.get((pvc.get("spec") or {}).get("volumeName", ""))
        if pv is None or (_meta(pv).get("annotations") or {}).get(PROVISIONED_BY) != PROVISIONER:
            return  # another provisioner's volume: its resizer's business
        name = _meta(pv)["name"]
        if _storage(pv, ("spec", "capacity", "storage")) < _storage(
            pvc, ("spec", "resources", "requests", "storage")
        ):
            await self.client.patch(
                "v1", "persistentvolumes", name, {"spec": {"capacity": {"storage": want}}}
            )
        m = _meta(pvc)
        await self.client.patch(
            "v1",
            "persistentvolumeclaims",
            m.get("name", ""),
            {"status": {"capacity": {"storage": want}}},
            namespace=m.get("namespace"),
            subresource="status",
        )
        self.events.event(
            _pvc_ref(pvc),
            "Normal",
            "FileSystemResizeSuccessful",
            f'MountVolume.NodeExpandVolume succeeded for volume "{name}"',
            Source("kubelet", ""),
        )
        log.info("expanded volume %s of claim %s/%s to %s", name, m.get("namespace"), m.get("name"), want)

    def _bindable(self, pvc: dict[str, Any]) -> list[dict[str, Any]]:
        """Available volumes that fit the claim (findMatchingVolume's candidates)."""
        return [
            pv
            for pv in self.pvs.list()
            if (pv.get("status") or {}).get("phase") in (None, "", "Available")
            and not _meta(pv).get("deletionTimestamp")
            and _claim_ref_allows(pv, pvc)
            and volume_fits(pv, pvc)
        ]

    def _reachable(self, pv: dict[str, Any], node: str) -> bool:
        """The volume's required node affinity admits `node` (no affinity: any node)."""
        terms = _node_terms(pv)
        if not terms:
            return True
        n = self.nodes.get(node) if self.nodes is not None else None
        if n is None:
            return False
        view = NodeView.from_node(n)
        return any(term_matches(t, view) for t in terms if isinstance(t, dict))

    async def _provision(self, pvc: dict[str, Any], sc: dict[str, Any], node: str) -> None:
        m, spec = _meta(pvc), pvc.get("spec") or {}
        name = f"pvc-{m.get('uid')}"
        pv_spec: dict[str, Any] = {
            "capacity": {
                "storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
            },
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
            "storageClassName": _meta(sc).get("name"),
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "hostPath": {
                "path": f"{LOCAL_PATH_ROOT}/{name}_{m.get('namespace')}_{m.get('name')}",
                "type": "DirectoryOrCreate",
            },
            "claimRef": claim_reference(pvc),
        }
        if sc.get("mountOptions"):
            pv_spec["mountOptions"] = list(sc["mountOptions"])
        if node:
            pv_spec["nodeAffinity"] = {
                "required": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}
                    ]
                }
            }
        pv = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
            "spec": pv_spec,
        }
        try:
            created = await self.client.create("v1", "persistentvolumes", pv)
        except ApiError as e:
            if not e.already_exists:
                raise
            created = await self.client.get("v1", "persistentvolumes", name)
        else:
            self.events.event(
                _pvc_ref(pvc),
                "Normal",
                "ProvisioningSucceeded",
                f"Successfully provisioned volume {name}",
                self.provisioner_source,
            )
        await self._bind(created, pvc, by_controller=True)

    async def _bind(self, pv: dict[str, Any], pvc: dict[str, Any], *, by_controller: bool) -> None:
        """bindVolumeToClaim, then bindClaimToVolume (each object's spec, then its status)."""
        pvm, m = _meta(pv), _meta(pvc)
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if ref.get("uid") != m.get("uid") or ref.get("name") != m.get("name"):
            patch: dict[str, Any] = {
                "metadata": {"resourceVersion": pvm.get("resourceVersion")},
                "spec": {"claimRef": claim_reference(pvc)},
            }
            if by_controller:
                patch["metadata"]["annotations"] = {BOUND_BY_CONTROLLER: "yes"}
            pv = await self.client.patch("v1", "persistentvolumes", pvm["name"], patch)
        if (pv.get("status") or {}).get("phase") != "Bound":
            await self.client.patch(
                "v1", "persistentvolumes", pvm["name"], {"status": {"phase": "Bound"}}, subresource="status"
            )
        annotations = {BIND_COMPLETED: "yes"}
        if by_controller:
            annotations[BOUND_BY_CONTROLLER] = "yes"
        ps = pv.get("spec") or {}
        cpatch = {
            "metadata": {"annotations": annotations, "resourceVersion": m.get("resourceVersion")},
            "spec": {"volumeName": pvm["name"]},
        }
        ns, name = m.get("namespace"), m.get("name", "")
        await self.client.patch("v1", "persistentvolumeclaims", name, cpatch, namespace=ns)
        status = {"phase": "Bound", "accessModes": ps.get("accessModes"), "capacity": ps.get("capacity")}
        await self.client.patch(
            "v1", "persistentvolumeclaims", name, {"status": status}, namespace=ns, subresource="status"
        )
        self._reported.pop(f"{ns}/{name}", None)
        log.info("bound claim %s/%s to volume %s", ns, name, pvm["name"])

    async def _sync_pv(self, name: str) -> None:
        pv = self.pvs.get(name)
        if pv is None or _meta(pv).get("deletionTimestamp"):
            return
        spec, phase = pv.get("spec") or {}, (pv.get("status") or {}).get("phase")
        ref = spec.get("claimRef") or {}
        if not ref.get("name"):
            if phase not in ("Available", "Released", "Failed"):
                await self._set_phase(name, "Available")
            return
        pvc = self.pvcs.get(ref["name"], ref.get("namespace"))
        if pvc is not None and (not ref.get("uid") or ref.get("uid") == _meta(pvc).get("uid")):
            if not ref.get("uid") and phase not in ("Available", "Bound"):
                await self._set_phase(name, "Available")  # pre-bound by an administrator
            return
        if not ref.get("uid"):
            if phase not in ("Available",):
                await self._set_phase(name, "Available")
            return
        # the claim is gone: release, and reclaim what this provisioner made (a released volume is
        # no longer Bound, so pv-protection lets the delete finish)
        if phase != "Released":
            await self._set_phase(name, "Released")
        if spec.get("persistentVolumeReclaimPolicy") == "Delete" and (
            (_meta(pv).get("annotations") or {}).get(PROVISIONED_BY) == PROVISIONER
        ):
            log.info("deleting released volume %s (reclaim policy Delete)", name)
            try:
                await self.client.delete("v1", "persistentvolumes", name)
            except ApiError as e:
                if not e.not_found:
                    raise

    async def _set_phase(self, name: str, phase: str) -> None:
        try:
            await self.client.patch(
                "v1", "persistentvolumes", name, {"status": {"phase": phase}}, subresource="status"
            )
        except ApiError as e:
            if not e.not_found:
                raise

    def _report(self, pvc: dict[str, Any], etype: str, reason: str, message: str) -> None:
        key = f"{_meta(pvc).get('namespace')}/{_meta(pvc).get('name')}"
        if self._reported.get(key) == reason:
            return
        self._reported[key] = reason
        src = self.provisioner_source if reason == "ProvisioningFailed" else self.source
        self.events.event(_pvc_ref(pvc), etype, reason, message, src)

    # ------------------------------------------------------------------ lifecycle
    async def ensure_default_class(self) -> None:
        """Create `standard` (default, ours) unless some class is already the default."""
        for sc in self.classes.list():
            if (_meta(sc).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true":
                return
        body = {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": DEFAULT_CLASS, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
            "provisioner": PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": WFFC,
        }
        try:
            await self.client.create("storage.k8s.io/v1", "storageclasses", body)
        except ApiError as e:
            if not e.already_exists:
                raise

    async def start(self, workers: int = 4) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.queue.run(self._sync, workers), name="hostsim volumes")

    async def stop(self) -> None:
        self.queue.shutdown()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _node_terms(pv: dict[str, Any]) -> list[dict[str, Any]]:
    """A volume's required nodeSelectorTerms ([] when it can be used anywhere)."""
    req = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}
    return [t for t in req.get("nodeSelectorTerms") or [] if isinstance(t, dict)]


def _pvc_ref(pvc: dict[str, Any]) -> dict[str, Any]:
    """The claim as an event's involvedObject (informer list items carry no kind)."""
    return {**object_ref(pvc), "kind": "PersistentVolumeClaim", "apiVersion": "v1"}


def _claim_ref_allows(pv: dict[str, Any], pvc: dict[str, Any]) -> bool:
    """An unclaimed volume, or one pre-bound (by name, maybe uid) to this claim."""
    ref = (pv.get("spec") or {}).get("claimRef") or {}
    if not ref.get("name"):
        return True
    m = _meta(pvc)
    return (
        ref.get("name") == m.get("name")
        and ref.get("namespace") == m.get("namespace")
        and (not ref.get("uid") or ref.get("uid") == m.get("uid"))
    )
