"""A host that refuses (RBAC) the lists of a namespace a live configuration edit maps for imports:
the virtual cluster keeps running and syncing, an imported copy is not deleted on the evidence of
a namespace it cannot read, and once the host lets it read there the import settles as usual."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Kubectl
from .denying_proxy import DenyingProxy, write_kubeconfig
from .syncer_harness import (
    HostCluster,
    Pair,
    VirtualCluster,
    edit_config,
    get_json,
    host_pods,
    pod_manifest,
    pod_running,
    wait_until,
)

pytestmark = pytest.mark.integration

CONFIG = """\
sync:
  fromHost:
    configMaps:
      enabled: true
      mappings:
        byName:
          "src/*": "dst/*"
"""


def _via(proxy: DenyingProxy, host: HostCluster, where: Path) -> HostCluster:
    """A stand-in for `host` whose kubeconfig points at the proxy (what `vcluster start` reads)."""
    stand_in = HostCluster(where)
    where.mkdir(parents=True)
    write_kubeconfig(stand_in.kubeconfig, proxy, host.token)
    return stand_in


def test_an_unreadable_namespace_mapped_live_keeps_copies_until_it_can_be_read(tmp_path: Path) -> None:
    host = HostCluster(tmp_path / "host", nodes=1).start()
    proxy = DenyingProxy(host.url, host.ca_file, "locked", "configmaps")
    vc: VirtualCluster | None = None
    try:
        proxy.start()
        vc = VirtualCluster(tmp_path / "vc", host=_via(proxy, host, tmp_path / "via-proxy"), config=CONFIG)
        vc.start()
        p = Pair(host, vc, Kubectl(host, tmp_path / "kc-host"), Kubectl(vc, tmp_path / "kc-vc"))
        p.kh("create", "namespace", "src")
        p.kh("create", "namespace", "locked")
        p.kh("create", "configmap", "settings", "-n", "src", "--from-literal=mode=fast")
        wait_until(lambda: get_json(p.kv, "configmap", "settings", "-n", "dst"), 15, what="the import")

        # the mapping moves to a namespace the host will not let the syncer read
        edit_config(
            p, lambda c: c["sync"]["fromHost"]["configMaps"]["mappings"].update(byName={"locked/*": "dst/*"})
        )
        wait_until(lambda: proxy.denied >= 2, 15, what="the syncer trying to list the locked namespace")
        # still running and syncing; the copy is kept while the new source is unknown
        p.kv("create", "namespace", "work")
        p.kv.create(pod_manifest("still-syncing", "work"))
        wait_until(lambda: pod_running(p.kv, "still-syncing", "work"), 30, what=f"a pod synced\n{p.logs()}")
        assert host_pods(p)
        assert vc.alive(), p.logs()
        assert get_json(p.kv, "configmap", "settings", "-n", "dst") is not None, "copy deleted on no evidence"
        assert (
            "informer v1/configmaps@locked: 403 Forbidden: configmaps is forbidden" in vc.log_path.read_text()
        )

        # the host grants the read (its RBAC applied): `locked` has no `settings`, so the copy goes
        proxy.namespace = "nothing-denied"
        wait_until(
            lambda: get_json(p.kv, "configmap", "settings", "-n", "dst") is None,
            45,
            what=f"the copy deleted once the mapped namespace could be read\n{p.logs()}",
        )
        p.kh("create", "configmap", "settings", "-n", "locked", "--from-literal=mode=locked")
        wait_until(
            lambda: (
                (get_json(p.kv, "configmap", "settings", "-n", "dst") or {}).get("data") == {"mode": "locked"}
            ),
            15,
            what="the import from the namespace now readable",
        )
    finally:
        if vc is not None:
            vc.stop()
        proxy.stop()
        host.stop()
