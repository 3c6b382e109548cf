"""The bootstrap RBAC policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy) and its reconciliation at
start, as kube-apiserver's ``rbac/bootstrap-roles`` post-start hook (pkg/registry/rbac/reconciliation):
missing objects are created; existing ones annotated ``rbac.authorization.kubernetes.io/autoupdate:
"false"`` are left alone; the others get missing rules, aggregation selectors, subjects, labels and
annotations added (nothing is removed), and a binding whose roleRef changed is recreated."""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
from importlib import resources
from typing import Any

import yaml

from vcluster.apiserver import strategy
from vcluster.apiserver.rbac_authorizer import RBACAuthorizer
from vcluster.apiserver.rbac_index import RBAC_GROUP, RBACIndex
from vcluster.apiserver.rbac_rules import PolicyRule, covers, rules_of
from vcluster.apiserver.resources import Registry
from vcluster.apiserver.rest import object_key
from vcluster.store.interface import KeyExistsError, RevisionConflictError, Storage

log = logging.getLogger("vcluster.apiserver.rbac")

API_VERSION = f"{RBAC_GROUP}/v1"
AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_FILES = {
    "clusterroles": ("cluster-roles.yaml", "ClusterRole"),
    "clusterrolebindings": ("cluster-role-bindings.yaml", "ClusterRoleBinding"),
    "roles": ("namespace-roles.yaml", "Role"),
    "rolebindings": ("namespace-role-bindings.yaml", "RoleBinding"),
}
CONTROLLER_ROLES_FILE = "controller-roles.yaml"
CONTROLLER_ROLE_PREFIX = "system:controller:"


def _metadata(item: dict[str, Any]) -> dict[str, Any]:
    """addDefaultMetadata: the bootstrapping label and the autoupdate annotation."""
    md: dict[str, Any] = {"name": item["name"]}
    if item.get("namespace"):
        md["namespace"] = item["namespace"]
    md["labels"] = {**BOOTSTRAP_LABELS, **(item.get("labels") or {})}
    md["annotations"] = {AUTOUPDATE_ANNOTATION: "true"}
    return md


def _role(item: dict[str, Any], kind: str) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": API_VERSION, "kind": kind, "metadata": _metadata(item)}
    if item.get("aggregationRule"):
        obj["aggregationRule"] = item["aggregationRule"]
    obj["rules"] = item.get("rules") or None
    return obj


def _binding(item: dict[str, Any], kind: str) -> dict[str, Any]:
    role_kind = "Role" if kind == "RoleBinding" else "ClusterRole"
    obj: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": _metadata(item),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": item.get("roleRef") or item["name"]},
    }
    subjects = []
    for s in item.get("subjects") or []:
        s = dict(s)
        if s["kind"] in ("User", "Group"):
            s.setdefault("apiGroup", RBAC_GROUP)
        subjects.append({k: s[k] for k in ("apiGroup", "kind", "name", "namespace") if k in s})
    if subjects:
        obj["subjects"] = subjects
    return obj


def _controller_binding(role_name: str) -> dict[str, Any]:
    """addControllerRole's binding: the role bound to the service account kube-system/<controller>."""
    if not role_name.startswith(CONTROLLER_ROLE_PREFIX):
        raise ValueError(f"controller role {role_name!r} must start with {CONTROLLER_ROLE_PREFIX!r}")
    sa = role_name[len(CONTROLLER_ROLE_PREFIX) :]
    subject = {"kind": "ServiceAccount", "name": sa, "namespace": "kube-system"}
    return _binding({"name": role_name, "subjects": [subject]}, "ClusterRoleBinding")


@functools.cache
def _policy() -> dict[str, tuple[dict[str, Any], ...]]:
    """bootstrappolicy's ClusterRoles()+ControllerRoles(), their bindings, the namespaced roles/bindings."""
    data = resources.files("vcluster.apiserver.rbacdata")

    def load(filename: str) -> list[dict[str, Any]]:
        return yaml.safe_load(data.joinpath(filename).read_text(encoding="utf-8")) or []

    out: dict[str, tuple[dict[str, Any], ...]] = {}
    for plural, (filename, kind) in _FILES.items():
        make = _binding if kind.endswith("Binding") else _role
        out[plural] = tuple(make(i, kind) for i in load(filename))
    controllers = [_role(i, "ClusterRole") for i in load(CONTROLLER_ROLES_FILE)]
    out["clusterroles"] += tuple(controllers)
    out["clusterrolebindings"] += tuple(_controller_binding(r["metadata"]["name"]) for r in controllers)
    return out


