"""Audit events as kube-apiserver 1.32 writes them (k8s.io/apiserver/pkg/endpoints/filters/audit.go,
audit_init.go, pkg/audit/request.go, context.go; audit.k8s.io/v1 Event).

Every response carries an `Audit-ID` header (the client's, or a new UUID). With a policy and a log
backend, the server asks the policy for the level of each authenticated request (`Auditor.begin`); a
request at Metadata or above gets an `AuditContext` in `CURRENT`, which writes one event per stage not
omitted: RequestReceived (before impersonation and authorization), ResponseStarted (long-running
requests only: watch, proxy, attach, exec, log, portforward), ResponseComplete, or Panic instead
when the handler fails unexpectedly. A request that fails authentication gets one ResponseStarted
event with code 401. Admission plugins add annotations with `add_annotation` (a no-op when the
request is not audited); the authorization step records `authorization.k8s.io/decision` and
`reason`. Request bodies are recorded at Request level and above (create and update also fill
`objectRef` from the object at Metadata), response bodies at RequestResponse. Lines are encoded here
and written by the backend's thread (auditlog.py).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import yaml

from vcluster.apiserver.auditlog import LogBackend
from vcluster.apiserver.auditoptions import AuditConfigError, AuditOptions
from vcluster.apiserver.auditpolicy import (
    LEVEL_ORDER,
    METADATA,
    NONE,
    REQUEST,
    REQUEST_RESPONSE,
    Policy,
    PolicyError,
    RequestAuditConfig,
    load_policy_file,
)
from vcluster.apiserver.gostr import go_quote

if TYPE_CHECKING:  # kept light: request.py imports the hooks
    from vcluster.apiserver.auth import UserInfo
    from vcluster.apiserver.rbac_authorizer import Attributes

log = logging.getLogger("vcluster.apiserver.audit")

HEADER = "Audit-ID"
CURRENT: ContextVar[AuditContext | None] = ContextVar("vcluster_audit", default=None)
AUDIT_ID: ContextVar[str] = ContextVar("vcluster_audit_id", default="")

LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
DECISION = "authorization.k8s.io/decision"
REASON = "authorization.k8s.io/reason"
TRUNCATED = "audit.k8s.io/truncated"
VALIDATION_FAILURE = "validation.policy.admission.k8s.io/validation_failure"
MAX_USER_AGENT = 1024
_LEVEL_REQUEST = LEVEL_ORDER[REQUEST]
_LEVEL_RESPONSE = LEVEL_ORDER[REQUEST_RESPONSE]
_JSON_TYPES = ("", "application/json", "application/merge-patch+json", "application/json-patch+json",
               "application/strategic-merge-patch+json", "*/*", "text/plain")  # fmt: skip
PROTOBUF = "application/vnd.kubernetes.protobuf"
_YAML_TYPES = ("application/yaml", "application/apply-patch+yaml", "text/yaml", "application/x-yaml")


def new_audit_id(headers: Any) -> str:
    """WithAuditInit: the client's Audit-ID header, or a new random (version 4) UUID."""
    given = headers.get(HEADER)
    if given:
        return given
    b = bytearray(os.urandom(16))  # uuid.uuid4() formatted directly: a third of its cost
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def add_annotation(key: str, value: str) -> None:
    """AddAuditAnnotation: on the current request's event, first value wins; no-op if not audited."""
    ctx = CURRENT.get()
    if ctx is not None:
        ctx.annotate(key, value)


def add_validation_failure(item: dict[str, Any]) -> None:
    """A ValidatingAdmissionPolicy failure under the Audit action: all of a request's failures form
    one JSON list in the `validation_failure` annotation."""
    ctx = CURRENT.get()
    if ctx is not None:
        ctx.validation_failures.append(item)
        ctx.annotations[VALIDATION_FAILURE] = orjson.dumps(ctx.validation_failures).decode()


def note_request_body(body: bytes, ctype: str) -> None:
    """The request body as read by a handler (LogRequestObject / LogRequestPatch)."""
    ctx = CURRENT.get()
    if ctx is not None and ctx.pending_body is None and body:
        ctx.pending_body = (body, ctype)


