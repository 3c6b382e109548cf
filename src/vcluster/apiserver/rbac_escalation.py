"""RBAC escalation prevention (pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/
policybased): a Role or ClusterRole may only grant what its writer holds (unless the writer may
``escalate`` it), a binding may only bind a role whose rules its writer holds (unless the writer may
``bind`` it); members of ``system:masters`` are exempt.

The writer is the user of the request being served: the server puts it, with the authorizer, into
:data:`REQUEST_AUTH` for the request's task, and the write pipeline calls :func:`check_create` and
:func:`check_update`. Writes made without a request (bootstrap) are not checked, as kube's own
post-start hooks are not.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any

from vcluster.apiserver.auth import SYSTEM_MASTERS, UserInfo
from vcluster.apiserver.errors import StatusError, not_found
from vcluster.apiserver.gostr import go_quote
from vcluster.apiserver.rbac_authorizer import Attributes, Authorizer, RBACAuthorizer
from vcluster.apiserver.rbac_index import RBAC_GROUP, parse_binding
from vcluster.apiserver.rbac_request import forbidden_status
from vcluster.apiserver.rbac_rules import (
    STAR_RULES,
    PolicyRule,
    compact_rules,
    compact_string,
    covers,
    rules_of,
)


@dataclass(frozen=True, slots=True)
class RequestAuth:
    """Who makes the current request and who decides what they may do."""

    user: UserInfo
    authorizer: Authorizer


REQUEST_AUTH: contextvars.ContextVar[RequestAuth | None] = contextvars.ContextVar(
    "vcluster_request_auth", default=None
)

_ROLE_KINDS = {"Role": "roles", "ClusterRole": "clusterroles"}
_BINDING_KINDS = {"RoleBinding": "rolebindings", "ClusterRoleBinding": "clusterrolebindings"}
_GC_FIELDS = (
    "ownerReferences",
    "finalizers",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "resourceVersion",
    "managedFields",
    "generation",
)


def _exempt(auth: RequestAuth | None) -> bool:
    """EscalationAllowed: no request user (an internal write) or a member of system:masters."""
    return auth is None or SYSTEM_MASTERS in auth.user.groups


def _allowed(auth: RequestAuth, verb: str, resource: str, namespace: str, name: str) -> bool:
    a = Attributes(verb, True, namespace, RBAC_GROUP, "*", resource, "", name)
    return auth.authorizer.authorize(auth.user, a).allowed


def _confirm_no_escalation(auth: RequestAuth, namespace: str, rules: tuple[PolicyRule, ...]) -> str:
    """ConfirmNoEscalation: "" when the user holds ``rules`` in ``namespace``, else the reason."""
    authz = auth.authorizer
    if not isinstance(authz, RBACAuthorizer):  # AlwaysAllow: everyone holds everything
        return ""
    owned, errors = authz.owned_rules(auth.user, namespace)
    missing = covers(owned, rules)
    if not missing:
        return ""
    lines = sorted({compact_string(r) for r in compact_rules(missing)})
    groups = "[" + " ".join(go_quote(g) for g in auth.user.groups) + "]"
    msg = (
        f"user {go_quote(auth.user.username)} (groups={groups}) is attempting to grant RBAC permissions "
        "not currently held:\n" + "\n".join(lines)
    )
    if errors:
        agg = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        msg += f"; resolution errors: [{agg}]"
    return msg


def _name(obj: dict[str, Any]) -> str:
    md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return str(md.get("name") or md.get("generateName") or "")


def _check_role(
    auth: RequestAuth,
    kind: str,
    namespace: str,
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    req_name: str,
) -> None:
    resource = _ROLE_KINDS[kind]
    if _allowed(auth, "escalate", resource, namespace, req_name):
        return
    name = _name(obj)
    reason = _confirm_no_escalation(auth, namespace, rules_of(obj))
    if reason:
        raise forbidden_status(resource, RBAC_GROUP, name, reason)
    aggregated = obj.get("aggregationRule") is not None or (
        old is not None and old.get("aggregationRule") is not None
    )
    if kind == "ClusterRole" and aggregated and _confirm_no_escalation(auth, namespace, STAR_RULES):
        raise forbidden_status(
            resource, RBAC_GROUP, name, "must have cluster-admin privileges to use the aggregationRule"
        )


def _check_binding(auth: RequestAuth, kind: str, namespace: str, obj: dict[str, Any]) -> None:
    b = parse_binding(obj)
    role_resource = _ROLE_KINDS.get(b.role_kind)
    if role_resource is not None and _allowed(auth, "bind", role_resource, namespace, b.role_name):
        return
    authz = auth.authorizer
    if not isinstance(authz, RBACAuthorizer):
        return
    try:
        rules = authz.index.role_rules(b.role_kind, b.role_name, namespace)
    except LookupError as e:
        if role_resource is None:
            raise StatusError(500, "InternalError", f"Internal error occurred: {e}", {}) from None
        raise not_found(role_resource[:-1], RBAC_GROUP, b.role_name) from None
    reason = _confirm_no_escalation(auth, namespace, rules)
    if reason:
        raise forbidden_status(_BINDING_KINDS[kind], RBAC_GROUP, _name(obj), reason)


def check_create(group: str, kind: str, namespace: str, obj: dict[str, Any]) -> None:
    """Refuse the create of an RBAC object that would escalate its writer's rights (403/404)."""
    auth = REQUEST_AUTH.get()
    if group != RBAC_GROUP or _exempt(auth):
        return
    assert auth is not None
    if kind in _ROLE_KINDS:
        _check_role(auth, kind, namespace, obj, None, "")
    elif kind in _BINDING_KINDS:
        _check_binding(auth, kind, namespace, obj)


def _only_gc_fields_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """IsOnlyMutatingGCFields."""

    def strip(o: dict[str, Any]) -> dict[str, Any]:
        md = {k: v for k, v in (o.get("metadata") or {}).items() if k not in _GC_FIELDS}
        return {**o, "metadata": md}

    return strip(old) == strip(new)


def check_update(group: str, kind: str, namespace: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Refuse an update of an RBAC object that would escalate its writer's rights."""
    auth = REQUEST_AUTH.get()
    if group != RBAC_GROUP or _exempt(auth) or _only_gc_fields_changed(old, new):
        return
    assert auth is not None
    if kind in _ROLE_KINDS:
        _check_role(auth, kind, namespace, new, old, _name(new))
    elif kind in _BINDING_KINDS:
        _check_binding(auth, kind, namespace, new)
