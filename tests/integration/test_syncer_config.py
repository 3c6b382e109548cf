"""The syncer's configuration end to end: selective sync (`configMaps.all`, ingresses enabled), the
pod security standard, the effective configuration in the host ConfigMap `<NAME>-config`, live
reload from that ConfigMap, and invalid configurations stopping `vcluster start`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .syncer_harness import (
    HOST_NS,
    MANAGED_BY,
    VC_NAME,
    Pair,
    edit_config,
    events_for,
    get_json,
    host_name,
    labels,
    pod_manifest,
    start_pair,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

SELECTIVE = """\
sync:
  toHost:
    configMaps:
      all: true
    ingresses:
      enabled: true
policies:
  podSecurityStandard: baseline
logging:
  encoding: json
"""


@pytest.fixture(scope="module")
def selective(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    p = start_pair(tmp_path_factory.mktemp("selective"), config=SELECTIVE)
    try:
        yield p
    finally:
        p.stop()


def _config_map(p: Pair) -> dict:
    cm = get_json(p.kh, "configmap", f"{VC_NAME}-config", "-n", HOST_NS)
    assert cm is not None, "no host ConfigMap my-vcluster-config"
    return cm


def test_all_configmaps_synced(selective: Pair) -> None:
    p, ns = selective, virtual_namespace(selective.kv, "allcm")
    p.kv("create", "configmap", "lonely", "-n", ns, "--from-literal=a=b")
    hcm = wait_until(
        lambda: get_json(p.kh, "configmap", host_name("lonely", ns), "-n", HOST_NS),
        10,
        what="unused cm synced",
    )
    assert hcm["data"] == {"a": "b"} and labels(hcm)[MANAGED_BY] == VC_NAME
    # secrets keep the default (only referenced ones)
    p.kv("create", "secret", "generic", "lonely", "-n", ns, "--from-literal=a=b")
    p.kv("create", "configmap", "later", "-n", ns, "--from-literal=a=b")
    wait_until(
        lambda: get_json(p.kh, "configmap", host_name("later", ns), "-n", HOST_NS), 10, what="later cm"
    )
    assert get_json(p.kh, "secret", host_name("lonely", ns), "-n", HOST_NS) is None


def test_ingress_synced_when_enabled(selective: Pair) -> None:
    p, ns = selective, virtual_namespace(selective.kv, "ing")
    p.kv("create", "secret", "generic", "tlscert", "-n", ns, "--from-literal=tls.crt=x")
    p.kv("create", "ingress", "web", "-n", ns, "--class=nginx", "--rule=example.com/=web:80,tls=tlscert")
    hname = host_name("web", ns)
    hing = wait_until(lambda: get_json(p.kh, "ingress", hname, "-n", HOST_NS), 10, what="host ingress")
    rule = hing["spec"]["rules"][0]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == host_name("web", ns), backend
    assert hing["spec"]["tls"][0]["secretName"] == host_name("tlscert", ns)
    assert hing["spec"].get("ingressClassName") == "nginx"
    # the TLS secret is now referenced, so it is synced (secrets.all is false)
    assert wait_until(
        lambda: get_json(p.kh, "secret", host_name("tlscert", ns), "-n", HOST_NS),
        10,
        what="tls secret synced",
    )


def test_json_log_lines_carry_the_sync_decision_fields(selective: Pair) -> None:
    """`logging.encoding: json`: one JSON object per line; a sync decision has `action`, `kind`,
    `virtual` and `host` fields."""
    p, ns = selective, virtual_namespace(selective.kv, "jsonlog")
    p.kv("create", "configmap", "logged", "-n", ns, "--from-literal=a=b")
    hname = host_name("logged", ns)

    def decision() -> dict[str, Any] | None:
        for line in p.vc.log_path.read_text().splitlines():
            if hname in line and line.startswith("{"):
                rec = json.loads(line)
                if rec.get("action") == "Create host":
                    return rec
        return None

    rec = wait_until(decision, 10, what="a JSON decision line")
    assert (
        rec["kind"] == "configmap"
        and rec["virtual"] == f"{ns}/logged"
        and rec["host"] == f"{HOST_NS}/{hname}"
    )
    assert (
        rec["level"] == "info"
        and rec["logger"] == "vcluster.syncer.configmap"
        and rec["msg"].startswith("Create host")
    )
    # after start-up every line is JSON
    tail = p.vc.log_path.read_text().splitlines()[-20:]
    assert tail and all(json.loads(line) for line in tail)


def test_effective_config_in_host_configmap(selective: Pair) -> None:
    cm = _config_map(selective)
    text = cm["data"]["config.yaml"]
    assert "sync:" in text
    cfg = yaml.safe_load(text)
    assert cfg["sync"]["toHost"]["configMaps"]["all"] is True
    assert cfg["sync"]["toHost"]["ingresses"]["enabled"] is True
    # defaults are filled in (the effective configuration, not just the file)
    assert cfg["sync"]["toHost"]["pods"]["enabled"] is True
    assert cfg["sync"]["fromHost"]["events"]["enabled"] is True
    assert cfg["policies"]["podSecurityStandard"] == "baseline"
    # the spec's way to look at it
    out = selective.kh("get", "cm", "-n", HOST_NS, f"{VC_NAME}-config", "-o", "yaml")
    assert "sync:" in out and "toHost:" in out


@pytest.mark.parametrize(
    ("name", "spec_extra", "container_extra"),
    [
        ("privileged", "", "    securityContext:\n      privileged: true\n"),
        ("hostpath", "  volumes:\n  - name: h\n    hostPath:\n      path: /etc\n", ""),
        ("hostnet", "  hostNetwork: true\n", ""),
    ],
)
def test_pod_security_baseline_rejects(
    selective: Pair, name: str, spec_extra: str, container_extra: str
) -> None:
    p, ns = selective, virtual_namespace(selective.kv, f"pss-{name}")
    manifest = pod_manifest(name, ns, spec_extra=spec_extra) + container_extra
    p.kv.create(manifest)
    p.kv.create(pod_manifest("fine", ns))
    ev = wait_until(
        lambda: [e for e in events_for(p.kv, ns, name) if "forbidden" in (e.get("message") or "")],
        10,
        what="a forbidden event on the virtual pod",
    )
    assert ev[0]["type"] == "Warning"
    assert ev[0]["message"].startswith(f'Pod {name} is forbidden: pods "{name}" is forbidden: '), ev[0][
        "message"
    ]
    # the compliant pod in the same namespace reaches the host; the violating one never does
    wait_until(lambda: get_json(p.kh, "pod", host_name("fine", ns), "-n", HOST_NS), 10, what="compliant pod")
    assert get_json(p.kh, "pod", host_name(name, ns), "-n", HOST_NS) is None
    vp = get_json(p.kv, "pod", name, "-n", ns)
    assert vp is not None and not (vp.get("spec") or {}).get("nodeName")
    assert f"Not syncing pod {ns}/{name}: " in p.vc.log_path.read_text()  # the decision is logged


def _set_switches(cfg: dict[str, Any], *, all_cms: bool, ingresses: bool) -> None:
    cfg["sync"]["toHost"]["configMaps"]["all"] = all_cms
    cfg["sync"]["toHost"]["ingresses"]["enabled"] = ingresses


def test_config_edit_applies_without_restart(selective: Pair) -> None:
    """Runs on the module's pair and puts its configuration back at the end."""
    p = selective
    pid = p.vc.pid
    ns = virtual_namespace(p.kv, "reload")
    original = _config_map(p)["data"]["config.yaml"]
    try:
        edit_config(p, lambda c: _set_switches(c, all_cms=False, ingresses=False))
        # the edit is live: a force-synced configmap proves the syncer has seen later objects
        p.kv("create", "configmap", "unused", "-n", ns, "--from-literal=a=b")
        p.kv("create", "ingress", "web", "-n", ns, "--rule=example.com/=web:80")
        p.kv("create", "configmap", "marker", "-n", ns, "--from-literal=a=b")
        p.kv("annotate", "configmap", "marker", "-n", ns, "vcluster.loft.sh/force-sync=true")
        wait_until(
            lambda: get_json(p.kh, "configmap", host_name("marker", ns), "-n", HOST_NS), 10, what="marker"
        )
        assert get_json(p.kh, "configmap", host_name("unused", ns), "-n", HOST_NS) is None
        assert get_json(p.kh, "ingress", host_name("web", ns), "-n", HOST_NS) is None

        # enabling configMaps.all and ingresses again syncs what exists, without a restart
        edit_config(p, lambda c: _set_switches(c, all_cms=True, ingresses=True))
        wait_until(
            lambda: get_json(p.kh, "configmap", host_name("unused", ns), "-n", HOST_NS),
            10,
            what="existing unused configmap synced after enabling configMaps.all",
        )
        wait_until(
            lambda: get_json(p.kh, "ingress", host_name("web", ns), "-n", HOST_NS),
            10,
            what="existing ingress synced after enabling ingresses",
        )
        assert p.vc.alive() and p.vc.pid == pid

        # with all=false again the unused configmap leaves the host (spec §7.5: only while used)
        edit_config(p, lambda c: _set_switches(c, all_cms=False, ingresses=True))
        wait_until(
            lambda: get_json(p.kh, "configmap", host_name("unused", ns), "-n", HOST_NS) is None,
            10,
            what="unused configmap removed after disabling configMaps.all",
        )
        # an invalid edit is ignored and the process keeps running with the last good configuration
        cm = _config_map(p)
        cm["data"]["config.yaml"] = "sync:\n  toHost:\n    bogus: {enabled: true}\n"
        p.kh("apply", "-f", "-", input=yaml.safe_dump(cm))
        p.kv("create", "configmap", "stillok", "-n", ns, "--from-literal=a=b")
        p.kv("annotate", "configmap", "stillok", "-n", ns, "vcluster.loft.sh/force-sync=true")
        wait_until(
            lambda: get_json(p.kh, "configmap", host_name("stillok", ns), "-n", HOST_NS), 10, what="ok"
        )
        assert get_json(p.kh, "configmap", host_name("unused", ns), "-n", HOST_NS) is None
        assert p.vc.alive() and p.vc.pid == pid
        # and the editor is told where they look: an event on the ConfigMap
        ev = wait_until(
            lambda: [
                e
                for e in events_for(p.kh, HOST_NS, f"{VC_NAME}-config")
                if e.get("reason") == "InvalidConfig"
            ],
            10,
            what="an InvalidConfig event on the host ConfigMap",
        )
        assert ev[0]["type"] == "Warning" and "sync.toHost.bogus: unknown key" in ev[0]["message"], ev[0]
    finally:
        cm = _config_map(p)
        cm["data"]["config.yaml"] = original
        p.kh("apply", "-f", "-", input=yaml.safe_dump(cm))
    wait_until(
        lambda: get_json(p.kh, "configmap", host_name("unused", ns), "-n", HOST_NS),
        10,
        what="configuration restored (configMaps.all: true)",
    )


