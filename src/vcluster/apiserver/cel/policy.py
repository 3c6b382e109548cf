"""CEL of ValidatingAdmissionPolicies (kube 1.32's k8s.io/apiserver/pkg/admission/plugin/cel and
policy/validating): the policy environment, compilation with kube's field errors, and evaluation
of one policy's variables, validations, messageExpressions and auditAnnotations.

Declared for type-checking: ``object``, ``oldObject`` and ``params`` (dyn; ``params`` only with a
``paramKind``, and never for messageExpressions without one), ``request`` (AdmissionRequest),
``namespaceObject`` (the Namespace fields kube exposes), ``authorizer`` and
``authorizer.requestResource`` (``authz.py``) and ``variables`` (one field per variable declared
so far, so ``variables.undefined`` does not compile). Variables are evaluated once per request, in
order; one that fails is left out of the map, and an expression reaching it fails with kube's
``composited variable "x" fails to evaluate: ...``."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from cel_expr_python import cel

from vcluster.jsonguards import as_dict as _d
from vcluster.jsonguards import as_list as _l
from vcluster.jsonguards import as_str as _s

from . import authz
from . import env as celenv
from .matchconditions import REQUEST_SCHEMA
from .prototypes import SchemaTypes

T = cel.Type
MAX_MESSAGE_BYTES = 5 * 1024  # celconfig.MaxEvaluatedMessageExpressionSizeBytes

_STR: dict[str, Any] = {"type": "string"}
_STRMAP: dict[str, Any] = {"type": "object", "additionalProperties": _STR}
NAMESPACE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "metadata": {
            "type": "object",
            "properties": {
                "name": _STR,
                "generateName": _STR,
                "namespace": _STR,
                "labels": _STRMAP,
                "annotations": _STRMAP,
                "UID": _STR,
                "creationTimestamp": {"type": "string", "format": "date-time"},
                "deletionGracePeriodSeconds": {"type": "integer"},
                "deletionTimestamp": {"type": "string", "format": "date-time"},
                "generation": {"type": "integer"},
                "resourceVersion": _STR,
                "finalizers": {"type": "array", "items": _STR},
            },
        },
        "spec": {"type": "object", "properties": {"finalizers": {"type": "array", "items": _STR}}},
        "status": {
            "type": "object",
            "properties": {
                "phase": _STR,
                "conditions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "type": _STR,
                            "status": _STR,
                            "lastTransitionTime": {"type": "string", "format": "date-time"},
                            "message": _STR,
                            "reason": _STR,
                        },
                    },
                },
            },
        },
    },
}


def _typed(schema: dict[str, Any]) -> cel.Type:
    try:
        return SchemaTypes(schema, resource_root=False, escape_names=False).decl(schema)
    except (RuntimeError, TypeError, ValueError, KeyError):  # pragma: no cover - the binding refused it
        return T.Map(T.STRING, T.DYN)


@functools.cache
def request_type() -> cel.Type:
    return _typed(REQUEST_SCHEMA)


@functools.cache
def namespace_type() -> cel.Type:
    return _typed(NAMESPACE_SCHEMA)


# A declared variable: (name, the schema type of its expression's result: "" for dyn)
Scope = tuple[tuple[str, str], ...]
_SCALAR_SCHEMAS: dict[str, dict[str, Any]] = {
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "string": {"type": "string"},
    "bytes": {"type": "string", "format": "byte"},
}


def schema_type(t: cel.Type) -> str:
    """The schema type a variable of CEL type `t` is declared with (lists, maps, objects: dyn)."""
    for name, ct in (
        ("boolean", T.BOOL),
        ("integer", T.INT),
        ("number", T.DOUBLE),
        ("string", T.STRING),
        ("bytes", T.BYTES),
    ):
        if t == ct:
            return name
    return ""


@functools.cache
def variables_type(variables: Scope) -> cel.Type:
    """The ``variables`` object: one field per variable, typed as its expression's result."""
    props = {n: _SCALAR_SCHEMAS.get(kind, {}) for n, kind in variables}
    return _typed({"type": "object", "properties": props})


def _authorizer_decls(authorizer: bool) -> dict[str, cel.Type]:
    if not authorizer:
        return {}
    return {authz.AUTHORIZER_VAR: authz.AUTHORIZER_T, authz.REQUEST_RESOURCE_VAR: authz.RESOURCE_CHECK_T}


