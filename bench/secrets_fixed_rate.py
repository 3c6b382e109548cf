"""vCluster's published load-test shape, measured here: kube-burner's `baseline` and `api-intensive`
jobs of vCluster's repository (load-test/kubeburner/*/config.yaml: 10 namespaced iterations of 30
Secrets at 30 qps, and of 500 Secrets at 200 qps), driven open-loop, against a virtual cluster on
the simulated host and against the host API server alone in the same run.

For each profile and target: the Secrets are created at the fixed rate, then updated (PUT of new
data), then deleted, each phase on the same schedule. Per phase: latency from each request's
*scheduled* time (p50/p90/p99/max/avg), the achieved rate, errors, the server's own average from
its apiserver_request_duration_seconds (the figure vCluster's page plots), CPU seconds and RSS of
the `vcluster host` and `vcluster start` processes from /proc, the bench client's own CPU, and for
the virtual cluster the sync lag: when every Secret's host copy exists / carries the new data / is
gone, seen through a host watch.

Secrets are synced to the host only while a pod uses them (spec §7.4); this job creates none, so
the target `vcluster` runs with `sync.toHost.secrets.all: true` (every Secret synced, as vCluster's
option does), which makes each virtual write a host write. The optional target `vc-nosync` is a
virtual cluster with the defaults, where these Secrets stay virtual: the shape vCluster's own runs
measured (their Secrets were not used by pods either).

Usage (from the repository root):
  .venv/bin/python bench/secrets_fixed_rate.py [--profiles baseline,intensive]
      [--targets host,vcluster[,vc-nosync]] [--scale 1.0]
The table is printed and written to bench/results/secrets-fixed-rate-<date>.{txt,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench" / "syncer"))

from procs import Proc, host_proc, vcluster_proc, wait_quiet  # noqa: E402
from watch import Watcher, metric_samples, percentile  # noqa: E402

from openloop import (  # noqa: E402
    LatencyStats,
    Op,
    ProcUsage,
    cpu_pressure_seconds,
    run_open_loop,
    sampled,
)
from vcluster.client import ApiError, Client  # noqa: E402
from vcluster.eventloop import run  # noqa: E402

VC_CONFIG = "sync:\n  toHost:\n    secrets:\n      all: true\n"


@dataclass(frozen=True)
class VTarget:
    """A virtual cluster to load: its name, host namespace and vcluster.yaml (None: defaults)."""

    name: str
    host_ns: str
    config: str | None
    synced: bool  # whether its Secrets go to the host (then the sync lag is measured)


VTARGETS = {
    "vcluster": VTarget("vcj", "vcj-host", VC_CONFIG, True),
    # vCluster's defaults, as in its published runs: Secrets no pod uses stay virtual
    "vc-nosync": VTarget("vcj2", "vcj2-host", None, False),
}
TARGETS = ("host", *VTARGETS)
NAME_ANN = "vcluster.loft.sh/object-name"
NS_ANN = "vcluster.loft.sh/object-namespace"
SYNC_TIMEOUT = 60.0  # seconds after a phase's last response to wait for the host copies
PHASES = ("create", "update", "delete")


@dataclass(frozen=True)
class Profile:
    """One kube-burner job: `namespaces` iterations of `per_ns` Secrets at `rate` requests/s."""

    name: str
    namespaces: int
    per_ns: int
    rate: float

    @property
    def total(self) -> int:
        return self.namespaces * self.per_ns

    def key(self, i: int) -> tuple[str, str]:
        """(namespace, name) of the i-th Secret, in kube-burner's order (iteration by iteration)."""
        return f"{self.name}-{i // self.per_ns}", f"secret-{i % self.per_ns}"


PROFILES = {
    "baseline": Profile("baseline", 10, 30, 30.0),
    "intensive": Profile("intensive", 10, 500, 200.0),
}


def log(msg: str) -> None:
    print(f"[secrets {dt.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def secret(ns: str, name: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque",
        "data": {"password": b64(value)},
    }


def uptime() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine() -> str:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPUs ({model}), {mem_gib:.0f} GiB, Python {platform.python_version()}"


