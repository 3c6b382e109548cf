"""Serving custom resources: the CRD watcher that installs and removes resource types, establishes
new CRDs (names accepted, Established) and deletes a CRD's objects before the CRD itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import orjson

from vcluster.apiserver import crd, fieldmanager, strategy
from vcluster.apiserver.resources import Registry, ResourceType
from vcluster.apiserver.rest import CRD_CLEANUP_FINALIZER as CLEANUP_FINALIZER
from vcluster.store.interface import CompactedError, KeyNotFoundError, RevisionConflictError, Storage
from vcluster.tasks import cancel_and_wait

log = logging.getLogger("vcluster.apiserver.crd")

CRD_PREFIX = crd.CRD_RESOURCE_TYPE.key_prefix
CLEANUP_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class CustomInfo:
    """What serving one version of a custom resource needs beyond its ResourceType."""

    crd_name: str
    schema: crd.CRDSchema
    type_node: fieldmanager.TypeNode
    columns: list[dict[str, Any]]
    row: Any  # crd.RowFunction
    storage_version: str
    api_version: str  # group/version this type serves
    storage_api_version: str
    converts: bool  # objects may be stored under another version than the one served here

    def to_version(self, obj: dict[str, Any]) -> dict[str, Any]:
        """`None` conversion: only apiVersion changes between versions."""
        if isinstance(obj, dict) and obj.get("apiVersion") != self.api_version:
            obj["apiVersion"] = self.api_version
        return obj

    def to_storage(self, obj: dict[str, Any]) -> dict[str, Any]:
        """`None` conversion to the storage version (in place)."""
        if isinstance(obj, dict):
            obj["apiVersion"] = self.storage_api_version
        return obj


def _group_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def resource_types(obj: dict[str, Any]) -> list[ResourceType]:
    """The resource types an established CRD serves, one per served version."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    storage = next(
        (v.get("name") for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("storage")),
        None,
    )
    out: list[ResourceType] = []
    name = obj["metadata"]["name"]
    for version in crd.served_versions(obj):
        rt = crd.crd_resource_type(obj, version)
        schema = crd.CRDSchema.for_version(obj, version)
        columns, row = crd.printer_columns(crd.crd_version(obj, version) or {})
        info = CustomInfo(
            crd_name=name,
            schema=schema,
            type_node=fieldmanager.type_from_openapi(schema.raw),
            columns=columns,
            row=row,
            storage_version=str(storage or version),
            api_version=_group_version(rt.group, version),
            storage_api_version=_group_version(rt.group, str(storage or version)),
            converts=len(spec.get("versions") or []) > 1,
        )
        object.__setattr__(rt, "custom", info)
        if info.converts:
            object.__setattr__(rt, "conversion", info)
            object.__setattr__(rt, "storage_version", info.storage_version)
        out.append(rt)
    return out


