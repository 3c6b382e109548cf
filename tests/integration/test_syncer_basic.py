"""The syncer end to end with the default configuration: `vcluster host` plus `vcluster start`, driven
with the real kubectl on both sides (issue 5, "Tests"). One host + virtual cluster pair per module;
every test works in its own virtual namespace (except the `default`-namespace deployment test)."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import Kubectl
from .syncer_harness import (
    HOST_NS,
    MANAGED_BY,
    VC_NAME,
    Pair,
    annotations,
    events_for,
    get_json,
    hashed_label_key,
    host_name,
    host_pods,
    items,
    labels,
    live_mappings,
    mapping_keys,
    metric_samples,
    name_of,
    pair_fixture,
    pod_manifest,
    pod_running,
    safe_concat_name,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture()
HOST_POD_NAME = re.compile(rf"^testapp-[a-z0-9]+-[a-z0-9]{{5}}-x-default-x-{VC_NAME}$")


def _managed_host_pods(p: Pair, vns: str) -> list[dict]:
    return host_pods(p, f"{MANAGED_BY}={VC_NAME},vcluster.loft.sh/namespace={vns}")


def test_name_functions_match_spec_vectors() -> None:
    # the harness's own SafeConcatName against the spec's vectors (§1.2, §1.3, §2.2)
    assert host_name("nginx") == "nginx-x-default-x-my-vcluster"
    long = host_name("a" * 60)
    assert long == "a" * 52 + "-0b8eadb6c3" and len(long) == 63
    assert hashed_label_key("vcluster.loft.sh/label", "release", "suffix") == (
        "vcluster.loft.sh/label-suffix-x-a4d451ec23"
    )


def test_deployment_pods_run_on_host(pair: Pair) -> None:
    p = pair
    p.kv("create", "deployment", "testapp", "--image=nginx", "--replicas=2")

    def host_running() -> list[dict]:
        pods = host_pods(p, "app=testapp")
        return pods if len(pods) == 2 and all(x["status"].get("phase") == "Running" for x in pods) else []

    hpods = wait_until(host_running, 20, what="two Running host pods")
    for hp in hpods:
        assert HOST_POD_NAME.match(name_of(hp)), name_of(hp)
        assert hp["metadata"]["namespace"] == HOST_NS
        assert labels(hp)[MANAGED_BY] == VC_NAME
        assert labels(hp)["vcluster.loft.sh/namespace"] == "default"
        ann = annotations(hp)
        assert ann["vcluster.loft.sh/object-kind"] == "/v1, Kind=Pod"
        assert ann["vcluster.loft.sh/object-host-name"] == name_of(hp)
        assert host_name(ann["vcluster.loft.sh/object-name"]) == name_of(hp)
        # the pod runs as the workload service account, with the virtual cluster's DNS
        assert hp["spec"]["serviceAccountName"] == f"vc-workload-{VC_NAME}"
        assert hp["spec"]["automountServiceAccountToken"] is False
        assert hp["spec"]["dnsPolicy"] == "None"

    def virtual_running() -> list[dict]:
        pods = items(p.kv, "pods", "-l", "app=testapp")
        ok = len(pods) == 2 and all(
            x["status"].get("phase") == "Running" and x["status"].get("podIP") for x in pods
        )
        return pods if ok else []

    vpods = wait_until(virtual_running, 15, what="two Running virtual pods")
    by_host = {name_of(hp): hp for hp in hpods}
    for vp in vpods:
        hp = by_host[host_name(name_of(vp))]
        assert vp["status"]["podIP"] == hp["status"]["podIP"]
        assert vp["spec"]["nodeName"] == hp["spec"]["nodeName"]
        # the node is a fake node of the host's node, Ready (spec §9.2)
        node = get_json(p.kv, "node", vp["spec"]["nodeName"])
        assert node is not None and labels(node).get("vcluster.loft.sh/fake-node") == "true"
        # the pod's hostIP is its virtual node's InternalIP (proxyKubelets.byIP), as in vCluster
        internal = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"]
        assert [vp["status"]["hostIP"]] == internal and hp["status"]["hostIP"] not in internal
        conds = {c["type"]: c["status"] for c in (node.get("status") or {}).get("conditions") or []}
        assert conds.get("Ready") == "True", f"fake node {name_of(node)} not Ready: {node.get('status')}"
        assert (node.get("status") or {}).get("capacity", {}).get("pods") == "110"
    # kubectl's own view of the virtual pods
    out = p.kv("get", "pods", "-l", "app=testapp", "-o", "wide")
    assert out.count("Running") == 2


def _managers(k: Kubectl, *args: str) -> set[tuple[str, str, str]]:
    """(manager, operation, subresource) of every managedFields entry of one object."""
    out = k("get", *args, "-o", "json", "--show-managed-fields")
    entries = json.loads(out)["metadata"].get("managedFields") or []
    return {(e["manager"], e["operation"], e.get("subresource", "")) for e in entries}


def test_each_component_writes_as_itself(pair: Pair) -> None:
    # as in vCluster on a k8s distro: kube-controller-manager makes the virtual pod, the syncer
    # (user agent "vcluster") writes its status and makes the host pod, the host's kubelet its status
    p, ns = pair, virtual_namespace(pair.kv, "managers")
    p.kv("create", "deployment", "fm", "--image=nginx", "-n", ns)
    vpod = wait_until(
        lambda: [x for x in items(p.kv, "pods", "-n", ns) if x["status"].get("phase") == "Running"],
        20,
        what="a Running virtual pod",
    )[0]
    hname = host_name(name_of(vpod), ns)
    assert _managers(p.kv, "pod", name_of(vpod), "-n", ns) == {
        ("kube-controller-manager", "Update", ""),
        ("vcluster", "Update", "status"),
    }
    assert _managers(p.kh, "pod", hname, "-n", HOST_NS) == {
        ("vcluster", "Update", ""),
        ("kubelet", "Update", "status"),
    }
    rs = items(p.kv, "rs", "-n", ns)[0]
    assert ("kube-controller-manager", "Update", "") in _managers(p.kv, "rs", name_of(rs), "-n", ns)


def test_labels_flow_both_ways(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "labels")
    p.kv.create(pod_manifest("lab", ns, labels_={"app": "lab"}))
    hname = host_name("lab", ns)
    wait_until(lambda: get_json(p.kh, "pod", hname, "-n", HOST_NS), 15, what="host pod")
    # host → virtual
    p.kh("label", "pod", hname, "-n", HOST_NS, "from-host=yes")
    wait_until(
        lambda: labels(get_json(p.kv, "pod", "lab", "-n", ns)).get("from-host") == "yes",
        10,
        what="host label on the virtual pod",
    )
    # virtual → host
    p.kv("label", "pod", "lab", "-n", ns, "from-virtual=yes")
    wait_until(
        lambda: labels(get_json(p.kh, "pod", hname, "-n", HOST_NS)).get("from-virtual") == "yes",
        10,
        what="virtual label on the host pod",
    )
    # a removal on the host side is a removal on the virtual side too
    p.kh("label", "pod", hname, "-n", HOST_NS, "from-host-")
    wait_until(
        lambda: "from-host" not in labels(get_json(p.kv, "pod", "lab", "-n", ns)),
        10,
        what="host label removal on the virtual pod",
    )
    # annotations too
    p.kv("annotate", "pod", "lab", "-n", ns, "note=hello")
    wait_until(
        lambda: annotations(get_json(p.kh, "pod", hname, "-n", HOST_NS)).get("note") == "hello",
        10,
        what="virtual annotation on the host pod",
    )
    hp = get_json(p.kh, "pod", hname, "-n", HOST_NS)
    assert labels(hp)["from-virtual"] == "yes" and labels(hp)["app"] == "lab"
    # the virtual namespace's labels show up as ns-label keys (spec §2.2)
    nskey = hashed_label_key("vcluster.loft.sh/ns-label", "kubernetes.io/metadata.name")
    assert labels(hp)[nskey] == ns
    vp = get_json(p.kv, "pod", "lab", "-n", ns)
    assert not any(k.startswith("vcluster.loft.sh/") for k in labels(vp)), labels(vp)


def test_reserved_label_key_is_hashed(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "reserved")
    p.kv.create(pod_manifest("rel", ns, labels_={"release": "v1"}))
    hname = host_name("rel", ns)
    hp = wait_until(lambda: get_json(p.kh, "pod", hname, "-n", HOST_NS), 15, what="host pod")
    key = hashed_label_key("vcluster.loft.sh/label", "release")
    assert labels(hp).get(key) == "v1" and "release" not in labels(hp), labels(hp)
    # and back: a host change of the hashed key is the virtual `release` label
    p.kh("label", "--overwrite", "pod", hname, "-n", HOST_NS, f"{key}=v2")
    wait_until(
        lambda: labels(get_json(p.kv, "pod", "rel", "-n", ns)).get("release") == "v2",
        10,
        what="release=v2 on the virtual pod",
    )


def test_configmap_reference_rewritten_and_unused_not_synced(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "refs")
    p.kv("create", "configmap", "used", "-n", ns, "--from-literal=k=v")
    p.kv("create", "configmap", "unused", "-n", ns, "--from-literal=k=v")
    p.kv("create", "configmap", "envonly", "-n", ns, "--from-literal=greeting=hi")
    spec = "  volumes:\n  - name: cfg\n    configMap:\n      name: used\n"
    manifest = pod_manifest("user", ns, spec_extra=spec).replace(
        "    image: nginx\n",
        "    image: nginx\n    env:\n    - name: GREETING\n      valueFrom:\n        configMapKeyRef:\n"
        "          name: envonly\n          key: greeting\n"
        "    volumeMounts:\n    - name: cfg\n      mountPath: /cfg\n",
    )
    p.kv.create(manifest)
    used, envonly = host_name("used", ns), host_name("envonly", ns)
    hcm = wait_until(lambda: get_json(p.kh, "configmap", used, "-n", HOST_NS), 15, what="host configmap")
    assert hcm["data"] == {"k": "v"}
    assert labels(hcm)[MANAGED_BY] == VC_NAME
    assert annotations(hcm)["vcluster.loft.sh/object-name"] == "used"
    assert wait_until(lambda: get_json(p.kh, "configmap", envonly, "-n", HOST_NS), 10, what="env configmap")
    hp = wait_until(lambda: get_json(p.kh, "pod", host_name("user", ns), "-n", HOST_NS), 10, what="host pod")
    vols = {v["name"]: v for v in hp["spec"]["volumes"]}
    assert vols["cfg"]["configMap"]["name"] == used
    main = next(c for c in hp["spec"]["containers"] if c["name"] == "main")
    env = {e["name"]: e for e in main.get("env") or []}
    assert env["GREETING"]["valueFrom"]["configMapKeyRef"]["name"] == envonly
    # the pod runs, and the unused configmap never reached the host
    wait_until(lambda: pod_running(p.kv, "user", ns), 15, what="virtual pod Running")
    # its configmaps reached the host before it: the host kubelet never failed to mount or to
    # resolve them (no FailedMount / Failed event on either side, no host name leaking)
    host_events = events_for(p.kh, HOST_NS, host_name("user", ns))
    virtual_events = events_for(p.kv, ns, "user")
    assert any(e["reason"] == "Started" for e in virtual_events), virtual_events
    for e in host_events + virtual_events:
        assert e["reason"] not in ("FailedMount", "Failed"), e
    assert get_json(p.kh, "configmap", host_name("unused", ns), "-n", HOST_NS) is None
    # force-sync makes an unused one appear (spec §2.5); data edits flow to the host
    p.kv("annotate", "configmap", "unused", "-n", ns, "vcluster.loft.sh/force-sync=true")
    wait_until(
        lambda: get_json(p.kh, "configmap", host_name("unused", ns), "-n", HOST_NS), 10, what="force-sync"
    )
    p.kv("patch", "configmap", "used", "-n", ns, "--type=merge", "-p", '{"data":{"k":"v2"}}')
    wait_until(
        lambda: (get_json(p.kh, "configmap", used, "-n", HOST_NS) or {}).get("data") == {"k": "v2"},
        10,
        what="configmap data update on the host",
    )


def test_configmap_used_again_after_its_pod_is_gone(pair: Pair) -> None:
    """A configmap whose only user went away and that a new pod uses again is synced again (and the
    virtual configmap, the user's data, is never deleted on the way)."""
    p, ns = pair, virtual_namespace(pair.kv, "reuse")
    p.kv("create", "configmap", "shared", "-n", ns, "--from-literal=k=v")
    uses = "    image: nginx\n    envFrom:\n    - configMapRef:\n        name: shared\n"
    p.kv.create(pod_manifest("first", ns).replace("    image: nginx\n", uses))
    hcm = host_name("shared", ns)
    wait_until(lambda: get_json(p.kh, "configmap", hcm, "-n", HOST_NS), 15, what="host configmap")
    wait_until(lambda: pod_running(p.kv, "first", ns), 15, what="first pod Running")
    p.kv("delete", "pod", "first", "-n", ns)
    wait_until(
        lambda: get_json(p.kh, "pod", host_name("first", ns), "-n", HOST_NS) is None, 15, what="host pod gone"
    )
    p.kv.create(pod_manifest("second", ns).replace("    image: nginx\n", uses))
    wait_until(lambda: get_json(p.kh, "pod", host_name("second", ns), "-n", HOST_NS), 15, what="second pod")
    wait_until(lambda: get_json(p.kh, "configmap", hcm, "-n", HOST_NS), 10, what="host configmap again")
    assert get_json(p.kv, "configmap", "shared", "-n", ns) is not None, "the virtual configmap was deleted"
    wait_until(lambda: pod_running(p.kv, "second", ns), 15, what="second pod Running")
    assert get_json(p.kv, "configmap", "shared", "-n", ns) is not None, "the virtual configmap was deleted"


def test_service_same_cluster_ip_and_translated_selector(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "svc")
    out = json.loads(p.kv("create", "service", "clusterip", "web", "-n", ns, "--tcp=80:8080", "-o", "json"))
    vip = out["spec"].get("clusterIP")
    hname = host_name("web", ns)
    hs = wait_until(lambda: get_json(p.kh, "service", hname, "-n", HOST_NS), 10, what="host service")
    assert vip and vip == hs["spec"]["clusterIP"], (vip, hs["spec"].get("clusterIP"))
    vs = get_json(p.kv, "service", "web", "-n", ns)
    assert vs["spec"]["clusterIP"] == hs["spec"]["clusterIP"]
    assert hs["spec"]["selector"] == {
        "app": "web",
        MANAGED_BY: VC_NAME,
        "vcluster.loft.sh/namespace": ns,
    }
    # a selector change in the virtual cluster is translated onto the host
    p.kv("set", "selector", "service", "web", "-n", ns, "tier=front")
    wait_until(
        lambda: (
            (get_json(p.kh, "service", hname, "-n", HOST_NS) or {}).get("spec", {}).get("selector")
            == {"tier": "front", MANAGED_BY: VC_NAME, "vcluster.loft.sh/namespace": ns}
        ),
        10,
        what="translated selector update",
    )
    # the virtual default/kubernetes service mirrors the host service of the virtual cluster
    hk = get_json(p.kh, "service", VC_NAME, "-n", HOST_NS)
    vk = get_json(p.kv, "service", "kubernetes", "-n", "default")
    assert vk["spec"]["clusterIP"] == hk["spec"]["clusterIP"]


def test_host_events_in_kubectl_describe(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "events")
    p.kv.create(pod_manifest("ev", ns))
    wait_until(lambda: pod_running(p.kv, "ev", ns), 20, what="virtual pod Running")

    def described() -> str:
        out = p.kv("describe", "pod", "ev", "-n", ns)
        return out if re.search(r"Started\s+\S+\s+kubelet", out) else ""

    out = wait_until(described, 10, what="kubelet events in describe")
    events_part = out.split("Events:", 1)[1]
    assert "Pulled" in events_part and "Created" in events_part
    # messages are about the virtual pod, not the host one
    assert f"-x-{ns}-x-{VC_NAME}" not in events_part, events_part
    vev = [e for e in events_for(p.kv, ns, "ev") if e.get("reason") == "Started"]
    assert vev and vev[0]["involvedObject"]["namespace"] == ns
    vpod = get_json(p.kv, "pod", "ev", "-n", ns)
    assert vev[0]["involvedObject"].get("uid") == vpod["metadata"]["uid"]
    # a later host update of the event (the count of a repeated event) reaches its virtual copy
    hev = [e for e in events_for(p.kh, HOST_NS, host_name("ev", ns)) if e.get("reason") == "Started"]
    assert hev
    p.kh("patch", "event", hev[0]["metadata"]["name"], "-n", HOST_NS, "--type=merge", "-p", '{"count": 7}')

    def bumped() -> bool:
        return any(e.get("reason") == "Started" and e.get("count") == 7 for e in events_for(p.kv, ns, "ev"))

    wait_until(bumped, 10, what="the count of the host event on the virtual event")


def test_deleting_virtual_objects_deletes_host_objects(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "deletes")
    p.kv("create", "deployment", "gone", "-n", ns, "--image=nginx", "--replicas=2")
    p.kv("create", "service", "clusterip", "gone", "-n", ns, "--tcp=80:80")
    p.kv("create", "configmap", "gone", "-n", ns, "--from-literal=a=b")
    p.kv("annotate", "configmap", "gone", "-n", ns, "vcluster.loft.sh/force-sync=true")
    wait_until(lambda: len(_managed_host_pods(p, ns)) == 2, 20, what="two host pods")
    wait_until(lambda: get_json(p.kh, "configmap", host_name("gone", ns), "-n", HOST_NS), 10, what="host cm")
    assert get_json(p.kh, "service", host_name("gone", ns), "-n", HOST_NS)
    p.kv("delete", "deployment", "gone", "-n", ns, "--wait=false")
    p.kv("delete", "service", "gone", "-n", ns)
    p.kv("delete", "configmap", "gone", "-n", ns)
    wait_until(lambda: not _managed_host_pods(p, ns), 20, what="host pods deleted")
    wait_until(
        lambda: get_json(p.kh, "service", host_name("gone", ns), "-n", HOST_NS) is None,
        10,
        what="host svc gone",
    )
    wait_until(
        lambda: get_json(p.kh, "configmap", host_name("gone", ns), "-n", HOST_NS) is None,
        10,
        what="host cm gone",
    )
    wait_until(lambda: not items(p.kv, "pods", "-n", ns), 15, what="virtual pods deleted")


def test_deleting_host_pod_makes_replicaset_replace_it(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "replace")
    p.kv("create", "deployment", "web", "-n", ns, "--image=nginx", "--replicas=2")

    def two_running() -> list[dict]:
        pods = _managed_host_pods(p, ns)
        return pods if len(pods) == 2 and all(x["status"].get("phase") == "Running" for x in pods) else []

    before = wait_until(two_running, 20, what="two Running host pods")
    victim = before[0]
    vname = annotations(victim)["vcluster.loft.sh/object-name"]
    vuid = get_json(p.kv, "pod", vname, "-n", ns)["metadata"]["uid"]
    p.kh("delete", "pod", name_of(victim), "-n", HOST_NS, "--wait=false")

    # the virtual pod goes away (a started pod is never recreated on the host)...
    def virtual_gone() -> bool:
        vp = get_json(p.kv, "pod", vname, "-n", ns)
        return vp is None or vp["metadata"]["uid"] != vuid

    wait_until(virtual_gone, 15, what=f"virtual pod {vname} deleted")

    # ...and the virtual replicaset creates a replacement that runs on the host
    def replaced() -> list[dict]:
        pods = two_running()
        names = {name_of(x) for x in pods}
        return pods if len(names) == 2 and name_of(victim) not in names else []

    after = wait_until(replaced, 25, what="a replacement host pod")
    vpods = items(p.kv, "pods", "-n", ns)
    assert sorted(host_name(name_of(v), ns) for v in vpods) == sorted(name_of(h) for h in after)


def test_long_names_hashed_as_spec(pair: Pair) -> None:
    p = pair
    ns = virtual_namespace(p.kv, "longnames")
    pod = "a" * 60
    p.kv.create(pod_manifest(pod, ns))
    expected = safe_concat_name(pod, "x", ns, "x", VC_NAME)
    assert len(expected) == 63
    hp = wait_until(lambda: get_json(p.kh, "pod", expected, "-n", HOST_NS), 15, what=f"host pod {expected}")
    assert annotations(hp)["vcluster.loft.sh/object-name"] == pod
    assert hp["spec"]["hostname"] == pod  # spec §3.3: the virtual name, not the long host one
    # the spec's own vector, in namespace default
    p.kv.create(pod_manifest("a" * 60, "default"))
    vec = "a" * 52 + "-0b8eadb6c3"
    assert wait_until(lambda: get_json(p.kh, "pod", vec, "-n", HOST_NS), 15, what=f"host pod {vec}")
    # a cut that ends in '.' collapses '.-' (62 characters)
    cm = "b" * 51 + ".cfg-" + "c" * 20
    expected_cm = safe_concat_name(cm, "x", ns, "x", VC_NAME)
    assert len(expected_cm) == 62 and ".-" not in expected_cm
    p.kv("create", "configmap", cm, "-n", ns, "--from-literal=a=b")
    p.kv("annotate", "configmap", cm, "-n", ns, "vcluster.loft.sh/force-sync=true")
    assert wait_until(
        lambda: get_json(p.kh, "configmap", expected_cm, "-n", HOST_NS), 10, what=f"host cm {expected_cm}"
    )
    # kube-root-ca.crt is special (spec §1.6)
    assert get_json(p.kh, "configmap", f"vcluster-kube-root-ca.crt-x-{VC_NAME}", "-n", HOST_NS)


def test_mappings_listed_in_state_db(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "maps")
    p.kv("create", "secret", "generic", "creds", "-n", ns, "--from-literal=pw=x")
    manifest = pod_manifest("mapped", ns).replace(
        "    image: nginx\n",
        "    image: nginx\n    envFrom:\n    - secretRef:\n        name: creds\n",
    )
    p.kv.create(manifest)
    wait_until(
        lambda: get_json(p.kh, "secret", host_name("creds", ns), "-n", HOST_NS), 15, what="host secret"
    )
    key = f"/vcluster/mappings/v1/pod/{ns}/mapped"
    wait_until(lambda: key in mapping_keys(p.vc.data_dir), 10, what=key)
    # the synced secret is an owner of its own (spec §7.3)
    secret_key = f"/vcluster/mappings/v1/secret/{ns}/creds"
    wait_until(lambda: secret_key in mapping_keys(p.vc.data_dir), 10, what=secret_key)
    value = live_mappings(p.vc.data_dir)[key]
    assert value["Kind"] == "Pod" and value["Version"] == "v1" and value["Group"] == ""
    assert value["VirtualName"] == {"Namespace": ns, "Name": "mapped"}
    assert value["HostName"] == {"Namespace": HOST_NS, "Name": host_name("mapped", ns)}
    refs = {(r["Kind"], r["VirtualName"]["Name"]): r for r in value.get("references") or []}
    assert ("Secret", "creds") in refs, value
    assert refs[("Secret", "creds")]["HostName"] == {"Namespace": HOST_NS, "Name": host_name("creds", ns)}


def test_collision_with_unmanaged_host_object(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "clash")
    hname = host_name("clash", ns)
    p.kh("create", "configmap", hname, "-n", HOST_NS, "--from-literal=owner=host")
    before = get_json(p.kh, "configmap", hname, "-n", HOST_NS)
    p.kv("create", "configmap", "clash", "-n", ns, "--from-literal=owner=virtual")
    p.kv("annotate", "configmap", "clash", "-n", ns, "vcluster.loft.sh/force-sync=true")
    ev = wait_until(
        lambda: [e for e in events_for(p.kv, ns, "clash") if e.get("reason") == "SyncError"],
        10,
        what="SyncError event on the virtual configmap",
    )
    assert ev[0]["type"] == "Warning"
    # a pod too
    p.kh.create(pod_manifest(host_name("clashpod", ns), HOST_NS))
    hpod_before = get_json(p.kh, "pod", host_name("clashpod", ns), "-n", HOST_NS)
    p.kv.create(pod_manifest("clashpod", ns))
    wait_until(
        lambda: [e for e in events_for(p.kv, ns, "clashpod") if e.get("reason") == "SyncError"],
        10,
        what="SyncError event on the virtual pod",
    )
    after = get_json(p.kh, "configmap", hname, "-n", HOST_NS)
    assert after["data"] == {"owner": "host"}
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert MANAGED_BY not in labels(after)
    hpod_after = get_json(p.kh, "pod", host_name("clashpod", ns), "-n", HOST_NS)
    assert hpod_after["metadata"]["uid"] == hpod_before["metadata"]["uid"]
    assert MANAGED_BY not in labels(hpod_after)
    # the virtual pod's logs and exec never reach the host pod of that name (someone else's),
    # even for a pod created with a node name (the API server's own "no host" check passes)
    node = name_of(items(p.kh, "nodes")[0])
    p.kh.create(pod_manifest(host_name("clashexec", ns), HOST_NS))
    p.kv.create(pod_manifest("clashexec", ns, spec_extra=f"  nodeName: {node}\n"))
    wait_until(
        lambda: [e for e in events_for(p.kv, ns, "clashexec") if e.get("reason") == "SyncError"],
        10,
        what="SyncError event on the virtual pod with a node name",
    )
    for cmd in (("logs", "clashpod", "-n", ns), ("exec", "clashexec", "-n", ns, "--", "hostname")):
        out = p.kv.run(*cmd, check=False)
        assert out.returncode != 0, (cmd, out.stdout)
        assert f'pod "{cmd[1]}" is not running in the host cluster yet' in out.stderr, out.stderr


def test_service_whose_host_name_is_taken(pair: Pair) -> None:
    """A virtual Service whose host name an unmanaged host Service has: refused at create with a
    message naming the host object (the ClusterIP comes from the host, so nothing is stored)."""
    p, ns = pair, virtual_namespace(pair.kv, "svcclash")
    hname = host_name("taken", ns)
    p.kh("create", "service", "clusterip", hname, "-n", HOST_NS, "--tcp=80")
    out = p.kv.run("create", "service", "clusterip", "taken", "-n", ns, "--tcp=80", check=False)
    assert out.returncode != 0
    assert f"the host cluster already has a Service {HOST_NS}/{hname}" in out.stderr, out.stderr
    assert get_json(p.kv, "service", "taken", "-n", ns) is None
    assert MANAGED_BY not in labels(get_json(p.kh, "service", hname, "-n", HOST_NS))


def test_reference_to_a_name_an_unmanaged_host_object_has(pair: Pair) -> None:
    """A pod using a ConfigMap whose host name an object of someone else already has: that object
    is not adopted, changed or deleted (referencing a name proves no ownership), and the pod is
    held back with an event rather than started on the foreign data."""
    p, ns = pair, virtual_namespace(pair.kv, "refclash")
    hname = host_name("victim", ns)
    p.kh("create", "configmap", hname, "-n", HOST_NS, "--from-literal=owner=host")
    before = get_json(p.kh, "configmap", hname, "-n", HOST_NS)
    p.kv("create", "configmap", "victim", "-n", ns, "--from-literal=owner=virtual")
    volume = "  volumes:\n  - name: c\n    configMap: {name: victim}\n"
    p.kv.create(pod_manifest("reader", ns, spec_extra=volume))
    ev = wait_until(
        lambda: [e for e in events_for(p.kv, ns, "reader") if e.get("reason") == "SyncError"],
        15,
        what="SyncError event on the pod",
    )
    assert f"would be read from host object {HOST_NS}/{hname}" in ev[0]["message"], ev[0]["message"]
    assert get_json(p.kh, "pod", host_name("reader", ns), "-n", HOST_NS) is None
    p.kv("delete", "configmap", "victim", "-n", ns)
    p.kv("create", "configmap", "victim", "-n", ns, "--from-literal=owner=virtual-again")
    p.kv("delete", "configmap", "victim", "-n", ns)
    after = get_json(p.kh, "configmap", hname, "-n", HOST_NS)
    assert after is not None, "the unmanaged host configmap was deleted"
    assert after["data"] == {"owner": "host"}
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert MANAGED_BY not in labels(after)


def test_kube_root_ca_host_copy_comes_back(pair: Pair) -> None:
    """Every namespace's kube-root-ca.crt maps to one host ConfigMap; deleted on the host (with
    pods in several namespaces referencing it), it is created again."""
    p = pair
    for vns in ("rootca-a", "rootca-b"):
        ns = virtual_namespace(p.kv, vns)
        p.kv.create(pod_manifest("p", ns))
        wait_until(lambda ns=ns: pod_running(p.kv, "p", ns), 30, what=f"pod in {ns} Running")
    hname = safe_concat_name("vcluster", "kube-root-ca.crt", "x", VC_NAME)
    first = get_json(p.kh, "configmap", hname, "-n", HOST_NS)
    assert first is not None
    p.kh("delete", "configmap", hname, "-n", HOST_NS)
    again = wait_until(
        lambda: (c := get_json(p.kh, "configmap", hname, "-n", HOST_NS)) and c, 15, what="the host copy back"
    )
    assert again["metadata"]["uid"] != first["metadata"]["uid"]
    assert again["data"] == first["data"]


def test_ingress_not_synced_when_disabled(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "noing")
    p.kv("create", "ingress", "web", "-n", ns, "--rule=example.com/=web:80")
    p.kv("create", "configmap", "marker", "-n", ns, "--from-literal=a=b")
    p.kv("annotate", "configmap", "marker", "-n", ns, "vcluster.loft.sh/force-sync=true")
    # once a later object has been synced, the ingress would have been too
    wait_until(lambda: get_json(p.kh, "configmap", host_name("marker", ns), "-n", HOST_NS), 10, what="marker")
    assert get_json(p.kh, "ingress", host_name("web", ns), "-n", HOST_NS) is None
    ours = [i for i in items(p.kh, "ingresses", "-n", HOST_NS) if labels(i).get(MANAGED_BY) == VC_NAME]
    assert ours == []


def test_orphan_host_object_without_virtual_is_deleted(pair: Pair) -> None:
    """A host object carrying this virtual cluster's full annotation set but no virtual counterpart
    is an orphan (spec §8.5) and is deleted."""
    p, ns = pair, virtual_namespace(pair.kv, "orphans")
    hname = host_name("ghost", ns)
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": hname,
            "namespace": HOST_NS,
            "labels": {MANAGED_BY: VC_NAME, "vcluster.loft.sh/namespace": ns},
            "annotations": {
                "vcluster.loft.sh/object-name": "ghost",
                "vcluster.loft.sh/object-namespace": ns,
                "vcluster.loft.sh/object-kind": "/v1, Kind=ConfigMap",
                "vcluster.loft.sh/object-host-name": hname,
                "vcluster.loft.sh/object-host-namespace": HOST_NS,
            },
        },
        "data": {"a": "b"},
    }
    p.kh.create(json.dumps(manifest))
    wait_until(
        lambda: get_json(p.kh, "configmap", hname, "-n", HOST_NS) is None, 10, what="orphan host cm deleted"
    )
    assert get_json(p.kv, "configmap", "ghost", "-n", ns) is None


