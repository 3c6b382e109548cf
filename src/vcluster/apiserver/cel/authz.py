"""kube 1.32's CEL authz library (k8s.io/apiserver/pkg/cel/library/authz.go: Authz and
AuthzSelectors) and the ``authorizer`` / ``authorizer.requestResource`` values of admission
expressions, backed by this server's authorizer (RBAC or AlwaysAllow).

The values are messages of ``opaque.POOL`` (the C++ runtime hands Python functions only CEL values
and messages): each carries the principal as JSON and the key of the authorizer object, which is
held here weakly; ``check()`` calls ``Authorizer.authorize`` with kube's AttributesRecord (API
version ``*`` for a resource check). Unlike cel-go's receiver-only values, the messages' fields
can be selected (``authorizer.user``); kube has no such fields."""

from __future__ import annotations

import json
import weakref
from typing import Any

from cel_expr_python import cel

from ..auth import SYSTEM_MASTERS, UserInfo
from ..rbac_authorizer import AlwaysAllowAuthorizer, Attributes
from ..validation import is_dns1123_label, is_dns1123_subdomain
from . import opaque
from .libnet import CelError

T = cel.Type
AUTHORIZER_T = T("kubernetes.authorization.Authorizer")
PATH_CHECK_T = T("kubernetes.authorization.PathCheck")
GROUP_CHECK_T = T("kubernetes.authorization.GroupCheck")
RESOURCE_CHECK_T = T("kubernetes.authorization.ResourceCheck")
DECISION_T = T("kubernetes.authorization.Decision")

AUTHORIZER_VAR = "authorizer"
REQUEST_RESOURCE_VAR = "authorizer.requestResource"

# Writes made inside the server without a request act as kube's loopback client does.
LOOPBACK_USER = UserInfo("system:apiserver", groups=(SYSTEM_MASTERS,))
_LOOPBACK_AUTHORIZER = AlwaysAllowAuthorizer()

_AUTHORIZERS: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()


def _register(authorizer: Any) -> str:
    key = str(id(authorizer))
    if _AUTHORIZERS.get(key) is not authorizer:
        _AUTHORIZERS[key] = authorizer
    return key


def _user_json(user: UserInfo) -> str:
    return json.dumps(user.to_dict(), sort_keys=True, separators=(",", ":"))


def _user(text: str) -> UserInfo:
    d = json.loads(text)
    extra = {k: list(v) for k, v in (d.get("extra") or {}).items()}
    return UserInfo(d.get("username", ""), d.get("uid", ""), tuple(d.get("groups") or ()), extra)


def authorizer_value(user: UserInfo | None, authorizer: Any | None) -> Any:
    """NewAuthorizerVal: the ``authorizer`` variable for `user` (None: the loopback user)."""
    if user is None or authorizer is None:
        user, authorizer = LOOPBACK_USER, _LOOPBACK_AUTHORIZER
    return opaque.Authorizer(authorizer=_register(authorizer), user=_user_json(user))


def request_resource_value(
    authz: Any, group: str, resource: str, subresource: str, namespace: str, name: str
) -> Any:
    """NewResourceAuthorizerVal: ``authorizer.requestResource`` (the request's resource)."""
    return opaque.ResourceCheck(
        authorizer=authz.authorizer,
        user=authz.user,
        group=group,
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
    )


def variables(
    user: UserInfo | None, authorizer: Any | None, resource: tuple[str, str, str, str, str]
) -> dict[str, Any]:
    """The activation's ``authorizer`` and ``authorizer.requestResource`` for the request's user;
    `resource`: its (group, resource, subresource, namespace, name)."""
    a = authorizer_value(user, authorizer)
    return {AUTHORIZER_VAR: a, REQUEST_RESOURCE_VAR: request_resource_value(a, *resource)}


# ---------------------------------------------------------------------------- functions
def _path(a: Any, path: str) -> Any:
    if not path.strip():
        raise CelError("path must not be empty")
    return opaque.PathCheck(authorizer=a.authorizer, user=a.user, path=path)


def _group(a: Any, group: str) -> Any:
    return opaque.GroupCheck(authorizer=a.authorizer, user=a.user, group=group)


def _service_account(a: Any, namespace: str, name: str) -> Any:
    if is_dns1123_subdomain(name):
        raise CelError("Invalid service account name")
    if is_dns1123_label(namespace):
        raise CelError("Invalid service account namespace")
    sa = UserInfo(
        f"system:serviceaccount:{namespace}:{name}",
        groups=("system:serviceaccounts", f"system:serviceaccounts:{namespace}"),
    )
    return opaque.Authorizer(authorizer=a.authorizer, user=_user_json(sa))


