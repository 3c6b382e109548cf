"""`sync.fromHost.configMaps` and `secrets` (spec §4.2): host objects named by `mappings.byName`
are imported into the virtual cluster, follow the host (virtual edits overwritten), are recreated
when deleted virtually, go when the host object goes or stops being mapped (live, from an edited
configuration; and across a restart), and work as pod references like any virtual object."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from .syncer_harness import (
    HOST_NS,
    Pair,
    annotations,
    edit_config,
    get_json,
    host_name,
    labels,
    metric_samples,
    pair_fixture,
    pod_manifest,
    pod_running,
    wait_until,
)

pytestmark = pytest.mark.integration

SOURCE_NS = "shared-config"
CONFIG = f"""\
sync:
  fromHost:
    configMaps:
      enabled: true
      mappings:
        byName:
          "{SOURCE_NS}/*": "imported/*"
          "/app-settings": "default/settings"
    secrets:
      enabled: true
      mappings:
        byName:
          "{SOURCE_NS}/db-creds": "default/db-creds"
"""
APP_SETTINGS = (
    f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-settings, namespace: {HOST_NS}}}\n"
    "data: {mode: fast}\n"
)
HOST_NAME = "vcluster.loft.sh/object-host-name"
HOST_NAMESPACE = "vcluster.loft.sh/object-host-namespace"

pair = pair_fixture(CONFIG)


@pytest.fixture(scope="module", autouse=True)
def source_namespace(pair: Pair) -> None:
    pair.kh("create", "namespace", SOURCE_NS)


def data_of(k: Any, kind: str, name: str, ns: str) -> dict[str, str] | None:
    obj = get_json(k, kind, name, "-n", ns)
    return (obj or {}).get("data") if obj else None


def test_imported_configmap_follows_the_host(pair: Pair) -> None:
    p = pair
    p.kh("create", "configmap", "ca-bundle", "-n", SOURCE_NS, "--from-literal=ca.crt=AAA")
    p.kh("label", "configmap", "ca-bundle", "-n", SOURCE_NS, "team=platform")
    v = wait_until(
        lambda: (
            (data_of(p.kv, "configmap", "ca-bundle", "imported") or {}).get("ca.crt") == "AAA"
            and get_json(p.kv, "configmap", "ca-bundle", "-n", "imported")
        ),
        15,
        what="imported configmap (and its namespace) in the virtual cluster",
    )
    assert labels(v).get("team") == "platform"
    assert annotations(v)[HOST_NAME] == "ca-bundle" and annotations(v)[HOST_NAMESPACE] == SOURCE_NS
    # the virtual namespace's own kube-root-ca.crt is the virtual cluster's, never the host's
    root = get_json(p.kv, "configmap", "kube-root-ca.crt", "-n", "imported")
    assert root is not None and HOST_NAME not in annotations(root)

    p.kh("patch", "configmap", "ca-bundle", "-n", SOURCE_NS, "-p", '{"data":{"ca.crt":"BBB"}}')
    wait_until(
        lambda: (data_of(p.kv, "configmap", "ca-bundle", "imported") or {}).get("ca.crt") == "BBB",
        10,
        what="host change on the virtual copy",
    )
    # a virtual edit is overwritten by the host's
    p.kv("patch", "configmap", "ca-bundle", "-n", "imported", "-p", '{"data":{"ca.crt":"edited","x":"1"}}')
    wait_until(
        lambda: data_of(p.kv, "configmap", "ca-bundle", "imported") == {"ca.crt": "BBB"},
        10,
        what="virtual edit reverted",
    )
    # deleted virtually: imported again
    uid = get_json(p.kv, "configmap", "ca-bundle", "-n", "imported")["metadata"]["uid"]  # type: ignore[index]
    p.kv("delete", "configmap", "ca-bundle", "-n", "imported")
    again = wait_until(
        lambda: (
            (o := get_json(p.kv, "configmap", "ca-bundle", "-n", "imported"))
            and o["metadata"]["uid"] != uid
            and o
        ),
        10,
        what="re-imported after a virtual delete",
    )
    assert again["data"] == {"ca.crt": "BBB"}
    # the host object goes: so does the copy
    p.kh("delete", "configmap", "ca-bundle", "-n", SOURCE_NS)
    wait_until(
        lambda: get_json(p.kv, "configmap", "ca-bundle", "-n", "imported") is None, 10, what="copy deleted"
    )
    counts = {
        lab.get("kind"): v
        for n, lab, v in metric_samples(p.vc)
        if n == "vcluster_syncer_reconcile_seconds_count"
    }
    assert counts.get("host-configmaps", 0) > 0, counts  # the importer's reconciles are measured
    # an unmapped host object is not imported, nor one in an unmapped namespace
    p.kh("create", "configmap", "stray", "-n", "default", "--from-literal=a=b")
    p.kh.apply(APP_SETTINGS)
    wait_until(
        lambda: data_of(p.kv, "configmap", "settings", "default") == {"mode": "fast"},
        10,
        what='"/app-settings" of the host namespace imported as default/settings',
    )
    assert get_json(p.kv, "configmap", "stray", "-n", "imported") is None
    assert get_json(p.kv, "configmap", "stray", "-n", "default") is None


def test_imported_secret_is_usable_by_pods(pair: Pair) -> None:
    p = pair
    p.kh(
        "create", "secret", "generic", "db-creds", "-n", SOURCE_NS,
        "--type=example.com/creds", "--from-literal=password=s3cret",
    )  # fmt: skip
    v = wait_until(lambda: get_json(p.kv, "secret", "db-creds", "-n", "default"), 15, what="imported secret")
    assert v["type"] == "example.com/creds"
    assert base64.b64decode(v["data"]["password"]) == b"s3cret"
    spec = (
        "  containers:\n  - name: main\n    image: nginx\n    env:\n    - name: PASSWORD\n"
        "      valueFrom:\n        secretKeyRef: {name: db-creds, key: password}\n"
    )
    manifest = pod_manifest("uses-creds", "default").split("  containers:")[0] + spec
    p.kv.create(manifest)
    wait_until(lambda: pod_running(p.kv, "uses-creds", "default"), 20, what="pod using the imported secret")
    hsecret = wait_until(
        lambda: get_json(p.kh, "secret", host_name("db-creds", "default"), "-n", HOST_NS),
        10,
        what="the imported secret synced to the host for the pod",
    )
    assert hsecret["data"]["password"] == v["data"]["password"]
    # a new password on the host reaches the virtual copy, and from there the pod's host copy
    new = base64.b64encode(b"rotated").decode()
    p.kh("patch", "secret", "db-creds", "-n", SOURCE_NS, "-p", f'{{"data":{{"password":"{new}"}}}}')
    wait_until(
        lambda: (
            (get_json(p.kh, "secret", host_name("db-creds", "default"), "-n", HOST_NS) or {})
            .get("data", {})
            .get("password")
            == new
        ),
        15,
        what="rotated password on the pod's host copy",
    )
    # syncing it to the host did not take its import marker away
    assert annotations(get_json(p.kv, "secret", "db-creds", "-n", "default"))[HOST_NAME] == "db-creds"
    p.kv("delete", "pod", "uses-creds", "-n", "default", "--wait=false")


def test_mapping_changes_apply_live_and_imports_survive_a_restart(pair: Pair) -> None:
    p = pair
    pid = p.vc.pid
    p.kh("create", "configmap", "feature-flags", "-n", SOURCE_NS, "--from-literal=beta=on")
    # (this module's tests may run on different pairs: this one makes its own "/app-settings")
    p.kh.apply(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-settings, namespace: {HOST_NS}}}\n"
        "data: {mode: fast}\n"
    )
    wait_until(lambda: get_json(p.kv, "configmap", "feature-flags", "-n", "imported"), 15, what="import")
    wait_until(lambda: data_of(p.kv, "configmap", "settings", "default"), 15, what="settings import")
    by_name = {"maps": None}

    def drop_namespace_mapping(cfg: dict[str, Any]) -> None:
        m = cfg["sync"]["fromHost"]["configMaps"]["mappings"]["byName"]
        by_name["maps"] = dict(m)
        del m[f"{SOURCE_NS}/*"]

    edit_config(p, drop_namespace_mapping)
    wait_until(
        lambda: get_json(p.kv, "configmap", "feature-flags", "-n", "imported") is None,
        15,
        what="import deleted when its mapping is removed",
    )
    assert data_of(p.kv, "configmap", "settings", "default") == {"mode": "fast"}  # still mapped

    def restore(cfg: dict[str, Any]) -> None:
        cfg["sync"]["fromHost"]["configMaps"]["mappings"]["byName"] = by_name["maps"]

    edit_config(p, restore)
    wait_until(lambda: get_json(p.kv, "configmap", "feature-flags", "-n", "imported"), 15, what="re-imported")
    assert p.vc.alive() and p.vc.pid == pid

    # switched off entirely, the importer stops (its copies stay); on again, it picks up changes
    edit_config(p, lambda c: c["sync"]["fromHost"]["configMaps"].update(enabled=False))
    p.kh("patch", "configmap", "feature-flags", "-n", SOURCE_NS, "-p", '{"data":{"beta":"off"}}')
    p.kh("create", "configmap", "marker-off", "-n", SOURCE_NS, "--from-literal=a=b")
    wait_until(lambda: "stopped syncing host-configmaps" in p.vc.log_path.read_text(), 10, what="stop log")
    assert get_json(p.kv, "configmap", "marker-off", "-n", "imported") is None
    assert data_of(p.kv, "configmap", "feature-flags", "imported") == {"beta": "on"}
    edit_config(p, lambda c: c["sync"]["fromHost"]["configMaps"].update(enabled=True))
    wait_until(
        lambda: data_of(p.kv, "configmap", "feature-flags", "imported") == {"beta": "off"},
        15,
        what="importer back on",
    )
    wait_until(lambda: get_json(p.kv, "configmap", "marker-off", "-n", "imported"), 10, what="marker-off")

    # the host object goes while the syncer is down: the copy goes at the next start
    p.vc.stop()
    p.kh("delete", "configmap", "feature-flags", "-n", SOURCE_NS)
    p.vc.start()
    wait_until(
        lambda: get_json(p.kv, "configmap", "feature-flags", "-n", "imported") is None,
        15,
        what="stale import deleted after a restart",
    )
    assert get_json(p.kv, "configmap", "marker-off", "-n", "imported") is not None
