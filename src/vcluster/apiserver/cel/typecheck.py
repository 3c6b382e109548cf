"""The ValidatingAdmissionPolicy type check of kube 1.32 (admission/plugin/policy/validating/
typechecking.go): every ``spec.validations[i].expression`` and ``messageExpression`` compiled with
``object``/``oldObject`` typed as each matched kind and ``params`` as the paramKind, from their
OpenAPI v3 schemas (refs populated as resolver/refs.go, types as common.SchemaDeclType). Issues are
warnings for ``status.typeChecking``, never errors.

Schema resolution (discovery and ``/openapi/v3``) is the caller's; this module is pure."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel

from vcluster.jsonguards import as_dict as _d
from vcluster.jsonguards import as_list as _l
from vcluster.jsonguards import as_str as _s

from . import authz
from . import env as celenv
from .policy import namespace_type, request_type, schema_type, variables_type
from .prototypes import SchemaTypes

T = cel.Type
MAX_TYPES_TO_CHECK = 10
REF_PREFIX = "#/components/schemas/"
INT_OR_STRING_FORMAT = "int-or-string"


# ---------------------------------------------------------------------------- what to check
GVK = tuple[str, str, str]


def _rule_parts(rule: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """extractGroups/Versions/Resources: wildcard groups or versions give up on the rule;
    wildcard resources and subresources are skipped."""
    groups = [_s(g) for g in _l(rule.get("apiGroups"))]
    versions = [_s(v) for v in _l(rule.get("apiVersions"))]
    if any("*" in g for g in groups) or any("*" in v for v in versions):
        return [], [], []
    resources = [_s(r) for r in _l(rule.get("resources")) if "*" not in _s(r) and "/" not in _s(r)]
    return sorted(groups), sorted(versions), sorted(resources)


def resources_to_check(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The (group, version, resource) of typesToCheck, in its order (before kind resolution)."""
    out: list[tuple[str, str, str]] = []
    for rule in _l(_d(spec.get("matchConstraints")).get("resourceRules")):
        groups, versions, resources = _rule_parts(_d(rule))
        out.extend((g, v, r) for g in groups for v in versions for r in resources)
    return out


def types_to_check(spec: dict[str, Any], kinds_for: Callable[[str, str, str], list[str]]) -> list[GVK]:
    """typesToCheck: the kinds the policy's resource rules name (at most ten), sorted by group,
    version, kind; `kinds_for` is the RESTMapper's KindsFor (empty when unknown)."""
    seen: set[GVK] = set()
    count = 0
    for g, v, r in resources_to_check(spec):
        for kind in kinds_for(g, v, r):
            if not kind:
                continue
            seen.add((g, v, kind))
            count += 1
            if count == MAX_TYPES_TO_CHECK:
                return sorted(seen)
    return sorted(seen)


def params_gvk(spec: dict[str, Any]) -> GVK | None:
    pk = spec.get("paramKind")
    if not isinstance(pk, dict):
        return None
    api_version = _s(pk.get("apiVersion"))
    if api_version.count("/") > 1:
        return None
    group, _, version = api_version.rpartition("/")
    return (group, version, _s(pk.get("kind")))


def gvk_text(gvk: GVK) -> str:
    """schema.GroupVersionKind's String(): ``apps/v1, Kind=Deployment``, ``/v1, Kind=Pod``."""
    group, version, kind = gvk
    return f"{group}/{version}, Kind={kind}"


# ---------------------------------------------------------------------------- schemas
def find_schema(doc: dict[str, Any], gvk: GVK) -> dict[str, Any] | None:
    """resolveType: the component schema of an OpenAPI v3 document declaring `gvk`."""
    for s in _d(_d(doc.get("components")).get("schemas")).values():
        for x in _l(_d(s).get("x-kubernetes-group-version-kind")):
            x = _d(x)
            if (_s(x.get("group")), _s(x.get("version")), _s(x.get("kind"))) == gvk:
                return _d(s)
    return None


