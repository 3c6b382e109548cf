"""The authentication and authorization endpoints: access/rules/self reviews, TokenReview and the
`serviceaccounts/<name>/token` TokenRequest, wired to the server's token issuer and store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from vcluster.apiserver import reviews, satoken, views
from vcluster.apiserver.auth import Authenticator, UserInfo
from vcluster.apiserver.errors import method_not_allowed
from vcluster.apiserver.rbac_authorizer import Authorizer
from vcluster.apiserver.request import RequestInfo, decode_object, media_type, read_body
from vcluster.apiserver.resources import Registry, ResourceType
from vcluster.store.interface import Storage

# Kinds the token issuer looks up (service accounts and the objects a token may be bound to).
_LOOKUP_KINDS = {
    "ServiceAccount": ("", "v1", "serviceaccounts"),
    "Pod": ("", "v1", "pods"),
    "Node": ("", "v1", "nodes"),
    "Secret": ("", "v1", "secrets"),
}


class AuthAPI:
    """Serves the review kinds and TokenRequest; registers service-account tokens as credentials."""

    def __init__(
        self,
        store: Storage,
        registry: Registry,
        authenticator: Authenticator,
        issuer: satoken.TokenIssuer,
        authorizer: Authorizer,
    ) -> None:
        self.store = store
        self.registry = registry
        self.issuer = issuer
        self.authorizer = authorizer
        self.authenticator = authenticator
        authenticator.add_token_validator(issuer.validator(self.lookup))
        self._token_auth = reviews.make_token_authenticator(
            authenticator.authenticate_token, issuer, self.lookup, issuer.api_audiences
        )

    def lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """Synchronous read of a live object (authentication runs before any handler awaits)."""
        from vcluster.apiserver.rest import object_key

        where = _LOOKUP_KINDS.get(kind)
        rt = self.registry.get(*where) if where else None
        if rt is None:
            return None
        e = self.store.get_now(object_key(rt, namespace, name))
        return e.decode() if e is not None else None

    async def review(
        self, rt: ResourceType, info: RequestInfo, request: web.Request, user: UserInfo
    ) -> web.Response:
        from vcluster.apiserver.rest import Rest

        if info.verb != "create":
            raise method_not_allowed()
        body = decode_object(await read_body(request), media_type(request), (rt.group, rt.version, rt.kind))
        Rest.check_type(rt, body)
        kind = rt.kind
        if kind == "SelfSubjectAccessReview":
            out = reviews.self_subject_access_review(body, user, self.authorizer)
        elif kind == "SubjectAccessReview":
            out = reviews.subject_access_review(body, self.authorizer)
        elif kind == "LocalSubjectAccessReview":
            out = reviews.local_subject_access_review(body, info.namespace, self.authorizer)
        elif kind == "SelfSubjectRulesReview":
            out = reviews.self_subject_rules_review(body, user, self.authorizer)
        elif kind == "SelfSubjectReview":
            out = reviews.self_subject_review(body, user)
        elif kind == "TokenReview":
            out = reviews.token_review(body, self._token_auth, self.issuer.api_audiences)
        else:  # pragma: no cover - VIRTUAL_KINDS and this dispatch are kept in step
            raise method_not_allowed()
        return views.respond(orjson.dumps(out), 201)

    def issue_token(self, namespace: str, service_account: str, body: dict[str, Any]) -> dict[str, Any]:
        """TokenRequest for callers in this process (the syncer); same checks as the endpoint."""
        out, _ = satoken.create_token_request(self.issuer, namespace, service_account, body, self.lookup)
        return out

    async def token_request(
        self, info: RequestInfo, request: web.Request, admit: Callable[[], Awaitable[None]] | None = None
    ) -> web.Response:
        """POST serviceaccounts/<name>/token: a signed, optionally object-bound JWT; `admit` (the
        NamespaceLifecycle check) is awaited once the body is decoded, as admission follows decoding."""
        from vcluster.apiserver.rest import Rest, with_warnings

        tr_rt = ResourceType(
            "authentication.k8s.io", "v1", "tokenrequests", "tokenrequest", "TokenRequest", True
        )
        body = decode_object(
            await read_body(request), media_type(request), ("authentication.k8s.io", "v1", "TokenRequest")
        )
        Rest.check_type(tr_rt, body)
        if admit is not None:
            await admit()
        out, warnings = satoken.create_token_request(
            self.issuer, info.namespace, info.name, body, self.lookup
        )
        return with_warnings(views.respond(orjson.dumps(out), 201), warnings)
