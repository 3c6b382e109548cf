"""The REST verbs on stored resources: get, list, create, update, patch, delete, deletecollection."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from vcluster.apiserver import (
    createonupdate,
    fieldmanager,
    pipeline,
    quota,
    schema,
    strategy,
    views,
    webhookadmission,
)
from vcluster.apiserver import fieldvalidation as fv
from vcluster.apiserver.errors import (
    Cause,
    StatusError,
    already_exists,
    bad_request,
    conflict,
    expired,
    field_forbidden,
    field_not_supported,
    forbidden,
    internal_error,
    invalid,
    method_not_allowed,
    not_found,
    too_large_rv,
    unsupported_media_type,
)
from vcluster.apiserver.jsonpatch import apply_json_patch
from vcluster.apiserver.patch import merge_patch
from vcluster.apiserver.pipeline import WriteContext
from vcluster.apiserver.request import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    PATCH_TYPES,
    PROTOBUF,
    STRATEGIC_PATCH,
    Accept,
    RequestInfo,
    decode_json_any,
    decode_object,
    decode_yaml_any,
    dry_run,
    media_type,
    query_bool,
    query_int,
    read_body,
)
from vcluster.apiserver.resources import Registry, ResourceType
from vcluster.apiserver.selectors import FieldSelector, LabelSelector, object_fields
from vcluster.apiserver.smp import smp_supported, strategic_merge_patch
from vcluster.store.interface import (
    CompactedError,
    Entry,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    Storage,
    StoreUnavailableError,
)

log = logging.getLogger("vcluster.apiserver")

CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
EVENT_TTL_SECONDS = 3600  # kube-apiserver --event-ttl
_GUARANTEED_UPDATE_RETRIES = 16
_QUOTA_CAS_TRIES = 8


def _named_in(obj: dict[str, Any], names: set[str] | None) -> bool:
    return names is None or (obj.get("metadata") or {}).get("name") in names


def object_key(rt: ResourceType, namespace: str, name: str) -> str:
    return f"{rt.key_prefix}{namespace}/{name}" if rt.namespaced else f"{rt.key_prefix}{name}"


def collection_prefix(rt: ResourceType, namespace: str) -> str:
    return f"{rt.key_prefix}{namespace}/" if rt.namespaced and namespace else rt.key_prefix


class Selection:
    """Label and field selectors of a list, watch or deletecollection."""

    def __init__(self, rt: ResourceType, query: Any) -> None:
        ls = query.get("labelSelector", "")
        fs = query.get("fieldSelector", "")
        self.labels = LabelSelector.parse(ls) if ls else None
        if self.labels is not None and self.labels.empty():
            self.labels = None
        allowed = frozenset(("metadata.name", "metadata.namespace", *rt.extra_field_labels))
        self.fields = FieldSelector.parse(fs, allowed) if fs else None
        if self.fields is not None and self.fields.empty():
            self.fields = None
        self.rt = rt
        # Name and namespace are in the key; other fields need the decoded object.
        self._fields_from_key = self.fields is not None and all(
            f in ("metadata.name", "metadata.namespace") for f, _, _ in self.fields.requirements()
        )

    @property
    def empty(self) -> bool:
        return self.labels is None and self.fields is None

    def single_name(self) -> str | None:
        """The name when the field selector pins metadata.name=X (watches of one object)."""
        if self.fields is None:
            return None
        for f, op, v in self.fields.requirements():
            if f == "metadata.name" and op == "=":
                return v
        return None

    def _key_fields(self, key: str) -> dict[str, str]:
        parts = key[len(self.rt.key_prefix) :].split("/")
        if len(parts) == 2:
            return {"metadata.namespace": parts[0], "metadata.name": parts[1]}
        return {"metadata.namespace": "", "metadata.name": parts[-1]}

    def matches_entry(self, e: Entry) -> bool:
        if self.labels is not None and not self.labels.matches(e.labels or {}):
            return False
        if self.fields is not None:
            if self._fields_from_key:
                return self.fields.matches(self._key_fields(e.key))
            return self.fields.matches(object_fields(e.decode(), self.rt.extra_field_labels))
        return True

    def predicate(self) -> Callable[[Entry], bool] | None:
        return None if self.empty else self.matches_entry


def take_url_name(obj: dict[str, Any], name: str) -> None:
    """An object that server-side apply creates takes the URL's name (refusing a different one)."""
    md = obj["metadata"]
    if md.get("name") not in (None, "") and md["name"] != name:
        raise bad_request(
            f"the name of the object ({md['name']}) does not match the name on the URL ({name})"
        )
    md["name"] = name


