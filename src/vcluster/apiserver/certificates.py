"""certificates.k8s.io/v1 CertificateSigningRequests as kube-apiserver 1.32 serves them.

* the registry strategy (pkg/registry/certificates/certificates/strategy.go): on create the
  requesting user's name, uid, groups and extra go into the spec and the status is cleared; the
  main endpoint changes metadata only, `/status` the certificate and the non-approval conditions,
  `/approval` the conditions only; conditions get their lastUpdateTime/lastTransitionTime;
* validation (pkg/apis/certificates/validation/validation.go): the PKCS#10 request and its
  signature, usages, signerName, expirationSeconds, conditions, the issued certificate, and the
  update rules (no removed Approved/Denied/Failed conditions, approval only through `/approval`,
  the certificate only through `/status` and never replaced);
* the admission plugins CertificateApproval (`approve` on `signers`), CertificateSigning (`sign` on
  `signers`) and CertificateSubjectRestriction (no system:masters through kube-apiserver-client).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from vcluster.apiserver import csrparse
from vcluster.apiserver.errors import (
    Cause,
    field_duplicate,
    field_forbidden,
    field_invalid,
    field_not_supported,
    field_required,
    field_too_long,
    forbidden,
)
from vcluster.apiserver.rbac_authorizer import Attributes
from vcluster.apiserver.rbac_escalation import REQUEST_AUTH, RequestAuth
from vcluster.apiserver.validation import is_dns1123_label, is_dns1123_subdomain
from vcluster.jsonguards import as_dict as _d
from vcluster.jsonguards import as_list as _l

GROUP = "certificates.k8s.io"
KIND = "CertificateSigningRequest"
RESOURCE = "certificatesigningrequests"

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"

APPROVED, DENIED, FAILED = "Approved", "Denied", "Failed"
_TRUE_ONLY_TYPES = (APPROVED, DENIED, FAILED)
_ALL_STATUS_VALUES = ["False", "True", "Unknown"]

# allValidUsages, in sets.String.List() (sorted) order for NotSupported messages.
ALL_VALID_USAGES: tuple[str, ...] = tuple(
    sorted(
        (
            "signing",
            "digital signature",
            "content commitment",
            "key encipherment",
            "key agreement",
            "data encipherment",
            "cert sign",
            "crl sign",
            "encipher only",
            "decipher only",
            "any",
            "server auth",
            "client auth",
            "code signing",
            "email protection",
            "s/mime",
            "ipsec end system",
            "ipsec tunnel",
            "ipsec user",
            "timestamping",
            "ocsp signing",
            "microsoft sgc",
            "netscape sgc",
        )
    )
)
_DNS1123_SUBDOMAIN_MAX = 253
_DNS1123_LABEL_MAX = 63

JSON = dict[str, Any]


def spec_of(csr: JSON) -> JSON:
    return _d(csr.get("spec"))


def status_of(csr: JSON) -> JSON:
    return _d(csr.get("status"))


def conditions_of(csr: JSON) -> list[JSON]:
    return [c for c in _l(status_of(csr).get("conditions")) if isinstance(c, dict)]


def decode_bytes(v: Any) -> bytes | None:
    """A []byte field's JSON (base64 string) as bytes; None when absent."""
    if not isinstance(v, str):
        return None
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        return b""


def request_bytes(csr: JSON) -> bytes | None:
    return decode_bytes(spec_of(csr).get("request"))


def certificate_bytes(csr: JSON) -> bytes:
    return decode_bytes(status_of(csr).get("certificate")) or b""


def has_condition(csr: JSON, ctype: str) -> bool:
    return any(c.get("type") == ctype for c in conditions_of(csr))


def has_true_condition(csr: JSON, ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in conditions_of(csr))


def approval_state(csr: JSON) -> tuple[bool, bool]:
    """GetCertApprovalCondition: (approved, denied)."""
    return has_condition(csr, APPROVED), has_condition(csr, DENIED)


def status_summary(csr: JSON) -> str:
    """The CONDITION column (extractCSRStatus): Denied/Approved/Pending, then Failed and Issued."""
    conds = {c.get("type") for c in conditions_of(csr)}
    text = "Denied" if DENIED in conds else "Approved" if APPROVED in conds else "Pending"
    if FAILED in conds:
        text += ",Failed"
    if certificate_bytes(csr):
        text += ",Issued"
    return text


def _now() -> str:
    from vcluster.apiserver.strategy import now_rfc3339

    return now_rfc3339()


