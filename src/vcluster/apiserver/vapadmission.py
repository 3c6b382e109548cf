"""The ValidatingAdmissionPolicy admission plugin (k8s.io/apiserver/pkg/admission/plugin/policy/
validating and policy/generic of kube 1.32).

The stored policies and bindings are held in memory, compiled once per policy resourceVersion
(`cel.policy`), kept current by synchronous store watches. `webhookadmission.validate` and
`admit_delete` call :meth:`PolicyAdmission.validate` before the validating webhooks, as kube's
plugin order has ValidatingAdmissionPolicy before ValidatingAdmissionWebhook. For every binding of
an existing policy: the policy's matchConstraints and the binding's matchResources (rules with
resourceNames, excludeResourceRules, matchPolicy Equivalent, namespace and object selectors), the
params (paramRef by name or selector), the matchConditions, then the validations; a failure is
denied (the first one decides the Status), warned about (``Warning`` header) or, for Audit, added to
the request's audit event (audit.py) in the ``validation.policy.admission.k8s.io/validation_failure``
annotation; auditAnnotations become ``POLICY/KEY`` annotations of the event. A request no policy
could match costs one dictionary lookup.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import orjson

from vcluster.apiserver import audit
from vcluster.apiserver.admission import _as_selector
from vcluster.apiserver.admissionrules import NamedRule, equivalent_resources, parse_named_rule
from vcluster.apiserver.cel import lazy_module
from vcluster.apiserver.errors import StatusError, _details, qualified_resource
from vcluster.apiserver.rbac_escalation import REQUEST_AUTH
from vcluster.apiserver.resources import Registry, ResourceType
from vcluster.jsonguards import as_dict as _d
from vcluster.jsonguards import as_list as _l
from vcluster.jsonguards import as_str as _s
from vcluster.store.interface import Storage, WatchStream

celpolicy = lazy_module("vcluster.apiserver.cel.policy")
_matchconditions = lazy_module("vcluster.apiserver.cel.matchconditions")
_authz = lazy_module("vcluster.apiserver.cel.authz")

if TYPE_CHECKING:
    from vcluster.apiserver.webhookadmission import Attributes as Request

log = logging.getLogger("vcluster.apiserver.policies")

GROUP = "admissionregistration.k8s.io"
POLICIES = "validatingadmissionpolicies"
BINDINGS = "validatingadmissionpolicybindings"
# isPolicyResource: the policy kinds themselves are never validated by policies
_POLICY_RESOURCES = frozenset(
    (POLICIES, BINDINGS, "mutatingadmissionpolicies", "mutatingadmissionpolicybindings")
)
_REASON_CODES = {"Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413, "Invalid": 422}
JSON = dict[str, Any]


# ---------------------------------------------------------------------------- matching
@dataclass(frozen=True, slots=True)
class MatchResources:
    rules: tuple[NamedRule, ...]
    excludes: tuple[NamedRule, ...]
    equivalent: bool
    namespace_selector: Any  # admission._Selector; None: everything
    object_selector: Any

    @staticmethod
    def parse(mr: JSON) -> MatchResources:
        def sel(v: Any) -> Any:
            if not isinstance(v, dict) or not (v.get("matchLabels") or v.get("matchExpressions")):
                return None
            return _as_selector(v)

        return MatchResources(
            tuple(parse_named_rule(_d(r)) for r in _l(mr.get("resourceRules"))),
            tuple(parse_named_rule(_d(r)) for r in _l(mr.get("excludeResourceRules"))),
            mr.get("matchPolicy", "Equivalent") == "Equivalent",
            sel(mr.get("namespaceSelector")),
            sel(mr.get("objectSelector")),
        )


@dataclass(slots=True)
class Policy:
    """A stored policy, compiled."""

    name: str
    resource_version: str
    fail_open: bool
    match: MatchResources
    param_kind: tuple[str, str, str] | None  # (group, version, kind)
    program: celpolicy.PolicyProgram


@dataclass(frozen=True, slots=True)
class Binding:
    name: str
    policy: str
    actions: tuple[str, ...]
    param_ref: JSON | None
    match: MatchResources | None


def compile_policy(obj: JSON) -> Policy:
    md, spec = _d(obj.get("metadata")), _d(obj.get("spec"))
    pk = spec.get("paramKind")
    param_kind = None
    if isinstance(pk, dict):
        api_version = _s(pk.get("apiVersion"))
        group, _, version = api_version.rpartition("/")
        param_kind = (group, version, _s(pk.get("kind")))
    return Policy(
        _s(md.get("name")),
        _s(md.get("resourceVersion")),
        spec.get("failurePolicy") == "Ignore",
        MatchResources.parse(_d(spec.get("matchConstraints"))),
        param_kind,
        celpolicy.compile_policy(spec),
    )


def parse_binding(obj: JSON) -> Binding:
    md, spec = _d(obj.get("metadata")), _d(obj.get("spec"))
    mr = spec.get("matchResources")
    pr = spec.get("paramRef")
    return Binding(
        _s(md.get("name")),
        _s(spec.get("policyName")),
        tuple(a for a in _l(spec.get("validationActions")) if isinstance(a, str)),
        pr if isinstance(pr, dict) else None,
        MatchResources.parse(mr) if isinstance(mr, dict) else None,
    )


def _labels(obj: JSON | None) -> dict[str, str]:
    labels = _d(_d(obj).get("metadata")).get("labels") if obj is not None else None
    return labels if isinstance(labels, dict) else {}


# ---------------------------------------------------------------------------- the index
class PolicyIndex:
    """The stored policies and bindings; kept current by synchronous store watches."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._policies: dict[str, Policy] = {}  # policy name -> compiled
        self._bindings: dict[str, Binding] = {}  # store key -> binding
        # (policy, its bindings) for the policies that have bindings, by policy name
        self.hooks: tuple[tuple[Policy, tuple[Binding, ...]], ...] = ()
        self._candidates: dict[tuple[Any, ...], tuple[tuple[Policy, tuple[Binding, ...]], ...]] = {}
        self._watches: list[WatchStream] = []

    def put_policy(self, obj: JSON) -> None:
        name = _s(_d(obj.get("metadata")).get("name"))
        rv = _s(_d(obj.get("metadata")).get("resourceVersion"))
        current = self._policies.get(name)
        if current is not None and current.resource_version == rv and rv:
            return
        self._policies[name] = compile_policy(obj)
        self._rebuild()

    def remove_policy(self, name: str) -> None:
        if self._policies.pop(name, None) is not None:
            self._rebuild()

    def put_binding(self, key: str, obj: JSON) -> None:
        self._bindings[key] = parse_binding(obj)
        self._rebuild()

    def remove_binding(self, key: str) -> None:
        if self._bindings.pop(key, None) is not None:
            self._rebuild()

    def _rebuild(self) -> None:
        by_policy: dict[str, list[Binding]] = {}
        for b in self._bindings.values():
            if b.policy in self._policies:
                by_policy.setdefault(b.policy, []).append(b)
        self.hooks = tuple(
            (self._policies[p], tuple(sorted(bs, key=lambda b: b.name)))
            for p, bs in sorted(by_policy.items())
        )
        self._candidates = {}

    def candidates(
        self, op: str, rt: ResourceType, sub: str, namespaced: bool
    ) -> tuple[tuple[Policy, tuple[Binding, ...]], ...]:
        """The hooks whose matchConstraints rules may match (resourceNames aside), cached."""
        key = (op, rt.group, rt.version, rt.plural, sub, namespaced)
        found = self._candidates.get(key)
        if found is None:
            eq: list[ResourceType] | None = None
            out = []
            for policy, bindings in self.hooks:
                rules = policy.match.rules
                if any(r.matches(op, rt, sub, namespaced) for r in rules):
                    out.append((policy, bindings))
                elif policy.match.equivalent:
                    eq = equivalent_resources(self.registry, rt, sub) if eq is None else eq
                    if any(r.matches(op, t, sub, namespaced) for r in rules for t in eq):
                        out.append((policy, bindings))
            found = self._candidates[key] = tuple(out)
        return found

    async def start(self, store: Storage) -> None:
        for plural, apply in ((POLICIES, self._apply_policy), (BINDINGS, self._apply_binding)):
            rt = self.registry.get(GROUP, "v1", plural)
            assert rt is not None
            res = await store.list(rt.key_prefix)
            for e in res.entries:
                apply(_Loaded(e.key, e.decode()))
            w = await store.watch(rt.key_prefix, res.revision)
            if not w.set_sink(apply):  # pragma: no cover
                raise RuntimeError("the policy index needs a store whose watches deliver synchronously")
            self._watches.append(w)

    def _apply_policy(self, ev: Any) -> bool:
        if ev.type == "DELETED":
            self.remove_policy(ev.key.rsplit("/", 1)[-1])
        else:
            self.put_policy(ev.obj if isinstance(ev, _Loaded) else orjson.loads(ev.entry.raw))
        return True

    def _apply_binding(self, ev: Any) -> bool:
        if ev.type == "DELETED":
            self.remove_binding(ev.key)
        else:
            self.put_binding(ev.key, ev.obj if isinstance(ev, _Loaded) else orjson.loads(ev.entry.raw))
        return True

    def stop(self) -> None:
        for w in self._watches:
            w.close()
        self._watches.clear()


