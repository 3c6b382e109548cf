"""ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding (admissionregistration.k8s.io/v1)
as kube 1.32 registers them: defaults (pkg/apis/admissionregistration/v1), validation
(pkg/apis/admissionregistration/validation: ValidateValidatingAdmissionPolicy[Binding][Update],
every expression compiled in the policy environment of `cel.policy`) and table cells
(pkg/printers/internalversion). Metadata is checked by the pipeline."""

from __future__ import annotations

import re
from typing import Any

from vcluster.apiserver.admission import _validate_label_selector
from vcluster.apiserver.cel import lazy_module
from vcluster.apiserver.errors import Cause
from vcluster.apiserver.gostr import go_quote
from vcluster.apiserver.validation import (
    is_dns1035_label,
    is_dns1123_subdomain,
    is_valid_path_segment_name,
    validate_qualified_name,
)
from vcluster.apiserver.webhookconfig import (
    FAILURE_POLICIES,
    MATCH_POLICIES,
    _go_slice,
    _invalid,
    _invalid_text,
    _not_supported,
    _required,
    _validate_rule,
)
from vcluster.jsonguards import as_dict as _d
from vcluster.jsonguards import as_list as _l
from vcluster.jsonguards import as_str as _s

matchconditions = lazy_module("vcluster.apiserver.cel.matchconditions")
celpolicy = lazy_module("vcluster.apiserver.cel.policy")

JSON = dict[str, Any]
GROUP = "admissionregistration.k8s.io"
POLICY = "ValidatingAdmissionPolicy"
BINDING = "ValidatingAdmissionPolicyBinding"
REASONS = ("Forbidden", "Invalid", "RequestEntityTooLarge", "Unauthorized")
ACTIONS = ("Audit", "Deny", "Warn")
NOT_FOUND_ACTIONS = ("Deny", "Allow")
MAX_AUDIT_ANNOTATIONS = 20
MAX_VALUE_EXPRESSION = 5 * 1024
_CEL_IDENT = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")
_CEL_RESERVED = frozenset(
    (
        *("true", "false", "null", "in", "as", "break", "const", "continue", "else", "for"),
        *("function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void"),
        "while",
    )
)


# ---------------------------------------------------------------------------- defaults
def _default_match_resources(mr: Any) -> None:
    """SetDefaults_MatchResources and SetDefaults_Rule of its rules."""
    if not isinstance(mr, dict):
        return
    mr.setdefault("matchPolicy", "Equivalent")
    mr.setdefault("namespaceSelector", {})
    mr.setdefault("objectSelector", {})
    for key in ("resourceRules", "excludeResourceRules"):
        for rule in _l(mr.get(key)):
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")


def default_policy(obj: JSON) -> None:
    """SetDefaults_ValidatingAdmissionPolicySpec (failurePolicy Fail) and the matchConstraints."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("failurePolicy", "Fail")
    _default_match_resources(spec.get("matchConstraints"))


def default_binding(obj: JSON) -> None:
    """The binding's matchResources defaults (v1 has no ParamRef default: the action is required)."""
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _default_match_resources(spec.get("matchResources"))


# ---------------------------------------------------------------------------- shared parts
def _validate_match_resources(mr: JSON, path: str) -> list[Cause]:
    """validateMatchResources."""
    errs: list[Cause] = []
    mp = mr.get("matchPolicy")
    if mp is None:
        errs.append(_required(f"{path}.matchPolicy"))
    elif mp not in MATCH_POLICIES:
        errs.append(_not_supported(f"{path}.matchPolicy", mp, MATCH_POLICIES))
    for sel in ("namespaceSelector", "objectSelector"):
        if mr.get(sel) is None:
            errs.append(_required(f"{path}.{sel}"))
        else:
            errs.extend(_validate_label_selector(mr.get(sel), f"{path}.{sel}"))
    for key in ("resourceRules", "excludeResourceRules"):
        for i, rule in enumerate(_l(mr.get(key))):
            errs.extend(_validate_named_rule(_d(rule), f"{path}.{key}[{i}]"))
    return errs


