"""The review kinds: answers of authorization.k8s.io (SelfSubjectAccessReview, SelfSubjectRulesReview,
SubjectAccessReview, LocalSubjectAccessReview) and authentication.k8s.io (SelfSubjectReview,
TokenReview), as pure functions of the decoded body and the caller's identity.

The decisions are the server's authorizer's (``rbac_authorizer``: the privileged-group shortcut, then
RBAC over the stored roles and bindings, or AlwaysAllow); without one, RBAC over the bootstrap policy.

Validation errors are the ones the registry returns (pkg/apis/authorization/validation), including the
quirk that SubjectAccessReview kinds report an empty kind: ``.authorization.k8s.io "" is invalid: ...``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from vcluster.apiserver.auth import UserInfo
from vcluster.apiserver.errors import (
    Cause,
    StatusError,
    bad_request,
    field_forbidden,
    field_invalid,
    field_required,
    invalid,
)
from vcluster.apiserver.rbac_authorizer import Attributes, Authorizer, Decision
from vcluster.apiserver.rbac_policy import bootstrap_authorizer
from vcluster.apiserver.rbac_rules import PolicyRule
from vcluster.apiserver.satoken import DEFAULT_ISSUER, TokenIssuer, TokenRejected, go_quote, rfc3339
from vcluster.apiserver.validation import validate_label_value, validate_qualified_name
from vcluster.jsonguards import as_str as _s

AUTHZ_GROUP = "authorization.k8s.io"
AUTHN_GROUP = "authentication.k8s.io"
INVALID_BEARER_TOKEN = "invalid bearer token"


def _authorizer(authorizer: Authorizer | None) -> Authorizer:
    """The given authorizer, or RBAC over the bootstrap policy alone (a fresh cluster's)."""
    return authorizer if authorizer is not None else bootstrap_authorizer()


# ---------------------------------------------------------------------------------------------- helpers
def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _strs(v: Any) -> list[str]:
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


def _is_zero(v: Any) -> bool:
    return v is None or v == "" or v == 0 or v is False or v == {} or v == []


def _subject_review_invalid(causes: list[Cause]) -> StatusError:
    """NewInvalid(authorizationapi.Kind(sar.Kind), "", errs): the decoded internal object has no kind."""
    err = invalid("", AUTHZ_GROUP, "", causes)
    err.details = {"group": AUTHZ_GROUP}
    return err


# Go %#v renderings of the values validation puts into its messages.
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _go_time(v: Any) -> str:
    ts: datetime | None = None
    if isinstance(v, str) and v:
        try:
            ts = datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            ts = None
    if ts is None:
        return "time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)"
    return (
        f"time.Date({ts.year}, time.{_MONTHS[ts.month - 1]}, {ts.day}, {ts.hour}, {ts.minute}, {ts.second}, "
        f"{ts.microsecond * 1000}, time.Local)"
    )


def _go_str_map(v: Any) -> str:
    if not isinstance(v, dict):
        return "map[string]string(nil)"
    items = ", ".join(f"{go_quote(str(k))}:{go_quote(_s(v[k]))}" for k in sorted(v))
    return "map[string]string{" + items + "}"


def _go_str_slice(v: Any) -> str:
    if not isinstance(v, list):
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(_s(x)) for x in v) + "}"


def _go_ptr(typ: str, v: Any) -> str:
    return f"(*{typ})(nil)" if v is None else f"(*{typ})(0xc000010000)"


def _go_struct(typ: str, fields: list[tuple[str, str]]) -> str:
    return typ + "{" + ", ".join(f"{k}:{v}" for k, v in fields) + "}"


def _q(d: dict[str, Any], key: str) -> str:
    return go_quote(_s(d.get(key)))


