"""Per-kind object rules applied on create, update and delete (kube-apiserver's registry strategies)."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

from vcluster.apiserver import apiregistration, certificates
from vcluster.apiserver.errors import Cause, StatusError, field_forbidden, invalid
from vcluster.apiserver.resources import ResourceType
from vcluster.apiserver.validate_batch import validate_job_update_status

NS_NAME_LABEL = "kubernetes.io/metadata.name"
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")


_STAMP: list[Any] = [-1, ""]  # the last second formatted, and its text


def now_rfc3339(delta_seconds: int = 0) -> str:
    """The current UTC time (plus `delta_seconds`), to the second; formatted once per second."""
    sec = int(time.time()) + delta_seconds
    if sec != _STAMP[0]:
        text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sec))
        if not delta_seconds:
            _STAMP[0], _STAMP[1] = sec, text
        return text
    return str(_STAMP[1])


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    md = obj.get("metadata")
    if not isinstance(md, dict):
        md = obj["metadata"] = {}
    return md


# ---------------------------------------------------------------------------- create
def prepare_for_create(rt: ResourceType, obj: dict[str, Any]) -> None:
    md = meta(obj)
    for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
        md.pop(k, None)
    md["uid"] = str(uuid.uuid4())
    md["creationTimestamp"] = now_rfc3339()
    if rt.has_generation:
        md["generation"] = 1
    if rt.has_status() and rt.kind not in ("Node", "Pod", "Namespace"):
        obj.pop("status", None)
    hook = _CREATE_HOOKS.get((rt.group, rt.kind))
    if hook is not None:
        hook(obj)


def _namespace_create(obj: dict[str, Any]) -> None:
    md = meta(obj)
    labels = md.get("labels") if isinstance(md.get("labels"), dict) else {}
    labels[NS_NAME_LABEL] = md.get("name", "")
    md["labels"] = labels
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    fins = spec.get("finalizers") if isinstance(spec.get("finalizers"), list) else []
    if "kubernetes" not in fins:
        fins.append("kubernetes")
    spec["finalizers"] = fins
    obj["spec"] = spec
    obj["status"] = {"phase": "Active"}


def _secret_create(obj: dict[str, Any]) -> None:
    _secret_fold_string_data(obj)
    if not obj.get("type"):
        obj["type"] = "Opaque"


def _secret_fold_string_data(obj: dict[str, Any]) -> None:
    sd = obj.pop("stringData", None)
    if isinstance(sd, dict) and sd:
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        for k, v in sd.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        obj["data"] = data


def _pod_create(obj: dict[str, Any]) -> None:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    status: dict[str, Any] = {"phase": "Pending", "qosClass": qos_class(spec)}
    obj["status"] = status


def qos_class(spec: dict[str, Any]) -> str:
    """BestEffort, Burstable or Guaranteed, from the containers' requests and limits."""
    containers = [
        c for key in ("initContainers", "containers") for c in _list(spec.get(key)) if isinstance(c, dict)
    ]
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") if isinstance(c.get("resources"), dict) else {}
        req = res.get("requests") if isinstance(res.get("requests"), dict) else {}
        lim = res.get("limits") if isinstance(res.get("limits"), dict) else {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or (r in req and str(req[r]) != str(lim[r])):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed and containers else "Burstable"


def default_service(obj: dict[str, Any]) -> None:
    """Service defaults users see in every listing (the full schema defaulting comes with issue 3)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    stype = spec.setdefault("type", "ClusterIP")
    if stype != "ExternalName":
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if stype in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    ports = spec.get("ports")
    if isinstance(ports, list):
        for p in ports:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "targetPort" not in p and "port" in p:
                    p["targetPort"] = p["port"]


def _service_create(obj: dict[str, Any]) -> None:
    default_service(obj)
    obj["status"] = {"loadBalancer": {}}


_CREATE_HOOKS = {
    ("", "Service"): _service_create,
    ("", "Namespace"): _namespace_create,
    ("", "Secret"): _secret_create,
    ("", "Pod"): _pod_create,
    (certificates.GROUP, certificates.KIND): certificates.prepare_for_create,
    (apiregistration.GROUP, apiregistration.KIND): apiregistration.prepare_for_create,
}


# ---------------------------------------------------------------------------- update
_SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


# Kinds whose update strategies are their own modules': hook(old, new, subresource) -> True when it
# handled the subresource completely (the generic rules below are skipped).
_UPDATE_HOOKS = {
    (certificates.GROUP, certificates.KIND): certificates.prepare_for_update,
    (apiregistration.GROUP, apiregistration.KIND): apiregistration.prepare_for_update,
}


# Status strategies that reset labels to the stored ones (newX.Labels = oldX.Labels upstream).
_STATUS_KEEPS_LABELS = frozenset(
    {
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("", "ReplicationController"),
    }
)


def prepare_for_update(rt: ResourceType, old: dict[str, Any], new: dict[str, Any], subresource: str) -> None:
    """Carry over what an update may not change and bump generation on spec changes."""
    omd, nmd = meta(old), meta(new)
    for k in _SYSTEM_META:
        if k in omd:
            nmd[k] = omd[k]
        else:
            nmd.pop(k, None)
    nmd.pop("selfLink", None)
    hook = _UPDATE_HOOKS.get((rt.group, rt.kind))
    if hook is not None and hook(old, new, subresource):
        return
    if subresource == "binding":  # scheduler binding sets spec.nodeName and the PodScheduled condition
        return
    if subresource == "status":
        # The status endpoint keeps the stored spec; of the metadata, annotations (and labels,
        # except for the workload kinds whose status strategies reset them) may change, as the
        # registry status strategies of 1.32 allow.
        # managedFields stay the new object's (ResetObjectMetaForStatus: "managedFields must be
        # preserved since it's been modified to track changed fields in the status update").
        status = new.get("status")
        labels, annotations = nmd.get("labels"), nmd.get("annotations")
        has_managed, managed = "managedFields" in nmd, nmd.get("managedFields")
        new.clear()
        new.update(old)
        md = new["metadata"] = dict(omd)
        if has_managed:
            md["managedFields"] = managed
        else:
            md.pop("managedFields", None)
        for key, value in (("annotations", annotations), ("labels", labels)):
            if key == "labels" and (rt.group, rt.kind) in _STATUS_KEEPS_LABELS:
                continue
            if value:
                md[key] = value
            else:
                md.pop(key, None)
        if status is None:
            new.pop("status", None)
        else:
            new["status"] = status
        return
    if subresource == "ephemeralcontainers":
        _keep_ephemeral_containers_only(old, new)
        return
    if subresource == "finalize" and rt.kind == "Namespace":
        spec = new.get("spec") if isinstance(new.get("spec"), dict) else {}
        fins = spec.get("finalizers")
        new.clear()
        new.update(old)
        new_spec = dict(old.get("spec") or {})
        if fins:
            new_spec["finalizers"] = fins
        else:
            new_spec.pop("finalizers", None)
        new["spec"] = new_spec
        return
    if rt.has_status():
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    if rt.kind == "Namespace" and rt.group == "":
        labels = nmd.get("labels") if isinstance(nmd.get("labels"), dict) else {}
        labels[NS_NAME_LABEL] = nmd.get("name", "")
        nmd["labels"] = labels
        # spec.finalizers change only through /finalize.
        if isinstance(old.get("spec"), dict):
            new["spec"] = old["spec"]
    if rt.kind == "Secret" and rt.group == "":
        _secret_fold_string_data(new)
    if rt.kind == "Service" and rt.group == "":
        default_service(new)
    if omd.get("deletionTimestamp"):
        old_f = {f for f in _list(omd.get("finalizers")) if isinstance(f, str)}
        added = [f for f in _list(nmd.get("finalizers")) if isinstance(f, str) and f not in old_f]
        if added:
            raise invalid(
                rt.kind,
                rt.group,
                str(nmd.get("name", "")),
                [
                    field_forbidden(
                        "metadata.finalizers",
                        "no new finalizers can be added if the object is being "
                        "deleted, found new finalizers " + _go_list(added),
                    )
                ],
            )
    if rt.has_generation and _spec_changed(old, new):
        nmd["generation"] = int(omd.get("generation") or 0) + 1


def validate_status_update(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    """The status strategy's ValidateUpdate causes after the metadata ones (kinds without status
    rules here: none). Run on the object `prepare_for_update(..., "status")` made."""
    if (rt.group, rt.kind) == ("batch", "Job"):
        return validate_job_update_status(new, old)
    if (rt.group, rt.kind) == (certificates.GROUP, certificates.KIND):
        return certificates.validate_status_update(new, old)
    if (rt.group, rt.kind) == (apiregistration.GROUP, apiregistration.KIND):
        return apiregistration.validate_status_update(new, old)
    if rt.group == "flowcontrol.apiserver.k8s.io":
        from vcluster.apiserver.validate_flowcontrol import validate_status_update as fc_status

        return fc_status(new, old)
    if (rt.group, rt.kind) == ("storage.k8s.io", "VolumeAttachment"):
        from vcluster.apiserver.validate_storage_csi import validate_volume_attachment_update

        return validate_volume_attachment_update(new, old)
    if (rt.group, rt.kind) == ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"):
        from vcluster.apiserver.vapvalidation import validate_policy_status

        return validate_policy_status(new, old)
    return []


# ResetObjectMetaForStatus: the metadata a status-like endpoint takes from the stored object.
_RESET_FOR_STATUS_META = (
    "deletionTimestamp",
    "generation",
    "labels",
    "annotations",
    "finalizers",
    "ownerReferences",
)


def _keep_ephemeral_containers_only(old: dict[str, Any], new: dict[str, Any]) -> None:
    """The pods/ephemeralcontainers strategy (dropNonEphemeralContainerUpdates): the stored pod
    with the new `spec.ephemeralContainers`; the rest of the new metadata stays (managedFields,
    and what validation then refuses to change, such as the name or uid)."""
    ecs = _dict(new.get("spec")).get("ephemeralContainers")
    md = dict(meta(new))
    omd = meta(old)
    for key in _RESET_FOR_STATUS_META:
        if key in omd:
            md[key] = omd[key]
        else:
            md.pop(key, None)
    spec = dict(_dict(old.get("spec")))
    if ecs is None:
        spec.pop("ephemeralContainers", None)
    else:
        spec["ephemeralContainers"] = ecs
    new.clear()
    new.update(old)
    new["metadata"] = md
    new["spec"] = spec


def _go_list(items: list[str]) -> str:
    return "[]string{" + ", ".join(f'"{i}"' for i in items) + "}"


def _spec_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    keys = (set(old) | set(new)) - {"metadata", "status", "apiVersion", "kind"}
    return any(old.get(k) != new.get(k) for k in keys)


def should_delete_during_update(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """An update that removes the last finalizer of an object being deleted (grace 0) deletes it."""
    nmd, omd = meta(new), meta(old)
    if nmd.get("finalizers") or not nmd.get("deletionTimestamp"):
        return False
    if new.get("kind") == "Namespace" and (new.get("spec") or {}).get("finalizers"):
        return False
    return int(omd.get("deletionGracePeriodSeconds") or 0) == 0


# ---------------------------------------------------------------------------- delete
def check_deletable(rt: ResourceType, obj: dict[str, Any]) -> None:
    if rt.group == "" and rt.kind == "Namespace":
        name = meta(obj).get("name", "")
        if name in IMMORTAL_NAMESPACES:
            raise StatusError(
                403,
                "Forbidden",
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                {"name": name, "kind": "namespaces"},
            )


def pod_grace_period(obj: dict[str, Any], requested: int | None) -> int:
    """Graceful deletion of pods: 0 when unscheduled or finished, else the requested or spec value."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        return 0
    if requested is None:
        g = spec.get("terminationGracePeriodSeconds")
        requested = int(g) if isinstance(g, int) else 30
    if requested < 0:
        return 1
    return requested


