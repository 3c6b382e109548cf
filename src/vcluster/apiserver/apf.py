"""API Priority and Fairness without the queues: the stored FlowSchemas and
PriorityLevelConfigurations, followed by synchronous store watches, and the classification of every
request as kube-apiserver 1.32's filter does it (staging/src/k8s.io/apiserver/pkg/util/flowcontrol:
apf_controller.go's digest of the configuration, rule.go's matching). The answer carries the
`X-Kubernetes-PF-FlowSchema-UID` and `X-Kubernetes-PF-PriorityLevel-UID` headers of the match;
requests are not queued, limited or rejected.

Schemas are tried in matching-precedence order (then name); one naming a priority level that does
not exist is skipped, and missing mandatory `exempt` / `catch-all` schemas and levels are supplied
from the bootstrap configuration (they have no UID). A classification is cached per user, groups,
verb and target until the configuration changes, so a request pays one dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson

from vcluster.apiserver.auth import UserInfo
from vcluster.apiserver.flowcontrolbootstrap import (
    CATCH_ALL,
    EXEMPT,
    MANDATORY_FS_BY_NAME,
    MANDATORY_PL_BY_NAME,
)
from vcluster.apiserver.request import RequestInfo
from vcluster.jsonguards import as_dict as _d
from vcluster.jsonguards import as_list as _l

JSON = dict[str, Any]

FLOW_SCHEMA_HEADER = "X-Kubernetes-PF-FlowSchema-UID"
PRIORITY_LEVEL_HEADER = "X-Kubernetes-PF-PriorityLevel-UID"
SA_PREFIX = "system:serviceaccount:"
# BasicLongRunningRequestCheck(watch/proxy verbs; attach, exec, proxy, log, portforward): not
# classified, except watches, which APF handles.
_LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
_CACHE_MAX = 8192

Headers = tuple[tuple[str, str], tuple[str, str]]


def _strs(v: Any) -> tuple[str, ...]:
    return tuple(x for x in _l(v) if isinstance(x, str))


@dataclass(frozen=True, slots=True)
class _Subject:
    kind: str
    name: str
    namespace: str = ""

    def matches(self, user: UserInfo) -> bool:
        """matchesSubject."""
        if self.kind == "User":
            return self.name in ("*", user.username)
        if self.kind == "Group":
            return self.name == "*" or self.name in user.groups
        if self.kind == "ServiceAccount":
            prefix = f"{SA_PREFIX}{self.namespace}:"
            if self.name == "*":
                return user.username.startswith(prefix)
            return user.username == prefix + self.name
        return False


@dataclass(frozen=True, slots=True)
class _ResourceRule:
    verbs: tuple[str, ...]
    groups: tuple[str, ...]
    resources: tuple[str, ...]
    cluster_scope: bool
    namespaces: tuple[str, ...]

    def matches(self, verb: str, group: str, resource: str, namespace: str) -> bool:
        """matchesResourcePolicyRule."""
        if not _has(self.verbs, verb) or not _has(self.resources, resource) or not _has(self.groups, group):
            return False
        return self.cluster_scope if not namespace else _has(self.namespaces, namespace)


@dataclass(frozen=True, slots=True)
class _NonResourceRule:
    verbs: tuple[str, ...]
    urls: tuple[str, ...]

    def matches(self, verb: str, path: str) -> bool:
        """matchesNonResourcePolicyRule: `*`, the exact path, or a `/prefix/*` wildcard."""
        if not _has(self.verbs, verb):
            return False
        return any(
            url in ("*", path) or (url.endswith("*") and path.startswith(url[:-1])) for url in self.urls
        )


def _has(values: tuple[str, ...], value: str) -> bool:
    return value in values or "*" in values


@dataclass(frozen=True, slots=True)
class _Rule:
    subjects: tuple[_Subject, ...]
    resource_rules: tuple[_ResourceRule, ...]
    non_resource_rules: tuple[_NonResourceRule, ...]


@dataclass(frozen=True, slots=True)
class _Schema:
    name: str
    precedence: int
    uid: str
    level: str
    rules: tuple[_Rule, ...]


def _compile_subject(s: JSON) -> _Subject:
    kind = s.get("kind") if isinstance(s.get("kind"), str) else ""
    key = {"User": "user", "Group": "group", "ServiceAccount": "serviceAccount"}.get(kind, "")
    body = _d(s.get(key))
    name = body.get("name") if isinstance(body.get("name"), str) else ""
    ns = body.get("namespace") if isinstance(body.get("namespace"), str) else ""
    # a subject without its body matches nothing
    return _Subject(kind if key in s and isinstance(s.get(key), dict) else "", name, ns)


def _compile_schema(obj: JSON) -> _Schema:
    meta, spec = _d(obj.get("metadata")), _d(obj.get("spec"))
    rules = []
    for r in map(_d, _l(spec.get("rules"))):
        rrules = tuple(
            _ResourceRule(
                _strs(x.get("verbs")),
                _strs(x.get("apiGroups")),
                _strs(x.get("resources")),
                x.get("clusterScope") is True,
                _strs(x.get("namespaces")),
            )
            for x in map(_d, _l(r.get("resourceRules")))
        )
        nrules = tuple(
            _NonResourceRule(_strs(x.get("verbs")), _strs(x.get("nonResourceURLs")))
            for x in map(_d, _l(r.get("nonResourceRules")))
        )
        rules.append(_Rule(tuple(_compile_subject(_d(s)) for s in _l(r.get("subjects"))), rrules, nrules))
    prec = spec.get("matchingPrecedence")
    return _Schema(
        str(meta.get("name") or ""),
        prec if isinstance(prec, int) else 0,
        str(meta.get("uid") or ""),
        str(_d(spec.get("priorityLevelConfiguration")).get("name") or ""),
        tuple(rules),
    )


class FlowControl:
    """The APF configuration in memory and the request classifier."""

    def __init__(self) -> None:
        self.schemas: dict[str, JSON] = {}  # name -> stored FlowSchema
        self.levels: dict[str, JSON] = {}  # name -> stored PriorityLevelConfiguration
        self.generation = 0
        self.on_change: list[Callable[[], None]] = []
        self._ordered: list[_Schema] | None = None
        self._level_uids: dict[str, str] = {}
        self._cache: dict[tuple[Any, ...], Headers | None] = {}
        self._watches: list[Any] = []

    # ------------------------------------------------------------------ store
    async def start(self, store: Any, schema_prefix: str, level_prefix: str) -> None:
        """Load both kinds and follow them (watch events applied as commits are published)."""
        for prefix, into in ((schema_prefix, self.schemas), (level_prefix, self.levels)):
            res = await store.list(prefix)
            for e in res.entries:
                obj = e.decode()
                into[str(_d(obj.get("metadata")).get("name") or "")] = obj
            w = await store.watch(prefix, res.revision)
            if not w.set_sink(lambda ev, into=into: self._apply(into, ev)):  # pragma: no cover
                raise RuntimeError("flow control needs a store whose watches deliver synchronously")
            self._watches.append(w)
        self._changed()

    def stop(self) -> None:
        for w in self._watches:
            w.close()
        self._watches.clear()

    def _apply(self, into: dict[str, JSON], ev: Any) -> bool:
        name = ev.key.rsplit("/", 1)[-1]
        if ev.type == "DELETED":
            into.pop(name, None)
        else:
            into[name] = orjson.loads(ev.entry.raw)
        self._changed()
        return True

    def _changed(self) -> None:
        self.generation += 1
        self._ordered = None
        self._cache.clear()
        for fn in self.on_change:
            fn()

    # ------------------------------------------------------------------ configuration digest
    def dangling(self, schema: JSON) -> bool:
        """Whether a FlowSchema names a priority level that does not exist."""
        level = str(_d(_d(schema.get("spec")).get("priorityLevelConfiguration")).get("name") or "")
        return level not in self.levels

    def _digest(self) -> list[_Schema]:
        """digestFlowSchemasLocked: schemas with a priority level, sorted, mandatory ones supplied."""
        self._level_uids = {n: str(_d(o.get("metadata")).get("uid") or "") for n, o in self.levels.items()}
        for name in MANDATORY_PL_BY_NAME:
            self._level_uids.setdefault(name, "")
        good = [_compile_schema(o) for o in self.schemas.values() if not self.dangling(o)]
        good.sort(key=lambda s: (s.precedence, s.name))
        names = {s.name for s in good}
        if EXEMPT not in names:
            good.insert(0, _compile_schema(MANDATORY_FS_BY_NAME[EXEMPT]))
        if CATCH_ALL not in names:
            good.append(_compile_schema(MANDATORY_FS_BY_NAME[CATCH_ALL]))
        return good

    # ------------------------------------------------------------------ classification
    def classify(self, user: UserInfo, info: RequestInfo | None, path: str, method: str) -> Headers | None:
        """The response headers of the schema and level a request falls in; None for the
        long-running requests the filter leaves alone."""
        if info is not None:
            if info.subresource in _LONG_RUNNING_SUBRESOURCES or info.verb == "proxy":
                return None
            key: tuple[Any, ...] = (
                user.username,
                user.groups,
                info.verb,
                info.group,
                info.resource,
                info.subresource,
                info.namespace,
            )
        else:
            key = (user.username, user.groups, method, path)
        try:
            return self._cache[key]
        except KeyError:
            pass
        found = self._match(user, info, path, method.lower())
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[key] = found
        return found

    def _match(self, user: UserInfo, info: RequestInfo | None, path: str, verb: str) -> Headers | None:
        if self._ordered is None:
            self._ordered = self._digest()
        if info is not None:
            resource = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
        for schema in self._ordered:
            for rule in schema.rules:
                if not any(s.matches(user) for s in rule.subjects):
                    continue
                if info is not None:
                    hit = any(
                        r.matches(info.verb, info.group, resource, info.namespace)
                        for r in rule.resource_rules
                    )
                else:
                    hit = any(r.matches(verb, path) for r in rule.non_resource_rules)
                if hit:
                    level_uid = self._level_uids.get(schema.level, "")
                    return ((FLOW_SCHEMA_HEADER, schema.uid), (PRIORITY_LEVEL_HEADER, level_uid))
        return None


# The classification of the request being served (set by the server's dispatch after impersonation).
REQUEST_CLASS: ContextVar[Headers | None] = ContextVar("apf_request_class", default=None)


def add_headers(resp: Any) -> None:
    """Put the request's classification headers on an answer not yet sent."""
    found = REQUEST_CLASS.get()
    if found is not None and not resp.prepared:
        for k, v in found:
            resp.headers[k] = v


async def on_response_prepare(request: Any, resp: Any) -> None:
    """aiohttp's on_response_prepare signal: streamed answers (watches) get the headers too."""
    found = REQUEST_CLASS.get()
    if found is not None:
        for k, v in found:
            resp.headers[k] = v