def _check_env(params: bool, variables: Scope | None, authorizer: bool = True) -> Any:
    decls: dict[str, cel.Type] = {
        "object": T.DYN,
        "oldObject": T.DYN,
        "request": request_type(),
        "namespaceObject": namespace_type(),
        **_authorizer_decls(authorizer),
    }
    if params:
        decls["params"] = T.DYN
    if variables is not None:
        decls["variables"] = variables_type(variables)
    return celenv.new_env(decls)


def _eval_env(params: bool, variables: bool, authorizer: bool = True) -> Any:
    decls: dict[str, cel.Type] = {
        "object": T.DYN,
        "oldObject": T.DYN,
        "request": T.Map(T.STRING, T.DYN),
        "namespaceObject": T.DYN,
        **_authorizer_decls(authorizer),
    }
    if params:
        decls["params"] = T.DYN
    if variables:
        decls["variables"] = T.Map(T.STRING, T.DYN)
    return celenv.new_env(decls)


# what an expression must evaluate to (plugin/cel ExpressionAccessor.ReturnTypes)
BOOL = "bool"
STRING = "string"
STRING_OR_NULL = "string_or_null"
ANY = "any"
_RETURN_TEXT = {
    BOOL: "must evaluate to bool",
    STRING: "must evaluate to string",
    STRING_OR_NULL: "must evaluate to one of [string null_type]",
}


def _returns(t: cel.Type, want: str) -> bool:
    if want == ANY:
        return True
    if want == BOOL:
        return t == T.BOOL
    if want == STRING:
        return t == T.STRING
    return t in (T.STRING, T.NULL)


def compile_typed(
    expression: str, want: str, *, params: bool, variables: Scope | None, authorizer: bool = True
) -> tuple[Any, str, str]:
    """(program for evaluation, "", schema type of the result) or (None, kube's error detail:
    ``compilation failed: ...`` or ``must evaluate to ...``, ""). `variables`: the variables in
    scope (None: no composition); `authorizer`: HasAuthorizer (false for messageExpressions)."""
    try:
        checked = celenv.compile_expr(_check_env(params, variables, authorizer), expression)
    except celenv.CompileError as e:
        return None, f"compilation failed: {e}", ""
    result = checked.return_type()
    if not _returns(result, want):
        return None, _RETURN_TEXT[want], ""
    program = celenv.compile_expr(_eval_env(params, variables is not None, authorizer), expression)
    return program, "", schema_type(result)


def compile_expression(
    expression: str, want: str, *, params: bool, variables: Scope | None, authorizer: bool = True
) -> tuple[Any, str]:
    """(program, "") or (None, kube's error detail)."""
    program, err, _ = compile_typed(
        expression, want, params=params, variables=variables, authorizer=authorizer
    )
    return program, err


# ---------------------------------------------------------------------------- compiled policy
@dataclass(frozen=True, slots=True)
class Compiled:
    """One expression of a stored policy: its program, or why it does not compile."""

    expression: str
    program: Any
    error: str


@dataclass(slots=True)
class Validation:
    expression: Compiled
    message: str
    message_expression: Compiled | None
    reason: str


@dataclass(slots=True)
class PolicyProgram:
    """All the expressions of one policy (compiled once per resourceVersion)."""

    variables: list[tuple[str, Compiled]] = field(default_factory=list)
    match_conditions: list[tuple[str, Compiled]] = field(default_factory=list)
    validations: list[Validation] = field(default_factory=list)
    audit_annotations: list[tuple[str, Compiled]] = field(default_factory=list)


def _compiled(
    expression: str, want: str, params: bool, variables: Scope | None, authorizer: bool = True
) -> Compiled:
    program, err = compile_expression(
        expression, want, params=params, variables=variables, authorizer=authorizer
    )
    return Compiled(expression, program, err)


