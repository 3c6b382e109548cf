"""A DaemonSet left alone on fake nodes settles (default configuration, spec §9.1): as in vCluster
(isNodeNeededByPod filters DaemonSet pods out), a fake node goes once only DaemonSet pods remain on
it, the DaemonSet then wants 0 pods, and when its pods bound to the missing nodes are collected
(PodGC's part in kube 1.32, done here by hand: its quarantine is 40 s) their host pods go and
nothing comes back: no node is created again, no daemon pod is created again."""

from __future__ import annotations

import time

import pytest

from .conftest import LineReader
from .syncer_harness import (
    HOST_NS,
    Pair,
    get_json,
    host_pods,
    items,
    name_of,
    pair_fixture,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture(nodes=2)
FAKE = "vcluster.loft.sh/fake-node=true"
SETTLE = 2.5  # seconds to watch for anything coming back


def _manifests(ns: str) -> str:
    pod = "terminationGracePeriodSeconds: 1\n      containers:\n      - name: main\n        image: nginx\n"
    return "\n---\n".join(
        f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{extra}"
        f"  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n"
        f"      labels: {{app: {name}}}\n    spec:\n      {pod}"
        for kind, name, extra in (("DaemonSet", "agent", ""), ("Deployment", "web", "  replicas: 1\n"))
    )


def _fake_nodes(p: Pair) -> set[str]:
    return {name_of(n) for n in items(p.kv, "nodes", "-l", FAKE)}


def _running(p: Pair, ns: str, selector: str) -> list[dict]:
    pods = items(p.kv, "pods", "-n", ns, "-l", selector)
    return [x for x in pods if (x.get("status") or {}).get("phase") == "Running"]


def _watch(p: Pair, *args: str) -> LineReader:
    fmt = '{.type} {.object.metadata.name} {.object.metadata.uid}{"\\n"}'
    return LineReader(p.kv.popen("get", *args, "--watch", "--output-watch-events", "-o", f"jsonpath={fmt}"))


def _added(lines: list[str]) -> set[str]:
    return {ln.split()[2] for ln in lines if ln.startswith("ADDED ")}


def _ds_status(p: Pair, ns: str) -> dict:
    ds = get_json(p.kv, "daemonset", "agent", "-n", ns)
    assert ds is not None
    return ds.get("status") or {}


def test_daemonset_alone_on_fake_nodes_settles(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "ds-settles")
    p.kv.apply(_manifests(ns))
    web = wait_until(lambda: _running(p, ns, "app=web"), 30, what="a Running web pod")
    node = web[0]["spec"]["nodeName"]
    assert _fake_nodes(p) == {node}
    agents = wait_until(lambda: _running(p, ns, "app=agent"), 30, what="a Running agent pod")
    assert [a["spec"]["nodeName"] for a in agents] == [node]
    assert _ds_status(p, ns).get("desiredNumberScheduled") == 1
    agent_uids = {a["metadata"]["uid"] for a in agents}
    node_uid = next(n["metadata"]["uid"] for n in items(p.kv, "nodes", "-l", FAKE))
    node_watch, pod_watch = _watch(p, "nodes", "-l", FAKE), _watch(p, "pods", "-n", ns, "-l", "app=agent")
    mark = len(p.vc.log_path.read_text())
    try:
        node_watch.wait_for(lambda ln: ln.startswith("ADDED "))
        pod_watch.wait_for(lambda ln: ln.startswith("ADDED "))
        p.kv("delete", "deployment", "web", "-n", ns)
        wait_until(lambda: not _fake_nodes(p), 30, what="the fake node gone")
        wait_until(lambda: _ds_status(p, ns).get("desiredNumberScheduled") == 0, 15, what="0 desired")
        # the agent pod stays bound to the missing node until PodGC collects it: do its deletion
        assert {a["metadata"]["uid"] for a in items(p.kv, "pods", "-n", ns, "-l", "app=agent")} == agent_uids
        p.kv("delete", "pods", "-n", ns, "-l", "app=agent", "--force", "--grace-period=0")
        wait_until(lambda: not host_pods(p, "app=agent"), 30, what="the agent's host pod gone")
        time.sleep(SETTLE)
        assert not _fake_nodes(p), "the fake node came back"
        assert not items(p.kv, "pods", "-n", ns, "-l", "app=agent"), "an agent pod was created again"
        assert not host_pods(p, "app=agent")
        status = _ds_status(p, ns)
        assert (status.get("desiredNumberScheduled"), status.get("currentNumberScheduled")) == (0, 0)
    finally:
        node_lines, _ = node_watch.stop()
        pod_lines, _ = pod_watch.stop()
        p.kv("delete", "daemonset", "agent", "-n", ns, "--ignore-not-found")
    assert _added(node_lines) == {node_uid}, f"fake node created again: {node_lines}"
    assert [ln.split()[0] for ln in node_lines].count("DELETED") == 1, node_lines
    assert _added(pod_lines) == agent_uids, f"agent pods created again: {pod_lines}"
    log = p.vc.log_path.read_text()[mark:]
    assert log.count(f"Delete fake node {node} as it is not needed anymore") == 1
    assert f"Create fake node {node}" not in log
    agent = name_of(agents[0])
    assert log.count(f"Delete host pod {ns}/{agent} ") == 1, "the agent's host pod deleted more than once"
    assert get_json(p.kh, "namespace", HOST_NS) is not None
