"""The validatingadmissionpolicy-status controller of kube-controller-manager 1.32
(pkg/controller/validatingadmissionpolicystatus): a ValidatingAdmissionPolicy whose generation is
newer than its ``status.observedGeneration`` gets, by server-side apply of its status with field
manager ``validatingadmissionpolicy-status-controller``, the generation observed and the type
check's result: ``typeChecking.expressionWarnings`` for the validations' expressions and
messageExpressions that do not type-check against the OpenAPI v3 schema of a matched kind (up to
ten, resolved by discovery) with ``params`` typed as the paramKind (``cel/typecheck.py``,
``vapstatus_schemas.py``). As kube, a later change of a schema does not re-check a policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vcluster.apiserver.cel import lazy_module
from vcluster.controllers.base import BaseController, name_of
from vcluster.controllers.vapstatus_schemas import SchemaResolver

_typecheck = lazy_module("vcluster.apiserver.cel.typecheck")

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

API_VERSION = "admissionregistration.k8s.io/v1"
PLURAL = "validatingadmissionpolicies"
FIELD_MANAGER = "validatingadmissionpolicy-status-controller"


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


class ValidatingAdmissionPolicyStatusController(BaseController):
    """Writes observedGeneration and typeChecking of every policy whose spec changed."""

    name = "validatingadmissionpolicy-status"
    component = FIELD_MANAGER

    def __init__(self, client: Client, informers: SharedInformers, **options: Any) -> None:
        super().__init__(client, informers, **options)
        self.policies = informers.informer(API_VERSION, PLURAL)
        self.policies.add_handler(self._on_policy)

    def _on_policy(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event != "DELETED":
            self.queue.add(name_of(obj))

    async def run(self, workers: int = 2) -> None:
        await self.policies.wait_synced()
        await super().run(workers)

    async def sync(self, key: str) -> None:
        policy = self.policies.get(key)
        if policy is None:
            return
        generation = _int((policy.get("metadata") or {}).get("generation"))
        status = policy.get("status") if isinstance(policy.get("status"), dict) else {}
        if generation <= _int(status.get("observedGeneration")):
            return
        spec = policy.get("spec") if isinstance(policy.get("spec"), dict) else {}
        warnings = _typecheck.check(spec, await SchemaResolver(self.client).resolve(spec))
        type_checking: dict[str, Any] = {"expressionWarnings": warnings} if warnings else {}
        body = {
            "apiVersion": API_VERSION,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": key},
            "status": {"observedGeneration": generation, "typeChecking": type_checking},
        }
        await self.client.patch(
            API_VERSION,
            PLURAL,
            key,
            body,
            patch_type="apply",
            subresource="status",
            field_manager=FIELD_MANAGER,
            force=True,
        )
