"""`kubectl top` through `integrations.metricsServer`: the simulated host serves metrics.k8s.io
like metrics-server (`vcluster host --metrics-resolution 1`), the virtual cluster proxies it with
its own names. One host with two virtual clusters per module: `my-vcluster` (integration on, in
`test-namespace`) and `plain-vc` (default configuration, in `plain-namespace`). The workload pods
are pinned to hostsim-node-1 and -2, so the virtual cluster never has hostsim-node-3; their usage
is set with the hostsim annotations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from .conftest import Kubectl, parse_table
from .syncer_harness import (
    HOST_NS,
    VC_NAME,
    HostCluster,
    VirtualCluster,
    get_json,
    host_name,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

CONFIG = "integrations:\n  metricsServer:\n    enabled: true\n"
CPU = "hostsim.vcluster.loft.sh/cpu-usage"
MEMORY = "hostsim.vcluster.loft.sh/memory-usage"
NS = "top-a"


@dataclass
class Env:
    host: HostCluster
    vc: VirtualCluster
    plain: VirtualCluster
    kh: Kubectl
    kv: Kubectl
    kp: Kubectl


def manifest(
    name: str,
    namespace: str,
    node: str,
    *,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    containers: tuple[str, ...] = ("main",),
) -> str:
    """A pod pinned to `node`, as a YAML document."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels or {},
            "annotations": annotations or {},
        },
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "nodeSelector": {"kubernetes.io/hostname": node},
            "containers": [{"name": c, "image": "nginx"} for c in containers],
        },
    }
    return yaml.safe_dump(pod)


def top(k: Kubectl, *args: str) -> list[dict[str, str]]:
    """The rows of `kubectl top ARGS`, [] while kubectl reports an error (e.g. not available yet)."""
    p = k.run("top", *args, check=False)
    if p.returncode != 0 or not p.stdout.strip():
        return []
    return parse_table(p.stdout)[1]


def rows_by(rows: list[dict[str, str]], *keys: str) -> dict[tuple[str, ...], dict[str, str]]:
    return {tuple(r[k] for k in keys): r for r in rows}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    base = tmp_path_factory.mktemp("metrics")
    host = HostCluster(base / "host", nodes=3, args=["--metrics-resolution", "1"]).start()
    vc = VirtualCluster(base / "vc", host=host, config=CONFIG)
    plain = VirtualCluster(base / "plain", host=host, name="plain-vc", host_namespace="plain-namespace")
    try:
        vc.start()
        plain.start()
        e = Env(
            host,
            vc,
            plain,
            Kubectl(host, base / "kc-h"),
            Kubectl(vc, base / "kc-v"),
            Kubectl(plain, base / "kc-p"),
        )
        virtual_namespace(e.kv, NS)
        e.kv.create(
            manifest(
                "web", NS, "hostsim-node-1", labels={"app": "web"}, annotations={CPU: "250m", MEMORY: "64Mi"}
            )
            + "\n---\n"
            + manifest(
                "db",
                NS,
                "hostsim-node-2",
                labels={"app": "db"},
                annotations={CPU: "main=120m,sidecar=5m", MEMORY: "main=100Mi,sidecar=10Mi"},
                containers=("main", "sidecar"),
            )
        )
        wait_until(lambda: len(top(e.kv, "pods", "-n", NS)) == 2, 30, what="metrics of web and db")
        yield e
    finally:
        plain.stop()
        vc.stop()
        host.stop()


