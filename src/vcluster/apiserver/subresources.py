"""Subresources that are not plain views of the object: scale, pods/binding, pods/eviction, and the
authentication/authorization review kinds."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from vcluster.apiserver import eviction, fieldmanager, strategy, views
from vcluster.apiserver.auth import UserInfo
from vcluster.apiserver.errors import (
    StatusError,
    bad_request,
    conflict,
    field_required,
    invalid,
    method_not_allowed,
)
from vcluster.apiserver.pipeline import WriteContext
from vcluster.apiserver.request import (
    APPLY_PATCH,
    RequestInfo,
    decode_object,
    decode_yaml_any,
    dry_run,
    media_type,
    query_bool,
    read_body,
)
from vcluster.apiserver.resources import ResourceType
from vcluster.apiserver.rest import Rest, parse_rv, write_context
from vcluster.apiserver.selectors import LabelSelector


# ---------------------------------------------------------------------------- scale
def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def to_scale(obj: dict[str, Any]) -> dict[str, Any]:
    """The autoscaling/v1 Scale view of a workload; `status.selector` is the selector as a string."""
    md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    selector = spec.get("selector")
    sel_s = ""
    if isinstance(selector, dict):
        if obj.get("kind") == "ReplicationController":  # a plain label map
            sel_s = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        else:
            try:
                sel_s = str(LabelSelector.from_api(selector))
            except (ValueError, StatusError):
                sel_s = ""
    out_md = {
        k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in md
    }
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": out_md,
        "spec": {"replicas": _int(spec.get("replicas"))},
        "status": {"replicas": _int(status.get("replicas")), "selector": sel_s},
    }


async def scale(rest: Rest, rt: ResourceType, info: RequestInfo, request: web.Request) -> web.Response:
    custom_scale = rt.custom.schema.scale if rt.custom is not None else None
    if custom_scale is not None:
        from vcluster.apiserver import crd

        def view(o: dict[str, Any]) -> dict[str, Any]:
            return crd.scale_from_custom_resource(o, custom_scale)

        def set_replicas(o: dict[str, Any], n: int) -> None:
            crd.apply_scale_to_custom_resource(o, custom_scale, n)
    else:
        view = to_scale

        def set_replicas(o: dict[str, Any], n: int) -> None:
            o.setdefault("spec", {})["replicas"] = n

    if request.method == "GET":
        e = await rest.current(rt, info.namespace, info.name)
        return views.respond(orjson.dumps(view(e.decode())))
    if request.method not in ("PUT", "PATCH"):
        raise method_not_allowed()
    body = await read_body(request)
    q = request.query
    applier: _ScaleApply | None = None
    patch_fn = None
    new_scale = None
    wc = write_context(
        request, "UpdateOptions" if request.method == "PUT" else "PatchOptions", record_as="scale"
    )
    if request.method == "PUT":
        new_scale = decode_object(body, media_type(request), ("autoscaling", "v1", "Scale"))
    elif media_type(request) == APPLY_PATCH:
        fieldmanager.validate_patch_options(True, q.get("fieldManager"), "force" in q)
        path = _replicas_path(custom_scale)
        applier = _ScaleApply(decode_yaml_any(body), wc, query_bool(q, "force"), {rt.api_version: path})
        wc.managed_fields = False  # the scale handler sets them (ToParent)
    else:
        patch_fn = rest.patch_function(rt, media_type(request), body, q)
    pinned: list[int | None] = [None]

    def mutate(parent: dict[str, Any]) -> dict[str, Any]:
        cur_scale = view(parent)
        if applier is not None:
            target = applier.apply(parent, cur_scale)
        else:
            target = new_scale if new_scale is not None else patch_fn(cur_scale)  # type: ignore[misc]
        if not isinstance(target, dict):
            raise bad_request("the body must be a Scale object")
        spec = target.get("spec") if isinstance(target.get("spec"), dict) else {}
        replicas = spec.get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise invalid(
                "Scale",
                "autoscaling",
                info.name,
                [field_required("spec.replicas") if replicas is None else _invalid_replicas(replicas)],
            )
        rv = (target.get("metadata") or {}).get("resourceVersion")
        if rv:
            pinned[0] = parse_rv(rv)
            if pinned[0] != parse_rv(parent["metadata"]["resourceVersion"]):
                raise conflict(rt.plural, rt.group, info.name)
        set_replicas(parent, replicas)
        if applier is not None:
            applier.record(parent, target)
        return parent

    def respond(raw: bytes) -> web.Response:
        return views.respond(orjson.dumps(view(orjson.loads(raw))))

    sub_info = RequestInfo(info.group, info.version, info.namespace, info.resource, info.name, "", info.verb)
    return await rest.guaranteed_update(
        rt, sub_info, mutate, expected_rev=None, dry=dry_run(request), respond=respond, wc=wc
    )


def _replicas_path(custom_scale: dict[str, Any] | None) -> fieldmanager.Path:
    """The parent's replicas field: `.spec.replicas`, or a custom resource's specReplicasPath."""
    if custom_scale is None:
        return (("f", "spec"), ("f", "replicas"))
    spec_path = custom_scale.get("specReplicasPath")
    parts = spec_path.removeprefix(".").split(".") if isinstance(spec_path, str) else ["spec", "replicas"]
    return tuple(("f", p) for p in parts)


class _ScaleApply:
    """Server-side apply of an autoscaling/v1 Scale, as kube's scale REST with its ScaleHandler:
    the parent's managers of the replicas field become the Scale's (ToSubresource), the applied
    Scale is merged with conflicts checked against them, and the result's owners of
    `.spec.replicas` go back to the parent as `subresource: scale` entries (ToParent)."""

    def __init__(
        self, applied: Any, wc: WriteContext, force: bool, mappings: dict[str, fieldmanager.Path]
    ) -> None:
        self.applied = applied
        self.wc = wc
        self.force = force
        self.mappings = mappings

    def apply(self, parent: dict[str, Any], cur_scale: dict[str, Any]) -> dict[str, Any]:
        md = parent.get("metadata") or {}
        live = dict(cur_scale)
        live["metadata"] = {
            **cur_scale["metadata"],
            "managedFields": fieldmanager.scale_to_subresource(md.get("managedFields"), self.mappings),
        }
        return fieldmanager.apply(
            live,
            self.applied,
            self.wc.manager,
            self.force,
            group="autoscaling",
            version="v1",
            kind="Scale",
            now=self.wc.now,
            subresource="scale",
        )

    def record(self, parent: dict[str, Any], new_scale: dict[str, Any]) -> None:
        md = parent.setdefault("metadata", {})
        api_version = next(iter(self.mappings))
        scale_entries = (new_scale.get("metadata") or {}).get("managedFields")
        entries = fieldmanager.scale_to_parent(
            md.get("managedFields"), scale_entries, self.mappings, api_version
        )
        if entries:
            md["managedFields"] = entries
        else:
            md.pop("managedFields", None)


def _invalid_replicas(v: Any) -> Any:
    from vcluster.apiserver.errors import field_invalid

    return field_invalid("spec.replicas", v, "must be greater than or equal to 0")


# ---------------------------------------------------------------------------- pods/binding
async def bind_pod(
    rest: Rest, pod_rt: ResourceType, namespace: str, pod_name: str, binding: dict[str, Any], dry: bool
) -> web.Response:
    target = binding.get("target") if isinstance(binding.get("target"), dict) else {}
    node = target.get("name")
    if not node:
        raise invalid("Binding", "", pod_name, [field_required("target.name")])

    def mutate(pod: dict[str, Any]) -> dict[str, Any]:
        md = pod.get("metadata") or {}
        if md.get("deletionTimestamp"):
            raise conflict("pods", "", pod_name, "pod is being deleted, cannot be assigned to a host")
        spec = pod.setdefault("spec", {})
        if spec.get("nodeName"):
            raise conflict(
                "pods/binding",
                "",
                pod_name,
                f'pod {pod_name} is already assigned to node "{spec["nodeName"]}"',
            )
        spec["nodeName"] = node
        status = pod.setdefault("status", {})
        status["conditions"] = _scheduled(status.get("conditions") or [])
        return pod

    # Binding writes spec and status together, bypassing the main endpoint's status reset.
    await rest.guaranteed_update(
        pod_rt,
        RequestInfo("", "v1", namespace, "pods", pod_name, "binding", "create"),
        mutate,
        expected_rev=None,
        dry=dry,
    )
    return views.respond(_success(), 201)


def _scheduled(conds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PodScheduled=True set as kube-apiserver's UpdatePodCondition does: in place, keeping the
    transition time when the condition was already True."""
    cond: dict[str, Any] = {
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": strategy.now_rfc3339(),
    }
    out = list(conds)
    for i, old in enumerate(out):
        if isinstance(old, dict) and old.get("type") == "PodScheduled":
            if old.get("status") == "True" and old.get("lastTransitionTime"):
                cond["lastTransitionTime"] = old["lastTransitionTime"]
            out[i] = cond
            return out
    out.append(cond)
    return out


