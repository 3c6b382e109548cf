"""The write pipeline every create and update goes through, in kube-apiserver's order.

create: decode-time defaults → mutating admission (built-in plugins, then the mutating webhooks) →
strategy (system metadata, status reset) → defaults again → validation (metadata + kind) →
validating admission (built-in plugins, then the validating webhooks) → managedFields.
update: decode-time defaults → strategy (carry-overs, generation) → mutating admission (plugins,
webhooks) → defaults again → validation (metadata + kind + immutability) → validating admission.

Custom resources take their defaults, pruning and validation from their CRD's structural schema
(`crd.CRDSchema`) instead of the built-in definitions.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from typing import Any

from vcluster.apiserver import (
    admission,
    certificates,
    crd,
    defaults,
    dropdisabled,
    fieldmanager,
    govalues,
    omitempty,
    podsecurityadmission,
    rbac_escalation,
    strategy,
    webhookadmission,
)
from vcluster.apiserver.errors import Cause, invalid
from vcluster.apiserver.resources import ResourceType
from vcluster.apiserver.validation import validate_object_meta
from vcluster.store.interface import Storage

DEFAULT_SA_RETRIES = 10
# apiserver's SimpleNameGenerator: generateName plus 5 characters of k8s.io/apimachinery's rand.String
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def generate_name(base: str) -> str:
    return base[:58] + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))


# The subresources that managedFields entries name (`subresource`) for the writes made through them.
RECORDED_SUBRESOURCES = ("status", "scale", "ephemeralcontainers", "approval")

# Validating admission plugins that run after validation (kube's createValidation/updateValidation),
# by (group, kind): CertificateSubjectRestriction, CertificateApproval and CertificateSigning.
_VALIDATING_CREATE = {(certificates.GROUP, certificates.KIND): certificates.admit_create}
_VALIDATING_UPDATE = {(certificates.GROUP, certificates.KIND): certificates.admit_update}

# Kinds the admission plugins read, and where they live.
_ADMISSION_KINDS = {
    "ServiceAccount": ("", "v1", "serviceaccounts"),
    "PriorityClass": ("scheduling.k8s.io", "v1", "priorityclasses"),
    "StorageClass": ("storage.k8s.io", "v1", "storageclasses"),
    "IngressClass": ("networking.k8s.io", "v1", "ingressclasses"),
}


class WriteContext:
    """Who writes (the field manager) and when, shared by the steps of one request."""

    __slots__ = (
        "dry_run",
        "external",
        "managed_fields",
        "manager",
        "now",
        "record_as",
        "served",
        "subresource",
    )

    def __init__(
        self,
        manager: str,
        *,
        subresource: str = "",
        managed_fields: bool = True,
        record_as: str | None = None,
        external: bool = False,
        served: ResourceType | None = None,
    ) -> None:
        self.manager = manager
        # the resource the client addressed when it is stored as another (events.k8s.io/v1 Events
        # are core/v1 Events): validation follows the version written, as kube's
        self.served = served
        # a client's request over HTTP (not this process's own controllers and syncer): the
        # writes vCluster's API proxy intercepts
        self.external = external
        self.now = strategy.now_rfc3339()
        self.subresource = subresource  # the endpoint whose strategy applies ("", "status", ...)
        self.managed_fields = managed_fields  # False for apply: fieldmanager.apply already set them
        # The subresource recorded in managedFields (`scale` writes go through the main strategy).
        self.record_as = record_as if record_as is not None else subresource
        self.dry_run = False  # ?dryRun=All (set by the REST verbs; webhooks are told)


async def _admission_data(
    store: Storage,
    registry: Any,
    obj: dict[str, Any],
    rt: ResourceType,
    ns: str,
    old: dict[str, Any] | None = None,
) -> tuple[admission.Lookup, admission.ObjectLister]:
    """Fetch what the admission plugins will read, and return dict-backed lookup callables."""
    gets, lists = admission.admission_reads(obj, rt.group, rt.kind, old=old, namespace=ns)
    found: dict[tuple[str, str, str], dict[str, Any] | None] = {}
    listed: dict[tuple[str, str], list[dict[str, Any]]] = {}
    from vcluster.apiserver.rest import collection_prefix, object_key

    for kind, kns, name in gets:
        where = _ADMISSION_KINDS.get(kind)
        t = registry.get(*where) if where else None
        e = await store.get(object_key(t, kns, name)) if t is not None else None
        if e is None and t is not None and kind == "ServiceAccount" and name == "default":
            # The ServiceAccount plugin waits for the default account the controller creates in a
            # new namespace: up to 10 lookups 100-200 ms apart (admission/serviceaccount MaxRetry).
            for _ in range(DEFAULT_SA_RETRIES - 1):
                await asyncio.sleep(random.uniform(0.1, 0.2))
                e = await store.get(object_key(t, kns, name))
                if e is not None:
                    break
        found[(kind, kns, name)] = e.decode() if e is not None else None
    for kind, kns in lists:
        where = _ADMISSION_KINDS.get(kind)
        t = registry.get(*where) if where else None
        if t is None:
            listed[(kind, kns)] = []
            continue
        res = await store.list(collection_prefix(t, kns))
        listed[(kind, kns)] = [e.decode() for e in res.entries]

    def lookup(kind: str, kns: str, name: str) -> dict[str, Any] | None:
        return found.get((kind, kns, name))

    def list_objects(kind: str, kns: str) -> list[dict[str, Any]]:
        return listed.get((kind, kns), [])

    return lookup, list_objects


def _raise_invalid(rt: ResourceType, obj: dict[str, Any], causes: list[Cause]) -> None:
    if causes:
        md = obj.get("metadata") or {}
        name = md.get("name") or md.get("generateName") or ""
        raise invalid(rt.kind, rt.group, str(name), causes)


def _custom(rt: ResourceType) -> Any:
    """The CRD-derived schema of a custom resource type (`customresources.CustomInfo`), or None."""
    return rt.custom


def _omit_empty(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Encode as the Go struct does: drop what it omits (`omitempty.py`) and add the value fields
    it always writes (`govalues.py`) for a built-in kind; a custom resource's metadata only (the
    rest is unstructured JSON and keeps empty values)."""
    if _custom(rt) is not None:
        omitempty.prune_object_meta(obj)
    else:
        omitempty.prune(obj, rt.group, rt.version, rt.kind)
        govalues.fill(obj, rt.group, rt.version, rt.kind)


