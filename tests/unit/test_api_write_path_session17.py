"""Session 17, task A3: the per-write steps made cheaper keep their results: dropDisabledFields
looks at the stored spec only for a field the new one has (each feature is decided on its own),
a binding drops nothing (BindingREST updates the stored pod without a strategy), and the FieldsV1
encoder gives upstream's document, on a cache miss as on a hit."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcluster.apiserver import fieldmanager as fm
from vcluster.apiserver.dropdisabled import drop_disabled_fields


# ---------------------------------------------------------------------------- dropDisabledFields
def _pod_with_every_feature() -> dict[str, Any]:
    """A pod using every field 1.32's default gates drop, in spec and status."""
    return {
        "spec": {
            "hostUsers": False,
            "securityContext": {"supplementalGroupsPolicy": "Strict", "seLinuxChangePolicy": "Recursive"},
            "resources": {"limits": {"cpu": "1"}},
            "resourceClaims": [{"name": "gpu"}],
            "containers": [
                {
                    "name": "c",
                    "securityContext": {"procMount": "Unmasked"},
                    "resources": {"claims": [{"name": "gpu"}]},
                    "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
                    "volumeMounts": [{"name": "img", "mountPath": "/i"}],
                }
            ],
            "volumes": [
                {"name": "img", "image": {"reference": "busybox"}},
                {
                    "name": "proj",
                    "projected": {"sources": [{"clusterTrustBundle": {"name": "b", "path": "p"}}]},
                },
            ],
        },
        "status": {
            "containerStatuses": [{"name": "c", "resources": {}, "user": {"linux": {"uid": 0, "gid": 0}}}],
            "resize": "InProgress",
            "resourceClaimStatuses": [{"name": "gpu"}],
        },
    }


def _in_use(feature: str) -> dict[str, Any]:
    """The stored pod of an update: it uses `feature` alone."""
    full = _pod_with_every_feature()["spec"]
    c = full["containers"][0]
    spec: dict[str, Any] = {"containers": [{"name": "c"}]}
    if feature == "hostUsers":
        spec["hostUsers"] = False
    elif feature in ("supplementalGroupsPolicy", "seLinuxChangePolicy"):
        spec["securityContext"] = {feature: full["securityContext"][feature]}
    elif feature == "resources":
        spec["resources"] = full["resources"]
    elif feature == "claims":
        spec["resourceClaims"] = full["resourceClaims"]
    elif feature == "procMount":
        spec["containers"][0]["securityContext"] = c["securityContext"]
    elif feature == "resizePolicy":
        spec["containers"][0]["resizePolicy"] = c["resizePolicy"]
    elif feature == "image":
        spec["volumes"] = [full["volumes"][0]]
    elif feature == "clusterTrustBundle":
        spec["volumes"] = [full["volumes"][1]]
    return {"spec": copy.deepcopy(spec)}


def _kept(pod: dict[str, Any]) -> set[str]:
    """The features whose fields survived in `pod`."""
    spec, status = pod["spec"], pod["status"]
    c = spec["containers"][0]
    cs = status["containerStatuses"][0]
    found = {
        "hostUsers": "hostUsers" in spec,
        "supplementalGroupsPolicy": "supplementalGroupsPolicy" in spec["securityContext"],
        "seLinuxChangePolicy": "seLinuxChangePolicy" in spec["securityContext"],
        "resources": "resources" in spec,
        "claims": "resourceClaims" in spec
        and "claims" in c["resources"]
        and "resourceClaimStatuses" in status,
        "procMount": c["securityContext"]["procMount"] == "Unmasked",
        "resizePolicy": "resizePolicy" in c and "resources" in cs and "resize" in status,
        "image": any(v["name"] == "img" for v in spec.get("volumes", [])) and "volumeMounts" in c,
        "clusterTrustBundle": any(
            "clusterTrustBundle" in s
            for v in spec["volumes"]
            for s in v.get("projected", {}).get("sources", [])
        ),
    }
    # the status fields follow their spec feature: a container status's user, supplementalGroupsPolicy's
    assert ("user" in cs) == found["supplementalGroupsPolicy"]
    return {k for k, v in found.items() if v}


FEATURES = [
    "hostUsers",
    "supplementalGroupsPolicy",
    "seLinuxChangePolicy",
    "resources",
    "claims",
    "procMount",
    "resizePolicy",
    "image",
    "clusterTrustBundle",
]