class Rest:
    """Verb handlers over a store and a resource registry."""

    def __init__(self, store: Storage, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self._quota_locks: dict[str, asyncio.Lock] = {}  # one per namespace that has a quota
        # ClusterIP/NodePort allocation (vcluster.apiserver.ipalloc.ServiceIPAllocator); None when
        # another cluster assigns them (a virtual cluster takes its Services' IPs from the host).
        self.service_ips: Any = None
        # A virtual cluster's Services are created on the host first and take its ClusterIP in the
        # create response (vCluster's API proxy does this): `await hook(service) -> undo | None`.
        self.service_create_hook: Any = None
        # ... and a client's PUT (with its resourceVersion) moving one away from ExternalName switches
        # the host Service first and stores its ClusterIP: `await hook(old, new) -> undo | None`.
        self.service_update_hook: Any = None
        # ... and their pods' logs come from the host: `await hook(namespace, name, request)`.
        self.pod_log_hook: Any = None
        # exec/attach/portforward: `await hook(sub, namespace, name, container, request)` ("" container
        # for portforward)
        # ... and with syncBackChanges a client's changes to a real node go to the host node:
        # `await hook(old, new, subresource) -> the virtual node's JSON once synced back | None`
        self.node_write_hook: Any = None
        self.pod_exec_hook: Any = None
        # pods/proxy, services/proxy, nodes/proxy of a virtual cluster, relayed to the host:
        # `await hook(proxysubresource.ProxyTarget, request) -> response`
        self.proxy_hook: Any = None
        # the network the proxy subresources dial (proxysubresource.SimulatedNetwork on `vcluster host`)
        self.proxy_network: Any = None
        # TLS toward kubelets (logs, exec, attach, port-forward): the API server's kubelet client certificate
        self.kubelet_ssl: ssl.SSLContext | None = None

    def _allocator_for(self, rt: ResourceType) -> Any:
        return self.service_ips if rt.kind == "Service" and rt.group == "" else None

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def out_raw(rt: ResourceType, raw: bytes) -> bytes:
        """A stored object as the requested version serves it (`rt.conversion`: autoscaling/v1
        HPAs, custom resources served in several versions)."""
        conv = rt.conversion
        if conv is None:
            return raw
        return orjson.dumps(conv.to_version(orjson.loads(raw)))

    @staticmethod
    def out_obj(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """A decoded stored object as the requested version serves it."""
        return obj if rt.conversion is None else rt.conversion.to_version(obj)

    @staticmethod
    def to_storage(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """An object of the requested version as it is stored."""
        return obj if rt.conversion is None else rt.conversion.to_storage(obj)

    def _gone_or_missing(self, rt: ResourceType, name: str) -> StatusError:
        return not_found(rt.plural, rt.group, name)

    async def current(self, rt: ResourceType, ns: str, name: str) -> Entry:
        e = await self.store.get(object_key(rt, ns, name))
        if e is None:
            raise self._gone_or_missing(rt, name)
        return e

    async def check_namespace_for_create(self, rt: ResourceType, ns: str, name: str) -> None:
        """NamespaceLifecycle admission of a create (also of pods/binding, pods/eviction and
        serviceaccounts/token): the namespace must exist and not be terminating. `name` is the
        object's name or generateName (admission.NewForbidden says "Unknown" without either)."""
        if not rt.namespaced:
            return
        ns_entry = await self.store.get(f"/registry/namespaces/{ns}")
        if ns_entry is None:
            raise not_found("namespaces", "", ns)
        if b'"deletionTimestamp"' in ns_entry.raw:
            nsobj = ns_entry.decode()
            if nsobj.get("metadata", {}).get("deletionTimestamp"):
                err = forbidden(
                    rt.plural,
                    rt.group,
                    name or "Unknown",
                    f"unable to create new content in namespace {ns} because it is being terminated",
                )
                err.causes.append(strategy_cause(ns))
                raise err

    @staticmethod
    def check_type(
        rt: ResourceType,
        obj: dict[str, Any],
        expected_kind: str | None = None,
        expected_api_version: str | None = None,
        old: dict[str, Any] | None = None,
    ) -> None:
        """apiVersion/kind defaults and checks, then Go's typed decoding (`old`: the stored object an
        update replaces; its unchanged fields are not checked again)."""
        kind = expected_kind or rt.kind
        api_version = expected_api_version or rt.api_version
        av = obj.get("apiVersion")
        k = obj.get("kind")
        if av in (None, ""):
            obj["apiVersion"] = api_version
        elif not isinstance(av, str):
            raise bad_request(f"apiVersion must be a string, got {type(av).__name__}")
        elif av != api_version:
            raise bad_request(
                f"the API version in the data ({av}) does not match the expected API version ({api_version})"
            )
        if k in (None, ""):
            obj["kind"] = kind
        elif not isinstance(k, str):
            raise bad_request(f"kind must be a string, got {type(k).__name__}")
        elif k != kind:
            version = api_version.rsplit("/", 1)[-1]
            raise bad_request(
                f'{k} in version "{version}" cannot be handled as a {kind}: '
                f"the kind in the data ({k}) does not match the expected kind ({kind})"
            )
        if obj.get("metadata") is None:
            obj["metadata"] = {}
        # Decoding into the typed struct: a JSON value of the wrong type is a 400, as in kube-apiserver.
        group, _, version = api_version.rpartition("/")
        err = schema.type_error(obj, group, version, kind, old)
        if err is None and not isinstance(obj["metadata"], dict):  # kinds without a schema
            err = "metadata must be an object"
        if err is not None:
            raise bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {err}')

    # ------------------------------------------------------------------ get / list
    async def get(self, rt: ResourceType, info: RequestInfo, accept: Accept, query: Any) -> web.Response:
        e = await self.current(rt, info.namespace, info.name)
        if accept.table:
            obj = self.out_obj(rt, e.decode())
            body = views.table_bytes(
                rt, [obj], views.include_object_param(query), {"resourceVersion": str(e.mod_rev)}
            )
            return views.respond(body)
        if accept.partial_metadata:
            return views.respond(orjson.dumps(views.partial_metadata(e.decode())))
        return views.respond(self.out_raw(rt, e.raw), accept=accept)

    async def list(self, rt: ResourceType, info: RequestInfo, accept: Accept, query: Any) -> web.Response:
        sel = Selection(rt, query)
        prefix = collection_prefix(rt, info.namespace)
        limit = query_int(query, "limit", 0) or 0
        query_int(query, "timeoutSeconds")  # validated like kube-apiserver; a list is answered at once
        if limit < 0:
            limit = 0
        cont = query.get("continue", "")
        rv_s = query.get("resourceVersion")
        rvm = query.get("resourceVersionMatch")
        revision: int | None = None
        start_after: str | None = None
        if query.get("sendInitialEvents"):
            raise invalid_list_option("sendInitialEvents", "sendInitialEvents is forbidden for list")
        if rvm and not rv_s:
            raise invalid_list_option(
                "resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"
            )
        if cont:
            if rv_s or rvm:
                # The storage layer's check (etcd3 store): a 400, not a ListOptions validation error.
                raise bad_request("specifying resource version is not allowed when using continue")
            revision, suffix = views.decode_continue(cont)
            start_after = prefix + suffix
            if revision < self.store.compact_revision:
                raise expired(
                    "The provided continue parameter is too old to display a consistent list result. "
                    "You can start a new list without the continue parameter, or use the continue "
                    "token in this response to retrieve the remainder of the results. Continuing with "
                    "the provided token results in an inconsistent list - objects that were created, "
                    "modified, or deleted between the time the first chunk was returned and now may "
                    "show up in the list."
                )
        elif rv_s:
            rv = parse_rv(rv_s)
            if rvm not in (None, "", "NotOlderThan", "Exact"):
                raise invalid_list_option("resourceVersionMatch", "", value=rvm)
            if rvm == "Exact":
                if rv == 0:
                    raise invalid_list_option(
                        "resourceVersionMatch",
                        'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
                    )
                revision = rv
            elif not rvm and limit and rv:
                # the legacy semantics of a paginated list at a resourceVersion: Exact (etcd3
                # store's GetList), and 410 Gone once that revision is compacted
                revision = rv
            if rv > self.store.revision:
                raise too_large_rv(rv, self.store.revision)
        try:
            res = await self.store.list(
                prefix, revision=revision, start_after=start_after, limit=limit, match=sel.predicate()
            )
        except CompactedError:
            raise expired("The resourceVersion for the provided list is too old.") from None
        except FutureRevisionError as e:
            raise too_large_rv(e.requested, e.current) from None
        token = None
        if res.more and res.entries:
            token = views.encode_continue(res.revision, res.entries[-1].key[len(prefix) :])
        converter = rt.conversion.to_version if rt.conversion is not None else None
        if accept.table or accept.partial_metadata or converter is not None:
            objs = [e.decode() for e in res.entries]
            if converter is not None:
                objs = [converter(o) for o in objs]
            list_meta: dict[str, Any] = {"resourceVersion": str(res.revision)}
            if token:
                list_meta["continue"] = token
                if res.remaining:
                    list_meta["remainingItemCount"] = res.remaining
            if accept.table:
                return views.respond(
                    views.table_bytes(rt, objs, views.include_object_param(query), list_meta)
                )
            if accept.partial_metadata:
                return views.respond(views.partial_metadata_list(objs, list_meta))
            return views.respond(
                views.list_bytes(rt, [orjson.dumps(o) for o in objs], res.revision, token, res.remaining),
                accept=accept,
            )
        return views.respond(
            views.list_bytes(rt, [e.raw for e in res.entries], res.revision, token, res.remaining),
            accept=accept,
        )

    # ------------------------------------------------------------------ create
    async def create(self, rt: ResourceType, info: RequestInfo, request: web.Request) -> web.Response:
        body = await read_body(request)
        ctype = media_type(request)
        obj = decode_object(body, ctype, (rt.group, rt.version, rt.kind))
        self.check_type(rt, obj)
        warnings = field_validation(rt, request, body, ctype, obj, "CreateOptions")
        wc = write_context(request, "CreateOptions")
        resp = await self.create_object(rt, info.namespace, obj, dry=dry_run(request), wc=wc)
        return with_warnings(resp, warnings)

    async def create_object(
        self,
        rt: ResourceType,
        ns: str,
        obj: dict[str, Any],
        *,
        dry: bool = False,
        status: int = 201,
        wc: WriteContext | None = None,
    ) -> web.Response:
        md = obj["metadata"]
        if rt.namespaced:
            body_ns = md.get("namespace")
            if body_ns not in (None, "") and body_ns != ns:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        name = md.get("name") or ""
        gen = md.get("generateName") or ""
        await self.check_namespace_for_create(rt, ns, name or gen)
        wc = wc if wc is not None else WriteContext("")
        wc.dry_run = dry
        await pipeline.prepare_create(self.store, self.registry, rt, ns, obj, wc)
        if not md.get("name"):  # the pipeline names a generateName object before validation
            md["name"] = pipeline.generate_name(gen)
        if rt.namespaced and ns:
            await self._admit_quota(rt, ns, obj, md["name"], dry)
        lease = EVENT_TTL_SECONDS if rt.kind == "Event" else 0
        alloc = self._allocator_for(rt)
        undo = alloc.allocate(obj, dry_run=dry) if alloc is not None else None
        host_undo = None
        if self.service_create_hook is not None and not dry and rt.kind == "Service" and rt.group == "":
            if not name:
                name = md["name"]
                if await self.store.get(object_key(rt, ns, name)) is not None:
                    raise already_exists(rt.plural, rt.group, name)
            host_undo = await self.service_create_hook(obj)
        try:
            return await self._store_new(rt, ns, obj, name, gen, lease, dry, status)
        except BaseException:
            if undo is not None:
                undo()
            if host_undo is not None:
                await host_undo()
            raise

    async def _admit_quota(
        self,
        rt: ResourceType,
        ns: str,
        obj: dict[str, Any],
        name: str,
        dry: bool,
        old: dict[str, Any] | None = None,
    ) -> None:
        """ResourceQuota admission (`apiserver/quota.py`): check the namespace's quotas and raise
        their usage, compare-and-swap, before the object is stored."""
        rq_t = self.registry.get("", "v1", "resourcequotas")
        if rq_t is None:
            return
        prefix = collection_prefix(rq_t, ns)
        if not (await self.store.list(prefix, limit=1)).entries:
            return  # the common case: no quota in the namespace
        # one check-and-raise at a time per namespace (kube's quota evaluator serializes them the
        # same way); compare-and-swap still guards against the quota controller's writes
        async with self._quota_locks.setdefault(ns, asyncio.Lock()):
            await self._admit_quota_locked(rq_t, prefix, rt, ns, obj, name, dry, old)

    async def _admit_quota_locked(
        self,
        rq_t: ResourceType,
        prefix: str,
        rt: ResourceType,
        ns: str,
        obj: dict[str, Any],
        name: str,
        dry: bool,
        old: dict[str, Any] | None,
    ) -> None:
        contended = ""
        pending: set[str] | None = None  # the quotas still to raise (None: every one that applies)
        charged: list[str] = []  # raised already: a retry must not count the object in them again
        for _ in range(_QUOTA_CAS_TRIES):
            # the newest accepted state of each quota (the committed list can lag a write that is
            # still on its way to disk, and a compare-and-swap against it would fail forever)
            heads = [await self.store.get_for_update(e.key) for e in (await self.store.list(prefix)).entries]
            quotas = [(e, q) for e in heads if e is not None and _named_in(q := e.decode(), pending)]
            if not quotas:
                return
            try:
                raises = quota.admit([q for _, q in quotas], rt.group, rt.plural, rt.kind, obj, old)
            except quota.QuotaRefusal as e:
                await self._refund_quota(rq_t, ns, charged, rt, obj, old)
                raise forbidden(rt.plural, rt.group, name, str(e)) from None
            if dry:
                return
            revs = {q["metadata"]["name"]: e.mod_rev for e, q in quotas}
            failed: set[str] = set()
            # like kube's quota evaluator: write every quota, then retry only those that conflicted
            for rq, used in raises:
                qname = rq["metadata"]["name"]
                body = {**rq, "status": {**(rq.get("status") or {}), "used": used}}
                try:
                    await self.store.update(
                        object_key(rq_t, ns, qname), self.to_storage(rq_t, body), expected_rev=revs[qname]
                    )
                except RevisionConflictError:
                    failed.add(qname)  # the quota controller wrote it meanwhile: check it again
                    contended = qname
                else:
                    charged.append(qname)
            if not failed:
                return
            pending = failed
        await self._refund_quota(rq_t, ns, charged, rt, obj, old)
        raise conflict("resourcequotas", "", contended, "too many concurrent quota updates; try again")

    async def _refund_quota(
        self,
        rq_t: ResourceType,
        ns: str,
        names: list[str],
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
    ) -> None:
        """Take back what a refused admission had already added to some quotas (kube leaves it to
        the controller's next recount; until then it would refuse creates that fit)."""
        for qname in names:
            key = object_key(rq_t, ns, qname)
            for _ in range(_QUOTA_CAS_TRIES):
                cur = await self.store.get_for_update(key)
                if cur is None:
                    break
                rq = cur.decode()
                used = quota.release(rq, rt.group, rt.plural, rt.kind, obj, old)
                if used is None:
                    break
                body = {**rq, "status": {**(rq.get("status") or {}), "used": used}}
                try:
                    await self.store.update(key, self.to_storage(rq_t, body), expected_rev=cur.mod_rev)
                    break
                except RevisionConflictError:
                    continue

    async def _store_new(
        self,
        rt: ResourceType,
        ns: str,
        obj: dict[str, Any],
        name: str,
        gen: str,
        lease: int,
        dry: bool,
        status: int,
    ) -> web.Response:
        md = obj["metadata"]
        for attempt in range(8):
            if not name and attempt:  # the first name was generated before admission
                md["name"] = pipeline.generate_name(gen)
            key = object_key(rt, ns, md["name"])
            try:
                entry = await self.store.create(key, self.to_storage(rt, obj), lease=lease, dry_run=dry)
            except KeyExistsError:
                if name:
                    raise already_exists(rt.plural, rt.group, name) from None
                continue
            except StoreUnavailableError as e:
                raise internal_error(str(e)) from None
            if dry:
                md["resourceVersion"] = ""
                return views.respond(self.out_raw(rt, orjson.dumps(obj)), status)
            return views.respond(self.out_raw(rt, entry.raw), status)
        raise StatusError(500, "AlreadyExists", f"failed to generate a unique name from {gen!r}", {})

    # ------------------------------------------------------------------ update
    async def update(self, rt: ResourceType, info: RequestInfo, request: web.Request) -> web.Response:
        body = await read_body(request)
        ctype = media_type(request)
        obj = decode_object(body, ctype, (rt.group, rt.version, rt.kind))
        self.check_type(rt, obj)
        warnings = field_validation(rt, request, body, ctype, obj, "UpdateOptions")
        check_name(rt, info, obj)
        md = obj["metadata"]
        if rt.namespaced:
            md["namespace"] = info.namespace
        rv_s = md.get("resourceVersion")
        expected = parse_rv(rv_s) if rv_s not in (None, "") else None
        body_obj = obj
        dry = dry_run(request)
        creates = not info.subresource and strategy.allow_create_on_update(rt)
        for _ in range(_GUARANTEED_UPDATE_RETRIES):
            wc = write_context(request, "UpdateOptions", info.subresource)
            try:
                resp = await self.guaranteed_update(
                    rt,
                    info,
                    lambda _old: orjson.loads(orjson.dumps(body_obj)),
                    expected_rev=expected,
                    dry=dry,
                    wc=wc,
                    put=expected is not None,
                )
                return with_warnings(resp, warnings)
            except StatusError as e:
                if e.code != 404 or not creates:
                    raise
            new = orjson.loads(orjson.dumps(body_obj))  # AllowCreateOnUpdate: the PUT creates it
            createonupdate.prepare(rt, info, new)
            try:
                resp = await self.create_object(rt, info.namespace, new, dry=dry, wc=wc)
                return with_warnings(resp, warnings)
            except StatusError as e:
                if e.reason != "AlreadyExists":
                    raise
        raise conflict(rt.plural, rt.group, info.name)

    async def guaranteed_update(
        self,
        rt: ResourceType,
        info: RequestInfo,
        mutate: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        expected_rev: int | None,
        dry: bool = False,
        respond: Callable[[bytes], web.Response] | None = None,
        wc: WriteContext | None = None,
        put: bool = False,
    ) -> web.Response:
        """Read-modify-write with compare-and-swap, retried on races unless the client pinned a
        resourceVersion (then a race is a 409, as in kube-apiserver)."""
        key = object_key(rt, info.namespace, info.name)
        if wc is None:
            wc = WriteContext("", subresource=info.subresource, managed_fields=False)
        wc.dry_run = dry
        for _ in range(_GUARANTEED_UPDATE_RETRIES):
            # the newest accepted state: against the committed one, a write to this key still
            # being committed would make every retry conflict until the commit lands
            cur = await self.store.get_for_update(key)
            if cur is None:
                raise self._gone_or_missing(rt, info.name)
            if expected_rev is not None and cur.mod_rev != expected_rev:
                raise conflict(rt.plural, rt.group, info.name)
            old = orjson.loads(self.out_raw(rt, cur.raw))
            new = mutate(orjson.loads(self.out_raw(rt, cur.raw)))
            if not isinstance(new, dict):
                raise bad_request("the patched object is not an object")
            self.check_type(rt, new, old=old)
            check_name(rt, info, new)
            nmd = new["metadata"]
            nmd["name"] = info.name
            if rt.namespaced:
                nmd["namespace"] = info.namespace
            # A resourceVersion in the new object (a PUT body, or one a patch set) is a precondition.
            sent_rv = nmd.get("resourceVersion")
            if sent_rv not in (None, "") and str(sent_rv) != str(cur.mod_rev):
                raise conflict(rt.plural, rt.group, info.name)
            new_uid = nmd.get("uid")
            if new_uid not in (None, "") and new_uid != old["metadata"].get("uid"):
                raise conflict(
                    rt.plural,
                    rt.group,
                    info.name,
                    f"Precondition failed: UID in precondition: {new_uid}, UID in object meta: "
                    f"{old['metadata'].get('uid')}",
                )
            await pipeline.prepare_update(self.store, self.registry, rt, info.namespace, old, new, wc)
            if (
                self.node_write_hook is not None
                and wc.external
                and not dry
                and rt.kind == "Node"
                and not rt.group
            ):
                synced = await self.node_write_hook(old, new, info.subresource)
                if synced is not None:
                    return respond(synced) if respond else views.respond(synced)
            nmd["resourceVersion"] = str(cur.mod_rev)
            alloc = self._allocator_for(rt)
            if strategy.should_delete_during_update(old, new):
                try:
                    await self.store.delete(key, expected_rev=cur.mod_rev, dry_run=dry)
                except RevisionConflictError:
                    continue
                except KeyNotFoundError:
                    raise self._gone_or_missing(rt, info.name) from None
                if alloc is not None and not dry:
                    alloc.release(old)
                body = orjson.dumps(new)
                return respond(body) if respond else views.respond(body)
            if new == old:  # nothing changed: no write, no new resourceVersion
                raw = self.out_raw(rt, cur.raw)
                return respond(raw) if respond else views.respond(raw)
            if not info.subresource and (rt.group, rt.kind) in quota.UPDATE_KINDS:
                await self._admit_quota(rt, info.namespace, new, info.name, dry, old=old)
            service_put = put and wc.external and not dry and not info.subresource and rt.kind == "Service"
            hook = self.service_update_hook if service_put and not rt.group else None
            host_undo = await hook(old, new) if hook is not None else None
            undo = alloc.update(old, new, dry_run=dry) if alloc is not None and not info.subresource else None
            try:
                entry = await self.store.update(
                    key, self.to_storage(rt, new), expected_rev=cur.mod_rev, dry_run=dry
                )
            except BaseException as e:
                if undo is not None:
                    undo()
                if host_undo is not None:
                    await host_undo()
                if isinstance(e, RevisionConflictError):
                    if expected_rev is not None:
                        raise conflict(rt.plural, rt.group, info.name) from None
                    continue
                raise
            except KeyNotFoundError:
                raise self._gone_or_missing(rt, info.name) from None
            except StoreUnavailableError as e:
                raise internal_error(str(e)) from None
            raw = self.out_raw(rt, entry.raw)
            return respond(raw) if respond else views.respond(raw)
        raise conflict(rt.plural, rt.group, info.name)

    # ------------------------------------------------------------------ patch
    async def patch(
        self,
        rt: ResourceType,
        info: RequestInfo,
        request: web.Request,
        respond: Callable[[bytes], web.Response] | None = None,
    ) -> web.Response:
        ctype = media_type(request)
        body = await read_body(request)
        q = request.query
        is_apply = ctype == APPLY_PATCH
        fieldmanager.validate_patch_options(is_apply, q.get("fieldManager"), "force" in q)
        wc = write_context(request, "PatchOptions", info.subresource)
        dry = dry_run(request)
        if is_apply:
            return await self.apply(
                rt, info, body, wc, force=query_bool(q, "force"), dry=dry, respond=respond
            )
        warnings: list[str] = []
        # guaranteed_update hands the mutation a fresh decoding of the stored object: patched in place
        patch_fn = self.patch_function(rt, ctype, body, q, warnings, dup_free=_dup_free(request), owned=True)
        resp = await self.guaranteed_update(
            rt, info, patch_fn, expected_rev=None, dry=dry, respond=respond, wc=wc
        )
        return with_warnings(resp, warnings)

    async def apply(
        self,
        rt: ResourceType,
        info: RequestInfo,
        body: bytes,
        wc: WriteContext,
        *,
        force: bool,
        dry: bool,
        respond: Callable[[bytes], web.Response] | None = None,
    ) -> web.Response:
        """Server-side apply: merge the applied configuration, owned by `wc.manager`; create the
        object when it does not exist (PATCH with create-on-update, as kube-apiserver does)."""
        applied = decode_yaml_any(body)
        wc.managed_fields = False
        custom = getattr(rt, "custom", None)
        kw: dict[str, Any] = {
            "group": rt.group,
            "version": rt.version,
            "kind": rt.kind,
            "now": wc.now,
            "subresource": wc.record_as if wc.record_as in pipeline.RECORDED_SUBRESOURCES else "",
            "schema": custom.type_node if custom is not None else None,
            "ignored": fieldmanager.reset_fields(rt.has_status(), info.subresource),
        }
        for _ in range(_GUARANTEED_UPDATE_RETRIES):
            try:
                return await self.guaranteed_update(
                    rt,
                    info,
                    lambda live: _patch_step(fieldmanager.apply, live, applied, wc.manager, force, **kw),
                    expected_rev=None,
                    dry=dry,
                    respond=respond,
                    wc=wc,
                )
            except StatusError as e:
                if e.code != 404 or info.subresource:
                    raise
                if await self.store.get(object_key(rt, info.namespace, info.name)) is not None:
                    raise
            obj = _patch_step(fieldmanager.apply, None, applied, wc.manager, force, **kw)
            self.check_type(rt, obj)
            take_url_name(obj, info.name)
            try:
                return await self.create_object(rt, info.namespace, obj, dry=dry, wc=wc)
            except StatusError as e:
                if e.reason != "AlreadyExists":
                    raise
        raise conflict(rt.plural, rt.group, info.name)

    def patch_function(
        self,
        rt: ResourceType,
        ctype: str,
        body: bytes,
        query: Any,
        warnings: list[str] | None = None,
        *,
        dup_free: bool = False,
        owned: bool = False,
    ) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """The mutation of a json, merge or strategic merge patch; `fieldValidation` problems of the
        patch are raised (Strict) or appended to `warnings` (Warn), and unknown fields dropped.
        `dup_free`: the body was encoded from a dict in this process (no repeated keys to find).
        `owned`: the mutation's argument is the caller's private copy, so it is patched in place."""
        if ctype not in PATCH_TYPES:
            raise unsupported_media_type(ctype, PATCH_TYPES)
        if ctype == APPLY_PATCH:
            raise unsupported_media_type(ctype, [JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH])
        patch = decode_json_any(body)
        mode = fv.validate_mode(query.get("fieldValidation"), "PatchOptions")
        g, v, k = rt.group, rt.version, rt.kind
        custom = getattr(rt, "custom", None)
        if ctype == JSON_PATCH:
            body_problems = fv.json_patch_problems(body) if mode != fv.IGNORE else []

            def apply_fn(current: dict[str, Any]) -> dict[str, Any]:
                return apply_json_patch(current, patch, query.get("fieldValidation", ""), in_place=owned)

        elif ctype == STRATEGIC_PATCH:
            if not smp_supported(g, v, k) or custom is not None:
                raise unsupported_media_type(ctype, [JSON_PATCH, MERGE_PATCH, APPLY_PATCH])
            body_problems = (
                fv.duplicate_field_problems(body, patch) if mode != fv.IGNORE and not dup_free else []
            )

            def apply_fn(current: dict[str, Any]) -> dict[str, Any]:
                return strategic_merge_patch(current, patch, g, v, k, in_place=owned)

        else:
            if not isinstance(patch, dict):
                raise bad_request(
                    "json: cannot unmarshal "
                    f"{_json_type(patch)} into Go value of type map[string]interface {{}}"
                )
            body_problems = (
                fv.duplicate_field_problems(body, patch) if mode != fv.IGNORE and not dup_free else []
            )

            def apply_fn(current: dict[str, Any]) -> dict[str, Any]:
                return merge_patch(current, patch)

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            patched = _patch_step(apply_fn, current)
            if not isinstance(patched, dict):
                return patched
            if custom is not None:
                unknown = [f'unknown field "{p}"' for p in custom.schema.prune(patched)]
            else:
                unknown = fv.unknown_field_problems(patched, g, v, k, sort_keys=True)
                if unknown:
                    fv.drop_unknown_fields(patched, g, v, k)
            problems = body_problems + unknown
            if problems and mode != fv.IGNORE:
                shown = fv.go_sprint(patch) if ctype == STRATEGIC_PATCH else _sorted_json(patched)
                found = fv.patch_field_validation(mode, problems, shown)
                if warnings is not None:
                    warnings.clear()
                    warnings.extend(found)
            return patched

        return mutate

    # ------------------------------------------------------------------ delete
    async def delete(self, rt: ResourceType, info: RequestInfo, request: web.Request) -> web.Response:
        opts = await delete_options(request)
        key = object_key(rt, info.namespace, info.name)
        dry = opts["dryRun"]
        for _ in range(_GUARANTEED_UPDATE_RETRIES):
            cur = await self.store.get_for_update(key)  # as guaranteed_update: the newest state
            if cur is None:
                raise self._gone_or_missing(rt, info.name)
            await webhookadmission.admit_delete(rt, info.namespace, self.out_obj(rt, cur.decode()), opts, dry)
            try:
                return await self.delete_entry(rt, cur, opts, dry)
            except RevisionConflictError:
                continue
            except KeyNotFoundError:
                raise self._gone_or_missing(rt, info.name) from None
        raise conflict(rt.plural, rt.group, info.name)

    async def delete_entry(
        self, rt: ResourceType, cur: Entry, opts: dict[str, Any], dry: bool
    ) -> web.Response:
        obj = cur.decode()
        md = obj["metadata"]
        name = md.get("name", "")
        pre = opts.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != md.get("uid"):
            raise conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {pre['uid']}, "
                f"UID in object meta: {md.get('uid')}",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != md.get("resourceVersion"):
            raise conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                f"ResourceVersion in object meta: {md.get('resourceVersion')}",
            )
        strategy.check_deletable(rt, obj)
        old_finalizers = list(md.get("finalizers") or [])
        policy = opts.get("propagationPolicy")
        if policy is None:
            orphan = opts.get("orphanDependents")
            if orphan is not None:
                policy = "Orphan" if orphan else "Background"
            elif "orphan" in old_finalizers:
                policy = "Orphan"
            elif "foregroundDeletion" in old_finalizers:
                policy = "Foreground"
            else:
                policy = strategy.default_propagation(rt)
        # deletionFinalizersForGarbageCollection: at most one GC finalizer, the policy's
        finalizers = [f for f in old_finalizers if f not in ("orphan", "foregroundDeletion")]
        gc_finalizer = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}.get(policy)
        if gc_finalizer:
            finalizers.append(gc_finalizer)
        is_crd = rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io"
        if is_crd and CRD_CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CRD_CLEANUP_FINALIZER)  # its objects are deleted first
        is_pod = rt.group == "" and rt.kind == "Pod"
        is_ns = rt.group == "" and rt.kind == "Namespace"
        grace = strategy.pod_grace_period(obj, opts.get("gracePeriodSeconds")) if is_pod else 0
        ns_finalizers = (obj.get("spec") or {}).get("finalizers") if is_ns else None
        # Already being deleted: only a pod delete with a shorter grace period changes anything.
        shortens = is_pod and grace < int(md.get("deletionGracePeriodSeconds") or 0)
        if md.get("deletionTimestamp") and not shortens:
            if set(finalizers) == set(old_finalizers):
                return views.respond(self.out_raw(rt, cur.raw))
            md["finalizers"] = finalizers  # a later delete changes the propagation policy
            entry = await self.store.update(cur.key, obj, expected_rev=cur.mod_rev, dry_run=dry)
            return views.respond(self.out_raw(rt, entry.raw))
        if finalizers or grace > 0 or ns_finalizers:
            md["deletionTimestamp"] = strategy.now_rfc3339(grace)
            md["deletionGracePeriodSeconds"] = grace
            if finalizers:
                md["finalizers"] = finalizers
            if is_ns:
                status = obj.get("status")
                obj["status"] = {**(status if isinstance(status, dict) else {}), "phase": "Terminating"}
            if is_crd:
                strategy.crd_terminating(obj)
            entry = await self.store.update(cur.key, obj, expected_rev=cur.mod_rev, dry_run=dry)
            return views.respond(
                self.out_raw(rt, entry.raw), 202 if opts.get("orphanDependents") is False else 200
            )
        ev = await self.store.delete(cur.key, expected_rev=cur.mod_rev, dry_run=dry)
        alloc = self._allocator_for(rt)
        if alloc is not None and not dry:
            alloc.release(obj)
        if rt.delete_returns_object:
            return views.respond(self.out_raw(rt, cur.raw if dry else ev.prev.raw if ev.prev else cur.raw))
        return views.respond(views.success_status(name, rt.group, rt.plural, str(md.get("uid", ""))))

    async def deletecollection(
        self, rt: ResourceType, info: RequestInfo, request: web.Request
    ) -> web.Response:
        opts = await delete_options(request)
        sel = Selection(rt, request.query)
        res = await self.store.list(collection_prefix(rt, info.namespace), match=sel.predicate())
        deleted: list[bytes] = []
        for e in res.entries:
            try:
                await webhookadmission.admit_delete(
                    rt, info.namespace, self.out_obj(rt, e.decode()), opts, opts["dryRun"]
                )
                resp = await self.delete_entry(rt, e, opts, opts["dryRun"])
            except (KeyNotFoundError, RevisionConflictError):
                continue
            except StatusError as err:
                if err.code in (403, 404, 409):
                    continue
                raise
            if (
                resp.body is not None
                and isinstance(resp.body, bytes)
                and b'"kind":"Status"' not in resp.body[:40]
            ):
                deleted.append(resp.body)
            else:
                deleted.append(self.out_raw(rt, e.raw))
        return views.respond(views.list_bytes(rt, deleted, self.store.revision, None, None))


