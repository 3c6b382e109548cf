"""Authorization as kube-apiserver with ``--authorization-mode=RBAC`` (or ``AlwaysAllow``): members of
``system:masters`` first (the privileged-group authorizer), then the RBAC rules
(plugin/pkg/auth/authorizer/rbac/rbac.go): ClusterRoleBindings, then the RoleBindings of the request's
namespace, each binding's roleRef resolved to its rules.

The rules a user holds in a namespace are resolved once per (user, groups, namespace) and cached
until an RBAC object changes, so a check is a dictionary lookup and a scan of that user's rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from vcluster.apiserver.auth import SYSTEM_MASTERS, UserInfo
from vcluster.apiserver.gostr import go_quote
from vcluster.apiserver.rbac_index import Binding, RBACIndex, Subject
from vcluster.apiserver.rbac_rules import STAR_RESOURCE_RULE, STAR_URL_RULE, PolicyRule, rule_allows
from vcluster.apiserver.satoken import SA_USER_PREFIX

MODE_RBAC = "RBAC"
MODE_ALWAYS_ALLOW = "AlwaysAllow"
MODES = (MODE_RBAC, MODE_ALWAYS_ALLOW)
_CACHE_MAX = 8192


@dataclass(frozen=True, slots=True)
class Attributes:
    """authorizer.Attributes of one check."""

    verb: str
    resource_request: bool
    namespace: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""
    denied: bool = False
    evaluation_error: str = ""


@dataclass(frozen=True, slots=True)
class RulesResult:
    """What RulesFor enumerates for a user in a namespace (SelfSubjectRulesReview)."""

    resource_rules: list[PolicyRule]
    non_resource_rules: list[PolicyRule]
    incomplete: bool = False
    evaluation_error: str = ""


class Authorizer(Protocol):
    def authorize(self, user: UserInfo, a: Attributes) -> Decision: ...

    def rules_for(self, user: UserInfo, namespace: str) -> RulesResult: ...


class AlwaysAllowAuthorizer:
    """``--authorization-mode=AlwaysAllow``: every request is allowed."""

    def authorize(self, user: UserInfo, a: Attributes) -> Decision:
        return Decision(True)

    def rules_for(self, user: UserInfo, namespace: str) -> RulesResult:
        return RulesResult([STAR_RESOURCE_RULE], [STAR_URL_RULE])


# ------------------------------------------------------------------------------------------ RBAC
def _describe_subject(s: Subject, binding_namespace: str) -> str:
    if s.kind == "ServiceAccount":
        return f"{s.kind} {go_quote(s.name + '/' + (s.namespace or binding_namespace))}"
    return f"{s.kind} {go_quote(s.name)}"


def describe_binding(b: Binding, s: Subject) -> str:
    """clusterRoleBindingDescriber / roleBindingDescriber."""
    if b.namespace:
        return (
            f"RoleBinding {go_quote(b.name + '/' + b.namespace)} of {b.role_kind} {go_quote(b.role_name)} "
            f"to {_describe_subject(s, b.namespace)}"
        )
    return (
        f"ClusterRoleBinding {go_quote(b.name)} of {b.role_kind} {go_quote(b.role_name)} "
        f"to {_describe_subject(s, '')}"
    )


def _applies(s: Subject, user: UserInfo, namespace: str) -> bool:
    """appliesToUser."""
    if s.kind == "User":
        return user.username == s.name
    if s.kind == "Group":
        return s.name in user.groups
    if s.kind == "ServiceAccount":
        ns = s.namespace or namespace
        return bool(ns) and user.username == f"{SA_USER_PREFIX}{ns}:{s.name}"
    return False


def _applying_subject(b: Binding, user: UserInfo, namespace: str) -> Subject | None:
    return next((s for s in b.subjects if _applies(s, user, namespace)), None)


@dataclass(frozen=True, slots=True)
class _Grant:
    """The rules one binding gives a user (or the error resolving its roleRef)."""

    binding: Binding
    subject: Subject
    rules: tuple[PolicyRule, ...]
    error: str = ""


class RBACAuthorizer:
    """The privileged-group shortcut, then RBAC over an :class:`RBACIndex`."""

    def __init__(self, index: RBACIndex) -> None:
        self.index = index
        self._cache: dict[tuple[str, tuple[str, ...], str], list[_Grant]] = {}
        self._generation = -1

    def grants(self, user: UserInfo, namespace: str) -> list[_Grant]:
        """VisitRulesFor's sources in order: ClusterRoleBindings, then the namespace's RoleBindings."""
        if self._generation != self.index.generation or len(self._cache) > _CACHE_MAX:
            self._cache.clear()
            self._generation = self.index.generation
        key = (user.username, user.groups, namespace)
        got = self._cache.get(key)
        if got is None:
            got = self._cache[key] = self._resolve(user, namespace)
        return got

    def _resolve(self, user: UserInfo, namespace: str) -> list[_Grant]:
        out: list[_Grant] = []
        scopes = [("", self.index.cluster_bindings)]
        if namespace:
            scopes.append((namespace, self.index.bindings.get(namespace, {})))
        for ns, bindings in scopes:
            for name in sorted(bindings):
                b = bindings[name]
                s = _applying_subject(b, user, ns)
                if s is None:
                    continue
                try:
                    out.append(_Grant(b, s, self.index.role_rules(b.role_kind, b.role_name, ns)))
                except LookupError as e:
                    out.append(_Grant(b, s, (), str(e)))
        return out

    def authorize(self, user: UserInfo, a: Attributes) -> Decision:
        if SYSTEM_MASTERS in user.groups:
            return Decision(True)
        errors: list[str] = []
        for g in self.grants(user, a.namespace):
            if g.error:
                errors.append(g.error)
                continue
            for r in g.rules:
                if rule_allows(
                    r,
                    verb=a.verb,
                    resource_request=a.resource_request,
                    group=a.group,
                    resource=a.resource,
                    subresource=a.subresource,
                    name=a.name,
                    path=a.path,
                ):
                    return Decision(True, f"RBAC: allowed by {describe_binding(g.binding, g.subject)}")
        return Decision(False, f"RBAC: {aggregate(errors)}" if errors else "")

    def rules_for(self, user: UserInfo, namespace: str) -> RulesResult:
        rules: list[PolicyRule] = []
        errors: list[str] = []
        for g in self.grants(user, namespace):
            if g.error:
                errors.append(g.error)
            rules.extend(g.rules)
        return RulesResult(
            [r for r in rules if r.resources],
            [r for r in rules if r.non_resource_urls],
            False,
            aggregate(errors) if errors else "",
        )

    def owned_rules(self, user: UserInfo, namespace: str) -> tuple[list[PolicyRule], list[str]]:
        """RulesFor as the escalation checks use it: every rule and the resolution errors."""
        grants = self.grants(user, namespace)
        return [r for g in grants for r in g.rules], [g.error for g in grants if g.error]


def aggregate(errors: list[str]) -> str:
    """utilerrors.NewAggregate(errs).Error()."""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def new_authorizer(mode: str, index: RBACIndex) -> Authorizer:
    """The authorizer of ``--authorization-mode``."""
    if mode == MODE_ALWAYS_ALLOW:
        return AlwaysAllowAuthorizer()
    if mode != MODE_RBAC:
        raise ValueError(f"unknown authorization mode {mode!r} (known: {', '.join(MODES)})")
    return RBACAuthorizer(index)
