"""Service-account tokens: TokenRequest answers, the JWTs kube-apiserver 1.32 issues, and their
authentication (signature, audiences, time, bound objects).

Upstream references: pkg/serviceaccount/claims.go (Claims, validator.Validate), pkg/serviceaccount/jwt.go
(keyIDFromPublicKey, JWTTokenAuthenticator), pkg/registry/core/serviceaccount/storage/token.go
(TokenREST.Create) and pkg/apis/authentication/validation (ValidateTokenRequest).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import uuid
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcluster.apiserver.auth import Authenticator, UserInfo
from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.satoken import (
    DEFAULT_ISSUER,
    EXPIRATION_EXTENSION_SECONDS,
    TokenIssuer,
    TokenRejected,
    create_token_request,
    decode_unverified,
    go_quote,
    key_id,
    token_request_response,
)

NOW = 1_700_000_000.25  # 2023-11-14T22:13:20Z
ISO_NOW = "2023-11-14T22:13:20Z"


def _pem_pair(key: Any) -> tuple[bytes, bytes]:
    priv = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return priv, pub


@pytest.fixture(scope="module")
def rsa_pair() -> tuple[bytes, bytes]:
    return _pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def issuer(rsa_pair: tuple[bytes, bytes]) -> TokenIssuer:
    return TokenIssuer(*rsa_pair)


def _obj(name: str, uid: str, **extra: Any) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "uid": uid}
    md.update(extra.pop("md", {}))
    return {"metadata": md, **extra}


class World:
    """The objects `lookup` sees; tests delete or replace them."""

    def __init__(self) -> None:
        self.objs: dict[tuple[str, str, str], dict[str, Any]] = {
            ("ServiceAccount", "default", "default"): _obj("default", "sa-uid", md={"namespace": "default"}),
            ("ServiceAccount", "default", "other"): _obj("other", "sa2-uid", md={"namespace": "default"}),
            ("Pod", "default", "p1"): _obj(
                "p1", "pod-uid", spec={"serviceAccountName": "default", "nodeName": "n1"}
            ),
            ("Pod", "default", "p2"): _obj("p2", "pod2-uid", spec={"serviceAccountName": "default"}),
            ("Pod", "default", "ghost-node"): _obj(
                "ghost-node", "pod3-uid", spec={"serviceAccountName": "default", "nodeName": "gone"}
            ),
            ("Pod", "default", "foreign"): _obj("foreign", "pod4-uid", spec={"serviceAccountName": "other"}),
            ("Node", "", "n1"): _obj("n1", "node-uid"),
            ("Secret", "default", "s1"): _obj("s1", "secret-uid"),
        }
        self.calls: list[tuple[str, str, str]] = []

    def lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append((kind, namespace, name))
        return self.objs.get((kind, namespace, name))


def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# ---------------------------------------------------------------------------------------------- the JWT
def test_claims_exactly_as_kube_issues_them(issuer: TokenIssuer) -> None:
    # Claims(): sub/aud/iat/nbf/exp + jti (ServiceAccountTokenJTI) + kubernetes.io private claims;
    # a token not bound to an object carries only namespace and serviceaccount (as on a real cluster).
    token, exp_ts = issuer.issue("default", "default", "sa-uid", None, 3600, None, now=NOW)
    header, claims = decode_unverified(token)
    assert header == {"alg": "RS256", "kid": issuer.kid}
    jti = claims.pop("jti")
    assert uuid.UUID(jti).version == 4
    assert claims == {
        "aud": [DEFAULT_ISSUER],
        "exp": 1_700_003_600,
        "iat": 1_700_000_000,
        "iss": DEFAULT_ISSUER,
        "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "default", "uid": "sa-uid"}},
        "nbf": 1_700_000_000,
        "sub": "system:serviceaccount:default:default",
    }
    assert exp_ts == "2023-11-14T23:13:20Z"


def test_payload_bytes_are_go_jose_json(issuer: TokenIssuer) -> None:
    # go-jose marshals the merged claims as a map: keys sorted, compact; a single audience stays a list
    # (go-jose v2's Audience has no single-string form); header {"alg","kid"} in that order.
    token, _ = issuer.issue("ns", "sa", "u", ["coffre"], 600, None, now=NOW)
    h, p, _ = token.split(".")
    assert _b64d(h) == b'{"alg":"RS256","kid":"' + issuer.kid.encode() + b'"}'
    raw = _b64d(p)
    claims = orjson.loads(raw)
    assert raw == orjson.dumps(claims, option=orjson.OPT_SORT_KEYS)
    assert raw.startswith(b'{"aud":["coffre"],"exp":1700000600,"iat":1700000000,"iss":')
    assert "=" not in token and "+" not in token and "/" not in token


def test_signature_verifies_independently_with_the_public_key(
    issuer: TokenIssuer, rsa_pair: tuple[bytes, bytes]
) -> None:
    token, _ = issuer.issue("default", "default", "sa-uid", None, 3600, None, now=NOW)
    h, p, s = token.split(".")
    pub = serialization.load_pem_public_key(rsa_pair[1])
    assert isinstance(pub, rsa.RSAPublicKey)
    pub.verify(_b64d(s), f"{h}.{p}".encode(), padding.PKCS1v15(), hashes.SHA256())  # raises if bad


def test_kid_is_base64url_sha256_of_der_public_key(
    issuer: TokenIssuer, rsa_pair: tuple[bytes, bytes]
) -> None:
    # keyIDFromPublicKey: RawURLEncoding(SHA-256(x509.MarshalPKIXPublicKey(pub)))
    pub = serialization.load_pem_public_key(rsa_pair[1])
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    expected = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert issuer.kid == expected == key_id(pub)
    assert len(expected) == 43


def test_pod_bound_claims_with_node_and_extended_expiry(issuer: TokenIssuer) -> None:
    # 3607 s + pod-bound + API audiences -> exp = iat + 1 year, warnafter = iat + 3607
    # (--service-account-extend-token-expiration, default true)
    bound = {"kind": "Pod", "name": "p1", "uid": "pod-uid", "node": {"name": "n1", "uid": "node-uid"}}
    token, exp_ts = issuer.issue("default", "default", "sa-uid", None, 3607, bound, now=NOW)
    _, c = decode_unverified(token)
    assert c["exp"] == 1_700_000_000 + EXPIRATION_EXTENSION_SECONDS
    assert c["kubernetes.io"] == {
        "namespace": "default",
        "node": {"name": "n1", "uid": "node-uid"},
        "pod": {"name": "p1", "uid": "pod-uid"},
        "serviceaccount": {"name": "default", "uid": "sa-uid"},
        "warnafter": 1_700_003_607,
    }
    assert exp_ts == "2023-11-14T23:13:27Z"  # the status keeps the requested 3607 s


@pytest.mark.parametrize(
    ("bound", "audiences", "seconds", "extended"),
    [
        ({"kind": "Pod", "name": "p", "uid": "u"}, None, 3607, True),
        ({"kind": "Pod", "name": "p", "uid": "u"}, [DEFAULT_ISSUER], 3607, True),
        ({"kind": "Pod", "name": "p", "uid": "u"}, ["vault"], 3607, False),  # not only API audiences
        ({"kind": "Pod", "name": "p", "uid": "u"}, None, 3608, False),
        ({"kind": "Secret", "name": "s", "uid": "u"}, None, 3607, False),  # only pod-bound tokens
        (None, None, 3607, False),
    ],
)
def test_extended_expiration_rule(
    issuer: TokenIssuer,
    bound: dict[str, Any] | None,
    audiences: list[str] | None,
    seconds: int,
    extended: bool,
) -> None:
    token, _ = issuer.issue("default", "default", "sa-uid", audiences, seconds, bound, now=NOW)
    _, c = decode_unverified(token)
    assert (c["exp"] - c["iat"] == EXPIRATION_EXTENSION_SECONDS) is extended
    assert ("warnafter" in c["kubernetes.io"]) is extended


def test_extension_can_be_disabled(rsa_pair: tuple[bytes, bytes]) -> None:
    iss = TokenIssuer(*rsa_pair, extend_expiration=False)
    token, _ = iss.issue("d", "d", "u", None, 3607, {"kind": "Pod", "name": "p", "uid": "u"}, now=NOW)
    assert decode_unverified(token)[1]["exp"] == 1_700_003_607


def test_ec_signing_key(tmp_path: Any) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    priv, pub = _pem_pair(key)
    (tmp_path / "sa.key").write_bytes(priv)
    (tmp_path / "sa.pub").write_bytes(pub)
    iss = TokenIssuer.from_files(tmp_path / "sa.key", tmp_path / "sa.pub")
    token, _ = iss.issue("default", "default", "sa-uid", None, 3600, None, now=NOW)
    h, p, s = token.split(".")
    assert decode_unverified(token)[0]["alg"] == "ES256"
    sig = _b64d(s)
    assert len(sig) == 64  # JWS: r || s, 32 bytes each
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    key.public_key().verify(der, f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))
    w = World()
    got = iss.authenticate(token, w.lookup, now=NOW)
    assert got is not None and got[0].username == "system:serviceaccount:default:default"


def test_mismatched_key_pair_is_refused(rsa_pair: tuple[bytes, bytes]) -> None:
    _, other_pub = _pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(ValueError, match="does not belong"):
        TokenIssuer(rsa_pair[0], other_pub)


# ------------------------------------------------------------------------------------------ authentication
def test_authenticate_pod_bound_token_gives_kube_user_info(issuer: TokenIssuer) -> None:
    # ServiceAccountInfo.UserInfo(): username, uid, groups; extra pod-name/pod-uid, credential-id (JTI=...),
    # node-name/node-uid (1.30+: 5 extra keys for a pod on a node); system:authenticated added.
    w = World()
    resp, _ = create_token_request(
        issuer,
        "default",
        "default",
        {"spec": {"boundObjectRef": {"kind": "Pod", "name": "p1"}}},
        w.lookup,
        now=NOW,
    )
    token = resp["status"]["token"]
    jti = decode_unverified(token)[1]["jti"]
    got = issuer.authenticate(token, w.lookup, now=NOW + 10)
    assert got is not None
    user, auds = got
    assert auds == [DEFAULT_ISSUER]
    assert user == UserInfo(
        username="system:serviceaccount:default:default",
        uid="sa-uid",
        groups=("system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"),
        extra={
            "authentication.kubernetes.io/credential-id": [f"JTI={jti}"],
            "authentication.kubernetes.io/node-name": ["n1"],
            "authentication.kubernetes.io/node-uid": ["node-uid"],
            "authentication.kubernetes.io/pod-name": ["p1"],
            "authentication.kubernetes.io/pod-uid": ["pod-uid"],
        },
    )
    assert list(user.extra) == sorted(user.extra)


def test_validator_plugs_into_authenticator(issuer: TokenIssuer, tmp_path: Any) -> None:
    w = World()
    auth = Authenticator(tmp_path / "tokens.csv")
    auth.add_token_validator(issuer.validator(w.lookup))
    token, _ = issuer.issue("default", "default", "sa-uid", None, 3600, None)
    user = auth.authenticate(f"Bearer {token}", None)
    assert user is not None and user.username == "system:serviceaccount:default:default"
    assert user.groups.count("system:authenticated") == 1
    del w.objs[("ServiceAccount", "default", "default")]
    assert auth.authenticate(f"Bearer {token}", None) is None  # deleted service account: 401


def _tamper_payload(token: str) -> str:
    h, p, s = token.split(".")
    claims = orjson.loads(_b64d(p))
    claims["sub"] = "system:serviceaccount:kube-system:admin"
    return f"{h}.{base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b'=').decode()}.{s}"


def _tamper_signature(token: str) -> str:
    h, p, s = token.split(".")
    sig = bytearray(_b64d(s))
    sig[10] ^= 1
    return f"{h}.{p}.{base64.urlsafe_b64encode(bytes(sig)).rstrip(b'=').decode()}"


def _alg(token: str, alg: str) -> str:
    _, p, s = token.split(".")
    h = base64.urlsafe_b64encode(orjson.dumps({"alg": alg, "kid": "x"})).rstrip(b"=").decode()
    return f"{h}.{p}.{s}"


REJECTIONS: list[tuple[str, Any, str]] = [
    # (case, how to break it, TokenReview error text from claims.go / jwt.go / go-jose)
    (
        "tampered payload",
        lambda t, w: (_tamper_payload(t), NOW),
        "go-jose/go-jose: error in cryptographic primitive",
    ),
    (
        "tampered signature",
        lambda t, w: (_tamper_signature(t), NOW),
        "go-jose/go-jose: error in cryptographic primitive",
    ),
    ("alg none", lambda t, w: (_alg(t, "none"), NOW), "go-jose/go-jose: unknown/unsupported algorithm"),
    ("alg HS256", lambda t, w: (_alg(t, "HS256"), NOW), "go-jose/go-jose: error in cryptographic primitive"),
    ("expired", lambda t, w: (t, NOW + 3600 + 61), "service account token has expired"),
    ("not yet valid", lambda t, w: (t, NOW - 61), "service account token is not valid yet"),
    (
        "deleted service account",
        lambda t, w: (t, NOW) if w.objs.pop(("ServiceAccount", "default", "default")) else None,
        'serviceaccounts "default" not found',
    ),
    (
        "recreated service account",
        lambda t, w: (
            (t, NOW)
            if w.objs.update({("ServiceAccount", "default", "default"): _obj("default", "new")}) is None
            else None
        ),
        "service account UID (new) does not match claim (sa-uid)",
    ),
    (
        "service account being deleted",
        lambda t, w: (
            (t, NOW)
            if w.objs.update(
                {
                    ("ServiceAccount", "default", "default"): _obj(
                        "default", "sa-uid", md={"deletionTimestamp": "2023-11-14T22:00:00Z"}
                    )
                }
            )
            is None
            else None
        ),
        "service account default/default has been deleted",
    ),
    (
        "deleted pod",
        lambda t, w: (t, NOW) if w.objs.pop(("Pod", "default", "p1")) else None,
        "service account token has been invalidated",
    ),
    (
        "recreated pod",
        lambda t, w: (
            (t, NOW) if w.objs.update({("Pod", "default", "p1"): _obj("p1", "pod-new")}) is None else None
        ),
        "pod UID (pod-new) does not match service account pod ref claim (pod-uid)",
    ),
]


@pytest.mark.parametrize(("case", "breaker", "message"), REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_rejections(issuer: TokenIssuer, case: str, breaker: Any, message: str) -> None:
    w = World()
    bound = {"kind": "Pod", "name": "p1", "uid": "pod-uid", "node": {"name": "n1", "uid": "node-uid"}}
    token, _ = issuer.issue("default", "default", "sa-uid", None, 3600, bound, now=NOW)
    assert issuer.authenticate(token, w.lookup, now=NOW) is not None
    bad, when = breaker(token, w)
    with pytest.raises(TokenRejected) as ei:
        issuer.authenticate(bad, w.lookup, now=when)
    assert str(ei.value) == message
    assert issuer.validator(w.lookup)(bad) is None
    assert issuer.verify(bad, now=when) is None or case not in ("tampered payload", "tampered signature")


def test_leeway_of_sixty_seconds(issuer: TokenIssuer) -> None:
    # go-jose ValidateWithLeeway(DefaultLeeway = 1 min)
    w = World()
    token, _ = issuer.issue("default", "default", "sa-uid", None, 3600, None, now=NOW)
    assert issuer.authenticate(token, w.lookup, now=NOW + 3600 + 59) is not None
    assert issuer.authenticate(token, w.lookup, now=NOW - 59) is not None


def test_wrong_audience(issuer: TokenIssuer) -> None:
    # jwt.go: "token audiences %q is invalid for the target audiences %q"
    w = World()
    token, _ = issuer.issue("default", "default", "sa-uid", ["vault"], 3600, None, now=NOW)
    with pytest.raises(TokenRejected) as ei:
        issuer.authenticate(token, w.lookup, now=NOW)
    assert str(ei.value) == (
        'token audiences ["vault"] is invalid for the target audiences ["https://kubernetes.default.svc.cluster.local"]'
    )
    got = issuer.authenticate(token, w.lookup, ["other", "vault"], now=NOW)
    assert got is not None and got[1] == ["vault"]
    assert issuer.verify(token, now=NOW) is None
    assert issuer.verify(token, ["vault"], now=NOW) is not None


def test_secret_and_node_bound_tokens(issuer: TokenIssuer) -> None:
    w = World()
    tok_s, _ = issuer.issue(
        "default",
        "default",
        "sa-uid",
        None,
        3600,
        {"kind": "Secret", "name": "s1", "uid": "secret-uid"},
        now=NOW,
    )
    tok_n, _ = issuer.issue(
        "default", "default", "sa-uid", None, 3600, {"kind": "Node", "name": "n1", "uid": "node-uid"}, now=NOW
    )
    assert decode_unverified(tok_s)[1]["kubernetes.io"]["secret"] == {"name": "s1", "uid": "secret-uid"}
    user_s = issuer.authenticate(tok_s, w.lookup, now=NOW)
    user_n = issuer.authenticate(tok_n, w.lookup, now=NOW)
    assert user_s is not None and set(user_s[0].extra) == {"authentication.kubernetes.io/credential-id"}
    assert user_n is not None and user_n[0].extra["authentication.kubernetes.io/node-uid"] == ["node-uid"]
    w.objs[("Secret", "default", "s1")] = _obj("s1", "x")
    with pytest.raises(
        TokenRejected, match=r"^secret UID \(x\) does not match service account secret ref claim"
    ):
        issuer.authenticate(tok_s, w.lookup, now=NOW)
    del w.objs[("Node", "", "n1")]
    with pytest.raises(TokenRejected, match=r"^service account token has been invalidated$"):
        issuer.authenticate(tok_n, w.lookup, now=NOW)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "not a jwt at all",
        # a JWT of another issuer (hasCorrectIssuer: not ours, so another authenticator may take it)
        "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2FjY291bnRzLmdvb2dsZS5jb20ifQ.c2ln",
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",  # no issuer
        "eyJhbGciOiJSUzI1NiJ9.W10.c2ln",  # payload is a list
        "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2t1YmVybmV0ZXMuZGVmYXVsdC5zdmMuY2x1c3Rlci5sb2NhbCJ9.c2l+",
    ],
)
def test_tokens_that_are_not_ours(issuer: TokenIssuer, token: str) -> None:
    w = World()
    assert issuer.authenticate(token, w.lookup, now=NOW) is None
    assert issuer.verify(token, now=NOW) is None


def test_token_of_another_key_same_issuer_is_rejected(issuer: TokenIssuer) -> None:
    other = TokenIssuer(*_pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    token, _ = other.issue("default", "default", "sa-uid", None, 3600, None, now=NOW)
    with pytest.raises(TokenRejected, match="error in cryptographic primitive"):
        issuer.authenticate(token, World().lookup, now=NOW)


# ---------------------------------------------------------------------------------------------- TokenRequest
def test_token_request_answer_shape(issuer: TokenIssuer) -> None:
    # `kubectl create token default -o yaml`: metadata name/namespace/creationTimestamp, spec with the
    # defaulted audiences and expirationSeconds 3600, boundObjectRef null, status token + expiration.
    w = World()
    body = {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {},
    }
    resp, warnings = create_token_request(issuer, "default", "default", body, w.lookup, now=NOW)
    token = resp["status"].pop("token")
    assert warnings == []
    assert resp == {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": "default", "namespace": "default", "creationTimestamp": ISO_NOW},
        "spec": {"audiences": [DEFAULT_ISSUER], "expirationSeconds": 3600, "boundObjectRef": None},
        "status": {"expirationTimestamp": "2023-11-14T23:13:20Z"},
    }
    assert list(resp) == ["kind", "apiVersion", "metadata", "spec", "status"]
    user = issuer.authenticate(token, w.lookup, now=NOW)
    assert user is not None and "authentication.kubernetes.io/pod-name" not in user[0].extra


def test_token_request_pod_bound_spec_echo(issuer: TokenIssuer) -> None:
    w = World()
    body = {
        "metadata": {"name": "default", "namespace": "default"},
        "spec": {
            "audiences": ["vault", "api"],
            "expirationSeconds": 7200,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p1", "uid": "pod-uid"},
        },
    }
    resp, _ = create_token_request(issuer, "default", "default", body, w.lookup, now=NOW)
    assert resp["spec"] == {
        "audiences": ["vault", "api"],
        "expirationSeconds": 7200,
        "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p1", "uid": "pod-uid"},
    }
    c = decode_unverified(resp["status"]["token"])[1]
    assert c["aud"] == ["vault", "api"]
    assert c["kubernetes.io"]["node"] == {"name": "n1", "uid": "node-uid"}


def test_pod_on_missing_node_embeds_only_the_node_name(issuer: TokenIssuer) -> None:
    # token.go: a NotFound node still embeds the pod's node name (no uid)
    w = World()
    body = {"spec": {"boundObjectRef": {"kind": "Pod", "name": "ghost-node"}}}
    resp, _ = create_token_request(issuer, "default", "default", body, w.lookup, now=NOW)
    k8s = decode_unverified(resp["status"]["token"])[1]["kubernetes.io"]
    assert k8s["node"] == {"name": "gone"}
    body = {"spec": {"boundObjectRef": {"kind": "Pod", "name": "p2"}}}  # not scheduled: no node claim
    resp, _ = create_token_request(issuer, "default", "default", body, w.lookup, now=NOW)
    assert "node" not in decode_unverified(resp["status"]["token"])[1]["kubernetes.io"]


TOKEN_REQUEST_ERRORS: list[tuple[str, str, dict[str, Any], int, str, str]] = [
    # (case, sa, body, code, reason, message) from TokenREST.Create and ValidateTokenRequest; the 599 and
    # 60 s messages are what `kubectl create token --duration=1m` prints on a real cluster.
    (
        "too short",
        "default",
        {"spec": {"expirationSeconds": 599}},
        422,
        "Invalid",
        'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 599: '
        "may not specify a duration less than 10 minutes",
    ),
    (
        "too long",
        "default",
        {"spec": {"expirationSeconds": (1 << 32) + 1}},
        422,
        "Invalid",
        'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
        "Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds",
    ),
    (
        "name mismatch",
        "default",
        {"metadata": {"name": "other"}, "spec": {}},
        422,
        "Invalid",
        'TokenRequest.authentication.k8s.io "default" is invalid: metadata.name: Invalid value: "other": '
        "must match the service account name if specified",
    ),
    (
        "namespace mismatch",
        "default",
        {"metadata": {"namespace": "kube-system"}, "spec": {}},
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
    ),
    ("no service account", "nobody", {"spec": {}}, 404, "NotFound", 'serviceaccounts "nobody" not found'),
    (
        "pod not found",
        "default",
        {"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "nope"}}},
        404,
        "NotFound",
        'pods "nope" not found',
    ),
    (
        "pod of another service account",
        "default",
        {"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "foreign"}}},
        400,
        "BadRequest",
        'cannot bind token for serviceaccount "default" to pod running with different serviceaccount name.',
    ),
    (
        "unsupported kind",
        "default",
        {"spec": {"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "c"}}},
        400,
        "BadRequest",
        "cannot bind token to object of type /v1, Kind=ConfigMap",
    ),
    (
        "pod of another group",
        "default",
        {"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "example.com/v1", "name": "p1"}}},
        400,
        "BadRequest",
        "cannot bind token to object of type example.com/v1, Kind=Pod",
    ),
    (
        "uid mismatch",
        "default",
        {"spec": {"boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "s1", "uid": "old"}}},
        409,
        "Conflict",
        'Operation cannot be fulfilled on Secret "s1": the UID in the bound object reference (old) does not '
        "match the UID in record. The object might have been deleted and then recreated",
    ),
    (
        "node not found",
        "default",
        {"spec": {"boundObjectRef": {"kind": "Node", "apiVersion": "v1", "name": "n9"}}},
        404,
        "NotFound",
        'nodes "n9" not found',
    ),
]


@pytest.mark.parametrize(
    ("case", "sa", "body", "code", "reason", "message"),
    TOKEN_REQUEST_ERRORS,
    ids=[c[0] for c in TOKEN_REQUEST_ERRORS],
)
def test_token_request_errors(
    issuer: TokenIssuer, case: str, sa: str, body: dict[str, Any], code: int, reason: str, message: str
) -> None:
    with pytest.raises(StatusError) as ei:
        create_token_request(issuer, "default", sa, body, World().lookup, now=NOW)
    assert (ei.value.code, ei.value.reason, ei.value.message) == (code, reason, message)


def test_validation_precedes_bound_object_lookup(issuer: TokenIssuer) -> None:
    w = World()
    body = {"spec": {"expirationSeconds": 60, "boundObjectRef": {"kind": "Pod", "name": "nope"}}}
    with pytest.raises(StatusError) as ei:
        create_token_request(issuer, "default", "default", body, w.lookup, now=NOW)
    assert ei.value.code == 422
    assert ("Pod", "default", "nope") not in w.calls


def test_max_expiration_shortens_with_warning(rsa_pair: tuple[bytes, bytes]) -> None:
    iss = TokenIssuer(*rsa_pair, max_expiration_seconds=86400)
    resp, warnings = create_token_request(
        iss, "default", "default", {"spec": {"expirationSeconds": 864000}}, World().lookup, now=NOW
    )
    assert warnings == ["requested expiration of 864000 seconds shortened to 86400 seconds"]
    assert resp["spec"]["expirationSeconds"] == 86400
    c = decode_unverified(resp["status"]["token"])[1]
    assert c["exp"] - c["iat"] == 86400


def test_token_request_response_builder() -> None:
    sa = {"metadata": {"name": "builder", "namespace": "ci", "uid": "u"}}
    out = token_request_response(
        {"spec": {"audiences": ["a"]}}, sa, "tok", "2030-01-01T00:00:00Z", creation_timestamp=ISO_NOW
    )
    assert out == {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": "builder", "namespace": "ci", "creationTimestamp": ISO_NOW},
        "spec": {"audiences": ["a"], "expirationSeconds": 3600, "boundObjectRef": None},
        "status": {"token": "tok", "expirationTimestamp": "2030-01-01T00:00:00Z"},
    }


def test_go_quote() -> None:
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("\x00\n\u00e9\u2028") == '"\\x00\\n\u00e9\\u2028"'


# ------------------------------------------------------------------------------------------ untrusted input
_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
_body = st.fixed_dictionaries(
    {},
    optional={
        "metadata": st.dictionaries(st.sampled_from(["name", "namespace", "uid"]), _json, max_size=3) | _json,
        "spec": st.fixed_dictionaries(
            {},
            optional={
                "audiences": st.lists(st.text(max_size=5), max_size=3) | _json,
                "expirationSeconds": st.integers(min_value=-(2**64), max_value=2**64) | _json,
                "boundObjectRef": st.fixed_dictionaries(
                    {},
                    optional={
                        "kind": st.sampled_from(["Pod", "Node", "Secret", "ConfigMap", ""]) | _json,
                        "apiVersion": st.sampled_from(["v1", "", "a/b/c", "/", "apps/v1"]) | _json,
                        "name": st.sampled_from(["p1", "p2", "s1", "n1", "ghost-node", "foreign", ""])
                        | _json,
                        "uid": st.sampled_from(["pod-uid", "x"]) | _json,
                    },
                )
                | _json,
            },
        )
        | _json,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_body, sa=st.sampled_from(["default", "other", "nobody", ""]))
def test_random_token_requests_only_raise_status_errors(
    issuer: TokenIssuer, body: dict[str, Any], sa: str
) -> None:
    try:
        resp, _ = create_token_request(issuer, "default", sa, body, World().lookup, now=NOW)
    except StatusError as e:
        assert 400 <= e.code < 500
        return
    assert resp["kind"] == "TokenRequest" and resp["status"]["token"].count(".") == 2
    orjson.dumps(resp)


_tokenish = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/", max_size=30),
        min_size=1,
        max_size=5,
    ).map(".".join),
    st.tuples(_json, _json, st.binary(max_size=16)).map(
        lambda t: ".".join(
            base64.urlsafe_b64encode(x if isinstance(x, bytes) else orjson.dumps(x)).rstrip(b"=").decode()
            for x in t
        )
    ),
    st.dictionaries(st.sampled_from(["iss", "aud", "exp", "nbf", "iat", "kubernetes.io", "jti"]), _json).map(
        lambda c: (
            "eyJhbGciOiJSUzI1NiJ9."
            + base64.urlsafe_b64encode(orjson.dumps({**c, "iss": DEFAULT_ISSUER})).rstrip(b"=").decode()
            + ".c2ln"
        )
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=_tokenish)
def test_random_tokens_are_none_or_rejected(issuer: TokenIssuer, token: str) -> None:
    with contextlib.suppress(TokenRejected):
        assert issuer.authenticate(token, World().lookup, now=NOW) is None
    assert issuer.validator(World().lookup)(token) is None
    assert issuer.verify(token, now=NOW) is None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    claims=st.dictionaries(
        st.sampled_from(["aud", "exp", "nbf", "iat", "kubernetes.io", "jti", "sub"]), _json
    )
)
def test_signed_garbage_claims_never_crash(issuer: TokenIssuer, claims: dict[str, Any]) -> None:
    # correctly signed tokens with arbitrary claims (as if the key had signed anything)
    payload = base64.urlsafe_b64encode(orjson.dumps({**claims, "iss": DEFAULT_ISSUER})).rstrip(b"=").decode()
    signing_input = f"{issuer._header_b64}.{payload}"
    sig = base64.urlsafe_b64encode(issuer._sign(signing_input.encode())).rstrip(b"=").decode()
    token = f"{signing_input}.{sig}"
    try:
        got = issuer.authenticate(token, World().lookup, now=NOW)
    except TokenRejected as e:
        assert str(e)
        return
    assert got is not None and re.match(r"^system:serviceaccount:", got[0].username)
