"""Regression tests for what the schema-driven syncer fuzzer (tests/fuzz/syncer_fuzz.py) found, end
to end: two virtual objects whose names join to one host name (`<p>-x-<q>` in `default` and `<p>`
in namespace `<q>-x-default`, spec §1.3) — the second neither takes over nor deletes the first's
host copy —, and a tenant label spelled like a reserved key's host form (§2.2) added by an update
stays off the host, as on create."""

from __future__ import annotations

import json
import time

import pytest

from .syncer_harness import (
    HOST_NS,
    Pair,
    annotations,
    events_for,
    get_json,
    hashed_label_key,
    host_name,
    labels,
    pair_fixture,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture()
UID = "vcluster.loft.sh/object-uid"


def _configmap(name: str, ns: str, value: str) -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "annotations": {"vcluster.loft.sh/force-sync": "true"}},
        "data": {"v": value},
    }
    return json.dumps(doc)


def test_colliding_host_name_is_neither_taken_over_nor_deleted(pair: Pair) -> None:
    other_ns = virtual_namespace(pair.kv, "fzq-x-default")
    hname = host_name("cm-x-fzq", "default")
    assert hname == host_name("cm", other_ns)
    pair.kv("apply", "-f", "-", input=_configmap("cm-x-fzq", "default", "first"))
    first = wait_until(lambda: get_json(pair.kh, "configmap", hname, "-n", HOST_NS), what="first host copy")
    vfirst = get_json(pair.kv, "configmap", "cm-x-fzq", "-n", "default")
    assert vfirst is not None and annotations(first)[UID] == vfirst["metadata"]["uid"]

    pair.kv("apply", "-f", "-", input=_configmap("cm", other_ns, "second"))
    warning = wait_until(
        lambda: [e for e in events_for(pair.kv, other_ns, "cm") if e["reason"] == "SyncError"],
        what="SyncError event on the second ConfigMap",
    )
    assert "default/cm-x-fzq" in warning[0]["message"], warning
    time.sleep(1.0)  # the second's reconciles have run: the first's copy is unchanged
    now = get_json(pair.kh, "configmap", hname, "-n", HOST_NS)
    assert now is not None and now["metadata"]["uid"] == first["metadata"]["uid"]
    assert now["data"] == {"v": "first"} and annotations(now)[UID] == vfirst["metadata"]["uid"]

    pair.kv("delete", "configmap", "cm", "-n", other_ns)
    time.sleep(1.0)
    now = get_json(pair.kh, "configmap", hname, "-n", HOST_NS)
    assert now is not None and now["metadata"]["uid"] == first["metadata"]["uid"]

    pair.kv("delete", "configmap", "cm-x-fzq", "-n", "default")
    wait_until(lambda: get_json(pair.kh, "configmap", hname, "-n", HOST_NS) is None, what="host copy deleted")


def test_forged_hashed_label_added_by_an_update_stays_off_the_host(pair: Pair) -> None:
    ns = virtual_namespace(pair.kv, "forged-labels")
    forged = hashed_label_key("vcluster.loft.sh/label", "release")
    pair.kv("apply", "-f", "-", input=_configmap("cm", ns, "x"))
    hname = host_name("cm", ns)
    wait_until(lambda: get_json(pair.kh, "configmap", hname, "-n", HOST_NS), what="host copy")
    pair.kv("label", "configmap", "cm", "-n", ns, f"{forged}=forged", "team=a")
    host = wait_until(
        lambda: (
            (h := get_json(pair.kh, "configmap", hname, "-n", HOST_NS)) and labels(h).get("team") == "a" and h
        ),
        what="label update on the host",
    )
    assert forged not in labels(host), labels(host)
    pair.kv("label", "configmap", "cm", "-n", ns, "release=real")
    host = wait_until(
        lambda: (h := get_json(pair.kh, "configmap", hname, "-n", HOST_NS)) and forged in labels(h) and h,
        what="release label on the host",
    )
    assert labels(host)[forged] == "real"
    virtual = get_json(pair.kv, "configmap", "cm", "-n", ns)
    assert labels(virtual)[forged] == "forged" and labels(virtual)["release"] == "real"
