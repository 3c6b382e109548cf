"""Session 16 syncer conformance audit, end to end: the kubeconfig Secret `vc-<name>` that vCluster
writes into the host namespace (spec §8.1 step 5, §10, §13.15), and the Endpoints of node
Services made for a vCluster Service without a selector (§9.3). One host + virtual cluster pair."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import KUBECTL
from .syncer_harness import HOST_NS, VC_NAME, Pair, get_json, pair_fixture, pod_manifest, wait_until

pytestmark = pytest.mark.integration

pair = pair_fixture()
KEYS = {"config", "certificate-authority", "client-certificate", "client-key", "token"}


def test_the_kubeconfig_secret_lets_a_host_user_reach_the_virtual_cluster(pair: Pair, tmp_path: Path) -> None:
    secret = wait_until(lambda: get_json(pair.kh, "secret", "-n", HOST_NS, f"vc-{VC_NAME}"), what="vc-<name>")
    assert set(secret["data"]) == KEYS
    assert secret["type"] == "Opaque"
    assert secret["metadata"]["labels"] == {"app": "vcluster", "vcluster-name": VC_NAME}
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    cfg = yaml.safe_load(data["config"])
    assert cfg["clusters"][0]["cluster"]["server"] == pair.vc.url
    assert data["certificate-authority"].startswith(b"-----BEGIN CERTIFICATE-----")
    assert data["token"]  # the admin credential of this kubeconfig (a token, no client certificate)
    path = tmp_path / "kubeconfig"
    path.write_bytes(data["config"])
    out = subprocess.run(
        [KUBECTL, "--kubeconfig", str(path), "get", "namespace", "default", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["metadata"]["name"] == "default"


def _vc_endpoints(ip: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": VC_NAME, "namespace": HOST_NS},
            "subsets": [
                {
                    "addresses": [{"ip": ip, "hostname": "vc-0"}],
                    "ports": [
                        {"name": "https", "port": 8443, "protocol": "TCP"},
                        {"name": "other", "port": 9000, "protocol": "TCP"},
                    ],
                }
            ],
        }
    )


def test_selectorless_node_services_get_the_vcluster_endpoints(pair: Pair) -> None:
    kh, kv = pair.kh, pair.kv
    vc_svc = get_json(kh, "service", "-n", HOST_NS, VC_NAME)
    assert vc_svc is not None and not vc_svc["spec"].get("selector")  # the API server runs outside
    kh.apply(_vc_endpoints("10.244.7.7"))
    kv.apply(pod_manifest("nodesvc", "default"))
    node = wait_until(
        lambda: (get_json(kv, "pod", "nodesvc") or {}).get("spec", {}).get("nodeName"), 30, what="bound"
    )
    svc_name = f"{VC_NAME}-node-{node.replace('.', '-')}"
    svc = wait_until(lambda: get_json(kh, "service", "-n", HOST_NS, svc_name), what="node service")
    assert "selector" not in svc["spec"]
    assert svc["spec"]["ports"][0]["targetPort"] == 10250  # defaulted to the port: nothing to forward to

    def node_endpoints(ip: str) -> dict[str, Any] | None:
        ep = get_json(kh, "endpoints", "-n", HOST_NS, svc_name)
        subsets = (ep or {}).get("subsets") or []
        ok = subsets and subsets[0].get("addresses") == [{"ip": ip}]
        return ep if ok else None

    ep = wait_until(lambda: node_endpoints("10.244.7.7"), what="node service endpoints")
    assert ep["subsets"][0]["ports"] == [{"name": "kubelet", "port": 8443, "protocol": "TCP"}]
    kh.apply(_vc_endpoints("10.244.8.8"))  # the vCluster pod moved: the node Service follows
    wait_until(lambda: node_endpoints("10.244.8.8"), what="updated node service endpoints")