# ---------------------------------------------------------------------------- helpers
def write_context(
    request: web.Request, options_kind: str, subresource: str = "", *, record_as: str | None = None
) -> WriteContext:
    """The field manager of a write: `?fieldManager=` (validated) or the User-Agent's product."""
    fm = request.query.get("fieldManager")
    if fm:
        causes = fieldmanager.validate_field_manager(fm)
        if causes:
            raise invalid(options_kind, "meta.k8s.io", "", causes)
    manager = fm or fieldmanager.manager_from_user_agent(request.headers.get("User-Agent", ""))
    external = not getattr(request, "in_process", False)
    return WriteContext(manager, subresource=subresource, record_as=record_as, external=external)


def field_validation(
    rt: ResourceType, request: web.Request, body: bytes, ctype: str, obj: dict[str, Any], options_kind: str
) -> list[str]:
    """`fieldValidation` (absent = Warn): unknown and duplicate fields are a 400 for Strict, `Warning`
    texts for Warn, nothing for Ignore; unknown fields are never stored."""
    mode = fv.validate_mode(request.query.get("fieldValidation"), options_kind)
    warnings: list[str] = []
    if rt.custom is not None:
        # Custom resources: duplicates in the body, then what pruning removes (the schema's unknowns).
        problems = (
            fv.duplicate_field_problems(body, obj) if mode != fv.IGNORE and ctype.endswith("json") else []
        )
        problems += [f'unknown field "{p}"' for p in rt.custom.schema.prune(obj)]
        if mode != fv.IGNORE:
            warnings = fv.apply_field_validation(
                mode, rt.kind, rt.version, problems, options_kind=options_kind
            )
        return warnings
    problems: list[str] | None = None
    if mode != fv.IGNORE and ctype != PROTOBUF:  # protobuf has no unknown or duplicate fields
        if _dup_free(request) and ctype.endswith("json"):  # encoded from a dict: unknowns only
            problems = fv.unknown_field_problems(obj, rt.group, rt.version, rt.kind)
        else:
            problems = fv.strict_problems(body, ctype, rt.group, rt.version, rt.kind, obj)
        warnings = fv.apply_field_validation(mode, rt.kind, rt.version, problems, options_kind=options_kind)
    if problems is None or problems:  # none found: obj (decoded from that body) has nothing to drop
        fv.drop_unknown_fields(obj, rt.group, rt.version, rt.kind)
    return warnings