class SyncTracker:
    """Arrival times (monotonic) of the host copies' events, keyed by virtual (namespace, name):
    first seen, first seen with `new_value` in its data, and deleted."""

    def __init__(self) -> None:
        self.added: dict[tuple[str, str], float] = {}
        self.updated: dict[tuple[str, str], float] = {}
        self.deleted: dict[tuple[str, str], float] = {}
        self.new_value = ""

    def __call__(self, etype: str, obj: dict[str, Any], now: float) -> None:
        ann = obj.get("metadata", {}).get("annotations") or {}
        if NAME_ANN not in ann:
            return
        key = (ann.get(NS_ANN, ""), ann[NAME_ANN])
        if etype == "DELETED":
            self.deleted.setdefault(key, now)
            return
        self.added.setdefault(key, now)
        if self.new_value and (obj.get("data") or {}).get("password") == self.new_value:
            self.updated.setdefault(key, now)

    def times(self, phase: str) -> dict[tuple[str, str], float]:
        return {"create": self.added, "update": self.updated, "delete": self.deleted}[phase]


@dataclass
class SyncStats:
    """Host copy arrival after the virtual request returned (ms), and the whole phase's tail."""

    synced: int
    missing: int
    lag_p50: float
    lag_p99: float
    lag_max: float
    all_after_start_s: float  # from the phase's first scheduled request to the last host copy
    all_after_last_response_s: float  # from the phase's last virtual response to the last host copy


@dataclass
class PhaseResult:
    profile: str
    target: str  # "host" (the host API server alone) or a key of VTARGETS
    phase: str
    latency: LatencyStats
    server_avg_ms: float  # the target server's apiserver_request_duration_seconds sum / count
    usage: dict[str, ProcUsage]
    client_cpu_s: float
    sync: SyncStats | None = None
    load: str = ""
    wall_s: float = 0.0  # the phase's measured window (requests, then the host copies)
    cpu_pressure: float = 0.0  # share of that window in which some task on the machine waited for a CPU


@dataclass
class Servers:
    host: Proc
    vcs: dict[str, Proc]  # by target name

    @property
    def pids(self) -> dict[str, int]:
        return {"host": self.host.pid, **{t: p.pid for t, p in self.vcs.items()}}


def vc_usage(r: PhaseResult) -> ProcUsage:
    """The phase's vcluster process: the target's own, or for the host target all of them summed
    (idle, as a check that they stay out of the baseline)."""
    if r.target != "host":
        return r.usage[r.target]
    others = [u for name, u in r.usage.items() if name != "host"]
    return ProcUsage(
        cpu_s=sum(u.cpu_s for u in others),
        rss_max_mb=max((u.rss_max_mb for u in others), default=0.0),
        runq_wait_s=sum(u.runq_wait_s for u in others),
    )


async def server_duration(p: Proc, verb: str) -> tuple[float, float]:
    """(sum seconds, count) of the server's apiserver_request_duration_seconds for Secrets `verb`."""
    total = count = 0.0
    for name, labels, value in await metric_samples(p.url, p.token, str(p.ca_file)):
        if labels.get("resource") != "secrets" or labels.get("verb") != verb:
            continue
        if name == "apiserver_request_duration_seconds_sum":
            total += value
        elif name == "apiserver_request_duration_seconds_count":
            count += value
    return total, count