def bootstrap_objects(plural: str) -> list[dict[str, Any]]:
    """Fresh copies of the bootstrap objects of one resource (``clusterroles`` ...)."""
    return copy.deepcopy(list(_policy()[plural]))


@functools.cache
def bootstrap_authorizer() -> RBACAuthorizer:
    """RBAC over the bootstrap policy alone: what a fresh cluster decides (for callers without a
    server, e.g. the review functions' default)."""
    index = RBACIndex()
    for plural in _FILES:
        for obj in _policy()[plural]:
            index.put(plural, obj)
    return RBACAuthorizer(index)


# ------------------------------------------------------------------------------------ reconciliation
def _merge_meta(existing: dict[str, Any], expected: dict[str, Any]) -> None:
    """Labels and annotations of the expected object added, existing values kept."""
    md, want = existing.setdefault("metadata", {}), expected["metadata"]
    for field in ("labels", "annotations"):
        md[field] = {**want.get(field, {}), **(md.get(field) or {})}


def reconcile_role(existing: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any] | None:
    """computeReconciledRole (add-only): the updated object, or None when nothing is missing."""
    out = copy.deepcopy(existing)
    _merge_meta(out, expected)
    missing: list[PolicyRule] = covers(list(rules_of(existing)), rules_of(expected))
    if missing:
        out["rules"] = [*(existing.get("rules") or []), *(r.to_json() for r in missing)]
    want_sel = (expected.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    if want_sel:
        agg = out.setdefault("aggregationRule", {}) or {}
        out["aggregationRule"] = agg
        have = agg.setdefault("clusterRoleSelectors", []) or []
        agg["clusterRoleSelectors"] = have + [s for s in want_sel if s not in have]
    return None if out == existing else out


def reconcile_binding(existing: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any] | None:
    """computeReconciledRoleBinding (add-only) for a binding with the same roleRef."""
    out = copy.deepcopy(existing)
    _merge_meta(out, expected)
    have = out.get("subjects") or []
    missing = [s for s in expected.get("subjects") or [] if not _has_subject(have, s)]
    if missing:
        out["subjects"] = have + missing
    return None if out == existing else out


def _has_subject(subjects: list[dict[str, Any]], s: dict[str, Any]) -> bool:
    want = (s["kind"], s["name"], s.get("namespace", ""))
    return any((x.get("kind"), x.get("name"), x.get("namespace", "")) == want for x in subjects)


def _protected(obj: dict[str, Any]) -> bool:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(AUTOUPDATE_ANNOTATION) == "false"


async def _ensure(store: Storage, registry: Registry, plural: str, expected: dict[str, Any]) -> None:
    rt = registry.get(RBAC_GROUP, "v1", plural)
    assert rt is not None
    md = expected["metadata"]
    key = object_key(rt, md.get("namespace", ""), md["name"])
    for _ in range(5):
        entry = await store.get(key)
        try:
            if entry is None:
                obj = copy.deepcopy(expected)
                strategy.prepare_for_create(rt, obj)
                await store.create(key, obj)
                log.info("created %s %s", plural, md["name"])
                return
            existing = entry.decode()
            if _protected(existing):
                return
            if plural.endswith("bindings") and existing.get("roleRef") != expected["roleRef"]:
                await store.delete(key, expected_rev=entry.mod_rev)
                continue  # recreated on the next round
            reconcile = reconcile_binding if plural.endswith("bindings") else reconcile_role
            updated = reconcile(existing, expected)
            if updated is not None:
                await store.update(key, updated, expected_rev=entry.mod_rev)
                log.info("reconciled %s %s", plural, md["name"])
            return
        except (KeyExistsError, RevisionConflictError):
            continue
    log.warning("could not reconcile %s %s: it kept changing", plural, md["name"])


async def ensure_bootstrap_policy(store: Storage, registry: Registry) -> None:
    """The ``rbac/bootstrap-roles`` post-start hook: roles before the bindings that name them. The
    objects of one resource are independent, so their reads and writes go to the store together
    (a fresh data dir commits them in a few batches instead of one by one)."""
    for plural in ("clusterroles", "clusterrolebindings", "roles", "rolebindings"):
        await asyncio.gather(*(_ensure(store, registry, plural, obj) for obj in _policy()[plural]))
