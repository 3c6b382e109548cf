"""vcluster.client against our real API server: CRUD, errors, pagination, watches, credentials."""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from aiohttp import web

from tests.integration.conftest import Server
from vcluster.client import ApiError, Client, ConnectionFailed

pytestmark = pytest.mark.integration

Main = Callable[[Client], Awaitable[None]]


def run_with(server: Server, main: Main) -> None:
    async def wrapper() -> None:
        async with await Client.from_kubeconfig(server.kubeconfig, user_agent="client-test") as c:
            await asyncio.wait_for(main(c), 30)

    asyncio.run(wrapper())


async def make_ns(c: Client, name: str) -> str:
    await c.create("v1", "namespaces", {"metadata": {"name": name}})
    return name


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_crud_and_error_fields(module_server: Server) -> None:
    async def main(c: Client) -> None:
        ns = await make_ns(c, "crud")
        created = await c.create("v1", "configmaps", cm("a", x="1"), ns)
        assert created["metadata"]["namespace"] == ns and created["metadata"]["uid"]
        # The namespace may also come from the object itself.
        other = await c.create("v1", "configmaps", {**cm("b"), "metadata": {"name": "b", "namespace": ns}})
        assert other["metadata"]["namespace"] == ns

        got = await c.get("v1", "configmaps", "a", ns)
        assert got["data"] == {"x": "1"}

        # 404 carries the Status fields.
        with pytest.raises(ApiError) as ei:
            await c.get("v1", "configmaps", "missing", ns)
        e = ei.value
        assert (e.status, e.reason, e.not_found) == (404, "NotFound", True)
        assert e.message == 'configmaps "missing" not found'
        assert e.body["kind"] == "Status" and e.body["details"]["name"] == "missing"

        # 409 AlreadyExists vs 409 Conflict.
        with pytest.raises(ApiError) as ei:
            await c.create("v1", "configmaps", cm("a"), ns)
        assert ei.value.already_exists and not ei.value.conflict and ei.value.status == 409

        got["data"]["x"] = "2"
        updated = await c.update("v1", "configmaps", got)
        assert updated["data"] == {"x": "2"}
        assert updated["metadata"]["resourceVersion"] != got["metadata"]["resourceVersion"]
        with pytest.raises(ApiError) as ei:
            await c.update("v1", "configmaps", got)  # stale resourceVersion
        assert ei.value.conflict and ei.value.reason == "Conflict" and not ei.value.already_exists

        # 422 Invalid.
        with pytest.raises(ApiError) as ei:
            await c.create("v1", "configmaps", cm("Bad_Name"), ns)
        assert ei.value.invalid and ei.value.status == 422

        # Patches of every kind.
        p = await c.patch("v1", "configmaps", "a", {"data": {"y": "3"}}, ns)
        assert p["data"] == {"x": "2", "y": "3"}
        p = await c.patch(
            "v1", "configmaps", "a", [{"op": "remove", "path": "/data/x"}], ns, patch_type="json"
        )
        assert p["data"] == {"y": "3"}
        p = await c.patch(
            "v1", "configmaps", "a", {"metadata": {"labels": {"l": "v"}}}, ns, patch_type="strategic"
        )
        assert p["metadata"]["labels"] == {"l": "v"}
        applied = await c.patch(
            "v1",
            "configmaps",
            "applied",
            {**cm("applied", k="v")},
            ns,
            patch_type="apply",
            field_manager="me",
        )
        assert applied["data"] == {"k": "v"}
        assert any(
            f["manager"] == "me" and f["operation"] == "Apply" for f in applied["metadata"]["managedFields"]
        )
        with pytest.raises(ValueError):
            await c.patch("v1", "configmaps", "a", {}, ns, patch_type="bogus")

        # Dry run does not persist.
        dry = await c.create("v1", "configmaps", cm("dry"), ns, dry_run=True)
        assert dry["metadata"]["name"] == "dry"
        with pytest.raises(ApiError) as ei:
            await c.get("v1", "configmaps", "dry", ns)
        assert ei.value.not_found

        # Delete with a failing precondition, then for real; deleting again is a 404.
        with pytest.raises(ApiError) as ei:
            await c.delete("v1", "configmaps", "a", ns, preconditions={"uid": "not-the-uid"})
        assert ei.value.conflict
        res = await c.delete("v1", "configmaps", "a", ns, grace_period_seconds=0)
        assert res is not None
        with pytest.raises(ApiError) as ei:
            await c.delete("v1", "configmaps", "a", ns)
        assert ei.value.not_found

        # Cluster-scoped objects, names that need quoting.
        role = await c.create(
            "rbac.authorization.k8s.io/v1",
            "clusterroles",
            {"metadata": {"name": "test:client role"}, "rules": []},
        )
        assert role["metadata"]["name"] == "test:client role"
        got_role = await c.get("rbac.authorization.k8s.io/v1", "clusterroles", "test:client role")
        assert got_role["metadata"]["uid"] == role["metadata"]["uid"]
        await c.delete("rbac.authorization.k8s.io/v1", "clusterroles", "test:client role")

        # Collection delete by label.
        for i in range(3):
            await c.create(
                "v1",
                "configmaps",
                {**cm(f"del-{i}"), "metadata": {"name": f"del-{i}", "labels": {"g": "x"}}},
                ns,
            )
        await c.delete_collection("v1", "configmaps", ns, label_selector={"g": "x"})
        page = await c.list("v1", "configmaps", ns, label_selector="g=x")
        assert page["items"] == []

    run_with(module_server, main)


