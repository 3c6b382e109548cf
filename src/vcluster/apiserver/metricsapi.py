"""The resource metrics API, `metrics.k8s.io/v1beta1`, as metrics-server serves it.

`MetricsAPI` is an `APIService` over a `MetricsSource` (the simulated host's usage figures in
`hostsim/metrics.py`, or the virtual cluster's proxy to its host in
`integrations/metricsserver.py`). Like metrics-server v0.7: `nodes` (NodeMetrics, cluster scope)
and `pods` (PodMetrics, namespaced) with the verbs get and list only (a watch is 405
MethodNotAllowed), label selectors and the `metadata.name` / `metadata.namespace` field selectors,
lists sorted by namespace and name, JSON, YAML, Tables (Name, one quantity column per resource,
Window) and PartialObjectMetadata. Missing objects are answered as metrics-server answers them:
`pods "x" not found` when there is no such pod, `podmetrics.metrics.k8s.io "ns/x" not found` when
the pod has no metrics (yet), and the same for nodes.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Protocol

import orjson
from aiohttp import web

from vcluster.apiserver import views
from vcluster.apiserver.apiservices import APIService
from vcluster.apiserver.defaults import parse_quantity
from vcluster.apiserver.errors import StatusError, method_not_allowed, not_found
from vcluster.apiserver.quantityfmt import usage_string
from vcluster.apiserver.request import RequestInfo, parse_accept
from vcluster.apiserver.resources import ResourceType
from vcluster.apiserver.selectors import FieldSelector, LabelSelector

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
NODE_METRICS = ResourceType(GROUP, VERSION, "nodes", "", "NodeMetrics", False, verbs=("get", "list"))
POD_METRICS = ResourceType(GROUP, VERSION, "pods", "", "PodMetrics", True, verbs=("get", "list"))
# no field-label conversion is registered for the metrics types: the apiserver's default one
SELECTABLE_FIELDS = frozenset({"metadata.name", "metadata.namespace"})

Item = dict[str, Any]


class MetricsSource(Protocol):
    """Where the figures come from; items are PodMetrics / NodeMetrics without kind and apiVersion."""

    async def pod_metrics(self, namespace: str, labels: LabelSelector, fields: FieldSelector) -> list[Item]:
        """The pods' metrics of `namespace` ("" for all) that the selectors select, sorted."""
        ...

    async def pod_metric(self, namespace: str, name: str) -> Item:
        """One pod's metrics; StatusError 404 as `pod_not_found` / `no_pod_metrics`."""
        ...

    async def node_metrics(self, labels: LabelSelector, fields: FieldSelector) -> list[Item]:
        """The selected nodes' metrics, sorted by name."""
        ...

    async def node_metric(self, name: str) -> Item:
        """One node's metrics; StatusError 404 as `node_not_found` / `no_node_metrics`."""
        ...


# ---------------------------------------------------------------------------- errors
def pod_not_found(name: str) -> StatusError:
    return not_found("pods", "", name)


def no_pod_metrics(namespace: str, name: str) -> StatusError:
    return not_found("podmetrics", GROUP, f"{namespace}/{name}")


def node_not_found(name: str) -> StatusError:
    return not_found("nodes", "", name)


def no_node_metrics(name: str) -> StatusError:
    return not_found("nodemetrics", GROUP, name)


def unavailable(resource: str, name: str = "") -> StatusError:
    """503 as kubectl reports an aggregated API whose backend is unavailable."""
    what = f"get {resource}.{GROUP}" + (f" {name}" if name else "")
    return StatusError(
        503,
        "ServiceUnavailable",
        f"the server is currently unable to handle the request ({what})",
        {"group": GROUP, "kind": resource},
    )


def _watch_unsupported(resource: str) -> StatusError:
    return StatusError(
        405,
        "MethodNotAllowed",
        f'watch is not supported on resources of kind "{resource}.{GROUP}"',
        {"group": GROUP, "kind": resource},
    )


def _no_such_resource() -> StatusError:
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})


# ---------------------------------------------------------------------------- tables
def _column(name: str, fmt: str, description: str = "") -> dict[str, Any]:
    return {"name": name, "type": "string", "format": fmt, "description": description, "priority": 0}