def test_pod_referencing_missing_configmap(pair: Pair) -> None:
    """The pod is synced; the configmap follows as soon as it exists in the virtual cluster."""
    p, ns = pair, virtual_namespace(pair.kv, "latecm")
    vol = "  volumes:\n  - name: cfg\n    configMap:\n      name: late\n"
    mount = "    image: nginx\n    volumeMounts:\n    - {name: cfg, mountPath: /cfg}\n"
    p.kv.create(pod_manifest("waits", ns, spec_extra=vol).replace("    image: nginx\n", mount))
    hp = wait_until(lambda: get_json(p.kh, "pod", host_name("waits", ns), "-n", HOST_NS), 15, what="host pod")
    assert {v["name"]: v for v in hp["spec"]["volumes"]}["cfg"]["configMap"]["name"] == host_name("late", ns)
    assert get_json(p.kh, "configmap", host_name("late", ns), "-n", HOST_NS) is None
    # as on a real host, the kubelet cannot mount it: the pod waits, and the virtual pod says why
    vpod = wait_until(
        lambda: (
            any(e["reason"] == "FailedMount" for e in events_for(p.kv, ns, "waits"))
            and p.kv.get_json("pod", "waits", "-n", ns)
        ),
        15,
        what="FailedMount event copied to the virtual pod",
    )
    assert vpod["status"]["phase"] == "Pending"
    # kubelet's message names the host ConfigMap; the virtual event names the user's (the first
    # copy may race the pod's mapping; the kubelet's retry updates it)
    failed = wait_until(
        lambda: next(
            (
                e
                for e in events_for(p.kv, ns, "waits")
                if e["reason"] == "FailedMount" and 'configmap "late" not found' in e["message"]
            ),
            None,
        ),
        10,
        what="the FailedMount message with the virtual ConfigMap name",
    )
    assert host_name("late", ns) not in failed["message"]
    waiting = vpod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ContainerCreating", waiting
    p.kv("create", "configmap", "late", "-n", ns, "--from-literal=a=b")
    wait_until(
        lambda: get_json(p.kh, "configmap", host_name("late", ns), "-n", HOST_NS),
        10,
        what="late configmap synced",
    )
    wait_until(lambda: pod_running(p.kv, "waits", ns), 15, what="the pod Running once its configmap exists")