def test_subresources(module_server: Server) -> None:
    async def main(c: Client) -> None:
        ns = await make_ns(c, "subres")
        dep = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        }
        await c.create("apps/v1", "deployments", dep, ns)
        st = await c.patch(
            "apps/v1",
            "deployments",
            "web",
            {"status": {"observedGeneration": 1, "replicas": 2}},
            ns,
            subresource="status",
        )
        assert st["status"]["replicas"] == 2
        scale = await c.get("apps/v1", "deployments", "web", ns, subresource="scale")
        assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 2
        scale["spec"]["replicas"] = 5
        await c.update("apps/v1", "deployments", scale, ns, subresource="scale")
        assert (await c.get("apps/v1", "deployments", "web", ns))["spec"]["replicas"] == 5

    run_with(module_server, main)


def test_with_user_agent_writes_as_another_manager_on_the_same_session(module_server: Server) -> None:
    async def main(c: Client) -> None:
        ns = await make_ns(c, "agents")
        other = c.with_user_agent("kube-scheduler")
        await other.create("v1", "configmaps", cm("by-other", x="1"), ns)
        await c.create("v1", "configmaps", cm("by-main", x="1"), ns)
        await other.patch("v1", "configmaps", "applied", cm("applied", x="1"), ns, patch_type="apply")
        managers = {
            name: [
                e["manager"] for e in (await c.get("v1", "configmaps", name, ns))["metadata"]["managedFields"]
            ]
            for name in ("by-other", "by-main", "applied")
        }
        assert managers == {
            "by-other": ["kube-scheduler"],
            "by-main": ["client-test"],
            "applied": ["kube-scheduler"],
        }
        assert other.session is c.session
        await other.close()  # the original owns the session: it stays usable
        assert not c.session.closed
        assert (await c.get("v1", "configmaps", "by-main", ns))["data"] == {"x": "1"}

    run_with(module_server, main)


def test_list_pagination_and_selectors(module_server: Server) -> None:
    async def main(c: Client) -> None:
        ns = await make_ns(c, "paging")
        await asyncio.gather(
            *(
                c.create(
                    "v1",
                    "configmaps",
                    {
                        **cm(f"cm-{i:03d}"),
                        "metadata": {"name": f"cm-{i:03d}", "labels": {"even": str(i % 2 == 0)}},
                    },
                    ns,
                )
                for i in range(23)
            )
        )
        first = await c.list("v1", "configmaps", ns, limit=5)
        assert len(first["items"]) == 5 and first["metadata"]["continue"]
        second = await c.list("v1", "configmaps", ns, limit=5, continue_=first["metadata"]["continue"])
        assert {i["metadata"]["name"] for i in first["items"]}.isdisjoint(
            i["metadata"]["name"] for i in second["items"]
        )

        items, rv = await c.list_all("v1", "configmaps", ns, page_size=4)
        names = sorted(i["metadata"]["name"] for i in items)
        assert names == [f"cm-{i:03d}" for i in range(23)]
        assert rv and int(rv) > 0
        assert all(i["kind"] == "ConfigMap" and i["apiVersion"] == "v1" for i in items)

        even, _ = await c.list_all("v1", "configmaps", ns, label_selector={"even": "True"}, page_size=3)
        assert len(even) == 12
        one, _ = await c.list_all("v1", "configmaps", ns, field_selector="metadata.name=cm-007")
        assert [i["metadata"]["name"] for i in one] == ["cm-007"]

        # Across namespaces (cluster scope) the namespace's objects are all there too.
        everywhere, _ = await c.list_all("v1", "configmaps", page_size=7)
        assert sum(1 for i in everywhere if i["metadata"]["namespace"] == ns) == 23

        with pytest.raises(ApiError) as ei:
            await c.list("v1", "configmaps", ns, label_selector="a in (")
        assert ei.value.bad_request

    run_with(module_server, main)