def test_create_drops_every_disabled_field() -> None:
    pod = _pod_with_every_feature()
    drop_disabled_fields("", "Pod", pod, None)
    assert _kept(pod) == set()
    assert pod["spec"]["containers"][0]["securityContext"] == {"procMount": "Default"}


@pytest.mark.parametrize("feature", FEATURES)
def test_update_keeps_only_the_feature_the_stored_pod_uses(feature: str) -> None:
    pod = _pod_with_every_feature()
    drop_disabled_fields("", "Pod", pod, _in_use(feature))
    assert _kept(pod) == {feature}


def test_binding_drops_nothing() -> None:
    # BindingREST.setPodNodeAndMetadata: GuaranteedUpdate on the stored pod, no PrepareForUpdate
    pod = _pod_with_every_feature()
    drop_disabled_fields("", "Pod", pod, {"spec": {"containers": [{"name": "c"}]}}, "binding")
    assert pod == _pod_with_every_feature()


def test_status_write_drops_status_fields_only() -> None:
    pod = _pod_with_every_feature()
    drop_disabled_fields("", "Pod", pod, {"spec": {"containers": [{"name": "c"}]}}, "status")
    assert pod["spec"] == _pod_with_every_feature()["spec"]
    assert pod["status"] == {"containerStatuses": [{"name": "c"}]}


# ---------------------------------------------------------------------------- FieldsV1 encoding
def _reference(fs: set[fm.Path]) -> bytes:
    """FieldsV1 as structured-merge-diff writes it: per level the children sorted by
    PathElement.Compare (fields, keys, values, indexes), `.` first for a member with children."""
    rank = {"f": 0, "k": 1, "v": 2, "i": 3}

    def level(paths: set[fm.Path], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        heads = {p[depth] for p in paths if len(p) > depth}
        for pe in sorted(heads, key=lambda pe: (rank[pe[0]], pe[1])):
            below = {p for p in paths if len(p) > depth and p[depth] == pe}
            member = any(len(p) == depth + 1 for p in below)
            deeper = {p for p in below if len(p) > depth + 1}
            d: dict[str, Any] = {".": {}} if member and deeper else {}
            d.update(level(deeper, depth + 1))
            out[fm._pe_serialize(pe)] = d
        return out

    return orjson.dumps(level({p for p in fs if p}, 0))


_elements = st.one_of(
    st.sampled_from(["a", "b", "spec", "containers", "f:x", "<y>"]).map(lambda n: ("f", n)),
    st.sampled_from(["c", "d", "e"]).map(lambda n: ("k", (("name", fm.freeze(n)),))),
    st.sampled_from([80, 443]).map(lambda n: ("k", (("port", fm.freeze(n)), ("protocol", fm.freeze("TCP"))))),
    st.sampled_from(["x", "y", "&"]).map(lambda v: ("v", fm.freeze(v))),
    st.integers(min_value=0, max_value=12).map(lambda i: ("i", i)),
)
_paths = st.lists(_elements, min_size=0, max_size=4).map(tuple)


@settings(max_examples=300, deadline=None)
@given(fs=st.sets(_paths, max_size=14))
def test_fields_v1_matches_the_reference_on_miss_and_hit(fs: set[fm.Path]) -> None:
    expected = _reference(fs)
    first = fm.to_fields_v1(fs)  # built (or from an earlier example's cache entry)
    assert orjson.dumps(first) == expected
    first.clear()  # the caller owns the document: the cache keeps its own text
    assert orjson.dumps(fm.to_fields_v1(fs)) == expected  # a hit now
    assert fm.from_fields_v1(orjson.loads(expected)) == {p for p in fs if p}


def test_fields_v1_cache_stays_bounded() -> None:
    for i in range(fm._ENCODED_MAX * 3):
        fm.to_fields_v1({(("f", "metadata"), ("f", f"n{i}"))})
    assert len(fm._ENCODED) <= fm._ENCODED_MAX


# ---------------------------------------------------------------------------- pipeline
def test_a_binding_is_encoded_again_only_when_its_object_was_replaced() -> None:
    from vcluster.apiserver.pipeline import _replaced

    spec, status = {"nodeName": "n1"}, {"phase": "Pending"}
    pod = {"spec": spec, "status": status}
    top = dict(pod)
    spec["nodeName"] = "n2"  # the steps after the encoding change values in place: same objects
    assert not _replaced(pod, top)
    patched = {"spec": {"nodeName": "n2"}, "status": status}  # a webhook's patched object
    pod.clear()
    pod.update(patched)
    assert _replaced(pod, top)
    assert _replaced({**top, "extra": {}}, top)
