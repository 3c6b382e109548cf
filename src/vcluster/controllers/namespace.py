"""NamespaceController (kube-controller-manager `namespace`): empties a namespace being deleted.

When a namespace has a deletionTimestamp, every namespaced resource the server serves (preferred
versions from discovery, custom resources included) that supports `delete` is removed from it
(deletecollection where supported, else list + delete each, with propagationPolicy Background),
the NamespaceDeletion*/Namespace*Remaining status conditions are kept as upstream does, and once
nothing is left the `kubernetes` finalizer is removed through PUT /api/v1/namespaces/<ns>/finalize,
after which the API server deletes the namespace.

Content that is still going away (pods in their grace period, objects with finalizers) is checked
again after `estimate/2 + 1` seconds; failures retry with the queue's exponential backoff.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from vcluster.controllers.base import BaseController, fmt_time, meta, parse_time, pod_phase
from vcluster.controllers.discovery import APIResource, discover

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

FINALIZER_TOKEN = "kubernetes"
FINALIZER_ESTIMATE_SECONDS = 15

CONDITION_TYPES = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure",
    "NamespaceContentRemaining",
    "NamespaceFinalizersRemaining",
)
OK_REASONS = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": (
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    "NamespaceDeletionContentFailure": (
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentRemoved", "All content successfully removed"),
}


class ResourcesRemaining(Exception):
    """Some content is still being removed; `estimate` seconds are expected."""

    def __init__(self, estimate: int) -> None:
        super().__init__(
            f"some content remains in the namespace, estimate {estimate} seconds before it is removed"
        )
        self.estimate = estimate


class _Conditions:
    """namespaceConditionUpdater: collects failures, then writes all five conditions."""

    def __init__(self) -> None:
        self.new: dict[str, dict[str, str]] = {}
        self.content_errors: list[str] = []

    def discovery_failed(self, msg: str) -> None:
        self.new["NamespaceDeletionDiscoveryFailure"] = {
            "status": "True",
            "reason": "DiscoveryFailed",
            "message": msg,
        }

    def content_totals(self, remaining: dict[str, int], finalizers: dict[str, int]) -> None:
        if remaining:
            parts = sorted(f"{gr} has {n} resource instances" for gr, n in remaining.items() if n)
            self.new["NamespaceContentRemaining"] = {
                "status": "True",
                "reason": "SomeResourcesRemain",
                "message": "Some resources are remaining: " + ", ".join(parts),
            }
        if finalizers:
            parts = sorted(f"{f} in {n} resource instances" for f, n in finalizers.items() if n)
            self.new["NamespaceFinalizersRemaining"] = {
                "status": "True",
                "reason": "SomeFinalizerRemain",
                "message": "Some finalizers are remaining: " + ", ".join(parts),
            }

    def update(self, status: dict[str, Any], now: str) -> bool:
        if "NamespaceDeletionContentFailure" not in self.new and self.content_errors:
            msgs = sorted(self.content_errors)
            self.new["NamespaceDeletionContentFailure"] = {
                "status": "True",
                "reason": "ContentDeletionFailed",
                "message": f"Failed to delete all resource types, {len(msgs)} remaining: " + ", ".join(msgs),
            }
        conds: list[dict[str, Any]] = [dict(c) for c in status.get("conditions") or []]
        changed = False
        for ctype in CONDITION_TYPES:
            want = self.new.get(ctype)
            if want is None:
                reason, message = OK_REASONS[ctype]
                want = {"status": "False", "reason": reason, "message": message}
            cur = next((c for c in conds if c.get("type") == ctype), None)
            if cur is None:
                conds.append({"type": ctype, **want, "lastTransitionTime": now})
                changed = True
            elif any(cur.get(k) != want[k] for k in ("status", "reason", "message")):
                if cur.get("status") != want["status"]:
                    cur["lastTransitionTime"] = now
                cur.update(want)
                changed = True
        status["conditions"] = conds
        return changed


class NamespaceController(BaseController):
    """Deletes the content of terminating namespaces, then finalizes them."""

    name = "namespace"
    component = "namespace-controller"

    def __init__(
        self,
        client: Client,
        informers: SharedInformers,
        *,
        finalizer_estimate_seconds: int = FINALIZER_ESTIMATE_SECONDS,
        **options: Any,
    ) -> None:
        super().__init__(client, informers, **options)
        self.finalizer_estimate = finalizer_estimate_seconds
        self.namespaces = informers.informer("v1", "namespaces")
        self.namespaces.add_handler(self._on_namespace)
        # Not in kube: the end of a pod's graceful deletion re-checks its terminating namespace at
        # once instead of after the estimate, so `kubectl delete ns` returns as soon as it can.
        self.pods = informers.informer("v1", "pods")
        self.pods.add_handler(self._on_pod)
        # (group, plural) of resources whose deletecollection/list answered 404/405
        self._unsupported: set[tuple[str, str, str]] = set()

    def _on_namespace(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event != "delete" and meta(obj).get("deletionTimestamp"):
            self.queue.add(meta(obj).get("name", ""))

    def _on_pod(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event != "delete":
            return
        ns = self.namespaces.get(meta(obj).get("namespace") or "")
        if ns is not None and meta(ns).get("deletionTimestamp"):
            self.queue.add(meta(ns)["name"])

    async def run(self, workers: int = 2) -> None:
        await self.namespaces.wait_synced()
        await super().run(workers)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        try:
            await self.delete_namespace(key)
        except ResourcesRemaining as e:
            self.log.debug("namespace %s: %s", key, e)
            self.queue.add_after(key, e.estimate / 2 + 1)

    async def delete_namespace(self, name: str) -> None:
        """namespacedResourcesDeleter.Delete."""
        from vcluster.client import ApiError

        try:
            ns = await self.client.get("v1", "namespaces", name)
        except ApiError as e:
            if e.not_found:
                return
            raise
        if not meta(ns).get("deletionTimestamp"):
            return
        status = ns.get("status") or {}
        if status.get("phase") != "Terminating":
            ns = dict(ns)
            ns["status"] = {**status, "phase": "Terminating"}
            try:
                ns = await self.client.update("v1", "namespaces", ns, subresource="status")
            except ApiError as e:
                if e.not_found:
                    return
                raise
        if not (ns.get("spec") or {}).get("finalizers"):
            return
        estimate = await self.delete_all_content(ns)
        if estimate > 0:
            raise ResourcesRemaining(estimate)
        await self._finalize(ns)

    async def _finalize(self, ns: dict[str, Any]) -> None:
        """finalizeNamespace: PUT /finalize without our token (retried on conflicts)."""
        from vcluster.client import ApiError

        name = meta(ns)["name"]
        uid = meta(ns).get("uid")
        for _ in range(5):
            fins = sorted({f for f in (ns.get("spec") or {}).get("finalizers") or [] if f != FINALIZER_TOKEN})
            body = dict(ns)
            body["spec"] = {**(ns.get("spec") or {}), "finalizers": fins}
            try:
                await self.client.update("v1", "namespaces", body, subresource="finalize")
                return
            except ApiError as e:
                if e.not_found:
                    return
                if not e.conflict:
                    raise
            ns = await self.client.get("v1", "namespaces", name)
            if meta(ns).get("uid") != uid:
                raise RuntimeError("namespace uid has changed across retries")
        raise RuntimeError(f"namespace {name}: too many conflicts while finalizing")

    async def delete_all_content(self, ns: dict[str, Any]) -> int:
        """deleteAllContent: returns the estimate in seconds (0: all gone)."""
        from vcluster.client import ApiError

        name = meta(ns)["name"]
        deleted_at = parse_time(meta(ns).get("deletionTimestamp"))
        conditions = _Conditions()
        errors: list[str] = []
        found = await discover(self.client)
        if found.failed:
            conditions.discovery_failed(
                f"Discovery failed for some groups, {len(found.failed)} failing: {found.error_text()}"
            )
            errors.append(found.error_text())
        resources = [r for r in found.resources if r.namespaced and r.supports("delete")]
        results = await asyncio.gather(
            *(self._delete_resource(r, name, deleted_at) for r in resources), return_exceptions=True
        )
        estimate = 0
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        for r, res in zip(resources, results, strict=True):
            if isinstance(res, BaseException):
                if not isinstance(res, Exception):
                    raise res
                msg = str(res)
                errors.append(msg)
                conditions.content_errors.append(msg)
                continue
            est, left, fins, err = res
            estimate = max(estimate, est)
            if left:
                remaining[f"{r.plural}.{r.group}"] = left
                for f, n in fins.items():
                    finalizers[f] = finalizers.get(f, 0) + n
            if err:
                errors.append(err)
                conditions.content_errors.append(err)
        conditions.content_totals(remaining, finalizers)
        status = dict(ns.get("status") or {})
        if conditions.update(status, fmt_time(self.now())):
            body = dict(ns)
            body["status"] = status
            try:
                await self.client.update("v1", "namespaces", body, subresource="status")
            except ApiError as e:
                self.log.warning("couldn't update status condition for namespace %r: %s", name, e)
        if errors:
            raise RuntimeError("; ".join(errors))
        return estimate

    async def _delete_resource(
        self, r: APIResource, ns: str, deleted_at: Any
    ) -> tuple[int, int, dict[str, int], str | None]:
        """deleteAllContentForGroupVersionResource: (estimate, remaining, finalizers, error)."""
        from vcluster.client import ApiError

        estimate = await self._estimate(r, ns, deleted_at)
        coll_key = ("deletecollection", r.group, r.plural)
        if r.supports("deletecollection") and coll_key not in self._unsupported:
            try:
                await self.client.delete_collection(
                    r.api_version, r.plural, ns, propagation_policy="Background"
                )
                done = True
            except ApiError as e:
                if e.status in (404, 405):
                    self._unsupported.add(coll_key)
                    done = False
                else:
                    raise
        else:
            done = False
        if not done:
            items = await self._list(r, ns)
            if items is None:
                return estimate, 0, {}, None
            for item in items:
                try:
                    await self.client.delete(
                        r.api_version, r.plural, meta(item)["name"], ns, propagation_policy="Background"
                    )
                except ApiError as e:
                    if e.status not in (404, 405):
                        raise
        items = await self._list(r, ns)
        if not items:
            return 0, 0, {}, None
        fins: dict[str, int] = {}
        for item in items:
            for f in meta(item).get("finalizers") or []:
                fins[f] = fins.get(f, 0) + 1
        if estimate:
            return estimate, len(items), fins, None
        if fins:
            return self.finalizer_estimate, len(items), fins, None
        return 0, len(items), {}, f"unexpected items still remain in namespace: {ns} for gvr: {r.gvr()}"

    async def _list(self, r: APIResource, ns: str) -> list[dict[str, Any]] | None:
        from vcluster.client import ApiError

        key = ("list", r.group, r.plural)
        if not r.supports("list") or key in self._unsupported:
            return None
        try:
            items, _ = await self.client.list_all(r.api_version, r.plural, ns)
        except ApiError as e:
            if e.status in (404, 405):
                self._unsupported.add(key)
                return None
            raise
        return items

    async def _estimate(self, r: APIResource, ns: str, deleted_at: Any) -> int:
        """estimateGracefulTermination: the longest pod grace period, 0 once it has passed."""
        if r.group != "" or r.plural != "pods":
            return 0
        from vcluster.client import ApiError

        try:
            pods, _ = await self.client.list_all("v1", "pods", ns)
        except ApiError as e:
            if e.status in (404, 405):
                return 0
            raise
        estimate = 0
        for pod in pods:
            if pod_phase(pod) in ("Succeeded", "Failed"):
                continue
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            if meta(pod).get("deletionGracePeriodSeconds") is not None:
                grace = meta(pod)["deletionGracePeriodSeconds"]
            if isinstance(grace, int) and grace > estimate:
                estimate = grace
        if deleted_at is not None and self.now() - deleted_at >= timedelta(seconds=estimate):
            return 0
        return estimate
