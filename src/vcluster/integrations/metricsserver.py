"""`integrations.metricsServer`: the virtual cluster's metrics.k8s.io, proxied to the host's.

As vCluster's pkg/integrations/metricsserver, `MetricsServerProxy` answers the virtual
`metrics.k8s.io/v1beta1` (served by `apiserver/metricsapi.py`) from the host cluster's
metrics-server, through the host API server with the syncer's host client:

* pods: the host PodMetrics of the host namespace (asked for with the label selector translated
  and this virtual cluster's `managed-by` (and `namespace`) labels added), joined with the
  virtual pods the request selects (namespace, labels, fields on the virtual objects) by their
  host name, and only those whose host pod this virtual cluster manages (`metadata.is_managed`,
  the `object-name` annotation): renamed to the virtual name and namespace, with the virtual pod's
  labels. Other virtual clusters' and unmanaged pods of the namespace never show.
* nodes: the host NodeMetrics of the nodes the virtual cluster has (fake or real), with the
  virtual node's labels; selectors apply to the virtual nodes.
* a get of a pod or node the virtual cluster does not have is `pods "x" not found` / `nodes "x"
  not found`; one without host metrics `podmetrics.metrics.k8s.io "ns/x" not found`.
* a host that cannot be reached or serves no metrics.k8s.io (404 without details) or answers 503
  gives 503 ServiceUnavailable, as an unavailable aggregated API; other host refusals are passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.metricsapi import (
    API_VERSION,
    Item,
    item_fields,
    no_node_metrics,
    no_pod_metrics,
    node_not_found,
    pod_not_found,
    unavailable,
)
from vcluster.apiserver.selectors import FieldSelector, LabelSelector
from vcluster.client import ApiError
from vcluster.syncer import constants as c
from vcluster.syncer import kinds, metadata
from vcluster.syncer.names import label_key_to_host

if TYPE_CHECKING:
    from vcluster.syncer.context import SyncContext
    from vcluster.syncer.engine.syncer import Syncer

log = logging.getLogger("vcluster.integrations.metricsserver")

HOST_TIMEOUT = 10.0
BASE = f"/apis/{API_VERSION}"


class _Missing(Exception):
    """The host has no such pod or node, or no metrics of it (a 404 naming a kind)."""


# ---------------------------------------------------------------------------- translation (pure)
def host_pod_selector(labels: LabelSelector, vcluster: str, namespace: str) -> str:
    """The host label selector of a virtual pod selection: keys translated as the syncer translates
    pod labels, plus this virtual cluster's marker and, for one namespace, its namespace label."""
    reqs = [r._replace(key=label_key_to_host(r.key, vcluster)) for r in labels.requirements()]
    extra = {c.MARKER_LABEL: vcluster, **({c.NAMESPACE_LABEL: namespace} if namespace else {})}
    marker = LabelSelector.from_api({"matchLabels": extra})
    keys = {r.key for r in marker.requirements()}
    return str(LabelSelector([*marker.requirements(), *(r for r in reqs if r.key not in keys)]))


def virtual_pod_item(item: Item, vpod: Mapping[str, Any]) -> Item:
    """A host PodMetrics renamed to its virtual pod, with the virtual pod's labels."""
    vm = metadata.meta(vpod)
    m = {k: v for k, v in (item.get("metadata") or {}).items() if k != "labels"}
    m["name"], m["namespace"] = vm.get("name", ""), vm.get("namespace", "")
    if vm.get("labels"):
        m["labels"] = dict(vm["labels"])
    return {**item, "metadata": m}


def virtual_pod_items(host_items: list[Item], wanted: Mapping[str, Mapping[str, Any]]) -> list[Item]:
    """The host items of the wanted pods (host name -> virtual pod), translated and sorted."""
    out = []
    for item in host_items:
        vpod = wanted.get((item.get("metadata") or {}).get("name", ""))
        if vpod is not None:
            out.append(virtual_pod_item(item, vpod))
    out.sort(key=lambda i: (i["metadata"]["namespace"], i["metadata"]["name"]))
    return out


def virtual_node_item(item: Item, vnode: Mapping[str, Any]) -> Item:
    """A host NodeMetrics with the virtual node's labels."""
    m = {k: v for k, v in (item.get("metadata") or {}).items() if k != "labels"}
    labels = metadata.meta(vnode).get("labels")
    if labels:
        m["labels"] = dict(labels)
    return {**item, "metadata": m}


def virtual_node_items(host_items: list[Item], vnodes: Mapping[str, Mapping[str, Any]]) -> list[Item]:
    """The host items of the nodes the virtual cluster has (name -> virtual node), sorted."""
    out = []
    for item in host_items:
        vnode = vnodes.get((item.get("metadata") or {}).get("name", ""))
        if vnode is not None:
            out.append(virtual_node_item(item, vnode))
    out.sort(key=lambda i: i["metadata"]["name"])
    return out


def is_our_host_pod(host: Mapping[str, Any] | None, ctx: SyncContext, vname: str, lookup: Any = None) -> bool:
    """The host pod is this virtual cluster's copy of virtual pod `vname`."""
    return (
        host is not None
        and metadata.is_managed(host, ctx, kinds.POD, lookup)
        and metadata.annotations_of(host).get(c.NAME_ANNOTATION, vname) == vname
    )


def _status(body: bytes) -> dict[str, Any]:
    try:
        st = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return st if isinstance(st, dict) else {}