def long_running(verb: str, subresource: str) -> bool:
    """BasicLongRunningRequestCheck of kube-apiserver."""
    return verb in LONG_RUNNING_VERBS or subresource in LONG_RUNNING_SUBRESOURCES


_second: list[Any] = [None, ""]  # the last whole second formatted


def micro_time(ts: float) -> str:
    """metav1.MicroTime's JSON form (2006-01-02T15:04:05.000000Z)."""
    sec = int(ts)
    if _second[0] != sec:
        _second[0], _second[1] = sec, datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{_second[1]}.{min(round((ts - sec) * 1e6), 999_999):06d}Z"


def source_ips(headers: Any, remote: str | None) -> list[str]:
    """utilnet.SourceIPs: X-Forwarded-For, X-Real-Ip, then the peer address (no duplicate at the end)."""
    fwd = headers.get("X-Forwarded-For", "")
    real = headers.get("X-Real-Ip", "")
    if not fwd and not real:
        return [_peer(remote)]
    ips: list[str] = []
    for part in fwd.split(",") if fwd else ():
        if (ip := _ip(part.strip())) is not None:
            ips.append(ip)
    if real and (ip := _ip(real)) is not None and ip not in ips:
        ips.append(ip)
    peer = _peer(remote)
    if not ips or ips[-1] != peer:
        ips.append(peer)
    return ips


@functools.lru_cache(maxsize=1024)
def _peer(remote: str | None) -> str:
    """The peer address (the Unix socket and in-process requests are loopback)."""
    return _ip(remote or "") or "127.0.0.1"


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _strip_managed_fields(obj: Any) -> Any:
    """copyWithoutManagedFields: an object, a list's items or a Table's row objects."""
    if not isinstance(obj, dict):
        return obj
    out = dict(obj)
    md = out.get("metadata")
    if isinstance(md, dict) and "managedFields" in md:
        out["metadata"] = {k: v for k, v in md.items() if k != "managedFields"}
    for key in ("items", "rows"):
        items = out.get(key)
        if isinstance(items, list):
            if key == "rows":
                out[key] = [
                    {**r, "object": _strip_managed_fields(r.get("object"))} if isinstance(r, dict) else r
                    for r in items
                ]
            else:
                out[key] = [_strip_managed_fields(i) for i in items]
    return out


def _decode(body: bytes, ctype: str) -> Any:
    ctype = ctype.split(";", 1)[0].strip().lower()
    try:
        if ctype in _JSON_TYPES:
            return orjson.loads(body)
        if ctype in _YAML_TYPES:
            return yaml.safe_load(body)
        if ctype == PROTOBUF:
            from vcluster.apiserver.protobuf import decode_protobuf

            return decode_protobuf(body, None)
    except Exception:  # what cannot be decoded is not recorded (the handler answers it)
        return None
    return None


