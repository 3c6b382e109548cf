"""A reconcile that wrote the virtual side but not the host side (the host refused the patch, or
the process died between the two writes) must remember what it copied to the virtual object:
otherwise a label copied from the host looks like a virtual change on the next reconcile, and a
later removal of it on the host is undone instead of followed (found by tests/soak/syncer_chaos.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from .conftest import Kubectl
from .denying_proxy import DenyingProxy, write_kubeconfig
from .syncer_harness import (
    HOST_NS,
    HostCluster,
    Pair,
    VirtualCluster,
    get_json,
    host_name,
    labels,
    pod_manifest,
    pod_running,
    wait_until,
)

pytestmark = pytest.mark.integration


class PatchBlockingProxy(DenyingProxy):
    """Forwards everything to the host, except PATCHes of one path while `blocking` (403)."""

    def __init__(self, upstream: str, ca_file: Path, path: str) -> None:
        super().__init__(upstream, ca_file, HOST_NS, "pods")
        self.path = re.compile(re.escape(path) + r"(/status)?$")
        self.blocking = False

    def _denies(self, request: web.Request) -> bool:
        return self.blocking and request.method == "PATCH" and self.path.match(request.path) is not None


def _via(proxy: DenyingProxy, host: HostCluster, where: Path) -> HostCluster:
    """A stand-in for `host` whose kubeconfig points at the proxy (what `vcluster start` reads)."""
    stand_in = HostCluster(where)
    where.mkdir(parents=True)
    write_kubeconfig(stand_in.kubeconfig, proxy, host.token)
    return stand_in


def _soak_labels(obj: dict[str, Any] | None) -> dict[str, str]:
    return {k: v for k, v in labels(obj).items() if k in ("a", "b")}


def test_a_host_label_removed_after_a_half_applied_sync_is_removed_on_both_sides(tmp_path: Path) -> None:
    host = HostCluster(tmp_path / "host", nodes=1).start()
    hpod = host_name("p")
    proxy = PatchBlockingProxy(host.url, host.ca_file, f"/api/v1/namespaces/{HOST_NS}/pods/{hpod}")
    vc: VirtualCluster | None = None
    try:
        proxy.start()
        vc = VirtualCluster(tmp_path / "vc", host=_via(proxy, host, tmp_path / "via-proxy"))
        vc.start()
        p = Pair(host, vc, Kubectl(host, tmp_path / "kc-host"), Kubectl(vc, tmp_path / "kc-vc"))
        p.kv.create(pod_manifest("p", "default"))
        wait_until(lambda: pod_running(p.kv, "p", "default"), 30, what="the pod running")

        # the host stops taking the syncer's patches of this pod: a virtual label waits to go there
        proxy.blocking = True
        p.kv("label", "pod", "p", "b=v1")
        wait_until(lambda: proxy.denied >= 1, 15, what="the syncer's host patch refused")
        # a host label reaches the virtual pod (that write works) while the host patch still fails
        p.kh("label", "pod", hpod, "-n", HOST_NS, "a=h1")
        wait_until(
            lambda: _soak_labels(get_json(p.kv, "pod", "p")) == {"a": "h1", "b": "v1"},
            15,
            what="the host label copied to the virtual pod",
        )
        denied = proxy.denied
        wait_until(lambda: proxy.denied > denied, 15, what="the host patch refused again")
        # the host removes its label again: a host change, the virtual pod must follow
        p.kh("label", "pod", hpod, "-n", HOST_NS, "a-")
        wait_until(
            lambda: _soak_labels(get_json(p.kv, "pod", "p")) == {"b": "v1"},
            15,
            what=f"the host's removal followed by the virtual pod\n{p.logs()}",
        )
        proxy.blocking = False
        wait_until(
            lambda: _soak_labels(get_json(p.kh, "pod", hpod, "-n", HOST_NS)) == {"b": "v1"},
            30,
            what="the virtual label on the host, the removed one not back",
        )
        assert _soak_labels(get_json(p.kv, "pod", "p")) == {"b": "v1"}
    finally:
        if vc is not None:
            vc.stop()
        proxy.stop()
        host.stop()
