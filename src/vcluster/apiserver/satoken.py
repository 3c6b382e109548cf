"""Service-account tokens: TokenRequest (`serviceaccounts/<name>/token`) and their authentication.

Tokens are the JWTs kube-apiserver 1.32 issues (pkg/serviceaccount/claims.go, jwt.go and
pkg/registry/core/serviceaccount/storage/token.go):

* header ``{"alg":"RS256","kid":<base64url(SHA-256(DER SubjectPublicKeyInfo))>}`` (ES256/384/512 for an
  EC signing key);
* payload, keys sorted as go-jose serialises them: ``aud`` (always a list), ``exp``, ``iat``, ``iss``,
  ``jti`` (a random UUID: ServiceAccountTokenJTI is on by default since 1.30), the private claim
  ``kubernetes.io`` ``{namespace, node?, pod?, secret?, serviceaccount{name, uid}, warnafter?}``,
  ``nbf``, ``sub`` = ``system:serviceaccount:<ns>:<name>``. Pod-bound tokens carry the pod's node
  (ServiceAccountTokenPodNodeInfo, beta and on since 1.30); tokens may be bound to a Node
  (ServiceAccountTokenNodeBinding, beta and on since 1.31).
* ``--service-account-extend-token-expiration`` (default true): a pod-bound token requested for exactly
  3607 s with only API audiences lives one year, with ``warnafter`` = iat + 3607.

Authentication follows the JWT authenticator and the service-account validator: a token whose
(unverified) issuer is not ours is "not mine" (None); otherwise the signature, audiences, time claims
(60 s leeway) and the continued existence of the service account and of the bound pod / secret / node
(same uid, not deleted) are checked, and failures raise :class:`TokenRejected` with upstream's message.

Everything here is synchronous and pure apart from the ``lookup`` callback the caller supplies:
``lookup(kind, namespace, name) -> object dict | None`` with kind ``ServiceAccount``, ``Pod``,
``Secret`` or ``Node`` (namespace ``""`` for nodes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from vcluster.apiserver.auth import SYSTEM_AUTHENTICATED, UserInfo
from vcluster.apiserver.crd import OBJECT_META_FIELDS
from vcluster.apiserver.errors import (
    bad_request,
    conflict,
    field_invalid,
    invalid,
    not_found,
)
from vcluster.apiserver.gostr import go_quote

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"

# pkg/serviceaccount/claims.go
WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS = 60 * 60 + 7
EXPIRATION_EXTENSION_SECONDS = 24 * 365 * 60 * 60
# pkg/apis/authentication/validation: MinTokenAgeSec and the 2^32 upper bound.
MIN_TOKEN_SECONDS = 10 * 60
MAX_TOKEN_SECONDS = 1 << 32
DEFAULT_EXPIRATION_SECONDS = 60 * 60  # v1 SetDefaults_TokenRequestSpec
LEEWAY_SECONDS = 60  # go-jose jwt.DefaultLeeway

TOKEN_REQUEST_GROUP = "authentication.k8s.io"
TOKEN_REQUEST_API_VERSION = "authentication.k8s.io/v1"

SA_USER_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
SA_GROUP_PREFIX = "system:serviceaccounts:"

# k8s.io/apiserver/pkg/authentication/serviceaccount extra keys
POD_NAME_KEY = "authentication.kubernetes.io/pod-name"
POD_UID_KEY = "authentication.kubernetes.io/pod-uid"
NODE_NAME_KEY = "authentication.kubernetes.io/node-name"
NODE_UID_KEY = "authentication.kubernetes.io/node-uid"
CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"

# go-jose (gopkg.in/go-jose/go-jose.v2) error texts that reach TokenReview.status.error
ERR_CRYPTO = "go-jose/go-jose: error in cryptographic primitive"
ERR_UNSUPPORTED_ALG = "go-jose/go-jose: unknown/unsupported algorithm"
ERR_EXPIRED = "service account token has expired"
ERR_NOT_VALID_YET = "service account token is not valid yet"
ERR_ISSUED_IN_FUTURE = "service account token is issued in the future"
ERR_INVALIDATED = "service account token has been invalidated"
ERR_UNEXPECTED = "service account token claims could not be validated due to unexpected validation error"

Lookup = Callable[[str, str, str], "dict[str, Any] | None"]

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_CACHE_MAX = 4096


class TokenRejected(Exception):
    """A token that is ours (our issuer) but not valid; ``str()`` is upstream's error message."""


