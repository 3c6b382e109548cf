"""The kubelet part of `vcluster hostsim`'s ready line: every node's port, as a range or a list."""

from __future__ import annotations

from vcluster.cli.hostsim_cmd import kubelet_endpoints


def test_no_nodes_shows_the_one_server_port() -> None:
    assert kubelet_endpoints("10.0.0.5", {}, 10250) == "kubelet https://10.0.0.5:10250"


def test_one_node() -> None:
    assert kubelet_endpoints("10.0.0.5", {"n-1": 10250}, 10250) == "kubelet https://10.0.0.5:10250 (n-1)"


def test_consecutive_ports_are_a_range() -> None:
    ports = {f"n-{i}": 10249 + i for i in range(1, 101)}
    assert kubelet_endpoints("10.0.0.5", ports, 10250) == (
        "kubelet https://10.0.0.5:10250 (n-1) to https://10.0.0.5:10349 (n-100), one port per node"
    )


def test_scattered_ports_are_listed_then_shortened() -> None:
    ports = {"a": 40001, "b": 39000, "c": 41234}
    assert kubelet_endpoints("127.0.0.1", ports, 40001) == (
        "kubelet https://127.0.0.1:40001 (a), https://127.0.0.1:39000 (b), https://127.0.0.1:41234 (c)"
    )
    many = {f"n-{i}": 30000 + 7 * i for i in range(1, 21)}
    assert kubelet_endpoints("127.0.0.1", many, 30007) == (
        "kubelet https://127.0.0.1:30007 (n-1), https://127.0.0.1:30014 (n-2), "
        "https://127.0.0.1:30021 (n-3), ... 16 more, https://127.0.0.1:30140 (n-20)"
    )


def test_ipv6_addresses_are_bracketed() -> None:
    assert kubelet_endpoints("fd00::1", {"n-1": 10250}, 10250) == "kubelet https://[fd00::1]:10250 (n-1)"
