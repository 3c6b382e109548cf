"""Session 17: vCluster's global flags (--silent, --debug, --log-output json), base64 values for
`create -f`, `list -o json` as vCluster marshals it and `connect` while already connected, on a real
local host with the real kubectl."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import KUBECTL
from tests.integration.test_cli_commands import HostCluster, User, host, kill_pids

pytestmark = pytest.mark.integration
__all__ = ["host"]


@pytest.fixture
def user(tmp_path: Path, host: HostCluster) -> Iterator[User]:
    u = User(tmp_path, host)
    try:
        yield u
    finally:
        kill_pids(str(tmp_path))


def test_global_flags_base64_values_and_connect_while_connected(user: User, host: HostCluster) -> None:
    values = base64.b64encode(b"sync:\n  toHost:\n    ingresses:\n      enabled: true\n").decode()
    r = user.ok("create", "gf", "-n", "gf-ns", "-f", values, "--silent")
    assert r.stderr == "" and user.current_context() == "vcluster_gf_gf-ns_kind-host"
    stored = host.kubectl("get", "cm", "-n", "gf-ns", "gf-config", "-o", "jsonpath={.data.config\\.yaml}")
    assert yaml.safe_load(stored)["sync"]["toHost"]["ingresses"]["enabled"] is True

    # a plain connect while connected short-cuts (one JSON line); --print and `-- CMD` still do their work
    r = user.ok("--log-output", "json", "connect", "gf")
    lines = [json.loads(line) for line in r.stderr.splitlines()]
    assert [(x["level"], x["message"]) for x in lines] == [("info", 'already connected to vcluster "gf"')]
    printed = yaml.safe_load(user.ok("connect", "gf", "--print").stdout)
    assert printed["current-context"] == "vcluster_gf_gf-ns_kind-host" and printed["users"][0]["user"]
    out = user.root / "ns.txt"
    r = user.run("connect", "gf", "--", "sh", "-c", f"{KUBECTL} get ns -o name > {out}")
    assert r.exit_code == 0 and "namespace/kube-system" in out.read_text()

    # vCluster's json.MarshalIndent: four-space indents
    listed = user.ok("list", "-o", "json").stdout
    assert listed.startswith('[\n    {\n        "Created": "') and json.loads(listed)[0]["Connected"] is True

    # --debug names what it does; an unknown flag exits 1 as vCluster's
    r = user.ok("create", "gf", "-n", "gf-ns", "--upgrade", "--connect=false", "--debug", "-f", values)
    assert "debug Started `vcluster start --name gf" in r.stderr
    assert user.run("delete", "gf", "-n", "gf-ns", "--no-such-flag").exit_code == 1

    r = user.ok("delete", "gf", "-n", "gf-ns", "-s")
    assert r.stderr == "" and not host.exists("ns", "gf-ns")
    assert user.ok("list", "-o", "json").stdout == "null\n"