def test_top_pods_shows_virtual_names_and_annotated_usage(env: Env) -> None:
    rows = rows_by(top(env.kv, "pods", "-n", NS), "NAME")
    assert set(rows) == {("web",), ("db",)}
    assert (rows[("web",)]["CPU(cores)"], rows[("web",)]["MEMORY(bytes)"]) == ("250m", "64Mi")
    assert (rows[("db",)]["CPU(cores)"], rows[("db",)]["MEMORY(bytes)"]) == ("125m", "110Mi")
    containers = rows_by(top(env.kv, "pod", "db", "-n", NS, "--containers"), "POD", "NAME")
    assert {k: (r["CPU(cores)"], r["MEMORY(bytes)"]) for k, r in containers.items()} == {
        ("db", "main"): ("120m", "100Mi"),
        ("db", "sidecar"): ("5m", "10Mi"),
    }
    selected = top(env.kv, "pods", "-n", NS, "-l", "app=web")
    assert [r["NAME"] for r in selected] == ["web"]
    everywhere = top(env.kv, "pods", "-A")
    assert {(r["NAMESPACE"], r["NAME"]) for r in everywhere} == {(NS, "web"), (NS, "db")}
    # the raw object: metrics-server's shape with the virtual pod's name, namespace and labels
    raw = json.loads(env.kv("get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods/web"))
    assert (raw["kind"], raw["apiVersion"]) == ("PodMetrics", "metrics.k8s.io/v1beta1")
    assert {k: raw["metadata"][k] for k in ("name", "namespace", "labels")} == {
        "name": "web",
        "namespace": NS,
        "labels": {"app": "web"},
    }
    assert raw["window"] == "1s" and raw["timestamp"].endswith("Z") and raw["metadata"]["creationTimestamp"]
    assert raw["containers"] == [{"name": "main", "usage": {"cpu": "250m", "memory": "64Mi"}}]


def test_host_top_shows_the_host_names(env: Env) -> None:
    rows = rows_by(top(env.kh, "pods", "-n", HOST_NS), "NAME")
    web, db = host_name("web", NS), host_name("db", NS)
    assert (rows[(web,)]["CPU(cores)"], rows[(web,)]["MEMORY(bytes)"]) == ("250m", "64Mi")
    assert (rows[(db,)]["CPU(cores)"], rows[(db,)]["MEMORY(bytes)"]) == ("125m", "110Mi")
    raw = json.loads(env.kh("get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/{HOST_NS}/pods/{web}"))
    assert raw["metadata"]["labels"]["vcluster.loft.sh/managed-by"] == VC_NAME  # the host pod's labels


def test_other_virtual_clusters_pods_are_not_shown(env: Env) -> None:
    # pods of the host namespace that are not this virtual cluster's: another virtual cluster's copy
    # of a pod with the same virtual name and namespace, and a plain host pod
    foreign = {
        "vcluster.loft.sh/managed-by": "other-vc",
        "vcluster.loft.sh/namespace": NS,
    }
    env.kh.create(
        manifest(
            host_name("web", NS, "other-vc"),
            HOST_NS,
            "hostsim-node-1",
            labels=foreign,
            annotations={
                CPU: "999m",
                "vcluster.loft.sh/object-name": "web",
                "vcluster.loft.sh/object-namespace": NS,
            },
        )
        + "\n---\n"
        + manifest("intruder", HOST_NS, "hostsim-node-1", annotations={CPU: "777m"})
    )
    wanted = {host_name("web", NS, "other-vc"), "intruder"}
    wait_until(
        lambda: wanted <= {r["NAME"] for r in top(env.kh, "pods", "-n", HOST_NS)},
        30,
        what="host metrics of both",
    )
    rows = top(env.kv, "pods", "-A")
    assert {(r["NAMESPACE"], r["NAME"], r["CPU(cores)"]) for r in rows} == {
        (NS, "web", "250m"),
        (NS, "db", "125m"),
    }
    assert [r["CPU(cores)"] for r in top(env.kv, "pods", "-n", NS, "-l", "app=web")] == ["250m"]
    env.kh("delete", "pod", "-n", HOST_NS, *wanted, "--wait=false")