def _go_owner_refs(v: Any) -> str:
    if not isinstance(v, list):
        return "[]v1.OwnerReference(nil)"
    parts = []
    for r in v:
        r = _dict(r)
        parts.append(
            _go_struct(
                "v1.OwnerReference",
                [
                    ("APIVersion", _q(r, "apiVersion")),
                    ("Kind", _q(r, "kind")),
                    ("Name", _q(r, "name")),
                    ("UID", _q(r, "uid")),
                    ("Controller", _go_ptr("bool", r.get("controller"))),
                    ("BlockOwnerDeletion", _go_ptr("bool", r.get("blockOwnerDeletion"))),
                ],
            )
        )
    return "[]v1.OwnerReference{" + ", ".join(parts) + "}"


def _go_managed_fields(v: Any) -> str:
    if not isinstance(v, list):
        return "[]v1.ManagedFieldsEntry(nil)"
    parts = []
    for e in v:
        e = _dict(e)
        t = e.get("time")
        parts.append(
            _go_struct(
                "v1.ManagedFieldsEntry",
                [
                    ("Manager", _q(e, "manager")),
                    ("Operation", _q(e, "operation")),
                    ("APIVersion", _q(e, "apiVersion")),
                    ("Time", "<nil>" if t is None else _go_time(t)),
                    ("FieldsType", _q(e, "fieldsType")),
                    ("FieldsV1", _go_ptr("v1.FieldsV1", e.get("fieldsV1"))),
                    ("Subresource", _q(e, "subresource")),
                ],
            )
        )
    return "[]v1.ManagedFieldsEntry{" + ", ".join(parts) + "}"


def go_object_meta(md: dict[str, Any]) -> str:
    """``%#v`` of the metav1.ObjectMeta decoded from ``md`` (as in "metadata: Invalid value: ...")."""
    gen = md.get("generation")
    dts = md.get("deletionTimestamp")
    return _go_struct(
        "v1.ObjectMeta",
        [
            ("Name", _q(md, "name")),
            ("GenerateName", _q(md, "generateName")),
            ("Namespace", _q(md, "namespace")),
            ("SelfLink", _q(md, "selfLink")),
            ("UID", _q(md, "uid")),
            ("ResourceVersion", _q(md, "resourceVersion")),
            ("Generation", str(gen) if isinstance(gen, int) and not isinstance(gen, bool) else "0"),
            ("CreationTimestamp", _go_time(md.get("creationTimestamp"))),
            ("DeletionTimestamp", "<nil>" if dts is None else _go_time(dts)),
            ("DeletionGracePeriodSeconds", _go_ptr("int64", md.get("deletionGracePeriodSeconds"))),
            ("Labels", _go_str_map(md.get("labels"))),
            ("Annotations", _go_str_map(md.get("annotations"))),
            ("OwnerReferences", _go_owner_refs(md.get("ownerReferences"))),
            ("Finalizers", _go_str_slice(md.get("finalizers"))),
            ("ManagedFields", _go_managed_fields(md.get("managedFields"))),
        ],
    )


def _go_non_resource_attributes(v: dict[str, Any]) -> str:
    return _go_struct(
        "authorization.NonResourceAttributes", [("Path", _q(v, "path")), ("Verb", _q(v, "verb"))]
    )


