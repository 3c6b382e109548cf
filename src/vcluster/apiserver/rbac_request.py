"""What the authorization filter checks for a request, and how a refusal reads: kube-apiserver's
RequestInfoFactory (verbs, the ``metadata.name`` field selector as the name of a list or watch),
responsewriters.Forbidden's messages, and the impersonation filter (``Impersonate-*`` headers)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from vcluster.apiserver.auth import ANONYMOUS_USER, SYSTEM_AUTHENTICATED, SYSTEM_UNAUTHENTICATED, UserInfo
from vcluster.apiserver.errors import StatusError, bad_request
from vcluster.apiserver.gostr import go_quote
from vcluster.apiserver.rbac_authorizer import Attributes, Authorizer
from vcluster.apiserver.request import RequestInfo
from vcluster.apiserver.satoken import ALL_SERVICE_ACCOUNTS_GROUP, SA_GROUP_PREFIX, SA_USER_PREFIX
from vcluster.apiserver.validation import is_dns1123_label, is_dns1123_subdomain, is_valid_path_segment_name

# Subresources whose WebSocket (GET) upgrade runs something in the pod: authorized as `create`, the
# verb their SPDY (POST) form has, since this server speaks only the WebSocket form.
_CONNECT_SUBRESOURCES = ("exec", "attach", "portforward")
_RESOURCE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


class ForbiddenError(StatusError):
    """A 403 whose Status always carries ``details`` (``{}`` for paths), as kube's NewForbidden."""

    def status(self) -> dict[str, Any]:
        st = super().status()
        st.setdefault("details", {})
        st["code"] = st.pop("code")  # keep kube's field order: details before code
        return st


def _field_selector_name(query: Mapping[str, str]) -> str:
    """The name an exact ``metadata.name=`` field selector asks for (RequiresExactMatch)."""
    sel = query.get("fieldSelector") or ""
    for term in sel.split(","):
        term = term.strip()
        for op in ("==", "="):
            key, sep, value = term.partition(op)
            if sep and not key.endswith("!") and key.strip() == "metadata.name":
                value = value.strip()
                return value if not is_valid_path_segment_name(value) else ""
    return ""


def resource_attributes(info: RequestInfo, method: str, query: Mapping[str, str]) -> Attributes:
    """The attributes of a resource request, as RequestInfoFactory derives them."""
    verb = info.verb
    name = info.name
    if method in ("GET", "HEAD"):
        if info.subresource in _CONNECT_SUBRESOURCES and info.resource == "pods":
            verb = "create"
        elif not name:
            name = _field_selector_name(query)
    elif method not in ("DELETE", *_RESOURCE_VERBS):
        verb = ""
    return Attributes(
        verb=verb,
        resource_request=True,
        namespace=info.namespace,
        group=info.group,
        version=info.version,
        resource=info.resource,
        subresource=info.subresource,
        name=name,
    )


def path_attributes(path: str, method: str) -> Attributes:
    """A non-resource request: the lower-cased method on the path."""
    return Attributes(verb=method.lower(), resource_request=False, path=path)


def forbidden_message(user: UserInfo, a: Attributes) -> str:
    """forbiddenMessage."""
    who = go_quote(user.username)
    if not a.resource_request:
        return f"User {who} cannot {a.verb} path {go_quote(a.path)}"
    resource = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    where = f"in the namespace {go_quote(a.namespace)}" if a.namespace else "at the cluster scope"
    return (
        f"User {who} cannot {a.verb} resource {go_quote(resource)} in API group {go_quote(a.group)} {where}"
    )


def forbidden_status(resource: str, group: str, name: str, message: str) -> ForbiddenError:
    """apierrors.NewForbidden(GroupResource{group, resource}, name, message)."""
    qualified = f"{resource}.{group}" if group and resource else resource
    if not qualified:
        text = f"forbidden: {message}"
    elif name:
        text = f"{qualified} {go_quote(name)} is forbidden: {message}"
    else:
        text = f"{qualified} is forbidden: {message}"
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if resource:
        details["kind"] = resource
    return ForbiddenError(403, "Forbidden", text, details)


def forbidden(user: UserInfo, a: Attributes, reason: str = "") -> ForbiddenError:
    """responsewriters.Forbidden: the refusal of the authorization filter."""
    msg = forbidden_message(user, a)
    if reason:
        msg = f"{msg}: {reason}"
    if not a.resource_request:
        return forbidden_status("", "", "", msg)
    return forbidden_status(a.resource, a.group, a.name, msg)


def authorize(authorizer: Authorizer, user: UserInfo, a: Attributes) -> None:
    """Raise kube's 403 unless ``user`` may do ``a``."""
    d = authorizer.authorize(user, a)
    if not d.allowed:
        raise forbidden(user, a, d.reason)


# ------------------------------------------------------------------------------------- impersonation
IMPERSONATE_USER = "Impersonate-User"
IMPERSONATE_GROUP = "Impersonate-Group"
IMPERSONATE_UID = "Impersonate-Uid"
IMPERSONATE_EXTRA_PREFIX = "Impersonate-Extra-"
AUTHN_GROUP = "authentication.k8s.io"
AUTHN_V1 = AUTHN_GROUP + "/v1"


