"""The API server process: TLS listener, authentication, routing to discovery and REST handlers."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from yarl import URL

from vcluster.apiserver import (
    apf,
    audit,
    createonupdate,
    fieldmanager,
    health,
    podsecurityadmission,
    strategy,
    subresources,
    views,
)
from vcluster.apiserver.aggregator import Aggregator
from vcluster.apiserver.aggregatorloops import AggregatorLoops
from vcluster.apiserver.apiservices import APIService
from vcluster.apiserver.auditoptions import AuditOptions
from vcluster.apiserver.auth import Authenticator, UserInfo
from vcluster.apiserver.authapi import AuthAPI
from vcluster.apiserver.bootstrap import DEFAULT_SERVICE_CIDR, ensure_bootstrap_objects
from vcluster.apiserver.certs import PKI, ensure_pki, kubelet_client_ssl_context, server_ssl_context
from vcluster.apiserver.crd import CRD_RESOURCE_TYPE
from vcluster.apiserver.customresources import CustomResources
from vcluster.apiserver.datadir import DataDirError, DataDirLock
from vcluster.apiserver.discovery import Discovery, wants_aggregated
from vcluster.apiserver.errors import (
    StatusError,
    conflict,
    internal_error,
    method_not_allowed,
    route_not_found,
)
from vcluster.apiserver.kubeconfig import admin_kubeconfig, write_kubeconfig
from vcluster.apiserver.local import LocalRequest, LocalStream, LocalWatch
from vcluster.apiserver.openapi import OpenAPI
from vcluster.apiserver.pipeline import record_update
from vcluster.apiserver.rbac_authorizer import (
    MODE_ALWAYS_ALLOW,
    MODE_RBAC,
    Authorizer,
    Decision,
    new_authorizer,
)
from vcluster.apiserver.rbac_escalation import REQUEST_AUTH, RequestAuth
from vcluster.apiserver.rbac_index import RBAC_GROUP, RBAC_PLURALS, RBACIndex
from vcluster.apiserver.rbac_request import forbidden, impersonate, path_attributes, resource_attributes
from vcluster.apiserver.request import (
    APPLY_PATCH,
    RequestInfo,
    decode_object,
    decode_yaml_any,
    dry_run,
    media_type,
    parse_accept,
    parse_resource_path,
    query_bool,
    read_body,
)
from vcluster.apiserver.requestheader import (
    FrontProxy,
    RequestHeaderOptions,
    load_front_proxy,
    parse_ca_bundle,
)
from vcluster.apiserver.resources import BUILTIN_RESOURCES, VIRTUAL_KINDS, Registry
from vcluster.apiserver.rest import (
    Rest,
    _patch_step,
    check_name,
    object_key,
    parse_rv,
    require_verb,
    take_url_name,
    with_warnings,
    write_context,
)
from vcluster.apiserver.satoken import TokenIssuer
from vcluster.apiserver.watchstream import WatchRequest, serve_watch
from vcluster.apiserver.webhookadmission import REQUEST_STATE as WEBHOOK_REQUEST
from vcluster.apiserver.webhookadmission import RequestState as WebhookRequest
from vcluster.apiserver.webhookadmission import WebhookAdmission
from vcluster.apiserver.webhookadmission import add_warnings as add_webhook_warnings
from vcluster.podsecurity.config import PodSecurityConfiguration
from vcluster.store.factory import open_store

log = logging.getLogger("vcluster.apiserver")

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "59526cd4867447956156ae3a602fcbac5eec6ff4",
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T16:00:00Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}


class ListenError(OSError):
    """The API server's address cannot be bound (in use, not local, not permitted)."""


_UNAUTHORIZED = StatusError(401, "Unauthorized", "Unauthorized", {})