def _dup_free(request: web.Request) -> bool:
    """An in-process request whose JSON body our client encoded from a dict (see local.py)."""
    return bool(getattr(request, "dup_free", False))


def with_warnings(resp: web.Response, warnings: list[str]) -> web.Response:
    for w in warnings:
        resp.headers.add("Warning", fv.warning_header(w))
    return resp


def parse_rv(v: Any) -> int:
    try:
        rv = int(str(v))
        if rv < 0:
            raise ValueError
        return rv
    except ValueError:
        raise bad_request(f'invalid resource version "{v}"') from None


def invalid_list_option(field: str, detail: str, value: str | None = None) -> StatusError:
    """kube-apiserver answers ValidateListOptions errors with NewInvalid(meta.k8s.io/ListOptions): 422."""
    if value is not None:
        cause = field_not_supported(field, value, ["Exact", "NotOlderThan"])
    else:
        cause = field_forbidden(field, detail)
    return invalid("ListOptions", "meta.k8s.io", "", [cause])


def strategy_cause(ns: str) -> Cause:
    return Cause("NamespaceTerminating", f"namespace {ns} is being terminated", "metadata.namespace")


def check_name(rt: ResourceType, info: RequestInfo, obj: dict[str, Any]) -> None:
    """checkName of kube-apiserver's update and patch handlers: the object sent (or the patched
    one) must carry the URL's name, and no other namespace than the request's."""
    md = obj.get("metadata")
    md = md if isinstance(md, dict) else {}
    name = md.get("name") or ""
    if name != info.name:
        raise bad_request(f"the name of the object ({name}) does not match the name on the URL ({info.name})")
    ns = md.get("namespace") or ""
    if rt.namespaced and info.namespace and ns and ns != info.namespace:
        raise bad_request(
            f"the namespace of the object ({ns}) does not match the namespace on the request "
            f"({info.namespace})"
        )


