"""Admission webhook ``matchConditions`` (kube 1.32): validation as
pkg/apis/admissionregistration/validation (validateMatchConditions) and evaluation as
apiserver/pkg/admission/plugin/webhook/matchconditions (all true → call, any false → skip, an
error → the webhook's failurePolicy).

The environment declares ``object``, ``oldObject`` (dyn), ``request`` (an AdmissionRequest
type, fields checked at compile time), ``authorizer`` and ``authorizer.requestResource``
(``authz.py``; HasAuthorizer as kube's webhook accessor); ``namespaceObject`` is not declared, so
expressions using it do not compile here."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel

from vcluster.jsonguards import as_dict as _d
from vcluster.jsonguards import as_str as _s

from ..errors import Cause
from ..gostr import go_quote
from ..validation import validate_qualified_name
from . import authz
from . import env as celenv
from .prototypes import SchemaTypes

T = cel.Type
MAX_MATCH_CONDITIONS = 64

_STR: dict[str, Any] = {"type": "string"}
_GVK = {"type": "object", "properties": {"group": _STR, "version": _STR, "kind": _STR}}
_GVR = {"type": "object", "properties": {"group": _STR, "version": _STR, "resource": _STR}}
REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "kind": _GVK,
        "resource": _GVR,
        "subResource": _STR,
        "requestKind": _GVK,
        "requestResource": _GVR,
        "requestSubResource": _STR,
        "name": _STR,
        "namespace": _STR,
        "operation": _STR,
        "userInfo": {
            "type": "object",
            "properties": {
                "username": _STR,
                "uid": _STR,
                "groups": {"type": "array", "items": _STR},
                "extra": {"type": "object", "additionalProperties": {"type": "array", "items": _STR}},
            },
        },
        "dryRun": {"type": "boolean"},
        "options": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


@functools.cache
def _request_type() -> cel.Type:
    try:
        return SchemaTypes(REQUEST_SCHEMA, resource_root=False, escape_names=False).decl(REQUEST_SCHEMA)
    except (RuntimeError, TypeError, ValueError, KeyError):
        return T.Map(T.STRING, T.DYN)


_AUTHZ = {authz.AUTHORIZER_VAR: authz.AUTHORIZER_T, authz.REQUEST_RESOURCE_VAR: authz.RESOURCE_CHECK_T}


def _check_env() -> Any:
    return celenv.new_env({"object": T.DYN, "oldObject": T.DYN, "request": _request_type(), **_AUTHZ})


def _eval_env() -> Any:
    return celenv.new_env({"object": T.DYN, "oldObject": T.DYN, "request": T.Map(T.STRING, T.DYN), **_AUTHZ})


def compile_condition(expression: str) -> tuple[Any, str]:
    """(program, "") or (None, kube's error detail) for one expression."""
    try:
        checked = celenv.compile_expr(_check_env(), expression)
    except celenv.CompileError as e:
        return None, f"compilation failed: {e}"
    if checked.return_type() != T.BOOL:
        return None, "must evaluate to bool"
    return celenv.compile_expr(_eval_env(), expression), ""


def validate(conditions: list[Any], path: str) -> list[Cause]:
    """validateMatchConditions: at most 64, names required, qualified and unique, expressions
    required and compiling to a bool."""
    errs: list[Cause] = []
    if len(conditions) > MAX_MATCH_CONDITIONS:
        errs.append(
            Cause(
                "FieldValueTooMany",
                f"Too many: {len(conditions)}: must have at most {MAX_MATCH_CONDITIONS} items",
                path,
            )
        )
    names: set[str] = set()
    for i, raw in enumerate(conditions):
        cond = _d(raw)
        p = f"{path}[{i}]"
        expression = _s(cond.get("expression")).strip()
        if not expression:
            errs.append(Cause("FieldValueRequired", "Required value", f"{p}.expression"))
        else:
            _, detail = compile_condition(expression)
            if detail:
                errs.append(
                    Cause(
                        "FieldValueInvalid",
                        f"Invalid value: {go_quote(expression)}: {detail}",
                        f"{p}.expression",
                    )
                )
        name = _s(cond.get("name"))
        if not name:
            errs.append(Cause("FieldValueRequired", "Required value", f"{p}.name"))
        else:
            errs.extend(
                Cause("FieldValueInvalid", f"Invalid value: {go_quote(name)}: {m}", f"{p}.name")
                for m in validate_qualified_name(name)
            )
            if name in names:
                errs.append(Cause("FieldValueDuplicate", f"Duplicate value: {go_quote(name)}", f"{p}.name"))
            names.add(name)
    return errs


@dataclass(frozen=True)
class MatchResult:
    """Matches, or an error to fail the request with (failurePolicy Fail)."""

    matches: bool
    error: str = ""
    failed_condition: str = ""


@dataclass(frozen=True)
class Condition:
    name: str
    expression: str
    program: Any
    error: str  # compile error of a stored expression (not expected: they were validated)


class Matcher:
    """The compiled matchConditions of one webhook."""

    def __init__(self, conditions: list[Any], fail_open: bool) -> None:
        self.fail_open = fail_open
        self.conditions: list[Condition] = []
        for raw in conditions:
            cond = _d(raw)
            expression = _s(cond.get("expression")).strip()
            program, err = compile_condition(expression)
            self.conditions.append(Condition(_s(cond.get("name")), expression, program, err))

    def match(
        self, obj: Any, old: Any, request: dict[str, Any], authorizer: dict[str, Any] | None = None
    ) -> MatchResult:
        """matcher.Match; `authorizer`: ``authz.variables`` of the request (absent: unbound)."""
        data = {"object": obj, "oldObject": old, "request": request, **(authorizer or {})}
        errors: list[str] = []
        for c in self.conditions:
            if c.program is None:
                errors.append(f"compilation error: {c.error}")
                continue
            try:
                result = celenv.evaluate(c.program, data)
            except celenv.EvalError as e:
                errors.append(f"expression '{c.expression}' resulted in error: {e}")
                continue
            if result is False:
                return MatchResult(False, failed_condition=c.name)
        if errors:
            if self.fail_open:
                return MatchResult(False)
            return MatchResult(False, error=errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
        return MatchResult(True)


def request_value(request: dict[str, Any]) -> dict[str, Any]:
    """The ``request`` variable from an AdmissionRequest (object, oldObject and uid dropped;
    absent strings are empty, as the Go struct's zero values)."""
    out = {k: v for k, v in request.items() if k not in ("object", "oldObject", "uid")}
    for k in ("subResource", "requestSubResource", "namespace", "name"):
        out.setdefault(k, "")
    user = out.get("userInfo")
    if isinstance(user, dict):
        out["userInfo"] = {"username": "", "uid": "", "groups": [], "extra": {}, **user}
    if out.get("options") is None:
        out["options"] = {}
    return out