def _success() -> bytes:
    return orjson.dumps(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
    )


async def binding(
    rest: Rest, rt: ResourceType, pod_rt: ResourceType, info: RequestInfo, request: web.Request
) -> web.Response:
    """POST pods/<name>/binding (`rt` is pods) or POST bindings (`rt` is bindings)."""
    body = decode_object(await read_body(request), media_type(request))
    name = info.name or (body.get("metadata") or {}).get("name", "")
    await rest.check_namespace_for_create(rt, info.namespace, name)
    if not name:
        raise invalid("Binding", "", "", [field_required("metadata.name")])
    return await bind_pod(rest, pod_rt, info.namespace, name, body, dry_run(request))


# ---------------------------------------------------------------------------- pods/eviction
async def evict(rest: Rest, pod_rt: ResourceType, info: RequestInfo, request: web.Request) -> web.Response:
    """Evict a pod, respecting its PodDisruptionBudget (see eviction.py)."""
    return await eviction.evict(rest, pod_rt, info, request)


# ---------------------------------------------------------------------------- reviews
ALL_RULES = {
    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
    "incomplete": False,
}


async def review(rt: ResourceType, request: web.Request, user: UserInfo) -> web.Response:
    """Every authenticated user is an admin for now: access reviews allow everything."""
    body = decode_object(await read_body(request), media_type(request))
    Rest.check_type(rt, body)
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    if rt.kind == "SelfSubjectReview":
        body["status"] = {"userInfo": user.to_dict()}
    elif rt.kind in ("SelfSubjectAccessReview", "SubjectAccessReview", "LocalSubjectAccessReview"):
        if not spec.get("resourceAttributes") and not spec.get("nonResourceAttributes"):
            raise invalid(
                rt.kind,
                rt.group,
                "",
                [
                    field_required(
                        "spec.resourceAttributes",
                        "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                    )
                ],
            )
        body["status"] = {"allowed": True, "reason": "vcluster: every authenticated user is an administrator"}
    elif rt.kind == "SelfSubjectRulesReview":
        body["status"] = ALL_RULES
    elif rt.kind == "TokenReview":
        body["status"] = {"authenticated": False, "error": "token review is not supported yet"}
    body.setdefault("metadata", {})["creationTimestamp"] = None
    return views.respond(orjson.dumps(body), 201)
