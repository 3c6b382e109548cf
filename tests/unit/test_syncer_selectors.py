"""Label selector translation virtual → host (§2.2, §3.6, §5) and selector matching."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vcluster.syncer import constants as c
from vcluster.syncer import selectors

VC = "my-vcluster"


def hex10(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def test_translate_label_selector_keeps_plain_keys_and_hashes_reserved() -> None:
    sel = {
        "matchLabels": {"app": "web", "release": "r"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a"]},
            {"key": "release", "operator": "Exists"},
        ],
    }
    got = selectors.translate_label_selector(sel, VC)
    hashed = f"vcluster.loft.sh/label-{VC}-x-{hex10('release')}"
    assert got == {
        "matchLabels": {"app": "web", hashed: "r"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a"]},
            {"key": hashed, "operator": "Exists"},
        ],
    }
    assert selectors.virtual_label_selector(got, VC) == sel
    assert selectors.translate_label_selector(None, VC) is None
    assert selectors.translate_label_selector({}, VC) == {}


def test_namespace_selector_becomes_ns_label_keys() -> None:
    got = selectors.ns_label_selector({"matchLabels": {"team": "a"}}, VC)
    assert got == {"matchLabels": {f"vcluster.loft.sh/ns-label-{VC}-x-ca8b22d0db": "a"}}  # spec §2.2 example


def test_service_selectors() -> None:
    host = selectors.host_service_selector({"app": "web", "release": "r"}, VC, "default")
    assert host == {
        "app": "web",
        f"vcluster.loft.sh/label-{VC}-x-{hex10('release')}": "r",
        c.MARKER_LABEL: VC,
        c.NAMESPACE_LABEL: "default",
    }
    assert selectors.virtual_service_selector(host, VC) == {"app": "web", "release": "r"}
    assert selectors.host_service_selector(None, VC, "default") is None
    assert selectors.host_service_selector({}, VC, "default") is None


def test_pod_selector_for_namespace_and_merge() -> None:
    got = selectors.pod_selector_for_namespace({}, VC, "team-a")
    assert got == {"matchLabels": {c.NAMESPACE_LABEL: "team-a", c.MARKER_LABEL: VC}}
    merged = selectors.merge_label_selectors(
        {"matchLabels": {"a": "1"}},
        None,
        {"matchLabels": {"b": "2"}, "matchExpressions": [{"key": "k", "operator": "Exists"}]},
    )
    assert merged == {
        "matchLabels": {"a": "1", "b": "2"},
        "matchExpressions": [{"key": "k", "operator": "Exists"}],
    }


@pytest.mark.parametrize(
    ("sel", "labels", "want"),
    [
        (None, {"a": "1"}, False),
        ({}, {}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}, {"a": "1"}, False),
    ],
)
def test_selector_matches(sel: dict | None, labels: dict, want: bool) -> None:
    assert selectors.selector_matches(sel, labels) is want
    assert selectors.selector_matches(None, labels, none_matches=True) is True


label_keys = st.sampled_from(
    ["app", "release", "vcluster.loft.sh/namespace", "vcluster.loft.sh/managed-by", "x.io/y"]
)


@given(
    st.dictionaries(label_keys, st.sampled_from(["", "a", "b"])),
    st.dictionaries(label_keys, st.sampled_from(["", "a"])),
)
def test_translated_selector_matches_translated_labels(sel_labels: dict, pod_labels: dict) -> None:
    """A selector matches virtual labels exactly when its translation matches the host labels."""
    from vcluster.syncer.context import SyncContext
    from vcluster.syncer.metadata import host_labels

    sel = {"matchLabels": sel_labels}
    host = host_labels(pod_labels, SyncContext(vcluster=VC, host_namespace="h"), "default")
    assert selectors.selector_matches(sel, pod_labels) == selectors.selector_matches(
        selectors.translate_label_selector(sel, VC), host
    )