def test_watch_event_types_and_bookmark(module_server: Server) -> None:
    async def main(c: Client) -> None:
        ns = await make_ns(c, "watching")
        _, rv = await c.list_all("v1", "configmaps", ns)
        events: list[tuple[str, str, str]] = []

        async def consume() -> None:
            async for etype, obj in c.watch("v1", "configmaps", ns, resource_version=rv, timeout_seconds=20):
                events.append((etype, obj["metadata"]["name"], obj["metadata"]["resourceVersion"]))
                if etype == "DELETED":
                    return

        task = asyncio.create_task(consume())
        await c.create("v1", "configmaps", cm("w", a="1"), ns)
        await c.patch("v1", "configmaps", "w", {"data": {"a": "2"}}, ns)
        deleted = await c.delete("v1", "configmaps", "w", ns)
        await asyncio.wait_for(task, 10)
        assert [(t, n) for t, n, _ in events] == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
        rvs = [int(r) for _, _, r in events]
        assert rvs == sorted(rvs) and len(set(rvs)) == 3
        assert deleted is not None

        # WatchList: initial objects as ADDED, then a BOOKMARK marking the end of the initial events.
        await c.create("v1", "configmaps", cm("w2"), ns)
        seen: list[tuple[str, dict[str, Any]]] = []
        async for etype, obj in c.watch("v1", "configmaps", ns, send_initial_events=True, timeout_seconds=10):
            seen.append((etype, obj))
            if etype == "BOOKMARK":
                break
        assert [t for t, _ in seen] == ["ADDED", "BOOKMARK"]
        assert seen[0][1]["metadata"]["name"] == "w2"
        bm = seen[1][1]["metadata"]
        assert bm["annotations"]["k8s.io/initial-events-end"] == "true" and int(bm["resourceVersion"]) > 0

        # A watch that times out on the server side just ends.
        n = 0
        async for _ in c.watch(
            "v1", "configmaps", ns, resource_version=bm["resourceVersion"], timeout_seconds=1
        ):
            n += 1
        assert n == 0

    run_with(module_server, main)


def test_large_watch_event_over_one_mebibyte_line() -> None:
    """A real streaming HTTP server sends a 5 MiB watch line in 1 KiB pieces."""
    big = {
        "type": "ADDED",
        "object": {"metadata": {"name": "big", "resourceVersion": "7"}, "data": "x" * (5 << 20)},
    }
    small = {"type": "MODIFIED", "object": {"metadata": {"name": "small", "resourceVersion": "8"}}}
    error = {
        "type": "ERROR",
        "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"},
    }

    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.query["watch"] == "true" and request.query["allowWatchBookmarks"] == "true"
        assert request.headers["Accept"] == "application/json"
        assert request.headers["User-Agent"].startswith("client-test/")
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        data = orjson.dumps(big) + b"\n" + orjson.dumps(small) + b"\n\n" + orjson.dumps(error) + b"\n"
        for i in range(0, len(data), 1024):
            await resp.write(data[i : i + 1024])
        await resp.write_eof()
        return resp

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/api/v1/namespaces/x/configmaps", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with Client(f"http://127.0.0.1:{port}", user_agent="client-test") as c:
                got: list[tuple[str, dict[str, Any]]] = []
                with pytest.raises(ApiError) as ei:
                    async for ev in c.watch("v1", "configmaps", "x", resource_version="1"):
                        got.append(ev)
                assert [t for t, _ in got] == ["ADDED", "MODIFIED"]
                assert len(got[0][1]["data"]) == 5 << 20
                assert ei.value.gone and ei.value.reason == "Expired" and ei.value.message == "too old"
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_raw_request_and_stream(module_server: Server) -> None:
    async def main(c: Client) -> None:
        status, headers, body = await c.request("GET", "/version")
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        assert "gitVersion" in orjson.loads(body)
        status, _, body = await c.request("GET", "/api/v1/namespaces/nope-nope")
        assert status == 404 and orjson.loads(body)["reason"] == "NotFound"
        status, _, body = await c.request("POST", "/api/v1/namespaces", json={"metadata": {"name": "raw-ns"}})
        assert status == 201
        async with c.stream("GET", "/api/v1/namespaces/raw-ns") as resp:
            assert resp.status == 200
            assert orjson.loads(await resp.read())["metadata"]["name"] == "raw-ns"
        with pytest.raises(ApiError) as ei:
            async with c.stream("GET", "/api/v1/namespaces/not-there"):
                pass
        assert ei.value.not_found

    run_with(module_server, main)


