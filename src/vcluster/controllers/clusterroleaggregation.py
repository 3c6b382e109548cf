"""The clusterrole-aggregation controller (pkg/controller/clusterroleaggregation): a ClusterRole with an
``aggregationRule`` gets, as its rules, the union of the rules of the ClusterRoles its selectors
match (in name order per selector, duplicates dropped, itself skipped), written by server-side apply
with field manager ``clusterrole-aggregation-controller``. Every ClusterRole change re-checks every
aggregated ClusterRole, as upstream does. This is how ``admin``, ``edit`` and ``view`` get their rules
from the ``aggregate-to-*`` roles, and how they pick up a CRD's roles labelled that way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vcluster.controllers.base import BaseController, name_of, selector_matches

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
FIELD_MANAGER = "clusterrole-aggregation-controller"


def aggregated_rules(role: dict[str, Any], all_roles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules ``role``'s aggregationRule gathers from ``all_roles``."""
    out: list[dict[str, Any]] = []
    selectors = ((role.get("aggregationRule") or {}).get("clusterRoleSelectors")) or []
    for sel in selectors:
        matched = sorted(
            (r for r in all_roles if selector_matches(sel, (r.get("metadata") or {}).get("labels"))),
            key=name_of,
        )
        for other in matched:
            if name_of(other) == name_of(role):
                continue
            for rule in other.get("rules") or []:
                if rule not in out:
                    out.append(rule)
    return out


class ClusterRoleAggregationController(BaseController):
    """Keeps the rules of aggregated ClusterRoles equal to what their selectors gather."""

    name = "clusterrole-aggregation"
    component = "clusterrole-aggregation-controller"

    def __init__(self, client: Client, informers: SharedInformers, **options: Any) -> None:
        super().__init__(client, informers, **options)
        self.roles = informers.informer(RBAC_API_VERSION, "clusterroles")
        self.roles.add_handler(self._on_role)

    def _on_role(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for role in self.roles.list():
            if role.get("aggregationRule") is not None:
                self.queue.add(name_of(role))

    async def run(self, workers: int = 2) -> None:
        await self.roles.wait_synced()
        await super().run(workers)

    async def sync(self, key: str) -> None:
        role = self.roles.get(key)
        if role is None or role.get("aggregationRule") is None:
            return
        rules = aggregated_rules(role, self.roles.list())
        if rules == (role.get("rules") or []):
            return
        body = {
            "apiVersion": RBAC_API_VERSION,
            "kind": "ClusterRole",
            "metadata": {"name": key},
            "rules": rules,
        }
        await self.client.patch(
            RBAC_API_VERSION,
            "clusterroles",
            key,
            body,
            patch_type="apply",
            field_manager=FIELD_MANAGER,
            force=True,
        )
