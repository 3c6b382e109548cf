"""apiregistration.k8s.io/v1 APIServices as kube-aggregator 1.32 stores them: defaults
(apis/apiregistration/v1 SetDefaults_ServiceReference), the strategy (registry/apiservice: status
cleared on create, a local APIService Available at once; the main endpoint keeps the status, the
status endpoint keeps spec, labels, annotations, finalizers and owners), validation
(apis/apiregistration/validation) and the helpers the aggregator and its controllers share.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from vcluster.apiserver.errors import Cause, field_invalid, field_not_supported, field_required
from vcluster.apiserver.validation import (
    is_dns1035_label,
    is_dns1123_subdomain,
    is_valid_path_segment_name,
)
from vcluster.jsonguards import as_dict as _d

JSON = dict[str, Any]
GROUP = "apiregistration.k8s.io"
VERSION = "v1"
KIND = "APIService"
RESOURCE = "apiservices"
API_VERSION = f"{GROUP}/{VERSION}"

# autoregister.AutoRegisterManagedLabel and its two values
AUTOMANAGED_LABEL = "kube-aggregator.kubernetes.io/automanaged"
MANAGED_ON_START = "onstart"
MANAGED_CONTINUOUSLY = "true"

LOCAL_REASON = "Local"
LOCAL_MESSAGE = "Local APIServices are always available"

# kube-apiserver 1.32's apiVersionPriorities (cmd/kube-apiserver/app/aggregator.go) for the group
# versions this server serves, plus the aggregator's own group, which kube lists first after core.
BUILTIN_PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    (GROUP, "v1"): (18000, 15),
    ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("autoscaling", "v1"): (17500, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("batch", "v1"): (17400, 15),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
}
# crdregistration: every CRD group version gets these
CRD_GROUP_PRIORITY = 1000
CRD_VERSION_PRIORITY = 100
# groups this server serves in process (apiservices.py: metrics.k8s.io): metrics-server's own
# APIService priorities
IN_PROCESS_PRIORITY = (100, 100)


def apiservice_name(group: str, version: str) -> str:
    return f"{version}.{group}"


def spec_of(obj: JSON) -> JSON:
    return _d(obj.get("spec"))


def service_ref(obj: JSON) -> JSON | None:
    """spec.service, or None for a local APIService."""
    svc = spec_of(obj).get("service")
    return svc if isinstance(svc, dict) else None


def conditions_of(obj: JSON) -> list[JSON]:
    conds = _d(obj.get("status")).get("conditions")
    return [c for c in conds if isinstance(c, dict)] if isinstance(conds, list) else []


def available_condition(obj: JSON) -> JSON | None:
    return next((c for c in conditions_of(obj) if c.get("type") == "Available"), None)


def is_available(obj: JSON) -> bool:
    """IsAPIServiceConditionTrue(Available)."""
    cond = available_condition(obj)
    return cond is not None and cond.get("status") == "True"


def set_condition(status: JSON, cond: JSON) -> None:
    """SetAPIServiceCondition: replace the condition of its type, keeping lastTransitionTime when
    the status does not change."""
    conds = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    for i, c in enumerate(conds):
        if c.get("type") == cond.get("type"):
            if c.get("status") == cond.get("status") and c.get("lastTransitionTime"):
                cond = {**cond, "lastTransitionTime": c["lastTransitionTime"]}
            conds[i] = cond
            break
    else:
        conds.append(cond)
    status["conditions"] = conds


def local_condition(now: str) -> JSON:
    """NewLocalAvailableAPIServiceCondition."""
    return {
        "type": "Available",
        "status": "True",
        "lastTransitionTime": now,
        "reason": LOCAL_REASON,
        "message": LOCAL_MESSAGE,
    }


def table_cells(obj: JSON) -> tuple[str, str]:
    """(SERVICE, AVAILABLE) as kube-aggregator's ConvertToTable prints them."""
    svc = service_ref(obj)
    service = f"{svc.get('namespace', '')}/{svc.get('name', '')}" if svc is not None else "Local"
    cond = available_condition(obj)
    if cond is None:
        return service, "Unknown"
    status = str(cond.get("status") or "")
    if status != "True" and cond.get("reason"):
        return service, f"{status} ({cond['reason']})"
    return service, status