def _patch_step(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run a patch or apply merge. kube-apiserver 1.32 answers some patches it cannot apply (an
    unknown `$patch` directive, an applied field the schema lacks) with a bare 500; they are the
    client's mistake, so we keep the message and answer 400 BadRequest instead."""
    try:
        return fn(*args, **kw)
    except StatusError as e:
        if e.code >= 500:
            raise StatusError(400, "BadRequest", e.message) from None
        raise


def _sorted_json(obj: Any) -> str:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode()


def _json_type(v: Any) -> str:
    return {list: "array", str: "string", bool: "bool", int: "number", float: "number"}.get(type(v), "value")


async def delete_options(request: web.Request) -> dict[str, Any]:
    """DeleteOptions from the body (kubectl) or the query (Python client, curl)."""
    q = request.query
    opts: dict[str, Any] = {}
    body = await read_body(request)
    if body.strip():
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise bad_request(f"error decoding DeleteOptions: {e}") from None
        if not isinstance(data, dict):
            raise bad_request("DeleteOptions must be an object")
        kind = data.get("kind")
        if kind not in (None, "", "DeleteOptions"):
            raise bad_request(f"the body of the request must be a DeleteOptions, not {kind}")
        opts.update(data)
    grace = q.get("gracePeriodSeconds")
    if grace is not None:
        opts["gracePeriodSeconds"] = grace
    if q.get("propagationPolicy"):
        opts["propagationPolicy"] = q["propagationPolicy"]
    if q.get("orphanDependents") is not None:
        opts["orphanDependents"] = q["orphanDependents"] in ("true", "1")
    g = opts.get("gracePeriodSeconds")
    if g is not None:
        try:
            opts["gracePeriodSeconds"] = int(g)
        except (TypeError, ValueError):
            raise bad_request(f'invalid value for gracePeriodSeconds: "{g}"') from None
    pol = opts.get("propagationPolicy")
    if pol is not None and pol not in ("Orphan", "Background", "Foreground"):
        raise invalid(
            "DeleteOptions",
            "meta.k8s.io",
            "",
            [field_not_supported("propagationPolicy", pol, ["Foreground", "Background", "Orphan"])],
        )
    if pol is not None and opts.get("orphanDependents") is not None:
        raise invalid(
            "DeleteOptions",
            "meta.k8s.io",
            "",
            [
                field_forbidden(
                    "propagationPolicy", "orphanDependents and deletionPropagation cannot be both set"
                )
            ],
        )
    dr = opts.get("dryRun")
    if isinstance(dr, list) and dr:
        bad = [x for x in dr if x != "All"]
        if bad:
            raise invalid(
                "DeleteOptions", "meta.k8s.io", "", [field_not_supported("dryRun", bad[0], ["All"])]
            )
        opts["dryRun"] = True
    else:
        opts["dryRun"] = dry_run(request)
    pre = opts.get("preconditions")
    if pre is not None and not isinstance(pre, dict):
        raise bad_request("preconditions must be an object")
    return opts


def require_verb(rt: ResourceType, verb: str) -> None:
    if verb not in rt.verbs:
        raise method_not_allowed()
