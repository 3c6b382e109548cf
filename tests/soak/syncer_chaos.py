"""Chaos soak of the syncer: random edits on both sides while `vcluster start` is SIGKILLed and
restarted at random, then a check that both sides converge.

Not part of the test suite (randomised, minutes long): run it by hand after changing the syncer,

    .venv/bin/python -m tests.soak.syncer_chaos --seconds 45 --seed 3

It starts a `vcluster host` + `vcluster start` pair (tests/integration/syncer_harness.py) and, for
`--seconds`, does in rounds: virtual pod creates/deletes (pods that use a ConfigMap), label and
annotation edits of virtual pods and of their host pods, ConfigMap writes and deletes on the virtual
side and data edits on the host side, Service creates/patches/deletes; every 4-10 s the vcluster
process is killed and started again 0.5-3 s later. Then, for up to 150 s, it checks: every virtual
pod has its host pod (no orphans), the same labels and `soak/` annotations on both sides, a key
written by one side only holds that side's last value, the same phase; used ConfigMaps are on the
host with the same data and unused ones are not; Services agree (ClusterIP, selector, ports).
Pods read a ConfigMap and a Secret key and may mount a Secret or a claim; every round also runs
the workload operations and checks of `chaos_workloads.py` (Deployments scaled and rolled out,
namespaces created and deleted, Secrets, claims, host-side Service edits and host deletes).
Exit code 1 when it did not converge (the pair is kept for inspection with --keep). An object the
host deleted around a kill that came after its host create and before its base was saved (the
host create's window, docs/architecture.md, "Checking a syncer change under chaos") is created on
the host again, as vCluster does for a host object it never saw: the run prints, per kill, the
objects `state.db` held only a create's record of, and expects those the host deleted to stay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.syncer_harness import HOST_NS, VC_NAME, Pair, host_name, start_pair
from tests.soak.chaos_workloads import (
    ALL_NAMESPACES,
    CONFIGMAPS,
    NAMESPACES,
    SERVICES,
    Workloads,
    meta_patch,
    meta_view,
    pod_refs,
    pod_spec,
)
from vcluster.client import Client
from vcluster.client.errors import ApiError

BASE_PREFIX = "/vcluster/syncbase/v1/"
PLURALS = {
    "pod": "pods",
    "configmap": "configmaps",
    "secret": "secrets",
    "service": "services",
    "persistentvolumeclaim": "persistentvolumeclaims",
}


def ambiguous(e: BaseException) -> bool:
    """A failed write that may still have been applied (anything but a refused connection)."""
    if isinstance(e, ApiError) and e.status != 0:
        return False
    cause = e.__cause__ or e
    return not isinstance(cause, aiohttp.ClientConnectorError | ConnectionRefusedError)


@dataclass
class Soak:
    """The random operations and what they should have left behind."""

    vc: Client
    hc: Client
    rng: random.Random
    # (ns, pod, "labels:k") -> sides that wrote it, the last value written
    writes: dict[tuple[str, str, str], tuple[set[str], str | None]] = field(default_factory=dict)
    pods: set[tuple[str, str]] = field(default_factory=set)  # created, not deleted by us
    uncertain: set[tuple[str, str]] = field(default_factory=set)  # a write to it may or may not be in
    stats: Counter[str] = field(default_factory=Counter)
    counter: int = 0
    w: Workloads = field(init=False)

    def __post_init__(self) -> None:
        self.w = Workloads(self.vc, self.hc, self.rng, self.stats)

    def note(self, side: str, ns: str, pod: str, key: str, value: str | None) -> None:
        sides, _ = self.writes.get((ns, pod, key), (set(), None))
        self.writes[(ns, pod, key)] = (sides | {side}, value)

    def pod(self, ns: str, name: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": "soak"}},
            "spec": pod_spec(self.rng),
        }

    async def virtual_op(self) -> None:
        ns = self.rng.choice(NAMESPACES)
        mine = sorted(n for (s, n) in self.pods if s == ns)
        r = self.rng.random()
        try:
            if r < 0.25 or not mine:
                await self._create_pod(ns)
            elif r < 0.35:
                name = self.rng.choice(mine)
                self.pods.discard((ns, name))
                await self.vc.delete("v1", "pods", name, ns)
                self.stats["v-delete"] += 1
            elif r < 0.75:
                name = self.rng.choice(mine)
                what, key, value, patch = meta_patch(self.rng, "v")
                try:
                    await self.vc.patch("v1", "pods", name, patch, ns)
                except (ApiError, OSError, TimeoutError) as e:
                    if ambiguous(e):
                        self.uncertain.add((ns, name))
                    raise
                self.note("v", ns, name, f"{what}:{key}", value)
                self.stats["v-meta"] += 1
            elif r < 0.82:
                await self._service(ns)
            else:
                await self._configmap(ns)
        except ApiError as e:
            self.stats[f"v-error-{e.status}"] += 1
        except (OSError, TimeoutError) as e:
            self.stats[f"v-down-{type(e).__name__}"] += 1

    async def _create_pod(self, ns: str) -> None:
        self.counter += 1
        name = f"p{self.counter}"
        try:
            await self.vc.create("v1", "pods", self.pod(ns, name), ns)
        except (ApiError, OSError, TimeoutError) as e:
            if ambiguous(e):
                self.uncertain.add((ns, name))
                self.pods.add((ns, name))
            raise
        self.pods.add((ns, name))
        self.stats["v-create"] += 1

    async def _service(self, ns: str) -> None:
        svc = self.rng.choice(SERVICES)
        if self.rng.random() < 0.3:
            self.w.svc_gone(ns, svc)
            await self.vc.delete("v1", "services", svc, ns)
        else:
            spec = {
                "selector": {"app": "soak", "k0": f"v{self.rng.randrange(3)}"},
                "ports": [{"port": 80 + self.rng.randrange(3)}],
            }
            try:
                await self.vc.patch("v1", "services", svc, {"spec": spec}, ns)
            except ApiError as e:
                if not e.not_found:
                    raise
                body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc}, "spec": spec}
                self.w.svc_gone(ns, svc)
                await self.vc.create("v1", "services", body, ns)
        self.stats["v-service"] += 1

    async def _configmap(self, ns: str) -> None:
        cm = self.rng.choice(CONFIGMAPS)
        if self.rng.random() < 0.2:
            await self.vc.delete("v1", "configmaps", cm, ns)
        else:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": cm, "namespace": ns},
                "data": {"a": f"x{self.rng.randrange(100)}"},
            }
            try:
                await self.vc.update("v1", "configmaps", body, ns)
            except ApiError as e:
                if not e.not_found:
                    raise
                await self.vc.create("v1", "configmaps", body, ns)
        self.stats["v-configmap"] += 1

    async def host_op(self) -> None:
        if not self.pods:
            return
        ns, name = self.rng.choice(sorted(self.pods))
        hname = host_name(name, ns)
        r = self.rng.random()
        try:
            if r < 0.1:
                cm = host_name(self.rng.choice(CONFIGMAPS), self.rng.choice(NAMESPACES))
                patch = {"data": {"h": f"h{self.rng.randrange(100)}"}}
                await self.hc.patch("v1", "configmaps", cm, patch, HOST_NS)
                self.stats["h-configmap"] += 1
            elif r < 0.15:
                await self.w._host_delete("pods", name, ns, pod_uid=True)
                self.pods.discard((ns, name))  # host deletion deletes the virtual pod
                self.stats["h-delete"] += 1
            else:
                what, key, value, patch = meta_patch(self.rng, "h")
                await self.hc.patch("v1", "pods", hname, patch, HOST_NS)
                self.note("h", ns, name, f"{what}:{key}", value)
                self.stats["h-meta"] += 1
        except ApiError as e:
            self.stats[f"h-error-{e.status}"] += 1

    # ------------------------------------------------------------------ the check
    async def problems(self) -> list[str]:
        out: list[str] = []
        vpods = await self._virtual_pods()
        hpods = {
            o["metadata"]["name"]: o
            for o in (
                await self.hc.list(
                    "v1", "pods", HOST_NS, label_selector=f"vcluster.loft.sh/managed-by={VC_NAME}"
                )
            )["items"]
        }
        wanted = {host_name(n, ns): (ns, n) for (ns, n) in vpods}
        out += [
            f"orphan host pod {h}"
            for h, o in hpods.items()
            if h not in wanted and not o["metadata"].get("deletionTimestamp")
        ]
        for hname, (ns, n) in wanted.items():
            h = hpods.get(hname)
            if h is None:
                out.append(f"virtual pod {ns}/{n} has no host pod")
                continue
            out += self._pair_problems(ns, n, vpods[(ns, n)], h)
        out += [f"pod {ns}/{n} is missing" for (ns, n) in self.pods - self.uncertain if (ns, n) not in vpods]
        out += await self._configmap_problems(vpods)
        out += await self._service_problems()
        out += await self.w.problems()
        return out

    async def _virtual_pods(self) -> dict[tuple[str, str], dict[str, Any]]:
        out = {}
        for ns in ALL_NAMESPACES:
            for o in (await self.vc.list("v1", "pods", ns))["items"]:
                if not o["metadata"].get("deletionTimestamp"):
                    out[(ns, o["metadata"]["name"])] = o
        return out

    def _pair_problems(self, ns: str, name: str, v: dict[str, Any], h: dict[str, Any]) -> list[str]:
        out = []
        vm, hm = meta_view(v), meta_view(h)
        if vm != hm:
            out.append(f"{ns}/{name} differs: virtual {vm} host {hm}")
        if (ns, name) not in self.uncertain:
            for (wns, wn, key), (sides, value) in self.writes.items():
                if (wns, wn) == (ns, name) and len(sides) == 1 and vm.get(key) != value:
                    out.append(
                        f"{ns}/{name} {key}: only {sides} wrote {value!r}, virtual has {vm.get(key)!r}"
                    )
        vphase, hphase = v["status"].get("phase"), h["status"].get("phase")
        if vphase != hphase:
            out.append(f"{ns}/{name} phase: virtual {vphase} host {hphase}")
        return out

    async def _configmap_problems(self, vpods: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
        out = []
        hcms = {o["metadata"]["name"]: o for o in (await self.hc.list("v1", "configmaps", HOST_NS))["items"]}
        for ns in NAMESPACES:
            vcms = {o["metadata"]["name"]: o for o in (await self.vc.list("v1", "configmaps", ns))["items"]}
            used = {ref for (pns, _), o in vpods.items() if pns == ns for ref in pod_refs(o)["configmaps"]}
            for cm in CONFIGMAPS:
                v, h = vcms.get(cm), hcms.get(host_name(cm, ns))
                if cm in used and v is not None:
                    if h is None:
                        out.append(f"used configmap {ns}/{cm} not on the host")
                    elif h.get("data") != v.get("data"):
                        out.append(f"configmap {ns}/{cm} data: virtual {v.get('data')} host {h.get('data')}")
                elif h is not None:
                    out.append(
                        f"{'unused' if v is not None else 'deleted'} configmap {ns}/{cm} still on the host"
                    )
        return out

    async def _service_problems(self) -> list[str]:
        out = []
        hsvcs = {o["metadata"]["name"]: o for o in (await self.hc.list("v1", "services", HOST_NS))["items"]}
        for ns in NAMESPACES:
            vsvcs = {o["metadata"]["name"]: o for o in (await self.vc.list("v1", "services", ns))["items"]}
            for svc in SERVICES:
                v, h = vsvcs.get(svc), hsvcs.get(host_name(svc, ns))
                if v is None or h is None:
                    if v is not h:
                        out.append(f"service {ns}/{svc}: virtual {v is not None}, host {h is not None}")
                    continue
                hsel = {
                    k: x
                    for k, x in (h["spec"].get("selector") or {}).items()
                    if not k.startswith("vcluster.loft.sh/")
                }
                vs, hs = v["spec"], h["spec"]
                same = (
                    vs.get("clusterIP") == hs.get("clusterIP")
                    and vs.get("selector") == hsel
                    and [p["port"] for p in vs["ports"]] == [p["port"] for p in hs["ports"]]
                )
                if not same:
                    out.append(f"service {ns}/{svc}: virtual {vs} host {hs}")
        return out


def unsaved_bases(data_dir: Path) -> dict[tuple[str, str, str], str]:
    """The synced objects (plural, ns, name) -> virtual uid whose sync-base key in `state.db`
    holds only the host create's record, no saved base (read while the process is down)."""
    con = sqlite3.connect(f"file:{data_dir / 'state.db'}?mode=ro", uri=True, timeout=20)
    try:
        rows = con.execute(
            "SELECT name, value FROM kine WHERE id IN (SELECT MAX(id) FROM kine WHERE name LIKE ? "
            "GROUP BY name) AND deleted = 0",
            (BASE_PREFIX + "%",),
        ).fetchall()
    finally:
        con.close()
    out = {}
    for key, value in rows:
        kind, _, rest = key[len(BASE_PREFIX) :].partition("/")
        ns, _, name = rest.partition("/")
        doc = json.loads(value or b"{}")
        if kind in PLURALS and isinstance(doc.get("created"), dict) and doc.get("host") is None:
            out[(PLURALS[kind], ns, name)] = str(doc["created"].get("uid") or "")
    return out