def _validate_named_rule(rule: JSON, path: str) -> list[Cause]:
    """validateNamedRuleWithOperations: resourceNames path segments, unique; then the rule."""
    errs: list[Cause] = []
    seen: set[str] = set()
    for i, name in enumerate(_l(rule.get("resourceNames"))):
        name = _s(name)
        errs.extend(_invalid(f"{path}.resourceNames[{i}]", name, m) for m in is_valid_path_segment_name(name))
        if name in seen:
            errs.append(
                Cause(
                    "FieldValueDuplicate", f"Duplicate value: {go_quote(name)}", f"{path}.resourceNames[{i}]"
                )
            )
        seen.add(name)
    return errs + _validate_rule(rule, path)


def _expression_error(path: str, expression: str, detail: str) -> Cause:
    return _invalid(path, expression, detail)


def _compile(
    path: str,
    expression: str,
    want: str,
    params: bool,
    variables: celpolicy.Scope | None,
    authorizer: bool = True,
) -> list[Cause]:
    _, detail = celpolicy.compile_expression(
        expression, want, params=params, variables=variables, authorizer=authorizer
    )
    return [_expression_error(path, expression, detail)] if detail else []


def _parse_group_version(gv: str) -> tuple[str, str] | None:
    if gv in ("", "/"):
        return "", ""
    n = gv.count("/")
    if n == 0:
        return "", gv
    if n == 1:
        g, _, v = gv.partition("/")
        return g, v
    return None


def _validate_param_kind(pk: JSON, path: str) -> list[Cause]:
    """validateParamKind."""
    errs: list[Cause] = []
    api_version = _s(pk.get("apiVersion"))
    if not api_version:
        errs.append(_required(f"{path}.apiVersion"))
    else:
        gv = _parse_group_version(api_version)
        if gv is None:
            errs.append(
                _invalid(f"{path}.apiVersion", api_version, f"unexpected GroupVersion string: {api_version}")
            )
        else:
            group, version = gv
            if group:
                msgs = is_dns1123_subdomain(group)
                if msgs:
                    errs.append(_invalid(f"{path}.apiVersion", group, ",".join(msgs)))
            if not version:
                errs.append(_invalid(f"{path}.apiVersion", api_version, "version must be specified"))
            else:
                msgs = is_dns1035_label(version)
                if msgs:
                    errs.append(_invalid(f"{path}.apiVersion", version, ",".join(msgs)))
    kind = _s(pk.get("kind"))
    if not kind:
        errs.append(_required(f"{path}.kind"))
    else:
        msgs = is_dns1035_label(kind.lower())
        if msgs:
            errs.append(
                _invalid(
                    f"{path}.kind", kind, "may have mixed case, but should otherwise match: " + ",".join(msgs)
                )
            )
    return errs


# ---------------------------------------------------------------------------- policy
def _validate_variable(v: JSON, params: bool, scope: celpolicy.Scope, path: str) -> tuple[list[Cause], str]:
    """validateVariable; also the schema type of its result (for the variables after it)."""
    errs: list[Cause] = []
    name = _s(v.get("name"))
    if not name.strip():
        errs.append(_required(f"{path}.name", "name is not specified"))
    elif not _CEL_IDENT.match(name) or name in _CEL_RESERVED:
        errs.append(_invalid(f"{path}.name", name, "name is not a valid CEL identifier"))
    expression = _s(v.get("expression"))
    kind = ""
    if not expression.strip():
        errs.append(_required(f"{path}.expression", "expression is not specified"))
    else:
        _, detail, kind = celpolicy.compile_typed(expression, celpolicy.ANY, params=params, variables=scope)
        if detail:
            errs.append(_invalid(f"{path}.expression", expression, detail))
    return errs, kind


