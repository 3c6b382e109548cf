"""`sync:` options end to end (session 17): with `toHost.services` (and pods) off the virtual API
server allocates ClusterIPs and NodePorts itself, as kube-apiserver does, and nothing reaches the
host; kinds without a syncer are refused when `vcluster start` loads the configuration."""

from __future__ import annotations

import ipaddress
import json
import time
from pathlib import Path
from typing import Any

import pytest

from .syncer_harness import (
    HOST_NS,
    Pair,
    annotations,
    edit_config,
    get_json,
    host_name,
    items,
    labels,
    pair_fixture,
    start_pair,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

SERVICES_OFF = """\
sync:
  toHost:
    services: {enabled: false}
    pods: {enabled: false}
"""

pair = pair_fixture(config=SERVICES_OFF, nodes=1)
OBJECT_NS = "vcluster.loft.sh/object-namespace"


def _service(name: str, ns: str, spec: str) -> str:
    return f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {spec}\n"


def _create(p: Pair, manifest: str) -> dict[str, Any]:
    """`kubectl create -o json` in the virtual cluster: the object as the API server answered."""
    return json.loads(p.kv("create", "-o", "json", "-f", "-", input=manifest))


def test_services_get_cluster_ips_from_the_virtual_api_server_and_stay_off_the_host(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "svcoff")
    spec = _create(p, _service("web", ns, "{ports: [{port: 80}]}"))["spec"]
    ip = spec.get("clusterIP")
    assert ip and ipaddress.ip_address(ip) and spec["clusterIPs"] == [ip], spec
    nodeport = _create(p, _service("np", ns, "{type: NodePort, ports: [{port: 80}]}"))["spec"]
    assert 30000 <= nodeport["ports"][0]["nodePort"] <= 32767, nodeport
    assert nodeport["clusterIP"] not in ("", "None", ip)
    headless = _create(p, _service("hl", ns, "{clusterIP: None, ports: [{port: 80}]}"))["spec"]
    assert headless["clusterIP"] == "None"

    # an address in use is refused as kube-apiserver refuses it; once freed it can be asked for
    dup = _service("dup", ns, f"{{clusterIP: {ip}, ports: [{{port: 80}}]}}")
    taken = p.kv.run("create", "-f", "-", input=dup, check=False)
    assert taken.returncode != 0 and "provided IP is already allocated" in taken.stderr, taken.stderr
    p.kv("delete", "service", "web", "-n", ns, "--wait=true")
    assert _create(p, dup)["spec"]["clusterIP"] == ip

    # nothing of it reaches the host
    for name in ("np", "hl", "dup"):
        assert get_json(p.kh, "service", host_name(name, ns), "-n", HOST_NS) is None
    ours = [s for s in items(p.kh, "services", "-n", HOST_NS) if annotations(s).get(OBJECT_NS) == ns]
    assert ours == []


def test_a_kind_switched_on_live_waits_for_its_host_cache_and_deletes_nothing(tmp_path: Path) -> None:
    """ConfigMaps synced, the virtual cluster restarted with their sync off, then switched on again
    by a live edit of `<name>-config`: the new controller's host informer starts empty, and a
    reconcile run before it has listed read every pair with a saved base as 'host object deleted'
    and deleted the virtual ConfigMaps (kube-root-ca.crt included). It must wait for the list."""
    p = start_pair(
        tmp_path, config="sync:\n  toHost:\n    configMaps: {all: true}\n    pods: {enabled: false}\n"
    )
    try:
        ns = virtual_namespace(p.kv, "live")
        p.kv("create", "configmap", "keep", "-n", ns, "--from-literal=a=1")
        wait_until(lambda: get_json(p.kh, "configmap", host_name("keep", ns), "-n", HOST_NS), 10, what="copy")
        uids = {
            (n, c): get_json(p.kv, "configmap", c, "-n", n)["metadata"]["uid"]  # type: ignore[index]
            for n, c in ((ns, "keep"), ("default", "kube-root-ca.crt"))
        }
        p.vc.stop()
        p.vc.config = "sync:\n  toHost:\n    configMaps: {enabled: false}\n    pods: {enabled: false}\n"
        p.vc.start()
        edit_config(p, lambda cfg: cfg["sync"]["toHost"]["configMaps"].update({"enabled": True, "all": True}))
        wait_until(lambda: "applying configuration changes" in p.vc.log_path.read_text(), 10, what="reload")
        time.sleep(1.0)  # the new controller has reconciled every ConfigMap by now
        for (n, c), uid in uids.items():
            cur = get_json(p.kv, "configmap", c, "-n", n)
            assert cur is not None and cur["metadata"]["uid"] == uid, (n, c, p.logs())
        assert "because host object was deleted" not in p.vc.log_path.read_text()
        p.kv("label", "configmap", "keep", "-n", ns, "after=reload")
        wait_until(
            lambda: labels(get_json(p.kh, "configmap", host_name("keep", ns), "-n", HOST_NS)).get("after"),
            10,
            what="the controller syncs",
        )
    finally:
        p.stop()