async def chaos(p: Pair, s: Soak, stop: asyncio.Event, windows: list[list[str]]) -> None:
    """Kill the vcluster process every 4-10 s and start it again 0.5-3 s later; `windows` gets,
    per kill, the objects with only a create's record then (`unsaved_bases`), whose host deletes
    around the kill are told apart (`Workloads.killed`)."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), s.rng.uniform(4, 10))
            return
        except TimeoutError:
            pass
        p.vc.kill()
        s.stats["kills"] += 1
        s.w.killed(await asyncio.to_thread(unsaved_bases, p.vc.data_dir))
        windows.append(sorted(f"{plural} {ns}/{n}" for plural, ns, n in s.w.in_window))
        await asyncio.sleep(s.rng.uniform(0.5, 3))
        await asyncio.to_thread(p.vc.start)
        s.w.down, s.w.in_window = False, {}


async def soak(args: argparse.Namespace) -> bool:
    base = Path(args.dir or f"/tmp/syncer-chaos-{int(time.time())}")
    p = start_pair(base, nodes=3)
    print(f"pair up in {base}", flush=True)
    rng = random.Random(args.seed)
    try:
        vc = await Client.from_kubeconfig(str(p.vc.kubeconfig), user_agent="soak", timeout=5)
        hc = await Client.from_kubeconfig(str(p.host.kubeconfig), user_agent="soak", timeout=5)
        try:
            for ns in NAMESPACES:
                await vc.create(
                    "v1", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
                )
            await asyncio.sleep(1.5)  # default ServiceAccounts
            s = Soak(vc, hc, rng)
            stop = asyncio.Event()
            windows: list[list[str]] = []
            killer = asyncio.create_task(chaos(p, s, stop, windows))
            end = time.monotonic() + args.seconds
            while time.monotonic() < end:
                await asyncio.gather(
                    *(s.virtual_op() for _ in range(3)),
                    *(s.host_op() for _ in range(2)),
                    *(s.w.virtual_op() for _ in range(2)),
                    s.w.host_op(),
                )
                await asyncio.sleep(rng.uniform(0, 0.05))
            stop.set()
            await killer
            for plural, ns, name, _ in s.w.window_deleted:
                # in the create window: the pod stays, with a new host pod; what only the host
                # wrote went with the old one
                if plural == "pods":
                    for k in [
                        k for k, (sides, _) in s.writes.items() if k[:2] == (ns, name) and sides == {"h"}
                    ]:
                        del s.writes[k]
            if not p.vc.alive():
                await asyncio.to_thread(p.vc.start)
            print(f"operations: {dict(sorted(s.stats.items()))}", flush=True)
            # longer than a host Service's block-deletion wait (2 min, looked at every 10 s): one the
            # API interception created right before a kill, whose virtual Service was never
            # stored, is deleted only then, as vCluster does
            deadline, problems = time.monotonic() + 150, ["not checked"]
            while problems and time.monotonic() < deadline:
                try:
                    problems = await s.problems()
                except (ApiError, OSError, TimeoutError) as e:
                    problems = [f"check failed: {e!r}"]
                if problems:
                    await asyncio.sleep(2)
            print(f"{len(s.pods)} pods tracked, {len(s.uncertain)} with an ambiguous write")
            print(f"objects with only a create's record at each kill: {windows}")
            kept = sorted(f"{plural} {ns}/{n}" for plural, ns, n, _ in s.w.window_deleted)
            print(f"... host-deleted around the kill, so created again (§8.5, §3.1-2): {kept}")
            print("converged" if not problems else "NOT CONVERGED:\n  " + "\n  ".join(problems[:40]))
            return not problems
        finally:
            await vc.close()
            await hc.close()
    finally:
        if not args.keep:
            p.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=45.0, help="how long to do random operations")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", help="where the pair keeps its data and logs (default /tmp/syncer-chaos-*)")
    ap.add_argument("--keep", action="store_true", help="leave the pair running at the end")
    sys.exit(0 if asyncio.run(soak(ap.parse_args())) else 1)


if __name__ == "__main__":
    main()
