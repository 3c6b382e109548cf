"""Name and label-key translation against the test vectors of the syncer spec (§1.2, §1.4, §2.2)."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from vcluster.syncer import names


def test_short_names_are_joined_unchanged() -> None:
    assert (
        names.safe_concat_name("nginx", "x", "default", "x", "my-vcluster") == "nginx-x-default-x-my-vcluster"
    )
    assert names.host_name("nginx", "default", "my-vcluster") == "nginx-x-default-x-my-vcluster"
    assert names.host_name("", "default", "my-vcluster") == ""


def test_long_names_are_cut_and_hashed() -> None:
    got = names.safe_concat_name("a" * 60, "x", "default", "x", "my-vcluster")
    assert got == "a" * 52 + "-0b8eadb6c3"  # spec §1.2 test vector
    assert len(got) == 63


def test_dot_dash_is_collapsed_but_double_dash_is_not() -> None:
    joined = "a" * 51 + "." + "b" * 20
    got = names.safe_concat_name(joined)
    assert got == "a" * 51 + "-" + hashlib.sha256(joined.encode()).hexdigest()[:10]
    assert len(got) == 62
    # A cut right after a dash keeps '--' (observed on real clusters, spec §1.2).
    got = names.safe_concat_name(
        "rook-nfs-operator-5fd99c7c8-dcnnj", "x", "rook-nfs-system", "x", "vcluster-nfs"
    )
    assert got.startswith("rook-nfs-operator-5fd99c7c8-dcnnj-x-rook-nfs-system--")


def test_host_name_short() -> None:
    assert names.host_name_short("nginx", "default", "my-vcluster") == "v5524qrl7ii9qr"  # spec §1.4


def test_cluster_scoped_names_and_marker() -> None:
    assert names.host_name_cluster("fast", "vc-ns", "vc") == "vcluster-fast-x-vc-ns-x-vc"
    assert names.cluster_marker("vc-ns", "vc") == "vc-ns-x-vc"


def test_reserved_label_keys() -> None:
    assert (
        names.label_key_to_host("release", "suffix") == "vcluster.loft.sh/label-suffix-x-a4d451ec23"
    )  # §2.2
    assert names.label_key_from_host("vcluster.loft.sh/label-suffix-x-a4d451ec23", "suffix") == "release"
    assert names.label_key_to_host("app", "suffix") == "app"
    assert names.label_key_from_host("app", "suffix") == "app"
    for never in (
        "release",
        "vcluster.loft.sh/managed-by",
        "vcluster.loft.sh/namespace",
        "vcluster.loft.sh/ns-label-x-x-0123456789",
    ):
        assert names.label_key_from_host(never, "suffix") is None
    assert names.ns_label_key("team", "my-vcluster") == "vcluster.loft.sh/ns-label-my-vcluster-x-ca8b22d0db"


def test_gvk_string() -> None:
    assert names.gvk_string("", "v1", "Pod") == "/v1, Kind=Pod"
    assert names.gvk_string("networking.k8s.io", "v1", "Ingress") == "networking.k8s.io/v1, Kind=Ingress"


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=120),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=63),
)
def test_host_names_never_exceed_63(name: str, ns: str) -> None:
    got = names.host_name(name, ns, "my-vcluster")
    assert len(got) <= 63
    if len(f"{name}-x-{ns}-x-my-vcluster") <= 63:
        assert got == f"{name}-x-{ns}-x-my-vcluster"
