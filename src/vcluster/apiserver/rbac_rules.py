"""rbac/v1 PolicyRules and how they match and cover each other, as kube's
pkg/apis/rbac/v1/evaluation_helpers.go, component-helpers/auth/rbac/validation/policy_comparator.go and
pkg/registry/rbac/validation/policy_compact.go do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vcluster.apiserver.gostr import go_quote

VERB_ALL = "*"
API_GROUP_ALL = "*"
RESOURCE_ALL = "*"
NON_RESOURCE_ALL = "*"


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """An rbac/v1 PolicyRule (the lists in the order the object gives them)."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: Any) -> PolicyRule:
        """A rule from its JSON form (anything malformed reads as empty lists)."""
        d = d if isinstance(d, dict) else {}
        return cls(
            verbs=_strs(d.get("verbs")),
            api_groups=_strs(d.get("apiGroups")),
            resources=_strs(d.get("resources")),
            resource_names=_strs(d.get("resourceNames")),
            non_resource_urls=_strs(d.get("nonResourceURLs")),
        )

    def to_json(self) -> dict[str, Any]:
        """The rbac/v1 JSON form (empty lists omitted, as Go's omitempty)."""
        out: dict[str, Any] = {"verbs": list(self.verbs)}
        if self.api_groups:
            out["apiGroups"] = list(self.api_groups)
        if self.resources:
            out["resources"] = list(self.resources)
        if self.resource_names:
            out["resourceNames"] = list(self.resource_names)
        if self.non_resource_urls:
            out["nonResourceURLs"] = list(self.non_resource_urls)
        return out


STAR_RESOURCE_RULE = PolicyRule(verbs=(VERB_ALL,), api_groups=(API_GROUP_ALL,), resources=(RESOURCE_ALL,))
STAR_URL_RULE = PolicyRule(verbs=(VERB_ALL,), non_resource_urls=(NON_RESOURCE_ALL,))
STAR_RULES = (STAR_RESOURCE_RULE, STAR_URL_RULE)  # cluster-admin's, escalation's "fullAuthority"


def _strs(v: Any) -> tuple[str, ...]:
    return tuple(x for x in v if isinstance(x, str)) if isinstance(v, list) else ()


def rules_of(obj: dict[str, Any]) -> tuple[PolicyRule, ...]:
    """The rules of a Role or ClusterRole object."""
    rules = obj.get("rules")
    return tuple(PolicyRule.from_json(r) for r in rules) if isinstance(rules, list) else ()


# ------------------------------------------------------------------------------------------- matching
def _has(items: tuple[str, ...], value: str, star: str) -> bool:
    return star in items or value in items


def resource_matches(rule: PolicyRule, combined: str, subresource: str) -> bool:
    """ResourceMatches: ``*``, the exact ``resource[/subresource]``, or ``*/subresource``."""
    for r in rule.resources:
        if r in (RESOURCE_ALL, combined):
            return True
        if subresource and len(r) == len(subresource) + 2 and r.startswith("*/") and r.endswith(subresource):
            return True
    return False


def non_resource_url_matches(rule: PolicyRule, path: str) -> bool:
    """NonResourceURLMatches: ``*``, the exact path, or a prefix ending in ``*``."""
    for u in rule.non_resource_urls:
        if u in (NON_RESOURCE_ALL, path):
            return True
        if u.endswith("*") and path.startswith(u.rstrip("*")):
            return True
    return False


def rule_allows(
    rule: PolicyRule,
    *,
    verb: str,
    resource_request: bool,
    group: str = "",
    resource: str = "",
    subresource: str = "",
    name: str = "",
    path: str = "",
) -> bool:
    """RuleAllows for one request's attributes."""
    if not _has(rule.verbs, verb, VERB_ALL):
        return False
    if not resource_request:
        return non_resource_url_matches(rule, path)
    combined = f"{resource}/{subresource}" if subresource else resource
    return (
        _has(rule.api_groups, group, API_GROUP_ALL)
        and resource_matches(rule, combined, subresource)
        and (not rule.resource_names or name in rule.resource_names)
    )