# ---------------------------------------------------------------------------------------------- validation
def _validate_selector(sel: Any, path: str, labels: bool) -> list[Cause]:
    """validateFieldSelectorAttributes / validateLabelSelectorAttributes (unknown operators allowed)."""
    if sel is None:
        return []
    sel = _dict(sel)
    causes: list[Cause] = []
    raw = _s(sel.get("rawSelector"))
    reqs = sel.get("requirements") if isinstance(sel.get("requirements"), list) else []
    if raw and reqs:
        causes.append(
            field_invalid(f"{path}.rawSelector", raw, "may not specified at the same time as requirements")
        )
    if not raw and not reqs:
        causes.append(
            field_required(
                f"{path}.requirements", f"when {path} is specified, requirements or rawSelector is required"
            )
        )
    for i, req in enumerate(reqs):
        req = _dict(req)
        rpath = f"{path}.requirements[{i}]"
        key, op, values = _s(req.get("key")), _s(req.get("operator")), _strs(req.get("values"))
        if not labels and not key:
            causes.append(field_required(f"{rpath}.key", "must be specified"))
        if op in ("In", "NotIn") and not values:
            causes.append(
                field_required(f"{rpath}.values", "must be specified when `operator` is 'In' or 'NotIn'")
            )
        elif op in ("Exists", "DoesNotExist") and values:
            causes.append(
                field_forbidden(
                    f"{rpath}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                )
            )
        if labels:
            causes.extend(field_invalid(f"{rpath}.key", key, msg) for msg in validate_qualified_name(key))
            for j, value in enumerate(values):
                causes.extend(
                    field_invalid(f"{rpath}.values[{j}]", value, msg) for msg in validate_label_value(value)
                )
    return causes


def _validate_access_spec(spec: dict[str, Any], *, subject: bool) -> list[Cause]:
    """ValidateSubjectAccessReviewSpec / ValidateSelfSubjectAccessReviewSpec."""
    causes: list[Cause] = []
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if ra is not None and nra is not None:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_go_non_resource_attributes(_dict(nra))}: "
                "cannot be specified in combination with resourceAttributes",
                "spec.nonResourceAttributes",
            )
        )
    if ra is None and nra is None:
        causes.append(
            field_invalid(
                "spec.resourceAttributes",
                "null",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        )
    if subject and not _s(spec.get("user")) and not _strs(spec.get("groups")):
        causes.append(
            field_invalid(
                "spec.user", _s(spec.get("user")), "at least one of user or group must be specified"
            )
        )
    if ra is not None:
        rad = _dict(ra)
        causes.extend(
            _validate_selector(rad.get("fieldSelector"), "spec.resourceAttributes.fieldSelector", False)
        )
        causes.extend(
            _validate_selector(rad.get("labelSelector"), "spec.resourceAttributes.labelSelector", True)
        )
    return causes


def _meta_not_empty(md: dict[str, Any], ignore: tuple[str, ...]) -> bool:
    return any(not _is_zero(v) for k, v in md.items() if k not in ignore)


def _attributes(spec: dict[str, Any]) -> Attributes:
    ra = spec.get("resourceAttributes")
    if ra is not None:
        ra = _dict(ra)
        return Attributes(
            verb=_s(ra.get("verb")),
            resource_request=True,
            namespace=_s(ra.get("namespace")),
            group=_s(ra.get("group")),
            version=_s(ra.get("version")),
            resource=_s(ra.get("resource")),
            subresource=_s(ra.get("subresource")),
            name=_s(ra.get("name")),
        )
    nra = _dict(spec.get("nonResourceAttributes"))
    return Attributes(verb=_s(nra.get("verb")), resource_request=False, path=_s(nra.get("path")))


def _status(d: Decision) -> dict[str, Any]:
    st: dict[str, Any] = {"allowed": d.allowed}
    if d.denied:
        st["denied"] = True
    if d.reason:
        st["reason"] = d.reason
    if d.evaluation_error:
        st["evaluationError"] = d.evaluation_error
    return st


def _echo_meta(body: dict[str, Any], *, keep_namespace: bool = False) -> dict[str, Any]:
    """The request's metadata as the answer carries it (cluster-scoped kinds lose the namespace)."""
    md = {k: v for k, v in _dict(body.get("metadata")).items() if keep_namespace or k != "namespace"}
    md.setdefault("creationTimestamp", None)
    return md


def _answer(body: dict[str, Any], default_api_version: str, kind: str, **parts: Any) -> dict[str, Any]:
    av = body.get("apiVersion")
    return {"kind": kind, "apiVersion": av if isinstance(av, str) and av else default_api_version, **parts}


# ------------------------------------------------------------------------------------------ access reviews
def self_subject_access_review(
    body: dict[str, Any], user: UserInfo, authorizer: Authorizer | None = None
) -> dict[str, Any]:
    """POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews (answer with 201)."""
    md = _echo_meta(body)
    spec = _dict(body.get("spec"))
    causes = _validate_access_spec(spec, subject=False)
    if _meta_not_empty(md, ("managedFields",)):
        causes.append(
            Cause("FieldValueInvalid", f"Invalid value: {go_object_meta(md)}: must be empty", "metadata")
        )
    if causes:
        raise _subject_review_invalid(causes)
    decision = _authorizer(authorizer).authorize(user, _attributes(spec))
    return _answer(
        body,
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        metadata=md,
        spec=spec,
        status=_status(decision),
    )


def _subject_from_spec(spec: dict[str, Any]) -> UserInfo:
    extra_in = _dict(spec.get("extra"))
    return UserInfo(
        username=_s(spec.get("user")),
        uid=_s(spec.get("uid")),
        groups=tuple(_strs(spec.get("groups"))),
        extra={k: _strs(v) for k, v in extra_in.items()},
    )


def subject_access_review(body: dict[str, Any], authorizer: Authorizer | None = None) -> dict[str, Any]:
    """POST /apis/authorization.k8s.io/v1/subjectaccessreviews: the decision for spec.user/groups."""
    md = _echo_meta(body)
    spec = _dict(body.get("spec"))
    causes = _validate_access_spec(spec, subject=True)
    if _meta_not_empty(md, ("managedFields",)):
        causes.append(
            Cause("FieldValueInvalid", f"Invalid value: {go_object_meta(md)}: must be empty", "metadata")
        )
    if causes:
        raise _subject_review_invalid(causes)
    decision = _authorizer(authorizer).authorize(_subject_from_spec(spec), _attributes(spec))
    return _answer(
        body,
        "authorization.k8s.io/v1",
        "SubjectAccessReview",
        metadata=md,
        spec=spec,
        status=_status(decision),
    )


def local_subject_access_review(
    body: dict[str, Any], namespace: str, authorizer: Authorizer | None = None
) -> dict[str, Any]:
    """POST /apis/authorization.k8s.io/v1/namespaces/<namespace>/localsubjectaccessreviews."""
    md = _echo_meta(body, keep_namespace=True)
    body_ns = md.get("namespace")
    if body_ns not in (None, "") and body_ns != namespace:
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    md["namespace"] = namespace
    spec = _dict(body.get("spec"))
    causes = _validate_access_spec(spec, subject=True)
    if _meta_not_empty(md, ("managedFields", "namespace")):
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {go_object_meta(md)}: must be empty except for namespace",
                "metadata",
            )
        )
    ra = spec.get("resourceAttributes")
    if ra is not None and _s(_dict(ra).get("namespace")) != namespace:
        causes.append(
            field_invalid(
                "spec.resourceAttributes.namespace",
                _s(_dict(ra).get("namespace")),
                "must match metadata.namespace",
            )
        )
    nra = spec.get("nonResourceAttributes")
    if nra is not None:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_go_non_resource_attributes(_dict(nra))}: "
                "disallowed on this kind of request",
                "spec.nonResourceAttributes",
            )
        )
    if causes:
        raise _subject_review_invalid(causes)
    decision = _authorizer(authorizer).authorize(_subject_from_spec(spec), _attributes(spec))
    return _answer(
        body,
        "authorization.k8s.io/v1",
        "LocalSubjectAccessReview",
        metadata=md,
        spec=spec,
        status=_status(decision),
    )


