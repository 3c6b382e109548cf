"""storage.k8s.io/v1 VolumeAttachment and CSIStorageCapacity as kube-apiserver 1.32's
pkg/apis/storage/validation (ValidateVolumeAttachment + ValidateVolumeAttachmentV1, the update's
fixed spec; ValidateCSIStorageCapacity and its update) and the VolumeAttachment table printer.
Runs after the metadata checks.
"""

from __future__ import annotations

from typing import Any

from vcluster.apiserver import validate_core as core
from vcluster.apiserver.admission import IS_NEGATIVE, NULL, _go_selector
from vcluster.apiserver.defaults import quantity_value
from vcluster.apiserver.validate_common import (
    FIELD_IMMUTABLE,
    JSON,
    Cause,
    _d,
    _forbidden,
    _invalid,
    _required,
    _s,
    _validate_label_selector,
    dns1123_subdomain,
    go_quote,
    quantity_string,
)
from vcluster.apiserver.validation import is_dns1123_subdomain

_MAX_METADATA_SIZE = 256 * (1 << 10)
_MAX_ERROR_MESSAGE = 1024
_EXACTLY_ONE = "must specify exactly one of inlineVolumeSpec and persistentVolumeName"


def _too_long(path: str, maximum: int) -> Cause:
    return Cause("FieldValueTooLong", f"Too long: may not be more than {maximum} bytes", path)


def _inline_volume_spec(spec: JSON, path: str) -> list[Cause]:
    """ValidatePersistentVolumeSpec with validateInlinePersistentVolumeSpec: no claimRef or
    capacity, a CSI source, then the rules of every volume (capacity aside)."""
    causes: list[Cause] = []
    if spec.get("claimRef") is not None:
        causes.append(_forbidden("spec.claimRef", "may not be specified in the context of inline volumes"))
    if _d(spec.get("capacity")):
        causes.append(_forbidden("spec.capacity", "may not be specified in the context of inline volumes"))
    if spec.get("csi") is None:
        causes.append(_required("spec.csi", "has to be specified in the context of inline volumes"))
    causes += core._pv_access_modes(spec)
    policy = _s(spec.get("persistentVolumeReclaimPolicy"))
    if policy and policy not in core._RECLAIM_POLICIES:
        causes.append(
            core._not_supported("spec.persistentVolumeReclaimPolicy", policy, core._RECLAIM_POLICIES)
        )
    affinity = spec.get("nodeAffinity")
    if isinstance(affinity, dict):
        causes += core._node_affinity(affinity, "spec.nodeAffinity")
    causes += core._pv_sources(spec, isinstance(affinity, dict)) + core._pv_tail(spec)
    for c in causes:  # the PV validators name their fields under "spec"
        c.field = path + c.field[len("spec") :] if c.field else path
    return causes


def _spec(spec: JSON) -> list[Cause]:
    """validateVolumeAttachmentSpec."""
    causes: list[Cause] = []
    if not _s(spec.get("attacher")):
        causes.append(_required("spec.attacher"))
    source = _d(spec.get("source"))
    inline, pv = source.get("inlineVolumeSpec"), source.get("persistentVolumeName")
    if inline is None and pv is None:
        causes.append(_required("spec.source", _EXACTLY_ONE))
    elif inline is not None and pv is not None:
        causes.append(_forbidden("spec.source", _EXACTLY_ONE))
    elif pv is not None:
        if not _s(pv):
            causes.append(
                _required("spec.source.persistentVolumeName", "must specify non empty persistentVolumeName")
            )
    else:
        causes += _inline_volume_spec(_d(inline), "spec.source.inlineVolumeSpec")
    causes += dns1123_subdomain("spec.nodeName", _s(spec.get("nodeName")))
    return causes


def _status(status: JSON) -> list[Cause]:
    """validateVolumeAttachmentStatus: metadata size and error message lengths."""
    causes: list[Cause] = []
    meta = _d(status.get("attachmentMetadata"))
    if sum(len(_s(k).encode()) + len(_s(v).encode()) for k, v in meta.items()) > _MAX_METADATA_SIZE:
        causes.append(_too_long("status.attachmentMetadata", _MAX_METADATA_SIZE))
    for key in ("attachError", "detachError"):
        err = status.get(key)
        if isinstance(err, dict) and len(_s(err.get("message"))) > _MAX_ERROR_MESSAGE:
            causes.append(_too_long(f"status.{key}.message", _MAX_METADATA_SIZE))
    return causes


def _validate_volume_attachment(obj: JSON) -> list[Cause]:
    """ValidateVolumeAttachment after the metadata."""
    return _spec(_d(obj.get("spec"))) + _status(_d(obj.get("status")))


