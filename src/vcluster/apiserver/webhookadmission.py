"""MutatingAdmissionWebhook and ValidatingAdmissionWebhook (k8s.io/apiserver/pkg/admission/plugin/
webhook of kube 1.32): the stored webhook configurations, held in memory and compiled once per
resourceVersion, are matched against every write and the matching webhooks are called.

The write pipeline calls :func:`mutate` after the built-in mutating admission and :func:`validate`
after the kind's validation; `Rest.delete` calls both for DELETE. Who is asking comes from the
request's context (:data:`REQUEST_STATE`, set by the server for each request, and
``rbac_escalation.REQUEST_AUTH``); warnings the webhooks return are collected there and sent back as
``Warning`` headers. A request that no webhook's rules match costs a dictionary lookup (the candidate
webhooks are cached per (operation, resource, subresource, scope) until a configuration changes).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextvars
import logging
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, TypeGuard

import aiohttp
import orjson

from vcluster.apiserver import connectoptions, defaults, schema
from vcluster.apiserver.admission import _as_selector
from vcluster.apiserver.admissionrules import Rule, equivalent_resources
from vcluster.apiserver.admissionrules import parse_rule as _rule
from vcluster.apiserver.cel import lazy_module
from vcluster.apiserver.errors import StatusError, bad_request, forbidden, not_found
from vcluster.apiserver.fieldvalidation import drop_unknown_fields
from vcluster.apiserver.jsonpatch import apply_json_patch
from vcluster.apiserver.rbac_escalation import REQUEST_AUTH
from vcluster.apiserver.resources import Registry, ResourceType
from vcluster.apiserver.vapadmission import PolicyAdmission, authorizer_variables
from vcluster.apiserver.webhookclient import (
    REVIEW_GROUP_VERSIONS,
    CallError,
    ClientConfig,
    Resolver,
    call,
    client_config,
    verify_response,
)
from vcluster.store.interface import Event, Storage, WatchStream

_matchconditions = lazy_module("vcluster.apiserver.cel.matchconditions")

log = logging.getLogger("vcluster.apiserver.webhooks")

GROUP = "admissionregistration.k8s.io"
MUTATING = "mutatingwebhookconfigurations"
VALIDATING = "validatingwebhookconfigurations"
# rules.IsExemptAdmissionConfigurationResource: never sent to webhooks
_EXEMPT = frozenset(
    (
        MUTATING,
        VALIDATING,
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
        "mutatingadmissionpolicies",
        "mutatingadmissionpolicybindings",
    )
)
JSON = dict[str, Any]


# ---------------------------------------------------------------------------- compiled configuration
@dataclass(frozen=True, slots=True)
class Hook:
    """One webhook of a configuration, ready to match and call."""

    uid: str  # configuration/name/index, as kube's accessor
    name: str
    configuration: str
    mutating: bool
    rules: tuple[Rule, ...]
    fail_open: bool  # failurePolicy Ignore
    equivalent: bool  # matchPolicy Equivalent
    namespace_selector: Any  # admission._Selector; None: every namespace
    object_selector: Any
    side_effects: str
    timeout: int
    reinvoke: bool  # reinvocationPolicy IfNeeded
    review_version: str  # the first of admissionReviewVersions this server speaks
    client: ClientConfig | None
    client_error: str = ""  # why no client could be built (a bad caBundle)
    matcher: _matchconditions.Matcher | None = None  # compiled matchConditions


def _selector(sel: Any) -> Any:
    """None for an empty (match-everything) selector; stored ones passed validation."""
    if not isinstance(sel, dict) or not (sel.get("matchLabels") or sel.get("matchExpressions")):
        return None
    return _as_selector(sel)


def compile_configuration(obj: JSON, mutating: bool) -> list[Hook]:
    """The webhooks of a stored configuration (defaults already applied when it was written)."""
    md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    cname = str(md.get("name") or "")
    hooks: list[Hook] = []
    for i, h in enumerate(obj.get("webhooks") or []):
        if not isinstance(h, dict):
            continue
        name = str(h.get("name") or "")
        cc = h.get("clientConfig") if isinstance(h.get("clientConfig"), dict) else {}
        client: ClientConfig | None = None
        err = ""
        try:
            ca = cc.get("caBundle")
            client = client_config(cc, base64.b64decode(ca).decode() if ca else None)
        except (ValueError, binascii.Error, UnicodeDecodeError, OSError) as e:
            err = f"could not get REST client: unable to load root certificates: {e}"
        versions = [v for v in h.get("admissionReviewVersions") or [] if v in REVIEW_GROUP_VERSIONS]
        conditions = h.get("matchConditions")
        fail_open = h.get("failurePolicy") == "Ignore"
        hooks.append(
            Hook(
                uid=f"{cname}/{name}/{i}",
                name=name,
                configuration=cname,
                mutating=mutating,
                rules=tuple(_rule(r) for r in h.get("rules") or [] if isinstance(r, dict)),
                fail_open=fail_open,
                equivalent=h.get("matchPolicy", "Equivalent") == "Equivalent",
                namespace_selector=_selector(h.get("namespaceSelector")),
                object_selector=_selector(h.get("objectSelector")),
                side_effects=str(h.get("sideEffects") or ""),
                timeout=int(h.get("timeoutSeconds") or 10),
                reinvoke=mutating and h.get("reinvocationPolicy") == "IfNeeded",
                review_version=versions[0] if versions else "v1",
                client=client,
                client_error=err,
                matcher=_matchconditions.Matcher(conditions, fail_open)
                if isinstance(conditions, list) and conditions
                else None,
            )
        )
    return hooks


# (hook, the resource it is called for: the request's, or an equivalent one it matched)
Invocation = tuple[Hook, ResourceType]


class WebhookIndex:
    """The stored configurations, compiled; kept current by synchronous store watches."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._configs: dict[str, tuple[str, bool, list[Hook]]] = {}  # key -> (name, mutating, hooks)
        self.mutating: tuple[Hook, ...] = ()
        self.validating: tuple[Hook, ...] = ()
        self._candidates: dict[tuple[Any, ...], tuple[Invocation, ...]] = {}
        self._watches: list[WatchStream] = []

    def put(self, key: str, obj: JSON, mutating: bool) -> None:
        md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        self._configs[key] = (str(md.get("name") or ""), mutating, compile_configuration(obj, mutating))
        self._rebuild()

    def remove(self, key: str) -> None:
        if self._configs.pop(key, None) is not None:
            self._rebuild()

    def _rebuild(self) -> None:
        ordered = sorted(self._configs.values(), key=lambda c: c[0])  # by configuration name, as kube
        self.mutating = tuple(h for _, m, hooks in ordered if m for h in hooks)
        self.validating = tuple(h for _, m, hooks in ordered if not m for h in hooks)
        self._candidates = {}

    def candidates(
        self, mutating: bool, op: str, rt: ResourceType, sub: str, namespaced: bool
    ) -> tuple[Invocation, ...]:
        """The webhooks whose rules match (ShouldCallHook without the selectors), cached."""
        key = (mutating, op, rt.group, rt.version, rt.plural, sub, namespaced)
        found = self._candidates.get(key)
        if found is None:
            found = self._candidates[key] = self._match(
                self.mutating if mutating else self.validating, op, rt, sub, namespaced
            )
        return found

    def _match(
        self, hooks: tuple[Hook, ...], op: str, rt: ResourceType, sub: str, namespaced: bool
    ) -> tuple[Invocation, ...]:
        out: list[Invocation] = []
        equivalents: list[ResourceType] | None = None
        for hook in hooks:
            if any(r.matches(op, rt, sub, namespaced) for r in hook.rules):
                out.append((hook, rt))
                continue
            if not hook.equivalent:
                continue
            if equivalents is None:
                equivalents = equivalent_resources(self.registry, rt, sub)
            found = next(
                (eq for r in hook.rules for eq in equivalents if r.matches(op, eq, sub, namespaced)), None
            )
            if found is not None:
                out.append((hook, found))
        return tuple(out)

    async def start(self, store: Storage, prefixes: dict[str, bool]) -> None:
        """Load the configurations under ``prefixes`` (prefix -> mutating) and follow them."""
        for prefix, mutating in prefixes.items():
            res = await store.list(prefix)
            for e in res.entries:
                self.put(e.key, e.decode(), mutating)
            w = await store.watch(prefix, res.revision)
            if not w.set_sink(lambda ev, m=mutating: self._apply(ev, m)):  # pragma: no cover
                raise RuntimeError("the webhook index needs a store whose watches deliver synchronously")
            self._watches.append(w)

    def _apply(self, ev: Event, mutating: bool) -> bool:
        if ev.type == "DELETED":
            self.remove(ev.key)
        else:
            self.put(ev.key, orjson.loads(ev.entry.raw), mutating)
        return True

    def stop(self) -> None:
        for w in self._watches:
            w.close()
        self._watches.clear()


