"""Where the host's CPU goes per pod: phase A's two bursts (raw pods created on the host, then bare pods
created in the virtual cluster and synced), each profiled in the host process with cProfile (main
thread CPU time, switched on and off by signals), with the host's CPU per pod from /proc and its
requests per pod from /metrics.

Prints, per burst: host CPU per pod until all-Running and until quiet, requests per pod, watchers
registered, CPU per thread (the event loop "main", the store's writer thread), read/write syscalls
and context switches per pod; then the functions whose own time (ms per pod) differs most between
the two bursts. cProfile sees neither uvloop nor the other threads and roughly triples the cost of
Python calls: read its figures relatively, and the /proc ones from a run with --no-cprofile.

Usage (repository root):  .venv/bin/python bench/syncer/burst_profile.py [-n 600] [--top 40]
                          [--vcluster (profile the vcluster process too)] [--no-cprofile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_syncer import Counter, bounded, ensure_namespace, pod, running
from procs import CLK_TCK, Proc, cpu_seconds, host_proc, vcluster_proc, wait_quiet
from watch import Watcher, diff_counts, metric_samples, request_counts

from vcluster.client import Client

VC, HNS = "my-vcluster", "test-namespace"
# `python -c TOGGLED OUT vcluster ARGS`: SIGUSR1 starts a fresh cProfile of the main thread (the
# event loop), SIGUSR2 stops it and dumps OUT.<k> (k = 0, 1, ...)
TOGGLED = """
import cProfile, runpy, signal, sys, time
out, sys.argv = sys.argv[1], sys.argv[2:]
st = {"p": None, "k": 0}
def on(*_):
    st["p"] = cProfile.Profile(time.thread_time)
    st["p"].enable()
def off(*_):
    p, st["p"] = st["p"], None
    if p is not None:
        p.disable()
        p.dump_stats(f"{out}.{st['k']}")
        st["k"] += 1
signal.signal(signal.SIGUSR1, on)
signal.signal(signal.SIGUSR2, off)
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def launcher(out: Path) -> list[str]:
    return ["-c", TOGGLED, str(out)]