def test_top_nodes_lists_only_the_virtual_clusters_nodes(env: Env) -> None:
    vnodes = {n.removeprefix("node/") for n in env.kv("get", "nodes", "-o", "name").split()}
    assert vnodes == {"hostsim-node-1", "hostsim-node-2"}
    host_rows = rows_by(top(env.kh, "nodes"), "NAME")
    assert set(host_rows) == {("hostsim-node-1",), ("hostsim-node-2",), ("hostsim-node-3",)}

    def same_as_host() -> bool:
        v = rows_by(top(env.kv, "nodes"), "NAME")
        h = rows_by(top(env.kh, "nodes"), "NAME")
        return set(v) == {(n,) for n in vnodes} and all(
            v[k]["CPU(cores)"] == h[k]["CPU(cores)"] and v[k]["MEMORY(bytes)"] == h[k]["MEMORY(bytes)"]
            for k in v
        )

    wait_until(same_as_host, 15, what="virtual node metrics equal to the host's")
    node1 = rows_by(top(env.kv, "nodes"), "NAME")[("hostsim-node-1",)]
    assert int(node1["CPU(cores)"].removesuffix("m")) >= 250 + 50  # web plus the system share
    p = env.kv.run("top", "node", "hostsim-node-3", check=False)
    assert p.returncode != 0 and 'nodes "hostsim-node-3" not found' in p.stderr
    raw = json.loads(env.kv("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/hostsim-node-1"))
    assert raw["kind"] == "NodeMetrics" and raw["metadata"]["labels"]["vcluster.loft.sh/fake-node"] == "true"


def test_annotation_drives_usage_through_the_syncer(env: Env) -> None:
    env.kv("annotate", "pod", "web", "-n", NS, f"{CPU}=400m", f"{MEMORY}=200Mi", "--overwrite")
    wait_until(
        lambda: (
            [(r["CPU(cores)"], r["MEMORY(bytes)"]) for r in top(env.kv, "pods", "-n", NS, "-l", "app=web")]
            == [("400m", "200Mi")]
        ),
        20,
        what="the new usage of web",
    )
    env.kv("annotate", "pod", "web", "-n", NS, f"{CPU}=250m", f"{MEMORY}=64Mi", "--overwrite")
    wait_until(lambda: top(env.kv, "pods", "-n", NS, "-l", "app=web")[0]["CPU(cores)"] == "250m", 20)


def test_api_surface_errors_and_tables(env: Env) -> None:
    for k in (env.kv, env.kh):
        _, rows = parse_table(k("api-resources", "--api-group=metrics.k8s.io", "-o", "wide"))
        assert {(r["NAME"], r["NAMESPACED"], r["KIND"], r["VERBS"]) for r in rows} == {
            ("nodes", "false", "NodeMetrics", "get,list"),
            ("pods", "true", "PodMetrics", "get,list"),
        }
    p = env.kv.run("top", "pod", "nosuch", "-n", NS, check=False)
    assert p.returncode != 0 and 'pods "nosuch" not found' in p.stderr
    p = env.kv.run("get", "--raw", "/apis/metrics.k8s.io/v1beta1/pods?watch=true", check=False)
    assert (
        p.returncode != 0 and 'watch is not supported on resources of kind "pods.metrics.k8s.io"' in p.stderr
    )
    headers, rows = parse_table(env.kv("get", "pods.metrics.k8s.io", "-n", NS))
    assert headers == ["NAME", "CPU", "MEMORY", "WINDOW"]
    assert rows_by(rows, "NAME")[("web",)] == {"NAME": "web", "CPU": "250m", "MEMORY": "64Mi", "WINDOW": "1s"}
    assert get_json(env.kv, "pods.metrics.k8s.io", "nosuch", "-n", NS) is None


def test_disabled_integration_keeps_the_metrics_api_absent(env: Env) -> None:
    for what in ("pods", "nodes"):
        p = env.kp.run("top", what, check=False)
        assert p.returncode != 0 and "Metrics API not available" in p.stderr, p.stderr
    p = env.kp.run("get", "--raw", "/apis/metrics.k8s.io/v1beta1", check=False)
    assert p.returncode != 0 and "NotFound" in p.stderr
    assert "metrics.k8s.io" not in env.kp("api-versions")
    assert "metrics.k8s.io/v1beta1" in env.kv("api-versions")