# ---------------------------------------------------------------------------- per-request state
@dataclass(slots=True)
class RequestState:
    """The webhook admission of the server answering the current request, and its warnings."""

    admission: WebhookAdmission
    warnings: list[str] = field(default_factory=list)


REQUEST_STATE: contextvars.ContextVar[RequestState | None] = contextvars.ContextVar(
    "vcluster_webhook_request", default=None
)


@dataclass(slots=True)
class Attributes:
    """admission.Attributes of one write, in the request's version."""

    operation: str
    rt: ResourceType  # the resource the client addressed
    subresource: str
    namespace: str
    name: str
    obj: JSON | None
    old: JSON | None
    dry_run: bool
    options: JSON | None
    kind: str = ""  # the object's kind when it is not the resource's (CONNECT: its options kind)


# ---------------------------------------------------------------------------- the plugin
class WebhookAdmission(Resolver):
    """The two webhook admission plugins of one API server."""

    def __init__(self, store: Storage, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self.index = WebhookIndex(registry)
        self.policies = PolicyAdmission(store, registry)  # ValidatingAdmissionPolicy
        self.loopback: tuple[str, int] | None = None  # default/kubernetes:443 -> this server
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        prefixes = {}
        for plural, mutating in ((MUTATING, True), (VALIDATING, False)):
            rt = self.registry.get(GROUP, "v1", plural)
            assert rt is not None
            prefixes[rt.key_prefix] = mutating
        await self.index.start(self.store, prefixes)
        await self.policies.start()

    async def stop(self) -> None:
        self.index.stop()
        self.policies.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self._session

    # -------------------------------------------------------------------- service resolution
    async def resolve(self, namespace: str, name: str, port: int) -> tuple[str, int]:
        """kube-apiserver's default resolver: the loopback for default/kubernetes:443, otherwise the
        Service's ClusterIP and port (ExternalName: the external name)."""
        if (namespace, name, port) == ("default", "kubernetes", 443) and self.loopback is not None:
            return self.loopback
        svc_rt = self.registry.get("", "v1", "services")
        e = await self.store.get(f"{svc_rt.key_prefix}{namespace}/{name}") if svc_rt else None
        if e is None:
            raise ValueError(f'service "{name}" not found')
        spec = e.decode().get("spec") or {}
        stype = spec.get("type") or "ClusterIP"
        cluster_ip = str(spec.get("clusterIP") or "")
        if stype == "ClusterIP" and cluster_ip == "None":
            raise ValueError('cannot route to service with ClusterIP "None"')
        if stype in ("ClusterIP", "LoadBalancer", "NodePort"):
            if not any(isinstance(p, dict) and p.get("port") == port for p in spec.get("ports") or []):
                raise ValueError(f'no service port {port} found for service "{name}"')
            return cluster_ip, port
        if stype == "ExternalName":
            return str(spec.get("externalName") or ""), port
        raise ValueError(f'unsupported service type "{stype}"')

    # -------------------------------------------------------------------- matching
    async def _namespace_labels(self, a: Attributes) -> dict[str, str] | None:
        """GetNamespaceLabels; None for cluster-scoped objects (they always match)."""
        is_ns = a.rt.group == "" and a.rt.plural == "namespaces"
        if is_ns and not a.subresource and a.operation in ("CREATE", "UPDATE") and a.obj is not None:
            return _labels(a.obj)
        ns = a.name if is_ns else a.namespace
        if not ns:
            return None
        e = await self.store.get(f"/registry/namespaces/{ns}")
        if e is None:
            raise not_found("namespaces", "", ns)
        return e.labels or {}

    async def _selects(self, hook: Hook, a: Attributes, ns_cache: list[Any]) -> bool:
        """The namespaceSelector and objectSelector parts of ShouldCallHook (`ns_cache`: the
        namespace's labels once looked up, shared by the webhooks of one request)."""
        if hook.namespace_selector is not None:
            if not ns_cache:
                ns_cache.append(await self._namespace_labels(a))
            labels = ns_cache[0]
            if labels is not None and not hook.namespace_selector.matches(labels):
                return False
        sel = hook.object_selector
        return sel is None or (
            (has_metadata(a.obj) and sel.matches(_labels(a.obj)))
            or (has_metadata(a.old) and sel.matches(_labels(a.old)))
        )

    async def _should_call(
        self, hook: Hook, target: ResourceType, a: Attributes, ns_cache: list[Any]
    ) -> bool:
        """ShouldCallHook after the rules: the selectors, then the matchConditions on the object in
        the version the webhook is called with (an evaluation error with failurePolicy Fail is a
        403)."""
        if not await self._selects(hook, a, ns_cache):
            return False
        if hook.matcher is None:
            return True
        request = _matchconditions.request_value(_request("", target, a, None, None))
        obj, old = _convert(a.obj, a.rt, target), _convert(a.old, a.rt, target)
        result = hook.matcher.match(obj, old, request, authorizer_variables(a))
        if result.error:
            log.warning("Failed evaluating match conditions, failing closed %s: %s", hook.name, result.error)
            raise forbidden(a.rt.plural, a.rt.group, a.name, result.error)
        return result.matches

    # -------------------------------------------------------------------- calling
    async def _call(self, hook: Hook, target: ResourceType, a: Attributes, obj: JSON | None) -> JSON:
        """One call: dry-run check, review, POST, verified response (CallError on failure)."""
        if a.dry_run and hook.side_effects not in ("None", "NoneOnDryRun"):
            raise bad_request(f'admission webhook "{hook.name}" does not support dry run')
        if hook.client is None:
            raise CallError(hook.name, hook.client_error)
        uid = str(uuid.uuid4())
        review = {
            "kind": "AdmissionReview",
            "apiVersion": REVIEW_GROUP_VERSIONS[hook.review_version],
            "request": _request(uid, target, a, obj, _convert(a.old, a.rt, target)),
        }
        answer = await call(self.session(), self, hook.name, hook.client, review, hook.timeout)
        resp = verify_response(hook.name, uid, hook.review_version, hook.mutating, answer)
        state = REQUEST_STATE.get()
        if state is not None:
            state.warnings.extend(w for w in resp.get("warnings") or [] if isinstance(w, str))
        if not resp.get("allowed"):
            raise _rejection(hook.name, resp.get("status"))
        return resp

    async def run_mutating(self, a: Attributes, hooks: tuple[Invocation, ...]) -> JSON | None:
        """mutatingDispatcher.Dispatch with one reinvocation round; the mutated object (request
        version) or None when no webhook changed it."""
        current = a.obj
        dirty = False
        previously: set[str] = set()  # IfNeeded webhooks called since the last change
        reinvoke: set[str] = set()
        should_reinvoke = False
        ns_cache: list[Any] = []
        for round_ in (0, 1):
            if round_ == 1 and not should_reinvoke:
                break
            for hook, target in hooks:
                attrs = _with_obj(a, current)
                if not await self._should_call(hook, target, attrs, ns_cache):
                    continue
                # a webhook not called in the first round is not called in the reinvocation either
                if round_ == 1 and hook.uid not in reinvoke:
                    continue
                try:
                    patched = await self._mutating_call(hook, target, attrs)
                except CallError as e:
                    if hook.fail_open:
                        log.warning("Failed calling webhook, failing open %s: %s", hook.name, e)
                        continue
                    log.warning("Failed calling webhook, failing closed %s: %s", hook.name, e)
                    raise _internal(str(e)) from None
                if patched is not None and patched != current:
                    current, dirty = patched, True
                    reinvoke |= previously
                    previously = set()
                    should_reinvoke = True
                if hook.reinvoke:
                    previously.add(hook.uid)
        return current if dirty else None

    async def _mutating_call(self, hook: Hook, target: ResourceType, a: Attributes) -> JSON | None:
        obj = _convert(a.obj, a.rt, target)
        resp = await self._call(hook, target, a, obj)
        patch = resp.get("patch")
        if not patch:
            return None
        try:
            ops = orjson.loads(base64.b64decode(patch, validate=True))
        except (ValueError, binascii.Error, orjson.JSONDecodeError) as e:
            raise _internal(str(e)) from None
        if not ops:
            return None
        if obj is None:
            raise _internal(
                f'admission webhook "{hook.name}" attempted to modify the object, which is not supported '
                "for this operation"
            )
        try:
            patched = apply_json_patch(obj, ops, "Ignore")
        except StatusError as e:  # the Go library's own error text when there is one
            cause = e.__cause__
            raise _internal(str(cause) if cause is not None else e.message) from None
        if not isinstance(patched, dict):
            raise _internal("Object 'Kind' is missing in patched object")
        if a.kind:  # connect options: no schema, no defaults
            err = connectoptions.type_error(a.kind, patched)
            if err is not None:
                raise _internal(err)
            return connectoptions.normalize(a.kind, patched)
        _decode_as(patched, target)
        return _convert(patched, target, a.rt)

    async def run_validating(self, a: Attributes, hooks: tuple[Invocation, ...]) -> None:
        """validatingDispatcher.Dispatch: the matching webhooks in parallel; the first error (in
        webhook order) is the answer."""
        ns_cache: list[Any] = []
        selected = [(h, t) for h, t in hooks if await self._should_call(h, t, a, ns_cache)]
        if not selected:
            return
        results = await asyncio.gather(
            *(self._call(h, t, a, _convert(a.obj, a.rt, t)) for h, t in selected), return_exceptions=True
        )
        for (hook, _), res in zip(selected, results, strict=True):
            if isinstance(res, CallError):
                if hook.fail_open:
                    log.warning("Failed calling webhook, failing open %s: %s", hook.name, res)
                    continue
                log.warning("Failed calling webhook, failing closed %s: %s", hook.name, res)
                raise _internal(str(res))
            if isinstance(res, BaseException):
                raise res


# ---------------------------------------------------------------------------- helpers
def has_metadata(obj: JSON | None) -> TypeGuard[JSON]:
    """meta.Accessor succeeds: an object with ObjectMeta (connect options have none, so an
    objectSelector never matches them)."""
    return obj is not None and isinstance(obj.get("metadata"), dict)


def _labels(obj: JSON) -> dict[str, str]:
    md = obj.get("metadata")
    labels = md.get("labels") if isinstance(md, dict) else None
    return labels if isinstance(labels, dict) else {}


def _with_obj(a: Attributes, obj: JSON | None) -> Attributes:
    if obj is a.obj:
        return a
    return replace(a, obj=obj)


def _convert(obj: JSON | None, src: ResourceType, dst: ResourceType) -> JSON | None:
    """An object of `src`'s version in `dst`'s (the two share storage)."""
    if obj is None or (src.group, src.version) == (dst.group, dst.version):
        return obj
    copy = orjson.loads(orjson.dumps(obj))
    stored = src.conversion.to_storage(copy) if src.conversion is not None else copy
    return dst.conversion.to_version(stored) if dst.conversion is not None else stored


def _decode_as(obj: JSON, rt: ResourceType) -> None:
    """What decoding the patched JSON into the versioned type does: type errors are a 500, then the
    kind's defaults (custom resources: pruning and their schema's defaults)."""
    custom = rt.custom
    if custom is not None:
        custom.schema.prune(obj)
        custom.schema.default(obj)
        return
    err = schema.type_error(obj, rt.group, rt.version, rt.kind)
    if err is not None:
        raise _internal(err)
    drop_unknown_fields(obj, rt.group, rt.version, rt.kind)  # decoding ignores them
    defaults.apply_defaults(obj, rt.group, rt.version, rt.kind)


def _request(uid: str, target: ResourceType, a: Attributes, obj: JSON | None, old: JSON | None) -> JSON:
    """admissionv1.AdmissionRequest (CreateV1AdmissionReview)."""
    auth = REQUEST_AUTH.get()
    req_rt = a.rt
    req: JSON = {
        "uid": uid,
        "kind": {"group": target.group, "version": target.version, "kind": a.kind or target.kind},
        "resource": {"group": target.group, "version": target.version, "resource": target.plural},
        "requestKind": {"group": req_rt.group, "version": req_rt.version, "kind": a.kind or req_rt.kind},
        "requestResource": {"group": req_rt.group, "version": req_rt.version, "resource": req_rt.plural},
        "name": a.name,
        "operation": a.operation,
        "userInfo": auth.user.to_dict() if auth is not None else {},
        "object": obj,
        "oldObject": old,
        "dryRun": a.dry_run,
        "options": a.options,
    }
    if a.subresource:
        req["subResource"] = a.subresource
        req["requestSubResource"] = a.subresource
    if a.namespace:
        req["namespace"] = a.namespace
    return req


def _rejection(webhook: str, result: Any) -> StatusError:
    """webhookerrors.ToStatusErr: the webhook's Status, at least 400, its message prefixed."""
    result = result if isinstance(result, dict) else {}
    code = result.get("code") if isinstance(result.get("code"), int) else 0
    denied = f'admission webhook "{webhook}" denied the request'
    message, reason = result.get("message"), result.get("reason")
    if isinstance(message, str) and message:
        text = f"{denied}: {message}"
    elif isinstance(reason, str) and reason:
        text = f"{denied}: {reason}"
    else:
        text = f"{denied} without explanation"
    details = result.get("details") if isinstance(result.get("details"), dict) else None
    return StatusError(max(code, 400), reason if isinstance(reason, str) else "", text, details)


def _internal(message: str) -> StatusError:
    """apierrors.NewInternalError: 500 with the error as its one cause."""
    return StatusError(
        500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]}
    )


