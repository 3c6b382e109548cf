"""A trivial aiohttp HTTPS server: the framework's ceiling on this machine, measured with kbench.

It speaks just enough of the Kubernetes REST shape for every kbench phase to run, and does
nothing an API server has to do (no authentication, admission, validation, storage,
resourceVersions, per-watcher filtering or encoding):

  GET  /version                     fixed JSON
  GET  .../configmaps               a pre-serialized list of --list-items 1 KiB ConfigMaps
                                    (limit/continue paging by offset)
  GET  ...?watch=true               chunked stream; every later POST under the same path is
                                    sent to it as one ADDED line (encoded once for all watchers,
                                    written after the POST's response)
  GET  anything else                a fixed 1 KiB JSON object
  POST anything                     201, echoes the request body
  DELETE anything                   200, fixed small JSON

Usage: python bench/baseline_server.py [--port 0] [--dir DIR]
Prints "baseline ready at https://127.0.0.1:PORT; ca DIR/ca.crt" on stdout; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from pathlib import Path

import orjson
from aiohttp import web

from vcluster.apiserver.certs import ensure_pki, server_ssl_context

PAYLOAD = "x" * 1024


def cm(i: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"cm-{i:05d}", "namespace": "baseline", "labels": {"app": "kbench"}},
        "data": {"payload": PAYLOAD},
    }


def build_app(list_items: int) -> web.Application:
    fixed = orjson.dumps(cm(0))
    version = orjson.dumps({"major": "1", "minor": "32", "gitVersion": "baseline-aiohttp"})
    items = [cm(i) for i in range(list_items)]
    pages: dict[tuple[int, int], bytes] = {}
    watchers: dict[str, set[web.StreamResponse]] = {}

    def list_body(offset: int, limit: int) -> bytes:
        """Pre-serialized (and cached) list page, so a LIST costs only the transfer."""
        key = (offset, limit)
        if key not in pages:
            end = min(len(items), offset + limit) if limit else len(items)
            meta = {"resourceVersion": "1"}
            if end < len(items):
                meta["continue"] = str(end)
            pages[key] = orjson.dumps(
                {"apiVersion": "v1", "kind": "ConfigMapList", "metadata": meta, "items": items[offset:end]}
            )
        return pages[key]

    tasks: set[asyncio.Future] = set()

    async def fanout(ws: set[web.StreamResponse], line: bytes) -> None:
        for w in tuple(ws):
            try:
                await w.write(line)
            except (ConnectionError, RuntimeError):
                ws.discard(w)

    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path
        if request.method == "GET":
            if path == "/version":
                return web.Response(body=version, content_type="application/json")
            if request.query.get("watch") in ("true", "1"):
                resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
                resp.enable_chunked_encoding()
                await resp.prepare(request)
                watchers.setdefault(path, set()).add(resp)
                try:
                    while (t := request.transport) is not None and not t.is_closing():
                        await asyncio.sleep(1)
                finally:
                    watchers[path].discard(resp)
                return resp
            if path.endswith("/configmaps"):
                limit = int(request.query.get("limit", "0") or 0)
                offset = int(request.query.get("continue", "0") or 0)
                return web.Response(body=list_body(offset, limit), content_type="application/json")
            if path == "/api/v1/namespaces":
                return web.Response(
                    body=b'{"kind":"NamespaceList","apiVersion":"v1","items":[]}',
                    content_type="application/json",
                )
            return web.Response(body=fixed, content_type="application/json")
        if request.method == "POST":
            body = await request.read()
            ws = watchers.get(path)
            if ws:
                # like a real server: the event goes out after the write is acknowledged
                line = b'{"type":"ADDED","object":' + body + b"}\n"
                tasks.add(task := asyncio.ensure_future(fanout(ws, line)))
                task.add_done_callback(tasks.discard)
            return web.Response(status=201, body=body, content_type="application/json")
        if request.method == "DELETE":
            return web.Response(body=b'{"kind":"Status","status":"Success"}', content_type="application/json")
        return web.Response(status=405)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def main_async(a: argparse.Namespace) -> None:
    d = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="kbench-baseline-"))
    d.mkdir(parents=True, exist_ok=True)
    # The same PKI and TLS settings as the vcluster API server, so the comparison is like for like.
    pki = ensure_pki(d / "pki", ["127.0.0.1"])
    ctx = server_ssl_context(pki)
    crt = pki.ca_cert
    runner = web.AppRunner(build_app(a.list_items), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", a.port, ssl_context=ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"baseline ready at https://127.0.0.1:{port}; ca {crt}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--dir", default=None, help="where to write the certificate (default: a temp dir)")
    p.add_argument("--list-items", type=int, default=2000)
    a = p.parse_args()
    try:
        import uvloop

        uvloop.run(main_async(a))
    except ImportError:
        asyncio.run(main_async(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