# ---------------------------------------------------------------------------- strategy
def prepare_for_create(obj: JSON) -> None:
    """csrStrategy.PrepareForCreate: the requester's identity from the request, an empty status."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    for key in ("username", "uid", "groups", "extra"):
        spec.pop(key, None)
    auth = REQUEST_AUTH.get()
    if auth is not None:
        user = auth.user
        spec["username"] = user.username
        if user.uid:
            spec["uid"] = user.uid
        if user.groups:
            spec["groups"] = list(user.groups)
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra.items()}
    obj["status"] = {}


def prepare_for_update(old: JSON, new: JSON, subresource: str) -> bool:
    """The update strategies of the main, `/status` and `/approval` endpoints. True when the
    subresource was handled completely (the caller's generic status/subresource rules are skipped)."""
    if subresource == "":
        if "spec" in old:
            new["spec"] = old["spec"]
        else:
            new.pop("spec", None)
        return False  # the generic main-endpoint rules keep the stored status
    if subresource not in ("status", "approval"):
        return False
    new_status = _d(new.get("status"))
    _keep_metadata_for_subresource(old, new)
    conditions = [dict(c) for c in _l(new_status.get("conditions")) if isinstance(c, dict)]
    if subresource == "status":
        status = dict(new_status)
        _preserve_condition_instances(conditions, conditions_of(old), APPROVED)
        _preserve_condition_instances(conditions, conditions_of(old), DENIED)
    else:
        status = dict(status_of(old))
    _populate_condition_timestamps(conditions, conditions_of(old))
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
    if not status.get("certificate"):
        status.pop("certificate", None)
    new["spec"] = old.get("spec") or {}
    new["status"] = status
    return True


def _keep_metadata_for_subresource(old: JSON, new: JSON) -> None:
    """What a status-like write keeps of the new metadata: labels, annotations and managedFields
    (the rest stays the stored object's, as the generic status path does)."""
    nmd = _d(new.get("metadata"))
    md = dict(_d(old.get("metadata")))
    for key in ("labels", "annotations", "managedFields"):
        if nmd.get(key):
            md[key] = nmd[key]
        else:
            md.pop(key, None)
    new["metadata"] = md


def _preserve_condition_instances(new_conds: list[JSON], old_conds: list[JSON], ctype: str) -> None:
    """preserveConditionInstances: the stored instances of `ctype` replace the new ones when their
    number is unchanged (adding or removing them is left to validation to refuse)."""
    old_idx = [i for i, c in enumerate(old_conds) if c.get("type") == ctype]
    new_idx = [i for i, c in enumerate(new_conds) if c.get("type") == ctype]
    if len(old_idx) != len(new_idx):
        return
    for oi, ni in zip(old_idx, new_idx, strict=True):
        new_conds[ni] = dict(old_conds[oi])


def _populate_condition_timestamps(new_conds: list[JSON], old_conds: list[JSON]) -> None:
    """populateConditionTimestamps: lastUpdateTime now when missing; lastTransitionTime from a
    stored condition of the same type and status, else now."""
    now = _now()
    for c in new_conds:
        if not c.get("lastUpdateTime"):
            c["lastUpdateTime"] = now
        if not c.get("lastTransitionTime"):
            transition = now
            for o in old_conds:
                if (
                    o.get("type") == c.get("type")
                    and o.get("status") == c.get("status")
                    and o.get("lastTransitionTime")
                ):
                    transition = o["lastTransitionTime"]
                    break
            c["lastTransitionTime"] = transition


# ---------------------------------------------------------------------------- validation
@dataclass(slots=True)
class _Options:
    """certificateValidationOptions: what the update path and the stored object tolerate."""

    allow_setting_approval_conditions: bool = False
    allow_setting_certificate: bool = False
    allow_both_approved_and_denied: bool = False
    allow_legacy_signer_name: bool = False
    allow_duplicate_condition_types: bool = False
    allow_empty_condition_type: bool = False
    allow_arbitrary_certificate: bool = False
    allow_unknown_usages: bool = False
    allow_duplicate_usages: bool = False


def _usages(csr: JSON) -> list[Any]:
    return _l(spec_of(csr).get("usages"))


def _has_duplicates(values: list[Any]) -> bool:
    seen: list[Any] = []
    for v in values:
        if v in seen:
            return True
        seen.append(v)
    return False


def _options(new: JSON, old: JSON | None) -> _Options:
    """getValidationOptions."""
    if old is None:
        return _Options()
    types = [c.get("type") for c in conditions_of(old)]
    return _Options(
        allow_both_approved_and_denied=APPROVED in types and DENIED in types,
        allow_legacy_signer_name=spec_of(old).get("signerName") == LEGACY_UNKNOWN,
        allow_duplicate_condition_types=_has_duplicates(types),
        allow_empty_condition_type=any(not t for t in types),
        allow_arbitrary_certificate=certificate_bytes(new) == certificate_bytes(old)
        or bool(csrparse.validate_certificate(certificate_bytes(old))),
        allow_unknown_usages=any(u not in ALL_VALID_USAGES for u in _usages(old)),
        allow_duplicate_usages=_has_duplicates(_usages(old)),
    )


def validate_signer_name(path: str, signer: str) -> list[Cause]:
    """ValidateSignerName (pkg/apis/core/validation): `<domain>/<path>`, each part DNS-shaped."""
    if not signer:
        return [field_required(path)]
    segments = signer.split("/")
    if len(segments) != 2:
        return [
            field_invalid(
                path,
                signer,
                "must be a fully qualified domain and path of the form 'example.com/signer-name'",
            )
        ]
    causes: list[Cause] = []
    domain, sub = segments
    if len(domain.encode()) > _DNS1123_SUBDOMAIN_MAX:
        causes.append(field_too_long(path, "", _DNS1123_SUBDOMAIN_MAX))
    labels = domain.split(".")
    for lbl in labels:
        errs = is_dns1123_label(lbl)
        if errs:
            causes.extend(field_invalid(path, domain, f'validating label "{lbl}": {e}') for e in errs)
            break
    if len(labels) < 2:
        causes.append(
            field_invalid(path, domain, "should be a domain with at least two segments separated by dots")
        )
    for lbl in sub.split("."):
        errs = is_dns1123_subdomain(lbl)
        if errs:
            causes.extend(field_invalid(path, sub, f'validating label "{lbl}": {e}') for e in errs)
            break
    max_len = _DNS1123_SUBDOMAIN_MAX + (_DNS1123_SUBDOMAIN_MAX + _DNS1123_LABEL_MAX + 1) + 1
    if len(signer.encode()) > max_len:
        causes.append(field_too_long(path, "", max_len))
    return causes


def _validate(csr: JSON, opts: _Options) -> list[Cause]:
    """validateCertificateSigningRequest without the metadata (validation.py checks that)."""
    causes: list[Cause] = []
    spec = spec_of(csr)
    request = request_bytes(csr)
    err = csrparse.validate_csr(request or b"")
    if err:
        causes.append(
            Cause("FieldValueInvalid", f"Invalid value: {csrparse.go_bytes(request)}: {err}", "spec.request")
        )
    usages = _usages(csr)
    if not usages:
        causes.append(field_required("spec.usages"))
    if not opts.allow_unknown_usages:
        for i, u in enumerate(usages):
            if u not in ALL_VALID_USAGES:
                causes.append(field_not_supported(f"spec.usages[{i}]", u, list(ALL_VALID_USAGES)))
    if not opts.allow_duplicate_usages:
        seen: list[Any] = []
        for i, u in enumerate(usages):
            if u in seen:
                causes.append(field_duplicate(f"spec.usages[{i}]", u))
            seen.append(u)
    signer = spec.get("signerName") if isinstance(spec.get("signerName"), str) else ""
    if not opts.allow_legacy_signer_name and signer == LEGACY_UNKNOWN:
        causes.append(
            field_invalid(
                "spec.signerName", signer, "the legacy signerName is not allowed via this API version"
            )
        )
    else:
        causes.extend(validate_signer_name("spec.signerName", signer))
    exp = spec.get("expirationSeconds")
    if isinstance(exp, int) and not isinstance(exp, bool) and exp < 600:
        causes.append(
            field_invalid(
                "spec.expirationSeconds", exp, "may not specify a duration less than 600 seconds (10 minutes)"
            )
        )
    causes.extend(_validate_conditions(csr, opts))
    if not opts.allow_arbitrary_certificate:
        cert_err = csrparse.validate_certificate(certificate_bytes(csr))
        if cert_err:
            causes.append(field_invalid("status.certificate", "<certificate data>", cert_err))
    return causes


def _validate_conditions(csr: JSON, opts: _Options) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[Any] = set()
    has_approved = has_denied = False
    for i, c in enumerate(conditions_of(csr)):
        path = f"status.conditions[{i}]"
        ctype, cstatus = c.get("type") or "", c.get("status") or ""
        if not opts.allow_empty_condition_type and not ctype:
            causes.append(field_required(f"{path}.type"))
        allowed = ["True"] if ctype in _TRUE_ONLY_TYPES else _ALL_STATUS_VALUES
        if not cstatus:
            causes.append(field_required(f"{path}.status"))
        elif cstatus not in allowed:
            causes.append(field_not_supported(f"{path}.status", cstatus, allowed))
        if not opts.allow_both_approved_and_denied:
            if ctype == APPROVED:
                has_approved = True
                if has_denied:
                    causes.append(
                        field_invalid(
                            f"{path}.type", ctype, "Approved and Denied conditions are mutually exclusive"
                        )
                    )
            elif ctype == DENIED:
                has_denied = True
                if has_approved:
                    causes.append(
                        field_invalid(
                            f"{path}.type", ctype, "Approved and Denied conditions are mutually exclusive"
                        )
                    )
        if not opts.allow_duplicate_condition_types:
            if ctype in seen:
                causes.append(field_duplicate(f"{path}.type", ctype))
            seen.add(ctype)
    return causes


def validate_create(obj: JSON) -> list[Cause]:
    """ValidateCertificateSigningRequestCreate."""
    return _validate(obj, _options(obj, None))


def _validate_update(new: JSON, old: JSON, opts: _Options) -> list[Cause]:
    """validateCertificateSigningRequestUpdate (ValidateObjectMetaUpdate is validation.py's)."""
    causes = _validate(new, opts)
    for ctype in (APPROVED, DENIED, FAILED):
        if _count(new, ctype) < _count(old, ctype):
            causes.append(
                field_forbidden("status.conditions", f'updates may not remove a condition of type "{ctype}"')
            )
    if not opts.allow_setting_approval_conditions:
        for ctype in (APPROVED, DENIED):
            olds = [c for c in conditions_of(old) if c.get("type") == ctype]
            news = [c for c in conditions_of(new) if c.get("type") == ctype]
            if len(news) > len(olds):
                causes.append(
                    field_forbidden("status.conditions", f'updates may not add a condition of type "{ctype}"')
                )
            elif len(news) == len(olds) and news != olds:
                causes.append(
                    field_forbidden(
                        "status.conditions", f'updates may not modify a condition of type "{ctype}"'
                    )
                )
    if certificate_bytes(new) != certificate_bytes(old):
        if not opts.allow_setting_certificate:
            causes.append(field_forbidden("status.certificate", "updates may not set certificate content"))
        elif certificate_bytes(old):
            causes.append(
                field_forbidden("status.certificate", "updates may not modify existing certificate content")
            )
    return causes


def _count(csr: JSON, ctype: str) -> int:
    return sum(1 for c in conditions_of(csr) if c.get("type") == ctype)


def validate_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateCertificateSigningRequestUpdate (the main endpoint)."""
    return _validate_update(new, old, _options(new, old))


def validate_status_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateCertificateSigningRequestStatusUpdate: the certificate may be set."""
    opts = _options(new, old)
    opts.allow_setting_certificate = True
    return _validate_update(new, old, opts)


def validate_approval_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateCertificateSigningRequestApprovalUpdate: Approved/Denied may be added."""
    opts = _options(new, old)
    opts.allow_setting_approval_conditions = True
    return _validate_update(new, old, opts)


# ---------------------------------------------------------------------------- admission
def is_authorized_for_signer_name(auth: RequestAuth, verb: str, signer: str) -> bool:
    """certauthorization.IsAuthorizedForSignerName: `verb` on `signers` named `signer`, or on
    `<domain>/*`."""
    for name in (signer, signer.split("/")[0] + "/*"):
        a = Attributes(verb, True, "", GROUP, "*", "signers", "", name)
        if auth.authorizer.authorize(auth.user, a).allowed:
            return True
    return False


def admit_create(obj: JSON) -> None:
    """CertificateSubjectRestriction: kube-apiserver-client requests may not ask for system:masters."""
    spec = spec_of(obj)
    signer = spec.get("signerName")
    if signer != KUBE_APISERVER_CLIENT:
        return
    name = str(_d(obj.get("metadata")).get("name") or "")
    try:
        req = csrparse.parse_csr_pem(request_bytes(obj) or b"")
    except ValueError as e:
        raise forbidden(RESOURCE, GROUP, name, f"failed to parse CSR: {e}") from None
    from cryptography.x509.oid import NameOID

    for attr in req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME):
        if attr.value == "system:masters":
            raise forbidden(
                RESOURCE, GROUP, name, f"use of {signer} signer with system:masters group is not allowed"
            )


def admit_update(old: JSON, new: JSON, subresource: str) -> None:
    """CertificateApproval (`/approval`) and CertificateSigning (`/status` changing the certificate
    or the conditions), both against the stored object's signerName."""
    auth = REQUEST_AUTH.get()
    if auth is None or subresource not in ("approval", "status"):
        return
    signer = str(spec_of(old).get("signerName") or "")
    name = str(_d(old.get("metadata")).get("name") or "")
    if subresource == "approval":
        if not is_authorized_for_signer_name(auth, "approve", signer):
            raise forbidden(
                RESOURCE, GROUP, name, f'user not permitted to approve requests with signerName "{signer}"'
            )
        return
    if certificate_bytes(old) == certificate_bytes(new) and conditions_of(old) == conditions_of(new):
        return
    if not is_authorized_for_signer_name(auth, "sign", signer):
        raise forbidden(
            RESOURCE, GROUP, name, f'user not permitted to sign requests with signerName "{signer}"'
        )
