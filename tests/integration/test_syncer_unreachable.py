"""The host goes away for a while (its process stopped, then started again on the same port and data
directory): the syncer keeps running, retries, and catches up with everything done meanwhile."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .syncer_harness import (
    HOST_NS,
    MANAGED_BY,
    VC_NAME,
    get_json,
    host_name,
    host_pods,
    items,
    labels,
    pod_manifest,
    pod_running,
    start_pair,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_host_unreachable_then_catches_up(tmp_path: Path) -> None:
    p = start_pair(tmp_path)
    try:
        ns = virtual_namespace(p.kv, "outage")
        p.kv.create(pod_manifest("early", ns))
        p.kv("create", "configmap", "early", "-n", ns, "--from-literal=a=b")
        p.kv("annotate", "configmap", "early", "-n", ns, "vcluster.loft.sh/force-sync=true")
        wait_until(lambda: pod_running(p.kv, "early", ns), 20, what="early pod Running")
        wait_until(lambda: get_json(p.kh, "configmap", host_name("early", ns), "-n", HOST_NS), 10, what="cm")
        port = p.host.port

        p.host.stop()
        # while the host is down: creates, updates and deletes in the virtual cluster
        p.kv.create(pod_manifest("during", ns))
        p.kv("create", "configmap", "during", "-n", ns, "--from-literal=a=b")
        p.kv("annotate", "configmap", "during", "-n", ns, "vcluster.loft.sh/force-sync=true")
        p.kv("patch", "configmap", "early", "-n", ns, "--type=merge", "-p", '{"data":{"a":"changed"}}')
        p.kv("label", "pod", "early", "-n", ns, "outage=seen")
        # a Service needs the host's ClusterIP at create: refused with 503, not a 500
        refused = p.kv.run("create", "service", "clusterip", "offline", "-n", ns, "--tcp=80", check=False)
        assert refused.returncode != 0
        assert "the host cluster is unreachable, try again later" in refused.stderr, refused.stderr
        assert "Internal error" not in refused.stderr
        time.sleep(2.0)  # let the syncer hit the dead host for a while (retries, backoff)
        assert p.vc.alive(), p.logs()
        assert "Traceback" not in p.vc.log_path.read_text()

        p.host.port = port
        p.host.start()
        assert p.host.port == port

        wait_until(
            lambda: get_json(p.kh, "configmap", host_name("during", ns), "-n", HOST_NS),
            30,
            what=f"configmap created during the outage\n{p.logs()}",
        )
        wait_until(
            lambda: (
                (get_json(p.kh, "configmap", host_name("early", ns), "-n", HOST_NS) or {}).get("data")
                == {"a": "changed"}
            ),
            20,
            what="configmap update made during the outage",
        )
        wait_until(
            lambda: (
                labels(get_json(p.kh, "pod", host_name("early", ns), "-n", HOST_NS)).get("outage") == "seen"
            ),
            20,
            what="label made during the outage on the host pod",
        )
        wait_until(lambda: pod_running(p.kv, "during", ns), 30, what="pod created during the outage Running")
        # and it is live again in both directions
        p.kh("label", "pod", host_name("during", ns), "-n", HOST_NS, "after=yes")
        wait_until(
            lambda: labels(get_json(p.kv, "pod", "during", "-n", ns)).get("after") == "yes",
            10,
            what="host label after the outage",
        )
        p.kv("delete", "configmap", "during", "-n", ns)
        wait_until(
            lambda: get_json(p.kh, "configmap", host_name("during", ns), "-n", HOST_NS) is None,
            10,
            what="delete after the outage",
        )
        managed = [h for h in host_pods(p) if labels(h).get(MANAGED_BY) == VC_NAME]
        vpods = items(p.kv, "pods", "-A")
        assert sorted(h["metadata"]["name"] for h in managed) == sorted(
            host_name(v["metadata"]["name"], v["metadata"]["namespace"]) for v in vpods
        )
        assert p.vc.alive()
    finally:
        p.stop()