def _is_crd(rt: ResourceType) -> bool:
    return rt.group == crd.CRD_GROUP and rt.kind == "CustomResourceDefinition"


def _managed_fields_schema(rt: ResourceType) -> fieldmanager.TypeNode | None:
    custom = _custom(rt)
    return custom.type_node if custom is not None else None


async def prepare_create(
    store: Storage, registry: Any, rt: ResourceType, ns: str, obj: dict[str, Any], wc: WriteContext
) -> None:
    """Everything between the decoded body and the stored object of a create (in place).
    Raises 422 Invalid with the metadata and kind causes together, 403 from admission."""
    g, v, k = rt.group, rt.version, rt.kind
    rbac_escalation.check_create(g, k, ns, obj)  # authorization: RBAC escalation prevention
    custom = _custom(rt)
    url_ns = ns if rt.namespaced else None
    if custom is not None:
        custom.schema.prune(obj)
        custom.schema.default(obj)
    elif _is_crd(rt):
        crd.default_crd(obj)
    else:
        defaults.apply_defaults(obj, g, v, k)
    _omit_empty(rt, obj)
    # managedFields of the decoded, defaulted object, before admission and the strategy, as Kubernetes
    if wc.managed_fields:
        fieldmanager.update_managed_fields(
            None,
            obj,
            wc.manager,
            group=g,
            version=v,
            kind=k,
            now=wc.now,
            schema=_managed_fields_schema(rt),
            ignored=fieldmanager.reset_fields(rt.has_status()),
        )
    if custom is None and not _is_crd(rt):
        lookup, list_objects = await _admission_data(store, registry, obj, rt, ns)
        admission.admit_create(obj, g, v, k, lookup, namespace=ns or None, list_objects=list_objects)
    await webhookadmission.mutate(
        rt, "CREATE", ns, obj, None, served=wc.served, dry_run=wc.dry_run, manager=wc.manager
    )
    md = obj.get("metadata")
    if isinstance(md, dict) and not md.get("name") and isinstance(md.get("generateName"), str):
        # Store.Create's BeforeCreate names the object after mutating admission, before validation
        # (a 422 and validating admission name the generated object)
        md["name"] = generate_name(md["generateName"])
    meta_causes = [] if _is_crd(rt) else validate_object_meta(obj, rt, is_create=True, url_namespace=url_ns)
    strategy.prepare_for_create(rt, obj)
    if custom is None and not _is_crd(rt):
        dropdisabled.drop_disabled_fields(g, k, obj, None)
    if custom is not None:
        if rt.has_status():
            obj.pop("status", None)
        causes = custom.schema.validate(obj)
    elif _is_crd(rt):
        crd.prepare_crd_for_create(obj)
        causes = crd.validate_crd(obj)
    else:
        _strategy_create_extras(rt, obj)
        defaults.apply_defaults(obj, g, v, k)
        causes = _validate_create(rt, obj, wc)
    _omit_empty(rt, obj)  # what the strategy, admission and defaults left empty
    _raise_invalid(rt, obj, meta_causes + causes)
    admit = _VALIDATING_CREATE.get((g, k))
    if admit is not None:
        admit(obj)
    await podsecurityadmission.admit(store, registry, rt, ns, obj, None, wc.record_as)
    await webhookadmission.validate(
        rt, "CREATE", ns, obj, None, served=wc.served, dry_run=wc.dry_run, manager=wc.manager
    )