@dataclass(frozen=True, slots=True)
class _Loaded:
    """An object read at start, shaped as the watch events the index applies."""

    key: str
    obj: JSON
    type: str = "ADDED"


# ---------------------------------------------------------------------------- the plugin
@dataclass(slots=True)
class _Denial:
    policy: str
    binding: str
    message: str
    reason: str


class _ConfigError(Exception):
    pass


class PolicyAdmission:
    """The ValidatingAdmissionPolicy plugin of one API server."""

    def __init__(self, store: Storage, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self.index = PolicyIndex(registry)

    async def start(self) -> None:
        await self.index.start(self.store)

    def stop(self) -> None:
        self.index.stop()

    def applies(self, rt: ResourceType) -> bool:
        return bool(self.index.hooks) and not (rt.group == GROUP and rt.plural in _POLICY_RESOURCES)

    async def validate(self, a: Request, warnings: list[str]) -> None:
        """Dispatch: raises the first denial; warnings are appended to `warnings`."""
        hooks = self.index.candidates(a.operation, a.rt, a.subresource, bool(a.namespace))
        if not hooks:
            return
        ctx = _RequestContext(self, a)
        denials: list[_Denial] = []
        for policy, bindings in hooks:
            target = await ctx.definition_matches(policy.match)
            if target is None:
                continue
            for binding in bindings:
                if binding.match is not None and await ctx.binding_target(binding.match) is None:
                    continue
                await self._run_binding(ctx, policy, binding, target, denials, warnings)
        if denials:
            raise _denied(a, denials[0])

    async def _run_binding(
        self,
        ctx: _RequestContext,
        policy: Policy,
        binding: Binding,
        target: ResourceType,
        denials: list[_Denial],
        warnings: list[str],
    ) -> None:
        try:
            params = await self._params(policy, binding, ctx.a.namespace)
        except _ConfigError as e:
            if not policy.fail_open:
                denials.append(_Denial(policy.name, binding.name, f"failed to configure binding: {e}", ""))
            return
        namespace = await ctx.namespace_object()
        for param in params:
            data = ctx.data(target, param, namespace, policy.param_kind is not None)
            act = celpolicy.Activation(policy.program, data)
            if policy.program.match_conditions:
                matches, err = celpolicy.match_conditions(act, policy.fail_open)
                if err:
                    self._decide(policy, binding, celpolicy.Decision(err, "", True, -1), denials, warnings)
                    continue
                if not matches:
                    continue
            for decision in celpolicy.validate(act):
                self._decide(policy, binding, decision, denials, warnings)
            values, errors = celpolicy.audit_annotations(act)
            for key, value in values.items():
                audit.add_annotation(f"{policy.name}/{key}", value)
            if errors and not policy.fail_open:
                denials.extend(_Denial(policy.name, binding.name, e, "") for e in errors)

    def _decide(
        self,
        policy: Policy,
        binding: Binding,
        d: celpolicy.Decision,
        denials: list[_Denial],
        warnings: list[str],
    ) -> None:
        """A failed validation, or an evaluation error under failurePolicy Fail, through the
        binding's validationActions."""
        if d.error and policy.fail_open:
            return
        for action in binding.actions:
            if action == "Deny":
                denials.append(_Denial(policy.name, binding.name, d.message, d.reason))
            elif action == "Warn":
                warnings.append(
                    f"Validation failed for ValidatingAdmissionPolicy '{policy.name}' with binding "
                    f"'{binding.name}': {d.message}"
                )
            elif action == "Audit":
                value = {
                    "message": d.message,
                    "policy": policy.name,
                    "binding": binding.name,
                    "expressionIndex": max(d.index, 0),
                    "validationActions": list(binding.actions),
                }
                audit.add_validation_failure(value)

    async def _params(self, policy: Policy, binding: Binding, namespace: str) -> list[JSON | None]:
        """CollectParams: [None] without a paramKind or paramRef, else the objects referenced."""
        pr = binding.param_ref
        if policy.param_kind is None or pr is None:
            return [None]
        group, version, kind = policy.param_kind
        rt = self.registry.by_kind(group, version, kind)
        if rt is None:
            api_version = f"{group}/{version}" if group else version
            raise _ConfigError(
                f"paramKind kind `&ParamKind{{APIVersion:{api_version},Kind:{kind},}}` not known"
            )
        ns = ""
        if rt.namespaced:
            ns = _s(pr.get("namespace")) or namespace
            if not ns:
                raise _ConfigError(
                    "cannot use namespaced paramRef in policy binding that matches cluster-scoped resources"
                )
        elif _s(pr.get("namespace")):
            raise _ConfigError("paramRef.namespace must not be provided for a cluster-scoped `paramKind`")
        from vcluster.apiserver.rest import collection_prefix, object_key

        params: list[JSON | None] = []
        name = _s(pr.get("name"))
        if name:
            e = await self.store.get(object_key(rt, ns, name))
            if e is not None:
                params.append(_with_type(e.decode(), rt))
        elif isinstance(pr.get("selector"), dict):
            sel = _as_selector(pr["selector"])
            if sel is None:
                raise _ConfigError("invalid paramRef selector")
            res = await self.store.list(collection_prefix(rt, ns))
            for e in res.entries:
                obj = e.decode()
                if sel.matches(_labels(obj)):
                    params.append(_with_type(obj, rt))
        if not params and pr.get("parameterNotFoundAction") == "Deny":
            raise _ConfigError("no params found for policy binding with `Deny` parameterNotFoundAction")
        return params


def _with_type(obj: JSON, rt: ResourceType) -> JSON:
    obj.setdefault("apiVersion", rt.api_version)
    obj.setdefault("kind", rt.kind)
    return obj


def _namespace_object(ns: JSON) -> JSON:
    """CreateNamespaceObject: the Namespace fields policies may read."""
    md = _d(ns.get("metadata"))
    keep = (
        "name",
        "generateName",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "finalizers",
    )
    meta = {k: md[k] for k in keep if k in md}
    return {"metadata": meta, "spec": _d(ns.get("spec")), "status": _d(ns.get("status"))}


class _RequestContext:
    """What one request's policy checks share: the namespace, the converted objects."""

    def __init__(self, plugin: PolicyAdmission, a: Request) -> None:
        self.plugin = plugin
        self.a = a
        self._ns: list[JSON | None] = []
        self._request: dict[tuple[str, str], JSON] = {}
        self._authz: JSON | None = None

    async def _namespace(self) -> JSON | None:
        if not self._ns:
            a = self.a
            ns_name = a.namespace
            if a.rt.group == "" and a.rt.plural == "namespaces":
                ns_name = ""
            obj = None
            if ns_name:
                e = await self.plugin.store.get(f"/registry/namespaces/{ns_name}")
                if e is None:
                    from vcluster.apiserver.errors import not_found

                    raise not_found("namespaces", "", ns_name)
                obj = e.decode()
            self._ns.append(obj)
        return self._ns[0]

    async def namespace_object(self) -> JSON | None:
        ns = await self._namespace()
        return _namespace_object(ns) if ns is not None else None

    async def _namespace_labels(self) -> dict[str, str] | None:
        """None for cluster-scoped objects (always matched); a Namespace's own labels."""
        a = self.a
        if a.rt.group == "" and a.rt.plural == "namespaces":
            if a.operation in ("CREATE", "UPDATE") and not a.subresource and a.obj is not None:
                return _labels(a.obj)
            e = await self.plugin.store.get(f"/registry/namespaces/{a.name}")
            return (e.labels or {}) if e is not None else {}
        if not a.namespace:
            return None
        return _labels(await self._namespace())

    async def _selects(self, m: MatchResources) -> bool:
        if m.namespace_selector is not None:
            labels = await self._namespace_labels()
            if labels is not None and not m.namespace_selector.matches(labels):
                return False
        sel = m.object_selector
        a = self.a
        # an object without metadata (CONNECT's options) never matches an objectSelector
        return sel is None or (
            (isinstance(_d(a.obj).get("metadata"), dict) and sel.matches(_labels(a.obj)))
            or (isinstance(_d(a.old).get("metadata"), dict) and sel.matches(_labels(a.old)))
        )

    def _rules_target(self, m: MatchResources, must_have_rules: bool) -> ResourceType | None:
        """matchesResourceRules: excludes first, then the rules (empty rules match everything for
        a binding), exact version first, then an equivalent one."""
        a = self.a
        if self._rule_target(m.excludes, m.equivalent) is not None:
            return None
        if not m.rules and not must_have_rules:
            return a.rt
        return self._rule_target(m.rules, m.equivalent)

    def _rule_target(self, rules: tuple[NamedRule, ...], equivalent: bool) -> ResourceType | None:
        a = self.a
        ns = bool(a.namespace)

        def hit(r: NamedRule, rt: ResourceType) -> bool:
            return r.matches(a.operation, rt, a.subresource, ns) and (not r.names or a.name in r.names)

        if any(hit(r, a.rt) for r in rules):
            return a.rt
        if equivalent:
            for t in equivalent_resources(self.plugin.index.registry, a.rt, a.subresource):
                if any(hit(r, t) for r in rules):
                    return t
        return None

    async def definition_matches(self, m: MatchResources) -> ResourceType | None:
        """The resource the policy matched the request as, or None."""
        if not await self._selects(m):
            return None
        return self._rules_target(m, True)

    async def binding_target(self, m: MatchResources) -> ResourceType | None:
        if not await self._selects(m):
            return None
        return self._rules_target(m, False)

    def data(self, target: ResourceType, param: JSON | None, namespace: JSON | None, params: bool) -> JSON:
        """The CEL activation of one evaluation."""
        from vcluster.apiserver.webhookadmission import _convert, _request

        a = self.a
        key = (target.group, target.version)
        request = self._request.get(key)
        if request is None:
            attrs = replace(a, obj=None, old=None)
            req = _request("", target, attrs, None, None)
            request = self._request[key] = _matchconditions.request_value(req)
        data: JSON = {
            "object": _convert(a.obj, a.rt, target),
            "oldObject": _convert(a.old, a.rt, target),
            "request": request,
            "namespaceObject": namespace,
        }
        if params:
            data["params"] = param
        data.update(self._authorizer())
        return data

    def _authorizer(self) -> JSON:
        """The request's ``authorizer`` variables (made once per request)."""
        if self._authz is None:
            self._authz = authorizer_variables(self.a)
        return self._authz


def authorizer_variables(a: Request) -> JSON:
    """``authorizer`` and ``authorizer.requestResource`` for the user of the request being served
    (a write without one acts as kube's loopback client, a member of system:masters)."""
    auth = REQUEST_AUTH.get()
    resource = (a.rt.group, a.rt.plural, a.subresource, a.namespace, a.name)
    if auth is None:
        return _authz.variables(None, None, resource)
    return _authz.variables(auth.user, auth.authorizer, resource)


def _denied(a: Request, d: _Denial) -> StatusError:
    """The dispatcher's answer: NewForbidden with the decision's reason and its code."""
    message = f"ValidatingAdmissionPolicy '{d.policy}' with binding '{d.binding}' denied request: {d.message}"
    reason = d.reason or "Invalid"
    what = qualified_resource(a.rt.plural, a.rt.group)
    text = f'{what} "{a.name}" is forbidden: {message}' if a.name else f"{what} is forbidden: {message}"
    details = {**_details(a.name, a.rt.group, a.rt.plural), "causes": [{"message": message}]}
    return StatusError(_REASON_CODES.get(reason, 422), reason, text, details)