# ---------------------------------------------------------------------------------------------- helpers
def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(s: str) -> bytes | None:
    """Go's base64.RawURLEncoding: no padding, URL alphabet only; None when malformed."""
    if not _B64URL.fullmatch(s) or len(s) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    except (binascii.Error, ValueError):
        return None


_HTML_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"))


def _go_json(value: Any) -> bytes:
    """JSON as go-jose writes claims: compact, map keys sorted, HTML characters escaped."""
    out = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    for raw, esc in _HTML_ESCAPES:
        if raw in out:
            out = out.replace(raw, esc)
    if b"\xe2\x80\xa8" in out or b"\xe2\x80\xa9" in out:
        out = out.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    return out


def _go_quote_list(items: Sequence[str]) -> str:
    """``%q`` of a Go []string: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(s) for s in items) + "]"


def rfc3339(ts: float) -> str:
    """metav1.Time JSON: UTC, whole seconds (truncated)."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(v: Any) -> float | None:
    if not isinstance(v, str) or not v:
        return None
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _json_kind(v: Any) -> str:
    """How Go's JSON decoder names a value in "cannot unmarshal X into ..." errors."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number " + orjson.dumps(v).decode() if isinstance(v, float) else "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def _md(obj: dict[str, Any] | None) -> dict[str, Any]:
    md = obj.get("metadata") if isinstance(obj, dict) else None
    return md if isinstance(md, dict) else {}


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ""


def key_id(public_key: Any) -> str:
    """The ``kid`` kube-apiserver derives from a public key (keyIDFromPublicKey in jwt.go)."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64url(hashlib.sha256(der).digest())


def make_username(namespace: str, name: str) -> str:
    return f"{SA_USER_PREFIX}{namespace}:{name}"


def make_group_names(namespace: str) -> tuple[str, ...]:
    return (ALL_SERVICE_ACCOUNTS_GROUP, SA_GROUP_PREFIX + namespace)


def _ref(name: str, uid: str) -> dict[str, str]:
    """A claims ``ref`` (name and uid are omitempty)."""
    r: dict[str, str] = {}
    if name:
        r["name"] = name
    if uid:
        r["uid"] = uid
    return r


_EC_ALGS: dict[str, tuple[str, type[hashes.HashAlgorithm], int]] = {
    "secp256r1": ("ES256", hashes.SHA256, 32),
    "secp384r1": ("ES384", hashes.SHA384, 48),
    "secp521r1": ("ES512", hashes.SHA512, 66),
}


