"""Controller decisions of session 17 checked against kube 1.32's code paths, without a server."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from vcluster.controllers.deployment import DeploymentController


class _Informer:
    def __init__(self) -> None:
        self.objs: dict[tuple[str, str], dict[str, Any]] = {}

    def add_handler(self, handler: Any) -> None:
        pass

    def get(self, name: str, ns: str = "") -> dict[str, Any] | None:
        return self.objs.get((ns, name))

    def list(self, ns: str = "") -> list[dict[str, Any]]:
        return [o for (n, _), o in self.objs.items() if not ns or n == ns]


class _Informers:
    def __init__(self) -> None:
        self.by_kind: dict[tuple[str, str], _Informer] = {}

    def informer(self, api_version: str, resource: str) -> _Informer:
        return self.by_kind.setdefault((api_version, resource), _Informer())


class _Client:
    """Records ReplicaSet updates and answers them with the object sent."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, int]] = []

    async def update(self, api_version: str, resource: str, obj: dict[str, Any], ns: str) -> dict[str, Any]:
        self.updates.append((obj["metadata"]["name"], obj["spec"]["replicas"]))
        return obj


class _Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def event(self, obj: Mapping[str, Any], etype: str, reason: str, message: str, **kw: Any) -> None:
        self.events.append(message)


def _rs(name: str, created: str, replicas: int, available: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": name, "creationTimestamp": created},
        "spec": {"replicas": replicas},
        "status": {"replicas": available, "availableReplicas": available},
    }


def _deployment(replicas: int) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "d"},
        "spec": {
            "replicas": replicas,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
        },
        "status": {},
    }


def _controller() -> tuple[DeploymentController, _Client, _Recorder]:
    client, recorder = _Client(), _Recorder()
    dc = DeploymentController(client, _Informers(), recorder=recorder)  # type: ignore[arg-type]
    return dc, client, recorder


def test_old_rs_with_lagging_status_is_never_scaled_back_up() -> None:
    # The old ReplicaSet was just lowered 4 -> 3 and its status still says 4 available:
    # cleanupUnhealthyReplicas computes a negative count, and upstream refuses the whole step.
    dc, client, recorder = _controller()
    old = _rs("web-old", "2024-01-01T00:00:00Z", 3, 4)
    new = _rs("web-new", "2024-01-01T00:01:00Z", 2, 1)
    scaled, olds = asyncio.run(dc._reconcile_old_rss([old, new], [old], new, _deployment(4)))
    assert scaled is False
    assert client.updates == [] and recorder.events == []
    assert olds == [old]


def test_old_rs_unhealthy_replicas_cleaned_then_scaled_within_min_available() -> None:
    # 4 replicas, 25%/25%: minAvailable 3. Old RS 4 (3 available), new RS 1 (1 available):
    # maxScaledDown = 5 - 3 - 0 = 2; the unhealthy old replica goes first (4 -> 3), then
    # available 3 + 1 = 4 > 3 allows one more (3 -> 2).
    dc, client, recorder = _controller()
    old = _rs("web-old", "2024-01-01T00:00:00Z", 4, 3)
    new = _rs("web-new", "2024-01-01T00:01:00Z", 1, 1)
    scaled, olds = asyncio.run(dc._reconcile_old_rss([old, new], [old], new, _deployment(4)))
    assert scaled is True
    assert client.updates == [("web-old", 3), ("web-old", 2)]
    assert recorder.events == [
        "Scaled down replica set web-old from 4 to 3",
        "Scaled down replica set web-old from 3 to 2",
    ]
    assert olds[0]["spec"]["replicas"] == 2
