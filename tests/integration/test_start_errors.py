"""`vcluster start` stops with one clear message when the host cannot be used."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from .conftest import Server
from .denying_proxy import DenyingProxy, write_kubeconfig
from .syncer_harness import (
    HOST_NS,
    VC_NAME,
    HostCluster,
    get_json,
    pod_manifest,
    pod_running,
    start_pair,
    virtual_namespace,
    wait_until,
)

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""


def start(tmp_path: Path, kubeconfig: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vcluster", "start", "--name", "vc", "--data-dir", str(tmp_path / "d"),
         "--host-kubeconfig", str(kubeconfig), "--host-namespace", "ns", "--port", "0", *extra],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip


def test_unreachable_host(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text(KUBECONFIG)
    p = start(tmp_path, kc)
    assert p.returncode != 0
    assert f"Error: cannot reach the host cluster (--host-kubeconfig {kc}): " in p.stderr
    assert "127.0.0.1:1" in p.stderr and "cannot listen" not in p.stderr
    # nothing was made: the data dir of a first start that could not reach its host does not exist
    assert not (tmp_path / "d").exists()


def test_a_name_too_long_for_its_statefulset_is_refused(tmp_path: Path) -> None:
    """The same rule as `vcluster create`: at most 52 characters (pod NAME-0's revision hash label)."""
    kc = tmp_path / "kc"
    kc.write_text(KUBECONFIG)
    p = subprocess.run(
        [sys.executable, "-m", "vcluster", "start", "--name", "a" * 53, "--data-dir", str(tmp_path / "d"),
         "--host-kubeconfig", str(kc), "--host-namespace", "ns"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert "Invalid value for --name: invalid vCluster name" in p.stderr
    assert "use at most 52 lower-case letters" in p.stderr
    assert not (tmp_path / "d").exists()


def test_broken_host_kubeconfig(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text("{bad")
    p = start(tmp_path, kc)
    assert p.returncode != 0
    assert f"Error: cannot use the host kubeconfig (--host-kubeconfig {kc}): " in p.stderr
    assert "not valid YAML" in p.stderr


IMPORT_LOCKED = """sync:
  fromHost:
    configMaps:
      enabled: true
      mappings:
        byName:
          "locked/*": "imported/*"
"""


def test_a_host_namespace_the_syncer_may_not_read_stops_the_start_with_the_reason(tmp_path: Path) -> None:
    """A real host refuses (RBAC) the lists of a namespace an import reads: the start gives up
    after a short grace period, naming the list, the host's reason and what to do, instead of
    waiting minutes for a cache that cannot fill."""
    host = HostCluster(tmp_path / "host", nodes=1).start()
    proxy = DenyingProxy(host.url, host.ca_file, "locked", "configmaps")
    try:
        proxy.start()
        kc = write_kubeconfig(tmp_path / "host-via-proxy.kubeconfig", proxy, host.token)
        cfg = tmp_path / "vcluster.yaml"
        cfg.write_text(IMPORT_LOCKED)
        t0 = time.monotonic()
        p = start(tmp_path, kc, "--config", str(cfg))
        took = time.monotonic() - t0
    finally:
        proxy.stop()
        host.stop()
    assert p.returncode != 0, p.stderr[-2000:]
    assert proxy.denied > 0
    assert "Error: the host cluster (--host-kubeconfig" in p.stderr, p.stderr[-2000:]
    assert "cannot list configmaps in namespace 'locked': configmaps is forbidden: User" in p.stderr
    assert "`vcluster manifests` prints the RBAC" in p.stderr
    assert "Traceback" not in p.stderr
    assert took < 50, f"the start took {took:.0f} s to give up"


def test_a_data_dir_in_use_is_refused(tmp_path: Path) -> None:
    """Two processes on one state.db would corrupt it: the second start names the first and stops."""
    first = Server(tmp_path / "d").start()
    try:
        p = subprocess.run(
            [sys.executable, "-m", "vcluster", "apiserver", "--data-dir", str(tmp_path / "d"), "--port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert p.returncode != 0
        assert f"Error: the data directory {tmp_path / 'd'} is in use by pid {first.proc.pid}" in p.stderr, (
            p.stderr
        )
        assert "Traceback" not in p.stderr
        assert first.alive()
    finally:
        first.stop()
    # and free again once the first has stopped (also after a crash: the OS drops the lock)
    again = Server(tmp_path / "d").start()
    again.kill()
    Server(tmp_path / "d").start().stop()


def test_a_port_in_use_and_an_unwritable_data_dir_are_told_apart(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = subprocess.run(
            [
                sys.executable,
                "-m",
                "vcluster",
                "apiserver",
                "--data-dir",
                str(tmp_path / "a"),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert p.returncode != 0 and f"Error: cannot listen on 127.0.0.1:{port}: " in p.stderr, p.stderr
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    p = subprocess.run(
        [sys.executable, "-m", "vcluster", "apiserver", "--data-dir", str(blocked / "d"), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode != 0 and f"Error: cannot create the data directory {blocked / 'd'}: " in p.stderr, (
        p.stderr
    )
    assert "cannot listen" not in p.stderr and "Traceback" not in p.stderr


def test_a_second_syncer_for_a_virtual_cluster_or_a_host_namespace_is_refused(tmp_path: Path) -> None:
    """A second `vcluster start` of the same virtual cluster (another data dir) or of another
    virtual cluster in the same host namespace stops before it writes anything to the host; the
    running one keeps its pods. A restart of the running one after SIGKILL is not held back."""
    p = start_pair(tmp_path / "pair")
    try:
        ns = virtual_namespace(p.kv, "one")
        p.kv.create(pod_manifest("web", ns))
        wait_until(lambda: pod_running(p.kv, "web", ns), 30, what="pod Running")
        cm_before = get_json(p.kh, "configmap", f"{VC_NAME}-config", "-n", HOST_NS)
        for name, expect in (
            (VC_NAME, f"the virtual cluster '{VC_NAME}' in host namespace '{HOST_NS}' is already run by "),
            ("other", f"host namespace '{HOST_NS}' already holds the virtual cluster '{VC_NAME}'"),
        ):
            second = subprocess.run(
                [sys.executable, "-m", "vcluster", "start", "--name", name,
                 "--data-dir", str(tmp_path / name), "--host-kubeconfig", str(p.host.kubeconfig),
                 "--host-namespace", HOST_NS, "--port", "0"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert second.returncode != 0, second.stderr[-2000:]
            assert expect in second.stderr, second.stderr[-2000:]
            assert "Traceback" not in second.stderr
        assert p.vc.alive()
        assert get_json(p.kh, "configmap", f"{VC_NAME}-config", "-n", HOST_NS) == cm_before
        assert get_json(p.kh, "configmap", "other-config", "-n", HOST_NS) is None
        assert pod_running(p.kv, "web", ns)
        p.vc.kill()
        p.vc.start()  # the same data dir: its own lease, taken over at once
        assert pod_running(p.kv, "web", ns)
    finally:
        p.stop()
