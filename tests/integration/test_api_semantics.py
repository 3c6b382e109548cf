"""Object lifecycle and watch semantics over real HTTPS against a server subprocess."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.integration.conftest import Server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Only the serviceaccount controller: these tests play the namespace controller themselves.
    s = Server(tmp_path_factory.mktemp("sem") / "vc", controllers="serviceaccount").start()
    yield s
    s.stop()


class Api:
    def __init__(self, server: Server, session: aiohttp.ClientSession) -> None:
        self.base = server.url
        self.s = session

    async def req(
        self, method: str, path: str, body: Any = None, ctype: str = "application/json", **params: str
    ) -> tuple[int, Any]:
        data = orjson.dumps(body) if body is not None else None
        async with self.s.request(
            method, self.base + path, data=data, params=params or None, headers={"Content-Type": ctype}
        ) as r:
            raw = await r.read()
            return r.status, orjson.loads(raw) if raw else None

    async def watch(self, path: str, **params: str) -> aiohttp.ClientResponse:
        return await self.s.get(self.base + path, params={"watch": "true", **params})


def run(server: Server, fn: Any) -> Any:
    async def main() -> Any:
        ctx = ssl.create_default_context(cafile=str(server.ca_file))
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ctx), headers={"Authorization": f"Bearer {server.token}"}
        ) as s:
            return await fn(Api(server, s))

    return asyncio.run(main())


async def read_events(resp: aiohttp.ClientResponse, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    out = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            line = await resp.content.readline()
            if not line:
                break
            out.append(orjson.loads(line))
    return out


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"k": "v"},
    }


async def mkns(api: Api, name: str) -> None:
    st, _ = await api.req("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    assert st == 201


def test_create_fills_system_fields_and_generate_name(srv: Server) -> None:
    async def t(api: Api) -> None:
        await mkns(api, "sys")
        st, obj = await api.req(
            "POST", "/api/v1/namespaces/sys/configmaps", {"metadata": {"generateName": "gen-"}, "data": {}}
        )
        assert st == 201
        md = obj["metadata"]
        assert md["name"].startswith("gen-") and len(md["name"]) == 9
        assert len(md["uid"]) == 36 and md["creationTimestamp"].endswith("Z")
        assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1"  # filled from the URL
        assert "generation" not in md
        st, dep = await api.req(
            "POST",
            "/apis/apps/v1/namespaces/sys/deployments",
            {
                "metadata": {"name": "d"},
                "spec": {
                    "selector": {"matchLabels": {"a": "b"}},
                    "template": {
                        "metadata": {"labels": {"a": "b"}},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                    },
                },
                "status": {"replicas": 99},
            },
        )
        # The status a client sends is dropped; kube-apiserver answers the zero status `{}`.
        assert st == 201 and dep["metadata"]["generation"] == 1 and dep["status"] == {}
        # A metadata-only change keeps the generation; a spec change bumps it.
        st, dep2 = await api.req(
            "PATCH",
            "/apis/apps/v1/namespaces/sys/deployments/d",
            {"metadata": {"labels": {"x": "y"}}},
            "application/merge-patch+json",
        )
        assert st == 200 and dep2["metadata"]["generation"] == 1
        st, dep3 = await api.req(
            "PATCH",
            "/apis/apps/v1/namespaces/sys/deployments/d",
            {"spec": {"replicas": 4}},
            "application/merge-patch+json",
        )
        assert dep3["metadata"]["generation"] == 2
        assert int(dep3["metadata"]["resourceVersion"]) > int(dep2["metadata"]["resourceVersion"])
        # The main endpoint ignores status; /status changes only status.
        st, dep4 = await api.req(
            "PATCH",
            "/apis/apps/v1/namespaces/sys/deployments/d",
            {"status": {"replicas": 7}},
            "application/merge-patch+json",
        )
        assert "status" not in dep4 or dep4["status"].get("replicas") != 7
        st, dep5 = await api.req(
            "PATCH",
            "/apis/apps/v1/namespaces/sys/deployments/d/status",
            {"status": {"replicas": 7}, "spec": {"replicas": 1}},
            "application/merge-patch+json",
        )
        assert st == 200 and dep5["status"]["replicas"] == 7 and dep5["spec"]["replicas"] == 4
        # An update that changes nothing is not written (same resourceVersion).
        st, same = await api.req("PUT", "/apis/apps/v1/namespaces/sys/deployments/d", dep5)
        assert st == 200 and same["metadata"]["resourceVersion"] == dep5["metadata"]["resourceVersion"]

    run(srv, t)


def test_dry_run_persists_nothing(srv: Server) -> None:
    async def t(api: Api) -> None:
        await mkns(api, "dry")
        st, obj = await api.req("POST", "/api/v1/namespaces/dry/configmaps", cm("c1"), dryRun="All")
        assert st == 201 and obj["metadata"]["resourceVersion"] == "" and obj["metadata"]["uid"]
        st, _ = await api.req("GET", "/api/v1/namespaces/dry/configmaps/c1")
        assert st == 404
        st, _ = await api.req("POST", "/api/v1/namespaces/dry/configmaps", cm("c1"))
        st, obj = await api.req("DELETE", "/api/v1/namespaces/dry/configmaps/c1", dryRun="All")
        assert st == 200
        st, _ = await api.req("GET", "/api/v1/namespaces/dry/configmaps/c1")
        assert st == 200
        st, err = await api.req("POST", "/api/v1/namespaces/dry/configmaps", cm("c2"), dryRun="Some")
        assert st == 422 and err["details"]["kind"] == "CreateOptions"

    run(srv, t)


def test_finalizers_and_delete_responses(srv: Server) -> None:
    async def t(api: Api) -> None:
        await mkns(api, "fin")
        body = cm("held")
        body["metadata"]["finalizers"] = ["example.com/hold"]
        st, _ = await api.req("POST", "/api/v1/namespaces/fin/configmaps", body)
        st, obj = await api.req("DELETE", "/api/v1/namespaces/fin/configmaps/held")
        assert st == 200 and obj["kind"] == "ConfigMap" and obj["metadata"]["deletionTimestamp"]
        st, live = await api.req("GET", "/api/v1/namespaces/fin/configmaps/held")
        assert st == 200 and live["metadata"]["finalizers"] == ["example.com/hold"]
        # No new finalizers while deleting.
        st, err = await api.req(
            "PATCH",
            "/api/v1/namespaces/fin/configmaps/held",
            {"metadata": {"finalizers": ["example.com/hold", "new/one"]}},
            "application/merge-patch+json",
        )
        assert st == 422 and err["reason"] == "Invalid"
        # Removing the last finalizer deletes the object.
        st, _ = await api.req(
            "PATCH",
            "/api/v1/namespaces/fin/configmaps/held",
            {"metadata": {"finalizers": None}},
            "application/merge-patch+json",
        )
        assert st == 200
        st, _ = await api.req("GET", "/api/v1/namespaces/fin/configmaps/held")
        assert st == 404
        # Plain delete: a Status for configmaps, the object for services and pods.
        await api.req("POST", "/api/v1/namespaces/fin/configmaps", cm("plain"))
        st, res = await api.req("DELETE", "/api/v1/namespaces/fin/configmaps/plain")
        assert res["kind"] == "Status" and res["status"] == "Success"
        assert (
            res["details"]["kind"] == "configmaps"
            and res["details"]["name"] == "plain"
            and res["details"]["uid"]
        )
        await api.req(
            "POST",
            "/api/v1/namespaces/fin/services",
            {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}},
        )
        st, res = await api.req("DELETE", "/api/v1/namespaces/fin/services/s")
        assert st == 200 and res["kind"] == "Service" and res["spec"]["ports"][0]["protocol"] == "TCP"
        # Preconditions.
        st, _c = await api.req("POST", "/api/v1/namespaces/fin/configmaps", cm("pre"))
        st, err = await api.req(
            "DELETE", "/api/v1/namespaces/fin/configmaps/pre", {"preconditions": {"uid": "not-the-uid"}}
        )
        assert st == 409 and err["reason"] == "Conflict"
        # Orphan propagation leaves an 'orphan' finalizer for the garbage collector.
        st, obj = await api.req(
            "DELETE", "/api/v1/namespaces/fin/configmaps/pre", {"propagationPolicy": "Orphan"}
        )
        assert st == 200 and obj["metadata"]["finalizers"] == ["orphan"]

    run(srv, t)


def test_pod_graceful_deletion(srv: Server) -> None:
    async def t(api: Api) -> None:
        await mkns(api, "pods")
        pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        st, obj = await api.req("POST", "/api/v1/namespaces/pods/pods", pod)
        assert st == 201 and obj["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
        # Unscheduled: deleted at once, answer is the pod.
        st, obj = await api.req("DELETE", "/api/v1/namespaces/pods/pods/p")
        assert st == 200 and obj["kind"] == "Pod"
        assert (await api.req("GET", "/api/v1/namespaces/pods/pods/p"))[0] == 404
        # Bound: graceful deletion marks it; a zero-grace delete removes it.
        await api.req("POST", "/api/v1/namespaces/pods/pods", pod)
        st, _ = await api.req(
            "POST",
            "/api/v1/namespaces/pods/pods/p/binding",
            {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": "p"},
                "target": {"kind": "Node", "name": "node-1"},
            },
        )
        assert st == 201
        st, bound = await api.req("GET", "/api/v1/namespaces/pods/pods/p")
        assert bound["spec"]["nodeName"] == "node-1"
        assert any(
            c["type"] == "PodScheduled" and c["status"] == "True" for c in bound["status"]["conditions"]
        )
        st, _again = await api.req(
            "POST", "/api/v1/namespaces/pods/pods/p/binding", {"target": {"kind": "Node", "name": "node-2"}}
        )
        assert st == 409
        st, obj = await api.req("DELETE", "/api/v1/namespaces/pods/pods/p")
        assert st == 200 and obj["metadata"]["deletionGracePeriodSeconds"] == 30
        assert obj["metadata"]["deletionTimestamp"]
        st, obj = await api.req("DELETE", "/api/v1/namespaces/pods/pods/p", {"gracePeriodSeconds": 0})
        assert st == 200
        assert (await api.req("GET", "/api/v1/namespaces/pods/pods/p"))[0] == 404

    run(srv, t)


def test_binding_sets_pod_scheduled_like_update_pod_condition(srv: Server) -> None:
    """Binding sets PodScheduled=True in place: the transition time stays when it was already True
    (a synced pod's status copied from the host before the bind), and is new after False."""

    async def t(api: Api) -> None:
        await mkns(api, "bindc")
        for name, before, keep in (("was-true", "True", True), ("was-false", "False", False)):
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            }
            st, _ = await api.req("POST", "/api/v1/namespaces/bindc/pods", pod)
            assert st == 201
            conds = [
                {"type": "PodScheduled", "status": before, "lastTransitionTime": "2020-01-01T00:00:00Z"},
                {"type": "Initialized", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"},
            ]
            st, _ = await api.req(
                "PATCH",
                f"/api/v1/namespaces/bindc/pods/{name}/status",
                {"status": {"conditions": conds}},
                ctype="application/merge-patch+json",
            )
            assert st == 200
            st, _ = await api.req(
                "POST",
                f"/api/v1/namespaces/bindc/pods/{name}/binding",
                {"target": {"kind": "Node", "name": "node-1"}},
            )
            assert st == 201
            st, bound = await api.req("GET", f"/api/v1/namespaces/bindc/pods/{name}")
            got = bound["status"]["conditions"]
            assert [c["type"] for c in got] == ["PodScheduled", "Initialized"]
            assert got[0]["status"] == "True"
            assert (got[0]["lastTransitionTime"] == "2020-01-01T00:00:00Z") is keep, got[0]

    run(srv, t)


def test_namespace_termination_and_immortal(srv: Server) -> None:
    async def t(api: Api) -> None:
        await mkns(api, "doomed")
        st, ns = await api.req("GET", "/api/v1/namespaces/doomed")
        assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "doomed"
        assert ns["spec"]["finalizers"] == ["kubernetes"] and ns["status"]["phase"] == "Active"
        st, ns = await api.req("DELETE", "/api/v1/namespaces/doomed")
        assert st == 200 and ns["status"]["phase"] == "Terminating"
        st, err = await api.req("POST", "/api/v1/namespaces/doomed/configmaps", cm("x"))
        assert st == 403 and err["details"]["causes"][0]["reason"] == "NamespaceTerminating"
        # The namespace controller's last step: empty spec.finalizers via /finalize.
        ns["spec"]["finalizers"] = []
        st, _ = await api.req("PUT", "/api/v1/namespaces/doomed/finalize", ns)
        assert st == 200
        assert (await api.req("GET", "/api/v1/namespaces/doomed"))[0] == 404
        st, err = await api.req("DELETE", "/api/v1/namespaces/kube-system")
        assert (
            st == 403
            and err["message"] == 'namespaces "kube-system" is forbidden: this namespace may not be deleted'
        )

    run(srv, t)


def test_deletecollection_by_label(srv: Server) -> None:
    async def t(api: Api) -> None:
        await mkns(api, "dc")
        for i in range(6):
            await api.req("POST", "/api/v1/namespaces/dc/configmaps", cm(f"c{i}", grp="a" if i < 4 else "b"))
        st, res = await api.req("DELETE", "/api/v1/namespaces/dc/configmaps", labelSelector="grp=a")
        assert st == 200 and res["kind"] == "ConfigMapList" and len(res["items"]) == 4
        st, left = await api.req("GET", "/api/v1/namespaces/dc/configmaps")
        assert sorted(i["metadata"]["name"] for i in left["items"]) == ["c4", "c5"]

    run(srv, t)


def test_pagination_serves_a_consistent_snapshot(srv: Server) -> None:
    async def t(api: Api) -> None:
        await mkns(api, "page")
        for i in range(7):
            await api.req("POST", "/api/v1/namespaces/page/configmaps", cm(f"c{i}"))
        st, p1 = await api.req("GET", "/api/v1/namespaces/page/configmaps", limit="3")
        assert len(p1["items"]) == 3 and p1["metadata"]["remainingItemCount"] == 4
        token = p1["metadata"]["continue"]
        # Changes after the first page do not leak into the later pages.
        await api.req("DELETE", "/api/v1/namespaces/page/configmaps/c5")
        await api.req("POST", "/api/v1/namespaces/page/configmaps", cm("c9"))
        names = [i["metadata"]["name"] for i in p1["items"]]
        while token:
            st, p = await api.req(
                "GET", "/api/v1/namespaces/page/configmaps", limit="3", **{"continue": token}
            )
            assert st == 200 and p["metadata"]["resourceVersion"] == p1["metadata"]["resourceVersion"]
            names += [i["metadata"]["name"] for i in p["items"]]
            token = p["metadata"].get("continue")
        assert names == [f"c{i}" for i in range(7)]
        st, err = await api.req(
            "GET",
            "/api/v1/namespaces/page/configmaps",
            limit="3",
            resourceVersion="1",
            **{"continue": p1["metadata"]["continue"]},
        )
        assert st == 400 and "not allowed when using continue" in err["message"]
        # ListOptions validation errors are 422 Invalid (kube-apiserver's ValidateListOptions).
        st, err = await api.req("GET", "/api/v1/namespaces/page/configmaps", resourceVersionMatch="Exact")
        assert st == 422 and err["details"]["kind"] == "ListOptions"
        assert "resourceVersionMatch is forbidden unless resourceVersion is provided" in err["message"]

    run(srv, t)


def test_watch_selector_transitions_bookmarks_and_timeout(srv: Server) -> None:
    async def t(api: Api) -> None:
        await mkns(api, "w")
        _st, lst = await api.req("GET", "/api/v1/namespaces/w/configmaps")
        rv = lst["metadata"]["resourceVersion"]
        resp = await api.watch(
            "/api/v1/namespaces/w/configmaps",
            resourceVersion=rv,
            labelSelector="sel=yes",
            timeoutSeconds="20",
        )
        assert resp.status == 200
        await api.req("POST", "/api/v1/namespaces/w/configmaps", cm("a", sel="no"))
        await api.req(
            "PATCH",
            "/api/v1/namespaces/w/configmaps/a",
            {"metadata": {"labels": {"sel": "yes"}}},
            "application/merge-patch+json",
        )
        await api.req(
            "PATCH", "/api/v1/namespaces/w/configmaps/a", {"data": {"k": "2"}}, "application/merge-patch+json"
        )
        await api.req(
            "PATCH",
            "/api/v1/namespaces/w/configmaps/a",
            {"metadata": {"labels": {"sel": "no"}}},
            "application/merge-patch+json",
        )
        evs = await read_events(resp, 3)
        assert [e["type"] for e in evs] == ["ADDED", "MODIFIED", "DELETED"]
        assert evs[1]["object"]["data"]["k"] == "2"
        resp.close()
        # timeoutSeconds ends the stream cleanly.
        resp = await api.watch(
            "/api/v1/namespaces/w/configmaps",
            resourceVersion=rv,
            timeoutSeconds="1",
            labelSelector="none=here",
        )
        async with asyncio.timeout(5):
            body = await resp.read()
        assert body == b""
        # Watch from "0" starts with the current state; a single-object watch by field selector.
        resp = await api.watch(
            "/api/v1/namespaces/w/configmaps", fieldSelector="metadata.name=a", timeoutSeconds="5"
        )
        evs = await read_events(resp, 1)
        assert evs[0]["type"] == "ADDED" and evs[0]["object"]["metadata"]["name"] == "a"
        resp.close()
        # Watch-list: initial events, then a bookmark marking their end.
        resp = await api.watch(
            "/api/v1/namespaces/w/configmaps",
            sendInitialEvents="true",
            resourceVersionMatch="NotOlderThan",
            allowWatchBookmarks="true",
            timeoutSeconds="5",
        )
        evs = await read_events(resp, 2)
        assert evs[0]["type"] == "ADDED" and evs[1]["type"] == "BOOKMARK"
        assert evs[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true"
        resp.close()

    run(srv, t)


def test_watch_and_continue_from_compacted_revision_get_410(tmp_path: Path) -> None:
    server = Server(tmp_path / "compact", args=["--compaction-interval", "1"]).start()
    try:

        async def t(api: Api) -> None:
            await mkns(api, "hot")
            for i in range(3):
                await api.req("POST", "/api/v1/namespaces/hot/configmaps", cm(f"p{i}"))
            _, page = await api.req("GET", "/api/v1/namespaces/hot/configmaps", limit="1")
            token = page["metadata"]["continue"]
            _, c = await api.req("POST", "/api/v1/namespaces/hot/configmaps", cm("c"))
            first = c["metadata"]["resourceVersion"]
            for i in range(1100):
                await api.req(
                    "PATCH",
                    "/api/v1/namespaces/hot/configmaps/c",
                    {"data": {"n": str(i)}},
                    "application/merge-patch+json",
                )

            # Compaction runs every second, to the revision seen a second earlier, never within the
            # last 1000 revisions: wait until the first revision is gone (an exact list of it is 410).
            async def compacted() -> bool:
                st, _ = await api.req(
                    "GET",
                    "/api/v1/namespaces/hot/configmaps",
                    resourceVersion=first,
                    resourceVersionMatch="Exact",
                )
                assert st in (200, 410), st
                return st == 410

            deadline = asyncio.get_running_loop().time() + 10
            while not await compacted():
                assert asyncio.get_running_loop().time() < deadline, f"revision {first} was not compacted"
                await asyncio.sleep(0.1)
            resp = await api.watch(
                "/api/v1/namespaces/hot/configmaps", resourceVersion=first, timeoutSeconds="5"
            )
            assert resp.status == 200
            evs = await read_events(resp, 1)
            assert evs[0]["type"] == "ERROR"
            assert evs[0]["object"]["code"] == 410 and evs[0]["object"]["reason"] == "Expired"
            assert evs[0]["object"]["message"].startswith(f"too old resource version: {first} (")
            resp.close()
            st, err = await api.req(
                "GET", "/api/v1/namespaces/hot/configmaps", limit="1", **{"continue": token}
            )
            assert st == 410 and err["reason"] == "Expired"
            # The newest state is intact, and recent history still replays.
            st, live = await api.req("GET", "/api/v1/namespaces/hot/configmaps/c")
            assert live["data"]["n"] == "1099"
            recent = str(int(live["metadata"]["resourceVersion"]) - 3)
            resp = await api.watch(
                "/api/v1/namespaces/hot/configmaps", resourceVersion=recent, timeoutSeconds="5"
            )
            evs = await read_events(resp, 3)
            assert [e["object"]["data"]["n"] for e in evs] == ["1097", "1098", "1099"]
            resp.close()

        run(server, t)
    finally:
        server.stop()


def test_json_patch_and_strategic_merge_patch(srv: Server) -> None:
    async def t(api: Api) -> None:
        await mkns(api, "patches")
        dep = {
            "metadata": {"name": "d"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [{"name": "c1", "image": "i:1"}, {"name": "c2", "image": "j:1"}]},
                },
            },
        }
        st, _ = await api.req("POST", "/apis/apps/v1/namespaces/patches/deployments", dep)
        assert st == 201
        # Strategic merge: containers merge by name, the other container is kept.
        st, obj = await api.req(
            "PATCH",
            "/apis/apps/v1/namespaces/patches/deployments/d",
            {"spec": {"template": {"spec": {"containers": [{"name": "c2", "image": "j:2"}]}}}},
            "application/strategic-merge-patch+json",
        )
        assert st == 200
        assert [(c["name"], c["image"]) for c in obj["spec"]["template"]["spec"]["containers"]] == [
            ("c1", "i:1"),
            ("c2", "j:2"),
        ]
        # JSON patch, with a test that passes and one that fails (422, nothing written).
        rv = obj["metadata"]["resourceVersion"]
        st, obj = await api.req(
            "PATCH",
            "/apis/apps/v1/namespaces/patches/deployments/d",
            [
                {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
                {"op": "replace", "path": "/spec/replicas", "value": 4},
            ],
            "application/json-patch+json",
        )
        assert st == 200 and obj["spec"]["replicas"] == 4
        st, err = await api.req(
            "PATCH",
            "/apis/apps/v1/namespaces/patches/deployments/d",
            [
                {"op": "test", "path": "/spec/replicas", "value": 9},
                {"op": "replace", "path": "/spec/replicas", "value": 1},
            ],
            "application/json-patch+json",
        )
        assert st == 422 and err["reason"] == "Invalid"
        st, live = await api.req("GET", "/apis/apps/v1/namespaces/patches/deployments/d")
        assert live["spec"]["replicas"] == 4
        # A patch carrying a stale resourceVersion is a conflict.
        st, err = await api.req(
            "PATCH",
            "/apis/apps/v1/namespaces/patches/deployments/d",
            {"metadata": {"resourceVersion": rv}, "spec": {"replicas": 2}},
            "application/strategic-merge-patch+json",
        )
        assert st == 409 and err["reason"] == "Conflict"

    run(srv, t)