def _validate_validation(v: JSON, params: bool, scope: celpolicy.Scope | None, path: str) -> list[Cause]:
    """validateValidation (messageExpression sees params only with a paramKind, never authorizer)."""
    errs: list[Cause] = []
    expression = _s(v.get("expression"))
    if not expression.strip():
        errs.append(_required(f"{path}.expression", "expression is not specified"))
    else:
        errs.extend(_compile(f"{path}.expression", expression, celpolicy.BOOL, params, scope))
    msg_expr = _s(v.get("messageExpression"))
    if msg_expr and not msg_expr.strip():
        errs.append(_invalid(f"{path}.messageExpression", msg_expr, "must be non-empty if specified"))
    elif msg_expr.strip():
        errs.extend(_compile(f"{path}.messageExpression", msg_expr, celpolicy.STRING, params, scope, False))
    message = _s(v.get("message"))
    if message and not message.strip():
        errs.append(_invalid(f"{path}.message", message, "message must be non-empty if specified"))
    elif re.search(r"[\n\r]", message.strip()):
        errs.append(_invalid(f"{path}.message", message, "message must not contain line breaks"))
    reason = v.get("reason")
    if reason is not None and reason not in REASONS:
        errs.append(_not_supported(f"{path}.reason", reason, REASONS))
    return errs


def _validate_audit_annotation(
    name: str, a: JSON, params: bool, scope: celpolicy.Scope | None, path: str
) -> list[Cause]:
    errs: list[Cause] = []
    key = _s(a.get("key"))
    if name:
        full = f"{name}/{key}"
        errs.extend(_invalid(f"{path}.key", full, m) for m in validate_qualified_name(full))
    else:
        errs.append(_invalid(f"{path}.key", key, "requires metadata.name be non-empty"))
    value_expr = _s(a.get("valueExpression"))
    trimmed = value_expr.strip()
    if not trimmed:
        errs.append(_required(f"{path}.valueExpression", "valueExpression is not specified"))
    elif len(trimmed) > MAX_VALUE_EXPRESSION:
        errs.append(
            _required(f"{path}.valueExpression", f"must not exceed {MAX_VALUE_EXPRESSION} bytes in length")
        )
    else:
        _, detail = celpolicy.compile_expression(
            trimmed, celpolicy.STRING_OR_NULL, params=params, variables=scope
        )
        if detail:
            errs.append(_invalid(f"{path}.valueExpression", value_expr, detail))
    return errs


def _validate_match_conditions(conditions: list[Any], params: bool, path: str) -> list[Cause]:
    """validateMatchConditions with the policy's options (params when there is a paramKind)."""
    errs = [c for c in matchconditions.validate(conditions, path) if not c.field.endswith(".expression")]
    for i, raw in enumerate(conditions):
        expression = _s(_d(raw).get("expression")).strip()
        p = f"{path}[{i}].expression"
        if not expression:
            errs.append(_required(p))
        else:
            errs.extend(_compile(p, expression, celpolicy.BOOL, params, None))
    return sorted(errs, key=lambda c: _index_key(c.field, path))


def _index_key(field: str, path: str) -> tuple[int, int]:
    """Keeps causes in kube's order: by condition, expression before name."""
    m = re.match(re.escape(path) + r"\[(\d+)\]\.(\w+)", field)
    if m is None:
        return (-1, 0)
    return (int(m.group(1)), 0 if m.group(2) == "expression" else 1)


