"""Informers against our real API server: sync, live events, indexes, resync, reconnects and relists."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Server
from vcluster.client import ApiError, Client, Informer, SharedInformers

pytestmark = pytest.mark.integration

Events = list[tuple[str, str, str | None]]  # (event, name, old name or None)


async def until(pred: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.01)


def recorder(events: Events, full: list[tuple[str, dict[str, Any], dict[str, Any] | None]] | None = None):
    def handler(event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        events.append((event, obj["metadata"]["name"], old["metadata"]["name"] if old else None))
        if full is not None:
            full.append((event, obj, old))

    return handler


def cm(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": data}


def app_label(obj: dict[str, Any]) -> list[str]:
    app = (obj["metadata"].get("labels") or {}).get("app")
    return [app] if app else []


def test_informer_sync_events_indexes_and_shared_factory(module_server: Server) -> None:
    async def main() -> None:
        async with await Client.from_kubeconfig(module_server.kubeconfig) as c:
            ns = "inf-basic"
            await c.create("v1", "namespaces", {"metadata": {"name": ns}})
            await c.create("v1", "configmaps", cm("a", {"app": "x"}), ns)
            await c.create("v1", "configmaps", cm("b", {"app": "x"}), ns)
            await c.create("v1", "namespaces", {"metadata": {"name": "inf-other"}})
            await c.create("v1", "configmaps", cm("elsewhere"), "inf-other")

            factory = SharedInformers(c)
            inf = factory.informer("v1", "configmaps", ns)
            assert factory.informer("v1", "configmaps", ns) is inf
            assert factory.informer("v1", "configmaps", ns, label_selector="app=x") is not inf
            events: Events = []
            full: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []

            def broken(event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
                raise RuntimeError("handler bug")

            inf.add_handler(broken)  # must not stop the others nor the informer
            inf.add_handler(recorder(events, full))
            inf.add_index("app", app_label)
            await factory.start()
            await factory.wait_synced(timeout=10)
            assert inf.has_synced
            assert sorted(events) == [("add", "a", None), ("add", "b", None)]
            assert inf.get("a", ns)["metadata"]["labels"] == {"app": "x"}
            assert inf.get("elsewhere", "inf-other") is None
            assert {o["metadata"]["name"] for o in inf.list(ns)} == {"a", "b"}
            assert {o["metadata"]["name"] for o in inf.by_index("app", "x")} == {"a", "b"}
            assert inf.handler_errors_total == 2
            selected = factory.informer("v1", "configmaps", ns, label_selector="app=x")
            await selected.wait_synced(timeout=10)  # started right away: the factory is running

            events.clear()
            await c.create("v1", "configmaps", cm("c", {"app": "y"}), ns)
            await c.patch("v1", "configmaps", "a", {"metadata": {"labels": {"app": "y"}}}, ns)
            await c.delete("v1", "configmaps", "b", ns)
            await until(lambda: len(events) == 3, what="3 live events")
            assert events == [("add", "c", None), ("update", "a", "a"), ("delete", "b", "b")]
            upd = next(f for f in full if f[0] == "update")
            assert upd[1]["metadata"]["labels"] == {"app": "y"} and upd[2]["metadata"]["labels"] == {
                "app": "x"
            }
            assert {o["metadata"]["name"] for o in inf.by_index("app", "y")} == {"a", "c"}
            assert inf.by_index("app", "x") == []
            assert inf.get("b", ns) is None and len(inf) == 2
            assert int(inf.resource_version) > 0
            # The selector-filtered informer saw "a" leave its selection and "b" deleted.
            await until(lambda: len(selected) == 0, what="selected informer emptied")

            # A handler added late gets the current objects replayed as adds.
            late: Events = []
            inf.add_handler(recorder(late))
            assert sorted(late) == [("add", "a", None), ("add", "c", None)]

            # Informers requested after start() are started immediately.
            nsinf = factory.informer("v1", "namespaces")
            await factory.wait_synced(timeout=10)
            assert nsinf.get(ns) is not None and nsinf.get("inf-other") is not None
            await factory.stop()
            assert not inf.running and not nsinf.running

    asyncio.run(main())


def test_informer_resync_and_silence_reconnect(module_server: Server) -> None:
    async def main() -> None:
        async with await Client.from_kubeconfig(module_server.kubeconfig) as c:
            ns = "inf-resync"
            await c.create("v1", "namespaces", {"metadata": {"name": ns}})
            await c.create("v1", "configmaps", cm("r"), ns)
            full: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
            inf = Informer(c, "v1", "configmaps", ns, resync_seconds=0.2, silence_timeout=0.3)
            inf.add_handler(recorder([], full))
            await inf.start()
            await inf.wait_synced(timeout=10)
            await until(lambda: any(e == "update" for e, _, _ in full), what="resync update")
            _, obj, old = next(f for f in full if f[0] == "update")
            assert obj is old and obj["metadata"]["name"] == "r"
            # Nothing happens on this watch: the informer reconnects after each silent 0.3 s ...
            await until(lambda: inf.watches_total >= 3, what="silent watch reconnects")
            assert inf.lists_total == 1  # ... from its resourceVersion, without relisting
            # ... and still delivers events.
            await c.create("v1", "configmaps", cm("after-silence"), ns)
            await until(lambda: inf.get("after-silence", ns) is not None, what="event after reconnects")
            await inf.stop()
            with pytest.raises(TimeoutError):
                await Informer(c, "v1", "configmaps", ns).wait_synced(timeout=0.05)  # never started

    asyncio.run(main())


def test_informer_survives_restarts_and_relists_after_compaction(tmp_path: Path) -> None:
    """Stop/start the server under a running informer; then change objects and compact history
    while it is unreachable, so its watch gets 410 Gone and it must relist and diff."""
    data = tmp_path / "vc"
    args = ["--compaction-interval", "0.3"]
    servers: list[Server] = []

    def start(port: int = 0) -> Server:
        s = Server(data, port, args=list(args))
        servers.append(s)
        return s.start()

    async def main() -> None:
        first = await asyncio.to_thread(start)
        port = first.port
        ctx = ssl.create_default_context(cafile=str(first.ca_file))
        token = first.token
        async with Client(first.url, ssl=ctx, token=token) as c:
            ns = "relist"
            await c.create("v1", "namespaces", {"metadata": {"name": ns}})
            for name in ("keep", "gone", "change"):
                await c.create("v1", "configmaps", cm(name, v="1"), ns)
            events: Events = []
            inf = Informer(c, "v1", "configmaps", ns, silence_timeout=5, min_backoff=0.05, max_backoff=0.3)
            inf.add_handler(recorder(events))
            await inf.start()
            await inf.wait_synced(timeout=10)
            assert sorted(n for _, n, _ in events) == ["change", "gone", "keep"]

            # 1. Restart on the same port: the informer reconnects and resumes from its resourceVersion.
            await asyncio.to_thread(first.stop)
            await asyncio.to_thread(start, port)
            await until(lambda: inf.errors_total > 0, what="informer noticed the outage")
            await c.create("v1", "configmaps", cm("during", v="1"), ns)
            await until(lambda: inf.get("during", ns) is not None, what="event after restart")
            assert inf.lists_total == 1
            old_rv = inf.resource_version
            await asyncio.to_thread(servers[-1].stop)

            # 2. While the informer cannot reach it, change things and compact the history away.
            other = await asyncio.to_thread(start, 0)
            assert other.port != port
            async with Client(other.url, ssl=ctx, token=token) as c2:
                await c2.delete("v1", "configmaps", "gone", ns)
                await c2.patch("v1", "configmaps", "change", {"data": {"v": "2"}}, ns)
                await c2.create("v1", "configmaps", cm("new", v="1"), ns)
                await c2.create("v1", "namespaces", {"metadata": {"name": "churn"}})
                await asyncio.gather(
                    *(c2.create("v1", "configmaps", cm(f"c{i}"), "churn") for i in range(1020))
                )

                async def compacted() -> bool:
                    try:
                        async for _ in c2.watch(
                            "v1", "configmaps", ns, resource_version=old_rv, timeout_seconds=1
                        ):
                            return False
                    except ApiError as e:
                        return e.gone
                    return False

                loop = asyncio.get_running_loop()
                deadline = loop.time() + 10
                while not await compacted():
                    assert loop.time() < deadline, "history was not compacted"
                    await asyncio.sleep(0.1)
            await asyncio.to_thread(other.stop)
            assert inf.get("gone", ns) is not None  # the informer has not seen any of it yet

            # 3. Back on the informer's port: 410 on the watch -> relist -> diff emitted to handlers.
            events.clear()
            await asyncio.to_thread(start, port)
            await until(lambda: inf.get("new", ns) is not None, what="relist after 410")
            assert inf.lists_total == 2
            assert sorted(events) == [
                ("add", "new", None),
                ("delete", "gone", "gone"),
                ("update", "change", "change"),
            ]
            assert inf.get("change", ns)["data"] == {"v": "2"}
            assert sorted(o["metadata"]["name"] for o in inf.list(ns)) == ["change", "during", "keep", "new"]
            # And it keeps watching afterwards.
            await c.delete("v1", "configmaps", "keep", ns)
            await until(lambda: inf.get("keep", ns) is None, what="live delete after relist")
            await inf.stop()

    try:
        asyncio.run(main())
    finally:
        for s in servers:
            s.stop()


def test_wait_until_is_woken_by_the_cache(module_server: Server) -> None:
    """Informer.wait_until: true at once when the cache already agrees, woken by the key's update
    (a write's resourceVersion becoming visible), by its deletion, and False on timeout."""

    async def main() -> None:
        async with await Client.from_kubeconfig(module_server.kubeconfig) as c:
            ns = "inf-wait"
            await c.create("v1", "namespaces", {"metadata": {"name": ns}})
            created = await c.create("v1", "configmaps", cm("w", k="1"), ns)
            inf = Informer(c, "v1", "configmaps", ns)
            await inf.start()
            try:
                await inf.wait_synced(10)
                assert await inf.wait_until("w", ns, lambda cur: cur is not None, 0.01)
                patched = await c.patch("v1", "configmaps", "w", {"data": {"k": "2"}}, ns)
                rv = int(patched["metadata"]["resourceVersion"])
                assert rv > int(created["metadata"]["resourceVersion"])

                def has_rv(cur: dict[str, Any] | None) -> bool:
                    return cur is not None and int(cur["metadata"]["resourceVersion"]) >= rv

                assert await inf.wait_until("w", ns, has_rv, 5)
                assert inf.get("w", ns)["data"] == {"k": "2"}
                # deletion wakes a waiter for the key's absence
                gone = asyncio.create_task(inf.wait_until("w", ns, lambda cur: cur is None, 5))
                await asyncio.sleep(0.05)
                assert not gone.done()
                await c.delete("v1", "configmaps", "w", ns)
                assert await gone
                # never true: False after the timeout, and no waiter is left behind
                assert not await inf.wait_until("never", ns, lambda cur: cur is not None, 0.2)
                assert inf._key_waiters == {}
            finally:
                await inf.stop()

    asyncio.run(main())


def test_compact_informer_keeps_json_and_reads_fresh_copies(module_server: Server) -> None:
    """compact=True: the same events, indexes, reads and waits as the dict cache, with each object
    held as its JSON bytes and every read a private copy."""

    async def main() -> None:
        async with await Client.from_kubeconfig(module_server.kubeconfig) as c:
            ns = "inf-compact"
            await c.create("v1", "namespaces", {"metadata": {"name": ns}})
            await c.create("v1", "configmaps", cm("a", {"app": "x"}, k="1"), ns)
            factory = SharedInformers(c)
            inf = factory.informer("v1", "configmaps", ns, compact=True)
            assert inf.compact and factory.informer("v1", "configmaps", ns) is inf
            events: Events = []
            full: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
            inf.add_handler(recorder(events, full))
            inf.add_index("app", app_label)
            await factory.start()
            await factory.wait_synced(timeout=10)
            assert events == [("add", "a", None)]
            assert all(isinstance(v, bytes) for v in inf._cache.values())
            got = inf.get("a", ns)
            assert got is not None and got["data"] == {"k": "1"}
            got["data"]["k"] = "changed by the caller"
            assert inf.get("a", ns)["data"] == {"k": "1"}  # the cache is not the caller's copy
            assert (
                [o["metadata"]["name"] for o in inf.list(ns)]
                == ["a"]
                == [o["metadata"]["name"] for o in inf.by_index("app", "x")]
            )
            await c.patch(
                "v1", "configmaps", "a", {"metadata": {"labels": {"app": "y"}}, "data": {"k": "2"}}, ns
            )
            assert await inf.wait_until("a", ns, lambda o: o is not None and o["data"]["k"] == "2", 10)
            assert events[-1] == ("update", "a", "a")
            assert full[-1][1]["data"] == {"k": "2"} and full[-1][2]["data"] == {"k": "1"}  # new, old
            assert inf.by_index("app", "x") == [] and len(inf.by_index("app", "y")) == 1
            await c.delete("v1", "configmaps", "a", ns)
            await until(lambda: len(events) == 3, what="delete event")
            assert events[-1] == ("delete", "a", "a") and full[-1][2]["data"] == {"k": "2"}
            assert inf.get("a", ns) is None and inf.list() == [] and len(inf) == 0
            await factory.stop()

    asyncio.run(main())
