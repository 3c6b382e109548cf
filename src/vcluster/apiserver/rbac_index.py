"""The stored Roles, ClusterRoles, RoleBindings and ClusterRoleBindings, held in memory for the
authorizer: loaded once from the store, then kept current by watches whose events are applied
synchronously as the store publishes them (so a binding is in force as soon as its write returns).
Lookups by subject are indexed; nothing here touches the database per request."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson

from vcluster.apiserver.gostr import go_quote
from vcluster.apiserver.rbac_rules import PolicyRule, rules_of
from vcluster.store.interface import Event, Storage, WatchStream

log = logging.getLogger("vcluster.apiserver.rbac")

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_PLURALS = ("clusterroles", "clusterrolebindings", "roles", "rolebindings")


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str
    name: str
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class Binding:
    """A RoleBinding (namespace set) or ClusterRoleBinding (namespace empty)."""

    name: str
    namespace: str
    role_kind: str
    role_name: str
    subjects: tuple[Subject, ...]


def parse_binding(obj: dict[str, Any]) -> Binding:
    md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), dict) else {}
    subjects = []
    for s in obj.get("subjects") or []:
        if isinstance(s, dict):
            subjects.append(
                Subject(str(s.get("kind") or ""), str(s.get("name") or ""), str(s.get("namespace") or ""))
            )
    return Binding(
        name=str(md.get("name") or ""),
        namespace=str(md.get("namespace") or ""),
        role_kind=str(ref.get("kind") or ""),
        role_name=str(ref.get("name") or ""),
        subjects=tuple(subjects),
    )


def _ns_name(obj: dict[str, Any]) -> tuple[str, str]:
    md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return str(md.get("namespace") or ""), str(md.get("name") or "")


class RBACIndex:
    """In-memory RBAC objects with subject indexes; ``generation`` changes on every change."""

    def __init__(self) -> None:
        self.cluster_roles: dict[str, tuple[PolicyRule, ...]] = {}
        self.roles: dict[tuple[str, str], tuple[PolicyRule, ...]] = {}
        self.cluster_bindings: dict[str, Binding] = {}
        self.bindings: dict[str, dict[str, Binding]] = {}  # namespace -> name -> binding
        self.generation = 0
        self._by_key: dict[str, tuple[str, Any]] = {}  # store key -> (plural, index key)
        self._watches: list[WatchStream] = []

    # ------------------------------------------------------------------------------ changes
    def put(self, plural: str, obj: dict[str, Any], key: str = "") -> None:
        """Add or replace one object (``key``: its store key, to find it again on deletion)."""
        ns, name = _ns_name(obj)
        ikey: Any
        if plural == "clusterroles":
            ikey = name
            self.cluster_roles[name] = rules_of(obj)
        elif plural == "roles":
            ikey = (ns, name)
            self.roles[ikey] = rules_of(obj)
        elif plural == "clusterrolebindings":
            ikey = name
            self.cluster_bindings[name] = parse_binding(obj)
        elif plural == "rolebindings":
            ikey = (ns, name)
            self.bindings.setdefault(ns, {})[name] = parse_binding(obj)
        else:
            return
        if key:
            self._by_key[key] = (plural, ikey)
        self.generation += 1

    def remove(self, key: str) -> None:
        found = self._by_key.pop(key, None)
        if found is None:
            return
        plural, ikey = found
        if plural == "clusterroles":
            self.cluster_roles.pop(ikey, None)
        elif plural == "roles":
            self.roles.pop(ikey, None)
        elif plural == "clusterrolebindings":
            self.cluster_bindings.pop(ikey, None)
        else:
            ns, name = ikey
            in_ns = self.bindings.get(ns, {})
            in_ns.pop(name, None)
            if not in_ns:
                self.bindings.pop(ns, None)
        self.generation += 1

    def _apply(self, plural: str, ev: Event) -> bool:
        if ev.type == "DELETED":
            self.remove(ev.key)
        else:
            self.put(plural, orjson.loads(ev.entry.raw), ev.key)
        return True

    # ------------------------------------------------------------------------------ store
    async def start(self, store: Storage, prefixes: dict[str, str]) -> None:
        """Load ``prefixes`` (plural -> store key prefix) and follow them."""
        for plural, prefix in prefixes.items():
            res = await store.list(prefix)
            for e in res.entries:
                self.put(plural, e.decode(), e.key)
            w = await store.watch(prefix, res.revision)
            if not w.set_sink(lambda ev, p=plural: self._apply(p, ev)):  # pragma: no cover - LogStore sinks
                raise RuntimeError("the RBAC index needs a store whose watches deliver synchronously")
            self._watches.append(w)

    def stop(self) -> None:
        for w in self._watches:
            w.close()
        self._watches.clear()

    # ------------------------------------------------------------------------------ reads
    def role_rules(self, kind: str, name: str, namespace: str) -> tuple[PolicyRule, ...]:
        """GetRoleReferenceRules; raises LookupError with kube's message when it cannot."""
        if kind == "Role":
            rules = self.roles.get((namespace, name))
            if rules is None:
                raise LookupError(f"role.{RBAC_GROUP} {go_quote(name)} not found")
            return rules
        if kind == "ClusterRole":
            rules = self.cluster_roles.get(name)
            if rules is None:
                raise LookupError(f"clusterrole.{RBAC_GROUP} {go_quote(name)} not found")
            return rules
        raise LookupError(f"unsupported role reference kind: {go_quote(kind)}")