def _validate_policy(obj: JSON, ignore_match_conditions: bool) -> list[Cause]:
    """validateValidatingAdmissionPolicySpec."""
    name = _s(_d(obj.get("metadata")).get("name"))
    spec = _d(obj.get("spec"))
    errs: list[Cause] = []
    fp = spec.get("failurePolicy")
    if fp is None:
        errs.append(_required("spec.failurePolicy"))
    elif fp not in FAILURE_POLICIES:
        errs.append(_not_supported("spec.failurePolicy", fp, FAILURE_POLICIES))
    params = isinstance(spec.get("paramKind"), dict)
    if params:
        errs.extend(_validate_param_kind(spec["paramKind"], "spec.paramKind"))
    mc = spec.get("matchConstraints")
    if not isinstance(mc, dict):
        errs.append(_required("spec.matchConstraints"))
    else:
        errs.extend(_validate_match_resources(mc, "spec.matchConstraints"))
        if not _l(mc.get("resourceRules")):
            errs.append(_required("spec.matchConstraints.resourceRules"))
    if not ignore_match_conditions:
        errs.extend(
            _validate_match_conditions(_l(spec.get("matchConditions")), params, "spec.matchConditions")
        )
    variables = _l(spec.get("variables"))
    scope: celpolicy.Scope | None = None
    if variables:
        declared: list[tuple[str, str]] = []
        for i, v in enumerate(variables):
            causes, kind = _validate_variable(_d(v), params, tuple(declared), f"spec.variables[{i}]")
            errs.extend(causes)
            declared.append((_s(_d(v).get("name")), kind))
        scope = tuple(declared)
    validations = _l(spec.get("validations"))
    annotations = spec.get("auditAnnotations")
    if not validations and not _l(annotations):
        detail = "validations or auditAnnotations must contain at least one item"
        errs.append(_required("spec.validations", detail))
        errs.append(_required("spec.auditAnnotations", detail))
        return errs
    for i, v in enumerate(validations):
        errs.extend(_validate_validation(_d(v), params, scope, f"spec.validations[{i}]"))
    if isinstance(annotations, list):
        if len(annotations) > MAX_AUDIT_ANNOTATIONS:
            errs.append(
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {len(annotations)}: must not have more than {MAX_AUDIT_ANNOTATIONS} "
                    "auditAnnotations",
                    "spec.auditAnnotations",
                )
            )
        keys: set[str] = set()
        for i, a in enumerate(annotations):
            a = _d(a)
            p = f"spec.auditAnnotations[{i}]"
            errs.extend(_validate_audit_annotation(name, a, params, scope, p))
            key = _s(a.get("key"))
            if key in keys:
                errs.append(Cause("FieldValueDuplicate", f"Duplicate value: {go_quote(key)}", f"{p}.key"))
            keys.add(key)
    return errs


def validate_policy(obj: JSON) -> list[Cause]:
    """ValidateValidatingAdmissionPolicy."""
    return _validate_policy(obj, False)