def _exempt(rt: ResourceType) -> bool:
    return rt.group == GROUP and rt.plural in _EXEMPT


def _options(kind: str, dry_run: bool, manager: str) -> JSON:
    opts: JSON = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
    if dry_run:
        opts["dryRun"] = ["All"]
    if manager:
        opts["fieldManager"] = manager
    return opts


# ---------------------------------------------------------------------------- pipeline hooks
async def mutate(
    rt: ResourceType,
    operation: str,
    namespace: str,
    obj: JSON,
    old: JSON | None,
    *,
    subresource: str = "",
    served: ResourceType | None = None,
    dry_run: bool = False,
    manager: str = "",
) -> None:
    """MutatingAdmissionWebhook for a create or update: patches `obj` (of `rt`'s version) in place.
    `served`: the resource the client addressed when `rt` is its storage (events.k8s.io Events)."""
    state = REQUEST_STATE.get()
    if state is None or not state.admission.index.mutating:
        return
    req_rt = served if served is not None else rt
    if _exempt(req_rt):
        return
    hooks = state.admission.index.candidates(True, operation, req_rt, subresource, bool(namespace))
    if not hooks:
        return
    a = _attributes(rt, req_rt, operation, namespace, obj, old, subresource, dry_run, manager)
    result = await state.admission.run_mutating(a, hooks)
    if result is not None:
        result = _convert(result, req_rt, rt) if req_rt is not rt else result
        obj.clear()
        obj.update(result)