class Auditor:
    """The policy and the log backend of a server."""

    def __init__(self, policy: Policy, backend: LogBackend, opts: AuditOptions) -> None:
        self.policy = policy
        self.backend = backend
        self.legacy = opts.log_format == "legacy"
        self.max_event = opts.log_truncate_max_event_size if opts.log_truncate_enabled else 0

    @classmethod
    def from_options(cls, opts: AuditOptions | None) -> Auditor | None:
        """The auditor of the flags, or None when they record nothing. Raises AuditConfigError."""
        if opts is None:
            return None
        check(opts)
        if not opts.policy_file:
            if opts.log_path:
                log.info("No audit policy file provided, no events will be recorded for log backend")
            return None
        if not opts.log_path:
            return None
        policy = load_policy_file(opts.policy_file)
        try:
            backend = LogBackend.to_path(
                opts.log_path,
                max_size_mb=opts.log_maxsize,
                max_backups=opts.log_maxbackup,
                max_age_days=opts.log_maxage,
                compress=opts.log_compress,
                batch=opts.log_mode == "batch",
                buffer_size=opts.log_batch_buffer_size,
                max_batch=opts.log_batch_max_size,
                max_wait=opts.log_batch_max_wait,
            )
        except OSError as e:
            raise AuditConfigError(f"ensureLogFile: {opts.log_path}: {e.strerror or e}") from None
        log.info("audit log: %s (policy %s, %d rules)", opts.log_path, opts.policy_file, len(policy.rules))
        return cls(policy, backend, opts)

    def begin(
        self,
        request: Any,
        audit_id: str,
        user: UserInfo,
        attrs: Attributes,
        version: str,
    ) -> AuditContext | None:
        """WithAudit: evaluate the policy; an audited request's RequestReceived event."""
        cfg = self.policy.evaluate(user, attrs)
        if cfg.level == NONE:
            return None
        ctx = AuditContext(self, cfg, audit_id, request, attrs, version, user)
        ctx.long_running = attrs.resource_request and long_running(attrs.verb, attrs.subresource)
        CURRENT.set(ctx)
        ctx.emit("RequestReceived")
        return ctx

    def failed_authentication(self, request: Any, audit_id: str, attrs: Attributes, version: str) -> None:
        """WithFailedAuthenticationAudit: one ResponseStarted event with the 401."""
        cfg = self.policy.evaluate(None, attrs)
        if cfg.level == NONE:
            return
        ctx = AuditContext(self, cfg, audit_id, request, attrs, version, None)
        ctx.response_status = {"metadata": {}, "code": 401}
        ctx.emit("ResponseStarted")
        ctx.done = True

    def write(self, event: dict[str, Any]) -> None:
        if self.legacy:
            self.backend.submit(legacy_line(event).encode() + b"\n")
            return
        try:
            line = orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS)
        except TypeError as e:  # an undecodable body part: the event is dropped, never the request
            log.error("audit event %s of stage %s not encoded: %s", event["auditID"], event["stage"], e)
            return
        if self.max_event and len(line) > self.max_event:
            event.pop("requestObject", None)
            event.pop("responseObject", None)
            event["annotations"] = {**event.get("annotations", {}), TRUNCATED: "true"}
            line = orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS)
            if len(line) > self.max_event:
                log.error(
                    "audit event %s of %d bytes dropped: over the maximum event size",
                    event["auditID"],
                    len(line),
                )
                return
        self.backend.submit(line + b"\n")

    def close(self) -> None:
        self.backend.close()


def check(opts: AuditOptions) -> None:
    """The flags' validation and the policy file's (as at kube-apiserver's start)."""
    errs = opts.validate()
    if errs:
        raise AuditConfigError(errs[0] if len(errs) == 1 else "; ".join(errs))
    if opts.policy_file:
        try:
            load_policy_file(opts.policy_file)
        except PolicyError as e:
            raise AuditConfigError(str(e)) from None


