"""Name translation of referenced objects that records each reference for the mappings store (§7.3)."""

from __future__ import annotations

from vcluster.syncer.context import SyncContext
from vcluster.syncer.kinds import Kind
from vcluster.syncer.mappings import Reference
from vcluster.syncer.names import host_name_short


class RefRecorder:
    """Translates virtual names to host names and remembers every (kind, namespace, name) it saw."""

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self.refs: list[Reference] = []

    def _add(self, ref: Reference) -> None:
        if ref not in self.refs:
            self.refs.append(ref)

    def host(self, kind: Kind, name: str, namespace: str = "") -> str:
        """Host name of the referenced virtual object (recorded); "" stays ""."""
        if not name:
            return ""
        ns = namespace if kind.namespaced else ""
        host = self.ctx.host_name_for(kind, name, ns)
        self._add(Reference.of(kind, ns, name, self.ctx.host_namespace_for(kind), host))
        return host

    def host_cluster(self, kind: Kind, name: str) -> str:
        """Cluster-translated host name of a referenced cluster-scoped object (recorded), whatever
        that kind's own sync switch says: a claim's class when volumes are synced (spec §5.5)."""
        if not name:
            return ""
        host = self.ctx.host_name_cluster(name)
        self._add(Reference.of(kind, "", name, "", host))
        return host

    def host_short(self, kind: Kind, name: str, namespace: str) -> str:
        """Short host name (`v` + 13 base-36 digits) of a referenced object (resource claims)."""
        if not name:
            return ""
        host = host_name_short(name, namespace, self.ctx.vcluster)
        self._add(Reference.of(kind, namespace, name, self.ctx.host_namespace, host))
        return host
