"""The `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap in every namespace.

kube-controller-manager runs this as two controllers, `serviceaccount` (ServiceAccountsController:
creates the ServiceAccounts of its list, `default`, in each active namespace) and
`root-ca-cert-publisher` (Publisher: keeps the ConfigMap `kube-root-ca.crt` with key `ca.crt` = the
cluster CA and the `kubernetes.io/description` annotation). Both are keyed by namespace; deleting
either object makes it come back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vcluster.controllers.base import BaseController, annotations_of, meta, name_of, namespace_of

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
    "such as the internal service IP or kubernetes.default.svc. "
    "No other usage is guaranteed across distributions of Kubernetes clusters."
)
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"


def has_terminating_cause(err: Exception) -> bool:
    """apierrors.HasStatusCause(err, NamespaceTerminatingCause)."""
    body = getattr(err, "body", None)
    details = body.get("details") if isinstance(body, dict) else None
    causes = details.get("causes") if isinstance(details, dict) else None
    return any(isinstance(c, dict) and c.get("reason") == NAMESPACE_TERMINATING_CAUSE for c in causes or [])


class ServiceAccountController(BaseController):
    """Ensures ServiceAccount `default` and ConfigMap `kube-root-ca.crt` in each namespace."""

    name = "serviceaccount"
    component = "serviceaccount-controller"

    def __init__(
        self,
        client: Client,
        informers: SharedInformers,
        *,
        root_ca_pem: str | bytes | None = None,
        service_accounts: tuple[str, ...] = ("default",),
        **options: Any,
    ) -> None:
        super().__init__(client, informers, **options)
        if isinstance(root_ca_pem, bytes):
            root_ca_pem = root_ca_pem.decode()
        self.root_ca = root_ca_pem
        self.service_accounts = service_accounts
        self.namespaces = informers.informer("v1", "namespaces")
        self.serviceaccounts = informers.informer("v1", "serviceaccounts")
        self.configmaps = informers.informer("v1", "configmaps")
        self.namespaces.add_handler(self._on_namespace)
        self.serviceaccounts.add_handler(self._on_serviceaccount)
        self.configmaps.add_handler(self._on_configmap)
        if self.root_ca is None:
            self.log.warning("no root_ca_pem: the kube-root-ca.crt ConfigMaps are not published")

    # ------------------------------------------------------------------ handlers
    def _on_namespace(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event == "delete":
            return
        if event == "update" and (obj.get("status") or {}).get("phase") != "Active":
            return
        self.queue.add(name_of(obj))

    def _on_serviceaccount(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event == "delete" and name_of(obj) in self.service_accounts:
            self.queue.add(namespace_of(obj))

    def _on_configmap(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if name_of(obj) != ROOT_CA_CONFIGMAP or self.root_ca is None:
            return
        if event == "delete" or (event == "update" and not self._configmap_ok(obj)):
            self.queue.add(namespace_of(obj))

    def _configmap_ok(self, cm: dict[str, Any]) -> bool:
        return (cm.get("data") or {}) == {"ca.crt": self.root_ca} and bool(
            annotations_of(cm).get(DESCRIPTION_ANNOTATION)
        )

    # ------------------------------------------------------------------ sync
    async def run(self, workers: int = 2) -> None:
        for inf in (self.namespaces, self.serviceaccounts, self.configmaps):
            await inf.wait_synced()
        await super().run(workers)

    async def sync(self, key: str) -> None:
        ns = self.namespaces.get(key)
        if ns is None:
            return
        errors: list[Exception] = []
        if (ns.get("status") or {}).get("phase") == "Active":
            for sa in self.service_accounts:
                try:
                    await self._ensure_service_account(key, sa)
                except Exception as e:
                    errors.append(e)
        if self.root_ca is not None:
            try:
                await self._publish_root_ca(key)
            except Exception as e:
                errors.append(e)
        if errors:
            raise errors[0]

    async def _ensure_service_account(self, ns: str, name: str) -> None:
        from vcluster.client import ApiError

        if self.serviceaccounts.get(name, ns) is not None:
            return
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}
        try:
            await self.client.create("v1", "serviceaccounts", body, ns)
        except ApiError as e:
            if e.already_exists or has_terminating_cause(e):
                return
            raise

    async def _publish_root_ca(self, ns: str) -> None:
        from vcluster.client import ApiError

        cm = self.configmaps.get(ROOT_CA_CONFIGMAP, ns)
        if cm is None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": ROOT_CA_CONFIGMAP,
                    "namespace": ns,
                    "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION},
                },
                "data": {"ca.crt": self.root_ca},
            }
            try:
                await self.client.create("v1", "configmaps", body, ns)
            except ApiError as e:
                # a missing or terminating namespace is not retried; a racing create is fine
                if e.not_found or e.already_exists or has_terminating_cause(e):
                    return
                raise
            return
        if self._configmap_ok(cm):
            return
        new = dict(cm)
        md = dict(meta(cm))
        md["annotations"] = {**annotations_of(cm), DESCRIPTION_ANNOTATION: DESCRIPTION}
        new["metadata"] = md
        new["data"] = {"ca.crt": self.root_ca}
        await self.client.update("v1", "configmaps", new, ns)
