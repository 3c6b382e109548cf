"""What the CLI does on the host cluster: namespaces, the config ConfigMap, finding and deleting objects."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from vcluster.client import ApiError, Client
from vcluster.syncer.constants import MARKER_LABEL
from vcluster.syncer.names import cluster_marker

if TYPE_CHECKING:
    from vcluster.config import VClusterConfig

CREATED_ANNOTATION = "vcluster.loft.sh/created"
APP_LABEL = "app=vcluster"

# Host kinds the syncer creates in the host namespace (labelled managed-by=NAME), in deletion order.
NAMESPACED_KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "pods"),
    ("v1", "services"),
    ("v1", "endpoints"),
    ("discovery.k8s.io/v1", "endpointslices"),
    ("networking.k8s.io/v1", "ingresses"),
    ("networking.k8s.io/v1", "networkpolicies"),
    ("policy/v1", "poddisruptionbudgets"),
    ("v1", "configmaps"),
    ("v1", "secrets"),
    ("v1", "serviceaccounts"),
    ("v1", "persistentvolumeclaims"),
    ("resource.k8s.io/v1beta1", "resourceclaims"),
    ("resource.k8s.io/v1beta1", "resourceclaimtemplates"),
)
# Cluster-scoped kinds, labelled managed-by=<namespace>-x-<name>.
CLUSTER_KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "persistentvolumes"),
    ("scheduling.k8s.io/v1", "priorityclasses"),
)
COUNTED_KINDS = (
    "pods",
    "services",
    "endpoints",
    "configmaps",
    "secrets",
    "serviceaccounts",
    "persistentvolumeclaims",
)


def config_map_name(name: str) -> str:
    """The host ConfigMap `<name>-config` (vcluster.config.config_map_name, without its imports)."""
    return f"{name}-config"


class HostOpError(Exception):
    """A host operation that cannot go on; the message is one line for the user."""


def _ignorable(e: ApiError) -> bool:
    """Kinds the host does not serve (404 on the list) or may not list (403)."""
    return e.not_found or e.forbidden or e.status == 405


async def ensure_namespace(client: Client, namespace: str) -> bool:
    """Create the namespace (annotated as ours) when missing; whether we created it."""
    try:
        ns = await client.get("v1", "namespaces", namespace)
    except ApiError as e:
        if not e.not_found:
            raise
    else:
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            raise HostOpError(f"namespace {namespace} is being deleted; wait until it is gone and run again")
        return False
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "annotations": {CREATED_ANNOTATION: "true"}},
    }
    try:
        await client.create("v1", "namespaces", body)
    except ApiError as e:
        if not e.already_exists:
            raise
        return False
    return True


async def _exists(client: Client, plural: str, name: str, namespace: str | None = None) -> bool:
    """Whether the core/v1 object exists on the host (a 404 is False; other errors raise)."""
    try:
        await client.get("v1", plural, name, namespace)
    except ApiError as e:
        if e.not_found:
            return False
        raise
    return True


async def namespace_exists(client: Client, namespace: str) -> bool:
    return await _exists(client, "namespaces", namespace)


async def namespace_created_by_us(client: Client, namespace: str) -> bool | None:
    """Whether the namespace carries `vcluster.loft.sh/created: "true"` (None when it is gone)."""
    try:
        ns = await client.get("v1", "namespaces", namespace)
    except ApiError as e:
        if e.not_found:
            return None
        raise
    ann = (ns.get("metadata") or {}).get("annotations") or {}
    return ann.get(CREATED_ANNOTATION) == "true"


async def vclusters_in(client: Client, namespace: str) -> set[str]:
    """Names of the virtual clusters living in a host namespace (config ConfigMaps, StatefulSets,
    Deployments labelled app=vcluster, by their `release` label)."""
    names: set[str] = set()
    for api, plural in (("v1", "configmaps"), ("apps/v1", "statefulsets"), ("apps/v1", "deployments")):
        try:
            items, _ = await client.list_all(api, plural, namespace, label_selector=APP_LABEL)
        except ApiError as e:
            if _ignorable(e):
                continue
            raise
        for it in items:
            rel = ((it.get("metadata") or {}).get("labels") or {}).get("release")
            if rel:
                names.add(rel)
    return names


async def config_map_exists(client: Client, name: str, namespace: str) -> bool:
    return await _exists(client, "configmaps", config_map_name(name), namespace)


async def write_config_map(client: Client, cfg: VClusterConfig, name: str, namespace: str) -> None:
    """Create or replace `<name>-config` with the effective configuration."""
    from vcluster.config import effective_config_map

    cm = effective_config_map(cfg, name, namespace)
    try:
        await client.create("v1", "configmaps", cm, namespace)
    except ApiError as e:
        if not e.already_exists:
            raise
        cur = await client.get("v1", "configmaps", cm["metadata"]["name"], namespace)
        cm["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        await client.update("v1", "configmaps", cm, namespace)


async def _list(client: Client, api: str, plural: str, namespace: str | None, selector: str) -> list[Any]:
    try:
        items, _ = await client.list_all(api, plural, namespace, label_selector=selector)
    except ApiError as e:
        if _ignorable(e):
            return []
        raise
    return items


async def _delete(client: Client, api: str, plural: str, name: str, namespace: str | None) -> bool:
    try:
        await client.delete(api, plural, name, namespace)
    except ApiError as e:
        if e.not_found:
            return False
        raise
    return True


def _own_named(name: str) -> list[tuple[str, str, str]]:
    """The objects `vcluster start` creates by name: Service, workload ServiceAccount, config
    ConfigMap, kubeconfig Secret, and the syncer's Lease (left behind by a killed process, it
    would hold a new virtual cluster of this name back until it expired)."""
    from vcluster.syncer.engine.ownership import lease_name
    from vcluster.syncer.kubeconfigsecret import secret_name

    return [
        ("v1", "services", name),
        ("v1", "serviceaccounts", f"vc-workload-{name}"),
        ("v1", "configmaps", config_map_name(name)),
        ("v1", "secrets", secret_name(name)),
        ("coordination.k8s.io/v1", "leases", lease_name(name)),
    ]


async def delete_managed(client: Client, name: str, namespace: str) -> dict[str, int]:
    """Delete every host object of virtual cluster `name`; counts per resource."""
    counts: dict[str, int] = {}
    selector = f"{MARKER_LABEL}={name}"
    for api, plural in NAMESPACED_KINDS:
        items = await _list(client, api, plural, namespace, selector)
        results = await asyncio.gather(
            *(_delete(client, api, plural, it["metadata"]["name"], namespace) for it in items)
        )
        if any(results):
            counts[plural] = counts.get(plural, 0) + sum(results)
    marker = cluster_marker(namespace, name)
    for api, plural in CLUSTER_KINDS:
        items = await _list(client, api, plural, None, f"{MARKER_LABEL}={marker}")
        for it in items:
            if await _delete(client, api, plural, it["metadata"]["name"], None):
                counts[plural] = counts.get(plural, 0) + 1
    for api, plural, obj in _own_named(name):
        if await _delete(client, api, plural, obj, namespace):
            counts[plural] = counts.get(plural, 0) + 1
    return counts


async def remaining(client: Client, name: str, namespace: str) -> list[str]:
    """`plural/name` of the host objects of `name` that still exist."""
    left: list[str] = []
    selector = f"{MARKER_LABEL}={name}"
    for api, plural in NAMESPACED_KINDS:
        items = await _list(client, api, plural, namespace, selector)
        left += [f"{plural}/{it['metadata']['name']}" for it in items]
    for api, plural, obj in _own_named(name):
        try:
            await client.get(api, plural, obj, namespace)
        except ApiError as e:
            if e.not_found:
                continue
            raise
        left.append(f"{plural}/{obj}")
    return left


async def wait_gone(client: Client, name: str, namespace: str, timeout: float) -> list[str]:
    """Poll until the objects of `name` are gone; what is left after `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        left = await remaining(client, name, namespace)
        if not left or time.monotonic() >= deadline:
            return left
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 1.0)


async def delete_config_map(client: Client, name: str, namespace: str) -> bool:
    """Delete one ConfigMap; whether it existed."""
    return await _delete(client, "v1", "configmaps", name, namespace)


async def delete_namespace(client: Client, namespace: str, wait: float) -> bool:
    """Delete the namespace and wait up to `wait` seconds for it to disappear; whether it is gone."""
    if not await _delete(client, "v1", "namespaces", namespace, None):
        return True
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not await namespace_exists(client, namespace):
            return True
        await asyncio.sleep(0.2)
    return False


async def delete_pods(client: Client, name: str, namespace: str) -> int:
    """Delete the host pods of virtual cluster `name` (what `vcluster pause` does); how many."""
    items = await _list(client, "v1", "pods", namespace, f"{MARKER_LABEL}={name}")
    results = await asyncio.gather(
        *(_delete(client, "v1", "pods", it["metadata"]["name"], namespace) for it in items)
    )
    return sum(results)


async def managed_counts(client: Client, name: str, namespace: str) -> dict[str, int]:
    """How many host objects of each counted kind the syncer manages for `name`."""
    selector = f"{MARKER_LABEL}={name}"
    lists = await asyncio.gather(*(_list(client, "v1", p, namespace, selector) for p in COUNTED_KINDS))
    return {p: len(items) for p, items in zip(COUNTED_KINDS, lists, strict=True)}