async def validate(
    rt: ResourceType,
    operation: str,
    namespace: str,
    obj: JSON | None,
    old: JSON | None,
    *,
    subresource: str = "",
    served: ResourceType | None = None,
    dry_run: bool = False,
    manager: str = "",
) -> None:
    """ValidatingAdmissionWebhook for a create, update or delete (raises the refusal)."""
    state = REQUEST_STATE.get()
    if state is None:
        return
    req_rt = served if served is not None else rt
    a: Attributes | None = None
    policies = state.admission.policies
    if policies.applies(req_rt):  # ValidatingAdmissionPolicy runs before the webhooks
        a = _attributes(rt, req_rt, operation, namespace, obj, old, subresource, dry_run, manager)
        await policies.validate(a, state.warnings)
    if not state.admission.index.validating or _exempt(req_rt):
        return
    hooks = state.admission.index.candidates(False, operation, req_rt, subresource, bool(namespace))
    if not hooks:
        return
    if a is None:
        a = _attributes(rt, req_rt, operation, namespace, obj, old, subresource, dry_run, manager)
    await state.admission.run_validating(a, hooks)


async def admit_delete(rt: ResourceType, namespace: str, obj: JSON, opts: JSON, dry_run: bool) -> None:
    """Both plugins for a DELETE (the object is the stored one, given as oldObject)."""
    state = REQUEST_STATE.get()
    if state is None:
        return
    index = state.admission.index
    policies = state.admission.policies
    check_policies = policies.applies(rt)
    if _exempt(rt) or (not index.mutating and not index.validating):
        if not check_policies:
            return
        index = WebhookIndex(index.registry)  # policies only: no webhook for this request
    name = str((obj.get("metadata") or {}).get("name") or "")
    options: JSON = {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"}
    for k in ("gracePeriodSeconds", "preconditions", "propagationPolicy", "orphanDependents"):
        if opts.get(k) is not None:
            options[k] = opts[k]
    if dry_run:
        options["dryRun"] = ["All"]
    a = Attributes("DELETE", rt, "", namespace, name, None, obj, dry_run, options)
    ns = bool(namespace)
    hooks = index.candidates(True, "DELETE", rt, "", ns) if index.mutating else ()
    if hooks:
        await state.admission.run_mutating(a, hooks)
    if check_policies:
        await policies.validate(a, state.warnings)
    hooks = index.candidates(False, "DELETE", rt, "", ns) if index.validating else ()
    if hooks:
        await state.admission.run_validating(a, hooks)


async def admit_connect(rt: ResourceType, subresource: str, namespace: str, name: str, options: JSON) -> JSON:
    """Both plugins and ValidatingAdmissionPolicy for a CONNECT (rest.go ConnectResource: `Admit`,
    then `Validate`, with the options object as the object, no old object and no operation
    options); returns the options, patched by the mutating webhooks if they changed them."""
    state = REQUEST_STATE.get()
    if state is None:
        return options
    index = state.admission.index
    kind = connectoptions.option_kind(rt.kind, subresource)
    a = Attributes("CONNECT", rt, subresource, namespace, name, options, None, False, None, kind)
    ns = bool(namespace)
    hooks = index.candidates(True, "CONNECT", rt, subresource, ns) if index.mutating else ()
    if hooks:
        patched = await state.admission.run_mutating(a, hooks)
        if patched is not None:
            a = _with_obj(a, patched)
    if state.admission.policies.applies(rt):
        await state.admission.policies.validate(a, state.warnings)
    hooks = index.candidates(False, "CONNECT", rt, subresource, ns) if index.validating else ()
    if hooks:
        await state.admission.run_validating(a, hooks)
    return a.obj if a.obj is not None else options


def _attributes(
    rt: ResourceType,
    req_rt: ResourceType,
    operation: str,
    namespace: str,
    obj: JSON,
    old: JSON | None,
    subresource: str,
    dry_run: bool,
    manager: str,
) -> Attributes:
    if req_rt is not rt:
        obj = _convert(obj, rt, req_rt) or obj
        old = _convert(old, rt, req_rt)
    md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    kind = "CreateOptions" if operation == "CREATE" else "UpdateOptions"
    return Attributes(
        operation,
        req_rt,
        subresource,
        namespace,
        str(md.get("name") or ""),
        obj,
        old,
        dry_run,
        _options(kind, dry_run, manager),
    )


def add_warnings(headers: Any) -> None:
    """The webhooks' warnings of the current request as `Warning` headers (kube's `299 - "..."`)."""
    state = REQUEST_STATE.get()
    if state is None or not state.warnings:
        return
    from vcluster.apiserver.fieldvalidation import warning_header

    for w in state.warnings:
        headers.add("Warning", warning_header(w))
    state.warnings.clear()