@dataclass
class ServerConfig:
    data_dir: Path
    bind: str = "127.0.0.1"
    port: int = 6443
    kubeconfig: Path | None = None
    service_cidr: str = DEFAULT_SERVICE_CIDR
    extra_hosts: list[str] = field(default_factory=list)
    compact_interval: float = 300.0
    # --datastore: a PostgreSQL data source for the kine table or an etcd endpoint (http(s)://HOST:PORT);
    # None keeps SQLite in DATA_DIR/state.db
    datastore: str | None = None
    # etcd's TLS files by vcluster.yaml key (caFile, certFile, keyFile): --etcd-cafile/certfile/keyfile
    datastore_tls: dict[str, str] = field(default_factory=dict)
    # Assign Service ClusterIPs and NodePorts (off in a virtual cluster: the host assigns them).
    allocate_service_ips: bool = True
    node_port_range: str = "30000-32767"
    # --authorization-mode: RBAC (kube's Node,RBAC minus Node) or AlwaysAllow
    authorization_mode: str = MODE_RBAC
    # --enable-aggregator-routing: aggregated APIServices reach an endpoint address, not the ClusterIP
    enable_aggregator_routing: bool = False
    # --requestheader-* / --proxy-client-*: the front proxy (files unset: the data dir's pki/front-proxy-*)
    requestheader: RequestHeaderOptions = field(default_factory=RequestHeaderOptions)
    # the PodSecurity plugin's configuration (--admission-control-config-file); None: upstream's defaults
    pod_security: PodSecurityConfiguration | None = None
    # --audit-policy-file, --audit-log-*: audit events (audit.py); None or no policy: none
    audit: AuditOptions | None = None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "apiserver_request_total",
            "API requests by verb, resource, subresource and code",
            ["verb", "resource", "subresource", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "apiserver_request_duration_seconds",
            "API request latency",
            ["verb", "resource"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
        )
        self.watchers = Gauge("apiserver_registered_watchers", "Open watches", registry=self.registry)
        self.objects = Gauge("apiserver_storage_objects", "Objects in storage", registry=self.registry)
        self.revision = Gauge(
            "apiserver_storage_revision", "Current storage revision", registry=self.registry
        )


class APIServer:
    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.data_dir = Path(cfg.data_dir)
        self.registry = Registry()
        self.registry.add(CRD_RESOURCE_TYPE)
        self.store = open_store(
            self.data_dir, cfg.datastore, tls_files=cfg.datastore_tls, compact_interval=cfg.compact_interval
        )
        self._lock = DataDirLock(self.data_dir)
        self.rest = Rest(self.store, self.registry)
        self.metrics = Metrics()
        # read at collection time, by /metrics here and by any other listener of the registry
        self.metrics.watchers.set_function(self.store.watch_count)
        self.metrics.objects.set_function(self.store.object_count)
        self.metrics.revision.set_function(lambda: self.store.revision)
        self.pki: PKI | None = None
        self.auth: Authenticator | None = None
        self.front_proxy: FrontProxy | None = None
        self.authapi: AuthAPI | None = None
        self.rbac = RBACIndex()  # the stored RBAC objects, for the authorizer
        # MutatingAdmissionWebhook / ValidatingAdmissionWebhook over the stored configurations
        self.webhooks = WebhookAdmission(self.store, self.registry)
        podsecurityadmission.configure(cfg.pod_security or PodSecurityConfiguration())
        self.authorizer: Authorizer = new_authorizer(cfg.authorization_mode, self.rbac)
        # kube-apiserver's --anonymous-auth (default true): requests without credentials act as
        # system:anonymous, which RBAC authorizes; AlwaysAllow turns it off, as kube-apiserver's
        # ApplyAuthorization does ("AnonymousAuth is not allowed with the AlwaysAllow authorizer").
        self.anonymous_auth = cfg.authorization_mode != MODE_ALWAYS_ALLOW
        self.crds: CustomResources | None = None
        self._socket_dir: Path | None = None
        self.unix_socket: Path | None = None
        self.discovery: Discovery | None = None
        # groups served by handlers of their own (metrics.k8s.io), by (group, version)
        self.api_services: dict[tuple[str, str], APIService] = {}
        self.fake_kubelet: Any = None  # a virtual cluster's syncer/engine/fakekubelet.FakeKubelet
        self.syncer_metrics: Any = None  # its registry view served at /metrics/syncer (spec 8.7)
        # kube-aggregator: APIServices, their proxy and loops (aggregator.py, aggregatorloops.py)
        self.aggregator = Aggregator(
            self.store, self.registry, self.webhooks, endpoint_routing=cfg.enable_aggregator_routing
        )
        self.aggregator_loops: AggregatorLoops | None = None
        # API Priority and Fairness: request classification (apf.py) and its loops (controllers/apfconfig.py)
        self.flowcontrol = apf.FlowControl()
        self.apf_loops: Any = None
        self.auditor: audit.Auditor | None = None
        self._runner: web.AppRunner | None = None
        self.port = cfg.port
        self.url = ""
        self.advertise_ip = ""  # the address of default/kubernetes' Endpoints

    @property
    def kubeconfig_path(self) -> Path:
        return self.cfg.kubeconfig or (self.data_dir / "kubeconfig")

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self.auditor = audit.Auditor.from_options(self.cfg.audit)  # AuditConfigError: a bad policy
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DataDirError(f"cannot create the data directory {self.data_dir}: {e.strerror}") from None
        self._lock.acquire()
        hosts = [h for h in [self.cfg.bind, *self.cfg.extra_hosts] if h]
        self.pki = await asyncio.to_thread(ensure_pki, self.data_dir / "pki", hosts)
        self.rest.kubelet_ssl = kubelet_client_ssl_context(self.pki)
        self.auth = Authenticator(self.data_dir / "tokens.csv")
        pki = self.pki
        try:
            self.front_proxy = fp = load_front_proxy(
                self.cfg.requestheader,
                pki.front_proxy_ca_cert,
                pki.front_proxy_client_cert,
                pki.front_proxy_client_key,
            )
            self.auth.configure_x509(parse_ca_bundle(pki.ca_pem, str(pki.ca_cert)), fp.authenticator)
        except ValueError as e:
            raise DataDirError(f"front-proxy (requestheader) setup: {e}") from None
        self.aggregator.proxy_client_cert = (fp.client_cert, fp.client_key)
        await self.store.start()
        await self.rbac.start(self.store, self._rbac_prefixes())
        await self.flowcontrol.start(self.store, *self._apf_prefixes())
        await self.webhooks.start()
        if self.cfg.allocate_service_ips:
            await self._load_service_allocator()
        issuer = TokenIssuer.from_files(self.pki.sa_key, self.pki.sa_pub)
        self.authapi = AuthAPI(self.store, self.registry, self.auth, issuer, self.authorizer)
        app = web.Application(client_max_size=4 * 1024 * 1024, handler_args={"max_field_size": 65536})
        app.router.add_route("*", r"/{tail:[\s\S]*}", self.dispatch)  # any path, newlines too
        app.on_response_prepare.append(apf.on_response_prepare)
        app.on_response_prepare.append(audit.on_response_prepare)
        # handler_cancellation: a client that goes away cancels its handler, so its watch is released at once.
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=2.0, handle_signals=False, handler_cancellation=True
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in self.cfg.bind else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.cfg.bind, self.cfg.port))
        except OSError as e:
            sock.close()
            raise ListenError(
                f"cannot listen on {self.cfg.bind}:{self.cfg.port}: {e.strerror or e}"
            ) from None
        self.port = sock.getsockname()[1]
        site = web.SockSite(
            self._runner, sock, ssl_context=server_ssl_context(self.pki, fp.ca_pem), backlog=1024
        )
        await site.start()
        # Plain HTTP on a Unix socket only this user can open, for the controllers and the syncer
        # of this process (the same authentication; no TLS on a loopback hop).
        # (in a fresh 0700 directory: socket paths are limited to 108 bytes, data dirs are not)
        self._socket_dir = Path(tempfile.mkdtemp(prefix="vcluster-"))
        self.unix_socket = self._socket_dir / "api.sock"
        old_umask = os.umask(0o077)
        try:
            await web.UnixSite(self._runner, str(self.unix_socket)).start()
        finally:
            os.umask(old_umask)
        host = self.cfg.bind if self.cfg.bind not in ("0.0.0.0", "::", "") else "127.0.0.1"
        self.url = f"https://{host if ':' not in host else f'[{host}]'}:{self.port}"
        self.webhooks.loopback = (host, self.port)  # a webhook Service default/kubernetes:443 is us
        self.discovery = Discovery(
            self.registry,
            f"{host}:{self.port}",
            extra=self._api_service_resources,
            remote=self.aggregator.remote_versions,
        )
        self.aggregator.on_change = self.discovery.invalidate
        self.aggregator.resolver.loopback = (host, self.port)
        await self.aggregator.start(self.store)
        self.openapi = OpenAPI(self.registry, version=VERSION_INFO["gitVersion"])
        self.crds = CustomResources(self.store, self.registry, self._custom_types_changed)
        await self.crds.start()
        self.aggregator_loops = AggregatorLoops(self, self.aggregator)
        self.advertise_ip = advertise = host if host != "localhost" else "127.0.0.1"
        await ensure_bootstrap_objects(
            self.store,
            self.registry,
            advertise_ip=advertise,
            port=self.port,
            service_cidr=self.cfg.service_cidr,
        )
        kc_path = self.kubeconfig_path
        write_kubeconfig(kc_path, admin_kubeconfig(self.url, self.pki.ca_pem, token=self.auth.admin_token))
        await self.aggregator_loops.start()
        from vcluster.controllers.apfconfig import start_loops

        self.apf_loops = await start_loops(self)
        log.info("API server listening on %s (data in %s, kubeconfig %s)", self.url, self.data_dir, kc_path)

    def _apf_prefixes(self) -> tuple[str, str]:
        fs = self.registry.get("flowcontrol.apiserver.k8s.io", "v1", "flowschemas")
        pl = self.registry.get("flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations")
        assert fs is not None and pl is not None
        return fs.key_prefix, pl.key_prefix

    def _rbac_prefixes(self) -> dict[str, str]:
        prefixes = {}
        for plural in RBAC_PLURALS:
            rt = self.registry.get(RBAC_GROUP, "v1", plural)
            assert rt is not None
            prefixes[plural] = rt.key_prefix
        return prefixes

    async def _load_service_allocator(self) -> None:
        """Rebuild the ClusterIP/NodePort bitmaps from the stored Services (the store is the truth)."""
        from vcluster.apiserver.ipalloc import ServiceIPAllocator

        alloc = ServiceIPAllocator(self.cfg.service_cidr, self.cfg.node_port_range)
        rt = self.registry.get("", "v1", "services")
        assert rt is not None
        res = await self.store.list(rt.key_prefix)
        alloc.load(e.decode() for e in res.entries)
        self.rest.service_ips = alloc

    def add_api_service(self, service: APIService) -> None:
        """Serve `service`'s group version (replacing one of the same) and list it in discovery."""
        self.api_services[(service.group, service.version)] = service
        if self.discovery is not None:
            self.discovery.invalidate()
        log.info("serving %s/%s (%s)", service.group, service.version, type(service).__name__)
        if self.aggregator_loops is not None:
            self.aggregator_loops.refresh()

    def remove_api_service(self, group: str, version: str) -> None:
        """Stop serving an API service's group version (requests get 404, discovery forgets it)."""
        if self.api_services.pop((group, version), None) is not None and self.discovery is not None:
            self.discovery.invalidate()
        if self.aggregator_loops is not None:
            self.aggregator_loops.refresh()

    def _api_service_resources(self) -> list[Any]:
        return [rt for svc in list(self.api_services.values()) for rt in svc.resources()]

    def _custom_types_changed(self, touched: set[tuple[str, str]], new: list[Any], old: list[Any]) -> None:
        """A CRD was installed, changed or removed: discovery and OpenAPI follow."""
        if self.discovery is not None:
            self.discovery.invalidate()
        if self.aggregator_loops is not None:
            self.aggregator_loops.refresh()
        for rt in old:
            if self.registry.get(rt.group, rt.version, rt.plural) is None:
                self.openapi.remove_schema(rt.group, rt.version, rt.kind)
        for rt in new:
            self.openapi.set_schema(rt.group, rt.version, rt.kind, rt.custom.schema.raw, plural=rt.plural)
        log.info("custom resources changed in %s", ", ".join(sorted(f"{g}/{v}" for g, v in touched)))

    async def stop(self) -> None:
        if self.apf_loops is not None:
            await self.apf_loops.stop()
        self.flowcontrol.stop()
        if self.aggregator_loops is not None:
            await self.aggregator_loops.stop()
        await self.aggregator.stop()
        if self.crds is not None:
            await self.crds.stop()
        self.rbac.stop()
        await self.webhooks.stop()
        self.store.close_watches()  # end open watch streams so the HTTP server can drain at once
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
        await self.store.close()
        if self.auditor is not None:
            await asyncio.to_thread(self.auditor.close)
            self.auditor = None
        self._lock.release()

    # ------------------------------------------------------------------ dispatch
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        t0 = time.perf_counter()
        code = 500
        # verb, resource, subresource: known once the path is parsed, so a refused request is
        # counted under its resource too
        labels = [request.method.lower(), "", ""]
        auth_token = REQUEST_AUTH.set(None)  # _dispatch sets the request's user for the pipeline
        hook_token = WEBHOOK_REQUEST.set(WebhookRequest(self.webhooks))  # webhooks' warnings land there
        apf_token = apf.REQUEST_CLASS.set(None)
        audit_id = audit.new_audit_id(request.headers)  # every answer has an Audit-ID header
        id_token, audit_token = audit.AUDIT_ID.set(audit_id), audit.CURRENT.set(None)
        out: web.StreamResponse | None = None
        failure: Exception | None = None
        try:
            resp, *labels = await self._dispatch(request, labels)
            code = resp.status
            if not resp.prepared:
                add_webhook_warnings(resp.headers)
                apf.add_headers(resp)
            out = resp
            return resp
        except StatusError as e:
            code = e.code
            out = resp = views.status_response(e)
            add_webhook_warnings(resp.headers)
            apf.add_headers(resp)
            return resp
        except web.HTTPException as e:  # aiohttp's own (e.g. body too large while reading)
            code = e.status
            if e.status == 413:
                from vcluster.apiserver.request import too_large

                out = views.status_response(too_large())
                return out
            out = views.status_response(StatusError(e.status, e.reason.replace(" ", ""), e.reason, {}))
            return out
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as e:  # a bug: answer 500 but keep serving
            log.exception("internal error on %s %s", request.method, request.path_qs)
            failure = e
            out = views.status_response(internal_error(str(e)))
            return out
        finally:
            if out is not None and not out.prepared:
                out.headers[audit.HEADER] = audit_id
            if (actx := audit.CURRENT.get()) is not None:
                _audit_finish(actx, out, failure)
            audit.CURRENT.reset(audit_token)
            audit.AUDIT_ID.reset(id_token)
            REQUEST_AUTH.reset(auth_token)
            WEBHOOK_REQUEST.reset(hook_token)
            apf.REQUEST_CLASS.reset(apf_token)
            verb, resource, sub = labels
            if verb != "watch":
                self.metrics.requests.labels(verb, resource, sub, str(code)).inc()
                self.metrics.latency.labels(verb, resource).observe(time.perf_counter() - t0)

    async def handle_local(
        self, method: str, url: URL, headers: Mapping[str, str], body: bytes, dup_free: bool = False
    ) -> tuple[int, CIMultiDictProxy[str], bytes]:
        """Answer an in-process request (see `local.py`) exactly as `dispatch` answers one from
        the network; a streaming answer is refused (the caller uses the Unix socket for those)."""
        resp = await self.dispatch(LocalRequest(method, url, headers, body, dup_free))  # type: ignore[arg-type]
        return _local_answer(resp, method, url)

    async def open_local_stream(
        self, method: str, url: URL, headers: Mapping[str, str]
    ) -> tuple[int, CIMultiDictProxy[str], bytes | LocalWatch]:
        """Start an in-process watch: (200, headers, LocalWatch) once it streams, or the answer
        given instead (an error, e.g. 403 or 410) as for `handle_local`."""
        stream = LocalStream()
        req = LocalRequest(method, url, headers, b"")
        req.stream = stream
        task = asyncio.create_task(self.dispatch(req))  # type: ignore[arg-type]
        prepared = asyncio.ensure_future(stream.prepared.wait())
        try:
            await asyncio.wait({task, prepared}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        finally:
            prepared.cancel()
        if stream.prepared.is_set():
            return (
                200,
                CIMultiDictProxy(CIMultiDict({"Content-Type": "application/json"})),
                LocalWatch(stream, task),
            )
        return _local_answer(task.result(), method, url)

    def _user(self, request: web.Request) -> UserInfo | None:
        assert self.auth is not None
        transport = request.transport
        peercert = transport.get_extra_info("peercert") if transport is not None else None
        tls = transport.get_extra_info("ssl_object") if peercert else None
        der = tls.getpeercert(binary_form=True) if tls is not None else None
        user = self.auth.authenticate(
            request.headers.get("Authorization"), peercert, peer_der=der, headers=request.headers
        )
        if user is not None and user.is_anonymous and not self.anonymous_auth:
            return None
        return user

    async def _dispatch(
        self, request: web.Request, labels: list[str]
    ) -> tuple[web.StreamResponse, str, str, str]:
        path = request.path
        user = self._user(request)
        if user is None:
            if self.auditor is not None:
                self._audit_unauthenticated(request)
            raise _UNAUTHORIZED
        info = parse_resource_path(path, request.method, request.query)
        if info is not None:
            attrs = resource_attributes(info, request.method, request.query)
        else:
            attrs = path_attributes(path, request.method)
        actx = None
        if self.auditor is not None:  # WithAudit runs after authentication, before impersonation
            version = info.version if info is not None else ""
            actx = self.auditor.begin(request, audit.AUDIT_ID.get(), user, attrs, version)
        authenticated = user
        user = impersonate(self.authorizer, user, request.headers)
        if actx is not None and user is not authenticated:
            actx.impersonating(user)
        apf.REQUEST_CLASS.set(self.flowcontrol.classify(user, info, path, request.method))
        if info is not None:
            labels[:] = [info.verb, info.resource, info.subresource or ""]
        # a virtual cluster's fake kubelet (spec 8.9): the Host header names a virtual node's kubelet
        kubelet = self.fake_kubelet.node_for(request.headers.get("Host")) if self.fake_kubelet else None
        if kubelet is not None and info is None:
            attrs = self.fake_kubelet.attributes(kubelet, path, request.method)
        if kubelet is not None and info is not None:  # its authorizer denies every resource request
            decision = Decision(False, "forbidden", denied=True)
        else:
            decision = self.authorizer.authorize(user, attrs)
        if actx is not None:
            actx.decision(decision.allowed, decision.reason)
        if not decision.allowed:
            raise forbidden(user, attrs, decision.reason)
        if kubelet is not None:
            return await self.fake_kubelet.serve(kubelet, request), "get", "nodes", "proxy"
        REQUEST_AUTH.set(RequestAuth(user, self.authorizer))
        # /version and the health paths are authorized too: system:public-info-viewer grants them to
        # everyone, anonymous included
        if path == "/version":
            _only_get(request)
            return views.respond(orjson.dumps(VERSION_INFO)), "get", "version", ""
        if health.is_health_path(path):
            return health.answer(path, request.query, lambda: self.store.unavailable), "get", "health", ""
        assert self.discovery is not None
        if path in ("/api", "/api/"):
            _only_get(request)
            return self._discovery_root(request, core=True), "get", "discovery", ""
        if path in ("/apis", "/apis/"):
            _only_get(request)
            return self._discovery_root(request, core=False), "get", "discovery", ""
        if path.startswith("/openapi/"):
            status, headers, body = self.openapi.handle(
                path, request.query, request.headers.get("Accept"), request.headers.get("If-None-Match")
            )
            body = b"" if request.method == "HEAD" else body
            resp = web.Response(status=status, headers=headers, body=body)
            return resp, "get", "openapi", ""
        if path == "/metrics" or (path == "/metrics/syncer" and self.syncer_metrics is not None):
            registry = self.metrics.registry if path == "/metrics" else self.syncer_metrics
            return (
                web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}),
                "get",
                "metrics",
                "",
            )
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) == 2:
            doc = self.discovery.resource_list("", parts[1])
            return self._discovery_doc(doc, request, ""), "get", "discovery", ""
        if parts[:1] == ["apis"] and len(parts) == 2:
            doc = self.discovery.api_group(parts[1])
            return self._discovery_doc(doc, request, parts[1]), "get", "discovery", ""
        remote = (
            self.aggregator.remote(parts[1], parts[2]) if parts[:1] == ["apis"] and len(parts) >= 3 else None
        )
        if remote is not None:  # a service-backed APIService: kube-aggregator's proxy
            watch = info is not None and info.verb == "watch"
            verb, resource = (info.verb, info.resource) if info is not None else ("get", "discovery")
            resp = await self.aggregator.proxy(request, remote, user, watch)
            return resp, verb, resource, (info.subresource or "") if info is not None else ""
        if parts[:1] == ["apis"] and len(parts) == 3:
            doc = self.discovery.resource_list(parts[1], parts[2])
            return self._discovery_doc(doc, request, parts[1]), "get", "discovery", ""
        if info is None:
            return page_not_found(), "get", "discovery", ""
        service = self.api_services.get((info.group, info.version)) if info.group else None
        if service is not None:
            return await service.handle(request, info), info.verb, info.resource, info.subresource or ""
        resp = await self._resource(request, info, user)
        return resp, info.verb, info.resource, info.subresource or ""

    def _audit_unauthenticated(self, request: web.Request) -> None:
        """WithFailedAuthenticationAudit: the policy evaluated without a user."""
        assert self.auditor is not None
        try:
            info = parse_resource_path(request.path, request.method, request.query)
        except StatusError:
            info = None
        if info is not None:
            attrs, version = resource_attributes(info, request.method, request.query), info.version
        else:
            attrs, version = path_attributes(request.path, request.method), ""
        self.auditor.failed_authentication(request, audit.AUDIT_ID.get(), attrs, version)

    def _discovery_root(self, request: web.Request, core: bool) -> web.Response:
        assert self.discovery is not None
        agg = wants_aggregated(request.headers.get("Accept"))
        if agg:
            body, etag = self.discovery.aggregated(core, agg)
            ct = f"application/json;g=apidiscovery.k8s.io;v={agg};as=APIGroupDiscoveryList"
        else:
            body, etag = self.discovery.api_versions() if core else self.discovery.api_groups()
            ct = "application/json"
        if request.headers.get("If-None-Match") == f'"{etag}"':
            return web.Response(status=304, headers={"ETag": f'"{etag}"', "Vary": "Accept"})
        return web.Response(body=body, headers={"Content-Type": ct, "ETag": f'"{etag}"', "Vary": "Accept"})

    @staticmethod
    def _discovery_doc(doc: tuple[bytes, str] | None, request: web.Request, group: str) -> web.Response:
        if doc is None:
            return not_found_in(group)
        _only_get(request)
        return views.respond(doc[0])

    async def _resource(self, request: web.Request, info: RequestInfo, user: UserInfo) -> web.StreamResponse:
        rt = self.registry.get(info.group, info.version, info.resource)
        if rt is None:
            return not_found_in(info.group)
        if request.method == "HEAD" and info.subresource != "proxy":
            raise method_not_allowed()  # go-restful matches methods exactly: no HEAD routes but proxies'
        verb = info.verb
        # Methods a path does not serve: POST to a named object, PUT/PATCH on a collection, writes to
        # the all-namespaces collection of a namespaced resource.
        if (
            (verb == "create" and info.name and not info.subresource)
            or (verb in ("update", "patch") and not info.name)
            or (rt.namespaced and not info.namespace and verb in ("create", "deletecollection"))
        ):
            raise method_not_allowed()
        if rt.namespaced and not info.namespace and verb not in ("list", "watch") and rt.kind != "Namespace":
            raise route_not_found()
        if not rt.namespaced and info.namespace and rt.kind != "Namespace":
            raise route_not_found()
        sub = info.subresource
        if sub:
            return await self._subresource(request, rt, info, user)
        accept = parse_accept(request.headers.get("Accept"))
        require_verb(rt, verb)
        if rt.kind in VIRTUAL_KINDS:
            if rt.kind == "Binding":
                return await subresources.binding(self.rest, rt, self._pods(), info, request)
            return await self.authapi.review(rt, info, request, user)
        if rt.storage_group is not None:
            return await self._converted(request, rt, info, accept)
        if verb == "get":
            return await self.rest.get(rt, info, accept, request.query)
        if verb == "list":
            return await self.rest.list(rt, info, accept, request.query)
        if verb == "watch":
            wr = WatchRequest(rt, info.namespace, request.query, accept)
            if rt.conversion is not None:
                wr.converter = rt.conversion.to_version
            return await serve_watch(self.store, wr, request)
        if verb == "create":
            return await self.rest.create(rt, info, request)
        if verb == "update":
            return await self.rest.update(rt, info, request)
        if verb == "patch":
            return await self.rest.patch(rt, info, request)
        if verb == "delete":
            return await self.rest.delete(rt, info, request)
        if verb == "deletecollection":
            return await self.rest.deletecollection(rt, info, request)
        raise method_not_allowed()

    def _pods(self) -> Any:
        rt = self.registry.get("", "v1", "pods")
        assert rt is not None
        return rt

    async def _subresource(
        self, request: web.Request, rt: Any, info: RequestInfo, user: UserInfo
    ) -> web.StreamResponse:
        sub = rt.subresource(info.subresource)
        if sub is None or not info.name:
            raise route_not_found()
        if sub.name == "proxy" and rt.group == "" and rt.kind in ("Pod", "Service", "Node"):
            from vcluster.apiserver.proxysubresource import serve as serve_proxy

            return await serve_proxy(self.rest, self.registry, rt, info, request)
        if info.verb not in sub.verbs and not (info.verb == "create" and "create" in sub.verbs):
            raise method_not_allowed()
        accept = parse_accept(request.headers.get("Accept"))
        name = sub.name
        # pods/ephemeralcontainers reads and writes the Pod like the status endpoint; its strategy
        # (strategy.py) keeps only spec.ephemeralContainers of what is written.
        # certificatesigningrequests/approval too (its strategy keeps only the conditions).
        if (
            name == "status"
            or (name == "ephemeralcontainers" and rt.kind == "Pod")
            or (name == "approval" and rt.kind == "CertificateSigningRequest")
        ):
            if info.verb == "get":
                return await self.rest.get(rt, info, accept, request.query)
            if info.verb == "update":
                return await self.rest.update(rt, info, request)
            return await self.rest.patch(rt, info, request)
        if name == "finalize" and info.verb == "update":
            return await self.rest.update(rt, info, request)
        if name == "scale":
            return await subresources.scale(self.rest, rt, info, request)
        if name == "binding":
            return await subresources.binding(self.rest, rt, rt, info, request)
        if name == "eviction":
            return await subresources.evict(self.rest, rt, info, request)
        if name == "token" and rt.kind == "ServiceAccount":
            return await self.authapi.token_request(
                info, request, lambda: self.rest.check_namespace_for_create(rt, info.namespace, info.name)
            )
        if name == "log" and rt.kind == "Pod":
            from vcluster.apiserver.podlogs import pod_log

            return await pod_log(self.rest, self.registry, info, request)
        if name in ("exec", "attach") and rt.kind == "Pod":
            from vcluster.apiserver.podexec import pod_exec

            return await pod_exec(self.rest, self.registry, info, request, user, self.authorizer)
        if name == "portforward" and rt.kind == "Pod":
            from vcluster.apiserver.portforward import pod_portforward

            return await pod_portforward(self.rest, self.registry, info, request, user, self.authorizer)
        raise StatusError(
            404,
            "NotFound",
            f"the server could not find the requested resource ({info.verb} {info.resource}/{name})",
            {},
        )

    async def _converted(
        self, request: web.Request, rt: Any, info: RequestInfo, accept: Any
    ) -> web.StreamResponse:
        """Kinds stored as another group's resource (events.k8s.io/v1 Events are core/v1 Events):
        writes go through the storage resource's pipeline, converted by `rt.conversion`."""
        storage = self.registry.by_kind(*rt.storage_gvk)
        assert storage is not None and rt.conversion is not None
        to_version, to_storage = rt.conversion.to_version, rt.conversion.to_storage
        verb = info.verb
        if verb == "list":
            return await self.rest.list(rt, info, accept, request.query)
        if verb == "watch":
            wr = WatchRequest(rt, info.namespace, request.query, accept)
            wr.converter = to_version
            return await serve_watch(self.store, wr, request)
        if verb == "get":
            e = await self.rest.current(storage, info.namespace, info.name)
            return views.respond(orjson.dumps(to_version(e.decode())), accept=accept)
        if verb == "create":
            obj = decode_object(await read_body(request), media_type(request))
            Rest.check_type(rt, obj)
            wc = write_context(request, "CreateOptions")
            wc.served = rt
            _record_served_fields(rt, None, obj, wc)
            resp = await self.rest.create_object(
                storage, info.namespace, to_storage(obj), dry=dry_run(request), wc=wc
            )
            return views.respond(orjson.dumps(to_version(orjson.loads(resp.body))), 201)  # type: ignore[arg-type]
        if verb in ("update", "patch"):
            return await self._converted_write(request, rt, storage, info)
        if verb == "delete":
            return await self.rest.delete(storage, info, request)
        if verb == "deletecollection":
            resp = await self.rest.deletecollection(storage, info, request)
            deleted = orjson.loads(resp.body)  # type: ignore[arg-type]
            deleted["apiVersion"], deleted["kind"] = rt.api_version, rt.list_kind
            deleted["items"] = [to_version(o) for o in deleted.get("items") or []]
            return views.respond(orjson.dumps(deleted))
        raise method_not_allowed(f"{rt.api_version} {rt.plural} do not support {verb}")

    async def _converted_write(
        self, request: web.Request, rt: Any, storage: Any, info: RequestInfo
    ) -> web.StreamResponse:
        """PUT and PATCH (json, merge, strategic, apply) of a converted kind: the body or the patch
        applies to the object in the served version, whose managedFields entry records the write in
        that version (as kube's field manager works on the request's version); the result is stored
        converted back."""
        assert rt.conversion is not None
        to_version, to_storage = rt.conversion.to_version, rt.conversion.to_storage
        ctype = media_type(request)
        body = await read_body(request)
        warnings: list[str] = []
        if info.verb == "update":
            obj = decode_object(body, ctype, (rt.group, rt.version, rt.kind))
            Rest.check_type(rt, obj)
            check_name(rt, info, obj)
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            expected = parse_rv(rv) if rv not in (None, "") else None
            wc = write_context(request, "UpdateOptions")

            def change(_old: dict[str, Any]) -> dict[str, Any]:
                return orjson.loads(orjson.dumps(obj))

        elif ctype == APPLY_PATCH:
            return await self._converted_apply(request, rt, storage, info, body)
        else:
            change = self.rest.patch_function(rt, ctype, body, request.query, warnings)
            expected = None
            wc = write_context(request, "PatchOptions")
        wc.served = rt

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            old = to_version(orjson.loads(orjson.dumps(current)))  # to_version shares nested values
            new = change(to_version(current))
            if not isinstance(new, dict):
                return new
            _record_served_fields(rt, old, new, wc)
            return to_storage(new)

        try:
            resp = await self.rest.guaranteed_update(
                storage,
                info,
                mutate,
                expected_rev=expected,
                dry=dry_run(request),
                respond=lambda raw: views.respond(orjson.dumps(to_version(orjson.loads(raw)))),
                wc=wc,
            )
        except StatusError as e:
            if info.verb != "update" or e.code != 404 or not strategy.allow_create_on_update(rt):
                raise
            obj = orjson.loads(orjson.dumps(obj))  # AllowCreateOnUpdate: the PUT creates it
            createonupdate.prepare(rt, info, obj)
            _record_served_fields(rt, None, obj, wc)
            created = await self.rest.create_object(
                storage, info.namespace, to_storage(obj), dry=dry_run(request), wc=wc
            )
            resp = views.respond(orjson.dumps(to_version(orjson.loads(created.body))), 201)  # type: ignore[arg-type]
        return with_warnings(resp, warnings)

    async def _converted_apply(
        self, request: web.Request, rt: Any, storage: Any, info: RequestInfo, body: bytes
    ) -> web.StreamResponse:
        """Server-side apply of a converted kind: merged and recorded in the served version (the
        entry's apiVersion and field paths are the served version's), stored converted back;
        creates the object when it does not exist, as `Rest.apply`."""
        assert rt.conversion is not None
        to_version, to_storage = rt.conversion.to_version, rt.conversion.to_storage
        q = request.query
        fieldmanager.validate_patch_options(True, q.get("fieldManager"), "force" in q)
        wc = write_context(request, "PatchOptions")
        wc.served, wc.managed_fields = rt, False
        applied = decode_yaml_any(body)
        force, dry = query_bool(q, "force"), dry_run(request)
        kw: dict[str, Any] = {"group": rt.group, "version": rt.version, "kind": rt.kind, "now": wc.now}
        kw["ignored"] = fieldmanager.reset_fields(rt.has_status(), "")

        def merge(live: dict[str, Any] | None) -> dict[str, Any]:
            return _patch_step(fieldmanager.apply, live, applied, wc.manager, force, **kw)

        def respond(raw: bytes, code: int = 200) -> web.Response:
            return views.respond(orjson.dumps(to_version(orjson.loads(raw))), code)

        for _ in range(3):  # a create racing a delete, or a delete racing a create, retries
            try:
                return await self.rest.guaranteed_update(
                    storage,
                    info,
                    lambda cur: to_storage(merge(to_version(cur))),
                    expected_rev=None,
                    dry=dry,
                    respond=respond,
                    wc=wc,
                )
            except StatusError as e:
                if e.code != 404 or await self.store.get(object_key(storage, info.namespace, info.name)):
                    raise
            obj = merge(None)
            Rest.check_type(rt, obj)
            take_url_name(obj, info.name)
            try:
                resp = await self.rest.create_object(storage, info.namespace, to_storage(obj), dry=dry, wc=wc)
            except StatusError as e:
                if e.reason != "AlreadyExists":
                    raise
                continue
            return respond(resp.body, 201)  # type: ignore[arg-type]
        raise conflict(rt.plural, rt.group, info.name)