def _validate_create(rt: ResourceType, obj: dict[str, Any], wc: WriteContext) -> list[Any]:
    served = wc.served
    if served is not None and served.conversion is not None:
        return admission.validate_create(
            served.conversion.to_version(obj), served.group, served.version, served.kind
        )
    return admission.validate_create(obj, rt.group, rt.version, rt.kind)


def _validate_update(
    rt: ResourceType, old: dict[str, Any], new: dict[str, Any], wc: WriteContext
) -> list[Any]:
    served = wc.served
    if served is not None and served.conversion is not None:
        to_version = served.conversion.to_version
        return admission.validate_update(
            to_version(old), to_version(new), served.group, served.version, served.kind
        )
    return admission.validate_update(old, new, rt.group, rt.version, rt.kind)


def _strategy_create_extras(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Strategy steps that need the uid or defaulted values: Job selectors, pod QoS, initial status."""
    g, k = rt.group, rt.kind
    if g == "batch" and k == "Job":
        admission.job_generate_selector(obj, obj["metadata"]["uid"])
    elif g == "" and k == "Pod":
        status = obj.get("status")
        if isinstance(status, dict):
            status["qosClass"] = admission.pod_qos_class(obj)
    status0 = defaults.initial_status(g, rt.version, k)
    if status0 is not None and rt.has_status():
        obj["status"] = status0


async def prepare_update(
    store: Storage,
    registry: Any,
    rt: ResourceType,
    ns: str,
    old: dict[str, Any],
    new: dict[str, Any],
    wc: WriteContext,
) -> None:
    """Everything between the new object of an update or patch and the stored object (in place)."""
    g, v, k = rt.group, rt.version, rt.kind
    sub = wc.subresource
    if sub == "":
        rbac_escalation.check_update(g, k, ns, old, new)  # authorization: RBAC escalation prevention
    custom = _custom(rt)
    is_crd = _is_crd(rt)
    if custom is not None:
        custom.schema.prune(new)
        custom.schema.default(new)
    elif is_crd:
        crd.default_crd(new)
    else:
        defaults.apply_defaults(new, g, v, k)
    _omit_empty(rt, new)
    # BindingREST writes the stored pod with its node and condition set, through no strategy or
    # admission: the encoding above is final unless a webhook (ours sees bindings) replaces it
    encoded = dict(new) if sub == "binding" else None
    if sub == "":  # before admission and the strategy, as Kubernetes' update transformers
        record_update(rt, old, new, wc)
    if custom is None and not is_crd:  # PrepareForUpdate drops them before it compares the specs
        dropdisabled.drop_disabled_fields(g, k, new, old, sub)
    strategy.prepare_for_update(rt, old, new, sub)
    if is_crd and sub == "":
        crd.prepare_crd_for_update(new, old)
    if custom is None and not is_crd and sub == "":
        lookup, list_objects = await _admission_data(store, registry, new, rt, ns, old=old)
        admission.admit_update(old, new, g, v, k, lookup=lookup, list_objects=list_objects)
        defaults.apply_defaults(new, g, v, k)
    await webhookadmission.mutate(
        rt, "UPDATE", ns, new, old, subresource=sub, served=wc.served, dry_run=wc.dry_run, manager=wc.manager
    )
    causes = validate_object_meta(
        new, rt, is_create=False, url_namespace=ns if rt.namespaced else None, old=old.get("metadata")
    )
    if custom is not None and sub in ("", "status"):
        causes = causes + custom.schema.validate_update(new, old)
    elif is_crd and sub == "":
        causes = causes + crd.validate_crd_update(new, old)
    elif sub == "":
        causes = causes + _validate_update(rt, old, new, wc)
    elif sub == "ephemeralcontainers":
        causes = causes + admission.validate_ephemeral_containers_update(new, old)
    elif sub == "status":
        causes = causes + strategy.validate_status_update(rt, old, new)
    elif sub == "approval" and (g, k) == (certificates.GROUP, certificates.KIND):
        causes = causes + certificates.validate_approval_update(new, old)
    if encoded is None or _replaced(new, encoded):
        _omit_empty(rt, new)
    _raise_invalid(rt, new, causes)
    admit_update = _VALIDATING_UPDATE.get((g, k))
    if admit_update is not None:
        admit_update(old, new, sub)
    await podsecurityadmission.admit(store, registry, rt, ns, new, old, wc.record_as)
    await webhookadmission.validate(
        rt, "UPDATE", ns, new, old, subresource=sub, served=wc.served, dry_run=wc.dry_run, manager=wc.manager
    )
    if sub != "":  # after the strategy kept only what the subresource may change
        record_update(rt, old, new, wc)
    fieldmanager.ignore_managed_fields_timestamps(old, new)


def _replaced(obj: dict[str, Any], top: dict[str, Any]) -> bool:
    """Whether a top-level value of `obj` is no longer the one `top` (a shallow copy) holds, as
    when a mutating webhook's patched object replaces the object's content."""
    return len(obj) != len(top) or any(obj.get(k) is not v for k, v in top.items())


def record_update(
    rt: ResourceType, old: dict[str, Any] | None, new: dict[str, Any], wc: WriteContext
) -> None:
    """The managedFields of an update or non-apply patch (nothing for apply: fieldmanager.apply did it)."""
    if wc.managed_fields:
        fieldmanager.update_managed_fields(
            old,
            new,
            wc.manager,
            group=rt.group,
            version=rt.version,
            kind=rt.kind,
            now=wc.now,
            subresource=wc.record_as if wc.record_as in RECORDED_SUBRESOURCES else "",
            schema=_managed_fields_schema(rt),
            ignored=fieldmanager.reset_fields(rt.has_status(), wc.subresource),
        )