def _resource(g: Any, resource: str) -> Any:
    if not resource.strip():
        raise CelError("resource must not be empty")
    return opaque.ResourceCheck(authorizer=g.authorizer, user=g.user, group=g.group, resource=resource)


def _with(field: str) -> Any:
    def impl(r: Any, value: str) -> Any:
        out = opaque.ResourceCheck()
        out.CopyFrom(r)
        setattr(out, field, value)
        return out

    return impl


def _authorize(key: str, user: str, attrs: Attributes) -> Any:
    authorizer = _AUTHORIZERS.get(key)
    if authorizer is None:  # the server that made the value is gone
        return opaque.AuthzDecision(decision="noopinion", error="authorizer is not available")
    d = authorizer.authorize(_user(user), attrs)
    decision = "allow" if d.allowed else "deny" if d.denied else "noopinion"
    return opaque.AuthzDecision(decision=decision, reason=d.reason, error=d.evaluation_error)


def _path_check(p: Any, verb: str) -> Any:
    return _authorize(p.authorizer, p.user, Attributes(verb, False, path=p.path))


def _resource_check(r: Any, verb: str) -> Any:
    attrs = Attributes(verb, True, r.namespace, r.group, "*", r.resource, r.subresource, r.name)
    return _authorize(r.authorizer, r.user, attrs)


def _check(c: Any, verb: str) -> Any:
    return _path_check(c, verb) if isinstance(c, opaque.PathCheck) else _resource_check(c, verb)


def _fn(name: str, *overloads: cel.Overload) -> cel.FunctionDecl:
    return cel.FunctionDecl(name, list(overloads))


def _m(oid: str, ret: cel.Type, params: list[cel.Type], impl: Any) -> cel.Overload:
    return cel.Overload(oid, ret, params, is_member=True, impl=impl)


def check_declaration() -> cel.FunctionDecl:
    """``check`` of PathCheck and ResourceCheck: declared without implementations (an extension
    cannot give both one, the C++ runtime dispatches on value kinds and both are messages); the
    environment binds :data:`CHECK_IMPLS` to them."""
    s = T.STRING
    return _fn(
        "check",
        cel.Overload("pathcheck_check", DECISION_T, [PATH_CHECK_T, s], is_member=True),
        cel.Overload("resourcecheck_check", DECISION_T, [RESOURCE_CHECK_T, s], is_member=True),
    )


CHECK_IMPLS = {"pathcheck_check": _check}


def declarations() -> list[cel.FunctionDecl]:
    """authzLibraryDecls and authzSelectorsLibraryDecls (kube's overload ids) but ``check``."""
    s, b = T.STRING, T.BOOL
    rc = RESOURCE_CHECK_T
    return [
        _fn("path", _m("authorizer_path", PATH_CHECK_T, [AUTHORIZER_T, s], _path)),
        _fn("group", _m("authorizer_group", GROUP_CHECK_T, [AUTHORIZER_T, s], _group)),
        _fn(
            "serviceAccount",
            _m("authorizer_serviceaccount", AUTHORIZER_T, [AUTHORIZER_T, s, s], _service_account),
        ),
        _fn("resource", _m("groupcheck_resource", rc, [GROUP_CHECK_T, s], _resource)),
        _fn("subresource", _m("resourcecheck_subresource", rc, [rc, s], _with("subresource"))),
        _fn("namespace", _m("resourcecheck_namespace", rc, [rc, s], _with("namespace"))),
        _fn("name", _m("resourcecheck_name", rc, [rc, s], _with("name"))),
        _fn("fieldSelector", _m("authorizer_fieldselector", rc, [rc, s], _with("field_selector"))),
        _fn("labelSelector", _m("authorizer_labelselector", rc, [rc, s], _with("label_selector"))),
        _fn("errored", _m("decision_errored", b, [DECISION_T], lambda d: bool(d.error))),
        _fn("error", _m("decision_error", s, [DECISION_T], lambda d: d.error)),
        _fn("allowed", _m("decision_allowed", b, [DECISION_T], lambda d: d.decision == "allow")),
        _fn("reason", _m("decision_reason", s, [DECISION_T], lambda d: d.reason)),
    ]