def validate_volume_attachment(obj: JSON) -> list[Cause]:
    """The strategy's Validate: ValidateVolumeAttachment, then the tighter v1 checks."""
    spec = _d(obj.get("spec"))
    causes = _validate_volume_attachment(obj)
    attacher = _s(spec.get("attacher"))
    if not attacher:
        causes.append(_required("spec.attacher"))
    if len(attacher) > 63:
        causes.append(_too_long("spec.attacher", 63))
    causes += [
        _invalid("spec.attacher", go_quote(attacher), m) for m in is_dns1123_subdomain(attacher.lower())
    ]
    pv = _d(spec.get("source")).get("persistentVolumeName")
    if isinstance(pv, str):
        causes += dns1123_subdomain("spec.source.persistentVolumeName", pv)
    return causes


def validate_volume_attachment_update(new: JSON, old: JSON) -> list[Cause]:
    """The strategy's ValidateUpdate: ValidateVolumeAttachment, then ValidateVolumeAttachmentUpdate
    (which validates the object once more: repeated causes, as upstream) and the fixed spec."""
    causes = _validate_volume_attachment(new) + _validate_volume_attachment(new)
    if _d(new.get("spec")) != _d(old.get("spec")):
        causes.append(_invalid("spec", _go_spec(_d(new.get("spec"))), FIELD_IMMUTABLE))
    return causes


def _go_spec(spec: JSON) -> str:
    """%#v of the internal VolumeAttachmentSpec (pointers print as addresses)."""
    source = _d(spec.get("source"))
    pv = "(*string)(nil)" if source.get("persistentVolumeName") is None else "(*string)(0xc000000000)"
    inline = source.get("inlineVolumeSpec")
    inline_s = (
        "(*core.PersistentVolumeSpec)(nil)"
        if inline is None
        else "(*core.PersistentVolumeSpec)(0xc000000000)"
    )
    return (
        f"storage.VolumeAttachmentSpec{{Attacher:{go_quote(_s(spec.get('attacher')))}, "
        f"Source:storage.VolumeAttachmentSource{{PersistentVolumeName:{pv}, InlineVolumeSpec:{inline_s}}}, "
        f"NodeName:{go_quote(_s(spec.get('nodeName')))}}}"
    )


def volume_attachment_cells(obj: JSON) -> list[Any]:
    """printVolumeAttachment after the name: attacher, PV, node, attached (then the age)."""
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    return [
        _s(spec.get("attacher")),
        _s(_d(spec.get("source")).get("persistentVolumeName")),
        _s(spec.get("nodeName")),
        status.get("attached") is True,
    ]


# ---------------------------------------------------------------------------- CSIStorageCapacity
def _nonnegative(raw: Any, path: str) -> list[Cause]:
    value = quantity_value(raw)
    if value is not None and value < 0:
        return [_invalid(path, go_quote(quantity_string(raw)), IS_NEGATIVE)]
    return []


def validate_csi_storage_capacity(obj: JSON) -> list[Cause]:
    """ValidateCSIStorageCapacity after the metadata."""
    causes = _validate_label_selector(obj.get("nodeTopology"), "nodeTopology")
    causes += dns1123_subdomain("storageClassName", _s(obj.get("storageClassName")))
    for key in ("capacity", "maximumVolumeSize"):
        if obj.get(key) is not None:
            causes += _nonnegative(obj.get(key), key)
    return causes


def validate_csi_storage_capacity_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateCSIStorageCapacityUpdate: nodeTopology and storageClassName are fixed."""
    causes = validate_csi_storage_capacity(new)
    if _d(new.get("nodeTopology")) != _d(old.get("nodeTopology")):
        causes.append(_invalid("nodeTopology", _go_selector_value(new.get("nodeTopology")), FIELD_IMMUTABLE))
    if _s(new.get("storageClassName")) != _s(old.get("storageClassName")):
        causes.append(
            _invalid("storageClassName", go_quote(_s(new.get("storageClassName"))), FIELD_IMMUTABLE)
        )
    return causes


def _go_selector_value(sel: Any) -> str:
    """ErrorBody of a *metav1.LabelSelector: nil prints "null", else the struct's %#v."""
    return NULL if sel is None else _go_selector(sel)


# The VolumeAttachment columns between Name and Age, with upstream's SwaggerDoc texts.
VOLUME_ATTACHMENT_COLUMNS: list[JSON] = [
    {
        "name": "Attacher",
        "type": "string",
        "format": "name",
        "description": "attacher indicates the name of the volume driver that MUST handle this request. "
        "This is the name returned by GetPluginName().",
        "priority": 0,
    },
    {
        "name": "PV",
        "type": "string",
        "format": "",
        "description": "persistentVolumeName represents the name of the persistent volume to attach.",
        "priority": 0,
    },
    {
        "name": "Node",
        "type": "string",
        "format": "",
        "description": "nodeName represents the node that the volume should be attached to.",
        "priority": 0,
    },
    {
        "name": "Attached",
        "type": "boolean",
        "format": "",
        "description": "attached indicates the volume is successfully attached. This field must only be set "
        "by the entity completing the attach operation, i.e. the external-attacher.",
        "priority": 0,
    },
]
