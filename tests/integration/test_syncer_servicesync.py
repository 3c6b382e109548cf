"""Service replication end to end (`networking.replicateServices`, spec §5.4): host services
mirrored into the virtual cluster, a virtual service exposed in the host namespace, replicas
following their sources, and replicas removed when the configuration drops them (live reload)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from .syncer_harness import (
    HOST_NS,
    VC_NAME,
    Pair,
    edit_config,
    get_json,
    host_name,
    labels,
    pod_manifest,
    pod_running,
    start_pair,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

CTRL = "vcluster.loft.sh/controlled-by"
CONFIG = """\
networking:
  replicateServices:
    fromHost:
    - {from: infra/db, to: shared/db}
    - {from: infra/peers, to: shared/peers}
    toHost:
    - {from: web/api, to: api-public}
"""


@pytest.fixture(scope="module")
def rep_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    p = start_pair(tmp_path_factory.mktemp("servicesync"), config=CONFIG)
    try:
        yield p
    finally:
        p.stop()


def _svc(name: str, ns: str, spec: str, extra_meta: str = "") -> str:
    meta = f"metadata:\n  name: {name}\n  namespace: {ns}\n{extra_meta}"
    return f"apiVersion: v1\nkind: Service\n{meta}spec:\n{spec}"


def _ports(svc: dict[str, Any] | None) -> list[dict[str, Any]]:
    return ((svc or {}).get("spec") or {}).get("ports") or []


def _subsets(ep: dict[str, Any] | None) -> list[dict[str, Any]]:
    return (ep or {}).get("subsets") or []


def test_host_services_are_mirrored_into_the_virtual_cluster(rep_pair: Pair) -> None:
    p = rep_pair
    p.kh.namespace("infra")
    p.kh.apply(
        _svc(
            "db",
            "infra",
            "  type: NodePort\n  selector: {app: db}\n  ports:\n"
            "  - {name: pg, port: 5432, targetPort: 5432}\n",
        )
    )
    host_db = p.kh.get_json("service", "db", "-n", "infra")
    ip = host_db["spec"]["clusterIP"]
    assert _ports(host_db)[0].get("nodePort")

    # the target namespace is created; the replica is headless, selector-less, without node ports
    vsvc = wait_until(lambda: get_json(p.kv, "service", "db", "-n", "shared"), 15, what="virtual replica")
    assert labels(vsvc)[CTRL] == "vcluster"
    assert vsvc["spec"]["clusterIP"] == "None" and not vsvc["spec"].get("selector")
    assert [(x.get("name"), x["port"], x.get("nodePort")) for x in _ports(vsvc)] == [("pg", 5432, None)]
    ep = wait_until(lambda: get_json(p.kv, "endpoints", "db", "-n", "shared"), 10, what="virtual endpoints")
    assert _subsets(ep) == [
        {"addresses": [{"ip": ip}], "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}
    ]
    # the replica is the syncer's, not the tenant's: it is not synced back to the host
    assert get_json(p.kh, "service", host_name("db", "shared"), "-n", HOST_NS) is None

    # a port change on the host follows
    p.kh("patch", "service", "db", "-n", "infra", "--type=json", "-p",
         '[{"op": "replace", "path": "/spec/ports/0/port", "value": 6432}]')  # fmt: skip
    wait_until(
        lambda: (
            [x["port"] for x in _ports(get_json(p.kv, "service", "db", "-n", "shared"))] == [6432]
            and [
                x["port"]
                for s in _subsets(get_json(p.kv, "endpoints", "db", "-n", "shared"))
                for x in s["ports"]
            ]
            == [6432]
        ),
        10,
        what="replica ports and endpoints follow the host",
    )

    # a headless host service: the replica's endpoints are the host endpoints
    p.kh.apply(_svc("peers", "infra", "  clusterIP: None\n  ports:\n  - {port: 7000}\n"))
    p.kh.apply(
        "apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: peers\n  namespace: infra\nsubsets:\n"
        "- addresses: [{ip: 10.244.9.1}, {ip: 10.244.9.2}]\n  ports: [{port: 7000}]\n"
    )
    wait_until(
        lambda: sorted(a["ip"] for s in _subsets(get_json(p.kv, "endpoints", "peers", "-n", "shared"))
                       for a in s.get("addresses") or [])
        == ["10.244.9.1", "10.244.9.2"],
        15,
        what="headless replica endpoints copied from the host",
    )  # fmt: skip

    # the host service goes: so does its replica
    p.kh("delete", "service", "db", "-n", "infra")
    wait_until(lambda: get_json(p.kv, "service", "db", "-n", "shared") is None, 10, what="replica deleted")
    wait_until(
        lambda: get_json(p.kv, "endpoints", "db", "-n", "shared") is None, 10, what="endpoints deleted"
    )


def test_a_virtual_service_is_exposed_in_the_host_namespace(rep_pair: Pair) -> None:
    p = rep_pair
    ns = virtual_namespace(p.kv, "web")
    p.kv.create(pod_manifest("api-0", ns, labels_={"app": "api"}))
    p.kv.apply(
        _svc("api", ns, "  selector: {app: api}\n  ports:\n  - {name: http, port: 80, targetPort: 8080}\n")
    )
    hsvc = wait_until(lambda: get_json(p.kh, "service", "api-public", "-n", HOST_NS), 15, what="host replica")
    assert labels(hsvc)[CTRL] == "vcluster"
    assert hsvc["spec"]["selector"] == {
        "app": "api",
        "vcluster.loft.sh/managed-by": VC_NAME,
        "vcluster.loft.sh/namespace": ns,
    }
    assert [(x["name"], x["port"], x.get("targetPort")) for x in _ports(hsvc)] == [("http", 80, 8080)]
    owner = p.kh.get_json("service", VC_NAME, "-n", HOST_NS)
    assert [(r["kind"], r["name"], r["uid"]) for r in hsvc["metadata"]["ownerReferences"]] == [
        ("Service", VC_NAME, owner["metadata"]["uid"])
    ]
    # the host's endpoints controller finds the host pod of the virtual pod through that selector
    vpod = wait_until(lambda: pod_running(p.kv, "api-0", ns), 20, what="virtual pod Running")
    wait_until(
        lambda: [a["ip"] for s in _subsets(get_json(p.kh, "endpoints", "api-public", "-n", HOST_NS))
                 for a in s.get("addresses") or []]
        == [vpod["status"]["podIP"]],
        15,
        what="host replica endpoints select the synced pod",
    )  # fmt: skip
    # a selector change in the virtual cluster is pushed
    p.kv(
        "patch",
        "service",
        "api",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"spec":{"selector":{"app":null,"tier":"api"}}}',
    )
    wait_until(
        lambda: (
            (get_json(p.kh, "service", "api-public", "-n", HOST_NS) or {}).get("spec", {}).get("selector")
            == {"tier": "api", "vcluster.loft.sh/managed-by": VC_NAME, "vcluster.loft.sh/namespace": ns}
        ),
        10,
        what="host replica selector follows",
    )


def test_replicas_dropped_from_the_config_are_removed_without_restart(rep_pair: Pair) -> None:
    p = rep_pair
    pid = p.vc.pid
    # both replicas exist (made by the tests above, or made here)
    p.kh.namespace("infra")
    p.kh.apply(_svc("peers", "infra", "  clusterIP: None\n  ports:\n  - {port: 7000}\n"))
    ns = virtual_namespace(p.kv, "web")
    p.kv.apply(_svc("api", ns, "  selector: {app: api}\n  ports:\n  - {port: 80}\n"))
    wait_until(lambda: get_json(p.kv, "service", "peers", "-n", "shared"), 15, what="virtual replica")
    wait_until(lambda: get_json(p.kh, "service", "api-public", "-n", HOST_NS), 15, what="host replica")
    # a user's own service next to them is never touched
    p.kh.apply(_svc("mine", HOST_NS, "  ports:\n  - {port: 1}\n", f"  labels: {{{CTRL}: vcluster}}\n"))

    def drop(cfg: dict[str, Any]) -> None:
        cfg["networking"]["replicateServices"] = {"fromHost": [], "toHost": []}

    original = yaml.safe_load(CONFIG)["networking"]["replicateServices"]
    edit_config(p, drop)
    try:
        wait_until(
            lambda: get_json(p.kv, "service", "peers", "-n", "shared") is None,
            15,
            what="virtual replica gone",
        )
        wait_until(
            lambda: get_json(p.kh, "service", "api-public", "-n", HOST_NS) is None,
            15,
            what="host replica gone",
        )
        assert get_json(p.kh, "service", "mine", "-n", HOST_NS) is not None, (
            "a service we do not own was deleted"
        )
        assert get_json(p.kv, "service", "api", "-n", ns) is not None  # the sources stay
        assert get_json(p.kh, "service", "peers", "-n", "infra") is not None
        assert p.vc.alive() and p.vc.pid == pid
    finally:
        edit_config(p, lambda cfg: cfg["networking"].__setitem__("replicateServices", original))
    # configured again: the replicas come back
    wait_until(lambda: get_json(p.kh, "service", "api-public", "-n", HOST_NS), 15, what="host replica back")
    log = p.vc.log_path.read_text()
    assert "Traceback" not in log, log[log.index("Traceback") - 300 :][:3000]