@dataclass(frozen=True)
class _Ref:
    """One thing to impersonate, as kube's v1.ObjectReference (kind, namespace, name, api version,
    field path: the extra's key)."""

    attrs: Attributes
    kind: str
    namespace: str = ""
    name: str = ""
    api_version: str = ""
    field_path: str = ""

    def go_string(self) -> str:
        """fmt's %v of the ObjectReference: its seven fields, space separated, in braces."""
        fields = (self.kind, self.namespace, self.name, "", self.api_version, "", self.field_path)
        return "{" + " ".join(fields) + "}"


def split_sa_username(username: str) -> tuple[str, str] | None:
    """serviceaccount.SplitUsername: (namespace, name) of a valid service-account user name."""
    if not username.startswith(SA_USER_PREFIX):
        return None
    parts = username[len(SA_USER_PREFIX) :].split(":")
    if len(parts) != 2 or is_dns1123_label(parts[0]) or is_dns1123_subdomain(parts[1]):
        return None
    return parts[0], parts[1]


def go_path_unescape(s: str) -> str:
    """url.PathUnescape, or ``s`` itself when it has a malformed %-escape (unescapeExtraKey)."""
    if "%" not in s:
        return s
    if _BAD_ESCAPE.search(s):
        return s
    return unquote_to_bytes(s).decode("utf-8", "replace")


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _impersonation_requests(headers: Any) -> list[_Ref]:
    """The things the Impersonate-* headers ask for, in kube's order (buildImpersonationRequests);
    groups, extras or a uid without a user are kube's plain-text 500."""
    out: list[_Ref] = []
    username = headers.get(IMPERSONATE_USER, "")
    if username:
        sa = split_sa_username(username)
        if sa is not None:
            attrs = Attributes("impersonate", True, sa[0], "", "v1", "serviceaccounts", "", sa[1])
            out.append(_Ref(attrs, "ServiceAccount", sa[0], sa[1]))
        else:
            attrs = Attributes("impersonate", True, "", "", "v1", "users", "", username)
            out.append(_Ref(attrs, "User", name=username))
    for group in headers.getall(IMPERSONATE_GROUP, []):
        attrs = Attributes("impersonate", True, "", "", "v1", "groups", "", group)
        out.append(_Ref(attrs, "Group", name=group))
    for key in dict.fromkeys(k.lower() for k in headers):  # each name once, as Go's canonical keys
        if not key.startswith(IMPERSONATE_EXTRA_PREFIX.lower()):
            continue
        extra = go_path_unescape(key[len(IMPERSONATE_EXTRA_PREFIX) :])
        for value in headers.getall(key, []):
            attrs = Attributes("impersonate", True, "", AUTHN_GROUP, "v1", "userextras", extra, value)
            out.append(_Ref(attrs, "UserExtra", name=value, api_version=AUTHN_V1, field_path=extra))
    uid = headers.get(IMPERSONATE_UID, "")
    if uid:
        attrs = Attributes("impersonate", True, "", AUTHN_GROUP, "v1", "uids", "", uid)
        out.append(_Ref(attrs, "UID", name=uid, api_version=AUTHN_V1))
    if out and not username:
        asked = " ".join(r.go_string() for r in out)
        # kube's filter answers this client mistake with a plain-text 500; we never answer 500 to
        # one, so it is a 400 with kube's message
        raise bad_request(f"requested [{asked}] without impersonating a user")
    return out


def impersonate(authorizer: Authorizer, user: UserInfo, headers: Any) -> UserInfo:
    """The user a request acts as: ``user`` itself, or the one its Impersonate-* headers name, each
    authorized as the ``impersonate`` verb (403 otherwise), with groups as kube's filter sets them."""
    if not any(k.lower().startswith("impersonate-") for k in headers):
        return user
    requests = _impersonation_requests(headers)
    if not requests:  # only unknown Impersonate-* headers (or empty values): no impersonation
        return user
    groups_given = bool(headers.getall(IMPERSONATE_GROUP, []))
    username, uid = "", ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    for ref in requests:
        if ref.kind == "ServiceAccount":
            username = SA_USER_PREFIX + ref.namespace + ":" + ref.name
            if not groups_given:
                groups = [ALL_SERVICE_ACCOUNTS_GROUP, SA_GROUP_PREFIX + ref.namespace]
        elif ref.kind == "User":
            username = ref.name
        elif ref.kind == "Group":
            groups.append(ref.name)
        elif ref.kind == "UID":
            uid = ref.name
        else:
            extra.setdefault(ref.field_path, []).append(ref.name)
        authorize(authorizer, user, ref.attrs)
    if username != ANONYMOUS_USER:
        if not {SYSTEM_AUTHENTICATED, SYSTEM_UNAUTHENTICATED} & set(groups):
            groups.append(SYSTEM_AUTHENTICATED)
    elif SYSTEM_UNAUTHENTICATED not in groups:
        groups.append(SYSTEM_UNAUTHENTICATED)
    return UserInfo(username=username, uid=uid, groups=tuple(groups), extra=extra)