def _usage(item: Item) -> dict[str, Fraction]:
    """The item's usage per resource (a pod's summed over its containers)."""
    containers = item.get("containers")
    if containers is None:
        lists = [item.get("usage") or {}]
    else:
        lists = [c.get("usage") or {} for c in containers if isinstance(c, dict)]
    out: dict[str, Fraction] = {}
    for usage in lists:
        for k, v in usage.items():
            q = parse_quantity(str(v))
            out[k] = out.get(k, Fraction(0)) + (q.value if q is not None else Fraction(0))
    return out


def metrics_table(items: list[Item], include_object: str) -> dict[str, Any]:
    """metrics-server's ConvertToTable: Name, the first item's resources (sorted), Window."""
    names: list[str] | None = None
    columns: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for item in items:
        usage = _usage(item)
        if names is None:
            names = sorted(usage)
            columns = [
                _column("Name", "name", "Name of the resource"),
                *(_column(n, "quantity") for n in names),
                _column("Window", "duration"),
            ]
        cells: list[Any] = [(item.get("metadata") or {}).get("name", "")]
        cells += [usage_string(n, usage.get(n, Fraction(0))) for n in names]
        cells.append(item.get("window", ""))
        row: dict[str, Any] = {"cells": cells}
        if include_object == "Metadata":
            row["object"] = views.partial_metadata(item)
        elif include_object == "Object":
            row["object"] = item
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": columns,
            "rows": rows}  # fmt: skip


# ---------------------------------------------------------------------------- the API
class MetricsAPI(APIService):
    """metrics.k8s.io/v1beta1 over a `MetricsSource`; `nodes` / `pods` False leave one out."""

    group = GROUP
    version = VERSION

    def __init__(self, source: MetricsSource, *, nodes: bool = True, pods: bool = True) -> None:
        self.source = source
        self._served = {rt.plural: rt for rt, on in ((NODE_METRICS, nodes), (POD_METRICS, pods)) if on}

    def resources(self) -> list[ResourceType]:
        return list(self._served.values())

    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        rt = self._served.get(info.resource)
        if rt is None or info.subresource:
            raise _no_such_resource()
        if info.verb == "watch":
            raise _watch_unsupported(rt.plural)
        if info.verb not in ("get", "list"):
            raise method_not_allowed()
        if info.namespace and not rt.namespaced:
            raise _no_such_resource()
        if rt.namespaced and not info.namespace and info.verb == "get":
            raise _no_such_resource()
        accept = parse_accept(request.headers.get("Accept"))
        include = views.include_object_param(request.query) if accept.table else "Metadata"
        if info.verb == "get":
            if rt.namespaced:
                item = await self.source.pod_metric(info.namespace, info.name)
            else:
                item = await self.source.node_metric(info.name)
            obj = {"kind": rt.kind, "apiVersion": API_VERSION, **item}
            if accept.table:
                return views.respond(orjson.dumps(metrics_table([obj], include)))
            if accept.partial_metadata:
                return views.respond(orjson.dumps(views.partial_metadata(obj)))
            return views.respond(orjson.dumps(obj), accept=accept)
        query = request.query
        labels = LabelSelector.parse(query.get("labelSelector", ""))
        fields = FieldSelector.parse(query.get("fieldSelector", ""), SELECTABLE_FIELDS, generic_message=True)
        if rt.namespaced:
            items = await self.source.pod_metrics(info.namespace, labels, fields)
        else:
            items = await self.source.node_metrics(labels, fields)
        if accept.table:
            return views.respond(orjson.dumps(metrics_table(items, include)))
        if accept.partial_metadata:
            return views.respond(views.partial_metadata_list(items, {}))
        body = {"kind": rt.list_kind, "apiVersion": API_VERSION, "metadata": {}, "items": items}
        return views.respond(orjson.dumps(body), accept=accept)


def item_fields(item: Item) -> dict[str, str]:
    """The selectable fields of an item (or of the pod or node it stands for)."""
    m = item.get("metadata") or {}
    return {"metadata.name": m.get("name") or "", "metadata.namespace": m.get("namespace") or ""}
