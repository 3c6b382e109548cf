"""Issue 4 benchmark: time for an N-replica Deployment to become fully available on simulated
nodes, pods per second, and CPU time per pod of the controllers, the API server and the simulated
host, each measured in its own process (utime+stime from /proc).

    .venv/bin/python bench/controllers.py [--replicas 1000] [--nodes 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start(args: list[str], log: Path, ready: str, timeout: float = 60) -> subprocess.Popen[bytes]:
    with open(log, "wb") as err:
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + timeout
    assert p.stdout is not None
    while time.monotonic() < deadline:
        line = p.stdout.readline().decode()
        if ready in line:
            return p
        if not line and p.poll() is not None:
            break
    p.kill()
    raise RuntimeError(f"{args[2:4]} did not start; see {log}")


def kubectl(kc: Path, *args: str) -> str:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kc), "--cache-dir", str(kc.parent / "kcache"), *args],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicas", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=600)
    opts = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ctrl-"))
    data = tmp / "api"
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        procs["apiserver"] = start(
            [PY, "-m", "vcluster", "apiserver", "--data-dir", str(data), "--port", "0", "--controllers="],
            tmp / "apiserver.log", "ready at",
        )  # fmt: skip
        kc = data / "kubeconfig"
        procs["controllers"] = start(
            [PY, str(ROOT / "bench" / "controllers_proc.py"), str(kc), str(data / "pki" / "ca.crt")],
            tmp / "controllers.log", "controllers ready",
        )  # fmt: skip
        procs["hostsim"] = start(
            [PY, "-m", "vcluster", "hostsim", "--kubeconfig", str(kc), "--nodes", str(opts.nodes)],
            tmp / "hostsim.log", "hostsim ready",
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the default ServiceAccount the pods need
            if (
                subprocess.run(
                    ["kubectl", "--kubeconfig", str(kc), "get", "sa", "default"], capture_output=True
                ).returncode
                == 0
            ):
                break
            time.sleep(0.2)
        cpu0 = {n: cpu_seconds(p.pid) for n, p in procs.items()}
        t0 = time.monotonic()
        kubectl(kc, "create", "deployment", "bench", "--image=nginx", f"--replicas={opts.replicas}")
        available = 0
        first_running = None
        while time.monotonic() - t0 < opts.timeout:
            dep = json.loads(kubectl(kc, "get", "deployment", "bench", "-o", "json"))
            available = (dep.get("status") or {}).get("availableReplicas") or 0
            if available and first_running is None:
                first_running = time.monotonic() - t0
            if available >= opts.replicas:
                break
            time.sleep(0.25)
        elapsed = time.monotonic() - t0
        cpu = {n: cpu_seconds(p.pid) - cpu0[n] for n, p in procs.items()}
        rss = {n: rss_mb(p.pid) for n, p in procs.items()}
        ok = available >= opts.replicas
        lines = [
            f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cpus, "
            f"python {platform.python_version()}",
            f"command: .venv/bin/python bench/controllers.py --replicas {opts.replicas} --nodes {opts.nodes}",
            f"deployment of {opts.replicas} replicas on {opts.nodes} simulated nodes: "
            + (
                f"fully available after {elapsed:.1f} s"
                if ok
                else f"only {available} available after {elapsed:.1f} s"
            ),
            f"pods per second (available / elapsed): {available / elapsed:.1f}",
            f"first pod available after: {first_running:.2f} s"
            if first_running
            else "no pod became available",
        ]
        for n in procs:
            lines.append(
                f"{n:12s} CPU {cpu[n]:7.2f} s  = {1000 * cpu[n] / max(available, 1):6.2f} ms per pod;"
                f"  RSS {rss[n]:6.1f} MB"
            )
        report = "\n".join(lines)
        print(report)
        out = ROOT / "bench" / "results" / f"controllers-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        out.write_text(report + "\n")
        print(f"written to {out.relative_to(ROOT)}")
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
