"""Review answers: SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview,
SelfSubjectRulesReview, SelfSubjectReview and TokenReview.

Upstream references: pkg/registry/authorization/*/rest.go, pkg/registry/authentication/*/storage.go,
pkg/apis/authorization/validation/validation.go, plugin/pkg/auth/authorizer/rbac (RBAC reasons, RulesFor)
and the bootstrap policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcluster.apiserver import reviews
from vcluster.apiserver.auth import ANONYMOUS, Authenticator, UserInfo
from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.rbac_authorizer import AlwaysAllowAuthorizer
from vcluster.apiserver.rbac_policy import bootstrap_authorizer
from vcluster.apiserver.reviews import (
    go_object_meta,
    local_subject_access_review,
    make_token_authenticator,
    self_subject_access_review,
    self_subject_review,
    self_subject_rules_review,
    subject_access_review,
    token_review,
)
from vcluster.apiserver.satoken import DEFAULT_ISSUER, TokenIssuer

ADMIN = UserInfo("kubernetes-admin", groups=("system:masters", "system:authenticated"))
SA_USER = UserInfo(
    "system:serviceaccount:default:default",
    uid="sa-uid",
    groups=("system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"),
)
STRICT = bootstrap_authorizer()  # RBAC with the bootstrap policy only: a fresh cluster
ALWAYS_ALLOW = AlwaysAllowAuthorizer()


def _ssar(ra: dict[str, Any] | None = None, nra: dict[str, Any] | None = None, **md: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if ra is not None:
        spec["resourceAttributes"] = ra
    if nra is not None:
        spec["nonResourceAttributes"] = nra
    return {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None, **md},
        "spec": spec,
    }


# ---------------------------------------------------------------------------------------------- SSAR
def test_ssar_for_system_masters_is_allowed_without_reason() -> None:
    # the privileged-group authorizer answers DecisionAllow with reason "" for system:masters; the
    # request is echoed with status {allowed: true} (denied/reason/evaluationError are omitempty)
    ra = {"namespace": "default", "verb": "get", "resource": "pods"}
    out = self_subject_access_review(_ssar(ra), ADMIN)
    assert out == {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {"resourceAttributes": ra},
        "status": {"allowed": True},
    }
    assert self_subject_access_review(_ssar(ra), ADMIN, STRICT)["status"] == {"allowed": True}


def test_ssar_default_is_rbac_and_always_allow_allows_everyone() -> None:
    body = _ssar({"verb": "delete", "resource": "nodes"})
    assert self_subject_access_review(body, SA_USER)["status"] == {"allowed": False}
    assert self_subject_access_review(body, SA_USER, ALWAYS_ALLOW)["status"] == {"allowed": True}
    assert self_subject_access_review(body, ANONYMOUS)["status"] == {"allowed": False}


BASIC = 'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group '
DISCOVERY = (
    'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group '
)
PUBLIC = (
    'RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole '
    '"system:public-info-viewer" to Group '
)

STRICT_CASES: list[tuple[str, UserInfo, dict[str, Any] | None, dict[str, Any] | None, dict[str, Any]]] = [
    # what the bootstrap RBAC policy grants a user with no bindings of their own (reason format from
    # rbac.go's clusterRoleBindingDescriber: `ClusterRoleBinding "x" of ClusterRole "y" to Group "z"`)
    (
        "basic-user ssar",
        SA_USER,
        {"verb": "create", "group": "authorization.k8s.io", "resource": "selfsubjectaccessreviews"},
        None,
        {"allowed": True, "reason": BASIC + '"system:authenticated"'},
    ),
    (
        "basic-user whoami",
        SA_USER,
        {"verb": "create", "group": "authentication.k8s.io", "resource": "selfsubjectreviews"},
        None,
        {"allowed": True, "reason": BASIC + '"system:authenticated"'},
    ),
    (
        "pods denied",
        SA_USER,
        {"namespace": "default", "verb": "list", "resource": "pods"},
        None,
        {"allowed": False},
    ),
    (
        "wrong group",
        SA_USER,
        {"verb": "create", "group": "", "resource": "selfsubjectaccessreviews"},
        None,
        {"allowed": False},
    ),
    (
        "discovery",
        SA_USER,
        None,
        {"path": "/apis/apps", "verb": "get"},
        {"allowed": True, "reason": DISCOVERY + '"system:authenticated"'},
    ),
    (
        "healthz",
        SA_USER,
        None,
        {"path": "/healthz", "verb": "get"},
        {"allowed": True, "reason": DISCOVERY + '"system:authenticated"'},
    ),
    ("metrics", SA_USER, None, {"path": "/metrics", "verb": "get"}, {"allowed": False}),
    ("post healthz", SA_USER, None, {"path": "/healthz", "verb": "post"}, {"allowed": False}),
    (
        "anonymous version",
        ANONYMOUS,
        None,
        {"path": "/version", "verb": "get"},
        {"allowed": True, "reason": PUBLIC + '"system:unauthenticated"'},
    ),
    ("anonymous api", ANONYMOUS, None, {"path": "/api", "verb": "get"}, {"allowed": False}),
]


@pytest.mark.parametrize(
    ("case", "user", "ra", "nra", "status"), STRICT_CASES, ids=[c[0] for c in STRICT_CASES]
)
def test_ssar_bootstrap_rbac(
    case: str, user: UserInfo, ra: dict[str, Any] | None, nra: dict[str, Any] | None, status: dict[str, Any]
) -> None:
    assert self_subject_access_review(_ssar(ra, nra), user, STRICT)["status"] == status


SSAR_INVALID: list[tuple[str, dict[str, Any], str, list[dict[str, str]]]] = [
    # NewInvalid(authorizationapi.Kind(sar.Kind), "", errs): the decoded internal object has an empty kind;
    # a nil pointer prints as "null" (field.Error.ErrorBody), an internal struct with %#v.
    (
        "neither",
        _ssar(),
        '.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": '
        "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        [
            {
                "reason": "FieldValueInvalid",
                "message": 'Invalid value: "null": exactly one of nonResourceAttributes or '
                "resourceAttributes must be specified",
                "field": "spec.resourceAttributes",
            }
        ],
    ),
    (
        "both",
        _ssar({"verb": "get", "resource": "pods"}, {"path": "/api", "verb": "get"}),
        '.authorization.k8s.io "" is invalid: spec.nonResourceAttributes: Invalid value: '
        'authorization.NonResourceAttributes{Path:"/api", Verb:"get"}: '
        "cannot be specified in combination with resourceAttributes",
        [
            {
                "reason": "FieldValueInvalid",
                "message": 'Invalid value: authorization.NonResourceAttributes{Path:"/api", Verb:"get"}: '
                "cannot be specified in combination with resourceAttributes",
                "field": "spec.nonResourceAttributes",
            }
        ],
    ),
    (
        "named",
        _ssar({"verb": "get", "resource": "pods"}, name="mine"),
        '.authorization.k8s.io "" is invalid: metadata: Invalid value: v1.ObjectMeta{Name:"mine", '
        'GenerateName:"", Namespace:"", SelfLink:"", UID:"", ResourceVersion:"", Generation:0, '
        "CreationTimestamp:time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC), DeletionTimestamp:<nil>, "
        "DeletionGracePeriodSeconds:(*int64)(nil), Labels:map[string]string(nil), "
        "Annotations:map[string]string(nil), OwnerReferences:[]v1.OwnerReference(nil), "
        "Finalizers:[]string(nil), ManagedFields:[]v1.ManagedFieldsEntry(nil)}: must be empty",
        [],
    ),
    (
        "selector without requirements",
        _ssar(
            {"verb": "list", "resource": "pods", "fieldSelector": {}, "labelSelector": {"rawSelector": "a=b"}}
        ),
        '.authorization.k8s.io "" is invalid: spec.resourceAttributes.fieldSelector.requirements: '
        "Required value: when spec.resourceAttributes.fieldSelector is specified, requirements or "
        "rawSelector is required",
        [],
    ),
    (
        "selector both",
        _ssar(
            {
                "verb": "list",
                "resource": "pods",
                "labelSelector": {"rawSelector": "a=b", "requirements": [{"key": "a", "operator": "Exists"}]},
            }
        ),
        '.authorization.k8s.io "" is invalid: spec.resourceAttributes.labelSelector.rawSelector: '
        'Invalid value: "a=b": may not specified at the same time as requirements',
        [],
    ),
    (
        "requirement values",
        _ssar(
            {
                "verb": "list",
                "resource": "pods",
                "fieldSelector": {"requirements": [{"key": "spec.nodeName", "operator": "In"}]},
                "labelSelector": {"requirements": [{"key": "app", "operator": "Exists", "values": ["x"]}]},
            }
        ),
        '.authorization.k8s.io "" is invalid: [spec.resourceAttributes.fieldSelector.requirements[0].values: '
        "Required value: must be specified when `operator` is 'In' or 'NotIn', "
        "spec.resourceAttributes.labelSelector.requirements[0].values: Forbidden: may not be specified when "
        "`operator` is 'Exists' or 'DoesNotExist']",
        [],
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "message", "causes"), SSAR_INVALID, ids=[c[0] for c in SSAR_INVALID]
)
def test_ssar_validation(case: str, body: dict[str, Any], message: str, causes: list[dict[str, str]]) -> None:
    with pytest.raises(StatusError) as ei:
        self_subject_access_review(body, ADMIN)
    st = ei.value.status()
    assert (st["code"], st["reason"], st["message"]) == (422, "Invalid", message)
    assert st["details"]["group"] == "authorization.k8s.io"
    assert "kind" not in st["details"] and "name" not in st["details"]
    if causes:
        assert st["details"]["causes"] == causes


def test_ssar_tolerates_managed_fields_and_drops_namespace() -> None:
    mf = [{"manager": "kubectl", "operation": "Update"}]
    out = self_subject_access_review(
        _ssar({"verb": "get", "resource": "pods"}, managedFields=mf, namespace="x"), ADMIN
    )
    assert out["metadata"] == {"creationTimestamp": None, "managedFields": mf}


def test_go_object_meta_renders_set_fields() -> None:
    md = {
        "labels": {"b": "2", "a": "1"},
        "finalizers": ["f"],
        "generation": 3,
        "creationTimestamp": "2024-02-03T04:05:06Z",
        "deletionGracePeriodSeconds": 30,
    }
    s = go_object_meta(md)
    assert 'Labels:map[string]string{"a":"1", "b":"2"}' in s
    assert 'Finalizers:[]string{"f"}' in s and "Generation:3," in s
    assert "CreationTimestamp:time.Date(2024, time.February, 3, 4, 5, 6, 0, time.Local)" in s
    assert "DeletionGracePeriodSeconds:(*int64)(0x" in s


# ---------------------------------------------------------------------------------------------- SAR / LSAR
def test_subject_access_review_for_other_users() -> None:
    body = {
        "kind": "SubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {},
        "spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}, "groups": ["system:masters"]},
    }
    assert subject_access_review(body)["status"] == {"allowed": True}
    body["spec"]["groups"] = ["system:authenticated"]
    body["spec"]["user"] = "bob"
    assert subject_access_review(body, STRICT)["status"] == {"allowed": False}
    body["spec"] = {"resourceAttributes": {"verb": "get", "resource": "pods"}}
    with pytest.raises(StatusError) as ei:
        subject_access_review(body)
    assert ei.value.message == (
        '.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": '
        "at least one of user or group must be specified"
    )


def test_local_subject_access_review() -> None:
    spec = {"resourceAttributes": {"namespace": "team", "verb": "get", "resource": "pods"}, "user": "bob"}
    out = local_subject_access_review({"metadata": {}, "spec": spec}, "team")
    assert out["kind"] == "LocalSubjectAccessReview"
    assert out["metadata"] == {"creationTimestamp": None, "namespace": "team"}
    assert out["status"] == {"allowed": False}  # bob holds nothing in a fresh cluster
    always = local_subject_access_review({"metadata": {}, "spec": spec}, "team", ALWAYS_ALLOW)
    assert always["status"] == {"allowed": True}
    with pytest.raises(StatusError) as ei:
        local_subject_access_review({"spec": {**spec, "resourceAttributes": {"namespace": "x"}}}, "team")
    assert ei.value.message == (
        '.authorization.k8s.io "" is invalid: spec.resourceAttributes.namespace: Invalid value: "x": '
        "must match metadata.namespace"
    )
    with pytest.raises(StatusError) as ei:
        local_subject_access_review({"metadata": {"namespace": "other"}, "spec": spec}, "team")
    assert ei.value.code == 400


# ---------------------------------------------------------------------------------------------- SSRR
ADMIN_RULES = {
    # cluster-admin (bound to system:masters), system:basic-user, system:discovery and
    # system:public-info-viewer (bound to system:authenticated), as `kubectl auth can-i --list` shows them
    "resourceRules": [
        {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
        {
            "verbs": ["create"],
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
        },
        {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
    ],
    "nonResourceRules": [
        {"verbs": ["*"], "nonResourceURLs": ["*"]},
        {
            "verbs": ["get"],
            "nonResourceURLs": [
                "/api",
                "/api/*",
                "/apis",
                "/apis/*",
                "/healthz",
                "/livez",
                "/openapi",
                "/openapi/*",
                "/readyz",
                "/version",
                "/version/",
            ],
        },
        {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]},
    ],
    "incomplete": False,
}


def test_ssrr_for_system_masters() -> None:
    body = {
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {"namespace": "default"},
    }
    out = self_subject_rules_review(body, ADMIN)
    # a new object: neither the request's metadata nor its spec is returned
    assert out == {
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {},
        "status": ADMIN_RULES,
    }
    assert self_subject_rules_review(body, ADMIN, STRICT)["status"] == ADMIN_RULES
    assert self_subject_rules_review(body, SA_USER, ALWAYS_ALLOW)["status"] == {
        "resourceRules": [ADMIN_RULES["resourceRules"][0]],
        "nonResourceRules": [ADMIN_RULES["nonResourceRules"][0]],
        "incomplete": False,
    }


def test_ssrr_without_admin_rights() -> None:
    body = {"spec": {"namespace": "default"}}
    st = self_subject_rules_review(body, SA_USER, STRICT)["status"]
    assert st["resourceRules"] == ADMIN_RULES["resourceRules"][1:]
    # service accounts also read the issuer's discovery documents (system:service-account-issuer-discovery)
    assert st["nonResourceRules"] == [
        *ADMIN_RULES["nonResourceRules"][1:],
        {"verbs": ["get"], "nonResourceURLs": ["/.well-known/openid-configuration", "/openid/v1/jwks"]},
    ]
    st = self_subject_rules_review(body, ANONYMOUS)["status"]
    assert st == {
        "resourceRules": [],
        "nonResourceRules": [ADMIN_RULES["nonResourceRules"][2]],
        "incomplete": False,
    }


def test_ssrr_needs_a_namespace() -> None:
    with pytest.raises(StatusError) as ei:
        self_subject_rules_review({"spec": {}}, ADMIN)
    assert (ei.value.code, ei.value.message) == (400, "no namespace on request")


# ------------------------------------------------------------------------------------------ SelfSubjectReview
def test_self_subject_review() -> None:
    # `kubectl auth whoami`: a new object with creationTimestamp = now and status.userInfo
    body = {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {"name": "x"}}
    out = self_subject_review(body, ADMIN, now=1_700_000_000)
    assert out == {
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": "2023-11-14T22:13:20Z"},
        "status": {
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}
        },
    }
    user = UserInfo("u", uid="1", groups=("g",), extra={"k": ["v"]})
    info = self_subject_review({}, user)["status"]["userInfo"]
    assert info == {"username": "u", "uid": "1", "groups": ["g"], "extra": {"k": ["v"]}}


# ---------------------------------------------------------------------------------------------- TokenReview
@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TokenIssuer(priv, pub)


OBJS = {
    ("ServiceAccount", "default", "default"): {"metadata": {"name": "default", "uid": "sa-uid"}},
}


def _lookup(kind: str, ns: str, name: str) -> dict[str, Any] | None:
    return OBJS.get((kind, ns, name))


@pytest.fixture
def chain(tmp_path: Path, issuer: TokenIssuer) -> tuple[Authenticator, reviews.TokenAuthenticate]:
    auth = Authenticator(tmp_path / "tokens.csv")
    auth.add_token_validator(issuer.validator(_lookup))
    return auth, make_token_authenticator(auth.authenticate_token, issuer, _lookup)


def _tr(token: str, audiences: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"token": token}
    if audiences is not None:
        spec["audiences"] = audiences
    return {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {}, "spec": spec}


def test_token_review_static_token(chain: tuple[Authenticator, Any]) -> None:
    auth, authenticate = chain
    out = token_review(_tr(auth.admin_token), authenticate)
    assert out["metadata"] == {"creationTimestamp": None}
    assert out["spec"] == {"token": auth.admin_token}
    assert out["status"] == {
        "authenticated": True,
        "user": {"username": "admin", "uid": "admin", "groups": ["system:masters", "system:authenticated"]},
        "audiences": [DEFAULT_ISSUER],
    }
    # static tokens are audience-agnostic: valid only for the API audiences
    other = token_review(_tr(auth.admin_token, ["vault"]), authenticate)
    assert other["status"] == {"user": {}, "error": "invalid bearer token"}


def test_token_review_service_account_token(chain: tuple[Authenticator, Any], issuer: TokenIssuer) -> None:
    _, authenticate = chain
    token, _ = issuer.issue("default", "default", "sa-uid", [DEFAULT_ISSUER, "vault"], 3600)
    st = token_review(_tr(token), authenticate)["status"]
    assert st["authenticated"] is True
    assert st["audiences"] == [DEFAULT_ISSUER]
    assert st["user"]["username"] == "system:serviceaccount:default:default"
    assert st["user"]["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated",
    ]
    assert list(st["user"]["extra"]) == ["authentication.kubernetes.io/credential-id"]
    st = token_review(_tr(token, ["vault", "nope"]), authenticate)["status"]
    assert st["audiences"] == ["vault"]
    # the accepted audiences are the requested ones the token carries, in the requested order
    st = token_review(_tr(token, ["vault", DEFAULT_ISSUER]), authenticate)["status"]
    assert st["audiences"] == ["vault", DEFAULT_ISSUER]


def test_token_review_failures(chain: tuple[Authenticator, Any], issuer: TokenIssuer) -> None:
    _, authenticate = chain
    # unauthenticated: authenticated omitted (omitempty), user {} (a struct is never omitted)
    assert token_review(_tr("garbage"), authenticate)["status"] == {
        "user": {},
        "error": "invalid bearer token",
    }
    expired, _ = issuer.issue("default", "default", "sa-uid", None, 600, now=1_000_000)
    assert token_review(_tr(expired), authenticate)["status"] == {
        "user": {},
        "error": "service account token has expired",
    }
    vault, _ = issuer.issue("default", "default", "sa-uid", ["vault"], 600)
    assert token_review(_tr(vault), authenticate)["status"]["error"] == (
        'token audiences ["vault"] is invalid for the target audiences ["https://kubernetes.default.svc.cluster.local"]'
    )
    gone, _ = issuer.issue("default", "ghost", "x", None, 600)
    assert token_review(_tr(gone), authenticate)["status"]["error"] == 'serviceaccounts "ghost" not found'
    with pytest.raises(StatusError) as ei:
        token_review(_tr(""), authenticate)
    assert (ei.value.code, ei.value.message) == (400, "token is required for TokenReview in authentication")


# ------------------------------------------------------------------------------------------ untrusted input
_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=10,
)
_attrs = st.dictionaries(
    st.sampled_from(
        [
            "namespace",
            "verb",
            "group",
            "version",
            "resource",
            "subresource",
            "name",
            "fieldSelector",
            "labelSelector",
        ]
    ),
    _json
    | st.fixed_dictionaries(
        {},
        optional={
            "rawSelector": _json,
            "requirements": st.lists(
                st.dictionaries(st.sampled_from(["key", "operator", "values"]), _json), max_size=2
            ),
        },
    ),
)
_spec = st.dictionaries(
    st.sampled_from(
        [
            "resourceAttributes",
            "nonResourceAttributes",
            "user",
            "groups",
            "uid",
            "extra",
            "namespace",
            "token",
            "audiences",
        ]
    ),
    _attrs | _json,
)
_review_body = st.fixed_dictionaries(
    {}, optional={"metadata": st.dictionaries(st.text(max_size=8), _json), "spec": _spec | _json}
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_review_body, admin=st.booleans())
def test_random_review_bodies_only_raise_status_errors(body: dict[str, Any], admin: bool) -> None:
    user = ADMIN if admin else SA_USER
    authz = ALWAYS_ALLOW if admin else STRICT
    calls = [
        lambda: self_subject_access_review(body, user, authz),
        lambda: subject_access_review(body, authz),
        lambda: local_subject_access_review(body, "default", authz),
        lambda: self_subject_rules_review(body, user, authz),
        lambda: self_subject_review(body, user),
        lambda: token_review(body, lambda token, auds: (user, list(auds))),
    ]
    for call in calls:
        try:
            out = call()
        except StatusError as e:
            assert e.code in (400, 422)
            e.body()
            continue
        orjson.dumps(out)