class AuditContext:
    """The event of one audited request, emitted once per stage."""

    __slots__ = (
        "annotations",
        "audit_id",
        "auditor",
        "cfg",
        "done",
        "impersonated",
        "level",
        "long_running",
        "object_ref",
        "pending_body",
        "received",
        "request_object",
        "request_uri",
        "response_object",
        "response_status",
        "source_ips",
        "started",
        "user",
        "user_agent",
        "validation_failures",
        "verb",
    )

    def __init__(
        self,
        auditor: Auditor,
        cfg: RequestAuditConfig,
        audit_id: str,
        request: Any,
        attrs: Attributes,
        version: str,
        user: UserInfo | None,
    ) -> None:
        self.auditor = auditor
        self.cfg = cfg
        self.level = LEVEL_ORDER[cfg.level]
        self.audit_id = audit_id
        self.received = time.time()
        self.verb = attrs.verb
        self.request_uri = getattr(request, "raw_path", None) or request.path_qs
        headers = request.headers
        ua = headers.get("User-Agent", "")
        self.user_agent = ua[:MAX_USER_AGENT] + "...TRUNCATED" if len(ua) > MAX_USER_AGENT else ua
        self.source_ips = source_ips(headers, getattr(request, "remote", None))
        self.user: dict[str, Any] = user.to_dict() if user is not None else {}
        self.impersonated: dict[str, Any] | None = None
        self.object_ref: dict[str, str] | None = None
        if attrs.resource_request:
            self.object_ref = {
                "resource": attrs.resource,
                "namespace": attrs.namespace,
                "name": attrs.name,
                "apiGroup": attrs.group,
                "apiVersion": version,
                "subresource": attrs.subresource,
            }
        self.response_status: dict[str, Any] | None = None
        self.request_object: Any = None
        self.response_object: Any = None
        self.annotations: dict[str, str] = {}
        self.validation_failures: list[dict[str, Any]] = []
        self.pending_body: tuple[bytes, str] | None = None
        self.long_running = False
        self.started = False
        self.done = False

    def annotate(self, key: str, value: str) -> None:
        old = self.annotations.get(key)
        if old is None:
            self.annotations[key] = value
        elif old != value:
            log.warning("audit annotation %r on %s: keeping %r, not %r", key, self.audit_id, old, value)

    def impersonating(self, user: UserInfo) -> None:
        """LogImpersonatedUser."""
        self.impersonated = user.to_dict()

    def decision(self, allowed: bool, reason: str) -> None:
        """The authorization filter's annotations."""
        self.annotate(DECISION, "allow" if allowed else "forbid")
        self.annotate(REASON, reason)

    def _absorb_body(self) -> None:
        """LogRequestObject (create, update: objectRef from the object) / LogRequestPatch."""
        body, ctype = self.pending_body  # type: ignore[misc]
        self.pending_body = None
        if self.verb not in ("create", "update") and self.level < _LEVEL_REQUEST:
            return
        obj = _decode(body, ctype)
        if obj is None:
            return
        ref = self.object_ref
        if self.verb in ("create", "update") and isinstance(obj, dict) and ref is not None:
            md = obj.get("metadata")
            if isinstance(md, dict):
                for key, src in (("namespace", "namespace"), ("name", "name"), ("uid", "uid"),
                                 ("resourceVersion", "resourceVersion")):  # fmt: skip
                    if not ref.get(key) and isinstance(md.get(src), str):
                        ref[key] = md[src]
        if self.level >= _LEVEL_REQUEST:
            self.request_object = _strip_managed_fields(obj) if self.cfg.omit_managed_fields else obj

    def response(self, code: int, body: bytes | None, ctype: str) -> None:
        """LogResponseObject and the status code: the Status of an error answer (and of a Status
        answer), the object itself at RequestResponse."""
        obj: Any = None
        is_status = code >= 300 or (body is not None and len(body) < 4096 and b'"kind":"Status"' in body[:80])
        if body and (is_status or self.level >= _LEVEL_RESPONSE):
            obj = _decode(body, ctype)
        status: dict[str, Any] = {"metadata": {}}
        if isinstance(obj, dict) and obj.get("kind") == "Status":
            for key in ("status", "message", "reason", "details"):
                if obj.get(key):
                    status[key] = obj[key]
        status["code"] = code
        self.response_status = status
        if self.level >= _LEVEL_RESPONSE and obj is not None:
            self.response_object = _strip_managed_fields(obj) if self.cfg.omit_managed_fields else obj

    def response_started(self, code: int) -> None:
        """A long-running request's headers went out."""
        if self.long_running and not self.started and not self.done:
            self.started = True
            self.response_status = {"metadata": {}, "code": code}
            self.emit("ResponseStarted")

    def complete(self) -> None:
        """The handler returned: ResponseComplete (after a faked ResponseStarted for a long-running
        request that never started its answer, as upstream)."""
        if self.done:
            return
        if self.long_running and not self.started:
            if self.response_status is None:
                self.response_status = {
                    "metadata": {},
                    "status": "Success",
                    "message": "Connection closed early",
                    "code": 200,
                }
            self.started = True
            self.emit("ResponseStarted")
        if self.response_status is None:
            self.response_status = {
                "metadata": {}, "status": "Success", "message": "Connection closed early", "code": 200,
            }  # fmt: skip
        self.emit("ResponseComplete")
        self.done = True

    def panic(self, err: BaseException) -> None:
        """The handler failed unexpectedly: a Panic event instead of ResponseComplete."""
        if self.done:
            return
        self.response_status = {
            "metadata": {},
            "status": "Failure",
            "message": f"APIServer panic'd: {err}",
            "reason": "InternalError",
            "code": 500,
        }
        self.emit("Panic")
        self.done = True

    def emit(self, stage: str) -> None:
        if stage in self.cfg.omit_stages:
            return
        if self.pending_body is not None:
            self._absorb_body()
        ev: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": self.cfg.level,
            "auditID": self.audit_id,
            "stage": stage,
            "requestURI": self.request_uri,
            "verb": self.verb,
            "user": self.user,
        }
        if self.impersonated is not None:
            ev["impersonatedUser"] = self.impersonated
        ev["sourceIPs"] = self.source_ips
        if self.user_agent:
            ev["userAgent"] = self.user_agent
        if self.object_ref is not None:
            ev["objectRef"] = {k: v for k, v in _ref_order(self.object_ref) if v}
        if self.response_status is not None:
            ev["responseStatus"] = self.response_status
        if self.request_object is not None:
            ev["requestObject"] = self.request_object
        if self.response_object is not None and stage != "RequestReceived":
            ev["responseObject"] = self.response_object
        ev["requestReceivedTimestamp"] = received = micro_time(self.received)
        ev["stageTimestamp"] = received if stage == "RequestReceived" else micro_time(time.time())
        if self.annotations:
            ev["annotations"] = dict(self.annotations)
        self.auditor.write(ev)