# ------------------------------------------------------------------------------------------- covering
def breakdown_rule(rule: PolicyRule) -> list[PolicyRule]:
    """BreakdownRule: one rule per (group, resource, verb[, name]) and per (url, verb)."""
    out: list[PolicyRule] = []
    for g in rule.api_groups:
        for r in rule.resources:
            for v in rule.verbs:
                if rule.resource_names:
                    out.extend(PolicyRule((v,), (g,), (r,), (n,)) for n in rule.resource_names)
                else:
                    out.append(PolicyRule((v,), (g,), (r,)))
    for u in rule.non_resource_urls:
        out.extend(PolicyRule((v,), non_resource_urls=(u,)) for v in rule.verbs)
    return out


def _has_all(owned: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    return set(wanted) <= set(owned)


def _resources_cover_all(owned: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    if RESOURCE_ALL in owned or _has_all(owned, wanted):
        return True
    for path in wanted:
        if path in owned:
            continue
        if "/" not in path:
            return False
        if "*/" + path.split("/", 1)[1] not in owned:
            return False
    return True


def _url_covers(owner: str, sub: str) -> bool:
    return owner == sub or (owner.endswith("*") and sub.startswith(owner.rstrip("*")))


def rule_covers(owner: PolicyRule, sub: PolicyRule) -> bool:
    """ruleCovers: does ``owner`` grant everything the broken-down ``sub`` grants?"""
    if not (VERB_ALL in owner.verbs or _has_all(owner.verbs, sub.verbs)):
        return False
    if not (API_GROUP_ALL in owner.api_groups or _has_all(owner.api_groups, sub.api_groups)):
        return False
    if not _resources_cover_all(owner.resources, sub.resources):
        return False
    if not all(any(_url_covers(o, p) for o in owner.non_resource_urls) for p in sub.non_resource_urls):
        return False
    if not sub.resource_names:
        return not owner.resource_names
    return not owner.resource_names or _has_all(owner.resource_names, sub.resource_names)


def covers(owner_rules: list[PolicyRule], servant_rules: tuple[PolicyRule, ...]) -> list[PolicyRule]:
    """Covers: the broken-down servant rules no owner rule covers (empty: all covered)."""
    missing = []
    for sub in (s for r in servant_rules for s in breakdown_rule(r)):
        if not any(rule_covers(o, sub) for o in owner_rules):
            missing.append(sub)
    return missing


def compact_rules(rules: list[PolicyRule]) -> list[PolicyRule]:
    """CompactRules: rules with one group, one resource and at most one name merge their verbs."""
    compacted: list[PolicyRule] = []
    simple: dict[tuple[str, str, bool, str], list[str]] = {}
    for r in rules:
        if (
            len(r.resource_names) > 1
            or r.non_resource_urls
            or len(r.api_groups) != 1
            or len(r.resources) != 1
        ):
            compacted.append(r)
            continue
        key = (r.api_groups[0], r.resources[0], bool(r.resource_names), "".join(r.resource_names))
        verbs = simple.setdefault(key, [])
        verbs.extend(v for v in r.verbs if v not in verbs)
    for (g, res, has_name, name), verbs in simple.items():
        compacted.append(PolicyRule(tuple(verbs), (g,), (res,), (name,) if has_name else ()))
    return compacted


def _go_q_list(items: tuple[str, ...]) -> str:
    return "[" + " ".join(go_quote(x) for x in items) + "]"


def compact_string(r: PolicyRule) -> str:
    """rbacv1helpers.CompactString: ``{APIGroups:[""], Resources:["pods"], Verbs:["get"]}``."""
    parts = []
    for label, items in (
        ("APIGroups", r.api_groups),
        ("Resources", r.resources),
        ("NonResourceURLs", r.non_resource_urls),
        ("ResourceNames", r.resource_names),
        ("Verbs", r.verbs),
    ):
        if items:
            parts.append(f"{label}:{_go_q_list(items)}")
    return "{" + ", ".join(parts) + "}"