def own_ms(path: Path, n: int) -> dict[str, float]:
    """Own time per function (file:line(name) -> ms per pod) of one dumped profile."""
    st: Any = pstats.Stats(str(path))
    out: dict[str, float] = {}
    for (file, line, name), (_cc, _nc, tt, _ct, _callers) in st.stats.items():
        key = f"{Path(file).name}:{line}({name})"
        out[key] = out.get(key, 0.0) + tt / n * 1000
    return out


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread ("main" or the thread id) of a process, from /proc/<pid>/task/*/stat."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "stat").read_text()
        except OSError:
            continue
        comm = "main" if task.name == str(pid) else task.name
        fields = text.rsplit(")", 1)[1].split()
        out[comm] = out.get(comm, 0.0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def strace_summary(path: Path, n: int) -> str:
    """Calls per pod by syscall, and the `write`s to descriptors 16 and up (the sockets: the
    lower ones are the loop's pipes and eventfd, the store's files) with their busiest three."""
    calls: dict[str, int] = {}
    writes: dict[str, int] = {}
    for line in path.read_text().splitlines():
        parts = line.split(None, 1)
        if len(parts) < 2 or "(" not in parts[1]:
            continue
        name, rest = parts[1].split("(", 1)
        calls[name] = calls.get(name, 0) + 1
        fd = rest.split(",", 1)[0]
        if name == "write" and fd.isdigit() and int(fd) >= 16:
            writes[fd] = writes.get(fd, 0) + 1
    top = sorted(writes.items(), key=lambda kv: -kv[1])[:3]
    out = ", ".join(f"{k} {v / n:.1f}" for k, v in sorted(calls.items()) if v / n >= 0.05)
    busiest = ", ".join(f"fd {fd} {c / n:.2f}" for fd, c in top)
    return f"{out}; socket writes {sum(writes.values()) / n:.2f} ({busiest})"


def io_counts(pid: int) -> dict[str, float]:
    """Read/write syscalls (/proc/<pid>/io) and context switches (/proc/<pid>/status) so far."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        k, v = line.split(":")
        if k in ("syscr", "syscw"):
            out[k] = float(v)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
            k, v = line.split(":")
            out[k.split("_")[0][:5] + "-cs"] = float(v)
    return out


async def counts(p: Proc) -> dict[str, float]:
    return request_counts(await metric_samples(p.url, p.token, str(p.ca_file)))


async def watchers(p: Proc) -> float:
    samples = await metric_samples(p.url, p.token, str(p.ca_file))
    return sum(v for name, _lab, v in samples if name == "apiserver_registered_watchers")


async def run_burst(
    host: Proc,
    profiled: list[Proc],
    quiet: list[Proc],
    client: Client,
    ns: str,
    prefix: str,
    n: int,
    conc: int,
    perf_out: Path | None = None,
) -> dict[str, Any]:
    """Create n pods in ns through `client`, until all are Running there and both processes are
    quiet, profiled; the host CPU per pod until Running and until quiet, and its requests."""
    w = Watcher(client, "v1", "pods", ns)
    done = Counter(running, n)
    w.callbacks.append(done)
    await w.start()
    req0 = await counts(host)
    for p in profiled:
        os.kill(p.pid, signal.SIGUSR1)
    perf = None
    if perf_out is not None and perf_out.suffix == ".data":  # the whole process, native code included
        cmd = ["perf", "record", "-F", "997", "-p", str(host.pid), "-o", str(perf_out), "-q"]
        perf = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elif perf_out is not None:  # every read/write syscall of every thread, with its file descriptor
        cmd = [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=read,write,writev,sendmsg,recvfrom,sendto,pwrite64,pread64",
        ]
        perf = subprocess.Popen([*cmd, "-p", str(host.pid), "-o", str(perf_out)], stderr=subprocess.DEVNULL)
    await asyncio.sleep(0.2)
    c0, t0, th0, io0 = cpu_seconds(host.pid), time.monotonic(), thread_cpu(host.pid), io_counts(host.pid)
    await bounded(n, conc, lambda i: client.create("v1", "pods", pod(f"{prefix}-{i}", ns), ns))
    await asyncio.wait_for(done.done.wait(), 300)
    c1, t1 = cpu_seconds(host.pid), time.monotonic()
    await w.stop()
    for pid in {host.pid, *(p.pid for p in quiet)}:
        await asyncio.to_thread(wait_quiet, pid, below=0.05, interval=1.0)
    c2, th2, io2 = cpu_seconds(host.pid), thread_cpu(host.pid), io_counts(host.pid)
    for p in profiled:
        os.kill(p.pid, signal.SIGUSR2)
    if perf is not None:
        perf.send_signal(signal.SIGINT)
        perf.wait(30)
    req1 = await counts(host)
    await asyncio.sleep(1.0)  # the dumps
    return {
        "running_ms": (c1 - c0) / n * 1000,
        "quiet_ms": (c2 - c0) / n * 1000,
        "wall": t1 - t0,
        "requests": diff_counts(req1, req0),
        "watchers": await watchers(host),
        "io": {k: (v - io0.get(k, 0.0)) / n for k, v in io2.items()},
        "threads": {k: (v - th0.get(k, 0.0)) / n * 1000 for k, v in th2.items() if v - th0.get(k, 0.0) > 0},
    }


async def main_async(args: argparse.Namespace) -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-burstprof-"))
    prof = base / "prof"
    prof_host = None if args.no_cprofile else launcher(prof.with_name("host.prof"))
    host = host_proc(base, nodes=args.nodes, launcher=prof_host)
    host.start()
    vc = vcluster_proc(
        base, host, VC, HNS, None, launcher=launcher(prof.with_name("vc.prof")) if args.vcluster else None
    )
    try:
        vc.start()
        hc = await Client.from_kubeconfig(str(host.kubeconfig), user_agent="bench")
        vcl = await Client.from_kubeconfig(str(vc.kubeconfig), user_agent="bench")
        try:
            await ensure_namespace(hc, args.raw_namespace)
            await ensure_namespace(vcl, "burst")
            await asyncio.sleep(3)
            for p in (host, vc):
                await asyncio.to_thread(wait_quiet, p.pid)
            c0, t0 = cpu_seconds(host.pid), time.monotonic()
            await asyncio.sleep(5)
            idle = (cpu_seconds(host.pid) - c0) / (time.monotonic() - t0)
            print(f"host idle with the vcluster connected: {idle * 100:.1f} % of a core", flush=True)
            profiled = [] if args.no_cprofile else [host, vc] if args.vcluster else [host]
            perf: list[Path | None] = [None, None]
            if args.perf or args.strace:
                ext = "data" if args.perf else "strace"
                perf = [base / f"perf-raw.{ext}", base / f"perf-synced.{ext}"]
            raw = await run_burst(
                host, profiled, [vc], hc, args.raw_namespace, "raw", args.n, args.concurrency, perf[0]
            )
            syn = await run_burst(host, profiled, [vc], vcl, "burst", "b", args.n, args.concurrency, perf[1])
            c0, t0 = cpu_seconds(host.pid), time.monotonic()
            await asyncio.sleep(5)
            after = (cpu_seconds(host.pid) - c0) / (time.monotonic() - t0)
            print(f"host at rest with {2 * args.n} pods: {after * 100:.1f} % of a core", flush=True)
        finally:
            if args.strace:
                fds = Path(f"/proc/{host.pid}/fd")
                lines = []
                for fd in fds.iterdir():
                    with contextlib.suppress(OSError):  # closed meanwhile
                        lines.append(f"{fd.name} {os.readlink(fd)}")
                (base / "fds.txt").write_text("\n".join(lines) + "\n")
            await hc.close()
            await vcl.close()
    finally:
        vc.stop()
        host.stop()
    for label, r in (("raw", raw), ("synced", syn)):
        per_pod = {k: v / args.n for k, v in sorted(r["requests"].items())}
        req = ", ".join(f"{k} {v:.2f}" for k, v in per_pod.items() if v >= 0.01)
        print(
            f"{label}: host CPU {r['running_ms']:.2f} ms/pod until Running ({r['wall']:.1f} s), "
            f"{r['quiet_ms']:.2f} until quiet; watchers {r['watchers']:.0f}; requests/pod: {req}",
            flush=True,
        )
        print("  threads, ms/pod until quiet: " + ", ".join(f"{k} {v:.2f}" for k, v in r["threads"].items()))
        print("  per pod until quiet: " + ", ".join(f"{k} {v:.1f}" for k, v in r["io"].items()))
    if args.perf:
        print(f"perf data: {base}/perf-raw.data, perf-synced.data", flush=True)
    if args.strace:
        print(f"strace: {base}/perf-raw.strace, perf-synced.strace; fds: {base}/fds.txt", flush=True)
        for label in ("raw", "synced"):
            print(f"{label}: syscalls per pod: {strace_summary(base / f'perf-{label}.strace', args.n)}")
    if args.no_cprofile:
        return
    names = [("host", "host.prof")] + ([("vcluster", "vc.prof")] if args.vcluster else [])
    for who, stem in names:
        a = own_ms(base / f"{stem}.0", args.n)
        b = own_ms(base / f"{stem}.1", args.n)
        print(f"\n{who}: profiled own time, ms/pod: raw {sum(a.values()):.2f}, synced {sum(b.values()):.2f}")
        rows = sorted(set(a) | set(b), key=lambda k: -abs(b.get(k, 0) - a.get(k, 0)))
        print(f"{'raw':>7} {'synced':>7} {'diff':>7}  function")
        for k in rows[: args.top]:
            ra, sb = a.get(k, 0.0), b.get(k, 0.0)
            print(f"{ra:7.3f} {sb:7.3f} {sb - ra:+7.3f}  {k}")
    print(f"\nprofiles: {base}/host.prof.0 (raw), .1 (synced)", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=600, help="pods per burst")
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument(
        "--raw-namespace",
        default="bench-raw",
        help=f"host namespace of the raw burst (e.g. {HNS}, the synced pods')",
    )
    ap.add_argument("--vcluster", action="store_true", help="profile the vcluster process too")
    ap.add_argument("--no-cprofile", action="store_true", help="only the /proc and /metrics figures")
    ap.add_argument("--perf", action="store_true", help="`perf record` the host during each burst")
    ap.add_argument("--strace", action="store_true", help="strace the host's reads and writes in each burst")
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