_REF_KEYS = (
    "resource",
    "namespace",
    "name",
    "uid",
    "apiGroup",
    "apiVersion",
    "resourceVersion",
    "subresource",
)


def _ref_order(ref: dict[str, str]) -> list[tuple[str, str]]:
    return [(k, ref.get(k, "")) for k in _REF_KEYS]


def legacy_line(ev: dict[str, Any]) -> str:
    """audit.EventString: the one-line text format."""
    user = ev.get("user") or {}
    username, groups = "<none>", "<none>"
    if user.get("username"):
        username = user["username"]
        if user.get("groups"):
            groups = ",".join(go_quote(g) for g in user["groups"])
    asuser, asgroups = "<self>", "<lookup>"
    imp = ev.get("impersonatedUser")
    if imp is not None:
        asuser = imp.get("username", "")
        if imp.get("groups") is not None:
            asgroups = ",".join(go_quote(g) for g in imp["groups"])
    namespace = (ev.get("objectRef") or {}).get("namespace") or "<none>"
    status = ev.get("responseStatus")
    response = str(status["code"]) if status is not None else "<deferred>"
    ips = ev.get("sourceIPs") or ["<unknown>"]
    ts = ev["requestReceivedTimestamp"].rstrip("Z").rstrip("0").rstrip(".") + "Z"
    return (
        f"{ts} AUDIT: id={go_quote(ev['auditID'])} stage={go_quote(ev['stage'])} ip={go_quote(ips[0])} "
        f"method={go_quote(ev['verb'])} user={go_quote(username)} groups={go_quote(groups)} "
        f"as={go_quote(asuser)} asgroups={go_quote(asgroups)} user-agent={go_quote(ev.get('userAgent', ''))} "
        f'namespace={go_quote(namespace)} uri={go_quote(ev["requestURI"])} response="{response}"'
    )


__all__ = [
    "HEADER",
    "METADATA",
    "AuditConfigError",
    "AuditContext",
    "Auditor",
    "add_annotation",
    "note_request_body",
]


def on_prepare(status: int, headers: Any) -> None:
    """A streamed answer's headers go out: its Audit-ID header, and a long-running request's
    ResponseStarted event."""
    aid = AUDIT_ID.get()
    if aid:
        headers[HEADER] = aid
    ctx = CURRENT.get()
    if ctx is not None:
        ctx.response_started(status)


async def on_response_prepare(request: Any, resp: Any) -> None:
    """aiohttp's on_response_prepare signal."""
    on_prepare(resp.status, resp.headers)
