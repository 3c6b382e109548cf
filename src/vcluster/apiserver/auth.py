"""Request authentication with kube-apiserver semantics: x509 client certificates, static tokens, pluggable
token validators (service-account JWTs), anonymous fallback.

Order and outcome follow kube-apiserver's union authenticator (front proxy, x509, then bearer tokens; the
first success wins; when none succeeds, any error fails the request) wrapped in "fail on error, else
anonymous":

* a client certificate of the requestheader CA with an allowed CN and an ``X-Remote-User`` header ->
  the user the headers name (requestheader.py); without the header that authenticator passes;
* a client certificate of the client CA with a subject CN -> that user (CN, groups = subject O
  values), even if an Authorization header is also present; a certificate of another CA (the front
  proxy's) is an error here, so a front-proxy certificate alone is answered 401, never an x509 user;
* ``Authorization: Bearer <token>`` (scheme case-insensitive, the token being the text between the first
  and the second space) -> the token's user, or ``None`` (answer 401) if no source knows it;
* any other Authorization header (``Basic``, a bare token, ``Bearer`` with an empty token) is ignored, as
  kube's bearertoken authenticator does (there is no basic-auth authenticator since 1.19) -> anonymous;
* nothing -> :data:`ANONYMOUS`.

Authenticated users get the group ``system:authenticated`` appended (kube's AuthenticatedGroupAdder).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import io
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography import x509

from vcluster.apiserver.requestheader import (
    CABundle,
    CertificateRejected,
    RequestHeaderAuthenticator,
    parse_der,
)

log = logging.getLogger(__name__)

SYSTEM_AUTHENTICATED = "system:authenticated"
SYSTEM_UNAUTHENTICATED = "system:unauthenticated"
SYSTEM_MASTERS = "system:masters"
ANONYMOUS_USER = "system:anonymous"


@dataclass(frozen=True)
class UserInfo:
    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict, hash=False)

    @property
    def is_anonymous(self) -> bool:
        return self.username == ANONYMOUS_USER

    def to_dict(self) -> dict[str, Any]:
        """The `authentication.k8s.io/v1` UserInfo shape (empty fields omitted, as kube does)."""
        d: dict[str, Any] = {"username": self.username}
        if self.uid:
            d["uid"] = self.uid
        if self.groups:
            d["groups"] = list(self.groups)
        if self.extra:
            d["extra"] = {k: list(v) for k, v in self.extra.items()}
        return d


ANONYMOUS = UserInfo(username=ANONYMOUS_USER, groups=(SYSTEM_UNAUTHENTICATED,))

TokenValidator = Callable[[str], UserInfo | None]


def _with_authenticated_group(user: UserInfo) -> UserInfo:
    if SYSTEM_AUTHENTICATED in user.groups or SYSTEM_UNAUTHENTICATED in user.groups:
        return user
    return replace(user, groups=(*user.groups, SYSTEM_AUTHENTICATED))


def user_from_peercert(peercert: dict[str, Any] | None) -> UserInfo | None:
    """User of a TLS-verified client certificate (``SSLObject.getpeercert()`` dict), or None.

    An unverified certificate yields ``{}`` from getpeercert() and therefore no user. Like kube's
    CommonNameUserConversion, a certificate without CN authenticates nobody; with several CNs the
    last one counts (Go's pkix.Name), groups are all O values in order.
    """
    if not peercert:
        return None
    cn = ""
    orgs: list[str] = []
    for rdn in peercert.get("subject", ()):
        for attr in rdn:
            if len(attr) != 2:
                continue
            name, value = attr
            if name == "commonName":
                cn = value
            elif name == "organizationName":
                orgs.append(value)
    if not cn:
        return None
    return UserInfo(username=cn, groups=tuple(orgs))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def parse_tokens_csv(text: str, source: str = "<tokens>") -> list[tuple[str, UserInfo]]:
    """Parse a kube-apiserver ``--token-auth-file``: ``token,user,uid[,"group1,group2"]`` per line.

    Blank lines and lines starting with ``#`` are skipped; rows with an empty token are skipped (as
    kube does); rows with fewer than 3 columns raise ValueError.
    """
    out: list[tuple[str, UserInfo]] = []
    reader = csv.reader(io.StringIO(text), skipinitialspace=True, strict=True)
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()) or row[0].lstrip().startswith("#"):
                continue
            if len(row) < 3:
                raise ValueError(
                    f"token file {source!r} line {reader.line_num}: must have at least 3 columns "
                    f"(token, user name, user uid), found {len(row)}"
                )
            token, name, uid = row[0].strip(), row[1], row[2]
            if not token:
                log.warning("empty token in token file %r line %d, skipped", source, reader.line_num)
                continue
            groups = tuple(g for g in (s.strip() for s in row[3].split(",")) if g) if len(row) > 3 else ()
            out.append((token, UserInfo(username=name, uid=uid, groups=groups)))
    except csv.Error as e:
        raise ValueError(f"token file {source!r} line {reader.line_num}: {e}") from e
    return out


class Authenticator:
    """Authenticates requests from their Authorization header and TLS peer certificate."""

    def __init__(self, tokens_file: Path) -> None:
        self.tokens_file = Path(tokens_file)
        self._validators: list[TokenValidator] = []
        self._by_digest: dict[bytes, tuple[str, UserInfo]] = {}
        self._entries: list[tuple[str, UserInfo]] = []
        # --client-ca-file (None: every TLS-verified certificate is an x509 user) and the front proxy
        self.client_cas: CABundle | None = None
        self.requestheader: RequestHeaderAuthenticator | None = None
        self._ensure_file()
        self.reload()

    # ----------------------------------------------------------------------------------------- tokens

    def _ensure_file(self) -> None:
        if self.tokens_file.exists():
            return
        self.tokens_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        line = f'{token},admin,admin,"{SYSTEM_MASTERS}"\n'
        try:
            fd = os.open(self.tokens_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # created concurrently by another process: use theirs
            return
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, line.encode())
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self.tokens_file)
            raise
        os.close(fd)

    def reload(self) -> None:
        """(Re)read the tokens file. Duplicate tokens: the last row wins (as in kube)."""
        try:
            text = self.tokens_file.read_text(encoding="utf-8")
        except OSError as e:
            raise ValueError(f"cannot read token file {str(self.tokens_file)!r}: {e}") from e
        entries = parse_tokens_csv(text, str(self.tokens_file))
        by_digest: dict[bytes, tuple[str, UserInfo]] = {}
        for token, user in entries:
            if _digest(token) in by_digest:
                log.warning("duplicate token in token file %r; the last one wins", str(self.tokens_file))
            by_digest[_digest(token)] = (token, user)
        self._entries = entries
        self._by_digest = by_digest

    @property
    def admin_token(self) -> str:
        """Token of the user ``admin`` (else of the first ``system:masters`` member) in the tokens file.

        Raises LookupError if the file has neither.
        """
        for token, user in self._entries:
            if user.username == "admin":
                return token
        for token, user in self._entries:
            if SYSTEM_MASTERS in user.groups:
                return token
        raise LookupError(f"token file {str(self.tokens_file)!r} has no admin / system:masters token")

    def add_token_validator(self, fn: Callable[[str], UserInfo | None]) -> None:
        """Add a bearer-token source tried after the static tokens (e.g. service-account JWTs).

        ``fn`` returns the user or None; an exception counts as "not authenticated" and is logged.
        """
        self._validators.append(fn)

    def authenticate_token(self, token: str) -> UserInfo | None:
        hit = self._by_digest.get(_digest(token))
        if hit is not None and hmac.compare_digest(hit[0].encode(), token.encode("utf-8", "surrogateescape")):
            return _with_authenticated_group(hit[1])
        for fn in self._validators:
            try:
                user = fn(token)
            except Exception:
                log.exception("token validator %r failed", fn)
                continue
            if user is not None:
                return _with_authenticated_group(user)
        return None

    # ----------------------------------------------------------------------------------------- requests

    def configure_x509(
        self, client_cas: list[x509.Certificate], requestheader: RequestHeaderAuthenticator | None
    ) -> None:
        """Certificates must come from `client_cas` to be x509 users; `requestheader` (if any)
        authenticates the front proxy's requests."""
        self.client_cas = CABundle(client_cas)
        self.requestheader = requestheader

    def authenticate(
        self,
        authorization: str | None,
        peercert: dict[str, Any] | None,
        *,
        peer_der: bytes | None = None,
        headers: Any = None,
    ) -> UserInfo | None:
        """The request's user; None means "answer 401 Unauthorized".

        `peercert` is the TLS-verified certificate as ``getpeercert()`` gives it, `peer_der` its DER
        bytes (needed to tell the client CA from the requestheader CA once `configure_x509` ran),
        `headers` the request's headers (for the front proxy's ``X-Remote-*``).
        """
        failed = False
        cert = parse_der(peer_der) if peer_der and peercert else None
        if self.requestheader is not None and headers is not None:
            try:
                got = self.requestheader.authenticate(cert, headers)
            except CertificateRejected as e:
                log.debug("requestheader authentication: %s", e)
                failed = True
            else:
                if got is not None:
                    name, groups, extra = got
                    return _with_authenticated_group(UserInfo(username=name, groups=groups, extra=extra))
        if self.client_cas is None:
            user = user_from_peercert(peercert)
        elif cert is None:
            user = None
        elif self.client_cas.issued(cert):
            user = user_from_peercert(peercert)
        else:
            user, failed = None, True
        if user is not None:
            return _with_authenticated_group(user)
        token = bearer_token(authorization)
        if token is None:
            return None if failed else ANONYMOUS
        return self.authenticate_token(token)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization`` header as kube's bearertoken authenticator reads it, or None
    when that authenticator ignores the header (no header, another scheme, an empty token).

    Like Go's ``strings.Split(strings.TrimSpace(h), " ")``: ``Bearer  x`` has an empty token and
    ``Bearer a b`` the token ``a``.
    """
    if authorization is None:
        return None
    parts = authorization.strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]
