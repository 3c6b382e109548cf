"""connectoptions: the query conversions of kube's Convert_url_Values_To_v1_Pod*Options, Go's decode
errors for patched options, and the way back to a query."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from vcluster.apiserver import connectoptions as co


def test_exec_options_from_query() -> None:
    command = [("command", "sh"), ("command", "-c"), ("command", "echo hi")]
    flags = [("stdout", "true"), ("stdin", "0"), ("stderr", "FALSE"), ("tty", "1")]
    q = MultiDict([*command, *flags, ("container", "main"), ("unrelated", "x")])
    assert co.from_query("PodExecOptions", q) == {
        "kind": "PodExecOptions",
        "apiVersion": "v1",
        "stdout": True,
        "tty": True,
        "container": "main",
        "command": ["sh", "-c", "echo hi"],
    }
    # command is not omitempty: null when absent; attach has none
    assert co.from_query("PodExecOptions", MultiDict())["command"] is None
    assert co.from_query("PodAttachOptions", MultiDict([("stdin", "")])) == {
        "kind": "PodAttachOptions",
        "apiVersion": "v1",
        "stdin": True,  # a present, empty value is true (only "0" and "false" are false)
    }


def test_port_forward_ports() -> None:
    q = MultiDict([("ports", "80,8080"), ("ports", "65535")])
    assert co.from_query("PodPortForwardOptions", q)["ports"] == [80, 8080, 65535]
    assert "ports" not in co.from_query("PodPortForwardOptions", MultiDict())
    for bad, why in (("http", "invalid syntax"), ("", "invalid syntax"), ("+1", "invalid syntax")):
        with pytest.raises(co.OptionsError) as e:
            co.from_query("PodPortForwardOptions", MultiDict([("ports", f"80,{bad}")]))
        assert str(e.value) == f'cannot convert to []int32: strconv.ParseUint: parsing "{bad}": {why}'
    with pytest.raises(co.OptionsError, match='parsing "65536": value out of range'):
        co.from_query("PodPortForwardOptions", MultiDict([("ports", "65536")]))


def test_type_errors_of_patched_options() -> None:
    ok = {"kind": "PodExecOptions", "apiVersion": "v1", "stdin": True, "command": ["ls"], "extra": 1}
    assert co.type_error("PodExecOptions", ok) is None
    assert co.type_error("PodExecOptions", {**ok, "stdin": "yes"}) == (
        "json: cannot unmarshal string into Go struct field PodExecOptions.stdin of type bool"
    )
    assert co.type_error("PodExecOptions", {**ok, "command": "ls"}) == (
        "json: cannot unmarshal string into Go struct field PodExecOptions.command of type []string"
    )
    assert co.type_error("PodExecOptions", {**ok, "command": ["ls", 3]}) == (
        "json: cannot unmarshal number 3 into Go struct field PodExecOptions.command of type string"
    )
    assert co.type_error("PodPortForwardOptions", {"ports": [80, 1.5]}) == (
        "json: cannot unmarshal number 1.5 into Go struct field PodPortForwardOptions.ports of type int32"
    )
    assert co.normalize("PodExecOptions", ok) == {
        "kind": "PodExecOptions",
        "apiVersion": "v1",
        "stdin": True,
        "command": ["ls"],
    }


def test_query_round_trip() -> None:
    obj = {
        "kind": "PodExecOptions",
        "apiVersion": "v1",
        "stdout": True,
        "container": "c",
        "command": ["a", "b"],
    }
    q = co.to_query("PodExecOptions", obj)
    assert q == [("stdout", "true"), ("container", "c"), ("command", "a"), ("command", "b")]
    assert co.from_query("PodExecOptions", MultiDict(q)) == obj
    pf = {"kind": "PodPortForwardOptions", "apiVersion": "v1", "ports": [80, 443]}
    assert co.to_query("PodPortForwardOptions", pf) == [("ports", "80,443")]