# The groups kube-apiserver serves with go-restful web services (/api, /apis/<group>[/<version>]):
# a path under one that no route matches answers a Status; any other path (a custom resource's
# group: apiextensions' handler delegates) reaches the delegation chain's not-found handler.
BUILTIN_GROUPS = frozenset(t.group for t in BUILTIN_RESOURCES)


def not_found_in(group: str) -> web.Response:
    """The 404 for an unserved path under /api (group "") or /apis/<group>: raises go-restful's
    Status for a built-in group, returns Go's `http.NotFound` text otherwise."""
    if group in BUILTIN_GROUPS:
        raise route_not_found()
    return page_not_found()


def page_not_found() -> web.Response:
    """The end of kube-apiserver's delegation chain (notfoundhandler): Go's `http.NotFound`."""
    return web.Response(status=404, text="404 page not found\n", content_type="text/plain")


def _only_get(request: web.Request) -> None:
    """/version and discovery are go-restful GET routes: any other method (HEAD, OPTIONS, ...) gets
    its 405 (kube's service error handler: a Status, no Allow header)."""
    if request.method != "GET":
        raise method_not_allowed()


def _record_served_fields(rt: Any, old: dict[str, Any] | None, new: dict[str, Any], wc: Any) -> None:
    """Record a create, update or non-apply patch of a converted kind in `new`'s managedFields in
    the served version (the pipeline, working on the stored version, then records nothing)."""
    record_update(rt, old, new, wc)
    wc.managed_fields = False