# ---------------------------------------------------------------------------- defaults
def default_apiservice(obj: JSON) -> None:
    """SetDefaults_ServiceReference: service.port 443."""
    svc = service_ref(obj)
    if svc is not None and svc.get("port") is None:
        svc["port"] = 443


# ---------------------------------------------------------------------------- strategy
def prepare_for_create(obj: JSON) -> None:
    """apiServerStrategy.PrepareForCreate: an empty status; a local APIService is Available."""
    from vcluster.apiserver.strategy import now_rfc3339

    obj["status"] = {}
    if service_ref(obj) is None:
        set_condition(obj["status"], local_condition(now_rfc3339()))


def prepare_for_update(old: JSON, new: JSON, subresource: str) -> bool:
    """The status strategy keeps spec and the user-owned metadata; the main one (the generic rules)
    keeps the status. True when the subresource is handled here completely."""
    if subresource != "status":
        return False
    omd, nmd = _d(old.get("metadata")), _d(new.get("metadata"))
    if "spec" in old:
        new["spec"] = old["spec"]
    else:
        new.pop("spec", None)
    for key in ("labels", "annotations", "finalizers", "ownerReferences"):
        if key in omd:
            nmd[key] = omd[key]
        else:
            nmd.pop(key, None)
    return True


# ---------------------------------------------------------------------------- validation
def _ca_bundle_len(value: Any) -> int:
    if not isinstance(value, str) or not value:
        return 0
    try:
        return len(base64.b64decode(value, validate=False))
    except (binascii.Error, ValueError):
        return len(value)


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def validate(obj: JSON) -> list[Cause]:
    """ValidateAPIService (after the generic ObjectMeta checks: the name's path-segment rule)."""
    spec = spec_of(obj)
    group, version = str(spec.get("group") or ""), str(spec.get("version") or "")
    causes: list[Cause] = []
    name = str(_d(obj.get("metadata")).get("name") or "")
    required = f"{version}.{group}"
    if name and not is_valid_path_segment_name(name) and name != required:
        causes.append(
            field_invalid("metadata.name", name, f'must be `spec.version+"."+spec.group`: "{required}"')
        )
    if not group and version != "v1":
        causes.append(
            field_required("spec.group", "only v1 may have an empty group and it better be legacy kube")
        )
    if group:
        causes += [field_invalid("spec.group", group, e) for e in is_dns1123_subdomain(group)]
    causes += [field_invalid("spec.version", version, e) for e in is_dns1035_label(version)]
    gpm, vp = _int(spec.get("groupPriorityMinimum")), _int(spec.get("versionPriority"))
    if gpm <= 0 or gpm > 20000:
        causes.append(field_invalid("spec.groupPriorityMinimum", gpm, "must be positive and less than 20000"))
    if vp <= 0 or vp > 1000:
        causes.append(field_invalid("spec.versionPriority", vp, "must be positive and less than 1000"))
    insecure = spec.get("insecureSkipTLSVerify") is True
    ca_len = _ca_bundle_len(spec.get("caBundle"))
    svc = service_ref(obj)
    if svc is None:
        if ca_len:
            causes.append(
                field_invalid("spec.caBundle", f"{ca_len} bytes", "local APIServices may not have a caBundle")
            )
        if insecure:
            causes.append(
                field_invalid(
                    "spec.insecureSkipTLSVerify", True, "local APIServices may not have insecureSkipTLSVerify"
                )
            )
        return causes
    if not svc.get("namespace"):
        causes.append(field_required("spec.service.namespace"))
    if not svc.get("name"):
        causes.append(field_required("spec.service.name"))
    port = _int(svc.get("port"))
    if not 1 <= port <= 65535:
        causes.append(
            field_invalid(
                "spec.service.port", port, "port is not valid: must be between 1 and 65535, inclusive"
            )
        )
    if insecure and ca_len:
        causes.append(
            field_invalid("spec.insecureSkipTLSVerify", True, "may not be true if caBundle is present")
        )
    return causes


def validate_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateAPIServiceUpdate (ObjectMeta update rules run in the generic pipeline)."""
    return validate(new)


def validate_status_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateAPIServiceStatus: condition statuses True, False or Unknown."""
    causes: list[Cause] = []
    for i, c in enumerate(conditions_of(new)):
        status = c.get("status")
        if status not in ("True", "False", "Unknown"):
            causes.append(
                field_not_supported(f"status.conditions[{i}].status", status, ["True", "False", "Unknown"])
            )
    return causes
