"""Three-way merge primitives (§6.2) and declarative field directions (§6.3)."""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from vcluster.syncer import constants as c
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import (
    Field,
    FieldDirections,
    apply_directions,
    apply_merge_patch,
    copy_bidirectional,
    create_merge_patch,
    diff_map,
    initial_base,
    merge_annotations,
    merge_bidirectional,
    merge_both_ways,
    merge_labels,
    semantic_equal,
    set_path,
    split_status,
    visible_annotations,
)

CTX = SyncContext(vcluster="vc", host_namespace="hns")
RELEASE_HOST = "vcluster.loft.sh/label-vc-x-a4d451ec23"  # hashed `release` for VC "vc"

keys = st.sampled_from(["a", "b", "c", "release", "app.kubernetes.io/name", "x/y"])
values = st.sampled_from(["", "1", "2", "v"])
label_maps = st.dictionaries(keys, values, max_size=5)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=3), json_values, max_size=4)


def test_diff_and_merge_maps() -> None:
    assert diff_map({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == {"b": "3", "c": "4"}
    assert diff_map({"a": "1"}, {}) == {"a": None}
    # one side's diff applied onto the other, keys transformed (None drops one)
    host = {"a": "1", "keep": "k"}
    pushed = merge_both_ways({"a": "1"}, {"a": "2", "b": "x"}, host, host)[1]
    assert pushed == {"a": "2", "b": "x", "keep": "k"}
    assert merge_both_ways({"a": "1"}, {}, host, host)[1] == {"keep": "k"}
    upper = lambda k: None if k == "drop" else k.upper()  # noqa: E731
    assert merge_both_ways(None, {"drop": "1", "k": "v"}, {}, {}, upper)[1] == {"K": "v"}


def test_label_merge_virtual_change_wins_and_reserved_keys_hash() -> None:
    v_old, v = {"app": "web"}, {"app": "api", "release": "r1"}
    h_old = {"app": "web", c.MARKER_LABEL: "vc"}
    h = {"app": "db", "host-only": "1", c.MARKER_LABEL: "vc"}
    got = merge_labels(v_old, v, h_old, h, "vc")
    # `app` changed on both sides: the virtual value wins; `host-only`, added on the host alone in
    # the same interval, is copied back (vCluster would drop it and leave the sides apart)
    assert got.virtual == {**v, "host-only": "1"} and got.virtual_changed and got.host_changed
    assert got.host == {"app": "api", RELEASE_HOST: "r1", "host-only": "1", c.MARKER_LABEL: "vc"}


def test_concurrent_changes_to_different_keys_reach_both_sides() -> None:
    """Both sides changed since the base, each its own keys (adds, changes, removals): every change
    is on both sides afterwards, so the stored base (the merged pair) agrees with itself."""
    v_old = {"a": "1", "b": "1", "gone-v": "x", "gone-h": "x"}
    h_old = {**v_old, c.MARKER_LABEL: "vc"}
    v = {"a": "2", "b": "1", "gone-h": "x", "new-v": "v"}  # a changed, gone-v removed, new-v added
    h = {"a": "1", "b": "3", "gone-v": "x", "new-h": "h", c.MARKER_LABEL: "vc"}  # b, gone-h, new-h
    got = merge_labels(v_old, v, h_old, h, "vc")
    assert got.virtual == {"a": "2", "b": "3", "new-v": "v", "new-h": "h"}
    assert got.host == {**got.virtual, c.MARKER_LABEL: "vc"}
    # a key both sides removed or set alike is no conflict; a key both changed differently: virtual
    got = merge_labels({"k": "0", "x": "0"}, {"k": "v"}, {"k": "0", "x": "0"}, {"k": "h"}, "vc")
    assert got.virtual == {"k": "v"} and got.host == {"k": "v"}


def test_concurrent_annotation_and_data_changes_reach_both_sides() -> None:
    got = merge_annotations({"a": "1"}, {"a": "2"}, {"a": "1"}, {"a": "1", "h": "x"})
    assert got.virtual == {"a": "2", "h": "x"}
    assert got.host == {"a": "2", "h": "x", c.MANAGED_ANNOTATIONS_ANNOTATION: "a\nh"}
    got = merge_bidirectional({"k1": "a", "k2": "b"}, {"k1": "A", "k2": "b"}, {"k1": "a", "k2": "b"},
                              {"k1": "a", "k2": "B", "k3": "c"})  # fmt: skip
    assert got.virtual == got.host == {"k1": "A", "k2": "B", "k3": "c"}


def test_label_merge_host_change_comes_back_translated() -> None:
    v = {"app": "web"}
    h_old = {"app": "web", c.MARKER_LABEL: "vc", c.NAMESPACE_LABEL: "default"}
    h = {
        **h_old,
        "team": "a",
        RELEASE_HOST: "r2",
        "vcluster.loft.sh/ns-label-vc-x-0123456789": "x",
        "release": "raw",
    }
    new_v, new_h, v_changed, h_changed = merge_labels(v, v, h_old, h, "vc")
    assert new_v == {"app": "web", "team": "a", "release": "r2"}
    assert new_h == h and v_changed and not h_changed


def test_annotation_merge_excludes_bookkeeping_both_ways() -> None:
    h_old = {c.NAME_ANNOTATION: "n", c.MANAGED_ANNOTATIONS_ANNOTATION: "x"}
    h = {**h_old, c.NAME_ANNOTATION: "other", "note": "1", "skip-me": "1", "pre/fix": "1"}
    got = merge_annotations({}, {}, h_old, h, excluded=("skip-me",), excluded_prefixes=("pre/",))
    assert got.virtual == {"note": "1"}
    got = merge_annotations({}, {c.UID_ANNOTATION: "u", "x": "1"}, h_old, h_old)
    assert got.host == {**h_old, "x": "1"}


ann_keys = st.sampled_from(["a", "b", "note", c.NAME_ANNOTATION, c.UID_ANNOTATION, "pre/tok", "skip-me"])
ann_maps = st.dictionaries(ann_keys, values, max_size=5)


@given(ann_maps, ann_maps, ann_maps, ann_maps)
def test_annotation_merge_needs_no_excluded_keys_in_its_base(
    v_old: dict[str, str], v: dict[str, str], h_old: dict[str, str], h: dict[str, str]
) -> None:
    """A base kept without the excluded annotations (BaseStore keeps no host pod token) merges
    exactly as the full base would."""
    ex, pre = ("skip-me",), ("pre/",)
    full = merge_annotations(v_old, v, h_old, h, ex, pre)
    lean = merge_annotations(
        visible_annotations(v_old, ex, pre), v, visible_annotations(h_old, ex, pre), h, ex, pre
    )
    # the same visible outcome on both sides, and the host's own excluded keys kept
    for side in ("virtual", "host"):
        got, want = getattr(lean, side), getattr(full, side)
        assert visible_annotations(got, ex, pre) == visible_annotations(want, ex, pre), side
    hidden = {k: x for k, x in h.items() if k not in visible_annotations(h, ex, pre)}
    assert hidden.items() <= lean.host.items()


def test_base_projection_keeps_only_crossing_annotations() -> None:
    from vcluster.syncer.engine.basestore import project

    obj = {"metadata": {"labels": {"a": "1"}, "annotations": {"note": "1", "pre/tok": "jwt"}}, "spec": {}}
    keep = lambda m: visible_annotations(m, (), ("pre/",))  # noqa: E731
    assert project(obj, ("metadata.labels", "metadata.annotations"), keep) == {
        "metadata": {"labels": {"a": "1"}, "annotations": {"note": "1"}}
    }
    only_token = {"metadata": {"annotations": {"pre/tok": "jwt"}}}
    assert project(only_token, ("metadata.annotations",), keep) == {}
    assert obj["metadata"]["annotations"] == {"note": "1", "pre/tok": "jwt"}  # not mutated


def test_copy_and_merge_bidirectional() -> None:
    assert copy_bidirectional(1, 2, 5, 6) == (2, 2, False, True)  # both changed: virtual wins
    assert copy_bidirectional(1, 1, 5, 6) == (6, 6, True, False)
    assert copy_bidirectional(1, 1, 5, 5) == (1, 5, False, False)
    assert copy_bidirectional(None, [], "x", "x") == ([], "x", False, False)  # nil == empty
    got = merge_bidirectional({"a": "1"}, {"a": "1", "b": "2"}, {"a": "1", "h": "3"}, {"a": "1", "h": "3"})
    assert got == ({"a": "1", "b": "2"}, {"a": "1", "h": "3", "b": "2"}, False, True)
    assert merge_bidirectional({"a": "1"}, {"a": "1"}, {"a": "1"}, {}) == (None, None, True, False)


def test_semantic_equal_treats_nil_and_empty_alike() -> None:
    assert semantic_equal({"a": None, "b": [], "c": {}}, {})
    assert semantic_equal(None, {})
    assert not semantic_equal({"a": ""}, {})
    assert not semantic_equal({"a": 1}, {"a": True})


def test_create_merge_patch_and_split_status() -> None:
    before = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": [1, 2]}, "status": {"phase": "P"}}
    after = {"metadata": {"labels": {"a": "1", "c": "3"}}, "spec": {"x": [1]}, "status": {"phase": "R"}}
    patch = create_merge_patch(before, after)
    assert patch == {
        "metadata": {"labels": {"b": None, "c": "3"}},
        "spec": {"x": [1]},
        "status": {"phase": "R"},
    }
    assert split_status(patch) == (
        {"metadata": {"labels": {"b": None, "c": "3"}}, "spec": {"x": [1]}},
        {"status": {"phase": "R"}},
    )
    assert create_merge_patch(after, copy.deepcopy(after)) is None
    assert split_status(None) == (None, None)


def _strip_nulls(v: object) -> object:
    if isinstance(v, dict):
        return {k: _strip_nulls(x) for k, x in v.items() if x is not None}
    return v


@given(json_objects, json_objects)
def test_merge_patch_round_trip(a: dict, b: dict) -> None:
    a0, b0 = copy.deepcopy(a), copy.deepcopy(b)
    patch = create_merge_patch(a, b)
    assert (a, b) == (a0, b0)
    got = apply_merge_patch(a, patch)
    assert _strip_nulls(got) == _strip_nulls(b)
    assert create_merge_patch(got, b) is None or _strip_nulls(got) == _strip_nulls(b)


@given(label_maps, label_maps, label_maps, label_maps)
def test_label_merge_is_idempotent(v_old: dict, v: dict, h_old: dict, h: dict) -> None:
    args = tuple(copy.deepcopy(x) for x in (v_old, v, h_old, h))
    new_v, new_h, v_changed, h_changed = merge_labels(v_old, v, h_old, h, "vc")
    assert (v_old, v, h_old, h) == args, "inputs untouched"
    assert v_changed == (new_v != v) and h_changed == (new_h != h)
    # the next reconcile sees the written objects as the new base: nothing changes any more
    assert merge_labels(new_v, new_v, new_h, new_h, "vc") == (new_v, new_h, False, False)
    # a virtual-side change always lands on the host (virtual wins)
    if v != v_old:
        for k, val in v.items():
            hk = RELEASE_HOST if k == "release" else k
            if v_old.get(k) != val:
                assert new_h[hk] == val


@given(label_maps, label_maps, label_maps)
def test_label_merge_of_an_agreeing_pair_agrees(base: dict, v: dict, h: dict) -> None:
    """From a base where both sides agreed, any changes on both sides end in agreeing sides:
    every key takes the virtual change, else the host change, else stays."""
    to_host = {
        k: (RELEASE_HOST if k == "release" else k)
        for k in ("a", "b", "c", "release", "app.kubernetes.io/name", "x/y")
    }
    h_base = {to_host[k]: val for k, val in base.items()}
    h_host = {to_host[k]: val for k, val in h.items()}
    new_v, new_h, _, _ = merge_labels(base, v, h_base, h_host, "vc")
    assert {to_host[k]: val for k, val in new_v.items()} == new_h
    for k in to_host:
        want = v.get(k) if v.get(k) != base.get(k) else h.get(k)
        assert new_v.get(k) == want, k


@given(label_maps)
def test_label_keys_round_trip(v: dict) -> None:
    host = merge_labels({}, v, {}, {}, "vc").host
    assert merge_labels({}, {}, {}, host, "vc").virtual == v


# ---------------------------------------------------------------- apply_directions


FIELDS = FieldDirections(
    to_host=(
        "spec.replicas",
        Field("spec.selector", to_host=lambda v, env: {k.upper(): x for k, x in (v or {}).items()}),
    ),
    from_host=("status",),
    both=("metadata.labels", "metadata.annotations", "spec.mode", Field("data", strategy="merge")),
)


def _pair() -> tuple[dict, dict]:
    virtual = {
        "metadata": {"name": "n", "labels": {"a": "1"}},
        "spec": {"replicas": 2, "selector": {"k": "v"}, "mode": "x"},
        "data": {"d": "1"},
    }
    host = {
        "metadata": {"name": "h", "labels": {"a": "1", c.MARKER_LABEL: "vc"}},
        "spec": {"replicas": 2, "selector": {"K": "v"}, "mode": "x"},
        "data": {"d": "1"},
        "status": {"ready": True},
    }
    return virtual, host


def test_apply_directions_routes_each_field() -> None:
    virtual, host = _pair()
    v_old, h_old = copy.deepcopy(virtual), copy.deepcopy(host)
    virtual["spec"]["replicas"] = 3
    virtual["data"]["v"] = "2"
    host["spec"]["mode"] = "y"
    host["data"]["h"] = "3"
    snapshot = copy.deepcopy((virtual, host))
    new_v, new_h, v_changed, h_changed = apply_directions(virtual, host, v_old, h_old, FIELDS, CTX)
    assert (virtual, host) == snapshot
    assert v_changed and h_changed
    assert new_h["spec"]["replicas"] == 3
    assert new_v["status"] == {"ready": True}
    assert new_v["spec"]["mode"] == "y"  # only host changed
    assert new_h["data"] == {"d": "1", "h": "3", "v": "2"}  # each side's diff applied to the other
    assert new_v["data"] == {"d": "1", "h": "3", "v": "2"}
    # next round with written results as base converges
    assert apply_directions(new_v, new_h, new_v, new_h, FIELDS, CTX) == (new_v, new_h, False, False)


def test_apply_directions_default_base_repushes_labels() -> None:
    virtual, host = _pair()
    del host["metadata"]["labels"]["a"]
    v_base, h_base = initial_base(virtual, host)
    assert "labels" not in v_base["metadata"] and h_base == host
    new_h = apply_directions(virtual, host, None, None, FIELDS, CTX).host
    assert new_h["metadata"]["labels"] == {"a": "1", c.MARKER_LABEL: "vc"}
    assert FIELDS.paths()["both"] == ("metadata.labels", "metadata.annotations", "spec.mode", "data")


@given(label_maps, label_maps, label_maps, label_maps)
def test_apply_directions_twice_changes_nothing(v_old: dict, v: dict, h_old: dict, h: dict) -> None:
    virtual = {"metadata": {"labels": v}, "spec": {"mode": v.get("a")}}
    host = {"metadata": {"labels": h}, "spec": {"mode": h.get("a")}}
    base_v = {"metadata": {"labels": v_old}, "spec": {"mode": v_old.get("a")}}
    base_h = {"metadata": {"labels": h_old}, "spec": {"mode": h_old.get("a")}}
    new_v, new_h, _, _ = apply_directions(virtual, host, base_v, base_h, FIELDS, CTX)
    assert apply_directions(new_v, new_h, new_v, new_h, FIELDS, CTX) == (new_v, new_h, False, False)


def test_set_path_copy_on_write_leaves_shared_maps_alone() -> None:
    shared = {"status": {"phase": "Pending", "conditions": [{"type": "Ready"}]}, "spec": {"a": 1}}
    original = copy.deepcopy(shared)
    out = dict(shared)  # a new top level over the same subtrees
    set_path(out, "status.phase", "Running", copy_on_write=True)
    set_path(out, "status.podIP", "10.0.0.1", copy_on_write=True)
    set_path(out, "spec.a", None, copy_on_write=True)
    assert shared == original  # the shared maps were copied, not changed
    assert out["status"] == {"phase": "Running", "conditions": [{"type": "Ready"}], "podIP": "10.0.0.1"}
    assert out["spec"] == {}
    assert out["status"]["conditions"] is shared["status"]["conditions"]  # untouched subtrees shared
    # without copy_on_write the maps along the path are changed in place
    set_path(shared, "status.phase", "Failed")
    assert original["status"]["phase"] == "Pending" and shared["status"]["phase"] == "Failed"