def _audit_finish(
    actx: audit.AuditContext, out: web.StreamResponse | None, failure: Exception | None
) -> None:
    """The last stage of an audited request: Panic after an unexpected error, else ResponseComplete
    with the answer's status (and body, as the level asks)."""
    if failure is not None:
        actx.panic(failure)
        return
    if out is not None and not out.prepared and isinstance(out, web.Response):
        raw = out.body
        body = bytes(raw) if isinstance(raw, bytes | bytearray | memoryview) else None
        actx.response(out.status, body, out.content_type)
    elif out is not None and actx.response_status is None:
        actx.response(out.status, None, "")
    actx.complete()


def _local_answer(
    resp: web.StreamResponse, method: str, url: URL
) -> tuple[int, CIMultiDictProxy[str], bytes]:
    """(status, headers, body) of a complete in-process answer; a streamed one cannot be."""
    raw = resp.body if isinstance(resp, web.Response) else None
    if not isinstance(resp, web.Response) or not (
        raw is None or isinstance(raw, bytes | bytearray | memoryview)
    ):
        raise RuntimeError(f"{method} {url.path}: the answer streams; it cannot be given in process")
    return resp.status, CIMultiDictProxy(CIMultiDict(resp.headers)), bytes(raw or b"")


def tune_gc() -> None:
    """Keep garbage-collection pauses short for a long-running server: everything alive after
    start-up (modules, the loaded store) is moved out of the collector's view, and young
    collections run less often (the full collection cost grows with tracked objects; measured
    8 ms at start, 27 ms with 20,000 stored objects)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


async def run_server(cfg: ServerConfig) -> None:
    """Run until SIGTERM or SIGINT."""
    server = APIServer(cfg)
    await server.start()
    tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    kubeconfig = cfg.kubeconfig or cfg.data_dir / "kubeconfig"
    print(f"vcluster apiserver ready at {server.url}; kubeconfig {kubeconfig}", flush=True)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