def test_deleted_config_map_is_written_again(selective: Pair) -> None:
    """Deleting `<name>-config` does not lose the configuration: the running one is written back."""
    p = selective
    pid = p.vc.pid
    before = _config_map(p)
    p.kh("delete", "configmap", f"{VC_NAME}-config", "-n", HOST_NS)
    cm = wait_until(
        lambda: get_json(p.kh, "configmap", f"{VC_NAME}-config", "-n", HOST_NS),
        10,
        what="the config ConfigMap written again",
    )
    assert cm["metadata"]["uid"] != before["metadata"]["uid"]
    assert yaml.safe_load(cm["data"]["config.yaml"]) == yaml.safe_load(before["data"]["config.yaml"])
    assert p.vc.alive() and p.vc.pid == pid
    assert "was deleted: written again with the running configuration" in p.vc.log_path.read_text()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        # several mistakes at once: every key path is named
        (
            "sync:\n  toHost:\n    configMaps:\n      all: maybe\n    podz:\n      enabled: true\n"
            "policies:\n  podSecurityStandard: strict\n",
            ["sync.toHost.configMaps.all", "sync.toHost.podz", "policies.podSecurityStandard"],
        ),
        # mutually exclusive options (spec §4.2)
        (
            "sync:\n  toHost:\n    priorityClasses: {enabled: true}\n"
            "  fromHost:\n    priorityClasses: {enabled: true}\n",
            ["sync.fromHost.priorityClasses"],
        ),
        # kinds this implementation has no syncer for are refused, not left unsynced
        (
            "sync:\n  fromHost:\n    deviceClasses: {enabled: true}\n",
            ["sync.fromHost.deviceClasses.enabled: not implemented"],
        ),
    ],
)
def test_invalid_config_stops_start(tmp_path: Path, config: str, expected: list[str]) -> None:
    cfg = tmp_path / "vcluster.yaml"
    cfg.write_text(config)
    kubeconfig = tmp_path / "host-kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    args = ["start", "--name", VC_NAME, "--data-dir", str(tmp_path / "vc"), "--config", str(cfg)]
    args += ["--host-kubeconfig", str(kubeconfig), "--host-namespace", HOST_NS]
    p = subprocess.run(
        [sys.executable, "-m", "vcluster", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode != 0
    for path in expected:
        assert path in p.stderr, p.stderr
    if "podz" in config:  # the key's line in the file, as `vcluster create -f` gives it
        assert "line 5: sync.toHost.podz: " in p.stderr, p.stderr
    assert "ready at" not in p.stdout
    assert not (tmp_path / "vc" / "state.db").exists()