async def wait_synced(
    times: dict[tuple[str, str], float], keys: list[tuple[str, str]], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(k not in times for k in keys):
        await asyncio.sleep(0.05)


def sync_stats(ops: list[Op], keys: list[tuple[str, str]], times: dict[tuple[str, str], float]) -> SyncStats:
    lags = [(times[k] - op.done) * 1000 for op, k in zip(ops, keys, strict=True) if k in times]
    arrived = [times[k] for k in keys if k in times]
    last = max(arrived) if arrived else 0.0
    return SyncStats(
        synced=len(arrived),
        missing=len(keys) - len(arrived),
        lag_p50=percentile(lags, 50) if lags else 0.0,
        lag_p99=percentile(lags, 99) if lags else 0.0,
        lag_max=max(lags) if lags else 0.0,
        all_after_start_s=last - ops[0].scheduled if arrived else 0.0,
        all_after_last_response_s=last - max(op.done for op in ops) if arrived else 0.0,
    )


def request(client: Client, prof: Profile, phase: str, value: str) -> Callable[[int], Awaitable[Any]]:
    """The phase's request for Secret i."""

    async def create(i: int) -> Any:
        ns, name = prof.key(i)
        return await client.create("v1", "secrets", secret(ns, name, value), ns)

    async def update(i: int) -> Any:
        ns, name = prof.key(i)  # no resourceVersion: an unconditional update, as `kubectl replace`
        return await client.update("v1", "secrets", secret(ns, name, value), ns)

    async def delete(i: int) -> Any:
        ns, name = prof.key(i)
        return await client.delete("v1", "secrets", name, ns)

    return {"create": create, "update": update, "delete": delete}[phase]


async def quiet(servers: Servers) -> None:
    """Wait (at most 15 s each) until neither server process is busy, so a phase starts at rest."""
    for pid in servers.pids.values():
        await asyncio.to_thread(wait_quiet, pid, timeout=15.0)


async def ensure_namespaces(client: Client, prof: Profile) -> None:
    for j in range(prof.namespaces):
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"{prof.name}-{j}"}}
        try:
            await client.create("v1", "namespaces", body)
        except ApiError as e:
            if not e.already_exists:
                raise


async def run_target(
    prof: Profile,
    target: str,
    client: Client,
    server: Proc,
    servers: Servers,
    tracker: SyncTracker | None,
) -> list[PhaseResult]:
    """The create, update and delete phases of one profile against one API server."""
    await ensure_namespaces(client, prof)
    keys = [prof.key(i) for i in range(prof.total)]
    out = []
    for phase in PHASES:
        await quiet(servers)
        value = f"{phase}-{target}-{time.time_ns()}"
        if tracker is not None and phase == "update":
            tracker.new_value = b64(value)
        verb = phase
        s0, c0 = await server_duration(server, verb)
        load = uptime()
        cpu0 = time.process_time()
        psi0, wall0 = cpu_pressure_seconds(), time.monotonic()
        log(f"{prof.name} {target} {phase}: {prof.total} Secrets at {prof.rate:g}/s (load {load})")
        sync: SyncStats | None = None
        async with sampled(servers.pids) as usage:
            ops = await run_open_loop(prof.total, prof.rate, request(client, prof, phase, value))
            if tracker is not None:
                times = tracker.times(phase)
                await wait_synced(times, keys, SYNC_TIMEOUT)
                sync = sync_stats(ops, keys, times)
        client_cpu = time.process_time() - cpu0
        wall = time.monotonic() - wall0
        pressure = (cpu_pressure_seconds() - psi0) / wall if wall > 0 else 0.0
        s1, c1 = await server_duration(server, verb)
        lat = LatencyStats.of(ops, prof.rate)
        server_avg = (s1 - s0) / (c1 - c0) * 1000 if c1 > c0 else 0.0
        out.append(
            PhaseResult(
                prof.name, target, phase, lat, server_avg, usage, client_cpu, sync, load, wall, pressure
            )
        )
        log(
            f"  p50 {lat.p50:.1f} p99 {lat.p99:.1f} max {lat.max:.1f} ms, {lat.achieved_rate:.1f}/s, "
            f"errors {lat.errors}"
            + (
                f", sync p50 {sync.lag_p50:.1f} p99 {sync.lag_p99:.1f} ms, missing {sync.missing}"
                if sync
                else ""
            )
        )
    for j in range(prof.namespaces):  # tidy up, untimed
        with contextlib.suppress(ApiError):
            await client.delete("v1", "namespaces", f"{prof.name}-{j}")
    return out


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else "n/a"