def compile_policy(spec: dict[str, Any]) -> PolicyProgram:
    """compilePolicy: the stored policy's expressions in the runtime environment."""
    params = isinstance(spec.get("paramKind"), dict)
    out = PolicyProgram()
    declared: list[tuple[str, str]] = []
    for raw in _l(spec.get("variables")):
        v = _d(raw)
        name, expression = _s(v.get("name")), _s(v.get("expression"))
        program, err, kind = compile_typed(expression, ANY, params=params, variables=tuple(declared))
        out.variables.append((name, Compiled(expression, program, err)))
        declared.append((name, kind))
    scope = tuple(declared) if declared else None
    for raw in _l(spec.get("matchConditions")):
        c = _d(raw)
        expr = _s(c.get("expression")).strip()
        out.match_conditions.append((_s(c.get("name")), _compiled(expr, BOOL, params, scope)))
    for raw in _l(spec.get("validations")):
        v = _d(raw)
        msg_expr = _s(v.get("messageExpression"))
        out.validations.append(
            Validation(
                _compiled(_s(v.get("expression")), BOOL, params, scope),
                _s(v.get("message")),
                _compiled(msg_expr, STRING, params, scope, False) if msg_expr.strip() else None,
                _s(v.get("reason")) or "Invalid",
            )
        )
    for raw in _l(spec.get("auditAnnotations")):
        a = _d(raw)
        expr = _s(a.get("valueExpression")).strip()
        out.audit_annotations.append((_s(a.get("key")), _compiled(expr, STRING_OR_NULL, params, scope)))
    return out


# ---------------------------------------------------------------------------- evaluation
_NO_SUCH_KEY = re.compile(r"^no such key: (.*)$")


class Activation:
    """The inputs of one (request, binding, param) evaluation and the variables computed from them."""

    def __init__(self, program: PolicyProgram, data: dict[str, Any]) -> None:
        self.program = program
        self.data = data
        self._failed: dict[str, str] = {}
        if program.variables:
            values: dict[str, Any] = {}
            data["variables"] = values
            for name, c in program.variables:
                if c.program is None:
                    self._failed[name] = f'composited variable "{name}" fails to compile: {c.error}'
                    continue
                try:
                    values[name] = celenv.evaluate(c.program, data)
                except celenv.EvalError as e:
                    self._failed[name] = (
                        f'composited variable "{name}" fails to evaluate: {self._explain(str(e))}'
                    )

    def _explain(self, message: str) -> str:
        """A missing key that is a failed variable is that variable's error, as kube's lazy map."""
        m = _NO_SUCH_KEY.match(message)
        if m is not None and m.group(1) in self._failed:
            return self._failed[m.group(1)]
        return message

    def run(self, c: Compiled) -> tuple[Any, str]:
        """(value, "") or (None, kube's ``expression '...' resulted in error: ...``)."""
        if c.program is None:
            return None, f"compilation error: {c.error}"
        try:
            return celenv.evaluate(c.program, self.data), ""
        except celenv.EvalError as e:
            return None, f"expression '{c.expression}' resulted in error: {self._explain(str(e))}"


def match_conditions(act: Activation, fail_open: bool) -> tuple[bool, str]:
    """matchconditions.Matcher.Match: (matches, error); a false condition wins over errors."""
    errors: list[str] = []
    for _, c in act.program.match_conditions:
        value, err = act.run(c)
        if err:
            errors.append(err)
        elif value is False:
            return False, ""
    if errors:
        if fail_open:
            return False, ""
        return False, errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return True, ""


@dataclass(frozen=True, slots=True)
class Decision:
    """A failed validation (deny) or an evaluation error (`error` True)."""

    message: str
    reason: str
    error: bool
    index: int


def _message(act: Activation, v: Validation) -> str:
    """The failure message: messageExpression's string, else message, else the expression."""
    if v.message_expression is not None:
        value, err = act.run(v.message_expression)
        if not err and isinstance(value, str):
            text = value.strip()
            if text and len(text) <= MAX_MESSAGE_BYTES and "\n" not in text:
                return text
    if v.message.strip():
        return v.message.strip()
    return f"failed expression: {v.expression.expression.strip()}"


def validate(act: Activation) -> list[Decision]:
    """validator.Validate after the match conditions: the failed validations and errors, in order."""
    out: list[Decision] = []
    for i, v in enumerate(act.program.validations):
        value, err = act.run(v.expression)
        if err:
            out.append(Decision(err, "", True, i))
        elif value is not True:
            out.append(Decision(_message(act, v), v.reason, False, i))
    return out


def audit_annotations(act: Activation) -> tuple[dict[str, str], list[str]]:
    """(published key -> value, evaluation errors) of the auditAnnotations."""
    values: dict[str, str] = {}
    errors: list[str] = []
    for key, c in act.program.audit_annotations:
        value, err = act.run(c)
        if err:
            errors.append(err)
        elif isinstance(value, str):
            if value.strip():
                values[key] = value.strip()
        elif value is not None:
            errors.append(
                f"valueExpression '{c.expression}' resulted in unsupported return type: "
                f"{type(value).__name__}. Return type must be either string or null."
            )
    return values, errors
