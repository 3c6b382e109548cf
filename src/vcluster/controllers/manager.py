"""ControllerManager: runs the kube-controller-manager loops over one set of shared informers."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from typing import Any

from vcluster.client import Client, SharedInformers, strip_managed_fields

log = logging.getLogger("vcluster.controllers.manager")

# kube-controller-manager name -> (module in vcluster.controllers, class name)
CONTROLLERS: dict[str, tuple[str, str]] = {
    "deployment": ("deployment", "DeploymentController"),
    "replicaset": ("replicaset", "ReplicaSetController"),
    "replicationcontroller": ("replicationcontroller", "ReplicationManager"),
    "statefulset": ("statefulset", "StatefulSetController"),
    "daemonset": ("daemonset", "DaemonSetController"),
    "job": ("job", "JobController"),
    "cronjob": ("cronjob", "CronJobController"),
    "namespace": ("namespace", "NamespaceController"),
    "garbagecollector": ("garbagecollector", "GarbageCollector"),
    "serviceaccount": ("serviceaccount", "ServiceAccountController"),
    "endpoints": ("endpoints", "EndpointsController"),
    "endpointslice": ("endpointslice", "EndpointSliceController"),
    "endpointslicemirroring": ("endpointslicemirroring", "EndpointSliceMirroringController"),
    "disruption": ("disruption", "DisruptionController"),
    "horizontalpodautoscaling": ("podautoscaler", "HorizontalController"),
    "resourcequota": ("resourcequota", "ResourceQuotaController"),
    "ephemeral-volume": ("ephemeralvolume", "EphemeralVolumeController"),
    "pvc-protection": ("storageprotection", "PVCProtectionController"),
    "pv-protection": ("storageprotection", "PVProtectionController"),
    "podgc": ("podgc", "PodGCController"),
    # kube-apiserver's system-namespaces and bootstrap-controller loops (see controllers/bootstrap.py)
    "bootstrap": ("bootstrap", "BootstrapController"),
    "clusterrole-aggregation": ("clusterroleaggregation", "ClusterRoleAggregationController"),
    "csrsigning": ("csrsigning", "CSRSigningController"),
    "csrapproving": ("csrapproving", "CSRApprovingController"),
    "csrcleaner": ("csrcleaner", "CSRCleanerController"),
    "validatingadmissionpolicy-status": ("vapstatus", "ValidatingAdmissionPolicyStatusController"),
}


def resolve_enabled(enabled: set[str] | None) -> list[str]:
    """The controllers to run, in CONTROLLERS order; `--controllers` syntax: None or '*' = all,
    'name' enables, '-name' disables."""
    if enabled is None:
        return list(CONTROLLERS)
    star = "*" in enabled
    out = []
    for name in CONTROLLERS:
        if f"-{name}" in enabled:
            continue
        if star or name in enabled:
            out.append(name)
    unknown = {e.lstrip("-") for e in enabled} - set(CONTROLLERS) - {"*"}
    if unknown:
        log.warning("unknown controllers ignored: %s", ", ".join(sorted(unknown)))
    return out


def load_controller_class(name: str) -> type | None:
    """The controller class for `name`, or None (with a warning) if its module is not there yet."""
    module_name, class_name = CONTROLLERS[name]
    full = f"vcluster.controllers.{module_name}"
    try:
        module = importlib.import_module(full)
    except ModuleNotFoundError as e:
        if e.name == full:
            log.warning("controller %s skipped: module %s does not exist", name, full)
            return None
        raise
    cls = getattr(module, class_name, None)
    if cls is None:
        log.warning("controller %s skipped: %s has no %s", name, full, class_name)
    return cls


class ControllerManager:
    """Start/stop a set of controllers sharing one SharedInformers.

    `options` holds keyword arguments for every controller (e.g. `clock`), and per-controller
    dicts under the controller's name (e.g. `{"job": {"ttl_after_finished": False}}`); the
    `workers` option (int, or per controller) sets each controller's worker count (default 2).
    """

    def __init__(
        self, client: Client, *, enabled: set[str] | None = None, options: dict | None = None
    ) -> None:
        self.client = client
        self.enabled = resolve_enabled(enabled)
        self.options: dict[str, Any] = dict(options or {})
        self.informers: SharedInformers | None = None
        self.controllers: dict[str, Any] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def _options_for(self, name: str) -> dict[str, Any]:
        common = {k: v for k, v in self.options.items() if k not in CONTROLLERS and k != "workers"}
        specific = self.options.get(name)
        if isinstance(specific, dict):
            common.update(specific)
        return common

    async def start(self, *, sync_timeout: float | None = 60.0) -> None:
        """Build the controllers, start and sync the informers, then run every controller."""
        self.informers = SharedInformers(self.client, transform=strip_managed_fields)
        for name in self.enabled:
            cls = load_controller_class(name)
            if cls is None:
                continue
            opts = self._options_for(name)
            workers = opts.pop("workers", None) or self.options.get("workers") or 2
            self.controllers[name] = cls(self.client, self.informers, **opts)
            self.controllers[name]._manager_workers = workers
        await self.informers.start()
        await self.informers.wait_synced(timeout=sync_timeout)
        for name, ctrl in self.controllers.items():
            workers = getattr(ctrl, "_manager_workers", 2)
            self._tasks[name] = asyncio.create_task(self._run(name, ctrl, workers), name=f"controller-{name}")
        log.info("controllers running: %s", ", ".join(self.controllers) or "(none)")

    async def _run(self, name: str, ctrl: Any, workers: int) -> None:
        """Run one controller; restart it with backoff if it crashes (never take the process down)."""
        delay = 0.5
        while True:
            try:
                await ctrl.run(workers)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("controller %s crashed; restarting in %.1fs", name, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def stop(self) -> None:
        """Cancel every controller and stop the informers."""
        tasks = list(self._tasks.values())
        while tasks:  # cancel again whatever lost the cancellation (none should)
            for t in tasks:
                t.cancel()
            done, pending = await asyncio.wait(tasks, timeout=5.0)
            for t in done:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    t.result()
            if pending:
                names = [t.get_name() for t in pending]
                log.warning("controllers still running after cancellation: %s", names)
            tasks = list(pending)
        self._tasks.clear()
        for ctrl in self.controllers.values():
            close = getattr(ctrl, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        if self.informers is not None:
            await self.informers.stop()
            self.informers = None

    async def __aenter__(self) -> ControllerManager:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