def validate_policy_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateValidatingAdmissionPolicyUpdate: unchanged matchConditions (with the same paramKind)
    are not recompiled."""
    ns, os_ = _d(new.get("spec")), _d(old.get("spec"))
    ignore = ns.get("paramKind") == os_.get("paramKind") and ns.get("matchConditions") == os_.get(
        "matchConditions"
    )
    return _validate_policy(new, ignore)


def validate_policy_status(new: JSON, old: JSON) -> list[Cause]:
    """ValidateValidatingAdmissionPolicyStatusUpdate: expression warnings name a field and say something."""
    errs: list[Cause] = []
    tc = _d(_d(new.get("status")).get("typeChecking"))
    for i, w in enumerate(_l(tc.get("expressionWarnings"))):
        w = _d(w)
        p = f"status.typeChecking.expressionWarnings[{i}]"
        if not _s(w.get("warning")):
            errs.append(_required(f"{p}.warning"))
        if not _s(w.get("fieldRef")).strip():
            errs.append(_required(f"{p}.fieldRef"))
    return errs


# ---------------------------------------------------------------------------- binding
def _validate_param_ref(pr: JSON, path: str) -> list[Cause]:
    """validateParamRef."""
    errs: list[Cause] = []
    name = _s(pr.get("name"))
    selector = pr.get("selector")
    exclusive = "name and selector are mutually exclusive"
    if name:
        errs.extend(_invalid(f"{path}.name", name, m) for m in is_valid_path_segment_name(name))
        if selector is not None:
            errs.append(Cause("FieldValueForbidden", f"Forbidden: {exclusive}", f"{path}.name"))
    if selector is not None:
        errs.extend(_validate_label_selector(selector, f"{path}.selector"))
        if name:
            errs.append(Cause("FieldValueForbidden", f"Forbidden: {exclusive}", f"{path}.selector"))
    if not name and selector is None:
        errs.append(_required(path, "one of name or selector must be specified"))
    action = pr.get("parameterNotFoundAction")
    if not action:
        errs.append(_required(f"{path}.parameterNotFoundAction"))
    elif action not in NOT_FOUND_ACTIONS:
        errs.append(_not_supported(f"{path}.parameterNotFoundAction", action, NOT_FOUND_ACTIONS))
    return errs


def _validate_actions(actions: list[Any], path: str) -> list[Cause]:
    """validateValidationActions."""
    errs: list[Cause] = []
    seen: set[Any] = set()
    for i, a in enumerate(actions):
        if a not in ACTIONS:
            errs.append(_not_supported(f"{path}[{i}]", a, ACTIONS))
        key = a if isinstance(a, str) else repr(a)
        if key in seen:
            errs.append(Cause("FieldValueDuplicate", f"Duplicate value: {go_quote(str(a))}", f"{path}[{i}]"))
        seen.add(key)
    if "Deny" in seen and "Warn" in seen:
        errs.append(
            _invalid_text(
                path,
                _go_slice("admissionregistration.ValidationAction", actions),
                "must not contain both Deny and Warn (repeating the same validation failure information in "
                "the API response and headers serves no purpose)",
            )
        )
    if not seen:
        errs.append(_required(path, "at least one validation action is required"))
    return errs


def validate_binding(obj: JSON) -> list[Cause]:
    """ValidateValidatingAdmissionPolicyBinding (update: the same checks)."""
    spec = _d(obj.get("spec"))
    errs: list[Cause] = []
    policy_name = _s(spec.get("policyName"))
    if not policy_name:
        errs.append(_required("spec.policyName"))
    else:
        errs.extend(_invalid("spec.policyName", policy_name, m) for m in is_dns1123_subdomain(policy_name))
    if isinstance(spec.get("paramRef"), dict):
        errs.extend(_validate_param_ref(spec["paramRef"], "spec.paramRef"))
    if isinstance(spec.get("matchResources"), dict):
        errs.extend(_validate_match_resources(spec["matchResources"], "spec.matchResources"))
    errs.extend(_validate_actions(_l(spec.get("validationActions")), "spec.validationActions"))
    return errs


def validate_binding_update(new: JSON, old: JSON) -> list[Cause]:
    return validate_binding(new)


# ---------------------------------------------------------------------------- table cells
def param_kind_cell(obj: JSON) -> str:
    """printValidatingAdmissionPolicy's PARAMKIND."""
    pk = _d(obj.get("spec")).get("paramKind")
    if not isinstance(pk, dict):
        return "<unset>"
    return f"{_s(pk.get('apiVersion'))}/{_s(pk.get('kind'))}"


def _selector_string(sel: JSON) -> str:
    """metav1.LabelSelector's generated String()."""
    labels = _d(sel.get("matchLabels"))
    ml = "map[string]string{" + "".join(f"{k}: {labels[k]}," for k in sorted(labels)) + "}"
    reqs = []
    for r in _l(sel.get("matchExpressions")):
        r = _d(r)
        values = " ".join(str(v) for v in _l(r.get("values")))
        reqs.append(
            f"LabelSelectorRequirement{{Key:{_s(r.get('key'))},Operator:{_s(r.get('operator'))},Values:[{values}],}},"
        )
    return (
        f"&LabelSelector{{MatchLabels:{ml},MatchExpressions:[]LabelSelectorRequirement{{{''.join(reqs)}}},}}"
    )


def param_ref_cell(obj: JSON) -> str:
    """printValidatingAdmissionPolicyBinding's PARAMREF."""
    pr = _d(obj.get("spec")).get("paramRef")
    if not isinstance(pr, dict):
        return "<unset>"
    name = _s(pr.get("name"))
    if name:
        ns = _s(pr.get("namespace"))
        return f"{ns}/{name}" if ns else f"*/{name}"
    if isinstance(pr.get("selector"), dict):
        return _selector_string(pr["selector"])
    return "<unset>"