def test_connection_failures_raise_connection_failed(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there

    async def main() -> None:
        async with Client(f"https://127.0.0.1:{port}", ssl=False) as c:
            with pytest.raises(ConnectionFailed) as ei:
                await c.get("v1", "namespaces", "default")
            assert ei.value.status == 0 and isinstance(ei.value, OSError)
            with pytest.raises(ConnectionFailed):
                async for _ in c.watch("v1", "pods", resource_version="1"):
                    pass

    asyncio.run(main())


def _kubeconfig(path: Path, server: str, cluster: dict[str, Any], user: dict[str, Any]) -> Path:
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, **cluster}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


async def _whoami(path: Path) -> str:
    async with await Client.from_kubeconfig(path) as c:
        review = await c.create(
            "authentication.k8s.io/v1",
            "selfsubjectreviews",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        return review["status"]["userInfo"]["username"]


def test_credentials_client_cert_token_file_basic_and_tls(module_server: Server, tmp_path: Path) -> None:
    pki = module_server.data_dir / "pki"
    url = module_server.url

    # Client certificate (files relative to the kubeconfig) and a CA file: the admin identity.
    (tmp_path / "ca.crt").write_bytes((pki / "ca.crt").read_bytes())
    (tmp_path / "admin.crt").write_bytes((pki / "admin.crt").read_bytes())
    (tmp_path / "admin.key").write_bytes((pki / "admin.key").read_bytes())
    cert_kc = _kubeconfig(
        tmp_path / "cert.yaml",
        url,
        {"certificate-authority": "ca.crt"},
        {"client-certificate": "admin.crt", "client-key": "admin.key"},
    )
    assert asyncio.run(_whoami(cert_kc)) == "kubernetes-admin"

    # Embedded certificate data.
    data_kc = _kubeconfig(
        tmp_path / "data.yaml",
        url,
        {"certificate-authority-data": base64.b64encode((pki / "ca.crt").read_bytes()).decode()},
        {
            "client-certificate-data": base64.b64encode((pki / "admin.crt").read_bytes()).decode(),
            "client-key-data": base64.b64encode((pki / "admin.key").read_bytes()).decode(),
        },
    )
    assert asyncio.run(_whoami(data_kc)) == "kubernetes-admin"

    # Token file + insecure-skip-tls-verify.
    (tmp_path / "token").write_text(module_server.token + "\n")
    tok_kc = _kubeconfig(
        tmp_path / "tok.yaml", url, {"insecure-skip-tls-verify": True}, {"tokenFile": "token"}
    )
    assert asyncio.run(_whoami(tok_kc)) != "system:anonymous"

    # Basic auth is sent; kube 1.32 has no basic authenticator, so the request is anonymous and
    # RBAC refuses it (only system:authenticated may create selfsubjectreviews).
    basic_kc = _kubeconfig(
        tmp_path / "basic.yaml", url, {"certificate-authority": "ca.crt"}, {"username": "u", "password": "p"}
    )
    with pytest.raises(ApiError) as ei:
        asyncio.run(_whoami(basic_kc))
    assert ei.value.forbidden and "system:anonymous" in str(ei.value)

    # No CA and no insecure flag: the self-signed serving certificate is rejected.
    untrusted = _kubeconfig(tmp_path / "untrusted.yaml", url, {}, {"token": module_server.token})
    with pytest.raises(ConnectionFailed) as ei2:
        asyncio.run(_whoami(untrusted))
    assert "certificate" in str(ei2.value).lower()

    # Direct construction with an explicit SSL context and token.
    async def direct() -> None:
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        async with Client(url, ssl=ctx, token=module_server.token) as c:
            ns = await c.get("v1", "namespaces", "default")
            assert ns["metadata"]["name"] == "default"
        async with Client(url, ssl=ctx, token="wrong") as c:
            with pytest.raises(ApiError) as ei:
                await c.get("v1", "namespaces", "default")
            assert ei.value.unauthorized

    asyncio.run(direct())