def _rule_json(r: PolicyRule) -> dict[str, Any]:
    if r.resources:
        d: dict[str, Any] = {"verbs": list(r.verbs)}
        if r.api_groups:
            d["apiGroups"] = list(r.api_groups)
        d["resources"] = list(r.resources)
        if r.resource_names:
            d["resourceNames"] = list(r.resource_names)
        return d
    return {"verbs": list(r.verbs), "nonResourceURLs": list(r.non_resource_urls)}


def self_subject_rules_review(
    body: dict[str, Any], user: UserInfo, authorizer: Authorizer | None = None
) -> dict[str, Any]:
    """POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews (``kubectl auth can-i --list``).

    The answer is a new object (upstream returns neither the request's metadata nor its spec).
    """
    spec = _dict(body.get("spec"))
    namespace = _s(spec.get("namespace"))
    if not namespace:
        raise bad_request("no namespace on request")
    got = _authorizer(authorizer).rules_for(user, namespace)
    status: dict[str, Any] = {
        "resourceRules": [_rule_json(r) for r in got.resource_rules],
        "nonResourceRules": [_rule_json(r) for r in got.non_resource_rules],
        "incomplete": got.incomplete,
    }
    if got.evaluation_error:
        status["evaluationError"] = got.evaluation_error
    return _answer(
        body,
        "authorization.k8s.io/v1",
        "SelfSubjectRulesReview",
        metadata={"creationTimestamp": None},
        spec={},
        status=status,
    )


