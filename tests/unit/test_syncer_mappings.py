"""Mappings store key format and JSON shape (§7.2)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vcluster.syncer import kinds
from vcluster.syncer.mappings import KeyParts, OwnerMapping, Reference, mapping_key, parse_key


@pytest.mark.parametrize(
    ("group", "version", "kind", "ns", "name", "key"),
    [
        ("", "v1", "Pod", "default", "nginx", "/vcluster/mappings/v1/pod/default/nginx"),
        (
            "networking.k8s.io",
            "v1",
            "Ingress",
            "web",
            "my-ing",
            "/vcluster/mappings/networking.k8s.io/v1/ingress/web/my-ing",
        ),
        (
            "scheduling.k8s.io",
            "v1",
            "PriorityClass",
            "",
            "high",
            "/vcluster/mappings/scheduling.k8s.io/v1/priorityclass/high",
        ),
        ("apps", "v1", "Deployment", "ns", "d", "/vcluster/mappings/apps/v1/deployment/ns/d"),
        ("", "v1", "Node", "", "n1", "/vcluster/mappings/v1/node/n1"),
    ],
)
def test_keys(group: str, version: str, kind: str, ns: str, name: str, key: str) -> None:
    assert mapping_key(group, version, kind, ns, name) == key
    assert parse_key(key) == KeyParts(group, version, kind.lower(), ns, name)


@pytest.mark.parametrize(
    "bad", ["/other/x", "/vcluster/mappings/v1/pod", "/vcluster/mappings/v1/pod/a/b/c", "/vcluster/mappings/"]
)
def test_parse_key_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="not a mapping key"):
        parse_key(bad)


def test_json_shape_of_7_2() -> None:
    owner = Reference.of(kinds.POD, "default", "nginx", "vc-ns", "nginx-x-default-x-my-vc")
    m = OwnerMapping(owner, sender="uuid-1")
    assert m.add(Reference.of(kinds.SECRET, "default", "creds", "vc-ns", "creds-x-default-x-my-vc"))
    assert not m.add(Reference.of(kinds.SECRET, "default", "creds", "vc-ns", "creds-x-default-x-my-vc"))
    assert m.key == "/vcluster/mappings/v1/pod/default/nginx"
    assert orjson.loads(m.encode()) == {
        "Group": "",
        "Version": "v1",
        "Kind": "Pod",
        "VirtualName": {"Namespace": "default", "Name": "nginx"},
        "HostName": {"Namespace": "vc-ns", "Name": "nginx-x-default-x-my-vc"},
        "sender": "uuid-1",
        "references": [
            {
                "Group": "",
                "Version": "v1",
                "Kind": "Secret",
                "VirtualName": {"Namespace": "default", "Name": "creds"},
                "HostName": {"Namespace": "vc-ns", "Name": "creds-x-default-x-my-vc"},
            }
        ],
    }
    # field order as Go encodes the struct
    assert m.encode().startswith(b'{"Group":"","Version":"v1","Kind":"Pod","VirtualName":')
    bare = OwnerMapping(owner)
    assert set(orjson.loads(bare.encode())) == {"Group", "Version", "Kind", "VirtualName", "HostName"}
    assert OwnerMapping.decode(m.encode()) == m


def test_decode_errors_and_from_key() -> None:
    with pytest.raises(ValueError, match="invalid mapping value"):
        OwnerMapping.decode(b"{nope")
    with pytest.raises(ValueError, match="invalid mapping value"):
        OwnerMapping.decode(b"[1]")
    m = OwnerMapping.from_key("/vcluster/mappings/networking.k8s.io/v1/ingress/web/my-ing")
    assert (m.owner.group, m.owner.version, m.owner.kind, m.owner.namespace, m.owner.name) == (
        "networking.k8s.io",
        "v1",
        "ingress",
        "web",
        "my-ing",
    )


names = st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?", fullmatch=True)


@given(st.sampled_from(kinds.ALL), names, names, names)
def test_encode_decode_round_trip(kind: kinds.Kind, ns: str, name: str, host: str) -> None:
    vns = ns if kind.namespaced else ""
    m = OwnerMapping(
        Reference.of(kind, vns, name, "h", host), [Reference.of(kinds.CONFIGMAP, vns, host, "h", name)]
    )
    assert OwnerMapping.decode(m.encode()) == m
    parts = parse_key(m.key)
    assert (parts.group, parts.version, parts.namespace, parts.name) == (kind.group, kind.version, vns, name)