# The kinds whose registry strategy has AllowCreateOnUpdate() true in kube 1.32 (pkg/registry/*/
# strategy.go): a PUT to a missing name creates the object. Every other kind answers 404.
_CREATE_ON_UPDATE = frozenset(
    {
        ("", "Endpoints"),
        ("", "Event"),
        ("", "LimitRange"),
        ("", "Service"),
        ("events.k8s.io", "Event"),
        ("coordination.k8s.io", "Lease"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("node.k8s.io", "RuntimeClass"),
    }
)


def allow_create_on_update(rt: ResourceType) -> bool:
    """Whether a PUT of the main resource may create a missing object (AllowCreateOnUpdate)."""
    return rt.custom is None and (rt.group, rt.kind) in _CREATE_ON_UPDATE


def default_propagation(rt: ResourceType) -> str:
    """What a DELETE without propagationPolicy means (batch/v1 Jobs orphan by default)."""
    if rt.group == "batch" and rt.kind == "Job":
        return "Orphan"
    return "Background"


def crd_terminating(obj: dict[str, Any]) -> None:
    """The Terminating condition a CRD gets when its deletion starts (objects still to delete)."""
    status = _dict(obj.get("status"))
    conds = [c for c in _list(status.get("conditions")) if _dict(c).get("type") != "Terminating"]
    conds.append(
        {
            "type": "Terminating",
            "status": "True",
            "lastTransitionTime": now_rfc3339(),
            "reason": "InstanceDeletionInProgress",
            "message": "CustomResourceDefinition marked for deletion; instances are being deleted",
        }
    )
    status["conditions"] = conds
    obj["status"] = status