def report(results: list[PhaseResult], header: list[str]) -> str:
    lines = [*header, ""]
    cols = (
        f"{'profile':<9} {'target':<9} {'phase':<6} {'n':>5} {'qps':>11} {'p50':>7} {'p90':>7} {'p99':>7} "
        f"{'max':>7} {'avg':>7} {'srv avg':>7} {'lag99':>6} {'err':>4} {'sync p50/p99 ms':>16} "
        f"{'all synced s':>12} "
        f"{'CPU s host/vc/client':>21} {'wait s host/vc':>14} {'psi':>4} {'RSS MB host/vc':>15}"
    )
    lines += [
        "latency in ms from the scheduled time; qps offered/achieved; srv avg: the target server's own",
        "apiserver_request_duration_seconds average (ms); lag99: p99 of the client's send delay (ms);",
        "sync: host copy event after the virtual response; all synced: last host copy after the first",
        "scheduled request / after the last response (s); CPU and RSS (max) over the phase, from /proc;",
        "wait: the processes' main threads runnable but not running (s, /proc/PID/schedstat); psi: share",
        "of the phase with some task of the machine waiting for a CPU (/proc/pressure/cpu)",
        cols,
    ]
    lines.append("-" * len(cols))
    for r in results:
        lat, u, vu = r.latency, r.usage, vc_usage(r)
        sync = f"{r.sync.lag_p50:.1f}/{r.sync.lag_p99:.1f}" if r.sync else "-"
        if r.sync and r.sync.missing:
            sync += f" ({r.sync.missing} missing)"
        tail = f"{r.sync.all_after_start_s:.1f}/{r.sync.all_after_last_response_s:.2f}" if r.sync else "-"
        lines.append(
            f"{r.profile:<9} {r.target:<9} {r.phase:<6} {lat.n:>5} "
            f"{lat.offered_rate:>5.0f}/{lat.achieved_rate:<5.1f} "
            f"{lat.p50:>7.1f} {lat.p90:>7.1f} {lat.p99:>7.1f} {lat.max:>7.1f} {lat.avg:>7.1f} "
            f"{r.server_avg_ms:>7.2f} {lat.send_lag_p99:>6.1f} {lat.errors:>4} {sync:>16} {tail:>12} "
            f"{u['host'].cpu_s:>7.2f}/{vu.cpu_s:>5.2f}/{r.client_cpu_s:>5.2f} "
            f"{u['host'].runq_wait_s:>8.2f}/{vu.runq_wait_s:<5.2f} {r.cpu_pressure * 100:>3.0f}% "
            f"{u['host'].rss_max_mb:>7.0f}/{vu.rss_max_mb:<7.0f}"
        )
    lines += ["", "virtual cluster / host alone (same profile and phase, same run; CPU: host + vcluster):"]
    by = {(r.profile, r.target, r.phase): r for r in results}
    for r in results:
        if r.target == "host" or (r.profile, "host", r.phase) not in by:
            continue
        h = by[(r.profile, "host", r.phase)]
        vc_cpu = r.usage["host"].cpu_s + r.usage[r.target].cpu_s
        host_cpu = h.usage["host"].cpu_s + vc_usage(h).cpu_s
        lines.append(
            f"  {r.target:<9} {r.profile:<9} {r.phase:<6} p50 {ratio(r.latency.p50, h.latency.p50)}  "
            f"p99 {ratio(r.latency.p99, h.latency.p99)}  avg {ratio(r.latency.avg, h.latency.avg)}  "
            f"server avg {ratio(r.server_avg_ms, h.server_avg_ms)}  "
            f"CPU {vc_cpu:.2f} / {host_cpu:.2f} s = {ratio(vc_cpu, host_cpu)} "
            f"({vc_cpu / r.latency.n * 1000:.2f} / {host_cpu / h.latency.n * 1000:.2f} ms per Secret)"
        )
    for r in results:
        if r.latency.error_codes:
            lines.append(f"errors {r.profile} {r.target} {r.phase}: {r.latency.error_codes}")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> tuple[list[PhaseResult], list[str]]:
    base = Path(args.base or tempfile.mkdtemp(prefix="secrets-rate-"))
    profiles = [PROFILES[p] for p in args.profiles.split(",")]
    if args.scale != 1.0:
        profiles = [dataclasses.replace(p, per_ns=max(1, round(p.per_ns * args.scale))) for p in profiles]
    targets = args.targets.split(",")
    header = [
        f"date {dt.datetime.now():%Y-%m-%d %H:%M:%S}, machine: {machine()}",
        f"command: {' '.join([Path(sys.executable).name, *sys.argv])}",
        f"load average at start: {uptime()}",
        "profiles: "
        + ", ".join(f"{p.name} {p.namespaces}x{p.per_ns} Secrets at {p.rate:g}/s" for p in profiles),
        *(f"{t}: vcluster.yaml {VTARGETS[t].config or '(defaults)'!r}" for t in targets if t in VTARGETS),
    ]
    host = host_proc(base, nodes=1).start()
    servers = Servers(host, {})
    results: list[PhaseResult] = []
    try:
        for t in targets:
            if t in VTARGETS:
                vt = VTARGETS[t]
                servers.vcs[t] = vcluster_proc(base, host, vt.name, vt.host_ns, vt.config).start()
        async with contextlib.AsyncExitStack() as stack:
            h = await stack.enter_async_context(await Client.from_kubeconfig(str(host.kubeconfig)))
            hw = await stack.enter_async_context(await Client.from_kubeconfig(str(host.kubeconfig)))
            clients = {"host": h}
            trackers: dict[str, SyncTracker | None] = {"host": None}
            seen: dict[str, SyncTracker] = {}  # every virtual cluster's host copies, synced or not
            for t, proc in servers.vcs.items():
                vt = VTARGETS[t]
                clients[t] = await stack.enter_async_context(
                    await Client.from_kubeconfig(str(proc.kubeconfig))
                )
                tracker = SyncTracker()
                watcher = Watcher(hw, "v1", "secrets", vt.host_ns, f"vcluster.loft.sh/managed-by={vt.name}")
                watcher.callbacks.append(tracker)
                await watcher.start()
                stack.push_async_callback(watcher.stop)
                trackers[t] = tracker if vt.synced else None
                seen[t] = tracker
            for prof in profiles:
                for t in targets:
                    server = host if t == "host" else servers.vcs[t]
                    results += await run_target(prof, t, clients[t], server, servers, trackers[t])
            for t in servers.vcs:
                vt = VTARGETS[t]
                copies = await h.list(
                    "v1", "secrets", vt.host_ns, label_selector=f"vcluster.loft.sh/managed-by={vt.name}"
                )
                header.append(
                    f"{t}: {len(seen[t].added)} host copies of its Secrets seen, "
                    f"{len(copies['items'])} left on the host at the end"
                )
        header.append(f"load average at end: {uptime()}")
    finally:
        for proc in servers.vcs.values():
            proc.stop()
        host.stop()
    return results, header


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", default="baseline,intensive", help="comma-separated: baseline, intensive")
    ap.add_argument(
        "--scale", type=float, default=1.0, help="multiply the Secrets per namespace (quick runs)"
    )
    ap.add_argument(
        "--targets", default="host,vcluster", help=f"comma-separated, in order: {', '.join(TARGETS)}"
    )
    ap.add_argument("--base", default="", help="directory for the servers' data (default: a temporary one)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"), help="directory for the result files")
    args = ap.parse_args()
    for p in args.profiles.split(","):
        if p not in PROFILES:
            ap.error(f"unknown profile {p!r} (known: {', '.join(PROFILES)})")
    for t in args.targets.split(","):
        if t not in TARGETS:
            ap.error(f"unknown target {t!r} (known: {', '.join(TARGETS)})")
    results, header = run(main_async(args))  # uvloop, as the servers
    text = report(results, header)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"secrets-fixed-rate-{dt.datetime.now():%Y%m%d-%H%M%S}"
    stem.with_suffix(".txt").write_text(text + "\n")
    stem.with_suffix(".json").write_text(
        json.dumps({"header": header, "results": [dataclasses.asdict(r) for r in results]}, indent=1)
    )
    log(f"written {stem}.txt and .json")


if __name__ == "__main__":
    main()
