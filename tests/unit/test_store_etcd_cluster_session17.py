"""The etcd store on a real 3-member etcd cluster: the endpoint list in --datastore and vcluster.yaml,
failover of writes, reads and the cache's watch when the member we talk to dies (a follower or the
leader), a member that lost its quorum, every member down, and recovery."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.etcdcluster import EtcdCluster, EtcdMember, running_cluster

from vcluster.store import etcdclient
from vcluster.store.datasource import check_datastore, configured_datastore, describe
from vcluster.store.etcdclient import EtcdClient, EtcdEndpoint, normalize_endpoint
from vcluster.store.etcdstore import EtcdStore
from vcluster.store.interface import ADDED, Entry, StoreUnavailableError

CM = "/registry/configmaps/default/"


def cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}}


async def leader_of(cluster: EtcdCluster) -> EtcdMember:
    """The member etcd reports as leader (maintenance/status: `leader` is a member id)."""
    for m in cluster.members:
        if not m.alive:
            continue
        client = EtcdClient(EtcdEndpoint(m.url))
        try:
            st = await client.status()
        finally:
            await client.close()
        if st["leader"] == st["header"]["member_id"]:
            return m
    raise AssertionError("no leader")


async def etcd_keys(url: str, prefix: str) -> dict[str, int]:
    """key -> mod_revision as one member holds them."""
    client = EtcdClient(EtcdEndpoint(url))
    try:
        _, kvs, _ = await client.range(prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1))
    finally:
        await client.close()
    return {kv.key.decode(): kv.mod_revision for kv in kvs}


async def until(pred: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def test_endpoint_lists_in_datastore_and_vcluster_yaml() -> None:
    from vcluster.config import load_config

    assert normalize_endpoint("a:1, b:2 ,https://c", tls=True) == "https://a:1,https://b:2,https://c:2379"
    assert (
        check_datastore("http://10.0.0.1:2379,http://10.0.0.2") == "http://10.0.0.1:2379,http://10.0.0.2:2379"
    )
    assert describe("http://a:1,http://b:2") == "etcd http://a:1,http://b:2"
    assert EtcdEndpoint("http://a:1,http://b:2").urls == ("http://a:1", "http://b:2")
    for bad, message in [
        ("http://a:1,,http://b:2", "has an empty entry"),
        ("http://a:1,http://a:1", "lists http://a:1 twice"),
        ("https://a:1,http://b:2", "mixes http:// and https://"),
        ("http://a:1,ftp://b", "'ftp://b': the scheme must be http or https"),
        ("http://a:1,http://b:x", "'http://b:x': the port is not a number"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_datastore(bad)
    cfg = load_config(
        "controlPlane:\n  backingStore:\n    etcd:\n      external:\n        enabled: true\n"
        "        endpoint: e0:2379,e1:2379,e2:2379\n"
        "        tls: {caFile: /ca.crt, certFile: /c.crt, keyFile: /c.key}\n"
    )
    assert configured_datastore(cfg)[0] == "https://e0:2379,https://e1:2379,https://e2:2379"
    bad = load_config(
        "controlPlane:\n  backingStore:\n    etcd: {external: {enabled: true, endpoint: 'e0:1,e0:1'}}\n"
    )
    with pytest.raises(ValueError, match=r"^controlPlane.backingStore.etcd.external.endpoint: .* twice"):
        configured_datastore(bad)


@pytest.mark.parametrize("victim", ["follower", "leader"])
def test_the_member_we_talk_to_dies_during_writes_and_a_watch(victim: str) -> None:
    """Writes go on through another member, none acknowledged is lost, the cache's watch resumes
    there at the next revision, so a store watch sees every event exactly once; reads keep
    answering and the store never reports itself unavailable for long."""
    with running_cluster(3) as cluster:

        async def main() -> None:
            leader = await leader_of(cluster)
            others = [m for m in cluster.members if m is not leader]
            first = leader if victim == "leader" else others[0]
            s = EtcdStore(EtcdEndpoint(cluster.endpoints_from(first)), compact_interval=0)
            await s.start()
            assert s.client.member == first.url
            w = await s.watch(CM, s.revision)
            acked: dict[str, Entry] = {}
            failed: dict[int, str] = {}
            killed = asyncio.Event()

            async def writer() -> None:
                for i in range(60):
                    key = f"{CM}k{i:03d}"
                    try:
                        acked[key] = await s.create(key, cm(f"k{i:03d}"))
                    except StoreUnavailableError as e:
                        failed[i] = str(e)
                    if i == 20:
                        killed.set()
                    await asyncio.sleep(0.005)

            task = asyncio.create_task(writer())
            await killed.wait()
            await asyncio.to_thread(first.kill)
            listed = await s.list(CM)  # a consistent read while the member is gone
            assert len(listed.entries) >= 21
            await task
            # a write in flight when the member died, or sent to a follower that had not yet noticed
            # its leader was gone, has lost its answer (kube's clientv3 reports these the same way);
            # once a write went through another member, every later one did too
            assert all("outcome of the write is unknown" in f for f in failed.values()), failed
            first_ok = min(i for i in range(21, 60) if f"{CM}k{i:03d}" in acked)
            assert all(i < first_ok for i in failed), (failed, first_ok)
            assert len(failed) <= 2 and len(acked) == 60 - len(failed)
            assert s.client.member != first.url and s.client.failovers >= 1
            survivor = next(m for m in cluster.members if m.alive)
            held = await etcd_keys(survivor.url, CM)
            for key, entry in acked.items():
                assert held.get(key) == entry.mod_rev, key  # nothing acknowledged is lost
            # the watch saw exactly what etcd holds, each once, in revision order
            seen = []
            while len(seen) < len(held):
                ev = await w.next(10)
                assert ev is not None, f"the watch stalled after {len(seen)} of {len(held)} events"
                seen.append(ev)
            assert await w.next(0.3) is None  # nothing more, no repeats
            assert [(e.type, e.key, e.rev) for e in seen] == [
                (ADDED, k, r) for k, r in sorted(held.items(), key=lambda kv: kv[1])
            ]
            assert (await s.get(f"{CM}k059")) is not None
            await until(lambda: s.unavailable is None)
            assert s.reconnects >= 1
            w.close()
            await s.close()

        asyncio.run(main())


def test_quorum_lost_then_all_down_then_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two of three members die: the one left has no leader and refuses at once ('no leader', the
    hasleader metadata), writes fail naming every member and what each said, reads go on from the
    cache; one member back gives a quorum again and the store carries on from where its watch was."""
    monkeypatch.setattr(etcdclient, "ELECTION_WAIT", 1.0)
    with running_cluster(3) as cluster:
        m0, m1, m2 = cluster.members

        async def main() -> None:
            s = EtcdStore(EtcdEndpoint(cluster.endpoints), compact_interval=0)
            await s.start()
            w = await s.watch(CM, s.revision)
            before = [await s.create(f"{CM}b{i}", cm(f"b{i}")) for i in range(3)]
            await asyncio.to_thread(m1.kill)
            await asyncio.to_thread(m2.kill)
            await until(lambda: not m0.healthy())  # m0 noticed it has no leader
            with pytest.raises(StoreUnavailableError) as err:
                await s.create(f"{CM}lost", cm("lost"))
            msg = str(err.value)
            assert "write not persisted: no etcd member answered (3 tried)" in msg, msg
            assert f"{m0.url}: etcdserver: no leader" in msg, msg
            assert f"cannot reach etcd at {m1.url}" in msg and f"cannot reach etcd at {m2.url}" in msg, msg
            assert len((await s.list(CM)).entries) == 3  # from the cache
            await until(lambda: s.unavailable is not None)
            await asyncio.to_thread(cluster.restart, m1)
            after = await s.create(f"{CM}after", cm("after"))
            assert after.mod_rev == before[-1].mod_rev + 1  # the lost write never happened
            await until(lambda: s.unavailable is None)
            got = [await w.next(5) for _ in range(4)]
            assert [g.key.rsplit("/", 1)[1] for g in got if g] == ["b0", "b1", "b2", "after"]
            assert await w.next(0.3) is None
            # every member down: one clear error naming them all
            await asyncio.to_thread(m0.kill)
            await asyncio.to_thread(m1.kill)
            with pytest.raises(StoreUnavailableError) as err:
                await s.create(f"{CM}none", cm("none"))
            for m in cluster.members:
                assert f"cannot reach etcd at {m.url}" in str(err.value)
            w.close()
            await s.close()

        asyncio.run(main())
