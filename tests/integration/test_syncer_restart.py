"""Crash safety: SIGKILL `vcluster start` in the middle of a 200-pod scale-up, change host labels
while it is down, start it again on the same data directory: it converges with no pod lost,
duplicated or orphaned, and the host-side changes survive (the three-way base is persisted)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from .conftest import Server
from .syncer_harness import (
    HOST_NS,
    MANAGED_BY,
    VC_NAME,
    annotations,
    edit_config,
    get_json,
    host_name,
    host_pods,
    items,
    labels,
    live_mappings,
    mapping_keys,
    name_of,
    pod_manifest,
    pod_running,
    start_pair,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

REPLICAS = 200


def test_sigkill_during_scale_up_converges(tmp_path: Path) -> None:
    p = start_pair(tmp_path)
    try:
        ns = virtual_namespace(p.kv, "scale")
        selector = f"{MANAGED_BY}={VC_NAME},vcluster.loft.sh/namespace={ns}"
        p.kv("create", "deployment", "big", "-n", ns, "--image=nginx", "--replicas=0")
        p.kv("scale", "deployment", "big", "-n", ns, f"--replicas={REPLICAS}")
        # kill it while the host has some but not all of the pods
        partial = wait_until(
            lambda: (hp := host_pods(p, selector)) and len(hp) >= 40 and hp, 30, 0.05, what="40 host pods"
        )
        running_before = {
            host_name(name_of(v), ns)
            for v in items(p.kv, "pods", "-n", ns)
            if v["status"].get("phase") == "Running"
        }
        p.vc.kill()
        assert len(partial) < REPLICAS, "the scale-up finished before the kill; nothing was tested"
        before = {name_of(h): h for h in host_pods(p, selector)}
        # host-side label changes while the syncer is down: on pods the virtual cluster had seen
        # Running (synced both ways before the kill) and on pods it had only just created
        fresh = sorted(set(before) - running_before)
        changed = sorted(running_before & set(before))[:5] + fresh[:3]
        assert len(changed) >= 3, (len(running_before), len(before))
        for hname in changed:
            p.kh("label", "pod", hname, "-n", HOST_NS, "crash=survivor")
        p.vc.start()

        def converged() -> bool:
            vpods = items(p.kv, "pods", "-n", ns)
            hpods = host_pods(p, selector)
            return (
                len(vpods) == REPLICAS
                and len(hpods) == REPLICAS
                and all(x["status"].get("phase") == "Running" for x in vpods)
                and all(x["status"].get("phase") == "Running" for x in hpods)
            )

        wait_until(converged, 90, 0.5, what=f"{REPLICAS} Running pods on both sides\n{p.logs()}")
        vpods = {name_of(v): v for v in items(p.kv, "pods", "-n", ns)}
        hpods = {name_of(h): h for h in host_pods(p, selector)}
        # no duplicates and no orphans: a one-to-one pairing by name and UID
        assert sorted(host_name(v, ns) for v in vpods) == sorted(hpods)
        for vname, v in vpods.items():
            h = hpods[host_name(vname, ns)]
            assert annotations(h)["vcluster.loft.sh/object-uid"] == v["metadata"]["uid"], vname
            assert v["status"].get("podIP") == h["status"].get("podIP"), vname
        all_host = [h for h in items(p.kh, "pods", "-n", HOST_NS) if labels(h).get(MANAGED_BY) == VC_NAME]
        assert len(all_host) == len(hpods) + len(
            [h for h in all_host if labels(h).get("vcluster.loft.sh/namespace") != ns]
        )
        # no pod lost: every host pod that existed at the kill is still there (same UID), and so is
        # its virtual pod (a started pod is never recreated)
        for hname, h in before.items():
            assert hname in hpods, f"host pod {hname} lost"
            assert hpods[hname]["metadata"]["uid"] == h["metadata"]["uid"], f"host pod {hname} recreated"
        # the host-side changes made while the syncer was down survive on both sides
        for hname in changed:
            vname = annotations(before[hname])["vcluster.loft.sh/object-name"]
            seen = "seen Running before the kill" if hname in running_before else "just created at the kill"
            assert labels(hpods[hname]).get("crash") == "survivor", (hname, seen, labels(hpods[hname]))
            assert labels(vpods[vname]).get("crash") == "survivor", (vname, seen, labels(vpods[vname]))
        deploy = get_json(p.kv, "deployment", "big", "-n", ns)
        assert deploy["status"].get("readyReplicas") == REPLICAS
        # every virtual node the pods run on is a Ready fake node
        for node in {v["spec"]["nodeName"] for v in vpods.values()}:
            n = get_json(p.kv, "node", node)
            conds = {c["type"]: c["status"] for c in ((n or {}).get("status") or {}).get("conditions") or []}
            assert conds.get("Ready") == "True", f"virtual node {node}: {(n or {}).get('status')}"
    finally:
        p.stop()


def test_a_mapping_lost_in_a_crash_is_migrated_back_before_anything_is_judged_unused(tmp_path: Path) -> None:
    """SIGKILL between a pod's host create and the save of its mapping leaves no record that the
    pod uses its ConfigMap (simulated here by removing the mapping while the process is down):
    the start rebuilds it from the pod (vCluster's Migrate) before the ConfigMap syncer decides
    the ConfigMap is unused, so the running pod's ConfigMap stays on the host."""
    p = start_pair(tmp_path)
    try:
        ns = virtual_namespace(p.kv, "migrate")
        p.kv("create", "configmap", "cfg", "-n", ns, "--from-literal=k=v")
        p.kv.create(
            pod_manifest("user", ns, spec_extra="  volumes:\n  - name: c\n    configMap: {name: cfg}\n")
        )
        wait_until(lambda: pod_running(p.kv, "user", ns), 30, what="pod Running")
        hcm = host_name("cfg", ns)
        assert get_json(p.kh, "configmap", hcm, "-n", HOST_NS) is not None
        key = f"/vcluster/mappings/v1/pod/{ns}/user"
        assert key in mapping_keys(p.vc.data_dir)
        p.vc.kill()
        with sqlite3.connect(p.vc.data_dir / "state.db") as db:
            db.execute("DELETE FROM kine WHERE name = ?", (key,))
        assert key not in mapping_keys(p.vc.data_dir)
        p.vc.start()
        wait_until(lambda: key in mapping_keys(p.vc.data_dir), 15, what="the mapping migrated back")
        assert "Migrated the mapping of pod" in p.vc.log_path.read_text()
        # give the ConfigMap syncer every chance to act on a wrong "unused"
        p.kv("label", "configmap", "cfg", "-n", ns, "touch=1")
        wait_until(
            lambda: labels(get_json(p.kh, "configmap", hcm, "-n", HOST_NS)).get("touch") == "1",
            15,
            what="the configmap synced after the restart",
        )
        assert get_json(p.kh, "configmap", hcm, "-n", HOST_NS) is not None, "the used ConfigMap was deleted"
        refs = live_mappings(p.vc.data_dir)[key].get("references") or []
        assert {(r["Kind"], r["VirtualName"]["Name"]) for r in refs} >= {("ConfigMap", "cfg")}
    finally:
        p.stop()


def test_host_changes_reach_a_pod_whose_base_was_lost_in_a_crash(tmp_path: Path) -> None:
    """SIGKILL between a pod's host create and the save of its sync base leaves a pair without a
    base (simulated here by removing the base while the process is down). The host-side changes
    made meanwhile, labels and annotations alike, reach the virtual pod after the restart instead
    of being taken for the state both sides agreed on."""
    p = start_pair(tmp_path)
    try:
        ns = virtual_namespace(p.kv, "lostbase")
        p.kv.create(pod_manifest("web", ns, labels_={"tier": "web", "drop": "me"}))
        p.kv("annotate", "pod", "web", "-n", ns, "note=virtual", "keep=1")
        hname = host_name("web", ns)
        wait_until(
            lambda: annotations(get_json(p.kh, "pod", hname, "-n", HOST_NS)).get("note") == "virtual",
            30,
            what="the annotation on the host pod",
        )
        key = f"/vcluster/syncbase/v1/pod/{ns}/web"
        p.vc.kill()
        with sqlite3.connect(p.vc.data_dir / "state.db") as db:
            assert db.execute("DELETE FROM kine WHERE name = ?", (key,)).rowcount > 0, "no base was saved"
        p.kh("label", "pod", hname, "-n", HOST_NS, "from-host=1", "drop-")
        p.kh("annotate", "pod", hname, "-n", HOST_NS, "--overwrite", "note=host", "added=on-host")
        p.vc.start()
        want_labels = {"tier": "web", "from-host": "1"}
        want_ann = {"note": "host", "added": "on-host", "keep": "1"}

        def agreed() -> bool:
            v = get_json(p.kv, "pod", "web", "-n", ns)
            h = get_json(p.kh, "pod", hname, "-n", HOST_NS)
            vl = {k: x for k, x in labels(v).items() if not k.startswith("vcluster.loft.sh/")}
            hl = {k: x for k, x in labels(h).items() if not k.startswith("vcluster.loft.sh/")}
            va = {k: annotations(v).get(k) for k in ("note", "added", "keep")}
            ha = {k: annotations(h).get(k) for k in ("note", "added", "keep")}
            return vl == hl == want_labels and va == ha == want_ann

        wait_until(agreed, 20, 0.2, what=f"the host changes on both sides\n{p.logs()}")
    finally:
        p.stop()


GC_CONFIG = """\
sync:
  toHost:
    ingresses:
      enabled: true
experimental:
  engine:
    mappingsGCInterval: 1
"""


def test_mapping_gc_collects_a_stale_ingress_mapping(tmp_path: Path) -> None:
    """§7.5: a mapping whose virtual and host objects are both gone is collected (the GC found the
    kind's controller for every kind, not only those whose plural is kind + "s")."""
    p = start_pair(tmp_path, config=GC_CONFIG)
    try:
        key = "/vcluster/mappings/networking.k8s.io/v1/ingress/default/ghost"
        value = {
            "Group": "networking.k8s.io",
            "Version": "v1",
            "Kind": "Ingress",
            "VirtualName": {"Namespace": "default", "Name": "ghost"},
            "HostName": {"Namespace": HOST_NS, "Name": host_name("ghost", "default")},
            "references": [
                {
                    "Group": "",
                    "Version": "v1",
                    "Kind": "Secret",
                    "VirtualName": {"Namespace": "default", "Name": "ghost-tls"},
                    "HostName": {"Namespace": HOST_NS, "Name": host_name("ghost-tls", "default")},
                }
            ],
        }
        p.vc.kill()  # a mapping left behind by a crash
        with sqlite3.connect(p.vc.data_dir / "state.db") as db:
            db.execute(
                "INSERT INTO kine (name, created, deleted, create_revision, prev_revision, lease, value, "
                "old_value) VALUES (?, 1, 0, 0, 0, 0, ?, NULL)",
                (key, json.dumps(value).encode()),
            )
        assert key in live_mappings(p.vc.data_dir)
        p.vc.start()
        wait_until(
            lambda: key not in live_mappings(p.vc.data_dir),
            20,
            what=f"the stale mapping collected\n{p.logs()}",
        )
        assert "Remove mapping as both virtual and host were not found" in p.vc.log_path.read_text()
    finally:
        p.stop()


def test_a_host_change_after_a_sync_survives_a_kill_right_after_it(tmp_path: Path) -> None:
    """The base of a pair is durable as soon as a change has been pushed to the other side: a
    SIGKILL a moment after a virtual label reached the host, then a host change to that label
    while the process is down, ends with the host's value (it is the newer change) on both sides
    instead of the virtual value winning a conflict against a stale base."""
    p = start_pair(tmp_path)
    try:
        ns = virtual_namespace(p.kv, "basekill")
        hname = host_name("web", ns)
        p.kv("create", "service", "clusterip", "web", "-n", ns, "--tcp=80")
        wait_until(lambda: get_json(p.kh, "service", hname, "-n", HOST_NS), 15, what="host copy")
        time.sleep(1.0)  # a pair at rest: its base is on disk
        p.kv("label", "service", "web", "-n", ns, "conf=v3")
        time.sleep(0.2)  # the push takes milliseconds; the kill comes well before any delayed write
        p.vc.kill()
        host_now = labels(get_json(p.kh, "service", hname, "-n", HOST_NS))
        assert host_now.get("conf") == "v3", f"the label had not reached the host before the kill: {host_now}"
        p.kh("label", "service", hname, "-n", HOST_NS, "conf=h2", "--overwrite")
        p.vc.start()
        wait_until(
            lambda: labels(get_json(p.kv, "service", "web", "-n", ns)).get("conf") == "h2",
            15,
            what=f"the host's newer label in the virtual cluster\n{p.logs()}",
        )
        assert labels(get_json(p.kh, "service", hname, "-n", HOST_NS)).get("conf") == "h2"
    finally:
        p.stop()


def test_changes_on_both_sides_while_the_syncer_is_down_all_survive(tmp_path: Path) -> None:
    """While the syncer is down the virtual API server alone (`vcluster apiserver` on the same data
    directory) takes a label and an annotation change, and the host takes others, on other keys:
    after the restart every change is on both sides (vCluster would push the virtual changes and
    drop the host's, leaving the two objects apart for good)."""
    p = start_pair(tmp_path)
    try:
        ns = virtual_namespace(p.kv, "bothdown")
        hname = host_name("web", ns)
        p.kv("create", "service", "clusterip", "web", "-n", ns, "--tcp=80")
        p.kv("label", "service", "web", "-n", ns, "shared=base", "v-drop=1", "h-drop=1")
        wait_until(
            lambda: labels(get_json(p.kh, "service", hname, "-n", HOST_NS)).get("h-drop") == "1", 15,
            what="the labels on the host copy",
        )  # fmt: skip
        time.sleep(1.0)  # a pair at rest: its base is on disk
        p.vc.stop()
        alone = Server(p.vc.data_dir, port=p.vc.port, controllers="namespace").start()
        try:
            p.kv("label", "service", "web", "-n", ns, "v-new=1", "v-drop-", "shared=virtual", "--overwrite")
            p.kv("annotate", "service", "web", "-n", ns, "v-note=1")
        finally:
            alone.stop()
        p.kh("label", "service", hname, "-n", HOST_NS, "h-new=1", "h-drop-", "shared=host", "--overwrite")
        p.kh("annotate", "service", hname, "-n", HOST_NS, "h-note=1")
        p.vc.start()
        want = {"shared": "virtual", "v-new": "1", "h-new": "1"}  # shared: changed on both, virtual wins

        def both_sides() -> tuple[dict[str, str], dict[str, str]]:
            v, h = get_json(p.kv, "service", "web", "-n", ns), get_json(p.kh, "service", hname, "-n", HOST_NS)
            crossing = ("shared", "v-new", "h-new", "v-drop", "h-drop", "v-note", "h-note")
            pick = lambda o: {k: x for k, x in {**labels(o), **annotations(o)}.items() if k in crossing}  # noqa: E731
            return pick(v), pick(h)

        expected = {**want, "v-note": "1", "h-note": "1"}
        wait_until(lambda: both_sides() == (expected, expected), 15, what=f"{both_sides()}\n{p.logs()}")
    finally:
        p.stop()


def test_a_restart_says_which_live_config_edits_its_config_replaces(tmp_path: Path) -> None:
    """The start writes its configuration to `<NAME>-config`; live edits made there since are
    replaced, and the log names them instead of relaxing e.g. a pod security level silently."""
    p = start_pair(tmp_path)
    try:
        edit_config(p, lambda c: c.setdefault("policies", {}).update(podSecurityStandard="restricted"))
        wait_until(
            lambda: (
                "applying configuration changes: policies.podSecurityStandard" in p.vc.log_path.read_text()
            ),
            15,
            what="the live edit applied",
        )
        p.vc.stop()
        p.vc.start()
        log = p.vc.log_path.read_text()
        assert "had live edits that this start's configuration replaces: policies.podSecurityStandard" in log
    finally:
        p.stop()
