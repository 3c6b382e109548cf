"""The etcd store on a real 3-member etcd cluster when the member it talks to hangs (SIGSTOP: its
sockets stay open, nothing answers) instead of dying: requests and the cache's watch leave it within
a few seconds (keepalive probes, as clientv3's gRPC keepalive), a write whose answer is lost says so,
the watch resumes on another member from the next revision, and nothing is lost or repeated."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.etcdcluster import running_cluster
from tests.unit.test_store_etcd_cluster_session17 import CM, cm, etcd_keys, leader_of, until

from vcluster.store import etcdclient
from vcluster.store.etcdclient import EtcdEndpoint
from vcluster.store.etcdstore import EtcdStore
from vcluster.store.interface import ADDED, Entry, StoreUnavailableError

# a hung member is left after KEEPALIVE_TIME of silence plus an unanswered KEEPALIVE_TIMEOUT probe
LEAVE = etcdclient.KEEPALIVE_TIME + etcdclient.KEEPALIVE_TIMEOUT


@pytest.mark.parametrize("victim", ["follower", "leader"])
def test_the_member_we_talk_to_hangs_during_writes_and_a_watch(victim: str) -> None:
    with running_cluster(3) as cluster:

        async def main() -> None:
            leader = await leader_of(cluster)
            frozen = leader if victim == "leader" else next(m for m in cluster.members if m is not leader)
            s = EtcdStore(EtcdEndpoint(cluster.endpoints_from(frozen)), compact_interval=0)
            await s.start()
            try:
                assert s.client.member == frozen.url
                w = await s.watch(CM, s.revision)
                for i in range(3):
                    await s.create(f"{CM}before{i}", cm(f"before{i}"))
                acked: dict[str, Entry] = {}
                failed: list[str] = []
                took: list[float] = []
                frozen.freeze()
                try:
                    t0 = time.monotonic()
                    for i in range(15):
                        t = time.monotonic()
                        try:
                            acked[f"{CM}k{i:02d}"] = await s.create(f"{CM}k{i:02d}", cm(f"k{i:02d}"))
                        except StoreUnavailableError as e:
                            failed.append(str(e))
                        took.append(time.monotonic() - t)
                    elapsed = time.monotonic() - t0
                    # the write sent to the hung member lost its answer (it may still be applied once
                    # the member runs again): reported as such, after the keepalive, not REQUEST_TIMEOUT
                    assert len(failed) <= 1, failed
                    assert all(
                        "outcome of the write is unknown" in f and "stopped answering" in f for f in failed
                    )
                    assert took[0] < LEAVE + 2.5, took  # (the leader's case includes an election)
                    assert max(took[1:]) < 1.5, took  # every later write goes straight to another member
                    assert elapsed < LEAVE + 6, took
                    assert s.client.member != frozen.url and s.client.hung >= 1
                    # the cache's watch left the hung member too and resumed at the next revision
                    survivor = next(m for m in cluster.members if m is not frozen)
                    held = await etcd_keys(survivor.url, CM)
                    for key, entry in acked.items():
                        assert held.get(key) == entry.mod_rev, key
                    seen = []
                    while len(seen) < len(held):
                        ev = await w.next(5)
                        assert ev is not None, f"the watch stalled after {len(seen)} of {len(held)} events"
                        seen.append(ev)
                    assert await w.next(0.3) is None
                    assert [(e.type, e.key, e.rev) for e in seen] == [
                        (ADDED, k, r) for k, r in sorted(held.items(), key=lambda kv: kv[1])
                    ]
                    assert s.reconnects >= 1
                    await until(lambda: s.unavailable is None)
                finally:
                    frozen.thaw()
                w.close()
            finally:
                await s.close()

        asyncio.run(main())


def test_an_idle_watch_leaves_a_hung_member() -> None:
    """With nothing written, the cache's watch stream is silent anyway: the keepalive probe tells a
    hung member from an idle one, the watch moves within a few seconds and sees the next write."""
    with running_cluster(3) as cluster:

        async def main() -> None:
            leader = await leader_of(cluster)
            frozen = next(m for m in cluster.members if m is not leader)
            s = EtcdStore(EtcdEndpoint(cluster.endpoints_from(frozen)), compact_interval=0)
            await s.start()
            try:
                w = await s.watch(CM, s.revision)
                await asyncio.sleep(etcdclient.KEEPALIVE_TIME * 2)  # idle, member alive: nothing moves
                assert s.reconnects == 0 and s.client.hung == 0 and s.client.member == frozen.url
                frozen.freeze()
                try:
                    t0 = time.monotonic()
                    await until(lambda: s.reconnects >= 1, timeout=LEAVE + 3)
                    assert time.monotonic() - t0 < LEAVE + 2
                    assert s.client.member != frozen.url
                    t1 = time.monotonic()
                    e = await s.create(f"{CM}after", cm("after"))
                    assert time.monotonic() - t1 < 1.0  # no request goes to the hung member any more
                    ev = await w.next(2)
                    assert ev is not None and (ev.type, ev.key, ev.rev) == (ADDED, f"{CM}after", e.mod_rev)
                    assert (await s.get(f"{CM}after")) is not None
                finally:
                    frozen.thaw()
                w.close()
            finally:
                await s.close()

        asyncio.run(main())