# ---------------------------------------------------------------------------------------------- issuer
class TokenIssuer:
    """Signs and authenticates service-account JWTs with one key pair.

    ``api_audiences`` defaults to ``[issuer]`` (kube-apiserver's default for ``--api-audiences``).
    ``max_expiration_seconds`` is ``--service-account-max-token-expiration`` (None: no maximum, the
    default); ``extend_expiration`` is ``--service-account-extend-token-expiration`` (default true).
    """

    def __init__(
        self,
        private_key_pem: bytes,
        public_key_pem: bytes,
        issuer: str = DEFAULT_ISSUER,
        api_audiences: Sequence[str] | None = None,
        *,
        max_expiration_seconds: int | None = None,
        extend_expiration: bool = True,
    ) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        pub = serialization.load_pem_public_key(public_key_pem)
        if isinstance(key, rsa.RSAPrivateKey) and isinstance(pub, rsa.RSAPublicKey):
            self.alg = "RS256"
        elif isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(pub, ec.EllipticCurvePublicKey):
            spec = _EC_ALGS.get(key.curve.name)
            if spec is None:
                raise ValueError(f"unsupported EC curve for service-account tokens: {key.curve.name}")
            self.alg = spec[0]
        else:
            raise ValueError(
                "service-account signing key must be an RSA or EC private key with its public key"
            )
        der = serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(serialization.Encoding.DER, der) != pub.public_bytes(
            serialization.Encoding.DER, der
        ):
            raise ValueError("service-account public key does not belong to the private key")
        self._key = key
        self._pub = pub
        self.kid = key_id(pub)
        self.issuer = issuer
        self.api_audiences: list[str] = list(api_audiences) if api_audiences else [issuer]
        self.max_expiration_seconds = max_expiration_seconds
        self.extend_expiration = extend_expiration
        self._header_b64 = _b64url(_go_json({"alg": self.alg, "kid": self.kid}))
        self._verified: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}

    @classmethod
    def from_files(cls, private_key: Path, public_key: Path, **kw: Any) -> TokenIssuer:
        """From the PEM files ``certs.PKI.sa_key`` / ``certs.PKI.sa_pub``."""
        return cls(Path(private_key).read_bytes(), Path(public_key).read_bytes(), **kw)

    # ---------------------------------------------------------------------------- signing
    def _sign(self, data: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        _, h, size = _EC_ALGS[self._key.curve.name]
        r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(h())))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    def _check_signature(self, alg: str, data: bytes, sig: bytes) -> None:
        """Raise TokenRejected with go-jose's message unless ``sig`` is ours over ``data``."""
        if alg != self.alg:
            raise TokenRejected(ERR_UNSUPPORTED_ALG if alg not in _ALL_ALGS else ERR_CRYPTO)
        try:
            if isinstance(self._pub, rsa.RSAPublicKey):
                self._pub.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
            else:
                assert isinstance(self._pub, ec.EllipticCurvePublicKey)
                _, h, size = _EC_ALGS[self._pub.curve.name]
                if len(sig) != 2 * size:
                    raise InvalidSignature
                r = int.from_bytes(sig[:size], "big")
                s = int.from_bytes(sig[size:], "big")
                self._pub.verify(encode_dss_signature(r, s), data, ec.ECDSA(h()))
        except (InvalidSignature, ValueError) as e:
            raise TokenRejected(ERR_CRYPTO) from e

    def issue(
        self,
        namespace: str,
        sa_name: str,
        sa_uid: str,
        audiences: Sequence[str] | None,
        expiration_seconds: int,
        bound_object: dict[str, Any] | None = None,
        now: float | None = None,
    ) -> tuple[str, str]:
        """Sign a token; returns ``(token, status.expirationTimestamp)``.

        ``audiences`` None or empty means the API audiences. ``bound_object`` is
        ``{"kind": "Pod"|"Secret"|"Node", "name", "uid", "node": {"name", "uid"}?}`` (``node`` only for
        pods, the pod's node; its uid may be empty when the Node object does not exist). A pod-bound
        token requested for 3607 s with only API audiences gets the extended one-year expiry and a
        ``warnafter`` claim; the returned expiration timestamp is always ``now + expiration_seconds``.
        """
        now_f = time.time() if now is None else now
        iat = int(now_f)
        auds = list(audiences) if audiences else list(self.api_audiences)
        kind = bound_object.get("kind") if bound_object else None
        exp_seconds = expiration_seconds
        warn_after = 0
        if (
            self.extend_expiration
            and kind == "Pod"
            and expiration_seconds == WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS
            and set(auds) <= set(self.api_audiences)
        ):
            warn_after = expiration_seconds
            exp_seconds = EXPIRATION_EXTENSION_SECONDS
        k8s: dict[str, Any] = {"serviceaccount": _ref(sa_name, sa_uid)}
        if namespace:
            k8s["namespace"] = namespace
        if bound_object:
            ref = _ref(_str(bound_object.get("name")), _str(bound_object.get("uid")))
            if kind == "Pod":
                k8s["pod"] = ref
                node = bound_object.get("node")
                if isinstance(node, dict) and node.get("name"):
                    k8s["node"] = _ref(_str(node.get("name")), _str(node.get("uid")))
            elif kind == "Secret":
                k8s["secret"] = ref
            elif kind == "Node":
                k8s["node"] = ref
            else:
                raise ValueError(f"cannot bind a token to a {kind!r}")
        if warn_after:
            k8s["warnafter"] = iat + warn_after
        claims = {
            "aud": auds,
            "exp": iat + exp_seconds,
            "iat": iat,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": k8s,
            "nbf": iat,
            "sub": make_username(namespace, sa_name),
        }
        signing_input = self._header_b64 + "." + _b64url(_go_json(claims))
        token = signing_input + "." + _b64url(self._sign(signing_input.encode("ascii")))
        return token, rfc3339(now_f + expiration_seconds)

    # ---------------------------------------------------------------------------- verification
    def _verified_claims(self, token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(header, claims) of a correctly signed token of our issuer; None when not ours.

        Raises TokenRejected when the token claims our issuer but the signature does not verify.
        """
        hit = self._verified.get(token)
        if hit is not None:
            return hit
        parts = token.split(".")
        if len(parts) != 3:
            return None
        # hasCorrectIssuer: decode the payload without verifying; other issuers are not ours.
        raw = _b64url_decode(parts[1])
        if raw is None:
            return None
        try:
            claims = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(claims, dict) or claims.get("iss") != self.issuer:
            return None
        raw_header = _b64url_decode(parts[0])
        sig = _b64url_decode(parts[2])
        if raw_header is None or sig is None:
            return None  # jwt.ParseSigned fails: not ours
        try:
            header = orjson.loads(raw_header)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
            return None
        self._check_signature(header["alg"], (parts[0] + "." + parts[1]).encode("ascii"), sig)
        if len(self._verified) >= _CACHE_MAX:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = (header, claims)
        return header, claims

    def verify(
        self, token: str, audiences: Sequence[str] | None = None, now: float | None = None
    ) -> dict[str, Any] | None:
        """The claims of a valid token of ours for ``audiences`` (default: the API audiences), else None.

        Checks signature, issuer, audience and the time claims, not the referenced objects.
        """
        try:
            out = self._check(token, audiences, now)
        except TokenRejected:
            return None
        return None if out is None else out[0]

    def _check(
        self, token: str, audiences: Sequence[str] | None, now: float | None
    ) -> tuple[dict[str, Any], list[str]] | None:
        got = self._verified_claims(token)
        if got is None:
            return None
        _, claims = got
        now_f = time.time() if now is None else now
        aud = claims.get("aud")
        if isinstance(aud, str):
            token_auds = [aud]
        elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
            token_auds = list(aud)
        elif aud is None:
            token_auds = []
        else:
            raise TokenRejected(ERR_UNEXPECTED)
        if not token_auds:
            token_auds = list(self.api_audiences)  # legacy tokens: implicitly for the API audiences
        requested = list(audiences) if audiences else list(self.api_audiences)
        auds = [a for a in requested if a in token_auds]
        if not auds:
            raise TokenRejected(
                f"token audiences {_go_quote_list(token_auds)} is invalid for the target audiences "
                f"{_go_quote_list(requested)}"
            )
        for k in ("nbf", "exp", "iat"):
            v = claims.get(k)
            if v is not None and (not isinstance(v, int | float) or isinstance(v, bool)):
                raise TokenRejected(ERR_UNEXPECTED)
        nbf, exp, iat = claims.get("nbf"), claims.get("exp"), claims.get("iat")
        if nbf is not None and now_f + LEEWAY_SECONDS < int(nbf):
            raise TokenRejected(ERR_NOT_VALID_YET)
        if exp is not None and now_f - LEEWAY_SECONDS > int(exp):
            raise TokenRejected(ERR_EXPIRED)
        if iat is not None and now_f + LEEWAY_SECONDS < int(iat):
            raise TokenRejected(ERR_ISSUED_IN_FUTURE)
        return claims, auds

    def authenticate(
        self,
        token: str,
        lookup: Lookup,
        audiences: Sequence[str] | None = None,
        now: float | None = None,
    ) -> tuple[UserInfo, list[str]] | None:
        """The user of a service-account token and the audiences it was accepted for.

        None when the token is not one of ours (not a JWT, another issuer); raises TokenRejected with
        kube-apiserver's message when it is ours but invalid. ``audiences`` defaults to the API
        audiences (what a request to this server requires).
        """
        checked = self._check(token, audiences, now)
        if checked is None:
            return None
        claims, auds = checked
        now_f = time.time() if now is None else now
        deleted_before = now_f - LEEWAY_SECONDS
        k8s = claims.get("kubernetes.io")
        if not isinstance(k8s, dict):
            k8s = {}
        namespace = _str(k8s.get("namespace"))
        sa_ref = k8s.get("serviceaccount") if isinstance(k8s.get("serviceaccount"), dict) else {}
        sa_name, sa_uid = _str(sa_ref.get("name")), _str(sa_ref.get("uid"))

        sa = lookup("ServiceAccount", namespace, sa_name) if sa_name else None
        if sa is None:
            raise TokenRejected(f'serviceaccounts "{sa_name}" not found')
        got_uid = _str(_md(sa).get("uid"))
        if got_uid != sa_uid:
            raise TokenRejected(f"service account UID ({got_uid}) does not match claim ({sa_uid})")
        if _deleted(sa, deleted_before):
            raise TokenRejected(f"service account {namespace}/{sa_name} has been deleted")

        sec_ref = k8s.get("secret")
        if isinstance(sec_ref, dict):
            self._check_bound(lookup, "Secret", "secret", namespace, sec_ref, deleted_before)

        extra: dict[str, list[str]] = {}
        jti = claims.get("jti")
        if isinstance(jti, str) and jti:
            extra[CREDENTIAL_ID_KEY] = ["JTI=" + jti]
        pod_ref = k8s.get("pod")
        node_ref = k8s.get("node")
        if isinstance(pod_ref, dict):
            self._check_bound(lookup, "Pod", "pod", namespace, pod_ref, deleted_before)
            if isinstance(node_ref, dict) and node_ref.get("name"):
                # pod-bound tokens only carry the node as information; it is not verified
                extra[NODE_NAME_KEY] = [_str(node_ref.get("name"))]
                if node_ref.get("uid"):
                    extra[NODE_UID_KEY] = [_str(node_ref.get("uid"))]
            pod_name, pod_uid = _str(pod_ref.get("name")), _str(pod_ref.get("uid"))
            if pod_name and pod_uid:
                extra[POD_NAME_KEY] = [pod_name]
                extra[POD_UID_KEY] = [pod_uid]
        elif isinstance(node_ref, dict):
            self._check_bound(lookup, "Node", "node", "", node_ref, deleted_before)
            if node_ref.get("name"):
                extra[NODE_NAME_KEY] = [_str(node_ref.get("name"))]
                if node_ref.get("uid"):
                    extra[NODE_UID_KEY] = [_str(node_ref.get("uid"))]
        user = UserInfo(
            username=make_username(namespace, sa_name),
            uid=sa_uid,
            groups=(*make_group_names(namespace), SYSTEM_AUTHENTICATED),
            extra={k: extra[k] for k in sorted(extra)},  # Go marshals map keys sorted
        )
        return user, auds

    @staticmethod
    def _check_bound(
        lookup: Lookup, kind: str, word: str, namespace: str, ref: dict[str, Any], deleted_before: float
    ) -> None:
        name, uid = _str(ref.get("name")), _str(ref.get("uid"))
        obj = lookup(kind, namespace, name) if name else None
        if obj is None:
            raise TokenRejected(ERR_INVALIDATED)
        got = _str(_md(obj).get("uid"))
        if got != uid:
            raise TokenRejected(f"{word} UID ({got}) does not match service account {word} ref claim ({uid})")
        if _deleted(obj, deleted_before):
            raise TokenRejected(ERR_INVALIDATED)

    def validator(self, lookup: Lookup) -> Callable[[str], UserInfo | None]:
        """A bearer-token source for ``Authenticator.add_token_validator`` (API audiences, now)."""

        def validate(token: str) -> UserInfo | None:
            try:
                got = self.authenticate(token, lookup)
            except TokenRejected:
                return None
            return None if got is None else got[0]

        return validate


_ALL_ALGS = frozenset(
    f"{fam}{bits}" for fam in ("HS", "RS", "ES", "PS") for bits in ("256", "384", "512")
) | {"EdDSA"}


def _deleted(obj: dict[str, Any], before: float) -> bool:
    ts = _parse_time(_md(obj).get("deletionTimestamp"))
    return ts is not None and ts < before


# ---------------------------------------------------------------------------------------------- TokenRequest
def _parse_group_version(api_version: str) -> tuple[str, str] | None:
    """apimachinery ParseGroupVersion; None when it has more than one slash."""
    if not api_version or api_version == "/":
        return "", ""
    n = api_version.count("/")
    if n == 0:
        return "", api_version
    if n == 1:
        g, _, v = api_version.partition("/")
        return g, v
    return None


def create_token_request(
    issuer: TokenIssuer,
    namespace: str,
    sa_name: str,
    body: dict[str, Any],
    lookup: Lookup,
    *,
    now: float | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Serve ``POST /api/v1/namespaces/<namespace>/serviceaccounts/<sa_name>/token``.

    ``body`` is the decoded TokenRequest (already type-checked); returns the answer object (to send
    with 201) and the ``Warning`` header texts. Raises StatusError exactly where kube-apiserver's
    TokenREST.Create does (name/namespace mismatch, missing service account or bound object,
    expirationSeconds out of range, unsupported bound kind, uid mismatch, pod of another account).
    """
    now_f = time.time() if now is None else now
    md = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    body_ns = md.get("namespace")
    if body_ns not in (None, "") and body_ns != namespace:
        # the generic create handler's EnsureObjectNamespaceMatchesRequestNamespace
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    body_name = md.get("name")
    if body_name not in (None, "") and body_name != sa_name:
        raise invalid(
            "TokenRequest",
            TOKEN_REQUEST_GROUP,
            sa_name,
            [field_invalid("metadata.name", body_name, "must match the service account name if specified")],
        )
    sa = lookup("ServiceAccount", namespace, sa_name)
    if sa is None:
        raise not_found("serviceaccounts", "", sa_name)
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    auds_in = spec.get("audiences")
    audiences = [a for a in auds_in if isinstance(a, str)] if isinstance(auds_in, list) else []
    if not audiences:
        audiences = list(issuer.api_audiences)
    exp_in = spec.get("expirationSeconds")
    if exp_in is None:
        expiration = DEFAULT_EXPIRATION_SECONDS
    elif isinstance(exp_in, int) and not isinstance(exp_in, bool) and -(1 << 63) <= exp_in < (1 << 63):
        expiration = exp_in
    else:  # normally caught by the schema type check before this runs
        raise bad_request(
            'TokenRequest in version "v1" cannot be handled as a TokenRequest: json: cannot unmarshal '
            f"{_json_kind(exp_in)} into Go struct field TokenRequestSpec.spec.expirationSeconds of type int64"
        )

    causes = []
    if expiration < MIN_TOKEN_SECONDS:
        causes.append(
            field_invalid(
                "spec.expirationSeconds", expiration, "may not specify a duration less than 10 minutes"
            )
        )
    if expiration > MAX_TOKEN_SECONDS:
        causes.append(
            field_invalid(
                "spec.expirationSeconds", expiration, "may not specify a duration larger than 2^32 seconds"
            )
        )
    if causes:
        raise invalid("TokenRequest", TOKEN_REQUEST_GROUP, "", causes)

    ref_in = spec.get("boundObjectRef")
    ref = ref_in if isinstance(ref_in, dict) else None
    bound: dict[str, Any] | None = None
    if ref is not None:
        bound = _bound_object(namespace, sa_name, ref, lookup)

    warnings: list[str] = []
    if issuer.max_expiration_seconds and expiration > issuer.max_expiration_seconds:
        warnings.append(
            f"requested expiration of {expiration} seconds shortened to "
            f"{issuer.max_expiration_seconds} seconds"
        )
        expiration = issuer.max_expiration_seconds

    sa_md = _md(sa)
    token, exp_ts = issuer.issue(
        namespace, sa_name, _str(sa_md.get("uid")), audiences, expiration, bound, now=now_f
    )
    out_spec: dict[str, Any] = {
        "audiences": audiences,
        "expirationSeconds": expiration,
        "boundObjectRef": None,
    }
    if ref is not None:
        out_spec["boundObjectRef"] = {
            k: ref[k] for k in ("kind", "apiVersion", "name", "uid") if isinstance(ref.get(k), str) and ref[k]
        }
    tr = {**body, "spec": out_spec}
    return token_request_response(tr, sa, token, exp_ts, creation_timestamp=rfc3339(now_f)), warnings


def _bound_object(namespace: str, sa_name: str, ref: dict[str, Any], lookup: Lookup) -> dict[str, Any]:
    kind = _str(ref.get("kind"))
    gv = _parse_group_version(_str(ref.get("apiVersion")))
    group, version = gv if gv is not None else ("", "")
    name = _str(ref.get("name"))
    want_uid = _str(ref.get("uid"))
    if group == "" and kind in ("Pod", "Node", "Secret"):
        if not name:
            raise bad_request("Name parameter required.")
        if kind == "Pod":
            obj = lookup("Pod", namespace, name)
            if obj is None:
                raise not_found("pods", "", name)
            pspec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
            if _str(pspec.get("serviceAccountName")) != sa_name:
                raise bad_request(
                    f"cannot bind token for serviceaccount {go_quote(sa_name)} to pod running with different "
                    "serviceaccount name."
                )
            bound: dict[str, Any] = {"kind": "Pod", "name": name, "uid": _str(_md(obj).get("uid"))}
            node_name = _str(pspec.get("nodeName"))
            if node_name:
                node = lookup("Node", "", node_name)
                bound["node"] = {"name": node_name, "uid": _str(_md(node).get("uid")) if node else ""}
        elif kind == "Node":
            obj = lookup("Node", "", name)
            if obj is None:
                raise not_found("nodes", "", name)
            bound = {"kind": "Node", "name": name, "uid": _str(_md(obj).get("uid"))}
        else:
            obj = lookup("Secret", namespace, name)
            if obj is None:
                raise not_found("secrets", "", name)
            bound = {"kind": "Secret", "name": name, "uid": _str(_md(obj).get("uid"))}
    else:
        raise bad_request(f"cannot bind token to object of type {group}/{version}, Kind={kind}")
    if want_uid and want_uid != bound["uid"]:
        raise conflict(
            kind,
            group,
            name,
            f"the UID in the bound object reference ({want_uid}) does not match the UID in record. "
            "The object might have been deleted and then recreated",
        )
    return bound


def token_request_response(
    tr: dict[str, Any],
    sa: dict[str, Any],
    token: str,
    expiration: str,
    *,
    creation_timestamp: str | None = None,
) -> dict[str, Any]:
    """The TokenRequest answer: the request with name/namespace/creationTimestamp filled, the spec with
    its defaults (``expirationSeconds`` 3600, ``audiences``; ``boundObjectRef`` null when absent) and
    ``status{token, expirationTimestamp}``."""
    md_in = tr.get("metadata") if isinstance(tr.get("metadata"), dict) else {}
    sa_md = _md(sa)
    md = {k: v for k, v in md_in.items() if v is not None}
    md["name"] = md.get("name") or sa_md.get("name", "")
    md["namespace"] = md.get("namespace") or sa_md.get("namespace", "")
    md["creationTimestamp"] = creation_timestamp or rfc3339(time.time())
    ordered = {k: md[k] for k in OBJECT_META_FIELDS if k in md}
    ordered.update((k, v) for k, v in md.items() if k not in ordered)
    spec_in = tr.get("spec") if isinstance(tr.get("spec"), dict) else {}
    spec = {
        "audiences": spec_in.get("audiences") or [],
        "expirationSeconds": spec_in.get("expirationSeconds")
        if spec_in.get("expirationSeconds") is not None
        else DEFAULT_EXPIRATION_SECONDS,
        "boundObjectRef": spec_in.get("boundObjectRef"),
    }
    return {
        "kind": "TokenRequest",
        "apiVersion": TOKEN_REQUEST_API_VERSION,
        "metadata": ordered,
        "spec": spec,
        "status": {"token": token, "expirationTimestamp": expiration},
    }


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWT without any check (for tests and debugging)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWS compact serialization")
    h, c = _b64url_decode(parts[0]), _b64url_decode(parts[1])
    if h is None or c is None:
        raise ValueError("bad base64url")
    return orjson.loads(h), orjson.loads(c)


__all__ = [
    "DEFAULT_ISSUER",
    "TokenIssuer",
    "TokenRejected",
    "create_token_request",
    "decode_unverified",
    "go_quote",
    "key_id",
    "token_request_response",
]