def is_established(obj: dict[str, Any]) -> bool:
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    return any(
        isinstance(c, dict) and c.get("type") == "Established" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


class CustomResources:
    """Keeps the registry, discovery and OpenAPI in step with the stored CRDs."""

    def __init__(self, store: Storage, registry: Registry, on_change: Any) -> None:
        self.store = store
        self.registry = registry
        self.on_change = on_change  # callable(group, version, types_or_None) after every change
        self._served: dict[str, list[ResourceType]] = {}  # CRD name -> installed types
        self._task: asyncio.Task[None] | None = None
        self._cleanups: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        res = await self.store.list(CRD_PREFIX)
        for e in res.entries:
            await self._handle(e.key, e.decode())
        watcher = await self.store.watch(CRD_PREFIX, res.revision)
        self._task = asyncio.create_task(self._run(watcher), name="crd-watcher")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._cleanups.values()) if t is not None]
        await cancel_and_wait(tasks)

    async def _resync(self) -> Any:
        """List again after the watch fell behind: install what is there, drop what is gone."""
        res = await self.store.list(CRD_PREFIX)
        present = set()
        for e in res.entries:
            obj = e.decode()
            present.add(obj["metadata"]["name"])
            await self._handle(e.key, obj)
        for name in [n for n in self._served if n not in present]:
            self._uninstall(name)
        return await self.store.watch(CRD_PREFIX, res.revision)

    async def _run(self, watcher: Any) -> None:
        try:
            while True:
                try:
                    ev = await watcher.next(None)
                except StopAsyncIteration:
                    return
                except CompactedError:
                    watcher.close()
                    watcher = await self._resync()
                    continue
                if ev is None:
                    continue
                try:
                    if ev.type == "DELETED":
                        self._uninstall(ev.key.rsplit("/", 1)[-1])
                    else:
                        await self._handle(ev.key, ev.entry.decode())
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("handling CRD %s failed", ev.key)
        finally:
            watcher.close()

    async def _handle(self, key: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if obj["metadata"].get("deletionTimestamp"):
            self._install(name, obj)  # objects stay readable while they are deleted
            if name not in self._cleanups:
                self._cleanups[name] = asyncio.create_task(
                    self._cleanup(key, name), name=f"crd-cleanup-{name}"
                )
            return
        if not is_established(obj):
            await self._establish(key, obj)
            return
        self._install(name, obj)

    def _install(self, name: str, obj: dict[str, Any]) -> None:
        new = resource_types(obj)
        old = self._served.get(name, [])
        for rt in old:
            self.registry.remove(rt.group, rt.version, rt.plural)
        for rt in new:
            if self.registry.get(rt.group, rt.version, rt.plural) is not None:
                log.warning("CRD %s: %s/%s %s is already served", name, rt.group, rt.version, rt.plural)
                continue
            self.registry.add(rt)
        self._served[name] = new
        touched = {(rt.group, rt.version) for rt in old} | {(rt.group, rt.version) for rt in new}
        self.on_change(touched, new, old)

    def _uninstall(self, name: str) -> None:
        old = self._served.pop(name, [])
        for rt in old:
            self.registry.remove(rt.group, rt.version, rt.plural)
        if old:
            self.on_change({(rt.group, rt.version) for rt in old}, [], old)

    async def _write(self, key: str, mutate: Any) -> None:
        """Compare-and-swap update of a CRD (status, finalizers), retried on races."""
        for _ in range(16):
            cur = await self.store.get(key)
            if cur is None:
                return
            obj = orjson.loads(cur.raw)
            if not mutate(obj):
                return
            md = obj["metadata"]
            try:
                if md.get("deletionTimestamp") and not md.get("finalizers"):
                    await self.store.delete(key, expected_rev=cur.mod_rev)
                else:
                    await self.store.update(key, obj, expected_rev=cur.mod_rev)
                return
            except RevisionConflictError:
                continue
            except KeyNotFoundError:
                return

    async def _establish(self, key: str, obj: dict[str, Any]) -> None:
        """The naming and establishing controllers: accept the names unless another CRD serves
        them, then mark the CRD Established."""
        spec = obj.get("spec") or {}
        group, plural = spec.get("group"), (spec.get("names") or {}).get("plural")
        for other, types in self._served.items():
            if other != obj["metadata"]["name"] and any(
                t.group == group and t.plural == plural for t in types
            ):
                log.warning("CRD %s: plural %s.%s is already in use", obj["metadata"]["name"], plural, group)
                return

        def mutate(o: dict[str, Any]) -> bool:
            if is_established(o):
                return False
            o["status"] = crd.established_status(o, strategy.now_rfc3339())
            return True

        await self._write(key, mutate)

    async def _delete_object(self, e: Any) -> int:
        """Delete one custom object as a DELETE would: objects with finalizers are marked for
        deletion and stay until those are removed. Returns 1 while the object must be waited for."""
        obj = orjson.loads(e.raw)
        md = obj.get("metadata") or {}
        if not md.get("finalizers"):
            await self.store.delete(e.key, expected_rev=e.mod_rev)
            return 0
        if not md.get("deletionTimestamp"):
            md["deletionTimestamp"] = strategy.now_rfc3339()
            md["deletionGracePeriodSeconds"] = 0
            await self.store.update(e.key, obj, expected_rev=e.mod_rev)
        return 1

    async def _cleanup(self, key: str, name: str) -> None:
        """Delete every object of the CRD, then drop the cleanup finalizer (the CRD then goes)."""
        try:
            types = self._served.get(name) or []
            prefixes = {rt.key_prefix for rt in types}
            for prefix in prefixes:
                while True:
                    res = await self.store.list(prefix)
                    if not res.entries:
                        break
                    waiting = 0
                    for e in res.entries:
                        with contextlib.suppress(KeyNotFoundError, RevisionConflictError):
                            waiting += await self._delete_object(e)
                    if waiting:
                        # objects with finalizers: their controllers finish them (as upstream's
                        # CRD finalizer waits); check again shortly
                        await asyncio.sleep(CLEANUP_POLL_SECONDS)

            def mutate(o: dict[str, Any]) -> bool:
                fins = o["metadata"].get("finalizers") or []
                if CLEANUP_FINALIZER not in fins:
                    return False
                o["metadata"]["finalizers"] = [f for f in fins if f != CLEANUP_FINALIZER]
                return True

            await self._write(key, mutate)  # the DELETED event then uninstalls the types
        finally:
            self._cleanups.pop(name, None)
