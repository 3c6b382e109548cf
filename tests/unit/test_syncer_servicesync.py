"""Service replication (spec §5.4): the mappings and the replicas, without servers."""

from __future__ import annotations

import pytest

from vcluster.config import ConfigError, load_config
from vcluster.syncer import servicesync as rep

HNS = "vc-host"
CTRL = "vcluster.loft.sh/controlled-by"


def _replications(yaml_text: str) -> list[rep.Replication]:
    cfg = load_config(yaml_text)
    return rep.replications(cfg.networking.replicate_services, HNS)


def test_mappings_resolve_namespaces_like_parse_mapping() -> None:
    got = _replications(
        "networking:\n  replicateServices:\n"
        "    fromHost: [{from: infra/db, to: shared/db}, {from: cache, to: apps/cache}]\n"
        "    toHost: [{from: web/api, to: api-public}]\n"
    )
    assert got == [
        rep.Replication("fromHost", ("infra", "db"), ("shared", "db")),
        rep.Replication("fromHost", (HNS, "cache"), ("apps", "cache")),
        rep.Replication("toHost", ("web", "api"), (HNS, "api-public")),
    ]
    assert got[0].key == "fromHost:infra/db" and got[2].key == "toHost:web/api"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "fromHost: [{from: infra/db, to: db}]",
            'networking.replicateServices.fromHost[0].to: expected NAMESPACE/NAME, got "db"',
        ),
        (
            "toHost: [{from: api, to: api-public}]",
            'networking.replicateServices.toHost[0].from: expected NAMESPACE/NAME, got "api"',
        ),
        (
            "toHost: [{from: web/api, to: other/api}]",
            "networking.replicateServices.toHost[0].to: expected NAME (the service is created in the "
            'host namespace), got "other/api"',
        ),
    ],
)
def test_mapping_without_the_needed_namespace_is_refused(entry: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(f"networking:\n  replicateServices:\n    {entry}\n")
    assert message in str(e.value)


HOST_SVC = {
    "metadata": {"name": "db", "namespace": "infra", "uid": "h1"},
    "spec": {
        "type": "NodePort",
        "clusterIP": "10.96.0.7",
        "selector": {"app": "db"},
        "ports": [
            {"name": "pg", "port": 5432, "protocol": "TCP", "targetPort": 5432, "nodePort": 30007},
            {"port": 9187, "protocol": "TCP", "targetPort": 9187, "appProtocol": "http"},
        ],
    },
}


def test_from_host_replica_is_headless_selectorless_without_node_ports() -> None:
    v = rep.virtual_replica(HOST_SVC, ("shared", "db"))
    assert v["metadata"] == {"name": "db", "namespace": "shared", "labels": {CTRL: "vcluster"}}
    assert v["spec"] == {
        "clusterIP": "None",
        "ports": [
            {"name": "pg", "port": 5432, "protocol": "TCP", "targetPort": 5432},
            {"port": 9187, "protocol": "TCP", "targetPort": 9187, "appProtocol": "http"},
        ],
    }
    assert HOST_SVC["spec"]["ports"][0]["nodePort"] == 30007  # the source is not touched
    assert rep.is_replica(v) and not rep.is_replica(HOST_SVC)
    # endpoints point at the host ClusterIP with the replica's ports
    assert rep.replica_subsets(HOST_SVC, None, v) == [
        {
            "addresses": [{"ip": "10.96.0.7"}],
            "ports": [
                {"name": "pg", "port": 5432, "protocol": "TCP"},
                {"port": 9187, "protocol": "TCP", "appProtocol": "http"},
            ],
        }
    ]
    assert rep.virtual_replica_update(v, HOST_SVC) is None
    moved = {**HOST_SVC, "spec": {**HOST_SVC["spec"], "ports": [{"port": 6432, "protocol": "TCP"}]}}
    assert rep.virtual_replica_update(v, moved) == {"spec": {"ports": [{"port": 6432, "protocol": "TCP"}]}}


def test_headless_source_copies_the_host_endpoints() -> None:
    headless = {**HOST_SVC, "spec": {**HOST_SVC["spec"], "clusterIP": "None"}}
    subsets = [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 5432, "protocol": "TCP"}]}]
    v = rep.virtual_replica(headless, ("shared", "db"))
    assert rep.replica_subsets(headless, {"subsets": subsets}, v) == subsets
    assert rep.replica_subsets(headless, None, v) is None
    assert rep.replica_subsets({"spec": {"ports": []}}, None, v) is None  # no ClusterIP yet


def test_to_host_replica_selects_the_host_pods_of_the_virtual_selector() -> None:
    vsvc = {
        "metadata": {"name": "api", "namespace": "web"},
        "spec": {
            "clusterIP": "10.0.0.9",
            "selector": {"app": "api"},
            "ports": [{"port": 80, "protocol": "TCP"}],
        },
    }
    h = rep.host_replica(vsvc, (HNS, "api-public"), "my-vc", "owner-uid", True)
    assert h["metadata"]["labels"] == {CTRL: "vcluster"}
    assert h["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Service", "name": "my-vc", "uid": "owner-uid"}
    ]
    assert h["spec"] == {
        "ports": [{"port": 80, "protocol": "TCP"}],
        "selector": {
            "app": "api",
            "vcluster.loft.sh/managed-by": "my-vc",
            "vcluster.loft.sh/namespace": "web",
        },
    }
    assert (
        "ownerReferences" not in rep.host_replica(vsvc, (HNS, "x"), "my-vc", "owner-uid", False)["metadata"]
    )
    assert rep.owned_by(h, "owner-uid") and not rep.owned_by(h, "other")
    assert rep.host_replica_update(h, vsvc, "my-vc") is None
    relabelled = {**vsvc, "spec": {**vsvc["spec"], "selector": {"tier": "api"}}}
    assert rep.host_replica_update(h, relabelled, "my-vc") == {
        "spec": {
            "selector": {
                "app": None,
                "tier": "api",
                "vcluster.loft.sh/managed-by": "my-vc",
                "vcluster.loft.sh/namespace": "web",
            }
        }
    }
