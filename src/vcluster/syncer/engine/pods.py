"""The pod syncer: the spec's full pod rewrite (§3) plus what only the engine can do: mint the
service-account tokens through the virtual API server, read namespace labels and services, bind
the virtual pod to the node the host chose, and keep the fake node it runs on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from vcluster.client import ApiError
from vcluster.syncer import kinds, metadata
from vcluster.syncer.engine.kindsyncer import Blocked, KindSyncer
from vcluster.syncer.podvolumes import (
    TranslationError,
    token_requests,
    token_secret_name,
    token_secret_owner_patch,
)
from vcluster.syncer.resources import node as noderes
from vcluster.syncer.resources import pod as podres
from vcluster.syncer.result import SyncResult, Translation

log = logging.getLogger("vcluster.syncer.pod")

_FOREIGN_RETRY = 5.0  # seconds between checks of a pod blocked by a foreign host object
REFERENCE_WAIT = 2.0  # seconds a new pod waits for what it references to reach the host


def _holder(virtual: Mapping[str, Any]) -> str:
    m = metadata.meta(virtual)
    return f"Pod/{m.get('namespace', '')}/{m.get('name', '')}"


class PodSyncer(KindSyncer):
    def __init__(self) -> None:
        super().__init__("pod", kinds.POD, podres.FIELDS)
        # host pods whose token Secret (useSecretsForSATokens) is known to be owned by them
        self._secret_owned: set[str] = set()

    def attach(self, controller: Any) -> None:
        """A virtual namespace's label change re-syncs its pods: their host copies carry the labels
        as `ns-label` keys, which translated namespace selectors match (§2.2, vCluster's
        ModifyController of the pod syncer)."""
        assert self.engine is not None

        def on_namespace(event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
            if event != "update" or metadata.labels_of(obj) == metadata.labels_of(old):
                return
            ns = metadata.meta(obj).get("name", "")
            for vpod in controller.vinf.list(ns):
                controller.enqueue(ns, metadata.meta(vpod).get("name", ""))

        self.engine.virtual_namespaces.add_handler(on_namespace)

    def _namespace_labels(self, ns: str) -> dict[str, str]:
        assert self.engine is not None
        nsobj = self.engine.virtual_namespaces.get(ns)
        return metadata.labels_of(nsobj) if nsobj else {}

    def _services(self, ns: str) -> list[dict[str, Any]]:
        assert self.engine is not None
        return self.engine.virtual_services.list(ns)

    def _host_uid_for(self, virtual_uid: str) -> str | None:
        """The host UID of the virtual pod `virtual_uid` (hostPaths under /var/lib/kubelet/pods/)."""
        assert self.engine is not None
        eng = self.engine
        # a scan: only pods that mount another pod's kubelet directory ask
        for vp in eng.virtual_informers.informer("v1", "pods").list():
            m = metadata.meta(vp)
            if m.get("uid") == virtual_uid:
                hns, hname = self.host_name(eng.ctx, m.get("namespace", ""), m.get("name", ""))
                hp = eng.controllers["pods"].hinf.get(hname, hns) if "pods" in eng.controllers else None
                return metadata.meta(hp).get("uid") if hp is not None else None
        return None

    async def precondition(self, virtual: Mapping[str, Any], host_seen_before: bool) -> Blocked | None:
        assert self.engine is not None
        b = podres.create_precondition(
            virtual,
            self.engine.ctx,
            host_seen_before=host_seen_before,
            virtual_node_exists=self.engine.virtual_node_exists,
        )
        if b is None:
            return None
        event = (b.event.type, b.event.reason, b.event.message) if b.event else None
        return Blocked(
            b.message,
            event=event,
            requeue_after=b.requeue_after if b.requeue_after else (2.0 if b.retry else None),
            delete_virtual=b.delete is not None,
        )

    async def to_host(self, virtual: Mapping[str, Any]) -> Translation:
        assert self.engine is not None
        ctx = self.engine.ctx
        tokens: dict[str, str] = {}
        for req in token_requests(virtual, ctx):
            tokens[req.key] = await self.engine.mint_token(req.namespace, req.service_account, req.body())
        ns = metadata.meta(virtual).get("namespace", "")
        from vcluster.syncer.engine.controller import Requeue

        try:
            tr = podres.translate_pod(
                virtual,
                ctx,
                namespace_labels=self._namespace_labels(ns),
                services=self._services(ns),
                tokens=tokens,
                host_uid_for=self._host_uid_for,
            )
        except TranslationError as e:
            raise Requeue(2.0, str(e)) from None
        if clash := self._foreign_reference(tr):
            self.engine.virtual_events.event(virtual, "Warning", "SyncError", clash)
            raise Requeue(_FOREIGN_RETRY, clash)
        return tr

    def _foreign_reference(self, tr: Translation) -> str:
        """A ConfigMap or Secret the pod would mount under a host name that an object this
        virtual cluster does not manage already has: the pod would read someone else's data."""
        assert self.engine is not None
        eng = self.engine
        for ref in tr.refs:
            if ref.kind not in ("ConfigMap", "Secret") or ref.group or not ref.host_name:
                continue
            controller = eng.controller_for(ref.group, ref.kind)
            if controller is None:
                continue
            host = controller.hinf.get(ref.host_name, ref.host_namespace or None)
            kind = controller.ks.hkind
            if host is not None and not metadata.is_managed(host, eng.ctx, kind, eng.owner_lookup):
                return (
                    f"cannot sync pod: its {ref.kind} {ref.namespace}/{ref.name} would be read from host "
                    f"object {ref.host_namespace}/{ref.host_name}, which exists and is not managed by this "
                    "virtual cluster"
                )
        return ""

    async def before_create(self, virtual: Mapping[str, Any], tr: Translation) -> list[Any]:
        """What the pod references reaches the host before it (vCluster syncs it after the pod,
        so a real kubelet first fails to mount a ConfigMap, copies a FailedMount event with host
        names into the virtual cluster and backs off, and the host's ServiceAccount admission
        refuses a pod whose synced ServiceAccount is not there yet): each referenced object that
        exists in the virtual cluster, is synced by a running controller and is not on the host
        yet is queued there and waited for (at most REFERENCE_WAIT); ConfigMaps and Secrets,
        synced only while used, are first held as used by this pod. The holds are returned. A
        missing object is left to the host to report."""
        assert self.engine is not None
        eng, holder = self.engine, _holder(virtual)
        held: list[Any] = []
        waits = []
        for ref in tr.refs:
            if not ref.host_name:
                continue
            controller = eng.controller_for(ref.group, ref.kind)
            if controller is None or controller.ks.ignores(ref.namespace, ref.name):
                continue
            if controller.hinf.get(ref.host_name, ref.host_namespace or None) is not None:
                continue
            obj = controller.vinf.get(ref.name, ref.namespace or None)
            if obj is None:
                continue
            if controller.ks.used_only:
                eng.mappings.hold(ref, holder)  # its controller hears of its first user
                held.append(ref)
            elif controller.ks.wants(obj):
                controller.enqueue(ref.namespace, ref.name)
            else:
                continue
            waits.append(
                controller.hinf.wait_until(
                    ref.host_name, ref.host_namespace or None, lambda cur: cur is not None, REFERENCE_WAIT
                )
            )
        if waits:
            await asyncio.gather(*waits)
        return held

    def after_create(self, virtual: Mapping[str, Any], held: list[Any]) -> None:
        """The pod's mapping now counts it as a user (or its create failed): the holds go."""
        assert self.engine is not None
        holder = _holder(virtual)
        for ref in held:
            self.engine.mappings.release(ref, holder)

    async def created_on_host(self, host: Mapping[str, Any], extra: list[dict[str, Any]]) -> None:
        """§3.4: the token Secret, created owned by the vCluster Service, is re-owned by its pod."""
        for obj in extra:
            if obj.get("kind") == "Secret":
                await self._own_token_secret(host, metadata.meta(obj).get("name", ""), obj)

    async def _own_token_secret(
        self, host: Mapping[str, Any], name: str, secret: Mapping[str, Any] | None = None
    ) -> None:
        """Make the host pod `host` an owner of its token Secret `name` (§3.9e), once per pod."""
        assert self.engine is not None
        hm = metadata.meta(host)
        if secret is None:
            try:
                secret = await self.engine.host.get("v1", "secrets", name, hm.get("namespace"))
            except ApiError as e:
                if not e.not_found:
                    raise
        if secret is not None and (patch := token_secret_owner_patch(secret, host, self.engine.ctx)):
            await self.engine.writer.patch_host(kinds.SECRET, secret, patch)
        owned = self._secret_owned
        owned.add(hm.get("uid", ""))
        if len(owned) > 4096:  # forget pods that are gone
            live = {metadata.meta(p).get("uid") for p in self.engine.controllers["pods"].hinf.list()}
            owned &= live  # type: ignore[operator]

    def _token_secret_to_own(self, virtual: Mapping[str, Any], host: Mapping[str, Any]) -> str | None:
        """The token Secret a synced pod uses whose ownership has not been checked since start."""
        assert self.engine is not None
        ctx = self.engine.ctx
        if not ctx.use_secrets_for_sa_tokens or metadata.meta(host).get("uid", "") in self._secret_owned:
            return None
        vm = metadata.meta(virtual)
        name = token_secret_name(ctx, vm.get("name", ""), vm.get("namespace", ""))
        for vol in (host.get("spec") or {}).get("volumes") or []:
            for src in (vol.get("projected") or {}).get("sources") or []:
                if (src.get("secret") or {}).get("name") == name:
                    return name
        return None

    async def sync(
        self,
        virtual: Mapping[str, Any],
        host: Mapping[str, Any],
        virtual_old: Mapping[str, Any] | None,
        host_old: Mapping[str, Any] | None,
    ) -> SyncResult:
        assert self.engine is not None
        ns = metadata.meta(virtual).get("namespace", "")
        node_ip = self._node_service_ip(host)
        host = podres.with_node_host_ip(host, node_ip)
        res = podres.sync_pod(
            virtual, host, virtual_old, host_old, self.engine.ctx, namespace_labels=self._namespace_labels(ns)
        )
        if res.deletes:
            return res
        hnode = (host.get("spec") or {}).get("nodeName") or ""
        decision = podres.node_decision(
            virtual, host, virtual_node_exists=bool(hnode) and self.engine.virtual_node_exists(hnode)
        )
        if decision is not None:
            if decision.need_node:
                await self.engine.ensure_virtual_node(decision.need_node)
                res.requeue_after = decision.requeue_after or 0.2
            if decision.bind_node:
                res.bind_node = decision.bind_node
            if decision.delete:
                res.deletes.append(decision.delete)
        # §3.9 (c)-(e): a pod violating the pod security standard gets no ephemeral container
        # (a privileged `kubectl debug` one, say) and no token Secret fix-up on the host
        if res.deletes or res.blocked:
            return res
        await self._add_ephemeral_containers(virtual, host, res)
        if secret := self._token_secret_to_own(virtual, host):
            await self._own_token_secret(host, secret)
        return res

    def _node_service_ip(self, host: Mapping[str, Any]) -> str:
        """The ClusterIP of the kubelet Service of the host pod's node, from the host Service
        cache ("" without `proxyKubelets.byIP` or while there is none), as vCluster's getNodeIP."""
        assert self.engine is not None
        ctx = self.engine.ctx
        node = (host.get("spec") or {}).get("nodeName") or ""
        services = self.engine.controllers.get("services")
        if not (ctx.proxy_kubelets_by_ip and node and services is not None):
            return ""
        svc = services.hinf.get(noderes.node_service_name(ctx, node), ctx.host_namespace)
        if svc is not None and noderes.is_node_service(svc, ctx, node):
            return (svc.get("spec") or {}).get("clusterIP") or ""
        # a Service just created may not be in the cache yet: the virtual node (which exists before
        # the pod is bound to it) carries its IP as InternalIP
        nodes = self.engine.extra.get("nodes")
        vnode = nodes.vnodes.get(node) if nodes is not None else None
        addresses = ((vnode or {}).get("status") or {}).get("addresses") or []
        return next((a.get("address", "") for a in addresses if a.get("type") == "InternalIP"), "")

    async def _add_ephemeral_containers(
        self, virtual: Mapping[str, Any], host: Mapping[str, Any], res: SyncResult
    ) -> None:
        """§3.12: ephemeral containers added in the virtual cluster (`kubectl debug`) are appended
        to the host pod, env-translated, through its `ephemeralcontainers` subresource; what they
        reference joins the pod's mapping. Never synced back."""
        assert self.engine is not None
        eng = self.engine
        vm = metadata.meta(virtual)
        ns, name = vm.get("namespace", ""), vm.get("name", "")
        add = podres.ephemeral_containers_to_add(virtual, host, eng.ctx, self._services(ns))
        if add is None:
            return
        # the host list in the virtual list's order (kube's strategic merge puts new ones first)
        have = {c.get("name"): c for c in (host.get("spec") or {}).get("ephemeralContainers") or []}
        new = {c.get("name"): c for c in add.obj["ephemeralContainers"]}
        order = [c.get("name") for c in (virtual.get("spec") or {}).get("ephemeralContainers") or []]
        listed = [have.get(n) or new[n] for n in order if n in have or n in new]
        listed += [c for n, c in have.items() if n not in order]
        patch = {"spec": {"ephemeralContainers": listed}}
        await eng.writer.patch_host(kinds.POD, host, patch, subresource="ephemeralcontainers")
        names = ", ".join(c.get("name", "") for c in add.obj["ephemeralContainers"])
        hm = metadata.meta(host)
        log.info(
            "Add ephemeral containers %s to host pod %s/%s of %s/%s",
            names,
            hm.get("namespace"),
            hm.get("name"),
            ns,
            name,
            extra={"fields": {"action": "update host", "kind": "pod", "virtual": f"{ns}/{name}"}},
        )
        if add.refs:
            known = eng.mappings.get(kinds.POD, ns, name)
            res.refs = [*(known.references if known is not None else []), *add.refs]
        res.requeue_after = res.requeue_after or 0.5

    async def current_references(self, virtual: Mapping[str, Any]) -> list[Any]:
        return self.references(virtual, None)  # from the pod alone, without minting tokens

    def references(self, virtual: Mapping[str, Any], translation: Translation | None) -> list[Any]:
        return (
            list(translation.refs) if translation is not None else podres.references(virtual, self.engine.ctx)
        )  # type: ignore[union-attr]