def test_host_deletion_deletes_virtual_service(pair: Pair) -> None:
    """Spec §8.5: a host object deleted behind the syncer's back takes its virtual object along."""
    p, ns = pair, virtual_namespace(pair.kv, "hostdel")
    p.kv("create", "service", "clusterip", "doomed", "-n", ns, "--tcp=80:80")
    hname = host_name("doomed", ns)
    wait_until(lambda: get_json(p.kh, "service", hname, "-n", HOST_NS), 10, what="host service")
    p.kh("delete", "service", hname, "-n", HOST_NS)
    wait_until(
        lambda: get_json(p.kv, "service", "doomed", "-n", ns) is None, 10, what="virtual service deleted"
    )
    assert get_json(p.kh, "service", hname, "-n", HOST_NS) is None


def test_sync_decisions_logged_and_measured(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "observe")
    p.kv.create(pod_manifest("seen", ns))
    hname = host_name("seen", ns)
    wait_until(lambda: get_json(p.kh, "pod", hname, "-n", HOST_NS), 15, what="host pod")
    log = wait_until(
        lambda: (t := p.vc.log_path.read_text()) and f"{ns}/seen" in t and hname in t and t,
        5,
        what="log line",
    )
    line = next(ln for ln in log.splitlines() if f"{ns}/seen" in ln and hname in ln)
    assert "pod" in line.lower() and "create" in line.lower(), line
    assert "host cluster is Kubernetes 1.32" in log  # read from the host's /version at start
    # every write names the kind, the virtual and the host object: the bind and the status copy too
    want = [
        f"Create host pod {ns}/seen (host {HOST_NS}/{hname})",
        f"Bind virtual pod {ns}/seen (host {HOST_NS}/{hname}), to node ",
    ]
    want.append(f"Update virtual status pod {ns}/seen (host {HOST_NS}/{hname})")
    wait_until(lambda: all(w in p.vc.log_path.read_text() for w in want), 15, what=f"log lines {want}")
    samples = metric_samples(p.vc)
    kinds = {lab.get("kind") for n, lab, _ in samples if n.startswith("vcluster_syncer_")}
    assert {"pod", "configmap", "service"} <= kinds, kinds
    # the engine's other controllers are measured too (node and event copies of this pod)
    counts = {lab.get("kind"): v for n, lab, v in samples if n == "vcluster_syncer_reconcile_seconds_count"}
    assert counts.get("node", 0) > 0 and counts.get("event", 0) > 0, counts
    names = {n for n, _, _ in samples}
    assert "vcluster_syncer_queue_depth" in names and "vcluster_syncer_reconcile_seconds_bucket" in names


def test_kubectl_logs_in_the_virtual_cluster_come_from_the_host_pod(pair: Pair) -> None:
    """`kubectl logs` (and `-f`) of a virtual pod stream its host pod's log; an unknown pod is a
    NotFound that names the virtual pod, not the host one."""
    from tests.integration.conftest import LineReader

    p, ns = pair, virtual_namespace(pair.kv, "logs")
    p.kv.create(pod_manifest("talker", ns))
    wait_until(lambda: pod_running(p.kv, "talker", ns), 20, what="pod Running")
    out = p.kv("logs", "talker", "-n", ns)
    host_out = p.kh("logs", host_name("talker", ns), "-n", HOST_NS)
    assert out.strip() and out.splitlines()[0] == host_out.splitlines()[0]
    follow = LineReader(p.kv.popen("logs", "-f", "talker", "-n", ns))
    try:
        assert follow.wait_for(lambda line: bool(line.strip()), 10)
    finally:
        follow.stop()
    missing = p.kv.run("logs", "nope", "-n", ns, check=False)
    assert missing.returncode != 0 and 'pods "nope" not found' in missing.stderr
    assert "-x-" not in missing.stderr