# ---------------------------------------------------------------------------- the proxy
class MetricsServerProxy:
    """The `MetricsSource` of a virtual cluster: the host's metrics, translated (module doc)."""

    def __init__(self, syncer: Syncer) -> None:
        self.syncer = syncer
        self.vpods = syncer.virtual_informers.informer("v1", "pods")
        self.vnodes = syncer.virtual_informers.informer("v1", "nodes")
        self.hpods = syncer.host_informers.informer("v1", "pods", syncer.host_namespace)
        self._failing: str | None = None
        self._probe: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Check (in the background) that the host serves metrics.k8s.io, to say so in the log."""
        self._probe = asyncio.create_task(self._check_host(), name="metrics-server-probe")

    async def stop(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._probe

    async def _check_host(self) -> None:
        try:
            status, _, _ = await self.syncer.host.request("GET", BASE, timeout=HOST_TIMEOUT)
        except ApiError as e:
            self._fail(f"the host cluster is unreachable: {e.message}")
            return
        if status == 404:
            self._fail(f"the host cluster does not serve {API_VERSION} (is metrics-server installed?)")
        elif status != 200:
            self._fail(f"the host answers {status} for GET {BASE}")

    def _fail(self, why: str) -> None:
        if self._failing != why:
            log.warning("metrics proxy: %s; metrics.k8s.io answers 503 ServiceUnavailable meanwhile", why)
        self._failing = why

    def _ok(self) -> None:
        if self._failing is not None:
            log.info("metrics proxy: the host's metrics.k8s.io answers again")
        self._failing = None

    async def _host_get(
        self, resource: str, path: str, params: dict[str, str] | None = None, name: str = ""
    ) -> Item:
        """GET a host metrics path; errors as described in the module doc (`_Missing` for a 404
        that names what is missing)."""
        try:
            status, _, body = await self.syncer.host.request("GET", path, params=params, timeout=HOST_TIMEOUT)
        except ApiError as e:
            self._fail(f"the host cluster is unreachable: {e.message}")
            raise unavailable(resource, name) from None
        if status == 200:
            self._ok()
            out = orjson.loads(body)
            return out if isinstance(out, dict) else {}
        st = _status(body)
        details = st.get("details") if isinstance(st.get("details"), dict) else {}
        if status == 404 and details.get("kind"):
            raise _Missing
        if status == 404:
            self._fail(f"the host cluster does not serve {API_VERSION} (is metrics-server installed?)")
            raise unavailable(resource, name)
        if status == 503:
            self._fail(f"the host's {API_VERSION} is unavailable: {st.get('message') or body[:200]!r}")
            raise unavailable(resource, name)
        code = st.get("code") if isinstance(st.get("code"), int) else status
        message = str(st.get("message") or body[:200].decode(errors="replace"))
        raise StatusError(code, str(st.get("reason") or ""), message, {})

    def _ours(self, ctx: SyncContext, hname: str, vname: str) -> bool:
        host = self.hpods.get(hname, ctx.host_namespace)
        return is_our_host_pod(host, ctx, vname, self.syncer.owner_lookup)

    # ------------------------------------------------------------------ MetricsSource
    async def pod_metrics(self, namespace: str, labels: LabelSelector, fields: FieldSelector) -> list[Item]:
        ctx = self.syncer.ctx
        wanted: dict[str, dict[str, Any]] = {}
        for vpod in self.vpods.list(namespace or None):
            m = metadata.meta(vpod)
            if not labels.matches(m.get("labels")) or not fields.matches(item_fields(vpod)):
                continue
            vname, vns = m.get("name", ""), m.get("namespace", "")
            hname = ctx.host_name_for(kinds.POD, vname, vns)
            if self._ours(ctx, hname, vname):
                wanted[hname] = vpod
        selector = host_pod_selector(labels, ctx.vcluster, namespace)
        path = f"{BASE}/namespaces/{ctx.host_namespace}/pods"
        data = await self._host_get("pods", path, {"labelSelector": selector})
        return virtual_pod_items([i for i in data.get("items") or [] if isinstance(i, dict)], wanted)

    async def pod_metric(self, namespace: str, name: str) -> Item:
        ctx = self.syncer.ctx
        vpod = self.vpods.get(name, namespace)
        if vpod is None:
            raise pod_not_found(name)
        hname = ctx.host_name_for(kinds.POD, name, namespace)
        try:
            path = f"{BASE}/namespaces/{ctx.host_namespace}/pods/{hname}"
            item = await self._host_get("pods", path, name=name)
        except _Missing:
            raise no_pod_metrics(namespace, name) from None
        if not self._ours(ctx, hname, name):
            raise no_pod_metrics(namespace, name)
        item = {k: v for k, v in item.items() if k not in ("kind", "apiVersion")}
        return virtual_pod_item(item, vpod)

    async def node_metrics(self, labels: LabelSelector, fields: FieldSelector) -> list[Item]:
        vnodes = {
            metadata.meta(n).get("name", ""): n
            for n in self.vnodes.list()
            if labels.matches(metadata.meta(n).get("labels")) and fields.matches(item_fields(n))
        }
        data = await self._host_get("nodes", f"{BASE}/nodes")
        return virtual_node_items([i for i in data.get("items") or [] if isinstance(i, dict)], vnodes)

    async def node_metric(self, name: str) -> Item:
        vnode = self.vnodes.get(name)
        if vnode is None:
            raise node_not_found(name)
        try:
            item = await self._host_get("nodes", f"{BASE}/nodes/{name}", name=name)
        except _Missing:
            raise no_node_metrics(name) from None
        item = {k: v for k, v in item.items() if k not in ("kind", "apiVersion")}
        return virtual_node_item(item, vnode)