def _ref_of(s: dict[str, Any]) -> str | None:
    ref = s.get("$ref")
    if isinstance(ref, str):
        return ref
    all_of = _l(s.get("allOf"))
    if len(all_of) == 1 and isinstance(_d(all_of[0]).get("$ref"), str):
        return str(all_of[0]["$ref"])
    return None


def populate_refs(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """resolver.populateRefs: refs replaced by their schemas (a circular one by an empty object)."""
    components = _d(_d(doc.get("components")).get("schemas"))

    def walk(s: dict[str, Any], visited: frozenset[str]) -> dict[str, Any]:
        ref = _ref_of(s)
        if ref is not None:
            if ref in visited:
                return {"type": "object"}
            visited = visited | {ref}
            s = _d(components.get(ref.removeprefix(REF_PREFIX)))
        out = dict(s)
        props = _d(s.get("properties"))
        if props:
            out["properties"] = {k: walk(_d(v), visited) for k, v in props.items()}
        ap = s.get("additionalProperties")
        if isinstance(ap, dict):
            out["additionalProperties"] = walk(ap, visited)
        items = s.get("items")
        if isinstance(items, dict):
            out["items"] = walk(items, visited)
        return out

    return walk(schema, frozenset())


def _type(s: dict[str, Any]) -> str:
    t = s.get("type")
    if isinstance(t, list):
        t = t[0] if t else ""
    return t if isinstance(t, str) else ""


def _int_or_string(s: dict[str, Any]) -> bool:
    """isXIntOrString: built-in types have the format, CRDs the extension."""
    return s.get("format") == INT_OR_STRING_FORMAT or s.get("x-kubernetes-int-or-string") is True


_META_STR = {"type": "string"}


def _with_type_and_object_meta(s: dict[str, Any]) -> dict[str, Any]:
    """WithTypeAndObjectMeta: kind, apiVersion, metadata.name and metadata.generateName declared."""
    props = _d(s.get("properties"))
    meta = _d(props.get("metadata"))
    mprops = _d(meta.get("properties"))
    if (
        _type(_d(props.get("kind"))) == "string"
        and _type(_d(props.get("apiVersion"))) == "string"
        and _type(meta) == "object"
        and _type(_d(mprops.get("name"))) == "string"
        and _type(_d(mprops.get("generateName"))) == "string"
    ):
        return s
    return {
        **s,
        "properties": {
            **props,
            "kind": _META_STR,
            "apiVersion": _META_STR,
            "metadata": {"type": "object", "properties": {"name": _META_STR, "generateName": _META_STR}},
        },
    }


def decl_schema(s: dict[str, Any], resource_root: bool) -> dict[str, Any] | None:
    """SchemaDeclType's exposure rules on a populated schema, as a schema ``SchemaTypes`` turns
    into the same CEL type: None for what kube does not expose (no type, lists and maps of
    unexposed values), int-or-string as untyped (dyn), unknown fields never declared."""
    if _int_or_string(s):
        return {"x-kubernetes-int-or-string": True}
    if resource_root:
        s = _with_type_and_object_meta(s)
    t = _type(s)
    if t == "array":
        items = s.get("items")
        if not isinstance(items, dict):
            return None
        it = decl_schema(items, items.get("x-kubernetes-embedded-resource") is True)
        return None if it is None else {"type": "array", "items": it}
    if t == "object":
        ap = s.get("additionalProperties")
        if isinstance(ap, dict):
            vt = decl_schema(ap, ap.get("x-kubernetes-embedded-resource") is True)
            return None if vt is None else {"type": "object", "additionalProperties": vt}
        props: dict[str, Any] = {}
        for name, prop in _d(s.get("properties")).items():
            pt = decl_schema(_d(prop), _d(prop).get("x-kubernetes-embedded-resource") is True)
            if pt is not None:
                props[name] = pt
        return {"type": "object", "properties": props}
    if t == "string":
        fmt = s.get("format")
        return (
            {"type": "string", "format": fmt}
            if fmt in ("byte", "duration", "date", "date-time")
            else {"type": "string"}
        )
    if t in ("boolean", "number", "integer"):
        return {"type": t}
    return None


def _decl_type(schema: dict[str, Any]) -> cel.Type | None:
    """The CEL type of a resource's schema (None: kube exposes nothing of it)."""
    d = decl_schema(schema, True)
    return None if d is None else SchemaTypes(d, resource_root=False).decl(d)


# ---------------------------------------------------------------------------- checking
@dataclass(frozen=True, slots=True)
class Resolved:
    """The kinds to check with their schemas (None: not found, skipped) and the params schema."""

    kinds: list[tuple[GVK, dict[str, Any] | None]]
    params: dict[str, Any] | None


def _env(object_t: cel.Type | None, params_t: cel.Type | None, variables: Any) -> Any:
    decls: dict[str, cel.Type] = {
        "namespaceObject": namespace_type(),
        "request": request_type(),
        "object": object_t or T.DYN,
        "oldObject": object_t or T.DYN,
        authz.AUTHORIZER_VAR: authz.AUTHORIZER_T,  # buildEnvSet: not authorizer.requestResource
    }
    if params_t is not None:
        decls["params"] = params_t
    if variables is not None:
        decls["variables"] = variables
    return celenv.new_env(decls)


def _issues(env: Any, expression: str) -> str:
    try:
        celenv.compile_expr(env, expression)
    except celenv.CompileError as e:
        return str(e)
    return ""


def _variables(spec: dict[str, Any], object_t: cel.Type | None, params_t: cel.Type | None) -> Any:
    """CompileAndStoreVariables: each variable typed by its expression in the typed environment."""
    raw = _l(spec.get("variables"))
    if not raw:
        return None
    declared: list[tuple[str, str]] = []
    for v in raw:
        env = _env(object_t, params_t, variables_type(tuple(declared)))
        kind = ""
        with contextlib.suppress(celenv.CompileError):  # a broken variable stays dyn
            kind = schema_type(celenv.compile_expr(env, _s(_d(v).get("expression"))).return_type())
        declared.append((_s(_d(v).get("name")), kind))
    return variables_type(tuple(declared))


# what building message types from an unusual schema may raise (the type check must never fail)
_TYPE_ERRORS = (RuntimeError, TypeError, ValueError, KeyError)


def check(spec: dict[str, Any], resolved: Resolved) -> list[dict[str, str]]:
    """TypeChecker.Check: the ``expressionWarnings`` of the policy (empty when none)."""
    try:
        params_t = _decl_type(resolved.params) if resolved.params is not None else None
    except _TYPE_ERRORS:  # an internal error: params undeclared, as kube's nil paramDeclType
        params_t = None
    contexts: list[tuple[GVK, Any]] = []
    for gvk, schema in resolved.kinds:
        if schema is None:  # not found: skipped
            continue
        try:
            object_t = _decl_type(schema)  # None: dyn
        except _TYPE_ERRORS:  # an internal error: skipped, as kube's
            continue
        contexts.append((gvk, _env(object_t, params_t, _variables(spec, object_t, params_t))))
    warnings: list[dict[str, str]] = []

    def add(field_ref: str, expression: str) -> None:
        results = [
            f"{gvk_text(gvk)}: {issues}\n" for gvk, env in contexts if (issues := _issues(env, expression))
        ]
        if results:
            warnings.append({"fieldRef": field_ref, "warning": "\n".join(results)})

    for i, raw in enumerate(_l(spec.get("validations"))):
        v = _d(raw)
        add(f"spec.validations[{i}].expression", _s(v.get("expression")))
        if _s(v.get("messageExpression")):
            add(f"spec.validations[{i}].messageExpression", _s(v.get("messageExpression")))
    return warnings