# ------------------------------------------------------------------------------------------ authentication
def self_subject_review(body: dict[str, Any], user: UserInfo, now: float | None = None) -> dict[str, Any]:
    """POST /apis/authentication.k8s.io/v1/selfsubjectreviews (``kubectl auth whoami``)."""
    return _answer(
        body,
        "authentication.k8s.io/v1",
        "SelfSubjectReview",
        metadata={"creationTimestamp": rfc3339(time.time() if now is None else now)},
        status={"userInfo": user.to_dict()},
    )


# authenticate(token, audiences) -> (user, accepted audiences); raises TokenRejected(message).
TokenAuthenticate = Callable[[str, Sequence[str]], tuple[UserInfo, list[str]]]


def make_token_authenticator(
    static: Callable[[str], UserInfo | None],
    issuer: TokenIssuer | None,
    lookup: Callable[[str, str, str], dict[str, Any] | None] | None,
    api_audiences: Sequence[str] | None = None,
) -> TokenAuthenticate:
    """The bearer-token chain as TokenReview runs it: static tokens (audience-agnostic: accepted only
    for the API audiences) and service-account JWTs (for the audiences they were issued for).

    ``static`` is ``Authenticator.authenticate_token``. A token nobody recognises raises
    TokenRejected("invalid bearer token"); a service-account token that is invalid raises its reason.
    """
    api_auds = (
        list(api_audiences) if api_audiences else (list(issuer.api_audiences) if issuer else [DEFAULT_ISSUER])
    )

    def authenticate(token: str, audiences: Sequence[str]) -> tuple[UserInfo, list[str]]:
        requested = list(audiences) or api_auds
        # Service-account JWTs are recognised by their issuer; static tokens never carry it, so trying
        # them first gives the union's answer while keeping the JWT's own audiences.
        if issuer is not None and lookup is not None:
            got = issuer.authenticate(token, lookup, requested)  # raises TokenRejected
            if got is not None:
                return got
        implicit = [a for a in requested if a in api_auds]  # static tokens are audience-agnostic
        if implicit:
            user = static(token)
            if user is not None:
                return user, implicit
        raise TokenRejected(INVALID_BEARER_TOKEN)

    return authenticate


def token_review(
    body: dict[str, Any],
    authenticate: TokenAuthenticate,
    api_audiences: Sequence[str] = (DEFAULT_ISSUER,),
) -> dict[str, Any]:
    """POST /apis/authentication.k8s.io/v1/tokenreviews: the request echoed with
    ``status{authenticated, user, audiences, error}`` (``user`` is ``{}`` when not authenticated)."""
    spec = _dict(body.get("spec"))
    token = _s(spec.get("token"))
    if not token:
        raise bad_request("token is required for TokenReview in authentication")
    audiences = _strs(spec.get("audiences")) or list(api_audiences)
    status: dict[str, Any]
    try:
        user, auds = authenticate(token, audiences)
    except TokenRejected as e:
        status = {"user": {}, "error": str(e)}
    else:
        status = {"authenticated": True, "user": user.to_dict()}
        if auds:
            status["audiences"] = auds
    return _answer(
        body, "authentication.k8s.io/v1", "TokenReview", metadata=_echo_meta(body), spec=spec, status=status
    )


__all__ = [
    "Attributes",
    "Authorizer",
    "Decision",
    "PolicyRule",
    "go_object_meta",
    "local_subject_access_review",
    "make_token_authenticator",
    "self_subject_access_review",
    "self_subject_review",
    "self_subject_rules_review",
    "subject_access_review",
    "token_review",
]
