"""Ephemeral containers through the syncer (spec §3.12): `kubectl debug` in the virtual cluster
adds the container to the host pod (env references translated, what they use synced), the host
runs it, its status comes back, and its logs are read through the virtual cluster."""

from __future__ import annotations

import json

import pytest

from .syncer_harness import (
    HOST_NS,
    Pair,
    get_json,
    host_name,
    pair_fixture,
    pod_manifest,
    pod_running,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture()


def _ephemeral(pod: dict | None) -> dict[str, dict]:
    return {c["name"]: c for c in ((pod or {}).get("spec") or {}).get("ephemeralContainers") or []}


def _running_ephemeral(pod: dict | None, name: str) -> bool:
    statuses = ((pod or {}).get("status") or {}).get("ephemeralContainerStatuses") or []
    return any(s["name"] == name and "running" in (s.get("state") or {}) for s in statuses)


def test_kubectl_debug_reaches_the_host_pod(pair: Pair) -> None:
    p = pair
    ns = virtual_namespace(p.kv, "debugging")
    p.kv.create(pod_manifest("app", ns))
    wait_until(lambda: pod_running(p.kv, "app", ns), 30, what="pod Running")
    hname = host_name("app", ns)

    p.kv("debug", "app", "-n", ns, "--image=busybox", "--target=main", "-c", "dbg")
    hpod = wait_until(
        lambda: (h := get_json(p.kh, "pod", hname, "-n", HOST_NS)) and "dbg" in _ephemeral(h) and h,
        15,
        what="the ephemeral container on the host pod",
    )
    assert _ephemeral(hpod)["dbg"]["image"] == "busybox"
    assert _ephemeral(hpod)["dbg"]["targetContainerName"] == "main"
    wait_until(
        lambda: _running_ephemeral(get_json(p.kv, "pod", "app", "-n", ns), "dbg"),
        20,
        what="its running status in the virtual pod",
    )
    logs = p.kv.run("logs", "app", "-n", ns, "-c", "dbg", check=False)
    assert logs.returncode == 0, logs.stderr

    # an env reference in an ephemeral container is translated and what it uses goes to the host
    p.kv("create", "configmap", "dbg-settings", "-n", ns, "--from-literal=level=debug")
    container = {
        "name": "dbg2",
        "image": "busybox",
        "env": [
            {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "dbg-settings", "key": "level"}}}
        ],
    }
    patch = json.dumps({"spec": {"ephemeralContainers": [container]}})
    p.kv(
        "patch", "pod", "app", "-n", ns, "--subresource=ephemeralcontainers", "--type=strategic", "-p", patch
    )
    hpod = wait_until(
        lambda: (h := get_json(p.kh, "pod", hname, "-n", HOST_NS)) and "dbg2" in _ephemeral(h) and h,
        15,
        what="the second ephemeral container on the host pod",
    )
    (level,) = [e for e in _ephemeral(hpod)["dbg2"]["env"] if e["name"] == "LEVEL"]
    ref = level["valueFrom"]["configMapKeyRef"]
    assert ref["name"] == host_name("dbg-settings", ns)
    virtual_order = list(_ephemeral(get_json(p.kv, "pod", "app", "-n", ns)))
    assert sorted(virtual_order) == ["dbg", "dbg2"]
    assert list(_ephemeral(hpod)) == virtual_order
    wait_until(
        lambda: get_json(p.kh, "configmap", host_name("dbg-settings", ns), "-n", HOST_NS),
        15,
        what="the ConfigMap it references synced to the host",
    )
    # never synced back: the virtual spec is the user's
    assert list(_ephemeral(get_json(p.kv, "pod", "app", "-n", ns))) == virtual_order
