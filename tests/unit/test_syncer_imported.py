"""Imports of host ConfigMaps/Secrets (`sync.fromHost.configMaps/secrets.mappings.byName`, spec §4.2):
which host object lands where, and what the virtual copy looks like."""

from __future__ import annotations

from typing import Any

import pytest

from vcluster.config import load_config
from vcluster.syncer import constants as c
from vcluster.syncer import kinds
from vcluster.syncer.configctx import context_from_config
from vcluster.syncer.resources import imported
from vcluster.syncer.resources.imported import ImportMap

HNS = "vcluster-my-vc"


def ctx() -> Any:
    return context_from_config(load_config(None), name="my-vc", host_namespace=HNS)


MAP = ImportMap(
    {
        "shared/tls": "apps/tls-copy",  # exact, renamed
        "shared/*": "apps/*",  # the rest of the namespace, same names
        "team/db": "data/*",  # exact, keeps its name
        "/local-only": "apps/local",  # a name in the virtual cluster's host namespace
        "": "hostns",  # everything else of the host namespace
    },
    HNS,
)


@pytest.mark.parametrize(
    ("host", "virtual"),
    [
        (("shared", "tls"), ("apps", "tls-copy")),
        (("shared", "other"), ("apps", "other")),
        (("team", "db"), ("data", "db")),
        (("team", "cache"), None),  # not mapped
        ((HNS, "local-only"), ("apps", "local")),
        ((HNS, "anything"), ("hostns", "anything")),
        (("elsewhere", "local-only"), None),  # "/name" is the host namespace only
    ],
)
def test_host_object_lands_where_the_mapping_says(host: tuple[str, str], virtual: Any) -> None:
    assert MAP.target(*host) == virtual


def test_watched_namespaces_are_the_mapping_keys_namespaces() -> None:
    assert MAP.host_namespaces() == {"shared", "team", HNS}
    assert MAP.virtual_namespaces() == {"apps", "data", "hostns"}


def test_two_host_objects_for_one_virtual_name_the_higher_priority_mapping_wins() -> None:
    m = ImportMap({"a/x": "d/y", "b/*": "d/*", "/y": "d/y"}, HNS)
    # d/y is claimed by a/x (exact), b/y (namespace wildcard) and HNS/y ("/name")
    assert m.candidates("d", "y") == [("a", "x"), ("b", "y"), (HNS, "y")]
    # a host object whose exact mapping sends it elsewhere is no candidate for the wildcard's name
    m2 = ImportMap({"a/x": "d/renamed", "a/*": "e/*"}, HNS)
    assert m2.candidates("e", "x") == []
    assert m2.candidates("d", "renamed") == [("a", "x")]
    assert m2.candidates("e", "z") == [("a", "z")]


def host_cm(name: str = "tls", ns: str = "shared", **extra: Any) -> dict[str, Any]:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": "u1",
            "resourceVersion": "7",
            "labels": {"team": "web"},
            "annotations": {"note": "hi", c.NAME_ANNOTATION: "x"},
        },
        "data": {"a": "1"},
        "immutable": True,
    }
    obj.update(extra)
    return obj


def test_virtual_copy_carries_data_metadata_and_its_source() -> None:
    v = imported.virtual_copy(host_cm(), kinds.CONFIGMAP, ("apps", "tls-copy"), ctx())
    m = v["metadata"]
    assert (m["namespace"], m["name"]) == ("apps", "tls-copy")
    assert "uid" not in m and "resourceVersion" not in m
    assert m["labels"] == {"team": "web"}
    assert m["annotations"] == {
        "note": "hi",
        c.HOST_NAME_ANNOTATION: "tls",
        c.HOST_NAMESPACE_ANNOTATION: "shared",
    }
    assert v["data"] == {"a": "1"} and "immutable" not in v
    assert imported.imported_from(v) == ("shared", "tls")


def test_never_imported_marker_objects_and_kube_root_ca() -> None:
    synced = host_cm(metadata={"name": "x", "namespace": HNS, "labels": {c.MARKER_LABEL: "other"}})
    assert not imported.importable(synced, kinds.CONFIGMAP)
    root_ca = host_cm(metadata={"name": "kube-root-ca.crt", "namespace": HNS})
    assert not imported.importable(root_ca, kinds.CONFIGMAP)
    assert imported.importable(root_ca, kinds.SECRET)  # the name is special for ConfigMaps only
    assert imported.importable(host_cm(), kinds.CONFIGMAP)


def test_plan_create_patch_delete_and_recreate() -> None:
    want = imported.virtual_copy(host_cm(), kinds.CONFIGMAP, ("apps", "tls-copy"), ctx())
    assert imported.plan(None, want, kinds.CONFIGMAP) == ("create", want)
    current = {**want, "metadata": {**want["metadata"], "uid": "v1", "resourceVersion": "3"}}
    assert imported.plan(current, want, kinds.CONFIGMAP) == ("", None)
    edited = {**current, "data": {"a": "changed", "b": "2"}}
    action, patch = imported.plan(edited, want, kinds.CONFIGMAP)
    assert action == "patch" and patch == {"data": {"a": "1", "b": None}}
    # no host object any more: an import goes, a user's own object of that name stays
    assert imported.plan(current, None, kinds.CONFIGMAP) == ("delete", None)
    own = {"metadata": {"name": "tls-copy", "namespace": "apps"}, "data": {}}
    assert imported.plan(own, None, kinds.CONFIGMAP) == ("", None)
    # an immutable virtual object or a Secret of another type cannot be patched
    assert imported.plan({**edited, "immutable": True}, want, kinds.CONFIGMAP) == ("recreate", None)
    secret = imported.virtual_copy(
        {**host_cm(), "kind": "Secret", "type": "kubernetes.io/tls", "data": {}},
        kinds.SECRET,
        ("apps", "s"),
        ctx(),
    )
    assert imported.plan({**secret, "type": "Opaque"}, secret, kinds.SECRET) == ("recreate", None)
