"""The rules of admission registration objects (a webhook's RuleWithOperations, a policy's
NamedRuleWithOperations) and their match against a request, as k8s.io/apiserver's rules.Matcher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vcluster.apiserver.resources import Registry, ResourceType


def _strings(v: Any) -> frozenset[str] | None:
    """A rule's list of names; None stands for `*`."""
    items = [x for x in v if isinstance(x, str)] if isinstance(v, list) else []
    return None if "*" in items else frozenset(items)


@dataclass(frozen=True, slots=True)
class Rule:
    """A RuleWithOperations; None stands for `*`."""

    operations: frozenset[str] | None
    groups: frozenset[str] | None
    versions: frozenset[str] | None
    resources: tuple[tuple[str, str], ...]
    scope: str

    def matches(self, op: str, rt: ResourceType, sub: str, namespaced: bool) -> bool:
        """rules.Matcher.Matches: scope, operation, group, version, resource/subresource
        (a NamedRule's resourceNames are checked by its caller)."""
        is_ns = rt.group == "" and rt.plural == "namespaces"
        if self.scope == "Namespaced" and (is_ns or not namespaced):
            return False
        if self.scope == "Cluster" and not (is_ns or not namespaced):
            return False
        if self.operations is not None and op not in self.operations:
            return False
        if self.groups is not None and rt.group not in self.groups:
            return False
        if self.versions is not None and rt.version not in self.versions:
            return False
        return any(r in ("*", rt.plural) and s in ("*", sub) for r, s in self.resources)


@dataclass(frozen=True, slots=True)
class NamedRule(Rule):
    """A NamedRuleWithOperations: a Rule limited to `names` (empty: every name)."""

    names: frozenset[str] = frozenset()


def equivalent_resources(registry: Registry, rt: ResourceType, sub: str) -> list[ResourceType]:
    """EquivalentResourcesFor (matchPolicy Equivalent): the other served versions and groups of the
    same stored resource, with the subresource when one is asked for."""
    return [
        t
        for t in registry.all()
        if t.key_prefix == rt.key_prefix
        and t.plural == rt.plural
        and (t.group, t.version) != (rt.group, rt.version)
        and (not sub or t.subresource(sub) is not None)
    ]


def _fields(r: dict[str, Any]) -> dict[str, Any]:
    resources = []
    for res in r.get("resources") or []:
        if isinstance(res, str):
            name, _, sub = res.partition("/")
            resources.append((name, sub))
    scope = r.get("scope")
    return {
        "operations": _strings(r.get("operations")),
        "groups": _strings(r.get("apiGroups")),
        "versions": _strings(r.get("apiVersions")),
        "resources": tuple(resources),
        "scope": scope if isinstance(scope, str) and scope else "*",
    }


def parse_rule(r: dict[str, Any]) -> Rule:
    return Rule(**_fields(r))


def parse_named_rule(r: dict[str, Any]) -> NamedRule:
    names = r.get("resourceNames")
    return NamedRule(
        **_fields(r),
        names=frozenset(x for x in names if isinstance(x, str)) if isinstance(names, list) else frozenset(),
    )
