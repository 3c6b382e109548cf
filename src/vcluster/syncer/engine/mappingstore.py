"""The mappings store (spec §7): owner → host name and the objects it references, persisted under
`/vcluster/mappings/` in the virtual cluster's kine table, indexed in memory for reverse lookups
and for "is this ConfigMap/Secret used?"."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from vcluster.store.interface import KeyExistsError, KeyNotFoundError, RevisionConflictError, Storage
from vcluster.syncer.kinds import Kind
from vcluster.syncer.mappings import PREFIX, OwnerMapping, Reference

log = logging.getLogger("vcluster.syncer.mappings")

# (kind, namespace, name) of a virtual object, as references name it
VKey = tuple[str, str, str]
RefListener = Callable[[str, str, str], None]  # (kind, namespace, name) whose users changed


def owner_ref(kind: Kind, namespace: str, name: str, host_namespace: str, host_name: str) -> Reference:
    return Reference.of(kind, namespace, name, host_namespace, host_name)


class MappingStore:
    """Loads every mapping at start, keeps indexes, writes changed mappings with CAS."""

    def __init__(self, store: Storage) -> None:
        self.store = store
        self.sender = str(uuid.uuid4())
        self._mappings: dict[str, tuple[OwnerMapping, int]] = {}  # key -> (mapping, mod_rev)
        # host (kind, ns, name) -> virtual (ns, name): owners (objects synced by us) and, apart,
        # references with the owner keys contributing each (several may name one host object,
        # e.g. every namespace's kube-root-ca.crt)
        self._host_owner: dict[tuple[str, str, str], tuple[str, str]] = {}
        self._host_refs: dict[tuple[str, str, str], dict[tuple[str, str], set[str]]] = {}
        self._users: dict[VKey, set[str]] = defaultdict(set)  # referenced object -> owner keys
        self._listeners: dict[str, list[RefListener]] = defaultdict(list)  # kind -> callbacks

    # ------------------------------------------------------------------ indexes
    def _index(self, key: str, m: OwnerMapping, add: bool) -> None:
        o = m.owner
        hk = (o.kind, o.host_namespace, o.host_name)
        if add:
            self._host_owner[hk] = (o.namespace, o.name)
        elif self._host_owner.get(hk) == (o.namespace, o.name):
            del self._host_owner[hk]
        for r in m.references:
            if r.host_name:
                hk_ref = (r.kind, r.host_namespace, r.host_name)
                self._index_reference(hk_ref, (r.namespace, r.name), key, add)
            self._use((r.kind, r.namespace, r.name), key, add)

    def _index_reference(
        self, hk: tuple[str, str, str], virtual: tuple[str, str], key: str, add: bool
    ) -> None:
        by_virtual = self._host_refs.setdefault(hk, {})
        if add:
            by_virtual.setdefault(virtual, set()).add(key)
            return
        owners = by_virtual.get(virtual)
        if owners is not None:
            owners.discard(key)
            if not owners:
                del by_virtual[virtual]
        if not by_virtual:
            del self._host_refs[hk]

    async def load(self) -> int:
        res = await self.store.list(PREFIX)
        for e in res.entries:
            try:
                m = OwnerMapping.decode(e.raw)
            except ValueError:
                log.warning("ignoring undecodable mapping %s", e.key)
                continue
            self._mappings[e.key] = (m, e.mod_rev)
            self._index(e.key, m, True)
        return len(self._mappings)

    def hold(self, ref: Reference, holder: str) -> None:
        """Count `holder` (an owner about to be created) as a user of `ref` until `release`, in
        memory only: its mapping is saved once the owner exists on the host."""
        self._use((ref.kind, ref.namespace, ref.name), f"pending:{holder}", True)

    def release(self, ref: Reference, holder: str) -> None:
        self._use((ref.kind, ref.namespace, ref.name), f"pending:{holder}", False)

    def _use(self, vk: VKey, user: str, add: bool) -> None:
        """Add or drop one user of a referenced object; listeners hear of its first and last user."""
        users = self._users[vk]
        before = len(users)
        if add:
            users.add(user)
        else:
            users.discard(user)
            if not users:
                del self._users[vk]
        if (len(users) > 0) != (before > 0):
            for cb in self._listeners.get(vk[0], ()):
                cb(*vk)

    def on_reference_change(self, kind: str, cb: RefListener) -> None:
        """Call `cb(kind, ns, name)` when an object of `kind` gains its first or loses its last user."""
        self._listeners[kind].append(cb)

    # ------------------------------------------------------------------ queries
    def used(self, kind: str, namespace: str, name: str) -> bool:
        return bool(self._users.get((kind, namespace, name)))

    def users(self, kind: str, namespace: str, name: str) -> set[str]:
        return set(self._users.get((kind, namespace, name), ()))

    def virtual_for_host(self, kind: Kind, host_namespace: str, host_name: str) -> tuple[str, str] | None:
        """Reverse lookup (§1.8 step 1): the owner synced under this host name, else a virtual
        object some owner references by it (the earliest contribution still standing)."""
        hk = (kind.kind, host_namespace, host_name)
        hit = self._host_owner.get(hk)
        if hit is None and (refs := self._host_refs.get(hk)):
            hit = next(iter(refs))
        return hit

    def owner_for_host(self, kind: Kind, host_namespace: str, host_name: str) -> tuple[str, str] | None:
        """The virtual object synced to this host name by us: the store's proof of `IsManaged`.
        A name that is only referenced (a pod naming a ConfigMap) proves nothing: the host object
        of that name may be someone else's."""
        return self._host_owner.get((kind.kind, host_namespace, host_name))

    def get(self, kind: Kind, namespace: str, name: str) -> OwnerMapping | None:
        from vcluster.syncer.mappings import mapping_key

        hit = self._mappings.get(mapping_key(kind.group, kind.version, kind.kind, namespace, name))
        return hit[0] if hit else None

    def __len__(self) -> int:
        return len(self._mappings)

    # ------------------------------------------------------------------ writes
    async def record(self, owner: Reference, references: list[Reference]) -> bool:
        """Save the owner's mapping with exactly these references (deduplicated); True if written."""
        refs: list[Reference] = []
        for r in references:
            if r not in refs and (r.kind, r.namespace, r.name) != (owner.kind, owner.namespace, owner.name):
                refs.append(r)
        m = OwnerMapping(owner, refs, self.sender)
        key = m.key
        hit = self._mappings.get(key)
        if hit is not None and hit[0].owner == owner and sorted(hit[0].references) == sorted(refs):
            return False
        for _ in range(3):
            try:
                if hit is None:
                    e = await self.store.create(key, m.to_json())
                else:
                    e = await self.store.update(key, m.to_json(), expected_rev=hit[1])
                break
            except (KeyExistsError, RevisionConflictError, KeyNotFoundError):
                cur = await self.store.get(key)
                hit = (OwnerMapping.decode(cur.raw), cur.mod_rev) if cur is not None else None
        else:
            log.warning("could not save mapping %s", key)
            return False
        if hit is not None:
            self._index(key, hit[0], False)
        self._mappings[key] = (m, e.mod_rev)
        self._index(key, m, True)
        log.debug("Save object mappings in store: %s (%d references)", key, len(refs))
        return True

    async def remove(self, kind: Kind, namespace: str, name: str) -> None:
        from vcluster.syncer.mappings import mapping_key

        key = mapping_key(kind.group, kind.version, kind.kind, namespace, name)
        hit = self._mappings.pop(key, None)
        if hit is None:
            return
        self._index(key, hit[0], False)
        with contextlib.suppress(KeyNotFoundError, RevisionConflictError):
            await self.store.delete(key, expected_rev=None)

    async def collect(self, exists: Callable[[Reference], Any]) -> int:
        """Mapping GC (§7.5): drop owners whose virtual and host objects are both gone.
        `exists(owner)` answers True/False, or raises to keep the mapping."""
        removed = 0
        for key, (m, _) in list(self._mappings.items()):
            try:
                if await exists(m.owner):
                    continue
            except Exception:
                continue
            hit = self._mappings.pop(key, None)
            if hit is None:
                continue
            self._index(key, hit[0], False)
            with contextlib.suppress(KeyNotFoundError, RevisionConflictError):
                await self.store.delete(key, expected_rev=None)
            log.info("Remove mapping as both virtual and host were not found: %s", key)
            removed += 1
        return removed
